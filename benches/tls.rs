//! `cargo bench --bench tls`: TLS 1.3 over loopback, polysock (rustls,
//! ring) against OpenSSL (Python's ssl module), in one run.
//!
//! Both clients talk to the same server, an OpenSSL one
//! (benches/tls_openssl.py), so what differs is the client's TLS: bulk
//! (one connection sending POLYSOCK_BENCH_TLS_MIB, default 256 MiB, and
//! waiting for the server's "ok") and handshakes (full TLS 1.3 handshakes
//! plus one round trip, sequentially, TCP_NODELAY on both sides). Each
//! client makes its configuration once, as an application would (Python's
//! SSLContext; polysock's config, whose rustls config is built on the
//! first wrap); the server issues no tickets, so nothing resumes.
//! POLYSOCK_BENCH_TLS_CONFIG_PER_CONNECTION=1 makes polysock build one
//! per connection instead (what this bench did before: CA file read and
//! parsed, verifier built, every time).
//! POLYSOCK_BENCH_HANDSHAKES sets the count (default 200);
//! POLYSOCK_BENCH_TLS_ONLY=polysock skips the OpenSSL client (for
//! `valgrind --tool=callgrind --toggle-collect=polysock_tls_handshake`;
//! OpenSSL's side: `--toggle-collect=SSL_do_handshake` on
//! `python3 benches/tls_openssl.py client ...`).
//! Rounds alternate which client goes first (A B, B A, ...); the table
//! gives medians and spreads ((max-min)/median). The OpenSSL client runs
//! in Python: its per-call overhead is in its figures (small for 64 KiB
//! writes, visible in handshakes/s).
//!
//! The server side: one client, OpenSSL's (Python's ssl, `rev` mode of
//! tls_openssl.py: full TLS 1.3 handshake, "ko\n" sent, "ok\n" read back),
//! makes the same sequential connections to a polysock server (a thread of
//! this process: accept, wrap, handshake, readline, the line reversed,
//! close_notify) and to `openssl s_server -rev` (C, no tickets either), in
//! alternating order. Both servers use the same P-256 certificate.
//! POLYSOCK_BENCH_TLS_ONLY=server runs the polysock server alone (for
//! `valgrind --tool=callgrind --toggle-collect=polysock_tls_handshake`: the
//! client is another process, so only the server's handshakes count).

use polysock::core::tls::{POLYSOCK_TLS_1_3, POLYSOCK_TLS_CLIENT, POLYSOCK_TLS_SERVER};
use polysock::ffi::io::*;
use polysock::ffi::socket::*;
use polysock::ffi::tls::*;
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn certs(dir: &Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "bench CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let pem = leaf.signed_by(&key, &issuer).unwrap().pem();
    std::fs::create_dir_all(dir).unwrap();
    let p = |n: &str| dir.join(n).display().to_string();
    std::fs::write(p("ca.pem"), ca_pem).unwrap();
    std::fs::write(p("server.pem"), pem).unwrap();
    std::fs::write(p("server.key"), key.serialize_pem()).unwrap();
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

fn check(r: i64, what: &str) -> i64 {
    if r < 0 {
        let m = unsafe { std::ffi::CStr::from_ptr(polysock::ffi::error::polysock_last_error()) };
        panic!("{what}: {}", m.to_string_lossy());
    }
    r
}

fn client_config(ca: &CString) -> i64 {
    let cfg = check(polysock_tls_config_new(POLYSOCK_TLS_CLIENT), "config");
    check(polysock_tls_config_system_roots(cfg, 0) as i64, "roots");
    check(
        polysock_tls_config_add_ca_file(cfg, ca.as_ptr()) as i64,
        "ca",
    );
    cfg
}

/// One polysock connection sending `bytes` (after their 8-byte length).
fn polysock_one(port: i32, cfg: i64, bytes: usize, chunk: &[u8]) {
    let s = check(
        polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0),
        "socket",
    );
    polysock_settimeout(s, 60_000);
    // Both sides write small messages: no Nagle delay, as on the other side.
    polysock::ffi::options::polysock_setopt(s, polysock::core::options::POLYSOCK_OPT_NODELAY, 1);
    check(
        polysock_connect(s, c"127.0.0.1".as_ptr(), port) as i64,
        "connect",
    );
    check(
        polysock_tls_wrap(s, cfg, c"localhost".as_ptr()) as i64,
        "wrap",
    );
    // Explicit, so that a profile can single it out (see the top).
    check(polysock_tls_handshake(s) as i64, "handshake");
    let head = (bytes as u64).to_be_bytes();
    check(
        polysock_sendall(s, head.as_ptr().cast(), 8, 0, std::ptr::null_mut()),
        "send",
    );
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        check(
            polysock_sendall(s, chunk.as_ptr().cast(), n, 0, std::ptr::null_mut()),
            "send",
        );
        left -= n;
    }
    let mut ok = [0u8; 2];
    check(
        polysock_recv_exact(s, ok.as_mut_ptr().cast(), 2, 0, std::ptr::null_mut()),
        "recv",
    );
    assert_eq!(&ok, b"ok");
    assert_eq!(polysock_tls_version(s), POLYSOCK_TLS_1_3);
    polysock_close(s);
}

