//! The ring over the epoll poller, where io_uring is missing or refused:
//! each socket with operations is watched edge-triggered; its operations
//! wait in two lists (reads, writes) and run, in order, as system calls
//! done in user space when a reap finds the socket ready. What it knows of
//! readiness starts optimistic (so an operation on a ready socket costs no
//! wait) and is cleared by EAGAIN. Completions are made only inside a reap,
//! as many as its array holds, so nothing queues up in between.

use super::ops::{Kind, List, NIL};
use super::{Book, Completion, POLYSOCK_RING_BUFFER, POLYSOCK_RING_MORE, neg, write_msg_out};
use crate::core::error::{Error, Result};
use crate::core::handles;
use crate::core::io::NOSIGNAL;
use crate::core::poll::{POLYSOCK_POLLERR, POLYSOCK_POLLHUP, POLYSOCK_POLLIN, POLYSOCK_POLLOUT};
use crate::core::poller::{POLYSOCK_POLLER_EDGE, Poller, PollerEvent};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

/// Poller events one wait takes.
pub(crate) const BATCH: usize = 256;

pub(crate) struct Emulated {
    poller: Arc<Poller>,
    /// Sockets with operations that may be able to run now.
    ready: VecDeque<RawFd>,
    /// Timeouts: deadline, slot, generation.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Threads waiting in reap (a submit from another thread wakes them).
    waiters: usize,
    /// polysock_ring_fd's fd, made on first request.
    vm: Option<VmFd>,
}

/// What a runtime's loop waits on: an epoll set holding the poller's epoll
/// fd and a timerfd set to the first timeout.
struct VmFd {
    epoll: OwnedFd,
    timer: OwnedFd,
}

/// What one attempt of an operation came to.
enum Outcome {
    /// Ended with this result.
    Done(i64),
    /// Goes on (a multishot): report this completion.
    More(Completion),
    /// The socket is not ready.
    Again,
}

fn last_errno() -> i32 {
    errno::errno().0
}

impl Emulated {
    pub(crate) fn new(entries: u32) -> Result<Emulated> {
        Ok(Emulated {
            poller: Arc::new(Poller::reporting_closed()?),
            ready: VecDeque::with_capacity(entries as usize),
            timers: BinaryHeap::with_capacity(entries as usize),
            waiters: 0,
            vm: None,
        })
    }

    pub(crate) fn poller(&self) -> Arc<Poller> {
        Arc::clone(&self.poller)
    }

    pub(crate) fn start(&mut self, b: &mut Book, i: u32) -> Result<()> {
        let o = b.ops.get(i);
        match &o.kind {
            Kind::Timeout { deadline, .. } => {
                let first = self
                    .timers
                    .peek()
                    .is_none_or(|Reverse((t, ..))| deadline < t);
                self.timers.push(Reverse((*deadline, i, o.generation)));
                if first {
                    self.arm_timer()?;
                }
                return Ok(());
            }
            Kind::Close | Kind::Cancel | Kind::Free => return Ok(()),
            _ => {}
        }
        let (fd, reads) = (o.fd, o.kind.reads());
        let e = b.fds.at(fd).expect("State::start made the entry");
        if !e.registered {
            let h = handles::handle_of_fd(fd)?;
            match self.poller.add(
                h,
                POLYSOCK_POLLIN | POLYSOCK_POLLOUT,
                POLYSOCK_POLLER_EDGE,
                0,
            ) {
                Ok(()) => {}
                Err(err) if err.code() == libc::EEXIST => {}
                Err(err) => return Err(err),
            }
            e.registered = true;
        }
        let mut list = if reads { e.readers } else { e.writers };
        list.push(&mut b.ops, i);
        let e = b.fds.at(fd).expect("made above");
        let ready = if reads {
            e.readers = list;
            e.readable
        } else {
            e.writers = list;
            e.writable
        };
        if ready && !e.queued {
            e.queued = true;
            self.ready.push_back(fd);
        }
        Ok(())
    }

