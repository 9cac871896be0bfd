//! The simulator's AT interpreter as a pure state machine: bytes from the host in, bytes to
//! the host out, side effects on a simulated SIM, network and caller. Time is a parameter
//! (`now_ms`, Unix milliseconds); nothing here reads a clock or touches a file descriptor.
//!
//! It speaks the dialect of a SIM800-class modem: `ATE` echo (every byte as it arrives),
//! `ATV1` framing (`\r\n<line>\r\n`), `AT+CMEE` error styles, PDU-mode SMS with the `> `
//! prompt, a SIM store of limited capacity, `+CMTI`/`+CDSI`/`+CMT`/`+CDS` per `AT+CNMI`,
//! `RING`/`+CLIP`, `ATA`/`ATH`/`ATD`, `+DTMF` (or Quectel `+QTONEDET`) key reports and
//! text-to-speech (`AT+CTTS`, and Quectel's `AT+QTTS`). Anything it does not know answers
//! `ERROR`, as a real modem does; gammu relies on that to probe features.
//!
//! Timing: `AT+CMGS` keeps the modem busy for [`SimSettings::cmgs_delay_ms`]; input that
//! arrives meanwhile waits (as in a UART buffer) and URCs are held until the final result.
//! A reboot (`AT+CFUN=1,1`, a fault, a replug) takes [`SimSettings::boot_ms`] and loses the
//! settings but not the SIM store.
//!
//! Simplifications, on purpose: one storage (`"SM"`); PDU mode only (`AT+CMGF=1` is accepted
//! but text-mode SMS commands answer `+CMS ERROR: 302`); `ATV0` is accepted and ignored;
//! outgoing calls are answered by the far end after [`SimSettings::dial_answer_ms`].
//!
//! Limits: a command line is at most [`COMMAND_LINE_OCTETS_MAX`] octets; input waiting while
//! busy at most [`HELD_INPUT_OCTETS_MAX`]; URCs held at most [`QUEUED_URCS_MAX`]; messages
//! waiting at the "network" for SIM space at most [`NETWORK_QUEUE_MAX`]; each record list
//! (outbox, spoken, calls) keeps the latest [`RECORDS_MAX`]; output not yet taken at most
//! [`OUTPUT_OCTETS_MAX`]. Overflows are counted in [`SimStats`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use farmco_modem_codec::at::response::DtmfTone;
use farmco_modem_codec::hex;
use farmco_modem_codec::pdu::address::Address;
use farmco_modem_codec::pdu::dcs::DataCoding;
use farmco_modem_codec::pdu::reassembly::{
    IncomingPart, InsertOutcome, ReassemblyBuffer, ReassemblyConfig,
};
use farmco_modem_codec::pdu::split::split_text;
use farmco_modem_codec::pdu::time::SmscTimestamp;
use farmco_modem_codec::pdu::tpdu::{
    DeliveryStatus, EncodedPdu, IncomingPdu, IncomingTpdu, OutgoingPdu, SmsDeliver, SmsStatusReport,
};
use farmco_modem_codec::pdu::udh::ConcatReference;
use serde::Serialize;
use thiserror::Error;

use super::civil::smsc_timestamp_ist;
use super::faults::{FaultPlan, HANG_MS_MAX};
use super::store::{SimStore, SlotStatus};

/// Longest command line: SIM800's manual allows 556 characters.
pub const COMMAND_LINE_OCTETS_MAX: usize = 556;
/// Input held while the modem is busy (a real UART buffer is a few KiB); more is dropped.
pub const HELD_INPUT_OCTETS_MAX: usize = 4096;
/// URCs held while a command runs; the oldest is dropped beyond this.
pub const QUEUED_URCS_MAX: usize = 64;
/// Messages the simulated network keeps for a full SIM (an SMSC retries for days; a test
/// needs far fewer).
pub const NETWORK_QUEUE_MAX: usize = 1000;
/// Entries kept in each record list (outbox, spoken, calls).
pub const RECORDS_MAX: usize = 10_000;
/// Output bytes kept when nobody takes them (nobody has the port open); the oldest go.
pub const OUTPUT_OCTETS_MAX: usize = 1 << 20;
/// Most parts the side door splits a farmer's message into: a long SMS from a basic phone is
/// a handful of parts; 10 keeps a runaway test from flooding the SIM.
pub const SIDE_DOOR_PARTS_MAX: usize = 10;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const BACKSPACE: u8 = 0x08;
const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;
/// What a garbage fault puts on the line: NUL, invalid UTF-8, control and punctuation bytes.
const GARBAGE: &[u8] = b"\x00\xff\xfe\x13~garbage\x7f@#\xc3\x28";
/// TP-ST for a failed delivery: 0x41, incompatible destination (permanent).
const STATUS_FAILED: u8 = 0x41;

/// What the modem reports about itself (`AT+CGMI`, `AT+CGMM`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemIdentity {
    /// `AT+CGMI`.
    pub manufacturer: String,
    /// `AT+CGMM`.
    pub model: String,
    /// `AT+CGMR`.
    pub revision: String,
    /// `AT+CGSN`: 15 digits.
    pub imei: String,
    /// `AT+CIMI`: 15 digits, MCC 404 (India).
    pub imsi: String,
    /// `AT+CCID`.
    pub iccid: String,
}

impl Default for ModemIdentity {
    fn default() -> Self {
        ModemIdentity {
            manufacturer: "SIMCOM_Ltd".to_owned(),
            model: "SIMCOM_SIM800L".to_owned(),
            revision: "Revision:1418B05SIM800L24".to_owned(),
            imei: "866262030000017".to_owned(),
            imsi: "404450000000017".to_owned(),
            iccid: "8991000900000000017".to_owned(),
        }
    }
}

/// How the simulated modem and network behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSettings {
    /// How long `AT+CMGS` keeps the modem busy (a SIM800 takes 2–5 s on a live network).
    pub cmgs_delay_ms: u64,
    /// Slots on the SIM.
    pub sim_capacity: u16,
    /// From a send to its status report.
    pub status_report_delay_ms: u64,
    /// From a reboot to `RDY`.
    pub boot_ms: u64,
    /// Between `RING`s of an unanswered call.
    pub ring_interval_ms: u64,
    /// Rings before the caller gives up (a missed call).
    pub rings_before_missed: u32,
    /// From `ATD` to the far end answering.
    pub dial_answer_ms: u64,
    /// Speaking time per character of text-to-speech.
    pub tts_ms_per_char: u64,
    /// The SMSC address in delivered PDUs and `AT+CSCA?`.
    pub smsc_number: String,
    /// `AT+COPS?`.
    pub operator_name: String,
    /// `AT+CSQ` rssi (0..=31).
    pub signal_rssi: u8,
    /// The first `+CMGS` message reference.
    pub first_message_reference: u8,
    /// Identification strings.
    pub identity: ModemIdentity,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            cmgs_delay_ms: 3000,
            sim_capacity: 30,
            status_report_delay_ms: 2000,
            boot_ms: 2000,
            ring_interval_ms: 4000,
            rings_before_missed: 10,
            dial_answer_ms: 2000,
            tts_ms_per_char: 60,
            smsc_number: "+919840011003".to_owned(),
            operator_name: "IND airtel".to_owned(),
            signal_rssi: 20,
            first_message_reference: 0,
            identity: ModemIdentity::default(),
        }
    }
}

/// A message the modem sent, reassembled from its parts (`GET /outbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// The recipient as dialled (`+91...`).
    pub to: String,
    /// The decoded text of all parts.
    pub text: String,
    /// Parts it took.
    pub parts: u8,
    /// The `+CMGS` references of the parts, in the order sent.
    pub message_refs: Vec<u8>,
    /// Whether the parts asked for a status report.
    pub status_report_requested: bool,
    /// When the last part went out.
    pub sent_at_unix_ms: u64,
}

/// Which side placed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// The farmer called the modem.
    In,
    /// The modem dialled out.
    Out,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Incoming, not answered yet.
    Ringing,
    /// Outgoing, not answered yet.
    Dialing,
    /// Connected.
    Active,
    /// Over.
    Ended,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEndCause {
    /// The caller gave up before it was answered.
    Missed,
    /// The modem hung up (`ATH`).
    LocalHangup,
    /// The farmer hung up.
    RemoteHangup,
    /// The modem rebooted.
    Reboot,
    /// The farmer's line was busy (a dial answered `BUSY`).
    Busy,
}

