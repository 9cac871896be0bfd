//! `Idempotency-Key` on every POST, PUT and PATCH of the API (issue 12).
//!
//! The field-agent app sends each queued write with a key it generated, and sends it again until
//! the box confirms. This middleware makes a resend safe:
//! - the first request with a key runs normally; its answer (status, content type, body) is
//!   stored under (user, key) when it is final: 2xx, or a 4xx other than 401, 408 and 429
//!   (those may change on retry). A 5xx is not stored: nothing was committed ("a 2xx means
//!   committed", and handlers answer only after their commit);
//! - a later request with the same key and the same method, path and body gets the stored
//!   answer (`idempotent-replayed: true`) and runs nothing, so nothing is created twice, also
//!   when the first answer was lost on the way to the phone;
//! - the same key with another body is answered 422 `idempotency_key_reused`;
//! - while the first request with a key is still running, a second one gets 409
//!   `idempotency_in_progress` (the app retries it later).
//!
//! Keys are scoped to the user (two agents may pick the same key) and kept 7 days
//! (`store::idempotency::IDEMPOTENCY_KEEP_MS`, swept by [`spawn_sweeper`]). Requests without a
//! key, or without a valid bearer token (the handler answers 401), pass through untouched, and so
//! does `/auth/login`: its answer is a bearer token, which the box never stores in clear.
//!
//! Crash window: the answer is stored right after the handler's commit, in a second
//! transaction. A node killed between the two has no stored answer; the resend runs again.
//! The app's creates carry ids chosen on the phone, so that rerun answers 409 `already_exists`
//! (which the app counts as confirmed), and patches write only changed fields (a no-op rerun).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, SharedState, bearer_token, blocking};
use crate::store::idempotency::{self, IDEMPOTENCY_KEEP_MS, StoredAnswer};
use crate::store::now_ms;

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The header on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted key (a UUID is 36; room for other clients' schemes).
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
/// Largest answer stored for replay; larger answers are returned but not stored (no write
/// route answers anywhere near this).
pub const STORED_ANSWER_BYTES_MAX: usize = 1024 * 1024;
/// How often old keys are swept.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3_600);
/// Most keys running at once; a request over it is told to retry (bounded memory).
pub const IN_FLIGHT_KEYS_MAX: usize = 4_096;

/// Keys whose first request is running now, per (user id, key).
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<(i64, String)>>);

struct InFlightGuard<'a> {
    set: &'a InFlight,
    entry: (i64, String),
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut set = self.set.0.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.entry);
    }
}

impl InFlight {
    fn claim(&self, user_id: i64, key: &str) -> Option<InFlightGuard<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= IN_FLIGHT_KEYS_MAX {
            return None;
        }
        let entry = (user_id, key.to_owned());
        if !set.insert(entry.clone()) {
            return None;
        }
        Some(InFlightGuard { set: self, entry })
    }
}

fn request_hash(method: &Method, path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(path_and_query.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().to_vec()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_CHARS_MAX
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Is this answer final, so that a replay must get it again?
fn storable(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error()
            && !matches!(
                status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::REQUEST_TIMEOUT
                    | StatusCode::TOO_MANY_REQUESTS
            ))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = answer
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The middleware (installed on the whole router; acts on `/api/v1/` writes only).
pub async fn idempotency(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path();
    if !matches!(method, Method::POST | Method::PUT | Method::PATCH)
        || !path.starts_with("/api/v1/")
        || path == "/api/v1/auth/login"
    {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if valid_key(k) => k.to_owned(),
        _ => {
            return ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS_MAX} visible ASCII characters"
            ))
            .with_field("Idempotency-Key")
            .into_response();
        }
    };
    // The key is scoped to the user; without a valid token the handler answers 401 itself.
    let Some(token) = bearer_token(req.headers()) else {
        return next.run(req).await;
    };
    let hash = crate::auth::token_hash(token);
    let store = state.store.clone();
    let user = match blocking(move || {
        store
            .read(|c| crate::store::users::session_user(c, &hash, now_ms()))
            .map_err(ApiError::from)
    })
    .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, state.config.body_limit_bytes).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "request body is larger than {} bytes",
                state.config.body_limit_bytes
            ),
        )
        .into_response();
    };
    let request_hash = request_hash(&method, &path_and_query, &bytes);

    let Some(_guard) = state.idempotency.claim(user.id, &key) else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still running; retry shortly",
        )
        .with_field("Idempotency-Key")
        .into_response();
    };
    let store = state.store.clone();
    let lookup_key = key.clone();
    let user_id = user.id;
    let stored = match blocking(move || {
        store
            .read(|c| idempotency::find(c, user_id, &lookup_key))
            .map_err(ApiError::from)
    })
    .await
    {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if let Some(answer) = stored {
        if answer.request_hash != request_hash {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
            .with_field("Idempotency-Key")
            .into_response();
        }
        tracing::debug!(status = answer.status, "idempotent replay");
        return replay(answer);
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if !storable(status) {
        return response;
    }
    let too_large = response
        .body()
        .size_hint()
        .upper()
        .is_none_or(|n| n > STORED_ANSWER_BYTES_MAX as u64);
    if too_large {
        tracing::warn!(
            status = status.as_u16(),
            "answer too large to store for Idempotency-Key replay"
        );
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, STORED_ANSWER_BYTES_MAX).await else {
        return ApiError::internal().into_response();
    };
    let answer = StoredAnswer {
        request_hash,
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
        created_ms: now_ms(),
    };
    let store = state.store.clone();
    let stored = blocking(move || {
        store
            .write(|tx| idempotency::store(tx, user_id, &key, &answer))
            .map_err(ApiError::from)
    })
    .await;
    if let Err(e) = stored {
        // The write itself is committed; the phone's resend would run again (see the module
        // doc). Say so in the log, answer what the handler answered.
        tracing::error!(
            code = e.code,
            "could not store the answer of an idempotent request"
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Delete stored answers older than 7 days now and then every [`SWEEP_INTERVAL`], until
/// `stop` turns true.
pub fn spawn_sweeper(
    store: std::sync::Arc<crate::store::Store>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let st = store.clone();
            let swept = tokio::task::spawn_blocking(move || {
                st.write(|tx| idempotency::sweep(tx, now_ms(), IDEMPOTENCY_KEEP_MS))
            })
            .await;
            match swept {
                Ok(Ok(n)) if n > 0 => tracing::info!(deleted = n, "idempotency keys swept"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "sweeping idempotency keys failed"),
                Err(e) => tracing::warn!(error = %e, "idempotency sweep task failed"),
            }
        }
    })
}
