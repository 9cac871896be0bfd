//! Advisories for ops staff: publish (`POST /api/v1/advisories`, 201). Edges receive them
//! through sync. The paged list with each advisory's reach, and the SMS preview, are in
//! `api::preview`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, CurrentUser, SharedState, parse_rfc3339, rfc3339};
use crate::store::advisories::{Advisory, NewAdvisory};
use crate::store::users::Role;

/// A village code given as a JSON string ("563412") or number (563412).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CodeInput {
    Text(String),
    Number(u64),
}

impl CodeInput {
    pub fn into_text(self) -> String {
        match self {
            CodeInput::Text(s) => s,
            CodeInput::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAdvisoryRequest {
    pub village_codes: Vec<CodeInput>,
    /// mandi_price, weather, pest or general
    pub kind: String,
    pub title: String,
    /// Free-form JSON object (e.g. prices per commodity).
    pub body: serde_json::Value,
    /// RFC 3339; defaults to now.
    pub valid_from: Option<String>,
    /// RFC 3339; open-ended when absent.
    pub valid_until: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AdvisoryDto {
    pub id: String,
    pub seq: u64,
    pub village_codes: Vec<String>,
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

fn dto(a: Advisory) -> AdvisoryDto {
    AdvisoryDto {
        id: a.id.to_string(),
        seq: a.seq,
        village_codes: a.village_codes,
        kind: a.kind,
        title: a.title,
        body: a.body,
        valid_from: rfc3339(a.valid_from),
        valid_until: a.valid_until.map(rfc3339),
        created_by: a.created_by,
        created_at: rfc3339(a.created_at),
    }
}

pub async fn create_advisory(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateAdvisoryRequest>,
) -> Result<(StatusCode, Json<AdvisoryDto>), ApiError> {
    user.require(Role::Ops)?;
    let valid_from = match &req.valid_from {
        Some(s) => parse_rfc3339("valid_from", s)?,
        None => crate::store::now(),
    };
    let valid_until = req
        .valid_until
        .as_deref()
        .map(|s| parse_rfc3339("valid_until", s))
        .transpose()?;
    let advisory = NewAdvisory {
        village_codes: req
            .village_codes
            .into_iter()
            .map(CodeInput::into_text)
            .collect(),
        kind: req.kind,
        title: req.title,
        body: req.body,
        valid_from,
        valid_until,
    }
    .validate()?;
    let stored = state
        .store
        .create_advisory(advisory, &user.0.username)
        .await?;
    Ok((StatusCode::CREATED, Json(dto(stored))))
}
