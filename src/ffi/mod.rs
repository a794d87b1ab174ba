//! The C ABI: one thin layer over `core`. Each export is an ordinary
//! `#[no_mangle] pub extern "C" fn` (so cbindgen sees its signature) whose
//! body runs inside `boundary!`, which turns a panic into POLYSOCK_EPANIC
//! instead of unwinding into C. Pointer arguments go through the checked
//! helpers below, which turn NULL or oversized lengths into EINVAL.

use crate::core::error::{Error, Progress, Result, fail};
use crate::core::handles::{self, Handle};
use crate::core::socket::Socket;
use std::ffi::{CStr, c_char};
use std::mem::MaybeUninit;

pub mod connect;
pub mod constants;
pub mod error;
pub mod io;
pub mod msg;
pub mod options;
pub mod poll;
pub mod poller;
pub mod reader;
pub mod resolve;
pub mod ring;
pub mod sendfile;
pub mod socket;
pub mod tls;
pub mod udp;
pub mod unix;

/// What a failed call returns: -1 for status and counts, NULL for strings.
pub(crate) trait Failure {
    fn failure() -> Self;
}
impl Failure for i32 {
    fn failure() -> i32 {
        -1
    }
}
impl Failure for i64 {
    fn failure() -> i64 {
        -1
    }
}
impl Failure for *const c_char {
    fn failure() -> *const c_char {
        std::ptr::null()
    }
}

/// Runs an export's body; a panic becomes a recorded POLYSOCK_EPANIC and
/// the function's failure value.
macro_rules! boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(v) => v,
            Err(_) => $crate::ffi::error::caught_panic(),
        }
    };
}
pub(crate) use boundary;

/// The C return value for a result: the value, or the failure value after
/// recording the error for polysock_errno()/polysock_last_error().
#[inline(always)]
pub(crate) fn ret<T: Failure>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => failed(e),
    }
}

/// `ret`'s error path, out of line: an export's usual path keeps no
/// frame or registers for it.
#[cold]
#[inline(never)]
fn failed<T: Failure>(e: crate::core::error::Error) -> T {
    error::record(e);
    T::failure()
}

/// 0 or -1 for a call with no value.
pub(crate) fn status(r: Result<()>) -> i32 {
    ret(r.map(|()| 0))
}

/// `ret(with(h, f))`, with the C value made while the socket's use is
/// still held: the usual path then carries no "it failed" flag past the
/// use's release, and a dead handle's error goes straight out of line.
#[inline(always)]
pub(crate) fn call<T: Failure>(h: Handle, f: impl FnOnce(&Socket) -> Result<T>) -> T {
    match handles::get(h) {
        Ok(sock) => ret(f(&sock)),
        Err(e) => failed(e),
    }
}

/// Runs `f` on the socket behind `h` (EBADF for a dead handle).
pub(crate) fn with<T>(h: Handle, f: impl FnOnce(&Socket) -> Result<T>) -> Result<T> {
    let sock = handles::get(h)?;
    f(&sock)
}

/// An optional C string argument: NULL is None; it must be UTF-8.
pub(crate) fn opt_str<'a>(op: &str, what: &str, p: *const c_char) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string (documented).
    utf8(op, what, unsafe { CStr::from_ptr(p) }).map(Some)
}

/// A C string as UTF-8 text (EINVAL if it is not).
pub(crate) fn utf8<'a>(op: &str, what: &str, s: &'a CStr) -> Result<&'a str> {
    crate::core::addr::utf8(op, what, s.to_bytes())
}

/// A required C string argument.
pub(crate) fn req_str<'a>(op: &str, what: &str, p: *const c_char) -> Result<&'a str> {
    match opt_str(op, what, p)? {
        Some(s) => Ok(s),
        None => fail!(libc::EINVAL, "{op}: {what} is NULL"),
    }
}

/// A required output pointer.
pub(crate) fn out<'a, T>(op: &str, what: &str, p: *mut T) -> Result<&'a mut T> {
    // SAFETY: non-NULL output pointers must be valid for writes (documented).
    match unsafe { p.as_mut() } {
        Some(r) => Ok(r),
        None => fail!(libc::EINVAL, "{op}: {what} is NULL"),
    }
}

pub(crate) fn check_len(op: &str, len: usize) -> Result<()> {
    if len > isize::MAX as usize {
        return Err(too_long(op, len));
    }
    Ok(())
}

// The argument checks' errors, out of line and given `op` by value: the
// data calls' usual path then builds no formatting arguments (LLVM
// otherwise stores the op's text to the stack on every call).
#[cold]
#[inline(never)]
fn too_long(op: &str, len: usize) -> Error {
    Error::new(
        libc::EINVAL,
        format_args!("{op}: length {len} is too large (a negative length cast to size_t?)"),
    )
}

#[cold]
#[inline(never)]
fn null_buffer(op: &str) -> Error {
    Error::new(libc::EINVAL, format_args!("{op}: buffer is NULL"))
}

/// A caller's input buffer. NULL is accepted only with length 0.
#[inline]
pub(crate) fn buf_in<'a>(op: &str, p: *const u8, len: usize) -> Result<&'a [u8]> {
    check_len(op, len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null_buffer(op));
    }
    // SAFETY: the caller guarantees p is readable for len bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A caller's output buffer (may be uninitialised). NULL only with length 0.
#[inline]
pub(crate) fn buf_out<'a>(op: &str, p: *mut u8, len: usize) -> Result<&'a mut [MaybeUninit<u8>]> {
    check_len(op, len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(null_buffer(op));
    }
    // SAFETY: the caller guarantees p is writable for len bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
}

/// A count (bytes, entries) as the C functions return it; a count that
/// fits in memory always fits in an i64.
pub(crate) fn count(n: usize) -> i64 {
    n as i64
}

/// The C side of a `Progress`: the count goes to `progress` (may be NULL)
/// on success and on failure alike, so a caller knows where to resume.
pub(crate) fn with_progress(r: Progress, progress: *mut usize) -> Result<usize> {
    let (n, outcome) = match r {
        Ok(n) => (n, Ok(n)),
        Err((n, e)) => (n, Err(e)),
    };
    set_opt_out(progress, n);
    outcome
}

/// Writes an optional output (NULL means "not wanted").
pub(crate) fn set_opt_out<T>(p: *mut T, v: T) {
    // SAFETY: non-NULL output pointers must be valid for writes.
    if let Some(r) = unsafe { p.as_mut() } {
        *r = v;
    }
}
