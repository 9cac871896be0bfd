//! The notification executor: a tokio task with a bounded mailbox of [`Notification`]s. It
//! routes each one (`store::notify::route_notification`: consent, preferences, quiet hours,
//! dedupe, daily cap — the pure router decides) and delivers due attempts:
//!
//! - **SMS**: the rendered text goes into the SMS outbox (`store::sms::enqueue`) and the attempt
//!   becomes `handed_off` with the outbox id, in ONE transaction; the outbox's final state
//!   (delivery report, network failure, last retry failed) comes back to the attempt through
//!   [`crate::store::notify::sync_sms_outcomes`], called by the modem dispatcher on every
//!   delivery report and by this task's tick. Low urgency goes as one digest SMS per farmer.
//!   A farmer who sent STOP after the notification was routed is not texted (`cancelled`).
//! - **Voice**: attempts stay `scheduled` for the voice task (`voice::task`), which the
//!   executor wakes; it dials one at a time, checks high urgency's condition (no call if the
//!   SMS was delivered) and records the result (`voice_attempt_result`: retry or SMS fallback).
//! - **Cloud advisories**: on each tick, weather advisories with a warning severity become
//!   notifications to the farmers of their villages ([`advisory_notifications`]), once per
//!   advisory (`advisories_notified`).
//! - **Alerts**: the MQTT alert hook converts its alert with [`notification_for_alert`] and
//!   calls [`NotifyHandle::submit`].
//!
//! Broadcasts (`POST /api/v1/broadcasts`) are routed by the API in the request's transaction
//! (the supervisor gets the counts) and then wake this task, which delivers them like the rest.
//! A periodic tick ([`TICK_MS`]) picks up what was deferred (quiet hours, the digest, retries,
//! high urgency's conditional call).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use farmco_sync::{FarmerId, PhoneNumber, VillageCode};
use rusqlite::{Connection, params};
use serde::Deserialize;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::notify::NotifyConfig;
use crate::store::notify::{self as notify_store, AttemptState, SmsJob};
use crate::store::sms::{self as sms_store, EnqueueError, OutgoingSms, Priority};
use crate::store::{Store, StoreError, StoreResult, now_ms};
use crate::voice::task::VoiceHandle;
use farmco_village::notify::render::{render_digest, render_message};
use farmco_village::notify::router::{
    MESSAGE_ARG_CHARS_MAX, Message, Notification, Source, Urgency,
};

/// Notifications waiting to be routed. Alert rules fire at most once per sensor reading and a
/// box has a few hundred sensors; 256 is minutes of a burst. When full, `submit` waits and
/// `try_submit` says so: the alert stays with its source (the alerts table), never dropped.
pub const MAILBOX_CAPACITY: usize = 256;
/// Deferred and conditional attempts, retries and outcome sync run this often.
pub const TICK_MS: u64 = 15_000;
/// SMS attempts handed to the outbox per transaction: the outbox sends one every few seconds,
/// so 50 is minutes of work; the executor comes back for more at once.
pub const SMS_HANDOFF_BATCH_MAX: usize = 50;
/// Advisories turned into notifications per tick (each one is its own transaction).
pub const ADVISORIES_PER_TICK_MAX: usize = 20;
/// Raised alerts waiting between the alert engine and this executor. The engine never waits
/// on it (`try_send`); an alert that finds it full stays in the alerts table and is routed by
/// the open-alert sweep at the next start. 256 is far above the alerts one batch can raise.
pub const ALERT_HOOK_CAPACITY: usize = 256;
/// Open alerts re-routed at start (the dedupe window makes a second routing a no-op).
pub const OPEN_ALERTS_AT_START_MAX: usize = 500;

/// Why [`NotifyHandle::try_submit`] / [`NotifyHandle::submit`] did not take a notification.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the notification mailbox is full")]
    Full(Box<Notification>),
    #[error("the notification executor has stopped")]
    Stopped(Box<Notification>),
}

/// The executor's front door.
#[derive(Debug, Clone)]
pub struct NotifyHandle {
    tx: mpsc::Sender<Notification>,
    wake: Arc<Notify>,
}

