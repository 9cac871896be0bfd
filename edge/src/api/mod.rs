//! The field agents' HTTP API (axum): shared state, error mapping, extractors, and the router.
//!
//! Contract (also in `/openapi.json`): everything under `/api/v1`, JSON, bearer tokens; errors are
//! always `{"error":{"code","message","field"}}`; bad input is 400/413/422, never 500.
//! Handlers stay thin: parse and validate into domain types, check the caller's role and village
//! scope, then call the store on tokio's blocking pool.

pub mod alerts;
pub mod auth_routes;
pub mod farmers;
pub mod field;
pub mod idempotency;
pub mod ingest;
pub mod notify;
pub mod ops;
pub mod otp;
pub mod sensors;
pub mod sms;
pub mod trust;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};

use crate::auth::LoginLimiter;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::spatial::FarmIndex;
use crate::store::users::{Role, User};
use crate::store::{Store, StoreError};
pub use farmco_shell::http::{ApiError, ApiJson, ApiQuery, ErrorBody, ErrorDetail, bearer_token};
use farmco_sync::DocError;

/// Everything a handler may touch.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Config,
    pub farm_index: RwLock<FarmIndex>,
    pub limiter: LoginLimiter,
    /// Slots for argon2 hashing (logins, new users, password changes).
    pub hashing: crate::auth::HashingSlots,
    pub metrics: Metrics,
    /// The running sync task, when the node serves with one.
    pub sync: std::sync::OnceLock<crate::sync_client::SyncHandle>,
    /// The running modem (driver, SMS dispatcher and outbox worker), when the node has one.
    pub modem: std::sync::OnceLock<crate::modem::ModemLink>,
    /// Alert rules in force (config + API), shared with the running alert task.
    pub alert_rules: crate::alerts::SharedRules,
    /// The notification executor (routes alerts, hands SMS to the outbox, wakes voice).
    pub notify: std::sync::OnceLock<crate::notify::executor::NotifyHandle>,
    /// The node's secret for one-time codes (`<data_dir>/otp.key`).
    pub otp_key: crate::store::otp::OtpKey,
    /// Idempotency keys whose first request is running (see `idempotency`).
    pub idempotency: idempotency::InFlight,
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
        let otp_key = crate::store::otp::OtpKey(crate::identity::load_or_create_secret(
            &config.data_dir,
            crate::identity::OTP_KEY_FILE_NAME,
        )?);
        Ok(AppState {
            alert_rules,
            store,
            config,
            farm_index: RwLock::new(index),
            limiter,
            hashing: crate::auth::HashingSlots::default(),
            metrics: Metrics::new(),
            sync: std::sync::OnceLock::new(),
            modem: std::sync::OnceLock::new(),
            notify: std::sync::OnceLock::new(),
            otp_key,
            idempotency: idempotency::InFlight::default(),
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

/// Requests handled at once at most; more are refused with 503 at once. A village has a few
/// dozen agents' phones; 64 leaves room for the ops routes while bounding a flood's memory on
/// a Raspberry-Pi-class box.
pub const HTTP_REQUESTS_IN_FLIGHT_MAX: usize = 64;
/// Longest a request may run before it is answered 503 `timeout` (the largest legitimate work,
/// a full readings batch or a broadcast on a slow SD card, takes a few seconds). Work already
/// handed to the blocking pool finishes and may still commit.
pub const HTTP_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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
            "/farmers",
            get(farmers::search_farmers).post(farmers::create_farmer),
        )
        .route(
            "/farmers/{id}",
            get(farmers::get_farmer).patch(farmers::patch_farmer),
        )
        .route("/farmers/{id}/history", get(farmers::farmer_history))
        .route("/farmers/{id}/otp", post(otp::issue_for_farmer))
        .route("/otp", post(otp::issue_for_phone))
        .route("/otp/{otp_id}/verify", post(otp::verify))
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
        // notifications and voice (issue #6)
        .route("/notifications", get(notify::list_notifications))
        .route("/broadcasts", post(notify::create_broadcast))
        .route(
            "/farmers/{id}/notification-preferences",
            get(notify::get_preferences).put(notify::put_preferences),
        )
        .route("/voice/calls", get(notify::list_calls))
        .route("/voice/callbacks", get(notify::list_callbacks))
        // SMS service
        .route("/sms/inbox", get(sms::list_inbox))
        .route("/sms/outbox", get(sms::list_outbox))
        .route("/sms/registrations", get(sms::list_registrations))
        .route(
            "/sms/registrations/{id}/confirm",
            post(sms::confirm_registration),
        )
        .route(
            "/sms/registrations/{id}/reject",
            post(sms::reject_registration),
        )
        // the field-agent app's offline copy of a village
        .route("/field/snapshot", get(field::snapshot))
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
        .route("/trust", get(trust::page))
        .route(trust::CA_DOWNLOAD_PATH, get(trust::ca_certificate))
        .fallback(web_or_not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track_requests,
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

/// The embedded field-agent app (`crate::web`), or the API's 404 for any other path.
async fn web_or_not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::web::serve(&method, &uri, &headers)
        .unwrap_or_else(|| api_not_found_error().into_response())
}

fn api_not_found_error() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
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

impl CurrentUser {
    /// The villages this caller is limited to: `Some` for agents, `None` (every village) for
    /// supervisors and admins.
    pub fn village_scope(&self) -> Option<Vec<String>> {
        (self.0.role == Role::Agent)
            .then(|| self.0.villages.iter().map(ToString::to_string).collect())
    }

    /// 404 `what` unless the caller may see an object of `village` (an object in no village is
    /// visible to supervisors and admins only). Existence is not revealed to agents.
    pub fn require_village(&self, village: Option<&str>, what: &str) -> Result<(), ApiError> {
        let Some(scope) = self.village_scope() else {
            return Ok(());
        };
        if village.is_some_and(|v| scope.iter().any(|s| s == v)) {
            Ok(())
        } else {
            Err(ApiError::not_found(what))
        }
    }
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