/// A call (`GET /calls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallEntry {
    /// Sequence number of the call.
    pub id: u64,
    /// Who called whom.
    pub direction: CallDirection,
    /// The farmer's number.
    pub number: String,
    /// Where it is.
    pub state: CallState,
    /// When it started ringing or dialling.
    pub started_at_unix_ms: u64,
    /// When it was answered.
    pub answered_at_unix_ms: Option<u64>,
    /// When it ended.
    pub ended_at_unix_ms: Option<u64>,
    /// Why it ended.
    pub end_cause: Option<CallEndCause>,
    /// Keys the farmer pressed during the call.
    pub keys_pressed: String,
}

/// Text the modem spoke (`GET /spoken`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpokenEntry {
    /// The text, decoded.
    pub text: String,
    /// `AT+CTTS` or `AT+QTTS`.
    pub command: String,
    /// The call it was spoken into, if one was connected.
    pub call_id: Option<u64>,
    /// When the command came.
    pub spoken_at_unix_ms: u64,
}

/// A message on the SIM (`GET /sim`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEntry {
    /// Its index.
    pub index: u16,
    /// `REC UNREAD`, `REC READ`, ...
    pub status: &'static str,
    /// `deliver`, `status_report`, `submit` or `unknown`.
    pub kind: &'static str,
    /// The PDU as `+CMGR` prints it.
    pub pdu_hex: String,
}

/// Counters (`GET /stats`), including what the busy-time benchmark reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Parts sent successfully.
    pub parts_sent: u64,
    /// Sum over every `AT+CMGS` of the time the modem was busy sending.
    pub send_busy_ms_total: u64,
    /// When the first `AT+CMGS` started sending.
    pub first_send_started_unix_ms: Option<u64>,
    /// When the latest `AT+CMGS` finished.
    pub last_send_finished_unix_ms: Option<u64>,
    /// Messages and reports put on the SIM.
    pub stored_on_sim_total: u64,
    /// Messages waiting at the network for SIM space.
    pub network_queue_len: usize,
    /// SIM slots in use.
    pub sim_used: u16,
    /// SIM slots usable.
    pub sim_capacity: u16,
    /// URCs dropped because too many were held.
    pub urcs_dropped: u64,
    /// Input bytes dropped because too many were held.
    pub input_octets_dropped: u64,
    /// Output bytes dropped because nobody took them.
    pub output_octets_dropped: u64,
    /// Reboots.
    pub reboots: u64,
}

/// What `POST /sms` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliverySummary {
    /// Parts the text was split into.
    pub parts: usize,
    /// SIM indices filled by this delivery pass (announced with `+CMTI`).
    pub stored_indices: Vec<u16>,
    /// Messages left waiting at the network because the SIM is full (or the modem is down).
    pub queued_at_network: usize,
}

/// Why a side-door action was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SideDoorError {
    /// The sender is neither a number nor a short GSM name.
    #[error("invalid sender {0:?}")]
    InvalidSender(String),
    /// The text is empty or too long.
    #[error("invalid text: {0}")]
    InvalidText(String),
    /// A call is already going on.
    #[error("a call is already in progress")]
    CallInProgress,
    /// There is no call.
    #[error("no call in progress")]
    NoCall,
    /// The call is not connected.
    #[error("no call is connected")]
    NotConnected,
    /// Keys must be `0-9`, `*`, `#`, `A-D`.
    #[error("invalid DTMF keys {0:?}")]
    InvalidKeys(String),
    /// The network's queue for a full SIM is full.
    #[error("the network queue is full")]
    NetworkQueueFull,
}

/// Settings of the terminal adapter, lost on a reboot.
#[derive(Debug, Clone)]
struct TaSettings {
    echo: bool,
    error_mode: u8,
    pdu_mode: bool,
    cnmi: [u8; 5],
    clip: bool,
    colp: bool,
    ddet: bool,
    qtonedet: bool,
    creg: u8,
    charset: String,
    smsc: String,
}

impl TaSettings {
    /// SIM800 factory defaults.
    fn factory(smsc: &str) -> Self {
        TaSettings {
            echo: true,
            error_mode: 0,
            pdu_mode: true,
            cnmi: [2, 1, 0, 0, 0],
            clip: false,
            colp: false,
            ddet: false,
            qtonedet: false,
            creg: 0,
            charset: "IRA".to_owned(),
            smsc: smsc.to_owned(),
        }
    }
}

/// Fault-driven treatment of one command's response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ctx {
    drop: bool,
    garbage: bool,
}

#[derive(Debug, Clone)]
enum Phase {
    Command,
    Pdu {
        declared: usize,
        hex: Vec<u8>,
        ctx: Ctx,
    },
    Busy,
    Booting,
    Hung,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Plain,
    Cme(u16),
    Cms(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    Ok,
    Error(ErrorKind),
    NoCarrier,
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendResult {
    Sent,
    CmsError(u16),
    Reset,
}

#[derive(Debug, Clone)]
enum Timer {
    SendDone {
        reference: u8,
        pdu: Box<OutgoingPdu>,
        ctx: Ctx,
        started_ms: u64,
        result: SendResult,
    },
    StatusReport {
        reference: u8,
        recipient: Address,
        submitted_ms: u64,
        failed: bool,
    },
    Ring {
        call_id: u64,
        count: u32,
    },
    DialAnswered {
        call_id: u64,
    },
    TtsDone {
        urc: &'static str,
    },
    BootDone,
    HangEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetworkKind {
    Deliver,
    Report,
}

#[derive(Debug, Clone)]
struct NetworkMessage {
    kind: NetworkKind,
    pdu: Vec<u8>,
    tpdu_length: usize,
}

/// What one command of a line asks the line runner to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Next,
    Fail(ErrorKind),
    Final(Final),
    Prompt(usize),
    Deferred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op<'a> {
    Exec,
    Read,
    Test,
    Set(&'a str),
}

/// One argument of an extended command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arg {
    text: String,
    quoted: bool,
}

impl Arg {
    fn number(&self) -> Option<u32> {
        if self.quoted || self.text.is_empty() || self.text.len() > 9 {
            return None;
        }
        self.text.parse().ok()
    }
}

/// The simulated modem.
#[derive(Debug)]
pub struct SimModem {
    settings: SimSettings,
    ta: TaSettings,
    store: SimStore,
    phase: Phase,
    line: Vec<u8>,
    line_overflow: bool,
    held_input: VecDeque<u8>,
    executing: bool,
    queued_urcs: VecDeque<Vec<u8>>,
    output: Vec<u8>,
    timers: BTreeMap<(u64, u64), Timer>,
    timer_sequence: u64,
    hang_until_ms: Option<u64>,
    network_queue: VecDeque<NetworkMessage>,
    next_message_reference: u8,
    next_concat_reference: u8,
    faults: FaultPlan,
    outbox: VecDeque<OutboxEntry>,
    outbox_assembler: ReassemblyBuffer,
    outbox_pending_refs: HashMap<(Address, ConcatReference, u8), Vec<u8>>,
    spoken: VecDeque<SpokenEntry>,
    calls: VecDeque<CallEntry>,
    current_call: Option<u64>,
    next_call_id: u64,
    dial_ctx: Option<Ctx>,
    reboot_after_response: bool,
    stats: SimStats,
}

impl SimModem {
    /// A modem that has booted, with an empty SIM.
    pub fn new(settings: SimSettings) -> Self {
        let ta = TaSettings::factory(&settings.smsc_number);
        SimModem {
            store: SimStore::new(settings.sim_capacity),
            next_message_reference: settings.first_message_reference,
            settings,
            ta,
            phase: Phase::Command,
            line: Vec::new(),
            line_overflow: false,
            held_input: VecDeque::new(),
            executing: false,
            queued_urcs: VecDeque::new(),
            output: Vec::new(),
            timers: BTreeMap::new(),
            timer_sequence: 0,
            hang_until_ms: None,
            network_queue: VecDeque::new(),
            next_concat_reference: 1,
            faults: FaultPlan::default(),
            outbox: VecDeque::new(),
            outbox_assembler: ReassemblyBuffer::new(ReassemblyConfig::default()),
            outbox_pending_refs: HashMap::new(),
            spoken: VecDeque::new(),
            calls: VecDeque::new(),
            current_call: None,
            next_call_id: 1,
            dial_ctx: None,
            reboot_after_response: false,
            stats: SimStats::default(),
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// Bytes from the host.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) {
        self.advance(now_ms);
        for &byte in bytes {
            if self.held_input.len() >= HELD_INPUT_OCTETS_MAX {
                self.stats.input_octets_dropped += 1;
            } else {
                self.held_input.push_back(byte);
            }
        }
        self.pump(now_ms);
    }

    /// Runs whatever is due at `now_ms` (sends finishing, rings, reports, boot).
    pub fn advance(&mut self, now_ms: u64) {
        while let Some(entry) = self.timers.first_entry() {
            let (at_ms, _) = *entry.key();
            if at_ms > now_ms {
                break;
            }
            let timer = entry.remove();
            self.fire(timer, at_ms);
        }
        self.pump(now_ms);
    }

    /// When [`SimModem::advance`] next has something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.timers.keys().next().map(|(at_ms, _)| *at_ms)
    }

    /// Takes the bytes for the host.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True while the modem is sending (`AT+CMGS` after the PDU) or otherwise busy.
    pub fn is_busy(&self) -> bool {
        matches!(self.phase, Phase::Busy)
    }

    /// A farmer sends `text` from `from`: split into SMS-DELIVER parts, stored on the SIM and
    /// announced per `AT+CNMI` (or held by the network while the SIM is full).
    pub fn deliver_sms(
        &mut self,
        from: &str,
        text: &str,
        now_ms: u64,
    ) -> Result<DeliverySummary, SideDoorError> {
        let originator = sender_address(from)?;
        if text.is_empty() {
            return Err(SideDoorError::InvalidText("empty".to_owned()));
        }
        let reference = ConcatReference::Eight(self.next_concat_reference);
        self.next_concat_reference = self.next_concat_reference.wrapping_add(1);
        let parts = split_text(text, reference)
            .map_err(|error| SideDoorError::InvalidText(error.to_string()))?;
        if parts.len() > SIDE_DOOR_PARTS_MAX {
            return Err(SideDoorError::InvalidText(format!(
                "{} parts, at most {SIDE_DOOR_PARTS_MAX}",
                parts.len()
            )));
        }
        if self.network_queue.len() + parts.len() > NETWORK_QUEUE_MAX {
            return Err(SideDoorError::NetworkQueueFull);
        }
        let timestamp = scts(now_ms)
            .ok_or_else(|| SideDoorError::InvalidText("clock out of range".to_owned()))?;
        let smsc = Address::from_dialled(&self.settings.smsc_number).ok();
        let count = parts.len();
        for user_data in parts {
            let deliver = SmsDeliver {
                more_messages_waiting: false,
                loop_prevention: false,
                reply_path: false,
                status_report_indication: false,
                originator: originator.clone(),
                protocol_identifier: 0,
                data_coding: DataCoding::new(user_data.body.alphabet(), None),
                timestamp,
                user_data,
            };
            let pdu = IncomingPdu {
                smsc: smsc.clone(),
                tpdu: IncomingTpdu::Deliver(deliver),
            }
            .encode()
            .map_err(|error| SideDoorError::InvalidText(error.to_string()))?;
            self.network_queue.push_back(NetworkMessage {
                kind: NetworkKind::Deliver,
                tpdu_length: pdu.tpdu_length(),
                pdu: pdu.bytes().to_vec(),
            });
        }
        let stored_indices = self.deliver_from_network();
        Ok(DeliverySummary {
            parts: count,
            stored_indices,
            queued_at_network: self.network_queue.len(),
        })
    }

    /// A farmer calls: `RING` (and `+CLIP` when enabled) now and every ring interval.
    pub fn incoming_call(&mut self, from: &str, now_ms: u64) -> Result<u64, SideDoorError> {
        if self.current_call.is_some() {
            return Err(SideDoorError::CallInProgress);
        }
        let digits = from.strip_prefix('+').unwrap_or(from);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SideDoorError::InvalidSender(from.to_owned()));
        }
        let id = self.start_call(CallDirection::In, from, CallState::Ringing, now_ms);
        self.ring(id);
        let at = now_ms + self.settings.ring_interval_ms;
        self.schedule(
            at,
            Timer::Ring {
                call_id: id,
                count: 1,
            },
        );
        Ok(id)
    }