impl NotifyHandle {
    /// Queue a notification for routing; waits while the mailbox is full.
    pub async fn submit(&self, n: Notification) -> Result<(), SubmitError> {
        self.tx
            .send(n)
            .await
            .map_err(|e| SubmitError::Stopped(Box::new(e.0)))
    }

    /// Queue a notification without waiting; gives it back when the mailbox is full.
    pub fn try_submit(&self, n: Notification) -> Result<(), SubmitError> {
        self.tx.try_send(n).map_err(|e| match e {
            mpsc::error::TrySendError::Full(n) => SubmitError::Full(Box::new(n)),
            mpsc::error::TrySendError::Closed(n) => SubmitError::Stopped(Box::new(n)),
        })
    }

    /// Look for due attempts now (after something was routed elsewhere, e.g. a broadcast).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What the executor needs.
#[derive(Debug)]
pub struct Executor {
    pub store: Arc<Store>,
    pub config: NotifyConfig,
    /// The voice task, when the node has a modem.
    pub voice: Option<VoiceHandle>,
    /// The SMS outbox worker's wake-up, when the node has a modem.
    pub outbox_wake: Option<Arc<Notify>>,
}

/// Start the executor.
pub fn spawn(executor: Executor, stop: watch::Receiver<bool>) -> (NotifyHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(MAILBOX_CAPACITY);
    let wake = Arc::new(Notify::new());
    let handle = NotifyHandle {
        tx,
        wake: wake.clone(),
    };
    let task = tokio::spawn(run(executor, rx, wake, stop));
    (handle, task)
}

async fn run(
    executor: Executor,
    mut rx: mpsc::Receiver<Notification>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let executor = Arc::new(executor);
    tick(&executor).await;
    loop {
        tokio::select! {
            n = rx.recv() => {
                let Some(first) = n else { break };
                let mut batch = vec![first];
                while batch.len() < SMS_HANDOFF_BATCH_MAX {
                    match rx.try_recv() {
                        Ok(n) => batch.push(n),
                        Err(_) => break,
                    }
                }
                route(&executor, batch).await;
                deliver(&executor).await;
            }
            () = wake.notified() => deliver(&executor).await,
            () = tokio::time::sleep(Duration::from_millis(TICK_MS)) => tick(&executor).await,
            _ = stop.changed() => break,
        }
    }
}

async fn blocking<T: Send + 'static>(
    executor: &Arc<Executor>,
    f: impl FnOnce(&Executor) -> StoreResult<T> + Send + 'static,
) -> Option<T> {
    let executor = executor.clone();
    match tokio::task::spawn_blocking(move || f(&executor)).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(error)) => {
            tracing::error!(%error, "notify: store error");
            None
        }
        Err(error) => {
            tracing::error!(%error, "notify: store task failed");
            None
        }
    }
}

async fn route(executor: &Arc<Executor>, batch: Vec<Notification>) {
    let routed = blocking(executor, move |e| {
        e.store.write(|tx| {
            let now = now_ms();
            let mut out = Vec::with_capacity(batch.len());
            for n in &batch {
                match notify_store::route_notification(
                    tx,
                    &e.config.router,
                    e.config.defaults,
                    n,
                    now,
                ) {
                    Ok(routed) => out.push((n.dedupe_key.clone(), routed.decision)),
                    // A farmer deleted since the alert was raised: nothing to route.
                    Err(StoreError::NotFound(_)) => {
                        tracing::warn!(farmer = %n.farmer_id, "notify: no such farmer");
                    }
                    Err(error) => return Err(error),
                }
            }
            Ok(out)
        })
    })
    .await;
    for (key, decision) in routed.unwrap_or_default() {
        tracing::info!(%key, ?decision, "notification routed");
    }
}

/// Hand due SMS attempts to the outbox and wake the voice task for due voice attempts.
async fn deliver(executor: &Arc<Executor>) {
    loop {
        let handed = blocking(executor, |e| e.store.write(|tx| hand_off_sms(tx, now_ms())))
            .await
            .unwrap_or(0);
        if handed > 0
            && let Some(wake) = &executor.outbox_wake
        {
            wake.notify_one();
        }
        if handed < SMS_HANDOFF_BATCH_MAX {
            break;
        }
    }
    if let Some(voice) = &executor.voice {
        voice.wake();
    }
}

