//! The ring: a completion API. A caller submits operations on polysock
//! handles, each with a 64-bit user value, and reaps their completions in
//! batches. On Linux with io_uring the kernel does the work (`uring.rs`);
//! elsewhere, or where io_uring is unavailable or refused, the same API
//! runs over the epoll poller, doing each operation in user space when its
//! socket is ready (`emulated.rs`). A runtime writes one event loop.
//!
//! Safety of handles: an operation holds a use of its socket's handle-table
//! slot until its last completion is reaped, so the fd stays open, and its
//! number cannot be reused, while the kernel may still act on it. Closing a
//! handle (polysock_close, or a ring close) marks it closed at once; the
//! ring then reports every completion of its operations not yet reaped as
//! ECANCELED and stops them (io_uring: an async cancel; the emulation: at
//! once), and only after the last one does the fd close.

mod bufs;
mod emulated;
mod ops;
#[cfg(target_os = "linux")]
mod uring;

pub use bufs::{POLYSOCK_RING_MAX_BUFFERS, POLYSOCK_RING_MAX_GROUPS};
pub use ops::MsgOut;

use super::addr::{self, Purpose};
use super::error::{Error, Result, fail};
use super::handles::{self, Handle, SocketRef};
use super::io::NOSIGNAL;
use super::msg::Bufs;
use super::slot::{OPEN, Retire, Slot, USERS, Use};
use bufs::{Group, Groups};
use ops::{Fds, Kind, Ops, Sendfile, Timespec};
use std::cell::Cell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

/// polysock_ring_create flag: use the epoll emulation even where io_uring
/// works (tests; a seccomp policy that lets io_uring_setup through but not
/// its operations). The environment variable POLYSOCK_RING=epoll does the
/// same for every ring.
pub const POLYSOCK_RING_EMULATE: u32 = 1;
/// polysock_ring_create flag: only the creating thread will call this
/// ring's functions. io_uring may then run the kernel's share of the work
/// only when that thread reaps (IORING_SETUP_SINGLE_ISSUER |
/// IORING_SETUP_DEFER_TASKRUN): fewer interruptions, larger batches.
/// Calls from another thread fail with EPERM.
pub const POLYSOCK_RING_SINGLE_THREAD: u32 = 2;
const CREATE_FLAGS: u32 = POLYSOCK_RING_EMULATE | POLYSOCK_RING_SINGLE_THREAD;

/// polysock_ring_backend: the kernel's io_uring does the operations.
pub const POLYSOCK_RING_IO_URING: i32 = 1;
/// polysock_ring_backend: the epoll poller and user-space system calls.
pub const POLYSOCK_RING_EPOLL: i32 = 2;

/// Completion flag: more completions will follow for this operation (a
/// multishot accept or receive goes on).
pub const POLYSOCK_RING_MORE: u32 = 1;
/// Completion flag: `group`/`buffer`/`data` name a provided buffer that
/// now holds the received bytes; give it back with
/// polysock_ring_buffer_return.
pub const POLYSOCK_RING_BUFFER: u32 = 2;

/// polysock_ring_accept flag: keep accepting (one completion per
/// connection, each with POLYSOCK_RING_MORE, until an error or a cancel).
pub const POLYSOCK_RING_MULTISHOT: u32 = 1;

/// The most operations one ring keeps in flight (polysock_ring_create's
/// `entries` is clamped to it).
pub const POLYSOCK_RING_MAX_ENTRIES: u32 = 1 << 18;

/// One completion, as polysock_ring_reap reports it. In C:
/// `polysock_ring_completion`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    /// The value given when the operation was submitted.
    pub user: u64,
    /// >= 0: the operation's result (bytes, a new handle, a count: see each
    /// polysock_ring_* submission). < 0: minus a polysock error code, as
    /// polysock_errno() would give it (-ECONNRESET...; polysock_strerror
    /// and polysock_errname describe it). -ECANCELED: the operation was
    /// cancelled, or its socket closed.
    pub result: i64,
    /// POLYSOCK_RING_MORE, POLYSOCK_RING_BUFFER.
    pub flags: u32,
    /// With POLYSOCK_RING_BUFFER: the buffer's group and id.
    pub group: u16,
    pub buffer: u16,
    /// With POLYSOCK_RING_BUFFER: the buffer's first byte (`result` bytes
    /// hold data); valid until the buffer is returned or the ring
    /// destroyed. NULL otherwise.
    pub data: *mut u8,
}

