//! Sensor readings over HTTP: `POST /api/v1/sensors/{id}/readings` for sensors (or tests) that
//! speak HTTP instead of MQTT, and `GET` of a sensor's raw readings.
//!
//! A reading is acknowledged (201) only after it is committed. A batch is all-or-nothing: one
//! invalid reading rejects the request with the index of the offender, so a sender can fix and
//! resend; duplicates of stored readings are accepted and ignored (idempotent redelivery).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use farmco_sync::ValidationError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::farmers::ApiQuery;
use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::store::now_ms;
use crate::store::readings::{NewReading, READINGS_PER_INSERT_MAX};

/// Longest sensor id.
pub const SENSOR_ID_CHARS_MAX: usize = 64;
/// How far in the future a timestamp may lie (sensor clocks drift; more is a broken clock).
pub const FUTURE_SKEW_MS_MAX: i64 = 5 * 60 * 1000;
/// Most readings returned by one GET.
pub const READINGS_PER_QUERY_MAX: usize = 10_000;

/// Known metrics with unit and plausible range (inclusive).
pub const METRICS: &[(&str, &str, f64, f64)] = &[
    ("soil_moisture_vwc", "%", 0.0, 100.0),
    ("soil_temp_c", "°C", -20.0, 70.0),
    ("air_temp_c", "°C", -30.0, 60.0),
    ("humidity_pct", "%", 0.0, 100.0),
    ("rainfall_mm", "mm", 0.0, 500.0),
    ("leaf_wetness_pct", "%", 0.0, 100.0),
    ("battery_v", "V", 0.0, 15.0),
];

/// Validate a sensor id: 1..=64 of `[A-Za-z0-9_.-]`.
pub fn validate_sensor_id(field: &str, id: &str) -> Result<(), ValidationError> {
    let ok = !id.is_empty()
        && id.len() <= SENSOR_ID_CHARS_MAX
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError {
            field: field.to_owned(),
            code: "invalid_sensor_id",
            message: format!("sensor ids are 1 to {SENSOR_ID_CHARS_MAX} of A-Z a-z 0-9 _ - ."),
        })
    }
}

/// Check metric name and value range.
pub fn validate_value(field: &str, metric: &str, value: f64) -> Result<(), ValidationError> {
    let Some((_, unit, lo, hi)) = METRICS.iter().find(|(m, ..)| *m == metric) else {
        return Err(ValidationError {
            field: format!("{field}.metric"),
            code: "unknown_metric",
            message: format!(
                "unknown metric {metric:?}; known: {}",
                METRICS.iter().map(|m| m.0).collect::<Vec<_>>().join(", ")
            ),
        });
    };
    if !value.is_finite() || value < *lo || value > *hi {
        return Err(ValidationError {
            field: format!("{field}.value"),
            code: "out_of_range",
            message: format!("{metric} must be between {lo} and {hi} {unit}"),
        });
    }
    Ok(())
}

/// A timestamp: RFC 3339 text or epoch milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimestampInput {
    EpochMs(i64),
    Text(String),
}