async fn tick(executor: &Arc<Executor>) {
    let synced = blocking(executor, |e| {
        e.store
            .write(|tx| notify_store::sync_sms_outcomes(tx, None, now_ms()))
    })
    .await;
    if let Some(n) = synced.filter(|n| *n > 0) {
        tracing::info!(attempts = n, "notify: SMS outcomes recorded");
    }
    let advisories = blocking(executor, |e| {
        advisory_notifications(&e.store, &e.config, now_ms())
    })
    .await;
    if let Some(n) = advisories.filter(|n| *n > 0) {
        tracing::info!(notifications = n, "notify: weather warnings routed");
    }
    deliver(executor).await;
}

fn priority(urgency: &str) -> Priority {
    match Urgency::parse(urgency) {
        Some(Urgency::Critical | Urgency::High) => Priority::Alert,
        _ => Priority::Bulk,
    }
}

fn language_of(job: &SmsJob) -> farmco_sync::Language {
    job.language
        .as_deref()
        .and_then(|l| farmco_sync::Language::parse("language", l).ok())
        .unwrap_or(farmco_sync::Language::Hi)
}

/// One transaction: due SMS attempts → outbox messages, each attempt `handed_off` with its
/// outbox id (or `cancelled` after STOP, `failed` when the text cannot be sent). Digest
/// attempts of one farmer become one message. Returns the attempts handled.
pub fn hand_off_sms(conn: &Connection, now_ms: i64) -> StoreResult<usize> {
    let jobs = notify_store::due_sms_attempts(conn, now_ms, SMS_HANDOFF_BATCH_MAX)?;
    let handled = jobs.len();
    let mut digests: BTreeMap<String, Vec<SmsJob>> = BTreeMap::new();
    for job in jobs {
        if job.condition == "digest" {
            digests.entry(job.farmer_id.clone()).or_default().push(job);
            continue;
        }
        let body = render_message(&job.message, language_of(&job));
        send(conn, std::slice::from_ref(&job), &body, now_ms)?;
    }
    for jobs in digests.values() {
        let Some(first) = jobs.first() else { continue };
        let messages: Vec<Message> = jobs.iter().map(|j| j.message.clone()).collect();
        let body = render_digest(&messages, language_of(first));
        send(conn, jobs, &body, now_ms)?;
    }
    Ok(handled)
}

/// Enqueue `body` for the jobs' farmer (they share one) and mark the attempts.
fn send(conn: &Connection, jobs: &[SmsJob], body: &str, now_ms: i64) -> StoreResult<()> {
    let Some(first) = jobs.first() else {
        return Ok(());
    };
    let mark = |state: AttemptState, outcome: &str| -> StoreResult<()> {
        for job in jobs {
            notify_store::mark_attempt(conn, job.attempt_id, state, Some(outcome), now_ms)?;
        }
        Ok(())
    };
    if let Some((false, _)) = sms_store::alert_consent(conn, &first.phone)? {
        return mark(AttemptState::Cancelled, "stop");
    }
    let Ok(to) = PhoneNumber::parse("phone", &first.phone) else {
        return mark(AttemptState::Failed, "invalid_phone");
    };
    let sms = OutgoingSms {
        to,
        body: body.to_owned(),
        priority: priority(&first.urgency),
        kind: "notification".to_owned(),
    };
    match sms_store::enqueue(conn, &sms, now_ms) {
        Ok(outbox_id) => {
            for job in jobs {
                notify_store::mark_attempt(
                    conn,
                    job.attempt_id,
                    AttemptState::HandedOff,
                    None,
                    now_ms,
                )?;
                notify_store::set_sms_outbox(conn, job.attempt_id, outbox_id)?;
            }
            Ok(())
        }
        Err(EnqueueError::Store(error)) => Err(error),
        Err(error) => mark(AttemptState::Failed, &error.to_string()),
    }
}

/// The fields of a weather advisory body this module reads (the rest is `answers::WeatherBody`).
///
/// **Severity** is the body's `severity` field: `"warning"` → a high-urgency notification,
/// `"severe"` or `"emergency"` → critical (voice and SMS, even in quiet hours); anything else
/// (`"info"`, `"watch"`, absent) notifies nobody. The text is the body's `text` per language
/// (`{"en": …, "hi": …}`), else the advisory's title.
#[derive(Debug, Deserialize)]
struct WeatherSeverity {
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    text: BTreeMap<String, String>,
}

