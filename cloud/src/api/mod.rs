//! The cloud's HTTP API (axum): shared state, the one error shape, extractors, and the router.
//!
//! Contract: everything under `/api/v1`, JSON; errors are always
//! `{"error":{"code","message","field"}}`; bad input is 400/413/422, never 500. Ops routes need
//! a bearer token from `POST /api/v1/auth/login` (roles ops and admin); `POST /api/v1/enroll` is
//! authenticated by its one-time token instead. `/healthz`, `/readyz` and `/metrics` sit at the
//! root. The store is async (tokio-postgres), so handlers await it directly; only argon2
//! hashing goes to the blocking pool.

pub mod advisories;
pub mod auth_routes;
pub mod farms;
pub mod fleet;
pub mod ops;
pub mod sensors;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::LoginLimiter;
use crate::config::Config;
use crate::keys::CloudKey;
use crate::metrics::Metrics;
use crate::store::users::{Role, User};
use crate::store::{Store, StoreError};

/// Everything a handler may touch.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Config,
    pub key: Arc<CloudKey>,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    /// `POST /api/v1/sync`.
    pub sync: crate::sync_service::SyncService,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(store: Arc<Store>, config: Config, key: Arc<CloudKey>) -> AppState {
        let limiter = LoginLimiter::new(
            config.auth.login_window,
            config.auth.login_max_failures_per_user,
            config.auth.login_max_failures_per_address,
        );
        let sync = crate::sync_service::SyncService::new(
            store.clone(),
            farmco_sync::protocol::keys::NodeSecretKey::from_seed(key.signing_key().to_bytes()),
            config.sync_batch_budget_bytes,
        );
        AppState {
            store,
            config,
            key,
            limiter,
            metrics: Metrics::new(),
            sync,
        }
    }
}

/// The routes under `/api/v1`, without state (the sync endpoint is added here).
pub fn api_routes() -> Router<SharedState> {
    Router::new()
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/logout", post(auth_routes::logout))
        .route("/enroll", post(fleet::enroll))
        .route(
            "/sync",
            post(sync_endpoint).layer(DefaultBodyLimit::max(
                crate::sync_service::SYNC_BODY_BYTES_MAX,
            )),
        )
        .route("/nodes", get(fleet::list_nodes))
        .route("/farmers", get(farms::search_farmers))
        .route("/farmers/{id}", get(farms::get_farmer))
        .route("/farms/nearby", get(farms::nearby_farms))
        .route("/farms/{id}", get(farms::get_farm))
        .route("/sensors/{id}/trends", get(sensors::trends))
        .route(
            "/advisories",
            get(advisories::list_advisories).post(advisories::create_advisory),
        )
        .fallback(api_not_found)
}

/// `POST /api/v1/sync`: a signed envelope in, a signed envelope out (docs/sync-protocol.md).
pub async fn sync_endpoint(
    axum::extract::State(state): axum::extract::State<SharedState>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.sync.handle(&body).await {
        Ok(bytes) => (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Err(refusal) => {
            let status = axum::http::StatusCode::from_u16(refusal.status())
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            let message = match &refusal {
                crate::sync_service::SyncRefusal::Internal(e) => {
                    tracing::error!(error = %e, "sync failed");
                    "internal error; see the cloud's log".to_owned()
                }
                other => other.to_string(),
            };
            ApiError::new(status, refusal.code(), message).into_response()
        }
    }
}

/// The whole application router.
pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .nest("/api/v1", api_routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(api_not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track_requests,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The one error shape of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `validation_failed`, `not_found`, `invalid_token`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// JSON path of the offending input field, when there is one.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_s: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server's log",
        )
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is busy or unreachable; retry shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<farmco_sync::ValidationError> for ApiError {
    fn from(e: farmco_sync::ValidationError) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.code,
            message: e.message,
            field: Some(e.field),
            retry_after_s: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Validation(v) => v.into(),
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict { field, message } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message).with_field(field)
            }
            StoreError::Enrollment(reason) => match reason {
                crate::store::nodes::EnrollmentRefused::NodeRevoked => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "node_revoked",
                    "this node has been revoked",
                ),
                // Unknown, used and expired tokens look alike from outside.
                _ => ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the enrollment token is unknown, used or expired",
                )
                .with_field("token"),
            },
            StoreError::Pool(e) => {
                tracing::warn!(error = %e, "no database connection");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

/// Run CPU-heavy work (argon2) on tokio's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    })
}

/// A JSON body whose rejections use the API's error shape: syntax errors are 400, type and
/// missing-field errors 422 with the JSON path, oversized bodies 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("application/json") || ct.contains("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_content_type",
                "expected Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "request body is larger than the server accepts",
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(value) => value,
            Err(err) => {
                let path = err.path().to_string();
                let inner = err.into_inner();
                return Err(match inner.classify() {
                    serde_json::error::Category::Data => ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_field",
                        inner.to_string(),
                    )
                    .with_field(if path == "." { String::new() } else { path }),
                    _ => {
                        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", inner.to_string())
                    }
                });
            }
        };
        de.end()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// Query string extractor whose rejection is a 400 in the API's error shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// Refuse unless the caller has at least `role` (ops < admin).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this action needs the {} role",
                role.as_str()
            )))
        }
    }
}

/// Extract the bearer token string from the request head.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

impl FromRequestParts<SharedState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let hash = crate::auth::token_hash(token);
        let user = state.store.session_user(&hash, crate::store::now()).await?;
        user.map(CurrentUser).ok_or_else(ApiError::unauthorized)
    }
}

/// The client's address, when the server was started with connect info (tests via `oneshot` have
/// none).
pub fn client_addr(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
}

/// RFC 3339 text of a timestamp.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parse an RFC 3339 timestamp for `field`.
pub fn parse_rfc3339(field: &str, s: &str) -> Result<time::OffsetDateTime, ApiError> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).map_err(
        |_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_timestamp",
                format!("{field} must be an RFC 3339 timestamp, e.g. 2026-03-01T00:00:00Z"),
            )
            .with_field(field)
        },
    )
}
