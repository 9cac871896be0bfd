//! Queries behind the ops console's lists and administration: the village registry (names,
//! district, state: what the area filters resolve), per-user village scope, cookie sessions
//! with their CSRF token, enrollment tokens, users, and the paged lists (farmers, alerts,
//! advisories with their reach, delivery rates, trends over several sensors).
//!
//! Paging is keyset paging: a list is ordered by a unique key and a page starts after the last
//! key of the previous one (the API wraps it in an opaque cursor), so a page costs the same at
//! row 10 as at row 1,000,000 and rows inserted meanwhile neither repeat nor vanish. A total
//! count is a separate `count(*)` with the same filters, run only when asked for.

use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use farmco_sync::ValidationError;

use super::audit::{self, AuditEvent};
use super::farms::FarmerRow;
use super::users::{Role, User};
use super::{ReadingsBackend, Store, StoreError, StoreResult};

/// Most rows of one page (the CSV export takes up to [`EXPORT_ROWS_MAX`] in one go).
pub const PAGE_ROWS_MAX: usize = 500;
/// Most rows one CSV export carries (a state's farmers fit; more is a database dump's job).
pub const EXPORT_ROWS_MAX: usize = 100_000;
/// Longest village name, district or state, in characters.
pub const AREA_NAME_CHARS_MAX: usize = 100;
/// Most villages one user may be limited to.
pub const USER_VILLAGES_MAX: usize = 1_000;
/// Most enrollment tokens listed (the newest).
pub const TOKENS_LISTED_MAX: i64 = 500;
/// Most sensors one trend query combines (a village's sensors).
pub const TREND_SENSORS_MAX: usize = 1_000;

/// A village of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Village {
    pub code: String,
    pub name: String,
    pub district: String,
    pub state: String,
}

/// Which villages a list covers: `None` means every village.
pub type VillageSet = Option<Vec<String>>;

/// Intersect two village sets (`None` is everything).
pub fn intersect(a: VillageSet, b: VillageSet) -> VillageSet {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(a.into_iter().filter(|v| b.contains(v)).collect()),
    }
}

fn check_name(field: &str, v: &str) -> Result<String, ValidationError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > AREA_NAME_CHARS_MAX || v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "invalid",
            format!("{field} must be 1 to {AREA_NAME_CHARS_MAX} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

/// An enrollment token as listed (never the token itself: only a prefix of its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub hash_prefix: String,
    pub villages: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub used_by: Option<String>,
}

/// A user as the admin screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub villages: Vec<String>,
    pub sessions: i64,
}

/// A farmer search, keyset-paged by (name, id).
#[derive(Debug, Clone, Default)]
pub struct FarmerFilter {
    /// Substring of the name, or at least 3 digits of the phone.
    pub q: Option<String>,
    pub villages: VillageSet,
    /// Start after this (name, id).
    pub after: Option<(String, Uuid)>,
}

/// An alert of either source, as the alerts screen lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// `edge` (a village box's local rule) or `fleet` (the cloud, about a node).
    pub source: String,
    /// Unique across sources: `e:<node>:<id>` or `f:<id>`.
    pub key: String,
    pub node_id: String,
    pub node_name: String,
    pub village_code: Option<String>,
    pub farm_id: Option<Uuid>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub raised_at: OffsetDateTime,
    pub resolved_at: Option<OffsetDateTime>,
    pub notifications: Option<i32>,
    pub delivered: Option<i32>,
}

/// Filters of the alerts list, keyset-paged by (raised_at, key) descending.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub villages: VillageSet,
    /// `edge` or `fleet`.
    pub source: Option<String>,
    pub open_only: bool,
    pub node_id: Option<String>,
    pub before: Option<(OffsetDateTime, String)>,
}

