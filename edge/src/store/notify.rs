//! Notifications in SQLite: farmers' preferences, every routed notification (scheduled or
//! suppressed, with the reason) and every delivery attempt with its outcome.
//!
//! [`route_notification`] reads the farmer's consents, preferences and recent history, asks
//! the pure router (`farmco_village::notify::router`), and stores the decision, all in the caller's
//! (IMMEDIATE) transaction: two deliveries of the same alert racing, or one redelivered after
//! a `kill -9`, see each other and the second is a duplicate. Duplicates are not stored (an
//! alert rule re-firing every minute would fill the table), nor a suppression already recorded
//! for the same alert within the dedupe window; everything else is.

use farmco_sync::{FarmerId, Language, VillageCode};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, StoreResult};
use farmco_village::notify::router::{
    Channel, Decision, History, Message, Notification, Preferences, QuietHours, Recipient,
    RouterConfig, SuppressReason, VoiceFollowUp, after_voice_attempt, route,
};

/// Most rows one listing returns.
pub const LIST_ROWS_MAX: usize = 500;
/// Most due attempts handed to the executor per batch: one SMS every few seconds means a
/// minute's work; the executor comes back for more.
pub const DUE_ATTEMPTS_BATCH_MAX: usize = 50;
/// Most farmers one broadcast reaches: a village box serves a few villages of at most a few
/// thousand farmers each; beyond this a broadcast is refused rather than half-sent.
pub const BROADCAST_RECIPIENTS_MAX: usize = 10_000;

