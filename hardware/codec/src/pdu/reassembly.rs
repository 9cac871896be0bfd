//! Putting concatenated messages back together: a pure buffer that takes parts in any order,
//! drops repeats, hands out a message once every part is in, and gives up on a set after a
//! timeout. Time comes in as a `now_ms` argument; nothing here reads a clock.
//!
//! A set is keyed by sender, reference and part count. Parts are kept in their transport
//! units and joined before decoding, so an escape or a surrogate pair split across parts by
//! the sender still decodes. Nothing is dropped silently: a set that times out or is pushed
//! out by the cap comes back as an [`IncompleteMessage`] with the text that did arrive.
//!
//! Limits: at most [`ReassemblyConfig::pending_sets_max`] sets in flight (default
//! [`PENDING_SETS_MAX_DEFAULT`]), each at most 255 parts of at most 140 octets; keys of
//! recently completed sets are remembered ([`RECENTLY_COMPLETED_MAX`]) so that a part the
//! network delivers twice does not start a ghost set.

use std::collections::VecDeque;

use super::address::Address;
use super::time::SmscTimestamp;
use super::tpdu::SmsDeliver;
use super::udh::ConcatReference;
use super::user_data::{UserData, UserDataBody};

/// Default cap on sets waiting for parts. A village node sees a handful of long messages at a
/// time; 32 sets of the largest size (255 × 140 octets) stay near 1.1 MiB, inside the edge
/// node's 32 MB budget.
pub const PENDING_SETS_MAX_DEFAULT: usize = 32;
/// Default time a set waits after its latest part. Parts normally arrive within seconds; an
/// hour covers an SMSC retrying a lost part, yet a farmer still gets an answer the same day.
pub const PENDING_TIMEOUT_MS_DEFAULT: u64 = 60 * 60 * 1000;
/// Completed sets remembered to recognise parts the network delivers again.
pub const RECENTLY_COMPLETED_MAX: usize = 64;
/// Put in place of each missing part in [`IncompleteMessage::partial_text`].
pub const MISSING_PART_MARKER: &str = "[…]";

/// Settings of a [`ReassemblyBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// A set with no new part for this long is given up by [`ReassemblyBuffer::expire`].
    pub timeout_ms: u64,
    /// Most sets waiting at once (at least 1); a new set beyond it evicts the stalest.
    pub pending_sets_max: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            timeout_ms: PENDING_TIMEOUT_MS_DEFAULT,
            pending_sets_max: PENDING_SETS_MAX_DEFAULT,
        }
    }
}

/// One received SMS, as the buffer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPart {
    /// The sender.
    pub originator: Address,
    /// The SMSC timestamp, when known.
    pub timestamp: Option<SmscTimestamp>,
    /// The user data (its header says whether and where it belongs to a set).
    pub user_data: UserData,
}

impl From<SmsDeliver> for IncomingPart {
    fn from(deliver: SmsDeliver) -> Self {
        IncomingPart {
            originator: deliver.originator,
            timestamp: Some(deliver.timestamp),
            user_data: deliver.user_data,
        }
    }
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledMessage {
    /// The sender.
    pub originator: Address,
    /// The SMSC timestamp of part 1.
    pub timestamp: Option<SmscTimestamp>,
    /// The text of all parts joined.
    pub text: String,
    /// Number of parts it came in.
    pub part_count: u8,
}

/// A set given up on (timed out or evicted), with what did arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteMessage {
    /// The sender.
    pub originator: Address,
    /// The set's reference.
    pub reference: ConcatReference,
    /// Number of parts the set should have had.
    pub total: u8,
    /// Sequence numbers of the parts that arrived, ascending.
    pub received: Vec<u8>,
    /// The arrived parts' text in order, [`MISSING_PART_MARKER`] for each gap.
    pub partial_text: String,
    /// The SMSC timestamp of the earliest-numbered part that arrived.
    pub timestamp: Option<SmscTimestamp>,
}

/// What [`ReassemblyBuffer::insert`] did with a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The message is whole (a single-part message is whole at once).
    Complete(ReassembledMessage),
    /// The part was stored; the set waits for more.
    Pending {
        /// Parts of the set received so far.
        received: u8,
        /// Parts the set has.
        total: u8,
    },
    /// The part was already received (or its set already completed); it was dropped.
    Duplicate,
}

/// The result of an insert: the outcome, and a set the cap pushed out, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertResult {
    /// What happened to the part.
    pub outcome: InsertOutcome,
    /// The stalest set, evicted to make room for a new one.
    pub evicted: Option<IncompleteMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SetKey {
    originator: Address,
    reference: ConcatReference,
    total: u8,
}

#[derive(Debug, Clone)]
struct ReceivedSlot {
    body: UserDataBody,
    timestamp: Option<SmscTimestamp>,
}

#[derive(Debug, Clone)]
struct PendingSet {
    key: SetKey,
    slots: Vec<Option<ReceivedSlot>>,
    received: u8,
    last_part_ms: u64,
}

