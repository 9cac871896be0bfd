//! Findings 4, 9 and 14: logins under a burst, a flood and a proxy.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::support::TestNode;

/// Finding 4: a burst of concurrent guesses gets no more verifications than the per-user limit
/// (each attempt is reserved inside the limiter's check), and argon2 runs in a bounded number
/// of slots, answering 429 `busy` when they are all taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_are_bounded() {
    let node = TestNode::new();
    let max = node.state.config.auth.login_max_failures_per_user;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..(max * 4) {
        let router = node.router.clone();
        set.spawn(async move {
            let req = Request::builder()
                .method("POST")
                .uri("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(
                    serde_json::json!({"username": "super", "password": "guess-guess"}).to_string(),
                ))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        });
    }
    let mut unauthorized = 0;
    while let Some(status) = set.join_next().await {
        let status = status.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        if status == StatusCode::UNAUTHORIZED {
            unauthorized += 1;
        }
    }
    assert!(
        unauthorized >= 1 && unauthorized <= max,
        "{unauthorized} guesses verified"
    );

    // Every hashing slot taken: a login is refused with 429 `busy`, and is not counted.
    let held: Vec<_> = std::iter::from_fn(|| node.state.hashing.try_take()).collect();
    assert_eq!(held.len(), farmco_edge::auth::PASSWORD_HASHES_IN_FLIGHT_MAX);
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"username": "agent", "password": crate::support::PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    drop(held);
    node.login("agent").await;
}

/// Finding 9: a flood of logins for a blocked username writes one `login.rate_limited` audit
/// row per window, not one per request.
#[tokio::test]
async fn rate_limited_logins_are_audited_once_per_window() {
    use serde_json::json;
    let node = TestNode::new();
    let max = node.state.config.auth.login_max_failures_per_user;
    let attempt = |password: &'static str| {
        let node = &node;
        async move {
            node.call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "super", "password": password})),
            )
            .await
            .0
        }
    };
    for _ in 0..max {
        assert_eq!(attempt("guess-guess").await, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..30 {
        assert_eq!(attempt("guess-guess").await, StatusCode::TOO_MANY_REQUESTS);
    }
    let count = |action: &'static str| -> i64 {
        node.state
            .store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM audit_log WHERE action = ?1",
                    [action],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    };
    assert_eq!(count("login.failure"), i64::from(max));
    assert_eq!(count("login.rate_limited"), 1);
}
