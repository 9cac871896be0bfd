//! Topic and payload parsing for MQTT ingest: pure functions from bytes to typed readings.
//!
//! Topic: `farmco/v1/{village_code}/{sensor_id}/{metric}`.
//! Payloads (at most [`PAYLOAD_BYTES_MAX`] bytes, at most [`READINGS_PER_PAYLOAD_MAX`] readings):
//! - JSON `{"ts": <RFC 3339 text or epoch ms>, "value": <number>}` (`ts` optional),
//! - JSON batch `{"readings": [{"ts": …, "value": …}, …]}`,
//! - compact text lines `ts,value` or just `value` (tiny firmware), one reading per line.
//!
//! A reading without a timestamp gets the receive time and is flagged. Every rejection is an
//! [`IngestError`] whose [`IngestError::reason`] is a short stable code (the dead-letter reason
//! and the `/metrics` label). Nothing here panics on any input (property-tested), reads a clock
//! or does I/O: the receive time comes in as a parameter.

use serde_json::Value;

use super::catalog::{MetricCatalog, MetricError};

/// A reading to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    pub sensor_id: String,
    pub metric: String,
    pub ts_ms: i64,
    pub value: f64,
    /// True when the sensor sent no timestamp and the receive time was used.
    pub ts_assigned: bool,
}

/// The first two topic levels of every sensor topic.
pub const TOPIC_PREFIX: &str = "farmco/v1";
/// Subscription filter covering every sensor topic.
pub const TOPIC_FILTER: &str = "farmco/v1/+/+/+";
/// Largest payload accepted: a 1,000-reading JSON batch is ~40 KB; more is not a sensor.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// Most readings in one payload; bounds the rows one message adds to a writer batch.
pub const READINGS_PER_PAYLOAD_MAX: usize = 1_000;
/// How far in the future a timestamp may lie (sensor clocks drift; more is a broken clock).
pub const FUTURE_SKEW_MS_MAX: i64 = 5 * 60 * 1000;
/// Longest sensor id (a topic level and a primary key).
pub const SENSOR_ID_CHARS_MAX: usize = 64;

/// A parsed sensor topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorTopic {
    pub village_code: String,
    pub sensor_id: String,
    pub metric: String,
}

/// Why a message could not be ingested.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("topic {0:?} is not farmco/v1/{{village_code}}/{{sensor_id}}/{{metric}}")]
    BadTopic(String),
    #[error("payload of {0} bytes exceeds {PAYLOAD_BYTES_MAX}")]
    TooLarge(usize),
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("more than {READINGS_PER_PAYLOAD_MAX} readings in one payload")]
    TooManyReadings,
    #[error("bad timestamp: {0}")]
    BadTimestamp(String),
    #[error("timestamp {0} ms is in the future or before 1970")]
    ImplausibleTimestamp(i64),
    #[error("{0}")]
    Metric(#[from] MetricError),
    #[error("unknown sensor {0:?}")]
    UnknownSensor(String),
    #[error("sensor {sensor_id:?} belongs to village {registered}, not {topic}")]
    VillageMismatch {
        sensor_id: String,
        registered: String,
        topic: String,
    },
}

impl IngestError {
    /// Stable short code: the dead-letter reason and the metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::BadTopic(_) => "bad_topic",
            IngestError::TooLarge(_) => "too_large",
            IngestError::Malformed(_) => "malformed",
            IngestError::TooManyReadings => "too_many_readings",
            IngestError::BadTimestamp(_) => "bad_timestamp",
            IngestError::ImplausibleTimestamp(_) => "future_timestamp",
            IngestError::Metric(MetricError::Unknown(_)) => "unknown_metric",
            IngestError::Metric(MetricError::OutOfRange { .. }) => "out_of_range",
            IngestError::UnknownSensor(_) => "unknown_sensor",
            IngestError::VillageMismatch { .. } => "village_mismatch",
        }
    }
}

/// A valid sensor id: 1..=64 of `[A-Za-z0-9_.-]`.
pub fn is_valid_sensor_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= SENSOR_ID_CHARS_MAX
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Parse `farmco/v1/{village_code}/{sensor_id}/{metric}` (village code: 6 digits).
pub fn parse_topic(topic: &str) -> Result<SensorTopic, IngestError> {
    let bad = || IngestError::BadTopic(topic.chars().take(200).collect());
    let rest = topic
        .strip_prefix(TOPIC_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let (Some(village), Some(sensor), Some(metric), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let village_ok = village.len() == 6 && village.bytes().all(|b| b.is_ascii_digit());
    if !village_ok || !is_valid_sensor_id(sensor) || metric.is_empty() || metric.len() > 64 {
        return Err(bad());
    }
    Ok(SensorTopic {
        village_code: village.to_owned(),
        sensor_id: sensor.to_owned(),
        metric: metric.to_owned(),
    })
}

/// One reading of a payload before it is bound to a sensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PayloadReading {
    pub ts_ms: i64,
    pub value: f64,
    pub ts_assigned: bool,
}

fn parse_ts_text(s: &str) -> Result<i64, IngestError> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        .map_err(|_| IngestError::BadTimestamp(s.chars().take(40).collect()))
}

