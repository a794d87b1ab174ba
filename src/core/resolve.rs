//! Name resolution through the C library's getaddrinfo (the reentrant,
//! thread-safe resolver).

use super::addr::Purpose;
use super::codes;
use super::error::{Result, fail};
use socket2::SockAddr;
use std::ffi::CString;

/// The first address of `family` that `host` resolves to, with `port` set.
pub fn first_address(
    op: &str,
    family: i32,
    socktype: i32,
    host: &str,
    port: u16,
    purpose: Purpose,
) -> Result<SockAddr> {
    let Ok(c_host) = CString::new(host) else {
        return fail!(libc::EINVAL, "{op}: host contains a NUL byte");
    };
    // SAFETY: addrinfo is plain data; all-zero is its documented empty value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype & 0xff; // without SOCK_CLOEXEC-style flags
    hints.ai_flags = if purpose == Purpose::Bind {
        libc::AI_PASSIVE
    } else {
        0
    };
    if family == libc::AF_INET6 {
        // A name with only IPv4 addresses still reaches an AF_INET6 socket.
        hints.ai_flags |= libc::AI_V4MAPPED;
    }
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: c_host is NUL-terminated, hints is initialised, list is an
    // out-pointer; the list is freed below on every path.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return fail!(codes::from_gai(rc), "{op} {host}: resolving the name");
    }
    let mut found = None;
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getaddrinfo returned.
        let ai = unsafe { &*cur };
        if ai.ai_family == family && !ai.ai_addr.is_null() {
            // SAFETY: ai_addr points to ai_addrlen bytes of a sockaddr.
            let (_, sa) = unsafe {
                SockAddr::try_init(|storage, len| {
                    let n = (ai.ai_addrlen as usize).min(*len as usize);
                    std::ptr::copy_nonoverlapping(ai.ai_addr as *const u8, storage as *mut u8, n);
                    *len = n as libc::socklen_t;
                    Ok(())
                })
            }
            .expect("copying a resolved address cannot fail");
            found = Some(sa);
            break;
        }
        cur = ai.ai_next;
    }
    // SAFETY: list came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    match found {
        Some(sa) => Ok(with_port(sa, port)),
        None => fail!(
            codes::from_gai(libc::EAI_FAMILY),
            "{op} {host}: no address in the socket's family"
        ),
    }
}

fn with_port(sa: SockAddr, port: u16) -> SockAddr {
    if let Some(mut v4) = sa.as_socket_ipv4() {
        v4.set_port(port);
        v4.into()
    } else if let Some(mut v6) = sa.as_socket_ipv6() {
        v6.set_port(port);
        v6.into()
    } else {
        sa
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_from_hosts_file() {
        let sa = first_address(
            "t",
            libc::AF_INET,
            libc::SOCK_STREAM,
            "localhost",
            7,
            Purpose::Connect,
        )
        .unwrap();
        let v4 = sa.as_socket_ipv4().unwrap();
        assert!(v4.ip().is_loopback());
        assert_eq!(v4.port(), 7);
    }

    #[test]
    fn invalid_name_is_a_resolver_error() {
        // Labels longer than 63 bytes are rejected by the resolver itself,
        // so this fails locally without asking any DNS server.
        let host = format!("{}.invalid", "a".repeat(70));
        let e = first_address(
            "connect",
            libc::AF_INET,
            libc::SOCK_STREAM,
            &host,
            1,
            Purpose::Connect,
        )
        .unwrap_err();
        assert!(e.code() >= crate::core::error::POLYSOCK_ERR_BASE, "{e:?}");
    }

    #[test]
    fn host_with_nul_is_einval() {
        let e = first_address("bind", libc::AF_INET, 1, "a\0b", 1, Purpose::Bind).unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
    }
}
