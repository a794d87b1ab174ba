//! A poller: many sockets, one wait. epoll on Linux and Android; poll(2)
//! elsewhere (the fallback is built on Linux too, for its tests).
//!
//! Registrations are keyed by the socket's fd and carry its handle, which
//! is also the epoll data. What keeps a reused fd from ever being reported
//! under a stale handle:
//! - The poller holds no reference to a registered socket (closing it is
//!   exactly polysock_close, no shutdown, no delayed fd close). Instead the
//!   socket lists the pollers that watch it (`Watchers`), and when the
//!   socket object goes, just before its fd is closed, it takes itself out
//!   of each (EPOLL_CTL_DEL while the fd is still open, so even a
//!   descriptor shared with a forked child or a dup() leaves no stale epoll
//!   entry behind). Only after that can the OS hand the fd number out again.
//! - An event is reported only if the registration at that fd still carries
//!   the handle the event was recorded with, and only if that handle is
//!   still open (a socket closed while another thread still uses it is
//!   dropped from the results at once).
//!
//! Wakes: a wake() from any thread makes one wait return with a reserved
//! entry whose handle is POLYSOCK_POLLER_WAKE (0, never a socket). Wakes
//! coalesce: several before a wait give one such entry.
//!
//! Buffered bytes: rustls may hold decrypted bytes, and a readline's
//! buffer bytes, that the kernel no longer shows as readable. A poller
//! lists its registrations of sockets that may hold them (a socket tells
//! its watchers when it is wrapped or its first readline runs) and, only
//! while that list is not empty, looks at them before each wait
//! (`buffered_ready`); other sockets cost one atomic load per wait.

use super::error::{Error, Result, fail};
use super::handles::{self, Handle, SocketRef};
use super::poll::{ALWAYS, POLYSOCK_POLLIN, check_events, check_timeout, from_os, to_os};
use super::wait::Deadline;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Registration flag: edge-triggered (report a readiness change once, not
/// as long as it lasts; read or write until EAGAIN before waiting again).
/// On the poll(2) fallback it behaves as level-triggered: more reports,
/// never fewer.
pub const POLYSOCK_POLLER_EDGE: u32 = 1;
/// Registration flag: one-shot (after one report the socket is disarmed
/// until polysock_poller_modify re-arms it).
pub const POLYSOCK_POLLER_ONESHOT: u32 = 2;
const ALL_FLAGS: u32 = POLYSOCK_POLLER_EDGE | POLYSOCK_POLLER_ONESHOT;
/// The handle of the entry that reports a polysock_poller_wake(): 0, which
/// is never a socket handle. Its events are POLYSOCK_POLLIN, its user 0.
pub const POLYSOCK_POLLER_WAKE: i64 = 0;

/// Events one wait reports at most (more stay pending for the next wait).
pub const POLYSOCK_POLLER_MAX_BATCH: usize = 1024;
const MAX_BATCH: usize = POLYSOCK_POLLER_MAX_BATCH;

/// One ready socket, as polysock_poller_wait reports it. In C:
/// `polysock_poller_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollerEvent {
    /// The socket, or POLYSOCK_POLLER_WAKE for a wake-up.
    pub handle: i64,
    /// What is ready: POLYSOCK_POLLIN, POLYSOCK_POLLPRI, POLYSOCK_POLLOUT
    /// (those registered), POLYSOCK_POLLERR, POLYSOCK_POLLHUP.
    pub events: i32,
    /// Always 0.
    pub reserved: i32,
    /// The value given to polysock_poller_add/polysock_poller_modify.
    pub user: u64,
}

/// The epoll data that marks the wake-up fd (handles are below 2^53).
const WAKE_TOKEN: u64 = u64::MAX;

struct Reg {
    handle: Handle,
    /// The registered socket object's address, unique while it lives: how
    /// a dying socket recognises its own registration.
    sock_id: usize,
    events: i32,
    flags: u32,
    user: u64,
    /// Not yet reported since (re-)arming a one-shot.
    armed: bool,
    /// The socket may buffer bytes (TLS, readline): listed in `Regs::buffering`.
    buffering: bool,
}

#[derive(Default)]
struct Regs {
    /// Indexed by fd.
    by_fd: Vec<Option<Reg>>,
    /// The poll fallback's scratch arrays, kept between waits.
    scratch: Vec<libc::pollfd>,
    scratch_handles: Vec<Handle>,
    /// The fds of registrations whose socket may hold bytes the kernel
    /// cannot see (TLS, readline; see `buffered_ready`).
    buffering: Vec<RawFd>,
    /// `buffered_ready`'s scratch list, kept between waits.
    buffering_scratch: Vec<Handle>,
}

impl Regs {
    /// The registration of `fd` if it belongs to the socket `sock_id`.
    fn get_mut(&mut self, fd: RawFd, sock_id: usize) -> Option<&mut Reg> {
        self.by_fd
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .filter(|r| r.sock_id == sock_id)
    }

    /// Puts `reg` (or nothing) at `fd`, keeping the buffering list in step.
    fn set(&mut self, fd: RawFd, reg: Option<Reg>) {
        let slot = &mut self.by_fd[fd as usize];
        if slot.as_ref().is_some_and(|r| r.buffering) {
            self.buffering.retain(|&f| f != fd);
        }
        *slot = reg;
    }
}

enum Backend {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(OwnedFd),
    Poll,
}

