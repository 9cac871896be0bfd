//! The driver task: owns the port, runs one AT exchange at a time, and between exchanges
//! picks the next job by priority: call operations (a person is waiting), deletions of acked
//! messages (they free SIM space), reads announced by `+CMTI`, the periodic sweep and health
//! poll, then sends (the long ones, at the modem's pace).
//!
//! The decisions that matter for data are in pure modules ([`super::inbox`],
//! [`super::transaction`], [`super::calls`], [`super::backoff`]); this file sequences them
//! and does the waiting. While an exchange is in flight the task still takes commands, acks
//! and event-channel capacity, so nothing the edge does blocks on a 60-second send.
//!
//! Recovery ladder: a command timing out → up to [`PROBE_ATTEMPTS`] `AT` probes → the
//! profile's reset command and [`super::Timeouts::reset_wait_ms`] → close the port and
//! reopen it with backoff and jitter. Init failing [`super::ModemConfig::init_attempts_max`]
//! times in a row also closes and reopens the port, so a modem that answers `AT` but refuses
//! to be set up is retried at the backoff's pace, not in a hot loop.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use farmco_modem_codec::at::command::{AtCommand, ESC, MessageFilter};
use farmco_modem_codec::at::reader::{AtEvent, AtReader};
use farmco_modem_codec::at::response::{ErrorCode, FinalResult, RegistrationStatus, Response, Urc};
use farmco_modem_codec::pdu::split::{SubmitOptions, encode_text_submits};
use farmco_modem_codec::pdu::tpdu::{EncodedPdu, IncomingPdu, IncomingTpdu};
use farmco_modem_codec::pdu::udh::ConcatReference;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::calls::{CallEvent, CallTracker};
use super::events::{
    Ack, AckMessage, CallEndReason, DeliveryReport, Health, ModemEvent, ModemState, Registration,
};
use super::inbox::{Deletion, Emission, Emitted, Inbox, received_sms};
use super::port::{PortInput, PortLink};
use super::transaction::{Completed, Exchange, Progress, is_garbage};
use super::{
    ACK_CHANNEL_CAPACITY, CALL_OPS_MAX, CallKind, CallRequest, EVENT_BACKLOG_MAX, ModemCommand,
    ModemConfig, ModemError, SEND_QUEUE_MAX, SendOutcome, URC_BACKLOG_MAX,
};

/// `AT` probes before the modem is reset.
pub(crate) const PROBE_ATTEMPTS: u32 = 3;
/// Pause between init attempts that the modem refused (not timed out).
const INIT_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How far ahead the task sleeps when nothing is scheduled (it wakes for any input anyway).
const IDLE_HORIZON: Duration = Duration::from_secs(3600);
/// `+CMS ERROR` codes after which sending the same message again cannot help (TS 24.011
/// §E.2, TS 27.005 §3.2.5): unassigned number, barring, rejection, unknown subscriber,
/// facility not subscribed or implemented, invalid information, bad PDU or text parameters.
const PERMANENT_CMS_ERRORS: [u16; 15] =
    [1, 8, 10, 21, 28, 29, 30, 50, 69, 96, 97, 98, 99, 304, 305];

#[derive(Debug)]
enum Failure {
    Timeout(String),
    Refused(String),
    PortLost(String),
    Rebooted,
    Stopping,
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(command) => write!(formatter, "no answer to {command}"),
            Failure::Refused(detail) => write!(formatter, "refused: {detail}"),
            Failure::PortLost(reason) => write!(formatter, "port lost: {reason}"),
            Failure::Rebooted => formatter.write_str("the modem rebooted"),
            Failure::Stopping => formatter.write_str("the driver is stopping"),
        }
    }
}

enum Selected {
    Input(PortInput),
    Command(Option<ModemCommand>),
    Ack(Option<AckMessage>),
    EventSent,
    Deadline,
}

enum Wake {
    Input(Vec<u8>),
    PortClosed(String),
    Deadline,
    Handled,
}

#[derive(Debug)]
struct SendJob {
    pdus: Vec<EncodedPdu>,
    next_part: usize,
    refs: Vec<u8>,
    attempts: u32,
    not_before: Instant,
    last_error: String,
    reply: oneshot::Sender<Result<SendOutcome, ModemError>>,
}

#[derive(Debug)]
enum Job {
    Call(CallRequest),
    Delete(Deletion),
    Read(u16),
    Sweep,
    Health,
    Send(SendJob),
}

/// The task's state.
#[derive(Debug)]
pub(crate) struct Driver {
    config: ModemConfig,
    mailbox: mpsc::Receiver<ModemCommand>,
    mailbox_open: bool,
    events: mpsc::Sender<ModemEvent>,
    backlog: VecDeque<ModemEvent>,
    acks_sender: mpsc::Sender<AckMessage>,
    acks: mpsc::Receiver<AckMessage>,
    health_sender: watch::Sender<Health>,
    health: Health,
    port: Option<PortLink>,
    reader: AtReader,
    urcs: VecDeque<Urc>,
    inbox: Inbox,
    calls: CallTracker,
    reads: BTreeSet<u16>,
    call_ops: VecDeque<CallRequest>,
    sends: VecDeque<SendJob>,
    needs_init: bool,
    unavailable_since: Option<Instant>,
    init_failures: u32,
    reopen_pending: bool,
    stopping: bool,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    reopen_backoff: Backoff,
    jitter: Backoff,
    concat_reference: u8,
    started: Instant,
    next_sweep: Instant,
    next_health: Instant,
    sweep_due: bool,
    health_due: bool,
    storage_full: bool,
}

