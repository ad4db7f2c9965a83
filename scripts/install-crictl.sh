#!/usr/bin/env bash
# Installs crictl v1.36.0 (the previous minor's, whose kubelet berth must keep serving) to
# /usr/local/bin. The Go proxy refuses version lists, so `go install …@v1.36.0` fails:
# resolve it in a scratch module, then install from there. Go caches live under
# ${BERTH_CACHE:-/var/cache/berth}/go, shared with scripts/install-critest.sh.
set -euo pipefail
VERSION=v1.36.0
if command -v crictl >/dev/null && crictl --version 2>/dev/null | grep -q "version ${VERSION}\$"; then exit 0; fi
CACHE="${BERTH_CACHE:-/var/cache/berth}"
export GOPATH="$CACHE/go" GOCACHE="$CACHE/go/cache" GOMODCACHE="$CACHE/go/pkg/mod" GOTOOLCHAIN=local
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init crictl-install >/dev/null 2>&1
go get "sigs.k8s.io/cri-tools/cmd/crictl@${VERSION}" >/dev/null 2>&1
# Without the version stamped in, `crictl --version` says "unknown".
GOBIN=/usr/local/bin go install -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=${VERSION}" sigs.k8s.io/cri-tools/cmd/crictl
crictl --version
