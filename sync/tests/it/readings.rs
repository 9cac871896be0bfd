//! The readings codec: exact round trips of every value's bits (property test over negative,
//! tiny, huge, integer values and irregular timestamps), rejections, corruption, and the size
//! targets measured on realistic generated data (printed; run with `--nocapture` to see):
//! at most 4 bytes per reading on the wire, and at most half of zstd-compressed CSV.

use farmco_sync::protocol::readings::{
    READING_ID_BYTES_MAX, encode_readings_within_budget, wire_size,
};
use farmco_sync::protocol::{
    BATCH_BUDGET_BYTES_DEFAULT, Heartbeat, READINGS_PER_BATCH_MAX, Reading, ReadingsBatch,
    ReadingsError, SyncRequest, WIRE_VERSION, decode_readings, encode_readings, encode_request,
};
use proptest::prelude::*;

fn reading(sensor: &str, metric: &str, ts_ms: i64, value: f64) -> Reading {
    Reading {
        sensor_id: sensor.into(),
        metric: metric.into(),
        ts_ms,
        value,
    }
}

/// What `decode_readings` must return for `input`: sorted by key, first of duplicates kept.
fn canonical(input: &[Reading]) -> Vec<Reading> {
    let mut sorted: Vec<(usize, &Reading)> = input.iter().enumerate().collect();
    sorted.sort_by(|(ia, a), (ib, b)| {
        (&a.sensor_id, &a.metric, a.ts_ms, ia).cmp(&(&b.sensor_id, &b.metric, b.ts_ms, ib))
    });
    let mut out: Vec<Reading> = Vec::new();
    for (_, r) in sorted {
        let duplicate = out.last().is_some_and(|last| {
            (&last.sensor_id, &last.metric, last.ts_ms) == (&r.sensor_id, &r.metric, r.ts_ms)
        });
        if !duplicate {
            out.push(r.clone());
        }
    }
    out
}

fn assert_bit_exact(decoded: &[Reading], expected: &[Reading]) {
    assert_eq!(decoded.len(), expected.len());
    for (d, e) in decoded.iter().zip(expected) {
        assert_eq!(
            (&d.sensor_id, &d.metric, d.ts_ms),
            (&e.sensor_id, &e.metric, e.ts_ms)
        );
        assert_eq!(d.value.to_bits(), e.value.to_bits(), "{d:?} vs {e:?}");
    }
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Decimal sensor values of various precisions, negative too.
        (-100_000i64..100_000, 0u32..8).prop_map(|(n, k)| n as f64 / 10f64.powi(k as i32)),
        // Integers, small and huge.
        any::<i32>().prop_map(f64::from),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|n| n as f64),
        // Anything finite: tiny, subnormal, huge, -0.0.
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(f64::MAX),
        Just(f64::MIN),
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        // A steady minute cadence with occasional jitter.
        (0i64..200, -2i64..=2).prop_map(|(i, j)| 1_700_000_000_000 + i * 60_000 + j * 137),
        // Irregular.
        1_600_000_000_000i64..1_800_000_000_000,
        // Extremes (wrapping deltas must still round-trip).
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>(),
    ]
}

