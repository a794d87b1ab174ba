//! The address parser and formatter against std's, over exhaustive short
//! texts, generated ones and edge cases: `parse_ipv4` against
//! `Ipv4Addr::from_str`, `literal` (brackets, `%scope`) against
//! `Ipv6Addr`/`SocketAddrV4`/`SocketAddrV6::from_str`, and the text of a
//! kernel address against std's Display.

use super::*;
use std::net::SocketAddr;

/// A deterministic generator (xorshift64*): the same inputs every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// What `literal` must make of `host` for a socket of `family`.
#[derive(Debug, PartialEq)]
enum Want {
    Addr(SocketAddr),
    /// An error with this code.
    Fails(i32),
    /// Not a literal: a name for the resolver.
    Name,
}

fn got(family: i32, host: &str, port: u16) -> Want {
    match literal("t", family, host, port) {
        Ok(Some(sa)) => Want::Addr(sa.as_socket().expect("an IP address")),
        Ok(None) => Want::Name,
        Err(e) => Want::Fails(e.code()),
    }
}

/// The oracle, from std's parsers only. Interface scopes: "lo" is the one
/// name every test machine has; a numeric scope must name an interface.
fn want(family: i32, host: &str, port: u16) -> Want {
    if host.is_empty() {
        return Want::Addr(if family == libc::AF_INET {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
        } else {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
        });
    }
    if let Ok(v4) = format!("{host}:{port}").parse::<SocketAddrV4>() {
        assert_eq!(host.parse::<Ipv4Addr>(), Ok(*v4.ip()), "{host}");
        return Want::Addr(if family == libc::AF_INET {
            v4.into()
        } else {
            SocketAddrV6::new(v4.ip().to_ipv6_mapped(), port, 0, 0).into()
        });
    }
    let inner = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner,
        None => host,
    };
    let (ip, scope) = match inner.find('%') {
        Some(i) => (&inner[..i], Some(&inner[i + 1..])),
        None => (inner, None),
    };
    if ip.parse::<Ipv6Addr>().is_err() {
        return Want::Name;
    }
    // A bad scope is reported first, then the family.
    let text = match scope {
        None => format!("[{ip}]:{port}"),
        Some("lo") => format!("[{ip}%{}]:{port}", lo_index()),
        Some(s) => format!("[{ip}%{s}]:{port}"),
    };
    match text.parse::<SocketAddrV6>() {
        Ok(v6) if scope.is_none() || v6.scope_id() == lo_index() => {
            if family == libc::AF_INET {
                Want::Fails(libc::EAFNOSUPPORT)
            } else {
                Want::Addr(v6.into())
            }
        }
        _ => Want::Fails(libc::EINVAL),
    }
}

fn lo_index() -> u32 {
    // SAFETY: a NUL-terminated name.
    unsafe { libc::if_nametoindex(c"lo".as_ptr()) }
}

fn check(host: &str) {
    for family in [libc::AF_INET, libc::AF_INET6] {
        assert_eq!(
            got(family, host, 4242),
            want(family, host, 4242),
            "host {host:?}, family {family}"
        );
    }
}

/// ipv4_of_c on `s` as a C string (up to a NUL inside it: where a C
/// string ends) against std: the address, and the text it was read from.
fn check_c(s: &str) {
    let head = s.split('\0').next().unwrap_or("");
    let c = std::ffi::CString::new(head).unwrap();
    // SAFETY: a NUL-terminated string.
    let got = unsafe { ipv4_of_c(c.as_ptr()) };
    let want = head.parse::<Ipv4Addr>().ok().map(|ip| (ip, head));
    assert_eq!(got, want, "{s:?}");
}

