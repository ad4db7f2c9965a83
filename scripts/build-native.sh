#!/usr/bin/env bash
# Builds the napi addon (native/binding → native/binding/berth-native.<platform>.node and
# the typed boundary index.d.ts; src/native/index.ts loads it) and the berth-monitor binary.
set -euo pipefail
cd "$(dirname "$0")/.."
npx napi build --platform --release \
  --manifest-path native/binding/Cargo.toml --package-json-path package.json \
  --output-dir native/binding --no-js --dts index.d.ts
# berth-monitor runs once per container for the container's whole life, so its resident
# size counts per pod: the `monitor` profile (Cargo.toml) builds it for size, linked
# statically: no ld.so, libc.so or libgcc_s mapped into each monitor, whose touched pages
# (and per-process relocated data) all counted in its RSS. --target keeps +crt-static off
# the build scripts and proc-macros. berthd, the tests and the npm packaging take it from
# target/release/berth-monitor, as before.
host="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --profile monitor -p berth-monitor --target "$host"
mkdir -p target/release
ln -f "target/$host/monitor/berth-monitor" target/release/berth-monitor
