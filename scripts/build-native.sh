#!/usr/bin/env bash
# Builds the napi addon (native/binding → native/binding/berth-native.<platform>.node,
# index.js and the typed boundary index.d.ts) and the berth-monitor binary.
set -euo pipefail
cd "$(dirname "$0")/.."
npx napi build --platform --release --esm \
  --manifest-path native/binding/Cargo.toml --package-json-path package.json \
  --output-dir native/binding --js index.js --dts index.d.ts --js-package-name @berth/native
cargo build --release -p berth-monitor
