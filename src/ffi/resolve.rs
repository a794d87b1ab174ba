//! The resolver: getaddrinfo into a caller's array, getnameinfo, the host,
//! service and protocol databases, address text <-> bytes, interfaces.
//!
//! Text results are written NUL-terminated into caller buffers (a buffer
//! followed by its size_t length). A buffer that is too small fails the
//! whole call with ERANGE and a message naming the size needed; nothing is
//! written then. Lists of names (gethostbyname_ex, gethostbyaddr) are
//! NUL-separated and end with an empty string: "a\0b\0\0" ("\0" when
//! empty). Resolver failures are POLYSOCK_EAI_* codes.

use super::{boundary, check_len, opt_str, req_str, ret, set_opt_out, status};
use crate::core::addr::{Addr, check_port};
use crate::core::error::{Result, fail};
use crate::core::resolve::{self, Hints, HostEntry};
use std::ffi::{CStr, c_char, c_void};
use std::mem::MaybeUninit;

/// Room for a canonical name in `polysock_addrinfo`, NUL included. DNS
/// names are at most 253 bytes; a longer name (only possible from a hosts
/// file) is cut.
pub const POLYSOCK_CANONNAME_LEN: usize = 256;

/// Room for an interface name in `polysock_interface`, NUL included
/// (IF_NAMESIZE).
pub const POLYSOCK_IFNAME_LEN: usize = 16;

/// One getaddrinfo result, as plain data.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct polysock_addrinfo {
    /// AF_INET or AF_INET6.
    pub family: i32,
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_RAW.
    pub socktype: i32,
    /// IPPROTO_TCP, IPPROTO_UDP, ... (0 for raw).
    pub protocol: i32,
    /// The address: literal host text, port, flowinfo, scope id.
    pub addr: Addr,
    /// The canonical name when AI_CANONNAME was asked for, on the first
    /// result only (as the C library gives it); "" otherwise.
    pub canonname: [c_char; POLYSOCK_CANONNAME_LEN],
}

/// A network interface (if_nameindex).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct polysock_interface {
    /// The interface index (> 0).
    pub index: u32,
    /// Its NUL-terminated name ("lo", "eth0").
    pub name: [c_char; POLYSOCK_IFNAME_LEN],
}

/// Copies `src` into a fixed char array, cut to leave room for the NUL.
fn fill_chars(dst: &mut [c_char], src: &[u8]) {
    let n = src.len().min(dst.len() - 1);
    for (d, &s) in dst.iter_mut().zip(&src[..n]) {
        *d = s as c_char;
    }
    dst[n] = 0;
}

/// A required input pointer.
fn input<'a, T>(op: &str, what: &str, p: *const T) -> Result<&'a T> {
    // SAFETY: a non-NULL input pointer points to a valid T (documented).
    match unsafe { p.as_ref() } {
        Some(r) => Ok(r),
        None => fail!(libc::EINVAL, "{op}: {what} is NULL"),
    }
}

/// A caller's array of `capacity` T; NULL only with capacity 0.
fn array_out<'a, T>(op: &str, p: *mut T, capacity: usize) -> Result<&'a mut [MaybeUninit<T>]> {
    let bytes = capacity.checked_mul(std::mem::size_of::<T>());
    check_len(op, bytes.unwrap_or(usize::MAX))?;
    if capacity == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return fail!(libc::EINVAL, "{op}: out is NULL but capacity is {capacity}");
    }
    // SAFETY: the caller passes an array of `capacity` elements (documented).
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), capacity) })
}

/// A caller's text buffer: None when `p` is NULL and the output is
/// optional; EINVAL when it is NULL and required.
pub(crate) fn text_buf<'a>(
    op: &str,
    what: &str,
    p: *mut c_char,
    len: usize,
    required: bool,
) -> Result<Option<&'a mut [MaybeUninit<u8>]>> {
    check_len(op, len)?;
    if p.is_null() {
        return if required {
            fail!(libc::EINVAL, "{op}: {what} is NULL")
        } else {
            Ok(None)
        };
    }
    // SAFETY: the caller guarantees p is writable for len bytes.
    Ok(Some(unsafe {
        std::slice::from_raw_parts_mut(p.cast(), len)
    }))
}

