//! Shared by the TLS tests: certificates made for the run (rcgen), peers
//! that no one here wrote (openssl s_server/s_client, Python's ssl through
//! tests/tls_peer.py) as child processes with bounded waits, and small
//! wrappers over polysock's C ABI.

#![allow(dead_code)]

use polysock::ffi::error::{polysock_errname, polysock_errno, polysock_last_error};
use polysock::ffi::socket::*;
use polysock::ffi::tls::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

pub const LIMIT: Duration = Duration::from_secs(60);

/// The directory with every certificate and key the tests use (PEM):
/// ca, other_ca, server (localhost, 127.0.0.1, ::1), expired, notyet,
/// wronghost (other.test), selfsigned, unknown (by other_ca), client,
/// client_unknown (by other_ca); NAME.pem and NAME.key.
pub fn certs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // A child test process (POLYSOCK_TLS_TEST_CERTS set by its parent)
        // uses its parent's certificates.
        if let Some(dir) = std::env::var_os("POLYSOCK_TLS_TEST_CERTS") {
            return PathBuf::from(dir);
        }
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_orphans(tmp);
        let dir = tmp.join(format!("{CERTS_PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        make_certs(&dir);
        // The harness has no teardown, but it ends with exit(3), which runs
        // atexit handlers: the directory goes with the process.
        let _ = CREATED.set(dir.clone());
        // SAFETY: registers a plain extern "C" fn that takes no arguments.
        unsafe { libc::atexit(remove_certs) };
        dir
    })
}

const CERTS_PREFIX: &str = "tls-certs-";
static CREATED: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_certs() {
    if let Some(dir) = CREATED.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Removes what runs that were killed (no atexit) left: tls-certs-<pid>
/// directories whose process is gone.
fn remove_orphans(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(CERTS_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub fn cert(name: &str) -> String {
    certs().join(format!("{name}.pem")).display().to_string()
}

pub fn key(name: &str) -> String {
    certs().join(format!("{name}.key")).display().to_string()
}

fn ca(cn: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = p.self_signed(&key).unwrap().pem();
    (p, key, pem)
}

fn write(dir: &Path, name: &str, cert: &str, key: &KeyPair) {
    std::fs::write(dir.join(format!("{name}.pem")), cert).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

fn make_certs(dir: &Path) {
    let (ca_params, ca_key, ca_pem) = ca("polysock test CA");
    write(dir, "ca", &ca_pem, &ca_key);
    let issuer = Issuer::new(ca_params, ca_key);
    let (other_params, other_key, other_pem) = ca("Other CA");
    write(dir, "other_ca", &other_pem, &other_key);
    let other = Issuer::new(other_params, other_key);

    let leaf = |names: &[&str], cn: &str, client: bool| {
        let mut p = CertificateParams::new(
            names
                .iter()
                .filter(|n| n.parse::<std::net::IpAddr>().is_err())
                .map(|n| n.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        for n in names {
            if let Ok(ip) = n.parse() {
                p.subject_alt_names.push(SanType::IpAddress(ip));
            }
        }
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationName, "polysock tests");
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        p
    };
    let server_names = ["localhost", "127.0.0.1", "::1"];
    let make = |name: &str, p: CertificateParams, by: &Issuer<'_, KeyPair>| {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, by).unwrap();
        write(dir, name, &cert.pem(), &key);
    };
    make("server", leaf(&server_names, "localhost", false), &issuer);
    let mut p = leaf(&server_names, "localhost", false);
    p.not_before = rcgen::date_time_ymd(2019, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    make("expired", p, &issuer);
    let mut p = leaf(&server_names, "localhost", false);
    p.not_before = rcgen::date_time_ymd(2090, 1, 1);
    p.not_after = rcgen::date_time_ymd(2091, 1, 1);
    make("notyet", p, &issuer);
    make(
        "wronghost",
        leaf(&["other.test"], "other.test", false),
        &issuer,
    );
    make("unknown", leaf(&server_names, "localhost", false), &other);
    make("client", leaf(&[], "polysock client", true), &issuer);
    make("client_unknown", leaf(&[], "stranger", true), &other);
    let key = KeyPair::generate().unwrap();
    let cert = leaf(&server_names, "localhost", false)
        .self_signed(&key)
        .unwrap();
    write(dir, "selfsigned", &cert.pem(), &key);
}

/// A peer process: its output lines arrive on a channel (read by a
/// thread), so every wait is bounded; killed when dropped.
pub struct Peer {
    child: Child,
    lines: Receiver<String>,
    pub stdin: Option<ChildStdin>,
    pub name: String,
    /// The threads reading its output (joined on drop, so their pipe ends
    /// are closed when the Peer is gone).
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Peer {
    pub fn spawn(mut cmd: Command, name: &str) -> Peer {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        let readers = vec![
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(|l| l.ok()) {
                    let _ = tx.send(l);
                }
            }),
            std::thread::spawn(move || {
                for l in BufReader::new(err).lines().map_while(|l| l.ok()) {
                    let _ = tx2.send(format!("stderr: {l}"));
                }
            }),
        ];
        Peer {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            name: name.to_string(),
            readers,
        }
    }

    /// The first line starting with `prefix`, within LIMIT.
    pub fn line(&self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(e) => panic!("{}: no line starting {prefix:?} ({e})", self.name),
            }
        }
    }

    /// Every line up to and including the first that `end` accepts
    /// (within LIMIT).
    pub fn until(&self, end: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = std::time::Instant::now() + LIMIT;
        let mut all = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let last = end(&l);
                    all.push(l);
                    if last {
                        return all;
                    }
                }
                Err(e) => panic!("{}: no last line ({e}) after {all:?}", self.name),
            }
        }
    }

    /// Every line until the process ends (within LIMIT).
    pub fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let mut all = Vec::new();
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(l) => all.push(l),
                Err(_) if self.child.try_wait().unwrap().is_some() => {
                    while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                        all.push(l);
                    }
                    return all;
                }
                Err(_) if left.is_zero() => panic!("{} did not end: {all:?}", self.name),
                Err(_) => {}
            }
        }
    }

    pub fn send_stdin(&mut self, data: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(data).unwrap();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// The value of "key value" among a peer's lines.
pub fn value<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
}

