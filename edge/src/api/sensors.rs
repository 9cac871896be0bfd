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

pub use farmco_village::ingest::payload::{FUTURE_SKEW_MS_MAX, SENSOR_ID_CHARS_MAX};
/// Most readings (or buckets) returned by one GET.
pub const READINGS_PER_QUERY_MAX: usize = 10_000;
/// Most sensors listed per page.
pub const SENSORS_PER_PAGE_MAX: usize = 1_000;
/// Smallest and largest bucket of a bucketed query: 1 minute .. 31 days.
pub const BUCKET_MS_MIN: i64 = 60_000;
pub const BUCKET_MS_MAX: i64 = 31 * 86_400_000;

/// Validate a sensor id: 1..=64 of `[A-Za-z0-9_.-]`.
pub fn validate_sensor_id(field: &str, id: &str) -> Result<(), ValidationError> {
    if farmco_village::ingest::payload::is_valid_sensor_id(id) {
        Ok(())
    } else {
        Err(ValidationError {
            field: field.to_owned(),
            code: "invalid_sensor_id",
            message: format!("sensor ids are 1 to {SENSOR_ID_CHARS_MAX} of A-Z a-z 0-9 _ - ."),
        })
    }
}

/// Parse a bucket like `15m`, `1h`, `1d` into milliseconds.
pub fn parse_bucket(s: &str) -> Option<i64> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    let ms = n.checked_mul(unit_ms)?;
    (BUCKET_MS_MIN..=BUCKET_MS_MAX).contains(&ms).then_some(ms)
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
    /// Raw readings (absent when `bucket` was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<ReadingDto>>,
    /// Buckets (only when `bucket` was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<BucketDto>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadingsQuery {
    pub metric: String,
    /// RFC 3339 or epoch ms; default 24 h before `to`.
    pub from: Option<String>,
    /// RFC 3339 or epoch ms; default now.
    pub to: Option<String>,
    /// Aggregate into buckets of this size (`15m`, `1h`, `1d`): avg/min/max/count per bucket.
    pub bucket: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketDto {
    pub start: String,
    pub start_ms: i64,
    pub count: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

#[utoipa::path(post, path = "/api/v1/sensors/{id}/readings", tag = "sensors",
    request_body = ReadingsRequest,
    params(("id" = String, Path, description = "sensor id")),
    responses((status = 201, body = ReadingsAccepted), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_readings(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(sensor_id): Path<String>,
    ApiJson(req): ApiJson<ReadingsRequest>,
) -> Result<(StatusCode, Json<ReadingsAccepted>), ApiError> {
    // Readings sync to the cloud and raise alerts: supervisors only (sensors use MQTT).
    user.require(crate::store::users::Role::Supervisor)?;
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
        state
            .config
            .ingest
            .metrics
            .validate(&field, &r.metric, r.value)?;
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
    user: CurrentUser,
    Path(sensor_id): Path<String>,
    ApiQuery(q): ApiQuery<ReadingsQuery>,
) -> Result<Json<ReadingsResponse>, ApiError> {
    validate_sensor_id("id", &sensor_id)?;
    if user.village_scope().is_some() {
        let store = state.store.clone();
        let sid = sensor_id.clone();
        let village = blocking(move || {
            store
                .read(|c| crate::store::ingest::sensor_village_of(c, &sid))
                .map_err(ApiError::from)
        })
        .await?;
        user.require_village(village.as_deref(), "sensor")?;
    }
    let to = match &q.to {
        Some(s) => parse_time_param("to", s)?,
        None => now_ms().saturating_add(1),
    };
    // Saturating: `to` is the caller's and may be i64::MIN (review 2026-12, finding 26).
    let from = match &q.from {
        Some(s) => parse_time_param("from", s)?,
        None => to.saturating_sub(READINGS_DEFAULT_SPAN_MS),
    };
    let store = state.store.clone();
    let (sid, metric) = (sensor_id.clone(), q.metric.clone());
    if let Some(bucket) = &q.bucket {
        let bucket_ms = parse_bucket(bucket).ok_or_else(|| {
            ApiError::bad_request("bucket is a number and m, h or d, from 1m to 31d")
                .with_field("bucket")
        })?;
        let rows = blocking(move || {
            store
                .read(|c| {
                    crate::store::ingest::sensor_buckets(
                        c,
                        &sid,
                        &metric,
                        from,
                        to,
                        bucket_ms,
                        READINGS_PER_QUERY_MAX,
                    )
                })
                .map_err(ApiError::from)
        })
        .await?;
        return Ok(Json(ReadingsResponse {
            sensor_id,
            metric: q.metric,
            readings: None,
            buckets: Some(
                rows.into_iter()
                    .map(|b| BucketDto {
                        start: super::auth_routes::rfc3339_ms(b.start_ms),
                        start_ms: b.start_ms,
                        count: b.count,
                        avg: b.avg,
                        min: b.min,
                        max: b.max,
                    })
                    .collect(),
            ),
        }));
    }
    let rows = blocking(move || {
        store
            .sensor_readings(&sid, &metric, from, to, READINGS_PER_QUERY_MAX)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(ReadingsResponse {
        sensor_id,
        metric: q.metric,
        buckets: None,
        readings: Some(
            rows.into_iter()
                .map(|r| ReadingDto {
                    ts: super::auth_routes::rfc3339_ms(r.ts_ms),
                    ts_ms: r.ts_ms,
                    value: r.value,
                })
                .collect(),
        ),
    }))
}

/// How far back `GET …/readings` looks when the caller gives no `from`: a day, what an agent
/// checks in the field.
pub const READINGS_DEFAULT_SPAN_MS: i64 = 24 * 3_600_000;

/// Shortest and longest sensor MQTT password accepted from the caller.
pub const SENSOR_PASSWORD_CHARS_MIN: usize = 12;
pub const SENSOR_PASSWORD_BYTES_MAX: usize = 128;
/// Longest sensor kind.
pub const SENSOR_KIND_CHARS_MAX: usize = 40;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSensorRequest {
    pub id: String,
    /// e.g. `soil_probe`, `weather_station`.
    pub kind: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Link to this farm explicitly instead of by position.
    pub farm_id: Option<String>,
    /// The 6-digit village code of its topics; messages under another village are refused.
    pub village_code: Option<String>,
    /// MQTT password for the embedded broker; generated (and returned once) when absent.
    pub mqtt_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SensorDto {
    pub id: String,
    pub kind: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub farm_id: Option<String>,
    /// `auto` (by position, re-linked when boundaries change) or `explicit`.
    pub farm_link: String,
    pub village_code: Option<String>,
    /// The MQTT topic prefix of this sensor.
    pub topic_prefix: Option<String>,
    pub created: String,
    pub updated: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSensor {
    pub sensor: SensorDto,
    /// The MQTT login (username = sensor id); the password is shown only in this response.
    pub mqtt_username: String,
    pub mqtt_password: Option<String>,
}

impl From<crate::store::ingest::SensorRow> for SensorDto {
    fn from(s: crate::store::ingest::SensorRow) -> SensorDto {
        SensorDto {
            topic_prefix: s.village_code.as_ref().map(|v| {
                format!(
                    "{}/{v}/{}",
                    farmco_village::ingest::payload::TOPIC_PREFIX,
                    s.id
                )
            }),
            id: s.id,
            kind: s.kind,
            lat: s.lat,
            lon: s.lon,
            farm_id: s.farm_id,
            farm_link: s.farm_link.as_str().to_owned(),
            village_code: s.village_code,
            created: super::auth_routes::rfc3339_ms(s.created_ms),
            updated: super::auth_routes::rfc3339_ms(s.updated_ms),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/sensors", tag = "sensors", request_body = CreateSensorRequest,
    responses((status = 201, body = CreatedSensor), (status = 409, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_sensor(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateSensorRequest>,
) -> Result<(StatusCode, Json<CreatedSensor>), ApiError> {
    user.require(crate::store::users::Role::Supervisor)?;
    validate_sensor_id("id", &req.id)?;
    let invalid = |field: &str, message: &str| {
        ApiError::from(ValidationError {
            field: field.to_owned(),
            code: "invalid_field",
            message: message.to_owned(),
        })
    };
    if req.kind.trim().is_empty() || req.kind.chars().count() > SENSOR_KIND_CHARS_MAX {
        return Err(invalid("kind", "kind must have 1 to 40 characters"));
    }
    match (req.lat, req.lon) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(invalid("lat", "lat must be -90..90 and lon -180..180"));
            }
        }
        (None, None) => {}
        _ => return Err(invalid("lon", "give both lat and lon, or neither")),
    }
    if req.lat.is_none() && req.farm_id.is_none() {
        return Err(invalid("lat", "give a position (lat, lon) or a farm_id"));
    }
    let village_code = match &req.village_code {
        Some(v) => Some(farmco_sync::VillageCode::parse("village_code", v)?.to_string()),
        None => None,
    };
    let farm_uuid = match &req.farm_id {
        Some(f) => Some(
            f.parse::<uuid::Uuid>()
                .map_err(|_| invalid("farm_id", "farm_id must be a farm's UUID"))?,
        ),
        None => None,
    };
    let (password, generated) = match &req.mqtt_password {
        Some(p) => {
            if p.chars().count() < SENSOR_PASSWORD_CHARS_MIN || p.len() > SENSOR_PASSWORD_BYTES_MAX
            {
                return Err(invalid(
                    "mqtt_password",
                    "mqtt_password must have 12 to 128 characters",
                ));
            }
            (p.clone(), false)
        }
        None => (crate::auth::new_token(), true),
    };
    let st = state.clone();
    let by = user.0.username.clone();
    let to_hash = password.clone();
    let row = blocking(move || {
        let now = now_ms();
        let (farm_id, farm_link, village) = match farm_uuid {
            Some(u) => {
                let farm = st
                    .store
                    .farm(farmco_sync::FarmId(u))
                    .map_err(ApiError::from)?
                    .ok_or_else(|| ApiError::not_found("farm").with_field("farm_id"))?;
                (
                    Some(u.to_string()),
                    crate::store::ingest::FarmLink::Explicit,
                    Some(farm.village_code.to_string()),
                )
            }
            None => {
                let index = st.farm_index.read().unwrap_or_else(|p| p.into_inner());
                let found = req.lat.zip(req.lon).and_then(|(lat, lon)| {
                    crate::ingest::linking::farm_for_point(&index, lat, lon)
                });
                let village = match found {
                    Some(u) => st
                        .store
                        .farm(farmco_sync::FarmId(u))
                        .map_err(ApiError::from)?
                        .map(|f| f.village_code.to_string()),
                    None => None,
                };
                (
                    found.map(|u| u.to_string()),
                    crate::store::ingest::FarmLink::Auto,
                    village,
                )
            }
        };
        let hash = crate::auth::hash_password(&to_hash).map_err(|_| ApiError::internal())?;
        let row = crate::store::ingest::SensorRow {
            id: req.id.clone(),
            kind: req.kind.trim().to_owned(),
            lat: req.lat,
            lon: req.lon,
            farm_id,
            farm_link,
            village_code: village_code.or(village),
            created_ms: now,
            updated_ms: now,
        };
        st.store
            .write(|tx| {
                crate::store::ingest::insert_sensor(tx, &row, &hash)?;
                crate::store::audit::append(
                    tx,
                    now,
                    &crate::store::audit::AuditEvent {
                        actor: &by,
                        action: "sensor.register",
                        target: &row.id,
                        detail: serde_json::json!({
                            "farm_id": row.farm_id, "farm_link": row.farm_link.as_str(),
                            "village_code": row.village_code, "password_generated": generated,
                        }),
                    },
                )?;
                Ok(())
            })
            .map_err(ApiError::from)?;
        Ok(row)
    })
    .await?;
    let mqtt_username = row.id.clone();
    Ok((
        StatusCode::CREATED,
        Json(CreatedSensor {
            sensor: row.into(),
            mqtt_username,
            mqtt_password: generated.then_some(password),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SensorsQuery {
    /// Only ids after this (paging).
    pub after: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SensorsResponse {
    pub sensors: Vec<SensorDto>,
}

#[utoipa::path(get, path = "/api/v1/sensors", tag = "sensors", params(SensorsQuery),
    responses((status = 200, body = SensorsResponse)), security(("bearer" = [])))]
pub async fn list_sensors(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SensorsQuery>,
) -> Result<Json<SensorsResponse>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > SENSORS_PER_PAGE_MAX {
        return Err(ApiError::bad_request("limit must be between 1 and 1000").with_field("limit"));
    }
    let store = state.store.clone();
    let after = q.after.unwrap_or_default();
    let scope = user.village_scope();
    let rows = blocking(move || {
        store
            .read(|c| crate::store::ingest::list_sensors_in(c, &after, limit, scope.as_deref()))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(SensorsResponse {
        sensors: rows.into_iter().map(SensorDto::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/sensors/{id}", tag = "sensors",
    params(("id" = String, Path, description = "sensor id")),
    responses((status = 200, body = SensorDto), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_sensor(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SensorDto>, ApiError> {
    validate_sensor_id("id", &id)?;
    let store = state.store.clone();
    let (row, village) = blocking(move || {
        store
            .read(|c| {
                Ok((
                    crate::store::ingest::sensor(c, &id)?,
                    crate::store::ingest::sensor_village_of(c, &id)?,
                ))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let row = row.ok_or_else(|| ApiError::not_found("sensor"))?;
    user.require_village(village.as_deref(), "sensor")?;
    Ok(Json(row.into()))
}
