//! AT commands the host sends (TS 27.007, TS 27.005, V.250, and the few vendor commands the
//! modem profiles need), encoded to the bytes that go on the wire: `AT...` and a CR.
//!
//! `AT+CMGS` is two writes: the command line, then (after the modem's `> ` prompt) the PDU as
//! hex and Ctrl-Z. [`AtCommand::encode`] gives the first, [`AtCommand::payload`] the second.
//!
//! [`CommandKind::classify`] works from the text of a command line, so the reader can
//! attribute responses to whatever was sent, including [`AtCommand::Custom`] lines and a
//! simulator's view of the host.
//!
//! Limits: a custom command line is at most [`COMMAND_LINE_OCTETS_MAX`] octets of printable
//! ASCII; numbers and strings in typed commands are validated by their types.

use thiserror::Error;

use crate::pdu::address::AddressDigits;
use crate::pdu::tpdu::EncodedPdu;

/// Longest command line this crate writes, excluding the CR. SIM800's manual allows 556
/// characters on a line; staying at 512 leaves room on every modem profile in use.
pub const COMMAND_LINE_OCTETS_MAX: usize = 512;
/// Longest USSD string: TS 22.090 allows 182 characters in a USSD string.
pub const USSD_OCTETS_MAX: usize = 182;

/// Carriage return: ends every command line (S3, V.250).
pub const CR: u8 = b'\r';
/// Ctrl-Z: ends the PDU after `AT+CMGS` (TS 27.005 §3.5.1).
pub const CTRL_Z: u8 = 0x1A;
/// ESC: cancels a pending `AT+CMGS` after the prompt instead of sending.
pub const ESC: u8 = 0x1B;

/// Why a command could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// A custom line must start with `AT`.
    #[error("a command line must start with AT")]
    MissingAtPrefix,
    /// Only printable ASCII (0x20..=0x7E) may be written; CR, Ctrl-Z and ESC would end or
    /// cancel the line.
    #[error("command contains a byte outside printable ASCII at {position}")]
    UnprintableByte {
        /// Index of the offending byte.
        position: usize,
    },
    /// Too long for the modem's line buffer.
    #[error("command line of {length} octets exceeds {COMMAND_LINE_OCTETS_MAX}")]
    TooLong {
        /// Its length.
        length: usize,
    },
    /// A USSD string may hold digits, `*`, `#` and `+` only.
    #[error("invalid USSD string")]
    InvalidUssd,
}

/// A validated custom command line: printable ASCII, starting with `AT`, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomCommand(String);

impl CustomCommand {
    /// Checks `line` (without CR).
    pub fn new(line: &str) -> Result<Self, CommandError> {
        check_printable(line)?;
        if !line
            .get(..2)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("AT"))
        {
            return Err(CommandError::MissingAtPrefix);
        }
        Ok(CustomCommand(line.to_owned()))
    }

    /// The line without CR.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A USSD request such as `*123#` (balance check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdString(String);

impl UssdString {
    /// Checks `code`: 1..=182 of `0-9 * # +`.
    pub fn new(code: &str) -> Result<Self, CommandError> {
        let valid = !code.is_empty()
            && code.len() <= USSD_OCTETS_MAX
            && code
                .bytes()
                .all(|byte| byte.is_ascii_digit() || matches!(byte, b'*' | b'#' | b'+'));
        if valid {
            Ok(UssdString(code.to_owned()))
        } else {
            Err(CommandError::InvalidUssd)
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_printable(line: &str) -> Result<(), CommandError> {
    if line.len() > COMMAND_LINE_OCTETS_MAX {
        return Err(CommandError::TooLong { length: line.len() });
    }
    match line.bytes().position(|byte| !(0x20..=0x7E).contains(&byte)) {
        Some(position) => Err(CommandError::UnprintableByte { position }),
        None => Ok(()),
    }
}

/// `AT+CMEE` modes: how errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReporting {
    /// Plain `ERROR`.
    Disabled = 0,
    /// `+CME ERROR: <n>` / `+CMS ERROR: <n>`: what the driver wants.
    Numeric = 1,
    /// `+CME ERROR: <text>`.
    Verbose = 2,
}

/// `AT+CREG=<n>` modes: which registration URCs the modem sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationReporting {
    /// None.
    Disabled = 0,
    /// `+CREG: <stat>`.
    Status = 1,
    /// `+CREG: <stat>,<lac>,<ci>`.
    StatusAndLocation = 2,
}

/// Message storages the host can select (TS 27.005 §3.1 `<mem>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageStorage {
    /// `"SM"`: the SIM.
    Sim,
    /// `"ME"`: the modem's own memory.
    Modem,
    /// `"MT"`: SIM and modem together.
    Any,
    /// `"SR"`: status reports.
    StatusReports,
    /// `"BM"`: cell broadcast.
    Broadcast,
}

