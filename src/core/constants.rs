//! The constants table a VM walks to register every name it needs: the
//! platform's socket constants (from `constant_list.rs`), its errno names,
//! polysock's resolver and TLS codes, typed option ids (POLYSOCK_OPT_*) and
//! TLS settings (POLYSOCK_TLS_*).
//! A name the platform lacks is absent, never given a made-up value.

use super::codes::{ERRNO_NAMES, OWN_CODES};
use super::options::*;
use std::ffi::CStr;

macro_rules! socket_constants {
    ($( $(#[$meta:meta])* $name:ident $(= $value:expr)? ),* $(,)?) => {
        /// The platform's socket constants, by their C names.
        pub(crate) const SOCKET_CONSTANTS: &[(&CStr, i64)] = &[
            $( $(#[$meta])* (
                match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                    Ok(s) => s,
                    Err(_) => panic!("bad constant name"),
                },
                constant_value!($name $(, $value)?),
            ), )*
        ];
    };
}
/// libc's value, or the one written where libc lacks it.
macro_rules! constant_value {
    ($name:ident) => {
        libc::$name as i64
    };
    ($name:ident, $value:expr) => {
        $value as i64
    };
}
include!("constant_list.rs");

/// polysock's own values that runtimes pass back to it: typed option ids,
/// polysock_poll's event bits (the same on every platform, named as poll(2)
/// names them), poller flags, and create_connection/create_server settings.
pub(crate) const POLYSOCK_CONSTANTS: &[(&CStr, i64)] = {
    use super::connect::*;
    use super::poll::*;
    use super::poller::*;
    use super::tls::*;
    &[
        (c"POLYSOCK_OPT_NODELAY", POLYSOCK_OPT_NODELAY as i64),
        (c"POLYSOCK_OPT_QUICKACK", POLYSOCK_OPT_QUICKACK as i64),
        (c"POLYSOCK_OPT_KEEPALIVE", POLYSOCK_OPT_KEEPALIVE as i64),
        (c"POLYSOCK_OPT_KEEPIDLE", POLYSOCK_OPT_KEEPIDLE as i64),
        (c"POLYSOCK_OPT_KEEPINTVL", POLYSOCK_OPT_KEEPINTVL as i64),
        (c"POLYSOCK_OPT_KEEPCNT", POLYSOCK_OPT_KEEPCNT as i64),
        (c"POLYSOCK_OPT_LINGER", POLYSOCK_OPT_LINGER as i64),
        (c"POLYSOCK_OPT_RCVBUF", POLYSOCK_OPT_RCVBUF as i64),
        (c"POLYSOCK_OPT_SNDBUF", POLYSOCK_OPT_SNDBUF as i64),
        (c"POLYSOCK_OPT_REUSEADDR", POLYSOCK_OPT_REUSEADDR as i64),
        (c"POLYSOCK_OPT_REUSEPORT", POLYSOCK_OPT_REUSEPORT as i64),
        (c"POLYSOCK_OPT_BROADCAST", POLYSOCK_OPT_BROADCAST as i64),
        (c"POLYSOCK_OPT_V6ONLY", POLYSOCK_OPT_V6ONLY as i64),
        (c"POLYSOCK_OPT_RCVTIMEO_MS", POLYSOCK_OPT_RCVTIMEO_MS as i64),
        (c"POLYSOCK_OPT_SNDTIMEO_MS", POLYSOCK_OPT_SNDTIMEO_MS as i64),
        (c"POLLIN", POLYSOCK_POLLIN as i64),
        (c"POLLPRI", POLYSOCK_POLLPRI as i64),
        (c"POLLOUT", POLYSOCK_POLLOUT as i64),
        (c"POLLERR", POLYSOCK_POLLERR as i64),
        (c"POLLHUP", POLYSOCK_POLLHUP as i64),
        (c"POLLNVAL", POLYSOCK_POLLNVAL as i64),
        (c"POLYSOCK_POLLER_EDGE", POLYSOCK_POLLER_EDGE as i64),
        (c"POLYSOCK_POLLER_ONESHOT", POLYSOCK_POLLER_ONESHOT as i64),
        (c"POLYSOCK_POLLER_WAKE", POLYSOCK_POLLER_WAKE),
        (
            c"POLYSOCK_SERVER_REUSEPORT",
            POLYSOCK_SERVER_REUSEPORT as i64,
        ),
        (
            c"POLYSOCK_SERVER_DUALSTACK",
            POLYSOCK_SERVER_DUALSTACK as i64,
        ),
        (c"POLYSOCK_CONNECT_STAGGER_MS", POLYSOCK_CONNECT_STAGGER_MS),
        (c"POLYSOCK_TLS_CLIENT", POLYSOCK_TLS_CLIENT as i64),
        (c"POLYSOCK_TLS_SERVER", POLYSOCK_TLS_SERVER as i64),
        (c"POLYSOCK_TLS_1_2", POLYSOCK_TLS_1_2 as i64),
        (c"POLYSOCK_TLS_1_3", POLYSOCK_TLS_1_3 as i64),
        (
            c"POLYSOCK_TLS_CLIENT_AUTH_NONE",
            POLYSOCK_TLS_CLIENT_AUTH_NONE as i64,
        ),
        (
            c"POLYSOCK_TLS_CLIENT_AUTH_OPTIONAL",
            POLYSOCK_TLS_CLIENT_AUTH_OPTIONAL as i64,
        ),
        (
            c"POLYSOCK_TLS_CLIENT_AUTH_REQUIRED",
            POLYSOCK_TLS_CLIENT_AUTH_REQUIRED as i64,
        ),
        (c"POLYSOCK_TLS_STATE_NONE", POLYSOCK_TLS_STATE_NONE as i64),
        (
            c"POLYSOCK_TLS_STATE_HANDSHAKE",
            POLYSOCK_TLS_STATE_HANDSHAKE as i64,
        ),
        (c"POLYSOCK_TLS_STATE_OPEN", POLYSOCK_TLS_STATE_OPEN as i64),
        (
            c"POLYSOCK_TLS_STATE_CLOSED",
            POLYSOCK_TLS_STATE_CLOSED as i64,
        ),
        (
            c"POLYSOCK_TLS_STATE_FAILED",
            POLYSOCK_TLS_STATE_FAILED as i64,
        ),
    ]
};

/// The whole table in its stable order: socket constants, errno names,
/// polysock's error codes, polysock's own values.
fn entries() -> impl Iterator<Item = (&'static CStr, i64)> {
    let errnos = ERRNO_NAMES.iter().map(|&(n, v)| (n, i64::from(v)));
    let codes = OWN_CODES.iter().map(|c| (c.name, i64::from(c.code)));
    SOCKET_CONSTANTS
        .iter()
        .copied()
        .chain(errnos)
        .chain(codes)
        .chain(POLYSOCK_CONSTANTS.iter().copied())
}

/// Number of entries in the whole table.
pub fn count() -> usize {
    entries().count()
}

/// Entry `i` (0-based) of the whole table.
pub fn at(i: usize) -> Option<(&'static CStr, i64)> {
    entries().nth(i)
}

/// The value of a constant by name ("AF_INET6", "ECONNREFUSED").
pub fn lookup(name: &[u8]) -> Option<i64> {
    entries()
        .find(|(n, _)| n.to_bytes() == name)
        .map(|(_, v)| v)
}

/// The first name with `prefix` whose value is `value` ("AF_INET" for
/// ("AF_", 2)); "?" when there is none. For messages.
pub fn name_of(prefix: &str, value: i64) -> &'static str {
    SOCKET_CONSTANTS
        .iter()
        .find(|(n, v)| *v == value && n.to_bytes().starts_with(prefix.as_bytes()))
        .and_then(|(n, _)| n.to_str().ok())
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_each_kind() {
        assert_eq!(lookup(b"AF_INET6"), Some(libc::AF_INET6 as i64));
        assert_eq!(lookup(b"ECONNREFUSED"), Some(libc::ECONNREFUSED as i64));
        assert_eq!(
            lookup(b"EAI_NONAME"),
            Some(crate::core::error::POLYSOCK_EAI_NONAME as i64)
        );
        assert_eq!(
            lookup(b"POLYSOCK_OPT_NODELAY"),
            Some(POLYSOCK_OPT_NODELAY as i64)
        );
        assert_eq!(lookup(b"AF_NO_SUCH_THING"), None);
    }

    #[test]
    fn names_are_unique_and_walkable() {
        let mut names: Vec<_> = (0..count()).map(|i| at(i).unwrap().0).collect();
        assert!(at(count()).is_none());
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate constant names");
    }

    #[test]
    fn name_of_reverses_values() {
        assert_eq!(name_of("AF_", libc::AF_INET as i64), "AF_INET");
        assert_eq!(name_of("SOCK_", libc::SOCK_DGRAM as i64), "SOCK_DGRAM");
    }
}
