//! Farmer, farm and soil-test routes: the forms a field agent fills in.
//!
//! Request bodies are explicit wire types (`*Request`), validated into `farmco_sync` domain types
//! before anything is stored; responses are wire types too. Village scope: an agent sees only the
//! villages assigned to them, and a farmer elsewhere is answered 404, as if it did not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use farmco_sync::doc::{FarmPatch, FarmerPatch};
use farmco_sync::{
    Boundary, Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, PersonName,
    PhoneNumber, Season, SoilParameters, SoilTest, SoilTestId, ValidationError, VillageCode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth_routes::rfc3339_ms;
use super::{ApiError, ApiJson, CurrentUser, SharedState, blocking};
use crate::store::farmers::{FarmRow, FarmerRow, WriteOutcome, parse_date};
use crate::store::now_ms;
use crate::store::users::User;

/// Declared and computed area may differ by this fraction before we warn.
pub const AREA_MISMATCH_WARN_FRACTION: f64 = 0.20;
/// Overlap with another farm, as a fraction of either farm's area, before we warn.
pub const OVERLAP_WARN_FRACTION: f64 = 0.05;
/// Largest radius accepted by the nearby query (metres).
pub const NEARBY_RADIUS_M_MAX: f64 = 100_000.0;
/// Default and maximum number of nearby results.
pub const NEARBY_RESULTS_DEFAULT: usize = 100;
pub const NEARBY_RESULTS_MAX: usize = 1_000;
/// Longest crop name and lab name.
pub const CROP_CHARS_MAX: usize = 60;
pub const LAB_CHARS_MAX: usize = 120;
/// Most crop seasons on one farm.
pub const CROPS_PER_FARM_MAX: usize = 50;

// ---------------------------------------------------------------- wire types

/// A village code given as a JSON string ("563412") or number (563412).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CodeInput {
    Text(String),
    Number(u64),
}

