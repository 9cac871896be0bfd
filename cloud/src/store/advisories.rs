//! Advisories: notices for villages (mandi prices, weather, pests, general), written by ops staff
//! and shipped down to the edges of those villages by sequence number.
//!
//! Sequence numbers are assigned under a transaction-scoped advisory lock, like the change log,
//! so they become visible in order and an edge's advisory cursor never skips one.

use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use farmco_sync::ValidationError;

use super::audit::{self, AuditEvent};
use super::nodes::parse_villages;
use super::{LOCK_NAMESPACE, Store, StoreError, StoreResult, lock_keys, to_i64, to_u64, xact_lock};

/// The kinds an advisory may have (mirrored by the table's CHECK constraint).
pub const ADVISORY_KINDS: [&str; 4] = ["mandi_price", "weather", "pest", "general"];
/// Longest title, in characters (an SMS is 160 GSM characters; a title fits in one).
pub const TITLE_CHARS_MAX: usize = 160;
/// Largest body, in bytes of JSON (a day's mandi prices for a district fit easily).
pub const BODY_BYTES_MAX: usize = 16 * 1024;
/// Most advisories returned by one call.
pub const ADVISORIES_PER_PAGE_MAX: usize = 500;

/// A new advisory, validated by [`NewAdvisory::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewAdvisory {
    pub village_codes: Vec<String>,
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
}

impl NewAdvisory {
    /// Check every field; returns the advisory with canonical village codes.
    pub fn validate(mut self) -> Result<NewAdvisory, ValidationError> {
        self.village_codes = parse_villages("village_codes", &self.village_codes)?;
        if !ADVISORY_KINDS.contains(&self.kind.as_str()) {
            return Err(ValidationError::new(
                "kind",
                "invalid_kind",
                format!("kind must be one of {}", ADVISORY_KINDS.join(", ")),
            ));
        }
        let title = self.title.trim();
        if title.is_empty()
            || title.chars().count() > TITLE_CHARS_MAX
            || title.chars().any(char::is_control)
        {
            return Err(ValidationError::new(
                "title",
                "invalid",
                format!("title must be 1 to {TITLE_CHARS_MAX} printable characters"),
            ));
        }
        self.title = title.to_owned();
        if !self.body.is_object() {
            return Err(ValidationError::new(
                "body",
                "invalid",
                "body must be a JSON object",
            ));
        }
        if self.body.to_string().len() > BODY_BYTES_MAX {
            return Err(ValidationError::new(
                "body",
                "too_large",
                format!("body must be at most {BODY_BYTES_MAX} bytes of JSON"),
            ));
        }
        if let Some(until) = self.valid_until
            && until <= self.valid_from
        {
            return Err(ValidationError::new(
                "valid_until",
                "out_of_range",
                "valid_until must be after valid_from",
            ));
        }
        Ok(self)
    }
}

/// A stored advisory.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub id: Uuid,
    pub seq: u64,
    pub village_codes: Vec<String>,
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, seq, village_codes, kind, title, body, valid_from, valid_until,
    created_by, created_at";

fn from_row(r: &Row) -> StoreResult<Advisory> {
    Ok(Advisory {
        id: r.get(0),
        seq: to_u64("advisories.seq", r.get(1))?,
        village_codes: r.get(2),
        kind: r.get(3),
        title: r.get(4),
        body: r.get(5),
        valid_from: r.get(6),
        valid_until: r.get(7),
        created_by: r.get(8),
        created_at: r.get(9),
    })
}

/// Advisories for any of `villages` with `seq > after`, oldest first (what an edge pulls).
pub async fn advisories_after_in(
    client: &impl GenericClient,
    after: u64,
    villages: &[String],
    max: usize,
) -> StoreResult<Vec<Advisory>> {
    let limit = i64::try_from(max.clamp(1, ADVISORIES_PER_PAGE_MAX)).unwrap_or(1);
    client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM advisories
                 WHERE seq > $1 AND village_codes && $2 ORDER BY seq LIMIT $3"
            ),
            &[&to_i64("after", after)?, &villages, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
}

impl Store {
    /// Store an advisory (validated here too); audited.
    pub async fn create_advisory(
        &self,
        advisory: NewAdvisory,
        created_by: &str,
    ) -> StoreResult<Advisory> {
        let a = advisory.validate().map_err(StoreError::Validation)?;
        let id = Uuid::new_v4();
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor: created_by,
                action: "advisory.create",
                target: &id.to_string(),
                detail: json!({"kind": a.kind, "villages": a.village_codes, "title": a.title}),
            },
        )
        .await?;
        xact_lock(&tx, LOCK_NAMESPACE, lock_keys::ADVISORIES).await?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO advisories (id, village_codes, kind, title, body, valid_from,
                                             valid_until, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
                ),
                &[
                    &id,
                    &a.village_codes,
                    &a.kind,
                    &a.title,
                    &a.body,
                    &a.valid_from,
                    &a.valid_until,
                    &created_by,
                    &now,
                ],
            )
            .await?;
        let stored = from_row(&row)?;
        tx.commit().await?;
        Ok(stored)
    }

    /// See [`advisories_after_in`].
    pub async fn advisories_after(
        &self,
        after: u64,
        villages: &[String],
        max: usize,
    ) -> StoreResult<Vec<Advisory>> {
        let conn = self.conn().await?;
        advisories_after_in(&**conn, after, villages, max).await
    }

    /// Newest first, optionally only those addressed to one village.
    pub async fn list_advisories(
        &self,
        village: Option<&str>,
        max: usize,
    ) -> StoreResult<Vec<Advisory>> {
        let limit = i64::try_from(max.clamp(1, ADVISORIES_PER_PAGE_MAX)).unwrap_or(1);
        let conn = self.conn().await?;
        conn.query(
            &format!(
                "SELECT {COLUMNS} FROM advisories
                 WHERE $1::text IS NULL OR village_codes @> ARRAY[$1::text]
                 ORDER BY seq DESC LIMIT $2"
            ),
            &[&village, &limit],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
    }
}
