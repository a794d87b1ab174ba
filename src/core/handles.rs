//! The handle table: how an integer handle finds its socket, safely.
//!
//! A handle is `generation << 32 | fd`. The slot for an fd records the
//! generation it last issued; a handle whose generation does not match (it
//! was closed, or never issued) is EBADF, even after the OS has reused the
//! fd number for another socket. Generations have 21 bits, so handles stay
//! below 2^53 and survive a trip through a double (Dictu, Blade, JS), and
//! they start at 1, so no handle is a small integer that looks like an fd.
//!
//! No call takes a lock: a slot is `slot::Slot`, whose state word orders
//! every change (see slot.rs). A lookup counts itself into its slot's use
//! count and out again with one subtraction, and holds the socket by
//! reference meanwhile (`SocketRef`). close() marks the slot closed at
//! once, so no new use can start, and wakes the uses that run; the socket,
//! and with it the fd, goes only when the last use ends, so the fd number
//! cannot be reused under a running call. A close with no use running owns
//! the slot in the same step and closes the fd itself; an insert claims an
//! empty slot the same way before it fills it.
//!
//! Sockets live in their slots (192 bytes each, pages of 1024 made as fd
//! numbers need them), so making a socket allocates nothing beyond its
//! page.

use super::error::{Error, Result, fail};
use super::slot::{self, EMPTY, OPEN, Retire, USERS, Use, generation_of};
use super::socket::Socket;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A socket handle as the C ABI sees it.
pub type Handle = i64;

const PAGE_SLOTS: usize = 1024;
const PAGES: usize = 4096;
/// fds at or above this cannot be registered (4 Mi descriptors).
pub(crate) const MAX_FD: usize = PAGE_SLOTS * PAGES;

/// The socket may hold bytes the kernel does not (a readline's buffer,
/// TLS plaintext): poll's look checks it. Set by `mark_buffering`, cleared
/// when the slot is filled again. The slot's spare state bit.
const BUFFERING: u64 = slot::SPARE;

type Slot = slot::Slot<Socket>;

/// One slot per cache line: threads working on different sockets never
/// touch the same line (two sockets' slots sharing one made every lookup
/// bounce it between cores).
#[repr(align(64))]
struct Padded(Slot);

type Page = [Padded; PAGE_SLOTS];

/// The pages, made by the first insert that needs one and never freed.
static TABLE: [AtomicPtr<Page>; PAGES] = [const { AtomicPtr::new(std::ptr::null_mut()) }; PAGES];

/// The slot for `fd`, if its page exists. A lookup of an fd whose page was
/// never needed finds nothing and allocates nothing.
#[inline]
fn slot(fd: RawFd) -> Option<&'static Slot> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < MAX_FD)?;
    slot_at(fd)
}

/// `slot` for an fd already known to be below MAX_FD.
#[inline]
fn slot_at(fd: usize) -> Option<&'static Slot> {
    let page = TABLE[fd / PAGE_SLOTS].load(Ordering::Acquire);
    // SAFETY: a page, once published, lives for the rest of the process.
    let page = unsafe { page.as_ref() }?;
    Some(&page[fd % PAGE_SLOTS].0)
}

/// The slot for `fd`, making its page if needed (insert only).
#[inline(always)]
fn slot_or_new(fd: RawFd) -> Option<&'static Slot> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < MAX_FD)?;
    let page = TABLE[fd / PAGE_SLOTS].load(Ordering::Acquire);
    // SAFETY: a page, once published, lives for the rest of the process.
    match unsafe { page.as_ref() } {
        Some(page) => Some(&page[fd % PAGE_SLOTS].0),
        None => slot_on_new_page(fd),
    }
}

/// `slot_or_new` for an fd whose page does not exist yet.
#[cold]
#[inline(never)]
fn slot_on_new_page(fd: usize) -> Option<&'static Slot> {
    let cell = &TABLE[fd / PAGE_SLOTS];
    if cell.load(Ordering::Acquire).is_null() {
        let page = Box::into_raw(new_page());
        if cell
            .compare_exchange(
                std::ptr::null_mut(),
                page,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // Another insert published this page first.
            // SAFETY: ours was never published.
            drop(unsafe { Box::from_raw(page) });
        }
    }
    slot_at(fd)
}

/// A page built on the heap: built on the stack first, its 192 KiB would
/// overflow the small thread stacks some VMs run native code on.
fn new_page() -> Box<Page> {
    let slots: Box<[Padded]> = (0..PAGE_SLOTS).map(|_| Padded(Slot::new())).collect();
    slots
        .try_into()
        .unwrap_or_else(|_| unreachable!("PAGE_SLOTS slots make one page"))
}

