//! SMS PDUs (3GPP TS 23.040, alphabets from TS 23.038): encode what the host sends, decode
//! what the modem delivers, split long text into parts and put received parts back together.
//!
//! Layers, bottom up: [`gsm7`] (alphabet and septet packing), [`address`], [`time`], [`dcs`],
//! [`udh`], [`user_data`], then [`tpdu`] (SMS-SUBMIT, SMS-DELIVER, SMS-STATUS-REPORT and the
//! SMSC field), [`split`] (text to parts) and [`reassembly`] (parts to text).
//!
//! Every decoder takes untrusted octets and returns a [`PduError`] rather than panicking; the
//! fuzz target `pdu_decode` checks that, and that whatever decodes re-encodes to the same
//! value.

pub mod address;
pub mod dcs;
pub mod gsm7;
pub(crate) mod reader;
pub mod reassembly;
pub mod split;
pub mod time;
pub mod tpdu;
pub mod udh;
pub mod user_data;

pub use address::Address;
pub use dcs::{Alphabet, DataCoding, MessageClass};
pub use reassembly::{InsertOutcome, ReassembledMessage, ReassemblyBuffer, ReassemblyConfig};
pub use split::{SubmitOptions, encode_text_submits, split_text};
pub use time::{SmscTimestamp, ValidityPeriod};
pub use tpdu::{
    EncodedPdu, IncomingPdu, IncomingTpdu, OutgoingPdu, SmsDeliver, SmsStatusReport, SmsSubmit,
    SmscField,
};
pub use udh::{ConcatReference, Concatenation};
pub use user_data::{UserData, UserDataBody};

use thiserror::Error;

/// Why a PDU could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    /// The octets ended inside a field.
    #[error("PDU ends inside the {field} field")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// More octets follow the user data than its length declares.
    #[error("{count} octets after the end of the user data")]
    TrailingOctets {
        /// How many.
        count: usize,
    },
    /// The message type indicator is not the one expected here.
    #[error("unexpected message type indicator {type_bits:#04b}")]
    UnexpectedMessageType {
        /// TP-MTI as found.
        type_bits: u8,
    },
    /// An address has too many digits, octets or septets.
    #[error("address too long ({length})")]
    AddressTooLong {
        /// The length found, in the unit of the field.
        length: usize,
    },
    /// A digit that an address cannot hold (or a character outside the GSM alphabet in an
    /// alphanumeric address).
    #[error("invalid address digit")]
    InvalidAddressDigit,
    /// An SMSC address must be numeric.
    #[error("the SMSC address cannot be alphanumeric")]
    AlphanumericSmsc,
    /// A timestamp that is not BCD or out of range.
    #[error("invalid timestamp")]
    InvalidTimestamp,
    /// User data longer than 140 octets / 160 septets.
    #[error("user data too long ({length})")]
    UserDataTooLong {
        /// The length found or asked for.
        length: usize,
    },
    /// A user data header whose lengths do not add up.
    #[error("malformed user data header")]
    MalformedHeader,
    /// UCS-2 text must be whole 16-bit units.
    #[error("odd number of octets of UCS-2 text")]
    OddUcs2Length,
    /// A status report's parameter indicator chains too many octets.
    #[error("malformed parameter indicator")]
    MalformedParameterIndicator,
    /// The data coding scheme names a different alphabet than the body is in.
    #[error("data coding scheme does not match the user data's alphabet")]
    AlphabetMismatch,
    /// Text needs more than 255 parts.
    #[error("text needs {parts} parts, more than 255")]
    TooManyParts {
        /// Parts it would need.
        parts: usize,
    },
    /// Text too long to fit 255 parts whatever its characters.
    #[error("text of {octets} octets cannot fit 255 parts")]
    TextTooLong {
        /// Its length in UTF-8 octets.
        octets: usize,
    },
}