/// tests/tls_peer.py with `args`.
/// `openssl s_client` to 127.0.0.1:`port`: trusts the tests' CA, fails on
/// a verification error, sends SNI localhost, and speaks stdin/stdout
/// (-quiet); callers add their own flags.
pub fn s_client(port: i32) -> Command {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-CAfile", &cert("ca"), "-servername", "localhost"])
        .args(["-verify_return_error", "-quiet"]);
    cmd
}

pub fn python(args: &[&str]) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_peer.py"))
        .args(args);
    Peer::spawn(cmd, &format!("tls_peer.py {args:?}"))
}

/// A Python TLS server: the peer and its port.
pub fn python_server(server: &str, mode: &str, extra: &[&str]) -> (Peer, i32) {
    let (c, k) = (cert(server), key(server));
    let mut args = vec!["server", c.as_str(), mode, "--key", k.as_str()];
    args.extend_from_slice(extra);
    let p = python(&args);
    let port = p.line("PORT ")[5..].trim().parse().unwrap();
    (p, port)
}

/// The same bytes tls_peer.py's `pattern` makes.
pub fn pattern(n: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..65536usize)
        .map(|i| ((i * 7 + 3) & 0xff) as u8)
        .collect();
    block.iter().copied().cycle().take(n).collect()
}

pub fn sha256(data: &[u8]) -> String {
    use std::io::Read;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    let mut stdin = child.stdin.take().unwrap();
    let owned = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&owned));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    w.join().unwrap().unwrap();
    child.wait().unwrap();
    out.split_whitespace().next().unwrap().to_string()
}

// ---- polysock through its C ABI ----

pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(polysock_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub fn errname() -> String {
    unsafe { CStr::from_ptr(polysock_errname(polysock_errno())) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts that `r` is -1 with `code`, and returns the message.
#[track_caller]
pub fn expect_err(r: i64, code: i32) -> String {
    let msg = last_error();
    assert_eq!(r, -1, "expected failure with {code}, got {r}");
    assert_eq!(polysock_errno(), code, "got {} ({msg})", errname());
    assert!(!msg.is_empty());
    msg
}

#[track_caller]
pub fn ok(r: i64) -> i64 {
    assert!(r >= 0, "failed: {} ({})", last_error(), errname());
    r
}

/// A client config trusting the test CA only.
pub fn client_config() -> polysock_tls_config_t {
    let cfg = ok(polysock_tls_config_new(
        polysock::core::tls::POLYSOCK_TLS_CLIENT,
    ));
    ok(polysock_tls_config_system_roots(cfg, 0) as i64);
    ok(polysock_tls_config_add_ca_file(cfg, c(&cert("ca")).as_ptr()) as i64);
    cfg
}

/// A server config with `name`'s certificate.
pub fn server_config(name: &str) -> polysock_tls_config_t {
    let cfg = ok(polysock_tls_config_new(
        polysock::core::tls::POLYSOCK_TLS_SERVER,
    ));
    ok(polysock_tls_config_cert_file(cfg, c(&cert(name)).as_ptr(), c(&key(name)).as_ptr()) as i64);
    cfg
}

/// A TCP connection to 127.0.0.1:port with `timeout_ms`.
pub fn connect(port: i32, timeout_ms: i64) -> polysock_t {
    let s = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    ok(polysock_settimeout(s, timeout_ms) as i64);
    ok(polysock_connect(s, c("127.0.0.1").as_ptr(), port) as i64);
    s
}

/// A listener on 127.0.0.1 and its port.
pub fn listen() -> (polysock_t, i32) {
    let s = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    ok(polysock_bind(s, c("127.0.0.1").as_ptr(), 0) as i64);
    ok(polysock_listen(s, 8) as i64);
    let mut a = polysock::core::addr::Addr::empty();
    ok(polysock_getsockname(s, &mut a) as i64);
    (s, a.port)
}

pub fn text(f: impl Fn(*mut std::ffi::c_char, usize) -> i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    ok(f(buf.as_mut_ptr(), buf.len()) as i64);
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Whether this is the child process that runs `test` alone (for what is
/// process-wide: open fds, environment variables). The parent runs the
/// test binary again for just that test, with `env` set, asserts it passed
/// and returns false; the child, where this returns true, runs the body.
pub fn alone(test: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var("POLYSOCK_TLS_CHILD").is_ok_and(|t| t == test) {
        return true;
    }
    let dir = certs();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("POLYSOCK_TLS_CHILD", test)
        .env("POLYSOCK_TLS_TEST_CERTS", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} in its own process: {text}"
    );
    false
}

/// The number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
