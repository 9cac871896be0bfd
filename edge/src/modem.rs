//! The modem shell of the edge: starts the simulator (when configured) and the driver, runs
//! the dispatcher that owns the driver's event stream, and the SMS outbox worker.
//!
//! ```text
//!  driver ──ModemEvent (bounded)──▶ dispatcher ─┬─ SmsReceived ──▶ sms::handle_incoming (1 tx) ──▶ ack
//!                                               ├─ DeliveryReport ──▶ store ──▶ ack
//!                                               ├─ UndecodableSms ──▶ quarantine ──▶ ack
//!                                               ├─ call events ──▶ optional Sender (voice; bounded)
//!                                               └─ Health / ModemLost / ModemReady ──▶ metrics, log
//!  outbox worker ──ModemHandle::send_sms──▶ driver       (paused while `in_call`)
//! ```
//!
//! [`ModemLink`] is what the rest of the node sees (through `AppState::modem`): the driver's
//! handle, the `in_call` flag the voice work sets, the in-process simulator if any, and
//! [`ModemLink::wake_outbox`] for whoever enqueues a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use farmco_hardware::codec::pdu::tpdu::DeliveryOutcome;
use farmco_hardware::driver::{Health, Modem, ModemConfig, ModemEvent, ModemHandle, ModemState};
use farmco_hardware::sim::{SimConfig, SimHandle, SimSettings, Simulator};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{ModemDevice, ModemSettings, SmsConfig};
use crate::metrics::{Metrics, ModemInfoLabels, SmsEventLabels, StateLabels};
use crate::sms::{self, Handled, ServiceContext};
use crate::store::sms::{self as sms_store, PartStatus};
use crate::store::{Store, now_ms};

/// Capacity of the channel of call events handed to the voice work: a call produces a few
/// events per second at most (RING, DTMF keys); 64 is many seconds of a stalled consumer, after
/// which events are dropped and counted rather than blocking SMS handling.
pub const CALL_EVENT_CHANNEL_CAPACITY: usize = 64;

