#!/usr/bin/env bash
# Builds look-alikes of the images the Kubernetes node e2e suite ([NodeConformance], v1.37.2
# and v1.36.3 tags) pulls, and pushes them with skopeo to the local registry under
# "<upstream host>/<path>" repositories, as scripts/build-critest-images.sh does:
#   registry.k8s.io/X -> $ADDR/registry.k8s.io/X
# berthd reaches them through the registries.conf the node e2e runner writes.
#   AGNHOST=/path/to/agnhost  (a static agnhost binary; scripts/install-node-e2e.sh builds it)
#   K8S_SRC=/path/to/k8s.io/kubernetes@vX (for the kitten/nautilus html; optional)
# What each image holds and why is said next to it. The tags come from each version's
# test/utils/image/manifest.go.
set -euo pipefail
. "$(dirname "$0")/lib/look-alike-images.sh"
AGNHOST="${AGNHOST:?AGNHOST=path to a static agnhost binary (scripts/install-node-e2e.sh prints it)}"
E2E=registry.k8s.io/e2e-test-images

TARGETS=(
  # v1.37.2 BusyBox 1.37.0-2, v1.36.3 1.37.0-1: upstream's is busybox on a scratch base, CMD sh.
  "busybox $E2E/busybox:1.37.0-2 $E2E/busybox:1.37.0-1"
  # Agnhost (v1.37.2 2.66.1, v1.36.3 2.63.0) and AgnhostPrev (2.55): one agnhost build.
  "agnhost $E2E/agnhost:2.66.1 $E2E/agnhost:2.63.0 $E2E/agnhost:2.55"
  # Nginx (v1.37.2 1.27.0-2 / 1.28.0-2; v1.36.3 1.15-4 / 1.27-0).
  "nginx $E2E/nginx:1.27.0-2 $E2E/nginx:1.28.0-2 $E2E/nginx:1.15-4 $E2E/nginx:1.27-0"
  "nonewprivs $E2E/nonewprivs:1.4"
  "nonroot $E2E/nonroot:1.5"
  "ipc-utils $E2E/ipc-utils:1.4"
  "kitten $E2E/kitten:1.8"
  "nautilus $E2E/nautilus:1.8"
  # GlibcDnsTesting (v1.37.2 2.1.1, v1.36.3 2.0.0)
  "glibc-dns-testing $E2E/glibc-dns-testing:2.1.1 $E2E/glibc-dns-testing:2.0.0"
  "pause registry.k8s.io/pause:3.10.2"
)


# with_libs <binary> <root>: the binary and the shared libraries it links, at their paths.
with_libs() {
  local lib
  mkdir -p "$2$(dirname "$1")"; cp -L "$1" "$2$1"
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do mkdir -p "$2$(dirname "$lib")"; cp -L "$lib" "$2$lib"; done
}
# env_keeping_busybox: the path of Debian's busybox (the version of the .deb the base
# uses) built from its source package with CONFIG_FEATURE_DI_ENV_HACK=y, cached in
# ${BERTH_CACHE}/busybox-env-<version>/. The tarballs are checked against the .dsc.
env_keeping_busybox() {
  local deb src ver dir pool=http://deb.debian.org/debian/pool/main/b/busybox f sum
  deb="$(fetch_deb busybox)"
  src="$(dpkg-deb -f "$deb" Source)"; ver="${src#*(}"; ver="${ver%)}"; ver="${ver#*:}"
  dir="${BERTH_CACHE:-/var/cache/berth}/busybox-env-$ver"
  if [ ! -x "$dir/busybox" ]; then
    rm -rf "$work/bbsrc"; mkdir -p "$work/bbsrc" "$dir"
    curl -fsS -o "$work/bbsrc/b.dsc" "$pool/busybox_$ver.dsc"
    # Checksums-Sha256 lines: " <sha256> <size> <file>"
    sed -n '/^Checksums-Sha256:/,/^[A-Z]/p' "$work/bbsrc/b.dsc" | awk 'NF == 3 { print $1, $3 }' > "$work/bbsrc/sums"
    while read -r sum f; do
      curl -fsS -o "$work/bbsrc/$f" "$pool/$f"
      echo "$sum  $work/bbsrc/$f" | sha256sum -c --quiet
    done < "$work/bbsrc/sums"
    tar -xjf "$work/bbsrc"/busybox_*.orig.tar.bz2 -C "$work/bbsrc"
    local tree; tree="$(echo "$work/bbsrc"/busybox-*/)"
    tar -xJf "$work/bbsrc"/busybox_*.debian.tar.xz -C "$tree"
    grep -v '^#' "$tree/debian/patches/series" | grep . | while read -r p; do patch -d "$tree" -p1 -s < "$tree/debian/patches/$p"; done
    sed 's/^# CONFIG_FEATURE_DI_ENV_HACK is not set/CONFIG_FEATURE_DI_ENV_HACK=y/' "$tree/debian/config/pkg/deb" > "$tree/.config"
    grep -q '^CONFIG_FEATURE_DI_ENV_HACK=y' "$tree/.config"
    (cd "$tree" && { yes "" || true; } | make oldconfig >/dev/null 2>&1 && make -j"$(nproc)" busybox > "$work/bbsrc/build.log" 2>&1) || { tail -20 "$work/bbsrc/build.log" >&2; return 1; }
    install -m 0755 "$tree/busybox" "$dir/busybox.tmp" && mv "$dir/busybox.tmp" "$dir/busybox"
  fi
  echo "$dir/busybox"
}