    /// Stops operation `i` if it is waiting (it then ends with ECANCELED).
    pub(crate) fn cancel(&mut self, b: &mut Book, i: u32) {
        let o = b.ops.get(i);
        match &o.kind {
            Kind::Timeout { .. } => {
                let g = o.generation;
                self.timers
                    .retain(|Reverse((_, j, jg))| (*j, *jg) != (i, g));
            }
            Kind::Close | Kind::Cancel | Kind::Free => return,
            _ => {
                let (fd, reads) = (o.fd, o.kind.reads());
                let Some(e) = b.fds.at(fd) else { return };
                let mut list = if reads { e.readers } else { e.writers };
                if !list.remove(&mut b.ops, i) {
                    return;
                }
                let e = b.fds.at(fd).expect("found above");
                if reads {
                    e.readers = list;
                } else {
                    e.writers = list;
                }
            }
        }
        b.finish(i, neg(libc::ECANCELED));
    }

    /// Stops every operation waiting on `fd`.
    pub(crate) fn cancel_fd(&mut self, b: &mut Book, fd: RawFd) {
        let Some(e) = b.fds.at(fd) else { return };
        let (mut r, mut w) = (e.readers, e.writers);
        e.readers = List::EMPTY;
        e.writers = List::EMPTY;
        while let Some(i) = r.pop(&mut b.ops).or_else(|| w.pop(&mut b.ops)) {
            b.ops.get_mut(i).cancelled = true;
            b.finish(i, neg(libc::ECANCELED));
        }
    }

    /// A submit from another thread: wake a waiting reap to run the work.
    pub(crate) fn wake_if_pending(&self) {
        if self.waiters > 0 {
            self.poller.wake();
        }
    }

    /// How long a reap may wait (the first timeout bounds it); counts the
    /// reap as waiting.
    pub(crate) fn wait_limit(&mut self, _b: &Book, left: i32) -> i32 {
        self.waiters += 1;
        match self.timers.peek() {
            None => left,
            Some(Reverse((t, ..))) => {
                let ms = t.saturating_duration_since(Instant::now()).as_millis();
                // Round up: waking a little early would spin.
                let ms = i32::try_from(ms + 1).unwrap_or(i32::MAX);
                if left < 0 { ms } else { ms.min(left) }
            }
        }
    }

    /// The poller's events after a wait: what became ready.
    pub(crate) fn events(&mut self, b: &mut Book, evs: &[MaybeUninit<PollerEvent>], waited: bool) {
        if waited {
            self.waiters -= 1;
        }
        for ev in evs {
            // SAFETY: the poller initialised the entries it returned.
            let ev = unsafe { ev.assume_init_ref() };
            if ev.handle == crate::core::poller::POLYSOCK_POLLER_WAKE {
                continue;
            }
            let fd = (ev.handle & 0xffff_ffff) as RawFd;
            let Some(e) = b.fds.at(fd) else { continue };
            let hup = ev.events & (POLYSOCK_POLLHUP | POLYSOCK_POLLERR) != 0;
            if hup || ev.events & POLYSOCK_POLLIN != 0 {
                e.readable = true;
            }
            if hup || ev.events & POLYSOCK_POLLOUT != 0 {
                e.writable = true;
            }
            let work =
                (e.readable && !e.readers.is_empty()) || (e.writable && !e.writers.is_empty());
            if work && !e.queued {
                e.queued = true;
                self.ready.push_back(fd);
            }
        }
    }