impl MessageStorage {
    /// The name as sent and printed.
    pub fn name(self) -> &'static str {
        match self {
            MessageStorage::Sim => "SM",
            MessageStorage::Modem => "ME",
            MessageStorage::Any => "MT",
            MessageStorage::StatusReports => "SR",
            MessageStorage::Broadcast => "BM",
        }
    }
}

/// A storage name as a modem prints it: one of the known ones, or another name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageName {
    /// A storage this crate knows.
    Known(MessageStorage),
    /// Any other name (vendor storages).
    Other(String),
}

impl StorageName {
    /// Reads a storage name as printed (without quotes).
    pub fn parse(name: &str) -> Self {
        let known = [
            MessageStorage::Sim,
            MessageStorage::Modem,
            MessageStorage::Any,
            MessageStorage::StatusReports,
            MessageStorage::Broadcast,
        ]
        .into_iter()
        .find(|storage| storage.name() == name);
        match known {
            Some(storage) => StorageName::Known(storage),
            None => StorageName::Other(name.to_owned()),
        }
    }
}

/// `AT+CMGL=<stat>` filters in PDU mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFilter {
    /// 0: received unread.
    ReceivedUnread = 0,
    /// 1: received read.
    ReceivedRead = 1,
    /// 2: stored unsent.
    StoredUnsent = 2,
    /// 3: stored sent.
    StoredSent = 3,
    /// 4: all.
    All = 4,
}

/// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: how new messages and reports are indicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMessageIndications {
    /// `<mode>`: 2 buffers URCs while the link is busy and flushes them after.
    pub mode: u8,
    /// `<mt>`: 1 stores and sends `+CMTI`; 2 routes the PDU directly with `+CMT`.
    pub deliver: u8,
    /// `<bm>`: cell broadcast.
    pub broadcast: u8,
    /// `<ds>`: 1 routes status reports with `+CDS`; 2 stores them and sends `+CDSI`.
    pub status_report: u8,
    /// `<bfr>`: 0 flushes buffered URCs when `<mode>` 1..=3 is entered.
    pub buffer: u8,
}

impl NewMessageIndications {
    /// `2,1,0,2,0`: store every message and report, announce it with `+CMTI` / `+CDSI`. The
    /// node reads, commits to SQLite, then deletes, so nothing is lost across a restart.
    pub const STORE_AND_NOTIFY: NewMessageIndications = NewMessageIndications {
        mode: 2,
        deliver: 1,
        broadcast: 0,
        status_report: 2,
        buffer: 0,
    };
}

