//! The SMS service's tables (migration `V_SMS`): inbox, outbox (+ per-part message references),
//! self-registrations, LANG choices and alert consent.
//!
//! Every function takes a connection or a transaction so callers can group them: the SMS
//! service inserts the inbox row and the reply in ONE transaction (exactly-once answers), and
//! the notification router calls [`enqueue`] inside its own. Outbox states move
//! `queued → sending → sent → delivered`, or to `failed`; a `sending` row found at start-up
//! (the node died mid-send) goes back to `queued` ([`requeue_interrupted`]): at-least-once,
//! like the driver below it.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::StoreResult;

pub use farmco_village::sms::policy::{OUTGOING_BODY_CHARS_MAX, Priority};

/// Rows a listing route returns at most.
pub const LIST_ROWS_MAX: usize = 500;

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// Recipient in E.164 (`+919812345678`).
    pub to: farmco_sync::PhoneNumber,
    pub body: String,
    pub priority: Priority,
    /// Free label for metrics and listings: `reply`, `alert`, `bulk`, `registration`, ...
    pub kind: String,
}

/// Why [`enqueue`] refused a message (a caller bug, never farmer input).
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("the body is empty")]
    Empty,
    #[error("the body has {chars} characters; at most {OUTGOING_BODY_CHARS_MAX}")]
    TooLong { chars: usize },
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// Put a message in the outbox (state `queued`, due now). Returns its id. Commits with the
/// caller's transaction; wake the outbox worker afterwards (`ModemLink::wake_outbox`).
pub fn enqueue(conn: &Connection, sms: &OutgoingSms, now_ms: i64) -> Result<i64, EnqueueError> {
    let chars = sms.body.chars().count();
    if sms.body.trim().is_empty() {
        return Err(EnqueueError::Empty);
    }
    if chars > OUTGOING_BODY_CHARS_MAX {
        return Err(EnqueueError::TooLong { chars });
    }
    conn.execute(
        "INSERT INTO sms_outbox (recipient, body, priority, kind, state, next_attempt_ms,
                                 created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5, ?5)",
        params![
            sms.to.as_str(),
            sms.body,
            sms.priority.as_i64(),
            sms.kind,
            now_ms
        ],
    )
    .map_err(super::StoreError::from)?;
    Ok(conn.last_insert_rowid())
}

/// An incoming message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxRow<'a> {
    pub dedupe_key: &'a str,
    pub sender: &'a str,
    pub text: &'a str,
    pub smsc_unix_s: Option<i64>,
    pub parts: u8,
    pub parts_expected: u8,
    pub complete: bool,
    pub received_ms: i64,
}

/// Insert an inbox row unless its dedupe key is already there. `None`: a duplicate (the
/// driver re-emitted a message this node already committed).
pub fn insert_inbox(conn: &Connection, row: &NewInboxRow<'_>) -> StoreResult<Option<i64>> {
    let inserted = conn.execute(
        "INSERT INTO sms_inbox (dedupe_key, sender, text, smsc_unix_s, parts, parts_expected,
                                complete, received_ms, command)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')
         ON CONFLICT (dedupe_key) DO NOTHING",
        params![
            row.dedupe_key,
            row.sender,
            row.text,
            row.smsc_unix_s,
            row.parts,
            row.parts_expected,
            row.complete,
            row.received_ms
        ],
    )?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

/// Record what an inbox row was understood as, who sent it, and its reply.
pub fn set_inbox_outcome(
    conn: &Connection,
    id: i64,
    command: &str,
    farmer_id: Option<&str>,
    reply_id: Option<i64>,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE sms_inbox SET command = ?2, farmer_id = ?3, reply_id = ?4 WHERE id = ?1",
        params![id, command, farmer_id, reply_id],
    )?;
    Ok(())
}

/// An inbox row with the state of its reply, for the supervisors' listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxEntry {
    pub id: i64,
    pub sender: String,
    pub text: String,
    pub complete: bool,
    pub received_ms: i64,
    pub command: String,
    pub farmer_id: Option<String>,
    pub reply_id: Option<i64>,
    /// State of the reply (`queued`, `sending`, `sent`, `delivered`, `failed`), if any.
    pub reply_state: Option<String>,
    pub reply_body: Option<String>,
}

