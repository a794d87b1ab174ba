#!/usr/bin/env bash
# Each fault and stress test must fail when the behaviour it checks is
# broken. Every tests/mutations/*.patch breaks the core in one small way
# and names the test that must catch it ("Test: <binary> <test>"); this
# applies each patch, runs that test, expects it to fail, prints the
# failure's first line and reverts the patch. Not run by CI (each mutation
# rebuilds the library: about a minute each on a quiet machine).
#
#   scripts/mutations.sh [patch names or numbers...]
#
# Needs a clean src/ (the patches apply to it); uses its own target
# directory (target/mutations) so the ordinary build stays as it is.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! git diff --quiet -- src; then
    echo "src/ has uncommitted changes: commit or stash them first" >&2
    exit 2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/mutations}
out=target/mutations-logs
mkdir -p "$out"
applied=
trap '[ -n "$applied" ] && git apply -R "$applied"' EXIT

patches=()
if [ $# -eq 0 ]; then
    patches=(tests/mutations/*.patch)
else
    for a in "$@"; do patches+=(tests/mutations/*"$a"*.patch); done
fi

caught=0 missed=0
for p in "${patches[@]}"; do
    read -r _ binary test < <(grep -m1 '^Test: ' "$p")
    name=$(basename "$p" .patch)
    log=$out/$name.log
    git apply "$p" || { echo "$name: does not apply" >&2; missed=$((missed + 1)); continue; }
    applied=$p
    start=$SECONDS
    # The test must fail, not the build.
    if ! cargo test -q --test "$binary" --no-run >"$log" 2>&1; then
        result="BUILD FAILED (see $log)"
        missed=$((missed + 1))
    elif timeout 300 cargo test -q --test "$binary" -- --exact "$test" >>"$log" 2>&1; then
        result="NOT CAUGHT: $test passed"
        missed=$((missed + 1))
    else
        # The first assertion message under the test's panic.
        # (A test run in a process of its own fails in the parent too:
        # the child's panic, in the test's own file, says more.)
        line=$(grep -m1 -A3 "panicked at tests/$binary.rs" "$log" ||
            grep -m1 -A3 "panicked at" "$log")
        line=$(printf '%s\n' "$line" | sed -e '1s/.*panicked at //' -e '/^stack backtrace/,$d' |
            tr -s '\n ' ' ')
        result="caught by $test ($((SECONDS - start)) s): ${line:0:200}"
        caught=$((caught + 1))
    fi
    git apply -R "$p"
    applied=
    echo "$name: $result"
done
echo "$caught caught, $missed not caught"
[ "$missed" -eq 0 ]
