//! The socket object: an owned fd with its family/type/protocol, its
//! timeout (Python's model) and the state flags runtimes show their users.
//! Lifecycle operations live here; data transfer in `io.rs`, options in
//! `options.rs`.

use super::addr::{self, Addr, Host, KernelAddr, Purpose, RawAddr};
use super::constants;
use super::error::{Error, Result, fail};
use super::poller::Watchers;
use super::reader::Reader;
use super::tls::TlsStream;
use super::wait::{self, Deadline};
use socket2::{Domain, Protocol, SockAddr, Type};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};

// State flags (`Socket::state`).
pub(crate) const BOUND: u32 = 1;
pub(crate) const LISTENING: u32 = 2;
pub(crate) const CONNECTED: u32 = 4;
/// Connected by our own connect() (a client), as opposed to accepted.
pub(crate) const CLIENT: u32 = 8;
pub(crate) const SHUT_RD: u32 = 16;
pub(crate) const SHUT_WR: u32 = 32;
/// Closed by its owner while another call still held it: those calls fail
/// with EBADF when they wake.
pub(crate) const CLOSED: u32 = 64;
/// The fd was handed back to the caller; it is not closed on drop.
pub(crate) const DETACHED: u32 = 128;

/// The next `id` a socket is given (`Socket::id`: at its first poller).
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Timeout for sockets created from now on; -1 blocks (see `set_timeout`).
static DEFAULT_TIMEOUT_MS: AtomicI64 = AtomicI64::new(-1);

/// The backlog listen() uses when given a negative one: min(SOMAXCONN, 128),
/// as CPython and Chapel choose.
pub(crate) const DEFAULT_BACKLOG: i32 = if libc::SOMAXCONN < 128 {
    libc::SOMAXCONN
} else {
    128
};

pub fn default_timeout() -> i64 {
    DEFAULT_TIMEOUT_MS.load(Ordering::Relaxed)
}

pub fn set_default_timeout(ms: i64) -> Result<()> {
    check_timeout("setdefaulttimeout", ms)?;
    DEFAULT_TIMEOUT_MS.store(ms, Ordering::Relaxed);
    Ok(())
}

fn check_timeout(op: &str, ms: i64) -> Result<()> {
    if ms < -1 {
        return fail!(
            libc::EINVAL,
            "{op}: timeout {ms} ms is invalid (-1 blocks, 0 is non-blocking, >0 is a limit)"
        );
    }
    Ok(())
}

pub struct Socket {
    sock: ManuallyDrop<socket2::Socket>,
    family: i32,
    socktype: i32,
    protocol: i32,
    /// -1: block; 0: non-blocking; >0: every blocking call's limit in ms.
    /// The fd is O_NONBLOCK exactly when this is >= 0.
    timeout_ms: AtomicI64,
    state: AtomicU32,
    /// Unique for the life of the process: pollers know a socket by it
    /// (an address would not do: the handle table moves sockets). 0 until
    /// `id` first asks: a socket no poller watches never takes one, so
    /// making sockets bumps no counter that other threads write too.
    id: AtomicUsize,
    /// The buffered reader's bytes (readline); receives return them first.
    pub(crate) reader: Reader,
    /// The pollers this socket is registered with: they forget it before
    /// its fd closes (see poller.rs).
    pub(crate) watchers: Watchers,
    /// The TLS session, once wrapped (see tls/); empty for plain sockets.
    pub(crate) tls: OnceLock<Box<TlsStream>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(fd) = self.take_fd() {
            if let Err(code) = close_fd(fd) {
                note_close_failure(fd, code);
            }
        }
    }
}

thread_local! {
    /// The fd and code of the last close(2) that failed in this thread.
    static CLOSE_ERROR: std::cell::Cell<(RawFd, i32)> = const { std::cell::Cell::new((-1, 0)) };
}

/// Runs `f` (which may drop the last use of sockets) and reports the first
/// close(2) failure among those it dropped in this thread.
pub(crate) fn closing<T>(f: impl FnOnce() -> T) -> (T, Result<()>) {
    CLOSE_ERROR.set((-1, 0));
    let v = f();
    let r = match CLOSE_ERROR.replace((-1, 0)) {
        (_, 0) => Ok(()),
        (fd, code) => Err(close_failure(fd, code)),
    };
    (v, r)
}

/// Records a failed close(2) of a socket's fd for `closing`.
#[cold]
pub(crate) fn note_close_failure(fd: RawFd, code: i32) {
    CLOSE_ERROR.set((fd, code));
}

/// The error polysock_close reports for a failed close(2).
#[cold]
pub(crate) fn close_failure(fd: RawFd, code: i32) -> Error {
    match code {
        libc::EBADF => Error::new(
            libc::EBADF,
            format_args!("close: fd {fd} was already closed (by something other than polysock)"),
        ),
        _ => Error::new(code, format_args!("close: fd {fd}")),
    }
}

