//! The ops console's API (issue 13): the fleet with its amber/red verdicts and heartbeat
//! history, alerts of both sources, delivery rates per village and channel, the village
//! registry, farmers (paged, searchable without putting names in URLs), what a click on a
//! farm opens, trends over a farm's or a village's sensors, the map's set-up, enrollment
//! tokens with a QR code, revocation, and user administration.
//!
//! Roles: `ops` reads everything and publishes advisories; `admin` also manages devices,
//! users and the village registry. A user limited to some villages (admin-set) sees only
//! those: their farms, nodes, alerts, advisories and trends; anything else is 404.
//! Every list follows [`super::lists`] (cursor, total, area filters, CSV).

use std::cmp::Ordering;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::advisories::CodeInput;
use super::lists::{Csv, Format, ListQuery, check_in_scope, opt, page, villages_for};
use super::{ApiError, ApiJson, ApiQuery, CurrentUser, SharedState, parse_rfc3339, rfc3339};
use crate::store::console::{AlertFilter, AlertRow, FarmerFilter, Village, intersect};
use crate::store::farms::FarmerRow;
use crate::store::fleet::{FleetRow, Level, Verdict, evaluate};
use crate::store::users::Role;

/// Hours of heartbeat history when none is asked for (a week).
pub const HISTORY_HOURS_DEFAULT: u32 = 168;
/// Most hours of heartbeat history one request returns (the retention's maximum).
pub const HISTORY_HOURS_MAX: u32 = 366 * 24;
/// Days of delivery statistics when none is asked for.
pub const DELIVERY_DAYS_DEFAULT: u32 = 7;
/// Most days of delivery statistics.
pub const DELIVERY_DAYS_MAX: u32 = 366;
/// Longest farmer search text.
pub const SEARCH_CHARS_MAX: usize = 100;

fn json_response<T: Serialize>(v: T) -> Response {
    Json(v).into_response()
}

// ---- fleet ------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct ModemDto {
    pub state: Option<String>,
    pub registration: Option<String>,
    pub signal_dbm: Option<i32>,
    pub signal_rssi: Option<i32>,
    pub operator: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SmsDto {
    pub sent_today: Option<i32>,
    pub daily_cap: Option<i32>,
    pub outbox_backlog: Option<i32>,
    pub failed_today: Option<i32>,
}

/// A node of the fleet table. The first fields are those `GET /nodes` always had.
#[derive(Debug, Serialize)]
pub struct FleetDto {
    pub node_id: String,
    pub name: String,
    pub villages: Vec<String>,
    pub software_version: String,
    pub enrolled_at: String,
    pub last_seen_at: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
    pub up_acked: i64,
    pub readings_acked: i64,
    pub change_log_backlog: Option<i64>,
    pub readings_backlog: Option<i64>,
    pub disk_free_bytes: Option<i64>,
    pub heartbeat: Option<Value>,
    /// Seconds since the last sync request (or since enrolment, if never).
    pub silent_seconds: i64,
    pub disk_total_bytes: Option<i64>,
    pub disk_free_percent: Option<f64>,
    pub clock_offset_ms: Option<i64>,
    pub modem: Option<ModemDto>,
    pub sms: Option<SmsDto>,
    /// Open alerts of the node's local rules plus open fleet alerts about it.
    pub open_alerts: i64,
    pub backlog_streak: i32,
    /// `ok`, `amber`, `red` or `revoked`.
    pub status: Level,
    pub reasons: Vec<crate::store::fleet::Reason>,
}

fn hb_i64(hb: Option<&Value>, key: &str) -> Option<i64> {
    hb.and_then(|h| h.get(key)).and_then(Value::as_i64)
}

fn fleet_dto(row: FleetRow, verdict: Verdict, now: time::OffsetDateTime) -> FleetDto {
    let hb = row.heartbeat.as_ref();
    let change = row
        .change_backlog
        .or_else(|| hb_i64(hb, "change_log_backlog"));
    let readings = row
        .readings_backlog
        .or_else(|| hb_i64(hb, "readings_backlog"));
    let disk_free = row
        .disk_free_bytes
        .or_else(|| hb_i64(hb, "disk_free_bytes"));
    let disk_free_percent = match (disk_free, row.disk_total_bytes) {
        (Some(f), Some(t)) if t > 0 => Some((f as f64 * 1000.0 / t as f64).round() / 10.0),
        _ => None,
    };
    let heard = row.last_seen_at.unwrap_or(row.enrolled_at);
    let modem = (row.modem_state.is_some() || row.modem_registration.is_some()).then(|| ModemDto {
        state: row.modem_state.clone(),
        registration: row.modem_registration.clone(),
        signal_dbm: row.modem_signal_dbm,
        signal_rssi: row.modem_signal_rssi,
        operator: row.modem_operator.clone(),
    });
    let sms = row.sms_daily_cap.is_some().then_some(SmsDto {
        sent_today: row.sms_sent_today,
        daily_cap: row.sms_daily_cap,
        outbox_backlog: row.sms_outbox_backlog,
        failed_today: row.sms_failed_today,
    });
    FleetDto {
        revoked: row.revoked_at.is_some(),
        enrolled_at: rfc3339(row.enrolled_at),
        last_seen_at: row.last_seen_at.map(rfc3339),
        revoked_at: row.revoked_at.map(rfc3339),
        silent_seconds: (now - heard).whole_seconds().max(0),
        change_log_backlog: change,
        readings_backlog: readings,
        disk_free_bytes: disk_free,
        disk_total_bytes: row.disk_total_bytes,
        disk_free_percent,
        clock_offset_ms: row.clock_offset_ms,
        modem,
        sms,
        open_alerts: i64::from(row.open_alerts.unwrap_or(0)) + row.open_fleet_alerts,
        backlog_streak: row.backlog_streak,
        status: verdict.level,
        reasons: verdict.reasons,
        node_id: row.node_id,
        name: row.name,
        villages: row.villages,
        software_version: row.software_version,
        up_acked: row.up_acked,
        readings_acked: row.readings_acked,
        heartbeat: row.heartbeat,
    }
}

