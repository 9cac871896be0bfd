//! The link to the cloud (issue 14 section 1, review findings 1, 8 and 22), against an
//! in-process "cloud" on 127.0.0.1:0 that records every TCP connection and every HTTP request
//! that reached it:
//! - HTTPS with the right CA reaches the cloud; with the wrong CA or a wrong SPKI pin the edge
//!   fails with a clear error and not one request arrives;
//! - `http://` is refused without `sync.allow_insecure_http`, for sync and for enrollment,
//!   before any connection is opened (the real binary too);
//! - enrollment signs a proof of key possession and checks the cloud key fingerprint;
//! - response bodies are limited while they stream in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use farmco_edge::config::{Config, SyncConfig};
use farmco_edge::enroll::{EnrollError, enroll};
use farmco_edge::store::Store;
use farmco_edge::store::sync_state::{self, Enrollment};
use farmco_edge::sync_client::{SyncClient, SyncError};
use farmco_edge::uplink::UplinkError;
use farmco_shell::test_pki::{TestCa, TestLeaf};
use farmco_sync::protocol::enroll::{key_fingerprint, verify_proof};
use farmco_sync::protocol::keys::{NodeId, NodeSecretKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::TestNode;

/// What the fake cloud saw.
#[derive(Debug, Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
}

impl Seen {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// How the fake cloud answers a request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// 400 with an error message.
    Refuse,
    /// 200, chunked, never ending.
    Endless,
    /// 200 announcing a 1 GiB body, then nothing.
    HugeLength,
    /// An enrollment answer for the key in the request, if its proof verifies (else 401).
    Enroll,
}

/// The fake cloud's own key (what the edge pins at enrollment).
fn cloud_key() -> NodeSecretKey {
    NodeSecretKey::from_seed([77; 32])
}

fn server_tls(leaf: &TestLeaf) -> Arc<rustls::ServerConfig> {
    let chain = CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    )
}

async fn fake_cloud(
    tls: Option<Arc<rustls::ServerConfig>>,
    answer: Answer,
) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            seen2.connections.fetch_add(1, Ordering::SeqCst);
            let seen = seen2.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        // A refused certificate ends the handshake here: nothing to serve.
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve_one(stream, &seen, answer).await;
                        }
                    }
                    None => serve_one(tcp, &seen, answer).await,
                }
            });
        }
    });
    (addr, seen)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, seen: &Seen, answer: Answer) {
    let mut req = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_end, len) = loop {
        let n = s.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        req.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&req, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, len);
        }
    };
    seen.requests.fetch_add(1, Ordering::SeqCst);
    while req.len() < head_end + len {
        let n = s.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let body = &req[head_end..];
    let respond = |status: &str, json: String| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{json}",
            json.len()
        )
    };
    match answer {
        Answer::Refuse => {
            let json = r#"{"error":{"code":"fake","message":"the fake cloud saw the request"}}"#;
            let _ = s
                .write_all(respond("400 Bad Request", json.to_owned()).as_bytes())
                .await;
        }
        Answer::HugeLength => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n")
                .await;
            // Send nothing more: an old client would wait for the gigabyte.
            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
        }
        Answer::Endless => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = vec![0u8; 64 * 1024];
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            // Until the client hangs up.
            while s.write_all(&framed).await.is_ok() {}
        }
        Answer::Enroll => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let node: Option<NodeId> = v["public_key"].as_str().and_then(|k| k.parse().ok());
            let mut sig = [0u8; 64];
            let proof_ok = node.is_some_and(|node| {
                hex::decode_to_slice(v["proof"]["signature"].as_str().unwrap_or(""), &mut sig)
                    .is_ok()
                    && verify_proof(
                        &node,
                        v["token"].as_str().unwrap_or(""),
                        v["name"].as_str().unwrap_or(""),
                        v["software_version"].as_str().unwrap_or(""),
                        v["proof"]["time_ms"].as_i64().unwrap_or(0),
                        &sig,
                    )
                    .is_ok()
            });
            let text = if proof_ok {
                respond(
                    "200 OK",
                    serde_json::json!({"node_id": v["public_key"], "villages": ["563412"],
                        "cloud_public_key": cloud_key().node_id().to_string()})
                    .to_string(),
                )
            } else {
                respond(
                    "401 Unauthorized",
                    r#"{"error":{"code":"invalid_proof","message":"bad proof"}}"#.to_owned(),
                )
            };
            let _ = s.write_all(text.as_bytes()).await;
        }
    }
    let _ = s.shutdown().await;
}

