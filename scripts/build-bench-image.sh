#!/usr/bin/env bash
# Builds the pull benchmark's large image from real files — the machine's shared
# libraries (/usr/lib/<triplet>, ~650 MB of ELF that gzips about 2.7:1) split into 5
# layers of about equal size — with umoci (as real images are made: its layer tars end
# without the tar trailer) and pushes it with skopeo to the local registry as
# bench/large:v1. Idempotent: nothing is done when the registry has the image already.
set -euo pipefail
ADDR="${BERTH_REGISTRY:-127.0.0.1:5100}"
IMAGE="$ADDR/bench/large:v1"
SRC="${BENCH_SRC:-/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)}"
if skopeo inspect --tls-verify=false "docker://$IMAGE" >/dev/null 2>&1; then echo "$IMAGE"; exit 0; fi
work="$(mktemp -d /var/tmp/berth-bench-image.XXXXXX)"; trap 'rm -rf "$work"' EXIT
L="$work/layout"
umoci init --layout "$L"
umoci new --image "$L:v1"
# Regular files only, split by cumulative size into 5 lists.
find "$SRC" -type f -printf '%s %P\n' | sort -k2 | awk -v dir="$work" '
  { f[NR] = $2; s[NR] = $1; total += $1 }
  END { per = total / 5; acc = 0; for (i = 1; i <= NR; i++) { n = int(acc / per); if (n > 4) n = 4; print f[i] > (dir "/list" n); acc += s[i] } }'
for n in 0 1 2 3 4; do
  stage="$work/stage$n"
  mkdir -p "$stage"
  (cd "$SRC" && tar -cf - --files-from "$work/list$n") | tar -xf - -C "$stage"
  umoci insert --image "$L:v1" "$stage" "/usr/lib/bench/part$n" >/dev/null
  rm -rf "$stage"
done
umoci config --image "$L:v1" --config.cmd /bin/true
skopeo copy --quiet --dest-tls-verify=false "oci:$L:v1" "docker://$IMAGE"
echo "$IMAGE"
