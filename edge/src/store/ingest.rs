//! Store side of sensor ingest: committing one writer batch (readings and dead letters in one
//! transaction), the dead-letter table, the sensor registry, bucketed reading queries and the
//! retention sweep (raw → hourly rollups, never past the cloud-acknowledged cursor).

use rusqlite::{Connection, OptionalExtension, params};

use super::readings::{self, NewReading};
use super::{StoreError, StoreResult};
use farmco_village::ingest::payload::{IngestError, SensorTopic};

/// One MQTT message of a writer batch, already parsed (parsing is pure and done outside the
/// transaction); the sensor's registration is checked here, inside it.
#[derive(Debug, Clone)]
pub struct BatchMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub received_ms: i64,
    pub parsed: Result<(SensorTopic, Vec<NewReading>), IngestError>,
}

/// What one committed batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Rows that were new (the rest were redeliveries of stored readings).
    pub inserted: usize,
    /// Valid rows of the batch (new or not), for the alert engine.
    pub rows: Vec<NewReading>,
    /// Reason codes of the messages dead-lettered, one per message.
    pub dead_letters: Vec<&'static str>,
}

/// Which village a registered sensor belongs to (`Some(None)`: registered, no village).
fn sensor_village(conn: &Connection, id: &str) -> StoreResult<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT village_code FROM sensors WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?)
}

/// Store a message that could not be ingested, byte for byte.
pub fn insert_dead_letter(
    conn: &Connection,
    topic: &str,
    payload: &[u8],
    error: &IngestError,
    received_ms: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO dead_letters (topic, payload, reason, detail, received_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        topic,
        payload,
        error.reason(),
        error.to_string(),
        received_ms
    ])?;
    Ok(())
}

/// Commit a batch inside the caller's transaction: each message either adds its readings
/// (duplicates ignored) or becomes one dead letter.
pub fn commit_batch(conn: &Connection, batch: &[BatchMessage]) -> StoreResult<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    for msg in batch {
        let checked = match &msg.parsed {
            Err(e) => Err(e.clone()),
            Ok((topic, rows)) => match sensor_village(conn, &topic.sensor_id)? {
                None => Err(IngestError::UnknownSensor(topic.sensor_id.clone())),
                Some(Some(registered)) if registered != topic.village_code => {
                    Err(IngestError::VillageMismatch {
                        sensor_id: topic.sensor_id.clone(),
                        registered,
                        topic: topic.village_code.clone(),
                    })
                }
                Some(_) => Ok(rows),
            },
        };
        match checked {
            Ok(rows) => {
                outcome.inserted += readings::insert(conn, rows, msg.received_ms)?;
                outcome.rows.extend(rows.iter().cloned());
            }
            Err(e) => {
                insert_dead_letter(conn, &msg.topic, &msg.payload, &e, msg.received_ms)?;
                outcome.dead_letters.push(e.reason());
            }
        }
    }
    Ok(outcome)
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub topic: String,
    pub payload: Vec<u8>,
    pub reason: String,
    pub detail: String,
    pub received_ms: i64,
}

/// Dead letters with id > `after_id`, oldest first, optionally of one reason.
pub fn dead_letters(
    conn: &Connection,
    after_id: i64,
    reason: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<DeadLetter>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, topic, payload, reason, detail, received_ms FROM dead_letters
         WHERE id > ?1 AND (?2 IS NULL OR reason = ?2) ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after_id, reason, limit as i64], |r| {
        Ok(DeadLetter {
            id: r.get(0)?,
            topic: r.get(1)?,
            payload: r.get(2)?,
            reason: r.get(3)?,
            detail: r.get(4)?,
            received_ms: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn dead_letter_count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM dead_letters", [], |r| r.get(0))?)
}

/// How a sensor's farm was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarmLink {
    /// By point in polygon; recomputed when boundaries change.
    Auto,
    /// Named at registration; kept.
    Explicit,
}

impl FarmLink {
    pub fn as_str(self) -> &'static str {
        match self {
            FarmLink::Auto => "auto",
            FarmLink::Explicit => "explicit",
        }
    }
}