fn sync_config() -> SyncConfig {
    Config::for_tests(std::env::temp_dir()).sync
}

/// An enrolled store pointing at `cloud_url`, and the node's key.
fn enrolled(node: &TestNode, cloud_url: &str) -> (Arc<Store>, Arc<NodeSecretKey>) {
    let key = NodeSecretKey::from_seed([5; 32]);
    let store = node.state.store.clone();
    store
        .write(|tx| {
            sync_state::set_enrollment(
                tx,
                &Enrollment {
                    node_id: key.node_id().to_string(),
                    cloud_url: cloud_url.to_owned(),
                    cloud_public_key: cloud_key().node_id().to_string(),
                    villages: vec!["563412".into()],
                },
            )?;
            Ok(())
        })
        .unwrap();
    (store, Arc::new(key))
}

async fn exchange(node: &TestNode, url: &str, config: SyncConfig) -> Result<(), SyncError> {
    let (store, key) = enrolled(node, url);
    let client = SyncClient::new(store, key, config, None)?;
    client.exchange().await.map(|_| ())
}

struct Pki {
    dir: tempfile::TempDir,
    ca: TestCa,
    leaf: TestLeaf,
}

fn pki() -> Pki {
    let ca = TestCa::new("farmco test CA");
    let leaf = ca.leaf(&["127.0.0.1", "localhost"]);
    Pki {
        dir: tempfile::tempdir().unwrap(),
        ca,
        leaf,
    }
}

#[tokio::test]
async fn sync_over_tls_with_the_right_ca_reaches_the_cloud() {
    let pki = pki();
    let (addr, seen) = fake_cloud(Some(server_tls(&pki.leaf)), Answer::Refuse).await;
    let node = TestNode::new();
    let mut config = sync_config();
    config.ca_file = Some(pki.ca.write(pki.dir.path(), "ca.pem"));
    let err = exchange(&node, &format!("https://{addr}"), config)
        .await
        .unwrap_err();
    // The fake cloud's refusal came back through TLS: the request arrived.
    assert!(
        matches!(&err, SyncError::Refused { status: 400, message } if message.contains("saw the request")),
        "{err}"
    );
    assert_eq!(seen.requests(), 1);
}

#[tokio::test]
async fn sync_with_the_wrong_ca_fails_clearly_and_sends_nothing() {
    let pki = pki();
    let (addr, seen) = fake_cloud(Some(server_tls(&pki.leaf)), Answer::Refuse).await;
    let other = TestCa::new("someone else's CA");
    let node = TestNode::new();
    let mut config = sync_config();
    config.ca_file = Some(other.write(pki.dir.path(), "other-ca.pem"));
    let err = exchange(&node, &format!("https://{addr}"), config)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SyncError::Network(_)), "{text}");
    assert!(text.contains("not issued by a trusted CA"), "{text}");
    assert!(text.contains("nothing was sent"), "{text}");
    assert!(seen.connections() >= 1, "the edge never even connected");
    assert_eq!(seen.requests(), 0, "a request crossed an untrusted link");

    // The public roots (no ca_file) do not trust a private CA either.
    let mut config = sync_config();
    config.ca_file = None;
    let err = exchange(&node, &format!("https://{addr}"), config)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not issued by a trusted CA"),
        "{err}"
    );
    assert_eq!(seen.requests(), 0);
}

#[tokio::test]
async fn a_pinned_key_must_match_after_the_chain_checks() {
    let pki = pki();
    let (addr, seen) = fake_cloud(Some(server_tls(&pki.leaf)), Answer::Refuse).await;
    let node = TestNode::new();
    let ca_file = pki.ca.write(pki.dir.path(), "ca.pem");
    // Same CA, another key: the chain is fine, the pin is not.
    let other_leaf = pki.ca.leaf(&["127.0.0.1"]);
    let mut config = sync_config();
    config.ca_file = Some(ca_file.clone());
    config.pin_spki_sha256 =
        vec![farmco_edge::uplink::parse_spki_pin(&other_leaf.spki_sha256).unwrap()];
    let err = exchange(&node, &format!("https://{addr}"), config)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("matches no sync.pin_spki_sha256"), "{text}");
    assert!(
        text.contains(&pki.leaf.spki_sha256),
        "shows the presented key: {text}"
    );
    assert_eq!(
        seen.requests(),
        0,
        "a request crossed a link with the wrong key"
    );

    // The right pin (next to a rotated-in one) passes.
    let mut config = sync_config();
    config.ca_file = Some(ca_file);
    config.pin_spki_sha256 = vec![
        farmco_edge::uplink::parse_spki_pin(&other_leaf.spki_sha256).unwrap(),
        farmco_edge::uplink::parse_spki_pin(&pki.leaf.spki_sha256).unwrap(),
    ];
    let err = exchange(&node, &format!("https://{addr}"), config)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Refused { status: 400, .. }),
        "{err}"
    );
    assert_eq!(seen.requests(), 1);
}

