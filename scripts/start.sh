#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and starts berthd on its embedded defaults
# (/run/berth/berth.sock, /var/lib/berth, /run/berth); extra arguments go to berthd.
# Like CRI-O's package, it installs a default bridge network into /etc/cni/net.d when that
# directory holds no config, so a fresh node runs pods at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CNI_DIR=/etc/cni/net.d
if ! ls "$CNI_DIR"/*.conflist "$CNI_DIR"/*.conf "$CNI_DIR"/*.json >/dev/null 2>&1; then
  mkdir -p "$CNI_DIR"
  install -m 0644 scripts/10-berth-bridge.conflist "$CNI_DIR/10-berth-bridge.conflist"
  echo "start: installed $CNI_DIR/10-berth-bridge.conflist" >&2
fi
exec node_modules/.bin/node dist/src/cli.js "$@"