/// A command the host sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtCommand {
    /// `AT`: is anybody there.
    Attention,
    /// `ATE0` / `ATE1`: command echo.
    Echo(bool),
    /// `AT+CMEE=<n>`.
    ErrorReporting(ErrorReporting),
    /// `AT+CMGF=0`: PDU mode (this crate speaks PDU mode only).
    PduMode,
    /// `AT+CSQ`: signal quality.
    SignalQuality,
    /// `AT+CREG?`: registration status.
    RegistrationQuery,
    /// `AT+CREG=<n>`.
    RegistrationReporting(RegistrationReporting),
    /// `AT+COPS?`: current operator.
    OperatorQuery,
    /// `AT+CPIN?`: SIM state.
    PinQuery,
    /// `AT+CPMS=<mem1>,<mem2>,<mem3>`: storages for reading, writing and receiving.
    SelectMessageStorage {
        /// Where `+CMGL`/`+CMGR`/`+CMGD` read and delete.
        read_delete: MessageStorage,
        /// Where `+CMGW` writes.
        write_send: MessageStorage,
        /// Where received messages go.
        receive: MessageStorage,
    },
    /// `AT+CPMS?`.
    MessageStorageQuery,
    /// `AT+CNMI=...`.
    NewMessageIndications(NewMessageIndications),
    /// `AT+CMGL=<stat>`: list stored messages.
    ListMessages(MessageFilter),
    /// `AT+CMGR=<index>`: read a stored message.
    ReadMessage(u16),
    /// `AT+CMGD=<index>`: delete a stored message.
    DeleteMessage(u16),
    /// `AT+CMGS=<length>`, then the PDU and Ctrl-Z after the prompt.
    SendMessage(EncodedPdu),
    /// `AT+CNMA`: acknowledge a `+CMT` / `+CDS` (when the modem asks for acknowledgement).
    AcknowledgeMessage,
    /// `AT+CLIP=<n>`: caller ID URCs on or off.
    CallerIdPresentation(bool),
    /// `AT+CLIP?`.
    CallerIdQuery,
    /// `ATA`: answer an incoming call.
    Answer,
    /// `ATH`: hang up.
    HangUp,
    /// `ATD<number>;`: dial a voice call.
    DialVoice {
        /// `true` to prefix `+` (international).
        international: bool,
        /// The digits.
        digits: AddressDigits,
    },
    /// `AT+CUSD=1,"<code>",15`: send a USSD request.
    Ussd(UssdString),
    /// `AT+DDET=<0|1>`: SIM800 DTMF detection (reports `+DTMF: <key>`).
    Sim800DtmfDetection(bool),
    /// `AT+QTONEDET=<0|1>`: Quectel DTMF detection (reports `+QTONEDET: <ascii>`).
    QuectelToneDetection(bool),
    /// Any other command line.
    Custom(CustomCommand),
}

impl AtCommand {
    /// The command line with its CR.
    pub fn encode(&self) -> Vec<u8> {
        let mut line = self.to_line();
        line.push(char::from(CR));
        line.into_bytes()
    }

    /// What follows the prompt, for `AT+CMGS`: the PDU in hex and Ctrl-Z.
    pub fn payload(&self) -> Option<Vec<u8>> {
        match self {
            AtCommand::SendMessage(pdu) => {
                let mut payload = pdu.to_hex().into_bytes();
                payload.push(CTRL_Z);
                Some(payload)
            }
            _ => None,
        }
    }

    /// What kind of response the command gets.
    pub fn kind(&self) -> CommandKind {
        CommandKind::classify(self.to_line().as_bytes())
    }