fn readings() -> impl Strategy<Value = Vec<Reading>> {
    prop::collection::vec((0u8..4, 0u8..3, timestamp(), value()), 0..120).prop_map(|rows| {
        rows.into_iter()
            .map(|(s, m, ts, v)| {
                reading(
                    &format!("s{s}"),
                    ["t", "rh", "soil_moisture"][m as usize],
                    ts,
                    v,
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_is_exact(input in readings()) {
        let bytes = encode_readings(&input).unwrap();
        let decoded = decode_readings(&bytes).unwrap();
        assert_bit_exact(&decoded, &canonical(&input));
        // Encoding the decoded batch again gives the same bytes.
        prop_assert_eq!(encode_readings(&decoded).unwrap(), bytes);
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_readings(&bytes);
        let mut framed = vec![1u8];
        framed.extend_from_slice(&bytes);
        if let Ok(decoded) = decode_readings(&framed) {
            prop_assert!(decoded.len() <= READINGS_PER_BATCH_MAX);
            prop_assert!(decoded.iter().all(|r| r.value.is_finite()));
        }
    }

    #[test]
    fn mutations_never_panic(
        input in readings(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        truncate in any::<Option<prop::sample::Index>>(),
    ) {
        let mut bytes = encode_readings(&input).unwrap();
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value | 1;
        }
        if let Some(at) = truncate {
            bytes.truncate(at.index(bytes.len()));
        }
        if let Ok(decoded) = decode_readings(&bytes) {
            // Whatever decodes is in canonical order.
            prop_assert_eq!(canonical(&decoded).len(), decoded.len());
        }
    }

    #[test]
    fn budgeted_prefix_fits(input in readings(), budget in 1usize..600) {
        let (taken, bytes) = encode_readings_within_budget(&input, budget).unwrap();
        prop_assert_eq!(bytes.clone(), encode_readings(&input[..taken]).unwrap());
        if input.is_empty() {
            prop_assert_eq!(taken, 0);
        } else {
            prop_assert!(taken >= 1);
            prop_assert!(wire_size(&bytes) <= budget || taken == 1);
        }
    }
}

#[test]
fn rejections() {
    let ok = reading("s", "m", 1, 1.0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let input = vec![ok.clone(), reading("s", "m", 2, bad)];
        assert_eq!(
            encode_readings(&input),
            Err(ReadingsError::NonFinite { index: 1 })
        );
    }
    let long = "x".repeat(READING_ID_BYTES_MAX + 1);
    let exact = "x".repeat(READING_ID_BYTES_MAX);
    assert!(encode_readings(&[reading(&exact, &exact, 1, 1.0)]).is_ok());
    assert_eq!(
        encode_readings(&[reading(&long, "m", 1, 1.0)]),
        Err(ReadingsError::IdTooLong {
            index: 0,
            field: "sensor_id"
        })
    );
    assert_eq!(
        encode_readings(&[ok.clone(), reading("s", &long, 1, 1.0)]),
        Err(ReadingsError::IdTooLong {
            index: 1,
            field: "metric"
        })
    );
    let many: Vec<Reading> = (0..=READINGS_PER_BATCH_MAX as i64)
        .map(|i| reading("s", "m", i, 1.0))
        .collect();
    assert_eq!(
        encode_readings(&many),
        Err(ReadingsError::TooMany {
            count: READINGS_PER_BATCH_MAX + 1,
            max: READINGS_PER_BATCH_MAX
        })
    );
    assert!(encode_readings(&many[..READINGS_PER_BATCH_MAX]).is_ok());
    assert_eq!(
        decode_readings(&encode_readings(&[]).unwrap()).unwrap(),
        vec![]
    );
}

#[test]
fn corrupt_batches_are_rejected() {
    let input = vec![
        reading("a", "m", 1, 1.5),
        reading("a", "m", 2, 2.5),
        reading("b", "m", 1, 7.0),
    ];
    let bytes = encode_readings(&input).unwrap();
    let corrupt = |b: &[u8]| matches!(decode_readings(b), Err(ReadingsError::Corrupt(_)));
    assert!(corrupt(&[]));
    assert!(corrupt(&[2, 0]), "unknown format");
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(corrupt(&trailing));
    for len in 0..bytes.len() {
        assert!(corrupt(&bytes[..len]), "truncated to {len}");
    }
    // Series out of order: swap the two series by hand ("b" before "a").
    let mut swapped = vec![1, 2];
    swapped.extend_from_slice(&encode_readings(&input[2..]).unwrap()[2..]);
    swapped.extend_from_slice(&encode_readings(&input[..2]).unwrap()[2..]);
    assert!(corrupt(&swapped));
    // A declared count beyond the limit.
    let mut huge = vec![1, 1, 1, b'a', 1, b'm'];
    huge.extend_from_slice(&[0xd1, 0x86, 0x03]); // 50,001
    assert!(corrupt(&huge));
    // A timestamp that does not increase (delta 0).
    let repeated = [1, 1, 1, b'a', 1, b'm', 2, 0, 2, 0, 2, 2];
    assert!(corrupt(&repeated));
    // Raw bits that decode to NaN.
    let mut nan = vec![1, 1, 1, b'a', 1, b'm', 1, 255, 2];
    let mut bits = f64::NAN.to_bits();
    while bits >= 0x80 {
        nan.push((bits as u8) | 0x80);
        bits >>= 7;
    }
    nan.push(bits as u8);
    assert!(corrupt(&nan));
}

// ---- size targets ----

/// A deterministic generator (xorshift), so the measured sizes are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Round `v` to a multiple of `step` the way a sensor driver prints it: the nearest decimal
/// with the step's digits (e.g. 23.4, 28.75, 3.71).
fn quantize(v: f64, step: f64, digits: i32) -> f64 {
    let q = (v / step).round() * step;
    let scale = 10f64.powi(digits);
    (q * scale).round() / scale
}

/// 100 sensors x 7 metrics, `points` readings each at `cadence_ms`, in arrival order (all
/// sensors' readings of one instant, then the next). With `jitter`, timestamps are arrival
/// times with up to +-500 ms of jitter; otherwise the sensor's own exact schedule.
fn realistic(points: usize, cadence_ms: i64, jitter: bool, seed: u64) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let start = 1_735_689_600_000i64; // 2025-01-01T00:00Z
    struct State {
        moisture: f64,
        soil_temp: f64,
        air_temp: f64,
        humidity: f64,
        battery: f64,
        ec: f64,
    }
    let mut sensors: Vec<State> = (0..100)
        .map(|_| State {
            moisture: 20.0 + 15.0 * rng.unit().abs(),
            soil_temp: 26.0 + 2.0 * rng.unit(),
            air_temp: 29.0 + 3.0 * rng.unit(),
            humidity: 60.0 + 20.0 * rng.unit(),
            battery: 3.9 - 0.2 * rng.unit().abs(),
            ec: 800.0 + 100.0 * rng.unit(),
        })
        .collect();
    let mut out = Vec::with_capacity(points * 700);
    for i in 0..points {
        let day_fraction = (i as f64 * cadence_ms as f64) / 86_400_000.0;
        let diurnal = (day_fraction * std::f64::consts::TAU).sin();
        for (s, state) in sensors.iter_mut().enumerate() {
            let phase = s as i64 * 577; // sensors are not in lockstep
            let mut ts = start + i as i64 * cadence_ms + phase;
            if jitter {
                ts += (rng.unit() * 500.0) as i64;
            }
            let step_scale = (cadence_ms as f64 / 60_000.0).sqrt();
            state.moisture =
                (state.moisture + 0.05 * step_scale * rng.unit() - 0.002).clamp(5.0, 60.0);
            state.soil_temp += 0.01 * step_scale * rng.unit();
            state.air_temp += 0.03 * step_scale * rng.unit();
            state.humidity = (state.humidity + 0.1 * step_scale * rng.unit()).clamp(10.0, 100.0);
            state.battery -= 0.00002 * cadence_ms as f64 / 60_000.0;
            state.ec += 0.5 * step_scale * rng.unit();
            let sensor = format!("field-{s:03}");
            // Measurement noise of up to 1.5 steps of resolution on every value.
            let mut noise = |step: f64| 1.5 * step * rng.unit();
            let rows = [
                (
                    "soil_moisture_pct",
                    quantize(state.moisture + noise(0.1), 0.1, 1),
                ),
                // DS18B20: 1/16 degree steps (28.75, 28.8125).
                (
                    "soil_temp_c",
                    quantize(state.soil_temp + 0.5 * diurnal + noise(0.0625), 0.0625, 4),
                ),
                (
                    "air_temp_c",
                    quantize(state.air_temp + 4.0 * diurnal + noise(0.1), 0.1, 1),
                ),
                (
                    "humidity_pct",
                    quantize(state.humidity - 10.0 * diurnal + noise(0.1), 0.1, 1),
                ),
                ("battery_v", quantize(state.battery + noise(0.01), 0.01, 2)),
                ("rssi_dbm", (-75.0 + noise(3.0)).round()),
                ("ec_us_cm", (state.ec + noise(1.0)).round()),
            ];
            for (metric, value) in rows {
                out.push(reading(&sensor, metric, ts, value));
            }
        }
    }
    out
}

fn zstd3(bytes: &[u8]) -> usize {
    zstd::bulk::compress(bytes, 3).unwrap().len()
}

fn csv(readings: &[Reading]) -> Vec<u8> {
    let mut out = String::new();
    for r in readings {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.sensor_id, r.metric, r.ts_ms, r.value
        ));
    }
    out.into_bytes()
}

/// Bytes per reading of the codec on the wire (inside a zstd'd SyncRequest) and the ratio
/// to zstd'd CSV, both for CSV in arrival order and sorted by series (the harder baseline).
fn measure(name: &str, input: &[Reading]) -> (f64, f64) {
    let data = encode_readings(input).unwrap();
    assert_bit_exact(&decode_readings(&data).unwrap(), &canonical(input));
    let request = SyncRequest {
        wire_version: WIRE_VERSION,
        heartbeat: Heartbeat {
            software_version: "0.1.0".into(),
            change_backlog: 0,
            readings_backlog: 0,
            disk_free_bytes: 0,
            last_sync_ms: None,
            clock_ms: 0,
            extra: vec![],
            health: None,
        },
        up: vec![],
        readings: Some(ReadingsBatch {
            from_id: 1,
            to_id: input.len() as i64,
            data: data.clone(),
        }),
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: 32 * 1024,
        anti_entropy: None,
        doc_sync: vec![],
    };
    let wire = encode_request(&request).unwrap().len();
    let n = input.len() as f64;
    let csv_arrival = zstd3(&csv(input));
    let csv_sorted = zstd3(&csv(&canonical(input)));
    let per_reading = wire as f64 / n;
    let ratio = wire as f64 / csv_arrival.min(csv_sorted) as f64;
    println!(
        "{name}: {} readings; codec {:.2} B/reading raw, {:.2} B/reading zstd'd, {:.2} B/reading \
         in a request on the wire; zstd(codec) again {:.2}; zstd CSV {:.2} (arrival order) / \
         {:.2} (sorted) B/reading; ratio {ratio:.3}",
        input.len(),
        data.len() as f64 / n,
        zstd3(&data) as f64 / n,
        per_reading,
        zstd3(&zstd::bulk::compress(&data, 3).unwrap()) as f64 / n,
        csv_arrival as f64 / n,
        csv_sorted as f64 / n,
    );
    (per_reading, ratio)
}

#[test]
fn size_targets_on_realistic_data() {
    let cases = [
        // One hour of 1-minute data, exact sensor timestamps: 42,000 readings.
        ("1-minute, exact", realistic(60, 60_000, false, 1)),
        // The same with arrival-time jitter of up to +-0.5 s.
        ("1-minute, jittered", realistic(60, 60_000, true, 2)),
        // Twelve hours of 15-minute data: 33,600 readings.
        ("15-minute, exact", realistic(48, 900_000, false, 3)),
        ("15-minute, jittered", realistic(48, 900_000, true, 4)),
        // A small batch (what one 32 KiB round may carry after documents): 5 readings each.
        ("1-minute, 5 per series", realistic(5, 60_000, true, 5)),
    ];
    for (name, input) in &cases {
        let (per_reading, ratio) = measure(name, input);
        assert!(
            per_reading <= 4.0,
            "{name}: {per_reading:.2} bytes per reading"
        );
        assert!(ratio <= 0.5, "{name}: {ratio:.3} of zstd CSV");
    }
    // One default round carries this many (rows in table order, compressed size counted).
    let (taken, data) =
        encode_readings_within_budget(&cases[1].1, BATCH_BUDGET_BYTES_DEFAULT).unwrap();
    println!(
        "a {BATCH_BUDGET_BYTES_DEFAULT}-byte budget takes {taken} readings of 1-minute jittered \
         data ({} bytes raw, {} compressed)",
        data.len(),
        wire_size(&data)
    );
    assert!(wire_size(&data) <= BATCH_BUDGET_BYTES_DEFAULT);
    assert!(taken >= 20_000, "{taken}");
}