/// close(2) of a socket's fd number; the code when it failed (EINTR is
/// not a failure: the fd is gone on Linux). close(2) itself, not an
/// OwnedFd drop (`Socket::sock` is never dropped): std aborts (debug
/// builds) when the fd was closed behind our back; the kernel says EBADF,
/// which the thread that closes can report.
pub(crate) fn close_fd(fd: RawFd) -> std::result::Result<(), i32> {
    // SAFETY: the caller owned the fd, and nothing uses it after this.
    if unsafe { libc::close(fd) } != 0 {
        let code = errno::errno().0;
        if code != libc::EINTR {
            return Err(code);
        }
    }
    Ok(())
}

impl Socket {
    /// The socket is going away: out of every poller while the fd is still
    /// open and its number still ours; then the fd to close, unless it was
    /// detached (it is marked detached now, so this happens once).
    #[inline]
    pub(crate) fn take_fd(&mut self) -> Option<RawFd> {
        // One check for what a plain socket never has, so its close does
        // not pay the register saves of the loop below.
        if !self.watchers.is_empty() {
            self.notify_watchers_cold();
        }
        let state = self.state.get_mut();
        let detached = *state & DETACHED != 0;
        *state |= DETACHED;
        (!detached).then_some(self.fd())
    }

    /// Whether dropping this socket would release nothing and tell
    /// nobody: no poller ever watched it (its list never allocated), no
    /// readline ran on it, it was never wrapped in TLS. Every other field
    /// is plain data (`sock` is ManuallyDrop: its fd is closed by
    /// `close_fd`), so such a socket may be overwritten without its drop
    /// (`handles::retire_in_place`): one check instead of the drop glue.
    #[inline(always)]
    pub(crate) fn is_plain(&mut self) -> bool {
        self.watchers.never_used() && !self.reader.started() && self.tls.get().is_none()
    }

    /// The fd a plain socket's retire closes: its own, unless detached.
    #[inline(always)]
    pub(crate) fn fd_to_close(&self) -> Option<RawFd> {
        let state = self.state.load(Ordering::Relaxed);
        (state & DETACHED == 0).then_some(self.fd())
    }

    /// Whoever keeps this socket's fd number in a list of its own forgets
    /// it now, while the fd is still open: the pollers that watch it.
    #[cold]
    #[inline(never)]
    fn notify_watchers_cold(&mut self) {
        let (fd, id) = (self.fd(), self.id());
        self.watchers.socket_closing(fd, id);
    }
}

impl Socket {
    /// A new socket, close-on-exec, with the process default timeout.
    /// SOCK_NONBLOCK in `socktype` (Linux) starts it non-blocking.
    pub fn new(family: i32, socktype: i32, protocol: i32) -> Result<Socket> {
        let (sock, base_type, timeout) = open(family, socktype, protocol)?;
        Ok(Socket::build(sock, family, base_type, protocol, timeout, 0))
    }

    /// `new`, registered: the handle of a socket built in its table slot.
    #[inline(always)]
    pub fn new_handle(family: i32, socktype: i32, protocol: i32) -> Result<super::handles::Handle> {
        let (sock, base_type, timeout) = open(family, socktype, protocol)?;
        super::handles::insert_new(sock, |sock| {
            Socket::build(sock, family, base_type, protocol, timeout, 0)
        })
    }

    /// A connected pair (AF_UNIX on every platform).
    pub fn pair(family: i32, socktype: i32, protocol: i32) -> Result<(Socket, Socket)> {
        let (base_type, nonblock) = split_type_flags(socktype);
        let proto = (protocol != 0).then_some(Protocol::from(protocol));
        let (a, b) = socket2::Socket::pair(Domain::from(family), Type::from(base_type), proto)
            .map_err(|e| {
                Error::new(
                    e.raw_os_error().unwrap_or(libc::EINVAL),
                    format_args!("socketpair(family {family}, type {socktype})"),
                )
            })?;
        let timeout = if nonblock { 0 } else { default_timeout() };
        let a = Socket::wrap(
            a,
            family,
            base_type,
            protocol,
            timeout,
            CONNECTED,
            Fresh::Blocking,
        )?;
        let b = Socket::wrap(
            b,
            family,
            base_type,
            protocol,
            timeout,
            CONNECTED,
            Fresh::Blocking,
        )?;
        Ok((a, b))
    }

    fn wrap(
        sock: socket2::Socket,
        family: i32,
        socktype: i32,
        protocol: i32,
        timeout: i64,
        state: u32,
        fresh: Fresh,
    ) -> Result<Socket> {
        prepare(&sock, timeout, fresh)?;
        Ok(Socket::build(
            sock, family, socktype, protocol, timeout, state,
        ))
    }

