//! Addresses as text: the one place where a host string and a port become
//! a `sockaddr`, and where a `sockaddr` becomes text again.
//!
//! Host text accepted for AF_INET/AF_INET6: NULL or "" for the any address,
//! an IPv4 literal, an IPv6 literal (optionally in brackets, optionally with
//! `%scope` as an interface name or number), or a name for the resolver.
//! For AF_UNIX the host is a path; on Linux a leading '@' names an abstract
//! socket ("@name"), and "" binds to an autobound abstract name.

use super::error::{Error, Result, fail, format_into};
use socket2::{SockAddr, SockAddrStorage};
use std::cell::Cell;
use std::ffi::CStr;
use std::fmt;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// Room for the host text in `polysock_addr`, NUL included: an AF_UNIX path
/// (108 bytes on Linux) or an IPv6 literal with an interface name.
pub const POLYSOCK_ADDR_HOST_LEN: usize = 128;

/// A host argument: text, or text already read as an IPv4 literal (by
/// ipv4_of_c, whose parse also proved it ASCII).
#[derive(Clone, Copy)]
pub enum Host<'a> {
    Text(&'a str),
    Ipv4(Ipv4Addr, &'a str),
}

impl<'a> Host<'a> {
    pub fn text(self) -> &'a str {
        match self {
            Host::Text(t) | Host::Ipv4(_, t) => t,
        }
    }

    /// Its IPv4 address, if it is an IPv4 literal.
    #[inline]
    fn ipv4(self) -> Option<Ipv4Addr> {
        match self {
            Host::Ipv4(ip, _) => Some(ip),
            Host::Text(t) => parse_ipv4(t.as_bytes()),
        }
    }
}

/// An address as plain data, declarable from any FFI without sockaddr.
/// In C: `polysock_addr`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Addr {
    /// AF_INET, AF_INET6, AF_UNIX, or 0 (AF_UNSPEC) when there is none.
    pub family: i32,
    /// The port, 0..65535 (0 for AF_UNIX).
    pub port: i32,
    /// IPv6 flow information (0 otherwise).
    pub flowinfo: u32,
    /// IPv6 scope id, the interface index (0 otherwise).
    pub scope_id: u32,
    /// NUL-terminated text: "127.0.0.1", "fe80::1%eth0", "/tmp/sock",
    /// "@abstract", or "" for an unnamed Unix socket. The bytes after the
    /// NUL are unspecified (a receive writes the text and its NUL, not
    /// the whole array).
    pub host: [libc::c_char; POLYSOCK_ADDR_HOST_LEN],
}

impl Addr {
    pub const fn empty() -> Addr {
        Addr {
            family: 0,
            port: 0,
            flowinfo: 0,
            scope_id: 0,
            host: [0; POLYSOCK_ADDR_HOST_LEN],
        }
    }

    pub fn host_str(&self) -> &str {
        // SAFETY: host is always NUL-terminated (set_host keeps the last
        // byte 0), and is a valid slice of c_char.
        let bytes = unsafe { CStr::from_ptr(self.host.as_ptr()) }.to_bytes();
        std::str::from_utf8(bytes).unwrap_or("?")
    }

    fn set_host(&mut self, text: &[u8]) {
        let n = text.len().min(POLYSOCK_ADDR_HOST_LEN - 1);
        for (dst, &src) in self.host.iter_mut().zip(&text[..n]) {
            *dst = src as libc::c_char;
        }
        self.host[n] = 0;
    }

    /// An IPv4 address as text.
    #[inline]
    fn ipv4(ip: [u8; 4], port: u16) -> Addr {
        let mut a = Addr::empty();
        a.set_ipv4(ip, port);
        a
    }

    /// Becomes an IPv4 address, in place. Only the text and its NUL are
    /// written (within the host's first 16 bytes): a receive into the
    /// caller's struct does not clear the other 112.
    #[inline]
    fn set_ipv4(&mut self, ip: [u8; 4], port: u16) {
        self.family = libc::AF_INET;
        self.port = i32::from(port);
        self.flowinfo = 0;
        self.scope_id = 0;
        let text = format_ipv4(ip);
        if let Some(head) = self.host.first_chunk_mut::<16>() {
            *head = text.map(|b| b as libc::c_char);
        }
    }

    /// The text form of the first `len` bytes of `raw`, an address the
    /// kernel stored (only those bytes need be initialised).
    pub fn from_raw(raw: &MaybeUninit<libc::sockaddr_storage>, len: libc::socklen_t) -> Addr {
        let mut a = Addr::empty();
        a.set_from_raw(raw, len);
        a
    }

    /// Becomes the text form of `raw` (see from_raw), in place: a receive
    /// writes it straight into the caller's struct. An IPv4 sender (the
    /// usual case) is formatted inline; the others out of line, so that
    /// their frame is not every receive's.
    #[inline]
    pub fn set_from_raw(
        &mut self,
        raw: &MaybeUninit<libc::sockaddr_storage>,
        len: libc::socklen_t,
    ) {
        if len as usize >= size_of::<libc::sockaddr_in>() {
            // SAFETY: the kernel initialised at least a sockaddr_in's bytes.
            let sin = unsafe { &*raw.as_ptr().cast::<libc::sockaddr_in>() };
            if i32::from(sin.sin_family) == libc::AF_INET {
                self.set_ipv4(
                    sin.sin_addr.s_addr.to_ne_bytes(),
                    u16::from_be(sin.sin_port),
                );
                return;
            }
        }
        self.set_other_from_raw(raw, len);
    }

