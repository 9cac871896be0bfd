//! The retention sweep: raw readings older than `retention.raw_days` become hourly rollups,
//! but a raw reading is never deleted before the cloud acknowledged it (its id must be at or
//! below the acknowledged readings cursor of sync).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Store, StoreResult};

/// Raw readings removed per transaction: keeps each sweep step short so the writer lock is
/// never held long (ingest batches and HTTP writes interleave between steps).
pub const SWEEP_ROWS_PER_TX: usize = 20_000;

/// One full sweep at `now_ms`; returns the raw readings rolled up and removed.
pub fn sweep(store: &Store, raw_max_age: Duration, now_ms: i64) -> StoreResult<usize> {
    let cutoff = now_ms - i64::try_from(raw_max_age.as_millis()).unwrap_or(i64::MAX);
    let acked = store
        .read(crate::store::sync_state::cursors)?
        .readings_acked;
    let mut total = 0;
    loop {
        let n = store.write(|tx| {
            crate::store::ingest::retention_sweep(tx, cutoff, acked, SWEEP_ROWS_PER_TX)
        })?;
        total += n;
        if n < SWEEP_ROWS_PER_TX {
            return Ok(total);
        }
    }
}

/// Sweep every `interval` until shutdown.
pub async fn run(
    store: Arc<Store>,
    raw_max_age: Duration,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let s = store.clone();
        match tokio::task::spawn_blocking(move || sweep(&s, raw_max_age, crate::store::now_ms()))
            .await
        {
            Ok(Ok(n)) if n > 0 => tracing::info!(rolled_up = n, "retention sweep"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep task failed"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
