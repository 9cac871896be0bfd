//! `farmco-sync`: the pure core of FarmCo-Pilot Edge.
//!
//! The domain model ([`model`]), validated farm boundaries ([`boundary`]), the per-farmer
//! automerge document ([`doc`]) that edge nodes and the cloud exchange as change logs, and
//! the sync protocol between them ([`protocol`]: keys, signed envelopes, wire payloads, the
//! readings codec, batch planning, anti-entropy).
//!
//! Invariants (checked by the tidy test in `tests/it/tidy.rs`):
//! - No I/O, no clock, no randomness: time (`CommitMeta::time_ms`) and replica identities
//!   (actor bytes) come in as parameters; the shells (edge, cloud) own sockets, files and clocks.
//! - Untrusted bytes and documents never panic this crate: decoding runs under
//!   `catch_unwind` and documents are re-validated when read.
//! - Domain types carry no serde derives; wire formats are explicit at their boundaries.

pub mod audit;
pub mod boundary;
pub mod doc;
pub mod inflate;
pub mod model;
pub mod protocol;

pub use boundary::{Boundary, MAX_BOUNDARY_VERTICES};
pub use doc::{CommitMeta, DocError, FarmPatch, FarmerDoc, FarmerPatch, HistoryEntry, LocalChange};
pub use model::{
    Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, PersonName, PhoneNumber,
    Season, SoilParameter, SoilParameters, SoilTest, SoilTestId, ValidationError, VillageCode,
};
