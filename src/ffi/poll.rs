//! poll over handles.

use super::{boundary, count, ret};
use crate::core::error::{Result, fail};
use crate::core::poll::{self, MAX_ENTRIES, PollFd};

/// Waits until at least one of `nfds` entries of `fds` is ready, or
/// `timeout_ms` passes: -1 waits forever, 0 only looks, >0 is a limit in
/// milliseconds. Signals never end the wait early (it resumes with the time
/// that remains). There is no FD_SETSIZE limit; up to 64 entries cost no
/// allocation (more cost two arrays for the duration of the call).
///
/// Each entry's `revents` is written: what is ready among its `events`,
/// plus POLYSOCK_POLLERR and POLYSOCK_POLLHUP whenever they hold. A handle
/// that is not an open socket (closed, even by another thread during the
/// wait, or never issued) gets POLYSOCK_POLLNVAL and makes the call return
/// at once, as poll(2) does for a closed fd; a negative handle is skipped
/// (revents 0). The same handle may appear in several entries.
///
/// An entry asking for POLYSOCK_POLLIN gets it, and makes the call return
/// at once, while its socket holds bytes the kernel cannot show:
/// polysock_readline/polysock_read_until left some in its buffer
/// (polysock_buffered), except those a readline last failed over with
/// EAGAIN or ETIMEDOUT (only part of a line: then POLLIN waits for the
/// kernel's next bytes), or, on a TLS socket, the session holds decrypted
/// bytes (polysock_tls_pending). Only entries whose socket ever read a
/// line or was wrapped in TLS are checked for them.
///
/// Returns the number of entries with a non-zero `revents` (0: timed out),
/// or -1 (then no `revents` was written): EINVAL (`fds` NULL while `nfds`
/// is not 0, `nfds` above 4194304, unknown bits in an entry's `events`,
/// `timeout_ms` below -1), ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poll(fds: *mut PollFd, nfds: usize, timeout_ms: i64) -> i64 {
    boundary! {
        ret((|| {
            let entries = entries("poll", fds, nfds)?;
            poll::poll(entries, timeout_ms).map(count)
        })())
    }
}

/// The caller's array of entries. NULL only with a count of 0.
fn entries<'a>(op: &str, p: *mut PollFd, n: usize) -> Result<&'a mut [PollFd]> {
    if n > MAX_ENTRIES {
        return fail!(
            libc::EINVAL,
            "{op}: nfds {n} is too large (at most {MAX_ENTRIES}; a negative count cast to size_t?)"
        );
    }
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return fail!(libc::EINVAL, "{op}: fds is NULL but nfds is {n}");
    }
    // SAFETY: the caller passes an array of n entries (documented).
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}
