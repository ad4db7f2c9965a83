#!/usr/bin/env bash
# `npm run bench`: the pod figures (bench/pod-start.ts: start latency, a burst of pods, memory,
# the bare runc/CNI floor, containerd 1.6 side by side), then the pull figures (root).
# Starts the local registry with the test images, like scripts/test.sh. BENCH_N=iterations,
# BENCH_BURST=pods started at once, BENCH_CONTAINERD=0 leaves containerd out (of both benches).
# `npm run bench:pods` (this script with `pods`): the pod figures only.
# `npm run bench:critest` (this script with `critest`): critest's own -benchmark specs.
# `npm run bench:pull` (this script with `pull`): pull+unpack of a large image (bench/pull.ts)
# by berth and, in the same run, by the peers — containerd 1.6 (`ctr images pull` + unpack
# into its overlayfs snapshotter) and `skopeo copy` into containers-storage — with the ratios.
# BENCH_PEERS=0 leaves the peers out (berth alone); BENCH_PEERS=containerd or =skopeo keeps one.
# Plain `npm run bench` runs it after the pod-start figures.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl jq gcc libc6-dev
# The peer for side-by-side figures (pods and pull); without it the benches print why and give berth's alone.
want_containerd=1
case "${1:-}" in critest) want_containerd=0 ;; esac
[ "${BENCH_CONTAINERD:-1}" != 0 ] || want_containerd=0
# The pull bench's peers: BENCH_PEERS unset or 1 = all, 0/none/empty = none, else a comma list.
if [ "${1:-}" = pull ] && [ "${BENCH_PEERS+set}" = set ]; then
  case ",${BENCH_PEERS// /}," in *,containerd,*|,1,|,all,) ;; *) want_containerd=0 ;; esac
fi
if [ "$want_containerd" = 1 ] && ! dpkg -s containerd >/dev/null 2>&1; then
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends containerd >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends containerd >/dev/null; }; } ||
    echo "bench: apt-get install containerd failed; the bench will say so" >&2
fi
export PATH="$PWD/node_modules/.bin:$PATH"
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
started=0
curl -fsS "http://$BERTH_REGISTRY/v2/" >/dev/null 2>&1 || { bash scripts/registry.sh start; started=1; }
trap '[ "$started" = 0 ] || bash scripts/registry.sh stop' EXIT
bash scripts/build-images.sh >/dev/null
[ "${1:-}" = critest ] || [ "${1:-}" = pull ] || bash scripts/build-bench-pause.sh >/dev/null
case "${1:-}" in
  critest) node dist/bench/critest-benchmark.js ;;
  pull) node dist/bench/pull.js ;;
  pods) node dist/bench/pod-start.js ;;
  *) node dist/bench/pod-start.js; node dist/bench/pull.js ;;
esac
