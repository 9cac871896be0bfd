//! The real binary and real sockets: `migrate`, `user add` (password on stdin), `device token`
//! (token on the last line), `serve` on an ephemeral port with enrollment and login over HTTP,
//! `device list`, `device revoke` by prefix, `audit verify`; and `server::serve` in-process with
//! a graceful shutdown.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{TestDb, env, node_key};

const BIN: &str = env!("CARGO_BIN_EXE_farmco-cloud");

fn cli(db: &TestDb, dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("FARMCO_CLOUD_LISTEN")
        .env_remove("FARMCO_CLOUD_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || args == ["audit", "verify"],
        "{args:?} failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), stdout)
}

#[tokio::test]
async fn the_binary_end_to_end() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let latest = format!(
        "schema at version {}",
        farmco_cloud::store::migrations::latest_version()
    );
    let (_, out) = cli(&db, dir.path(), &["migrate"], None);
    assert!(out.contains(&latest), "{out}");
    let (_, out) = cli(&db, dir.path(), &["migrate"], None);
    assert!(out.contains(&latest), "{out}");
    let (_, out) = cli(
        &db,
        dir.path(),
        &["user", "add", "--username", "admin1", "--role", "admin"],
        Some("long enough password\n"),
    );
    assert!(out.contains("added user admin1 (role admin)"), "{out}");
    let (_, out) = cli(
        &db,
        dir.path(),
        &["device", "token", "--villages", "563413,563412"],
        None,
    );
    let token = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(token.len(), 64, "{out}");
    assert!(out.contains("563412,563413"), "{out}");

    // serve on an ephemeral port; the address is printed on stdout.
    let mut server = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("DATABASE_URL", &db.url)
        .env("FARMCO_CLOUD_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ready");
    let resp = http
        .post(format!("{base}/api/v1/enroll"))
        .json(
            &json!({"token": token, "public_key": hex::encode(node_key(42)),
                      "name": "box-42", "software_version": "0.1.0"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let enrolled: Value = resp.json().await.unwrap();
    let node_id = enrolled["node_id"].as_str().unwrap().to_owned();
    assert_eq!(enrolled["villages"], json!(["563412", "563413"]));
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin1", "password": "long enough password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = login["token"].as_str().unwrap();
    let nodes: Value = http
        .get(format!("{base}/api/v1/nodes"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nodes["nodes"][0]["node_id"], node_id.as_str());
    // SIGTERM: graceful shutdown, exit 0.
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait().unwrap().success());

    let (_, out) = cli(&db, dir.path(), &["device", "list"], None);
    let row = out.lines().find(|l| l.starts_with(&node_id)).unwrap();
    assert!(row.contains("box-42\t563412,563413\t"), "{row}");
    assert!(row.ends_with("\t-"), "not revoked yet: {row}");
    let (_, out) = cli(&db, dir.path(), &["device", "revoke", &node_id[..8]], None);
    assert_eq!(out.trim(), format!("revoked {node_id}"));
    let (_, out) = cli(&db, dir.path(), &["device", "list"], None);
    let row = out.lines().find(|l| l.starts_with(&node_id)).unwrap();
    assert!(!row.ends_with("\t-"), "revoked: {row}");
    let (ok, out) = cli(&db, dir.path(), &["audit", "verify"], None);
    assert!(ok);
    assert_eq!(out.trim(), "ok");
}

#[tokio::test]
async fn serve_in_process_on_an_ephemeral_port() {
    let env = env().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(farmco_cloud::server::serve(
        env.config.clone(),
        env.store.clone(),
        env.key.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let resp = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = reqwest::get(format!("http://{addr}/api/v1/farmers"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
