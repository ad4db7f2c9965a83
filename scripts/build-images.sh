#!/usr/bin/env bash
# Builds berth's test images from Debian's busybox-static (no image from the internet):
# an OCI layout made with umoci, pushed with skopeo (a real client) to the local registry
# as busybox:latest (OCI manifest) and busybox:v2s2 (Docker schema2 manifest).
set -euo pipefail
STATE="${BERTH_TEST_STATE:-/var/tmp/berth-test}"
ADDR="${BERTH_REGISTRY:-127.0.0.1:5100}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
L="$work/layout"
umoci init --layout "$L"
umoci new --image "$L:latest"
umoci unpack --image "$L:latest" "$work/bundle" >/dev/null
R="$work/bundle/rootfs"
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/root" "$R/var/www"
install -m 0755 "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$R/etc/group"
echo 'hello from berth' > "$R/var/www/index.html"
umoci repack --image "$L:latest" "$work/bundle" >/dev/null
umoci config --image "$L:latest" --config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir /
skopeo copy --quiet --dest-tls-verify=false "oci:$L:latest" "docker://$ADDR/busybox:latest"
skopeo copy --quiet --dest-tls-verify=false --format v2s2 "oci:$L:latest" "docker://$ADDR/busybox:v2s2"

# busybox-layered: a second layer on the same base that deletes a file (a .wh. whiteout)
# and replaces a directory's contents (an opaque directory), to test whiteouts and the
# sharing of the base layer between images.
umoci unpack --image "$L:latest" "$work/layered" >/dev/null
R2="$work/layered/rootfs"
rm "$R2/var/www/index.html"
rm -rf "$R2/tmp"; mkdir -p "$R2/tmp"; echo only > "$R2/tmp/only-in-top"
mkdir -p "$R2/data"; echo layered > "$R2/data/marker"
umoci repack --image "$L:latest" "$work/layered" >/dev/null
skopeo copy --quiet --dest-tls-verify=false "oci:$L:latest" "docker://$ADDR/busybox-layered:latest"
echo "pushed $ADDR/busybox:latest (OCI), busybox:v2s2 (Docker schema2), busybox-layered:latest (2 layers, whiteouts)"
