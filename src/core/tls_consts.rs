//! The TLS constants of the C ABI and the verification modes, in one place
//! for both builds of `tls`: with the `tls` feature (tls/) and without
//! (tls_off.rs), which re-export them.

/// polysock_tls_config_new: a client configuration.
pub const POLYSOCK_TLS_CLIENT: i32 = 1;
/// polysock_tls_config_new: a server configuration.
pub const POLYSOCK_TLS_SERVER: i32 = 2;
/// TLS 1.2, as its version number on the wire.
pub const POLYSOCK_TLS_1_2: i32 = 0x0303;
/// TLS 1.3, as its version number on the wire.
pub const POLYSOCK_TLS_1_3: i32 = 0x0304;
/// polysock_tls_config_client_auth: ask clients for no certificate.
pub const POLYSOCK_TLS_CLIENT_AUTH_NONE: i32 = 0;
/// polysock_tls_config_client_auth: verify a client certificate when the
/// client sends one.
pub const POLYSOCK_TLS_CLIENT_AUTH_OPTIONAL: i32 = 1;
/// polysock_tls_config_client_auth: refuse clients without a valid
/// certificate.
pub const POLYSOCK_TLS_CLIENT_AUTH_REQUIRED: i32 = 2;

/// polysock_tls_state: a plain socket (never wrapped).
pub const POLYSOCK_TLS_STATE_NONE: i32 = 0;
/// polysock_tls_state: wrapped; the handshake has not completed.
pub const POLYSOCK_TLS_STATE_HANDSHAKE: i32 = 1;
/// polysock_tls_state: the handshake is done; data flows.
pub const POLYSOCK_TLS_STATE_OPEN: i32 = 2;
/// polysock_tls_state: close_notify was sent or received.
pub const POLYSOCK_TLS_STATE_CLOSED: i32 = 3;
/// polysock_tls_state: a fatal TLS error ended the session.
pub const POLYSOCK_TLS_STATE_FAILED: i32 = 4;

/// What a client checks of the server's certificate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))] // no config to set it
pub(crate) enum Verify {
    /// The chain to a trusted CA, the validity dates, and the host name.
    Full,
    /// All but the host name (polysock_tls_config_insecure_skip_hostname_check).
    NoHostname,
    /// Nothing (polysock_tls_config_insecure_skip_verify).
    Nothing,
}