/// A sort key: present values first (by number or text), absent ones last.
#[derive(Debug, Clone, PartialEq)]
struct SortKey {
    absent: bool,
    number: f64,
    text: String,
}

impl SortKey {
    fn num(v: Option<f64>) -> SortKey {
        SortKey {
            absent: v.is_none(),
            number: v.unwrap_or(0.0),
            text: String::new(),
        }
    }

    fn text(v: &str) -> SortKey {
        SortKey {
            absent: false,
            number: 0.0,
            text: v.to_lowercase(),
        }
    }

    fn cmp(&self, other: &SortKey) -> Ordering {
        self.absent
            .cmp(&other.absent)
            .then(self.number.total_cmp(&other.number))
            .then(self.text.cmp(&other.text))
    }

    fn to_json(&self, id: &str) -> Value {
        json!([self.absent, self.number, self.text, id])
    }

    fn from_json(v: &Value) -> Option<(SortKey, String)> {
        let a = v.as_array()?;
        Some((
            SortKey {
                absent: a.first()?.as_bool()?,
                number: a.get(1)?.as_f64()?,
                text: a.get(2)?.as_str()?.to_owned(),
            },
            a.get(3)?.as_str()?.to_owned(),
        ))
    }
}

/// The fleet's sortable columns.
pub const FLEET_SORTS: [&str; 11] = [
    "name",
    "status",
    "last_seen",
    "version",
    "backlog",
    "disk_free",
    "signal",
    "sms_sent",
    "sms_backlog",
    "clock_offset",
    "open_alerts",
];

fn fleet_key(d: &FleetDto, sort: &str) -> SortKey {
    match sort {
        "status" => SortKey::num(Some(match d.status {
            Level::Red => 0.0,
            Level::Amber => 1.0,
            Level::Ok => 2.0,
            Level::Revoked => 3.0,
        })),
        "last_seen" => SortKey::num(Some(d.silent_seconds as f64)),
        "version" => SortKey::text(&d.software_version),
        "backlog" => SortKey::num(match (d.change_log_backlog, d.readings_backlog) {
            (None, None) => None,
            (c, r) => Some((c.unwrap_or(0) + r.unwrap_or(0)) as f64),
        }),
        "disk_free" => SortKey::num(d.disk_free_percent),
        "signal" => SortKey::num(d.modem.as_ref().and_then(|m| m.signal_dbm).map(f64::from)),
        "sms_sent" => SortKey::num(d.sms.as_ref().and_then(|s| s.sent_today).map(f64::from)),
        "sms_backlog" => SortKey::num(d.sms.as_ref().and_then(|s| s.outbox_backlog).map(f64::from)),
        "clock_offset" => SortKey::num(d.clock_offset_ms.map(|v| v.unsigned_abs() as f64)),
        "open_alerts" => SortKey::num(Some(d.open_alerts as f64)),
        _ => SortKey::text(&d.name),
    }
}

#[derive(Debug, Serialize)]
pub struct FleetResponse {
    pub nodes: Vec<FleetDto>,
    pub next_cursor: Option<String>,
    pub total: Option<usize>,
    /// Nodes per status with these filters (before the status filter).
    pub counts: FleetCounts,
}

#[derive(Debug, Default, Serialize)]
pub struct FleetCounts {
    pub ok: usize,
    pub amber: usize,
    pub red: usize,
    pub revoked: usize,
}