/// A farmer's preferences, or `defaults` when they never set any. The flag says which.
pub fn preferences(
    conn: &Connection,
    farmer_id: FarmerId,
    defaults: Preferences,
) -> StoreResult<(Preferences, bool)> {
    let row: Option<(bool, bool, Option<String>, u32, u32, u32)> = conn
        .query_row(
            "SELECT sms, voice, language, quiet_start_minute, quiet_end_minute, max_per_day
             FROM notification_preferences WHERE farmer_id = ?1",
            [farmer_id.to_string()],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((sms, voice, language, start, end, max_per_day)) = row else {
        return Ok((defaults, false));
    };
    Ok((
        Preferences {
            sms,
            voice,
            language: language
                .map(|l| Language::parse("language", &l))
                .transpose()?,
            quiet: QuietHours {
                start_minute: start,
                end_minute: end,
            },
            max_per_day,
        },
        true,
    ))
}

/// Store a farmer's preferences (validated by the caller).
pub fn put_preferences(
    conn: &Connection,
    farmer_id: FarmerId,
    prefs: &Preferences,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO notification_preferences
            (farmer_id, sms, voice, language, quiet_start_minute, quiet_end_minute, max_per_day,
             updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (farmer_id) DO UPDATE SET sms = ?2, voice = ?3, language = ?4,
            quiet_start_minute = ?5, quiet_end_minute = ?6, max_per_day = ?7, updated_ms = ?8",
        params![
            farmer_id.to_string(),
            prefs.sms,
            prefs.voice,
            prefs.language.map(|l| l.code()),
            prefs.quiet.start_minute,
            prefs.quiet.end_minute,
            prefs.max_per_day,
            now_ms
        ],
    )?;
    Ok(())
}

fn recipient(conn: &Connection, farmer_id: FarmerId) -> StoreResult<Recipient> {
    let (sms, voice, language): (bool, bool, String) = conn
        .query_row(
            "SELECT consent_sms, consent_voice, language FROM farmers WHERE id = ?1",
            [farmer_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound("farmer"))?;
    Ok(Recipient {
        consent_sms: sms,
        consent_voice: voice,
        language: Language::parse("language", &language)?,
    })
}

/// What became of a routed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The stored notification (`None` for a duplicate, which is not stored).
    pub id: Option<String>,
    pub decision: Decision,
}

/// Route one notification and store the decision with its attempts.
pub fn route_notification(
    conn: &Connection,
    config: &RouterConfig,
    defaults: Preferences,
    n: &Notification,
    now_ms: i64,
) -> StoreResult<Routed> {
    let farmer = n.farmer_id.to_string();
    let recipient = recipient(conn, n.farmer_id)?;
    let (prefs, _) = preferences(conn, n.farmer_id, defaults)?;
    let today = config.clock.day(now_ms);
    let (last_same_key_ms, counted_today): (Option<i64>, u32) = conn.query_row(
        "SELECT
            (SELECT MAX(created_ms) FROM notifications
                WHERE farmer_id = ?1 AND dedupe_key = ?2 AND state = 'scheduled'),
            (SELECT COUNT(*) FROM notifications
                WHERE farmer_id = ?1 AND local_day = ?3 AND counted = 1 AND state = 'scheduled')",
        params![farmer, n.dedupe_key, today],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let decision = route(
        config,
        n,
        recipient,
        prefs,
        History {
            last_same_key_ms,
            counted_today,
        },
        now_ms,
    );
    if decision == Decision::Suppressed(SuppressReason::Duplicate) {
        return Ok(Routed { id: None, decision });
    }
    // A suppression already recorded for the same alert within the window is not stored again
    // (a rule re-firing for a farmer without consent would otherwise add a row a minute).
    if let Decision::Suppressed(reason) = &decision {
        let recorded: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE farmer_id = ?1 AND dedupe_key = ?2
                AND suppressed = ?3 AND created_ms > ?4)",
            params![
                farmer,
                n.dedupe_key,
                reason.as_str(),
                now_ms.saturating_sub(config.dedupe_window_ms)
            ],
            |r| r.get(0),
        )?;
        if recorded {
            return Ok(Routed { id: None, decision });
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let args = serde_json::to_string(&n.message.args)
        .map_err(|e| StoreError::Corrupt(format!("message args: {e}")))?;
    let (state, suppressed, language, counted) = match &decision {
        Decision::Send {
            language, counted, ..
        } => ("scheduled", None, Some(language.code()), *counted),
        Decision::Suppressed(reason) => ("suppressed", Some(reason.as_str()), None, false),
    };
    conn.execute(
        "INSERT INTO notifications (id, farmer_id, dedupe_key, urgency, source, message_key,
            message_args, language, state, suppressed, counted, local_day, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            id,
            farmer,
            n.dedupe_key,
            n.urgency.as_str(),
            n.source.as_str(),
            n.message.key,
            args,
            language,
            state,
            suppressed,
            counted,
            today,
            now_ms
        ],
    )?;
    if let Decision::Send { attempts, .. } = &decision {
        let mut insert = conn.prepare_cached(
            "INSERT INTO notification_attempts
                (notification_id, channel, condition, due_ms, state, updated_ms)
             VALUES (?1, ?2, ?3, ?4, 'scheduled', ?5)",
        )?;
        for a in attempts {
            insert.execute(params![
                id,
                a.channel.as_str(),
                a.condition.as_str(),
                a.due_ms,
                now_ms
            ])?;
        }
    }
    Ok(Routed {
        id: Some(id),
        decision,
    })
}

/// Farmers of a village who gave SMS or voice consent (broadcast recipients). Errors with
/// `Conflict` above [`BROADCAST_RECIPIENTS_MAX`].
pub fn village_recipients(conn: &Connection, village: VillageCode) -> StoreResult<Vec<FarmerId>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM farmers WHERE village_code = ?1 AND (consent_sms = 1 OR consent_voice = 1)
         ORDER BY id LIMIT ?2",
    )?;
    let ids: Vec<String> = stmt
        .query_map(
            params![village.to_string(), (BROADCAST_RECIPIENTS_MAX + 1) as i64],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    if ids.len() > BROADCAST_RECIPIENTS_MAX {
        return Err(StoreError::Conflict {
            field: "village_code",
            message: format!(
                "more than {BROADCAST_RECIPIENTS_MAX} recipients; split the broadcast"
            ),
        });
    }
    ids.iter()
        .map(|id| {
            id.parse()
                .map_err(|_| StoreError::Corrupt(format!("farmers.id {id:?}")))
        })
        .collect()
}

