//! Farmer documents, the change log and the query projections, always written together.
//!
//! Every form submission is one automerge commit on the farmer's document. In ONE SQLite
//! transaction we: load the saved document, apply the commit, save it back, append the commit's
//! change bytes to `change_log` (what sync ships), rebuild the farmer's projection rows
//! (`farmers`, `farms`, `soil_tests`) from the document, and append an audit row. So the
//! projections can never disagree with the documents, and nothing is acknowledged before commit.

use farmco_sync::doc::{CommitMeta, FarmPatch, FarmerDoc, FarmerPatch, HistoryEntry, LocalChange};
use farmco_sync::{Farm, FarmId, Farmer, FarmerId, SoilTest, SoilTestId, VillageCode};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, StoreResult};

/// Most rows a farmer search returns.
pub const SEARCH_RESULTS_MAX: usize = 200;

/// A farmer row of the projection.
#[derive(Debug, Clone, PartialEq)]
pub struct FarmerRow {
    pub farmer: Farmer,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A farm row of the projection, with derived geometry facts.
#[derive(Debug, Clone, PartialEq)]
pub struct FarmRow {
    pub farm: Farm,
    pub village_code: VillageCode,
    pub area_ha: f64,
    pub centroid_lat: f64,
    pub centroid_lon: f64,
}

/// What a write changed, so callers can refresh in-memory indexes.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub farmer_id: FarmerId,
    pub village_code: VillageCode,
    /// All farms of the farmer after the write.
    pub farms: Vec<Farm>,
    /// False when the request changed nothing (no commit was made).
    pub changed: bool,
}

pub(crate) fn load_doc(conn: &Connection, actor: &[u8], id: FarmerId) -> StoreResult<FarmerDoc> {
    let saved: Option<Vec<u8>> = conn
        .query_row(
            "SELECT saved FROM documents WHERE doc_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let saved = saved.ok_or(StoreError::NotFound("farmer"))?;
    Ok(FarmerDoc::load(actor, &saved)?)
}

pub(crate) fn save_doc(
    conn: &Connection,
    id: FarmerId,
    doc: &mut FarmerDoc,
    now_ms: i64,
) -> StoreResult<()> {
    let farmer = doc.farmer()?;
    let heads = serde_json::Value::from(doc.heads_hex()).to_string();
    let saved = doc.save();
    conn.execute(
        "INSERT INTO documents (doc_id, village_code, saved, heads, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (doc_id) DO UPDATE SET village_code = excluded.village_code,
             saved = excluded.saved, heads = excluded.heads, updated_ms = excluded.updated_ms",
        params![
            id.to_string(),
            farmer.village_code.to_string(),
            saved,
            heads,
            now_ms
        ],
    )?;
    Ok(())
}

fn append_change(
    conn: &Connection,
    id: FarmerId,
    change: &LocalChange,
    author: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT OR IGNORE INTO change_log (doc_id, hash, bytes, origin, author, created_ms)
         VALUES (?1, ?2, ?3, 'local', ?4, ?5)",
        params![
            id.to_string(),
            change.hash.as_slice(),
            change.bytes,
            author,
            now_ms
        ],
    )?;
    Ok(())
}

