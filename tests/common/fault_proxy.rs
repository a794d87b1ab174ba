//! A TCP proxy on loopback that misbehaves on purpose, for tests/faults.rs:
//! it accepts one connection, connects to the upstream port, and forwards
//! both directions, applying one fault to one of them. Single-threaded over
//! poll(2), so a reset really closes the only descriptor (SO_LINGER 0 then
//! close sends an RST) and every wait is bounded.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any proxy, sink or source may live: a stuck test fails.
pub const LIFETIME: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Forwards everything.
    None,
    /// Forwards `after` bytes, then resets the client's connection
    /// (SO_LINGER 0) and closes the upstream one.
    Reset { after: usize },
    /// Forwards `after` bytes, then closes both connections cleanly (FIN).
    Truncate { after: usize },
    /// Forwards `after` bytes, then forwards nothing (in that direction)
    /// for `ms` milliseconds, then everything.
    Stall { after: usize, ms: u64 },
    /// Writes one byte per system call, `gap_us` microseconds apart.
    Bytewise { gap_us: u64 },
    /// Holds every chunk `ms` milliseconds before forwarding it.
    Delay { ms: u64 },
}

/// Which direction the fault applies to.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Dir {
    /// What the client sends (towards the upstream server).
    Up,
    /// What the client receives.
    Down,
}

/// What the proxy forwarded: bytes written, per direction.
#[derive(Debug, Default)]
pub struct Report {
    pub up: u64,
    pub down: u64,
}

