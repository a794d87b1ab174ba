//! The ABI's pointer and length checks: exports called through their C
//! signatures with fuzzed handles (live, closed, random), NULL or real
//! buffers, and lengths (the real one, any length with NULL, lengths above
//! isize::MAX as a negative length cast to size_t gives). A dead handle is
//! EBADF, a NULL buffer with a length or an oversized length is EINVAL,
//! anything else succeeds or fails with a clear code; no call writes past
//! the buffer it was given or reports more bytes than it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::core::addr::Addr;
use polysock::ffi::io::*;
use polysock::ffi::reader::{polysock_read_until, polysock_readline};
use polysock::ffi::resolve::{
    polysock_gethostname, polysock_getnameinfo, polysock_if_indextoname, polysock_inet_ntop,
};
use polysock::ffi::socket::{polysock_close, polysock_settimeout, polysock_socketpair};
use polysock_fuzz::{Input, expect_code, failure_code, init, resolver_guard};
use std::ffi::c_void;

resolver_guard!();

const CANARY: u8 = 0xc3;

/// A buffer as the fuzzer describes it: NULL or `real` bytes, and the
/// length passed for it.
struct Buf {
    mem: Vec<u8>,
    null: bool,
    real: usize,
    passed: usize,
}

impl Buf {
    fn new(input: &mut Input) -> Buf {
        let sel = input.byte();
        let real = usize::from(input.byte());
        let null = sel & 3 == 0;
        let passed = match sel >> 2 & 3 {
            0 if null => usize::from(input.u16()),
            1 => usize::MAX - usize::from(input.byte()), // -1, -2, ... cast
            2 => isize::MAX as usize + 1 + usize::from(input.byte()),
            _ if null => 0,
            _ => real,
        };
        let mut mem = vec![CANARY; real + 16];
        mem[..real].copy_from_slice(
            &input
                .take(real)
                .iter()
                .copied()
                .chain(std::iter::repeat(b'\n'))
                .take(real)
                .collect::<Vec<_>>(),
        );
        Buf {
            mem,
            null,
            real,
            passed,
        }
    }
    fn ptr(&mut self) -> *mut c_void {
        if self.null {
            std::ptr::null_mut()
        } else {
            self.mem.as_mut_ptr().cast()
        }
    }
    /// The EINVAL the checks owe this buffer, if any.
    fn bad(&self) -> bool {
        self.passed > isize::MAX as usize || (self.null && self.passed > 0)
    }
    fn intact(&self, call: &str) {
        assert!(
            self.mem[self.real..].iter().all(|&b| b == CANARY),
            "{call} wrote past {} bytes",
            self.real
        );
    }
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let mut p = [0i64; 2];
    assert_eq!(
        polysock_socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, p.as_mut_ptr()),
        0
    );
    for &h in &p {
        assert_eq!(polysock_settimeout(h, 0), 0);
    }
    let mut closed = [0i64; 2];
    assert_eq!(
        polysock_socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, closed.as_mut_ptr()),
        0
    );
    polysock_close(closed[0]);
    polysock_close(closed[1]);
    // Something to read, so receives have bytes to write.
    assert_eq!(polysock_send(p[1], b"ab\ncd\n".as_ptr().cast(), 6, 0), 6);

    while input.0.len() > 2 {
        let call = input.byte();
        let h = match input.byte() % 4 {
            0 => closed[0],
            1 => i64::from(input.i32()) << 20 | i64::from(input.byte()),
            _ => p[usize::from(call & 1)],
        };
        let live = h == p[0] || h == p[1];
        let mut b = Buf::new(&mut input);
        let mut count = usize::MAX;
        let (name, rc): (&str, i64) = match call % 10 {
            0 => ("send", polysock_send(h, b.ptr(), b.passed, 0)),
            1 => ("recv", polysock_recv(h, b.ptr(), b.passed, 0)),
            2 => (
                "sendall",
                polysock_sendall(h, b.ptr(), b.passed, 0, &mut count),
            ),
            3 => (
                "recv_exact",
                polysock_recv_exact(h, b.ptr(), b.passed, 0, &mut count),
            ),
            4 => (
                "sendto",
                polysock_sendto(h, b.ptr(), b.passed, 0, std::ptr::null(), 0),
            ),
            5 => {
                let mut from = Addr::empty();
                (
                    "recvfrom",
                    polysock_recvfrom(h, b.ptr(), b.passed, 0, &mut from),
                )
            }
            6 => (
                "readline",
                polysock_readline(h, b.ptr().cast(), b.passed, &mut count).into(),
            ),
            7 => {
                let delim = [b'\n', b'd'];
                let dn = usize::from(input.byte() % 3);
                (
                    "read_until",
                    polysock_read_until(
                        h,
                        delim.as_ptr().cast(),
                        dn,
                        b.ptr(),
                        b.passed,
                        &mut count,
                    )
                    .into(),
                )
            }
            _ => {
                // The text outputs, which need no socket.
                let rc = match input.byte() % 4 {
                    0 => {
                        let bytes = [127u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
                        let (fam, n) = if call & 1 == 0 {
                            (libc::AF_INET, 4)
                        } else {
                            (libc::AF_INET6, 16)
                        };
                        polysock_inet_ntop(fam, bytes.as_ptr().cast(), n, b.ptr().cast(), b.passed)
                    }
                    1 => polysock_gethostname(b.ptr().cast(), b.passed),
                    2 => polysock_if_indextoname(1, b.ptr().cast(), b.passed),
                    _ => {
                        let mut a = Addr::empty();
                        a.family = libc::AF_INET6;
                        a.port = 80;
                        a.host[..3].copy_from_slice(&[b':' as _, b':' as _, b'1' as _]);
                        polysock_getnameinfo(
                            &a,
                            libc::NI_NUMERICHOST,
                            b.ptr().cast(),
                            b.passed,
                            std::ptr::null_mut(),
                            0,
                        )
                    }
                };
                if b.bad() {
                    expect_code("text output", rc.into(), libc::EINVAL);
                } else if rc != 0 {
                    let code = failure_code("text output");
                    assert!(
                        code == libc::ERANGE || code == libc::EINVAL,
                        "text output: code {code}"
                    );
                } else {
                    let end = b.mem[..b.real].iter().position(|&c| c == 0);
                    assert!(
                        end.is_some(),
                        "text output without a NUL within {} bytes",
                        b.real
                    );
                }
                b.intact("text output");
                continue;
            }
        };
        if !live {
            expect_code(name, rc, libc::EBADF);
        } else if b.bad() {
            expect_code(name, rc, libc::EINVAL);
        } else if rc < 0 {
            failure_code(name);
        } else {
            assert!(
                rc as usize <= b.real,
                "{name} reported {rc} bytes of a {}-byte buffer",
                b.real
            );
        }
        if count != usize::MAX {
            assert!(
                count <= b.passed.min(b.real),
                "{name}: progress {count} beyond the buffer"
            );
        }
        b.intact(name);
    }
    polysock_close(p[0]);
    polysock_close(p[1]);
});