    /// The farmer presses keys during a connected call.
    pub fn press_keys(&mut self, keys: &str) -> Result<usize, SideDoorError> {
        let tones: Option<Vec<DtmfTone>> = keys.chars().map(DtmfTone::new).collect();
        let tones = match tones {
            Some(tones) if !tones.is_empty() && tones.len() <= 64 => tones,
            _ => return Err(SideDoorError::InvalidKeys(keys.to_owned())),
        };
        let id = self.current_call.ok_or(SideDoorError::NoCall)?;
        let connected = self
            .call_mut(id)
            .is_some_and(|call| call.state == CallState::Active);
        if !connected {
            return Err(SideDoorError::NotConnected);
        }
        if let Some(call) = self.call_mut(id) {
            call.keys_pressed
                .extend(tones.iter().map(|tone| tone.key()));
        }
        for tone in &tones {
            if self.ta.ddet {
                self.urc(&[format!("+DTMF: {}", tone.key())]);
            } else if self.ta.qtonedet {
                self.urc(&[format!("+QTONEDET: {}", u32::from(tone.key()))]);
            }
        }
        Ok(tones.len())
    }

    /// The farmer hangs up (or gives up dialling in).
    pub fn remote_hang_up(&mut self, now_ms: u64) -> Result<(), SideDoorError> {
        let id = self.current_call.ok_or(SideDoorError::NoCall)?;
        let state = self.call_mut(id).map(|call| call.state);
        let cause = if state == Some(CallState::Ringing) {
            CallEndCause::Missed
        } else {
            CallEndCause::RemoteHangup
        };
        self.end_call(cause, now_ms);
        match self.dial_ctx.take() {
            Some(ctx) if state == Some(CallState::Dialing) => {
                self.respond(ctx, &[], Final::NoCarrier);
                self.finish_busy();
            }
            _ => self.urc(&["NO CARRIER".to_owned()]),
        }
        self.pump(now_ms);
        Ok(())
    }

    /// Arms faults (see [`FaultPlan`]); `replug` is the shell's to carry out.
    pub fn arm_faults(&mut self, plan: &FaultPlan, now_ms: u64) {
        self.faults.merge(plan);
        if let Some(capacity) = plan.sim_capacity {
            self.store.set_capacity(capacity);
            self.faults.sim_capacity = None;
            self.deliver_from_network();
        }
        if let Some(hang_ms) = plan.hang_ms {
            let until = now_ms + hang_ms.min(HANG_MS_MAX);
            self.hang_until_ms = Some(until);
            self.phase = Phase::Hung;
            self.line.clear();
            self.held_input.clear();
            self.schedule(until, Timer::HangEnd);
        }
    }

    /// Faults still armed.
    pub fn armed_faults(&self, now_ms: u64) -> FaultPlan {
        let mut plan = self.faults.clone();
        plan.hang_ms = self
            .hang_until_ms
            .filter(|_| matches!(self.phase, Phase::Hung))
            .map(|until| until.saturating_sub(now_ms));
        plan
    }

    /// Power-cycles the modem: settings lost, calls dropped, `RDY` after the boot time. The
    /// SIM keeps its messages.
    pub fn reboot(&mut self, now_ms: u64) {
        self.stats.reboots += 1;
        self.end_call(CallEndCause::Reboot, now_ms);
        self.dial_ctx = None;
        self.ta = TaSettings::factory(&self.settings.smsc_number);
        self.phase = Phase::Booting;
        self.line.clear();
        self.line_overflow = false;
        self.held_input.clear();
        self.queued_urcs.clear();
        self.hang_until_ms = None;
        self.timers
            .retain(|_, timer| matches!(timer, Timer::StatusReport { .. }));
        let at = now_ms + self.settings.boot_ms;
        self.schedule(at, Timer::BootDone);
    }

