# Shared by scripts/build-critest-images.sh and scripts/build-node-e2e-images.sh (sourced,
# not run): look-alikes of upstream's test images, built from Debian's busybox (plus tiny
# static C programs), deterministic (fixed timestamps, sorted tars), pushed with skopeo
# (a real client) to the local registry under "<upstream host>/<path>" repositories.
# The caller sets TARGETS ("<layout tag> <repo:tag>...") before using images_*; the
# settings below come from the environment (BERTH_REGISTRY, BUSYBOX, CRITEST_INDEX=0 for
# plain OCI manifests, FORCE=1 to push present tags again; a changed recipe does that
# by itself, see STAMP).

ADDR="${BERTH_REGISTRY:-127.0.0.1:5100}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
INDEX="${CRITEST_INDEX:-1}"
FORCE="${FORCE:-0}"
CREATED=2024-01-01T00:00:00Z
case "$(uname -m)" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH="$(uname -m)" ;; esac

# The build's stamp: a tag named after the building script and a hash of it and this file,
# pushed last. Without it (the recipe changed since the registry was filled, or a build
# stopped half-way) every image is built and pushed again, present tags too.
STAMP="berth/look-alikes/$(basename "$0" .sh):$(cat "$0" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"

exists() { # repo:tag -> 0 if the registry has it
  local repo="${1%:*}" tag="${1##*:}"
  curl -fsS -o /dev/null "http://$ADDR/v2/$repo/manifests/$tag" \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' 2>/dev/null
}

# fetch_deb <package>: the path of its .deb for this machine, downloaded once into
# ${BERTH_CACHE}/debs (Debian's archive is reachable; the package need not be installed).
fetch_deb() {
  local debs="${BERTH_CACHE:-/var/cache/berth}/debs"
  mkdir -p "$debs"
  if ! ls "$debs/$1"_*.deb >/dev/null 2>&1; then
    (cd "$debs" && { apt-get download "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$1" >/dev/null; }; })
  fi
  ls "$debs/$1"_*.deb | head -1
}

# 0 when every name in TARGETS is in the registry already (and FORCE is not 1).
images_all_present() {
  [ "$FORCE" != 1 ] || return 1
  exists "$STAMP" || return 1
  local t n
  for t in "${TARGETS[@]}"; do for n in ${t#* }; do exists "$n" || return 1; done; done
}

# A work dir with an empty OCI layout $L (removed on exit).
images_init() {
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  L="$work/layout"
  umoci init --layout "$L"
}

# A deterministic uncompressed layer tar of directory $1 into $2.
mktar() { tar -C "$1" --sort=name --mtime="@0" --owner=0 --group=0 --numeric-owner --format=gnu -cf "$2" .; }
# add-layer <from-tag> <to-tag> <dir> <created_by>
add_layer() {
  mktar "$3" "$work/layer.tar"
  umoci raw add-layer --image "$L:$1" --tag "$2" --history.created "$CREATED" --history.created_by "$4" "$work/layer.tar"
}
cfg() { local tag="$1"; shift; umoci config --image "$L:$tag" --no-history --created "$CREATED" "$@"; }

# Two static helpers in $work: pause (sleeps until SIGINT/SIGTERM, reaps children) and
# nnp (nonewprivs' setuid program).
images_static_helpers() {
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

}

# The busybox base rootfs in $B, tagged "busybox" in the layout.
images_busybox_base() {
B="$work/base"
mkdir -p "$B/bin" "$B/etc" "$B/root" "$B/home" "$B/var/www" "$B/var/spool/mail" "$B/var/run" "$B/usr/sbin" "$B/tmp"
chmod 1777 "$B/tmp"; chmod 700 "$B/root"
# The shell and applets come from Debian's dynamic busybox (with the libc it links): its
# ash execs commands found in PATH, where busybox-static's runs its own applets first, so
# a masked /bin/ls gives upstream's "/bin/sh: ls: Permission denied" (MaskedPaths spec).
# Applets only busybox-static has are linked to it. All are hard links, as upstream's
# image has them: masking /bin/ls must not mask the binary a symlink would resolve to.
dpkg-deb -x "$(fetch_deb busybox)" "$work/bbdyn"
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

}

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

# images_push <label>: pushes every TARGETS entry (as a one-entry image index unless
# INDEX=0); names present in the registry already are skipped unless FORCE=1.
images_push() {
  local t tag src n all pushed=0 skipped=0 force="$FORCE"
  exists "$STAMP" || force=1
  for t in "${TARGETS[@]}"; do
    tag="${t%% *}" src="$tag" all=()
    if [ "$INDEX" = 1 ]; then wrap_index "$tag"; src="$tag.index"; all=(--all); fi
    for n in ${t#* }; do
      if [ "$force" != 1 ] && exists "$n"; then skipped=$((skipped + 1)); continue; fi
      skopeo copy --quiet "${all[@]}" --dest-tls-verify=false "oci:$L:$src" "docker://$ADDR/$n"
      pushed=$((pushed + 1))
    done
  done
  skopeo copy --quiet "${all[@]}" --dest-tls-verify=false "oci:$L:$src" "docker://$ADDR/$STAMP"
  echo "$1 images: pushed $pushed, already present $skipped, in $ADDR ($([ "$INDEX" = 1 ] && echo "image indexes, linux/$ARCH" || echo "OCI manifests"))"
}
