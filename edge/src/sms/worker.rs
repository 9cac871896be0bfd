//! The outbox worker: one tokio task that sends the persistent SMS outbox through the modem,
//! one message at a time (the modem sends one at a time anyway; CMGS takes seconds).
//!
//! Each round: read what is due and today's usage, let [`policy::choose`] pick (replies, then
//! alerts, then bulk; the daily cap with its reply reserve), mark it `sending` (committed
//! before the modem sees it), send, then commit `sent` with the part references, or a retry
//! with backoff, or `failed`. Over the cap → the worker waits for the next local day (or a
//! new message, which may be a reply inside the reserve); nothing is dropped or rewritten. While a call is
//! in progress (`in_call`, set by the voice work) no new message starts: the modem cannot
//! send SMS during a call on most SIM800-class firmware, and the caller should not hear the
//! line stall. Rows found `sending` at start-up go back to `queued` (at-least-once).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use farmco_hardware::driver::{ModemError, ModemHandle};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::{Notify, watch};

use crate::metrics::SmsEventLabels;
use crate::store::sms::{self as sms_store, Priority};
use crate::store::{Store, now_ms};
use farmco_village::sms::policy::{self, Choice, DailyCap};

/// Due rows read per round: the choice needs only the best few; the rest wait their turn.
pub const DUE_BATCH_MAX: usize = 64;
/// Longest sleep when nothing is due, so a row whose time came (retry, next day) is seen even
/// if no one wakes the worker.
const IDLE_POLL_MS: u64 = 5_000;
/// How often to look again while a call holds the modem.
const IN_CALL_POLL_MS: u64 = 500;
/// Pause after a store error, so a broken disk cannot spin a core.
const STORE_ERROR_PAUSE_MS: u64 = 1_000;

/// What the worker needs to know.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    pub cap: DailyCap,
    pub offset: time::UtcOffset,
    /// Attempts per message (the driver retries each part within one attempt too).
    pub attempts_max: u32,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

/// Shared with the task.
#[derive(Debug, Clone)]
pub struct WorkerShared {
    pub store: Arc<Store>,
    pub modem: ModemHandle,
    pub in_call: Arc<AtomicBool>,
    pub wake: Arc<Notify>,
    pub events: Family<SmsEventLabels, Counter>,
}

impl WorkerShared {
    fn count(&self, event: &str) {
        self.events
            .get_or_create(&SmsEventLabels {
                event: event.to_owned(),
            })
            .inc();
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::store::StoreResult<T> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(error)) => {
            tracing::error!(%error, "sms outbox: store error");
            None
        }
        Err(error) => {
            tracing::error!(%error, "sms outbox: blocking task failed");
            None
        }
    }
}

/// Run until `stop` turns true.
pub async fn run(shared: WorkerShared, config: WorkerConfig, mut stop: watch::Receiver<bool>) {
    let store = shared.store.clone();
    if let Some(n) =
        blocking(move || store.write(|tx| sms_store::requeue_interrupted(tx, now_ms()))).await
        && n > 0
    {
        tracing::warn!(
            messages = n,
            "sms outbox: re-queued messages interrupted by a restart"
        );
    }
    loop {
        // A dropped sender (the link is gone) stops the worker too.
        if *stop.borrow() || stop.has_changed().is_err() {
            return;
        }
        if shared.in_call.load(Ordering::Acquire) {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(IN_CALL_POLL_MS)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let now = now_ms();
        let (day, next_day_ms) = policy::local_day(now, config.offset);
        let store = shared.store.clone();
        let day_for_read = day.clone();
        let Some((due, used)) = blocking(move || {
            store.read(|c| {
                Ok((
                    sms_store::due_queued(c, now, DUE_BATCH_MAX)?,
                    sms_store::used_on_day(c, &day_for_read)?,
                ))
            })
        })
        .await
        else {
            tokio::time::sleep(Duration::from_millis(STORE_ERROR_PAUSE_MS)).await;
            continue;
        };
        let pairs: Vec<(i64, Priority)> = due
            .iter()
            .map(|row| (row.id, Priority::from_i64(row.priority)))
            .collect();
        match policy::choose(&pairs, used, config.cap) {
            Choice::Send(id) => {
                let Some(row) = due.into_iter().find(|r| r.id == id) else {
                    continue;
                };
                let store = shared.store.clone();
                let claim_day = day.clone();
                let claimed = blocking(move || {
                    store.write(|tx| sms_store::claim_with_consent(tx, id, &claim_day, now_ms()))
                })
                .await
                .unwrap_or(sms_store::Claim::NotQueued);
                match claimed {
                    sms_store::Claim::Claimed => {}
                    sms_store::Claim::NotQueued => continue,
                    sms_store::Claim::ConsentWithdrawn => {
                        shared.count("cancelled_by_stop");
                        continue;
                    }
                }
                let result = tokio::select! {
                    result = shared.modem.send_sms(&row.recipient, &row.body, true) => result,
                    _ = stop.changed() => return,
                };
                record(&shared, &config, id, row.attempts + 1, result).await;
            }
            Choice::OverCap(ids) => {
                // Nothing is written: the rows stay due, and the next look (a new message, the
                // next day, or a restart with another cap) decides again.
                shared.count("over_cap_wait");
                tracing::info!(
                    messages = ids.len(),
                    used,
                    cap = config.cap.cap,
                    "sms outbox: daily cap reached; waiting for the next day"
                );
                let wait_ms = u64::try_from(next_day_ms.saturating_sub(now_ms())).unwrap_or(0);
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(wait_ms.max(1))) => {}
                    _ = stop.changed() => {}
                }
            }
            Choice::Idle => {
                let store = shared.store.clone();
                let next_due = blocking(move || store.read(sms_store::next_due_ms))
                    .await
                    .flatten();
                let wait_ms = next_due
                    .map(|due| due.saturating_sub(now_ms()).max(0) as u64)
                    .unwrap_or(IDLE_POLL_MS)
                    .clamp(1, IDLE_POLL_MS);
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn record(
    shared: &WorkerShared,
    config: &WorkerConfig,
    id: i64,
    attempts: i64,
    result: Result<farmco_hardware::driver::SendOutcome, ModemError>,
) {
    let store = shared.store.clone();
    let now = now_ms();
    match result {
        Ok(outcome) => {
            shared.count("sent");
            let _ = blocking(move || {
                store.write(|tx| sms_store::mark_sent(tx, id, &outcome.message_refs, now))
            })
            .await;
        }
        Err(error) => {
            let permanent = matches!(
                error,
                ModemError::InvalidNumber(_)
                    | ModemError::InvalidText(_)
                    | ModemError::Unsupported(_)
                    | ModemError::SendFailed {
                        permanent: true,
                        ..
                    }
            );
            let reason = error.to_string();
            if permanent || attempts >= i64::from(config.attempts_max) {
                shared.count("failed");
                tracing::warn!(id, %reason, attempts, "sms outbox: message failed");
                let _ = blocking(move || {
                    store.write(|tx| sms_store::mark_failed(tx, id, &reason, now))
                })
                .await;
            } else {
                shared.count("retry");
                let delay = policy::retry_delay_ms(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    config.retry_initial_ms,
                    config.retry_max_ms,
                    rand::random::<f64>(),
                );
                tracing::info!(id, %reason, attempts, delay_ms = delay, "sms outbox: retrying later");
                let next = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
                let _ = blocking(move || {
                    store.write(|tx| sms_store::mark_retry(tx, id, &reason, next, now))
                })
                .await;
            }
        }
    }
}