impl Driver {
    pub(crate) fn new(
        config: ModemConfig,
        mailbox: mpsc::Receiver<ModemCommand>,
        events: mpsc::Sender<ModemEvent>,
        health_sender: watch::Sender<Health>,
        seed: u64,
    ) -> Self {
        let config = config.sanitized();
        let (acks_sender, acks) = mpsc::channel(ACK_CHANNEL_CAPACITY);
        let health = health_sender.borrow().clone();
        let now = Instant::now();
        Driver {
            reopen_backoff: Backoff::new(config.reopen_initial_ms, config.reopen_max_ms, seed),
            jitter: Backoff::new(1, 1, seed.rotate_left(17)),
            inbox: Inbox::new(config.incomplete_message_timeout_ms),
            concat_reference: (seed >> 8) as u8,
            config,
            mailbox,
            mailbox_open: true,
            events,
            backlog: VecDeque::new(),
            acks_sender,
            acks,
            health_sender,
            health,
            port: None,
            reader: AtReader::new(),
            urcs: VecDeque::new(),
            calls: CallTracker::new(),
            reads: BTreeSet::new(),
            call_ops: VecDeque::new(),
            sends: VecDeque::new(),
            needs_init: true,
            unavailable_since: Some(now),
            init_failures: 0,
            reopen_pending: false,
            stopping: false,
            shutdown_waiters: Vec::new(),
            started: now,
            next_sweep: now,
            next_health: now,
            sweep_due: true,
            health_due: true,
            storage_full: false,
        }
    }

    /// Runs until shut down (or every handle is dropped).
    pub(crate) async fn run(mut self) {
        self.publish();
        while !self.stopping {
            self.expire_sends();
            if self.port.is_none() {
                self.connect().await;
                continue;
            }
            let result = if self.needs_init {
                self.initialize().await
            } else {
                self.process_urcs();
                self.run_timers();
                match self.next_job() {
                    Some(job) => self.run_job(job).await,
                    None => {
                        let wake_at = self.next_wakeup();
                        self.idle(wake_at).await
                    }
                }
            };
            if let Err(failure) = result {
                self.handle(failure).await;
            }
        }
        self.finish();
    }

    // ---- connection, init, recovery ----

    async fn connect(&mut self) {
        if std::mem::take(&mut self.reopen_pending) {
            let delay = self.reopen_backoff.next_delay_ms();
            tracing::info!(delay_ms = delay, "reopening the modem port after a pause");
            if self
                .pause(Duration::from_millis(delay), false)
                .await
                .is_err()
            {
                return;
            }
        }
        match PortLink::open(
            &self.config.port_path,
            self.config.baud_rate,
            self.config.exclusive,
        )
        .await
        {
            Ok(link) => {
                tracing::info!(port = %self.config.port_path.display(), "modem port opened");
                self.port = Some(link);
                self.reader.reset();
                self.needs_init = true;
            }
            Err(error) => {
                self.mark_lost(&error);
                self.reopen_pending = true;
            }
        }
    }

    async fn initialize(&mut self) -> Result<(), Failure> {
        if self.health.state == ModemState::Ready {
            self.set_state(ModemState::Recovering);
        }
        let failure = match self.init_sequence().await {
            Ok(()) => {
                self.needs_init = false;
                self.init_failures = 0;
                self.reopen_backoff.reset();
                self.sweep_due = true;
                self.health_due = true;
                self.set_state(ModemState::Ready);
                tracing::info!(profile = %self.config.profile, "modem ready");
                self.emit(ModemEvent::ModemReady);
                return Ok(());
            }
            Err(failure) => failure,
        };
        if matches!(failure, Failure::PortLost(_) | Failure::Stopping) {
            return Err(failure);
        }
        self.init_failures += 1;
        tracing::warn!(attempt = self.init_failures, %failure, "modem init failed");
        if self.init_failures >= self.config.init_attempts_max.max(1) {
            self.init_failures = 0;
            return Err(Failure::PortLost(format!("init keeps failing: {failure}")));
        }
        match failure {
            Failure::Timeout(_) => Err(failure),
            _ => self.pause(INIT_RETRY_PAUSE, false).await,
        }
    }

    async fn init_sequence(&mut self) -> Result<(), Failure> {
        // An ESC leaves a `> ` prompt a previous run may have left the modem in.
        self.write(vec![ESC])?;
        let mut answered = false;
        for _ in 0..PROBE_ATTEMPTS {
            match self
                .transact(&AtCommand::Attention, self.config.timeouts.probe_ms)
                .await
            {
                Ok(_) => {
                    answered = true;
                    break;
                }
                Err(Failure::Timeout(_)) => continue,
                Err(failure) => return Err(failure),
            }
        }
        if !answered {
            return Err(Failure::Timeout("AT".to_owned()));
        }
        for step in self.config.profile.init_steps() {
            let done = self
                .transact(&step.command, self.config.timeouts.command_ms)
                .await?;
            if done.result.is_success() {
                continue;
            }
            let detail = format!("{} → {:?}", step.command.to_line(), done.result);
            if step.required {
                return Err(Failure::Refused(detail));
            }
            tracing::info!(%detail, "optional init command refused; going on");
        }
        Ok(())
    }

