//! The Dictu binding (bindings/dictu). Dictu is found as DICTU_SRC (a
//! checkout with a built `dictu`: $DICTU_SRC/dictu, or DICTU_BIN) when that
//! is set, else as target/vms/dictu, where bindings/build-vms.sh builds it.
//! The shim is built once with its Makefile against the static library this
//! `cargo test` just built. The first test runs bindings/dictu/tests/run.sh:
//! the shim's own Dictu tests, and Dictu's tests/sockets/*.du with only
//! their import line changed. The TLS tests run bindings/dictu/tests/tls/
//! against peers no one here wrote (Python's ssl through tests/tls_peer.py,
//! openssl s_client), with the certificates tests/tls_support makes for the
//! run (removed when it ends). Without Dictu every test skips, or fails
//! where runtimes are required (common::missing_runtime).

mod common;
mod tls_support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use tls_support::{Peer, cert, certs, key, python_server, s_client, sha256, value};

/// The shim, built once for every test here.
struct Shim {
    src: PathBuf,
    dictu: PathBuf,
    /// Where make put libpolysock_dictu.so and socket.du.
    out: PathBuf,
    /// A copy of them with tests/tls/ and examples/ beside (run.sh
    /// replaces out/tests).
    tls: PathBuf,
}

fn shim() -> Option<&'static Shim> {
    static SHIM: OnceLock<Option<Shim>> = OnceLock::new();
    SHIM.get_or_init(build_shim).as_ref()
}

