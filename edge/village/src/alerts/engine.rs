//! The pure alert rule engine: a state machine fed reading events and clock ticks (time always
//! comes in as a parameter), answering raise/resolve decisions. No I/O, no clock.
//!
//! Per (rule, sensor): a threshold rule tracks since when the value has been breaching; it
//! raises once the breach lasted `for_ms` (checked on readings and on ticks) and resolves only
//! when a reading is back past `limit ± hysteresis`. One raise per episode (dedup); a
//! crop/growth-stage filter that stops matching resolves an open alert. A silent rule raises on
//! a tick when a known sensor sent nothing for `silent_ms`, and resolves on its next reading.

use std::collections::HashMap;

use super::rules::{Condition, Rule};

/// What the shell knows about a reading's sensor when it feeds the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SensorContext {
    pub farm_id: Option<String>,
    pub farmer_id: Option<String>,
    /// Current crop (lowercase) and days since its sowing.
    pub crop: Option<(String, i64)>,
}

/// One input event.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Reading {
        sensor_id: String,
        metric: String,
        ts_ms: i64,
        value: f64,
        context: SensorContext,
    },
    Tick {
        now_ms: i64,
    },
}

/// One output decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Raise {
        rule_id: String,
        kind: String,
        severity: String,
        sensor_id: String,
        metric: Option<String>,
        value: Option<f64>,
        farm_id: Option<String>,
        farmer_id: Option<String>,
        message: String,
        at_ms: i64,
    },
    Resolve {
        rule_id: String,
        sensor_id: String,
        at_ms: i64,
    },
}

#[derive(Debug, Clone, Default)]
struct State {
    breach_since: Option<i64>,
    last_ts: Option<i64>,
    last_value: f64,
    raised: bool,
    context: SensorContext,
}

/// Sensors tracked at most for the silent rule (a village has tens; bounds memory on garbage).
pub const TRACKED_SENSORS_MAX: usize = 10_000;

/// The engine's state.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    rules: Vec<Rule>,
    state: HashMap<(String, String), State>,
    /// Last reading time and context of each known sensor.
    last_seen: HashMap<String, (i64, SensorContext)>,
}

