//! Vectored and ancillary I/O: sendmsg/recvmsg over arrays of buffers,
//! passing a socket to another process over AF_UNIX (SCM_RIGHTS), and
//! sendmmsg/recvmmsg batches. Like every data call they honour the socket's
//! timeout, resume after EINTR, add MSG_NOSIGNAL to sends, and never
//! allocate: the caller's buffer array is handed to the kernel as it is,
//! and addresses and control data live on the stack.

use super::addr::{self, Addr, Purpose};
use super::error::{Error, Result, fail};
use super::io::NOSIGNAL;
use super::socket::{Socket, get_int};
use socket2::{SockAddr, SockAddrStorage};
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

/// The most buffers one vectored call takes (Linux's UIO_MAXIOV, and the
/// IOV_MAX of macOS and the BSDs).
pub const POLYSOCK_IOV_MAX: usize = 1024;

/// The most messages one polysock_sendmmsg/polysock_recvmmsg call handles;
/// a larger count handles the first POLYSOCK_MMSG_MAX (the return value
/// says how many), so no call allocates.
pub const POLYSOCK_MMSG_MAX: usize = 64;

/// The most descriptors recv_handle accepts in one message; it keeps the
/// first and closes the others.
const MAX_FDS: usize = 8;

/// Asks the kernel to make received descriptors close-on-exec as it
/// creates them; where it cannot, they are marked right after.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
const CLOEXEC: i32 = libc::MSG_CMSG_CLOEXEC;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
const CLOEXEC: i32 = 0;

/// What one recvmsg_control received.
pub struct Received {
    /// The bytes stored (with MSG_TRUNC in the call's flags, a datagram's
    /// real length).
    pub len: usize,
    /// The sender (family 0 when the kernel names none).
    pub from: Addr,
    /// The message's flags: MSG_TRUNC, MSG_CTRUNC, MSG_EOR, MSG_OOB...
    pub flags: i32,
    /// The bytes of control data the kernel wrote.
    pub control_len: usize,
}

/// A control buffer's length as the platform's msghdr holds it.
fn control_len<T: TryFrom<usize>>(op: &str, len: usize) -> Result<T> {
    T::try_from(len).or_else(|_| {
        fail!(
            libc::EINVAL,
            "{op}: control length {len} is too large for this platform"
        )
    })
}

/// Calls `f` with every descriptor of the SCM_RIGHTS messages in
/// `control`, a buffer of cmsghdrs as the kernel wrote it (at any
/// alignment: headers are read unaligned). A header that claims more bytes
/// than the buffer holds ends the walk.
fn for_each_fd(control: &[u8], mut f: impl FnMut(RawFd)) {
    const HDR: usize = size_of::<libc::cmsghdr>();
    // SAFETY: arithmetic only. The data's offset in a message, and a
    // message's room with its padding (the platform's CMSG_ALIGN).
    let data_at = unsafe { libc::CMSG_LEN(0) } as usize;
    let space = |len: usize| unsafe { libc::CMSG_SPACE((len - data_at) as _) } as usize;
    let mut at = 0;
    while control.len().saturating_sub(at) >= HDR {
        // SAFETY: HDR bytes from `at` are inside the buffer; cmsghdr is
        // plain C data, read unaligned.
        let h: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control.as_ptr().add(at).cast()) };
        let len = h.cmsg_len as usize;
        if len < data_at || len > control.len() - at {
            return;
        }
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
            let data = &control[at + data_at..at + len];
            for fd in data.chunks_exact(size_of::<RawFd>()) {
                f(RawFd::from_ne_bytes(fd.try_into().expect("chunks of 4")));
            }
        }
        at += space(len);
    }
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: fd is a descriptor the kernel just gave us.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Room for a control message with MAX_FDS descriptors, aligned for
/// cmsghdr.
#[repr(C, align(8))]
struct ControlBuf([u8; 64]);

/// The buffers of one vectored call: the caller's array, in the platform's
/// `struct iovec` layout, checked.
#[derive(Clone, Copy)]
pub struct Bufs<'a> {
    iov: &'a [libc::iovec],
    total: usize,
}

