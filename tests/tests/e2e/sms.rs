//! End to end, the farmers' SMS service with real processes and a real pseudo-terminal:
//! a farmer texts "भाव गेहूं" through the modem simulator's side door and gets the wheat
//! price in Hindi; and a node killed with SIGKILL after committing a message but before
//! sending the reply answers it exactly once after a restart.

use std::time::Duration;

use farmco_e2e::{
    Edge, ModemSimProcess, call, edge_config_with, login, poll, spawn_server_capturing,
};
use serde_json::{Value, json};

const FARMER: &str = "+919812345678";

async fn get_json(url: &str) -> Value {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn text_the_box(control: &str, from: &str, text: &str) {
    let response = reqwest::Client::new()
        .post(format!("{control}/sms"))
        .json(&json!({"from": from, "text": text}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// The simulator's outbox entries addressed to `to`.
async fn sent_to(control: &str, to: &str) -> Vec<Value> {
    get_json(&format!("{control}/outbox"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == to)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_farmer_texts_bhav_gehun_and_gets_the_price_in_hindi() {
    let dir = tempfile::tempdir().unwrap();
    let config = edge_config_with(
        dir.path(),
        "edge.toml",
        &[("cmgs_delay_ms = 3000", "cmgs_delay_ms = 0")],
    );
    let (_edge, control) = spawn_server_capturing(
        "farmco-edge",
        &[
            "demo",
            "--farmers",
            "3",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("FARMCO_DEMO_PASSWORD", "demo-password-1")],
        "modem simulator control: ",
    );
    text_the_box(&control, FARMER, "भाव गेहूं").await;
    let replies = poll(240, || sent_to(&control, FARMER), |r| !r.is_empty()).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let text = replies[0]["text"].as_str().unwrap();
    assert!(text.starts_with("गेहूं "), "a Hindi wheat reply: {text}");
    assert!(
        text.contains("₹2350-2600") && text.contains("औसत ₹2480/क्विंटल"),
        "{text}"
    );
    assert_eq!(
        replies[0]["parts"], 1,
        "the reply fits one SMS part: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_commit_before_reply_answers_exactly_once() {
    let edge = Edge::new();
    // Prices for the village, as sync would have stored them.
    {
        let db = rusqlite::Connection::open(edge.dir.path().join("farmco-edge.db")).unwrap();
        db.execute(
            "INSERT INTO advisories (id, seq, village_codes, kind, title, body, valid_from_ms,
                 valid_until_ms, created_ms, received_ms)
             VALUES ('p1', 1, '[\"563412\"]', 'mandi_price', 'wheat', ?1, 0, NULL, 0, 0)",
            [
                json!({"crop": "wheat", "market": "Parner APMC", "min_inr_per_quintal": 2350,
                    "max_inr_per_quintal": 2600, "modal_inr_per_quintal": 2480,
                    "as_of": "2026-01-14"})
                .to_string(),
            ],
        )
        .unwrap();
    }
    let modem_dir = tempfile::tempdir().unwrap();
    let link = modem_dir.path().join("modem");
    let sim = ModemSimProcess::start(&link, 0);
    let device = format!("device = \"{}\"", link.display());
    // A daily cap of one message: the first reply uses it, so the second message's reply is
    // committed but held in the outbox — exactly where the kill must land.
    let capped = edge_config_with(
        modem_dir.path(),
        "capped.toml",
        &[
            ("device = \"simulator\"", &device),
            ("daily_cap_per_sim = 100", "daily_cap_per_sim = 1"),
            ("reply_reserve = 20", "reply_reserve = 0"),
        ],
    );
    let open = edge_config_with(
        modem_dir.path(),
        "open.toml",
        &[("device = \"simulator\"", &device)],
    );
    let serve = |config: &std::path::Path| {
        farmco_e2e::spawn_server(
            "farmco-edge",
            &[
                "run",
                "--listen",
                "127.0.0.1:0",
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                edge.data_dir(),
            ],
            &[],
        )
    };
    let mut node = serve(&capped);
    let other = "+919800000001";
    text_the_box(&sim.control_url, other, "HELP").await;
    let first = poll(240, || sent_to(&sim.control_url, other), |r| !r.is_empty()).await;
    assert_eq!(first.len(), 1, "{first:?}");

    text_the_box(&sim.control_url, FARMER, "भाव गेहूं").await;
    let token = login(&node.base_url, "super", "edge-password-1").await;
    let inbox_url = format!("{}/api/v1/sms/inbox", node.base_url);
    let committed = poll(
        240,
        || async { call("GET", &inbox_url, &token, None).await.1 },
        |body| {
            body["messages"]
                .as_array()
                .is_some_and(|m| m.iter().any(|e| e["sender"] == FARMER))
        },
    )
    .await;
    let entry = committed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["sender"] == FARMER)
        .cloned()
        .unwrap_or_else(|| panic!("the message was not committed: {committed}"));
    assert_eq!(entry["reply_state"], "queued", "{entry}");

    // SIGKILL: no shutdown, no flush.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    assert!(
        sent_to(&sim.control_url, FARMER).await.is_empty(),
        "the reply had not gone out before the kill"
    );

    // Restart without the tight cap: the committed reply goes out, once.
    let node = serve(&open);
    let replies = poll(240, || sent_to(&sim.control_url, FARMER), |r| !r.is_empty()).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0]["text"].as_str().unwrap().contains("₹2480"),
        "{replies:?}"
    );
    // Let the restarted node finish: its outbox drained and the SIM emptied (every message
    // acknowledged and deleted), then count again.
    let token = login(&node.base_url, "super", "edge-password-1").await;
    let outbox_url = format!("{}/api/v1/sms/outbox", node.base_url);
    let drained = poll(
        240,
        || async { call("GET", &outbox_url, &token, None).await.1 },
        |body| {
            body["messages"].as_array().is_some_and(|m| {
                m.iter()
                    .all(|e| e["state"] == "sent" || e["state"] == "delivered")
            })
        },
    )
    .await;
    let sim_url = format!("{}/sim", sim.control_url);
    let sim_store = poll(
        240,
        || get_json(&sim_url),
        |s| s.as_array().is_some_and(Vec::is_empty),
    )
    .await;
    assert_eq!(
        sim_store,
        json!([]),
        "every message left the SIM after its ack"
    );
    let outbox = drained["messages"].as_array().unwrap();
    assert_eq!(
        outbox.iter().filter(|e| e["recipient"] == FARMER).count(),
        1,
        "one reply in the node's outbox: {drained}"
    );
    let inbox_url = format!("{}/api/v1/sms/inbox", node.base_url);
    let (_, inbox) = call("GET", &inbox_url, &token, None).await;
    assert_eq!(
        inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["sender"] == FARMER)
            .count(),
        1,
        "one inbox row: {inbox}"
    );
    assert_eq!(sent_to(&sim.control_url, FARMER).await.len(), 1);
}
