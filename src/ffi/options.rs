//! Socket options.

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, out, status, with};
use std::ffi::c_void;

/// setsockopt with an int value at any level (SOL_SOCKET, IPPROTO_TCP,
/// IPPROTO_IP, IPPROTO_IPV6...).
///
/// Returns 0, or -1: EBADF, ENOPROTOOPT (unknown level or option), EINVAL.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_setsockopt_int(
    h: polysock_t,
    level: i32,
    option: i32,
    value: i32,
) -> i32 {
    boundary! { status(with(h, |s| s.set_int(level, option, value))) }
}

/// getsockopt of an int option at any level; writes it to `value`.
///
/// Returns 0, or -1: EBADF, EINVAL (`value` NULL, or the option is not
/// int-sized), ENOPROTOOPT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getsockopt_int(
    h: polysock_t,
    level: i32,
    option: i32,
    value: *mut i32,
) -> i32 {
    boundary! {
        status((|| {
            let dst = out("getsockopt", "value", value)?;
            *dst = with(h, |s| s.get_int(level, option))?;
            Ok(())
        })())
    }
}

/// setsockopt with raw bytes, for struct-valued options (struct linger,
/// struct ip_mreq...): `len` bytes at `value`.
///
/// Returns 0, or -1: EBADF, EINVAL (`value` NULL with `len` > 0, wrong
/// size), ENOPROTOOPT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_setsockopt_bytes(
    h: polysock_t,
    level: i32,
    option: i32,
    value: *const c_void,
    len: usize,
) -> i32 {
    boundary! { status(with(h, |s| s.set_bytes(level, option, buf_in("setsockopt", value.cast(), len)?))) }
}

/// getsockopt into `buf` (`buf_len` bytes); `out_len` receives the
/// option's length (at most `buf_len`).
///
/// Returns 0, or -1: EBADF, EINVAL (NULL `buf` or `out_len`), ENOPROTOOPT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getsockopt_bytes(
    h: polysock_t,
    level: i32,
    option: i32,
    buf: *mut c_void,
    buf_len: usize,
    out_len: *mut usize,
) -> i32 {
    boundary! {
        status((|| {
            let dst = out("getsockopt", "out_len", out_len)?;
            let b = buf_out("getsockopt", buf.cast(), buf_len)?;
            *dst = with(h, |s| s.get_bytes(level, option, b))?;
            Ok(())
        })())
    }
}

/// Sets a typed option, `opt` one of POLYSOCK_OPT_*: booleans are 0/1,
/// POLYSOCK_OPT_LINGER is seconds (-1 off), *_MS options milliseconds.
///
/// Returns 0, or -1: EBADF, EINVAL (unknown `opt`, value out of range),
/// ENOPROTOOPT (not on this platform or this kind of socket).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_setopt(h: polysock_t, opt: i32, value: i64) -> i32 {
    boundary! { status(with(h, |s| s.set_opt(opt, value))) }
}

/// Reads a typed option (POLYSOCK_OPT_*) into `value`.
///
/// Returns 0, or -1: EBADF, EINVAL (unknown `opt`, `value` NULL),
/// ENOPROTOOPT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getopt(h: polysock_t, opt: i32, value: *mut i64) -> i32 {
    boundary! {
        status((|| {
            let dst = out("getopt", "value", value)?;
            *dst = with(h, |s| s.get_opt(opt))?;
            Ok(())
        })())
    }
}
