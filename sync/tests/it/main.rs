//! Integration tests of `farmco-sync`, one binary for the crate (see CONVENTIONS.md).
//!
//! - `model`: every validation rule of the domain newtypes.
//! - `boundary`: GeoJSON boundary rejections with exact field paths, areas, overlaps.
//! - `doc`: the farmer document: round trips, updates, history, corruption.
//! - `convergence`: property test of replicas editing concurrently and exchanging changes.
//! - `garbage`: property test that random bytes never panic `load`/`apply_changes`.
//! - `tidy`: checks of the crate's own source (module docs, banned macros, dependencies).

// Tests state their expectations with unwrap; a failure panics with the error, as it should.
#![allow(clippy::unwrap_used)]

mod boundary;
mod convergence;
mod doc;
mod garbage;
mod model;
mod support;
mod tidy;
