//! The quarantine: what the cloud refused to apply, kept for later analysis — bounded.
//!
//! Review 2026-12, finding 3: refusals before authentication (malformed envelopes, unknown or
//! revoked senders, bad signatures) used to store the whole body, up to 8 MiB each, for anyone
//! who could reach `POST /api/v1/sync`. Now:
//! - [`Keep::HashOnly`] rows (every refusal made before the sender is verified) keep only the
//!   SHA-256 and the size of the bytes;
//! - [`Keep::Bytes`] rows (authenticated senders: replays, refused changes, bad readings) keep
//!   the bytes while the table holds less than [`QUARANTINE_BYTES_MAX`] of them, and only the
//!   hash and size after that;
//! - once the table holds [`QUARANTINE_ROWS_MAX`] rows nothing more is added (the refusal is
//!   still answered, audited and logged). The caps are checked in the inserting statement, so
//!   concurrent inserts may overshoot them by the number of requests in flight.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::StoreResult;

/// Rows the quarantine holds at most: months of honest refusals (a misconfigured node refused
/// every sync interval for a week is ~10,000), while a flood cannot grow it without bound.
pub const QUARANTINE_ROWS_MAX: i64 = 50_000;
/// Bytes of refused payloads the quarantine keeps at most (beyond, rows keep hash and size):
/// enough for a few hundred refused change batches, a small share of the database disk.
pub const QUARANTINE_BYTES_MAX: i64 = 512 * 1024 * 1024;

/// What a quarantine row keeps of the refused bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The bytes themselves (while under [`QUARANTINE_BYTES_MAX`]), with hash and size.
    Bytes,
    /// Only the SHA-256 and the size (unauthenticated senders).
    HashOnly,
}

/// Add a quarantine row in the caller's transaction; false when the table is full and nothing
/// was added.
pub async fn insert<C: GenericClient>(
    client: &C,
    node_id: Option<&str>,
    doc_id: Option<Uuid>,
    received_at: OffsetDateTime,
    reason: &str,
    bytes: &[u8],
    keep: Keep,
) -> StoreResult<bool> {
    let sha256 = Sha256::digest(bytes).to_vec();
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let keep_bytes = keep == Keep::Bytes;
    let added = client
        .execute(
            "INSERT INTO quarantine
                 (node_id, doc_id, received_at, reason, bytes, bytes_sha256, bytes_len)
             SELECT $1, $2, $3, $4,
                    CASE WHEN $5 AND s.kept + $7 <= $9 THEN $6::bytea END, $8, $7
               FROM (SELECT count(*) AS n, coalesce(sum(octet_length(bytes)), 0) AS kept
                       FROM quarantine) s
              WHERE s.n < $10",
            &[
                &node_id,
                &doc_id,
                &received_at,
                &reason,
                &keep_bytes,
                &bytes,
                &len,
                &sha256,
                &QUARANTINE_BYTES_MAX,
                &QUARANTINE_ROWS_MAX,
            ],
        )
        .await?;
    if added == 0 {
        tracing::warn!(
            node = node_id.unwrap_or("unknown"),
            rows_max = QUARANTINE_ROWS_MAX,
            "quarantine full: refused bytes not recorded"
        );
    }
    Ok(added > 0)
}
