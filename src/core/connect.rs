//! From a name to a connected or listening socket: create_connection with
//! Happy Eyeballs v2 (RFC 8305), and create_server.
//!
//! create_connection resolves within the caller's timeout (a name on a
//! helper thread, see `resolve::getaddrinfo_timeout`), orders the
//! addresses by alternating families, and races them on the calling
//! thread: each attempt is a fresh non-blocking socket whose connect is
//! started, and one poll(2) waits for every pending attempt; the next
//! attempt starts when the stagger delay has passed with no winner, or at
//! once when an attempt fails. The first to connect wins; every other
//! attempt is closed before the call returns. One deadline covers
//! resolution and every attempt. (Attempts used to run on a thread each:
//! on a busy machine waking two threads per connection cost more than
//! the connect.)

use super::addr::{Addr, check_port};
use super::error::{Error, POLYSOCK_ERR_BASE, Result, fail};
use super::resolve::{self, Hints};
use super::socket::{Socket, default_timeout};
use super::wait::Deadline;
use socket2::SockAddr;
use std::fmt;
use std::time::{Duration, Instant};

/// The delay before create_connection starts its next attempt while
/// earlier ones are still pending (RFC 8305's recommended 250 ms).
pub const POLYSOCK_CONNECT_STAGGER_MS: i64 = 250;

/// create_server flag: set SO_REUSEPORT, so several sockets can listen on
/// the same address and port (the kernel spreads connections over them).
pub const POLYSOCK_SERVER_REUSEPORT: i32 = 1;
/// create_server flag: an AF_INET6 socket with IPV6_V6ONLY off, which also
/// accepts IPv4 clients (their addresses appear as ::ffff:a.b.c.d).
pub const POLYSOCK_SERVER_DUALSTACK: i32 = 2;

/// The local address each attempt binds to before connecting.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// None: the any address of the attempt's family.
    pub host: Option<&'a str>,
    pub port: i32,
}

/// How one attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// This attempt won.
    Connected,
    /// It failed on its own (refused, unreachable, its socket or bind...).
    Failed(Error),
    /// Another attempt won first; this one was closed.
    Abandoned,
    /// The overall deadline passed while it was pending.
    TimedOut,
}

/// One connect attempt.
pub struct Attempt {
    pub addr: Addr,
    /// When it started, from the start of `connect_addresses`.
    pub started: Duration,
    pub outcome: Outcome,
}

/// Every attempt `connect_addresses` made, in the order they started.
pub struct Report {
    pub attempts: Vec<Attempt>,
    /// Addresses never tried because the deadline passed first.
    pub not_tried: usize,
    /// The overall deadline in ms (-1: none), for messages.
    pub timeout_ms: i64,
}

/// "host:port", with brackets around an IPv6 literal.
struct Label<'a>(&'a str, i32);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') && !self.0.starts_with('[') {
            write!(f, "create_connection [{}]:{}", self.0, self.1)
        } else {
            write!(f, "create_connection {}:{}", self.0, self.1)
        }
    }
}

fn check_stagger(op: &str, stagger_ms: i64) -> Result<Duration> {
    match stagger_ms {
        -1 => Ok(Duration::from_millis(POLYSOCK_CONNECT_STAGGER_MS as u64)),
        ms if ms >= 0 => Ok(Duration::from_millis(ms as u64)),
        ms => fail!(
            libc::EINVAL,
            "{op}: stagger delay {ms} ms is invalid (-1 for the default {POLYSOCK_CONNECT_STAGGER_MS} ms, or >= 0)"
        ),
    }
}

