#!/usr/bin/env bash
# The whole suite, from a fresh machine: set-up (scripts/setup.sh plus the test tools:
# docker-registry, skopeo, umoci, crictl), generated-code check, native unit tests, the
# local registry with the busybox test images, ava unit + integration tests (root), the
# CRI validation suite (critest, test/conformance/run.ts), then a subset of the Kubernetes
# node e2e suite with a real kubelet (test/node-e2e/run.ts; the full run: npm run test:node-e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: the integration tests need root (namespaces, mounts, cgroups)" >&2; exit 1; }
bash scripts/setup.sh docker-registry skopeo umoci curl python3 jq gcc libc6-dev criu
bash scripts/install-crictl.sh >/dev/null
bash scripts/install-critest.sh >/dev/null  # crictl + critest v1.37.0 (and ginkgo), cached in /var/cache/berth
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== generated code is up to date" >&2
bash scripts/gen-proto.sh
bash scripts/gen-config-doc.sh
git diff --exit-code -- src/gen native/binding/index.d.ts README.md

echo "== native: format, lints, unit tests" >&2
cargo fmt --all --check
cargo clippy --release --workspace -q -- -D warnings
cargo test --release --workspace -q >&2

echo "== registry and test images" >&2
export BERTH_REGISTRY="${BERTH_REGISTRY:-127.0.0.1:5100}"
# A registry that was already serving (another run's) is left running afterwards.
started=0
curl -fsS "http://$BERTH_REGISTRY/v2/" >/dev/null 2>&1 || { bash scripts/registry.sh start; started=1; }
# CNI's bridge plugin turns ip_forward on; restore what the host had once the suite ends.
forward_before="$(cat /proc/sys/net/ipv4/ip_forward)"
trap '[ "$started" = 0 ] || bash scripts/registry.sh stop; echo "$forward_before" > /proc/sys/net/ipv4/ip_forward' EXIT
bash scripts/build-images.sh >&2

echo "== ava: unit and integration" >&2
npx ava

echo "== conformance: critest" >&2
node dist/test/conformance/run.js

echo "== node conformance: a real kubelet, the node e2e suite's fast subset" >&2
NODE_E2E_SUBSET=1 node dist/test/node-e2e/run.js
