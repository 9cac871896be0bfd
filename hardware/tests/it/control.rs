//! The simulator's HTTP side door on an ephemeral port: playing the farmer (SMS, call, keys,
//! hang up), inspecting (outbox, spoken, calls, SIM, stats) and arming faults, including the
//! error answers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{sim_settings, start_sim};

#[tokio::test]
async fn the_side_door_plays_the_farmer_and_reports() {
    let sim = start_sim(sim_settings(), true).await;
    let base = format!("http://{}", sim.sim.control_addr().unwrap());
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();

    let delivered: Value = post("/sms", json!({"from": "+919812345678", "text": "hello"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delivered["parts"], 1);
    assert_eq!(delivered["stored_indices"], json!([1]));
    let long = "किसान ".repeat(30);
    let delivered: Value = post("/sms", json!({"from": "+919812345678", "text": long}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delivered["parts"], 3);
    let stored: Value = client
        .get(format!("{base}/sim"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 4);
    assert_eq!(stored[0]["kind"], "deliver");

    let bad = post("/sms", json!({"from": "", "text": "x"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let unknown_field = post("/sms", json!({"from": "+91", "text": "x", "extra": 1}))
        .await
        .unwrap();
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);

    let call: Value = post("/call", json!({"from": "+919812345678"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["call_id"], 1);
    let busy = post("/call", json!({"from": "+919800000000"}))
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    let not_connected = post("/dtmf", json!({"digits": "1"})).await.unwrap();
    assert_eq!(not_connected.status(), StatusCode::CONFLICT);
    let hangup = post("/hangup", json!({})).await.unwrap();
    assert_eq!(hangup.status(), StatusCode::OK);
    let calls: Value = client
        .get(format!("{base}/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls[0]["direction"], "in");
    assert_eq!(calls[0]["state"], "ended");
    assert_eq!(calls[0]["end_cause"], "missed");
    let no_call = post("/hangup", json!({})).await.unwrap();
    assert_eq!(no_call.status(), StatusCode::CONFLICT);

    let armed: Value = post("/faults", json!({"cms_errors": 2, "garbage_responses": 1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(armed["cms_errors"], 2);
    let shown: Value = client
        .get(format!("{base}/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown, armed);
    let typo = post("/faults", json!({"cms_error": 2})).await.unwrap();
    assert_eq!(typo.status(), StatusCode::BAD_REQUEST);

    for path in ["/outbox", "/spoken"] {
        let list: Value = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list, json!([]), "{path}");
    }
    let stats: Value = client
        .get(format!("{base}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["sim_used"], 4);
    assert_eq!(stats["sim_capacity"], 30);
    sim.sim.shutdown().await;
}
