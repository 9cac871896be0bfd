//! The voice shell: one tokio task that owns the call side of the modem. It is plugged into the
//! modem dispatcher's call-event channel, drives one [`CallFlow`] at a time with the real clock
//! and the flow's single timer, carries out its [`Action`]s (answer, speak, hang up, log, agent
//! task, callback request) and, whenever no call is up, dials what is due: queued missed-call
//! callbacks first, then voice notification attempts.
//!
//! ```text
//!  dispatcher ──ModemEvent (bounded)──▶ voice task ──Op (bounded)──▶ op worker ──▶ ModemHandle
//!                                         │  ▲                           │
//!                                         │  └──── op results (bounded) ─┘
//!                                         └─▶ store (call log, callbacks, attempts)
//! ```
//!
//! Modem commands run on a separate worker so the task keeps reading events while a dial
//! waits for the far end; the flow learns every outcome from events (`CallAnswered`,
//! `CallEnded`), and from the op results only where the driver emits no event (a number it
//! refuses, a refused answer when nothing rings any more).
//!
//! Invariants:
//! - `in_call` is true from the first ring or the dial until the call is over: the SMS outbox
//!   starts nothing meanwhile and is woken when the call ends.
//! - Every spoken text and every key is in the call log (`store::voice`) before it is said.
//! - A callback goes pending → dialing (committed) before `ATD`; a voice attempt goes
//!   scheduled → handed_off (committed) before `ATD`; an answered notification call records
//!   `answered` at once, so a crash later never calls the farmer about it again.
//! - A call stuck past `call_max` plus a guard (a modem that never confirms the hang-up) is
//!   closed by the shell: the modem is never held forever.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use farmco_hardware::driver::{CallEndReason, ModemError, ModemEvent, ModemHandle, ModemState};
use farmco_sync::{Language, PhoneNumber};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::content::StoreContent;
use crate::config::voice::VoiceConfig;
use crate::store::notify::{self as notify_store, AttemptState};
use crate::store::voice::{self as voice_store, CallLogEvent, Direction};
use crate::store::{Store, StoreResult, now_ms};
use farmco_village::notify::router::{Channel, RouterConfig, conditional_voice_goes_ahead};
use farmco_village::voice::flow::{
    Action, CallFlow, CallInput, CallOutcome, CallerLookup, EndReason, FarmerCaller, Outbound,
    Prompt,
};
use farmco_village::voice::render::{render_prompt, tts_chunks};

/// Modem commands queued for the op worker: one prompt's pieces, an answer and a hang-up fit
/// many times over; the task never has more than a few outstanding.
pub const OPS_CAPACITY: usize = 16;
/// When idle, look at the queues at least this often (new work also wakes the task at once).
pub const IDLE_POLL_MS: i64 = 30_000;
/// While the modem is not ready (starting, recovering), look again this often before dialing.
pub const NOT_READY_POLL_MS: i64 = 2_000;
/// A call older than `call_max` plus this is closed by the shell whatever the modem says.
pub const STUCK_CALL_GUARD_MS: i64 = 60_000;

/// Wakes the voice task to look for due work (a notification was routed, a callback queued).
#[derive(Debug, Clone)]
pub struct VoiceHandle {
    wake: Arc<Notify>,
}

impl VoiceHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What the voice task needs.
#[derive(Debug)]
pub struct VoiceService {
    pub store: Arc<Store>,
    pub modem: ModemHandle,
    /// The modem link's flag: the SMS outbox starts nothing while it is set.
    pub in_call: Arc<AtomicBool>,
    /// Woken when a call ends (the outbox resumes).
    pub outbox_wake: Arc<Notify>,
    pub config: VoiceConfig,
    pub router: RouterConfig,
}

#[derive(Debug)]
enum Op {
    Answer,
    Dial(String),
    Speak(String),
    HangUp,
}

#[derive(Debug)]
enum OpResult {
    /// The driver refused the dial before placing it (no `CallEnded` will come).
    DialRefused(String),
    /// Answering failed because nothing rings any more.
    AnswerRefused(CallEndReason),
    /// A text-to-speech command was refused (no `SpeechFinished` will come).
    SpeakFailed(String),
}

