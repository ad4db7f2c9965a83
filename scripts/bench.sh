#!/usr/bin/env bash
# `npm run bench`: pod start/teardown latency and monitor memory on real parts (root).
# Starts the local registry with the test images, like scripts/test.sh. BENCH_N=iterations.
# `npm run bench:critest` (this script with `critest`): critest's own -benchmark specs.
# `npm run bench:pull` (this script with `pull`): pull+unpack of a large image (bench/pull.ts);
# plain `npm run bench` runs it after the pod-start figures.
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
case "${1:-}" in
  critest) node dist/bench/critest-benchmark.js ;;
  pull) node dist/bench/pull.js ;;
  *) node dist/bench/pod-start.js; node dist/bench/pull.js ;;
esac
