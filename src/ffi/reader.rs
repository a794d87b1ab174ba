//! The buffered reader: read a line, or up to a delimiter (CPython's
//! makefile().readline, LuaSocket's "*l"). Its buffer belongs to the
//! socket, so polysock_recv and every other receive return the bytes it
//! holds first: readline and recv can be mixed freely on one socket.

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, out, status, with};
use crate::core::error::fail;
use std::ffi::{c_char, c_void};

/// Reads one line, up to and including its '\n', into `buf` (at most `len`
/// bytes; not NUL-terminated) and writes its length to `out_len`. Bytes
/// that arrive after the line stay in the socket's buffer for the next
/// call, and for polysock_recv. The socket's timeout covers the whole call
/// (one deadline). At end of stream the last line comes without its '\n';
/// after that `out_len` is 0. SOCK_STREAM sockets only.
///
/// Returns 0, or -1: EBADF, EINVAL (`buf` NULL, `len` 0 or > SSIZE_MAX,
/// `out_len` NULL), EMSGSIZE (no '\n' within the first `len` bytes: the
/// line does not fit; nothing is consumed, so the bytes can still be read,
/// with a bigger buffer or with polysock_recv), EOPNOTSUPP (not a stream
/// socket), EAGAIN (timeout 0: no whole line yet; what came is kept),
/// ETIMEDOUT (likewise), ECONNRESET.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_readline(
    h: polysock_t,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> i32 {
    boundary! {
        status(with(h, |s| {
            let dst = buf_out("readline", buf.cast(), len)?;
            let n_out = out("readline", "out_len", out_len)?;
            *n_out = s.read_until("readline", b"\n", dst)?;
            Ok(())
        }))
    }
}

/// As polysock_readline, with any delimiter: reads up to and including the
/// first occurrence of the `delim_len` bytes at `delim` ("\r\n", "\0",
/// a multipart boundary...).
///
/// Returns 0, or -1: as polysock_readline, plus EINVAL (`delim` NULL or
/// `delim_len` 0); EMSGSIZE when the delimiter does not end within the
/// first `len` bytes.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_read_until(
    h: polysock_t,
    delim: *const c_void,
    delim_len: usize,
    buf: *mut c_void,
    len: usize,
    out_len: *mut usize,
) -> i32 {
    boundary! {
        status(with(h, |s| {
            let d = buf_in("read_until", delim.cast(), delim_len)?;
            if d.is_empty() {
                return fail!(libc::EINVAL, "read_until: the delimiter is empty (delim_len 0)");
            }
            let dst = buf_out("read_until", buf.cast(), len)?;
            let n_out = out("read_until", "out_len", out_len)?;
            *n_out = s.read_until("read_until", d, dst)?;
            Ok(())
        }))
    }
}

/// The number of bytes the socket's read buffer holds (filled by
/// polysock_readline / polysock_read_until). An event loop must not wait
/// for the socket to become readable while this is above 0: those bytes
/// are already here, and the next receive returns them at once.
///
/// Returns the count (0 when nothing is buffered), or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_buffered(h: polysock_t) -> i64 {
    boundary! { call(h, |s| Ok(s.buffered_len() as i64)) }
}
