//! The ring: a completion API (io_uring on Linux, the epoll poller where
//! io_uring is unavailable). Submit operations on polysock handles, each
//! with a 64-bit user value; reap their completions in batches.

use super::msg::{bufs, polysock_mmsg};
use super::socket::polysock_t;
use super::{boundary, count, req_str, ret, status};
use crate::core::error::{Result, fail};
use crate::core::ring::{self, Completion, MsgOut, POLYSOCK_RING_MAX_GROUPS, RingRef};
use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;

/// A ring id: a positive integer below 2^53 (exact in a double), never
/// equal to a socket handle or a poller id. Functions that create one
/// return -1 on failure; a destroyed id is EBADF.
#[allow(non_camel_case_types)]
pub type polysock_ring_t = i64;

fn get(op: &str, r: polysock_ring_t) -> Result<RingRef> {
    ring::get(op, r)
}

fn group_id(op: &str, group: u32) -> Result<u16> {
    if group as usize >= POLYSOCK_RING_MAX_GROUPS {
        return fail!(
            libc::EINVAL,
            "{op}: group {group} is not below POLYSOCK_RING_MAX_GROUPS ({POLYSOCK_RING_MAX_GROUPS})"
        );
    }
    Ok(group as u16)
}

/// Creates a ring for up to `entries` operations in flight at once (a
/// multishot operation counts once however many completions it makes;
/// clamped to POLYSOCK_RING_MAX_ENTRIES). `flags`: 0, or-ed
/// POLYSOCK_RING_EMULATE (the epoll emulation even where io_uring works)
/// and POLYSOCK_RING_SINGLE_THREAD (only this thread will use the ring:
/// lets io_uring batch more; other threads get EPERM).
///
/// The backend is io_uring where the kernel has it (Linux 6.0 or later, not
/// disabled by /proc/sys/kernel/io_uring_disabled, not refused by seccomp),
/// else the epoll poller with the operations done in user space; the
/// environment variable POLYSOCK_RING=epoll forces the emulation.
/// polysock_ring_backend tells which. Both behave alike: a runtime writes
/// one event loop.
///
/// Returns the ring id, or -1: EINVAL (`entries` 0, unknown flags), EMFILE
/// (out of fds, or 1024 rings open), ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_create(entries: u32, flags: u32) -> polysock_ring_t {
    boundary! { ret(ring::create(entries, flags)) }
}

/// Destroys a ring: cancels its operations and waits (up to 2 s) for the
/// kernel to let go of them, closes the connections its accepts made that
/// were never reaped, and frees its buffers (pointers from its completions
/// become invalid). Sockets stay open, apart from those whose close was
/// waiting on the ring. Waits in progress in other threads return -1 with
/// EBADF. Destroying a destroyed or never-created id does nothing.
///
/// Returns 0 always.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_destroy(r: polysock_ring_t) -> i32 {
    boundary! {
        ring::destroy(r);
        0
    }
}

/// Which backend runs the ring: POLYSOCK_RING_IO_URING or
/// POLYSOCK_RING_EPOLL.
///
/// Returns the backend, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_backend(r: polysock_ring_t) -> i32 {
    boundary! { ret(get("ring_backend", r).map(|r| r.backend())) }
}

/// An fd for a runtime's own event loop (poll, epoll, select, a VM's
/// loop): it becomes readable when polysock_ring_reap has completions to
/// give. Only completions the kernel produced make it readable, so the
/// rule is: submit, call polysock_ring_reap with timeout 0 until it
/// returns fewer than `max` (it also hands queued submissions to the
/// kernel), and only then wait on the fd. Owned by the ring: do not close
/// it.
///
/// Returns the fd, or -1: EBADF, EOPNOTSUPP (the emulation on a platform
/// without epoll: reap with a timeout instead).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_fd(r: polysock_ring_t) -> i32 {
    boundary! { ret(get("ring_fd", r).and_then(|r| r.fd())) }
}

