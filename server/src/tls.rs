//! TLS termination with [rustls], for serving HTTPS and `wss://` directly.
//!
//! Two ways to get a [`TlsAcceptor`]:
//!
//! - [`acceptor_from_files`]: a PEM certificate chain and a PEM private key, as issued by a
//!   CA or an ACME client (the usual production setup);
//! - [`self_signed`] then [`acceptor_from_pem`]: a throwaway certificate for development
//!   (`--https`), valid for `localhost`, `127.0.0.1`, `::1` and any extra host names.
//!
//! The acceptor:
//!
//! - uses the `ring` crypto provider, chosen explicitly through
//!   [`ServerConfig::builder_with_provider`], so it neither depends on nor panics about
//!   the process-wide default provider (even if another crate compiles one in);
//! - offers TLS 1.3 and TLS 1.2 with rustls' safe default cipher suites;
//! - asks for no client certificate;
//! - advertises ALPN `http/1.1` only: herald speaks HTTP/1.1, and WebSocket upgrades need
//!   it. A client that offers ALPN but not `http/1.1` (an `h2`-only client) is refused
//!   during the handshake; a client that offers no ALPN at all is accepted.
//!
//! Wrapping accepted connections: do the handshake in the per-connection task (never in
//! the accept loop, so a slow client cannot stall others), under a timeout, then hand the
//! TLS stream to hyper exactly like a plain TCP stream:
//!
//! ```no_run
//! # async fn example(listener: tokio::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
//! let acceptor = herald::tls::acceptor_from_files(
//!     "/etc/herald/fullchain.pem".as_ref(),
//!     "/etc/herald/privkey.pem".as_ref(),
//! )?;
//! let (tcp, _peer) = listener.accept().await?;
//! let acceptor = acceptor.clone();
//! tokio::spawn(async move {
//!     let handshake = acceptor.accept(tcp);
//!     let Ok(Ok(tls)) = tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await
//!     else {
//!         return; // handshake failed or timed out
//!     };
//!     // serve `hyper_util::rt::TokioIo::new(tls)` with hyper's http1 builder
//!     # drop(tls);
//! });
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use tokio_rustls::TlsAcceptor;

/// The only application protocol herald negotiates through ALPN.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Why a TLS acceptor or a development certificate could not be made.
///
/// Every message names the file (or PEM text) at fault. `origin`, `cert` and `key` fields
/// hold a file path as displayed, or a description such as `the certificate PEM` when the
/// input was PEM text.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be opened or read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// A PEM section is malformed (bad base64, a missing `END` line, …).
    Pem {
        /// The file or text.
        origin: String,
        /// What the PEM parser reported.
        detail: String,
    },
    /// No `CERTIFICATE` section was found.
    NoCertificate {
        /// The file or text.
        origin: String,
    },
    /// No unencrypted PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`) section was found.
    NoPrivateKey {
        /// The file or text.
        origin: String,
    },
    /// The private key is not the one the (first) certificate was issued for.
    KeyMismatch {
        /// Where the certificate chain came from.
        cert: String,
        /// Where the key came from.
        key: String,
    },
    /// rustls refused the certificate or key for another reason (an unsupported key type,
    /// a certificate that is not valid DER, …).
    Rejected {
        /// Where the certificate chain came from.
        cert: String,
        /// Where the key came from.
        key: String,
        /// What rustls reported.
        detail: String,
    },
    /// A self-signed certificate could not be generated (for example a host name that is
    /// not ASCII).
    Generate {
        /// What rcgen reported.
        detail: String,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            Self::Pem { origin, detail } => write!(f, "malformed PEM in {origin}: {detail}"),
            Self::NoCertificate { origin } => write!(
                f,
                "no certificate in {origin} (expected a PEM \"CERTIFICATE\" section)"
            ),
            Self::NoPrivateKey { origin } => write!(
                f,
                "no private key in {origin} (expected an unencrypted PEM \"PRIVATE KEY\", \
                 \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" section)"
            ),
            Self::KeyMismatch { cert, key } => write!(
                f,
                "the key does not match the certificate (key from {key}, certificate from {cert})"
            ),
            Self::Rejected { cert, key, detail } => write!(
                f,
                "cannot use the certificate from {cert} with the key from {key}: {detail}"
            ),
            Self::Generate { detail } => {
                write!(f, "cannot generate a self-signed certificate: {detail}")
            }
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where PEM input came from, for error messages.
#[derive(Clone, Copy)]
enum Origin<'a> {
    File(&'a Path),
    Text(&'static str),
}

impl Origin<'_> {
    fn name(self) -> String {
        match self {
            Origin::File(p) => p.display().to_string(),
            Origin::Text(what) => what.to_string(),
        }
    }

    fn pem_error(self, e: pem::Error) -> TlsError {
        match (self, e) {
            (Origin::File(path), pem::Error::Io(error)) => TlsError::Read {
                path: path.to_path_buf(),
                error,
            },
            (_, e) => TlsError::Pem {
                origin: self.name(),
                detail: e.to_string(),
            },
        }
    }
}

