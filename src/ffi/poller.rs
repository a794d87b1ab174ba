//! The poller: many sockets, one wait (epoll on Linux, poll(2) elsewhere).
//! What lets a runtime build its own event loop on polysock.

use super::socket::polysock_t;
use super::{boundary, count, ret, status};
use crate::core::error::fail;
use crate::core::poller::{self, PollerEvent};
use std::mem::MaybeUninit;

/// A poller id: a positive integer below 2^53 (exact in a double), never
/// equal to a socket handle. Functions that create one return -1 on
/// failure; a destroyed id is EBADF.
#[allow(non_camel_case_types)]
pub type polysock_poller_t = i64;

/// Creates a poller (epoll on Linux and Android, poll(2) elsewhere; every
/// descriptor it holds is close-on-exec).
///
/// Returns the poller id, or -1: EMFILE (the process is out of fds, or 4096
/// pollers are open), ENFILE, ENOMEM.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_create() -> polysock_poller_t {
    boundary! { ret(poller::create()) }
}

/// Destroys a poller: its registrations end (the sockets stay open), and
/// waits in progress in other threads return -1 with EBADF. Destroying a
/// destroyed or never-created id does nothing and is not an error.
///
/// Returns 0 always.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_destroy(p: polysock_poller_t) -> i32 {
    boundary! {
        poller::destroy(p);
        0
    }
}

/// Watches socket `h` for `events` (POLYSOCK_POLLIN, POLYSOCK_POLLPRI,
/// POLYSOCK_POLLOUT, or-ed; POLYSOCK_POLLERR and POLYSOCK_POLLHUP are
/// always reported and may be passed). `flags`: 0 (level-triggered),
/// POLYSOCK_POLLER_EDGE (edge-triggered; level on the poll(2) fallback),
/// POLYSOCK_POLLER_ONESHOT (disarmed after one report until
/// polysock_poller_modify), or both. `user` comes back with every event.
///
/// Closing a registered socket removes it from every poller before its fd
/// is closed: no poller reports a closed handle, or an fd reused by
/// another socket. A socket may be registered with several pollers.
///
/// Bytes the kernel cannot show count as readable: a socket (plain or TLS,
/// wrapped or first read by line before or after it was added) is
/// reported POLYSOCK_POLLIN at once, without waiting for the kernel, while
/// polysock_readline/polysock_read_until left bytes in its buffer
/// (polysock_buffered) or its TLS session holds decrypted bytes
/// (polysock_tls_pending): on every wait when level-triggered, once when
/// one-shot (then disarmed, as by the kernel's report), never when
/// edge-triggered (read until EAGAIN, which a receive gives only once
/// nothing is buffered). Bytes a readline failed with EAGAIN or ETIMEDOUT
/// over (only part of a line) no longer count: the socket then waits for
/// the kernel's next bytes. A wait already blocked is not woken when
/// another thread's receive leaves bytes buffered; the next wait reports
/// them.
///
/// Returns 0, or -1: EBADF (`p` is not an open poller, `h` is not an open
/// socket), EEXIST (`h` is registered already), EINVAL (unknown bits in
/// `events` or `flags`), ENOMEM, ENOSPC (the system's limit of watched fds).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_add(
    p: polysock_poller_t,
    h: polysock_t,
    events: i32,
    flags: u32,
    user: u64,
) -> i32 {
    boundary! {
        status(poller::get("poller_add", p).and_then(|p| p.add(h, events, flags, user)))
    }
}

/// Replaces the events, flags and user value of a registered socket (as
/// polysock_poller_add), and re-arms a one-shot registration.
///
/// Returns 0, or -1: EBADF, ENOENT (`h` is not registered with `p`),
/// EINVAL (unknown bits in `events` or `flags`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_modify(
    p: polysock_poller_t,
    h: polysock_t,
    events: i32,
    flags: u32,
    user: u64,
) -> i32 {
    boundary! {
        status(poller::get("poller_modify", p).and_then(|p| p.modify(h, events, flags, user)))
    }
}

/// Stops watching socket `h`. (Closing the socket does this by itself.)
///
/// Returns 0, or -1: EBADF (also for a socket already closed), ENOENT (`h`
/// is not registered with `p`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_remove(p: polysock_poller_t, h: polysock_t) -> i32 {
    boundary! { status(poller::get("poller_remove", p).and_then(|p| p.remove(h))) }
}

/// Waits until a registered socket is ready, polysock_poller_wake is
/// called, or `timeout_ms` passes (-1 forever, 0 only looks, >0 a limit in
/// milliseconds; signals never end the wait early). Writes up to
/// `maxevents` entries (at most POLYSOCK_POLLER_MAX_BATCH in one call; the
/// rest wait for the next call) to `events`: each a ready socket's handle,
/// its ready events (POLYSOCK_POLLIN/PRI/OUT among those registered, plus
/// POLYSOCK_POLLERR/POLLHUP) and its user value. A wake-up is one extra
/// entry with handle POLYSOCK_POLLER_WAKE (0), events POLYSOCK_POLLIN and
/// user 0. Several threads may wait on one poller. Never allocates (on
/// Linux).
///
/// Returns the number of entries written (0: timed out), or -1: EBADF (`p`
/// is not an open poller, or was destroyed during the wait), EINVAL
/// (`events` NULL, `maxevents` 0, `timeout_ms` < -1).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_wait(
    p: polysock_poller_t,
    events: *mut PollerEvent,
    maxevents: usize,
    timeout_ms: i64,
) -> i64 {
    boundary! {
        ret((|| {
            let p = poller::get("poller_wait", p)?;
            if events.is_null() {
                return fail!(libc::EINVAL, "poller_wait: events is NULL");
            }
            if maxevents == 0 {
                return fail!(libc::EINVAL, "poller_wait: maxevents is 0");
            }
            // Only the first POLYSOCK_POLLER_MAX_BATCH entries are touched,
            // so a huge maxevents is harmless.
            let n = maxevents.min(poller::POLYSOCK_POLLER_MAX_BATCH);
            // SAFETY: the caller passes an array of maxevents >= n entries,
            // which may be uninitialised.
            let out = unsafe { std::slice::from_raw_parts_mut(events.cast::<MaybeUninit<PollerEvent>>(), n) };
            p.wait(out, timeout_ms).map(count)
        })())
    }
}

/// Makes a wait on poller `p` return: the one in progress in another
/// thread, or else the next one. Wakes before a wait coalesce into one
/// POLYSOCK_POLLER_WAKE entry. Safe from any thread (not from a signal
/// handler).
///
/// Returns 0, or -1: EBADF.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_poller_wake(p: polysock_poller_t) -> i32 {
    boundary! { status(poller::get("poller_wake", p).map(|p| p.wake())) }
}
