//! AF_UNIX names as counted bytes: the names the text form of
//! polysock_addr cannot hold (an abstract name with NULs inside, a path
//! that is not UTF-8). A name is the kernel's own sun_path bytes: a path's
//! bytes (no NUL), or, on Linux, a NUL then the abstract name's bytes
//! exactly. Beside the text forms, which are unchanged.

use super::socket::polysock_t;
use super::{boundary, buf_in, buf_out, call, count, set_opt_out, status, with};
use crate::core::addr::{RawAddr, UnixName};
use crate::core::error::{Result, fail};
use crate::core::handles;
use std::ffi::c_void;

/// The caller's name argument.
fn name_in<'a>(op: &str, name: *const c_void, len: usize) -> Result<&'a [u8]> {
    buf_in(op, name.cast(), len)
}

/// Writes `got` to the caller's (`name`, `cap`, `name_len`): the first
/// min(cap, its length) bytes, and its whole length (more than `cap`
/// means the name was cut). `name` may be NULL only with `cap` 0.
fn name_out(
    op: &str,
    got: &UnixName,
    name: *mut c_void,
    cap: usize,
    name_len: *mut usize,
) -> Result<()> {
    let dst = buf_out(op, name.cast(), cap)?;
    let bytes = got.bytes();
    let n = bytes.len().min(dst.len());
    for (d, &b) in dst.iter_mut().zip(&bytes[..n]) {
        d.write(b);
    }
    set_opt_out(name_len, bytes.len());
    Ok(())
}

/// Binds an AF_UNIX socket to the name in the `len` bytes at `name`: a
/// path (any bytes but NUL, at most 107; need not be UTF-8), or on Linux
/// an abstract name, a NUL then up to 107 bytes (NULs inside allowed).
/// `len` 0 autobinds to an abstract name (Linux). The text form,
/// polysock_bind, takes "@name" for the same names without NULs inside.
///
/// Returns 0, or -1: EBADF, EAFNOSUPPORT (not an AF_UNIX socket), EINVAL
/// (`name` NULL with `len` > 0; a NUL inside a path; an abstract name
/// elsewhere than Linux), ENAMETOOLONG (longer than POLYSOCK_UNIX_NAME_MAX
/// bytes, or a path of 108), EADDRINUSE, EACCES, ENOENT, ENOTDIR.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_bind_unix(h: polysock_t, name: *const c_void, len: usize) -> i32 {
    boundary! { status(with(h, |s| s.bind_unix(name_in("bind_unix", name, len)?))) }
}

/// Connects an AF_UNIX socket to the name in the `len` bytes at `name`
/// (as for polysock_bind_unix; `len` 0 is EINVAL), waiting as the socket's
/// timeout allows, as polysock_connect.
///
/// Returns 0, or -1: as polysock_bind_unix, plus ECONNREFUSED, ENOENT,
/// EINPROGRESS (timeout 0), ETIMEDOUT, EISCONN, EINTR (only when the
/// interrupt hook ends the call).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_connect_unix(h: polysock_t, name: *const c_void, len: usize) -> i32 {
    boundary! {
        status(with(h, |s| {
            let name = name_in("connect_unix", name, len)?;
            if name.is_empty() {
                return fail!(libc::EINVAL, "connect_unix: the name is empty");
            }
            s.connect_unix(name)
        }))
    }
}

/// Sends one datagram of `len` bytes of `buf` to the AF_UNIX name in the
/// `name_len` bytes at `name` (as for polysock_bind_unix).
///
/// Returns the number of bytes sent, or -1: as polysock_sendto, and as
/// polysock_connect_unix for the name.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendto_unix(
    h: polysock_t,
    buf: *const c_void,
    len: usize,
    flags: i32,
    name: *const c_void,
    name_len: usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            let data = buf_in("sendto_unix", buf.cast(), len)?;
            let name = name_in("sendto_unix", name, name_len)?;
            if name.is_empty() {
                return fail!(libc::EINVAL, "sendto_unix: the name is empty");
            }
            s.sendto_unix(data, flags, name).map(count)
        })
    }
}

