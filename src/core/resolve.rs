//! Name resolution, all through the C library's thread-safe interfaces:
//! getaddrinfo/getnameinfo, the reentrant `_r` forms of the hostent,
//! servent and protoent lookups, if_nameindex, plus text <-> bytes for
//! IP addresses.
//!
//! Resolver failures keep their own codes (POLYSOCK_EAI_*, mapped once in
//! `codes::from_gai`); a name that is not found is never reported as some
//! other error. getaddrinfo cannot be interrupted, so `with_deadline` runs
//! it on a helper thread and gives up with ETIMEDOUT when the caller's
//! time is over (the thread finishes in the background and frees what it
//! found).

use super::addr::{Addr, Purpose};
use super::codes;
use super::error::{
    Error, POLYSOCK_EAI_AGAIN, POLYSOCK_EAI_FAIL, POLYSOCK_EAI_FAMILY, POLYSOCK_EAI_NODATA,
    POLYSOCK_EAI_NONAME, POLYSOCK_EAI_SERVICE, POLYSOCK_EPANIC, Result, fail,
};
use socket2::SockAddr;
use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

/// The first address of `family` that `host` resolves to, with `port` set.
pub fn first_address(
    op: &str,
    family: i32,
    socktype: i32,
    host: &str,
    port: u16,
    purpose: Purpose,
) -> Result<SockAddr> {
    let mut hints = Hints {
        family,
        socktype: socktype & 0xff, // without SOCK_CLOEXEC-style flags
        protocol: 0,
        flags: if purpose == Purpose::Bind {
            libc::AI_PASSIVE
        } else {
            0
        },
    };
    if family == libc::AF_INET6 {
        // A name with only IPv4 addresses still reaches an AF_INET6 socket.
        hints.flags |= libc::AI_V4MAPPED;
    }
    let list = getaddrinfo(op, Some(host), None, hints)
        .map_err(|e| Error::new(e.code(), format_args!("{op} {host}: resolving the name")))?;
    match list.into_iter().find(|ai| ai.family == family) {
        Some(ai) => Ok(with_port(ai.addr, port)),
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

/// What getaddrinfo is asked for: 0 in a field means "any".
#[derive(Clone, Copy, Default)]
pub struct Hints {
    /// AF_INET, AF_INET6 or AF_UNSPEC (0).
    pub family: i32,
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_RAW or 0.
    pub socktype: i32,
    /// IPPROTO_TCP, IPPROTO_UDP or 0.
    pub protocol: i32,
    /// AI_* flags.
    pub flags: i32,
}

/// One getaddrinfo result.
#[derive(Debug)]
pub struct AddrInfo {
    pub family: i32,
    pub socktype: i32,
    pub protocol: i32,
    pub addr: SockAddr,
    /// The canonical name (AI_CANONNAME; the C library puts it on the first
    /// result only).
    pub canonname: Option<CString>,
}

/// "host" or "host service 80", for messages.
struct Query<'a>(Option<&'a str>, Option<&'a str>);

impl std::fmt::Display for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0, self.1) {
            (Some(h), None) => write!(f, "{h}"),
            (Some(h), Some(s)) => write!(f, "{h} service {s}"),
            (None, Some(s)) => write!(f, "(any host) service {s}"),
            (None, None) => f.write_str("(no host, no service)"),
        }
    }
}

fn c_arg(op: &str, what: &str, s: Option<&str>) -> Result<Option<CString>> {
    match s.map(CString::new) {
        None => Ok(None),
        Some(Ok(c)) => Ok(Some(c)),
        Some(Err(_)) => fail!(libc::EINVAL, "{op}: {what} contains a NUL byte"),
    }
}

/// An IPv6 literal may come in brackets ("[::1]"), as polysock accepts it
/// everywhere; the C resolver wants it bare.
fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Every result getaddrinfo gives for `host` and `service` (either may be
/// None, not both), in the resolver's order (RFC 6724 sorting).
pub fn getaddrinfo(
    op: &str,
    host: Option<&str>,
    service: Option<&str>,
    hints: Hints,
) -> Result<Vec<AddrInfo>> {
    let query = Query(host, service);
    let c_host = c_arg(op, "host", host.map(strip_brackets))?;
    let c_service = c_arg(op, "service", service)?;
    // The C library wraps a numeric service above 65535 (70000 becomes
    // port 4464): refuse it as every other port is refused.
    if let Some(port) = service.and_then(|s| s.parse::<i64>().ok()) {
        if !(0..=65535).contains(&port) {
            return fail!(
                libc::EINVAL,
                "{op} {query}: port {port} is out of range 0..65535"
            );
        }
    }
    // SAFETY: addrinfo is plain data; all-zero is its documented empty value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    h.ai_family = hints.family;
    h.ai_socktype = hints.socktype;
    h.ai_protocol = hints.protocol;
    h.ai_flags = hints.flags;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // Cleared first, so EAI_SYSTEM reports the errno of this call.
    errno::set_errno(errno::Errno(0));
    // SAFETY: the strings are NUL-terminated or NULL, hints is initialised,
    // list is an out-pointer; the list is freed below.
    let rc = unsafe { libc::getaddrinfo(ptr(&c_host), ptr(&c_service), &h, &mut list) };
    if rc != 0 {
        return fail!(codes::from_gai(rc), "{op} {query}");
    }
    let mut out = Vec::new();
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getaddrinfo returned.
        let ai = unsafe { &*cur };
        if !ai.ai_addr.is_null() {
            // SAFETY: ai_addr points to ai_addrlen bytes of a sockaddr, and
            // the copy is clamped to the storage's size.
            let (_, addr) = unsafe {
                SockAddr::try_init(|storage, len| {
                    let n = (ai.ai_addrlen as usize).min(*len as usize);
                    std::ptr::copy_nonoverlapping(ai.ai_addr as *const u8, storage as *mut u8, n);
                    *len = n as libc::socklen_t;
                    Ok(())
                })
            }
            .expect("copying a resolved address cannot fail");
            let canonname = (!ai.ai_canonname.is_null())
                // SAFETY: a non-NULL ai_canonname is a NUL-terminated string.
                .then(|| unsafe { CStr::from_ptr(ai.ai_canonname) }.to_owned());
            out.push(AddrInfo {
                family: ai.ai_family,
                socktype: ai.ai_socktype,
                protocol: ai.ai_protocol,
                addr,
                canonname,
            });
        }
        cur = ai.ai_next;
    }
    // SAFETY: list came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(out)
}

