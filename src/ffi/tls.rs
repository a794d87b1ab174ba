//! TLS (rustls): configurations, wrapping a connected socket, and what the
//! session negotiated. A wrapped socket keeps its handle: polysock_send,
//! polysock_sendall, polysock_recv, polysock_recv_exact, polysock_readline,
//! polysock_read_until, polysock_buffered, polysock_poll and the poller
//! work on it unchanged, and polysock_shutdown sends close_notify first.

use super::resolve::{check_room, name_list, put, text_result};
use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, count, out, req_str, ret, status, with};
use crate::core::error::{Result, fail};
use crate::core::tls::{self, TlsConfig};
use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

/// A TLS configuration id: a positive integer below 2^53 (exact in a
/// double), never equal to a socket handle or a poller id. Functions that
/// create one return -1 on failure; a freed id is EBADF.
#[allow(non_camel_case_types)]
pub type polysock_tls_config_t = i64;

fn config(op: &str, id: polysock_tls_config_t) -> Result<Arc<TlsConfig>> {
    tls::get(op, id)
}

fn flag(op: &str, on: i32) -> Result<bool> {
    match on {
        0 => Ok(false),
        1 => Ok(true),
        _ => fail!(libc::EINVAL, "{op}: {on} is neither 0 nor 1"),
    }
}

/// Reads a whole PEM file (a path that is not UTF-8 is EINVAL).
fn read_file(op: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        crate::core::error::Error::new(
            e.raw_os_error().unwrap_or(libc::EIO),
            format_args!("{op}: {path}"),
        )
    })
}

/// Text into a caller's buffer (NUL-terminated; ERANGE when too small).
fn text_out(op: &str, buf: *mut c_char, len: usize, text: &[u8]) -> Result<()> {
    let Ok(c) = CString::new(text) else {
        return fail!(libc::EILSEQ, "{op}: the value holds a NUL byte");
    };
    text_result(op, "buf", buf, len, &c)
}

/// Creates a TLS configuration for `side`: POLYSOCK_TLS_CLIENT or
/// POLYSOCK_TLS_SERVER. A client configuration starts with the operating
/// system's trust store (read once per process; SSL_CERT_FILE and
/// SSL_CERT_DIR are honoured), certificate verification with host-name
/// checking, SNI, TLS 1.2 and 1.3, no ALPN, no client certificate. A server
/// configuration needs its certificate (polysock_tls_config_cert_file or
/// _pem) before a socket can be wrapped with it. Changes made after a
/// wrap apply to later wraps only.
///
/// Returns the id, or -1: EINVAL (unknown `side`), EMFILE (too many
/// configurations).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_new(side: i32) -> polysock_tls_config_t {
    boundary! { ret(TlsConfig::new(side).and_then(tls::insert)) }
}

/// Frees a configuration. Sockets wrapped with it keep working. Freeing a
/// freed or never-made id does nothing.
///
/// Returns 0 always.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_free(cfg: polysock_tls_config_t) -> i32 {
    boundary! {
        tls::free(cfg);
        0
    }
}

/// Trusts (`on` 1) or ignores (`on` 0) the operating system's trust store.
/// On by default for clients, off for servers (whose trust store verifies
/// client certificates).
///
/// Returns 0, or -1: EBADF (`cfg` is not a live configuration), EINVAL
/// (`on` neither 0 nor 1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_system_roots(cfg: polysock_tls_config_t, on: i32) -> i32 {
    boundary! {
        let op = "tls_config_system_roots";
        status(config(op, cfg).and_then(|c| Ok(c.set_system_roots(flag(op, on)?))))
    }
}