/// Receives one datagram as polysock_recvfrom, with the sender's AF_UNIX
/// name as bytes (the kernel's form, see polysock_bind_unix; length 0 for
/// an unnamed sender) written to `name` (up to `name_cap` bytes; NULL with
/// `name_cap` 0 when it is not wanted) and its whole length to `name_len`
/// (may be NULL; above `name_cap` when the name was cut).
///
/// Returns the number of bytes received, or -1: as polysock_recvfrom, plus
/// EAFNOSUPPORT (not an AF_UNIX socket), EINVAL (`name` NULL with
/// `name_cap` > 0).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_recvfrom_unix(
    h: polysock_t,
    buf: *mut c_void,
    len: usize,
    flags: i32,
    name: *mut c_void,
    name_cap: usize,
    name_len: *mut usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            let op = "recvfrom_unix";
            let out = buf_out(op, buf.cast(), len)?;
            if out.is_empty() {
                return fail!(libc::EINVAL, "{op}: buffer length is 0");
            }
            buf_out(op, name.cast(), name_cap)?;
            s.require_unix(op)?;
            let (n, from) = s.recvfrom_unix(out, flags)?;
            name_out(op, &from, name, name_cap, name_len)?;
            Ok(count(n))
        })
    }
}

/// Accepts a connection as polysock_accept, with the peer's AF_UNIX name
/// as bytes written as for polysock_recvfrom_unix (length 0: unnamed, the
/// usual case for a connecting socket).
///
/// Returns the new handle, or -1: as polysock_accept, plus EAFNOSUPPORT
/// (not an AF_UNIX socket), EINVAL (`name` NULL with `name_cap` > 0).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_accept_unix(
    h: polysock_t,
    name: *mut c_void,
    name_cap: usize,
    name_len: *mut usize,
) -> polysock_t {
    boundary! {
        call(h, |s| {
            let op = "accept_unix";
            buf_out(op, name.cast(), name_cap)?;
            s.require_unix(op)?;
            let mut peer = RawAddr::new();
            let sock = s.accept_with(Some(&mut peer))?;
            let nh = handles::insert(sock)?;
            name_out(op, &peer.unix_name(), name, name_cap, name_len)?;
            Ok(nh)
        })
    }
}

/// Writes an AF_UNIX socket's own name as bytes, as for
/// polysock_recvfrom_unix (`name_len` required here).
///
/// Returns 0, or -1: EBADF, EAFNOSUPPORT (not an AF_UNIX socket), EINVAL
/// (`name_len` NULL, `name` NULL with `name_cap` > 0).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getsockname_unix(
    h: polysock_t,
    name: *mut c_void,
    name_cap: usize,
    name_len: *mut usize,
) -> i32 {
    boundary! { status(with(h, |s| own_name(s, false, name, name_cap, name_len))) }
}

/// Writes the name of an AF_UNIX socket's peer as bytes, as
/// polysock_getsockname_unix.
///
/// Returns 0, or -1: as polysock_getsockname_unix, plus ENOTCONN.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getpeername_unix(
    h: polysock_t,
    name: *mut c_void,
    name_cap: usize,
    name_len: *mut usize,
) -> i32 {
    boundary! { status(with(h, |s| own_name(s, true, name, name_cap, name_len))) }
}

fn own_name(
    s: &crate::core::socket::Socket,
    peer: bool,
    name: *mut c_void,
    cap: usize,
    name_len: *mut usize,
) -> Result<()> {
    let op = if peer {
        "getpeername_unix"
    } else {
        "getsockname_unix"
    };
    if name_len.is_null() {
        return fail!(libc::EINVAL, "{op}: name_len is NULL");
    }
    buf_out(op, name.cast(), cap)?;
    s.require_unix(op)?;
    let sa = if peer {
        s.peer_sockaddr(op)?
    } else {
        s.local_sockaddr(op)?
    };
    name_out(op, &UnixName::of(&sa), name, cap, name_len)
}
