//! Turning text into SMS parts: choose the alphabet, split at part boundaries, add the
//! concatenation header (TS 23.040 §9.2.3.24.1, TS 23.038 §6.2).
//!
//! The rules: GSM 7-bit when every character is in the default alphabet or the extension
//! table, else UCS-2 (UTF-16). One part holds 160 septets or 70 UTF-16 units; parts of a
//! longer message hold 153 septets / 67 units with an 8-bit reference, 152 / 66 with a
//! 16-bit one. Splitting is per character, so an escape never leaves its character and a
//! surrogate pair is never cut.
//!
//! Limits: at most [`PARTS_MAX`] parts, the most the one-octet part count can say.

use super::PduError;
use super::address::Address;
use super::dcs::{Alphabet, DataCoding, MessageClass};
use super::gsm7;
use super::time::ValidityPeriod;
use super::tpdu::{EncodedPdu, SmsSubmit, SmscField};
use super::udh::{ConcatReference, Concatenation, UserDataHeader};
use super::user_data::{UserData, UserDataBody};

/// Most parts a concatenated message can have (the part count is one octet).
pub const PARTS_MAX: usize = 255;
/// Longest text (in UTF-8 octets) that can fit [`PARTS_MAX`] parts: at best two octets of
/// UTF-8 per septet (Greek capitals), 153 septets a part. Longer text is rejected before any
/// splitting work is done.
pub const TEXT_OCTETS_MAX: usize = PARTS_MAX * 153 * 2;
/// Septets in a single-part 7-bit message.
pub const SINGLE_PART_SEPTETS_MAX: usize = 160;
/// UTF-16 units in a single-part UCS-2 message.
pub const SINGLE_PART_UCS2_UNITS_MAX: usize = 70;

/// Septets of text per part of a concatenated message: 160 less the header (6 octets with an
/// 8-bit reference, 7 with a 16-bit one) rounded up to septets.
pub fn septets_per_part(reference: ConcatReference) -> usize {
    match reference {
        ConcatReference::Eight(_) => 153,
        ConcatReference::Sixteen(_) => 152,
    }
}

/// UTF-16 units of text per part of a concatenated message: (140 − header octets) / 2.
pub fn ucs2_units_per_part(reference: ConcatReference) -> usize {
    match reference {
        ConcatReference::Eight(_) => 67,
        ConcatReference::Sixteen(_) => 66,
    }
}

/// The alphabet [`split_text`] uses for `text`.
pub fn choose_alphabet(text: &str) -> Alphabet {
    if gsm7::is_encodable(text) {
        Alphabet::Gsm7
    } else {
        Alphabet::Ucs2
    }
}

/// Splits `text` into the user data of one or more parts; parts of a concatenated message
/// carry `reference`, which the caller picks (a counter per recipient, or any counter).
pub fn split_text(text: &str, reference: ConcatReference) -> Result<Vec<UserData>, PduError> {
    if text.len() > TEXT_OCTETS_MAX {
        return Err(PduError::TextTooLong { octets: text.len() });
    }
    let bodies = match choose_alphabet(text) {
        Alphabet::Gsm7 => split_gsm7(text, septets_per_part(reference)),
        _ => split_ucs2(text, ucs2_units_per_part(reference)),
    };
    if bodies.len() > PARTS_MAX {
        return Err(PduError::TooManyParts {
            parts: bodies.len(),
        });
    }
    if bodies.len() == 1 {
        return Ok(bodies.into_iter().map(UserData::from_body).collect());
    }
    let total = bodies.len() as u8;
    Ok(bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| UserData {
            header: Some(UserDataHeader::concatenation(Concatenation {
                reference,
                total,
                sequence: index as u8 + 1,
            })),
            body,
        })
        .collect())
}

fn split_gsm7(text: &str, per_part: usize) -> Vec<UserDataBody> {
    let septets = gsm7::encode_str(text).unwrap_or_default();
    if septets.len() <= SINGLE_PART_SEPTETS_MAX {
        return vec![UserDataBody::Gsm7(septets)];
    }
    let mut parts = Vec::new();
    let mut current: Vec<u8> = Vec::with_capacity(per_part);
    for character in text.chars() {
        let mut encoded = [0u8; 2];
        let encoded = match gsm7::encode_char(character) {
            Some(gsm7::Gsm7Char::Default(septet)) => {
                encoded[0] = septet;
                &encoded[..1]
            }
            Some(gsm7::Gsm7Char::Extended(septet)) => {
                encoded = [gsm7::ESCAPE, septet];
                &encoded[..]
            }
            None => continue,
        };
        if current.len() + encoded.len() > per_part {
            parts.push(UserDataBody::Gsm7(std::mem::take(&mut current)));
        }
        current.extend_from_slice(encoded);
    }
    if !current.is_empty() {
        parts.push(UserDataBody::Gsm7(current));
    }
    parts
}

