//! Local calendar arithmetic on Unix milliseconds with a fixed UTC offset (IST is +05:30 all
//! year). Pure: the clock is a parameter. Used for quiet hours, daily caps and the per-number
//! daily callback limit, which all count local days, not UTC days.

/// Milliseconds in a minute and a day.
pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// Minutes in a day.
pub const DAY_MINUTES: u32 = 24 * 60;

/// A fixed offset from UTC, in minutes (IST = 330).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalClock {
    pub utc_offset_minutes: i32,
}

impl LocalClock {
    /// India Standard Time.
    pub const IST: LocalClock = LocalClock {
        utc_offset_minutes: 330,
    };

    fn shift_ms(self) -> i64 {
        i64::from(self.utc_offset_minutes) * MINUTE_MS
    }

    /// The local day number (days since 1970-01-01 in local time).
    pub fn day(self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.shift_ms()).div_euclid(DAY_MS)
    }

    /// Minutes since local midnight, `0..1440`.
    pub fn minute_of_day(self, now_ms: i64) -> u32 {
        let ms = now_ms.saturating_add(self.shift_ms()).rem_euclid(DAY_MS);
        u32::try_from(ms / MINUTE_MS).unwrap_or(0)
    }

    /// The first instant at or after `now_ms` whose local time is `minute` (of the day).
    pub fn next_at_minute(self, now_ms: i64, minute: u32) -> i64 {
        let minute = minute % DAY_MINUTES;
        let local = now_ms.saturating_add(self.shift_ms());
        let midnight = local.div_euclid(DAY_MS) * DAY_MS;
        let mut at = midnight + i64::from(minute) * MINUTE_MS;
        if at < local {
            at += DAY_MS;
        }
        at - self.shift_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02T00:00:00Z.
    const T0: i64 = 1_796_169_600_000;

    #[test]
    fn ist_days_and_minutes() {
        let ist = LocalClock::IST;
        // 18:29 UTC is 23:59 IST, the same local day; 18:30 UTC is the next local day.
        assert_eq!(ist.day(T0 + 18 * 3_600_000 + 29 * MINUTE_MS), ist.day(T0));
        assert_eq!(
            ist.day(T0 + 18 * 3_600_000 + 30 * MINUTE_MS),
            ist.day(T0) + 1
        );
        assert_eq!(ist.minute_of_day(T0), 5 * 60 + 30);
        // Next 06:00 IST after 00:00 UTC (05:30 IST) is 00:30 UTC.
        assert_eq!(ist.next_at_minute(T0, 6 * 60), T0 + 30 * MINUTE_MS);
        // Next 05:30 IST at exactly 05:30 IST is now.
        assert_eq!(ist.next_at_minute(T0, 5 * 60 + 30), T0);
        // Next 05:00 IST is tomorrow.
        assert_eq!(ist.next_at_minute(T0, 5 * 60), T0 + DAY_MS - 30 * MINUTE_MS);
    }
}
