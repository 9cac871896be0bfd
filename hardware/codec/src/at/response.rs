//! Typed results, responses and unsolicited result codes, and their line parsers
//! (TS 27.007 / TS 27.005 and the SIM800 and Quectel URCs the modem profiles meet).
//!
//! Every parser checks the whole shape of a line before building a value, and returns
//! `None` for a line that does not fit; the reader turns that into a typed error event. Two
//! prefixes mean different things solicited and unsolicited (`+CREG`, `+CLIP`); their
//! parsers tell the forms apart by content, so a URC arriving in the middle of the query is
//! still recognised as one.

use std::fmt;

use super::command::StorageName;
use super::params::{Param, split_params};

/// A final result code: the end of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalResult {
    /// `OK`.
    Ok,
    /// `ERROR`.
    Error,
    /// `+CME ERROR: <err>`: equipment or network error (TS 27.007 §9.2).
    CmeError(ErrorCode),
    /// `+CMS ERROR: <err>`: message service error (TS 27.005 §3.2.5).
    CmsError(ErrorCode),
    /// `NO CARRIER` (ends a dial or answer).
    NoCarrier,
    /// `BUSY`.
    Busy,
    /// `NO ANSWER`.
    NoAnswer,
    /// `NO DIALTONE`.
    NoDialtone,
    /// `CONNECT [<text>]`.
    Connect(Option<String>),
}

impl FinalResult {
    /// True for `OK` and `CONNECT`.
    pub fn is_success(&self) -> bool {
        matches!(self, FinalResult::Ok | FinalResult::Connect(_))
    }
}

/// The `<err>` of `+CME ERROR` / `+CMS ERROR`: a number (`AT+CMEE=1`) or text (`=2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// Numeric code, e.g. 10 "SIM not inserted", 500 "unknown error".
    Numeric(u16),
    /// Verbose text.
    Text(String),
}

/// A call-progress code that arrived outside a dial: the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    /// `NO CARRIER`: the other side hung up.
    NoCarrier,
    /// `BUSY`.
    Busy,
    /// `NO ANSWER`.
    NoAnswer,
    /// `NO DIALTONE`.
    NoDialtone,
}

/// `+CSQ: <rssi>,<ber>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalQuality {
    /// 0..=31; `None` for 99 (not known).
    pub rssi: Option<u8>,
    /// 0..=7; `None` for 99 (not known).
    pub bit_error_rate: Option<u8>,
}

impl SignalQuality {
    /// The signal strength in dBm: −113 + 2 × rssi (so 0 is ≤ −113, 31 is ≥ −51).
    pub fn rssi_dbm(&self) -> Option<i16> {
        self.rssi.map(|rssi| -113 + 2 * i16::from(rssi))
    }
}

/// `<stat>` of `+CREG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    RegisteredHome,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown.
    Unknown,
    /// 5: registered, roaming.
    RegisteredRoaming,
    /// Any other value (6..=10 are LTE-era variants).
    Other(u8),
}

impl RegistrationStatus {
    fn from_code(code: u8) -> Self {
        match code {
            0 => RegistrationStatus::NotRegistered,
            1 => RegistrationStatus::RegisteredHome,
            2 => RegistrationStatus::Searching,
            3 => RegistrationStatus::Denied,
            4 => RegistrationStatus::Unknown,
            5 => RegistrationStatus::RegisteredRoaming,
            other => RegistrationStatus::Other(other),
        }
    }

    /// True when the modem can send and receive SMS.
    pub fn is_registered(self) -> bool {
        matches!(
            self,
            RegistrationStatus::RegisteredHome | RegistrationStatus::RegisteredRoaming
        )
    }
}

/// Location area code and cell ID of `+CREG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellLocation {
    /// `<lac>` (hex on the wire).
    pub location_area_code: u32,
    /// `<ci>` (hex on the wire).
    pub cell_id: u32,
}

