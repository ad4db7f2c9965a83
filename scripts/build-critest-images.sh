#!/usr/bin/env bash
# Builds look-alikes of the images critest (cri-tools v1.37.0) pulls, from Debian's
# busybox-static (plus two tiny static C programs: pause and nonewprivs' nnp), and pushes
# them with skopeo to the local registry under the upstream repository paths, with the
# upstream registry host as the first path component:
#   registry.k8s.io/X -> $ADDR/registry.k8s.io/X    gcr.io/X -> $ADDR/gcr.io/X
#   k8s.gcr.io/X      -> $ADDR/k8s.gcr.io/X
# berthd reaches them through test/conformance/registries.conf (prefix -> location).
# What each image must contain, and why: /tmp/critest-images.md (see the report of issue 14).
#
# Like upstream, every image is an image index (one linux/<arch> entry; CRITEST_INDEX=0
# pushes plain OCI manifests instead). The build is deterministic (fixed timestamps,
# sorted tars), so re-running pushes byte-identical images; a tag already present in the
# registry is skipped (FORCE=1 pushes all). Needs umoci, skopeo, jq, GNU tar, gcc + libc.a.
set -euo pipefail
ADDR="${BERTH_REGISTRY:-127.0.0.1:5100}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
INDEX="${CRITEST_INDEX:-1}"
FORCE="${FORCE:-0}"
CREATED=2024-01-01T00:00:00Z
case "$(uname -m)" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH="$(uname -m)" ;; esac
K8S=registry.k8s.io/e2e-test-images
CRI=gcr.io/k8s-staging-cri-tools

# target list: "<layout tag> <repo:tag> ..." (one layout tag may go to several names,
# which then are the same image: test-image-tags:1/2/3, pause:3.9 on two registries).
TARGETS=(
  "busybox $K8S/busybox:1.29-2"
  "nginx $K8S/nginx:1.14-2"
  "httpd $K8S/httpd:2.4.39-4"
  "nonewprivs $K8S/nonewprivs:1.3"
  "pause registry.k8s.io/pause:3.9 k8s.gcr.io/pause:3.9"
  "test-image-1 $CRI/test-image-1:latest"
  "test-image-2 $CRI/test-image-2:latest"
  "test-image-3 $CRI/test-image-3:latest"
  "test-image-latest $CRI/test-image-latest:latest"
  "test-image-digest $CRI/test-image-digest:latest"
  "test-image-tag-test $CRI/test-image-tag:test"
  "test-image-tag-all $CRI/test-image-tag:all"
  "test-image-tags $CRI/test-image-tags:1 $CRI/test-image-tags:2 $CRI/test-image-tags:3"
  "user-uid $CRI/test-image-user-uid:latest"
  "user-username $CRI/test-image-user-username:latest"
  "user-uid-group $CRI/test-image-user-uid-group:latest"
  "user-username-group $CRI/test-image-user-username-group:latest"
  "predefined-group $CRI/test-image-predefined-group:latest"
  "hostnet-nginx $CRI/hostnet-nginx-$ARCH:latest"
)

exists() { # repo:tag -> 0 if the registry has it
  local repo="${1%:*}" tag="${1##*:}"
  curl -fsS -o /dev/null "http://$ADDR/v2/$repo/manifests/$tag" \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' 2>/dev/null
}

curl -fsS -o /dev/null "http://$ADDR/v2/" || { echo "no registry at $ADDR (bash scripts/registry.sh start)" >&2; exit 1; }
missing=0
if [ "$FORCE" != 1 ]; then
  for t in "${TARGETS[@]}"; do for n in ${t#* }; do exists "$n" || missing=$((missing + 1)); done; done
  if [ "$missing" = 0 ]; then echo "critest images: all present in $ADDR"; exit 0; fi
fi

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
L="$work/layout"
umoci init --layout "$L"

# A deterministic uncompressed layer tar of directory $1 into $2.
mktar() { tar -C "$1" --sort=name --mtime="@0" --owner=0 --group=0 --numeric-owner --format=gnu -cf "$2" .; }
# add-layer <from-tag> <to-tag> <dir> <created_by>
add_layer() {
  mktar "$3" "$work/layer.tar"
  umoci raw add-layer --image "$L:$1" --tag "$2" --history.created "$CREATED" --history.created_by "$4" "$work/layer.tar"
}
cfg() { local tag="$1"; shift; umoci config --image "$L:$tag" --no-history --created "$CREATED" "$@"; }

# --- static helpers (pause, nnp) ------------------------------------------------------
cat > "$work/pause.c" <<'C'
/* pause look-alike: sleeps until SIGINT/SIGTERM, reaps children. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
C
cat > "$work/nnp.c" <<'C'
/* nonewprivs' nnp: installed setuid root; prints the effective uid it runs with. */
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
C
gcc -static -Os -s -o "$work/pause" "$work/pause.c"
gcc -static -Os -s -o "$work/nnp" "$work/nnp.c"

# --- base: busybox rootfs, as upstream's busybox image --------------------------------
B="$work/base"
mkdir -p "$B/bin" "$B/etc" "$B/root" "$B/home" "$B/var/www" "$B/var/spool/mail" "$B/var/run" "$B/usr/sbin" "$B/tmp"
chmod 1777 "$B/tmp"; chmod 700 "$B/root"
# The shell and applets come from Debian's dynamic busybox (with the libc it links): its
# ash execs commands found in PATH, where busybox-static's runs its own applets first, so
# a masked /bin/ls gives upstream's "/bin/sh: ls: Permission denied" (MaskedPaths spec).
# Applets only busybox-static has are linked to it. All are hard links, as upstream's
# image has them: masking /bin/ls must not mask the binary a symlink would resolve to.
DEBS="${BERTH_CACHE:-/var/cache/berth}/debs"
mkdir -p "$DEBS"
if ! ls "$DEBS"/busybox_*.deb >/dev/null 2>&1; then
  (cd "$DEBS" && { apt-get download busybox >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox >/dev/null; }; })
