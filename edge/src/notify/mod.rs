//! Notifications: deciding who hears what, on which channel, and when.
//!
//! - [`router`]: the pure routing rules (urgency → channels, quiet hours, dedupe, daily cap,
//!   consent, voice → SMS fallback).
//! - [`localtime`]: local days and minutes of the day from Unix milliseconds and a fixed UTC
//!   offset (India has no daylight saving, so a fixed offset is exact).
//!
//! - [`render`]: a notification's text in the farmer's language (`notify.ftl`).
//! - [`executor`]: the task that routes submitted notifications and delivers due attempts
//!   (SMS hand-off to the outbox; voice attempts are dialed by the voice task).
//!
//! Persistent state (preferences, notifications, attempts) lives in `store::notify`.

pub mod config;
pub mod executor;
pub mod localtime;
pub mod render;
pub mod router;
