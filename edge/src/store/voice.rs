//! Voice state in SQLite: the persistent callback queue, the call log (every spoken text and
//! every key, in order), and agents' call-back tasks. Decisions come from the pure cores in
//! `crate::voice`; these functions read what those need and apply their answers in the
//! caller's transaction, so a decision and its effect commit together.
//!
//! After a crash, [`recover_after_restart`] closes calls that were on (outcome
//! `interrupted`) and puts dials that were in progress back in the queue with the attempt
//! counted, so the queue survives `kill -9` and nobody is dialed twice for one attempt.

use farmco_sync::{FarmerId, Language, PhoneNumber, VillageCode};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, StoreResult};
use farmco_village::voice::callback::{
    AfterAttempt, CallbackPolicy, CallbackState, NumberHistory, RequestDecision, after_attempt,
    decide_request,
};
use farmco_village::voice::flow::{CallOutcome, CallbackReason, CallerLookup, FarmerCaller};

/// Most rows one listing returns (calls, callbacks): a supervisor's screen, not an export.
pub const LIST_ROWS_MAX: usize = 500;
/// Most log events kept per call: a 15-minute call (the flow's cap) with a prompt or key every
/// second is 900; beyond that something loops, and further events are counted, not stored.
pub const CALL_EVENTS_MAX: i64 = 1_000;
/// Longest spoken text kept per event (a prompt is one text-to-speech command line).
pub const SPOKEN_TEXT_CHARS_MAX: usize = 1_000;

/// Who a `+CLIP` number belongs to, for the call flow.
pub fn lookup_caller(conn: &Connection, number: Option<&PhoneNumber>) -> StoreResult<CallerLookup> {
    let Some(number) = number else {
        return Ok(CallerLookup::Unknown);
    };
    let row: Option<(String, String, String, i64)> = conn
        .query_row(
            "SELECT id, village_code, language, consent_voice FROM farmers
             WHERE phone = ?1 ORDER BY created_ms LIMIT 1",
            [number.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, village, language, consent)) = row else {
        return Ok(CallerLookup::Unknown);
    };
    Ok(CallerLookup::Farmer(FarmerCaller {
        farmer_id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("farmers.id {id:?}")))?,
        village_code: VillageCode::parse("village_code", &village)?,
        phone: number.clone(),
        language: Language::parse("language", &language)?,
        voice_consent: consent != 0,
    }))
}

/// One queued callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackRow {
    pub id: i64,
    pub number: String,
    pub farmer_id: String,
    pub reason: String,
    pub state: String,
    pub attempts: u32,
    pub due_ms: i64,
    pub last_outcome: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const CALLBACK_COLUMNS: &str =
    "id, number, farmer_id, reason, state, attempts, due_ms, last_outcome, created_ms, updated_ms";

fn callback_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallbackRow> {
    Ok(CallbackRow {
        id: r.get(0)?,
        number: r.get(1)?,
        farmer_id: r.get(2)?,
        reason: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        due_ms: r.get(6)?,
        last_outcome: r.get(7)?,
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

/// Request a callback for `farmer`: applies the one-open-per-number rule and the daily limit.
/// Returns the decision and the new callback's id when queued.
pub fn request_callback(
    conn: &Connection,
    policy: &CallbackPolicy,
    farmer: &FarmerCaller,
    reason: CallbackReason,
    now_ms: i64,
) -> StoreResult<(RequestDecision, Option<i64>)> {
    let number = farmer.phone.as_str();
    let today = policy.clock.day(now_ms);
    let (queued_today, open): (u32, i64) = conn.query_row(
        "SELECT
            (SELECT COUNT(*) FROM voice_callbacks WHERE number = ?1 AND local_day = ?2),
            (SELECT COUNT(*) FROM voice_callbacks WHERE number = ?1
                AND state IN ('pending', 'dialing'))",
        params![number, today],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let decision = decide_request(
        policy,
        NumberHistory {
            queued_today,
            open: open > 0,
        },
        now_ms,
    );
    let RequestDecision::Queue { due_ms, local_day } = decision else {
        return Ok((decision, None));
    };
    conn.execute(
        "INSERT INTO voice_callbacks
            (number, farmer_id, reason, state, attempts, due_ms, local_day, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6, ?6)",
        params![
            number,
            farmer.farmer_id.to_string(),
            reason.as_str(),
            due_ms,
            local_day,
            now_ms
        ],
    )?;
    Ok((decision, Some(conn.last_insert_rowid())))
}

/// The earliest pending callback due by `now_ms`.
pub fn next_due_callback(conn: &Connection, now_ms: i64) -> StoreResult<Option<CallbackRow>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {CALLBACK_COLUMNS} FROM voice_callbacks
                 WHERE state = 'pending' AND due_ms <= ?1 ORDER BY due_ms, id LIMIT 1"
            ),
            [now_ms],
            callback_row,
        )
        .optional()?)
}

