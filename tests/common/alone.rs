//! Running one test of the current test binary in a process of its own
//! (for what changes process state: rlimits, network namespaces, fd
//! counts), with a time limit.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD: &str = "POLYSOCK_ALONE_CHILD";

/// Whether this is the child process that runs `test` alone. The parent
/// runs the test binary again for just that test, at most `limit`, asserts
/// that it passed and returns false; in the child this returns true and
/// the caller runs the body.
pub fn alone(test: &str, limit: Duration) -> bool {
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        return true;
    }
    let log = crate::common::tmp_dir("alone").join(format!("{test}.{}.log", std::process::id()));
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD, test)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let status = crate::common::wait_limited(&mut child, limit);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        status.is_some(),
        "{test} in its own process: killed after {limit:?}:\n{text}"
    );
    assert!(
        status.unwrap().success() && text.contains("1 passed"),
        "{test} in its own process:\n{text}"
    );
    print!("{text}");
    false
}

/// The number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Moves this (child) process into a network namespace of its own with
/// `lo` up; false (having said why) where that is not permitted, which
/// fails under CI=1.
pub fn own_netns() -> bool {
    // SAFETY: unshare with a flag constant; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        crate::common::missing_runtime(
            "a network namespace",
            &format!("unshare(CLONE_NEWNET): {e}"),
            "run the tests as root (CI does)",
        );
        return false;
    }
    sh(&["ip", "link", "set", "lo", "up"]);
    true
}

/// Runs a command (ip, tc), asserting that it succeeded.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
