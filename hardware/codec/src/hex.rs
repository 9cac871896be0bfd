//! Hex text to bytes and back, the way AT PDU mode carries PDUs (TS 27.005 §3.1: every octet
//! as two upper-case hexadecimal characters).
//!
//! Own code rather than the `hex` crate: it is twenty lines, and this crate keeps its
//! dependency list to `thiserror`. Decoding accepts both cases, because some modems print
//! lower-case hex; encoding always writes upper case, which every modem accepts.

use thiserror::Error;

/// Why a hex string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    /// Hex text always has two characters per octet.
    #[error("hex text has an odd number of characters ({length})")]
    OddLength {
        /// Number of characters seen.
        length: usize,
    },
    /// A character that is not `0-9`, `a-f` or `A-F`.
    #[error("invalid hex character at position {position}")]
    InvalidCharacter {
        /// Zero-based index of the offending character.
        position: usize,
    },
}

const HEX_DIGITS_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Encodes bytes as upper-case hex text.
pub fn encode_upper(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(HEX_DIGITS_UPPER[usize::from(byte >> 4)]));
        text.push(char::from(HEX_DIGITS_UPPER[usize::from(byte & 0x0F)]));
    }
    text
}

/// Decodes hex text (either case) into bytes.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, HexError> {
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength { length: text.len() });
    }
    let mut bytes = Vec::with_capacity(text.len() / 2);
    for (pair_index, pair) in text.chunks_exact(2).enumerate() {
        let high = nibble(pair[0]).ok_or(HexError::InvalidCharacter {
            position: pair_index * 2,
        })?;
        let low = nibble(pair[1]).ok_or(HexError::InvalidCharacter {
            position: pair_index * 2 + 1,
        })?;
        bytes.push((high << 4) | low);
    }
    Ok(bytes)
}

/// True when `text` is non-empty, of even length and all hex digits: the shape of a PDU line.
pub fn is_hex_text(text: &[u8]) -> bool {
    !text.is_empty() && text.len().is_multiple_of(2) && text.iter().all(|&c| nibble(c).is_some())
}

fn nibble(character: u8) -> Option<u8> {
    match character {
        b'0'..=b'9' => Some(character - b'0'),
        b'a'..=b'f' => Some(character - b'a' + 10),
        b'A'..=b'F' => Some(character - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode_upper(&[0x00, 0x1A, 0xFF]), "001AFF");
        assert_eq!(decode(b"001aFF"), Ok(vec![0x00, 0x1A, 0xFF]));
        assert_eq!(decode(b"0"), Err(HexError::OddLength { length: 1 }));
        assert_eq!(
            decode(b"0G"),
            Err(HexError::InvalidCharacter { position: 1 })
        );
        assert!(is_hex_text(b"07911326"));
        assert!(!is_hex_text(b""));
        assert!(!is_hex_text(b"OK"));
    }
}
