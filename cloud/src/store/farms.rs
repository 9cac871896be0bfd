//! Read queries over the projections for the ops API: farmers by name/phone/village, farms with
//! their PostGIS facts, and farms near a point.
//!
//! "Near" has the edge's semantics (edge/src/spatial.rs): the geodesic distance from the point to
//! the boundary (0 inside), within `radius_m`, nearest first, ties by id. Here that is
//! `ST_DWithin`/`ST_Distance` on geography (the WGS84 spheroid), served by the GiST index on
//! `boundary::geography`.

use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Store, StoreResult};

/// Most rows a farmer search returns.
pub const SEARCH_RESULTS_MAX: usize = 200;
/// Largest radius accepted by the nearby query (metres), as on the edge.
pub const NEARBY_RADIUS_M_MAX: f64 = 100_000.0;
/// Most nearby results, as on the edge.
pub const NEARBY_RESULTS_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub struct FarmerRow {
    pub id: Uuid,
    pub name: String,
    pub phone: String,
    pub language: String,
    pub village_code: String,
    pub consent_sms: bool,
    pub consent_voice: bool,
    pub consent_data_sharing: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FarmRow {
    pub id: Uuid,
    pub farmer_id: Uuid,
    pub village_code: String,
    pub survey_number: String,
    pub declared_area_ha: f64,
    /// Geodesic area computed on the Rust side (`Boundary::geodesic_area_ha`).
    pub area_ha: f64,
    /// `ST_Area(boundary::geography) / 1e4`.
    pub postgis_area_ha: f64,
    /// `ST_IsValid(boundary)`.
    pub valid: bool,
    pub centroid_lat: f64,
    pub centroid_lon: f64,
    /// `ST_AsGeoJSON(boundary)` (a MultiPolygon).
    pub boundary: serde_json::Value,
    pub crops: serde_json::Value,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NearbyFarm {
    pub id: Uuid,
    pub farmer_id: Uuid,
    pub distance_m: f64,
}

const FARMER_COLUMNS: &str = "id, name, phone, language, village_code, consent_sms,
    consent_voice, consent_data_sharing, created_at, updated_at";

fn farmer_from(r: &Row) -> FarmerRow {
    FarmerRow {
        id: r.get(0),
        name: r.get(1),
        phone: r.get(2),
        language: r.get(3),
        village_code: r.get(4),
        consent_sms: r.get(5),
        consent_voice: r.get(6),
        consent_data_sharing: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
    }
}

const FARM_COLUMNS: &str = "id, farmer_id, village_code, survey_number, declared_area_ha,
    area_ha, ST_Area(boundary::geography) / 1e4, ST_IsValid(boundary), ST_Y(centroid),
    ST_X(centroid), ST_AsGeoJSON(boundary)::jsonb, crops, updated_at";

fn farm_from(r: &Row) -> FarmRow {
    FarmRow {
        id: r.get(0),
        farmer_id: r.get(1),
        village_code: r.get(2),
        survey_number: r.get(3),
        declared_area_ha: r.get(4),
        area_ha: r.get(5),
        postgis_area_ha: r.get(6),
        valid: r.get(7),
        centroid_lat: r.get(8),
        centroid_lon: r.get(9),
        boundary: r.get(10),
        crops: r.get(11),
        updated_at: r.get(12),
    }
}

/// Escape `%`, `_` and `\` for a LIKE pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// Search by name (substring, case-insensitive) or phone (at least 3 digits, substring),
    /// optionally in one village; by name, then id.
    pub async fn search_farmers(
        &self,
        q: Option<&str>,
        village_code: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<FarmerRow>> {
        let limit = i64::try_from(limit.clamp(1, SEARCH_RESULTS_MAX)).unwrap_or(1);
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let name_pattern = q.map(|q| format!("%{}%", like_escape(q)));
        let digits: Option<String> = q
            .map(|q| q.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| d.len() >= 3)
            .map(|d| format!("%{d}%"));
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {FARMER_COLUMNS} FROM farmers
                     WHERE ($1::text IS NULL OR name ILIKE $1 OR ($2::text IS NOT NULL AND phone LIKE $2))
                       AND ($3::text IS NULL OR village_code = $3)
                     ORDER BY name, id LIMIT $4"
                ),
                &[&name_pattern, &digits, &village_code, &limit],
            )
            .await?;
        Ok(rows.iter().map(farmer_from).collect())
    }

    pub async fn farmer(&self, id: Uuid) -> StoreResult<Option<FarmerRow>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                &format!("SELECT {FARMER_COLUMNS} FROM farmers WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(farmer_from))
    }

    pub async fn farm(&self, id: Uuid) -> StoreResult<Option<FarmRow>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                &format!("SELECT {FARM_COLUMNS} FROM farms WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(farm_from))
    }

    pub async fn farms_of_farmer(&self, farmer_id: Uuid) -> StoreResult<Vec<FarmRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!("SELECT {FARM_COLUMNS} FROM farms WHERE farmer_id = $1 ORDER BY id"),
                &[&farmer_id],
            )
            .await?;
        Ok(rows.iter().map(farm_from).collect())
    }

    /// Farms whose boundary lies within `radius_m` of the point, nearest first, ties by id.
    pub async fn nearby_farms(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        limit: usize,
    ) -> StoreResult<Vec<NearbyFarm>> {
        let limit = i64::try_from(limit.clamp(1, NEARBY_RESULTS_MAX)).unwrap_or(1);
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g)
                 SELECT f.id, f.farmer_id, ST_Distance(f.boundary::geography, p.g) AS d
                 FROM farms f, p
                 WHERE ST_DWithin(f.boundary::geography, p.g, $3)
                 ORDER BY d, f.id LIMIT $4",
                &[&lat, &lon, &radius_m, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| NearbyFarm {
                id: r.get(0),
                farmer_id: r.get(1),
                distance_m: r.get(2),
            })
            .collect())
    }

    /// Farmers in the projection.
    pub async fn farmer_count(&self) -> StoreResult<i64> {
        let conn = self.conn().await?;
        Ok(conn
            .query_one("SELECT count(*) FROM farmers", &[])
            .await?
            .get(0))
    }
}