struct Call {
    flow: CallFlow,
    call_id: i64,
    started_ms: i64,
    /// Pieces of the current prompt still to speak.
    chunks: VecDeque<String>,
    /// Speak commands sent whose `SpeechFinished` has not come (a key can interrupt a prompt,
    /// and the end of the interrupted one must not end the next).
    speaking: u32,
    /// The notification attempt this call carries, and whether its result is recorded.
    attempt: Option<i64>,
    attempt_recorded: bool,
    callback: Option<i64>,
}

/// Start the voice task; `events` is the receiving end of the modem dispatcher's call-event
/// channel. Stops when `stop` turns true or the channel closes.
pub fn spawn(
    service: VoiceService,
    events: mpsc::Receiver<ModemEvent>,
    stop: watch::Receiver<bool>,
) -> (VoiceHandle, JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let handle = VoiceHandle { wake: wake.clone() };
    let (ops_tx, ops_rx) = mpsc::channel(OPS_CAPACITY);
    let (results_tx, results_rx) = mpsc::channel(OPS_CAPACITY);
    let worker = tokio::spawn(op_worker(service.modem.clone(), ops_rx, results_tx));
    let task = tokio::spawn(async move {
        let mut runner = Runner {
            service,
            ops: ops_tx,
            call: None,
        };
        runner.run(events, results_rx, wake, stop).await;
        drop(runner);
        let _ = worker.await;
    });
    (handle, task)
}

async fn op_worker(
    modem: ModemHandle,
    mut ops: mpsc::Receiver<Op>,
    results: mpsc::Sender<OpResult>,
) {
    while let Some(op) = ops.recv().await {
        let outcome = match &op {
            Op::Answer => modem.answer().await,
            Op::Dial(number) => modem.dial(number).await,
            Op::Speak(text) => modem.speak(text).await,
            Op::HangUp => modem.hang_up().await,
        };
        let Err(error) = outcome else { continue };
        let report = match (&op, &error) {
            // The driver emitted CallEnded for these.
            (Op::Dial(_), ModemError::CallFailed(_) | ModemError::Timeout)
            | (Op::Dial(_), ModemError::Unavailable | ModemError::Stopped) => None,
            (Op::Dial(_), e) => Some(OpResult::DialRefused(e.to_string())),
            (Op::Answer, ModemError::CallFailed(reason)) => Some(OpResult::AnswerRefused(*reason)),
            (Op::Speak(_), e) => Some(OpResult::SpeakFailed(e.to_string())),
            _ => None,
        };
        tracing::warn!(?op, %error, "voice: modem command failed");
        if let Some(report) = report {
            let _ = results.send(report).await;
        }
    }
}

fn end_reason(reason: CallEndReason) -> EndReason {
    match reason {
        CallEndReason::RemoteHangup => EndReason::RemoteHangup,
        CallEndReason::Missed => EndReason::Missed,
        CallEndReason::LocalHangup => EndReason::LocalHangup,
        CallEndReason::Busy => EndReason::Busy,
        CallEndReason::NoAnswer => EndReason::NoAnswer,
        CallEndReason::NoDialtone => EndReason::NoDialtone,
        CallEndReason::ModemLost => EndReason::ModemLost,
    }
}

fn local_date(router: &RouterConfig, now_ms: i64) -> String {
    let offset = time::UtcOffset::from_whole_seconds(router.clock.utc_offset_minutes * 60)
        .unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
        .map(|t| {
            let t = t.to_offset(offset);
            format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
        })
        .unwrap_or_default()
}

/// What to dial next.
enum Job {
    Callback {
        id: i64,
        farmer: FarmerCaller,
    },
    Notification {
        attempt_id: i64,
        farmer: FarmerCaller,
        message: farmco_village::notify::router::Message,
    },
}

struct Runner {
    service: VoiceService,
    ops: mpsc::Sender<Op>,
    call: Option<Call>,
}

