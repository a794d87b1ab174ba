//! The safe Rust core: everything polysock does, with Rust types. The C
//! layer in `ffi/` only converts arguments and records errors.

pub mod addr;
pub mod codes;
pub mod connect;
pub mod constants;
pub mod error;
pub mod handles;
pub mod interrupt;
mod io;
pub mod msg;
pub mod options;
pub mod poll;
pub mod poller;
mod reader;
pub mod resolve;
pub mod ring;
pub mod sendfile;
mod slot;
pub mod socket;
// Without the `tls` feature (an internal build: fuzzing), every TLS export
// stays and fails with EOPNOTSUPP; shipped builds always have TLS.
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(not(feature = "tls"))]
#[path = "tls_off.rs"]
pub mod tls;
mod tls_consts;
pub mod udp;
pub mod wait;

/// Asks the CPU to bring `p`'s cache line in (a hint: it never faults, and
/// changes nothing but timing; a no-op where there is no such instruction).
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only reads, and never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (p as *const T).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
