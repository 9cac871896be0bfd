//! Phone-number addresses inside PDUs (TS 23.040 §9.1.2.5) and the SMSC address in front of
//! them (TS 24.011 §8.2.5.1).
//!
//! Two length conventions exist and both are here: a TP address (originator, destination,
//! recipient) counts *semi-octets of digits*; the SMSC address counts *octets including the
//! type-of-address octet*. Digits are swapped nibbles with an `F` filler; an alphanumeric
//! sender (`TON = 101`, e.g. a bank's "AX-SBIBNK") is GSM 7-bit packed.
//!
//! Limits, from the spec: at most [`ADDRESS_DIGITS_MAX`] digits (10 octets of nibbles) and at
//! most [`ALPHANUMERIC_SEPTETS_MAX`] septets for an alphanumeric address.

use super::PduError;
use super::gsm7;
use super::reader::ByteReader;

/// Most digits in an address: the value part is at most 10 octets (TS 23.040 §9.1.2.5).
pub const ADDRESS_DIGITS_MAX: usize = 20;
/// Most septets in an alphanumeric address: 10 octets hold 80 bits, i.e. 11 septets.
pub const ALPHANUMERIC_SEPTETS_MAX: usize = 11;

/// Type-of-address octet for an international number (TON 001, NPI 0001 ISDN/E.164).
pub const TYPE_INTERNATIONAL: u8 = 0x91;
/// Type-of-address octet for a national number (TON 010, NPI 0001).
pub const TYPE_NATIONAL: u8 = 0xA1;
/// Type-of-address octet for a number of unknown type (TON 000, NPI 0001): what a phone uses
/// for a number dialled without `+`.
pub const TYPE_UNKNOWN: u8 = 0x81;
/// Type-of-address octet for an alphanumeric address (TON 101, NPI 0000).
pub const TYPE_ALPHANUMERIC: u8 = 0xD0;

const TON_ALPHANUMERIC: u8 = 0b101;

/// Digits of a numeric address: `0-9`, `*`, `#` and the rarely used `a`, `b`, `c`; between 0
/// and [`ADDRESS_DIGITS_MAX`] of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressDigits(String);

impl AddressDigits {
    /// Checks that `digits` are all valid address digits and not too many.
    pub fn new(digits: &str) -> Result<Self, PduError> {
        if digits.len() > ADDRESS_DIGITS_MAX {
            return Err(PduError::AddressTooLong {
                length: digits.len(),
            });
        }
        if digits.chars().any(|c| digit_nibble(c).is_none()) {
            return Err(PduError::InvalidAddressDigit);
        }
        Ok(AddressDigits(digits.to_owned()))
    }

    /// The digits as text (without any `+`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address as carried in a PDU.
///
/// The type-of-address octet is kept so that a decoded address re-encodes to the same
/// octets; the constructors pick the usual ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// Digits with a type-of-address octet (international, national, unknown, ...).
    Numeric {
        /// The type-of-address octet (bit 7 set), e.g. [`TYPE_INTERNATIONAL`].
        type_of_address: u8,
        /// The digits.
        digits: AddressDigits,
    },
    /// An alphanumeric sender name in the GSM 7-bit alphabet.
    Alphanumeric(String),
}

impl Address {
    /// An international number from its digits (no `+`), e.g. `"919876543210"`.
    pub fn international(digits: &str) -> Result<Self, PduError> {
        Ok(Address::Numeric {
            type_of_address: TYPE_INTERNATIONAL,
            digits: AddressDigits::new(digits)?,
        })
    }

    /// A national number from its digits, e.g. `"9876543210"`.
    pub fn national(digits: &str) -> Result<Self, PduError> {
        Ok(Address::Numeric {
            type_of_address: TYPE_NATIONAL,
            digits: AddressDigits::new(digits)?,
        })
    }

    /// A number as a person writes it: a leading `+` makes it international, otherwise its
    /// type is "unknown", which is how phones send numbers dialled without `+`.
    pub fn from_dialled(number: &str) -> Result<Self, PduError> {
        match number.strip_prefix('+') {
            Some(digits) => Address::international(digits),
            None => Ok(Address::Numeric {
                type_of_address: TYPE_UNKNOWN,
                digits: AddressDigits::new(number)?,
            }),
        }
    }

