//! Farmers and farms for ops staff: detail, and farms near a point (the paged farmer list and
//! search are in `api::console`).
//!
//! Ops and admin users see every village. Distances and areas come from PostGIS on geography
//! (the WGS84 spheroid); a farm also reports the area the edge computed (`area_ha`, geo's
//! geodesic area) next to PostGIS's (`postgis_area_ha`) and PostGIS's validity verdict.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiError, ApiQuery, CurrentUser, SharedState, rfc3339};
use crate::store::farms::{FarmRow, FarmerRow, NEARBY_RADIUS_M_MAX, NEARBY_RESULTS_MAX};
use crate::store::users::Role;

/// Nearby results when no limit is given (as on the edge).
pub const NEARBY_RESULTS_DEFAULT: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearbyQuery {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct ConsentsDto {
    pub sms: bool,
    pub voice: bool,
    pub data_sharing: bool,
}

#[derive(Debug, Serialize)]
pub struct FarmSummary {
    pub id: String,
    pub survey_number: String,
    pub area_ha: f64,
}

#[derive(Debug, Serialize)]
pub struct FarmerResponse {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub language: String,
    pub village_code: String,
    pub consents: ConsentsDto,
    pub created_at: String,
    pub updated_at: String,
    /// Present on single-farmer responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub farms: Option<Vec<FarmSummary>>,
}

#[derive(Debug, Serialize)]
pub struct Centroid {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Serialize)]
pub struct FarmResponse {
    pub id: String,
    pub farmer_id: String,
    pub village_code: String,
    pub survey_number: String,
    pub declared_area_ha: f64,
    /// Geodesic area of the boundary computed by farmco-sync (geo, WGS84), hectares.
    pub area_ha: f64,
    /// `ST_Area(boundary::geography) / 1e4`, hectares.
    pub postgis_area_ha: f64,
    /// `ST_IsValid(boundary)`.
    pub valid: bool,
    pub centroid: Centroid,
    /// GeoJSON MultiPolygon (lon, lat).
    pub boundary: serde_json::Value,
    pub crops: serde_json::Value,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct NearbyFarmDto {
    pub id: String,
    pub farmer_id: String,
    pub distance_m: f64,
}

#[derive(Debug, Serialize)]
pub struct NearbyResponse {
    pub farms: Vec<NearbyFarmDto>,
}

fn farmer_response(row: &FarmerRow, farms: Option<&[FarmRow]>) -> FarmerResponse {
    FarmerResponse {
        id: row.id.to_string(),
        name: row.name.clone(),
        phone: row.phone.clone(),
        language: row.language.clone(),
        village_code: row.village_code.clone(),
        consents: ConsentsDto {
            sms: row.consent_sms,
            voice: row.consent_voice,
            data_sharing: row.consent_data_sharing,
        },
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        farms: farms.map(|farms| {
            farms
                .iter()
                .map(|f| FarmSummary {
                    id: f.id.to_string(),
                    survey_number: f.survey_number.clone(),
                    area_ha: f.area_ha,
                })
                .collect()
        }),
    }
}

fn farm_response(row: FarmRow) -> FarmResponse {
    FarmResponse {
        id: row.id.to_string(),
        farmer_id: row.farmer_id.to_string(),
        village_code: row.village_code,
        survey_number: row.survey_number,
        declared_area_ha: row.declared_area_ha,
        area_ha: row.area_ha,
        postgis_area_ha: row.postgis_area_ha,
        valid: row.valid,
        centroid: Centroid {
            lat: row.centroid_lat,
            lon: row.centroid_lon,
        },
        boundary: row.boundary,
        crops: row.crops,
        updated_at: rfc3339(row.updated_at),
    }
}

fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::not_found(what))
}

pub async fn get_farmer(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<FarmerResponse>, ApiError> {
    user.require(Role::Ops)?;
    let id = parse_id(&id, "farmer")?;
    let row = state
        .store
        .farmer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("farmer"))?;
    let farms = state.store.farms_of_farmer(id).await?;
    Ok(Json(farmer_response(&row, Some(&farms))))
}

pub async fn get_farm(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<FarmResponse>, ApiError> {
    user.require(Role::Ops)?;
    let id = parse_id(&id, "farm")?;
    let row = state
        .store
        .farm(id)
        .await?
        .ok_or_else(|| ApiError::not_found("farm"))?;
    Ok(Json(farm_response(row)))
}

pub async fn nearby_farms(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<NearbyQuery>,
) -> Result<Json<NearbyResponse>, ApiError> {
    user.require(Role::Ops)?;
    if !q.lat.is_finite() || !(-90.0..=90.0).contains(&q.lat) {
        return Err(ApiError::bad_request("lat must be between -90 and 90").with_field("lat"));
    }
    if !q.lon.is_finite() || !(-180.0..=180.0).contains(&q.lon) {
        return Err(ApiError::bad_request("lon must be between -180 and 180").with_field("lon"));
    }
    if !q.radius_m.is_finite() || q.radius_m < 0.0 || q.radius_m > NEARBY_RADIUS_M_MAX {
        return Err(ApiError::bad_request(format!(
            "radius_m must be between 0 and {NEARBY_RADIUS_M_MAX}"
        ))
        .with_field("radius_m"));
    }
    let limit = q
        .limit
        .unwrap_or(NEARBY_RESULTS_DEFAULT)
        .clamp(1, NEARBY_RESULTS_MAX);
    let found = state
        .store
        .nearby_farms(q.lat, q.lon, q.radius_m, limit)
        .await?;
    Ok(Json(NearbyResponse {
        farms: found
            .into_iter()
            .map(|f| NearbyFarmDto {
                id: f.id.to_string(),
                farmer_id: f.farmer_id.to_string(),
                // Centimetres, as on the edge.
                distance_m: (f.distance_m * 100.0).round() / 100.0,
            })
            .collect(),
    }))
}
