//! Login and logout of ops staff, and the checked user creation shared with `user add`.
//!
//! Every login attempt, successful or not, is written to the audit log. Attempts are reserved
//! against the username and the client address before verification and failures counted after
//! (see `crate::auth::LoginLimiter`); argon2 verification runs on the blocking pool in one of a
//! few hashing slots (429 `busy` when all are taken).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ApiJson, SharedState, blocking, client_addr, rfc3339};
use crate::auth;
use crate::store::Store;
use crate::store::audit::AuditEvent;
use crate::store::users::{self, Role, User};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
    pub role: String,
}

pub async fn login(
    State(state): State<SharedState>,
    extensions: Extensions,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let addr = client_addr(&extensions);
    let username = req.username.trim().to_owned();
    if username.is_empty()
        || username.len() > users::USERNAME_CHARS_MAX
        || req.password.len() > auth::PASSWORD_BYTES_MAX
    {
        return Err(ApiError::unauthorized());
    }
    let detail = json!({"address": addr.map(|a| a.to_string())});
    // The attempt is reserved here (pending until resolved below), so a burst of concurrent
    // guesses cannot all pass the check before the first failure is recorded.
    let attempt = match state.limiter.check(&username, addr, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait_s) => {
            state.metrics.login("rate_limited");
            state
                .store
                .audit(&AuditEvent {
                    actor: &username,
                    action: "login.rate_limited",
                    target: &username,
                    detail,
                })
                .await?;
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many failed logins; try again later",
            );
            e.retry_after_s = Some(wait_s);
            return Err(e);
        }
    };
    // At most PASSWORD_HASHES_IN_FLIGHT_MAX argon2 hashes at once; the attempt is released
    // (not counted as a failure) when refused here.
    let Some(slot) = state.hashing.try_take() else {
        return Err(ApiError::busy());
    };
    let found = state.store.find_for_login(&username).await?;
    let password = req.password;
    let ok_user: Option<User> = blocking(move || {
        let _slot = slot;
        match found {
            Some((user, hash)) if auth::verify_password(&password, &hash) => Some(user),
            Some(_) => None,
            None => {
                // Same work as a real check, so timing does not reveal unknown usernames.
                let _ = auth::verify_password(&password, auth::dummy_hash());
                None
            }
        }
    })
    .await?;
    let Some(user) = ok_user else {
        attempt.failed(Instant::now());
        state.metrics.login("failure");
        state
            .store
            .audit(&AuditEvent {
                actor: &username,
                action: "login.failure",
                target: &username,
                detail,
            })
            .await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    let token = auth::new_token();
    let now = crate::store::now();
    let expires_at = now + state.config.auth.session_ttl;
    state
        .store
        .create_session(user.id, &auth::token_hash(&token), now, expires_at)
        .await?;
    state
        .store
        .audit(&AuditEvent {
            actor: &username,
            action: "login.success",
            target: &username,
            detail,
        })
        .await?;
    attempt.succeeded();
    state.metrics.login("success");
    Ok(Json(LoginResponse {
        token,
        expires_at: rfc3339(expires_at),
        role: user.role.as_str().to_owned(),
    }))
}

pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let token = super::bearer_token(&headers).ok_or_else(ApiError::unauthorized)?;
    if state.store.delete_session(&auth::token_hash(token)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Validate and create a user (the `user add` command; an admin route can reuse it).
pub async fn add_user_checked(
    store: &Store,
    username: &str,
    password: &str,
    role: &str,
    actor: &str,
) -> Result<User, ApiError> {
    users::validate_username(username).map_err(|m| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_username", m)
            .with_field("username")
    })?;
    auth::check_new_password(password).map_err(|m| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m).with_field("password")
    })?;
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_role",
            "role must be ops or admin",
        )
        .with_field("role")
    })?;
    let password = password.to_owned();
    let hash = blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "hashing failed");
            ApiError::internal()
        })?;
    Ok(store.add_user(username, &hash, role, actor).await?)
}
