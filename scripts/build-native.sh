#!/usr/bin/env bash
# Builds the napi addon (native/binding → native/binding/berth-native.<platform>.node and
# the typed boundary index.d.ts; src/native/index.ts loads it) and the berth-monitor binary.
set -euo pipefail
cd "$(dirname "$0")/.."
npx napi build --platform --release \
  --manifest-path native/binding/Cargo.toml --package-json-path package.json \
  --output-dir native/binding --no-js --dts index.d.ts
cargo build --release -p berth-monitor
