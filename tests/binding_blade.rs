//! The Blade binding (bindings/blade). Blade is found as BLADE_ROOT (a
//! Blade build directory: includes/blade.h, libblade, and the `blade`
//! binary, or BLADE_BIN) when that is set, else as
//! target/vms/blade/build/blade, where bindings/build-vms.sh builds it.
//! This builds the shim with its Makefile against the static
//! library this `cargo test` just built, installs it as .blade/bin/_socket.so
//! in a scratch directory, and runs Blade scripts from there: the shim's own
//! tests, a comparison of its surface with Blade's built-in module, Blade's
//! libs/http server and client, ssl's TLSSocket, Blade threads, the example
//! echo server, and a check that the process's SIGPIPE disposition is left
//! alone.
//! Without Blade every test skips, or fails where runtimes are required
//! (common::missing_runtime).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// SIGPIPE's number on Linux, for the SigIgn mask of /proc/<pid>/status.
const SIGPIPE: u32 = 13;

struct Blade {
    bin: PathBuf,
    root: PathBuf,
    /// Holds .blade/bin/_socket.so: Blade started here loads the shim.
    shim_dir: PathBuf,
    /// No .blade: Blade started here uses its built-in _socket.
    plain_dir: PathBuf,
    /// Scratch space (Unix socket paths, logs, certificates).
    tmp: PathBuf,
}

/// Builds and installs the shim once for all tests; None without Blade.
fn blade() -> Option<&'static Blade> {
    static SETUP: OnceLock<Option<Blade>> = OnceLock::new();
    SETUP
        .get_or_init(|| {
            let root = std::env::var_os("BLADE_ROOT")
                .map(PathBuf::from)
                .or_else(|| common::built_vm("blade", "blade/build/blade"))?;
            let header = root.join("includes/blade.h");
            assert!(
                header.is_file(),
                "{} (BLADE_ROOT, or target/vms) is not a Blade build directory: {} is missing",
                root.display(),
                header.display()
            );
            let bin = std::env::var_os("BLADE_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("blade"));
            assert!(
                bin.is_file(),
                "no blade executable at {}: build Blade, or set BLADE_BIN",
                bin.display()
            );
            Some(build_shim(root, bin))
        })
        .as_ref()
}

macro_rules! need_blade {
    () => {
        match blade() {
            Some(b) => b,
            None => {
                common::missing_runtime(
                    "Blade",
                    "BLADE_ROOT not set and no Blade built in target/vms",
                    common::BUILD_VMS_HOW,
                );
                return;
            }
        }
    };
}

