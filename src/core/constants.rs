//! The constants table a VM walks to register every name it needs: the
//! platform's socket constants (from `constant_list.rs`), its errno names,
//! polysock's resolver codes (EAI_*) and typed option ids (POLYSOCK_OPT_*).
//! A name the platform lacks is absent, never given a made-up value.

use super::codes::{ERRNO_NAMES, OWN_CODES};
use super::options::*;
use std::ffi::CStr;

macro_rules! socket_constants {
    ($( $(#[$meta:meta])* $name:ident ),* $(,)?) => {
        /// The platform's socket constants, by their C names.
        pub(crate) const SOCKET_CONSTANTS: &[(&CStr, i64)] = &[
            $( $(#[$meta])* (
                match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                    Ok(s) => s,
                    Err(_) => panic!("bad constant name"),
                },
                libc::$name as i64,
            ), )*
        ];
    };
}
include!("constant_list.rs");

/// polysock's typed option ids, for runtimes that offer polysock_setopt.
pub(crate) const OPTION_CONSTANTS: &[(&CStr, i64)] = &[
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
];

/// polysock_poll's event bits (polysock's own values, the same on every
/// platform, named as poll(2) names them) and the poller's flags.
pub(crate) const POLL_CONSTANTS: &[(&CStr, i64)] = {
    use super::poll::*;
    use super::poller::*;
    &[
        (c"POLLIN", POLYSOCK_POLLIN as i64),
        (c"POLLPRI", POLYSOCK_POLLPRI as i64),
        (c"POLLOUT", POLYSOCK_POLLOUT as i64),
        (c"POLLERR", POLYSOCK_POLLERR as i64),
        (c"POLLHUP", POLYSOCK_POLLHUP as i64),
        (c"POLLNVAL", POLYSOCK_POLLNVAL as i64),
        (c"POLYSOCK_POLLER_EDGE", POLYSOCK_POLLER_EDGE as i64),
        (c"POLYSOCK_POLLER_ONESHOT", POLYSOCK_POLLER_ONESHOT as i64),
        (c"POLYSOCK_POLLER_WAKE", POLYSOCK_POLLER_WAKE),
    ]
};

/// Number of entries in the whole table.
pub fn count() -> usize {
    SOCKET_CONSTANTS.len()
        + ERRNO_NAMES.len()
        + OWN_CODES.len()
        + OPTION_CONSTANTS.len()
        + POLL_CONSTANTS.len()
}

/// Entry `i` (0-based) of the whole table, in a stable order: socket
/// constants, errno names, polysock codes, option ids, poll bits.
pub fn at(i: usize) -> Option<(&'static CStr, i64)> {
    let mut i = i;
    if i < SOCKET_CONSTANTS.len() {
        return Some(SOCKET_CONSTANTS[i]);
    }
    i -= SOCKET_CONSTANTS.len();
    if i < ERRNO_NAMES.len() {
        let (name, v) = ERRNO_NAMES[i];
        return Some((name, i64::from(v)));
    }
    i -= ERRNO_NAMES.len();
    if i < OWN_CODES.len() {
        return Some((OWN_CODES[i].name, i64::from(OWN_CODES[i].code)));
    }
    i -= OWN_CODES.len();
    if i < OPTION_CONSTANTS.len() {
        return Some(OPTION_CONSTANTS[i]);
    }
    i -= OPTION_CONSTANTS.len();
    POLL_CONSTANTS.get(i).copied()
}

/// The value of a constant by name ("AF_INET6", "ECONNREFUSED").
pub fn lookup(name: &[u8]) -> Option<i64> {
    (0..count())
        .filter_map(at)
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
