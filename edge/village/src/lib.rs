//! `farmco-village`: the village node's own decisions, as pure functions and state machines.
//!
//! Everything here takes values in and gives values out: no tokio, no SQLite, no sockets, no
//! clock and no randomness (times come in as `now_ms`, ids as parameters). The edge's shells
//! (`farmco-edge`: the store, the modem, MQTT, HTTP, the tasks) call into this crate and store
//! what it decides; this crate never calls back. The tidy test `pure_crates_do_no_io` keeps
//! I/O crates out of its dependency tree.
//!
//! - [`voice`]: one IVR call as a state machine ([`voice::flow`]), its prompts as text
//!   ([`voice::render`]), callback scheduling ([`voice::callback`]).
//! - [`notify`]: the notification router ([`notify::router`]), local days and quiet hours
//!   ([`notify::localtime`]), notification texts ([`notify::render`]).
//! - [`alerts`]: alert rules ([`alerts::rules`]) and the alert engine ([`alerts::engine`]).
//! - [`sms`]: the farmers' command parser ([`sms::command`]), the outbox policy
//!   ([`sms::policy`]: priorities, the daily cap and its reserve, backoff) and reply texts
//!   ([`sms::reply`]).
//! - [`answers`]: the answers to farmers' questions as data, and the NPK dose rule.
//! - [`ingest`]: the metric catalogue ([`ingest::catalog`]) and MQTT payload checks
//!   ([`ingest::payload`]).
//! - [`otp`]: one-time codes sent by SMS (limits, keyed hashes, verification outcomes).
//! - [`l10n`]: Fluent catalogues per domain, compiled in from `edge/locales/`.

pub mod alerts;
pub mod answers;
pub mod ingest;
pub mod l10n;
pub mod notify;
pub mod otp;
pub mod sms;
pub mod voice;
