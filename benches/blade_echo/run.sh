#!/bin/sh
# Blade echo benchmark: echo.b with Blade's built-in _socket module, and
# the same script with polysock's _socket.so in ./.blade/bin (Blade loads
# it over the built-in one; the script is not changed). Runs the two sides
# interleaved (A B, then B A, ...), ROUNDS times per case, and prints the
# median rate of each, the ratio polysock/built-in (above 1: the shim is
# faster) and the spread of each side, (max - min) / median.
#
#   BLADE_ROOT=/path/to/blade/build/blade benches/blade_echo/run.sh [ROUNDS]
#
# BLADE_ROOT is a Blade build directory (includes/blade.h, libblade, the
# blade binary); BLADE_BIN (default $BLADE_ROOT/blade) is the blade to run.
# The shim is built from bindings/blade against target/release (cargo
# build --release is run first). echo.b times its own loop, so Blade's
# start-up is not in the figures.
set -eu

ROUNDS=${1:-7}
: "${BLADE_ROOT:?set BLADE_ROOT to a Blade build directory (with includes/blade.h and libblade)}"
BLADE_BIN=${BLADE_BIN:-$BLADE_ROOT/blade}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/benches/blade_echo"
WORK=$(mktemp -d /tmp/polysock-blade-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

(cd "$ROOT" && cargo build --release --quiet)
make --quiet -C "$ROOT/bindings/blade" BLADE_ROOT="$BLADE_ROOT" OUT="$WORK/_socket.so" >/dev/null
mkdir -p "$WORK/builtin" "$WORK/polysock/.blade/bin"
cp "$WORK/_socket.so" "$WORK/polysock/.blade/bin/_socket.so"
cp "$HERE/echo.b" "$WORK/echo.b"

# run SIDE MODE COUNT: prints the seconds the script's loop took. Blade
# loads .blade/bin from the directory it starts in: that is the only
# difference between the two sides.
run() {
    (cd "$WORK/$1" && timeout 300 "$BLADE_BIN" "$WORK/echo.b" "$2" "$3") >"$WORK/out" 2>&1 || {
        echo "$1 $2 failed:" >&2
        cat "$WORK/out" >&2
        exit 1
    }
    tail -n 1 "$WORK/out"
}

# stats FILE: median min max of the numbers in FILE.
stats() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR]
    }'
}

# Both sides must really differ: only the shim answers _socket.version().
printf 'import _socket\necho _socket.version()\n' >"$WORK/version.b"
check=$(cd "$WORK/polysock" && "$BLADE_BIN" "$WORK/version.b")
if (cd "$WORK/builtin" && "$BLADE_BIN" "$WORK/version.b") >/dev/null 2>&1; then
    echo "the built-in side loaded polysock's module" >&2
    exit 1
fi
echo "Blade echo benchmark: $ROUNDS rounds per case, sides interleaved, medians;"
echo "spread = (max - min) / median of the loop times. blade: $BLADE_BIN; polysock $check"
echo
printf '| %-11s | %-34s | %12s | %12s | %17s | %15s | %15s |\n' \
    case unit "built-in" polysock "polysock/built-in" "spread built-in" "spread polysock"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ------------------------------------ \
    -------------: -------------: ------------------: ----------------: ----------------:

for spec in "pingpong64:50000:round trips/s, 64 B" \
            "pingpong8k:20000:round trips/s, 8 KiB" \
            "churn:10000:create+connect+accept+close/s"; do
    mode=${spec%%:*}
    rest=${spec#*:}
    count=${rest%%:*}
    unit=${rest#*:}
    : >"$WORK/builtin.times"
    : >"$WORK/polysock.times"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        if [ $((r % 2)) -eq 1 ]; then order="builtin polysock"; else order="polysock builtin"; fi
        for side in $order; do
            run "$side" "$mode" "$count" >>"$WORK/$side.times"
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
        b = count / bm; p = count / pm
        printf "| %-11s | %-34s | %12.0f | %12.0f | %18.3f | %14.1f%% | %14.1f%% |\n",
            mode, unit, b, p, p / b, 100 * (bh - bl) / bm, 100 * (ph - pl) / pm
    }'
done
echo
echo "polysock/built-in: the shim's rate over the built-in's; above 1 the shim is faster."