/// The urgency a weather advisory's severity calls for (`None`: nobody is notified).
pub fn weather_urgency(severity: Option<&str>) -> Option<Urgency> {
    match severity? {
        "warning" => Some(Urgency::High),
        "severe" | "emergency" => Some(Urgency::Critical),
        _ => None,
    }
}

fn cut(text: &str) -> String {
    text.chars().take(MESSAGE_ARG_CHARS_MAX).collect()
}

/// Valid weather advisories not yet turned into notifications → one notification per farmer
/// of their villages (dedupe key `advisory:<id>`), each advisory in its own transaction with
/// its `advisories_notified` row. Returns the notifications routed.
pub fn advisory_notifications(
    store: &Store,
    config: &NotifyConfig,
    now_ms: i64,
) -> StoreResult<usize> {
    let pending: Vec<(String, String, String, String)> = store.read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT id, village_codes, title, body FROM advisories a
             WHERE kind = 'weather' AND json_valid(body)
               AND json_extract(body, '$.severity') IN ('warning', 'severe', 'emergency')
               AND valid_from_ms <= ?1 AND (valid_until_ms IS NULL OR valid_until_ms > ?1)
               AND NOT EXISTS (SELECT 1 FROM advisories_notified n WHERE n.advisory_id = a.id)
             ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![now_ms, ADVISORIES_PER_TICK_MAX as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    })?;
    let mut total = 0;
    for (id, villages, title, body) in pending {
        let parsed: Option<WeatherSeverity> = serde_json::from_str(&body).ok();
        let urgency = parsed
            .as_ref()
            .and_then(|b| weather_urgency(b.severity.as_deref()));
        let villages: Vec<String> = serde_json::from_str(&villages).unwrap_or_default();
        let mut args = BTreeMap::new();
        args.insert("text".to_owned(), cut(&title));
        for (lang, text) in parsed.map(|b| b.text).unwrap_or_default() {
            if lang.len() <= 3 && lang.bytes().all(|b| b.is_ascii_lowercase()) {
                args.insert(format!("text_{lang}"), cut(&text));
            }
        }
        let message = Message {
            key: "weather-warning".to_owned(),
            args,
        };
        total += store.write(|tx| {
            let mut routed = 0;
            if let Some(urgency) = urgency {
                for village in &villages {
                    let Ok(code) = VillageCode::parse("village_code", village) else {
                        continue;
                    };
                    for farmer_id in notify_store::village_recipients(tx, code)? {
                        let n = Notification {
                            dedupe_key: format!("advisory:{id}"),
                            farmer_id,
                            urgency,
                            source: Source::Advisory,
                            message: message.clone(),
                        };
                        if notify_store::route_notification(
                            tx,
                            &config.router,
                            config.defaults,
                            &n,
                            now_ms,
                        )?
                        .id
                        .is_some()
                        {
                            routed += 1;
                        }
                    }
                }
            }
            tx.execute(
                "INSERT INTO advisories_notified (advisory_id, notifications, notified_ms)
                 VALUES (?1, ?2, ?3)",
                params![id, routed as i64, now_ms],
            )?;
            Ok(routed)
        })?;
    }
    Ok(total)
}

/// An alert raised by a local rule (the MQTT branch's alert hook), as this module needs it.
/// The lead maps the alerts module's own type onto this at the hook.
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedAlert {
    pub alert_id: String,
    pub farmer_id: FarmerId,
    pub farm_id: String,
    pub sensor_id: String,
    pub rule_id: String,
    /// `dry_soil`, `storm_warning`, ...: the message key with `-` for `_` (`dry-soil`).
    pub kind: String,
    /// `critical`, `high` / `warning`, `normal`, `low` / `info`.
    pub severity: String,
    pub value: f64,
    pub raised_at_ms: i64,
}