/// `+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`: the answer to `AT+CREG?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationReport {
    /// `<n>`: the URC mode set with `AT+CREG=<n>`.
    pub reporting: u8,
    /// `<stat>`.
    pub status: RegistrationStatus,
    /// `<lac>,<ci>` when present.
    pub location: Option<CellLocation>,
}

/// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]`: the unsolicited form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationUpdate {
    /// `<stat>`.
    pub status: RegistrationStatus,
    /// `<lac>,<ci>` when present.
    pub location: Option<CellLocation>,
}

/// `+COPS: <mode>[,<format>,<oper>[,<AcT>]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSelection {
    /// `<mode>`: 0 automatic, 1 manual, 2 deregistered.
    pub mode: u8,
    /// `<format>`: 0 long name, 1 short name, 2 numeric.
    pub format: Option<u8>,
    /// `<oper>`, e.g. `"Jio 4G"` or `"40486"`.
    pub operator: Option<String>,
    /// `<AcT>`: 0 GSM, 2 UTRAN, 7 E-UTRAN, ...
    pub access_technology: Option<u8>,
}

/// One storage of `+CPMS`: name (in the query form) and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUsage {
    /// The storage; absent in the answer to `AT+CPMS=...`.
    pub storage: Option<StorageName>,
    /// Messages stored.
    pub used: u16,
    /// Capacity.
    pub total: u16,
}

/// `+CPMS:` with one to three storages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStorageStatus {
    /// `<mem1>`: read and delete.
    pub read_delete: StorageUsage,
    /// `<mem2>`: write and send.
    pub write_send: Option<StorageUsage>,
    /// `<mem3>`: receive.
    pub receive: Option<StorageUsage>,
}

/// `<stat>` of a stored message (PDU-mode numbers; text-mode words are read too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// 0 / `"REC UNREAD"`.
    ReceivedUnread,
    /// 1 / `"REC READ"`.
    ReceivedRead,
    /// 2 / `"STO UNSENT"`.
    StoredUnsent,
    /// 3 / `"STO SENT"`.
    StoredSent,
}

impl MessageStatus {
    fn parse(param: Param<'_>) -> Option<Self> {
        if let Some(code) = param.number::<u8>() {
            return match code {
                0 => Some(MessageStatus::ReceivedUnread),
                1 => Some(MessageStatus::ReceivedRead),
                2 => Some(MessageStatus::StoredUnsent),
                3 => Some(MessageStatus::StoredSent),
                _ => None,
            };
        }
        match param.text()? {
            "REC UNREAD" => Some(MessageStatus::ReceivedUnread),
            "REC READ" => Some(MessageStatus::ReceivedRead),
            "STO UNSENT" => Some(MessageStatus::StoredUnsent),
            "STO SENT" => Some(MessageStatus::StoredSent),
            _ => None,
        }
    }

    /// True for messages the network delivered (decode with `IncomingPdu`); false for
    /// stored outgoing ones (decode with `OutgoingPdu`).
    pub fn is_received(self) -> bool {
        matches!(
            self,
            MessageStatus::ReceivedUnread | MessageStatus::ReceivedRead
        )
    }
}

/// The octets of a PDU line. Debug prints hex, as the modem does.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PduBytes(pub Vec<u8>);

impl fmt::Debug for PduBytes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "PduBytes({})", crate::hex::encode_upper(&self.0))
    }
}

/// One entry of `+CMGL:` with its PDU line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    /// `<index>` in the storage, for `AT+CMGR` / `AT+CMGD`.
    pub index: u16,
    /// `<stat>`.
    pub status: MessageStatus,
    /// `<alpha>`: the phonebook name, rarely set.
    pub alpha: Option<String>,
    /// `<length>`: TPDU octets (the PDU less its SMSC field).
    pub tpdu_length: u16,
    /// The PDU line, SMSC field first.
    pub pdu: PduBytes,
}

/// `+CMGR:` with its PDU line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// `<stat>`.
    pub status: MessageStatus,
    /// `<alpha>`.
    pub alpha: Option<String>,
    /// `<length>`: TPDU octets.
    pub tpdu_length: u16,
    /// The PDU line, SMSC field first.
    pub pdu: PduBytes,
}

