//! TLS on a polysock socket, with rustls: `wrap` puts a TLS session on a
//! connected stream socket, and from then on the same handle's send, recv,
//! readline, shutdown and poll speak TLS.
//!
//! Each TLS socket has one lock around its rustls state. It is held only
//! for non-blocking work (rustls's processing, and send/recv system calls
//! made with MSG_DONTWAIT whatever the fd's mode); every wait for the fd
//! happens outside it, so one thread can send while another receives. The
//! socket's timeout bounds each call as for plain sockets (one deadline per
//! call, the handshake included); with timeout 0 a call that would wait
//! fails with EAGAIN and `wants` tells which readiness it waits for.
//!
//! A send succeeds only once its records are in the kernel: a non-blocking
//! send that accepted data but could not push all of it fails with EAGAIN,
//! and its retry (with the same data, as OpenSSL requires too) reports
//! those bytes once they are out. So success never leaves data stuck in
//! polysock while the caller waits for a reply.
//!
//! Plain sockets pay one branch per send/recv: `Socket::tls` is a
//! `OnceLock` that is empty unless wrapped.

mod config;
mod errors;
mod info;
mod record;
mod unwrap;
mod verify;
mod x509;

pub use crate::core::tls_consts::*;
pub use config::*;

use crate::core::error::{Error, POLYSOCK_ETLS_TRUNCATED, Result, fail};
use crate::core::io::NOSIGNAL;
use crate::core::poll::{POLYSOCK_POLLOUT, from_os};
use crate::core::socket::{LISTENING, Socket};
use crate::core::wait::{Deadline, wait_fd};
use rustls::pki_types::ServerName;
use std::io::{self, BufRead, IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The TLS session of one socket (see the module comment).
pub(crate) struct TlsStream {
    conn: Mutex<Conn>,
    /// The readiness (POLYSOCK_POLLIN/OUT) the last call that failed with
    /// EAGAIN waits for; 0 after a call that completed.
    want: AtomicI32,
    /// Decrypted bytes rustls holds (a copy of `Conn::plain` that poll and
    /// `buffered` read without the lock).
    plain: AtomicUsize,
    /// Who the peer is, for messages: the server name, or "client 1.2.3.4:5".
    peer: Box<str>,
    side: Side,
    /// `tls_unwrap` completed: the socket is plain again.
    unwrapped: AtomicBool,
}

struct Conn {
    tls: rustls::Connection,
    /// Plaintext a send accepted but could not push out yet: its retry
    /// reports these bytes once they are (see the module comment).
    accepted: usize,
    /// Decrypted bytes waiting to be read.
    plain: usize,
    /// After a fatal error every call repeats it.
    failed: Option<Error>,
    /// close_notify has been queued.
    closed_write: bool,
    /// The peer's close_notify has arrived.
    peer_closed: bool,
    /// Where the peer's records end (see record.rs).
    framer: record::Framer,
    /// Read no further than the end of a record (from `tls_unwrap` on).
    exact: bool,
}

/// What one non-blocking attempt came to.
enum Step<T> {
    Done(T),
    /// Call again when the fd has these poll(2) events.
    Wait(libc::c_short),
}

/// What reading from the kernel gave.
enum Got {
    Data,
    Eof,
    Blocked,
}

/// The operation and the peer, for messages.
struct Ctx<'a> {
    op: &'a str,
    peer: &'a str,
}

impl Ctx<'_> {
    fn what(&self, handshaking: bool) -> String {
        if handshaking {
            format!("tls handshake with {}", self.peer)
        } else {
            format!("{} over tls with {}", self.op, self.peer)
        }
    }

    fn os(&self, handshaking: bool, e: &io::Error) -> Error {
        Error::new(
            e.raw_os_error().unwrap_or(libc::EIO),
            format_args!("{}", self.what(handshaking)),
        )
    }
}

/// The socket's fd as rustls's sink: never blocks, never raises SIGPIPE,
/// resumes after EINTR (record::Reader reads).
struct Io(RawFd);