impl Completion {
    fn new(user: u64, result: i64) -> Completion {
        Completion {
            user,
            result,
            flags: 0,
            group: 0,
            buffer: 0,
            data: std::ptr::null_mut(),
        }
    }
}

/// A negative code as a completion carries it.
fn neg(code: i32) -> i64 {
    -i64::from(code)
}

pub(crate) enum Backend {
    #[cfg(target_os = "linux")]
    Uring(uring::Uring),
    Emulated(emulated::Emulated),
}

/// The bookkeeping both backends share.
pub(crate) struct Book {
    pub ops: Ops,
    pub fds: Fds,
    pub groups: Groups,
    /// Operations ended outside the kernel's completions (cancelled,
    /// closes, cancels, the emulation's results), with their result in
    /// `Op::result`, waiting to be reported. Each keeps its slot until
    /// then, so this never holds more than the slots.
    pub done: VecDeque<u32>,
}

/// Everything the ring's lock protects.
pub(crate) struct State {
    book: Book,
    backend: Backend,
}

pub struct Ring {
    state: Mutex<State>,
    /// What a reap waits on without holding the lock.
    waiter: Waiter,
    /// POLYSOCK_RING_SINGLE_THREAD: the only thread allowed.
    owner: Option<ThreadId>,
    /// Set by destroy: a thread still holding the ring (waiting in reap)
    /// gets EBADF.
    destroyed: AtomicBool,
}

enum Waiter {
    /// The io_uring fd (owned by the backend, which lives as long as the
    /// Ring).
    #[cfg(target_os = "linux")]
    Uring(RawFd),
    Poller(Arc<super::poller::Poller>),
}

/// The calling thread's id, remembered in a thread-local: a call to
/// `thread::current()` takes (and drops) a reference to the thread's handle.
#[inline]
fn this_thread() -> ThreadId {
    thread_local! {
        static ME: Cell<Option<ThreadId>> = const { Cell::new(None) };
    }
    #[cold]
    fn first(me: &Cell<Option<ThreadId>>) -> ThreadId {
        let id = std::thread::current().id();
        me.set(Some(id));
        id
    }
    // A const thread-local with no drop is there for the thread's whole
    // life: `with` never fails.
    ME.with(|me| me.get().unwrap_or_else(|| first(me)))
}

/// The op name and a handle's socket, ready for ring operations: checked
/// open, and switched to non-blocking (the ring is its event loop; both
/// backends do it so that they behave alike).
fn ring_socket(op: &str, h: Handle) -> Result<SocketRef> {
    let s = lookup(op, h)?;
    // The ring moves bytes itself: on a TLS stream it would bypass rustls.
    s.refuse_tls(op)?;
    if s.timeout() != 0 {
        s.set_timeout(0)?;
    }
    Ok(s)
}

/// The socket behind `h`, or EBADF naming `op`.
fn lookup(op: &str, h: Handle) -> Result<SocketRef> {
    handles::get(h).map_err(|e| Error::new(e.code(), format_args!("{op}: {}", e.context())))
}

impl Ring {
    pub fn new(entries: u32, flags: u32) -> Result<Ring> {
        let op = "ring_create";
        if flags & !CREATE_FLAGS != 0 {
            return fail!(
                libc::EINVAL,
                "{op}: unknown flags 0x{:x} (POLYSOCK_RING_EMULATE and POLYSOCK_RING_SINGLE_THREAD are defined)",
                flags & !CREATE_FLAGS
            );
        }
        if entries == 0 {
            return fail!(libc::EINVAL, "{op}: entries is 0");
        }
        let entries = entries.min(POLYSOCK_RING_MAX_ENTRIES);
        let single = flags & POLYSOCK_RING_SINGLE_THREAD != 0;
        let emulate = flags & POLYSOCK_RING_EMULATE != 0
            || std::env::var_os("POLYSOCK_RING").is_some_and(|v| v == "epoll");
        let owner = single.then(this_thread);
        #[cfg(target_os = "linux")]
        if !emulate {
            if let Some(u) = uring::Uring::new(entries, single)? {
                let fd = u.fd();
                return Ok(Ring {
                    state: Mutex::new(State::new(entries, Backend::Uring(u))),
                    waiter: Waiter::Uring(fd),
                    owner,
                    destroyed: AtomicBool::new(false),
                });
            }
        }
        let _ = emulate;
        let e = emulated::Emulated::new(entries)?;
        let poller = e.poller();
        Ok(Ring {
            state: Mutex::new(State::new(entries, Backend::Emulated(e))),
            waiter: Waiter::Poller(poller),
            owner,
            destroyed: AtomicBool::new(false),
        })
    }

