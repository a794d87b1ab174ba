//! Option byte buffers: polysock_setsockopt_bytes / getsockopt_bytes with
//! fuzzed levels, options, value lengths and NULLs, and the typed
//! polysock_setopt / getopt with fuzzed values, on fresh TCP, UDP and Unix
//! sockets. No crash; a NULL buffer with a length, a NULL out_len, a
//! length above isize::MAX give EINVAL; every failure has a clear code;
//! getsockopt never writes past the length it was given and reports a
//! length within it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::ffi::options::{
    polysock_getopt, polysock_getsockopt_bytes, polysock_getsockopt_int, polysock_setopt,
    polysock_setsockopt_bytes,
};
use polysock::ffi::socket::{polysock_close, polysock_socket};
use polysock_fuzz::{Input, expect_code, failure_code, init, resolver_guard};

resolver_guard!();

const LEVELS: [i32; 6] = [
    libc::SOL_SOCKET,
    libc::IPPROTO_TCP,
    libc::IPPROTO_IP,
    libc::IPPROTO_IPV6,
    libc::IPPROTO_UDP,
    libc::SOL_SOCKET,
];

/// Options whose value holds a pointer the kernel follows into this
/// process's memory (BPF programs, TCP_ZEROCOPY_RECEIVE's mapping address):
/// random bytes there are the caller's undefined behaviour, not polysock's.
fn skipped(level: i32, name: i32) -> bool {
    let pointers = [
        libc::SO_ATTACH_FILTER,
        libc::SO_ATTACH_BPF,
        libc::SO_ATTACH_REUSEPORT_CBPF,
        libc::SO_ATTACH_REUSEPORT_EBPF,
    ];
    (level == libc::SOL_SOCKET && pointers.contains(&name))
        || (level == libc::IPPROTO_TCP && name == 35)
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let (family, socktype) = match input.byte() % 4 {
        0 => (libc::AF_INET, libc::SOCK_STREAM),
        1 => (libc::AF_INET6, libc::SOCK_DGRAM),
        2 => (libc::AF_UNIX, libc::SOCK_STREAM),
        _ => (libc::AF_INET6, libc::SOCK_STREAM),
    };
    let h = polysock_socket(family, socktype, 0);
    assert!(h >= 0, "socket: {}", failure_code("socket"));
    while !input.0.is_empty() {
        let op = input.byte();
        let level = match op >> 4 {
            0..=11 => LEVELS[usize::from(op >> 4) % LEVELS.len()],
            _ => input.i32(),
        };
        let name = i32::from(input.byte() % 80);
        let len = usize::from(input.byte() % 72);
        if skipped(level, name) {
            continue;
        }
        match op % 6 {
            0 | 1 => {
                let value = input.take(len);
                let ptr = if op & 8 != 0 && value.is_empty() {
                    std::ptr::null()
                } else {
                    value.as_ptr()
                };
                let rc = polysock_setsockopt_bytes(h, level, name, ptr.cast(), value.len());
                if rc != 0 {
                    failure_code("setsockopt");
                }
                expect_code(
                    "setsockopt NULL",
                    polysock_setsockopt_bytes(h, level, name, std::ptr::null(), len.max(1)).into(),
                    libc::EINVAL,
                );
                expect_code(
                    "setsockopt huge",
                    polysock_setsockopt_bytes(
                        h,
                        level,
                        name,
                        value.as_ptr().cast(),
                        usize::MAX - len,
                    )
                    .into(),
                    libc::EINVAL,
                );
            }
            2 | 3 => {
                let mut buf = vec![0x5au8; len + 8];
                let mut out_len = usize::MAX;
                let rc = polysock_getsockopt_bytes(
                    h,
                    level,
                    name,
                    buf.as_mut_ptr().cast(),
                    len,
                    &mut out_len,
                );
                if rc == 0 {
                    assert!(
                        out_len <= len,
                        "getsockopt reported {out_len} bytes for a buffer of {len}"
                    );
                } else {
                    failure_code("getsockopt");
                    assert_eq!(out_len, usize::MAX, "out_len written on failure");
                }
                assert!(
                    buf[len..].iter().all(|&b| b == 0x5a),
                    "getsockopt wrote past {len} bytes"
                );
                expect_code(
                    "getsockopt NULL out_len",
                    polysock_getsockopt_bytes(
                        h,
                        level,
                        name,
                        buf.as_mut_ptr().cast(),
                        len,
                        std::ptr::null_mut(),
                    )
                    .into(),
                    libc::EINVAL,
                );
                expect_code(
                    "getsockopt NULL buf",
                    polysock_getsockopt_bytes(
                        h,
                        level,
                        name,
                        std::ptr::null_mut(),
                        len.max(1),
                        &mut out_len,
                    )
                    .into(),
                    libc::EINVAL,
                );
                let mut v = 0;
                if polysock_getsockopt_int(h, level, name, &mut v) != 0 {
                    failure_code("getsockopt_int");
                }
            }
            4 => {
                let opt = i32::from(input.byte() % 20) - 2;
                let value = i64::from(input.i32()) * i64::from(input.byte() % 3);
                if polysock_setopt(h, opt, value) != 0 {
                    failure_code("setopt");
                }
            }
            _ => {
                let opt = i32::from(input.byte() % 20) - 2;
                let mut value = i64::MIN;
                if polysock_getopt(h, opt, &mut value) != 0 {
                    failure_code("getopt");
                    assert_eq!(value, i64::MIN, "getopt wrote on failure");
                }
                expect_code(
                    "getopt NULL",
                    polysock_getopt(h, opt, std::ptr::null_mut()).into(),
                    libc::EINVAL,
                );
            }
        }
    }
    polysock_close(h);
});
