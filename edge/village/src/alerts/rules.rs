//! Alert rules: the wire/config form [`RuleSpec`] (TOML `[[alert_rules]]` and the JSON of
//! `POST /api/v1/alert-rules`) and the validated [`Rule`] the engine runs.

use serde::{Deserialize, Serialize};

use crate::ingest::catalog::MetricCatalog;

/// Most rules a node runs (config + API): each reading is checked against every rule.
pub const RULES_MAX: usize = 200;
/// Longest rule id and message.
pub const RULE_ID_CHARS_MAX: usize = 64;
pub const RULE_MESSAGE_CHARS_MAX: usize = 500;
/// Longest duration / silence window accepted: 30 days.
pub const RULE_MINUTES_MAX: u64 = 30 * 24 * 60;

/// A rule as written in config or sent to the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id, 1..=64 of `[A-Za-z0-9_.-]`.
    pub id: String,
    /// `threshold`, `silent` or `battery_low`.
    pub kind: String,
    /// Metric of a threshold rule (battery_low: always `battery_v`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Breach when the value is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// Breach when the value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// A raised alert clears only once the value is this far back on the good side.
    #[serde(default)]
    pub hysteresis: f64,
    /// The breach must last this long before the alert is raised.
    #[serde(default)]
    pub for_minutes: u64,
    /// silent: minutes without any reading from a sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_minutes: Option<u64>,
    /// Only for sensors linked to a farm whose current crop is this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<String>,
    /// Growth stage filter: days since sowing of the current crop season.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_days_after_sowing: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days_after_sowing: Option<u32>,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Text for the farmer / the list.
    pub message: String,
}

fn default_severity() -> String {
    "warning".to_owned()
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `metric` below `limit` (or above when `above`), cleared past `limit ± hysteresis`.
    Threshold {
        metric: String,
        limit: f64,
        above: bool,
        hysteresis: f64,
        for_ms: i64,
    },
    /// No reading of any metric from a sensor for `silent_ms`.
    Silent { silent_ms: i64 },
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub kind: String,
    pub condition: Condition,
    pub crop: Option<String>,
    pub days_after_sowing: (Option<u32>, Option<u32>),
    pub severity: String,
    pub message: String,
    pub spec: RuleSpec,
}

fn minutes_ms(field: &str, m: u64) -> Result<i64, String> {
    if m > RULE_MINUTES_MAX {
        return Err(format!("{field} must be at most {RULE_MINUTES_MAX}"));
    }
    Ok(i64::try_from(m).unwrap_or(0) * 60_000)
}

impl RuleSpec {
    /// Validate against the node's metric catalog.
    pub fn validate(&self, catalog: &MetricCatalog) -> Result<Rule, String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= RULE_ID_CHARS_MAX
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !id_ok {
            return Err(format!("id: 1 to {RULE_ID_CHARS_MAX} of A-Z a-z 0-9 _ - ."));
        }
        if self.message.trim().is_empty() || self.message.chars().count() > RULE_MESSAGE_CHARS_MAX {
            return Err(format!(
                "{}: message must have 1 to {RULE_MESSAGE_CHARS_MAX} characters",
                self.id
            ));
        }
        if !matches!(self.severity.as_str(), "info" | "warning" | "critical") {
            return Err(format!(
                "{}: severity must be info, warning or critical",
                self.id
            ));
        }
        if !(self.hysteresis.is_finite() && self.hysteresis >= 0.0) {
            return Err(format!("{}: hysteresis must be >= 0", self.id));
        }
        let threshold = |metric: &str| -> Result<Condition, String> {
            if catalog.get(metric).is_none() {
                return Err(format!("{}: unknown metric {metric:?}", self.id));
            }
            let (limit, above) = match (self.below, self.above) {
                (Some(b), None) => (b, false),
                (None, Some(a)) => (a, true),
                _ => return Err(format!("{}: give exactly one of below, above", self.id)),
            };
            if !limit.is_finite() {
                return Err(format!("{}: limit must be finite", self.id));
            }
            Ok(Condition::Threshold {
                metric: metric.to_owned(),
                limit,
                above,
                hysteresis: self.hysteresis,
                for_ms: minutes_ms("for_minutes", self.for_minutes)?,
            })
        };
        let condition = match self.kind.as_str() {
            "threshold" => threshold(
                self.metric
                    .as_deref()
                    .ok_or_else(|| format!("{}: a threshold rule needs a metric", self.id))?,
            )?,
            "battery_low" => {
                if self.above.is_some() {
                    return Err(format!("{}: battery_low takes `below`", self.id));
                }
                threshold("battery_v")?
            }
            "silent" => {
                let m = self.silent_minutes.filter(|m| *m > 0).ok_or_else(|| {
                    format!("{}: a silent rule needs silent_minutes > 0", self.id)
                })?;
                Condition::Silent {
                    silent_ms: minutes_ms("silent_minutes", m)?,
                }
            }
            other => {
                return Err(format!(
                    "{}: kind must be threshold, silent or battery_low, not {other:?}",
                    self.id
                ));
            }
        };
        if let (Some(lo), Some(hi)) = (self.min_days_after_sowing, self.max_days_after_sowing)
            && lo > hi
        {
            return Err(format!(
                "{}: min_days_after_sowing > max_days_after_sowing",
                self.id
            ));
        }
        Ok(Rule {
            id: self.id.clone(),
            kind: self.kind.clone(),
            condition,
            crop: self.crop.as_ref().map(|c| c.trim().to_lowercase()),
            days_after_sowing: (self.min_days_after_sowing, self.max_days_after_sowing),
            severity: self.severity.clone(),
            message: self.message.clone(),
            spec: self.clone(),
        })
    }
}

/// Validate a rule list: each rule, unique ids, at most [`RULES_MAX`].
pub fn validate_rules(specs: &[RuleSpec], catalog: &MetricCatalog) -> Result<Vec<Rule>, String> {
    if specs.len() > RULES_MAX {
        return Err(format!("at most {RULES_MAX} rules"));
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
    for spec in specs {
        let rule = spec.validate(catalog)?;
        if rules.iter().any(|r| r.id == rule.id) {
            return Err(format!("duplicate rule id {:?}", rule.id));
        }
        rules.push(rule);
    }
    Ok(rules)
}
