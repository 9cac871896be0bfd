//! The SMS service's decisions: [`command`] (the farmers' command parser: English, Hindi,
//! Marathi, and both in Latin letters, NFC-normalized; it also tells Marathi from Hindi), [`policy`] (outbox priorities, the per-SIM daily cap with its
//! reply reserve, the local day, retry backoff) and [`reply`] (an answer → its localized text).
//! The transaction that applies them is `farmco_edge::sms::handle_incoming`.

pub mod command;
pub mod policy;
pub mod reply;