    async fn handle(&mut self, failure: Failure) {
        match failure {
            Failure::Stopping => {}
            Failure::PortLost(reason) => self.lose_port(&reason),
            Failure::Rebooted => {
                tracing::warn!("the modem rebooted; initialising again");
                self.needs_init = true;
                self.call_lost();
            }
            Failure::Refused(detail) => {
                tracing::warn!(%detail, "modem refused");
                self.health.counters.command_errors += 1;
            }
            Failure::Timeout(command) => {
                self.health.counters.command_timeouts += 1;
                tracing::warn!(%command, "the modem did not answer; probing");
                self.recover().await;
            }
        }
    }

    async fn recover(&mut self) {
        self.set_state(ModemState::Recovering);
        match self.probe().await {
            Ok(true) => {
                self.needs_init = true;
                return;
            }
            Ok(false) => {}
            Err(failure) => return self.abandon(failure),
        }
        if let Some(reset) = self.config.profile.reset_command() {
            self.health.counters.modem_resets += 1;
            tracing::warn!("the modem does not answer; resetting it");
            match self.transact(&reset, self.config.timeouts.probe_ms).await {
                Ok(_) | Err(Failure::Timeout(_) | Failure::Rebooted) => {}
                Err(failure) => return self.abandon(failure),
            }
            let wait = Duration::from_millis(self.config.timeouts.reset_wait_ms);
            if let Err(failure) = self.pause(wait, true).await {
                return self.abandon(failure);
            }
            match self.probe().await {
                Ok(true) => {
                    self.needs_init = true;
                    return;
                }
                Ok(false) => {}
                Err(failure) => return self.abandon(failure),
            }
        }
        self.lose_port("the modem does not answer");
    }

    fn abandon(&mut self, failure: Failure) {
        match failure {
            Failure::PortLost(reason) => self.lose_port(&reason),
            Failure::Rebooted => self.needs_init = true,
            _ => {}
        }
    }

    /// True when the modem answers anything to `AT`.
    async fn probe(&mut self) -> Result<bool, Failure> {
        for _ in 0..PROBE_ATTEMPTS {
            self.write(vec![ESC])?;
            match self
                .transact(&AtCommand::Attention, self.config.timeouts.probe_ms)
                .await
            {
                Ok(_) | Err(Failure::Rebooted) => return Ok(true),
                Err(Failure::Timeout(_)) => continue,
                Err(failure) => return Err(failure),
            }
        }
        Ok(false)
    }

    fn lose_port(&mut self, reason: &str) {
        if self.port.take().is_some() {
            self.health.counters.port_reopens += 1;
        }
        self.reader.reset();
        self.needs_init = true;
        self.reopen_pending = true;
        self.call_lost();
        for request in self.call_ops.drain(..) {
            let _ = request.reply.send(Err(ModemError::Unavailable));
        }
        self.mark_lost(reason);
    }

    fn mark_lost(&mut self, reason: &str) {
        if self.health.state != ModemState::Lost {
            tracing::warn!(%reason, "modem lost");
            self.set_state(ModemState::Lost);
            self.emit(ModemEvent::ModemLost {
                reason: reason.to_owned(),
            });
        } else {
            tracing::debug!(%reason, "modem still lost");
        }
    }

    fn call_lost(&mut self) {
        if let Some(event) = self.calls.on_modem_lost() {
            self.emit_call(event);
        }
    }