/// `n` sequential handshakes (each with one round trip); a config per
/// connection when `per_connection`.
#[inline(never)]
fn handshakes(port: i32, ca: &CString, cfg: i64, n: usize, per_connection: bool) {
    for _ in 0..n {
        if per_connection {
            let c = client_config(ca);
            polysock_one(port, c, 0, &[]);
            polysock_tls_config_free(c);
        } else {
            polysock_one(port, cfg, 0, &[]);
        }
    }
}

fn openssl_client(script: &Path, port: i32, ca: &str, mode: &str, n: usize) -> f64 {
    let out = Command::new("python3")
        .arg(script)
        .args(["client", &port.to_string(), ca, mode, &n.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// polysock's TLS server until `stop`: per connection, handshake, one line
/// read and sent back reversed, close_notify. Returns its port.
fn polysock_server(
    cert: &str,
    key: &str,
    stop: Arc<AtomicBool>,
) -> (i32, std::thread::JoinHandle<()>) {
    let cfg = check(polysock_tls_config_new(POLYSOCK_TLS_SERVER), "config");
    let (cert, key) = (CString::new(cert).unwrap(), CString::new(key).unwrap());
    check(
        polysock_tls_config_cert_file(cfg, cert.as_ptr(), key.as_ptr()) as i64,
        "cert",
    );
    check(polysock_tls_config_resumption(cfg, 0) as i64, "resumption");
    let lst = check(
        polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0),
        "socket",
    );
    check(polysock_bind(lst, c"127.0.0.1".as_ptr(), 0) as i64, "bind");
    check(polysock_listen(lst, 64) as i64, "listen");
    let mut a = polysock::core::addr::Addr::empty();
    check(polysock_getsockname(lst, &mut a) as i64, "getsockname");
    // A short accept timeout, so that the thread sees `stop`.
    polysock_settimeout(lst, 200);
    let t = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let s = polysock_accept(lst, std::ptr::null_mut());
            if s < 0 {
                continue;
            }
            polysock_settimeout(s, 60_000);
            polysock::ffi::options::polysock_setopt(
                s,
                polysock::core::options::POLYSOCK_OPT_NODELAY,
                1,
            );
            serve_one(s, cfg);
            polysock_close(s);
        }
        polysock_close(lst);
        polysock_tls_config_free(cfg);
    });
    (a.port, t)
}

#[inline(never)]
fn serve_one(s: polysock_t, cfg: i64) {
    check(polysock_tls_wrap_server(s, cfg) as i64, "wrap_server");
    // Explicit, so that a profile can single it out (see the top).
    check(polysock_tls_handshake(s) as i64, "server handshake");
    let mut line = [0u8; 64];
    let mut n = 0usize;
    check(
        polysock::ffi::reader::polysock_readline(s, line.as_mut_ptr().cast(), line.len(), &mut n)
            as i64,
        "readline",
    );
    let mut back: Vec<u8> = line[..n.saturating_sub(1)].iter().rev().copied().collect();
    back.push(b'\n');
    check(
        polysock_sendall(s, back.as_ptr().cast(), back.len(), 0, std::ptr::null_mut()),
        "send",
    );
    // The client may be gone already (it closes once it has the line).
    polysock_shutdown(s, libc::SHUT_RDWR);
}

