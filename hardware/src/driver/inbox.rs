//! The driver's book of what is on the SIM: what has been emitted to the edge, what is
//! waiting for its ack, what may be deleted. Pure: indices and PDUs in, emissions and
//! deletions out, time as `now_ms`.
//!
//! The rule it exists for: **an index is offered for deletion only after the edge acked the
//! message it holds.** Everything else follows from keeping that cheap to check:
//!
//! - A multipart message is reassembled here, in memory, keyed by sender, reference and part
//!   count, and emitted once, complete, with every part's index; the parts stay on the SIM
//!   until that one ack. After a restart the parts are simply read again (the SIM is the
//!   durable copy), so nothing is lost and the edge never has to store fragments.
//! - The codec's `ReassemblyBuffer` is not used: it remembers completed sets to drop network
//!   duplicates, but here a set whose ack failed must be emitted again when re-read.
//!   Only its `join_bodies` (mending escapes and surrogates split across parts) is shared.
//! - A set that never completes is emitted as incomplete after a timeout, or at once when
//!   the SIM is full (its missing parts could never arrive then).
//! - An index whose content changes between readings held a message that vanished; its old
//!   ack can no longer delete it. Deletion that timed out is verified (`AT+CMGR` compares
//!   the PDU) before being retried, because the first attempt may have worked and the slot
//!   may since hold a new message.
//!
//! Limits: at most [`INBOX_ENTRIES_MAX`] indices tracked (a SIM has at most 255); a delete is
//! tried [`DELETE_ATTEMPTS_MAX`] times, after which the message is left on the SIM and will be
//! emitted again by a later sweep (a duplicate, never a loss).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use farmco_modem_codec::hex;
use farmco_modem_codec::pdu::address::Address;
use farmco_modem_codec::pdu::reassembly::{MISSING_PART_MARKER, join_bodies};
use farmco_modem_codec::pdu::time::SmscTimestamp;
use farmco_modem_codec::pdu::tpdu::{IncomingPdu, IncomingTpdu};
use farmco_modem_codec::pdu::udh::ConcatReference;
use farmco_modem_codec::pdu::user_data::UserDataBody;

use super::events::{DeliveryReport, ReceivedSms};

/// Indices tracked at most: far above any SIM (255 records at most).
pub(crate) const INBOX_ENTRIES_MAX: usize = 1024;
/// Attempts to delete an acked message before leaving it to a later sweep.
pub(crate) const DELETE_ATTEMPTS_MAX: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SetKey {
    sender: Address,
    reference: ConcatReference,
    total: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    InSet(SetKey),
    AwaitingAck(u64),
    Acked { attempts: u32, verify: bool },
    Foreign,
}

#[derive(Debug, Clone)]
struct Entry {
    pdu: Vec<u8>,
    state: State,
}

#[derive(Debug, Clone)]
struct Part {
    index: u16,
    body: UserDataBody,
    timestamp: SmscTimestamp,
}

#[derive(Debug, Clone)]
struct PendingSet {
    parts: BTreeMap<u8, Part>,
    duplicates: Vec<u16>,
    first_seen_ms: u64,
}

/// What the edge is to be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Emitted {
    Sms(ReceivedSms),
    Report(DeliveryReport),
    Undecodable {
        sim_index: u16,
        pdu_hex: String,
        error: String,
    },
}

/// One emission and the ack id that releases its indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Emission {
    pub(crate) ack_id: u64,
    pub(crate) content: Emitted,
}

/// A message that may be deleted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deletion {
    pub(crate) index: u16,
    pub(crate) pdu: Vec<u8>,
    /// Read it back first and delete only if it still holds `pdu`.
    pub(crate) verify: bool,
}

/// The book.
#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    entries: BTreeMap<u16, Entry>,
    sets: HashMap<SetKey, PendingSet>,
    acks: HashMap<u64, Vec<u16>>,
    next_ack_id: u64,
    incomplete_timeout_ms: u64,
}

impl Inbox {
    /// An empty book; incomplete sets are given up after `incomplete_timeout_ms`.
    pub(crate) fn new(incomplete_timeout_ms: u64) -> Self {
        Inbox {
            entries: BTreeMap::new(),
            sets: HashMap::new(),
            acks: HashMap::new(),
            next_ack_id: 1,
            incomplete_timeout_ms,
        }
    }

    /// True when `index` is known (no need to read it again).
    pub(crate) fn is_known(&self, index: u16) -> bool {
        self.entries.contains_key(&index)
    }

    /// Emitted messages not yet acknowledged.
    pub(crate) fn acks_awaited(&self) -> usize {
        self.acks.len()
    }