/// `GET /api/v1/nodes`: the fleet, with filters (area, `status`, `q` in the name or id), sort
/// (`sort` one of [`FLEET_SORTS`], `dir`), cursor, total and CSV.
pub async fn list_nodes(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let villages = villages_for(&state, &user, &q).await?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Level::parse(s).ok_or_else(|| {
                ApiError::bad_request("status must be ok, amber, red or revoked")
                    .with_field("status")
            })
        })
        .transpose()?;
    let sort = q.sort.as_deref().unwrap_or("name");
    if !FLEET_SORTS.contains(&sort) {
        return Err(ApiError::bad_request(format!(
            "sort must be one of {}",
            FLEET_SORTS.join(", ")
        ))
        .with_field("sort"));
    }
    let descending = match q.dir.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::bad_request("dir must be asc or desc").with_field("dir")),
    };
    let needle = q.q.as_deref().map(|s| s.trim().to_lowercase());
    let now = crate::store::now();
    let rows = state.store.fleet(villages.as_deref()).await?;
    let mut counts = FleetCounts::default();
    let mut all: Vec<(SortKey, FleetDto)> = Vec::with_capacity(rows.len());
    for row in rows {
        let verdict = evaluate(&row, &state.config.fleet, now);
        let dto = fleet_dto(row, verdict, now);
        if let Some(n) = &needle
            && !dto.name.to_lowercase().contains(n.as_str())
            && !dto.node_id.starts_with(n.as_str())
        {
            continue;
        }
        match dto.status {
            Level::Ok => counts.ok += 1,
            Level::Amber => counts.amber += 1,
            Level::Red => counts.red += 1,
            Level::Revoked => counts.revoked += 1,
        }
        if status.is_some_and(|s| s != dto.status) {
            continue;
        }
        all.push((fleet_key(&dto, sort), dto));
    }
    let order = |a: &(SortKey, FleetDto), b: &(SortKey, FleetDto)| {
        let o = a.0.cmp(&b.0).then_with(|| a.1.node_id.cmp(&b.1.node_id));
        if descending { o.reverse() } else { o }
    };
    all.sort_by(order);
    let total = all.len();
    if let Some(cursor) = q.cursor_value()? {
        let (key, id) = SortKey::from_json(&cursor).ok_or_else(|| {
            ApiError::bad_request("cursor is not one this server gave out").with_field("cursor")
        })?;
        all.retain(|(k, d)| {
            let o = k
                .cmp(&key)
                .then_with(|| d.node_id.as_str().cmp(id.as_str()));
            if descending {
                o == Ordering::Less
            } else {
                o == Ordering::Greater
            }
        });
    }
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "node_id",
            "name",
            "villages",
            "status",
            "reasons",
            "version",
            "last_seen_at",
            "silent_seconds",
            "change_backlog",
            "readings_backlog",
            "modem_registration",
            "signal_dbm",
            "operator",
            "sms_sent_today",
            "sms_daily_cap",
            "sms_outbox_backlog",
            "disk_free_percent",
            "clock_offset_ms",
            "open_alerts",
        ]);
        for (_, d) in all {
            let modem = d.modem.as_ref();
            let sms = d.sms.as_ref();
            csv.row([
                d.node_id.clone(),
                d.name.clone(),
                d.villages.join(" "),
                d.status.as_str().to_owned(),
                d.reasons
                    .iter()
                    .map(|r| r.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                d.software_version.clone(),
                opt(d.last_seen_at.clone()),
                d.silent_seconds.to_string(),
                opt(d.change_log_backlog),
                opt(d.readings_backlog),
                opt(modem.and_then(|m| m.registration.clone())),
                opt(modem.and_then(|m| m.signal_dbm)),
                opt(modem.and_then(|m| m.operator.clone())),
                opt(sms.and_then(|s| s.sent_today)),
                opt(sms.and_then(|s| s.daily_cap)),
                opt(sms.and_then(|s| s.outbox_backlog)),
                opt(d.disk_free_percent),
                opt(d.clock_offset_ms),
                d.open_alerts.to_string(),
            ]);
        }
        return Ok(csv.into_response("fleet"));
    }
    all.truncate(q.fetch_rows()?);
    let (rows, next_cursor) = page(all, &q, |(k, d)| k.to_json(&d.node_id));
    Ok(json_response(FleetResponse {
        nodes: rows.into_iter().map(|(_, d)| d).collect(),
        next_cursor,
        total: q.with_total().then_some(total),
        counts,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub hours: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct HistoryPointDto {
    pub at: String,
    pub change_backlog: Option<i64>,
    pub readings_backlog: Option<i64>,
    pub disk_free_bytes: Option<i64>,
    pub disk_free_percent: Option<f64>,
    pub clock_offset_ms: Option<i64>,
    pub signal_dbm: Option<i64>,
    pub sms_sent_today: Option<i64>,
    pub sms_outbox_backlog: Option<i64>,
    pub open_alerts: Option<i64>,
}

async fn node_in_scope(
    state: &SharedState,
    user: &CurrentUser,
    node_id: &str,
) -> Result<crate::store::nodes::Node, ApiError> {
    let node = state
        .store
        .node(node_id)
        .await?
        .ok_or_else(|| ApiError::not_found("node"))?;
    if let Some(scope) = state.store.user_scope(user.0.id).await?
        && !node.villages.iter().any(|v| scope.contains(v))
    {
        return Err(ApiError::not_found("node"));
    }
    Ok(node)
}

/// `GET /api/v1/nodes/{id}/heartbeats?hours=`: a node's health over time, for charts.
pub async fn node_heartbeats(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(node_id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let node = node_in_scope(&state, &user, node_id.trim()).await?;
    let hours = q
        .hours
        .unwrap_or(HISTORY_HOURS_DEFAULT)
        .clamp(1, HISTORY_HOURS_MAX);
    let since = crate::store::now() - time::Duration::hours(i64::from(hours));
    let points = state.store.heartbeat_history(&node.node_id, since).await?;
    let dto: Vec<HistoryPointDto> = points
        .into_iter()
        .map(|p| {
            let h = &p.health;
            let g = |path: &[&str]| {
                let mut v = h;
                for k in path {
                    v = v.get(k)?;
                }
                v.as_i64()
            };
            let free = g(&["disk_free_bytes"]);
            let total = g(&["health", "disk_total_bytes"]);
            HistoryPointDto {
                at: rfc3339(p.at),
                change_backlog: g(&["change_log_backlog"]),
                readings_backlog: g(&["readings_backlog"]),
                disk_free_bytes: free,
                disk_free_percent: match (free, total) {
                    (Some(f), Some(t)) if t > 0 => {
                        Some((f as f64 * 1000.0 / t as f64).round() / 10.0)
                    }
                    _ => None,
                },
                clock_offset_ms: g(&["clock_offset_ms"]),
                signal_dbm: g(&["health", "modem", "signal_dbm"]),
                sms_sent_today: g(&["health", "sms", "sent_today"]),
                sms_outbox_backlog: g(&["health", "sms", "outbox_backlog"]),
                open_alerts: g(&["health", "open_alerts"]),
            }
        })
        .collect();
    Ok(json_response(
        json!({"node_id": node.node_id, "hours": hours, "points": dto}),
    ))
}

// ---- alerts and delivery -----------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct AlertDto {
    pub key: String,
    pub source: String,
    pub node_id: String,
    pub node_name: String,
    pub village_code: Option<String>,
    pub farm_id: Option<String>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub raised_at: String,
    pub resolved_at: Option<String>,
    pub open: bool,
    pub notifications: Option<i32>,
    pub delivered: Option<i32>,
}

fn alert_dto(a: AlertRow) -> AlertDto {
    AlertDto {
        open: a.resolved_at.is_none(),
        key: a.key,
        source: a.source,
        node_id: a.node_id,
        node_name: a.node_name,
        village_code: a.village_code,
        farm_id: a.farm_id.map(|f| f.to_string()),
        kind: a.kind,
        severity: a.severity,
        message: a.message,
        raised_at: rfc3339(a.raised_at),
        resolved_at: a.resolved_at.map(rfc3339),
        notifications: a.notifications,
        delivered: a.delivered,
    }
}

/// `GET /api/v1/alerts`: alerts of the villages' local rules (`source=edge`) and the cloud's
/// fleet alerts (`source=fleet`), newest first; `open=true`, `node_id=`, area filters.
pub async fn list_alerts(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let villages = villages_for(&state, &user, &q).await?;
    if let Some(s) = &q.source
        && s != "edge"
        && s != "fleet"
    {
        return Err(ApiError::bad_request("source must be edge or fleet").with_field("source"));
    }
    let before = match q.cursor_value()? {
        None => None,
        Some(v) => {
            let bad = || {
                ApiError::bad_request("cursor is not one this server gave out").with_field("cursor")
            };
            let at = v.get(0).and_then(Value::as_str).ok_or_else(bad)?;
            let key = v.get(1).and_then(Value::as_str).ok_or_else(bad)?;
            Some((parse_rfc3339("cursor", at)?, key.to_owned()))
        }
    };
    let filter = AlertFilter {
        villages,
        source: q.source.clone(),
        open_only: q.open.unwrap_or(false),
        node_id: q.node_id.clone(),
        before,
    };
    let (rows, total) = state
        .store
        .alert_page(&filter, q.fetch_rows()?, q.with_total())
        .await?;
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "source",
            "node",
            "village",
            "farm_id",
            "kind",
            "severity",
            "message",
            "raised_at",
            "resolved_at",
            "notifications",
            "delivered",
        ]);
        for a in rows.into_iter().map(alert_dto) {
            csv.row([
                a.source,
                a.node_name,
                opt(a.village_code),
                opt(a.farm_id),
                a.kind,
                a.severity,
                a.message,
                a.raised_at,
                opt(a.resolved_at),
                opt(a.notifications),
                opt(a.delivered),
            ]);
        }
        return Ok(csv.into_response("alerts"));
    }
    let (rows, next_cursor) = page(rows, &q, |a| json!([rfc3339(a.raised_at), a.key]));
    Ok(json_response(json!({
        "alerts": rows.into_iter().map(alert_dto).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
        "total": total,
    })))
}

