//! TLS configurations: what a caller sets (trust, verification, identity,
//! ALPN, versions), kept as plain settings and turned into a rustls config
//! when a socket is first wrapped with them. Configs are known by ids like
//! pollers: generation-checked, so a freed id is EBADF and never reaches
//! another config. A wrapped socket holds its rustls config itself, so
//! freeing or changing a config never disturbs a connection made with it.

use super::verify::{ClientVerifier, ServerVerifier};
use crate::core::error::{Error, POLYSOCK_ETLS_CONFIG, POLYSOCK_ETLS_PEM, Result, fail};
use crate::core::tls_consts::*;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    Client,
    Server,
}

struct Settings {
    system_roots: bool,
    cas: Vec<CertificateDer<'static>>,
    verify: Verify,
    alpn: Vec<Vec<u8>>,
    versions: (u16, u16),
    sni: bool,
    resumption: bool,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    client_auth: i32,
}

/// A rustls config built from the settings, for one side.
#[derive(Clone)]
pub(crate) enum Built {
    Client(Arc<ClientConfig>),
    Server(Arc<ServerConfig>),
}

pub struct TlsConfig {
    side: Side,
    settings: Mutex<Settings>,
    /// Built on first use and dropped by every change, so later wraps see
    /// the change and earlier connections keep what they were made with.
    built: Mutex<Option<Built>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is one assignment: a poisoned lock is consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The one crypto provider: ring, which builds with a C compiler alone
/// (rustls deprecates it for lacking post-quantum key exchange, which only
/// its aws-lc provider has, and that needs cmake and more).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    // X25519 first, as OpenSSL and browsers order it: rustls's ring
    // provider lists P-384 first, whose ring code is generic and was 80% of
    // a client handshake's instructions (callgrind: 13.4 M a handshake).
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    #[allow(deprecated)]
    let make = || {
        let mut p = rustls::crypto::ring::default_provider();
        p.kx_groups = vec![X25519, SECP256R1, SECP384R1];
        Arc::new(p)
    };
    PROVIDER.get_or_init(make).clone()
}

/// The operating system's trust store, read once per process
/// (rustls-native-certs: SSL_CERT_FILE/SSL_CERT_DIR, else the
/// distribution's bundle).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

impl TlsConfig {
    pub fn new(side: i32) -> Result<TlsConfig> {
        let side = match side {
            POLYSOCK_TLS_CLIENT => Side::Client,
            POLYSOCK_TLS_SERVER => Side::Server,
            _ => {
                return fail!(
                    libc::EINVAL,
                    "tls_config_new: side {side} is neither POLYSOCK_TLS_CLIENT nor POLYSOCK_TLS_SERVER"
                );
            }
        };
        Ok(TlsConfig {
            side,
            settings: Mutex::new(Settings {
                system_roots: side == Side::Client,
                cas: Vec::new(),
                verify: Verify::Full,
                alpn: Vec::new(),
                versions: (0, 0),
                sni: true,
                resumption: true,
                identity: None,
                client_auth: POLYSOCK_TLS_CLIENT_AUTH_NONE,
            }),
            built: Mutex::new(None),
        })
    }

    pub(crate) fn side(&self) -> Side {
        self.side
    }

