#!/usr/bin/env bash
# Fuzzing (issue 13): builds the libFuzzer targets in fuzz/ with nightly
# (ASan, coverage, debug assertions: cargo-fuzz's `-a` build) and runs each
# for N seconds, from its committed seeds (fuzz/seeds/<target>) plus a
# working corpus (fuzz/corpus/<target>, not committed). Any crash, leak or
# failed check fails the run and leaves the input in fuzz/artifacts/.
#
#   scripts/fuzz.sh [seconds per target, default 60] [targets...]
#   FUZZ_JOBS=2 scripts/fuzz.sh 15     # two targets at a time (CI)
#
# polysock is built without its `tls` feature (fuzz/Cargo.toml): no target
# reaches TLS, and rustls and ring with coverage were most of the build.
# The build is a plain `cargo +nightly build` with cargo-fuzz's flags, so
# CI needs no cargo-fuzz install (about 30 s); with cargo-fuzz installed,
# `cd fuzz && cargo +nightly fuzz run -a <target>` runs the same target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
jobs=${FUZZ_JOBS:-1}
triple=$(rustc -vV | sed -n 's/^host: //p')
rustflags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    --cfg fuzzing
    -Zsanitizer=address
    -Cdebug-assertions
)
start=$SECONDS
# --target keeps the flags off build scripts and proc macros.
RUSTFLAGS="${rustflags[*]}" cargo +nightly build -q --release --bins \
    --manifest-path fuzz/Cargo.toml --target "$triple" \
    --config 'profile.release.debug="line-tables-only"'
echo "fuzz targets built in $((SECONDS - start)) s"

bin=fuzz/target/$triple/release
if [ $# -gt 0 ]; then targets=("$@"); else
    targets=()
    for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

# run <target>: one target for $secs seconds; prints its executions.
run() {
    local t=$1 log=fuzz/artifacts/$t.log
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/artifacts/$t"
    if timeout $((secs + 120)) "$bin/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" "fuzz/corpus/$t" "fuzz/seeds/$t" >"$log" 2>&1; then
        local execs cov corpus
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
        echo "$t: ok, $execs executions in $secs s ($((execs / secs))/s), $cov, corpus $corpus"
    else
        echo "$t: FAILED, see $log"
        grep -E 'panicked|ERROR: |SUMMARY|Test unit written|^artifact_prefix' "$log" | head -20 || true
        return 1
    fi
}

failed=0
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    run "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
echo "fuzzing: ${#targets[@]} targets, $((SECONDS - start)) s in all"
exit $failed