#[derive(Debug, Serialize)]
pub struct DeliveryDto {
    pub village_code: String,
    pub village_name: Option<String>,
    pub channel: String,
    pub attempts: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Delivered over attempts with a final outcome (delivered + failed); `null` when none.
    pub delivery_rate: Option<f64>,
}

/// `GET /api/v1/delivery?days=7`: notification delivery per village and channel, as the edges
/// report it with their heartbeats.
pub async fn delivery(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let villages = villages_for(&state, &user, &q).await?;
    let days = q
        .days
        .unwrap_or(DELIVERY_DAYS_DEFAULT)
        .clamp(1, DELIVERY_DAYS_MAX);
    let from = (crate::store::now() - time::Duration::days(i64::from(days))).date();
    let rows = state.store.delivery(villages.as_deref(), from).await?;
    let names = state.store.villages(None).await?;
    let dto: Vec<DeliveryDto> = rows
        .into_iter()
        .map(|r| {
            let finished = r.delivered + r.failed;
            DeliveryDto {
                village_name: names
                    .iter()
                    .find(|v| v.code == r.village_code && !v.name.is_empty())
                    .map(|v| v.name.clone()),
                delivery_rate: (finished > 0)
                    .then(|| (r.delivered as f64 * 1000.0 / finished as f64).round() / 1000.0),
                village_code: r.village_code,
                channel: r.channel,
                attempts: r.attempts,
                delivered: r.delivered,
                failed: r.failed,
            }
        })
        .collect();
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "village_code",
            "village",
            "channel",
            "attempts",
            "delivered",
            "failed",
            "delivery_rate",
        ]);
        for d in dto {
            csv.row([
                d.village_code,
                opt(d.village_name),
                d.channel,
                d.attempts.to_string(),
                d.delivered.to_string(),
                d.failed.to_string(),
                opt(d.delivery_rate),
            ]);
        }
        return Ok(csv.into_response("delivery"));
    }
    let total = dto.len();
    Ok(json_response(
        json!({"days": days, "rows": dto, "next_cursor": null, "total": total}),
    ))
}

// ---- villages ----------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct VillageDto {
    pub code: String,
    pub name: String,
    pub district: String,
    pub state: String,
}

