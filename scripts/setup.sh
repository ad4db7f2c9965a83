#!/usr/bin/env bash
# Installs what berthd needs on a Debian 12 node and builds berth: OS packages (runc, crun,
# CNI plugins, iptables, busybox-static for the handler probe), npm deps (Node 24 comes
# from the node@24 devDependency), the native addon + berth-monitor, and the TypeScript.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
need_pkgs=()
# cmake builds zlib-ng, the native layer extractor's gzip inflater.
for p in runc crun containernetworking-plugins iptables busybox-static iproute2 cmake "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
# A symlinked node_modules is shared with another checkout (a git worktree): npm ci would
# empty the shared tree through the link, then replace the link with a private copy. Its
# owner keeps it current. (A fresh worktree's package-lock.json is always "newer".)
if [ -L node_modules ]; then
  [ -x node_modules/.bin/node ] || { echo "setup: node_modules links to an empty install" >&2; exit 1; }
elif [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# npm scripts put node_modules/.bin (Node 24) first on the PATH; do the same here.
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/build-native.sh >&2
npx tsc -p tsconfig.json
chmod +x dist/src/cli.js
