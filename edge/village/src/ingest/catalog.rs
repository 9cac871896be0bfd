//! The metric catalog: every metric a sensor may report, with its unit and plausible range.
//!
//! Pure data, no I/O. The built-in metrics are the ones the village probes and weather stations
//! send today; `[[metrics]]` entries in the node's configuration add new ones or narrow/widen the
//! range of a built-in one. Readings outside the range are not stored as readings: MQTT ingest
//! dead-letters them and the HTTP route answers 422.

use farmco_sync::ValidationError;

/// Most metrics a catalog holds (built-ins plus configured ones); a bound on config mistakes.
pub const METRICS_MAX: usize = 64;
/// Longest metric name: it is a topic level and a label value in /metrics.
pub const METRIC_NAME_CHARS_MAX: usize = 40;

/// One metric: name (a topic level), unit, and inclusive plausible range.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub name: String,
    pub unit: String,
    pub min: f64,
    pub max: f64,
}

/// Built-in metrics: (name, unit, min, max).
pub const BUILTIN_METRICS: &[(&str, &str, f64, f64)] = &[
    ("soil_moisture_vwc", "%", 0.0, 100.0),
    ("soil_temp_c", "°C", -20.0, 70.0),
    ("air_temp_c", "°C", -30.0, 60.0),
    ("humidity_pct", "%", 0.0, 100.0),
    ("rainfall_mm", "mm", 0.0, 500.0),
    ("leaf_wetness_pct", "%", 0.0, 100.0),
    ("battery_v", "V", 0.0, 15.0),
];

/// Why a value does not fit the catalog.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("unknown metric {0:?}")]
    Unknown(String),
    #[error("{metric} = {value} is outside {min}..={max} {unit}")]
    OutOfRange {
        metric: String,
        value: f64,
        min: f64,
        max: f64,
        unit: String,
    },
}

/// The metrics this node accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCatalog {
    metrics: Vec<MetricSpec>,
}

/// A valid metric name: 1..=40 of `[a-z0-9_]`, starting with a letter.
pub fn is_valid_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= METRIC_NAME_CHARS_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl MetricCatalog {
    /// Only the built-in metrics.
    pub fn builtin() -> MetricCatalog {
        MetricCatalog {
            metrics: BUILTIN_METRICS
                .iter()
                .map(|(name, unit, min, max)| MetricSpec {
                    name: (*name).to_owned(),
                    unit: (*unit).to_owned(),
                    min: *min,
                    max: *max,
                })
                .collect(),
        }
    }

    /// The built-ins plus `extra` (an entry with a built-in's name replaces it).
    pub fn with_extensions(extra: Vec<MetricSpec>) -> Result<MetricCatalog, String> {
        let mut catalog = MetricCatalog::builtin();
        for spec in extra {
            if !is_valid_metric_name(&spec.name) {
                return Err(format!(
                    "metrics.name {:?}: 1 to {METRIC_NAME_CHARS_MAX} of a-z 0-9 _, starting with a letter",
                    spec.name
                ));
            }
            if !(spec.min.is_finite() && spec.max.is_finite() && spec.min <= spec.max) {
                return Err(format!(
                    "metrics {:?}: min and max must be finite with min <= max",
                    spec.name
                ));
            }
            match catalog.metrics.iter_mut().find(|m| m.name == spec.name) {
                Some(existing) => *existing = spec,
                None => catalog.metrics.push(spec),
            }
        }
        if catalog.metrics.len() > METRICS_MAX {
            return Err(format!("at most {METRICS_MAX} metrics"));
        }
        Ok(catalog)
    }

    pub fn get(&self, name: &str) -> Option<&MetricSpec> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MetricSpec> {
        self.metrics.iter()
    }

    /// Check that `metric` is known and `value` is finite and inside its range.
    pub fn check(&self, metric: &str, value: f64) -> Result<(), MetricError> {
        let spec = self
            .get(metric)
            .ok_or_else(|| MetricError::Unknown(metric.to_owned()))?;
        if !value.is_finite() || value < spec.min || value > spec.max {
            return Err(MetricError::OutOfRange {
                metric: metric.to_owned(),
                value,
                min: spec.min,
                max: spec.max,
                unit: spec.unit.clone(),
            });
        }
        Ok(())
    }

    /// The same check as a [`ValidationError`] for the HTTP API (`field` is the JSON path).
    pub fn validate(&self, field: &str, metric: &str, value: f64) -> Result<(), ValidationError> {
        self.check(metric, value).map_err(|e| match e {
            MetricError::Unknown(_) => ValidationError {
                field: format!("{field}.metric"),
                code: "unknown_metric",
                message: format!(
                    "unknown metric {metric:?}; known: {}",
                    self.metrics
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            MetricError::OutOfRange { min, max, unit, .. } => ValidationError {
                field: format!("{field}.value"),
                code: "out_of_range",
                message: format!("{metric} must be between {min} and {max} {unit}"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_extensions() {
        let c = MetricCatalog::with_extensions(vec![
            MetricSpec {
                name: "soil_ec_ds_m".into(),
                unit: "dS/m".into(),
                min: 0.0,
                max: 20.0,
            },
            MetricSpec {
                name: "battery_v".into(),
                unit: "V".into(),
                min: 0.0,
                max: 5.0,
            },
        ])
        .unwrap();
        assert!(c.check("soil_ec_ds_m", 3.0).is_ok());
        assert!(
            c.check("battery_v", 6.0).is_err(),
            "override narrows the range"
        );
        assert!(matches!(c.check("nope", 1.0), Err(MetricError::Unknown(_))));
        assert!(c.check("soil_moisture_vwc", f64::NAN).is_err());
        assert!(
            MetricCatalog::with_extensions(vec![MetricSpec {
                name: "Bad Name".into(),
                unit: String::new(),
                min: 0.0,
                max: 1.0
            }])
            .is_err()
        );
    }
}
