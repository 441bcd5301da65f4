# Sourced by bench/compose.sh and bench/kube.sh: `measure NAME UP_CMD DOWN_CMD` times RUNS
# rounds of an up then a down and prints a table row (medians, then every figure). DIGITS
# sets the decimals (2), LOG_FILE where the commands' output goes ($OUT/NAME.log).
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.${DIGITS:-2}f}')"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() {
    local ups=() downs=() t0 t1 t2 log=${LOG_FILE:-$OUT/$1.log}
    for _ in $(seq 1 "$RUNS"); do
        t0=$(now)
        eval "$2" >>"$log" 2>&1
        t1=$(now)
        eval "$3" >>"$log" 2>&1
        t2=$(now)
        ups+=("$(secs "$t0" "$t1")")
        downs+=("$(secs "$t1" "$t2")")
    done
    echo "| $1 | $(median "${ups[@]}") s | $(median "${downs[@]}") s | ${ups[*]} / ${downs[*]} |"
}