    fn finish(mut self) {
        for job in self.sends.drain(..) {
            let _ = job.reply.send(Err(ModemError::Stopped));
        }
        for request in self.call_ops.drain(..) {
            let _ = request.reply.send(Err(ModemError::Stopped));
        }
        self.mailbox.close();
        while let Ok(command) = self.mailbox.try_recv() {
            match command {
                ModemCommand::SendSms { reply, .. } => {
                    let _ = reply.send(Err(ModemError::Stopped));
                }
                ModemCommand::Call(request) => {
                    let _ = request.reply.send(Err(ModemError::Stopped));
                }
                ModemCommand::Shutdown { reply } => self.shutdown_waiters.push(reply),
            }
        }
        self.port = None;
        self.set_state(ModemState::Stopped);
        tracing::info!("modem driver stopped");
        for waiter in self.shutdown_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    // ---- jobs ----

    fn next_job(&mut self) -> Option<Job> {
        if let Some(request) = self.call_ops.pop_front() {
            return Some(Job::Call(request));
        }
        if let Some(deletion) = self.inbox.next_deletion() {
            return Some(Job::Delete(deletion));
        }
        if let Some(index) = self.reads.pop_first() {
            return Some(Job::Read(index));
        }
        if self.sweep_due {
            return Some(Job::Sweep);
        }
        if self.health_due {
            return Some(Job::Health);
        }
        if self
            .sends
            .front()
            .is_some_and(|job| job.not_before <= Instant::now())
        {
            return self.sends.pop_front().map(Job::Send);
        }
        None
    }

    async fn run_job(&mut self, job: Job) -> Result<(), Failure> {
        match job {
            Job::Call(request) => self.run_call(request).await,
            Job::Delete(deletion) => self.delete(deletion).await,
            Job::Read(index) => self.read(index).await,
            Job::Sweep => self.sweep().await,
            Job::Health => self.poll_health().await,
            Job::Send(job) => self.send(job).await,
        }
    }

    async fn read(&mut self, index: u16) -> Result<(), Failure> {
        if self.inbox.is_known(index) {
            return Ok(());
        }
        let done = self
            .transact(
                &AtCommand::ReadMessage(index),
                self.config.timeouts.command_ms,
            )
            .await?;
        match &done.result {
            FinalResult::Ok => match done.stored_message() {
                Some(message) if message.status.is_received() => {
                    let emissions =
                        self.inbox
                            .on_stored(index, message.pdu.0.clone(), self.now_ms());
                    self.emit_inbox(emissions);
                }
                Some(message) => self.inbox.on_foreign(index, message.pdu.0.clone()),
                None => self.inbox.on_empty(index),
            },
            FinalResult::CmsError(ErrorCode::Numeric(321)) => self.inbox.on_empty(index),
            other => {
                self.health.counters.command_errors += 1;
                tracing::warn!(index, result = ?other, "reading a stored message failed; the sweep will retry");
            }
        }
        Ok(())
    }

    async fn sweep(&mut self) -> Result<(), Failure> {
        self.sweep_due = false;
        self.next_sweep = Instant::now() + Duration::from_millis(self.config.sweep_interval_ms);
        let done = self
            .transact(
                &AtCommand::ListMessages(MessageFilter::All),
                self.config.timeouts.list_ms,
            )
            .await?;
        if !done.result.is_success() {
            self.health.counters.command_errors += 1;
            tracing::warn!(result = ?done.result, "listing the SIM failed");
            return Ok(());
        }
        let now_ms = self.now_ms();
        let mut listed = BTreeSet::new();
        let mut emissions = Vec::new();
        for message in done.listed_messages() {
            listed.insert(message.index);
            if message.status.is_received() {
                emissions.extend(self.inbox.on_stored(
                    message.index,
                    message.pdu.0.clone(),
                    now_ms,
                ));
            } else {
                self.inbox.on_foreign(message.index, message.pdu.0.clone());
            }
        }
        self.inbox.reconcile(&listed);
        let inbox = &self.inbox;
        self.reads.retain(|index| !inbox.is_known(*index));
        if !emissions.is_empty() {
            tracing::info!(
                messages = emissions.len(),
                "sweep found messages on the SIM"
            );
        }
        self.emit_inbox(emissions);
        let storage = self
            .transact(
                &AtCommand::MessageStorageQuery,
                self.config.timeouts.command_ms,
            )
            .await?;
        self.update_storage(&storage, false);
        Ok(())
    }

    async fn poll_health(&mut self) -> Result<(), Failure> {
        self.health_due = false;
        self.next_health = Instant::now() + Duration::from_millis(self.config.health_interval_ms);
        let timeout = self.config.timeouts.command_ms;
        let signal = self.transact(&AtCommand::SignalQuality, timeout).await?;
        for response in &signal.responses {
            if let Response::SignalQuality(quality) = response {
                self.health.signal_rssi = quality.rssi;
                self.health.signal_dbm = quality.rssi_dbm();
                self.health.bit_error_rate = quality.bit_error_rate;
            }
        }
        let registration = self
            .transact(&AtCommand::RegistrationQuery, timeout)
            .await?;
        for response in &registration.responses {
            if let Response::Registration(report) = response {
                self.health.registration = Some(registration_of(report.status));
            }
        }
        let operator = self.transact(&AtCommand::OperatorQuery, timeout).await?;
        for response in &operator.responses {
            if let Response::Operator(selection) = response {
                self.health.operator = selection.operator.clone();
            }
        }
        let storage = self
            .transact(&AtCommand::MessageStorageQuery, timeout)
            .await?;
        self.update_storage(&storage, true);
        self.health.last_poll_unix_ms = Some(unix_ms());
        self.publish();
        self.emit(ModemEvent::Health(self.health.clone()));
        Ok(())
    }

    fn update_storage(&mut self, done: &Completed, from_poll: bool) {
        let Some(status) = done.responses.iter().find_map(|response| match response {
            Response::MessageStorage(status) => Some(status),
            _ => None,
        }) else {
            return;
        };
        let usage = &status.read_delete;
        self.health.sim_used = Some(usage.used);
        self.health.sim_capacity = Some(usage.total);
        let full = usage.total > 0 && usage.used >= usage.total;
        if full && !self.storage_full {
            self.health.counters.storage_full_events += 1;
            tracing::warn!(
                used = usage.used,
                total = usage.total,
                "the SIM store is full; draining"
            );
        }
        self.storage_full = full;
        self.health.sim_storage_full = full;
        if full {
            // Parts still missing cannot arrive into a full SIM: hand over what is there.
            let emissions = self.inbox.expire(self.now_ms(), true);
            self.emit_inbox(emissions);
            if from_poll {
                self.sweep_due = true;
            }
        }
        self.publish();
    }

    async fn delete(&mut self, deletion: Deletion) -> Result<(), Failure> {
        let timeout = self.config.timeouts.command_ms;
        if deletion.verify {
            let check = match self
                .transact(&AtCommand::ReadMessage(deletion.index), timeout)
                .await
            {
                Ok(check) => check,
                Err(failure) => {
                    self.inbox.on_delete_failed(deletion.index);
                    return Err(failure);
                }
            };
            let holds = check.stored_message().map(|message| message.pdu.0.clone());
            match (&check.result, holds) {
                (FinalResult::Ok, Some(pdu)) if pdu == deletion.pdu => {}
                (FinalResult::Ok, other)
                | (FinalResult::CmsError(ErrorCode::Numeric(321)), other) => {
                    // Already gone (the earlier attempt worked); maybe replaced by a new one.
                    self.inbox.on_deleted(deletion.index);
                    self.health.counters.sms_deleted += 1;
                    if other.is_some() {
                        self.reads.insert(deletion.index);
                    }
                    return Ok(());
                }
                _ => {
                    self.inbox.on_delete_failed(deletion.index);
                    return Ok(());
                }
            }
        }
        match self
            .transact(&AtCommand::DeleteMessage(deletion.index), timeout)
            .await
        {
            Ok(done) if done.result.is_success() => {
                self.inbox.on_deleted(deletion.index);
                self.health.counters.sms_deleted += 1;
                if self.storage_full {
                    self.health_due = true;
                }
                Ok(())
            }
            Ok(done) => {
                self.health.counters.command_errors += 1;
                tracing::warn!(index = deletion.index, result = ?done.result, "deleting failed");
                self.inbox.on_delete_failed(deletion.index);
                Ok(())
            }
            Err(failure) => {
                self.inbox.on_delete_failed(deletion.index);
                Err(failure)
            }
        }
    }

    async fn send(&mut self, mut job: SendJob) -> Result<(), Failure> {
        let Some(pdu) = job.pdus.get(job.next_part).cloned() else {
            self.complete_send(job);
            return Ok(());
        };
        let parts = job.pdus.len();
        tracing::debug!(
            part = job.next_part + 1,
            parts,
            attempt = job.attempts + 1,
            "sending"
        );
        match self
            .transact(&AtCommand::SendMessage(pdu), self.config.timeouts.send_ms)
            .await
        {
            Ok(done) => {
                match (&done.result, done.message_reference()) {
                    (FinalResult::Ok, Some(reference)) => {
                        self.health.counters.sms_parts_sent += 1;
                        job.refs.push(reference);
                        job.next_part += 1;
                        job.attempts = 0;
                        if job.next_part >= parts {
                            self.complete_send(job);
                        } else {
                            self.sends.push_front(job);
                        }
                    }
                    (result, _) => {
                        self.health.counters.sms_send_errors += 1;
                        let permanent = is_permanent(result);
                        job.last_error = format!("{result:?}");
                        tracing::warn!(result = ?result, permanent, "the modem refused a part");
                        self.retry_or_fail(job, permanent);
                    }
                }
                self.publish();
                Ok(())
            }
            Err(Failure::Stopping) => {
                let _ = job.reply.send(Err(ModemError::Stopped));
                Err(Failure::Stopping)
            }
            Err(failure) => {
                job.last_error = failure.to_string();
                self.retry_or_fail(job, false);
                Err(failure)
            }
        }
    }

    fn complete_send(&mut self, job: SendJob) {
        let outcome = SendOutcome {
            parts: job.refs.len() as u8,
            message_refs: job.refs,
        };
        let _ = job.reply.send(Ok(outcome));
        self.publish();
    }

    fn retry_or_fail(&mut self, mut job: SendJob, permanent: bool) {
        job.attempts += 1;
        if permanent || job.attempts >= self.config.send_attempts_max.max(1) {
            self.fail_send(job, permanent);
            return;
        }
        let base = self
            .config
            .send_retry_initial_ms
            .saturating_mul(1u64 << (job.attempts - 1).min(16))
            .min(self.config.send_retry_max_ms);
        let delay = self.jitter.spread(base);
        job.not_before = Instant::now() + Duration::from_millis(delay);
        tracing::info!(
            attempt = job.attempts,
            delay_ms = delay,
            "send will be retried"
        );
        self.sends.push_front(job);
    }

    fn fail_send(&mut self, job: SendJob, permanent: bool) {
        self.health.counters.sms_send_failures += 1;
        let error = ModemError::SendFailed {
            parts: job.pdus.len() as u8,
            parts_sent: job.refs.len() as u8,
            message_refs: job.refs,
            reason: job.last_error,
            permanent,
        };
        tracing::warn!(%error, "send failed");
        let _ = job.reply.send(Err(error));
        self.publish();
    }

    async fn run_call(&mut self, request: CallRequest) -> Result<(), Failure> {
        let CallRequest { kind, reply } = request;
        let timeouts = self.config.timeouts.clone();
        let (command, timeout) = match &kind {
            CallKind::Dial(command) => (command.clone(), timeouts.dial_ms),
            CallKind::Answer => (AtCommand::Answer, timeouts.command_ms),
            CallKind::HangUp => (AtCommand::HangUp, timeouts.command_ms),
            CallKind::Speak(command) => (command.clone(), timeouts.command_ms),
        };
        if matches!(kind, CallKind::Dial(_)) {
            self.calls.on_dialing();
        }
        let done = match self.transact(&command, timeout).await {
            Ok(done) => done,
            Err(failure) => {
                let error = match &failure {
                    Failure::Timeout(_) => ModemError::Timeout,
                    Failure::Stopping => ModemError::Stopped,
                    _ => ModemError::Unavailable,
                };
                if matches!(kind, CallKind::Dial(_)) {
                    let event = self.calls.on_connect_result(&FinalResult::NoAnswer);
                    self.emit_call(event);
                }
                let _ = reply.send(Err(error));
                return Err(failure);
            }
        };
        let result = match kind {
            CallKind::Answer if !done.result.is_success() && self.calls.is_idle() => {
                // Nothing was ringing: no call to end, just a refusal.
                Err(ModemError::CallFailed(CallEndReason::Missed))
            }
            CallKind::Dial(_) | CallKind::Answer => {
                let event = self.calls.on_connect_result(&done.result);
                let outcome = match &event {
                    CallEvent::Ended { reason } => Err(ModemError::CallFailed(*reason)),
                    _ => Ok(()),
                };
                self.emit_call(event);
                outcome
            }
            CallKind::HangUp if done.result.is_success() => {
                if let Some(event) = self.calls.on_hung_up() {
                    self.emit_call(event);
                }
                Ok(())
            }
            CallKind::HangUp | CallKind::Speak(_) if !done.result.is_success() => {
                Err(ModemError::Refused(format!("{:?}", done.result)))
            }
            CallKind::HangUp | CallKind::Speak(_) => Ok(()),
        };
        let _ = reply.send(result);
        Ok(())
    }

    // ---- exchanges and waiting ----

    async fn transact(
        &mut self,
        command: &AtCommand,
        timeout_ms: u64,
    ) -> Result<Completed, Failure> {
        let speech = self.config.profile.speech_finished_prefix();
        let (mut exchange, line) = Exchange::start(command, &mut self.reader, speech);
        self.write(line)?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let result = self.exchange(&mut exchange, command, deadline).await;
        self.health.counters.garbage_lines += exchange.garbage_lines();
        result
    }

    async fn exchange(
        &mut self,
        exchange: &mut Exchange,
        command: &AtCommand,
        deadline: Instant,
    ) -> Result<Completed, Failure> {
        loop {
            match self.wait(Some(deadline)).await {
                Wake::Input(bytes) => {
                    let mut urcs = Vec::new();
                    let mut outcome = None;
                    for event in self.reader.feed(&bytes) {
                        if outcome.is_some() {
                            if let AtEvent::Urc(urc) = event {
                                urcs.push(urc);
                            }
                            continue;
                        }
                        match exchange.on_event(event, &mut urcs) {
                            Progress::Pending => {}
                            Progress::Write(payload) => {
                                if let Err(failure) = self.write(payload) {
                                    outcome = Some(Err(failure));
                                }
                            }
                            Progress::Done(done) => outcome = Some(Ok(done)),
                            Progress::Rebooted => {
                                self.reader.cancel_pending();
                                outcome = Some(Err(Failure::Rebooted));
                            }
                        }
                    }
                    for urc in urcs {
                        self.push_urc(urc);
                    }
                    if let Some(outcome) = outcome {
                        return outcome;
                    }
                }
                Wake::PortClosed(reason) => return Err(Failure::PortLost(reason)),
                Wake::Deadline => {
                    self.reader.cancel_pending();
                    if exchange.prompt_seen() {
                        let _ = self.write(vec![ESC]);
                    }
                    return Err(Failure::Timeout(command.to_line()));
                }
                Wake::Handled => {
                    if self.stopping {
                        self.reader.cancel_pending();
                        return Err(Failure::Stopping);
                    }
                }
            }
        }
    }

    /// Waits until `duration` has passed, taking URCs, commands and acks meanwhile; with
    /// `until_ready`, returns early when the modem says `RDY`.
    async fn pause(&mut self, duration: Duration, until_ready: bool) -> Result<(), Failure> {
        let deadline = Instant::now() + duration;
        loop {
            if self.stopping {
                return Err(Failure::Stopping);
            }
            self.expire_sends();
            match self.wait(Some(deadline)).await {
                Wake::Deadline => return Ok(()),
                Wake::Input(bytes) => {
                    if self.take_unsolicited(&bytes) && until_ready {
                        return Ok(());
                    }
                }
                Wake::PortClosed(reason) => return Err(Failure::PortLost(reason)),
                Wake::Handled => {}
            }
        }
    }

    async fn idle(&mut self, wake_at: Instant) -> Result<(), Failure> {
        match self.wait(Some(wake_at)).await {
            Wake::Input(bytes) => {
                self.take_unsolicited(&bytes);
                Ok(())
            }
            Wake::PortClosed(reason) => Err(Failure::PortLost(reason)),
            Wake::Deadline | Wake::Handled => Ok(()),
        }
    }

    /// Feeds bytes that arrived with no command pending; true when one was `RDY`.
    fn take_unsolicited(&mut self, bytes: &[u8]) -> bool {
        let mut ready = false;
        for event in self.reader.feed(bytes) {
            match event {
                AtEvent::Urc(urc) => {
                    ready |= urc == Urc::ModemReady;
                    self.push_urc(urc);
                }
                AtEvent::Error(_) => self.health.counters.garbage_lines += 1,
                AtEvent::Echo(_) | AtEvent::Prompt | AtEvent::Response(_) | AtEvent::Final(_) => {}
            }
        }
        ready
    }

    async fn wait(&mut self, deadline: Option<Instant>) -> Wake {
        let sleep =
            tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + IDLE_HORIZON));
        let selected = tokio::select! {
            input = next_input(&mut self.port) => Selected::Input(input),
            command = self.mailbox.recv(), if self.mailbox_open => Selected::Command(command),
            ack = self.acks.recv() => Selected::Ack(ack),
            permit = self.events.reserve(), if !self.backlog.is_empty() => {
                match permit {
                    Ok(permit) => {
                        if let Some(event) = self.backlog.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => self.backlog.clear(),
                }
                Selected::EventSent
            }
            () = sleep => Selected::Deadline,
        };
        match selected {
            Selected::Input(PortInput::Bytes(bytes)) => Wake::Input(bytes),
            Selected::Input(PortInput::Closed(reason)) => Wake::PortClosed(reason),
            Selected::Command(command) => {
                self.accept(command);
                Wake::Handled
            }
            Selected::Ack(ack) => {
                if let Some(ack) = ack {
                    self.inbox.on_ack(ack.id, ack.acked);
                    if !ack.acked {
                        tracing::info!(
                            ack = ack.id,
                            "message not acknowledged; it stays on the SIM for the next sweep"
                        );
                    }
                    self.publish();
                }
                Wake::Handled
            }
            Selected::EventSent => Wake::Handled,
            Selected::Deadline => Wake::Deadline,
        }
    }

