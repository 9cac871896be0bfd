//! Service-centre timestamps (TP-SCTS, TS 23.040 §9.2.3.11) and validity periods (TP-VP,
//! §9.2.3.12) as plain values.
//!
//! Why plain: this crate reads no clock and depends on no date library. A timestamp is the
//! seven semi-octet fields as sent (two-digit year, local time, offset in quarter hours with a
//! sign bit); [`SmscTimestamp::unix_seconds`] converts to UTC for whoever needs an instant.
//!
//! Limits: fields are range-checked on decode (month 1..=12, day 1..=31, hour < 24, minute
//! and second < 60, offset within ±[`UTC_OFFSET_QUARTER_HOURS_MAX`] quarter hours); a PDU
//! with a timestamp outside them is rejected rather than guessed at.

use super::PduError;
use super::reader::ByteReader;

/// Largest offset the field can carry: two BCD digits with the sign in the top bit of the
/// tens digit, so 79 quarter hours; real zones stay within -48..=+56.
pub const UTC_OFFSET_QUARTER_HOURS_MAX: i8 = 79;

/// A timestamp as the SMSC wrote it: local time and its offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmscTimestamp {
    year: u8,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    utc_offset_quarter_hours: i8,
}

impl SmscTimestamp {
    /// Builds a timestamp from its fields; `year` is two digits (0..=99, meaning 2000..=2099).
    pub fn new(
        year: u8,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        utc_offset_quarter_hours: i8,
    ) -> Result<Self, PduError> {
        let valid = year <= 99
            && (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60
            && utc_offset_quarter_hours.unsigned_abs() <= UTC_OFFSET_QUARTER_HOURS_MAX as u8;
        if !valid {
            return Err(PduError::InvalidTimestamp);
        }
        Ok(SmscTimestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            utc_offset_quarter_hours,
        })
    }

    /// Two-digit year (0..=99).
    pub fn year(&self) -> u8 {
        self.year
    }
    /// Month (1..=12).
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of month (1..=31).
    pub fn day(&self) -> u8 {
        self.day
    }
    /// Hour (0..=23), local time.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute (0..=59).
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// Second (0..=59).
    pub fn second(&self) -> u8 {
        self.second
    }
    /// Offset of the local time from UTC in quarter hours (India: +22).
    pub fn utc_offset_quarter_hours(&self) -> i8 {
        self.utc_offset_quarter_hours
    }

    /// Seconds since 1970-01-01T00:00:00Z, reading the year as 20YY.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(
            2000 + i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let local = days * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        local - i64::from(self.utc_offset_quarter_hours) * 15 * 60
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for field in [
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ] {
            out.push(swapped_bcd(field));
        }
        let magnitude = self.utc_offset_quarter_hours.unsigned_abs();
        let mut zone = swapped_bcd(magnitude);
        if self.utc_offset_quarter_hours < 0 {
            zone |= 0x08;
        }
        out.push(zone);
    }

    pub(crate) fn decode(reader: &mut ByteReader<'_>) -> Result<Self, PduError> {
        let octets = reader.take(7, "timestamp")?;
        let mut fields = [0u8; 6];
        for (field, &octet) in fields.iter_mut().zip(octets) {
            *field = from_swapped_bcd(octet).ok_or(PduError::InvalidTimestamp)?;
        }
        let zone = octets.get(6).copied().ok_or(PduError::InvalidTimestamp)?;
        let magnitude = from_swapped_bcd(zone & !0x08).ok_or(PduError::InvalidTimestamp)? as i8;
        let offset = if zone & 0x08 != 0 {
            -magnitude
        } else {
            magnitude
        };
        let [year, month, day, hour, minute, second] = fields;
        SmscTimestamp::new(year, month, day, hour, minute, second, offset)
    }
}

/// Swapped-nibble BCD: tens in the low nibble, units in the high nibble.
fn swapped_bcd(value: u8) -> u8 {
    ((value % 10) << 4) | (value / 10 % 10)
}

fn from_swapped_bcd(octet: u8) -> Option<u8> {
    let tens = octet & 0x0F;
    let units = octet >> 4;
    (tens <= 9 && units <= 9).then_some(tens * 10 + units)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// How long the SMSC keeps trying to deliver a message (TP-VP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityPeriod {
    /// Relative format (TP-VPF = 10), one octet; see [`ValidityPeriod::relative_minutes`].
    Relative(u8),
    /// Absolute format (TP-VPF = 11): a timestamp.
    Absolute(SmscTimestamp),
    /// Enhanced format (TP-VPF = 01): seven octets kept as they are.
    Enhanced([u8; 7]),
}