/// The earliest due time of any pending callback (for the executor's sleep).
pub fn next_callback_due_ms(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(conn.query_row(
        "SELECT MIN(due_ms) FROM voice_callbacks WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?)
}

/// Pending → dialing, committed before `ATD` is sent. False when it was not pending.
pub fn start_callback_dial(conn: &Connection, id: i64, now_ms: i64) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE voice_callbacks SET state = 'dialing', updated_ms = ?2
         WHERE id = ?1 AND state = 'pending'",
        params![id, now_ms],
    )? == 1)
}

/// Record the outcome of the dial in progress: done, retry later, or failed.
pub fn finish_callback_dial(
    conn: &Connection,
    policy: &CallbackPolicy,
    id: i64,
    outcome: CallOutcome,
    now_ms: i64,
) -> StoreResult<AfterAttempt> {
    let attempts: u32 = conn
        .query_row(
            "SELECT attempts FROM voice_callbacks WHERE id = ?1 AND state = 'dialing'",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound("dialing callback"))?;
    let after = after_attempt(policy, attempts, outcome, now_ms);
    apply_after(conn, id, after, outcome.as_str(), now_ms)?;
    Ok(after)
}

fn apply_after(
    conn: &Connection,
    id: i64,
    after: AfterAttempt,
    outcome: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE voice_callbacks SET state = ?2, attempts = ?3, due_ms = COALESCE(?4, due_ms),
            last_outcome = ?5, updated_ms = ?6 WHERE id = ?1",
        params![
            id,
            after.state.as_str(),
            after.attempts,
            after.due_ms,
            outcome,
            now_ms
        ],
    )?;
    Ok(())
}

/// What [`recover_after_restart`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    pub calls_closed: usize,
    pub dials_requeued: usize,
}

/// At start-up: calls still open were cut by the crash; dials in progress count as failed
/// attempts and go back to the queue (or fail when out of attempts).
pub fn recover_after_restart(
    conn: &Connection,
    policy: &CallbackPolicy,
    now_ms: i64,
) -> StoreResult<Recovery> {
    let calls_closed = conn.execute(
        "UPDATE voice_calls SET outcome = 'interrupted', ended_ms = ?1 WHERE outcome IS NULL",
        [now_ms],
    )?;
    let dialing: Vec<(i64, u32)> = conn
        .prepare("SELECT id, attempts FROM voice_callbacks WHERE state = 'dialing'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, attempts) in &dialing {
        let after = after_attempt(policy, *attempts, CallOutcome::Failed, now_ms);
        apply_after(conn, *id, after, "interrupted", now_ms)?;
    }
    Ok(Recovery {
        calls_closed,
        dials_requeued: dialing.len(),
    })
}

