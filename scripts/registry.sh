#!/usr/bin/env bash
# Starts (or stops) a local docker-registry on 127.0.0.1 for tests: scripts/registry.sh start|stop
# State lives under ${BERTH_TEST_STATE:-/var/tmp/berth-test}; the address under $BERTH_REGISTRY.
set -euo pipefail
STATE="${BERTH_TEST_STATE:-/var/tmp/berth-test}"
ADDR="${BERTH_REGISTRY:-127.0.0.1:5100}"
mkdir -p "$STATE/registry"
case "${1:-start}" in
  start)
    if curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1; then exit 0; fi
    cat > "$STATE/registry/config.yml" <<YML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $STATE/registry/data }, delete: { enabled: true } }
http: { addr: $ADDR }
YML
    setsid docker-registry serve "$STATE/registry/config.yml" >"$STATE/registry/log" 2>&1 < /dev/null &
    echo $! > "$STATE/registry/pid"
    for _ in $(seq 100); do curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 && exit 0; sleep 0.1; done
    echo "registry did not come up on $ADDR; log:" >&2; cat "$STATE/registry/log" >&2; exit 1 ;;
  stop)
    if [ -f "$STATE/registry/pid" ]; then kill "$(cat "$STATE/registry/pid")" 2>/dev/null || true; rm -f "$STATE/registry/pid"; fi ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
