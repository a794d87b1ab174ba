//! poll(2) over handles: an array of (handle, requested events, returned
//! events) and one timeout, with no FD_SETSIZE limit. A dead handle is
//! reported in its entry (POLLNVAL), as poll(2) reports a closed fd, instead
//! of failing the whole call; signals never end the wait early.
//!
//! The event bits are polysock's own numbers (the same on every platform,
//! equal to Linux's), translated to the platform's here.

use super::error::{Result, fail};
use super::handles::{self, MAX_FD, SocketRef};
use super::socket::CLOSED;
use super::wait::Deadline;
use std::cell::Cell;

/// Data to read (or a connection to accept, or end of stream).
pub const POLYSOCK_POLLIN: i32 = 0x01;
/// Urgent (out-of-band) data to read.
pub const POLYSOCK_POLLPRI: i32 = 0x02;
/// Room to write (or a non-blocking connect has finished).
pub const POLYSOCK_POLLOUT: i32 = 0x04;
/// An error is pending on the socket (reported whether asked for or not).
pub const POLYSOCK_POLLERR: i32 = 0x08;
/// Hung up: both directions are closed (reported whether asked for or not).
pub const POLYSOCK_POLLHUP: i32 = 0x10;
/// The handle is not an open socket (reported whether asked for or not).
pub const POLYSOCK_POLLNVAL: i32 = 0x20;

/// Every event bit a caller may pass.
pub(crate) const ALL_EVENTS: i32 = POLYSOCK_POLLIN
    | POLYSOCK_POLLPRI
    | POLYSOCK_POLLOUT
    | POLYSOCK_POLLERR
    | POLYSOCK_POLLHUP
    | POLYSOCK_POLLNVAL;
/// What is reported without being asked for.
pub(crate) const ALWAYS: i32 = POLYSOCK_POLLERR | POLYSOCK_POLLHUP | POLYSOCK_POLLNVAL;

/// One entry of polysock_poll. In C: `polysock_pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFd {
    /// The socket. A negative handle is skipped (revents 0), as poll(2)
    /// skips a negative fd; any other handle that is not an open socket
    /// gets POLYSOCK_POLLNVAL.
    pub handle: i64,
    /// POLYSOCK_POLLIN, POLYSOCK_POLLPRI, POLYSOCK_POLLOUT, or-ed.
    pub events: i32,
    /// Written by polysock_poll: what is ready, a subset of `events` plus
    /// POLYSOCK_POLLERR, POLYSOCK_POLLHUP and POLYSOCK_POLLNVAL.
    pub revents: i32,
}

/// Entries up to this count are polled from stack arrays: no allocation.
pub(crate) const STACK_ENTRIES: usize = 64;

/// The most entries one call accepts (the size of the handle table).
pub(crate) const MAX_ENTRIES: usize = MAX_FD;

/// A thread keeps the array it polled more entries than STACK_ENTRIES
/// with for its next call, up to this many entries (512 KiB).
const KEPT_ENTRIES: usize = 65536;

thread_local! {
    static SCRATCH: Cell<Vec<libc::pollfd>> = const { Cell::new(Vec::new()) };
}

/// Whether polysock's bits are the platform's (Linux): then converting is
/// a mask.
const SAME_BITS: bool = libc::POLLIN as i32 == POLYSOCK_POLLIN
    && libc::POLLPRI as i32 == POLYSOCK_POLLPRI
    && libc::POLLOUT as i32 == POLYSOCK_POLLOUT
    && libc::POLLERR as i32 == POLYSOCK_POLLERR
    && libc::POLLHUP as i32 == POLYSOCK_POLLHUP
    && libc::POLLNVAL as i32 == POLYSOCK_POLLNVAL;

/// polysock event bits to the platform's poll(2) bits.
#[inline]
pub(crate) fn to_os(events: i32) -> libc::c_short {
    if SAME_BITS {
        return (events & (POLYSOCK_POLLIN | POLYSOCK_POLLPRI | POLYSOCK_POLLOUT)) as libc::c_short;
    }
    let mut os = 0;
    if events & POLYSOCK_POLLIN != 0 {
        os |= libc::POLLIN;
    }
    if events & POLYSOCK_POLLPRI != 0 {
        os |= libc::POLLPRI;
    }
    if events & POLYSOCK_POLLOUT != 0 {
        os |= libc::POLLOUT;
    }
    os
}

