//! What a TLS session negotiated and who the peer is: version, cipher
//! suite, ALPN protocol, server name, and the peer's certificates (DER,
//! and described: subject, issuer, subjectAltName, validity).

use super::{Side, TlsStream, x509};
use crate::core::error::{Result, fail};
use crate::core::socket::Socket;
use crate::core::tls_consts::*;
use rustls::HandshakeKind;

impl TlsStream {
    /// Runs `f` on the session once the handshake is complete.
    fn established<T>(
        &self,
        op: &str,
        f: impl FnOnce(&rustls::Connection) -> Result<T>,
    ) -> Result<T> {
        let c = self.lock();
        if c.tls.is_handshaking() {
            return fail!(
                libc::ENOTCONN,
                "{op}: the TLS handshake has not completed (polysock_tls_handshake)"
            );
        }
        f(&c.tls)
    }
}

impl Socket {
    /// POLYSOCK_TLS_STATE_*.
    pub fn tls_state(&self) -> i32 {
        let Some(t) = self.tls() else {
            return POLYSOCK_TLS_STATE_NONE;
        };
        let c = t.lock();
        if c.failed.is_some() {
            POLYSOCK_TLS_STATE_FAILED
        } else if c.tls.is_handshaking() {
            POLYSOCK_TLS_STATE_HANDSHAKE
        } else if c.closed_write || c.peer_closed {
            POLYSOCK_TLS_STATE_CLOSED
        } else {
            POLYSOCK_TLS_STATE_OPEN
        }
    }

    /// The negotiated version: POLYSOCK_TLS_1_2 or POLYSOCK_TLS_1_3.
    pub fn tls_version(&self) -> Result<i32> {
        let op = "tls_version";
        self.tls_stream(op)?
            .established(op, |c| match c.protocol_version() {
                Some(v) => Ok(i32::from(u16::from(v))),
                None => fail!(libc::ENOTCONN, "{op}: no version was negotiated"),
            })
    }

    /// Whether the handshake resumed an earlier session (no certificate
    /// was exchanged).
    pub fn tls_resumed(&self) -> Result<bool> {
        let op = "tls_resumed";
        self.tls_stream(op)?.established(op, |c| {
            Ok(c.handshake_kind() == Some(HandshakeKind::Resumed))
        })
    }

    /// The negotiated cipher suite's IANA name ("TLS_AES_256_GCM_SHA384",
    /// "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").
    pub fn tls_cipher(&self) -> Result<String> {
        let op = "tls_cipher";
        self.tls_stream(op)?
            .established(op, |c| match c.negotiated_cipher_suite() {
                Some(s) => {
                    let name = s.suite().as_str().unwrap_or("unknown");
                    Ok(match name.strip_prefix("TLS13_") {
                        Some(rest) => format!("TLS_{rest}"),
                        None => name.to_string(),
                    })
                }
                None => fail!(libc::ENOTCONN, "{op}: no cipher suite was negotiated"),
            })
    }

    /// The ALPN protocol both sides chose; empty when none was.
    pub fn tls_alpn(&self) -> Result<Vec<u8>> {
        let op = "tls_alpn";
        self.tls_stream(op)?
            .established(op, |c| Ok(c.alpn_protocol().unwrap_or(&[]).to_vec()))
    }

    /// A client's: the name it asked for; a server's: the name the client
    /// sent (SNI), empty when it sent none.
    pub fn tls_server_name(&self) -> Result<String> {
        let t = self.tls_stream("tls_server_name")?;
        let c = t.lock();
        Ok(match (&c.tls, t.side) {
            (rustls::Connection::Server(s), _) => s.server_name().unwrap_or("").to_string(),
            (_, Side::Client) => t.peer.to_string(),
            _ => String::new(),
        })
    }

    /// The peer's certificate chain as it sent it (DER, leaf first); empty
    /// when it sent none.
    pub fn tls_peer_certs(&self) -> Result<Vec<Vec<u8>>> {
        let op = "tls_peer_cert";
        self.tls_stream(op)?.established(op, |c| {
            Ok(c.peer_certificates()
                .unwrap_or(&[])
                .iter()
                .map(|d| d.to_vec())
                .collect())
        })
    }

    /// Runs `f` on the peer's leaf certificate, described.
    fn with_peer_leaf<T>(&self, op: &str, f: impl FnOnce(&x509::Cert) -> T) -> Result<T> {
        let certs = self.tls_peer_certs()?;
        let Some(leaf) = certs.first() else {
            return fail!(libc::ENOENT, "{op}: the peer sent no certificate");
        };
        match x509::parse(leaf) {
            Some(c) => Ok(f(&c)),
            None => fail!(
                crate::core::error::POLYSOCK_ETLS_BAD_CERT,
                "{op}: the peer's certificate could not be read"
            ),
        }
    }

    /// The peer certificate's subject as RFC 4514 text ("CN=a.test,O=X").
    pub fn tls_peer_subject(&self) -> Result<String> {
        self.with_peer_leaf("tls_peer_subject", |c| x509::name_text(c.subject))
    }

    /// The peer certificate's issuer as RFC 4514 text.
    pub fn tls_peer_issuer(&self) -> Result<String> {
        self.with_peer_leaf("tls_peer_issuer", |c| x509::name_text(c.issuer))
    }

    /// The peer certificate's subjectAltName entries ("DNS:a.test",
    /// "IP:127.0.0.1", ...).
    pub fn tls_peer_san(&self) -> Result<Vec<String>> {
        self.with_peer_leaf("tls_peer_san", |c| c.san())
    }

    /// The peer certificate's notBefore and notAfter, in Unix seconds.
    pub fn tls_peer_validity(&self) -> Result<(i64, i64)> {
        self.with_peer_leaf("tls_peer_validity", |c| (c.not_before, c.not_after))
    }
}
