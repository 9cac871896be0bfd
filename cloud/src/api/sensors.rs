//! Sensor trends for ops staff: `GET /api/v1/sensors/{id}/trends?metric=&from=&to=&bucket=7d`.
//!
//! Buckets (`Nh` or `Nd`) are aligned to `from`; each carries avg, the quartiles
//! (`percentile_cont` 0.25 / 0.75), min, max and count. Defaults: `to` = now, `from` = 30 days
//! before `to`, `bucket` = 1d. At most `TREND_BUCKETS_MAX` buckets per query.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiQuery, CurrentUser, SharedState, parse_rfc3339, rfc3339};
use crate::store::readings::{SENSOR_FIELD_CHARS_MAX, default_trend_window, parse_bucket};
use crate::store::users::Role;

/// Bucket width when none is given.
pub const BUCKET_DEFAULT: &str = "1d";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    pub metric: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub bucket: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TrendBucketDto {
    pub start: String,
    pub avg: f64,
    pub p25: f64,
    pub p75: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct TrendResponse {
    pub sensor_id: String,
    pub metric: String,
    pub bucket: String,
    pub from: String,
    pub to: String,
    pub buckets: Vec<TrendBucketDto>,
}

fn check_label(field: &str, v: &str) -> Result<(), ApiError> {
    if v.is_empty() || v.chars().count() > SENSOR_FIELD_CHARS_MAX || v.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "{field} must be 1 to {SENSOR_FIELD_CHARS_MAX} printable characters"
        ))
        .with_field(field));
    }
    Ok(())
}

pub async fn trends(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(sensor_id): Path<String>,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> Result<Json<TrendResponse>, ApiError> {
    user.require(Role::Ops)?;
    check_label("sensor_id", &sensor_id)?;
    check_label("metric", &q.metric)?;
    let bucket = q.bucket.unwrap_or_else(|| BUCKET_DEFAULT.to_owned());
    let bucket_seconds = parse_bucket(&bucket)?;
    let to = match &q.to {
        Some(s) => parse_rfc3339("to", s)?,
        None => crate::store::now(),
    };
    let from = match &q.from {
        Some(s) => parse_rfc3339("from", s)?,
        None => default_trend_window(to),
    };
    let buckets = state
        .store
        .trends(&sensor_id, &q.metric, from, to, bucket_seconds)
        .await?;
    Ok(Json(TrendResponse {
        sensor_id,
        metric: q.metric,
        bucket,
        from: rfc3339(from),
        to: rfc3339(to),
        buckets: buckets
            .into_iter()
            .map(|b| TrendBucketDto {
                start: rfc3339(b.start),
                avg: b.avg,
                p25: b.p25,
                p75: b.p75,
                min: b.min,
                max: b.max,
                count: b.count,
            })
            .collect(),
    }))
}
