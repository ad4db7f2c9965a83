#!/usr/bin/env bash
# `npm pack` for nodes: two tarballs into ${1:-dist-pkg}/, napi-rs style —
#   berth-<version>.tgz                         compiled TypeScript (dist/src), README,
#                                               systemd unit, default CNI conflist; no build step
#   berth-native-linux-<arch>-gnu-<version>.tgz the napi addon and berth-monitor
# The main package names the platform packages as optionalDependencies (npm installs the
# one whose os/cpu/libc match). The repo's own package.json stays the developers' one: the
# packed manifest is derived from it (runtime dependencies only, no scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-dist-pkg}")"
mkdir -p "$out"
[ -f dist/src/cli.js ] || { echo "pack: build first (bash scripts/setup.sh)" >&2; exit 1; }
plat="linux-$(node -p 'process.arch')-gnu"
# The platform package: this machine's build.
install -m 0755 "native/binding/berth-native.${plat}.node" target/release/berth-monitor "npm/${plat}/"
(cd "npm/${plat}" && npm pack --silent --pack-destination "$out" >/dev/null)
# The main package, staged.
stage="$(mktemp -d)"; trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dist" "$stage/scripts"
cp -r dist/src "$stage/dist/src"
find "$stage/dist" -name '*.map' -delete
cp -r scripts/systemd scripts/10-berth-bridge.conflist "$stage/scripts/"
cp README.md "$stage/"
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const natives = fs.readdirSync("npm").map((d) => JSON.parse(fs.readFileSync(`npm/${d}/package.json`, "utf8")));
  const out = {
    name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, type: pkg.type,
    engines: pkg.engines, bin: pkg.bin, dependencies: pkg.dependencies,
    optionalDependencies: Object.fromEntries(natives.map((n) => [n.name, n.version])),
    files: ["dist/src", "scripts", "README.md"],
  };
  fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(out, null, 2) + "\n");
' "$stage"
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
ls -l "$out"/*.tgz | awk '{print $5, $9}'
