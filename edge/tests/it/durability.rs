//! Nothing acknowledged is lost: the real binary is killed with SIGKILL while requests are in
//! flight, restarted, and every farmer that got a 201 must be there, with an intact audit chain.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_farmco-edge");

fn start(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("FARMCO_EDGE_LISTEN")
        .env_remove("FARMCO_EDGE_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        addr.starts_with("http://127.0.0.1:"),
        "unexpected first line {line:?}"
    );
    (child, addr)
}

pub(crate) fn cli(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("FARMCO_EDGE_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = cli(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "field1",
            "--role",
            "agent",
            "--village",
            "563412",
        ],
        "a-long-password\n",
    );
    assert!(ok, "{out}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut phone = 9_700_000_000u64;
    for round in 0..3 {
        let (mut child, base) = start(dir.path());
        let login: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "field1", "password": "a-long-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().unwrap().to_owned();
        // Fire requests continuously from a task; kill the node while they are in flight.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
        let c = client.clone();
        let b = base.clone();
        let t = token.clone();
        let start_phone = phone;
        let writer = tokio::spawn(async move {
            let mut p = start_phone;
            loop {
                p += 1;
                let resp = c
                    .post(format!("{b}/api/v1/farmers"))
                    .bearer_auth(&t)
                    .json(&json!({"name": format!("Farmer {p}"), "phone": p.to_string(), "language": "hi", "village_code": "563412"}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 201 => {
                        let body: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => break,
                        };
                        if tx
                            .send(body["id"].as_str().unwrap_or_default().to_owned())
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(300 + 150 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer.await.unwrap();
        while let Ok(id) = rx.try_recv() {
            acknowledged.push(id);
        }
        phone += 100_000;
    }
    assert!(
        acknowledged.len() >= 3,
        "too few writes to mean anything: {}",
        acknowledged.len()
    );

    let (mut child, base) = start(dir.path());
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "field1", "password": "a-long-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    for id in &acknowledged {
        let r = client
            .get(format!("{base}/api/v1/farmers/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged farmer {id} lost");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (ok, out) = cli(dir.path(), &["audit", "verify"], "");
    assert!(ok, "{out}");
    assert!(out.starts_with("ok"), "{out}");
}