/// Connects to `host`:`port` within `timeout_ms` (-1: no limit; covers
/// resolution too), racing the host's addresses as RFC 8305 says, with
/// `stagger_ms` between attempts (-1: POLYSOCK_CONNECT_STAGGER_MS). The
/// socket that wins has the process default timeout.
pub fn create_connection(
    host: &str,
    port: i32,
    timeout_ms: i64,
    source: Option<Source<'_>>,
    stagger_ms: i64,
) -> Result<Socket> {
    let op = "create_connection";
    check_port(op, port)?;
    resolve::check_resolve_timeout(op, timeout_ms)?;
    let stagger = check_stagger(op, stagger_ms)?;
    if let Some(src) = source {
        check_port(&format!("{op}: source"), src.port)?;
    }
    if host.is_empty() {
        return fail!(libc::EINVAL, "{op}: host is empty");
    }
    let deadline = Deadline::after_ms(timeout_ms);
    let hints = Hints {
        family: libc::AF_UNSPEC,
        socktype: libc::SOCK_STREAM,
        protocol: libc::IPPROTO_TCP,
        flags: libc::AI_NUMERICSERV,
    };
    let service = port.to_string();
    let found = resolve::getaddrinfo_timeout(op, Some(host), Some(&service), hints, timeout_ms)?;
    let addrs = order_addresses(found.into_iter().map(|ai| ai.addr).collect());
    let label = Label(host, port).to_string();
    connect_addresses(&label, &addrs, source, deadline, stagger).0
}

