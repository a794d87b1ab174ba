//! The resolver's argument checks, AI_NUMERICHOST always set: it can never
//! query DNS (the process has no network, and the guard refuses any lookup
//! without AI_NUMERICHOST; the target checks the guard was never hit).
//! polysock_getaddrinfo and polysock_getaddrinfo_timeout with fuzzed host,
//! service, hints, capacity and NULLs: no crash, clear codes, entries
//! written only within `capacity`, the count reported; a host std parses as
//! an IP literal with a numeric service in range resolves to exactly that
//! address and port; a numeric service above 65535 is EINVAL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::ffi::resolve::{
    polysock_addrinfo, polysock_getaddrinfo, polysock_getaddrinfo_timeout,
};
use polysock_fuzz::{Input, REFUSED_LOOKUPS, expect_code, failure_code, init, resolver_guard};
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

resolver_guard!();

fn c_text(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let sel = input.byte();
    let family = [
        libc::AF_UNSPEC,
        libc::AF_INET,
        libc::AF_INET6,
        libc::AF_UNIX,
    ][usize::from(sel & 3)];
    let socktype =
        [0, libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW][usize::from(sel >> 2 & 3)];
    let protocol = if sel & 0x10 != 0 {
        i32::from(input.byte())
    } else {
        0
    };
    let flags = libc::AI_NUMERICHOST
        | (input.i32() & 0x7ff) & !libc::AI_CANONNAME
        | i32::from(sel & 0x20 != 0) * libc::AI_CANONNAME;
    let capacity = usize::from(input.byte() % 5);
    let timeout = if sel & 0x40 != 0 {
        Some(i64::from(input.i32() as i8))
    } else {
        None
    };
    let split = usize::from(input.byte());
    let rest = input.rest();
    let (host_bytes, service_bytes) = rest.split_at(split.min(rest.len()));
    let host = (sel & 0x80 == 0 || host_bytes.is_empty())
        .then(|| c_text(host_bytes))
        .flatten();
    let service = (!service_bytes.is_empty())
        .then(|| c_text(service_bytes))
        .flatten();
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());

    let canary = 0x5a5a_5a5a;
    let mut list: Vec<MaybeUninit<polysock_addrinfo>> = (0..capacity + 1)
        .map(|_| {
            let mut e = MaybeUninit::<polysock_addrinfo>::zeroed();
            // SAFETY: all-zero is a valid polysock_addrinfo; family is set.
            unsafe { (*e.as_mut_ptr()).family = canary };
            e
        })
        .collect();
    let out = if capacity == 0 && data.len() % 2 == 0 {
        std::ptr::null_mut()
    } else {
        list.as_mut_ptr().cast()
    };
    let mut count = usize::MAX;
    let refused = REFUSED_LOOKUPS.load(Ordering::Relaxed);
    let (h, sv) = (ptr(&host), ptr(&service));
    let gai = |out, capacity, count: &mut usize| match timeout {
        None => polysock_getaddrinfo(
            h, sv, family, socktype, protocol, flags, out, capacity, count,
        ),
        Some(t) => polysock_getaddrinfo_timeout(
            h, sv, family, socktype, protocol, flags, t, out, capacity, count,
        ),
    };
    let rc = gai(out, capacity, &mut count);
    assert_eq!(
        REFUSED_LOOKUPS.load(Ordering::Relaxed),
        refused,
        "a lookup without AI_NUMERICHOST"
    );
    // SAFETY: the extra entry past capacity was initialised above.
    assert_eq!(
        unsafe { list[capacity].assume_init_ref() }.family,
        canary,
        "written past capacity"
    );

    let host_str = host.as_ref().and_then(|h| h.to_str().ok());
    let service_str = service.as_ref().and_then(|s| s.to_str().ok());
    let utf8 = host.as_ref().is_none_or(|_| host_str.is_some())
        && service.as_ref().is_none_or(|_| service_str.is_some());
    let numeric_port = service_str.and_then(|s| s.parse::<i64>().ok());
    let bad_timeout = timeout.is_some_and(|t| t == 0 || t < -1);

    if rc < 0 {
        let code = failure_code("getaddrinfo");
        if !utf8 || bad_timeout || numeric_port.is_some_and(|p| !(0..=65535).contains(&p)) {
            assert_eq!(code, libc::EINVAL, "{host:?} {service:?}");
        }
        assert_eq!(count, usize::MAX, "out_count written on failure");
        return;
    }
    assert!(utf8 && !bad_timeout, "accepted bad arguments");
    assert!(rc >= 1, "success with no results");
    let written = (rc as usize).min(capacity);
    assert_eq!(count, written);

    // A literal std accepts, with a port in range, resolves to itself.
    let literal = host_str.and_then(|h| {
        let bare = h
            .strip_prefix('[')
            .and_then(|b| b.strip_suffix(']'))
            .unwrap_or(h);
        bare.parse::<IpAddr>().ok()
    });
    for e in &list[..written] {
        // SAFETY: the first `written` entries were filled by the call.
        let e = unsafe { e.assume_init_ref() };
        assert!(e.family == libc::AF_INET || e.family == libc::AF_INET6);
        if let (Some(ip), Some(port)) = (literal, numeric_port) {
            assert_eq!(e.addr.port as i64, port, "{host:?}");
            if family == libc::AF_UNSPEC || (family == libc::AF_INET) == ip.is_ipv4() {
                assert_eq!(
                    e.addr.host_str().parse::<IpAddr>().ok(),
                    Some(ip),
                    "{host:?}"
                );
            }
        }
    }

    // NULL out with a capacity is EINVAL, checked before any lookup.
    expect_code(
        "getaddrinfo NULL out",
        gai(std::ptr::null_mut(), 1, &mut count),
        libc::EINVAL,
    );
});
