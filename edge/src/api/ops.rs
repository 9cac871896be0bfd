//! Operational routes at the root: health, readiness, Prometheus metrics, the OpenAPI document;
//! and the middleware that counts every request.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::OpenApi;

use super::SharedState;
use crate::metrics::HttpLabels;

/// Liveness: the process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<SharedState>) -> Response {
    let store = state.store.clone();
    let ok = tokio::task::spawn_blocking(move || {
        store
            .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .is_ok()
    })
    .await
    .unwrap_or(false);
    if ok {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": "database unavailable"})),
        )
            .into_response()
    }
}

pub async fn metrics(State(state): State<SharedState>) -> Response {
    let store = state.store.clone();
    let counts = tokio::task::spawn_blocking(move || {
        Some((
            store.farmer_count().ok()?,
            store.change_log_len().ok()?,
            store
                .read(crate::store::notify::attempt_counts)
                .unwrap_or_default(),
        ))
    })
    .await
    .ok()
    .flatten();
    if let Some((farmers, changes, attempts)) = counts {
        state.metrics.farmers.set(farmers);
        state.metrics.change_log_entries.set(changes);
        for (channel, ratio) in crate::store::notify::delivery_rates(&attempts) {
            state
                .metrics
                .notification_delivery_ratio
                .get_or_create(&crate::metrics::ChannelLabels { channel })
                .set(ratio);
        }
        for (channel, state_name, n) in attempts {
            state
                .metrics
                .notification_attempts
                .get_or_create(&crate::metrics::ChannelStateLabels {
                    channel,
                    state: state_name,
                })
                .set(n);
        }
    }
    if let Some(modem) = state.modem.get() {
        let store = state.store.clone();
        let outbox =
            tokio::task::spawn_blocking(move || store.read(crate::store::sms::outbox_counts).ok())
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
        modem.refresh_metrics(&state.metrics, &outbox);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Start a sync round now (supervisors and admins).
#[utoipa::path(post, path = "/api/v1/sync/trigger", tag = "sync",
    responses((status = 202), (status = 403, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn trigger_sync(
    State(state): State<SharedState>,
    user: super::CurrentUser,
) -> Result<StatusCode, super::ApiError> {
    user.require(crate::store::users::Role::Supervisor)?;
    match state.sync.get() {
        Some(handle) => {
            // A full mailbox means a round is already queued: that is as good as accepted.
            let _ = handle.trigger();
            Ok(StatusCode::ACCEPTED)
        }
        None => Err(super::ApiError::new(
            StatusCode::CONFLICT,
            "sync_unavailable",
            "this node runs without a sync task",
        )),
    }
}

pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// Count and time every request by its route template.
pub async fn track_requests(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = farmco_shell::metrics::method_label(req.method()).to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    let labels = HttpLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.http_requests.get_or_create(&labels).inc();
    state
        .metrics
        .http_request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "FarmCo-Pilot Edge API",
        description = "The village edge node's field-agent API. Errors are always \
            {\"error\":{\"code\",\"message\",\"field\"}}."
    ),
    paths(
        super::auth_routes::login,
        super::auth_routes::logout,
        super::auth_routes::list_users,
        super::auth_routes::create_user,
        super::auth_routes::disable_user,
        super::auth_routes::enable_user,
        super::auth_routes::set_password,
        super::auth_routes::revoke_sessions,
        super::farmers::create_farmer,
        super::farmers::search_farmers,
        super::farmers::get_farmer,
        super::farmers::patch_farmer,
        super::farmers::farmer_history,
        super::farmers::create_farm,
        super::farmers::get_farm,
        super::farmers::patch_farm,
        super::farmers::nearby_farms,
        super::farmers::create_soil_test,
        super::farmers::list_soil_tests,
        super::sensors::post_readings,
        super::sensors::get_readings,
        super::sensors::create_sensor,
        super::sensors::list_sensors,
        super::sensors::get_sensor,
        super::ingest::dead_letters,
        super::alerts::list_alerts,
        super::alerts::ack_alert,
        super::alerts::list_rules,
        super::alerts::create_rule,
        trigger_sync,
        super::notify::list_notifications,
        super::notify::create_broadcast,
        super::notify::get_preferences,
        super::notify::put_preferences,
        super::notify::list_calls,
        super::notify::list_callbacks,
        super::sms::list_inbox,
        super::sms::list_outbox,
        super::sms::list_registrations,
        super::sms::confirm_registration,
        super::otp::issue_for_farmer,
        super::otp::issue_for_phone,
        super::otp::verify,
        super::sms::reject_registration,
        super::field::snapshot,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
