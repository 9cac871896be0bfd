//! Voice: the IVR call flow and missed-call callbacks, as pure cores.
//!
//! - [`flow`]: one call as a state machine (modem call events and ticks in, actions out).
//! - [`callback`]: when to call a farmer back, the per-number daily limit, retries.
//!
//! The shell that drives them (a tokio task owning the call side of the modem) comes with the
//! wiring phase; ARCHITECTURE.md ("How voice and notifications plug in") describes it. The
//! persistent state (callback queue, call log with every spoken text, agent tasks) lives in
//! `store::voice`.

pub mod callback;
pub mod config;
pub mod flow;