fn build_shim(root: PathBuf, bin: PathBuf) -> Blade {
    // The static library next to the cdylib cargo just built (deps/ under
    // `cargo test`).
    let lib_dir = common::lib_dir();
    assert!(
        lib_dir.join("libpolysock.a").is_file(),
        "libpolysock.a not found in {}",
        lib_dir.display()
    );
    let base = common::tmp_dir("blade");
    let so = base.join("_socket.so");
    let build = Command::new("make")
        .arg("-C")
        .arg(common::root().join("bindings/blade"))
        .arg(format!("BLADE_ROOT={}", root.display()))
        .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
        .arg(format!(
            "POLYSOCK_INCLUDE={}",
            common::include_dir().display()
        ))
        .arg(format!("OUT={}", so.display()))
        .arg("CFLAGS=-O2 -g -Werror")
        .output()
        .expect("running make (is it installed?)");
    assert!(
        build.status.success(),
        "building the Blade shim failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    // Only the loader Blade looks for is exported: polysock's own symbols
    // stay inside the module.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("running nm");
    let exported: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    assert_eq!(exported, ["blade_module_loader__socket"]);

    // `make install DEST=...` puts it where Blade looks.
    let shim_dir = base.join("with_shim");
    let install = Command::new("make")
        .arg("-C")
        .arg(common::root().join("bindings/blade"))
        .arg("--quiet")
        .arg(format!("BLADE_ROOT={}", root.display()))
        .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
        .arg(format!(
            "POLYSOCK_INCLUDE={}",
            common::include_dir().display()
        ))
        .arg(format!("OUT={}", so.display()))
        .arg(format!("DEST={}", shim_dir.display()))
        .arg("install")
        .output()
        .expect("running make install");
    assert!(
        install.status.success(),
        "make install failed:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    assert!(shim_dir.join(".blade/bin/_socket.so").is_file());

    let plain_dir = base.join("builtin");
    let _ = std::fs::remove_dir_all(plain_dir.join(".blade"));
    std::fs::create_dir_all(&plain_dir).unwrap();
    let tmp = base.join("scratch");
    std::fs::create_dir_all(&tmp).unwrap();
    Blade {
        bin,
        root,
        shim_dir,
        plain_dir,
        tmp,
    }
}

fn script(name: &str) -> String {
    common::root()
        .join("bindings/blade")
        .join(name)
        .display()
        .to_string()
}

/// Runs blade with `args` from `dir`, killed after `limit`; returns
/// (success, output). Output goes to a file: a chatty script never blocks.
fn run_blade(b: &Blade, dir: &Path, args: &[&str], limit: Duration, log: &str) -> (bool, String) {
    let mut cmd = Command::new(&b.bin);
    cmd.args(args).current_dir(dir);
    common::run_logged(&mut cmd, &b.tmp.join(log), limit)
}

fn spawn_blade(b: &Blade, dir: &Path, args: &[&str], log: &str) -> Child {
    let file = File::create(b.tmp.join(log)).unwrap();
    Command::new(&b.bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", b.bin.display()))
}

/// Waits (bounded) until `log` contains `needle`; returns the log.
fn wait_for_line(b: &Blade, log: &str, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(b.tmp.join(log)).unwrap_or_default();
        if text.contains(needle) || start.elapsed() > limit {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shim's own Blade tests: TCP, UDP, IPv6, Unix, timeouts, errors,
/// binary data, poll, sendfile, the resolver.
#[test]
fn blade_shim_tests() {
    let b = need_blade!();
    let tmp = b.tmp.display().to_string();
    let (ok, out) = run_blade(
        b,
        &b.shim_dir,
        &[&script("tests/test_shim.b"), &tmp],
        Duration::from_secs(120),
        "test_shim.log",
    );
    println!("{out}");
    assert!(ok, "bindings/blade/tests/test_shim.b failed:\n{out}");
    let summary = out
        .lines()
        .rev()
        .find(|l| l.starts_with("passed "))
        .unwrap_or("");
    assert!(summary.ends_with(" failed 0"), "summary: {summary}");
    assert!(!summary.starts_with("passed 0 "), "no test ran: {summary}");
}

/// The 75 constants, the argument errors of the 18 functions, and the
/// shapes of their results and failure values are the built-in module's.
#[test]
fn blade_surface_matches_builtin_module() {
    let b = need_blade!();
    let surface = script("tests/surface.b");
    let limit = Duration::from_secs(60);
    let (ok_builtin, builtin) =
        run_blade(b, &b.plain_dir, &[&surface], limit, "surface_builtin.log");
    assert!(
        ok_builtin,
        "surface.b with the built-in module failed:\n{builtin}"
    );
    let (ok_shim, shim) = run_blade(b, &b.shim_dir, &[&surface], limit, "surface_shim.log");
    assert!(ok_shim, "surface.b with the shim failed:\n{shim}");
    let differences: Vec<String> = builtin
        .lines()
        .zip(shim.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("built-in: {a}\npolysock: {b}"))
        .collect();
    assert!(
        differences.is_empty() && builtin.lines().count() == shim.lines().count(),
        "the shim's surface differs from the built-in module's:\n{}",
        differences.join("\n")
    );
    assert!(
        builtin.lines().count() > 150,
        "surface.b printed too little:\n{builtin}"
    );
}

/// Blade's libs/http server and client, unchanged, exchange requests over
/// loopback on the shim.
#[test]
fn blade_http_server_and_client() {
    let b = need_blade!();
    let port = free_port().to_string();
    let mut server = spawn_blade(
        b,
        &b.shim_dir,
        &[&script("tests/http_server.b"), &port],
        "http_server.log",
    );
    let (ok, out) = run_blade(
        b,
        &b.shim_dir,
        &[&script("tests/http_client.b"), &port],
        Duration::from_secs(60),
        "http_client.log",
    );
    let server_status = common::wait_limited(&mut server, Duration::from_secs(15));
    let server_log = std::fs::read_to_string(b.tmp.join("http_server.log")).unwrap_or_default();
    println!("client:\n{out}\nserver:\n{server_log}");
    assert!(ok, "the http client failed:\n{out}\nserver:\n{server_log}");
    assert!(out.contains("http: all requests answered"), "{out}");
    assert!(
        server_status.is_some_and(|s| s.success()),
        "the http server did not stop cleanly:\n{server_log}"
    );
}

/// ssl's TLSSocket, unchanged, over the shim's sockets (OpenSSL works on
/// Socket.id, the real fd). Needs the openssl command and Blade's ssl
/// package.
#[test]
fn blade_tls_socket_echo() {
    let b = need_blade!();
    let ssl_built = b.root.join("dist/ssl.so").is_file();
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ssl_built || !openssl {
        common::missing_runtime(
            "Blade's ssl package and the openssl command",
            "needs the openssl command and Blade's ssl package ($BLADE_ROOT/dist/ssl.so)",
            "install openssl and libssl-dev, then build Blade with its ssl package (bindings/build-vms.sh does)",
        );
        return;
    }
    let cert = b.tmp.join("cert.pem");
    let key = b.tmp.join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "openssl req failed:\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port().to_string();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let mut server = spawn_blade(
        b,
        &b.shim_dir,
        &[&script("tests/tls_echo_server.b"), &port, &cert, &key],
        "tls_server.log",
    );
    let (ok, out) = run_blade(
        b,
        &b.shim_dir,
        &[&script("tests/tls_echo_client.b"), &port],
        Duration::from_secs(60),
        "tls_client.log",
    );
    let server_status = common::wait_limited(&mut server, Duration::from_secs(15));
    let server_log = std::fs::read_to_string(b.tmp.join("tls_server.log")).unwrap_or_default();
    println!("client: {out}\nserver: {server_log}");
    assert!(ok, "the TLS client failed:\n{out}\nserver:\n{server_log}");
    assert!(
        server_status.is_some_and(|s| s.success()),
        "the TLS server failed:\n{server_log}"
    );
}

/// The example echo server and client; and the shim, unlike the built-in
/// module, leaves the process's SIGPIPE disposition alone.
#[test]
fn blade_example_echo_and_sigpipe_untouched() {
    let b = need_blade!();
    // None where there is no /proc (not Linux): the check is skipped.
    let sigpipe_ignored = |pid: u32| -> Option<bool> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())?;
        Some(mask & (1 << (SIGPIPE - 1)) != 0)
    };
    for (dir, side) in [(&b.shim_dir, "polysock"), (&b.plain_dir, "built-in")] {
        let log = format!("echo_server_{side}.log");
        let mut server = spawn_blade(b, dir, &[&script("examples/echo_server.b"), "0", "1"], &log);
        let text = wait_for_line(b, &log, "listening on", Duration::from_secs(20));
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("echo server listening on 127.0.0.1:"))
            .unwrap_or_else(|| panic!("{side}: the echo server did not start:\n{text}"))
            .trim()
            .to_string();
        let ignored = sigpipe_ignored(server.id());
        let (ok, out) = run_blade(
            b,
            dir,
            &[
                &script("examples/echo_client.b"),
                &port,
                "hello through polysock",
            ],
            Duration::from_secs(30),
            &format!("echo_client_{side}.log"),
        );
        let status = common::wait_limited(&mut server, Duration::from_secs(15));
        assert!(
            ok && out.trim() == "hello through polysock",
            "{side}: echo client: {out}"
        );
        assert!(
            status.is_some_and(|s| s.success()),
            "{side}: the echo server did not stop"
        );
        println!("{side}: echo ok; SIGPIPE ignored: {ignored:?}");
        if side == "polysock" {
            assert_ne!(
                ignored,
                Some(true),
                "the shim's process ignores SIGPIPE: polysock must not touch it"
            );
        }
    }
}

/// Blade threads (pthreads with 64 KiB stacks, a VM each) use the module
/// at once, each with its own last error.
#[test]
fn blade_threads() {
    let b = need_blade!();
    let (ok, out) = run_blade(
        b,
        &b.shim_dir,
        &[&script("tests/threads.b")],
        Duration::from_secs(60),
        "threads.log",
    );
    println!("{out}");
    assert!(ok, "tests/threads.b failed:\n{out}");
    assert!(
        out.contains("thread ok") && out.contains("main ok"),
        "{out}"
    );
}

/// The faults of libs/socket.b that the README lists: the script runs and
/// reports each one (informational: a newer Blade may have fixed some).
#[test]
fn blade_socket_b_faults_report() {
    let b = need_blade!();
    let (ok, out) = run_blade(
        b,
        &b.shim_dir,
        &[&script("tests/faults.b")],
        Duration::from_secs(60),
        "faults.log",
    );
    println!("{out}");
    assert!(ok, "faults.b failed:\n{out}");
    assert!(
        out.lines().count() >= 10,
        "faults.b printed too little:\n{out}"
    );
}