/// Rebuild every projection row of one farmer from the document.
pub fn project(conn: &Connection, doc: &FarmerDoc, now_ms: i64) -> StoreResult<Vec<Farm>> {
    let farmer = doc.farmer()?;
    let farms = doc.farms()?;
    let tests = doc.soil_tests()?;
    let id = farmer.id.to_string();
    conn.execute(
        "INSERT INTO farmers (id, name, phone, language, village_code, consent_sms, consent_voice,
                              consent_data_sharing, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
             language = excluded.language, village_code = excluded.village_code,
             consent_sms = excluded.consent_sms, consent_voice = excluded.consent_voice,
             consent_data_sharing = excluded.consent_data_sharing, updated_ms = excluded.updated_ms",
        params![
            id,
            farmer.name.as_str(),
            farmer.phone.as_str(),
            farmer.language.code(),
            farmer.village_code.to_string(),
            farmer.consents.sms,
            farmer.consents.voice,
            farmer.consents.data_sharing,
            now_ms
        ],
    )?;
    conn.execute("DELETE FROM farms WHERE farmer_id = ?1", [&id])?;
    for farm in &farms {
        let (lat, lon) = farm.boundary.centroid();
        let crops: Vec<serde_json::Value> = farm
            .crops
            .iter()
            .map(|c| {
                json!({"crop": c.crop, "season": c.season.as_str(), "sowing_date": c.sowing_date.to_string()})
            })
            .collect();
        conn.execute(
            "INSERT INTO farms (id, farmer_id, survey_number, declared_area_ha, area_ha,
                                centroid_lat, centroid_lon, boundary, crops)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                farm.id.to_string(),
                id,
                farm.survey_number,
                farm.declared_area_ha,
                farm.boundary.geodesic_area_ha(),
                lat,
                lon,
                farm.boundary.to_geojson().to_string(),
                serde_json::Value::from(crops).to_string()
            ],
        )?;
    }
    conn.execute("DELETE FROM soil_tests WHERE farmer_id = ?1", [&id])?;
    for test in &tests {
        let params_json: serde_json::Map<String, serde_json::Value> = test
            .parameters
            .iter()
            .map(|(p, v)| (p.key().to_owned(), json!(v)))
            .collect();
        conn.execute(
            "INSERT INTO soil_tests (id, farm_id, farmer_id, sampled_on, lab, parameters)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                test.id.to_string(),
                test.farm_id.to_string(),
                id,
                test.sampled_on.to_string(),
                test.lab,
                serde_json::Value::Object(params_json).to_string()
            ],
        )?;
    }
    Ok(farms)
}

/// Hash of raw automerge change bytes (None for bytes automerge cannot parse; parsing untrusted
/// bytes runs under `catch_unwind` because automerge has panicked on malformed input).
pub fn change_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    std::panic::catch_unwind(|| automerge::Change::try_from(bytes).ok().map(|c| c.hash().0))
        .ok()
        .flatten()
}

/// What applying changes from the cloud did to one document.
#[derive(Debug, Clone)]
pub enum RemoteApply {
    /// Applied; the farmer's farms after the change (for the spatial index).
    Applied {
        farmer_id: FarmerId,
        farms: Vec<Farm>,
    },
    /// Not applied, with the reason; the bytes went to quarantine.
    Quarantined(String),
}

/// Apply changes that came from elsewhere to one farmer document, inside the caller's
/// transaction: merge, save, log each change as `remote`, rebuild the projection. A document
/// that would end up outside `scope` (the node's villages) or that does not decode is left
/// untouched and the bytes are quarantined.
pub fn apply_remote_changes(
    conn: &Connection,
    actor: &[u8],
    doc_id: FarmerId,
    changes: &[Vec<u8>],
    scope: &[VillageCode],
    now_ms: i64,
) -> StoreResult<RemoteApply> {
    let quarantine = |reason: String| -> StoreResult<RemoteApply> {
        for bytes in changes {
            super::sync_state::quarantine(conn, "sync.down", &reason, bytes, now_ms)?;
        }
        Ok(RemoteApply::Quarantined(reason))
    };
    let mut doc = match load_doc(conn, actor, doc_id) {
        Ok(doc) => doc,
        Err(StoreError::NotFound(_)) => FarmerDoc::new_empty(actor)?,
        Err(e) => return Err(e),
    };
    if let Err(e) = doc.apply_changes(changes) {
        return quarantine(format!("document {doc_id}: {e}"));
    }
    let farmer = match doc.farmer() {
        Ok(f) => f,
        // Changes whose dependencies never arrived leave an incomplete document: keep the bytes
        // in quarantine; anti-entropy brings the document whole later.
        Err(e) if !doc.missing_deps_hex().is_empty() => {
            return quarantine(format!("document {doc_id} lacks dependencies: {e}"));
        }
        Err(e) => return quarantine(format!("document {doc_id}: {e}")),
    };
    if farmer.id != doc_id {
        return quarantine(format!("document {doc_id} holds farmer {}", farmer.id));
    }
    if !scope.contains(&farmer.village_code) {
        return quarantine(format!(
            "document {doc_id} belongs to village {} outside this node's scope",
            farmer.village_code
        ));
    }
    save_doc(conn, doc_id, &mut doc, now_ms)?;
    for bytes in changes {
        if let Some(hash) = change_hash(bytes) {
            conn.execute(
                "INSERT OR IGNORE INTO change_log (doc_id, hash, bytes, origin, author, created_ms)
                 VALUES (?1, ?2, ?3, 'remote', NULL, ?4)",
                params![doc_id.to_string(), hash.as_slice(), bytes, now_ms],
            )?;
        }
    }
    let farms = project(conn, &doc, now_ms)?;
    Ok(RemoteApply::Applied {
        farmer_id: doc_id,
        farms,
    })
}