    /// set_from_raw for every family but AF_INET.
    #[inline(never)]
    fn set_other_from_raw(
        &mut self,
        raw: &MaybeUninit<libc::sockaddr_storage>,
        len: libc::socklen_t,
    ) {
        let len = (len as usize).min(size_of::<libc::sockaddr_storage>());
        if len == 0 {
            *self = Addr::empty();
            return;
        }
        let sa = sockaddr_of_raw(raw, len);
        *self = Addr::from_sockaddr(&sa);
    }

    /// The text form of a kernel address.
    pub fn from_sockaddr(sa: &SockAddr) -> Addr {
        if let Some(v4) = sa.as_socket_ipv4() {
            return Addr::ipv4(v4.ip().octets(), v4.port());
        }
        let mut a = Addr::empty();
        a.family = i32::from(sa.family());
        if let Some(v6) = sa.as_socket_ipv6() {
            a.port = i32::from(v6.port());
            a.flowinfo = v6.flowinfo();
            a.scope_id = v6.scope_id();
            let mut buf = [0u8; 96];
            let text = match (v6.scope_id(), interface_name(v6.scope_id())) {
                (0, _) => format_into(&mut buf, format_args!("{}", v6.ip())),
                (_, Some(ifname)) => {
                    format_into(&mut buf, format_args!("{}%{}", v6.ip(), ifname.as_str()))
                }
                (id, None) => format_into(&mut buf, format_args!("{}%{}", v6.ip(), id)),
            };
            a.set_host(text);
        } else if sa.is_unix() {
            a.set_host(&unix_text(sa));
        }
        a
    }
}

impl Addr {
    /// The destination this address names for a send: None for family 0
    /// (the connected peer), else its host text and port.
    pub fn dest(&self, op: &str) -> Result<Option<(&str, i32)>> {
        if self.family == 0 {
            return Ok(None);
        }
        Ok(Some((self.host_text(op)?, self.port)))
    }

    /// The host text of an address a caller gave: it must end with a NUL
    /// inside the array and be UTF-8 (EINVAL otherwise, "{op}: addr.host
    /// ...").
    pub fn host_text(&self, op: &str) -> Result<&str> {
        // libc's strnlen: a batch reads every message's host, and core's
        // byte-wise search for the NUL cost twice as much (callgrind).
        // SAFETY: host is an array of host.len() c_chars.
        let n = unsafe { libc::strnlen(self.host.as_ptr(), self.host.len()) };
        if n == self.host.len() {
            return fail!(libc::EINVAL, "{op}: addr.host is not NUL-terminated");
        }
        // SAFETY: the first n bytes of the array, c_char read as u8.
        let bytes = unsafe { std::slice::from_raw_parts(self.host.as_ptr().cast::<u8>(), n) };
        utf8(op, "addr.host", bytes)
    }

    /// The first 16 bytes of the host array as two little-endian words,
    /// byte i at bits 8i (a short text and its NUL; what follows the NUL
    /// is whatever the array holds).
    #[inline(always)]
    fn host_words(&self) -> [u64; 2] {
        let b = self.host.first_chunk::<16>().copied().unwrap_or([0; 16]);
        let b = b.map(|c| c as u8);
        [0, 8].map(|at| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8])))
    }
}

/// Text given as bytes (a host, a path) as UTF-8 (EINVAL "{op}: {what} is
/// not valid UTF-8" if it is not). Hosts are almost always ASCII, which a
/// word-at-a-time check proves valid faster than a full UTF-8 validation.
#[inline]
pub(crate) fn utf8<'a>(op: &str, what: &str, bytes: &'a [u8]) -> Result<&'a str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => fail!(libc::EINVAL, "{op}: {what} is not valid UTF-8"),
    }
}

/// The destination a batch send converted last, by its text: a message
/// that names the same host text and port (the usual batch, to one peer)
/// is known without measuring, checking or parsing its text again, and
/// reuses that conversion (a name, too, is resolved once for a run of
/// messages naming it). The text's first 16 bytes are compared as two
/// masked words; a longer text's rest byte for byte.
pub struct LastDest<'a> {
    /// The host array's first 16 bytes, as `Addr::host_words`, cleared
    /// past the text's NUL; `mask` keeps the text and its NUL.
    head: [u64; 2],
    mask: [u64; 2],
    /// A text of 16 bytes or more, with its NUL (empty for a short one).
    long: &'a [u8],
    port: i32,
}

impl<'a> LastDest<'a> {
    /// Matches no destination (no bits kept can never equal a head with
    /// a bit set).
    pub const fn none() -> LastDest<'a> {
        LastDest {
            head: [1, 1],
            mask: [0, 0],
            long: &[],
            port: 0,
        }
    }

    /// `a`'s destination, whose checked text is `text` (`Addr::host_text`).
    pub fn new(a: &'a Addr, text: &'a str) -> LastDest<'a> {
        let n = text.len();
        // Bytes 0..=n kept (the NUL too: a longer text does not match),
        // at most the first 16.
        let keep = |bytes: usize| match bytes {
            0 => 0,
            8.. => u64::MAX,
            b => u64::MAX >> (64 - 8 * b),
        };
        let mask = [keep(n + 1), keep((n + 1).saturating_sub(8))];
        let w = a.host_words();
        let long: &[u8] = if n >= 16 {
            // SAFETY: the text and its NUL are the array's first n + 1 bytes.
            unsafe { std::slice::from_raw_parts(a.host.as_ptr().cast(), n + 1) }
        } else {
            &[]
        };
        LastDest {
            head: [w[0] & mask[0], w[1] & mask[1]],
            mask,
            long,
            port: a.port,
        }
    }

    /// Whether `a` names this destination: the same port, and the same
    /// host text (the family is not compared: any but 0 means the
    /// socket's own).
    #[inline(always)]
    pub fn matches(&self, a: &Addr) -> bool {
        let w = a.host_words();
        a.port == self.port
            && (w[0] & self.mask[0]) == self.head[0]
            && (w[1] & self.mask[1]) == self.head[1]
            && (!self.is_long() || self.same_long(a))
    }

    /// Whether the text is 16 bytes or more: its head's last byte is not
    /// its NUL (kept in a register from the compare before).
    #[inline(always)]
    fn is_long(&self) -> bool {
        self.head[1] >> 56 != 0
    }

    /// The rest of a text of 16 bytes or more.
    #[inline(never)]
    fn same_long(&self, a: &Addr) -> bool {
        // SAFETY: long.len() <= the array's length (its NUL is inside it).
        let bytes =
            unsafe { std::slice::from_raw_parts(a.host.as_ptr().cast::<u8>(), self.long.len()) };
        bytes == self.long
    }
}

