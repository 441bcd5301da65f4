#!/usr/bin/env bash
# Bridge networking: what it adds to container start, throughput through a published port
# against the container's own address, and what a published port costs in processes.
#
#   bench/network.sh          # hyperfine and nsenter from Debian; python3
#
# Runs on a bridge and subnet of its own (RBOX_BRIDGE, RBOX_BRIDGE_SUBNET below), and sends
# traffic only over loopback and that bridge.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
MIB=${MIB:-2048}
OUT=${OUT:-target/bench/network-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench}
export RBOX_BRIDGE=${RBOX_BRIDGE:-rboxbench0} RBOX_BRIDGE_SUBNET=${RBOX_BRIDGE_SUBNET:-10.254.0.0/24}
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2

hf() { # name command
    hyperfine -N --style basic --runs "$RUNS" --warmup 3 \
        --export-json "$OUT/$1.json" "$2" >"$OUT/$1.log" 2>&1
    jq -r --arg n "$1" '.results[0] | "| \($n) | \(.median*1000|.*10|round/10) ms | \(.min*1000|.*10|round/10) | \(.max*1000|.*10|round/10) |"' "$OUT/$1.json"
}

echo "## start: bridge against none (run --rm busybox true)"
echo "| case | median | min | max |"
echo "|---|---|---|---|"
hf rbox-run-netnone "$RBOX run --rm --network none busybox true"
hf rbox-run-bridge "$RBOX run --rm busybox true"
hf rbox-run-bridge-port "$RBOX run --rm -p 127.0.0.1::8080 busybox true"

echo
echo "## TCP throughput, $MIB MiB per run (Gbit/s; 3 runs each)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
id=$("$RBOX" run -d -p "127.0.0.1:$port:5001" busybox sleep 3600)
ip=$("$RBOX" inspect "$id" | jq -r '.[0].NetworkSettings.IPAddress')
# The sink runs in the container's network namespace (busybox has no fast TCP sink).
nsenter --net="/run/netns/rbox-${id:0:16}" python3 bench/tcp-throughput.py sink 5001 &
sink=$!
trap 'kill $sink 2>/dev/null; "$RBOX" rm -f "$id" >/dev/null' EXIT
sleep 0.5
direct=() published=()
for i in 1 2 3; do
    direct+=("$(python3 bench/tcp-throughput.py send "$ip" 5001 "$MIB")")
    published+=("$(python3 bench/tcp-throughput.py send 127.0.0.1 "$port" "$MIB")")
done
echo "| path | runs | median |"
echo "|---|---|---|"
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
echo "| container's own address ($ip:5001) | ${direct[*]} | $(med "${direct[@]}") |"
echo "| published port (127.0.0.1:$port) | ${published[*]} | $(med "${published[@]}") |"
echo "ratio published/direct: $(python3 -c "print(f'{$(med "${published[@]}")/$(med "${direct[@]}"):.2f}')")"

echo
echo "## processes and memory for published ports"
mon=$("$RBOX" inspect "$id" | jq -r '.[0].State.MonitorPid')
echo "helper processes besides the monitor: $(pgrep -P "$mon" | grep -v "^$("$RBOX" inspect "$id" | jq -r '.[0].State.Pid')$" | wc -l)"
echo "monitor RSS with a published port: $(awk '/^VmRSS:/{print $2}' "/proc/$mon/status") kB"
