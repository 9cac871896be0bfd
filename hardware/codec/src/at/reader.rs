//! The sans-I/O AT response reader: bytes in, [`AtEvent`]s out.
//!
//! The driver tells the reader what it wrote ([`AtReader::command_sent`]) and feeds it
//! whatever the serial port returns, in any split ([`AtReader::feed`]). The reader cuts lines
//! at CR or LF, recognises the `> ` prompt (which has no terminator) as soon as its two bytes
//! are in, and classifies each line:
//!
//! 1. a PDU line, when the previous line was a `+CMT`/`+CDS`/`+CMGL`/`+CMGR` header (a URC
//!    arriving in between is passed on and the reader keeps waiting);
//! 2. the echo of the pending command (or of the PDU after the prompt);
//! 3. a final result code, which ends the pending command; call-progress codes (`NO CARRIER`,
//!    `BUSY`, ...) end only a dial or answer and are a [`Urc::CallEnded`] otherwise;
//! 4. an information line with the pending command's prefix, parsed into a [`Response`];
//! 5. an unsolicited result code, parsed into a [`Urc`];
//! 6. anything else: [`Response::Text`] while a command is pending, else
//!    [`Urc::Unrecognized`].
//!
//! Check, then parse: a line with a known prefix but the wrong shape gives an
//! [`AtEvent::Error`] and nothing else. Garbage never panics (the `at_reader` fuzz target).
//!
//! Limits: a line is at most [`LINE_OCTETS_MAX`] octets; a longer one gives
//! [`ReadError::LineTooLong`] once and is skipped up to the next CR or LF, where the reader
//! resynchronises. A quoted `+CUSD` string may span at most [`USSD_CONTINUATION_LINES_MAX`]
//! lines; while it is open, every line is taken as its text (operators' menus span lines). Events never outnumber the bytes fed (a line gives at most two events and takes at
//! least two bytes), so a single `feed` returns at most one event more than its length.

use thiserror::Error;

use super::command::{CR, CTRL_Z, CommandKind};
use super::response::{
    FinalResult, PduHeader, Response, Unsolicited, Urc, is_caller_id_form,
    is_registration_query_form, parse_call_end, parse_final, parse_response, parse_unsolicited,
    split_prefix,
};
use crate::hex;

/// Longest line accepted. The longest legitimate line is a PDU: (12 + 164) octets as hex is
/// 352 characters; USSD text and `ATI` banners stay far below. 4 KiB leaves room for vendor
/// verbosity while bounding memory per modem.
pub const LINE_OCTETS_MAX: usize = 4096;
/// Lines a quoted `+CUSD` string may continue over (operators send menus of a few lines);
/// the string closes, or after this many lines the reader gives up on it.
pub const USSD_CONTINUATION_LINES_MAX: usize = 16;

const LF: u8 = b'\n';

/// Something the reader recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtEvent {
    /// The modem echoed the pending command (or the PDU after the prompt).
    Echo(String),
    /// The `> ` prompt: send the PDU and Ctrl-Z now.
    Prompt,
    /// An information line of the pending command.
    Response(Response),
    /// The pending command finished.
    Final(FinalResult),
    /// An unsolicited result code.
    Urc(Urc),
    /// A line that could not be taken; the reader carried on.
    Error(ReadError),
}

/// Problems with the byte stream. None of them stops the reader.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    /// A line exceeded [`LINE_OCTETS_MAX`]; it was skipped up to the next CR or LF.
    #[error("line longer than {limit} octets skipped")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A line has a known prefix but not its shape.
    #[error("malformed line: {line}")]
    Malformed {
        /// The line (lossily decoded).
        line: String,
    },
    /// A `+CMT`/`+CDS`/`+CMGL`/`+CMGR` header was not followed by a hex PDU line.
    #[error("{prefix} header without its PDU line")]
    MissingPduLine {
        /// The header's prefix.
        prefix: &'static str,
    },
    /// A final result code arrived with no command pending.
    #[error("final result {0:?} with no command pending")]
    UnexpectedFinal(FinalResult),
}

