//! Findings 4 and 9: logins under a burst and a flood.

use axum::http::StatusCode;

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
