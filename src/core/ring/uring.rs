//! The io_uring backend: each operation is one kernel request whose
//! user_data is its slot's token (generation and index). Built on the
//! `io-uring` crate, which maps the rings and lays out the requests; what
//! is ours is the bookkeeping around it (ops.rs) and what a completion
//! means for polysock (new handles, lent buffers, ECANCELED for closed
//! sockets).

use super::bufs::Group;
use super::ops::{Kind, NIL};
use super::{Book, Completion, POLYSOCK_RING_BUFFER, POLYSOCK_RING_MORE, neg, write_msg_out};
use crate::core::error::{Error, Result, fail};
use crate::core::handles;
use io_uring::types::Fd;
use io_uring::{IoUring, Probe, cqueue, opcode, squeue};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};

/// The user_data of internal requests whose completions are dropped
/// (cancels).
const IGNORE: u64 = u64::MAX;
/// Completions taken from the kernel's queue in one go.
const CHUNK: usize = 256;
/// How many completions ahead `collect` asks for their slots.
const PREFETCH: usize = 16;
/// Bytes one splice moves at most (a pipe's default capacity).
const SPLICE_CHUNK: usize = 1 << 16;

pub(crate) struct Uring {
    ring: IoUring,
    /// Operations the kernel has (their final completion not yet seen).
    in_kernel: usize,
}