    fn write(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        let port = self
            .port
            .as_ref()
            .ok_or_else(|| Failure::PortLost("no port".to_owned()))?;
        port.write(bytes).map_err(Failure::PortLost)
    }

    fn accept(&mut self, command: Option<ModemCommand>) {
        let Some(command) = command else {
            self.mailbox_open = false;
            self.stopping = true;
            return;
        };
        match command {
            ModemCommand::SendSms {
                destination,
                text,
                status_report,
                reply,
            } => {
                if self.sends.len() >= SEND_QUEUE_MAX {
                    let _ = reply.send(Err(ModemError::QueueFull));
                    return;
                }
                let reference = ConcatReference::Eight(self.concat_reference);
                self.concat_reference = self.concat_reference.wrapping_add(1);
                let options = SubmitOptions {
                    status_report_request: status_report,
                    ..SubmitOptions::default()
                };
                match encode_text_submits(&destination, &text, reference, &options) {
                    Ok(pdus) => {
                        let now = Instant::now();
                        self.sends.push_back(SendJob {
                            pdus,
                            next_part: 0,
                            refs: Vec::new(),
                            attempts: 0,
                            not_before: now,
                            last_error: String::new(),
                            reply,
                        });
                        self.publish();
                    }
                    Err(error) => {
                        let _ = reply.send(Err(ModemError::InvalidText(error.to_string())));
                    }
                }
            }
            ModemCommand::Call(request) => {
                if self.health.state != ModemState::Ready {
                    let _ = request.reply.send(Err(ModemError::Unavailable));
                } else if self.call_ops.len() >= CALL_OPS_MAX {
                    let _ = request.reply.send(Err(ModemError::QueueFull));
                } else {
                    self.call_ops.push_back(request);
                }
            }
            ModemCommand::Shutdown { reply } => {
                self.stopping = true;
                self.shutdown_waiters.push(reply);
            }
        }
    }