/// ERANGE unless `needed` bytes fit a buffer of `len`.
pub(crate) fn check_room(op: &str, what: &str, len: usize, needed: usize) -> Result<()> {
    if needed > len {
        return fail!(
            libc::ERANGE,
            "{op}: {what} buffer of {len} bytes is too small ({needed} bytes needed)"
        );
    }
    Ok(())
}

/// Writes `bytes` (which must fit, see check_room).
pub(crate) fn put(dst: &mut [MaybeUninit<u8>], bytes: &[u8]) {
    for (d, &s) in dst.iter_mut().zip(bytes) {
        d.write(s);
    }
}

/// A NUL-terminated string as the bytes to write, NUL included.
fn with_nul(s: &CStr) -> &[u8] {
    s.to_bytes_with_nul()
}

/// One output: checks its room, then (after every check of the call
/// passed) writes it.
struct Output<'a> {
    buf: Option<&'a mut [MaybeUninit<u8>]>,
    bytes: Vec<u8>,
}

impl<'a> Output<'a> {
    fn new(
        op: &str,
        what: &str,
        buf: Option<&'a mut [MaybeUninit<u8>]>,
        bytes: Vec<u8>,
    ) -> Result<Self> {
        if let Some(b) = &buf {
            check_room(op, what, b.len(), bytes.len())?;
        }
        Ok(Output { buf, bytes })
    }
    fn write(self) {
        if let Some(b) = self.buf {
            put(b, &self.bytes);
        }
    }
}

/// Writes one required text result into (p, len).
pub(crate) fn text_result(
    op: &str,
    what: &str,
    p: *mut c_char,
    len: usize,
    text: &CStr,
) -> Result<()> {
    let buf = text_buf(op, what, p, len, true)?;
    Output::new(op, what, buf, with_nul(text).to_vec())?.write();
    Ok(())
}

/// "a\0b\0\0": NUL-separated, ending with an empty string.
pub(crate) fn name_list(items: &[std::ffi::CString]) -> Vec<u8> {
    let mut v = Vec::new();
    for s in items {
        v.extend_from_slice(s.as_bytes_with_nul());
    }
    v.push(0);
    v
}

fn getaddrinfo_into(
    op: &str,
    args: (*const c_char, *const c_char, Hints, i64),
    out_list: *mut polysock_addrinfo,
    capacity: usize,
    out_count: *mut usize,
) -> Result<i64> {
    let (host, service, hints, timeout_ms) = args;
    let host = opt_str(op, "host", host)?;
    let service = opt_str(op, "service", service)?;
    let dst = array_out(op, out_list, capacity)?;
    let found = resolve::getaddrinfo_timeout(op, host, service, hints, timeout_ms)?;
    let n = found.len().min(dst.len());
    for (slot, ai) in dst.iter_mut().zip(&found) {
        let mut entry = polysock_addrinfo {
            family: ai.family,
            socktype: ai.socktype,
            protocol: ai.protocol,
            addr: Addr::from_sockaddr(&ai.addr),
            canonname: [0; POLYSOCK_CANONNAME_LEN],
        };
        if let Some(c) = &ai.canonname {
            fill_chars(&mut entry.canonname, c.as_bytes());
        }
        slot.write(entry);
    }
    set_opt_out(out_count, n);
    Ok(found.len() as i64)
}