/// The platform's poll(2) bits to polysock's.
#[inline]
pub(crate) fn from_os(revents: libc::c_short) -> i32 {
    if SAME_BITS {
        return i32::from(revents) & ALL_EVENTS;
    }
    let mut ev = 0;
    for (os, ours) in [
        (libc::POLLIN, POLYSOCK_POLLIN),
        (libc::POLLPRI, POLYSOCK_POLLPRI),
        (libc::POLLOUT, POLYSOCK_POLLOUT),
        (libc::POLLERR, POLYSOCK_POLLERR),
        (libc::POLLHUP, POLYSOCK_POLLHUP),
        (libc::POLLNVAL, POLYSOCK_POLLNVAL),
    ] {
        if revents & os != 0 {
            ev |= ours;
        }
    }
    ev
}

/// EINVAL for event bits polysock does not define.
pub(crate) fn check_events(op: &str, what: std::fmt::Arguments<'_>, events: i32) -> Result<()> {
    if events & !ALL_EVENTS != 0 {
        return fail!(
            libc::EINVAL,
            "{op}: {what}: unknown event bits 0x{:x} (POLYSOCK_POLLIN, POLYSOCK_POLLPRI, POLYSOCK_POLLOUT are the ones to ask for)",
            events & !ALL_EVENTS
        );
    }
    Ok(())
}

/// EINVAL for a timeout below -1.
pub(crate) fn check_timeout(op: &str, ms: i64) -> Result<()> {
    if ms < -1 {
        return fail!(
            libc::EINVAL,
            "{op}: timeout {ms} ms is invalid (-1 waits forever, 0 returns at once, >0 is a limit)"
        );
    }
    Ok(())
}

/// Waits until at least one entry is ready or `timeout_ms` passes (-1:
/// forever, 0: just look). Writes every entry's `revents` and returns how
/// many entries have a non-zero one (0 on timeout).
///
/// It first looks without waiting and without taking a use of any socket:
/// only the fd numbers matter, and the handle of every entry that shows
/// something is checked again afterwards (one closed meanwhile is reported
/// POLLNVAL, whatever its fd showed). A socket whose handle-table slot
/// says it may hold buffered bytes (a readline ran, or TLS) is the only
/// kind the look takes a use of, to see them. Only when nothing is ready
/// and the caller is willing to wait does it hold every socket, so that
/// close() wakes the wait and no fd number is reused under it, and poll
/// again. Up to STACK_ENTRIES entries
/// cost no allocation; a thread keeps its larger array for the next call.
pub fn poll(fds: &mut [PollFd], timeout_ms: i64) -> Result<usize> {
    check_timeout("poll", timeout_ms)?;
    if fds.len() > MAX_ENTRIES {
        return fail!(
            libc::EINVAL,
            "poll: {} entries is too many (at most {MAX_ENTRIES})",
            fds.len()
        );
    }
    let n = fds.len();
    if n <= STACK_ENTRIES {
        let mut os = [IDLE; STACK_ENTRIES];
        return poll_in(fds, &mut os[..n], timeout_ms);
    }
    let mut os = SCRATCH.try_with(Cell::take).unwrap_or_default();
    if os.len() < n {
        if os.try_reserve_exact(n - os.len()).is_err() {
            return fail!(libc::ENOMEM, "poll: no memory for {n} entries");
        }
        os.resize(n, IDLE);
    }
    let r = poll_in(fds, &mut os[..n], timeout_ms);
    if os.capacity() <= KEPT_ENTRIES {
        let _ = SCRATCH.try_with(|c| c.set(os));
    }
    r
}

const IDLE: libc::pollfd = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

/// The look's entry for a handle that is not open: an fd number no
/// process can have open (Linux caps descriptors below 2^31 - 64), which
/// the kernel reports POLLNVAL for and counts, as for a closed fd.
const DEAD: libc::pollfd = libc::pollfd {
    fd: libc::c_int::MAX,
    ..IDLE
};