    /// The command line without CR.
    pub fn to_line(&self) -> String {
        let on = |enabled: bool| u8::from(enabled);
        match self {
            AtCommand::Attention => "AT".to_owned(),
            AtCommand::Echo(enabled) => format!("ATE{}", on(*enabled)),
            AtCommand::ErrorReporting(mode) => format!("AT+CMEE={}", *mode as u8),
            AtCommand::PduMode => "AT+CMGF=0".to_owned(),
            AtCommand::SignalQuality => "AT+CSQ".to_owned(),
            AtCommand::RegistrationQuery => "AT+CREG?".to_owned(),
            AtCommand::RegistrationReporting(mode) => format!("AT+CREG={}", *mode as u8),
            AtCommand::OperatorQuery => "AT+COPS?".to_owned(),
            AtCommand::PinQuery => "AT+CPIN?".to_owned(),
            AtCommand::SelectMessageStorage {
                read_delete,
                write_send,
                receive,
            } => format!(
                "AT+CPMS=\"{}\",\"{}\",\"{}\"",
                read_delete.name(),
                write_send.name(),
                receive.name()
            ),
            AtCommand::MessageStorageQuery => "AT+CPMS?".to_owned(),
            AtCommand::NewMessageIndications(settings) => format!(
                "AT+CNMI={},{},{},{},{}",
                settings.mode,
                settings.deliver,
                settings.broadcast,
                settings.status_report,
                settings.buffer
            ),
            AtCommand::ListMessages(filter) => format!("AT+CMGL={}", *filter as u8),
            AtCommand::ReadMessage(index) => format!("AT+CMGR={index}"),
            AtCommand::DeleteMessage(index) => format!("AT+CMGD={index}"),
            AtCommand::SendMessage(pdu) => format!("AT+CMGS={}", pdu.tpdu_length()),
            AtCommand::AcknowledgeMessage => "AT+CNMA".to_owned(),
            AtCommand::CallerIdPresentation(enabled) => format!("AT+CLIP={}", on(*enabled)),
            AtCommand::CallerIdQuery => "AT+CLIP?".to_owned(),
            AtCommand::Answer => "ATA".to_owned(),
            AtCommand::HangUp => "ATH".to_owned(),
            AtCommand::DialVoice {
                international,
                digits,
            } => format!(
                "ATD{}{};",
                if *international { "+" } else { "" },
                digits.as_str()
            ),
            AtCommand::Ussd(code) => format!("AT+CUSD=1,\"{}\",15", code.as_str()),
            AtCommand::Sim800DtmfDetection(enabled) => format!("AT+DDET={}", on(*enabled)),
            AtCommand::QuectelToneDetection(enabled) => format!("AT+QTONEDET={}", on(*enabled)),
            AtCommand::Custom(command) => command.as_str().to_owned(),
        }
    }
}

/// The kinds of command whose responses the reader treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `+CSQ`: expects `+CSQ:`.
    SignalQuality,
    /// `+CREG?`: expects `+CREG: <n>,<stat>...`.
    RegistrationQuery,
    /// `+COPS?`: expects `+COPS:`.
    OperatorQuery,
    /// `+CPIN?`: expects `+CPIN:`.
    PinQuery,
    /// `+CPMS` (set or query): expects `+CPMS:`.
    MessageStorage,
    /// `+CMGL`: expects `+CMGL:` header and PDU line pairs.
    ListMessages,
    /// `+CMGR`: expects a `+CMGR:` header and a PDU line.
    ReadMessage,
    /// `+CMGS`: prompt, then `+CMGS: <mr>`.
    SendMessage,
    /// `+CMGW`: prompt, then `+CMGW: <index>`.
    WriteMessage,
    /// `+CLIP?`: expects `+CLIP: <n>,<m>`.
    CallerIdQuery,
    /// `ATD`: ends with `OK`, `CONNECT`, `NO CARRIER`, `BUSY`, `NO ANSWER` or `NO DIALTONE`.
    Dial,
    /// `ATA`: ends like a dial.
    Answer,
    /// Anything else: information lines are passed on as text.
    Other,
}

impl CommandKind {
    /// Classifies a command line as sent (CR optional, any case).
    pub fn classify(line: &[u8]) -> Self {
        let line = line.trim_ascii();
        let Some(body) = line
            .get(..2)
            .filter(|prefix| prefix.eq_ignore_ascii_case(b"AT"))
            .and_then(|_| line.get(2..))
        else {
            return CommandKind::Other;
        };
        let upper: Vec<u8> = body.iter().map(u8::to_ascii_uppercase).collect();
        let starts = |prefix: &[u8]| upper.starts_with(prefix);
        if starts(b"+CSQ") {
            CommandKind::SignalQuality
        } else if starts(b"+CREG?") {
            CommandKind::RegistrationQuery
        } else if starts(b"+COPS?") {
            CommandKind::OperatorQuery
        } else if starts(b"+CPIN?") {
            CommandKind::PinQuery
        } else if starts(b"+CPMS") {
            CommandKind::MessageStorage
        } else if starts(b"+CMGL") {
            CommandKind::ListMessages
        } else if starts(b"+CMGR") {
            CommandKind::ReadMessage
        } else if starts(b"+CMGS") {
            CommandKind::SendMessage
        } else if starts(b"+CMGW") {
            CommandKind::WriteMessage
        } else if starts(b"+CLIP?") {
            CommandKind::CallerIdQuery
        } else if starts(b"D") {
            CommandKind::Dial
        } else if upper == b"A" {
            CommandKind::Answer
        } else {
            CommandKind::Other
        }
    }