/// The latest inbox rows, newest first.
pub fn list_inbox(conn: &Connection, limit: usize) -> StoreResult<Vec<InboxEntry>> {
    let mut stmt = conn.prepare(
        "SELECT i.id, i.sender, i.text, i.complete, i.received_ms, i.command, i.farmer_id,
                i.reply_id, o.state, o.body
         FROM sms_inbox i LEFT JOIN sms_outbox o ON o.id = i.reply_id
         ORDER BY i.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit.min(LIST_ROWS_MAX) as i64], |r| {
        Ok(InboxEntry {
            id: r.get(0)?,
            sender: r.get(1)?,
            text: r.get(2)?,
            complete: r.get(3)?,
            received_ms: r.get(4)?,
            command: r.get(5)?,
            farmer_id: r.get(6)?,
            reply_id: r.get(7)?,
            reply_state: r.get(8)?,
            reply_body: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: i64,
    pub recipient: String,
    pub body: String,
    /// 0 reply, 1 alert, 2 bulk.
    pub priority: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub parts: Option<i64>,
    pub sent_day: Option<String>,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
    pub delivered_ms: Option<i64>,
}

const OUTBOX_COLUMNS: &str = "id, recipient, body, priority, kind, state, attempts,
    next_attempt_ms, last_error, parts, sent_day, created_ms, sent_ms, delivered_ms";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: r.get(0)?,
        recipient: r.get(1)?,
        body: r.get(2)?,
        priority: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_ms: r.get(7)?,
        last_error: r.get(8)?,
        parts: r.get(9)?,
        sent_day: r.get(10)?,
        created_ms: r.get(11)?,
        sent_ms: r.get(12)?,
        delivered_ms: r.get(13)?,
    })
}

/// The latest outbox rows, newest first, optionally of one state.
pub fn list_outbox(
    conn: &Connection,
    state: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<OutboxEntry>> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM sms_outbox WHERE (?1 IS NULL OR state = ?1)
         ORDER BY id DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![state, limit.min(LIST_ROWS_MAX) as i64], outbox_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One outbox row.
pub fn outbox_entry(conn: &Connection, id: i64) -> StoreResult<Option<OutboxEntry>> {
    let sql = format!("SELECT {OUTBOX_COLUMNS} FROM sms_outbox WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], outbox_row).optional()?)
}

/// Queued rows due at `now_ms`, best first (priority, then age), at most `limit`.
pub fn due_queued(conn: &Connection, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxEntry>> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM sms_outbox
         WHERE state = 'queued' AND next_attempt_ms <= ?1
         ORDER BY priority, id LIMIT ?2"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![now_ms, limit as i64], outbox_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The earliest `next_attempt_ms` of a queued row (when the worker should look again).
pub fn next_due_ms(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_ms) FROM sms_outbox WHERE state = 'queued'",
        [],
        |r| r.get(0),
    )?)
}

/// Messages counted against the daily cap of `day`: every message whose first attempt fell
/// on that day (it reached the operator, or may have).
pub fn used_on_day(conn: &Connection, day: &str) -> StoreResult<u32> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sms_outbox WHERE sent_day = ?1",
        [day],
        |r| r.get(0),
    )?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Take a queued row for sending: state `sending`, one more attempt, and the day it counts
/// against (kept from the first attempt). False if it was not queued any more.
pub fn claim(conn: &Connection, id: i64, day: &str, now_ms: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE sms_outbox SET state = 'sending', attempts = attempts + 1,
                sent_day = COALESCE(sent_day, ?2), updated_ms = ?3
         WHERE id = ?1 AND state = 'queued'",
        params![id, day, now_ms],
    )?;
    Ok(n == 1)
}

/// What [`claim_with_consent`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Taken for sending.
    Claimed,
    /// Not queued any more (another worker, a cancellation).
    NotQueued,
    /// Not a reply, and the recipient withdrew consent (STOP) after it was queued: cancelled.
    ConsentWithdrawn,
}

/// The outbox error of a message cancelled because its recipient sent STOP.
pub const CANCELLED_BY_STOP: &str = "cancelled: the recipient sent STOP";

/// Like [`claim`], but a message that is not a reply is first checked against the
/// recipient's consent *now*: one queued before a STOP (over the cap, retrying, due later) is
/// cancelled instead of sent.
pub fn claim_with_consent(
    conn: &Connection,
    id: i64,
    day: &str,
    now_ms: i64,
) -> StoreResult<Claim> {
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT recipient, priority FROM sms_outbox WHERE id = ?1 AND state = 'queued'",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((recipient, priority)) = row else {
        return Ok(Claim::NotQueued);
    };
    if Priority::from_i64(priority) != Priority::Reply
        && matches!(alert_consent(conn, &recipient)?, Some((false, _)))
    {
        mark_failed(conn, id, CANCELLED_BY_STOP, now_ms)?;
        return Ok(Claim::ConsentWithdrawn);
    }
    Ok(if claim(conn, id, day, now_ms)? {
        Claim::Claimed
    } else {
        Claim::NotQueued
    })
}

