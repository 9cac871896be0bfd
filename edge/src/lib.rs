//! FarmCo-Pilot edge node: the village box's library, used by the `farmco-edge` binary, the
//! integration tests and the benchmarks.
//!
//! Layers, outermost first: `main.rs` (CLI) → [`server`] (process wiring) → [`api`] (HTTP) →
//! [`store`] (SQLite) and [`spatial`] (in-memory index) → `farmco_sync` (pure domain core).

pub mod alerts;
pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod enroll;
pub mod identity;
pub mod ingest;
pub mod metrics;
pub mod modem;
pub mod notify;
pub mod server;
pub mod sms;
pub mod spatial;
pub mod store;
pub mod sync_client;
pub mod sync_health;
pub mod tls;
pub mod uplink;
pub mod voice;
pub mod web;
