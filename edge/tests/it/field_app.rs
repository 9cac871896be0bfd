//! The field-agent app's server side (issue 12): `Idempotency-Key` on writes (replays answer the
//! first answer and create nothing twice, keys per user, reuse with another body refused,
//! swept after 7 days), client-chosen ids, the village snapshot, rejecting SMS registrations,
//! and the embedded web app at `/`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use farmco_edge::store::idempotency::{IDEMPOTENCY_KEEP_MS, sweep};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{OTHER_VILLAGE, TestNode, VILLAGE, error_of, square};

/// A JSON request with an optional Idempotency-Key; returns status, replay header and body.
async fn send(
    node: &TestNode,
    method: &str,
    uri: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, bool, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = node
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, replayed, value)
}

async fn farmers_named(node: &TestNode, token: &str, name: &str) -> usize {
    let (status, body) = node
        .call(
            "GET",
            &format!("/api/v1/farmers?q={}", name.replace(' ', "%20")),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    body["farmers"].as_array().unwrap().len()
}

fn audit_count(node: &TestNode, action: &str) -> usize {
    node.state
        .store
        .read(|c| farmco_edge::store::audit::list(c, Some(action), 1000))
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_replayed_create_gets_the_first_answer_and_creates_nothing_twice() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let body = json!({"name": "Sunita Pawar", "phone": "+919812345001", "language": "mr",
                      "village_code": VILLAGE, "consents": {"sms": true}});
    let (s1, replayed1, first) = send(
        &node,
        "POST",
        "/api/v1/farmers",
        &token,
        Some("key-1"),
        &body,
    )
    .await;
    assert_eq!(s1, StatusCode::CREATED, "{first}");
    assert!(!replayed1);
    // The phone never saw that answer (lost on the way): it sends the same request again.
    for _ in 0..3 {
        let (s, replayed, again) = send(
            &node,
            "POST",
            "/api/v1/farmers",
            &token,
            Some("key-1"),
            &body,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(replayed, "a replay says so");
        assert_eq!(again, first, "the first answer, byte for byte");
    }
    assert_eq!(farmers_named(&node, &token, "Sunita Pawar").await, 1);
    assert_eq!(audit_count(&node, "farmer.create"), 1);
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let a = json!({"name": "Asha More", "phone": "+919812345002", "language": "mr", "village_code": VILLAGE});
    let b = json!({"name": "Asha More", "phone": "+919812345003", "language": "mr", "village_code": VILLAGE});
    let (s, _, _) = send(&node, "POST", "/api/v1/farmers", &token, Some("k"), &a).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, body) = send(&node, "POST", "/api/v1/farmers", &token, Some("k"), &b).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        error_of(&body),
        (
            "idempotency_key_reused".to_owned(),
            Some("Idempotency-Key".to_owned())
        )
    );
    assert_eq!(farmers_named(&node, &token, "Asha More").await, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_user() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let agent2 = node.login("agent2").await;
    let a = json!({"name": "Ganesh Jadhav", "phone": "+919812345004", "language": "mr", "village_code": VILLAGE});
    let b = json!({"name": "Ganesh Shinde", "phone": "+919812345005", "language": "mr", "village_code": OTHER_VILLAGE});
    let (s1, r1, _) = send(&node, "POST", "/api/v1/farmers", &agent, Some("same"), &a).await;
    let (s2, r2, _) = send(&node, "POST", "/api/v1/farmers", &agent2, Some("same"), &b).await;
    assert_eq!(
        (s1, r1, s2, r2),
        (StatusCode::CREATED, false, StatusCode::CREATED, false)
    );
}

#[tokio::test]
async fn a_rejection_is_replayed_too_and_unauthorized_is_not_stored() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    node.farmer(&token, "Existing", "+919812345006").await;
    let dup =
        json!({"name": "Dup", "phone": "+919812345006", "language": "mr", "village_code": VILLAGE});
    let (s, replayed, body) = send(&node, "POST", "/api/v1/farmers", &token, Some("d"), &dup).await;
    assert_eq!((s, replayed), (StatusCode::CONFLICT, false), "{body}");
    assert_eq!(error_of(&body).1.as_deref(), Some("phone"));
    let (s, replayed, again) =
        send(&node, "POST", "/api/v1/farmers", &token, Some("d"), &dup).await;
    assert_eq!((s, replayed), (StatusCode::CONFLICT, true));
    assert_eq!(again, body);
    // Without a valid token nothing is stored: the handler answers 401 every time.
    let (s, _, _) = send(&node, "POST", "/api/v1/farmers", "forged", Some("x"), &dup).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A bad key is a bad request.
    let (s, _, body) = send(&node, "POST", "/api/v1/farmers", &token, Some("a b"), &dup).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn client_ids_make_a_rerun_after_a_lost_answer_harmless() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let farmer_id = "5f0c8a52-1c7e-4a57-9a55-1f5a2b3c4d5e";
    let farm_id = "6f0c8a52-1c7e-4a57-9a55-1f5a2b3c4d5e";
    let test_id = "7f0c8a52-1c7e-4a57-9a55-1f5a2b3c4d5e";
    let farmer = json!({"id": farmer_id, "name": "Kavita Kale", "phone": "+919812345007",
                        "language": "mr", "village_code": VILLAGE});
    let (s, _, body) = send(
        &node,
        "POST",
        "/api/v1/farmers",
        &token,
        Some("f1"),
        &farmer,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(body["id"], farmer_id, "the client's id is kept");
    let farm = json!({"id": farm_id, "survey_number": "12/1", "declared_area_ha": 1.0,
                      "boundary": square(18.93, 74.40, 100.0)});
    let farms_uri = format!("/api/v1/farmers/{farmer_id}/farms");
    let (s, _, body) = send(&node, "POST", &farms_uri, &token, Some("m1"), &farm).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], farm_id);
    let test =
        json!({"id": test_id, "sampled_on": "2025-04-12", "lab": "STL", "parameters": {"ph": 7.8}});
    let soil_uri = format!("/api/v1/farms/{farm_id}/soil-tests");
    let (s, _, _) = send(&node, "POST", &soil_uri, &token, Some("s1"), &test).await;
    assert_eq!(s, StatusCode::CREATED);

    // The stored answers are gone (as after a crash between commit and storing the answer, or
    // after the 7-day sweep): a resend runs again and finds the records by their ids.
    let swept = node
        .state
        .store
        .write(|tx| {
            sweep(
                tx,
                farmco_edge::store::now_ms() + IDEMPOTENCY_KEEP_MS + 1,
                IDEMPOTENCY_KEEP_MS,
            )
        })
        .unwrap();
    assert_eq!(swept, 3);
    for (uri, key, body, field) in [
        ("/api/v1/farmers".to_owned(), "f1", &farmer, "id"),
        (farms_uri, "m1", &farm, "id"),
        (soil_uri, "s1", &test, "id"),
    ] {
        let (s, replayed, answer) = send(&node, "POST", &uri, &token, Some(key), body).await;
        assert_eq!(
            (s, replayed),
            (StatusCode::CONFLICT, false),
            "{uri}: {answer}"
        );
        assert_eq!(
            error_of(&answer),
            ("already_exists".to_owned(), Some(field.to_owned()))
        );
    }
    assert_eq!(farmers_named(&node, &token, "Kavita Kale").await, 1);
    let (s, _, bad) = send(
        &node,
        "POST",
        "/api/v1/farmers",
        &token,
        None,
        &json!({"id": "not-a-uuid", "name": "X", "phone": "+919812345008", "language": "mr", "village_code": VILLAGE}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&bad).1.as_deref(), Some("id"));
}

