#!/usr/bin/env bash
# `npm run bench`: pod start/teardown latency and monitor memory on real parts (root).
# Starts the local registry with the test images, like scripts/test.sh. BENCH_N=iterations.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl
export PATH="$PWD/node_modules/.bin:$PATH"
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
bash scripts/registry.sh start
trap 'bash scripts/registry.sh stop' EXIT
bash scripts/build-images.sh >/dev/null
node dist/bench/pod-start.js
