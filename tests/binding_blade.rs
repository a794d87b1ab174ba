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
//! alone. And polysock's own ssl package (bindings/blade/ssl, Blade's ssl
//! API on polysock's TLS): against Python's ssl and openssl s_client, its
//! verification failures and argument errors, and Blade's TLS scripts and
//! libs/http TLSServer on it.
//! Without Blade every test skips, or fails where runtimes are required
//! (common::missing_runtime).

mod common;
mod tls_support;

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
    /// The shim and polysock's ssl package (.blade/libs/ssl).
    tls_dir: PathBuf,
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
    // The shim's Makefile with this build's Blade, library and header.
    let make = || {
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(common::root().join("bindings/blade"))
            .arg(format!("BLADE_ROOT={}", root.display()))
            .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
            .arg(format!(
                "POLYSOCK_INCLUDE={}",
                common::include_dir().display()
            ))
            .arg(format!("OUT={}", so.display()));
        cmd
    };
    let build = make()
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

    // `make install DEST=...` puts it where Blade looks; `install-ssl`
    // adds polysock's ssl package.
    let install = |dest: &Path, targets: &[&str]| {
        let out = make()
            .arg("--quiet")
            .arg(format!("DEST={}", dest.display()))
            .args(targets)
            .output()
            .expect("running make install");
        assert!(
            out.status.success(),
            "make {targets:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let shim_dir = base.join("with_shim");
    install(&shim_dir, &["install"]);
    assert!(shim_dir.join(".blade/bin/_socket.so").is_file());
    let tls_dir = base.join("with_tls");
    install(&tls_dir, &["install", "install-ssl"]);
    assert!(tls_dir.join(".blade/libs/ssl/index.b").is_file());

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
        tls_dir,
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
    let port = common::unused_port().to_string();
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
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    tls_echo_scripts(b, &b.shim_dir, &cert, &key, "tls");
}

/// Runs tests/tls_echo_server.b and tests/tls_echo_client.b (written for
/// Blade's TLSSocket) from `dir`, with the certificate `cert`; logs named
/// after `tag`. Fails unless the echo came back and both ended well.
fn tls_echo_scripts(b: &Blade, dir: &Path, cert: &str, key: &str, tag: &str) {
    let port = common::unused_port().to_string();
    let server_log = format!("{tag}_server.log");
    let mut server = spawn_blade(
        b,
        dir,
        &[&script("tests/tls_echo_server.b"), &port, cert, key],
        &server_log,
    );
    let (ok, out) = run_blade(
        b,
        dir,
        &[&script("tests/tls_echo_client.b"), &port],
        Duration::from_secs(60),
        &format!("{tag}_client.log"),
    );
    let server_status = common::wait_limited(&mut server, Duration::from_secs(15));
    let server_log = std::fs::read_to_string(b.tmp.join(server_log)).unwrap_or_default();
    println!("client: {out}\nserver: {server_log}");
    assert!(ok, "the TLS client failed:\n{out}\nserver:\n{server_log}");
    assert!(out.contains("reply [echo:hello over tls]"), "{out}");
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

/// What a Blade TLS test needs besides Blade: the openssl command (the
/// s_client peer) and python3 (tests/tls_peer.py, Python's ssl). False
/// (after common::missing_runtime) without them.
fn tls_peers_present() -> bool {
    let works = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("openssl", "version") && works("python3", "--version") {
        return true;
    }
    common::missing_runtime(
        "openssl and python3",
        "the Blade TLS tests need the openssl command and python3",
        "apt-get install openssl python3",
    );
    false
}

/// The lines of `out` that start with `prefix`, without it.
fn lines_of<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter_map(|l| l.strip_prefix(prefix)).collect()
}

/// The value after "<key> " in the line starting with `prefix`.
fn field<'a>(out: &'a str, prefix: &str, key: &str) -> &'a str {
    lines_of(out, prefix)
        .iter()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no line {prefix}{key} in:\n{out}"))
}

