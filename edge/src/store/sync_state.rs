//! The edge's side of sync, persisted: enrollment (node id, cloud key and URL, village scope),
//! cursors (what the cloud acknowledged, how far down-sync got), the request sequence, and the
//! outbox row holding the signed request in flight.
//!
//! Keys live in a small key/value table so later fields need no migration; typed accessors below
//! are the only way in.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, StoreResult};

/// Enrollment facts, written once by `farmco-edge enroll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub node_id: String,
    pub cloud_url: String,
    pub cloud_public_key: String,
    pub villages: Vec<String>,
}

/// Cursors and counters of the sync protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursors {
    /// Highest local change_log.seq the cloud acknowledged.
    pub up_acked: u64,
    /// Highest readings.id the cloud acknowledged.
    pub readings_acked: i64,
    /// The cloud change-log position applied here.
    pub down_cursor: u64,
    pub advisory_cursor: u64,
    /// Sequence number of the last request sealed (the next is this + 1).
    pub last_request_seq: u64,
    pub last_sync_ms: Option<i64>,
}

fn get(conn: &Connection, key: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set(conn: &Connection, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn get_num<T: std::str::FromStr>(conn: &Connection, key: &str) -> StoreResult<Option<T>> {
    match get(conn, key)? {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("sync_state.{key} = {v:?}"))),
        None => Ok(None),
    }
}

pub fn enrollment(conn: &Connection) -> StoreResult<Option<Enrollment>> {
    let Some(node_id) = get(conn, "node_id")? else {
        return Ok(None);
    };
    let villages: Vec<String> =
        serde_json::from_str(&get(conn, "villages")?.unwrap_or_default())
            .map_err(|e| StoreError::Corrupt(format!("sync_state.villages: {e}")))?;
    Ok(Some(Enrollment {
        node_id,
        cloud_url: get(conn, "cloud_url")?.unwrap_or_default(),
        cloud_public_key: get(conn, "cloud_public_key")?.unwrap_or_default(),
        villages,
    }))
}

pub fn set_enrollment(conn: &Connection, e: &Enrollment) -> StoreResult<()> {
    set(conn, "node_id", &e.node_id)?;
    set(conn, "cloud_url", &e.cloud_url)?;
    set(conn, "cloud_public_key", &e.cloud_public_key)?;
    set(
        conn,
        "villages",
        &serde_json::Value::from(e.villages.clone()).to_string(),
    )
}

pub fn cursors(conn: &Connection) -> StoreResult<Cursors> {
    Ok(Cursors {
        up_acked: get_num(conn, "up_acked")?.unwrap_or(0),
        readings_acked: get_num(conn, "readings_acked")?.unwrap_or(0),
        down_cursor: get_num(conn, "down_cursor")?.unwrap_or(0),
        advisory_cursor: get_num(conn, "advisory_cursor")?.unwrap_or(0),
        last_request_seq: get_num(conn, "last_request_seq")?.unwrap_or(0),
        last_sync_ms: get_num(conn, "last_sync_ms")?,
    })
}

pub fn set_cursors(conn: &Connection, c: &Cursors) -> StoreResult<()> {
    set(conn, "up_acked", &c.up_acked.to_string())?;
    set(conn, "readings_acked", &c.readings_acked.to_string())?;
    set(conn, "down_cursor", &c.down_cursor.to_string())?;
    set(conn, "advisory_cursor", &c.advisory_cursor.to_string())?;
    set(conn, "last_request_seq", &c.last_request_seq.to_string())?;
    if let Some(ms) = c.last_sync_ms {
        set(conn, "last_sync_ms", &ms.to_string())?;
    }
    Ok(())
}

/// The request in flight, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub seq: u64,
    pub envelope: Vec<u8>,
    pub up_to_seq: u64,
    pub readings_to_id: i64,
}

pub fn pending(conn: &Connection) -> StoreResult<Option<PendingRequest>> {
    Ok(conn
        .query_row(
            "SELECT seq, envelope, up_to_seq, readings_to_id FROM sync_outbox ORDER BY seq LIMIT 1",
            [],
            |r| {
                Ok(PendingRequest {
                    seq: r.get::<_, i64>(0)? as u64,
                    envelope: r.get(1)?,
                    up_to_seq: r.get::<_, i64>(2)? as u64,
                    readings_to_id: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn put_pending(conn: &Connection, p: &PendingRequest, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sync_outbox (seq, envelope, up_to_seq, readings_to_id, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            p.seq as i64,
            p.envelope,
            p.up_to_seq as i64,
            p.readings_to_id,
            now_ms
        ],
    )?;
    Ok(())
}

pub fn clear_pending(conn: &Connection, seq: u64) -> StoreResult<()> {
    conn.execute("DELETE FROM sync_outbox WHERE seq = ?1", [seq as i64])?;
    Ok(())
}

/// Keep something that could not be processed.
pub fn quarantine(
    conn: &Connection,
    source: &str,
    reason: &str,
    bytes: &[u8],
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO quarantine (source, received_ms, reason, bytes) VALUES (?1, ?2, ?3, ?4)",
        params![source, now_ms, reason, bytes],
    )?;
    Ok(())
}