fn ts_from_json(v: Option<&Value>, received_ms: i64) -> Result<(i64, bool), IngestError> {
    match v {
        None | Some(Value::Null) => Ok((received_ms, true)),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|ms| (ms, false))
            .ok_or_else(|| IngestError::BadTimestamp(n.to_string())),
        Some(Value::String(s)) => parse_ts_text(s).map(|ms| (ms, false)),
        Some(other) => Err(IngestError::BadTimestamp(
            other.to_string().chars().take(40).collect(),
        )),
    }
}

fn reading_from_json(v: &Value, received_ms: i64) -> Result<PayloadReading, IngestError> {
    let Value::Object(map) = v else {
        return Err(IngestError::Malformed("a reading must be an object".into()));
    };
    if let Some(k) = map.keys().find(|k| !matches!(k.as_str(), "ts" | "value")) {
        return Err(IngestError::Malformed(format!(
            "unknown field {:?}",
            k.chars().take(40).collect::<String>()
        )));
    }
    let value = map
        .get("value")
        .and_then(Value::as_f64)
        .ok_or_else(|| IngestError::Malformed("\"value\" must be a number".into()))?;
    let (ts_ms, ts_assigned) = ts_from_json(map.get("ts"), received_ms)?;
    Ok(PayloadReading {
        ts_ms,
        value,
        ts_assigned,
    })
}

fn parse_compact(text: &str, received_ms: i64) -> Result<Vec<PayloadReading>, IngestError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if out.len() == READINGS_PER_PAYLOAD_MAX {
            return Err(IngestError::TooManyReadings);
        }
        let (ts, value) = match line.split_once(',') {
            Some((ts, value)) => (Some(ts.trim()).filter(|t| !t.is_empty()), value.trim()),
            None => (None, line),
        };
        let value: f64 = value
            .parse()
            .map_err(|_| IngestError::Malformed("compact payloads are `ts,value` lines".into()))?;
        let (ts_ms, ts_assigned) = match ts {
            Some(ts) => (parse_ts_text(ts)?, false),
            None => (received_ms, true),
        };
        out.push(PayloadReading {
            ts_ms,
            value,
            ts_assigned,
        });
    }
    if out.is_empty() {
        return Err(IngestError::Malformed("empty payload".into()));
    }
    Ok(out)
}

/// Parse a payload into readings (timestamps not yet range-checked).
pub fn parse_payload(bytes: &[u8], received_ms: i64) -> Result<Vec<PayloadReading>, IngestError> {
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(IngestError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| IngestError::Malformed("payload is not UTF-8".into()))?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return parse_compact(text, received_ms);
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| IngestError::Malformed(e.to_string()))?;
    match value.get("readings") {
        Some(Value::Array(items)) => {
            if value.as_object().is_some_and(|m| m.len() != 1) {
                return Err(IngestError::Malformed(
                    "a batch has only the \"readings\" field".into(),
                ));
            }
            if items.len() > READINGS_PER_PAYLOAD_MAX {
                return Err(IngestError::TooManyReadings);
            }
            if items.is_empty() {
                return Err(IngestError::Malformed("empty batch".into()));
            }
            items
                .iter()
                .map(|v| reading_from_json(v, received_ms))
                .collect()
        }
        Some(_) => Err(IngestError::Malformed(
            "\"readings\" must be an array".into(),
        )),
        None => Ok(vec![reading_from_json(&value, received_ms)?]),
    }
}

