//! The byte-budget planner: the result is the longest prefix within the budget, or the first
//! item alone when even that does not fit, so a large item never blocks the log; order is
//! kept and nothing is skipped.

use farmco_sync::protocol::take_within_budget;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn takes_the_longest_prefix_within_budget(
        sizes in prop::collection::vec(0usize..200, 0..40),
        budget in 0usize..1000,
    ) {
        let taken = take_within_budget(sizes.iter().copied().enumerate(), |(_, s)| *s, budget);
        // A prefix, in order.
        let indexes: Vec<usize> = taken.iter().map(|(i, _)| *i).collect();
        prop_assert_eq!(indexes, (0..taken.len()).collect::<Vec<_>>());
        if sizes.is_empty() {
            prop_assert!(taken.is_empty());
            return Ok(());
        }
        // Never empty: the first item goes even if it alone exceeds the budget.
        prop_assert!(!taken.is_empty());
        let total: usize = taken.iter().map(|(_, s)| *s).sum();
        prop_assert!(total <= budget || taken.len() == 1);
        // Maximal: the next item would not have fit.
        if let Some(next) = sizes.get(taken.len()) {
            prop_assert!(total + next > budget);
        }
    }

    #[test]
    fn an_oversized_item_goes_alone(big in 101usize..10_000, rest in prop::collection::vec(0usize..50, 0..5)) {
        let mut sizes = vec![big];
        sizes.extend(rest);
        prop_assert_eq!(take_within_budget(sizes, |s| *s, 100), vec![big]);
    }
}

#[test]
fn consumes_only_what_it_takes() {
    // The iterator is not drained past the first item that does not fit (a database cursor
    // is not read further than needed).
    let mut pulled = 0;
    let items = (0..).inspect(|_| pulled += 1).map(|i| i * 10);
    let taken = take_within_budget(items.take(1000), |s| *s, 25);
    assert_eq!(taken, vec![0, 10]);
    assert_eq!(pulled, 3);
}
