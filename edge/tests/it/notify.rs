//! Notifications and voice over HTTP and in the real store: broadcasts with consent only and
//! idempotent by id, a farmer's notifications with their attempts, preferences, the voice call
//! log and callback queue, scope and role checks, and dedupe across a store restart.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use farmco_edge::config::{Config, Synchronous};
use farmco_edge::store::Store;
use farmco_edge::store::notify::route_notification;
use farmco_edge::store::voice::{self, CallLogEvent, Direction};
use farmco_sync::{FarmerId, Language, PhoneNumber};
use farmco_village::notify::router::{
    Decision, Message, Notification, Source, SuppressReason, Urgency,
};
use farmco_village::voice::callback::RequestDecision;
use farmco_village::voice::flow::{CallOutcome, CallbackReason, CallerLookup};
use serde_json::{Value, json};

use crate::support::{TestNode, VILLAGE, error_of};

async fn farmer_with(node: &TestNode, token: &str, phone: &str, sms: bool, voice: bool) -> String {
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/farmers",
            Some(token),
            Some(json!({"name": "Ramesh", "phone": phone, "language": "hi",
                        "village_code": VILLAGE, "consents": {"sms": sms, "voice": voice}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn broadcast(id: &str) -> Value {
    json!({"village_code": VILLAGE, "urgency": "normal", "broadcast_id": id,
           "message": {"key": "advisory-storm-warning", "args": {"day": "Friday"}}})
}

#[tokio::test]
async fn broadcasts_reach_consenting_farmers_once() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    let both = farmer_with(&node, &agent, "9812345601", true, true).await;
    let voice_only = farmer_with(&node, &agent, "9812345602", false, true).await;
    let none = farmer_with(&node, &agent, "9812345603", false, false).await;

    let (status, body) = node
        .call(
            "POST",
            "/api/v1/broadcasts",
            Some(&agent),
            Some(broadcast("b-1")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, body) = node
        .call(
            "POST",
            "/api/v1/broadcasts",
            Some(&sup),
            Some(broadcast("b-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["recipients"], 2, "{body}");
    assert_eq!(body["scheduled"], 2, "{body}");

    // The same broadcast again reaches nobody twice.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/broadcasts",
            Some(&sup),
            Some(broadcast("b-1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["scheduled"], 0, "{body}");
    assert_eq!(body["suppressed"]["duplicate"], 2, "{body}");

    let list = |id: String| {
        let node = &node;
        let agent = agent.clone();
        async move {
            node.call(
                "GET",
                &format!("/api/v1/notifications?farmer_id={id}"),
                Some(&agent),
                None,
            )
            .await
        }
    };
    let (status, body) = list(both.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let n = &body["notifications"];
    assert_eq!(n.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(n[0]["source"], "broadcast");
    assert_eq!(n[0]["message_args"]["day"], "Friday");
    assert_eq!(n[0]["attempts"][0]["channel"], "sms");
    assert_eq!(n[0]["attempts"][0]["state"], "scheduled");
    let (_, body) = list(voice_only).await;
    assert_eq!(body["notifications"][0]["attempts"][0]["channel"], "voice");
    let (_, body) = list(none).await;
    assert_eq!(body["notifications"].as_array().unwrap().len(), 0);

    // Agents of other villages do not see the farmer at all.
    let agent2 = node.login("agent2").await;
    let (status, _) = node
        .call(
            "GET",
            &format!("/api/v1/notifications?farmer_id={both}"),
            Some(&agent2),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input is 4xx.
    let mut bad = broadcast("b-2");
    bad["message"]["key"] = json!("Not A Key!");
    let (status, body) = node
        .call("POST", "/api/v1/broadcasts", Some(&sup), Some(bad))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_of(&body).1.as_deref(), Some("message.key"));

    let (status, body) = node.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap_or_default();
    assert!(
        text.contains("farmco_edge_notification_attempts{channel=\"sms\",state=\"scheduled\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn preferences_default_then_set_and_validated() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let id = farmer_with(&node, &agent, "9812345611", true, true).await;
    let uri = format!("/api/v1/farmers/{id}/notification-preferences");
    let (status, body) = node.call("GET", &uri, Some(&agent), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customized"], false);
    assert_eq!(body["preferences"]["quiet_start"], "21:00");

    let prefs = json!({"channels": ["voice"], "language": "mr", "quiet_start": "22:30",
                       "quiet_end": "05:00", "max_per_day": 2});
    let (status, body) = node.call("PUT", &uri, Some(&agent), Some(prefs)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = node.call("GET", &uri, Some(&agent), None).await;
    assert_eq!(body["customized"], true);
    assert_eq!(body["preferences"]["channels"], json!(["voice"]));
    assert_eq!(body["preferences"]["language"], "mr");
    assert_eq!(body["preferences"]["quiet_start"], "22:30");

    for (field, bad) in [
        (
            "channels[0]",
            json!({"channels": ["fax"], "language": null, "quiet_start": "22:00", "quiet_end": "06:00", "max_per_day": 2}),
        ),
        (
            "quiet_end",
            json!({"channels": [], "language": null, "quiet_start": "22:00", "quiet_end": "25:00", "max_per_day": 2}),
        ),
        (
            "max_per_day",
            json!({"channels": [], "language": null, "quiet_start": "22:00", "quiet_end": "06:00", "max_per_day": 0}),
        ),
    ] {
        let (status, body) = node.call("PUT", &uri, Some(&agent), Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_of(&body).1.as_deref(), Some(field));
    }
    let agent2 = node.login("agent2").await;
    let (status, _) = node.call("GET", &uri, Some(&agent2), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn voice_call_log_and_callbacks_are_for_supervisors() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    let id = farmer_with(&node, &agent, "9812345621", true, true).await;
    let phone = PhoneNumber::parse("p", "9812345621").unwrap();
    let policy = node.state.config.voice.callback;
    let store = node.state.store.clone();
    let now = farmco_edge::store::now_ms();
    let (decision, call) = store
        .write(|tx| {
            let CallerLookup::Farmer(farmer) = voice::lookup_caller(tx, Some(&phone))? else {
                panic!("the farmer is registered");
            };
            assert_eq!(farmer.farmer_id.to_string(), id);
            let call = voice::start_call(
                tx,
                Direction::Inbound,
                Some(&phone),
                Some(farmer.farmer_id),
                None,
                Language::Hi,
                now,
            )?;
            voice::log_call_event(
                tx,
                call,
                now,
                CallLogEvent::Spoken {
                    prompt: "ivr-greeting",
                    text: "नमस्ते",
                },
            )?;
            voice::end_call(tx, call, CallOutcome::Missed, now)?;
            let (d, _) =
                voice::request_callback(tx, &policy, &farmer, CallbackReason::RangOff, now)?;
            Ok((d, call))
        })
        .unwrap();
    assert!(matches!(decision, RequestDecision::Queue { .. }));

    for uri in ["/api/v1/voice/calls", "/api/v1/voice/callbacks"] {
        let (status, _) = node.call("GET", uri, Some(&agent), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    let (status, body) = node
        .call("GET", "/api/v1/voice/calls", Some(&sup), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["calls"][0]["id"], call);
    assert_eq!(body["calls"][0]["outcome"], "missed");
    assert_eq!(body["calls"][0]["events"][0]["text"], "नमस्ते");
    let (status, body) = node
        .call(
            "GET",
            "/api/v1/voice/callbacks?state=pending",
            Some(&sup),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["callbacks"][0]["number"], "+919812345621");
    assert_eq!(body["callbacks"][0]["reason"], "rang_off");
    let (status, _) = node
        .call(
            "GET",
            "/api/v1/voice/callbacks?state=bogus",
            Some(&sup),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// An alert delivered again after a restart (the store reopened, as after `kill -9`) is a
/// duplicate; the daily cap counts what was stored before the restart.
#[tokio::test]
async fn dedupe_and_daily_cap_survive_a_restart() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let id: FarmerId = farmer_with(&node, &agent, "9812345631", true, false)
        .await
        .parse()
        .unwrap();
    let uri = format!("/api/v1/farmers/{id}/notification-preferences");
    let prefs = json!({"channels": ["sms"], "language": null, "quiet_start": "00:00",
                       "quiet_end": "00:00", "max_per_day": 1});
    let (status, _) = node.call("PUT", &uri, Some(&agent), Some(prefs)).await;
    assert_eq!(status, StatusCode::OK);
    let config = Config::for_tests(node.dir.path().to_owned());
    let alert = |key: &str, urgency| Notification {
        dedupe_key: key.to_owned(),
        farmer_id: id,
        urgency,
        source: Source::Alert,
        message: Message {
            key: "alert-dry-soil".into(),
            args: BTreeMap::new(),
        },
    };
    let now = 1_796_169_600_000;
    let route = |store: &Store, n: &Notification, now: i64| {
        store
            .write(|tx| {
                route_notification(tx, &config.notify.router, config.notify.defaults, n, now)
            })
            .unwrap()
            .decision
    };
    let first = route(
        &node.state.store,
        &alert("dry:farm-1", Urgency::Normal),
        now,
    );
    assert!(matches!(first, Decision::Send { .. }), "{first:?}");
    let dir = node.dir.path().to_owned();
    let TestNode {
        dir: _keep,
        state,
        router,
    } = node;
    drop(router);
    drop(state);
    let store = Store::open(&dir, Synchronous::Normal, 1).unwrap();
    assert_eq!(
        route(&store, &alert("dry:farm-1", Urgency::Normal), now + 60_000),
        Decision::Suppressed(SuppressReason::Duplicate)
    );
    assert_eq!(
        route(&store, &alert("dry:farm-2", Urgency::Normal), now + 60_000),
        Decision::Suppressed(SuppressReason::DailyCap)
    );
    assert!(matches!(
        route(&store, &alert("storm", Urgency::Critical), now + 60_000),
        Decision::Send { .. }
    ));
}

#[tokio::test]
async fn routes_are_documented_and_broadcasts_audited() {
    let node = TestNode::new();
    let (status, spec) = node.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/notifications",
        "/api/v1/broadcasts",
        "/api/v1/farmers/{id}/notification-preferences",
        "/api/v1/voice/calls",
        "/api/v1/voice/callbacks",
    ] {
        assert!(spec["paths"][path].is_object(), "openapi lacks {path}");
    }
    let sup = node.login("super").await;
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/broadcasts",
            Some(&sup),
            Some(broadcast("b-9")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["recipients"], 0);
    let actions: Vec<(String, String)> = node
        .state
        .store
        .read(|c| {
            let mut stmt = c.prepare("SELECT actor, action FROM audit_log ORDER BY seq")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert!(
        actions.contains(&("super".to_owned(), "notify.broadcast".to_owned())),
        "{actions:?}"
    );
}
