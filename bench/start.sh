#!/usr/bin/env bash
# Container start latency and monitor memory, side by side with the peers.
#
#   bench/start.sh            # needs ../shared/bench/setup-peers.sh to have run (crun, podman,
#                             # the busybox bundle); hyperfine from Debian
#
# Cases (medians of RUNS runs after 3 warm-ups, whole processes, start to exit):
#   rbox run --rm --network none busybox true     (image in the store → exited)
#   crun run --bundle <busybox bundle>             (a prepared bundle: no image, no monitor)
#   podman run --rm --network none busybox true
# and the resident memory (RSS, PSS) of rbox's monitor of a detached container.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
OUT=${OUT:-target/bench/start-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

[ -n "${NO_BUILD:-}" ] || cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench}
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2

BUNDLE=${BUNDLE:-/var/lib/bench-images/bundle-true}
PODMAN_IMAGE=${PODMAN_IMAGE:-localhost:5000/busybox:latest}

# crun 1.8 refuses a hybrid cgroup host unless the cgroup2 mount is out of its sight.
NS=()
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] &&
    [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    NS=(unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
fi

hf() { # name command [namespaced]
    local name=$1 cmd=$2 pre=()
    [ "${3:-}" = ns ] && pre=("${NS[@]}")
    "${pre[@]}" hyperfine -N --style basic --runs "$RUNS" --warmup 3 \
        --export-json "$OUT/$name.json" "$cmd" >"$OUT/$name.log" 2>&1 ||
        echo "$name failed: $(tail -3 "$OUT/$name.log")" >&2
    [ -f "$OUT/$name.json" ] &&
        jq -r --arg n "$name" '.results[0] | "| \($n) | \(.median*1000|.*10|round/10) ms | \(.min*1000|.*10|round/10) | \(.max*1000|.*10|round/10) |"' "$OUT/$name.json"
}

echo "| case | median | min | max |"
echo "|---|---|---|---|"
hf rbox-run-netnone "$RBOX run --rm --network none busybox true"
[ -d "$BUNDLE" ] && hf crun-bundle "crun run --bundle $BUNDLE bench-crun-true" ns
command -v podman >/dev/null &&
    hf podman-run-netnone "podman run --rm --network none $PODMAN_IMAGE true" ns

# Memory of the monitor of detached containers (average of 5), without a health check and
# with a check every second (the probe comes and goes; the monitor gives back what a round
# paged in).
monitor_memory() { # label run-options…
    local label=$1
    shift
    local ids=() rss=0 pss=0
    for i in 1 2 3 4 5; do ids+=("$("$RBOX" run -d --network none "$@" busybox sleep 600)"); done
    sleep 6 # the monitors give back startup memory after 2 s of quiet
    for id in "${ids[@]}"; do
        pid=$("$RBOX" inspect "$id" | jq -r '.[0].State.MonitorPid')
        rss=$((rss + $(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")))
        pss=$((pss + $(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup")))
    done
    echo "| monitor per detached container, $label | RSS $((rss / 5)) kB | PSS $((pss / 5)) kB |"
    "$RBOX" rm -f "${ids[@]}" >/dev/null
}
echo
monitor_memory "no health check"
monitor_memory "a 1 s health check" --health-cmd true --health-interval 1s --health-start-interval 1s
