//! The network misbehaving, through polysock's C ABI: a fault proxy on
//! loopback (tests/common/fault_proxy.rs) resets, truncates, stalls,
//! trickles and delays streams under sendall, recv_exact, readline,
//! sendfile and TLS; tc tbf and blackhole routes do the rest inside a
//! network namespace each test makes for itself. Each case checks that the
//! progress count equals what the peer really got (same bytes, same
//! checksum), that the code is the right one, and that timeouts hold
//! within ±20%; `no_fd_is_leaked` runs them again in a process of its own
//! and counts its descriptors.

#[path = "common/alone.rs"]
mod alone;
mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
mod tls_support;

use alone::{alone, open_fds, own_netns, sh};
use fault_proxy::{Dir, Fault, Proxy, checksum, data, sink, source};
use polysock::core::error::{POLYSOCK_EEOF, POLYSOCK_ETLS_TRUNCATED};
use polysock::ffi::error::polysock_errno;
use polysock::ffi::io::*;
use polysock::ffi::reader::polysock_readline;
use polysock::ffi::sendfile::polysock_sendfile;
use polysock::ffi::socket::*;
use polysock::ffi::tls::*;
use std::time::{Duration, Instant};
use tls_support::{c, client_config, connect, expect_err, last_error, ok, server_config};

const TIMEOUT_MS: i64 = 1000;

/// Asserts that `elapsed` is the timeout, ±20%.
#[track_caller]
fn within_20_percent(elapsed: Duration, ms: i64) {
    let e = elapsed.as_secs_f64() * 1000.0;
    let ms = ms as f64;
    assert!(
        e >= ms * 0.8 && e <= ms * 1.2,
        "timeout of {ms} ms took {e:.0} ms"
    );
}

/// sendall into a peer that stops reading: ETIMEDOUT on time, and `sent`
/// is exactly what the peer gets once it reads again.
fn sendall_stalled() {
    let (up, sink) = sink();
    let proxy = Proxy::start(
        up,
        Dir::Up,
        Fault::Stall {
            after: 1 << 20,
            ms: 1500,
        },
    );
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let buf = data(64 << 20);
    let mut sent = 0usize;
    let t = Instant::now();
    let r = polysock_sendall(s, buf.as_ptr().cast(), buf.len(), 0, &mut sent);
    let elapsed = t.elapsed();
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(elapsed, TIMEOUT_MS);
    assert!(sent > 1 << 20 && sent < buf.len(), "sent {sent}");
    ok(polysock_close(s) as i64);
    let (n, sum, _) = sink.join().unwrap();
    assert_eq!(n, sent, "the peer got {n} bytes, sendall reported {sent}");
    assert_eq!(sum, checksum(&buf[..sent]));
    assert_eq!(proxy.finish().up as usize, sent);
}

/// sendall into a connection reset mid-stream: ECONNRESET (or EPIPE when
/// the reset was seen by an earlier send), and the peer got a prefix.
fn sendall_reset() {
    let (up, sink) = sink();
    let proxy = Proxy::start(up, Dir::Up, Fault::Reset { after: 1 << 20 });
    let s = connect(proxy.port as i32, 10_000);
    let buf = data(64 << 20);
    let mut sent = 0usize;
    let r = polysock_sendall(s, buf.as_ptr().cast(), buf.len(), 0, &mut sent);
    let code = polysock_errno();
    assert_eq!(r, -1, "sendall of 64 MiB through a reset succeeded");
    assert!(
        code == libc::ECONNRESET || code == libc::EPIPE,
        "got {code}: {}",
        last_error()
    );
    assert!(sent >= 1 << 20 && sent < buf.len(), "sent {sent}");
    // Later sends fail too, with EPIPE.
    expect_err(polysock_send(s, buf.as_ptr().cast(), 10, 0), libc::EPIPE);
    ok(polysock_close(s) as i64);
    let (n, sum, _) = sink.join().unwrap();
    assert_eq!(n, 1 << 20);
    assert_eq!(sum, checksum(&buf[..n]));
    proxy.finish();
}

/// recv_exact of a stream cut short: POLYSOCK_EEOF, `received` is what
/// came, and those bytes are right.
fn recv_exact_truncated() {
    let want = data(1 << 20);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Truncate { after: 300_001 });
    let s = connect(proxy.port as i32, 10_000);
    let mut buf = vec![0u8; want.len()];
    let mut got = 0usize;
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), buf.len(), 0, &mut got);
    let m = expect_err(r, POLYSOCK_EEOF);
    assert!(m.contains("300001 of 1048576"), "{m}");
    assert_eq!(got, 300_001);
    assert_eq!(checksum(&buf[..got]), checksum(&want[..got]));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

