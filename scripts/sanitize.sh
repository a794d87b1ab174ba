#!/usr/bin/env bash
# Memory checks: the C test programs (c_tests/) built with
# -fsanitize=address,undefined against the library built with nightly's
# -Zsanitizer=address, the library's own Rust tests under ASan, and the C
# programs under valgrind memcheck against the stable build. Any report, or
# any "definitely lost" block, fails.
#
#   scripts/sanitize.sh [c|rust|valgrind|all] [c_test names...]
#
# CI runs `c` (the C suite under ASan+UBSan). nightly has no rust-src here,
# so std is not rebuilt (-Zbuild-std): polysock's own code and its crates
# are instrumented, std is not. gcc's libasan (loaded by the C programs)
# serves both the C and the Rust instrumentation.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
shift || true
target=$(rustc -vV | sed -n 's/^host: //p')
out=target/sanitize
mkdir -p "$out"

c_programs() {
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; else
        for f in c_tests/test_*.c; do basename "$f" .c; done
    fi
}

# compile <lib dir> <exe dir> <extra cflags...>: every C test program.
compile() {
    local lib=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    for name in $(c_programs "${programs[@]}"); do
        gcc -std=gnu11 -g -pthread "$@" \
            -Iinclude -Ic_tests "c_tests/$name.c" -o "$dir/$name" \
            -L"$lib" -Wl,-rpath,"$PWD/$lib" -lpolysock
    done
}

# run <label> <dir> [wrapper...]: every compiled program, each bounded.
run() {
    local label=$1 dir=$2 failed=0
    shift 2
    for name in $(c_programs "${programs[@]}"); do
        local log="$out/$label.$name.log" start=$SECONDS
        if env -u LD_LIBRARY_PATH timeout 600 "$@" "$dir/$name" >"$log" 2>&1; then
            echo "$label $name: ok ($((SECONDS - start)) s, $(grep -c '^ok ' "$log") tests)"
        else
            failed=1
            echo "$label $name: FAILED ($((SECONDS - start)) s), see $log"
            grep -E '^FAIL|ERROR: |runtime error|definitely lost|SUMMARY' "$log" | head -20 || true
        fi
    done
    return $failed
}

sanitized_c() {
    RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
        cargo +nightly build -q --target "$target"
    local lib=target/asan/$target/debug
    compile "$lib" "$out/asan" -O1 -fsanitize=address,undefined \
        -fno-sanitize-recover=all -fno-omit-frame-pointer
    # Each test runs in a forked child: LeakSanitizer checks every child at
    # its exit, ASan/UBSan abort it on the first report, and the harness
    # counts that test as failed.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run asan "$out/asan"
}

sanitized_rust() {
    # The unit tests of src/core and src/ffi, and the Rust integration
    # tests that call the ABI in-process.
    RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
        CARGO_TARGET_DIR=target/asan ASAN_OPTIONS=detect_leaks=1 \
        cargo +nightly test -q --target "$target" --lib --test abi
}

valgrind_c() {
    cargo build -q
    compile target/debug "$out/plain" -O1
    # Timing checks inside the tests allow for a slow process; the suite
    # takes about a minute under valgrind, well within each test's alarm.
    # test_ring runs its epoll emulation only (RING_TEST_BACKEND=1):
    # valgrind (3.19 here) does not model io_uring. It never sees the
    # kernel write a buffer through the ring, so every byte received that
    # way reads as uninitialised, and it runs io_uring_enter as a
    # non-blocking call, under its one lock, so a reap waiting for a
    # completion stops every other thread (the one that would submit).
    # The io_uring backend runs under ASan+UBSan (`c`), which has neither
    # problem.
    # scripts/valgrind-tls.supp: the AES-GCM tags memcheck cannot follow
    # through rustls and ring (see that file), one Param entry per iovec.
    local supp=$out/valgrind-tls.supp
    awk '/^\{/ { entry = ""; keep = 1 } keep { entry = entry $0 "\n" }
        /^\}/ { keep = 0; if (entry ~ /IOV/) { for (i = 0; i < 64; i++) {
            e = entry; gsub(/IOV/, i, e); printf "%s", e } } else printf "%s", entry }' \
        scripts/valgrind-tls.supp >"$supp"
    RING_TEST_BACKEND=1 run valgrind "$out/plain" valgrind -q --error-exitcode=87 \
        --suppressions="$supp" --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --child-silent-after-fork=no
}

programs=("$@")
case $mode in
    c) sanitized_c ;;
    rust) sanitized_rust ;;
    valgrind) valgrind_c ;;
    all) sanitized_c && sanitized_rust && valgrind_c ;;
    *) echo "usage: $0 [c|rust|valgrind|all] [c_test names...]" >&2; exit 2 ;;
esac