/// The notification for a raised alert: urgency from its severity; dedupe per rule and farm,
/// so a rule that keeps firing reaches the farmer once per dedupe window (and a redelivery
/// after a crash is a duplicate); the message key is the kind (`dry-soil`), with the field,
/// the value and a plain `text` fallback as arguments.
pub fn notification_for_alert(alert: &RaisedAlert) -> Notification {
    let urgency = match alert.severity.as_str() {
        "critical" => Urgency::Critical,
        "high" | "warning" => Urgency::High,
        "low" | "info" => Urgency::Low,
        _ => Urgency::Normal,
    };
    let key: String = alert
        .kind
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(farmco_village::notify::router::MESSAGE_KEY_CHARS_MAX)
        .collect();
    let value = format!("{:.0}", alert.value);
    let mut args = BTreeMap::new();
    args.insert("field".to_owned(), cut(&alert.farm_id));
    args.insert("value".to_owned(), value.clone());
    args.insert("sensor".to_owned(), cut(&alert.sensor_id));
    args.insert(
        "text".to_owned(),
        cut(&format!("{} {value}", alert.kind.replace('_', " "))),
    );
    Notification {
        dedupe_key: cut(&format!("alert:{}:{}", alert.rule_id, alert.farm_id)),
        farmer_id: alert.farmer_id,
        urgency,
        source: Source::Alert,
        message: Message {
            key: if key.is_empty() {
                "alert".to_owned()
            } else {
                key
            },
            args,
        },
    }
}

impl RaisedAlert {
    /// The alert engine's record as routing needs it. `None` for an alert on a sensor that is
    /// linked to no farmer: it stays in the alerts table for agents (`GET /api/v1/alerts`).
    pub fn from_engine(alert: &crate::alerts::RaisedAlert) -> Option<RaisedAlert> {
        let farmer_id: FarmerId = alert.farmer_id.as_deref()?.parse().ok()?;
        Some(RaisedAlert {
            alert_id: alert.alert_id.to_string(),
            farmer_id,
            farm_id: alert.farm_id.clone().unwrap_or_default(),
            sensor_id: alert.sensor_id.clone(),
            rule_id: alert.rule_id.clone(),
            kind: alert.kind.clone(),
            severity: alert.severity.clone(),
            value: alert.value.unwrap_or(0.0),
            raised_at_ms: alert.raised_ms,
        })
    }
}

