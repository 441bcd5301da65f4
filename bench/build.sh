#!/usr/bin/env bash
# Build times on the 200 MB, 10,000-file context of ../shared/bench/make-context.sh:
# cold (--no-cache), no-op rebuild, rebuild after touching one file, rebuild after changing
# one file's content; and a two-stage build whose stages each sleep 2 s (--network none:
# the steps need none). hyperfine, medians.
# Side by side with BuildKit (Debian's docker 20.10, DOCKER_BUILDKIT=1) in the same run when
# /usr/bin/docker answers (../shared/bench/setup-peers.sh starts it); BUILDKIT=0 skips it.
# RUNS (5), CTX, OUT, BENCH_ROOT and NO_BUILD=1 (use target/release/rbox as it is).
# Before each tool's cold builds the file system settles SETTLE seconds (65): ext4 without
# a journal passes over every inode freed in the last 60 s when it allocates one, so the
# other tool's deletions (BuildKit drops its last cold build's files) would slow the next.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CTX=${CTX:-/var/lib/bench-work/ctx-big}
OUT=${OUT:-target/bench/build-$(date -u +%Y%m%dT%H%M%SZ)}
DOCKER=/usr/bin/docker
mkdir -p "$OUT"
# NO_BUILD=1: the rbox already built in target/release.
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --bin rbox >&2
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
PAR=$OUT/ctx-par
mkdir -p "$PAR"
printf 'FROM busybox AS one\nRUN sleep 2 && echo 1 > /x\nFROM busybox AS two\nRUN sleep 2 && echo 2 > /x\nFROM busybox\nCOPY --from=one /x /one\nCOPY --from=two /x /two\n' >"$PAR/Dockerfile"

BK=0
if [ "${BUILDKIT:-1}" = 1 ] && [ -x "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
    BK=1
    export DOCKER_BUILDKIT=1
    "$DOCKER" image inspect busybox >/dev/null 2>&1 || "$DOCKER" tag localhost:5000/busybox:latest busybox:latest
fi

hf() { # name prepare command
    hyperfine -N --style basic --runs "$RUNS" ${2:+--prepare "$2"} --export-json "$OUT/$1.json" "$3" >"$OUT/$1.log" 2>&1
    jq -r '.results[0].median' "$OUT/$1.json"
}
ms() { awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

restore="cp -p $OUT/victim.orig $CTX/$VICTIM"
change="sh -c '$restore; date +%s%N >> $CTX/$VICTIM'"
declare -A R K
settle() { sync; sleep "${SETTLE:-65}"; }
B="$RBOX build -q -t bench/big:rbox $CTX"
settle
R[cold]=$(hf rbox-cold "" "$RBOX build -q --no-cache -t bench/big:rbox $CTX")
$B >/dev/null
R[noop]=$(hf rbox-noop "" "$B")
R[touch1]=$(hf rbox-touch1 "touch $CTX/$VICTIM" "$B")
R[change1]=$(hf rbox-change1 "$change" "$B")
R[stages]=$(hf rbox-stages "" "$RBOX build -q --no-cache --network none -t bench/par:rbox $PAR")
$restore
if [ $BK = 1 ]; then
    D="$DOCKER build -q -t bench/big:bk $CTX"
    settle
    K[cold]=$(hf bk-cold "" "$DOCKER build -q --no-cache -t bench/big:bk $CTX")
    $D >/dev/null
    K[noop]=$(hf bk-noop "" "$D")
    K[touch1]=$(hf bk-touch1 "touch $CTX/$VICTIM" "$D")
    K[change1]=$(hf bk-change1 "$change" "$D")
    K[stages]=$(hf bk-stages "" "$DOCKER build -q --no-cache --network none -t bench/par:bk $PAR")
    $restore
fi
echo "| case | rbox | BuildKit | BuildKit / rbox |"
echo "|---|---|---|---|"
for c in cold noop touch1 change1 stages; do
    if [ $BK = 1 ]; then
        echo "| $c | $(ms "${R[$c]}") | $(ms "${K[$c]}") | $(ratio "${K[$c]}" "${R[$c]}")× |"
    else
        echo "| $c | $(ms "${R[$c]}") | — | — |"
    fi
done
echo
echo "rbox change1 / rbox cold: $(ratio "${R[change1]}" "${R[cold]}")"
