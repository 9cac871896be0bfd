//! The IVR's pure parts: [`flow`] (one call as a state machine: modem call events and ticks
//! in, actions out), [`render`] (prompts to speech text through Fluent `ivr.ftl`, cut for
//! text-to-speech) and [`callback`] (when to call a farmer back, the per-number daily limit,
//! retries). The shell that drives them is `farmco_edge::voice::task`.

pub mod callback;
pub mod flow;
pub mod render;
