//! End-to-end: a real cloud (PostgreSQL + PostGIS) and real edge processes syncing over HTTP
//! (plain HTTP explicitly allowed on the edges) and over HTTPS (`tls`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod envelopes;
mod ingest_crash;
mod nearby;
mod proxy;
mod repair;
mod sms;
mod sync;
mod tls;
mod voice;