/// A row of the sensor registry.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorRow {
    pub id: String,
    pub kind: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub farm_id: Option<String>,
    pub farm_link: FarmLink,
    pub village_code: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn sensor_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SensorRow> {
    let link: String = r.get(5)?;
    Ok(SensorRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        lat: r.get(2)?,
        lon: r.get(3)?,
        farm_id: r.get(4)?,
        farm_link: if link == "explicit" {
            FarmLink::Explicit
        } else {
            FarmLink::Auto
        },
        village_code: r.get(6)?,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

const SENSOR_COLUMNS: &str =
    "id, kind, lat, lon, farm_id, farm_link, village_code, created_ms, updated_ms";

/// Register a sensor; a second registration of the same id is a conflict.
pub fn insert_sensor(conn: &Connection, s: &SensorRow, secret_hash: &str) -> StoreResult<()> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sensors WHERE id = ?1)",
        [&s.id],
        |r| r.get(0),
    )?;
    if exists {
        return Err(StoreError::Conflict {
            field: "id",
            message: format!("sensor {} is already registered", s.id),
        });
    }
    conn.execute(
        "INSERT INTO sensors (id, kind, lat, lon, farm_id, farm_link, village_code, secret_hash,
                              created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            s.id,
            s.kind,
            s.lat,
            s.lon,
            s.farm_id,
            s.farm_link.as_str(),
            s.village_code,
            secret_hash,
            s.created_ms,
            s.updated_ms
        ],
    )?;
    Ok(())
}

pub fn sensor(conn: &Connection, id: &str) -> StoreResult<Option<SensorRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {SENSOR_COLUMNS} FROM sensors WHERE id = ?1"),
            [id],
            sensor_from_row,
        )
        .optional()?)
}

/// Sensors ordered by id, after `after_id`, at most `limit`.
pub fn list_sensors(
    conn: &Connection,
    after_id: &str,
    limit: usize,
) -> StoreResult<Vec<SensorRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SENSOR_COLUMNS} FROM sensors WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after_id, limit as i64], sensor_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The argon2id hash of a sensor's broker password, when it has one.
pub fn sensor_secret_hash(conn: &Connection, id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT secret_hash FROM sensors WHERE id = ?1", [id], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

/// An auto-linked sensor's position: (id, lat, lon, current farm).
pub type PlacedSensor = (String, f64, f64, Option<String>);

/// Auto-linked sensors with a position.
pub fn auto_linked_sensors(conn: &Connection) -> StoreResult<Vec<PlacedSensor>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, lat, lon, farm_id FROM sensors
         WHERE farm_link = 'auto' AND lat IS NOT NULL AND lon IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Set the farm of auto-linked sensors; returns how many rows changed.
pub fn set_auto_links(
    conn: &Connection,
    links: &[(String, Option<String>)],
    now_ms: i64,
) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE sensors SET farm_id = ?2, updated_ms = ?3
         WHERE id = ?1 AND farm_link = 'auto' AND farm_id IS NOT ?2",
    )?;
    let mut changed = 0;
    for (id, farm) in links {
        changed += stmt.execute(params![id, farm, now_ms])?;
    }
    Ok(changed)
}

/// One time bucket of a metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start_ms: i64,
    pub count: i64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// Readings of one sensor and metric in `[from_ms, to_ms)` aggregated into buckets of