    /// Runs what can run, writing completions to `out`.
    pub(crate) fn collect(
        &mut self,
        b: &mut Book,
        out: &mut [MaybeUninit<Completion>],
    ) -> Result<usize> {
        let mut n = 0;
        let now = Instant::now();
        let mut fired = false;
        while n < out.len() {
            let Some(&Reverse((t, i, g))) = self.timers.peek() else {
                break;
            };
            if t > now {
                break;
            }
            self.timers.pop();
            fired = true;
            let o = b.ops.get(i);
            if o.generation == g && matches!(o.kind, Kind::Timeout { .. }) {
                out[n] = MaybeUninit::new(Completion::new(o.user, 0));
                n += 1;
                b.end(i);
            }
        }
        if fired {
            self.drain_timer();
            self.arm_timer()?;
        }
        while n < out.len() {
            let Some(fd) = self.ready.pop_front() else {
                break;
            };
            if let Some(e) = b.fds.at(fd) {
                e.queued = false;
            }
            n += self.run_fd(b, fd, &mut out[n..]);
            if n == out.len() {
                // It may have more: keep it first for the next reap.
                if let Some(e) = b.fds.at(fd) {
                    let work = (e.readable && !e.readers.is_empty())
                        || (e.writable && !e.writers.is_empty());
                    if work && !e.queued {
                        e.queued = true;
                        self.ready.push_front(fd);
                    }
                }
            }
        }
        Ok(n)
    }

    /// Runs the operations of one socket, reads then writes, until each
    /// side would block or `out` is full.
    fn run_fd(&mut self, b: &mut Book, fd: RawFd, out: &mut [MaybeUninit<Completion>]) -> usize {
        let mut n = 0;
        for reads in [true, false] {
            loop {
                if n == out.len() {
                    return n;
                }
                let Some(e) = b.fds.at(fd) else { return n };
                let (ready, list) = if reads {
                    (e.readable, e.readers)
                } else {
                    (e.writable, e.writers)
                };
                if !ready || list.head == NIL {
                    break;
                }
                let i = list.head;
                let outcome = if b.ops.get(i).closed() {
                    Outcome::Done(neg(libc::ECANCELED))
                } else {
                    attempt(b, i)
                };
                match outcome {
                    Outcome::Again => {
                        let e = b.fds.at(fd).expect("looked up above");
                        if reads {
                            e.readable = false;
                        } else {
                            e.writable = false;
                        }
                    }
                    Outcome::More(c) => {
                        out[n] = MaybeUninit::new(c);
                        n += 1;
                        continue;
                    }
                    Outcome::Done(result) => {
                        let mut list = list;
                        list.pop(&mut b.ops);
                        let e = b.fds.at(fd).expect("looked up above");
                        if reads {
                            e.readers = list;
                        } else {
                            e.writers = list;
                        }
                        let o = b.ops.get(i);
                        write_msg_out(o, result);
                        out[n] = MaybeUninit::new(Completion::new(o.user, result));
                        n += 1;
                        b.end(i);
                        continue;
                    }
                }
                break;
            }
        }
        n
    }

    /// polysock_ring_fd: the epoll set a runtime's loop waits on.
    pub(crate) fn wait_fd(&mut self) -> Result<RawFd> {
        if let Some(vm) = &self.vm {
            return Ok(vm.epoll.as_raw_fd());
        }
        let Some(inner) = self.poller.wait_fd() else {
            return crate::core::error::fail!(
                libc::EOPNOTSUPP,
                "ring_fd: this platform's poller has no fd to wait on (reap with a timeout instead)"
            );
        };
        // SAFETY: plain syscalls; results checked, then owned.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(Error::last_os(format_args!("ring_fd: epoll_create1")));
        }
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let timer = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        };
        if timer < 0 {
            return Err(Error::last_os(format_args!("ring_fd: timerfd_create")));
        }
        let timer = unsafe { OwnedFd::from_raw_fd(timer) };
        for fd in [inner, timer.as_raw_fd()] {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            // SAFETY: both fds are open; ev is valid.
            if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0
            {
                return Err(Error::last_os(format_args!("ring_fd: epoll_ctl")));
            }
        }
        let fd = epoll.as_raw_fd();
        self.vm = Some(VmFd { epoll, timer });
        self.arm_timer()?;
        Ok(fd)
    }

    /// Sets the timerfd (if a runtime asked for the fd) to the first timeout.
    fn arm_timer(&self) -> Result<()> {
        let Some(vm) = &self.vm else { return Ok(()) };
        let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
        if let Some(Reverse((t, ..))) = self.timers.peek() {
            let d = t.saturating_duration_since(Instant::now());
            // A zero it_value would disarm: at least 1 ns.
            spec.it_value.tv_sec = d.as_secs() as libc::time_t;
            spec.it_value.tv_nsec = (d.subsec_nanos().max(1)) as libc::c_long;
        }
        // SAFETY: our timerfd and a valid itimerspec.
        if unsafe { libc::timerfd_settime(vm.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) }
            != 0
        {
            return Err(Error::last_os(format_args!("ring: timerfd_settime")));
        }
        Ok(())
    }

    fn drain_timer(&self) {
        if let Some(vm) = &self.vm {
            let mut ticks = 0u64;
            // SAFETY: reads 8 bytes into ticks; non-blocking.
            unsafe { libc::read(vm.timer.as_raw_fd(), (&mut ticks as *mut u64).cast(), 8) };
        }
    }

    pub(crate) fn shut(&mut self) {
        self.ready.clear();
        self.timers.clear();
        self.vm = None;
    }
}

