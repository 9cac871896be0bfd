//! Local alerts: the shell task around the pure `farmco_village::alerts` (rules and engine) that feeds the
//! engine committed readings and clock ticks, looks up each sensor's farm, farmer and current
//! crop, stores the decisions, and hands every newly raised alert to the optional notification
//! hook ([`RaisedAlert`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::store::Store;
use crate::store::readings::NewReading;
use farmco_village::alerts::engine::{self, Engine, Input, SensorContext};
use farmco_village::alerts::rules::Rule;

/// Committed reading batches queued for the alert task (each up to one writer batch); when
/// full, the ingest writer waits, so alerts never fall silently behind.
pub const READINGS_QUEUE_BATCHES: usize = 16;
/// How often the engine gets a clock tick (silent sensors, durations without new readings).
pub const TICK_INTERVAL: Duration = Duration::from_secs(60);
/// Sensor contexts cached between ticks; the cache is cleared on every tick so farm links and
/// crop seasons are at most one tick stale.
const CONTEXT_CACHE_MAX: usize = 10_000;

/// A newly raised alert, for the notification router (voice/SMS) to reach the farmer.
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedAlert {
    pub alert_id: i64,
    pub farmer_id: Option<String>,
    pub farm_id: Option<String>,
    pub sensor_id: String,
    pub rule_id: String,
    pub kind: String,
    pub severity: String,
    pub value: Option<f64>,
    pub raised_ms: i64,
}

/// The running engine's rules, shared with the API (which adds rules).
pub type SharedRules = Arc<RwLock<Vec<Rule>>>;

/// Look up a sensor's farm, farmer and current crop season at `now_ms`.
pub fn sensor_context(store: &Store, sensor_id: &str, now_ms: i64) -> SensorContext {
    let farm_id = store
        .read(|c| crate::store::ingest::sensor(c, sensor_id))
        .ok()
        .flatten()
        .and_then(|s| s.farm_id);
    let Some(farm_id) = farm_id else {
        return SensorContext::default();
    };
    let farm = farm_id
        .parse::<uuid::Uuid>()
        .ok()
        .and_then(|u| store.farm(farmco_sync::FarmId(u)).ok().flatten());
    let Some(farm) = farm else {
        return SensorContext {
            farm_id: Some(farm_id),
            ..SensorContext::default()
        };
    };
    let today = time::OffsetDateTime::from_unix_timestamp(now_ms / 1000)
        .map(|t| t.date())
        .ok();
    let crop = today.and_then(|today| {
        farm.farm
            .crops
            .iter()
            .filter(|c| c.sowing_date <= today)
            .max_by_key(|c| c.sowing_date)
            .map(|c| {
                (
                    c.crop.trim().to_lowercase(),
                    i64::from((today - c.sowing_date).whole_days() as i32),
                )
            })
    });
    SensorContext {
        farm_id: Some(farm_id),
        farmer_id: Some(farm.farm.farmer_id.0.to_string()),
        crop,
    }
}

/// The alert shell task.
#[derive(Debug)]
pub struct AlertTask {
    pub store: Arc<Store>,
    pub rules: SharedRules,
    pub hook: Option<mpsc::Sender<RaisedAlert>>,
    pub metrics: crate::metrics::IngestMetrics,
}