/// Collects parts of concatenated messages until they are whole.
#[derive(Debug, Clone, Default)]
pub struct ReassemblyBuffer {
    config: ReassemblyConfig,
    sets: Vec<PendingSet>,
    recently_completed: VecDeque<(SetKey, u64)>,
}

impl ReassemblyBuffer {
    /// An empty buffer.
    pub fn new(config: ReassemblyConfig) -> Self {
        ReassemblyBuffer {
            config,
            sets: Vec::new(),
            recently_completed: VecDeque::new(),
        }
    }

    /// Sets waiting for parts.
    pub fn pending_set_count(&self) -> usize {
        self.sets.len()
    }

    /// When the next set will time out, for the caller's timer.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.sets
            .iter()
            .map(|set| set.last_part_ms.saturating_add(self.config.timeout_ms))
            .min()
    }

    /// Takes a received part at time `now_ms`.
    pub fn insert(&mut self, part: IncomingPart, now_ms: u64) -> InsertResult {
        let concatenation = part
            .user_data
            .header
            .as_ref()
            .and_then(|header| header.concatenation_info());
        let Some(concatenation) = concatenation.filter(|info| info.total > 1) else {
            return InsertResult {
                outcome: InsertOutcome::Complete(ReassembledMessage {
                    originator: part.originator,
                    timestamp: part.timestamp,
                    text: part.user_data.to_text_lossy(),
                    part_count: 1,
                }),
                evicted: None,
            };
        };
        self.forget_completed_before(now_ms);
        let key = SetKey {
            originator: part.originator,
            reference: concatenation.reference,
            total: concatenation.total,
        };
        if self.recently_completed.iter().any(|(done, _)| *done == key) {
            return no_eviction(InsertOutcome::Duplicate);
        }
        let slot = ReceivedSlot {
            body: part.user_data.body,
            timestamp: part.timestamp,
        };
        let index = usize::from(concatenation.sequence).saturating_sub(1);
        let Some(position) = self.sets.iter().position(|set| set.key == key) else {
            let evicted = self.make_room();
            let mut slots = vec![None; usize::from(concatenation.total)];
            if let Some(empty) = slots.get_mut(index) {
                *empty = Some(slot);
            }
            self.sets.push(PendingSet {
                key,
                slots,
                received: 1,
                last_part_ms: now_ms,
            });
            return InsertResult {
                outcome: InsertOutcome::Pending {
                    received: 1,
                    total: concatenation.total,
                },
                evicted,
            };
        };
        let set = &mut self.sets[position];
        match set.slots.get_mut(index) {
            Some(empty @ None) => *empty = Some(slot),
            _ => return no_eviction(InsertOutcome::Duplicate),
        }
        set.received += 1;
        set.last_part_ms = now_ms;
        if set.received < set.key.total {
            return no_eviction(InsertOutcome::Pending {
                received: set.received,
                total: set.key.total,
            });
        }
        let set = self.sets.remove(position);
        let timestamp = set.slots.first().and_then(|slot| slot.as_ref()?.timestamp);
        let bodies: Vec<&UserDataBody> =
            set.slots.iter().flatten().map(|slot| &slot.body).collect();
        let message = ReassembledMessage {
            originator: set.key.originator.clone(),
            timestamp,
            text: join_bodies(&bodies),
            part_count: set.key.total,
        };
        if self.recently_completed.len() >= RECENTLY_COMPLETED_MAX {
            self.recently_completed.pop_front();
        }
        self.recently_completed.push_back((set.key, now_ms));
        no_eviction(InsertOutcome::Complete(message))
    }

    /// Gives up on sets whose latest part is `timeout_ms` or more before `now_ms`, oldest
    /// first, and returns what they hold.
    pub fn expire(&mut self, now_ms: u64) -> Vec<IncompleteMessage> {
        self.forget_completed_before(now_ms);
        let timeout_ms = self.config.timeout_ms;
        let (expired, kept): (Vec<PendingSet>, Vec<PendingSet>) = std::mem::take(&mut self.sets)
            .into_iter()
            .partition(|set| now_ms.saturating_sub(set.last_part_ms) >= timeout_ms);
        self.sets = kept;
        let mut expired = expired;
        expired.sort_by_key(|set| set.last_part_ms);
        expired.into_iter().map(incomplete).collect()
    }

    fn make_room(&mut self) -> Option<IncompleteMessage> {
        if self.sets.len() < self.config.pending_sets_max.max(1) {
            return None;
        }
        let stalest = self
            .sets
            .iter()
            .enumerate()
            .min_by_key(|(_, set)| set.last_part_ms)
            .map(|(position, _)| position)?;
        Some(incomplete(self.sets.remove(stalest)))
    }

    fn forget_completed_before(&mut self, now_ms: u64) {
        let timeout_ms = self.config.timeout_ms;
        self.recently_completed
            .retain(|(_, completed_ms)| now_ms.saturating_sub(*completed_ms) < timeout_ms);
    }
}

fn no_eviction(outcome: InsertOutcome) -> InsertResult {
    InsertResult {
        outcome,
        evicted: None,
    }
}