impl CodeInput {
    fn parse(&self, field: &str) -> Result<VillageCode, ValidationError> {
        match self {
            CodeInput::Text(s) => VillageCode::parse(field, s),
            CodeInput::Number(n) => VillageCode::parse(field, &n.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentsDto {
    #[serde(default)]
    pub sms: bool,
    #[serde(default)]
    pub voice: bool,
    #[serde(default)]
    pub data_sharing: bool,
}

impl From<ConsentsDto> for Consents {
    fn from(c: ConsentsDto) -> Consents {
        Consents {
            sms: c.sms,
            voice: c.voice,
            data_sharing: c.data_sharing,
        }
    }
}

impl From<Consents> for ConsentsDto {
    fn from(c: Consents) -> ConsentsDto {
        ConsentsDto {
            sms: c.sms,
            voice: c.voice,
            data_sharing: c.data_sharing,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFarmerRequest {
    /// Optional id chosen by the client (a UUID): the offline app names records before the box
    /// sees them, so a farm can refer to a farmer registered in the same offline session.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// Indian mobile number; normalized to E.164 (+91XXXXXXXXXX).
    pub phone: String,
    /// en, hi, mr, te, ta, kn, gu, pa, bn or or.
    pub language: String,
    /// 6-digit LGD village code (string or number).
    #[schema(value_type = String, example = "563412")]
    pub village_code: CodeInput,
    #[serde(default)]
    pub consents: Option<ConsentsDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFarmerRequest {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    #[schema(value_type = Option<String>)]
    pub village_code: Option<CodeInput>,
    pub consents: Option<ConsentsDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FarmSummary {
    pub id: String,
    pub survey_number: String,
    pub area_ha: f64,
}

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct FarmerListResponse {
    pub farmers: Vec<FarmerResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryDto {
    /// automerge change hash (hex)
    pub change: String,
    pub author: String,
    pub at: String,
    pub action: String,
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    pub farmer_id: String,
    pub history: Vec<HistoryEntryDto>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CropDto {
    pub crop: String,
    /// kharif, rabi or zaid
    pub season: String,
    /// YYYY-MM-DD
    pub sowing_date: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFarmRequest {
    /// Optional id chosen by the client (a UUID), as for farmers.
    #[serde(default)]
    pub id: Option<String>,
    pub survey_number: String,
    pub declared_area_ha: f64,
    /// GeoJSON (RFC 7946) Polygon or MultiPolygon geometry, lon/lat.
    #[schema(value_type = Object)]
    pub boundary: serde_json::Value,
    #[serde(default)]
    pub crops: Vec<CropDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFarmRequest {
    pub survey_number: Option<String>,
    pub declared_area_ha: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub boundary: Option<serde_json::Value>,
    pub crops: Option<Vec<CropDto>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Centroid {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Warning {
    /// `area_mismatch` or `overlap`
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub farm_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FarmResponse {
    pub id: String,
    pub farmer_id: String,
    pub village_code: String,
    pub survey_number: String,
    pub declared_area_ha: f64,
    /// Geodesic area of the boundary (WGS84), hectares.
    pub area_ha: f64,
    pub centroid: Centroid,
    #[schema(value_type = Object)]
    pub boundary: serde_json::Value,
    pub crops: Vec<CropDto>,
    /// Present on create and update responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Warning>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Substring of the name, or at least 3 digits of the phone number.
    pub q: Option<String>,
    pub village_code: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearbyQuery {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyFarmDto {
    pub id: String,
    pub farmer_id: String,
    pub distance_m: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyResponse {
    pub farms: Vec<NearbyFarmDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSoilTestRequest {
    /// Optional id chosen by the client (a UUID), as for farmers.
    #[serde(default)]
    pub id: Option<String>,
    /// Date the sample was taken, YYYY-MM-DD (alias `sampled_date`).
    #[serde(alias = "sampled_date")]
    pub sampled_on: String,
    pub lab: String,
    /// Soil Health Card parameters by key: ph, ec (dS/m), oc (%), n, p, k (kg/ha),
    /// s, zn, fe, cu, mn, b (ppm). At least one.
    #[schema(value_type = Object)]
    pub parameters: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SoilTestResponse {
    pub id: String,
    pub farm_id: String,
    pub sampled_on: String,
    pub lab: String,
    #[schema(value_type = Object)]
    pub parameters: std::collections::BTreeMap<String, f64>,
    #[schema(value_type = Object)]
    pub units: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SoilTestListResponse {
    pub soil_tests: Vec<SoilTestResponse>,
}

pub use super::ApiQuery;

// ---------------------------------------------------------------- conversions

fn farmer_response(row: &FarmerRow, farms: Option<&[(FarmId, String, f64)]>) -> FarmerResponse {
    let f = &row.farmer;
    FarmerResponse {
        id: f.id.to_string(),
        name: f.name.as_str().to_owned(),
        phone: f.phone.as_str().to_owned(),
        language: f.language.code().to_owned(),
        village_code: f.village_code.to_string(),
        consents: f.consents.into(),
        created_at: rfc3339_ms(row.created_ms),
        updated_at: rfc3339_ms(row.updated_ms),
        farms: farms.map(|farms| {
            farms
                .iter()
                .map(|(id, survey_number, area_ha)| FarmSummary {
                    id: id.to_string(),
                    survey_number: survey_number.clone(),
                    area_ha: *area_ha,
                })
                .collect()
        }),
    }
}

fn crop_dtos(crops: &[CropSeason]) -> Vec<CropDto> {
    crops
        .iter()
        .map(|c| CropDto {
            crop: c.crop.clone(),
            season: c.season.as_str().to_owned(),
            sowing_date: c.sowing_date.to_string(),
        })
        .collect()
}

fn farm_response(row: &FarmRow, warnings: Option<Vec<Warning>>) -> FarmResponse {
    FarmResponse {
        id: row.farm.id.to_string(),
        farmer_id: row.farm.farmer_id.to_string(),
        village_code: row.village_code.to_string(),
        survey_number: row.farm.survey_number.clone(),
        declared_area_ha: row.farm.declared_area_ha,
        area_ha: row.area_ha,
        centroid: Centroid {
            lat: row.centroid_lat,
            lon: row.centroid_lon,
        },
        boundary: row.farm.boundary.to_geojson(),
        crops: crop_dtos(&row.farm.crops),
        warnings,
    }
}

fn soil_test_response(t: &SoilTest) -> SoilTestResponse {
    SoilTestResponse {
        id: t.id.to_string(),
        farm_id: t.farm_id.to_string(),
        sampled_on: t.sampled_on.to_string(),
        lab: t.lab.clone(),
        parameters: t
            .parameters
            .iter()
            .map(|(p, v)| (p.key().to_owned(), v))
            .collect(),
        units: t
            .parameters
            .iter()
            .map(|(p, _)| (p.key().to_owned(), p.unit().to_owned()))
            .collect(),
    }
}

fn bounded_text(field: &str, value: &str, max_chars: usize) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError {
            field: field.to_owned(),
            code: "required",
            message: format!("{field} must not be empty"),
        });
    }
    if v.chars().count() > max_chars || v.chars().any(char::is_control) {
        return Err(ValidationError {
            field: field.to_owned(),
            code: "too_long",
            message: format!("{field} must be at most {max_chars} printable characters"),
        });
    }
    Ok(v.to_owned())
}

fn parse_crops(field: &str, crops: &[CropDto]) -> Result<Vec<CropSeason>, ValidationError> {
    if crops.len() > CROPS_PER_FARM_MAX {
        return Err(ValidationError {
            field: field.to_owned(),
            code: "too_many",
            message: format!("at most {CROPS_PER_FARM_MAX} crop seasons"),
        });
    }
    crops
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(CropSeason {
                crop: bounded_text(&format!("{field}[{i}].crop"), &c.crop, CROP_CHARS_MAX)?
                    .to_lowercase(),
                season: Season::parse(&format!("{field}[{i}].season"), &c.season)?,
                sowing_date: parse_date(&format!("{field}[{i}].sowing_date"), &c.sowing_date)?,
            })
        })
        .collect()
}

fn parse_area(field: &str, v: f64) -> Result<f64, ValidationError> {
    if !v.is_finite() || v <= 0.0 || v > 1_000.0 {
        return Err(ValidationError {
            field: field.to_owned(),
            code: "out_of_range",
            message: "declared_area_ha must be a number above 0 and at most 1000".into(),
        });
    }
    Ok(v)
}

/// A client-chosen record id: a UUID, or a fresh v4 when the client sent none.
fn client_id(id: Option<&str>) -> Result<uuid::Uuid, ValidationError> {
    match id {
        None => Ok(uuid::Uuid::new_v4()),
        Some(text) => text
            .parse::<uuid::Uuid>()
            .ok()
            .filter(|u| !u.is_nil())
            .ok_or_else(|| ValidationError {
                field: "id".into(),
                code: "invalid_id",
                message: "id must be a UUID".into(),
            }),
    }
}

/// The answer to a create whose client-chosen id is taken: the app counts it as "already
/// created" (its first answer was lost), so it must not be mistaken for other conflicts.
fn already_exists(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_exists",
        format!("a {what} with this id already exists"),
    )
    .with_field("id")
}

fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Load a farmer the caller may see, or 404.
async fn visible_farmer(
    state: &SharedState,
    user: &CurrentUser,
    id: FarmerId,
) -> Result<FarmerRow, ApiError> {
    let store = state.store.clone();
    let row = blocking(move || store.farmer(id).map_err(ApiError::from)).await?;
    match row {
        Some(row) if user.0.can_access_village(row.farmer.village_code) => Ok(row),
        _ => Err(ApiError::not_found("farmer")),
    }
}

async fn visible_farm(
    state: &SharedState,
    user: &CurrentUser,
    id: FarmId,
) -> Result<FarmRow, ApiError> {
    let store = state.store.clone();
    let row = blocking(move || store.farm(id).map_err(ApiError::from)).await?;
    match row {
        Some(row) if user.0.can_access_village(row.village_code) => Ok(row),
        _ => Err(ApiError::not_found("farm")),
    }
}

/// Warnings for a farm about to be stored: declared area far from computed area, and overlap
/// with other farms (found through the spatial index, measured exactly).
/// Overlaps with farms outside `viewer`'s villages are reported without their id or survey
/// number (review 2026-12, finding 10: agents must not learn other villages' farms).
fn farm_warnings(state: &SharedState, viewer: &User, farm: &Farm) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let area = farm.boundary.geodesic_area_ha();
    let declared = farm.declared_area_ha;
    if declared > 0.0 && ((area - declared).abs() / declared) > AREA_MISMATCH_WARN_FRACTION {
        warnings.push(Warning {
            code: "area_mismatch",
            message: format!(
                "boundary encloses {area:.3} ha but {declared:.3} ha were declared (more than {}% apart)",
                AREA_MISMATCH_WARN_FRACTION * 100.0
            ),
            farm_id: None,
        });
    }
    let (lat, lon) = farm.boundary.centroid();
    // Every farm that overlaps lies within the distance from the centroid to the farthest vertex.
    let reach_m = farm
        .boundary
        .multi_polygon()
        .0
        .iter()
        .flat_map(|p| p.exterior().0.iter())
        .map(|c| {
            use geo::Distance;
            geo::Geodesic.distance(geo::Point::new(lon, lat), geo::Point::new(c.x, c.y))
        })
        .fold(0.0_f64, f64::max)
        * 1.1
        + 1.0;
    let candidates = {
        let index = state.farm_index.read().unwrap_or_else(|p| p.into_inner());
        index.nearby(lat, lon, reach_m, 64)
    };
    for c in candidates {
        if c.id == farm.id.0 {
            continue;
        }
        let Ok(Some(other)) = state.store.farm(FarmId(c.id)) else {
            continue;
        };
        let (of_new, of_other) = farm.boundary.overlap_fraction(&other.farm.boundary);
        if (of_new > OVERLAP_WARN_FRACTION || of_other > OVERLAP_WARN_FRACTION)
            && !viewer.can_access_village(other.village_code)
        {
            warnings.push(Warning {
                code: "overlap",
                message: format!(
                    "boundary overlaps a farm in another village by {:.1}% of this farm",
                    of_new * 100.0
                ),
                farm_id: None,
            });
        } else if of_new > OVERLAP_WARN_FRACTION || of_other > OVERLAP_WARN_FRACTION {
            warnings.push(Warning {
                code: "overlap",
                message: format!(
                    "boundary overlaps farm {} (survey {}) by {:.1}% of this farm and {:.1}% of that one",
                    c.id,
                    other.farm.survey_number,
                    of_new * 100.0,
                    of_other * 100.0
                ),
                farm_id: Some(c.id.to_string()),
            });
        }
    }
    warnings
}

// ---------------------------------------------------------------- farmers

#[utoipa::path(post, path = "/api/v1/farmers", tag = "farmers", request_body = CreateFarmerRequest,
    responses((status = 201, body = FarmerResponse), (status = 403, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_farmer(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateFarmerRequest>,
) -> Result<(StatusCode, Json<FarmerResponse>), ApiError> {
    let farmer = Farmer {
        id: FarmerId(client_id(req.id.as_deref())?),
        name: PersonName::parse("name", &req.name)?,
        phone: PhoneNumber::parse("phone", &req.phone)?,
        language: Language::parse("language", &req.language)?,
        village_code: req.village_code.parse("village_code")?,
        consents: req.consents.unwrap_or_default().into(),
    };
    if !user.0.can_access_village(farmer.village_code) {
        return Err(ApiError::forbidden(format!(
            "you are not assigned to village {}",
            farmer.village_code
        ))
        .with_field("village_code"));
    }
    let store = state.store.clone();
    let author = user.0.username.clone();
    let row = blocking(move || {
        if req.id.is_some() && store.farmer(farmer.id).map_err(ApiError::from)?.is_some() {
            return Err(already_exists("farmer"));
        }
        store
            .create_farmer(&farmer, &author, now_ms())
            .map_err(ApiError::from)?;
        store
            .farmer(farmer.id)
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::internal)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(farmer_response(&row, Some(&[])))))
}

#[utoipa::path(get, path = "/api/v1/farmers", tag = "farmers", params(SearchQuery),
    responses((status = 200, body = FarmerListResponse)), security(("bearer" = [])))]
pub async fn search_farmers(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<FarmerListResponse>, ApiError> {
    let mut villages: Option<Vec<VillageCode>> = match user.0.role {
        crate::store::users::Role::Agent => Some(user.0.villages.clone()),
        _ => None,
    };
    if let Some(code) = query.village_code.as_deref().filter(|c| !c.is_empty()) {
        let code = VillageCode::parse("village_code", code)?;
        villages = Some(if user.0.can_access_village(code) {
            vec![code]
        } else {
            Vec::new()
        });
    }
    let limit = query.limit.unwrap_or(50);
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .search_farmers(query.q.as_deref(), villages.as_deref(), limit)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(FarmerListResponse {
        farmers: rows.iter().map(|r| farmer_response(r, None)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/farmers/{id}", tag = "farmers",
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 200, body = FarmerResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_farmer(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<FarmerResponse>, ApiError> {
    let id: FarmerId = parse_id(&id, "farmer")?;
    let store = state.store.clone();
    // One trip to the blocking pool for the farmer and their farms.
    let found =
        blocking(move || store.farmer_with_farm_summaries(id).map_err(ApiError::from)).await?;
    match found {
        Some((row, farms)) if user.0.can_access_village(row.farmer.village_code) => {
            Ok(Json(farmer_response(&row, Some(&farms))))
        }
        _ => Err(ApiError::not_found("farmer")),
    }
}

#[utoipa::path(patch, path = "/api/v1/farmers/{id}", tag = "farmers", request_body = PatchFarmerRequest,
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 200, body = FarmerResponse), (status = 404, body = super::ErrorBody),
              (status = 409, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_farmer(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PatchFarmerRequest>,
) -> Result<Json<FarmerResponse>, ApiError> {
    let id: FarmerId = parse_id(&id, "farmer")?;
    visible_farmer(&state, &user, id).await?;
    let patch = FarmerPatch {
        name: req
            .name
            .as_deref()
            .map(|v| PersonName::parse("name", v))
            .transpose()?,
        phone: req
            .phone
            .as_deref()
            .map(|v| PhoneNumber::parse("phone", v))
            .transpose()?,
        language: req
            .language
            .as_deref()
            .map(|v| Language::parse("language", v))
            .transpose()?,
        village_code: req
            .village_code
            .as_ref()
            .map(|v| v.parse("village_code"))
            .transpose()?,
        consents: req.consents.map(Consents::from),
    };
    if let Some(v) = patch.village_code
        && !user.0.can_access_village(v)
    {
        return Err(
            ApiError::forbidden(format!("you are not assigned to village {v}"))
                .with_field("village_code"),
        );
    }
    let store = state.store.clone();
    let author = user.0.username.clone();
    let (row, farms) = blocking(move || {
        store
            .update_farmer(id, &patch, &author, now_ms())
            .map_err(ApiError::from)?;
        let row = store
            .farmer(id)
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::internal)?;
        let farms = store.farm_summaries(id).map_err(ApiError::from)?;
        Ok((row, farms))
    })
    .await?;
    Ok(Json(farmer_response(&row, Some(&farms))))
}

#[utoipa::path(get, path = "/api/v1/farmers/{id}/history", tag = "farmers",
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 200, body = HistoryResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn farmer_history(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let id: FarmerId = parse_id(&id, "farmer")?;
    visible_farmer(&state, &user, id).await?;
    let store = state.store.clone();
    let entries = blocking(move || store.farmer_history(id).map_err(ApiError::from)).await?;
    Ok(Json(HistoryResponse {
        farmer_id: id.to_string(),
        history: entries
            .into_iter()
            .map(|e| HistoryEntryDto {
                change: e.hash,
                author: e.author,
                at: rfc3339_ms(e.time_ms),
                action: e.action,
                fields: e.fields,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- farms

#[utoipa::path(post, path = "/api/v1/farmers/{id}/farms", tag = "farms", request_body = CreateFarmRequest,
    params(("id" = String, Path, description = "farmer id")),
    responses((status = 201, body = FarmResponse), (status = 404, body = super::ErrorBody),
              (status = 413, body = super::ErrorBody), (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_farm(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateFarmRequest>,
) -> Result<(StatusCode, Json<FarmResponse>), ApiError> {
    let farmer_id: FarmerId = parse_id(&id, "farmer")?;
    visible_farmer(&state, &user, farmer_id).await?;
    let farm = Farm {
        id: FarmId(client_id(req.id.as_deref())?),
        farmer_id,
        survey_number: bounded_text("survey_number", &req.survey_number, 40)?,
        declared_area_ha: parse_area("declared_area_ha", req.declared_area_ha)?,
        boundary: Boundary::from_geojson("boundary", &req.boundary)?,
        crops: parse_crops("crops", &req.crops)?,
    };
    let st = state.clone();
    let author = user.0.username.clone();
    let viewer = user.0.clone();
    let client_chose_id = req.id.is_some();
    let (row, warnings) = blocking(move || {
        if client_chose_id && st.store.farm(farm.id).map_err(ApiError::from)?.is_some() {
            return Err(already_exists("farm"));
        }
        let warnings = farm_warnings(&st, &viewer, &farm);
        let outcome = st
            .store
            .add_farm(&farm, &author, now_ms())
            .map_err(ApiError::from)?;
        st.reindex(&outcome);
        let row = st
            .store
            .farm(farm.id)
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::internal)?;
        Ok((row, warnings))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(farm_response(&row, Some(warnings))),
    ))
}

#[utoipa::path(get, path = "/api/v1/farms/{id}", tag = "farms",
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, body = FarmResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_farm(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<FarmResponse>, ApiError> {
    let id: FarmId = parse_id(&id, "farm")?;
    let row = visible_farm(&state, &user, id).await?;
    Ok(Json(farm_response(&row, None)))
}

#[utoipa::path(patch, path = "/api/v1/farms/{id}", tag = "farms", request_body = PatchFarmRequest,
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, body = FarmResponse), (status = 404, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_farm(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PatchFarmRequest>,
) -> Result<Json<FarmResponse>, ApiError> {
    let id: FarmId = parse_id(&id, "farm")?;
    let existing = visible_farm(&state, &user, id).await?;
    let patch = FarmPatch {
        survey_number: req
            .survey_number
            .as_deref()
            .map(|v| bounded_text("survey_number", v, 40))
            .transpose()?,
        declared_area_ha: req
            .declared_area_ha
            .map(|v| parse_area("declared_area_ha", v))
            .transpose()?,
        boundary: req
            .boundary
            .as_ref()
            .map(|v| Boundary::from_geojson("boundary", v))
            .transpose()?,
        crops: req
            .crops
            .as_deref()
            .map(|v| parse_crops("crops", v))
            .transpose()?,
    };
    let mut updated = existing.farm.clone();
    if let Some(v) = &patch.survey_number {
        updated.survey_number.clone_from(v);
    }
    if let Some(v) = patch.declared_area_ha {
        updated.declared_area_ha = v;
    }
    if let Some(v) = &patch.boundary {
        updated.boundary = v.clone();
    }
    let st = state.clone();
    let author = user.0.username.clone();
    let farmer_id = existing.farm.farmer_id;
    let viewer = user.0.clone();
    let (row, warnings) = blocking(move || {
        let warnings = farm_warnings(&st, &viewer, &updated);
        let outcome: WriteOutcome = st
            .store
            .update_farm(farmer_id, id, &patch, &author, now_ms())
            .map_err(ApiError::from)?;
        st.reindex(&outcome);
        let row = st
            .store
            .farm(id)
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::internal)?;
        Ok((row, warnings))
    })
    .await?;
    Ok(Json(farm_response(&row, Some(warnings))))
}

#[utoipa::path(get, path = "/api/v1/farms/nearby", tag = "farms", params(NearbyQuery),
    responses((status = 200, body = NearbyResponse), (status = 400, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn nearby_farms(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<NearbyQuery>,
) -> Result<Json<NearbyResponse>, ApiError> {
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
    let st = state.clone();
    let farms = blocking(move || {
        let found = {
            let index = st.farm_index.read().unwrap_or_else(|p| p.into_inner());
            // Agents may see fewer villages than the index holds: over-fetch, then filter.
            let fetch = if user.0.role == crate::store::users::Role::Agent {
                NEARBY_RESULTS_MAX * 4
            } else {
                limit
            };
            index.nearby(q.lat, q.lon, q.radius_m, fetch)
        };
        let visible: Vec<_> = if user.0.role == crate::store::users::Role::Agent {
            let ids: Vec<FarmerId> = found.iter().map(|f| FarmerId(f.farmer_id)).collect();
            let villages = st.store.villages_of(&ids).map_err(ApiError::from)?;
            found
                .into_iter()
                .filter(|f| {
                    villages
                        .get(&FarmerId(f.farmer_id))
                        .is_some_and(|v| user.0.can_access_village(*v))
                })
                .take(limit)
                .collect()
        } else {
            found
        };
        Ok(visible)
    })
    .await?;
    Ok(Json(NearbyResponse {
        farms: farms
            .into_iter()
            .map(|f| NearbyFarmDto {
                id: f.id.to_string(),
                farmer_id: f.farmer_id.to_string(),
                distance_m: (f.distance_m * 100.0).round() / 100.0,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- soil tests

#[utoipa::path(post, path = "/api/v1/farms/{id}/soil-tests", tag = "soil tests",
    request_body = CreateSoilTestRequest,
    params(("id" = String, Path, description = "farm id")),
    responses((status = 201, body = SoilTestResponse), (status = 404, body = super::ErrorBody),
              (status = 422, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_soil_test(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateSoilTestRequest>,
) -> Result<(StatusCode, Json<SoilTestResponse>), ApiError> {
    let farm_id: FarmId = parse_id(&id, "farm")?;
    let farm = visible_farm(&state, &user, farm_id).await?;
    let sampled_on = parse_date("sampled_on", &req.sampled_on)?;
    let today = time::OffsetDateTime::now_utc().date();
    if sampled_on > today.next_day().unwrap_or(today) {
        return Err(ValidationError {
            field: "sampled_on".into(),
            code: "in_future",
            message: "sampled_on is in the future".into(),
        }
        .into());
    }
    let test = SoilTest {
        id: SoilTestId(client_id(req.id.as_deref())?),
        farm_id,
        sampled_on,
        lab: bounded_text("lab", &req.lab, LAB_CHARS_MAX)?,
        parameters: SoilParameters::from_pairs("parameters", req.parameters)?,
    };
    let response = soil_test_response(&test);
    let store = state.store.clone();
    let author = user.0.username.clone();
    let client_chose_id = req.id.is_some();
    blocking(move || {
        if client_chose_id
            && store
                .soil_tests_of_farm(farm_id)
                .map_err(ApiError::from)?
                .iter()
                .any(|t| t.id == test.id)
        {
            return Err(already_exists("soil test"));
        }
        store
            .add_soil_test(farm.farm.farmer_id, &test, &author, now_ms())
            .map_err(ApiError::from)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

#[utoipa::path(get, path = "/api/v1/farms/{id}/soil-tests", tag = "soil tests",
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, body = SoilTestListResponse), (status = 404, body = super::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_soil_tests(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<SoilTestListResponse>, ApiError> {
    let farm_id: FarmId = parse_id(&id, "farm")?;
    visible_farm(&state, &user, farm_id).await?;
    let store = state.store.clone();
    let tests = blocking(move || store.soil_tests_of_farm(farm_id).map_err(ApiError::from)).await?;
    Ok(Json(SoilTestListResponse {
        soil_tests: tests.iter().map(soil_test_response).collect(),
    }))
}
