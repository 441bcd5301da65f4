#!/usr/bin/env bash
# Push and pull of the 200 MB, two-layer image (`FROM busybox` + `COPY data /data` on the
# context of ../shared/bench/make-context.sh), side by side with skopeo and podman, against
# a docker-registry of this script's own on a free loopback port (plain HTTP, storage in
# $WORK/registry-rbox-bench, killed by its pid at the end). hyperfine, medians.
#
#   bench/registry.sh          # needs ../shared/bench/setup-peers.sh to have run (podman,
#                              # buildah, skopeo, localhost:5000/busybox in podman's store)
#
# Cases (every run starts after `sync`; each push with the registry emptied, each pull with
# the image and its layers gone from the puller's store):
#   push  rbox push (plain layers in the store: gzipped on the way, nothing remembered)
#         skopeo copy containers-storage: → docker://, podman push (both gzip on 2 cores)
#         rbox push again (the registry has the blobs; the gzipped digests are remembered)
#   pull  rbox pull into an empty root (download, verify, unpack), podman pull,
#         skopeo copy docker:// → oci: (download only)
#   unpack  rbox unpacking the pulled layers (snapshots removed, blobs kept) against
#         `tar -xzf` of the same gzipped layer and `tar -xf` of the plain one
#   memory  rbox's peak RSS (/usr/bin/time -v) pulling a 1 GiB layer, against pulling busybox
# Env: RUNS (5), WORK (/var/lib/bench-work), CTX ($WORK/ctx-big), BENCH_ROOT, OUT, BIG_MB (1024).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
WORK=${WORK:-/var/lib/bench-work}
CTX=${CTX:-$WORK/ctx-big}
OUT=${OUT:-$PWD/target/bench/registry-$(date -u +%Y%m%dT%H%M%SZ)}
BIG_MB=${BIG_MB:-1024}
SHARED=$PWD/../shared/bench
mkdir -p "$OUT" "$WORK"

cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench-registry}
PULL_ROOT=$WORK/rbox-pull-root
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2

# ---- the image, for rbox and for the peers (same context, same two layers) -------------
if [ ! -f "$CTX/MANIFEST.sha256" ]; then
    "$SHARED/make-context.sh" "$CTX" >/dev/null
fi
[ -f "$CTX/.dockerignore" ] || printf 'MANIFEST.sha256\n' >"$CTX/.dockerignore"
printf 'FROM busybox\nCOPY data /data\nCMD ["/bin/sh"]\n' >"$OUT/Dockerfile.rbox"
printf 'FROM localhost:5000/busybox:latest\nCOPY data /data\nCMD ["/bin/sh"]\n' >"$OUT/Dockerfile.peers"
"$RBOX" build -q -t bench/big:rbox -f "$OUT/Dockerfile.rbox" "$CTX" >/dev/null