/// The slot a handle's fd selects, if its page exists; whether the handle
/// still names the socket there is for the slot's state to say (`names`).
#[inline]
fn slot_of(h: Handle) -> Option<&'static Slot> {
    let fd = h as u32 as usize;
    if fd >= MAX_FD {
        return None;
    }
    slot_at(fd)
}

/// Whether a slot's state word shows the open socket `h` names, in one
/// xor: the handle's whole upper half is compared with the state's
/// generation (a generation out of range, 0 or a negative handle's,
/// matches no open slot: `fill` issues 1..=GEN_MAX), and with fd < 2^22
/// the handle's bits 30 and 31 are 0, so those of the xor are the state's
/// EMPTY and OPEN (the use count and BUFFERING lie below them).
#[inline(always)]
fn names(state: u64, h: Handle) -> bool {
    const { assert!(MAX_FD <= EMPTY as usize) };
    (state ^ h as u64) >> 30 == OPEN >> 30
}

fn handle(generation: u64, fd: RawFd) -> Handle {
    ((generation << 32) | fd as u64) as Handle
}

/// A use of a live socket: the socket cannot go away while this exists.
pub type SocketRef = Use<Socket>;

impl Retire for Socket {
    /// The last use of a closed socket: drops it (closing its fd unless
    /// detached) and empties the slot.
    #[inline(always)]
    fn retire(slot: &'static Slot) {
        if let Err((fd, code)) = retire(slot) {
            super::socket::note_close_failure(fd, code);
        }
    }
}

/// Retires the socket in a slot this thread owns (closed, no use left):
/// dropped in place, the slot freed, and only then its fd closed (the
/// kernel can give that number to a new socket only then, and its insert
/// finds the slot empty). The fd and code of a failed close(2).
#[inline(never)]
fn retire(slot: &'static Slot) -> std::result::Result<(), (RawFd, i32)> {
    retire_in_place(slot)
}

/// `retire`, inlined into close: a socket whose drop would free nothing
/// and tell nobody (`Socket::is_plain`: no poller ever watched it, no
/// readline, no TLS) is overwritten without running its drop glue; any
/// other is dropped out of line.
#[inline(always)]
fn retire_in_place(slot: &'static Slot) -> std::result::Result<(), (RawFd, i32)> {
    // SAFETY: we own the slot (closed, no use left).
    let cell = unsafe { slot.owned() };
    let plain = cell
        .as_mut()
        .map(|sock| sock.is_plain().then(|| sock.fd_to_close()));
    let fd = match plain {
        Some(Some(fd)) => {
            // SAFETY: `is_plain`: nothing in the socket owns memory or
            // anything else a drop would release, so overwriting it
            // without dropping it leaks nothing.
            unsafe { std::ptr::write(cell, None) };
            fd
        }
        _ => retire_dropping(cell),
    };
    slot.empty();
    match fd {
        Some(fd) => super::socket::close_fd(fd).map_err(|code| (fd, code)),
        None => Ok(()),
    }
}

/// `retire_in_place` for a socket with more to release: its pollers told
/// (while the fd is open), then dropped. The fd to close, unless detached.
#[cold]
#[inline(never)]
fn retire_dropping(cell: &mut Option<Socket>) -> Option<RawFd> {
    let fd = cell.as_mut().and_then(Socket::take_fd);
    *cell = None;
    fd
}

/// Registers a socket and issues its handle.
pub fn insert(sock: Socket) -> Result<Handle> {
    let fd = sock.fd();
    let (slot, state) = claim(fd)?;
    let flags = OPEN | if sock.may_buffer() { BUFFERING } else { 0 };
    // SAFETY: we claimed the slot, which `retire` left None (nothing to
    // drop).
    unsafe { std::ptr::write(slot.owned(), Some(sock)) };
    Ok(handle(slot.fill(state, flags), fd))
}

/// Registers the socket `make` builds around `sock`, a new fd (socket(2),
/// accept(2)), built in its slot: no Socket is moved into the table. A
/// new socket never buffers (no readline, no TLS yet). On failure `sock`
/// is dropped, closing its fd.
#[inline(always)]
pub(crate) fn insert_new(
    sock: socket2::Socket,
    make: impl FnOnce(socket2::Socket) -> Socket,
) -> Result<Handle> {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let (slot, state) = claim(fd)?;
    // SAFETY: as in `insert`.
    unsafe { std::ptr::write(slot.owned(), Some(make(sock))) };
    Ok(handle(slot.fill(state, OPEN), fd))
}