impl<'a> Bufs<'a> {
    pub const fn empty() -> Bufs<'a> {
        Bufs { iov: &[], total: 0 }
    }

    /// Checks the array: no NULL base with a length, a total that fits
    /// ssize_t. (The C layer checks the count against POLYSOCK_IOV_MAX
    /// before it makes the slice.)
    ///
    /// # Safety
    /// Each entry's `iov_base` must be valid for `iov_len` bytes for 'a:
    /// readable for a send, writable for a receive, and not otherwise
    /// borrowed by Rust code meanwhile.
    #[inline(always)]
    pub unsafe fn new(op: &str, iov: &'a [libc::iovec]) -> Result<Bufs<'a>> {
        // Only whether anything is wrong is noted here: which thing, and
        // its message, are found again out of line (a batch checks every
        // message's buffers). One buffer, the usual message, on its own.
        if let [v] = iov {
            if (v.iov_base.is_null() && v.iov_len > 0) || v.iov_len > isize::MAX as usize {
                return Err(refusal(op, iov));
            }
            return Ok(Bufs {
                iov,
                total: v.iov_len,
            });
        }
        let mut total: usize = 0;
        let mut bad = false;
        for v in iov {
            bad |= v.iov_base.is_null() && v.iov_len > 0;
            let (t, overflow) = total.overflowing_add(v.iov_len);
            bad |= overflow;
            total = t;
        }
        if bad || total > isize::MAX as usize {
            return Err(refusal(op, iov));
        }
        Ok(Bufs { iov, total })
    }

    /// The number of buffers.
    pub fn count(&self) -> usize {
        self.iov.len()
    }

    /// The bytes the buffers hold in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Copies `src` into the buffers in order; returns the bytes copied.
    fn scatter(&self, src: &[u8]) -> usize {
        let mut done = 0;
        for v in self.iov {
            if done == src.len() {
                break;
            }
            let n = v.iov_len.min(src.len() - done);
            // SAFETY: iov_base is writable for iov_len >= n bytes (the
            // contract of `new`), and src is our own buffer: no overlap.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr().add(done), v.iov_base.cast(), n) };
            done += n;
        }
        done
    }

    fn set_on(&self, msg: &mut libc::msghdr) {
        msg.msg_iov = self.iov.as_ptr().cast_mut();
        msg.msg_iovlen = self.iov.len() as _;
    }

    /// A msghdr over these buffers, with no address and no control data.
    pub(crate) fn msghdr(&self) -> libc::msghdr {
        let mut m = msghdr();
        self.set_on(&mut m);
        m
    }
}

/// The error for buffers `Bufs::new` found wrong: the first NULL buffer
/// with a length, or the total that passes SSIZE_MAX, whichever comes
/// first. (An Error, not a Result: the usual path's buffers then stay in
/// registers.)
#[cold]
#[inline(never)]
fn refusal(op: &str, iov: &[libc::iovec]) -> Error {
    let mut total: usize = 0;
    for (i, v) in iov.iter().enumerate() {
        if v.iov_base.is_null() && v.iov_len > 0 {
            return Error::new(
                libc::EINVAL,
                format_args!("{op}: buffer {i} is NULL with length {}", v.iov_len),
            );
        }
        total = match total.checked_add(v.iov_len) {
            Some(t) if t <= isize::MAX as usize => t,
            _ => break,
        };
    }
    Error::new(
        libc::EINVAL,
        format_args!(
            "{op}: the buffers' lengths add up to more than SSIZE_MAX (a negative length cast to size_t?)"
        ),
    )
}

/// An all-zero msghdr (plain C data, so zero is valid; it also clears the
/// padding fields some C libraries have).
fn msghdr() -> libc::msghdr {
    // SAFETY: msghdr is a C struct of integers and pointers.
    unsafe { std::mem::zeroed() }
}

