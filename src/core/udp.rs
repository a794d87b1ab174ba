//! UDP at line rate: one call sends a buffer as many datagrams of one size
//! (the kernel cuts it: UDP_SEGMENT, "GSO"), and one receive takes several
//! datagrams of one sender, coalesced, with their size (UDP_GRO). A kernel
//! without UDP_SEGMENT (Linux before 4.18), or a route that cannot offload
//! (EIO: no checksum offload, IPsec), gets the same datagrams from one
//! sendmmsg instead. Like every data call they honour the socket's timeout,
//! resume after EINTR, and never allocate.

use super::addr::Addr;
use super::error::{Error, Result, fail};
use super::io::NOSIGNAL;
use super::socket::Socket;
use std::mem::MaybeUninit;

/// The most datagrams one polysock_send_segments call sends (the kernel's
/// UDP_MAX_SEGMENTS on every kernel that has UDP_SEGMENT).
pub const POLYSOCK_UDP_MAX_SEGMENTS: usize = 64;

/// The most bytes one polysock_send_segments call sends, and the largest
/// segment: the largest UDP payload over IPv4 (65,535 - 20 - 8).
pub const POLYSOCK_UDP_MAX_PAYLOAD: usize = 65_507;

/// A receive buffer this large never cuts a coalesced batch (the kernel
/// coalesces at most 64 KiB).
pub const POLYSOCK_UDP_GRO_BUFFER: usize = 65_536;