/// Trusts the CA certificates of the PEM file at `path` (every
/// "BEGIN CERTIFICATE" block), in addition to those trusted already. For a
/// server: the CAs that client certificates must lead to.
///
/// Returns the number of certificates added (1 or more), or -1: EBADF,
/// EINVAL (`path` NULL or not UTF-8), ENOENT, EACCES and other errors of
/// reading the file, POLYSOCK_ETLS_PEM (no certificate in it, bad PEM, or a
/// certificate that cannot be a trust anchor).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_add_ca_file(
    cfg: polysock_tls_config_t,
    path: *const c_char,
) -> i32 {
    boundary! {
        let op = "tls_config_add_ca_file";
        ret((|| {
            let c = config(op, cfg)?;
            let path = req_str(op, "path", path)?;
            let pem = read_file(op, path)?;
            Ok(c.add_ca_pem(op, path, &pem)? as i32)
        })())
    }
}

/// As polysock_tls_config_add_ca_file, with the PEM text in memory (`len`
/// bytes at `pem`; no NUL needed).
///
/// Returns the number of certificates added, or -1: EBADF, EINVAL (`pem`
/// NULL, `len` > SSIZE_MAX), POLYSOCK_ETLS_PEM.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_add_ca_pem(
    cfg: polysock_tls_config_t,
    pem: *const c_void,
    len: usize,
) -> i32 {
    boundary! {
        let op = "tls_config_add_ca_pem";
        ret((|| {
            let c = config(op, cfg)?;
            let pem = buf_in(op, pem.cast(), len)?;
            Ok(c.add_ca_pem(op, "the PEM data", pem)? as i32)
        })())
    }
}

/// The certificate chain (PEM file `chain_path`, leaf first, then its
/// intermediates) and private key (PEM file `key_path`: PKCS#8, PKCS#1 RSA
/// or SEC1 EC) this side presents: a server's certificate, or a client's
/// certificate for servers that ask for one. Replaces an earlier one.
///
/// Returns 0, or -1: EBADF, EINVAL (a path NULL or not UTF-8), ENOENT,
/// EACCES..., POLYSOCK_ETLS_PEM (no certificate or no key in the file),
/// POLYSOCK_ETLS_CONFIG (the key does not match the certificate, or is of
/// a kind rustls cannot use).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_cert_file(
    cfg: polysock_tls_config_t,
    chain_path: *const c_char,
    key_path: *const c_char,
) -> i32 {
    boundary! {
        let op = "tls_config_cert_file";
        status((|| {
            let c = config(op, cfg)?;
            let chain_path = req_str(op, "chain_path", chain_path)?;
            let key_path = req_str(op, "key_path", key_path)?;
            let chain = read_file(op, chain_path)?;
            let key = read_file(op, key_path)?;
            c.set_identity(op, (chain_path, &chain), (key_path, &key))
        })())
    }
}

/// As polysock_tls_config_cert_file, with both PEM texts in memory.
///
/// Returns 0, or -1: EBADF, EINVAL (a buffer NULL, a length > SSIZE_MAX),
/// POLYSOCK_ETLS_PEM, POLYSOCK_ETLS_CONFIG.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_cert_pem(
    cfg: polysock_tls_config_t,
    chain: *const c_void,
    chain_len: usize,
    key: *const c_void,
    key_len: usize,
) -> i32 {
    boundary! {
        let op = "tls_config_cert_pem";
        status((|| {
            let c = config(op, cfg)?;
            let chain = buf_in(op, chain.cast(), chain_len)?;
            let key = buf_in(op, key.cast(), key_len)?;
            c.set_identity(op, ("the chain PEM", chain), ("the key PEM", key))
        })())
    }
}

/// Adds `protocol` ("h2", "http/1.1") to the ALPN protocols offered (a
/// client, in order of preference) or accepted (a server, which then
/// refuses clients that offer none of them). polysock_tls_alpn tells
/// which one was chosen.
///
/// Returns 0, or -1: EBADF, EINVAL (`protocol` NULL, empty, over 255 bytes
/// or not UTF-8).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_add_alpn(
    cfg: polysock_tls_config_t,
    protocol: *const c_char,
) -> i32 {
    boundary! {
        let op = "tls_config_add_alpn";
        status(config(op, cfg).and_then(|c| c.add_alpn(req_str(op, "protocol", protocol)?.as_bytes())))
    }
}