    /// The socket object around `sock`, whose fd is already in the mode
    /// `timeout` asks for (`prepare`).
    #[inline(always)]
    fn build(
        sock: socket2::Socket,
        family: i32,
        socktype: i32,
        protocol: i32,
        timeout: i64,
        state: u32,
    ) -> Socket {
        Socket {
            sock: ManuallyDrop::new(sock),
            family,
            socktype,
            protocol,
            timeout_ms: AtomicI64::new(timeout),
            id: AtomicUsize::new(0),
            state: AtomicU32::new(state),
            reader: Reader::new(),
            watchers: Watchers::new(),
            tls: OnceLock::new(),
        }
    }

    /// Takes ownership of `fd`, an open socket: marks it close-on-exec and
    /// learns its family, type, protocol and state from the kernel.
    pub fn adopt(fd: RawFd) -> Result<Socket> {
        if fd < 0 {
            return fail!(libc::EBADF, "adopt fd {fd}: not a file descriptor");
        }
        // SAFETY: the caller hands us ownership of an open fd.
        let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
        let int = |name| get_int(fd, libc::SOL_SOCKET, name);
        let socktype = match int(libc::SO_TYPE) {
            Ok(t) => t,
            Err(e) => {
                // Not ours to close: hand it back untouched.
                std::mem::forget(sock);
                return fail!(e, "adopt fd {fd}");
            }
        };
        if let Err(e) = sock.set_cloexec(true) {
            std::mem::forget(sock);
            return fail!(
                e.raw_os_error().unwrap_or(libc::EBADF),
                "adopt fd {fd}: setting close-on-exec"
            );
        }
        let local = sock.local_addr().ok();
        let family = local
            .as_ref()
            .map_or(libc::AF_UNSPEC, |a| i32::from(a.family()));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let protocol = int(libc::SO_PROTOCOL).unwrap_or(0);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let protocol = 0;
        let mut state = 0;
        if local.as_ref().is_some_and(is_bound_addr) {
            state |= BOUND;
        }
        if int(libc::SO_ACCEPTCONN).unwrap_or(0) != 0 {
            state |= LISTENING;
        }
        if sock.peer_addr().is_ok() {
            state |= CONNECTED;
        }
        Socket::wrap(
            sock,
            family,
            socktype,
            protocol,
            default_timeout(),
            state,
            Fresh::Unknown,
        )
    }

    /// A new socket on a duplicate of `fd` (which stays the caller's).
    pub fn from_fd_dup(fd: RawFd) -> Result<Socket> {
        Socket::adopt(dup_cloexec("fromfd", fd)?)
    }

    /// A new, independent socket on a duplicate of this one's fd.
    pub fn dup(&self) -> Result<Socket> {
        self.refuse_tls("dup")?;
        let s = Socket::adopt(dup_cloexec("dup", self.fd())?)?;
        s.set_timeout(self.timeout())?;
        Ok(s)
    }

    /// This socket's identity, unique for the life of the process: the
    /// same number from the first call on.
    #[inline]
    pub(crate) fn id(&self) -> usize {
        match self.id.load(Ordering::Relaxed) {
            0 => self.first_id(),
            id => id,
        }
    }