/// The sender a batch receive wrote last, by the address bytes the kernel
/// stored: the next datagram from the same sender (the usual batch) gets a
/// copy of that text instead of a new one. An IPv4 sender (16 bytes) is
/// compared as two words and copied as its fields and the host's first
/// 16 bytes (its whole text); the others byte for byte and whole.
pub struct LastSender {
    raw: MaybeUninit<libc::sockaddr_storage>,
    /// The bytes of `raw` in use: none at first, which is the text of a
    /// receive that names no sender, `Addr::empty()`: true from the start.
    len: usize,
    text: Addr,
}

const SIN_LEN: usize = size_of::<libc::sockaddr_in>();

impl LastSender {
    /// Remembers no sender yet (a batch's first datagram is converted).
    pub const fn new() -> LastSender {
        LastSender {
            raw: MaybeUninit::uninit(),
            len: 0,
            text: Addr::empty(),
        }
    }

    /// Writes the text form of the first `len` bytes of `raw` (a sender
    /// the kernel stored, at most a sockaddr_storage's) into `out`, in
    /// place (see `Addr::set_from_raw`).
    #[inline(always)]
    pub fn write(&mut self, raw: &MaybeUninit<libc::sockaddr_storage>, len: usize, out: &mut Addr) {
        let len = len.min(size_of::<libc::sockaddr_storage>());
        if len == self.len && self.same(raw, len) {
            self.copy_to(out);
            return;
        }
        out.set_from_raw(raw, len as libc::socklen_t);
        self.remember(raw, len, out);
    }

    /// Whether `raw` holds the remembered `len` bytes.
    #[inline(always)]
    fn same(&self, raw: &MaybeUninit<libc::sockaddr_storage>, len: usize) -> bool {
        let bytes = |s: &MaybeUninit<libc::sockaddr_storage>| {
            // SAFETY: `len` bytes of both were initialised (the kernel's,
            // and remember's copy of them).
            unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), len) }
        };
        if len == SIN_LEN {
            let words = |s| {
                let b: &[u8] = bytes(s);
                [0, 8].map(|at| u64::from_ne_bytes(b[at..at + 8].try_into().unwrap_or([0; 8])))
            };
            return words(raw) == words(&self.raw);
        }
        bytes(raw) == bytes(&self.raw)
    }

    #[inline(always)]
    fn copy_to(&self, out: &mut Addr) {
        if self.text.family != libc::AF_INET {
            return self.copy_other_to(out);
        }
        copy_ipv4(&self.text, out);
    }

    #[inline(never)]
    fn copy_other_to(&self, out: &mut Addr) {
        *out = self.text;
    }

    #[inline(always)]
    fn remember(&mut self, raw: &MaybeUninit<libc::sockaddr_storage>, len: usize, text: &Addr) {
        // SAFETY: `len` bytes of `raw` are initialised and fit the storage.
        unsafe {
            std::ptr::copy_nonoverlapping(
                raw.as_ptr().cast::<u8>(),
                self.raw.as_mut_ptr().cast::<u8>(),
                len,
            )
        };
        self.len = len;
        if text.family == libc::AF_INET {
            copy_ipv4(text, &mut self.text);
        } else {
            self.text = *text;
        }
    }
}

/// Copies an IPv4 address's text form: its fields and the host's first 16
/// bytes, which hold the whole text and its NUL (what follows the NUL is
/// unspecified, as `Addr::set_from_raw` leaves it).
#[inline(always)]
fn copy_ipv4(src: &Addr, dst: &mut Addr) {
    dst.family = src.family;
    dst.port = src.port;
    dst.flowinfo = 0;
    dst.scope_id = 0;
    if let (Some(d), Some(s)) = (
        dst.host.first_chunk_mut::<16>(),
        src.host.first_chunk::<16>(),
    ) {
        *d = *s;
    }
}

impl fmt::Display for Addr {
    /// "127.0.0.1:80", "[::1]:80", or the Unix path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.family == libc::AF_INET6 {
            write!(f, "[{}]:{}", self.host_str(), self.port)
        } else if self.family == libc::AF_INET {
            write!(f, "{}:{}", self.host_str(), self.port)
        } else {
            f.write_str(self.host_str())
        }
    }
}

/// A kernel address from the first `len` bytes of `raw` (at most a
/// sockaddr_storage's, all initialised).
fn sockaddr_of_raw(raw: &MaybeUninit<libc::sockaddr_storage>, len: usize) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `len` bytes of `raw` are initialised and fit in the
    // storage, which is a sockaddr_storage.
    unsafe {
        let dst: *mut libc::sockaddr_storage = storage.view_as();
        std::ptr::copy_nonoverlapping(raw.as_ptr().cast::<u8>(), dst.cast::<u8>(), len);
        SockAddr::new(storage, len as libc::socklen_t)
    }
}