/// Route alerts to farmers: first every alert still open in the store (one the hook could not
/// take, or raised just before a crash; routing twice is a no-op inside the dedupe window), then
/// each alert the engine raises, until the engine's side of the channel closes.
pub async fn forward_alerts(
    store: Arc<Store>,
    mut raised: mpsc::Receiver<crate::alerts::RaisedAlert>,
    notify: NotifyHandle,
) {
    let open = tokio::task::spawn_blocking(move || {
        store.read(|c| crate::store::alerts::list(c, true, OPEN_ALERTS_AT_START_MAX))
    })
    .await;
    let open = match open {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reading open alerts failed; they are routed when raised again");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading open alerts failed");
            Vec::new()
        }
    };
    for row in open.into_iter().filter(|r| r.acked_ms.is_none()) {
        let alert = crate::alerts::RaisedAlert {
            alert_id: row.id,
            farmer_id: row.farmer_id,
            farm_id: row.farm_id,
            sensor_id: row.sensor_id,
            rule_id: row.rule_id,
            kind: row.kind,
            severity: row.severity,
            value: row.value,
            raised_ms: row.raised_ms,
        };
        if let Some(a) = RaisedAlert::from_engine(&alert)
            && notify.submit(notification_for_alert(&a)).await.is_err()
        {
            return;
        }
    }
    while let Some(alert) = raised.recv().await {
        if let Some(a) = RaisedAlert::from_engine(&alert)
            && notify.submit(notification_for_alert(&a)).await.is_err()
        {
            tracing::warn!("notification executor stopped; alert kept in the alerts table");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_map_to_notifications() {
        let alert = RaisedAlert {
            alert_id: "a1".into(),
            farmer_id: FarmerId(uuid::Uuid::from_u128(7)),
            farm_id: "farm-9".into(),
            sensor_id: "s-1".into(),
            rule_id: "dry".into(),
            kind: "dry_soil".into(),
            severity: "high".into(),
            value: 11.6,
            raised_at_ms: 0,
        };
        let n = notification_for_alert(&alert);
        assert_eq!(n.urgency, Urgency::High);
        assert_eq!(n.dedupe_key, "alert:dry:farm-9");
        assert_eq!(n.message.key, "dry-soil");
        assert_eq!(n.message.args["value"], "12");
        let text = render_message(&n.message, farmco_sync::Language::En);
        assert_eq!(
            text,
            "Dry soil on field farm-9: moisture 12 percent. Please irrigate."
        );
        let odd = notification_for_alert(&RaisedAlert {
            kind: "Ünknown!!".into(),
            severity: "critical".into(),
            ..alert
        });
        assert_eq!(odd.urgency, Urgency::Critical);
        assert!(!odd.message.key.is_empty());
    }

    #[test]
    fn an_unanswered_voice_notification_falls_back_to_one_sms_handed_off_with_its_attempt() {
        use crate::store::Synchronous;
        use farmco_sync::{Consents, Farmer, Language, PersonName};
        use farmco_village::notify::router::{Preferences, QuietHours, RouterConfig};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let farmer = Farmer {
            id: FarmerId(uuid::Uuid::from_u128(9)),
            name: PersonName::parse("n", "Sunita").unwrap(),
            phone: PhoneNumber::parse("p", "9812345679").unwrap(),
            language: Language::Hi,
            village_code: VillageCode::parse("v", "563412").unwrap(),
            consents: Consents {
                sms: true,
                voice: true,
                data_sharing: false,
            },
        };
        let now = 1_796_169_600_000;
        store.create_farmer(&farmer, "test", now).unwrap();
        let router = RouterConfig {
            voice_tries_max: 2,
            ..RouterConfig::default()
        };
        // Voice only, no quiet hours: one voice attempt.
        let prefs = Preferences {
            sms: false,
            voice: true,
            language: None,
            quiet: QuietHours {
                start_minute: 0,
                end_minute: 0,
            },
            max_per_day: 5,
        };
        let n = Notification {
            dedupe_key: "canal".into(),
            farmer_id: farmer.id,
            urgency: Urgency::Normal,
            source: Source::Broadcast,
            message: Message {
                key: "broadcast".into(),
                args: [("text".to_owned(), "नहर सोमवार को खुलेगी".to_owned())]
                    .into_iter()
                    .collect(),
            },
        };
        let id = store
            .write(|tx| notify_store::route_notification(tx, &router, prefs, &n, now))
            .unwrap()
            .id
            .unwrap();
        let voice_id = |store: &Store| {
            store
                .read(|c| notify_store::list_notifications(c, farmer.id, 10))
                .unwrap()[0]
                .attempts
                .iter()
                .find(|a| a.channel == "voice")
                .unwrap()
                .id
        };
        let attempt = voice_id(&store);
        for i in 0..2 {
            store
                .write(|tx| {
                    notify_store::voice_attempt_result(tx, &router, attempt, false, now + i)
                })
                .unwrap();
        }
        // Nothing is texted before the fallback is due; then exactly one SMS, once.
        assert_eq!(store.write(|tx| hand_off_sms(tx, now)).unwrap(), 0);
        assert_eq!(store.write(|tx| hand_off_sms(tx, now + 1)).unwrap(), 1);
        assert_eq!(store.write(|tx| hand_off_sms(tx, now + 10)).unwrap(), 0);
        let rows = store
            .read(|c| notify_store::list_notifications(c, farmer.id, 10))
            .unwrap();
        let sms = rows[0]
            .attempts
            .iter()
            .find(|a| a.channel == "sms")
            .unwrap();
        assert_eq!(
            (sms.condition.as_str(), sms.state.as_str()),
            ("fallback", "handed_off")
        );
        let outbox = store.read(|c| sms_store::list_outbox(c, None, 10)).unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].body, "नहर सोमवार को खुलेगी");
        let linked: Option<i64> = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT sms_outbox_id FROM notification_attempts WHERE notification_id = ?1
                     AND channel = 'sms'",
                    [&id],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(linked, Some(outbox[0].id));
    }

    #[test]
    fn weather_severity_decides_urgency() {
        assert_eq!(weather_urgency(Some("warning")), Some(Urgency::High));
        assert_eq!(weather_urgency(Some("severe")), Some(Urgency::Critical));
        assert_eq!(weather_urgency(Some("info")), None);
        assert_eq!(weather_urgency(None), None);
    }
}
