//! What every fuzz target shares: a process that cannot reach any network
//! (so no input can make a DNS query or send a packet off the machine: its
//! own network namespace has only a loopback), a
//! resolver that refuses every non-numeric lookup, and the checks that a
//! failed ABI call recorded a clear error (never a caught panic).

use polysock::core::error::POLYSOCK_EPANIC;
use polysock::ffi::error::{polysock_errno, polysock_last_error};
use std::ffi::CStr;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Lookups the guard refused (a name without AI_NUMERICHOST).
pub static REFUSED_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// Call first in every target. Moves the process into a network namespace
/// of its own (only a loopback interface, down: nothing leaves it), as
/// root; elsewhere the resolver guard alone keeps names off the network.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: unshare has no memory effects; the fuzzer has no threads yet.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            eprintln!(
                "polysock-fuzz: no private network namespace (not root?); the resolver guard still refuses names"
            );
        } else {
            loopback_up();
        }
    });
}

/// Brings up the namespace's own loopback, so that binding and sending to
/// 127.0.0.1 and ::1 work (and stay inside the namespace).
fn loopback_up() {
    // SAFETY: a plain socket and the SIOC[GS]IFFLAGS ioctls on an ifreq
    // that names "lo"; the socket is closed at the end.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(s >= 0);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as libc::c_char;
        ifr.ifr_name[1] = b'o' as libc::c_char;
        let up = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) == 0 && {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr) == 0
        };
        assert!(up, "cannot bring up the namespace's loopback");
        libc::close(s);
    }
}

/// Defines `getaddrinfo` in the target's own binary, interposed before the
/// C library's: a lookup with AI_NUMERICHOST (or with no host) goes to the
/// real one, which never asks DNS for those; any other lookup is refused
/// with EAI_NONAME and counted in `REFUSED_LOOKUPS`. Expand once per target.
#[macro_export]
macro_rules! resolver_guard {
    () => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn getaddrinfo(
            host: *const libc::c_char,
            service: *const libc::c_char,
            hints: *const libc::addrinfo,
            res: *mut *mut libc::addrinfo,
        ) -> libc::c_int {
            unsafe { $crate::guarded_getaddrinfo(host, service, hints, res) }
        }
    };
}

type Gai = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *const libc::addrinfo,
    *mut *mut libc::addrinfo,
) -> libc::c_int;

/// The body of the interposed getaddrinfo (see `resolver_guard!`).
///
/// # Safety
/// As getaddrinfo(3).
pub unsafe fn guarded_getaddrinfo(
    host: *const libc::c_char,
    service: *const libc::c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> libc::c_int {
    // SAFETY: hints is NULL or points at an addrinfo (getaddrinfo's contract).
    let numeric = unsafe { hints.as_ref() }.is_some_and(|h| h.ai_flags & libc::AI_NUMERICHOST != 0);
    if !host.is_null() && !numeric {
        REFUSED_LOOKUPS.fetch_add(1, Ordering::Relaxed);
        return libc::EAI_NONAME;
    }
    // SAFETY: RTLD_NEXT finds the C library's getaddrinfo, whose type is Gai.
    let real: Gai = unsafe {
        let p = libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr());
        assert!(!p.is_null(), "no getaddrinfo after the guard");
        std::mem::transmute::<*mut libc::c_void, Gai>(p)
    };
    // SAFETY: the arguments are passed on unchanged.
    unsafe { real(host, service, hints, res) }
}

/// The code of the failure the last ABI call recorded, checked to be a
/// clear error: not 0, not a caught panic, with a message.
pub fn failure_code(call: &str) -> i32 {
    let code = polysock_errno();
    // SAFETY: polysock_last_error never returns NULL.
    let msg = unsafe { CStr::from_ptr(polysock_last_error()) };
    assert!(code != 0, "{call} failed with no error code recorded");
    assert!(code != POLYSOCK_EPANIC, "{call} panicked: {msg:?}");
    assert!(
        !msg.to_bytes().is_empty(),
        "{call} failed ({code}) with no message"
    );
    code
}

/// Asserts that the last ABI call failed with `want`.
pub fn expect_code(call: &str, rc: i64, want: i32) {
    assert_eq!(rc, -1, "{call} succeeded; expected error {want}");
    let got = failure_code(call);
    assert_eq!(got, want, "{call}: code {got}, expected {want}");
}

/// The number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A little reader over the fuzzer's bytes: the decisions, then the rest.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    pub fn i32(&mut self) -> i32 {
        self.u32() as i32
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}
