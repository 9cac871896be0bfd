//! The integration tests of farmco-modem-codec, one binary (see CONVENTIONS.md): modem
//! transcripts, cross-checked SMS vectors, property tests, fuzz-crasher replay and a tidy
//! check of the crate's own source.

mod crashers;
mod harness;
mod props;
mod tidy;
mod transcripts;
mod vectors;