/// The running modem, as the node sees it.
#[derive(Debug)]
pub struct ModemLink {
    pub handle: ModemHandle,
    /// True while a call is in progress (set by the voice work): the outbox starts no SMS.
    pub in_call: Arc<AtomicBool>,
    /// The in-process simulator, when `modem.device = "simulator"`.
    pub sim: Option<SimHandle>,
    outbox_wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl ModemLink {
    /// Start the modem as configured; `None` when `modem.device = "none"`. `call_events`
    /// receives call events unchanged (the voice work plugs in here); without it they are
    /// logged and counted.
    pub async fn start(
        settings: &ModemSettings,
        sms_config: &SmsConfig,
        store: Arc<Store>,
        metrics: &Metrics,
        call_events: Option<mpsc::Sender<ModemEvent>>,
    ) -> anyhow::Result<Option<ModemLink>> {
        let (port, sim) = match &settings.device {
            ModemDevice::None => return Ok(None),
            ModemDevice::Serial(path) => (path.clone(), None),
            ModemDevice::Simulator => {
                let sim = Simulator::start(SimConfig {
                    settings: SimSettings {
                        cmgs_delay_ms: settings.simulator_cmgs_delay_ms,
                        ..SimSettings::default()
                    },
                    link_path: None,
                    control_addr: Some(settings.simulator_control),
                })
                .await
                .context("starting the in-process modem simulator")?;
                (sim.port_path(), Some(sim))
            }
        };
        let mut modem_config = ModemConfig::new(port, settings.profile);
        if sim.is_some() {
            // A pty cannot be opened exclusively in every environment; nobody else uses it.
            modem_config.exclusive = false;
        }
        let (handle, events) = Modem::spawn(modem_config);
        let in_call = Arc::new(AtomicBool::new(false));
        let outbox_wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let dispatcher = Dispatcher {
            store: store.clone(),
            failures: std::sync::Mutex::new(FailureCounter::default()),
            ctx: ServiceContext {
                offset: sms_config.offset,
            },
            call_events,
            outbox_wake: outbox_wake.clone(),
            events: metrics.sms_events.clone(),
        };
        let dispatcher_task = tokio::spawn(dispatcher.run(events, stopped.clone()));
        let worker = sms::worker::WorkerShared {
            store,
            modem: handle.clone(),
            in_call: in_call.clone(),
            wake: outbox_wake.clone(),
            events: metrics.sms_events.clone(),
        };
        let worker_config = sms::worker::WorkerConfig {
            cap: sms_config.cap,
            offset: sms_config.offset,
            attempts_max: sms_config.send_attempts_max,
            retry_initial_ms: u64::try_from(sms_config.retry_initial.as_millis())
                .unwrap_or(u64::MAX),
            retry_max_ms: u64::try_from(sms_config.retry_max.as_millis()).unwrap_or(u64::MAX),
        };
        let worker_task = tokio::spawn(sms::worker::run(worker, worker_config, stopped));
        Ok(Some(ModemLink {
            handle,
            in_call,
            sim,
            outbox_wake,
            stop,
            tasks: std::sync::Mutex::new(vec![dispatcher_task, worker_task]),
        }))
    }

    /// Tell the outbox worker a message was enqueued (after the commit).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    /// The outbox worker's wake-up, for tasks that enqueue or end calls (voice, notifications).
    pub fn outbox_waker(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    /// The in-process simulator's side door, if there is one.
    pub fn simulator_control_url(&self) -> Option<String> {
        self.sim
            .as_ref()
            .and_then(SimHandle::control_addr)
            .map(|addr| format!("http://{addr}"))
    }

    /// Copy the driver's health and the outbox counts into the metrics.
    pub fn refresh_metrics(&self, metrics: &Metrics, outbox: &[(String, i64)]) {
        let health: Health = self.handle.health();
        metrics.modem_info.clear();
        metrics
            .modem_info
            .get_or_create(&ModemInfoLabels {
                state: label(&health.state),
                profile: health.profile.name().to_owned(),
                operator: health.operator.clone().unwrap_or_default(),
                registration: health.registration.map(|r| label(&r)).unwrap_or_default(),
            })
            .set(1);
        metrics
            .modem_signal_rssi
            .set(health.signal_rssi.map_or(-1, i64::from));
        metrics
            .modem_signal_dbm
            .set(health.signal_dbm.map_or(0, i64::from));
        metrics.modem_registered.set(i64::from(
            health.registration.is_some_and(|r| r.is_registered()),
        ));
        metrics
            .modem_sms_parts_sent
            .set(i64::try_from(health.counters.sms_parts_sent).unwrap_or(i64::MAX));
        metrics
            .modem_resets
            .set(i64::try_from(health.counters.modem_resets).unwrap_or(i64::MAX));
        for state in ["queued", "sending", "sent", "delivered", "failed"] {
            let n = outbox
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            metrics
                .sms_outbox_messages
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(n);
        }
    }

    /// Stop the worker, the dispatcher and the driver (the simulator stops when dropped).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let _ = self.handle.shutdown().await;
        let tasks: Vec<JoinHandle<()>> = self
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// A serde enum's snake_case name (ModemState::Ready → "ready").
fn label<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Times the service may fail on one received message (a store error, a panic in a handler)
/// before it is quarantined and acknowledged: left on the SIM forever, a poisoned message would
/// be retried without end and fill the SIM's storage, and the box would stop receiving SMS.
pub const SMS_HANDLING_ATTEMPTS_MAX: u32 = 5;
/// Failing messages tracked at once (by dedupe key); past it the count starts over, which only
/// delays a quarantine.
const FAILING_SMS_TRACKED_MAX: usize = 256;

/// Failures per received message, bounded.
#[derive(Debug, Default)]
struct FailureCounter {
    by_key: std::collections::HashMap<String, u32>,
}

impl FailureCounter {
    /// Count one more failure of `key`; true when it reached the limit (and is forgotten).
    fn failed(&mut self, key: &str) -> bool {
        if self.by_key.len() >= FAILING_SMS_TRACKED_MAX && !self.by_key.contains_key(key) {
            self.by_key.clear();
        }
        let count = self.by_key.entry(key.to_owned()).or_insert(0);
        *count += 1;
        if *count >= SMS_HANDLING_ATTEMPTS_MAX {
            self.by_key.remove(key);
            true
        } else {
            false
        }
    }

    fn succeeded(&mut self, key: &str) {
        self.by_key.remove(key);
    }
}

struct Dispatcher {
    store: Arc<Store>,
    failures: std::sync::Mutex<FailureCounter>,
    ctx: ServiceContext,
    call_events: Option<mpsc::Sender<ModemEvent>>,
    outbox_wake: Arc<Notify>,
    events: prometheus_client::metrics::family::Family<
        SmsEventLabels,
        prometheus_client::metrics::counter::Counter,
    >,
}

impl Dispatcher {
    fn count(&self, event: &str) {
        self.events
            .get_or_create(&SmsEventLabels {
                event: event.to_owned(),
            })
            .inc();
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, FailureCounter> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After [`SMS_HANDLING_ATTEMPTS_MAX`] failures of one message, keep it in quarantine and
    /// acknowledge it so the driver deletes it from the SIM; before that, leave it for a retry.
    async fn give_up_after_repeated_failures(
        &self,
        sms: &farmco_hardware::driver::ReceivedSms,
        error: &str,
        ack: farmco_hardware::driver::Ack,
    ) {
        if !self.failures().failed(&sms.dedupe_key) {
            return;
        }
        let store = self.store.clone();
        let reason =
            format!("sms handling failed {SMS_HANDLING_ATTEMPTS_MAX} times; last error: {error}");
        let bytes = sms.text.clone().into_bytes();
        let kept = tokio::task::spawn_blocking(move || {
            store.write(|tx| sms_store::quarantine(tx, &reason, &bytes, now_ms()))
        })
        .await;
        match kept {
            Ok(Ok(())) => {
                ack.ack();
                self.count("quarantined");
                tracing::warn!(
                    attempts = SMS_HANDLING_ATTEMPTS_MAX,
                    "a received sms kept failing; it is quarantined and deleted from the SIM"
                );
            }
            _ => tracing::error!("a failing sms could not be quarantined; it stays on the SIM"),
        }
    }

    async fn run(self, mut events: mpsc::Receiver<ModemEvent>, mut stop: watch::Receiver<bool>) {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = stop.changed() => None,
            };
            let Some(event) = event else {
                return;
            };
            self.dispatch(event).await;
        }
    }

    async fn dispatch(&self, event: ModemEvent) {
        match event {
            ModemEvent::SmsReceived { sms, ack } => {
                let store = self.store.clone();
                let incoming = sms::Incoming::from(&sms);
                let ctx = self.ctx;
                let result = tokio::task::spawn_blocking(move || {
                    sms::handle_incoming(&store, &incoming, ctx, now_ms())
                })
                .await;
                match result {
                    Ok(Ok(Handled::Answered {
                        inbox_id,
                        command,
                        reply_id,
                    })) => {
                        self.failures().succeeded(&sms.dedupe_key);
                        ack.ack();
                        self.count("received");
                        tracing::info!(inbox_id, %command, ?reply_id, complete = sms.complete, "sms answered");
                        self.outbox_wake.notify_one();
                    }
                    Ok(Ok(Handled::Duplicate)) => {
                        self.failures().succeeded(&sms.dedupe_key);
                        ack.ack();
                        self.count("duplicate");
                        tracing::info!(
                            key = %farmco_shell::process::redact_numbers(&sms.dedupe_key),
                            "sms already committed; acknowledged again"
                        );
                    }
                    Ok(Err(error)) => {
                        // Not acked: the message stays on the SIM and the next sweep retries.
                        self.count("store_error");
                        tracing::error!(%error, "sms could not be committed; it stays on the SIM");
                        self.give_up_after_repeated_failures(&sms, &error.to_string(), ack)
                            .await;
                    }
                    Err(error) => {
                        self.count("store_error");
                        tracing::error!(%error, "sms handling task failed");
                        self.give_up_after_repeated_failures(&sms, &error.to_string(), ack)
                            .await;
                    }
                }
            }
            ModemEvent::UndecodableSms {
                sim_index,
                pdu_hex,
                error,
                ack,
            } => {
                let store = self.store.clone();
                let reason = format!("undecodable SMS at SIM index {sim_index}: {error}");
                let result = tokio::task::spawn_blocking(move || {
                    store.write(|tx| {
                        sms_store::quarantine(tx, &reason, pdu_hex.as_bytes(), now_ms())
                    })
                })
                .await;
                if matches!(result, Ok(Ok(()))) {
                    ack.ack();
                    self.count("quarantined");
                } else {
                    tracing::error!(
                        "an undecodable SMS could not be quarantined; it stays on the SIM"
                    );
                }
            }
            ModemEvent::DeliveryReport { report, ack } => {
                let store = self.store.clone();
                let status = match report.outcome {
                    DeliveryOutcome::Delivered => PartStatus::Delivered,
                    DeliveryOutcome::Failed => PartStatus::Failed,
                    _ => PartStatus::Pending,
                };
                let (reference, recipient) = (report.message_ref, report.recipient.clone());
                let result = tokio::task::spawn_blocking(move || {
                    store.write(|tx| {
                        let matched = sms_store::apply_delivery_report(
                            tx,
                            reference,
                            &recipient,
                            status,
                            now_ms(),
                        )?;
                        if let Some(outbox_id) = matched {
                            // A notification carried by this SMS learns its outcome (issue #6).
                            crate::store::notify::sync_sms_outcomes(tx, Some(outbox_id), now_ms())?;
                        }
                        Ok(matched)
                    })
                })
                .await;
                match result {
                    Ok(Ok(matched)) => {
                        ack.ack();
                        self.count(match (status, matched) {
                            (_, None) => "delivery_report_unmatched",
                            (PartStatus::Delivered, _) => "delivered",
                            (PartStatus::Failed, _) => "delivery_failed",
                            (PartStatus::Pending, _) => "delivery_pending",
                        });
                    }
                    _ => tracing::error!(
                        "a delivery report could not be stored; it stays on the SIM"
                    ),
                }
            }
            event @ (ModemEvent::IncomingCall { .. }
            | ModemEvent::CallAnswered
            | ModemEvent::CallEnded { .. }
            | ModemEvent::Dtmf { .. }
            | ModemEvent::SpeechFinished) => match &self.call_events {
                Some(sender) => {
                    if let Err(error) = sender.try_send(event) {
                        self.count("call_event_dropped");
                        tracing::warn!(%error, "call event dropped: the voice task is not keeping up");
                    }
                }
                None => {
                    self.count("call_event_unhandled");
                    tracing::info!(?event, "call event (no voice service on this node)");
                }
            },
            ModemEvent::Health(health) => {
                tracing::debug!(state = ?health.state, rssi = ?health.signal_rssi, "modem health");
            }
            ModemEvent::ModemLost { reason } => {
                self.count("modem_lost");
                tracing::warn!(%reason, "modem lost; the driver is recovering");
            }
            ModemEvent::ModemReady => {
                tracing::info!("modem ready");
                self.outbox_wake.notify_one();
            }
        }
    }
}

/// True when the driver reports a working modem.
pub fn is_ready(link: &ModemLink) -> bool {
    link.handle.health().state == ModemState::Ready
}

/// For the voice work: mark a call in progress (the outbox pauses) or over.
pub fn set_in_call(link: &ModemLink, in_call: bool) {
    link.in_call.store(in_call, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_given_up_after_the_limit_and_successes_reset_it() {
        let mut failures = FailureCounter::default();
        for _ in 1..SMS_HANDLING_ATTEMPTS_MAX {
            assert!(!failures.failed("a"));
        }
        failures.succeeded("a");
        for _ in 1..SMS_HANDLING_ATTEMPTS_MAX {
            assert!(!failures.failed("a"));
        }
        assert!(failures.failed("a"));
        // Forgotten once given up: a later failure counts from one again.
        assert!(!failures.failed("a"));
        // Bounded: many distinct failing keys never grow the map past its limit.
        for i in 0..(3 * FAILING_SMS_TRACKED_MAX) {
            failures.failed(&format!("k{i}"));
        }
        assert!(failures.by_key.len() <= FAILING_SMS_TRACKED_MAX);
    }
}