/// `bucket_ms` aligned to the epoch; hourly rollups are included when `bucket_ms` is a whole
/// number of hours (older data only exists as rollups).
pub fn sensor_buckets(
    conn: &Connection,
    sensor_id: &str,
    metric: &str,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    limit: usize,
) -> StoreResult<Vec<Bucket>> {
    let with_rollups = bucket_ms % HOUR_MS == 0;
    let mut stmt = conn.prepare_cached(
        "SELECT b, sum(c), sum(s), min(mn), max(mx) FROM (
            SELECT (ts_ms / ?5) * ?5 AS b, count(*) AS c, sum(value) AS s,
                   min(value) AS mn, max(value) AS mx
              FROM readings
             WHERE sensor_id = ?1 AND metric = ?2 AND ts_ms >= ?3 AND ts_ms < ?4
             GROUP BY b
            UNION ALL
            SELECT (hour_ms / ?5) * ?5 AS b, count AS c, sum AS s, min AS mn, max AS mx
              FROM readings_hourly
             WHERE ?6 AND sensor_id = ?1 AND metric = ?2 AND hour_ms >= ?3 AND hour_ms < ?4
         ) GROUP BY b ORDER BY b LIMIT ?7",
    )?;
    let rows = stmt.query_map(
        params![
            sensor_id,
            metric,
            from_ms,
            to_ms,
            bucket_ms,
            with_rollups,
            limit as i64
        ],
        |r| {
            let count: i64 = r.get(1)?;
            let sum: f64 = r.get(2)?;
            Ok(Bucket {
                start_ms: r.get(0)?,
                count,
                avg: if count > 0 { sum / count as f64 } else { 0.0 },
                min: r.get(3)?,
                max: r.get(4)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One hour in milliseconds (the rollup granularity).
pub const HOUR_MS: i64 = 3_600_000;

/// Roll raw readings older than `cutoff_ms` into hourly rollups and delete them, but only
/// readings with id <= `acked_id` (the cloud has them); at most `limit` rows per call. Returns
/// the number of raw readings removed.
pub fn retention_sweep(
    conn: &Connection,
    cutoff_ms: i64,
    acked_id: i64,
    limit: usize,
) -> StoreResult<usize> {
    let doomed = "SELECT id FROM readings WHERE ts_ms < ?1 AND id <= ?2 ORDER BY id LIMIT ?3";
    conn.execute(
        &format!(
            "INSERT INTO readings_hourly (sensor_id, metric, hour_ms, count, sum, min, max)
             SELECT sensor_id, metric, (ts_ms / {HOUR_MS}) * {HOUR_MS}, count(*), sum(value),
                    min(value), max(value)
               FROM readings WHERE id IN ({doomed})
              GROUP BY 1, 2, 3
             ON CONFLICT (sensor_id, metric, hour_ms) DO UPDATE SET
                count = count + excluded.count, sum = sum + excluded.sum,
                min = min(min, excluded.min), max = max(max, excluded.max)"
        ),
        params![cutoff_ms, acked_id, limit as i64],
    )?;
    let deleted = conn.execute(
        &format!("DELETE FROM readings WHERE id IN ({doomed})"),
        params![cutoff_ms, acked_id, limit as i64],
    )?;
    Ok(deleted)
}

/// The caller's villages as the JSON array the scoped lists take (NULL: unrestricted).
pub(crate) fn villages_json(villages: Option<&[String]>) -> Option<String> {
    villages.map(|v| serde_json::Value::from(v.to_vec()).to_string())
}

/// SQL: the village of the farm whose id is the column `{farm}` (through the farm's farmer).
macro_rules! farm_village_sql {
    ($farm:literal) => {
        concat!(
            "(SELECT fr.village_code FROM farms f JOIN farmers fr ON fr.id = f.farmer_id WHERE f.id = ",
            $farm,
            ")"
        )
    };
}
pub(crate) use farm_village_sql;

/// SQL: the village of the sensor row aliased `s`: its own, else its farm's (review 2026-12,
/// finding 10: agents see only their villages' sensors).
pub(crate) const SENSOR_VILLAGE_SQL: &str = concat!(
    "coalesce(s.village_code, ",
    farm_village_sql!("s.farm_id"),
    ")"
);

/// The village of a registered sensor for scoping (its own, else its farm's; `None` when
/// unknown or in no village).
pub fn sensor_village_of(conn: &Connection, sensor_id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            &format!("SELECT {SENSOR_VILLAGE_SQL} FROM sensors s WHERE s.id = ?1"),
            [sensor_id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// [`list_sensors`] limited to `villages` (`None`: every village).
pub fn list_sensors_in(
    conn: &Connection,
    after_id: &str,
    limit: usize,
    villages: Option<&[String]>,
) -> StoreResult<Vec<SensorRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.id > ?1
           AND (?3 IS NULL OR {SENSOR_VILLAGE_SQL} IN (SELECT value FROM json_each(?3)))
         ORDER BY s.id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(
        params![after_id, limit as i64, villages_json(villages)],
        sensor_from_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
