//! The link from the box to the cloud: HTTPS with rustls (the `ring` provider, no OpenSSL, no
//! aws-lc-rs) for sync and enrollment, and the one policy on which cloud URLs are allowed.
//!
//! Trust: the public web roots compiled in (webpki-roots, so a box without an OS certificate
//! store still works), or, when `sync.ca_file` is set, only the CAs in that PEM file (a private
//! deployment trusts its own CA and nothing else). On top of the chain check, `sync.pin_spki_sha256`
//! can pin the SHA-256 of the cloud certificate's SubjectPublicKeyInfo: the chain is verified first
//! and the leaf's key must then be one of the pins (a list, so a key rotation can pin the old
//! and the new key at once). A refused certificate ends the handshake before any byte of a
//! request is written.
//!
//! Plain `http://` is refused everywhere (sync, `--cloud` overrides, enrollment) unless
//! `sync.allow_insecure_http = true` or `FARMCO_EDGE_ALLOW_INSECURE_HTTP=1`, and then a warning is
//! logged at every start. The check is made on the URL text before any connection is opened.
//!
//! Responses are read with a byte limit while they stream in ([`read_body_limited`]), never
//! buffered whole first (review finding 22).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

pub use crate::config::{ALLOW_INSECURE_HTTP_ENV, SPKI_PIN_BYTES, SyncConfig, parse_spki_pin};

/// Connect timeout to the cloud: a 2G attach plus a TLS handshake of several round trips of up
/// to a second each fits well inside 15 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest CA file read: a bundle of a few hundred certificates is ~200 KiB.
pub const CA_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Why the link to the cloud cannot be used or was not trusted.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error(
        "refusing plain-HTTP cloud URL {url}: use https://, or set sync.allow_insecure_http = true \
         (or {ALLOW_INSECURE_HTTP_ENV}=1) for a test setup"
    )]
    InsecureHttp { url: String },
    #[error("not a usable cloud URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("sync.ca_file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("TLS setup: {0}")]
    TlsSetup(String),
}

/// The scheme of an allowed cloud URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    /// Only when insecure HTTP is explicitly allowed.
    InsecureHttp,
}

/// Check a cloud base URL against the policy, before anything is sent to it.
pub fn check_cloud_url(url: &str, allow_insecure_http: bool) -> Result<Scheme, UplinkError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| UplinkError::BadUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UplinkError::BadUrl {
            url: url.to_owned(),
            reason: "no host".into(),
        });
    }
    match parsed.scheme() {
        "https" => Ok(Scheme::Https),
        "http" if allow_insecure_http => Ok(Scheme::InsecureHttp),
        "http" => Err(UplinkError::InsecureHttp {
            url: url.to_owned(),
        }),
        other => Err(UplinkError::BadUrl {
            url: url.to_owned(),
            reason: format!("the scheme must be https, not {other:?}"),
        }),
    }
}

/// SHA-256 of a certificate's DER SubjectPublicKeyInfo (what `openssl x509 -pubkey | openssl
/// pkey -pubin -outform der | openssl dgst -sha256` prints).
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; SPKI_PIN_BYTES], rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)?;
    Ok(Sha256::digest(parsed.subject_public_key_info().as_ref()).into())
}

/// The leaf's key matched none of the pins.
#[derive(Debug)]
pub struct PinMismatch {
    /// The SPKI SHA-256 the cloud presented (hex), to put in the config after checking it.
    pub presented: String,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cloud certificate's public key (SPKI sha256 {}) matches no sync.pin_spki_sha256",
            self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Chain check with the configured roots, then the leaf's SPKI hash against the pins.
#[derive(Debug)]
pub struct PinnedVerifier {
    chain: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; SPKI_PIN_BYTES]>,
}