impl TimestampInput {
    pub fn to_ms(&self, field: &str) -> Result<i64, ValidationError> {
        match self {
            TimestampInput::EpochMs(ms) => Ok(*ms),
            TimestampInput::Text(s) => {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                    .map_err(|_| ValidationError {
                        field: field.to_owned(),
                        code: "invalid_timestamp",
                        message: "timestamps are RFC 3339 text or epoch milliseconds".into(),
                    })
            }
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingInput {
    pub metric: String,
    /// RFC 3339 or epoch milliseconds; missing → receive time (flagged).
    #[schema(value_type = Option<String>)]
    pub ts: Option<TimestampInput>,
    pub value: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingsRequest {
    pub readings: Vec<ReadingInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingsAccepted {
    /// Readings in the request.
    pub accepted: usize,
    /// Of those, new (the rest were already stored).
    pub inserted: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingDto {
    pub ts: String,
    pub ts_ms: i64,
    pub value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingsResponse {
    pub sensor_id: String,
    pub metric: String,
    pub readings: Vec<ReadingDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadingsQuery {
    pub metric: String,
    /// RFC 3339 or epoch ms; default 24 h before `to`.
    pub from: Option<String>,
    /// RFC 3339 or epoch ms; default now.
    pub to: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/sensors/{id}/readings", tag = "sensors",
    request_body = ReadingsRequest,
    params(("id" = String, Path, description = "sensor id")),
    responses((status = 201, body = ReadingsAccepted), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_readings(
    State(state): State<SharedState>,
    _user: CurrentUser,
    Path(sensor_id): Path<String>,
    ApiJson(req): ApiJson<ReadingsRequest>,
) -> Result<(StatusCode, Json<ReadingsAccepted>), ApiError> {
    validate_sensor_id("id", &sensor_id)?;
    if req.readings.is_empty() || req.readings.len() > READINGS_PER_INSERT_MAX {
        return Err(ValidationError {
            field: "readings".into(),
            code: "batch_size",
            message: format!("send 1 to {READINGS_PER_INSERT_MAX} readings per request"),
        }
        .into());
    }
    let now = now_ms();
    let mut rows = Vec::with_capacity(req.readings.len());
    for (i, r) in req.readings.iter().enumerate() {
        let field = format!("readings[{i}]");
        validate_value(&field, &r.metric, r.value)?;
        let (ts_ms, ts_assigned) = match &r.ts {
            Some(ts) => (ts.to_ms(&format!("{field}.ts"))?, false),
            None => (now, true),
        };
        if ts_ms > now + FUTURE_SKEW_MS_MAX || ts_ms < 0 {
            return Err(ValidationError {
                field: format!("{field}.ts"),
                code: "implausible_timestamp",
                message: "timestamp is in the future or before 1970".into(),
            }
            .into());
        }
        rows.push(NewReading {
            sensor_id: sensor_id.clone(),
            metric: r.metric.clone(),
            ts_ms,
            value: r.value,
            ts_assigned,
        });
    }
    let store = state.store.clone();
    let accepted = rows.len();
    let inserted =
        blocking(move || store.insert_readings(&rows, now).map_err(ApiError::from)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReadingsAccepted { accepted, inserted }),
    ))
}

fn parse_time_param(field: &str, s: &str) -> Result<i64, ApiError> {
    let input = match s.parse::<i64>() {
        Ok(ms) => TimestampInput::EpochMs(ms),
        Err(_) => TimestampInput::Text(s.to_owned()),
    };
    input
        .to_ms(field)
        .map_err(|e| ApiError::bad_request(e.message).with_field(field))
}

#[utoipa::path(get, path = "/api/v1/sensors/{id}/readings", tag = "sensors",
    params(("id" = String, Path, description = "sensor id"), ReadingsQuery),
    responses((status = 200, body = ReadingsResponse)),
    security(("bearer" = [])))]
pub async fn get_readings(
    State(state): State<SharedState>,
    _user: CurrentUser,
    Path(sensor_id): Path<String>,
    ApiQuery(q): ApiQuery<ReadingsQuery>,
) -> Result<Json<ReadingsResponse>, ApiError> {
    validate_sensor_id("id", &sensor_id)?;
    let to = match &q.to {
        Some(s) => parse_time_param("to", s)?,
        None => now_ms() + 1,
    };
    let from = match &q.from {
        Some(s) => parse_time_param("from", s)?,
        None => to - 24 * 3_600_000,
    };
    let store = state.store.clone();
    let (sid, metric) = (sensor_id.clone(), q.metric.clone());
    let rows = blocking(move || {
        store
            .sensor_readings(&sid, &metric, from, to, READINGS_PER_QUERY_MAX)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(ReadingsResponse {
        sensor_id,
        metric: q.metric,
        readings: rows
            .into_iter()
            .map(|r| ReadingDto {
                ts: super::auth_routes::rfc3339_ms(r.ts_ms),
                ts_ms: r.ts_ms,
                value: r.value,
            })
            .collect(),
    }))
}