#[test]
fn ipv4_parser_matches_std_on_every_short_text() {
    // Every text of up to 7 characters over digits that matter (0, 1, 2,
    // 5, 9 for leading zeros and the 255 bound), the dot and one stray.
    let alphabet = b"01259.x";
    let mut text = Vec::new();
    let mut total = 0;
    for len in 0..=7u32 {
        for mut n in 0..alphabet.len().pow(len) {
            text.clear();
            for _ in 0..len {
                text.push(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            let s = std::str::from_utf8(&text).unwrap();
            assert_eq!(parse_ipv4(&text), s.parse::<Ipv4Addr>().ok(), "{s:?}");
            check_c(s);
            total += 1;
        }
    }
    assert_eq!(total, (0..=7).map(|l| 7usize.pow(l)).sum::<usize>());
}

#[test]
fn a_text_one_byte_from_the_remembered_literal_is_parsed_afresh() {
    // parse_ipv4 remembers the last literal by its bytes: every position
    // of texts of each length must still be compared.
    let bases = [
        "1.2.3.4",
        "10.2.3.4",
        "10.20.3.4",
        "10.20.30.4",
        "10.20.30.40",
        "100.20.30.40",
        "100.200.30.40",
        "100.200.255.40",
        "192.168.100.200",
    ];
    for base in bases {
        for i in 0..base.len() {
            for c in [b'0', b'1', b'5', b'9', b'.', b'x'] {
                assert_eq!(parse_ipv4(base.as_bytes()), base.parse().ok(), "{base:?}");
                let mut t = base.as_bytes().to_vec();
                t[i] = c;
                let s = std::str::from_utf8(&t).unwrap();
                assert_eq!(
                    parse_ipv4(&t),
                    s.parse::<Ipv4Addr>().ok(),
                    "{s:?} after {base:?}"
                );
                assert_eq!(parse_ipv4(&t), s.parse::<Ipv4Addr>().ok(), "{s:?} again");
            }
        }
    }
}

#[test]
fn ipv4_parser_matches_std_on_generated_texts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let octet = |rng: &mut Rng| -> String {
        match rng.below(16) {
            0 => format!("{}", rng.below(1000)),     // up to 999
            1 => format!("0{}", rng.below(100)),     // a leading zero
            2 => format!("{}", 250 + rng.below(10)), // around 255
            3 => format!("{}", rng.below(100_000)),  // too many digits
            4 => rng
                .pick(&["", "+1", "-1", " 1", "1 ", "0x1", "١", "1e2"])
                .into(),
            _ => format!("{}", rng.below(256)),
        }
    };
    let mut valid = 0;
    for _ in 0..200_000 {
        let parts = [4, 4, 4, 4, 4, 3, 5, 1][rng.below(8)];
        let sep = rng.pick(&[".", ".", ".", ".", ".", ".", ".", ".", ",", ".."]);
        let mut s = (0..parts)
            .map(|_| octet(&mut rng))
            .collect::<Vec<_>>()
            .join(sep);
        match rng.below(10) {
            0 => s.push_str(rng.pick(&[".", "\0", "\n", ":80", "/8", "é"])),
            1 => s.insert_str(0, rng.pick(&[".", " ", "[", "0"])),
            _ => {}
        }
        let std_parse = s.parse::<Ipv4Addr>().ok();
        valid += usize::from(std_parse.is_some());
        assert_eq!(parse_ipv4(s.as_bytes()), std_parse, "{s:?}");
        check_c(&s);
        check(&s);
    }
    // The generator reaches both sides.
    assert!(valid > 20_000 && valid < 180_000, "{valid} valid");
    let bytes: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    assert_eq!(parse_ipv4(&bytes), None);
    // A NUL ends a C string, never a slice: no literal with one inside.
    for t in ["1.2.3.4\0", "1.2.3\0.4", "1.2.3.4\05", "\01.2.3.4"] {
        assert_eq!(parse_ipv4(t.as_bytes()), None, "{t:?}");
    }
    // SAFETY: NULL is allowed.
    assert_eq!(unsafe { ipv4_of_c(std::ptr::null()) }, None);
}

#[test]
fn literals_match_std_on_edge_cases() {
    let edges = [
        "",
        "0.0.0.0",
        "255.255.255.255",
        "256.0.0.0",
        "1.2.3",
        "1.2.3.4.",
        ".1.2.3.4",
        "1..2.3",
        "01.2.3.4",
        "1.2.3.04",
        "1.2.3.4 ",
        "localhost",
        "::",
        "::1",
        "[::1]",
        "[::1",
        "::1]",
        "[[::1]]",
        "::ffff:1.2.3.4",
        "[::ffff:127.0.0.1]",
        "1::2::3",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "12345::",
        "fe80::1%lo",
        "fe80::1%1",
        "[fe80::1%lo]",
        "fe80::1%",
        "fe80::1%0",
        "fe80::1%4000000000",
        "fe80::1%99999999999",
        "fe80::1%+1",
        "fe80::1%01",
        "fe80::1%lo%lo",
        "fe80::1%nosuchif",
        "fe80::1%lo\0x",
        "%lo",
        "1.2.3.4%lo",
        "[1.2.3.4]",
        "::1.2.3.4",
        "::1.2.3.04",
        "FE80::A",
        "g::1",
        "::1 ",
    ];
    for host in edges {
        check(host);
    }
}

#[test]
fn ipv6_literals_match_std_on_generated_texts() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut valid = 0;
    for _ in 0..50_000 {
        let groups = 1 + rng.below(9);
        let mut s = String::new();
        let gap = rng.below(groups + 3); // where "::" goes, if anywhere
        for g in 0..groups {
            if g == gap {
                s.push_str("::");
            } else if g > 0 {
                s.push(':');
            }
            let width = rng.below(6); // 0 to 5 hex digits
            for _ in 0..width {
                s.push(b"0123456789abcdefABCDEFg"[rng.below(23)] as char);
            }
        }
        if rng.below(5) == 0 {
            let v4 = format!(
                "{}.{}.{}.{}",
                rng.below(300),
                rng.below(256),
                rng.below(256),
                rng.below(256)
            );
            s.push_str(if s.ends_with(':') { "" } else { ":" });
            s.push_str(&v4);
        }
        if rng.below(3) == 0 {
            s.push_str(rng.pick(&["%lo", "%1", "%", "%0", "%4000000", "%nosuchif", "%01"]));
        }
        if rng.below(4) == 0 {
            s = format!("[{s}]");
        }
        valid += usize::from(matches!(want(libc::AF_INET6, &s, 1), Want::Addr(_)));
        check(&s);
    }
    assert!(valid > 2_000, "{valid} valid");
}

