//! Linking sensors to farms: a sensor placed inside a farm's boundary belongs to that farm.
//!
//! `farm_for_point` is the pure decision (point in polygon through the [`FarmIndex`]; where
//! boundaries overlap, the lowest farm id wins so the answer is deterministic). `relink_all`
//! recomputes every auto-linked sensor after boundaries change (a local farm write or farms
//! arriving by sync) and stores only the links that changed; explicitly linked sensors keep
//! their farm.

use crate::spatial::FarmIndex;
use crate::store::{Store, StoreResult};

/// Most overlapping farms considered at one point.
const OVERLAPS_MAX: usize = 16;

/// The farm whose boundary contains the point, if any.
pub fn farm_for_point(index: &FarmIndex, lat: f64, lon: f64) -> Option<uuid::Uuid> {
    index
        .nearby(lat, lon, 0.0, OVERLAPS_MAX)
        .into_iter()
        .filter(|f| f.distance_m == 0.0)
        .map(|f| f.id)
        .min()
}

/// Recompute the farm of every auto-linked sensor; returns how many links changed.
pub fn relink_all(store: &Store, index: &FarmIndex, now_ms: i64) -> StoreResult<usize> {
    let sensors = store.read(crate::store::ingest::auto_linked_sensors)?;
    let changes: Vec<(String, Option<String>)> = sensors
        .into_iter()
        .filter_map(|(id, lat, lon, current)| {
            let wanted = farm_for_point(index, lat, lon).map(|u| u.to_string());
            (wanted != current).then_some((id, wanted))
        })
        .collect();
    if changes.is_empty() {
        return Ok(0);
    }
    store.write(|tx| crate::store::ingest::set_auto_links(tx, &changes, now_ms))
}
