//! Data transfer. Every call honours the socket's timeout, resumes after
//! EINTR, never raises SIGPIPE, and never allocates.

use super::addr::{self, Addr};
use super::error::{Error, Progress, Result, fail};
use super::socket::{Socket, blocking_code};
use super::wait::{Deadline, wait_fd};
use std::mem::MaybeUninit;

/// Added to every send: a peer that went away yields EPIPE, not a signal
/// that kills the host process. (Apple platforms have no MSG_NOSIGNAL;
/// socket2 sets SO_NOSIGPIPE on every socket there instead.)
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) const NOSIGNAL: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) const NOSIGNAL: i32 = 0;

/// One sendto(2) of `buf` to an IPv4 address.
#[inline(always)]
fn sendto_in(fd: std::os::fd::RawFd, buf: &[u8], flags: i32, sin: &libc::sockaddr_in) -> isize {
    // SAFETY: buf is valid for reads; sin is a whole sockaddr_in.
    unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            flags | NOSIGNAL,
            (sin as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    }
}

impl Socket {
    /// Runs one system call `f` until it succeeds, fails for real, or the
    /// deadline passes. `deadline` is shared by calls that loop (sendall):
    /// it is started at the first wait, so a call that never waits never
    /// reads the clock.
    pub(crate) fn retry(
        &self,
        op: &str,
        events: libc::c_short,
        flags: i32,
        deadline: &mut Option<Deadline>,
        mut f: impl FnMut() -> isize,
    ) -> Result<usize> {
        let n = f();
        self.retry_from(n, op, events, flags, deadline, f)
    }

    /// `retry` once `f` has run once and returned `n` (a caller's fast
    /// path makes its first call inline and comes here only when that
    /// call did not move bytes: the call is never repeated for nothing).
    pub(crate) fn retry_from(
        &self,
        mut n: isize,
        op: &str,
        events: libc::c_short,
        flags: i32,
        deadline: &mut Option<Deadline>,
        mut f: impl FnMut() -> isize,
    ) -> Result<usize> {
        loop {
            if n > 0 {
                // Bytes moved: report them even if another thread closed
                // the socket just after, or the caller loses data it got.
                return Ok(n as usize);
            }
            if n == 0 {
                // A close from another thread wakes recv with shutdown(),
                // which looks like end of stream: say what really happened.
                self.check_open(op)?;
                return Ok(0);
            }
            let code = errno::errno().0;
            self.check_open(op)?;
            if code == libc::EINTR {
                super::interrupt::check(op)?;
                n = f();
                continue;
            }
            let timeout = self.timeout();
            if (code == libc::EAGAIN || code == libc::EWOULDBLOCK)
                && timeout > 0
                && flags & libc::MSG_DONTWAIT == 0
            {
                let d = *deadline.get_or_insert_with(|| self.deadline());
                wait_fd(self.fd(), events, d)
                    .map_err(|e| Error::new(e.code(), format_args!("{op}: {}", e.context())))?;
                self.check_open(op)?;
                n = f();
                continue;
            }
            let code = if flags & libc::MSG_DONTWAIT != 0 {
                code
            } else {
                blocking_code(code, timeout)
            };
            return fail!(code, "{op}");
        }
    }

    /// Sends once; returns how many bytes went (possibly fewer than given).
    pub fn send(&self, buf: &[u8], flags: i32) -> Result<usize> {
        self.send_within(buf, flags, &mut None)
    }

