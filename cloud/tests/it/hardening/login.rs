//! Findings 4 and 9: logins under a burst and a flood.

use axum::http::StatusCode;

use super::login_as;
use crate::api::App;

/// Finding 4: argon2 runs in a bounded number of slots; a login that finds them all taken is
/// refused with 429 `busy` and not counted as a failure.
#[tokio::test]
async fn login_is_refused_when_every_hashing_slot_is_taken() {
    let app = App::new().await;
    let state = app.state.clone();
    let held: Vec<_> = std::iter::from_fn(|| state.hashing.try_take()).collect();
    assert_eq!(
        held.len(),
        farmco_cloud::auth::PASSWORD_HASHES_IN_FLIGHT_MAX
    );
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"username": "ops1", "password": crate::api::PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    drop(held);
    app.login().await;
}

/// Finding 9 (cloud): a flood of logins for a blocked username writes one
/// `login.rate_limited` audit row per window.
#[tokio::test]
async fn rate_limited_logins_are_audited_once_per_window() {
    let app = App::new().await;
    let max = app.env.config.auth.login_max_failures_per_user;
    for _ in 0..max {
        assert_eq!(
            login_as(&app, "ops1", "wrong wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..30 {
        assert_eq!(
            login_as(&app, "ops1", "wrong wrong").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        app.env
            .count("SELECT count(*) FROM audit_log WHERE action = 'login.rate_limited'")
            .await,
        1
    );
}
