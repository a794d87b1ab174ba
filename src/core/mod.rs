//! The safe Rust core: everything polysock does, with Rust types. The C
//! layer in `ffi/` only converts arguments and records errors.

pub mod addr;
pub mod codes;
pub mod connect;
pub mod constants;
pub mod error;
pub mod handles;
mod io;
pub mod msg;
pub mod options;
pub mod poll;
pub mod poller;
mod reader;
pub mod resolve;
pub mod ring;
pub mod sendfile;
pub mod socket;
pub mod tls;
pub mod udp;
pub mod wait;
