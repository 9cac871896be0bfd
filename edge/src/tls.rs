//! HTTPS on the village LAN (issue 12): browsers register service workers (the offline app)
//! only in a secure context, so the box serves the app and the API over TLS too, with a
//! certificate the agents' phones trust.
//!
//! - `farmco-edge tls init` makes a **per-deployment CA** (`tls/ca.crt`, `tls/ca.key` mode 0600;
//!   ECDSA P-256, 10 years) unless one exists, and a **server certificate** for the box's LAN
//!   addresses and names (`tls/server.crt` with the CA after it, `tls/server.key` 0600; 397 days,
//!   re-run to renew). `--ca-dir` signs with a CA kept elsewhere (one CA for every box of a
//!   deployment: a phone that trusts it once trusts them all); the CA key is never copied.
//! - The node serves HTTPS on `[http] tls_listen` (or `FARMCO_EDGE_TLS_LISTEN`) when
//!   `tls/server.crt` exists; rustls with the `ring` provider only.
//! - `/trust` (plain HTTP too) explains in English, Hindi and Marathi how to install the CA on an
//!   Android phone, with a QR code of the CA's download link `/trust/farmco-ca.crt`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Folder of the TLS files inside the data dir.
pub const TLS_DIR: &str = "tls";
pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
/// The CA's common name, kept next to it so the CA can sign again from its key alone.
pub const CA_NAME_FILE: &str = "ca.name";
pub const SERVER_CERT_FILE: &str = "server.crt";
pub const SERVER_KEY_FILE: &str = "server.key";
/// Default common name of a new deployment CA.
pub const DEFAULT_CA_NAME: &str = "FarmCo village boxes";
/// Validity of the CA: phones install it once, so it must outlive the boxes' hardware.
const CA_VALIDITY_DAYS: i64 = 3_650;
/// Validity of a server certificate: 397 days, the longest browsers accept for public CAs
/// (kept here too so the same certificate would pass a stricter policy).
const SERVER_VALIDITY_DAYS: i64 = 397;
/// Most names and addresses one server certificate carries.
const SAN_MAX: usize = 32;
/// A TLS handshake taking longer than this is dropped (slow or hostile clients).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes running at once; more wait for a slot (bounded work on a small box).
const HANDSHAKES_IN_FLIGHT_MAX: usize = 64;
/// Finished handshakes waiting for the HTTP server to take them.
const ACCEPTED_QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("bad PEM in {path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("invalid name {0:?}: use a DNS name or an IP address")]
    BadName(String),
    #[error("too many names and addresses (at most {SAN_MAX})")]
    TooManyNames,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Write a file; `private` ones are created with mode 0600 (before any byte is written).
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io_err(path))?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
    }
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// What `tls init` did.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub ca_created: bool,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub names: Vec<String>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "FarmCo-Pilot");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
    params
}

/// Create (or reuse) the deployment CA and issue this box's server certificate for `names`
/// (DNS names or IP addresses; `localhost` and 127.0.0.1 are always added).
pub fn init(
    data_dir: &Path,
    ca_dir: Option<&Path>,
    names: &[String],
) -> Result<InitReport, TlsError> {
    let tls_dir = data_dir.join(TLS_DIR);
    std::fs::create_dir_all(&tls_dir).map_err(io_err(&tls_dir))?;
    let ca_dir = ca_dir.map_or_else(|| tls_dir.clone(), Path::to_owned);
    std::fs::create_dir_all(&ca_dir).map_err(io_err(&ca_dir))?;
    let ca_key_path = ca_dir.join(CA_KEY_FILE);
    let ca_cert_path = ca_dir.join(CA_CERT_FILE);
    let ca_name_path = ca_dir.join(CA_NAME_FILE);

    let ca_created = !ca_key_path.exists();
    let (ca_key, ca_name, ca_pem) = if ca_created {
        let key = KeyPair::generate()?;
        let cert = ca_params(DEFAULT_CA_NAME).self_signed(&key)?;
        write_file(&ca_key_path, key.serialize_pem().as_bytes(), true)?;
        write_file(&ca_cert_path, cert.pem().as_bytes(), false)?;
        write_file(&ca_name_path, DEFAULT_CA_NAME.as_bytes(), false)?;
        (key, DEFAULT_CA_NAME.to_owned(), cert.pem())
    } else {
        let pem = std::fs::read_to_string(&ca_key_path).map_err(io_err(&ca_key_path))?;
        let key = KeyPair::from_pem(&pem)?;
        let name = std::fs::read_to_string(&ca_name_path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| DEFAULT_CA_NAME.to_owned());
        let cert = std::fs::read_to_string(&ca_cert_path).map_err(io_err(&ca_cert_path))?;
        (key, name, cert)
    };
    // The issuer needs the CA's name and key; the certificate it signs names it as issuer.
    let issuer = Issuer::new(ca_params(&ca_name), ca_key);

    let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    for n in names {
        let n = n.trim().to_ascii_lowercase();
        if !n.is_empty() && !all.contains(&n) {
            all.push(n);
        }
    }
    if all.len() > SAN_MAX {
        return Err(TlsError::TooManyNames);
    }
    let mut sans = Vec::with_capacity(all.len());
    for n in &all {
        sans.push(match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                let valid = n.len() <= 253
                    && n.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                if !valid {
                    return Err(TlsError::BadName(n.clone()));
                }
                SanType::DnsName(n.clone().try_into()?)
            }
        });
    }
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, all.get(2).unwrap_or(&all[0]).as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SERVER_VALIDITY_DAYS);
    let server_key = KeyPair::generate()?;
    let server_cert = params.signed_by(&server_key, &issuer)?;

    let server_cert_path = tls_dir.join(SERVER_CERT_FILE);
    let server_key_path = tls_dir.join(SERVER_KEY_FILE);
    // The chain: this box's certificate, then the CA (phones trust the CA).
    let chain = format!("{}{}", server_cert.pem(), ca_pem);
    write_file(
        &server_key_path,
        server_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&server_cert_path, chain.as_bytes(), false)?;
    let local_ca = tls_dir.join(CA_CERT_FILE);
    if local_ca != ca_cert_path {
        write_file(&local_ca, ca_pem.as_bytes(), false)?;
    }
    Ok(InitReport {
        ca_created,
        ca_cert: ca_cert_path,
        server_cert: server_cert_path,
        names: all,
    })
}