/// The slot for `fd`, claimed (EMPTY -> owned), and the state it had.
#[inline(always)]
fn claim(fd: RawFd) -> Result<(&'static Slot, u64)> {
    let Some(slot) = slot_or_new(fd) else {
        return beyond_table(fd);
    };
    loop {
        match slot.claim() {
            Ok(state) => return Ok((slot, state)),
            Err(_) => evict_stale(slot, fd)?,
        }
    }
}

#[cold]
#[inline(never)]
fn beyond_table<T>(fd: RawFd) -> Result<T> {
    fail!(
        libc::EMFILE,
        "fd {fd} is beyond polysock's table ({MAX_FD} descriptors)"
    )
}

/// The kernel gave us an fd the table still holds: its owner closed it
/// behind polysock's back (close(polysock_fileno(h))). That stale socket
/// must never close (or shut down) the number that is now the new one's:
/// it is closed here, detached. Returns once the slot is empty.
#[cold]
#[inline(never)]
fn evict_stale(slot: &'static Slot, fd: RawFd) -> Result<()> {
    // Closed in one step with a use of ours counted in (then no close of
    // its handle can start a shutdown), or, closed already with uses
    // left, entered; owned with none, its last use is emptying the slot.
    let full = |s: u64| s & EMPTY == 0 && (s & OPEN != 0 || s & USERS != 0);
    if let Some(stale) = slot.enter(full, true) {
        stale.detach();
    }
    // Its last use empties the slot; a use still running keeps it.
    let mut spins = 0;
    loop {
        let state = slot.state.load(Ordering::Acquire);
        if state & EMPTY != 0 {
            return Ok(());
        }
        if state & USERS != 0 || spins > 1000 {
            return fail!(
                libc::EBUSY,
                "fd {fd}: a call on a stale polysock handle for this fd (closed outside polysock) is still running"
            );
        }
        spins += 1;
        std::thread::yield_now();
    }
}

/// A use of the socket behind a live handle, or EBADF.
#[inline]
pub fn get(h: Handle) -> Result<SocketRef> {
    if let Some(slot) = slot_of(h) {
        // `names` holds across the compare-and-swap that counts us in:
        // the use starts on the very state that showed h open.
        if let Some(r) = slot.enter(|s| names(s, h), false) {
            return Ok(r);
        }
    }
    Err(not_open(h))
}

/// Whether `h` is an open handle at this moment, without taking a use,
/// and if so its slot's `Mark`: one load of its state word. For a call
/// that only hands the fd number to the kernel without waiting (poll with
/// a zero timeout) and checks again afterwards that the handle is still
/// open, which proves the number was this socket's throughout
/// (generations never repeat for a slot before 2^21 reuses).
#[inline]
pub(crate) fn peek(h: Handle) -> Option<Mark> {
    let state = slot_of(h)?.state.load(Ordering::Acquire);
    names(state, h).then_some(Mark(state as u32))
}

/// What `peek` saw of a slot besides its liveness; or-ed over slots,
/// whether any of their sockets may hold buffered bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mark(u32);

impl Mark {
    /// The socket may hold bytes the kernel does not (`mark_buffering`).
    #[inline]
    pub(crate) fn buffering(self) -> bool {
        u64::from(self.0) & BUFFERING != 0
    }
}

impl std::ops::BitOrAssign for Mark {
    #[inline]
    fn bitor_assign(&mut self, other: Mark) {
        self.0 |= other.0;
    }
}

/// Marks `sock`'s slot as possibly holding buffered bytes, if `sock` is
/// the socket in it (the caller holds a use, so the slot stays its own).
pub(crate) fn mark_buffering(sock: &Socket) {
    let Some(slot) = slot(sock.fd()) else { return };
    // A socket not in the table (not yet inserted) is marked by insert,
    // from `may_buffer`.
    if slot.holds(sock) {
        slot.state.fetch_or(BUFFERING, Ordering::Release);
    }
}

/// The fd number a handle names (meaningful while it is open).
#[inline]
pub(crate) fn fd_of(h: Handle) -> RawFd {
    (h & 0xffff_ffff) as RawFd
}

#[cold]
#[inline(never)]
fn not_open(h: Handle) -> Error {
    Error::new(
        libc::EBADF,
        format_args!("handle {h} is not an open polysock socket"),
    )
}

