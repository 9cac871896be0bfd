//! Alerts over HTTP: `GET /api/v1/alerts`, `POST /api/v1/alerts/{id}/ack`, and
//! `GET|POST /api/v1/alert-rules` (rules: supervisor; adding one is audited).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::farmers::ApiQuery;
use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::config::Config;
use crate::store::audit::{self, AuditEvent};
use crate::store::users::Role;
use crate::store::{Store, StoreResult, now_ms};
use farmco_village::alerts::rules::{RULES_MAX, Rule, RuleSpec};

/// Most alerts per list.
pub const ALERTS_PER_PAGE_MAX: usize = 1_000;

/// Config rules plus the rules added through the API (an API rule with a config rule's id
/// replaces it; a stored rule that no longer validates is logged and skipped).
pub fn rules_in_force(store: &Store, config: &Config) -> StoreResult<Vec<Rule>> {
    let mut rules = config.alert_rules.clone();
    for json in store.read(crate::store::alerts::api_rules)? {
        match serde_json::from_str::<RuleSpec>(&json)
            .map_err(|e| e.to_string())
            .and_then(|s| s.validate(&config.ingest.metrics))
        {
            Ok(rule) => {
                rules.retain(|r| r.id != rule.id);
                rules.push(rule);
            }
            Err(e) => tracing::error!(error = %e, "stored alert rule is invalid; skipped"),
        }
    }
    Ok(rules)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDto {
    pub id: i64,
    pub rule_id: String,
    pub kind: String,
    pub severity: String,
    pub sensor_id: String,
    pub metric: Option<String>,
    pub farm_id: Option<String>,
    /// The farmer to notify: the owner of the sensor's farm.
    pub farmer_id: Option<String>,
    pub value: Option<f64>,
    pub message: String,
    pub raised: String,
    pub resolved: Option<String>,
    pub acked: Option<String>,
    pub acked_by: Option<String>,
}

impl From<crate::store::alerts::AlertRow> for AlertDto {
    fn from(r: crate::store::alerts::AlertRow) -> AlertDto {
        use super::auth_routes::rfc3339_ms;
        AlertDto {
            id: r.id,
            rule_id: r.rule_id,
            kind: r.kind,
            severity: r.severity,
            sensor_id: r.sensor_id,
            metric: r.metric,
            farm_id: r.farm_id,
            farmer_id: r.farmer_id,
            value: r.value,
            message: r.message,
            raised: rfc3339_ms(r.raised_ms),
            resolved: r.resolved_ms.map(rfc3339_ms),
            acked: r.acked_ms.map(rfc3339_ms),
            acked_by: r.acked_by,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// Only open (unresolved) alerts; default false.
    pub open: Option<bool>,
    /// At most this many, newest first (default 100, max 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsResponse {
    pub alerts: Vec<AlertDto>,
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertsQuery),
    responses((status = 200, body = AlertsResponse)), security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > ALERTS_PER_PAGE_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {ALERTS_PER_PAGE_MAX}"
        ))
        .with_field("limit"));
    }
    let store = state.store.clone();
    let open = q.open.unwrap_or(false);
    let scope = user.village_scope();
    let rows = blocking(move || {
        store
            .read(|c| crate::store::alerts::list_in(c, open, limit, scope.as_deref()))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(AlertsResponse {
        alerts: rows.into_iter().map(AlertDto::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts",
    params(("id" = i64, Path, description = "alert id")),
    responses((status = 200, body = AlertDto), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ack_alert(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<AlertDto>, ApiError> {
    // Acking takes the alert out of the farmer's IVR "open alerts": only in the caller's
    // villages (404 otherwise, like an unknown alert).
    let store = state.store.clone();
    let village = blocking(move || {
        store
            .read(|c| {
                crate::store::alerts::alert(c, id)?
                    .map(|_| crate::store::alerts::alert_village(c, id))
                    .transpose()
            })
            .map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::not_found("alert"))?;
    user.require_village(village.as_deref(), "alert")?;
    let store = state.store.clone();
    let by = user.0.username.clone();
    let row = blocking(move || {
        store
            .write(|tx| {
                let row = crate::store::alerts::ack(tx, id, &by, now_ms())?;
                audit::append(
                    tx,
                    now_ms(),
                    &AuditEvent {
                        actor: &by,
                        action: "alert.ack",
                        target: &id.to_string(),
                        detail: serde_json::json!({"rule": row.rule_id, "sensor": row.sensor_id}),
                    },
                )?;
                Ok(row)
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(row.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesResponse {
    pub rules: Vec<RuleSpec>,
}

#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alerts",
    responses((status = 200, body = RulesResponse), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_rules(
    State(state): State<SharedState>,
    user: CurrentUser,
) -> Result<Json<RulesResponse>, ApiError> {
    user.require(Role::Supervisor)?;
    let rules = state
        .alert_rules
        .read()
        .map(|r| r.iter().map(|r| r.spec.clone()).collect())
        .unwrap_or_default();
    Ok(Json(RulesResponse { rules }))
}

#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "alerts", request_body = RuleSpec,
    responses((status = 201, body = RuleSpec), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_rule(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> Result<(StatusCode, Json<RuleSpec>), ApiError> {
    user.require(Role::Supervisor)?;
    let rule = spec
        .validate(&state.config.ingest.metrics)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rule", e))?;
    {
        let rules = state.alert_rules.read().map_err(|_| ApiError::internal())?;
        if rules.len() >= RULES_MAX && !rules.iter().any(|r| r.id == rule.id) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "limit_exceeded",
                format!("at most {RULES_MAX} rules"),
            ));
        }
    }
    let json = serde_json::to_string(&spec).map_err(|_| ApiError::internal())?;
    let st = state.clone();
    let by = user.0.username.clone();
    let id = rule.id.clone();
    blocking(move || {
        st.store
            .write(|tx| {
                crate::store::alerts::put_rule(tx, &id, &json, &by, now_ms())?;
                audit::append(
                    tx,
                    now_ms(),
                    &AuditEvent {
                        actor: &by,
                        action: "alert_rule.put",
                        target: &id,
                        detail: serde_json::from_str(&json).unwrap_or_default(),
                    },
                )?;
                Ok(())
            })
            .map_err(ApiError::from)
    })
    .await?;
    if let Ok(mut rules) = state.alert_rules.write() {
        rules.retain(|r| r.id != rule.id);
        rules.push(rule);
    }
    Ok((StatusCode::CREATED, Json(spec)))
}
