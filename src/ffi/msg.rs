//! Vectored and ancillary I/O: sendmsg/recvmsg over arrays of buffers,
//! passing sockets over AF_UNIX, and sendmmsg/recvmmsg batches. None of
//! these allocate: the caller's polysock_iovec arrays go to the kernel as
//! they are (the struct has the layout of the platform's struct iovec).

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, check_len, count, opt_str, out, set_opt_out};
use crate::core::addr::Addr;
use crate::core::error::{Error, Result, fail};
use crate::core::handles;
use crate::core::msg::{Bufs, POLYSOCK_IOV_MAX, POLYSOCK_MMSG_MAX};
use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;

/// One buffer of a vectored call: `len` bytes at `base` (which may be NULL
/// only when `len` is 0). Laid out exactly as the platform's
/// `struct iovec`, so an array of them costs no copy.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct polysock_iovec {
    pub base: *mut c_void,
    pub len: usize,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<polysock_iovec>() == size_of::<libc::iovec>());
    assert!(align_of::<polysock_iovec>() == align_of::<libc::iovec>());
    assert!(offset_of!(polysock_iovec, base) == offset_of!(libc::iovec, iov_base));
    assert!(offset_of!(polysock_iovec, len) == offset_of!(libc::iovec, iov_len));
};

/// One message of polysock_sendmmsg / polysock_recvmmsg.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct polysock_mmsg {
    /// The message's buffers (`iovcnt` of them, at most POLYSOCK_IOV_MAX).
    pub iov: *const polysock_iovec,
    pub iovcnt: usize,
    /// sendmmsg: the destination, `host` and `port` as for polysock_sendto
    /// (`family` 0: none, for a connected socket; otherwise the socket's
    /// own family is used). recvmmsg: receives the sender.
    pub addr: Addr,
    /// Out: the bytes sent or received for this message.
    pub len: usize,
    /// Out (recvmmsg): this message's flags, MSG_TRUNC when the datagram
    /// was cut to fit the buffers.
    pub flags: i32,
}

/// The caller's buffer array, checked. (Inlined: a batch checks every
/// message's buffers, and the call with its result through memory cost
/// more than the checks; callgrind.)
#[inline(always)]
pub(crate) fn bufs<'a>(op: &str, iov: *const polysock_iovec, iovcnt: usize) -> Result<Bufs<'a>> {
    // Checked before the array is touched; no buffers (an empty
    // datagram) is tested for only within the one compare's rare side.
    if iovcnt.wrapping_sub(1) >= POLYSOCK_IOV_MAX || iov.is_null() {
        if iovcnt == 0 {
            return Ok(Bufs::empty());
        }
        return Err(bad_array(op, iovcnt));
    }
    // SAFETY: the caller passes `iovcnt` readable entries (documented); the
    // layouts match (checked at compile time above).
    let array = unsafe { std::slice::from_raw_parts(iov.cast::<libc::iovec>(), iovcnt) };
    // SAFETY: the caller guarantees each buffer is valid for its length.
    unsafe { Bufs::new(op, array) }
}

/// `bufs`'s error for an array it cannot look at: too long, or NULL. (An
/// Error, not a Result: the usual path's buffers then stay in registers.)
#[cold]
#[inline(never)]
fn bad_array(op: &str, iovcnt: usize) -> Error {
    if iovcnt > POLYSOCK_IOV_MAX {
        return Error::new(
            libc::EINVAL,
            format_args!(
                "{op}: {iovcnt} buffers is more than POLYSOCK_IOV_MAX ({POLYSOCK_IOV_MAX})"
            ),
        );
    }
    Error::new(libc::EINVAL, format_args!("{op}: iov is NULL"))
}

/// Sends the `iovcnt` buffers of `iov` as one message (one datagram), in
/// order, waiting as the socket's timeout allows. `host`/`port`: the
/// destination as for polysock_sendto, or `host` NULL for the connected
/// peer. `flags`: MSG_* (MSG_NOSIGNAL is always added).
///
/// Returns the number of bytes sent (possibly fewer than the buffers hold,
/// on a stream socket), or -1: EBADF, EINVAL (`iov` NULL with `iovcnt` >
/// 0, more than POLYSOCK_IOV_MAX buffers, a NULL buffer with a length,
/// lengths adding up past SSIZE_MAX, bad host or port), EPIPE, ECONNRESET,
/// EDESTADDRREQ (no destination on an unconnected socket), EMSGSIZE,
/// EAGAIN (timeout 0), ETIMEDOUT, POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendmsg(
    h: polysock_t,
    iov: *const polysock_iovec,
    iovcnt: usize,
    flags: i32,
    host: *const c_char,
    port: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let b = bufs("sendmsg", iov, iovcnt)?;
            let to = opt_str("sendmsg", "host", host)?.map(|host| (host, port));
            s.sendmsg(b, flags, to).map(count)
        })
    }
}

