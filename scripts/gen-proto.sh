#!/usr/bin/env bash
# Generates src/gen from proto/ with buf (offline) and the local ts-proto plugin.
# Debian's protoc 3.21 rejects api.proto's debug_redact options; buf does not.
# Generated code is committed and never hand-edited: CI regenerates and diffs it.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/gen
npx buf generate proto --template proto/buf.gen.yaml
