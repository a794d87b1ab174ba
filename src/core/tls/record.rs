//! Reading the peer's TLS records from the socket, knowing where each one
//! ends: after the peer's close_notify the connection may go on in plain
//! text (STARTTLS-style protocols, `polysock_tls_unwrap`), and those bytes
//! must stay in the kernel for the plain socket, not vanish into rustls.

use super::os_result;
use std::io::{self, Read};
use std::os::fd::RawFd;

const HEADER: usize = 5;

/// Where the peer's record stream stands: every byte given to rustls goes
/// through `track` (a few comparisons per record, whatever its size).
#[derive(Default)]
pub(super) struct Framer {
    header: [u8; HEADER],
    /// Header bytes seen of the current record (HEADER once in its body).
    have: usize,
    /// Body bytes of the current record still to come.
    left: usize,
}

impl Framer {
    /// Bytes up to the end of the current header or body.
    fn to_boundary(&self) -> usize {
        if self.have < HEADER {
            HEADER - self.have
        } else {
            self.left
        }
    }

    /// Accounts for `bytes`, the next ones of the stream.
    pub(super) fn track(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.have < HEADER {
                let n = (HEADER - self.have).min(bytes.len());
                self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
                self.have += n;
                bytes = &bytes[n..];
                if self.have == HEADER {
                    self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                }
            } else {
                let n = self.left.min(bytes.len());
                self.left -= n;
                bytes = &bytes[n..];
            }
            if self.have == HEADER && self.left == 0 {
                self.have = 0;
            }
        }
    }
}

/// The socket's fd as rustls's source: never blocks, resumes after EINTR;
/// `exact` stops each read at the end of a header or record.
pub(super) struct Reader<'a> {
    pub(super) fd: RawFd,
    pub(super) framer: &'a mut Framer,
    pub(super) exact: bool,
}

impl Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = match self.exact {
            true => buf.len().min(self.framer.to_boundary()),
            false => buf.len(),
        };
        loop {
            // SAFETY: buf is valid for writes of len <= buf.len() bytes.
            let n =
                unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), len, libc::MSG_DONTWAIT) };
            if let Some(r) = os_result(n) {
                if let Ok(n) = r {
                    self.framer.track(&buf[..n]);
                }
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framer_finds_record_ends_however_the_bytes_are_split() {
        // Two records (bodies of 3 and 0 bytes), then a third's header.
        let stream = [23, 3, 3, 0, 3, 1, 2, 3, 21, 3, 3, 0, 0, 23, 3, 3, 1, 0];
        for split in 0..stream.len() {
            let mut f = Framer::default();
            f.track(&stream[..split]);
            f.track(&stream[split..]);
            assert_eq!(
                (f.have, f.left, f.to_boundary()),
                (5, 256, 256),
                "split {split}"
            );
        }
        let mut f = Framer::default();
        f.track(&stream[..7]);
        assert_eq!(f.to_boundary(), 1);
        f.track(&stream[7..8]);
        assert_eq!(f.to_boundary(), HEADER);
    }
}
