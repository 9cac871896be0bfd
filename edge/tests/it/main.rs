//! Integration tests of the edge node: the HTTP API through `Router::oneshot`, a real socket,
//! durability across `kill -9`, document/projection agreement, the uplink to the cloud (TLS,
//! pins, plain-HTTP refusal, enrollment proof, bounded bodies) and the tidy checks.
#![allow(clippy::unwrap_used)] // tests and benches fail loudly by design

mod api;
mod durability;
mod field_app;
mod hardening;
mod ingest;
mod notify;
mod otp;
mod projection;
mod sms;
mod support;
mod sync_health;
mod tidy;
mod uplink;
mod voice;