/// The call, over a scratch array as long as `fds`.
fn poll_in(fds: &mut [PollFd], os: &mut [libc::pollfd], timeout_ms: i64) -> Result<usize> {
    // Or-ed over the entries: their event bits (checked once after the
    // loop), and their open slots' marks (does one of them say its socket
    // may hold bytes the kernel does not?).
    let mut events = 0;
    let mut marks = handles::Mark::default();
    for (f, p) in fds.iter().zip(os.iter_mut()) {
        events |= f.events;
        *p = match handles::peek(f.handle) {
            Some(mark) => {
                marks |= mark;
                libc::pollfd {
                    fd: handles::fd_of(f.handle),
                    events: to_os(f.events),
                    revents: 0,
                }
            }
            None if f.handle < 0 => IDLE,
            None => DEAD,
        };
    }
    if events & !ALL_EVENTS != 0 {
        return Err(bad_events(fds));
    }
    let shown = os_poll(os, None)?;
    let ready = if marks.buffering() {
        after_look::<true>(fds, os)
    } else {
        // Without such an entry the pass needs no count of its own: every
        // entry the kernel counted keeps a non-zero revents.
        let n = after_look::<false>(fds, os);
        debug_assert_eq!(n, shown);
        shown
    };
    if ready > 0 || timeout_ms == 0 {
        return Ok(ready);
    }
    // The wait's time counts from here: the look took microseconds.
    let deadline = Deadline::after_ms(timeout_ms);
    if fds.len() <= STACK_ENTRIES {
        let mut held: [Option<SocketRef>; STACK_ENTRIES] = [const { None }; STACK_ENTRIES];
        poll_held(fds, os, &mut held[..fds.len()], deadline)
    } else {
        // Only a wait that may sleep gets here.
        let mut held = Vec::new();
        if held.try_reserve_exact(fds.len()).is_err() {
            return fail!(libc::ENOMEM, "poll: no memory for {} entries", fds.len());
        }
        held.resize_with(fds.len(), || None);
        poll_held(fds, os, &mut held, deadline)
    }
}

/// The error for the first entry with unknown event bits (out of line:
/// the look's loop keeps no index for it).
#[cold]
#[inline(never)]
fn bad_events(fds: &[PollFd]) -> super::error::Error {
    let i = fds
        .iter()
        .position(|f| f.events & !ALL_EVENTS != 0)
        .unwrap_or_default();
    match check_events("poll", format_args!("entry {i}"), fds[i].events) {
        Err(e) => e,
        Ok(()) => unreachable!("entry {i} has unknown bits"),
    }
}

/// Writes every entry's revents after the look. `BUFFERED`: an entry
/// asking for POLLIN whose slot says its socket may hold bytes the kernel
/// does not gets them looked at, and the entries are counted (returned;
/// without, only debug builds count them).
#[inline(always)]
fn after_look<const BUFFERED: bool>(fds: &mut [PollFd], os: &[libc::pollfd]) -> usize {
    let mut ready = 0;
    for (f, p) in fds.iter_mut().zip(os.iter()) {
        f.revents = match p.revents {
            // Not skipped (a negative handle), asking for POLLIN.
            shown if BUFFERED && p.fd >= 0 && f.events & POLYSOCK_POLLIN != 0 => {
                look_buffered(f.handle, shown, f.events)
            }
            0 => 0,
            // Closed since: the readiness may be another socket's that
            // took the fd number. (Nothing shown needs no such check: the
            // look may as well have happened before the close.)
            _ if handles::peek(f.handle).is_none() => POLYSOCK_POLLNVAL,
            shown => from_os(shown) & (f.events | ALWAYS),
        };
        if BUFFERED || cfg!(debug_assertions) {
            ready += usize::from(f.revents != 0);
        }
    }
    ready
}

/// An entry's revents after the look, counting bytes its socket buffered:
/// one load of its slot, and a use of it only if that says it may have.
#[inline(always)]
fn look_buffered(h: i64, revents: libc::c_short, events: i32) -> i32 {
    match handles::peek(h) {
        None => POLYSOCK_POLLNVAL,
        Some(mark) if !mark.buffering() => match revents {
            0 => 0,
            shown => from_os(shown) & (events | ALWAYS),
        },
        Some(_) => use_buffered(h, revents, events),
    }
}

/// `look_buffered` for a socket that may hold buffered bytes.
#[inline(never)]
fn use_buffered(h: i64, revents: libc::c_short, events: i32) -> i32 {
    let shown = from_os(revents) & (events | ALWAYS);
    match handles::get(h) {
        Err(_) => POLYSOCK_POLLNVAL,
        Ok(s) if s.buffered_readable() => shown | POLYSOCK_POLLIN,
        Ok(_) => shown,
    }
}

