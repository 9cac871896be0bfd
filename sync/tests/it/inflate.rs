//! DEFLATE bombs (review 2026-12, finding 7): changes and sync messages whose compressed parts
//! inflate beyond the limits are refused as `TooLarge` before automerge inflates them, the
//! document is left as it was, and no mutated input panics.

use std::io::Write;

use automerge::sync::{ChunkList, Message, MessageVersion};
use automerge::transaction::Transactable;
use farmco_sync::doc::{MAX_CHANGE_BYTES, MAX_CHANGE_INFLATED_BYTES};
use farmco_sync::inflate::{Expect, check_inflated_len};
use farmco_sync::protocol::heads::{DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX, doc_sync_step};
use farmco_sync::{DocError, FarmerDoc};
use proptest::prelude::*;

use crate::support::{actor, farm, farmer, meta};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

fn sample() -> FarmerDoc {
    let (mut doc, _) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    doc.add_farm(&farm(1), &meta("a", 2)).unwrap();
    doc
}

fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A hand-made compressed-change chunk (type 2) of `inflated` zero bytes.
fn crafted_bomb(inflated: usize) -> Vec<u8> {
    let body = deflate(&vec![0u8; inflated]);
    let mut chunk = MAGIC.to_vec();
    chunk.extend([0, 0, 0, 0, 2]);
    leb128(body.len() as u64, &mut chunk);
    chunk.extend(body);
    chunk
}

/// A real automerge change holding a long string: automerge compresses it itself.
fn real_bomb(string_bytes: usize) -> Vec<u8> {
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "x", "a".repeat(string_bytes))
        .unwrap();
    let mut change = doc.get_last_local_change().unwrap();
    change.bytes().into_owned()
}

fn sync_message(chunks: Vec<Vec<u8>>) -> Vec<u8> {
    Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(chunks),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}

#[test]
fn crafted_compressed_change_over_the_limit_is_too_large() {
    let bomb = crafted_bomb(MAX_CHANGE_INFLATED_BYTES + 1);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let mut doc = sample();
    let heads = doc.heads_hex();
    let result = doc.apply_changes(&[bomb]);
    assert!(matches!(result, Err(DocError::TooLarge(_))), "{result:?}");
    assert_eq!(doc.heads_hex(), heads);
}

#[test]
fn real_compressed_change_over_the_limit_is_too_large() {
    let bomb = real_bomb(MAX_CHANGE_INFLATED_BYTES + 1024);
    assert!(bomb.len() <= MAX_CHANGE_BYTES, "{} bytes", bomb.len());
    assert_eq!(bomb[8], 2, "automerge compressed the change");
    let mut doc = sample();
    let heads = doc.heads_hex();
    let result = doc.apply_changes(&[bomb]);
    assert!(matches!(result, Err(DocError::TooLarge(_))), "{result:?}");
    assert_eq!(doc.heads_hex(), heads);
    // Below the limit the same kind of change is still accepted (nothing legitimate is lost).
    let fine = real_bomb(64 * 1024);
    assert_eq!(fine[8], 2);
    assert!(check_inflated_len(&fine, Expect::OneChange, MAX_CHANGE_INFLATED_BYTES).is_ok());
}

#[test]
fn sync_message_with_a_bomb_is_too_large() {
    let mut doc = sample();
    let heads = doc.heads_hex();
    let message = sync_message(vec![real_bomb(DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX + 1024)]);
    let result = doc_sync_step(&mut doc, Some(&message));
    assert!(matches!(result, Err(DocError::TooLarge(_))), "{result:?}");
    // Split over many chunks, the total still counts.
    let piece = crafted_bomb(DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX / 4 + 1);
    let message = sync_message(vec![piece; 4]);
    let result = doc_sync_step(&mut doc, Some(&message));
    assert!(matches!(result, Err(DocError::TooLarge(_))), "{result:?}");
    assert_eq!(doc.heads_hex(), heads);
}

#[test]
fn saved_document_with_deflated_columns_is_bounded() {
    let mut big = automerge::AutoCommit::new();
    big.put(
        automerge::ROOT,
        "x",
        "a".repeat(DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX + 1024),
    )
    .unwrap();
    let saved = big.save();
    assert!(
        saved.len() < DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX / 8,
        "{}",
        saved.len()
    );
    assert!(matches!(
        check_inflated_len(
            &saved,
            Expect::ChangesOrDocuments,
            DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX
        ),
        Err(DocError::TooLarge(_))
    ));
    // A change log entry is never a document.
    assert!(matches!(
        check_inflated_len(&saved, Expect::OneChange, usize::MAX),
        Err(DocError::Corrupt(_))
    ));
    // A real farmer document passes, with its inflated size at least its stored size.
    let mut doc = sample();
    let saved = doc.save();
    let n = check_inflated_len(
        &saved,
        Expect::ChangesOrDocuments,
        DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX,
    )
    .unwrap();
    assert!(n >= saved.len() - 16, "{n} < {}", saved.len());
}

#[test]
fn real_sync_steps_still_converge() {
    let mut a = sample();
    let mut b = FarmerDoc::new_empty(&actor(2)).unwrap();
    let mut message = doc_sync_step(&mut a, None).unwrap();
    for _ in 0..10 {
        let Some(m) = message else { break };
        message = doc_sync_step(&mut b, Some(&m)).unwrap();
        let Some(m) = message else { break };
        message = doc_sync_step(&mut a, Some(&m)).unwrap();
    }
    assert_eq!(a.heads_hex(), b.heads_hex());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Fuzz-style: compressed chunks with random framing, random DEFLATE bodies and mutated
    /// real changes never panic the guard, `apply_changes` or a sync step.
    #[test]
    fn mutated_chunks_never_panic(
        kind in 0u8..4,
        inflated in 0usize..4096,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        truncate in any::<Option<prop::sample::Index>>(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = match kind {
            0 => crafted_bomb(inflated),
            1 => real_bomb(inflated + 300),
            2 => { let mut d = sample(); d.save() }
            _ => [MAGIC.as_slice(), &tail].concat(),
        };
        for (at, value) in &flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
        }
        if let Some(t) = truncate && !bytes.is_empty() {
            bytes.truncate(t.index(bytes.len()));
        }
        let _ = check_inflated_len(&bytes, Expect::OneChange, 1024);
        let _ = check_inflated_len(&bytes, Expect::ChangesOrDocuments, 1024);
        let mut doc = sample();
        let heads = doc.heads_hex();
        if doc.apply_changes(std::slice::from_ref(&bytes)).is_err() {
            prop_assert_eq!(doc.heads_hex(), heads);
        }
        let mut doc = sample();
        let _ = doc_sync_step(&mut doc, Some(&sync_message(vec![bytes.clone()])));
        let _ = doc_sync_step(&mut doc, Some(&bytes));
        prop_assert!(doc.farmer().is_ok());
    }
}
