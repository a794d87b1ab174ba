//! polysock: BSD sockets implemented once, safely, behind a small stable C
//! ABI that every language runtime can load.
//!
//! Layout: `core` is the safe Rust implementation; `ffi` is the thin
//! `extern "C"` layer over it, from which cbindgen generates
//! `include/polysock.h`.

pub mod core;
pub mod ffi;