/// A stored notification with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRow {
    pub id: String,
    pub farmer_id: String,
    pub dedupe_key: String,
    pub urgency: String,
    pub source: String,
    pub message_key: String,
    pub message_args: serde_json::Value,
    pub language: Option<String>,
    pub state: String,
    pub suppressed: Option<String>,
    pub created_ms: i64,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRow {
    pub id: i64,
    pub notification_id: String,
    pub channel: String,
    pub condition: String,
    pub due_ms: i64,
    pub tries: u32,
    pub state: String,
    pub outcome: Option<String>,
    pub updated_ms: i64,
}

const ATTEMPT_COLUMNS: &str =
    "id, notification_id, channel, condition, due_ms, tries, state, outcome, updated_ms";

fn attempt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        id: r.get(0)?,
        notification_id: r.get(1)?,
        channel: r.get(2)?,
        condition: r.get(3)?,
        due_ms: r.get(4)?,
        tries: r.get(5)?,
        state: r.get(6)?,
        outcome: r.get(7)?,
        updated_ms: r.get(8)?,
    })
}

/// A farmer's notifications, newest first, with every attempt.
pub fn list_notifications(
    conn: &Connection,
    farmer_id: FarmerId,
    limit: usize,
) -> StoreResult<Vec<NotificationRow>> {
    let limit = i64::try_from(limit.min(LIST_ROWS_MAX)).unwrap_or(0);
    let mut stmt = conn.prepare(
        "SELECT id, farmer_id, dedupe_key, urgency, source, message_key, message_args, language,
                state, suppressed, created_ms
         FROM notifications WHERE farmer_id = ?1 ORDER BY created_ms DESC, id LIMIT ?2",
    )?;
    let rows: Vec<(NotificationRow, String)> = stmt
        .query_map(params![farmer_id.to_string(), limit], |r| {
            Ok((
                NotificationRow {
                    id: r.get(0)?,
                    farmer_id: r.get(1)?,
                    dedupe_key: r.get(2)?,
                    urgency: r.get(3)?,
                    source: r.get(4)?,
                    message_key: r.get(5)?,
                    message_args: serde_json::Value::Null,
                    language: r.get(7)?,
                    state: r.get(8)?,
                    suppressed: r.get(9)?,
                    created_ms: r.get(10)?,
                    attempts: Vec::new(),
                },
                r.get::<_, String>(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut attempts = conn.prepare(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM notification_attempts WHERE notification_id = ?1 ORDER BY id"
    ))?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut row, args) in rows {
        row.message_args = serde_json::from_str(&args)
            .map_err(|e| StoreError::Corrupt(format!("notifications.message_args: {e}")))?;
        row.attempts = attempts
            .query_map([&row.id], attempt_row)?
            .collect::<Result<_, _>>()?;
        out.push(row);
    }
    Ok(out)
}

/// Scheduled attempts due by `now_ms`, oldest first (at most [`DUE_ATTEMPTS_BATCH_MAX`]).
pub fn due_attempts(conn: &Connection, now_ms: i64) -> StoreResult<Vec<AttemptRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM notification_attempts
         WHERE state = 'scheduled' AND due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![now_ms, DUE_ATTEMPTS_BATCH_MAX as i64], attempt_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The states an attempt moves through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// Given to the SMS outbox or the voice queue (in the same transaction as this update).
    HandedOff,
    Delivered,
    Answered,
    Failed,
    Unanswered,
    /// A conditional call whose SMS was delivered, or a notification withdrawn.
    Cancelled,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::HandedOff => "handed_off",
            AttemptState::Delivered => "delivered",
            AttemptState::Answered => "answered",
            AttemptState::Failed => "failed",
            AttemptState::Unanswered => "unanswered",
            AttemptState::Cancelled => "cancelled",
        }
    }
}

