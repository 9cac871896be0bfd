//! Untrusted bytes: random and mutated input to `load` and `apply_changes` is an error, never
//! a panic, and a rejected batch leaves the document unchanged.

use farmco_sync::{DocError, FarmerDoc};
use proptest::prelude::*;

use crate::support::{actor, farm, farmer, meta};

/// The magic bytes that start every automerge chunk, to get past the first check.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

fn sample() -> (FarmerDoc, Vec<Vec<u8>>, Vec<u8>) {
    let (mut doc, created) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    let added = doc.add_farm(&farm(1), &meta("a", 2)).unwrap();
    let saved = doc.save();
    (doc, vec![created.bytes, added.bytes], saved)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..512), magic in any::<bool>()) {
        let bytes = if magic { [MAGIC.as_slice(), &bytes].concat() } else { bytes };
        prop_assert!(FarmerDoc::load(&actor(1), &bytes).is_err());
        let (mut doc, _, _) = sample();
        let heads = doc.heads_hex();
        let result = doc.apply_changes(&[bytes]);
        prop_assert!(matches!(result, Err(DocError::Corrupt(_))), "{:?}", result);
        prop_assert_eq!(doc.heads_hex(), heads);
        prop_assert!(doc.farmer().is_ok());
    }

    #[test]
    fn mutated_changes_and_documents_never_panic(
        which in 0usize..3,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        truncate in any::<Option<prop::sample::Index>>(),
    ) {
        let (mut doc, changes, saved) = sample();
        let mut bytes = match which {
            0 => changes[0].clone(),
            1 => changes[1].clone(),
            _ => saved.clone(),
        };
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value | 1;
        }
        if let Some(at) = truncate {
            bytes.truncate(at.index(bytes.len()));
        }
        // Either outcome is fine (a flip can land in a tolerant place); panicking is not.
        if let Ok(loaded) = FarmerDoc::load(&actor(2), &bytes) {
            let _ = loaded.farmer();
            let _ = loaded.farms();
        }
        let mut fresh = FarmerDoc::new_empty(&actor(3)).unwrap();
        if fresh.apply_changes(&[bytes.clone()]).is_ok() {
            let _ = fresh.farms();
            let _ = fresh.history();
        }
        let heads = doc.heads_hex();
        if doc.apply_changes(&[changes[0].clone(), bytes]).is_err() {
            prop_assert_eq!(doc.heads_hex(), heads);
        }
    }
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let (mut doc, _, _) = sample();
    let huge = vec![0u8; farmco_sync::doc::MAX_CHANGE_BYTES + 1];
    assert!(matches!(
        doc.apply_changes(&[huge]),
        Err(DocError::TooLarge(_))
    ));
}