/// `GET /api/v1/villages`: the registry plus every village a node serves.
pub async fn list_villages(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let villages = villages_for(&state, &user, &q).await?;
    let list = state.store.villages(villages.as_deref()).await?;
    let dto: Vec<VillageDto> = list
        .into_iter()
        .map(|v| VillageDto {
            code: v.code,
            name: v.name,
            district: v.district,
            state: v.state,
        })
        .collect();
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&["code", "name", "district", "state"]);
        for v in dto {
            csv.row([v.code, v.name, v.district, v.state]);
        }
        return Ok(csv.into_response("villages"));
    }
    let total = dto.len();
    Ok(json_response(
        json!({"villages": dto, "next_cursor": null, "total": total}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VillageRequest {
    pub name: String,
    pub district: String,
    pub state: String,
}

/// `PUT /api/v1/villages/{code}` (admin).
pub async fn put_village(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<VillageRequest>,
) -> Result<Json<VillageDto>, ApiError> {
    user.require(Role::Admin)?;
    let v = state
        .store
        .set_village(
            &Village {
                code,
                name: req.name,
                district: req.district,
                state: req.state,
            },
            &user.0.username,
        )
        .await?;
    Ok(Json(VillageDto {
        code: v.code,
        name: v.name,
        district: v.district,
        state: v.state,
    }))
}

// ---- farmers -----------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct FarmerDto {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub language: String,
    pub village_code: String,
    pub consents: super::farms::ConsentsDto,
    pub farms: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// The body of `POST /api/v1/farmers/search` (the search text stays out of URLs and logs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarmerSearch {
    pub q: Option<String>,
    pub village_code: Option<String>,
    pub district: Option<String>,
    pub state: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    pub count: Option<bool>,
    pub format: Option<String>,
}

/// `GET /api/v1/farmers`: paged farmers (by name); `q` searches name or phone.
pub async fn list_farmers(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    farmers(&state, &user, q).await
}

/// `POST /api/v1/farmers/search`: the same, with the filters in the body.
pub async fn search_farmers(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<FarmerSearch>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let q = ListQuery {
        q: body.q,
        village_code: body.village_code,
        district: body.district,
        state: body.state,
        cursor: body.cursor,
        limit: body.limit,
        count: body.count,
        format: body.format,
        ..ListQuery::default()
    };
    farmers(&state, &user, q).await
}

async fn farmers(
    state: &SharedState,
    user: &CurrentUser,
    q: ListQuery,
) -> Result<Response, ApiError> {
    if q.q
        .as_ref()
        .is_some_and(|s| s.chars().count() > SEARCH_CHARS_MAX)
    {
        return Err(ApiError::bad_request(format!(
            "q must be at most {SEARCH_CHARS_MAX} characters"
        ))
        .with_field("q"));
    }
    let villages = villages_for(state, user, &q).await?;
    let after = match q.cursor_value()? {
        None => None,
        Some(v) => {
            let name = v.get(0).and_then(Value::as_str);
            let id = v
                .get(1)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok());
            match (name, id) {
                (Some(n), Some(id)) => Some((n.to_owned(), id)),
                _ => {
                    return Err(
                        ApiError::bad_request("cursor is not one this server gave out")
                            .with_field("cursor"),
                    );
                }
            }
        }
    };
    let filter = FarmerFilter {
        q: q.q.clone(),
        villages,
        after,
    };
    let (rows, total) = state
        .store
        .farmer_page(&filter, q.fetch_rows()?, q.with_total())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let counts = state.store.farm_counts(&ids).await?;
    let dto = |r: &FarmerRow| FarmerDto {
        id: r.id.to_string(),
        name: r.name.clone(),
        phone: r.phone.clone(),
        language: r.language.clone(),
        village_code: r.village_code.clone(),
        consents: super::farms::ConsentsDto {
            sms: r.consent_sms,
            voice: r.consent_voice,
            data_sharing: r.consent_data_sharing,
        },
        farms: counts
            .iter()
            .find(|(id, _)| *id == r.id)
            .map_or(0, |(_, n)| *n),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    };
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "id",
            "name",
            "phone",
            "language",
            "village_code",
            "consent_sms",
            "consent_voice",
            "consent_data_sharing",
            "farms",
        ]);
        for f in rows.iter().map(dto) {
            csv.row([
                f.id,
                f.name,
                f.phone,
                f.language,
                f.village_code,
                f.consents.sms.to_string(),
                f.consents.voice.to_string(),
                f.consents.data_sharing.to_string(),
                f.farms.to_string(),
            ]);
        }
        return Ok(csv.into_response("farmers"));
    }
    let list: Vec<FarmerDto> = rows.iter().map(dto).collect();
    let (list, next_cursor) = page(list, &q, |f| json!([f.name, f.id]));
    Ok(json_response(json!({
        "farmers": list,
        "next_cursor": next_cursor,
        "total": total,
    })))
}

#[derive(Debug, Serialize)]
pub struct HistoryDto {
    pub time: String,
    pub author: String,
    pub action: String,
    pub fields: Vec<String>,
}

/// A farmer's edit history from the automerge document (who changed what, when).
async fn history_of(state: &SharedState, farmer_id: Uuid) -> Result<Vec<HistoryDto>, ApiError> {
    let Some((doc, _)) = state.store.load_doc(farmer_id).await? else {
        return Ok(Vec::new());
    };
    Ok(doc
        .history()
        .into_iter()
        .rev()
        .map(|h| HistoryDto {
            time: crate::store::readings::ts_from_ms(h.time_ms)
                .map(rfc3339)
                .unwrap_or_default(),
            author: h.author,
            action: h.action,
            fields: h.fields,
        })
        .collect())
}

