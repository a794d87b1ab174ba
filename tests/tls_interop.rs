//! polysock's TLS against peers no one here wrote: Python's ssl module
//! (OpenSSL) and the openssl command, TLS 1.2 and 1.3, polysock as client
//! and as server, with certificates made for the run. Every wait is
//! bounded (the sockets' timeouts, and tls_support::LIMIT for the peers).

mod tls_support;

use polysock::core::error::*;
use polysock::core::tls::*;
use polysock::ffi::error::polysock_errno;
use polysock::ffi::io::*;
use polysock::ffi::reader::polysock_readline;
use polysock::ffi::socket::*;
use polysock::ffi::tls::*;
use std::process::Command;
use std::time::{Duration, Instant};
use tls_support::*;

const BIG: usize = 64 << 20;

/// Sends `data` from one thread while another receives `expect` bytes on
/// the same TLS socket; returns what came back.
fn echo_concurrently(s: polysock_t, data: &[u8]) -> Vec<u8> {
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut got = vec![0u8; data.len()];
            let mut n = 0usize;
            let r = polysock_recv_exact(s, got.as_mut_ptr().cast(), got.len(), 0, &mut n);
            assert_eq!(
                r,
                data.len() as i64,
                "recv_exact after {n}: {}",
                last_error()
            );
            got
        });
        let mut sent = 0usize;
        let r = polysock_sendall(s, data.as_ptr().cast(), data.len(), 0, &mut sent);
        assert_eq!(
            r,
            data.len() as i64,
            "sendall after {sent}: {}",
            last_error()
        );
        reader.join().unwrap()
    })
}

fn client_echo_64mib(version_flag: &str, version: i32) {
    let (peer, port) = python_server("server", "echo", &[version_flag]);
    let cfg = client_config();
    let s = connect(port, 30_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    ok(polysock_tls_handshake(s) as i64);
    assert_eq!(polysock_tls_version(s), version);
    assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_OPEN);
    let data = pattern(BIG);
    let back = echo_concurrently(s, &data);
    assert!(back == data, "the echo differs from what was sent");
    ok(polysock_shutdown(s, libc::SHUT_WR) as i64);
    let mut b = [0u8; 16];
    // The peer answers our close_notify with its own: a clean end.
    assert_eq!(
        polysock_recv(s, b.as_mut_ptr().cast(), b.len(), 0),
        0,
        "{}",
        last_error()
    );
    polysock_close(s);
    polysock_tls_config_free(cfg);
    let lines = peer.finish();
    assert_eq!(value(&lines, "end"), Some("close_notify"), "{lines:?}");
}

#[test]
fn client_echoes_64_mib_with_python_tls13() {
    client_echo_64mib("--tls13", POLYSOCK_TLS_1_3);
}

#[test]
fn client_echoes_64_mib_with_python_tls12() {
    client_echo_64mib("--tls12", POLYSOCK_TLS_1_2);
}

/// A polysock TLS server that echoes one connection until close_notify.
fn serve_echo(cfg: polysock_tls_config_t, lst: polysock_t) -> std::thread::JoinHandle<(i32, i64)> {
    std::thread::spawn(move || {
        let s = polysock_accept(lst, std::ptr::null_mut());
        assert!(s >= 0, "{}", last_error());
        polysock_settimeout(s, 60_000);
        ok(polysock_tls_wrap_server(s, cfg) as i64);
        let mut buf = vec![0u8; 65536];
        let mut total = 0i64;
        loop {
            let n = polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0);
            assert!(n >= 0, "server recv: {}", last_error());
            if n == 0 {
                break;
            }
            ok(polysock_sendall(
                s,
                buf.as_ptr().cast(),
                n as usize,
                0,
                std::ptr::null_mut(),
            ));
            total += n;
        }
        let v = polysock_tls_version(s);
        ok(polysock_shutdown(s, libc::SHUT_RDWR) as i64);
        polysock_close(s);
        (v, total)
    })
}

