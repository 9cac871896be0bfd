//! Notification and voice routes: a farmer's notifications with every attempt, supervisors'
//! broadcasts to a village, farmers' notification preferences, and the voice call log and
//! callback queue (supervisors).
//!
//! Scope as for farmer routes: an agent sees only farmers of their villages (others are 404).
//! Broadcasts and preference changes are audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use farmco_sync::{FarmerId, Language, ValidationError, VillageCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth_routes::rfc3339_ms;
use super::farmers::ApiQuery;
use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::config::notify::parse_hh_mm;
use crate::store::audit::{self, AuditEvent};
use crate::store::users::Role;
use crate::store::{notify as store_notify, now_ms, voice as store_voice};
use farmco_village::notify::router::{
    Decision, MAX_PER_DAY_LIMIT, MESSAGE_ARG_CHARS_MAX, MESSAGE_ARGS_MAX, MESSAGE_KEY_CHARS_MAX,
    Message, Notification, Preferences, QuietHours, Source, Urgency,
};
use farmco_village::voice::callback::CallbackState;

/// Default number of rows in a listing (the maximum is the store's `LIST_ROWS_MAX`).
pub const LIST_DEFAULT: usize = 50;
/// Longest caller-supplied broadcast id (part of the dedupe key).
pub const BROADCAST_ID_CHARS_MAX: usize = 64;

// ---------------------------------------------------------------- wire types

