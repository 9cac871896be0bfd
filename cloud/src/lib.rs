//! FarmCo-Pilot cloud server: the library behind the `farmco-cloud` binary, its integration
//! tests and benchmarks.
//!
//! Layers, outermost first: `main.rs` (CLI) → [`server`] (process wiring, maintenance task) →
//! [`api`] (ops HTTP API, enrollment) → [`store`] (PostgreSQL/PostGIS through a deadpool pool) →
//! `farmco_sync` (pure domain core). [`keys`] holds the cloud's ed25519 identity, [`auth`] the
//! password and token helpers, [`metrics`] the Prometheus registry.

pub mod api;
pub mod auth;
pub mod config;
pub mod keys;
pub mod metrics;
pub mod server;
pub mod store;
pub mod sync_service;
pub mod tls;
