//! The modem driver: one tokio task owns the serial port and does everything the edge needs
//! from the modem, one AT command at a time, at the modem's pace.
//!
//! ```text
//!  edge ──ModemHandle (bounded mailbox of ModemCommand)──▶ driver task ──▶ port threads ──▶ modem
//!  edge ◀──────────── bounded channel of ModemEvent ───────── │  ▲
//!  edge ──── Ack (SMS committed: delete it from the SIM) ─────┘  └── Health (watch)
//! ```
//!
//! API: [`Modem::spawn`] → ([`ModemHandle`], `Receiver<ModemEvent>`). The handle's methods
//! await their outcome: [`ModemHandle::send_sms`] returns once every part is sent (with
//! the `+CMGS` references that [`ModemEvent::DeliveryReport`]s quote) or failed for good;
//! [`ModemHandle::health`] is a snapshot that never waits on the modem.
//!
//! What the driver promises (tested against the simulator, faults included):
//! - **Receive**: `+CMTI` → `AT+CMGR` → [`ModemEvent::SmsReceived`] with an [`Ack`] → the
//!   edge commits and acks → only then `AT+CMGD`. The SIM is listed (`AT+CMGL=4`) after every
//!   init and every [`ModemConfig::sweep_interval_ms`], which picks up what arrived while the
//!   node was down and anything whose ack was dropped. Multipart messages are reassembled in
//!   memory and emitted once, complete; their parts leave the SIM only after that one ack, so
//!   a restart re-reads and re-emits them rather than losing them. A full SIM is detected
//!   (`AT+CPMS?`), counted and drained.
//! - **Send**: one message at a time; each part is one `AT+CMGS` with its own timeout
//!   ([`Timeouts::send_ms`]); `+CMS ERROR`s that can pass (network congestion, 500) are
//!   retried with backoff, permanent ones fail the message. Every accepted send gets an
//!   answer: success, failure, modem unavailable for too long, or driver stopped. A part whose answer was
//!   lost (timeout, reset) is sent again: at-least-once, so a farmer may rarely get a
//!   duplicate, never nothing.
//! - **Recovery**: no answer → `AT` probes → reset (`AT+CFUN=1,1`) → close and reopen the
//!   port with backoff and jitter ([`ModemEvent::ModemLost`] / [`ModemEvent::ModemReady`]).
//!   A `RDY` (the modem rebooted by itself) or a vanished port (USB re-enumeration) lead to
//!   re-init the same way.
//!
//! Limits (each a named constant with its reason): [`MAILBOX_CAPACITY`],
//! [`EVENT_CHANNEL_CAPACITY`], [`EVENT_BACKLOG_MAX`], [`SEND_QUEUE_MAX`], [`CALL_OPS_MAX`],
//! [`URC_BACKLOG_MAX`], [`ACK_CHANNEL_CAPACITY`], plus those of the inbox and the port.

mod backoff;
mod calls;
mod events;
mod inbox;
mod port;
mod profile;
mod task;
mod transaction;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use farmco_modem_codec::at::command::AtCommand;
use farmco_modem_codec::pdu::address::Address;
use farmco_modem_codec::pdu::split::split_text;
use farmco_modem_codec::pdu::udh::ConcatReference;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

pub use events::{
    Ack, CallEndReason, DeliveryReport, Health, HealthCounters, ModemEvent, ModemState,
    ReceivedSms, Registration,
};
pub use profile::{InitStep, ModemProfile, SpeakError};

/// Commands waiting for the driver task; senders wait when it is full.
pub const MAILBOX_CAPACITY: usize = 64;
/// Events waiting for the edge in the channel.
pub const EVENT_CHANNEL_CAPACITY: usize = 64;
/// Events the driver holds beyond the channel before dropping (an SMS dropped here stays on
/// the SIM and is emitted again by the next sweep; calls and DTMF are lost, and counted).
pub const EVENT_BACKLOG_MAX: usize = 256;
/// Send requests queued at most: at ~3 s a part, 1000 messages is most of an hour of
/// sending; beyond that the edge's persistent outbox should hold them, so the driver says
/// [`ModemError::QueueFull`].
pub const SEND_QUEUE_MAX: usize = 1000;
/// Call operations (dial, answer, hang up, speak) queued at most: a person is waiting on
/// each, so a deep queue would be a bug.
pub const CALL_OPS_MAX: usize = 16;
/// URCs held while a command runs; beyond this the oldest go (an SMS among them is still on
/// the SIM for the sweep).
pub const URC_BACKLOG_MAX: usize = 256;
/// Ack messages in flight: above the most emissions ever awaiting acks (one per SIM slot,
/// at most 255), so an [`Ack`] never fails to report.
pub const ACK_CHANNEL_CAPACITY: usize = 1024;