impl Uring {
    /// An io_uring, or None where the kernel lacks it (too old for
    /// multishot receives, disabled, or refused by seccomp): the caller then
    /// emulates.
    pub(crate) fn new(entries: u32, single_thread: bool) -> Result<Option<Uring>> {
        let sq = entries.next_power_of_two().clamp(8, 4096);
        let cq = entries
            .saturating_mul(2)
            .next_power_of_two()
            .clamp(sq * 2, 65536);
        let build = |defer: bool| {
            let mut b = IoUring::builder();
            b.setup_submit_all()
                .setup_coop_taskrun()
                .setup_taskrun_flag()
                .setup_cqsize(cq)
                .setup_clamp();
            if defer {
                b.setup_single_issuer().setup_defer_taskrun();
            }
            b.build(sq)
        };
        let ring = match build(single_thread) {
            Ok(r) => r,
            Err(_) if single_thread => match build(false) {
                Ok(r) => r,
                Err(e) => return unavailable(e),
            },
            Err(e) => return unavailable(e),
        };
        // Multishot receives with buffer rings came with SEND_ZC (6.0).
        let mut probe = Probe::new();
        if ring.submitter().register_probe(&mut probe).is_err()
            || !probe.is_supported(opcode::SendZc::CODE)
        {
            return Ok(None);
        }
        Ok(Some(Uring { ring, in_kernel: 0 }))
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    pub(crate) fn register_group(&mut self, id: u16, g: &Group) -> Result<()> {
        let addr = g.ring_addr().unwrap_or(0);
        // SAFETY: the group's ring mapping stays valid until the ring is
        // destroyed (groups are never removed before).
        unsafe {
            self.ring
                .submitter()
                .register_buf_ring_with_flags(addr, g.count as u16, id, 0)
        }
        .map_err(|e| os_error(e, format_args!("ring_buffers: registering group {id}")))
    }

    /// Queues one request; hands the queue to the kernel first if full.
    fn push(&mut self, e: &squeue::Entry) -> Result<()> {
        loop {
            // SAFETY: every pointer in our entries points into the op's
            // slot (which does not move) or the caller's buffers (which it
            // keeps valid until the completion).
            if unsafe { self.ring.submission().push(e) }.is_ok() {
                return Ok(());
            }
            self.flush()?;
        }
    }

    /// Hands queued requests to the kernel (and runs deferred work).
    pub(crate) fn flush(&mut self) -> Result<()> {
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(os_error(e, format_args!("ring_submit: io_uring_enter"))),
            }
        }
    }

    pub(crate) fn start(&mut self, b: &mut Book, i: u32) -> Result<()> {
        let token = b.ops.token(i);
        let o = b.ops.get_mut(i);
        let fd = Fd(o.fd);
        let e = match &mut o.kind {
            Kind::Accept { multishot: true } => opcode::AcceptMulti::new(fd)
                .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                .build(),
            Kind::Accept { multishot: false } => {
                opcode::Accept::new(fd, std::ptr::null_mut(), std::ptr::null_mut())
                    .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                    .build()
            }
            Kind::Connect { addr, .. } => {
                opcode::Connect::new(fd, addr.as_ptr().cast(), addr.len()).build()
            }
            Kind::Send {
                buf, len, flags, ..
            } => opcode::Send::new(fd, *buf, clamp_len(*len))
                .flags(*flags)
                .build(),
            Kind::Recv { buf, len, flags } => opcode::Recv::new(fd, *buf, clamp_len(*len))
                .flags(*flags)
                .build(),
            Kind::RecvMulti { group, flags } => {
                opcode::RecvMulti::new(fd, *group).flags(*flags).build()
            }
            Kind::SendMsg { hdr, flags, .. } => {
                opcode::SendMsg::new(fd, hdr).flags(*flags as u32).build()
            }
            Kind::RecvMsg { hdr, flags, .. } => {
                opcode::RecvMsg::new(fd, hdr).flags(*flags as u32).build()
            }
            Kind::Sendfile(sf) => {
                new_pipe(&mut sf.pipe)?;
                splice_entry(o.fd, sf)
            }
            Kind::Timeout { ts, .. } => {
                opcode::Timeout::new((ts as *const super::ops::Timespec).cast()).build()
            }
            Kind::Close | Kind::Cancel | Kind::Free => return Ok(()),
        };
        self.push(&e.user_data(token))?;
        self.in_kernel += 1;
        Ok(())
    }

    pub(crate) fn cancel(&mut self, b: &mut Book, i: u32) {
        if matches!(b.ops.get(i).kind, Kind::Close | Kind::Cancel) {
            return;
        }
        let e = opcode::AsyncCancel::new(b.ops.token(i))
            .build()
            .user_data(IGNORE);
        // A full queue that cannot be flushed leaves the operation running;
        // it still ends with its socket or the ring.
        let _ = self.push(&e);
    }

    /// Cancels the operations of the socket at `fd`: its own list, one
    /// request per operation, by its token. (A cancel by fd makes the kernel
    /// scan every request it holds, once per match: closing 10,000 busy
    /// sockets one by one was quadratic. A token is a hash lookup.)
    pub(crate) fn cancel_fd(&mut self, b: &mut Book, fd: RawFd) {
        let mut i = b.fds.at(fd).map_or(NIL, |e| e.ops);
        while i != NIL {
            let next = b.ops.get(i).fd_next;
            if !b.ops.get(i).cancelled {
                b.ops.get_mut(i).cancelled = true;
                self.cancel(b, i);
            }
            i = next;
        }
    }

    /// Turns the kernel's completions into ours, as many as `out` holds.
    pub(crate) fn collect(
        &mut self,
        b: &mut Book,
        out: &mut [MaybeUninit<Completion>],
    ) -> Result<usize> {
        let mut n = 0;
        let sq = self.ring.submission();
        let must_enter = !sq.is_empty() || sq.taskrun() || sq.cq_overflow();
        drop(sq);
        if must_enter {
            self.flush()?;
        }
        let mut chunk = [const { MaybeUninit::<cqueue::Entry>::uninit() }; CHUNK];
        loop {
            let room = (out.len() - n).min(CHUNK);
            if room == 0 {
                break;
            }
            let got = self.ring.completion().fill(&mut chunk[..room]).len();
            if got == 0 {
                if self.ring.submission().cq_overflow() {
                    self.flush()?;
                    continue;
                }
                break;
            }
            // SAFETY: fill initialised the first `got` entries.
            let token = |k: usize| unsafe { chunk[k].assume_init_ref() }.user_data();
            for (k, c) in chunk[..got].iter().enumerate() {
                // Each completion's slot, and then its socket, is most
                // likely a cache miss (10,000 receives' slots are far
                // beyond the caches): asked for a few completions ahead,
                // the misses overlap instead of stalling the loop in turn.
                if k + PREFETCH < got {
                    b.ops.prefetch(token(k + PREFETCH));
                }
                if k + PREFETCH / 2 < got {
                    b.ops.prefetch_socket(token(k + PREFETCH / 2));
                }
                // SAFETY: as above.
                let c = unsafe { c.assume_init_ref() };
                if let Some(done) = self.complete(b, c.user_data(), c.result(), c.flags()) {
                    out[n] = MaybeUninit::new(done);
                    n += 1;
                }
            }
        }
        // Requests made while completing (a sendfile's next step, cancels
        // of closed sockets' multishots) go now: a reap may wait next.
        if !self.ring.submission().is_empty() {
            self.flush()?;
        }
        Ok(n)
    }

    /// One kernel completion: the completion to report, if any.
    fn complete(&mut self, b: &mut Book, token: u64, res: i32, flags: u32) -> Option<Completion> {
        if token == IGNORE {
            return None;
        }
        let i = b.ops.from_token(token)?;
        let more = cqueue::more(flags);
        let o = b.ops.get_mut(i);
        let closed = o.closed();
        let mut c = Completion::new(o.user, i64::from(res));
        match &mut o.kind {
            Kind::Accept { .. } if res >= 0 => {
                if closed {
                    // SAFETY: the kernel just made this fd for us.
                    unsafe { libc::close(res) };
                } else {
                    let sock = o.sock.as_ref().expect("an accept has its listener");
                    c.result = match sock.accepted_nonblocking(res).and_then(handles::insert) {
                        Ok(h) => h,
                        Err(e) => neg(e.code()),
                    };
                }
            }
            Kind::RecvMulti { group, .. } => {
                if let Some(bid) = cqueue::buffer_select(flags) {
                    let g = b
                        .groups
                        .get(*group)
                        .expect("the group outlives its receives");
                    if closed {
                        g.recycle(bid);
                    } else {
                        g.lend(bid);
                        c.flags |= POLYSOCK_RING_BUFFER;
                        c.group = *group;
                        c.buffer = bid;
                        c.data = g.ptr(bid);
                    }
                }
            }
            Kind::Timeout { .. } if res == -libc::ETIME => c.result = 0,
            Kind::SendMsg { .. } | Kind::RecvMsg { .. } if !closed => write_msg_out(o, c.result),
            Kind::Sendfile(sf) if !closed && !o.cancelled => {
                match sendfile_step(o.fd, sf, res) {
                    Step::Next(e) => {
                        if self.push(&e.user_data(token)).is_ok() {
                            return None;
                        }
                        c.result = sf.result(libc::EBUSY);
                    }
                    Step::Done(r) => c.result = r,
                }
                close_pipe(&mut sf.pipe);
            }
            Kind::Sendfile(sf) => close_pipe(&mut sf.pipe),
            _ => {}
        }
        if closed {
            if more {
                if !o.cancelled {
                    o.cancelled = true;
                    let e = opcode::AsyncCancel::new(token).build().user_data(IGNORE);
                    let _ = self.push(&e);
                }
                return None;
            }
            c.result = neg(libc::ECANCELED);
        }
        if more {
            c.flags |= POLYSOCK_RING_MORE;
        } else {
            self.in_kernel -= 1;
            b.end(i);
        }
        Some(c)
    }

    /// Cancels everything and waits (2 s at most) for the kernel to let
    /// go; closes the connections accepted meanwhile. True when every
    /// operation ended (its memory may be freed).
    pub(crate) fn shut(&mut self, b: &mut Book) -> bool {
        // One cancel per operation by its token (a lookup each), not one
        // for all (the kernel would rescan every request per match).
        for i in 0..b.ops.capacity() as u32 {
            let o = b.ops.get(i);
            if !o.ended && !matches!(o.kind, Kind::Free | Kind::Close | Kind::Cancel) {
                let e = opcode::AsyncCancel::new(b.ops.token(i))
                    .build()
                    .user_data(IGNORE);
                let _ = self.push(&e);
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.in_kernel > 0 && std::time::Instant::now() < deadline {
            let _ = self.flush();
            let mut chunk = [const { MaybeUninit::<cqueue::Entry>::uninit() }; CHUNK];
            let got = self.ring.completion().fill(&mut chunk).len();
            for c in &chunk[..got] {
                // SAFETY: fill initialised the first `got` entries.
                let c = unsafe { c.assume_init_ref() };
                let Some(i) = b.ops.from_token(c.user_data()) else {
                    continue;
                };
                if matches!(b.ops.get(i).kind, Kind::Accept { .. }) && c.result() >= 0 {
                    // SAFETY: a new fd nobody else knows of.
                    unsafe { libc::close(c.result()) };
                }
                if let Kind::Sendfile(sf) = &mut b.ops.get_mut(i).kind {
                    close_pipe(&mut sf.pipe);
                }
                if !cqueue::more(c.flags()) {
                    self.in_kernel -= 1;
                }
            }
            if got == 0 && self.in_kernel > 0 {
                let _ = wait(self.fd(), 10);
            }
        }
        // Wake a reap waiting in another thread: it then sees the ring
        // destroyed.
        let _ = self.push(&opcode::Nop::new().build().user_data(IGNORE));
        let _ = self.flush();
        self.in_kernel == 0
    }
}

/// The kernel lacks io_uring or refuses it: emulate.
fn unavailable(e: std::io::Error) -> Result<Option<Uring>> {
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EPERM | libc::EACCES | libc::EINVAL | libc::EOPNOTSUPP) => {
            Ok(None)
        }
        _ => Err(os_error(e, format_args!("ring_create: io_uring_setup"))),
    }
}