/// Receives one message into the `iovcnt` buffers of `iov`, in order,
/// waiting as the socket's timeout allows. `from` (may be NULL) receives
/// the sender (family 0 when the kernel names none, as on a connected
/// stream). `out_flags` (may be NULL) receives the message flags:
/// MSG_TRUNC when a datagram was longer than the buffers (the rest is
/// lost), MSG_CTRUNC when control data was dropped (for instance a handle
/// sent with polysock_send_handle: it is closed). Bytes buffered by
/// polysock_readline come first (with no sender and no flags).
///
/// Returns the number of bytes stored (with MSG_TRUNC in `flags`, a
/// datagram's real length); 0 only at end of stream or for an empty
/// datagram; or -1: EBADF, EINVAL (as polysock_sendmsg, or buffers holding
/// 0 bytes), EAGAIN (timeout 0 or MSG_DONTWAIT), ETIMEDOUT, ECONNRESET.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recvmsg(
    h: polysock_t,
    iov: *const polysock_iovec,
    iovcnt: usize,
    flags: i32,
    from: *mut Addr,
    out_flags: *mut i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let b = bufs("recvmsg", iov, iovcnt)?;
            let (n, addr, mflags) = s.recvmsg(b, flags)?;
            set_opt_out(from, addr);
            set_opt_out(out_flags, mflags);
            Ok(count(n))
        })
    }
}

/// The caller's control buffer for a receive; NULL only with length 0.
fn control_out<'a>(op: &str, p: *mut c_void, len: usize) -> Result<&'a mut [MaybeUninit<u8>]> {
    check_len(op, len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return fail!(libc::EINVAL, "{op}: control is NULL with controllen {len}");
    }
    // SAFETY: the caller guarantees control is writable for len bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
}

/// polysock_sendmsg with control data and the destination as a
/// polysock_addr: sends the `iovcnt` buffers of `iov` as one message, with
/// the `controllen` bytes of `control` as its ancillary data, in the
/// kernel's `struct cmsghdr` layout (build it with the CMSG_* macros of
/// <sys/socket.h>): SCM_RIGHTS with any number of raw descriptors
/// (polysock_fileno gives a socket's), SCM_CREDENTIALS, IP_PKTINFO,
/// IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS, IP_TOS... The kernel reads it
/// as it is. `to`: the destination (its `host` and `port`, as for
/// polysock_sendto), or NULL (or `family` 0) for the connected peer.
/// `flags`: MSG_* (MSG_NOSIGNAL is always added). Waits as the socket's
/// timeout allows.
///
/// Returns the number of bytes sent (on a stream socket possibly fewer
/// than the buffers hold; the control data went with the first byte), or
/// -1: EBADF, EINVAL (as polysock_sendmsg; `control` NULL with
/// `controllen` > 0, `controllen` > SSIZE_MAX; `to->host` not
/// NUL-terminated or not UTF-8; control data the kernel finds malformed),
/// EPERM (SCM_CREDENTIALS naming another process without the privilege),
/// EBADF (also: a descriptor in SCM_RIGHTS is not open), ETOOMANYREFS,
/// ENOBUFS
/// (control data too large for the kernel), EPIPE, ECONNRESET,
/// EDESTADDRREQ, EISCONN, EMSGSIZE, EAGAIN (timeout 0), ETIMEDOUT,
/// POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendmsg_ex(
    h: polysock_t,
    iov: *const polysock_iovec,
    iovcnt: usize,
    control: *const c_void,
    controllen: usize,
    flags: i32,
    to: *const Addr,
) -> i64 {
    boundary! {
        call(h, |s| {
            let b = bufs("sendmsg", iov, iovcnt)?;
            if control.is_null() && controllen > 0 {
                return fail!(libc::EINVAL, "sendmsg: control is NULL with controllen {controllen}");
            }
            let c = buf_in("sendmsg", control.cast(), controllen)?;
            // SAFETY: a non-NULL `to` points at a polysock_addr (documented).
            let to = match unsafe { to.as_ref() } {
                None => None,
                Some(a) => a.dest("sendmsg")?,
            };
            s.sendmsg_control(b, c, flags, to).map(count)
        })
    }
}