    /// `id`'s first call: a new number, unless a racing first call's won.
    #[cold]
    #[inline(never)]
    fn first_id(&self) -> usize {
        let new = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        match self
            .id
            .compare_exchange(0, new, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => new,
            Err(won) => won,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
    pub fn family(&self) -> i32 {
        self.family
    }
    pub fn socktype(&self) -> i32 {
        self.socktype
    }
    pub fn protocol(&self) -> i32 {
        self.protocol
    }
    pub fn state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }
    /// Asks the CPU for the line `state` is in (a hint, nothing more).
    #[inline]
    pub(crate) fn prefetch_state(&self) {
        super::prefetch(&self.state);
    }
    fn set_state(&self, flags: u32) {
        self.state.fetch_or(flags, Ordering::AcqRel);
    }
    pub fn timeout(&self) -> i64 {
        self.timeout_ms.load(Ordering::Relaxed)
    }

    /// Python's settimeout in ms: -1 blocks, 0 is non-blocking (EAGAIN),
    /// >0 limits every blocking call, which then fails with ETIMEDOUT.
    pub fn set_timeout(&self, ms: i64) -> Result<()> {
        check_timeout("settimeout", ms)?;
        self.sock.set_nonblocking(ms >= 0).map_err(|e| {
            Error::new(
                e.raw_os_error().unwrap_or(libc::EBADF),
                format_args!("settimeout"),
            )
        })?;
        self.timeout_ms.store(ms, Ordering::Relaxed);
        Ok(())
    }

    /// The deadline for one blocking call started now.
    pub(crate) fn deadline(&self) -> Deadline {
        Deadline::after_ms(self.timeout())
    }

    /// Fails with EBADF if the socket was closed while this call ran.
    pub(crate) fn check_open(&self, op: &str) -> Result<()> {
        if self.state() & CLOSED != 0 {
            return fail!(libc::EBADF, "{op}: the socket was closed by another thread");
        }
        Ok(())
    }

    /// Called by the handle table when the owner closes a socket that other
    /// calls still hold: wake them (shutdown makes blocked accept, recv,
    /// connect and poll return at once); the fd itself closes when the last
    /// holder lets go, so its number cannot be reused under them.
    pub(crate) fn close_while_in_use(&self) {
        self.set_state(CLOSED);
        // SAFETY: plain syscall on our own open fd; errors are irrelevant.
        unsafe { libc::shutdown(self.fd(), libc::SHUT_RDWR) };
    }

    /// Gives the fd up: it will not be closed when this object goes.
    pub(crate) fn detach(&self) -> RawFd {
        self.set_state(DETACHED);
        self.fd()
    }

    fn sockaddr(
        &self,
        op: &str,
        host: Option<&str>,
        port: i32,
        purpose: Purpose,
    ) -> Result<SockAddr> {
        addr::to_sockaddr(op, self.family, self.socktype, host, port, purpose)
    }

    pub fn bind(&self, host: Option<&str>, port: i32) -> Result<()> {
        let sa = self.sockaddr("bind", host, port, Purpose::Bind)?;
        self.bind_addr("bind", &sa)
    }

    /// An AF_UNIX name as bytes (addr::UnixName's form) for this socket.
    pub(crate) fn unix_name(&self, op: &str, name: &[u8]) -> Result<SockAddr> {
        self.require_unix(op)?;
        addr::unix_name_sockaddr(op, name)
    }

    /// EAFNOSUPPORT unless this is an AF_UNIX socket.
    pub fn require_unix(&self, op: &str) -> Result<()> {
        if self.family != libc::AF_UNIX {
            return fail!(
                libc::EAFNOSUPPORT,
                "{op}: not an AF_UNIX socket (family {})",
                self.family
            );
        }
        Ok(())
    }

    /// Binds to an AF_UNIX name given as bytes (NULs inside an abstract
    /// name, a path that is not UTF-8).
    pub fn bind_unix(&self, name: &[u8]) -> Result<()> {
        let sa = self.unix_name("bind_unix", name)?;
        self.bind_addr("bind_unix", &sa)
    }

    fn bind_addr(&self, op: &str, sa: &SockAddr) -> Result<()> {
        self.sock.bind(sa).map_err(|e| os_err(e, op, sa))?;
        self.set_state(BOUND);
        Ok(())
    }

    /// Negative backlog: DEFAULT_BACKLOG.
    pub fn listen(&self, backlog: i32) -> Result<()> {
        let backlog = if backlog < 0 {
            DEFAULT_BACKLOG
        } else {
            backlog
        };
        self.sock.listen(backlog).map_err(|e| {
            Error::new(
                e.raw_os_error().unwrap_or(libc::EINVAL),
                format_args!("listen(backlog {backlog})"),
            )
        })?;
        self.set_state(LISTENING | BOUND);
        Ok(())
    }

    /// Connects within the socket's timeout. On a non-blocking socket
    /// (timeout 0) an unfinished connect fails with EINPROGRESS.
    pub fn connect(&self, host: Option<&str>, port: i32) -> Result<()> {
        self.connect_host(host.map(Host::Text), port)
    }

    /// `connect` for a host the C ABI may have read as an IPv4 literal
    /// already (`addr::ipv4_of_c`).
    #[inline(always)]
    pub(crate) fn connect_host(&self, host: Option<Host<'_>>, port: i32) -> Result<()> {
        // Built in place: an IPv4 literal never goes through socket2's
        // 128-byte storage.
        let mut sa = RawAddr::new();
        sa.set_dest_host("connect", self.family, self.socktype, host, port)?;
        self.connect_addr(&sa)
    }

    /// Connects to an AF_UNIX name given as bytes, as `bind_unix`.
    pub fn connect_unix(&self, name: &[u8]) -> Result<()> {
        let sa = self.unix_name("connect_unix", name)?;
        self.connect_addr(&sa)
    }

    /// A connect that completes at once (every blocking connect on
    /// loopback) is the system call and a state bit; the rest out of line.
    #[inline]
    pub fn connect_addr(&self, sa: &impl KernelAddr) -> Result<()> {
        let deadline = self.deadline();
        // SAFETY: sa points to sa.socklen() bytes of a valid sockaddr.
        if unsafe { libc::connect(self.fd(), sa.as_sockaddr(), sa.socklen()) } == 0 {
            self.set_state(CONNECTED | CLIENT);
            return Ok(());
        }
        self.connect_went_on(sa, deadline)
    }

    /// `connect_addr` once connect(2) failed or went on in the kernel: wait
    /// for it, then read its outcome (calling connect() again is not
    /// portable).
    #[cold]
    #[inline(never)]
    fn connect_went_on(&self, sa: &impl KernelAddr, deadline: Deadline) -> Result<()> {
        self.connect_errno(sa)?;
        if self.timeout() == 0 {
            return Err(os_code(libc::EINPROGRESS, "connect", sa));
        }
        wait::wait_fd(self.fd(), libc::POLLOUT, deadline).map_err(|e| retag(e, "connect", sa))?;
        self.connect_outcome(sa)
    }

    /// Starts a connect without waiting for it: true when it completed at
    /// once, false when it goes on in the kernel (EINPROGRESS, or EINTR:
    /// the kernel carries on either way); then wait for POLLOUT and call
    /// `connect_outcome`. create_connection's race uses the pair to wait
    /// for several attempts at once.
    pub(crate) fn start_connect(&self, sa: &impl KernelAddr) -> Result<bool> {
        // SAFETY: sa points to sa.socklen() bytes of a valid sockaddr.
        let rc = unsafe { libc::connect(self.fd(), sa.as_sockaddr(), sa.socklen()) };
        if rc == 0 {
            self.set_state(CONNECTED | CLIENT);
            return Ok(true);
        }
        self.connect_errno(sa).map(|()| false)
    }

    /// What the errno of a connect(2) that returned -1 means: Ok when the
    /// connect goes on in the kernel (EINPROGRESS, or EINTR: the kernel
    /// carries on either way), else the failure.
    fn connect_errno(&self, sa: &impl KernelAddr) -> Result<()> {
        match errno::errno().0 {
            libc::EINPROGRESS => Ok(()),
            libc::EINTR => {
                // The connect goes on in the kernel; a blocking one asks the
                // host whether to end the call here.
                if self.timeout() != 0 {
                    super::interrupt::check("connect")?;
                }
                Ok(())
            }
            code => {
                self.check_open("connect")?;
                Err(os_code(code, "connect", sa))
            }
        }
    }

    /// The outcome of a started connect once the socket is writable: its
    /// SO_ERROR, with connect's message.
    pub(crate) fn connect_outcome(&self, sa: &impl KernelAddr) -> Result<()> {
        self.check_open("connect")?;
        match self.sock.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Err(os_err(e, "connect", sa)),
        }
        self.set_state(CONNECTED | CLIENT);
        Ok(())
    }

