//! Login, logout and user administration routes.
//!
//! Every login attempt, successful or not, is written to the audit log. Attempts are reserved
//! against the username and the client address before verification and failures counted after
//! (see `crate::auth::LoginLimiter`); argon2 runs in one of a few hashing slots (429 `busy`
//! when all are taken).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, StatusCode};
use axum::response::IntoResponse;
use farmco_sync::VillageCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking, client_addr};
use crate::auth;
use crate::store::audit::{self, AuditEvent};
use crate::store::now_ms;
use crate::store::users::{self, Role, User};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
    pub role: String,
    pub villages: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub villages: Vec<String>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> UserResponse {
        UserResponse {
            id: u.id,
            username: u.username.clone(),
            role: u.role.as_str().to_owned(),
            villages: u.villages.iter().map(ToString::to_string).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    /// agent, supervisor or admin
    pub role: String,
    /// Village codes an agent may work in (ignored for other roles).
    #[serde(default)]
    pub villages: Vec<String>,
}

pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)))]
pub async fn login(
    State(state): State<SharedState>,
    extensions: Extensions,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let addr = client_addr(&state, &extensions, &headers);
    let username = req.username.trim().to_owned();
    if username.is_empty() || username.len() > users::USERNAME_CHARS_MAX {
        return Err(ApiError::unauthorized());
    }
    if req.password.len() > auth::PASSWORD_BYTES_MAX {
        return Err(ApiError::unauthorized());
    }
    // The attempt is reserved here (pending until resolved below), so a burst of concurrent
    // guesses cannot all pass the check before the first failure is recorded.
    let attempt = match state.limiter.check(&username, addr, Instant::now()) {
        Ok(attempt) => attempt,
        Err(refused) => {
            // Refused before any work: at most one audit row per blocked key per window, so
            // a flood of refused attempts costs no database write (review 2026-12, finding 9).
            state.metrics.login(false);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many failed logins; try again later",
            );
            e.retry_after_s = Some(refused.retry_after_s);
            if refused.audit {
                let store = state.store.clone();
                let name = username.clone();
                blocking(move || {
                    store
                        .write(|tx| {
                            audit::append(
                                tx,
                                now_ms(),
                                &AuditEvent {
                                    actor: &name,
                                    action: "login.rate_limited",
                                    target: &name,
                                    detail: json!({"address": addr.map(|a| a.to_string())}),
                                },
                            )
                        })
                        .map_err(ApiError::from)
                })
                .await?;
            }
            return Err(e);
        }
    };
    // At most PASSWORD_HASHES_IN_FLIGHT_MAX argon2 hashes at once; the attempt is released
    // (not counted as a failure) when refused here.
    let Some(slot) = state.hashing.try_take() else {
        return Err(ApiError::busy());
    };
    let st = state.clone();
    let name = username.clone();
    let outcome = blocking(move || {
        let found = st
            .store
            .read(|c| users::find_for_login(c, &name))
            .map_err(ApiError::from)?;
        let ok_user = match found {
            Some((user, hash)) if auth::verify_password(&req.password, &hash) => Some(user),
            Some(_) => None,
            None => {
                // Same work as a real check, so timing does not reveal unknown usernames.
                let _ = auth::verify_password(&req.password, auth::dummy_hash());
                None
            }
        };
        drop(slot);
        let now = now_ms();
        let ttl_ms = i64::try_from(st.config.auth.session_ttl.as_millis()).unwrap_or(i64::MAX);
        st.store
            .write(|tx| {
                let detail = json!({"address": addr.map(|a| a.to_string())});
                match &ok_user {
                    Some(user) => {
                        let token = auth::new_token();
                        let expires = now.saturating_add(ttl_ms);
                        users::create_session(
                            tx,
                            user.id,
                            &auth::token_hash(&token),
                            now,
                            expires,
                        )?;
                        audit::append(
                            tx,
                            now,
                            &AuditEvent {
                                actor: &name,
                                action: "login.success",
                                target: &name,
                                detail,
                            },
                        )?;
                        Ok(Some((user.clone(), token, expires)))
                    }
                    None => {
                        audit::append(
                            tx,
                            now,
                            &AuditEvent {
                                actor: &name,
                                action: "login.failure",
                                target: &name,
                                detail,
                            },
                        )?;
                        Ok(None)
                    }
                }
            })
            .map_err(ApiError::from)
    })
    .await?;
    match outcome {
        Some((user, token, expires)) => {
            attempt.succeeded(Instant::now());
            state.metrics.login(true);
            Ok(Json(LoginResponse {
                token,
                expires_at: rfc3339_ms(expires),
                role: user.role.as_str().to_owned(),
                villages: user.villages.iter().map(ToString::to_string).collect(),
            }))
        }
        None => {
            attempt.failed(Instant::now());
            state.metrics.login(false);
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong username or password",
            ))
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<SharedState>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let token = super::bearer_token(&headers).ok_or_else(ApiError::unauthorized)?;
    let hash = auth::token_hash(token);
    let store = state.store.clone();
    let deleted = blocking(move || {
        store
            .write(|tx| users::delete_session(tx, &hash))
            .map_err(ApiError::from)
    })
    .await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unauthorized())
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = [UserResponse]), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<SharedState>,
    user: CurrentUser,
) -> Result<Json<Vec<UserResponse>>, ApiError> {
    user.require(Role::Admin)?;
    let store = state.store.clone();
    let list = blocking(move || store.read(users::list_users).map_err(ApiError::from)).await?;
    Ok(Json(list.iter().map(UserResponse::from).collect()))
}

