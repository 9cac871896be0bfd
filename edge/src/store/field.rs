//! The field-agent app's copy of a village (issue 12): every farmer of one village with their
//! farms (boundaries included, for the offline map) and soil tests, read from the projection
//! tables in one read transaction.
//!
//! The phone keeps this copy in IndexedDB and works on it with the box out of reach. It is a
//! read of projections, already validated when they were written, so the JSON columns are passed
//! through as stored rather than re-validated row by row.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use super::{StoreError, StoreResult};

/// Most farmers one village copy carries. The largest Indian villages have a few thousand
/// households; past this the box refuses rather than building an answer of tens of megabytes.
pub const SNAPSHOT_FARMERS_MAX: usize = 10_000;

fn parse_json(text: &str, what: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{what} is not JSON")))
}

/// The village copy as JSON: `[{id, name, phone, language, village_code, consents, created_ms,
/// updated_ms, farms: [{id, farmer_id, survey_number, declared_area_ha, area_ha, centroid,
/// boundary, crops, soil_tests: [{id, farm_id, sampled_on, lab, parameters}]}]}]`, by name.
/// `None` when the village has more than [`SNAPSHOT_FARMERS_MAX`] farmers.
pub fn village_snapshot(conn: &Connection, village_code: &str) -> StoreResult<Option<Vec<Value>>> {
    let mut soil: HashMap<String, Vec<Value>> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT s.id, s.farm_id, s.sampled_on, s.lab, s.parameters
             FROM soil_tests s JOIN farmers p ON p.id = s.farmer_id
             WHERE p.village_code = ?1 ORDER BY s.sampled_on, s.id",
        )?;
        let mut rows = stmt.query([village_code])?;
        while let Some(r) = rows.next()? {
            let farm_id: String = r.get(1)?;
            let parameters: String = r.get(4)?;
            soil.entry(farm_id.clone()).or_default().push(json!({
                "id": r.get::<_, String>(0)?,
                "farm_id": farm_id,
                "sampled_on": r.get::<_, String>(2)?,
                "lab": r.get::<_, String>(3)?,
                "parameters": parse_json(&parameters, "soil_tests.parameters")?,
            }));
        }
    }
    let mut farms: HashMap<String, Vec<Value>> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT f.id, f.farmer_id, f.survey_number, f.declared_area_ha, f.area_ha,
                    f.centroid_lat, f.centroid_lon, f.boundary, f.crops
             FROM farms f JOIN farmers p ON p.id = f.farmer_id
             WHERE p.village_code = ?1 ORDER BY f.id",
        )?;
        let mut rows = stmt.query([village_code])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let farmer_id: String = r.get(1)?;
            let boundary: String = r.get(7)?;
            let crops: String = r.get(8)?;
            let tests = soil.remove(&id).unwrap_or_default();
            farms.entry(farmer_id.clone()).or_default().push(json!({
                "id": id,
                "farmer_id": farmer_id,
                "survey_number": r.get::<_, String>(2)?,
                "declared_area_ha": r.get::<_, f64>(3)?,
                "area_ha": r.get::<_, f64>(4)?,
                "centroid": {"lat": r.get::<_, f64>(5)?, "lon": r.get::<_, f64>(6)?},
                "boundary": parse_json(&boundary, "farms.boundary")?,
                "crops": parse_json(&crops, "farms.crops")?,
                "soil_tests": tests,
            }));
        }
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, phone, language, village_code, consent_sms, consent_voice,
                consent_data_sharing, created_ms, updated_ms
         FROM farmers WHERE village_code = ?1 ORDER BY name, id LIMIT ?2",
    )?;
    let limit = i64::try_from(SNAPSHOT_FARMERS_MAX + 1).unwrap_or(i64::MAX);
    let mut rows = stmt.query(rusqlite::params![village_code, limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        if out.len() == SNAPSHOT_FARMERS_MAX {
            return Ok(None);
        }
        let id: String = r.get(0)?;
        let farmer_farms = farms.remove(&id).unwrap_or_default();
        out.push(json!({
            "id": id,
            "name": r.get::<_, String>(1)?,
            "phone": r.get::<_, String>(2)?,
            "language": r.get::<_, String>(3)?,
            "village_code": r.get::<_, String>(4)?,
            "consents": {
                "sms": r.get::<_, bool>(5)?,
                "voice": r.get::<_, bool>(6)?,
                "data_sharing": r.get::<_, bool>(7)?,
            },
            "created_ms": r.get::<_, i64>(8)?,
            "updated_ms": r.get::<_, i64>(9)?,
            "farms": farmer_farms,
        }));
    }
    Ok(Some(out))
}