fn applies(rule: &Rule, ctx: &SensorContext) -> bool {
    let Some(want) = &rule.crop else {
        return true;
    };
    let Some((crop, days)) = &ctx.crop else {
        return false;
    };
    let (lo, hi) = rule.days_after_sowing;
    crop == want
        && lo.is_none_or(|lo| *days >= i64::from(lo))
        && hi.is_none_or(|hi| *days <= i64::from(hi))
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        Engine {
            rules,
            ..Engine::default()
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Replace the rule set (state of removed rules is dropped).
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        self.state
            .retain(|(rule_id, _), _| rules.iter().any(|r| &r.id == rule_id));
        self.rules = rules;
    }

    /// Mark an alert as open (after a restart, from the store) so it can be resolved.
    pub fn mark_raised(&mut self, rule_id: &str, sensor_id: &str) {
        self.state
            .entry((rule_id.to_owned(), sensor_id.to_owned()))
            .or_default()
            .raised = true;
    }

    /// Start tracking a sensor for the silent rule as if it was last heard at `at_ms`.
    pub fn track_sensor(&mut self, sensor_id: &str, at_ms: i64, context: SensorContext) {
        if self.last_seen.len() < TRACKED_SENSORS_MAX || self.last_seen.contains_key(sensor_id) {
            self.last_seen
                .entry(sensor_id.to_owned())
                .or_insert((at_ms, context));
        }
    }

    /// Feed one event; returns the decisions it caused, in order.
    pub fn step(&mut self, input: &Input) -> Vec<Decision> {
        let mut out = Vec::new();
        match input {
            Input::Reading {
                sensor_id,
                metric,
                ts_ms,
                value,
                context,
            } => {
                self.track_sensor(sensor_id, *ts_ms, context.clone());
                if let Some(seen) = self.last_seen.get_mut(sensor_id)
                    && *ts_ms >= seen.0
                {
                    *seen = (*ts_ms, context.clone());
                }
                for rule in &self.rules {
                    let key = (rule.id.clone(), sensor_id.clone());
                    match &rule.condition {
                        Condition::Silent { .. } => {
                            if let Some(st) = self.state.get_mut(&key)
                                && st.raised
                            {
                                st.raised = false;
                                out.push(resolve(rule, sensor_id, *ts_ms));
                            }
                        }
                        Condition::Threshold {
                            metric: m,
                            limit,
                            above,
                            hysteresis,
                            for_ms,
                        } => {
                            if m != metric {
                                continue;
                            }
                            let st = self.state.entry(key).or_default();
                            if st.last_ts.is_some_and(|t| *ts_ms < t) {
                                continue; // late reading: state follows the newest only
                            }
                            st.last_ts = Some(*ts_ms);
                            st.last_value = *value;
                            st.context = context.clone();
                            if !applies(rule, context) {
                                st.breach_since = None;
                                if st.raised {
                                    st.raised = false;
                                    out.push(resolve(rule, sensor_id, *ts_ms));
                                }
                                continue;
                            }
                            let breaching = if *above { value > limit } else { value < limit };
                            let cleared = if *above {
                                *value <= limit - hysteresis
                            } else {
                                *value >= limit + hysteresis
                            };
                            if breaching {
                                let since = *st.breach_since.get_or_insert(*ts_ms);
                                if !st.raised && *ts_ms - since >= *for_ms {
                                    st.raised = true;
                                    out.push(raise(rule, sensor_id, st, *ts_ms));
                                }
                            } else {
                                st.breach_since = None;
                                if st.raised && cleared {
                                    st.raised = false;
                                    out.push(resolve(rule, sensor_id, *ts_ms));
                                }
                            }
                        }
                    }
                }
            }
            Input::Tick { now_ms } => {
                for rule in &self.rules {
                    match &rule.condition {
                        Condition::Silent { silent_ms } => {
                            let mut sensors: Vec<_> = self.last_seen.iter().collect();
                            sensors.sort_by(|a, b| a.0.cmp(b.0));
                            for (sensor_id, (last, ctx)) in sensors {
                                if now_ms - last < *silent_ms || !applies(rule, ctx) {
                                    continue;
                                }
                                let st = self
                                    .state
                                    .entry((rule.id.clone(), sensor_id.clone()))
                                    .or_default();
                                if !st.raised {
                                    st.raised = true;
                                    st.context = ctx.clone();
                                    st.last_ts = Some(*last);
                                    let mut d = raise(rule, sensor_id, st, *now_ms);
                                    if let Decision::Raise { value, metric, .. } = &mut d {
                                        *value = None;
                                        *metric = None;
                                    }
                                    out.push(d);
                                }
                            }
                        }
                        Condition::Threshold { for_ms, .. } => {
                            let mut keys: Vec<_> = self
                                .state
                                .iter_mut()
                                .filter(|((r, _), _)| r == &rule.id)
                                .collect();
                            keys.sort_by(|a, b| a.0.cmp(b.0));
                            for ((_, sensor_id), st) in keys {
                                if let Some(since) = st.breach_since
                                    && !st.raised
                                    && now_ms - since >= *for_ms
                                {
                                    st.raised = true;
                                    out.push(raise(rule, sensor_id, st, *now_ms));
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn raise(rule: &Rule, sensor_id: &str, st: &State, at_ms: i64) -> Decision {
    let metric = match &rule.condition {
        Condition::Threshold { metric, .. } => Some(metric.clone()),
        Condition::Silent { .. } => None,
    };
    Decision::Raise {
        rule_id: rule.id.clone(),
        kind: rule.kind.clone(),
        severity: rule.severity.clone(),
        sensor_id: sensor_id.to_owned(),
        metric,
        value: Some(st.last_value),
        farm_id: st.context.farm_id.clone(),
        farmer_id: st.context.farmer_id.clone(),
        message: rule.message.clone(),
        at_ms,
    }
}

fn resolve(rule: &Rule, sensor_id: &str, at_ms: i64) -> Decision {
    Decision::Resolve {
        rule_id: rule.id.clone(),
        sensor_id: sensor_id.to_owned(),
        at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleSpec;
    use crate::ingest::catalog::MetricCatalog;

    const MIN: i64 = 60_000;

    /// A fake clock: minutes since an arbitrary start.
    fn at(minutes: i64) -> i64 {
        1_780_000_000_000 + minutes * MIN
    }

    fn spec(toml_text: &str) -> Rule {
        let s: RuleSpec = toml::from_str(toml_text).unwrap();
        s.validate(&MetricCatalog::builtin()).unwrap()
    }

    fn irrigate() -> Rule {
        spec(
            r#"id = "irrigate"
kind = "threshold"
metric = "soil_moisture_vwc"
below = 18.0
hysteresis = 2.0
for_minutes = 120
crop = "Wheat"
message = "irrigate""#,
        )
    }

    fn wheat() -> SensorContext {
        SensorContext {
            farm_id: Some("farm-1".into()),
            farmer_id: Some("farmer-1".into()),
            crop: Some(("wheat".into(), 40)),
        }
    }

    fn reading(e: &mut Engine, minute: i64, value: f64, ctx: SensorContext) -> Vec<String> {
        summarize(e.step(&Input::Reading {
            sensor_id: "p1".into(),
            metric: "soil_moisture_vwc".into(),
            ts_ms: at(minute),
            value,
            context: ctx,
        }))
    }

    fn tick(e: &mut Engine, minute: i64) -> Vec<String> {
        summarize(e.step(&Input::Tick { now_ms: at(minute) }))
    }

    fn summarize(ds: Vec<Decision>) -> Vec<String> {
        ds.into_iter()
            .map(|d| match d {
                Decision::Raise {
                    rule_id,
                    sensor_id,
                    farmer_id,
                    at_ms,
                    ..
                } => format!(
                    "raise {rule_id} {sensor_id} for {} at {}",
                    farmer_id.unwrap_or_default(),
                    (at_ms - at(0)) / MIN
                ),
                Decision::Resolve {
                    rule_id,
                    sensor_id,
                    at_ms,
                } => format!("resolve {rule_id} {sensor_id} at {}", (at_ms - at(0)) / MIN),
            })
            .collect()
    }

    #[test]
    fn duration_must_elapse_before_raising() {
        let mut e = Engine::new(vec![irrigate()]);
        assert!(reading(&mut e, 0, 15.0, wheat()).is_empty());
        assert!(reading(&mut e, 60, 15.0, wheat()).is_empty());
        assert!(reading(&mut e, 119, 14.0, wheat()).is_empty());
        assert_eq!(
            reading(&mut e, 120, 14.0, wheat()),
            vec!["raise irrigate p1 for farmer-1 at 120"]
        );
    }

    #[test]
    fn a_short_recovery_restarts_the_duration() {
        let mut e = Engine::new(vec![irrigate()]);
        reading(&mut e, 0, 15.0, wheat());
        reading(&mut e, 100, 19.0, wheat()); // back above the threshold
        assert!(reading(&mut e, 130, 15.0, wheat()).is_empty());
        assert!(reading(&mut e, 200, 15.0, wheat()).is_empty());
        assert_eq!(reading(&mut e, 250, 15.0, wheat()).len(), 1);
    }

    #[test]
    fn ticks_raise_without_new_readings() {
        let mut e = Engine::new(vec![irrigate()]);
        reading(&mut e, 0, 15.0, wheat());
        assert!(tick(&mut e, 119).is_empty());
        assert_eq!(
            tick(&mut e, 121),
            vec!["raise irrigate p1 for farmer-1 at 121"]
        );
        assert!(
            tick(&mut e, 200).is_empty(),
            "deduplicated while the condition holds"
        );
    }

    #[test]
    fn dedup_and_hysteresis_then_resolution() {
        let mut e = Engine::new(vec![irrigate()]);
        reading(&mut e, 0, 15.0, wheat());
        assert_eq!(reading(&mut e, 120, 15.0, wheat()).len(), 1);
        assert!(reading(&mut e, 130, 14.0, wheat()).is_empty(), "dedup");
        assert!(
            reading(&mut e, 140, 18.5, wheat()).is_empty(),
            "inside the band"
        );
        assert!(
            reading(&mut e, 150, 17.0, wheat()).is_empty(),
            "still the same episode"
        );
        assert_eq!(
            reading(&mut e, 160, 20.0, wheat()),
            vec!["resolve irrigate p1 at 160"]
        );
        assert!(reading(&mut e, 170, 25.0, wheat()).is_empty());
        // a new episode needs the full duration again
        reading(&mut e, 180, 10.0, wheat());
        assert!(reading(&mut e, 299, 10.0, wheat()).is_empty());
        assert_eq!(reading(&mut e, 300, 10.0, wheat()).len(), 1);
    }

    #[test]
    fn crop_and_growth_stage_filter() {
        let mut e = Engine::new(vec![irrigate()]);
        let rice = SensorContext {
            crop: Some(("rice".into(), 40)),
            ..wheat()
        };
        reading(&mut e, 0, 10.0, rice.clone());
        assert!(
            reading(&mut e, 300, 10.0, rice).is_empty(),
            "not a wheat farm"
        );
        assert!(reading(&mut e, 400, 10.0, SensorContext::default()).is_empty());

        let mut staged = irrigate();
        staged.days_after_sowing = (Some(20), Some(60));
        let mut e = Engine::new(vec![staged]);
        let young = SensorContext {
            crop: Some(("wheat".into(), 5)),
            ..wheat()
        };
        reading(&mut e, 0, 10.0, young.clone());
        assert!(
            reading(&mut e, 300, 10.0, young).is_empty(),
            "too early in the season"
        );
        reading(&mut e, 310, 10.0, wheat());
        assert_eq!(reading(&mut e, 430, 10.0, wheat()).len(), 1);
    }

    #[test]
    fn silent_sensor_raises_once_and_resolves_on_data() {
        let rule = spec(
            r#"id = "silent"
kind = "silent"
silent_minutes = 60
message = "silent""#,
        );
        let mut e = Engine::new(vec![rule]);
        reading(&mut e, 0, 30.0, wheat());
        assert!(tick(&mut e, 59).is_empty());
        assert_eq!(tick(&mut e, 60), vec!["raise silent p1 for farmer-1 at 60"]);
        assert!(tick(&mut e, 90).is_empty(), "dedup");
        assert_eq!(
            reading(&mut e, 95, 30.0, wheat()),
            vec!["resolve silent p1 at 95"]
        );
    }

    #[test]
    fn battery_low_and_restart_seeding() {
        let rule = spec(
            r#"id = "battery"
kind = "battery_low"
below = 3.4
hysteresis = 0.2
message = "battery""#,
        );
        let mut e = Engine::new(vec![rule]);
        let battery = |e: &mut Engine, minute: i64, v: f64| {
            summarize(e.step(&Input::Reading {
                sensor_id: "p1".into(),
                metric: "battery_v".into(),
                ts_ms: at(minute),
                value: v,
                context: SensorContext::default(),
            }))
        };
        assert_eq!(battery(&mut e, 0, 3.3).len(), 1);
        // after a restart the open alert is seeded from the store and still resolves
        let mut e2 = Engine::new(e.rules().to_vec());
        e2.mark_raised("battery", "p1");
        assert!(battery(&mut e2, 10, 3.3).is_empty(), "no second alert");
        assert!(battery(&mut e2, 20, 3.5).is_empty(), "inside the band");
        assert_eq!(battery(&mut e2, 30, 3.7), vec!["resolve battery p1 at 30"]);
    }

    #[test]
    fn invalid_rules_are_rejected() {
        let c = MetricCatalog::builtin();
        let bad = |t: &str| toml::from_str::<RuleSpec>(t).map(|s| s.validate(&c));
        assert!(matches!(
            bad("id = \"a\"\nkind = \"threshold\"\nmetric = \"x\"\nbelow = 1.0\nmessage = \"m\""),
            Ok(Err(_))
        ));
        assert!(matches!(
            bad("id = \"a\"\nkind = \"threshold\"\nmetric = \"battery_v\"\nmessage = \"m\""),
            Ok(Err(_))
        ));
        assert!(matches!(
            bad("id = \"a\"\nkind = \"silent\"\nmessage = \"m\""),
            Ok(Err(_))
        ));
        assert!(bad("id = \"a\"\nkind = \"silent\"\nmessage = \"m\"\nbogus = 1").is_err());
    }
}
