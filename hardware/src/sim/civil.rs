//! Wall-clock conversions the simulator needs for SMSC timestamps: Unix milliseconds to the
//! fields of a TP-SCTS in Indian Standard Time.
//!
//! Pure: the time comes in as a number. The algorithm is Howard Hinnant's `civil_from_days`
//! (proleptic Gregorian, exact for every day this program will see).

use farmco_modem_codec::pdu::time::SmscTimestamp;

/// IST is UTC+5:30: 22 quarter hours.
pub const IST_OFFSET_QUARTER_HOURS: i8 = 22;
const SECONDS_PER_QUARTER_HOUR: i64 = 15 * 60;

/// Year, month (1..=12) and day (1..=31) of the day `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u8;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The SMSC timestamp for `unix_ms`, in IST. Years outside 2000..=2099 wrap (the field has
/// two digits).
pub fn smsc_timestamp_ist(unix_ms: u64) -> Option<SmscTimestamp> {
    let seconds = i64::try_from(unix_ms / 1000).ok()?
        + i64::from(IST_OFFSET_QUARTER_HOURS) * SECONDS_PER_QUARTER_HOUR;
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    SmscTimestamp::new(
        year.rem_euclid(100) as u8,
        month,
        day,
        (second_of_day / 3_600) as u8,
        (second_of_day % 3_600 / 60) as u8,
        (second_of_day % 60) as u8,
        IST_OFFSET_QUARTER_HOURS,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        // 2024-03-15T10:00:00Z is 15:30 IST; round trip through the codec's conversion.
        let unix_ms = 1_710_496_800_000;
        let stamp = smsc_timestamp_ist(unix_ms).unwrap_or_else(|| panic!("valid"));
        assert_eq!((stamp.hour(), stamp.minute()), (15, 30));
        assert_eq!(stamp.unix_seconds(), 1_710_496_800);
    }
}
