//! One-time codes over HTTP: an agent asks the box to text a farmer a code, the farmer reads
//! it out, the agent's app submits it. Rules and limits: `farmco_village::otp`; storage and
//! audit: `store::otp`.
//!
//! - `POST /api/v1/farmers/{id}/otp` `{"purpose"}`: a code to the farmer's phone (consent,
//!   erasure, export), bound to the farmer.
//! - `POST /api/v1/otp` `{"purpose":"registration","phone","language"}`: a code to a number
//!   that is about to be registered, bound to that number.
//! - `POST /api/v1/otp/{otp_id}/verify` `{"purpose","code"}`: 200 verified; 422 wrong code
//!   (with the tries left); 423 locked; 410 expired or already used; 409 another purpose.
//!   Only the user who asked for the code (or a supervisor) may submit it.
//!
//! A refused issue (per-phone limits, a lock) is 429 with `Retry-After`. Codes are never in a
//! response, a log line or the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use farmco_sync::{FarmerId, Language, PhoneNumber};
use farmco_village::l10n::Locale;
use farmco_village::otp::{self, IssueRefusal, Purpose, VerifyOutcome};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::store::now_ms;
use crate::store::otp::{self as otp_store, IssueError, IssueRequest, Issued};
use crate::store::users::Role;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FarmerOtpRequest {
    /// `consent`, `erasure` or `export`.
    pub purpose: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneOtpRequest {
    /// `registration`.
    pub purpose: String,
    /// The number to prove (Indian mobile).
    pub phone: String,
    /// The farmer's language code (the SMS is written in it).
    pub language: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OtpIssuedResponse {
    pub otp_id: String,
    /// When the code stops being valid (Unix ms).
    pub expires_ms: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyOtpRequest {
    pub purpose: String,
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OtpVerifiedResponse {
    pub otp_id: String,
    pub verified: bool,
}

fn parse_purpose(raw: &str, allowed: &[Purpose]) -> Result<Purpose, ApiError> {
    Purpose::parse(raw)
        .filter(|p| allowed.contains(p))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|p| p.as_str()).collect();
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_purpose",
                format!("purpose must be one of {}", names.join(", ")),
            )
            .with_field("purpose")
        })
}

fn issue_error(e: IssueError) -> ApiError {
    match e {
        IssueError::Refused(refusal) => refused(refusal),
        IssueError::Sms(e) => {
            tracing::error!(error = %e, "the code's SMS could not be queued");
            ApiError::internal()
        }
        IssueError::Store(e) => e.into(),
    }
}

fn refused(refusal: IssueRefusal) -> ApiError {
    let code = match refusal {
        IssueRefusal::Locked { .. } => "otp_locked",
        IssueRefusal::HourlyLimit { .. } | IssueRefusal::DailyLimit { .. } => "otp_rate_limited",
    };
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        code,
        format!("{refusal}; ask again later"),
    )
}

fn issued_response(issued: Issued) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(OtpIssuedResponse {
            otp_id: issued.otp_id,
            expires_ms: issued.expires_ms,
        }),
    )
        .into_response()
}

