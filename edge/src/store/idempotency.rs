//! Stored answers to writes sent with an `Idempotency-Key` (issue 12): one row per (user, key)
//! holding the request's hash and the first answer (status, content type, body).
//!
//! The field-agent app queues writes on the phone and resends them until the box confirms; a
//! resend after a lost answer must get the first answer back and create nothing twice. Rows are
//! kept [`IDEMPOTENCY_KEEP_MS`] (7 days: longer than an agent stays out of Wi-Fi range in a
//! working week) and then swept.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;

/// How long a stored answer is kept: at least 7 days, as the app's contract promises.
pub const IDEMPOTENCY_KEEP_MS: i64 = 7 * 24 * 3_600_000;

/// A stored first answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// SHA-256 of the request (method, path and query, body).
    pub request_hash: Vec<u8>,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub created_ms: i64,
}

/// The stored answer for (user, key), if any.
pub fn find(conn: &Connection, user_id: i64, key: &str) -> StoreResult<Option<StoredAnswer>> {
    Ok(conn
        .query_row(
            "SELECT request_hash, status, content_type, body, created_ms FROM idempotency_keys
             WHERE user_id = ?1 AND key = ?2",
            params![user_id, key],
            |r| {
                Ok(StoredAnswer {
                    request_hash: r.get(0)?,
                    status: r.get(1)?,
                    content_type: r.get(2)?,
                    body: r.get(3)?,
                    created_ms: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Store the first answer for (user, key). A row already there wins (first answer stays).
pub fn store(conn: &Connection, user_id: i64, key: &str, answer: &StoredAnswer) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status, content_type, body,
                                       created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (user_id, key) DO NOTHING",
        params![
            user_id,
            key,
            answer.request_hash,
            answer.status,
            answer.content_type,
            answer.body,
            answer.created_ms
        ],
    )?;
    Ok(())
}

/// Delete answers older than `keep_ms`. Returns how many were deleted.
pub fn sweep(conn: &Connection, now_ms: i64, keep_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "DELETE FROM idempotency_keys WHERE created_ms < ?1",
        [now_ms.saturating_sub(keep_ms)],
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrations()
            .to_latest(&mut c)
            .unwrap();
        c
    }

    fn answer(status: u16, at: i64) -> StoredAnswer {
        StoredAnswer {
            request_hash: vec![1, 2, 3],
            status,
            content_type: Some("application/json".into()),
            body: b"{}".to_vec(),
            created_ms: at,
        }
    }

    #[test]
    fn first_answer_wins_and_keys_are_per_user() {
        let c = conn();
        store(&c, 1, "k", &answer(201, 10)).unwrap();
        store(&c, 1, "k", &answer(500, 11)).unwrap();
        assert_eq!(find(&c, 1, "k").unwrap().unwrap().status, 201);
        assert!(find(&c, 2, "k").unwrap().is_none());
    }

    #[test]
    fn sweep_keeps_seven_days() {
        let c = conn();
        let now = 100 * 24 * 3_600_000;
        store(&c, 1, "old", &answer(201, now - IDEMPOTENCY_KEEP_MS - 1)).unwrap();
        store(&c, 1, "edge", &answer(201, now - IDEMPOTENCY_KEEP_MS)).unwrap();
        store(&c, 1, "new", &answer(201, now)).unwrap();
        assert_eq!(sweep(&c, now, IDEMPOTENCY_KEEP_MS).unwrap(), 1);
        assert!(find(&c, 1, "old").unwrap().is_none());
        assert!(find(&c, 1, "edge").unwrap().is_some());
        assert!(find(&c, 1, "new").unwrap().is_some());
    }
}