pub struct Proxy {
    pub port: u16,
    thread: Option<JoinHandle<Report>>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 in front of 127.0.0.1:`upstream`.
    pub fn start(upstream: u16, dir: Dir, fault: Fault) -> Proxy {
        let lst = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = lst.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || run(lst, upstream, dir, fault));
        Proxy {
            port,
            thread: Some(thread),
        }
    }

    /// Waits for the proxy to end (both directions done) and reports.
    pub fn finish(mut self) -> Report {
        self.thread.take().unwrap().join().expect("proxy thread")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_within(lst: &TcpListener, limit: Duration) -> TcpStream {
    lst.set_nonblocking(true).unwrap();
    let end = Instant::now() + limit;
    loop {
        match lst.accept() {
            Ok((s, _)) => return s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("fault proxy: no client within {limit:?}: {e}"),
        }
    }
}

/// One direction's state.
struct Pipe {
    fault: Fault,
    /// Chunks read, with the time they may be forwarded.
    queue: std::collections::VecDeque<(Instant, Vec<u8>)>,
    src_done: bool,
    forwarded: usize,
    /// Set once the fault's cut (reset, truncation) happened.
    cut: bool,
    stall_until: Option<Instant>,
}

impl Pipe {
    fn new(fault: Fault) -> Pipe {
        Pipe {
            fault,
            queue: Default::default(),
            src_done: false,
            forwarded: 0,
            cut: false,
            stall_until: None,
        }
    }

    /// How many bytes may go now (0: wait), given what the fault allows.
    fn allowance(&mut self, now: Instant) -> usize {
        match self.fault {
            Fault::None | Fault::Delay { .. } => usize::MAX,
            Fault::Reset { after } | Fault::Truncate { after } => after - self.forwarded,
            Fault::Stall { after, ms } => {
                if self.forwarded < after {
                    return after - self.forwarded;
                }
                let until = *self
                    .stall_until
                    .get_or_insert(now + Duration::from_millis(ms));
                if now < until { 0 } else { usize::MAX }
            }
            Fault::Bytewise { .. } => 1,
        }
    }

    fn cut_due(&self) -> bool {
        matches!(self.fault, Fault::Reset { after } | Fault::Truncate { after } if self.forwarded >= after)
    }
}

fn reset(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd and a linger struct of the size given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_LINGER");
}

fn run(lst: TcpListener, upstream: u16, dir: Dir, fault: Fault) -> Report {
    let client = accept_within(&lst, LIFETIME);
    drop(lst);
    let server = TcpStream::connect(("127.0.0.1", upstream)).expect("fault proxy: upstream");
    let mut socks = [Some(client), Some(server)];
    for s in socks.iter().flatten() {
        s.set_nonblocking(true).unwrap();
        s.set_nodelay(true).unwrap();
    }
    // pipes[0]: client -> server (Up), pipes[1]: server -> client (Down).
    let mut pipes = [
        Pipe::new(if dir == Dir::Up { fault } else { Fault::None }),
        Pipe::new(if dir == Dir::Down { fault } else { Fault::None }),
    ];
    let end = Instant::now() + LIFETIME;
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        assert!(now < end, "fault proxy still running after {LIFETIME:?}");
        // A fault's cut: reset the client, close the server side.
        if pipes.iter().any(|p| p.cut_due() && !p.cut) {
            let resetting = pipes.iter().any(|p| matches!(p.fault, Fault::Reset { .. }));
            if let Some(c) = &socks[0] {
                if resetting {
                    reset(c);
                }
            }
            socks = [None, None];
            for p in pipes.iter_mut() {
                p.cut = true;
            }
        }
        if socks.iter().all(Option::is_none) {
            break;
        }
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut wake = end;
        for (i, p) in pipes.iter_mut().enumerate() {
            let (src, dst) = (&socks[i], &socks[1 - i]);
            if let (Some(src), false) = (src, p.src_done) {
                // Backpressure: read only while little is queued.
                if p.queue.len() < 16 && !p.cut_due() {
                    fds.push(pollfd(src, libc::POLLIN));
                }
            }
            if let (Some(dst), Some((at, _))) = (dst, p.queue.front()) {
                let at = *at;
                if at <= now && p.allowance(now) > 0 {
                    fds.push(pollfd(dst, libc::POLLOUT));
                } else {
                    wake = wake.min(at.max(p.stall_until.unwrap_or(at)));
                }
            }
        }
        let ms = wake
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 100) as i32;
        // SAFETY: fds is a valid array of fds.len() entries.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        assert!(r >= 0 || errno() == libc::EINTR, "poll");
        let ready = |fd: i32, ev: i16| {
            fds.iter()
                .any(|p| p.fd == fd && p.revents & (ev | libc::POLLERR | libc::POLLHUP) != 0)
        };
        for i in 0..2 {
            let now = Instant::now();
            let (a, b) = socks.split_at_mut(1);
            let (src, dst) = if i == 0 {
                (&mut a[0], &mut b[0])
            } else {
                (&mut b[0], &mut a[0])
            };
            let p = &mut pipes[i];
            if let Some(s) = src.as_mut() {
                if !p.src_done && ready(s.as_raw_fd(), libc::POLLIN) {
                    match s.read(&mut buf) {
                        Ok(0) => p.src_done = true,
                        Ok(n) => {
                            let at = match p.fault {
                                Fault::Delay { ms } => now + Duration::from_millis(ms),
                                _ => now,
                            };
                            p.queue.push_back((at, buf[..n].to_vec()));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => p.src_done = true,
                    }
                }
            }
            if let Some(d) = dst.as_mut() {
                if ready(d.as_raw_fd(), libc::POLLOUT) {
                    let allowed = p.allowance(now);
                    if let Some((_, chunk)) = p.queue.front_mut() {
                        let n = chunk.len().min(allowed);
                        match d.write(&chunk[..n]) {
                            Ok(k) => {
                                p.forwarded += k;
                                chunk.drain(..k);
                                if chunk.is_empty() {
                                    p.queue.pop_front();
                                }
                                if let Fault::Bytewise { gap_us } = p.fault {
                                    std::thread::sleep(Duration::from_micros(gap_us));
                                }
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                            Err(_) => {
                                p.queue.clear();
                                p.src_done = true;
                            }
                        }
                    }
                }
            }
            // The source ended and everything went: pass the end on.
            if p.src_done && p.queue.is_empty() {
                if let Some(d) = dst.as_ref() {
                    let _ = d.shutdown(Shutdown::Write);
                }
            }
        }
        // Both directions ended: close.
        if pipes.iter().all(|p| p.src_done && p.queue.is_empty()) {
            break;
        }
    }
    Report {
        up: pipes[0].forwarded as u64,
        down: pipes[1].forwarded as u64,
    }
}

fn pollfd(s: &TcpStream, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd: s.as_raw_fd(),
        events,
        revents: 0,
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// FNV-1a over `data` (a checksum to compare what went with what came).
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Deterministic test data: `n` bytes that differ at every offset of a
/// 251-byte cycle (a prime, so no power-of-two chunking lines up).
pub fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

/// A server on 127.0.0.1 that accepts one connection and reads it to its
/// end (EOF or error): (bytes, checksum of them).
pub fn sink() -> (u16, JoinHandle<(usize, u64, Vec<u8>)>) {
    let lst = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = lst.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut s = accept_within(&lst, LIFETIME);
        s.set_read_timeout(Some(LIFETIME)).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        (got.len(), checksum(&got), got)
    });
    (port, t)
}

/// A server on 127.0.0.1 that accepts one connection, writes `data` and
/// closes (cleanly); it returns how much it wrote.
pub fn source(data: Vec<u8>) -> (u16, JoinHandle<usize>) {
    let lst = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = lst.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut s = accept_within(&lst, LIFETIME);
        s.set_nonblocking(false).unwrap();
        s.set_write_timeout(Some(LIFETIME)).unwrap();
        let n = match s.write_all(&data) {
            Ok(()) => data.len(),
            Err(_) => 0,
        };
        let _ = s.shutdown(Shutdown::Write);
        // Wait for the other side to close, so nothing is reset early.
        let _ = s.set_read_timeout(Some(LIFETIME));
        let _ = s.read(&mut [0u8; 1]);
        n
    });
    (port, t)
}