fn phone_taken(conn: &Connection, phone: &str, except: Option<FarmerId>) -> StoreResult<bool> {
    let other: Option<String> = conn
        .query_row(
            "SELECT id FROM farmers WHERE phone = ?1 AND id != ?2 LIMIT 1",
            params![phone, except.map(|i| i.to_string()).unwrap_or_default()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(other.is_some())
}

impl Store {
    /// Register a farmer: a new document with its first commit.
    pub fn create_farmer(
        &self,
        farmer: &Farmer,
        author: &str,
        now_ms: i64,
    ) -> StoreResult<WriteOutcome> {
        let actor = *self.actor();
        self.write(|tx| create_farmer_in(tx, &actor, farmer, author, now_ms))
    }

    /// Apply one edit to a farmer's document, then save, log, project and audit it — atomically.
    /// `edit` returns the commit it made (None: nothing changed, nothing is written).
    fn edit_farmer<F>(
        &self,
        id: FarmerId,
        author: &str,
        now_ms: i64,
        action: &str,
        target: &str,
        edit: F,
    ) -> StoreResult<WriteOutcome>
    where
        F: FnOnce(&Connection, &mut FarmerDoc, &CommitMeta) -> StoreResult<Option<LocalChange>>,
    {
        let actor = *self.actor();
        self.write(|tx| edit_farmer_in(tx, &actor, id, author, now_ms, action, target, edit))
    }

    pub fn update_farmer(
        &self,
        id: FarmerId,
        patch: &FarmerPatch,
        author: &str,
        now_ms: i64,
    ) -> StoreResult<WriteOutcome> {
        self.edit_farmer(
            id,
            author,
            now_ms,
            "farmer.update",
            &id.to_string(),
            |tx, doc, meta| {
                if let Some(phone) = &patch.phone
                    && phone_taken(tx, phone.as_str(), Some(id))?
                {
                    return Err(StoreError::Conflict {
                        field: "phone",
                        message: "a farmer with this phone number is already registered".into(),
                    });
                }
                Ok(doc.update_farmer(patch, meta)?)
            },
        )
    }

    pub fn add_farm(&self, farm: &Farm, author: &str, now_ms: i64) -> StoreResult<WriteOutcome> {
        self.edit_farmer(
            farm.farmer_id,
            author,
            now_ms,
            "farm.create",
            &farm.id.to_string(),
            |_, doc, meta| Ok(Some(doc.add_farm(farm, meta)?)),
        )
    }

    pub fn update_farm(
        &self,
        farmer_id: FarmerId,
        farm_id: FarmId,
        patch: &FarmPatch,
        author: &str,
        now_ms: i64,
    ) -> StoreResult<WriteOutcome> {
        self.edit_farmer(
            farmer_id,
            author,
            now_ms,
            "farm.update",
            &farm_id.to_string(),
            |_, doc, meta| Ok(doc.update_farm(farm_id, patch, meta)?),
        )
    }

    pub fn add_soil_test(
        &self,
        farmer_id: FarmerId,
        test: &SoilTest,
        author: &str,
        now_ms: i64,
    ) -> StoreResult<WriteOutcome> {
        self.edit_farmer(
            farmer_id,
            author,
            now_ms,
            "soil_test.create",
            &test.id.to_string(),
            |_, doc, meta| Ok(Some(doc.add_soil_test(test, meta)?)),
        )
    }

    pub fn farmer(&self, id: FarmerId) -> StoreResult<Option<FarmerRow>> {
        self.read(|conn| farmer_row(conn, id))
    }

    /// Search by name (substring, ASCII case-insensitive) or phone (digits substring), optionally
    /// restricted to some villages (`None`: all villages).
    pub fn search_farmers(
        &self,
        q: Option<&str>,
        villages: Option<&[VillageCode]>,
        limit: usize,
    ) -> StoreResult<Vec<FarmerRow>> {
        let limit = limit.min(SEARCH_RESULTS_MAX);
        self.read(|conn| {
            let mut sql = String::from(
                "SELECT id, name, phone, language, village_code, consent_sms, consent_voice,
                        consent_data_sharing, created_ms, updated_ms FROM farmers WHERE 1 = 1",
            );
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
            if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
                let escaped = q
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let digits: String = q.chars().filter(char::is_ascii_digit).collect();
                sql.push_str(" AND (name LIKE ? ESCAPE '\\'");
                args.push(Box::new(format!("%{escaped}%")));
                if digits.len() >= 3 {
                    sql.push_str(" OR phone LIKE ?");
                    args.push(Box::new(format!("%{digits}%")));
                }
                sql.push(')');
            }
            if let Some(villages) = villages {
                if villages.is_empty() {
                    return Ok(Vec::new());
                }
                sql.push_str(" AND village_code IN (");
                for (i, v) in villages.iter().enumerate() {
                    sql.push_str(if i == 0 { "?" } else { ", ?" });
                    args.push(Box::new(v.to_string()));
                }
                sql.push(')');
            }
            sql.push_str(" ORDER BY name, id LIMIT ?");
            args.push(Box::new(limit as i64));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), raw_farmer)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row?.into_row()?);
            }
            Ok(out)
        })
    }

    pub fn farm(&self, id: FarmId) -> StoreResult<Option<FarmRow>> {
        self.read(|conn| {
            let mut rows = farm_rows(conn, "f.id = ?1", &id.to_string())?;
            Ok(rows.pop())
        })
    }

    /// (farm id, survey number, area) of a farmer's farms, without reading the boundaries: what
    /// a farmer's page lists (parsing and validating every boundary would dominate the lookup).
    pub fn farm_summaries(&self, id: FarmerId) -> StoreResult<Vec<(FarmId, String, f64)>> {
        self.read(|conn| farm_summaries(conn, id))
    }

    /// A farmer and the summaries of their farms, read on one connection (one trip to the
    /// blocking pool for the farmer page).
    pub fn farmer_with_farm_summaries(
        &self,
        id: FarmerId,
    ) -> StoreResult<Option<(FarmerRow, Vec<FarmSummary>)>> {
        self.read(|conn| match farmer_row(conn, id)? {
            Some(row) => Ok(Some((row, farm_summaries(conn, id)?))),
            None => Ok(None),
        })
    }

    pub fn farms_of_farmer(&self, id: FarmerId) -> StoreResult<Vec<FarmRow>> {
        self.read(|conn| farm_rows(conn, "f.farmer_id = ?1", &id.to_string()))
    }

    /// Every farm of the node, for building the spatial index at start.
    pub fn all_farms(&self) -> StoreResult<Vec<FarmRow>> {
        self.read(|conn| farm_rows(conn, "?1 = ?1", ""))
    }

    pub fn soil_tests_of_farm(&self, farm_id: FarmId) -> StoreResult<Vec<SoilTest>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, farm_id, sampled_on, lab, parameters FROM soil_tests
                 WHERE farm_id = ?1 ORDER BY sampled_on, id",
            )?;
            let rows = stmt.query_map([farm_id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, farm_id, sampled_on, lab, parameters) = row?;
                out.push(soil_test_from_row(
                    &id,
                    &farm_id,
                    &sampled_on,
                    lab,
                    &parameters,
                )?);
            }
            Ok(out)
        })
    }

    /// Village of each given farmer (for scoping results), in one query.
    pub fn villages_of(
        &self,
        farmer_ids: &[FarmerId],
    ) -> StoreResult<std::collections::HashMap<FarmerId, VillageCode>> {
        self.read(|conn| {
            let mut out = std::collections::HashMap::new();
            let mut stmt = conn.prepare_cached("SELECT village_code FROM farmers WHERE id = ?1")?;
            for id in farmer_ids {
                let v: Option<String> =
                    stmt.query_row([id.to_string()], |r| r.get(0)).optional()?;
                if let Some(v) = v {
                    out.insert(*id, VillageCode::parse("village_code", &v)?);
                }
            }
            Ok(out)
        })
    }

    /// Who changed which field when, oldest first.
    pub fn farmer_history(&self, id: FarmerId) -> StoreResult<Vec<HistoryEntry>> {
        let actor = *self.actor();
        self.read(|conn| Ok(load_doc(conn, &actor, id)?.history()))
    }

    /// The farmer's document as automerge saved bytes (for tests and export).
    pub fn farmer_doc(&self, id: FarmerId) -> StoreResult<FarmerDoc> {
        let actor = *self.actor();
        self.read(|conn| load_doc(conn, &actor, id))
    }

    /// Number of change-log entries (local and remote).
    pub fn change_log_len(&self) -> StoreResult<i64> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM change_log", [], |r| r.get(0))?))
    }

    pub fn farmer_count(&self) -> StoreResult<i64> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM farmers", [], |r| r.get(0))?))
    }
}