pub struct Poller {
    backend: Backend,
    waker: Waker,
    /// A caller asked for a wake that no wait has reported yet.
    woken: AtomicBool,
    destroyed: AtomicBool,
    /// Report events of sockets closed while still in use (a ring's
    /// emulation holds them: it must see their hang-up to end its
    /// operations).
    report_closed: bool,
    regs: Mutex<Regs>,
    /// `Regs::buffering.len()`, read without the lock: a wait looks for buffered
    /// bytes only when it is above 0.
    buffering_regs: AtomicUsize,
}

/// The pollers a socket is registered with. Each socket has one; the
/// socket calls `socket_closing` before its fd is closed.
pub(crate) struct Watchers(Mutex<Vec<Weak<Poller>>>);

impl Watchers {
    pub(crate) const fn new() -> Watchers {
        Watchers(Mutex::new(Vec::new()))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Poller>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, p: &Arc<Poller>) {
        let mut list = self.lock();
        list.retain(|w| w.strong_count() > 0);
        if !list
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(p)))
        {
            list.push(Arc::downgrade(p));
        }
    }

    fn remove(&self, p: &Arc<Poller>) {
        self.lock()
            .retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(p)));
    }

    /// The socket `sock_id` with `fd` became a TLS stream: its pollers look
    /// for the bytes rustls decrypted, which the kernel cannot see.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_wrapped(&self, fd: RawFd, sock_id: usize) {
        self.buffering(fd, sock_id);
    }

    /// The socket `sock_id` with `fd` may now hold bytes the kernel cannot
    /// see (TLS, or its first readline): its pollers look at it each wait.
    pub(crate) fn buffering(&self, fd: RawFd, sock_id: usize) {
        // Told outside the list's lock: a poller's add takes its own lock
        // first, then this one.
        let list: Vec<Arc<Poller>> = self.lock().iter().filter_map(Weak::upgrade).collect();
        for p in list {
            p.buffering(fd, sock_id);
        }
    }

    /// Whether no poller watches the socket: the closing socket's only
    /// look at its list (a poisoned list counts as watched, for
    /// `socket_closing` to deal with).
    #[inline]
    pub(crate) fn is_empty(&mut self) -> bool {
        self.0.get_mut().is_ok_and(|list| list.is_empty())
    }

    /// No poller ever added itself: the list never allocated, so dropping
    /// it frees nothing (false as well when its lock was poisoned).
    #[inline]
    pub(crate) fn never_used(&mut self) -> bool {
        self.0.get_mut().is_ok_and(|list| list.capacity() == 0)
    }

    /// The socket `sock_id` with `fd` is going away: every poller forgets
    /// it while its fd is still open.
    pub(crate) fn socket_closing(&mut self, fd: RawFd, sock_id: usize) {
        // Called from Drop, which has the socket to itself: no lock needed.
        let list = self.0.get_mut().unwrap_or_else(|p| p.into_inner());
        if list.is_empty() {
            return;
        }
        let list = std::mem::take(list);
        for w in list {
            if let Some(p) = w.upgrade() {
                p.forget(fd, sock_id);
            }
        }
    }
}

impl Poller {
    /// A new poller with the platform's best backend.
    pub fn new() -> Result<Poller> {
        Poller::with_backend(cfg!(any(target_os = "linux", target_os = "android")))
    }

    /// `epoll` false selects the poll(2) fallback (tests use it on Linux).
    fn with_backend(epoll: bool) -> Result<Poller> {
        let waker = Waker::new()?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let backend = if epoll {
            Backend::Epoll(new_epoll(&waker)?)
        } else {
            Backend::Poll
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let backend = {
            let _ = epoll;
            Backend::Poll
        };
        Ok(Poller {
            backend,
            waker,
            woken: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
            report_closed: false,
            regs: Mutex::new(Regs::default()),
            buffering_regs: AtomicUsize::new(0),
        })
    }

    /// A poller that also reports sockets closed while in use (see
    /// `report_closed`), for the ring's epoll emulation.
    pub(crate) fn reporting_closed() -> Result<Poller> {
        Ok(Poller {
            report_closed: true,
            ..Poller::new()?
        })
    }

    /// The epoll fd, readable when a wait would report something.
    pub(crate) fn wait_fd(&self) -> Option<RawFd> {
        match &self.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Epoll(ep) => Some(ep.as_raw_fd()),
            Backend::Poll => None,
        }
    }