#[derive(Debug, Deserialize, IntoParams)]
pub struct NotificationsQuery {
    /// The farmer (required).
    pub farmer_id: String,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptDto {
    /// sms or voice
    pub channel: String,
    /// always, unless_sms_delivered, digest or fallback
    pub condition: String,
    pub due_at: String,
    pub tries: u32,
    /// scheduled, handed_off, delivered, answered, failed, unanswered or cancelled
    pub state: String,
    pub outcome: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDto {
    pub id: String,
    pub farmer_id: String,
    pub dedupe_key: String,
    pub urgency: String,
    pub source: String,
    pub message_key: String,
    #[schema(value_type = Object)]
    pub message_args: serde_json::Value,
    pub language: Option<String>,
    /// scheduled or suppressed
    pub state: String,
    /// duplicate, no_consent or daily_cap
    pub suppressed: Option<String>,
    pub created_at: String,
    pub attempts: Vec<AttemptDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationListResponse {
    pub notifications: Vec<NotificationDto>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageDto {
    /// Localization key, e.g. `advisory-storm-warning` (a-z, 0-9, '-').
    pub key: String,
    /// Arguments of the message (at most 16 short strings).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    /// 6-digit village code.
    pub village_code: String,
    pub message: MessageDto,
    /// low, normal (default), high or critical.
    pub urgency: Option<String>,
    /// Caller's id for this broadcast; repeating a request with the same id within the dedupe
    /// window reaches nobody twice. A fresh id is made when absent.
    pub broadcast_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastResponse {
    pub broadcast_id: String,
    /// Farmers of the village with SMS or voice consent.
    pub recipients: usize,
    pub scheduled: usize,
    /// Suppressed, by reason (duplicate, no_consent, daily_cap).
    pub suppressed: BTreeMap<String, usize>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesDto {
    /// Channels the farmer wants: "sms", "voice" (consent is still needed for each).
    pub channels: Vec<String>,
    /// Language for notifications; null: the farmer's language.
    pub language: Option<String>,
    /// Quiet hours, local "HH:MM"; equal start and end: none.
    pub quiet_start: String,
    pub quiet_end: String,
    /// Most notifications a day (1-50; critical alerts are exempt).
    pub max_per_day: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesResponse {
    pub farmer_id: String,
    /// False when these are the node's defaults (never set for this farmer).
    pub customized: bool,
    pub preferences: PreferencesDto,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    pub limit: Option<usize>,
    /// Callbacks only: pending, dialing, done or failed.
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallEventDto {
    pub at: String,
    /// spoken or key
    pub kind: String,
    /// The prompt's message id (spoken).
    pub prompt: Option<String>,
    /// What was spoken, or the key.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallDto {
    pub id: i64,
    /// inbound or outbound
    pub direction: String,
    pub number: Option<String>,
    pub farmer_id: Option<String>,
    pub callback_id: Option<i64>,
    pub language: String,
    pub started_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    /// completed, missed, rejected, busy, no_answer, failed, interrupted; null while on.
    pub outcome: Option<String>,
    pub events: Vec<CallEventDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallListResponse {
    pub calls: Vec<CallDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackDto {
    pub id: i64,
    pub number: String,
    pub farmer_id: String,
    /// rang_off or missed_call_mode
    pub reason: String,
    /// pending, dialing, done or failed
    pub state: String,
    pub attempts: u32,
    pub due_at: String,
    pub last_outcome: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackListResponse {
    pub callbacks: Vec<CallbackDto>,
}

// ---------------------------------------------------------------- helpers

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    ValidationError::new(field, code, message).into()
}

fn parse_message(field: &str, m: &MessageDto) -> Result<Message, ApiError> {
    let key_ok = |k: &str, max: usize| {
        !k.is_empty()
            && k.len() <= max
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if !key_ok(&m.key, MESSAGE_KEY_CHARS_MAX) {
        return Err(invalid(
            &format!("{field}.key"),
            "invalid_key",
            format!("1 to {MESSAGE_KEY_CHARS_MAX} characters of a-z, 0-9, '-', '_'"),
        ));
    }
    if m.args.len() > MESSAGE_ARGS_MAX {
        return Err(invalid(
            &format!("{field}.args"),
            "too_many",
            format!("at most {MESSAGE_ARGS_MAX} arguments"),
        ));
    }
    for (k, v) in &m.args {
        if !key_ok(k, MESSAGE_KEY_CHARS_MAX) {
            return Err(invalid(
                &format!("{field}.args"),
                "invalid_key",
                format!("argument name {k:?}: a-z, 0-9, '-', '_'"),
            ));
        }
        if v.chars().count() > MESSAGE_ARG_CHARS_MAX || v.chars().any(char::is_control) {
            return Err(invalid(
                &format!("{field}.args.{k}"),
                "too_long",
                format!("at most {MESSAGE_ARG_CHARS_MAX} printable characters"),
            ));
        }
    }
    Ok(Message {
        key: m.key.clone(),
        args: m.args.clone(),
    })
}

fn parse_preferences(dto: &PreferencesDto) -> Result<Preferences, ApiError> {
    let mut sms = false;
    let mut voice = false;
    for (i, c) in dto.channels.iter().enumerate() {
        match c.as_str() {
            "sms" => sms = true,
            "voice" => voice = true,
            _ => {
                return Err(invalid(
                    &format!("channels[{i}]"),
                    "invalid_channel",
                    "expected \"sms\" or \"voice\"",
                ));
            }
        }
    }
    let language = dto
        .language
        .as_deref()
        .map(|l| Language::parse("language", l))
        .transpose()?;
    let hhmm = |field: &str, v: &str| {
        parse_hh_mm(v).ok_or_else(|| invalid(field, "invalid_time", "expected local \"HH:MM\""))
    };
    if !(1..=MAX_PER_DAY_LIMIT).contains(&dto.max_per_day) {
        return Err(invalid(
            "max_per_day",
            "out_of_range",
            format!("between 1 and {MAX_PER_DAY_LIMIT}"),
        ));
    }
    Ok(Preferences {
        sms,
        voice,
        language,
        quiet: QuietHours {
            start_minute: hhmm("quiet_start", &dto.quiet_start)?,
            end_minute: hhmm("quiet_end", &dto.quiet_end)?,
        },
        max_per_day: dto.max_per_day,
    })
}

fn hh_mm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn preferences_dto(p: &Preferences) -> PreferencesDto {
    let mut channels = Vec::new();
    if p.sms {
        channels.push("sms".to_owned());
    }
    if p.voice {
        channels.push("voice".to_owned());
    }
    PreferencesDto {
        channels,
        language: p.language.map(|l| l.code().to_owned()),
        quiet_start: hh_mm(p.quiet.start_minute),
        quiet_end: hh_mm(p.quiet.end_minute),
        max_per_day: p.max_per_day,
    }
}

/// The farmer, if the caller may see them; 404 otherwise.
async fn visible_farmer(
    state: &SharedState,
    user: &CurrentUser,
    raw_id: &str,
) -> Result<FarmerId, ApiError> {
    let id: FarmerId = raw_id.parse().map_err(|_| ApiError::not_found("farmer"))?;
    let store = state.store.clone();
    let row = blocking(move || store.farmer(id).map_err(ApiError::from)).await?;
    match row {
        Some(row) if user.0.can_access_village(row.farmer.village_code) => Ok(id),
        _ => Err(ApiError::not_found("farmer")),
    }
}

// ---------------------------------------------------------------- routes

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(NotificationsQuery),
    responses((status = 200, body = NotificationListResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_notifications(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> Result<Json<NotificationListResponse>, ApiError> {
    let id = visible_farmer(&state, &user, &query.farmer_id).await?;
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .read(|c| store_notify::list_notifications(c, id, limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(NotificationListResponse {
        notifications: rows
            .into_iter()
            .map(|n| NotificationDto {
                id: n.id,
                farmer_id: n.farmer_id,
                dedupe_key: n.dedupe_key,
                urgency: n.urgency,
                source: n.source,
                message_key: n.message_key,
                message_args: n.message_args,
                language: n.language,
                state: n.state,
                suppressed: n.suppressed,
                created_at: rfc3339_ms(n.created_ms),
                attempts: n
                    .attempts
                    .into_iter()
                    .map(|a| AttemptDto {
                        channel: a.channel,
                        condition: a.condition,
                        due_at: rfc3339_ms(a.due_ms),
                        tries: a.tries,
                        state: a.state,
                        outcome: a.outcome,
                        updated_at: rfc3339_ms(a.updated_ms),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/broadcasts", tag = "notifications", request_body = BroadcastRequest,
    responses((status = 201, body = BroadcastResponse), (status = 403, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_broadcast(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<BroadcastRequest>,
) -> Result<(StatusCode, Json<BroadcastResponse>), ApiError> {
    user.require(Role::Supervisor)?;
    let village = VillageCode::parse("village_code", &req.village_code)?;
    let message = parse_message("message", &req.message)?;
    let urgency = match req.urgency.as_deref() {
        None => Urgency::Normal,
        Some(u) => Urgency::parse(u).ok_or_else(|| {
            invalid(
                "urgency",
                "invalid_urgency",
                "expected low, normal, high or critical",
            )
        })?,
    };
    let broadcast_id = match req.broadcast_id {
        Some(id) => {
            let ok = !id.is_empty()
                && id.chars().count() <= BROADCAST_ID_CHARS_MAX
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(invalid(
                    "broadcast_id",
                    "invalid_id",
                    format!("1 to {BROADCAST_ID_CHARS_MAX} of a-z, A-Z, 0-9, '-', '_', '.'"),
                ));
            }
            id
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let store = state.store.clone();
    let notify = state.config.notify;
    let actor = user.0.username.clone();
    let response = blocking(move || {
        let now = now_ms();
        store
            .write(|tx| {
                let recipients = store_notify::village_recipients(tx, village)?;
                let mut scheduled = 0;
                let mut suppressed: BTreeMap<String, usize> = BTreeMap::new();
                for farmer_id in &recipients {
                    let n = Notification {
                        dedupe_key: format!("broadcast:{broadcast_id}"),
                        farmer_id: *farmer_id,
                        urgency,
                        source: Source::Broadcast,
                        message: message.clone(),
                    };
                    let routed = store_notify::route_notification(
                        tx,
                        &notify.router,
                        notify.defaults,
                        &n,
                        now,
                    )?;
                    match routed.decision {
                        Decision::Send { .. } => scheduled += 1,
                        Decision::Suppressed(r) => {
                            *suppressed.entry(r.as_str().to_owned()).or_default() += 1
                        }
                    }
                }
                audit::append(
                    tx,
                    now,
                    &AuditEvent {
                        actor: &actor,
                        action: "notify.broadcast",
                        target: &village.to_string(),
                        detail: serde_json::json!({
                            "broadcast_id": broadcast_id,
                            "message_key": message.key,
                            "urgency": urgency.as_str(),
                            "recipients": recipients.len(),
                            "scheduled": scheduled,
                        }),
                    },
                )?;
                Ok(BroadcastResponse {
                    broadcast_id: broadcast_id.clone(),
                    recipients: recipients.len(),
                    scheduled,
                    suppressed,
                })
            })
            .map_err(ApiError::from)
    })
    .await?;
    if let Some(executor) = state.notify.get() {
        executor.wake();
    }
    Ok((StatusCode::CREATED, Json(response)))
}

#[utoipa::path(get, path = "/api/v1/farmers/{id}/notification-preferences", tag = "notifications",
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 200, body = PreferencesResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_preferences(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<PreferencesResponse>, ApiError> {
    let id = visible_farmer(&state, &user, &id).await?;
    let store = state.store.clone();
    let defaults = state.config.notify.defaults;
    let (prefs, customized) = blocking(move || {
        store
            .read(|c| store_notify::preferences(c, id, defaults))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(PreferencesResponse {
        farmer_id: id.to_string(),
        customized,
        preferences: preferences_dto(&prefs),
    }))
}

#[utoipa::path(put, path = "/api/v1/farmers/{id}/notification-preferences", tag = "notifications",
    params(("id" = String, Path, description = "farmer id")), request_body = PreferencesDto,
    responses((status = 200, body = PreferencesResponse), (status = 404, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_preferences(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PreferencesDto>,
) -> Result<Json<PreferencesResponse>, ApiError> {
    let id = visible_farmer(&state, &user, &id).await?;
    let prefs = parse_preferences(&req)?;
    let store = state.store.clone();
    let actor = user.0.username.clone();
    let detail = serde_json::to_value(preferences_dto(&prefs)).unwrap_or_default();
    blocking(move || {
        store
            .write(|tx| {
                let now = now_ms();
                store_notify::put_preferences(tx, id, &prefs, now)?;
                audit::append(
                    tx,
                    now,
                    &AuditEvent {
                        actor: &actor,
                        action: "notify.preferences",
                        target: &id.to_string(),
                        detail,
                    },
                )?;
                Ok(())
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(PreferencesResponse {
        farmer_id: id.to_string(),
        customized: true,
        preferences: preferences_dto(&prefs),
    }))
}

#[utoipa::path(get, path = "/api/v1/voice/calls", tag = "voice", params(ListQuery),
    responses((status = 200, body = CallListResponse), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_calls(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CallListResponse>, ApiError> {
    user.require(Role::Supervisor)?;
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .read(|c| store_voice::list_calls(c, limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(CallListResponse {
        calls: rows
            .into_iter()
            .map(|c| CallDto {
                id: c.id,
                direction: c.direction,
                number: c.number,
                farmer_id: c.farmer_id,
                callback_id: c.callback_id,
                language: c.language,
                started_at: rfc3339_ms(c.started_ms),
                answered_at: c.answered_ms.map(rfc3339_ms),
                ended_at: c.ended_ms.map(rfc3339_ms),
                outcome: c.outcome,
                events: c
                    .events
                    .into_iter()
                    .map(|e| CallEventDto {
                        at: rfc3339_ms(e.at_ms),
                        kind: e.kind,
                        prompt: e.prompt,
                        text: e.text,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/voice/callbacks", tag = "voice", params(ListQuery),
    responses((status = 200, body = CallbackListResponse), (status = 403, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_callbacks(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CallbackListResponse>, ApiError> {
    user.require(Role::Supervisor)?;
    let filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(CallbackState::parse(s).ok_or_else(|| {
            invalid(
                "state",
                "invalid_state",
                "expected pending, dialing, done or failed",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .read(|c| store_voice::list_callbacks(c, filter, limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(CallbackListResponse {
        callbacks: rows
            .into_iter()
            .map(|c| CallbackDto {
                id: c.id,
                number: c.number,
                farmer_id: c.farmer_id,
                reason: c.reason,
                state: c.state,
                attempts: c.attempts,
                due_at: rfc3339_ms(c.due_ms),
                last_outcome: c.last_outcome,
                created_at: rfc3339_ms(c.created_ms),
                updated_at: rfc3339_ms(c.updated_ms),
            })
            .collect(),
    }))
}
