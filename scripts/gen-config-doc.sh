#!/usr/bin/env bash
# Writes the configuration reference into README.md (between the config-reference markers)
# from `berthd config --default`, so the documented defaults are the embedded ones. The
# suite runs it and fails when README.md changes (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ref="$(node dist/src/cli.js config --default)"
node -e '
  const fs = require("fs");
  const [begin, end] = ["<!-- config-reference:begin (scripts/gen-config-doc.sh) -->", "<!-- config-reference:end -->"];
  const readme = fs.readFileSync("README.md", "utf8");
  const i = readme.indexOf(begin), j = readme.indexOf(end);
  if (i < 0 || j < i) { console.error("README.md has no config-reference markers"); process.exit(1); }
  fs.writeFileSync("README.md", readme.slice(0, i + begin.length) + "\n\n```toml\n" + process.argv[1].trimEnd() + "\n```\n\n" + readme.slice(j));
' "$ref"
