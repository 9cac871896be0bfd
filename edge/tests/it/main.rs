//! Integration tests of the edge node: the HTTP API through `Router::oneshot`, a real socket,
//! durability across `kill -9`, document/projection agreement, and the tidy checks.
#![allow(clippy::unwrap_used)] // tests and benches fail loudly by design

mod api;
mod durability;
mod ingest;
mod notify;
mod projection;
mod sms;
mod support;
mod sync_health;
mod tidy;
mod voice;
