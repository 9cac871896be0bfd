//! Regression tests of the security review's hardening findings (docs/security.md, "Hardening
//! (review 2026-12)"): each test attacks the way the review describes and asserts the refusal.

mod login;
mod metrics;
mod quarantine;
mod readings;
mod refusals;
mod users;

use axum::http::StatusCode;

use crate::api::App;

/// Log `username` in; the status and the token (empty when refused).
pub(crate) async fn login_as(app: &App, username: &str, password: &str) -> (StatusCode, String) {
    let (s, v) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"username": username, "password": password})),
        )
        .await;
    (s, v["token"].as_str().unwrap_or_default().to_owned())
}