    /// A received message was read at `index` (by `AT+CMGR` or `AT+CMGL`).
    pub(crate) fn on_stored(&mut self, index: u16, pdu: Vec<u8>, now_ms: u64) -> Vec<Emission> {
        if let Some(entry) = self.entries.get(&index) {
            if entry.pdu == pdu {
                return Vec::new();
            }
            self.forget(index);
        }
        if self.entries.len() >= INBOX_ENTRIES_MAX {
            return Vec::new();
        }
        let decoded = IncomingPdu::decode(&pdu);
        match decoded {
            Err(error) => {
                let pdu_hex = hex::encode_upper(&pdu);
                self.entries.insert(
                    index,
                    Entry {
                        pdu,
                        state: State::Foreign,
                    },
                );
                vec![self.emit(
                    vec![index],
                    Emitted::Undecodable {
                        sim_index: index,
                        pdu_hex,
                        error: error.to_string(),
                    },
                )]
            }
            Ok(IncomingPdu {
                tpdu: IncomingTpdu::StatusReport(report),
                ..
            }) => {
                self.entries.insert(
                    index,
                    Entry {
                        pdu,
                        state: State::Foreign,
                    },
                );
                let report = DeliveryReport {
                    message_ref: report.message_reference,
                    recipient: report.recipient.to_display_string(),
                    status: report.status,
                    outcome: report.status.outcome(),
                    discharge_time: report.discharge_time,
                    sim_index: Some(index),
                };
                vec![self.emit(vec![index], Emitted::Report(report))]
            }
            Ok(IncomingPdu {
                tpdu: IncomingTpdu::Deliver(deliver),
                ..
            }) => {
                let concatenation = deliver
                    .user_data
                    .header
                    .as_ref()
                    .and_then(|header| header.concatenation_info())
                    .filter(|info| info.total > 1);
                let Some(concatenation) = concatenation else {
                    self.entries.insert(
                        index,
                        Entry {
                            pdu,
                            state: State::Foreign,
                        },
                    );
                    let sms = received_sms(
                        &deliver.originator,
                        None,
                        deliver.user_data.to_text_lossy(),
                        Some(deliver.timestamp),
                        (1, 1, true),
                        vec![index],
                    );
                    return vec![self.emit(vec![index], Emitted::Sms(sms))];
                };
                let key = SetKey {
                    sender: deliver.originator,
                    reference: concatenation.reference,
                    total: concatenation.total,
                };
                self.entries.insert(
                    index,
                    Entry {
                        pdu,
                        state: State::InSet(key.clone()),
                    },
                );
                let set = self.sets.entry(key.clone()).or_insert_with(|| PendingSet {
                    parts: BTreeMap::new(),
                    duplicates: Vec::new(),
                    first_seen_ms: now_ms,
                });
                match set.parts.entry(concatenation.sequence) {
                    std::collections::btree_map::Entry::Occupied(_) => set.duplicates.push(index),
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(Part {
                            index,
                            body: deliver.user_data.body,
                            timestamp: deliver.timestamp,
                        });
                    }
                }
                if set.parts.len() < usize::from(key.total) {
                    return Vec::new();
                }
                match self.sets.remove(&key) {
                    Some(set) => vec![self.emit_set(&key, set)],
                    None => Vec::new(),
                }
            }
        }
    }

    /// A stored message at `index` is not one this driver handles (a stored outgoing one).
    pub(crate) fn on_foreign(&mut self, index: u16, pdu: Vec<u8>) {
        if self
            .entries
            .get(&index)
            .is_some_and(|entry| entry.pdu == pdu)
        {
            return;
        }
        self.forget(index);
        if self.entries.len() < INBOX_ENTRIES_MAX {
            self.entries.insert(
                index,
                Entry {
                    pdu,
                    state: State::Foreign,
                },
            );
        }
    }

    /// `index` was read and is empty.
    pub(crate) fn on_empty(&mut self, index: u16) {
        self.forget(index);
    }

    /// A complete listing (`AT+CMGL=4`) showed exactly `listed`: forget everything else.
    pub(crate) fn reconcile(&mut self, listed: &BTreeSet<u16>) {
        let gone: Vec<u16> = self
            .entries
            .keys()
            .filter(|index| !listed.contains(index))
            .copied()
            .collect();
        for index in gone {
            self.forget(index);
        }
    }

    /// The edge's answer for emission `ack_id`.
    pub(crate) fn on_ack(&mut self, ack_id: u64, acked: bool) {
        let Some(indices) = self.acks.remove(&ack_id) else {
            return;
        };
        for index in indices {
            let Some(entry) = self.entries.get_mut(&index) else {
                continue;
            };
            if entry.state != State::AwaitingAck(ack_id) {
                continue;
            }
            if acked {
                entry.state = State::Acked {
                    attempts: 0,
                    verify: false,
                };
            } else {
                self.entries.remove(&index);
            }
        }
    }

    /// The next acked message to delete, lowest index first.
    pub(crate) fn next_deletion(&self) -> Option<Deletion> {
        self.entries
            .iter()
            .find_map(|(index, entry)| match entry.state {
                State::Acked { verify, .. } => Some(Deletion {
                    index: *index,
                    pdu: entry.pdu.clone(),
                    verify,
                }),
                _ => None,
            })
    }

    /// `index` was deleted (or found empty or replaced while verifying).
    pub(crate) fn on_deleted(&mut self, index: u16) {
        if self
            .entries
            .get(&index)
            .is_some_and(|entry| matches!(entry.state, State::Acked { .. }))
        {
            self.entries.remove(&index);
        }
    }

    /// Deleting `index` failed or timed out: verify before the next attempt, and give up
    /// after [`DELETE_ATTEMPTS_MAX`].
    pub(crate) fn on_delete_failed(&mut self, index: u16) {
        let Some(entry) = self.entries.get_mut(&index) else {
            return;
        };
        if let State::Acked { attempts, .. } = entry.state {
            if attempts + 1 >= DELETE_ATTEMPTS_MAX {
                self.entries.remove(&index);
            } else {
                entry.state = State::Acked {
                    attempts: attempts + 1,
                    verify: true,
                };
            }
        }
    }

    /// Gives up on incomplete sets whose first part is `incomplete_timeout_ms` old, or on all
    /// of them when `force` (the SIM is full, so missing parts cannot arrive).
    pub(crate) fn expire(&mut self, now_ms: u64, force: bool) -> Vec<Emission> {
        let timeout = self.incomplete_timeout_ms;
        let mut due: Vec<(SetKey, u64)> = self
            .sets
            .iter()
            .filter(|(_, set)| force || now_ms.saturating_sub(set.first_seen_ms) >= timeout)
            .map(|(key, set)| (key.clone(), set.first_seen_ms))
            .collect();
        due.sort_by_key(|(_, first_seen_ms)| *first_seen_ms);
        let mut emissions = Vec::new();
        for (key, _) in due {
            if let Some(set) = self.sets.remove(&key) {
                emissions.push(self.emit_set(&key, set));
            }
        }
        emissions
    }

    /// When the oldest incomplete set times out.
    pub(crate) fn next_deadline_ms(&self) -> Option<u64> {
        self.sets
            .values()
            .map(|set| set.first_seen_ms.saturating_add(self.incomplete_timeout_ms))
            .min()
    }

    fn emit(&mut self, indices: Vec<u16>, content: Emitted) -> Emission {
        let ack_id = self.next_ack_id;
        self.next_ack_id += 1;
        for index in &indices {
            if let Some(entry) = self.entries.get_mut(index) {
                entry.state = State::AwaitingAck(ack_id);
            }
        }
        self.acks.insert(ack_id, indices);
        Emission { ack_id, content }
    }

    fn emit_set(&mut self, key: &SetKey, set: PendingSet) -> Emission {
        let mut text = String::new();
        let mut run: Vec<&UserDataBody> = Vec::new();
        for sequence in 1..=key.total {
            match set.parts.get(&sequence) {
                Some(part) => run.push(&part.body),
                None => {
                    text.push_str(&join_bodies(&run));
                    run.clear();
                    text.push_str(MISSING_PART_MARKER);
                }
            }
        }
        text.push_str(&join_bodies(&run));
        let timestamp = set.parts.values().next().map(|part| part.timestamp);
        let mut indices: Vec<u16> = set.parts.values().map(|part| part.index).collect();
        indices.extend(set.duplicates.iter().copied());
        indices.sort_unstable();
        let received = set.parts.len() as u8;
        let sms = received_sms(
            &key.sender,
            Some(key.reference),
            text,
            timestamp,
            (received, key.total, received == key.total),
            indices.clone(),
        );
        self.emit(indices, Emitted::Sms(sms))
    }

    /// Drops whatever is known about `index`, detaching it from its set or ack group.
    fn forget(&mut self, index: u16) {
        let Some(entry) = self.entries.remove(&index) else {
            return;
        };
        match entry.state {
            State::InSet(key) => {
                if let Some(set) = self.sets.get_mut(&key) {
                    set.parts.retain(|_, part| part.index != index);
                    set.duplicates.retain(|duplicate| *duplicate != index);
                    if set.parts.is_empty() {
                        self.sets.remove(&key);
                    }
                }
            }
            State::AwaitingAck(ack_id) => {
                if let Some(indices) = self.acks.get_mut(&ack_id) {
                    indices.retain(|candidate| *candidate != index);
                    if indices.is_empty() {
                        self.acks.remove(&ack_id);
                    }
                }
            }
            State::Acked { .. } | State::Foreign => {}
        }
    }
}

