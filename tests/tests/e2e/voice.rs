//! End to end, voice and notifications with real processes and a real pseudo-terminal: the
//! edge is killed with SIGKILL while it is on a call reading out a critical broadcast, with a
//! missed-call callback queued; after a restart the callback queue is intact and no farmer
//! hears or reads the same broadcast twice (the modem simulator runs as its own process, so
//! it outlives the edge and keeps the record of every call and SMS).

use std::time::Duration;

use farmco_e2e::{Edge, ModemSimProcess, call, edge_config_with, login, poll};
use serde_json::{Value, json};

const CALLER: &str = "+919812345671";
const LISTENER: &str = "+919812345672";
const TEXT: &str = "Storm tonight, secure the harvest";

async fn get_json(url: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(url: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn calls_out_to(calls: &Value, number: &str) -> Vec<Value> {
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["direction"] == "out" && c["number"] == number)
        .cloned()
        .collect()
}

fn sms_to(outbox: &Value, number: &str) -> usize {
    outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == number && e["text"].as_str().unwrap_or("").contains(TEXT))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_call_with_a_callback_queued_loses_nothing_and_repeats_nothing() {
    let edge = Edge::new();
    let modem_dir = tempfile::tempdir().unwrap();
    let link = modem_dir.path().join("modem");
    let sim = ModemSimProcess::start(&link, 0);
    let device = format!("device = \"{}\"", link.display());
    // Missed-call mode; a callback waits an hour, so it is still queued at the kill.
    let config = edge_config_with(
        modem_dir.path(),
        "voice.toml",
        &[
            ("device = \"simulator\"", &device),
            ("mode = \"answer\"", "mode = \"missed_call\""),
            (
                "callback_first_delay_seconds = 10",
                "callback_first_delay_seconds = 3600",
            ),
        ],
    );
    let serve = || {
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
    let mut node = serve();
    let agent = login(&node.base_url, "agent", "edge-password-1").await;
    for (name, phone) in [("Asha Jadhav", CALLER), ("Ravi Shinde", LISTENER)] {
        let (status, body) = call(
            "POST",
            &format!("{}/api/v1/farmers", node.base_url),
            &agent,
            Some(
                json!({"name": name, "phone": phone, "language": "en", "village_code": "563412",
                "consents": {"sms": true, "voice": true, "data_sharing": false}}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let supervisor = login(&node.base_url, "super", "edge-password-1").await;
    let callbacks_url = format!("{}/api/v1/voice/callbacks", node.base_url);
    let calls_url = format!("{}/calls", sim.control_url);
    let outbox_url = format!("{}/outbox", sim.control_url);

    // A missed call (the box rejects it in missed-call mode) queues a callback.
    assert_eq!(
        post(
            &format!("{}/call", sim.control_url),
            json!({"from": CALLER})
        )
        .await,
        200
    );
    let queued = poll(
        120,
        || async { call("GET", &callbacks_url, &supervisor, None).await.1 },
        |b| b["callbacks"].as_array().is_some_and(|c| !c.is_empty()),
    )
    .await;
    assert_eq!(queued["callbacks"][0]["state"], "pending", "{queued}");

    // A critical broadcast: SMS and a call to each farmer.
    let broadcast = json!({"village_code": "563412", "broadcast_id": "storm-1",
        "urgency": "critical", "message": {"key": "broadcast", "args": {"text": TEXT}}});
    let broadcasts_url = format!("{}/api/v1/broadcasts", node.base_url);
    let (status, body) = call(
        "POST",
        &broadcasts_url,
        &supervisor,
        Some(broadcast.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["scheduled"], 2, "{body}");

    // Kill -9 while the box is on a call, reading the broadcast out.
    let spoken_url = format!("{}/spoken", sim.control_url);
    poll(
        240,
        || get_json(&spoken_url),
        |s| {
            s.as_array().is_some_and(|s| {
                s.iter()
                    .any(|e| e["text"].as_str().unwrap_or("").contains(TEXT))
            })
        },
    )
    .await;
    let on_call = get_json(&calls_url).await;
    let active: Vec<&Value> = on_call
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "on a call at the kill: {on_call}");
    let first_number = active[0]["number"].as_str().unwrap().to_owned();
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    // The farmer hangs up the call the dead box left open.
    assert_eq!(
        post(&format!("{}/hangup", sim.control_url), json!({})).await,
        200
    );

    let node = serve();
    let supervisor = login(&node.base_url, "super", "edge-password-1").await;
    let callbacks_url = format!("{}/api/v1/voice/callbacks", node.base_url);
    let broadcasts_url = format!("{}/api/v1/broadcasts", node.base_url);
    // The other farmer is called after the restart; they listen, then hang up.
    let other = if first_number == CALLER {
        LISTENER
    } else {
        CALLER
    };
    let calls = poll(
        240,
        || get_json(&calls_url),
        |c| {
            calls_out_to(c, other)
                .iter()
                .any(|c| c["state"] == "active")
        },
    )
    .await;
    assert_eq!(calls_out_to(&calls, other).len(), 1, "{calls}");
    assert_eq!(
        post(&format!("{}/hangup", sim.control_url), json!({})).await,
        200
    );
    // Both SMS go out (the outbox resumes after the call).
    let outbox = poll(
        240,
        || get_json(&outbox_url),
        |o| sms_to(o, CALLER) >= 1 && sms_to(o, LISTENER) >= 1,
    )
    .await;
    // The same broadcast again reaches nobody.
    let (status, body) = call("POST", &broadcasts_url, &supervisor, Some(broadcast)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["scheduled"], 0, "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = get_json(&calls_url).await;
    let outbox_after = get_json(&outbox_url).await;
    for number in [CALLER, LISTENER] {
        assert_eq!(sms_to(&outbox_after, number), 1, "one SMS each: {outbox}");
        assert_eq!(
            calls_out_to(&calls, number).len(),
            1,
            "one call each, none repeated after the kill: {calls}"
        );
    }
    // The callback queue survived the kill: still pending, no attempt used.
    let (_, callbacks) = call("GET", &callbacks_url, &supervisor, None).await;
    let list = callbacks["callbacks"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{callbacks}");
    assert_eq!(list[0]["state"], "pending", "{callbacks}");
    assert_eq!(list[0]["attempts"], 0, "{callbacks}");
    assert_eq!(list[0]["number"], CALLER, "{callbacks}");
}
