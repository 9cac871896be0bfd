//! The simulated SIM's message store (`"SM"`): numbered slots holding PDUs, as `AT+CPMS`,
//! `AT+CMGL`, `AT+CMGR` and `AT+CMGD` see them.
//!
//! Pure: no I/O, no clock. Indices start at 1, like a SIM's. The store survives a modem
//! reboot (it is the SIM card), which is what lets the driver pick up messages after a reset.
//!
//! Limits: at most [`SIM_CAPACITY_MAX`] slots; a real SIM holds 20–50 messages, and the
//! simulator's capacity can be lowered at run time to play "storage full".

use std::collections::BTreeMap;

/// Most slots a simulated SIM may have: `<index>` is small on every real SIM (EF-SMS has at
/// most 255 records).
pub const SIM_CAPACITY_MAX: u16 = 255;

/// `<stat>` of a stored message (TS 27.005 §3.1, PDU-mode numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStatus {
    /// 0: received, unread.
    ReceivedUnread,
    /// 1: received, read.
    ReceivedRead,
    /// 2: stored, unsent.
    StoredUnsent,
    /// 3: stored, sent.
    StoredSent,
}

impl SlotStatus {
    /// The PDU-mode number.
    pub fn code(self) -> u8 {
        match self {
            SlotStatus::ReceivedUnread => 0,
            SlotStatus::ReceivedRead => 1,
            SlotStatus::StoredUnsent => 2,
            SlotStatus::StoredSent => 3,
        }
    }

    /// The text-mode name, for the side door's listing.
    pub fn name(self) -> &'static str {
        match self {
            SlotStatus::ReceivedUnread => "REC UNREAD",
            SlotStatus::ReceivedRead => "REC READ",
            SlotStatus::StoredUnsent => "STO UNSENT",
            SlotStatus::StoredSent => "STO SENT",
        }
    }
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Its status.
    pub status: SlotStatus,
    /// The PDU, SMSC field first, as `+CMGR` prints it.
    pub pdu: Vec<u8>,
    /// Octets of the TPDU (the PDU less its SMSC field): the `<length>` field.
    pub tpdu_length: usize,
}

/// The store.
#[derive(Debug, Clone)]
pub struct SimStore {
    capacity: u16,
    slots: BTreeMap<u16, Slot>,
}

impl SimStore {
    /// An empty store of `capacity` slots (clamped to 1..=[`SIM_CAPACITY_MAX`]).
    pub fn new(capacity: u16) -> Self {
        SimStore {
            capacity: capacity.clamp(1, SIM_CAPACITY_MAX),
            slots: BTreeMap::new(),
        }
    }

    /// Slots in use.
    pub fn used(&self) -> u16 {
        self.slots.len() as u16
    }

    /// Usable slots.
    pub fn capacity(&self) -> u16 {
        self.capacity
    }

    /// Changes the usable capacity (clamped to 1..=[`SIM_CAPACITY_MAX`]); messages beyond it
    /// stay where they are, the store is simply full until enough are deleted.
    pub fn set_capacity(&mut self, capacity: u16) {
        self.capacity = capacity.clamp(1, SIM_CAPACITY_MAX);
    }

    /// True when no new message fits.
    pub fn is_full(&self) -> bool {
        self.used() >= self.capacity
    }

    /// The highest index a command may name: the capacity, or a higher occupied slot.
    pub fn index_max(&self) -> u16 {
        let highest = self.slots.keys().next_back().copied().unwrap_or(0);
        self.capacity.max(highest)
    }

    /// Stores a message in the lowest free slot; `None` when full.
    pub fn insert(&mut self, status: SlotStatus, pdu: Vec<u8>, tpdu_length: usize) -> Option<u16> {
        if self.is_full() {
            return None;
        }
        let index = (1..=SIM_CAPACITY_MAX).find(|index| !self.slots.contains_key(index))?;
        self.slots.insert(
            index,
            Slot {
                status,
                pdu,
                tpdu_length,
            },
        );
        Some(index)
    }

    /// The message at `index`.
    pub fn get(&self, index: u16) -> Option<&Slot> {
        self.slots.get(&index)
    }

    /// Marks a received message read (what `AT+CMGR` and `AT+CMGL` do).
    pub fn mark_read(&mut self, index: u16) {
        if let Some(slot) = self.slots.get_mut(&index)
            && slot.status == SlotStatus::ReceivedUnread
        {
            slot.status = SlotStatus::ReceivedRead;
        }
    }

    /// Deletes `index`; true when something was there.
    pub fn remove(&mut self, index: u16) -> bool {
        self.slots.remove(&index).is_some()
    }

    /// Deletes by `AT+CMGD=<index>,<delflag>` flag: 1 read, 2 read and sent, 3 read, sent and
    /// unsent, 4 all.
    pub fn remove_by_flag(&mut self, flag: u8) {
        self.slots.retain(|_, slot| match flag {
            1 => slot.status != SlotStatus::ReceivedRead,
            2 => !matches!(
                slot.status,
                SlotStatus::ReceivedRead | SlotStatus::StoredSent
            ),
            3 => slot.status == SlotStatus::ReceivedUnread,
            _ => false,
        });
    }

    /// Every message, by index.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &Slot)> {
        self.slots.iter().map(|(index, slot)| (*index, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_slot_and_capacity() {
        let mut store = SimStore::new(2);
        assert_eq!(
            store.insert(SlotStatus::ReceivedUnread, vec![0], 0),
            Some(1)
        );
        assert_eq!(
            store.insert(SlotStatus::ReceivedUnread, vec![0], 0),
            Some(2)
        );
        assert!(store.is_full());
        assert_eq!(store.insert(SlotStatus::ReceivedUnread, vec![0], 0), None);
        assert!(store.remove(1));
        assert_eq!(
            store.insert(SlotStatus::ReceivedUnread, vec![1], 0),
            Some(1)
        );
        store.set_capacity(1);
        assert!(store.is_full());
        assert_eq!(store.index_max(), 2);
        store.mark_read(2);
        store.remove_by_flag(1);
        assert_eq!(store.used(), 1);
    }
}
