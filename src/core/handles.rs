//! The handle table: how an integer handle finds its socket, safely.
//!
//! A handle is `generation << 32 | fd`. The slot for an fd records the
//! generation it last issued; a handle whose generation does not match (it
//! was closed, or never issued) is EBADF, even after the OS has reused the
//! fd number for another socket. Generations have 21 bits, so handles stay
//! below 2^53 and survive a trip through a double (Dictu, Blade, JS), and
//! they start at 1, so no handle is a small integer that looks like an fd.
//!
//! Lookups lock only the slot they read (never a global lock) and clone an
//! `Arc`, so a call keeps its socket alive while it runs: close() takes the
//! socket out of the table at once, but the fd stays open (its number
//! taken) until the last running call returns.

use super::error::{Result, fail};
use super::socket::Socket;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// A socket handle as the C ABI sees it.
pub type Handle = i64;

const GEN_BITS: u32 = 21;
const GEN_MAX: u32 = (1 << GEN_BITS) - 1;
const PAGE_SLOTS: usize = 1024;
const PAGES: usize = 4096;
/// fds at or above this cannot be registered (4 Mi descriptors).
pub(crate) const MAX_FD: usize = PAGE_SLOTS * PAGES;

#[derive(Default)]
struct Slot {
    generation: u32,
    socket: Option<Arc<Socket>>,
}

/// One slot per cache line: threads working on different sockets never
/// touch the same line (two sockets' slots sharing one made every lookup
/// bounce it between cores).
#[repr(align(64))]
#[derive(Default)]
struct Padded(Mutex<Slot>);

type Page = [Padded; PAGE_SLOTS];

static TABLE: [OnceLock<Box<Page>>; PAGES] = [const { OnceLock::new() }; PAGES];

/// The slot for `fd`, locked. Only `insert` creates pages: a lookup of an
/// fd whose page was never needed finds nothing and allocates nothing.
fn slot(fd: RawFd, create: bool) -> Option<MutexGuard<'static, Slot>> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < MAX_FD)?;
    let cell = &TABLE[fd / PAGE_SLOTS];
    let page = if create {
        cell.get_or_init(new_page)
    } else {
        cell.get()?
    };
    // A panic while a slot was locked cannot leave it inconsistent (every
    // update is a single assignment), so a poisoned lock is still usable.
    Some(
        page[fd % PAGE_SLOTS]
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    )
}

/// A page built on the heap: built on the stack first, its 16+ KiB would
/// overflow the small thread stacks some VMs run native code on.
fn new_page() -> Box<Page> {
    let slots: Box<[Padded]> = (0..PAGE_SLOTS).map(|_| Padded::default()).collect();
    slots
        .try_into()
        .unwrap_or_else(|_| unreachable!("PAGE_SLOTS slots make one page"))
}

fn split(h: Handle) -> Option<(RawFd, u32)> {
    if !(0..1 << (32 + GEN_BITS)).contains(&h) {
        return None;
    }
    let generation = (h >> 32) as u32;
    let fd = (h & 0xffff_ffff) as RawFd;
    (generation != 0 && fd >= 0).then_some((fd, generation))
}

/// Registers a socket and issues its handle.
pub fn insert(sock: Socket) -> Result<Handle> {
    let fd = sock.fd();
    let Some(mut s) = slot(fd, true) else {
        return fail!(
            libc::EMFILE,
            "fd {fd} is beyond polysock's table ({MAX_FD} descriptors)"
        );
    };
    if let Some(stale) = s.socket.take() {
        // The kernel gave us an fd the table still holds: its owner closed
        // it behind polysock's back (close(polysock_fileno(h))). The stale
        // object must never close the number that is now the new socket's.
        stale.detach();
    }
    s.generation = if s.generation >= GEN_MAX {
        1
    } else {
        s.generation + 1
    };
    let h = (i64::from(s.generation) << 32) | i64::from(fd);
    s.socket = Some(Arc::new(sock));
    Ok(h)
}

/// The socket behind a live handle, or EBADF.
pub fn get(h: Handle) -> Result<Arc<Socket>> {
    if let Some((fd, generation)) = split(h) {
        if let Some(s) = slot(fd, false) {
            if s.generation == generation {
                if let Some(sock) = &s.socket {
                    return Ok(Arc::clone(sock));
                }
            }
        }
    }
    fail!(libc::EBADF, "handle {h} is not an open polysock socket")
}

/// Removes a handle from the table; the socket is returned so the caller
/// decides what becomes of it.
fn take(h: Handle) -> Option<Arc<Socket>> {
    let (fd, generation) = split(h)?;
    let mut s = slot(fd, false)?;
    if s.generation != generation {
        return None;
    }
    s.socket.take()
}

/// Closes a handle. Closing a handle that is already closed (or was never
/// issued) is harmless: it returns false and touches nothing.
pub fn close(h: Handle) -> bool {
    let Some(sock) = take(h) else { return false };
    if Arc::strong_count(&sock) > 1 {
        // Other calls still run on it: wake them. Only then, because
        // shutdown() would also end a connection a forked child shares.
        sock.close_while_in_use();
    }
    true
}

/// Gives the fd up to the caller; the handle becomes invalid.
pub fn detach(h: Handle) -> Result<RawFd> {
    match take(h) {
        Some(sock) => Ok(sock.detach()),
        None => fail!(
            libc::EBADF,
            "detach: handle {h} is not an open polysock socket"
        ),
    }
}

/// The live handle that owns `fd`, for runtimes that already show fd
/// numbers to their users.
pub fn handle_of_fd(fd: RawFd) -> Result<Handle> {
    if let Some(s) = slot(fd, false) {
        if s.socket.is_some() {
            return Ok((i64::from(s.generation) << 32) | i64::from(fd));
        }
    }
    fail!(libc::EBADF, "fd {fd} is not owned by a polysock handle")
}