curl -fsS -o /dev/null "http://$ADDR/v2/" || { echo "no registry at $ADDR (bash scripts/registry.sh start)" >&2; exit 1; }
if images_all_present; then echo "node e2e images: all present in $ADDR"; exit 0; fi

images_init
images_static_helpers
images_busybox_base

# nmeter: upstream's busybox has it, Debian's two builds do not. The container lifecycle
# specs time their events with `date -u +%FT$(nmeter -d0 '%3t' | head -n1)Z`. This one
# knows that use: -d<ms> between lines, a format whose %[N]t is the time of day
# (HH:MM:SS, N fractional digits), the rest printed as is.
cat > "$work/nmeter.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long delay_ms = 1000; const char *fmt = "%t";
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "-d", 2)) delay_ms = atol(argv[i][2] ? argv[i] + 2 : (i + 1 < argc ? argv[++i] : "1000"));
    else fmt = argv[i];
  }
  for (;;) {
    struct timeval tv; gettimeofday(&tv, 0);
    struct tm tm; gmtime_r(&tv.tv_sec, &tm);
    for (const char *p = fmt; *p; p++) {
      if (*p != '%') { putchar(*p); continue; }
      int digits = 0;
      while (p[1] >= '0' && p[1] <= '9') digits = digits * 10 + (*++p - '0');
      if (p[1] == 't') {
        p++;
        printf("%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (digits > 0) { long f = tv.tv_usec; for (int d = 6; d > digits; d--) f /= 10; printf(".%0*ld", digits > 6 ? 6 : digits, f); }
      } else if (p[1]) putchar(*++p);
    }
    putchar('\n');
    if (fflush(stdout) == EOF || ferror(stdout)) return 0;
    if (delay_ms > 0) usleep(delay_ms * 1000);
  }
}
C
rm -rf "$work/d"; mkdir -p "$work/d/bin"
gcc -static -Os -s -o "$work/d/bin/nmeter" "$work/nmeter.c"
# sh: upstream's ash passes every environment entry on to the commands it runs; Debian
# reverts that (busybox's revert-9c143ce… patch) and drops names that are no shell
# identifiers, such as the `data-1` the ConfigMap and Secret "consumable via the
# environment" specs put there with envFrom and read back with `sh -c env`. Debian keeps
# upstream's behaviour behind CONFIG_FEATURE_DI_ENV_HACK (its installer build sets it), so
# /bin/sh is Debian's busybox rebuilt from the same source with that one option set:
# ash otherwise, with the error messages the specs compare ("/bin/sh: can't create …").
install -m 0755 "$(env_keeping_busybox)" "$work/d/bin/sh"
add_layer busybox busybox "$work/d" "nmeter look-alike (time of day only); sh keeping every environment entry"

# agnhost: upstream's is alpine + /agnhost (ENTRYPOINT, CMD pause), /agnhost-2 (a symlink the
# entrypoint specs run), /uploads (netexec), bash (probe specs run /bin/bash -c), and a user
# and group the SupplementalGroups spec expects in the image: user-defined-in-image (1000)
# in group-defined-in-image (50000).
rm -rf "$work/d"; mkdir -p "$work/d/etc" "$work/d/uploads" "$work/d/home/user-defined-in-image"
with_libs /bin/bash "$work/d"
# curl: specs exec it in agnhost pods (node-to-pod networking, lifecycle hooks).
with_libs /usr/bin/curl "$work/d"
# nc: upstream's is netcat-openbsd, and the UDP specs need its `nc -w 1 -u` (busybox's nc
# waits for stdin's end, not for the reply). /usr/bin comes before busybox's /bin in PATH.
dpkg-deb -x "$(fetch_deb netcat-openbsd)" "$work/nc"
with_libs "$work/nc/bin/nc.openbsd" "$work/nc-root"
install -D -m 0755 "$work/nc/bin/nc.openbsd" "$work/d/usr/bin/nc"
cp -a "$work/nc-root/lib" "$work/nc-root/lib64" "$work/d/" 2>/dev/null || true
# The porter's TLS pair: the HTTPS lifecycle hook specs run `agnhost netexec` with
# --tls-cert-file /localhost.crt --tls-private-key-file /localhost.key.
if [ -n "${K8S_SRC:-}" ] && [ -f "$K8S_SRC/test/images/agnhost/porter/localhost.crt" ]; then
  install -m 0644 "$K8S_SRC/test/images/agnhost/porter/localhost.crt" "$K8S_SRC/test/images/agnhost/porter/localhost.key" "$work/d/"
