//! Login and logout of ops staff, the checked user creation shared with `user add`, and the
//! admin's account changes (disable, enable, new password, revoke sessions) shared with the
//! `user` commands; every change is audited and all but enabling delete the user's sessions.
//!
//! Every login attempt, successful or not, is written to the audit log. Attempts are reserved
//! against the username and the client address before verification and failures counted after
//! (see `crate::auth::LoginLimiter`); argon2 verification runs on the blocking pool in one of a
//! few hashing slots (429 `busy` when all are taken).

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking, client_addr, rfc3339};
use crate::auth;
use crate::store::Store;
use crate::store::audit::AuditEvent;
use crate::store::users::{self, Role, User, UserChange};

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
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let addr = client_addr(&state, &extensions, &headers);
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
        Err(refused) => {
            // Refused before any work: at most one audit row per blocked key per window, so
            // a flood of refused attempts costs no database write (review 2026-12, finding 9).
            state.metrics.login("rate_limited");
            if refused.audit {
                state
                    .store
                    .audit(&AuditEvent {
                        actor: &username,
                        action: "login.rate_limited",
                        target: &username,
                        detail,
                    })
                    .await?;
            }
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many failed logins; try again later",
            );
            e.retry_after_s = Some(refused.retry_after_s);
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
    attempt.succeeded(Instant::now());
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

/// What an account change did (the answer of the user administration routes).
#[derive(Debug, Serialize)]
pub struct UserChangeResponse {
    pub username: String,
    pub disabled: bool,
    /// Sessions (bearer tokens) deleted by the change.
    pub sessions_revoked: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub password: String,
}

/// Set a user's password (checked like a new one; hashed in a hashing slot when `slots` is
/// given, i.e. from the API) and delete their sessions; audited.
pub async fn set_password_checked(
    store: &Store,
    slots: Option<&auth::HashingSlots>,
    username: &str,
    password: &str,
    actor: &str,
) -> Result<UserChangeResponse, ApiError> {
    auth::check_new_password(password).map_err(|m| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m).with_field("password")
    })?;
    let slot = match slots {
        Some(s) => Some(s.try_take().ok_or_else(ApiError::busy)?),
        None => None,
    };
    let password = password.to_owned();
    let hash = blocking(move || {
        let _slot = slot;
        auth::hash_password(&password)
    })
    .await?
    .map_err(|e| {
        tracing::error!(error = %e, "hashing failed");
        ApiError::internal()
    })?;
    let (disabled, sessions_revoked) = store.set_password_hash(username, &hash, actor).await?;
    Ok(UserChangeResponse {
        username: username.to_owned(),
        disabled,
        sessions_revoked,
    })
}

async fn change_user_route(
    state: SharedState,
    user: CurrentUser,
    username: String,
    change: UserChange,
) -> Result<Json<UserChangeResponse>, ApiError> {
    user.require(Role::Admin)?;
    if change == UserChange::Disable && user.0.username == username {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "an admin cannot disable their own account",
        ));
    }
    let (disabled, sessions_revoked) = state
        .store
        .change_user(&username, change, &user.0.username)
        .await?;
    Ok(Json(UserChangeResponse {
        username,
        disabled,
        sessions_revoked,
    }))
}

/// `POST /api/v1/users/{username}/disable` (admin): no more logins, sessions deleted.
pub async fn disable_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::Disable).await
}

/// `POST /api/v1/users/{username}/enable` (admin).
pub async fn enable_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::Enable).await
}

/// `DELETE /api/v1/users/{username}/sessions` (admin): sign the user out everywhere.
pub async fn revoke_sessions(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::RevokeSessions).await
}

/// `POST /api/v1/users/{username}/password` (admin): a new password, sessions deleted.
pub async fn set_password(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    user.require(Role::Admin)?;
    let done = set_password_checked(
        &state.store,
        Some(&state.hashing),
        &username,
        &req.password,
        &user.0.username,
    )
    .await?;
    Ok(Json(done))
}