/// getaddrinfo: every address for `host` and `service`, in the resolver's
/// preferred order (RFC 6724). `host`: a name, an IPv4 or IPv6 literal
/// (brackets allowed), or NULL (with AI_PASSIVE the any address, else
/// loopback). `service`: a port number or a name from the services
/// database ("http"), or NULL (port 0); not both NULL. `family`: AF_INET,
/// AF_INET6 or AF_UNSPEC (0); `socktype`: SOCK_STREAM, SOCK_DGRAM,
/// SOCK_RAW or 0 (one result per type); `protocol`: 0 or IPPROTO_*;
/// `flags`: AI_* (AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV,
/// AI_V4MAPPED, AI_ALL, AI_ADDRCONFIG). Blocks as long as the system
/// resolver does: see polysock_getaddrinfo_timeout for a bound.
///
/// The first min(total, `capacity`) results are written to `out` (which
/// may be NULL when `capacity` is 0, to count them), and that number to
/// `*out_count` (NULL: not wanted).
///
/// Returns the total number of results (>= 1; more than `capacity` means
/// the array was too small: call again with a bigger one), or -1:
/// POLYSOCK_EAI_NONAME (unknown name or service, or both NULL),
/// POLYSOCK_EAI_AGAIN (temporary failure: try later), POLYSOCK_EAI_FAIL,
/// POLYSOCK_EAI_NODATA, POLYSOCK_EAI_FAMILY, POLYSOCK_EAI_SOCKTYPE,
/// POLYSOCK_EAI_SERVICE (service unknown for the socket type),
/// POLYSOCK_EAI_BADFLAGS, POLYSOCK_EAI_MEMORY, an errno value where the
/// resolver failed with a system error (EAI_SYSTEM), EINVAL (`out` NULL
/// with `capacity` > 0, a string with invalid UTF-8).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getaddrinfo(
    host: *const c_char,
    service: *const c_char,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
    out_list: *mut polysock_addrinfo,
    capacity: usize,
    out_count: *mut usize,
) -> i64 {
    boundary! {
        let hints = Hints { family, socktype, protocol, flags };
        ret(getaddrinfo_into("getaddrinfo", (host, service, hints, -1), out_list, capacity, out_count))
    }
}

/// polysock_getaddrinfo with a time limit: after `timeout_ms` (> 0, or -1
/// for none) it gives up with ETIMEDOUT. The system resolver cannot be
/// interrupted, so a name is resolved on a helper thread that finishes in
/// the background after a timeout and frees what it found; an IP literal
/// or a NULL host resolves at once, with no thread.
///
/// Returns as polysock_getaddrinfo, or -1 with its errors and ETIMEDOUT,
/// EINVAL (`timeout_ms` 0 or below -1), EAGAIN (no thread could be
/// started).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getaddrinfo_timeout(
    host: *const c_char,
    service: *const c_char,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
    timeout_ms: i64,
    out_list: *mut polysock_addrinfo,
    capacity: usize,
    out_count: *mut usize,
) -> i64 {
    boundary! {
        let hints = Hints { family, socktype, protocol, flags };
        ret(getaddrinfo_into("getaddrinfo", (host, service, hints, timeout_ms), out_list, capacity, out_count))
    }
}

/// getnameinfo: the host and service names for the address `addr` (an
/// AF_INET/AF_INET6 polysock_addr whose host is a numeric literal, as
/// polysock_accept and polysock_getpeername give). `flags`: NI_* (NI_NUMERICHOST,
/// NI_NUMERICSERV, NI_NAMEREQD, NI_DGRAM, NI_NOFQDN). The host goes to
/// `host` (`host_len` bytes; NI_MAXHOST = 1025 always suffices), the
/// service to `serv` (`serv_len` bytes; 32 suffice); either may be NULL
/// when not wanted, not both.
///
/// Returns 0, or -1: EINVAL (`addr` NULL, its host not NUL-terminated,
/// `host` and `serv` both NULL), ERANGE (a buffer is too small; the message
/// says how many bytes are needed), POLYSOCK_EAI_FAMILY (not AF_INET or
/// AF_INET6), POLYSOCK_EAI_NONAME (the host is not numeric; NI_NAMEREQD and
/// no name), POLYSOCK_EAI_AGAIN, POLYSOCK_EAI_FAIL, POLYSOCK_EAI_BADFLAGS.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getnameinfo(
    addr: *const Addr,
    flags: i32,
    host: *mut c_char,
    host_len: usize,
    serv: *mut c_char,
    serv_len: usize,
) -> i32 {
    boundary! {
        status((|| {
            let op = "getnameinfo";
            let a = input(op, "addr", addr)?;
            if !a.host.contains(&0) {
                return fail!(libc::EINVAL, "{op}: addr's host is not NUL-terminated");
            }
            if host.is_null() && serv.is_null() {
                return fail!(libc::EINVAL, "{op}: host and serv are both NULL");
            }
            let hb = text_buf(op, "host", host, host_len, false)?;
            let sb = text_buf(op, "serv", serv, serv_len, false)?;
            let (h, s) = resolve::getnameinfo(a, flags)?;
            let h = Output::new(op, "host", hb, with_nul(&h).to_vec())?;
            let s = Output::new(op, "serv", sb, with_nul(&s).to_vec())?;
            h.write();
            s.write();
            Ok(())
        })())
    }
}