fn split_ucs2(text: &str, per_part: usize) -> Vec<UserDataBody> {
    let units: Vec<u16> = text.encode_utf16().collect();
    if units.len() <= SINGLE_PART_UCS2_UNITS_MAX {
        return vec![UserDataBody::Ucs2(units)];
    }
    let mut parts = Vec::new();
    let mut current: Vec<u16> = Vec::with_capacity(per_part);
    for character in text.chars() {
        let mut buffer = [0u16; 2];
        let encoded = character.encode_utf16(&mut buffer);
        if current.len() + encoded.len() > per_part {
            parts.push(UserDataBody::Ucs2(std::mem::take(&mut current)));
        }
        current.extend_from_slice(encoded);
    }
    if !current.is_empty() {
        parts.push(UserDataBody::Ucs2(current));
    }
    parts
}

/// Options for [`encode_text_submits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The SMSC field in front of each PDU.
    pub smsc: SmscField,
    /// TP-VP; `None` leaves it to the SMSC.
    pub validity_period: Option<ValidityPeriod>,
    /// Ask for SMS-STATUS-REPORTs.
    pub status_report_request: bool,
    /// Ask the SMSC to reject duplicates.
    pub reject_duplicates: bool,
    /// Message class (class 0 is a "flash" SMS).
    pub class: Option<MessageClass>,
}

impl Default for SubmitOptions {
    /// The default SMSC, one day of validity, a status report, no class.
    fn default() -> Self {
        SubmitOptions {
            smsc: SmscField::Default,
            validity_period: Some(ValidityPeriod::relative_from_minutes(24 * 60)),
            status_report_request: true,
            reject_duplicates: false,
            class: None,
        }
    }
}

/// Encodes `text` to `destination` as one PDU per part, ready for `AT+CMGS`.
pub fn encode_text_submits(
    destination: &Address,
    text: &str,
    reference: ConcatReference,
    options: &SubmitOptions,
) -> Result<Vec<EncodedPdu>, PduError> {
    split_text(text, reference)?
        .into_iter()
        .map(|user_data| {
            let data_coding = DataCoding::new(user_data.body.alphabet(), options.class);
            SmsSubmit {
                reject_duplicates: options.reject_duplicates,
                reply_path: false,
                status_report_request: options.status_report_request,
                message_reference: 0,
                destination: destination.clone(),
                protocol_identifier: 0,
                data_coding,
                validity_period: options.validity_period,
                user_data,
            }
            .to_modem_pdu(&options.smsc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(parts: &[UserData]) -> Vec<String> {
        parts.iter().map(UserData::to_text_lossy).collect()
    }

    #[test]
    fn short_ascii_is_one_gsm7_part_without_header() {
        let parts = split_text("hello", ConcatReference::Eight(1)).unwrap_or_default();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].header, None);
        assert_eq!(parts[0].body, UserDataBody::Gsm7(b"hello".to_vec()));
    }

    #[test]
    fn escape_is_never_split_from_its_character() {
        // 152 plain characters, then '{' which needs 2 septets: it moves to part 2.
        let text = format!("{}{{{}", "a".repeat(152), "b".repeat(20));
        let parts = split_text(&text, ConcatReference::Eight(7)).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            texts(&parts),
            vec!["a".repeat(152), format!("{{{}", "b".repeat(20))]
        );
    }

    #[test]
    fn surrogate_pair_is_never_split() {
        let text = format!("{}{}", "क".repeat(66), "🌾".repeat(3));
        let parts = split_text(&text, ConcatReference::Eight(7)).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(texts(&parts).concat(), text);
        let UserDataBody::Ucs2(first) = &parts[0].body else {
            panic!("expected UCS-2");
        };
        assert_eq!(first.len(), 66);
    }

    #[test]
    fn too_many_parts_is_an_error() {
        let text = "x".repeat(153 * 255 + 1);
        assert_eq!(
            split_text(&text, ConcatReference::Eight(0)),
            Err(PduError::TooManyParts { parts: 256 })
        );
        assert!(split_text(&"x".repeat(153 * 255), ConcatReference::Eight(0)).is_ok());
    }
}