/// `+CMT:` or `+CDS:` with its PDU line: a message or report routed straight to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPdu {
    /// `<alpha>` (only `+CMT` has one).
    pub alpha: Option<String>,
    /// `<length>`: TPDU octets.
    pub tpdu_length: u16,
    /// The PDU line, SMSC field first.
    pub pdu: PduBytes,
}

/// `+CLIP: <number>,<type>[,<subaddr>,<satype>,<alpha>,<CLI validity>]`: caller ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId {
    /// The number as printed (`+91...` when international); empty when withheld.
    pub number: String,
    /// `<type>`: 145 international, 129 otherwise.
    pub type_of_address: u8,
    /// `<alpha>`: phonebook name when the modem has one.
    pub name: Option<String>,
    /// `<CLI validity>`: 0 valid, 1 withheld, 2 not available.
    pub validity: Option<u8>,
}

/// `+CLIP: <n>,<m>`: the answer to `AT+CLIP?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerIdStatus {
    /// `<n>`: URCs enabled.
    pub presentation: bool,
    /// `<m>`: 0 not provisioned, 1 provisioned, 2 unknown.
    pub provisioning: u8,
}

/// `+CPIN: <code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStatus {
    /// `READY`.
    Ready,
    /// `SIM PIN`.
    SimPin,
    /// `SIM PUK`.
    SimPuk,
    /// `PH-SIM PIN`.
    PhoneSimPin,
    /// `SIM PIN2`.
    SimPin2,
    /// `SIM PUK2`.
    SimPuk2,
    /// `NOT INSERTED` (SIM800).
    NotInserted,
    /// `NOT READY` (SIM800, during boot).
    NotReady,
    /// Anything else.
    Other(String),
}

impl PinStatus {
    fn parse(text: &str) -> Self {
        match text.trim().trim_matches('"') {
            "READY" => PinStatus::Ready,
            "SIM PIN" => PinStatus::SimPin,
            "SIM PUK" => PinStatus::SimPuk,
            "PH-SIM PIN" => PinStatus::PhoneSimPin,
            "SIM PIN2" => PinStatus::SimPin2,
            "SIM PUK2" => PinStatus::SimPuk2,
            "NOT INSERTED" => PinStatus::NotInserted,
            "NOT READY" => PinStatus::NotReady,
            other => PinStatus::Other(other.to_owned()),
        }
    }
}

/// `+CMTI` / `+CDSI`: a message or report was stored at `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIndication {
    /// `<mem>`.
    pub storage: StorageName,
    /// `<index>`.
    pub index: u16,
}

/// `+CUSD: <m>[,<str>[,<dcs>]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdResponse {
    /// `<m>`: 0 no further action, 1 further action required, 2 terminated by network, ...
    pub status: u8,
    /// `<str>` as printed (lines of a multi-line answer joined with `\n`).
    pub text: Option<String>,
    /// `<dcs>`.
    pub data_coding: Option<u8>,
}

/// A DTMF key pressed by the caller: `0-9`, `*`, `#`, `A-D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfTone(char);

impl DtmfTone {
    /// Checks that `key` is a DTMF key.
    pub fn new(key: char) -> Option<Self> {
        matches!(key, '0'..='9' | '*' | '#' | 'A'..='D').then_some(DtmfTone(key))
    }

    /// The key.
    pub fn key(self) -> char {
        self.0
    }
}