/// Move an attempt to `state` with an outcome note.
pub fn mark_attempt(
    conn: &Connection,
    attempt_id: i64,
    state: AttemptState,
    outcome: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    let n = conn.execute(
        "UPDATE notification_attempts SET state = ?2, outcome = COALESCE(?3, outcome),
            updated_ms = ?4 WHERE id = ?1",
        params![attempt_id, state.as_str(), outcome, now_ms],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound("notification attempt"));
    }
    Ok(())
}

/// Whether the SMS attempt of a notification was delivered (for high urgency's conditional call).
pub fn sms_delivered(conn: &Connection, notification_id: &str) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM notification_attempts
            WHERE notification_id = ?1 AND channel = 'sms' AND state = 'delivered')",
        [notification_id],
        |r| r.get(0),
    )?)
}

/// Record a voice try's result and apply the router's follow-up: retry later, SMS fallback,
/// or give up. Returns the follow-up.
pub fn voice_attempt_result(
    conn: &Connection,
    config: &RouterConfig,
    attempt_id: i64,
    answered: bool,
    now_ms: i64,
) -> StoreResult<VoiceFollowUp> {
    let (notification_id, tries, farmer_id): (String, u32, String) = conn
        .query_row(
            "SELECT a.notification_id, a.tries, n.farmer_id FROM notification_attempts a
             JOIN notifications n ON n.id = a.notification_id
             WHERE a.id = ?1 AND a.channel = 'voice' AND a.state IN ('scheduled', 'handed_off')",
            [attempt_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound("open voice attempt"))?;
    let consent_sms: bool = conn
        .query_row(
            "SELECT consent_sms FROM farmers WHERE id = ?1",
            [&farmer_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    let sms_planned: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM notification_attempts
            WHERE notification_id = ?1 AND channel = 'sms' AND state != 'cancelled')",
        [&notification_id],
        |r| r.get(0),
    )?;
    let follow = after_voice_attempt(config, tries, answered, consent_sms, sms_planned, now_ms);
    let tries = tries.saturating_add(1);
    match follow {
        VoiceFollowUp::Done => {
            conn.execute(
                "UPDATE notification_attempts SET state = 'answered', tries = ?2, updated_ms = ?3
                 WHERE id = ?1",
                params![attempt_id, tries, now_ms],
            )?;
        }
        VoiceFollowUp::Retry { due_ms } => {
            conn.execute(
                "UPDATE notification_attempts SET state = 'scheduled', tries = ?2, due_ms = ?3,
                    outcome = 'unanswered', updated_ms = ?4 WHERE id = ?1",
                params![attempt_id, tries, due_ms, now_ms],
            )?;
        }
        VoiceFollowUp::FallbackSms { due_ms } => {
            conn.execute(
                "UPDATE notification_attempts SET state = 'unanswered', tries = ?2, updated_ms = ?3
                 WHERE id = ?1",
                params![attempt_id, tries, now_ms],
            )?;
            conn.execute(
                "INSERT INTO notification_attempts
                    (notification_id, channel, condition, due_ms, state, updated_ms)
                 VALUES (?1, ?2, 'fallback', ?3, 'scheduled', ?4)",
                params![notification_id, Channel::Sms.as_str(), due_ms, now_ms],
            )?;
        }
        VoiceFollowUp::GiveUp => {
            conn.execute(
                "UPDATE notification_attempts SET state = 'unanswered', tries = ?2, updated_ms = ?3
                 WHERE id = ?1",
                params![attempt_id, tries, now_ms],
            )?;
        }
    }
    Ok(follow)
}

/// At start-up: voice attempts that were handed to the voice task when the process died have
/// no result; each counts as an unanswered try (retry or SMS fallback by the usual rule), so a
/// crash never leaves one stuck and never calls twice for one try. SMS attempts handed off stay
/// so: the SMS outbox holds them. Returns how many were recovered.
pub fn recover_voice_attempts(
    conn: &Connection,
    config: &RouterConfig,
    now_ms: i64,
) -> StoreResult<usize> {
    let ids: Vec<i64> = conn
        .prepare(
            "SELECT id FROM notification_attempts WHERE channel = 'voice' AND state = 'handed_off'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        voice_attempt_result(conn, config, *id, false, now_ms)?;
    }
    Ok(ids.len())
}

/// Attempts by channel and state, for `/metrics` (delivery rates per channel).
pub fn attempt_counts(conn: &Connection) -> StoreResult<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT channel, state, COUNT(*) FROM notification_attempts GROUP BY channel, state",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A due voice attempt with what the call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceJob {
    pub attempt_id: i64,
    pub notification_id: String,
    pub farmer_id: String,
    pub condition: String,
    pub message: Message,
}

