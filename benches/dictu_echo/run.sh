#!/bin/sh
# Dictu echo benchmark: echo.du with Dictu's built-in Socket, and the same
# script with only its import line swapped for polysock's shim. Runs the two
# interleaved (A B, then B A, ...), ROUNDS times per case, and prints the
# median rate of each, the ratio polysock/built-in (above 1: the shim is
# faster) and the spread of each side, (max - min) / median.
#
#   DICTU_SRC=/path/to/Dictu benches/dictu_echo/run.sh [ROUNDS]
#
# DICTU_BIN (default $DICTU_SRC/dictu) is the dictu to run. The shim is
# built from bindings/dictu against target/release (cargo build --release
# is run first). Times are wall-clock per process, dictu's start-up included
# (reported separately: it is the same script start for both sides).
set -eu

ROUNDS=${1:-7}
: "${DICTU_SRC:?set DICTU_SRC to a Dictu checkout with a built dictu}"
DICTU_BIN=${DICTU_BIN:-$DICTU_SRC/dictu}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/dictu_echo"
WORK=$(mktemp -d /tmp/polysock-dictu-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

(cd "$ROOT" && cargo build --release --quiet)
make --quiet -C "$ROOT/bindings/dictu" DICTU_SRC="$DICTU_SRC" OUT="$WORK/shim" >/dev/null

cp "$HERE/echo.du" "$WORK/builtin.du"
sed "s|^import Socket;\$|from \"$WORK/shim/socket.du\" import Socket;|" "$HERE/echo.du" >"$WORK/polysock.du"
[ "$(diff "$WORK/builtin.du" "$WORK/polysock.du" | grep -c '^>')" -eq 1 ] || { echo "import line not swapped" >&2; exit 1; }

next_port=41000
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        next_port=$((next_port + 1))
        echo "$next_port"
    fi
}

now_ns() { date +%s%N; }

# run SIDE MODE COUNT: prints the seconds one run took.
run() {
    port=$(free_port)
    start=$(now_ns)
    timeout 300 "$DICTU_BIN" "$WORK/$1.du" "$2" "$3" "$port" >"$WORK/out" 2>&1 || {
        echo "$1 $2 failed:" >&2
        cat "$WORK/out" >&2
        exit 1
    }
    end=$(now_ns)
    echo "$start $end" | awk '{printf "%.6f\n", ($2 - $1) / 1e9}'
}

# stats FILE: median min max of the numbers in FILE.
stats() {
    sort -g "$1" | awk '{v[NR] = $1} END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR]
    }'
}

echo "Dictu echo benchmark: $ROUNDS rounds per case, sides interleaved, medians;"
echo "spread = (max - min) / median of the run times. dictu: $DICTU_BIN"
echo
printf '| %-11s | %-36s | %12s | %12s | %14s | %14s | %15s |\n' \
    case unit "built-in" polysock "polysock/built-in" "spread built-in" "spread polysock"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------- -------------------------------------- \
    -------------: -------------: ----------------: ----------------: -----------------:

for spec in "startup:0:dictu start + listen, ms" \
            "pingpong64:200000:round trips/s, 64 B" \
            "pingpong8k:50000:round trips/s, 8 KiB" \
            "churn:20000:create+connect+accept+close/s"; do
    mode=${spec%%:*}
    rest=${spec#*:}
    count=${rest%%:*}
    unit=${rest#*:}
    script_mode=$mode
    [ "$mode" = startup ] && script_mode=pingpong64
    : >"$WORK/builtin.times"
    : >"$WORK/polysock.times"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        if [ $((r % 2)) -eq 1 ]; then order="builtin polysock"; else order="polysock builtin"; fi
        for side in $order; do
            run "$side" "$script_mode" "$count" >>"$WORK/$side.times"
        done
        r=$((r + 1))
    done
    set -- $(stats "$WORK/builtin.times")
    b_med=$1 b_min=$2 b_max=$3
    set -- $(stats "$WORK/polysock.times")
    p_med=$1 p_min=$2 p_max=$3
    awk -v mode="$mode" -v unit="$unit" -v count="$count" \
        -v bm="$b_med" -v bl="$b_min" -v bh="$b_max" \
        -v pm="$p_med" -v pl="$p_min" -v ph="$p_max" 'BEGIN {
        if (count == 0) { b = bm * 1000; p = pm * 1000; ratio = bm / pm }   # a time: lower is better
        else { b = count / bm; p = count / pm; ratio = p / b }              # a rate: higher is better
        printf "| %-11s | %-36s | %12.1f | %12.1f | %17.3f | %14.1f%% | %14.1f%% |\n",
            mode, unit, b, p, ratio, 100 * (bh - bl) / bm, 100 * (ph - pl) / pm
    }'
done
echo
echo "polysock/built-in: the shim's rate over the built-in's (for startup, the built-in's time over the shim's): above 1 the shim is faster."
