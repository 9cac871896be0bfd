//! The fleet as the ops console sees it: each node's last health (from the heartbeat of every
//! sync request), a thinned heartbeat history for charts, what edges report about their
//! villages (alerts of local rules, notification delivery per channel, how far advisories
//! reached, sensors), and the cloud's own fleet alerts with the amber/red verdict behind them.
//!
//! - [`record_health_in`] runs inside the sync round's transaction, after the acks: the round
//!   and what it reported commit together. Village-scoped rows are kept only for villages the
//!   node serves (a node cannot write about another node's village), and sensors only when no
//!   other node owns the id.
//! - [`evaluate`] is pure: a node's row, the thresholds and the time in, a verdict out (tested
//!   without a database). The fleet API and [`Store::check_fleet`] (the watch task, which
//!   raises and resolves `fleet_alerts`) both use it, so a red row and its alert always agree.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

use farmco_sync::protocol::wire::{EdgeHealth, Heartbeat};

use super::readings::ts_from_ms;
use super::{Store, StoreResult};
use crate::config::FleetConfig;

/// Longest text kept from an edge-reported field (kinds, messages, ids).
pub const REPORTED_TEXT_CHARS_MAX: usize = 200;
/// Most history points returned for one node's charts (a month of 5-minute points is 8,640).
pub const HISTORY_POINTS_MAX: usize = 10_000;

/// Registrations that count as "on the network".
const REGISTERED: [&str; 2] = ["home", "roaming"];

