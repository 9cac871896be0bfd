//! Sensor readings: an append-only table keyed by (sensor, metric, timestamp).
//!
//! The rowid is the arrival order and doubles as the sync cursor: the cloud acknowledges "every
//! reading up to id N", so shipping is a range scan. A redelivered reading (same key) is ignored,
//! which makes every ingest path (HTTP now, MQTT later) idempotent.

use rusqlite::{Connection, params};

use super::{Store, StoreResult};

/// Most readings accepted in one insert call (one transaction).
pub const READINGS_PER_INSERT_MAX: usize = 10_000;

pub use farmco_village::ingest::payload::NewReading;

/// A stored reading with its id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    pub id: i64,
    pub sensor_id: String,
    pub metric: String,
    pub ts_ms: i64,
    pub value: f64,
}

/// Insert inside the caller's transaction; returns how many were new (duplicates are ignored).
pub fn insert(conn: &Connection, rows: &[NewReading], now_ms: i64) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO readings (sensor_id, metric, ts_ms, value, received_ms, flags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut inserted = 0;
    for r in rows {
        inserted += stmt.execute(params![
            r.sensor_id,
            r.metric,
            r.ts_ms,
            r.value,
            now_ms,
            i64::from(r.ts_assigned)
        ])?;
    }
    Ok(inserted)
}

/// Readings with id > `after_id`, oldest first, at most `limit`.
pub fn after(conn: &Connection, after_id: i64, limit: usize) -> StoreResult<Vec<StoredReading>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sensor_id, metric, ts_ms, value FROM readings WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_id, limit as i64], |r| {
        Ok(StoredReading {
            id: r.get(0)?,
            sensor_id: r.get(1)?,
            metric: r.get(2)?,
            ts_ms: r.get(3)?,
            value: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// Commit a batch of readings; `Ok(n)` means durable, with `n` of them new.
    pub fn insert_readings(&self, rows: &[NewReading], now_ms: i64) -> StoreResult<usize> {
        self.write(|tx| insert(tx, rows, now_ms))
    }

    /// Readings of one sensor and metric in `[from_ms, to_ms)`, oldest first.
    pub fn sensor_readings(
        &self,
        sensor_id: &str,
        metric: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<StoredReading>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, sensor_id, metric, ts_ms, value FROM readings
                 WHERE sensor_id = ?1 AND metric = ?2 AND ts_ms >= ?3 AND ts_ms < ?4
                 ORDER BY ts_ms LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![sensor_id, metric, from_ms, to_ms, limit as i64],
                |r| {
                    Ok(StoredReading {
                        id: r.get(0)?,
                        sensor_id: r.get(1)?,
                        metric: r.get(2)?,
                        ts_ms: r.get(3)?,
                        value: r.get(4)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    pub fn readings_count(&self) -> StoreResult<i64> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM readings", [], |r| r.get(0))?))
    }
}
