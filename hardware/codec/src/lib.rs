//! Pure codecs for the GSM modem of FarmCo-Pilot Edge: the AT command/response dialect
//! (3GPP TS 27.007 and TS 27.005) and SMS PDUs (TS 23.040, TS 23.038).
//!
//! Farmers text the village node from basic phones; a GSM modem on a serial port turns that
//! into AT traffic. This crate is the part of that path that can be pure: it does no I/O,
//! reads no clock and draws no random numbers. The serial driver feeds it bytes and acts on
//! the events it returns; the modem simulator uses the same types from the other side.
//!
//! - [`at`]: [`at::AtCommand`] encodes commands; [`at::AtReader`] is a sans-I/O reader that
//!   takes bytes in any split and returns [`at::AtEvent`]s: echoes, the `> ` prompt, typed
//!   responses attributed to the pending command, final results and unsolicited result codes.
//! - [`pdu`]: SMS-SUBMIT / SMS-DELIVER / SMS-STATUS-REPORT, GSM 7-bit (with the extension
//!   table) and UCS-2, splitting into concatenated parts and a reassembly buffer.
//!
//! Invariants: no input makes any function panic (fuzzed); every buffer is bounded by a
//! named constant ([`at::LINE_OCTETS_MAX`], [`pdu::split::PARTS_MAX`],
//! [`pdu::reassembly::PENDING_SETS_MAX_DEFAULT`], ...); time is a `now_ms` parameter.
//! Dependencies: `thiserror` only; the `at` module uses `pdu` (a PDU line is decoded to
//! octets there), never the reverse.

pub mod at;
pub mod hex;
pub mod pdu;
