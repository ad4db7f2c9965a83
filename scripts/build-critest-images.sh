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
. "$(dirname "$0")/lib/look-alike-images.sh"
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

curl -fsS -o /dev/null "http://$ADDR/v2/" || { echo "no registry at $ADDR (bash scripts/registry.sh start)" >&2; exit 1; }
if images_all_present; then echo "critest images: all present in $ADDR"; exit 0; fi

images_init
images_static_helpers
images_busybox_base

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

images_push critest
