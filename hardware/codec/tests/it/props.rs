//! Property tests: splitting any text and reassembling it in any order with duplicates gives
//! the text back, every part fits an SMS, part counts follow the formulas; PDUs round-trip;
//! decoders and the AT reader never panic and do not care how bytes are split.

use farmco_modem_codec::at::AtReader;
use farmco_modem_codec::pdu::address::Address;
use farmco_modem_codec::pdu::dcs::{Alphabet, DataCoding};
use farmco_modem_codec::pdu::gsm7::{self, DEFAULT_ALPHABET, ESCAPE, EXTENSION_TABLE};
use farmco_modem_codec::pdu::reassembly::{IncomingPart, InsertOutcome, ReassemblyBuffer};
use farmco_modem_codec::pdu::split::{septets_per_part, split_text, ucs2_units_per_part};
use farmco_modem_codec::pdu::time::{SmscTimestamp, ValidityPeriod};
use farmco_modem_codec::pdu::tpdu::{
    IncomingPdu, IncomingTpdu, OutgoingPdu, SmsDeliver, SmsSubmit, SmscField,
};
use farmco_modem_codec::pdu::udh::ConcatReference;
use farmco_modem_codec::pdu::user_data::{UserData, UserDataBody};
use proptest::prelude::*;

use crate::harness;

fn gsm_char() -> impl Strategy<Value = char> {
    let mut characters: Vec<char> = DEFAULT_ALPHABET
        .iter()
        .enumerate()
        .filter(|(septet, _)| *septet != usize::from(ESCAPE))
        .map(|(_, character)| *character)
        .collect();
    characters.extend(EXTENSION_TABLE.iter().map(|(_, character)| *character));
    prop::sample::select(characters)
}

fn gsm_text() -> impl Strategy<Value = String> {
    prop::collection::vec(gsm_char(), 0..700).prop_map(|chars| chars.into_iter().collect())
}

fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..400).prop_map(|chars| chars.into_iter().collect())
}

fn reference() -> impl Strategy<Value = ConcatReference> {
    prop_oneof![
        any::<u8>().prop_map(ConcatReference::Eight),
        any::<u16>().prop_map(ConcatReference::Sixteen),
    ]
}

fn farmer() -> Address {
    Address::international("919876543210").unwrap_or_else(|e| panic!("{e}"))
}

/// Parts a greedy split of these per-character costs gives: the rule written again here,
/// independently of src/pdu/split.rs.
fn greedy_parts(costs: &[usize], single: usize, per_part: usize) -> usize {
    if costs.iter().sum::<usize>() <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for &cost in costs {
        if used + cost > per_part {
            parts += 1;
            used = 0;
        }
        used += cost;
    }
    parts
}

/// The checks on one split: alphabet, size of each part, count of parts.
fn check_split(text: &str, reference: ConcatReference) -> Vec<UserData> {
    let parts = split_text(text, reference).unwrap_or_else(|e| panic!("{e}"));
    let gsm = gsm7::is_encodable(text);
    let expected_alphabet = if gsm { Alphabet::Gsm7 } else { Alphabet::Ucs2 };
    for part in &parts {
        assert_eq!(part.body.alphabet(), expected_alphabet);
        let header_octets = part
            .header
            .as_ref()
            .map_or(0, |header| header.encoded_len());
        let octets = match &part.body {
            UserDataBody::Gsm7(septets) => {
                ((header_octets * 8).div_ceil(7) + septets.len()) * 7 / 8
            }
            UserDataBody::Ucs2(units) => header_octets + 2 * units.len(),
            UserDataBody::Data8(octets) => header_octets + octets.len(),
        };
        assert!(octets <= 140, "part of {octets} octets");
        // And the codec agrees: the part encodes.
        let submit = SmsSubmit {
            reject_duplicates: false,
            reply_path: false,
            status_report_request: false,
            message_reference: 0,
            destination: farmer(),
            protocol_identifier: 0,
            data_coding: DataCoding::new(expected_alphabet, None),
            validity_period: None,
            user_data: part.clone(),
        };
        assert!(submit.encode_tpdu().is_ok());
    }
    let (costs, single, per_part): (Vec<usize>, usize, usize) = if gsm {
        let costs = text
            .chars()
            .map(|c| {
                if EXTENSION_TABLE.iter().any(|(_, e)| *e == c) {
                    2
                } else {
                    1
                }
            })
            .collect();
        (costs, 160, septets_per_part(reference))
    } else {
        (
            text.chars().map(char::len_utf16).collect(),
            70,
            ucs2_units_per_part(reference),
        )
    };
    let total: usize = costs.iter().sum();
    assert_eq!(parts.len(), greedy_parts(&costs, single, per_part));
    if total > single {
        // The textbook formula holds exactly when no character costs two units...
        if costs.iter().all(|&cost| cost == 1) {
            assert_eq!(parts.len(), total.div_ceil(per_part));
        }
        // ...and bounds the count otherwise.
        assert!(parts.len() >= total.div_ceil(per_part));
        assert!(parts.len() <= total.div_ceil(per_part - 1));
    } else {
        assert_eq!(parts.len(), 1);
    }
    parts
}

