//! HTTPS served by `farmco-cloud` itself, when `[http] tls_cert_file` and `tls_key_file` are set
//! (the alternative, a TLS-terminating reverse proxy in front of plain HTTP on loopback, is
//! described in docs/security.md).
//!
//! - rustls with the `ring` provider only, TLS 1.2 and 1.3, HTTP/1.1 by ALPN.
//! - [`CertReloader`] is the server's certificate resolver: it holds the current
//!   certificate and key behind a lock and hands them to each new handshake. `SIGHUP`
//!   ([`reload_on_sighup`]) re-reads both files; a connection already established keeps the
//!   session it negotiated, so nothing is dropped, and a broken or mismatched pair is refused
//!   while the previous certificate stays in service (renewal tools can run the reload blindly).
//! - [`TlsListener`] plugs into `axum::serve`: it accepts TCP connections and runs each
//!   handshake on its own task with a timeout, at most [`TLS_HANDSHAKES_IN_FLIGHT_MAX`] at a
//!   time, so a slow or silent client never blocks the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest TLS handshake allowed: a 2G client needs a few round trips of up to 2 s each; a
/// client slower than this is more likely holding a slot on purpose.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Handshakes in progress at once; past it the listener stops accepting until one finishes
/// (each costs a task and some tens of KiB of buffers).
pub const TLS_HANDSHAKES_IN_FLIGHT_MAX: usize = 256;
/// Largest certificate or key file read (a chain of a few certificates is a few KiB).
pub const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Pause after a failed `accept` (out of file descriptors): retrying at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{path}: no CERTIFICATE block found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no private key found (PKCS#8, PKCS#1 or SEC1 PEM)")]
    NoKey { path: PathBuf },
    #[error("the certificate and key do not go together, or the key is unusable: {0}")]
    Key(String),
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The two PEM files of the server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let err = |reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > PEM_FILE_BYTES_MAX {
        return Err(err(format!(
            "{len} bytes, more than the {PEM_FILE_BYTES_MAX} a PEM file may have"
        )));
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

/// Read and check the certificate chain and its key.
pub fn load_certified_key(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let pem = read_pem(&files.cert_file)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::File {
            path: files.cert_file.clone(),
            reason: format!("not PEM: {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert_file.clone(),
        });
    }
    let pem = read_pem(&files.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey {
        path: files.key_file.clone(),
    })?;
    let certified =
        CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Key(e.to_string()))?;
    // `from_der` lets an "unknown" consistency pass; insist on a proven match.
    certified
        .keys_match()
        .map_err(|e| TlsError::Key(e.to_string()))?;
    Ok(certified)
}

/// SHA-256 of the leaf certificate's SubjectPublicKeyInfo, hex: what an edge pins in
/// `sync.pin_spki_sha256`.
pub fn spki_sha256_hex(certified: &CertifiedKey) -> Result<String, TlsError> {
    let leaf = certified
        .end_entity_cert()
        .map_err(|e| TlsError::Key(e.to_string()))?;
    let parsed = rustls::server::ParsedCertificate::try_from(leaf)
        .map_err(|e| TlsError::Key(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(
        parsed.subject_public_key_info().as_ref(),
    )))
}

/// The server's certificate resolver, reloadable while serving.
#[derive(Debug)]
pub struct CertReloader {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertReloader {
    /// Load the files once; fails (and the server does not start) when they are unusable.
    pub fn load(files: TlsFiles) -> Result<CertReloader, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = load_certified_key(&files, &provider)?;
        Ok(CertReloader {
            files,
            provider,
            current: RwLock::new(Arc::new(certified)),
        })
    }

    /// Re-read both files and serve them to new handshakes. On any error the current
    /// certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = Arc::new(load_certified_key(&self.files, &self.provider)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = certified;
        Ok(())
    }

    /// The certificate in service now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The SPKI SHA-256 of the certificate in service (hex).
    pub fn spki_sha256_hex(&self) -> Result<String, TlsError> {
        spki_sha256_hex(&self.current())
    }

    /// A rustls server configuration that asks this resolver at every handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reload the certificate on every SIGHUP until the task is aborted. The handler is installed
/// before this returns its future's first poll, so call it before announcing the address.
pub fn reload_on_sighup(
    reloader: Arc<CertReloader>,
) -> io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            match reloader.reload() {
                Ok(()) => tracing::info!(
                    spki_sha256 = reloader.spki_sha256_hex().unwrap_or_default(),
                    "TLS certificate reloaded"
                ),
                Err(e) => tracing::error!(error = %e,
                    "TLS certificate reload failed; still serving the previous certificate"),
            }
        }
    })
}

/// A TCP listener whose connections come out TLS-terminated, for `axum::serve`.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .field("handshakes_in_flight", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }
}

type Handshaken = Option<(TlsStream<TcpStream>, SocketAddr)>;

enum ListenerEvent {
    Tcp(io::Result<(TcpStream, SocketAddr)>),
    /// Boxed: a finished TLS stream is over a kilobyte, the TCP case a few words.
    Handshake(Box<Result<Handshaken, tokio::task::JoinError>>),
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < TLS_HANDSHAKES_IN_FLIGHT_MAX;
            let event = tokio::select! {
                accepted = self.tcp.accept(), if room => ListenerEvent::Tcp(accepted),
                Some(done) = self.handshakes.join_next() => ListenerEvent::Handshake(Box::new(done)),
            };
            let event = match event {
                ListenerEvent::Handshake(done) => match *done {
                    Ok(Some(done)) => return done,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "a TLS handshake task failed");
                        continue;
                    }
                },
                ListenerEvent::Tcp(accepted) => accepted,
            };
            match event {
                Ok((stream, addr)) => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => Some((tls, addr)),
                            Ok(Err(e)) => {
                                tracing::debug!(%addr, error = %e, "TLS handshake failed");
                                None
                            }
                            Err(_) => {
                                tracing::debug!(%addr, "TLS handshake timed out");
                                None
                            }
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