    /// Finishes a connect that a non-blocking socket left in progress
    /// (EINPROGRESS), once the socket is writable: reads and clears
    /// SO_ERROR. Ok when connected (the socket is then marked connected);
    /// EINPROGRESS while the connect is still under way; the connect's own
    /// failure (ECONNREFUSED, ETIMEDOUT...), reported once; ENOTCONN when
    /// no connect is pending (never started, or its failure was reported).
    pub fn finish_connect(&self) -> Result<()> {
        let op = "finish_connect";
        match get_int(self.fd(), libc::SOL_SOCKET, libc::SO_ERROR) {
            Ok(0) => {}
            Ok(code) => return fail!(code, "{op}: the connect failed"),
            Err(code) => return fail!(code, "{op}"),
        }
        if self.sock.peer_addr().is_ok() {
            self.set_state(CONNECTED | CLIENT);
            return Ok(());
        }
        // Not connected and no error: still connecting, or never was. A
        // pending connect is not yet writable; an idle socket is.
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        while unsafe { libc::poll(&mut pfd, 1, 0) } < 0 && errno::errno().0 == libc::EINTR {}
        if pfd.revents == 0 {
            return fail!(
                libc::EINPROGRESS,
                "{op}: the connect is still in progress (wait until the socket is writable)"
            );
        }
        fail!(
            libc::ENOTCONN,
            "{op}: no connect in progress (none was started, or its failure was already reported)"
        )
    }

    /// Accepts one connection within the socket's timeout; the new socket
    /// is close-on-exec, has the process default timeout, and comes with the
    /// peer's address.
    pub fn accept(&self) -> Result<(Socket, Addr)> {
        let mut peer = RawAddr::new();
        let s = self.accept_with(Some(&mut peer))?;
        Ok((s, peer.to_addr()))
    }