/// Validate and create a user (shared by the API and the `user add` command).
pub fn add_user_checked(
    store: &crate::store::Store,
    username: &str,
    password: &str,
    role: &str,
    villages: &[String],
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
            "role must be agent, supervisor or admin",
        )
        .with_field("role")
    })?;
    let villages = villages
        .iter()
        .enumerate()
        .map(|(i, v)| VillageCode::parse(&format!("villages[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    if role == Role::Agent && villages.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            "an agent needs at least one village",
        )
        .with_field("villages"));
    }
    let hash = auth::hash_password(password).map_err(|e| {
        tracing::error!(error = %e, "hashing failed");
        ApiError::internal()
    })?;
    let now = now_ms();
    store
        .write(|tx| {
            let user = users::add_user(tx, username, &hash, role, &villages, now)?;
            audit::append(
                tx,
                now,
                &AuditEvent {
                    actor,
                    action: "user.create",
                    target: username,
                    detail: json!({"role": role.as_str(),
                        "villages": villages.iter().map(ToString::to_string).collect::<Vec<_>>()}),
                },
            )?;
            Ok(user)
        })
        .map_err(ApiError::from)
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserResponse), (status = 403, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    user.require(Role::Admin)?;
    let slot = state.hashing.try_take().ok_or_else(ApiError::busy)?;
    let store = state.store.clone();
    let actor = user.0.username.clone();
    let created = blocking(move || {
        let _slot = slot;
        add_user_checked(
            &store,
            &req.username,
            &req.password,
            &req.role,
            &req.villages,
            &actor,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(&created))))
}

/// What an account change did (the answer of the user administration routes).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserChangeResponse {
    pub username: String,
    pub disabled: bool,
    /// Sessions (bearer tokens) deleted by the change.
    pub sessions_revoked: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub password: String,
}

/// Which account change to make (shared by the API and the `user` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Disable,
    Enable,
    RevokeSessions,
}

