//! Socket lifecycle, handles, timeouts and state.

use super::{boundary, call, opt_str, out, ret, status, with};
use crate::core::addr::{Addr, Host, RawAddr, ipv4_of_c};
use crate::core::error::{Result, fail};
use crate::core::handles;
use crate::core::socket::{self as core_socket, Info, Socket};

/// A socket handle: a positive integer below 2^53 (exact in a double).
/// Functions that create sockets return -1 on failure.
#[allow(non_camel_case_types)]
pub type polysock_t = i64;

/// Creates a socket, close-on-exec, with the process default timeout
/// (polysock_setdefaulttimeout). `family`: AF_INET, AF_INET6, AF_UNIX...;
/// `socktype`: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW (on Linux
/// SOCK_NONBLOCK may be or-ed in: the socket starts with timeout 0);
/// `protocol`: 0 for the default.
///
/// Returns the handle, or -1: EAFNOSUPPORT, EPROTONOSUPPORT, EINVAL (bad
/// type), EPERM (SOCK_RAW without CAP_NET_RAW), EMFILE, ENFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_socket(family: i32, socktype: i32, protocol: i32) -> polysock_t {
    boundary! { ret(Socket::new_handle(family, socktype, protocol)) }
}

/// Creates a pair of connected sockets (AF_UNIX; SOCK_STREAM, SOCK_DGRAM or
/// SOCK_SEQPACKET) and writes their handles to `out[0]` and `out[1]`.
///
/// Returns 0, or -1: EINVAL (`out` NULL), EAFNOSUPPORT, EOPNOTSUPP, EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_socketpair(
    family: i32,
    socktype: i32,
    protocol: i32,
    out_pair: *mut polysock_t,
) -> i32 {
    boundary! {
        status((|| {
            let slot = out("socketpair", "out", out_pair)?;
            let (a, b) = Socket::pair(family, socktype, protocol)?;
            let ha = handles::insert(a)?;
            let hb = match handles::insert(b) {
                Ok(h) => h,
                Err(e) => {
                    handles::close(ha);
                    return Err(e);
                }
            };
            *slot = ha;
            // SAFETY: the caller passes an array of two handles (documented).
            unsafe { *out_pair.add(1) = hb };
            Ok(())
        })())
    }
}

/// Binds to `host`:`port`. `host` may be NULL or "" for the any address, an
/// IPv4 or IPv6 literal (IPv6 optionally in [brackets], with %scope as an
/// interface name or index), or a name (the first address of the socket's
/// family). For AF_UNIX, `host` is the path, "@name" an abstract name
/// (Linux), NULL or "" an autobound abstract name (Linux); `port` is
/// ignored.
///
/// Returns 0, or -1: EBADF, EINVAL (port outside 0..65535, host not UTF-8,
/// unknown %scope), EADDRINUSE, EADDRNOTAVAIL, EACCES, EAFNOSUPPORT (IPv6
/// literal on an AF_INET socket), ENAMETOOLONG (Unix path over 107 bytes),
/// POLYSOCK_EAI_* (the name did not resolve).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_bind(h: polysock_t, host: *const std::ffi::c_char, port: i32) -> i32 {
    boundary! { status(with(h, |s| s.bind(opt_str("bind", "host", host)?, port))) }
}

/// Starts listening. A negative `backlog` means min(SOMAXCONN, 128).
///
/// Returns 0, or -1: EBADF, EOPNOTSUPP (not a stream socket), EADDRINUSE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_listen(h: polysock_t, backlog: i32) -> i32 {
    boundary! { status(with(h, |s| s.listen(backlog))) }
}

/// Accepts a connection, waiting as the socket's timeout allows. The new
/// socket is close-on-exec with the process default timeout. If `peer` is
/// not NULL the peer's address is written there.
///
/// Returns the new handle, or -1: EBADF (also when the socket is closed by
/// another thread during the wait), EINVAL (not listening), EAGAIN
/// (timeout 0 and no connection waiting), ETIMEDOUT, EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_accept(h: polysock_t, peer: *mut Addr) -> polysock_t {
    boundary! {
        call(h, |s| {
            let mut from = RawAddr::new();
            let nh = s.accept_handle((!peer.is_null()).then_some(&mut from))?;
            // SAFETY: non-NULL output pointers must be valid for writes.
            if let Some(p) = unsafe { peer.as_mut() } {
                from.write_text(p);
            }
            Ok(nh)
        })
    }
}

