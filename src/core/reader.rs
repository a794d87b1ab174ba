//! The buffered reader: readline and read-until over a per-socket buffer
//! (CPython's makefile().readline, LuaSocket's "*l"), which coexists with
//! plain recv: bytes the reader has buffered come first from every receive
//! call (recv, recv_exact, recvfrom, recvmsg, recv_handle, recvmmsg).
//!
//! Cost when unused: one `AtomicBool` load per receive. The buffer sits
//! behind a per-socket `Mutex` that is set up (boxed, so an unused reader
//! adds only a pointer to every Socket moved) on the first readline, and
//! its memory is allocated only when a readline first reads; it grows with
//! the data (at most to about twice the longest `len` asked for) and is
//! given back when it empties after a long line.
//!
//! Threads: the reader's lock is held while a readline waits for data, so
//! a receive on the same socket that finds bytes buffered waits for that
//! readline to finish. Reading one stream from several threads at once
//! gives the bytes in an unspecified order anyway; polysock only promises
//! that no byte is lost or returned twice.

use super::error::{Error, Result, fail};
use super::handles;
use super::socket::Socket;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The first allocation of a reader, and the size it shrinks back to.
const INITIAL_CAPACITY: usize = 8192;
/// A buffer bigger than this is freed when it empties.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The per-socket read buffer (see the module comment).
pub(crate) struct Reader {
    /// True while `buf` holds bytes; the receive paths test only this.
    has_data: AtomicBool,
    /// The last read_until stopped for want of data with bytes kept (a
    /// partial line): those bytes do not make the socket readable for poll
    /// until more arrive or a receive takes them.
    waiting: AtomicBool,
    buf: OnceLock<Box<Mutex<ReadBuf>>>,
}

#[derive(Default)]
struct ReadBuf {
    /// `data[start..]` are the bytes not yet handed out.
    data: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.start = 0;
            self.data.clear();
            if self.data.capacity() > KEEP_CAPACITY {
                self.data = Vec::new();
            }
        }
    }

    /// Free room at the end of the buffer, after moving the unread bytes
    /// (a partial line) to the front, and growing it if it is full.
    fn room(&mut self) -> &mut [MaybeUninit<u8>] {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        if self.data.len() == self.data.capacity() {
            let more = self.data.capacity().max(INITIAL_CAPACITY);
            self.data.reserve_exact(more);
        }
        self.data.spare_capacity_mut()
    }
}

impl Reader {
    pub(crate) const fn new() -> Reader {
        Reader {
            has_data: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            buf: OnceLock::new(),
        }
    }

    /// Whether bytes are buffered: the receive paths' only cost when no
    /// readline was ever used.
    #[inline]
    pub(crate) fn has_data(&self) -> bool {
        self.has_data.load(Ordering::Acquire)
    }

    /// Whether a readline ever ran on this socket (its pollers then look
    /// at its buffer before each wait).
    #[inline]
    pub(crate) fn started(&self) -> bool {
        self.buf.get().is_some()
    }