/// Feeds the parts in an order drawn from `seed`, repeating some, and checks the text comes
/// back exactly once and every repeat is reported as a duplicate.
fn check_reassembly(text: &str, parts: Vec<UserData>, seed: u64) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let multipart = parts.len() > 1;
    let mut order: Vec<UserData> = Vec::new();
    let mut repeats = 0;
    for part in parts {
        if multipart && next() % 3 == 0 {
            order.push(part.clone());
            repeats += 1;
        }
        order.push(part);
    }
    for index in (1..order.len()).rev() {
        let other = (next() % (index as u64 + 1)) as usize;
        order.swap(index, other);
    }
    let mut buffer = ReassemblyBuffer::default();
    let mut completed = Vec::new();
    let mut duplicates = 0;
    for (now_ms, user_data) in order.into_iter().enumerate() {
        let part = IncomingPart {
            originator: farmer(),
            timestamp: None,
            user_data,
        };
        let result = buffer.insert(part, now_ms as u64);
        assert_eq!(result.evicted, None);
        match result.outcome {
            InsertOutcome::Complete(message) => completed.push(message.text),
            InsertOutcome::Duplicate => duplicates += 1,
            InsertOutcome::Pending { .. } => {}
        }
    }
    assert_eq!(completed, vec![text.to_owned()]);
    assert_eq!(duplicates, repeats);
    assert_eq!(buffer.pending_set_count(), 0);
}

fn address() -> impl Strategy<Value = Address> {
    let digits = "[0-9*#abc]{0,20}";
    prop_oneof![
        digits.prop_map(|d| Address::international(&d).unwrap_or_else(|e| panic!("{e}"))),
        digits.prop_map(|d| Address::from_dialled(&d).unwrap_or_else(|e| panic!("{e}"))),
        digits.prop_map(|d| Address::national(&d).unwrap_or_else(|e| panic!("{e}"))),
        prop::collection::vec(gsm_char(), 0..6).prop_filter_map("too long", |chars| {
            Address::alphanumeric(&chars.into_iter().collect::<String>()).ok()
        }),
    ]
}

fn timestamp() -> impl Strategy<Value = SmscTimestamp> {
    (
        0u8..100,
        1u8..13,
        1u8..32,
        0u8..24,
        0u8..60,
        0u8..60,
        -79i8..80,
    )
        .prop_map(|(year, month, day, hour, minute, second, zone)| {
            SmscTimestamp::new(year, month, day, hour, minute, second, zone)
                .unwrap_or_else(|e| panic!("{e}"))
        })
}