/// Connects to `host`:`port` (host as for polysock_bind; for AF_UNIX the
/// path), waiting as the socket's timeout allows. A name connects to its
/// first address in the socket's family (trying each address needs a
/// fresh socket per attempt: see create_connection).
///
/// Returns 0, or -1: EBADF, EINVAL, ECONNREFUSED, ETIMEDOUT, ENETUNREACH,
/// EHOSTUNREACH, EINPROGRESS (timeout 0: the connect goes on; wait for
/// writability), EISCONN, ENOENT (Unix path), POLYSOCK_EAI_*.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_connect(h: polysock_t, host: *const std::ffi::c_char, port: i32) -> i32 {
    boundary! { status(with(h, |s| s.connect_host(host_arg(host)?, port))) }
}

/// connect's host argument as sendto reads it: an IPv4 literal parsed
/// once (its parse proves it ASCII: no UTF-8 pass), anything else text
/// that must be UTF-8.
#[inline(always)]
fn host_arg<'a>(host: *const std::ffi::c_char) -> Result<Option<Host<'a>>> {
    // SAFETY: `host` is NULL or a NUL-terminated string (documented).
    Ok(match unsafe { ipv4_of_c(host) } {
        Some((ip, text)) => Some(Host::Ipv4(ip, text)),
        None => opt_str("connect", "host", host)?.map(Host::Text),
    })
}

/// Connects as polysock_connect but returns the error code instead of -1,
/// as CPython's connect_ex: 0 when connected; EINPROGRESS when the socket
/// is non-blocking (timeout 0) and the connect goes on (wait until it is
/// writable, e.g. with polysock_poll, then call polysock_finish_connect);
/// otherwise the failure's code, which is also recorded for
/// polysock_errno()/polysock_last_error(): EBADF, EINVAL, ECONNREFUSED,
/// ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, EISCONN, EALREADY, ENOENT (Unix
/// path), POLYSOCK_EAI_*, as polysock_connect.
///
/// Returns 0 or a positive code; never -1.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_connect_ex(
    h: polysock_t,
    host: *const std::ffi::c_char,
    port: i32,
) -> i32 {
    code_of(boundary! { status(with(h, |s| s.connect_host(host_arg(host)?, port))) })
}

/// Finishes a connect left in progress on a non-blocking socket (after
/// EINPROGRESS, once the socket is writable): reads and clears the socket's
/// pending error (SO_ERROR). On success the socket is marked connected.
///
/// Returns 0 when connected, or a positive code, also recorded for
/// polysock_errno()/polysock_last_error(): EINPROGRESS (still connecting:
/// wait for writability again), the connect's own failure (ECONNREFUSED,
/// ETIMEDOUT, ENETUNREACH, EHOSTUNREACH...: reported once, the error is
/// cleared), ENOTCONN (no connect in progress: none was started, or its
/// failure was already reported), EBADF. Never -1.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_finish_connect(h: polysock_t) -> i32 {
    code_of(boundary! { status(with(h, |s| s.finish_connect())) })
}

/// 0 stays 0; -1 becomes the code the failed call just recorded (the
/// caught-panic path included).
fn code_of(rc: i32) -> i32 {
    if rc == 0 {
        0
    } else {
        super::error::polysock_errno()
    }
}

/// Shuts down reading (SHUT_RD), writing (SHUT_WR: the peer sees end of
/// stream) or both (SHUT_RDWR). The handle stays open.
///
/// Returns 0, or -1: EBADF, EINVAL (bad `how`), ENOTCONN.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_shutdown(h: polysock_t, how: i32) -> i32 {
    boundary! { status(with(h, |s| s.shutdown(how))) }
}

