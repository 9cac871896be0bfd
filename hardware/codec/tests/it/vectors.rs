//! Decodes every PDU of tests/vectors/sms_vectors.json, which gen_vectors.py keeps only where
//! at least two independent decoders (libGammu, smspdudecoder, python-gsmmodem) agree, and
//! compares text, addresses, concatenation, timestamps and status with theirs. Every PDU must
//! also re-encode octet for octet; where the reference encoder split the text as this crate
//! does, encoding the whole text must reproduce all parts.

use farmco_modem_codec::hex;
use farmco_modem_codec::pdu::dcs::DataCoding;
use farmco_modem_codec::pdu::reassembly::{IncomingPart, InsertOutcome, ReassemblyBuffer};
use farmco_modem_codec::pdu::split::{SubmitOptions, encode_text_submits, split_text};
use farmco_modem_codec::pdu::time::SmscTimestamp;
use farmco_modem_codec::pdu::tpdu::{
    IncomingPdu, IncomingTpdu, OutgoingPdu, SmsDeliver, SmscField,
};
use farmco_modem_codec::pdu::udh::{ConcatReference, Concatenation};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/sms_vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    file["vectors"].as_array().cloned().unwrap_or_default()
}

fn pdu_bytes(part: &Value) -> Vec<u8> {
    let text = part["pdu"].as_str().unwrap_or_default();
    hex::decode(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn local_string(timestamp: &SmscTimestamp) -> String {
    format!(
        "{:02}-{:02}-{:02} {:02}:{:02}:{:02}",
        timestamp.year(),
        timestamp.month(),
        timestamp.day(),
        timestamp.hour(),
        timestamp.minute(),
        timestamp.second()
    )
}

/// "24-03-15T09:00:05Z" as Unix seconds (through a zone-0 timestamp).
fn utc_seconds(text: &str) -> i64 {
    let field = |range: std::ops::Range<usize>| -> u8 {
        text.get(range)
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("{text}"))
    };
    SmscTimestamp::new(
        field(0..2),
        field(3..5),
        field(6..8),
        field(9..11),
        field(12..14),
        field(15..17),
        0,
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"))
    .unix_seconds()
}

fn check_concatenation(name: &str, part: &Value, concatenation: Option<Concatenation>) {
    let expected = part["concat"].as_array().map(|values| {
        values
            .iter()
            .map(|value| value.as_u64().unwrap_or(u64::MAX))
            .collect::<Vec<_>>()
    });
    let actual = concatenation.map(|info| {
        let reference = match info.reference {
            ConcatReference::Eight(reference) => u64::from(reference),
            ConcatReference::Sixteen(reference) => u64::from(reference),
        };
        vec![reference, u64::from(info.total), u64::from(info.sequence)]
    });
    assert_eq!(actual, expected, "{name}: concatenation");
}

#[test]
fn every_vector_decodes_as_the_reference_decoders_agree() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 15,
        "expected the committed vectors, found {}",
        vectors.len()
    );
    let mut checked_parts = 0;
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap_or_default();
        let kind = vector["kind"].as_str().unwrap_or_default();
        for part in vector["parts"].as_array().into_iter().flatten() {
            let bytes = pdu_bytes(part);
            let expected_text = part["text"].as_str();
            let expected_number = part["number"].as_str();
            match kind {
                "submit" => {
                    let pdu = OutgoingPdu::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    let submit = &pdu.submit;
                    assert_eq!(
                        Some(submit.user_data.to_text_lossy().as_str()),
                        expected_text,
                        "{name}"
                    );
                    assert_eq!(
                        Some(submit.destination.to_display_string().as_str()),
                        expected_number,
                        "{name}"
                    );
                    let concatenation = submit
                        .user_data
                        .header
                        .as_ref()
                        .and_then(|h| h.concatenation_info());
                    check_concatenation(name, part, concatenation);
                    assert_eq!(
                        pdu.encode().map(|e| e.bytes().to_vec()),
                        Ok(bytes.clone()),
                        "{name}: re-encode"
                    );
                }
                "deliver" | "status_report" => {
                    let pdu = IncomingPdu::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    let (timestamp, number) = match &pdu.tpdu {
                        IncomingTpdu::Deliver(deliver) => {
                            assert_eq!(kind, "deliver", "{name}");
                            assert_eq!(
                                Some(deliver.user_data.to_text_lossy().as_str()),
                                expected_text,
                                "{name}"
                            );
                            let concatenation = deliver
                                .user_data
                                .header
                                .as_ref()
                                .and_then(|h| h.concatenation_info());
                            check_concatenation(name, part, concatenation);
                            (deliver.timestamp, deliver.originator.to_display_string())
                        }
                        IncomingTpdu::StatusReport(report) => {
                            assert_eq!(kind, "status_report", "{name}");
                            assert_eq!(
                                Some(u64::from(report.message_reference)),
                                part["reference"].as_u64(),
                                "{name}"
                            );
                            assert_eq!(
                                Some(u64::from(report.status.0)),
                                part["status"].as_u64(),
                                "{name}"
                            );
                            (report.timestamp, report.recipient.to_display_string())
                        }
                    };
                    assert_eq!(Some(number.as_str()), expected_number, "{name}: address");
                    if let Some(local) = part["scts_local"].as_str() {
                        assert_eq!(local_string(&timestamp), local, "{name}: local time");
                    }
                    if let Some(utc) = part["scts_utc"].as_str() {
                        assert_eq!(
                            timestamp.unix_seconds(),
                            utc_seconds(utc),
                            "{name}: instant"
                        );
                    }
                    assert_eq!(
                        pdu.encode().map(|e| e.bytes().to_vec()),
                        Ok(bytes.clone()),
                        "{name}: re-encode"
                    );
                }
                other => panic!("{name}: unknown kind {other}"),
            }
            checked_parts += 1;
        }
    }
    assert!(checked_parts >= 25, "only {checked_parts} parts checked");
}

