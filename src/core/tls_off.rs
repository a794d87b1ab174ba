//! TLS left out (the `tls` feature off: an internal build, for fuzzing,
//! that skips compiling rustls and ring). Every export of the C ABI stays,
//! with the same header: a configuration cannot be made and no socket can
//! be wrapped (EOPNOTSUPP, saying why), so a socket is never a TLS stream
//! and the send/recv paths see `tls()` as None, as for any plain socket.

pub use crate::core::tls_consts::*;

use crate::core::error::{Result, fail};
use crate::core::socket::Socket;
use crate::core::wait::Deadline;
use std::mem::MaybeUninit;
use std::sync::Arc;

fn off<T>(op: &str) -> Result<T> {
    fail!(
        libc::EOPNOTSUPP,
        "{op}: this polysock was built without TLS (the cargo feature `tls` is off)"
    )
}

/// No configuration ever exists in this build.
pub enum TlsConfig {}

/// A TLS configuration as the C ABI sees it.
pub type ConfigId = i64;

/// No socket is ever wrapped in this build.
pub(crate) enum TlsStream {}

impl TlsConfig {
    pub fn new(_side: i32) -> Result<TlsConfig> {
        off("tls_config_new")
    }
    pub fn set_system_roots(&self, _on: bool) {
        match *self {}
    }
    pub fn add_ca_pem(&self, _op: &str, _what: &str, _pem: &[u8]) -> Result<usize> {
        match *self {}
    }
    pub fn set_identity(
        &self,
        _op: &str,
        _chain: (&str, &[u8]),
        _key: (&str, &[u8]),
    ) -> Result<()> {
        match *self {}
    }
    pub fn add_alpn(&self, _proto: &[u8]) -> Result<()> {
        match *self {}
    }
    pub fn set_versions(&self, _min: i32, _max: i32) -> Result<()> {
        match *self {}
    }
    pub fn set_sni(&self, _on: bool) -> Result<()> {
        match *self {}
    }
    pub fn set_resumption(&self, _on: bool) {
        match *self {}
    }
    pub(crate) fn set_verify(&self, _op: &str, _v: Verify) -> Result<()> {
        match *self {}
    }
    pub(crate) fn verify(&self) -> Verify {
        match *self {}
    }
    pub fn set_client_auth(&self, _mode: i32) -> Result<()> {
        match *self {}
    }
}

pub fn insert(c: TlsConfig) -> Result<ConfigId> {
    match c {}
}

pub fn get(op: &str, _id: ConfigId) -> Result<Arc<TlsConfig>> {
    off(op)
}

pub fn free(_id: ConfigId) -> bool {
    false
}

impl TlsStream {
    pub(crate) fn send(
        &self,
        _sock: &Socket,
        _buf: &[u8],
        _flags: i32,
        _deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        match *self {}
    }
    pub(crate) fn recv(
        &self,
        _sock: &Socket,
        _op: &str,
        _buf: &mut [MaybeUninit<u8>],
        _flags: i32,
        _deadline: &mut Option<Deadline>,
    ) -> Result<usize> {
        match *self {}
    }
    pub(crate) fn buffered(&self) -> usize {
        match *self {}
    }
}

impl Socket {
    #[inline]
    pub(crate) fn tls(&self) -> Option<&TlsStream> {
        self.tls.get().map(|b| &**b)
    }
    pub fn tls_wrap(&self, _config: &TlsConfig, _server_name: Option<&str>) -> Result<()> {
        off("tls_wrap")
    }
    pub fn tls_wrap_server(&self, _config: &TlsConfig) -> Result<()> {
        off("tls_wrap_server")
    }
    pub fn tls_handshake(&self) -> Result<()> {
        off("tls_handshake")
    }
    pub fn tls_wants(&self) -> Result<i32> {
        off("tls_wants")
    }

    pub fn tls_unwrap(&self) -> Result<()> {
        off("tls_unwrap")
    }

    pub(crate) fn tls_shutdown(&self, _how: i32) -> Result<()> {
        Ok(())
    }
    pub(crate) fn refuse_tls(&self, _op: &str) -> Result<()> {
        Ok(())
    }
    pub fn tls_state(&self) -> i32 {
        POLYSOCK_TLS_STATE_NONE
    }
    pub fn tls_version(&self) -> Result<i32> {
        off("tls_version")
    }
    pub fn tls_resumed(&self) -> Result<bool> {
        off("tls_resumed")
    }
    pub fn tls_cipher(&self) -> Result<String> {
        off("tls_cipher")
    }
    pub fn tls_alpn(&self) -> Result<Vec<u8>> {
        off("tls_alpn")
    }
    pub fn tls_server_name(&self) -> Result<String> {
        off("tls_server_name")
    }
    pub fn tls_peer_certs(&self) -> Result<Vec<Vec<u8>>> {
        off("tls_peer_certs")
    }
    pub fn tls_peer_subject(&self) -> Result<String> {
        off("tls_peer_subject")
    }
    pub fn tls_peer_issuer(&self) -> Result<String> {
        off("tls_peer_issuer")
    }
    pub fn tls_peer_san(&self) -> Result<Vec<String>> {
        off("tls_peer_san")
    }
    pub fn tls_peer_validity(&self) -> Result<(i64, i64)> {
        off("tls_peer_validity")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{polysock_errno, polysock_last_error};
    use crate::ffi::socket::{polysock_close, polysock_socket};
    use crate::ffi::tls::*;
    use std::ffi::CStr;

    fn says_off(r: i64, op: &str) {
        assert_eq!(r, -1, "{op}");
        assert_eq!(polysock_errno(), libc::EOPNOTSUPP, "{op}");
        let m = unsafe { CStr::from_ptr(polysock_last_error()) }.to_string_lossy();
        assert!(m.starts_with(&format!("{op}: ")), "{m}");
        assert!(m.contains("built without TLS"), "{m}");
    }

    #[test]
    fn tls_off_every_entry_point_says_why() {
        says_off(
            polysock_tls_config_new(POLYSOCK_TLS_CLIENT),
            "tls_config_new",
        );
        // No id can be live: calls taking one say why, not "no such id".
        let alpn = polysock_tls_config_add_alpn(1, c"h2".as_ptr());
        says_off(alpn.into(), "tls_config_add_alpn");
        assert_eq!(polysock_tls_config_free(1), 0);
        let s = polysock_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(s >= 0);
        says_off(
            polysock_tls_wrap(s, 1, c"a.test".as_ptr()).into(),
            "tls_wrap",
        );
        says_off(polysock_tls_handshake(s).into(), "tls_handshake");
        says_off(polysock_tls_unwrap(s).into(), "tls_unwrap");
        says_off(polysock_tls_version(s).into(), "tls_version");
        says_off(polysock_tls_peer_cert_count(s), "tls_peer_certs");
        assert_eq!(polysock_tls_state(s), POLYSOCK_TLS_STATE_NONE);
        assert_eq!(polysock_close(s), 0);
    }
}