    fn lock(&self, op: &str) -> Result<MutexGuard<'_, State>> {
        if let Some(owner) = self.owner {
            if this_thread() != owner {
                return fail!(
                    libc::EPERM,
                    "{op}: this ring was created with POLYSOCK_RING_SINGLE_THREAD by another thread"
                );
            }
        }
        // Every update of the state completes before anything that could
        // panic, so a poisoned lock is still consistent.
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.destroyed.load(Ordering::Acquire) {
            return fail!(
                libc::EBADF,
                "{op}: the ring was destroyed by another thread"
            );
        }
        Ok(st)
    }

    pub fn backend(&self) -> i32 {
        match self.waiter {
            #[cfg(target_os = "linux")]
            Waiter::Uring(_) => POLYSOCK_RING_IO_URING,
            Waiter::Poller(_) => POLYSOCK_RING_EPOLL,
        }
    }

    /// The fd a runtime's own loop waits on (readable: reap has work).
    pub fn fd(&self) -> Result<RawFd> {
        let mut st = self.lock("ring_fd")?;
        match &mut st.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => Ok(u.fd()),
            Backend::Emulated(e) => e.wait_fd(),
        }
    }

    /// Starts an operation on socket `h` (or on no socket).
    fn start(&self, op: &str, h: Option<Handle>, user: u64, kind: Kind) -> Result<()> {
        let mut st = self.lock(op)?;
        let sock = h.map(|h| ring_socket(op, h)).transpose()?;
        st.start(op, sock, user, kind).map(|_| ())
    }

    pub fn accept(&self, h: Handle, flags: u32, user: u64) -> Result<()> {
        let op = "ring_accept";
        if flags & !POLYSOCK_RING_MULTISHOT != 0 {
            return fail!(
                libc::EINVAL,
                "{op}: unknown flags 0x{:x} (POLYSOCK_RING_MULTISHOT is defined)",
                flags & !POLYSOCK_RING_MULTISHOT
            );
        }
        let multishot = flags & POLYSOCK_RING_MULTISHOT != 0;
        self.start(op, Some(h), user, Kind::Accept { multishot })
    }

    pub fn connect(&self, h: Handle, host: &str, port: i32, user: u64) -> Result<()> {
        let op = "ring_connect";
        let mut st = self.lock(op)?;
        let sock = ring_socket(op, h)?;
        let addr = addr::to_sockaddr(
            op,
            sock.family(),
            sock.socktype(),
            Some(host),
            port,
            Purpose::Numeric,
        )?;
        st.start(
            op,
            Some(sock),
            user,
            Kind::Connect {
                addr,
                started: false,
            },
        )
        .map(|_| ())
    }

    /// # Safety
    /// `buf` must stay readable for `len` bytes until the completion.
    pub unsafe fn send(
        &self,
        h: Handle,
        buf: *const u8,
        len: usize,
        flags: i32,
        user: u64,
    ) -> Result<()> {
        let kind = Kind::Send {
            buf,
            len,
            flags: flags | NOSIGNAL,
            done: 0,
        };
        self.start("ring_send", Some(h), user, kind)
    }

    /// # Safety
    /// `buf` must stay writable for `len` bytes until the completion.
    pub unsafe fn recv(
        &self,
        h: Handle,
        buf: *mut u8,
        len: usize,
        flags: i32,
        user: u64,
    ) -> Result<()> {
        if len == 0 {
            return fail!(libc::EINVAL, "ring_recv: the buffer is 0 bytes");
        }
        self.start("ring_recv", Some(h), user, Kind::Recv { buf, len, flags })
    }

    pub fn recv_multishot(&self, h: Handle, group: u16, flags: i32, user: u64) -> Result<()> {
        let op = "ring_recv_multishot";
        let mut st = self.lock(op)?;
        if st.book.groups.get(group).is_none() {
            return fail!(
                libc::ENOENT,
                "{op}: the ring has no buffer group {group} (make it with polysock_ring_buffers)"
            );
        }
        let sock = ring_socket(op, h)?;
        st.start(op, Some(sock), user, Kind::RecvMulti { group, flags })
            .map(|_| ())
    }

    /// # Safety
    /// The buffers in `bufs` and the outputs in `out` must stay valid until
    /// the completion.
    pub unsafe fn sendmsg(
        &self,
        h: Handle,
        bufs: Bufs<'_>,
        to: Option<(&str, i32)>,
        flags: i32,
        out: MsgOut,
        user: u64,
    ) -> Result<()> {
        let op = "ring_sendmsg";
        let mut st = self.lock(op)?;
        let sock = ring_socket(op, h)?;
        let addr = match to {
            None => None,
            Some((host, port)) => Some(addr::to_sockaddr(
                op,
                sock.family(),
                sock.socktype(),
                Some(host),
                port,
                Purpose::Numeric,
            )?),
        };
        let kind = Kind::SendMsg {
            hdr: bufs.msghdr(),
            addr,
            out,
            flags: flags | NOSIGNAL,
        };
        st.start(op, Some(sock), user, kind).map(|_| ())
    }

    /// # Safety
    /// As for sendmsg.
    pub unsafe fn recvmsg(
        &self,
        h: Handle,
        bufs: Bufs<'_>,
        flags: i32,
        out: MsgOut,
        user: u64,
    ) -> Result<()> {
        if bufs.total() == 0 {
            return fail!(libc::EINVAL, "ring_recvmsg: the buffers hold 0 bytes");
        }
        let kind = Kind::RecvMsg {
            hdr: bufs.msghdr(),
            // SAFETY: plain C data; zero is valid.
            name: unsafe { std::mem::zeroed() },
            out,
            flags,
        };
        self.start("ring_recvmsg", Some(h), user, kind)
    }

    pub fn sendfile(
        &self,
        h: Handle,
        file: RawFd,
        offset: i64,
        count: usize,
        user: u64,
    ) -> Result<()> {
        let op = "ring_sendfile";
        if offset < 0 {
            return fail!(libc::EINVAL, "{op}: offset {offset} is negative");
        }
        if count == 0 {
            return fail!(libc::EINVAL, "{op}: count is 0");
        }
        // SAFETY: fstat only reads the fd's metadata into our struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if file < 0 || unsafe { libc::fstat(file, &mut st) } != 0 {
            return fail!(libc::EBADF, "{op}: file fd {file} is not open");
        }
        let kind = Kind::Sendfile(Sendfile {
            file,
            offset,
            left: count,
            sent: 0,
            pipe: [-1, -1],
            in_pipe: 0,
            stage: 0,
        });
        self.start(op, Some(h), user, kind)
    }

    pub fn timeout(&self, ms: i64, user: u64) -> Result<()> {
        if ms < 0 {
            return fail!(libc::EINVAL, "ring_timeout: {ms} ms is negative");
        }
        let kind = Kind::Timeout {
            ts: Timespec {
                sec: ms / 1000,
                nsec: (ms % 1000) * 1_000_000,
            },
            deadline: std::time::Instant::now() + std::time::Duration::from_millis(ms as u64),
        };
        self.start("ring_timeout", None, user, kind)
    }

    /// Cancels every operation in flight whose user value is `target`.
    pub fn cancel(&self, target: u64, user: u64) -> Result<()> {
        let op = "ring_cancel";
        let mut st = self.lock(op)?;
        let i = st.start(op, None, user, Kind::Cancel)?;
        let mut n = 0i64;
        for j in 0..st.book.ops.capacity() as u32 {
            let o = st.book.ops.get(j);
            let wanted = j != i
                && o.user == target
                && !o.cancelled
                && !o.ended
                && !matches!(o.kind, Kind::Free | Kind::Cancel | Kind::Close);
            if wanted {
                st.cancel_op(j);
                n += 1;
            }
        }
        st.book.finish(i, if n > 0 { n } else { neg(libc::ENOENT) });
        Ok(())
    }

    /// Closes `h`: cancels its operations, closes the handle, and completes
    /// once they have ended.
    pub fn close(&self, h: Handle, user: u64) -> Result<()> {
        let op = "ring_close";
        let mut st = self.lock(op)?;
        let sock = lookup(op, h)?;
        let (fd, id) = (sock.fd(), sock.id());
        let i = st.start(op, None, user, Kind::Close)?;
        let waiting = match st.book.fds.find(fd, id) {
            Some(e) if e.busy() => {
                e.close_op = i;
                true
            }
            _ => false,
        };
        // Closed first, so that every completion still to come for its
        // operations reports ECANCELED.
        drop(sock);
        handles::close(h);
        if waiting {
            st.cancel_fd(fd);
        } else {
            st.book.finish(i, 0);
        }
        Ok(())
    }

    pub fn add_buffers(&self, group: u16, count: u32, size: u32) -> Result<()> {
        let mut st = self.lock("ring_buffers")?;
        st.book.groups.check_new(group)?;
        let kernel = !matches!(st.backend, Backend::Emulated(_));
        let g = Group::new(count, size, kernel)?;
        match &mut st.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.register_group(group, &g)?,
            Backend::Emulated(_) => {}
        }
        st.book.groups.insert(group, g);
        Ok(())
    }

    pub fn buffer_return(&self, group: u16, bid: u16) -> Result<()> {
        let mut st = self.lock("ring_buffer_return")?;
        match st.book.groups.get(group) {
            Some(g) => g.give_back(group, bid),
            None => fail!(
                libc::ENOENT,
                "ring_buffer_return: the ring has no buffer group {group}"
            ),
        }?;
        // The emulation: receives that stopped for want of a buffer are
        // not waiting on anything; nothing to do (they ended with
        // ENOBUFS, as on io_uring).
        Ok(())
    }

    /// Hands queued operations to the kernel (io_uring), or wakes a thread
    /// waiting in reap to run them (the emulation).
    pub fn submit(&self) -> Result<()> {
        let mut st = self.lock("ring_submit")?;
        st.flush()
    }

    /// Reaps up to `out.len()` completions, waiting up to `timeout_ms` (-1:
    /// forever, 0: not at all) for the first.
    pub fn reap(&self, out: &mut [MaybeUninit<Completion>], timeout_ms: i64) -> Result<usize> {
        let op = "ring_reap";
        if timeout_ms < -1 {
            return fail!(
                libc::EINVAL,
                "{op}: timeout {timeout_ms} ms is invalid (-1 waits forever, 0 not at all)"
            );
        }
        if out.is_empty() {
            return fail!(libc::EINVAL, "{op}: max is 0");
        }
        let deadline = super::wait::Deadline::after_ms(timeout_ms);
        // The emulation looks at the poller once without waiting before it
        // waits: a reap that returns fewer than asked has then taken every
        // readiness the kernel had, so a runtime may sleep on the fd.
        let mut polled = self.backend() == POLYSOCK_RING_IO_URING;
        loop {
            let wait_ms = {
                let mut st = self.lock(op)?;
                let n = st.collect(out)?;
                let left = deadline.remaining_ms();
                if n > 0 || (left == 0 && polled) {
                    return Ok(n);
                }
                if polled { st.wait_limit(left) } else { 0 }
            };
            // Wait without the lock: other threads may submit meanwhile.
            match &self.waiter {
                #[cfg(target_os = "linux")]
                Waiter::Uring(fd) => uring::wait(*fd, wait_ms)?,
                Waiter::Poller(p) => {
                    let mut evs = [MaybeUninit::uninit(); emulated::BATCH];
                    let n = p.wait(&mut evs, i64::from(wait_ms));
                    let mut st = self.lock(op)?;
                    st.ready_events(&evs[..*n.as_ref().unwrap_or(&0)], wait_ms != 0);
                    n?;
                }
            }
            polled = true;
        }
    }
}

