//! The field agents' HTTP API (axum): shared state, error mapping, extractors, and the router.
//!
//! Contract (also in `/openapi.json`): everything under `/api/v1`, JSON, bearer tokens; errors are
//! always `{"error":{"code","message","field"}}`; bad input is 400/413/422, never 500.
//! Handlers stay thin: parse and validate into domain types, check the caller's role and village
//! scope, then call the store on tokio's blocking pool.

pub mod alerts;
pub mod auth_routes;
pub mod farmers;
pub mod ingest;
pub mod ops;
pub mod sensors;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

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
use crate::metrics::Metrics;
use crate::spatial::FarmIndex;
use crate::store::users::{Role, User};
use crate::store::{Store, StoreError};
use farmco_sync::DocError;

/// Everything a handler may touch.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Config,
    pub farm_index: RwLock<FarmIndex>,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    /// The running sync task, when the node serves with one.
    pub sync: std::sync::OnceLock<crate::sync_client::SyncHandle>,
    /// Alert rules in force (config + API), shared with the running alert task.
    pub alert_rules: crate::alerts::SharedRules,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Build the state, loading the spatial index from the farms projection.
    pub fn new(store: Arc<Store>, config: Config) -> Result<AppState, StoreError> {
        let farms = store.all_farms()?;
        let index = FarmIndex::bulk_load(
            farms
                .into_iter()
                .map(|f| {
                    (
                        f.farm.id.0,
                        f.farm.farmer_id.0,
                        f.farm.boundary.multi_polygon().clone(),
                    )
                })
                .collect(),
        );
        let limiter = LoginLimiter::new(
            config.auth.login_window,
            config.auth.login_max_failures_per_user,
            config.auth.login_max_failures_per_address,
        );
        let alert_rules =
            std::sync::Arc::new(RwLock::new(alerts::rules_in_force(&store, &config)?));
        Ok(AppState {
            alert_rules,
            store,
            config,
            farm_index: RwLock::new(index),
            limiter,
            metrics: Metrics::new(),
            sync: std::sync::OnceLock::new(),
        })
    }

    /// Replace the index entries of one farmer's farms after a write.
    pub fn reindex(&self, outcome: &crate::store::farmers::WriteOutcome) {
        self.reindex_farms(&outcome.farms);
    }

    /// Replace the index entries of these farms (after a local write or a sync).
    pub fn reindex_farms(&self, farms: &[farmco_sync::Farm]) {
        let mut index = self.farm_index.write().unwrap_or_else(|p| p.into_inner());
        for farm in farms {
            index.upsert(
                farm.id.0,
                farm.farmer_id.0,
                farm.boundary.multi_polygon().clone(),
            );
        }
        // Boundaries changed: re-link auto-linked sensors (point in polygon).
        if let Err(e) =
            crate::ingest::linking::relink_all(&self.store, &index, crate::store::now_ms())
        {
            tracing::error!(error = %e, "re-linking sensors to farms failed");
        }
    }
}

/// The whole application router.
pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let api = Router::new()
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/logout", post(auth_routes::logout))
        .route(
            "/users",
            get(auth_routes::list_users).post(auth_routes::create_user),
        )
        .route(
            "/farmers",
            get(farmers::search_farmers).post(farmers::create_farmer),
        )
        .route(
            "/farmers/{id}",
            get(farmers::get_farmer).patch(farmers::patch_farmer),
        )
        .route("/farmers/{id}/history", get(farmers::farmer_history))
        .route("/farmers/{id}/farms", post(farmers::create_farm))
        .route("/sync/trigger", post(ops::trigger_sync))
        .route("/farms/nearby", get(farmers::nearby_farms))
        .route(
            "/farms/{id}",
            get(farmers::get_farm).patch(farmers::patch_farm),
        )
        .route(
            "/farms/{id}/soil-tests",
            get(farmers::list_soil_tests).post(farmers::create_soil_test),
        )
        .route(
            "/sensors/{id}/readings",
            get(sensors::get_readings).post(sensors::post_readings),
        )
        // sensor ingest, registry and alerts
        .route(
            "/sensors",
            get(sensors::list_sensors).post(sensors::create_sensor),
        )
        .route("/sensors/{id}", get(sensors::get_sensor))
        .route("/ingest/dead-letters", get(ingest::dead_letters))
        .route("/alerts", get(alerts::list_alerts))
        .route("/alerts/{id}/ack", post(alerts::ack_alert))
        .route(
            "/alert-rules",
            get(alerts::list_rules).post(alerts::create_rule),
        )
        .fallback(api_not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `validation_failed`, `unclosed_ring`, `not_found`.
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
            "internal error; see the node's log",
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
            StoreError::Doc(DocError::NotFound(what)) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
            }
            StoreError::Doc(DocError::Invalid(v)) => v.into(),
            StoreError::Doc(DocError::AlreadyExists(what)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", what)
            }
            StoreError::Doc(DocError::TooLarge(what)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "limit_exceeded", what)
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

/// Run blocking store work on tokio's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(error = %e, "blocking task failed");
            Err(ApiError::internal())
        }
    }
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
                        "request body is larger than the node accepts",
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

/// The authenticated caller, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// Refuse unless the caller has at least `role` (agent < supervisor < admin).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        let rank = |r: Role| match r {
            Role::Agent => 0,
            Role::Supervisor => 1,
            Role::Admin => 2,
        };
        if rank(self.0.role) >= rank(role) {
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
        let store = state.store.clone();
        let now = crate::store::now_ms();
        let user = blocking(move || {
            store
                .read(|c| crate::store::users::session_user(c, &hash, now))
                .map_err(ApiError::from)
        })
        .await?;
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
