#!/usr/bin/env bash
# Build times on the 200 MB, 10,000-file context of ../shared/bench/make-context.sh:
# cold (--no-cache), no-op rebuild, rebuild after touching one file, rebuild after changing
# one file's content. hyperfine, medians. The peers' figures for the same work are in
# ../shared/bench/results-peers.md (bench-peers.sh build).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CTX=${CTX:-/var/lib/bench-work/ctx-big}
OUT=${OUT:-target/bench/build-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
cargo build --release --bin rbox >&2
RBOX=$PWD/target/release/rbox
export RBOX_ROOT=${BENCH_ROOT:-/var/lib/rbox-bench}
RBOX=$RBOX rootfs-fixtures/busybox.sh busybox:latest >&2
if [ ! -f "$CTX/MANIFEST.sha256" ]; then
    ../shared/bench/make-context.sh "$CTX" >/dev/null
fi
printf 'FROM busybox\nCOPY data /data\nCMD ["/bin/sh"]\n' >"$CTX/Dockerfile"
printf 'MANIFEST.sha256\n' >"$CTX/.dockerignore"
VICTIM=$(cd "$CTX" && find data -type f -name '*.txt' | sort | sed -n 2500p)
cp -p "$CTX/$VICTIM" "$OUT/victim.orig"
B="$RBOX build -q -t bench/big:rbox $CTX"

hf() { # name prepare command
    hyperfine -N --style basic --runs "$RUNS" ${2:+--prepare "$2"} --export-json "$OUT/$1.json" "$3" >"$OUT/$1.log" 2>&1
    jq -r --arg n "$1" '.results[0] | "| \($n) | \(.median*1000|round) ms | \(.min*1000|round) | \(.max*1000|round) |"' "$OUT/$1.json"
}
echo "| case | median | min | max |"
echo "|---|---|---|---|"
hf cold "" "$RBOX build -q --no-cache -t bench/big:rbox $CTX"
$B >/dev/null
hf noop "" "$B"
hf touch1 "touch $CTX/$VICTIM" "$B"
hf change1 "sh -c 'cp -p $OUT/victim.orig $CTX/$VICTIM; date +%s%N >> $CTX/$VICTIM'" "$B"
cp -p "$OUT/victim.orig" "$CTX/$VICTIM"
