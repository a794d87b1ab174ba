//! Runs the Python binding's unittest suite (bindings/python/tests) against
//! the shared library this test run just built. Skipped, with a message,
//! where python3 is not installed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        common::skip("python3 not found");
        return;
    }
    let dir = common::root().join("bindings").join("python");
    let lib = common::lib_dir().join("libpolysock.so");
    let log = common::tmp_dir("python").join("unittest.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("python3")
        .args([
            "-X", "dev", "-m", "unittest", "discover", "-s", "tests", "-v",
        ])
        .current_dir(&dir)
        .env("POLYSOCK_LIB", &lib)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("starting python3");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{output}");
    match status {
        Some(s) => assert!(
            s.success(),
            "the Python binding's tests failed ({s}):\n{output}"
        ),
        None => panic!("the Python binding's tests were killed after {LIMIT:?}:\n{output}"),
    }
}