fn os_result(n: isize) -> Option<io::Result<usize>> {
    if n >= 0 {
        return Some(Ok(n as usize));
    }
    let e = io::Error::last_os_error();
    (e.kind() != io::ErrorKind::Interrupted).then_some(Err(e))
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: a zeroed msghdr is valid; IoSlice is ABI-compatible with
        // iovec on Unix, and the kernel only reads the slices.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        loop {
            // SAFETY: msg points to valid iovecs for the call's duration.
            let n = unsafe { libc::sendmsg(self.0, &msg, libc::MSG_DONTWAIT | NOSIGNAL) };
            if let Some(r) = os_result(n) {
                return r;
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn blocked(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Conn {
    /// Pushes queued records to the kernel: Ok(true) when all went.
    fn flush(&mut self, io: &mut Io) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(io) {
                Ok(_) => {}
                Err(e) if blocked(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.failed = Some(e.clone());
        e
    }

    /// The connection ended without the peer's close_notify (`detail`
    /// says where).
    fn truncated(&mut self, what: String, detail: &str) -> Error {
        let e = Error::detailed(
            POLYSOCK_ETLS_TRUNCATED,
            format_args!("{what}"),
            format_args!("{detail}"),
        );
        self.fail(e)
    }

    /// Reads what the kernel has and lets rustls process it.
    fn read_some(&mut self, io: &mut Io, ctx: &Ctx) -> Result<Got> {
        let hs = self.tls.is_handshaking();
        let mut reader = record::Reader {
            fd: io.0,
            framer: &mut self.framer,
            exact: self.exact,
        };
        let got = match self.tls.read_tls(&mut reader) {
            Ok(0) => Got::Eof,
            Ok(_) => Got::Data,
            Err(e) if blocked(&e) => return Ok(Got::Blocked),
            Err(e) => return Err(ctx.os(hs, &e)),
        };
        match self.tls.process_new_packets() {
            Ok(state) => {
                self.plain = state.plaintext_bytes_to_read();
                self.peer_closed = state.peer_has_closed();
            }
            Err(e) => {
                // The alert rustls queued tells the peer why.
                let _ = self.flush(io);
                return Err(self.fail(errors::from_rustls(&ctx.what(hs), &e)));
            }
        }
        Ok(got)
    }

    /// Drives the handshake as far as the kernel allows: Done once it is
    /// complete and its last flight is out.
    fn handshake(&mut self, io: &mut Io, ctx: &Ctx) -> Result<Step<()>> {
        loop {
            let hs = self.tls.is_handshaking();
            if self.tls.wants_write() && !self.flush(io).map_err(|e| ctx.os(hs, &e))? {
                return Ok(Step::Wait(libc::POLLOUT));
            }
            if !self.tls.is_handshaking() {
                return Ok(Step::Done(()));
            }
            match self.read_some(io, ctx)? {
                Got::Blocked => return Ok(Step::Wait(libc::POLLIN)),
                Got::Data => {}
                Got::Eof => {
                    let detail = " (the connection closed during the handshake)";
                    return Err(self.truncated(ctx.what(true), detail));
                }
            }
        }
    }

    fn recv(
        &mut self,
        io: &mut Io,
        ctx: &Ctx,
        buf: &mut [MaybeUninit<u8>],
        peek: bool,
    ) -> Result<Step<usize>> {
        // Only while handshaking does a receive wait for its own writes: a
        // sender's records stuck in a full kernel buffer must never keep
        // this thread from reading (the peer may be waiting for us to read
        // before it reads in turn). They are flushed below when they can go.
        if self.tls.is_handshaking() {
            if let Step::Wait(ev) = self.handshake(io, ctx)? {
                return Ok(Step::Wait(ev));
            }
        }
        loop {
            match self.take_plain(buf, peek) {
                Ok(n) => {
                    // Records a sender left behind, or a key update's answer.
                    let _ = self.flush(io);
                    return Ok(Step::Done(n));
                }
                Err(e) if blocked(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    let e =
                        Error::new(POLYSOCK_ETLS_TRUNCATED, format_args!("{}", ctx.what(false)));
                    return Err(self.fail(e));
                }
                Err(e) => return Err(ctx.os(false, &e)),
            }
            let _ = self.flush(io);
            match self.read_some(io, ctx)? {
                Got::Blocked if self.tls.wants_write() => {
                    return Ok(Step::Wait(libc::POLLIN | libc::POLLOUT));
                }
                Got::Blocked => return Ok(Step::Wait(libc::POLLIN)),
                Got::Data | Got::Eof => {}
            }
        }
    }

    /// Copies decrypted bytes into `buf`: Ok(0) at the clean end of the
    /// stream, WouldBlock when none are here yet.
    fn take_plain(&mut self, buf: &mut [MaybeUninit<u8>], peek: bool) -> io::Result<usize> {
        let mut reader = self.tls.reader();
        let chunk = reader.fill_buf()?;
        let n = chunk.len().min(buf.len());
        for (d, &s) in buf[..n].iter_mut().zip(&chunk[..n]) {
            d.write(s);
        }
        if !peek {
            reader.consume(n);
            self.plain -= n.min(self.plain);
        }
        Ok(n)
    }

    fn send(&mut self, io: &mut Io, ctx: &Ctx, buf: &[u8]) -> Result<Step<usize>> {
        if self.closed_write {
            return fail!(
                libc::EPIPE,
                "{}: the TLS stream is shut down for sending (close_notify was sent)",
                ctx.what(false)
            );
        }
        if let Step::Wait(ev) = self.handshake(io, ctx)? {
            return Ok(Step::Wait(ev));
        }
        let flushed = |c: &mut Conn, io: &mut Io| c.flush(io).map_err(|e| ctx.os(false, &e));
        if !flushed(self, io)? {
            return Ok(Step::Wait(libc::POLLOUT));
        }
        if self.accepted > 0 {
            let n = std::mem::take(&mut self.accepted).min(buf.len());
            return Ok(Step::Done(n));
        }
        if buf.is_empty() {
            return Ok(Step::Done(0));
        }
        let n = self
            .tls
            .writer()
            .write(buf)
            .map_err(|e| ctx.os(false, &e))?;
        if flushed(self, io)? {
            return Ok(Step::Done(n));
        }
        self.accepted = n;
        Ok(Step::Wait(libc::POLLOUT))
    }

    fn close_notify(&mut self, io: &mut Io, ctx: &Ctx) -> Result<Step<()>> {
        if !self.closed_write {
            self.tls.send_close_notify();
            self.closed_write = true;
        }
        match self.flush(io).map_err(|e| ctx.os(false, &e))? {
            true => Ok(Step::Done(())),
            false => Ok(Step::Wait(libc::POLLOUT)),
        }
    }
}

impl TlsStream {
    fn lock(&self) -> MutexGuard<'_, Conn> {
        // rustls leaves its state consistent between calls; a panic inside
        // one is turned into EPANIC at the boundary.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `step` until it is done, waiting outside the lock as the
    /// socket's timeout allows (EAGAIN at once for timeout 0 or
    /// `dontwait`).
    fn drive<T>(
        &self,
        sock: &Socket,
        op: &str,
        dontwait: bool,
        deadline: &mut Option<Deadline>,
        mut step: impl FnMut(&mut Conn, &mut Io, &Ctx) -> Result<Step<T>>,
    ) -> Result<T> {
        let ctx = Ctx {
            op,
            peer: &self.peer,
        };
        let mut io = Io(sock.fd());
        loop {
            sock.check_open(op)?;
            let (r, hs) = {
                let mut c = self.lock();
                let r = match &c.failed {
                    Some(e) => Err(e.clone()),
                    None => step(&mut c, &mut io, &ctx),
                };
                self.plain.store(c.plain, Ordering::Release);
                (r, c.tls.is_handshaking())
            };
            let events = match r {
                Ok(Step::Done(v)) => {
                    self.want.store(0, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Step::Wait(events)) => events,
                Err(e) => {
                    // Closed by another thread: that is what the caller sees.
                    sock.check_open(op)?;
                    return Err(e);
                }
            };
            if sock.timeout() == 0 || dontwait {
                self.want.store(from_os(events), Ordering::Relaxed);
                return fail!(
                    libc::EAGAIN,
                    "{}: waits until the socket is {} (polysock_tls_wants)",
                    ctx.what(hs),
                    if events & libc::POLLOUT != 0 {
                        "writable"
                    } else {
                        "readable"
                    }
                );
            }
            let d = *deadline.get_or_insert_with(|| sock.deadline());
            if let Err(e) = wait_fd(sock.fd(), events, d) {
                sock.check_open(op)?;
                return fail!(e.code(), "{}: {}", ctx.what(hs), e.context());
            }
        }
    }

    /// Sends once (see the module comment for what success means).
    pub(crate) fn send(
        &self,
        sock: &Socket,
        buf: &[u8],
        flags: i32,
        deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        if flags & libc::MSG_OOB != 0 {
            return fail!(libc::EOPNOTSUPP, "send: MSG_OOB has no meaning over TLS");
        }
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        self.drive(sock, "send", dontwait, deadline, |c, io, ctx| {
            c.send(io, ctx, buf)
        })
    }

    /// Receives decrypted bytes: Ok(0) after the peer's close_notify,
    /// POLYSOCK_ETLS_TRUNCATED when the connection ends without one.
    /// MSG_PEEK leaves them in place; MSG_WAITALL waits for `buf` to fill.
    pub(crate) fn recv(
        &self,
        sock: &Socket,
        op: &str,
        buf: &mut [MaybeUninit<u8>],
        flags: i32,
        deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        if flags & (libc::MSG_OOB | libc::MSG_TRUNC) != 0 {
            return fail!(
                libc::EOPNOTSUPP,
                "{op}: MSG_OOB and MSG_TRUNC have no meaning over TLS"
            );
        }
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        let peek = flags & libc::MSG_PEEK != 0;
        if flags & libc::MSG_WAITALL == 0 || peek {
            return self.drive(sock, op, dontwait, deadline, |c, io, ctx| {
                c.recv(io, ctx, buf, peek)
            });
        }
        let mut got = 0;
        while got < buf.len() {
            let rest = &mut buf[got..];
            match self.drive(sock, op, dontwait, deadline, |c, io, ctx| {
                c.recv(io, ctx, rest, false)
            }) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) if got > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    /// Decrypted bytes ready to be read without waiting.
    pub(crate) fn buffered(&self) -> usize {
        self.plain.load(Ordering::Acquire)
    }

    /// What readiness the TLS session waits for (POLYSOCK_POLLIN/OUT): what
    /// the last EAGAIN waited for, and writability while records wait to go.
    pub(crate) fn wants(&self) -> i32 {
        let pending = self.lock().tls.wants_write();
        self.want.load(Ordering::Relaxed) | if pending { POLYSOCK_POLLOUT } else { 0 }
    }

    fn close_notify(&self, sock: &Socket, op: &str) -> Result<()> {
        self.drive(sock, op, false, &mut None, |c, io, ctx| {
            c.close_notify(io, ctx)
        })
    }
}

impl Socket {
    /// The socket's TLS session, if it was wrapped.
    #[inline]
    pub(crate) fn tls(&self) -> Option<&TlsStream> {
        self.tls
            .get()
            .filter(|t| !t.unwrapped.load(Ordering::Acquire))
            .map(|b| &**b)
    }

    fn tls_stream(&self, op: &str) -> Result<&TlsStream> {
        match self.tls() {
            Some(t) => Ok(t),
            None => fail!(
                libc::EINVAL,
                "{op}: the socket is not a TLS stream (polysock_tls_wrap it first)"
            ),
        }
    }

    /// Puts a TLS session of `config`'s side on this connected stream
    /// socket. `server_name` (clients) is the name the certificate must be
    /// for, and the SNI sent. No I/O happens here: the handshake runs on
    /// `tls_handshake`, or on the first send or receive.
    pub fn tls_wrap(&self, config: &TlsConfig, server_name: Option<&str>) -> Result<()> {
        self.wrap_as("tls_wrap", Side::Client, config, server_name)
    }

    /// Puts the server side of a TLS session of `config` on this accepted
    /// socket (see `tls_wrap`).
    pub fn tls_wrap_server(&self, config: &TlsConfig) -> Result<()> {
        self.wrap_as("tls_wrap_server", Side::Server, config, None)
    }

    fn wrap_as(
        &self,
        op: &str,
        side: Side,
        config: &TlsConfig,
        server_name: Option<&str>,
    ) -> Result<()> {
        if config.side() != side {
            return fail!(
                libc::EINVAL,
                "{op}: that is a {} configuration: use {}",
                if side == Side::Client {
                    "server"
                } else {
                    "client"
                },
                if side == Side::Client {
                    "polysock_tls_wrap_server"
                } else {
                    "polysock_tls_wrap"
                }
            );
        }
        self.check_wrappable(op)?;
        let (conn, peer): (rustls::Connection, String) = match (config.built(op)?, server_name) {
            (Built::Client(c), name) => {
                let (server, peer) = match name {
                    Some(n) => match ServerName::try_from(n.to_string()) {
                        Ok(s) => (s, n.to_string()),
                        Err(_) => {
                            return fail!(
                                libc::EINVAL,
                                "{op}: server_name {n:?} is neither a DNS name nor an IP address"
                            );
                        }
                    },
                    None if config.verify() == Verify::Nothing => {
                        let a = self.peer_addr()?;
                        let ip = a.host_str().split('%').next().unwrap_or("").to_string();
                        match ServerName::try_from(ip) {
                            Ok(s) => (s, a.to_string()),
                            Err(_) => {
                                return fail!(
                                    libc::EINVAL,
                                    "{op}: server_name is NULL and the peer {a} has no IP address to name it by"
                                );
                            }
                        }
                    }
                    None => {
                        return fail!(
                            libc::EINVAL,
                            "{op}: server_name is NULL: the certificate is checked against it (or use polysock_tls_config_insecure_skip_verify)"
                        );
                    }
                };
                let conn = rustls::ClientConnection::new(c, server).map_err(|e| {
                    Error::new(
                        crate::core::error::POLYSOCK_ETLS_CONFIG,
                        format_args!("{op}: {e}"),
                    )
                })?;
                (conn.into(), peer)
            }
            (Built::Server(c), _) => {
                let conn = rustls::ServerConnection::new(c).map_err(|e| {
                    Error::new(
                        crate::core::error::POLYSOCK_ETLS_CONFIG,
                        format_args!("{op}: {e}"),
                    )
                })?;
                let peer = match self.peer_addr() {
                    Ok(a) => format!("client {a}"),
                    Err(_) => "client".to_string(),
                };
                (conn.into(), peer)
            }
        };
        let mut conn = Conn {
            tls: conn,
            accepted: 0,
            plain: 0,
            failed: None,
            closed_write: false,
            peer_closed: false,
            framer: record::Framer::default(),
            exact: false,
        };
        // Bytes a readline already took from the kernel (a STARTTLS reply
        // read line by line) belong to the TLS stream.
        if self.reader.has_data() {
            self.reader.take_with(0, |all| {
                let mut bytes = all;
                while !bytes.is_empty() && conn.tls.read_tls(&mut bytes).is_ok_and(|n| n > 0) {}
                let taken = all.len() - bytes.len();
                conn.framer.track(&all[..taken]);
                taken
            });
            if let Err(e) = conn.tls.process_new_packets() {
                let ctx = format!("tls handshake with {peer}");
                conn.failed = Some(errors::from_rustls(&ctx, &e));
            }
        }
        let stream = TlsStream {
            conn: Mutex::new(conn),
            want: AtomicI32::new(0),
            plain: AtomicUsize::new(0),
            peer: peer.into_boxed_str(),
            side: config.side(),
            unwrapped: AtomicBool::new(false),
        };
        if self.tls.set(Box::new(stream)).is_err() {
            // Wrapped by another thread meanwhile: say so.
            self.check_wrappable(op)?;
        }
        // Decrypted bytes the kernel cannot see: poll's look checks them.
        crate::core::handles::mark_buffering(self);
        self.watchers.tls_wrapped(self.fd(), self.id());
        Ok(())
    }

    fn check_wrappable(&self, op: &str) -> Result<()> {
        match self.tls.get() {
            Some(t) if t.unwrapped.load(Ordering::Acquire) => {
                return fail!(
                    libc::EOPNOTSUPP,
                    "{op}: the socket was a TLS stream and was unwrapped: a socket is wrapped once"
                );
            }
            Some(_) => return fail!(libc::EALREADY, "{op}: the socket is a TLS stream already"),
            None => {}
        }
        if self.socktype() != libc::SOCK_STREAM {
            return fail!(
                libc::EOPNOTSUPP,
                "{op}: TLS needs a stream socket (SOCK_STREAM); DTLS is not supported"
            );
        }
        if self.state() & LISTENING != 0 {
            return fail!(
                libc::EINVAL,
                "{op}: the socket is listening: wrap each accepted socket instead"
            );
        }
        if self.peer_addr().is_err() {
            return fail!(
                libc::ENOTCONN,
                "{op}: the socket is not connected (connect it, or finish a non-blocking connect, first)"
            );
        }
        Ok(())
    }

    /// Completes the handshake within the socket's timeout (EAGAIN with
    /// timeout 0 until it is done; see `tls_wants`). Done already: Ok.
    pub fn tls_handshake(&self) -> Result<()> {
        let op = "tls_handshake";
        self.tls_stream(op)?
            .drive(self, op, false, &mut None, |c, io, ctx| {
                c.handshake(io, ctx)
            })
    }

    /// What a TLS socket waits for: POLYSOCK_POLLIN, POLYSOCK_POLLOUT, both,
    /// or 0 when nothing is pending.
    pub fn tls_wants(&self) -> Result<i32> {
        Ok(self.tls_stream("tls_wants")?.wants())
    }

    /// Sends close_notify (within the timeout) before a shutdown for
    /// writing; nothing for a plain socket.
    pub(crate) fn tls_shutdown(&self, how: i32) -> Result<()> {
        match self.tls() {
            Some(t) if how != libc::SHUT_RD => t.close_notify(self, "shutdown"),
            _ => Ok(()),
        }
    }

    /// EOPNOTSUPP for calls that would bypass the TLS session.
    #[inline]
    pub(crate) fn refuse_tls(&self, op: &str) -> Result<()> {
        if self.tls().is_some() {
            return Err(refused_on_tls(op));
        }
        Ok(())
    }
}

/// `refuse_tls`'s error, out of line and given `op` by value: the data
/// calls' usual path then stores no formatting arguments for it.
#[cold]
#[inline(never)]
fn refused_on_tls(op: &str) -> Error {
    Error::new(
        libc::EOPNOTSUPP,
        format_args!("{op}: not available on a TLS stream (it would bypass the encryption)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_still_fits_its_slot() {
        // handles.rs gives each slot one 192-byte block (three cache lines).
        assert!(
            std::mem::size_of::<Socket>() <= 192 - 16,
            "Socket is {} bytes",
            std::mem::size_of::<Socket>()
        );
    }
}