    pub(crate) fn send_within(
        &self,
        buf: &[u8],
        flags: i32,
        deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        if let Some(tls) = self.tls() {
            return tls.send(self, buf, flags, deadline);
        }
        let fd = self.fd();
        self.retry("send", libc::POLLOUT, flags, deadline, || {
            // SAFETY: buf is valid for reads of buf.len() bytes.
            unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags | NOSIGNAL) }
        })
    }

    /// Sends all of `buf` within one deadline (the socket's timeout covers
    /// the whole call, as in CPython). On failure the error comes with the
    /// number of bytes that did go.
    pub fn sendall(&self, buf: &[u8], flags: i32) -> Progress {
        let mut deadline = None;
        let mut sent = 0;
        while sent < buf.len() {
            let r = self.send_within(&buf[sent..], flags, &mut deadline);
            let r = r.and_then(|n| {
                sent += n;
                if sent < buf.len() {
                    super::interrupt::check_progress("")?;
                }
                Ok(())
            });
            match r {
                Ok(()) => {}
                Err(e) => {
                    return Err((
                        sent,
                        Error::new(
                            e.code(),
                            format_args!(
                                "sendall after {sent} of {} bytes: {}",
                                buf.len(),
                                e.context()
                            ),
                        ),
                    ));
                }
            }
        }
        Ok(sent)
    }

    /// Receives once into `buf`: Ok(0) is end of stream (or an empty
    /// datagram); a timeout is ETIMEDOUT and "nothing yet" on a non-blocking
    /// socket is EAGAIN, so the three never look alike. Bytes the
    /// buffered reader holds come first, without a system call.
    pub fn recv(&self, buf: &mut [MaybeUninit<u8>], flags: i32) -> Result<usize> {
        if self.reader.has_data() {
            if let Some(n) = self.reader.take_into(buf, flags) {
                return Ok(n);
            }
        }
        self.recv_within(buf, flags, &mut None)
    }

    fn recv_within(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        if let Some(tls) = self.tls() {
            return tls.recv(self, "recv", buf, flags, deadline);
        }
        let fd = self.fd();
        let (ptr, len) = (buf.as_mut_ptr(), buf.len());
        self.retry("recv", libc::POLLIN, flags, deadline, || {
            // SAFETY: ptr is valid for writes of len bytes.
            unsafe { libc::recv(fd, ptr.cast(), len, flags) }
        })
    }

    /// Receives until `buf` is full (MSG_WAITALL semantics) within one
    /// deadline. Ok(n) with n < buf.len() means the stream ended first.
    /// On failure the error comes with the number of bytes already stored.
    pub fn recv_exact(&self, buf: &mut [MaybeUninit<u8>], flags: i32) -> Progress {
        let mut deadline = None;
        let mut got = 0;
        if self.reader.has_data() {
            got = self.reader.take_into(buf, flags).unwrap_or(0);
        }
        // A blocking socket lets the kernel gather everything in one call.
        let flags = if self.timeout() < 0 {
            flags | libc::MSG_WAITALL
        } else {
            flags
        };
        while got < buf.len() {
            let r = self.recv_within(&mut buf[got..], flags, &mut deadline);
            let r = r.and_then(|n| {
                got += n;
                if n > 0 && got < buf.len() {
                    super::interrupt::check_progress("")?;
                }
                Ok(n)
            });
            match r {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    return Err((
                        got,
                        Error::new(
                            e.code(),
                            format_args!(
                                "recv_exact after {got} of {} bytes: {}",
                                buf.len(),
                                e.context()
                            ),
                        ),
                    ));
                }
            }
        }
        Ok(got)
    }

    /// Sends one datagram (or stream data) to host:port (a path for AF_UNIX).
    /// An IPv4 literal with a valid port on a plain AF_INET socket, every
    /// sendto's usual case, is sent from here, inlined into the caller:
    /// its sockaddr_in built in registers and one sendto(2); whatever that
    /// call did not finish (no bytes, an error, a wait) goes on out of line
    /// from its result, as does every other kind of destination.
    #[inline(always)]
    pub fn sendto(
        &self,
        buf: &[u8],
        flags: i32,
        host: Option<addr::Host<'_>>,
        port: i32,
    ) -> Result<usize> {
        let Some(addr::Host::Ipv4(ip, text)) = host else {
            return self.sendto_general(buf, flags, host, port);
        };
        match u16::try_from(port) {
            Ok(port) if self.family() == libc::AF_INET && self.tls().is_none() => {
                let sin = addr::sockaddr_in(ip, port);
                let n = sendto_in(self.fd(), buf, flags, &sin);
                let n = match n {
                    n if n > 0 => n as usize,
                    // Taken apart here, not passed through: the fast
                    // path's count then stays in a register instead of
                    // going through the memory the cold call writes.
                    n => self.sendto_in_after(n, buf, flags, &sin)?,
                };
                Ok(n)
            }
            _ => self.sendto_literal(buf, flags, ip, text, port),
        }
    }

    /// sendto_general for an IPv4 literal the fast path does not take,
    /// given in registers: a `Host` built on the fast path for this call
    /// was stored to the stack on every sendto.
    #[cold]
    #[inline(never)]
    fn sendto_literal(
        &self,
        buf: &[u8],
        flags: i32,
        ip: std::net::Ipv4Addr,
        text: &str,
        port: i32,
    ) -> Result<usize> {
        self.sendto_general(buf, flags, Some(addr::Host::Ipv4(ip, text)), port)
    }

    /// sendto's fast path after a first sendto(2) that returned `n` (0 or
    /// less): the rest of `retry`, from that result.
    #[cold]
    #[inline(never)]
    fn sendto_in_after(
        &self,
        n: isize,
        buf: &[u8],
        flags: i32,
        sin: &libc::sockaddr_in,
    ) -> Result<usize> {
        let fd = self.fd();
        self.retry_from(n, "sendto", libc::POLLOUT, flags, &mut None, || {
            sendto_in(fd, buf, flags, sin)
        })
        .map_err(|e| {
            let sa = addr::RawAddr::from_sockaddr_in(sin);
            Error::new(e.code(), format_args!("sendto {}", sa.to_addr()))
        })
    }

    /// sendto for every destination but the fast path's.
    #[inline(never)]
    fn sendto_general(
        &self,
        buf: &[u8],
        flags: i32,
        host: Option<addr::Host<'_>>,
        port: i32,
    ) -> Result<usize> {
        self.refuse_tls("sendto")?;
        let mut sa = addr::RawAddr::new();
        sa.set_dest_host("sendto", self.family(), self.socktype(), host, port)?;
        self.sendto_raw("sendto", buf, flags, &sa)
    }

    /// Sends to an AF_UNIX name given as bytes (see `bind_unix`).
    pub fn sendto_unix(&self, buf: &[u8], flags: i32, name: &[u8]) -> Result<usize> {
        let sa = self.unix_name("sendto_unix", name)?;
        self.sendto_raw("sendto_unix", buf, flags, &addr::RawAddr::from(&sa))
    }

    fn sendto_raw(&self, op: &str, buf: &[u8], flags: i32, sa: &addr::RawAddr) -> Result<usize> {
        let fd = self.fd();
        self.retry(op, libc::POLLOUT, flags, &mut None, || {
            // SAFETY: buf is valid for reads; sa holds sa.size() address bytes.
            unsafe {
                libc::sendto(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    flags | NOSIGNAL,
                    sa.as_ptr(),
                    sa.size(),
                )
            }
        })
        .map_err(|e| Error::new(e.code(), format_args!("{op} {}", sa.to_addr())))
    }

    /// Receives once, and writes the sender's address to `from` if given
    /// (none, family 0, for bytes the buffered reader held); `from` is
    /// written only on success. Inlined into its caller, like sendto.
    #[inline(always)]
    pub fn recvfrom(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        from: Option<&mut Addr>,
    ) -> Result<usize> {
        match from {
            Some(from) => self.recvfrom_with("recvfrom", buf, flags, true, |raw| match raw {
                Some((storage, len)) => from.set_from_raw(storage, len),
                None => *from = Addr::empty(),
            }),
            None => self.recvfrom_with("recvfrom", buf, flags, false, |_| {}),
        }
    }

    /// Receives once, with the sender's AF_UNIX name as bytes (empty for
    /// an unnamed sender, or for bytes the buffered reader held).
    pub fn recvfrom_unix(
        &self,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
    ) -> Result<(usize, addr::UnixName)> {
        let mut name = addr::UnixName::empty();
        let n = self.recvfrom_with("recvfrom_unix", buf, flags, true, |raw| {
            if let Some((storage, len)) = raw {
                name = addr::UnixName::of_raw(storage, len);
            }
        })?;
        Ok((n, name))
    }

    /// The receive of both: `sender` gets the kernel's address (None for
    /// bytes the buffered reader held, or when not `want`ed: the kernel
    /// then need not copy one), only on success.
    #[inline(always)]
    fn recvfrom_with(
        &self,
        op: &str,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        want: bool,
        sender: impl FnOnce(Option<(&MaybeUninit<libc::sockaddr_storage>, libc::socklen_t)>),
    ) -> Result<usize> {
        self.refuse_tls(op)?;
        if self.reader.has_data() {
            if let Some(n) = self.reader.take_into(buf, flags) {
                sender(None);
                return Ok(n);
            }
        }
        // The sender's storage stays uninitialised: the kernel writes it.
        let mut storage = MaybeUninit::<libc::sockaddr_storage>::uninit();
        let mut sa_len = 0;
        let from = match want {
            true => RecvFrom {
                sa: storage.as_mut_ptr(),
                len: &raw mut sa_len,
            },
            false => RecvFrom {
                sa: std::ptr::null_mut(),
                len: std::ptr::null_mut(),
            },
        };
        let (ptr, len) = (buf.as_mut_ptr().cast(), buf.len());
        // The first recvfrom(2) inline: only a call that moved nothing
        // (an empty datagram, an error, a wait) goes on out of line.
        // SAFETY: ptr is valid for writes of len bytes; `from` as built.
        let n = match unsafe { from.recv(self.fd(), ptr, len, flags) } {
            n if n > 0 => n as usize,
            n => self.recvfrom_after(n, op, ptr, len, flags, from)?,
        };
        if want {
            // The kernel initialised sa_len bytes of storage.
            sender(Some((&storage, sa_len)));
        }
        Ok(n)
    }

    /// `recvfrom_with` after a first recvfrom(2) that returned `n` (0 or
    /// less): the rest of `retry`, from that result.
    #[cold]
    #[inline(never)]
    fn recvfrom_after(
        &self,
        n: isize,
        op: &str,
        ptr: *mut libc::c_void,
        len: usize,
        flags: i32,
        from: RecvFrom,
    ) -> Result<usize> {
        let fd = self.fd();
        self.retry_from(n, op, libc::POLLIN, flags, &mut None, || {
            // SAFETY: as for the first call (`recvfrom_with`).
            unsafe { from.recv(fd, ptr, len, flags) }
        })
    }
}