    /// Changes the settings; the next wrap builds a new rustls config.
    fn change(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut lock(&self.settings));
        *lock(&self.built) = None;
    }

    fn client_only(&self, op: &str) -> Result<()> {
        if self.side != Side::Client {
            return fail!(libc::EINVAL, "{op}: only for client configurations");
        }
        Ok(())
    }

    pub fn set_system_roots(&self, on: bool) {
        self.change(|s| s.system_roots = on);
    }

    /// Trusts the CA certificates in `pem` (for a server: the CAs client
    /// certificates must lead to). `what` names the source for messages.
    pub fn add_ca_pem(&self, op: &str, what: &str, pem: &[u8]) -> Result<usize> {
        let certs = certs_from_pem(op, what, pem)?;
        let mut check = RootCertStore::empty();
        for (i, c) in certs.iter().enumerate() {
            if let Err(e) = check.add(c.clone()) {
                return fail!(
                    POLYSOCK_ETLS_PEM,
                    "{op}: certificate {} of {what} cannot be a trust anchor ({e})",
                    i + 1
                );
            }
        }
        let n = certs.len();
        self.change(|s| s.cas.extend(certs));
        Ok(n)
    }

    /// The certificate chain (leaf first) and private key this side shows.
    pub fn set_identity(&self, op: &str, chain: (&str, &[u8]), key: (&str, &[u8])) -> Result<()> {
        let certs = certs_from_pem(op, chain.0, chain.1)?;
        let pk = match PrivateKeyDer::from_pem_slice(key.1) {
            Ok(k) => k,
            Err(e) => {
                return fail!(
                    POLYSOCK_ETLS_PEM,
                    "{op}: no private key in {} ({})",
                    key.0,
                    pem_error(&e)
                );
            }
        };
        if let Err(e) =
            rustls::sign::CertifiedKey::from_der(certs.clone(), pk.clone_key(), &provider())
        {
            let why = match e {
                rustls::Error::InconsistentKeys(_) => {
                    format!(
                        "the key in {} does not match the certificate in {}",
                        key.0, chain.0
                    )
                }
                e => format!("the key in {} cannot be used ({e})", key.0),
            };
            return fail!(POLYSOCK_ETLS_CONFIG, "{op}: {why}");
        }
        self.change(|s| s.identity = Some((certs, pk)));
        Ok(())
    }

    pub fn add_alpn(&self, proto: &[u8]) -> Result<()> {
        if proto.is_empty() || proto.len() > 255 {
            return fail!(
                libc::EINVAL,
                "tls_config_add_alpn: a protocol name has 1 to 255 bytes, not {}",
                proto.len()
            );
        }
        self.change(|s| s.alpn.push(proto.to_vec()));
        Ok(())
    }

    pub fn set_versions(&self, min: i32, max: i32) -> Result<()> {
        let check = |v: i32| match v {
            0 | POLYSOCK_TLS_1_2 | POLYSOCK_TLS_1_3 => Ok(v as u16),
            _ => fail!(
                libc::EINVAL,
                "tls_config_versions: {v:#x} is not POLYSOCK_TLS_1_2, POLYSOCK_TLS_1_3 or 0"
            ),
        };
        let (lo, hi) = (check(min)?, check(max)?);
        if lo != 0 && hi != 0 && lo > hi {
            return fail!(
                libc::EINVAL,
                "tls_config_versions: the minimum {min:#x} is above the maximum {max:#x}"
            );
        }
        self.change(|s| s.versions = (lo, hi));
        Ok(())
    }

    pub fn set_sni(&self, on: bool) -> Result<()> {
        self.client_only("tls_config_sni")?;
        self.change(|s| s.sni = on);
        Ok(())
    }

    /// Session resumption: a client keeps the sessions its servers offer
    /// (rustls's in-memory cache, 256 per configuration) and resumes them;
    /// a server keeps 256 and sends two TLS 1.3 tickets per handshake. Off:
    /// every handshake is a full one.
    pub fn set_resumption(&self, on: bool) {
        self.change(|s| s.resumption = on);
    }

    pub(crate) fn set_verify(&self, op: &str, v: Verify) -> Result<()> {
        self.client_only(op)?;
        self.change(|s| s.verify = v);
        Ok(())
    }

    pub(crate) fn verify(&self) -> Verify {
        lock(&self.settings).verify
    }

    pub fn set_client_auth(&self, mode: i32) -> Result<()> {
        if self.side != Side::Server {
            return fail!(
                libc::EINVAL,
                "tls_config_client_auth: only for server configurations (a client shows its certificate with polysock_tls_config_cert_*)"
            );
        }
        if !(POLYSOCK_TLS_CLIENT_AUTH_NONE..=POLYSOCK_TLS_CLIENT_AUTH_REQUIRED).contains(&mode) {
            return fail!(
                libc::EINVAL,
                "tls_config_client_auth: mode {mode} is not POLYSOCK_TLS_CLIENT_AUTH_NONE, _OPTIONAL or _REQUIRED"
            );
        }
        self.change(|s| s.client_auth = mode);
        Ok(())
    }

    /// The rustls config for a new connection, built if the settings
    /// changed since the last one.
    pub(crate) fn built(&self, op: &str) -> Result<Built> {
        let mut built = lock(&self.built);
        if let Some(b) = built.as_ref() {
            return Ok(b.clone());
        }
        let s = lock(&self.settings);
        let b = match self.side {
            Side::Client => Built::Client(Arc::new(build_client(op, &s)?)),
            Side::Server => Built::Server(Arc::new(build_server(op, &s)?)),
        };
        *built = Some(b.clone());
        Ok(b)
    }
}

fn versions(s: &Settings) -> Vec<&'static SupportedProtocolVersion> {
    let (lo, hi) = s.versions;
    let mut v = Vec::new();
    if hi == 0 || hi >= POLYSOCK_TLS_1_3 as u16 {
        v.push(&rustls::version::TLS13);
    }
    if lo == 0 || lo <= POLYSOCK_TLS_1_2 as u16 {
        v.push(&rustls::version::TLS12);
    }
    v
}

fn config_err(op: &str, e: impl std::fmt::Display) -> Error {
    Error::new(POLYSOCK_ETLS_CONFIG, format_args!("{op}: {e}"))
}

/// The trust anchors: the added CAs, and the system's if asked for.
fn roots(s: &Settings) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    if s.system_roots {
        roots.add_parsable_certificates(system_roots().iter().cloned());
    }
    for c in &s.cas {
        let _ = roots.add(c.clone()); // checked when added
    }
    roots
}

