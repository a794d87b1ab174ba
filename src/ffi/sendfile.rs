//! Sending files over a socket: from an open descriptor, or by path
//! (Blade's `send(file)`).

use super::socket::polysock_t;
use super::{boundary, call, check_len, req_str, with_progress};
use std::ffi::c_char;

/// Sends `count` bytes of the open file `file_fd`, starting at `offset`,
/// over the socket: with sendfile(2) on Linux (the data never enters user
/// space), else (or when sendfile refuses this kind of file) with a
/// read/send loop through a 64 KiB buffer. `count` 0 means to the end of
/// the file. The file's own offset does not move; `file_fd` stays the
/// caller's. The socket's timeout covers the whole call, as for
/// polysock_sendall. `sent` (may be NULL) receives the number of bytes
/// that went, on success and on failure alike, so a caller can resume.
///
/// Returns the number of bytes sent: `count` (or what the file holds from
/// `offset`, which is less when the file ends first: 0 when `offset` is at
/// or past its end); or -1: EBADF (`h` not a socket, `file_fd` not an open
/// descriptor or not open for reading), EINVAL (`offset` negative,
/// `count` > SSIZE_MAX), ESPIPE (`file_fd` is a pipe, socket or terminal,
/// not a file), EISDIR, EPIPE (the peer closed; never SIGPIPE),
/// ECONNRESET, ENOTCONN, EAGAIN (timeout 0, the socket's buffer is full),
/// ETIMEDOUT, EIO.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendfile(
    h: polysock_t,
    file_fd: i32,
    offset: i64,
    count: usize,
    sent: *mut usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            check_len("sendfile", count)?;
            with_progress(s.sendfile(file_fd, offset, count), sent).map(super::count)
        })
    }
}

/// Opens the file at `path` (read-only, close-on-exec) and sends `count`
/// bytes of it from `offset` as polysock_sendfile does (`count` 0: to the
/// end), streaming it: the file is never read into memory whole. The file
/// is closed before the call returns. `sent` (may be NULL) as for
/// polysock_sendfile.
///
/// Returns the number of bytes sent, or -1: as polysock_sendfile, plus
/// EINVAL (`path` NULL or not UTF-8), ENOENT, EACCES, EISDIR, ENOTDIR,
/// ENAMETOOLONG, ELOOP, EMFILE.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_sendfile_path(
    h: polysock_t,
    path: *const c_char,
    offset: i64,
    count: usize,
    sent: *mut usize,
) -> i64 {
    boundary! {
        call(h, |s| {
            let path = req_str("sendfile_path", "path", path)?;
            check_len("sendfile_path", count)?;
            with_progress(s.sendfile_path(path, offset, count), sent).map(super::count)
        })
    }
}
