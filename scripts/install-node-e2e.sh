#!/usr/bin/env bash
# Builds the Kubernetes node e2e suite and a kubelet at a pinned version, cached outside
# the repo:
#   bash scripts/install-node-e2e.sh [VERSION]       (or K8S_VERSION=…; default v1.37.2)
# Binaries land in ${BERTH_CACHE:-/var/cache/berth}/node-e2e-<VERSION>/
#   {e2e_node.test,kubelet,ginkgo,agnhost}
# (v1.37's e2e_node.test looks for `kubelet` in its own directory, so they sit together).
# GOPATH/GOCACHE/GOMODCACHE are shared with install-critest.sh under ${BERTH_CACHE}/go.
# A second run with the binaries present only prints their paths.
#
# Why a scratch module: k8s.io/kubernetes's go.mod replaces its ~33 k8s.io/* staging
# modules with ./staging/... paths, which do not exist in the module download. Requiring
# it from a module of our own that replaces each staging module with its published
# v0.<minor>.<patch> tag makes the whole tree buildable (see ../shared/HOST.md).
set -euo pipefail
VERSION="${1:-${K8S_VERSION:-v1.37.2}}"
case "$VERSION" in v*) ;; *) VERSION="v$VERSION" ;; esac
STAGING_VERSION="v0.${VERSION#v1.}"
CACHE="${BERTH_CACHE:-/var/cache/berth}"
OUT="$CACHE/node-e2e-$VERSION"
print() { for b in e2e_node.test kubelet ginkgo agnhost; do echo "$b=$OUT/$b"; done; }
if [ -x "$OUT/e2e_node.test" ] && [ -x "$OUT/kubelet" ] && [ -x "$OUT/ginkgo" ] && [ -x "$OUT/agnhost" ]; then
  print; exit 0
fi
export GOPATH="$CACHE/go" GOCACHE="$CACHE/go/cache" GOMODCACHE="$CACHE/go/pkg/mod"
export GOFLAGS="${GOFLAGS:-} -mod=mod" GOTOOLCHAIN=local
mkdir -p "$OUT" "$GOCACHE" "$GOMODCACHE"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init berth-node-e2e >/dev/null 2>&1
gomod="$(go mod download -json "k8s.io/kubernetes@$VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
[ -f "$gomod" ] || { echo "install-node-e2e: no go.mod for k8s.io/kubernetes@$VERSION" >&2; exit 1; }
go mod edit -require "k8s.io/kubernetes@$VERSION"
# Each `k8s.io/X => ./staging/src/k8s.io/X` line becomes `k8s.io/X => k8s.io/X STAGING_VERSION`.
replaces=0
while read -r mod; do
  go mod edit -replace "$mod=$mod@$STAGING_VERSION"; replaces=$((replaces + 1))
done < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$gomod")
[ "$replaces" -gt 0 ] || { echo "install-node-e2e: no staging replaces found in $gomod" >&2; exit 1; }
# Keep the Go version kubernetes asks for (the local toolchain must satisfy it).
cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/test/e2e_node"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
EOF
go mod tidy >/dev/null 2>&1 || go mod tidy
start=$SECONDS
major=1; minor="${VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$VERSION -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
mkdir -p bin
go build -ldflags "$ldflags" -o bin/kubelet k8s.io/kubernetes/cmd/kubelet
echo "install-node-e2e: kubelet built ($((SECONDS - start))s)" >&2
go test -c -ldflags "$ldflags" -o bin/e2e_node.test k8s.io/kubernetes/test/e2e_node
echo "install-node-e2e: e2e_node.test built ($((SECONDS - start))s)" >&2
CGO_ENABLED=0 go build -ldflags "-s -w" -o bin/agnhost k8s.io/kubernetes/test/images/agnhost
ginkgo_version="$(go list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)"
go get "github.com/onsi/ginkgo/v2/ginkgo@$ginkgo_version" >/dev/null 2>&1
go build -o bin/ginkgo github.com/onsi/ginkgo/v2/ginkgo
# agnhost's version (what `agnhost --version`... and the image tag) comes from its VERSION file.
cp "$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/VERSION" "$OUT/agnhost.VERSION" 2>/dev/null || true
cp "$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/utils/image/manifest.go" "$OUT/image-manifest.go"
for b in agnhost ginkgo kubelet e2e_node.test; do
  install -m 0755 "bin/$b" "$OUT/$b.tmp" && mv -f "$OUT/$b.tmp" "$OUT/$b"
done
echo "install-node-e2e: built $VERSION in $((SECONDS - start))s (sources: $(go list -m -f '{{.Dir}}' k8s.io/kubernetes))" >&2
print
