//! Anti-entropy: per-document heads digests and automerge's own sync protocol, used only for
//! the documents whose digests differ between an edge and the cloud (a lost cursor, a restored
//! backup or a dropped change heals this way; docs/sync-protocol.md, "Anti-entropy").
//!
//! - [`heads_digest`]: SHA-256 over a document's sorted, distinct heads (raw 32-byte hashes);
//!   equal digests mean equal change sets (the heads determine every change they depend on).
//! - [`compare_anti_entropy_page`]: the cloud's answer to one page of edge digests.
//! - [`doc_sync_step`]: one step of automerge's per-document sync with a **fresh**
//!   `sync::State` per call, so nothing about a peer has to be stored between rounds over a
//!   link that drops. It still converges: every message carries the sender's heads, the
//!   hashes it lacks (`need`) and a Bloom filter of *all* its changes (with no shared heads
//!   remembered, the filter covers the whole document), so each reply sends every change the
//!   peer's filter does not claim; a Bloom false positive is asked for by hash in the next
//!   step. The cost of forgetting is only bandwidth (changes already sent may be sent again).
//!   A fresh state never knows "we already said that", so the "in sync" answer (`None`) is
//!   decided here: after applying the peer's message, our heads equal the heads it announced.
//!
//! Limits: an incoming sync message is at most [`DOC_SYNC_MESSAGE_BYTES_MAX`] bytes (a message
//! may carry a whole saved document) and inflates to at most
//! [`DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX`] (checked by `crate::inflate` first); decoding and applying run under `catch_unwind` and a
//! failed apply leaves the document as it was.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::sync::{Message, SyncDoc};
use sha2::{Digest, Sha256};

use super::plan::ANTI_ENTROPY_DOCS_PER_PAGE;
use super::wire::{AntiEntropyRequest, AntiEntropyResponse, DocDigest, DocIdBytes};
use crate::doc::{DocError, FarmerDoc, MAX_DOC_BYTES};

/// Largest incoming automerge sync message: one may carry a whole saved document, and
/// `doc::MAX_DOC_BYTES` bounds those.
pub const DOC_SYNC_MESSAGE_BYTES_MAX: usize = MAX_DOC_BYTES;
/// Largest size the changes and documents of one incoming sync message may inflate to
/// (automerge DEFLATE-compresses change chunks and document columns): as much as a saved
/// document may hold, so a legitimate whole-document message fits and a DEFLATE bomb does not
/// (review 2026-12, finding 7).
pub const DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX: usize = MAX_DOC_BYTES;

/// SHA-256 over the concatenated heads as raw 32-byte change hashes, distinct and in
/// ascending order; order, case and repetition of the hex input do not matter. (A string
/// that is not 64 hex digits, which automerge never produces, is hashed as its text.)
pub fn heads_digest(heads_hex: &[String]) -> [u8; 32] {
    let mut heads: Vec<Vec<u8>> = heads_hex
        .iter()
        .map(|h| decode_hash(h).map_or_else(|| h.as_bytes().to_vec(), |b| b.to_vec()))
        .collect();
    heads.sort_unstable();
    heads.dedup();
    let mut hasher = Sha256::new();
    for head in &heads {
        hasher.update(head);
    }
    hasher.finalize().into()
}

/// A change hash from 64 hex digits (either case).
fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// Whether `doc_id` lies in the range a page covers: after `after_doc`, up to and including
/// the last listed id, or to the end if the page is `complete` (the edge's last page; a
/// page listing nothing covers nothing unless it is complete).
pub fn anti_entropy_page_covers(request: &AntiEntropyRequest, doc_id: &DocIdBytes) -> bool {
    if request.after_doc.is_some_and(|after| doc_id <= &after) {
        return false;
    }
    if request.complete {
        return true;
    }
    request
        .docs
        .iter()
        .map(|d| &d.doc_id)
        .max()
        .is_some_and(|last| doc_id <= last)
}

/// The cloud's answer to one page: listed documents whose digest differs from the cloud's
/// (or that the cloud lacks), and the cloud's documents in the page's range that the edge
/// did not list (it lacks them). `cloud_docs` are the cloud's documents **in the edge's
/// scope**; those outside the page's range are ignored. Ascending, without duplicates, at
/// most [`ANTI_ENTROPY_DOCS_PER_PAGE`] (the rest are found by the next pass).
pub fn compare_anti_entropy_page(
    request: &AntiEntropyRequest,
    cloud_docs: &[DocDigest],
) -> AntiEntropyResponse {
    let cloud: std::collections::BTreeMap<&DocIdBytes, &[u8; 32]> = cloud_docs
        .iter()
        .filter(|d| anti_entropy_page_covers(request, &d.doc_id))
        .map(|d| (&d.doc_id, &d.heads_digest))
        .collect();
    let listed: std::collections::BTreeSet<&DocIdBytes> =
        request.docs.iter().map(|d| &d.doc_id).collect();
    let mut differing: Vec<DocIdBytes> = request
        .docs
        .iter()
        .filter(|d| cloud.get(&d.doc_id) != Some(&&d.heads_digest))
        .map(|d| d.doc_id)
        .chain(
            cloud
                .keys()
                .filter(|id| !listed.contains(*id))
                .map(|id| **id),
        )
        .collect();
    differing.sort_unstable();
    differing.dedup();
    differing.truncate(ANTI_ENTROPY_DOCS_PER_PAGE);
    AntiEntropyResponse { differing }
}

/// One step of automerge's per-document sync: apply the peer's message (if any) and produce
/// our next message, or `None` when the peer's announced heads equal ours after applying it
/// (in sync). The first step (no incoming message) always produces a message. Garbage is
/// [`DocError::Corrupt`] (or `TooLarge`), never a panic, and leaves `doc` unchanged.
pub fn doc_sync_step(
    doc: &mut FarmerDoc,
    incoming: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, DocError> {
    let mut state = automerge::sync::State::new();
    if let Some(bytes) = incoming {
        if bytes.len() > DOC_SYNC_MESSAGE_BYTES_MAX {
            return Err(DocError::TooLarge(format!(
                "sync message is {} bytes, limit {DOC_SYNC_MESSAGE_BYTES_MAX}",
                bytes.len()
            )));
        }
        let message = match catch_unwind(|| Message::decode(bytes)) {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => return Err(DocError::Corrupt(format!("sync message: {e}"))),
            Err(_) => {
                return Err(DocError::Corrupt("sync message: decoder panicked".into()));
            }
        };
        // Bound what the message's chunks inflate to before automerge inflates them unbounded.
        let mut inflated: usize = 0;
        for chunk in message.changes.iter() {
            let budget = DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX.saturating_sub(inflated);
            inflated = inflated.saturating_add(crate::inflate::check_inflated_len(
                chunk,
                crate::inflate::Expect::ChangesOrDocuments,
                budget,
            )?);
        }
        let mut their_heads = message.heads.clone();
        doc.all_or_nothing(|automerge| automerge.receive_sync_message(&mut state, message))?;
        their_heads.sort_unstable();
        their_heads.dedup();
        let mut our_heads = doc.automerge().get_heads();
        our_heads.sort_unstable();
        if our_heads == their_heads {
            return Ok(None);
        }
    }
    let automerge = doc.automerge();
    catch_unwind(AssertUnwindSafe(|| {
        automerge
            .generate_sync_message(&mut state)
            .map(Message::encode)
    }))
    .map_err(|_| DocError::Automerge("generating a sync message panicked".into()))
}
