//! The integration tests of farmco-hardware, one binary (see CONVENTIONS.md): the simulator's
//! AT dialect as transcripts, its HTTP side door, the driver against the simulator over a
//! real pseudo-terminal (receive, send, calls, every fault), gammu against the simulator,
//! and a tidy check of the crate's own source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod control;
mod driver_calls;
mod driver_faults;
mod driver_receive;
mod driver_send;
mod gammu;
mod harness;
mod sim_transcripts;
mod tidy;
