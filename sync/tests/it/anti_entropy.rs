//! Anti-entropy: heads digests, the cloud's page comparison, and `doc_sync_step` (automerge's
//! per-document sync with a fresh state per step) converging diverged documents and refusing
//! garbage without panicking or changing the document.

use farmco_sync::model::PersonName;
use farmco_sync::protocol::heads::{DOC_SYNC_MESSAGE_BYTES_MAX, anti_entropy_page_covers};
use farmco_sync::protocol::{
    AntiEntropyRequest, DocDigest, compare_anti_entropy_page, doc_sync_step, heads_digest,
};
use farmco_sync::{DocError, FarmerDoc, FarmerPatch};
use proptest::prelude::*;

use crate::support::{actor, farm, farm_id, farmer, meta, soil_test};

#[test]
fn digests_ignore_order_case_and_duplicates() {
    let a = "aa".repeat(32);
    let b = "0b".repeat(32);
    let digest = heads_digest(&[a.clone(), b.clone()]);
    assert_eq!(heads_digest(&[b.clone(), a.clone()]), digest);
    assert_eq!(
        heads_digest(&[b.clone(), a.to_uppercase(), a.clone()]),
        digest
    );
    assert_ne!(heads_digest(std::slice::from_ref(&a)), digest);
    assert_ne!(heads_digest(&[]), digest);
    // The definition: SHA-256 over the raw hashes in ascending order.
    use sha2::{Digest, Sha256};
    let mut raw = vec![0x0bu8; 32];
    raw.extend_from_slice(&[0xaa; 32]);
    assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&raw)));
    assert_eq!(heads_digest(&[]), <[u8; 32]>::from(Sha256::digest(b"")));
    // A real document's heads.
    let (mut doc, _) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    let heads = doc.heads_hex();
    assert_eq!(
        heads_digest(&heads),
        heads_digest(&[heads[0].to_uppercase()])
    );
}

fn id(n: u8) -> [u8; 16] {
    [n; 16]
}

fn digest(n: u8, d: u8) -> DocDigest {
    DocDigest {
        doc_id: id(n),
        heads_digest: [d; 32],
    }
}

#[test]
fn page_comparison() {
    let cloud = [
        digest(1, 1),
        digest(2, 2),
        digest(3, 3),
        digest(5, 5),
        digest(9, 9),
    ];
    // A middle page: docs 2..=5 after doc 1. Doc 3 differs, doc 4 the cloud lacks, doc 5
    // the edge did not list; doc 9 is beyond the page.
    let page = AntiEntropyRequest {
        docs: vec![digest(2, 2), digest(3, 0), digest(4, 4), digest(6, 5)],
        after_doc: Some(id(1)),
        complete: false,
    };
    assert!(!anti_entropy_page_covers(&page, &id(1)));
    assert!(anti_entropy_page_covers(&page, &id(6)));
    assert!(!anti_entropy_page_covers(&page, &id(7)));
    assert_eq!(
        compare_anti_entropy_page(&page, &cloud).differing,
        vec![id(3), id(4), id(5), id(6)]
    );
    // The last page reaches the end: doc 9 counts too.
    let last = AntiEntropyRequest {
        complete: true,
        ..page.clone()
    };
    assert_eq!(
        compare_anti_entropy_page(&last, &cloud).differing,
        vec![id(3), id(4), id(5), id(6), id(9)]
    );
    // An edge with no documents at all: everything the cloud has.
    let empty = AntiEntropyRequest {
        docs: vec![],
        after_doc: None,
        complete: true,
    };
    assert_eq!(compare_anti_entropy_page(&empty, &cloud).differing.len(), 5);
    // An empty page that is not the last covers nothing.
    let nothing = AntiEntropyRequest {
        complete: false,
        ..empty
    };
    assert!(
        compare_anti_entropy_page(&nothing, &cloud)
            .differing
            .is_empty()
    );
    // In sync: nothing differs.
    let same = AntiEntropyRequest {
        docs: cloud.to_vec(),
        after_doc: None,
        complete: true,
    };
    assert!(
        compare_anti_entropy_page(&same, &cloud)
            .differing
            .is_empty()
    );
}

