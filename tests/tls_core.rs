//! The TLS core on loopback, between two polysock ends (and Python's ssl
//! for unwrap): what rustls holds decrypted (polysock_tls_pending), how the
//! poller reports it, and going back to plain text (polysock_tls_unwrap).
//! Every wait is bounded by the sockets' timeouts or an explicit limit.

mod tls_support;

use polysock::core::error::POLYSOCK_ETLS_TRUNCATED;
use polysock::core::poll::{POLYSOCK_POLLIN, POLYSOCK_POLLOUT};
use polysock::core::poller::{POLYSOCK_POLLER_EDGE, POLYSOCK_POLLER_ONESHOT, PollerEvent};
use polysock::core::tls::{POLYSOCK_TLS_STATE_CLOSED, POLYSOCK_TLS_STATE_NONE};
use polysock::ffi::error::polysock_errno;
use polysock::ffi::io::*;
use polysock::ffi::poller::*;
use polysock::ffi::socket::*;
use polysock::ffi::tls::*;
use std::time::Instant;
use tls_support::*;

/// A TLS connection between a polysock client and server, handshake done,
/// both with a 10 s timeout; the configurations to free after.
struct Pair {
    client: polysock_t,
    server: polysock_t,
    cfgs: [polysock_tls_config_t; 2],
}

impl Pair {
    fn new() -> Pair {
        Pair::build(|_| {})
    }

    /// As `new`, calling `before_wrap` with the server socket while it is
    /// still plain.
    fn build(before_wrap: impl FnOnce(polysock_t)) -> Pair {
        let (lst, port) = listen();
        let ccfg = client_config();
        let scfg = server_config("server");
        let client = connect(port, 10_000);
        let server = ok(polysock_accept(lst, std::ptr::null_mut()));
        polysock_close(lst);
        ok(polysock_settimeout(server, 10_000) as i64);
        before_wrap(server);
        ok(polysock_tls_wrap_server(server, scfg) as i64);
        let t = std::thread::spawn(move || polysock_tls_handshake(server));
        ok(polysock_tls_wrap(client, ccfg, c("localhost").as_ptr()) as i64);
        ok(polysock_tls_handshake(client) as i64);
        assert_eq!(t.join().unwrap(), 0, "server handshake: {}", last_error());
        Pair {
            client,
            server,
            cfgs: [ccfg, scfg],
        }
    }

