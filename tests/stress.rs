//! Stress through polysock's C ABI, each test in a process of its own
//! (tests/common/alone.rs) with a time limit: 64 threads racing on shared
//! handles, 200,000 connect/close cycles against RSS growth, RLIMIT_NOFILE
//! at 256, and the highest descriptor the fd limit allows.

#[path = "common/alone.rs"]
mod alone;
mod common;

use alone::{alone, open_fds, own_netns};
use polysock::core::poll::POLYSOCK_POLLIN;
use polysock::core::poller::{POLYSOCK_POLLER_WAKE, PollerEvent};
use polysock::ffi::error::{polysock_errno, polysock_last_error};
use polysock::ffi::io::{polysock_recv, polysock_send};
use polysock::ffi::poller::*;
use polysock::ffi::socket::*;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn last_error() -> String {
    unsafe { CStr::from_ptr(polysock_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn ok(r: i64) -> i64 {
    assert!(r >= 0, "failed: {} ({})", last_error(), polysock_errno());
    r
}

fn pair() -> (polysock_t, polysock_t) {
    let mut p = [0 as polysock_t; 2];
    ok(polysock_socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, p.as_mut_ptr()) as i64);
    (p[0], p[1])
}

/// A slot shared by the racing threads: a datagram pair and its id, which
/// every payload sent on either end carries.
#[derive(Clone, Copy, PartialEq)]
struct Slot {
    a: polysock_t,
    b: polysock_t,
    id: u64,
}

const THREADS: usize = 64;
const SLOTS: usize = 16;
const RACE: Duration = Duration::from_secs(10);

struct Shared {
    slots: Vec<Mutex<Slot>>,
    next_id: AtomicU64,
    poller: polysock_poller_t,
    stop: AtomicBool,
    /// Payloads received and checked, operations done, wrong deliveries.
    checked: AtomicU64,
    ops: AtomicU64,
    wrong: Mutex<Vec<String>>,
}

impl Shared {
    fn fresh(&self) -> Slot {
        let (a, b) = pair();
        Slot {
            a,
            b,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn wrong(&self, what: String) {
        self.wrong.lock().unwrap().push(what);
    }
}

/// A code a racing call may fail with: the handle was closed (EBADF), the
/// peer end was (ECONNREFUSED), no room or nothing waiting (EAGAIN),
/// already registered (EEXIST), not registered (ENOENT), a bounded wait
/// ended (ETIMEDOUT).
fn expected(code: i32) -> bool {
    [
        libc::EBADF,
        libc::ECONNREFUSED,
        libc::EAGAIN,
        // A dup shares the socket that a close of the original shut down
        // to wake its blocked callers (DESIGN.md's close).
        libc::EPIPE,
        libc::EEXIST,
        libc::ENOENT,
        libc::ETIMEDOUT,
    ]
    .contains(&code)
}

fn racer(sh: &Shared, seed: u64) {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = [0u8; 64];
    let check = |sh: &Shared, r: i64, op: &str| {
        if r < 0 && !expected(polysock_errno()) {
            sh.wrong(format!(
                "{op}: unexpected {} ({})",
                polysock_errno(),
                last_error()
            ));
        }
    };
    while !sh.stop.load(Ordering::Relaxed) {
        let i = (rnd() % SLOTS as u64) as usize;
        let slot = *sh.slots[i].lock().unwrap();
        let h = if rnd() % 2 == 0 { slot.a } else { slot.b };
        let payload = |id: u64| {
            let mut p = [0u8; 16];
            p[..8].copy_from_slice(&id.to_le_bytes());
            p[8..].copy_from_slice(&(!id).to_le_bytes());
            p
        };
        match rnd() % 16 {
            0..=4 => {
                let p = payload(slot.id);
                let r = polysock_send(h, p.as_ptr().cast(), p.len(), libc::MSG_DONTWAIT);
                check(sh, r, "send");
            }
            5..=8 => {
                let flags = if rnd() % 4 == 0 {
                    0
                } else {
                    libc::MSG_DONTWAIT
                };
                if flags == 0 {
                    polysock_settimeout(h, 5);
                }
                let r = polysock_recv(h, buf.as_mut_ptr().cast(), buf.len(), flags);
                check(sh, r, "recv");
                if r >= 0 {
                    if r != 16 || buf[..16] != payload(slot.id) {
                        sh.wrong(format!(
                            "handle {h:#x} of pair {} received {:?}",
                            slot.id,
                            &buf[..r as usize]
                        ));
                    }
                    sh.checked.fetch_add(1, Ordering::Relaxed);
                }
            }
            9 => {
                // Replace the pair, then close the old one while others
                // may still be using it.
                let mut s = sh.slots[i].lock().unwrap();
                if *s == slot {
                    *s = sh.fresh();
                    drop(s);
                    polysock_close(slot.a);
                    polysock_close(slot.b);
                }
            }
            10 => {
                let d = polysock_dup(h);
                check(sh, d, "dup");
                if d >= 0 {
                    let p = payload(slot.id);
                    let r = polysock_send(d, p.as_ptr().cast(), p.len(), libc::MSG_DONTWAIT);
                    check(sh, r, "send on a dup");
                    ok(polysock_close(d) as i64);
                }
            }
            11 => {
                let fd = polysock_fileno(h);
                check(sh, fd as i64, "fileno");
                // The fd maps back to a live handle or to none; never to
                // a handle of this pair's that is not `h`.
                if fd >= 0 {
                    let back = polysock_handle_of_fd(fd);
                    let other = if h == slot.a { slot.b } else { slot.a };
                    if back == other {
                        sh.wrong(format!("fd {fd} of {h:#x} maps to {back:#x}"));
                    }
                }
            }
            12 | 13 => {
                let r = polysock_poller_add(sh.poller, h, POLYSOCK_POLLIN, 0, h as u64);
                check(sh, r as i64, "poller_add");
            }
            14 => {
                let r = polysock_poller_remove(sh.poller, h);
                check(sh, r as i64, "poller_remove");
            }
            _ => {
                let mut ev = [PollerEvent::default(); 16];
                let n = polysock_poller_wait(sh.poller, ev.as_mut_ptr(), ev.len(), 1);
                check(sh, n, "poller_wait");
                for e in ev.iter().take(n.max(0) as usize) {
                    if e.handle != POLYSOCK_POLLER_WAKE && e.user != e.handle as u64 {
                        sh.wrong(format!(
                            "poller: handle {:#x} with user {:#x}",
                            e.handle, e.user
                        ));
                    }
                }
            }
        }
        sh.ops.fetch_add(1, Ordering::Relaxed);
    }
}

/// 64 threads for 10 seconds racing close/dup/fileno/send/recv/poller on
/// 16 shared datagram pairs, replaced as they are closed: no crash, no
/// hang (the child is killed after 60 s), no unexpected code, and no
/// payload ever received on a socket other than the one it was sent to.
#[test]
fn sixty_four_threads_race_on_shared_handles() {
    if !alone(
        "sixty_four_threads_race_on_shared_handles",
        Duration::from_secs(60),
    ) {
        return;
    }
    let fds = open_fds();
    let poller = ok(polysock_poller_create());
    let mut sh = Shared {
        slots: Vec::new(),
        next_id: AtomicU64::new(1),
        poller,
        stop: AtomicBool::new(false),
        checked: AtomicU64::new(0),
        ops: AtomicU64::new(0),
        wrong: Mutex::new(Vec::new()),
    };
    sh.slots = (0..SLOTS).map(|_| Mutex::new(sh.fresh())).collect();
    let sh = Arc::new(sh);
    let threads: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let sh = sh.clone();
            std::thread::spawn(move || racer(&sh, 0x9e3779b97f4a7c15u64.wrapping_mul(t + 1)))
        })
        .collect();
    std::thread::sleep(RACE);
    sh.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a racing thread panicked");
    }
    let wrong = sh.wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "{} wrong results, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let (ops, checked) = (
        sh.ops.load(Ordering::Relaxed),
        sh.checked.load(Ordering::Relaxed),
    );
    println!(
        "race: {ops} operations, {checked} payloads checked, {} pairs",
        sh.next_id.load(Ordering::Relaxed) - 1
    );
    assert!(
        checked > 1000 && ops > 10_000,
        "too little happened: {ops} ops, {checked} checked"
    );
    for s in &sh.slots {
        let s = s.lock().unwrap();
        ok(polysock_close(s.a) as i64);
        ok(polysock_close(s.b) as i64);
    }
    ok(polysock_poller_destroy(poller) as i64);
    assert_eq!(open_fds(), fds, "descriptors leaked");
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096 / 1024
}