/// Accepts connections on listening socket `h`. `flags`: 0 (one
/// connection) or POLYSOCK_RING_MULTISHOT (one completion per connection,
/// with POLYSOCK_RING_MORE, until an error or a cancel ends it).
///
/// Completion result: the new socket's handle (close-on-exec,
/// non-blocking: timeout 0), or -code (-ECANCELED, -EMFILE, ...).
///
/// Like every ring submission, this switches `h` to non-blocking (timeout
/// 0) if it was not, and takes effect at the next polysock_ring_submit or
/// polysock_ring_reap. Returns 0, or -1: EBADF (`r` or `h` not open),
/// EINVAL (unknown flags), EBUSY (`entries` operations are in flight: reap
/// first).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_accept(
    r: polysock_ring_t,
    h: polysock_t,
    flags: u32,
    user: u64,
) -> i32 {
    boundary! { status(get("ring_accept", r).and_then(|r| r.accept(h, flags, user))) }
}

/// Connects socket `h` to `host` (a numeric IPv4 or IPv6 address, or an
/// AF_UNIX path: a ring never waits for the resolver) and `port`.
///
/// Completion result: 0 when connected, or -code (-ECONNREFUSED,
/// -ETIMEDOUT, -ECANCELED...).
///
/// Returns 0, or -1: EBADF, EINVAL (`host` NULL or not numeric, port out of
/// range), EAFNOSUPPORT, EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_connect(
    r: polysock_ring_t,
    h: polysock_t,
    host: *const c_char,
    port: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_connect", r)?;
            let host = req_str("ring_connect", "host", host)?;
            r.connect(h, host, port, user)
        })())
    }
}

/// Sends `len` bytes from `buf` on socket `h` (MSG_NOSIGNAL is always
/// added; MSG_WAITALL sends them all on a stream socket unless an error
/// comes first). `buf` must stay valid and unchanged until the completion.
///
/// Completion result: the bytes sent (on a stream socket without
/// MSG_WAITALL possibly fewer than `len`), or -code (-EPIPE,
/// -ECONNRESET, -ECANCELED...).
///
/// Returns 0, or -1: EBADF, EINVAL (`buf` NULL with `len` > 0, `len` >
/// SSIZE_MAX), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_send(
    r: polysock_ring_t,
    h: polysock_t,
    buf: *const c_void,
    len: usize,
    flags: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_send", r)?;
            let b = super::buf_in("ring_send", buf.cast(), len)?;
            // SAFETY: the caller keeps buf valid until the completion.
            unsafe { r.send(h, b.as_ptr(), b.len(), flags, user) }
        })())
    }
}

/// Receives up to `len` bytes into `buf` from socket `h`, once. `buf` must
/// stay valid until the completion. (Bytes buffered by polysock_readline
/// are not seen by ring receives.)
///
/// Completion result: the bytes received (0 at end of stream), or -code.
///
/// Returns 0, or -1: EBADF, EINVAL (`buf` NULL, `len` 0 or > SSIZE_MAX),
/// EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_recv(
    r: polysock_ring_t,
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_recv", r)?;
            let b = super::buf_out("ring_recv", buf.cast(), len)?;
            // SAFETY: the caller keeps buf valid until the completion.
            unsafe { r.recv(h, b.as_mut_ptr().cast(), b.len(), flags, user) }
        })())
    }
}

/// Receives from socket `h` again and again into buffers of `group` (made
/// with polysock_ring_buffers): one completion per arrival, each with
/// POLYSOCK_RING_MORE and POLYSOCK_RING_BUFFER, its `data` pointing at the
/// bytes; return each buffer with polysock_ring_buffer_return when done
/// with it. It ends (a completion without POLYSOCK_RING_MORE) at end of
/// stream (result 0), on an error, on a cancel, or with -ENOBUFS when data
/// came and the group had no free buffer: return buffers, then submit it
/// again (the data waits in the socket).
///
/// Returns 0, or -1: EBADF, EINVAL (`group` out of range), ENOENT (no such
/// group), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_recv_multishot(
    r: polysock_ring_t,
    h: polysock_t,
    group: u32,
    flags: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_recv_multishot", r)?;
            r.recv_multishot(h, group_id("ring_recv_multishot", group)?, flags, user)
        })())
    }
}

