//! Socket options: any option as an int or as raw bytes, and typed options
//! (`POLYSOCK_OPT_*`) that take care of units and platform differences.

use super::error::{Error, Result, fail};
use super::socket::Socket;
use std::mem::MaybeUninit;

// Typed options for polysock_setopt/polysock_getopt. Values are int64:
// booleans are 0/1, sizes in bytes, times as the name says.
/// TCP_NODELAY: 1 disables Nagle's algorithm.
pub const POLYSOCK_OPT_NODELAY: i32 = 1;
/// TCP_QUICKACK (Linux only; ENOPROTOOPT elsewhere).
pub const POLYSOCK_OPT_QUICKACK: i32 = 2;
/// SO_KEEPALIVE.
pub const POLYSOCK_OPT_KEEPALIVE: i32 = 3;
/// Idle seconds before the first keepalive probe (TCP_KEEPIDLE; TCP_KEEPALIVE on Apple).
pub const POLYSOCK_OPT_KEEPIDLE: i32 = 4;
/// Seconds between keepalive probes (TCP_KEEPINTVL).
pub const POLYSOCK_OPT_KEEPINTVL: i32 = 5;
/// Unanswered probes before the connection drops (TCP_KEEPCNT).
pub const POLYSOCK_OPT_KEEPCNT: i32 = 6;
/// SO_LINGER in seconds; -1 turns lingering off.
pub const POLYSOCK_OPT_LINGER: i32 = 7;
/// SO_RCVBUF in bytes (Linux reports double what was set: its bookkeeping).
pub const POLYSOCK_OPT_RCVBUF: i32 = 8;
/// SO_SNDBUF in bytes.
pub const POLYSOCK_OPT_SNDBUF: i32 = 9;
/// SO_REUSEADDR.
pub const POLYSOCK_OPT_REUSEADDR: i32 = 10;
/// SO_REUSEPORT (ENOPROTOOPT where the platform lacks it).
pub const POLYSOCK_OPT_REUSEPORT: i32 = 11;
/// SO_BROADCAST.
pub const POLYSOCK_OPT_BROADCAST: i32 = 12;
/// IPV6_V6ONLY: 1 keeps an AF_INET6 socket from IPv4-mapped traffic.
pub const POLYSOCK_OPT_V6ONLY: i32 = 13;
/// SO_RCVTIMEO in milliseconds (0: none). This is the kernel's timer;
/// polysock_settimeout is usually what you want.
pub const POLYSOCK_OPT_RCVTIMEO_MS: i32 = 14;
/// SO_SNDTIMEO in milliseconds (0: none).
pub const POLYSOCK_OPT_SNDTIMEO_MS: i32 = 15;

/// How a typed option maps onto the platform.
#[derive(Clone, Copy)]
enum Kind {
    Int(i32, i32),
    Linger,
    TimeoutMs(i32),
    /// Not on this platform (TCP_QUICKACK outside Linux).
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    Missing,
}

fn kind(opt: i32) -> Option<(&'static str, Kind)> {
    use Kind::*;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let quickack = Int(libc::IPPROTO_TCP, libc::TCP_QUICKACK);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let quickack = Missing;
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    let keepidle = Int(libc::IPPROTO_TCP, libc::TCP_KEEPALIVE);
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    let keepidle = Int(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE);
    Some(match opt {
        POLYSOCK_OPT_NODELAY => ("TCP_NODELAY", Int(libc::IPPROTO_TCP, libc::TCP_NODELAY)),
        POLYSOCK_OPT_QUICKACK => ("TCP_QUICKACK", quickack),
        POLYSOCK_OPT_KEEPALIVE => ("SO_KEEPALIVE", Int(libc::SOL_SOCKET, libc::SO_KEEPALIVE)),
        POLYSOCK_OPT_KEEPIDLE => ("TCP_KEEPIDLE", keepidle),
        POLYSOCK_OPT_KEEPINTVL => ("TCP_KEEPINTVL", Int(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL)),
        POLYSOCK_OPT_KEEPCNT => ("TCP_KEEPCNT", Int(libc::IPPROTO_TCP, libc::TCP_KEEPCNT)),
        POLYSOCK_OPT_LINGER => ("SO_LINGER", Linger),
        POLYSOCK_OPT_RCVBUF => ("SO_RCVBUF", Int(libc::SOL_SOCKET, libc::SO_RCVBUF)),
        POLYSOCK_OPT_SNDBUF => ("SO_SNDBUF", Int(libc::SOL_SOCKET, libc::SO_SNDBUF)),
        POLYSOCK_OPT_REUSEADDR => ("SO_REUSEADDR", Int(libc::SOL_SOCKET, libc::SO_REUSEADDR)),
        POLYSOCK_OPT_REUSEPORT => ("SO_REUSEPORT", Int(libc::SOL_SOCKET, libc::SO_REUSEPORT)),
        POLYSOCK_OPT_BROADCAST => ("SO_BROADCAST", Int(libc::SOL_SOCKET, libc::SO_BROADCAST)),
        POLYSOCK_OPT_V6ONLY => ("IPV6_V6ONLY", Int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)),
        POLYSOCK_OPT_RCVTIMEO_MS => ("SO_RCVTIMEO", TimeoutMs(libc::SO_RCVTIMEO)),
        POLYSOCK_OPT_SNDTIMEO_MS => ("SO_SNDTIMEO", TimeoutMs(libc::SO_SNDTIMEO)),
        _ => return None,
    })
}

