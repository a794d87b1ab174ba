//! Ending TLS on a socket that stays open (Python's SSLSocket.unwrap(),
//! protocols that go back to plain text): close_notify both ways, then the
//! same handle is a plain socket again.
//!
//! From the first call on, records are read one at a time and never past
//! the end of one (record.rs), so bytes the peer sends in plain text after
//! its close_notify stay in the kernel for the plain socket. Decrypted
//! bytes the caller has not received make the call fail rather than be
//! dropped: it can receive them and call again, as after EAGAIN.

use super::{Conn, Ctx, Got, Io, Step};
use crate::core::error::{Result, fail};
use crate::core::socket::Socket;
use std::sync::atomic::Ordering;

impl Conn {
    fn unwrap(&mut self, io: &mut Io, ctx: &Ctx) -> Result<Step<()>> {
        if self.tls.is_handshaking() {
            return fail!(
                libc::ENOTCONN,
                "{}: the handshake has not completed",
                ctx.what(false)
            );
        }
        self.exact = true;
        loop {
            if self.plain > 0 {
                return fail!(
                    libc::EBUSY,
                    "{}: {} decrypted bytes have not been received (receive them, then unwrap again)",
                    ctx.what(false),
                    self.plain
                );
            }
            if let Step::Wait(ev) = self.close_notify(io, ctx)? {
                return Ok(Step::Wait(ev));
            }
            if self.peer_closed {
                return Ok(Step::Done(()));
            }
            match self.read_some(io, ctx)? {
                Got::Data => {}
                Got::Blocked => return Ok(Step::Wait(libc::POLLIN)),
                Got::Eof => {
                    let detail = ": the peer closed the connection without close_notify";
                    return Err(self.truncated(ctx.what(false), detail));
                }
            }
        }
    }
}

impl Socket {
    /// Sends close_notify, waits (within the timeout) for the peer's, and
    /// makes the socket plain again (see the module comment).
    pub fn tls_unwrap(&self) -> Result<()> {
        let op = "tls_unwrap";
        let t = self.tls_stream(op)?;
        if self.reader.has_data() {
            return fail!(
                libc::EBUSY,
                "{op}: polysock_readline buffered decrypted bytes that have not been received (receive them, then unwrap again)"
            );
        }
        t.drive(self, op, false, &mut None, |c, io, ctx| c.unwrap(io, ctx))?;
        t.unwrapped.store(true, Ordering::Release);
        Ok(())
    }
}
