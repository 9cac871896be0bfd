//! The ops console's API through `Router::oneshot`: the cookie session with its CSRF token and
//! security headers, roles, vector tiles from PostGIS (scoped, cached, the same bytes as the
//! bare `ST_AsMVT` query), cursor paging with totals and CSV, the heartbeat of wire version 2
//! (and an edge still on version 1) feeding the fleet, alerts, delivery and advisory reach, and
//! the fleet watch raising and resolving alerts.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use farmco_cloud::api::{self, AppState};
use farmco_sync::protocol::envelope::{EnvelopeKind, SignedEnvelope};
use farmco_sync::protocol::keys::NodeSecretKey;
use farmco_sync::protocol::wire::v1::{HeartbeatV1, SyncRequestV1, encode_request_v1};
use farmco_sync::protocol::wire::{
    self, AdvisoryReport, AlertReport, DeliveryAggregate, EdgeHealth, Heartbeat, ModemHealth,
    SensorReport, SmsHealth, SyncRequest,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::support::{Env, OTHER_VILLAGE, VILLAGE, env, farmer_fixture};

const PASSWORD: &str = "correct horse battery";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

struct App {
    env: Env,
    state: Arc<AppState>,
    router: Router,
}

impl App {
    async fn new() -> App {
        App::with_config(|_| {}).await
    }

    async fn with_config(change: impl FnOnce(&mut farmco_cloud::config::Config)) -> App {
        let mut env = env().await;
        change(&mut env.config);
        let state = Arc::new(AppState::new(
            env.store.clone(),
            env.config.clone(),
            env.key.clone(),
        ));
        for (user, role) in [("ops1", "ops"), ("admin1", "admin")] {
            api::auth_routes::add_user_checked(&env.store, user, PASSWORD, role, "test")
                .await
                .unwrap();
        }
        App {
            router: api::router(state.clone()),
            state,
            env,
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "console.test");
        for (k, v) in headers {
            req = req.header(*k, *v);
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
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Console login: (cookie header value, csrf token, the Set-Cookie line).
    async fn console_login(&self, user: &str, extra: &[(&str, &str)]) -> (String, String, String) {
        let r = self
            .send(
                "POST",
                "/api/v1/console/login",
                extra,
                Some(json!({"username": user, "password": PASSWORD})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let set_cookie = r.headers["set-cookie"].to_str().unwrap().to_owned();
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        let csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
        (pair, csrf, set_cookie)
    }

    async fn bearer(&self, user: &str) -> String {
        let r = self
            .send(
                "POST",
                "/api/v1/auth/login",
                &[],
                Some(json!({"username": user, "password": PASSWORD})),
            )
            .await;
        r.json()["token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn cookie_session_csrf_roles_and_headers() {
    let app = App::new().await;
    let (cookie, csrf, set_cookie) = app.console_login("ops1", &[]).await;
    assert!(set_cookie.starts_with("farmco_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    // Behind a TLS proxy the cookie is Secure.
    let (_, _, secure) = app
        .console_login("ops1", &[("x-forwarded-proto", "https")])
        .await;
    assert!(secure.contains("; Secure"), "{secure}");

    // The session answers who is in, with the same CSRF token.
    let r = app
        .send(
            "GET",
            "/api/v1/console/session",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["csrf_token"], csrf.as_str());
    assert_eq!(r.json()["role"], "ops");
    // Reads need no token.
    let r = app
        .send("GET", "/api/v1/nodes", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // An unsafe request without the token, with a wrong one, or from another origin: refused.
    let advisory = json!({"village_codes": [VILLAGE], "kind": "general", "title": "t", "body": {}});
    for headers in [
        vec![("cookie", cookie.as_str())],
        vec![("cookie", cookie.as_str()), ("x-csrf-token", "0000")],
        vec![
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("origin", "http://evil.example"),
        ],
    ] {
        let r = app
            .send(
                "POST",
                "/api/v1/advisories",
                &headers,
                Some(advisory.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(r.json()["error"]["code"], "csrf_failed");
    }
    // A form post (urlencoded, no token) is refused the same way.
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/advisories")
        .header("host", "console.test")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("title=x"))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // With the token, from our own origin: published.
    let r = app
        .send(
            "POST",
            "/api/v1/advisories",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("origin", "http://console.test"),
            ],
            Some(advisory),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    assert_eq!(r.json()["created_by"], "ops1");

    // ops may not manage devices or users.
    for path in ["/api/v1/devices/tokens", "/api/v1/users"] {
        let r = app.send("GET", path, &[("cookie", &cookie)], None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }

    // Every response carries a strict CSP and the other security headers.
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");

    // Logout everywhere ends the console sessions and the bearer tokens of the user.
    let bearer = app.bearer("ops1").await;
    let r = app
        .send(
            "POST",
            "/api/v1/console/logout-everywhere",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for headers in [
        vec![("cookie", cookie.clone())],
        vec![("authorization", format!("Bearer {bearer}"))],
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.send("GET", "/api/v1/nodes", &h, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }

    // The console page: without a build, a page that says so (never a 500).
    let r = app.send("GET", "/", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = String::from_utf8_lossy(&r.body);
    assert!(
        page.contains("ops console") || page.contains("FarmCo ops console"),
        "{page}"
    );
}

#[tokio::test]
async fn admins_issue_tokens_with_qr_codes_and_manage_users() {
    let app = App::new().await;
    let (cookie, csrf, _) = app.console_login("admin1", &[]).await;
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let r = app
        .send(
            "POST",
            "/api/v1/devices/tokens",
            &h,
            Some(json!({"villages": [VILLAGE, 563413]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let v = r.json();
    let token = v["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(v["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(v["command"].as_str().unwrap().ends_with(token));
    // The list never shows the token again.
    let r = app
        .send(
            "GET",
            "/api/v1/devices/tokens",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(r.json()["tokens"][0]["state"], "open");
    assert!(!String::from_utf8_lossy(&r.body).contains(token));
    // The token enrolls a node, which an admin revokes.
    let key = NodeSecretKey::from_seed([42; 32]);
    let enrolled = app
        .env
        .store
        .enroll(token, *key.node_id().as_bytes(), "box-42", "0.1.0")
        .await
        .unwrap();
    let r = app
        .send(
            "POST",
            &format!("/api/v1/nodes/{}/revoke", enrolled.node_id),
            &h,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send("GET", "/api/v1/nodes", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(r.json()["nodes"][0]["status"], "revoked");

    // Users: add one limited to a village; change the role; they appear with their scope.
    let r = app
        .send(
            "POST",
            "/api/v1/users",
            &h,
            Some(json!({"username": "ops2", "password": PASSWORD, "role": "ops", "villages": [OTHER_VILLAGE]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let r = app
        .send("GET", "/api/v1/users", &[("cookie", &cookie)], None)
        .await;
    let users = r.json()["users"].as_array().unwrap().clone();
    let ops2 = users.iter().find(|u| u["username"] == "ops2").unwrap();
    assert_eq!(ops2["villages"], json!([OTHER_VILLAGE]));
    let r = app
        .send(
            "PATCH",
            "/api/v1/users/ops2",
            &h,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .send(
            "PATCH",
            "/api/v1/users/admin1",
            &h,
            Some(json!({"role": "ops"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

fn farm_count_in(tile: &[u8], id: &Uuid) -> bool {
    let needle = id.to_string();
    tile.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Web Mercator tile of a point.
fn tile_of(lat: f64, lon: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let lat_r = lat.to_radians();
    let y = ((1.0 - (lat_r.tan() + 1.0 / lat_r.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
        .floor() as u32;
    (x, y)
}

#[tokio::test]
async fn vector_tiles_come_from_postgis_scoped_and_cached() {
    let app = App::new().await;
    let here = farmer_fixture(VILLAGE, 18.918, 74.385, 1);
    let there = farmer_fixture(OTHER_VILLAGE, 18.9185, 74.3858, 2);
    for f in [&here, &there] {
        app.env
            .store
            .apply_changes(None, None, f.batch())
            .await
            .unwrap();
    }
    // The colouring facts live on the farm row (triggers keep the last soil test's pH).
    let ph: Option<f64> = app
        .env
        .sql()
        .await
        .query_one("SELECT soil_ph FROM farms WHERE id = $1", &[&here.farm_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ph, Some(6.8));
    let token = app.bearer("ops1").await;
    let auth = format!("Bearer {token}");
    let r = app
        .send(
            "GET",
            "/api/v1/map/config",
            &[("authorization", &auth)],
            None,
        )
        .await;
    let config = r.json();
    assert_eq!(config["farms"], 2, "{config}");
    let bounds = config["bounds"].as_array().unwrap();
    assert!(
        (bounds[0].as_f64().unwrap() - 74.384).abs() < 0.01,
        "{config}"
    );
    let version = config["data_version"].as_str().unwrap().to_owned();

    let (x, y) = tile_of(18.918, 74.385, 16);
    let uri = format!("/tiles/16/{x}/{y}.mvt?v={version}");
    let r = app
        .send("GET", &uri, &[("authorization", &auth)], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert!(
        farm_count_in(&r.body, &here.farm_id),
        "our farm is in the tile"
    );
    assert!(
        farm_count_in(&r.body, &there.farm_id),
        "so is the neighbour's"
    );
    assert!(r.body.windows(5).any(|w| w == b"farms"));
    // The very bytes of the statement run straight in SQL.
    let direct: Vec<u8> = app
        .env
        .sql()
        .await
        .query_one(
            &farmco_cloud::store::map::tile_sql(farmco_cloud::store::map::TileLayer::Farms),
            &[
                &16i32,
                &(x as i32),
                &(y as i32),
                &Option::<Vec<String>>::None,
            ],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(direct, r.body);
    // Revalidation: 304 with the ETag.
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let r = app
        .send(
            "GET",
            &uri,
            &[("authorization", &auth), ("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // Low zoom: clusters counting both farms.
    let (cx, cy) = tile_of(18.918, 74.385, 6);
    let r = app
        .send(
            "GET",
            &format!("/tiles/6/{cx}/{cy}.mvt"),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert!(r.body.windows(8).any(|w| w == b"clusters"));
    // Out of range, wrong suffix: 404.
    for bad in [
        "/tiles/16/99999999/1.mvt",
        "/tiles/3/1/1.png",
        "/tiles/21/0/0.mvt",
    ] {
        let r = app
            .send("GET", bad, &[("authorization", &auth)], None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    // A user limited to the other village sees only that farm, and not this farm's details.
    app.env
        .store
        .update_user("ops1", None, Some(&[OTHER_VILLAGE.to_owned()]), "test")
        .await
        .unwrap();
    let token = app.bearer("ops1").await;
    let auth = format!("Bearer {token}");
    let r = app
        .send("GET", &uri, &[("authorization", &auth)], None)
        .await;
    assert!(!farm_count_in(&r.body, &here.farm_id));
    assert!(farm_count_in(&r.body, &there.farm_id));
    let r = app
        .send(
            "GET",
            &format!("/api/v1/farms/{}/overview", here.farm_id),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .send(
            "GET",
            &format!("/api/v1/farms/{}/overview", there.farm_id),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["farmer"]["name"], "Lakshmi Devi");
    assert_eq!(v["soil_tests"][0]["parameters"]["ph"], 6.8);
    assert_eq!(v["history"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn lists_page_with_cursors_totals_area_filters_and_csv() {
    let app = App::new().await;
    for i in 0..7 {
        let village = if i < 5 { VILLAGE } else { OTHER_VILLAGE };
        let f = farmer_fixture(village, 18.9 + f64::from(i) * 0.01, 74.3, i);
        app.env
            .store
            .apply_changes(None, None, f.batch())
            .await
            .unwrap();
    }
    app.env
        .store
        .set_village(
            &farmco_cloud::store::console::Village {
                code: VILLAGE.into(),
                name: "Ralegan Siddhi".into(),
                district: "Ahilyanagar".into(),
                state: "Maharashtra".into(),
            },
            "test",
        )
        .await
        .unwrap();
    let token = app.bearer("ops1").await;
    let auth = format!("Bearer {token}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = json!({"limit": 2, "count": true, "district": "ahilyanagar", "cursor": cursor});
        let r = app
            .send(
                "POST",
                "/api/v1/farmers/search",
                &[("authorization", &auth)],
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        let v = r.json();
        assert_eq!(v["total"], 5);
        for f in v["farmers"].as_array().unwrap() {
            assert_eq!(f["village_code"], VILLAGE);
            seen.push(f["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every farmer once");
    // The GET form, the same filters, and CSV of everything they select.
    let r = app
        .send(
            "GET",
            "/api/v1/farmers?state=Maharashtra&format=csv",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    let text = String::from_utf8(r.body).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.starts_with("id,name,phone,"));
    // A bad cursor is a 400, not a 500.
    let r = app
        .send(
            "GET",
            "/api/v1/farmers?cursor=zz",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "cursor");
}

fn health() -> EdgeHealth {
    EdgeHealth {
        disk_total_bytes: 32_000_000_000,
        modem: Some(ModemHealth {
            state: "ready".into(),
            registration: "searching".into(),
            signal_rssi: Some(9),
            signal_dbm: Some(-95),
            operator: Some("BSNL".into()),
        }),
        sms: SmsHealth {
            sent_today: 42,
            daily_cap: 100,
            outbox_backlog: 3,
            failed_today: 1,
        },
        open_alerts: 1,
        alerts: Vec::new(),
        delivery: vec![
            DeliveryAggregate {
                village_code: VILLAGE.into(),
                day: "2026-01-14".into(),
                channel: "sms".into(),
                attempts: 10,
                delivered: 8,
                failed: 2,
            },
            // Not this node's village: ignored.
            DeliveryAggregate {
                village_code: OTHER_VILLAGE.into(),
                day: "2026-01-14".into(),
                channel: "sms".into(),
                attempts: 99,
                delivered: 99,
                failed: 0,
            },
        ],
        advisories: Vec::new(),
        sensors: vec![SensorReport {
            sensor_id: "soil-1".into(),
            kind: "soil_moisture".into(),
            farm_id: None,
            village_code: Some(VILLAGE.into()),
            lat: Some(18.918),
            lon: Some(74.385),
            updated_ms: 1_767_225_600_000,
        }],
    }
}

async fn sync(app: &App, key: &NodeSecretKey, seq: u64, payload: Vec<u8>) -> Vec<u8> {
    let cloud = NodeSecretKey::from_seed(app.env.key.signing_key().to_bytes()).node_id();
    let envelope = SignedEnvelope::seal(key, EnvelopeKind::SyncRequest, cloud, seq, payload)
        .unwrap()
        .encode();
    app.state.sync.handle(&envelope, None).await.unwrap()
}

fn heartbeat(health: Option<EdgeHealth>, clock_ms: i64) -> Heartbeat {
    Heartbeat {
        software_version: "0.2.0".into(),
        change_backlog: 4,
        readings_backlog: 40,
        disk_free_bytes: 2_000_000_000,
        last_sync_ms: None,
        clock_ms,
        extra: Vec::new(),
        health,
    }
}

fn request(hb: Heartbeat) -> SyncRequest {
    SyncRequest {
        wire_version: wire::WIRE_VERSION,
        heartbeat: hb,
        up: Vec::new(),
        readings: None,
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: 32 * 1024,
        anti_entropy: None,
        doc_sync: Vec::new(),
    }
}

#[tokio::test]
async fn heartbeats_feed_the_fleet_alerts_delivery_and_reach() {
    let app = App::with_config(|c| {
        c.fleet.silent_amber = Duration::from_secs(1);
        c.fleet.silent_red = Duration::from_secs(2);
    })
    .await;
    // (The silence is judged with a clock moved forward, never by waiting.)
    let key = NodeSecretKey::from_seed([7; 32]);
    let token = app
        .env
        .store
        .create_enrollment_token(&[VILLAGE.to_owned()], Duration::from_secs(600), "test")
        .await
        .unwrap();
    let node_id = app
        .env
        .store
        .enroll(&token, *key.node_id().as_bytes(), "box-7", "0.1.0")
        .await
        .unwrap()
        .node_id;
    let advisory = app
        .env
        .store
        .create_advisory(
            farmco_cloud::store::advisories::NewAdvisory {
                village_codes: vec![VILLAGE.into()],
                kind: "weather".into(),
                title: "Storm".into(),
                body: json!({"severity": "warning", "text": {"hi": "तूफ़ान"}}),
                valid_from: farmco_cloud::store::now(),
                valid_until: None,
            },
            "ops1",
        )
        .await
        .unwrap();
    let now_ms = farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now());

    // An edge that was not upgraded: a version-1 request still syncs, answered in version 1.
    let old = SyncRequestV1 {
        wire_version: 1,
        heartbeat: HeartbeatV1 {
            software_version: "0.1.0".into(),
            change_backlog: 1,
            readings_backlog: 2,
            disk_free_bytes: 3,
            last_sync_ms: None,
            clock_ms: now_ms,
            extra: Vec::new(),
        },
        up: Vec::new(),
        readings: None,
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: 32 * 1024,
        anti_entropy: None,
        doc_sync: Vec::new(),
    };
    let answer = sync(&app, &key, 1, encode_request_v1(&old).unwrap()).await;
    let answer = SignedEnvelope::decode(&answer)
        .unwrap()
        .verify(key.node_id())
        .unwrap();
    let response = wire::decode_response(answer.payload()).unwrap();
    assert_eq!(response.wire_version, 1);
    assert_eq!(
        response.advisories.len(),
        1,
        "the old edge still gets advisories"
    );
    let row = &app.env.store.fleet(None).await.unwrap()[0];
    assert_eq!(row.change_backlog, Some(1));
    assert_eq!(row.modem_registration, None);

    // Version 2 with health, an alert and the advisory's reach.
    let mut h = health();
    let farm = Uuid::new_v4();
    h.alerts.push(AlertReport {
        alert_id: 5,
        village_code: Some(VILLAGE.into()),
        farm_id: Some(*farm.as_bytes()),
        sensor_id: "soil-1".into(),
        rule_id: "wheat-dry".into(),
        kind: "dry_soil".into(),
        severity: "warning".into(),
        message: "Dry soil on 112/3".into(),
        value: Some(11.5),
        raised_ms: now_ms - 60_000,
        resolved_ms: None,
        notifications: 2,
        delivered: 1,
    });
    h.advisories.push(AdvisoryReport {
        advisory_id: *advisory.id.as_bytes(),
        village_code: VILLAGE.into(),
        received_ms: now_ms,
        notifications: 12,
        delivered: 9,
    });
    let payload = wire::encode_request(&request(heartbeat(Some(h), now_ms + 400_000))).unwrap();
    let answer = sync(&app, &key, 2, payload).await;
    assert!(!answer.is_empty());

    let (cookie, _, _) = app.console_login("ops1", &[]).await;
    let c = [("cookie", cookie.as_str())];
    let v = app
        .send("GET", "/api/v1/nodes?count=true", &c, None)
        .await
        .json();
    let n = &v["nodes"][0];
    assert_eq!(n["node_id"], node_id);
    assert_eq!(n["modem"]["registration"], "searching");
    assert_eq!(n["modem"]["signal_dbm"], -95);
    assert_eq!(n["sms"]["sent_today"], 42);
    assert_eq!(n["sms"]["daily_cap"], 100);
    assert_eq!(n["sms"]["outbox_backlog"], 3);
    assert_eq!(n["disk_free_percent"], 6.3);
    assert_eq!(n["software_version"], "0.2.0");
    assert_eq!(n["status"], "red", "{n}");
    let kinds: Vec<&str> = n["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["disk_low", "modem_unregistered", "clock_offset"],
        "{n}"
    );
    assert_eq!(v["counts"]["red"], 1);
    assert_eq!(v["total"], 1);

    // Alerts of the village rule, and delivery only for the node's own village.
    let v = app
        .send("GET", "/api/v1/alerts?source=edge", &c, None)
        .await
        .json();
    assert_eq!(v["alerts"][0]["message"], "Dry soil on 112/3");
    assert_eq!(v["alerts"][0]["farm_id"], farm.to_string());
    let v = app
        .send("GET", "/api/v1/delivery?days=3650", &c, None)
        .await
        .json();
    assert_eq!(v["rows"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["rows"][0]["delivery_rate"], 0.8);
    // The advisory's reach.
    let v = app.send("GET", "/api/v1/advisories", &c, None).await.json();
    assert_eq!(v["advisories"][0]["reach"][0]["delivered"], 9);
    assert_eq!(v["advisories"][0]["villages_reached"], 1);
    // The sensor registry.
    let v = app
        .send("GET", "/api/v1/sensors?village_code=563412", &c, None)
        .await
        .json();
    assert_eq!(v["sensors"][0]["id"], "soil-1");
    // History for the charts.
    let v = app
        .send(
            "GET",
            &format!("/api/v1/nodes/{node_id}/heartbeats"),
            &c,
            None,
        )
        .await
        .json();
    assert!(!v["points"].as_array().unwrap().is_empty());

    // The watch raises fleet alerts (judged 3 s later, the node is silent past the tiny
    // thresholds) and resolves what cleared.
    let later = farmco_cloud::store::now() + time::Duration::seconds(3);
    let report = app
        .env
        .store
        .check_fleet(&app.env.config.fleet, later)
        .await
        .unwrap();
    assert_eq!(report.raised, 4, "{report:?}");
    let v = app
        .send("GET", "/api/v1/alerts?source=fleet&open=true", &c, None)
        .await
        .json();
    let kinds: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"silent"), "{v}");
    let again = app
        .env
        .store
        .check_fleet(&app.env.config.fleet, later)
        .await
        .unwrap();
    assert_eq!((again.raised, again.resolved), (0, 0), "idempotent");
    // A fresh heartbeat with a healthy modem and a right clock resolves those alerts.
    let mut fine = health();
    fine.modem.as_mut().unwrap().registration = "home".into();
    fine.disk_total_bytes = 4_000_000_000;
    let payload = wire::encode_request(&request(heartbeat(
        Some(fine),
        farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now()),
    )))
    .unwrap();
    sync(&app, &key, 3, payload).await;
    let report = app
        .env
        .store
        .check_fleet(&app.env.config.fleet, farmco_cloud::store::now())
        .await
        .unwrap();
    assert_eq!(report.resolved, 4, "{report:?}");
}