impl Book {
    /// Ends operation `i` now with `result`, to be reported by the next
    /// reap (which then gives its slot back).
    pub(crate) fn finish(&mut self, i: u32, result: i64) {
        let o = self.ops.get_mut(i);
        o.result = result;
        o.ended = true;
        self.done.push_back(i);
    }

    /// Gives slot `i` back (dropping its use of the socket), and lets a
    /// close waiting on its fd complete.
    pub(crate) fn end(&mut self, i: u32) {
        let o = self.ops.get(i);
        let (fd, has_sock) = (o.fd, o.sock.is_some());
        self.ops.release(i);
        if has_sock {
            if let Some(e) = self.fds.at(fd) {
                e.detach(&mut self.ops, i);
                if !e.busy() && e.close_op != ops::NIL {
                    let c = e.close_op;
                    e.close_op = ops::NIL;
                    self.finish(c, 0);
                }
            }
        }
    }

    /// Reports the operations ended outside the kernel.
    fn drain_done(&mut self, out: &mut [MaybeUninit<Completion>]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(i) = self.done.pop_front() else {
                break;
            };
            let o = self.ops.get(i);
            out[n] = MaybeUninit::new(Completion::new(o.user, o.result));
            n += 1;
            self.end(i);
        }
        n
    }
}

