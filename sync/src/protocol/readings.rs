//! The sensor readings codec: a batch of readings as compact bytes for `ReadingsBatch::data`.
//!
//! Readings are not CRDT documents but an append-only log keyed by (sensor, metric, ts); a
//! batch is idempotent because the cloud inserts with `ON CONFLICT DO NOTHING`.
//!
//! Layout (all integers LEB128 varints, signed ones zigzag-encoded first):
//!
//! ```text
//! format u8 = 1 | series_count
//! per series, in ascending (sensor_id, metric) order:
//!   sensor_len, sensor bytes (UTF-8) | metric_len, metric bytes | count (>= 1) | mode u8
//!   first ts | (count > 1) first delta | (count > 2) count-2 delta-of-deltas
//!   mode 0..=6 (scaled by 10^mode): first scaled value | count-1 deltas of scaled values
//!   mode 255 (raw): count values as (f64 bits XOR previous bits), previous starting at 0
//! ```
//!
//! Why: a sensor on a steady cadence has delta-of-delta 0, one byte per reading; values from
//! sensors are decimals with few digits (23.4 %, 28.75 C, 3.71 V) that change a little, so the
//! scaled integers' deltas are one byte too. Mode `k` is the smallest `k <= 6` for which every
//! value of the series is exactly (bit for bit) `n / 10^k` with `|n| <= 2^53`; otherwise the
//! raw f64 bits are kept, so every value round-trips exactly, including -0.0 and subnormals.
//!
//! Not compressed here: the whole request payload is zstd-compressed by `wire`, which takes
//! these bytes a further ~4x (measured: 2.6-3.7 bytes per reading raw, 0.63-1.02 on the wire
//! for an hour of 100 sensors x 7 metrics), and compressing twice gained nothing. The
//! `readings` integration test prints bytes per reading and the ratio against zstd'd CSV
//! (0.15-0.37). [`encode_readings_within_budget`] counts the compressed size against the
//! byte budget, because that is what the link carries.
//!
//! Canonical form: the encoder sorts by (sensor_id, metric, ts_ms) and keeps the **first** of
//! readings with the same key (later duplicates are dropped: the cloud would ignore them too);
//! the decoder rejects bytes out of this order (unsorted series or timestamps, duplicate keys,
//! empty series, trailing bytes).
//!
//! Limits: [`READINGS_PER_BATCH_MAX`] readings per batch (bounds decode memory, about 10 MB at
//! the longest ids), ids of at most [`READING_ID_BYTES_MAX`] bytes, finite values only.

/// Most readings in one batch: bounds the decoder's memory; at ~1-2 bytes per reading a full
/// batch is far beyond one 32 KiB round anyway.
pub const READINGS_PER_BATCH_MAX: usize = 50_000;
/// Longest sensor id or metric name, in bytes (MQTT topic segments like `soil-07`).
pub const READING_ID_BYTES_MAX: usize = 64;
/// Largest decimal exponent tried for scaled values: 6 digits after the point covers every
/// sensor's resolution; beyond that the raw bits are as small.
pub const SCALE_DIGITS_MAX: u8 = 6;
/// Format byte at the start of every batch.
const FORMAT_VERSION: u8 = 1;
/// Mode byte of a series stored as raw f64 bits.
const MODE_RAW: u8 = 255;
/// Largest integer every f64 represents exactly, with all below it.
const EXACT_INTEGER_MAX: i64 = 1 << 53;

/// One sensor reading.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The sensor, e.g. `soil-07`.
    pub sensor_id: String,
    /// What it measured, e.g. `soil_moisture_pct`.
    pub metric: String,
    /// When, unix milliseconds.
    pub ts_ms: i64,
    /// The value (finite).
    pub value: f64,
}