    /// Bytes are buffered that a readline has not found wanting: poll and
    /// the poller report them as POLYSOCK_POLLIN.
    #[inline]
    pub(crate) fn readable(&self) -> bool {
        self.has_data() && !self.waiting.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, ReadBuf> {
        // A panic while the lock was held leaves the buffer consistent
        // (every update is a whole step), so a poisoned lock is usable.
        self.buf
            .get_or_init(Box::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The number of bytes buffered.
    pub(crate) fn len(&self) -> usize {
        if !self.has_data() {
            return 0;
        }
        self.lock().bytes().len()
    }

    /// Hands buffered bytes to `f`, which returns how many it took; they
    /// are consumed unless `flags` has MSG_PEEK. None when nothing is
    /// buffered (another thread took it since `has_data`).
    pub(crate) fn take_with(&self, flags: i32, f: impl FnOnce(&[u8]) -> usize) -> Option<usize> {
        let mut b = self.lock();
        if b.bytes().is_empty() {
            return None;
        }
        let n = f(b.bytes());
        if flags & libc::MSG_PEEK == 0 {
            self.consume(&mut b, n);
        }
        Some(n)
    }

    /// Copies buffered bytes into `out` (see `take_with`).
    pub(crate) fn take_into(&self, out: &mut [MaybeUninit<u8>], flags: i32) -> Option<usize> {
        self.take_with(flags, |src| copy_out(src, out))
    }

    fn consume(&self, b: &mut ReadBuf, n: usize) {
        b.consume(n);
        self.waiting.store(false, Ordering::Release);
        if b.bytes().is_empty() {
            self.has_data.store(false, Ordering::Release);
        }
    }
}

fn copy_out(src: &[u8], out: &mut [MaybeUninit<u8>]) -> usize {
    let n = src.len().min(out.len());
    for (d, &s) in out[..n].iter_mut().zip(&src[..n]) {
        d.write(s);
    }
    n
}

/// Where `delim` first occurs in `hay`, searching from `from`.
fn find(hay: &[u8], delim: &[u8], from: usize) -> Option<usize> {
    let hay = hay.get(from..)?;
    let pos = if let [byte] = delim {
        hay.iter().position(|b| b == byte)
    } else {
        hay.windows(delim.len()).position(|w| w == delim)
    };
    pos.map(|p| p + from)
}

impl Socket {
    /// Reads up to and including `delim` into `out`, within one deadline
    /// (the socket's timeout covers the whole call). At end of stream it
    /// returns what is left (Ok(0) when nothing is). A line that does not
    /// fit in `out` fails with EMSGSIZE and consumes nothing: its bytes stay
    /// buffered for the next receive. Any failure (timeout, EAGAIN...)
    /// leaves every byte read so far buffered.
    pub fn read_until(&self, op: &str, delim: &[u8], out: &mut [MaybeUninit<u8>]) -> Result<usize> {
        if self.socktype() != libc::SOCK_STREAM {
            return fail!(
                libc::EOPNOTSUPP,
                "{op}: the buffered reader needs a stream socket (SOCK_STREAM)"
            );
        }
        if delim.is_empty() {
            return fail!(libc::EINVAL, "{op}: the delimiter is empty");
        }
        if out.is_empty() {
            return fail!(libc::EINVAL, "{op}: buffer length is 0");
        }
        let fd = self.fd();
        if !self.reader.started() {
            // Set up before its pollers and its handle-table slot are
            // told, so that a registration racing with this sees one or
            // the other.
            drop(self.reader.lock());
            handles::mark_buffering(self);
            self.watchers.buffering(fd, self.id());
        }
        let mut b = self.reader.lock();
        let mut deadline = None;
        // Bytes at the front known to hold no delimiter.
        let mut scanned: usize = 0;
        loop {
            let avail = b.bytes();
            let window = &avail[..avail.len().min(out.len())];
            let from = scanned.saturating_sub(delim.len() - 1);
            if let Some(pos) = find(window, delim, from) {
                let n = copy_out(&window[..pos + delim.len()], out);
                self.reader.consume(&mut b, n);
                return Ok(n);
            }
            if avail.len() >= out.len() {
                return Err(too_long(op, delim, out.len()));
            }
            scanned = avail.len();
            let room = b.room();
            let (ptr, len) = (room.as_mut_ptr(), room.len());
            let got = match self.tls() {
                Some(tls) => tls.recv(self, op, room, 0, &mut deadline),
                None => self.retry(op, libc::POLLIN, 0, &mut deadline, || {
                    // SAFETY: ptr is valid for writes of len bytes (the
                    // spare capacity of the buffer, which nothing else
                    // touches while the lock is held).
                    unsafe { libc::recv(fd, ptr.cast(), len, 0) }
                }),
            };
            // Stopped for want of data (EAGAIN, a timeout...): what is
            // kept waits for the kernel's next bytes.
            self.reader.waiting.store(got.is_err(), Ordering::Release);
            let n = got?;
            if n == 0 {
                // End of stream: what is left is the last line.
                let n = copy_out(b.bytes(), out);
                self.reader.consume(&mut b, n);
                return Ok(n);
            }
            let filled = b.data.len() + n;
            // SAFETY: recv initialised n bytes of the spare capacity.
            unsafe { b.data.set_len(filled) };
            self.reader.has_data.store(true, Ordering::Release);
        }
    }

    /// The number of bytes the buffered reader holds, and on a TLS socket
    /// the decrypted bytes waiting: a runtime's event loop must not wait
    /// for readability while this is above 0.
    pub fn buffered_len(&self) -> usize {
        self.reader.len() + self.tls().map_or(0, |t| t.buffered())
    }

    /// Whether the socket may hold bytes the kernel does not: a readline
    /// ran on it, or it is a TLS stream (its handle-table slot says so
    /// from then on, for poll's look).
    pub(crate) fn may_buffer(&self) -> bool {
        self.reader.started() || self.tls().is_some()
    }

    /// Whether poll and the poller call the socket readable although the
    /// kernel may have nothing: bytes its reader holds (unless the last
    /// readline found them to be only part of a line) or decrypted bytes.
    pub(crate) fn buffered_readable(&self) -> bool {
        self.reader.readable() || self.tls().is_some_and(|t| t.buffered() > 0)
    }
}

fn too_long(op: &str, delim: &[u8], len: usize) -> Error {
    if delim == b"\n" {
        Error::new(
            libc::EMSGSIZE,
            format_args!(
                "{op}: no '\\n' in the first {len} bytes: the line does not fit in the buffer (nothing was consumed)"
            ),
        )
    } else {
        Error::new(
            libc::EMSGSIZE,
            format_args!(
                "{op}: the delimiter does not end within the first {len} bytes: they do not fit in the buffer (nothing was consumed)"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_single_and_multi_byte() {
        assert_eq!(find(b"ab\ncd\n", b"\n", 0), Some(2));
        assert_eq!(find(b"ab\ncd\n", b"\n", 3), Some(5));
        assert_eq!(find(b"ab\r\ncd", b"\r\n", 0), Some(2));
        assert_eq!(find(b"ab\r\ncd", b"\r\n", 3), None);
        assert_eq!(find(b"ab", b"\n", 5), None);
    }

    #[test]
    fn buffer_compacts_and_frees() {
        let mut b = ReadBuf::default();
        let room = b.room();
        assert!(room.len() >= INITIAL_CAPACITY);
        let n = room.len();
        b.data.resize(n, b'x');
        b.consume(n - 1);
        assert_eq!(b.bytes().len(), 1);
        let room = b.room().len();
        assert_eq!(b.start, 0);
        assert_eq!(room, n - 1);
        b.consume(1);
        assert!(b.bytes().is_empty());
    }
}
