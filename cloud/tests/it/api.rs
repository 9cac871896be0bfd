//! The ops API through `Router::oneshot`: login (and its rate limit), bearer auth, farms nearby
//! and by id, farmers, trends, advisories, enrollment over HTTP, the fleet view, health,
//! readiness and metrics; errors in the shared shape.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use farmco_cloud::api::{self, AppState};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{
    Env, OTHER_VILLAGE, VILLAGE, enroll_body, env, farmer_fixture, node_key, now_ms,
};

pub const PASSWORD: &str = "correct horse battery";

pub(crate) struct App {
    pub(crate) env: Env,
    pub(crate) router: Router,
    pub(crate) state: farmco_cloud::api::SharedState,
}

impl App {
    pub(crate) async fn new() -> App {
        App::with_enroll_limiter(api::fleet::EnrollLimiter::default()).await
    }

    pub(crate) async fn with_enroll_limiter(limiter: api::fleet::EnrollLimiter) -> App {
        let env = env().await;
        let mut state = AppState::new(env.store.clone(), env.config.clone(), env.key.clone());
        state.enroll_limiter = limiter;
        let state = Arc::new(state);
        api::auth_routes::add_user_checked(&env.store, "ops1", PASSWORD, "ops", "test")
            .await
            .unwrap();
        App {
            router: api::router(state.clone()),
            state,
            env,
        }
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    pub(crate) async fn login(&self) -> String {
        self.login_with(PASSWORD).await
    }

    /// Log ops1 in with this password.
    pub(crate) async fn login_with(&self, password: &str) -> String {
        let (s, v) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "ops1", "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["role"], "ops");
        v["token"].as_str().unwrap().to_owned()
    }
}

fn assert_error_shape(v: &Value) {
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"].get("field").is_some(), "{v}");
}

#[tokio::test]
async fn login_logout_and_bearer_auth() {
    let app = App::new().await;
    let (s, v) = app
        .call(
            "GET",
            "/api/v1/farms/nearby?lat=17&lon=78&radius_m=10",
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error_shape(&v);
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "ops1", "password": "wrong password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "invalid_credentials");
    let token = app.login().await;
    let (s, _) = app.call("GET", "/api/v1/nodes", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call("GET", "/api/v1/nodes", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Malformed bodies: 400 syntax, 422 types.
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": 1, "password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "username");
    let (s, v) = app.call("GET", "/api/v1/nope", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error_shape(&v);
}

#[tokio::test]
async fn logins_are_rate_limited() {
    let app = App::new().await;
    let limit = app.env.config.auth.login_max_failures_per_user;
    for _ in 0..limit {
        let (s, _) = app
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "ops1", "password": "nope nope"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "ops1", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(
        app.env
            .count("SELECT count(*) FROM audit_log WHERE action LIKE 'login.%'")
            .await
            > i64::from(limit)
    );
}

#[tokio::test]
async fn farms_nearby_and_by_id() {
    let app = App::new().await;
    let token = app.login().await;
    // Three farms east of a point on one parallel: 0, ~1.1 km and ~2.2 km away.
    let (lat, lon) = (17.385, 78.4867);
    let near = farmer_fixture(VILLAGE, lat, lon, 31);
    let mid = farmer_fixture(VILLAGE, lat, lon + 0.01, 32);
    let far = farmer_fixture(OTHER_VILLAGE, lat, lon + 0.02, 33);
    for fx in [&near, &mid, &far] {
        app.env
            .store
            .apply_changes(None, None, fx.batch())
            .await
            .unwrap();
    }
    let (s, v) = app
        .call(
            "GET",
            &format!("/api/v1/farms/nearby?lat={lat}&lon={lon}&radius_m=1500"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let farms = v["farms"].as_array().unwrap();
    assert_eq!(farms.len(), 2, "{v}");
    assert_eq!(farms[0]["id"], near.farm_id.to_string());
    assert_eq!(farms[0]["farmer_id"], near.farmer_id.to_string());
    assert_eq!(farms[0]["distance_m"], 0.0);
    assert_eq!(farms[1]["id"], mid.farm_id.to_string());
    // 0.01° of longitude at 17.385° N is ~1062 m; the farm's west edge is 100 m closer.
    let d = farms[1]["distance_m"].as_f64().unwrap();
    assert!((d - 962.0).abs() < 10.0, "{d}");
    let (_, v) = app
        .call(
            "GET",
            &format!("/api/v1/farms/nearby?lat={lat}&lon={lon}&radius_m=5000&limit=5"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(v["farms"].as_array().unwrap().len(), 3);
    let (s, v) = app
        .call(
            "GET",
            "/api/v1/farms/nearby?lat=95&lon=78&radius_m=10",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "lat");
    let (s, _) = app
        .call("GET", "/api/v1/farms/nearby?lat=17", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, v) = app
        .call(
            "GET",
            &format!("/api/v1/farms/{}", mid.farm_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["boundary"]["type"], "MultiPolygon");
    let area = v["area_ha"].as_f64().unwrap();
    let postgis = v["postgis_area_ha"].as_f64().unwrap();
    assert!((area - postgis).abs() / area < 0.005, "{area} vs {postgis}");
    assert_eq!(v["village_code"], VILLAGE);
    let (s, _) = app
        .call(
            "GET",
            &format!("/api/v1/farms/{}", uuid::Uuid::new_v4()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call("GET", "/api/v1/farms/not-a-uuid", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Farmers: search and detail.
    let (s, v) = app
        .call(
            "GET",
            "/api/v1/farmers?q=laksh&village_code=563412",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["farmers"].as_array().unwrap().len(), 2);
    let (_, v) = app
        .call("GET", "/api/v1/farmers?q=00033", Some(&token), None)
        .await;
    assert_eq!(v["farmers"][0]["id"], far.farmer_id.to_string());
    let (s, v) = app
        .call("GET", "/api/v1/farmers?village_code=12", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "village_code");
    let (s, v) = app
        .call(
            "GET",
            &format!("/api/v1/farmers/{}", near.farmer_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["farms"][0]["id"], near.farm_id.to_string());
    assert_eq!(v["consents"]["sms"], true);
}

#[tokio::test]
async fn sensor_trends_over_http() {
    let app = App::new().await;
    let token = app.login().await;
    let from = time::macros::datetime!(2026-02-01 00:00 UTC);
    let from_ms = farmco_cloud::store::audit::unix_ms(from);
    let rows: Vec<_> = (0..48)
        .map(|h| {
            (
                "s7".to_owned(),
                "air_temp_c".to_owned(),
                from_ms + h * 3_600_000,
                h as f64,
            )
        })
        .collect();
    app.env.store.insert_readings(None, &rows).await.unwrap();
    let (s, v) = app
        .call(
            "GET",
            "/api/v1/sensors/s7/trends?metric=air_temp_c&from=2026-02-01T00:00:00Z&to=2026-02-03T00:00:00Z&bucket=1d",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let b = v["buckets"].as_array().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["start"], "2026-02-01T00:00:00Z");
    assert_eq!(b[0]["count"], 24);
    assert_eq!(b[0]["avg"], 11.5);
    assert_eq!(b[1]["min"], 24.0);
    assert_eq!(b[1]["p25"], 29.75);
    let (s, v) = app
        .call(
            "GET",
            "/api/v1/sensors/s7/trends?metric=air_temp_c&bucket=7w",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "bucket");
}

#[tokio::test]
async fn advisories_create_and_list() {
    let app = App::new().await;
    let token = app.login().await;
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/advisories",
            Some(&token),
            Some(json!({
                "village_codes": ["563412", 563413],
                "kind": "mandi_price",
                "title": "Tomato prices up",
                "body": {"commodity": "tomato", "price_inr_per_quintal": 1800},
                "valid_from": "2026-03-01T00:00:00Z",
                "valid_until": "2026-03-02T00:00:00Z"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["seq"], 1);
    assert_eq!(v["created_by"], "ops1");
    assert_eq!(v["village_codes"], json!(["563412", "563413"]));
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/advisories",
            Some(&token),
            Some(json!({"village_codes": ["563499"], "kind": "weather", "title": "Heavy rain", "body": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = app
        .call(
            "GET",
            "/api/v1/advisories?village_code=563412",
            Some(&token),
            None,
        )
        .await;
    let list = v["advisories"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["title"], "Tomato prices up");
    let (_, v) = app
        .call("GET", "/api/v1/advisories", Some(&token), None)
        .await;
    assert_eq!(v["advisories"].as_array().unwrap().len(), 2);
    assert_eq!(v["advisories"][0]["title"], "Heavy rain", "newest first");
    // What an edge of village 563413 pulls.
    let down = app
        .env
        .store
        .advisories_after(0, &["563413".to_owned()], 10)
        .await
        .unwrap();
    assert_eq!(down.len(), 1);
    assert!(
        app.env
            .store
            .advisories_after(down[0].seq, &["563413".to_owned()], 10)
            .await
            .unwrap()
            .is_empty()
    );
    for (bad, field) in [
        (
            json!({"village_codes": ["563412"], "kind": "gossip", "title": "x", "body": {}}),
            "kind",
        ),
        (
            json!({"village_codes": [], "kind": "pest", "title": "x", "body": {}}),
            "village_codes",
        ),
        (
            json!({"village_codes": ["563412"], "kind": "pest", "title": "", "body": {}}),
            "title",
        ),
        (
            json!({"village_codes": ["563412"], "kind": "pest", "title": "x", "body": []}),
            "body",
        ),
        (
            json!({"village_codes": ["563412"], "kind": "pest", "title": "x", "body": {},
                   "valid_from": "2026-03-02T00:00:00Z", "valid_until": "2026-03-01T00:00:00Z"}),
            "valid_until",
        ),
        (
            json!({"village_codes": ["563412"], "kind": "pest", "title": "x", "body": {},
                   "valid_from": "yesterday"}),
            "valid_from",
        ),
    ] {
        let (s, v) = app
            .call("POST", "/api/v1/advisories", Some(&token), Some(bad))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
}

#[tokio::test]
async fn enrollment_over_http_and_the_fleet_view() {
    let app = App::new().await;
    let token = app
        .env
        .store
        .create_enrollment_token(
            &["563412".to_owned()],
            std::time::Duration::from_secs(60),
            "t",
        )
        .await
        .unwrap();
    let body = enroll_body(9, &token, "box-9", now_ms());
    let (s, v) = app
        .call("POST", "/api/v1/enroll", None, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["node_id"], hex::encode(node_key(9)));
    assert_eq!(v["villages"], json!(["563412"]));
    assert_eq!(v["cloud_public_key"], app.env.key.public_key_hex());
    // The key file is the one in the data dir.
    let seed = std::fs::read(app.env.dir.path().join("node.key")).unwrap();
    let mut seed32 = [0u8; 32];
    seed32.copy_from_slice(&seed);
    assert_eq!(
        hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&seed32)
                .verifying_key()
                .to_bytes()
        ),
        v["cloud_public_key"].as_str().unwrap()
    );
    // The used token, by another node: refused.
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(enroll_body(10, &token, "box-10", now_ms())),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "invalid_token");
    // The same node repeating its enrollment (the answer was lost on the way): same answer.
    let (s, v) = app.call("POST", "/api/v1/enroll", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["villages"], json!(["563412"]));
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(
                json!({"token": "x", "public_key": "zz", "name": "b", "software_version": "1",
                "proof": {"time_ms": 0, "signature": "00"}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "public_key");

    let node_id = hex::encode(node_key(9));
    app.env
        .store
        .record_heartbeat(
            &node_id,
            &json!({"change_log_backlog": 5, "readings_backlog": 70, "disk_free_bytes": 123456}),
        )
        .await
        .unwrap();
    let ops = app.login().await;
    let (s, v) = app.call("GET", "/api/v1/nodes", Some(&ops), None).await;
    assert_eq!(s, StatusCode::OK);
    let n = &v["nodes"][0];
    assert_eq!(n["node_id"], node_id);
    assert_eq!(n["change_log_backlog"], 5);
    assert_eq!(n["readings_backlog"], 70);
    assert_eq!(n["disk_free_bytes"], 123456);
    assert_eq!(n["revoked"], false);
    assert!(n["last_seen_at"].is_string());
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = App::new().await;
    let (s, v) = app.call("GET", "/healthz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, v) = app.call("GET", "/readyz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ready")));
    let _ = app.login().await;
    let (s, v) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap();
    assert!(
        text.contains("farmco_cloud_logins_total{outcome=\"success\"} 1"),
        "{text}"
    );
    assert!(text.contains("farmco_cloud_http_requests_total"), "{text}");
}

#[tokio::test]
async fn enrollment_needs_a_proof_of_key_possession() {
    let app = App::new().await;
    let token = app
        .env
        .store
        .create_enrollment_token(
            &[VILLAGE.to_owned()],
            std::time::Duration::from_secs(60),
            "t",
        )
        .await
        .unwrap();
    let now = now_ms();
    // No proof at all.
    let mut no_proof = enroll_body(21, &token, "box-21", now);
    no_proof.as_object_mut().unwrap().remove("proof");
    let (s, v) = app
        .call("POST", "/api/v1/enroll", None, Some(no_proof))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Someone holding the token but not node 21's key: a proof signed by key 22 for key 21.
    let mut forged = enroll_body(22, &token, "box-21", now);
    forged["public_key"] = json!(hex::encode(node_key(21)));
    // The right key, but signed over another name than the one sent.
    let mut other_fields = enroll_body(21, &token, "box-21", now);
    other_fields["name"] = json!("box-x");
    // The right key and fields, signed two days ago.
    let stale = enroll_body(21, &token, "box-21", now - 2 * 86_400_000);
    // Garbage signature.
    let mut garbage = enroll_body(21, &token, "box-21", now);
    garbage["proof"]["signature"] = json!("zz");
    for body in [forged, other_fields, stale, garbage] {
        let (s, v) = app.call("POST", "/api/v1/enroll", None, Some(body)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"]["code"], "invalid_proof", "{v}");
    }
    assert!(
        app.env
            .store
            .node(&hex::encode(node_key(21)))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.env
            .count(
                "SELECT count(*) FROM audit_log WHERE action = 'device.enroll_refused'
                 AND detail::jsonb->>'reason' = 'invalid_proof'"
            )
            .await,
        4
    );
    // None of that spent the token: the real node still enrolls with it.
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/enroll",
            None,
            Some(enroll_body(21, &token, "box-21", now)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["node_id"], hex::encode(node_key(21)));
}

#[tokio::test]
async fn enrollment_attempts_are_rate_limited_without_audit_rows() {
    let app = App::with_enroll_limiter(api::fleet::EnrollLimiter::new(
        std::time::Duration::from_secs(900),
        3,
        4,
    ))
    .await;
    // Through `oneshot` there is no client address, so the global limit applies.
    for _ in 0..4 {
        let (s, v) = app
            .call(
                "POST",
                "/api/v1/enroll",
                None,
                Some(enroll_body(23, &"ab".repeat(32), "b", now_ms())),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    let audited = app.env.count("SELECT count(*) FROM audit_log").await;
    for _ in 0..20 {
        let (s, v) = app
            .call(
                "POST",
                "/api/v1/enroll",
                None,
                Some(enroll_body(23, &"ab".repeat(32), "b", now_ms())),
            )
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        assert_eq!(v["error"]["code"], "rate_limited");
    }
    assert_eq!(
        app.env.count("SELECT count(*) FROM audit_log").await,
        audited,
        "a rate-limited enrollment wrote to the audit log"
    );
}