fn os_error(e: std::io::Error, args: std::fmt::Arguments<'_>) -> Error {
    Error::new(e.raw_os_error().unwrap_or(libc::EIO), args)
}

fn clamp_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Waits up to `ms` (-1: forever) for a completion, without the ring's
/// lock: only the fd is used, and the kernel's queues are shared memory.
pub(crate) fn wait(fd: RawFd, ms: i32) -> Result<()> {
    #[repr(C)]
    struct GeteventsArg {
        sigmask: u64,
        sigmask_sz: u32,
        min_wait_usec: u32,
        ts: u64,
    }
    let ts = super::ops::Timespec {
        sec: i64::from(ms.max(0)) / 1000,
        nsec: (i64::from(ms.max(0)) % 1000) * 1_000_000,
    };
    let arg = GeteventsArg {
        sigmask: 0,
        sigmask_sz: 0,
        min_wait_usec: 0,
        ts: if ms < 0 { 0 } else { &ts as *const _ as u64 },
    };
    const GETEVENTS: u32 = 1;
    const EXT_ARG: u32 = 8;
    // SAFETY: arg and ts live across the call; the fd is the ring's, kept
    // open by the caller's use of the ring.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd,
            0u32,
            1u32,
            GETEVENTS | EXT_ARG,
            &arg as *const GeteventsArg,
            size_of::<GeteventsArg>(),
        )
    };
    if rc < 0 {
        let code = errno::errno().0;
        if code == libc::EINTR {
            crate::core::interrupt::check("ring_reap")?;
        } else if !matches!(code, libc::ETIME | libc::EAGAIN | libc::EBUSY) {
            return fail!(code, "ring_reap: io_uring_enter");
        }
    }
    Ok(())
}