/// Marks the handle's slot closed (no new uses) in one step, and returns
/// how many uses were running. With none, the caller owns the slot; with
/// some, a use of its own is counted in beside them.
#[inline(always)]
fn shut(h: Handle) -> Option<(&'static Slot, u64)> {
    let slot = slot_of(h)?;
    let mut state = slot.state.load(Ordering::Acquire);
    loop {
        if !names(state, h) {
            return None;
        }
        let users = state & USERS;
        if users == USERS {
            state = slot.saturated();
            continue;
        }
        let closed = (state & !OPEN) + u64::from(users != 0);
        match slot
            .state
            .compare_exchange_weak(state, closed, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some((slot, users)),
            Err(now) => state = now,
        }
    }
}

/// Closes a handle. Closing a handle that is already closed (or was never
/// issued) is harmless: it returns false and touches nothing.
pub fn close(h: Handle) -> bool {
    close_reporting(h).is_some()
}

/// `close`, with close(2)'s outcome: None when `h` was not open; else
/// whether closing the fd failed, when this call was the one to close it
/// (no other call was using the socket, or the last one ended meanwhile).
#[inline(always)]
pub(crate) fn close_reporting(h: Handle) -> Option<Result<()>> {
    let (slot, others) = shut(h)?;
    if others == 0 {
        // No use ran: the slot is ours, the fd closes now.
        return Some(match retire_in_place(slot) {
            Ok(()) => Ok(()),
            Err((fd, code)) => Err(super::socket::close_failure(fd, code)),
        });
    }
    close_in_use(slot)
}

/// `close_reporting` of a socket other calls are using: our use is
/// counted into its full slot (`shut`).
#[cold]
#[inline(never)]
fn close_in_use(slot: &'static Slot) -> Option<Result<()>> {
    // SAFETY: `shut` counted our use into the full slot.
    let sock = unsafe { slot.counted() }?;
    // Other calls still run on it: wake them. Only then, because
    // shutdown() would also end a connection a forked child shares.
    sock.close_while_in_use();
    // Dropping our use closes the fd if theirs have ended meanwhile.
    Some(super::socket::closing(|| drop(sock)).1)
}

/// Gives the fd up to the caller; the handle becomes invalid. Refused
/// (EBUSY) while another call uses the socket: the fd would change owner
/// under it.
pub fn detach(h: Handle) -> Result<RawFd> {
    let not_open = || {
        fail!(
            libc::EBADF,
            "detach: handle {h} is not an open polysock socket"
        )
    };
    let Some(slot) = slot_of(h) else {
        return not_open();
    };
    // No other use may run: closed, with ours counted in, in one step.
    // `busy` tells the refusal apart, from the state that refused.
    let busy = std::cell::Cell::new(false);
    let alone = |s: u64| {
        let open = names(s, h);
        busy.set(open && s & USERS != 0);
        open && !busy.get()
    };
    match slot.enter(alone, true) {
        Some(sock) => Ok(sock.detach()),
        None if busy.get() => fail!(libc::EBUSY, "detach: handle {h} is in use by another call"),
        None => not_open(),
    }
}