/// Unix address bytes as text: the path, "@name" for an abstract name
/// (cut at a NUL inside it: the text form is NUL-terminated).
fn unix_text(sa: &SockAddr) -> [u8; POLYSOCK_ADDR_HOST_LEN] {
    let mut out = [0u8; POLYSOCK_ADDR_HOST_LEN];
    let name = UnixName::of(sa);
    let name = name.bytes();
    let text = match name.first() {
        None => return out,
        Some(0) => {
            out[0] = b'@';
            &name[1..]
        }
        Some(_) => name,
    };
    let start = usize::from(out[0] == b'@');
    let n = text.len().min(POLYSOCK_ADDR_HOST_LEN - 1 - start);
    out[start..start + n].copy_from_slice(&text[..n]);
    out
}

/// The longest AF_UNIX name polysock passes (sun_path's size on Linux):
/// a path of up to one byte less (its NUL), or an abstract name (a NUL,
/// then up to 107 bytes).
pub const POLYSOCK_UNIX_NAME_MAX: usize = 108;

/// An AF_UNIX name as bytes, the kernel's own form: a path's bytes (up to
/// its first NUL), or for an abstract name (Linux) a NUL then the name's
/// bytes exactly, NULs inside included. Empty: an unnamed socket.
pub struct UnixName {
    buf: [u8; POLYSOCK_UNIX_NAME_MAX],
    len: usize,
}

impl UnixName {
    pub const fn empty() -> UnixName {
        UnixName {
            buf: [0; POLYSOCK_UNIX_NAME_MAX],
            len: 0,
        }
    }

    /// The name in the first `len` bytes of `raw`, an address the kernel
    /// stored (empty when it is not AF_UNIX).
    pub fn of_raw(raw: &MaybeUninit<libc::sockaddr_storage>, len: libc::socklen_t) -> UnixName {
        let len = (len as usize).min(size_of::<libc::sockaddr_storage>());
        let family_len = size_of::<libc::sa_family_t>();
        if len < family_len {
            return UnixName::empty();
        }
        let sa = sockaddr_of_raw(raw, len);
        UnixName::of(&sa)
    }

    /// The name of a kernel address (empty when it is not AF_UNIX).
    pub fn of(sa: &SockAddr) -> UnixName {
        let mut name = UnixName::empty();
        if !sa.is_unix() {
            return name;
        }
        // SAFETY: is_unix() holds, so the storage holds a sockaddr_un of
        // at least sa.len() initialised bytes.
        let un = unsafe { &*(sa.as_ptr() as *const libc::sockaddr_un) };
        let offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        let len = (sa.len() as usize)
            .saturating_sub(offset)
            .min(un.sun_path.len())
            .min(POLYSOCK_UNIX_NAME_MAX);
        for (d, &c) in name.buf.iter_mut().zip(&un.sun_path[..len]) {
            *d = c as u8;
        }
        name.len = match name.buf[..len].first() {
            Some(0) => len,
            _ => name.buf[..len].iter().position(|&b| b == 0).unwrap_or(len),
        };
        name
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// An AF_UNIX name for messages: printable ASCII as is, other bytes as
/// \xNN, an abstract name's leading NUL as '@'.
pub struct ShowName<'a>(pub &'a [u8]);

impl fmt::Display for ShowName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = match self.0.split_first() {
            Some((0, rest)) => {
                f.write_str("@")?;
                rest
            }
            _ => self.0,
        };
        for &b in rest {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// An interface name (e.g. "eth0") for a scope id.
fn interface_name(index: u32) -> Option<IfName> {
    if index == 0 {
        return None;
    }
    let mut name = IfName([0; libc::IF_NAMESIZE]);
    // SAFETY: the buffer has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, name.0.as_mut_ptr()) };
    (!p.is_null()).then_some(name)
}

struct IfName([libc::c_char; libc::IF_NAMESIZE]);

impl IfName {
    fn as_str(&self) -> &str {
        // SAFETY: if_indextoname wrote a NUL-terminated name.
        unsafe { CStr::from_ptr(self.0.as_ptr()) }
            .to_str()
            .unwrap_or("?")
    }
}

/// An IPv4 literal, exactly as std's `Ipv4Addr::from_str` reads one: four
/// decimal octets of one to three ASCII digits, none above 255, no leading
/// zero, separated by dots, nothing before or after. Every connect and
/// sendto parses its host, and programs name the same few hosts again and
/// again: the last literal a thread parsed is remembered by its bytes, and
/// a text equal to it (two word compares) is not parsed again.
#[inline]
pub(crate) fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    // "0.0.0.0" to "255.255.255.255"; the bound also keeps `value` small.
    if !(7..=15).contains(&text.len()) {
        return None;
    }
    // The thread-local first: its lookup is a call (__tls_get_addr in a
    // shared library), and the text's words, read after it, then need no
    // saving across it.
    let memo = LAST_IPV4.with(Cell::get);
    let (head, tail) = ends(text);
    if memo.len == text.len() && memo.head == head && memo.tail == tail {
        return Some(Ipv4Addr::from(memo.ip));
    }
    // The text again, from its words, NUL-terminated for the scanner.
    let n = text.len();
    let mut padded = [0u8; 16];
    if n >= 8 {
        padded[..8].copy_from_slice(&head.to_ne_bytes());
        padded[n - 8..n].copy_from_slice(&tail.to_ne_bytes());
    } else {
        padded[..4].copy_from_slice(&(head as u32).to_ne_bytes());
        padded[n - 4..n].copy_from_slice(&(tail as u32).to_ne_bytes());
    }
    let (ip, len) = scan_ipv4(&padded)?;
    // A NUL inside the text ends the scan early: no literal.
    if len != n {
        return None;
    }
    LAST_IPV4.with(|m| {
        m.set(Ipv4Memo {
            head,
            tail,
            len: n,
            ip: ip.octets(),
        })
    });
    Some(ip)
}

/// The IPv4 literal a C string holds (see parse_ipv4), and its text, for
/// sendto's host: libc's strlen finds the end a word at a time, and the
/// parse, which proves the text ASCII, stands in for a UTF-8 check. (A
/// scan that found the end while parsing, byte by byte, cost more:
/// callgrind, 85 instructions against 56.) None for any other string: the
/// caller then reads it as text and reports what is wrong with it.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string.
#[inline]
pub unsafe fn ipv4_of_c<'a>(p: *const libc::c_char) -> Option<(Ipv4Addr, &'a str)> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the string ends with a NUL (the caller's promise).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), libc::strlen(p)) };
    let ip = parse_ipv4(bytes)?;
    // SAFETY: an IPv4 literal is ASCII.
    Some((ip, unsafe { std::str::from_utf8_unchecked(bytes) }))
}

