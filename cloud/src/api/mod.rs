//! The cloud's HTTP API (axum): shared state, the one error shape, extractors, and the router.
//!
//! Contract: everything under `/api/v1`, JSON; errors are always
//! `{"error":{"code","message","field"}}`; bad input is 400/413/422, never 500. Ops routes need
//! a bearer token from `POST /api/v1/auth/login`, or the ops console's session cookie from
//! `POST /api/v1/console/login` (with its CSRF token on unsafe requests, see [`session`]);
//! roles ops and admin. `POST /api/v1/enroll` is authenticated by its one-time token instead.
//! `/healthz`, `/readyz` and `/metrics` sit at the root, the console's vector tiles at
//! `/tiles/{z}/{x}/{y}.mvt`, and the console itself at `/` ([`web`]). The store is async
//! (tokio-postgres), so handlers await it directly; only argon2 hashing goes to the blocking
//! pool.

pub mod advisories;
pub mod auth_routes;
pub mod console;
pub mod farms;
pub mod fleet;
pub mod lists;
pub mod ops;
pub mod preview;
pub mod sensors;
pub mod session;
pub mod tiles;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};

use crate::auth::LoginLimiter;
use crate::config::Config;
use crate::keys::CloudKey;
use crate::metrics::Metrics;
use crate::store::users::{Role, User};
use crate::store::{Store, StoreError};
pub use farmco_shell::http::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorDetail, bearer_token};

/// Everything a handler may touch.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Config,
    pub key: Arc<CloudKey>,
    pub limiter: LoginLimiter,
    /// Slots for argon2 hashing (logins, password changes).
    pub hashing: crate::auth::HashingSlots,
    pub metrics: Metrics,
    /// `POST /api/v1/sync`.
    pub sync: crate::sync_service::SyncService,
    /// Attempts at `POST /api/v1/enroll`, per address and overall.
    pub enroll_limiter: fleet::EnrollLimiter,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(store: Arc<Store>, config: Config, key: Arc<CloudKey>) -> AppState {
        let limiter = LoginLimiter::new(
            config.auth.login_window,
            config.auth.login_max_failures_per_user,
            config.auth.login_max_failures_per_address,
        );
        let mut sync = crate::sync_service::SyncService::new(
            store.clone(),
            farmco_sync::protocol::keys::NodeSecretKey::from_seed(key.signing_key().to_bytes()),
            config.sync_batch_budget_bytes,
        );
        sync.set_heartbeat_history_interval(config.fleet.heartbeat_history_interval);
        AppState {
            store,
            config,
            key,
            limiter,
            hashing: crate::auth::HashingSlots::default(),
            metrics: Metrics::new(),
            sync,
            enroll_limiter: fleet::EnrollLimiter::default(),
        }
    }
}