/// An information line attributed to the pending command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+CSQ`.
    SignalQuality(SignalQuality),
    /// `+CREG` (query form).
    Registration(RegistrationReport),
    /// `+COPS`.
    Operator(OperatorSelection),
    /// `+CPMS`.
    MessageStorage(MessageStorageStatus),
    /// A `+CMGL` entry with its PDU.
    ListedMessage(ListedMessage),
    /// `+CMGR` with its PDU.
    StoredMessage(StoredMessage),
    /// `+CMGS: <mr>`: the message reference a status report will quote.
    MessageReference(u8),
    /// `+CMGW: <index>`.
    MessageWritten(u16),
    /// `+CLIP` (query form).
    CallerIdStatus(CallerIdStatus),
    /// `+CPIN`.
    Pin(PinStatus),
    /// Any other line (`ATI`, `AT+CGSN`, vendor commands...).
    Text(String),
}

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI`: a message was stored.
    NewMessage(MessageIndication),
    /// `+CDSI`: a status report was stored.
    NewStatusReport(MessageIndication),
    /// `+CMT` with its PDU: a message routed straight to the host.
    Message(ReceivedPdu),
    /// `+CDS` with its PDU: a status report routed straight to the host.
    StatusReport(ReceivedPdu),
    /// `RING`.
    Ring,
    /// `+CRING: <type>` (e.g. `VOICE`).
    RingWithType(String),
    /// `+CLIP`: the caller's number.
    CallerId(CallerId),
    /// `+DTMF` (SIM800), `+RXDTMF`, `+QTONEDET` (Quectel): a key the caller pressed.
    Dtmf(DtmfTone),
    /// `+CREG` (unsolicited form).
    Registration(RegistrationUpdate),
    /// `+CUSD`.
    Ussd(UssdResponse),
    /// `+CPIN` outside a query (boot progress).
    Pin(PinStatus),
    /// `Call Ready` (SIM800).
    CallReady,
    /// `SMS Ready` (SIM800).
    SmsReady,
    /// `RDY`: the modem has booted.
    ModemReady,
    /// A call-progress code outside a dial: the call ended.
    CallEnded(CallEnd),
    /// A line with no command pending that this crate does not know.
    Unrecognized(String),
}

/// A header whose PDU comes on the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PduHeader {
    Message {
        alpha: Option<String>,
        tpdu_length: u16,
    },
    StatusReport {
        tpdu_length: u16,
    },
    Listed {
        index: u16,
        status: MessageStatus,
        alpha: Option<String>,
        tpdu_length: u16,
    },
    Stored {
        status: MessageStatus,
        alpha: Option<String>,
        tpdu_length: u16,
    },
}

impl PduHeader {
    /// The prefix of the header line, for error events.
    pub(crate) fn prefix(&self) -> &'static str {
        match self {
            PduHeader::Message { .. } => "+CMT",
            PduHeader::StatusReport { .. } => "+CDS",
            PduHeader::Listed { .. } => "+CMGL",
            PduHeader::Stored { .. } => "+CMGR",
        }
    }

    /// True when the header belongs to the pending command rather than being a URC.
    pub(crate) fn is_response(&self) -> bool {
        matches!(self, PduHeader::Listed { .. } | PduHeader::Stored { .. })
    }

    /// The complete value once the PDU line is in.
    pub(crate) fn complete(self, pdu: Vec<u8>) -> Result<Response, Urc> {
        let pdu = PduBytes(pdu);
        match self {
            PduHeader::Message { alpha, tpdu_length } => Err(Urc::Message(ReceivedPdu {
                alpha,
                tpdu_length,
                pdu,
            })),
            PduHeader::StatusReport { tpdu_length } => Err(Urc::StatusReport(ReceivedPdu {
                alpha: None,
                tpdu_length,
                pdu,
            })),
            PduHeader::Listed {
                index,
                status,
                alpha,
                tpdu_length,
            } => Ok(Response::ListedMessage(ListedMessage {
                index,
                status,
                alpha,
                tpdu_length,
                pdu,
            })),
            PduHeader::Stored {
                status,
                alpha,
                tpdu_length,
            } => Ok(Response::StoredMessage(StoredMessage {
                status,
                alpha,
                tpdu_length,
                pdu,
            })),
        }
    }
}

/// Splits `+NAME: rest` into (`+NAME`, `rest`).
pub(crate) fn split_prefix(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with('+') {
        return None;
    }
    let colon = line.find(':')?;
    Some((&line[..colon], line[colon + 1..].trim()))
}

/// Reads a final result code; call-progress codes count only when `call_progress` is set.
pub(crate) fn parse_final(line: &str, call_progress: bool) -> Option<FinalResult> {
    match line {
        "OK" => return Some(FinalResult::Ok),
        "ERROR" => return Some(FinalResult::Error),
        _ => {}
    }
    if let Some((prefix, rest)) = split_prefix(line) {
        let code = || match rest.parse::<u16>() {
            Ok(number) => ErrorCode::Numeric(number),
            Err(_) => ErrorCode::Text(rest.to_owned()),
        };
        return match prefix {
            "+CME ERROR" => Some(FinalResult::CmeError(code())),
            "+CMS ERROR" => Some(FinalResult::CmsError(code())),
            _ => None,
        };
    }
    if !call_progress {
        return None;
    }
    if let Some(end) = parse_call_end(line) {
        return Some(match end {
            CallEnd::NoCarrier => FinalResult::NoCarrier,
            CallEnd::Busy => FinalResult::Busy,
            CallEnd::NoAnswer => FinalResult::NoAnswer,
            CallEnd::NoDialtone => FinalResult::NoDialtone,
        });
    }
    if line == "CONNECT" {
        return Some(FinalResult::Connect(None));
    }
    line.strip_prefix("CONNECT ")
        .map(|rest| FinalResult::Connect(Some(rest.to_owned())))
}

/// Reads a call-progress code.
pub(crate) fn parse_call_end(line: &str) -> Option<CallEnd> {
    match line {
        "NO CARRIER" => Some(CallEnd::NoCarrier),
        "BUSY" => Some(CallEnd::Busy),
        "NO ANSWER" => Some(CallEnd::NoAnswer),
        "NO DIALTONE" | "NO DIAL TONE" => Some(CallEnd::NoDialtone),
        _ => None,
    }
}

/// What an unsolicited line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsolicited {
    Complete(Urc),
    NeedsPdu(PduHeader),
}

/// Reads a line as a URC: `None` when it is not one, `Some(None)` when it has a URC's prefix
/// but not its shape.
pub(crate) fn parse_unsolicited(line: &str) -> Option<Option<Unsolicited>> {
    let complete = |urc: Option<Urc>| Some(urc.map(Unsolicited::Complete));
    if line.eq_ignore_ascii_case("RING") {
        return complete(Some(Urc::Ring));
    }
    if line.eq_ignore_ascii_case("Call Ready") {
        return complete(Some(Urc::CallReady));
    }
    if line.eq_ignore_ascii_case("SMS Ready") {
        return complete(Some(Urc::SmsReady));
    }
    if line.eq_ignore_ascii_case("RDY") {
        return complete(Some(Urc::ModemReady));
    }
    let (prefix, rest) = split_prefix(line)?;
    match prefix {
        "+CMTI" => complete(parse_indication(rest).map(Urc::NewMessage)),
        "+CDSI" => complete(parse_indication(rest).map(Urc::NewStatusReport)),
        "+CMT" => Some(parse_message_header(rest).map(Unsolicited::NeedsPdu)),
        "+CDS" => Some(parse_status_report_header(rest).map(Unsolicited::NeedsPdu)),
        "+CRING" => complete((!rest.is_empty()).then(|| Urc::RingWithType(rest.to_owned()))),
        "+CLIP" => complete(parse_caller_id(rest).map(Urc::CallerId)),
        "+DTMF" | "+RXDTMF" => complete(parse_dtmf_key(rest).map(Urc::Dtmf)),
        "+QTONEDET" => complete(parse_dtmf_ascii(rest).map(Urc::Dtmf)),
        "+CREG" => complete(parse_registration_update(rest).map(Urc::Registration)),
        "+CUSD" => complete(parse_ussd(rest).map(Urc::Ussd)),
        "+CPIN" => complete(Some(Urc::Pin(PinStatus::parse(rest)))),
        _ => None,
    }
}

/// Reads an information line as the response of a command with prefix `prefix`: `None`
/// when its shape is wrong. `+CMGL`/`+CMGR` give a header waiting for its PDU line.
pub(crate) fn parse_response(prefix: &str, rest: &str) -> Option<Result<Response, PduHeader>> {
    let params = split_params(rest)?;
    let response = match prefix {
        "+CSQ" => Response::SignalQuality(parse_signal_quality(&params)?),
        "+CREG" => Response::Registration(parse_registration_report(&params)?),
        "+COPS" => Response::Operator(parse_operator(&params)?),
        "+CPMS" => Response::MessageStorage(parse_storage_status(&params)?),
        "+CMGS" => Response::MessageReference(params.first()?.number()?),
        "+CMGW" => Response::MessageWritten(params.first()?.number()?),
        "+CLIP" => Response::CallerIdStatus(parse_caller_id_status(&params)?),
        "+CPIN" => Response::Pin(PinStatus::parse(rest)),
        "+CMGL" => {
            let [index, status, alpha, length] = params.as_slice() else {
                return None;
            };
            return Some(Err(PduHeader::Listed {
                index: index.number()?,
                status: MessageStatus::parse(*status)?,
                alpha: alpha.optional_text().map(str::to_owned),
                tpdu_length: length.number()?,
            }));
        }
        "+CMGR" => {
            let [status, alpha, length] = params.as_slice() else {
                return None;
            };
            return Some(Err(PduHeader::Stored {
                status: MessageStatus::parse(*status)?,
                alpha: alpha.optional_text().map(str::to_owned),
                tpdu_length: length.number()?,
            }));
        }
        _ => return None,
    };
    Some(Ok(response))
}

/// True when a `+CREG` line is the query form (`<n>,<stat>`), i.e. its second field is a
/// bare number; the unsolicited form has one field or a quoted `<lac>` second.
pub(crate) fn is_registration_query_form(rest: &str) -> bool {
    split_params(rest).is_some_and(|params| {
        params.len() >= 2
            && params
                .get(1)
                .is_some_and(|second| second.number::<u8>().is_some())
    })
}

/// True when a `+CLIP` line is the caller-ID URC (quoted number first) rather than the
/// answer to `AT+CLIP?`.
pub(crate) fn is_caller_id_form(rest: &str) -> bool {
    split_params(rest).is_some_and(|params| params.first().is_some_and(|first| first.is_quoted()))
}

fn parse_signal_quality(params: &[Param<'_>]) -> Option<SignalQuality> {
    let [rssi, ber] = params else {
        return None;
    };
    let rssi: u8 = rssi.number()?;
    let ber: u8 = ber.number()?;
    Some(SignalQuality {
        rssi: match rssi {
            0..=31 => Some(rssi),
            99 => None,
            _ => return None,
        },
        bit_error_rate: match ber {
            0..=7 => Some(ber),
            99 => None,
            _ => return None,
        },
    })
}

fn parse_location(lac: &Param<'_>, cell: &Param<'_>) -> Option<CellLocation> {
    let hex = |param: &Param<'_>| {
        let text = param.text()?;
        if text.is_empty() || text.len() > 8 {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    };
    Some(CellLocation {
        location_area_code: hex(lac)?,
        cell_id: hex(cell)?,
    })
}

fn parse_registration_report(params: &[Param<'_>]) -> Option<RegistrationReport> {
    let (reporting, status, location) = match params {
        [reporting, status] => (reporting, status, None),
        [reporting, status, lac, cell] | [reporting, status, lac, cell, _] => {
            (reporting, status, Some(parse_location(lac, cell)?))
        }
        _ => return None,
    };
    Some(RegistrationReport {
        reporting: reporting.number()?,
        status: RegistrationStatus::from_code(status.number()?),
        location,
    })
}

fn parse_registration_update(rest: &str) -> Option<RegistrationUpdate> {
    let params = split_params(rest)?;
    let (status, location) = match params.as_slice() {
        [status] => (status, None),
        [status, lac, cell] | [status, lac, cell, _] if lac.is_quoted() => {
            (status, Some(parse_location(lac, cell)?))
        }
        _ => return None,
    };
    Some(RegistrationUpdate {
        status: RegistrationStatus::from_code(status.number()?),
        location,
    })
}

fn parse_operator(params: &[Param<'_>]) -> Option<OperatorSelection> {
    let mode = params.first()?.number()?;
    let optional_number = |index: usize| match params.get(index) {
        None | Some(Param::Bare("")) => Some(None),
        Some(param) => param.number().map(Some),
    };
    if params.len() > 4 {
        return None;
    }
    Some(OperatorSelection {
        mode,
        format: optional_number(1)?,
        operator: params
            .get(2)
            .and_then(|param| param.optional_text())
            .map(str::to_owned),
        access_technology: optional_number(3)?,
    })
}

fn parse_storage_status(params: &[Param<'_>]) -> Option<MessageStorageStatus> {
    let named = params.first()?.is_quoted();
    let group = if named { 3 } else { 2 };
    if params.is_empty() || !params.len().is_multiple_of(group) || params.len() / group > 3 {
        return None;
    }
    let mut usages = params.chunks_exact(group).map(|chunk| {
        let (storage, counts) = if named {
            let name = chunk.first()?;
            if !name.is_quoted() {
                return None;
            }
            (Some(StorageName::parse(name.text()?)), chunk.get(1..)?)
        } else {
            (None, chunk)
        };
        Some(StorageUsage {
            storage,
            used: counts.first()?.number()?,
            total: counts.get(1)?.number()?,
        })
    });
    let read_delete = usages.next()??;
    let write_send = usages
        .next()
        .map(|usage| usage.ok_or(()))
        .transpose()
        .ok()?;
    let receive = usages
        .next()
        .map(|usage| usage.ok_or(()))
        .transpose()
        .ok()?;
    Some(MessageStorageStatus {
        read_delete,
        write_send,
        receive,
    })
}

fn parse_caller_id_status(params: &[Param<'_>]) -> Option<CallerIdStatus> {
    let [presentation, provisioning] = params else {
        return None;
    };
    Some(CallerIdStatus {
        presentation: match presentation.number::<u8>()? {
            0 => false,
            1 => true,
            _ => return None,
        },
        provisioning: provisioning.number()?,
    })
}

fn parse_indication(rest: &str) -> Option<MessageIndication> {
    let params = split_params(rest)?;
    let [storage, index] = params.as_slice() else {
        return None;
    };
    Some(MessageIndication {
        storage: StorageName::parse(storage.text()?),
        index: index.number()?,
    })
}

fn parse_message_header(rest: &str) -> Option<PduHeader> {
    let params = split_params(rest)?;
    let [alpha, length] = params.as_slice() else {
        return None;
    };
    Some(PduHeader::Message {
        alpha: alpha.optional_text().map(str::to_owned),
        tpdu_length: length.number()?,
    })
}

fn parse_status_report_header(rest: &str) -> Option<PduHeader> {
    let params = split_params(rest)?;
    let [length] = params.as_slice() else {
        return None;
    };
    Some(PduHeader::StatusReport {
        tpdu_length: length.number()?,
    })
}

fn parse_caller_id(rest: &str) -> Option<CallerId> {
    let params = split_params(rest)?;
    if params.len() < 2 || params.len() > 6 {
        return None;
    }
    let number = params.first().filter(|param| param.is_quoted())?.text()?;
    Some(CallerId {
        number: number.to_owned(),
        type_of_address: params.get(1)?.number()?,
        name: params
            .get(4)
            .and_then(|param| param.optional_text())
            .map(str::to_owned),
        validity: match params.get(5) {
            Some(param) => Some(param.number()?),
            None => None,
        },
    })
}

fn parse_dtmf_key(rest: &str) -> Option<DtmfTone> {
    let params = split_params(rest)?;
    let key = params.first()?.text()?;
    let mut characters = key.chars();
    let first = characters.next()?;
    if characters.next().is_some() {
        return None;
    }
    DtmfTone::new(first)
}

fn parse_dtmf_ascii(rest: &str) -> Option<DtmfTone> {
    let params = split_params(rest)?;
    let [code] = params.as_slice() else {
        return None;
    };
    DtmfTone::new(char::from(code.number::<u8>()?))
}

fn parse_ussd(rest: &str) -> Option<UssdResponse> {
    let params = split_params(rest)?;
    if params.is_empty() || params.len() > 3 {
        return None;
    }
    Some(UssdResponse {
        status: params.first()?.number()?,
        text: params
            .get(1)
            .and_then(|param| param.text())
            .map(str::to_owned),
        data_coding: match params.get(2) {
            Some(param) => Some(param.number()?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(line: &str) -> Option<Result<Response, PduHeader>> {
        let (prefix, rest) = split_prefix(line)?;
        parse_response(prefix, rest)
    }

    #[test]
    fn final_results() {
        assert_eq!(parse_final("OK", false), Some(FinalResult::Ok));
        assert_eq!(
            parse_final("+CMS ERROR: 500", false),
            Some(FinalResult::CmsError(ErrorCode::Numeric(500)))
        );
        assert_eq!(
            parse_final("+CME ERROR: SIM not inserted", false),
            Some(FinalResult::CmeError(ErrorCode::Text(
                "SIM not inserted".into()
            )))
        );
        assert_eq!(parse_final("NO CARRIER", false), None);
        assert_eq!(
            parse_final("NO CARRIER", true),
            Some(FinalResult::NoCarrier)
        );
        assert_eq!(
            parse_final("CONNECT 9600", true),
            Some(FinalResult::Connect(Some("9600".into())))
        );
    }

    #[test]
    fn storage_status_both_forms() {
        let query = response(r#"+CPMS: "SM",3,30,"SM",3,30,"ME",0,255"#);
        let Some(Ok(Response::MessageStorage(status))) = query else {
            panic!("{query:?}");
        };
        assert_eq!(status.read_delete.used, 3);
        assert_eq!(
            status.receive.and_then(|usage| usage.storage),
            Some(StorageName::Known(
                super::super::command::MessageStorage::Modem
            ))
        );
        let set = response("+CPMS: 3,30,3,30,3,30");
        assert!(matches!(set, Some(Ok(Response::MessageStorage(_)))));
        assert_eq!(response("+CPMS: 3,30,3"), None);
    }

    #[test]
    fn registration_forms_are_told_apart() {
        assert!(is_registration_query_form("0,1"));
        assert!(is_registration_query_form(r#"2,1,"00C3","1A2B""#));
        assert!(!is_registration_query_form("5"));
        assert!(!is_registration_query_form(r#"1,"00C3","1A2B""#));
        assert_eq!(
            parse_registration_update(r#"1,"00C3","1A2B""#),
            Some(RegistrationUpdate {
                status: RegistrationStatus::RegisteredHome,
                location: Some(CellLocation {
                    location_area_code: 0xC3,
                    cell_id: 0x1A2B
                }),
            })
        );
    }

    #[test]
    fn urcs() {
        assert_eq!(
            parse_unsolicited("+QTONEDET: 35"),
            Some(Some(Unsolicited::Complete(Urc::Dtmf(DtmfTone('#')))))
        );
        assert_eq!(
            parse_unsolicited("+DTMF: 7"),
            Some(Some(Unsolicited::Complete(Urc::Dtmf(DtmfTone('7')))))
        );
        assert_eq!(parse_unsolicited("+DTMF: 77"), Some(None));
        assert_eq!(parse_unsolicited("+QTONEDET: 300"), Some(None));
        assert_eq!(parse_unsolicited("HELLO"), None);
        let clip = parse_unsolicited(r#"+CLIP: "+919876543210",145,"",0,"",0"#);
        assert_eq!(
            clip,
            Some(Some(Unsolicited::Complete(Urc::CallerId(CallerId {
                number: "+919876543210".into(),
                type_of_address: 145,
                name: None,
                validity: Some(0),
            }))))
        );
    }
}