    // ---- URCs, timers, events ----

    fn push_urc(&mut self, urc: Urc) {
        if self.urcs.len() >= URC_BACKLOG_MAX {
            self.urcs.pop_front();
            tracing::warn!("too many URCs held; dropped the oldest");
        }
        self.urcs.push_back(urc);
    }

    fn process_urcs(&mut self) {
        while let Some(urc) = self.urcs.pop_front() {
            match urc {
                Urc::NewMessage(indication) | Urc::NewStatusReport(indication) => {
                    if !self.inbox.is_known(indication.index) {
                        self.reads.insert(indication.index);
                    }
                }
                Urc::Message(received) | Urc::StatusReport(received) => {
                    self.direct_message(&received.pdu.0);
                }
                Urc::Registration(update) => {
                    self.health.registration = Some(registration_of(update.status));
                    self.publish();
                }
                Urc::ModemReady => {
                    tracing::warn!("the modem restarted by itself; initialising again");
                    self.needs_init = true;
                    self.call_lost();
                }
                Urc::Unrecognized(text) => {
                    let speech = self.config.profile.speech_finished_prefix();
                    if speech.is_some_and(|prefix| text.starts_with(prefix)) {
                        self.emit(ModemEvent::SpeechFinished);
                    } else if is_garbage(&text) {
                        self.health.counters.garbage_lines += 1;
                    } else {
                        tracing::debug!(%text, "unhandled line from the modem");
                    }
                }
                other => {
                    if let Some(event) = self.calls.on_urc(&other) {
                        self.emit_call(event);
                    }
                }
            }
        }
    }