fn cut(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(REPORTED_TEXT_CHARS_MAX)
        .collect()
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The heartbeat as stored in `nodes.heartbeat`: the scalar values only (the lists go to their
/// own tables), so it stays far below `nodes::HEARTBEAT_BYTES_MAX`.
pub fn heartbeat_json(hb: &Heartbeat) -> serde_json::Value {
    let mut v = json!({
        "software_version": hb.software_version,
        "change_log_backlog": hb.change_backlog,
        "readings_backlog": hb.readings_backlog,
        "disk_free_bytes": hb.disk_free_bytes,
        "last_sync_ms": hb.last_sync_ms,
        "clock_ms": hb.clock_ms,
        "extra": hb.extra.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    });
    if let (Some(h), Some(map)) = (&hb.health, v.as_object_mut()) {
        map.insert("health".into(), health_scalars(h));
    }
    v
}

fn health_scalars(h: &EdgeHealth) -> serde_json::Value {
    json!({
        "disk_total_bytes": h.disk_total_bytes,
        "modem": h.modem.as_ref().map(|m| json!({
            "state": cut(&m.state),
            "registration": cut(&m.registration),
            "signal_rssi": m.signal_rssi,
            "signal_dbm": m.signal_dbm,
            "operator": m.operator.as_deref().map(cut),
        })),
        "sms": {
            "sent_today": h.sms.sent_today,
            "daily_cap": h.sms.daily_cap,
            "outbox_backlog": h.sms.outbox_backlog,
            "failed_today": h.sms.failed_today,
        },
        "open_alerts": h.open_alerts,
    })
}

/// Record a sync request's heartbeat: the node's typed health, a history point (at most one
/// per `history_interval`, `fleet.heartbeat_history_interval_seconds`), and the reported alerts, delivery counts, advisory
/// reach and sensors. Runs in the round's transaction.
pub async fn record_health_in(
    tx: &Transaction<'_>,
    node_id: &str,
    villages: &[String],
    hb: &Heartbeat,
    history_interval: Duration,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let now_ms = super::audit::unix_ms(now);
    let clock_offset_ms = hb.clock_ms.saturating_sub(now_ms);
    let backlog = clamp_i64(hb.change_backlog.saturating_add(hb.readings_backlog));
    let history_due =
        now - time::Duration::try_from(history_interval).unwrap_or(time::Duration::ZERO);
    // The last history point decides whether this one is due and whether the backlog grew.
    let last: Option<(OffsetDateTime, i64)> = tx
        .query_opt(
            "SELECT received_at, COALESCE((health->>'backlog')::bigint, 0) FROM node_heartbeats
             WHERE node_id = $1 ORDER BY received_at DESC LIMIT 1",
            &[&node_id],
        )
        .await?
        .map(|r| (r.get(0), r.get(1)));
    let point_due = last.is_none_or(|(at, _)| at <= history_due);
    let h = hb.health.as_ref();
    let modem = h.and_then(|h| h.modem.as_ref());
    let streak_update = if point_due {
        match last {
            Some((_, previous)) if backlog > previous && backlog > 0 => {
                "node_health.backlog_streak + 1"
            }
            Some(_) => "0",
            None => "0",
        }
    } else {
        "node_health.backlog_streak"
    };
    tx.execute(
        &format!(
            "INSERT INTO node_health (node_id, received_at, clock_offset_ms, change_backlog,
                 readings_backlog, disk_free_bytes, disk_total_bytes, modem_state,
                 modem_registration, modem_signal_dbm, modem_signal_rssi, modem_operator,
                 sms_sent_today, sms_daily_cap, sms_outbox_backlog, sms_failed_today, open_alerts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (node_id) DO UPDATE SET received_at = EXCLUDED.received_at,
                 clock_offset_ms = EXCLUDED.clock_offset_ms,
                 change_backlog = EXCLUDED.change_backlog,
                 readings_backlog = EXCLUDED.readings_backlog,
                 backlog_streak = {streak_update},
                 disk_free_bytes = EXCLUDED.disk_free_bytes,
                 disk_total_bytes = EXCLUDED.disk_total_bytes,
                 modem_state = EXCLUDED.modem_state,
                 modem_registration = EXCLUDED.modem_registration,
                 modem_signal_dbm = EXCLUDED.modem_signal_dbm,
                 modem_signal_rssi = EXCLUDED.modem_signal_rssi,
                 modem_operator = EXCLUDED.modem_operator,
                 sms_sent_today = EXCLUDED.sms_sent_today,
                 sms_daily_cap = EXCLUDED.sms_daily_cap,
                 sms_outbox_backlog = EXCLUDED.sms_outbox_backlog,
                 sms_failed_today = EXCLUDED.sms_failed_today,
                 open_alerts = EXCLUDED.open_alerts"
        ),
        &[
            &node_id,
            &now,
            &clock_offset_ms,
            &clamp_i64(hb.change_backlog),
            &clamp_i64(hb.readings_backlog),
            &clamp_i64(hb.disk_free_bytes),
            &h.map(|h| clamp_i64(h.disk_total_bytes)),
            &modem.map(|m| cut(&m.state)),
            &modem.map(|m| cut(&m.registration)),
            &modem.and_then(|m| m.signal_dbm).map(i32::from),
            &modem.and_then(|m| m.signal_rssi).map(i32::from),
            &modem.and_then(|m| m.operator.as_deref()).map(cut),
            &h.map(|h| clamp_i32(h.sms.sent_today)),
            &h.map(|h| clamp_i32(h.sms.daily_cap)),
            &h.map(|h| clamp_i32(h.sms.outbox_backlog)),
            &h.map(|h| clamp_i32(h.sms.failed_today)),
            &h.map(|h| clamp_i32(h.open_alerts)),
        ],
    )
    .await?;
    // The version the node runs now (enrolment recorded the one it had then).
    let version = cut(&hb.software_version)
        .chars()
        .take(super::nodes::SOFTWARE_VERSION_CHARS_MAX)
        .collect::<String>();
    if !version.is_empty() {
        tx.execute(
            "UPDATE nodes SET software_version = $2
             WHERE node_id = $1 AND software_version <> $2",
            &[&node_id, &version],
        )
        .await?;
    }
    if point_due {
        let mut point = heartbeat_json(hb);
        if let Some(map) = point.as_object_mut() {
            map.insert("backlog".into(), json!(backlog));
            map.insert("clock_offset_ms".into(), json!(clock_offset_ms));
        }
        tx.execute(
            "INSERT INTO node_heartbeats (node_id, received_at, health) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&node_id, &now, &point],
        )
        .await?;
    }
    if let Some(h) = h {
        record_reports_in(tx, node_id, villages, h, now).await?;
    }
    Ok(())
}

fn village_ok(villages: &[String], code: &str) -> bool {
    villages.iter().any(|v| v == code)
}

async fn record_reports_in(
    tx: &Transaction<'_>,
    node_id: &str,
    villages: &[String],
    h: &EdgeHealth,
    now: OffsetDateTime,
) -> StoreResult<()> {
    use farmco_sync::protocol::wire::{
        HEALTH_ADVISORIES_MAX, HEALTH_ALERTS_MAX, HEALTH_DELIVERY_ROWS_MAX, HEALTH_SENSORS_MAX,
    };
    for a in h.alerts.iter().take(HEALTH_ALERTS_MAX) {
        let village = a
            .village_code
            .as_deref()
            .filter(|v| village_ok(villages, v));
        let Some(raised_at) = ts_from_ms(a.raised_ms) else {
            continue;
        };
        let resolved_at = a.resolved_ms.and_then(ts_from_ms);
        tx.execute(
            "INSERT INTO edge_alerts (node_id, edge_alert_id, village_code, farm_id, sensor_id,
                 rule_id, kind, severity, message, value, raised_at, resolved_at, notifications,
                 delivered, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (node_id, edge_alert_id) DO UPDATE SET
                 village_code = EXCLUDED.village_code, farm_id = EXCLUDED.farm_id,
                 severity = EXCLUDED.severity, message = EXCLUDED.message,
                 value = EXCLUDED.value, resolved_at = EXCLUDED.resolved_at,
                 notifications = EXCLUDED.notifications, delivered = EXCLUDED.delivered,
                 updated_at = EXCLUDED.updated_at",
            &[
                &node_id,
                &a.alert_id,
                &village,
                &a.farm_id.map(Uuid::from_bytes),
                &cut(&a.sensor_id),
                &cut(&a.rule_id),
                &cut(&a.kind),
                &cut(&a.severity),
                &cut(&a.message),
                &a.value.filter(|v| v.is_finite()),
                &raised_at,
                &resolved_at,
                &clamp_i32(a.notifications),
                &clamp_i32(a.delivered),
                &now,
            ],
        )
        .await?;
    }
    for d in h.delivery.iter().take(HEALTH_DELIVERY_ROWS_MAX) {
        if !village_ok(villages, &d.village_code) {
            continue;
        }
        let Ok(day) = time::Date::parse(
            &d.day,
            time::macros::format_description!("[year]-[month]-[day]"),
        ) else {
            continue;
        };
        if d.channel != "sms" && d.channel != "voice" {
            continue;
        }
        tx.execute(
            "INSERT INTO delivery_stats (village_code, day, channel, node_id, attempts, delivered,
                 failed, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (village_code, day, channel, node_id) DO UPDATE SET
                 attempts = EXCLUDED.attempts, delivered = EXCLUDED.delivered,
                 failed = EXCLUDED.failed, updated_at = EXCLUDED.updated_at",
            &[
                &d.village_code,
                &day,
                &d.channel,
                &node_id,
                &clamp_i32(d.attempts),
                &clamp_i32(d.delivered),
                &clamp_i32(d.failed),
                &now,
            ],
        )
        .await?;
    }
    for a in h.advisories.iter().take(HEALTH_ADVISORIES_MAX) {
        if !village_ok(villages, &a.village_code) {
            continue;
        }
        let Some(received_at) = ts_from_ms(a.received_ms) else {
            continue;
        };
        // Only advisories that exist and were addressed to that village.
        tx.execute(
            "INSERT INTO advisory_delivery (advisory_id, village_code, node_id, received_at,
                 notifications, delivered, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7 FROM advisories
             WHERE id = $1 AND village_codes @> ARRAY[$2::text]
             ON CONFLICT (advisory_id, village_code) DO UPDATE SET
                 node_id = EXCLUDED.node_id, received_at = EXCLUDED.received_at,
                 notifications = EXCLUDED.notifications, delivered = EXCLUDED.delivered,
                 updated_at = EXCLUDED.updated_at",
            &[
                &Uuid::from_bytes(a.advisory_id),
                &a.village_code,
                &node_id,
                &received_at,
                &clamp_i32(a.notifications),
                &clamp_i32(a.delivered),
                &now,
            ],
        )
        .await?;
    }
    for s in h.sensors.iter().take(HEALTH_SENSORS_MAX) {
        let id = cut(&s.sensor_id);
        if id.is_empty() {
            continue;
        }
        let village = s
            .village_code
            .as_deref()
            .filter(|v| village_ok(villages, v));
        let Some(updated_at) = ts_from_ms(s.updated_ms) else {
            continue;
        };
        tx.execute(
            "INSERT INTO sensors (sensor_id, node_id, kind, farm_id, village_code, lat, lon,
                 updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (sensor_id) DO UPDATE SET kind = EXCLUDED.kind,
                 farm_id = EXCLUDED.farm_id, village_code = EXCLUDED.village_code,
                 lat = EXCLUDED.lat, lon = EXCLUDED.lon, updated_at = EXCLUDED.updated_at
             WHERE sensors.node_id = EXCLUDED.node_id",
            &[
                &id,
                &node_id,
                &cut(&s.kind),
                &s.farm_id.map(Uuid::from_bytes),
                &village,
                &s.lat
                    .filter(|v| v.is_finite() && (-90.0..=90.0).contains(v)),
                &s.lon
                    .filter(|v| v.is_finite() && (-180.0..=180.0).contains(v)),
                &updated_at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// A node as the fleet table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    pub node_id: String,
    pub name: String,
    pub villages: Vec<String>,
    pub software_version: String,
    pub enrolled_at: OffsetDateTime,
    pub last_seen_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub change_backlog: Option<i64>,
    pub readings_backlog: Option<i64>,
    pub backlog_streak: i32,
    pub disk_free_bytes: Option<i64>,
    pub disk_total_bytes: Option<i64>,
    pub clock_offset_ms: Option<i64>,
    pub modem_state: Option<String>,
    pub modem_registration: Option<String>,
    pub modem_signal_dbm: Option<i32>,
    pub modem_signal_rssi: Option<i32>,
    pub modem_operator: Option<String>,
    pub sms_sent_today: Option<i32>,
    pub sms_daily_cap: Option<i32>,
    pub sms_outbox_backlog: Option<i32>,
    pub sms_failed_today: Option<i32>,
    /// Open alerts of the node's local rules (as it last reported).
    pub open_alerts: Option<i32>,
    /// Open fleet alerts the cloud raised about it.
    pub open_fleet_alerts: i64,
    /// The last heartbeat as stored (older edges report only this).
    pub heartbeat: Option<serde_json::Value>,
    pub up_acked: i64,
    pub readings_acked: i64,
}

const FLEET_COLUMNS: &str = "n.node_id, n.name, n.villages, n.software_version, n.enrolled_at,
    n.last_seen_at, n.revoked_at, h.change_backlog, h.readings_backlog,
    COALESCE(h.backlog_streak, 0), h.disk_free_bytes, h.disk_total_bytes, h.clock_offset_ms,
    h.modem_state, h.modem_registration, h.modem_signal_dbm, h.modem_signal_rssi,
    h.modem_operator, h.sms_sent_today, h.sms_daily_cap, h.sms_outbox_backlog,
    h.sms_failed_today, h.open_alerts,
    (SELECT count(*) FROM fleet_alerts f WHERE f.node_id = n.node_id AND f.resolved_at IS NULL),
    n.heartbeat, n.up_acked, n.readings_acked";

fn fleet_row(r: &Row) -> FleetRow {
    FleetRow {
        node_id: r.get(0),
        name: r.get(1),
        villages: r.get(2),
        software_version: r.get(3),
        enrolled_at: r.get(4),
        last_seen_at: r.get(5),
        revoked_at: r.get(6),
        change_backlog: r.get(7),
        readings_backlog: r.get(8),
        backlog_streak: r.get(9),
        disk_free_bytes: r.get(10),
        disk_total_bytes: r.get(11),
        clock_offset_ms: r.get(12),
        modem_state: r.get(13),
        modem_registration: r.get(14),
        modem_signal_dbm: r.get(15),
        modem_signal_rssi: r.get(16),
        modem_operator: r.get(17),
        sms_sent_today: r.get(18),
        sms_daily_cap: r.get(19),
        sms_outbox_backlog: r.get(20),
        sms_failed_today: r.get(21),
        open_alerts: r.get(22),
        open_fleet_alerts: r.get(23),
        heartbeat: r.get(24),
        up_acked: r.get(25),
        readings_acked: r.get(26),
    }
}

/// A row's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Amber,
    Red,
    /// Revoked nodes are shown greyed out and raise nothing.
    Revoked,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Amber => "amber",
            Level::Red => "red",
            Level::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "ok" => Some(Level::Ok),
            "amber" => Some(Level::Amber),
            "red" => Some(Level::Red),
            "revoked" => Some(Level::Revoked),
            _ => None,
        }
    }
}

/// One reason a node is not fine; each is also an open fleet alert of `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `silent`, `disk_low`, `modem_unregistered`, `backlog_growing`, `clock_offset`,
    /// `sms_cap`.
    pub kind: &'static str,
    pub level: Level,
    pub message: String,
}

/// The verdict about one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub level: Level,
    pub reasons: Vec<Reason>,
}