/// Builds an acceptor from a PEM certificate chain file and a PEM private key file.
///
/// `cert` holds the server certificate first, then any intermediates (a "fullchain"
/// file); other PEM sections in it are ignored. `key` holds the private key as unencrypted
/// PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first key found is used. Both may be the same
/// file. The files are read once, here.
///
/// # Errors
///
/// [`TlsError::Read`] if a file cannot be read, [`TlsError::Pem`] if it is malformed,
/// [`TlsError::NoCertificate`] / [`TlsError::NoPrivateKey`] if a section is missing,
/// [`TlsError::KeyMismatch`] if the key does not belong to the certificate and
/// [`TlsError::Rejected`] if rustls cannot use them otherwise.
pub fn acceptor_from_files(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_origin = Origin::File(cert);
    let key_origin = Origin::File(key);
    let certs = collect_certs(
        CertificateDer::pem_file_iter(cert).map_err(|e| cert_origin.pem_error(e))?,
        cert_origin,
    )?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| key_error(key_origin, e))?;
    build(certs, key_der, cert_origin, key_origin)
}

/// Builds an acceptor from a PEM certificate chain and a PEM private key held in memory,
/// such as the pair [`self_signed`] returns.
///
/// The formats accepted are those of [`acceptor_from_files`].
///
/// # Errors
///
/// As for [`acceptor_from_files`], except that there is no [`TlsError::Read`].
pub fn acceptor_from_pem(cert_pem: &str, key_pem: &str) -> Result<TlsAcceptor, TlsError> {
    let cert_origin = Origin::Text("the certificate PEM");
    let key_origin = Origin::Text("the private key PEM");
    let certs = collect_certs(
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()),
        cert_origin,
    )?;
    let key_der =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| key_error(key_origin, e))?;
    build(certs, key_der, cert_origin, key_origin)
}

/// Generates a self-signed certificate and its private key, both PEM, for development
/// (`--https`).
///
/// The certificate is valid for `localhost`, `127.0.0.1` and `::1` plus `hosts` (DNS
/// names such as `dev.example.test` or `*.example.test`, or IP addresses; an IPv6
/// address may be bracketed; blanks and duplicates are skipped). It is an end-entity
/// certificate for TLS servers (ECDSA P-256, extended key usage `serverAuth`), valid from a
/// day ago for 365 days, so clients that trust it explicitly — a test's root store, a
/// browser exception, `curl --cacert` — accept it. A fresh key pair is made on every call.
///
/// Returns `(certificate_pem, private_key_pem)`; the key is PKCS#8.
///
/// # Errors
///
/// [`TlsError::Generate`] if a host name cannot be encoded (it is not ASCII) or key
/// generation fails.
pub fn self_signed(hosts: &[String]) -> Result<(String, String), TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate {
        detail: e.to_string(),
    };
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    for host in hosts {
        let host = host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if !host.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
            names.push(host.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(generate)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "herald development certificate");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn collect_certs(
    sections: impl Iterator<Item = Result<CertificateDer<'static>, pem::Error>>,
    origin: Origin<'_>,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = sections
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| origin.pem_error(e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            origin: origin.name(),
        });
    }
    Ok(certs)
}

fn key_error(origin: Origin<'_>, e: pem::Error) -> TlsError {
    match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            origin: origin.name(),
        },
        e => origin.pem_error(e),
    }
}

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_origin: Origin<'_>,
    key_origin: Origin<'_>,
) -> Result<TlsAcceptor, TlsError> {
    let rejected = |e: rustls::Error| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: cert_origin.name(),
                key: key_origin.name(),
            }
        }
        e => TlsError::Rejected {
            cert: cert_origin.name(),
            key: key_origin.name(),
            detail: e.to_string(),
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(rejected)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