fi
dpkg-deb -x "$(ls "$DEBS"/busybox_*.deb | head -1)" "$work/bbdyn"
install -m 0755 "$work/bbdyn/bin/busybox" "$B/bin/busybox"
install -m 0755 "$BUSYBOX" "$B/bin/busybox.static"
for lib in $(ldd "$B/bin/busybox" | grep -o '/[^ ]*'); do
  mkdir -p "$B$(dirname "$lib")"; cp -L "$lib" "$B$lib"
done
for a in $("$B/bin/busybox" --list); do [ "$a" = busybox ] || ln -f "$B/bin/busybox" "$B/bin/$a"; done
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || [ -e "$B/bin/$a" ] || ln -f "$B/bin/busybox.static" "$B/bin/$a"; done
cat > "$B/etc/passwd" <<'E'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
E
cat > "$B/etc/group" <<'E'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
E
# Debian's busybox-static has no pgrep and no ipcs; critest runs both (`sh -c "pgrep sleep
# || true"` with empty stderr expected; `ipcs -m` listing a host segment under hostIPC).
rm -f "$B/bin/pgrep" "$B/bin/ipcs" # never write through a hard link to busybox
cat > "$B/bin/pgrep" <<'E'
#!/bin/sh
# pgrep look-alike (Debian's busybox-static lacks the applet): pgrep [-f] PATTERN
full=; [ "$1" = -f ] && { full=1; shift; }
pat="$1"; rc=1
for d in /proc/[0-9]*; do
  pid="${d#/proc/}"
  [ "$pid" = "$$" ] && continue
  read -r _ _ _ ppid _ < "$d/stat" 2>/dev/null || continue
  [ "$ppid" = "$$" ] && continue
  if [ -n "$full" ]; then s="$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)"; else s="$(cat "$d/comm" 2>/dev/null)"; fi
  [ -n "$s" ] || continue
  if printf '%s\n' "$s" | grep -qE -- "$pat"; then echo "$pid"; rc=0; fi
done
exit $rc
E
cat > "$B/bin/ipcs" <<'E'
#!/bin/sh
# ipcs look-alike (Debian's busybox-static lacks the applet): shared memory only.
echo
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
awk 'NR > 1 { printf "0x%08x %-10s %-10s %-10o %-10s %-10s\n", $1, $2, $8, $3, $4, $7 }' /proc/sysvipc/shm 2>/dev/null
echo
E
chmod 0755 "$B/bin/pgrep" "$B/bin/ipcs"
umoci new --image "$L:empty"
cfg empty --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir /
add_layer empty busybox "$B" "busybox $("$B/bin/busybox" 2>/dev/null | head -1 | awk '{print $2}') rootfs (Debian)"
cfg busybox --config.cmd sh

one_file() { # <tag> <path in image>: busybox + one empty file (upstream's image-test, ADD $TEST)
  rm -rf "$work/d"; mkdir -p "$work/d"; : > "$work/d/$2"
  add_layer busybox "$1" "$work/d" "ADD $2 /$2"
}
one_file test-image-1 test-image-1
one_file test-image-2 test-image-2
one_file test-image-3 test-image-3
one_file test-image-latest test-image-latest
one_file test-image-digest test-image-digest
one_file test-image-tag-test test
one_file test-image-tag-all all
one_file test-image-tags same-image

for u in "user-uid 1002" "user-username www-data" "user-uid-group 1003:1004" "user-username-group www-data:1004"; do
  umoci tag --image "$L:busybox" "${u% *}"; cfg "${u% *}" --config.user "${u#* }"
done

# image-predefined-group: adduser -u 1000 -D default-user; addgroup -g 50000
# group-defined-in-image; addgroup default-user group-defined-in-image; USER 1000
rm -rf "$work/d"; mkdir -p "$work/d/etc" "$work/d/home/default-user"
cp "$B/etc/passwd" "$B/etc/group" "$work/d/etc/"
echo 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >> "$work/d/etc/passwd"
printf 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' >> "$work/d/etc/group"
chown 1000:1000 "$work/d/home/default-user"
# (not mktar: keep 1000:1000 on the home directory)
tar -C "$work/d" --sort=name --mtime="@0" --numeric-owner --format=gnu -cf "$work/layer.tar" .
umoci raw add-layer --image "$L:busybox" --tag predefined-group --history.created "$CREATED" --history.created_by "adduser default-user" "$work/layer.tar"
cfg predefined-group --config.user 1000