/// Cancel every queued message to `phone` that is not a reply (a STOP just arrived); returns
/// how many.
pub fn cancel_queued_for(conn: &Connection, phone: &str, now_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE sms_outbox SET state = 'failed', last_error = ?2, updated_ms = ?3
         WHERE recipient = ?1 AND state = 'queued' AND priority <> ?4",
        params![phone, CANCELLED_BY_STOP, now_ms, Priority::Reply.as_i64()],
    )?)
}

/// The modem sent every part: store the references delivery reports will quote.
pub fn mark_sent(conn: &Connection, id: i64, message_refs: &[u8], now_ms: i64) -> StoreResult<()> {
    let recipient: String = conn.query_row(
        "SELECT recipient FROM sms_outbox WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE sms_outbox SET state = 'sent', parts = ?2, sent_ms = ?3, updated_ms = ?3,
                last_error = NULL
         WHERE id = ?1",
        params![id, message_refs.len() as i64, now_ms],
    )?;
    for (part, reference) in message_refs.iter().enumerate() {
        conn.execute(
            "INSERT OR REPLACE INTO sms_outbox_parts
                 (outbox_id, part, message_ref, recipient, status, updated_ms)
             VALUES (?1, ?2, ?3, ?4, 'sent', ?5)",
            params![id, part as i64, *reference as i64, recipient, now_ms],
        )?;
    }
    Ok(())
}

/// A failed attempt that may pass: back to `queued`, due at `next_attempt_ms`.
pub fn mark_retry(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_ms: i64,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE sms_outbox SET state = 'queued', last_error = ?2, next_attempt_ms = ?3,
                updated_ms = ?4
         WHERE id = ?1",
        params![id, error, next_attempt_ms, now_ms],
    )?;
    Ok(())
}

/// A message that cannot be sent (permanent error, or out of attempts).
pub fn mark_failed(conn: &Connection, id: i64, error: &str, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE sms_outbox SET state = 'failed', last_error = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, error, now_ms],
    )?;
    Ok(())
}

/// Rows left in `sending` by a crash go back to `queued`. Returns how many.
pub fn requeue_interrupted(conn: &Connection, now_ms: i64) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE sms_outbox SET state = 'queued', next_attempt_ms = ?1, updated_ms = ?1,
                last_error = 'interrupted by a restart'
         WHERE state = 'sending'",
        [now_ms],
    )?)
}

/// What a delivery report says about a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStatus {
    Delivered,
    Pending,
    Failed,
}

/// Apply a delivery report to the newest part sent to `recipient` with `message_ref`
/// (references wrap at 256, so the newest is the one meant). The message becomes `delivered`
/// when every part is, `failed` when any part failed. Returns the outbox id it matched.
pub fn apply_delivery_report(
    conn: &Connection,
    message_ref: u8,
    recipient: &str,
    status: PartStatus,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let national = national_digits(recipient);
    let mut stmt = conn.prepare(
        "SELECT outbox_id, part, recipient FROM sms_outbox_parts
         WHERE message_ref = ?1 ORDER BY outbox_id DESC LIMIT 32",
    )?;
    let candidates = stmt
        .query_map([message_ref as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let Some((outbox_id, part, _)) = candidates
        .into_iter()
        .find(|(_, _, to)| national_digits(to) == national)
    else {
        return Ok(None);
    };
    let label = match status {
        PartStatus::Delivered => "delivered",
        PartStatus::Pending => "pending",
        PartStatus::Failed => "failed",
    };
    conn.execute(
        "UPDATE sms_outbox_parts SET status = ?3, updated_ms = ?4
         WHERE outbox_id = ?1 AND part = ?2",
        params![outbox_id, part, label, now_ms],
    )?;
    let (total, delivered, failed): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*), SUM(status = 'delivered'), SUM(status = 'failed')
         FROM sms_outbox_parts WHERE outbox_id = ?1",
        [outbox_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if failed > 0 {
        conn.execute(
            "UPDATE sms_outbox SET state = 'failed', last_error = 'the network reported a failed delivery',
                    updated_ms = ?2
             WHERE id = ?1 AND state IN ('sent', 'delivered')",
            params![outbox_id, now_ms],
        )?;
    } else if delivered == total {
        conn.execute(
            "UPDATE sms_outbox SET state = 'delivered', delivered_ms = ?2, updated_ms = ?2
             WHERE id = ?1 AND state = 'sent'",
            params![outbox_id, now_ms],
        )?;
    }
    Ok(Some(outbox_id))
}

/// The last ten digits: how the network and the farmer write the same Indian mobile number.
fn national_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(10)..].iter().collect()
}

