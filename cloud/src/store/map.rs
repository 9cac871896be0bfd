//! The console's map: Mapbox vector tiles of farms made by PostGIS, and what a click on a farm
//! opens (the farm, its farmer and history, soil tests, sensors, open alerts).
//!
//! A tile is ONE query: `ST_TileEnvelope` gives the tile's Web Mercator bounds, the GiST index
//! on the stored `farms.boundary_3857` finds the farms touching it (plus a buffer, so polygons
//! crossing the edge draw without seams), `ST_AsMVTGeom` clips and quantizes them and
//! `ST_AsMVT` encodes the layer. From [`FARMS_ZOOM_MIN`] the layer `farms` carries polygons with
//! the properties the console colours by (`crop`, last soil test `ph` and `n`, `alert` open),
//! read from the farm row itself (kept there by migration 6) and one hashed set of open alerts;
//! below it, where a tile may hold a whole state's farms, the layer `clusters` carries one point
//! per grid cell with the number of farms in it.
//!
//! [`tile_sql`] is public so the benchmark runs the very same statement straight in psql.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, StoreResult};

/// From this zoom farms are drawn as polygons (a z11 tile is ~20 km across: a few thousand
/// farms at most); below it as counted clusters.
pub const FARMS_ZOOM_MIN: u8 = 11;
/// Deepest zoom served (a z20 tile is ~40 m across; MapLibre overzooms beyond).
pub const ZOOM_MAX: u8 = 20;
/// Tile extent in tile units (the MVT default).
pub const TILE_EXTENT: i32 = 4096;
/// Buffer around a tile, in tile units, so clipped polygons join without seams.
pub const TILE_BUFFER: i32 = 64;
/// Cluster grid cells per tile side at low zoom.
pub const CLUSTER_CELLS_PER_TILE: i32 = 64;
/// Soil tests listed per farm at most.
pub const SOIL_TESTS_PER_FARM_MAX: i64 = 100;
/// Sensors listed per farm at most.
pub const SENSORS_PER_FARM_MAX: i64 = 100;

/// Which layer a zoom level gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileLayer {
    Farms,
    Clusters,
}

impl TileLayer {
    pub fn for_zoom(z: u8) -> TileLayer {
        if z >= FARMS_ZOOM_MIN {
            TileLayer::Farms
        } else {
            TileLayer::Clusters
        }
    }
}

/// The tile statement. Parameters: `$1` z, `$2` x, `$3` y (integers), `$4` the villages the
/// caller may see (`text[]`, NULL: all). Rows whose clipped geometry is empty are skipped by
/// `ST_AsMVT` itself: filtering them in SQL would make PostgreSQL compute `ST_AsMVTGeom` twice
/// (once in the pushed-down filter, once in the output).
pub fn tile_sql(layer: TileLayer) -> String {
    match layer {
        TileLayer::Farms => format!(
            "WITH b AS (SELECT ST_TileEnvelope($1, $2, $3) AS env,
                               ST_TileEnvelope($1, $2, $3, margin => {margin}) AS area)
             SELECT ST_AsMVT(t, 'farms', {TILE_EXTENT}, 'geom') FROM (
                 SELECT ST_AsMVTGeom(f.boundary_3857, b.env, {TILE_EXTENT}, {TILE_BUFFER}, true)
                            AS geom,
                        f.id::text AS id,
                        f.village_code AS village,
                        f.crop_now AS crop,
                        f.soil_ph AS ph,
                        f.soil_n AS n,
                        f.id IN (SELECT a.farm_id FROM edge_alerts a
                                 WHERE a.resolved_at IS NULL AND a.farm_id IS NOT NULL) AS alert
                 FROM farms f CROSS JOIN b
                 WHERE f.boundary_3857 && b.area
                   AND ($4::text[] IS NULL OR f.village_code = ANY($4))
             ) t",
            margin = f64::from(TILE_BUFFER) / f64::from(TILE_EXTENT),
        ),
        TileLayer::Clusters => format!(
            "WITH b AS (SELECT ST_TileEnvelope($1, $2, $3) AS env),
                  c AS (SELECT (ST_XMax(b.env) - ST_XMin(b.env)) / {CLUSTER_CELLS_PER_TILE} AS cell
                        FROM b)
             SELECT ST_AsMVT(t, 'clusters', {TILE_EXTENT}, 'geom') FROM (
                 SELECT ST_AsMVTGeom(ST_SnapToGrid(ST_Centroid(ST_Collect(f.centroid_3857)), 1),
                                     b.env, {TILE_EXTENT}, 0, true) AS geom,
                        count(*)::int AS farms,
                        count(*) FILTER (WHERE f.id IN (
                            SELECT a.farm_id FROM edge_alerts a
                            WHERE a.resolved_at IS NULL AND a.farm_id IS NOT NULL))::int AS alerts
                 FROM farms f CROSS JOIN b CROSS JOIN c
                 WHERE f.centroid_3857 && b.env
                   AND ($4::text[] IS NULL OR f.village_code = ANY($4))
                 GROUP BY ST_SnapToGrid(f.centroid_3857, c.cell), b.env
             ) t"
        ),
    }
}

/// The extent of what the caller may see, and a version that changes whenever a tile could.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSummary {
    pub farms: i64,
    /// `[west, south, east, north]`, degrees; `None` when there are no farms.
    pub bounds: Option<[f64; 4]>,
    /// Changes when farms, soil tests or alerts change: tile URLs carry it, so tiles can be
    /// cached for long and still never show stale data.
    pub data_version: String,
}

/// A soil test as the farm panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilTestRow {
    pub id: Uuid,
    pub sampled_on: time::Date,
    pub lab: String,
    pub parameters: serde_json::Value,
}