/// The lowest and highest TLS versions to speak: POLYSOCK_TLS_1_2 or
/// POLYSOCK_TLS_1_3, or 0 for no limit (the default for both).
///
/// Returns 0, or -1: EBADF, EINVAL (another value, or `min` above `max`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_versions(
    cfg: polysock_tls_config_t,
    min: i32,
    max: i32,
) -> i32 {
    boundary! { status(config("tls_config_versions", cfg).and_then(|c| c.set_versions(min, max))) }
}

/// Whether a client sends the server name (SNI) in its hello: 1 (the
/// default) or 0. Never sent for IP addresses.
///
/// Returns 0, or -1: EBADF, EINVAL (`on` neither 0 nor 1, or a server
/// configuration).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_sni(cfg: polysock_tls_config_t, on: i32) -> i32 {
    boundary! {
        let op = "tls_config_sni";
        status(config(op, cfg).and_then(|c| c.set_sni(flag(op, on)?)))
    }
}

/// Session resumption: 1 (the default) or 0. On, a client keeps the
/// sessions (TLS 1.3 tickets, TLS 1.2 session ids and tickets) its servers
/// offer, in memory, up to 256 per configuration and shared by every
/// socket wrapped with it, and a later connection to the same server name
/// resumes one: a shorter handshake without the certificate
/// (polysock_tls_resumed says whether it did). On, a server keeps 256
/// sessions and sends two TLS 1.3 tickets after each handshake. Off, every
/// handshake is a full one and nothing is kept.
///
/// Returns 0, or -1: EBADF, EINVAL (`on` neither 0 nor 1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_resumption(cfg: polysock_tls_config_t, on: i32) -> i32 {
    boundary! {
        let op = "tls_config_resumption";
        status(config(op, cfg).and_then(|c| Ok(c.set_resumption(flag(op, on)?))))
    }
}

/// Whether a server asks clients for a certificate:
/// POLYSOCK_TLS_CLIENT_AUTH_NONE (the default), _OPTIONAL (verified when
/// sent) or _REQUIRED (a client without a valid one is refused). The
/// certificates are verified against the CAs added with
/// polysock_tls_config_add_ca_file/_pem.
///
/// Returns 0, or -1: EBADF, EINVAL (another mode, or a client
/// configuration).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_client_auth(cfg: polysock_tls_config_t, mode: i32) -> i32 {
    boundary! { status(config("tls_config_client_auth", cfg).and_then(|c| c.set_client_auth(mode))) }
}

/// INSECURE: a client configured so accepts any certificate from any
/// server: it no longer knows whom it talks to, and anyone on the path can
/// read and change the traffic. For tests and for peers authenticated some
/// other way only. Cannot be undone on this configuration.
///
/// Returns 0, or -1: EBADF, EINVAL (a server configuration).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_insecure_skip_verify(cfg: polysock_tls_config_t) -> i32 {
    boundary! {
        let op = "tls_config_insecure_skip_verify";
        status(config(op, cfg).and_then(|c| c.set_verify(op, tls::Verify::Nothing)))
    }
}

/// INSECURE: a client configured so still verifies the server's
/// certificate chain and dates but accepts a certificate made out to any
/// name: any server with a certificate from a trusted CA can pose as the
/// one asked for. Cannot be undone on this configuration.
///
/// Returns 0, or -1: EBADF, EINVAL (a server configuration).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_config_insecure_skip_hostname_check(
    cfg: polysock_tls_config_t,
) -> i32 {
    boundary! {
        let op = "tls_config_insecure_skip_hostname_check";
        status(config(op, cfg).and_then(|c| {
            if c.verify() == tls::Verify::Nothing {
                return Ok(()); // already checks less
            }
            c.set_verify(op, tls::Verify::NoHostname)
        }))
    }
}