/// Run `doc_sync_step` between two documents until both answer `None`; the number of
/// messages exchanged.
fn sync(a: &mut FarmerDoc, b: &mut FarmerDoc) -> usize {
    let mut message = doc_sync_step(a, None).unwrap();
    let mut messages = 0;
    let mut turn_b = true;
    while let Some(m) = message {
        messages += 1;
        assert!(messages < 20, "sync does not terminate");
        message = if turn_b {
            doc_sync_step(b, Some(&m)).unwrap()
        } else {
            doc_sync_step(a, Some(&m)).unwrap()
        };
        turn_b = !turn_b;
    }
    messages
}

fn rename(doc: &mut FarmerDoc, name: &str, t: i64) {
    doc.update_farmer(
        &FarmerPatch {
            name: Some(PersonName::parse("name", name).unwrap()),
            ..Default::default()
        },
        &meta("a", t),
    )
    .unwrap();
}

#[test]
fn doc_sync_converges_diverged_documents() {
    let (mut a, created) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    let mut b = FarmerDoc::new_empty(&actor(2)).unwrap();
    b.apply_changes(&[created.bytes]).unwrap();
    a.add_farm(&farm(1), &meta("a", 2)).unwrap();
    a.add_soil_test(&soil_test(1, farm_id(1)), &meta("a", 3))
        .unwrap();
    rename(&mut b, "Sunita Bai", 4);
    b.add_farm(&farm(2), &meta("b", 5)).unwrap();
    assert_ne!(a.heads_hex(), b.heads_hex());
    let messages = sync(&mut a, &mut b);
    assert!(messages <= 4, "{messages} messages");
    assert_eq!(a.heads_hex(), b.heads_hex());
    assert_eq!(a.farms().unwrap(), b.farms().unwrap());
    assert_eq!(a.farmer().unwrap(), b.farmer().unwrap());
    // In sync: the first message is answered with None.
    let m = doc_sync_step(&mut a, None).unwrap().unwrap();
    assert_eq!(doc_sync_step(&mut b, Some(&m)).unwrap(), None);

    // An empty replica gets the whole document.
    let mut empty = FarmerDoc::new_empty(&actor(3)).unwrap();
    sync(&mut empty, &mut a);
    assert_eq!(empty.heads_hex(), a.heads_hex());
    assert_eq!(empty.soil_tests().unwrap(), a.soil_tests().unwrap());
}

#[test]
fn doc_sync_refuses_garbage() {
    let (mut doc, _) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    let heads = doc.heads_hex();
    for garbage in [&b""[..], b"\x42", b"\x43\xff\xff\xff", b"hello world"] {
        assert!(matches!(
            doc_sync_step(&mut doc, Some(garbage)),
            Err(DocError::Corrupt(_))
        ));
        assert_eq!(doc.heads_hex(), heads);
    }
    let huge = vec![0x42u8; DOC_SYNC_MESSAGE_BYTES_MAX + 1];
    assert!(matches!(
        doc_sync_step(&mut doc, Some(&huge)),
        Err(DocError::TooLarge(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_sync_messages_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        truncate in any::<Option<prop::sample::Index>>(),
    ) {
        let (mut a, created) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
        a.add_farm(&farm(1), &meta("a", 2)).unwrap();
        let mut b = FarmerDoc::new_empty(&actor(2)).unwrap();
        b.apply_changes(&[created.bytes]).unwrap();
        // A message carrying changes: b's request, answered by a.
        let request = doc_sync_step(&mut b, None).unwrap().unwrap();
        let mut reply = doc_sync_step(&mut a, Some(&request)).unwrap().unwrap();
        for (at, value) in &flips {
            let i = at.index(reply.len());
            reply[i] ^= value;
        }
        if let Some(at) = truncate {
            reply.truncate(at.index(reply.len()));
        }
        let heads = b.heads_hex();
        if doc_sync_step(&mut b, Some(&reply)).is_err() {
            prop_assert_eq!(b.heads_hex(), heads);
        }
        let _ = b.farms();
    }
}