    /// accept(), writing the peer's address as the kernel gave it into
    /// `peer` if given (formatting it as text costs more than the accept,
    /// so that is left to callers who want it); without it the kernel does
    /// not copy it either.
    pub(crate) fn accept_with(&self, peer: Option<&mut RawAddr>) -> Result<Socket> {
        let sock = self.accept_fd(peer)?;
        Socket::wrap(
            sock,
            self.family,
            self.socktype,
            self.protocol,
            default_timeout(),
            CONNECTED | BOUND,
            ACCEPTED,
        )
    }

    /// `accept_with`, registered: the new connection's handle, its socket
    /// built in its table slot.
    #[inline(always)]
    pub(crate) fn accept_handle(
        &self,
        peer: Option<&mut RawAddr>,
    ) -> Result<super::handles::Handle> {
        let sock = self.accept_fd(peer)?;
        let timeout = default_timeout();
        prepare(&sock, timeout, ACCEPTED)?;
        let (family, socktype, protocol) = (self.family, self.socktype, self.protocol);
        super::handles::insert_new(sock, |sock| {
            Socket::build(sock, family, socktype, protocol, timeout, CONNECTED | BOUND)
        })
    }

    /// The accept(2) loop of `accept_with`, within the socket's timeout.
    #[inline(always)]
    fn accept_fd(&self, mut peer: Option<&mut RawAddr>) -> Result<socket2::Socket> {
        let deadline = self.deadline();
        loop {
            match accept_once(self.fd(), peer.as_deref_mut()) {
                Ok(sock) => return Ok(sock),
                Err(code) => self.accept_failed(code, deadline)?,
            }
        }
    }

    /// What a failed accept(2) means: try again (interrupted, aborted, or
    /// woken within the timeout) or fail.
    #[cold]
    #[inline(never)]
    fn accept_failed(&self, code: i32, deadline: Deadline) -> Result<()> {
        self.check_open("accept")?;
        match code {
            libc::EINTR => super::interrupt::check("accept")?,
            libc::ECONNABORTED => return Ok(()),
            libc::EAGAIN if self.timeout() > 0 => wait::wait_fd(self.fd(), libc::POLLIN, deadline)
                .map_err(|e| retag_op(e, "accept"))?,
            _ => return fail!(blocking_code(code, self.timeout()), "accept"),
        }
        self.check_open("accept")
    }

    /// The socket for `fd`, a connection the kernel accepted on this
    /// listener with SOCK_NONBLOCK | SOCK_CLOEXEC (a ring's accept): timeout
    /// 0, no system call.
    pub(crate) fn accepted_nonblocking(&self, fd: RawFd) -> Result<Socket> {
        // SAFETY: the caller hands over a new fd that nothing else owns.
        let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
        Socket::wrap(
            sock,
            self.family,
            self.socktype,
            self.protocol,
            0,
            CONNECTED | BOUND,
            Fresh::NonBlocking,
        )
    }

    /// how: SHUT_RD, SHUT_WR or SHUT_RDWR.
    pub fn shutdown(&self, how: i32) -> Result<()> {
        let flags = match how {
            libc::SHUT_RD => SHUT_RD,
            libc::SHUT_WR => SHUT_WR,
            libc::SHUT_RDWR => SHUT_RD | SHUT_WR,
            _ => {
                return fail!(
                    libc::EINVAL,
                    "shutdown: how {how} is not SHUT_RD, SHUT_WR or SHUT_RDWR"
                );
            }
        };
        self.tls_shutdown(how)?;
        // SAFETY: plain syscall on our own fd.
        if unsafe { libc::shutdown(self.fd(), how) } != 0 {
            return Err(Error::last_os(format_args!("shutdown")));
        }
        self.set_state(flags);
        Ok(())
    }

    pub fn local_addr(&self) -> Result<Addr> {
        Ok(Addr::from_sockaddr(&self.local_sockaddr("getsockname")?))
    }

    pub fn peer_addr(&self) -> Result<Addr> {
        Ok(Addr::from_sockaddr(&self.peer_sockaddr("getpeername")?))
    }

    pub fn local_sockaddr(&self, op: &str) -> Result<SockAddr> {
        self.sock.local_addr().map_err(|e| {
            Error::new(
                e.raw_os_error().unwrap_or(libc::EBADF),
                format_args!("{op}"),
            )
        })
    }

    pub fn peer_sockaddr(&self, op: &str) -> Result<SockAddr> {
        self.sock.peer_addr().map_err(|e| {
            Error::new(
                e.raw_os_error().unwrap_or(libc::EBADF),
                format_args!("{op}"),
            )
        })
    }
}

