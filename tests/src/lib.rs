//! Harness for end-to-end tests: starts the real `farmco-cloud` and `farmco-edge` binaries on
//! free ports with their own data dirs and a fresh PostgreSQL database, and stops them (and drops
//! the database) when dropped.
//!
//! The binaries are found next to the test executable's target dir (`scripts/test` builds them
//! first with `cargo build --workspace --bins`); set `FARMCO_BIN_DIR` to use others.

#![allow(clippy::unwrap_used)] // a harness fails loudly by design

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// Admin connection for creating test databases.
pub fn admin_database_url() -> String {
    std::env::var("FARMCO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Directory holding the built binaries.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FARMCO_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/e2e-… → target/debug
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} not found: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// Run a binary to completion with stdin, returning (success, stdout, stderr).
pub fn run(
    bin_name: &str,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut cmd = Command::new(bin(bin_name));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("FARMCO_EDGE_DATA_DIR")
        .env_remove("FARMCO_EDGE_LISTEN")
        .env_remove("FARMCO_CLOUD_LISTEN")
        .env_remove("DATABASE_URL")
        .env_remove(INSECURE_HTTP_ENV)
        .env_remove("FARMCO_CLOUD_TLS_CERT_FILE")
        .env_remove("FARMCO_CLOUD_TLS_KEY_FILE")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running server process; killed on drop.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The edge's switch for plain-HTTP clouds: the harness's clouds speak plain HTTP unless a test
/// starts one with TLS, so edges made by [`Edge::new`] set it explicitly.
pub const INSECURE_HTTP_ENV: &str = "FARMCO_EDGE_ALLOW_INSECURE_HTTP";

/// Spawn `bin args…` and wait for a stdout line "… listening on http(s)://ADDR".
pub fn spawn_server(bin_name: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
    spawn_and_read(bin_name, args, env, None).0
}

/// A fresh database, dropped at the end.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("farmco_e2e_{:016x}", rand::random::<u64>());
        let (client, conn) = tokio_postgres::connect(&admin_database_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let admin = admin_database_url();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Best effort, on a separate thread with its own runtime (we may be inside one).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin_database_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A cloud server with its own database and data dir.
#[derive(Debug)]
pub struct Cloud {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

impl Cloud {
    /// A plain-HTTP cloud (edges need [`INSECURE_HTTP_ENV`], which [`Edge::new`] sets).
    pub async fn start() -> Cloud {
        Cloud::start_with(&[]).await
    }

    /// A cloud serving HTTPS itself with this certificate and key (PEM files).
    pub async fn start_tls(cert_file: &Path, key_file: &Path) -> Cloud {
        Cloud::start_with(&[
            ("FARMCO_CLOUD_TLS_CERT_FILE", cert_file.to_str().unwrap()),
            ("FARMCO_CLOUD_TLS_KEY_FILE", key_file.to_str().unwrap()),
        ])
        .await
    }

    async fn start_with(extra_env: &[(&str, &str)]) -> Cloud {
        let db = TestDb::create().await;
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap().to_owned();
        let mut env = vec![
            ("DATABASE_URL", db.url.as_str()),
            ("FARMCO_CLOUD_LISTEN", "127.0.0.1:0"),
        ];
        env.extend_from_slice(extra_env);
        let (ok, out, err) = run(
            "farmco-cloud",
            &[
                "user",
                "add",
                "--username",
                "ops",
                "--role",
                "ops",
                "--data-dir",
                &data_dir,
            ],
            "ops-password-1\n",
            &env,
        );
        assert!(ok, "user add: {out}{err}");
        let server = spawn_server("farmco-cloud", &["serve", "--data-dir", &data_dir], &env);
        Cloud { server, dir, db }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("DATABASE_URL", self.db.url.as_str())]
    }

    /// A one-time enrollment token for these villages.
    pub fn token(&self, villages: &str) -> String {
        self.token_and_fingerprint(villages).0
    }

    /// A one-time enrollment token and the cloud key fingerprint `device token` prints with it.
    pub fn token_and_fingerprint(&self, villages: &str) -> (String, String) {
        let data_dir = self.dir.path().to_str().unwrap();
        let (ok, out, err) = run(
            "farmco-cloud",
            &[
                "device",
                "token",
                "--villages",
                villages,
                "--data-dir",
                data_dir,
            ],
            "",
            &self.env(),
        );
        assert!(ok, "device token: {out}{err}");
        let fingerprint = out
            .lines()
            .find_map(|l| l.strip_prefix("cloud key fingerprint (sha256): "))
            .unwrap_or_else(|| panic!("no fingerprint in {out}"))
            .trim()
            .to_owned();
        (out.lines().last().unwrap().trim().to_owned(), fingerprint)
    }

    pub fn device(&self, args: &[&str]) -> (bool, String) {
        let data_dir = self.dir.path().to_str().unwrap();
        let mut all = vec!["device"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", data_dir]);
        let (ok, out, err) = run("farmco-cloud", &all, "", &self.env());
        (ok, out + &err)
    }

    pub async fn login(&self) -> String {
        login(&self.server.base_url, "ops", "ops-password-1").await
    }
}

/// An edge node's data dir, enrolled or not; `serve()` starts it.
#[derive(Debug)]
pub struct Edge {
    pub dir: tempfile::TempDir,
    /// Environment of every command and of the server.
    pub env: Vec<(String, String)>,
}

impl Edge {
    /// An edge for the harness's plain-HTTP clouds: plain HTTP allowed explicitly.
    pub fn new() -> Edge {
        Edge::with_env(&[(INSECURE_HTTP_ENV, "1")])
    }

    /// An edge that accepts only HTTPS clouds (the default policy).
    pub fn secure() -> Edge {
        Edge::with_env(&[])
    }

    fn with_env(env: &[(&str, &str)]) -> Edge {
        let edge = Edge {
            dir: tempfile::tempdir().unwrap(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        for (user, role) in [("agent", "agent"), ("super", "supervisor")] {
            let (ok, out, err) = edge.cli(
                &[
                    "user",
                    "add",
                    "--username",
                    user,
                    "--role",
                    role,
                    "--village",
                    "563412",
                ],
                "edge-password-1\n",
            );
            assert!(ok, "user add: {out}{err}");
        }
        edge
    }

    pub fn data_dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn cli(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--data-dir", self.data_dir()]);
        run("farmco-edge", &all, stdin, &self.env_pairs())
    }

    pub fn enroll(&self, cloud: &Cloud, villages: &str) {
        let token = cloud.token(villages);
        let (ok, out, err) = self.cli(
            &[
                "enroll",
                "--cloud",
                &cloud.server.base_url,
                "--token",
                &token,
            ],
            "",
        );
        assert!(ok, "enroll: {out}{err}");
    }

    /// `farmco-edge sync --once`; returns its summary line.
    pub fn sync_once(&self) -> String {
        let (ok, out, err) = self.cli(&["sync", "--once"], "");
        assert!(ok, "sync --once failed: {out}{err}");
        out.trim().to_owned()
    }

    pub fn serve(&self) -> Server {
        spawn_server(
            "farmco-edge",
            &[
                "run",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                self.data_dir(),
            ],
            &self.env_pairs(),
        )
    }
}

impl Default for Edge {
    fn default() -> Self {
        Edge::new()
    }
}

pub async fn login(base: &str, username: &str, password: &str) -> String {
    let resp: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {resp}"))
        .to_owned()
}

/// JSON request helper: (status, body).
pub async fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut req = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Spawn a server like [`spawn_server`], and also capture the first stdout line (within the
/// first 50) containing `marker`: returns the text after the marker.
pub fn spawn_server_capturing(
    bin_name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    marker: &str,
) -> (Server, String) {
    let (server, captured) = spawn_and_read(bin_name, args, env, Some(marker));
    let captured = captured.unwrap_or_else(|| panic!("{bin_name} did not print {marker:?}"));
    (server, captured)
}

/// Spawn the server with a clean environment, read stdout until its address (and the `marker`
/// line, when asked for) appeared, then keep draining stdout so the child never blocks on a
/// full pipe.
fn spawn_and_read(
    bin_name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    marker: Option<&str>,
) -> (Server, Option<String>) {
    let mut cmd = Command::new(bin(bin_name));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env_remove("FARMCO_EDGE_DATA_DIR")
        .env_remove("FARMCO_EDGE_LISTEN")
        .env_remove("FARMCO_EDGE_MODEM_DEVICE")
        .env_remove("FARMCO_CLOUD_LISTEN")
        .env_remove("DATABASE_URL")
        .env_remove(INSECURE_HTTP_ENV)
        .env_remove("FARMCO_CLOUD_TLS_CERT_FILE")
        .env_remove("FARMCO_CLOUD_TLS_KEY_FILE")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let (mut base_url, mut captured) = (None, None);
    for _ in 0..50 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(pos) = line
            .find("listening on http://")
            .or_else(|| line.find("listening on https://"))
        {
            base_url = Some(line[pos + "listening on ".len()..].trim().to_owned());
        }
        if let Some(marker) = marker
            && let Some(pos) = line.find(marker)
        {
            captured = Some(line[pos + marker.len()..].trim().to_owned());
        }
        if base_url.is_some() && (marker.is_none() || captured.is_some()) {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let base_url = base_url.unwrap_or_else(|| panic!("{bin_name} did not report its address"));
    (Server { child, base_url }, captured)
}

/// A `farmco-modem-sim` process with a symlink to its pty and its HTTP side door; killed on
/// drop. Separate from the edge, so killing the edge leaves the modem (and its SIM) alive.
#[derive(Debug)]
pub struct ModemSimProcess {
    pub child: Child,
    pub link: PathBuf,
    pub control_url: String,
}

impl ModemSimProcess {
    pub fn start(link: &Path, cmgs_delay_ms: u64) -> ModemSimProcess {
        let mut child = Command::new(bin("farmco-modem-sim"))
            .args([
                "--link",
                link.to_str().unwrap(),
                "--control",
                "127.0.0.1:0",
                "--cmgs-delay-ms",
                &cmgs_delay_ms.to_string(),
                "--status-report-delay-ms",
                "100",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut control_url = None;
        for _ in 0..10 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(url) = line.strip_prefix("control: ") {
                control_url = Some(url.trim().to_owned());
                break;
            }
        }
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        ModemSimProcess {
            child,
            link: link.to_owned(),
            control_url: control_url.expect("farmco-modem-sim printed no control URL"),
        }
    }
}

impl Drop for ModemSimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The edge's embedded default configuration with `replacements` applied (`(from, to)` text
/// substitutions), written into `dir`; returns the file's path.
pub fn edge_config_with(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/edge.toml");
    let mut text = std::fs::read_to_string(default).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "config has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Poll (at most `rounds` × 250 ms) until `check` holds; the last value is returned either way.
pub async fn poll<T, F, Fut>(rounds: usize, mut f: F, check: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut value = f().await;
    for _ in 0..rounds {
        if check(&value) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        value = f().await;
    }
    value
}
