//! Fuzz target for the AT reader: arbitrary bytes after a chosen pending command, fed in
//! chunks. The body lives in tests/it/harness.rs so that committed crash inputs replay
//! through the same code in an ordinary `cargo test`.

#![no_main]

#[path = "../../tests/it/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::at_reader(data);
});