/// `GET /api/v1/farmers/{id}/history`.
pub async fn farmer_history(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let id: Uuid = id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("farmer"))?;
    let farmer = state
        .store
        .farmer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("farmer"))?;
    let scope = state.store.user_scope(user.0.id).await?;
    check_in_scope(&scope, &farmer.village_code, "farmer")?;
    Ok(json_response(
        json!({"farmer_id": id.to_string(), "history": history_of(&state, id).await?}),
    ))
}

/// `GET /api/v1/farms/{id}/overview`: what a click on the map opens.
pub async fn farm_overview(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let id: Uuid = id.trim().parse().map_err(|_| ApiError::not_found("farm"))?;
    let farm = state
        .store
        .farm(id)
        .await?
        .ok_or_else(|| ApiError::not_found("farm"))?;
    let scope = state.store.user_scope(user.0.id).await?;
    check_in_scope(&scope, &farm.village_code, "farm")?;
    let farmer = state.store.farmer(farm.farmer_id).await?;
    let other_farms = state.store.farms_of_farmer(farm.farmer_id).await?;
    let soil = state.store.soil_tests_of_farm(id).await?;
    let sensors = state.store.sensors(Some(id), None).await?;
    let alerts = state.store.open_alerts_of_farm(id).await?;
    let history = history_of(&state, farm.farmer_id).await?;
    Ok(json_response(json!({
        "farm": {
            "id": farm.id.to_string(),
            "village_code": farm.village_code,
            "survey_number": farm.survey_number,
            "declared_area_ha": farm.declared_area_ha,
            "area_ha": farm.area_ha,
            "centroid": {"lat": farm.centroid_lat, "lon": farm.centroid_lon},
            "crops": farm.crops,
            "updated_at": rfc3339(farm.updated_at),
        },
        "farmer": farmer.map(|f| json!({
            "id": f.id.to_string(),
            "name": f.name,
            "phone": f.phone,
            "language": f.language,
            "village_code": f.village_code,
            "consents": {"sms": f.consent_sms, "voice": f.consent_voice,
                         "data_sharing": f.consent_data_sharing},
            "farms": other_farms.iter().map(|o| json!({
                "id": o.id.to_string(), "survey_number": o.survey_number, "area_ha": o.area_ha,
            })).collect::<Vec<_>>(),
        })),
        "soil_tests": soil.iter().map(|t| json!({
            "id": t.id.to_string(),
            "sampled_on": t.sampled_on.to_string(),
            "lab": t.lab,
            "parameters": t.parameters,
        })).collect::<Vec<_>>(),
        "sensors": sensors.iter().map(|s| json!({
            "id": s.sensor_id,
            "kind": s.kind,
            "metrics": s.metrics,
            "updated_at": rfc3339(s.updated_at),
        })).collect::<Vec<_>>(),
        "alerts": alerts.into_iter().map(alert_dto).collect::<Vec<_>>(),
        "history": history,
    })))
}

// ---- sensors and trends ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorsQuery {
    pub farm_id: Option<String>,
    pub village_code: Option<String>,
}