struct RawFarmer {
    id: String,
    name: String,
    phone: String,
    language: String,
    village_code: String,
    consents: [bool; 3],
    created_ms: i64,
    updated_ms: i64,
}

fn raw_farmer(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawFarmer> {
    Ok(RawFarmer {
        id: r.get(0)?,
        name: r.get(1)?,
        phone: r.get(2)?,
        language: r.get(3)?,
        village_code: r.get(4)?,
        consents: [r.get(5)?, r.get(6)?, r.get(7)?],
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

impl RawFarmer {
    fn into_row(self) -> StoreResult<FarmerRow> {
        let id: FarmerId = self
            .id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("farmers.id {:?}", self.id)))?;
        Ok(FarmerRow {
            farmer: Farmer {
                id,
                name: farmco_sync::PersonName::parse("name", &self.name)?,
                phone: farmco_sync::PhoneNumber::parse("phone", &self.phone)?,
                language: farmco_sync::Language::parse("language", &self.language)?,
                village_code: VillageCode::parse("village_code", &self.village_code)?,
                consents: farmco_sync::Consents {
                    sms: self.consents[0],
                    voice: self.consents[1],
                    data_sharing: self.consents[2],
                },
            },
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        })
    }
}

/// A farm as listed on its farmer's page: id, survey number, computed area in hectares.
pub type FarmSummary = (FarmId, String, f64);

/// Id, survey number and area of each farm of one farmer, ordered by id.
fn farm_summaries(conn: &Connection, id: FarmerId) -> StoreResult<Vec<(FarmId, String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, survey_number, area_ha FROM farms WHERE farmer_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(farm_id, survey, area)| {
            let farm_id = farm_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("farms.id {farm_id:?}")))?;
            Ok((farm_id, survey, area))
        })
        .collect()
}

