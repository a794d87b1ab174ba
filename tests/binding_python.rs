//! Runs the Python binding's unittest suite (bindings/python/tests) against
//! the shared library this test run just built. Skipped, with a message,
//! where python3 is not installed.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

/// The whole suite; each of its waits is bounded far below this.
const LIMIT: Duration = Duration::from_secs(300);

fn python3_present() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn python_unittest_suite() {
    if !python3_present() {
        common::missing_runtime(
            "Python",
            "python3 not found",
            "install python3 (Debian: apt-get install python3)",
        );
        return;
    }
    let dir = common::root().join("bindings").join("python");
    let lib = common::lib_dir().join("libpolysock.so");
    let log = common::tmp_dir("python").join("unittest.log");
    let mut cmd = Command::new("python3");
    cmd.args([
        "-X", "dev", "-m", "unittest", "discover", "-s", "tests", "-v",
    ])
    .current_dir(&dir)
    .env("POLYSOCK_LIB", &lib)
    .env("PYTHONDONTWRITEBYTECODE", "1");
    let (ok, output) = common::run_logged(&mut cmd, &log, LIMIT);
    println!("{output}");
    assert!(ok, "the Python binding's tests failed:\n{output}");
}