fn message_of(key: String, args: &str) -> StoreResult<Message> {
    Ok(Message {
        key,
        args: serde_json::from_str(args)
            .map_err(|e| StoreError::Corrupt(format!("notifications.message_args: {e}")))?,
    })
}

/// The oldest scheduled voice attempt due by `now_ms` (the voice task takes one at a time).
pub fn next_voice_attempt(conn: &Connection, now_ms: i64) -> StoreResult<Option<VoiceJob>> {
    let row: Option<(i64, String, String, String, String, String)> = conn
        .query_row(
            "SELECT a.id, a.notification_id, n.farmer_id, a.condition, n.message_key, n.message_args
             FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id
             WHERE a.channel = 'voice' AND a.state = 'scheduled' AND a.due_ms <= ?1
             ORDER BY a.due_ms, a.id LIMIT 1",
            [now_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    row.map(
        |(attempt_id, notification_id, farmer_id, condition, key, args)| {
            Ok(VoiceJob {
                attempt_id,
                notification_id,
                farmer_id,
                condition,
                message: message_of(key, &args)?,
            })
        },
    )
    .transpose()
}

/// The earliest due time of a scheduled attempt on `channel`.
pub fn next_attempt_due_ms(conn: &Connection, channel: Channel) -> StoreResult<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(due_ms) FROM notification_attempts WHERE channel = ?1 AND state = 'scheduled'",
        [channel.as_str()],
        |r| r.get(0),
    )?)
}

/// A due SMS attempt with what the outbox needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsJob {
    pub attempt_id: i64,
    pub notification_id: String,
    pub farmer_id: String,
    pub phone: String,
    pub urgency: String,
    pub condition: String,
    /// The language the router chose (the farmer's, or their preference).
    pub language: Option<String>,
    pub message: Message,
}