/// recv_exact on a connection reset mid-stream: ECONNRESET, and what was
/// stored is a prefix of what was sent.
fn recv_exact_reset() {
    let want = data(1 << 20);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Reset { after: 300_001 });
    let s = connect(proxy.port as i32, 10_000);
    let mut buf = vec![0u8; want.len()];
    let mut got = 0usize;
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), buf.len(), 0, &mut got);
    expect_err(r, libc::ECONNRESET);
    assert!(got <= 300_001, "got {got}");
    assert_eq!(checksum(&buf[..got]), checksum(&want[..got]));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

/// recv_exact on a stalled stream: ETIMEDOUT on time with what came, then
/// the rest once the stream resumes: nothing lost, nothing twice.
fn recv_exact_stalled() {
    let want = data(1 << 20);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(
        up,
        Dir::Down,
        Fault::Stall {
            after: 100_000,
            ms: 1500,
        },
    );
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let mut buf = vec![0u8; want.len()];
    let mut got = 0usize;
    let t = Instant::now();
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), buf.len(), 0, &mut got);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert_eq!(got, 100_000);
    ok(polysock_settimeout(s, 10_000) as i64);
    let mut rest = 0usize;
    ok(polysock_recv_exact(
        s,
        buf[got..].as_mut_ptr().cast(),
        want.len() - got,
        0,
        &mut rest,
    ));
    assert_eq!(got + rest, want.len());
    assert_eq!(checksum(&buf), checksum(&want));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

/// One byte per segment: recv_exact assembles them; a trickle that never
/// stops still ends at the deadline (one deadline for the whole call, not
/// one per receive).
fn recv_exact_trickle() {
    let want = data(20_000);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Bytewise { gap_us: 0 });
    let s = connect(proxy.port as i32, 10_000);
    let mut buf = vec![0u8; want.len()];
    ok(polysock_recv_exact(
        s,
        buf.as_mut_ptr().cast(),
        buf.len(),
        0,
        std::ptr::null_mut(),
    ));
    assert!(buf == want);
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();

    let want = data(4000);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Bytewise { gap_us: 1000 });
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let mut got = 0usize;
    let t = Instant::now();
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), want.len(), 0, &mut got);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(got > 0 && got < want.len(), "got {got}");
    assert_eq!(checksum(&buf[..got]), checksum(&want[..got]));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

/// A delay below the timeout costs time, not data; one above it is a
/// timeout.
fn recv_exact_delayed() {
    let want = data(100_000);
    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Delay { ms: 400 });
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let mut buf = vec![0u8; want.len()];
    let t = Instant::now();
    ok(polysock_recv_exact(
        s,
        buf.as_mut_ptr().cast(),
        buf.len(),
        0,
        std::ptr::null_mut(),
    ));
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert!(buf == want);
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();

    let (up, src) = source(want.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Delay { ms: 1500 });
    let s = connect(proxy.port as i32, 500);
    let t = Instant::now();
    let r = polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), 500);
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

fn lines() -> Vec<u8> {
    (0..300)
        .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
        .collect()
}

/// Every line until end of stream, as text (the lines are ASCII, and a
/// failure then shows lines, not bytes).
fn readline_all(s: polysock_t) -> Result<Vec<String>, i32> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let mut n = 0usize;
        if polysock_readline(s, buf.as_mut_ptr().cast(), buf.len(), &mut n) != 0 {
            return Err(polysock_errno());
        }
        if n == 0 {
            return Ok(out);
        }
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