/// Why readings could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingsError {
    /// More than [`READINGS_PER_BATCH_MAX`] readings.
    #[error("{count} readings in one batch, limit {max}")]
    TooMany {
        /// How many were given (or declared).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A value is NaN or infinite.
    #[error("reading {index}: value is not finite")]
    NonFinite {
        /// Position in the input.
        index: usize,
    },
    /// A sensor id or metric longer than [`READING_ID_BYTES_MAX`] bytes.
    #[error("reading {index}: {field} is longer than {READING_ID_BYTES_MAX} bytes")]
    IdTooLong {
        /// Position in the input.
        index: usize,
        /// `sensor_id` or `metric`.
        field: &'static str,
    },
    /// The bytes are not a valid batch.
    #[error("corrupt readings batch: {0}")]
    Corrupt(String),
}

fn corrupt(what: impl Into<String>) -> ReadingsError {
    ReadingsError::Corrupt(what.into())
}

// ---- varints ----

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, zigzag(value));
}

/// A cursor over untrusted bytes; every read is checked.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Result<u8, ReadingsError> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| corrupt("unexpected end"))?;
        self.at += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, ReadingsError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.byte()?;
            // The tenth byte holds only the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(corrupt("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint longer than 10 bytes"))
    }

    fn signed(&mut self) -> Result<i64, ReadingsError> {
        self.varint().map(unzigzag)
    }

    fn length(&mut self, max: usize, what: &str) -> Result<usize, ReadingsError> {
        let value = self.varint()?;
        usize::try_from(value)
            .ok()
            .filter(|len| *len <= max)
            .ok_or_else(|| corrupt(format!("{what} {value} exceeds {max}")))
    }

    fn id(&mut self, what: &str) -> Result<&'a str, ReadingsError> {
        let len = self.length(READING_ID_BYTES_MAX, what)?;
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("unexpected end"))?;
        let text = std::str::from_utf8(&self.bytes[self.at..end])
            .map_err(|_| corrupt(format!("{what} is not UTF-8")))?;
        self.at = end;
        Ok(text)
    }
}

// ---- values ----

fn power_of_ten(k: u8) -> f64 {
    // Exact in f64 for k <= 22.
    10f64.powi(i32::from(k))
}

/// `value` as `n` with `n / 10^k == value` bit for bit, if there is one.
fn scaled(value: f64, k: u8) -> Option<i64> {
    let scale = power_of_ten(k);
    let n = (value * scale).round();
    if n.is_nan() || n.abs() > EXACT_INTEGER_MAX as f64 {
        return None;
    }
    let n = n as i64;
    ((n as f64 / scale).to_bits() == value.to_bits()).then_some(n)
}

/// The smallest decimal exponent that represents every value exactly, if any.
fn series_mode(values: &[f64]) -> u8 {
    (0..=SCALE_DIGITS_MAX)
        .find(|&k| values.iter().all(|&v| scaled(v, k).is_some()))
        .unwrap_or(MODE_RAW)
}

// ---- encoding ----