/// One accept(2), close-on-exec, with the peer's address if wanted; the
/// errno code on failure.
fn accept_once(fd: RawFd, peer: Option<&mut RawAddr>) -> std::result::Result<socket2::Socket, i32> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        let (sa, lenp) = match peer {
            Some(p) => p.for_kernel(),
            None => (std::ptr::null_mut(), std::ptr::null_mut()),
        };
        // SAFETY: sa/lenp are NULL or point to the peer's storage and its size.
        let new = unsafe { libc::accept4(fd, sa, lenp, libc::SOCK_CLOEXEC) };
        if new < 0 {
            return Err(errno::errno().0);
        }
        // SAFETY: accept4 returned a new fd that we now own.
        Ok(unsafe { socket2::Socket::from_raw_fd(new) })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // socket2 sets close-on-exec (and SO_NOSIGPIPE) where accept4 is missing.
        // SAFETY: fd is a listening socket this Socket owns for the call.
        let listener = std::mem::ManuallyDrop::new(unsafe { socket2::Socket::from_raw_fd(fd) });
        let (s, a) = listener
            .accept()
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
        if let Some(p) = peer {
            p.set_sockaddr(&a);
        }
        Ok(s)
    }
}

/// What an accepted fd's mode is known to be: BSDs let the new fd inherit
/// O_NONBLOCK from the listener.
const ACCEPTED: Fresh = if cfg!(any(target_os = "linux", target_os = "android")) {
    Fresh::Blocking
} else {
    Fresh::Unknown
};

/// socket(2) for `Socket::new`: the fd, close-on-exec, in the mode the
/// timeout asks for; its type without the flags; that timeout.
#[inline(always)]
fn open(family: i32, socktype: i32, protocol: i32) -> Result<(socket2::Socket, i32, i64)> {
    let (base_type, nonblock) = split_type_flags(socktype);
    // socket(2) itself where SOCK_CLOEXEC rides in the type (what socket2
    // does there, without its Result); elsewhere socket2, which sets
    // close-on-exec (and SO_NOSIGPIPE on Apple).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let sock = {
        // SAFETY: socket(2) with plain integers.
        let fd = unsafe { libc::socket(family, base_type | libc::SOCK_CLOEXEC, protocol) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return Err(socket_failed(e, family, base_type, protocol));
        }
        // SAFETY: socket(2) returned a new fd that we now own.
        unsafe { socket2::Socket::from_raw_fd(fd) }
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let sock = match socket2::Socket::new(
        Domain::from(family),
        Type::from(base_type),
        (protocol != 0).then_some(Protocol::from(protocol)),
    ) {
        Ok(sock) => sock,
        Err(e) => return Err(socket_failed(e, family, base_type, protocol)),
    };
    let timeout = if nonblock { 0 } else { default_timeout() };
    prepare(&sock, timeout, Fresh::Blocking)?;
    Ok((sock, base_type, timeout))
}

#[cold]
#[inline(never)]
fn socket_failed(e: std::io::Error, family: i32, base_type: i32, protocol: i32) -> Error {
    let code = e.raw_os_error().unwrap_or(libc::EINVAL);
    let hint = if code == libc::EPERM || code == libc::EACCES {
        " (raw sockets need CAP_NET_RAW)"
    } else {
        ""
    };
    Error::new(
        code,
        format_args!(
            "socket({}, {}, {protocol}){hint}",
            constants::name_of("AF_", family.into()),
            constants::name_of("SOCK_", base_type.into())
        ),
    )
}

/// Puts a new socket's fd in the mode `timeout` asks for (O_NONBLOCK
/// exactly when it is >= 0), unless `fresh` says it is in it already:
/// that spares the two fcntl calls of every socket() and accept() with
/// the default timeout.
#[inline(always)]
fn prepare(sock: &socket2::Socket, timeout: i64, fresh: Fresh) -> Result<()> {
    if (timeout < 0 && fresh == Fresh::Blocking) || (timeout == 0 && fresh == Fresh::NonBlocking) {
        return Ok(());
    }
    set_mode(sock, timeout)
}

/// `set_timeout`'s check and fcntl for a socket not yet built.
#[inline(never)]
fn set_mode(sock: &socket2::Socket, ms: i64) -> Result<()> {
    check_timeout("settimeout", ms)?;
    sock.set_nonblocking(ms >= 0).map_err(|e| {
        Error::new(
            e.raw_os_error().unwrap_or(libc::EBADF),
            format_args!("settimeout"),
        )
    })
}

/// Whether a wrapped fd is known to be in blocking mode (just made by
/// socket(), socketpair() or accept() without SOCK_NONBLOCK) or could be in
/// either (adopted).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    Blocking,
    /// Made with SOCK_NONBLOCK (a ring's accept).
    NonBlocking,
    Unknown,
}

/// SOCK_NONBLOCK and SOCK_CLOEXEC ride in the type on Linux: strip them (we
/// always set close-on-exec) and report whether non-blocking was asked for.
fn split_type_flags(socktype: i32) -> (i32, bool) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        let base = socktype & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        (base, socktype & libc::SOCK_NONBLOCK != 0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    (socktype, false)
}