fn build_shim() -> Option<Shim> {
    let Some(src) = std::env::var_os("DICTU_SRC")
        .map(PathBuf::from)
        .or_else(|| common::built_vm("dictu", "dictu"))
    else {
        common::missing_runtime(
            "Dictu",
            "DICTU_SRC not set and no Dictu built in target/vms",
            common::BUILD_VMS_HOW,
        );
        return None;
    };
    let header = src.join("src/include/dictu_ffi_include.h");
    assert!(
        header.is_file(),
        "{} (DICTU_SRC, or target/vms) is not a Dictu checkout: {} is missing",
        src.display(),
        header.display()
    );
    let dictu = std::env::var_os("DICTU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| src.join("dictu"));
    assert!(
        dictu.is_file(),
        "no dictu executable at {}: build Dictu in DICTU_SRC, or set DICTU_BIN",
        dictu.display()
    );

    // The static library next to the cdylib cargo just built (deps/ under
    // `cargo test`).
    let lib_dir = common::lib_dir();
    assert!(
        lib_dir.join("libpolysock.a").is_file(),
        "libpolysock.a not found in {}",
        lib_dir.display()
    );
    let binding = common::root().join("bindings/dictu");
    let out = common::tmp_dir("dictu_shim");
    let build = Command::new("make")
        .arg("-C")
        .arg(&binding)
        .arg(format!("DICTU_SRC={}", src.display()))
        .arg(format!("POLYSOCK_LIB={}", lib_dir.display()))
        .arg(format!(
            "POLYSOCK_INCLUDE={}",
            common::include_dir().display()
        ))
        .arg(format!("OUT={}", out.display()))
        .output()
        .expect("running make (is it installed?)");
    assert!(
        build.status.success(),
        "building the Dictu shim failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let tls = common::tmp_dir("dictu_tls");
    let scripts = tls.join("tests/tls");
    std::fs::create_dir_all(&scripts).unwrap();
    for f in ["socket.du", "libpolysock_dictu.so"] {
        std::fs::copy(out.join(f), tls.join(f)).unwrap();
    }
    for (from, to) in [
        ("tests/tls", scripts.clone()),
        ("examples", tls.join("examples")),
    ] {
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(binding.join(from)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
    Some(Shim {
        src,
        dictu,
        out,
        tls,
    })
}

#[test]
fn dictu_shim_and_dictus_socket_tests() {
    let Some(shim) = shim() else {
        return;
    };
    // Only Dictu's FFI entry points are exported.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(shim.out.join("libpolysock_dictu.so"))
        .output()
        .expect("running nm");
    let mut exported: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    exported.sort();
    assert_eq!(exported, ["dictu_ffi_init", "dictu_internal_ffi_init"]);

    let limit = Duration::from_secs(900);
    let (ok, output) = common::run_with_limit(
        &common::root().join("bindings/dictu/tests/run.sh"),
        &[
            shim.dictu.to_str().unwrap(),
            shim.out.to_str().unwrap(),
            shim.src.to_str().unwrap(),
        ],
        limit,
    );
    println!("{output}");
    assert!(ok, "Dictu binding tests failed:\n{output}");
}

// ---- TLS ----

/// bindings/dictu/tests/tls/`script` with `args`, as a peer process whose
/// output lines are read with bounded waits (killed when dropped).
fn dictu(shim: &Shim, script: &str, args: &[&str]) -> Peer {
    let mut cmd = Command::new(&shim.dictu);
    cmd.arg(script)
        .args(args)
        .current_dir(shim.tls.join("tests/tls"))
        .env("POLYSOCK_TLS_CERTS", certs())
        .env("POLYSOCK_TEST_TMP", common::tmp_dir("dictu_tls_tmp"))
        .env("DICTU_BIN", &shim.dictu);
    Peer::spawn(cmd, &format!("dictu {script} {args:?}"))
}

fn certs_arg() -> String {
    certs().display().to_string()
}

/// What tls_client.du sends in echo mode: 16 chunks of 64 KiB, chunk i
/// "chunk i of 16: " followed by a text doubled past 64 KiB.
fn echo_data() -> Vec<u8> {
    let mut base = String::from("polysock over TLS from Dictu ");
    while base.len() < 65536 {
        base = base.repeat(2);
    }
    let mut all = Vec::new();
    for i in 0..16 {
        let chunk = format!("chunk {i} of 16: {base}");
        all.extend_from_slice(&chunk.as_bytes()[..65536]);
    }
    all
}

#[test]
fn dictu_tls_client_echo_with_checksum_against_python_ssl() {
    let Some(shim) = shim() else {
        return;
    };
    let (py, port) = python_server("server", "echo", &["--alpn", "h2"]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["echo", &port, &certs_arg()]).finish();
    let expected = sha256(&echo_data());
    assert_eq!(value(&out, "bytes"), Some("1048576"), "{out:?}");
    assert_eq!(
        value(&out, "sent_sha256"),
        Some(expected.as_str()),
        "{out:?}"
    );
    assert_eq!(value(&out, "sha256"), Some(expected.as_str()), "{out:?}");
    assert_eq!(value(&out, "same_object"), Some("true"), "{out:?}");
    assert_eq!(value(&out, "version"), Some("TLSv1.3"), "{out:?}");
    assert_eq!(value(&out, "alpn"), Some("h2"), "{out:?}");
    assert_eq!(value(&out, "server_name"), Some("localhost"), "{out:?}");
    assert!(
        value(&out, "peer_subject").is_some_and(|s| s.contains("CN=localhost")),
        "{out:?}"
    );
    assert!(
        value(&out, "peer_issuer").is_some_and(|s| s.contains("CN=polysock test CA")),
        "{out:?}"
    );
    assert_eq!(
        value(&out, "peer_san"),
        Some("DNS:localhost,IP:127.0.0.1,IP:::1"),
        "{out:?}"
    );
    assert!(out.iter().any(|l| l == "done"), "{out:?}");
    // The peer saw our close() end the session with close_notify.
    let peer = py.finish();
    assert_eq!(value(&peer, "alpn"), Some("h2"), "{peer:?}");
    assert_eq!(value(&peer, "end"), Some("close_notify"), "{peer:?}");
}

#[test]
fn dictu_tls_example_client() {
    let Some(shim) = shim() else {
        return;
    };
    let (py, port) = python_server("server", "echo", &[]);
    let mut cmd = Command::new(&shim.dictu);
    cmd.current_dir(shim.tls.join("examples")).args([
        "tls_client.du",
        "localhost",
        &port.to_string(),
        &cert("ca"),
        "hello, TLS",
    ]);
    let out = Peer::spawn(cmd, "examples/tls_client.du").finish();
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].starts_with("TLSv1.3 TLS_") && out[0].contains("CN=localhost"),
        "{out:?}"
    );
    assert_eq!(out[1], "hello, TLS");
    assert_eq!(value(&py.finish(), "end"), Some("close_notify"));
}

#[test]
fn dictu_tls_readline_over_tls12_against_python_ssl() {
    let Some(shim) = shim() else {
        return;
    };
    let (py, port) = python_server("server", "lines", &["--bytes", "2000", "--tls12"]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["lines", &port, &certs_arg()]).finish();
    assert_eq!(value(&out, "version"), Some("TLSv1.2"), "{out:?}");
    assert!(
        value(&out, "cipher").is_some_and(|c| c.starts_with("TLS_ECDHE_")),
        "{out:?}"
    );
    assert_eq!(value(&out, "alpn"), Some("nil"), "{out:?}");
    assert_eq!(value(&out, "lines"), Some("2000"), "{out:?}");
    assert_eq!(value(&out, "in_order"), Some("true"), "{out:?}");
    // Python's unwrap() got our close_notify back: no error line.
    let peer = py.finish();
    assert!(value(&peer, "error").is_none(), "{peer:?}");
}

#[test]
fn dictu_tls_verification_failures_carry_polysocks_messages() {
    let Some(shim) = shim() else {
        return;
    };
    let cases = [
        (
            "wronghost",
            "POLYSOCK_ETLS_HOSTNAME",
            "tls handshake with localhost: hostname mismatch: certificate is for other.test",
        ),
        (
            "unknown",
            "POLYSOCK_ETLS_UNKNOWN_ISSUER",
            "tls handshake with localhost: unknown issuer (issuer CN=Other CA)",
        ),
        (
            "expired",
            "POLYSOCK_ETLS_CERT_EXPIRED",
            "tls handshake with localhost: certificate expired",
        ),
        (
            "selfsigned",
            "POLYSOCK_ETLS_SELF_SIGNED",
            "tls handshake with localhost: ",
        ),
    ];
    for (server, name, message) in cases {
        let (py, port) = python_server(server, "echo", &[]);
        let port = port.to_string();
        let out = dictu(shim, "tls_client.du", &["verify", &port, &certs_arg()]).finish();
        assert_eq!(value(&out, "errname"), Some(name), "{server}: {out:?}");
        assert!(
            value(&out, "error").is_some_and(|e| e.starts_with(message)),
            "{server}: {out:?}"
        );
        assert!(value(&out, "version").is_none(), "{server}: {out:?}");
        // The peer was told: its handshake failed too.
        let peer = py.finish();
        assert!(
            value(&peer, "handshake_error").is_some(),
            "{server}: {peer:?}"
        );
    }
}

#[test]
fn dictu_tls_nonblocking_handshake_driven_by_poll() {
    let Some(shim) = shim() else {
        return;
    };
    // The server answers the hello 300 ms late: the handshake must wait.
    let (py, port) = python_server("server", "echo", &["--hello-delay-ms", "300"]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["nonblocking", &port, &certs_arg()]).finish();
    // At least the wait for the server's hello.
    assert!(
        value(&out, "handshake_waits").is_some_and(|n| n.parse::<u32>().unwrap() >= 1),
        "{out:?}"
    );
    let expected = sha256(&echo_data());
    assert_eq!(value(&out, "sha256"), Some(expected.as_str()), "{out:?}");
    assert_eq!(value(&out, "version"), Some("TLSv1.3"), "{out:?}");
    assert_eq!(value(&py.finish(), "end"), Some("close_notify"));
}

#[test]
fn dictu_tls_stream_end_clean_or_truncated() {
    let Some(shim) = shim() else {
        return;
    };
    let data = tls_support::sha256(&tls_support::pattern(300_000));
    let (py, port) = python_server("server", "send", &["--bytes", "300000"]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["read", &port, &certs_arg()]).finish();
    assert_eq!(value(&out, "bytes"), Some("300000"), "{out:?}");
    assert_eq!(value(&out, "sha256"), Some(data.as_str()), "{out:?}");
    assert_eq!(value(&out, "end"), Some("close_notify"), "{out:?}");
    drop(py);
    // A peer that closes without close_notify: the cut is an error.
    let (py, port) = python_server("server", "send", &["--bytes", "300000", "--dirty"]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["read", &port, &certs_arg()]).finish();
    assert_eq!(
        value(&out, "end"),
        Some("POLYSOCK_ETLS_TRUNCATED"),
        "{out:?}"
    );
    assert!(
        value(&out, "end_error").is_some_and(
            |e| e.starts_with("recv over tls with localhost: peer closed without close_notify")
        ),
        "{out:?}"
    );
    drop(py);
}

#[test]
fn dictu_tls_bad_peers_garbage_and_stall() {
    let Some(shim) = shim() else {
        return;
    };
    let (_py, port) = python_server("server", "garbage", &[]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["verify", &port, &certs_arg()]).finish();
    assert_eq!(
        value(&out, "errname"),
        Some("POLYSOCK_ETLS_PROTOCOL"),
        "{out:?}"
    );
    assert!(
        value(&out, "error").is_some_and(|e| e.starts_with("tls handshake with localhost: ")),
        "{out:?}"
    );
    // A peer that reads the hello and never answers: the 1 s timeout holds.
    let (_py, port) = python_server("server", "stall", &[]);
    let port = port.to_string();
    let out = dictu(shim, "tls_client.du", &["stall", &port, &certs_arg()]).finish();
    assert_eq!(value(&out, "errname"), Some("ETIMEDOUT"), "{out:?}");
    assert!(
        value(&out, "error").is_some_and(|e| e.contains("1000 ms")),
        "{out:?}"
    );
}

/// openssl s_client with `extra` arguments against tls_server.du run with
/// `client_auth`: (s_client's output, the server's).
fn s_client_to_dictu(shim: &Shim, client_auth: &str, extra: &[&str]) -> (Vec<String>, Vec<String>) {
    let server = dictu(shim, "tls_server.du", &[&certs_arg(), client_auth]);
    let port: i32 = server.line("stderr: PORT ")["stderr: PORT ".len()..]
        .trim()
        .parse()
        .unwrap();
    let mut cmd = s_client(port);
    cmd.args(["-verify_hostname", "localhost", "-alpn", "h2"])
        .args(extra);
    let mut client = Peer::spawn(cmd, &format!("openssl s_client {extra:?}"));
    client.send_stdin(b"hello\nworld\nquit\n");
    (client.finish(), server.finish())
}

#[test]
fn dictu_tls_server_accepts_openssl_s_client() {
    let Some(shim) = shim() else {
        return;
    };
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let (client, server) = s_client_to_dictu(shim, "none", &[flag]);
        assert!(client.iter().any(|l| l == "echo: hello"), "{client:?}");
        assert!(client.iter().any(|l| l == "echo: world"), "{client:?}");
        assert_eq!(value(&server, "version"), Some(version), "{server:?}");
        assert_eq!(value(&server, "alpn"), Some("h2"), "{server:?}");
        assert_eq!(
            value(&server, "server_name"),
            Some("localhost"),
            "{server:?}"
        );
        assert_eq!(value(&server, "peer_subject"), Some("none"), "{server:?}");
        assert_eq!(value(&server, "lines"), Some("2"), "{server:?}");
        assert!(server.iter().any(|l| l == "done"), "{server:?}");
    }
}

#[test]
fn dictu_tls_server_verifies_client_certificates() {
    let Some(shim) = shim() else {
        return;
    };
    let (cc, ck) = (cert("client"), key("client"));
    let (client, server) = s_client_to_dictu(shim, "required", &["-cert", &cc, "-key", &ck]);
    assert!(client.iter().any(|l| l == "echo: hello"), "{client:?}");
    assert!(
        value(&server, "peer_subject").is_some_and(|s| s.contains("CN=polysock client")),
        "{server:?}"
    );
    // Without one, the handshake fails on the server with its own code.
    let (_, server) = s_client_to_dictu(shim, "required", &[]);
    assert_eq!(
        value(&server, "errname"),
        Some("POLYSOCK_ETLS_CERT_REQUIRED"),
        "{server:?}"
    );
    assert!(value(&server, "error").is_some(), "{server:?}");
}

#[test]
fn dictu_tls_bad_arguments_are_result_errors() {
    let Some(shim) = shim() else {
        return;
    };
    let out = dictu(shim, "tls_arguments.du", &[]).finish();
    let count = |what: &str| -> Option<u32> {
        out.iter().find_map(|l| {
            l.trim()
                .strip_prefix("- ")?
                .strip_suffix(&format!(" assertion(s) were {what}."))?
                .parse()
                .ok()
        })
    };
    assert_eq!(count("failures"), Some(0), "{out:#?}");
    assert!(count("successful").is_some_and(|n| n >= 140), "{out:#?}");
    // A runtime error would stop the script (on stderr).
    assert!(!out.iter().any(|l| l.starts_with("stderr:")), "{out:#?}");
}