/// The routes under `/api/v1`, without state (the sync endpoint is added here).
pub fn api_routes() -> Router<SharedState> {
    Router::new()
        .route("/auth/login", post(auth_routes::login))
        .route("/auth/logout", post(auth_routes::logout))
        .route("/enroll", post(fleet::enroll))
        .route("/users/{username}/disable", post(auth_routes::disable_user))
        .route("/users/{username}/enable", post(auth_routes::enable_user))
        .route(
            "/users/{username}/password",
            post(auth_routes::set_password),
        )
        .route(
            "/users/{username}/sessions",
            axum::routing::delete(auth_routes::revoke_sessions),
        )
        .route(
            "/sync",
            post(sync_endpoint).layer(DefaultBodyLimit::max(
                crate::sync_service::SYNC_BODY_BYTES_MAX,
            )),
        )
        .route("/nodes", get(console::list_nodes))
        .route("/nodes/{id}/heartbeats", get(console::node_heartbeats))
        .route("/nodes/{id}/revoke", post(console::revoke_node))
        .route("/farmers", get(console::list_farmers))
        .route("/farmers/search", post(console::search_farmers))
        .route("/farmers/{id}", get(farms::get_farmer))
        .route("/farmers/{id}/history", get(console::farmer_history))
        .route("/farms/nearby", get(farms::nearby_farms))
        .route("/farms/{id}", get(farms::get_farm))
        .route("/farms/{id}/overview", get(console::farm_overview))
        .route("/sensors", get(console::list_sensors))
        .route("/sensors/{id}/trends", get(sensors::trends))
        .route("/trends", get(console::trends))
        .route(
            "/advisories",
            get(preview::list_advisories).post(advisories::create_advisory),
        )
        .route("/advisories/preview", post(preview::preview_advisory))
        .route("/advisories/{id}", get(preview::get_advisory))
        .route("/alerts", get(console::list_alerts))
        .route("/delivery", get(console::delivery))
        .route("/villages", get(console::list_villages))
        .route("/villages/{code}", axum::routing::put(console::put_village))
        .route("/map/config", get(console::map_config))
        .route(
            "/devices/tokens",
            get(console::list_tokens).post(console::create_token),
        )
        .route(
            "/users",
            get(console::list_users).post(console::create_user),
        )
        .route(
            "/users/{username}",
            axum::routing::patch(console::update_user),
        )
        .route(
            "/users/{username}/end-sessions",
            post(console::end_user_sessions),
        )
        .route("/console/login", post(session::console_login))
        .route("/console/session", get(session::console_session))
        .route("/console/logout", post(session::console_logout))
        .route(
            "/console/logout-everywhere",
            post(session::console_logout_everywhere),
        )
        .fallback(api_not_found)
}

/// `POST /api/v1/sync`: a signed envelope in, a signed envelope out (docs/sync-protocol.md).
pub async fn sync_endpoint(
    axum::extract::State(state): axum::extract::State<SharedState>,
    extensions: axum::http::Extensions,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let addr = client_addr(&state, &extensions, &headers);
    match state.sync.handle(&body, addr).await {
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
            let mut error = ApiError::new(status, refusal.code(), message);
            if matches!(refusal, crate::sync_service::SyncRefusal::RateLimited) {
                error.retry_after_s = Some(crate::sync_service::SYNC_REFUSAL_WINDOW.as_secs());
            }
            error.into_response()
        }
    }
}

/// Requests handled at once at most; more are refused with 503 at once (a fleet of edge nodes
/// syncing and a few ops consoles stay far below; the deadpool pool bounds database work
/// anyway).
pub const HTTP_REQUESTS_IN_FLIGHT_MAX: usize = 256;
/// Longest a request may run before it is answered 503 `timeout`: a sync request at its 8 MiB
/// limit is applied in a few seconds; the edge's own client gives up after 60 s. An unfinished
/// transaction is rolled back when its future is dropped.
pub const HTTP_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// The whole application router.
pub fn router(state: SharedState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .nest("/api/v1", api_routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/tiles/{z}/{x}/{y}", get(tiles::tile))
        .fallback(web::asset)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::security_headers,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            farmco_shell::http::RequestLimits::new(
                HTTP_REQUESTS_IN_FLIGHT_MAX,
                HTTP_REQUEST_TIMEOUT,
            ),
            farmco_shell::http::limit_requests,
        ))
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
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
                crate::store::nodes::EnrollmentRefused::NodeActive => ApiError::new(
                    StatusCode::CONFLICT,
                    "node_active",
                    "this node is already enrolled; changing its villages needs a \
                     re-enrollment token (`farmco-cloud device token --reenroll NODE_ID`)",
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

impl FromRequestParts<SharedState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(&parts.headers) else {
            // The ops console: a session cookie, CSRF-checked on unsafe methods.
            return session::cookie_user(parts, state)
                .await?
                .map(CurrentUser)
                .ok_or_else(ApiError::unauthorized);
        };
        let hash = crate::auth::token_hash(token);
        let user = state.store.session_user(&hash, crate::store::now()).await?;
        user.map(CurrentUser).ok_or_else(ApiError::unauthorized)
    }
}

/// The client's address: the TCP peer (when the server was started with connect info; tests
/// via `oneshot` have none), or what a trusted proxy forwarded (`http.trusted_proxies`).
pub fn client_addr(
    state: &AppState,
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    state.config.trusted_proxies.client_addr(peer, headers)
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
