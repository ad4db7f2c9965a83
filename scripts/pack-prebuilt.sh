#!/usr/bin/env bash
# Puts this platform's build (the napi addon and berth-monitor) into its npm/<platform>
# package, napi-rs style, ready for `npm publish npm/<platform>`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-native.sh
plat="linux-$(node -p 'process.arch')-gnu"
install -m 0755 "native/binding/berth-native.${plat}.node" "npm/${plat}/"
install -m 0755 target/release/berth-monitor "npm/${plat}/"
echo "packed npm/${plat}: $(ls "npm/${plat}" | tr '\n' ' ')"
