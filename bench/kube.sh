#!/usr/bin/env bash
# kube play: the notes' two-container Pod (busybox stand-ins: one serving on 8080, one
# sleeping), for rbox and, side by side when installed, `podman --runtime /usr/bin/runc kube
# play` of the same file; a Deployment of 10 replicas of that pod; `kube down` of it. Then
# the memory a pod holds beyond its containers' monitors: none for rbox (its namespaces are
# pinned by bind mounts), podman's infra container (conmon + catatonit).
#
#   bench/kube.sh   # RUNS=5 by default; PEERS=0: rbox alone
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PEERS=${PEERS:-1}
OUT=${OUT:-target/bench/kube-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench}
export RBOX_BRIDGE=${RBOX_BRIDGE:-rboxbench0} RBOX_BRIDGE_SUBNET=${RBOX_BRIDGE_SUBNET:-10.254.0.0/24}
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2
PEER_IMAGE=${PEER_IMAGE:-localhost:5000/busybox:latest}
$RBOX network inspect kube >/dev/null 2>&1 || $RBOX network create --subnet 10.254.70.0/24 kube >/dev/null

pod() { # file image
    cat >"$1" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: simple-echo
spec:
  containers:
  - name: nginx
    image: $2
    command: ["/bin/sleep", "3600"]
  - name: echo
    image: $2
    command: ["/bin/sh", "-c", "exec httpd -f -p 8080"]
EOF
}
deployment() { # file image replicas
    cat >"$1" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: $3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: $2
        command: ["/bin/sleep", "3600"]
      - name: echo
        image: $2
        command: ["/bin/sh", "-c", "exec httpd -f -p 8080"]
EOF
}

DIGITS=3 LOG_FILE=$OUT/log
. bench/updown.sh

pod "$OUT/pod.yaml" busybox:latest
deployment "$OUT/d10.yaml" busybox:latest 10
echo "## kube play (medians of $RUNS; all runs: play / down)"
echo "| what | play | down | runs |"
echo "|---|---|---|---|"
measure "rbox kube play, 2-container pod" \
    "$RBOX kube play $OUT/pod.yaml" "$RBOX kube down $OUT/pod.yaml"
measure "rbox kube play, Deployment of 10 such pods" \
    "$RBOX kube play $OUT/d10.yaml" "$RBOX kube down $OUT/d10.yaml"

if [ "$PEERS" = 1 ] && command -v podman >/dev/null && podman image exists "$PEER_IMAGE" 2>/dev/null; then
    pod "$OUT/ppod.yaml" "$PEER_IMAGE"
    measure "podman $(podman version -f '{{.Client.Version}}') --runtime /usr/bin/runc kube play, 2-container pod" \
        "podman --runtime /usr/bin/runc kube play $OUT/ppod.yaml" \
        "podman --runtime /usr/bin/runc kube down $OUT/ppod.yaml"
fi

echo
echo "## memory a running pod holds beyond its containers and their monitors"
$RBOX kube play "$OUT/pod.yaml" >/dev/null
echo "| tool | processes | RSS |"
echo "|---|---|---|"
id=$($RBOX pod inspect simple-echo | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
pins=$(grep -cE "rbox-${id:0:16}|/pods/$id/" /proc/self/mountinfo || true)
echo "| rbox | none (its namespaces pinned by $pins bind mounts: net, ipc, uts) | 0 kB |"
$RBOX kube down "$OUT/pod.yaml" >/dev/null
if [ "$PEERS" = 1 ] && command -v podman >/dev/null && podman image exists "$PEER_IMAGE" 2>/dev/null; then
    podman --runtime /usr/bin/runc kube play "$OUT/ppod.yaml" >/dev/null
    infra=$(podman pod inspect simple-echo -f '{{.InfraContainerID}}')
    pid=$(podman inspect "$infra" -f '{{.State.Pid}}')
    conmon=$(podman inspect "$infra" -f '{{.State.ConmonPid}}')
    rss=$(( $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") + $(awk '/VmRSS/ {print $2}' "/proc/$conmon/status") ))
    echo "| podman | infra container (pid $pid) + its conmon (pid $conmon) | ${rss} kB |"
    podman --runtime /usr/bin/runc kube down "$OUT/ppod.yaml" >/dev/null
fi
