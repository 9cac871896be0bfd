//! User data (TP-UDL + TP-UD, TS 23.040 §9.2.3.16 and §9.2.3.24): an optional header and a
//! body in one of three alphabets.
//!
//! The body is kept in its transport units (septets, UTF-16 units, octets) rather than as a
//! `String`: a sender may split a surrogate pair or an escape sequence across two parts of a
//! concatenated message, and only joining the units before decoding puts them back together.
//!
//! Limits (from the spec): [`USER_DATA_OCTETS_MAX`] octets of user data, which is
//! [`USER_DATA_SEPTETS_MAX`] septets in 7-bit. A declared length above them, or more than the
//! octets present, is rejected; so is an odd number of UCS-2 octets.

use super::PduError;
use super::dcs::Alphabet;
use super::gsm7;
use super::udh::UserDataHeader;

/// Most octets of user data in one SMS.
pub const USER_DATA_OCTETS_MAX: usize = 140;
/// Most septets of 7-bit user data in one SMS (140 octets × 8 / 7).
pub const USER_DATA_SEPTETS_MAX: usize = 160;

/// The body of the user data, in its transport units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserDataBody {
    /// Unpacked septets (0..=127) of the GSM 7-bit alphabet, escapes included.
    Gsm7(Vec<u8>),
    /// UTF-16 code units (UCS-2 as phones send it, surrogate pairs included).
    Ucs2(Vec<u16>),
    /// Octets of 8-bit data.
    Data8(Vec<u8>),
}

impl UserDataBody {
    /// The alphabet of the body.
    pub fn alphabet(&self) -> Alphabet {
        match self {
            UserDataBody::Gsm7(_) => Alphabet::Gsm7,
            UserDataBody::Ucs2(_) => Alphabet::Ucs2,
            UserDataBody::Data8(_) => Alphabet::Data8,
        }
    }

    /// The body as text: 7-bit through the GSM tables, UCS-2 as UTF-16 with U+FFFD for an
    /// unpaired surrogate, 8-bit data as Latin-1 (it is binary; this is for display only).
    pub fn to_text_lossy(&self) -> String {
        match self {
            UserDataBody::Gsm7(septets) => gsm7::decode_septets(septets),
            UserDataBody::Ucs2(units) => String::from_utf16_lossy(units),
            UserDataBody::Data8(octets) => octets.iter().map(|&octet| char::from(octet)).collect(),
        }
    }
}

/// User data: an optional header and a body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserData {
    /// The user data header (sets TP-UDHI when present).
    pub header: Option<UserDataHeader>,
    /// The body.
    pub body: UserDataBody,
}

impl UserData {
    /// User data without a header.
    pub fn from_body(body: UserDataBody) -> Self {
        UserData { header: None, body }
    }

    /// The body as text; see [`UserDataBody::to_text_lossy`].
    pub fn to_text_lossy(&self) -> String {
        self.body.to_text_lossy()
    }

    /// Encodes as TP-UDL followed by TP-UD.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let mut user_data = Vec::with_capacity(USER_DATA_OCTETS_MAX);
        if let Some(header) = &self.header {
            header.encode(&mut user_data)?;
        }
        let header_octets = user_data.len();
        let length = match &self.body {
            UserDataBody::Gsm7(septets) => {
                let header_septets = (header_octets * 8).div_ceil(7);
                let fill_bits = header_septets * 7 - header_octets * 8;
                let total_septets = header_septets + septets.len();
                if total_septets > USER_DATA_SEPTETS_MAX {
                    return Err(PduError::UserDataTooLong {
                        length: total_septets,
                    });
                }
                // Fill bits pad the header to a septet boundary; they are the low bits of
                // the first packed octet.
                user_data.extend_from_slice(&gsm7::pack_septets(septets, fill_bits));
                total_septets
            }
            UserDataBody::Ucs2(units) => {
                for unit in units {
                    user_data.extend_from_slice(&unit.to_be_bytes());
                }
                user_data.len()
            }
            UserDataBody::Data8(octets) => {
                user_data.extend_from_slice(octets);
                user_data.len()
            }
        };
        if user_data.len() > USER_DATA_OCTETS_MAX {
            return Err(PduError::UserDataTooLong {
                length: user_data.len(),
            });
        }
        out.push(length as u8);
        out.extend_from_slice(&user_data);
        Ok(())
    }

    /// Decodes TP-UD given TP-UDL, the alphabet and TP-UDHI; `user_data` is every octet left
    /// in the PDU, which must be exactly what the length asks for.
    pub(crate) fn decode(
        length: u8,
        alphabet: Alphabet,
        has_header: bool,
        user_data: &[u8],
    ) -> Result<Self, PduError> {
        let length = usize::from(length);
        let octets_needed = match alphabet {
            Alphabet::Gsm7 => {
                if length > USER_DATA_SEPTETS_MAX {
                    return Err(PduError::UserDataTooLong { length });
                }
                (length * 7).div_ceil(8)
            }
            Alphabet::Ucs2 | Alphabet::Data8 => {
                if length > USER_DATA_OCTETS_MAX {
                    return Err(PduError::UserDataTooLong { length });
                }
                length
            }
        };
        if user_data.len() < octets_needed {
            return Err(PduError::Truncated { field: "user data" });
        }
        if user_data.len() > octets_needed {
            return Err(PduError::TrailingOctets {
                count: user_data.len() - octets_needed,
            });
        }
        let (header, header_octets) = if has_header {
            let (header, used) = UserDataHeader::decode(user_data)?;
            if used > octets_needed {
                return Err(PduError::MalformedHeader);
            }
            (Some(header), used)
        } else {
            (None, 0)
        };
        let body = match alphabet {
            Alphabet::Gsm7 => {
                let header_septets = (header_octets * 8).div_ceil(7);
                let text_septets = length
                    .checked_sub(header_septets)
                    .ok_or(PduError::MalformedHeader)?;
                let septets = gsm7::unpack_septets(user_data, header_septets * 7, text_septets)
                    .ok_or(PduError::Truncated { field: "user data" })?;
                UserDataBody::Gsm7(septets)
            }
            Alphabet::Ucs2 => {
                let text = user_data.get(header_octets..).unwrap_or(&[]);
                if text.len() % 2 != 0 {
                    return Err(PduError::OddUcs2Length);
                }
                UserDataBody::Ucs2(
                    text.chunks_exact(2)
                        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                        .collect(),
                )
            }
            Alphabet::Data8 => {
                UserDataBody::Data8(user_data.get(header_octets..).unwrap_or(&[]).to_vec())
            }
        };
        Ok(UserData { header, body })
    }
}
