//! SMS service routes: supervisors read the inbox and outbox; agents list self-registrations
//! made by SMS and confirm them (creating the farmer in one of their villages).
//!
//! - `GET /api/v1/sms/inbox?limit=` (supervisor): received messages with their reply's state.
//! - `GET /api/v1/sms/outbox?state=&limit=` (supervisor): outgoing messages.
//! - `GET /api/v1/sms/registrations?state=` (agent): registrations (default: pending).
//! - `POST /api/v1/sms/registrations/{id}/confirm {"village_code"}` (agent of that village):
//!   creates the farmer through the ordinary store function, audits, queues a welcome SMS.
//! - `POST /api/v1/sms/registrations/{id}/reject` (agent): the registration is closed without a
//!   farmer (a wrong number, a test message), audited; the phone may register again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::farmers::ApiQuery;
use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::store::now_ms;
use crate::store::sms::{self as sms_store, InboxEntry, OutboxEntry, Registration};
use crate::store::users::Role;

/// Rows a listing returns unless `limit` says otherwise.
const LIST_DEFAULT: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Filter by state (outbox: queued, sending, sent, delivered, failed; registrations:
    /// pending, confirmed, all).
    pub state: Option<String>,
    /// Most rows (at most 500).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxList {
    pub messages: Vec<InboxEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    pub messages: Vec<OutboxEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationList {
    pub registrations: Vec<Registration>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The village the farmer belongs to (one of the agent's).
    pub village_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmResponse {
    pub farmer_id: String,
    pub registration_id: i64,
}

#[utoipa::path(get, path = "/api/v1/sms/inbox", tag = "sms", params(ListQuery),
    responses((status = 200, body = InboxList), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_inbox(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<InboxList>, ApiError> {
    user.require(Role::Supervisor)?;
    let store = state.store.clone();
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let messages = blocking(move || {
        store
            .read(|c| sms_store::list_inbox(c, limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(InboxList { messages }))
}

#[utoipa::path(get, path = "/api/v1/sms/outbox", tag = "sms", params(ListQuery),
    responses((status = 200, body = OutboxList), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_outbox(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<OutboxList>, ApiError> {
    user.require(Role::Supervisor)?;
    if let Some(s) = &query.state
        && !["queued", "sending", "sent", "delivered", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::bad_request("unknown state").with_field("state"));
    }
    let store = state.store.clone();
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let messages = blocking(move || {
        store
            .read(|c| sms_store::list_outbox(c, query.state.as_deref(), limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(OutboxList { messages }))
}

#[utoipa::path(get, path = "/api/v1/sms/registrations", tag = "sms", params(ListQuery),
    responses((status = 200, body = RegistrationList)),
    security(("bearer" = [])))]
pub async fn list_registrations(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RegistrationList>, ApiError> {
    user.require(Role::Agent)?;
    let filter = match query.state.as_deref() {
        None | Some("pending") => Some("pending".to_owned()),
        Some("confirmed") => Some("confirmed".to_owned()),
        Some("rejected") => Some("rejected".to_owned()),
        Some("all") => None,
        Some(_) => return Err(ApiError::bad_request("unknown state").with_field("state")),
    };
    let store = state.store.clone();
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let scope = user.village_scope();
    let registrations = blocking(move || {
        store
            .read(|c| {
                let all = sms_store::list_registrations(c, filter.as_deref(), limit)?;
                let Some(scope) = scope else {
                    return Ok(all);
                };
                // Agents: a pending registration has no village yet, so they see it to confirm
                // it, with the phone masked to its last digits; a confirmed one only when its
                // farmer is in their villages (review 2026-12, finding 10).
                let mut visible = Vec::with_capacity(all.len());
                for mut r in all {
                    match &r.farmer_id {
                        None => {
                            r.phone = mask_phone(&r.phone);
                            visible.push(r);
                        }
                        Some(f) => {
                            if sms_store::farmer_village(c, f)?.is_some_and(|v| scope.contains(&v))
                            {
                                visible.push(r);
                            }
                        }
                    }
                }
                Ok(visible)
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(RegistrationList { registrations }))
}

#[utoipa::path(post, path = "/api/v1/sms/registrations/{id}/confirm", tag = "sms",
    params(("id" = i64, Path, description = "registration id")),
    request_body = ConfirmRequest,
    responses((status = 201, body = ConfirmResponse), (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm_registration(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> Result<(StatusCode, Json<ConfirmResponse>), ApiError> {
    user.require(Role::Agent)?;
    let village: farmco_sync::VillageCode =
        farmco_sync::VillageCode::parse("village_code", &req.village_code)?;
    if !user.0.can_access_village(village) {
        return Err(
            ApiError::forbidden(format!("you are not assigned to village {village}"))
                .with_field("village_code"),
        );
    }
    let store = state.store.clone();
    let agent = user.0.username.clone();
    let offset = state.config.sms.offset;
    let farmer = blocking(move || {
        crate::sms::confirm_registration(&store, id, village, &agent, offset, now_ms()).map_err(
            |e| match e {
                crate::sms::ConfirmError::NotPending => ApiError::not_found("pending registration"),
                crate::sms::ConfirmError::Store(s) => ApiError::from(s),
            },
        )
    })
    .await?;
    if let Some(modem) = state.modem.get() {
        modem.wake_outbox();
    }
    Ok((
        StatusCode::CREATED,
        Json(ConfirmResponse {
            farmer_id: farmer.id.to_string(),
            registration_id: id,
        }),
    ))
}

/// Digits of a phone number an agent sees of a registration not yet in their village.
pub const PHONE_DIGITS_SHOWN: usize = 4;

/// `+919812345678` → `********5678`.
fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let keep = chars.len().min(PHONE_DIGITS_SHOWN);
    let hidden = chars.len() - keep;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectResponse {
    pub registration_id: i64,
    pub state: String,
}

#[utoipa::path(post, path = "/api/v1/sms/registrations/{id}/reject", tag = "sms",
    params(("id" = i64, Path, description = "registration id")),
    responses((status = 200, body = RejectResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject_registration(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<RejectResponse>, ApiError> {
    user.require(Role::Agent)?;
    let store = state.store.clone();
    let agent = user.0.username.clone();
    let rejected = blocking(move || {
        store
            .write(|tx| {
                let now = now_ms();
                let done = sms_store::reject_registration(tx, id, &agent, now)?;
                if done {
                    crate::store::audit::append(
                        tx,
                        now,
                        &crate::store::audit::AuditEvent {
                            actor: &agent,
                            action: "sms.registration.reject",
                            target: &id.to_string(),
                            detail: serde_json::json!({}),
                        },
                    )?;
                }
                Ok(done)
            })
            .map_err(ApiError::from)
    })
    .await?;
    if !rejected {
        return Err(ApiError::not_found("pending registration"));
    }
    Ok(Json(RejectResponse {
        registration_id: id,
        state: "rejected".into(),
    }))
}
