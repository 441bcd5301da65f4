#!/usr/bin/env bash
# rbox as the OCI runtime (rbox-runc), side by side with runc and crun, in one run.
#
#   bench/oci.sh        # as root; runc, crun, containerd and hyperfine from Debian (make deps)
#
# Cases (hyperfine, RUNS runs after 5 warm-ups, medians):
#   create → start → delete -f of a busybox bundle running `true` (as youki's README measures
#   it): rbox-runc, runc, crun (crun inside a private mount namespace where the hybrid
#   cgroup2 mount is out of its sight, as ../shared/bench/bench-peers.sh runs it);
#   `ctr run --rm IMAGE ID true` on a private containerd, with rbox-runc and with runc.
# rbox-runc keeps no process while a container runs: the shim is the container's parent.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
OUT=${OUT:-target/bench/oci-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# NO_BUILD=1 uses target/release/rbox as it is.
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --bin rbox >&2
BIN=$(mktemp -d /run/rbox-oci-bench-bin.XXXXXX)
WORK=$(mktemp -d /run/rbox-oci-bench.XXXXXX)
CTD_PID=""
cleanup() {
    if [ -n "$CTD_PID" ]; then
        ctr -a "$WORK/ctd/c.sock" -n bench image rm docker.io/library/busybox:latest >/dev/null 2>&1 || true
        kill "$CTD_PID" 2>/dev/null || true
        wait "$CTD_PID" 2>/dev/null || true
    fi
    for d in /sys/fs/cgroup/*/bench; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    rm -rf "$WORK" "$BIN"
}
trap cleanup EXIT
ln -s "$PWD/target/release/rbox" "$BIN/rbox-runc"
RUNC_RBOX=$BIN/rbox-runc

# The busybox rootfs (Debian's busybox-static, as rootfs-fixtures/busybox.sh makes it),
# as an image in a scratch rbox root, and unpacked as a bundle running `true`.
export RBOX_ROOT=$WORK/rbox
RBOX=$PWD/target/release/rbox rootfs-fixtures/busybox.sh busybox:latest >&2
target/release/rbox save -o "$WORK/busybox.tar" busybox:latest
B=$WORK/bundle
mkdir -p "$B/rootfs"
(cd "$B" && "$RUNC_RBOX" spec)
# One layer: unpack it from the archive's blobs (a docker archive's manifest.json names it).
layer=$(tar -xOf "$WORK/busybox.tar" manifest.json | jq -r '.[0].Layers[0]')
tar -xOf "$WORK/busybox.tar" "$layer" >"$WORK/layer"
tar -xf "$WORK/layer" -C "$B/rootfs"
jq '.process.terminal = false | .process.args = ["true"]' "$B/config.json" >"$B/c.json"
mv "$B/c.json" "$B/config.json"

NS=()
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] &&
    [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    NS=(unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
fi

hf() { # name command [ns]
    local name=$1 cmd=$2 pre=()
    [ "${3:-}" = ns ] && pre=("${NS[@]}")
    "${pre[@]}" hyperfine -N --style basic --runs "$RUNS" --warmup 5 \
        --export-json "$OUT/$name.json" "$cmd" >"$OUT/$name.log" 2>&1 ||
        echo "$name failed: $(tail -3 "$OUT/$name.log")" >&2
    [ -f "$OUT/$name.json" ] &&
        jq -r --arg n "$name" '.results[0] | "| \($n) | \(.median*1000|.*10|round/10) ms | \(.min*1000|.*10|round/10) | \(.max*1000|.*10|round/10) |"' "$OUT/$name.json"
}

lifecycle() { # runtime root
    echo "sh -c '$1 --root $2 create --bundle $B bench && $1 --root $2 start bench && $1 --root $2 delete -f bench'"
}

echo "| case | median | min | max |"
echo "|---|---|---|---|"
hf rbox-runc-create-start-delete "$(lifecycle "$RUNC_RBOX" "$WORK/root-rbox")"
hf runc-create-start-delete "$(lifecycle runc "$WORK/root-runc")"
hf crun-create-start-delete "$(lifecycle crun "$WORK/root-crun")" ns

# A private containerd: its own root, state and sockets; CRI off.
mkdir -p "$WORK/ctd"
cat >"$WORK/ctd/config.toml" <<EOF
version = 2
root = "$WORK/ctd/root"
state = "$WORK/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/ctd/c.sock"
[ttrpc]
  address = "$WORK/ctd/c.sock.ttrpc"
[debug]
  address = "$WORK/ctd/debug.sock"
EOF
containerd --config "$WORK/ctd/config.toml" >"$WORK/ctd/log" 2>&1 &
CTD_PID=$!
CTR="ctr -a $WORK/ctd/c.sock -n bench"
for _ in $(seq 50); do $CTR version >/dev/null 2>&1 && break; sleep 0.2; done
$CTR image import --base-name docker.io/library/busybox "$WORK/busybox.tar" >/dev/null
IMG=docker.io/library/busybox:latest
hf ctr-run-rm-rbox-runc "$CTR run --rm --runc-binary $RUNC_RBOX --runc-root $WORK/ctd/runc-rbox $IMG bench-rbox true"
hf ctr-run-rm-runc "$CTR run --rm --runc-binary runc --runc-root $WORK/ctd/runc-runc $IMG bench-runc true"
echo
echo "raw results: $OUT"
