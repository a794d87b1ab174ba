//! Per-thread last error, error texts, and the version.

use super::boundary;
use crate::core::codes;
use crate::core::error::{Error, POLYSOCK_EPANIC, POLYSOCK_ERR_BASE, format_into};
use std::cell::RefCell;
use std::ffi::c_char;

/// The last failure on this thread. The message text is formatted only
/// when asked for, so recording an error (EAGAIN in an event loop) only
/// moves it in (the one it replaces gives its buffer back as a spare).
struct LastError {
    error: Error,
    /// The formatted message; `formatted` says whether it is current.
    message: [u8; 512],
    formatted: bool,
}

thread_local! {
    static LAST: RefCell<LastError> = const {
        RefCell::new(LastError { error: Error::none(), message: [0; 512], formatted: false })
    };
}

pub(crate) fn record(e: Error) {
    let code = e.code();
    LAST.with(|l| {
        let mut l = l.borrow_mut();
        let old = std::mem::replace(&mut l.error, e);
        l.formatted = false;
        // Dropped outside the borrow: its Drop gives the buffer back.
        drop(l);
        drop(old);
    });
    if code < POLYSOCK_ERR_BASE {
        errno::set_errno(errno::Errno(code));
    }
}

pub(crate) fn caught_panic<T: super::Failure>() -> T {
    record(Error::new(
        POLYSOCK_EPANIC,
        format_args!("internal error (please report it)"),
    ));
    T::failure()
}

/// The code of the last failed call on this thread: an errno value
/// (ECONNREFUSED...) or one of polysock's codes (POLYSOCK_EAI_*,
/// POLYSOCK_EPANIC, POLYSOCK_EEOF), all >= POLYSOCK_ERR_BASE. 0 if no call
/// on this thread has failed yet. Successful calls leave it unchanged: test
/// a call's return value, never this, to learn whether it failed.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_errno() -> i32 {
    boundary! { LAST.with(|l| l.borrow().error.code()) }
}

/// A message for the last failed call on this thread, with its context:
/// "connect 127.0.0.1:4000: Connection refused". Never NULL; "" if nothing
/// has failed yet. The text belongs to the thread and stays valid until the
/// next polysock call on this thread fails.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_last_error() -> *const c_char {
    boundary! {
        LAST.with(|l| {
            let mut l = l.borrow_mut();
            if !l.formatted {
                let LastError { error, message, .. } = &mut *l;
                let last = message.len() - 1;
                let n = match error.code() {
                    0 => 0,
                    _ => format_into(&mut message[..last], format_args!("{error}")).len(),
                };
                message[n] = 0;
                l.formatted = true;
            }
            l.message.as_ptr() as *const c_char
        })
    }
}

/// A static description of any code: "Connection refused" for
/// ECONNREFUSED, the resolver's text for POLYSOCK_EAI_*, "Success" for 0,
/// "Unknown error" for a value that is no code. Never NULL; thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_strerror(code: i32) -> *const c_char {
    boundary! { codes::describe_cstr(code).as_ptr() }
}

/// The symbolic name of any code: "ECONNREFUSED", "EAI_NONAME",
/// "POLYSOCK_EPANIC"; "OK" for 0; "EUNKNOWN" otherwise. Bindings should
/// show and compare names: numbers differ between platforms. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_errname(code: i32) -> *const c_char {
    boundary! { codes::name_cstr(code).as_ptr() }
}

/// polysock's version, "MAJOR.MINOR.PATCH", the same as the
/// POLYSOCK_VERSION_* macros of the header it was built with.
#[unsafe(no_mangle)]
pub extern "C" fn polysock_version() -> *const c_char {
    boundary! { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char }
}