/// RFC 8305 section 4: alternate the families, starting with the family
/// of the resolver's first address (RFC 6724 sorting puts IPv6 first where
/// it is usable), keeping the resolver's order within each family.
pub fn order_addresses(addrs: Vec<SockAddr>) -> Vec<SockAddr> {
    let Some(first) = addrs.first().map(SockAddr::family) else {
        return addrs;
    };
    let (mut lead, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.family() == first);
    let mut out = Vec::with_capacity(lead.len() + other.len());
    lead.reverse();
    other.reverse();
    loop {
        match (lead.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// A fresh non-blocking socket for `addr` (bound to `source` if given),
/// its connect started; true when it connected at once.
fn launch(addr: &SockAddr, source: Option<Source<'_>>) -> Result<(Socket, bool)> {
    let sock = Socket::new(i32::from(addr.family()), libc::SOCK_STREAM, 0)?;
    if let Some(src) = source {
        sock.bind(src.host, src.port)?;
    }
    sock.set_timeout(0)?;
    let done = sock.start_connect(addr)?;
    Ok((sock, done))
}

/// Milliseconds for poll(2) until `at`, rounded up (never early).
fn ms_until(at: Instant) -> i32 {
    let left = at.saturating_duration_since(Instant::now());
    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
}

/// Races connections to `addrs`, in the order given (see
/// `order_addresses`), as RFC 8305 describes, on the calling thread: every
/// attempt is a non-blocking connect, and one poll(2) waits for all that
/// are pending, for the deadline, and for the next attempt's start.
/// `label` starts the error message when every attempt fails. Returns the
/// winner (with the process default timeout) or the summary error, and
/// the report of every attempt.
pub fn connect_addresses(
    label: &str,
    addrs: &[SockAddr],
    source: Option<Source<'_>>,
    deadline: Deadline,
    stagger: Duration,
) -> (Result<Socket>, Report) {
    let start = Instant::now();
    let mut report = Report {
        attempts: Vec::with_capacity(addrs.len()),
        not_tried: 0,
        timeout_ms: deadline.total_ms(),
    };
    // Attempts in flight: (index into addrs and report, socket).
    let mut pending: Vec<(usize, Socket)> = Vec::with_capacity(addrs.len());
    let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(addrs.len());
    let mut next = 0;
    let mut next_at = start;
    let mut winner = None;
    let mut timed_out = false;
    'race: loop {
        // Start the next attempt when its time has come, or at once when
        // nothing is pending; an attempt that fails to start is skipped.
        while next < addrs.len() && (pending.is_empty() || Instant::now() >= next_at) {
            if deadline.remaining_ms() == 0 {
                timed_out = true;
                break 'race;
            }
            let i = next;
            next += 1;
            report.attempts.push(Attempt {
                addr: Addr::from_sockaddr(&addrs[i]),
                started: start.elapsed(),
                outcome: Outcome::Abandoned,
            });
            match launch(&addrs[i], source) {
                Ok((sock, true)) => {
                    report.attempts[i].outcome = Outcome::Connected;
                    winner = Some(sock);
                    break 'race;
                }
                Ok((sock, false)) => {
                    pending.push((i, sock));
                    next_at = Instant::now() + stagger;
                }
                Err(e) => report.attempts[i].outcome = Outcome::Failed(e),
            }
        }
        if pending.is_empty() {
            break; // every address was tried and failed
        }
        let left = deadline.remaining_ms();
        if left == 0 {
            timed_out = true;
            break;
        }
        let wait = match (left, next < addrs.len()) {
            (-1, true) => ms_until(next_at),
            (ms, true) => ms.min(ms_until(next_at)),
            (ms, false) => ms,
        };
        pfds.clear();
        pfds.extend(pending.iter().map(|(_, s)| libc::pollfd {
            fd: s.fd(),
            events: libc::POLLOUT,
            revents: 0,
        }));
        // SAFETY: pfds is a valid array of pfds.len() pollfds.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, wait) };
        if n < 0 {
            match errno::errno().0 {
                libc::EINTR => continue, // resume with the time that remains
                code => {
                    let e = Error::new(code, format_args!("poll"));
                    for (i, _) in &pending {
                        report.attempts[*i].outcome = Outcome::Failed(e.clone());
                    }
                    pending.clear();
                    break;
                }
            }
        }
        // Settle every attempt that shows something, in the order they
        // started, so the earliest wins a tie.
        let mut k = 0;
        for p in &pfds {
            if p.revents == 0 {
                k += 1;
                continue;
            }
            let (i, sock) = pending.remove(k);
            match sock.connect_outcome(&addrs[i]) {
                Ok(()) => {
                    report.attempts[i].outcome = Outcome::Connected;
                    winner = Some(sock);
                    break 'race;
                }
                // Refused, unreachable, or (with no deadline) the
                // kernel's own connect timeout.
                Err(e) => {
                    report.attempts[i].outcome = Outcome::Failed(e);
                    next_at = Instant::now(); // a failure starts the next one now
                }
            }
        }
    }
    report.not_tried = addrs.len() - next;
    // Attempts still pending close here; they lost or ran out of time.
    for (i, _) in pending {
        if timed_out {
            report.attempts[i].outcome = Outcome::TimedOut;
        }
    }
    let result = match winner {
        Some(sock) => sock.set_timeout(default_timeout()).map(|()| sock),
        None => Err(summarize(label, &report)),
    };
    (result, report)
}

/// The order in which failures explain a connection best: a peer that
/// answered (refused), then silence (timed out), then a connection the
/// peer ended, then routing failures nearer the target, then local
/// failures; resolver failures (of a source host) last.
fn rank(code: i32) -> u8 {
    match code {
        libc::ECONNREFUSED => 0,
        libc::ETIMEDOUT => 1,
        libc::ECONNRESET | libc::ECONNABORTED => 2,
        libc::EHOSTUNREACH | libc::EHOSTDOWN => 3,
        libc::ENETUNREACH | libc::ENETDOWN => 4,
        c if c >= POLYSOCK_ERR_BASE => 6,
        _ => 5,
    }
}

fn outcome_code(o: &Outcome) -> Option<i32> {
    match o {
        Outcome::Failed(e) => Some(e.code()),
        Outcome::TimedOut => Some(libc::ETIMEDOUT),
        _ => None,
    }
}

/// The error when every attempt failed: the most telling code (see
/// `rank`; the first such attempt on a tie) and a message that names every
/// address with its error.
pub fn summarize(label: &str, report: &Report) -> Error {
    let code = report
        .attempts
        .iter()
        .filter_map(|a| outcome_code(&a.outcome))
        .min_by_key(|&c| rank(c))
        .unwrap_or(libc::ETIMEDOUT);
    Error::new(code, format_args!("{label} ({})", AllErrors(report)))
}

/// "2 addresses: [::1]:80 Connection refused; 127.0.0.1:80 timed out
/// after 300 ms"
struct AllErrors<'a>(&'a Report);

impl fmt::Display for AllErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let n = r.attempts.len();
        if n == 0 {
            return write!(f, "timed out after {} ms before any attempt", r.timeout_ms);
        }
        write!(f, "{n} address{}: ", if n == 1 { "" } else { "es" })?;
        for (k, a) in r.attempts.iter().enumerate() {
            if k > 0 {
                f.write_str("; ")?;
            }
            match &a.outcome {
                Outcome::Failed(e) => write!(f, "{} {}", a.addr, super::codes::describe(e.code()))?,
                Outcome::TimedOut if r.timeout_ms < 0 => write!(f, "{} timed out", a.addr)?,
                Outcome::TimedOut => write!(f, "{} timed out after {} ms", a.addr, r.timeout_ms)?,
                Outcome::Connected | Outcome::Abandoned => write!(f, "{} abandoned", a.addr)?,
            }
        }
        if r.not_tried > 0 {
            write!(f, "; {} not tried", r.not_tried)?;
        }
        Ok(())
    }
}