/// gethostbyname, as CPython's: the first IPv4 address of `name` (or the
/// IPv4 literal itself) as text into `out` (`len` bytes; 16 suffice).
///
/// Returns 0, or -1: EINVAL (`name` or `out` NULL), ERANGE (`out` too
/// small), POLYSOCK_EAI_NONAME, POLYSOCK_EAI_NODATA (no IPv4 address),
/// POLYSOCK_EAI_AGAIN, POLYSOCK_EAI_FAIL, or an errno value.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_gethostbyname(name: *const c_char, out: *mut c_char, len: usize) -> i32 {
    boundary! {
        status((|| {
            let op = "gethostbyname";
            let name = req_str(op, "name", name)?;
            let buf = text_buf(op, "out", out, len, true)?;
            let ip = resolve::gethostbyname(name)?;
            Output::new(op, "out", buf, with_nul(&ip).to_vec())?.write();
            Ok(())
        })())
    }
}

/// Checks the three output buffers, then looks the entry up, then writes
/// it: a bad buffer fails before any lookup, and nothing is written unless
/// all three fit.
fn host_entry_into(
    op: &str,
    bufs: [(*mut c_char, usize); 3],
    lookup: impl FnOnce() -> Result<HostEntry>,
) -> Result<()> {
    let [(hp, hl), (ap, al), (dp, dl)] = bufs;
    let hb = text_buf(op, "hostname", hp, hl, false)?;
    let ab = text_buf(op, "aliases", ap, al, false)?;
    let db = text_buf(op, "addresses", dp, dl, false)?;
    let entry = lookup()?;
    let h = Output::new(op, "hostname", hb, with_nul(&entry.name).to_vec())?;
    let a = Output::new(op, "aliases", ab, name_list(&entry.aliases))?;
    let d = Output::new(op, "addresses", db, name_list(&entry.addresses))?;
    h.write();
    a.write();
    d.write();
    Ok(())
}

/// gethostbyname_ex, as CPython's (gethostbyname_r underneath): the
/// primary name of `name` into `hostname`, its aliases into `aliases` and
/// its IPv4 addresses (text) into `addresses`. The two lists are
/// NUL-separated and end with an empty string ("a\0b\0\0"; "\0" when
/// empty). Each output (buffer, length) may be NULL when not wanted.
///
/// Returns 0, or -1: EINVAL (`name` NULL), ERANGE (a buffer is too small;
/// nothing is written), POLYSOCK_EAI_NONAME (HOST_NOT_FOUND),
/// POLYSOCK_EAI_NODATA (NO_DATA), POLYSOCK_EAI_AGAIN (TRY_AGAIN),
/// POLYSOCK_EAI_FAIL (NO_RECOVERY), ENOSYS (a platform without
/// gethostbyname_r).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_gethostbyname_ex(
    name: *const c_char,
    hostname: *mut c_char,
    hostname_len: usize,
    aliases: *mut c_char,
    aliases_len: usize,
    addresses: *mut c_char,
    addresses_len: usize,
) -> i32 {
    boundary! {
        status((|| {
            let op = "gethostbyname_ex";
            let name = req_str(op, "name", name)?;
            let bufs = [(hostname, hostname_len), (aliases, aliases_len), (addresses, addresses_len)];
            host_entry_into(op, bufs, || resolve::gethostbyname_ex(name))
        })())
    }
}