impl Socket {
    /// setsockopt with an int value, at any level.
    pub fn set_int(&self, level: i32, name: i32, value: i32) -> Result<()> {
        self.set_bytes(level, name, &value.to_ne_bytes())
    }

    /// getsockopt of an int value, at any level.
    pub fn get_int(&self, level: i32, name: i32) -> Result<i32> {
        // Room for more than an int, so a struct-valued option shows its
        // real size instead of being silently cut to four bytes.
        let mut v = [MaybeUninit::new(0u8); 16];
        let n = self.get_bytes(level, name, &mut v)?;
        if n != 4 {
            return fail!(
                libc::EINVAL,
                "getsockopt(level {level}, option {name}): the option is {n} bytes, not an int"
            );
        }
        // SAFETY: all bytes were initialised above.
        let b = v.map(|b| unsafe { b.assume_init() });
        Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// setsockopt with raw bytes (for struct-valued options).
    pub fn set_bytes(&self, level: i32, name: i32, value: &[u8]) -> Result<()> {
        let Ok(len) = libc::socklen_t::try_from(value.len()) else {
            return fail!(
                libc::EINVAL,
                "setsockopt(level {level}, option {name}): value of {} bytes is too long",
                value.len()
            );
        };
        // SAFETY: value is valid for reads of len bytes.
        let rc = unsafe { libc::setsockopt(self.fd(), level, name, value.as_ptr().cast(), len) };
        if rc != 0 {
            return Err(Error::last_os(format_args!(
                "setsockopt(level {level}, option {name})"
            )));
        }
        Ok(())
    }

    /// getsockopt into `buf`; returns the option's length.
    pub fn get_bytes(&self, level: i32, name: i32, buf: &mut [MaybeUninit<u8>]) -> Result<usize> {
        let mut len = libc::socklen_t::try_from(buf.len()).unwrap_or(libc::socklen_t::MAX);
        // SAFETY: buf is valid for writes of len bytes; len is updated.
        let rc =
            unsafe { libc::getsockopt(self.fd(), level, name, buf.as_mut_ptr().cast(), &mut len) };
        if rc != 0 {
            return Err(Error::last_os(format_args!(
                "getsockopt(level {level}, option {name})"
            )));
        }
        Ok(len as usize)
    }

    /// Sets a typed option (POLYSOCK_OPT_*): the option's level, name and
    /// value straight from one match into setsockopt; a value out of
    /// range, an option unknown or missing here, and a failed setsockopt
    /// are reported out of line (`set_opt_checked`, `set_opt_failed`).
    #[inline]
    pub fn set_opt(&self, opt: i32, value: i64) -> Result<()> {
        // Room for the largest value, a timeval.
        let mut buf = [0i64; 2];
        let at = buf.as_mut_ptr();
        let (level, optname, len) = match kind(opt).map(|(_, k)| k) {
            Some(Kind::Int(level, optname)) if i32::try_from(value).is_ok() => {
                // SAFETY: an int fits in the buffer, which is aligned for it.
                unsafe { at.cast::<i32>().write(value as i32) };
                (level, optname, size_of::<i32>())
            }
            Some(Kind::Linger) if (-1..=i64::from(i32::MAX)).contains(&value) => {
                let secs = value as i32;
                let l = libc::linger {
                    l_onoff: i32::from(secs >= 0),
                    l_linger: secs.max(0),
                };
                // SAFETY: as above, for a linger (two ints).
                unsafe { at.cast::<libc::linger>().write(l) };
                (libc::SOL_SOCKET, libc::SO_LINGER, size_of::<libc::linger>())
            }
            Some(Kind::TimeoutMs(optname)) if value >= 0 => {
                let tv = libc::timeval {
                    tv_sec: (value / 1000) as libc::time_t,
                    tv_usec: ((value % 1000) * 1000) as libc::suseconds_t,
                };
                // SAFETY: as above, for a timeval (16 bytes).
                unsafe { at.cast::<libc::timeval>().write(tv) };
                (libc::SOL_SOCKET, optname, size_of::<libc::timeval>())
            }
            _ => return self.set_opt_checked(opt, value),
        };
        // SAFETY: the buffer holds `len` bytes of the option's value.
        let rc = unsafe {
            libc::setsockopt(self.fd(), level, optname, at.cast(), len as libc::socklen_t)
        };
        if rc != 0 {
            return Err(set_opt_failed(opt, value));
        }
        Ok(())
    }

    /// `set_opt` in full, checks first: the error for what the fast path
    /// refused.
    #[cold]
    #[inline(never)]
    fn set_opt_checked(&self, opt: i32, value: i64) -> Result<()> {
        let (name, kind) = typed(opt)?;
        let ctx = |e: Error| Error::new(e.code(), format_args!("setopt({name}, {value})"));
        match kind {
            Kind::Int(level, optname) => {
                let Ok(v) = i32::try_from(value) else {
                    return fail!(libc::EINVAL, "setopt({name}, {value}): value out of range");
                };
                self.set_int(level, optname, v).map_err(ctx)
            }
            Kind::Linger => {
                let Ok(secs) = i32::try_from(value) else {
                    return fail!(libc::EINVAL, "setopt({name}, {value}): value out of range");
                };
                if secs < -1 {
                    return fail!(
                        libc::EINVAL,
                        "setopt({name}, {value}): -1 turns lingering off, 0 or more is seconds"
                    );
                }
                let l = libc::linger {
                    l_onoff: i32::from(secs >= 0),
                    l_linger: secs.max(0),
                };
                self.set_bytes(libc::SOL_SOCKET, libc::SO_LINGER, as_bytes(&l))
                    .map_err(ctx)
            }
            Kind::TimeoutMs(optname) => {
                if value < 0 {
                    return fail!(
                        libc::EINVAL,
                        "setopt({name}, {value}): milliseconds must be 0 (none) or more"
                    );
                }
                let tv = libc::timeval {
                    tv_sec: (value / 1000) as libc::time_t,
                    tv_usec: ((value % 1000) * 1000) as libc::suseconds_t,
                };
                self.set_bytes(libc::SOL_SOCKET, optname, as_bytes(&tv))
                    .map_err(ctx)
            }
            Kind::Missing => fail!(
                libc::ENOPROTOOPT,
                "setopt({name}): not available on this platform"
            ),
        }
    }

    /// Reads a typed option (POLYSOCK_OPT_*).
    pub fn get_opt(&self, opt: i32) -> Result<i64> {
        let (name, kind) = typed(opt)?;
        let ctx = |e: Error| Error::new(e.code(), format_args!("getopt({name})"));
        match kind {
            Kind::Int(level, optname) => self.get_int(level, optname).map(i64::from).map_err(ctx),
            Kind::Linger => {
                let l: libc::linger = self.get_struct(libc::SO_LINGER).map_err(ctx)?;
                Ok(if l.l_onoff != 0 {
                    i64::from(l.l_linger)
                } else {
                    -1
                })
            }
            Kind::TimeoutMs(optname) => {
                let tv: libc::timeval = self.get_struct(optname).map_err(ctx)?;
                Ok(tv.tv_sec as i64 * 1000 + tv.tv_usec as i64 / 1000)
            }
            Kind::Missing => fail!(
                libc::ENOPROTOOPT,
                "getopt({name}): not available on this platform"
            ),
        }
    }

    fn get_struct<T: Copy>(&self, optname: i32) -> Result<T> {
        let mut v = MaybeUninit::<T>::zeroed();
        // SAFETY: viewing T's storage as bytes; T is plain C data.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                v.as_mut_ptr() as *mut MaybeUninit<u8>,
                std::mem::size_of::<T>(),
            )
        };
        self.get_bytes(libc::SOL_SOCKET, optname, bytes)?;
        // SAFETY: zero-initialised and then (partly) written by the kernel;
        // linger and timeval are valid for any bytes.
        Ok(unsafe { v.assume_init() })
    }
}

/// The error of a setsockopt that `set_opt` made and the kernel refused.
#[cold]
#[inline(never)]
fn set_opt_failed(opt: i32, value: i64) -> Error {
    let code = errno::errno().0;
    let name = kind(opt).map_or("?", |(name, _)| name);
    Error::new(code, format_args!("setopt({name}, {value})"))
}

fn typed(opt: i32) -> Result<(&'static str, Kind)> {
    kind(opt).map_or_else(
        || {
            fail!(
                libc::EINVAL,
                "unknown option {opt} (expected a POLYSOCK_OPT_* value)"
            )
        },
        Ok,
    )
}

fn as_bytes<T>(v: &T) -> &[u8] {
    // SAFETY: T is a plain C struct without padding (linger, timeval).
    unsafe { std::slice::from_raw_parts((v as *const T).cast(), std::mem::size_of::<T>()) }
}