/// polysock_recvmsg with control data: receives one message into the
/// `iovcnt` buffers of `iov` (they may hold 0 bytes in all: a datagram is
/// then consumed and 0 returned, which is then not end of stream), and its
/// ancillary data into the `controllen` bytes of `control`, in the kernel's
/// `struct cmsghdr` layout (align `control` for struct cmsghdr to walk it
/// with CMSG_FIRSTHDR/CMSG_NXTHDR; `*out_controllen` is its msg_controllen).
/// Descriptors received (SCM_RIGHTS) are new fds owned by the caller,
/// close-on-exec (MSG_CMSG_CLOEXEC is always added); those that did not
/// fit were closed by the kernel. Waits as the socket's timeout allows.
/// `from` (may be NULL) receives the sender (family 0 when the kernel
/// names none); `out_controllen` (may be NULL only when `controllen` is 0)
/// the bytes of control data written; `out_flags` (may be NULL) the
/// message flags: MSG_TRUNC (the datagram was longer than the buffers),
/// MSG_CTRUNC (control data did not fit `control` and was cut), MSG_EOR,
/// MSG_OOB, MSG_ERRQUEUE. Bytes buffered by polysock_readline come first
/// (no sender, no control data, no flags).
///
/// Returns the number of bytes stored (with MSG_TRUNC in `flags`, a
/// datagram's real length), 0 at end of stream, or -1: EBADF, EINVAL (as
/// polysock_sendmsg; `control` NULL with `controllen` > 0, `controllen` >
/// SSIZE_MAX, `out_controllen` NULL with `controllen` > 0), EAGAIN (timeout
/// 0 or MSG_DONTWAIT), ETIMEDOUT, ECONNRESET, EMFILE (no descriptor left
/// for a received one: MSG_CTRUNC on Linux instead).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recvmsg_ex(
    h: polysock_t,
    iov: *const polysock_iovec,
    iovcnt: usize,
    control: *mut c_void,
    controllen: usize,
    flags: i32,
    from: *mut Addr,
    out_controllen: *mut usize,
    out_flags: *mut i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let b = bufs("recvmsg", iov, iovcnt)?;
            let c = control_out("recvmsg", control, controllen)?;
            if controllen > 0 && out_controllen.is_null() {
                return fail!(libc::EINVAL, "recvmsg: out_controllen is NULL with controllen {controllen}");
            }
            let r = s.recvmsg_control(b, c, flags)?;
            set_opt_out(from, r.from);
            set_opt_out(out_controllen, r.control_len);
            set_opt_out(out_flags, r.flags);
            Ok(count(r.len))
        })
    }
}

/// Sends the socket of handle `handle` to the peer of `h`, an AF_UNIX
/// socket (SCM_RIGHTS), with the `len` bytes of `data`: the receiver gets
/// its own descriptor for the same open socket (see polysock_recv_handle),
/// which stays valid when the sender closes `handle`. On a stream socket
/// the handle travels with the first byte, so `len` must be at least 1;
/// if fewer than `len` bytes went, send the rest with polysock_send.
///
/// Returns the number of bytes sent, or -1: EBADF (`h` or `handle` is not
/// an open socket), EOPNOTSUPP (`h` is not AF_UNIX), EINVAL (`data` NULL
/// with `len` > 0, `len` > SSIZE_MAX, `len` 0 on a stream socket), EPIPE,
/// ECONNRESET, EAGAIN (timeout 0), ETIMEDOUT, ETOOMANYREFS (too many
/// descriptors in flight).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_send_handle(
    h: polysock_t,
    handle: polysock_t,
    data: *const c_void,
    len: usize,
    flags: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let bytes = buf_in("send_handle", data.cast(), len)?;
            let other = handles::get(handle).map_err(|e| {
                Error::new(e.code(), format_args!("send_handle: the handle to send: {}", e.context()))
            })?;
            s.send_handle(&other, bytes, flags).map(count)
        })
    }
}

/// Receives up to `len` bytes into `buf` and a socket sent with
/// polysock_send_handle (or any SCM_RIGHTS sender), waiting as the
/// socket's timeout allows. `handle` receives the NEW handle for the
/// received socket (close-on-exec, with the process default timeout; the
/// caller closes it), or -1 when this message carried none. `out_flags`
/// (may be NULL) receives the message flags: MSG_CTRUNC when descriptors
/// beyond the first came (they are closed), MSG_TRUNC when a datagram was
/// cut. Bytes buffered by polysock_readline come first, with no handle.
///
/// Returns the number of bytes received (0 at end of stream), or -1:
/// EBADF, EOPNOTSUPP (not an AF_UNIX socket), EINVAL (`buf` NULL, `len` 0
/// or > SSIZE_MAX, `handle` NULL), ENOTSOCK (the descriptor received is
/// not a socket: it was closed, and the bytes that came with it are
/// lost), EMFILE, EAGAIN, ETIMEDOUT, ECONNRESET.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recv_handle(
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    handle: *mut polysock_t,
    out_flags: *mut i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let out_buf = buf_out("recv_handle", buf.cast(), len)?;
            if out_buf.is_empty() {
                return fail!(libc::EINVAL, "recv_handle: buffer length is 0");
            }
            let slot = out("recv_handle", "handle", handle)?;
            let (n, sock, mflags) = s.recv_handle(out_buf, flags)?;
            *slot = match sock {
                Some(sock) => handles::insert(sock)?,
                None => -1,
            };
            set_opt_out(out_flags, mflags);
            Ok(count(n))
        })
    }
}

