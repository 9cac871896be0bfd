//! How the cloud reaches PostgreSQL: plain (the local default) or TLS with rustls (`ring`),
//! chosen by `sslmode` in the database URL as libpq does (review finding 2).
//!
//! tokio-postgres understands only `sslmode=disable|prefer|require` and no `sslrootcert`, so
//! [`DbTarget::parse`] takes `sslmode` and `sslrootcert` out of the URL and builds the matching
//! rustls configuration itself:
//!
//! | sslmode | TLS | certificate check |
//! |---|---|---|
//! | (absent), `disable` | no (`NoTls`) | - |
//! | `prefer` | if the server offers it | none |
//! | `require` | yes | none; as `verify-ca` when `sslrootcert` is given (libpq does the same) |
//! | `verify-ca` | yes | chains to `sslrootcert` (or the public web roots) |
//! | `verify-full` | yes | as `verify-ca`, and the certificate names the URL's host |
//!
//! `sslrootcert=system` (or no `sslrootcert`) means the public web roots compiled into the
//! binary. Only these two parameters are handled here; every other one goes to tokio-postgres.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Largest `sslrootcert` file read (a CA bundle of a few hundred certificates is ~200 KiB).
pub const ROOT_CERT_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The `sslmode` of a database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, DbUrlError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(DbUrlError(format!(
                    "sslmode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }
}

/// A database URL that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DbUrlError(pub String);

/// How connections are made.
#[derive(Clone)]
pub enum DbTls {
    Plain,
    Rustls(MakeRustlsConnect),
}

impl std::fmt::Debug for DbTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbTls::Plain => "Plain",
            DbTls::Rustls(_) => "Rustls",
        })
    }
}

/// A parsed database URL: tokio-postgres settings plus the TLS connector to use.
#[derive(Debug, Clone)]
pub struct DbTarget {
    pub config: tokio_postgres::Config,
    pub tls: DbTls,
    pub ssl_mode: SslMode,
}

impl DbTarget {
    /// Parse a `postgres://` URL or a `key=value` string, handling `sslmode`/`sslrootcert`.
    pub fn parse(url: &str) -> Result<DbTarget, DbUrlError> {
        let (rest, mode, root) = split_tls_params(url)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| DbUrlError(format!("not a PostgreSQL URL: {e}")))?;
        let mode = mode.unwrap_or(SslMode::Disable);
        let root = root.filter(|r| r != "system").map(PathBuf::from);
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let check = match (mode, &root) {
            (SslMode::Disable, _) => None,
            (SslMode::Prefer, _) | (SslMode::Require, None) => Some(Check::None),
            (SslMode::Require | SslMode::VerifyCa, _) => Some(Check::Chain),
            (SslMode::VerifyFull, _) => Some(Check::ChainAndName),
        };
        let tls = match check {
            None => DbTls::Plain,
            Some(check) => DbTls::Rustls(MakeRustlsConnect::new(client_config(
                check,
                root.as_deref(),
            )?)),
        };
        Ok(DbTarget {
            config,
            tls,
            ssl_mode: mode,
        })
    }
}

/// Take `sslmode` and `sslrootcert` out of the URL (query parameters) or the key=value string.
fn split_tls_params(url: &str) -> Result<(String, Option<SslMode>, Option<String>), DbUrlError> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, DbUrlError> {
        match key {
            "sslmode" => {
                mode = Some(SslMode::parse(value)?);
                Ok(true)
            }
            "sslrootcert" => {
                if value.contains('%') || value.starts_with('\'') {
                    return Err(DbUrlError(
                        "sslrootcert: give a plain path (no percent-encoding or quotes)".into(),
                    ));
                }
                root = Some(value.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let trimmed = url.trim();
    let rest = if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        match trimmed.split_once('?') {
            None => trimmed.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(k, v)? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for token in trimmed.split_whitespace() {
            let (k, v) = token.split_once('=').unwrap_or((token, ""));
            if !take(k.trim(), v.trim())? {
                kept.push(token);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt only (libpq `require`/`prefer`): any certificate, but the handshake signature
    /// must still be made by the certificate's key.
    None,
    /// The chain to a trusted root, any host name.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

fn load_roots(path: Option<&Path>) -> Result<RootCertStore, DbUrlError> {
    let Some(path) = path else {
        return Ok(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ));
    };
    let err = |reason: String| DbUrlError(format!("sslrootcert {}: {reason}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > ROOT_CERT_FILE_BYTES_MAX {
        return Err(err(format!(
            "{len} bytes, more than {ROOT_CERT_FILE_BYTES_MAX}"
        )));
    }
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err(format!("not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("no CERTIFICATE block found".into()));
    }
    Ok(roots)
}

fn client_config(check: Check, root: Option<&Path>) -> Result<rustls::ClientConfig, DbUrlError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbUrlError(format!("TLS setup: {e}")))?;
    let config = match check {
        Check::ChainAndName => {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(load_roots(root)?), provider)
                    .build()
                    .map_err(|e| DbUrlError(format!("TLS setup: {e}")))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
        Check::Chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier {
                roots: Arc::new(load_roots(root)?),
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Check::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnlyVerifier {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

fn verify_12(
    algorithms: &WebPkiSupportedAlgorithms,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
}

fn verify_13(
    algorithms: &WebPkiSupportedAlgorithms,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
}

/// `verify-ca`: the chain must reach a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_12(&self.algorithms, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_13(&self.algorithms, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `require`/`prefer` without a root: encryption against passive listeners only, as libpq
/// does. Chosen explicitly in the URL; `verify-full` is the recommended mode.
#[derive(Debug)]
struct EncryptOnlyVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for EncryptOnlyVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_12(&self.algorithms, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_13(&self.algorithms, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_urls_and_key_value_strings() {
        let t = DbTarget::parse("postgres://u@h:5432/db").unwrap();
        assert_eq!(t.ssl_mode, SslMode::Disable);
        assert!(matches!(t.tls, DbTls::Plain));
        let t = DbTarget::parse(
            "postgres://u@h:5432/db?application_name=x&sslmode=require&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(t.ssl_mode, SslMode::Require);
        assert!(matches!(t.tls, DbTls::Rustls(_)));
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(
            t.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let t =
            DbTarget::parse("postgresql://u@h/db?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(t.ssl_mode, SslMode::VerifyFull);
        let t = DbTarget::parse("host=h user=u dbname=db sslmode=verify-ca").unwrap();
        assert_eq!(t.ssl_mode, SslMode::VerifyCa);
        assert_eq!(t.config.get_dbname(), Some("db"));
        for bad in [
            "postgres://u@h/db?sslmode=sometimes",
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc",
        ] {
            assert!(DbTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
