//! What the node tells the cloud about itself with every sync request (wire version 2,
//! `EdgeHealth`): disk size, the modem as the driver last saw it, the SMS outbox against the
//! daily cap, alerts of the local rules, notification delivery per village and channel, how
//! far cloud advisories reached, and the sensor registry. The ops console's fleet, alerts,
//! advisories and map panels are built from it.
//!
//! Read inside the transaction that builds the request, so the numbers are one consistent
//! snapshot. Every list is bounded (`HEALTH_*_MAX` of the wire module) and carries what changed
//! recently; the cloud upserts, so a lost or repeated report is harmless:
//! - alerts: every open one plus those raised or resolved in the last [`REPORT_WINDOW_DAYS`];
//! - delivery: per village, channel and local day over the last [`REPORT_WINDOW_DAYS`];
//! - advisories: those received in the last [`ADVISORY_WINDOW_DAYS`], per village;
//! - sensors: those changed since the last successful sync (less [`SENSOR_OVERLAP_MS`]), and
//!   all of them on the first request of a UTC day, so the cloud's copy heals by itself.
//!
//! No phone number or farmer name is sent: alerts carry the rule's message and ids.

use std::sync::Arc;

use farmco_sync::protocol::wire::{
    AdvisoryReport, AlertReport, DeliveryAggregate, EdgeHealth, HEALTH_ADVISORIES_MAX,
    HEALTH_ALERTS_MAX, HEALTH_DELIVERY_ROWS_MAX, HEALTH_SENSORS_MAX, ModemHealth, SensorReport,
    SmsHealth,
};
use rusqlite::{Connection, params};

/// Days of alerts and delivery counts each report covers.
pub const REPORT_WINDOW_DAYS: i64 = 7;
/// Days of received advisories each report covers.
pub const ADVISORY_WINDOW_DAYS: i64 = 30;
/// Sensors changed this long before the last sync are sent again (a change racing the end of
/// a round is not lost).
pub const SENSOR_OVERLAP_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The modem's health now, if the node has a modem (read from the running driver).
pub type ModemProbe = Arc<dyn Fn() -> Option<ModemHealth> + Send + Sync>;

/// What the report needs besides the database.
#[derive(Clone)]
pub struct HealthSource {
    /// SMS per local day (`sms.daily_cap_per_sim`).
    pub sms_daily_cap: u32,
    /// The local time zone of SMS days and delivery days.
    pub offset: time::UtcOffset,
    pub modem: Option<ModemProbe>,
}

impl std::fmt::Debug for HealthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthSource")
            .field("sms_daily_cap", &self.sms_daily_cap)
            .field("offset", &self.offset)
            .field("modem", &self.modem.is_some())
            .finish()
    }
}

/// The driver's health in wire form.
pub fn modem_health(h: &farmco_hardware::driver::Health) -> ModemHealth {
    let name = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    };
    ModemHealth {
        state: name(serde_json::to_value(h.state)),
        registration: h
            .registration
            .map(|r| name(serde_json::to_value(r)))
            .unwrap_or_else(|| "unknown".to_owned()),
        signal_rssi: h.signal_rssi,
        signal_dbm: h.signal_dbm,
        operator: h.operator.clone(),
    }
}

/// Size of the file system holding `path`, bytes (0 when unknown).
pub fn disk_total_bytes(path: &std::path::Path) -> u64 {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => s.blocks().saturating_mul(s.fragment_size()),
        Err(_) => 0,
    }
}

fn local_date(ms: i64, offset: time::UtcOffset) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(offset).date().to_string())
        .unwrap_or_default()
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn uuid16(s: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(s).ok().map(|u| *u.as_bytes())
}

