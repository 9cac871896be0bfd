//! Stored alerts and API-added alert rules. At most one open alert per (rule, sensor): a raise
//! while one is open is a no-op (deduplicated), a resolve closes it.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, StoreResult};
use farmco_village::alerts::engine::Decision;

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub rule_id: String,
    pub kind: String,
    pub severity: String,
    pub sensor_id: String,
    pub metric: Option<String>,
    pub farm_id: Option<String>,
    pub farmer_id: Option<String>,
    pub value: Option<f64>,
    pub message: String,
    pub raised_ms: i64,
    pub resolved_ms: Option<i64>,
    pub acked_ms: Option<i64>,
    pub acked_by: Option<String>,
}

/// Apply one engine decision; returns the new alert's row for a raise that opened one.
pub fn apply(conn: &Connection, d: &Decision) -> StoreResult<Option<AlertRow>> {
    match d {
        Decision::Raise {
            rule_id,
            kind,
            severity,
            sensor_id,
            metric,
            value,
            farm_id,
            farmer_id,
            message,
            at_ms,
        } => {
            let n = conn.execute(
                "INSERT OR IGNORE INTO alerts (rule_id, kind, severity, sensor_id, metric, farm_id,
                                               farmer_id, value, message, raised_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    rule_id, kind, severity, sensor_id, metric, farm_id, farmer_id, value, message,
                    at_ms
                ],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let id = conn.last_insert_rowid();
            alert(conn, id)
        }
        Decision::Resolve {
            rule_id,
            sensor_id,
            at_ms,
        } => {
            conn.execute(
                "UPDATE alerts SET resolved_ms = ?3
                 WHERE rule_id = ?1 AND sensor_id = ?2 AND resolved_ms IS NULL",
                params![rule_id, sensor_id, at_ms],
            )?;
            Ok(None)
        }
    }
}

const COLUMNS: &str = "id, rule_id, kind, severity, sensor_id, metric, farm_id, farmer_id, value,
                       message, raised_ms, resolved_ms, acked_ms, acked_by";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        kind: r.get(2)?,
        severity: r.get(3)?,
        sensor_id: r.get(4)?,
        metric: r.get(5)?,
        farm_id: r.get(6)?,
        farmer_id: r.get(7)?,
        value: r.get(8)?,
        message: r.get(9)?,
        raised_ms: r.get(10)?,
        resolved_ms: r.get(11)?,
        acked_ms: r.get(12)?,
        acked_by: r.get(13)?,
    })
}

pub fn alert(conn: &Connection, id: i64) -> StoreResult<Option<AlertRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM alerts WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// Alerts newest first; `open_only` leaves out resolved ones.
pub fn list(conn: &Connection, open_only: bool, limit: usize) -> StoreResult<Vec<AlertRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM alerts WHERE (?1 = 0 OR resolved_ms IS NULL)
         ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![open_only, limit as i64], from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Open alerts as (rule id, sensor id), to seed the engine after a restart.
pub fn open_keys(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT rule_id, sensor_id FROM alerts WHERE resolved_ms IS NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Acknowledge an alert (idempotent: the first acknowledgement is kept).
pub fn ack(conn: &Connection, id: i64, by: &str, now_ms: i64) -> StoreResult<AlertRow> {
    conn.execute(
        "UPDATE alerts SET acked_ms = ?2, acked_by = ?3 WHERE id = ?1 AND acked_ms IS NULL",
        params![id, now_ms, by],
    )?;
    alert(conn, id)?.ok_or(StoreError::NotFound("alert"))
}

/// Rules added through the API, as their JSON specs.
pub fn api_rules(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT spec FROM alert_rules ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Store (or replace) an API rule.
pub fn put_rule(
    conn: &Connection,
    id: &str,
    spec_json: &str,
    by: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO alert_rules (id, spec, created_ms, created_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, created_ms = excluded.created_ms,
                                        created_by = excluded.created_by",
        params![id, spec_json, now_ms, by],
    )?;
    Ok(())
}

/// SQL: the village of the alert row aliased `a`: its farm's, else its sensor's, else its
/// farmer's (review 2026-12, finding 10).
const ALERT_VILLAGE_SQL: &str = concat!(
    "coalesce(",
    super::ingest::farm_village_sql!("a.farm_id"),
    ", (SELECT coalesce(s.village_code, ",
    super::ingest::farm_village_sql!("s.farm_id"),
    ") FROM sensors s WHERE s.id = a.sensor_id)",
    ", (SELECT village_code FROM farmers WHERE id = a.farmer_id))"
);

/// The village of an alert (`None` when unknown or in no village).
pub fn alert_village(conn: &Connection, id: i64) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            &format!("SELECT {ALERT_VILLAGE_SQL} FROM alerts a WHERE a.id = ?1"),
            [id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// [`list`] limited to `villages` (`None`: every village).
pub fn list_in(
    conn: &Connection,
    open_only: bool,
    limit: usize,
    villages: Option<&[String]>,
) -> StoreResult<Vec<AlertRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM alerts a WHERE (?1 = 0 OR a.resolved_ms IS NULL)
           AND (?3 IS NULL OR {ALERT_VILLAGE_SQL} IN (SELECT value FROM json_each(?3)))
         ORDER BY a.id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(
        params![
            open_only,
            limit as i64,
            super::ingest::villages_json(villages)
        ],
        from_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