fn build_client(op: &str, s: &Settings) -> Result<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(s))
        .map_err(|e| config_err(op, e))?;
    let verifier = match s.verify {
        Verify::Nothing => ServerVerifier::nothing(provider()),
        v => {
            let roots = roots(s);
            if roots.is_empty() {
                return fail!(
                    POLYSOCK_ETLS_CONFIG,
                    "{op}: no trusted CA: {} and none was added (polysock_tls_config_add_ca_file)",
                    if s.system_roots {
                        "the system trust store has none"
                    } else {
                        "the system trust store is off"
                    }
                );
            }
            ServerVerifier::webpki(Arc::new(roots), provider(), v).map_err(|e| config_err(op, e))?
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut c = match &s.identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| config_err(op, e))?,
        None => builder.with_no_client_auth(),
    };
    c.alpn_protocols = s.alpn.clone();
    c.enable_sni = s.sni;
    if !s.resumption {
        c.resumption = rustls::client::Resumption::disabled();
    }
    Ok(c)
}

fn build_server(op: &str, s: &Settings) -> Result<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(s))
        .map_err(|e| config_err(op, e))?;
    let builder = if s.client_auth == POLYSOCK_TLS_CLIENT_AUTH_NONE {
        builder.with_no_client_auth()
    } else {
        let roots = roots(s);
        if roots.is_empty() {
            return fail!(
                POLYSOCK_ETLS_CONFIG,
                "{op}: client certificates are verified but no CA was added (polysock_tls_config_add_ca_file)"
            );
        }
        let v = ClientVerifier::webpki(
            Arc::new(roots),
            provider(),
            s.client_auth == POLYSOCK_TLS_CLIENT_AUTH_REQUIRED,
        )
        .map_err(|e| config_err(op, e))?;
        builder.with_client_cert_verifier(Arc::new(v))
    };
    let Some((chain, key)) = &s.identity else {
        return fail!(
            POLYSOCK_ETLS_CONFIG,
            "{op}: the server configuration has no certificate (polysock_tls_config_cert_file)"
        );
    };
    let mut c = builder
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| config_err(op, e))?;
    c.alpn_protocols = s.alpn.clone();
    if !s.resumption {
        c.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        c.send_tls13_tickets = 0;
    }
    Ok(c)
}

/// Every certificate in `pem`; at least one.
fn certs_from_pem(op: &str, what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem) {
        match c {
            Ok(c) => certs.push(c),
            Err(e) => return fail!(POLYSOCK_ETLS_PEM, "{op}: {what}: {}", pem_error(&e)),
        }
    }
    if certs.is_empty() {
        return fail!(
            POLYSOCK_ETLS_PEM,
            "{op}: no \"BEGIN CERTIFICATE\" block in {what}"
        );
    }
    Ok(certs)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::NoItemsFound => "no PEM block of that kind".to_string(),
        e => format!("bad PEM: {e:?}"),
    }
}

// The table of configs: an id is `generation << 32 | 3 << 30 | index`.
// Bit 31 keeps ids apart from socket handles (whose low 32 bits are an fd
// below 2^31), bit 30 from poller ids (whose index is below 2^12).

/// A TLS configuration as the C ABI sees it.
pub type ConfigId = i64;

const ID_TAG: i64 = 3 << 30;
const MAX_CONFIGS: usize = 1 << 20;
const GEN_MAX: u32 = (1 << 21) - 1;

struct CSlot {
    generation: u32,
    config: Option<Arc<TlsConfig>>,
}

/// Config calls are never on a data path: one lock for the table is enough.
static CONFIGS: Mutex<Vec<CSlot>> = Mutex::new(Vec::new());

fn split(id: ConfigId) -> Option<(usize, u32)> {
    if !(0..1 << 53).contains(&id) || id & ID_TAG != ID_TAG {
        return None;
    }
    let index = (id & ((1 << 30) - 1)) as usize;
    let generation = (id >> 32) as u32;
    (generation != 0).then_some((index, generation))
}

/// Registers a config and issues its id.
pub fn insert(c: TlsConfig) -> Result<ConfigId> {
    let mut t = lock(&CONFIGS);
    let i = match t.iter().position(|s| s.config.is_none()) {
        Some(i) => i,
        None if t.len() < MAX_CONFIGS => {
            t.push(CSlot {
                generation: 0,
                config: None,
            });
            t.len() - 1
        }
        None => {
            return fail!(
                libc::EMFILE,
                "tls_config_new: {MAX_CONFIGS} configurations are in use"
            );
        }
    };
    let s = &mut t[i];
    s.generation = if s.generation >= GEN_MAX {
        1
    } else {
        s.generation + 1
    };
    s.config = Some(Arc::new(c));
    Ok((i64::from(s.generation) << 32) | ID_TAG | i as i64)
}

/// The config behind a live id, or EBADF.
pub fn get(op: &str, id: ConfigId) -> Result<Arc<TlsConfig>> {
    if let Some((i, generation)) = split(id) {
        if let Some(CSlot {
            generation: g,
            config: Some(c),
        }) = lock(&CONFIGS).get(i)
        {
            if *g == generation {
                return Ok(c.clone());
            }
        }
    }
    fail!(
        libc::EBADF,
        "{op}: {id} is not a live TLS configuration (freed, or never made)"
    )
}

/// Frees a config id; false when it was not live.
pub fn free(id: ConfigId) -> bool {
    let Some((i, generation)) = split(id) else {
        return false;
    };
    let mut t = lock(&CONFIGS);
    match t.get_mut(i) {
        Some(s) if s.generation == generation => s.config.take().is_some(),
        _ => false,
    }
}