    /// A `+CMT`/`+CDS`: routed to the host without being stored, so there is nothing to
    /// delete and the ack is detached.
    fn direct_message(&mut self, pdu: &[u8]) {
        match IncomingPdu::decode(pdu) {
            Ok(IncomingPdu {
                tpdu: IncomingTpdu::Deliver(deliver),
                ..
            }) => {
                let concatenation = deliver
                    .user_data
                    .header
                    .as_ref()
                    .and_then(|header| header.concatenation_info())
                    .filter(|info| info.total > 1);
                let counts = concatenation.map_or((1, 1, true), |info| (1, info.total, false));
                let sms = received_sms(
                    &deliver.originator,
                    concatenation.map(|info| info.reference),
                    deliver.user_data.to_text_lossy(),
                    Some(deliver.timestamp),
                    counts,
                    Vec::new(),
                );
                self.health.counters.sms_received += 1;
                self.emit(ModemEvent::SmsReceived {
                    sms,
                    ack: Ack::detached(),
                });
            }
            Ok(IncomingPdu {
                tpdu: IncomingTpdu::StatusReport(report),
                ..
            }) => {
                self.health.counters.delivery_reports += 1;
                self.emit(ModemEvent::DeliveryReport {
                    report: DeliveryReport {
                        message_ref: report.message_reference,
                        recipient: report.recipient.to_display_string(),
                        status: report.status,
                        outcome: report.status.outcome(),
                        discharge_time: report.discharge_time,
                        sim_index: None,
                    },
                    ack: Ack::detached(),
                });
            }
            Err(error) => {
                self.health.counters.garbage_lines += 1;
                tracing::warn!(%error, "undecodable PDU routed to the host");
            }
        }
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        if now >= self.next_sweep {
            self.sweep_due = true;
        }
        if now >= self.next_health {
            self.health_due = true;
        }
        let emissions = self.inbox.expire(self.now_ms(), false);
        self.emit_inbox(emissions);
    }