/// Outbox rows per state (for `/metrics`).
pub fn outbox_counts(conn: &Connection) -> StoreResult<Vec<(String, i64)>> {
    let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM sms_outbox GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A farmer as the SMS service sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsFarmer {
    pub id: String,
    pub name: String,
    pub language: String,
    pub village_code: String,
}

/// The farmer registered with this phone number (E.164), if any.
pub fn farmer_by_phone(conn: &Connection, phone: &str) -> StoreResult<Option<SmsFarmer>> {
    Ok(conn
        .query_row(
            "SELECT id, name, language, village_code FROM farmers WHERE phone = ?1
             ORDER BY created_ms LIMIT 1",
            [phone],
            |r| {
                Ok(SmsFarmer {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    language: r.get(2)?,
                    village_code: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// The language a phone chose with LANG, if any.
pub fn contact_language(conn: &Connection, phone: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT language FROM sms_contacts WHERE phone = ?1",
            [phone],
            |r| r.get(0),
        )
        .optional()?)
}

/// Record a phone's LANG choice.
pub fn set_contact_language(
    conn: &Connection,
    phone: &str,
    language: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sms_contacts (phone, language, updated_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (phone) DO UPDATE SET language = excluded.language,
             updated_ms = excluded.updated_ms",
        params![phone, language, now_ms],
    )?;
    Ok(())
}

/// Record consent to alerts (STOP → false, START → true) with its time and source.
pub fn set_alert_consent(
    conn: &Connection,
    phone: &str,
    alerts: bool,
    source: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sms_consent (phone, alerts, changed_ms, source) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (phone) DO UPDATE SET alerts = excluded.alerts,
             changed_ms = excluded.changed_ms, source = excluded.source",
        params![phone, alerts, now_ms, source],
    )?;
    Ok(())
}

/// Consent to alerts: `Some((allowed, changed_ms))`, `None` when the phone never said.
pub fn alert_consent(conn: &Connection, phone: &str) -> StoreResult<Option<(bool, i64)>> {
    Ok(conn
        .query_row(
            "SELECT alerts, changed_ms FROM sms_consent WHERE phone = ?1",
            [phone],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// A self-registration by SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Registration {
    pub id: i64,
    pub phone: String,
    pub name: String,
    pub language: String,
    /// `pending`, `confirmed` or `rejected`.
    pub state: String,
    pub requested_ms: i64,
    pub decided_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub farmer_id: Option<String>,
}

fn registration_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Registration> {
    Ok(Registration {
        id: r.get(0)?,
        phone: r.get(1)?,
        name: r.get(2)?,
        language: r.get(3)?,
        state: r.get(4)?,
        requested_ms: r.get(5)?,
        decided_ms: r.get(6)?,
        decided_by: r.get(7)?,
        farmer_id: r.get(8)?,
    })
}

const REGISTRATION_COLUMNS: &str =
    "id, phone, name, language, state, requested_ms, decided_ms, decided_by, farmer_id";

/// Record (or update the name of) a phone's pending registration. Returns its id.
pub fn upsert_pending_registration(
    conn: &Connection,
    phone: &str,
    name: &str,
    language: &str,
    now_ms: i64,
) -> StoreResult<i64> {
    conn.execute(
        "INSERT INTO sms_registrations (phone, name, language, state, requested_ms)
         VALUES (?1, ?2, ?3, 'pending', ?4)
         ON CONFLICT (phone) WHERE state = 'pending'
         DO UPDATE SET name = excluded.name, language = excluded.language,
             requested_ms = excluded.requested_ms",
        params![phone, name, language, now_ms],
    )?;
    Ok(conn.query_row(
        "SELECT id FROM sms_registrations WHERE phone = ?1 AND state = 'pending'",
        [phone],
        |r| r.get(0),
    )?)
}

/// Registrations, newest first, optionally of one state.
pub fn list_registrations(
    conn: &Connection,
    state: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<Registration>> {
    let sql = format!(
        "SELECT {REGISTRATION_COLUMNS} FROM sms_registrations
         WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![state, limit.min(LIST_ROWS_MAX) as i64],
        registration_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One registration.
pub fn registration(conn: &Connection, id: i64) -> StoreResult<Option<Registration>> {
    let sql = format!("SELECT {REGISTRATION_COLUMNS} FROM sms_registrations WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], registration_row).optional()?)
}

/// Mark a pending registration confirmed. False if it was not pending.
pub fn confirm_registration(
    conn: &Connection,
    id: i64,
    farmer_id: &str,
    by: &str,
    now_ms: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE sms_registrations SET state = 'confirmed', farmer_id = ?2, decided_by = ?3,
                decided_ms = ?4
         WHERE id = ?1 AND state = 'pending'",
        params![id, farmer_id, by, now_ms],
    )?;
    Ok(n == 1)
}

/// Mark a pending registration rejected by an agent. False if it was not pending.
pub fn reject_registration(conn: &Connection, id: i64, by: &str, now_ms: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE sms_registrations SET state = 'rejected', decided_by = ?2, decided_ms = ?3
         WHERE id = ?1 AND state = 'pending'",
        params![id, by, now_ms],
    )?;
    Ok(n == 1)
}

/// Keep an undecodable message in the quarantine table (source `modem.sms`).
pub fn quarantine(conn: &Connection, reason: &str, bytes: &[u8], now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO quarantine (source, received_ms, reason, bytes) VALUES ('modem.sms', ?1, ?2, ?3)",
        params![now_ms, reason, bytes],
    )?;
    Ok(())
}

/// The village of a farmer (for scoping confirmed registrations), `None` when unknown.
pub fn farmer_village(conn: &Connection, farmer_id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT village_code FROM farmers WHERE id = ?1",
            [farmer_id],
            |r| r.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrations()
            .to_latest(&mut c)
            .unwrap();
        c
    }

    fn phone(s: &str) -> farmco_sync::PhoneNumber {
        farmco_sync::PhoneNumber::parse("to", s).unwrap()
    }

    #[test]
    fn inbox_is_deduplicated_on_the_key() {
        let c = conn();
        let row = NewInboxRow {
            dedupe_key: "k1",
            sender: "+919812345678",
            text: "HELP",
            smsc_unix_s: Some(1),
            parts: 1,
            parts_expected: 1,
            complete: true,
            received_ms: 5,
        };
        assert!(insert_inbox(&c, &row).unwrap().is_some());
        assert!(insert_inbox(&c, &row).unwrap().is_none());
    }

    #[test]
    fn delivery_reports_update_the_newest_matching_part() {
        let c = conn();
        let sms = OutgoingSms {
            to: phone("+919812345678"),
            body: "hello".into(),
            priority: Priority::Reply,
            kind: "reply".into(),
        };
        let old = enqueue(&c, &sms, 1).unwrap();
        let new = enqueue(&c, &sms, 2).unwrap();
        for id in [old, new] {
            assert!(claim(&c, id, "2026-01-01", 3).unwrap());
            mark_sent(&c, id, &[7], 4).unwrap();
        }
        let matched = apply_delivery_report(&c, 7, "919812345678", PartStatus::Delivered, 9);
        assert_eq!(matched.unwrap(), Some(new));
        assert_eq!(outbox_entry(&c, new).unwrap().unwrap().state, "delivered");
        assert_eq!(outbox_entry(&c, old).unwrap().unwrap().state, "sent");
        assert_eq!(
            apply_delivery_report(&c, 8, "+919812345678", PartStatus::Failed, 9).unwrap(),
            None
        );
    }

    #[test]
    fn enqueue_rejects_empty_and_oversized_bodies() {
        let c = conn();
        let mut sms = OutgoingSms {
            to: phone("9812345678"),
            body: " ".into(),
            priority: Priority::Bulk,
            kind: "bulk".into(),
        };
        assert!(matches!(enqueue(&c, &sms, 0), Err(EnqueueError::Empty)));
        sms.body = "x".repeat(OUTGOING_BODY_CHARS_MAX + 1);
        assert!(matches!(
            enqueue(&c, &sms, 0),
            Err(EnqueueError::TooLong { .. })
        ));
    }
}