/// gethostbyaddr, as CPython's (gethostbyaddr_r underneath): the reverse
/// entry of `host` (an address literal, or a name that is resolved first):
/// outputs as polysock_gethostbyname_ex (addresses may be IPv6).
///
/// Returns 0, or -1: as polysock_gethostbyname_ex.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_gethostbyaddr(
    host: *const c_char,
    hostname: *mut c_char,
    hostname_len: usize,
    aliases: *mut c_char,
    aliases_len: usize,
    addresses: *mut c_char,
    addresses_len: usize,
) -> i32 {
    boundary! {
        status((|| {
            let op = "gethostbyaddr";
            let host = req_str(op, "host", host)?;
            let bufs = [(hostname, hostname_len), (aliases, aliases_len), (addresses, addresses_len)];
            host_entry_into(op, bufs, || resolve::gethostbyaddr(host))
        })())
    }
}

/// This machine's host name into `out` (`len` bytes; 256 suffice).
///
/// Returns 0, or -1: EINVAL (`out` NULL), ERANGE (`out` too small).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_gethostname(out: *mut c_char, len: usize) -> i32 {
    boundary! {
        status(resolve::gethostname().and_then(|n| text_result("gethostname", "out", out, len, &n)))
    }
}

/// getfqdn, as CPython's: a fully qualified name for `name` (NULL, "",
/// "0.0.0.0" or "::": this machine) into `out`: the first name containing
/// a dot among the reverse entry's name and aliases, else that entry's
/// name; `name` itself when it cannot be looked up (which is not an
/// error).
///
/// Returns 0, or -1: EINVAL (`out` NULL), ERANGE (`out` too small).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getfqdn(name: *const c_char, out: *mut c_char, len: usize) -> i32 {
    boundary! {
        status((|| {
            let op = "getfqdn";
            let name = opt_str(op, "name", name)?;
            text_buf(op, "out", out, len, true)?;
            text_result(op, "out", out, len, &resolve::getfqdn(name)?)
        })())
    }
}

/// The port of service `name` ("http" -> 80) from the services database
/// (getservbyname_r), for protocol `proto` ("tcp", "udp"; NULL: any).
///
/// Returns the port, or -1: EINVAL (`name` NULL), POLYSOCK_EAI_SERVICE (no
/// such service), ENOSYS (a platform without getservbyname_r).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getservbyname(name: *const c_char, proto: *const c_char) -> i32 {
    boundary! {
        ret((|| {
            let op = "getservbyname";
            let name = req_str(op, "name", name)?;
            let proto = opt_str(op, "proto", proto)?;
            resolve::getservbyname(name, proto).map(i32::from)
        })())
    }
}

/// The name of the service on `port` (80 -> "http") for protocol `proto`
/// (NULL: any), into `out` (`len` bytes).
///
/// Returns 0, or -1: EINVAL (`out` NULL, `port` outside 0..65535), ERANGE
/// (`out` too small), POLYSOCK_EAI_SERVICE (no such service), ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getservbyport(
    port: i32,
    proto: *const c_char,
    out: *mut c_char,
    len: usize,
) -> i32 {
    boundary! {
        status((|| {
            let op = "getservbyport";
            let port = check_port(op, port)?;
            let proto = opt_str(op, "proto", proto)?;
            text_buf(op, "out", out, len, true)?;
            text_result(op, "out", out, len, &resolve::getservbyport(port, proto)?)
        })())
    }
}

/// The number of protocol `name` ("tcp" -> 6) from the protocols database
/// (getprotobyname_r).
///
/// Returns the number, or -1: EINVAL (`name` NULL), POLYSOCK_EAI_NONAME (no
/// such protocol), ENOSYS (a platform without getprotobyname_r).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_getprotobyname(name: *const c_char) -> i32 {
    boundary! {
        ret(req_str("getprotobyname", "name", name).and_then(resolve::getprotobyname))
    }
}

