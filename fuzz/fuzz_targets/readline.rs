//! readline / read_until over an arbitrary chunking of an arbitrary
//! stream, through a real socketpair: each chunk is written, then the
//! reader is drained without blocking (timeout 0: EAGAIN leaves the partial
//! line buffered); at the end the writer shuts down and the rest is read.
//! The lines must be exactly the concatenated stream split after each
//! delimiter. A line longer than the buffer must fail with EMSGSIZE and
//! consume nothing; the test then takes `len` bytes with polysock_recv
//! (which serves buffered bytes first) and the model does the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::ffi::io::polysock_recv;
use polysock::ffi::reader::{polysock_read_until, polysock_readline};
use polysock::ffi::socket::{
    polysock_close, polysock_settimeout, polysock_shutdown, polysock_socketpair,
};
use polysock_fuzz::{Input, expect_code, failure_code, init, resolver_guard};

resolver_guard!();

/// The model: where the next piece of `stream` from `at` ends, given the
/// buffer length: Ok(end) for a line (delimiter included, or the end of a
/// finished stream), Err(()) for a line that does not fit.
fn next_piece(
    stream: &[u8],
    at: usize,
    delim: &[u8],
    len: usize,
    eof: bool,
) -> Option<Result<usize, ()>> {
    let rest = &stream[at..];
    let found = rest.windows(delim.len()).position(|w| w == delim);
    match found {
        Some(p) if p + delim.len() <= len => Some(Ok(at + p + delim.len())),
        _ if rest.len() >= len => Some(Err(())),
        None if eof && !rest.is_empty() => Some(Ok(stream.len())),
        _ => None,
    }
}

struct Pair([i64; 2]);
impl Drop for Pair {
    fn drop(&mut self) {
        polysock_close(self.0[0]);
        polysock_close(self.0[1]);
    }
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let mode = input.byte();
    let delim: Vec<u8> = if mode & 1 == 0 {
        b"\n".to_vec()
    } else {
        let n = 1 + usize::from(input.byte() % 4);
        input.take(n).to_vec()
    };
    if delim.is_empty() {
        return;
    }
    let len = 1 + usize::from(input.u16() % 600);
    // The chunk lengths, then the stream.
    let nchunks = usize::from(input.byte() % 16);
    let cuts: Vec<usize> = (0..nchunks).map(|_| usize::from(input.byte())).collect();
    let stream = input.rest();
    if stream.len() > 16 * 1024 {
        return;
    }

    let mut p = [0i64; 2];
    assert_eq!(
        polysock_socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, p.as_mut_ptr()),
        0
    );
    let pair = Pair(p);
    assert_eq!(polysock_settimeout(pair.0[0], 0), 0);
    let (reader, writer) = (pair.0[0], pair.0[1]);
    let mut buf = vec![0u8; len];
    let mut at = 0; // where the model is in the stream
    let mut written = 0;

    let mut drain = |written: usize, eof: bool, at: &mut usize| loop {
        let mut n = usize::MAX;
        let rc = if delim == b"\n" && mode & 2 == 0 {
            polysock_readline(reader, buf.as_mut_ptr().cast(), len, &mut n)
        } else {
            polysock_read_until(
                reader,
                delim.as_ptr().cast(),
                delim.len(),
                buf.as_mut_ptr().cast(),
                len,
                &mut n,
            )
        };
        let seen = &stream[..written];
        match next_piece(seen, *at, &delim, len, eof) {
            Some(Ok(end)) => {
                assert_eq!(rc, 0, "a line was due: error {}", failure_code("readline"));
                assert_eq!(&buf[..n], &seen[*at..end], "line at {}", *at);
                *at = end;
            }
            Some(Err(())) => {
                expect_code("readline (too long)", rc.into(), libc::EMSGSIZE);
                let got = polysock_recv(reader, buf.as_mut_ptr().cast(), len, 0);
                assert_eq!(got, len as i64, "the long line was not left buffered");
                assert_eq!(&buf[..len], &seen[*at..*at + len]);
                *at += len;
            }
            None if eof => {
                assert_eq!((rc, n), (0, 0), "end of stream must read as 0 bytes");
                return;
            }
            None => {
                expect_code("readline (no line yet)", rc.into(), libc::EAGAIN);
                return;
            }
        }
    };

    for cut in cuts {
        let end = (written + cut).min(stream.len());
        let chunk = &stream[written..end];
        if !chunk.is_empty() {
            let rc =
                polysock::ffi::io::polysock_send(writer, chunk.as_ptr().cast(), chunk.len(), 0);
            assert_eq!(rc, chunk.len() as i64);
        }
        written = end;
        drain(written, false, &mut at);
    }
    let chunk = &stream[written..];
    if !chunk.is_empty() {
        let rc = polysock::ffi::io::polysock_send(writer, chunk.as_ptr().cast(), chunk.len(), 0);
        assert_eq!(rc, chunk.len() as i64);
    }
    assert_eq!(polysock_shutdown(writer, libc::SHUT_WR), 0);
    drain(stream.len(), true, &mut at);
    assert_eq!(at, stream.len());
});