/// `GET /api/v1/sensors?farm_id=|village_code=`: registered sensors and their metrics.
pub async fn list_sensors(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SensorsQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let scope = state.store.user_scope(user.0.id).await?;
    let farm_id = q
        .farm_id
        .as_deref()
        .map(|f| {
            f.trim()
                .parse::<Uuid>()
                .map_err(|_| ApiError::not_found("farm"))
        })
        .transpose()?;
    let village = q
        .village_code
        .as_deref()
        .map(|v| farmco_sync::VillageCode::parse("village_code", v.trim()))
        .transpose()?
        .map(|v| vec![v.to_string()]);
    let villages = intersect(scope, village);
    let list = state.store.sensors(farm_id, villages.as_deref()).await?;
    Ok(json_response(json!({"sensors": list.iter().map(|s| json!({
        "id": s.sensor_id,
        "node_id": s.node_id,
        "kind": s.kind,
        "farm_id": s.farm_id.map(|f| f.to_string()),
        "village_code": s.village_code,
        "lat": s.lat,
        "lon": s.lon,
        "metrics": s.metrics,
        "updated_at": rfc3339(s.updated_at),
    })).collect::<Vec<_>>()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendsQuery {
    pub sensor_id: Option<String>,
    pub farm_id: Option<String>,
    pub village_code: Option<String>,
    pub metric: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub bucket: Option<String>,
    pub format: Option<String>,
}

/// `GET /api/v1/trends?sensor_id=|farm_id=|village_code=&metric=&from=&to=&bucket=`: readings
/// of one sensor, or of every sensor of a farm or a village, bucketed with percentiles; CSV
/// with `format=csv`.
pub async fn trends(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<TrendsQuery>,
) -> Result<Response, ApiError> {
    use crate::store::readings::{SENSOR_FIELD_CHARS_MAX, default_trend_window, parse_bucket};
    user.require(Role::Ops)?;
    let metric = q.metric.trim();
    if metric.is_empty() || metric.chars().count() > SENSOR_FIELD_CHARS_MAX {
        return Err(ApiError::bad_request(format!(
            "metric must be 1 to {SENSOR_FIELD_CHARS_MAX} characters"
        ))
        .with_field("metric"));
    }
    let scope = state.store.user_scope(user.0.id).await?;
    let (scope_label, sensor_ids): (String, Vec<String>) =
        match (&q.sensor_id, &q.farm_id, &q.village_code) {
            (Some(sensor), None, None) => {
                let sensor = sensor.trim().to_owned();
                if sensor.is_empty() || sensor.chars().count() > SENSOR_FIELD_CHARS_MAX {
                    return Err(
                        ApiError::bad_request("sensor_id is not valid").with_field("sensor_id")
                    );
                }
                if let Some(scope) = &scope {
                    let villages = state.store.sensor_villages(&sensor).await?;
                    if !villages.iter().any(|v| scope.contains(v)) {
                        return Err(ApiError::not_found("sensor"));
                    }
                }
                (format!("sensor {sensor}"), vec![sensor])
            }
            (None, Some(farm), None) => {
                let farm_id: Uuid = farm
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::not_found("farm"))?;
                let farm = state
                    .store
                    .farm(farm_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("farm"))?;
                check_in_scope(&scope, &farm.village_code, "farm")?;
                let sensors = state.store.sensors(Some(farm_id), None).await?;
                (
                    format!("farm {}", farm.survey_number),
                    sensors.into_iter().map(|s| s.sensor_id).collect(),
                )
            }
            (None, None, Some(village)) => {
                let code =
                    farmco_sync::VillageCode::parse("village_code", village.trim())?.to_string();
                check_in_scope(&scope, &code, "village")?;
                let sensors = state
                    .store
                    .sensors(None, Some(std::slice::from_ref(&code)))
                    .await?;
                (
                    format!("village {code}"),
                    sensors.into_iter().map(|s| s.sensor_id).collect(),
                )
            }
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of sensor_id, farm_id or village_code",
                ));
            }
        };
    let bucket = q.bucket.clone().unwrap_or_else(|| "1d".to_owned());
    let bucket_seconds = parse_bucket(&bucket)?;
    let to = match &q.to {
        Some(s) => parse_rfc3339("to", s)?,
        None => crate::store::now(),
    };
    let from = match &q.from {
        Some(s) => parse_rfc3339("from", s)?,
        None => default_trend_window(to),
    };
    let buckets = if sensor_ids.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .trends_of(&sensor_ids, metric, from, to, bucket_seconds)
            .await?
    };
    match q.format.as_deref() {
        Some("csv") => {
            let mut csv = Csv::new(&["start", "avg", "p25", "p75", "min", "max", "count"]);
            for b in &buckets {
                csv.row([
                    rfc3339(b.start),
                    b.avg.to_string(),
                    b.p25.to_string(),
                    b.p75.to_string(),
                    b.min.to_string(),
                    b.max.to_string(),
                    b.count.to_string(),
                ]);
            }
            Ok(csv.into_response("trends"))
        }
        None | Some("json") => Ok(json_response(json!({
            "scope": scope_label,
            "sensors": sensor_ids,
            "metric": metric,
            "bucket": bucket,
            "from": rfc3339(from),
            "to": rfc3339(to),
            "buckets": buckets.iter().map(|b| json!({
                "start": rfc3339(b.start), "avg": b.avg, "p25": b.p25, "p75": b.p75,
                "min": b.min, "max": b.max, "count": b.count,
            })).collect::<Vec<_>>(),
        }))),
        Some(_) => Err(ApiError::bad_request("format must be json or csv").with_field("format")),
    }
}

// ---- map ---------------------------------------------------------------------------------

/// `GET /api/v1/map/config`: the base map (if any), the extent of the caller's farms, the tile
/// URL template (with the data version, so tiles can be cached and still never be stale).
pub async fn map_config(
    State(state): State<SharedState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let scope = state.store.user_scope(user.0.id).await?;
    let summary = state.store.map_summary(scope.as_deref()).await?;
    Ok(json_response(json!({
        "base_map_style_url": state.config.console.base_map_style_url,
        "farms": summary.farms,
        "bounds": summary.bounds,
        "data_version": summary.data_version,
        "tiles": format!("/tiles/{{z}}/{{x}}/{{y}}.mvt?v={}", summary.data_version),
        "farms_zoom_min": crate::store::map::FARMS_ZOOM_MIN,
        "zoom_max": crate::store::map::ZOOM_MAX,
    })))
}

// ---- devices (admin) ---------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub villages: Vec<CodeInput>,
}

/// Most modules per side of the enrollment QR code's SVG (a token and a URL fit in far less).
const QR_SVG_MIN_DIMENSION: u32 = 200;

/// The QR code (SVG) a field technician scans: the cloud URL and the one-time token.
pub fn enrollment_qr_svg(payload: &str) -> Result<String, ApiError> {
    let code =
        qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M).map_err(|e| {
            tracing::error!(error = %e, "QR code encoding failed");
            ApiError::internal()
        })?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(QR_SVG_MIN_DIMENSION, QR_SVG_MIN_DIMENSION)
        .quiet_zone(true)
        .build())
}