/// polysock's ssl package as a client of Python's ssl: 1 MiB echoed with
/// checksums over TLS 1.3 with certificate and host-name verification;
/// TLS 1.2 with ALPN; a handshake and data driven through poll() on a
/// non-blocking socket; and close() sends close_notify.
#[test]
fn blade_tls_client_against_python_ssl() {
    let b = need_blade!();
    if !tls_peers_present() {
        return;
    }
    use tls_support::{cert, python_server, sha256, value};
    let (echo, p1) = python_server("server", "echo", &[]);
    let (old, p2) = python_server("server", "echo", &["--tls12", "--alpn", "h2"]);
    // Answers the hello 300 ms late: the non-blocking handshake must wait.
    let (nb, p3) = python_server("server", "echo", &["--hello-delay-ms", "300"]);
    let total = 1 << 20;
    let (ok, out) = run_blade(
        b,
        &b.tls_dir,
        &[
            &script("tests/tls_client.b"),
            &cert("ca"),
            &total.to_string(),
            &p1.to_string(),
            &p2.to_string(),
            &p3.to_string(),
        ],
        Duration::from_secs(60),
        "tls_client.log",
    );
    let peers = [echo.finish(), old.finish(), nb.finish()];
    println!("{out}\npeers: {peers:?}");
    assert!(ok, "tests/tls_client.b failed:\n{out}\npeers: {peers:?}");

    // The same stream the script sends: its 61 letters, over and over.
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz012345678";
    let base: Vec<u8> = (0..61).map(|i| letters[(i * 7 + 3) % 61]).collect();
    let stream: Vec<u8> = (0..total).map(|i| base[i % 61]).collect();
    let want = sha256(&stream);
    assert_eq!(field(&out, "echo ", "bytes"), total.to_string());
    assert_eq!(field(&out, "echo ", "sent_sha256"), want, "{out}");
    assert_eq!(field(&out, "echo ", "got_sha256"), want, "{out}");
    assert_eq!(field(&out, "echo ", "version"), "TLSv1.3");
    assert_eq!(
        field(&out, "echo ", "peer"),
        "O=polysock tests,CN=localhost san [DNS:localhost, IP:127.0.0.1, IP:::1]"
    );

    assert_eq!(field(&out, "tls12 ", "echo"), "tls12 line");
    let tls12 = field(&out, "tls12 ", "version");
    assert!(
        tls12.starts_with("TLSv1.2 alpn h2 cipher TLS_ECDHE_"),
        "{tls12}"
    );
    assert_eq!(value(&peers[1], "version"), Some("TLSv1.2"));
    assert_eq!(value(&peers[1], "alpn"), Some("h2"));

    let nonblocking = field(&out, "nonblocking ", "steps");
    assert!(
        nonblocking.ends_with("waited_in true reply non-blocking line"),
        "{nonblocking}"
    );
    let steps: u32 = nonblocking.split(' ').next().unwrap().parse().unwrap();
    assert!(steps >= 1, "the handshake never had to wait: {nonblocking}");

    // Each peer saw the client's close_notify.
    for p in &peers {
        assert_eq!(value(p, "end"), Some("close_notify"), "{p:?}");
    }
}

