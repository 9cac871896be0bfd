//! The AT dialect of GSM modems (3GPP TS 27.007 and TS 27.005, V.250): commands out,
//! responses and unsolicited result codes in.
//!
//! [`AtCommand`] encodes what the host writes; [`AtReader`] turns what the modem answers into
//! [`AtEvent`]s. Nothing here touches a serial port: the driver owns the port and the
//! timeouts, this module owns the bytes.

pub mod command;
mod params;
pub mod reader;
pub mod response;

pub use command::{AtCommand, CommandKind};
pub use reader::{AtEvent, AtReader, LINE_OCTETS_MAX, ReadError};
pub use response::{FinalResult, Response, Urc};