/// Encode a batch. Rejects more than [`READINGS_PER_BATCH_MAX`] readings, non-finite values
/// and ids over [`READING_ID_BYTES_MAX`] bytes. Readings are sorted by (sensor_id, metric,
/// ts_ms); of several with the same key the first given is kept.
pub fn encode_readings(readings: &[Reading]) -> Result<Vec<u8>, ReadingsError> {
    if readings.len() > READINGS_PER_BATCH_MAX {
        return Err(ReadingsError::TooMany {
            count: readings.len(),
            max: READINGS_PER_BATCH_MAX,
        });
    }
    for (index, r) in readings.iter().enumerate() {
        if !r.value.is_finite() {
            return Err(ReadingsError::NonFinite { index });
        }
        if r.sensor_id.len() > READING_ID_BYTES_MAX {
            return Err(ReadingsError::IdTooLong {
                index,
                field: "sensor_id",
            });
        }
        if r.metric.len() > READING_ID_BYTES_MAX {
            return Err(ReadingsError::IdTooLong {
                index,
                field: "metric",
            });
        }
    }
    fn key(r: &Reading) -> (&str, &str, i64) {
        (r.sensor_id.as_str(), r.metric.as_str(), r.ts_ms)
    }
    let mut order: Vec<&Reading> = readings.iter().collect();
    // Stable: among equal keys the first given stays first, and `dedup_by` keeps it.
    order.sort_by(|a, b| key(a).cmp(&key(b)));
    order.dedup_by(|later, earlier| key(later) == key(earlier));

    let mut series: Vec<&[&Reading]> = Vec::new();
    let mut rest = order.as_slice();
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .position(|r| r.sensor_id != first.sensor_id || r.metric != first.metric)
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(len);
        series.push(head);
        rest = tail;
    }

    let mut out = Vec::with_capacity(16 + 3 * order.len());
    out.push(FORMAT_VERSION);
    put_varint(&mut out, series.len() as u64);
    let mut values = Vec::new();
    for s in series {
        let Some(first) = s.first() else { continue };
        put_varint(&mut out, first.sensor_id.len() as u64);
        out.extend_from_slice(first.sensor_id.as_bytes());
        put_varint(&mut out, first.metric.len() as u64);
        out.extend_from_slice(first.metric.as_bytes());
        put_varint(&mut out, s.len() as u64);
        values.clear();
        values.extend(s.iter().map(|r| r.value));
        let mode = series_mode(&values);
        out.push(mode);
        // Timestamps: first, then the first delta, then deltas of deltas. Wrapping arithmetic
        // is a bijection, so even i64::MIN..i64::MAX round-trips.
        let mut previous_ts = first.ts_ms;
        let mut previous_delta = 0i64;
        put_signed(&mut out, first.ts_ms);
        for r in &s[1..] {
            let delta = r.ts_ms.wrapping_sub(previous_ts);
            put_signed(&mut out, delta.wrapping_sub(previous_delta));
            previous_ts = r.ts_ms;
            previous_delta = delta;
        }
        if mode == MODE_RAW {
            let mut previous = 0u64;
            for v in &values {
                put_varint(&mut out, v.to_bits() ^ previous);
                previous = v.to_bits();
            }
        } else {
            let mut previous = 0i64;
            for v in &values {
                // `series_mode` checked every value at this scale.
                let n = scaled(*v, mode).unwrap_or_default();
                put_signed(&mut out, n.wrapping_sub(previous));
                previous = n;
            }
        }
    }
    Ok(out)
}

// ---- decoding ----

/// Decode a batch from untrusted bytes: every reading of the batch, sorted by (sensor_id,
/// metric, ts_ms), each value bit-exact. Anything not in the encoder's canonical form is
/// [`ReadingsError::Corrupt`]; never panics.
pub fn decode_readings(bytes: &[u8]) -> Result<Vec<Reading>, ReadingsError> {
    let mut input = Input { bytes, at: 0 };
    let format = input.byte()?;
    if format != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format {format}")));
    }
    let series_count = input.length(READINGS_PER_BATCH_MAX, "series count")?;
    let mut readings: Vec<Reading> = Vec::new();
    let mut previous_key: Option<(&str, &str)> = None;
    for _ in 0..series_count {
        let sensor_id = input.id("sensor id")?;
        let metric = input.id("metric")?;
        if previous_key.is_some_and(|previous| previous >= (sensor_id, metric)) {
            return Err(corrupt("series are not in ascending order"));
        }
        previous_key = Some((sensor_id, metric));
        let remaining = READINGS_PER_BATCH_MAX - readings.len();
        let count = input.length(remaining, "reading count")?;
        if count == 0 {
            return Err(corrupt("empty series"));
        }
        let mode = input.byte()?;
        if mode > SCALE_DIGITS_MAX && mode != MODE_RAW {
            return Err(corrupt(format!("unknown value mode {mode}")));
        }
        let start = readings.len();
        let mut ts = input.signed()?;
        let mut delta = 0i64;
        for i in 0..count {
            if i > 0 {
                delta = delta.wrapping_add(input.signed()?);
                let next = ts.wrapping_add(delta);
                if next <= ts {
                    return Err(corrupt("timestamps are not strictly increasing"));
                }
                ts = next;
            }
            readings.push(Reading {
                sensor_id: sensor_id.to_string(),
                metric: metric.to_string(),
                ts_ms: ts,
                value: 0.0,
            });
        }
        let series = &mut readings[start..];
        if mode == MODE_RAW {
            let mut previous = 0u64;
            for r in series.iter_mut() {
                let bits = input.varint()? ^ previous;
                previous = bits;
                r.value = f64::from_bits(bits);
            }
        } else {
            let scale = power_of_ten(mode);
            let mut n = 0i64;
            for r in series.iter_mut() {
                n = n.wrapping_add(input.signed()?);
                r.value = n as f64 / scale;
            }
        }
        if series.iter().any(|r| !r.value.is_finite()) {
            return Err(corrupt("value is not finite"));
        }
    }
    if input.at != bytes.len() {
        return Err(corrupt(format!(
            "{} bytes after the end",
            bytes.len() - input.at
        )));
    }
    Ok(readings)
}

