#!/usr/bin/env bash
# The sandbox (pause) image containerd's CRI plugin needs in the pod bench (bench/containerd.ts):
# the same static pause look-alike as the critest and node e2e images, pushed with skopeo to the
# local registry as $ADDR/berth-bench/pause:3.9. berth itself needs none (built-in pause process).
# Skipped when the registry has it already (see STAMP in lib/look-alike-images.sh).
set -euo pipefail
. "$(dirname "$0")/lib/look-alike-images.sh"
TARGETS=("pause berth-bench/pause:3.9")
curl -fsS -o /dev/null "http://$ADDR/v2/" || { echo "no registry at $ADDR (bash scripts/registry.sh start)" >&2; exit 1; }
if images_all_present; then echo "bench pause image: present in $ADDR"; exit 0; fi
images_init
images_static_helpers
rm -rf "$work/d"; mkdir -p "$work/d"; install -m 0755 "$work/pause" "$work/d/pause"
umoci new --image "$L:pause-empty"
add_layer pause-empty pause "$work/d" "pause look-alike"
cfg pause --config.entrypoint /pause --config.user 65535:65535
images_push bench-pause