/// Build the report.
pub fn collect(
    conn: &Connection,
    source: &HealthSource,
    data_dir: &std::path::Path,
    last_sync_ms: Option<i64>,
    now_ms: i64,
) -> rusqlite::Result<EdgeHealth> {
    let offset_ms = i64::from(source.offset.whole_seconds()) * 1000;
    let today = local_date(now_ms, source.offset);
    let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<u32> {
        conn.query_row(sql, p, |r| r.get::<_, i64>(0)).map(u32_of)
    };
    let sms = SmsHealth {
        sent_today: count(
            "SELECT COUNT(*) FROM sms_outbox WHERE sent_day = ?1",
            &[&today],
        )?,
        daily_cap: source.sms_daily_cap,
        outbox_backlog: count(
            "SELECT COUNT(*) FROM sms_outbox WHERE state IN ('queued', 'sending')",
            &[],
        )?,
        failed_today: count(
            "SELECT COUNT(*) FROM sms_outbox WHERE state = 'failed' AND sent_day = ?1",
            &[&today],
        )?,
    };
    let open_alerts = count("SELECT COUNT(*) FROM alerts WHERE resolved_ms IS NULL", &[])?;
    let since = now_ms - REPORT_WINDOW_DAYS * DAY_MS;

    // Alerts: open ones and recent changes, with what was sent to farmers about them.
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, fr.village_code, a.farm_id, a.sensor_id, a.rule_id, a.kind, a.severity,
                a.message, a.value, a.raised_ms, a.resolved_ms,
                (SELECT COUNT(*) FROM notifications n
                  WHERE n.dedupe_key = 'alert:' || a.rule_id || ':' || a.farm_id
                    AND n.created_ms >= a.raised_ms),
                (SELECT COUNT(DISTINCT n.id) FROM notifications n
                   JOIN notification_attempts t ON t.notification_id = n.id
                  WHERE n.dedupe_key = 'alert:' || a.rule_id || ':' || a.farm_id
                    AND n.created_ms >= a.raised_ms AND t.state IN ('delivered', 'answered'))
         FROM alerts a
         LEFT JOIN farms f ON f.id = a.farm_id
         LEFT JOIN farmers fr ON fr.id = f.farmer_id
         WHERE a.resolved_ms IS NULL OR a.raised_ms >= ?1 OR a.resolved_ms >= ?1
         ORDER BY MAX(a.raised_ms, COALESCE(a.resolved_ms, 0)) DESC LIMIT ?2",
    )?;
    let alerts = stmt
        .query_map(params![since, HEALTH_ALERTS_MAX as i64], |r| {
            Ok(AlertReport {
                alert_id: r.get(0)?,
                village_code: r.get(1)?,
                farm_id: r.get::<_, Option<String>>(2)?.as_deref().and_then(uuid16),
                sensor_id: r.get(3)?,
                rule_id: r.get(4)?,
                kind: r.get(5)?,
                severity: r.get(6)?,
                message: r.get(7)?,
                value: r.get(8)?,
                raised_ms: r.get(9)?,
                resolved_ms: r.get(10)?,
                notifications: u32_of(r.get(11)?),
                delivered: u32_of(r.get(12)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);

    // Delivery per village, channel and local day of the attempt's outcome.
    let mut stmt = conn.prepare_cached(
        "SELECT fr.village_code, date((t.updated_ms + ?2) / 1000, 'unixepoch') AS day, t.channel,
                SUM(t.state IN ('handed_off', 'delivered', 'answered', 'failed', 'unanswered')),
                SUM(t.state IN ('delivered', 'answered')),
                SUM(t.state IN ('failed', 'unanswered'))
         FROM notification_attempts t
         JOIN notifications n ON n.id = t.notification_id
         JOIN farmers fr ON fr.id = n.farmer_id
         WHERE t.updated_ms >= ?1 AND t.state NOT IN ('scheduled', 'cancelled')
         GROUP BY fr.village_code, day, t.channel
         ORDER BY day DESC, fr.village_code, t.channel LIMIT ?3",
    )?;
    let delivery = stmt
        .query_map(
            params![since, offset_ms, HEALTH_DELIVERY_ROWS_MAX as i64],
            |r| {
                Ok(DeliveryAggregate {
                    village_code: r.get(0)?,
                    day: r.get(1)?,
                    channel: r.get(2)?,
                    attempts: u32_of(r.get(3)?),
                    delivered: u32_of(r.get(4)?),
                    failed: u32_of(r.get(5)?),
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);

    // Cloud advisories received recently, per village they address.
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, v.value, a.received_ms,
                (SELECT COUNT(*) FROM notifications n JOIN farmers fr ON fr.id = n.farmer_id
                  WHERE n.dedupe_key = 'advisory:' || a.id AND fr.village_code = v.value),
                (SELECT COUNT(DISTINCT n.id) FROM notifications n
                   JOIN farmers fr ON fr.id = n.farmer_id
                   JOIN notification_attempts t ON t.notification_id = n.id
                  WHERE n.dedupe_key = 'advisory:' || a.id AND fr.village_code = v.value
                    AND t.state IN ('delivered', 'answered'))
         FROM advisories a, json_each(a.village_codes) v
         WHERE a.seq > 0 AND a.received_ms >= ?1
         ORDER BY a.received_ms DESC, a.id, v.value LIMIT ?2",
    )?;
    let advisories = stmt
        .query_map(
            params![
                now_ms - ADVISORY_WINDOW_DAYS * DAY_MS,
                HEALTH_ADVISORIES_MAX as i64
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(id, village, received_ms, n, d)| {
            Some(AdvisoryReport {
                advisory_id: uuid16(&id)?,
                village_code: village,
                received_ms,
                notifications: u32_of(n),
                delivered: u32_of(d),
            })
        })
        .collect();
    drop(stmt);

    // Sensors changed since the last sync; all of them once a (UTC) day.
    let full = last_sync_ms.is_none_or(|last| last.div_euclid(DAY_MS) != now_ms.div_euclid(DAY_MS));
    let changed_after = if full {
        i64::MIN
    } else {
        last_sync_ms.unwrap_or(0) - SENSOR_OVERLAP_MS
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, farm_id, village_code, lat, lon, updated_ms FROM sensors
         WHERE updated_ms > ?1 ORDER BY updated_ms DESC, id LIMIT ?2",
    )?;
    let sensors = stmt
        .query_map(params![changed_after, HEALTH_SENSORS_MAX as i64], |r| {
            Ok(SensorReport {
                sensor_id: r.get(0)?,
                kind: r.get(1)?,
                farm_id: r.get::<_, Option<String>>(2)?.as_deref().and_then(uuid16),
                village_code: r.get(3)?,
                lat: r.get(4)?,
                lon: r.get(5)?,
                updated_ms: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);

    Ok(EdgeHealth {
        disk_total_bytes: disk_total_bytes(data_dir),
        modem: source.modem.as_ref().and_then(|probe| probe()),
        sms,
        open_alerts,
        alerts,
        delivery,
        advisories,
        sensors,
    })
}