/// The last IPv4 literal a thread parsed: its length (0: none yet), the
/// words `ends` made of its text, and its address.
#[derive(Clone, Copy)]
struct Ipv4Memo {
    head: u64,
    tail: u64,
    len: usize,
    ip: [u8; 4],
}

thread_local! {
    static LAST_IPV4: Cell<Ipv4Memo> = const {
        Cell::new(Ipv4Memo { head: 0, tail: 0, len: 0, ip: [0; 4] })
    };
}

/// The first and the last bytes of a 7..=15-byte text as two words that
/// together cover every byte (8 and 8 overlapping; 4 and 4 for 7 bytes),
/// so two texts of one length are equal exactly when their words are.
#[inline]
fn ends(text: &[u8]) -> (u64, u64) {
    let n = text.len();
    let word = |at: usize| u64::from_ne_bytes(text[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |at: usize| {
        u64::from(u32::from_ne_bytes(
            text[at..at + 4].try_into().unwrap_or([0; 4]),
        ))
    };
    if n >= 8 {
        (word(0), word(n - 8))
    } else {
        (half(0), half(n - 4))
    }
}

/// `parse_ipv4`'s parser: the IPv4 literal that `text` holds before its
/// first NUL (or its end), and that literal's length; None if those bytes
/// are anything else. One pass, an octet at a time, without std's general
/// parser (about a fifth of its instructions). Not inlined: the
/// remembered literal's compare, before it, stays a small function.
#[inline(never)]
fn scan_ipv4(text: &[u8; 16]) -> Option<(Ipv4Addr, usize)> {
    let byte = |i: usize| text.get(i).copied().unwrap_or(0);
    let mut ip = 0u32;
    let mut at = 0;
    for k in 0..4 {
        let (value, digits) = octet(byte(at), byte(at + 1), byte(at + 2))?;
        at += digits;
        let end = byte(at);
        ip = ip << 8 | value;
        if k < 3 {
            if end != b'.' {
                return None;
            }
            at += 1;
        } else if end != 0 {
            return None;
        }
    }
    Some((Ipv4Addr::from_bits(ip), at))
}

/// The octet whose digits begin with `c0` (then `c1`, `c2`), and how many
/// digits it has: one to three, none above 255, no leading zero (a fourth
/// digit is left for the caller, who expects a dot or the end there).
#[inline(always)]
fn octet(c0: u8, c1: u8, c2: u8) -> Option<(u32, usize)> {
    let [d0, d1, d2] = [c0, c1, c2].map(|c| c.wrapping_sub(b'0'));
    if d0 > 9 {
        return None;
    }
    if d1 > 9 {
        return Some((u32::from(d0), 1));
    }
    if d0 == 0 {
        return None;
    }
    let two = u32::from(d0) * 10 + u32::from(d1);
    if d2 > 9 {
        return Some((two, 2));
    }
    let three = two * 10 + u32::from(d2);
    (three <= 255).then_some((three, 3))
}

/// Each octet's text followed by a dot ("7." to "255."), as the bytes
/// of a little-endian word zero-padded to four, and that text's length
/// in bits (16 to 32).
const OCTET_TEXT: [(u32, u32); 256] = {
    let mut t = [(0u32, 0u32); 256];
    let mut o = 0;
    while o < 256 {
        let v = o as u32;
        let (d, c, u) = (v / 100, v / 10 % 10, v % 10);
        let (z, dot) = (b'0' as u32, b'.' as u32);
        t[o] = if v >= 100 {
            ((z + d) | (z + c) << 8 | (z + u) << 16 | dot << 24, 32)
        } else if v >= 10 {
            ((z + c) | (z + u) << 8 | dot << 16, 24)
        } else {
            ((z + u) | dot << 8, 16)
        };
        o += 1;
    }
    t
};

/// `ip` as std's Display writes it ("192.0.2.1"), then a NUL, then zeros:
/// 16 bytes (the longest text, "255.255.255.255", is 15).
/// Every receive with the sender's address formats one: the octets' texts
/// are shifted together in registers, with no index to check.
#[inline]
fn format_ipv4(ip: [u8; 4]) -> [u8; 16] {
    let [a, b, c, d] = ip.map(|o| OCTET_TEXT[usize::from(o)]);
    // The last octet's dot becomes the NUL.
    let last = d.0 ^ (u32::from(b'.') << (d.1 - 8));
    // Two octets each fit a word (at most 8 bytes); the second pair goes
    // after the first's `at` bits (32 to 64), split across the halves
    // with shifts of at most 32 (a shift by 64 would overflow).
    let first = u64::from(a.0) | u64::from(b.0) << a.1;
    let second = u64::from(c.0) | u64::from(last) << c.1;
    let at = a.1 + b.1;
    let lo = first | (second << (at - 32)) << 32;
    let hi = second >> (64 - at);
    (u128::from(lo) | u128::from(hi) << 64).to_le_bytes()
}

/// Checks a port given as a C int.
pub fn check_port(op: &str, port: i32) -> Result<u16> {
    u16::try_from(port)
        .or_else(|_| fail!(libc::EINVAL, "{op}: port {port} is out of range 0..65535"))
}

/// What an address is for: a passive address (bind) may be the any address
/// and resolves with AI_PASSIVE.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Bind,
    Connect,
    /// A destination that must be numeric (never waits for the resolver:
    /// a ring's operations).
    Numeric,
}

/// The one conversion from (host, port) to a kernel address for a socket of
/// `family` and `socktype`. `op` names the calling operation in messages.
/// (Inlined, with `literal`: the result is as large as an error, and every
/// move of it between functions is a copy.)
#[inline(always)]
pub fn to_sockaddr(
    op: &str,
    family: i32,
    socktype: i32,
    host: Option<&str>,
    port: i32,
    purpose: Purpose,
) -> Result<SockAddr> {
    let host = host.unwrap_or("");
    if family == libc::AF_UNIX {
        return unix_sockaddr(op, host);
    }
    let port = check_port(op, port)?;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return fail!(
            libc::EAFNOSUPPORT,
            "{op} {host}: polysock addresses are AF_INET, AF_INET6 or AF_UNIX, not family {family}"
        );
    }
    if let Some(sa) = literal(op, family, host, port)? {
        return Ok(sa);
    }
    if purpose == Purpose::Numeric {
        return fail!(
            libc::EINVAL,
            "{op} {host}: not a numeric address (a ring never waits for the resolver: resolve it first with polysock_getaddrinfo)"
        );
    }
    super::resolve::first_address(op, family, socktype, host, port, purpose)
}

