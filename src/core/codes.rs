//! Names and descriptions of every code polysock reports: the platform's
//! errno values (names from `errno_list.rs`, texts from the C library,
//! copied once into a static table so that lookups are thread-safe) and
//! polysock's own codes (resolver and library codes, see `error.rs`).

use super::error::*;
use std::ffi::CStr;
use std::sync::OnceLock;

/// A code, its name and its description, all with static lifetime so the
/// C layer can hand them out as `const char *`.
pub struct CodeInfo {
    pub code: i32,
    pub name: &'static CStr,
    pub text: &'static CStr,
}

/// polysock's own codes. The texts are ours.
pub(crate) const OWN_CODES: &[CodeInfo] = &[
    own(
        POLYSOCK_EAI_AGAIN,
        c"EAI_AGAIN",
        c"Temporary failure in name resolution",
    ),
    own(
        POLYSOCK_EAI_BADFLAGS,
        c"EAI_BADFLAGS",
        c"Invalid flags for name resolution",
    ),
    own(
        POLYSOCK_EAI_FAIL,
        c"EAI_FAIL",
        c"Non-recoverable failure in name resolution",
    ),
    own(
        POLYSOCK_EAI_FAMILY,
        c"EAI_FAMILY",
        c"Address family not supported by the resolver",
    ),
    own(
        POLYSOCK_EAI_MEMORY,
        c"EAI_MEMORY",
        c"Out of memory in name resolution",
    ),
    own(
        POLYSOCK_EAI_NONAME,
        c"EAI_NONAME",
        c"Name or service not known",
    ),
    own(
        POLYSOCK_EAI_SERVICE,
        c"EAI_SERVICE",
        c"Service not supported for this socket type",
    ),
    own(
        POLYSOCK_EAI_SOCKTYPE,
        c"EAI_SOCKTYPE",
        c"Socket type not supported by the resolver",
    ),
    own(
        POLYSOCK_EAI_SYSTEM,
        c"EAI_SYSTEM",
        c"System error in name resolution",
    ),
    own(
        POLYSOCK_EAI_OVERFLOW,
        c"EAI_OVERFLOW",
        c"Resolver result buffer too small",
    ),
    own(
        POLYSOCK_EAI_NODATA,
        c"EAI_NODATA",
        c"No address associated with the name",
    ),
    own(
        POLYSOCK_EPANIC,
        c"POLYSOCK_EPANIC",
        c"Internal error in polysock (a panic was caught)",
    ),
    own(
        POLYSOCK_EEOF,
        c"POLYSOCK_EEOF",
        c"Connection closed before all bytes arrived",
    ),
    // TLS texts are phrased to continue "tls handshake with a.test: ".
    own(POLYSOCK_ETLS, c"POLYSOCK_ETLS", c"TLS error"),
    own(
        POLYSOCK_ETLS_CERT_EXPIRED,
        c"POLYSOCK_ETLS_CERT_EXPIRED",
        c"certificate expired",
    ),
    own(
        POLYSOCK_ETLS_CERT_NOT_YET_VALID,
        c"POLYSOCK_ETLS_CERT_NOT_YET_VALID",
        c"certificate not yet valid",
    ),
    own(
        POLYSOCK_ETLS_HOSTNAME,
        c"POLYSOCK_ETLS_HOSTNAME",
        c"hostname mismatch",
    ),
    own(
        POLYSOCK_ETLS_UNKNOWN_ISSUER,
        c"POLYSOCK_ETLS_UNKNOWN_ISSUER",
        c"unknown issuer",
    ),
    own(
        POLYSOCK_ETLS_SELF_SIGNED,
        c"POLYSOCK_ETLS_SELF_SIGNED",
        c"self-signed certificate",
    ),
    own(
        POLYSOCK_ETLS_BAD_CERT,
        c"POLYSOCK_ETLS_BAD_CERT",
        c"invalid certificate",
    ),
    own(
        POLYSOCK_ETLS_CERT_REQUIRED,
        c"POLYSOCK_ETLS_CERT_REQUIRED",
        c"peer sent no certificate",
    ),
    own(
        POLYSOCK_ETLS_ALERT,
        c"POLYSOCK_ETLS_ALERT",
        c"peer sent alert",
    ),
    own(
        POLYSOCK_ETLS_PROTOCOL,
        c"POLYSOCK_ETLS_PROTOCOL",
        c"peer sent something that is not valid TLS",
    ),
    own(
        POLYSOCK_ETLS_INCOMPATIBLE,
        c"POLYSOCK_ETLS_INCOMPATIBLE",
        c"nothing in common with the peer",
    ),
    own(
        POLYSOCK_ETLS_TRUNCATED,
        c"POLYSOCK_ETLS_TRUNCATED",
        c"peer closed without close_notify",
    ),
    own(
        POLYSOCK_ETLS_PEM,
        c"POLYSOCK_ETLS_PEM",
        c"no usable PEM data",
    ),
    own(
        POLYSOCK_ETLS_CONFIG,
        c"POLYSOCK_ETLS_CONFIG",
        c"unusable TLS configuration",
    ),
];

const fn own(code: i32, name: &'static CStr, text: &'static CStr) -> CodeInfo {
    CodeInfo { code, name, text }
}