fn farmer_row(conn: &Connection, id: FarmerId) -> StoreResult<Option<FarmerRow>> {
    let raw = conn
        .prepare_cached(
            "SELECT id, name, phone, language, village_code, consent_sms, consent_voice,
                    consent_data_sharing, created_ms, updated_ms FROM farmers WHERE id = ?1",
        )?
        .query_row([id.to_string()], raw_farmer)
        .optional()?;
    raw.map(RawFarmer::into_row).transpose()
}

fn farm_rows(conn: &Connection, filter: &str, arg: &str) -> StoreResult<Vec<FarmRow>> {
    let sql = format!(
        "SELECT f.id, f.farmer_id, f.survey_number, f.declared_area_ha, f.area_ha,
                f.centroid_lat, f.centroid_lon, f.boundary, f.crops, p.village_code
         FROM farms f JOIN farmers p ON p.id = f.farmer_id WHERE {filter} ORDER BY f.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([arg], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, f64>(3)?,
            r.get::<_, f64>(4)?,
            r.get::<_, f64>(5)?,
            r.get::<_, f64>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
            r.get::<_, String>(9)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, farmer_id, survey, declared, area, lat, lon, boundary, crops, village) = row?;
        let corrupt = |what: &str| StoreError::Corrupt(format!("farms.{what} of {id}"));
        let boundary_json: serde_json::Value =
            serde_json::from_str(&boundary).map_err(|_| corrupt("boundary"))?;
        let crops_json: Vec<serde_json::Value> =
            serde_json::from_str(&crops).map_err(|_| corrupt("crops"))?;
        let mut crop_list = Vec::with_capacity(crops_json.len());
        for c in &crops_json {
            let text = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            crop_list.push(farmco_sync::CropSeason {
                crop: text("crop").to_owned(),
                season: farmco_sync::Season::parse("crops.season", text("season"))?,
                sowing_date: parse_date("crops.sowing_date", text("sowing_date"))?,
            });
        }
        out.push(FarmRow {
            farm: Farm {
                id: id.parse().map_err(|_| corrupt("id"))?,
                farmer_id: farmer_id.parse().map_err(|_| corrupt("farmer_id"))?,
                survey_number: survey,
                declared_area_ha: declared,
                boundary: farmco_sync::Boundary::from_geojson("boundary", &boundary_json)?,
                crops: crop_list,
            },
            village_code: VillageCode::parse("village_code", &village)?,
            area_ha: area,
            centroid_lat: lat,
            centroid_lon: lon,
        });
    }
    Ok(out)
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(field: &str, s: &str) -> Result<time::Date, farmco_sync::ValidationError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, format).map_err(|_| farmco_sync::ValidationError {
        field: field.to_owned(),
        code: "invalid_date",
        message: format!("{s:?} is not a date of the form YYYY-MM-DD"),
    })
}

