#!/usr/bin/env bash
# `npm run bench`: pod start/teardown latency and monitor memory on real parts (root).
# Starts the local registry with the test images, like scripts/test.sh. BENCH_N=iterations.
# `npm run bench:critest` (this script with `critest`): critest's own -benchmark specs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl jq gcc libc6-dev
export PATH="$PWD/node_modules/.bin:$PATH"
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
started=0
curl -fsS "http://$BERTH_REGISTRY/v2/" >/dev/null 2>&1 || { bash scripts/registry.sh start; started=1; }
trap '[ "$started" = 0 ] || bash scripts/registry.sh stop' EXIT
bash scripts/build-images.sh >/dev/null
if [ "${1:-}" = critest ]; then node dist/bench/critest-benchmark.js; else node dist/bench/pod-start.js; fi