/// Where recvfrom(2) writes the sender: a sockaddr_storage and its length,
/// or both NULL when the sender is not wanted (the kernel then copies none).
#[derive(Clone, Copy)]
struct RecvFrom {
    sa: *mut libc::sockaddr_storage,
    len: *mut libc::socklen_t,
}

impl RecvFrom {
    /// One recvfrom(2) into `ptr`, the sender's room reset to a whole
    /// sockaddr_storage first (each call's kernel sees the full size).
    ///
    /// # Safety
    /// `ptr` is valid for writes of `len` bytes; `sa` and `len` are both
    /// NULL or both valid for writes.
    #[inline(always)]
    unsafe fn recv(
        self,
        fd: std::os::fd::RawFd,
        ptr: *mut libc::c_void,
        len: usize,
        flags: i32,
    ) -> isize {
        // SAFETY: see above.
        unsafe {
            if !self.len.is_null() {
                *self.len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            }
            libc::recvfrom(fd, ptr, len, flags, self.sa.cast(), self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The close of another thread lands right after the system call
    /// returned (simulated inside `f`, deterministic): the bytes count.
    #[test]
    fn bytes_moved_before_a_close_are_reported() {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let sent = a.retry("send", libc::POLLOUT, 0, &mut None, || {
            // SAFETY: valid fd and buffer of 3 bytes.
            let n = unsafe { libc::send(a.fd(), b"abc".as_ptr().cast(), 3, NOSIGNAL) };
            a.close_while_in_use();
            n
        });
        assert_eq!(sent.unwrap(), 3);
        let mut buf = [0u8; 8];
        let got = b.retry("recv", libc::POLLIN, 0, &mut None, || {
            // SAFETY: valid fd and buffer of 8 bytes.
            let n = unsafe { libc::recv(b.fd(), buf.as_mut_ptr().cast(), 8, 0) };
            b.close_while_in_use();
            n
        });
        assert_eq!(got.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        // What a close's shutdown() makes recv return is still EBADF.
        let eof = b.retry("recv", libc::POLLIN, 0, &mut None, || {
            // SAFETY: valid fd and buffer of 8 bytes.
            unsafe { libc::recv(b.fd(), buf.as_mut_ptr().cast(), 8, 0) }
        });
        assert_eq!(eof.unwrap_err().code(), libc::EBADF);
    }
}
