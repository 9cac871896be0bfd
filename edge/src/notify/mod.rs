//! Notifications: deciding who hears what, on which channel, and when.
//!
//! - [`router`]: the pure routing rules (urgency → channels, quiet hours, dedupe, daily cap,
//!   consent, voice → SMS fallback).
//! - [`localtime`]: local days and minutes of the day from Unix milliseconds and a fixed UTC
//!   offset (India has no daylight saving, so a fixed offset is exact).
//!
//! Persistent state (preferences, notifications, attempts) lives in `store::notify`.

pub mod config;
pub mod localtime;
pub mod router;