const CYCLES: usize = 200_000;

/// 200,000 TCP connect/close cycles (in a network namespace of the
/// test's own, so the TIME_WAIT sockets stay out of the host's): the
/// resident set grows by less than 1 MiB after a warm-up.
#[test]
fn connect_close_cycles_do_not_grow_memory() {
    if !alone(
        "connect_close_cycles_do_not_grow_memory",
        Duration::from_secs(180),
    ) || !own_netns()
    {
        return;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535").unwrap();
    std::fs::write("/proc/sys/net/ipv4/tcp_tw_reuse", "1").unwrap();
    let lst = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    let host = CString::new("127.0.0.1").unwrap();
    ok(polysock_bind(lst, host.as_ptr(), 0) as i64);
    ok(polysock_listen(lst, 128) as i64);
    ok(polysock_settimeout(lst, 10_000) as i64);
    let mut a = polysock::core::addr::Addr::empty();
    ok(polysock_getsockname(lst, &mut a) as i64);
    let accepted = Arc::new(AtomicU64::new(0));
    let acc = accepted.clone();
    let server = std::thread::spawn(move || {
        for _ in 0..CYCLES + 10_000 {
            let s = polysock_accept(lst, std::ptr::null_mut());
            assert!(s >= 0, "accept: {}", last_error());
            polysock_close(s);
            acc.fetch_add(1, Ordering::Relaxed);
        }
    });
    let cycle = || {
        let s = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
        ok(polysock_settimeout(s, 10_000) as i64);
        ok(polysock_connect(s, host.as_ptr(), a.port) as i64);
        // The server closes first, so TIME_WAIT stays on its side: with the
        // client closing first, its kernel reuses TIME_WAIT ports while the
        // server still holds the old connection, and each such SYN waits a
        // second for its retransmission.
        let mut b = [0u8; 1];
        assert_eq!(
            polysock_recv(s, b.as_mut_ptr().cast(), 1, 0),
            0,
            "recv: {}",
            last_error()
        );
        ok(polysock_close(s) as i64);
    };
    for _ in 0..10_000 {
        cycle();
    }
    let before = rss_kib();
    let t = Instant::now();
    for _ in 0..CYCLES {
        cycle();
    }
    let after = rss_kib();
    server.join().unwrap();
    println!(
        "{CYCLES} cycles in {:?}: RSS {before} KiB -> {after} KiB",
        t.elapsed()
    );
    assert_eq!(accepted.load(Ordering::Relaxed), CYCLES as u64 + 10_000);
    assert!(
        after < before + 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    ok(polysock_close(lst) as i64);
}

fn set_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to rlimit structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[track_caller]
fn expect_emfile(r: i64, call: &str) {
    let m = last_error();
    assert_eq!(r, -1, "{call} succeeded at the limit");
    assert_eq!(polysock_errno(), libc::EMFILE, "{call}: {m}");
    assert!(
        m.contains(call) && m.contains("Too many open files"),
        "{call}: {m}"
    );
}

/// RLIMIT_NOFILE at 256: every call that makes a descriptor fails with
/// EMFILE and says which call; after closing a few, everything works.
#[test]
fn emfile_at_the_fd_limit() {
    if !alone("emfile_at_the_fd_limit", Duration::from_secs(30)) {
        return;
    }
    let start = open_fds();
    set_nofile(256);
    let host = CString::new("127.0.0.1").unwrap();
    let lst = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    ok(polysock_bind(lst, host.as_ptr(), 0) as i64);
    ok(polysock_listen(lst, 8) as i64);
    ok(polysock_settimeout(lst, 5000) as i64);
    let mut a = polysock::core::addr::Addr::empty();
    ok(polysock_getsockname(lst, &mut a) as i64);
    // A connection waiting in the backlog, to accept at the limit.
    let client = ok(polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0));
    ok(polysock_settimeout(client, 5000) as i64);
    ok(polysock_connect(client, host.as_ptr(), a.port) as i64);
    let mut filler = Vec::new();
    loop {
        let s = polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if s < 0 {
            expect_emfile(s, "socket");
            break;
        }
        filler.push(s);
        assert!(filler.len() < 256, "no EMFILE after 256 sockets");
    }
    // SAFETY: asking about an fd number.
    assert_ne!(
        unsafe { libc::fcntl(255, libc::F_GETFD) },
        -1,
        "not at the limit"
    );
    let mut p = [0 as polysock_t; 2];
    expect_emfile(
        polysock_socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, p.as_mut_ptr()) as i64,
        "socketpair",
    );
    expect_emfile(polysock_accept(lst, std::ptr::null_mut()), "accept");
    expect_emfile(polysock_dup(client), "dup");
    // Usable again after closing some.
    for s in filler.drain(..4) {
        ok(polysock_close(s) as i64);
    }
    let server = ok(polysock_accept(lst, std::ptr::null_mut()));
    ok(polysock_settimeout(server, 5000) as i64);
    ok(polysock_send(client, b"ping".as_ptr().cast(), 4, 0));
    let mut buf = [0u8; 8];
    assert_eq!(ok(polysock_recv(server, buf.as_mut_ptr().cast(), 8, 0)), 4);
    assert_eq!(&buf[..4], b"ping");
    ok(polysock_socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, p.as_mut_ptr()) as i64);
    for h in filler.into_iter().chain([lst, client, server, p[0], p[1]]) {
        ok(polysock_close(h) as i64);
    }
    assert_eq!(open_fds(), start);
}