/// A child process killed when this goes, however the bench ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server -rev` on a free port, once it accepts connections.
fn s_server(cert: &str, key: &str) -> (i32, Killed) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new("openssl")
        .args(["s_server", "-rev", "-quiet", "-tls1_3", "-num_tickets", "0"])
        .args([
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            cert,
            "-key",
            key,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    let child = Killed(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (i32::from(port), child)
}

/// Server handshakes/s, polysock's and s_server's, with OpenSSL's client.
fn server_side(
    script: &Path,
    ca: &str,
    cert: &str,
    key: &str,
    rounds: usize,
    count: usize,
    only_polysock: bool,
) -> (Vec<f64>, Vec<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (pport, thread) = polysock_server(cert, key, stop.clone());
    let mut openssl = (!only_polysock).then(|| s_server(cert, key));
    let (mut p, mut o) = (vec![], vec![]);
    for r in 0..rounds {
        for side in [r % 2, 1 - r % 2] {
            if side == 0 {
                p.push(count as f64 / openssl_client(script, pport, ca, "rev", count));
            } else if let Some((oport, _)) = &openssl {
                o.push(count as f64 / openssl_client(script, *oport, ca, "rev", count));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    drop(openssl.take());
    (p, o)
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = v[v.len() / 2];
    (med, (v[v.len() - 1] - v[0]) / med * 100.0)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("benches/tls_openssl.py");
    let dir = root.join("target/tls-bench");
    let (ca, cert, key) = certs(&dir);
    let rounds: usize = std::env::var("POLYSOCK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mib: usize = std::env::var("POLYSOCK_BENCH_TLS_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let env = |name: &str| std::env::var(name).ok();
    let count: usize = env("POLYSOCK_BENCH_HANDSHAKES").map_or(200, |v| v.parse().unwrap());
    let per_connection = env("POLYSOCK_BENCH_TLS_CONFIG_PER_CONNECTION").is_some_and(|v| v == "1");
    let only_polysock = env("POLYSOCK_BENCH_TLS_ONLY").is_some_and(|v| v == "polysock");
    if env("POLYSOCK_BENCH_TLS_ONLY").is_some_and(|v| v == "server") {
        let (mut p, _) = server_side(&script, &ca, &cert, &key, rounds, count, true);
        let _ = std::fs::remove_dir_all(&dir);
        let (pm, ps) = stats(&mut p);
        println!("polysock server only: {pm:.0} handshakes/s, spread {ps:.0}%");
        return;
    }
    let mut server = Command::new("python3")
        .arg(&script)
        .args(["server", &cert, &key])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: i32 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    let cca = CString::new(ca.clone()).unwrap();
    let cfg = client_config(&cca);
    let chunk = vec![0u8; 1 << 16];
    let bytes = mib << 20;
    let (mut pb, mut ob, mut ph, mut oh) = (vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        for side in [r % 2, 1 - r % 2] {
            if side == 0 {
                let t = Instant::now();
                polysock_one(port, cfg, bytes, &chunk);
                pb.push(mib as f64 / t.elapsed().as_secs_f64());
                let t = Instant::now();
                handshakes(port, &cca, cfg, count, per_connection);
                ph.push(count as f64 / t.elapsed().as_secs_f64());
            } else if !only_polysock {
                ob.push(mib as f64 / openssl_client(&script, port, &ca, "bulk", bytes));
                oh.push(count as f64 / openssl_client(&script, port, &ca, "hs", count));
            }
        }
    }
    polysock_tls_config_free(cfg);
    let _ = server.kill();
    let _ = server.wait();
    let (mut sp, mut so) = if only_polysock {
        (vec![], vec![])
    } else {
        server_side(&script, &ca, &cert, &key, rounds, count, false)
    };
    let _ = std::fs::remove_dir_all(&dir);
    if only_polysock {
        let (pm, ps) = stats(&mut ph);
        println!("polysock only: {pm:.0} handshakes/s, spread {ps:.0}%");
        return;
    }
    let how = if per_connection {
        "a config per connection"
    } else {
        "one config"
    };
    println!(
        "TLS 1.3 over loopback, {rounds} rounds (interleaved), server: OpenSSL (Python ssl); polysock: {how}"
    );
    println!(
        "| case | polysock (rustls) | spread | OpenSSL (Python ssl) | spread | polysock/OpenSSL |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, unit, p, o) in [
        (format!("bulk {mib} MiB"), "MiB/s", &mut pb, &mut ob),
        (format!("handshakes ({count})"), "/s", &mut ph, &mut oh),
    ] {
        let ((pm, ps), (om, os)) = (stats(p), stats(o));
        println!(
            "| {name} | {pm:.0} {unit} | {ps:.0}% | {om:.0} {unit} | {os:.0}% | {:.2} |",
            pm / om
        );
    }
    let ((pm, ps), (om, os)) = (stats(&mut sp), stats(&mut so));
    println!();
    println!(
        "Server side: the same client (OpenSSL, Python ssl, one line each way) against each server"
    );
    println!("| case | polysock server | spread | openssl s_server | spread | polysock/OpenSSL |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| server handshakes ({count}) | {pm:.0} /s | {ps:.0}% | {om:.0} /s | {os:.0}% | {:.2} |",
        pm / om
    );
}