/// A sensor registered on an edge, as reported in heartbeats.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorRow {
    pub sensor_id: String,
    pub node_id: String,
    pub kind: String,
    pub farm_id: Option<Uuid>,
    pub village_code: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub updated_at: OffsetDateTime,
    /// Metrics with readings (any time).
    pub metrics: Vec<String>,
}

impl Store {
    /// One vector tile (possibly empty) for `villages` (None: all).
    pub async fn tile(
        &self,
        z: u8,
        x: u32,
        y: u32,
        villages: Option<&[String]>,
    ) -> StoreResult<Vec<u8>> {
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached(&tile_sql(TileLayer::for_zoom(z)))
            .await?;
        let (z, x, y) = (
            i32::from(z),
            i32::try_from(x).unwrap_or(i32::MAX),
            i32::try_from(y).unwrap_or(i32::MAX),
        );
        let row = conn.query_one(&statement, &[&z, &x, &y, &villages]).await?;
        Ok(row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default())
    }

    /// Bounds, count and data version of the farms `villages` (None: all) hold.
    pub async fn map_summary(&self, villages: Option<&[String]>) -> StoreResult<MapSummary> {
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                "SELECT x.n, ST_XMin(x.ext), ST_YMin(x.ext), ST_XMax(x.ext), ST_YMax(x.ext),
                        (SELECT max(updated_at) FROM farms)::text,
                        (SELECT count(*) FROM soil_tests),
                        (SELECT max(updated_at) FROM edge_alerts)::text
                 FROM (SELECT count(*) AS n, ST_Extent(boundary) AS ext FROM farms
                       WHERE $1::text[] IS NULL OR village_code = ANY($1)) x",
                &[&villages],
            )
            .await?;
        let farms: i64 = row.get(0);
        let bounds = match (
            row.get::<_, Option<f64>>(1),
            row.get::<_, Option<f64>>(2),
            row.get::<_, Option<f64>>(3),
            row.get::<_, Option<f64>>(4),
        ) {
            (Some(w), Some(s), Some(e), Some(n)) if farms > 0 => Some([w, s, e, n]),
            _ => None,
        };
        let version_source = format!(
            "{}|{}|{}|{}",
            farms,
            row.get::<_, Option<String>>(5).unwrap_or_default(),
            row.get::<_, i64>(6),
            row.get::<_, Option<String>>(7).unwrap_or_default()
        );
        use sha2::Digest;
        let digest = sha2::Sha256::digest(version_source.as_bytes());
        Ok(MapSummary {
            farms,
            bounds,
            data_version: hex::encode(&digest[..8]),
        })
    }

    /// Soil tests of a farm, newest first.
    pub async fn soil_tests_of_farm(&self, farm_id: Uuid) -> StoreResult<Vec<SoilTestRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT id, sampled_on, lab, parameters FROM soil_tests WHERE farm_id = $1
                 ORDER BY sampled_on DESC, id LIMIT $2",
                &[&farm_id, &SOIL_TESTS_PER_FARM_MAX],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SoilTestRow {
                id: r.get(0),
                sampled_on: r.get(1),
                lab: r.get(2),
                parameters: r.get(3),
            })
            .collect())
    }

    /// Sensors linked to a farm, or of the villages given (`farm_id` None), with the metrics
    /// they have readings for.
    pub async fn sensors(
        &self,
        farm_id: Option<Uuid>,
        villages: Option<&[String]>,
    ) -> StoreResult<Vec<SensorRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT s.sensor_id, s.node_id, s.kind, s.farm_id, s.village_code, s.lat, s.lon,
                        s.updated_at,
                        ARRAY(SELECT DISTINCT r.metric FROM readings r
                              WHERE r.sensor_id = s.sensor_id ORDER BY 1)
                 FROM sensors s
                 WHERE ($1::uuid IS NULL OR s.farm_id = $1)
                   AND ($2::text[] IS NULL OR s.village_code = ANY($2))
                 ORDER BY s.sensor_id LIMIT $3",
                &[&farm_id, &villages, &SENSORS_PER_FARM_MAX],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SensorRow {
                sensor_id: r.get(0),
                node_id: r.get(1),
                kind: r.get(2),
                farm_id: r.get(3),
                village_code: r.get(4),
                lat: r.get(5),
                lon: r.get(6),
                updated_at: r.get(7),
                metrics: r.get(8),
            })
            .collect())
    }

    /// The village of a sensor (from the registry) or, failing that, of the node that sent
    /// its readings: what scopes a trend query.
    pub async fn sensor_villages(&self, sensor_id: &str) -> StoreResult<Vec<String>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT CASE WHEN s.village_code IS NOT NULL THEN ARRAY[s.village_code]
                             ELSE n.villages END
                 FROM sensors s JOIN nodes n ON n.node_id = s.node_id
                 WHERE s.sensor_id = $1",
                &[&sensor_id],
            )
            .await?;
        Ok(row.map(|r| r.get(0)).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_picks_the_layer() {
        assert_eq!(TileLayer::for_zoom(0), TileLayer::Clusters);
        assert_eq!(TileLayer::for_zoom(FARMS_ZOOM_MIN - 1), TileLayer::Clusters);
        assert_eq!(TileLayer::for_zoom(FARMS_ZOOM_MIN), TileLayer::Farms);
        assert_eq!(TileLayer::for_zoom(16), TileLayer::Farms);
        assert!(tile_sql(TileLayer::Farms).contains("ST_AsMVT(t, 'farms'"));
        assert!(tile_sql(TileLayer::Clusters).contains("ST_AsMVT(t, 'clusters'"));
    }
}