macro_rules! errno_names {
    ($( $(#[$meta:meta])* $name:ident ),* $(,)?) => {
        /// Every errno name the platform has, with its value.
        pub(crate) const ERRNO_NAMES: &[(&CStr, i32)] = &[
            $( $(#[$meta])* (
                // SAFETY-free: concat! of an identifier never holds a NUL.
                match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                    Ok(s) => s,
                    Err(_) => panic!("bad errno name"),
                },
                libc::$name,
            ), )*
        ];
    };
}
include!("errno_list.rs");

/// The errno table with the C library's description of each value, built
/// once. `strerror_r` is the thread-safe form; its text is copied and kept.
fn errno_table() -> &'static [CodeInfo] {
    static TABLE: OnceLock<Vec<CodeInfo>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ERRNO_NAMES
            .iter()
            .map(|&(name, code)| CodeInfo {
                code,
                name,
                text: Box::leak(os_description(code).into_boxed_c_str()),
            })
            .collect()
    })
}

fn os_description(code: i32) -> std::ffi::CString {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: buf is writable for its whole length, which is what we pass.
    // The `libc` crate binds the XSI (int-returning) strerror_r on every
    // Unix, which always writes into buf.
    let rc = unsafe { libc::strerror_r(code, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return c"Unknown error".into();
    }
    // SAFETY: on success strerror_r wrote a NUL-terminated string into buf.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_owned()
}

/// Information on `code`, or None for a value that is neither an errno the
/// platform names nor one of polysock's codes.
pub fn lookup(code: i32) -> Option<&'static CodeInfo> {
    if code >= POLYSOCK_ERR_BASE {
        OWN_CODES.iter().find(|c| c.code == code)
    } else {
        errno_table().iter().find(|c| c.code == code)
    }
}

pub(crate) const UNKNOWN_NAME: &CStr = c"EUNKNOWN";
pub(crate) const UNKNOWN_TEXT: &CStr = c"Unknown error";
pub(crate) const SUCCESS_NAME: &CStr = c"OK";
pub(crate) const SUCCESS_TEXT: &CStr = c"Success";

/// `"ECONNREFUSED"` for ECONNREFUSED; "OK" for 0; "EUNKNOWN" otherwise.
pub fn name_cstr(code: i32) -> &'static CStr {
    match code {
        0 => SUCCESS_NAME,
        _ => lookup(code).map_or(UNKNOWN_NAME, |c| c.name),
    }
}

/// The description of `code`: "Connection refused" for ECONNREFUSED.
pub fn describe_cstr(code: i32) -> &'static CStr {
    match code {
        0 => SUCCESS_TEXT,
        _ => lookup(code).map_or(UNKNOWN_TEXT, |c| c.text),
    }
}

pub fn name(code: i32) -> &'static str {
    name_cstr(code).to_str().unwrap_or("EUNKNOWN")
}

pub fn describe(code: i32) -> &'static str {
    describe_cstr(code).to_str().unwrap_or("Unknown error")
}

/// Maps a getaddrinfo/getnameinfo return value to polysock's code. For
/// EAI_SYSTEM the errno it carries is returned instead, so the caller sees
/// the real cause (e.g. EMFILE).
pub fn from_gai(rc: i32) -> i32 {
    macro_rules! map {
        ($($(#[$m:meta])* $eai:ident => $ours:ident),* $(,)?) => {
            $( $(#[$m])* if rc == libc::$eai { return $ours; } )*
        };
    }
    if rc == libc::EAI_SYSTEM {
        let e = errno::errno().0;
        return if e != 0 { e } else { POLYSOCK_EAI_SYSTEM };
    }
    map! {
        EAI_AGAIN => POLYSOCK_EAI_AGAIN,
        EAI_BADFLAGS => POLYSOCK_EAI_BADFLAGS,
        EAI_FAIL => POLYSOCK_EAI_FAIL,
        EAI_FAMILY => POLYSOCK_EAI_FAMILY,
        EAI_MEMORY => POLYSOCK_EAI_MEMORY,
        EAI_NONAME => POLYSOCK_EAI_NONAME,
        EAI_SERVICE => POLYSOCK_EAI_SERVICE,
        EAI_SOCKTYPE => POLYSOCK_EAI_SOCKTYPE,
        EAI_OVERFLOW => POLYSOCK_EAI_OVERFLOW,
        #[cfg(target_os = "linux")] EAI_NODATA => POLYSOCK_EAI_NODATA,
    }
    POLYSOCK_EAI_FAIL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_name_and_a_text() {
        for &(name, code) in ERRNO_NAMES {
            assert_eq!(name_cstr(code), name, "errno {code}");
            assert_ne!(describe_cstr(code), UNKNOWN_TEXT, "{name:?}");
        }
        for c in OWN_CODES {
            assert!(c.code >= POLYSOCK_ERR_BASE);
            assert_eq!(name_cstr(c.code), c.name);
            assert_eq!(describe_cstr(c.code), c.text);
        }
    }

    #[test]
    fn unknown_codes_have_static_fallbacks() {
        assert_eq!(name(-5), "EUNKNOWN");
        assert_eq!(describe(99999), "Unknown error");
        assert_eq!(name(0), "OK");
    }

    #[test]
    fn errno_values_stay_below_our_range() {
        assert!(
            ERRNO_NAMES
                .iter()
                .all(|&(_, v)| v > 0 && v < POLYSOCK_ERR_BASE)
        );
    }

    #[test]
    fn gai_codes_map_to_our_range() {
        assert_eq!(from_gai(libc::EAI_NONAME), POLYSOCK_EAI_NONAME);
        assert_eq!(from_gai(libc::EAI_AGAIN), POLYSOCK_EAI_AGAIN);
    }
}
