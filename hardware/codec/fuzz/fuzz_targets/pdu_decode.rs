//! Fuzz target for the PDU decoders (SMS-DELIVER, SMS-STATUS-REPORT, SMS-SUBMIT with and
//! without SMSC field) and for split-then-reassemble. The body lives in tests/it/harness.rs so
//! that committed crash inputs replay through the same code in an ordinary `cargo test`.

#![no_main]

#[path = "../../tests/it/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::pdu_decode(data);
});