    /// The information-line prefix of this command's response.
    pub fn response_prefix(self) -> Option<&'static str> {
        Some(match self {
            CommandKind::SignalQuality => "+CSQ",
            CommandKind::RegistrationQuery => "+CREG",
            CommandKind::OperatorQuery => "+COPS",
            CommandKind::PinQuery => "+CPIN",
            CommandKind::MessageStorage => "+CPMS",
            CommandKind::ListMessages => "+CMGL",
            CommandKind::ReadMessage => "+CMGR",
            CommandKind::SendMessage => "+CMGS",
            CommandKind::WriteMessage => "+CMGW",
            CommandKind::CallerIdQuery => "+CLIP",
            CommandKind::Dial | CommandKind::Answer | CommandKind::Other => return None,
        })
    }

    /// True when the modem answers with the `> ` prompt before the final result.
    pub fn expects_prompt(self) -> bool {
        matches!(self, CommandKind::SendMessage | CommandKind::WriteMessage)
    }

    /// True when call-progress codes (`NO CARRIER`, `BUSY`, ...) end this command; for any
    /// other command they are unsolicited.
    pub fn ends_with_call_progress(self) -> bool {
        matches!(self, CommandKind::Dial | CommandKind::Answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_message_is_two_writes() {
        let pdu = EncodedPdu::with_smsc(vec![0x00, 0x01, 0x02]).unwrap_or_else(|e| panic!("{e}"));
        let command = AtCommand::SendMessage(pdu);
        assert_eq!(command.encode(), b"AT+CMGS=2\r".to_vec());
        assert_eq!(command.payload(), Some(b"000102\x1A".to_vec()));
        assert_eq!(command.kind(), CommandKind::SendMessage);
    }

    #[test]
    fn lines_and_kinds() {
        let storage = AtCommand::SelectMessageStorage {
            read_delete: MessageStorage::Sim,
            write_send: MessageStorage::Sim,
            receive: MessageStorage::Modem,
        };
        assert_eq!(storage.encode(), b"AT+CPMS=\"SM\",\"SM\",\"ME\"\r".to_vec());
        assert_eq!(
            AtCommand::NewMessageIndications(NewMessageIndications::STORE_AND_NOTIFY).to_line(),
            "AT+CNMI=2,1,0,2,0"
        );
        assert_eq!(
            AtCommand::ListMessages(MessageFilter::All).to_line(),
            "AT+CMGL=4"
        );
        let dial = AtCommand::DialVoice {
            international: true,
            digits: AddressDigits::new("919876543210").unwrap_or_else(|e| panic!("{e}")),
        };
        assert_eq!(dial.to_line(), "ATD+919876543210;");
        assert_eq!(dial.kind(), CommandKind::Dial);
        assert_eq!(AtCommand::Answer.kind(), CommandKind::Answer);
        assert_eq!(AtCommand::HangUp.kind(), CommandKind::Other);
        assert_eq!(
            CommandKind::classify(b"at+csq\r"),
            CommandKind::SignalQuality
        );
        assert_eq!(CommandKind::classify(b"garbage"), CommandKind::Other);
    }

    #[test]
    fn custom_and_ussd_are_validated() {
        assert!(CustomCommand::new("AT+CTTS=2,\"hello\"").is_ok());
        assert_eq!(
            CustomCommand::new("+CSQ"),
            Err(CommandError::MissingAtPrefix)
        );
        assert_eq!(
            CustomCommand::new("AT\r+CSQ"),
            Err(CommandError::UnprintableByte { position: 2 })
        );
        assert!(CustomCommand::new(&format!("AT{}", "X".repeat(COMMAND_LINE_OCTETS_MAX))).is_err());
        assert!(UssdString::new("*123#").is_ok());
        assert!(UssdString::new("*123\"#").is_err());
    }
}
