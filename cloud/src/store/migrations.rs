//! Versioned, append-only schema migrations, applied at the start of `serve` and `migrate`.
//!
//! - A shipped migration is never edited: servers upgrade from any older version. Each one is
//!   recorded in `schema_migrations` with the SHA-256 of its SQL, and a changed checksum stops
//!   the server instead of silently diverging.
//! - They run under a session-level advisory lock on their own connection, so two servers
//!   starting at once migrate exactly once; each migration commits with its record.
//! - The readings table depends on the server: a TimescaleDB hypertable when the `timescaledb`
//!   extension can be created, else native declarative partitioning by range of `ts` with a
//!   DEFAULT partition (see `partitions.rs`). The choice is made once, recorded in `cloud_meta`,
//!   and kept afterwards.

use sha2::{Digest, Sha256};

use super::{LOCK_NAMESPACE, StoreError, StoreResult, connect_one, lock_keys};

/// Version 1: documents, change log, projections (PostGIS), devices, users, audit, quarantine,
/// advisories.
const V1_CORE: &str = r#"
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE cloud_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- One automerge document per farmer (doc_id = farmer id): the source of truth.
CREATE TABLE documents (
    doc_id       uuid PRIMARY KEY,
    village_code text NOT NULL,
    saved        bytea NOT NULL,            -- automerge save()
    heads        text[] NOT NULL,           -- sorted hex change hashes
    updated_at   timestamptz NOT NULL
);
CREATE INDEX documents_village ON documents (village_code, doc_id);

-- Every change the cloud holds, in the order it became visible: what edges pull (down).
CREATE TABLE change_log (
    seq          bigserial PRIMARY KEY,
    doc_id       uuid NOT NULL,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    bytes        bytea NOT NULL,
    origin_node  text,                      -- NULL: made in the cloud
    village_code text NOT NULL,
    received_at  timestamptz NOT NULL
);
-- "seq > cursor AND village_code = ANY($villages)": one index range per village.
CREATE INDEX change_log_village_seq ON change_log (village_code, seq) INCLUDE (origin_node);