/// Builds the event body, with its deduplication key.
pub(crate) fn received_sms(
    sender: &Address,
    reference: Option<ConcatReference>,
    text: String,
    smsc_timestamp: Option<SmscTimestamp>,
    (parts, parts_expected, complete): (u8, u8, bool),
    sim_indices: Vec<u16>,
) -> ReceivedSms {
    let sender = sender.to_display_string();
    let reference = match reference {
        Some(ConcatReference::Eight(reference)) => u32::from(reference),
        Some(ConcatReference::Sixteen(reference)) => 0x1_0000 | u32::from(reference),
        None => 0,
    };
    let mut hash = Fnv1a::new();
    hash.write(sender.as_bytes());
    hash.write(&reference.to_be_bytes());
    hash.write(text.as_bytes());
    let seconds = smsc_timestamp.map_or(0, |stamp| stamp.unix_seconds());
    ReceivedSms {
        dedupe_key: format!("{sender}/{seconds}/{:016x}", hash.finish()),
        sender,
        text,
        smsc_timestamp,
        parts,
        parts_expected,
        complete,
        sim_indices,
    }
}

/// FNV-1a, 64 bit: stable across Rust releases (unlike `DefaultHasher`), which a key the
/// edge stores must be.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farmco_modem_codec::pdu::dcs::DataCoding;
    use farmco_modem_codec::pdu::split::split_text;
    use farmco_modem_codec::pdu::tpdu::SmsDeliver;
    use proptest::prelude::*;

    fn parts(from: &str, text: &str, reference: u8) -> Vec<Vec<u8>> {
        let originator = Address::from_dialled(from).unwrap_or_else(|e| panic!("{e}"));
        let timestamp =
            SmscTimestamp::new(25, 6, 1, 10, 0, 0, 22).unwrap_or_else(|e| panic!("{e}"));
        split_text(text, ConcatReference::Eight(reference))
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|user_data| {
                IncomingPdu {
                    smsc: None,
                    tpdu: IncomingTpdu::Deliver(SmsDeliver {
                        more_messages_waiting: false,
                        loop_prevention: false,
                        reply_path: false,
                        status_report_indication: false,
                        originator: originator.clone(),
                        protocol_identifier: 0,
                        data_coding: DataCoding::new(user_data.body.alphabet(), None),
                        timestamp,
                        user_data,
                    }),
                }
                .encode()
                .unwrap_or_else(|e| panic!("{e}"))
                .bytes()
                .to_vec()
            })
            .collect()
    }

    fn sms(emission: &Emission) -> &ReceivedSms {
        match &emission.content {
            Emitted::Sms(sms) => sms,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn multipart_is_emitted_once_complete_and_deleted_only_after_ack() {
        let text = "x".repeat(400);
        let pdus = parts("+919812345678", &text, 9);
        assert_eq!(pdus.len(), 3);
        let mut inbox = Inbox::new(60_000);
        assert!(inbox.on_stored(4, pdus[2].clone(), 0).is_empty());
        assert!(inbox.on_stored(2, pdus[0].clone(), 1).is_empty());
        // Re-reading a known index changes nothing.
        assert!(inbox.on_stored(2, pdus[0].clone(), 2).is_empty());
        let emitted = inbox.on_stored(3, pdus[1].clone(), 3);
        assert_eq!(emitted.len(), 1);
        let message = sms(&emitted[0]);
        assert_eq!(message.text, text);
        assert_eq!(message.sim_indices, vec![2, 3, 4]);
        assert!(message.complete);
        assert_eq!(inbox.next_deletion(), None);
        inbox.on_ack(emitted[0].ack_id, true);
        let deletion = inbox.next_deletion().unwrap_or_else(|| panic!("deletion"));
        assert_eq!(deletion.index, 2);
        inbox.on_deleted(2);
        inbox.on_delete_failed(3);
        assert_eq!(
            inbox
                .next_deletion()
                .map(|deletion| (deletion.index, deletion.verify)),
            Some((3, true))
        );
    }

    #[test]
    fn unacked_messages_come_again_and_incomplete_sets_expire() {
        let mut inbox = Inbox::new(1000);
        let single = parts("+919812345678", "hello", 1);
        let emitted = inbox.on_stored(1, single[0].clone(), 0);
        inbox.on_ack(emitted[0].ack_id, false);
        assert!(!inbox.is_known(1));
        let again = inbox.on_stored(1, single[0].clone(), 5);
        assert_eq!(sms(&again[0]).text, "hello");
        let long = parts("+919812345679", &"y".repeat(300), 2);
        assert!(inbox.on_stored(7, long[1].clone(), 10).is_empty());
        assert_eq!(inbox.next_deadline_ms(), Some(1010));
        assert!(inbox.expire(500, false).is_empty());
        let expired = inbox.expire(1010, false);
        let message = sms(&expired[0]);
        assert!(!message.complete);
        assert!(message.text.starts_with(MISSING_PART_MARKER));
        assert_eq!((message.parts, message.parts_expected), (1, 2));
    }

    #[test]
    fn a_replaced_index_cannot_be_deleted_by_the_old_ack() {
        let mut inbox = Inbox::new(1000);
        let first = parts("+919812345678", "first", 1);
        let second = parts("+919812345678", "second", 2);
        let emitted = inbox.on_stored(1, first[0].clone(), 0);
        let replaced = inbox.on_stored(1, second[0].clone(), 1);
        inbox.on_ack(emitted[0].ack_id, true);
        assert_eq!(inbox.next_deletion(), None);
        inbox.on_ack(replaced[0].ack_id, true);
        assert_eq!(
            inbox.next_deletion().map(|deletion| deletion.pdu),
            Some(second[0].clone())
        );
    }

    #[derive(Debug, Clone)]
    enum Action {
        Store { index: u16, message: usize },
        Ack { nth: usize, acked: bool },
        Delete,
        Sweep,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            (1u16..6, 0usize..4).prop_map(|(index, message)| Action::Store { index, message }),
            (0usize..8, any::<bool>()).prop_map(|(nth, acked)| Action::Ack { nth, acked }),
            Just(Action::Delete),
            Just(Action::Sweep),
        ]
    }

    proptest! {
        /// Against a model SIM: a slot is only ever deleted when the message in it was
        /// acknowledged, and every message stored is emitted before it leaves the SIM.
        #[test]
        fn never_deletes_an_unacknowledged_message(actions in proptest::collection::vec(action(), 1..60)) {
            let messages: Vec<Vec<u8>> = (0..4)
                .map(|n| parts("+919800000000", &format!("message {n}"), n as u8).remove(0))
                .collect();
            let mut inbox = Inbox::new(10_000);
            let mut sim: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
            let mut emitted: Vec<(u64, Vec<u8>, Vec<u16>)> = Vec::new();
            let mut acked_pdus: Vec<(u16, Vec<u8>)> = Vec::new();
            for (now, action) in actions.into_iter().enumerate() {
                match action {
                    Action::Store { index, message } => {
                        if sim.contains_key(&index) { continue; }
                        sim.insert(index, messages[message].clone());
                        for emission in inbox.on_stored(index, messages[message].clone(), now as u64) {
                            let Emitted::Sms(sms) = &emission.content else { panic!("sms") };
                            emitted.push((emission.ack_id, messages[message].clone(), sms.sim_indices.clone()));
                        }
                    }
                    Action::Ack { nth, acked } => {
                        if emitted.is_empty() { continue; }
                        let (ack_id, pdu, indices) = emitted.remove(nth % emitted.len());
                        if acked {
                            for index in &indices { acked_pdus.push((*index, pdu.clone())); }
                        }
                        inbox.on_ack(ack_id, acked);
                    }
                    Action::Delete => {
                        if let Some(deletion) = inbox.next_deletion() {
                            let current = sim.get(&deletion.index).cloned();
                            let safe = current.as_ref().is_some_and(|pdu| acked_pdus.contains(&(deletion.index, pdu.clone())));
                            if deletion.verify && current.as_ref() != Some(&deletion.pdu) {
                                inbox.on_deleted(deletion.index);
                                continue;
                            }
                            prop_assert!(safe, "deleting {} which holds an unacknowledged message", deletion.index);
                            sim.remove(&deletion.index);
                            inbox.on_deleted(deletion.index);
                        }
                    }
                    Action::Sweep => {
                        let listed: BTreeSet<u16> = sim.keys().copied().collect();
                        for (index, pdu) in sim.clone() {
                            for emission in inbox.on_stored(index, pdu.clone(), now as u64) {
                                let Emitted::Sms(sms) = &emission.content else { panic!("sms") };
                                emitted.push((emission.ack_id, pdu.clone(), sms.sim_indices.clone()));
                            }
                        }
                        inbox.reconcile(&listed);
                    }
                }
            }
        }
    }
}