impl State {
    fn new(entries: u32, backend: Backend) -> State {
        State {
            book: Book {
                ops: Ops::new(entries as usize),
                fds: Fds::default(),
                groups: Groups::default(),
                done: VecDeque::with_capacity(entries as usize),
            },
            backend,
        }
    }

    /// Takes a slot for an operation and starts it; returns the slot.
    fn start(&mut self, op: &str, sock: Option<SocketRef>, user: u64, kind: Kind) -> Result<u32> {
        let b = &mut self.book;
        let Some(i) = b.ops.alloc(user, kind) else {
            return fail!(
                libc::EBUSY,
                "{op}: {} operations are in flight, the ring's entries (reap some first)",
                b.ops.capacity()
            );
        };
        if let Some(sock) = sock {
            let (fd, id) = (sock.fd(), sock.id());
            match b.fds.entry(fd, id) {
                Some(e) => e.attach(&mut b.ops, i),
                None => {
                    b.ops.release(i);
                    return fail!(
                        libc::EBUSY,
                        "{op}: fd {fd} still has operations of a socket whose fd was closed outside polysock"
                    );
                }
            }
            let o = b.ops.get_mut(i);
            o.fd = fd;
            o.sock = Some(sock);
        }
        fix_pointers(b.ops.get_mut(i));
        let r = match &mut self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.start(b, i),
            Backend::Emulated(e) => e.start(b, i),
        };
        if let Err(e) = r {
            b.end(i);
            return Err(Error::new(e.code(), format_args!("{op}: {}", e.context())));
        }
        Ok(i)
    }

    /// Asks operation `i` to stop; it completes with ECANCELED (unless it
    /// completes first).
    fn cancel_op(&mut self, i: u32) {
        self.book.ops.get_mut(i).cancelled = true;
        match &mut self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.cancel(&mut self.book, i),
            Backend::Emulated(e) => e.cancel(&mut self.book, i),
        }
    }

    /// Cancels every operation on the socket at `fd`.
    fn cancel_fd(&mut self, fd: RawFd) {
        match &mut self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.cancel_fd(&mut self.book, fd),
            Backend::Emulated(e) => e.cancel_fd(&mut self.book, fd),
        }
    }

    fn flush(&mut self) -> Result<()> {
        match &mut self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.flush(),
            Backend::Emulated(e) => {
                e.wake_if_pending();
                Ok(())
            }
        }
    }

    /// Moves ready completions to `out` without waiting.
    fn collect(&mut self, out: &mut [MaybeUninit<Completion>]) -> Result<usize> {
        let mut n = self.book.drain_done(out);
        if n < out.len() {
            n += match &mut self.backend {
                #[cfg(target_os = "linux")]
                Backend::Uring(u) => u.collect(&mut self.book, &mut out[n..])?,
                Backend::Emulated(e) => e.collect(&mut self.book, &mut out[n..])?,
            };
        }
        // Cancels and closes that ended during the collect.
        if n < out.len() {
            n += self.book.drain_done(&mut out[n..]);
        }
        Ok(n)
    }

    /// How long a reap may wait, at most `left` ms (-1: forever).
    fn wait_limit(&mut self, left: i32) -> i32 {
        match &mut self.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => left,
            Backend::Emulated(e) => e.wait_limit(&self.book, left),
        }
    }

    fn ready_events(&mut self, evs: &[MaybeUninit<super::poller::PollerEvent>], waited: bool) {
        if let Backend::Emulated(e) = &mut self.backend {
            e.events(&mut self.book, evs, waited);
        }
    }
}