-- Projections: derived from the documents in the same transaction, for queries only.
CREATE TABLE farmers (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL,
    phone                text NOT NULL,
    language             text NOT NULL,
    village_code         text NOT NULL,
    consent_sms          boolean NOT NULL,
    consent_voice        boolean NOT NULL,
    consent_data_sharing boolean NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX farmers_village_name ON farmers (village_code, name, id);
CREATE INDEX farmers_phone ON farmers (phone);
CREATE INDEX farmers_name_trgm ON farmers USING gin (name gin_trgm_ops);

CREATE TABLE farms (
    id               uuid PRIMARY KEY,
    farmer_id        uuid NOT NULL REFERENCES farmers (id) ON DELETE CASCADE,
    village_code     text NOT NULL,
    survey_number    text NOT NULL,
    declared_area_ha double precision NOT NULL,
    area_ha          double precision NOT NULL,   -- geodesic (WGS84), by farmco_sync::Boundary
    boundary         geometry(MultiPolygon, 4326) NOT NULL,
    centroid         geometry(Point, 4326) NOT NULL,
    crops            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX farms_farmer ON farms (farmer_id);
-- Distance queries run on geography (metres on the spheroid); index that expression.
CREATE INDEX farms_boundary_geography ON farms USING gist ((boundary::geography));

CREATE TABLE soil_tests (
    id         uuid PRIMARY KEY,
    farm_id    uuid NOT NULL,
    farmer_id  uuid NOT NULL REFERENCES farmers (id) ON DELETE CASCADE,
    sampled_on date NOT NULL,
    lab        text NOT NULL,
    parameters jsonb NOT NULL
);
CREATE INDEX soil_tests_farm ON soil_tests (farm_id, sampled_on);
CREATE INDEX soil_tests_farmer ON soil_tests (farmer_id);

-- Edge nodes. node_id is the hex of the ed25519 public key.
CREATE TABLE nodes (
    node_id          text PRIMARY KEY CHECK (node_id ~ '^[0-9a-f]{64}$'),
    public_key       bytea NOT NULL CHECK (length(public_key) = 32),
    name             text NOT NULL,
    villages         text[] NOT NULL,
    software_version text NOT NULL,
    enrolled_at      timestamptz NOT NULL,
    revoked_at       timestamptz,
    last_seen_at     timestamptz,
    heartbeat        jsonb,
    up_acked         bigint NOT NULL DEFAULT 0,
    readings_acked   bigint NOT NULL DEFAULT 0,
    replay_seq       bigint,
    replay_digest    bytea CHECK (length(replay_digest) = 32),
    replay_response  bytea,
    down_cursor_hint bigint
);

-- One-time enrollment tokens, stored as the SHA-256 of the token.
CREATE TABLE enrollment_tokens (
    token_hash text PRIMARY KEY,
    villages   text[] NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    text
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,            -- argon2id PHC string
    role          text NOT NULL CHECK (role IN ('ops', 'admin')),
    created_at    timestamptz NOT NULL,
    disabled      boolean NOT NULL DEFAULT false
);

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,            -- sha256 of the bearer token
    user_id    bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Append-only, hash-chained security audit log.
CREATE TABLE audit_log (
    seq       bigint PRIMARY KEY,
    ts_ms     bigint NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    detail    text NOT NULL,                -- JSON text, hashed byte for byte
    prev_hash text NOT NULL,
    hash      text NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- What could not be processed is kept, never dropped.
CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    node_id     text,
    doc_id      uuid,
    received_at timestamptz NOT NULL,
    reason      text NOT NULL,
    bytes       bytea NOT NULL
);
CREATE INDEX quarantine_node ON quarantine (node_id, id);

-- Notices for villages (mandi prices, weather, pests), shipped down by seq.
CREATE TABLE advisories (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    village_codes text[] NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('mandi_price', 'weather', 'pest', 'general')),
    title         text NOT NULL,
    body          jsonb NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX advisories_villages ON advisories USING gin (village_codes);
"#;

/// Version 2, native flavour: readings partitioned by range of `ts`. The primary key carries
/// `value` as an INCLUDE column, so the one unique index is also the covering index of the
/// trend queries (the design brief measured 196 ms → 20.5 ms for a weekly trend with it),
/// and COPY maintains one index per row instead of two.
const V2_READINGS_NATIVE: &str = r#"
CREATE TABLE readings (
    sensor_id text NOT NULL,
    metric    text NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL,
    node_id   text,
    PRIMARY KEY (sensor_id, metric, ts) INCLUDE (value)
) PARTITION BY RANGE (ts);
-- Rows outside every dated partition land here: nothing is ever rejected.
CREATE TABLE readings_default PARTITION OF readings DEFAULT;
INSERT INTO cloud_meta (key, value) VALUES ('readings_backend', 'native');
"#;

/// Version 2, TimescaleDB flavour: a hypertable with daily chunks (not exercised here:
/// timescaledb is not installable on this machine).
const V2_READINGS_TIMESCALE: &str = r#"
CREATE TABLE readings (
    sensor_id text NOT NULL,
    metric    text NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL,
    node_id   text,
    PRIMARY KEY (sensor_id, metric, ts) INCLUDE (value)
);
SELECT create_hypertable('readings', 'ts', chunk_time_interval => INTERVAL '1 day');
INSERT INTO cloud_meta (key, value) VALUES ('readings_backend', 'timescaledb');
"#;

/// Version 3 (review 2026-12, finding 3): quarantine rows may keep only the SHA-256 and the
/// size of refused bytes (unauthenticated senders, or a full quarantine).
const V3_QUARANTINE_HASHES: &str = r#"
ALTER TABLE quarantine ALTER COLUMN bytes DROP NOT NULL;
ALTER TABLE quarantine ADD COLUMN bytes_sha256 bytea;
ALTER TABLE quarantine ADD COLUMN bytes_len bigint;
UPDATE quarantine SET bytes_sha256 = sha256(bytes), bytes_len = octet_length(bytes);
ALTER TABLE quarantine ALTER COLUMN bytes_sha256 SET NOT NULL;
ALTER TABLE quarantine ALTER COLUMN bytes_len SET NOT NULL;
"#;

/// Version 4 (review 2026-12, finding 11): readings are keyed by node too. Sensor ids are
/// only unique per edge node, so `soil-1` of two villages must not collide (the first writer
/// won and the other node's readings were silently dropped). The key's column order keeps
/// (sensor_id, metric, ts) leading, so it stays the covering index of the trend queries;
/// readings without a node (made in the cloud) get the empty node id.
const V4_READINGS_BY_NODE: &str = r#"
UPDATE readings SET node_id = '' WHERE node_id IS NULL;
ALTER TABLE readings ALTER COLUMN node_id SET DEFAULT '';
ALTER TABLE readings ALTER COLUMN node_id SET NOT NULL;
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
ALTER TABLE readings ADD PRIMARY KEY (sensor_id, metric, ts, node_id) INCLUDE (value);
"#;

/// Version 5 (review 2026-12, finding 8): a re-enrollment token names the one node it may
/// re-enroll, so an ordinary token never rewrites an active node's villages.
const V5_REENROLL_TOKENS: &str = r#"
ALTER TABLE enrollment_tokens ADD COLUMN reenroll_node_id text;
"#;

/// Version 6: what the ops console needs (issue 13). The map reads farms through a Web Mercator
/// copy of each boundary (a stored generated column with its own GiST index, so a tile query is
/// one index range scan and no per-row transform) and the colouring facts kept on the farm row
/// (last crop: generated; last soil pH/N: triggers on soil tests); the fleet keeps each node's last health
/// (typed, for sorting and thresholds) and a thinned history for charts; what edges report in
/// their heartbeats (alerts of local rules, delivery per village and channel, advisories'
/// reach, sensors) lands in tables of its own; the cloud's own fleet alerts; a village registry
/// (names, district, state) for filters; console sessions carry a CSRF token; an ops user may
/// be limited to some villages.
const V6_CONSOLE: &str = r#"
ALTER TABLE farms ADD COLUMN boundary_3857 geometry(MultiPolygon, 3857)
    GENERATED ALWAYS AS (ST_Transform(boundary, 3857)) STORED;
CREATE INDEX farms_boundary_3857 ON farms USING gist (boundary_3857);
ALTER TABLE farms ADD COLUMN centroid_3857 geometry(Point, 3857)
    GENERATED ALWAYS AS (ST_Transform(centroid, 3857)) STORED;

-- What the map colours farms by, kept on the farm row so a tile reads no other table per
-- farm (measured: the per-farm subqueries cost more than the geometry work of a z12 tile).
-- The crop sown last:
CREATE FUNCTION farmco_current_crop(crops jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT c->>'crop' FROM jsonb_array_elements(crops) c
          ORDER BY c->>'sowing_date' DESC LIMIT 1 $$;
ALTER TABLE farms ADD COLUMN crop_now text GENERATED ALWAYS AS (farmco_current_crop(crops)) STORED;
-- pH and N of the last soil test, maintained by triggers (a farm row is written before its
-- tests when projections are rebuilt, and a test may arrive for an existing farm).
ALTER TABLE farms ADD COLUMN soil_ph double precision, ADD COLUMN soil_n double precision;
CREATE FUNCTION farmco_farm_soil_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT (t.parameters->>'ph')::float8, (t.parameters->>'n')::float8
      INTO NEW.soil_ph, NEW.soil_n
      FROM soil_tests t WHERE t.farm_id = NEW.id
     ORDER BY t.sampled_on DESC, t.id DESC LIMIT 1;
    RETURN NEW;
END;
$$;
CREATE TRIGGER farms_soil_on_insert BEFORE INSERT ON farms
    FOR EACH ROW EXECUTE FUNCTION farmco_farm_soil_on_insert();
CREATE FUNCTION farmco_soil_test_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    farm uuid;
BEGIN
    FOREACH farm IN ARRAY CASE TG_OP
        WHEN 'INSERT' THEN ARRAY[NEW.farm_id]
        WHEN 'DELETE' THEN ARRAY[OLD.farm_id]
        ELSE ARRAY[OLD.farm_id, NEW.farm_id] END
    LOOP
        UPDATE farms SET (soil_ph, soil_n) = (
            SELECT (t.parameters->>'ph')::float8, (t.parameters->>'n')::float8
              FROM soil_tests t WHERE t.farm_id = farm
             ORDER BY t.sampled_on DESC, t.id DESC LIMIT 1)
         WHERE id = farm;
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE TRIGGER soil_tests_latest AFTER INSERT OR UPDATE OR DELETE ON soil_tests
    FOR EACH ROW EXECUTE FUNCTION farmco_soil_test_changed();
UPDATE farms f SET (soil_ph, soil_n) = (
    SELECT (t.parameters->>'ph')::float8, (t.parameters->>'n')::float8
      FROM soil_tests t WHERE t.farm_id = f.id
     ORDER BY t.sampled_on DESC, t.id DESC LIMIT 1);
CREATE INDEX farms_village ON farms (village_code, id);
CREATE INDEX farmers_name_id ON farmers (name, id);

-- Villages known by name; codes not listed here still work everywhere (shown as the code).
CREATE TABLE villages (
    code     text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name     text NOT NULL,
    district text NOT NULL,
    state    text NOT NULL
);
CREATE INDEX villages_area ON villages (state, district);

-- The last health each node reported (wire version 2; NULLs from older edges).
CREATE TABLE node_health (
    node_id             text PRIMARY KEY REFERENCES nodes (node_id),
    received_at         timestamptz NOT NULL,
    clock_offset_ms     bigint NOT NULL,
    change_backlog      bigint NOT NULL,
    readings_backlog    bigint NOT NULL,
    backlog_streak      integer NOT NULL DEFAULT 0,  -- history points in a row the backlog grew
    disk_free_bytes     bigint NOT NULL,
    disk_total_bytes    bigint,
    modem_state         text,
    modem_registration  text,
    modem_signal_dbm    integer,
    modem_signal_rssi   integer,
    modem_operator      text,
    sms_sent_today      integer,
    sms_daily_cap       integer,
    sms_outbox_backlog  integer,
    sms_failed_today    integer,
    open_alerts         integer
);

-- Heartbeats over time, thinned to one per node per interval (fleet.heartbeat_history_*).
CREATE TABLE node_heartbeats (
    node_id     text NOT NULL REFERENCES nodes (node_id),
    received_at timestamptz NOT NULL,
    health      jsonb NOT NULL,
    PRIMARY KEY (node_id, received_at)
);

-- Alerts raised by edges' local rules, as their heartbeats report them (upserted).
CREATE TABLE edge_alerts (
    node_id       text NOT NULL REFERENCES nodes (node_id),
    edge_alert_id bigint NOT NULL,
    village_code  text,
    farm_id       uuid,
    sensor_id     text NOT NULL,
    rule_id       text NOT NULL,
    kind          text NOT NULL,
    severity      text NOT NULL,
    message       text NOT NULL,
    value         double precision,
    raised_at     timestamptz NOT NULL,
    resolved_at   timestamptz,
    notifications integer NOT NULL,
    delivered     integer NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (node_id, edge_alert_id)
);
CREATE INDEX edge_alerts_open_farm ON edge_alerts (farm_id) WHERE resolved_at IS NULL;
CREATE INDEX edge_alerts_raised ON edge_alerts (raised_at DESC);

-- Alerts the cloud raises about nodes (silent, disk low, modem, backlog, clock).
CREATE TABLE fleet_alerts (
    id          bigserial PRIMARY KEY,
    node_id     text NOT NULL REFERENCES nodes (node_id),
    kind        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('amber', 'red')),
    message     text NOT NULL,
    raised_at   timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX fleet_alerts_open ON fleet_alerts (node_id, kind) WHERE resolved_at IS NULL;
CREATE INDEX fleet_alerts_raised ON fleet_alerts (raised_at DESC);

-- Notification delivery per village, local day and channel, as the edges count it.
CREATE TABLE delivery_stats (
    village_code text NOT NULL,
    day          date NOT NULL,
    channel      text NOT NULL,
    node_id      text NOT NULL REFERENCES nodes (node_id),
    attempts     integer NOT NULL,
    delivered    integer NOT NULL,
    failed       integer NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (village_code, day, channel, node_id)
);

-- How far each advisory reached in each village.
CREATE TABLE advisory_delivery (
    advisory_id   uuid NOT NULL REFERENCES advisories (id),
    village_code  text NOT NULL,
    node_id       text NOT NULL REFERENCES nodes (node_id),
    received_at   timestamptz NOT NULL,
    notifications integer NOT NULL,
    delivered     integer NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (advisory_id, village_code)
);

-- Sensors registered on edges (ids are unique across the deployment, like readings').
CREATE TABLE sensors (
    sensor_id    text PRIMARY KEY,
    node_id      text NOT NULL REFERENCES nodes (node_id),
    kind         text NOT NULL,
    farm_id      uuid,
    village_code text,
    lat          double precision,
    lon          double precision,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX sensors_farm ON sensors (farm_id);

-- Console sessions are cookie sessions with a CSRF token (NULL: a bearer-token session).
ALTER TABLE sessions ADD COLUMN csrf_token text;
CREATE INDEX sessions_user ON sessions (user_id);

-- Villages an ops user is limited to; none: every village.
CREATE TABLE user_villages (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    village_code text NOT NULL,
    PRIMARY KEY (user_id, village_code)
);
"#;

/// How readings are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingsBackend {
    /// Native declarative partitioning, partitions maintained by `partitions.rs`.
    Native,
    /// A TimescaleDB hypertable (chunks managed by the extension).
    Timescale,
}

impl ReadingsBackend {
    fn parse(s: &str) -> StoreResult<ReadingsBackend> {
        match s {
            "native" => Ok(ReadingsBackend::Native),
            "timescaledb" => Ok(ReadingsBackend::Timescale),
            other => Err(StoreError::Corrupt(format!(
                "cloud_meta.readings_backend = {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Sql(&'static str),
    /// SQL chosen by the readings backend.
    Readings,
}

#[derive(Debug, Clone, Copy)]
struct Migration {
    version: i32,
    name: &'static str,
    body: Body,
}

/// Every migration, in order. Append only.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        body: Body::Sql(V1_CORE),
    },
    Migration {
        version: 2,
        name: "readings",
        body: Body::Readings,
    },
    Migration {
        version: 3,
        name: "quarantine_hashes",
        body: Body::Sql(V3_QUARANTINE_HASHES),
    },
    Migration {
        version: 4,
        name: "readings_by_node",
        body: Body::Sql(V4_READINGS_BY_NODE),
    },
    Migration {
        version: 5,
        name: "reenroll_tokens",
        body: Body::Sql(V5_REENROLL_TOKENS),
    },
    Migration {
        version: 6,
        name: "console",
        body: Body::Sql(V6_CONSOLE),
    },
];

/// What a run did.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// Versions applied by this run (empty when the schema was current).
    pub applied: Vec<i32>,
    pub readings_backend: ReadingsBackend,
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

fn sql_of(body: Body, backend: ReadingsBackend) -> &'static str {
    match (body, backend) {
        (Body::Sql(sql), _) => sql,
        (Body::Readings, ReadingsBackend::Native) => V2_READINGS_NATIVE,
        (Body::Readings, ReadingsBackend::Timescale) => V2_READINGS_TIMESCALE,
    }
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Apply every pending migration (idempotent).
pub async fn run(config: &super::DbTarget) -> StoreResult<MigrationReport> {
    let mut client = connect_one(config).await?;
    client
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&LOCK_NAMESPACE, &lock_keys::MIGRATIONS],
        )
        .await?;
    let result = run_locked(&mut client).await;
    // The lock also ends with the connection, which is dropped right after.
    let _ = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&LOCK_NAMESPACE, &lock_keys::MIGRATIONS],
        )
        .await;
    result
}

async fn run_locked(client: &mut tokio_postgres::Client) -> StoreResult<MigrationReport> {
    let fresh: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NULL", &[])
        .await?
        .get(0);
    if fresh {
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                     version    integer PRIMARY KEY,
                     name       text NOT NULL,
                     checksum   text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await?;
    }
    let applied: Vec<(i32, String, String)> = client
        .query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    if let Some((v, ..)) = applied.iter().find(|(v, ..)| *v > latest_version()) {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {v}, newer than this binary knows ({}); \
             upgrade farmco-cloud",
            latest_version()
        )));
    }
    let mut backend = stored_backend(client).await?;
    let mut report = MigrationReport {
        applied: Vec::new(),
        readings_backend: backend.unwrap_or(ReadingsBackend::Native),
    };
    for m in MIGRATIONS {
        if let Some((_, name, sum)) = applied.iter().find(|(v, ..)| *v == m.version) {
            let chosen = backend.unwrap_or(ReadingsBackend::Native);
            if *sum != checksum(sql_of(m.body, chosen)) || name != m.name {
                return Err(StoreError::Corrupt(format!(
                    "migration {} ({}) differs from the one applied to this database; \
                     shipped migrations must never be edited",
                    m.version, m.name
                )));
            }
            continue;
        }
        let chosen = match (m.body, backend) {
            (Body::Readings, None) => detect_backend(client).await?,
            (_, Some(b)) => b,
            (Body::Sql(_), None) => ReadingsBackend::Native,
        };
        let sql = sql_of(m.body, chosen);
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &checksum(sql)],
        )
        .await?;
        tx.commit().await?;
        if matches!(m.body, Body::Readings) {
            backend = Some(chosen);
        }
        report.applied.push(m.version);
    }
    report.readings_backend = stored_backend(client)
        .await?
        .unwrap_or(ReadingsBackend::Native);
    Ok(report)
}