/// Makes the connected stream socket `h` the client side of a TLS session
/// with client configuration `cfg`, on the same handle. `server_name` is
/// the DNS name or IP address the server's certificate must be for, and
/// the SNI sent; it may be NULL only with
/// polysock_tls_config_insecure_skip_verify. No I/O happens here: the
/// handshake runs in polysock_tls_handshake, or in the first send or
/// receive. Bytes polysock_readline already buffered (a STARTTLS reply)
/// go to the TLS session.
///
/// Returns 0, or -1: EBADF (`h` or `cfg` not live), EINVAL (a server
/// configuration, `server_name` NULL or neither a name nor an address, a
/// listening socket), EOPNOTSUPP (not SOCK_STREAM, or unwrapped before),
/// ENOTCONN (not connected), EALREADY (already TLS), POLYSOCK_ETLS_CONFIG (no trusted CA
/// at all, or another reason the configuration cannot work).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_wrap(
    h: polysock_t,
    cfg: polysock_tls_config_t,
    server_name: *const c_char,
) -> i32 {
    boundary! {
        let op = "tls_wrap";
        status((|| {
            let c = config(op, cfg)?;
            let name = super::opt_str(op, "server_name", server_name)?;
            with(h, |s| s.tls_wrap(&c, name))
        })())
    }
}

/// Makes the accepted stream socket `h` the server side of a TLS session
/// with server configuration `cfg` (see polysock_tls_wrap).
///
/// Returns 0, or -1: EBADF, EINVAL (a client configuration, a listening
/// socket), EOPNOTSUPP, ENOTCONN, EALREADY, POLYSOCK_ETLS_CONFIG (no
/// certificate configured; client certificates required but no CA added).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_wrap_server(h: polysock_t, cfg: polysock_tls_config_t) -> i32 {
    boundary! {
        let op = "tls_wrap_server";
        status(config(op, cfg).and_then(|c| with(h, |s| s.tls_wrap_server(&c))))
    }
}

/// Runs the TLS handshake to its end, within the socket's timeout (one
/// deadline for the whole handshake). With timeout 0 it does what it can
/// and fails with EAGAIN: polysock_tls_wants then says whether to wait for
/// POLYSOCK_POLLIN or POLYSOCK_POLLOUT before calling it again. Calling it
/// after the handshake completed does nothing.
///
/// Returns 0, or -1: EBADF (also when closed by another thread), EINVAL
/// (not a TLS socket), EAGAIN, ETIMEDOUT, ECONNRESET, EPIPE, and the TLS
/// codes: POLYSOCK_ETLS_CERT_EXPIRED, _CERT_NOT_YET_VALID, _HOSTNAME,
/// _UNKNOWN_ISSUER, _SELF_SIGNED, _BAD_CERT, _CERT_REQUIRED, _ALERT,
/// _PROTOCOL, _INCOMPATIBLE, _TRUNCATED (the peer closed during the
/// handshake), POLYSOCK_ETLS. A failed session repeats its error on every
/// later call.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_handshake(h: polysock_t) -> i32 {
    boundary! { status(with(h, |s| s.tls_handshake())) }
}

/// The readiness a TLS socket waits for after a call failed with EAGAIN:
/// POLYSOCK_POLLIN, POLYSOCK_POLLOUT or both (or-ed; POLLOUT also while
/// encrypted bytes wait to be sent), 0 when nothing is pending. A send
/// that failed with EAGAIN must be repeated with the same data: it then
/// reports the bytes that went.
///
/// Returns the events, or -1: EBADF, EINVAL (not a TLS socket).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_wants(h: polysock_t) -> i32 {
    boundary! { call(h, |s| s.tls_wants()) }
}

/// The number of decrypted bytes the socket's TLS session holds: what a
/// receive returns without waiting for the network (Python's
/// SSLSocket.pending()). 0 for a plain socket, and for a TLS socket whose
/// session holds none. polysock_buffered adds what polysock_readline
/// buffered on top.
///
/// Returns the count, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_pending(h: polysock_t) -> i64 {
    boundary! { call(h, |s| Ok(count(s.tls().map_or(0, |t| t.buffered())))) }
}

