//! The simulator's AT dialect as transcripts (tests/transcripts/*.txt), run against the pure
//! machine with a fixed clock: every byte it says is checked, so a change in its dialect
//! shows up as a diff of a readable file. Plus checks that what it stores decodes (through
//! the codec) to what the farmer sent.

use std::path::PathBuf;

use farmco_hardware::codec::at::{AtEvent, AtReader, Response};
use farmco_hardware::codec::pdu::reassembly::{
    IncomingPart, InsertOutcome, ReassemblyBuffer, ReassemblyConfig,
};
use farmco_hardware::codec::pdu::tpdu::{IncomingPdu, IncomingTpdu};
use farmco_hardware::sim::{FaultPlan, SimModem, SimSettings};

/// 2025-06-15T00:00:00Z: a fixed clock, so PDUs and timestamps are reproducible.
const CLOCK_START_MS: u64 = 1_749_945_600_000;

fn unescape(text: &str) -> Vec<u8> {
    text.replace("\\x1A", "\u{1A}")
        .replace("\\x1B", "\u{1B}")
        .replace("\\r", "\r")
        .into_bytes()
}

fn output_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split(['\r', '\n'])
        .map(|line| line.trim_end().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

/// Runs a transcript; panics with the line number at the first difference.
fn check(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut modem = SimModem::new(SimSettings::default());
    let mut now = CLOCK_START_MS;
    let mut pending: Vec<String> = Vec::new();
    let mut pending_from = 0;
    let verify_drained = |pending: &mut Vec<String>, pending_from: usize, line_number: usize| {
        assert!(
            pending.is_empty(),
            "{name}:{line_number}: output after line {pending_from} not listed: {pending:?}"
        );
    };
    for (number, line) in text.lines().enumerate() {
        let line_number = number + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(expected) = line
            .strip_prefix("< ")
            .or_else(|| (line == "<").then_some(""))
        {
            assert!(
                !pending.is_empty(),
                "{name}:{line_number}: expected {expected:?}, the modem said nothing more"
            );
            let actual = pending.remove(0);
            if expected != "*" {
                assert_eq!(actual, expected.trim_end(), "{name}:{line_number}");
            }
            continue;
        }
        verify_drained(&mut pending, pending_from, line_number);
        pending_from = line_number;
        if let Some(raw) = line.strip_prefix(">> ") {
            modem.receive(&unescape(raw), now);
        } else if let Some(command) = line.strip_prefix("> ") {
            let mut bytes = unescape(command);
            bytes.push(b'\r');
            modem.receive(&bytes, now);
        } else if let Some(step) = line.strip_prefix("@ +") {
            now += step.parse::<u64>().unwrap();
            modem.advance(now);
        } else if let Some(action) = line.strip_prefix("! ") {
            let (verb, rest) = action.split_once(' ').unwrap_or((action, ""));
            match verb {
                "sms" => {
                    let (from, text) = rest.split_once(' ').unwrap();
                    modem.deliver_sms(from, text, now).unwrap();
                }
                "call" => {
                    modem.incoming_call(rest, now).unwrap();
                }
                "keys" => {
                    modem.press_keys(rest).unwrap();
                }
                "hangup" => modem.remote_hang_up(now).unwrap(),
                "faults" => {
                    let plan: FaultPlan = serde_json::from_str(rest).unwrap();
                    modem.arm_faults(&plan, now);
                }
                other => panic!("{name}:{line_number}: unknown action {other}"),
            }
        } else {
            panic!("{name}:{line_number}: cannot read {line:?}");
        }
        pending = output_lines(&modem.take_output());
    }
    verify_drained(&mut pending, pending_from, text.lines().count());
}

#[test]
fn basics() {
    check("01_basics.txt");
}

#[test]
fn sms() {
    check("02_sms.txt");
}

#[test]
fn calls() {
    check("03_calls.txt");
}

/// Reads every stored message through the codec's reader and PDU decoder, and reassembles.
#[test]
fn stored_pdus_decode_to_what_the_farmer_sent() {
    let mut modem = SimModem::new(SimSettings::default());
    let hindi = "मेरी गेहूँ की फसल में पीले धब्बे दिख रहे हैं। पत्तियाँ सूख रही हैं और पौधे कमज़ोर हो गए हैं। कृपया बताइए कौन सी दवा डालूँ और कितनी मात्रा में? धन्यवाद।";
    let summary = modem
        .deliver_sms("+919812345678", hindi, CLOCK_START_MS)
        .unwrap();
    assert_eq!(summary.parts, 3);
    modem
        .deliver_sms("AX-KISAN", "{price} €5 [x]", CLOCK_START_MS)
        .unwrap();
    modem.take_output();
    let mut reader = AtReader::new();
    reader.command_sent(b"AT+CMGL=4");
    modem.receive(b"AT+CMGL=4\r", CLOCK_START_MS);
    let mut buffer = ReassemblyBuffer::new(ReassemblyConfig::default());
    let mut texts = Vec::new();
    for event in reader.feed(&modem.take_output()) {
        let AtEvent::Response(Response::ListedMessage(listed)) = event else {
            continue;
        };
        let pdu = IncomingPdu::decode(&listed.pdu.0).unwrap();
        let IncomingTpdu::Deliver(deliver) = pdu.tpdu else {
            panic!("not a deliver");
        };
        assert_eq!(
            deliver.timestamp.unix_seconds() as u64,
            CLOCK_START_MS / 1000
        );
        if let InsertOutcome::Complete(message) = buffer
            .insert(IncomingPart::from(deliver), CLOCK_START_MS)
            .outcome
        {
            texts.push((message.originator.to_display_string(), message.text));
        }
    }
    texts.sort();
    assert_eq!(
        texts,
        vec![
            ("+919812345678".to_owned(), hindi.to_owned()),
            ("AX-KISAN".to_owned(), "{price} €5 [x]".to_owned()),
        ]
    );
}
