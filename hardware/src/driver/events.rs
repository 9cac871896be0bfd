//! What the driver tells the edge: [`ModemEvent`]s on a bounded channel, the [`Ack`] that
//! lets a stored message be deleted from the SIM, and the [`Health`] snapshot.
//!
//! Delivery is at-least-once. A message stays on the SIM until its [`Ack`] is acknowledged;
//! an [`Ack`] dropped without [`Ack::ack`] releases the message, and the next sweep of the
//! SIM (`AT+CMGL`) emits it again. A crash between the edge's commit and the driver's
//! `AT+CMGD` also means a second emission after restart, so the edge deduplicates on
//! [`ReceivedSms::dedupe_key`] (or on sender, timestamp and text).

use farmco_modem_codec::pdu::time::SmscTimestamp;
use farmco_modem_codec::pdu::tpdu::{DeliveryOutcome, DeliveryStatus};
use serde::Serialize;
use tokio::sync::mpsc;

use super::profile::ModemProfile;

/// The edge's word that it has committed a message: call [`Ack::ack`] after the commit.
/// Dropping it without calling `ack` means "not committed": the message stays on the SIM and
/// is emitted again by a later sweep.
#[derive(Debug)]
pub struct Ack {
    id: u64,
    sender: Option<mpsc::Sender<AckMessage>>,
}

/// What an [`Ack`] tells the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckMessage {
    pub(crate) id: u64,
    pub(crate) acked: bool,
}

impl Ack {
    pub(crate) fn new(id: u64, sender: mpsc::Sender<AckMessage>) -> Self {
        Ack {
            id,
            sender: Some(sender),
        }
    }

    /// An ack that acknowledges nothing: for messages that were never stored (`+CMT`,
    /// `+CDS` routed straight to the host).
    pub fn detached() -> Self {
        Ack {
            id: 0,
            sender: None,
        }
    }

    /// The message is committed; the driver may delete it from the SIM.
    pub fn ack(mut self) {
        self.finish(true);
    }

    fn finish(&mut self, acked: bool) {
        if let Some(sender) = self.sender.take() {
            // The channel is sized above the most acks ever outstanding, so this only fails
            // when the driver has stopped, and then the SIM keeps the message: safe.
            let _ = sender.try_send(AckMessage { id: self.id, acked });
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        self.finish(false);
    }
}

/// A received SMS, reassembled when it came in parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    /// The sender as a person reads it: `+91...`, national digits, or an alphanumeric name.
    pub sender: String,
    /// The text of all parts that arrived, in order; a missing part shows as
    /// [`farmco_modem_codec::pdu::reassembly::MISSING_PART_MARKER`].
    pub text: String,
    /// The SMSC timestamp (of part 1, or the earliest part that arrived).
    pub smsc_timestamp: Option<SmscTimestamp>,
    /// Parts that arrived.
    pub parts: u8,
    /// Parts the message has.
    pub parts_expected: u8,
    /// False when the driver gave up waiting for missing parts (timeout, or a full SIM).
    pub complete: bool,
    /// Where the parts are on the SIM (empty for a `+CMT` routed straight to the host).
    pub sim_indices: Vec<u16>,
    /// A stable key for deduplication across re-emissions: sender, SMSC time and a hash of
    /// the text.
    pub dedupe_key: String,
}

impl ReceivedSms {
    /// The SMSC timestamp as Unix seconds.
    pub fn smsc_unix_seconds(&self) -> Option<i64> {
        self.smsc_timestamp.map(|stamp| stamp.unix_seconds())
    }
}

/// An SMS-STATUS-REPORT: what became of a message this node sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The `+CMGS` reference of the part it reports on ([`super::SendOutcome::message_refs`]).
    pub message_ref: u8,
    /// The recipient of that part.
    pub recipient: String,
    /// TP-ST as received.
    pub status: DeliveryStatus,
    /// Its broad meaning: delivered, still trying, failed.
    pub outcome: DeliveryOutcome,
    /// When the SMSC reached that status.
    pub discharge_time: SmscTimestamp,
    /// Where the report is on the SIM (none for a `+CDS` routed straight to the host).
    pub sim_index: Option<u16>,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    /// The other side hung up (`NO CARRIER` during a call).
    RemoteHangup,
    /// The caller gave up before the call was answered.
    Missed,
    /// This node hung up.
    LocalHangup,
    /// The number was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// No dial tone (no network).
    NoDialtone,
    /// The modem was lost or rebooted mid-call.
    ModemLost,
}