    /// The client sends `records` (one TLS record each), and the server
    /// waits until all of them are in its kernel receive buffer (each
    /// record adds 22 bytes: header, content type, AEAD tag).
    fn send_records(&self, records: &[&[u8]]) {
        for r in records {
            assert_eq!(
                ok(polysock_send(self.client, r.as_ptr().cast(), r.len(), 0)),
                r.len() as i64
            );
        }
        let want: usize = records.iter().map(|r| r.len() + 22).sum();
        let start = Instant::now();
        while kernel_bytes(self.server) < want {
            assert!(start.elapsed() < LIMIT, "the records never arrived");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn recv(&self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let got = ok(polysock_recv(self.server, buf.as_mut_ptr().cast(), n, 0));
        buf.truncate(got as usize);
        buf
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        polysock_close(self.client);
        polysock_close(self.server);
        for c in self.cfgs {
            polysock_tls_config_free(c);
        }
    }
}

/// Bytes waiting in the kernel's receive buffer of `s` (FIONREAD).
fn kernel_bytes(s: polysock_t) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    assert_eq!(
        unsafe { libc::ioctl(polysock_fileno(s), libc::FIONREAD, &mut n) },
        0
    );
    n as usize
}

#[test]
fn pending_counts_what_rustls_decrypted_and_nothing_else() {
    let p = Pair::new();
    assert_eq!(polysock_tls_pending(p.server), 0);
    p.send_records(&[b"hello ", b"world"]);
    // Nothing is decrypted before a receive reads the records.
    assert_eq!(polysock_tls_pending(p.server), 0);
    assert_eq!(p.recv(3), b"hel");
    // Both records were read and decrypted: the kernel holds nothing.
    assert_eq!(kernel_bytes(p.server), 0);
    assert_eq!(polysock_tls_pending(p.server), 8);
    // A receive returns one record's bytes at most.
    assert_eq!(p.recv(100), b"lo ");
    assert_eq!(polysock_tls_pending(p.server), 5);
    assert_eq!(p.recv(100), b"world");
    assert_eq!(polysock_tls_pending(p.server), 0);
    // MSG_PEEK leaves them counted.
    p.send_records(&[b"abc"]);
    let mut b = [0u8; 1];
    assert_eq!(
        polysock_recv(p.server, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK),
        1
    );
    assert_eq!(polysock_tls_pending(p.server), 3);
    assert_eq!(p.recv(3), b"abc");
    // A plain socket holds no decrypted bytes; a bad handle is EBADF.
    let plain = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    assert_eq!(polysock_tls_pending(plain), 0);
    polysock_close(plain);
    expect_err(polysock_tls_pending(plain), libc::EBADF);
    expect_err(polysock_tls_pending(-5), libc::EBADF);
    assert_eq!(polysock_errno(), libc::EBADF);
}

/// What one poller wait reports: (handle, events, user) per entry.
fn wait(p: polysock_poller_t, ms: i64) -> Vec<(polysock_t, i32, u64)> {
    let mut ev = [PollerEvent::default(); 8];
    let n = ok(polysock_poller_wait(p, ev.as_mut_ptr(), ev.len(), ms));
    ev[..n as usize]
        .iter()
        .map(|e| (e.handle, e.events, e.user))
        .collect()
}

#[test]
fn the_poller_reports_decrypted_bytes_the_kernel_no_longer_shows() {
    let p = Pair::new();
    let poller = ok(polysock_poller_create());
    let s = p.server;
    ok(polysock_poller_add(poller, s, POLYSOCK_POLLIN, 0, 1) as i64);
    assert_eq!(wait(poller, 0), []);
    p.send_records(&[b"hello ", b"world"]);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 1)]);
    assert_eq!(p.recv(3), b"hel");
    // Nothing on the socket now, 8 bytes in rustls: ready at once, and a
    // wait with a timeout does not wait for the kernel.
    assert_eq!(kernel_bytes(s), 0);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 1)]);
    assert_eq!(wait(poller, 5000), [(s, POLYSOCK_POLLIN, 1)]);
    // One entry with what the kernel adds; none for POLLOUT alone.
    let both = POLYSOCK_POLLIN | POLYSOCK_POLLOUT;
    ok(polysock_poller_modify(poller, s, both, 0, 2) as i64);
    assert_eq!(wait(poller, 0), [(s, both, 2)]);
    ok(polysock_poller_modify(poller, s, POLYSOCK_POLLOUT, 0, 3) as i64);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLOUT, 3)]);
    // Edge-triggered: bytes that were there already are no new edge.
    ok(polysock_poller_modify(poller, s, POLYSOCK_POLLIN, POLYSOCK_POLLER_EDGE, 4) as i64);
    assert_eq!(wait(poller, 0), []);
    // One-shot: one report until re-armed, the kernel's included.
    let once = POLYSOCK_POLLER_ONESHOT;
    ok(polysock_poller_modify(poller, s, POLYSOCK_POLLIN, once, 5) as i64);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 5)]);
    assert_eq!(wait(poller, 0), []);
    p.send_records(&[b"!"]);
    assert_eq!(wait(poller, 0), []);
    ok(polysock_poller_modify(poller, s, POLYSOCK_POLLIN, once, 6) as i64);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 6)]);
    // Removed, it is not reported; added again, it is.
    ok(polysock_poller_remove(poller, s) as i64);
    assert_eq!(wait(poller, 0), []);
    ok(polysock_poller_add(poller, s, POLYSOCK_POLLIN, 0, 7) as i64);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 7)]);
    // Read to the end: nothing is left to report.
    assert_eq!(p.recv(100), b"lo ");
    assert_eq!(p.recv(100), b"world");
    assert_eq!(p.recv(100), b"!");
    assert_eq!(polysock_tls_pending(s), 0);
    assert_eq!(wait(poller, 0), []);
    polysock_poller_destroy(poller);
}