fn soil_test_from_row(
    id: &str,
    farm_id: &str,
    sampled_on: &str,
    lab: String,
    parameters: &str,
) -> StoreResult<SoilTest> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("soil_tests.{what} of {id}"));
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(parameters).map_err(|_| corrupt("parameters"))?;
    let pairs = map
        .into_iter()
        .map(|(k, v)| (k, v.as_f64().unwrap_or(f64::NAN)))
        .collect::<Vec<_>>();
    Ok(SoilTest {
        id: id.parse::<SoilTestId>().map_err(|_| corrupt("id"))?,
        farm_id: farm_id.parse().map_err(|_| corrupt("farm_id"))?,
        sampled_on: parse_date("sampled_on", sampled_on)?,
        lab,
        parameters: farmco_sync::SoilParameters::from_pairs("parameters", pairs)?,
    })
}

/// Create a farmer in the caller's transaction (document, change log, projections, audit), so
/// another write can commit or fail together with it. Refuses a taken phone or id.
pub(crate) fn create_farmer_in(
    tx: &Connection,
    actor: &[u8],
    farmer: &Farmer,
    author: &str,
    now_ms: i64,
) -> StoreResult<WriteOutcome> {
    if phone_taken(tx, farmer.phone.as_str(), None)? {
        return Err(StoreError::Conflict {
            field: "phone",
            message: "a farmer with this phone number is already registered".into(),
        });
    }
    let exists: Option<String> = tx
        .query_row(
            "SELECT doc_id FROM documents WHERE doc_id = ?1",
            [farmer.id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::Conflict {
            field: "id",
            message: "farmer id already exists".into(),
        });
    }
    let meta = CommitMeta {
        author: author.to_owned(),
        time_ms: now_ms,
    };
    let (mut doc, change) = FarmerDoc::create(actor, farmer, &meta)?;
    save_doc(tx, farmer.id, &mut doc, now_ms)?;
    append_change(tx, farmer.id, &change, author, now_ms)?;
    let farms = project(tx, &doc, now_ms)?;
    audit::append(
        tx,
        now_ms,
        &AuditEvent {
            actor: author,
            action: "farmer.create",
            target: &farmer.id.to_string(),
            detail: json!({"village_code": farmer.village_code.to_string()}),
        },
    )?;
    Ok(WriteOutcome {
        farmer_id: farmer.id,
        village_code: farmer.village_code,
        farms,
        changed: true,
    })
}

/// One edit of a farmer's document inside the caller's transaction: load, commit, save, log,
/// project and audit (the SMS service uses it to apply LANG in the same transaction as the
/// inbox row and its reply).
#[allow(clippy::too_many_arguments)]
pub(crate) fn edit_farmer_in<F>(
    tx: &Connection,
    actor: &[u8],
    id: FarmerId,
    author: &str,
    now_ms: i64,
    action: &str,
    target: &str,
    edit: F,
) -> StoreResult<WriteOutcome>
where
    F: FnOnce(&Connection, &mut FarmerDoc, &CommitMeta) -> StoreResult<Option<LocalChange>>,
{
    let mut doc = load_doc(tx, actor, id)?;
    let meta = CommitMeta {
        author: author.to_owned(),
        time_ms: now_ms,
    };
    let change = edit(tx, &mut doc, &meta)?;
    let farmer = doc.farmer()?;
    let Some(change) = change else {
        return Ok(WriteOutcome {
            farmer_id: id,
            village_code: farmer.village_code,
            farms: doc.farms()?,
            changed: false,
        });
    };
    save_doc(tx, id, &mut doc, now_ms)?;
    append_change(tx, id, &change, author, now_ms)?;
    let farms = project(tx, &doc, now_ms)?;
    audit::append(
        tx,
        now_ms,
        &AuditEvent {
            actor: author,
            action,
            target,
            detail: json!({"farmer_id": id.to_string(), "change": hex::encode(change.hash)}),
        },
    )?;
    Ok(WriteOutcome {
        farmer_id: id,
        village_code: farmer.village_code,
        farms,
        changed: true,
    })
}