/// Callbacks, newest first, optionally of one state.
pub fn list_callbacks(
    conn: &Connection,
    state: Option<CallbackState>,
    limit: usize,
) -> StoreResult<Vec<CallbackRow>> {
    let limit = i64::try_from(limit.min(LIST_ROWS_MAX)).unwrap_or(0);
    let mut stmt = conn.prepare(&format!(
        "SELECT {CALLBACK_COLUMNS} FROM voice_callbacks
         WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(
            params![state.map(CallbackState::as_str), limit],
            callback_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Inbound or outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Open a call log entry; returns its id.
pub fn start_call(
    conn: &Connection,
    direction: Direction,
    number: Option<&PhoneNumber>,
    farmer_id: Option<FarmerId>,
    callback_id: Option<i64>,
    language: Language,
    now_ms: i64,
) -> StoreResult<i64> {
    conn.execute(
        "INSERT INTO voice_calls (direction, number, farmer_id, callback_id, language, started_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            direction.as_str(),
            number.map(PhoneNumber::as_str),
            farmer_id.map(|f| f.to_string()),
            callback_id,
            language.code(),
            now_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn mark_answered(conn: &Connection, call_id: i64, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE voice_calls SET answered_ms = COALESCE(answered_ms, ?2) WHERE id = ?1",
        params![call_id, now_ms],
    )?;
    Ok(())
}

/// Append a spoken text (`prompt` = the prompt's message id) or a key to the call's log.
/// Returns false when the call's log is full ([`CALL_EVENTS_MAX`]).
pub fn log_call_event(
    conn: &Connection,
    call_id: i64,
    now_ms: i64,
    event: CallLogEvent<'_>,
) -> StoreResult<bool> {
    let seq: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM voice_call_events WHERE call_id = ?1",
        [call_id],
        |r| r.get(0),
    )?;
    if seq > CALL_EVENTS_MAX {
        return Ok(false);
    }
    let (kind, prompt, text) = match event {
        CallLogEvent::Spoken { prompt, text } => (
            "spoken",
            Some(prompt),
            text.chars().take(SPOKEN_TEXT_CHARS_MAX).collect::<String>(),
        ),
        CallLogEvent::Key(digit) => ("key", None, digit.to_string()),
    };
    conn.execute(
        "INSERT INTO voice_call_events (call_id, seq, at_ms, kind, prompt, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![call_id, seq, now_ms, kind, prompt, text],
    )?;
    Ok(true)
}

/// One entry of a call's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallLogEvent<'a> {
    Spoken { prompt: &'a str, text: &'a str },
    Key(char),
}

/// Close the call log entry.
pub fn end_call(
    conn: &Connection,
    call_id: i64,
    outcome: CallOutcome,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE voice_calls SET outcome = ?2, ended_ms = ?3 WHERE id = ?1 AND outcome IS NULL",
        params![call_id, outcome.as_str(), now_ms],
    )?;
    Ok(())
}

/// The farmer with this id as a caller (for dialing a notification), if registered.
pub fn caller_by_farmer_id(
    conn: &Connection,
    farmer_id: &str,
) -> StoreResult<Option<FarmerCaller>> {
    let phone: Option<String> = conn
        .query_row(
            "SELECT phone FROM farmers WHERE id = ?1",
            [farmer_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(phone) = phone else {
        return Ok(None);
    };
    let number = PhoneNumber::parse("phone", &phone)?;
    Ok(match lookup_caller(conn, Some(&number))? {
        CallerLookup::Farmer(f) => Some(f),
        CallerLookup::Unknown => None,
    })
}

/// Record which notification attempt an outbound call carries.
pub fn set_call_attempt(conn: &Connection, call_id: i64, attempt_id: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE voice_calls SET attempt_id = ?2 WHERE id = ?1",
        params![call_id, attempt_id],
    )?;
    Ok(())
}

/// Menu key 9: a task for the village's agents to call the farmer back.
pub fn add_agent_task(
    conn: &Connection,
    farmer: &FarmerCaller,
    call_id: Option<i64>,
    now_ms: i64,
) -> StoreResult<i64> {
    conn.execute(
        "INSERT INTO agent_tasks (kind, farmer_id, village_code, number, call_id, created_ms)
         VALUES ('call_back', ?1, ?2, ?3, ?4, ?5)",
        params![
            farmer.farmer_id.to_string(),
            farmer.village_code.to_string(),
            farmer.phone.as_str(),
            call_id,
            now_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// An open "call this farmer back" task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentTaskRow {
    pub id: i64,
    pub farmer_id: String,
    pub village_code: String,
    pub number: String,
    pub created_ms: i64,
}

/// Open agent tasks, oldest first, of some villages (all when `None`); at most
/// [`LIST_ROWS_MAX`].
pub fn open_agent_tasks(
    conn: &Connection,
    villages: Option<&[VillageCode]>,
) -> StoreResult<Vec<AgentTaskRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, farmer_id, village_code, number, created_ms FROM agent_tasks
         WHERE state = 'open' AND (?1 IS NULL OR village_code IN (SELECT value FROM json_each(?1)))
         ORDER BY id LIMIT ?2",
    )?;
    let filter = villages.map(|v| {
        serde_json::Value::from(v.iter().map(|c| c.to_string()).collect::<Vec<_>>()).to_string()
    });
    let rows = stmt
        .query_map(params![filter, LIST_ROWS_MAX as i64], |r| {
            Ok(AgentTaskRow {
                id: r.get(0)?,
                farmer_id: r.get(1)?,
                village_code: r.get(2)?,
                number: r.get(3)?,
                created_ms: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A logged call with what was said and pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    pub id: i64,
    pub direction: String,
    pub number: Option<String>,
    pub farmer_id: Option<String>,
    pub callback_id: Option<i64>,
    pub language: String,
    pub started_ms: i64,
    pub answered_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub outcome: Option<String>,
    pub events: Vec<CallEventRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallEventRow {
    pub at_ms: i64,
    pub kind: String,
    pub prompt: Option<String>,
    pub text: String,
}

/// Calls, newest first, with their logs.
pub fn list_calls(conn: &Connection, limit: usize) -> StoreResult<Vec<CallRow>> {
    let limit = i64::try_from(limit.min(LIST_ROWS_MAX)).unwrap_or(0);
    let mut stmt = conn.prepare(
        "SELECT id, direction, number, farmer_id, callback_id, language, started_ms, answered_ms,
                ended_ms, outcome
         FROM voice_calls ORDER BY id DESC LIMIT ?1",
    )?;
    let mut calls: Vec<CallRow> = stmt
        .query_map([limit], |r| {
            Ok(CallRow {
                id: r.get(0)?,
                direction: r.get(1)?,
                number: r.get(2)?,
                farmer_id: r.get(3)?,
                callback_id: r.get(4)?,
                language: r.get(5)?,
                started_ms: r.get(6)?,
                answered_ms: r.get(7)?,
                ended_ms: r.get(8)?,
                outcome: r.get(9)?,
                events: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut events = conn.prepare(
        "SELECT at_ms, kind, prompt, text FROM voice_call_events WHERE call_id = ?1 ORDER BY seq",
    )?;
    for call in &mut calls {
        call.events = events
            .query_map([call.id], |r| {
                Ok(CallEventRow {
                    at_ms: r.get(0)?,
                    kind: r.get(1)?,
                    prompt: r.get(2)?,
                    text: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::Synchronous;

    const T0: i64 = 1_796_169_600_000;

    fn farmer() -> FarmerCaller {
        FarmerCaller {
            farmer_id: FarmerId(uuid::Uuid::from_u128(9)),
            village_code: VillageCode::parse("v", "563412").unwrap(),
            phone: PhoneNumber::parse("p", "9812345678").unwrap(),
            language: Language::Hi,
            voice_consent: true,
        }
    }

    #[test]
    fn callbacks_queue_retry_and_survive_a_crash_mid_dial() {
        let dir = tempfile::tempdir().unwrap();
        let policy = CallbackPolicy {
            per_number_per_day: 2,
            ..CallbackPolicy::default()
        };
        {
            let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
            let (d, id) = store
                .write(|tx| request_callback(tx, &policy, &farmer(), CallbackReason::RangOff, T0))
                .unwrap();
            assert!(matches!(d, RequestDecision::Queue { .. }));
            let id = id.unwrap();
            // A second ring-off while one is open adds nothing.
            let (d, _) = store
                .write(|tx| request_callback(tx, &policy, &farmer(), CallbackReason::RangOff, T0))
                .unwrap();
            assert_eq!(d, RequestDecision::AlreadyOpen);
            assert!(store.read(|c| next_due_callback(c, T0)).unwrap().is_none());
            let due = store
                .read(|c| next_due_callback(c, T0 + 10_000))
                .unwrap()
                .unwrap();
            assert_eq!(due.id, id);
            assert!(
                store
                    .write(|tx| start_callback_dial(tx, id, T0 + 10_000))
                    .unwrap()
            );
            let after = store
                .write(|tx| finish_callback_dial(tx, &policy, id, CallOutcome::Busy, T0 + 20_000))
                .unwrap();
            assert_eq!(after.state, CallbackState::Pending);
            // Dial again, then the process dies mid-call (the store is dropped uncommitted-free).
            assert!(
                store
                    .write(|tx| start_callback_dial(tx, id, T0 + 400_000))
                    .unwrap()
            );
            store
                .write(|tx| {
                    start_call(
                        tx,
                        Direction::Outbound,
                        Some(&farmer().phone),
                        Some(farmer().farmer_id),
                        Some(id),
                        Language::Hi,
                        T0 + 400_000,
                    )
                })
                .unwrap();
        }
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let rec = store
            .write(|tx| recover_after_restart(tx, &policy, T0 + 500_000))
            .unwrap();
        assert_eq!(
            rec,
            Recovery {
                calls_closed: 1,
                dials_requeued: 1
            }
        );
        let rows = store.read(|c| list_callbacks(c, None, 10)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, "pending");
        assert_eq!(rows[0].attempts, 2);
        assert_eq!(rows[0].last_outcome.as_deref(), Some("interrupted"));
        // The third attempt is the last (attempts_max = 3).
        let id = rows[0].id;
        store
            .write(|tx| start_callback_dial(tx, id, T0 + 900_000))
            .unwrap();
        let after = store
            .write(|tx| finish_callback_dial(tx, &policy, id, CallOutcome::NoAnswer, T0 + 950_000))
            .unwrap();
        assert_eq!(after.state, CallbackState::Failed);
        // The daily limit (2) counts this one; one more is allowed today, then no more.
        let (d, _) = store
            .write(|tx| {
                request_callback(
                    tx,
                    &policy,
                    &farmer(),
                    CallbackReason::RangOff,
                    T0 + 1_000_000,
                )
            })
            .unwrap();
        assert!(matches!(d, RequestDecision::Queue { .. }));
        let calls = store.read(|c| list_calls(c, 10)).unwrap();
        assert_eq!(calls[0].outcome.as_deref(), Some("interrupted"));
    }

    #[test]
    fn the_daily_limit_counts_local_days() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let policy = CallbackPolicy {
            per_number_per_day: 1,
            ..CallbackPolicy::default()
        };
        let request = |now| {
            store
                .write(|tx| {
                    let r = request_callback(tx, &policy, &farmer(), CallbackReason::RangOff, now)?;
                    if let Some(id) = r.1 {
                        start_callback_dial(tx, id, now)?;
                        finish_callback_dial(tx, &policy, id, CallOutcome::Completed, now)?;
                    }
                    Ok(r.0)
                })
                .unwrap()
        };
        // T0 is 05:30 IST; 23:59 IST the same day is T0 + 18h29m.
        assert!(matches!(request(T0), RequestDecision::Queue { .. }));
        assert_eq!(
            request(T0 + (18 * 60 + 29) * 60_000),
            RequestDecision::RateLimited { per_day: 1 }
        );
        assert!(matches!(
            request(T0 + (18 * 60 + 31) * 60_000),
            RequestDecision::Queue { .. }
        ));
    }

    #[test]
    fn the_call_log_keeps_every_spoken_text_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let f = farmer();
        let id = store
            .write(|tx| {
                let id = start_call(
                    tx,
                    Direction::Inbound,
                    Some(&f.phone),
                    Some(f.farmer_id),
                    None,
                    Language::Hi,
                    T0,
                )?;
                mark_answered(tx, id, T0 + 1)?;
                log_call_event(
                    tx,
                    id,
                    T0 + 2,
                    CallLogEvent::Spoken {
                        prompt: "ivr-greeting",
                        text: "नमस्ते",
                    },
                )?;
                log_call_event(tx, id, T0 + 3, CallLogEvent::Key('1'))?;
                add_agent_task(tx, &f, Some(id), T0 + 4)?;
                end_call(tx, id, CallOutcome::Completed, T0 + 5)?;
                Ok(id)
            })
            .unwrap();
        let calls = store.read(|c| list_calls(c, 10)).unwrap();
        assert_eq!(calls[0].id, id);
        assert_eq!(calls[0].outcome.as_deref(), Some("completed"));
        let texts: Vec<_> = calls[0].events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["नमस्ते", "1"]);
        let tasks = store
            .read(|c| open_agent_tasks(c, Some(&[f.village_code])))
            .unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].number, "+919812345678");
        let other = VillageCode::parse("v", "563413").unwrap();
        assert!(
            store
                .read(|c| open_agent_tasks(c, Some(&[other])))
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.read(|c| open_agent_tasks(c, None)).unwrap().len(), 1);
    }
}