fn server_echo_64mib(version_flag: &str, version: i32) {
    let cfg = server_config("server");
    let (lst, port) = listen();
    let server = serve_echo(cfg, lst);
    let p = port.to_string();
    let ca = cert("ca");
    let bytes = BIG.to_string();
    let peer = python(&[
        "client",
        &p,
        "client_echo",
        "--ca",
        &ca,
        "--bytes",
        &bytes,
        version_flag,
    ]);
    let lines = peer.finish();
    let (v, total) = server.join().unwrap();
    assert_eq!(v, version);
    assert_eq!(total, BIG as i64);
    assert_eq!(value(&lines, "bytes"), Some(bytes.as_str()), "{lines:?}");
    assert_eq!(
        value(&lines, "sha256"),
        value(&lines, "sent_sha256"),
        "{lines:?}"
    );
    assert!(value(&lines, "error").is_none(), "{lines:?}");
    polysock_close(lst);
    polysock_tls_config_free(cfg);
}

#[test]
fn server_echoes_64_mib_to_python_tls13() {
    server_echo_64mib("--tls13", POLYSOCK_TLS_1_3);
}

#[test]
fn server_echoes_64_mib_to_python_tls12() {
    server_echo_64mib("--tls12", POLYSOCK_TLS_1_2);
}

fn openssl(args: &[&str]) -> Peer {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    Peer::spawn(cmd, &format!("openssl {args:?}"))
}

/// openssl s_server with `args`, listening on a port the kernel chose
/// (`-accept 127.0.0.1:0`), and that port, read from the "ACCEPT
/// 127.0.0.1:<port>" line it prints once it listens. (A port found free
/// beforehand could be taken again before s_server binds it: by another
/// test's s_server, whose single accept then resets our connection, or
/// as a connection's own source port.)
fn s_server(args: &[&str]) -> (Peer, i32) {
    let mut all = vec!["s_server", "-accept", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = openssl(&all);
    let line = server.line("ACCEPT ");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("s_server's ACCEPT line has no port: {line:?}"));
    (server, port)
}

/// A connection to a listening s_server, with a 20 s timeout.
fn connect_to(port: i32) -> polysock_t {
    let t = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    polysock_settimeout(t, 20_000);
    ok(polysock_connect(t, c("127.0.0.1").as_ptr(), port) as i64);
    t
}

/// polysock client -> openssl s_server: lines go through, ALPN is agreed,
/// and s_server sees our close_notify (no "unexpected eof").
fn client_to_s_server(version_flag: &str, version: i32) {
    let (crt, k) = (cert("server"), key("server"));
    let (server, port) = s_server(&[
        "-cert",
        &crt,
        "-key",
        &k,
        "-naccept",
        "1",
        "-alpn",
        "h2,http/1.1",
        version_flag,
    ]);
    let cfg = client_config();
    ok(polysock_tls_config_add_alpn(cfg, c("http/1.1").as_ptr()) as i64);
    let s = connect_to(port);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    ok(polysock_tls_handshake(s) as i64);
    assert_eq!(polysock_tls_version(s), version);
    assert_eq!(text(|b, l| polysock_tls_alpn(s, b, l)), "http/1.1");
    let cipher = text(|b, l| polysock_tls_cipher(s, b, l));
    assert!(cipher.starts_with("TLS_"), "{cipher}");
    assert!(text(|b, l| polysock_tls_peer_subject(s, b, l)).contains("CN=localhost"));
    let mut payload = String::new();
    for i in 0..2000 {
        payload.push_str(&format!("polysock line {i}\n"));
    }
    ok(polysock_sendall(
        s,
        payload.as_ptr().cast(),
        payload.len(),
        0,
        std::ptr::null_mut(),
    ));
    ok(polysock_shutdown(s, libc::SHUT_RDWR) as i64);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    // s_server prints what it receives, then "DONE" when SSL_read ends
    // cleanly (close_notify) or "ERROR" and the cause when it does not;
    // it runs until its stdin closes.
    let lines = server.until(|l| l == "DONE" || l == "ERROR");
    drop(server);
    let got = lines
        .iter()
        .filter(|l| l.starts_with("polysock line"))
        .count();
    assert_eq!(got, 2000, "{:?}", &lines[lines.len().saturating_sub(5)..]);
    assert_eq!(
        lines.last().map(|l| l.as_str()),
        Some("DONE"),
        "s_server did not see close_notify"
    );
}

