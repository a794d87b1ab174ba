//! Sending and receiving. None of these allocate, and every send passes
//! MSG_NOSIGNAL (a vanished peer is EPIPE, never SIGPIPE).

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, count, opt_str, with_progress};
use crate::core::addr::{Addr, Host, ipv4_of_c};
use crate::core::error::{Error, Result, fail};
use std::ffi::{c_char, c_void};

/// Sends up to `len` bytes of `buf` once, waiting as the socket's timeout
/// allows for room to send. `flags`: MSG_* (MSG_NOSIGNAL is always added).
///
/// Returns the number of bytes sent (possibly fewer than `len`), or -1:
/// EBADF, EINVAL (`buf` NULL with `len` > 0, `len` > SSIZE_MAX), EPIPE (the
/// peer closed), ECONNRESET, EAGAIN (timeout 0, no room), ETIMEDOUT.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_send(h: polysock_t, buf: *const c_void, len: usize, flags: i32) -> i64 {
    boundary! { call(h, |s| s.send(buf_in("send", buf.cast(), len)?, flags).map(count)) }
}

/// Sends all `len` bytes, within one deadline: the socket's timeout covers
/// the whole call. `sent` (may be NULL) receives the number of bytes that
/// went, on success and on failure alike, so a caller knows where to
/// resume.
///
/// Returns `len`, or -1: as polysock_send.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendall(
    h: polysock_t,
    buf: *const c_void,
    len: usize,
    flags: i32,
    sent: *mut usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            let data = buf_in("sendall", buf.cast(), len)?;
            with_progress(s.sendall(data, flags), sent).map(count)
        })
    }
}

/// Receives up to `len` bytes into `buf` once. `flags`: MSG_PEEK,
/// MSG_DONTWAIT, MSG_WAITALL, ...
///
/// Returns the number of bytes received; 0 only at end of stream (or for
/// an empty datagram); or -1: EBADF (also when closed by another thread
/// during the wait), EINVAL (`len` 0, `buf` NULL, `len` > SSIZE_MAX),
/// EAGAIN (timeout 0 or MSG_DONTWAIT, nothing waiting), ETIMEDOUT,
/// ECONNRESET. End of stream, would-block and timeout are always distinct.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recv(h: polysock_t, buf: *mut c_void, len: usize, flags: i32) -> i64 {
    boundary! {
        call(h, |s| {
            let out = nonempty("recv", buf_out("recv", buf.cast(), len)?)?;
            s.recv(out, flags).map(count)
        })
    }
}

/// Receives exactly `len` bytes (MSG_WAITALL semantics, like Zerynth's
/// recv) within one deadline. `received` (may be NULL) gets the number of
/// bytes stored in `buf`, on success and on failure alike.
///
/// Returns `len`, or -1: POLYSOCK_EEOF (the stream ended first: `received`
/// tells how much came), EINVAL (`len` 0, `buf` NULL), and as polysock_recv.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recv_exact(
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    received: *mut usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            let out = nonempty("recv_exact", buf_out("recv_exact", buf.cast(), len)?)?;
            let n = with_progress(s.recv_exact(out, flags), received)?;
            if n < len {
                return fail!(crate::core::error::POLYSOCK_EEOF, "recv_exact: the peer closed after {n} of {len} bytes");
            }
            Ok(count(n))
        })
    }
}

/// Sends one datagram to `host`:`port` (host as for polysock_bind; for
/// AF_UNIX the path). A literal host costs no lookup.
///
/// Returns the number of bytes sent, or -1: as polysock_send, plus EINVAL
/// (bad host or port), EMSGSIZE (datagram too large), POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendto(
    h: polysock_t,
    buf: *const c_void,
    len: usize,
    flags: i32,
    host: *const c_char,
    port: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let data = buf_in("sendto", buf.cast(), len)?;
            // Two calls of the inlined sendto: the literal's knows its host
            // is IPv4, so its fast path builds no `Host` in memory.
            // SAFETY: `host` is NULL or a NUL-terminated string (documented).
            let n = match unsafe { ipv4_of_c(host) } {
                Some((ip, text)) => s.sendto(data, flags, Some(Host::Ipv4(ip, text)), port)?,
                None => s.sendto(data, flags, opt_str("sendto", "host", host)?.map(Host::Text), port)?,
            };
            Ok(count(n))
        })
    }
}

/// Receives one datagram into `buf` (a longer one is cut to `len`; pass
/// MSG_TRUNC to get its real length) and, if `from` is not NULL, the
/// sender's address.
///
/// Returns the number of bytes received, or -1: as polysock_recv.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recvfrom(
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    from: *mut Addr,
) -> i64 {
    boundary! {
        call(h, |s| {
            let out = nonempty("recvfrom", buf_out("recvfrom", buf.cast(), len)?)?;
            // SAFETY: a non-NULL `from` is valid for writes (documented).
            s.recvfrom(out, flags, unsafe { from.as_mut() }).map(count)
        })
    }
}

/// A zero-length receive could not tell "no data" from end of stream.
#[inline]
fn nonempty<'a, T>(op: &str, b: &'a mut [T]) -> Result<&'a mut [T]> {
    if b.is_empty() {
        return Err(empty_buffer(op));
    }
    Ok(b)
}

/// `nonempty`'s error, out of line (see ffi::too_long).
#[cold]
#[inline(never)]
fn empty_buffer(op: &str) -> Error {
    Error::new(libc::EINVAL, format_args!("{op}: buffer length is 0"))
}