#[test]
fn a_socket_registered_before_its_wrap_is_watched_for_decrypted_bytes() {
    let poller = ok(polysock_poller_create());
    let p = Pair::build(|s| {
        ok(polysock_poller_add(poller, s, POLYSOCK_POLLIN, 0, 9) as i64);
    });
    let s = p.server;
    p.send_records(&[b"abcdef"]);
    assert_eq!(p.recv(2), b"ab");
    assert_eq!(kernel_bytes(s), 0);
    assert_eq!(wait(poller, 5000), [(s, POLYSOCK_POLLIN, 9)]);
    // The client side, with nothing decrypted (its receive takes the
    // server's session tickets and finds no data), is not reported.
    ok(polysock_settimeout(p.client, 0) as i64);
    let mut b = [0u8; 8];
    expect_err(
        polysock_recv(p.client, b.as_mut_ptr().cast(), b.len(), 0),
        libc::EAGAIN,
    );
    assert_eq!(kernel_bytes(p.client), 0);
    ok(polysock_poller_add(poller, p.client, POLYSOCK_POLLIN, 0, 10) as i64);
    assert_eq!(wait(poller, 0), [(s, POLYSOCK_POLLIN, 9)]);
    // A closed socket leaves the poller's TLS list with its registration.
    drop(p);
    assert_eq!(wait(poller, 0), []);
    polysock_poller_destroy(poller);
}

fn send_all(s: polysock_t, data: &[u8]) {
    let mut sent = 0usize;
    ok(polysock_sendall(
        s,
        data.as_ptr().cast(),
        data.len(),
        0,
        &mut sent,
    ));
    assert_eq!(sent, data.len());
}

fn read_line(s: polysock_t) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut n = 0usize;
    ok(
        polysock::ffi::reader::polysock_readline(s, buf.as_mut_ptr().cast(), buf.len(), &mut n)
            as i64,
    );
    buf[..n].to_vec()
}

/// polysock's client against Python's ssl server: a line each way over
/// TLS, both sides unwrap, a line each way in plain text.
fn starttls_with_python(version: &str) {
    let (peer, port) = python_server("server", "starttls", &[version]);
    let cfg = client_config();
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    assert_eq!(read_line(s), b"ping\n");
    send_all(s, b"pong\n");
    ok(polysock_tls_unwrap(s) as i64);
    assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_NONE);
    // Python sends its plain line as soon as our close_notify arrives.
    assert_eq!(read_line(s), b"plain-ping\n");
    send_all(s, b"plain-pong\n");
    let lines = peer.finish();
    assert_eq!(value(&lines, "tls_line"), Some("pong"), "{lines:?}");
    assert_eq!(value(&lines, "plain_line"), Some("plain-pong"), "{lines:?}");
    polysock_close(s);
    polysock_tls_config_free(cfg);
}

#[test]
fn unwrap_goes_back_to_plain_text_with_python_tls13() {
    starttls_with_python("--tls13");
}

#[test]
fn unwrap_goes_back_to_plain_text_with_python_tls12() {
    starttls_with_python("--tls12");
}

#[test]
fn unwrap_leaves_the_plain_bytes_after_close_notify_in_the_kernel() {
    let p = Pair::new();
    let (cl, sv) = (p.client, p.server);
    // The client starts: close_notify sent, the server's awaited.
    ok(polysock_settimeout(cl, 0) as i64);
    expect_err(polysock_tls_unwrap(cl) as i64, libc::EAGAIN);
    assert_eq!(polysock_tls_wants(cl), POLYSOCK_POLLIN);
    // The server sees the end of the TLS stream, unwraps at once (it has
    // the client's close_notify) and goes on in plain text.
    let mut b = [0u8; 8];
    assert_eq!(polysock_recv(sv, b.as_mut_ptr().cast(), b.len(), 0), 0);
    ok(polysock_tls_unwrap(sv) as i64);
    send_all(sv, b"plain!");
    // Its close_notify (24 bytes) and the plain bytes, together in the
    // client's kernel buffer.
    let start = Instant::now();
    while kernel_bytes(cl) < 24 + 6 {
        assert!(start.elapsed() < LIMIT, "close_notify never came");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    ok(polysock_tls_unwrap(cl) as i64);
    assert_eq!(kernel_bytes(cl), 6, "unwrap read past the close_notify");
    assert_eq!(polysock_recv(cl, b.as_mut_ptr().cast(), b.len(), 0), 6);
    assert_eq!(&b[..6], b"plain!");
    ok(polysock_settimeout(cl, 10_000) as i64);
    send_all(cl, b"back\n");
    assert_eq!(read_line(sv), b"back\n");
    for s in [cl, sv] {
        assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_NONE);
        assert_eq!(polysock_tls_pending(s), 0);
        // Plain now: unwrapped once, never wrapped again.
        let m = expect_err(polysock_tls_unwrap(s) as i64, libc::EINVAL);
        assert!(m.contains("not a TLS stream"), "{m}");
        let m = expect_err(
            polysock_tls_wrap_server(s, p.cfgs[1]) as i64,
            libc::EOPNOTSUPP,
        );
        assert!(m.contains("was unwrapped"), "{m}");
    }
}