/// inet_pton: the address literal `text` of `family` (AF_INET: dotted
/// quad; AF_INET6: RFC 4291 text, no scope) as bytes in network order into
/// `out` (`len` bytes: at least 4 or 16).
///
/// Returns the number of bytes written (4 or 16), or -1: EINVAL (NULL
/// `text`/`out`, not an address of that family), EAFNOSUPPORT (`family`),
/// ERANGE (`len` too small).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_inet_pton(
    family: i32,
    text: *const c_char,
    out: *mut c_void,
    len: usize,
) -> i32 {
    boundary! {
        ret((|| {
            let op = "inet_pton";
            let text = req_str(op, "text", text)?;
            let buf = text_buf(op, "out", out.cast(), len, true)?;
            let bytes = resolve::inet_pton(family, text)?;
            let n = bytes.len() as i32;
            Output::new(op, "out", buf, bytes)?.write();
            Ok(n)
        })())
    }
}

/// inet_ntop: `len` bytes at `bytes` (4 for AF_INET, 16 for AF_INET6) as
/// address text into `out` (`out_len` bytes; 46 suffice), the same text
/// polysock_addr uses.
///
/// Returns 0, or -1: EINVAL (NULL pointers, `len` not 4 or 16 as the family
/// needs), EAFNOSUPPORT, ERANGE (`out` too small).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_inet_ntop(
    family: i32,
    bytes: *const c_void,
    len: usize,
    out: *mut c_char,
    out_len: usize,
) -> i32 {
    boundary! {
        status((|| {
            let op = "inet_ntop";
            if bytes.is_null() {
                return fail!(libc::EINVAL, "{op}: bytes is NULL");
            }
            let input = super::buf_in(op, bytes.cast(), len)?;
            text_buf(op, "out", out, out_len, true)?;
            text_result(op, "out", out, out_len, &resolve::inet_ntop(family, input)?)
        })())
    }
}

/// Returns 1 if this system can create IPv6 sockets now, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_has_ipv6() -> i32 {
    boundary! { i32::from(resolve::has_ipv6()) }
}

/// Lists the network interfaces: the first min(total, `capacity`) go to
/// `out` (NULL when `capacity` is 0, to count them), that number to
/// `*out_count` (NULL: not wanted).
///
/// Returns the total number of interfaces, or -1: EINVAL (`out` NULL with
/// `capacity` > 0), ENOBUFS, or another errno value.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_if_nameindex(
    out_list: *mut polysock_interface,
    capacity: usize,
    out_count: *mut usize,
) -> i64 {
    boundary! {
        ret((|| {
            let dst = array_out("if_nameindex", out_list, capacity)?;
            let all = resolve::if_nameindex()?;
            let n = all.len().min(dst.len());
            for (slot, (index, name)) in dst.iter_mut().zip(&all) {
                let mut entry = polysock_interface { index: *index, name: [0; POLYSOCK_IFNAME_LEN] };
                fill_chars(&mut entry.name, name.as_bytes());
                slot.write(entry);
            }
            set_opt_out(out_count, n);
            Ok(all.len() as i64)
        })())
    }
}

/// The index of interface `name` ("lo" -> 1).
///
/// Returns the index (> 0), or -1: EINVAL (`name` NULL), ENODEV (no such
/// interface).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_if_nametoindex(name: *const c_char) -> i64 {
    boundary! {
        ret(req_str("if_nametoindex", "name", name).and_then(resolve::if_nametoindex).map(i64::from))
    }
}

/// The name of interface `index` into `out` (`len` bytes;
/// POLYSOCK_IFNAME_LEN suffice).
///
/// Returns 0, or -1: EINVAL (`out` NULL), ENXIO (no such interface), ERANGE
/// (`out` too small).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_if_indextoname(index: u32, out: *mut c_char, len: usize) -> i32 {
    boundary! {
        status((|| {
            let op = "if_indextoname";
            text_buf(op, "out", out, len, true)?;
            text_result(op, "out", out, len, &resolve::if_indextoname(index)?)
        })())
    }
}