/// "3 h 20 min", "45 s": a duration for people.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} days", s / 86_400),
    }
}

/// Judge a node against the thresholds at `now`. Pure.
pub fn evaluate(row: &FleetRow, config: &FleetConfig, now: OffsetDateTime) -> Verdict {
    if row.revoked_at.is_some() {
        return Verdict {
            level: Level::Revoked,
            reasons: Vec::new(),
        };
    }
    let mut reasons = Vec::new();
    let heard = row.last_seen_at.unwrap_or(row.enrolled_at);
    let silent = Duration::try_from(now - heard).unwrap_or(Duration::ZERO);
    let silent_level = if silent > config.silent_red {
        Some(Level::Red)
    } else if silent > config.silent_amber {
        Some(Level::Amber)
    } else {
        None
    };
    if let Some(level) = silent_level {
        let message = match row.last_seen_at {
            Some(_) => format!("silent for {}", human_duration(silent)),
            None => format!(
                "never synced since enrolment {} ago",
                human_duration(silent)
            ),
        };
        reasons.push(Reason {
            kind: "silent",
            level,
            message,
        });
    }
    if let (Some(free), Some(total)) = (row.disk_free_bytes, row.disk_total_bytes)
        && total > 0
    {
        let percent = free as f64 * 100.0 / total as f64;
        let level = if percent < config.disk_free_red_percent {
            Some(Level::Red)
        } else if percent < config.disk_free_amber_percent {
            Some(Level::Amber)
        } else {
            None
        };
        if let Some(level) = level {
            reasons.push(Reason {
                kind: "disk_low",
                level,
                message: format!("disk {percent:.0} % free"),
            });
        }
    }
    if let Some(registration) = &row.modem_registration
        && !REGISTERED.contains(&registration.as_str())
    {
        reasons.push(Reason {
            kind: "modem_unregistered",
            level: Level::Red,
            message: format!("modem not registered ({registration})"),
        });
    }
    if row.backlog_streak >= i32::try_from(config.backlog_growing_amber_points).unwrap_or(i32::MAX)
    {
        reasons.push(Reason {
            kind: "backlog_growing",
            level: Level::Amber,
            message: format!(
                "uplink backlog grew {} times in a row ({} waiting)",
                row.backlog_streak,
                row.change_backlog.unwrap_or(0) + row.readings_backlog.unwrap_or(0)
            ),
        });
    }
    if let Some(offset) = row.clock_offset_ms
        && offset.unsigned_abs()
            > u64::try_from(config.clock_offset_amber.as_millis()).unwrap_or(u64::MAX)
    {
        reasons.push(Reason {
            kind: "clock_offset",
            level: Level::Amber,
            message: format!(
                "clock {} {}",
                human_duration(Duration::from_millis(offset.unsigned_abs())),
                if offset > 0 { "ahead" } else { "behind" }
            ),
        });
    }
    if let (Some(sent), Some(cap)) = (row.sms_sent_today, row.sms_daily_cap)
        && cap > 0
        && sent >= cap
    {
        reasons.push(Reason {
            kind: "sms_cap",
            level: Level::Amber,
            message: format!("SMS daily cap reached ({sent}/{cap})"),
        });
    }
    let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Ok);
    Verdict { level, reasons }
}