#[test]
fn text_of_a_kernel_address_matches_std_display() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut samples: Vec<SocketAddr> = (0..=255u8)
        .flat_map(|b| {
            [
                SocketAddr::from(([b, 0, 0, 0], 0)),
                SocketAddr::from(([1, b, 2, b], 65535)),
            ]
        })
        .collect();
    for _ in 0..20_000 {
        let port = rng.next() as u16;
        samples.push(SocketAddr::from(((rng.next() as u32).to_be_bytes(), port)));
        let ip = Ipv6Addr::from((u128::from(rng.next()) << 64) | u128::from(rng.next()));
        // Mostly zero groups, so "::" and embedded IPv4 forms come up.
        let sparse = Ipv6Addr::from(ip.segments().map(|g| if g % 3 == 0 { g } else { 0 }));
        samples.push(SocketAddrV6::new(ip, port, 0, 0).into());
        // A scope that names no interface is shown as its number.
        samples.push(SocketAddrV6::new(sparse, port, 7, 4_000_000_000).into());
    }
    for sa in samples {
        let from_std = SockAddr::from(sa);
        assert_eq!(Addr::from_sockaddr(&from_std).to_string(), sa.to_string());
        // The receive path's direct conversion from the kernel's bytes.
        let mut raw = MaybeUninit::<libc::sockaddr_storage>::zeroed();
        // SAFETY: from_std's length fits a sockaddr_storage.
        unsafe {
            std::ptr::copy_nonoverlapping(
                from_std.as_ptr().cast::<u8>(),
                raw.as_mut_ptr().cast::<u8>(),
                from_std.len() as usize,
            );
        }
        let a = Addr::from_raw(&raw, from_std.len());
        assert_eq!(a.to_string(), sa.to_string());
        assert_eq!(a.port, i32::from(sa.port()));
        // Written in place over a caller's stale struct: the text and its
        // NUL are the same, whatever the bytes after them.
        let mut stale = Addr::empty();
        stale.host = [0x55; POLYSOCK_ADDR_HOST_LEN];
        (stale.flowinfo, stale.scope_id) = (9, 9);
        stale.set_from_raw(&raw, from_std.len());
        assert_eq!(stale.to_string(), sa.to_string());
        assert_eq!((stale.flowinfo, stale.scope_id), (a.flowinfo, a.scope_id));
    }
    assert_eq!(Addr::from_raw(&MaybeUninit::zeroed(), 0).family, 0);
}

#[test]
fn raw_address_matches_to_sockaddr() {
    let mut rng = Rng(0x0bad_cafe_dead_beef);
    let mut hosts: Vec<String> = ["", "::1", "fe80::1%lo", "0.0.0.0", "255.255.255.255"]
        .map(String::from)
        .into();
    for _ in 0..5_000 {
        let [a, b, c, d] = (rng.next() as u32).to_be_bytes();
        hosts.push(format!("{a}.{b}.{c}.{d}"));
    }
    for family in [libc::AF_INET, libc::AF_INET6] {
        for host in &hosts {
            for port in [0, 1, 4242, 65535, 65536, -1] {
                let (t, dgram) = ("t", libc::SOCK_DGRAM);
                let want = to_sockaddr(t, family, dgram, Some(host), port, Purpose::Connect);
                let mut raw = RawAddr::new();
                let got = raw.set_dest(t, family, dgram, Some(host), port);
                match want {
                    Ok(sa) => {
                        assert!(got.is_ok(), "{host} {port}");
                        assert_eq!(raw.size(), sa.len());
                        // SAFETY: both hold len initialised bytes.
                        let (g, w) = unsafe {
                            (
                                std::slice::from_raw_parts(
                                    raw.as_ptr().cast::<u8>(),
                                    sa.len() as usize,
                                ),
                                std::slice::from_raw_parts(
                                    sa.as_ptr().cast::<u8>(),
                                    sa.len() as usize,
                                ),
                            )
                        };
                        assert_eq!(g, w, "{host} {port}");
                        assert_eq!(
                            raw.to_addr().to_string(),
                            Addr::from_sockaddr(&sa).to_string()
                        );
                    }
                    Err(e) => {
                        let g = got.expect_err(host);
                        assert_eq!((g.code(), g.context()), (e.code(), e.context()));
                    }
                }
            }
        }
    }
}