impl PinnedVerifier {
    pub fn new(chain: Arc<WebPkiServerVerifier>, pins: Vec<[u8; SPKI_PIN_BYTES]>) -> Self {
        PinnedVerifier { chain, pins }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let presented = spki_sha256(end_entity)?;
        if self.pins.contains(&presented) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch {
                    presented: hex::encode(presented),
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// Read the CA certificates of `path` (PEM, one or more `CERTIFICATE` blocks).
pub fn load_ca_file(path: &Path) -> Result<RootCertStore, UplinkError> {
    let err = |reason: String| UplinkError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > CA_FILE_BYTES_MAX {
        return Err(err(format!(
            "{len} bytes, more than the {CA_FILE_BYTES_MAX} a CA bundle may have"
        )));
    }
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    let mut count = 0usize;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err(format!("not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("not a usable CA certificate: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(err("no CERTIFICATE block found".into()));
    }
    Ok(roots)
}

/// The rustls client configuration for the cloud link: roots, optional pins, ring only.
pub fn tls_config(config: &SyncConfig) -> Result<rustls::ClientConfig, UplinkError> {
    let roots = match &config.ca_file {
        Some(path) => load_ca_file(path)?,
        None => RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| UplinkError::TlsSetup(e.to_string()))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UplinkError::TlsSetup(e.to_string()))?;
    let tls = if config.pin_spki_sha256.is_empty() {
        builder.with_webpki_verifier(chain).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier::new(
                chain,
                config.pin_spki_sha256.clone(),
            )))
            .with_no_client_auth()
    };
    Ok(tls)
}

/// The HTTP client for sync and enrollment. `https_only` unless insecure HTTP is allowed, no
/// redirects (a signed-envelope POST has nowhere legitimate to be redirected to).
pub fn http_client(config: &SyncConfig) -> Result<reqwest::Client, UplinkError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(config)?)
        .https_only(!config.allow_insecure_http)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.request_timeout)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| UplinkError::TlsSetup(error_chain(&e)))
}

/// Log the warning that insecure HTTP is allowed (called at every start of a sync client).
pub fn warn_if_insecure(config: &SyncConfig) {
    if config.allow_insecure_http {
        tracing::warn!(
            "sync.allow_insecure_http is set: plain http:// cloud URLs are accepted, so the \
             enrollment token, farmer data and sync traffic can be read and altered on the way; \
             use https:// outside a test setup"
        );
    }
}

/// The error and all its sources, joined: reqwest's own message alone hides the cause.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A request failure explained: a refused certificate says so, with what to check.
pub fn describe_send_error(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(tls) = find_rustls_error(s) {
            return describe_tls_error(tls);
        }
        source = s.source();
    }
    error_chain(e)
}

/// The rustls error in `e`, looking inside (nested) `io::Error`s, whose `source()` skips the
/// error they wrap.
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    find_rustls_error(inner)
}

fn describe_tls_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<PinMismatch>() {
                Some(pin) => format!("TLS: the cloud was not trusted: {pin}; nothing was sent"),
                None => format!("TLS: the cloud's certificate was refused: {other:?}"),
            }
        }
        rustls::Error::InvalidCertificate(c) => format!(
            "TLS: the cloud's certificate was refused ({}); check sync.ca_file (without it \
             only public CAs are trusted) and the URL's host name; nothing was sent",
            match c {
                CertificateError::UnknownIssuer => "not issued by a trusted CA".to_owned(),
                other => other.to_string(),
            }
        ),
        other => format!("TLS handshake with the cloud failed: {other}; nothing was sent"),
    }
}

/// Read a response body as it streams in, failing as soon as it would exceed `max` bytes (the
/// declared Content-Length is checked first). Never buffers more than `max`.
pub async fn read_body_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(len) = response.content_length()
        && len > max as u64
    {
        return Err(BodyError::TooLarge { max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Network(describe_send_error(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("response too large (more than {max} bytes)")]
    TooLarge { max: usize },
    #[error("{0}")]
    Network(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_unless_insecure_is_allowed() {
        assert_eq!(
            check_cloud_url("https://cloud.example", false).ok(),
            Some(Scheme::Https)
        );
        assert!(matches!(
            check_cloud_url("http://cloud.example:8090", false),
            Err(UplinkError::InsecureHttp { .. })
        ));
        assert_eq!(
            check_cloud_url("http://cloud.example:8090", true).ok(),
            Some(Scheme::InsecureHttp)
        );
        for bad in ["ftp://cloud.example", "cloud.example", "https://", ""] {
            assert!(
                matches!(check_cloud_url(bad, true), Err(UplinkError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn pins_are_64_hex_digits() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_spki_pin(&hex64), Some([0xab; 32]));
        assert_eq!(
            parse_spki_pin(&hex64.to_uppercase().replace("AB", "AB:")),
            Some([0xab; 32])
        );
        assert_eq!(parse_spki_pin(&hex64[..62]), None);
        assert_eq!(parse_spki_pin("zz"), None);
    }
}