#[tokio::test]
async fn a_replayed_patch_returns_the_first_answer() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let id = node.farmer(&token, "Lata Thorat", "+919812345009").await;
    let uri = format!("/api/v1/farmers/{id}");
    let patch = json!({"consents": {"sms": true, "voice": true, "data_sharing": false}});
    let (s, _, first) = send(&node, "PATCH", &uri, &token, Some("p"), &patch).await;
    assert_eq!(s, StatusCode::OK);
    let (s, replayed, again) = send(&node, "PATCH", &uri, &token, Some("p"), &patch).await;
    assert_eq!((s, replayed), (StatusCode::OK, true));
    assert_eq!(again, first);
    let (_, history) = node
        .call("GET", &format!("{uri}/history"), Some(&token), None)
        .await;
    assert_eq!(
        history["history"].as_array().unwrap().len(),
        2,
        "create + one update"
    );
}

#[tokio::test]
async fn the_village_snapshot_has_farms_soil_tests_and_advice() {
    let node = TestNode::new();
    let token = node.login("agent").await;
    let id = node.farmer(&token, "Prakash Auti", "+919812345010").await;
    let (s, farm) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{id}/farms"),
            Some(&token),
            Some(json!({"survey_number": "7/2", "declared_area_ha": 1.0,
                        "boundary": square(18.92, 74.39, 100.0),
                        "crops": [{"crop": "wheat", "season": "rabi", "sowing_date": "2025-11-10"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{farm}");
    let farm_id = farm["id"].as_str().unwrap();
    let (s, _) = node
        .call(
            "POST",
            &format!("/api/v1/farms/{farm_id}/soil-tests"),
            Some(&token),
            Some(json!({"sampled_on": "2025-04-12", "lab": "STL", "parameters": {"n": 200, "p": 30, "k": 300}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, snap) = node
        .call(
            "GET",
            &format!("/api/v1/field/snapshot?village_code={VILLAGE}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{snap}");
    let farmers = snap["farmers"].as_array().unwrap();
    assert_eq!(farmers.len(), 1);
    let f = &farmers[0]["farms"][0];
    assert_eq!(f["boundary"]["type"], "Polygon");
    let advice = &f["soil_tests"][0]["advice"];
    assert_eq!(
        (
            advice["n"].as_str(),
            advice["p"].as_str(),
            advice["k"].as_str()
        ),
        (Some("low"), Some("high"), Some("high"))
    );
    assert_eq!(advice["crop"], "wheat");
    // wheat 120-60-40 adjusted: N low +25 % = 150, P high −25 % = 45, K high −25 % = 30.
    assert_eq!(
        advice["dose_kg_ha"],
        json!({"n": 150, "p2o5": 45, "k2o": 30})
    );
    let (s, body) = node
        .call(
            "GET",
            &format!("/api/v1/field/snapshot?village_code={OTHER_VILLAGE}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn an_agent_rejects_an_sms_registration() {
    let node = TestNode::new();
    let id = node
        .state
        .store
        .write(|tx| {
            farmco_edge::store::sms::upsert_pending_registration(
                tx,
                "+919812345011",
                "Test Person",
                "hi",
                1_000,
            )
        })
        .unwrap();
    let token = node.login("agent").await;
    let uri = format!("/api/v1/sms/registrations/{id}/reject");
    let (s, body) = node.call("POST", &uri, Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "rejected");
    let (s, _) = node.call("POST", &uri, Some(&token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "only pending registrations");
    let (_, list) = node
        .call(
            "GET",
            "/api/v1/sms/registrations?state=rejected",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(list["registrations"][0]["decided_by"], "agent");
    assert_eq!(audit_count(&node, "sms.registration.reject"), 1);
}

#[tokio::test]
async fn the_web_app_is_served_at_the_root() {
    let node = TestNode::new();
    let get = |uri: &str, gzip: bool| {
        let mut req = Request::builder().uri(uri);
        if gzip {
            req = req.header("accept-encoding", "gzip");
        }
        node.router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
    };
    let resp = get("/", false).await.unwrap();
    let status = resp.status();
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert_eq!(cache, "no-cache");
    if farmco_edge::web::app_built() {
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("id=\"app\""), "{body}");
        let script = body
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        assert!(script.starts_with("/assets/"), "{script}");
        let resp = get(&script, true).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(resp.headers()["content-encoding"], "gzip");
        assert_eq!(
            resp.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let sw = get("/sw.js", false).await.unwrap();
        assert_eq!(sw.headers()["cache-control"], "no-cache");
        let etag = sw.headers()["etag"].clone();
        let again = node
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/sw.js")
                    .header("if-none-match", etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    } else {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Web app not built"), "{body}");
    }
    let (status, body) = node.call("GET", "/no/such/page", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body).0, "not_found");
}