/// The address bytes a receive stored, as text (empty when none).
pub(crate) fn addr_of(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Addr {
    if len == 0 {
        return Addr::empty();
    }
    let mut s = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_storage is the type the storage is made of.
    unsafe { *s.view_as::<libc::sockaddr_storage>() = *storage };
    // SAFETY: the kernel initialised `len` bytes of an address of the
    // family it stored (the rest is zeroed).
    Addr::from_sockaddr(&unsafe { SockAddr::new(s, len) })
}

impl Socket {
    pub(crate) fn dest(&self, op: &str, to: Option<(&str, i32)>) -> Result<Option<SockAddr>> {
        match to {
            None => Ok(None),
            Some((host, port)) => addr::to_sockaddr(
                op,
                self.family(),
                self.socktype(),
                Some(host),
                port,
                Purpose::Connect,
            )
            .map(Some),
        }
    }

    /// Sends the buffers as one message (one datagram), to `to` (host,
    /// port) if given, else to the connected peer.
    pub fn sendmsg(&self, bufs: Bufs<'_>, flags: i32, to: Option<(&str, i32)>) -> Result<usize> {
        self.sendmsg_control(bufs, &[], flags, to)
    }

    /// sendmsg with control data: `control` holds cmsghdrs in the kernel's
    /// layout (SCM_RIGHTS with raw descriptors, SCM_CREDENTIALS,
    /// IPV6_PKTINFO...), handed to the kernel as it is: the kernel checks
    /// it (EINVAL for a malformed one).
    pub fn sendmsg_control(
        &self,
        bufs: Bufs<'_>,
        control: &[u8],
        flags: i32,
        to: Option<(&str, i32)>,
    ) -> Result<usize> {
        self.refuse_tls("sendmsg")?;
        let sa = self.dest("sendmsg", to)?;
        let mut msg = msghdr();
        bufs.set_on(&mut msg);
        if let Some(sa) = &sa {
            msg.msg_name = sa.as_ptr().cast_mut().cast();
            msg.msg_namelen = sa.len();
        }
        if !control.is_empty() {
            msg.msg_control = control.as_ptr().cast_mut().cast();
            msg.msg_controllen = control_len("sendmsg", control.len())?;
        }
        let fd = self.fd();
        self.retry("sendmsg", libc::POLLOUT, flags, &mut None, || {
            // SAFETY: msg points at checked buffers, a valid address and
            // `control` (which the kernel only reads).
            unsafe { libc::sendmsg(fd, &msg, flags | NOSIGNAL) }
        })
        .map_err(|e| match &sa {
            // "sendmsg 127.0.0.1:9", or "sendmsg 127.0.0.1:9: timed out...".
            Some(sa) => Error::new(
                e.code(),
                format_args!(
                    "sendmsg {}{}",
                    Addr::from_sockaddr(sa),
                    e.context().strip_prefix("sendmsg").unwrap_or("")
                ),
            ),
            None => e,
        })
    }

    /// Receives one message into the buffers, in order. Returns the bytes
    /// stored (with MSG_TRUNC in `flags`, a datagram's real length), the
    /// sender (family 0 when the kernel names none), and the message flags
    /// (MSG_TRUNC: the datagram was cut; MSG_CTRUNC: control data, such as
    /// a passed descriptor, was dropped). Bytes the buffered reader holds
    /// come first.
    pub fn recvmsg(&self, bufs: Bufs<'_>, flags: i32) -> Result<(usize, Addr, i32)> {
        if bufs.total() == 0 {
            return fail!(libc::EINVAL, "recvmsg: the buffers hold 0 bytes");
        }
        let r = self.recvmsg_control(bufs, &mut [], flags)?;
        Ok((r.len, r.from, r.flags))
    }

    /// recvmsg with control data: the kernel writes the message's cmsghdrs
    /// into `control` (in its own layout; `Received::control_len` bytes).
    /// Descriptors received (SCM_RIGHTS) are new, close-on-exec, and the
    /// caller's; those that did not fit were closed by the kernel
    /// (MSG_CTRUNC). Buffers holding 0 bytes are allowed (a datagram is
    /// then consumed, and 0 is not end of stream). Bytes the buffered
    /// reader holds come first, with no control data.
    pub fn recvmsg_control(
        &self,
        bufs: Bufs<'_>,
        control: &mut [MaybeUninit<u8>],
        flags: i32,
    ) -> Result<Received> {
        self.refuse_tls("recvmsg")?;
        if self.reader.has_data() {
            if let Some(n) = self.reader.take_with(flags, |src| bufs.scatter(src)) {
                return Ok(Received {
                    len: n,
                    from: Addr::empty(),
                    flags: 0,
                    control_len: 0,
                });
            }
        }
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::uninit();
        let mut msg = msghdr();
        bufs.set_on(&mut msg);
        msg.msg_name = storage.as_mut_ptr().cast();
        let capacity = control_len("recvmsg", control.len())?;
        if !control.is_empty() {
            msg.msg_control = control.as_mut_ptr().cast();
        }
        let fd = self.fd();
        let mut received = false;
        let r = self.retry("recvmsg", libc::POLLIN, flags, &mut None, || {
            msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_controllen = capacity;
            // SAFETY: msg points at checked buffers, at `storage` and at
            // `control` (capacity bytes, writable).
            let n = unsafe { libc::recvmsg(fd, &mut msg, flags | CLOEXEC) };
            received = n >= 0;
            n
        });
        let used = if received {
            msg.msg_controllen as usize
        } else {
            0
        };
        // SAFETY: the kernel initialised the first msg_controllen bytes.
        let got = unsafe {
            std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), used.min(control.len()))
        };
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                // A message came, then the socket was closed under us:
                // its descriptors are nobody's but ours.
                for_each_fd(got, close_fd);
                return Err(e);
            }
        };
        if CLOEXEC == 0 {
            for_each_fd(got, set_cloexec);
        }
        Ok(Received {
            len: n,
            from: Addr::from_raw(&storage, msg.msg_namelen),
            // Linux echoes MSG_CMSG_CLOEXEC back: it is no news to the caller.
            flags: msg.msg_flags & !CLOEXEC,
            control_len: got.len(),
        })
    }

    /// Sends `other`'s descriptor with `data` over this AF_UNIX socket
    /// (SCM_RIGHTS): the receiver gets its own descriptor for the same
    /// open socket. On a stream socket the descriptor travels with the
    /// first byte, so `data` must not be empty; if fewer bytes than
    /// `data.len()` go, the caller sends the rest with plain send.
    pub fn send_handle(&self, other: &Socket, data: &[u8], flags: i32) -> Result<usize> {
        self.refuse_tls("send_handle")?;
        self.check_unix("send_handle")?;
        if data.is_empty() && self.socktype() == libc::SOCK_STREAM {
            return fail!(
                libc::EINVAL,
                "send_handle: a stream socket needs at least one data byte to carry the handle"
            );
        }
        let mut control = ControlBuf([0; 64]);
        let mut iov = libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: data.len(),
        };
        let mut msg = msghdr();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        let one = size_of::<libc::c_int>() as libc::c_uint;
        // SAFETY: CMSG_SPACE is arithmetic; 24 bytes or so, well inside
        // the 64-byte buffer; the header written is the buffer's first.
        unsafe {
            msg.msg_controllen = libc::CMSG_SPACE(one) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(one) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), other.fd());
        }
        let fd = self.fd();
        self.retry("send_handle", libc::POLLOUT, flags, &mut None, || {
            // SAFETY: msg points at `data`, and at a control message that
            // names a descriptor `other` keeps open for this call.
            unsafe { libc::sendmsg(fd, &msg, flags | NOSIGNAL) }
        })
    }

    /// Receives data and at most one descriptor sent by send_handle (or
    /// any SCM_RIGHTS sender), adopted as a new socket: close-on-exec,
    /// with the process default timeout. Returns the bytes stored, the
    /// socket (None when the message carried no descriptor), and the
    /// message flags; descriptors beyond the first are closed and reported
    /// as MSG_CTRUNC. Bytes the buffered reader holds come first, with no
    /// descriptor.
    pub fn recv_handle(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
    ) -> Result<(usize, Option<Socket>, i32)> {
        self.refuse_tls("recv_handle")?;
        self.check_unix("recv_handle")?;
        if self.reader.has_data() {
            if let Some(n) = self.reader.take_into(buf, flags) {
                return Ok((n, None, 0));
            }
        }
        let cloexec = CLOEXEC;
        let mut control = ControlBuf([0; 64]);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg = msghdr();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        // SAFETY: arithmetic only.
        let space = unsafe { libc::CMSG_SPACE((MAX_FDS * size_of::<libc::c_int>()) as _) };
        const { assert!(MAX_FDS * 4 + 32 <= 64) };
        let fd = self.fd();
        let mut fds = [-1 as RawFd; MAX_FDS];
        let mut nfds = 0;
        let mut extra = false;
        let r = self.retry("recv_handle", libc::POLLIN, flags, &mut None, || {
            msg.msg_controllen = space as _;
            // SAFETY: msg points at `buf` and at the control buffer.
            let n = unsafe { libc::recvmsg(fd, &mut msg, flags | cloexec) };
            if n >= 0 {
                // Collect the descriptors at once, so none leaks whatever
                // happens next.
                extra |= collect_fds(&msg, &mut fds, &mut nfds);
            }
            n
        });
        let (first, rest) = fds[..nfds]
            .split_first()
            .map_or((None, &[][..]), |(f, r)| (Some(*f), r));
        for &fd in rest {
            close_fd(fd);
        }
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                if let Some(fd) = first {
                    close_fd(fd);
                }
                return Err(e);
            }
        };
        // Linux echoes MSG_CMSG_CLOEXEC back: it is no news to the caller.
        let mut out_flags = msg.msg_flags & !cloexec;
        if extra || !rest.is_empty() {
            out_flags |= libc::MSG_CTRUNC;
        }
        let sock = match first {
            None => None,
            Some(fd) => {
                // Refuse a non-socket here, where closing it is clearly
                // ours to do (adopt leaves such an fd open, but closes one
                // that fails later, so closing after it could close twice).
                if let Err(code) = get_int(fd, libc::SOL_SOCKET, libc::SO_TYPE) {
                    close_fd(fd);
                    return fail!(
                        code,
                        "recv_handle: the descriptor that came with {n} bytes is not a socket (it was closed)"
                    );
                }
                Some(Socket::adopt(fd).map_err(|e| {
                    Error::new(e.code(), format_args!("recv_handle: {}", e.context()))
                })?)
            }
        };
        Ok((n, sock, out_flags))
    }

    fn check_unix(&self, op: &str) -> Result<()> {
        if self.family() != libc::AF_UNIX {
            return fail!(
                libc::EOPNOTSUPP,
                "{op}: handles travel only over AF_UNIX sockets, not {}",
                super::constants::name_of("AF_", self.family().into())
            );
        }
        Ok(())
    }
}