/// `POST /api/v1/devices/tokens` (admin): a one-time enrollment token, shown once, with the
/// command to run on the box and its QR code.
pub async fn create_token(
    State(state): State<SharedState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let villages: Vec<String> = req.villages.into_iter().map(CodeInput::into_text).collect();
    let villages = crate::store::nodes::parse_villages("villages", &villages)?;
    let ttl = state.config.enrollment_token_ttl;
    let token = state
        .store
        .create_enrollment_token(&villages, ttl, &user.0.username)
        .await?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("CLOUD");
    let scheme = if headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        == Some("https")
    {
        "https"
    } else {
        "http"
    };
    let cloud = format!("{scheme}://{host}");
    let command = format!("farmco-edge enroll --cloud {cloud} --token {token}");
    let qr_svg = enrollment_qr_svg(&command)?;
    let expires_at = crate::store::now() + ttl;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "villages": villages,
            "expires_at": rfc3339(expires_at),
            "command": command,
            "qr_svg": qr_svg,
        })),
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /api/v1/devices/tokens` (admin): tokens made, used or not (never the token itself).
pub async fn list_tokens(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let now = crate::store::now();
    let list = state.store.enrollment_tokens().await?;
    let dto: Vec<Value> = list
        .iter()
        .map(|t| {
            json!({
                "id": t.hash_prefix,
                "villages": t.villages,
                "created_at": rfc3339(t.created_at),
                "expires_at": rfc3339(t.expires_at),
                "used_at": t.used_at.map(rfc3339),
                "used_by": t.used_by,
                "state": if t.used_at.is_some() { "used" } else if t.expires_at <= now { "expired" } else { "open" },
            })
        })
        .collect();
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "id",
            "villages",
            "created_at",
            "expires_at",
            "used_at",
            "used_by",
        ]);
        for t in &list {
            csv.row([
                t.hash_prefix.clone(),
                t.villages.join(" "),
                rfc3339(t.created_at),
                rfc3339(t.expires_at),
                opt(t.used_at.map(rfc3339)),
                opt(t.used_by.clone()),
            ]);
        }
        return Ok(csv.into_response("enrollment-tokens"));
    }
    let total = dto.len();
    Ok(json_response(
        json!({"tokens": dto, "next_cursor": null, "total": total}),
    ))
}

/// `POST /api/v1/nodes/{id}/revoke` (admin): every later envelope from the node is refused.
pub async fn revoke_node(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(node_id): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let node_id = node_id.trim();
    if node_id.len() != 64 || !node_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("node"));
    }
    let revoked = state.store.revoke_node(node_id, &user.0.username).await?;
    tracing::info!(node_id = %revoked, actor = %user.0.username, "node revoked from the console");
    Ok(json_response(json!({"node_id": revoked, "revoked": true})))
}

// ---- users (admin) -----------------------------------------------------------------------

/// `GET /api/v1/users` (admin).
pub async fn list_users(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let list = state.store.user_rows().await?;
    if q.format()? == Format::Csv {
        let mut csv = Csv::new(&[
            "username",
            "role",
            "disabled",
            "villages",
            "created_at",
            "sessions",
        ]);
        for u in &list {
            csv.row([
                u.username.clone(),
                u.role.as_str().to_owned(),
                u.disabled.to_string(),
                u.villages.join(" "),
                rfc3339(u.created_at),
                u.sessions.to_string(),
            ]);
        }
        return Ok(csv.into_response("users"));
    }
    let total = list.len();
    Ok(json_response(json!({
        "users": list.iter().map(|u| json!({
            "username": u.username,
            "role": u.role.as_str(),
            "disabled": u.disabled,
            "villages": u.villages,
            "created_at": rfc3339(u.created_at),
            "sessions": u.sessions,
        })).collect::<Vec<_>>(),
        "next_cursor": null,
        "total": total,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub username: String,
    pub password: String,
    pub role: String,
    #[serde(default)]
    pub villages: Vec<CodeInput>,
}

/// `POST /api/v1/users` (admin): a new account (the same checks as `farmco-cloud user add`).
pub async fn create_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let created = super::auth_routes::add_user_checked(
        &state.store,
        req.username.trim(),
        &req.password,
        &req.role,
        &user.0.username,
    )
    .await?;
    if !req.villages.is_empty() {
        let villages: Vec<String> = req.villages.into_iter().map(CodeInput::into_text).collect();
        state
            .store
            .update_user(&created.username, None, Some(&villages), &user.0.username)
            .await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": created.username, "role": created.role.as_str()})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<String>,
    /// The villages the user is limited to; `[]`: every village.
    pub villages: Option<Vec<CodeInput>>,
}

/// `PATCH /api/v1/users/{username}` (admin): role and village scope; ends the user's sessions.
pub async fn update_user(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let role = req
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_role",
                    "role must be ops or admin",
                )
                .with_field("role")
            })
        })
        .transpose()?;
    if username == user.0.username && role == Some(Role::Ops) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "own_role",
            "an admin cannot take their own admin role away",
        )
        .with_field("role"));
    }
    let villages: Option<Vec<String>> = req
        .villages
        .map(|v| v.into_iter().map(CodeInput::into_text).collect());
    state
        .store
        .update_user(&username, role, villages.as_deref(), &user.0.username)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{username}/end-sessions` (admin): sign the user out everywhere.
pub async fn end_user_sessions(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Role::Admin)?;
    let target = state
        .store
        .user_rows()
        .await?
        .into_iter()
        .find(|u| u.username == username)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let ended = state
        .store
        .end_sessions(target.id, &user.0.username)
        .await?;
    Ok(json_response(
        json!({"username": username, "sessions_ended": ended}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_put_absent_values_last_and_round_trip() {
        let a = SortKey::num(Some(2.0));
        let b = SortKey::num(None);
        assert_eq!(a.cmp(&b), Ordering::Less);
        assert_eq!(
            SortKey::text("B").cmp(&SortKey::text("a")),
            Ordering::Greater
        );
        let (back, id) = SortKey::from_json(&a.to_json("n1")).unwrap();
        assert_eq!((back, id.as_str()), (a, "n1"));
        assert!(SortKey::from_json(&json!([1, 2])).is_none());
    }

    #[test]
    fn enrollment_qr_codes_are_svg() {
        let svg = enrollment_qr_svg("farmco-edge enroll --cloud http://10.0.0.1:8090 --token ab")
            .unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<svg"));
    }
}
