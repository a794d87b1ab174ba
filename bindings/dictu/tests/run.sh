#!/bin/sh
# Runs the Dictu shim's tests, then Dictu's own tests/sockets/*.du with only
# their `import Socket;` line changed to import the shim.
#
#   tests/run.sh DICTU_BIN SHIM_DIR [DICTU_SRC]
#
# SHIM_DIR holds socket.du and libpolysock_dictu.so (`make OUT=SHIM_DIR`).
# When it is not this binding's own directory, tests/ and examples/ are
# copied next to them (the scripts import "../socket.du"). Without
# DICTU_SRC only the shim's tests run. Exits non-zero if anything fails.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 DICTU_BIN SHIM_DIR [DICTU_SRC]" >&2
    exit 2
fi
DICTU_BIN=$1
SHIM_DIR=$(cd "$2" && pwd) || exit 2
DICTU_SRC=${3:-}
HERE=$(cd "$(dirname "$0")/.." && pwd)
LIMIT=300 # seconds per script; every wait inside is bounded far below this

for f in "$SHIM_DIR/socket.du" "$SHIM_DIR/libpolysock_dictu.so"; do
    [ -f "$f" ] || { echo "$f is missing: build with make OUT=$SHIM_DIR" >&2; exit 2; }
done
[ -x "$DICTU_BIN" ] || { echo "$DICTU_BIN is not an executable dictu" >&2; exit 2; }

if [ "$SHIM_DIR" != "$HERE" ]; then
    rm -rf "$SHIM_DIR/tests" "$SHIM_DIR/examples"
    cp -R "$HERE/tests" "$HERE/examples" "$SHIM_DIR/"
fi

SCRATCH=$(mktemp -d /tmp/polysock-dictu.XXXXXX) || exit 2
trap 'rm -rf "$SCRATCH"' EXIT

files=0
failed_files=0
passed=0
failed=0

# run_script DIR FILE: runs one UnitTest script, adds up its assertions.
run_script() {
    log="$SCRATCH/$(basename "$2").log"
    (cd "$1" && DICTU_BIN="$DICTU_BIN" POLYSOCK_TEST_TMP="$SCRATCH" \
        timeout "$LIMIT" "$DICTU_BIN" "$2") >"$log" 2>&1
    rc=$?
    ok=$(sed -n 's/.*- \([0-9]*\) assertion(s) were successful.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    bad=$(sed -n 's/.*- \([0-9]*\) assertion(s) were failures.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    files=$((files + 1))
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$ok" -eq 0 ]; then
        failed_files=$((failed_files + 1))
        echo "FAIL $2 (exit $rc, $ok passed, $bad failed):"
        sed 's/^/    /' "$log"
    else
        echo "ok   $2 ($ok assertions)"
    fi
}

echo "== polysock Dictu shim: $SHIM_DIR/tests"
for t in "$SHIM_DIR"/tests/test_*.du; do
    run_script "$SHIM_DIR/tests" "$(basename "$t")"
done
shim_summary="shim tests: $files files, $passed assertions passed, $failed failed, $failed_files files failed"
status=$failed_files

if [ -n "$DICTU_SRC" ]; then
    echo "== Dictu's own tests/sockets on the shim"
    dir="$SCRATCH/dictu_sockets"
    mkdir -p "$dir"
    files=0 failed_files=0 passed=0 failed=0
    for src in "$DICTU_SRC"/tests/sockets/*.du; do
        name=$(basename "$src")
        # The only change: the import line.
        sed "s|^import Socket;\$|from \"$SHIM_DIR/socket.du\" import Socket;|" "$src" >"$dir/$name"
        if grep -q '^import Socket;' "$dir/$name"; then
            echo "FAIL $name: its import line was not rewritten"
            failed_files=$((failed_files + 1))
        fi
        changed=$(diff "$src" "$dir/$name" | grep -c '^>')
        [ "$changed" -le 1 ] || { echo "FAIL $name: more than the import line changed"; failed_files=$((failed_files + 1)); }
    done
    for t in "$dir"/*.du; do
        run_script "$dir" "$(basename "$t")"
    done
    dictu_summary="Dictu's tests/sockets: $files files, $passed assertions passed, $failed failed, $failed_files files failed"
    status=$((status + failed_files))
else
    dictu_summary="Dictu's tests/sockets: not run (no DICTU_SRC)"
fi

echo "$shim_summary"
echo "$dictu_summary"
[ "$status" -eq 0 ]