/// Makes buffer group `group` of ring `r`: `count` buffers (a power of two,
/// at most POLYSOCK_RING_MAX_BUFFERS) of `size` bytes each, owned by the
/// ring, for polysock_ring_recv_multishot.
///
/// Returns 0, or -1: EBADF, EINVAL (`group` >= POLYSOCK_RING_MAX_GROUPS,
/// `count` not a power of two or too large, `size` 0 or over 1 GiB),
/// EEXIST (the group exists), ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_buffers(
    r: polysock_ring_t,
    group: u32,
    count: u32,
    size: u32,
) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_buffers", r)?;
            r.add_buffers(group_id("ring_buffers", group)?, count, size)
        })())
    }
}

/// Gives buffer `buffer` of `group` back to the ring (after a completion
/// with POLYSOCK_RING_BUFFER lent it); its `data` pointer must not be used
/// after.
///
/// Returns 0, or -1: EBADF, EINVAL (`group` out of range, no such buffer,
/// or the buffer is not lent out: returned twice), ENOENT (no such group).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_buffer_return(r: polysock_ring_t, group: u32, buffer: u32) -> i32 {
    boundary! {
        status((|| {
            let r = get("ring_buffer_return", r)?;
            let Ok(bid) = u16::try_from(buffer) else {
                return fail!(libc::EINVAL, "ring_buffer_return: buffer {buffer} is out of range");
            };
            r.buffer_return(group_id("ring_buffer_return", group)?, bid)
        })())
    }
}

/// The caller's message, checked.
fn msg<'a>(op: &str, m: *mut polysock_mmsg) -> Result<&'a mut polysock_mmsg> {
    // SAFETY: non-NULL message pointers must be valid until the completion
    // (documented).
    match unsafe { m.as_mut() } {
        Some(m) => Ok(m),
        None => fail!(libc::EINVAL, "{op}: msg is NULL"),
    }
}

/// Sends one message (one datagram) from the buffers of `msg` to
/// `msg->addr` (family 0: the connected peer; else a numeric host and
/// port, as for polysock_ring_connect). `msg`, its iov array and its
/// buffers must stay valid until the completion, which also writes
/// `msg->len`.
///
/// Completion result: the bytes sent, or -code (-EMSGSIZE, ...).
///
/// Returns 0, or -1: EBADF, EINVAL (`msg` NULL, its buffers as for
/// polysock_sendmsg, a host not numeric), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_sendmsg(
    r: polysock_ring_t,
    h: polysock_t,
    msg: *mut polysock_mmsg,
    flags: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let op = "ring_sendmsg";
            let r = get(op, r)?;
            let m = self::msg(op, msg)?;
            let b = bufs(op, m.iov, m.iovcnt)?;
            let to = m.addr.dest(op)?;
            let out = MsgOut { len: &mut m.len, flags: &mut m.flags, addr: std::ptr::null_mut() };
            // SAFETY: the caller keeps msg and its buffers valid until the
            // completion (documented).
            unsafe { r.sendmsg(h, b, to, flags, out, user) }
        })())
    }
}

/// Receives one message into the buffers of `msg`. `msg`, its iov array
/// and its buffers must stay valid until the completion, which writes
/// `msg->len`, `msg->flags` (MSG_TRUNC: the datagram was cut) and
/// `msg->addr` (the sender).
///
/// Completion result: the bytes received, or -code.
///
/// Returns 0, or -1: EBADF, EINVAL (`msg` NULL, its buffers as for
/// polysock_recvmsg, buffers holding 0 bytes), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_recvmsg(
    r: polysock_ring_t,
    h: polysock_t,
    msg: *mut polysock_mmsg,
    flags: i32,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            let op = "ring_recvmsg";
            let r = get(op, r)?;
            let m = self::msg(op, msg)?;
            let b = bufs(op, m.iov, m.iovcnt)?;
            let out = MsgOut { len: &mut m.len, flags: &mut m.flags, addr: &mut m.addr };
            // SAFETY: as for polysock_ring_sendmsg.
            unsafe { r.recvmsg(h, b, flags, out, user) }
        })())
    }
}