/// Encode a prefix of `readings` (rows in table order) whose size **on the wire** (the codec
/// bytes compressed with zstd level 3, as `wire` will send them) fits in `budget_bytes`; at
/// least one reading if there are any, so one reading never blocks the table. Returns how
/// many were taken and the (uncompressed) bytes for `ReadingsBatch::data`. At most
/// [`READINGS_PER_BATCH_MAX`] are taken; a binary search tries about log2(n) prefixes.
///
/// The compressed size is what counts because it is what the 2G link carries: measured on
/// realistic data the codec's bytes shrink about 4x under zstd, so counting them raw would
/// fill a round to a quarter.
pub fn encode_readings_within_budget(
    readings: &[Reading],
    budget_bytes: usize,
) -> Result<(usize, Vec<u8>), ReadingsError> {
    let readings = &readings[..readings.len().min(READINGS_PER_BATCH_MAX)];
    let all = encode_readings(readings)?;
    if readings.len() <= 1 || wire_size(&all) <= budget_bytes {
        return Ok((readings.len(), all));
    }
    // Invariant: a prefix of `fits` readings fits (or is the minimum of one), `too_many` not.
    let mut fits = 1;
    let mut fits_bytes = encode_readings(&readings[..1])?;
    let mut too_many = readings.len();
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        let bytes = encode_readings(&readings[..middle])?;
        if wire_size(&bytes) <= budget_bytes {
            fits = middle;
            fits_bytes = bytes;
        } else {
            too_many = middle;
        }
    }
    Ok((fits, fits_bytes))
}

/// Size of `data` once zstd-compressed like a wire payload (its raw size if compression
/// fails, which it does not for in-memory input).
pub fn wire_size(data: &[u8]) -> usize {
    zstd::bulk::compress(data, super::wire::ZSTD_LEVEL).map_or(data.len(), |c| c.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(sensor: &str, metric: &str, ts_ms: i64, value: f64) -> Reading {
        Reading {
            sensor_id: sensor.into(),
            metric: metric.into(),
            ts_ms,
            value,
        }
    }

    #[test]
    fn modes() {
        assert_eq!(series_mode(&[23.4, 23.5, 24.0]), 1);
        assert_eq!(series_mode(&[28.75, 3.71]), 2);
        assert_eq!(series_mode(&[5.0, -7.0]), 0);
        assert_eq!(series_mode(&[-0.0]), MODE_RAW);
        assert_eq!(series_mode(&[1e300]), MODE_RAW);
        assert_eq!(series_mode(&[0.1 + 0.2]), MODE_RAW);
        assert_eq!(series_mode(&[0.000_001]), 6);
    }

    #[test]
    fn duplicates_keep_the_first() {
        let input = vec![
            reading("b", "t", 2, 1.0),
            reading("a", "t", 5, 2.0),
            reading("b", "t", 2, 3.0),
            reading("a", "t", 1, 4.0),
        ];
        let decoded = decode_readings(&encode_readings(&input).unwrap()).unwrap();
        assert_eq!(
            decoded,
            vec![
                reading("a", "t", 1, 4.0),
                reading("a", "t", 5, 2.0),
                reading("b", "t", 2, 1.0),
            ]
        );
    }

    #[test]
    fn varints() {
        for v in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_signed(&mut out, v);
            let mut input = Input { bytes: &out, at: 0 };
            assert_eq!(input.signed().unwrap(), v);
            assert_eq!(input.at, out.len());
        }
        let mut input = Input {
            bytes: &[0xff; 11],
            at: 0,
        };
        assert!(input.varint().is_err());
    }
}