/// A point of a node's heartbeat history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub at: OffsetDateTime,
    pub health: serde_json::Value,
}

/// What one run of the fleet watch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchReport {
    pub raised: usize,
    pub resolved: usize,
    pub history_deleted: u64,
}

impl Store {
    /// Every node with its health, optionally only those serving one of `villages`.
    pub async fn fleet(&self, villages: Option<&[String]>) -> StoreResult<Vec<FleetRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {FLEET_COLUMNS} FROM nodes n
                     LEFT JOIN node_health h ON h.node_id = n.node_id
                     WHERE $1::text[] IS NULL OR n.villages && $1
                     ORDER BY n.node_id"
                ),
                &[&villages],
            )
            .await?;
        Ok(rows.iter().map(fleet_row).collect())
    }

    /// One node's heartbeat history since `since`, oldest first.
    pub async fn heartbeat_history(
        &self,
        node_id: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<HistoryPoint>> {
        let limit = i64::try_from(HISTORY_POINTS_MAX).unwrap_or(i64::MAX);
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT received_at, health FROM (
                     SELECT received_at, health FROM node_heartbeats
                     WHERE node_id = $1 AND received_at >= $2
                     ORDER BY received_at DESC LIMIT $3) t
                 ORDER BY received_at",
                &[&node_id, &since, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| HistoryPoint {
                at: r.get(0),
                health: r.get(1),
            })
            .collect())
    }

    /// Evaluate every node: raise a fleet alert for each new reason (or raise its severity),
    /// resolve those whose reason is gone, and delete history older than the retention. One
    /// transaction, so two cloud servers watching at once raise each alert once (the open
    /// alert is unique per node and kind).
    pub async fn check_fleet(
        &self,
        config: &FleetConfig,
        now: OffsetDateTime,
    ) -> StoreResult<WatchReport> {
        let rows = self.fleet(None).await?;
        let mut report = WatchReport::default();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        super::xact_lock(&tx, super::LOCK_NAMESPACE, super::lock_keys::FLEET_WATCH).await?;
        for row in &rows {
            let verdict = evaluate(row, config, now);
            let open: Vec<(i64, String, String)> = tx
                .query(
                    "SELECT id, kind, severity FROM fleet_alerts
                     WHERE node_id = $1 AND resolved_at IS NULL",
                    &[&row.node_id],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let current: BTreeSet<&str> = verdict.reasons.iter().map(|r| r.kind).collect();
            for (id, kind, _) in &open {
                if !current.contains(kind.as_str()) {
                    tx.execute(
                        "UPDATE fleet_alerts SET resolved_at = $2 WHERE id = $1",
                        &[id, &now],
                    )
                    .await?;
                    report.resolved += 1;
                }
            }
            for reason in &verdict.reasons {
                match open.iter().find(|(_, kind, _)| kind == reason.kind) {
                    Some((id, _, severity)) => {
                        if severity != reason.level.as_str() {
                            tx.execute(
                                "UPDATE fleet_alerts SET severity = $2, message = $3 WHERE id = $1",
                                &[id, &reason.level.as_str(), &reason.message],
                            )
                            .await?;
                        }
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO fleet_alerts (node_id, kind, severity, message, raised_at)
                             VALUES ($1, $2, $3, $4, $5)",
                            &[
                                &row.node_id,
                                &reason.kind,
                                &reason.level.as_str(),
                                &reason.message,
                                &now,
                            ],
                        )
                        .await?;
                        report.raised += 1;
                    }
                }
            }
        }
        let keep_from = now - time::Duration::days(i64::from(config.heartbeat_history_days));
        report.history_deleted = tx
            .execute(
                "DELETE FROM node_heartbeats WHERE received_at < $1",
                &[&keep_from],
            )
            .await?;
        tx.commit().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FleetConfig {
        FleetConfig {
            silent_amber: Duration::from_secs(7200),
            silent_red: Duration::from_secs(21_600),
            disk_free_amber_percent: 20.0,
            disk_free_red_percent: 10.0,
            backlog_growing_amber_points: 3,
            clock_offset_amber: Duration::from_secs(300),
            check_interval: Duration::from_secs(60),
            heartbeat_history_interval: Duration::from_secs(300),
            heartbeat_history_days: 30,
        }
    }

    fn row(now: OffsetDateTime) -> FleetRow {
        FleetRow {
            node_id: "ab".repeat(32),
            name: "box".into(),
            villages: vec!["563412".into()],
            software_version: "0.1.0".into(),
            enrolled_at: now - time::Duration::days(3),
            last_seen_at: Some(now - time::Duration::minutes(5)),
            revoked_at: None,
            change_backlog: Some(0),
            readings_backlog: Some(0),
            backlog_streak: 0,
            disk_free_bytes: Some(50),
            disk_total_bytes: Some(100),
            clock_offset_ms: Some(1500),
            modem_state: Some("ready".into()),
            modem_registration: Some("home".into()),
            modem_signal_dbm: Some(-79),
            modem_signal_rssi: Some(17),
            modem_operator: Some("BSNL".into()),
            sms_sent_today: Some(3),
            sms_daily_cap: Some(100),
            sms_outbox_backlog: Some(0),
            sms_failed_today: Some(0),
            open_alerts: Some(0),
            open_fleet_alerts: 0,
            heartbeat: None,
            up_acked: 0,
            readings_acked: 0,
        }
    }

    fn kinds(v: &Verdict) -> Vec<(&'static str, Level)> {
        v.reasons.iter().map(|r| (r.kind, r.level)).collect()
    }

    #[test]
    fn a_healthy_node_is_ok() {
        let now = OffsetDateTime::now_utc();
        let v = evaluate(&row(now), &config(), now);
        assert_eq!(v.level, Level::Ok, "{v:?}");
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn silence_turns_amber_then_red() {
        let now = OffsetDateTime::now_utc();
        let mut r = row(now);
        r.last_seen_at = Some(now - time::Duration::hours(3));
        assert_eq!(
            kinds(&evaluate(&r, &config(), now)),
            [("silent", Level::Amber)]
        );
        r.last_seen_at = Some(now - time::Duration::hours(7));
        let v = evaluate(&r, &config(), now);
        assert_eq!(v.level, Level::Red);
        assert_eq!(v.reasons[0].message, "silent for 7 h 0 min");
        // Never synced: counted from the enrolment.
        r.last_seen_at = None;
        assert_eq!(evaluate(&r, &config(), now).level, Level::Red);
    }

    #[test]
    fn disk_modem_backlog_clock_and_cap() {
        let now = OffsetDateTime::now_utc();
        let mut r = row(now);
        r.disk_free_bytes = Some(15);
        r.modem_registration = Some("searching".into());
        r.backlog_streak = 3;
        r.clock_offset_ms = Some(-600_000);
        r.sms_sent_today = Some(100);
        let v = evaluate(&r, &config(), now);
        assert_eq!(
            kinds(&v),
            [
                ("disk_low", Level::Amber),
                ("modem_unregistered", Level::Red),
                ("backlog_growing", Level::Amber),
                ("clock_offset", Level::Amber),
                ("sms_cap", Level::Amber),
            ]
        );
        assert_eq!(v.level, Level::Red);
        r.disk_free_bytes = Some(5);
        assert!(kinds(&evaluate(&r, &config(), now)).contains(&("disk_low", Level::Red)));
        // An old edge reports no disk size, modem or SMS: nothing is judged on them.
        let mut old = row(now);
        old.disk_total_bytes = None;
        old.modem_registration = None;
        old.sms_daily_cap = None;
        assert_eq!(evaluate(&old, &config(), now).level, Level::Ok);
    }

    #[test]
    fn revoked_nodes_raise_nothing() {
        let now = OffsetDateTime::now_utc();
        let mut r = row(now);
        r.revoked_at = Some(now);
        r.last_seen_at = None;
        let v = evaluate(&r, &config(), now);
        assert_eq!(v.level, Level::Revoked);
        assert!(v.reasons.is_empty());
    }
}
