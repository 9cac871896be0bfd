//! Ingest operations: `GET /api/v1/ingest/dead-letters` (supervisor) lists what MQTT ingest
//! could not store, with the raw payload (UTF-8 text when it is text, else hex).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::farmers::ApiQuery;
use super::{ApiError, CurrentUser, SharedState, blocking};
use crate::store::users::Role;

/// Most dead letters per page.
pub const DEAD_LETTERS_PER_PAGE_MAX: usize = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
    /// Only ids after this (paging); default 0.
    pub after: Option<i64>,
    /// Only this reason (malformed, unknown_sensor, unknown_metric, out_of_range, …).
    pub reason: Option<String>,
    /// Page size, 1..=500 (default 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterDto {
    pub id: i64,
    pub topic: String,
    /// The payload as text when it is UTF-8.
    pub payload_text: Option<String>,
    /// The payload as hex, always.
    pub payload_hex: String,
    pub reason: String,
    pub detail: String,
    pub received: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLettersResponse {
    pub dead_letters: Vec<DeadLetterDto>,
    /// Pass as `after` for the next page (absent on the last page).
    pub next_after: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/ingest/dead-letters", tag = "ingest",
    params(DeadLettersQuery),
    responses((status = 200, body = DeadLettersResponse), (status = 403, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn dead_letters(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<DeadLettersQuery>,
) -> Result<Json<DeadLettersResponse>, ApiError> {
    user.require(Role::Supervisor)?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > DEAD_LETTERS_PER_PAGE_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {DEAD_LETTERS_PER_PAGE_MAX}"
        ))
        .with_field("limit"));
    }
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .read(|c| {
                crate::store::ingest::dead_letters(
                    c,
                    q.after.unwrap_or(0),
                    q.reason.as_deref(),
                    limit,
                )
            })
            .map_err(ApiError::from)
    })
    .await?;
    let next_after = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(DeadLettersResponse {
        dead_letters: rows
            .into_iter()
            .map(|r| DeadLetterDto {
                id: r.id,
                topic: r.topic,
                payload_text: String::from_utf8(r.payload.clone()).ok(),
                payload_hex: hex::encode(&r.payload),
                reason: r.reason,
                detail: r.detail,
                received: super::auth_routes::rfc3339_ms(r.received_ms),
            })
            .collect(),
        next_after,
    }))
}