/// poll(2) until something is ready or the deadline passes; without a
/// deadline, one look that does not wait. The number of entries with a
/// non-zero revents.
fn os_poll(os: &mut [libc::pollfd], deadline: Option<&Deadline>) -> Result<usize> {
    loop {
        let ms = deadline.map_or(0, Deadline::remaining_ms);
        // SAFETY: os is a valid array of os.len() pollfd.
        let n = unsafe { libc::poll(os.as_mut_ptr(), os.len() as libc::nfds_t, ms) };
        if n > 0 || (n == 0 && (ms == 0 || deadline.is_none_or(|d| d.remaining_ms() == 0))) {
            return Ok(n as usize);
        }
        if n < 0 {
            let code = errno::errno().0;
            if code != libc::EINTR {
                return fail!(code, "poll");
            }
            super::interrupt::check("poll")?;
        }
    }
}

/// The wait, holding each live handle's socket for its duration, so that
/// its fd number cannot be reused under it and close() wakes it.
fn poll_held(
    fds: &mut [PollFd],
    os: &mut [libc::pollfd],
    held: &mut [Option<SocketRef>],
    deadline: Deadline,
) -> Result<usize> {
    // An entry that is ready without the kernel (a dead handle, bytes
    // decrypted or buffered by a readline) makes the wait a look.
    let mut at_once = false;
    for ((f, p), h) in fds.iter().zip(os.iter_mut()).zip(held.iter_mut()) {
        *p = IDLE;
        if f.handle < 0 {
            continue;
        }
        match handles::get(f.handle) {
            Ok(sock) => {
                // Decrypted bytes are ready although the kernel has none.
                at_once |= f.events & POLYSOCK_POLLIN != 0 && sock.buffered_readable();
                p.fd = sock.fd();
                p.events = to_os(f.events);
                *h = Some(sock);
            }
            Err(_) => at_once = true,
        }
    }
    // As poll(2) with a closed fd: an invalid entry is ready at once.
    os_poll(os, (!at_once).then_some(&deadline))?;
    let mut ready = 0;
    for ((f, p), h) in fds.iter_mut().zip(os.iter()).zip(held.iter()) {
        f.revents = match h {
            _ if f.handle < 0 => 0,
            None => POLYSOCK_POLLNVAL,
            // Closed by another thread while we waited.
            Some(s) if s.state() & CLOSED != 0 => POLYSOCK_POLLNVAL,
            Some(s) if f.events & POLYSOCK_POLLIN != 0 && s.buffered_readable() => {
                (from_os(p.revents) & (f.events | ALWAYS)) | POLYSOCK_POLLIN
            }
            Some(_) => from_os(p.revents) & (f.events | ALWAYS),
        };
        ready += usize::from(f.revents != 0);
    }
    Ok(ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::socket::Socket;

    fn pair() -> (i64, i64) {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        (handles::insert(a).unwrap(), handles::insert(b).unwrap())
    }

    #[test]
    fn poll_bits_round_trip() {
        for bit in [
            POLYSOCK_POLLIN,
            POLYSOCK_POLLPRI,
            POLYSOCK_POLLOUT,
            POLYSOCK_POLLERR,
            POLYSOCK_POLLHUP,
            POLYSOCK_POLLNVAL,
        ] {
            let os = match bit {
                POLYSOCK_POLLERR => libc::POLLERR,
                POLYSOCK_POLLHUP => libc::POLLHUP,
                POLYSOCK_POLLNVAL => libc::POLLNVAL,
                _ => to_os(bit),
            };
            assert_eq!(from_os(os), bit);
        }
    }

    #[test]
    fn poll_reports_readiness_and_nval() {
        let (a, b) = pair();
        let mut fds = [
            PollFd {
                handle: a,
                events: POLYSOCK_POLLIN | POLYSOCK_POLLOUT,
                revents: -7,
            },
            PollFd {
                handle: -1,
                events: POLYSOCK_POLLIN,
                revents: -7,
            },
        ];
        assert_eq!(poll(&mut fds, 1000).unwrap(), 1);
        assert_eq!(fds[0].revents, POLYSOCK_POLLOUT);
        assert_eq!(fds[1].revents, 0);
        handles::close(b);
        fds[0].events = POLYSOCK_POLLIN;
        fds[1].handle = b;
        assert_eq!(poll(&mut fds, -1).unwrap(), 2);
        assert_eq!(fds[0].revents & POLYSOCK_POLLIN, POLYSOCK_POLLIN);
        assert_eq!(fds[1].revents, POLYSOCK_POLLNVAL);
        handles::close(a);
    }

    #[test]
    fn poll_reports_lines_a_readline_buffered() {
        let (a, b) = pair();
        let sb = handles::get(b).unwrap();
        sb.set_timeout(0).unwrap();
        handles::get(a).unwrap().send(b"one\ntw", 0).unwrap();
        let mut buf = [std::mem::MaybeUninit::uninit(); 64];
        assert_eq!(sb.read_until("readline", b"\n", &mut buf).unwrap(), 4);
        // The kernel has nothing now: the look and the wait both see "tw".
        let mut fds = [PollFd {
            handle: b,
            events: POLYSOCK_POLLIN | POLYSOCK_POLLOUT,
            revents: 0,
        }];
        for ms in [0, -1] {
            assert_eq!(poll(&mut fds, ms).unwrap(), 1);
            assert_eq!(fds[0].revents, POLYSOCK_POLLIN | POLYSOCK_POLLOUT);
        }
        // Only part of a line: once readline found it wanting, POLLIN
        // waits for the kernel.
        let e = sb.read_until("readline", b"\n", &mut buf).unwrap_err();
        assert_eq!(e.code(), libc::EAGAIN);
        fds[0].events = POLYSOCK_POLLIN;
        assert_eq!(poll(&mut fds, 50).unwrap(), 0);
        handles::get(a).unwrap().send(b"o\n", 0).unwrap();
        assert_eq!(poll(&mut fds, 5000).unwrap(), 1);
        assert_eq!(sb.read_until("readline", b"\n", &mut buf).unwrap(), 4);
        drop(sb);
        handles::close(a);
        handles::close(b);
    }

    #[test]
    fn the_look_checks_only_marked_entries_and_sees_their_lines() {
        let (a, b) = pair();
        let (c, d) = pair();
        let sb = handles::get(b).unwrap();
        sb.set_timeout(0).unwrap();
        handles::get(a).unwrap().send(b"one\ntwo\n", 0).unwrap();
        let mut buf = [std::mem::MaybeUninit::uninit(); 64];
        assert_eq!(sb.read_until("readline", b"\n", &mut buf).unwrap(), 4);
        let dead =
            handles::insert(Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap()).unwrap();
        handles::close(dead);
        // Many unmarked entries (the heap path), a dead one, the marked
        // one with a line buffered last.
        let mut fds = vec![
            PollFd {
                handle: d,
                events: POLYSOCK_POLLIN,
                revents: -7,
            };
            STACK_ENTRIES * 2
        ];
        fds[1].handle = dead;
        fds.last_mut().unwrap().handle = b;
        assert_eq!(poll(&mut fds, 0).unwrap(), 2);
        assert!(fds[2..fds.len() - 1].iter().all(|f| f.revents == 0));
        assert_eq!(fds[1].revents, POLYSOCK_POLLNVAL);
        assert_eq!(fds.last().unwrap().revents, POLYSOCK_POLLIN);
        assert_eq!(sb.read_until("readline", b"\n", &mut buf).unwrap(), 4);
        // Read out: the marked entry shows nothing, the dead one still does.
        assert_eq!(poll(&mut fds, 0).unwrap(), 1);
        assert_eq!(fds.last().unwrap().revents, 0);
        drop(sb);
        for h in [a, b, c, d] {
            handles::close(h);
        }
    }

    #[test]
    fn poll_many_entries_uses_the_heap_path() {
        let (a, b) = pair();
        let mut fds = vec![
            PollFd {
                handle: a,
                events: POLYSOCK_POLLIN,
                revents: 0,
            };
            STACK_ENTRIES * 3
        ];
        assert_eq!(poll(&mut fds, 0).unwrap(), 0);
        fds.last_mut().unwrap().events = POLYSOCK_POLLOUT;
        assert_eq!(poll(&mut fds, 0).unwrap(), 1);
        handles::close(a);
        handles::close(b);
    }

    #[test]
    fn poll_rejects_bad_input() {
        let mut fds = [PollFd {
            handle: 1,
            events: 0x4000,
            revents: 0,
        }];
        let e = poll(&mut fds, 0).unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
        assert!(e.context().contains("entry 0"), "{}", e.context());
        let e = poll(&mut [], -2).unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
    }
}
