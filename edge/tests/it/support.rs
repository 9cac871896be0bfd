//! Test support: a node on a temporary data dir with a few users, and a JSON request helper.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use farmco_edge::api::{self, AppState, SharedState};
use farmco_edge::config::Config;
use farmco_edge::store::Store;
use farmco_edge::store::users::{self, Role};
use farmco_sync::VillageCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct-horse-battery";
pub const VILLAGE: &str = "563412";
pub const OTHER_VILLAGE: &str = "563413";

/// One argon2 hash per test process (hashing is the slow part of creating users).
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| farmco_edge::auth::hash_password(PASSWORD).unwrap())
}

pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub state: SharedState,
    pub router: Router,
}

impl TestNode {
    /// A fresh node with users: admin, super (supervisor), agent (village 563412),
    /// agent2 (village 563413).
    pub fn new() -> TestNode {
        TestNode::with_config(|_| {})
    }

    /// A fresh node (the users of [`TestNode::new`]) whose test config `adjust` changes first.
    pub fn with_config(adjust: impl FnOnce(&mut Config)) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().to_owned());
        adjust(&mut config);
        let store = Arc::new(Store::open(dir.path(), config.synchronous, 2).unwrap());
        let v1 = VillageCode::parse("v", VILLAGE).unwrap();
        let v2 = VillageCode::parse("v", OTHER_VILLAGE).unwrap();
        store
            .write(|tx| {
                users::add_user(tx, "admin", password_hash(), Role::Admin, &[], 0)?;
                users::add_user(tx, "super", password_hash(), Role::Supervisor, &[], 0)?;
                users::add_user(tx, "agent", password_hash(), Role::Agent, &[v1], 0)?;
                users::add_user(tx, "agent2", password_hash(), Role::Agent, &[v2], 0)?;
                Ok(())
            })
            .unwrap();
        let state = Arc::new(AppState::new(store, config).unwrap());
        let router = api::router(state.clone());
        TestNode { dir, state, router }
    }

    pub async fn call(
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
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        self.raw(req).await
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, Value) {
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

    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Register a farmer as `token`, returning its id.
    pub async fn farmer(&self, token: &str, name: &str, phone: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/farmers",
                Some(token),
                Some(json!({"name": name, "phone": phone, "language": "hi", "village_code": VILLAGE})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// A square farm of `side_m` metres with its south-west corner at (lat, lon), as GeoJSON.
pub fn square(lat: f64, lon: f64, side_m: f64) -> Value {
    let dlat = side_m / 110_574.0;
    let dlon = side_m / (111_320.0 * lat.to_radians().cos());
    json!({"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]
    ]]})
}

/// An error body's code and field.
pub fn error_of(body: &Value) -> (String, Option<String>) {
    let e = &body["error"];
    assert!(e["message"].is_string(), "error without message: {body}");
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}