    /// Messages the modem sent.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.outbox.iter().cloned().collect()
    }

    /// Text the modem spoke.
    pub fn spoken(&self) -> Vec<SpokenEntry> {
        self.spoken.iter().cloned().collect()
    }

    /// Calls, oldest first.
    pub fn calls(&self) -> Vec<CallEntry> {
        self.calls.iter().cloned().collect()
    }

    /// What is on the SIM.
    pub fn stored(&self) -> Vec<StoredEntry> {
        self.store
            .iter()
            .map(|(index, slot)| StoredEntry {
                index,
                status: slot.status.name(),
                kind: pdu_kind(&slot.pdu),
                pdu_hex: hex::encode_upper(&slot.pdu),
            })
            .collect()
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        let mut stats = self.stats.clone();
        stats.network_queue_len = self.network_queue.len();
        stats.sim_used = self.store.used();
        stats.sim_capacity = self.store.capacity();
        stats
    }

    // ---- input ----

    fn pump(&mut self, now_ms: u64) {
        loop {
            match self.phase {
                Phase::Busy => return,
                Phase::Booting | Phase::Hung => {
                    self.held_input.clear();
                    return;
                }
                Phase::Command | Phase::Pdu { .. } => {}
            }
            let Some(byte) = self.held_input.pop_front() else {
                return;
            };
            if matches!(self.phase, Phase::Pdu { .. }) {
                self.pdu_byte(byte, now_ms);
            } else {
                self.command_byte(byte, now_ms);
            }
        }
    }

    fn command_byte(&mut self, byte: u8, now_ms: u64) {
        if self.ta.echo {
            self.write_out(&[byte]);
        }
        match byte {
            CR => {
                let line = std::mem::take(&mut self.line);
                let overflow = std::mem::take(&mut self.line_overflow);
                self.execute_line(&line, overflow, now_ms);
            }
            LF => {}
            BACKSPACE => {
                self.line.pop();
            }
            _ if self.line.len() >= COMMAND_LINE_OCTETS_MAX => self.line_overflow = true,
            _ => self.line.push(byte),
        }
    }

    fn pdu_byte(&mut self, byte: u8, now_ms: u64) {
        if self.ta.echo {
            self.write_out(&[byte]);
        }
        let Phase::Pdu {
            declared,
            hex: text,
            ctx,
        } = &mut self.phase
        else {
            return;
        };
        match byte {
            CTRL_Z => {
                let (declared, text, ctx) = (*declared, std::mem::take(text), *ctx);
                self.phase = Phase::Command;
                self.submit(declared, &text, ctx, now_ms);
            }
            ESC => {
                let ctx = *ctx;
                self.phase = Phase::Command;
                self.respond(ctx, &[], Final::Ok);
                self.flush_urcs();
            }
            CR | LF => {}
            _ if text.len() < 2 * (*declared + 12) + 2 => text.push(byte),
            _ => {}
        }
    }

    fn execute_line(&mut self, raw: &[u8], overflow: bool, now_ms: u64) {
        let text = String::from_utf8_lossy(raw);
        let Some(start) = find_at(&text) else {
            return;
        };
        let line = text[start..].trim_end().to_owned();
        // Every command this modem knows is ASCII; anything else cannot be one of them (and
        // is not sliced through below).
        let overflow = overflow || !line.is_ascii();
        let ctx = Ctx {
            drop: self.faults.take_drop(&line),
            garbage: self.faults.take_garbage(),
        };
        self.executing = true;
        let mut info = Vec::new();
        let outcome = if overflow {
            Step::Fail(ErrorKind::Plain)
        } else {
            self.run_line(&line[2..], ctx, now_ms, &mut info)
        };
        match outcome {
            Step::Next => self.respond(ctx, &info, Final::Ok),
            Step::Fail(kind) => self.respond(ctx, &info, Final::Error(kind)),
            Step::Final(result) => self.respond(ctx, &info, result),
            Step::Prompt(declared) => {
                self.write_out(b"\r\n> ");
                self.phase = Phase::Pdu {
                    declared,
                    hex: Vec::new(),
                    ctx,
                };
            }
            Step::Deferred => self.phase = Phase::Busy,
        }
        self.executing = false;
        if std::mem::take(&mut self.reboot_after_response) {
            self.reboot(now_ms);
            return;
        }
        self.deliver_from_network();
        if matches!(self.phase, Phase::Command) {
            self.flush_urcs();
        }
    }

    /// Runs the commands of one line (after `AT`) in order, stopping at the first that does
    /// not simply succeed.
    fn run_line(&mut self, body: &str, ctx: Ctx, now_ms: u64, info: &mut Vec<String>) -> Step {
        if body.starts_with('/') {
            return Step::Next;
        }
        let mut rest = body.trim_start();
        while !rest.is_empty() {
            let (command, remaining) = next_command(rest);
            let step = self.run_command(command, ctx, now_ms, info);
            if step != Step::Next {
                return step;
            }
            rest = remaining.trim_start();
        }
        Step::Next
    }

    fn run_command(
        &mut self,
        command: &str,
        ctx: Ctx,
        now_ms: u64,
        info: &mut Vec<String>,
    ) -> Step {
        let Some(first) = command.chars().next() else {
            return Step::Next;
        };
        match first {
            '+' | '*' | '^' | '$' => {
                let (name, op) = split_extended(command);
                self.extended(&name, op, now_ms, info)
            }
            'D' | 'd' => self.dial(&command[1..], ctx, now_ms),
            _ => self.basic(command, now_ms, info),
        }
    }

    fn basic(&mut self, command: &str, now_ms: u64, info: &mut Vec<String>) -> Step {
        let upper = command.to_ascii_uppercase();
        let (name, value) = if let Some(rest) = upper.strip_prefix('&') {
            let split = rest.len().min(1);
            (format!("&{}", &rest[..split]), rest[split..].to_owned())
        } else {
            let split = upper.len().min(1);
            (upper[..split].to_owned(), upper[split..].to_owned())
        };
        let number = if value.is_empty() {
            Some(0)
        } else {
            value.parse::<u32>().ok()
        };
        match name.as_str() {
            "E" => match number {
                Some(0) => self.ta.echo = false,
                Some(1) => self.ta.echo = true,
                _ => return Step::Fail(ErrorKind::Plain),
            },
            "V" | "Q" | "X" | "L" | "M" | "&D" | "&C" | "&K" | "&W" => {}
            "Z" | "&F" => self.ta = TaSettings::factory(&self.settings.smsc_number),
            "I" => info.push(format!(
                "{} R14.18",
                self.settings.identity.model.trim_start_matches("SIMCOM_")
            )),
            "H" => {
                self.end_call(CallEndCause::LocalHangup, now_ms);
            }
            "A" => return self.answer(now_ms),
            "S" => {
                if value.ends_with('?') {
                    info.push("000".to_owned());
                }
            }
            _ => return Step::Fail(ErrorKind::Plain),
        }
        Step::Next
    }

    // ---- extended commands ----

    fn extended(&mut self, name: &str, op: Op<'_>, now_ms: u64, info: &mut Vec<String>) -> Step {
        let identity = self.settings.identity.clone();
        let fixed = |info: &mut Vec<String>, value: &str, op: Op<'_>| match op {
            Op::Exec => {
                info.push(value.to_owned());
                Step::Next
            }
            Op::Test => Step::Next,
            _ => Step::Fail(ErrorKind::Plain),
        };
        match name {
            "+CGMI" | "+GMI" => fixed(info, &identity.manufacturer, op),
            "+CGMM" | "+GMM" => fixed(info, &identity.model, op),
            "+CGMR" | "+GMR" => fixed(info, &identity.revision, op),
            "+CGSN" | "+GSN" => fixed(info, &identity.imei, op),
            "+CIMI" => fixed(info, &identity.imsi, op),
            "+CCID" => fixed(info, &identity.iccid, op),
            "+GCAP" => fixed(info, "+GCAP: +CGSM", op),
            "+CBC" => fixed(info, "+CBC: 0,95,4120", op),
            "+CMEE" => self.numeric_setting(op, info, "+CMEE", 2, "(0-2)", |ta| &mut ta.error_mode),
            "+CREG" => match op {
                Op::Read => {
                    let status = if self.ta.creg == 2 {
                        format!("+CREG: {},1,\"1A2B\",\"0C3D\"", self.ta.creg)
                    } else {
                        format!("+CREG: {},1", self.ta.creg)
                    };
                    info.push(status);
                    Step::Next
                }
                _ => self.numeric_setting(op, info, "+CREG", 2, "(0-2)", |ta| &mut ta.creg),
            },
            "+CMGF" => match op {
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([mode]) if mode.number() == Some(0) => {
                        self.ta.pdu_mode = true;
                        Step::Next
                    }
                    Some([mode]) if mode.number() == Some(1) => {
                        self.ta.pdu_mode = false;
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Plain),
                },
                Op::Read => {
                    info.push(format!("+CMGF: {}", u8::from(!self.ta.pdu_mode)));
                    Step::Next
                }
                Op::Test => {
                    info.push("+CMGF: (0,1)".to_owned());
                    Step::Next
                }
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CSCS" => match op {
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([charset]) if CHARSETS.contains(&charset.text.as_str()) => {
                        self.ta.charset = charset.text.clone();
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Cme(4)),
                },
                Op::Read => {
                    info.push(format!("+CSCS: \"{}\"", self.ta.charset));
                    Step::Next
                }
                Op::Test => {
                    let list: Vec<String> = CHARSETS.iter().map(|c| format!("\"{c}\"")).collect();
                    info.push(format!("+CSCS: ({})", list.join(",")));
                    Step::Next
                }
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CNMI" => self.cnmi(op, info),
            "+CPMS" => self.cpms(op, info),
            "+CMGL" => self.cmgl(op, info),
            "+CMGR" => self.cmgr(op, info),
            "+CMGD" => self.cmgd(op, info),
            "+CMGS" => match op {
                Op::Test => Step::Next,
                Op::Set(_) if !self.ta.pdu_mode => Step::Fail(ErrorKind::Cms(302)),
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([length]) => match length.number() {
                        Some(length @ 7..=164) => Step::Prompt(length as usize),
                        _ => Step::Fail(ErrorKind::Cms(304)),
                    },
                    _ => Step::Fail(ErrorKind::Cms(304)),
                },
                _ => Step::Fail(ErrorKind::Plain),
            },
            "+CSCA" => match op {
                Op::Read => {
                    let kind = if self.ta.smsc.starts_with('+') {
                        145
                    } else {
                        129
                    };
                    info.push(format!("+CSCA: \"{}\",{kind}", self.ta.smsc));
                    Step::Next
                }
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([number, ..]) if !number.text.is_empty() => {
                        self.ta.smsc = number.text.clone();
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Cms(304)),
                },
                Op::Test => Step::Next,
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CSMS" => match op {
                Op::Read => {
                    info.push("+CSMS: 0,1,1,1".to_owned());
                    Step::Next
                }
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([service]) if matches!(service.number(), Some(0 | 1)) => {
                        info.push("+CSMS: 1,1,1".to_owned());
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Cms(303)),
                },
                Op::Test => {
                    info.push("+CSMS: (0,1)".to_owned());
                    Step::Next
                }
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CNMA" => Step::Fail(ErrorKind::Cms(340)),
            "+CSQ" => match op {
                Op::Exec => {
                    info.push(format!("+CSQ: {},0", self.settings.signal_rssi.min(31)));
                    Step::Next
                }
                Op::Test => {
                    info.push("+CSQ: (0-31,99),(0-7,99)".to_owned());
                    Step::Next
                }
                _ => Step::Fail(ErrorKind::Plain),
            },
            "+COPS" => match op {
                Op::Read => {
                    info.push(format!("+COPS: 0,0,\"{}\"", self.settings.operator_name));
                    Step::Next
                }
                Op::Set(_) => Step::Next,
                Op::Test => {
                    info.push(format!(
                        "+COPS: (2,\"{}\",\"{}\",\"40445\"),,(0-4),(0-2)",
                        self.settings.operator_name, self.settings.operator_name
                    ));
                    Step::Next
                }
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CPIN" => match op {
                Op::Read => {
                    info.push("+CPIN: READY".to_owned());
                    Step::Next
                }
                Op::Test => Step::Next,
                _ => Step::Fail(ErrorKind::Cme(3)),
            },
            "+CFUN" => match op {
                Op::Read => {
                    info.push("+CFUN: 1".to_owned());
                    Step::Next
                }
                Op::Test => {
                    info.push("+CFUN: (0,1,4),(0,1)".to_owned());
                    Step::Next
                }
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([level, reset])
                        if reset.number() == Some(1) && level.number().is_some() =>
                    {
                        self.reboot_after_response = true;
                        Step::Next
                    }
                    Some([level, ..]) if matches!(level.number(), Some(0 | 1 | 4)) => Step::Next,
                    _ => Step::Fail(ErrorKind::Cme(50)),
                },
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+CLIP" => match op {
                Op::Read => {
                    info.push(format!("+CLIP: {},1", u8::from(self.ta.clip)));
                    Step::Next
                }
                _ => self.flag_setting(op, info, "+CLIP", |ta| &mut ta.clip),
            },
            "+COLP" => match op {
                Op::Read => {
                    info.push(format!("+COLP: {},1", u8::from(self.ta.colp)));
                    Step::Next
                }
                _ => self.flag_setting(op, info, "+COLP", |ta| &mut ta.colp),
            },
            "+DDET" => match op {
                Op::Set(args) => match parse_args(args).as_deref() {
                    Some([mode, ..]) if matches!(mode.number(), Some(0 | 1)) => {
                        self.ta.ddet = mode.number() == Some(1);
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Plain),
                },
                Op::Read => {
                    info.push(format!("+DDET: {},0,0,0", u8::from(self.ta.ddet)));
                    Step::Next
                }
                Op::Test => Step::Next,
                Op::Exec => Step::Fail(ErrorKind::Plain),
            },
            "+QTONEDET" => self.flag_setting(op, info, "+QTONEDET", |ta| &mut ta.qtonedet),
            "+CTTS" => self.tts(op, "AT+CTTS", "+CTTS: 0", now_ms, info),
            "+QTTS" => self.tts(op, "AT+QTTS", "+QTTS: 0", now_ms, info),
            "+CHUP" => {
                self.end_call(CallEndCause::LocalHangup, now_ms);
                Step::Next
            }
            "+CLCC" => {
                if op == Op::Exec
                    && let Some(call) = self.current_call.and_then(|id| self.call_ref(id))
                {
                    let (direction, status) = match call.state {
                        CallState::Active => (call_direction_code(call.direction), 0),
                        CallState::Dialing => (0, 2),
                        CallState::Ringing => (1, 4),
                        CallState::Ended => (call_direction_code(call.direction), 6),
                    };
                    let kind = if call.number.starts_with('+') {
                        145
                    } else {
                        129
                    };
                    info.push(format!(
                        "+CLCC: 1,{direction},{status},0,0,\"{}\",{kind}",
                        call.number
                    ));
                }
                Step::Next
            }
            "+VTS" => Step::Next,
            "+CCLK" if op == Op::Read => {
                let Some(stamp) = scts(now_ms) else {
                    return Step::Fail(ErrorKind::Plain);
                };
                info.push(format!(
                    "+CCLK: \"{:02}/{:02}/{:02},{:02}:{:02}:{:02}+{:02}\"",
                    stamp.year(),
                    stamp.month(),
                    stamp.day(),
                    stamp.hour(),
                    stamp.minute(),
                    stamp.second(),
                    stamp.utc_offset_quarter_hours()
                ));
                Step::Next
            }
            _ => Step::Fail(ErrorKind::Plain),
        }
    }

    fn numeric_setting(
        &mut self,
        op: Op<'_>,
        info: &mut Vec<String>,
        prefix: &str,
        max: u32,
        range: &str,
        field: impl Fn(&mut TaSettings) -> &mut u8,
    ) -> Step {
        match op {
            Op::Set(args) => match parse_args(args).as_deref() {
                Some([value]) => match value.number() {
                    Some(value) if value <= max => {
                        *field(&mut self.ta) = value as u8;
                        Step::Next
                    }
                    _ => Step::Fail(ErrorKind::Plain),
                },
                _ => Step::Fail(ErrorKind::Plain),
            },
            Op::Read => {
                info.push(format!("{prefix}: {}", *field(&mut self.ta)));
                Step::Next
            }
            Op::Test => {
                info.push(format!("{prefix}: {range}"));
                Step::Next
            }
            Op::Exec => Step::Fail(ErrorKind::Plain),
        }
    }

    fn flag_setting(
        &mut self,
        op: Op<'_>,
        info: &mut Vec<String>,
        prefix: &str,
        field: impl Fn(&mut TaSettings) -> &mut bool,
    ) -> Step {
        match op {
            Op::Set(args) => match parse_args(args).as_deref() {
                Some([value]) if matches!(value.number(), Some(0 | 1)) => {
                    *field(&mut self.ta) = value.number() == Some(1);
                    Step::Next
                }
                _ => Step::Fail(ErrorKind::Plain),
            },
            Op::Read => {
                info.push(format!("{prefix}: {}", u8::from(*field(&mut self.ta))));
                Step::Next
            }
            Op::Test => {
                info.push(format!("{prefix}: (0,1)"));
                Step::Next
            }
            Op::Exec => Step::Fail(ErrorKind::Plain),
        }
    }

    fn cnmi(&mut self, op: Op<'_>, info: &mut Vec<String>) -> Step {
        match op {
            Op::Set(args) => {
                let Some(args) = parse_args(args) else {
                    return Step::Fail(ErrorKind::Plain);
                };
                const MAXIMA: [u32; 5] = [3, 3, 3, 2, 1];
                if args.is_empty() || args.len() > 5 {
                    return Step::Fail(ErrorKind::Plain);
                }
                let mut cnmi = self.ta.cnmi;
                for (position, arg) in args.iter().enumerate() {
                    if arg.text.is_empty() && !arg.quoted {
                        continue;
                    }
                    match arg.number() {
                        Some(value) if value <= MAXIMA[position] => cnmi[position] = value as u8,
                        _ => return Step::Fail(ErrorKind::Cms(303)),
                    }
                }
                self.ta.cnmi = cnmi;
                Step::Next
            }
            Op::Read => {
                let [mode, mt, bm, ds, bfr] = self.ta.cnmi;
                info.push(format!("+CNMI: {mode},{mt},{bm},{ds},{bfr}"));
                Step::Next
            }
            Op::Test => {
                info.push("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)".to_owned());
                Step::Next
            }
            Op::Exec => Step::Fail(ErrorKind::Plain),
        }
    }

    fn cpms(&mut self, op: Op<'_>, info: &mut Vec<String>) -> Step {
        let (used, total) = (self.store.used(), self.store.capacity());
        match op {
            Op::Set(args) => match parse_args(args) {
                Some(args) if !args.is_empty() && args.len() <= 3 => {
                    if args.iter().all(|arg| arg.text.eq_ignore_ascii_case("SM")) {
                        info.push(format!(
                            "+CPMS: {used},{total},{used},{total},{used},{total}"
                        ));
                        Step::Next
                    } else {
                        Step::Fail(ErrorKind::Cms(302))
                    }
                }
                _ => Step::Fail(ErrorKind::Cms(302)),
            },
            Op::Read => {
                info.push(format!(
                    "+CPMS: \"SM\",{used},{total},\"SM\",{used},{total},\"SM\",{used},{total}"
                ));
                Step::Next
            }
            Op::Test => {
                info.push("+CPMS: (\"SM\"),(\"SM\"),(\"SM\")".to_owned());
                Step::Next
            }
            Op::Exec => Step::Fail(ErrorKind::Plain),
        }
    }

    fn cmgl(&mut self, op: Op<'_>, info: &mut Vec<String>) -> Step {
        if !self.ta.pdu_mode && op != Op::Test {
            return Step::Fail(ErrorKind::Cms(302));
        }
        let filter = match op {
            Op::Exec => 0,
            Op::Set(args) => match parse_args(args).as_deref() {
                Some([stat]) => match stat.number() {
                    Some(stat @ 0..=4) => stat as u8,
                    _ => return Step::Fail(ErrorKind::Cms(302)),
                },
                _ => return Step::Fail(ErrorKind::Cms(302)),
            },
            Op::Test => {
                info.push("+CMGL: (0-4)".to_owned());
                return Step::Next;
            }
            Op::Read => return Step::Fail(ErrorKind::Plain),
        };
        let mut listed = Vec::new();
        for (index, slot) in self.store.iter() {
            if filter == 4 || slot.status.code() == filter {
                info.push(format!(
                    "+CMGL: {index},{},\"\",{}",
                    slot.status.code(),
                    slot.tpdu_length
                ));
                info.push(hex::encode_upper(&slot.pdu));
                listed.push(index);
            }
        }
        for index in listed {
            self.store.mark_read(index);
        }
        Step::Next
    }

    fn cmgr(&mut self, op: Op<'_>, info: &mut Vec<String>) -> Step {
        match op {
            Op::Test => Step::Next,
            Op::Set(_) if !self.ta.pdu_mode => Step::Fail(ErrorKind::Cms(302)),
            Op::Set(args) => {
                let index = match parse_args(args).as_deref() {
                    Some([index, ..]) => index.number(),
                    _ => None,
                };
                let Some(index) = index
                    .and_then(|index| u16::try_from(index).ok())
                    .filter(|index| (1..=self.store.index_max()).contains(index))
                else {
                    return Step::Fail(ErrorKind::Cms(321));
                };
                if let Some(slot) = self.store.get(index) {
                    info.push(format!(
                        "+CMGR: {},\"\",{}",
                        slot.status.code(),
                        slot.tpdu_length
                    ));
                    info.push(hex::encode_upper(&slot.pdu));
                    self.store.mark_read(index);
                }
                Step::Next
            }
            _ => Step::Fail(ErrorKind::Plain),
        }
    }

    fn cmgd(&mut self, op: Op<'_>, info: &mut Vec<String>) -> Step {
        match op {
            Op::Test => {
                info.push(format!("+CMGD: (1-{}),(0-4)", self.store.capacity()));
                Step::Next
            }
            Op::Set(args) => {
                let Some(args) = parse_args(args) else {
                    return Step::Fail(ErrorKind::Cms(321));
                };
                let flag = args.get(1).and_then(Arg::number).unwrap_or(0);
                if flag > 4 {
                    return Step::Fail(ErrorKind::Cms(302));
                }
                if flag > 0 {
                    self.store.remove_by_flag(flag as u8);
                    return Step::Next;
                }
                let index = args
                    .first()
                    .and_then(Arg::number)
                    .and_then(|index| u16::try_from(index).ok())
                    .filter(|index| (1..=self.store.index_max()).contains(index));
                match index {
                    Some(index) => {
                        self.store.remove(index);
                        Step::Next
                    }
                    None => Step::Fail(ErrorKind::Cms(321)),
                }
            }
            _ => Step::Fail(ErrorKind::Plain),
        }
    }

    fn tts(
        &mut self,
        op: Op<'_>,
        command: &str,
        done_urc: &'static str,
        now_ms: u64,
        info: &mut Vec<String>,
    ) -> Step {
        match op {
            Op::Test => {
                info.push(format!("{}: (0-2),\"text\"", &command[2..]));
                Step::Next
            }
            Op::Set(args) => {
                let Some(args) = parse_args(args) else {
                    return Step::Fail(ErrorKind::Cme(50));
                };
                let text = match args.as_slice() {
                    [mode] if mode.number() == Some(0) => return Step::Next,
                    [mode, text] if mode.number() == Some(1) => decode_ucs2_hex(&text.text),
                    [mode, text] if mode.number() == Some(2) => Some(text.text.clone()),
                    _ => None,
                };
                let Some(text) = text.filter(|text| !text.is_empty()) else {
                    return Step::Fail(ErrorKind::Cme(50));
                };
                let call_id = self.current_call.filter(|id| {
                    self.call_ref(*id)
                        .is_some_and(|call| call.state == CallState::Active)
                });
                let duration = self.settings.tts_ms_per_char * text.chars().count() as u64;
                push_bounded(
                    &mut self.spoken,
                    SpokenEntry {
                        text,
                        command: command.to_owned(),
                        call_id,
                        spoken_at_unix_ms: now_ms,
                    },
                );
                self.schedule(now_ms + duration, Timer::TtsDone { urc: done_urc });
                Step::Next
            }
            _ => Step::Fail(ErrorKind::Plain),
        }
    }

    // ---- calls ----

    fn dial(&mut self, target: &str, ctx: Ctx, now_ms: u64) -> Step {
        let target = target.trim();
        let Some(number) = target.strip_suffix(';') else {
            return Step::Final(Final::NoCarrier);
        };
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Step::Fail(ErrorKind::Plain);
        }
        if self.current_call.is_some() {
            return Step::Fail(ErrorKind::Plain);
        }
        let id = self.start_call(CallDirection::Out, number, CallState::Dialing, now_ms);
        if self.faults.busy_dials > 0 {
            self.faults.busy_dials -= 1;
            self.end_call(CallEndCause::Busy, now_ms);
            return Step::Final(Final::Busy);
        }
        let at = now_ms + self.settings.dial_answer_ms;
        self.schedule(at, Timer::DialAnswered { call_id: id });
        if self.ta.colp {
            self.dial_ctx = Some(ctx);
            Step::Deferred
        } else {
            Step::Next
        }
    }

    fn answer(&mut self, now_ms: u64) -> Step {
        let Some(id) = self.current_call else {
            return Step::Final(Final::NoCarrier);
        };
        match self.call_mut(id) {
            Some(call) if call.state == CallState::Ringing => {
                call.state = CallState::Active;
                call.answered_at_unix_ms = Some(now_ms);
                Step::Next
            }
            _ => Step::Final(Final::NoCarrier),
        }
    }

    fn start_call(
        &mut self,
        direction: CallDirection,
        number: &str,
        state: CallState,
        now_ms: u64,
    ) -> u64 {
        let id = self.next_call_id;
        self.next_call_id += 1;
        push_bounded(
            &mut self.calls,
            CallEntry {
                id,
                direction,
                number: number.to_owned(),
                state,
                started_at_unix_ms: now_ms,
                answered_at_unix_ms: None,
                ended_at_unix_ms: None,
                end_cause: None,
                keys_pressed: String::new(),
            },
        );
        self.current_call = Some(id);
        id
    }

    fn end_call(&mut self, cause: CallEndCause, now_ms: u64) {
        let Some(id) = self.current_call.take() else {
            return;
        };
        if let Some(call) = self.call_mut(id) {
            call.state = CallState::Ended;
            call.ended_at_unix_ms = Some(now_ms);
            call.end_cause = Some(cause);
        }
    }

    fn ring(&mut self, id: u64) {
        let number = self.call_ref(id).map(|call| call.number.clone());
        let mut lines = vec!["RING".to_owned()];
        if self.ta.clip
            && let Some(number) = number
        {
            let kind = if number.starts_with('+') { 145 } else { 129 };
            lines.push(format!("+CLIP: \"{number}\",{kind},\"\",0,\"\",0"));
        }
        self.urc(&lines);
    }

    fn call_mut(&mut self, id: u64) -> Option<&mut CallEntry> {
        self.calls.iter_mut().rev().find(|call| call.id == id)
    }

    fn call_ref(&self, id: u64) -> Option<&CallEntry> {
        self.calls.iter().rev().find(|call| call.id == id)
    }

    // ---- SMS ----

    fn submit(&mut self, declared: usize, text: &[u8], ctx: Ctx, now_ms: u64) {
        let pdu = hex::decode(text)
            .ok()
            .and_then(|bytes| {
                let encoded = EncodedPdu::with_smsc(bytes.clone()).ok()?;
                (encoded.tpdu_length() == declared).then_some(bytes)
            })
            .and_then(|bytes| OutgoingPdu::decode(&bytes).ok());
        let Some(pdu) = pdu else {
            self.respond(ctx, &[], Final::Error(ErrorKind::Cms(304)));
            self.flush_urcs();
            return;
        };
        let reference = self.next_message_reference;
        self.next_message_reference = reference.wrapping_add(1);
        let result = if self.faults.take_reset_mid_send() {
            SendResult::Reset
        } else if let Some(code) = self.faults.take_cms_error() {
            SendResult::CmsError(code)
        } else {
            SendResult::Sent
        };
        self.stats.first_send_started_unix_ms.get_or_insert(now_ms);
        self.phase = Phase::Busy;
        let at = now_ms + self.settings.cmgs_delay_ms;
        self.schedule(
            at,
            Timer::SendDone {
                reference,
                pdu: Box::new(pdu),
                ctx,
                started_ms: now_ms,
                result,
            },
        );
    }

    fn send_done(
        &mut self,
        reference: u8,
        pdu: OutgoingPdu,
        ctx: Ctx,
        started_ms: u64,
        result: SendResult,
        at_ms: u64,
    ) {
        self.stats.send_busy_ms_total += at_ms.saturating_sub(started_ms);
        self.stats.last_send_finished_unix_ms = Some(at_ms);
        match result {
            SendResult::Reset => self.reboot(at_ms),
            SendResult::CmsError(code) => {
                self.respond(ctx, &[], Final::Error(ErrorKind::Cms(code)));
                self.finish_busy();
            }
            SendResult::Sent => {
                self.stats.parts_sent += 1;
                let submit = pdu.submit;
                if submit.status_report_request {
                    let failed = self.faults.take_delivery_failure();
                    self.schedule(
                        at_ms + self.settings.status_report_delay_ms,
                        Timer::StatusReport {
                            reference,
                            recipient: submit.destination.clone(),
                            submitted_ms: at_ms,
                            failed,
                        },
                    );
                }
                self.record_sent(reference, &submit, at_ms);
                self.respond(ctx, &[format!("+CMGS: {reference}")], Final::Ok);
                self.finish_busy();
            }
        }
    }

    fn record_sent(
        &mut self,
        reference: u8,
        submit: &farmco_modem_codec::pdu::tpdu::SmsSubmit,
        at_ms: u64,
    ) {
        let concatenation = submit
            .user_data
            .header
            .as_ref()
            .and_then(|header| header.concatenation_info())
            .filter(|info| info.total > 1);
        let key =
            concatenation.map(|info| (submit.destination.clone(), info.reference, info.total));
        if let Some(key) = &key {
            self.outbox_pending_refs
                .entry(key.clone())
                .or_default()
                .push(reference);
        }
        let part = IncomingPart {
            originator: submit.destination.clone(),
            timestamp: None,
            user_data: submit.user_data.clone(),
        };
        let inserted = self.outbox_assembler.insert(part, at_ms);
        if let InsertOutcome::Complete(message) = inserted.outcome {
            let message_refs = match &key {
                Some(key) => self.outbox_pending_refs.remove(key).unwrap_or_default(),
                None => vec![reference],
            };
            push_bounded(
                &mut self.outbox,
                OutboxEntry {
                    to: message.originator.to_display_string(),
                    text: message.text,
                    parts: message.part_count,
                    message_refs,
                    status_report_requested: submit.status_report_request,
                    sent_at_unix_ms: at_ms,
                },
            );
        }
    }

    fn status_report(
        &mut self,
        reference: u8,
        recipient: Address,
        submitted_ms: u64,
        failed: bool,
        at_ms: u64,
    ) {
        let (Some(timestamp), Some(discharge_time)) = (scts(submitted_ms), scts(at_ms)) else {
            return;
        };
        let report = SmsStatusReport {
            more_messages_waiting: false,
            loop_prevention: false,
            reports_on_command: false,
            message_reference: reference,
            recipient,
            timestamp,
            discharge_time,
            status: DeliveryStatus(if failed { STATUS_FAILED } else { 0 }),
            protocol_identifier: None,
            data_coding: None,
            user_data: None,
        };
        let smsc = Address::from_dialled(&self.settings.smsc_number).ok();
        let Ok(pdu) = (IncomingPdu {
            smsc,
            tpdu: IncomingTpdu::StatusReport(report),
        })
        .encode() else {
            return;
        };
        if self.network_queue.len() < NETWORK_QUEUE_MAX {
            self.network_queue.push_back(NetworkMessage {
                kind: NetworkKind::Report,
                tpdu_length: pdu.tpdu_length(),
                pdu: pdu.bytes().to_vec(),
            });
        }
        self.deliver_from_network();
    }

    /// Moves what the network holds onto the SIM (or straight to the host) while there is
    /// room and the modem is up; returns the indices filled.
    fn deliver_from_network(&mut self) -> Vec<u16> {
        let mut stored = Vec::new();
        if matches!(self.phase, Phase::Booting | Phase::Hung) {
            return stored;
        }
        while let Some(message) = self.network_queue.front() {
            let [_, mt, _, ds, _] = self.ta.cnmi;
            let (route_direct, store, indication) = match message.kind {
                NetworkKind::Deliver => (mt >= 2, mt < 2, (mt == 1).then_some("+CMTI")),
                NetworkKind::Report => (ds == 1, ds == 2, (ds == 2).then_some("+CDSI")),
            };
            if route_direct {
                let prefix = match message.kind {
                    NetworkKind::Deliver => format!("+CMT: \"\",{}", message.tpdu_length),
                    NetworkKind::Report => format!("+CDS: {}", message.tpdu_length),
                };
                let lines = [prefix, hex::encode_upper(&message.pdu)];
                self.network_queue.pop_front();
                self.urc(&lines);
                continue;
            }
            if !store {
                // Reports nobody asked to see (AT+CNMI <ds>=0) are discarded, as by a modem.
                self.network_queue.pop_front();
                continue;
            }
            let status = SlotStatus::ReceivedUnread;
            let Some(index) = self
                .store
                .insert(status, message.pdu.clone(), message.tpdu_length)
            else {
                break;
            };
            self.network_queue.pop_front();
            self.stats.stored_on_sim_total += 1;
            stored.push(index);
            if let Some(indication) = indication {
                self.urc(&[format!("{indication}: \"SM\",{index}")]);
            }
        }
        stored
    }

    // ---- timers ----

    fn schedule(&mut self, at_ms: u64, timer: Timer) {
        self.timer_sequence += 1;
        self.timers.insert((at_ms, self.timer_sequence), timer);
    }

    fn fire(&mut self, timer: Timer, at_ms: u64) {
        match timer {
            Timer::SendDone {
                reference,
                pdu,
                ctx,
                started_ms,
                result,
            } => self.send_done(reference, *pdu, ctx, started_ms, result, at_ms),
            Timer::StatusReport {
                reference,
                recipient,
                submitted_ms,
                failed,
            } => self.status_report(reference, recipient, submitted_ms, failed, at_ms),
            Timer::Ring { call_id, count } => {
                let ringing = self
                    .call_ref(call_id)
                    .is_some_and(|call| call.state == CallState::Ringing);
                if !ringing || self.current_call != Some(call_id) {
                    return;
                }
                if count >= self.settings.rings_before_missed {
                    self.end_call(CallEndCause::Missed, at_ms);
                    self.urc(&["NO CARRIER".to_owned()]);
                    return;
                }
                self.ring(call_id);
                self.schedule(
                    at_ms + self.settings.ring_interval_ms,
                    Timer::Ring {
                        call_id,
                        count: count + 1,
                    },
                );
            }
            Timer::DialAnswered { call_id } => {
                if self.current_call != Some(call_id) {
                    return;
                }
                let number = match self.call_mut(call_id) {
                    Some(call) if call.state == CallState::Dialing => {
                        call.state = CallState::Active;
                        call.answered_at_unix_ms = Some(at_ms);
                        call.number.clone()
                    }
                    _ => return,
                };
                if let Some(ctx) = self.dial_ctx.take() {
                    let kind = if number.starts_with('+') { 145 } else { 129 };
                    self.respond(
                        ctx,
                        &[format!("+COLP: \"{number}\",{kind},\"\",0,\"\"")],
                        Final::Ok,
                    );
                    self.finish_busy();
                }
            }
            Timer::TtsDone { urc } => self.urc(&[urc.to_owned()]),
            Timer::BootDone => {
                if !matches!(self.phase, Phase::Booting) {
                    return;
                }
                self.phase = Phase::Command;
                self.write_out(
                    b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n",
                );
                self.deliver_from_network();
            }
            Timer::HangEnd => {
                if matches!(self.phase, Phase::Hung)
                    && self.hang_until_ms.is_some_and(|until| until <= at_ms)
                {
                    self.hang_until_ms = None;
                    self.phase = Phase::Command;
                    self.deliver_from_network();
                }
            }
        }
    }

    // ---- output ----

    fn finish_busy(&mut self) {
        if matches!(self.phase, Phase::Busy) {
            self.phase = Phase::Command;
            self.deliver_from_network();
            self.flush_urcs();
        }
    }

    fn respond(&mut self, ctx: Ctx, lines: &[String], result: Final) {
        if ctx.drop {
            return;
        }
        let mut bytes = Vec::new();
        if ctx.garbage {
            bytes.extend_from_slice(GARBAGE);
            bytes.extend_from_slice(b"\r\n");
        }
        if !lines.is_empty() {
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(lines.join("\r\n").as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(self.final_text(result).as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_out(&bytes);
    }

    fn final_text(&self, result: Final) -> String {
        match result {
            Final::Ok => "OK".to_owned(),
            Final::NoCarrier => "NO CARRIER".to_owned(),
            Final::Busy => "BUSY".to_owned(),
            Final::Error(ErrorKind::Plain) => "ERROR".to_owned(),
            Final::Error(ErrorKind::Cme(code)) => match self.ta.error_mode {
                0 => "ERROR".to_owned(),
                1 => format!("+CME ERROR: {code}"),
                _ => format!("+CME ERROR: {}", cme_text(code)),
            },
            Final::Error(ErrorKind::Cms(code)) => match self.ta.error_mode {
                0 => "ERROR".to_owned(),
                1 => format!("+CMS ERROR: {code}"),
                _ => format!("+CMS ERROR: {}", cms_text(code)),
            },
        }
    }

    /// An unsolicited result code (one or more lines): out now, or held until the running
    /// command finishes.
    fn urc(&mut self, lines: &[String]) {
        let mut bytes = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        // A PDU line follows its header directly, without a blank line in between.
        if let [header, pdu] = lines
            && (header.starts_with("+CMT:") || header.starts_with("+CDS:"))
        {
            bytes = format!("\r\n{header}\r\n{pdu}\r\n").into_bytes();
        }
        match self.phase {
            Phase::Booting | Phase::Hung => {}
            Phase::Command if !self.executing => self.write_out(&bytes),
            _ => {
                if self.queued_urcs.len() >= QUEUED_URCS_MAX {
                    self.queued_urcs.pop_front();
                    self.stats.urcs_dropped += 1;
                }
                self.queued_urcs.push_back(bytes);
            }
        }
    }

    fn flush_urcs(&mut self) {
        while let Some(bytes) = self.queued_urcs.pop_front() {
            self.write_out(&bytes);
        }
    }

    fn write_out(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Booting | Phase::Hung) {
            return;
        }
        if self.output.len() + bytes.len() > OUTPUT_OCTETS_MAX {
            self.stats.output_octets_dropped += bytes.len() as u64;
            return;
        }
        self.output.extend_from_slice(bytes);
    }
}

const CHARSETS: [&str; 7] = ["IRA", "GSM", "UCS2", "HEX", "PCCP", "PCDN", "8859-1"];

fn push_bounded<T>(records: &mut VecDeque<T>, record: T) {
    if records.len() >= RECORDS_MAX {
        records.pop_front();
    }
    records.push_back(record);
}

fn call_direction_code(direction: CallDirection) -> u8 {
    match direction {
        CallDirection::Out => 0,
        CallDirection::In => 1,
    }
}

/// The SMSC timestamp for `unix_ms`; `None` only for times the field cannot hold.
fn scts(unix_ms: u64) -> Option<SmscTimestamp> {
    smsc_timestamp_ist(unix_ms)
}

fn sender_address(from: &str) -> Result<Address, SideDoorError> {
    if from.trim().is_empty() {
        return Err(SideDoorError::InvalidSender(from.to_owned()));
    }
    let digits = from.strip_prefix('+').unwrap_or(from);
    let numeric = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
    let address = if numeric {
        Address::from_dialled(from)
    } else {
        Address::alphanumeric(from)
    };
    address.map_err(|_| SideDoorError::InvalidSender(from.to_owned()))
}

fn pdu_kind(pdu: &[u8]) -> &'static str {
    match IncomingPdu::decode(pdu) {
        Ok(IncomingPdu {
            tpdu: IncomingTpdu::Deliver(_),
            ..
        }) => "deliver",
        Ok(IncomingPdu {
            tpdu: IncomingTpdu::StatusReport(_),
            ..
        }) => "status_report",
        Err(_) if OutgoingPdu::decode(pdu).is_ok() => "submit",
        Err(_) => "unknown",
    }
}