    fn lock_regs(&self) -> MutexGuard<'_, Regs> {
        // Every update of the registrations is completed before anything
        // that could panic, so a poisoned lock is still consistent.
        self.regs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_alive(&self, op: &str) -> Result<()> {
        if self.destroyed.load(Ordering::Acquire) {
            return fail!(
                libc::EBADF,
                "{op}: the poller was destroyed by another thread"
            );
        }
        Ok(())
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn epoll_ctl(
        &self,
        op: i32,
        fd: RawFd,
        events: u32,
        data: u64,
    ) -> std::result::Result<(), i32> {
        let Backend::Epoll(ep) = &self.backend else {
            return Ok(());
        };
        let mut ev = libc::epoll_event { events, u64: data };
        // SAFETY: ep and fd are open; ev is a valid epoll_event.
        if unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) } != 0 {
            return Err(errno::errno().0);
        }
        Ok(())
    }

    /// Tells a poll(2)-fallback wait in progress to rebuild its set.
    fn refresh(&self) {
        if matches!(self.backend, Backend::Poll) {
            self.waker.wake();
        }
    }

    /// Watches socket `h` for `events` (POLYSOCK_POLLIN/PRI/OUT) with
    /// `flags` (POLYSOCK_POLLER_EDGE, POLYSOCK_POLLER_ONESHOT) and reports
    /// `user` with its events.
    pub fn add(self: &Arc<Self>, h: Handle, events: i32, flags: u32, user: u64) -> Result<()> {
        let op = "poller_add";
        check_events(op, format_args!("handle {h}"), events)?;
        check_flags(op, flags)?;
        let sock = socket(op, h)?;
        let (fd, id) = (sock.fd(), sock.id());
        let mut regs = self.lock_regs();
        self.check_alive(op)?;
        if regs.get_mut(fd, id).is_some() {
            return fail!(
                libc::EEXIST,
                "{op}: handle {h} is already registered (change it with polysock_poller_modify)"
            );
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.epoll_ctl(libc::EPOLL_CTL_ADD, fd, epoll_bits(events, flags), h as u64)
            .map_err(|code| Error::new(code, format_args!("{op}: handle {h}: epoll_ctl")))?;
        let i = fd as usize;
        if regs.by_fd.len() <= i {
            regs.by_fd.resize_with(i + 1, || None);
        }
        // A registration of another socket at this fd is left only when
        // that socket's fd was detached or closed behind polysock's back
        // while a call still held it: the number is not its own any more,
        // so its entry is replaced (its own drop then finds nothing).
        // Otherwise a socket removes its entry before its fd closes.
        regs.set(
            fd,
            Some(Reg {
                handle: h,
                sock_id: id,
                events,
                flags,
                user,
                armed: true,
                buffering: false,
            }),
        );
        sock.watchers.add(self);
        // After joining the watchers: a wrap or first readline from now on
        // tells this poller itself (`buffering`), one before is seen here.
        if sock.tls().is_some() || sock.reader.started() {
            self.mark_buffering(&mut regs, fd, id);
        }
        self.count_buffering(&regs);
        drop(regs);
        self.refresh();
        Ok(())
    }

    /// Changes a registration's events, flags and user value; re-arms a
    /// one-shot registration.
    pub fn modify(&self, h: Handle, events: i32, flags: u32, user: u64) -> Result<()> {
        let op = "poller_modify";
        check_events(op, format_args!("handle {h}"), events)?;
        check_flags(op, flags)?;
        let sock = socket(op, h)?;
        let (fd, id) = (sock.fd(), sock.id());
        let mut regs = self.lock_regs();
        self.check_alive(op)?;
        let Some(reg) = regs.get_mut(fd, id) else {
            return not_registered(op, h);
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.epoll_ctl(libc::EPOLL_CTL_MOD, fd, epoll_bits(events, flags), h as u64)
            .map_err(|code| Error::new(code, format_args!("{op}: handle {h}: epoll_ctl")))?;
        reg.events = events;
        reg.flags = flags;
        reg.user = user;
        reg.armed = true;
        drop(regs);
        self.refresh();
        Ok(())
    }

    /// Stops watching socket `h`.
    pub fn remove(self: &Arc<Self>, h: Handle) -> Result<()> {
        let op = "poller_remove";
        let sock = socket(op, h)?;
        let (fd, id) = (sock.fd(), sock.id());
        let mut regs = self.lock_regs();
        self.check_alive(op)?;
        if regs.get_mut(fd, id).is_none() {
            return not_registered(op, h);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        self.epoll_ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
            .map_err(|code| Error::new(code, format_args!("{op}: handle {h}: epoll_ctl")))?;
        regs.set(fd, None);
        self.count_buffering(&regs);
        sock.watchers.remove(self);
        Ok(())
    }

    /// A socket is going away (its fd is still open): drop its registration.
    fn forget(&self, fd: RawFd, sock_id: usize) {
        let mut regs = self.lock_regs();
        if regs.get_mut(fd, sock_id).is_some() {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let _ = self.epoll_ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
            regs.set(fd, None);
            self.count_buffering(&regs);
        }
    }

    /// The socket `sock_id` at `fd` may now buffer bytes (TLS, readline).
    fn buffering(&self, fd: RawFd, sock_id: usize) {
        let mut regs = self.lock_regs();
        self.mark_buffering(&mut regs, fd, sock_id);
        self.count_buffering(&regs);
    }

    fn mark_buffering(&self, regs: &mut Regs, fd: RawFd, sock_id: usize) {
        if let Some(r) = regs.get_mut(fd, sock_id).filter(|r| !r.buffering) {
            r.buffering = true;
            regs.buffering.push(fd);
        }
    }

    fn count_buffering(&self, regs: &Regs) {
        self.buffering_regs
            .store(regs.buffering.len(), Ordering::Release);
    }

    /// Keeps the entries whose handle is still open, compacted at the
    /// front, and returns how many remain. A socket closed while another
    /// thread still uses it stays open (and hung up) until that call
    /// returns: its registration is dropped here at once, so that it
    /// neither shows nor keeps waking the poller. All of `out` is
    /// initialised.
    fn retain_open(&self, out: &mut [MaybeUninit<PollerEvent>]) -> usize {
        let mut k = 0;
        for i in 0..out.len() {
            // SAFETY: the caller passes initialised entries only.
            let ev = unsafe { out[i].assume_init() };
            if self.report_closed || handles::get(ev.handle).is_ok() {
                out[k] = MaybeUninit::new(ev);
                k += 1;
                continue;
            }
            let fd = (ev.handle & 0xffff_ffff) as RawFd;
            let mut regs = self.lock_regs();
            let here = regs.by_fd.get(fd as usize).and_then(Option::as_ref);
            if here.is_some_and(|r| r.handle == ev.handle) {
                // The registration is there, so the socket has not
                // reached its drop: the fd is still its own.
                #[cfg(any(target_os = "linux", target_os = "android"))]
                let _ = self.epoll_ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
                regs.set(fd, None);
                self.count_buffering(&regs);
            }
        }
        k
    }

    /// Makes one wait (in progress, or the next) return with a
    /// POLYSOCK_POLLER_WAKE entry. Any thread may call it.
    pub fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Marks the poller destroyed and wakes its waits, which then fail with
    /// EBADF.
    fn shut(&self) {
        self.destroyed.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Waits until a registered socket is ready, a wake arrives, or
    /// `timeout_ms` passes (-1 forever, 0 just look). Fills `out` from the
    /// start (at most POLYSOCK_POLLER_MAX_BATCH entries) and returns how
    /// many; 0 only on timeout. Never allocates with the epoll backend.
    pub fn wait(&self, out: &mut [MaybeUninit<PollerEvent>], timeout_ms: i64) -> Result<usize> {
        let op = "poller_wait";
        check_timeout(op, timeout_ms)?;
        if out.is_empty() {
            return fail!(libc::EINVAL, "{op}: maxevents is 0");
        }
        let max = out.len().min(MAX_BATCH);
        let out = &mut out[..max];
        let deadline = Deadline::after_ms(timeout_ms);
        // Sockets with buffered bytes are ready now; the kernel is
        // only asked what else is, without waiting.
        let ready = match self.buffering_regs.load(Ordering::Acquire) {
            0 => 0,
            _ => self.buffered_ready(out),
        };
        loop {
            self.check_alive(op)?;
            if ready == max {
                return Ok(ready);
            }
            let ms = if ready > 0 {
                0
            } else {
                deadline.remaining_ms()
            };
            let rest = &mut out[ready..];
            let got = match &self.backend {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Backend::Epoll(ep) => self.wait_epoll(ep.as_raw_fd(), rest, ms)?,
                Backend::Poll => self.wait_poll(rest, ms)?,
            };
            let Some((n, woke)) = got else {
                // EINTR: again, with the time that remains (or as the hook says)
                super::interrupt::check(op)?;
                continue;
            };
            self.check_alive(op)?;
            let n = merge(out, ready, n);
            let mut k = self.retain_open(&mut out[..n]);
            if woke {
                self.waker.drain();
                // Room is left: the wake fd took one of the `max` slots.
                if self.woken.swap(false, Ordering::AcqRel) {
                    out[k] = MaybeUninit::new(PollerEvent {
                        handle: POLYSOCK_POLLER_WAKE,
                        events: POLYSOCK_POLLIN,
                        reserved: 0,
                        user: 0,
                    });
                    k += 1;
                }
            }
            if k > 0 || ms == 0 || deadline.remaining_ms() == 0 {
                return Ok(k);
            }
        }
    }

    /// Writes to `out` an entry for each listed registration whose socket
    /// holds decrypted bytes or bytes a readline buffered, which the kernel
    /// cannot see: level-triggered ones registered for POLYSOCK_POLLIN and
    /// armed. Edge-triggered ones get none (their users read until EAGAIN,
    /// which a receive gives only once nothing is buffered, a readline once
    /// no whole line is); a one-shot one is disarmed by the report.
    /// Returns how many.
    fn buffered_ready(&self, out: &mut [MaybeUninit<PollerEvent>]) -> usize {
        let mut handles = {
            let mut regs = self.lock_regs();
            let mut hs = std::mem::take(&mut regs.buffering_scratch);
            hs.clear();
            for &fd in &regs.buffering {
                if let Some(Some(r)) = regs.by_fd.get(fd as usize) {
                    if r.events & POLYSOCK_POLLIN != 0
                        && r.flags & POLYSOCK_POLLER_EDGE == 0
                        && r.armed
                    {
                        hs.push(r.handle);
                    }
                }
            }
            hs
        };
        // Outside the lock: the last reference to a socket closes it, and
        // closing takes the lock (`forget`).
        handles.retain(|&h| handles::get(h).is_ok_and(|s| s.buffered_readable()));
        let mut k = 0;
        let mut regs = self.lock_regs();
        for &h in &handles {
            if k == out.len() {
                break;
            }
            let fd = (h & 0xffff_ffff) as usize;
            let Some(Some(r)) = regs.by_fd.get_mut(fd) else {
                continue;
            };
            if r.handle != h || !r.armed {
                continue;
            }
            if r.flags & POLYSOCK_POLLER_ONESHOT != 0 {
                r.armed = false;
            }
            out[k] = MaybeUninit::new(PollerEvent {
                handle: h,
                events: POLYSOCK_POLLIN,
                reserved: 0,
                user: r.user,
            });
            k += 1;
        }
        regs.buffering_scratch = handles;
        k
    }

    /// One epoll_wait. None after EINTR; else the socket entries written to
    /// `out` and whether the wake fd was ready.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn wait_epoll(
        &self,
        ep: RawFd,
        out: &mut [MaybeUninit<PollerEvent>],
        ms: i32,
    ) -> Result<Option<(usize, bool)>> {
        let mut buf = [const { std::mem::MaybeUninit::<libc::epoll_event>::uninit() }; MAX_BATCH];
        // SAFETY: buf has room for out.len() <= MAX_BATCH events.
        let n = unsafe { libc::epoll_wait(ep, buf.as_mut_ptr().cast(), out.len() as i32, ms) };
        if n < 0 {
            let code = errno::errno().0;
            if code == libc::EINTR {
                return Ok(None);
            }
            return fail!(code, "poller_wait: epoll_wait");
        }
        let (mut k, mut woke) = (0, false);
        let mut regs = self.lock_regs();
        for ev in &buf[..n as usize] {
            // SAFETY: epoll_wait initialised the first n events.
            let ev = unsafe { ev.assume_init_read() };
            let (bits, data) = (ev.events, ev.u64);
            if data == WAKE_TOKEN {
                woke = true;
                continue;
            }
            let h = data as i64;
            let fd = (h & 0xffff_ffff) as usize;
            if let Some(Some(r)) = regs.by_fd.get_mut(fd) {
                if r.handle == h {
                    if r.flags & POLYSOCK_POLLER_ONESHOT != 0 {
                        if !r.armed {
                            // Reported already for its buffered bytes
                            // (see `buffered_ready`).
                            continue;
                        }
                        r.armed = false;
                    }
                    out[k] = MaybeUninit::new(PollerEvent {
                        handle: h,
                        events: from_epoll(bits) & (r.events | ALWAYS),
                        reserved: 0,
                        user: r.user,
                    });
                    k += 1;
                }
            }
        }
        Ok(Some((k, woke)))
    }

    /// One poll(2) over every armed registration (the fallback backend).
    fn wait_poll(
        &self,
        out: &mut [MaybeUninit<PollerEvent>],
        ms: i32,
    ) -> Result<Option<(usize, bool)>> {
        let (mut fds, hs) = {
            let mut regs = self.lock_regs();
            let mut fds = std::mem::take(&mut regs.scratch);
            let mut hs = std::mem::take(&mut regs.scratch_handles);
            fds.clear();
            hs.clear();
            fds.push(libc::pollfd {
                fd: self.waker.read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            hs.push(POLYSOCK_POLLER_WAKE);
            for (fd, r) in regs.by_fd.iter().enumerate() {
                if let Some(r) = r.as_ref().filter(|r| r.armed) {
                    fds.push(libc::pollfd {
                        fd: fd as RawFd,
                        events: to_os(r.events),
                        revents: 0,
                    });
                    hs.push(r.handle);
                }
            }
            (fds, hs)
        };
        // SAFETY: fds is a valid array of fds.len() pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        let code = errno::errno().0;
        let mut regs = self.lock_regs();
        let result = if n < 0 {
            if code == libc::EINTR {
                Ok(None)
            } else {
                fail!(code, "poller_wait: poll")
            }
        } else {
            let woke = fds[0].revents != 0;
            let room = out.len() - usize::from(woke);
            let mut k = 0;
            for (p, &h) in fds.iter().zip(&hs).skip(1) {
                if k == room {
                    break;
                }
                if p.revents == 0 {
                    continue;
                }
                let Some(Some(r)) = regs.by_fd.get_mut(p.fd as usize) else {
                    continue;
                };
                if r.handle != h || !r.armed {
                    continue;
                }
                let events = from_os(p.revents) & (r.events | ALWAYS);
                if events == 0 {
                    continue;
                }
                if r.flags & POLYSOCK_POLLER_ONESHOT != 0 {
                    r.armed = false;
                }
                out[k] = MaybeUninit::new(PollerEvent {
                    handle: h,
                    events,
                    reserved: 0,
                    user: r.user,
                });
                k += 1;
            }
            Ok(Some((k, woke)))
        };
        if regs.scratch.capacity() < fds.capacity() {
            regs.scratch = fds;
            regs.scratch_handles = hs;
        }
        result
    }
}

/// Folds the `n` entries the kernel reported after the first `ready`
/// (sockets with buffered bytes) into those of the same socket;
/// returns how many entries remain.
fn merge(out: &mut [MaybeUninit<PollerEvent>], ready: usize, n: usize) -> usize {
    if ready == 0 {
        return n;
    }
    let mut k = ready;
    for i in ready..ready + n {
        // SAFETY: the first ready + n entries are initialised.
        let ev = unsafe { out[i].assume_init() };
        // SAFETY: as above.
        match out[..ready]
            .iter_mut()
            .find(|e| unsafe { e.assume_init_ref() }.handle == ev.handle)
        {
            // SAFETY: as above.
            Some(e) => unsafe { e.assume_init_mut() }.events |= ev.events,
            None => {
                out[k] = MaybeUninit::new(ev);
                k += 1;
            }
        }
    }
    k
}

fn socket(op: &str, h: Handle) -> Result<SocketRef> {
    handles::get(h).map_err(|e| Error::new(e.code(), format_args!("{op}: {}", e.context())))
}

fn not_registered<T>(op: &str, h: Handle) -> Result<T> {
    fail!(
        libc::ENOENT,
        "{op}: handle {h} is not registered with this poller"
    )
}

fn check_flags(op: &str, flags: u32) -> Result<()> {
    if flags & !ALL_FLAGS != 0 {
        return fail!(
            libc::EINVAL,
            "{op}: unknown flags 0x{:x} (POLYSOCK_POLLER_EDGE and POLYSOCK_POLLER_ONESHOT are defined)",
            flags & !ALL_FLAGS
        );
    }
    Ok(())
}

/// An epoll instance (close-on-exec) watching the wake fd.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn new_epoll(waker: &Waker) -> Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(Error::last_os(format_args!("poller_create: epoll_create1")));
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let ep = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: WAKE_TOKEN,
    };
    // SAFETY: both fds are open; ev is a valid epoll_event.
    let rc = unsafe { libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, waker.read.as_raw_fd(), &mut ev) };
    if rc != 0 {
        return Err(Error::last_os(format_args!("poller_create: epoll_ctl")));
    }
    Ok(ep)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn epoll_bits(events: i32, flags: u32) -> u32 {
    let mut e = 0;
    if events & super::poll::POLYSOCK_POLLIN != 0 {
        e |= libc::EPOLLIN as u32;
    }
    if events & super::poll::POLYSOCK_POLLPRI != 0 {
        e |= libc::EPOLLPRI as u32;
    }
    if events & super::poll::POLYSOCK_POLLOUT != 0 {
        e |= libc::EPOLLOUT as u32;
    }
    if flags & POLYSOCK_POLLER_EDGE != 0 {
        e |= libc::EPOLLET as u32;
    }
    if flags & POLYSOCK_POLLER_ONESHOT != 0 {
        e |= libc::EPOLLONESHOT as u32;
    }
    e
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn from_epoll(bits: u32) -> i32 {
    use super::poll::*;
    let mut ev = 0;
    for (os, ours) in [
        (libc::EPOLLIN, POLYSOCK_POLLIN),
        (libc::EPOLLPRI, POLYSOCK_POLLPRI),
        (libc::EPOLLOUT, POLYSOCK_POLLOUT),
        (libc::EPOLLERR, POLYSOCK_POLLERR),
        (libc::EPOLLHUP, POLYSOCK_POLLHUP),
    ] {
        if bits & os as u32 != 0 {
            ev |= ours;
        }
    }
    ev
}

/// The wake-up channel: an eventfd on Linux, a pipe elsewhere; both ends
/// close-on-exec and non-blocking.
struct Waker {
    read: OwnedFd,
    /// The pipe's write end (None for an eventfd: one fd does both).
    write: Option<OwnedFd>,
}

impl Waker {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn new() -> Result<Waker> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Error::last_os(format_args!("poller_create: eventfd")));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let read = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Waker { read, write: None })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn new() -> Result<Waker> {
        let mut fds = [0; 2];
        #[cfg(target_vendor = "apple")]
        // SAFETY: fds has room for two descriptors.
        let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
        #[cfg(not(target_vendor = "apple"))]
        // SAFETY: fds has room for two descriptors.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if rc != 0 {
            return Err(Error::last_os(format_args!("poller_create: pipe")));
        }
        // SAFETY: two new descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        #[cfg(target_vendor = "apple")]
        for fd in fds {
            // SAFETY: fcntl on our own open fds.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
            }
        }
        Ok(Waker {
            read,
            write: Some(write),
        })
    }

    fn wake(&self) {
        let fd = self.write.as_ref().unwrap_or(&self.read).as_raw_fd();
        let one: u64 = 1;
        loop {
            // SAFETY: one is 8 readable bytes. A full pipe or counter
            // (EAGAIN) already holds a wake.
            let n = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
            if n >= 0 || errno::errno().0 != libc::EINTR {
                break;
            }
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: buf is 64 writable bytes.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 && (n == 0 || errno::errno().0 != libc::EINTR) {
                break;
            }
        }
    }
}