    /// Fails every queued send once the modem has been unavailable for
    /// [`ModemConfig::unavailable_send_timeout_ms`]: the edge's persistent outbox holds them
    /// better than memory does, and the caller learns the outcome.
    fn expire_sends(&mut self) {
        let expired = self.unavailable_since.is_some_and(|since| {
            since.elapsed() >= Duration::from_millis(self.config.unavailable_send_timeout_ms)
        });
        if !expired || self.sends.is_empty() {
            return;
        }
        tracing::warn!(
            sends = self.sends.len(),
            "the modem stays unavailable; failing queued sends"
        );
        for job in self.sends.drain(..) {
            self.health.counters.sms_send_failures += 1;
            let _ = job.reply.send(Err(ModemError::Unavailable));
        }
        self.publish();
    }

    fn next_wakeup(&self) -> Instant {
        let mut wake = self.next_sweep.min(self.next_health);
        if let Some(job) = self.sends.front() {
            wake = wake.min(job.not_before);
        }
        if let Some(ms) = self.inbox.next_deadline_ms() {
            wake = wake.min(self.started + Duration::from_millis(ms));
        }
        wake
    }

    fn emit_inbox(&mut self, emissions: Vec<Emission>) {
        for emission in emissions {
            let ack = Ack::new(emission.ack_id, self.acks_sender.clone());
            let event = match emission.content {
                Emitted::Sms(sms) => {
                    self.health.counters.sms_received += 1;
                    ModemEvent::SmsReceived { sms, ack }
                }
                Emitted::Report(report) => {
                    self.health.counters.delivery_reports += 1;
                    ModemEvent::DeliveryReport { report, ack }
                }
                Emitted::Undecodable {
                    sim_index,
                    pdu_hex,
                    error,
                } => ModemEvent::UndecodableSms {
                    sim_index,
                    pdu_hex,
                    error,
                    ack,
                },
            };
            self.emit(event);
        }
        self.publish();
    }

    fn emit_call(&mut self, event: CallEvent) {
        self.emit(match event {
            CallEvent::Incoming { number } => ModemEvent::IncomingCall { number },
            CallEvent::Answered => ModemEvent::CallAnswered,
            CallEvent::Ended { reason } => ModemEvent::CallEnded { reason },
            CallEvent::Dtmf { digit } => ModemEvent::Dtmf { digit },
        });
    }

    /// Queues an event for the edge. Dropped events are counted; an SMS among them releases
    /// its message (its [`Ack`] is dropped), which the next sweep emits again.
    fn emit(&mut self, event: ModemEvent) {
        if self.backlog.is_empty() {
            match self.events.try_send(event) {
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(event)) => self.backlog.push_back(event),
            }
        } else if self.backlog.len() >= EVENT_BACKLOG_MAX {
            self.health.counters.events_dropped += 1;
            tracing::warn!("the edge is not taking modem events; dropped one");
        } else {
            self.backlog.push_back(event);
        }
    }

    fn set_state(&mut self, state: ModemState) {
        if state == ModemState::Ready {
            self.unavailable_since = None;
        } else if self.unavailable_since.is_none() {
            self.unavailable_since = Some(Instant::now());
        }
        if self.health.state != state {
            self.health.state = state;
            self.publish();
        }
    }

    fn publish(&mut self) {
        self.health.sends_queued = self.sends.len();
        self.health.acks_awaited = self.inbox.acks_awaited();
        self.health_sender.send_replace(self.health.clone());
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

async fn next_input(port: &mut Option<PortLink>) -> PortInput {
    match port {
        Some(port) => port.recv().await,
        None => std::future::pending().await,
    }
}

fn is_permanent(result: &FinalResult) -> bool {
    matches!(result, FinalResult::CmsError(ErrorCode::Numeric(code)) if PERMANENT_CMS_ERRORS.contains(code))
}

fn registration_of(status: RegistrationStatus) -> Registration {
    match status {
        RegistrationStatus::NotRegistered => Registration::NotRegistered,
        RegistrationStatus::RegisteredHome => Registration::Home,
        RegistrationStatus::Searching => Registration::Searching,
        RegistrationStatus::Denied => Registration::Denied,
        RegistrationStatus::Unknown => Registration::Unknown,
        RegistrationStatus::RegisteredRoaming => Registration::Roaming,
        RegistrationStatus::Other(_) => Registration::Other,
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