fn incomplete(set: PendingSet) -> IncompleteMessage {
    let mut received = Vec::new();
    let mut partial_text = String::new();
    let mut run: Vec<&UserDataBody> = Vec::new();
    let mut timestamp = None;
    for (index, slot) in set.slots.iter().enumerate() {
        match slot {
            Some(slot) => {
                received.push(index as u8 + 1);
                timestamp = timestamp.or(slot.timestamp);
                run.push(&slot.body);
            }
            None => {
                partial_text.push_str(&join_bodies(&run));
                run.clear();
                partial_text.push_str(MISSING_PART_MARKER);
            }
        }
    }
    partial_text.push_str(&join_bodies(&run));
    IncompleteMessage {
        originator: set.key.originator,
        reference: set.key.reference,
        total: set.key.total,
        received,
        partial_text,
        timestamp,
    }
}

/// Joins bodies, concatenating neighbours of the same alphabet in their transport units
/// before decoding (so a split escape or surrogate pair is mended).
pub fn join_bodies(bodies: &[&UserDataBody]) -> String {
    let mut text = String::new();
    let mut pending: Option<UserDataBody> = None;
    for body in bodies {
        pending = match (pending.take(), body) {
            (Some(UserDataBody::Gsm7(mut run)), UserDataBody::Gsm7(next)) => {
                run.extend_from_slice(next);
                Some(UserDataBody::Gsm7(run))
            }
            (Some(UserDataBody::Ucs2(mut run)), UserDataBody::Ucs2(next)) => {
                run.extend_from_slice(next);
                Some(UserDataBody::Ucs2(run))
            }
            (Some(UserDataBody::Data8(mut run)), UserDataBody::Data8(next)) => {
                run.extend_from_slice(next);
                Some(UserDataBody::Data8(run))
            }
            (previous, next) => {
                if let Some(previous) = previous {
                    text.push_str(&previous.to_text_lossy());
                }
                Some((*next).clone())
            }
        };
    }
    if let Some(last) = pending {
        text.push_str(&last.to_text_lossy());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::udh::{Concatenation, UserDataHeader};

    fn part(sequence: u8, total: u8, text: &str) -> IncomingPart {
        IncomingPart {
            originator: Address::international("919876543210").unwrap_or_else(|e| panic!("{e}")),
            timestamp: None,
            user_data: UserData {
                header: Some(UserDataHeader::concatenation(Concatenation {
                    reference: ConcatReference::Eight(42),
                    total,
                    sequence,
                })),
                body: UserDataBody::Ucs2(text.encode_utf16().collect()),
            },
        }
    }

    #[test]
    fn out_of_order_with_duplicates_completes_once() {
        let mut buffer = ReassemblyBuffer::new(ReassemblyConfig::default());
        let outcome = |result: InsertResult| result.outcome;
        assert_eq!(
            outcome(buffer.insert(part(2, 3, "b"), 0)),
            InsertOutcome::Pending {
                received: 1,
                total: 3
            }
        );
        assert_eq!(
            outcome(buffer.insert(part(2, 3, "b"), 1)),
            InsertOutcome::Duplicate
        );
        assert_eq!(
            outcome(buffer.insert(part(3, 3, "c"), 2)),
            InsertOutcome::Pending {
                received: 2,
                total: 3
            }
        );
        let InsertOutcome::Complete(message) = outcome(buffer.insert(part(1, 3, "a"), 3)) else {
            panic!("expected completion");
        };
        assert_eq!(message.text, "abc");
        assert_eq!(
            outcome(buffer.insert(part(1, 3, "a"), 4)),
            InsertOutcome::Duplicate
        );
        assert_eq!(buffer.pending_set_count(), 0);
    }

    #[test]
    fn surrogate_pair_split_across_parts_is_mended() {
        let units: Vec<u16> = "🌾".encode_utf16().collect();
        let mut first = part(1, 2, "");
        first.user_data.body = UserDataBody::Ucs2(vec![units[0]]);
        let mut second = part(2, 2, "");
        second.user_data.body = UserDataBody::Ucs2(vec![units[1]]);
        let mut buffer = ReassemblyBuffer::default();
        buffer.insert(first, 0);
        let InsertOutcome::Complete(message) = buffer.insert(second, 0).outcome else {
            panic!("expected completion");
        };
        assert_eq!(message.text, "🌾");
    }

    #[test]
    fn timeout_and_cap_return_partial_text() {
        let mut buffer = ReassemblyBuffer::new(ReassemblyConfig {
            timeout_ms: 1_000,
            pending_sets_max: 1,
        });
        buffer.insert(part(1, 3, "a"), 0);
        buffer.insert(part(3, 3, "c"), 10);
        assert_eq!(buffer.next_deadline_ms(), Some(1_010));
        assert!(buffer.expire(1_009).is_empty());
        let mut other = part(1, 2, "x");
        other.originator = Address::international("911234").unwrap_or_else(|e| panic!("{e}"));
        let evicted = buffer.insert(other, 20).evicted;
        assert_eq!(
            evicted.as_ref().map(|m| m.partial_text.as_str()),
            Some("a[…]c")
        );
        assert_eq!(evicted.map(|m| m.received), Some(vec![1, 3]));
        let expired = buffer.expire(1_020);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].partial_text, "x[…]");
    }
}