fn with_retry_after(error: ApiError, retry_at_ms: i64, now: i64) -> Response {
    let seconds = ((retry_at_ms - now).max(0) + 999) / 1000;
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A fresh code, uniform over `0..CODE_SPACE`, from rand's thread generator (ChaCha12 seeded
/// and reseeded from the operating system: a CSPRNG).
fn fresh_code() -> String {
    let number = rand::rng().random_range(0..otp::CODE_SPACE);
    otp::code_from_random(number)
}

async fn issue(
    state: &SharedState,
    user: &CurrentUser,
    purpose: Purpose,
    subject: String,
    phone: PhoneNumber,
    locale: Locale,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let key = state.otp_key.clone();
    let username = user.0.username.clone();
    let now = now_ms();
    let result = blocking(move || {
        let id = uuid::Uuid::new_v4().to_string();
        let code = fresh_code();
        let outcome = store.write(|tx| {
            Ok(otp_store::issue(
                tx,
                &key,
                &IssueRequest {
                    id: &id,
                    code: &code,
                    purpose,
                    subject: &subject,
                    phone: &phone,
                    locale,
                    requested_by: &username,
                },
                now,
            ))
        });
        Ok::<_, ApiError>(outcome)
    })
    .await?;
    match result.map_err(ApiError::from)? {
        Ok(issued) => {
            // Wake the outbox so the code leaves now, not at the next poll.
            if let Some(modem) = state.modem.get() {
                modem.wake_outbox();
            }
            Ok(issued_response(issued))
        }
        Err(IssueError::Refused(refusal)) => Ok(with_retry_after(
            refused(refusal),
            refusal.retry_at_ms(),
            now,
        )),
        Err(e) => Err(issue_error(e)),
    }
}

#[utoipa::path(post, path = "/api/v1/farmers/{id}/otp", tag = "otp", request_body = FarmerOtpRequest,
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 202, body = OtpIssuedResponse), (status = 404, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody), (status = 429, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue_for_farmer(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<FarmerOtpRequest>,
) -> Result<Response, ApiError> {
    let purpose = parse_purpose(
        &req.purpose,
        &[Purpose::Consent, Purpose::Erasure, Purpose::Export],
    )?;
    let id: FarmerId = id.parse().map_err(|_| ApiError::not_found("farmer"))?;
    let store = state.store.clone();
    let row = blocking(move || store.farmer(id).map_err(ApiError::from)).await?;
    let row = match row {
        Some(row) if user.0.can_access_village(row.farmer.village_code) => row,
        _ => return Err(ApiError::not_found("farmer")),
    };
    let locale = Locale::for_language(row.farmer.language);
    issue(
        &state,
        &user,
        purpose,
        row.farmer.id.0.to_string(),
        row.farmer.phone.clone(),
        locale,
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/otp", tag = "otp", request_body = PhoneOtpRequest,
    responses((status = 202, body = OtpIssuedResponse), (status = 422, body = super::ErrorBody),
              (status = 429, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue_for_phone(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PhoneOtpRequest>,
) -> Result<Response, ApiError> {
    let purpose = parse_purpose(&req.purpose, &[Purpose::Registration])?;
    let phone = PhoneNumber::parse("phone", &req.phone).map_err(ApiError::from)?;
    let language = Language::parse("language", &req.language).map_err(ApiError::from)?;
    let subject = phone_subject(&state, &phone);
    issue(
        &state,
        &user,
        purpose,
        subject,
        phone,
        Locale::for_language(language),
    )
    .await
}

/// The subject a registration code is bound to: the phone's blind index.
pub fn phone_subject(state: &SharedState, phone: &PhoneNumber) -> String {
    format!("phone:{}", state.otp_key.phone_index(phone))
}

#[utoipa::path(post, path = "/api/v1/otp/{otp_id}/verify", tag = "otp", request_body = VerifyOtpRequest,
    params(("otp_id" = String, Path, description = "the id returned when the code was sent")),
    responses((status = 200, body = OtpVerifiedResponse), (status = 404, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 410, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody), (status = 423, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(otp_id): Path<String>,
    ApiJson(req): ApiJson<VerifyOtpRequest>,
) -> Result<Response, ApiError> {
    let purpose = parse_purpose(&req.purpose, &Purpose::ALL)?;
    let store = state.store.clone();
    let key = state.otp_key.clone();
    let username = user.0.username.clone();
    let may_submit_any = user.require(Role::Supervisor).is_ok();
    let id = otp_id.clone();
    let now = now_ms();
    let outcome = blocking(move || {
        store
            .write(|tx| {
                // Only whoever asked for the code may submit it (a supervisor may too); to
                // anyone else the code does not exist.
                match otp_store::code_info(tx, &id)? {
                    Some(info) if may_submit_any || info.requested_by == username => {}
                    _ => return Ok(None),
                }
                otp_store::verify(tx, &key, &id, purpose, &req.code, &username, now)
            })
            .map_err(ApiError::from)
    })
    .await?;
    let Some(outcome) = outcome else {
        return Err(ApiError::not_found("code"));
    };
    Ok(match outcome {
        VerifyOutcome::Verified => Json(OtpVerifiedResponse {
            otp_id,
            verified: true,
        })
        .into_response(),
        VerifyOutcome::Wrong { tries_left } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_wrong",
            format!("wrong code; {tries_left} tries left"),
        )
        .with_field("code")
        .into_response(),
        VerifyOutcome::NowLocked { until_ms } | VerifyOutcome::Locked { until_ms } => {
            with_retry_after(
                ApiError::new(
                    StatusCode::LOCKED,
                    "otp_locked",
                    "too many wrong codes for this phone; ask for a new code in an hour",
                ),
                until_ms,
                now,
            )
        }
        VerifyOutcome::Expired => ApiError::new(
            StatusCode::GONE,
            "otp_expired",
            "the code expired; ask for a new one",
        )
        .into_response(),
        VerifyOutcome::AlreadyUsed => ApiError::new(
            StatusCode::GONE,
            "otp_used",
            "the code was already used; ask for a new one",
        )
        .into_response(),
        VerifyOutcome::WrongPurpose => ApiError::new(
            StatusCode::CONFLICT,
            "otp_wrong_purpose",
            "this code was sent for another purpose",
        )
        .with_field("purpose")
        .into_response(),
    })
}