/// Whether `host` is an IP literal, which the resolver turns into an
/// address without any lookup (so it needs no helper thread).
pub fn is_ip_literal(host: &str) -> bool {
    let bare = strip_brackets(host);
    let ip = bare.split_once('%').map_or(bare, |(ip, _)| ip);
    ip.parse::<IpAddr>().is_ok()
}

/// getaddrinfo that gives up after `timeout_ms` (-1: no limit; 0 is
/// EINVAL). A literal or absent host resolves at once on this thread; a
/// name is resolved on a helper thread (see `with_deadline`).
pub fn getaddrinfo_timeout(
    op: &str,
    host: Option<&str>,
    service: Option<&str>,
    hints: Hints,
    timeout_ms: i64,
) -> Result<Vec<AddrInfo>> {
    check_resolve_timeout(op, timeout_ms)?;
    let local = host.is_none_or(is_ip_literal) || hints.flags & libc::AI_NUMERICHOST != 0;
    if local || timeout_ms < 0 {
        return getaddrinfo(op, host, service, hints);
    }
    let (op_owned, host_owned, service_owned) = (
        op.to_owned(),
        host.map(str::to_owned),
        service.map(str::to_owned),
    );
    let query = Query(host, service);
    with_deadline(
        timeout_ms,
        || {
            Error::new(
                libc::ETIMEDOUT,
                format_args!("{op} {query}: name resolution timed out after {timeout_ms} ms"),
            )
        },
        move || {
            getaddrinfo(
                &op_owned,
                host_owned.as_deref(),
                service_owned.as_deref(),
                hints,
            )
        },
    )
}

pub(crate) fn check_resolve_timeout(op: &str, timeout_ms: i64) -> Result<()> {
    if timeout_ms == 0 || timeout_ms < -1 {
        return fail!(
            libc::EINVAL,
            "{op}: timeout {timeout_ms} ms is invalid (-1 for no limit, or a positive limit)"
        );
    }
    Ok(())
}

/// Runs `f` on a helper thread and waits at most `timeout_ms` (>= 0) for
/// its result, then joins it; after that, returns `timed_out()` and lets
/// the thread finish on its own (its result is dropped when it sends into
/// the closed channel). A negative timeout runs `f` on this thread.
pub fn with_deadline<T: Send + 'static>(
    timeout_ms: i64,
    timed_out: impl FnOnce() -> Error,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    if timeout_ms < 0 {
        return f();
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let helper = std::thread::Builder::new()
        .name("polysock-resolve".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| {
            Error::new(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
                format_args!("starting a resolver thread"),
            )
        })?;
    match rx.recv_timeout(Duration::from_millis(timeout_ms as u64)) {
        Ok(r) => {
            // It has sent its result and is ending: a thread left behind
            // would still hold the C library's resolver state if the
            // process exited now.
            let _ = helper.join();
            r
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(timed_out()),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = helper.join();
            fail!(
                POLYSOCK_EPANIC,
                "the resolver thread ended without a result"
            )
        }
    }
}

/// getnameinfo for an AF_INET/AF_INET6 address: (host, service) as text.
/// The address must be numeric (a literal in `addr.host`), as CPython
/// requires; its scope comes from "%scope" in the text or `scope_id`.
pub fn getnameinfo(addr: &Addr, flags: i32) -> Result<(CString, CString)> {
    let op = "getnameinfo";
    let host = addr.host_str();
    if addr.family != libc::AF_INET && addr.family != libc::AF_INET6 {
        return fail!(
            POLYSOCK_EAI_FAMILY,
            "{op}: family {} is not AF_INET or AF_INET6",
            addr.family
        );
    }
    if !is_ip_literal(host) {
        return fail!(
            POLYSOCK_EAI_NONAME,
            "{op} {host}: the host must be a numeric address"
        );
    }
    let sa = super::addr::to_sockaddr(
        op,
        addr.family,
        libc::SOCK_STREAM,
        Some(host),
        addr.port,
        Purpose::Connect,
    )?;
    let sa = match sa.as_socket_ipv6() {
        Some(mut v6) => {
            v6.set_flowinfo(addr.flowinfo);
            if v6.scope_id() == 0 {
                v6.set_scope_id(addr.scope_id);
            }
            SockAddr::from(v6)
        }
        None => sa,
    };
    let mut h = [0 as libc::c_char; 1025]; // NI_MAXHOST
    let mut s = [0 as libc::c_char; 32]; // NI_MAXSERV
    errno::set_errno(errno::Errno(0));
    // SAFETY: sa is a valid sockaddr of sa.len() bytes; both buffers are
    // writable for the lengths passed.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            h.as_mut_ptr(),
            h.len() as libc::socklen_t,
            s.as_mut_ptr(),
            s.len() as libc::socklen_t,
            flags,
        )
    };
    if rc != 0 {
        return fail!(codes::from_gai(rc), "{op} {}", Addr::from_sockaddr(&sa));
    }
    // SAFETY: on success both buffers hold NUL-terminated strings.
    unsafe {
        Ok((
            CStr::from_ptr(h.as_ptr()).to_owned(),
            CStr::from_ptr(s.as_ptr()).to_owned(),
        ))
    }
}