#[derive(Debug, Clone)]
struct Pending {
    kind: CommandKind,
    echo: Vec<u8>,
    echo_seen: bool,
    prompt_seen: bool,
}

#[derive(Debug, Clone)]
struct UssdContinuation {
    text: Vec<u8>,
    lines: usize,
}

/// The reader; one per modem.
#[derive(Debug, Clone, Default)]
pub struct AtReader {
    line: Vec<u8>,
    skipping_long_line: bool,
    pending: Option<Pending>,
    awaiting_pdu: Option<PduHeader>,
    ussd: Option<UssdContinuation>,
}

impl AtReader {
    /// A reader with nothing pending.
    pub fn new() -> Self {
        AtReader::default()
    }

    /// Records that `line` (a command line, CR optional) was written; responses until the
    /// next final result are attributed to it. Call it before writing, so an echo cannot
    /// arrive first. A command still pending is forgotten.
    pub fn command_sent(&mut self, line: &[u8]) {
        let trimmed = line.trim_ascii();
        self.pending = Some(Pending {
            kind: CommandKind::classify(trimmed),
            echo: trimmed.get(..LINE_OCTETS_MAX).unwrap_or(trimmed).to_vec(),
            echo_seen: false,
            prompt_seen: false,
        });
        self.awaiting_pdu = None;
    }

    /// Forgets the pending command (after a timeout, or the ESC that cancels a send).
    pub fn cancel_pending(&mut self) {
        self.pending = None;
        self.awaiting_pdu = None;
    }

    /// The kind of the pending command, if any.
    pub fn pending_kind(&self) -> Option<CommandKind> {
        self.pending.as_ref().map(|pending| pending.kind)
    }

    /// Back to the state of a new reader (after the modem restarts).
    pub fn reset(&mut self) {
        *self = AtReader::default();
    }

