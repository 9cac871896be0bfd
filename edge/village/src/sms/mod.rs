//! The SMS service's decisions: [`command`] (the farmers' command parser: English, Hindi and
//! Hinglish, NFC-normalized), [`policy`] (outbox priorities, the per-SIM daily cap with its
//! reply reserve, the local day, retry backoff) and [`reply`] (an answer → its localized text).
//! The transaction that applies them is `farmco_edge::sms::handle_incoming`.

pub mod command;
pub mod policy;
pub mod reply;