# nginx look-alikes: busybox httpd serving /usr/share/nginx/html, started the way critest
# can tell it is nginx: a process named "nginx" (pidof nginx), its pid in
# /var/run/nginx.pid, and "master process" in PID 1's cmdline (ContainerPID spec). PID 1 is
# the shell (its $0 carries the nginx title), so SIGTERM stops the container at once.
nginx_like() { # <tag> <port>
  rm -rf "$work/d"; mkdir -p "$work/d/usr/sbin" "$work/d/usr/share/nginx/html" "$work/d/etc/nginx"
  ln -s /bin/busybox "$work/d/usr/sbin/nginx"
  echo '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>' > "$work/d/usr/share/nginx/html/index.html"
  add_layer busybox "$1" "$work/d" "nginx look-alike (busybox httpd on :$2)"
  cfg "$1" --clear=config.cmd --config.exposedports "$2/tcp" --config.stopsignal SIGTERM \
    --config.cmd /bin/sh --config.cmd -c \
    --config.cmd "trap 'kill \$pid 2>/dev/null; exit 0' TERM INT; (exec -a 'nginx: master process nginx -g daemon off;/httpd' /usr/sbin/nginx -f -p $2 -h /usr/share/nginx/html) & pid=\$!; echo \$pid > /var/run/nginx.pid; wait \$pid" \
    --config.cmd "nginx: master process nginx -g daemon off;"
}
nginx_like nginx 80

# httpd look-alike (Multiple Containers specs): busybox httpd on :80 serving "It works!";
# like Apache it says "httpd" on stderr when it starts (the log spec looks for it).
rm -rf "$work/d"; mkdir -p "$work/d/usr/local/apache2/htdocs"
echo '<html><body><h1>It works!</h1></body></html>' > "$work/d/usr/local/apache2/htdocs/index.html"
add_layer busybox httpd "$work/d" "httpd look-alike (busybox httpd on :80)"
cfg httpd --clear=config.cmd --config.exposedports 80/tcp --config.stopsignal SIGTERM --config.workingdir /usr/local/apache2 \
  --config.cmd /bin/sh --config.cmd -c \
  --config.cmd "trap 'kill \$pid 2>/dev/null; exit 0' TERM INT; echo 'httpd (busybox look-alike): serving /usr/local/apache2/htdocs on :80' >&2; httpd -f -p 80 -h /usr/local/apache2/htdocs & pid=\$!; wait \$pid"
nginx_like hostnet-nginx 12003

rm -rf "$work/d"; mkdir -p "$work/d/usr/local/bin"
install -m 4755 "$work/nnp" "$work/d/usr/local/bin/nnp"
add_layer busybox nonewprivs "$work/d" "nnp (setuid root)"
cfg nonewprivs --clear=config.cmd --config.cmd /usr/local/bin/nnp

rm -rf "$work/d"; mkdir -p "$work/d"; install -m 0755 "$work/pause" "$work/d/pause"
umoci new --image "$L:pause-empty"
add_layer pause-empty pause "$work/d" "pause look-alike"
cfg pause --config.entrypoint /pause --config.user 65535:65535

# Wrap <tag> into a one-entry image index tagged <tag>.index in the layout.
wrap_index() {
  local desc blob dig
  desc="$(jq -c --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | {mediaType, digest, size}' "$L/index.json")"
  blob="$(jq -cn --argjson d "$desc" --arg a "$ARCH" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$d + {platform: {architecture: $a, os: "linux"}}]}')"
  printf '%s' "$blob" > "$work/idx"
  dig="$(sha256sum "$work/idx" | cut -d' ' -f1)"
  mv "$work/idx" "$L/blobs/sha256/$dig"
  jq --arg t "$1.index" --arg d "sha256:$dig" --argjson s "$(stat -c %s "$L/blobs/sha256/$dig")" \
    '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]' \
    "$L/index.json" > "$work/index.json" && mv "$work/index.json" "$L/index.json"
}

pushed=0 skipped=0
for t in "${TARGETS[@]}"; do
  tag="${t%% *}" src="$tag" all=()
  if [ "$INDEX" = 1 ]; then wrap_index "$tag"; src="$tag.index"; all=(--all); fi
  for n in ${t#* }; do
    if [ "$FORCE" != 1 ] && exists "$n"; then skipped=$((skipped + 1)); continue; fi
    skopeo copy --quiet "${all[@]}" --dest-tls-verify=false "oci:$L:$src" "docker://$ADDR/$n"
    pushed=$((pushed + 1))
  done
done
echo "critest images: pushed $pushed, already present $skipped, in $ADDR ($([ "$INDEX" = 1 ] && echo "image indexes, linux/$ARCH" || echo "OCI manifests"))"
