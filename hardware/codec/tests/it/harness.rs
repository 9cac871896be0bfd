//! The bodies of the fuzz targets, shared with the ordinary test that replays committed crash
//! inputs (tests/it/crashers.rs): the fuzz crate includes this file by path, so a crasher is
//! replayed through exactly the code that found it.
//!
//! Each function takes arbitrary bytes and asserts the codec's invariants; a failed assertion
//! is a bug in the codec, not in the input.

#![allow(dead_code)]

use farmco_modem_codec::at::{AtEvent, AtReader};
use farmco_modem_codec::pdu::address::Address;
use farmco_modem_codec::pdu::reassembly::{IncomingPart, InsertOutcome, ReassemblyBuffer};
use farmco_modem_codec::pdu::split::split_text;
use farmco_modem_codec::pdu::tpdu::{IncomingPdu, OutgoingPdu};
use farmco_modem_codec::pdu::udh::ConcatReference;

/// Command lines the AT target pretends to have sent, picked by the first input byte.
const COMMANDS: [&[u8]; 10] = [
    b"",
    b"AT+CSQ",
    b"AT+CMGL=4",
    b"AT+CMGR=3",
    b"AT+CMGS=23",
    b"AT+CREG?",
    b"AT+CPMS?",
    b"ATD+919876543210;",
    b"AT+CLIP?",
    b"AT+CUSD=1,\"*123#\",15",
];

fn reader_for(selector: u8) -> AtReader {
    let mut reader = AtReader::new();
    let command = COMMANDS[usize::from(selector) % COMMANDS.len()];
    if !command.is_empty() {
        reader.command_sent(command);
    }
    reader
}

/// Feeds `data[2..]` to a reader in chunks of `data[1] % 17 + 1` bytes, after telling it the
/// command `data[0]` selects. Invariants: no panic; at most one event per byte over the whole
/// stream, and at most one more than its length from a single feed (its first byte may
/// complete a line that gives two events); the events do not depend on how the bytes were
/// split.
pub fn at_reader(data: &[u8]) {
    let [selector, chunk, bytes @ ..] = data else {
        return;
    };
    let mut chunked = reader_for(*selector);
    let chunk_size = usize::from(*chunk % 17) + 1;
    let mut chunked_events: Vec<AtEvent> = Vec::new();
    for piece in bytes.chunks(chunk_size) {
        let events = chunked.feed(piece);
        assert!(
            events.len() <= piece.len() + 1,
            "too many events from one feed"
        );
        chunked_events.extend(events);
    }
    assert!(
        chunked_events.len() <= bytes.len(),
        "more events than bytes"
    );
    let mut whole = reader_for(*selector);
    let whole_events = whole.feed(bytes);
    assert_eq!(chunked_events, whole_events, "events depend on the split");
}

/// Decodes `data` as every kind of PDU. Invariants: no panic; whatever decodes re-encodes, and
/// the re-encoding decodes to the same value. Then splits `data` (as lossy UTF-8 text) into
/// parts and reassembles them: the text comes back whole.
pub fn pdu_decode(data: &[u8]) {
    if let Ok(pdu) = IncomingPdu::decode(data) {
        let encoded = pdu
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        assert_eq!(IncomingPdu::decode(encoded.bytes()).as_ref(), Ok(&pdu));
    }
    if let Ok(pdu) = OutgoingPdu::decode(data) {
        let encoded = pdu
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        assert_eq!(OutgoingPdu::decode(encoded.bytes()).as_ref(), Ok(&pdu));
    }
    if let Ok(pdu) = OutgoingPdu::decode_without_smsc(data) {
        let encoded = pdu
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        assert_eq!(
            OutgoingPdu::decode_without_smsc(encoded.bytes()).as_ref(),
            Ok(&pdu)
        );
    }
    let text = String::from_utf8_lossy(data);
    split_and_reassemble(
        &text,
        ConcatReference::Eight(data.first().copied().unwrap_or(0)),
    );
}

/// Splits `text`, checks each part fits an SMS, feeds the parts in reverse to a reassembly
/// buffer and checks the text comes back.
pub fn split_and_reassemble(text: &str, reference: ConcatReference) {
    let Ok(parts) = split_text(text, reference) else {
        return;
    };
    let originator = Address::international("919876543210").unwrap_or_else(|e| panic!("{e}"));
    let mut buffer = ReassemblyBuffer::default();
    let mut completed = None;
    for user_data in parts.into_iter().rev() {
        let outcome = buffer
            .insert(
                IncomingPart {
                    originator: originator.clone(),
                    timestamp: None,
                    user_data,
                },
                0,
            )
            .outcome;
        if let InsertOutcome::Complete(message) = outcome {
            completed = Some(message.text);
        }
    }
    assert_eq!(completed.as_deref(), Some(text));
}