/// Ends the TLS session of `h` and makes it a plain socket again, on the
/// same handle (Python's SSLSocket.unwrap(); protocols that go back to
/// plain text): sends close_notify, then waits, within the socket's
/// timeout, for the peer's. Bytes the peer sends in plain text after its
/// close_notify stay for the plain socket's receives (from the first call
/// on, records are read one at a time; a peer that sends plain text before
/// ours arrives may have bytes taken by a receive made earlier). Decrypted
/// bytes not yet received are never dropped: the call fails with EBUSY;
/// receive them and call again. With timeout 0 it fails with EAGAIN and
/// polysock_tls_wants says what to wait for; calling again goes on
/// (close_notify is sent once). A socket is wrapped once: polysock_tls_wrap
/// on an unwrapped one is EOPNOTSUPP.
///
/// Returns 0, or -1: EBADF, EINVAL (not a TLS socket, or unwrapped
/// already), ENOTCONN (the handshake has not completed), EBUSY, EAGAIN,
/// ETIMEDOUT, ECONNRESET, EPIPE, POLYSOCK_ETLS_TRUNCATED (the connection
/// ended without the peer's close_notify), and the error of a session that
/// failed before.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_unwrap(h: polysock_t) -> i32 {
    boundary! { status(with(h, |s| s.tls_unwrap())) }
}

/// Where a socket's TLS session stands: POLYSOCK_TLS_STATE_NONE (a plain
/// socket), _HANDSHAKE, _OPEN, _CLOSED (close_notify sent or received),
/// _FAILED.
///
/// Returns the state, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_state(h: polysock_t) -> i32 {
    boundary! { call(h, |s| Ok(s.tls_state())) }
}

/// The negotiated TLS version: POLYSOCK_TLS_1_2 or POLYSOCK_TLS_1_3.
///
/// Returns the version, or -1: EBADF, EINVAL (not a TLS socket), ENOTCONN
/// (the handshake has not completed).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_version(h: polysock_t) -> i32 {
    boundary! { call(h, |s| s.tls_version()) }
}

/// Whether the handshake resumed an earlier session (see
/// polysock_tls_config_resumption): 1, or 0 for a full handshake.
///
/// Returns 1 or 0, or -1: EBADF, EINVAL (not a TLS socket), ENOTCONN (the
/// handshake has not completed).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_resumed(h: polysock_t) -> i32 {
    boundary! { call(h, |s| Ok(i32::from(s.tls_resumed()?))) }
}

/// The negotiated cipher suite's IANA name ("TLS_AES_256_GCM_SHA384",
/// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") into `buf`, NUL-terminated
/// (64 bytes suffice).
///
/// Returns 0, or -1: EBADF, EINVAL (not TLS, `buf` NULL), ENOTCONN,
/// ERANGE (`len` too small: nothing is written, the message says how much
/// is needed).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_cipher(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! {
        status(with(h, |s| text_out("tls_cipher", buf, len, s.tls_cipher()?.as_bytes())))
    }
}

/// The ALPN protocol the handshake chose into `buf`, NUL-terminated; ""
/// when none was.
///
/// Returns 0, or -1: EBADF, EINVAL (not TLS, `buf` NULL), ENOTCONN,
/// ERANGE, EILSEQ (the protocol name holds a NUL byte).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_alpn(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! { status(with(h, |s| text_out("tls_alpn", buf, len, &s.tls_alpn()?))) }
}

/// The server name into `buf`, NUL-terminated: for a client, the one it
/// was wrapped with; for a server, the one the client sent (SNI), "" when
/// it sent none (or before the client's hello arrived).
///
/// Returns 0, or -1: EBADF, EINVAL (not TLS, `buf` NULL), ERANGE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_server_name(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! {
        status(with(h, |s| text_out("tls_server_name", buf, len, s.tls_server_name()?.as_bytes())))
    }
}