#[test]
fn client_to_openssl_s_server_tls13() {
    client_to_s_server("-tls1_3", POLYSOCK_TLS_1_3);
}

#[test]
fn client_to_openssl_s_server_tls12() {
    client_to_s_server("-tls1_2", POLYSOCK_TLS_1_2);
}

/// openssl s_client -> polysock server: readline over TLS, ALPN, and our
/// reply with close_notify ends s_client.
fn s_client_to_server(version_flag: &str, version: i32) {
    let cfg = server_config("server");
    ok(polysock_tls_config_add_alpn(cfg, c("h2").as_ptr()) as i64);
    let (lst, port) = listen();
    let server = std::thread::spawn(move || {
        let s = polysock_accept(lst, std::ptr::null_mut());
        assert!(s >= 0, "{}", last_error());
        polysock_settimeout(s, 30_000);
        ok(polysock_tls_wrap_server(s, cfg) as i64);
        let mut lines = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..3 {
            let mut n = 0usize;
            ok(polysock_readline(s, buf.as_mut_ptr().cast(), buf.len(), &mut n) as i64);
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let alpn = text(|b, l| polysock_tls_alpn(s, b, l));
        let sni = text(|b, l| polysock_tls_server_name(s, b, l));
        let v = polysock_tls_version(s);
        let bye = b"bye from polysock\n";
        ok(polysock_sendall(
            s,
            bye.as_ptr().cast(),
            bye.len(),
            0,
            std::ptr::null_mut(),
        ));
        ok(polysock_shutdown(s, libc::SHUT_RDWR) as i64);
        polysock_close(s);
        (lines, alpn, sni, v)
    });
    let mut cmd = s_client(port);
    cmd.args(["-alpn", "h2", version_flag]);
    let mut client = Peer::spawn(cmd, &format!("openssl s_client {version_flag}"));
    client.send_stdin(b"one\ntwo\nthree\n");
    let (lines, alpn, sni, v) = server.join().unwrap();
    let out = client.finish();
    assert_eq!(lines, ["one\n", "two\n", "three\n"]);
    assert_eq!(alpn, "h2");
    assert_eq!(sni, "localhost");
    assert_eq!(v, version);
    assert!(out.iter().any(|l| l == "bye from polysock"), "{out:?}");
    polysock_close(lst);
    polysock_tls_config_free(cfg);
}

#[test]
fn openssl_s_client_to_server_tls13() {
    s_client_to_server("-tls1_3", POLYSOCK_TLS_1_3);
}

#[test]
fn openssl_s_client_to_server_tls12() {
    s_client_to_server("-tls1_2", POLYSOCK_TLS_1_2);
}

/// Certificate `i` of the chain the peer of `s` sent, in DER.
fn peer_cert(s: polysock_t, i: usize) -> Vec<u8> {
    let n = ok(polysock_tls_peer_cert(s, i, std::ptr::null_mut(), 0));
    let mut der = vec![0u8; n as usize];
    assert_eq!(
        polysock_tls_peer_cert(s, i, der.as_mut_ptr().cast(), der.len()),
        n
    );
    der
}

/// The DER of the first certificate in a PEM file.
fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(pem)
        .unwrap()
        .to_vec()
}

