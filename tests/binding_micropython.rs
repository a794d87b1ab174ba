//! The MicroPython binding (bindings/micropython): MicroPython's unix port
//! built with polysock compiled in as a user C module, from MICROPY_SRC (a
//! checkout) when that is set, else from target/vms/micropython, where
//! bindings/build-vms.sh builds the snapshot ../shared/vms/micropython.tar.gz
//! once there is one. The port is built into target/ (the checkout is only
//! read) against the static library this `cargo test` just built, then
//! bindings/micropython/tests/run.sh runs the binding's tests, the echo
//! example and the examples of Zerynth's socket reference unchanged.
//!
//! Without MicroPython the test skips, or fails where runtimes are required
//! (common::missing_runtime) — except while ../shared/vms holds no
//! MicroPython snapshot: CI cannot fetch MicroPython, so then it skips even
//! in CI, saying so (the one exception to that rule, until the snapshot
//! exists).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn snapshot() -> PathBuf {
    std::env::var_os("POLYSOCK_VMS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("../shared/vms"))
        .join("micropython.tar.gz")
}

/// Zerynth's socket reference, the seed of the binding's API.
fn reference() -> Option<PathBuf> {
    let dir = common::root().join("../shared/reference");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("004_") && n.ends_with(".txt"))
        })
}

#[test]
fn micropython_shim_tests_and_zerynth_examples() {
    let src = match std::env::var_os("MICROPY_SRC").map(PathBuf::from) {
        Some(src) => src,
        None => match common::built_vm("micropython", "micropython") {
            Some(src) => src,
            None if snapshot().is_file() => {
                common::missing_runtime(
                    "MicroPython",
                    "MICROPY_SRC not set and no MicroPython built in target/vms",
                    common::BUILD_VMS_HOW,
                );
                return;
            }
            None => {
                // Not common::missing_runtime: no snapshot means CI cannot
                // have MicroPython (it cannot reach GitHub), so this skips
                // in CI too, until the snapshot is there.
                common::say_skipped(&format!(
                    "MicroPython: MICROPY_SRC not set and no micropython.tar.gz in {} \
                     (even in CI: a CI build needs that snapshot of micropython/micropython; \
                     bindings/build-vms.sh unpacks it and this test builds ports/unix with \
                     gcc, make and python3 only)",
                    snapshot().parent().unwrap().display()
                ));
                return;
            }
        },
    };
    assert!(
        src.join("ports/unix/Makefile").is_file(),
        "{} (MICROPY_SRC, or target/vms/micropython) is not a MicroPython checkout: no ports/unix/Makefile",
        src.display()
    );
    let lib_dir = common::lib_dir();
    assert!(
        lib_dir.join("libpolysock.a").is_file(),
        "libpolysock.a not found in {}",
        lib_dir.display()
    );
    let binding = common::root().join("bindings/micropython");
    let out = common::tmp_dir("micropython_port");
    let log = common::tmp_dir("logs").join("micropython_build.log");
    let (ok, text) = common::run_logged(
        Command::new("make")
            .arg("-C")
            .arg(&binding)
            .arg(format!("MICROPY_SRC={}", src.display()))
            .arg(format!("OUT={}", out.display()))
            .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
            .arg(format!(
                "POLYSOCK_INCLUDE={}",
                common::include_dir().display()
            )),
        &log,
        Duration::from_secs(900),
    );
    assert!(ok, "building MicroPython with polysock failed:\n{text}");
    let micropython = out.join("micropython");

    // The seed's examples need a network namespace of their own (root).
    let netns = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let reference = reference();
    let mut args = vec![
        micropython.display().to_string(),
        common::tmp_dir("micropython_tests").display().to_string(),
    ];
    match (&reference, netns) {
        (Some(r), true) => args.push(r.display().to_string()),
        (None, _) => common::missing_runtime(
            "Zerynth's socket reference",
            "../shared/reference/004_*.txt not found: the seed's examples were not run",
            "run the tests from a checkout beside the shared folder",
        ),
        (_, false) => common::missing_runtime(
            "a network namespace",
            "`unshare -n` failed (not root?): the seed's examples were not run",
            "run the tests as root",
        ),
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, output) = common::run_with_limit(
        &binding.join("tests/run.sh"),
        &argv,
        Duration::from_secs(300),
    );
    println!("{output}");
    assert!(ok, "the MicroPython binding's tests failed:\n{output}");
    assert!(
        output.contains(" passed, 0 failed")
            && output.contains("interrupt ok")
            && output.contains("echoed: Hello World!"),
        "the MicroPython tests did not report their results:\n{output}"
    );
    if args.len() == 3 {
        for mode in ["hello", "http"] {
            assert!(
                output.contains(&format!("example {mode} ok")),
                "the reference's {mode} example did not run:\n{output}"
            );
        }
    }
}
