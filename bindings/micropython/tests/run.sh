#!/bin/sh
# The MicroPython binding's tests, run on a micropython built with the
# polysock user C module (bindings/micropython/Makefile):
#   tests/run.sh MICROPYTHON TMPDIR [REFERENCE]
# test_socket.py (every call of the API, bad inputs), examples/echo.py, and,
# when REFERENCE (Zerynth's socket reference, ../shared/reference/004_*.txt)
# is given, its examples unchanged, in a network namespace of their own
# (unshare -n: needs root) where 192.168.1.10 is on the loopback interface.
set -eu
mpy=$1
tmp=$2
ref=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
export MICROPYPATH="$here"
mkdir -p "$tmp"
echo "== test_socket.py"
"$mpy" "$here/tests/test_socket.py" "$tmp"
echo "== test_interrupt.py (SIGINT during a blocking recv)"
out=$tmp/interrupt.out
"$mpy" "$here/tests/test_interrupt.py" >"$out" 2>&1 &
pid=$!
i=0
until grep -q ready "$out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 500 ] || { kill -9 $pid; cat "$out"; echo "test_interrupt.py never got ready"; exit 1; }
    sleep 0.01
done
sleep 0.2
kill -INT $pid
status=0
wait $pid || status=$?
cat "$out"
[ $status -eq 0 ]
echo "== examples/echo.py"
"$mpy" "$here/examples/echo.py"
if [ -n "$ref" ]; then
    for mode in hello http; do
        echo "== the reference's $mode example"
        MICROPYPATH="$here/tests/zerynth:$here" unshare -n -- sh -c '
            ip link set lo up && ip addr add 192.168.1.10/32 dev lo &&
            exec "$0" "$1" "$2" "$3"' "$mpy" "$here/tests/zerynth/run_example.py" "$ref" "$mode"
    done
fi