/// Closes a socket. Calls blocked on it in other threads wake at once and
/// fail with EBADF; the fd number stays reserved until they have returned
/// (the last of them closes the fd). Closing a closed or never-issued
/// handle does nothing and is not an error.
///
/// Returns 0, or -1 when close(2) failed here, the handle being closed all
/// the same: EBADF (the fd had been closed behind polysock's back, e.g.
/// close(polysock_fileno(h))), EIO.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_close(h: polysock_t) -> i32 {
    boundary! { status(handles::close_reporting(h).unwrap_or(Ok(()))) }
}

/// The OS file descriptor of a socket, for a runtime's own event loop. It
/// stays polysock's: do not close it (use polysock_detach to take it).
///
/// Returns the fd, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_fileno(h: polysock_t) -> i32 {
    boundary! { call(h, |s| Ok(s.fd())) }
}

/// The live handle that owns OS file descriptor `fd`, for runtimes whose
/// users see fd numbers (Blade's Socket.id).
///
/// Returns the handle, or -1: EBADF (no polysock socket owns `fd`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_handle_of_fd(fd: i32) -> polysock_t {
    boundary! { ret(handles::handle_of_fd(fd)) }
}

/// Wraps a duplicate of socket fd `fd` (close-on-exec) in a new handle, as
/// CPython's socket.fromfd: `fd` stays the caller's. Family, type,
/// protocol and state are read from the kernel.
///
/// Returns the handle, or -1: EBADF, ENOTSOCK (`fd` is not a socket), EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_fromfd(fd: i32) -> polysock_t {
    boundary! { ret(Socket::from_fd_dup(fd).and_then(handles::insert)) }
}

/// Takes ownership of socket fd `fd` (no duplicate): polysock closes it when
/// the handle is closed, and marks it close-on-exec now.
///
/// Returns the handle, or -1: EBADF, ENOTSOCK (the fd is left open),
/// EEXIST (a polysock handle already owns `fd`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_adopt_fd(fd: i32) -> polysock_t {
    boundary! {
        ret((|| {
            if let Ok(owner) = handles::handle_of_fd(fd) {
                return fail!(libc::EEXIST, "adopt fd {fd}: already owned by handle {owner}");
            }
            handles::insert(Socket::adopt(fd)?)
        })())
    }
}

/// A new handle on a duplicate of the socket's fd, with the same timeout.
///
/// Returns the handle, or -1: EBADF, EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_dup(h: polysock_t) -> polysock_t {
    boundary! { ret(with(h, |s| s.dup()).and_then(handles::insert)) }
}

/// Gives the socket's fd to the caller, who must close it; the handle
/// becomes invalid.
///
/// Returns the fd, or -1: EBADF, EBUSY (another call is using the socket
/// right now: the fd cannot change owner under it).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_detach(h: polysock_t) -> i32 {
    boundary! { ret(handles::detach(h)) }
}

/// Sets the socket's timeout in milliseconds, as CPython's settimeout:
/// -1 blocks forever, 0 makes every call non-blocking (EAGAIN), and a
/// positive value bounds each blocking call (connect, accept, send, recv...),
/// which then fails with ETIMEDOUT.
///
/// Returns 0, or -1: EBADF, EINVAL (`ms` < -1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_settimeout(h: polysock_t, ms: i64) -> i32 {
    boundary! { status(with(h, |s| s.set_timeout(ms))) }
}

/// Writes the socket's timeout in milliseconds (-1, 0 or positive) to `ms`.
///
/// Returns 0, or -1: EBADF, EINVAL (`ms` NULL).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_gettimeout(h: polysock_t, ms: *mut i64) -> i32 {
    boundary! {
        status((|| {
            let dst = out("gettimeout", "ms", ms)?;
            *dst = with(h, |s| Ok(s.timeout()))?;
            Ok(())
        })())
    }
}

/// setblocking(1) is settimeout(-1); setblocking(0) is settimeout(0).
///
/// Returns 0, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_setblocking(h: polysock_t, blocking: i32) -> i32 {
    boundary! { status(with(h, |s| s.set_timeout(if blocking != 0 { -1 } else { 0 }))) }
}