/// The address for `host` when it needs no resolver ("" for the any
/// address, an IPv4 or IPv6 literal); Ok(None) when it is a name.
#[inline(always)]
fn literal(op: &str, family: i32, host: &str, port: u16) -> Result<Option<SockAddr>> {
    if host.is_empty() {
        return Ok(Some(if family == libc::AF_INET {
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into()
        } else {
            SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0).into()
        }));
    }
    if let Some(ip) = parse_ipv4(host.as_bytes()) {
        return Ok(Some(if family == libc::AF_INET {
            SocketAddrV4::new(ip, port).into()
        } else {
            // An AF_INET6 socket reaches IPv4 through the mapped form.
            SocketAddrV6::new(ip.to_ipv6_mapped(), port, 0, 0).into()
        }));
    }
    if let Some(v6) = parse_ipv6(op, host, port)? {
        return if family == libc::AF_INET6 {
            Ok(Some(v6.into()))
        } else {
            fail!(
                libc::EAFNOSUPPORT,
                "{op} {host}: an IPv6 address for an AF_INET socket"
            )
        };
    }
    Ok(None)
}

/// An address the kernel can take (connect): socket2's, or a `RawAddr`
/// built in place.
pub trait KernelAddr {
    fn as_sockaddr(&self) -> *const libc::sockaddr;
    fn socklen(&self) -> libc::socklen_t;
    /// Its text form (for messages).
    fn text(&self) -> Addr;
}

impl KernelAddr for SockAddr {
    fn as_sockaddr(&self) -> *const libc::sockaddr {
        self.as_ptr().cast()
    }
    fn socklen(&self) -> libc::socklen_t {
        self.len()
    }
    fn text(&self) -> Addr {
        Addr::from_sockaddr(self)
    }
}

impl KernelAddr for RawAddr {
    fn as_sockaddr(&self) -> *const libc::sockaddr {
        self.as_ptr()
    }
    fn socklen(&self) -> libc::socklen_t {
        self.len
    }
    fn text(&self) -> Addr {
        self.to_addr()
    }
}

/// A kernel address as raw bytes, for a call that hands it straight to the
/// kernel. An IPv4 literal for an AF_INET socket (every sendto's usual
/// case) is written in place as a 16-byte sockaddr_in, without socket2's
/// 128-byte storage moved through results (callgrind: two copies and a
/// conversion per call).
pub struct RawAddr {
    storage: MaybeUninit<libc::sockaddr_storage>,
    len: libc::socklen_t,
}

/// The kernel's form of an IPv4 address and port (built in registers:
/// the connect and sendto fast paths take it by value).
#[inline(always)]
pub(crate) fn sockaddr_in(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    }
}

impl RawAddr {
    pub const fn new() -> RawAddr {
        RawAddr {
            storage: MaybeUninit::uninit(),
            len: 0,
        }
    }

    /// Becomes the destination `to_sockaddr` makes of the same arguments
    /// (Purpose::Connect: where a send goes).
    #[inline]
    pub fn set_dest(
        &mut self,
        op: &str,
        family: i32,
        socktype: i32,
        host: Option<&str>,
        port: i32,
    ) -> Result<()> {
        self.set_dest_host(op, family, socktype, host.map(Host::Text), port)
    }