#[test]
fn unwrap_never_drops_decrypted_bytes() {
    let p = Pair::new();
    let (cl, sv) = (p.client, p.server);
    p.send_records(&[b"data"]);
    assert_eq!(p.recv(1), b"d");
    let m = expect_err(polysock_tls_unwrap(sv) as i64, libc::EBUSY);
    assert!(
        m.contains("3 decrypted bytes have not been received"),
        "{m}"
    );
    assert_eq!(p.recv(10), b"ata");
    // Now it sends close_notify and waits for the client's.
    ok(polysock_settimeout(sv, 0) as i64);
    expect_err(polysock_tls_unwrap(sv) as i64, libc::EAGAIN);
    assert_eq!(polysock_tls_state(sv), POLYSOCK_TLS_STATE_CLOSED);
    // A record that comes before the client's close_notify is kept too.
    send_all(cl, b"late");
    let start = Instant::now();
    loop {
        match polysock_tls_unwrap(sv) {
            -1 if polysock_errno() == libc::EAGAIN => {}
            -1 if polysock_errno() == libc::EBUSY => break,
            r => panic!("unwrap gave {r}: {}", last_error()),
        }
        assert!(start.elapsed() < LIMIT);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(p.recv(10), b"late");
    // Readline's buffer counts as well.
    send_all(cl, b"one\ntwo\n");
    ok(polysock_settimeout(sv, 10_000) as i64);
    assert_eq!(read_line(sv), b"one\n");
    let m = expect_err(polysock_tls_unwrap(sv) as i64, libc::EBUSY);
    assert!(m.contains("polysock_readline buffered"), "{m}");
    assert_eq!(read_line(sv), b"two\n");
    ok(polysock_tls_unwrap(cl) as i64);
    ok(polysock_tls_unwrap(sv) as i64);
}

#[test]
fn unwrap_fails_clearly() {
    // Not TLS, not a handle, no handshake yet.
    let plain = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    expect_err(polysock_tls_unwrap(plain) as i64, libc::EINVAL);
    polysock_close(plain);
    expect_err(polysock_tls_unwrap(plain) as i64, libc::EBADF);
    expect_err(polysock_tls_unwrap(-5) as i64, libc::EBADF);
    let (lst, port) = listen();
    let s = connect(port, 300);
    let cfg = client_config();
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let m = expect_err(polysock_tls_unwrap(s) as i64, libc::ENOTCONN);
    assert!(m.contains("handshake has not completed"), "{m}");
    polysock_close(s);
    polysock_close(lst);
    polysock_tls_config_free(cfg);
    // A peer that never answers: the socket's timeout ends the wait.
    let p = Pair::new();
    ok(polysock_settimeout(p.server, 300) as i64);
    expect_err(polysock_tls_unwrap(p.server) as i64, libc::ETIMEDOUT);
    // A peer that ends the connection without close_notify.
    // SAFETY: a FIN on the client's own fd, which stays open.
    assert_eq!(
        unsafe { libc::shutdown(polysock_fileno(p.client), libc::SHUT_WR) },
        0
    );
    let m = expect_err(
        polysock_tls_unwrap(p.server) as i64,
        POLYSOCK_ETLS_TRUNCATED,
    );
    assert!(m.contains("without close_notify"), "{m}");
}