// The table of pollers: an id is `generation << 32 | 1 << 31 | index`. The
// bit 31 keeps poller ids and socket handles apart (a socket handle's low 32
// bits are an fd, below 2^31): a poller id given to a socket call, or a
// socket handle given to a poller call, is EBADF. As with sockets, a
// destroyed id never reaches another poller: the generation differs.

/// A poller as the C ABI sees it.
pub type PollerId = i64;

const MAX_POLLERS: usize = 4096;
const ID_TAG: i64 = 1 << 31;
const GEN_MAX: u32 = (1 << 21) - 1;

struct PSlot {
    generation: u32,
    poller: Option<Arc<Poller>>,
}

static POLLERS: [Mutex<PSlot>; MAX_POLLERS] = [const {
    Mutex::new(PSlot {
        generation: 0,
        poller: None,
    })
}; MAX_POLLERS];

fn pslot(i: usize) -> MutexGuard<'static, PSlot> {
    POLLERS[i].lock().unwrap_or_else(|p| p.into_inner())
}

fn split(id: PollerId) -> Option<(usize, u32)> {
    if !(0..1 << 53).contains(&id) || id & ID_TAG == 0 {
        return None;
    }
    let index = (id & (ID_TAG - 1)) as usize;
    let generation = (id >> 32) as u32;
    (index < MAX_POLLERS && generation != 0).then_some((index, generation))
}