impl Runner {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> StoreResult<T> + Send + 'static,
    ) -> Option<T> {
        let store = self.service.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(error)) => {
                tracing::error!(%error, "voice: store error");
                None
            }
            Err(error) => {
                tracing::error!(%error, "voice: store task failed");
                None
            }
        }
    }

    async fn run(
        &mut self,
        mut events: mpsc::Receiver<ModemEvent>,
        mut results: mpsc::Receiver<OpResult>,
        wake: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
    ) {
        let policy = self.service.config.callback;
        let router = self.service.router;
        let recovered = self
            .blocking(move |store| {
                store.write(|tx| {
                    let now = now_ms();
                    let calls = voice_store::recover_after_restart(tx, &policy, now)?;
                    let attempts = notify_store::recover_voice_attempts(tx, &router, now)?;
                    Ok((calls, attempts))
                })
            })
            .await;
        if let Some((calls, attempts)) = recovered {
            tracing::info!(
                calls_closed = calls.calls_closed,
                dials_requeued = calls.dials_requeued,
                voice_attempts_recovered = attempts,
                "voice task started"
            );
        }
        loop {
            // Dial only a ready modem: a dial it refuses up front ends with no call event.
            let ready = self.service.modem.health().state == ModemState::Ready;
            if self.call.is_none() && ready {
                self.start_next_job().await;
            }
            let now = now_ms();
            let wait_ms = match &self.call {
                Some(call) => {
                    let stuck_at = call
                        .started_ms
                        .saturating_add(self.service.config.flow.call_max_ms)
                        .saturating_add(STUCK_CALL_GUARD_MS);
                    call.flow
                        .deadline_ms()
                        .unwrap_or(stuck_at)
                        .min(stuck_at)
                        .saturating_sub(now)
                }
                None if !ready => NOT_READY_POLL_MS,
                None => self.next_job_due_ms().await.map_or(IDLE_POLL_MS, |due| {
                    due.saturating_sub(now).clamp(0, IDLE_POLL_MS)
                }),
            };
            let sleep = tokio::time::sleep(Duration::from_millis(
                u64::try_from(wait_ms.max(0)).unwrap_or(0),
            ));
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                Some(result) = results.recv() => self.on_op_result(result).await,
                () = wake.notified() => {}
                () = sleep => self.on_timer().await,
                _ = stop.changed() => break,
            }
        }
        if self.call.is_some() {
            // Shutting down mid-call: hang up; the call log is closed as interrupted at the
            // next start (recover_after_restart).
            let _ = self.ops.try_send(Op::HangUp);
            self.service.in_call.store(false, Ordering::Release);
        }
    }

    async fn next_job_due_ms(&self) -> Option<i64> {
        self.blocking(|store| {
            store.read(|conn| {
                let callback = voice_store::next_callback_due_ms(conn)?;
                let voice = notify_store::next_attempt_due_ms(conn, Channel::Voice)?;
                Ok(match (callback, voice) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
            })
        })
        .await
        .flatten()
    }

    /// Dial the next due callback, else the next due voice notification.
    async fn start_next_job(&mut self) {
        let now = now_ms();
        let job = self
            .blocking(move |store| {
                store.write(|tx| {
                    if let Some(cb) = voice_store::next_due_callback(tx, now)? {
                        let number = PhoneNumber::parse("number", &cb.number)?;
                        return match voice_store::lookup_caller(tx, Some(&number))? {
                            CallerLookup::Farmer(farmer) => {
                                voice_store::start_callback_dial(tx, cb.id, now)?;
                                Ok(Some(Job::Callback { id: cb.id, farmer }))
                            }
                            CallerLookup::Unknown => {
                                // The farmer was deleted since: the callback cannot be made.
                                voice_store::start_callback_dial(tx, cb.id, now)?;
                                voice_store::finish_callback_dial(
                                    tx,
                                    &farmco_village::voice::callback::CallbackPolicy {
                                        attempts_max: 1,
                                        ..Default::default()
                                    },
                                    cb.id,
                                    CallOutcome::Failed,
                                    now,
                                )?;
                                Ok(None)
                            }
                        };
                    }
                    while let Some(job) = notify_store::next_voice_attempt(tx, now)? {
                        if job.condition == "unless_sms_delivered"
                            && !conditional_voice_goes_ahead(notify_store::sms_delivered(
                                tx,
                                &job.notification_id,
                            )?)
                        {
                            notify_store::mark_attempt(
                                tx,
                                job.attempt_id,
                                AttemptState::Cancelled,
                                Some("sms_delivered"),
                                now,
                            )?;
                            continue;
                        }
                        let Some(farmer) = voice_store::caller_by_farmer_id(tx, &job.farmer_id)?
                        else {
                            notify_store::mark_attempt(
                                tx,
                                job.attempt_id,
                                AttemptState::Failed,
                                Some("no_phone"),
                                now,
                            )?;
                            continue;
                        };
                        notify_store::mark_attempt(
                            tx,
                            job.attempt_id,
                            AttemptState::HandedOff,
                            Some("dialing"),
                            now,
                        )?;
                        return Ok(Some(Job::Notification {
                            attempt_id: job.attempt_id,
                            farmer,
                            message: job.message,
                        }));
                    }
                    Ok(None)
                })
            })
            .await
            .flatten();
        let Some(job) = job else { return };
        let (farmer, outbound, callback, attempt) = match job {
            Job::Callback { id, farmer } => (
                farmer,
                Outbound::Callback { callback_id: id },
                Some(id),
                None,
            ),
            Job::Notification {
                attempt_id,
                farmer,
                message,
            } => (
                farmer,
                Outbound::Notification {
                    attempt_id,
                    message,
                },
                None,
                Some(attempt_id),
            ),
        };
        let mut flow = CallFlow::new(self.service.config.flow.clone());
        let number = farmer.phone.clone();
        let (phone, farmer_id, language) = (number.clone(), farmer.farmer_id, farmer.language);
        let call_id = self
            .blocking(move |store| {
                store.write(|tx| {
                    let id = voice_store::start_call(
                        tx,
                        Direction::Outbound,
                        Some(&phone),
                        Some(farmer_id),
                        callback,
                        language,
                        now,
                    )?;
                    if let Some(attempt) = attempt {
                        voice_store::set_call_attempt(tx, id, attempt)?;
                    }
                    Ok(id)
                })
            })
            .await
            .unwrap_or(0);
        self.service.in_call.store(true, Ordering::Release);
        let content = NoContent;
        let actions = flow.handle(
            CallInput::Dialing {
                outbound,
                caller: farmer,
                now_ms: now,
            },
            &content,
        );
        self.call = Some(Call {
            flow,
            call_id,
            started_ms: now,
            chunks: VecDeque::new(),
            speaking: 0,
            attempt,
            attempt_recorded: false,
            callback,
        });
        tracing::info!(
            call_id,
            callback = %farmco_shell::process::redact_numbers(&format!("{callback:?}")),
            ?attempt,
            "voice: dialing"
        );
        self.send(Op::Dial(number.as_str().to_owned())).await;
        self.carry_out(actions).await;
    }

    async fn send(&self, op: Op) {
        if self.ops.send(op).await.is_err() {
            tracing::error!("voice: the op worker is gone");
        }
    }

    /// Feed the flow (on a blocking thread: menu answers read the store).
    async fn feed(&mut self, input: CallInput) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let mut flow = call.flow.clone();
        let router = self.service.router;
        let result = self
            .blocking(move |store| {
                let now = now_ms();
                let actions = store.read(|conn| {
                    let content = StoreContent {
                        conn,
                        now_ms: now,
                        today: local_date(&router, now),
                    };
                    Ok(flow.handle(input, &content))
                })?;
                Ok((flow, actions))
            })
            .await;
        let Some((flow, actions)) = result else {
            return;
        };
        if let Some(call) = self.call.as_mut() {
            call.flow = flow;
        }
        self.carry_out(actions).await;
    }

    async fn on_event(&mut self, event: ModemEvent) {
        let now = now_ms();
        match event {
            ModemEvent::IncomingCall { number } => {
                if self.call.is_some() {
                    tracing::info!(
                        number = %farmco_shell::process::redact_numbers(&format!("{number:?}")),
                        "voice: a call rings while the line is busy"
                    );
                    return;
                }
                let number = number.and_then(|n| PhoneNumber::parse("number", &n).ok());
                let lookup_number = number.clone();
                let languages = self.service.config.flow.languages.clone();
                let opened = self
                    .blocking(move |store| {
                        store.write(|tx| {
                            let caller = voice_store::lookup_caller(tx, lookup_number.as_ref())?;
                            let (farmer_id, language) = match &caller {
                                CallerLookup::Farmer(f) => (Some(f.farmer_id), f.language),
                                CallerLookup::Unknown => {
                                    (None, languages.first().copied().unwrap_or(Language::Hi))
                                }
                            };
                            let call_id = voice_store::start_call(
                                tx,
                                Direction::Inbound,
                                lookup_number.as_ref(),
                                farmer_id,
                                None,
                                language,
                                now,
                            )?;
                            Ok((caller, call_id))
                        })
                    })
                    .await;
                let Some((caller, call_id)) = opened else {
                    return;
                };
                self.service.in_call.store(true, Ordering::Release);
                self.call = Some(Call {
                    flow: CallFlow::new(self.service.config.flow.clone()),
                    call_id,
                    started_ms: now,
                    chunks: VecDeque::new(),
                    speaking: 0,
                    attempt: None,
                    attempt_recorded: false,
                    callback: None,
                });
                tracing::info!(
                    call_id,
                    number = %farmco_shell::process::redact_numbers(&format!("{number:?}")),
                    "voice: incoming call"
                );
                self.feed(CallInput::Incoming {
                    number,
                    caller,
                    rings: 1,
                    now_ms: now,
                })
                .await;
            }
            ModemEvent::CallAnswered => {
                let Some(call) = self.call.as_mut() else {
                    return;
                };
                let (call_id, attempt) = (call.call_id, call.attempt);
                if attempt.is_some() {
                    call.attempt_recorded = true;
                }
                let router = self.service.router;
                self.blocking(move |store| {
                    store.write(|tx| {
                        voice_store::mark_answered(tx, call_id, now)?;
                        if let Some(attempt) = attempt {
                            notify_store::voice_attempt_result(tx, &router, attempt, true, now)?;
                        }
                        Ok(())
                    })
                })
                .await;
                self.feed(CallInput::Answered { now_ms: now }).await;
            }
            ModemEvent::Dtmf { digit } => {
                self.feed(CallInput::Dtmf { digit, now_ms: now }).await;
            }
            ModemEvent::SpeechFinished => self.speech_finished(now).await,
            ModemEvent::CallEnded { reason } => {
                self.feed(CallInput::CallEnded {
                    reason: end_reason(reason),
                    now_ms: now,
                })
                .await;
            }
            other => tracing::debug!(?other, "voice: not a call event"),
        }
    }

    async fn speech_finished(&mut self, now: i64) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.speaking = call.speaking.saturating_sub(1);
        if call.speaking > 0 {
            return; // the end of an interrupted prompt
        }
        if let Some(next) = call.chunks.pop_front() {
            call.speaking += 1;
            self.send(Op::Speak(next)).await;
            return;
        }
        self.feed(CallInput::SpeechFinished { now_ms: now }).await;
    }

    async fn on_op_result(&mut self, result: OpResult) {
        let now = now_ms();
        match result {
            OpResult::DialRefused(error) => {
                tracing::warn!(%error, "voice: dial refused");
                self.feed(CallInput::CallEnded {
                    reason: EndReason::NoDialtone,
                    now_ms: now,
                })
                .await;
            }
            OpResult::AnswerRefused(reason) => {
                self.feed(CallInput::CallEnded {
                    reason: end_reason(reason),
                    now_ms: now,
                })
                .await;
            }
            OpResult::SpeakFailed(error) => {
                tracing::warn!(%error, "voice: text-to-speech refused; going on");
                self.speech_finished(now).await;
            }
        }
    }

    async fn on_timer(&mut self) {
        let now = now_ms();
        let Some(call) = &self.call else {
            return;
        };
        let stuck_at = call
            .started_ms
            .saturating_add(self.service.config.flow.call_max_ms)
            .saturating_add(STUCK_CALL_GUARD_MS);
        if now >= stuck_at {
            tracing::warn!(call_id = call.call_id, "voice: call stuck; closing it");
            self.feed(CallInput::CallEnded {
                reason: EndReason::LocalHangup,
                now_ms: now,
            })
            .await;
            return;
        }
        self.feed(CallInput::Tick { now_ms: now }).await;
    }

    async fn carry_out(&mut self, actions: Vec<Action>) {
        for action in actions {
            let now = now_ms();
            let Some(call_id) = self.call.as_ref().map(|c| c.call_id) else {
                return;
            };
            match action {
                Action::Answer => self.send(Op::Answer).await,
                Action::HangUp => self.send(Op::HangUp).await,
                Action::SetTimer { .. } | Action::CancelTimer => {}
                Action::Speak { prompt, language } => self.speak(call_id, prompt, language).await,
                Action::LogKey { digit } => {
                    self.blocking(move |store| {
                        store.write(|tx| {
                            voice_store::log_call_event(tx, call_id, now, CallLogEvent::Key(digit))
                        })
                    })
                    .await;
                }
                Action::RecordAgentTask { farmer } => {
                    self.blocking(move |store| {
                        store.write(|tx| {
                            voice_store::add_agent_task(tx, &farmer, Some(call_id), now)
                        })
                    })
                    .await;
                }
                Action::QueueCallback { farmer, reason } => {
                    let policy = self.service.config.callback;
                    let decision = self
                        .blocking(move |store| {
                            store.write(|tx| {
                                voice_store::request_callback(tx, &policy, &farmer, reason, now)
                            })
                        })
                        .await;
                    tracing::info!(
                        decision = %farmco_shell::process::redact_numbers(&format!("{decision:?}")),
                        "voice: callback requested"
                    );
                }
                Action::CallOver { outcome, outbound } => self.call_over(outcome, outbound).await,
            }
        }
    }

    async fn speak(&mut self, call_id: i64, prompt: Prompt, language: Language) {
        let text = match render_prompt(&prompt, language) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "voice: a prompt did not render");
                return;
            }
        };
        let id = prompt.message_id();
        let logged = text.clone();
        self.blocking(move |store| {
            store.write(|tx| {
                voice_store::log_call_event(
                    tx,
                    call_id,
                    now_ms(),
                    CallLogEvent::Spoken {
                        prompt: id,
                        text: &logged,
                    },
                )
            })
        })
        .await;
        if matches!(
            self.service.config.prompts.get(&language),
            Some(crate::config::voice::PromptMode::Recorded(_))
        ) {
            // The driver has no play-file command yet: recorded languages are spoken with
            // text-to-speech too (logged above with the same text).
            tracing::debug!(id, "voice: recorded prompt spoken with text-to-speech");
        }
        let mut chunks: VecDeque<String> = tts_chunks(&text).into();
        let Some(first) = chunks.pop_front() else {
            return;
        };
        if let Some(call) = self.call.as_mut() {
            call.chunks = chunks;
            call.speaking += 1;
        }
        self.send(Op::Speak(first)).await;
    }

    async fn call_over(&mut self, outcome: CallOutcome, outbound: Option<Outbound>) {
        let Some(call) = self.call.take() else {
            return;
        };
        let now = now_ms();
        let policy = self.service.config.callback;
        let router = self.service.router;
        let (call_id, callback, attempt, recorded) = (
            call.call_id,
            call.callback,
            call.attempt,
            call.attempt_recorded,
        );
        let _ = outbound;
        self.blocking(move |store| {
            store.write(|tx| {
                voice_store::end_call(tx, call_id, outcome, now)?;
                if let Some(id) = callback {
                    voice_store::finish_callback_dial(tx, &policy, id, outcome, now)?;
                }
                if let Some(attempt) = attempt
                    && !recorded
                {
                    notify_store::voice_attempt_result(tx, &router, attempt, false, now)?;
                }
                Ok(())
            })
        })
        .await;
        tracing::info!(call_id, outcome = outcome.as_str(), "voice: call over");
        self.service.in_call.store(false, Ordering::Release);
        self.service.outbox_wake.notify_one();
    }
}

/// Content for inputs that never ask for it (dialing).
struct NoContent;

impl farmco_village::voice::flow::VoiceContent for NoContent {
    fn mandi_prices(
        &self,
        _: &FarmerCaller,
    ) -> Option<Vec<farmco_village::voice::flow::MandiPrice>> {
        None
    }
    fn weather(&self, _: &FarmerCaller) -> Option<Vec<farmco_village::voice::flow::WeatherDay>> {
        None
    }
    fn soil_card(&self, _: &FarmerCaller) -> Option<farmco_village::voice::flow::SoilAdvice> {
        None
    }
    fn soil_moisture(
        &self,
        _: &FarmerCaller,
    ) -> Option<Vec<farmco_village::voice::flow::FarmMoisture>> {
        None
    }
    fn open_alerts(
        &self,
        _: &FarmerCaller,
    ) -> Option<Vec<farmco_village::voice::flow::AlertSummary>> {
        None
    }
}