// ---- sendfile: file -> pipe -> socket by splice --------------------------

fn new_pipe(pipe: &mut [RawFd; 2]) -> Result<()> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::last_os(format_args!("pipe2")));
    }
    *pipe = fds;
    Ok(())
}

fn close_pipe(pipe: &mut [RawFd; 2]) {
    for fd in pipe.iter_mut() {
        if *fd >= 0 {
            // SAFETY: our own pipe end, closed once.
            unsafe { libc::close(*fd) };
            *fd = -1;
        }
    }
}

enum Step {
    Next(squeue::Entry),
    Done(i64),
}

impl super::ops::Sendfile {
    /// The completion's result: the bytes sent, or the error if none were.
    fn result(&self, code: i32) -> i64 {
        if self.sent > 0 {
            self.sent as i64
        } else {
            neg(code)
        }
    }
}

/// The request for the current stage.
fn splice_entry(sock: RawFd, sf: &super::ops::Sendfile) -> squeue::Entry {
    match sf.stage {
        0 => opcode::Splice::new(
            Fd(sf.file),
            sf.offset,
            Fd(sf.pipe[1]),
            -1,
            sf.left.min(SPLICE_CHUNK) as u32,
        )
        .build(),
        1 => opcode::Splice::new(Fd(sf.pipe[0]), -1, Fd(sock), -1, sf.in_pipe as u32).build(),
        _ => opcode::PollAdd::new(Fd(sock), libc::POLLOUT as u32).build(),
    }
}

/// Advances a sendfile by one completed request.
fn sendfile_step(sock: RawFd, sf: &mut super::ops::Sendfile, res: i32) -> Step {
    match (sf.stage, res) {
        // The socket is full (it is non-blocking): wait until writable.
        (1, r) if r == -libc::EAGAIN => sf.stage = 2,
        (_, r) if r < 0 => return Step::Done(sf.result(-r)),
        (0, 0) => return Step::Done(sf.sent as i64), // the file ended
        (0, r) => {
            let r = r as usize;
            sf.offset += r as i64;
            sf.left -= r;
            sf.in_pipe = r;
            sf.stage = 1;
        }
        (1, r) => {
            let r = r as usize;
            sf.sent += r;
            sf.in_pipe -= r;
            if sf.in_pipe == 0 {
                if sf.left == 0 {
                    return Step::Done(sf.sent as i64);
                }
                sf.stage = 0;
            }
        }
        _ => sf.stage = 1, // writable again
    }
    Step::Next(splice_entry(sock, sf))
}