/// Scheduled SMS attempts due by `now_ms`, oldest first, at most `limit`.
pub fn due_sms_attempts(conn: &Connection, now_ms: i64, limit: usize) -> StoreResult<Vec<SmsJob>> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.notification_id, n.farmer_id, f.phone, n.urgency, a.condition, n.language,
                n.message_key, n.message_args
         FROM notification_attempts a
         JOIN notifications n ON n.id = a.notification_id
         JOIN farmers f ON f.id = n.farmer_id
         WHERE a.channel = 'sms' AND a.state = 'scheduled' AND a.due_ms <= ?1
         ORDER BY a.due_ms, a.id LIMIT ?2",
    )?;
    let rows: Vec<(SmsJob, String)> = stmt
        .query_map(params![now_ms, i64::try_from(limit).unwrap_or(0)], |r| {
            Ok((
                SmsJob {
                    attempt_id: r.get(0)?,
                    notification_id: r.get(1)?,
                    farmer_id: r.get(2)?,
                    phone: r.get(3)?,
                    urgency: r.get(4)?,
                    condition: r.get(5)?,
                    language: r.get(6)?,
                    message: Message {
                        key: r.get(7)?,
                        args: Default::default(),
                    },
                },
                r.get(8)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(mut job, args)| {
            job.message = message_of(std::mem::take(&mut job.message.key), &args)?;
            Ok(job)
        })
        .collect()
}

/// Record which outbox message carries an attempt (with `mark_attempt(HandedOff)`, in the
/// transaction that enqueued it).
pub fn set_sms_outbox(conn: &Connection, attempt_id: i64, outbox_id: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE notification_attempts SET sms_outbox_id = ?2 WHERE id = ?1",
        params![attempt_id, outbox_id],
    )?;
    Ok(())
}

/// Carry the outbox's final states (delivered by a report, failed by the network or after the
/// last retry) to the handed-off SMS attempts they carry; only `outbox_id`'s when given.
/// Returns the attempts updated. Idempotent: the delivery-report hook calls it for one message,
/// the executor's tick for all.
pub fn sync_sms_outcomes(
    conn: &Connection,
    outbox_id: Option<i64>,
    now_ms: i64,
) -> StoreResult<usize> {
    let n = conn.execute(
        "UPDATE notification_attempts SET
            state = (SELECT CASE o.state WHEN 'delivered' THEN 'delivered' ELSE 'failed' END
                     FROM sms_outbox o WHERE o.id = notification_attempts.sms_outbox_id),
            outcome = (SELECT COALESCE(o.last_error, o.state)
                       FROM sms_outbox o WHERE o.id = notification_attempts.sms_outbox_id),
            updated_ms = ?2
         WHERE channel = 'sms' AND state = 'handed_off' AND sms_outbox_id IS NOT NULL
           AND (?1 IS NULL OR sms_outbox_id = ?1)
           AND EXISTS (SELECT 1 FROM sms_outbox o WHERE o.id = notification_attempts.sms_outbox_id
                       AND o.state IN ('delivered', 'failed'))",
        params![outbox_id, now_ms],
    )?;
    Ok(n)
}

/// Per-channel delivery rate from [`attempt_counts`]: attempts that reached the farmer
/// (`delivered` SMS, `answered` calls) over attempts with a final outcome (those plus `failed`
/// and `unanswered`). Channels with no final outcome yet are left out.
pub fn delivery_rates(counts: &[(String, String, i64)]) -> Vec<(String, f64)> {
    let mut by_channel: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for (channel, state, n) in counts {
        let entry = by_channel.entry(channel.as_str()).or_default();
        match state.as_str() {
            "delivered" | "answered" => {
                entry.0 += n;
                entry.1 += n;
            }
            "failed" | "unanswered" => entry.1 += n,
            _ => {}
        }
    }
    by_channel
        .into_iter()
        .filter(|(_, (_, finished))| *finished > 0)
        .map(|(c, (ok, finished))| (c.to_owned(), ok as f64 / finished as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::Synchronous;
    use farmco_sync::{Consents, Farmer, PersonName, PhoneNumber};
    use farmco_village::notify::router::{Message, Source, Urgency};

    const T0: i64 = 1_796_169_600_000; // 05:30 IST: inside the default quiet hours

    fn store_with_farmer(sms: bool) -> (tempfile::TempDir, Store, FarmerId) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let farmer = Farmer {
            id: FarmerId(uuid::Uuid::from_u128(5)),
            name: PersonName::parse("n", "Sunita").unwrap(),
            phone: PhoneNumber::parse("p", "9812345670").unwrap(),
            language: Language::Mr,
            village_code: VillageCode::parse("v", "563412").unwrap(),
            consents: Consents {
                sms,
                voice: true,
                data_sharing: false,
            },
        };
        store.create_farmer(&farmer, "test", T0).unwrap();
        (dir, store, farmer.id)
    }

    fn critical(farmer_id: FarmerId) -> Notification {
        Notification {
            dedupe_key: "storm".into(),
            farmer_id,
            urgency: Urgency::Critical,
            source: Source::Advisory,
            message: Message {
                key: "advisory-storm".into(),
                args: Default::default(),
            },
        }
    }

    fn defaults() -> Preferences {
        Preferences {
            sms: false,
            voice: true,
            language: None,
            quiet: QuietHours {
                start_minute: 21 * 60,
                end_minute: 6 * 60,
            },
            max_per_day: 5,
        }
    }

    #[test]
    fn unanswered_voice_tries_fall_back_to_sms_and_crashes_count_as_tries() {
        let (_dir, store, id) = store_with_farmer(false);
        let cfg = RouterConfig::default();
        // Critical at 05:30 IST, in quiet hours: voice now (SMS consent was withdrawn: STOP).
        let routed = store
            .write(|tx| route_notification(tx, &cfg, defaults(), &critical(id), T0))
            .unwrap();
        assert!(matches!(routed.decision, Decision::Send { .. }));
        let due = store.read(|c| due_attempts(c, T0)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].channel, "voice");
        let attempt = due[0].id;
        // Handed to the voice task, then the process dies: the try counts, a retry is planned.
        store
            .write(|tx| mark_attempt(tx, attempt, AttemptState::HandedOff, None, T0))
            .unwrap();
        assert!(store.read(|c| due_attempts(c, T0)).unwrap().is_empty());
        assert_eq!(
            store
                .write(|tx| recover_voice_attempts(tx, &cfg, T0 + 1))
                .unwrap(),
            1
        );
        let retry_at = T0 + 1 + cfg.voice_retry_delay_ms;
        assert_eq!(
            store.read(|c| due_attempts(c, retry_at)).unwrap()[0].tries,
            1
        );
        // Two more unanswered tries: no SMS consent, so the router gives up.
        for _ in 0..2 {
            let follow = store
                .write(|tx| voice_attempt_result(tx, &cfg, attempt, false, retry_at))
                .unwrap();
            assert!(matches!(
                follow,
                VoiceFollowUp::Retry { .. } | VoiceFollowUp::GiveUp
            ));
        }
        let rows = store.read(|c| list_notifications(c, id, 10)).unwrap();
        assert_eq!(rows[0].attempts.len(), 1);
        assert_eq!(rows[0].attempts[0].state, "unanswered");
        assert_eq!(rows[0].attempts[0].tries, 3);
    }

    #[test]
    fn with_sms_consent_the_fallback_is_an_sms() {
        let (_dir, store, id) = store_with_farmer(true);
        let cfg = RouterConfig::default();
        let prefs = Preferences {
            sms: false,
            ..defaults()
        };
        let normal = Notification {
            urgency: Urgency::Normal,
            ..critical(id)
        };
        // Normal in quiet hours: a voice call (preferred channel) at 06:00 IST.
        store
            .write(|tx| route_notification(tx, &cfg, prefs, &normal, T0))
            .unwrap();
        assert!(store.read(|c| due_attempts(c, T0)).unwrap().is_empty());
        let six = T0 + 30 * 60_000;
        let due = store.read(|c| due_attempts(c, six)).unwrap();
        let attempt = due[0].id;
        let mut follow = VoiceFollowUp::Done;
        for i in 0..3 {
            follow = store
                .write(|tx| voice_attempt_result(tx, &cfg, attempt, false, six + i))
                .unwrap();
        }
        assert_eq!(follow, VoiceFollowUp::FallbackSms { due_ms: six + 2 });
        let rows = store.read(|c| list_notifications(c, id, 10)).unwrap();
        let channels: Vec<_> = rows[0]
            .attempts
            .iter()
            .map(|a| (a.channel.as_str(), a.condition.as_str(), a.state.as_str()))
            .collect();
        assert_eq!(
            channels,
            [
                ("voice", "always", "unanswered"),
                ("sms", "fallback", "scheduled")
            ]
        );
        assert!(!store.read(|c| sms_delivered(c, &rows[0].id)).unwrap());
    }

    #[test]
    fn a_repeated_suppression_is_recorded_once() {
        let (_dir, store, id) = store_with_farmer(false);
        let cfg = RouterConfig::default();
        let prefs = Preferences {
            voice: false,
            ..defaults()
        };
        let normal = Notification {
            urgency: Urgency::Normal,
            ..critical(id)
        };
        // No SMS consent and voice not preferred: nothing can carry a normal notification.
        for i in 0..5 {
            let routed = store
                .write(|tx| route_notification(tx, &cfg, prefs, &normal, T0 + i * 60_000))
                .unwrap();
            assert_eq!(
                routed.decision,
                Decision::Suppressed(SuppressReason::NoConsent)
            );
            assert_eq!(routed.id.is_some(), i == 0);
        }
        let rows = store.read(|c| list_notifications(c, id, 10)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].suppressed.as_deref(), Some("no_consent"));
    }
}