/// The highest descriptor the limit allows, adopted and used. The issue
/// asks for one above 65,536; here RLIMIT_NOFILE's hard limit is 20,000
/// and CAP_SYS_RESOURCE is missing, so the test takes the highest fd the
/// hard limit permits (and says which).
#[test]
fn the_highest_fd_is_adopted_and_used() {
    if !alone(
        "the_highest_fd_is_adopted_and_used",
        Duration::from_secs(30),
    ) {
        return;
    }
    set_nofile(u64::MAX);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers; raw fds this test owns.
    let (high, other) = unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let high = (lim.rlim_cur.min(i32::MAX as u64) - 1) as i32;
        let mut fds = [0i32; 2];
        assert_eq!(
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr()
            ),
            0
        );
        assert_eq!(libc::dup3(fds[0], high, libc::O_CLOEXEC), high);
        libc::close(fds[0]);
        (high, fds[1])
    };
    println!("highest fd: {high} (RLIMIT_NOFILE {})", lim.rlim_cur);
    let h = ok(polysock_adopt_fd(high));
    assert_eq!(polysock_fileno(h), high);
    assert_eq!(polysock_handle_of_fd(high), h);
    ok(polysock_settimeout(h, 5000) as i64);
    let o = ok(polysock_adopt_fd(other));
    ok(polysock_settimeout(o, 5000) as i64);
    ok(polysock_send(h, b"high".as_ptr().cast(), 4, 0));
    let mut buf = [0u8; 8];
    assert_eq!(ok(polysock_recv(o, buf.as_mut_ptr().cast(), 8, 0)), 4);
    assert_eq!(&buf[..4], b"high");
    let p = ok(polysock_poller_create());
    ok(polysock_poller_add(p, h, POLYSOCK_POLLIN, 0, 7) as i64);
    ok(polysock_send(o, b"back".as_ptr().cast(), 4, 0));
    let mut ev = [PollerEvent::default(); 4];
    assert_eq!(ok(polysock_poller_wait(p, ev.as_mut_ptr(), 4, 5000)), 1);
    assert_eq!((ev[0].handle, ev[0].user), (h, 7));
    assert_eq!(ok(polysock_recv(h, buf.as_mut_ptr().cast(), 8, 0)), 4);
    assert_eq!(&buf[..4], b"back");
    ok(polysock_poller_destroy(p) as i64);
    ok(polysock_close(h) as i64);
    ok(polysock_close(o) as i64);
    // SAFETY: asking about an fd number.
    assert_eq!(
        unsafe { libc::fcntl(high, libc::F_GETFD) },
        -1,
        "fd {high} still open"
    );
}

/// The threads of this process named `name` (as the kernel keeps it: at
/// most 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim_end() == name)
        })
        .count()
}

/// A name lookup with a deadline runs on a helper thread; one that gets
/// its answer in time leaves no thread behind when it returns (one that
/// did outlive its call still held glibc's resolver state when a C test's
/// process exited: valgrind's "definitely lost" in test_resolver).
#[test]
fn resolver_threads_end_with_their_call() {
    let host = CString::new("localhost").unwrap();
    // SAFETY: a plain C struct of integers and arrays.
    let mut res = [unsafe { std::mem::zeroed::<polysock::ffi::resolve::polysock_addrinfo>() }; 4];
    for i in 0..50 {
        let mut n = 0usize;
        let r = polysock::ffi::resolve::polysock_getaddrinfo_timeout(
            host.as_ptr(),
            std::ptr::null(),
            libc::AF_INET,
            libc::SOCK_STREAM,
            0,
            0,
            5000,
            res.as_mut_ptr(),
            res.len(),
            &mut n,
        );
        assert!(ok(r) >= 1, "lookup {i}");
        // "polysock-resolve", cut to 15 bytes.
        assert_eq!(threads_named("polysock-resolv"), 0, "after lookup {i}");
    }
}