impl AlertTask {
    fn apply(&self, decisions: Vec<engine::Decision>) {
        if decisions.is_empty() {
            return;
        }
        let stored = self.store.write(|tx| {
            let mut raised = Vec::new();
            for d in &decisions {
                if let Some(row) = crate::store::alerts::apply(tx, d)? {
                    raised.push(row);
                }
            }
            Ok(raised)
        });
        match stored {
            Ok(raised) => {
                for row in raised {
                    self.metrics.alerts_raised.inc();
                    tracing::info!(alert = row.id, rule = %row.rule_id, sensor = %row.sensor_id, "alert raised");
                    if let Some(hook) = &self.hook {
                        let alert = RaisedAlert {
                            alert_id: row.id,
                            farmer_id: row.farmer_id,
                            farm_id: row.farm_id,
                            sensor_id: row.sensor_id,
                            rule_id: row.rule_id,
                            kind: row.kind,
                            severity: row.severity,
                            value: row.value,
                            raised_ms: row.raised_ms,
                        };
                        if hook.try_send(alert).is_err() {
                            // The alert is stored; the router can find it in the alerts table.
                            tracing::warn!(
                                "notification hook full or closed; alert kept in the store only"
                            );
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "storing alert decisions failed"),
        }
    }

    /// Run until the readings queue closes or shutdown.
    pub async fn run(
        self,
        mut readings: mpsc::Receiver<Vec<NewReading>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let this = Arc::new(self);
        let start = crate::store::now_ms();
        let mut engine = Engine::new(this.rules.read().map(|r| r.clone()).unwrap_or_default());
        let seeded = {
            let t = this.clone();
            tokio::task::spawn_blocking(move || {
                let open = t
                    .store
                    .read(crate::store::alerts::open_keys)
                    .unwrap_or_default();
                let sensors = t
                    .store
                    .read(|c| {
                        crate::store::ingest::list_sensors(c, "", engine::TRACKED_SENSORS_MAX)
                    })
                    .unwrap_or_default();
                let contexts: Vec<_> = sensors
                    .iter()
                    .map(|s| (s.id.clone(), sensor_context(&t.store, &s.id, start)))
                    .collect();
                (open, contexts)
            })
            .await
        };
        if let Ok((open, contexts)) = seeded {
            for (rule, sensor) in open {
                engine.mark_raised(&rule, &sensor);
            }
            for (sensor, ctx) in contexts {
                engine.track_sensor(&sensor, start, ctx);
            }
        }
        let mut contexts: HashMap<String, SensorContext> = HashMap::new();
        let mut ticker = tokio::time::interval(TICK_INTERVAL);
        loop {
            let input_batch: Vec<Input> = tokio::select! {
                _ = shutdown.changed() => break,
                _ = ticker.tick() => {
                    contexts.clear();
                    if let Ok(rules) = this.rules.read()
                        && rules.as_slice() != engine.rules()
                    {
                        engine.set_rules(rules.clone());
                    }
                    vec![Input::Tick { now_ms: crate::store::now_ms() }]
                }
                batch = readings.recv() => {
                    let Some(batch) = batch else { break };
                    let now = crate::store::now_ms();
                    let missing: Vec<String> = batch
                        .iter()
                        .map(|r| r.sensor_id.clone())
                        .filter(|s| !contexts.contains_key(s))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    if !missing.is_empty() {
                        let t = this.clone();
                        if let Ok(found) = tokio::task::spawn_blocking(move || {
                            missing
                                .into_iter()
                                .map(|s| {
                                    let ctx = sensor_context(&t.store, &s, now);
                                    (s, ctx)
                                })
                                .collect::<Vec<_>>()
                        })
                        .await
                        {
                            if contexts.len() + found.len() > CONTEXT_CACHE_MAX {
                                contexts.clear();
                            }
                            contexts.extend(found);
                        }
                    }
                    batch
                        .into_iter()
                        .map(|r| Input::Reading {
                            context: contexts.get(&r.sensor_id).cloned().unwrap_or_default(),
                            sensor_id: r.sensor_id,
                            metric: r.metric,
                            ts_ms: r.ts_ms,
                            value: r.value,
                        })
                        .collect()
                }
            };
            let decisions: Vec<_> = input_batch.iter().flat_map(|i| engine.step(i)).collect();
            if !decisions.is_empty() {
                let t = this.clone();
                let _ = tokio::task::spawn_blocking(move || t.apply(decisions)).await;
            }
        }
        tracing::info!("alert task stopped");
    }
}
