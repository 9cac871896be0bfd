//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and septet
//! packing (§6.1.2.1).
//!
//! Why here: every SMS a basic phone sends in Latin script is 7-bit, and the extension table
//! (`^ { } \ [ ~ ] | €` and form feed, each sent as ESC 0x1B plus a septet) is where other
//! decoders go wrong (libGammu garbles the text after an escape; a popular Rust crate adds a
//! stray `@` to the last part). Text is kept as septets until the last moment, so that a
//! message split between an escape and its character by a sloppy sender still decodes after
//! reassembly.
//!
//! Limits: none of its own; callers bound the septet counts (160 per SMS).
//! National language shift tables (TS 23.038 §6.2.1.2.4/6.2.1.2.5, e.g. Hindi) are not
//! supported: Indian scripts go out as UCS-2, and a received part that uses them decodes with
//! the default tables.

/// The escape septet that introduces a character from the extension table.
pub const ESCAPE: u8 = 0x1B;

/// The default alphabet, indexed by septet. Index 0x1B is the escape; it never decodes to a
/// character on its own, and the `'\u{1b}'` placeholder is never encoded.
pub const DEFAULT_ALPHABET: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after ESC, character). Other septets after ESC are reserved.
pub const EXTENSION_TABLE: [(u8, char); 10] = [
    (0x0A, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Marks an entry of [`LATIN1_TO_SEPTET`] that is absent.
const NOT_IN_ALPHABET: u16 = 0xFFFF;
/// Marks an entry of [`LATIN1_TO_SEPTET`] that lives in the extension table.
const EXTENDED_FLAG: u16 = 0x100;

/// Reverse lookup for characters below U+0100 (all but the Greek capitals and the euro sign).
const LATIN1_TO_SEPTET: [u16; 256] = build_latin1_table();

const fn build_latin1_table() -> [u16; 256] {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut septet = 0;
    while septet < 128 {
        let code = DEFAULT_ALPHABET[septet] as u32;
        if septet != ESCAPE as usize && code < 256 {
            table[code as usize] = septet as u16;
        }
        septet += 1;
    }
    let mut entry = 0;
    while entry < EXTENSION_TABLE.len() {
        let (septet, character) = EXTENSION_TABLE[entry];
        let code = character as u32;
        if code < 256 {
            table[code as usize] = EXTENDED_FLAG | septet as u16;
        }
        entry += 1;
    }
    table
}

/// How one character is written in the 7-bit alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gsm7Char {
    /// A single septet from the default table.
    Default(u8),
    /// ESC followed by this septet from the extension table.
    Extended(u8),
}

impl Gsm7Char {
    /// Number of septets the character takes (1, or 2 with its escape).
    pub fn septet_count(self) -> usize {
        match self {
            Gsm7Char::Default(_) => 1,
            Gsm7Char::Extended(_) => 2,
        }
    }
}

/// Looks a character up in the default alphabet, then in the extension table.
pub fn encode_char(character: char) -> Option<Gsm7Char> {
    let code = u32::from(character);
    if code < 256 {
        let entry = LATIN1_TO_SEPTET[code as usize];
        return match entry {
            NOT_IN_ALPHABET => None,
            _ if entry & EXTENDED_FLAG != 0 => Some(Gsm7Char::Extended((entry & 0x7F) as u8)),
            _ => Some(Gsm7Char::Default(entry as u8)),
        };
    }
    let septet = match character {
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        '€' => return Some(Gsm7Char::Extended(0x65)),
        _ => return None,
    };
    Some(Gsm7Char::Default(septet))
}

/// True when every character of `text` is in the default alphabet or the extension table.
pub fn is_encodable(text: &str) -> bool {
    text.chars().all(|c| encode_char(c).is_some())
}

/// Septets needed for `text`, counting extension characters as two; `None` when a character
/// is not in the alphabet.
pub fn septet_count(text: &str) -> Option<usize> {
    text.chars()
        .map(|c| encode_char(c).map(Gsm7Char::septet_count))
        .sum()
}

/// Encodes `text` into unpacked septets (values 0..=127); `None` when a character is not in
/// the alphabet.
pub fn encode_str(text: &str) -> Option<Vec<u8>> {
    let mut septets = Vec::with_capacity(text.len());
    for character in text.chars() {
        match encode_char(character)? {
            Gsm7Char::Default(septet) => septets.push(septet),
            Gsm7Char::Extended(septet) => {
                septets.push(ESCAPE);
                septets.push(septet);
            }
        }
    }
    Some(septets)
}

/// Decodes unpacked septets to text.
///
/// An escape followed by a septet the extension table does not define decodes as that
/// septet's default character, as TS 23.038 asks of a receiver; a trailing lone escape is
/// dropped. Values above 127 are masked to 7 bits.
pub fn decode_septets(septets: &[u8]) -> String {
    let mut text = String::with_capacity(septets.len());
    let mut escaped = false;
    for &raw in septets {
        let septet = raw & 0x7F;
        if escaped {
            escaped = false;
            let extended = EXTENSION_TABLE
                .iter()
                .find(|(code, _)| *code == septet)
                .map(|(_, character)| *character);
            match extended {
                Some(character) => text.push(character),
                None if septet == ESCAPE => text.push(' '),
                None => text.push(DEFAULT_ALPHABET[usize::from(septet)]),
            }
        } else if septet == ESCAPE {
            escaped = true;
        } else {
            text.push(DEFAULT_ALPHABET[usize::from(septet)]);
        }
    }
    text
}

/// Packs septets into octets, starting `fill_bits` (0..=6) bits into the first octet; those
/// fill bits are what aligns 7-bit text after a user data header (TS 23.040 §9.2.3.24).
pub fn pack_septets(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + 7 * septets.len();
    let mut octets = vec![0u8; total_bits.div_ceil(8)];
    for (index, &septet) in septets.iter().enumerate() {
        let bit = fill_bits + 7 * index;
        let shifted = u16::from(septet & 0x7F) << (bit % 8);
        if let Some(octet) = octets.get_mut(bit / 8) {
            *octet |= (shifted & 0xFF) as u8;
        }
        if shifted > 0xFF
            && let Some(octet) = octets.get_mut(bit / 8 + 1)
        {
            *octet |= (shifted >> 8) as u8;
        }
    }
    octets
}

/// Unpacks `count` septets that start `fill_bits` bits into `octets`; `None` when the octets
/// are too few.
pub fn unpack_septets(octets: &[u8], fill_bits: usize, count: usize) -> Option<Vec<u8>> {
    let bits_needed = fill_bits.checked_add(count.checked_mul(7)?)?;
    if octets.len() < bits_needed.div_ceil(8) {
        return None;
    }
    let mut septets = Vec::with_capacity(count);
    for index in 0..count {
        let bit = fill_bits + 7 * index;
        let low = u16::from(*octets.get(bit / 8)?);
        let high = u16::from(octets.get(bit / 8 + 1).copied().unwrap_or(0));
        let window = (high << 8) | low;
        septets.push(((window >> (bit % 8)) & 0x7F) as u8);
    }
    Some(septets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_a_bijection_on_its_characters() {
        for (septet, &character) in DEFAULT_ALPHABET.iter().enumerate() {
            if septet == usize::from(ESCAPE) {
                assert_eq!(encode_char(character), None);
                continue;
            }
            assert_eq!(
                encode_char(character),
                Some(Gsm7Char::Default(septet as u8)),
                "{character:?}"
            );
        }
        for (septet, character) in EXTENSION_TABLE {
            assert_eq!(encode_char(character), Some(Gsm7Char::Extended(septet)));
        }
        assert_eq!(encode_char('`'), None);
        assert_eq!(encode_char('क'), None);
    }

    #[test]
    fn hellohello_packs_to_the_textbook_octets() {
        // TS 23.038 / the classic example: "hellohello" -> E8329BFD4697D9EC37.
        let septets = encode_str("hellohello").unwrap_or_default();
        assert_eq!(
            pack_septets(&septets, 0),
            vec![0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        let unpacked = unpack_septets(&pack_septets(&septets, 0), 0, 10);
        assert_eq!(unpacked.as_deref(), Some(&septets[..]));
    }

    #[test]
    fn extension_characters_decode_and_unknown_escapes_fall_back() {
        let septets = encode_str("{€}").unwrap_or_default();
        assert_eq!(septets, vec![0x1B, 0x28, 0x1B, 0x65, 0x1B, 0x29]);
        assert_eq!(decode_septets(&septets), "{€}");
        assert_eq!(decode_septets(&[0x1B, 0x41, 0x1B]), "A");
    }

    #[test]
    fn fill_bits_shift_the_packing() {
        for fill in 0..7 {
            let septets: Vec<u8> = (0..20).map(|i| (i * 13 % 128) as u8).collect();
            let packed = pack_septets(&septets, fill);
            assert_eq!(packed.len(), (fill + 7 * 20).div_ceil(8));
            assert_eq!(
                unpack_septets(&packed, fill, 20).as_deref(),
                Some(&septets[..])
            );
        }
        assert_eq!(unpack_septets(&[0xFF], 0, 2), None);
    }
}
