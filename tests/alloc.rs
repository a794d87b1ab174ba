//! Zero allocations on the hot paths, measured over the C ABI: a counting
//! global allocator counts, per thread, every allocation made while a
//! call runs. Each path is warmed up first (the handle table's first page
//! and thread-locals are made once), then must allocate nothing: send,
//! recv (also its EAGAIN, ETIMEDOUT and waiting paths), sendto and recvfrom
//! with literal hosts, sendmmsg/recvmmsg batches (to one peer and to
//! two), polysock_poll and polysock_poller_wait (also its timeout and
//! wake-up paths), and reading the error back.
//!
//! Counting is per thread, so tests running in parallel (and the helper
//! threads that feed data) never disturb one another's counts.

use polysock::core::addr::Addr;
use polysock::core::poll::{POLYSOCK_POLLIN, POLYSOCK_POLLOUT, PollFd};
use polysock::core::poller::{POLYSOCK_POLLER_WAKE, PollerEvent};
use polysock::ffi::error::{polysock_errno, polysock_last_error};
use polysock::ffi::io::{polysock_recv, polysock_recvfrom, polysock_send, polysock_sendto};
use polysock::ffi::msg::{polysock_iovec, polysock_mmsg, polysock_recvmmsg, polysock_sendmmsg};
use polysock::ffi::poll::polysock_poll;
use polysock::ffi::poller::{
    polysock_poller_add, polysock_poller_create, polysock_poller_destroy, polysock_poller_wait,
    polysock_poller_wake,
};
use polysock::ffi::socket::{
    polysock_accept, polysock_bind, polysock_close, polysock_connect, polysock_getsockname,
    polysock_listen, polysock_settimeout, polysock_socket, polysock_socketpair, polysock_t,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CStr;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // try_with: a thread being torn down has no counter any more.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations `f` made on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Runs `f` once to warm up, then `rounds` more times, asserting that
/// those allocate nothing.
fn assert_no_allocation(what: &str, rounds: usize, mut f: impl FnMut()) {
    f();
    let n = allocations_in(|| {
        for _ in 0..rounds {
            f();
        }
    });
    assert_eq!(n, 0, "{what}: {n} allocations in {rounds} calls");
}

/// The counter works: one allocation is seen as one.
#[test]
fn the_allocator_counts() {
    let n = allocations_in(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(10))));
    assert_eq!(n, 1);
}

const LOCALHOST: &CStr = c"127.0.0.1";