/// One system call (or a few, for a send that must go whole) for
/// operation `i`, done without blocking.
fn attempt(b: &mut Book, i: u32) -> Outcome {
    let o = b.ops.get_mut(i);
    let fd = o.fd;
    let user = o.user;
    loop {
        let (rc, code) = match &mut o.kind {
            Kind::Accept { multishot } => {
                // SAFETY: plain syscall; a new fd is ours.
                let rc = unsafe {
                    libc::accept4(
                        fd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    )
                };
                if rc >= 0 {
                    let sock = o.sock.as_ref().expect("an accept has its listener");
                    let result = match sock.accepted_nonblocking(rc).and_then(handles::insert) {
                        Ok(h) => h,
                        Err(e) => return Outcome::Done(neg(e.code())),
                    };
                    if *multishot {
                        let mut c = Completion::new(user, result);
                        c.flags = POLYSOCK_RING_MORE;
                        return Outcome::More(c);
                    }
                    return Outcome::Done(result);
                }
                let code = last_errno();
                if code == libc::ECONNABORTED {
                    continue;
                }
                (-1, code)
            }
            Kind::Recv { buf, len, flags } => {
                // SAFETY: the caller keeps buf writable for len bytes.
                let rc =
                    unsafe { libc::recv(fd, (*buf).cast(), *len, *flags | libc::MSG_DONTWAIT) };
                (rc as i64, last_errno())
            }
            Kind::RecvMulti { group, flags } => {
                let group = *group;
                let flags = *flags;
                let g = b
                    .groups
                    .get(group)
                    .expect("the group outlives its receives");
                let Some(bid) = g.take() else {
                    // No buffer: ENOBUFS once data (or the end) is there, as
                    // io_uring does; until then keep waiting.
                    let mut byte = 0u8;
                    // SAFETY: one writable byte.
                    let rc = unsafe {
                        libc::recv(
                            fd,
                            (&mut byte as *mut u8).cast(),
                            1,
                            libc::MSG_PEEK | libc::MSG_DONTWAIT,
                        )
                    };
                    let code = last_errno();
                    return match rc {
                        0 => Outcome::Done(0),
                        r if r > 0 => Outcome::Done(neg(libc::ENOBUFS)),
                        _ if code == libc::EAGAIN || code == libc::EWOULDBLOCK => Outcome::Again,
                        _ if code == libc::EINTR => continue,
                        _ => Outcome::Done(neg(code)),
                    };
                };
                let (ptr, size) = (g.ptr(bid), g.size as usize);
                // SAFETY: the buffer is ours (taken from the free queue).
                let rc = unsafe { libc::recv(fd, ptr.cast(), size, flags | libc::MSG_DONTWAIT) };
                let code = last_errno();
                if rc > 0 {
                    g.lend(bid);
                    let mut c = Completion::new(user, rc as i64);
                    c.flags = POLYSOCK_RING_MORE | POLYSOCK_RING_BUFFER;
                    c.group = group;
                    c.buffer = bid;
                    c.data = ptr;
                    return Outcome::More(c);
                }
                g.untake(bid);
                (rc as i64, code)
            }
            Kind::RecvMsg { hdr, flags, .. } => {
                hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                // SAFETY: hdr points at the caller's buffers and our slot.
                let rc = unsafe { libc::recvmsg(fd, hdr, *flags | libc::MSG_DONTWAIT) };
                (rc as i64, last_errno())
            }
            Kind::Send {
                buf,
                len,
                flags,
                done,
            } => {
                let waitall = *flags & libc::MSG_WAITALL != 0;
                let f = (*flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT | NOSIGNAL;
                // SAFETY: the caller keeps buf readable for len bytes.
                let rc = unsafe { libc::send(fd, buf.add(*done).cast(), *len - *done, f) };
                let code = last_errno();
                if rc >= 0 {
                    *done += rc as usize;
                    if waitall && *done < *len && rc > 0 {
                        continue;
                    }
                    return Outcome::Done(*done as i64);
                }
                if *done > 0 && (code == libc::EAGAIN || code == libc::EWOULDBLOCK) {
                    return Outcome::Again;
                }
                if *done > 0 && code != libc::EINTR {
                    return Outcome::Done(*done as i64);
                }
                (-1, code)
            }
            Kind::SendMsg { hdr, flags, .. } => {
                // SAFETY: hdr points at the caller's buffers and our slot.
                let rc = unsafe { libc::sendmsg(fd, hdr, *flags | libc::MSG_DONTWAIT) };
                (rc as i64, last_errno())
            }
            Kind::Connect { addr, started } => {
                let sock = o.sock.as_ref().expect("a connect has its socket");
                if *started {
                    return match sock.finish_connect() {
                        Ok(()) => Outcome::Done(0),
                        Err(e) if e.code() == libc::EINPROGRESS => Outcome::Again,
                        Err(e) => Outcome::Done(neg(e.code())),
                    };
                }
                *started = true;
                // SAFETY: addr is a valid sockaddr of addr.len() bytes.
                let rc = unsafe { libc::connect(fd, addr.as_ptr().cast(), addr.len()) };
                let code = last_errno();
                if rc == 0 {
                    return match sock.finish_connect() {
                        Ok(()) => Outcome::Done(0),
                        Err(e) => Outcome::Done(neg(e.code())),
                    };
                }
                if code == libc::EINPROGRESS || code == libc::EINTR {
                    return Outcome::Again;
                }
                return Outcome::Done(neg(code));
            }
            Kind::Sendfile(sf) => {
                let mut off = sf.offset as libc::off_t;
                let want = sf.left.min(1 << 30);
                // SAFETY: plain syscall on our socket and the caller's file.
                let rc = unsafe { libc::sendfile(fd, sf.file, &mut off, want) };
                let code = last_errno();
                if rc > 0 {
                    let r = rc as usize;
                    sf.sent += r;
                    sf.left -= r;
                    sf.offset += r as i64;
                    if sf.left == 0 {
                        return Outcome::Done(sf.sent as i64);
                    }
                    continue;
                }
                if rc == 0 {
                    return Outcome::Done(sf.sent as i64); // the file ended
                }
                if code == libc::EAGAIN || code == libc::EINTR {
                    if code == libc::EINTR {
                        continue;
                    }
                    return Outcome::Again;
                }
                return Outcome::Done(if sf.sent > 0 {
                    sf.sent as i64
                } else {
                    neg(code)
                });
            }
            Kind::Timeout { .. } | Kind::Close | Kind::Cancel | Kind::Free => {
                return Outcome::Done(neg(libc::EINVAL));
            }
        };
        if rc >= 0 {
            return Outcome::Done(rc);
        }
        match code {
            libc::EINTR => continue,
            libc::EAGAIN => return Outcome::Again,
            #[allow(unreachable_patterns)]
            libc::EWOULDBLOCK => return Outcome::Again,
            _ => return Outcome::Done(neg(code)),
        }
    }
}