async fn stored_backend(client: &tokio_postgres::Client) -> StoreResult<Option<ReadingsBackend>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('cloud_meta') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT value FROM cloud_meta WHERE key = 'readings_backend'",
            &[],
        )
        .await?;
    row.map(|r| ReadingsBackend::parse(r.get::<_, &str>(0)))
        .transpose()
}

/// TimescaleDB if the extension is available *and* can be created (it also needs
/// `shared_preload_libraries`), else native partitioning.
async fn detect_backend(client: &mut tokio_postgres::Client) -> StoreResult<ReadingsBackend> {
    let available: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
            &[],
        )
        .await?
        .get(0);
    if !available {
        tracing::info!("timescaledb is not available; readings use native partitioning");
        return Ok(ReadingsBackend::Native);
    }
    let tx = client.transaction().await?;
    match tx
        .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .await
    {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!("readings use a timescaledb hypertable");
            Ok(ReadingsBackend::Timescale)
        }
        Err(e) => {
            tx.rollback().await?;
            tracing::warn!(error = %e, "timescaledb is available but cannot be created; readings use native partitioning");
            Ok(ReadingsBackend::Native)
        }
    }
}

/// Versions recorded in `schema_migrations` (for tests and `migrate`'s output).
pub async fn applied_versions(client: &tokio_postgres::Client) -> StoreResult<Vec<i32>> {
    Ok(client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
    }
}
