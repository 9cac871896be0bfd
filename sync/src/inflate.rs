//! Bounds on what automerge bytes from elsewhere inflate to, checked *before* automerge parses
//! them (review 2026-12, finding 7).
//!
//! automerge DEFLATE-compresses every change chunk over 256 bytes and every large column of a
//! saved document, and inflates them with an unbounded `read_to_end` while parsing
//! (automerge 0.12 `storage/chunk.rs`, `storage/columns/raw_column.rs`). A limit on the
//! compressed length alone is therefore no limit: a 4 MiB change may inflate a thousand times,
//! and an allocation failure aborts the process (`catch_unwind` does not catch it).
//!
//! This module walks the chunk framing itself — magic bytes, checksum, chunk type, LEB128
//! length, and for documents the column metadata — and inflates every compressed part through
//! a `take(limit + 1)` reader into a sink, so nothing is allocated and no more than `limit + 1`
//! bytes are ever produced. Bytes that pass are then handed to automerge as before.
//!
//! Design constraints:
//! - Pure: no I/O beyond in-memory readers; never panics on any input (fuzzed by a proptest).
//! - Chunk types: a change from a change log is exactly one change chunk (plain or compressed);
//!   a sync message may also carry saved documents (automerge's V2 messages do). Bundles are
//!   never produced by this system and are refused.
//! - Limits are the caller's: [`crate::doc::MAX_CHANGE_INFLATED_BYTES`] for one change,
//!   [`crate::protocol::heads::DOC_SYNC_MESSAGE_INFLATED_BYTES_MAX`] for one sync message.

use std::io::Read;

use crate::doc::DocError;

/// The four bytes every automerge chunk starts with.
const MAGIC_BYTES: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types of automerge's storage format.
const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED_CHANGE: u8 = 2;
/// The bit of a column specification that marks its data as DEFLATE-compressed.
const COLUMN_DEFLATE_BIT: u64 = 0b1000;
/// Longest LEB128 encoding of a u64.
const LEB128_BYTES_MAX: usize = 10;
/// Length of a change hash (heads of a document).
const HASH_BYTES: usize = 32;

/// Which chunks the bytes may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one change chunk, plain or compressed (an entry of a change log).
    OneChange,
    /// Any sequence of change and document chunks (the changes of an automerge sync message).
    ChangesOrDocuments,
}

/// Check that `bytes` hold what `expect` says and inflate to at most `limit` bytes in total;
/// returns the inflated total. Refusals are [`DocError::TooLarge`] (over the limit) or
/// [`DocError::Corrupt`] (framing that does not parse, a refused chunk type).
pub fn check_inflated_len(bytes: &[u8], expect: Expect, limit: usize) -> Result<usize, DocError> {
    let mut rest = bytes;
    let mut total: usize = 0;
    let mut chunks: usize = 0;
    while !rest.is_empty() {
        if expect == Expect::OneChange && chunks == 1 {
            return Err(corrupt("data after the change chunk"));
        }
        let (chunk_type, data, after) = split_chunk(rest)?;
        let budget = limit.saturating_sub(total);
        let inflated = match (chunk_type, expect) {
            (CHUNK_CHANGE, _) => data.len(),
            (CHUNK_COMPRESSED_CHANGE, _) => inflate_len(data, budget)?,
            (CHUNK_DOCUMENT, Expect::ChangesOrDocuments) => document_len(data, budget)?,
            (other, _) => {
                return Err(corrupt(&format!("chunk type {other} is not accepted here")));
            }
        };
        total = total.saturating_add(inflated);
        if total > limit {
            return Err(too_large(limit));
        }
        chunks += 1;
        rest = after;
    }
    if chunks == 0 && expect == Expect::OneChange {
        return Err(corrupt("empty change"));
    }
    Ok(total)
}

fn corrupt(what: &str) -> DocError {
    DocError::Corrupt(format!("automerge chunk: {what}"))
}

fn too_large(limit: usize) -> DocError {
    DocError::TooLarge(format!(
        "automerge data inflates to more than {limit} bytes"
    ))
}

