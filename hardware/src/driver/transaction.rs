//! One AT command exchange as a pure state machine: the driver writes the line this returns,
//! feeds it the reader's events, writes whatever it asks (the PDU after the `> ` prompt) and
//! stops at a [`Progress::Done`]. Time is the driver's business (it owns the deadline); URCs
//! that arrive mid-exchange are handed back for the driver to act on afterwards.
//!
//! A `RDY` in the middle of an exchange means the modem rebooted under us: the exchange ends
//! with [`Progress::Rebooted`] at once instead of waiting out a 60 s send timeout.

use farmco_modem_codec::at::command::AtCommand;
use farmco_modem_codec::at::reader::{AtEvent, AtReader, ReadError};
use farmco_modem_codec::at::response::{FinalResult, ListedMessage, Response, StoredMessage, Urc};

/// Information lines kept per exchange: a `+CMGL` of a full 255-slot SIM is 255 entries.
pub(crate) const RESPONSES_MAX: usize = 512;

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Wait for more bytes.
    Pending,
    /// Write these bytes (the PDU and Ctrl-Z), then wait.
    Write(Vec<u8>),
    /// The command finished.
    Done(Completed),
    /// The modem announced a reboot; the command is lost.
    Rebooted,
}

/// A finished exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completed {
    /// The final result code.
    pub(crate) result: FinalResult,
    /// Information lines, in order.
    pub(crate) responses: Vec<Response>,
}

impl Completed {
    /// The `+CMGS: <mr>` reference.
    pub(crate) fn message_reference(&self) -> Option<u8> {
        self.responses.iter().find_map(|response| match response {
            Response::MessageReference(reference) => Some(*reference),
            _ => None,
        })
    }

    /// The `+CMGR` message.
    pub(crate) fn stored_message(&self) -> Option<&StoredMessage> {
        self.responses.iter().find_map(|response| match response {
            Response::StoredMessage(message) => Some(message),
            _ => None,
        })
    }

    /// The `+CMGL` entries.
    pub(crate) fn listed_messages(&self) -> impl Iterator<Item = &ListedMessage> {
        self.responses.iter().filter_map(|response| match response {
            Response::ListedMessage(message) => Some(message),
            _ => None,
        })
    }
}

/// An exchange in progress.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    payload: Option<Vec<u8>>,
    prompt_seen: bool,
    responses: Vec<Response>,
    speech_prefix: Option<&'static str>,
    garbage_lines: u64,
}

impl Exchange {
    /// Starts `command`: tells the reader, returns the exchange and the line to write.
    /// `speech_prefix` is the profile's end-of-speech URC, which a pending command would
    /// otherwise swallow as a text line.
    pub(crate) fn start(
        command: &AtCommand,
        reader: &mut AtReader,
        speech_prefix: Option<&'static str>,
    ) -> (Exchange, Vec<u8>) {
        let line = command.encode();
        reader.command_sent(&line);
        (
            Exchange {
                payload: command.payload(),
                prompt_seen: false,
                responses: Vec::new(),
                speech_prefix,
                garbage_lines: 0,
            },
            line,
        )
    }

    /// True once the `> ` prompt came (a timeout then needs an ESC to cancel the send).
    pub(crate) fn prompt_seen(&self) -> bool {
        self.prompt_seen
    }

    /// Unparseable lines seen.
    pub(crate) fn garbage_lines(&self) -> u64 {
        self.garbage_lines
    }