/// Disable, enable or sign out a user everywhere; audited in the same transaction. Disabling
/// deletes the user's sessions, so their tokens stop working at once.
pub fn change_user_checked(
    store: &crate::store::Store,
    username: &str,
    change: UserChange,
    actor: &str,
) -> Result<UserChangeResponse, ApiError> {
    let now = now_ms();
    store
        .write(|tx| {
            let Some((user, disabled)) = users::find_user(tx, username)? else {
                return Err(crate::store::StoreError::NotFound("user"));
            };
            let (action, disabled, revoked) = match change {
                UserChange::Disable => (
                    "user.disable",
                    true,
                    users::set_disabled(tx, user.id, true)?,
                ),
                UserChange::Enable => (
                    "user.enable",
                    false,
                    users::set_disabled(tx, user.id, false)?,
                ),
                UserChange::RevokeSessions => (
                    "user.revoke_sessions",
                    disabled,
                    users::delete_user_sessions(tx, user.id)?,
                ),
            };
            audit::append(
                tx,
                now,
                &AuditEvent {
                    actor,
                    action,
                    target: username,
                    detail: json!({"sessions_revoked": revoked}),
                },
            )?;
            Ok(UserChangeResponse {
                username: user.username,
                disabled,
                sessions_revoked: revoked,
            })
        })
        .map_err(ApiError::from)
}

/// Set a user's password (checked like a new one) and delete their sessions; audited (without
/// the password).
pub fn set_password_checked(
    store: &crate::store::Store,
    username: &str,
    password: &str,
    actor: &str,
) -> Result<UserChangeResponse, ApiError> {
    auth::check_new_password(password).map_err(|m| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m).with_field("password")
    })?;
    if store.read(|c| users::find_user(c, username))?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let hash = auth::hash_password(password).map_err(|e| {
        tracing::error!(error = %e, "hashing failed");
        ApiError::internal()
    })?;
    let now = now_ms();
    store
        .write(|tx| {
            let Some((user, disabled)) = users::find_user(tx, username)? else {
                return Err(crate::store::StoreError::NotFound("user"));
            };
            let revoked = users::set_password_hash(tx, user.id, &hash)?;
            audit::append(
                tx,
                now,
                &AuditEvent {
                    actor,
                    action: "user.password",
                    target: username,
                    detail: json!({"sessions_revoked": revoked}),
                },
            )?;
            Ok(UserChangeResponse {
                username: user.username,
                disabled,
                sessions_revoked: revoked,
            })
        })
        .map_err(ApiError::from)
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
    let store = state.store.clone();
    let actor = user.0.username.clone();
    let done = blocking(move || change_user_checked(&store, &username, change, &actor)).await?;
    Ok(Json(done))
}

#[utoipa::path(post, path = "/api/v1/users/{username}/disable", tag = "users",
    params(("username" = String, Path, description = "the user to disable")),
    responses((status = 200, body = UserChangeResponse), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn disable_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::Disable).await
}

#[utoipa::path(post, path = "/api/v1/users/{username}/enable", tag = "users",
    params(("username" = String, Path, description = "the user to enable again")),
    responses((status = 200, body = UserChangeResponse), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn enable_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::Enable).await
}

#[utoipa::path(delete, path = "/api/v1/users/{username}/sessions", tag = "users",
    params(("username" = String, Path, description = "the user to sign out everywhere")),
    responses((status = 200, body = UserChangeResponse), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_sessions(
    State(state): State<SharedState>,
    user: CurrentUser,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    change_user_route(state, user, username, UserChange::RevokeSessions).await
}

#[utoipa::path(post, path = "/api/v1/users/{username}/password", tag = "users",
    params(("username" = String, Path, description = "the user whose password is replaced")),
    request_body = PasswordRequest,
    responses((status = 200, body = UserChangeResponse), (status = 403, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody), (status = 422, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_password(
    State(state): State<SharedState>,
    user: CurrentUser,
    axum::extract::Path(username): axum::extract::Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<Json<UserChangeResponse>, ApiError> {
    user.require(Role::Admin)?;
    let slot = state.hashing.try_take().ok_or_else(ApiError::busy)?;
    let store = state.store.clone();
    let actor = user.0.username.clone();
    let done = blocking(move || {
        let _slot = slot;
        set_password_checked(&store, &username, &req.password, &actor)
    })
    .await?;
    Ok(Json(done))
}