/// Connects to a Python server showing `server_cert` and returns the
/// handshake's result code and message.
fn handshake_against(
    server_cert: &str,
    mode: &str,
    extra: &[&str],
    cfg: polysock_tls_config_t,
) -> (i32, String, Duration) {
    let (peer, port) = python_server(server_cert, mode, extra);
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let start = Instant::now();
    let r = polysock_tls_handshake(s);
    let took = start.elapsed();
    let out = if r == 0 {
        (0, String::new(), took)
    } else {
        (polysock_errno(), last_error(), took)
    };
    let state = if r == 0 {
        POLYSOCK_TLS_STATE_OPEN
    } else {
        POLYSOCK_TLS_STATE_FAILED
    };
    assert_eq!(polysock_tls_state(s), state);
    polysock_close(s);
    drop(peer);
    out
}

#[test]
fn bad_server_certificates_each_have_their_code_and_cause() {
    if !alone(
        "bad_server_certificates_each_have_their_code_and_cause",
        &[],
    ) {
        return;
    }
    let before = open_fds();
    let cfg = client_config();
    let cases: &[(&str, i32, &str)] = &[
        (
            "expired",
            POLYSOCK_ETLS_CERT_EXPIRED,
            "tls handshake with localhost: certificate expired (notAfter 2020-01-01)",
        ),
        (
            "notyet",
            POLYSOCK_ETLS_CERT_NOT_YET_VALID,
            "tls handshake with localhost: certificate not yet valid (notBefore 2090-01-01)",
        ),
        (
            "wronghost",
            POLYSOCK_ETLS_HOSTNAME,
            "tls handshake with localhost: hostname mismatch: certificate is for other.test",
        ),
        (
            "unknown",
            POLYSOCK_ETLS_UNKNOWN_ISSUER,
            "tls handshake with localhost: unknown issuer (issuer CN=Other CA)",
        ),
        (
            "selfsigned",
            POLYSOCK_ETLS_SELF_SIGNED,
            "tls handshake with localhost: self-signed certificate (O=polysock tests,CN=localhost)",
        ),
    ];
    for &(name, code, message) in cases {
        let (got, msg, _) = handshake_against(name, "echo", &[], cfg);
        assert_eq!(got, code, "{name}: {msg}");
        assert_eq!(msg, message, "{name}");
        let errname =
            unsafe { std::ffi::CStr::from_ptr(polysock::ffi::error::polysock_errname(code)) };
        assert!(
            errname.to_str().unwrap().starts_with("POLYSOCK_ETLS_"),
            "{name}"
        );
    }
    // The good one, for contrast: the same client config accepts it.
    assert_eq!(handshake_against("server", "echo", &[], cfg).0, 0);
    polysock_tls_config_free(cfg);
    assert_eq!(open_fds(), before, "fds leaked");
}

#[test]
fn insecure_modes_accept_what_they_say_and_no_more() {
    let cfg = client_config();
    ok(polysock_tls_config_insecure_skip_hostname_check(cfg) as i64);
    assert_eq!(handshake_against("wronghost", "echo", &[], cfg).0, 0);
    assert_eq!(
        handshake_against("expired", "echo", &[], cfg).0,
        POLYSOCK_ETLS_CERT_EXPIRED
    );
    assert_eq!(
        handshake_against("unknown", "echo", &[], cfg).0,
        POLYSOCK_ETLS_UNKNOWN_ISSUER
    );
    ok(polysock_tls_config_insecure_skip_verify(cfg) as i64);
    for name in ["expired", "selfsigned", "unknown", "wronghost"] {
        assert_eq!(handshake_against(name, "echo", &[], cfg).0, 0, "{name}");
    }
    polysock_tls_config_free(cfg);
}