    /// An alphanumeric sender name (for the simulator: real senders are operators and
    /// businesses); at most [`ALPHANUMERIC_SEPTETS_MAX`] septets of the GSM alphabet.
    pub fn alphanumeric(name: &str) -> Result<Self, PduError> {
        let septets = gsm7::septet_count(name).ok_or(PduError::InvalidAddressDigit)?;
        if septets > ALPHANUMERIC_SEPTETS_MAX {
            return Err(PduError::AddressTooLong { length: septets });
        }
        Ok(Address::Alphanumeric(name.to_owned()))
    }

    /// The address as a person reads it: `+` and digits for an international number, the
    /// digits alone for other numbers, the name for an alphanumeric sender.
    pub fn to_display_string(&self) -> String {
        match self {
            Address::Numeric {
                type_of_address,
                digits,
            } if (type_of_address >> 4) & 0b111 == 0b001 => format!("+{}", digits.as_str()),
            Address::Numeric { digits, .. } => digits.as_str().to_owned(),
            Address::Alphanumeric(name) => name.clone(),
        }
    }

    /// Encodes as a TP address: length in semi-octets, type of address, value.
    pub(crate) fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        match self {
            Address::Numeric {
                type_of_address,
                digits,
            } => {
                out.push(digits.as_str().len() as u8);
                out.push(type_of_address | 0x80);
                encode_digits(digits.as_str(), out)
            }
            Address::Alphanumeric(name) => {
                let septets = gsm7::encode_str(name).ok_or(PduError::InvalidAddressDigit)?;
                if septets.len() > ALPHANUMERIC_SEPTETS_MAX {
                    return Err(PduError::AddressTooLong {
                        length: septets.len(),
                    });
                }
                let packed = gsm7::pack_septets(&septets, 0);
                // Semi-octets actually used by the septets, as phones count them.
                out.push((septets.len() * 7).div_ceil(4) as u8);
                out.push(TYPE_ALPHANUMERIC);
                out.extend_from_slice(&packed);
                Ok(())
            }
        }
    }

    /// Decodes a TP address.
    pub(crate) fn decode_tp(reader: &mut ByteReader<'_>) -> Result<Self, PduError> {
        let semi_octets = usize::from(reader.byte("address")?);
        let type_of_address = reader.byte("address")?;
        if semi_octets > ADDRESS_DIGITS_MAX {
            return Err(PduError::AddressTooLong {
                length: semi_octets,
            });
        }
        let value = reader.take(semi_octets.div_ceil(2), "address")?;
        if (type_of_address >> 4) & 0b111 == TON_ALPHANUMERIC {
            let septet_count = semi_octets * 4 / 7;
            let septets = gsm7::unpack_septets(value, 0, septet_count)
                .ok_or(PduError::Truncated { field: "address" })?;
            return Ok(Address::Alphanumeric(gsm7::decode_septets(&septets)));
        }
        Ok(Address::Numeric {
            type_of_address: type_of_address | 0x80,
            digits: decode_digits(value, semi_octets)?,
        })
    }

    /// Encodes as an SMSC address: length in octets including the type octet.
    pub(crate) fn encode_smsc(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        match self {
            Address::Numeric {
                type_of_address,
                digits,
            } => {
                out.push(1 + digits.as_str().len().div_ceil(2) as u8);
                out.push(type_of_address | 0x80);
                encode_digits(digits.as_str(), out)
            }
            Address::Alphanumeric(_) => Err(PduError::AlphanumericSmsc),
        }
    }

    /// Decodes an SMSC address; `None` for length 0 (the modem's default SMSC).
    pub(crate) fn decode_smsc(reader: &mut ByteReader<'_>) -> Result<Option<Self>, PduError> {
        let octets = usize::from(reader.byte("address")?);
        if octets == 0 {
            return Ok(None);
        }
        if octets > 1 + ADDRESS_DIGITS_MAX / 2 {
            return Err(PduError::AddressTooLong { length: octets });
        }
        let type_of_address = reader.byte("address")?;
        let value = reader.take(octets - 1, "address")?;
        // The last nibble may be the F filler: count digits up to it.
        let mut semi_octets = value.len() * 2;
        if value.last().is_some_and(|last| last >> 4 == 0x0F) {
            semi_octets -= 1;
        }
        if (type_of_address >> 4) & 0b111 == TON_ALPHANUMERIC {
            return Err(PduError::AlphanumericSmsc);
        }
        Ok(Some(Address::Numeric {
            type_of_address: type_of_address | 0x80,
            digits: decode_digits(value, semi_octets)?,
        }))
    }
}