/// An Addr whose host array holds `text`, its NUL, then garbage.
fn addr_with(text: &[u8], port: i32, rng: &mut Rng) -> Addr {
    let mut a = Addr::empty();
    a.family = libc::AF_INET;
    a.port = port;
    for c in a.host.iter_mut() {
        *c = (rng.next() as u8 | 1) as libc::c_char;
    }
    for (c, &b) in a.host.iter_mut().zip(text) {
        *c = b as libc::c_char;
    }
    a.host[text.len()] = 0;
    a
}

#[test]
fn a_batch_reuses_a_destination_for_exactly_its_text_and_port() {
    let mut rng = Rng(0x6d6d_7367);
    // Few letters, lengths around the 8 and 16 bytes the words cover: many
    // texts are prefixes of others or differ in one byte.
    let texts: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let n = rng.below(40);
            (0..n).map(|_| b"ab."[rng.below(3)]).collect()
        })
        .collect();
    for _ in 0..20_000 {
        let (x, y) = (
            &texts[rng.below(texts.len())],
            &texts[rng.below(texts.len())],
        );
        let (px, py) = (rng.below(3) as i32, rng.below(3) as i32);
        let a = addr_with(x, px, &mut rng);
        let b = addr_with(y, py, &mut rng);
        let text = std::str::from_utf8(x).unwrap();
        let last = LastDest::new(&a, text);
        assert_eq!(
            last.matches(&b),
            x == y && px == py,
            "{:?}:{px} against {:?}:{py}",
            String::from_utf8_lossy(x),
            String::from_utf8_lossy(y)
        );
        assert!(!LastDest::none().matches(&b));
    }
    // The longest text there is, and texts that differ only past 16 bytes.
    let long = [b'a'; POLYSOCK_ADDR_HOST_LEN - 1];
    let a = addr_with(&long, 1, &mut rng);
    let last = LastDest::new(&a, std::str::from_utf8(&long).unwrap());
    assert!(last.matches(&addr_with(&long, 1, &mut rng)));
    assert!(!last.matches(&addr_with(&long[..126], 1, &mut rng)));
}

#[test]
fn a_batch_writes_each_sender_as_set_from_raw_does() {
    let raw_of = |sa: &SockAddr| {
        let raw = RawAddr::from(sa);
        (raw.storage, raw.len as usize)
    };
    let senders: Vec<(MaybeUninit<libc::sockaddr_storage>, usize)> = [
        "127.0.0.1:9",
        "127.0.0.1:10",
        "127.0.0.10:9",
        "255.255.255.255:65535",
        "[::1]:9",
        "[::ffff:127.0.0.1]:9",
        "[fe80::1%1]:9",
    ]
    .iter()
    .map(|t| raw_of(&SockAddr::from(t.parse::<SocketAddr>().unwrap())))
    .chain([
        raw_of(&unix_sockaddr("t", "/tmp/some/sock").unwrap()),
        raw_of(&unix_sockaddr("t", "@abstract").unwrap()),
        (MaybeUninit::uninit(), 0),
    ])
    .collect();
    let mut rng = Rng(0x7365_6e64);
    let mut last = LastSender::new();
    for _ in 0..2_000 {
        let (raw, len) = &senders[rng.below(senders.len())];
        let mut out = Addr::empty();
        out.family = 0x55;
        out.port = 0x55;
        out.flowinfo = 0x55;
        out.scope_id = 0x55;
        out.host = [0x55; POLYSOCK_ADDR_HOST_LEN];
        last.write(raw, *len, &mut out);
        let want = Addr::from_raw(raw, *len as libc::socklen_t);
        assert_eq!(
            (
                out.family,
                out.port,
                out.flowinfo,
                out.scope_id,
                out.host_str()
            ),
            (
                want.family,
                want.port,
                want.flowinfo,
                want.scope_id,
                want.host_str()
            )
        );
    }
}