#[test]
fn peers_that_misbehave_each_have_their_code() {
    let cfg = client_config();
    let (code, msg, _) = handshake_against("server", "garbage", &[], cfg);
    assert_eq!(code, POLYSOCK_ETLS_PROTOCOL, "{msg}");
    assert!(
        msg.starts_with("tls handshake with localhost: peer sent something that is not valid TLS"),
        "{msg}"
    );

    // No cipher suite in common: the server's alert names why.
    let (code, msg, _) = handshake_against(
        "server",
        "echo",
        &["--tls12", "--ciphers", "ECDHE-ECDSA-AES128-SHA"],
        cfg,
    );
    assert_eq!(code, POLYSOCK_ETLS_ALERT, "{msg}");
    assert_eq!(
        msg,
        "tls handshake with localhost: peer sent alert handshake_failure"
    );

    // A stall mid-handshake: the socket's timeout holds, within 20%.
    let (peer, port) = python_server("server", "stall", &[]);
    let s = connect(port, 2000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let start = Instant::now();
    let m = expect_err(polysock_tls_handshake(s) as i64, libc::ETIMEDOUT);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1600) && took <= Duration::from_millis(2400),
        "{took:?}"
    );
    assert!(
        m.starts_with("tls handshake with localhost: timed out after 2000 ms"),
        "{m}"
    );
    polysock_close(s);
    drop(peer);
    polysock_tls_config_free(cfg);
}

#[test]
fn a_truncated_stream_is_not_an_end_of_stream() {
    let cfg = client_config();
    let (peer, port) = python_server("server", "send", &["--bytes", "100000", "--dirty"]);
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let mut buf = vec![0u8; 100_000];
    let mut n = 0usize;
    ok(polysock_recv_exact(
        s,
        buf.as_mut_ptr().cast(),
        buf.len(),
        0,
        &mut n,
    ));
    assert!(buf == pattern(100_000));
    let m = expect_err(
        polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0),
        POLYSOCK_ETLS_TRUNCATED,
    );
    assert_eq!(
        m,
        "recv over tls with localhost: peer closed without close_notify"
    );
    // The failure sticks.
    expect_err(
        polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0),
        POLYSOCK_ETLS_TRUNCATED,
    );
    assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_FAILED);
    polysock_close(s);
    drop(peer);

    // And a clean close reads as end of stream.
    let (peer, port) = python_server("server", "send", &["--bytes", "1000"]);
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    ok(polysock_recv_exact(
        s,
        buf.as_mut_ptr().cast(),
        1000,
        0,
        &mut n,
    ));
    assert_eq!(
        polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0),
        0,
        "{}",
        last_error()
    );
    polysock_close(s);
    drop(peer);
    polysock_tls_config_free(cfg);
}

