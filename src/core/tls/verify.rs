//! Certificate verifiers: webpki's, wrapped for two things it lacks. The
//! insecure modes a caller may ask for by name (no hostname check, no
//! check at all), and a note of the certificate that failed, so the error
//! message can say whose certificate it was ("self-signed", "issued by
//! CN=Other CA"). The note is per thread: verification runs inside the
//! call that feeds rustls, on the thread that then reads the note.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};
use std::cell::RefCell;
use std::sync::Arc;

use crate::core::tls_consts::Verify;

thread_local! {
    static FAILED_LEAF: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Remembers (or forgets, on success) the certificate of the verification
/// that just ran on this thread.
fn note<T>(leaf: &CertificateDer<'_>, r: Result<T, Error>) -> Result<T, Error> {
    FAILED_LEAF.with(|f| *f.borrow_mut() = r.is_err().then(|| leaf.to_vec()));
    r
}

/// The certificate whose verification last failed on this thread.
pub(crate) fn take_failed_leaf() -> Option<Vec<u8>> {
    FAILED_LEAF.with(|f| f.borrow_mut().take())
}

#[derive(Debug)]
pub(crate) struct ServerVerifier {
    /// None: verify nothing but the handshake signatures.
    inner: Option<Arc<WebPkiServerVerifier>>,
    mode: Verify,
    provider: Arc<CryptoProvider>,
}

impl ServerVerifier {
    pub(crate) fn webpki(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        mode: Verify,
    ) -> Result<ServerVerifier, rustls::server::VerifierBuilderError> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build()?;
        Ok(ServerVerifier {
            inner: Some(inner),
            mode,
            provider,
        })
    }

    pub(crate) fn nothing(provider: Arc<CryptoProvider>) -> ServerVerifier {
        ServerVerifier {
            inner: None,
            mode: Verify::Nothing,
            provider,
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let r = inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        let r = match r {
            // webpki checks the name last, after the chain and the dates.
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == Verify::NoHostname => Ok(ServerCertVerified::assertion()),
            r => r,
        };
        note(end_entity, r)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// webpki's client-certificate verifier, noting failures.
#[derive(Debug)]
pub(crate) struct ClientVerifier(Arc<dyn ClientCertVerifier>);

impl ClientVerifier {
    pub(crate) fn webpki(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        required: bool,
    ) -> Result<ClientVerifier, rustls::server::VerifierBuilderError> {
        let b = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let b = if required {
            b
        } else {
            b.allow_unauthenticated()
        };
        Ok(ClientVerifier(b.build()?))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        note(
            end_entity,
            self.0.verify_client_cert(end_entity, intermediates, now),
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
