#!/usr/bin/env bash
# Installs crictl v1.36.0 to /usr/local/bin. The Go proxy refuses version lists, so
# `go install …@v1.36.0` fails: resolve it in a scratch module, then install from there.
set -euo pipefail
VERSION=v1.36.0
if command -v crictl >/dev/null && crictl --version 2>/dev/null | grep -q "${VERSION#v}"; then exit 0; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init crictl-install >/dev/null 2>&1
go get "sigs.k8s.io/cri-tools/cmd/crictl@${VERSION}" >/dev/null 2>&1
GOBIN=/usr/local/bin go install sigs.k8s.io/cri-tools/cmd/crictl
crictl --version