#[test]
fn client_certificates_both_ways() {
    let ca = cert("ca");
    // polysock client with a certificate -> Python server that requires one.
    let cfg = client_config();
    ok(
        polysock_tls_config_cert_file(cfg, c(&cert("client")).as_ptr(), c(&key("client")).as_ptr())
            as i64,
    );
    let (peer, port) = python_server("server", "sink", &["--ca", &ca, "--require-client"]);
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    ok(polysock_sendall(
        s,
        b"hi".as_ptr().cast(),
        2,
        0,
        std::ptr::null_mut(),
    ));
    ok(polysock_shutdown(s, libc::SHUT_WR) as i64);
    let lines = peer.finish();
    assert!(
        value(&lines, "peer_subject").is_some_and(|v| v.contains("commonName=polysock client")),
        "{lines:?}"
    );
    assert_eq!(value(&lines, "end"), Some("close_notify"), "{lines:?}");
    polysock_close(s);
    polysock_tls_config_free(cfg);

    // Without one, the server refuses us; TLS 1.3 tells it after our side
    // of the handshake is done, so the first receive reports the alert.
    let cfg = client_config();
    let (peer, port) = python_server("server", "sink", &["--ca", &ca, "--require-client"]);
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let mut b = [0u8; 8];
    let r = match polysock_tls_handshake(s) {
        0 => polysock_recv(s, b.as_mut_ptr().cast(), b.len(), 0),
        r => r as i64,
    };
    let m = expect_err(r, POLYSOCK_ETLS_ALERT);
    assert!(m.contains("peer sent alert certificate_required"), "{m}");
    polysock_close(s);
    drop(peer);
    polysock_tls_config_free(cfg);

    // polysock server requiring client certificates <- Python clients.
    for (client, want) in [
        ("client", 0),
        ("client_unknown", POLYSOCK_ETLS_UNKNOWN_ISSUER),
        ("", POLYSOCK_ETLS_CERT_REQUIRED),
    ] {
        let cfg = server_config("server");
        ok(polysock_tls_config_add_ca_file(cfg, c(&ca).as_ptr()) as i64);
        ok(polysock_tls_config_client_auth(cfg, POLYSOCK_TLS_CLIENT_AUTH_REQUIRED) as i64);
        let (lst, port) = listen();
        let p = port.to_string();
        let (cc, ck) = (cert(client), key(client));
        let mut args = vec![
            "client",
            p.as_str(),
            "send",
            "--ca",
            ca.as_str(),
            "--bytes",
            "10",
        ];
        if !client.is_empty() {
            args.extend(["--client-cert", cc.as_str(), "--client-key", ck.as_str()]);
        }
        let peer = python(&args);
        let s = polysock_accept(lst, std::ptr::null_mut());
        polysock_settimeout(s, 10_000);
        ok(polysock_tls_wrap_server(s, cfg) as i64);
        let r = polysock_tls_handshake(s);
        if want == 0 {
            assert_eq!(r, 0, "{}", last_error());
            let subject = text(|b, l| polysock_tls_peer_subject(s, b, l));
            assert!(subject.contains("CN=polysock client"), "{subject}");
            // OpenSSL completes the chain it sends from its trust store:
            // the client's certificate, then the CA's.
            assert_eq!(polysock_tls_peer_cert_count(s), 2);
            assert_eq!(peer_cert(s, 0), der(&cert("client")));
            assert_eq!(peer_cert(s, 1), der(&cert("ca")));
            let mut buf = [0u8; 10];
            ok(polysock_recv_exact(
                s,
                buf.as_mut_ptr().cast(),
                10,
                0,
                std::ptr::null_mut(),
            ));
        } else {
            let m = expect_err(r as i64, want);
            assert!(m.starts_with("tls handshake with client 127.0.0.1:"), "{m}");
        }
        polysock_close(s);
        polysock_close(lst);
        drop(peer);
        polysock_tls_config_free(cfg);
    }
}

#[test]
fn the_system_trust_store_is_read() {
    // rustls-native-certs honours SSL_CERT_FILE: pointed at the test CA, a
    // default client config (no CA added) trusts the server. Run in a
    // child process, so no other test sees the variable.
    let ca = cert("ca");
    if !alone(
        "the_system_trust_store_is_read",
        &[("SSL_CERT_FILE", &ca), ("SSL_CERT_DIR", "/nonexistent")],
    ) {
        return;
    }
    let cfg = ok(polysock_tls_config_new(POLYSOCK_TLS_CLIENT));
    assert_eq!(
        handshake_against("server", "echo", &[], cfg).0,
        0,
        "{}",
        last_error()
    );
    ok(polysock_tls_config_system_roots(cfg, 0) as i64);
    // Off, with nothing added: nothing is trusted, and the wrap says so.
    let (peer, port) = python_server("server", "echo", &[]);
    let s = connect(port, 10_000);
    let m = expect_err(
        polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64,
        POLYSOCK_ETLS_CONFIG,
    );
    assert!(m.contains("no trusted CA"), "{m}");
    polysock_close(s);
    drop(peer);
}