/// Copies the SCM_RIGHTS descriptors of a received message into `fds`;
/// those that do not fit are closed. Returns true if any were closed.
fn collect_fds(msg: &libc::msghdr, fds: &mut [RawFd], nfds: &mut usize) -> bool {
    let mut dropped = false;
    // SAFETY: the kernel filled msg_controllen bytes of the control buffer
    // with well-formed cmsghdrs; the CMSG_* walkers stay inside it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let bytes = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                for i in 0..bytes / size_of::<libc::c_int>() {
                    let fd: RawFd = std::ptr::read_unaligned(data.cast::<libc::c_int>().add(i));
                    if *nfds < fds.len() {
                        fds[*nfds] = fd;
                        *nfds += 1;
                    } else {
                        close_fd(fd);
                        dropped = true;
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    dropped
}

/// An error about one message of a batch: "sendmmsg: ..." becomes
/// "sendmmsg message 3: ..." (the per-message checks name only `op`, so
/// that the name is formatted only when something failed).
#[cold]
#[inline(never)]
fn in_message(op: &str, i: usize, e: Error) -> Error {
    let rest = e.context().strip_prefix(op).unwrap_or(e.context());
    Error::new(e.code(), format_args!("{op} message {i}{rest}"))
}

fn close_fd(fd: RawFd) {
    // SAFETY: fd is a descriptor the kernel just gave us and nobody else
    // knows of.
    unsafe { libc::close(fd) };
}

/// A batch header for `bufs` (name, control data and flags unset: zero).
#[inline(always)]
fn mmsghdr(bufs: Bufs<'_>) -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain C data; zero is valid (and clears the
    // padding fields some C libraries have).
    let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
    bufs.set_on(&mut h.msg_hdr);
    h
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Socket {
    /// Sends up to POLYSOCK_MMSG_MAX messages in one system call. `msg(i)`
    /// gives message i's buffers and destination (family 0: the connected
    /// peer); `sent(i, n)` learns how many bytes message i sent. Returns the
    /// number of messages sent: fewer than asked when the socket's buffer
    /// filled or the message after the last one sent failed (sending it
    /// again reports why); an error when the first one fails, or when any
    /// message's buffers or destination are bad (then none is sent).
    pub fn sendmmsg<'a>(
        &self,
        count: usize,
        flags: i32,
        msg: impl Fn(usize) -> Result<(Bufs<'a>, &'a Addr)>,
        mut sent: impl FnMut(usize, usize),
    ) -> Result<usize> {
        const OP: &str = "sendmmsg";
        self.refuse_tls(OP)?;
        let count = count.min(POLYSOCK_MMSG_MAX);
        if count == 0 {
            return Ok(0);
        }
        let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; POLYSOCK_MMSG_MAX];
        let mut addrs = [const { MaybeUninit::<addr::RawAddr>::uninit() }; POLYSOCK_MMSG_MAX];
        // The last destination converted, and its address for the kernel
        // (in `addrs`): a batch to one peer converts it once.
        let mut last = (addr::LastDest::none(), std::ptr::null(), 0);
        for i in 0..count {
            let (bufs, to) = msg(i).map_err(|e| in_message(OP, i, e))?;
            let h = &mut hdrs[i].write(mmsghdr(bufs)).msg_hdr;
            if to.family == 0 {
                continue;
            }
            if !last.0.matches(to) {
                let sa = addrs[i].write(addr::RawAddr::new());
                let dest = self
                    .convert_dest(to, sa)
                    .map_err(|e| in_message(OP, i, e))?;
                last = (dest, sa.as_ptr(), sa.size());
            }
            // The address of this or an earlier message, in `addrs`.
            h.msg_name = last.1.cast_mut().cast();
            h.msg_namelen = last.2;
        }
        let fd = self.fd();
        let hdrs_ptr = hdrs.as_mut_ptr().cast::<libc::mmsghdr>();
        let n = self.retry(OP, libc::POLLOUT, flags, &mut None, || {
            // SAFETY: the first `count` headers are initialised and point at
            // checked buffers and valid addresses.
            unsafe { libc::sendmmsg(fd, hdrs_ptr, count as _, (flags | NOSIGNAL) as _) as isize }
        })?;
        for (i, h) in hdrs.iter().enumerate().take(n.min(count)) {
            // SAFETY: the first `count` headers are initialised.
            sent(i, unsafe { h.assume_init_ref() }.msg_len as usize);
        }
        Ok(n)
    }

    /// Converts the destination `to` names (its family is not 0) into
    /// `sa`, as sendmsg does, out of line: a batch to one peer comes here
    /// once.
    #[inline(never)]
    fn convert_dest<'a>(&self, to: &'a Addr, sa: &mut addr::RawAddr) -> Result<addr::LastDest<'a>> {
        const OP: &str = "sendmmsg";
        let host = to.host_text(OP)?;
        sa.set_dest(OP, self.family(), self.socktype(), Some(host), to.port)?;
        Ok(addr::LastDest::new(to, host))
    }

    /// Bytes the buffered reader holds, into `first` (out of line: only a
    /// socket read with polysock_readline has any).
    #[inline(never)]
    fn take_buffered(&self, flags: i32, first: Bufs<'_>) -> Option<usize> {
        self.reader.take_with(flags, |src| first.scatter(src))
    }

    /// Receives up to POLYSOCK_MMSG_MAX datagrams in one system call: it
    /// waits (as the socket's timeout allows) for the first, then takes
    /// those already waiting (MSG_WAITFORONE). `bufs(i)` gives message i's
    /// buffers; `got(i, n, flags)` learns its length and flags, and gives
    /// where its sender's text goes (written in place). Returns the number
    /// of messages received.
    pub fn recvmmsg<'a>(
        &self,
        count: usize,
        flags: i32,
        bufs: impl Fn(usize) -> Result<Bufs<'a>>,
        mut got: impl FnMut(usize, usize, i32) -> &'a mut Addr,
    ) -> Result<usize> {
        const OP: &str = "recvmmsg";
        self.refuse_tls(OP)?;
        let count = count.min(POLYSOCK_MMSG_MAX);
        if count == 0 {
            return fail!(libc::EINVAL, "recvmmsg: count is 0");
        }
        if self.reader.has_data() {
            if let Some(n) = self.take_buffered(flags, bufs(0).map_err(|e| in_message(OP, 0, e))?) {
                *got(0, n, 0) = Addr::empty();
                return Ok(1);
            }
        }
        let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; POLYSOCK_MMSG_MAX];
        // Left uninitialised: the kernel writes each sender it names.
        let mut names =
            [const { MaybeUninit::<libc::sockaddr_storage>::uninit() }; POLYSOCK_MMSG_MAX];
        for i in 0..count {
            let b = bufs(i).map_err(|e| in_message(OP, i, e))?;
            let h = &mut hdrs[i].write(mmsghdr(b)).msg_hdr;
            h.msg_name = names[i].as_mut_ptr().cast();
            h.msg_namelen = NAME_LEN;
        }
        let fd = self.fd();
        let hdrs_ptr = hdrs.as_mut_ptr().cast::<libc::mmsghdr>();
        let recv = move || {
            // SAFETY: the first `count` headers point at checked buffers
            // and at `names`.
            unsafe {
                libc::recvmmsg(
                    fd,
                    hdrs_ptr,
                    count as _,
                    (flags | libc::MSG_WAITFORONE) as _,
                    std::ptr::null_mut(),
                ) as isize
            }
        };
        // The first call with the lengths set above; only a call that
        // received nothing goes on, and each further call sets them again.
        let n = match recv() {
            n if n > 0 => n as usize,
            n => self.retry_from(n, OP, libc::POLLIN, flags, &mut None, || {
                for i in 0..count {
                    // SAFETY: the first `count` headers are initialised.
                    unsafe { (*hdrs_ptr.add(i)).msg_hdr.msg_namelen = NAME_LEN };
                }
                recv()
            })?,
        };
        let mut last = addr::LastSender::new();
        for i in 0..n.min(count) {
            // SAFETY: the first `count` headers are initialised.
            let h = unsafe { hdrs[i].assume_init_ref() };
            let out = got(i, h.msg_len as usize, h.msg_hdr.msg_flags);
            // msg_namelen: the sender's length (`write` reads no more of
            // it than the room given).
            last.write(&names[i], h.msg_hdr.msg_namelen as usize, out);
        }
        Ok(n)
    }
}