/// Per-command timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Ordinary commands (SIM800 answers in well under a second).
    pub command_ms: u64,
    /// `AT+CMGS`: up to 60 s on a congested network (SIMCom's documented maximum).
    pub send_ms: u64,
    /// `AT+CMGL` of a full SIM (SIM reads are slow: seconds).
    pub list_ms: u64,
    /// `ATD` until the far end answers, is busy or does not answer.
    pub dial_ms: u64,
    /// One `AT` probe during recovery.
    pub probe_ms: u64,
    /// From the reset command until the modem is expected back (SIM800 boots in ~5–10 s).
    pub reset_wait_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command_ms: 5_000,
            send_ms: 60_000,
            list_ms: 30_000,
            dial_ms: 60_000,
            probe_ms: 2_000,
            reset_wait_ms: 15_000,
        }
    }
}

/// How to run a modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemConfig {
    /// The serial port (`/dev/ttyUSB2`, `/dev/serial/by-id/...`, a simulator's pty or link).
    pub port_path: PathBuf,
    /// The modem family.
    pub profile: ModemProfile,
    /// Baud rate (ignored by USB CDC-ACM modems and ptys, needed by UART ones).
    pub baud_rate: u32,
    /// Open the port exclusively (keeps ModemManager and friends out).
    pub exclusive: bool,
    /// Per-command timeouts.
    pub timeouts: Timeouts,
    /// Between health polls (`AT+CSQ`, `AT+CREG?`, `AT+COPS?`, `AT+CPMS?`).
    pub health_interval_ms: u64,
    /// Between sweeps of the SIM (`AT+CMGL=4`).
    pub sweep_interval_ms: u64,
    /// Attempts per SMS part (first try included) before the message fails.
    pub send_attempts_max: u32,
    /// First backoff after a failed send attempt.
    pub send_retry_initial_ms: u64,
    /// Longest backoff between send attempts.
    pub send_retry_max_ms: u64,
    /// Sends queued while the modem is unavailable (lost, recovering) fail with
    /// [`ModemError::Unavailable`] once it has been unavailable this long; the edge's outbox
    /// keeps them and retries. A long queue on a working modem never times out.
    pub unavailable_send_timeout_ms: u64,
    /// First delay before reopening a lost port.
    pub reopen_initial_ms: u64,
    /// Longest delay between reopen attempts.
    pub reopen_max_ms: u64,
    /// Init sequences tried before the port is closed and reopened.
    pub init_attempts_max: u32,
    /// A multipart message missing parts this long is emitted incomplete.
    pub incomplete_message_timeout_ms: u64,
}

impl ModemConfig {
    /// Production defaults for `port_path` and `profile`.
    pub fn new(port_path: impl Into<PathBuf>, profile: ModemProfile) -> Self {
        ModemConfig {
            port_path: port_path.into(),
            profile,
            baud_rate: 115_200,
            exclusive: true,
            timeouts: Timeouts::default(),
            health_interval_ms: 30_000,
            sweep_interval_ms: 60_000,
            send_attempts_max: 4,
            send_retry_initial_ms: 2_000,
            send_retry_max_ms: 30_000,
            unavailable_send_timeout_ms: 15 * 60_000,
            reopen_initial_ms: 500,
            reopen_max_ms: 30_000,
            init_attempts_max: 3,
            incomplete_message_timeout_ms: 60 * 60_000,
        }
    }
}

/// The least any interval may be: zero would make the driver poll in a hot loop.
pub const INTERVAL_MS_MIN: u64 = 100;
/// The least any timeout may be.
pub const TIMEOUT_MS_MIN: u64 = 10;