/// Runs `step` on a timeout-0 TLS socket until it succeeds, waiting in a
/// poller for what polysock_tls_wants names after each EAGAIN.
fn through_poller(
    p: polysock::ffi::poller::polysock_poller_t,
    s: polysock_t,
    mut step: impl FnMut() -> i64,
) -> (i64, usize) {
    use polysock::ffi::poller::*;
    let mut waits = 0;
    let start = Instant::now();
    loop {
        let r = step();
        if r >= 0 {
            return (r, waits);
        }
        assert_eq!(polysock_errno(), libc::EAGAIN, "{}", last_error());
        let want = polysock_tls_wants(s);
        assert!(want > 0, "EAGAIN but tls_wants is {want}");
        ok(polysock_poller_modify(p, s, want, 0, 7) as i64);
        let mut ev = [polysock::core::poller::PollerEvent::default(); 4];
        let n = ok(polysock_poller_wait(p, ev.as_mut_ptr(), ev.len(), 5000));
        assert_eq!(n, 1, "the poller reported nothing within 5 s");
        assert_eq!((ev[0].handle, ev[0].user), (s, 7));
        waits += 1;
        assert!(start.elapsed() < LIMIT);
    }
}

#[test]
fn a_handshake_and_an_echo_driven_through_the_poller_with_timeout_0() {
    use polysock::ffi::poller::*;
    let (peer, port) = python_server("server", "echo", &["--alpn", "x-poll"]);
    let cfg = client_config();
    ok(polysock_tls_config_add_alpn(cfg, c("x-poll").as_ptr()) as i64);
    let s = connect(port, 10_000);
    ok(polysock_settimeout(s, 0) as i64);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let p = ok(polysock_poller_create());
    ok(polysock_poller_add(p, s, polysock::core::poll::POLYSOCK_POLLIN, 0, 7) as i64);
    let (r, waits) = through_poller(p, s, || polysock_tls_handshake(s) as i64);
    assert_eq!(r, 0);
    // The server's flight has to arrive at least once.
    assert!(waits >= 1, "the handshake never waited");
    assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_OPEN);
    assert_eq!(text(|b, l| polysock_tls_alpn(s, b, l)), "x-poll");
    let msg = pattern(300_000);
    let mut sent = 0usize;
    let mut back = Vec::new();
    let mut buf = vec![0u8; 65536];
    while back.len() < msg.len() {
        let (n, _) = through_poller(p, s, || {
            if sent < msg.len() {
                let r = polysock_send(s, msg[sent..].as_ptr().cast(), msg.len() - sent, 0);
                if r >= 0 {
                    return r;
                }
            }
            // Read until EAGAIN: rustls may hold decrypted bytes the
            // kernel no longer shows as readable.
            match polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0) {
                n if n > 0 => {
                    back.extend_from_slice(&buf[..n as usize]);
                    0
                }
                0 => panic!("the echo ended early"),
                r => r,
            }
        });
        if sent < msg.len() {
            sent += n as usize;
        }
    }
    assert!(back == msg, "the echo differs");
    polysock_poller_destroy(p);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    drop(peer);
}

/// One request to `openssl s_server -www` (which sends its session tickets
/// before the page); whether the handshake resumed.
fn fetch_page(port: i32, cfg: polysock_tls_config_t) -> i32 {
    let s = connect_to(port);
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let get = b"GET / HTTP/1.0\r\n\r\n";
    ok(polysock_sendall(
        s,
        get.as_ptr().cast(),
        get.len(),
        0,
        std::ptr::null_mut(),
    ));
    let mut page = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = polysock_recv(s, buf.as_mut_ptr().cast(), buf.len(), 0);
        assert!(n >= 0, "{}", last_error());
        if n == 0 {
            break;
        }
        page.extend_from_slice(&buf[..n as usize]);
    }
    assert!(
        page.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&page)
    );
    let r = polysock_tls_resumed(s);
    polysock_close(s);
    r
}