fn is_bound_addr(sa: &SockAddr) -> bool {
    match sa.as_socket() {
        Some(s) => s.port() != 0,
        None => !sa.is_unnamed(),
    }
}

fn dup_cloexec(op: &str, fd: RawFd) -> Result<RawFd> {
    // SAFETY: fcntl on any integer is memory-safe; failure is reported.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(Error::last_os(format_args!("{op} fd {fd}")));
    }
    Ok(new)
}

/// getsockopt of an int; the errno code on failure.
pub(crate) fn get_int(fd: RawFd, level: i32, name: i32) -> std::result::Result<i32, i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        Err(errno::errno().0)
    } else {
        Ok(v)
    }
}

/// EAGAIN on a socket in blocking mode can only come from SO_RCVTIMEO or
/// SO_SNDTIMEO: report it as the timeout it is.
pub(crate) fn blocking_code(code: i32, timeout: i64) -> i32 {
    if code == libc::EAGAIN && timeout < 0 {
        libc::ETIMEDOUT
    } else {
        code
    }
}

fn os_err(e: std::io::Error, op: &str, sa: &impl KernelAddr) -> Error {
    os_code(e.raw_os_error().unwrap_or(libc::EINVAL), op, sa)
}

fn os_code(code: i32, op: &str, sa: &impl KernelAddr) -> Error {
    Error::new(code, format_args!("{op} {}", sa.text()))
}

/// A wait error (ETIMEDOUT...) with the operation and address as context.
fn retag(e: Error, op: &str, sa: &impl KernelAddr) -> Error {
    Error::new(
        e.code(),
        format_args!("{op} {}: {}", sa.text(), e.context()),
    )
}

fn retag_op(e: Error, op: &str) -> Error {
    Error::new(e.code(), format_args!("{op}: {}", e.context()))
}

/// A snapshot of a socket, as plain data. In C: `polysock_socket_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Info {
    pub family: i32,
    /// SOCK_STREAM, SOCK_DGRAM, ... (without SOCK_NONBLOCK/SOCK_CLOEXEC).
    pub socktype: i32,
    pub protocol: i32,
    /// The OS file descriptor.
    pub fd: i32,
    /// -1 blocks, 0 is non-blocking, >0 limits each blocking call (ms).
    pub timeout_ms: i64,
    /// 1 unless the timeout is 0 (CPython's getblocking).
    pub blocking: i32,
    /// bind() succeeded, or the socket was accepted/listening/adopted bound.
    pub bound: i32,
    /// listen() succeeded.
    pub listening: i32,
    /// connect() succeeded, or the socket came from accept()/socketpair().
    pub connected: i32,
    /// Connected by this socket's own connect() (not accepted).
    pub client: i32,
    /// -1 when not shut down, else SHUT_RD, SHUT_WR or SHUT_RDWR: what
    /// shutdown() has closed so far.
    pub shutdown: i32,
    /// The local address (family 0 if the kernel reports none).
    pub local: Addr,
    /// The peer address (family 0 when not connected).
    pub peer: Addr,
}

impl Socket {
    pub fn info(&self) -> Info {
        let st = self.state();
        let flag = |f: u32| i32::from(st & f != 0);
        let shutdown = match st & (SHUT_RD | SHUT_WR) {
            0 => -1,
            SHUT_RD => libc::SHUT_RD,
            SHUT_WR => libc::SHUT_WR,
            _ => libc::SHUT_RDWR,
        };
        let timeout = self.timeout();
        Info {
            family: self.family,
            socktype: self.socktype,
            protocol: self.protocol,
            fd: self.fd(),
            timeout_ms: timeout,
            blocking: i32::from(timeout != 0),
            bound: flag(BOUND),
            listening: flag(LISTENING),
            connected: flag(CONNECTED),
            client: flag(CLIENT),
            shutdown,
            local: self.local_addr().unwrap_or(Addr::empty()),
            peer: self.peer_addr().unwrap_or(Addr::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_takes_its_id_when_first_asked_and_keeps_it() {
        let dgram = || Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        let (a, b) = (dgram(), dgram());
        assert_eq!(a.id.load(Ordering::Relaxed), 0, "made without one");
        let id = a.id();
        assert_ne!(id, 0);
        assert_eq!(a.id(), id, "the same number from the first call on");
        assert_ne!(b.id(), id, "unique");
        // Racing first calls agree on one number.
        let c = dgram();
        let ids: Vec<usize> = std::thread::scope(|s| {
            let calls: Vec<_> = (0..4).map(|_| s.spawn(|| c.id())).collect();
            calls.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|&i| i == c.id()), "{ids:?}");
    }
}
