//! rustls's errors as polysock codes, with messages that name the cause:
//! "tls handshake with a.test: certificate expired (notAfter 2020-01-01)",
//! "... hostname mismatch: certificate is for other.test", "... unknown
//! issuer (issuer CN=Other CA)", "... peer sent alert handshake_failure".

use super::verify::take_failed_leaf;
use super::x509;
use crate::core::error::*;
use rustls::{AlertDescription, CertificateError};

/// The polysock error for a rustls failure; `context` says what was being
/// done with whom ("tls handshake with a.test").
pub(crate) fn from_rustls(context: &str, e: &rustls::Error) -> Error {
    use rustls::Error as E;
    let (code, detail) = match e {
        E::InvalidCertificate(c) => certificate(c),
        E::AlertReceived(a) => (POLYSOCK_ETLS_ALERT, format!(" {}", alert_name(*a))),
        E::NoCertificatesPresented => (POLYSOCK_ETLS_CERT_REQUIRED, String::new()),
        E::InvalidMessage(m) => (
            POLYSOCK_ETLS_PROTOCOL,
            format!(" ({m:?}: is the peer speaking TLS?)"),
        ),
        E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::PeerMisbehaved(_)
        | E::DecryptError
        | E::PeerSentOversizedRecord => (POLYSOCK_ETLS_PROTOCOL, format!(" ({e})")),
        E::PeerIncompatible(p) => (POLYSOCK_ETLS_INCOMPATIBLE, format!(" ({p:?})")),
        E::NoApplicationProtocol => (
            POLYSOCK_ETLS_INCOMPATIBLE,
            " (no ALPN protocol in common)".to_string(),
        ),
        e => (POLYSOCK_ETLS, format!(" ({e})")),
    };
    Error::detailed(code, format_args!("{context}"), format_args!("{detail}"))
}

/// The code and the detail of a certificate that failed verification.
fn certificate(c: &CertificateError) -> (i32, String) {
    use CertificateError as C;
    let leaf = take_failed_leaf();
    let cert = leaf.as_deref().and_then(x509::parse);
    let date = |t: Option<i64>| t.map(x509::format_time).unwrap_or_else(|| "?".into());
    match c {
        C::Expired => (
            POLYSOCK_ETLS_CERT_EXPIRED,
            format!(" (notAfter {})", date(cert.as_ref().map(|c| c.not_after))),
        ),
        C::ExpiredContext { not_after, .. } => (
            POLYSOCK_ETLS_CERT_EXPIRED,
            format!(" (notAfter {})", date(Some(not_after.as_secs() as i64))),
        ),
        C::NotValidYet => (
            POLYSOCK_ETLS_CERT_NOT_YET_VALID,
            format!(" (notBefore {})", date(cert.as_ref().map(|c| c.not_before))),
        ),
        C::NotValidYetContext { not_before, .. } => (
            POLYSOCK_ETLS_CERT_NOT_YET_VALID,
            format!(" (notBefore {})", date(Some(not_before.as_secs() as i64))),
        ),
        // The certificate's own names read better than webpki's
        // `presented` list (`DnsName("a.test")`), which is the fallback.
        C::NotValidForName | C::NotValidForNameContext { .. } => (
            POLYSOCK_ETLS_HOSTNAME,
            match (&cert, c) {
                (Some(cert), _) => format!(": certificate is for {}", cert.hosts()),
                (None, C::NotValidForNameContext { presented, .. }) if !presented.is_empty() => {
                    format!(": certificate is for {}", presented.join(", "))
                }
                _ => String::new(),
            },
        ),
        C::UnknownIssuer => match &cert {
            Some(c) if c.self_signed() => (
                POLYSOCK_ETLS_SELF_SIGNED,
                format!(" ({})", x509::name_text(c.subject)),
            ),
            Some(c) => (
                POLYSOCK_ETLS_UNKNOWN_ISSUER,
                format!(" (issuer {})", x509::name_text(c.issuer)),
            ),
            None => (POLYSOCK_ETLS_UNKNOWN_ISSUER, String::new()),
        },
        c => (POLYSOCK_ETLS_BAD_CERT, format!(" ({c:?})")),
    }
}

/// An alert's name as the TLS RFCs write it: "handshake_failure".
pub(crate) fn alert_name(a: AlertDescription) -> String {
    let debug = format!("{a:?}");
    let mut s = String::with_capacity(debug.len() + 4);
    let mut prev_lower = false;
    for ch in debug.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower {
                s.push('_');
            }
            s.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else {
            s.push(ch);
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_snake_case() {
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::BadCertificate),
            "bad_certificate"
        );
        assert_eq!(
            alert_name(AlertDescription::NoApplicationProtocol),
            "no_application_protocol"
        );
    }

    #[test]
    fn messages_name_the_cause() {
        let e = from_rustls(
            "tls handshake with a.test",
            &rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
        );
        assert_eq!(e.code(), POLYSOCK_ETLS_ALERT);
        assert_eq!(
            e.to_string(),
            "tls handshake with a.test: peer sent alert handshake_failure"
        );
        let e = from_rustls(
            "tls handshake with a.test",
            &rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_700_000_000),
                ),
                not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_577_836_800),
                ),
            }),
        );
        assert_eq!(e.code(), POLYSOCK_ETLS_CERT_EXPIRED);
        assert_eq!(
            e.to_string(),
            "tls handshake with a.test: certificate expired (notAfter 2020-01-01)"
        );
    }
}