impl ModemConfig {
    /// The same configuration with intervals of at least [`INTERVAL_MS_MIN`], timeouts of at
    /// least [`TIMEOUT_MS_MIN`] and at least one attempt, so no setting can make the driver
    /// spin. [`Modem::spawn`] applies it.
    pub fn sanitized(mut self) -> Self {
        for interval in [
            &mut self.health_interval_ms,
            &mut self.sweep_interval_ms,
            &mut self.reopen_initial_ms,
            &mut self.reopen_max_ms,
        ] {
            *interval = (*interval).max(INTERVAL_MS_MIN);
        }
        let timeouts = &mut self.timeouts;
        for timeout in [
            &mut timeouts.command_ms,
            &mut timeouts.send_ms,
            &mut timeouts.list_ms,
            &mut timeouts.dial_ms,
            &mut timeouts.probe_ms,
            &mut timeouts.reset_wait_ms,
        ] {
            *timeout = (*timeout).max(TIMEOUT_MS_MIN);
        }
        self.send_attempts_max = self.send_attempts_max.max(1);
        self.init_attempts_max = self.init_attempts_max.max(1);
        self
    }
}

/// A sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The `+CMGS` reference of each part, in order; delivery reports quote them.
    pub message_refs: Vec<u8>,
    /// Parts sent.
    pub parts: u8,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModemError {
    /// The number is not a phone number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// The text is empty or cannot be sent.
    #[error("invalid text: {0}")]
    InvalidText(String),
    /// Too many requests are queued.
    #[error("the modem's queue is full")]
    QueueFull,
    /// The modem is not ready (for calls, which cannot wait).
    #[error("the modem is not available")]
    Unavailable,
    /// The profile cannot do this (text-to-speech on a generic modem).
    #[error("not supported by the {0} profile")]
    Unsupported(ModemProfile),
    /// A message could not be sent. Parts listed in `message_refs` did go out.
    #[error("sending failed after {parts_sent} of {parts} parts: {reason}")]
    SendFailed {
        /// Parts the message has.
        parts: u8,
        /// Parts that went out.
        parts_sent: u8,
        /// Their references.
        message_refs: Vec<u8>,
        /// The last error.
        reason: String,
        /// True when retrying the same message cannot help (invalid number, barred, ...).
        permanent: bool,
    },
    /// The modem did not answer in time (a call operation).
    #[error("timed out")]
    Timeout,
    /// A call could not be made or ended.
    #[error("call failed: {0:?}")]
    CallFailed(CallEndReason),
    /// The modem answered with an error.
    #[error("the modem refused: {0}")]
    Refused(String),
    /// The driver has stopped.
    #[error("the modem driver has stopped")]
    Stopped,
}

/// A request to the driver task (the closed set of things it does).
#[derive(Debug)]
pub(crate) enum ModemCommand {
    SendSms {
        destination: Address,
        text: String,
        status_report: bool,
        reply: oneshot::Sender<Result<SendOutcome, ModemError>>,
    },
    Call(CallRequest),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A call operation and where its answer goes.
#[derive(Debug)]
pub(crate) struct CallRequest {
    pub(crate) kind: CallKind,
    pub(crate) reply: oneshot::Sender<Result<(), ModemError>>,
}

/// The call operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallKind {
    Dial(AtCommand),
    Answer,
    HangUp,
    Speak(AtCommand),
}

/// Starts drivers.
#[derive(Debug)]
pub struct Modem;

impl Modem {
    /// Starts the driver task for `config` (inside a tokio runtime). It opens the port,
    /// initialises the modem and keeps doing so after any failure until shut down. Drop
    /// every handle, or call [`ModemHandle::shutdown`], to stop it.
    pub fn spawn(config: ModemConfig) -> (ModemHandle, mpsc::Receiver<ModemEvent>) {
        let (commands, mailbox) = mpsc::channel(MAILBOX_CAPACITY);
        let (event_sender, events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let health = Health::new(config.profile, config.port_path.display().to_string());
        let (health_sender, health_receiver) = watch::channel(health);
        let profile = config.profile;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x5eed, |elapsed| elapsed.as_nanos() as u64);
        let driver = task::Driver::new(config, mailbox, event_sender, health_sender, seed);
        tokio::spawn(driver.run());
        (
            ModemHandle {
                commands,
                health: health_receiver,
                profile,
            },
            events,
        )
    }
}

