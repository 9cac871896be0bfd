//! Notification decisions: [`router`] (urgency → channels, quiet hours, dedupe, daily cap,
//! consent, voice → SMS fallback), [`localtime`] (local days and minutes from Unix
//! milliseconds and a fixed UTC offset: India has no daylight saving, so a fixed offset is
//! exact) and [`render`] (a notification's text in the farmer's language, `notify.ftl`). The
//! executor task that applies them is `farmco_edge::notify::executor`.

pub mod localtime;
pub mod render;
pub mod router;