fn decode_ucs2_hex(text: &str) -> Option<String> {
    let bytes = hex::decode(text.as_bytes()).ok()?;
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Byte offset of the `AT` (or `at`) that starts a command line.
fn find_at(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(1)).find(|&position| {
        matches!(
            (bytes[position], bytes[position + 1]),
            (b'A', b'T') | (b'a', b't') | (b'A', b't') | (b'a', b'T')
        )
    })
}

/// Cuts the first command off a command line body: an extended command runs to an unquoted
/// `;`, `D` takes the rest, a basic command is a letter (or `&` and a letter) with digits,
/// and `S<n>=<v>` / `S<n>?`.
fn next_command(rest: &str) -> (&str, &str) {
    let bytes = rest.as_bytes();
    let Some(&first) = bytes.first() else {
        return ("", "");
    };
    match first {
        b'+' | b'*' | b'^' | b'$' => {
            let mut quoted = false;
            for (position, &byte) in bytes.iter().enumerate() {
                match byte {
                    b'"' => quoted = !quoted,
                    b';' if !quoted => return (&rest[..position], &rest[position + 1..]),
                    _ => {}
                }
            }
            (rest, "")
        }
        b'D' | b'd' => (rest, ""),
        b'S' | b's' => {
            let end = bytes
                .iter()
                .skip(1)
                .position(|byte| !(byte.is_ascii_digit() || matches!(byte, b'=' | b'?')))
                .map_or(bytes.len(), |position| position + 1);
            (&rest[..end], &rest[end..])
        }
        b'&' => {
            let end = bytes
                .iter()
                .skip(2)
                .position(|byte| !byte.is_ascii_digit())
                .map_or(bytes.len(), |position| position + 2)
                .min(bytes.len());
            (&rest[..end], &rest[end..])
        }
        _ => {
            let end = bytes
                .iter()
                .skip(1)
                .position(|byte| !byte.is_ascii_digit())
                .map_or(bytes.len(), |position| position + 1);
            (&rest[..end], &rest[end..])
        }
    }
}