fn last_error() -> String {
    // SAFETY: polysock_last_error never returns NULL.
    unsafe { CStr::from_ptr(polysock_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn port_of(h: polysock_t) -> i32 {
    let mut a = Addr::empty();
    assert_eq!(polysock_getsockname(h, &mut a), 0);
    a.port
}

/// A connected TCP pair over 127.0.0.1: (client, server side).
fn tcp_pair() -> (polysock_t, polysock_t) {
    let l = polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    assert!(l > 0);
    assert_eq!(polysock_bind(l, LOCALHOST.as_ptr(), 0), 0);
    assert_eq!(polysock_listen(l, 8), 0);
    let c = polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    assert_eq!(polysock_connect(c, LOCALHOST.as_ptr(), port_of(l)), 0);
    let s = polysock_accept(l, std::ptr::null_mut());
    assert!(s > 0, "{}", last_error());
    polysock_close(l);
    (c, s)
}

fn udp_bound(host: &CStr, family: i32) -> Option<polysock_t> {
    let s = polysock_socket(family, libc::SOCK_DGRAM, 0);
    if s < 0 {
        return None;
    }
    if polysock_bind(s, host.as_ptr(), 0) != 0 {
        polysock_close(s);
        return None;
    }
    // Every receive in these tests finds its datagram there already; the
    // timeout only bounds the wait if one ever does not.
    polysock_settimeout(s, 10_000);
    Some(s)
}

#[test]
fn tcp_send_and_recv_allocate_nothing() {
    let (c, s) = tcp_pair();
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    for timeout in [-1, 5000] {
        polysock_settimeout(c, timeout);
        polysock_settimeout(s, timeout);
        assert_no_allocation("send + recv", 200, || {
            assert_eq!(polysock_send(c, msg.as_ptr().cast(), 64, 0), 64);
            let mut got = 0;
            while got < 64 {
                let n = polysock_recv(s, buf[got..].as_mut_ptr().cast(), 64 - got, 0);
                assert!(n > 0);
                got += n as usize;
            }
        });
    }
    polysock_close(c);
    polysock_close(s);
}

#[test]
fn recv_error_paths_allocate_nothing() {
    let mut pair = [0i64; 2];
    assert_eq!(
        polysock_socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()),
        0
    );
    let mut buf = [0u8; 16];
    // Non-blocking: EAGAIN, recorded with its message.
    polysock_settimeout(pair[0], 0);
    assert_no_allocation("recv EAGAIN", 200, || {
        assert_eq!(polysock_recv(pair[0], buf.as_mut_ptr().cast(), 16, 0), -1);
        assert_eq!(polysock_errno(), libc::EAGAIN);
        assert!(!polysock_last_error().is_null());
    });
    assert!(last_error().starts_with("recv"), "{}", last_error());
    // MSG_DONTWAIT on a blocking socket.
    polysock_settimeout(pair[0], -1);
    assert_no_allocation("recv MSG_DONTWAIT", 50, || {
        assert_eq!(
            polysock_recv(pair[0], buf.as_mut_ptr().cast(), 16, libc::MSG_DONTWAIT),
            -1
        );
    });
    // A timeout: the deadline, the wait and ETIMEDOUT.
    polysock_settimeout(pair[0], 1);
    assert_no_allocation("recv ETIMEDOUT", 5, || {
        assert_eq!(polysock_recv(pair[0], buf.as_mut_ptr().cast(), 16, 0), -1);
        assert_eq!(polysock_errno(), libc::ETIMEDOUT);
    });
    // A dead handle: EBADF.
    assert_no_allocation("recv EBADF", 50, || {
        assert_eq!(polysock_recv(12345, buf.as_mut_ptr().cast(), 16, 0), -1);
    });
    // Waiting for data that another thread sends a little later.
    polysock_settimeout(pair[0], 5000);
    let peer = pair[1];
    let feeder = std::thread::spawn(move || {
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(polysock_send(peer, b"x".as_ptr().cast(), 1, 0), 1);
        }
    });
    assert_no_allocation("recv that waits", 5, || {
        assert_eq!(polysock_recv(pair[0], buf.as_mut_ptr().cast(), 1, 0), 1);
    });
    feeder.join().unwrap();
    polysock_close(pair[0]);
    polysock_close(pair[1]);
}

#[test]
fn udp_sendto_and_recvfrom_with_literal_hosts_allocate_nothing() {
    for (host, family) in [(c"127.0.0.1", libc::AF_INET), (c"::1", libc::AF_INET6)] {
        let (Some(a), Some(b)) = (udp_bound(host, family), udp_bound(host, family)) else {
            assert_eq!(family, libc::AF_INET6, "IPv4 loopback must work");
            eprintln!("no IPv6 loopback here: skipping ::1");
            continue;
        };
        let port = port_of(b);
        let msg = [1u8; 32];
        let mut buf = [0u8; 64];
        let mut from = Addr::empty();
        assert_no_allocation("sendto + recvfrom", 200, || {
            assert_eq!(
                polysock_sendto(a, msg.as_ptr().cast(), 32, 0, host.as_ptr(), port),
                32
            );
            assert_eq!(
                polysock_recvfrom(b, buf.as_mut_ptr().cast(), 64, 0, &mut from),
                32
            );
        });
        assert_eq!(from.family, family);
        assert_eq!(from.port, port_of(a));
        polysock_close(a);
        polysock_close(b);
    }
}

#[test]
fn mmsg_batches_allocate_nothing() {
    const N: usize = 8;
    let host = c"127.0.0.1";
    let (a, b, c) = (
        udp_bound(host, libc::AF_INET).unwrap(),
        udp_bound(host, libc::AF_INET).unwrap(),
        udp_bound(host, libc::AF_INET).unwrap(),
    );
    let (pb, pc) = (port_of(b), port_of(c));
    let mut bufs = [[0u8; 16]; N];
    let iov: Vec<polysock_iovec> = bufs
        .iter_mut()
        .map(|b| polysock_iovec {
            base: b.as_mut_ptr().cast(),
            len: 16,
        })
        .collect();
    let msg = |i: usize, port: i32| {
        let mut m = polysock_mmsg {
            iov: &iov[i],
            iovcnt: 1,
            addr: Addr::empty(),
            len: 0,
            flags: 0,
        };
        m.addr.family = libc::AF_INET;
        m.addr.port = port;
        for (d, s) in m.addr.host.iter_mut().zip(host.to_bytes()) {
            *d = *s as libc::c_char;
        }
        m
    };
    // All to one peer, then alternating between two.
    let mut one: Vec<polysock_mmsg> = (0..N).map(|i| msg(i, pb)).collect();
    let mut two: Vec<polysock_mmsg> = (0..N).map(|i| msg(i, [pb, pc][i % 2])).collect();
    let mut got_b: Vec<polysock_mmsg> = (0..N).map(|i| msg(i, 0)).collect();
    let mut got_c: Vec<polysock_mmsg> = (0..N).map(|i| msg(i, 0)).collect();
    let receive = |h: polysock_t, into: &mut [polysock_mmsg], n: usize| {
        let mut got = 0;
        while got < n {
            let k = polysock_recvmmsg(h, into[got..].as_mut_ptr(), n - got, 0);
            assert!(k > 0, "{}", last_error());
            got += k as usize;
        }
    };
    assert_no_allocation("sendmmsg + recvmmsg", 100, || {
        assert_eq!(polysock_sendmmsg(a, one.as_mut_ptr(), N, 0), N as i64);
        receive(b, &mut got_b, N);
        assert_eq!(polysock_sendmmsg(a, two.as_mut_ptr(), N, 0), N as i64);
        receive(b, &mut got_b, N / 2);
        receive(c, &mut got_c, N / 2);
    });
    assert_eq!(got_b[0].addr.port, port_of(a));
    for h in [a, b, c] {
        polysock_close(h);
    }
}

#[test]
fn poll_allocates_nothing() {
    let (c, s) = tcp_pair();
    let mut fds = [
        PollFd {
            handle: c,
            events: POLYSOCK_POLLOUT,
            revents: 0,
        },
        PollFd {
            handle: s,
            events: POLYSOCK_POLLIN,
            revents: 0,
        },
        PollFd {
            handle: 12345, // dead: POLLNVAL
            events: POLYSOCK_POLLIN,
            revents: 0,
        },
    ];
    assert_no_allocation("poll, ready", 200, || {
        assert_eq!(polysock_poll(fds.as_mut_ptr(), 3, 1000), 2);
    });
    assert_no_allocation("poll, timing out", 3, || {
        assert_eq!(polysock_poll(fds[1..].as_mut_ptr(), 1, 2), 0);
    });
    polysock_close(c);
    polysock_close(s);
}

#[test]
fn poller_wait_allocates_nothing() {
    let (c, s) = tcp_pair();
    let p = polysock_poller_create();
    assert!(p > 0);
    assert_eq!(polysock_poller_add(p, s, POLYSOCK_POLLIN, 0, 1), 0);
    assert_eq!(polysock_poller_add(p, c, POLYSOCK_POLLIN, 0, 2), 0);
    let mut ev = [PollerEvent::default(); 16];
    let mut buf = [0u8; 8];
    assert_no_allocation("poller wait, echo", 200, || {
        assert_eq!(polysock_send(c, b"ping".as_ptr().cast(), 4, 0), 4);
        assert_eq!(polysock_poller_wait(p, ev.as_mut_ptr(), 16, 1000), 1);
        assert_eq!(ev[0].handle, s);
        assert_eq!(polysock_recv(s, buf.as_mut_ptr().cast(), 8, 0), 4);
    });
    assert_no_allocation("poller wait, nothing ready", 100, || {
        assert_eq!(polysock_poller_wait(p, ev.as_mut_ptr(), 16, 0), 0);
    });
    assert_no_allocation("poller wait, timing out", 3, || {
        assert_eq!(polysock_poller_wait(p, ev.as_mut_ptr(), 16, 2), 0);
    });
    assert_no_allocation("poller wake + wait", 100, || {
        assert_eq!(polysock_poller_wake(p), 0);
        assert_eq!(polysock_poller_wait(p, ev.as_mut_ptr(), 16, 1000), 1);
        assert_eq!(ev[0].handle, POLYSOCK_POLLER_WAKE);
    });
    polysock_poller_destroy(p);
    polysock_close(c);
    polysock_close(s);
}
