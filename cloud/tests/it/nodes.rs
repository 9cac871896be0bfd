//! The device registry: enrollment tokens are single use and expire, every refusal is audited,
//! revocation is final (also against re-enrollment), an active node is re-scoped only with a
//! token made for it, prefixes resolve, heartbeats are kept.

use std::time::Duration;

use farmco_cloud::store::StoreError;
use farmco_cloud::store::nodes::EnrollmentRefused;

use crate::support::{env, node_key};

fn villages(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn refusal(err: StoreError) -> EnrollmentRefused {
    match err {
        StoreError::Enrollment(r) => r,
        other => panic!("expected an enrollment refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_enrolls_once() {
    let env = env().await;
    let token = env
        .store
        .create_enrollment_token(
            &villages(&["563413", "563412", "563412"]),
            Duration::from_secs(3600),
            "test",
        )
        .await
        .unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // Only the hash is stored.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM enrollment_tokens WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );
    let enrolled = env
        .store
        .enroll(&token, node_key(1), "village-box-1", "0.1.0")
        .await
        .unwrap();
    assert_eq!(enrolled.node_id, hex::encode(node_key(1)));
    assert_eq!(enrolled.villages, villages(&["563412", "563413"]));
    let node = env.store.node(&enrolled.node_id).await.unwrap().unwrap();
    assert_eq!(node.name, "village-box-1");
    assert!(!node.revoked() && node.replay.is_none() && node.up_acked == 0);

    // The same token again, by another node or the same one: refused.
    let err = env
        .store
        .enroll(&token, node_key(2), "village-box-2", "0.1.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::TokenUsed);
    assert!(
        env.store
            .node(&hex::encode(node_key(2)))
            .await
            .unwrap()
            .is_none()
    );
    let err = env
        .store
        .enroll(&"ab".repeat(32), node_key(2), "box", "0.1.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::UnknownToken);
    assert_eq!(
        env.count("SELECT count(*) FROM audit_log WHERE action = 'device.enroll_refused'")
            .await,
        2
    );
    assert_eq!(
        env.count("SELECT count(*) FROM audit_log WHERE action = 'device.enroll'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let env = env().await;
    let token = env
        .store
        .create_enrollment_token(&villages(&["563412"]), Duration::ZERO, "test")
        .await
        .unwrap();
    let err = env
        .store
        .enroll(&token, node_key(3), "box", "0.1.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::TokenExpired);
    // Still unused: expiry, not use, refused it.
    assert_eq!(
        env.count("SELECT count(*) FROM enrollment_tokens WHERE used_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn bad_input_is_a_validation_error() {
    let env = env().await;
    for v in [vec![], villages(&["12345"]), villages(&["abcdef"])] {
        let err = env
            .store
            .create_enrollment_token(&v, Duration::from_secs(60), "test")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Validation(_)), "{v:?}: {err:?}");
    }
    let token = env
        .store
        .create_enrollment_token(&villages(&["563412"]), Duration::from_secs(60), "test")
        .await
        .unwrap();
    // The identity point is a weak key; a name must be printable.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    for (key, name) in [(weak, "box"), (node_key(4), ""), (node_key(4), "a\u{7}b")] {
        let err = env
            .store
            .enroll(&token, key, name, "0.1.0")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Validation(_)), "{err:?}");
    }
    // None of that consumed the token.
    env.store
        .enroll(&token, node_key(4), "box", "0.1.0")
        .await
        .unwrap();
}

#[tokio::test]
async fn revocation_is_final_and_prefixes_resolve() {
    let env = env().await;
    let id = crate::support::enroll_node(&env.store, 5, &["563412"]).await;
    let other = crate::support::enroll_node(&env.store, 6, &["563412"]).await;
    assert!(matches!(
        env.store.resolve_node_id(&id[..7]).await,
        Err(StoreError::Validation(_))
    ));
    assert!(matches!(
        env.store.resolve_node_id("zzzzzzzz").await,
        Err(StoreError::Validation(_))
    ));
    assert!(matches!(
        env.store.resolve_node_id("00000000").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        env.store
            .resolve_node_id(&id[..8].to_uppercase())
            .await
            .unwrap(),
        id
    );

    let revoked = env.store.revoke_node(&id[..10], "admin").await.unwrap();
    assert_eq!(revoked, id);
    let node = env.store.node(&id).await.unwrap().unwrap();
    assert!(node.revoked());
    let first = node.revoked_at;
    env.store.revoke_node(&id, "admin").await.unwrap();
    assert_eq!(
        env.store.node(&id).await.unwrap().unwrap().revoked_at,
        first
    );
    assert!(!env.store.node(&other).await.unwrap().unwrap().revoked());

    // A fresh token does not bring a revoked key back.
    let token = env
        .store
        .create_enrollment_token(&villages(&["563412"]), Duration::from_secs(60), "test")
        .await
        .unwrap();
    let err = env
        .store
        .enroll(&token, node_key(5), "again", "0.2.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::NodeRevoked);
    assert_eq!(
        env.count("SELECT count(*) FROM audit_log WHERE action = 'device.revoke'")
            .await,
        2
    );
    assert_eq!(env.store.verify_audit().await.unwrap().to_string(), "ok");
}

#[tokio::test]
async fn heartbeats_are_kept_and_bounded() {
    let env = env().await;
    let id = crate::support::enroll_node(&env.store, 7, &["563412"]).await;
    let hb = serde_json::json!({
        "software_version": "0.2.0",
        "change_log_backlog": 12,
        "readings_backlog": 3400,
        "disk_free_bytes": 1_000_000_000u64
    });
    env.store.record_heartbeat(&id, &hb).await.unwrap();
    let node = env.store.node(&id).await.unwrap().unwrap();
    assert_eq!(node.heartbeat.as_ref(), Some(&hb));
    assert_eq!(node.software_version, "0.2.0");
    assert!(node.last_seen_at.is_some());
    let huge = serde_json::json!({"x": "y".repeat(20_000)});
    assert!(env.store.record_heartbeat(&id, &huge).await.is_err());
    assert!(matches!(
        env.store.record_heartbeat(&"0".repeat(64), &hb).await,
        Err(StoreError::NotFound(_))
    ));
    let list = env.store.list_nodes().await.unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn an_active_node_is_rescoped_only_with_a_token_made_for_it() {
    let env = env().await;
    let first = env
        .store
        .create_enrollment_token(&villages(&["563412"]), Duration::from_secs(600), "test")
        .await
        .unwrap();
    let id = env
        .store
        .enroll(&first, node_key(10), "box-10", "0.1.0")
        .await
        .unwrap()
        .node_id;
    // Anyone holding any ordinary token, knowing the (public) node id: refused, and the
    // villages stay.
    let other = env
        .store
        .create_enrollment_token(&villages(&["563499"]), Duration::from_secs(600), "test")
        .await
        .unwrap();
    let err = env
        .store
        .enroll(&other, node_key(10), "hijack", "0.1.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::NodeActive);
    let node = env.store.node(&id).await.unwrap().unwrap();
    assert_eq!(node.villages, villages(&["563412"]));
    assert_eq!(node.name, "box-10");
    // The refusal did not spend that token: a new node can still use it.
    env.store
        .enroll(&other, node_key(11), "box-11", "0.1.0")
        .await
        .unwrap();

    // The same enrollment again (its answer was lost): the same answer, nothing changes.
    let again = env
        .store
        .enroll(&first, node_key(10), "box-10", "0.1.0")
        .await
        .unwrap();
    assert_eq!(again.villages, villages(&["563412"]));

    // An admin's re-enrollment token for node 10: not usable by node 11, usable by node 10.
    let reenroll = env
        .store
        .create_reenrollment_token(
            &id[..12],
            &villages(&["563412", "563413"]),
            Duration::from_secs(600),
            "admin",
        )
        .await
        .unwrap();
    let err = env
        .store
        .enroll(&reenroll, node_key(11), "box-11", "0.1.0")
        .await
        .unwrap_err();
    assert_eq!(refusal(err), EnrollmentRefused::TokenForOtherNode);
    let done = env
        .store
        .enroll(&reenroll, node_key(10), "box-10", "0.2.0")
        .await
        .unwrap();
    assert_eq!(done.villages, villages(&["563412", "563413"]));
    assert_eq!(
        env.store.node(&id).await.unwrap().unwrap().villages,
        villages(&["563412", "563413"])
    );
    // A re-enrollment token needs an existing node.
    let err = env
        .store
        .create_reenrollment_token(
            &"ab".repeat(32),
            &villages(&["563412"]),
            Duration::from_secs(60),
            "admin",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    for (action, n) in [
        ("device.enroll", 2),
        ("device.reenroll", 1),
        ("device.enroll_repeat", 1),
        ("device.enroll_refused", 2),
    ] {
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await,
            n,
            "{action}"
        );
    }
    assert_eq!(env.store.verify_audit().await.unwrap().to_string(), "ok");
}