/// Delivery of one village and channel over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub village_code: String,
    pub channel: String,
    pub attempts: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// How far an advisory reached in one village.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryReach {
    pub village_code: String,
    pub node_id: String,
    pub received_at: OffsetDateTime,
    pub notifications: i32,
    pub delivered: i32,
}

fn farmer_from(r: &Row) -> FarmerRow {
    FarmerRow {
        id: r.get(0),
        name: r.get(1),
        phone: r.get(2),
        language: r.get(3),
        village_code: r.get(4),
        consent_sms: r.get(5),
        consent_voice: r.get(6),
        consent_data_sharing: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
    }
}

/// Escape `%`, `_` and `\` for a LIKE pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn limit_i64(limit: usize, max: usize) -> i64 {
    i64::try_from(limit.clamp(1, max)).unwrap_or(1)
}

const ALERTS_UNION: &str = "
    SELECT 'edge' AS source, 'e:' || a.node_id || ':' || a.edge_alert_id AS key, a.node_id,
           n.name AS node_name, a.village_code, a.farm_id, a.kind, a.severity, a.message,
           a.raised_at, a.resolved_at, a.notifications, a.delivered,
           CASE WHEN a.village_code IS NULL THEN n.villages ELSE ARRAY[a.village_code] END
               AS villages
    FROM edge_alerts a JOIN nodes n ON n.node_id = a.node_id
    UNION ALL
    SELECT 'fleet', 'f:' || f.id, f.node_id, n.name, NULL, NULL, f.kind, f.severity, f.message,
           f.raised_at, f.resolved_at, NULL, NULL, n.villages
    FROM fleet_alerts f JOIN nodes n ON n.node_id = f.node_id";

impl Store {
    // ---- villages and scope -------------------------------------------------------------

    /// Add or rename a village of the registry; audited.
    pub async fn set_village(&self, village: &Village, actor: &str) -> StoreResult<Village> {
        let code = farmco_sync::VillageCode::parse("code", village.code.trim())?.to_string();
        let v = Village {
            code,
            name: check_name("name", &village.name)?,
            district: check_name("district", &village.district)?,
            state: check_name("state", &village.state)?,
        };
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "INSERT INTO villages (code, name, district, state) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
                 district = EXCLUDED.district, state = EXCLUDED.state",
            &[&v.code, &v.name, &v.district, &v.state],
        )
        .await?;
        audit::append(
            &tx,
            super::now(),
            &AuditEvent {
                actor,
                action: "village.set",
                target: &v.code,
                detail: json!({"name": v.name, "district": v.district, "state": v.state}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// The registry, with every village code any node serves even when it has no name yet.
    pub async fn villages(&self, within: Option<&[String]>) -> StoreResult<Vec<Village>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT c.code, COALESCE(v.name, ''), COALESCE(v.district, ''),
                        COALESCE(v.state, '')
                 FROM (SELECT code FROM villages
                       UNION SELECT unnest(villages) FROM nodes WHERE revoked_at IS NULL) c
                 LEFT JOIN villages v ON v.code = c.code
                 WHERE $1::text[] IS NULL OR c.code = ANY($1)
                 ORDER BY 4, 3, 2, 1",
                &[&within],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Village {
                code: r.get(0),
                name: r.get(1),
                district: r.get(2),
                state: r.get(3),
            })
            .collect())
    }