fn reference_of(concatenation: Option<Concatenation>) -> ConcatReference {
    concatenation.map_or(ConcatReference::Eight(0), |info| info.reference)
}

#[test]
fn text_re_encodes_to_the_same_parts_where_the_split_agrees() {
    let mut re_encoded = 0;
    for vector in vectors() {
        let name = vector["name"].as_str().unwrap_or_default();
        let Some(text) = vector["text"].as_str() else {
            continue;
        };
        if vector["split_matches_crate"].as_bool() != Some(true) {
            continue;
        }
        let parts: Vec<Vec<u8>> = vector["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(pdu_bytes)
            .collect();
        let Some(first) = parts.first() else {
            continue;
        };
        match vector["kind"].as_str() {
            Some("submit") => {
                let pdu = OutgoingPdu::decode(first).unwrap_or_else(|e| panic!("{name}: {e}"));
                let submit = &pdu.submit;
                if submit.message_reference != 0 || submit.protocol_identifier != 0 {
                    continue;
                }
                let options = SubmitOptions {
                    smsc: pdu.smsc.clone(),
                    validity_period: submit.validity_period,
                    status_report_request: submit.status_report_request,
                    reject_duplicates: submit.reject_duplicates,
                    class: submit.data_coding.class(),
                };
                let reference = reference_of(
                    submit
                        .user_data
                        .header
                        .as_ref()
                        .and_then(|h| h.concatenation_info()),
                );
                let encoded = encode_text_submits(&submit.destination, text, reference, &options)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let encoded: Vec<Vec<u8>> =
                    encoded.iter().map(|pdu| pdu.bytes().to_vec()).collect();
                assert_eq!(encoded, parts, "{name}");
                re_encoded += 1;
            }
            Some("deliver") => {
                let IncomingPdu {
                    smsc,
                    tpdu: IncomingTpdu::Deliver(template),
                } = IncomingPdu::decode(first).unwrap_or_else(|e| panic!("{name}: {e}"))
                else {
                    panic!("{name}: not a deliver");
                };
                let reference = reference_of(
                    template
                        .user_data
                        .header
                        .as_ref()
                        .and_then(|h| h.concatenation_info()),
                );
                let split = split_text(text, reference).unwrap_or_else(|e| panic!("{name}: {e}"));
                let encoded: Vec<Vec<u8>> = split
                    .into_iter()
                    .map(|user_data| {
                        let deliver = SmsDeliver {
                            data_coding: DataCoding::new(user_data.body.alphabet(), None),
                            user_data,
                            ..template.clone()
                        };
                        IncomingPdu {
                            smsc: smsc.clone(),
                            tpdu: IncomingTpdu::Deliver(deliver),
                        }
                        .encode()
                        .map(|pdu| pdu.bytes().to_vec())
                        .unwrap_or_else(|e| panic!("{name}: {e}"))
                    })
                    .collect();
                assert_eq!(encoded, parts, "{name}");
                re_encoded += 1;
            }
            _ => {}
        }
    }
    assert!(re_encoded >= 12, "only {re_encoded} vectors re-encoded");
}

#[test]
fn multipart_vectors_reassemble_in_reverse_order() {
    let mut reassembled = 0;
    for vector in vectors() {
        let name = vector["name"].as_str().unwrap_or_default();
        let parts = vector["parts"].as_array().cloned().unwrap_or_default();
        if parts.len() < 2 || vector["kind"].as_str() != Some("deliver") {
            continue;
        }
        let mut buffer = ReassemblyBuffer::default();
        let mut outcome = None;
        for (now_ms, part) in parts.iter().rev().enumerate() {
            let pdu =
                IncomingPdu::decode(&pdu_bytes(part)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let IncomingTpdu::Deliver(deliver) = pdu.tpdu else {
                panic!("{name}: not a deliver");
            };
            outcome = Some(
                buffer
                    .insert(IncomingPart::from(deliver), now_ms as u64)
                    .outcome,
            );
        }
        let Some(InsertOutcome::Complete(message)) = outcome else {
            panic!("{name}: not complete: {outcome:?}");
        };
        assert_eq!(
            Some(message.text.as_str()),
            vector["text"].as_str(),
            "{name}"
        );
        reassembled += 1;
    }
    assert!(reassembled >= 2);
}

#[test]
fn smsc_field_variants_round_trip() {
    // The classic PDU uses the default SMSC (00); the same TPDU without any SMSC field.
    let bytes =
        hex::decode(b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37").unwrap_or_default();
    let with_default = OutgoingPdu::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(with_default.smsc, SmscField::Default);
    let bare = OutgoingPdu::decode_without_smsc(&bytes[1..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bare.submit, with_default.submit);
    let encoded = bare.encode().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(encoded.bytes(), &bytes[1..]);
    assert_eq!(encoded.tpdu_length(), bytes.len() - 1);
}
