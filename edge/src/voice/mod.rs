//! Voice: the IVR over the GSM modem and missed-call callbacks — the shell around the pure
//! cores in `farmco_village::voice` (`flow`: one call as a state machine; `callback`: when to
//! call a farmer back; `render`: prompts to speech text). The `[voice]` settings are
//! `crate::config::voice`.
//!
//! - [`content`]: the menu's answers over the store.
//! - [`task`]: the shell, a tokio task owning the call side of the modem (inbound calls,
//!   callbacks and voice notifications, one call at a time).
//!
//! The persistent state (callback queue, call log with every spoken text, agent tasks) lives
//! in `store::voice`.

pub mod content;
pub mod task;