/// Parse and check one message completely (topic, payload, metric, range, timestamps), giving
/// the rows to store. The sensor's registration is checked by the caller against the store.
pub fn parse_message(
    topic: &str,
    payload: &[u8],
    catalog: &MetricCatalog,
    received_ms: i64,
) -> Result<(SensorTopic, Vec<NewReading>), IngestError> {
    let topic = parse_topic(topic)?;
    if catalog.get(&topic.metric).is_none() {
        return Err(MetricError::Unknown(topic.metric).into());
    }
    let readings = parse_payload(payload, received_ms)?;
    let mut rows = Vec::with_capacity(readings.len());
    for r in readings {
        catalog.check(&topic.metric, r.value)?;
        if r.ts_ms < 0 || r.ts_ms > received_ms.saturating_add(FUTURE_SKEW_MS_MAX) {
            return Err(IngestError::ImplausibleTimestamp(r.ts_ms));
        }
        rows.push(NewReading {
            sensor_id: topic.sensor_id.clone(),
            metric: topic.metric.clone(),
            ts_ms: r.ts_ms,
            value: r.value,
            ts_assigned: r.ts_assigned,
        });
    }
    Ok((topic, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_780_000_000_000;
    const T: &str = "farmco/v1/563412/probe-1/soil_moisture_vwc";

    fn check(topic: &str, payload: &str) -> Result<Vec<(i64, f64, bool)>, &'static str> {
        parse_message(topic, payload.as_bytes(), &MetricCatalog::builtin(), NOW)
            .map(|(_, rows)| {
                rows.into_iter()
                    .map(|r| (r.ts_ms, r.value, r.ts_assigned))
                    .collect()
            })
            .map_err(|e| e.reason())
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            check(T, r#"{"ts":1000,"value":21.5}"#),
            Ok(vec![(1000, 21.5, false)])
        );
        assert_eq!(
            check(T, r#"{"ts":"1970-01-01T00:00:02Z","value":3}"#),
            Ok(vec![(2000, 3.0, false)])
        );
        assert_eq!(check(T, r#"{"value":3}"#), Ok(vec![(NOW, 3.0, true)]));
        assert_eq!(
            check(T, r#"{"readings":[{"ts":1,"value":1},{"value":2}]}"#),
            Ok(vec![(1, 1.0, false), (NOW, 2.0, true)])
        );
        assert_eq!(check(T, "5,20.5"), Ok(vec![(5, 20.5, false)]));
        assert_eq!(check(T, "20.5"), Ok(vec![(NOW, 20.5, true)]));
        assert_eq!(
            check(T, ",20.5\n6,21\n"),
            Ok(vec![(NOW, 20.5, true), (6, 21.0, false)])
        );
    }

    #[test]
    fn rejections_have_reasons() {
        assert_eq!(check("farmco/v1/563412/p", "1"), Err("bad_topic"));
        assert_eq!(check("farmco/v1/5634/p/soil_temp_c", "1"), Err("bad_topic"));
        assert_eq!(check("farmco/v1/563412/p/x/y", "1"), Err("bad_topic"));
        assert_eq!(check("farmco/v1/563412/p/wind", "1"), Err("unknown_metric"));
        assert_eq!(check(T, "{\"value\":"), Err("malformed"));
        assert_eq!(check(T, "abc"), Err("malformed"));
        assert_eq!(check(T, ""), Err("malformed"));
        assert_eq!(check(T, r#"{"value":"1"}"#), Err("malformed"));
        assert_eq!(check(T, r#"{"value":1,"x":2}"#), Err("malformed"));
        assert_eq!(check(T, r#"{"value":101}"#), Err("out_of_range"));
        assert_eq!(
            check(T, r#"{"ts":"yesterday","value":1}"#),
            Err("bad_timestamp")
        );
        let future = format!(r#"{{"ts":{},"value":1}}"#, NOW + FUTURE_SKEW_MS_MAX + 1);
        assert_eq!(check(T, &future), Err("future_timestamp"));
        assert_eq!(check(T, "-5,1"), Err("future_timestamp"));
        let big = "1\n".repeat(READINGS_PER_PAYLOAD_MAX + 1);
        assert_eq!(check(T, &big), Err("too_many_readings"));
        let huge = " ".repeat(PAYLOAD_BYTES_MAX + 1);
        assert_eq!(check(T, &huge), Err("too_large"));
        assert_eq!(
            parse_message(T, &[0xff, 0xfe], &MetricCatalog::builtin(), NOW).map_err(|e| e.reason()),
            Err("malformed")
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(topic in ".{0,80}", payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_message(&topic, &payload, &MetricCatalog::builtin(), NOW);
        }

        #[test]
        fn never_panics_on_json_like_text(payload in r#"[\{\}\[\]":,0-9a-z. \-]{0,120}"#) {
            let _ = parse_message(T, payload.as_bytes(), &MetricCatalog::builtin(), NOW);
        }

        #[test]
        fn accepted_values_round_trip(ts in 0i64..NOW, value in 0.0f64..100.0) {
            let payload = format!(r#"{{"ts":{ts},"value":{value}}}"#);
            prop_assert_eq!(check(T, &payload), Ok(vec![(ts, value, false)]));
        }
    }
}