/// Checks a send's shape: how many datagrams `len` bytes in `segment`-byte
/// pieces make.
fn segments(len: usize, segment: usize) -> Result<usize> {
    if segment == 0 {
        return fail!(libc::EINVAL, "send_segments: segment size is 0");
    }
    if segment > POLYSOCK_UDP_MAX_PAYLOAD {
        return fail!(
            libc::EMSGSIZE,
            "send_segments: segment size {segment} is above {POLYSOCK_UDP_MAX_PAYLOAD}, the largest UDP payload"
        );
    }
    if len > POLYSOCK_UDP_MAX_PAYLOAD {
        return fail!(
            libc::EMSGSIZE,
            "send_segments: {len} bytes is above {POLYSOCK_UDP_MAX_PAYLOAD}, the most one call sends"
        );
    }
    let n = len.div_ceil(segment).max(1);
    if n > POLYSOCK_UDP_MAX_SEGMENTS {
        return fail!(
            libc::EINVAL,
            "send_segments: {len} bytes in {segment}-byte segments is {n} datagrams, above {POLYSOCK_UDP_MAX_SEGMENTS}"
        );
    }
    Ok(n)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Whether the kernel takes UDP_SEGMENT: 0 not known yet, 1 yes, 2 no.
    static GSO: AtomicU8 = AtomicU8::new(0);

    /// Room for one control message carrying an int (UDP_SEGMENT's u16 or
    /// UDP_GRO's int), aligned for cmsghdr.
    #[repr(C, align(8))]
    struct Control([u8; 32]);

    fn gso_supported(fd: i32) -> bool {
        match GSO.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => {
                let mut v: libc::c_int = 0;
                let mut len = size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: v and len are valid for the kernel to write.
                let r = unsafe {
                    libc::getsockopt(
                        fd,
                        libc::SOL_UDP,
                        libc::UDP_SEGMENT,
                        (&mut v as *mut libc::c_int).cast(),
                        &mut len,
                    )
                };
                let yes = r == 0 || errno::errno().0 != libc::ENOPROTOOPT;
                GSO.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                yes
            }
        }
    }

    impl Socket {
        fn check_udp(&self, op: &str) -> Result<()> {
            let inet = matches!(self.family(), libc::AF_INET | libc::AF_INET6);
            if !inet || self.socktype() != libc::SOCK_DGRAM {
                return fail!(
                    libc::EOPNOTSUPP,
                    "{op}: needs a UDP socket (AF_INET or AF_INET6, SOCK_DGRAM)"
                );
            }
            Ok(())
        }

        /// Sends `buf` as datagrams of `segment` bytes each (the last one
        /// may be shorter), to `to` (host, port) or else the connected peer.
        /// Returns the bytes sent: all of `buf`, except when the sendmmsg
        /// fallback fails after some datagrams went (their bytes).
        pub fn send_segments(
            &self,
            buf: &[u8],
            segment: usize,
            flags: i32,
            to: Option<(&str, i32)>,
        ) -> Result<usize> {
            self.check_udp("send_segments")?;
            let n = segments(buf.len(), segment)?;
            let sa = self.dest("send_segments", to)?;
            let (name, namelen) = match &sa {
                Some(sa) => (sa.as_ptr().cast_mut().cast(), sa.len()),
                None => (std::ptr::null_mut(), 0),
            };
            let name_err = |e: Error| match &sa {
                Some(sa) => Error::new(
                    e.code(),
                    format_args!("{} to {}", e.context(), Addr::from_sockaddr(sa)),
                ),
                None => e,
            };
            if n > 1 && gso_supported(self.fd()) {
                match self.send_gso(buf, segment, flags, name, namelen) {
                    Err(e) if e.code() == libc::EIO => {}
                    r => return r.map_err(name_err),
                }
            }
            self.send_each(buf, segment, n, flags, name, namelen)
                .map_err(name_err)
        }

        /// One sendmsg with a UDP_SEGMENT control message.
        fn send_gso(
            &self,
            buf: &[u8],
            segment: usize,
            flags: i32,
            name: *mut libc::c_void,
            namelen: libc::socklen_t,
        ) -> Result<usize> {
            let mut iov = libc::iovec {
                iov_base: buf.as_ptr().cast_mut().cast(),
                iov_len: buf.len(),
            };
            let mut control = Control([0; 32]);
            // SAFETY: msghdr is plain C data; zero is valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = name;
            msg.msg_namelen = namelen;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE is arithmetic.
            msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as _;
            // SAFETY: the control buffer holds CMSG_SPACE(2) bytes, so the
            // first header and its u16 fit; the pointer is aligned (Control).
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                libc::CMSG_DATA(c)
                    .cast::<u16>()
                    .write_unaligned(segment as u16);
            }
            let fd = self.fd();
            self.retry("send_segments", libc::POLLOUT, flags, &mut None, || {
                // SAFETY: msg points at buf, the address and the control
                // data, all alive for the call.
                unsafe { libc::sendmsg(fd, &msg, flags | NOSIGNAL) }
            })
            .map_err(|e| {
                if e.code() == libc::EINVAL {
                    Error::new(
                        e.code(),
                        format_args!(
                            "{} ({segment}-byte segments with their headers must fit the path MTU)",
                            e.context()
                        ),
                    )
                } else {
                    e
                }
            })
        }

        /// The fallback: each datagram its own message, in one sendmmsg
        /// (repeated if the kernel takes fewer).
        pub(super) fn send_each(
            &self,
            buf: &[u8],
            segment: usize,
            n: usize,
            flags: i32,
            name: *mut libc::c_void,
            namelen: libc::socklen_t,
        ) -> Result<usize> {
            // SAFETY: iovec and mmsghdr are plain C data; zero is valid.
            let mut iov: [libc::iovec; POLYSOCK_UDP_MAX_SEGMENTS] = unsafe { std::mem::zeroed() };
            let mut hdrs: [libc::mmsghdr; POLYSOCK_UDP_MAX_SEGMENTS] =
                unsafe { std::mem::zeroed() };
            for (i, chunk) in buf.chunks(segment).enumerate() {
                iov[i].iov_base = chunk.as_ptr().cast_mut().cast();
                iov[i].iov_len = chunk.len();
            }
            if buf.is_empty() {
                iov[0].iov_base = buf.as_ptr().cast_mut().cast();
            }
            for i in 0..n {
                let h = &mut hdrs[i].msg_hdr;
                h.msg_name = name;
                h.msg_namelen = namelen;
                h.msg_iov = &mut iov[i];
                h.msg_iovlen = 1;
            }
            let fd = self.fd();
            let mut done = 0;
            while done < n {
                let rest = &mut hdrs[done..n];
                let sent = self.retry("send_segments", libc::POLLOUT, flags, &mut None, || {
                    // SAFETY: the headers point at iov entries over buf and
                    // at the address, alive for the call.
                    unsafe {
                        libc::sendmmsg(
                            fd,
                            rest.as_mut_ptr(),
                            rest.len() as _,
                            (flags | NOSIGNAL) as _,
                        ) as isize
                    }
                });
                let sent = sent.and_then(|k| {
                    done += k;
                    if done < n {
                        crate::core::interrupt::check_progress("send_segments")?;
                    }
                    Ok(())
                });
                match sent {
                    Ok(()) => {}
                    Err(_) if done > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(iov[..done].iter().map(|v| v.iov_len).sum())
        }

        /// Asks the kernel to coalesce arriving datagrams (UDP_GRO), or to
        /// stop.
        pub fn set_gro(&self, on: bool) -> Result<()> {
            self.check_udp("udp_gro")?;
            let v: libc::c_int = on.into();
            // SAFETY: v is a valid int for the kernel to read.
            let r = unsafe {
                libc::setsockopt(
                    self.fd(),
                    libc::SOL_UDP,
                    libc::UDP_GRO,
                    (&v as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r < 0 {
                let code = errno::errno().0;
                if code == libc::ENOPROTOOPT {
                    return fail!(
                        code,
                        "udp_gro: the kernel cannot coalesce datagrams (UDP_GRO is Linux 5.0 and later); polysock_recv_segments still receives them, one at a time"
                    );
                }
                return fail!(code, "udp_gro");
            }
            Ok(())
        }

        /// Receives one datagram, or several of one sender coalesced (with
        /// UDP_GRO on): returns (bytes, segment size, message flags,
        /// sender). Every segment but the last has the segment size; one
        /// plain datagram is one segment of its own length.
        pub fn recv_segments(
            &self,
            buf: &mut [MaybeUninit<u8>],
            flags: i32,
        ) -> Result<(usize, usize, i32, Addr)> {
            self.check_udp("recv_segments")?;
            if buf.is_empty() {
                return fail!(libc::EINVAL, "recv_segments: buffer length is 0");
            }
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: sockaddr_storage and msghdr are plain C data.
            let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            let mut control = Control([0; 32]);
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            let fd = self.fd();
            let n = self.retry("recv_segments", libc::POLLIN, flags, &mut None, || {
                msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
                msg.msg_namelen = size_of::<libc::sockaddr_storage>() as _;
                msg.msg_control = control.0.as_mut_ptr().cast();
                msg.msg_controllen = control.0.len() as _;
                // SAFETY: msg points at buf, name and control, all alive
                // and writable for their stated lengths.
                unsafe { libc::recvmsg(fd, &mut msg, flags) }
            })?;
            let mut segment = n;
            // SAFETY: the kernel filled msg_controllen bytes of control with
            // well-formed headers; the CMSG macros stay within them.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                        let size = libc::CMSG_DATA(c).cast::<libc::c_int>().read_unaligned();
                        if size > 0 {
                            segment = (size as usize).min(n.max(1));
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            let from = crate::core::msg::addr_of(&name, msg.msg_namelen);
            Ok((n, segment, msg.msg_flags, from))
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Socket {
    pub fn send_segments(
        &self,
        buf: &[u8],
        segment: usize,
        _flags: i32,
        _to: Option<(&str, i32)>,
    ) -> Result<usize> {
        segments(buf.len(), segment)?;
        fail!(
            libc::EOPNOTSUPP,
            "send_segments: not available on this platform (send each datagram with polysock_sendto)"
        )
    }

    pub fn set_gro(&self, _on: bool) -> Result<()> {
        fail!(libc::ENOPROTOOPT, "udp_gro: not available on this platform")
    }

    pub fn recv_segments(
        &self,
        _buf: &mut [MaybeUninit<u8>],
        _flags: i32,
    ) -> Result<(usize, usize, i32, Addr)> {
        fail!(
            libc::EOPNOTSUPP,
            "recv_segments: not available on this platform (receive each datagram with polysock_recvfrom)"
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// FNV-1a: a checksum of each datagram's contents.
    fn fnv(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
            (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
        })
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 1200) as u8).collect()
    }

    fn udp_pair() -> (Socket, Socket, i32) {
        let rx = Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        rx.bind(Some("127.0.0.1"), 0).unwrap();
        rx.set_timeout(5000).unwrap();
        let port = rx.local_addr().unwrap().port;
        let tx = Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        (tx, rx, port)
    }

    fn recv(rx: &Socket, buf: &mut [MaybeUninit<u8>]) -> (Vec<u8>, usize) {
        let (n, seg, flags, from) = rx.recv_segments(buf, 0).unwrap();
        assert_eq!(flags & libc::MSG_TRUNC, 0);
        assert_eq!(from.host_str(), "127.0.0.1");
        let data = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        (data, seg)
    }

    /// Without GRO the receiver sees each datagram on its own: the
    /// boundaries are the sender's segments, the contents its bytes.
    #[test]
    fn segments_arrive_as_datagrams() {
        let (tx, rx, port) = udp_pair();
        let data = pattern(50 * 1200 + 345);
        let sent = tx
            .send_segments(&data, 1200, 0, Some(("127.0.0.1", port)))
            .unwrap();
        assert_eq!(sent, data.len());
        let mut buf = vec![MaybeUninit::new(0u8); 2000];
        for (i, want) in data.chunks(1200).enumerate() {
            let (got, seg) = recv(&rx, &mut buf);
            assert_eq!(got.len(), want.len(), "datagram {i}");
            assert_eq!(seg, got.len());
            assert_eq!(fnv(&got), fnv(want), "datagram {i}");
        }
    }

    /// With GRO the receiver gets them coalesced, with the segment size,
    /// and cutting by that size gives back every datagram.
    #[test]
    fn gro_coalesces_with_the_segment_size() {
        let (tx, rx, port) = udp_pair();
        rx.set_gro(true).unwrap();
        tx.connect(Some("127.0.0.1"), port).unwrap();
        let data = pattern(54 * 1200);
        let mut buf = vec![MaybeUninit::new(0u8); POLYSOCK_UDP_GRO_BUFFER];
        let (mut datagrams, mut receives) = (Vec::new(), 0);
        // One batch at a time: more could overflow the receive buffer.
        for b in 1..=3 {
            assert_eq!(tx.send_segments(&data, 1200, 0, None).unwrap(), data.len());
            while datagrams.len() < b * 54 {
                let (got, seg) = recv(&rx, &mut buf);
                receives += 1;
                assert_eq!(seg, 1200);
                datagrams.extend(got.chunks(seg).map(<[u8]>::to_vec));
            }
        }
        assert_eq!(datagrams.len(), 3 * 54);
        assert!(receives < 3 * 54, "nothing was coalesced");
        for (i, d) in datagrams.iter().enumerate() {
            assert_eq!(
                fnv(d),
                fnv(&data[(i % 54) * 1200..][..1200]),
                "datagram {i}"
            );
        }
    }

    /// The fallback (one sendmmsg) puts the same datagrams on the wire.
    #[test]
    fn fallback_sends_the_same_datagrams() {
        let (tx, rx, port) = udp_pair();
        tx.connect(Some("127.0.0.1"), port).unwrap();
        let data = pattern(7 * 100 + 1);
        let name = std::ptr::null_mut();
        assert_eq!(tx.send_each(&data, 100, 8, 0, name, 0).unwrap(), data.len());
        let mut buf = vec![MaybeUninit::new(0u8); 200];
        for want in data.chunks(100) {
            let (got, seg) = recv(&rx, &mut buf);
            assert_eq!((fnv(&got), seg), (fnv(want), want.len()));
        }
    }

    #[test]
    fn bad_shapes_fail_clearly() {
        let (tx, _rx, port) = udp_pair();
        let to = Some(("127.0.0.1", port));
        let big = vec![0u8; POLYSOCK_UDP_MAX_PAYLOAD + 1];
        let cases: [(&[u8], usize, i32, &str); 4] = [
            (b"abc", 0, libc::EINVAL, "segment size is 0"),
            (
                b"abc",
                POLYSOCK_UDP_MAX_PAYLOAD + 1,
                libc::EMSGSIZE,
                "largest UDP payload",
            ),
            (&big, 1200, libc::EMSGSIZE, "the most one call sends"),
            (
                &big[..65 * 100],
                100,
                libc::EINVAL,
                "65 datagrams, above 64",
            ),
        ];
        for (buf, seg, code, text) in cases {
            let e = tx.send_segments(buf, seg, 0, to).unwrap_err();
            assert_eq!(e.code(), code, "{}", e.context());
            assert!(e.context().contains(text), "{}", e.context());
        }
        let tcp = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        let e = tcp.send_segments(b"abc", 1, 0, to).unwrap_err();
        assert_eq!(e.code(), libc::EOPNOTSUPP);
        assert_eq!(tcp.set_gro(true).unwrap_err().code(), libc::EOPNOTSUPP);
    }
}