/// A host entry: gethostbyname_ex and gethostbyaddr's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub name: CString,
    pub aliases: Vec<CString>,
    /// Address literals ("127.0.0.1", "::1").
    pub addresses: Vec<CString>,
}

/// CPython's gethostbyname: the first IPv4 address of `name`, as text.
pub fn gethostbyname(name: &str) -> Result<CString> {
    let op = "gethostbyname";
    let hints = Hints {
        family: libc::AF_INET,
        socktype: libc::SOCK_STREAM,
        ..Hints::default()
    };
    let list = getaddrinfo(op, Some(name), None, hints)?;
    match list.first().and_then(|ai| ai.addr.as_socket_ipv4()) {
        Some(v4) => Ok(ip_text(IpAddr::V4(*v4.ip()))),
        None => fail!(POLYSOCK_EAI_NODATA, "{op} {name}: no IPv4 address"),
    }
}

fn ip_text(ip: IpAddr) -> CString {
    CString::new(ip.to_string()).expect("an address literal has no NUL")
}

/// h_errno values of the hostent lookups, as polysock's resolver codes.
fn from_h_errno(h: i32) -> i32 {
    match h {
        1 => POLYSOCK_EAI_NONAME, // HOST_NOT_FOUND
        2 => POLYSOCK_EAI_AGAIN,  // TRY_AGAIN
        3 => POLYSOCK_EAI_FAIL,   // NO_RECOVERY
        4 => POLYSOCK_EAI_NODATA, // NO_DATA (NO_ADDRESS)
        _ => POLYSOCK_EAI_FAIL,
    }
}

/// The code for a failed hostent lookup: the resolver's verdict when it
/// gave one (h_errno), else the system error it returned (as EAI_SYSTEM
/// carries errno), else EAI_FAIL.
#[cfg(target_os = "linux")]
fn host_code(rc: i32, h_err: i32) -> i32 {
    match (rc, h_err) {
        (_, 1..=4) => from_h_errno(h_err),
        (0, _) => POLYSOCK_EAI_FAIL,
        (rc, _) => rc,
    }
}

/// The reentrant lookups of glibc and musl, which the libc crate does not
/// bind. (Imports, not exports: kept out of the header.)
///
/// cbindgen:ignore
#[cfg(target_os = "linux")]
mod reentrant {
    use std::ffi::c_char;
    unsafe extern "C" {
        pub fn gethostbyname_r(
            name: *const c_char,
            ret: *mut libc::hostent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::hostent,
            h_errnop: *mut libc::c_int,
        ) -> libc::c_int;
        pub fn gethostbyaddr_r(
            addr: *const libc::c_void,
            len: libc::socklen_t,
            family: libc::c_int,
            ret: *mut libc::hostent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::hostent,
            h_errnop: *mut libc::c_int,
        ) -> libc::c_int;
        pub fn getservbyname_r(
            name: *const c_char,
            proto: *const c_char,
            ret: *mut libc::servent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::servent,
        ) -> libc::c_int;
        pub fn getservbyport_r(
            port: libc::c_int,
            proto: *const c_char,
            ret: *mut libc::servent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::servent,
        ) -> libc::c_int;
        #[cfg(target_env = "gnu")]
        pub fn getprotobyname_r(
            name: *const c_char,
            ret: *mut libc::protoent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::protoent,
        ) -> libc::c_int;
    }
}

/// Calls a reentrant lookup with a scratch buffer that grows while the
/// call says ERANGE. `call(buf)` returns (rc, found).
#[cfg(target_os = "linux")]
fn with_scratch<R>(
    op: &str,
    mut call: impl FnMut(&mut [libc::c_char]) -> (i32, Option<R>),
) -> Result<(i32, Option<R>)> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        let (rc, found) = call(&mut buf);
        if rc != libc::ERANGE {
            return Ok((rc, found));
        }
        if size >= 1 << 20 {
            return fail!(libc::ERANGE, "{op}: the entry is larger than 1 MiB");
        }
        size *= 4;
    }
}

