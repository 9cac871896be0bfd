//! Integration tests of `farmco-sync`, one binary for the crate (see CONVENTIONS.md).
//!
//! - `model`: every validation rule of the domain newtypes.
//! - `boundary`: GeoJSON boundary rejections with exact field paths, areas, overlaps.
//! - `doc`: the farmer document: round trips, updates, history, corruption.
//! - `convergence`: property tests of replicas editing concurrently and exchanging changes,
//!   directly and through the whole sync protocol over a lossy link (the acceptance test).
//! - `garbage`: property test that random bytes never panic `load`/`apply_changes`.
//! - `inflate`: DEFLATE bombs in changes, documents and sync messages are refused first.
//! - `readings`: the readings codec: exact round trips, corruption, size targets.
//! - `envelope`: signed envelopes: layout, every decode error, tampering, replay verdicts.
//! - `wire`: payload round trips, garbage and zstd bombs.
//! - `plan`: the byte-budget planner.
//! - `anti_entropy`: heads digests, page comparison, automerge sync steps.
//! - `tidy`: checks of the crate's own source (module docs, banned macros, dependencies).

// Tests state their expectations with unwrap; a failure panics with the error, as it should.
#![allow(clippy::unwrap_used)]

mod anti_entropy;
mod boundary;
mod convergence;
mod doc;
mod envelope;
mod garbage;
mod inflate;
mod model;
mod plan;
mod readings;
mod support;
mod tidy;
mod wire;
