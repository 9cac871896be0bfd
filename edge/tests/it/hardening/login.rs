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

/// A login request as if forwarded by the proxy at 127.0.0.1 for `client`.
async fn login_via_proxy(
    node: &TestNode,
    client: &str,
    username: &str,
    password: &str,
) -> StatusCode {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", client)
        .body(Body::from(
            serde_json::json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            50_000,
        ))));
    node.raw(req).await.0
}

/// Finding 14: behind a trusted proxy each client has its own address bucket (one client's
/// failures do not lock out the others), X-Forwarded-For from anyone else is ignored, and a
/// username under attack is delayed, not locked: its owner's known address still gets in.
#[tokio::test]
async fn trusted_proxy_buckets_and_no_username_lockout() {
    let node = TestNode::with_config(|c| {
        c.trusted_proxies =
            farmco_shell::http::TrustedProxies::parse(&["127.0.0.1".to_owned()]).unwrap();
    });
    let password = crate::support::PASSWORD;
    // The supervisor logs in from their phone once.
    assert_eq!(
        login_via_proxy(&node, "198.51.100.50", "super", password).await,
        StatusCode::OK
    );
    // An attacker behind the same proxy burns its address limit on many usernames.
    let per_address = node.state.config.auth.login_max_failures_per_address;
    for i in 0..per_address {
        let status =
            login_via_proxy(&node, "203.0.113.9", &format!("user{i}"), "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_via_proxy(&node, "203.0.113.9", "agent", password).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other clients of the proxy are unaffected.
    assert_eq!(
        login_via_proxy(&node, "198.51.100.7", "agent", password).await,
        StatusCode::OK
    );
    // Guesses at the supervisor from elsewhere delay the username...
    let per_user = node.state.config.auth.login_max_failures_per_user;
    for i in 0..per_user {
        let status = login_via_proxy(
            &node,
            &format!("203.0.113.{}", 20 + i),
            "super",
            "nope-nope",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_via_proxy(&node, "203.0.113.99", "super", password).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but the supervisor's own phone still gets in.
    assert_eq!(
        login_via_proxy(&node, "198.51.100.50", "super", password).await,
        StatusCode::OK
    );
}