fn validity() -> impl Strategy<Value = Option<ValidityPeriod>> {
    prop_oneof![
        Just(None),
        any::<u8>().prop_map(|octet| Some(ValidityPeriod::Relative(octet))),
        timestamp().prop_map(|timestamp| Some(ValidityPeriod::Absolute(timestamp))),
        any::<[u8; 7]>().prop_map(|octets| Some(ValidityPeriod::Enhanced(octets))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_text_splits_and_reassembles(text in any_text(), reference in reference(), seed in any::<u64>()) {
        let parts = check_split(&text, reference);
        check_reassembly(&text, parts, seed);
    }

    #[test]
    fn gsm_text_splits_and_reassembles(text in gsm_text(), reference in reference(), seed in any::<u64>()) {
        let parts = check_split(&text, reference);
        check_reassembly(&text, parts, seed);
    }

    #[test]
    fn submit_and_deliver_round_trip(
        text in prop_oneof![gsm_text(), any_text()],
        reference in reference(),
        party in address(),
        smsc in prop_oneof![Just(None), address().prop_filter("numeric", |a| matches!(a, Address::Numeric { .. })).prop_map(Some)],
        validity_period in validity(),
        timestamp in timestamp(),
        flags in any::<[bool; 4]>(),
        message_reference in any::<u8>(),
    ) {
        for user_data in split_text(&text, reference).unwrap_or_default() {
            let data_coding = DataCoding::new(user_data.body.alphabet(), None);
            let submit = OutgoingPdu {
                smsc: smsc.clone().map_or(SmscField::Default, SmscField::Address),
                submit: SmsSubmit {
                    reject_duplicates: flags[0],
                    reply_path: flags[1],
                    status_report_request: flags[2],
                    message_reference,
                    destination: party.clone(),
                    protocol_identifier: 0,
                    data_coding,
                    validity_period,
                    user_data: user_data.clone(),
                },
            };
            let encoded = submit.encode().unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(OutgoingPdu::decode(encoded.bytes()), Ok(submit));
            let deliver = IncomingPdu {
                smsc: smsc.clone(),
                tpdu: IncomingTpdu::Deliver(SmsDeliver {
                    more_messages_waiting: flags[0],
                    loop_prevention: flags[1],
                    reply_path: flags[2],
                    status_report_indication: flags[3],
                    originator: party.clone(),
                    protocol_identifier: 0,
                    data_coding,
                    timestamp,
                    user_data,
                }),
            };
            let encoded = deliver.encode().unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(IncomingPdu::decode(encoded.bytes()), Ok(deliver));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn pdu_decoders_never_panic_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        harness::pdu_decode(&data);
    }

    #[test]
    fn pdu_decoders_never_panic_on_mutated_pdus(
        pdu in prop::sample::select(MUTATION_BASES.to_vec()),
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        // A valid PDU with one octet changed and a random length: reaches deep into the
        // decoder instead of failing at the first field.
        let mut bytes = farmco_modem_codec::hex::decode(pdu.as_bytes()).unwrap_or_default();
        let at = position.index(bytes.len());
        bytes[at] = value;
        bytes.truncate(cut.index(bytes.len() + 1));
        harness::pdu_decode(&bytes);
    }

    #[test]
    fn at_reader_never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        harness::at_reader(&data);
    }

    #[test]
    fn at_reader_events_do_not_depend_on_the_split(
        lines in prop::collection::vec(prop::sample::select(PLAUSIBLE_LINES.to_vec()), 0..24),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        command in prop::sample::select(vec!["AT+CMGL=4", "AT+CMGS=23", "AT+CSQ", "AT+CREG?", "ATD123;"]),
    ) {
        let bytes: Vec<u8> = lines.iter().flat_map(|line| line.bytes()).collect();
        let mut whole = AtReader::new();
        whole.command_sent(command.as_bytes());
        let expected = whole.feed(&bytes);
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut split = AtReader::new();
        split.command_sent(command.as_bytes());
        let mut actual = Vec::new();
        let mut start = 0;
        for point in points.into_iter().chain(std::iter::once(bytes.len())) {
            actual.extend(split.feed(&bytes[start..point]));
            start = point;
        }
        prop_assert_eq!(actual, expected);
    }
}

/// Valid PDUs from tests/vectors: 7-bit and UCS-2 concatenated SMS-DELIVERs, a
/// status report, an SMS-SUBMIT.
const MUTATION_BASES: [&str; 4] = [
    "0791198904100100400C91198967452301000042305141035022530500037F0202D2EE8DCF059296E1EC3C280632BFE520B83C3D2ECF411B20480632BFE5A07B394C4797E5A04D0F340399DF7210BACC86BB40C3F79CAE03C140C5AA14F402C1409BB20B",
    "0791198904100100400C91198967452301000842305141035022540500037F03030930094000200915094700200932093F090F002000310020092D0947091C09470902002C0020092E094C0938092E00200915094700200932093F090F002000320020092D0947091C094709020964",
    "0791198904100100062A0C91198967452301423051410350224230514113602200",
    "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
];

/// Realistic modem output fragments, terminators included.
const PLAUSIBLE_LINES: [&str; 16] = [
    "\r\nOK\r\n",
    "\r\n> ",
    "AT+CMGS=23\r",
    "\r\n+CMGS: 7\r\n",
    "\r\n+CMTI: \"SM\",3\r\n",
    "\r\n+CMGL: 1,0,,24\r\n",
    "0791198904100100440C91198967452301000042305141035022\r\n",
    "\r\n+CMT: ,24\r\n",
    "\r\nRING\r\n",
    "\r\n+CLIP: \"+919876543210\",145,\"\",0,\"\",0\r\n",
    "\r\n+CSQ: 17,99\r\n",
    "\r\n+CREG: 1,\"00C3\",\"1A2B\"\r\n",
    "\r\n+CUSD: 0,\"Bal\r\nRs 5\",15\r\n",
    "\r\nNO CARRIER\r\n",
    "\r\n+CMS ERROR: 500\r\n",
    "\u{0}\u{ff}garbage\r",
];

#[test]
fn form_feed_and_every_extension_character_round_trip() {
    let text = "\u{c}^{}\\[~]|€";
    let parts = check_split(text, ConcatReference::Eight(1));
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].to_text_lossy(), text);
}
