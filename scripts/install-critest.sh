#!/usr/bin/env bash
# Builds crictl and critest (cri-tools) at a pinned version, cached outside the repo:
#   bash scripts/install-critest.sh [VERSION]        (or CRI_TOOLS_VERSION=…; default v1.37.0)
# Binaries land in ${BERTH_CACHE:-/var/cache/berth}/cri-tools-<VERSION>/{crictl,critest,ginkgo};
# GOPATH, GOCACHE and GOMODCACHE live under ${BERTH_CACHE}/go, so a rebuild (or another
# version) reuses the module and build caches. A second run with the binaries present
# does nothing but print their paths.
# The Go proxy refuses version lists, so `go install …@VERSION` fails: resolve the
# version in a scratch module, then install/compile from there (see ../shared/HOST.md).
# critest is a Go test binary (`go test -c`).
set -euo pipefail
VERSION="${1:-${CRI_TOOLS_VERSION:-v1.37.0}}"
case "$VERSION" in v*) ;; *) VERSION="v$VERSION" ;; esac
CACHE="${BERTH_CACHE:-/var/cache/berth}"
OUT="$CACHE/cri-tools-$VERSION"
if [ -x "$OUT/crictl" ] && [ -x "$OUT/critest" ] && [ -x "$OUT/ginkgo" ]; then
  echo "crictl=$OUT/crictl"; echo "critest=$OUT/critest"; echo "ginkgo=$OUT/ginkgo"; exit 0
fi
export GOPATH="$CACHE/go" GOCACHE="$CACHE/go/cache" GOMODCACHE="$CACHE/go/pkg/mod"
export GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN=local
mkdir -p "$OUT" "$GOCACHE" "$GOMODCACHE"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init t >/dev/null 2>&1
go get sigs.k8s.io/cri-tools/{cmd/crictl,cmd/critest,pkg/validate,pkg/benchmark}@"$VERSION"
start=$SECONDS
ldflags="-X sigs.k8s.io/cri-tools/pkg/version.Version=$VERSION"  # else `crictl --version` says "unknown"
GOBIN="$work/bin" go install -ldflags "$ldflags" sigs.k8s.io/cri-tools/cmd/crictl
go test -c -ldflags "$ldflags" -o "$work/bin/critest" sigs.k8s.io/cri-tools/cmd/critest
# `critest -parallel N` re-runs itself under the ginkgo CLI (found on PATH): the version cri-tools pins.
ginkgo_version="$(go list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)"
go get "github.com/onsi/ginkgo/v2/ginkgo@$ginkgo_version" >/dev/null 2>&1
go build -o "$work/bin/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
# Install both at once (rename is atomic), so a half-finished build is never "cached".
install -m 0755 "$work/bin/crictl" "$OUT/crictl.tmp" && mv -f "$OUT/crictl.tmp" "$OUT/crictl"
install -m 0755 "$work/bin/ginkgo" "$OUT/ginkgo.tmp" && mv -f "$OUT/ginkgo.tmp" "$OUT/ginkgo"
install -m 0755 "$work/bin/critest" "$OUT/critest.tmp" && mv -f "$OUT/critest.tmp" "$OUT/critest"
echo "built cri-tools $VERSION in $((SECONDS - start))s (sources: $(go list -m -f '{{.Dir}}' sigs.k8s.io/cri-tools))" >&2
echo "crictl=$OUT/crictl"; echo "critest=$OUT/critest"; echo "ginkgo=$OUT/ginkgo"