/// Talks to a running driver. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ModemHandle {
    commands: mpsc::Sender<ModemCommand>,
    health: watch::Receiver<Health>,
    profile: ModemProfile,
}

impl ModemHandle {
    /// Sends `text` to `to` (`+91...` or digits), split into parts when long, and waits until
    /// every part is sent or the message failed. `request_status_report` asks the network for
    /// [`ModemEvent::DeliveryReport`]s.
    pub async fn send_sms(
        &self,
        to: &str,
        text: &str,
        request_status_report: bool,
    ) -> Result<SendOutcome, ModemError> {
        let digits = to.strip_prefix('+').unwrap_or(to);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ModemError::InvalidNumber(to.to_owned()));
        }
        let destination =
            Address::from_dialled(to).map_err(|_| ModemError::InvalidNumber(to.to_owned()))?;
        if text.is_empty() {
            return Err(ModemError::InvalidText("empty".to_owned()));
        }
        split_text(text, ConcatReference::Eight(0))
            .map_err(|error| ModemError::InvalidText(error.to_string()))?;
        let (reply, answer) = oneshot::channel();
        self.request(ModemCommand::SendSms {
            destination,
            text: text.to_owned(),
            status_report: request_status_report,
            reply,
        })
        .await?;
        answer.await.map_err(|_| ModemError::Stopped)?
    }

    /// The latest health snapshot (never waits for the modem).
    pub fn health(&self) -> Health {
        self.health.borrow().clone()
    }

    /// A receiver that sees every new health snapshot.
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.health.clone()
    }

    /// Dials `number` and waits until the far end answers (`Ok`) or the call fails.
    pub async fn dial(&self, number: &str) -> Result<(), ModemError> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        let address = farmco_modem_codec::pdu::address::AddressDigits::new(digits)
            .ok()
            .filter(|_| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| ModemError::InvalidNumber(number.to_owned()))?;
        self.call(CallKind::Dial(AtCommand::DialVoice {
            international: number.starts_with('+'),
            digits: address,
        }))
        .await
    }

    /// Answers the ringing call.
    pub async fn answer(&self) -> Result<(), ModemError> {
        self.call(CallKind::Answer).await
    }

    /// Hangs up.
    pub async fn hang_up(&self) -> Result<(), ModemError> {
        self.call(CallKind::HangUp).await
    }

    /// Speaks `text` with the modem's text-to-speech (into the call, when one is connected);
    /// returns once the modem accepted it ([`ModemEvent::SpeechFinished`] follows when done).
    /// The edge picks the text in the farmer's language; the modem speaks what it is given.
    pub async fn speak(&self, text: &str) -> Result<(), ModemError> {
        let command = self
            .profile
            .speak_command(text)
            .map_err(|error| match error {
                SpeakError::Unsupported => ModemError::Unsupported(self.profile),
                SpeakError::Empty => ModemError::InvalidText("empty".to_owned()),
                SpeakError::TooLong { chars_max } => ModemError::InvalidText(format!(
                    "too long for one text-to-speech command ({chars_max} characters at most)"
                )),
            })?;
        self.call(CallKind::Speak(command)).await
    }

    /// Stops the driver: queued sends fail with [`ModemError::Stopped`], the port closes.
    /// Returns when the driver has stopped.
    pub async fn shutdown(&self) -> Result<(), ModemError> {
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(ModemCommand::Shutdown { reply })
            .await
            .is_err()
        {
            return Ok(());
        }
        let _ = done.await;
        Ok(())
    }

    async fn call(&self, kind: CallKind) -> Result<(), ModemError> {
        let (reply, answer) = oneshot::channel();
        self.request(ModemCommand::Call(CallRequest { kind, reply }))
            .await?;
        answer.await.map_err(|_| ModemError::Stopped)?
    }

    async fn request(&self, command: ModemCommand) -> Result<(), ModemError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ModemError::Stopped)
    }
}
