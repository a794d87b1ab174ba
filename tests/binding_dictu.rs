//! The Dictu binding (bindings/dictu). Dictu is found as DICTU_SRC (a
//! checkout with a built `dictu`: $DICTU_SRC/dictu, or DICTU_BIN) when that
//! is set, else as target/vms/dictu, where bindings/build-vms.sh builds it.
//! This builds the shim with its Makefile against the static library this
//! `cargo test` just built, then runs bindings/dictu/tests/run.sh: the
//! shim's own Dictu tests, and Dictu's tests/sockets/*.du with only their
//! import line changed. Without Dictu the test skips, or fails where
//! runtimes are required (common::missing_runtime).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn dictu_shim_and_dictus_socket_tests() {
    let Some(src) = std::env::var_os("DICTU_SRC")
        .map(PathBuf::from)
        .or_else(|| common::built_vm("dictu", "dictu"))
    else {
        common::missing_runtime(
            "Dictu",
            "DICTU_SRC not set and no Dictu built in target/vms",
            common::BUILD_VMS_HOW,
        );
        return;
    };
    let header = src.join("src/include/dictu_ffi_include.h");
    assert!(
        header.is_file(),
        "{} (DICTU_SRC, or target/vms) is not a Dictu checkout: {} is missing",
        src.display(),
        header.display()
    );
    let dictu = std::env::var_os("DICTU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| src.join("dictu"));
    assert!(
        dictu.is_file(),
        "no dictu executable at {}: build Dictu in DICTU_SRC, or set DICTU_BIN",
        dictu.display()
    );

    // The static library next to the cdylib cargo just built (deps/ under
    // `cargo test`).
    let lib_dir = common::lib_dir();
    assert!(
        lib_dir.join("libpolysock.a").is_file(),
        "libpolysock.a not found in {}",
        lib_dir.display()
    );
    let binding = common::root().join("bindings/dictu");
    let out = common::tmp_dir("dictu_shim");

    let build = Command::new("make")
        .arg("-C")
        .arg(&binding)
        .arg(format!("DICTU_SRC={}", src.display()))
        .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
        .arg(format!(
            "POLYSOCK_INCLUDE={}",
            common::include_dir().display()
        ))
        .arg(format!("OUT={}", out.display()))
        .output()
        .expect("running make (is it installed?)");
    assert!(
        build.status.success(),
        "building the Dictu shim failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    // Only Dictu's FFI entry points are exported.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(out.join("libpolysock_dictu.so"))
        .output()
        .expect("running nm");
    let mut exported: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    exported.sort();
    assert_eq!(exported, ["dictu_ffi_init", "dictu_internal_ffi_init"]);

    let limit = Duration::from_secs(900);
    let (ok, output) = common::run_with_limit(
        &binding.join("tests/run.sh"),
        &[
            dictu.to_str().unwrap(),
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        limit,
    );
    println!("{output}");
    assert!(ok, "Dictu binding tests failed:\n{output}");
}
