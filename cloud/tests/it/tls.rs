//! TLS on the cloud's links (issue 14 section 1, review finding 2):
//! - the real binary serving HTTPS with certificate files made at run time (rcgen), reloading
//!   them on SIGHUP: new connections get the new certificate while a connection opened before
//!   keeps working; a broken pair is refused and the old certificate stays in service;
//! - PostgreSQL over TLS when the URL says `sslmode=require`, plain without `sslmode`, and
//!   `verify-full` refusing a server certificate it cannot verify.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use farmco_shell::test_pki::{TestCa, TestLeaf};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::{TestDb, env};

const BIN: &str = env!("CARGO_BIN_EXE_farmco-cloud");

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn client(ca: &TestCa) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(&ca.cert_pem())).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn connect(connector: &tokio_rustls::TlsConnector, port: u16) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

fn peer_leaf(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// One keep-alive HTTP/1.1 GET on an open stream; returns the status code.
async fn get(stream: &mut TlsStream<TcpStream>, path: &str) -> u16 {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: cloud\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection was closed");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text[9..12].parse().unwrap();
            }
        }
    }
}

fn write_pair(dir: &std::path::Path, leaf: &TestLeaf) {
    std::fs::write(dir.join("server.key"), &leaf.key_pem).unwrap();
    std::fs::write(dir.join("server.crt"), &leaf.cert_pem).unwrap();
}

fn hangup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_and_reloads_the_certificate_on_sighup_without_dropping_connections() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("farmco test CA");
    let (a, b) = (ca.leaf(&["127.0.0.1"]), ca.leaf(&["127.0.0.1"]));
    write_pair(dir.path(), &a);
    let mut server = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("DATABASE_URL", &db.url)
        .env("FARMCO_CLOUD_LISTEN", "127.0.0.1:0")
        .env("FARMCO_CLOUD_TLS_CERT_FILE", dir.path().join("server.crt"))
        .env("FARMCO_CLOUD_TLS_KEY_FILE", dir.path().join("server.key"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("farmco-cloud listening on https://127.0.0.1:")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains(&a.spki_sha256),
        "SPKI of the served key: {line}"
    );
    // Log lines, to know when a failed reload has been handled.
    let (log_tx, log_rx) = std::sync::mpsc::channel::<String>();
    let stderr = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });

    let connector = client(&ca);
    let mut old = connect(&connector, port).await;
    assert_eq!(peer_leaf(&old), der(&a.cert_pem));
    assert_eq!(get(&mut old, "/healthz").await, 200);

    // Renewal: new files, SIGHUP. New handshakes get the new certificate...
    write_pair(dir.path(), &b);
    hangup(server.id());
    let mut served = None;
    for _ in 0..200 {
        let fresh = connect(&connector, port).await;
        if peer_leaf(&fresh) == der(&b.cert_pem) {
            served = Some(fresh);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut fresh = served.expect("the new certificate was never served");
    assert_eq!(get(&mut fresh, "/healthz").await, 200);
    // ...and the connection opened before the reload still works.
    assert_eq!(get(&mut old, "/healthz").await, 200);
    assert_eq!(get(&mut old, "/readyz").await, 200);

    // A broken renewal (key of another certificate) is refused; B stays in service.
    let c = ca.leaf(&["127.0.0.1"]);
    std::fs::write(dir.path().join("server.key"), &c.key_pem).unwrap();
    hangup(server.id());
    let failed = log_rx
        .iter()
        .find(|l| l.contains("TLS certificate reload failed"))
        .expect("the failed reload was not logged");
    assert!(failed.contains("do not go together"), "{failed}");
    let mut after = connect(&connector, port).await;
    assert_eq!(peer_leaf(&after), der(&b.cert_pem));
    assert_eq!(get(&mut after, "/healthz").await, 200);

    // A client that trusts another CA gets no connection at all.
    let stranger = client(&TestCa::new("another CA"));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(
        stranger
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .is_err()
    );

    drop((old, fresh, after));
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait().unwrap().success());
}

#[tokio::test]
async fn a_bad_certificate_pair_stops_the_start() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("farmco test CA");
    let (a, b) = (ca.leaf(&["127.0.0.1"]), ca.leaf(&["127.0.0.1"]));
    std::fs::write(dir.path().join("server.crt"), &a.cert_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), &b.key_pem).unwrap();
    let out = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("DATABASE_URL", &db.url)
        .env("FARMCO_CLOUD_LISTEN", "127.0.0.1:0")
        .env("FARMCO_CLOUD_TLS_CERT_FILE", dir.path().join("server.crt"))
        .env("FARMCO_CLOUD_TLS_KEY_FILE", dir.path().join("server.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("loading the TLS certificate"), "{stderr}");
    // Only one of the two files: a configuration error.
    let out = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("DATABASE_URL", &db.url)
        .env("FARMCO_CLOUD_TLS_CERT_FILE", dir.path().join("server.crt"))
        .env_remove("FARMCO_CLOUD_TLS_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set both"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Is this connection encrypted, according to the server?
async fn ssl_in_use(store: &farmco_cloud::store::Store) -> bool {
    let conn = store.conn().await.unwrap();
    conn.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

#[tokio::test]
async fn postgres_over_tls_when_the_url_asks_for_it() {
    let env = env().await;
    assert!(!ssl_in_use(&env.store).await, "the default stays plain");
    let server_offers_tls = env
        .sql()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get::<_, String>(0)
        == "on";

    let mut config = env.config.clone();
    config.database.url = with_param(&env.db.url, "sslmode=require");
    let opened = farmco_cloud::server::open(&config).await;
    if server_offers_tls {
        // Debian's PostgreSQL offers TLS with its snakeoil certificate.
        let (store, _) = opened.unwrap_or_else(|e| panic!("sslmode=require: {e:#}"));
        assert!(ssl_in_use(&store).await, "sslmode=require did not encrypt");
        store.close();
    } else {
        // Never a silent fallback to plain text.
        assert!(opened.is_err(), "sslmode=require connected without TLS");
    }

    // verify-full against a CA that did not sign the server's certificate: refused.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("not the database's CA").write(dir.path(), "ca.pem");
    let mut config = env.config.clone();
    config.database.url = with_param(
        &env.db.url,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let err = farmco_cloud::server::open(&config).await.unwrap_err();
    let text = format!("{err:#}").to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("tls") || text.contains("ssl"),
        "{text}"
    );
}
