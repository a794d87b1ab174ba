//! Host and address text, every form bind/connect/sendto/inet_pton accept:
//! IPv4, IPv6 (brackets, %scope by name or number), names, Unix paths and
//! abstract names. The one conversion (core::addr::to_sockaddr) must never
//! panic, must agree with an independent expectation built from std's
//! parsers and the C library's interface lookups, and must round-trip
//! (text -> sockaddr -> text -> the same sockaddr); inet_pton through the
//! C ABI must agree with std's parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::core::addr::{Addr, Purpose, to_sockaddr};
use polysock::core::error::POLYSOCK_EAI_NONAME;
use polysock::ffi::io::polysock_sendto;
use polysock::ffi::resolve::polysock_inet_pton;
use polysock::ffi::socket::{polysock_bind, polysock_close, polysock_socket};
use polysock_fuzz::{Input, REFUSED_LOOKUPS, expect_code, failure_code, init, resolver_guard};
use socket2::SockAddr;
use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::sync::atomic::Ordering;

resolver_guard!();

unsafe extern "C" {
    /// The C library's inet_pton (the libc crate does not declare it).
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
}

/// What to_sockaddr must give: an address, or an error code.
enum Want {
    Addr(SockAddr),
    Code(i32),
}

fn scope_of(s: &str) -> Option<u32> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        let n: u32 = s.parse().ok()?;
        let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
        // SAFETY: name has IF_NAMESIZE bytes.
        return (!unsafe { libc::if_indextoname(n, name.as_mut_ptr()) }.is_null()).then_some(n);
    }
    let c = CString::new(s).ok()?;
    if s.is_empty() || s.len() >= libc::IF_NAMESIZE {
        return None;
    }
    // SAFETY: c is NUL-terminated.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

fn expected(family: i32, host: &str, port: i32, purpose: Purpose) -> Want {
    if family == libc::AF_UNIX {
        // A path (not an abstract name) with a NUL inside is refused, not
        // cut at the NUL, before its length is judged.
        if !host.starts_with(['@', '\0']) && host.contains('\0') {
            return Want::Code(libc::EINVAL);
        }
        let (len, limit) = match host.strip_prefix('@') {
            Some(name) => (name.len(), 107),
            None if host.starts_with('\0') => (host.len(), 108),
            None => (host.len(), 107),
        };
        if len > limit {
            return Want::Code(libc::ENAMETOOLONG);
        }
        let raw = match host.strip_prefix('@') {
            Some(name) => [&[0u8][..], name.as_bytes()].concat(),
            None => host.as_bytes().to_vec(),
        };
        use std::os::unix::ffi::OsStrExt;
        return Want::Addr(SockAddr::unix(std::ffi::OsStr::from_bytes(&raw)).unwrap());
    }
    let Ok(port) = u16::try_from(port) else {
        return Want::Code(libc::EINVAL);
    };
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Want::Code(libc::EAFNOSUPPORT);
    }
    let v4 = family == libc::AF_INET;
    if host.is_empty() {
        return Want::Addr(if v4 {
            std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into()
        } else {
            SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0).into()
        });
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Want::Addr(if v4 {
            std::net::SocketAddrV4::new(ip, port).into()
        } else {
            SocketAddrV6::new(ip.to_ipv6_mapped(), port, 0, 0).into()
        });
    }
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let (ip, scope) = match inner.split_once('%') {
        Some((ip, s)) => (ip, Some(s)),
        None => (inner, None),
    };
    if let Ok(ip) = ip.parse::<Ipv6Addr>() {
        let scope_id = match scope.map(scope_of) {
            None => 0,
            Some(Some(id)) => id,
            Some(None) => {
                // polysock also takes "+1"-style numbers as u32 does; std's
                // socket address parser does not: leave those unjudged.
                return Want::Code(if scope.unwrap().starts_with('+') {
                    -1
                } else {
                    libc::EINVAL
                });
            }
        };
        if v4 {
            return Want::Code(libc::EAFNOSUPPORT);
        }
        return Want::Addr(SocketAddrV6::new(ip, port, 0, scope_id).into());
    }
    match purpose {
        Purpose::Numeric => Want::Code(libc::EINVAL),
        _ if host.contains('\0') => Want::Code(libc::EINVAL),
        // A name: handed to the resolver, which the guard refuses.
        _ => Want::Code(POLYSOCK_EAI_NONAME),
    }
}