/// Something the driver tells the edge.
#[derive(Debug)]
pub enum ModemEvent {
    /// An SMS arrived. Commit it, then call `ack.ack()`; only then is it deleted from the SIM.
    SmsReceived {
        /// The message.
        sms: ReceivedSms,
        /// Acknowledge after committing.
        ack: Ack,
    },
    /// A stored message could not be decoded (a damaged or exotic PDU). Keep it (e.g. in a
    /// dead-letter table) and ack it; it is deleted only then.
    UndecodableSms {
        /// Where it is on the SIM.
        sim_index: u16,
        /// The PDU as hex.
        pdu_hex: String,
        /// Why it did not decode.
        error: String,
        /// Acknowledge after keeping it.
        ack: Ack,
    },
    /// A delivery report arrived. Update the message's delivery state, then ack.
    DeliveryReport {
        /// The report.
        report: DeliveryReport,
        /// Acknowledge after committing.
        ack: Ack,
    },
    /// The phone is ringing. `number` is `None` when the caller withheld it or caller ID is
    /// not available.
    IncomingCall {
        /// The caller, as `+CLIP` gave it.
        number: Option<String>,
    },
    /// A call is connected (answered here, or the far end answered a dial).
    CallAnswered,
    /// The call is over.
    CallEnded {
        /// Why.
        reason: CallEndReason,
    },
    /// The caller pressed a key.
    Dtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
    },
    /// Text-to-speech finished speaking.
    SpeechFinished,
    /// A fresh health snapshot (after each poll).
    Health(Health),
    /// The modem stopped answering or the port went away; the driver is recovering.
    ModemLost {
        /// What happened.
        reason: String,
    },
    /// The modem is initialised and ready.
    ModemReady,
}

/// Where the driver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModemState {
    /// Opening the port for the first time.
    Starting,
    /// Initialised and working.
    Ready,
    /// Re-initialising or resetting the modem.
    Recovering,
    /// No usable port; reopening with backoff.
    Lost,
    /// Shut down.
    Stopped,
}

/// Network registration (`+CREG` `<stat>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Not registered, not searching.
    NotRegistered,
    /// Registered on the home network.
    Home,
    /// Searching.
    Searching,
    /// Registration denied.
    Denied,
    /// Unknown.
    Unknown,
    /// Registered, roaming.
    Roaming,
    /// Another value.
    Other,
}

impl Registration {
    /// True when SMS can flow.
    pub fn is_registered(self) -> bool {
        matches!(self, Registration::Home | Registration::Roaming)
    }
}

/// Counters since the driver started (for `/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthCounters {
    /// SMS parts the modem accepted (`+CMGS: <mr>`).
    pub sms_parts_sent: u64,
    /// Send requests that ended in an error.
    pub sms_send_failures: u64,
    /// `+CMS ERROR`s and other error results to sends (each retry counts).
    pub sms_send_errors: u64,
    /// Messages emitted to the edge (each emission counts).
    pub sms_received: u64,
    /// Messages deleted from the SIM after their ack.
    pub sms_deleted: u64,
    /// Delivery reports emitted.
    pub delivery_reports: u64,
    /// Commands that got no answer in time.
    pub command_timeouts: u64,
    /// Commands that answered with an error (outside sends).
    pub command_errors: u64,
    /// Reset sequences sent to the modem.
    pub modem_resets: u64,
    /// Times the port was closed to be reopened.
    pub port_reopens: u64,
    /// Times the SIM store was found full.
    pub storage_full_events: u64,
    /// Events not queued because the edge was not reading them (SMS among them stay on the
    /// SIM and come again).
    pub events_dropped: u64,
    /// Unparseable lines from the modem.
    pub garbage_lines: u64,
}

/// A snapshot of the modem's health: polled periodically, exported by the edge to `/metrics`
/// and the heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Where the driver is.
    pub state: ModemState,
    /// The modem profile in use.
    pub profile: ModemProfile,
    /// The serial port.
    pub port_path: String,
    /// `+CSQ` rssi, 0..=31 (`None`: not known).
    pub signal_rssi: Option<u8>,
    /// The same in dBm.
    pub signal_dbm: Option<i16>,
    /// `+CSQ` bit error rate class, 0..=7.
    pub bit_error_rate: Option<u8>,
    /// Network registration.
    pub registration: Option<Registration>,
    /// The operator's name (`+COPS`).
    pub operator: Option<String>,
    /// SIM slots in use.
    pub sim_used: Option<u16>,
    /// SIM slots.
    pub sim_capacity: Option<u16>,
    /// True while the SIM store is full.
    pub sim_storage_full: bool,
    /// Send requests waiting or in progress.
    pub sends_queued: usize,
    /// Emitted messages not yet acknowledged.
    pub acks_awaited: usize,
    /// When health was last polled (Unix milliseconds).
    pub last_poll_unix_ms: Option<u64>,
    /// Counters.
    pub counters: HealthCounters,
}

impl Health {
    pub(crate) fn new(profile: ModemProfile, port_path: String) -> Self {
        Health {
            state: ModemState::Starting,
            profile,
            port_path,
            signal_rssi: None,
            signal_dbm: None,
            bit_error_rate: None,
            registration: None,
            operator: None,
            sim_used: None,
            sim_capacity: None,
            sim_storage_full: false,
            sends_queued: 0,
            acks_awaited: 0,
            last_poll_unix_ms: None,
            counters: HealthCounters::default(),
        }
    }
}