    /// Takes bytes from the modem and returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<AtEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            self.feed_byte(byte, &mut events);
        }
        events
    }

    fn feed_byte(&mut self, byte: u8, events: &mut Vec<AtEvent>) {
        if byte == CR || byte == LF {
            if self.skipping_long_line {
                self.skipping_long_line = false;
            } else if !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, events);
            }
            return;
        }
        if self.skipping_long_line {
            return;
        }
        if self.line.len() >= LINE_OCTETS_MAX {
            self.line.clear();
            self.skipping_long_line = true;
            self.ussd = None;
            events.push(AtEvent::Error(ReadError::LineTooLong {
                limit: LINE_OCTETS_MAX,
            }));
            if let Some(header) = self.awaiting_pdu.take() {
                events.push(AtEvent::Error(ReadError::MissingPduLine {
                    prefix: header.prefix(),
                }));
            }
            return;
        }
        self.line.push(byte);
        if self.line == b"> "
            && let Some(pending) = self.pending.as_mut()
            && pending.kind.expects_prompt()
            && !pending.prompt_seen
        {
            pending.prompt_seen = true;
            self.line.clear();
            events.push(AtEvent::Prompt);
        }
    }

    fn process_line(&mut self, raw: &[u8], events: &mut Vec<AtEvent>) {
        if let Some(mut continuation) = self.ussd.take() {
            continuation.text.push(b'\n');
            continuation.text.extend_from_slice(raw);
            continuation.lines += 1;
            return self.continue_ussd(continuation, events);
        }
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        if line.is_empty() {
            return;
        }
        if let Some(header) = self.awaiting_pdu.take() {
            if hex::is_hex_text(line.as_bytes()) {
                let pdu = hex::decode(line.as_bytes()).unwrap_or_default();
                events.push(match header.complete(pdu) {
                    Ok(response) => AtEvent::Response(response),
                    Err(urc) => AtEvent::Urc(urc),
                });
                return;
            }
            if let Some(Some(Unsolicited::Complete(urc))) = parse_unsolicited(line) {
                events.push(AtEvent::Urc(urc));
                self.awaiting_pdu = Some(header);
                return;
            }
            events.push(AtEvent::Error(ReadError::MissingPduLine {
                prefix: header.prefix(),
            }));
        }
        if self.take_echo(line, events) {
            return;
        }
        let call_progress = self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.kind.ends_with_call_progress());
        if let Some(result) = parse_final(line, call_progress) {
            events.push(match self.pending.take() {
                Some(_) => AtEvent::Final(result),
                None => AtEvent::Error(ReadError::UnexpectedFinal(result)),
            });
            return;
        }
        if let Some(end) = parse_call_end(line) {
            events.push(AtEvent::Urc(Urc::CallEnded(end)));
            return;
        }
        if self.take_response(line, events) {
            return;
        }
        if line.starts_with("+CUSD:") && line.matches('"').count() % 2 == 1 {
            let continuation = UssdContinuation {
                text: line.as_bytes().to_vec(),
                lines: 1,
            };
            return self.continue_ussd(continuation, events);
        }
        match parse_unsolicited(line) {
            Some(Some(Unsolicited::Complete(urc))) => events.push(AtEvent::Urc(urc)),
            Some(Some(Unsolicited::NeedsPdu(header))) => self.awaiting_pdu = Some(header),
            Some(None) => events.push(malformed(line)),
            None if self.pending.is_some() => {
                events.push(AtEvent::Response(Response::Text(line.to_owned())));
            }
            None => events.push(AtEvent::Urc(Urc::Unrecognized(line.to_owned()))),
        }
    }

    /// Recognises the echo of the pending command, or of the PDU after the prompt.
    fn take_echo(&mut self, line: &str, events: &mut Vec<AtEvent>) -> bool {
        let Some(pending) = self.pending.as_mut() else {
            return false;
        };
        let bytes = line.as_bytes();
        let command_echo = !pending.echo_seen && bytes.eq_ignore_ascii_case(&pending.echo);
        let payload_echo = pending.prompt_seen
            && (bytes.last() == Some(&CTRL_Z)
                || hex::is_hex_text(bytes.strip_suffix(&[CTRL_Z]).unwrap_or(bytes)));
        if command_echo {
            pending.echo_seen = true;
        }
        if command_echo || payload_echo {
            let echoed = line.trim_end_matches(char::from(CTRL_Z));
            events.push(AtEvent::Echo(echoed.to_owned()));
            return true;
        }
        false
    }

    /// Parses an information line that carries the pending command's prefix.
    fn take_response(&mut self, line: &str, events: &mut Vec<AtEvent>) -> bool {
        let Some(expected) = self
            .pending
            .as_ref()
            .and_then(|pending| pending.kind.response_prefix())
        else {
            return false;
        };
        let Some((prefix, rest)) = split_prefix(line) else {
            return false;
        };
        if prefix != expected {
            return false;
        }
        // The unsolicited forms of +CREG and +CLIP can arrive during their queries.
        if prefix == "+CREG" && !is_registration_query_form(rest) {
            return false;
        }
        if prefix == "+CLIP" && is_caller_id_form(rest) {
            return false;
        }
        match parse_response(prefix, rest) {
            Some(Ok(response)) => events.push(AtEvent::Response(response)),
            Some(Err(header)) => {
                debug_assert!(header.is_response());
                self.awaiting_pdu = Some(header);
            }
            None => events.push(malformed(line)),
        }
        true
    }

    fn continue_ussd(&mut self, continuation: UssdContinuation, events: &mut Vec<AtEvent>) {
        let closed = continuation
            .text
            .iter()
            .filter(|&&byte| byte == b'"')
            .count()
            % 2
            == 0;
        let text = String::from_utf8_lossy(&continuation.text).into_owned();
        if closed {
            match parse_unsolicited(text.trim()) {
                Some(Some(Unsolicited::Complete(urc))) => events.push(AtEvent::Urc(urc)),
                _ => events.push(malformed(&text)),
            }
            return;
        }
        if continuation.lines >= USSD_CONTINUATION_LINES_MAX
            || continuation.text.len() >= LINE_OCTETS_MAX
        {
            events.push(malformed(&text));
            return;
        }
        self.ussd = Some(continuation);
    }
}

fn malformed(line: &str) -> AtEvent {
    AtEvent::Error(ReadError::Malformed {
        line: line.to_owned(),
    })
}
