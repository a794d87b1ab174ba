//! UDP segmentation offload (core/udp.rs): a buffer out as many datagrams
//! in one call, several datagrams in with one receive.

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, count, opt_str, out, set_opt_out, status, with};
use crate::core::addr::Addr;
use std::ffi::{c_char, c_void};

/// Sends `len` bytes of `buf` as datagrams of `segment` bytes each, the
/// last one shorter when `segment` does not divide `len` (`len` 0 sends one
/// empty datagram), in one system call: the kernel cuts the buffer
/// (UDP_SEGMENT), so the cost is nearly that of one datagram. To `host`:
/// `port` as for polysock_sendto, or, with `host` NULL, to the connected
/// peer. Where the kernel has no UDP_SEGMENT (Linux before 4.18) or the
/// route cannot offload (it reports EIO: no checksum offload, IPsec), the
/// same datagrams go out in one sendmmsg instead: the receiver cannot tell.
///
/// Returns `len`, or, when that fallback fails after some datagrams went,
/// the bytes of those; or -1: EBADF, EINVAL (`buf` NULL with `len` > 0,
/// `segment` 0, more than POLYSOCK_UDP_MAX_SEGMENTS datagrams, a segment
/// that with its headers does not fit the path MTU, bad host or port),
/// EMSGSIZE (`segment` or `len` above POLYSOCK_UDP_MAX_PAYLOAD),
/// EOPNOTSUPP (not a UDP socket; not Linux), EDESTADDRREQ (`host` NULL on
/// an unconnected socket), EAGAIN (timeout 0), ETIMEDOUT, ECONNREFUSED,
/// POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_send_segments(
    h: polysock_t,
    buf: *const c_void,
    len: usize,
    segment: usize,
    flags: i32,
    host: *const c_char,
    port: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let data = buf_in("send_segments", buf.cast(), len)?;
            let to = opt_str("send_segments", "host", host)?.map(|h| (h, port));
            s.send_segments(data, segment, flags, to).map(count)
        })
    }
}

/// Turns on (`enable` 1) or off (0) receive coalescing (UDP_GRO) on a UDP
/// socket: datagrams of one sender and one size that arrive together are
/// then received as one buffer by polysock_recv_segments. A plain receive
/// on such a socket would get the whole coalesced buffer: use
/// polysock_recv_segments on it.
///
/// Returns 0, or -1: EBADF, EOPNOTSUPP (not a UDP socket), ENOPROTOOPT
/// (the kernel lacks UDP_GRO, Linux before 5.0, or not Linux:
/// polysock_recv_segments then still works, one datagram per call).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_udp_gro(h: polysock_t, enable: i32) -> i32 {
    boundary! { status(with(h, |s| s.set_gro(enable != 0))) }
}

/// Receives one datagram, or, with polysock_udp_gro on, several of one
/// sender coalesced into `buf`. `segment` gets the size of each: every
/// datagram in the buffer has `segment` bytes but the last, which may be
/// shorter (a single datagram is one segment of its own length).
/// `out_flags` (may be NULL) gets the message flags: MSG_TRUNC when `buf`
/// was too short and the rest was lost (a buffer of
/// POLYSOCK_UDP_GRO_BUFFER bytes never is). `from` (may be NULL) gets the
/// sender's address.
///
/// Returns the number of bytes received, or -1: EBADF, EINVAL (`buf` NULL,
/// `len` 0, `segment` NULL), EOPNOTSUPP (not a UDP socket; not Linux),
/// EAGAIN (timeout 0, nothing waiting), ETIMEDOUT, ECONNREFUSED.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recv_segments(
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    segment: *mut usize,
    out_flags: *mut i32,
    from: *mut Addr,
) -> i64 {
    boundary! {
        call(h, |s| {
            let b = buf_out("recv_segments", buf.cast(), len)?;
            let seg = out("recv_segments", "segment", segment)?;
            let (n, size, mflags, addr) = s.recv_segments(b, flags)?;
            *seg = size;
            set_opt_out(out_flags, mflags);
            set_opt_out(from, addr);
            Ok(count(n))
        })
    }
}
