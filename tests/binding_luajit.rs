//! The LuaJIT binding (bindings/luajit): runs its test script and its echo
//! example with `luajit`, against the shared library this test run built.
//! Where luajit is not installed, each test prints "skipped: luajit not
//! found" and passes, but fails in CI or with POLYSOCK_REQUIRE_RUNTIMES=1
//! (common::missing_runtime; .ci/run installs it).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How to get the runtime, for the message of a missing one.
const LUAJIT_HOW: &str = "install it (Debian: apt-get install luajit; .ci/run does)";

/// Whether `luajit` runs here.
fn luajit_present() -> bool {
    Command::new("luajit")
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn binding_dir() -> PathBuf {
    common::root().join("bindings").join("luajit")
}

/// `luajit` with the environment the binding reads: this run's library,
/// the committed header, a temp dir for Unix socket paths.
fn luajit(args: &[&Path]) -> Command {
    let mut cmd = Command::new("luajit");
    cmd.args(args)
        .env("POLYSOCK_LIB", common::lib_dir().join("libpolysock.so"))
        .env("POLYSOCK_HEADER", common::include_dir().join("polysock.h"))
        .env("POLYSOCK_TEST_TMP", common::tmp_dir("luajit"))
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd`, logging to `log_name` in the test's temp dir, bounded by
/// `limit`.
fn run_logged(mut cmd: Command, log_name: &str, limit: Duration) -> (bool, String) {
    common::run_logged(&mut cmd, &common::tmp_dir("luajit").join(log_name), limit)
}

#[test]
fn luajit_test_script() {
    if !luajit_present() {
        common::missing_runtime("LuaJIT", "luajit not found", LUAJIT_HOW);
        return;
    }
    let script = binding_dir().join("test.lua");
    let (ok, output) = run_logged(luajit(&[&script]), "test_lua.log", Duration::from_secs(120));
    println!("{output}");
    assert!(ok, "bindings/luajit/test.lua failed:\n{output}");
    assert!(
        output.contains(" 0 failed"),
        "no summary line from test.lua:\n{output}"
    );
}

#[test]
fn luajit_echo_example() {
    if !luajit_present() {
        common::missing_runtime("LuaJIT", "luajit not found", LUAJIT_HOW);
        return;
    }
    let example = binding_dir().join("examples").join("echo.lua");
    let mut server = luajit(&[&example])
        .args(["server", "127.0.0.1", "0", "--once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the echo server");
    // Its first line names the port; read it on a thread so the wait is bounded.
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => line,
        Err(_) => {
            let _ = server.kill();
            let _ = server.wait();
            panic!("the echo server did not start");
        }
    };
    let port = line
        .trim()
        .strip_prefix("listening on 127.0.0.1 ")
        .unwrap_or_else(|| panic!("unexpected server output: {line:?}"))
        .to_string();

    let mut client = luajit(&[&example]);
    client.args(["client", "127.0.0.1", &port, "hello", "from", "cargo"]);
    let (ok, output) = run_logged(client, "echo_client.log", Duration::from_secs(30));
    let server_ok =
        common::wait_limited(&mut server, Duration::from_secs(30)).is_some_and(|s| s.success());
    assert!(ok, "echo client failed:\n{output}");
    assert_eq!(output.trim(), "hello from cargo");
    assert!(server_ok, "the echo server (--once) did not exit cleanly");
}
