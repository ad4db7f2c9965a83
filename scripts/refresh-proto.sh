#!/usr/bin/env bash
# Re-vendors the CRI v1 api.proto from the Go module k8s.io/cri-api at the pinned
# version, then regenerates the TypeScript. Usage: scripts/refresh-proto.sh [version]
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-$(cat proto/runtime/v1/VERSION)}"
DIR="$(cd "$(mktemp -d)" && go mod init refresh >/dev/null 2>&1 && go mod download -json "k8s.io/cri-api@${VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
install -m 0644 "$DIR/pkg/apis/runtime/v1/api.proto" proto/runtime/v1/api.proto
echo "$VERSION" > proto/runtime/v1/VERSION
bash scripts/gen-proto.sh
