//! Batch planning under a byte budget: what goes into one round.
//!
//! A round over 2G must be small enough that a dropped link loses little, and every batch
//! must make progress: [`take_within_budget`] takes items in order while they fit and always
//! at least one, so a change larger than the budget is sent alone instead of blocking the log
//! forever. Priorities within a request (docs/sync-protocol.md): heartbeat always, then
//! document changes, then readings in what is left.
//!
//! Limits, and why:
//! - [`BATCH_BUDGET_BYTES_DEFAULT`] 32 KiB: about 5 s at 50 kbit/s on 2G.
//! - [`DOWN_CHANGES_PER_BATCH_MAX`] 5,000: bounds the cloud's query and the edge's transaction.
//! - [`ANTI_ENTROPY_DOCS_PER_PAGE`] 1,000: bounds one anti-entropy request (~49 KB of digests).

/// Default byte budget of one batch (up, down): about 5 s at 50 kbit/s on 2G, so a dropped
/// link loses little.
pub const BATCH_BUDGET_BYTES_DEFAULT: usize = 32 * 1024;
/// Most changes in one down batch: bounds the cloud's query and the edge's transaction size.
pub const DOWN_CHANGES_PER_BATCH_MAX: usize = 5_000;
/// Most documents in one anti-entropy page (49 bytes each on the wire): bounds one request.
pub const ANTI_ENTROPY_DOCS_PER_PAGE: usize = 1_000;

/// Take items in order while their summed `size` stays within `budget_bytes`; always at
/// least one item if any (so an item larger than the budget is sent alone and never blocks
/// the log). Stops at the first item that does not fit (order is never skipped over): the
/// result is the longest prefix within the budget, or the first item alone.
pub fn take_within_budget<T>(
    items: impl IntoIterator<Item = T>,
    size: impl Fn(&T) -> usize,
    budget_bytes: usize,
) -> Vec<T> {
    let mut taken = Vec::new();
    let mut used = 0usize;
    for item in items {
        let item_size = size(&item);
        let total = used.saturating_add(item_size);
        if !taken.is_empty() && total > budget_bytes {
            break;
        }
        used = total;
        taken.push(item);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(
            take_within_budget(Vec::<usize>::new(), |s| *s, 10),
            Vec::<usize>::new()
        );
        assert_eq!(take_within_budget([20, 1], |s| *s, 10), vec![20]);
        assert_eq!(take_within_budget([3, 3, 3, 3], |s| *s, 10), vec![3, 3, 3]);
        assert_eq!(take_within_budget([3, 8, 1], |s| *s, 10), vec![3]);
        assert_eq!(take_within_budget([5, 5, 0, 1], |s| *s, 10), vec![5, 5, 0]);
    }
}
