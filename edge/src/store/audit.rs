//! The security audit log: append-only rows, each carrying the SHA-256 of its content and of the
//! row before it, so removing, reordering or editing any row breaks the chain from there on.
//!
//! SQLite triggers refuse UPDATE and DELETE; the chain catches what bypasses SQLite (editing the
//! file). `farmco-edge audit verify` walks the chain and names the first broken link.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

/// `prev_hash` of the first row.
pub use farmco_sync::audit::GENESIS_HASH;
/// Bound on the detail JSON we keep per row (bigger payloads are summarized by the caller).
pub const DETAIL_BYTES_MAX: usize = 4_096;

/// One audit entry to append.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: serde_json::Value,
}

/// Append one row inside the caller's transaction; returns its sequence number.
pub fn append(conn: &Connection, ts_ms: i64, event: &AuditEvent<'_>) -> StoreResult<i64> {
    let mut detail = event.detail.to_string();
    if detail.len() > DETAIL_BYTES_MAX {
        detail = serde_json::json!({ "truncated": true, "bytes": detail.len() }).to_string();
    }
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let hash = farmco_sync::audit::row_hash(
        seq,
        ts_ms,
        event.actor,
        event.action,
        event.target,
        &detail,
        &prev,
    );
    conn.execute(
        "INSERT INTO audit_log (seq, ts_ms, actor, action, target, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq,
            ts_ms,
            event.actor,
            event.action,
            event.target,
            detail,
            prev,
            hash
        ],
    )?;
    Ok(seq)
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    Ok { rows: u64 },
    Broken { seq: i64, reason: String },
}

impl std::fmt::Display for AuditVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditVerdict::Ok { .. } => write!(f, "ok"),
            AuditVerdict::Broken { seq, reason } => {
                write!(f, "broken at seq {seq}: {reason}")
            }
        }
    }
}

/// Walk every row in order and check the chain.
pub fn verify(conn: &Connection) -> StoreResult<AuditVerdict> {
    let mut stmt = conn.prepare(
        "SELECT seq, ts_ms, actor, action, target, detail, prev_hash, hash
         FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1i64;
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let ts_ms: i64 = r.get(1)?;
        let actor: String = r.get(2)?;
        let action: String = r.get(3)?;
        let target: String = r.get(4)?;
        let detail: String = r.get(5)?;
        let prev: String = r.get(6)?;
        let hash: String = r.get(7)?;
        if seq != expected_seq {
            return Ok(AuditVerdict::Broken {
                seq,
                reason: format!("expected seq {expected_seq} (a row is missing)"),
            });
        }
        if prev != expected_prev {
            return Ok(AuditVerdict::Broken {
                seq,
                reason: "prev_hash does not match the previous row".into(),
            });
        }
        if farmco_sync::audit::row_hash(seq, ts_ms, &actor, &action, &target, &detail, &prev)
            != hash
        {
            return Ok(AuditVerdict::Broken {
                seq,
                reason: "row content does not match its hash".into(),
            });
        }
        expected_prev = hash;
        expected_seq += 1;
        count += 1;
    }
    Ok(AuditVerdict::Ok { rows: count })
}

/// One stored audit row, for `farmco-edge audit list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Most rows one listing returns.
pub const LIST_ROWS_MAX: usize = 10_000;

/// The newest rows (oldest first), optionally of one action.
pub fn list(conn: &Connection, action: Option<&str>, limit: usize) -> StoreResult<Vec<AuditRow>> {
    let mut stmt = conn.prepare(
        "SELECT seq, ts_ms, actor, action, target, detail FROM (
             SELECT * FROM audit_log WHERE (?1 IS NULL OR action = ?1)
             ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![action, limit.min(LIST_ROWS_MAX) as i64], |r| {
        Ok(AuditRow {
            seq: r.get(0)?,
            ts_ms: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