/// Copies a hostent into owned data.
///
/// # Safety
/// `h` must be a hostent filled by the C library, with its storage alive.
#[cfg(target_os = "linux")]
unsafe fn host_entry(h: &libc::hostent) -> HostEntry {
    // SAFETY (whole body): the hostent's strings and lists are valid and
    // NULL-terminated, as the caller guarantees.
    unsafe {
        let name = CStr::from_ptr(h.h_name).to_owned();
        let mut aliases = Vec::new();
        let mut p = h.h_aliases;
        while !p.is_null() && !(*p).is_null() {
            aliases.push(CStr::from_ptr(*p).to_owned());
            p = p.add(1);
        }
        let mut addresses = Vec::new();
        let mut p = h.h_addr_list;
        while !p.is_null() && !(*p).is_null() {
            let bytes = *p as *const u8;
            let ip = match (h.h_addrtype, h.h_length) {
                (libc::AF_INET, 4) => IpAddr::V4(Ipv4Addr::from(*(bytes as *const [u8; 4]))),
                (libc::AF_INET6, 16) => IpAddr::V6(Ipv6Addr::from(*(bytes as *const [u8; 16]))),
                _ => break,
            };
            addresses.push(ip_text(ip));
            p = p.add(1);
        }
        HostEntry {
            name,
            aliases,
            addresses,
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn unsupported<T>(op: &str) -> Result<T> {
    fail!(
        libc::ENOSYS,
        "{op}: not available on this platform (polysock uses the reentrant form only)"
    )
}

/// CPython's gethostbyname_ex: the host's name, aliases and IPv4
/// addresses (gethostbyname_r).
pub fn gethostbyname_ex(name: &str) -> Result<HostEntry> {
    let op = "gethostbyname_ex";
    let c_name = c_arg(op, "name", Some(name))?.expect("Some in, Some out");
    #[cfg(target_os = "linux")]
    {
        let mut h_err = 0;
        let (rc, found) = with_scratch(op, |buf| {
            // SAFETY: hostent is plain data; all-zero is a valid value.
            let mut ent: libc::hostent = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::hostent = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; buf is writable
            // for its length.
            let rc = unsafe {
                reentrant::gethostbyname_r(
                    c_name.as_ptr(),
                    &mut ent,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                    &mut h_err,
                )
            };
            // SAFETY: result, when set, is &ent, filled from buf, both alive.
            (
                rc,
                (rc == 0 && !result.is_null()).then(|| unsafe { host_entry(&ent) }),
            )
        })?;
        match found {
            Some(e) => Ok(e),
            None => fail!(host_code(rc, h_err), "{op} {name}"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = c_name;
        unsupported(op)
    }
}

/// CPython's gethostbyaddr: `host` (an address literal, or a name that is
/// resolved first) looked up in reverse (gethostbyaddr_r).
pub fn gethostbyaddr(host: &str) -> Result<HostEntry> {
    let op = "gethostbyaddr";
    let hints = Hints {
        socktype: libc::SOCK_STREAM,
        ..Hints::default()
    };
    let list = getaddrinfo(op, Some(host), None, hints)?;
    let Some(ip) = list
        .first()
        .and_then(|ai| ai.addr.as_socket())
        .map(|s| s.ip())
    else {
        return fail!(POLYSOCK_EAI_NODATA, "{op} {host}: no IP address");
    };
    #[cfg(target_os = "linux")]
    {
        let (bytes, family): (Vec<u8>, i32) = match ip {
            IpAddr::V4(v4) => (v4.octets().to_vec(), libc::AF_INET),
            IpAddr::V6(v6) => (v6.octets().to_vec(), libc::AF_INET6),
        };
        let mut h_err = 0;
        let (rc, found) = with_scratch(op, |buf| {
            // SAFETY: hostent is plain data; all-zero is a valid value.
            let mut ent: libc::hostent = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::hostent = std::ptr::null_mut();
            // SAFETY: bytes holds the address of the length passed; the
            // other pointers are valid for the call.
            let rc = unsafe {
                reentrant::gethostbyaddr_r(
                    bytes.as_ptr().cast(),
                    bytes.len() as libc::socklen_t,
                    family,
                    &mut ent,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                    &mut h_err,
                )
            };
            // SAFETY: result, when set, is &ent, filled from buf, both alive.
            (
                rc,
                (rc == 0 && !result.is_null()).then(|| unsafe { host_entry(&ent) }),
            )
        })?;
        match found {
            Some(e) => Ok(e),
            None => fail!(host_code(rc, h_err), "{op} {host} ({ip})"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = ip;
        unsupported(op)
    }
}

/// This machine's host name.
pub fn gethostname() -> Result<CString> {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: buf is writable for one byte less than its length, so the
    // result stays NUL-terminated even if the name is cut.
    if unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len() - 1) } != 0 {
        return Err(Error::last_os(format_args!("gethostname")));
    }
    // SAFETY: the last byte is still 0.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_owned())
}

/// CPython's getfqdn: the first name with a dot among the host's reverse
/// entry (its name, then its aliases), else the entry's name; `name`
/// itself when the lookups fail. None, "", "0.0.0.0" and "::" mean this
/// machine.
pub fn getfqdn(name: Option<&str>) -> Result<CString> {
    let name = name.map(str::trim).unwrap_or("");
    let name = if name.is_empty() || name == "0.0.0.0" || name == "::" {
        gethostname()?
    } else {
        c_arg("getfqdn", "name", Some(name))?.expect("Some in, Some out")
    };
    let Ok(text) = name.to_str() else {
        return Ok(name);
    };
    match gethostbyaddr(text) {
        Ok(e) => {
            let dotted = std::iter::once(&e.name)
                .chain(&e.aliases)
                .find(|n| n.as_bytes().contains(&b'.'));
            Ok(dotted.unwrap_or(&e.name).clone())
        }
        Err(_) => Ok(name),
    }
}

fn proto_arg(op: &str, proto: Option<&str>) -> Result<Option<CString>> {
    c_arg(op, "protocol", proto)
}

/// The port of a service from the services database ("http" -> 80);
/// `proto` ("tcp", "udp") or None for the first entry of any protocol.
pub fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16> {
    let op = "getservbyname";
    let c_name = c_arg(op, "name", Some(name))?.expect("Some in, Some out");
    let c_proto = proto_arg(op, proto)?;
    #[cfg(target_os = "linux")]
    {
        let (rc, port) = with_scratch(op, |buf| {
            // SAFETY: servent is plain data; all-zero is a valid value.
            let mut ent: libc::servent = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::servent = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call.
            let rc = unsafe {
                reentrant::getservbyname_r(
                    c_name.as_ptr(),
                    c_proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                    &mut ent,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            // s_port is in network byte order, in the low 16 bits.
            (
                rc,
                (!result.is_null()).then(|| u16::from_be(ent.s_port as u16)),
            )
        })?;
        match port {
            Some(p) => Ok(p),
            None if rc != 0 && rc != libc::ENOENT => fail!(rc, "{op} {name}"),
            None => fail!(
                POLYSOCK_EAI_SERVICE,
                "{op} {name}/{}: no such service",
                proto.unwrap_or("any")
            ),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (c_name, c_proto);
        unsupported(op)
    }
}

/// The name of the service on `port` ("http" for 80).
pub fn getservbyport(port: u16, proto: Option<&str>) -> Result<CString> {
    let op = "getservbyport";
    let c_proto = proto_arg(op, proto)?;
    #[cfg(target_os = "linux")]
    {
        let (rc, name) = with_scratch(op, |buf| {
            // SAFETY: servent is plain data; all-zero is a valid value.
            let mut ent: libc::servent = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::servent = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call.
            let rc = unsafe {
                reentrant::getservbyport_r(
                    i32::from(port.to_be()),
                    c_proto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                    &mut ent,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            // SAFETY: s_name of a found entry is a string inside buf.
            let name =
                (!result.is_null()).then(|| unsafe { CStr::from_ptr(ent.s_name) }.to_owned());
            (rc, name)
        })?;
        match name {
            Some(n) => Ok(n),
            None if rc != 0 && rc != libc::ENOENT => fail!(rc, "{op} {port}"),
            None => fail!(
                POLYSOCK_EAI_SERVICE,
                "{op} {port}/{}: no such service",
                proto.unwrap_or("any")
            ),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = c_proto;
        unsupported(op)
    }
}

/// A protocol's number from the protocols database ("tcp" -> 6).
pub fn getprotobyname(name: &str) -> Result<i32> {
    let op = "getprotobyname";
    let c_name = c_arg(op, "name", Some(name))?.expect("Some in, Some out");
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let (rc, number) = with_scratch(op, |buf| {
            // SAFETY: protoent is plain data; all-zero is a valid value.
            let mut ent: libc::protoent = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::protoent = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call.
            let rc = unsafe {
                reentrant::getprotobyname_r(
                    c_name.as_ptr(),
                    &mut ent,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            (rc, (!result.is_null()).then_some(ent.p_proto))
        })?;
        match number {
            Some(n) => Ok(n),
            None if rc != 0 && rc != libc::ENOENT => fail!(rc, "{op} {name}"),
            None => fail!(POLYSOCK_EAI_NONAME, "{op} {name}: no such protocol"),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = c_name;
        unsupported(op)
    }
}

/// inet_pton: an address literal of `family` as its 4 or 16 bytes in
/// network order. (Written with the same parser as every polysock host.)
pub fn inet_pton(family: i32, text: &str) -> Result<Vec<u8>> {
    let op = "inet_pton";
    match family {
        libc::AF_INET => match text.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(ip.octets().to_vec()),
            Err(_) => fail!(libc::EINVAL, "{op} '{text}': not an IPv4 address"),
        },
        libc::AF_INET6 => match text.parse::<Ipv6Addr>() {
            Ok(ip) => Ok(ip.octets().to_vec()),
            Err(_) => fail!(libc::EINVAL, "{op} '{text}': not an IPv6 address"),
        },
        _ => fail!(
            libc::EAFNOSUPPORT,
            "{op}: family {family} is not AF_INET or AF_INET6"
        ),
    }
}

/// inet_ntop: 4 (AF_INET) or 16 (AF_INET6) bytes as an address literal,
/// the same text polysock_addr shows.
pub fn inet_ntop(family: i32, bytes: &[u8]) -> Result<CString> {
    let op = "inet_ntop";
    let ip = match family {
        libc::AF_INET => <[u8; 4]>::try_from(bytes).map(|b| IpAddr::V4(b.into())),
        libc::AF_INET6 => <[u8; 16]>::try_from(bytes).map(|b| IpAddr::V6(b.into())),
        _ => {
            return fail!(
                libc::EAFNOSUPPORT,
                "{op}: family {family} is not AF_INET or AF_INET6"
            );
        }
    };
    match ip {
        Ok(ip) => Ok(ip_text(ip)),
        Err(_) => fail!(
            libc::EINVAL,
            "{op}: {} bytes is not the length of an {} address ({})",
            bytes.len(),
            if family == libc::AF_INET {
                "IPv4"
            } else {
                "IPv6"
            },
            if family == libc::AF_INET { 4 } else { 16 }
        ),
    }
}

/// Whether this system can make IPv6 sockets now.
pub fn has_ipv6() -> bool {
    super::socket::Socket::new(libc::AF_INET6, libc::SOCK_STREAM, 0).is_ok()
}

/// Every network interface: (index, name).
pub fn if_nameindex() -> Result<Vec<(u32, CString)>> {
    // SAFETY: returns a malloc'd array (or NULL with errno), freed below.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(Error::last_os(format_args!("if_nameindex")));
    }
    let mut out = Vec::new();
    let mut p = list;
    // SAFETY: the array ends with an entry whose index is 0 and name NULL.
    unsafe {
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            out.push(((*p).if_index, CStr::from_ptr((*p).if_name).to_owned()));
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(out)
}

/// An interface's index ("lo" -> 1).
pub fn if_nametoindex(name: &str) -> Result<u32> {
    let op = "if_nametoindex";
    let c_name = c_arg(op, "name", Some(name))?.expect("Some in, Some out");
    // SAFETY: c_name is NUL-terminated.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return fail!(libc::ENODEV, "{op} {name}: no interface with this name");
    }
    Ok(index)
}

/// An interface's name (1 -> "lo").
pub fn if_indextoname(index: u32) -> Result<CString> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
    if p.is_null() {
        return fail!(
            libc::ENXIO,
            "if_indextoname {index}: no interface with this index"
        );
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name.
    Ok(unsafe { CStr::from_ptr(name.as_ptr()) }.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{POLYSOCK_EAI_BADFLAGS, POLYSOCK_ERR_BASE};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    fn services_file() -> bool {
        let present = std::path::Path::new("/etc/services").exists();
        if !present {
            println!("skipped: /etc/services is missing (Debian package netbase)");
        }
        present
    }

    fn stream(family: i32) -> Hints {
        Hints {
            family,
            socktype: libc::SOCK_STREAM,
            ..Hints::default()
        }
    }

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

    #[test]
    fn getaddrinfo_numeric_hosts() {
        let v4 = getaddrinfo("t", Some("127.0.0.1"), Some("8080"), stream(0)).unwrap();
        assert_eq!(v4.len(), 1);
        assert_eq!(v4[0].family, libc::AF_INET);
        assert_eq!(v4[0].socktype, libc::SOCK_STREAM);
        assert_eq!(v4[0].protocol, libc::IPPROTO_TCP);
        assert_eq!(
            Addr::from_sockaddr(&v4[0].addr).to_string(),
            "127.0.0.1:8080"
        );
        let v6 = getaddrinfo("t", Some("[::1]"), Some("9"), stream(0)).unwrap();
        assert_eq!(Addr::from_sockaddr(&v6[0].addr).to_string(), "[::1]:9");
        // No socktype: one result per type, as the C library gives them.
        let all = getaddrinfo("t", Some("127.0.0.1"), None, Hints::default()).unwrap();
        assert!(all.len() >= 2, "{}", all.len());
        assert!(all.iter().any(|a| a.socktype == libc::SOCK_DGRAM));
    }

    #[test]
    fn getaddrinfo_filters_and_flags() {
        // A v4 literal for AF_INET6 only with AI_V4MAPPED.
        let e = getaddrinfo("t", Some("127.0.0.1"), None, stream(libc::AF_INET6)).unwrap_err();
        assert!(e.code() >= POLYSOCK_ERR_BASE, "{e:?}");
        let mut h = stream(libc::AF_INET6);
        h.flags = libc::AI_V4MAPPED;
        let m = getaddrinfo("t", Some("127.0.0.1"), Some("1"), h).unwrap();
        assert_eq!(
            Addr::from_sockaddr(&m[0].addr).host_str(),
            "::ffff:127.0.0.1"
        );
        // Passive with no host: the any address.
        let mut h = stream(libc::AF_INET);
        h.flags = libc::AI_PASSIVE;
        let any = getaddrinfo("t", None, Some("5000"), h).unwrap();
        assert_eq!(
            Addr::from_sockaddr(&any[0].addr).to_string(),
            "0.0.0.0:5000"
        );
        // AI_NUMERICHOST refuses a name without looking it up.
        let mut h = stream(0);
        h.flags = libc::AI_NUMERICHOST;
        let e = getaddrinfo("t", Some("localhost"), None, h).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        // AI_CANONNAME on a name from /etc/hosts.
        let mut h = stream(libc::AF_INET);
        h.flags = libc::AI_CANONNAME;
        let c = getaddrinfo("t", Some("localhost"), None, h).unwrap();
        assert_eq!(c[0].canonname.as_deref(), Some(c"localhost"));
        // Unknown flag bits.
        let mut h = stream(0);
        h.flags = 0x4000_0000;
        let e = getaddrinfo("t", Some("127.0.0.1"), None, h).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_BADFLAGS);
    }

    #[test]
    fn getaddrinfo_errors_keep_resolver_codes() {
        for bad in ["bad..name", "not a host!"] {
            let e = getaddrinfo("getaddrinfo", Some(bad), None, stream(0)).unwrap_err();
            assert_eq!(e.code(), POLYSOCK_EAI_NONAME, "{bad}");
            assert_eq!(
                e.to_string(),
                format!("getaddrinfo {bad}: Name or service not known")
            );
        }
        let e = getaddrinfo("t", Some("127.0.0.1"), None, stream(12345)).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_FAMILY);
        let e = getaddrinfo("t", None, None, stream(0)).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        let e = getaddrinfo("t", Some("a\0b"), None, stream(0)).unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
    }

    #[test]
    fn numeric_services_out_of_range_are_refused() {
        for bad in ["70000", "65536", "-1"] {
            let e =
                getaddrinfo("getaddrinfo", Some("127.0.0.1"), Some(bad), stream(0)).unwrap_err();
            assert_eq!(e.code(), libc::EINVAL, "{bad}: {e}");
            assert!(e.context().contains("out of range"), "{e}");
        }
        let ok = getaddrinfo("getaddrinfo", Some("127.0.0.1"), Some("65535"), stream(0)).unwrap();
        assert_eq!(ok[0].addr.as_socket().unwrap().port(), 65535);
    }

    #[test]
    fn getaddrinfo_service_names() {
        if !services_file() {
            return;
        }
        let r = getaddrinfo("t", Some("127.0.0.1"), Some("http"), stream(0)).unwrap();
        assert_eq!(r[0].addr.as_socket().unwrap().port(), 80);
        let e =
            getaddrinfo("t", Some("127.0.0.1"), Some("no-such-service"), stream(0)).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_SERVICE, "{e:?}");
        assert!(e.context().contains("service no-such-service"), "{e}");
    }

    #[test]
    fn literals_skip_the_helper_thread() {
        assert!(is_ip_literal("127.0.0.1"));
        assert!(is_ip_literal("[::1]"));
        assert!(is_ip_literal("fe80::1%lo"));
        assert!(!is_ip_literal("localhost"));
        assert!(!is_ip_literal("1.2.3"));
        let r = getaddrinfo_timeout("t", Some("::1"), Some("1"), stream(0), 1000).unwrap();
        assert_eq!(r[0].family, libc::AF_INET6);
        let r =
            getaddrinfo_timeout("t", Some("localhost"), None, stream(libc::AF_INET), 5000).unwrap();
        assert!(r[0].addr.as_socket_ipv4().unwrap().ip().is_loopback());
        let e = getaddrinfo_timeout("t", Some("bad..name"), None, stream(0), 5000).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        for bad in [0, -2] {
            let e = getaddrinfo_timeout("t", Some("::1"), None, stream(0), bad).unwrap_err();
            assert_eq!(e.code(), libc::EINVAL);
        }
    }

    /// The deadline path with a stand-in for a resolver that hangs: the
    /// caller gets ETIMEDOUT on time, the helper finishes later on its own.
    #[test]
    fn deadline_gives_up_and_the_helper_finishes_alone() {
        /// Stands for a resolver's result; records that it was freed.
        struct Found(Arc<AtomicBool>);
        impl Drop for Found {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let freed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&freed);
        let (release, hold) = mpsc::channel::<()>();
        let start = Instant::now();
        let r = with_deadline(
            100,
            || {
                Error::new(
                    libc::ETIMEDOUT,
                    format_args!("resolve slow.test: timed out"),
                )
            },
            // A resolver that hangs until released (at most 10 s).
            move || {
                let _ = hold.recv_timeout(Duration::from_secs(10));
                Ok(Found(flag))
            },
        );
        let e = r.err().expect("the deadline passed first");
        assert_eq!(e.code(), libc::ETIMEDOUT);
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(!freed.load(Ordering::SeqCst));
        // The helper finishes on its own, and what it found is freed.
        release.send(()).unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while !freed.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(freed.load(Ordering::SeqCst));
        // A quick one returns its own result.
        let ok = with_deadline(5000, || unreachable!(), || Ok(7)).unwrap();
        assert_eq!(ok, 7);
    }

    #[test]
    fn getnameinfo_numeric_and_from_hosts_file() {
        let sa: SockAddr = "127.0.0.1:80"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into();
        let a = Addr::from_sockaddr(&sa);
        let (h, s) = getnameinfo(&a, libc::NI_NUMERICHOST | libc::NI_NUMERICSERV).unwrap();
        assert_eq!(
            (h.to_str().unwrap(), s.to_str().unwrap()),
            ("127.0.0.1", "80")
        );
        // 127.0.0.1 -> "localhost" comes from /etc/hosts (files first).
        let (h, _) = getnameinfo(&a, libc::NI_NUMERICSERV).unwrap();
        assert_eq!(h.to_str().unwrap(), "localhost");
        if services_file() {
            let (_, s) = getnameinfo(&a, libc::NI_NUMERICHOST).unwrap();
            assert_eq!(s.to_str().unwrap(), "http");
        }
        let mut named = a;
        for (d, s) in named.host.iter_mut().zip(c"localhost".to_bytes_with_nul()) {
            *d = *s as libc::c_char;
        }
        let e = getnameinfo(&named, 0).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        let mut unix = a;
        unix.family = libc::AF_UNIX;
        assert_eq!(
            getnameinfo(&unix, 0).unwrap_err().code(),
            POLYSOCK_EAI_FAMILY
        );
    }

    #[test]
    fn host_entries_from_hosts_file() {
        assert_eq!(
            gethostbyname("localhost").unwrap().to_str().unwrap(),
            "127.0.0.1"
        );
        assert_eq!(
            gethostbyname("127.0.0.1").unwrap().to_str().unwrap(),
            "127.0.0.1"
        );
        let e = gethostbyname_ex("localhost").unwrap();
        assert_eq!(e.name.to_str().unwrap(), "localhost");
        assert_eq!(e.addresses, vec![c"127.0.0.1".to_owned()]);
        let r = gethostbyaddr("127.0.0.1").unwrap();
        assert_eq!(r.name.to_str().unwrap(), "localhost");
        assert_eq!(r.addresses, vec![c"127.0.0.1".to_owned()]);
        assert_eq!(
            getfqdn(Some("localhost")).unwrap().to_str().unwrap(),
            "localhost"
        );
        assert_eq!(
            getfqdn(Some("bad..name")).unwrap().to_str().unwrap(),
            "bad..name"
        );
        assert!(!gethostname().unwrap().as_bytes().is_empty());
        for bad in ["bad..name", "not a host!"] {
            assert_eq!(gethostbyname(bad).unwrap_err().code(), POLYSOCK_EAI_NONAME);
            assert_eq!(
                gethostbyname_ex(bad).unwrap_err().code(),
                POLYSOCK_EAI_NONAME
            );
            assert_eq!(gethostbyaddr(bad).unwrap_err().code(), POLYSOCK_EAI_NONAME);
        }
        assert_eq!(from_h_errno(2), POLYSOCK_EAI_AGAIN);
        assert_eq!(from_h_errno(4), POLYSOCK_EAI_NODATA);
    }

    #[test]
    fn services_and_protocols() {
        assert_eq!(getprotobyname("tcp").unwrap(), libc::IPPROTO_TCP);
        assert_eq!(getprotobyname("udp").unwrap(), libc::IPPROTO_UDP);
        let e = getprotobyname("no-such-proto").unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_NONAME);
        assert_eq!(
            e.to_string(),
            "getprotobyname no-such-proto: no such protocol: Name or service not known"
        );
        if !services_file() {
            return;
        }
        assert_eq!(getservbyname("http", Some("tcp")).unwrap(), 80);
        assert_eq!(getservbyname("domain", None).unwrap(), 53);
        assert_eq!(
            getservbyport(80, Some("tcp")).unwrap().to_str().unwrap(),
            "http"
        );
        assert_eq!(getservbyport(22, None).unwrap().to_str().unwrap(), "ssh");
        let e = getservbyname("no-such-service", Some("tcp")).unwrap_err();
        assert_eq!(e.code(), POLYSOCK_EAI_SERVICE);
        assert!(e.context().contains("no-such-service/tcp"), "{e}");
        assert_eq!(
            getservbyport(65000, Some("tcp")).unwrap_err().code(),
            POLYSOCK_EAI_SERVICE
        );
    }

    #[test]
    fn text_and_bytes() {
        assert_eq!(inet_pton(libc::AF_INET, "10.1.2.3").unwrap(), [10, 1, 2, 3]);
        let v6 = inet_pton(libc::AF_INET6, "::ffff:1.2.3.4").unwrap();
        assert_eq!(v6.len(), 16);
        assert_eq!(
            inet_ntop(libc::AF_INET6, &v6).unwrap().to_str().unwrap(),
            "::ffff:1.2.3.4"
        );
        assert_eq!(
            inet_ntop(libc::AF_INET, &[127, 0, 0, 1])
                .unwrap()
                .to_str()
                .unwrap(),
            "127.0.0.1"
        );
        assert_eq!(
            inet_pton(libc::AF_INET, "1.2.3").unwrap_err().code(),
            libc::EINVAL
        );
        assert_eq!(
            inet_pton(libc::AF_INET, "::1").unwrap_err().code(),
            libc::EINVAL
        );
        assert_eq!(
            inet_pton(libc::AF_UNIX, "x").unwrap_err().code(),
            libc::EAFNOSUPPORT
        );
        let e = inet_ntop(libc::AF_INET, &[1, 2, 3]).unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
        assert!(e.context().contains("3 bytes"), "{e}");
    }

    #[test]
    fn interfaces() {
        let all = if_nameindex().unwrap();
        let lo = all
            .iter()
            .find(|(_, n)| n.as_bytes() == b"lo")
            .expect("lo is listed");
        assert_eq!(if_nametoindex("lo").unwrap(), lo.0);
        assert_eq!(if_indextoname(lo.0).unwrap(), lo.1);
        assert_eq!(
            if_nametoindex("nosuchif0").unwrap_err().code(),
            libc::ENODEV
        );
        assert_eq!(if_indextoname(0).unwrap_err().code(), libc::ENXIO);
        // Whatever the machine offers, the answer matches a real attempt.
        let can = crate::core::socket::Socket::new(libc::AF_INET6, libc::SOCK_STREAM, 0).is_ok();
        assert_eq!(has_ipv6(), can);
    }
}