    /// set_dest for a host that may have been read as an IPv4 literal
    /// already (`Host::Ipv4`: not parsed again). An IPv4 literal with a
    /// valid port for an AF_INET socket is written inline; everything
    /// else, errors included, out of line, so that the usual case's frame
    /// stays small. (Always inlined: as a call its frame and its result
    /// cost more than its work, callgrind.)
    #[inline(always)]
    pub fn set_dest_host(
        &mut self,
        op: &str,
        family: i32,
        socktype: i32,
        host: Option<Host<'_>>,
        port: i32,
    ) -> Result<()> {
        if family == libc::AF_INET {
            if let (Some(ip), Ok(port)) = (host.and_then(Host::ipv4), u16::try_from(port)) {
                let sin = sockaddr_in(ip, port);
                // SAFETY: a sockaddr_in fits at the start of the storage.
                unsafe {
                    self.storage
                        .as_mut_ptr()
                        .cast::<libc::sockaddr_in>()
                        .write(sin)
                };
                self.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                return Ok(());
            }
        }
        let host = host.map(Host::text);
        out_of_line(|| {
            let sa = to_sockaddr(op, family, socktype, host, port, Purpose::Connect)?;
            self.set_sockaddr(&sa);
            Ok(())
        })
    }

    /// An IPv4 address as a RawAddr.
    pub fn from_sockaddr_in(sin: &libc::sockaddr_in) -> RawAddr {
        let mut sa = RawAddr::new();
        // SAFETY: a sockaddr_in fits at the start of the storage.
        unsafe {
            sa.storage
                .as_mut_ptr()
                .cast::<libc::sockaddr_in>()
                .write(*sin)
        };
        sa.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        sa
    }

    /// Becomes a copy of `sa`.
    pub fn set_sockaddr(&mut self, sa: &SockAddr) {
        // SAFETY: sa.len() bytes of a sockaddr fit the storage.
        unsafe {
            std::ptr::copy_nonoverlapping(
                sa.as_ptr().cast::<u8>(),
                self.storage.as_mut_ptr().cast::<u8>(),
                sa.len() as usize,
            );
        }
        self.len = sa.len();
    }

    /// Where a call that returns an address (accept) has the kernel write
    /// it: the storage, and its length, set to the storage's size.
    pub fn for_kernel(&mut self) -> (*mut libc::sockaddr, *mut libc::socklen_t) {
        self.len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        (self.storage.as_mut_ptr().cast(), &mut self.len)
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        self.storage.as_ptr().cast()
    }

    /// Its length in bytes.
    pub fn size(&self) -> libc::socklen_t {
        self.len
    }

    /// Its text form.
    pub fn to_addr(&self) -> Addr {
        Addr::from_raw(&self.storage, self.len)
    }

    /// Writes its text form into `out` (in place: no Addr moved).
    pub fn write_text(&self, out: &mut Addr) {
        out.set_from_raw(&self.storage, self.len);
    }

    /// Its AF_UNIX name as bytes.
    pub fn unix_name(&self) -> UnixName {
        UnixName::of_raw(&self.storage, self.len)
    }
}

impl From<&SockAddr> for RawAddr {
    fn from(sa: &SockAddr) -> RawAddr {
        let mut raw = RawAddr::new();
        raw.set_sockaddr(sa);
        raw
    }
}

/// Runs `f` in a function of its own that is never inlined: for a rare
/// path whose code would otherwise enlarge a hot caller's frame.
#[cold]
#[inline(never)]
fn out_of_line<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// An IPv6 literal: "::1", "[::1]", "fe80::1%eth0", "fe80::1%2". Ok(None)
/// when the text is not IPv6 at all; an error when it is IPv6 with a bad
/// scope.
fn parse_ipv6(op: &str, host: &str, port: u16) -> Result<Option<SocketAddrV6>> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let (ip_text, scope_text) = match inner.split_once('%') {
        Some((ip, scope)) => (ip, Some(scope)),
        None => (inner, None),
    };
    let Ok(ip) = ip_text.parse::<Ipv6Addr>() else {
        return Ok(None);
    };
    let scope_id = match scope_text {
        None => 0,
        Some(s) => scope_index(s).ok_or_else(|| {
            Error::new(
                libc::EINVAL,
                format_args!("{op} {host}: unknown interface '{s}'"),
            )
        })?,
    };
    Ok(Some(SocketAddrV6::new(ip, port, 0, scope_id)))
}

