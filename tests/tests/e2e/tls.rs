//! TLS end to end (issue 14 section 1): a cloud serving HTTPS with a CA made at run time, edges
//! that accept only HTTPS. The right CA (and pin, and cloud key fingerprint) enrolls and syncs;
//! the wrong CA or a wrong pin fails with a clear error and the cloud sees no request; plain
//! HTTP is refused before any connection.

use farmco_e2e::{Cloud, Edge, edge_config_with};
use farmco_shell::test_pki::TestCa;

/// Requests the cloud counted on `route` (from its Prometheus text).
async fn requests_to(cloud: &Cloud, client: &reqwest::Client, route: &str) -> u64 {
    let text = client
        .get(format!("{}/metrics", cloud.server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.contains("http_requests_total{") && l.contains(&format!("route=\"{route}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// An edge config trusting `ca_file` only, optionally pinning keys.
fn config(dir: &std::path::Path, name: &str, ca_file: &std::path::Path, pins: &[&str]) -> String {
    let pins = pins
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    edge_config_with(
        dir,
        name,
        &[
            (
                "ca_file = \"\"",
                &format!("ca_file = {:?}", ca_file.to_str().unwrap()),
            ),
            (
                "pin_spki_sha256 = []",
                &format!("pin_spki_sha256 = [{pins}]"),
            ),
        ],
    )
    .to_str()
    .unwrap()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_sync_over_tls_only_with_the_right_ca_and_pin() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("farmco e2e CA");
    let leaf = ca.leaf(&["127.0.0.1", "localhost"]);
    let (cert, key) = leaf.write(pki.path(), "cloud");
    let ca_file = ca.write(pki.path(), "ca.pem");
    let wrong_ca_file = TestCa::new("someone else").write(pki.path(), "wrong-ca.pem");
    let cloud = Cloud::start_tls(&cert, &key).await;
    assert!(
        cloud.server.base_url.starts_with("https://"),
        "{}",
        cloud.server.base_url
    );
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
        .build()
        .unwrap();

    // Enrollment over HTTPS, the cloud key pinned out of band, the certificate key pinned.
    let edge = Edge::secure();
    let good = config(pki.path(), "good.toml", &ca_file, &[&leaf.spki_sha256]);
    let (token, fingerprint) = cloud.token_and_fingerprint("563412");
    let (ok, out, err) = edge.cli(
        &[
            "--config",
            &good,
            "enroll",
            "--cloud",
            &cloud.server.base_url,
            "--token",
            &token,
            "--cloud-key-fingerprint",
            &fingerprint,
        ],
        "",
    );
    assert!(ok, "enroll: {out}{err}");
    assert!(out.contains("matches --cloud-key-fingerprint"), "{out}");
    let (ok, out, err) = edge.cli(&["seed-demo", "--farmers", "3"], "");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = edge.cli(&["--config", &good, "sync", "--once"], "");
    assert!(ok, "sync over TLS: {out}{err}");
    assert!(
        out.starts_with("sync ok:") && !out.contains(" 0 changes up"),
        "{out}"
    );
    let synced = requests_to(&cloud, &https, "/api/v1/sync").await;
    assert!(synced > 0);

    // The same edge with the wrong CA: a clear error, and not one request reached the cloud.
    let wrong = config(pki.path(), "wrong-ca.toml", &wrong_ca_file, &[]);
    let (ok, out, err) = edge.cli(&["--config", &wrong, "sync", "--once"], "");
    assert!(!ok, "synced with the wrong CA: {out}");
    assert!(err.contains("not issued by a trusted CA"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    // With the right CA but another key pinned: the same.
    let other_key = ca.leaf(&["127.0.0.1"]).spki_sha256;
    let pinned = config(pki.path(), "wrong-pin.toml", &ca_file, &[&other_key]);
    let (ok, _, err) = edge.cli(&["--config", &pinned, "sync", "--once"], "");
    assert!(!ok);
    assert!(err.contains("matches no sync.pin_spki_sha256"), "{err}");
    assert_eq!(
        requests_to(&cloud, &https, "/api/v1/sync").await,
        synced,
        "the cloud received a request over an untrusted link"
    );

    // A new box with the wrong CA cannot even enroll; the token stays unused.
    let stranger = Edge::secure();
    let (token, _) = cloud.token_and_fingerprint("563412");
    let (ok, _, err) = stranger.cli(
        &[
            "--config",
            &wrong,
            "enroll",
            "--cloud",
            &cloud.server.base_url,
            "--token",
            &token,
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("not issued by a trusted CA"), "{err}");
    assert_eq!(requests_to(&cloud, &https, "/api/v1/enroll").await, 1);

    // Plain HTTP is refused before any connection: a listener that records connections.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let plain = format!("http://{}", listener.local_addr().unwrap());
    let (ok, _, err) = stranger.cli(&["enroll", "--cloud", &plain, "--token", &token], "");
    assert!(!ok);
    assert!(err.contains("refusing plain-HTTP"), "{err}");
    let (ok, _, err) = edge.cli(
        &["--config", &good, "sync", "--once", "--cloud", &plain],
        "",
    );
    assert!(!ok);
    assert!(err.contains("refusing plain-HTTP"), "{err}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "something connected to the plain-HTTP address"
    );

    // The token the stranger could not use still enrolls a box that trusts the right CA.
    let late = Edge::secure();
    let (ok, out, err) = late.cli(
        &[
            "--config",
            &good,
            "enroll",
            "--cloud",
            &cloud.server.base_url,
            "--token",
            &token,
        ],
        "",
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("NOT checked"),
        "an unpinned enrollment says so: {out}"
    );
}