/// Points a message operation's header at its own slot's address storage
/// (the slot never moves).
fn fix_pointers(o: &mut ops::Op) {
    match &mut o.kind {
        Kind::SendMsg {
            hdr,
            addr: Some(sa),
            ..
        } => {
            hdr.msg_name = sa.as_ptr().cast_mut().cast();
            hdr.msg_namelen = sa.len();
        }
        Kind::RecvMsg { hdr, name, .. } => {
            hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        _ => {}
    }
}

/// Writes a message operation's outcome to the caller's struct.
fn write_msg_out(o: &ops::Op, n: i64) {
    let (out, from) = match &o.kind {
        Kind::SendMsg { out, .. } => (out, None),
        Kind::RecvMsg { out, name, hdr, .. } => (out, Some((name, hdr))),
        _ => return,
    };
    if n < 0 {
        return;
    }
    // SAFETY: the caller keeps its polysock_mmsg valid until the
    // completion (documented); NULL fields are skipped.
    unsafe {
        if let Some(p) = out.len.as_mut() {
            *p = n as usize;
        }
        if let Some((name, hdr)) = from {
            if let Some(p) = out.flags.as_mut() {
                *p = hdr.msg_flags;
            }
            if let Some(p) = out.addr.as_mut() {
                *p = super::msg::addr_of(name, hdr.msg_namelen);
            }
        }
    }
}

// ---- the table of rings -------------------------------------------------

// A ring id is `generation << 32 | 1 << 30 | index`: bit 30 set and bit 31
// clear keep ring ids apart from socket handles (whose low 32 bits are an fd,
// below 2^22) and poller ids (bit 31 set).

/// A ring as the C ABI sees it.
pub type RingId = i64;

const MAX_RINGS: usize = 1024;
const ID_TAG: i64 = 1 << 30;

/// A ring's slot: `slot::Slot`'s protocol, as the handle table's. A lookup
/// is one compare-and-swap in and one subtraction out: no lock, and no
/// reference count in the Ring itself.
type RSlot = Slot<Box<Ring>>;

/// One slot per cache line: threads on different rings share none.
#[repr(align(64))]
struct Padded(RSlot);

static RINGS: [Padded; MAX_RINGS] = [const { Padded(Slot::new()) }; MAX_RINGS];

fn split(id: RingId) -> Option<(usize, u64)> {
    if !(0..1 << 53).contains(&id) || id & (1 << 31) != 0 || id & ID_TAG == 0 {
        return None;
    }
    let index = (id & (ID_TAG - 1)) as usize;
    let generation = (id >> 32) as u64;
    (index < MAX_RINGS && generation != 0).then_some((index, generation))
}

/// A use of a ring: it is not freed while this exists (a destroy meanwhile
/// makes its calls fail with EBADF).
pub type RingRef = Use<Box<Ring>>;

impl Retire for Box<Ring> {
    /// The last use of a destroyed ring: frees it and empties the slot.
    #[cold]
    #[inline(never)]
    fn retire(slot: &'static RSlot) {
        // SAFETY: destroyed with no use left, the slot is ours.
        let ring = unsafe { slot.owned() }.take();
        slot.empty();
        drop(ring);
    }
}

/// Counts a use into the ring `id` names while it is open, taking OPEN
/// away too if `destroy`.
#[inline]
fn enter(id: RingId, destroy: bool) -> Option<RingRef> {
    let (i, generation) = split(id)?;
    let want = (generation << 32) | OPEN;
    RINGS[i].0.enter(|s| s & !USERS == want, destroy)
}

/// Creates a ring and issues its id.
pub fn create(entries: u32, flags: u32) -> Result<RingId> {
    let r = Box::new(Ring::new(entries, flags)?);
    for (i, p) in RINGS.iter().enumerate() {
        let slot = &p.0;
        // Only creates change an empty slot: one that is not empty, or
        // that another claims first, is passed over.
        let Ok(state) = slot.claim() else { continue };
        // SAFETY: we claimed the slot; `retire` left it None.
        unsafe { *slot.owned() = Some(r) };
        let generation = slot.fill(state, OPEN);
        return Ok(((generation as i64) << 32) | ID_TAG | i as i64);
    }
    fail!(
        libc::EMFILE,
        "ring_create: {MAX_RINGS} rings are open already"
    )
}

/// The ring behind an id, or EBADF.
#[inline]
pub fn get(op: &str, id: RingId) -> Result<RingRef> {
    match enter(id, false) {
        Some(r) => Ok(r),
        None => not_a_ring(op, id),
    }
}

#[cold]
#[inline(never)]
fn not_a_ring(op: &str, id: RingId) -> Result<RingRef> {
    fail!(libc::EBADF, "{op}: {id} is not an open ring")
}

/// Destroys a ring: cancels its operations, closes the sockets its
/// accepts made that were never reaped, frees its buffers (with its last
/// use). A destroyed or unknown id is harmless: false.
pub fn destroy(id: RingId) -> bool {
    // No new use from here on; ours is counted in.
    match enter(id, true) {
        Some(r) => {
            r.shut();
            true
        }
        None => false,
    }
}

impl Ring {
    /// Ends every operation (waits in progress then fail with EBADF: the
    /// id is gone from the table).
    fn shut(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.destroyed.store(true, Ordering::Release);
        if let Waiter::Poller(p) = &self.waiter {
            p.wake();
        }
        let st = &mut *st;
        let all_ended = match &mut st.backend {
            #[cfg(target_os = "linux")]
            Backend::Uring(u) => u.shut(&mut st.book),
            Backend::Emulated(e) => {
                e.shut();
                true
            }
        };
        let b = &mut st.book;
        if !all_ended {
            // The kernel may still write into the slots (addresses, msghdr)
            // and buffers of operations that did not stop in time: keep
            // that memory for good rather than free it under the kernel.
            std::mem::forget(std::mem::replace(&mut b.ops, Ops::new(0)));
            std::mem::forget(b.groups.take_all());
            return;
        }
        b.done.clear();
        for i in 0..b.ops.capacity() as u32 {
            if !matches!(b.ops.get(i).kind, Kind::Free) {
                b.ops.release(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_outlives_destroy_and_stale_ids_stay_ebadf() {
        let id = create(4, POLYSOCK_RING_EMULATE).unwrap();
        let held = get("t", id).unwrap();
        assert!(destroy(id));
        assert!(!destroy(id), "destroying twice is harmless");
        // The held use still reaches the ring, which refuses work.
        let e = held.timeout(1, 1).unwrap_err();
        assert_eq!(e.code(), libc::EBADF);
        assert_eq!(
            e.context(),
            "ring_timeout: the ring was destroyed by another thread"
        );
        let e = get("ring_submit", id).err().unwrap();
        assert_eq!(e.code(), libc::EBADF);
        assert_eq!(
            e.context(),
            format!("ring_submit: {id} is not an open ring")
        );
        // Its slot is not reused while the use lasts.
        let other = create(4, POLYSOCK_RING_EMULATE).unwrap();
        assert_ne!(other & (ID_TAG - 1), id & (ID_TAG - 1));
        drop(held);
        // Freed: the slot is reusable, with a new generation.
        let again: Vec<_> = (0..2)
            .map(|_| create(4, POLYSOCK_RING_EMULATE).unwrap())
            .collect();
        assert!(!again.contains(&id));
        assert!(get("t", id).is_err());
        for r in again.into_iter().chain([other]) {
            assert!(get("t", r).is_ok());
            assert!(destroy(r));
        }
    }

    #[test]
    fn racing_lookups_and_destroys_never_reach_a_freed_ring() {
        // Threads call through ids while others are destroyed and made
        // anew in their slots; every lookup finds a live ring or EBADF.
        let stop = AtomicBool::new(false);
        let ids: [std::sync::atomic::AtomicI64; 4] =
            std::array::from_fn(|_| create(2, POLYSOCK_RING_EMULATE).unwrap().into());
        std::thread::scope(|s| {
            for t in 0..3 {
                let (ids, stop) = (&ids, &stop);
                s.spawn(move || {
                    let mut out = [MaybeUninit::uninit(); 2];
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let id = ids[i % ids.len()].load(Ordering::Relaxed);
                        if let Ok(r) = get("t", id) {
                            assert_eq!(r.backend(), POLYSOCK_RING_EPOLL);
                            match r.reap(&mut out, 0) {
                                Ok(n) => assert_eq!(n, 0),
                                Err(e) => assert_eq!(e.code(), libc::EBADF),
                            }
                        }
                        i += 1;
                    }
                });
            }
            for round in 0..2000 {
                let slot = &ids[round % ids.len()];
                assert!(destroy(slot.load(Ordering::Relaxed)));
                slot.store(create(2, POLYSOCK_RING_EMULATE).unwrap(), Ordering::Relaxed);
            }
            stop.store(true, Ordering::Relaxed);
        });
        for id in &ids {
            assert!(destroy(id.load(Ordering::Relaxed)));
        }
    }

    #[test]
    fn a_single_thread_ring_refuses_other_threads() {
        let id = create(4, POLYSOCK_RING_EMULATE | POLYSOCK_RING_SINGLE_THREAD).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let e = get("t", id).unwrap().submit().unwrap_err();
                assert_eq!(e.code(), libc::EPERM);
                assert_eq!(
                    e.context(),
                    "ring_submit: this ring was created with POLYSOCK_RING_SINGLE_THREAD by another thread"
                );
            });
        });
        get("t", id).unwrap().submit().unwrap();
        assert!(destroy(id));
    }
}