/// The deployment CA's certificate (PEM), when this box has one.
pub fn ca_pem(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(TLS_DIR).join(CA_CERT_FILE)).ok()
}

/// The rustls server configuration from `tls/server.crt` and `tls/server.key`, or `None` when
/// `tls init` was never run.
pub fn server_config(data_dir: &Path) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    let dir = data_dir.join(TLS_DIR);
    let cert_path = dir.join(SERVER_CERT_FILE);
    let key_path = dir.join(SERVER_KEY_FILE);
    if !cert_path.exists() {
        return Ok(None);
    }
    let pem_err = |path: &Path| {
        let path = path.to_owned();
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            message: e.to_string(),
        }
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .map_err(pem_err(&cert_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err(&cert_path))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(pem_err(&key_path))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // HTTP/1.1 only: the server is built without HTTP/2 (axum default features).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// The client's address on the TLS listener (axum's `ConnectInfo` for it).
#[derive(Debug, Clone, Copy)]
pub struct TlsClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TlsListener>> for TlsClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        TlsClientAddr(*stream.remote_addr())
    }
}

/// A listener handing finished TLS handshakes to `axum::serve`. Handshakes run on their own
/// tasks (bounded, with a timeout), so one slow phone does not hold up the others.
#[derive(Debug)]
pub struct TlsListener {
    accepted: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_QUEUE);
        let slots = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_IN_FLIGHT_MAX));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = tcp.accept() => a,
                    () = tx.closed() => return,
                };
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS listener accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            accepted: rx,
            local,
        })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn init_makes_a_private_ca_key_and_a_server_certificate_that_rustls_loads() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let report = init(
            dir.path(),
            None,
            &["192.168.4.1".into(), "box.local".into()],
        )
        .unwrap();
        assert!(report.ca_created);
        assert_eq!(
            report.names,
            vec!["localhost", "127.0.0.1", "192.168.4.1", "box.local"]
        );
        let tls = dir.path().join(TLS_DIR);
        for private in [CA_KEY_FILE, SERVER_KEY_FILE] {
            let mode = std::fs::metadata(tls.join(private))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{private}");
        }
        let ca_before = std::fs::read(tls.join(CA_CERT_FILE)).unwrap();
        assert!(server_config(dir.path()).unwrap().is_some());
        // Re-running renews the server certificate and keeps the CA (phones stay trusting).
        let again = init(dir.path(), None, &[]).unwrap();
        assert!(!again.ca_created);
        assert_eq!(std::fs::read(tls.join(CA_CERT_FILE)).unwrap(), ca_before);
        assert!(init(dir.path(), None, &["bad name!".into()]).is_err());
    }

    #[test]
    fn a_box_without_certificates_has_no_tls() {
        let dir = tempfile::tempdir().unwrap();
        assert!(server_config(dir.path()).unwrap().is_none());
        assert!(ca_pem(dir.path()).is_none());
    }
}