fn digit_nibble(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(0x0A),
        '#' => Some(0x0B),
        'a' => Some(0x0C),
        'b' => Some(0x0D),
        'c' => Some(0x0E),
        _ => None,
    }
}

fn nibble_digit(nibble: u8) -> Option<char> {
    match nibble {
        0..=9 => Some(char::from(b'0' + nibble)),
        0x0A => Some('*'),
        0x0B => Some('#'),
        0x0C => Some('a'),
        0x0D => Some('b'),
        0x0E => Some('c'),
        _ => None,
    }
}

fn encode_digits(digits: &str, out: &mut Vec<u8>) -> Result<(), PduError> {
    let nibbles: Vec<u8> = digits
        .chars()
        .map(digit_nibble)
        .collect::<Option<_>>()
        .ok_or(PduError::InvalidAddressDigit)?;
    for pair in nibbles.chunks(2) {
        let low = pair.first().copied().unwrap_or(0x0F);
        let high = pair.get(1).copied().unwrap_or(0x0F);
        out.push((high << 4) | low);
    }
    Ok(())
}

fn decode_digits(value: &[u8], semi_octets: usize) -> Result<AddressDigits, PduError> {
    let mut digits = String::with_capacity(semi_octets);
    for index in 0..semi_octets {
        let octet = value
            .get(index / 2)
            .copied()
            .ok_or(PduError::Truncated { field: "address" })?;
        let nibble = if index % 2 == 0 {
            octet & 0x0F
        } else {
            octet >> 4
        };
        digits.push(nibble_digit(nibble).ok_or(PduError::InvalidAddressDigit)?);
    }
    Ok(AddressDigits(digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp_round_trip(address: &Address) -> Vec<u8> {
        let mut bytes = Vec::new();
        assert_eq!(address.encode_tp(&mut bytes), Ok(()));
        let mut reader = ByteReader::new(&bytes);
        assert_eq!(Address::decode_tp(&mut reader).as_ref(), Ok(address));
        bytes
    }

    #[test]
    fn international_number_swaps_nibbles_with_filler() {
        let address = Address::from_dialled("+919876543").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            tp_round_trip(&address),
            vec![0x09, 0x91, 0x19, 0x89, 0x67, 0x45, 0xF3]
        );
        assert_eq!(address.to_display_string(), "+919876543");
    }

    #[test]
    fn alphanumeric_sender_decodes() {
        // "AX-SBIBNK" as an Indian bank sends it.
        let address = Address::alphanumeric("AX-SBIBNK").unwrap_or_else(|e| panic!("{e}"));
        let bytes = tp_round_trip(&address);
        assert_eq!(bytes[0], 16);
        assert_eq!(bytes[1], TYPE_ALPHANUMERIC);
    }

    #[test]
    fn smsc_counts_octets() {
        for (digits, expected) in [
            (
                "919840011000",
                vec![0x07, 0x91, 0x19, 0x89, 0x04, 0x10, 0x01, 0x00],
            ),
            (
                "91984001100",
                vec![0x07, 0x91, 0x19, 0x89, 0x04, 0x10, 0x01, 0xF0],
            ),
        ] {
            let smsc = Address::international(digits).unwrap_or_else(|e| panic!("{e}"));
            let mut bytes = Vec::new();
            assert_eq!(smsc.encode_smsc(&mut bytes), Ok(()));
            assert_eq!(bytes, expected);
            let mut reader = ByteReader::new(&bytes);
            assert_eq!(Address::decode_smsc(&mut reader), Ok(Some(smsc)));
        }
    }

    #[test]
    fn rejects_bad_digits_and_lengths() {
        assert!(Address::from_dialled("+91-98").is_err());
        assert!(Address::international("123456789012345678901").is_err());
        assert!(Address::alphanumeric("ABCDEFGHIJKL").is_err());
    }
}
