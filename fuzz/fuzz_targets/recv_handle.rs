//! recvmsg control data: a raw sendmsg puts SCM_RIGHTS messages with a
//! random number of descriptors (sockets and non-sockets, in one or two
//! control messages) beside a random payload on a stream, datagram or
//! seqpacket socketpair; polysock_recv_handle receives with a random
//! buffer length and flags. The first descriptor becomes a handle when it
//! is a socket (ENOTSOCK, closed, otherwise), every other one is closed
//! and reported as MSG_CTRUNC, the bytes are the payload's, a cut datagram
//! says MSG_TRUNC, and no descriptor is ever leaked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::ffi::msg::polysock_recv_handle;
use polysock::ffi::socket::{
    polysock_close, polysock_fileno, polysock_settimeout, polysock_socketpair,
};
use polysock_fuzz::{Input, expect_code, failure_code, init, open_fds, resolver_guard};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;

resolver_guard!();

/// A socket and a non-socket to send copies of.
fn pool() -> &'static (std::net::UdpSocket, std::fs::File) {
    static P: OnceLock<(std::net::UdpSocket, std::fs::File)> = OnceLock::new();
    P.get_or_init(|| {
        // No network in this namespace: an unbound AF_INET socket will do.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        assert!(s >= 0);
        use std::os::fd::FromRawFd;
        // SAFETY: s is a fresh descriptor owned by nothing else.
        (
            unsafe { std::net::UdpSocket::from_raw_fd(s) },
            std::fs::File::open("/dev/null").unwrap(),
        )
    })
}

/// sendmsg with `groups` as separate SCM_RIGHTS control messages.
fn send_with_fds(fd: RawFd, payload: &[u8], groups: &[Vec<RawFd>]) -> isize {
    let mut control = vec![0u64; 512];
    let mut used = 0usize;
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut _,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: the control buffer holds every group (at most 2 x 253 fds).
    unsafe {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() * 8;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        for g in groups.iter().filter(|g| !g.is_empty()) {
            let bytes = g.len() * 4;
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
            std::ptr::copy_nonoverlapping(g.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), bytes);
            used += libc::CMSG_SPACE(bytes as u32) as usize;
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        msg.msg_controllen = used;
        if used == 0 {
            msg.msg_control = std::ptr::null_mut();
        }
        libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    }
}

fuzz_target!(|data: &[u8]| {
    init();
    let (sock, file) = pool();
    let before = open_fds();
    let mut input = Input(data);
    let sel = input.byte();
    let socktype =
        [libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_SEQPACKET][usize::from(sel % 3)];
    let flags = [0, libc::MSG_DONTWAIT, libc::MSG_PEEK, 0][usize::from(sel >> 2 & 3)];
    let len = 1 + usize::from(input.byte());
    let mut groups = vec![Vec::new(), Vec::new()];
    for g in &mut groups {
        let n = usize::from(input.byte()) % 254;
        let kinds = input.take(n.div_ceil(8));
        for i in 0..n {
            let file_here = kinds.get(i / 8).is_some_and(|k| k >> (i % 8) & 1 == 1);
            g.push(if file_here {
                file.as_raw_fd()
            } else {
                sock.as_raw_fd()
            });
        }
        if sel & 0x40 == 0 {
            break;
        }
    }
    let payload = input.rest();
    if payload.len() > 4096 {
        return;
    }

    let mut p = [0i64; 2];
    assert_eq!(
        polysock_socketpair(libc::AF_UNIX, socktype, 0, p.as_mut_ptr()),
        0
    );
    assert_eq!(polysock_settimeout(p[0], 0), 0);
    let sent = send_with_fds(polysock_fileno(p[1]), payload, &groups);
    let all: Vec<RawFd> = groups.concat();
    // The kernel takes at most 253 descriptors a message.
    let delivered = sent >= 0 && (socktype != libc::SOCK_STREAM || !payload.is_empty());

    for attempt in 0..1 + usize::from(flags == libc::MSG_PEEK) {
        let f = if attempt == 0 { flags } else { 0 };
        let mut buf = vec![0u8; len];
        let (mut handle, mut out_flags) = (i64::MIN, -1);
        let rc = polysock_recv_handle(
            p[0],
            buf.as_mut_ptr().cast(),
            len,
            f,
            &mut handle,
            &mut out_flags,
        );
        if !delivered {
            expect_code("recv_handle (nothing sent)", rc, libc::EAGAIN);
            break;
        }
        let first_is_socket = all.first().map(|&fd| fd == sock.as_raw_fd());
        if first_is_socket == Some(false) {
            expect_code("recv_handle (a file came)", rc, libc::ENOTSOCK);
            assert_eq!(handle, i64::MIN, "handle written on failure");
            continue;
        }
        assert!(
            rc >= 0,
            "recv_handle failed: {}",
            failure_code("recv_handle")
        );
        let n = rc as usize;
        assert_eq!(&buf[..n], &payload[..n.min(payload.len())]);
        assert_eq!(n, payload.len().min(len));
        if socktype != libc::SOCK_STREAM && payload.len() > len {
            assert!(
                out_flags & libc::MSG_TRUNC != 0,
                "a cut datagram without MSG_TRUNC"
            );
        }
        assert_eq!(
            out_flags & libc::MSG_CTRUNC != 0,
            all.len() > 1,
            "MSG_CTRUNC with {} descriptors",
            all.len()
        );
        match first_is_socket {
            None => assert_eq!(handle, -1),
            Some(_) => {
                assert!(handle >= 0, "no handle for a socket");
                assert!(polysock_fileno(handle) >= 0);
                polysock_close(handle);
            }
        }
    }
    polysock_close(p[0]);
    polysock_close(p[1]);
    assert_eq!(open_fds(), before, "descriptors leaked");
});
