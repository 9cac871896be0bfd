//! The security audit log: append-only rows, each carrying the SHA-256 of its content and of the
//! row before it, so removing, reordering or editing any row breaks the chain from there on.
//!
//! Triggers refuse UPDATE, DELETE and TRUNCATE; the chain catches what bypasses them (a
//! superuser disabling triggers, a restored tampered dump). `farmco-cloud audit verify` walks the
//! chain and names the first broken link. Appends take a transaction-scoped advisory lock, so
//! concurrent appenders serialize and the chain stays linear; the row hash format is the edge's
//! (`farmco-audit-v1`).

use futures_util::TryStreamExt;
use tokio_postgres::Transaction;

use super::{LOCK_NAMESPACE, StoreResult, lock_keys, xact_lock};

/// `prev_hash` of the first row.
pub use farmco_sync::audit::GENESIS_HASH;
/// Bound on the detail JSON we keep per row (bigger payloads are summarized).
pub const DETAIL_BYTES_MAX: usize = 4_096;

/// One audit entry to append.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: serde_json::Value,
}

/// Unix milliseconds of a timestamp.
pub fn unix_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Append one row inside the caller's transaction; returns its sequence number. The chain lock
/// is held until the caller commits, so append late in long transactions.
pub async fn append(
    tx: &Transaction<'_>,
    now: time::OffsetDateTime,
    event: &AuditEvent<'_>,
) -> StoreResult<i64> {
    let mut detail = event.detail.to_string();
    if detail.len() > DETAIL_BYTES_MAX {
        detail = serde_json::json!({ "truncated": true, "bytes": detail.len() }).to_string();
    }
    xact_lock(tx, LOCK_NAMESPACE, lock_keys::AUDIT).await?;
    let last = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let (seq, prev) = match last {
        Some(row) => (row.get::<_, i64>(0) + 1, row.get::<_, String>(1)),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let ts_ms = unix_ms(now);
    let hash = farmco_sync::audit::row_hash(
        seq,
        ts_ms,
        event.actor,
        event.action,
        event.target,
        &detail,
        &prev,
    );
    tx.execute(
        "INSERT INTO audit_log (seq, ts_ms, actor, action, target, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &seq,
            &ts_ms,
            &event.actor,
            &event.action,
            &event.target,
            &detail,
            &prev,
            &hash,
        ],
    )
    .await?;
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
            AuditVerdict::Broken { seq, reason } => write!(f, "broken at seq {seq}: {reason}"),
        }
    }
}

/// Walk every row in order (streamed, so memory stays flat) and check the chain.
pub async fn verify(client: &tokio_postgres::Client) -> StoreResult<AuditVerdict> {
    let no_params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
    let rows = client
        .query_raw(
            "SELECT seq, ts_ms, actor, action, target, detail, prev_hash, hash
             FROM audit_log ORDER BY seq",
            no_params,
        )
        .await?;
    futures_util::pin_mut!(rows);
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1i64;
    let mut count = 0u64;
    while let Some(r) = rows.try_next().await? {
        let seq: i64 = r.get(0);
        let ts_ms: i64 = r.get(1);
        let actor: &str = r.get(2);
        let action: &str = r.get(3);
        let target: &str = r.get(4);
        let detail: &str = r.get(5);
        let prev: String = r.get(6);
        let hash: String = r.get(7);
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
        if farmco_sync::audit::row_hash(seq, ts_ms, actor, action, target, detail, &prev) != hash {
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