/// The room for a sender's address in a receive.
const NAME_LEN: libc::socklen_t = size_of::<libc::sockaddr_storage>() as libc::socklen_t;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Socket {
    pub fn sendmmsg<'a>(
        &self,
        _count: usize,
        _flags: i32,
        _msg: impl Fn(usize) -> Result<(Bufs<'a>, &'a Addr)>,
        _sent: impl FnMut(usize, usize),
    ) -> Result<usize> {
        fail!(
            libc::EOPNOTSUPP,
            "sendmmsg: not available on this platform (send each datagram with polysock_sendmsg)"
        )
    }

    pub fn recvmmsg<'a>(
        &self,
        _count: usize,
        _flags: i32,
        _bufs: impl Fn(usize) -> Result<Bufs<'a>>,
        _got: impl FnMut(usize, usize, i32) -> &'a mut Addr,
    ) -> Result<usize> {
        fail!(
            libc::EOPNOTSUPP,
            "recvmmsg: not available on this platform (receive each datagram with polysock_recvmsg)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> [RawFd; 2] {
        let mut p = [0; 2];
        // SAFETY: room for two fds.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        p
    }

    /// One SCM_RIGHTS message with `fds`, as a sender builds it.
    fn rights(fds: &[RawFd]) -> Vec<u8> {
        let n = std::mem::size_of_val(fds);
        // SAFETY: arithmetic; then one header and its data, inside `buf`.
        unsafe {
            let mut buf = vec![0u8; libc::CMSG_SPACE(n as _) as usize];
            let h = libc::cmsghdr {
                cmsg_len: libc::CMSG_LEN(n as _) as _,
                cmsg_level: libc::SOL_SOCKET,
                cmsg_type: libc::SCM_RIGHTS,
            };
            std::ptr::write_unaligned(buf.as_mut_ptr().cast(), h);
            let at = libc::CMSG_LEN(0) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast(), buf.as_mut_ptr().add(at), n);
            buf
        }
    }

    #[test]
    fn descriptors_arrive_close_on_exec_and_walk_at_any_alignment() {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_DGRAM, 0).unwrap();
        let (p, q) = (pipe(), pipe());
        let data = [7u8; 3];
        let iov = [libc::iovec {
            iov_base: data.as_ptr().cast_mut().cast(),
            iov_len: 3,
        }];
        // SAFETY: `data` outlives the call and is only read.
        let bufs = unsafe { Bufs::new("t", &iov) }.unwrap();
        let control = rights(&[p[1], q[1]]);
        assert_eq!(a.sendmsg_control(bufs, &control, 0, None).unwrap(), 3);

        let mut got = [0u8; 8];
        let iov = [libc::iovec {
            iov_base: got.as_mut_ptr().cast(),
            iov_len: 8,
        }];
        // SAFETY: `got` outlives the call and nothing else borrows it.
        let bufs = unsafe { Bufs::new("t", &iov) }.unwrap();
        // Misaligned on purpose: the kernel and the walker do not care.
        let mut room = [MaybeUninit::new(0u8); 129];
        let r = b.recvmsg_control(bufs, &mut room[1..], 0).unwrap();
        assert_eq!((r.len, r.flags), (3, 0));
        // SAFETY: the kernel initialised control_len bytes (all were anyway).
        let bytes: &[u8] =
            unsafe { std::slice::from_raw_parts(room[1..].as_ptr().cast(), r.control_len) };
        let mut fds = Vec::new();
        for_each_fd(bytes, |fd| fds.push(fd));
        assert_eq!(fds.len(), 2);
        for (fd, pipe) in fds.iter().zip([p, q]) {
            // SAFETY: plain fcntl on a descriptor we own.
            let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
            // The same pipe: a byte written on it comes out of the original.
            // SAFETY: one byte from / into valid buffers.
            unsafe {
                assert_eq!(libc::write(*fd, b"z".as_ptr().cast(), 1), 1);
                let mut c = 0u8;
                assert_eq!(libc::read(pipe[0], (&mut c as *mut u8).cast(), 1), 1);
                assert_eq!(c, b'z');
            }
            close_fd(*fd);
            close_fd(pipe[0]);
            close_fd(pipe[1]);
        }
    }

    #[test]
    fn the_walker_stops_at_a_header_longer_than_the_buffer() {
        let mut control = rights(&[1, 2]);
        let mut seen = 0;
        for_each_fd(&control, |_| seen += 1);
        assert_eq!(seen, 2);
        // A cut buffer, and a header claiming too much: nothing is read.
        for_each_fd(&control[..control.len() - 12], |_| seen += 10);
        control[0] = 200;
        for_each_fd(&control, |_| seen += 10);
        for_each_fd(&control[..3], |_| seen += 10);
        assert_eq!(seen, 2);
    }
}