/// Split one chunk off the front: its type, its data, and what follows it.
fn split_chunk(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), DocError> {
    let Some(rest) = bytes.strip_prefix(&MAGIC_BYTES) else {
        return Err(corrupt("bad magic bytes"));
    };
    // Checksum (4 bytes), then the chunk type.
    let (&chunk_type, rest) = rest
        .get(4..)
        .and_then(<[u8]>::split_first)
        .ok_or_else(|| corrupt("truncated header"))?;
    let (len, rest) = leb128(rest)?;
    let data = take(rest, len)?;
    Ok((chunk_type, data, &rest[data.len()..]))
}

/// The first `len` bytes of `bytes`, or a truncation error.
fn take(bytes: &[u8], len: u64) -> Result<&[u8], DocError> {
    usize::try_from(len)
        .ok()
        .and_then(|n| bytes.get(..n))
        .ok_or_else(|| corrupt("truncated data"))
}

/// An unsigned LEB128 number and the bytes after it.
fn leb128(bytes: &[u8]) -> Result<(u64, &[u8]), DocError> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(LEB128_BYTES_MAX) {
        let part = u64::from(b & 0x7f);
        let shift = 7 * u32::try_from(i).unwrap_or(u32::MAX);
        let shifted = part
            .checked_shl(shift)
            .filter(|s| s >> shift == part)
            .ok_or_else(|| corrupt("LEB128 number overflows"))?;
        value |= shifted;
        if b & 0x80 == 0 {
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(corrupt("truncated or overlong LEB128 number"))
}

/// How many bytes `deflated` inflates to, stopping (with `TooLarge`) past `budget`.
fn inflate_len(deflated: &[u8], budget: usize) -> Result<usize, DocError> {
    let cap = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    let mut reader = flate2::bufread::DeflateDecoder::new(deflated).take(cap);
    let n = std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(|_| corrupt("DEFLATE data does not inflate"))?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > budget {
        return Err(too_large(budget));
    }
    Ok(n)
}

/// A saved document's data: the inflated size of its columns plus everything else, following
/// automerge's layout (actors, heads, change-column and op-column metadata, column data,
/// suffix).
fn document_len(data: &[u8], budget: usize) -> Result<usize, DocError> {
    let mut rest = data;
    // Actors: a count, then length-prefixed ids.
    let (actors, r) = leb128(rest)?;
    rest = r;
    for _ in 0..actors {
        let (len, r) = leb128(rest)?;
        let id = take(r, len)?;
        rest = &r[id.len()..];
    }
    // Heads: a count of 32-byte hashes.
    let (heads, r) = leb128(rest)?;
    let heads_len = heads
        .checked_mul(HASH_BYTES as u64)
        .ok_or_else(|| corrupt("too many heads"))?;
    rest = &r[take(r, heads_len)?.len()..];
    // Column metadata of changes, then of ops: (spec, length) pairs.
    let mut columns: Vec<(bool, u64)> = Vec::new();
    for _ in 0..2 {
        let (count, r) = leb128(rest)?;
        rest = r;
        for _ in 0..count {
            let (spec, r) = leb128(rest)?;
            let (len, r) = leb128(r)?;
            rest = r;
            columns.push((spec & COLUMN_DEFLATE_BIT != 0, len));
        }
    }
    let mut total = data.len() - rest.len();
    for (deflated, len) in columns {
        let column = take(rest, len)?;
        rest = &rest[column.len()..];
        let budget_left = budget.saturating_sub(total);
        let n = if deflated {
            inflate_len(column, budget_left)?
        } else {
            column.len()
        };
        total = total.saturating_add(n);
        if total > budget {
            return Err(too_large(budget));
        }
    }
    // The suffix (head indexes) as it is.
    total = total.saturating_add(rest.len());
    if total > budget {
        return Err(too_large(budget));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_decodes_and_refuses_overflow() {
        assert_eq!(leb128(&[0x00]).unwrap().0, 0);
        assert_eq!(
            leb128(&[0xe5, 0x8e, 0x26, 9]).unwrap(),
            (624_485, &[9u8][..])
        );
        assert!(leb128(&[0x80]).is_err());
        assert!(leb128(&[0xff; 11]).is_err());
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(leb128(&max).unwrap().0, u64::MAX);
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(leb128(&over).is_err());
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for bytes in [&b""[..], b"\x85", b"\x85\x6f\x4a\x83\0\0\0\0\x02\xff"] {
            let r = check_inflated_len(bytes, Expect::OneChange, 1024);
            assert!(matches!(r, Err(DocError::Corrupt(_))), "{bytes:?}: {r:?}");
        }
    }
}