# crun 1.8 refuses a hybrid cgroup host unless the cgroup2 mount is out of its sight
# (buildah builds with it).
NS=()
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] &&
    [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    NS=(unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
fi
PEER_IMAGE=localhost/bench/big:buildah
build_peer_image() {
    podman image exists "$PEER_IMAGE" ||
        "${NS[@]}" buildah bud --layers -q -f "$OUT/Dockerfile.peers" -t "$PEER_IMAGE" "$CTX" >/dev/null
}
build_peer_image

# ---- a registry of our own on a free loopback port ----------------------------------------
STORAGE=$WORK/registry-rbox-bench
rm -rf "$STORAGE"
mkdir -p "$STORAGE"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$STORAGE REGISTRY_HTTP_ADDR=$REG \
    docker-registry serve "$SHARED/registry-config.yml" >"$OUT/registry.log" 2>&1 &
REG_PID=$!
BIG_ROOT=$WORK/rbox-bench-1g
cleanup() {
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    rm -rf "$STORAGE" "$PULL_ROOT" "$WORK/pull-oci" "$WORK/tar-x" "$BIG_ROOT" "$WORK/ctx-1g"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
V2=$STORAGE/docker/registry/v2
DROP="rm -rf $V2/repositories $V2/blobs"

hf() { # name prepare command
    hyperfine --style basic --runs "$RUNS" --prepare "sync; $2" \
        --export-json "$OUT/$1.json" "$3" >"$OUT/$1.log" 2>&1 ||
        { echo "$1 failed: $(tail -3 "$OUT/$1.log")" >&2; return 0; }
    jq -r --arg n "$1" '.results[0] | "| \($n) | \(.median*100|round/100) s | \(.min*100|round/100) | \(.max*100|round/100) |"' "$OUT/$1.json"
}

echo "| case | median | min | max |"
echo "|---|---|---|---|"
# ---- push ---------------------------------------------------------------------------------
hf push-rbox "$DROP; rm -rf $RBOX_ROOT/compressed-layers" \
    "$RBOX push -q bench/big:rbox $REG/bench/big-rbox:latest"
hf push-skopeo "$DROP" \
    "skopeo copy -q --dest-tls-verify=false containers-storage:$PEER_IMAGE docker://$REG/bench/big-skopeo:latest"
hf push-podman "$DROP" \
    "podman push -q --tls-verify=false $PEER_IMAGE docker://$REG/bench/big-podman:latest"
# What the pulls below fetch (unmeasured), then rbox's second push of the same image.
$DROP
"$RBOX" push -q bench/big:rbox "$REG/bench/big-rbox:latest" >/dev/null
skopeo copy -q --dest-tls-verify=false "containers-storage:$PEER_IMAGE" "docker://$REG/bench/big-skopeo:latest"
podman push -q --tls-verify=false "$PEER_IMAGE" "docker://$REG/bench/big-podman:latest"
hf push-rbox-again "true" "$RBOX push -q bench/big:rbox $REG/bench/big-rbox:latest"

# ---- pull ---------------------------------------------------------------------------------
hf pull-rbox "rm -rf $PULL_ROOT" \
    "RBOX_ROOT=$PULL_ROOT $RBOX pull -q $REG/bench/big-rbox:latest"
hf pull-skopeo-oci "rm -rf $WORK/pull-oci" \
    "skopeo copy -q --src-tls-verify=false docker://$REG/bench/big-skopeo:latest oci:$WORK/pull-oci:latest"
hf pull-podman "podman rmi -f $PEER_IMAGE $REG/bench/big-podman:latest >/dev/null 2>&1; true" \
    "podman pull -q --tls-verify=false $REG/bench/big-podman:latest"
podman rmi -f "$REG/bench/big-podman:latest" >/dev/null 2>&1 || true
build_peer_image # for the next run's pushes

# ---- unpack alone: the same gzipped layer -------------------------------------------------
GZ=$(RBOX_ROOT=$PULL_ROOT "$RBOX" image inspect "$REG/bench/big-rbox:latest" | jq -r '.[0].Manifest.Layers[1]')
GZ=$PULL_ROOT/images/blobs/sha256/${GZ#sha256:}
PLAIN=$("$RBOX" image inspect bench/big:rbox | jq -r '.[0].Manifest.Layers[1]')
PLAIN=$RBOX_ROOT/images/blobs/sha256/${PLAIN#sha256:}
hf unpack-rbox "rm -rf $PULL_ROOT/snapshots/*" \
    "RBOX_ROOT=$PULL_ROOT $RBOX pull -q $REG/bench/big-rbox:latest"
hf unpack-tar-xzf "rm -rf $WORK/tar-x; mkdir $WORK/tar-x" "tar -xzf $GZ -C $WORK/tar-x"
hf unpack-tar-xf-plain "rm -rf $WORK/tar-x; mkdir $WORK/tar-x" "tar -xf $PLAIN -C $WORK/tar-x"

echo
echo "| blob | bytes |"
echo "|---|---|"
echo "| 200 MB layer in rbox's store (plain tar) | $(stat -c %s "$PLAIN") |"
echo "| same layer as rbox pushed it (gzip) | $(stat -c %s "$GZ") |"
for r in big-skopeo big-podman; do
    echo "| same layer as $r pushed it | $(skopeo inspect --tls-verify=false --raw "docker://$REG/bench/$r:latest" | jq '.layers[1].size') |"
done

# ---- memory: a 1 GiB layer ----------------------------------------------------------------
mkdir -p "$WORK/ctx-1g"
head -c "$((BIG_MB << 20))" /dev/urandom >"$WORK/ctx-1g/big"
printf 'FROM busybox\nCOPY big /big\n' >"$WORK/ctx-1g/Dockerfile"
RBOX=$RBOX RBOX_ROOT=$BIG_ROOT rootfs-fixtures/busybox.sh busybox:latest >/dev/null
RBOX_ROOT=$BIG_ROOT "$RBOX" build -q -t "$REG/bench/big-1g:latest" "$WORK/ctx-1g" >/dev/null
RBOX_ROOT=$BIG_ROOT "$RBOX" push -q "$REG/bench/big-1g:latest" >/dev/null
RBOX_ROOT=$BIG_ROOT "$RBOX" tag busybox "$REG/bench/busybox:latest"
RBOX_ROOT=$BIG_ROOT "$RBOX" push -q "$REG/bench/busybox:latest" >/dev/null
rm -rf "$BIG_ROOT" "$WORK/ctx-1g"
rss() { # image → peak RSS in kB of rbox pulling it into an empty root
    rm -rf "$PULL_ROOT"
    RBOX_ROOT=$PULL_ROOT /usr/bin/time -v "$RBOX" pull -q "$REG/bench/$1" 2>&1 >/dev/null |
        awk '/Maximum resident set size/ {print $6}'
}
echo
echo "| rbox pull | peak RSS |"
echo "|---|---|"
echo "| busybox (1 layer, 1 MB) | $(rss busybox:latest) kB |"
echo "| a ${BIG_MB} MiB random layer | $(rss big-1g:latest) kB |"
echo
echo "raw results: $OUT"
