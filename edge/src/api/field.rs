//! Routes for the field-agent app (issue 12): the village copy the phone keeps offline.
//!
//! - `GET /api/v1/field/snapshot?village_code=` (agent of that village, or supervisor): every
//!   farmer of the village with farms (boundaries) and soil tests, for the phone's IndexedDB.

use axum::Json;
use axum::extract::State;
use farmco_sync::VillageCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiQuery, CurrentUser, SharedState, blocking};
use crate::store::field::{SNAPSHOT_FARMERS_MAX, village_snapshot};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// The village to copy (one of the caller's).
    pub village_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotResponse {
    pub village_code: String,
    /// When the box read this copy (RFC 3339).
    pub generated_at: String,
    /// Farmers with `farms` (each with `boundary` and `soil_tests`), by name.
    #[schema(value_type = Vec<Object>)]
    pub farmers: Vec<serde_json::Value>,
}

#[utoipa::path(get, path = "/api/v1/field/snapshot", tag = "field app", params(SnapshotQuery),
    responses((status = 200, body = SnapshotResponse), (status = 403, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn snapshot(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> Result<Json<SnapshotResponse>, ApiError> {
    let village = VillageCode::parse("village_code", &q.village_code)?;
    if !user.0.can_access_village(village) {
        return Err(
            ApiError::forbidden(format!("you are not assigned to village {village}"))
                .with_field("village_code"),
        );
    }
    let store = state.store.clone();
    let code = village.to_string();
    let farmers = blocking(move || {
        store
            .read(|c| village_snapshot(c, &code))
            .map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "limit_exceeded",
            format!("the village has more than {SNAPSHOT_FARMERS_MAX} farmers"),
        )
        .with_field("village_code")
    })?;
    let mut farmers = farmers;
    for farmer in &mut farmers {
        add_soil_advice(farmer);
    }
    Ok(Json(SnapshotResponse {
        village_code: village.to_string(),
        generated_at: super::auth_routes::rfc3339_ms(crate::store::now_ms()),
        farmers,
    }))
}

/// Add the box's advice to each soil test of a farmer's farms: N/P/K ratings of the Soil Health
/// Card scheme and the dose for the farm's latest sown crop (`farmco_village::answers::soil_card`, the
/// same rule as the SOIL text message).
fn add_soil_advice(farmer: &mut serde_json::Value) {
    let Some(farms) = farmer
        .get_mut("farms")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for farm in farms {
        let crop = farm
            .get("crops")
            .and_then(serde_json::Value::as_array)
            .and_then(|crops| {
                let mut dated: Vec<(&str, farmco_village::sms::command::Crop)> = crops
                    .iter()
                    .filter_map(|c| {
                        let crop = farmco_village::sms::command::Crop::from_word(
                            c.get("crop")?.as_str()?,
                        )?;
                        Some((c.get("sowing_date")?.as_str()?, crop))
                    })
                    .collect();
                dated.sort_by(|a, b| a.0.cmp(b.0));
                dated.last().map(|(_, c)| *c)
            });
        let Some(tests) = farm
            .get_mut("soil_tests")
            .and_then(serde_json::Value::as_array_mut)
        else {
            continue;
        };
        for test in tests {
            let sampled_on = test
                .get("sampled_on")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let parameters: std::collections::BTreeMap<String, f64> = test
                .get("parameters")
                .and_then(serde_json::Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            let card = farmco_village::answers::soil_card(&sampled_on, &parameters, crop);
            let rating = |s: Option<farmco_village::answers::NutrientStatus>| {
                s.map(|s| match s {
                    farmco_village::answers::NutrientStatus::Low => "low",
                    farmco_village::answers::NutrientStatus::Medium => "medium",
                    farmco_village::answers::NutrientStatus::High => "high",
                })
            };
            test["advice"] = serde_json::json!({
                "n": rating(card.n),
                "p": rating(card.p),
                "k": rating(card.k),
                "crop": card.crop.map(farmco_village::sms::command::Crop::key),
                "dose_kg_ha": card.dose.map(|d| serde_json::json!({"n": d.n, "p2o5": d.p2o5, "k2o": d.k2o})),
            });
        }
    }
}