    /// Village codes of a district and/or state (case-insensitive names).
    pub async fn villages_in_area(
        &self,
        district: Option<&str>,
        state: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT code FROM villages
                 WHERE ($1::text IS NULL OR lower(district) = lower($1))
                   AND ($2::text IS NULL OR lower(state) = lower($2))
                 ORDER BY code",
                &[&district, &state],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The villages a user is limited to (`None`: every village).
    pub async fn user_scope(&self, user_id: i64) -> StoreResult<VillageSet> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT village_code FROM user_villages WHERE user_id = $1 ORDER BY 1",
                &[&user_id],
            )
            .await?;
        if rows.is_empty() {
            Ok(None)
        } else {
            Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
        }
    }

    // ---- console sessions ---------------------------------------------------------------

    /// Give the session `token_hash` a CSRF token: it becomes a console (cookie) session.
    pub async fn attach_csrf(&self, token_hash: &str, csrf_token: &str) -> StoreResult<()> {
        let conn = self.conn().await?;
        let n = conn
            .execute(
                "UPDATE sessions SET csrf_token = $2 WHERE token_hash = $1",
                &[&token_hash, &csrf_token],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    /// The user of an unexpired console session and its CSRF token.
    pub async fn console_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<(User, String, OffsetDateTime)>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT u.id, u.username, u.role, s.csrf_token, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled
                   AND s.csrf_token IS NOT NULL",
                &[&token_hash, &now],
            )
            .await?;
        row.map(|r| {
            let role: String = r.get(2);
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
            Ok((
                User {
                    id: r.get(0),
                    username: r.get(1),
                    role,
                },
                r.get(3),
                r.get(4),
            ))
        })
        .transpose()
    }

    /// End every session of a user (console and bearer); audited. Returns how many ended.
    pub async fn end_sessions(&self, user_id: i64, actor: &str) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let n = tx
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?;
        audit::append(
            &tx,
            super::now(),
            &AuditEvent {
                actor,
                action: "session.end_all",
                target: &user_id.to_string(),
                detail: json!({"sessions": n}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    // ---- users (admin) ------------------------------------------------------------------

    pub async fn user_rows(&self) -> StoreResult<Vec<UserRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT u.id, u.username, u.role, u.disabled, u.created_at,
                        ARRAY(SELECT village_code FROM user_villages v WHERE v.user_id = u.id
                              ORDER BY 1),
                        (SELECT count(*) FROM sessions s WHERE s.user_id = u.id
                           AND s.expires_at > now())
                 FROM users u ORDER BY u.username",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.get(2);
                Ok(UserRow {
                    id: r.get(0),
                    username: r.get(1),
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
                    disabled: r.get(3),
                    created_at: r.get(4),
                    villages: r.get(5),
                    sessions: r.get(6),
                })
            })
            .collect()
    }

    /// Change a user's role and/or village scope; audited. Changing either ends the user's
    /// sessions, so a narrowed scope applies at once.
    pub async fn update_user(
        &self,
        username: &str,
        role: Option<Role>,
        villages: Option<&[String]>,
        actor: &str,
    ) -> StoreResult<()> {
        let villages = match villages {
            Some(v) if v.len() > USER_VILLAGES_MAX => {
                return Err(StoreError::Validation(ValidationError::new(
                    "villages",
                    "too_many",
                    format!("at most {USER_VILLAGES_MAX} villages"),
                )));
            }
            Some([]) => Some(Vec::new()),
            Some(v) => Some(super::nodes::parse_villages("villages", v)?),
            None => None,
        };
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id FROM users WHERE username = $1 FOR UPDATE",
                &[&username],
            )
            .await?
        else {
            return Err(StoreError::NotFound("user"));
        };
        let id: i64 = row.get(0);
        if let Some(role) = role {
            tx.execute(
                "UPDATE users SET role = $2 WHERE id = $1",
                &[&id, &role.as_str()],
            )
            .await?;
        }
        if let Some(villages) = &villages {
            tx.execute("DELETE FROM user_villages WHERE user_id = $1", &[&id])
                .await?;
            for v in villages {
                tx.execute(
                    "INSERT INTO user_villages (user_id, village_code) VALUES ($1, $2)",
                    &[&id, v],
                )
                .await?;
            }
        }
        let ended = tx
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&id])
            .await?;
        audit::append(
            &tx,
            super::now(),
            &AuditEvent {
                actor,
                action: "user.update",
                target: username,
                detail: json!({"role": role.map(Role::as_str), "villages": villages,
                               "sessions_ended": ended}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- devices ------------------------------------------------------------------------

    /// Enrollment tokens, newest first (hash prefixes only).
    pub async fn enrollment_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT left(token_hash, 16), villages, created_at, expires_at, used_at, used_by
                 FROM enrollment_tokens ORDER BY created_at DESC LIMIT $1",
                &[&TOKENS_LISTED_MAX],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| TokenRow {
                hash_prefix: r.get(0),
                villages: r.get(1),
                created_at: r.get(2),
                expires_at: r.get(3),
                used_at: r.get(4),
                used_by: r.get(5),
            })
            .collect())
    }

    // ---- farmers ------------------------------------------------------------------------

    /// One page of farmers (by name, then id) and, when asked, the total with these filters.
    pub async fn farmer_page(
        &self,
        filter: &FarmerFilter,
        limit: usize,
        with_total: bool,
    ) -> StoreResult<(Vec<FarmerRow>, Option<i64>)> {
        let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let name_pattern = q.map(|q| format!("%{}%", like_escape(q)));
        let digits: Option<String> = q
            .map(|q| q.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| d.len() >= 3)
            .map(|d| format!("%{d}%"));
        let (after_name, after_id) = match &filter.after {
            Some((n, id)) => (Some(n.as_str()), Some(*id)),
            None => (None, None),
        };
        let conditions =
            "($1::text IS NULL OR name ILIKE $1 OR ($2::text IS NOT NULL AND phone LIKE $2))
              AND ($3::text[] IS NULL OR village_code = ANY($3))";
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT id, name, phone, language, village_code, consent_sms, consent_voice,
                            consent_data_sharing, created_at, updated_at
                     FROM farmers
                     WHERE {conditions}
                       AND ($4::text IS NULL OR (name, id) > ($4, $5::uuid))
                     ORDER BY name, id LIMIT $6"
                ),
                &[
                    &name_pattern,
                    &digits,
                    &filter.villages,
                    &after_name,
                    &after_id,
                    &limit_i64(limit, EXPORT_ROWS_MAX),
                ],
            )
            .await?;
        let total = if with_total {
            Some(
                conn.query_one(
                    &format!("SELECT count(*) FROM farmers WHERE {conditions}"),
                    &[&name_pattern, &digits, &filter.villages],
                )
                .await?
                .get(0),
            )
        } else {
            None
        };
        Ok((rows.iter().map(farmer_from).collect(), total))
    }

    /// The farm ids and survey numbers of farmers (for a farmer page).
    pub async fn farm_counts(&self, farmer_ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64)>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT farmer_id, count(*) FROM farms WHERE farmer_id = ANY($1)
                 GROUP BY farmer_id",
                &[&farmer_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    // ---- alerts -------------------------------------------------------------------------

    /// One page of alerts of both sources, newest first, and the total when asked.
    pub async fn alert_page(
        &self,
        filter: &AlertFilter,
        limit: usize,
        with_total: bool,
    ) -> StoreResult<(Vec<AlertRow>, Option<i64>)> {
        let (before_at, before_key) = match &filter.before {
            Some((at, key)) => (Some(*at), Some(key.as_str())),
            None => (None, None),
        };
        let conditions = "($1::text[] IS NULL OR villages && $1)
              AND ($2::text IS NULL OR source = $2)
              AND (NOT $3 OR resolved_at IS NULL)
              AND ($4::text IS NULL OR node_id = $4)";
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT source, key, node_id, node_name, village_code, farm_id, kind,
                            severity, message, raised_at, resolved_at, notifications, delivered
                     FROM ({ALERTS_UNION}) a
                     WHERE {conditions}
                       AND ($5::timestamptz IS NULL OR (raised_at, key) < ($5, $6::text))
                     ORDER BY raised_at DESC, key DESC LIMIT $7"
                ),
                &[
                    &filter.villages,
                    &filter.source,
                    &filter.open_only,
                    &filter.node_id,
                    &before_at,
                    &before_key,
                    &limit_i64(limit, EXPORT_ROWS_MAX),
                ],
            )
            .await?;
        let total = if with_total {
            Some(
                conn.query_one(
                    &format!("SELECT count(*) FROM ({ALERTS_UNION}) a WHERE {conditions}"),
                    &[
                        &filter.villages,
                        &filter.source,
                        &filter.open_only,
                        &filter.node_id,
                    ],
                )
                .await?
                .get(0),
            )
        } else {
            None
        };
        let alerts = rows
            .iter()
            .map(|r| AlertRow {
                source: r.get(0),
                key: r.get(1),
                node_id: r.get(2),
                node_name: r.get(3),
                village_code: r.get(4),
                farm_id: r.get(5),
                kind: r.get(6),
                severity: r.get(7),
                message: r.get(8),
                raised_at: r.get(9),
                resolved_at: r.get(10),
                notifications: r.get(11),
                delivered: r.get(12),
            })
            .collect();
        Ok((alerts, total))
    }

    /// Open alerts of a farm (edge rules).
    pub async fn open_alerts_of_farm(&self, farm_id: Uuid) -> StoreResult<Vec<AlertRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT source, key, node_id, node_name, village_code, farm_id, kind,
                            severity, message, raised_at, resolved_at, notifications, delivered
                     FROM ({ALERTS_UNION}) a
                     WHERE farm_id = $1 AND resolved_at IS NULL
                     ORDER BY raised_at DESC LIMIT 50"
                ),
                &[&farm_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AlertRow {
                source: r.get(0),
                key: r.get(1),
                node_id: r.get(2),
                node_name: r.get(3),
                village_code: r.get(4),
                farm_id: r.get(5),
                kind: r.get(6),
                severity: r.get(7),
                message: r.get(8),
                raised_at: r.get(9),
                resolved_at: r.get(10),
                notifications: r.get(11),
                delivered: r.get(12),
            })
            .collect())
    }

    // ---- delivery and advisories --------------------------------------------------------

    /// Notification delivery per village and channel since `from` (a local day).
    pub async fn delivery(
        &self,
        villages: Option<&[String]>,
        from: time::Date,
    ) -> StoreResult<Vec<DeliveryRow>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT village_code, channel, sum(attempts)::bigint, sum(delivered)::bigint,
                        sum(failed)::bigint
                 FROM delivery_stats
                 WHERE day >= $1 AND ($2::text[] IS NULL OR village_code = ANY($2))
                 GROUP BY village_code, channel ORDER BY village_code, channel",
                &[&from, &villages],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeliveryRow {
                village_code: r.get(0),
                channel: r.get(1),
                attempts: r.get(2),
                delivered: r.get(3),
                failed: r.get(4),
            })
            .collect())
    }

    /// Per village: when an advisory reached the box and how many farmers it reached.
    pub async fn advisory_reach(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, AdvisoryReach)>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT advisory_id, village_code, node_id, received_at, notifications, delivered
                 FROM advisory_delivery WHERE advisory_id = ANY($1)
                 ORDER BY advisory_id, village_code",
                &[&ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    AdvisoryReach {
                        village_code: r.get(1),
                        node_id: r.get(2),
                        received_at: r.get(3),
                        notifications: r.get(4),
                        delivered: r.get(5),
                    },
                )
            })
            .collect())
    }

    /// One page of advisories, newest first (by seq), for `villages`, and the total.
    pub async fn advisory_page(
        &self,
        villages: Option<&[String]>,
        before_seq: Option<u64>,
        limit: usize,
        with_total: bool,
    ) -> StoreResult<(Vec<super::advisories::Advisory>, Option<i64>)> {
        let before = before_seq.map(|s| super::to_i64("cursor", s)).transpose()?;
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT id, seq, village_codes, kind, title, body, valid_from, valid_until,
                        created_by, created_at
                 FROM advisories
                 WHERE ($1::text[] IS NULL OR village_codes && $1)
                   AND ($2::bigint IS NULL OR seq < $2)
                 ORDER BY seq DESC LIMIT $3",
                &[&villages, &before, &limit_i64(limit, EXPORT_ROWS_MAX)],
            )
            .await?;
        let total = if with_total {
            Some(
                conn.query_one(
                    "SELECT count(*) FROM advisories
                     WHERE $1::text[] IS NULL OR village_codes && $1",
                    &[&villages],
                )
                .await?
                .get(0),
            )
        } else {
            None
        };
        let list = rows
            .iter()
            .map(|r| {
                Ok(super::advisories::Advisory {
                    id: r.get(0),
                    seq: super::to_u64("advisories.seq", r.get(1))?,
                    village_codes: r.get(2),
                    kind: r.get(3),
                    title: r.get(4),
                    body: r.get(5),
                    valid_from: r.get(6),
                    valid_until: r.get(7),
                    created_by: r.get(8),
                    created_at: r.get(9),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((list, total))
    }

    // ---- trends -------------------------------------------------------------------------

    /// Trend buckets over several sensors at once (a farm's or a village's), with the same
    /// bucketing and percentiles as [`Store::trends`].
    pub async fn trends_of(
        &self,
        sensor_ids: &[String],
        metric: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        bucket_seconds: i64,
    ) -> StoreResult<Vec<super::readings::TrendBucket>> {
        use super::readings::{TREND_BUCKETS_MAX, TrendBucket};
        if to <= from {
            return Err(StoreError::Validation(ValidationError::new(
                "to",
                "out_of_range",
                "to must be after from",
            )));
        }
        let span = (to - from).whole_seconds();
        if bucket_seconds <= 0 || span / bucket_seconds > TREND_BUCKETS_MAX {
            return Err(StoreError::Validation(ValidationError::new(
                "bucket",
                "too_many_buckets",
                format!("at most {TREND_BUCKETS_MAX} buckets per query; widen the bucket"),
            )));
        }
        if sensor_ids.len() > TREND_SENSORS_MAX {
            return Err(StoreError::Validation(ValidationError::new(
                "sensors",
                "too_many",
                format!("at most {TREND_SENSORS_MAX} sensors per trend"),
            )));
        }
        let bucket_fn = match self.readings_backend() {
            ReadingsBackend::Native => "date_bin($5::bigint * interval '1 second', ts, $3)",
            ReadingsBackend::Timescale => {
                "time_bucket($5::bigint * interval '1 second', ts, origin => $3)"
            }
        };
        let sql = format!(
            "SELECT {bucket_fn} AS bucket, avg(value),
                    percentile_cont(0.25) WITHIN GROUP (ORDER BY value),
                    percentile_cont(0.75) WITHIN GROUP (ORDER BY value),
                    min(value), max(value), count(*)
             FROM readings
             WHERE sensor_id = ANY($1) AND metric = $2 AND ts >= $3 AND ts < $4
             GROUP BY bucket ORDER BY bucket"
        );
        let conn = self.conn().await?;
        let rows = conn
            .query(&sql, &[&sensor_ids, &metric, &from, &to, &bucket_seconds])
            .await?;
        Ok(rows
            .iter()
            .map(|r| TrendBucket {
                start: r.get(0),
                avg: r.get(1),
                p25: r.get(2),
                p75: r.get(3),
                min: r.get(4),
                max: r.get(5),
                count: r.get(6),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn village_sets_intersect() {
        let a = Some(vec!["1".to_owned(), "2".to_owned()]);
        let b = Some(vec!["2".to_owned(), "3".to_owned()]);
        assert_eq!(intersect(None, None), None);
        assert_eq!(intersect(a.clone(), None), a);
        assert_eq!(intersect(None, b.clone()), b);
        assert_eq!(intersect(a, b), Some(vec!["2".to_owned()]));
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
