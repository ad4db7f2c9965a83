#!/usr/bin/env bash
# The CRI validation suite alone (npm run test:conformance): builds what it needs (berth,
# critest into /var/cache/berth), starts the local registry with critest's look-alike
# images and a fresh berthd on a temporary root, runs critest and prints its summary.
#   CRITEST_PARALLEL=2   run specs on two ginkgo nodes
#   CRITEST_FOCUS=REGEX   only the specs whose name matches
#   BERTH_CONFORMANCE_ALL=1   run the skip list's specs too, and name those that pass now
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "conformance: critest drives berthd, which needs root" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl jq gcc libc6-dev
export PATH="$PWD/node_modules/.bin:$PATH"
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
started=0
curl -fsS "http://$BERTH_REGISTRY/v2/" >/dev/null 2>&1 || { bash scripts/registry.sh start; started=1; }
forward_before="$(cat /proc/sys/net/ipv4/ip_forward)"
trap '[ "$started" = 0 ] || bash scripts/registry.sh stop; echo "$forward_before" > /proc/sys/net/ipv4/ip_forward' EXIT
node dist/test/conformance/run.js
