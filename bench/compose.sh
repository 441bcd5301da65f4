#!/usr/bin/env bash
# Compose: `up -d` and `down` of a 10-service busybox project on one user network, and a
# 50-service `up -d` (and its `down`), for rbox compose and, side by side when installed
# (../shared/bench/setup-peers.sh), docker-compose and podman-compose.
#
#   bench/compose.sh   # RUNS=3 by default (podman-compose: PEER_RUNS=1); PEERS=0: rbox alone
#
# The services run `sleep 3600`, which ignores SIGTERM as PID 1: every `down` waits for one
# stop timeout (10 s) at least — once when the containers are stopped together, once per
# container when one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
OUT=${OUT:-target/bench/compose-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench}
export RBOX_BRIDGE=${RBOX_BRIDGE:-rboxbench0} RBOX_BRIDGE_SUBNET=${RBOX_BRIDGE_SUBNET:-10.254.0.0/24}
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2
# The peers' image: the busybox the peers' setup pushed to its local registry.
PEER_IMAGE=${PEER_IMAGE:-localhost:5000/busybox:latest}

project() { # dir services image subnet
    mkdir -p "$1"
    {
        echo "services:"
        for i in $(seq 1 "$2"); do
            printf '  s%02d:\n    image: %s\n    command: ["sleep", "3600"]\n    networks: [net]\n' "$i" "$3"
        done
        printf 'networks:\n  net:\n    ipam:\n      config:\n        - subnet: %s\n' "$4"
    } >"$1/compose.yaml"
}

. bench/updown.sh

echo "## compose: up -d and down (medians of $RUNS; all runs: up / down)"
echo "| tool | up -d | down | runs |"
echo "|---|---|---|---|"
project "$OUT/p10" 10 busybox:latest 10.254.10.0/24
project "$OUT/p50" 50 busybox:latest 10.254.50.0/24
measure "rbox compose, 10 services" \
    "$RBOX compose -f $OUT/p10/compose.yaml -p bench10 up -d" \
    "$RBOX compose -f $OUT/p10/compose.yaml -p bench10 down"
measure "rbox compose, 50 services" \
    "$RBOX compose -f $OUT/p50/compose.yaml -p bench50 up -d" \
    "$RBOX compose -f $OUT/p50/compose.yaml -p bench50 down"

if [ "$PEERS" = 1 ]; then
    project "$OUT/d10" 10 "$PEER_IMAGE" 10.254.11.0/24
    project "$OUT/d50" 50 "$PEER_IMAGE" 10.254.51.0/24
    if command -v docker-compose >/dev/null && docker image inspect "$PEER_IMAGE" >/dev/null 2>&1; then
        v=$(docker-compose version --short 2>/dev/null || true)
        measure "docker-compose $v, 10 services" \
            "docker-compose -f $OUT/d10/compose.yaml -p dbench10 up -d" \
            "docker-compose -f $OUT/d10/compose.yaml -p dbench10 down"
        measure "docker-compose $v, 50 services" \
            "docker-compose -f $OUT/d50/compose.yaml -p dbench50 up -d" \
            "docker-compose -f $OUT/d50/compose.yaml -p dbench50 down"
    fi
    if command -v podman-compose >/dev/null && podman image exists "$PEER_IMAGE" 2>/dev/null; then
        v=$(podman-compose version 2>/dev/null | awk '/podman-compose/ {print $NF; exit}')
        pc="podman-compose --podman-args=--runtime=/usr/bin/runc"
        RUNS=${PEER_RUNS:-1} measure "podman-compose $v, 10 services" \
            "$pc -f $OUT/d10/compose.yaml -p pbench10 up -d" \
            "$pc -f $OUT/d10/compose.yaml -p pbench10 down"
    fi
fi
