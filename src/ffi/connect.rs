//! From a name to a connected or listening socket.

use super::socket::polysock_t;
use super::{boundary, opt_str, req_str, ret};
use crate::core::connect::{self, Source};
use crate::core::handles;
use std::ffi::c_char;

/// Connects to `host`:`port` as CPython's socket.create_connection, with
/// Happy Eyeballs v2 (RFC 8305): the name is resolved (all addresses, IPv4
/// and IPv6), the addresses are ordered alternating the families (starting
/// with the resolver's first, which is IPv6 where IPv6 is usable) and
/// tried with a fresh socket each; while an attempt is pending the next one
/// starts after POLYSOCK_CONNECT_STAGGER_MS (250 ms), or at once when an
/// attempt fails. The first to connect wins and every other attempt is
/// closed before the call returns.
///
/// `timeout_ms` (> 0, or -1 for none) is one deadline for the whole call,
/// name resolution included. `source_host` (NULL: the any address) and
/// `source_port` (0: any) bind each attempt first; NULL and 0 bind
/// nothing. The new socket has the process default timeout
/// (polysock_setdefaulttimeout), as any new socket.
///
/// Returns the handle, or -1. When every attempt failed the message names
/// each address and its error, e.g. "create_connection localhost:80 (2
/// addresses: [::1]:80 Connection refused; 127.0.0.1:80 Connection
/// refused): Connection refused", and the code is the most telling of
/// theirs: ECONNREFUSED, then ETIMEDOUT, ECONNRESET/ECONNABORTED,
/// EHOSTUNREACH, ENETUNREACH, then local errors (EADDRNOTAVAIL,
/// EADDRINUSE, EACCES...), then resolver codes. ETIMEDOUT also when the
/// deadline passes during resolution. Other errors: EINVAL (`host` NULL or
/// "", port or source port outside 0..65535, `timeout_ms` 0 or below -1),
/// POLYSOCK_EAI_* (the name did not resolve), EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_create_connection(
    host: *const c_char,
    port: i32,
    timeout_ms: i64,
    source_host: *const c_char,
    source_port: i32,
) -> polysock_t {
    boundary! { ret(create("create_connection", (host, port, timeout_ms), (source_host, source_port), -1)) }
}

/// polysock_create_connection with the Happy Eyeballs stagger delay of
/// this call: `stagger_ms` >= 0 (0 starts every attempt at once), or -1
/// for POLYSOCK_CONNECT_STAGGER_MS.
///
/// Returns as polysock_create_connection; also EINVAL (`stagger_ms` below
/// -1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_create_connection_ex(
    host: *const c_char,
    port: i32,
    timeout_ms: i64,
    source_host: *const c_char,
    source_port: i32,
    stagger_ms: i64,
) -> polysock_t {
    boundary! { ret(create("create_connection", (host, port, timeout_ms), (source_host, source_port), stagger_ms)) }
}

fn create(
    op: &str,
    (host, port, timeout_ms): (*const c_char, i32, i64),
    (source_host, source_port): (*const c_char, i32),
    stagger_ms: i64,
) -> crate::core::error::Result<polysock_t> {
    let host = req_str(op, "host", host)?;
    let source_host = opt_str(op, "source_host", source_host)?;
    let source = (source_host.is_some() || source_port != 0).then_some(Source {
        host: source_host,
        port: source_port,
    });
    let sock = connect::create_connection(host, port, timeout_ms, source, stagger_ms)?;
    handles::insert(sock)
}

/// A listening TCP socket, as CPython's socket.create_server: bound to
/// `host` (NULL or "": the any address; a literal or a name) and `port`
/// (0: any free port, see polysock_getsockname), with SO_REUSEADDR on.
/// `family`: AF_INET, AF_INET6, or AF_UNSPEC (0): AF_INET6 with
/// POLYSOCK_SERVER_DUALSTACK, else the family of the host's first address,
/// AF_INET without a host. A negative `backlog` means min(SOMAXCONN, 128).
/// `flags`: POLYSOCK_SERVER_REUSEPORT (SO_REUSEPORT: several sockets may
/// listen on the same port), POLYSOCK_SERVER_DUALSTACK (an AF_INET6 socket
/// with IPV6_V6ONLY off, which also accepts IPv4 clients, seen as
/// ::ffff:a.b.c.d). Without it an AF_INET6 socket is IPv6-only. The socket
/// has the process default timeout.
///
/// Returns the handle, or -1: EINVAL (unknown `flags`, DUALSTACK with
/// AF_INET, port outside 0..65535), EAFNOSUPPORT (`family`), EADDRINUSE,
/// EADDRNOTAVAIL, EACCES, ENOPROTOOPT (no SO_REUSEPORT or dual-stack on
/// this platform), POLYSOCK_EAI_* (the host did not resolve), EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_create_server(
    host: *const c_char,
    port: i32,
    family: i32,
    backlog: i32,
    flags: i32,
) -> polysock_t {
    boundary! {
        ret((|| {
            let host = opt_str("create_server", "host", host)?;
            handles::insert(connect::create_server(host, port, family, backlog, flags)?)
        })())
    }
}
