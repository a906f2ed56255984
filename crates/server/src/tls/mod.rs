//! HTTPS: the TLS settings (`--tls-cert`/`--tls-key` or `--tls-self-signed`), and the
//! handshake that puts TLS under a connection before hyper sees it.
//!
//! Browsers speak HTTP/2 only over TLS, and pick it by ALPN during the handshake, so that is
//! what a TLS connection here offers: `h2`, then `http/1.1`. rustls offers nothing unless told
//! (and browsers then stay on HTTP/1.1), so [`ALPN_PROTOCOLS`] is set explicitly; the
//! connection then serves exactly the protocol that was agreed (see [`crate::conn`]), with no
//! sniffing of the first bytes.
//!
//! One crypto provider, *ring*, is chosen explicitly and passed to rustls
//! ([`ServerConfig::builder_with_provider`]) rather than installed process-wide: rcgen and
//! rustls each have a default provider, and a process where two are built in and none is
//! chosen panics at the first handshake.
//!
//! The handshake and the encrypted stream are tokio-rustls's, over any byte stream with
//! tokio's I/O traits: tokio's `TcpStream` on the tokio host, Spool's (feature `tokio-io`) on
//! the Spool host, so the same code runs on both; hyper-util's `TokioIo` then hands the
//! stream to hyper ([`crate::conn`]).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};

/// A server-side TLS connection over `IO` (tokio-rustls's).
pub(crate) type TlsStream<IO> = tokio_rustls::server::TlsStream<IO>;

/// The protocol the handshake agreed by ALPN (e.g. `b"h2"`), if the client offered one the
/// server accepts.
pub(crate) fn alpn_protocol<IO>(stream: &TlsStream<IO>) -> Option<&[u8]> {
    stream.get_ref().1.alpn_protocol()
}

use crate::config::Config;

/// The protocols offered by ALPN, in the server's order of preference.
pub(crate) const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The names a `--tls-self-signed` certificate is valid for.
pub(crate) const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why the TLS settings could not be used. Each message is one line, fit for `error: ...`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// `--tls-cert` was given without `--tls-key`.
    #[error("--tls-cert needs --tls-key (the certificate's private key, PEM)")]
    CertWithoutKey,
    /// `--tls-key` was given without `--tls-cert`.
    #[error("--tls-key needs --tls-cert (the certificate chain, PEM)")]
    KeyWithoutCert,
    /// `--tls-self-signed` was combined with `--tls-cert`/`--tls-key`.
    #[error("--tls-self-signed cannot be combined with --tls-cert or --tls-key")]
    SelfSignedAndFiles,
    /// A certificate or key file could not be read.
    #[error("cannot read the TLS {what} file {}: {}", .path.display(), crate::lowercase_first(.source))]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// A file is not valid PEM.
    #[error("cannot parse {} as PEM: {source}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("no certificate in {}: expected a PEM block `-----BEGIN CERTIFICATE-----`", .0.display())]
    NoCertificate(PathBuf),
    /// The key file holds no private key block.
    #[error(
        "no private key in {}: expected a PEM block `-----BEGIN PRIVATE KEY-----` \
         (or `RSA PRIVATE KEY`, `EC PRIVATE KEY`)",
        .0.display()
    )]
    NoKey(PathBuf),
    /// The private key does not belong to the certificate.
    #[error("the private key in {} does not match the certificate in {}", .key.display(), .cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or the key (an unsupported key type, a malformed
    /// certificate, ...).
    #[error("cannot use the certificate {} with the key {}: {source}", .cert.display(), .key.display())]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// rcgen could not make the self-signed certificate.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfSigned(#[source] rcgen::Error),
    /// rustls refused the self-signed certificate or a protocol setting (a bug, not a usage
    /// error; kept apart so it is not blamed on a file).
    #[error("cannot set up TLS: {0}")]
    Setup(#[source] rustls::Error),
}

/// Performs server-side TLS handshakes with one [`ServerConfig`]; cheap to clone.
#[derive(Clone)]
pub(crate) struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("alpn", &ALPN_PROTOCOLS)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// The acceptor `config` asks for: `None` without TLS flags, else one from the PEM files
    /// or a fresh self-signed certificate (whose SHA-256 fingerprint is logged at info level).
    pub(crate) fn from_config(config: &Config) -> Result<Option<TlsAcceptor>, TlsError> {
        let (cert_path, key_path) =
            match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
                (None, None, false) => return Ok(None),
                (Some(_), _, true) | (_, Some(_), true) => {
                    return Err(TlsError::SelfSignedAndFiles)
                }
                (Some(_), None, false) => return Err(TlsError::CertWithoutKey),
                (None, Some(_), false) => return Err(TlsError::KeyWithoutCert),
                (None, None, true) => {
                    let (certs, key) = self_signed()?;
                    tracing::info!(
                        names = ?SELF_SIGNED_NAMES,
                        sha256 = %fingerprint(&certs[0]),
                        "made a self-signed TLS certificate; clients must be told to trust it \
                         (e.g. curl -k) or to pin this fingerprint"
                    );
                    return Self::new(certs, key).map(Some).map_err(TlsError::Setup);
                }
                (Some(cert), Some(key), false) => (cert, key),
            };
        let certs = load_certs(cert_path)?;
        let key = load_key(key_path)?;
        Self::new(certs, key)
            .map(Some)
            .map_err(|error| match error {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsError::KeyMismatch {
                        cert: cert_path.clone(),
                        key: key_path.clone(),
                    }
                }
                source => TlsError::Unusable {
                    cert: cert_path.clone(),
                    key: key_path.clone(),
                    source,
                },
            })
    }

    /// An acceptor serving `certs` (end-entity certificate first) with `key`, offering
    /// [`ALPN_PROTOCOLS`], with rustls's safe default protocol versions (TLS 1.2 and 1.3) and
    /// the *ring* crypto provider.
    ///
    /// Fails if rustls cannot load the key, or the key does not match the certificate.
    pub(crate) fn new(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsAcceptor, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            // Checks that the key belongs to the certificate (SubjectPublicKeyInfo compared).
            .with_single_cert(certs, key)?;
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Runs the TLS handshake on `io` and returns the encrypted stream, with the ALPN result
    /// ([`alpn_protocol`]).
    ///
    /// Fails if the peer closes the connection first, or sends something that is not an
    /// acceptable TLS handshake (after the alert is sent). No timeout here: the caller bounds it
    /// (see [`crate::conn::accept`]).
    pub(crate) async fn accept<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.acceptor.accept(io).await
    }
}

/// A self-signed certificate for [`SELF_SIGNED_NAMES`] (ECDSA P-256, made with rcgen on ring),
/// and its private key.
pub(crate) fn self_signed(
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|&n| n.to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).map_err(TlsError::SelfSigned)?;
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:...` (the form browsers and
/// `openssl x509 -fingerprint -sha256` show).
pub(crate) fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let mut out = String::with_capacity(digest.as_ref().len() * 3);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

/// Reads a file for [`load_certs`]/[`load_key`], naming it in the error.
fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Every `CERTIFICATE` block in a PEM file, in order (end-entity first, then its chain).
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read("certificate", path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey(path.to_owned()),
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

#[cfg(test)]
mod tests;
