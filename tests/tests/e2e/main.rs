//! End-to-end: a real cloud (PostgreSQL + PostGIS) and real edge processes syncing over HTTP.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod envelopes;
mod ingest_crash;
mod nearby;
mod proxy;
mod repair;
mod sms;
mod sync;
mod voice;
