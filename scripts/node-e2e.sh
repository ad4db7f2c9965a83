#!/usr/bin/env bash
# The Kubernetes node e2e suite ([NodeConformance]) with a real kubelet on berth
# (npm run test:node-e2e): builds the suite, the kubelet and agnhost into /var/cache/berth
# (scripts/install-node-e2e.sh), pushes look-alike images to the local registry, and runs
# test/node-e2e/run.ts, which prints `node-e2e <version>: N passed, N failed of N run`.
#   NODE_E2E_VERSION=v1.36.3   the previous minor (default v1.37.2)
#   NODE_E2E_SUBSET=1          CI's fast subset (test/node-e2e/subset.ts)
#   NODE_E2E_FOCUS=REGEX       only the specs whose name matches
#   BERTH_NODE_E2E_ALL=1       run the skip list's specs too
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "node-e2e: the kubelet and berthd need root" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl jq gcc libc6-dev util-linux
export PATH="$PWD/node_modules/.bin:$PATH"
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
started=0
curl -fsS "http://$BERTH_REGISTRY/v2/" >/dev/null 2>&1 || started=1
trap '[ "$started" = 0 ] || bash scripts/registry.sh stop' EXIT
node dist/test/node-e2e/run.js
