//! The outbox's decisions as pure functions (no clock, no I/O): which message goes next under
//! the per-SIM daily cap with its reserve for replies, which local day a moment belongs to,
//! and how long to wait before retrying.
//!
//! Indian operators limit person-to-person SMS per SIM per day (the TRAI unsolicited
//! commercial communication rules led operators to cap ordinary SIMs, commonly at 100 a day).
//! The node must never lose a farmer's answer to that cap, so `reply_reserve` messages of each
//! day's quota can only be used by replies: alerts and bulk stop at `cap - reserve`, replies at
//! `cap`. What is over the cap is never dropped: it waits for the next local day.

use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

/// Largest outgoing body the outbox accepts (`farmco_edge::store::sms::enqueue`), in
/// characters: six UCS-2 parts (6 × 67).
/// Longer texts are a bug in the caller (alerts are written to fit one or two parts).
pub const OUTGOING_BODY_CHARS_MAX: usize = 402;

/// Who goes first. Replies are answers a farmer is waiting for; alerts are time-critical
/// notices; bulk is everything else (advisories to a whole village).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Reply = 0,
    Alert = 1,
    Bulk = 2,
}

impl Priority {
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(value: i64) -> Priority {
        match value {
            0 => Priority::Reply,
            1 => Priority::Alert,
            _ => Priority::Bulk,
        }
    }
}

/// The daily quota of one SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCap {
    /// Messages per local day.
    pub cap: u32,
    /// Of those, kept for replies.
    pub reply_reserve: u32,
}

impl DailyCap {
    /// May a message of this priority go when `used` messages went today?
    pub fn allows(self, priority: Priority, used: u32) -> bool {
        match priority {
            Priority::Reply => used < self.cap,
            Priority::Alert | Priority::Bulk => used < self.cap.saturating_sub(self.reply_reserve),
        }
    }
}

/// What the worker should do with the due messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Send this one now.
    Send(i64),
    /// Everything due is over today's cap: these wait for the next day.
    OverCap(Vec<i64>),
    /// Nothing is due.
    Idle,
}

/// Pick the next message among due `(id, priority)` pairs, given in outbox order (priority,
/// then age). The best one the cap allows goes; if none is allowed, all wait.
pub fn choose(due: &[(i64, Priority)], used_today: u32, cap: DailyCap) -> Choice {
    if due.is_empty() {
        return Choice::Idle;
    }
    let mut ordered = due.to_vec();
    ordered.sort_by_key(|(id, priority)| (*priority, *id));
    match ordered
        .iter()
        .find(|(_, priority)| cap.allows(*priority, used_today))
    {
        Some((id, _)) => Choice::Send(*id),
        None => Choice::OverCap(ordered.iter().map(|(id, _)| *id).collect()),
    }
}

/// The local calendar day of `now_ms` (`YYYY-MM-DD`) and the start of the next one, in Unix
/// milliseconds.
pub fn local_day(now_ms: i64, offset: UtcOffset) -> (String, i64) {
    let nanos = i128::from(now_ms) * 1_000_000;
    let utc =
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let local = utc.to_offset(offset);
    let date = local.date();
    let next = date
        .next_day()
        .map(|d| d.midnight().assume_offset(offset))
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(i64::MAX);
    (date.to_string(), next)
}

/// Parse a fixed UTC offset such as `+05:30` or `-03:00`.
pub fn parse_offset(text: &str) -> Option<UtcOffset> {
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(text, &format).ok()
}

/// Wait before attempt `attempts + 1`: `initial · 2^(attempts-1)` capped at `max`, plus a
/// jitter of up to a quarter (`jitter_unit` in `[0, 1)`, from the caller's random source).
pub fn retry_delay_ms(attempts: u32, initial_ms: u64, max_ms: u64, jitter_unit: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(20);
    let base = initial_ms.saturating_mul(1u64 << exponent).min(max_ms);
    let jitter = (base as f64 * 0.25 * jitter_unit.clamp(0.0, 1.0)) as u64;
    base.saturating_add(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: DailyCap = DailyCap {
        cap: 5,
        reply_reserve: 2,
    };

    #[test]
    fn replies_go_before_alerts_before_bulk() {
        let due = [
            (1, Priority::Bulk),
            (2, Priority::Alert),
            (3, Priority::Reply),
            (4, Priority::Reply),
        ];
        assert_eq!(choose(&due, 0, CAP), Choice::Send(3));
        assert_eq!(choose(&due[..2], 0, CAP), Choice::Send(2));
        assert_eq!(choose(&[], 0, CAP), Choice::Idle);
    }

    #[test]
    fn bulk_and_alerts_cannot_eat_the_reply_reserve() {
        let due = [(1, Priority::Bulk), (2, Priority::Alert)];
        assert_eq!(choose(&due, 2, CAP), Choice::Send(2));
        assert_eq!(choose(&due, 3, CAP), Choice::OverCap(vec![2, 1]));
        // Replies still go inside the reserve...
        let with_reply = [(1, Priority::Bulk), (9, Priority::Reply)];
        assert_eq!(choose(&with_reply, 3, CAP), Choice::Send(9));
        assert_eq!(choose(&with_reply, 4, CAP), Choice::Send(9));
        // ...and wait at the cap, never dropped.
        assert_eq!(choose(&with_reply, 5, CAP), Choice::OverCap(vec![9, 1]));
    }

    /// A fake clock walks a day of traffic: the cap holds, the reserve holds, and what is over
    /// the cap goes the next local day (Asia/Kolkata), none lost.
    #[test]
    fn a_day_of_traffic_with_a_fake_clock() {
        let offset = parse_offset("+05:30").unwrap();
        // 2026-01-14 23:00 IST = 17:30 UTC.
        let mut now_ms: i64 = 1_768_411_800_000;
        let (day, next_day_ms) = local_day(now_ms, offset);
        assert_eq!(day, "2026-01-14");
        assert_eq!(next_day_ms - now_ms, 3_600_000);
        let mut queue: Vec<(i64, Priority)> = (1..=6).map(|id| (id, Priority::Bulk)).collect();
        queue.push((100, Priority::Reply));
        queue.push((101, Priority::Reply));
        queue.push((102, Priority::Reply));
        let mut sent_per_day: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for _ in 0..100 {
            let (day, next) = local_day(now_ms, offset);
            let used = sent_per_day.get(&day).map_or(0, Vec::len) as u32;
            match choose(&queue, used, CAP) {
                Choice::Send(id) => {
                    queue.retain(|(q, _)| *q != id);
                    sent_per_day.entry(day).or_default().push(id);
                    now_ms += 60_000;
                }
                Choice::OverCap(_) => now_ms = next,
                Choice::Idle => break,
            }
        }
        assert!(queue.is_empty(), "nothing is dropped");
        // Day 1: the replies use 3 of 5; bulk may not touch the last 2 (the reserve).
        assert_eq!(sent_per_day["2026-01-14"], vec![100, 101, 102]);
        assert_eq!(sent_per_day["2026-01-15"], vec![1, 2, 3]);
        assert_eq!(sent_per_day["2026-01-16"], vec![4, 5, 6]);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.0), 1000);
        assert_eq!(retry_delay_ms(3, 1000, 60_000, 0.0), 4000);
        assert_eq!(retry_delay_ms(30, 1000, 60_000, 0.0), 60_000);
        assert_eq!(retry_delay_ms(1, 1000, 60_000, 0.999), 1249);
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(
            parse_offset("+05:30").map(|o| o.whole_seconds()),
            Some(19_800)
        );
        assert!(parse_offset("IST").is_none());
    }
}