/// An interface index from a name or a number; None for no such interface.
fn scope_index(scope: &str) -> Option<u32> {
    // Digits only, as std's SocketAddrV6 reads a scope ("+1" is a name).
    if scope.bytes().all(|b| b.is_ascii_digit()) && !scope.is_empty() {
        let n = scope.parse::<u32>().ok()?;
        return interface_name(n).map(|_| n);
    }
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // A NUL would end the name early: "lo\0x" is no interface (fuzzing).
    if scope.is_empty() || scope.len() >= name.len() || scope.contains('\0') {
        return None;
    }
    for (d, s) in name.iter_mut().zip(scope.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: name is NUL-terminated (zero-filled past the copied bytes).
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

fn unix_sockaddr(op: &str, path: &str) -> Result<SockAddr> {
    let mut raw = [0u8; POLYSOCK_UNIX_NAME_MAX + 1];
    let name: &[u8] = match path.strip_prefix('@') {
        // "@name": the abstract namespace, a leading NUL for the kernel.
        Some(name) if cfg!(any(target_os = "linux", target_os = "android")) => {
            let n = name.len().min(raw.len() - 1);
            raw[1..1 + n].copy_from_slice(&name.as_bytes()[..n]);
            &raw[..1 + name.len().min(raw.len() - 1)]
        }
        _ => path.as_bytes(),
    };
    unix_name_sockaddr(op, name)
}

/// The one conversion from an AF_UNIX name as bytes (UnixName's form: a
/// path, or a NUL then an abstract name; empty autobinds) to a kernel
/// address.
pub fn unix_name_sockaddr(op: &str, name: &[u8]) -> Result<SockAddr> {
    let is_abstract = name.first() == Some(&0);
    if is_abstract && !cfg!(any(target_os = "linux", target_os = "android")) {
        return fail!(
            libc::EINVAL,
            "{op} {}: abstract Unix names are Linux's",
            ShowName(name)
        );
    }
    if !is_abstract && name.contains(&0) {
        return fail!(
            libc::EINVAL,
            "{op} {}: a Unix socket path cannot hold a NUL byte",
            ShowName(name)
        );
    }
    let max = POLYSOCK_UNIX_NAME_MAX - usize::from(!is_abstract);
    if name.len() > max {
        return fail!(
            libc::ENAMETOOLONG,
            "{op} {}: Unix socket name is too long (at most {max} bytes)",
            ShowName(name)
        );
    }
    use std::os::unix::ffi::OsStrExt;
    SockAddr::unix(std::ffi::OsStr::from_bytes(name)).map_err(|_| {
        Error::new(
            libc::ENAMETOOLONG,
            format_args!(
                "{op} {}: Unix socket name is too long (at most {max} bytes)",
                ShowName(name)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(op_family: i32, host: &str, port: i32) -> String {
        let sa = to_sockaddr(
            "t",
            op_family,
            libc::SOCK_STREAM,
            Some(host),
            port,
            Purpose::Connect,
        )
        .unwrap();
        Addr::from_sockaddr(&sa).to_string()
    }

    #[test]
    fn literals_round_trip() {
        assert_eq!(text(libc::AF_INET, "127.0.0.1", 80), "127.0.0.1:80");
        assert_eq!(text(libc::AF_INET6, "::1", 80), "[::1]:80");
        assert_eq!(text(libc::AF_INET6, "[::1]", 81), "[::1]:81");
        assert_eq!(text(libc::AF_INET6, "127.0.0.1", 1), "[::ffff:127.0.0.1]:1");
        assert_eq!(text(libc::AF_INET, "", 5), "0.0.0.0:5");
        assert_eq!(text(libc::AF_UNIX, "/tmp/x.sock", 0), "/tmp/x.sock");
    }

    #[test]
    fn scope_by_number_and_by_name() {
        assert_eq!(text(libc::AF_INET6, "fe80::1%1", 9), "[fe80::1%lo]:9");
        assert_eq!(text(libc::AF_INET6, "fe80::1%lo", 9), "[fe80::1%lo]:9");
        let e = to_sockaddr(
            "bind",
            libc::AF_INET6,
            1,
            Some("fe80::1%nosuchif"),
            1,
            Purpose::Bind,
        )
        .unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
        assert!(e.context().contains("nosuchif"));
        // Found by fuzz/addr_text: the name stopped at a NUL and matched lo.
        for host in ["fe80::1%lo\0", "0::1%lo\0\0:3%1"] {
            let e =
                to_sockaddr("bind", libc::AF_INET6, 1, Some(host), 1, Purpose::Bind).unwrap_err();
            assert_eq!(e.code(), libc::EINVAL, "{host:?}");
        }
    }

    #[test]
    fn abstract_names_use_at() {
        assert_eq!(text(libc::AF_UNIX, "@polysock-test", 0), "@polysock-test");
    }

    #[test]
    fn unix_names_as_bytes_round_trip() {
        let names: [&[u8]; 4] = [b"\0a\0b\0", b"/tmp/\xff\xfe", b"\0", &[0; 108]];
        for name in names {
            let sa = unix_name_sockaddr("t", name).unwrap();
            assert_eq!(UnixName::of(&sa).bytes(), name);
            let raw = RawAddr::from(&sa);
            assert_eq!(UnixName::of_raw(&raw.storage, raw.len).bytes(), name);
        }
        // The text form of the same address is what it always was.
        let sa = unix_name_sockaddr("t", b"\0py\0x").unwrap();
        assert_eq!(Addr::from_sockaddr(&sa).host_str(), "@py");
        let text = to_sockaddr("t", libc::AF_UNIX, 1, Some("@py"), 0, Purpose::Bind).unwrap();
        assert_eq!(UnixName::of(&text).bytes(), b"\0py");
        assert_eq!(ShowName(b"\0a\x01b").to_string(), "@a\\x01b");
        let e = unix_name_sockaddr("bind", b"/a\0b").unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
        let long = [b'p'; 108];
        let e = unix_name_sockaddr("bind", &long).unwrap_err();
        assert_eq!(e.code(), libc::ENAMETOOLONG);
        // Not AF_UNIX: no name.
        let v4 = to_sockaddr("t", libc::AF_INET, 1, Some("127.0.0.1"), 1, Purpose::Bind).unwrap();
        assert!(UnixName::of(&v4).bytes().is_empty());
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let e = to_sockaddr(
            "connect",
            libc::AF_INET,
            1,
            Some("127.0.0.1"),
            70000,
            Purpose::Connect,
        )
        .unwrap_err();
        assert_eq!(e.code(), libc::EINVAL);
        assert_eq!(e.context(), "connect: port 70000 is out of range 0..65535");
        let e = to_sockaddr("bind", libc::AF_INET, 1, Some("::1"), 1, Purpose::Bind).unwrap_err();
        assert_eq!(e.code(), libc::EAFNOSUPPORT);
        let long = "x".repeat(200);
        let e = to_sockaddr("bind", libc::AF_UNIX, 1, Some(&long), 0, Purpose::Bind).unwrap_err();
        assert_eq!(e.code(), libc::ENAMETOOLONG);
    }
}

#[cfg(test)]
#[path = "addr_tests.rs"]
mod against_std;
