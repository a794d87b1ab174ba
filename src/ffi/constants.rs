//! The constants table, for runtimes that register names at load time.

use super::{boundary, out, req_str, ret, status};
use crate::core::constants;
use crate::core::error::fail;
use std::ffi::c_char;

/// The number of entries in the constants table: the platform's AF_, SOCK_,
/// SOL_, SO_, IPPROTO_, IP_, IPV6_, TCP_, UDP_, MSG_, SHUT_, AI_, NI_, SCM_
/// and INADDR_ values, its E* errno names, polysock's EAI_* and
/// POLYSOCK_E* codes, the POLYSOCK_OPT_* ids, the POLL* event bits of
/// polysock_poll (polysock's values) and the POLYSOCK_POLLER_* flags.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_constant_count() -> i64 {
    boundary! { constants::count() as i64 }
}

/// Entry `index` (0 .. count-1) of the constants table: writes its static
/// name (without the POLYSOCK_ prefix the header macros add, e.g.
/// "AF_INET") to `name` and its value to `value`.
///
/// Returns 0, or -1: EINVAL (`index` out of range, NULL `name` or `value`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_constant_at(
    index: i64,
    name: *mut *const c_char,
    value: *mut i64,
) -> i32 {
    boundary! {
        status((|| {
            let n = out("constant_at", "name", name)?;
            let v = out("constant_at", "value", value)?;
            let Some((cname, cvalue)) = usize::try_from(index).ok().and_then(constants::at) else {
                return fail!(libc::EINVAL, "constant_at: index {index} is outside 0..{}", constants::count());
            };
            *n = cname.as_ptr();
            *v = cvalue;
            Ok(())
        })())
    }
}

/// Looks a constant up by name ("SO_REUSEADDR", "ECONNREFUSED") and writes
/// its value to `value`.
///
/// Returns 0, or -1: ENOENT (the platform has no such constant), EINVAL
/// (NULL `name` or `value`).
#[unsafe(no_mangle)]
pub extern "C" fn polysock_constant_lookup(name: *const c_char, value: *mut i64) -> i32 {
    boundary! {
        ret((|| {
            let key = req_str("constant_lookup", "name", name)?;
            let v = out("constant_lookup", "value", value)?;
            match constants::lookup(key.as_bytes()) {
                Some(found) => {
                    *v = found;
                    Ok(0)
                }
                None => fail!(libc::ENOENT, "constant_lookup: no constant named '{key}' on this platform"),
            }
        })())
    }
}
