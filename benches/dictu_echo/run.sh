#!/bin/sh
# Dictu echo benchmark: echo.du with Dictu's built-in Socket, and the same
# script with only its import line swapped for polysock's shim. Runs the two
# interleaved (A B, then B A, ...), ROUNDS times per case, and prints the
# median rate of each, the ratio polysock/built-in (above 1: the shim is
# faster) and the spread of each side, (max - min) / median; from wall-clock
# time and from CPU time (user + system), which other load on a shared
# machine disturbs less.
#
#   DICTU_SRC=/path/to/Dictu benches/dictu_echo/run.sh [ROUNDS]
#
# DICTU_BIN (default $DICTU_SRC/dictu) is the dictu to run. The shim is
# built from bindings/dictu against target/release (cargo build --release
# is run first). Times are per process, dictu's start-up included (the
# startup row shows it: under 10 ms against runs of seconds).
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

# run SIDE MODE COUNT: prints the wall-clock seconds one run took and its
# CPU seconds (user + system, 10 ms resolution).
run() {
    port=$(free_port)
    start=$(date +%s%N)
    /usr/bin/time -f "%U %S" -o "$WORK/time" \
        timeout 300 "$DICTU_BIN" "$WORK/$1.du" "$2" "$3" "$port" >"$WORK/out" 2>&1 || {
        echo "$1 $2 failed:" >&2
        cat "$WORK/out" >&2
        exit 1
    }
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" '{printf "%.6f %.2f\n", (e - s) / 1e9, $1 + $2}' "$WORK/time"
}

# stats FILE COLUMN: median min max of that column of FILE.
stats() {
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR]
    }'
}

echo "Dictu echo benchmark: $ROUNDS rounds per case, sides interleaved, medians;"
echo "spread = (max - min) / median. dictu: $DICTU_BIN"
echo "Rates from wall-clock time, and from CPU time (user + system: less"
echo "sensitive to other load on the machine). ratio = polysock / built-in"
echo "(for startup, built-in time / polysock time): above 1 the shim is faster."
echo
echo "| case | unit | built-in | polysock | ratio | spread built-in | spread polysock | CPU ratio | CPU spread built-in | CPU spread polysock |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"

for spec in "startup:0:ms, dictu start + listen" \
            "pingpong64:300000:round trips/s, 64 B" \
            "pingpong8k:60000:round trips/s, 8 KiB" \
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
    line="$(stats "$WORK/builtin.times" 1) $(stats "$WORK/polysock.times" 1)"
    line="$line $(stats "$WORK/builtin.times" 2) $(stats "$WORK/polysock.times" 2)"
    echo "$line" | awk -v mode="$mode" -v unit="$unit" -v count="$count" '{
        bm = $1; bl = $2; bh = $3; pm = $4; pl = $5; ph = $6
        cbm = $7; cbl = $8; cbh = $9; cpm = $10; cpl = $11; cph = $12
        if (count == 0) {   # a time: lower is better
            printf "| %s | %s | %.1f | %.1f | %.3f | %.1f%% | %.1f%% | - | - | - |\n",
                mode, unit, bm * 1000, pm * 1000, bm / pm, 100 * (bh - bl) / bm, 100 * (ph - pl) / pm
        } else {            # a rate: higher is better
            printf "| %s | %s | %.0f | %.0f | %.3f | %.1f%% | %.1f%% | %.3f | %.1f%% | %.1f%% |\n",
                mode, unit, count / bm, count / pm, bm / pm, 100 * (bh - bl) / bm, 100 * (ph - pl) / pm,
                cbm / cpm, 100 * (cbh - cbl) / cbm, 100 * (cph - cpl) / cpm
        }
    }'
done
