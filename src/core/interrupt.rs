//! The host's say on signals (PEP 475 style). Without a hook, EINTR
//! resumes every blocking wait with the time that remains. A runtime whose
//! signal handlers must run during the wait (CPython's, which may raise)
//! sets a hook: polysock calls it after each EINTR, in the interrupted
//! thread, and a nonzero answer ends the call with EINTR.
//!
//! A signal that lands after a blocking send (or recv) moved some bytes
//! makes it return that count, not EINTR, so a loop that goes on after a
//! short transfer (sendall, recv_exact, sendfile, send_segments) asks the
//! hook there too (`check_progress`), as CPython's sendall checks signals
//! between chunks.
//!
//! The hook and its context are read together under a sequence counter:
//! no lock, no allocation, and only after an EINTR or a short transfer.

use super::error::{Result, fail};
use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

/// The hook: 0 resumes the wait, nonzero ends the call with EINTR.
pub type Hook = unsafe extern "C" fn(ctx: *mut c_void) -> i32;

static SEQ: AtomicUsize = AtomicUsize::new(0);
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static CTX: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Sets (or with None removes) the hook.
///
/// # Safety
/// `hook` must be callable with `ctx` from any thread that blocks in
/// polysock, for as long as it is set (and for calls already in flight).
pub unsafe fn set(hook: Option<Hook>, ctx: *mut c_void) {
    // Writers take the counter from even to odd, one at a time.
    let mut s = SEQ.load(Ordering::Relaxed);
    loop {
        if s & 1 == 1 {
            std::hint::spin_loop();
            s = SEQ.load(Ordering::Relaxed);
            continue;
        }
        match SEQ.compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => s = now,
        }
    }
    fence(Ordering::Release);
    let raw = hook.map_or(std::ptr::null_mut(), |h| h as *mut ());
    HOOK.store(raw, Ordering::Relaxed);
    CTX.store(ctx, Ordering::Relaxed);
    SEQ.store(s + 2, Ordering::Release);
}

/// The hook and context as one consistent pair.
fn load() -> Option<(Hook, *mut c_void)> {
    loop {
        let s = SEQ.load(Ordering::Acquire);
        if s & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let raw = HOOK.load(Ordering::Relaxed);
        let ctx = CTX.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if SEQ.load(Ordering::Relaxed) != s {
            continue;
        }
        if raw.is_null() {
            return None;
        }
        // SAFETY: a non-null HOOK was stored from a `Hook` by `set`.
        let hook = unsafe { std::mem::transmute::<*mut (), Hook>(raw) };
        return Some((hook, ctx));
    }
}

/// Called after an EINTR in a blocking wait of `op` (empty when the
/// caller names the operation itself): Ok to resume, or the EINTR failure
/// the hook asked for.
pub fn check(op: &str) -> Result<()> {
    let Some((hook, ctx)) = load() else {
        return Ok(());
    };
    // SAFETY: `set`'s caller promised the pair is callable from here.
    if unsafe { hook(ctx) } != 0 {
        return if op.is_empty() {
            fail!(libc::EINTR, "interrupted by a signal")
        } else {
            fail!(libc::EINTR, "{op}: interrupted by a signal")
        };
    }
    Ok(())
}

/// Called where a loop goes on after a short transfer (the signal may have
/// cut it short): without a hook this is one atomic load.
pub fn check_progress(op: &str) -> Result<()> {
    if HOOK.load(Ordering::Relaxed).is_null() {
        return Ok(());
    }
    check(op)
}
