//! The data coding scheme octet (TP-DCS, TS 23.038 §4): which alphabet the user data is in,
//! and the message class.
//!
//! The octet is kept as received so that a decoded PDU re-encodes to the same octets; the
//! alphabet and class are read from it. Groups the spec reserves are read as the GSM 7-bit
//! alphabet, as the spec tells a receiver to. Compressed text (bit 5 of the general group) is
//! not decompressed: it is surfaced as 8-bit data with [`DataCoding::is_compressed`] set.

/// The alphabet of the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet; user data length counts septets.
    Gsm7,
    /// 8-bit data; user data length counts octets.
    Data8,
    /// UCS-2 (in practice UTF-16 big-endian); user data length counts octets.
    Ucs2,
}

/// The message class (TS 23.038 §4): class 0 is a "flash" message shown and not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Shown immediately, not stored ("flash SMS").
    Class0,
    /// Stored in the phone.
    Class1,
    /// SIM specific.
    Class2,
    /// Terminal equipment specific.
    Class3,
}

impl MessageClass {
    fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => MessageClass::Class0,
            1 => MessageClass::Class1,
            2 => MessageClass::Class2,
            _ => MessageClass::Class3,
        }
    }

    fn bits(self) -> u8 {
        match self {
            MessageClass::Class0 => 0,
            MessageClass::Class1 => 1,
            MessageClass::Class2 => 2,
            MessageClass::Class3 => 3,
        }
    }
}

/// A data coding scheme octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataCoding(u8);

impl DataCoding {
    /// GSM 7-bit, no class (0x00).
    pub const GSM7: DataCoding = DataCoding(0x00);
    /// 8-bit data, no class (0x04).
    pub const DATA8: DataCoding = DataCoding(0x04);
    /// UCS-2, no class (0x08).
    pub const UCS2: DataCoding = DataCoding(0x08);

    /// The general-group octet for `alphabet` with an optional class.
    pub fn new(alphabet: Alphabet, class: Option<MessageClass>) -> Self {
        let alphabet_bits = match alphabet {
            Alphabet::Gsm7 => 0b00,
            Alphabet::Data8 => 0b01,
            Alphabet::Ucs2 => 0b10,
        };
        let class_bits = class.map_or(0, |class| 0x10 | class.bits());
        DataCoding((alphabet_bits << 2) | class_bits)
    }

    /// Any octet as received.
    pub fn from_octet(octet: u8) -> Self {
        DataCoding(octet)
    }

    /// The octet.
    pub fn octet(self) -> u8 {
        self.0
    }

    /// The alphabet the user data is in.
    pub fn alphabet(self) -> Alphabet {
        let octet = self.0;
        match octet >> 4 {
            // General data coding (00xx) and automatic deletion (01xx) groups.
            0x0..=0x7 => {
                if octet & 0x20 != 0 {
                    return Alphabet::Data8;
                }
                match (octet >> 2) & 0b11 {
                    0b01 => Alphabet::Data8,
                    0b10 => Alphabet::Ucs2,
                    _ => Alphabet::Gsm7,
                }
            }
            // Message waiting indication, store message, UCS-2.
            0xE => Alphabet::Ucs2,
            // Data coding / message class group.
            0xF if octet & 0x04 != 0 => Alphabet::Data8,
            // Message waiting (discard / store, GSM 7-bit) and the reserved groups.
            _ => Alphabet::Gsm7,
        }
    }

    /// The message class, when the octet carries one.
    pub fn class(self) -> Option<MessageClass> {
        let octet = self.0;
        match octet >> 4 {
            0x0..=0x7 if octet & 0x10 != 0 => Some(MessageClass::from_bits(octet)),
            0xF => Some(MessageClass::from_bits(octet)),
            _ => None,
        }
    }

    /// True for compressed text (general groups, bit 5), which this crate does not inflate.
    pub fn is_compressed(self) -> bool {
        self.0 >> 6 == 0 && self.0 & 0x20 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_octets() {
        assert_eq!(DataCoding::from_octet(0x00).alphabet(), Alphabet::Gsm7);
        assert_eq!(DataCoding::from_octet(0x08).alphabet(), Alphabet::Ucs2);
        assert_eq!(DataCoding::from_octet(0x04).alphabet(), Alphabet::Data8);
        assert_eq!(
            DataCoding::from_octet(0x18).class(),
            Some(MessageClass::Class0)
        );
        assert_eq!(DataCoding::from_octet(0xF0).alphabet(), Alphabet::Gsm7);
        assert_eq!(DataCoding::from_octet(0xF6).alphabet(), Alphabet::Data8);
        assert_eq!(
            DataCoding::from_octet(0xF6).class(),
            Some(MessageClass::Class2)
        );
        assert_eq!(DataCoding::from_octet(0xE0).alphabet(), Alphabet::Ucs2);
        assert_eq!(DataCoding::from_octet(0x0C).alphabet(), Alphabet::Gsm7);
        assert!(DataCoding::from_octet(0x20).is_compressed());
        assert_eq!(
            DataCoding::new(Alphabet::Ucs2, Some(MessageClass::Class0)).octet(),
            0x18
        );
    }
}