#[tokio::test]
async fn plain_http_sync_is_refused_before_connecting_unless_allowed() {
    let (addr, seen) = fake_cloud(None, Answer::Refuse).await;
    let node = TestNode::new();
    let config = sync_config();
    assert!(!config.allow_insecure_http, "the default must be off");
    let err = exchange(&node, &format!("http://{addr}"), config.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Uplink(UplinkError::InsecureHttp { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("allow_insecure_http"), "{err}");
    assert_eq!(seen.connections(), 0, "connected to a plain-HTTP cloud");

    let mut allowed = config;
    allowed.allow_insecure_http = true;
    let err = exchange(&node, &format!("http://{addr}"), allowed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::Refused { status: 400, .. }),
        "{err}"
    );
    assert_eq!(seen.requests(), 1);
}

#[tokio::test]
async fn enrollment_over_http_is_refused_before_connecting() {
    let (addr, seen) = fake_cloud(None, Answer::Enroll).await;
    let config = sync_config();
    let key = NodeSecretKey::from_seed([6; 32]);
    let err = enroll(
        &format!("http://{addr}"),
        "token",
        &key,
        "box",
        &config,
        None,
        farmco_edge::store::now_ms(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, EnrollError::Uplink(UplinkError::InsecureHttp { .. })),
        "{err}"
    );
    // The command line refuses too, before it opens anything.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_farmco-edge"))
        .args([
            "enroll",
            "--cloud",
            &format!("http://{addr}"),
            "--token",
            "t",
        ])
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .env_remove("FARMCO_EDGE_ALLOW_INSECURE_HTTP")
        .env_remove("FARMCO_EDGE_DATA_DIR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing plain-HTTP"), "{stderr}");
    assert_eq!(
        seen.connections(),
        0,
        "enrollment connected over plain HTTP"
    );
}

#[tokio::test]
async fn enrollment_proves_the_key_and_checks_the_cloud_fingerprint() {
    let (addr, seen) = fake_cloud(None, Answer::Enroll).await;
    let mut config = sync_config();
    config.allow_insecure_http = true;
    let key = NodeSecretKey::from_seed([6; 32]);
    let url = format!("http://{addr}");
    let now = farmco_edge::store::now_ms();
    let right = key_fingerprint(&cloud_key().node_id());
    let enrolled = enroll(&url, "tok", &key, "box", &config, Some(&right), now)
        .await
        .unwrap();
    assert!(enrolled.fingerprint_checked);
    assert_eq!(enrolled.cloud_key_fingerprint, right);
    assert_eq!(enrolled.enrollment.node_id, key.node_id().to_string());
    assert_eq!(enrolled.enrollment.villages, vec!["563412".to_owned()]);

    // Someone else's cloud key: refused, nothing to store.
    let wrong = key_fingerprint(&NodeSecretKey::from_seed([78; 32]).node_id());
    let err = enroll(&url, "tok", &key, "box", &config, Some(&wrong), now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnrollError::FingerprintMismatch { .. }),
        "{err}"
    );
    // A malformed fingerprint is refused before any connection.
    let before = seen.connections();
    let err = enroll(&url, "tok", &key, "box", &config, Some("12ab"), now)
        .await
        .unwrap_err();
    assert!(matches!(err, EnrollError::BadFingerprint(_)), "{err}");
    assert_eq!(seen.connections(), before);
}

#[tokio::test]
async fn response_bodies_are_limited_while_they_stream() {
    let node = TestNode::new();
    let mut config = sync_config();
    config.allow_insecure_http = true;
    // A never-ending body: stopped at the limit, not buffered until the timeout.
    let (addr, _) = fake_cloud(None, Answer::Endless).await;
    let err = exchange(&node, &format!("http://{addr}"), config.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::BadResponse(m) if m.contains("too large")),
        "{err}"
    );
    // A declared length over the limit is refused before reading any of it.
    let (addr, _) = fake_cloud(None, Answer::HugeLength).await;
    let err = exchange(&node, &format!("http://{addr}"), config)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::BadResponse(m) if m.contains("too large")),
        "{err}"
    );
}