/// Sends `count` bytes of the file open at `file_fd`, from `offset` (the
/// file's own position is not used or moved), on socket `h`: by splice
/// through a pipe on io_uring, by sendfile(2) in the emulation. `file_fd`
/// must stay open until the completion.
///
/// Completion result: the bytes sent: `count`, or fewer if the file ended
/// first or an error stopped it after some bytes; -code if none were sent.
///
/// Returns 0, or -1: EBADF (also `file_fd` not open), EINVAL (`offset` < 0,
/// `count` 0), EMFILE (no fd for the pipe), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_sendfile(
    r: polysock_ring_t,
    h: polysock_t,
    file_fd: i32,
    offset: i64,
    count: usize,
    user: u64,
) -> i32 {
    boundary! {
        status((|| {
            super::check_len("ring_sendfile", count)?;
            get("ring_sendfile", r)?.sendfile(h, file_fd, offset, count, user)
        })())
    }
}

/// Closes socket `h` through the ring. The handle is closed at once (any
/// later use of it is EBADF); every operation of this ring on it is
/// cancelled, and each completion of theirs not yet reaped reports
/// -ECANCELED (so does any completion for a handle closed with plain
/// polysock_close); the close's own completion (result 0) comes after
/// them, when the fd has been closed (or, if another thread's call still
/// uses the socket, will close as that call returns). No completion ever
/// refers to a reused fd: operations hold the fd until they are reaped.
///
/// Returns 0, or -1: EBADF (`h` not open), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_close(r: polysock_ring_t, h: polysock_t, user: u64) -> i32 {
    boundary! { status(get("ring_close", r).and_then(|r| r.close(h, user))) }
}

/// A timer: completes after `ms` milliseconds.
///
/// Completion result: 0 when it expired, -ECANCELED when cancelled.
///
/// Returns 0, or -1: EBADF, EINVAL (`ms` < 0), EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_timeout(r: polysock_ring_t, ms: i64, user: u64) -> i32 {
    boundary! { status(get("ring_timeout", r).and_then(|r| r.timeout(ms, user))) }
}

/// Cancels every operation in flight (submitted and not yet ended) whose
/// user value is `target`. Each then completes with -ECANCELED, unless it
/// completed first.
///
/// Completion result: the number of operations the cancel reached, or
/// -ENOENT when none.
///
/// Returns 0, or -1: EBADF, EBUSY.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_cancel(r: polysock_ring_t, target: u64, user: u64) -> i32 {
    boundary! { status(get("ring_cancel", r).and_then(|r| r.cancel(target, user))) }
}

/// Hands the queued submissions to the kernel now (io_uring), or wakes a
/// thread waiting in polysock_ring_reap to run them (the emulation).
/// polysock_ring_reap does this by itself; call this when another thread
/// is the one waiting.
///
/// Returns 0, or -1: EBADF, EBUSY (the kernel's completion queue is full:
/// reap).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_submit(r: polysock_ring_t) -> i32 {
    boundary! { status(get("ring_submit", r).and_then(|r| r.submit())) }
}

/// Submits what is queued, then writes up to `max` completions to `out`,
/// waiting up to `timeout_ms` (-1 forever, 0 not at all: a non-blocking
/// reap; signals never end the wait early) for the first. Each completion:
/// the operation's user value, its result (>= 0, or minus a polysock error
/// code), POLYSOCK_RING_MORE when more will follow for it, and with
/// POLYSOCK_RING_BUFFER the provided buffer holding the data. Several
/// threads may reap one ring (unless it is POLYSOCK_RING_SINGLE_THREAD).
/// Never allocates.
///
/// Returns the number of completions written (0: timed out), or -1: EBADF
/// (`r` not open, or destroyed during the wait), EINVAL (`out` NULL, `max`
/// 0, `timeout_ms` < -1), EPERM (a POLYSOCK_RING_SINGLE_THREAD ring from
/// another thread).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_ring_reap(
    r: polysock_ring_t,
    out: *mut Completion,
    max: usize,
    timeout_ms: i64,
) -> i64 {
    boundary! {
        ret((|| {
            let r = get("ring_reap", r)?;
            if out.is_null() {
                return fail!(libc::EINVAL, "ring_reap: out is NULL");
            }
            if max == 0 {
                return fail!(libc::EINVAL, "ring_reap: max is 0");
            }
            super::check_len("ring_reap", max)?;
            // SAFETY: the caller passes an array of `max` entries, which may
            // be uninitialised.
            let out = unsafe { std::slice::from_raw_parts_mut(out.cast::<MaybeUninit<Completion>>(), max) };
            r.reap(out, timeout_ms).map(count)
        })())
    }
}