/// The live handle that owns `fd`, for runtimes that already show fd
/// numbers to their users.
pub fn handle_of_fd(fd: RawFd) -> Result<Handle> {
    if let Some(slot) = slot(fd) {
        let state = slot.state.load(Ordering::Acquire);
        if state & OPEN != 0 {
            return Ok(handle(generation_of(state), fd));
        }
    }
    fail!(libc::EBADF, "fd {fd} is not owned by a polysock handle")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::slot::GEN_MAX;

    fn new_socket() -> Socket {
        Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap()
    }

    #[test]
    fn lookups_count_uses_and_the_last_one_closes() {
        let h = insert(new_socket()).unwrap();
        let fd = get(h).unwrap().fd();
        let a = get(h).unwrap();
        let b = get(h).unwrap();
        assert!(close(h));
        assert!(!close(h), "closing twice is harmless");
        assert!(get(h).is_err(), "no new use after close");
        drop(a);
        // SAFETY: fcntl on an fd number only reads its flags.
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) },
            -1,
            "still open for b"
        );
        drop(b);
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) },
            -1,
            "closed with the last use"
        );
    }

    #[test]
    fn the_buffering_mark_lives_and_dies_with_its_socket() {
        let sock = new_socket();
        // Not in the table yet: nothing to mark.
        mark_buffering(&sock);
        let h = insert(sock).unwrap();
        assert!(!peek(h).unwrap().buffering());
        mark_buffering(&get(h).unwrap());
        assert!(peek(h).unwrap().buffering());
        let r = get(h).unwrap();
        assert!(peek(h).unwrap().buffering(), "a use leaves the mark");
        drop(r);
        // Out-of-range generations and negative handles are not open.
        for bad in [
            -1,
            h & 0xffff_ffff,
            h | (1 << 62),
            h | i64::MIN,
            h ^ (1 << 32),
        ] {
            assert_eq!(peek(bad), None, "{bad:#x}");
            assert_eq!(get(bad).err().map(|e| e.code()), Some(libc::EBADF));
        }
        // A handle whose fd is beyond the table, or whose generation is
        // one its slot never issued (the slot's and 0 beyond GEN_MAX).
        let gen_of = |h: Handle| (h as u64) >> 32;
        for bad in [
            h | MAX_FD as i64,
            (h & 0xffff_ffff) | (((gen_of(h) + GEN_MAX + 1) as i64) << 32),
        ] {
            assert!(get(bad).is_err(), "{bad:#x}");
        }
        close(h);
        assert_eq!(peek(h), None);
        // The next socket in the slot starts unmarked.
        let again = insert(new_socket()).unwrap();
        if fd_of(again) == fd_of(h) {
            assert!(!peek(again).unwrap().buffering());
        }
        close(again);
    }

    fn fd_is_open(fd: RawFd) -> bool {
        // SAFETY: fcntl on an fd number only reads its flags.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    #[test]
    fn close_retires_plain_and_watched_sockets_alike() {
        let mut fresh = new_socket();
        assert!(fresh.is_plain(), "a new socket has nothing to release");
        // Plain: overwritten in its slot without its drop glue; the fd closes.
        let h = insert(fresh).unwrap();
        let fd = fd_of(h);
        assert!(close(h));
        assert!(!fd_is_open(fd), "a plain socket's fd closes");
        assert!(get(h).is_err());
        // Watched by a poller, then no longer: its list allocated, so it
        // is dropped in full; still watched: the poller forgets it first.
        let poller = std::sync::Arc::new(super::super::poller::Poller::new().unwrap());
        for keep_watching in [false, true] {
            let h = insert(new_socket()).unwrap();
            let fd = fd_of(h);
            poller
                .add(h, super::super::poll::POLYSOCK_POLLIN, 0, 7)
                .unwrap();
            if !keep_watching {
                poller.remove(h).unwrap();
            }
            assert!(close(h));
            assert!(!fd_is_open(fd), "a watched socket's fd closes");
        }
        // A socket a readline ran on is dropped in full as well.
        let (mut a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        // SAFETY: plain write of 2 bytes to our own fd.
        assert_eq!(unsafe { libc::write(b.fd(), b"x\n".as_ptr().cast(), 2) }, 2);
        let mut line = [std::mem::MaybeUninit::new(0u8); 8];
        assert_eq!(a.read_until("t", b"\n", &mut line).unwrap(), 2);
        assert!(!a.is_plain(), "its reader holds a buffer to free");
        let (ha, hb) = (insert(a).unwrap(), insert(b).unwrap());
        let (fa, fb) = (fd_of(ha), fd_of(hb));
        assert!(close(ha) && close(hb));
        assert!(!fd_is_open(fa) && !fd_is_open(fb));
    }

    #[test]
    fn detach_is_refused_while_in_use() {
        let h = insert(new_socket()).unwrap();
        let r = get(h).unwrap();
        assert_eq!(detach(h).unwrap_err().code(), libc::EBUSY);
        drop(r);
        let fd = detach(h).unwrap();
        assert!(get(h).is_err());
        // SAFETY: the fd is ours now.
        assert_eq!(unsafe { libc::close(fd) }, 0);
    }

    #[test]
    fn racing_lookups_and_closes_never_reach_a_wrong_socket() {
        // Threads look up and close handles while others make new sockets
        // that reuse the fd numbers; every successful lookup must find the
        // socket its handle was issued for (same fd and type).
        let stop = std::sync::atomic::AtomicBool::new(false);
        let handles: Vec<_> = (0..8)
            .map(|_| std::sync::atomic::AtomicI64::new(insert(new_socket()).unwrap()))
            .collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (handles, stop) = (&handles, &stop);
                s.spawn(move || {
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let h = handles[i % handles.len()].load(Ordering::Relaxed);
                        if let Ok(r) = get(h) {
                            assert_eq!(r.fd() as i64, h & 0xffff_ffff);
                            assert_eq!(r.socktype(), libc::SOCK_DGRAM);
                        }
                        i += 1;
                    }
                });
            }
            for round in 0..2000 {
                let slot = &handles[round % handles.len()];
                let old = slot.load(Ordering::Relaxed);
                close(old);
                slot.store(insert(new_socket()).unwrap(), Ordering::Relaxed);
            }
            stop.store(true, Ordering::Relaxed);
        });
        for h in &handles {
            assert!(close(h.load(Ordering::Relaxed)));
        }
    }
}
