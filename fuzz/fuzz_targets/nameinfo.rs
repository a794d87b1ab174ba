//! The reverse direction, numeric only: polysock_getnameinfo with a fuzzed
//! polysock_addr (family, port, flowinfo, scope id, host bytes with or
//! without a NUL) and NI_NUMERICHOST always set (no reverse lookup; the
//! process has no network anyway), and polysock_inet_ntop with fuzzed
//! bytes and lengths. Clear codes for each bad field; on success the text
//! names the same address as the input (ntop's text parses back through
//! inet_pton to the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use polysock::core::addr::{Addr, POLYSOCK_ADDR_HOST_LEN};
use polysock::core::error::{POLYSOCK_EAI_FAMILY, POLYSOCK_EAI_NONAME};
use polysock::ffi::resolve::{polysock_getnameinfo, polysock_inet_ntop, polysock_inet_pton};
use polysock_fuzz::{Input, expect_code, failure_code, init, resolver_guard};
use std::ffi::CStr;
use std::net::IpAddr;

resolver_guard!();

fn ip_of(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(text);
    bare.split_once('%').map_or(bare, |(ip, _)| ip).parse().ok()
}

fuzz_target!(|data: &[u8]| {
    init();
    let mut input = Input(data);
    let sel = input.byte();
    let mut a = Addr::empty();
    a.family = match sel & 3 {
        0 => libc::AF_INET,
        1 => libc::AF_INET6,
        2 => libc::AF_UNIX,
        _ => input.i32(),
    };
    a.port = if sel & 4 != 0 {
        input.i32()
    } else {
        i32::from(input.u16())
    };
    if sel & 8 != 0 {
        a.flowinfo = input.u32();
        a.scope_id = input.u32() % 4;
    }
    let flags = libc::NI_NUMERICHOST | (i32::from(input.byte()) & 0x1f);
    let host_len = usize::from(input.byte() % 32);
    let ntop_bytes = input.take(17).to_vec();
    let text = input.rest();
    let n = text.len().min(POLYSOCK_ADDR_HOST_LEN);
    for (d, &s) in a.host.iter_mut().zip(&text[..n]) {
        *d = s as libc::c_char;
    }
    let terminated = a.host.contains(&0);

    let mut host = vec![0x77u8; 64 + 8];
    let mut serv = [0x77u8; 40];
    let hl = if host_len == 0 { 64 } else { host_len };
    let rc = polysock_getnameinfo(
        &a,
        flags,
        host.as_mut_ptr().cast(),
        hl,
        serv.as_mut_ptr().cast(),
        32,
    );
    assert!(
        host[hl..].iter().all(|&b| b == 0x77) && serv[32..].iter().all(|&b| b == 0x77),
        "written past a buffer"
    );
    let shown = terminated.then(|| a.host_str().to_owned());
    if !terminated {
        expect_code("getnameinfo (no NUL)", rc.into(), libc::EINVAL);
    } else if a.family != libc::AF_INET && a.family != libc::AF_INET6 {
        expect_code("getnameinfo (family)", rc.into(), POLYSOCK_EAI_FAMILY);
    } else if shown.as_deref().and_then(ip_of).is_none() {
        expect_code("getnameinfo (not numeric)", rc.into(), POLYSOCK_EAI_NONAME);
    } else if rc != 0 {
        let code = failure_code("getnameinfo");
        if u16::try_from(a.port).is_err() {
            assert_eq!(code, libc::EINVAL);
        }
    } else {
        // SAFETY: on success host holds a NUL-terminated string.
        let got = unsafe { CStr::from_ptr(host.as_ptr().cast()) }
            .to_str()
            .unwrap()
            .to_owned();
        let want = ip_of(shown.as_deref().unwrap()).unwrap();
        let want = match (want, a.family) {
            (IpAddr::V4(v4), libc::AF_INET6) => IpAddr::V6(v4.to_ipv6_mapped()),
            (ip, _) => ip,
        };
        let back = ip_of(&got).unwrap_or_else(|| panic!("getnameinfo gave {got:?}"));
        // glibc shows an IPv4-mapped address in its IPv4 form or not.
        let canon = |ip: IpAddr| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            ip => ip,
        };
        assert_eq!(canon(back), canon(want), "getnameinfo {shown:?} -> {got:?}");
        assert!(u16::try_from(a.port).is_ok(), "port {} accepted", a.port);
    }

    // inet_ntop, then inet_pton back.
    let fam = if sel & 0x10 != 0 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    let len = usize::from(sel >> 5) * 3 % 18;
    let mut out = [0x77u8; 64];
    let out_len = 1 + usize::from(input.0.len() as u8 % 47);
    let bytes = &ntop_bytes[..len.min(ntop_bytes.len())];
    let rc = polysock_inet_ntop(
        fam,
        bytes.as_ptr().cast(),
        bytes.len(),
        out.as_mut_ptr().cast(),
        out_len,
    );
    assert!(
        out[out_len..].iter().all(|&b| b == 0x77),
        "inet_ntop wrote past {out_len}"
    );
    let want = if fam == libc::AF_INET { 4 } else { 16 };
    if bytes.len() != want {
        expect_code("inet_ntop (length)", rc.into(), libc::EINVAL);
    } else if rc != 0 {
        expect_code("inet_ntop (room)", rc.into(), libc::ERANGE);
    } else {
        let mut again = [0u8; 16];
        let n = polysock_inet_pton(fam, out.as_ptr().cast(), again.as_mut_ptr().cast(), 16);
        assert_eq!(n as usize, want);
        assert_eq!(&again[..want], bytes, "inet_ntop's text is another address");
    }
});