fi
install -m 0755 "$AGNHOST" "$work/d/agnhost"
ln -s agnhost "$work/d/agnhost-2"
cp "$B/etc/passwd" "$B/etc/group" "$work/d/etc/"
echo 'user-defined-in-image:x:1000:1000:Linux User,,,:/home/user-defined-in-image:/bin/sh' >> "$work/d/etc/passwd"
printf 'user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n' >> "$work/d/etc/group"
chown 1000:1000 "$work/d/home/user-defined-in-image"
tar -C "$work/d" --sort=name --mtime="@0" --numeric-owner --format=gnu -cf "$work/layer.tar" .
umoci raw add-layer --image "$L:busybox" --tag agnhost --history.created "$CREATED" --history.created_by "ADD agnhost $(cat "${AGNHOST}.VERSION" 2>/dev/null || echo)" "$work/layer.tar"
cfg agnhost --clear=config.cmd --config.entrypoint /agnhost --config.cmd pause \
  --config.exposedports 80/tcp --config.exposedports 8080/tcp --config.exposedports 8081/tcp \
  --config.exposedports 9376/tcp --config.exposedports 5000/tcp

nginx_like nginx 80

rm -rf "$work/d"; mkdir -p "$work/d/usr/local/bin"
install -m 4755 "$work/nnp" "$work/d/usr/local/bin/nnp"
add_layer busybox nonewprivs "$work/d" "nnp (setuid root)"
cfg nonewprivs --clear=config.cmd --config.cmd nnp

# nonroot: busybox with USER 1234.
umoci tag --image "$L:busybox" nonroot; cfg nonroot --config.user 1234

# ipc-utils: alpine + util-linux for ipcmk/ipcs; the busybox base has ipcs (a look-alike)
# and Debian's busybox has ipcrm; ipcmk -M is the one the IPC specs run.
rm -rf "$work/d"; mkdir -p "$work/d/usr/bin"
cat > "$work/d/usr/bin/ipcmk" <<'E'
#!/bin/sh
# ipcmk look-alike: `ipcmk -M SIZE` creates a SysV shared memory segment that stays.
[ "$1" = -M ] || { echo "usage: ipcmk -M size" >&2; exit 1; }
exec /usr/bin/shm-create "$2"
E
chmod 0755 "$work/d/usr/bin/ipcmk"
cat > "$work/shm.c" <<'C'
/* shm-create SIZE: creates a private SysV shared memory segment and prints its id, as ipcmk -M. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
int main(int argc, char **argv) {
  if (argc < 2) return 1;
  int id = shmget(IPC_PRIVATE, strtoul(argv[1], 0, 0), IPC_CREAT | 0644);
  if (id < 0) { perror("shmget"); return 1; }
  printf("Shared memory id: %d\n", id);
  return 0;
}
C
gcc -static -Os -s -o "$work/d/usr/bin/shm-create" "$work/shm.c"
add_layer busybox ipc-utils "$work/d" "ipcmk look-alike"

# kitten / nautilus: agnhost + a picture and data.json, CMD test-webserver.
for pic in kitten nautilus; do
  rm -rf "$work/d"; mkdir -p "$work/d"
  if [ -n "${K8S_SRC:-}" ] && [ -d "$K8S_SRC/test/images/$pic/html" ]; then
    cp "$K8S_SRC/test/images/$pic/html/"* "$work/d/"; chmod 0644 "$work/d/"*
  else
    printf '{"image": "%s"}\n' "$pic" > "$work/d/data.json"
  fi
  add_layer agnhost "$pic" "$work/d" "COPY html/ /"
  cfg "$pic" --clear=config.cmd --config.cmd test-webserver
done

# glibc-dns-testing: upstream's is Debian (glibc) with dnsutils; the hostname specs run
# `hostname -f`, which with glibc resolves the name through /etc/hosts (the kubelet's).
rm -rf "$work/d"; mkdir -p "$work/d/etc"
with_libs /bin/hostname "$work/d"
printf 'hosts: files dns\n' > "$work/d/etc/nsswitch.conf"
add_layer busybox glibc-dns-testing "$work/d" "glibc hostname (Debian)"

rm -rf "$work/d"; mkdir -p "$work/d"; install -m 0755 "$work/pause" "$work/d/pause"
umoci new --image "$L:pause-empty"
add_layer pause-empty pause "$work/d" "pause look-alike"
cfg pause --config.entrypoint /pause --config.user 65535:65535

images_push "node e2e"