/// The caller's message array: at most POLYSOCK_MMSG_MAX entries are used.
fn mmsgs(op: &str, msgs: *mut polysock_mmsg, n: usize) -> Result<(*mut polysock_mmsg, usize)> {
    check_len(op, n)?;
    if n > 0 && msgs.is_null() {
        return fail!(libc::EINVAL, "{op}: msgs is NULL");
    }
    Ok((msgs, n.min(POLYSOCK_MMSG_MAX)))
}

/// Sends up to POLYSOCK_MMSG_MAX messages (datagrams) in one system call
/// (Linux sendmmsg), each from its own buffers to its own destination
/// (`addr.family` 0: the connected peer). Each message sent gets its byte
/// count in `len`. Entries beyond POLYSOCK_MMSG_MAX are not looked at.
/// Every message's buffers and destination are checked before anything
/// is sent; a message naming the same host text and port as the one
/// before it reuses that one's address (a name is resolved once for
/// them).
///
/// Returns the number of messages sent, from the first: fewer than
/// `count` when the socket's buffer filled or the kernel refused a later
/// message (send from there again to learn why); 0 when `count` is 0; or
/// -1, with nothing sent, when the first failed or any message's buffers
/// or destination are bad (the error's message says which message):
/// EBADF, EINVAL (`msgs` NULL, `count` > SSIZE_MAX, a message's buffers as
/// for polysock_sendmsg, a host that is not NUL-terminated or not UTF-8,
/// bad host or port), EAFNOSUPPORT (an IPv6 host for an AF_INET socket),
/// EMSGSIZE, EAGAIN (timeout 0), ETIMEDOUT, EOPNOTSUPP (the platform has
/// no sendmmsg: send them one by one), POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendmmsg(
    h: polysock_t,
    msgs: *mut polysock_mmsg,
    count: usize,
    flags: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let (msgs, n) = mmsgs("sendmmsg", msgs, count)?;
            s.sendmmsg(
                n,
                flags,
                |i| {
                    // SAFETY: i < n, within the caller's array (documented).
                    let m = unsafe { &*msgs.add(i) };
                    Ok((bufs("sendmmsg", m.iov, m.iovcnt)?, &m.addr))
                },
                // SAFETY: as above; only `len` is written.
                |i, len| unsafe { (*msgs.add(i)).len = len },
            )
            .map(super::count)
        })
    }
}

/// Receives up to POLYSOCK_MMSG_MAX datagrams in one system call (Linux
/// recvmmsg): waits, as the socket's timeout allows, for the first, then
/// takes those already waiting without waiting more. Each message received
/// gets its length in `len`, its flags in `flags` (MSG_TRUNC: cut to fit
/// its buffers) and its sender in `addr`. Entries beyond
/// POLYSOCK_MMSG_MAX are not looked at.
///
/// Returns the number of messages received, or -1: EBADF, EINVAL (`msgs`
/// NULL, `count` 0 or > SSIZE_MAX, a message's buffers as for
/// polysock_recvmsg), EAGAIN (timeout 0 or MSG_DONTWAIT, nothing waiting),
/// ETIMEDOUT, EOPNOTSUPP (the platform has no recvmmsg: use
/// polysock_recvmsg).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recvmmsg(
    h: polysock_t,
    msgs: *mut polysock_mmsg,
    count: usize,
    flags: i32,
) -> i64 {
    boundary! {
        call(h, |s| {
            let (msgs, n) = mmsgs("recvmmsg", msgs, count)?;
            s.recvmmsg(
                n,
                flags,
                |i| {
                    // SAFETY: i < n, within the caller's array (documented).
                    let m = unsafe { &*msgs.add(i) };
                    bufs("recvmmsg", m.iov, m.iovcnt)
                },
                |i, len, mflags| {
                    // SAFETY: as above; the sender is written in place.
                    let m = unsafe { &mut *msgs.add(i) };
                    m.len = len;
                    m.flags = mflags;
                    &mut m.addr
                },
            )
            .map(super::count)
        })
    }
}
