//! Notifications: the shell that applies the pure decisions of `farmco_village::notify`
//! (`router`: urgency → channels, quiet hours, dedupe, daily cap, consent, fallback;
//! `localtime`: local days; `render`: texts). The `[notify]` settings are
//! `crate::config::notify`.
//!
//! - [`executor`]: the task that routes submitted notifications and delivers due attempts
//!   (SMS hand-off to the outbox; voice attempts are dialed by the voice task).
//!
//! Persistent state (preferences, notifications, attempts) lives in `store::notify`.

pub mod executor;