/// Creates a poller and issues its id.
pub fn create() -> Result<PollerId> {
    let p = Arc::new(Poller::new()?);
    for i in 0..MAX_POLLERS {
        let mut s = pslot(i);
        if s.poller.is_none() {
            s.generation = if s.generation >= GEN_MAX {
                1
            } else {
                s.generation + 1
            };
            s.poller = Some(p);
            return Ok((i64::from(s.generation) << 32) | ID_TAG | i as i64);
        }
    }
    fail!(
        libc::EMFILE,
        "poller_create: {MAX_POLLERS} pollers are open already"
    )
}

/// The poller behind a live id, or EBADF.
pub fn get(op: &str, id: PollerId) -> Result<Arc<Poller>> {
    if let Some((i, generation)) = split(id) {
        let s = pslot(i);
        if s.generation == generation {
            if let Some(p) = &s.poller {
                return Ok(Arc::clone(p));
            }
        }
    }
    fail!(
        libc::EBADF,
        "{op}: {id} is not an open poller (destroyed, or never created)"
    )
}

/// Destroys a poller: its registrations end, and waits in progress wake
/// with EBADF. A destroyed or unknown id is harmless: false.
pub fn destroy(id: PollerId) -> bool {
    let Some((i, generation)) = split(id) else {
        return false;
    };
    let taken = {
        let mut s = pslot(i);
        if s.generation != generation {
            return false;
        }
        s.poller.take()
    };
    match taken {
        Some(p) => {
            p.shut();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::poll::{POLYSOCK_POLLHUP, POLYSOCK_POLLOUT};
    use crate::core::socket::Socket;

    fn pair() -> (Handle, Handle) {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        (handles::insert(a).unwrap(), handles::insert(b).unwrap())
    }

    fn send(h: Handle, data: &[u8]) {
        handles::get(h).unwrap().send(data, 0).unwrap();
    }

    fn code<T>(r: Result<T>) -> i32 {
        r.err().map_or(0, |e| e.code())
    }

    fn backends() -> Vec<Arc<Poller>> {
        let mut v = vec![Arc::new(Poller::with_backend(false).unwrap())];
        if cfg!(any(target_os = "linux", target_os = "android")) {
            v.push(Arc::new(Poller::with_backend(true).unwrap()));
        }
        v
    }

    fn wait(p: &Poller, ms: i64) -> Vec<PollerEvent> {
        let mut out = [MaybeUninit::uninit(); 8];
        let n = p.wait(&mut out, ms).unwrap();
        // SAFETY: wait initialised the first n entries.
        out[..n]
            .iter()
            .map(|e| unsafe { e.assume_init() })
            .collect()
    }

    /// A TLS session over a socket pair (client a, server b), handshake
    /// done, a 10 s timeout on both.
    #[cfg(feature = "tls")]
    fn tls_pair() -> (Handle, Handle) {
        use crate::core::tls::{POLYSOCK_TLS_CLIENT, POLYSOCK_TLS_SERVER, TlsConfig, Verify};
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let server = TlsConfig::new(POLYSOCK_TLS_SERVER).unwrap();
        let chain = cert.cert.pem();
        let key = cert.signing_key.serialize_pem();
        let (chain, key) = (("chain", chain.as_bytes()), ("key", key.as_bytes()));
        server.set_identity("test", chain, key).unwrap();
        let client = TlsConfig::new(POLYSOCK_TLS_CLIENT).unwrap();
        client.set_verify("test", Verify::Nothing).unwrap();
        let (a, b) = pair();
        let (sa, sb) = (handles::get(a).unwrap(), handles::get(b).unwrap());
        sa.set_timeout(10_000).unwrap();
        sb.set_timeout(10_000).unwrap();
        sa.tls_wrap(&client, Some("localhost")).unwrap();
        sb.tls_wrap_server(&server).unwrap();
        drop(sb);
        std::thread::scope(|t| {
            t.spawn(|| handles::get(b).unwrap().tls_handshake().unwrap());
            sa.tls_handshake().unwrap();
        });
        (a, b)
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_bytes_rustls_holds_are_ready_on_both_backends() {
        for p in backends() {
            let (a, b) = tls_pair();
            p.add(b, POLYSOCK_POLLIN, 0, 1).unwrap();
            send(a, b"hello");
            assert_eq!(wait(&p, 5000).len(), 1);
            let mut buf = [MaybeUninit::uninit(); 2];
            let sb = handles::get(b).unwrap();
            assert_eq!(sb.recv(&mut buf, 0).unwrap(), 2);
            // The kernel holds nothing now, rustls 3 bytes.
            let ev = wait(&p, 5000);
            assert_eq!(
                (ev.len(), ev[0].handle, ev[0].events),
                (1, b, POLYSOCK_POLLIN)
            );
            p.modify(b, POLYSOCK_POLLIN, POLYSOCK_POLLER_ONESHOT, 2)
                .unwrap();
            assert_eq!(wait(&p, 0).len(), 1);
            assert!(wait(&p, 0).is_empty());
            p.modify(b, POLYSOCK_POLLIN, 0, 3).unwrap();
            let mut rest = [MaybeUninit::uninit(); 8];
            assert_eq!(sb.recv(&mut rest, 0).unwrap(), 3);
            assert!(wait(&p, 0).is_empty());
            drop(sb);
            assert!(handles::close(a) && handles::close(b));
            assert!(p.lock_regs().buffering.is_empty());
        }
    }

    /// Reads one line of `h` into a buffer of 64 (timeout 0).
    fn line(h: Handle) -> Result<usize> {
        let mut buf = [MaybeUninit::uninit(); 64];
        handles::get(h)
            .unwrap()
            .read_until("readline", b"\n", &mut buf)
    }

    #[test]
    fn lines_a_readline_buffered_are_ready_on_both_backends() {
        for p in backends() {
            for flags in [0, POLYSOCK_POLLER_ONESHOT, POLYSOCK_POLLER_EDGE] {
                let (a, b) = pair();
                handles::get(b).unwrap().set_timeout(0).unwrap();
                // Registered before the first readline: the readline tells
                // the poller; a socket added after one is listed by add.
                let late = flags == POLYSOCK_POLLER_EDGE;
                if !late {
                    p.add(b, POLYSOCK_POLLIN, flags, 7).unwrap();
                }
                send(a, b"one\ntwo\nthr");
                assert_eq!(line(b).unwrap(), 4);
                if late {
                    p.add(b, POLYSOCK_POLLIN, flags, 7).unwrap();
                }
                // The kernel has nothing now; the reader "two\nthr".
                let ev = wait(&p, 0);
                match flags {
                    POLYSOCK_POLLER_EDGE => assert!(ev.is_empty(), "{ev:?}"),
                    _ => assert_eq!(
                        ev,
                        [PollerEvent {
                            handle: b,
                            events: POLYSOCK_POLLIN,
                            reserved: 0,
                            user: 7
                        }]
                    ),
                }
                let again = wait(&p, 0).len();
                assert_eq!(again, usize::from(flags == 0), "flags {flags}");
                assert_eq!(line(b).unwrap(), 4);
                // "thr" is part of a line: readline finds it wanting, and
                // from then on the socket waits for the kernel.
                p.modify(b, POLYSOCK_POLLIN, flags, 7).unwrap();
                assert_eq!(
                    wait(&p, 0).len(),
                    usize::from(flags != POLYSOCK_POLLER_EDGE)
                );
                assert_eq!(code(line(b)), libc::EAGAIN);
                assert!(wait(&p, 0).is_empty());
                p.modify(b, POLYSOCK_POLLIN, flags, 7).unwrap();
                send(a, b"ee\n");
                assert_eq!(wait(&p, 5000).len(), 1);
                assert_eq!(line(b).unwrap(), 6);
                assert!(wait(&p, 0).is_empty());
                assert!(handles::close(a) && handles::close(b));
                assert!(p.lock_regs().buffering.is_empty());
            }
        }
    }

    #[test]
    fn level_oneshot_and_wake_on_both_backends() {
        for p in backends() {
            let (a, b) = pair();
            p.add(a, POLYSOCK_POLLIN, 0, 42).unwrap();
            assert!(wait(&p, 0).is_empty());
            send(b, b"x");
            let ev = wait(&p, 1000);
            assert_eq!(ev.len(), 1);
            assert_eq!(
                (ev[0].handle, ev[0].events, ev[0].user),
                (a, POLYSOCK_POLLIN, 42)
            );
            // Level-triggered: still readable, still reported.
            assert_eq!(wait(&p, 0).len(), 1);
            p.modify(
                a,
                POLYSOCK_POLLIN | POLYSOCK_POLLOUT,
                POLYSOCK_POLLER_ONESHOT,
                7,
            )
            .unwrap();
            let ev = wait(&p, 1000);
            assert_eq!(ev.len(), 1);
            assert_eq!(ev[0].events, POLYSOCK_POLLIN | POLYSOCK_POLLOUT);
            assert_eq!(ev[0].user, 7);
            assert!(wait(&p, 0).is_empty(), "one-shot fired twice");
            p.wake();
            p.wake();
            let ev = wait(&p, 1000);
            assert_eq!(
                ev,
                [PollerEvent {
                    handle: POLYSOCK_POLLER_WAKE,
                    events: POLYSOCK_POLLIN,
                    reserved: 0,
                    user: 0
                }]
            );
            assert!(wait(&p, 0).is_empty(), "wakes coalesce");
            p.remove(a).unwrap();
            assert_eq!(code(p.remove(a)), libc::ENOENT);
            p.add(a, POLYSOCK_POLLIN, 0, 1).unwrap();
            assert_eq!(code(p.add(a, POLYSOCK_POLLIN, 0, 1)), libc::EEXIST);
            // Closing a registered socket removes it; the fd's next owner
            // is never reported under the old handle.
            handles::close(a);
            let (c, d) = pair();
            send(d, b"y");
            assert!(wait(&p, 0).is_empty());
            assert!(p.lock_regs().by_fd.iter().all(Option::is_none));
            handles::close(b);
            assert!(wait(&p, 0).is_empty());
            handles::close(c);
            handles::close(d);
        }
    }

    #[test]
    fn a_wait_in_progress_sees_new_registrations() {
        for p in backends() {
            let (a, b) = pair();
            send(b, b"x");
            let waiter = {
                let p = Arc::clone(&p);
                std::thread::spawn(move || wait(&p, 5000))
            };
            std::thread::sleep(std::time::Duration::from_millis(50));
            p.add(a, POLYSOCK_POLLIN, 0, 3).unwrap();
            let ev = waiter.join().unwrap();
            assert_eq!(ev.len(), 1);
            assert_eq!((ev[0].handle, ev[0].user), (a, 3));
            handles::close(a);
            handles::close(b);
        }
    }

    #[test]
    fn hangup_is_reported_without_asking() {
        for p in backends() {
            let (a, b) = pair();
            p.add(a, 0, 0, 0).unwrap();
            handles::close(b);
            let ev = wait(&p, 1000);
            assert_eq!(ev.len(), 1);
            assert_eq!(ev[0].events & POLYSOCK_POLLHUP, POLYSOCK_POLLHUP);
            handles::close(a);
        }
    }

    #[test]
    fn ids_are_checked() {
        let id = create().unwrap();
        assert!(get("t", id).is_ok());
        assert!(destroy(id));
        assert!(!destroy(id));
        assert_eq!(code(get("t", id)), libc::EBADF);
        let (a, b) = pair();
        assert_eq!(code(get("t", a)), libc::EBADF);
        assert_eq!(code(handles::get(id)), libc::EBADF);
        handles::close(a);
        handles::close(b);
    }
}