/// Certificates that must be refused: each connect raises a TLSException
/// with polysock's code name and a message naming the cause.
#[test]
fn blade_tls_verification_failures() {
    let b = need_blade!();
    if !tls_peers_present() {
        return;
    }
    use tls_support::{cert, python_server};
    let servers: Vec<_> = ["unknown", "wronghost", "expired", "selfsigned"]
        .iter()
        .map(|name| python_server(name, "echo", &[]))
        .collect();
    let mut args = vec![script("tests/tls_verify.b"), cert("ca")];
    args.extend(servers.iter().map(|(_, port)| port.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = run_blade(
        b,
        &b.tls_dir,
        &args,
        Duration::from_secs(60),
        "tls_verify.log",
    );
    println!("{out}");
    assert!(ok, "tests/tls_verify.b failed:\n{out}");
    for (case, name, words) in [
        (
            "unknown_issuer",
            "POLYSOCK_ETLS_UNKNOWN_ISSUER",
            "unknown issuer",
        ),
        ("wrong_host", "POLYSOCK_ETLS_HOSTNAME", "other.test"),
        ("expired", "POLYSOCK_ETLS_CERT_EXPIRED", "expired"),
        ("self_signed", "POLYSOCK_ETLS_SELF_SIGNED", "self-signed"),
    ] {
        let line = lines_of(&out, &format!("{case}: "))
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no line for {case}:\n{out}"));
        assert!(
            line.starts_with(&format!("{name}: tls handshake with localhost: ")),
            "{case}: {line}"
        );
        assert!(line.contains(words), "{case}: {line}");
    }
    // Each server saw the handshake fail.
    for (peer, _) in servers {
        let lines = peer.finish();
        assert!(
            tls_support::value(&lines, "handshake_error").is_some(),
            "{lines:?}"
        );
    }
}

/// polysock's ssl package as a server for openssl s_client: a client
/// with a certificate from the trusted CA gets its line echoed (and its
/// certificate seen), one without a certificate is refused with
/// POLYSOCK_ETLS_CERT_REQUIRED.
#[test]
fn blade_tls_server_for_openssl_s_client() {
    let b = need_blade!();
    if !tls_peers_present() {
        return;
    }
    use tls_support::{Peer, cert, key};
    let log = "tls_server.log";
    let mut server = spawn_blade(
        b,
        &b.tls_dir,
        &[
            &script("tests/tls_server.b"),
            &cert("server"),
            &key("server"),
            &cert("ca"),
            "2",
        ],
        log,
    );
    let text = wait_for_line(b, log, "PORT ", Duration::from_secs(20));
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("PORT "))
        .unwrap_or_else(|| panic!("the Blade TLS server did not start:\n{text}"))
        .trim()
        .to_string();
    let s_client = |with_cert: bool, line: &str| {
        let mut cmd = tls_support::s_client(port.parse().unwrap());
        cmd.arg("-ign_eof");
        if with_cert {
            cmd.args(["-cert", &cert("client"), "-key", &key("client")]);
        }
        let mut peer = Peer::spawn(cmd, "openssl s_client");
        peer.send_stdin(line.as_bytes());
        peer.finish()
    };
    let with = s_client(true, "hello from s_client\n");
    let without = s_client(false, "no certificate\n");
    let status = common::wait_limited(&mut server, Duration::from_secs(20));
    let out = std::fs::read_to_string(b.tmp.join(log)).unwrap_or_default();
    println!("server:\n{out}\ns_client: {with:?}\nwithout: {without:?}");
    assert!(
        status.is_some_and(|s| s.success()),
        "the Blade TLS server failed:\n{out}"
    );
    assert!(
        with.iter().any(|l| l == "echo:hello from s_client"),
        "s_client got no echo: {with:?}\nserver:\n{out}"
    );
    assert_eq!(
        field(&out, "client 0: ", "TLSv1.3"),
        "peer O=polysock tests,CN=polysock client line hello from s_client"
    );
    let refused = field(&out, "client 1: ", "refused:");
    assert!(
        refused.starts_with("POLYSOCK_ETLS_CERT_REQUIRED: "),
        "{refused}"
    );
    assert!(
        !without.iter().any(|l| l.starts_with("echo:")),
        "{without:?}"
    );
    assert!(out.contains("server done"), "{out}");
}

/// Wrong argument types raise Blade's TypeError/ArgumentError with the
/// argument named; values polysock refuses give its codes and messages
/// (TLSException, or false and last_error where Blade's API returns a
/// bool); a stalled handshake ends at the connect's timeout.
#[test]
fn blade_tls_bad_arguments() {
    let b = need_blade!();
    if !tls_peers_present() {
        return;
    }
    use tls_support::{cert, key};
    let (ok, out) = run_blade(
        b,
        &b.tls_dir,
        &[
            &script("tests/tls_errors.b"),
            &cert("ca"),
            &cert("server"),
            &key("server"),
            &b.tmp.display().to_string(),
        ],
        Duration::from_secs(60),
        "tls_errors.log",
    );
    println!("{out}");
    assert!(ok, "tests/tls_errors.b failed:\n{out}");
    let expect = [
        ("context_method", "raised TypeError: SSL method expected"),
        (
            "verify_mode_type",
            "raised TypeError: integer expected in argument 1",
        ),
        (
            "verify_disable_type",
            "raised TypeError: boolean expected in argument 2",
        ),
        (
            "load_certs_type",
            "raised TypeError: cert_file must be a string or file",
        ),
        (
            "locations_type",
            "raised TypeError: location path string expected",
        ),
        ("alpn_type", "raised TypeError: list of strings expected"),
        (
            "socket_type",
            "raised TypeError: instance of Socket expected in first argument",
        ),
        (
            "context_type",
            "raised TypeError: instance of SSLContext expected in second argument",
        ),
        (
            "ssl_context_type",
            "raised TypeError: instance of SSLContext expected",
        ),
        (
            "timeout_type",
            "raised TypeError: integer expected, string given",
        ),
        ("load_certs_missing", "returned false"),
        ("load_certs_missing_error", "ENOENT: tls_config_cert_file: "),
        ("load_certs_mismatch", "returned false"),
        (
            "load_certs_mismatch_error",
            "POLYSOCK_ETLS_CONFIG: tls_config_cert_file: the key in ",
        ),
        ("locations_no_pem", "returned false"),
        (
            "locations_no_pem_error",
            "POLYSOCK_ETLS_PEM: tls_config_add_ca_file: no \"BEGIN CERTIFICATE\" block",
        ),
        (
            "alpn_empty",
            "raised TLSException EINVAL: tls_config_add_alpn: ",
        ),
        (
            "versions_bad",
            "raised TLSException EINVAL: tls_config_versions: ",
        ),
        (
            "versions_order",
            "raised TLSException EINVAL: tls_config_versions: the minimum",
        ),
        ("server_context_usable", "returned true"),
        (
            "send_unconnected",
            "raised TLSException ENOTCONN: TLSSocket: not connected",
        ),
        (
            "receive_unconnected",
            "raised TLSException ENOTCONN: TLSSocket: not connected",
        ),
        (
            "connect_refused",
            "raised SocketException: connect 127.0.0.1:",
        ),
        (
            "server_context_connect",
            "raised TLSException EINVAL: this context has no client side",
        ),
        (
            "handshake_stalls",
            "raised TLSException ETIMEDOUT: tls handshake with 127.0.0.1: timed out",
        ),
        (
            "config_new_side",
            "returned -1 EINVAL: tls_config_new: side 7",
        ),
        (
            "config_bad_id",
            "returned -1 EBADF: tls_config_add_alpn: 123456789 is not a live TLS configuration",
        ),
        (
            "ca_file_nul",
            "returned -1 EINVAL: tls_config_add_ca_file: the text holds a NUL byte",
        ),
        (
            "ca_pem_garbage",
            "returned -1 POLYSOCK_ETLS_PEM: tls_config_add_ca_pem: ",
        ),
        (
            "client_auth_on_client",
            "returned -1 EINVAL: tls_config_client_auth: only for server",
        ),
        (
            "wrap_bad_fd",
            "returned -1 EBADF: fd 999999 is not owned by a polysock handle",
        ),
        (
            "wrap_listener",
            "returned -1 EINVAL: tls_wrap: the socket is listening",
        ),
        (
            "wrap_no_name",
            "returned -1 EINVAL: tls_wrap: server_name is NULL",
        ),
        (
            "handshake_plain",
            "returned -1 EINVAL: tls_handshake: the socket is not a TLS stream",
        ),
        (
            "wants_plain",
            "returned -1 EINVAL: tls_wants: the socket is not a TLS stream",
        ),
        (
            "info_plain",
            "returned  EINVAL: tls_version: the socket is not a TLS stream",
        ),
        (
            "recv_within_wait",
            "returned -1 EINVAL: recv_within: wait -5 ms",
        ),
        (
            "send_within_wait",
            "returned -1 EINVAL: send_within: wait -5 ms",
        ),
        ("wrap_twice_first", "returned 0 "),
        (
            "wrap_twice_second",
            "returned -1 EALREADY: tls_wrap: the socket is a TLS stream already",
        ),
        ("peer_cert_before_handshake", "returned  ENOTCONN: "),
        (
            "wrap_name_type",
            "raised TypeError: tls_wrap() expects argument 3 as string, number given",
        ),
        (
            "wrap_arg_count",
            "raised ArgumentError: tls_wrap() expects 3 arguments, 1 given",
        ),
        (
            "recv_within_exact_type",
            "raised TypeError: recv_within() expects argument 4 as bool",
        ),
    ];
    for (case, want) in expect {
        let got = lines_of(&out, &format!("{case}: "));
        assert!(
            got.len() == 1 && got[0].starts_with(want),
            "{case}: expected {want:?}, got {got:?}"
        );
    }
    assert_eq!(
        out.lines().filter(|l| l.contains(": ")).count(),
        expect.len() + 1,
        "a case of tls_errors.b is not checked here:\n{out}"
    );
    assert!(out.lines().last() == Some("done"), "{out}");
}

/// Blade's TLS scripts on polysock's ssl package instead of Blade's own:
/// tls_echo_server.b and tls_echo_client.b (written for Blade's
/// TLSSocket), and libs/http's TLSServer, unchanged, serving HTTPS to
/// Python's urllib with certificate verification.
#[test]
fn blade_tls_package_runs_blade_tls_code() {
    let b = need_blade!();
    if !tls_peers_present() {
        return;
    }
    use tls_support::{cert, key};
    let (crt, k) = (cert("server"), key("server"));
    tls_echo_scripts(b, &b.tls_dir, &crt, &k, "pkg_echo");

    let port = common::unused_port().to_string();
    let log = "pkg_https_server.log";
    let mut https = spawn_blade(
        b,
        &b.tls_dir,
        &[&script("tests/tls_http_server.b"), &port, &crt, &k],
        log,
    );
    wait_for_line(b, log, "https server on", Duration::from_secs(20));
    let client = r#"
import ssl, sys, time, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
for path in ["/hello", "/stop"]:
    for attempt in range(50):
        try:
            r = urllib.request.urlopen("https://localhost:%s%s" % (sys.argv[1], path), context=ctx, timeout=10)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    print(r.status, r.read().decode())
"#;
    let (ok, out) = common::run_logged(
        Command::new("python3")
            .args(["-c", client, &port, &cert("ca")])
            .current_dir(&b.tmp),
        &b.tmp.join("pkg_https_client.log"),
        Duration::from_secs(60),
    );
    let status = common::wait_limited(&mut https, Duration::from_secs(15));
    let server_log = std::fs::read_to_string(b.tmp.join(log)).unwrap_or_default();
    println!("https client: {out}\nserver: {server_log}");
    assert!(ok, "the HTTPS client failed:\n{out}\nserver:\n{server_log}");
    assert!(
        out.contains("200 hi over tls from blade http on 127.0.0.1") && out.contains("200 bye"),
        "{out}"
    );
    assert!(
        status.is_some_and(|s| s.success()) && server_log.contains("https server stopped"),
        "the HTTPS server did not stop cleanly:\n{server_log}"
    );
}