/// A listening TCP socket on `host` (None or "": the any address) and
/// `port`, as CPython's create_server: SO_REUSEADDR on; `flags` may add
/// POLYSOCK_SERVER_REUSEPORT and POLYSOCK_SERVER_DUALSTACK. `family`:
/// AF_INET, AF_INET6, or AF_UNSPEC (0): AF_INET6 for dual-stack, else the
/// family of the host's first address, AF_INET without a host. A plain
/// AF_INET6 server has IPV6_V6ONLY on, as in CPython.
pub fn create_server(
    host: Option<&str>,
    port: i32,
    family: i32,
    backlog: i32,
    flags: i32,
) -> Result<Socket> {
    let op = "create_server";
    let known = POLYSOCK_SERVER_REUSEPORT | POLYSOCK_SERVER_DUALSTACK;
    if flags & !known != 0 {
        return fail!(
            libc::EINVAL,
            "{op}: unknown flags {:#x} (POLYSOCK_SERVER_REUSEPORT, POLYSOCK_SERVER_DUALSTACK)",
            flags & !known
        );
    }
    check_port(op, port)?;
    let dual = flags & POLYSOCK_SERVER_DUALSTACK != 0;
    let mut host = host.filter(|h| !h.is_empty());
    let resolved;
    let family = match family {
        libc::AF_INET | libc::AF_INET6 => family,
        libc::AF_UNSPEC if dual => libc::AF_INET6,
        libc::AF_UNSPEC => match host {
            None => libc::AF_INET,
            Some(h) => {
                let hints = Hints {
                    socktype: libc::SOCK_STREAM,
                    flags: libc::AI_PASSIVE,
                    ..Hints::default()
                };
                let first = resolve::getaddrinfo(op, Some(h), None, hints)?
                    .into_iter()
                    .next();
                let Some(first) = first else {
                    return fail!(super::error::POLYSOCK_EAI_NODATA, "{op} {h}: no address");
                };
                // Bind to exactly this address, without a second lookup.
                resolved = Addr::from_sockaddr(&first.addr);
                host = Some(resolved.host_str());
                first.family
            }
        },
        _ => {
            return fail!(
                libc::EAFNOSUPPORT,
                "{op}: family {family} is not AF_INET, AF_INET6 or AF_UNSPEC"
            );
        }
    };
    if dual && family != libc::AF_INET6 {
        return fail!(
            libc::EINVAL,
            "{op}: POLYSOCK_SERVER_DUALSTACK needs an AF_INET6 socket"
        );
    }
    let sock = Socket::new(family, libc::SOCK_STREAM, 0)?;
    let retag = |e: Error| Error::new(e.code(), format_args!("{op}: {}", e.context()));
    sock.set_int(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)
        .map_err(retag)?;
    if flags & POLYSOCK_SERVER_REUSEPORT != 0 {
        sock.set_int(libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)
            .map_err(|e| Error::new(e.code(), format_args!("{op}: setting SO_REUSEPORT")))?;
    }
    if family == libc::AF_INET6 {
        let r = sock.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, i32::from(!dual));
        if let Err(e) = r {
            if dual {
                return fail!(
                    e.code(),
                    "{op}: dual-stack (IPV6_V6ONLY off) is not available"
                );
            }
        }
    }
    sock.bind(host, port)?;
    sock.listen(backlog)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::addr::{Purpose, to_sockaddr};
    use crate::core::error::POLYSOCK_EAI_NONAME;

    fn sa(text: &str) -> SockAddr {
        text.parse::<std::net::SocketAddr>().unwrap().into()
    }

    fn sockaddr_of(a: &Addr) -> SockAddr {
        to_sockaddr(
            "t",
            a.family,
            libc::SOCK_STREAM,
            Some(a.host_str()),
            a.port,
            Purpose::Connect,
        )
        .unwrap()
    }

    /// A listener on 127.0.0.1 port 0, and its address.
    fn listener() -> (Socket, SockAddr) {
        let l = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        l.bind(Some("127.0.0.1"), 0).unwrap();
        l.listen(-1).unwrap();
        let a = sockaddr_of(&l.local_addr().unwrap());
        (l, a)
    }

    /// A bound socket that does not listen: connects to it are refused,
    /// and it holds the port so nothing else takes it meanwhile.
    fn refusing() -> (Socket, SockAddr) {
        let s = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        s.bind(Some("127.0.0.1"), 0).unwrap();
        let a = sockaddr_of(&s.local_addr().unwrap());
        (s, a)
    }

    /// An address that never answers, on loopback: a listener whose accept
    /// queue is full drops new SYNs. Returns what must stay alive.
    fn silent() -> (Socket, Vec<Socket>, SockAddr) {
        let l = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        l.bind(Some("127.0.0.1"), 0).unwrap();
        l.listen(0).unwrap();
        let a = sockaddr_of(&l.local_addr().unwrap());
        let mut fillers = Vec::new();
        for _ in 0..8 {
            let c = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
            c.set_timeout(200).unwrap();
            match c.connect_addr(&a) {
                Ok(()) => fillers.push(c),
                Err(e) if e.code() == libc::ETIMEDOUT => return (l, fillers, a),
                Err(e) => panic!("filling the accept queue: {e}"),
            }
        }
        panic!("the accept queue never filled");
    }

    #[test]
    fn order_alternates_families_from_the_first() {
        let got = order_addresses(vec![
            sa("[::1]:1"),
            sa("[::2]:1"),
            sa("[::3]:1"),
            sa("10.0.0.1:1"),
            sa("10.0.0.2:1"),
        ]);
        let text: Vec<String> = got
            .iter()
            .map(|a| Addr::from_sockaddr(a).to_string())
            .collect();
        assert_eq!(
            text,
            ["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"]
        );
        let got = order_addresses(vec![sa("10.0.0.1:1"), sa("10.0.0.2:1"), sa("[::1]:1")]);
        assert_eq!(Addr::from_sockaddr(&got[1]).to_string(), "[::1]:1");
        assert!(order_addresses(vec![]).is_empty());
    }

    #[test]
    fn first_refuses_second_accepts() {
        let (_hold, refused) = refusing();
        let (l, open) = listener();
        let stagger = Duration::from_secs(10);
        let (r, report) = connect_addresses(
            "t",
            &[refused.clone(), open.clone()],
            None,
            Deadline::after_ms(20_000),
            stagger,
        );
        let sock = r.unwrap();
        assert_eq!(report.attempts.len(), 2);
        match &report.attempts[0].outcome {
            Outcome::Failed(e) => assert_eq!(e.code(), libc::ECONNREFUSED),
            o => panic!("first attempt: {o:?}"),
        }
        assert!(matches!(report.attempts[1].outcome, Outcome::Connected));
        // A failure starts the next attempt without waiting for the stagger.
        assert!(report.attempts[1].started < stagger);
        let info = sock.info();
        assert_eq!(info.connected, 1);
        assert_eq!(info.client, 1);
        assert_eq!(info.timeout_ms, default_timeout());
        assert_eq!(
            sock.peer_addr().unwrap().to_string(),
            Addr::from_sockaddr(&open).to_string()
        );
        let (_peer, from) = l.accept().unwrap();
        assert_eq!(from.to_string(), sock.local_addr().unwrap().to_string());
    }

    #[test]
    fn slow_first_loses_to_second_after_the_stagger() {
        let (_l, _fill, slow) = silent();
        let (l, open) = listener();
        let stagger = Duration::from_millis(100);
        let (r, report) = connect_addresses(
            "t",
            &[slow, open.clone()],
            None,
            Deadline::after_ms(10_000),
            stagger,
        );
        let sock = r.unwrap();
        assert!(matches!(report.attempts[0].outcome, Outcome::Abandoned));
        assert!(matches!(report.attempts[1].outcome, Outcome::Connected));
        // Never early: the second attempt waited for the stagger delay.
        assert!(report.attempts[1].started >= stagger);
        assert_eq!(
            sock.peer_addr().unwrap().to_string(),
            Addr::from_sockaddr(&open).to_string()
        );
        l.accept().unwrap();
    }

    #[test]
    fn every_failure_is_named_and_refused_wins_the_code() {
        let (_a, r1) = refusing();
        let (_b, r2) = refusing();
        let (r, report) = connect_addresses(
            "create_connection x:1",
            &[r1.clone(), r2.clone()],
            None,
            Deadline::after_ms(10_000),
            Duration::from_millis(250),
        );
        let e = r.err().unwrap();
        assert_eq!(e.code(), libc::ECONNREFUSED);
        assert_eq!(report.not_tried, 0);
        let want = format!(
            "create_connection x:1 (2 addresses: {} Connection refused; {} Connection refused): Connection refused",
            Addr::from_sockaddr(&r1),
            Addr::from_sockaddr(&r2)
        );
        assert_eq!(e.to_string(), want);
    }

    #[test]
    fn the_deadline_covers_every_attempt() {
        let (_l, _fill, slow) = silent();
        let start = Instant::now();
        let (r, report) = connect_addresses(
            "create_connection slow:1",
            &[slow.clone(), slow],
            None,
            Deadline::after_ms(300),
            Duration::from_millis(100),
        );
        let e = r.err().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert_eq!(e.code(), libc::ETIMEDOUT);
        assert_eq!(report.attempts.len(), 2);
        assert!(e.context().contains("timed out after 300 ms"), "{e}");
    }

    #[test]
    fn ranking_prefers_what_the_peer_said() {
        let mk = |codes: &[i32]| Report {
            attempts: codes
                .iter()
                .map(|&c| Attempt {
                    addr: Addr::empty(),
                    started: Duration::ZERO,
                    outcome: Outcome::Failed(Error::new(c, format_args!("x"))),
                })
                .collect(),
            not_tried: 0,
            timeout_ms: -1,
        };
        let code = |codes: &[i32]| summarize("l", &mk(codes)).code();
        assert_eq!(
            code(&[libc::ENETUNREACH, libc::ECONNREFUSED]),
            libc::ECONNREFUSED
        );
        assert_eq!(code(&[libc::ENETUNREACH, libc::ETIMEDOUT]), libc::ETIMEDOUT);
        assert_eq!(
            code(&[libc::EADDRNOTAVAIL, libc::EHOSTUNREACH]),
            libc::EHOSTUNREACH
        );
        assert_eq!(
            code(&[POLYSOCK_EAI_NONAME, libc::EADDRINUSE]),
            libc::EADDRINUSE
        );
        assert_eq!(code(&[libc::EACCES, libc::EPERM]), libc::EACCES);
    }

    #[test]
    fn create_connection_numeric_and_localhost() {
        let (l, open) = listener();
        let port = open.as_socket().unwrap().port() as i32;
        let s = create_connection("127.0.0.1", port, 5000, None, -1).unwrap();
        assert_eq!(
            s.peer_addr().unwrap().to_string(),
            format!("127.0.0.1:{port}")
        );
        l.accept().unwrap();
        let s = create_connection("localhost", port, -1, None, 0).unwrap();
        assert_eq!(s.peer_addr().unwrap().port, port);
        l.accept().unwrap();
        let src = Source {
            host: Some("127.0.0.1"),
            port: 0,
        };
        let s = create_connection("127.0.0.1", port, 5000, Some(src), -1).unwrap();
        let (_p, from) = l.accept().unwrap();
        assert_eq!(from.to_string(), s.local_addr().unwrap().to_string());
    }

    #[test]
    fn create_connection_bad_input() {
        let cases: &[(&str, i32, i64, i64, i32, &str)] = &[
            ("127.0.0.1", 70000, 1000, -1, libc::EINVAL, "port 70000"),
            ("127.0.0.1", 1, 0, -1, libc::EINVAL, "timeout 0 ms"),
            ("127.0.0.1", 1, -2, -1, libc::EINVAL, "timeout -2 ms"),
            (
                "127.0.0.1",
                1,
                1000,
                -2,
                libc::EINVAL,
                "stagger delay -2 ms",
            ),
            ("", 1, 1000, -1, libc::EINVAL, "host is empty"),
            ("bad..name", 1, 1000, -1, POLYSOCK_EAI_NONAME, "bad..name"),
            ("not a host!", 1, -1, -1, POLYSOCK_EAI_NONAME, "not a host!"),
        ];
        for &(host, port, t, st, code, text) in cases {
            let e = create_connection(host, port, t, None, st).err().unwrap();
            assert_eq!(e.code(), code, "{host} {port} {t} {st}: {e}");
            assert!(e.context().contains(text), "{e}");
        }
        let src = Source {
            host: None,
            port: -1,
        };
        let e = create_connection("127.0.0.1", 1, 1000, Some(src), -1)
            .err()
            .unwrap();
        assert_eq!(e.code(), libc::EINVAL);
    }

    #[test]
    fn server_defaults_and_flags() {
        let s = create_server(Some("127.0.0.1"), 0, libc::AF_INET, -1, 0).unwrap();
        assert_eq!(s.get_int(libc::SOL_SOCKET, libc::SO_REUSEADDR).unwrap(), 1);
        assert_eq!(s.info().listening, 1);
        let port = s.local_addr().unwrap().port;
        // Without SO_REUSEPORT a second server cannot share the port...
        let e = create_server(Some("127.0.0.1"), port, 0, -1, 0)
            .err()
            .unwrap();
        assert_eq!(e.code(), libc::EADDRINUSE);
        // ...with it on both, it can.
        let a = create_server(None, 0, 0, -1, POLYSOCK_SERVER_REUSEPORT).unwrap();
        let p = a.local_addr().unwrap().port;
        let b = create_server(None, p, libc::AF_INET, -1, POLYSOCK_SERVER_REUSEPORT).unwrap();
        assert_eq!(b.local_addr().unwrap().to_string(), format!("0.0.0.0:{p}"));
        let e = create_server(None, 0, 0, -1, 8).err().unwrap();
        assert_eq!(e.code(), libc::EINVAL);
        let e = create_server(None, 0, libc::AF_INET, -1, POLYSOCK_SERVER_DUALSTACK)
            .err()
            .unwrap();
        assert_eq!(e.code(), libc::EINVAL);
        let e = create_server(None, 0, libc::AF_UNIX, -1, 0).err().unwrap();
        assert_eq!(e.code(), libc::EAFNOSUPPORT);
        let e = create_server(Some("bad..name"), 0, 0, -1, 0).err().unwrap();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        let v = create_server(Some("localhost"), 0, 0, -1, 0).unwrap();
        assert_eq!(v.family(), libc::AF_INET);
    }

    #[test]
    fn dual_stack_server_takes_both_families() {
        if !resolve::has_ipv6() {
            println!("skipped: no IPv6 on this machine");
            return;
        }
        let s = create_server(None, 0, 0, -1, POLYSOCK_SERVER_DUALSTACK).unwrap();
        assert_eq!(s.family(), libc::AF_INET6);
        assert_eq!(s.get_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY).unwrap(), 0);
        let port = s.local_addr().unwrap().port;
        let c4 = create_connection("127.0.0.1", port, 5000, None, -1).unwrap();
        let (p4, from4) = s.accept().unwrap();
        assert_eq!(from4.host_str(), "::ffff:127.0.0.1");
        assert_eq!(p4.peer_addr().unwrap().host_str(), "::ffff:127.0.0.1");
        assert_eq!(from4.port, c4.local_addr().unwrap().port);
        let _c6 = create_connection("::1", port, 5000, None, -1).unwrap();
        let (_p6, from6) = s.accept().unwrap();
        assert_eq!(from6.host_str(), "::1");
        // A plain AF_INET6 server is IPv6 only, as in CPython.
        let v6 = create_server(Some("::"), 0, libc::AF_INET6, -1, 0).unwrap();
        assert_eq!(
            v6.get_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY).unwrap(),
            1
        );
    }
}