/// Returns 1 if the socket blocks (its timeout is not 0), 0 if it is
/// non-blocking, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getblocking(h: polysock_t) -> i32 {
    boundary! { call(h, |s| Ok(i32::from(s.timeout() != 0))) }
}

/// Sets the timeout that sockets created from now on start with (created,
/// accepted, adopted); -1 (the initial value) blocks. Existing sockets keep
/// theirs.
///
/// Returns 0, or -1: EINVAL (`ms` < -1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_setdefaulttimeout(ms: i64) -> i32 {
    boundary! { status(core_socket::set_default_timeout(ms)) }
}

/// Returns the process default timeout in milliseconds (-1: blocking).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getdefaulttimeout() -> i64 {
    boundary! { core_socket::default_timeout() }
}

/// The hook polysock_set_interrupt_hook takes: 0 resumes, nonzero ends the
/// interrupted call with EINTR.
#[allow(non_camel_case_types)]
pub type polysock_interrupt_hook_t =
    Option<unsafe extern "C" fn(ctx: *mut std::ffi::c_void) -> i32>;

/// Sets the hook polysock calls, in the interrupted thread, when a signal
/// interrupts a blocking call (EINTR from poll, epoll_wait, connect, accept,
/// send, recv, sendmsg, recvmsg, sendfile, and so from sendall, readline,
/// recv_exact, poller_wait and the ring's reap; the resolver's wait is not
/// interruptible). The hook returns 0 to resume the wait with the time that
/// remains (what polysock does without a hook), nonzero to end the call: it
/// then fails with EINTR (polysock_last_error "...: interrupted by a
/// signal"). A signal that lands after a blocking send or recv moved some
/// bytes makes it return that count instead of EINTR, so the loops that go
/// on after a short transfer (sendall, recv_exact, sendfile, sendfile_path,
/// send_segments' sendmmsg fallback) call the hook there too, signal or not
/// (CPython checks signals between sendall's chunks the same way). Ended
/// after progress, sendall, recv_exact and sendfile fail with EINTR and
/// report the count through their `sent`/`received` output, as for any failure;
/// send_segments returns the bytes of the datagrams that went. The hook must not fail and may call polysock (no lock is held while
/// it runs). NULL removes the hook. Thread-safe (the pair is read as one,
/// with no lock: set it once at start-up; calls in flight may see the old or
/// the new pair).
///
/// Returns 0 (it cannot fail).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_set_interrupt_hook(
    hook: polysock_interrupt_hook_t,
    ctx: *mut std::ffi::c_void,
) -> i32 {
    // SAFETY: the caller promises, as documented, that hook(ctx) may be
    // called from any thread that blocks in polysock.
    boundary! { unsafe { crate::core::interrupt::set(hook, ctx) }; 0 }
}

/// Writes the socket's local address to `out`.
///
/// Returns 0, or -1: EBADF, EINVAL (`out` NULL).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getsockname(h: polysock_t, out_addr: *mut Addr) -> i32 {
    boundary! {
        status((|| {
            let dst = out("getsockname", "out", out_addr)?;
            *dst = with(h, |s| s.local_addr())?;
            Ok(())
        })())
    }
}

/// Writes the connected peer's address to `out`.
///
/// Returns 0, or -1: EBADF, EINVAL (`out` NULL), ENOTCONN.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getpeername(h: polysock_t, out_addr: *mut Addr) -> i32 {
    boundary! {
        status((|| {
            let dst = out("getpeername", "out", out_addr)?;
            *dst = with(h, |s| s.peer_addr())?;
            Ok(())
        })())
    }
}

/// Writes a snapshot of the socket to `out`: family, type, protocol, fd,
/// timeout, blocking, the state flags (bound, listening, connected, client,
/// shutdown) and both addresses.
///
/// Returns 0, or -1: EBADF, EINVAL (`out` NULL).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_info(h: polysock_t, out_info: *mut Info) -> i32 {
    boundary! {
        status((|| {
            let dst = out("info", "out", out_info)?;
            *dst = with(h, |s| Ok(s.info()))?;
            Ok(())
        })())
    }
}