/// Certificate `index` of the chain the peer sent (0: its own, then the
/// intermediates), in DER, into `buf`. With `buf` NULL and `len` 0 nothing
/// is written: the call tells the size. polysock_tls_peer_cert_count gives
/// the chain's length.
///
/// Returns the certificate's length in bytes, or -1: EBADF, EINVAL (not
/// TLS; `buf` NULL with `len` > 0), ENOTCONN, ENOENT (no certificate at
/// `index`: a client that sent none, or the end of the chain), ERANGE
/// (`len` too small: nothing is written).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_cert(
    h: polysock_t,
    index: usize,
    buf: *mut c_void,
    len: usize,
) -> i64 {
    boundary! {
        let op = "tls_peer_cert";
        call(h, |s| {
            let certs = s.tls_peer_certs()?;
            let Some(der) = certs.get(index) else {
                return fail!(libc::ENOENT, "{op}: the peer sent {} certificates, none at index {index}", certs.len());
            };
            if buf.is_null() && len == 0 {
                return Ok(count(der.len()));
            }
            let dst = buf_out(op, buf.cast(), len)?;
            check_room(op, "buf", dst.len(), der.len())?;
            put(dst, der);
            Ok(count(der.len()))
        })
    }
}

/// The number of certificates in the chain the peer sent (0 when it sent
/// none, as a client may).
///
/// Returns the count, or -1: EBADF, EINVAL (not TLS), ENOTCONN.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_cert_count(h: polysock_t) -> i64 {
    boundary! { call(h, |s| Ok(count(s.tls_peer_certs()?.len()))) }
}

/// The peer certificate's subject as RFC 4514 text ("CN=a.test,O=Example",
/// the most specific part first) into `buf`, NUL-terminated.
///
/// Returns 0, or -1: EBADF, EINVAL (not TLS, `buf` NULL), ENOTCONN, ENOENT
/// (the peer sent no certificate), ERANGE, POLYSOCK_ETLS_BAD_CERT (the
/// certificate cannot be read).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_subject(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! {
        status(with(h, |s| text_out("tls_peer_subject", buf, len, s.tls_peer_subject()?.as_bytes())))
    }
}

/// The peer certificate's issuer as RFC 4514 text into `buf` (as
/// polysock_tls_peer_subject).
///
/// Returns 0, or -1: as polysock_tls_peer_subject.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_issuer(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! {
        status(with(h, |s| text_out("tls_peer_issuer", buf, len, s.tls_peer_issuer()?.as_bytes())))
    }
}

/// The peer certificate's subjectAltName entries into `buf`, NUL-separated
/// and ending with an empty string: "DNS:a.test\0IP:127.0.0.1\0\0" ("\0"
/// when it has none). Kinds: DNS, IP, email, URI, DirName, othername.
///
/// Returns 0, or -1: as polysock_tls_peer_subject.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_san(h: polysock_t, buf: *mut c_char, len: usize) -> i32 {
    boundary! {
        let op = "tls_peer_san";
        status(with(h, |s| {
            let names: Vec<CString> = s
                .tls_peer_san()?
                .into_iter()
                .filter_map(|n| CString::new(n).ok())
                .collect();
            let bytes = name_list(&names);
            let dst = super::resolve::text_buf(op, "buf", buf, len, true)?.unwrap_or_default();
            check_room(op, "buf", dst.len(), bytes.len())?;
            put(dst, &bytes);
            Ok(())
        }))
    }
}

/// The peer certificate's validity, notBefore and notAfter, in seconds
/// since 1970-01-01 UTC, into `not_before` and `not_after`.
///
/// Returns 0, or -1: EBADF, EINVAL (not TLS, an output NULL), ENOTCONN,
/// ENOENT, POLYSOCK_ETLS_BAD_CERT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_tls_peer_validity(
    h: polysock_t,
    not_before: *mut i64,
    not_after: *mut i64,
) -> i32 {
    boundary! {
        let op = "tls_peer_validity";
        status(with(h, |s| {
            let b = out(op, "not_before", not_before)?;
            let a = out(op, "not_after", not_after)?;
            let (nb, na) = s.tls_peer_validity()?;
            *b = nb;
            *a = na;
            Ok(())
        }))
    }
}