    /// Takes one reader event; URCs go to `urcs`.
    pub(crate) fn on_event(&mut self, event: AtEvent, urcs: &mut Vec<Urc>) -> Progress {
        match event {
            AtEvent::Echo(_) => Progress::Pending,
            AtEvent::Prompt => {
                self.prompt_seen = true;
                match self.payload.take() {
                    Some(payload) => Progress::Write(payload),
                    None => Progress::Pending,
                }
            }
            AtEvent::Response(Response::Text(text))
                if self
                    .speech_prefix
                    .is_some_and(|prefix| text.starts_with(prefix)) =>
            {
                urcs.push(Urc::Unrecognized(text));
                Progress::Pending
            }
            AtEvent::Response(Response::Text(text)) if is_garbage(&text) => {
                self.garbage_lines += 1;
                Progress::Pending
            }
            AtEvent::Response(response) => {
                if self.responses.len() < RESPONSES_MAX {
                    self.responses.push(response);
                }
                Progress::Pending
            }
            AtEvent::Final(result) => Progress::Done(Completed {
                result,
                responses: std::mem::take(&mut self.responses),
            }),
            AtEvent::Urc(Urc::ModemReady) => {
                urcs.push(Urc::ModemReady);
                Progress::Rebooted
            }
            AtEvent::Urc(urc) => {
                urcs.push(urc);
                Progress::Pending
            }
            AtEvent::Error(ReadError::UnexpectedFinal(_)) => Progress::Pending,
            AtEvent::Error(_) => {
                self.garbage_lines += 1;
                Progress::Pending
            }
        }
    }
}

/// True for a text line that cannot be anything a modem says: control bytes or U+FFFD from
/// invalid UTF-8. ESC is not counted: it is the echo of the ESC the driver itself sends to
/// leave a stale `> ` prompt.
pub(crate) fn is_garbage(text: &str) -> bool {
    text.chars().any(|character| {
        character == '\u{FFFD}'
            || (character.is_control() && character != '\t' && character != '\u{1B}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use farmco_modem_codec::at::command::AtCommand;
    use farmco_modem_codec::pdu::tpdu::EncodedPdu;

    fn run(command: &AtCommand, modem_says: &[&[u8]]) -> (Vec<Progress>, Vec<Urc>) {
        let mut reader = AtReader::new();
        let (mut exchange, _line) = Exchange::start(command, &mut reader, Some("+CTTS:"));
        let mut progress = Vec::new();
        let mut urcs = Vec::new();
        for bytes in modem_says {
            for event in reader.feed(bytes) {
                let step = exchange.on_event(event, &mut urcs);
                if step != Progress::Pending {
                    progress.push(step);
                }
            }
        }
        (progress, urcs)
    }

    #[test]
    fn send_writes_the_pdu_after_the_prompt() {
        let pdu = EncodedPdu::with_smsc(vec![0, 1, 0, 1, 0x81, 0, 0, 0])
            .unwrap_or_else(|e| panic!("{e}"));
        let command = AtCommand::SendMessage(pdu);
        let (progress, urcs) = run(
            &command,
            &[
                b"AT+CMGS=7\r\r\n> ",
                b"\r\n+CMTI: \"SM\",3\r\n",
                b"\r\n+CMGS: 17\r\n\r\nOK\r\n",
            ],
        );
        assert_eq!(progress.len(), 2);
        assert_eq!(
            progress[0],
            Progress::Write(b"0001000181000000\x1A".to_vec())
        );
        let Progress::Done(done) = &progress[1] else {
            panic!("{progress:?}");
        };
        assert_eq!(done.message_reference(), Some(17));
        assert_eq!(urcs.len(), 1);
    }

    #[test]
    fn reboot_ends_the_exchange_and_garbage_is_counted() {
        let (progress, urcs) = run(
            &AtCommand::SignalQuality,
            &[b"\x00\xff\xfe~junk\r\n", b"\r\nRDY\r\n"],
        );
        assert_eq!(progress, vec![Progress::Rebooted]);
        assert_eq!(urcs, vec![Urc::ModemReady]);
        let (progress, urcs) = run(
            &AtCommand::SignalQuality,
            &[b"\r\n+CTTS: 0\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n"],
        );
        assert!(matches!(&progress[..], [Progress::Done(_)]));
        assert_eq!(urcs, vec![Urc::Unrecognized("+CTTS: 0".into())]);
    }
}