/// Splits `+NAME=...` into its upper-case name and operation.
fn split_extended(command: &str) -> (String, Op<'_>) {
    let end = command.find(['=', '?']).unwrap_or(command.len());
    let name = command[..end].trim().to_ascii_uppercase();
    let rest = &command[end..];
    let op = if rest.is_empty() {
        Op::Exec
    } else if rest == "?" {
        Op::Read
    } else if rest == "=?" {
        Op::Test
    } else if let Some(args) = rest.strip_prefix('=') {
        Op::Set(args)
    } else {
        Op::Set(rest)
    };
    (name, op)
}

/// Splits arguments at commas outside quotes; `None` for an unterminated quote.
fn parse_args(text: &str) -> Option<Vec<Arg>> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for character in text.chars() {
        match character {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                args.push(Arg {
                    text: std::mem::take(&mut current).trim().to_owned(),
                    quoted: was_quoted,
                });
                was_quoted = false;
            }
            _ => current.push(character),
        }
    }
    if quoted {
        return None;
    }
    args.push(Arg {
        text: current.trim().to_owned(),
        quoted: was_quoted,
    });
    Some(args)
}

fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        50 => "Incorrect parameters",
        _ => "unknown",
    }
}

fn cms_text(code: u16) -> &'static str {
    match code {
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        321 => "invalid memory index",
        322 => "memory full",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        _ => "unknown error",
    }
}