impl ValidityPeriod {
    /// The shortest relative period of at least `minutes` (capped at 63 weeks).
    pub fn relative_from_minutes(minutes: u32) -> Self {
        const DAY: u32 = 24 * 60;
        const WEEK: u32 = 7 * DAY;
        let octet = if minutes <= 144 * 5 {
            minutes.div_ceil(5).max(1) - 1
        } else if minutes <= 24 * 60 {
            143 + (minutes - 12 * 60).div_ceil(30)
        } else if minutes <= 30 * DAY {
            166 + minutes.div_ceil(DAY)
        } else {
            (192 + minutes.div_ceil(WEEK)).min(255)
        };
        ValidityPeriod::Relative(octet.min(255) as u8)
    }

    /// Minutes of a relative period: 0..=143 in 5-minute steps from 5 minutes, 144..=167 in
    /// half hours from 12.5 hours, 168..=196 in days from 2 days, 197..=255 in weeks from 5
    /// weeks. `None` for the other formats.
    pub fn relative_minutes(&self) -> Option<u32> {
        let ValidityPeriod::Relative(octet) = *self else {
            return None;
        };
        let octet = u32::from(octet);
        Some(match octet {
            0..=143 => (octet + 1) * 5,
            144..=167 => 12 * 60 + (octet - 143) * 30,
            168..=196 => (octet - 166) * 24 * 60,
            _ => (octet - 192) * 7 * 24 * 60,
        })
    }

    /// The two TP-VPF bits for the first octet of an SMS-SUBMIT.
    pub(crate) fn format_bits(&self) -> u8 {
        match self {
            ValidityPeriod::Relative(_) => 0b10,
            ValidityPeriod::Absolute(_) => 0b11,
            ValidityPeriod::Enhanced(_) => 0b01,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ValidityPeriod::Relative(octet) => out.push(*octet),
            ValidityPeriod::Absolute(timestamp) => timestamp.encode(out),
            ValidityPeriod::Enhanced(octets) => out.extend_from_slice(octets),
        }
    }

    pub(crate) fn decode(
        format_bits: u8,
        reader: &mut ByteReader<'_>,
    ) -> Result<Option<Self>, PduError> {
        Ok(match format_bits & 0b11 {
            0b00 => None,
            0b10 => Some(ValidityPeriod::Relative(reader.byte("validity period")?)),
            0b11 => Some(ValidityPeriod::Absolute(SmscTimestamp::decode(reader)?)),
            _ => {
                let octets = reader.take(7, "validity period")?;
                let mut enhanced = [0u8; 7];
                enhanced.copy_from_slice(octets);
                Some(ValidityPeriod::Enhanced(enhanced))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn india_timestamp_round_trips_with_its_zone() {
        // 2024-03-15 14:30:05 IST (+05:30 = +22 quarter hours): 42 30 51 41 03 50 22 swapped.
        let timestamp =
            SmscTimestamp::new(24, 3, 15, 14, 30, 5, 22).unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = Vec::new();
        timestamp.encode(&mut bytes);
        assert_eq!(bytes, vec![0x42, 0x30, 0x51, 0x41, 0x03, 0x50, 0x22]);
        assert_eq!(
            SmscTimestamp::decode(&mut ByteReader::new(&bytes)),
            Ok(timestamp)
        );
        // 2024-03-15T09:00:05Z
        assert_eq!(timestamp.unix_seconds(), 1_710_493_205);
    }

    #[test]
    fn negative_zone_uses_the_sign_bit() {
        let timestamp =
            SmscTimestamp::new(99, 12, 31, 23, 59, 59, -20).unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = Vec::new();
        timestamp.encode(&mut bytes);
        assert_eq!(bytes[6], 0x0A);
        assert_eq!(
            SmscTimestamp::decode(&mut ByteReader::new(&bytes)),
            Ok(timestamp)
        );
    }

    #[test]
    fn rejects_non_bcd_and_out_of_range() {
        let bad_month = [0x42, 0x31, 0x51, 0x41, 0x03, 0x50, 0x22];
        assert!(SmscTimestamp::decode(&mut ByteReader::new(&bad_month)).is_err());
        let not_bcd = [0x4F, 0x30, 0x51, 0x41, 0x03, 0x50, 0x22];
        assert!(SmscTimestamp::decode(&mut ByteReader::new(&not_bcd)).is_err());
    }

    #[test]
    fn relative_validity_covers_its_ranges() {
        for octet in 0..=255u8 {
            let period = ValidityPeriod::Relative(octet);
            let minutes = period.relative_minutes().unwrap_or(0);
            assert_eq!(
                ValidityPeriod::relative_from_minutes(minutes),
                period,
                "{octet}"
            );
        }
        assert_eq!(
            ValidityPeriod::relative_from_minutes(0),
            ValidityPeriod::Relative(0)
        );
        assert_eq!(
            ValidityPeriod::relative_from_minutes(24 * 60),
            ValidityPeriod::Relative(167)
        );
        assert_eq!(
            ValidityPeriod::relative_from_minutes(u32::MAX),
            ValidityPeriod::Relative(255)
        );
    }
}