fn same(a: &SockAddr, b: &SockAddr) -> bool {
    a.len() == b.len() && {
        // SAFETY: both storages hold at least len() initialised bytes.
        let bytes = |s: &SockAddr| unsafe {
            std::slice::from_raw_parts(s.as_ptr() as *const u8, s.len() as usize)
        };
        bytes(a) == bytes(b)
    }
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let family = match input.byte() % 5 {
        0 => libc::AF_INET,
        1 | 4 => libc::AF_INET6,
        2 => libc::AF_UNIX,
        _ => input.i32(),
    };
    let purpose = match input.byte() % 3 {
        0 => Purpose::Bind,
        1 => Purpose::Connect,
        _ => Purpose::Numeric,
    };
    let port = match input.byte() % 4 {
        0 => input.i32(),
        _ => i32::from(input.u16()),
    };
    let Ok(host) = std::str::from_utf8(input.rest()) else {
        // Not UTF-8: the ABI refuses such text with EINVAL.
        if let Ok(c) = CString::new(data) {
            let mut out = [0u8; 16];
            let rc = polysock_inet_pton(libc::AF_INET6, c.as_ptr(), out.as_mut_ptr().cast(), 16);
            expect_code("inet_pton (not UTF-8)", rc.into(), libc::EINVAL);
        }
        return;
    };

    let refused = REFUSED_LOOKUPS.load(Ordering::Relaxed);
    let got = to_sockaddr("fuzz", family, libc::SOCK_STREAM, Some(host), port, purpose);
    let asked = REFUSED_LOOKUPS.load(Ordering::Relaxed) - refused;
    match (expected(family, host, port, purpose), &got) {
        (Want::Addr(want), Ok(sa)) => assert!(same(&want, sa), "{host:?}: another address"),
        (Want::Code(-1), _) => {}
        (Want::Code(want), Err(e)) => assert_eq!(e.code(), want, "{host:?}: {}", e.context()),
        (Want::Addr(_), Err(e)) => panic!("{host:?} refused: {} {}", e.code(), e.context()),
        (Want::Code(want), Ok(_)) => panic!("{host:?} accepted; expected error {want}"),
    }
    if let Err(e) = &got {
        assert!(!e.context().is_empty());
        let name_lookup = e.code() == POLYSOCK_EAI_NONAME;
        assert_eq!(
            asked,
            usize::from(name_lookup),
            "{host:?}: resolver asked {asked} times"
        );
    } else {
        assert_eq!(asked, 0, "{host:?}: a literal went to the resolver");
    }

    // Round trip: the text polysock gives back names the same address.
    if let Ok(sa) = &got {
        if !host.contains('\0') {
            let a = Addr::from_sockaddr(sa);
            let again = to_sockaddr(
                "fuzz",
                family,
                1,
                Some(a.host_str()),
                a.port,
                Purpose::Numeric,
            )
            .unwrap_or_else(|e| panic!("{host:?} -> {:?}: {}", a.host_str(), e.context()));
            if family == libc::AF_UNIX {
                assert_eq!(a.host_str(), host);
            } else {
                assert!(
                    same(sa, &again),
                    "{host:?} -> {:?} is another address",
                    a.host_str()
                );
            }
        }
    }

    // bind and sendto through the C ABI give the conversion's errors. Unix
    // paths are left out (they would touch the file system and could reach
    // a real local service); abstract names live in the fuzzer's namespace.
    let unix_path = family == libc::AF_UNIX && !host.starts_with('@');
    if let (Ok(c), false) = (CString::new(host), unix_path) {
        let known = [libc::AF_INET, libc::AF_INET6, libc::AF_UNIX].contains(&family);
        let h = polysock_socket(
            if known { family } else { libc::AF_INET },
            libc::SOCK_DGRAM,
            0,
        );
        assert!(h >= 0);
        let (name, rc, core_purpose) = if purpose == Purpose::Bind {
            (
                "bind",
                i64::from(polysock_bind(h, c.as_ptr(), port)),
                Purpose::Bind,
            )
        } else {
            let rc = polysock_sendto(h, b"x".as_ptr().cast(), 1, 0, c.as_ptr(), port);
            ("sendto", rc, Purpose::Connect)
        };
        let sock_family = if known { family } else { libc::AF_INET };
        let core = to_sockaddr(
            "fuzz",
            sock_family,
            libc::SOCK_DGRAM,
            Some(host),
            port,
            core_purpose,
        );
        match &core {
            Err(e) => expect_code(name, rc, e.code()),
            Ok(_) if rc < 0 => {
                failure_code(name);
            }
            Ok(_) => {}
        }
        assert!(
            rc < 0 || core.is_ok(),
            "{name} {host:?} took what the conversion refuses"
        );
        polysock_close(h);
    }

    // inet_pton through the C ABI, against std's parsers and the C
    // library's inet_pton.
    if let Ok(c) = CString::new(host) {
        let mut out = [0xa5u8; 17];
        for (fam, want) in [
            (
                libc::AF_INET,
                host.parse::<Ipv4Addr>().map(|i| i.octets().to_vec()),
            ),
            (
                libc::AF_INET6,
                host.parse::<Ipv6Addr>().map(|i| i.octets().to_vec()),
            ),
        ] {
            let len = usize::from(input.0.len() as u8 % 18).max(if fam == libc::AF_INET {
                4
            } else {
                16
            });
            let mut libc_out = [0u8; 16];
            // SAFETY: c is NUL-terminated; libc_out has room for 16 bytes.
            let libc_ok = unsafe { inet_pton(fam, c.as_ptr(), libc_out.as_mut_ptr().cast()) } == 1;
            assert_eq!(
                libc_ok,
                want.is_ok(),
                "std and the C library disagree on {host:?} ({fam})"
            );
            let rc = polysock_inet_pton(fam, c.as_ptr(), out.as_mut_ptr().cast(), len);
            match want {
                Ok(bytes) => {
                    assert_eq!(rc as usize, bytes.len(), "inet_pton {host:?}");
                    assert_eq!(&out[..bytes.len()], &bytes[..]);
                }
                Err(_) => expect_code("inet_pton", rc.into(), libc::EINVAL),
            }
            assert_eq!(out[16], 0xa5, "inet_pton wrote past 16 bytes");
        }
    }
});
