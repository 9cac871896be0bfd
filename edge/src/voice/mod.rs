//! Voice: the IVR over the GSM modem and missed-call callbacks — pure cores and their shell.
//!
//! - [`flow`]: one call as a state machine (modem call events and ticks in, actions out).
//! - [`callback`]: when to call a farmer back, the per-number daily limit, retries.
//! - [`render`]: prompts to speech text (Fluent, `ivr.ftl`), cut for text-to-speech.
//! - [`content`]: the menu's answers over the store.
//! - [`task`]: the shell, a tokio task owning the call side of the modem (inbound calls,
//!   callbacks and voice notifications, one call at a time).
//!
//! The persistent state (callback queue, call log with every spoken text, agent tasks) lives
//! in `store::voice`.

pub mod callback;
pub mod config;
pub mod content;
pub mod flow;
pub mod render;
pub mod task;