fn split_lines(b: &[u8]) -> Vec<String> {
    b.split_inclusive(|&c| c == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// readline over one byte per segment, over a stream cut mid-line, and
/// over a reset.
fn readline_faults() {
    let text = lines();
    let (up, src) = source(text.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Bytewise { gap_us: 0 });
    let s = connect(proxy.port as i32, 10_000);
    assert_eq!(readline_all(s), Ok(split_lines(&text)));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();

    // Cut inside line 200: the lines before it, then its start without
    // '\n', then the end.
    let cut = text.len() * 2 / 3 + 3;
    assert_ne!(text[cut - 1], b'\n');
    let (up, src) = source(text.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Truncate { after: cut });
    let s = connect(proxy.port as i32, 10_000);
    assert_eq!(readline_all(s), Ok(split_lines(&text[..cut])));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();

    let (up, src) = source(text.clone());
    let proxy = Proxy::start(up, Dir::Down, Fault::Reset { after: cut });
    let s = connect(proxy.port as i32, 10_000);
    assert_eq!(readline_all(s).err(), Some(libc::ECONNRESET));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

/// readline on a stream stalled mid-line: ETIMEDOUT on time, and the line
/// comes whole once the stream resumes (what came was kept).
fn readline_stalled() {
    let text = lines();
    let cut = text.len() / 2 + 3;
    let (up, src) = source(text.clone());
    let proxy = Proxy::start(
        up,
        Dir::Down,
        Fault::Stall {
            after: cut,
            ms: 1500,
        },
    );
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let want = split_lines(&text);
    let before = split_lines(&text[..cut]).len() - 1;
    let mut buf = vec![0u8; 4096];
    for line in &want[..before] {
        let mut n = 0usize;
        ok(polysock_readline(s, buf.as_mut_ptr().cast(), buf.len(), &mut n) as i64);
        assert_eq!(String::from_utf8_lossy(&buf[..n]), line.as_str());
    }
    let mut n = 0usize;
    let t = Instant::now();
    let r = polysock_readline(s, buf.as_mut_ptr().cast(), buf.len(), &mut n);
    expect_err(r as i64, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    ok(polysock_settimeout(s, 10_000) as i64);
    assert_eq!(readline_all(s), Ok(want[before..].to_vec()));
    ok(polysock_close(s) as i64);
    proxy.finish();
    src.join().unwrap();
}

fn temp_file(name: &str, bytes: &[u8]) -> (std::fs::File, std::path::PathBuf) {
    let path = common::tmp_dir("faults").join(format!("{name}.{}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    (std::fs::File::open(&path).unwrap(), path)
}

/// sendfile into a stalled peer, then into a reset: as sendall.
fn sendfile_faults() {
    use std::os::fd::AsRawFd;
    let bytes = data(48 << 20);
    let (file, path) = temp_file("sendfile", &bytes);

    let (up, sink_t) = sink();
    let proxy = Proxy::start(
        up,
        Dir::Up,
        Fault::Stall {
            after: 1 << 20,
            ms: 1500,
        },
    );
    let s = connect(proxy.port as i32, TIMEOUT_MS);
    let mut sent = 0usize;
    let t = Instant::now();
    let r = polysock_sendfile(s, file.as_raw_fd(), 0, bytes.len(), &mut sent);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(sent > 1 << 20 && sent < bytes.len(), "sent {sent}");
    ok(polysock_close(s) as i64);
    let (n, sum, _) = sink_t.join().unwrap();
    assert_eq!(n, sent, "the peer got {n} bytes, sendfile reported {sent}");
    assert_eq!(sum, checksum(&bytes[..sent]));
    proxy.finish();

    let (up, sink_t) = sink();
    let proxy = Proxy::start(up, Dir::Up, Fault::Reset { after: 1 << 20 });
    let s = connect(proxy.port as i32, 10_000);
    let r = polysock_sendfile(s, file.as_raw_fd(), 0, bytes.len(), &mut sent);
    let code = polysock_errno();
    assert_eq!(r, -1);
    assert!(
        code == libc::ECONNRESET || code == libc::EPIPE,
        "got {code}: {}",
        last_error()
    );
    assert!(sent >= 1 << 20 && sent < bytes.len(), "sent {sent}");
    ok(polysock_close(s) as i64);
    let (n, sum, _) = sink_t.join().unwrap();
    assert_eq!(n, 1 << 20);
    assert_eq!(sum, checksum(&bytes[..n]));
    proxy.finish();
    drop(file);
    std::fs::remove_file(path).unwrap();
}

/// A polysock TLS server on loopback that sends `n` bytes of `data` and
/// closes with close_notify; what it managed to send.
fn tls_server(n: usize) -> (u16, std::thread::JoinHandle<i64>) {
    let (lst, port) = tls_support::listen();
    let t = std::thread::spawn(move || {
        let cfg = server_config("server");
        let s = polysock_accept(lst, std::ptr::null_mut());
        polysock_close(lst);
        assert!(s >= 0, "{}", last_error());
        polysock_settimeout(s, 10_000);
        let mut sent = 0usize;
        let buf = data(n);
        if polysock_tls_wrap_server(s, cfg) == 0 {
            polysock_sendall(s, buf.as_ptr().cast(), n, 0, &mut sent);
            polysock_shutdown(s, libc::SHUT_RDWR);
        }
        polysock_close(s);
        polysock_tls_config_free(cfg);
        sent as i64
    });
    (port as u16, t)
}

fn tls_client(port: u16, timeout_ms: i64) -> (polysock_t, polysock_tls_config_t) {
    let cfg = client_config();
    let s = connect(port as i32, timeout_ms);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    (s, cfg)
}

/// TLS through the proxy: a handshake and data one byte per segment, a
/// stream cut without close_notify (POLYSOCK_ETLS_TRUNCATED), a reset
/// (ECONNRESET), a stall (ETIMEDOUT on time).
fn tls_faults() {
    let n = 20_000;
    let want = data(400_000);
    let mut buf = vec![0u8; want.len()];

    let (up, server) = tls_server(n);
    let proxy = Proxy::start(up, Dir::Down, Fault::Bytewise { gap_us: 0 });
    let (s, cfg) = tls_client(proxy.port, 10_000);
    let mut got = 0usize;
    ok(polysock_recv_exact(
        s,
        buf.as_mut_ptr().cast(),
        n,
        0,
        &mut got,
    ));
    assert!(buf[..n] == want[..n]);
    assert_eq!(
        polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0),
        0,
        "{}",
        last_error()
    );
    polysock_close(s);
    polysock_tls_config_free(cfg);
    assert_eq!(server.join().unwrap(), n as i64);
    proxy.finish();

    let (up, server) = tls_server(want.len());
    let proxy = Proxy::start(up, Dir::Down, Fault::Truncate { after: 200_000 });
    let (s, cfg) = tls_client(proxy.port, 10_000);
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), want.len(), 0, &mut got);
    expect_err(r, POLYSOCK_ETLS_TRUNCATED);
    assert!(got > 0 && got < 200_000, "got {got}");
    assert!(buf[..got] == want[..got]);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    server.join().unwrap();
    proxy.finish();

    let (up, server) = tls_server(want.len());
    let proxy = Proxy::start(up, Dir::Down, Fault::Reset { after: 200_000 });
    let (s, cfg) = tls_client(proxy.port, 10_000);
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), want.len(), 0, &mut got);
    expect_err(r, libc::ECONNRESET);
    assert!(got < 200_000, "got {got}");
    assert!(buf[..got] == want[..got]);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    server.join().unwrap();
    proxy.finish();

    let (up, server) = tls_server(want.len());
    let proxy = Proxy::start(
        up,
        Dir::Down,
        Fault::Stall {
            after: 100_000,
            ms: 1500,
        },
    );
    let (s, cfg) = tls_client(proxy.port, TIMEOUT_MS);
    ok(polysock_tls_handshake(s) as i64);
    let t = Instant::now();
    let r = polysock_recv_exact(s, buf.as_mut_ptr().cast(), want.len(), 0, &mut got);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(got > 0 && got < 100_000, "got {got}");
    assert!(buf[..got] == want[..got]);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    server.join().unwrap();
    proxy.finish();
}

#[test]
fn sendall_into_a_stalled_peer() {
    sendall_stalled();
}

#[test]
fn sendall_into_a_reset() {
    sendall_reset();
}

#[test]
fn recv_exact_of_a_truncated_stream() {
    recv_exact_truncated();
}

#[test]
fn recv_exact_on_a_reset() {
    recv_exact_reset();
}

#[test]
fn recv_exact_on_a_stall() {
    recv_exact_stalled();
}

#[test]
fn recv_exact_on_a_trickle() {
    recv_exact_trickle();
}

#[test]
fn recv_exact_with_delay() {
    recv_exact_delayed();
}

#[test]
fn readline_under_faults() {
    readline_faults();
}

#[test]
fn readline_on_a_stall() {
    readline_stalled();
}

#[test]
fn sendfile_under_faults() {
    sendfile_faults();
}

#[test]
fn tls_under_faults() {
    tls_faults();
}

/// Every scenario again, one after the other in a process of its own:
/// after each, as many descriptors are open as before.
#[test]
fn no_fd_is_leaked() {
    if !alone("no_fd_is_leaked", Duration::from_secs(60)) {
        return;
    }
    // The certificates, the TLS configs' first use, thread-locals: once.
    recv_exact_truncated();
    let cases: [(&str, fn()); 6] = [
        ("sendall_reset", sendall_reset),
        ("recv_exact_truncated", recv_exact_truncated),
        ("recv_exact_reset", recv_exact_reset),
        ("readline_faults", readline_faults),
        ("sendfile_faults", sendfile_faults),
        ("tls_faults", tls_faults),
    ];
    for (name, case) in cases {
        let before = open_fds();
        case();
        assert_eq!(open_fds(), before, "{name} leaked descriptors");
    }
}

/// A rate limit (tc tbf on `lo`, in a namespace of the test's own): a
/// sendall bigger than a second's worth ends at its timeout, and `sent`
/// is what the peer got.
#[test]
fn sendall_through_a_rate_limit() {
    if !alone("sendall_through_a_rate_limit", Duration::from_secs(30)) || !own_netns() {
        return;
    }
    sh(&[
        "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "16mbit", "burst", "256kb",
        "latency", "1s",
    ]);
    let (up, sink_t) = sink();
    let s = connect(up as i32, TIMEOUT_MS);
    // A small send buffer: what is queued drains in a moment afterwards.
    let size = 256 << 10;
    ok(
        polysock::ffi::options::polysock_setsockopt_int(s, libc::SOL_SOCKET, libc::SO_SNDBUF, size)
            as i64,
    );
    let buf = data(16 << 20);
    let mut sent = 0usize;
    let t = Instant::now();
    let r = polysock_sendall(s, buf.as_ptr().cast(), buf.len(), 0, &mut sent);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(sent > 0 && sent < buf.len(), "sent {sent}");
    // Unlimited, loopback takes 16 MiB in milliseconds.
    assert!(sent < 8 << 20, "sent {sent}: no rate limit");
    ok(polysock_close(s) as i64);
    let (n, sum, _) = sink_t.join().unwrap();
    assert_eq!(n, sent);
    assert_eq!(sum, checksum(&buf[..sent]));
}

fn tcp_socket(timeout_ms: i64) -> polysock_t {
    let s = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    ok(polysock_settimeout(s, timeout_ms) as i64);
    s
}

/// Blackholed destinations, in a namespace of the test's own: a blackhole
/// route refuses at once (EINVAL, the kernel's answer); SYNs that vanish
/// end at the connect timeout; a connection blackholed mid-stream times
/// out on both ends.
#[test]
fn blackholed_destinations() {
    if !alone("blackholed_destinations", Duration::from_secs(30)) || !own_netns() {
        return;
    }
    sh(&["ip", "route", "add", "blackhole", "10.77.0.0/24"]);
    let s = tcp_socket(TIMEOUT_MS);
    let t = Instant::now();
    let m = expect_err(
        polysock_connect(s, c("10.77.0.1").as_ptr(), 80) as i64,
        libc::EINVAL,
    );
    assert!(t.elapsed() < Duration::from_millis(200));
    assert!(m.contains("10.77.0.1:80"), "{m}");
    polysock_close(s);

    // Routed out of lo and back, for an address no one has: swallowed.
    sh(&["ip", "route", "add", "10.78.0.0/24", "dev", "lo"]);
    let s = tcp_socket(TIMEOUT_MS);
    let t = Instant::now();
    let m = expect_err(
        polysock_connect(s, c("10.78.0.1").as_ptr(), 80) as i64,
        libc::ETIMEDOUT,
    );
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(m.contains("10.78.0.1:80"), "{m}");
    polysock_close(s);

    // Mid-stream: the local table moves behind a blackhole rule for one
    // local address once the connection is up.
    sh(&["ip", "addr", "add", "10.79.0.1/32", "dev", "lo"]);
    sh(&["ip", "rule", "add", "pref", "100", "lookup", "local"]);
    sh(&["ip", "rule", "del", "pref", "0"]);
    let lst = tcp_socket(10_000);
    ok(polysock_bind(lst, c("10.79.0.1").as_ptr(), 0) as i64);
    ok(polysock_listen(lst, 4) as i64);
    let mut a = polysock::core::addr::Addr::empty();
    ok(polysock_getsockname(lst, &mut a) as i64);
    let cl = tcp_socket(TIMEOUT_MS);
    ok(polysock_connect(cl, c("10.79.0.1").as_ptr(), a.port) as i64);
    let sv = ok(polysock_accept(lst, std::ptr::null_mut()));
    ok(polysock_settimeout(sv, TIMEOUT_MS) as i64);
    let mut buf = vec![0u8; 1 << 20];
    ok(polysock_sendall(
        cl,
        b"hello".as_ptr().cast(),
        5,
        0,
        std::ptr::null_mut(),
    ));
    ok(polysock_recv_exact(
        sv,
        buf.as_mut_ptr().cast(),
        5,
        0,
        std::ptr::null_mut(),
    ));
    sh(&[
        "ip",
        "rule",
        "add",
        "pref",
        "10",
        "to",
        "10.79.0.1/32",
        "blackhole",
    ]);
    ok(polysock_sendall(
        cl,
        b"lost!".as_ptr().cast(),
        5,
        0,
        std::ptr::null_mut(),
    ));
    let t = Instant::now();
    expect_err(
        polysock_recv(sv, buf.as_mut_ptr().cast(), buf.len(), 0),
        libc::ETIMEDOUT,
    );
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    let big = data(64 << 20);
    let mut sent = 0usize;
    let t = Instant::now();
    let r = polysock_sendall(cl, big.as_ptr().cast(), big.len(), 0, &mut sent);
    expect_err(r, libc::ETIMEDOUT);
    within_20_percent(t.elapsed(), TIMEOUT_MS);
    assert!(sent < big.len());
    for h in [cl, sv, lst] {
        ok(polysock_close(h) as i64);
    }
}

/// Waits (at most 5 s) until thread `tid` of this process sits in a
/// poll(2)/ppoll(2) system call: a blocking call really is in flight.
fn wait_until_polling(tid: i32) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let t = Instant::now();
    loop {
        let s = std::fs::read_to_string(&path).unwrap_or_default();
        let nr = s.split(' ').next().unwrap_or("");
        if nr == libc::SYS_poll.to_string() || nr == libc::SYS_ppoll.to_string() {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "thread {tid}: {s}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A dup (polysock_dup) is an independent handle on the same connection:
/// closing the original leaves the dup's connection whole. Except while a
/// call runs on the original: close then shuts the socket down to wake
/// that call (DESIGN.md, "Handles"), and shutdown acts on the connection,
/// which the dup shares, so the dup's sends fail with EPIPE and the peer
/// sees end of stream with the dup still open. The second half pins that
/// known limitation (docs/testing.md), so that fixing it flips this test.
#[test]
fn close_of_a_socket_that_has_a_dup() {
    let (lst, port) = tls_support::listen();
    ok(polysock_settimeout(lst, 5000) as i64);
    let mut buf = [0u8; 16];

    // Closed with no call running: the dup carries on, both ways.
    let a = connect(port, 5000);
    let pa = ok(polysock_accept(lst, std::ptr::null_mut()));
    ok(polysock_settimeout(pa, 5000) as i64);
    let d = ok(polysock_dup(a));
    ok(polysock_close(a) as i64);
    ok(polysock_send(d, b"via dup".as_ptr().cast(), 7, 0));
    let n = ok(polysock_recv(pa, buf.as_mut_ptr().cast(), buf.len(), 0));
    assert_eq!(&buf[..n as usize], b"via dup");
    ok(polysock_send(pa, b"back".as_ptr().cast(), 4, 0));
    let n = ok(polysock_recv(d, buf.as_mut_ptr().cast(), buf.len(), 0));
    assert_eq!(&buf[..n as usize], b"back");
    ok(polysock_close(d) as i64);
    assert_eq!(ok(polysock_recv(pa, buf.as_mut_ptr().cast(), 16, 0)), 0);
    ok(polysock_close(pa) as i64);

    // Closed while another thread's recv waits on it: that recv wakes at
    // once with EBADF; the connection is shut down for the dup too.
    let b = connect(port, 5000);
    let pb = ok(polysock_accept(lst, std::ptr::null_mut()));
    ok(polysock_settimeout(pb, 5000) as i64);
    let d = ok(polysock_dup(b));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // SAFETY: gettid has no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let mut buf = [0u8; 16];
        let t = Instant::now();
        let r = polysock_recv(b, buf.as_mut_ptr().cast(), buf.len(), 0);
        (r, polysock_errno(), t.elapsed())
    });
    wait_until_polling(rx.recv().unwrap());
    ok(polysock_close(b) as i64);
    let (r, code, waited) = waiter.join().unwrap();
    assert_eq!((r, code), (-1, libc::EBADF));
    assert!(waited < Duration::from_secs(4), "woke after {waited:?}");
    expect_err(polysock_send(d, b"x".as_ptr().cast(), 1, 0), libc::EPIPE);
    assert_eq!(ok(polysock_recv(pb, buf.as_mut_ptr().cast(), 16, 0)), 0);
    for h in [d, pb, lst] {
        ok(polysock_close(h) as i64);
    }
}