/// polysock server <- polysock client, one short exchange; whether each
/// side's handshake resumed.
fn exchange(server: polysock_tls_config_t, client: polysock_tls_config_t) -> (i32, i32) {
    let (lst, port) = listen();
    let t = std::thread::spawn(move || {
        let a = ok(polysock_accept(lst, std::ptr::null_mut()));
        polysock_settimeout(a, 10_000);
        ok(polysock_tls_wrap_server(a, server) as i64);
        ok(polysock_sendall(
            a,
            b"hi".as_ptr().cast(),
            2,
            0,
            std::ptr::null_mut(),
        ));
        let mut b = [0u8; 2];
        ok(polysock_recv_exact(
            a,
            b.as_mut_ptr().cast(),
            2,
            0,
            std::ptr::null_mut(),
        ));
        let r = polysock_tls_resumed(a);
        polysock_close(a);
        r
    });
    let s = connect(port, 10_000);
    ok(polysock_tls_wrap(s, client, c("localhost").as_ptr()) as i64);
    let mut b = [0u8; 2];
    ok(polysock_recv_exact(
        s,
        b.as_mut_ptr().cast(),
        2,
        0,
        std::ptr::null_mut(),
    ));
    assert_eq!(&b, b"hi");
    ok(polysock_sendall(
        s,
        b"ok".as_ptr().cast(),
        2,
        0,
        std::ptr::null_mut(),
    ));
    let r = polysock_tls_resumed(s);
    let server_r = t.join().unwrap();
    polysock_close(s);
    polysock_close(lst);
    (server_r, r)
}

#[test]
fn sessions_resume_unless_turned_off() {
    // polysock client -> openssl s_server (tickets on by default), TLS 1.3
    // and 1.2: one config resumes its second connection; with resumption
    // off it never does.
    for version in ["-tls1_3", "-tls1_2"] {
        let (crt, k) = (cert("server"), key("server"));
        let (server, port) =
            s_server(&["-cert", &crt, "-key", &k, "-www", "-naccept", "4", version]);
        let on = client_config();
        assert_eq!(
            (fetch_page(port, on), fetch_page(port, on)),
            (0, 1),
            "{version}"
        );
        let off = client_config();
        ok(polysock_tls_config_resumption(off, 0) as i64);
        assert_eq!(
            (fetch_page(port, off), fetch_page(port, off)),
            (0, 0),
            "{version}"
        );
        drop(server);
        polysock_tls_config_free(on);
        polysock_tls_config_free(off);
    }

    // polysock server <- polysock client: the server's cache and tickets.
    let (server, client) = (server_config("server"), client_config());
    assert_eq!(exchange(server, client), (0, 0));
    assert_eq!(exchange(server, client), (1, 1));
    let quiet = server_config("server");
    ok(polysock_tls_config_resumption(quiet, 0) as i64);
    let fresh = client_config();
    assert_eq!(exchange(quiet, fresh), (0, 0));
    assert_eq!(exchange(quiet, fresh), (0, 0));
    for cfg in [server, client, quiet, fresh] {
        polysock_tls_config_free(cfg);
    }

    // Bad input.
    let cfg = client_config();
    let m = expect_err(polysock_tls_config_resumption(cfg, 2).into(), libc::EINVAL);
    assert!(m.starts_with("tls_config_resumption: "), "{m}");
    polysock_tls_config_free(cfg);
    expect_err(polysock_tls_config_resumption(cfg, 1).into(), libc::EBADF);
    let plain = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    let m = expect_err(polysock_tls_resumed(plain).into(), libc::EINVAL);
    assert!(m.contains("not a TLS stream"), "{m}");
    polysock_close(plain);
    let (lst, port) = listen();
    let s = connect(port, 10_000);
    let cfg = client_config();
    ok(polysock_tls_wrap(s, cfg, c("localhost").as_ptr()) as i64);
    let m = expect_err(polysock_tls_resumed(s).into(), libc::ENOTCONN);
    assert!(m.contains("handshake has not completed"), "{m}");
    polysock_close(s);
    polysock_close(lst);
    polysock_tls_config_free(cfg);
}
