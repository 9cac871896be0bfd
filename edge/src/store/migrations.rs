//! Versioned SQLite schema migrations (rusqlite_migration, tracked in `user_version`).
//!
//! Migrations only ever append: a shipped migration is never edited, because village boxes in
//! the field upgrade from any older version. Each runs in its own transaction at start-up.

use rusqlite_migration::{M, Migrations};

/// Version 1: node identity, farmer documents, change log, projections, users, sessions, audit.
const V1: &str = r#"
CREATE TABLE node_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- One automerge document per farmer: the source of truth for everything people edit.
CREATE TABLE documents (
    doc_id       TEXT PRIMARY KEY,          -- the farmer id
    village_code TEXT NOT NULL,
    saved        BLOB NOT NULL,             -- automerge save()
    heads        TEXT NOT NULL,             -- JSON array of hex change hashes
    updated_ms   INTEGER NOT NULL
) STRICT;

-- Every automerge change committed or received here, in local order: what sync ships.
CREATE TABLE change_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    bytes      BLOB NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    author     TEXT,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX change_log_doc ON change_log (doc_id, seq);

-- Projections: derived from the documents in the same transaction, for queries only.
CREATE TABLE farmers (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    phone                TEXT NOT NULL,
    language             TEXT NOT NULL,
    village_code         TEXT NOT NULL,
    consent_sms          INTEGER NOT NULL,
    consent_voice        INTEGER NOT NULL,
    consent_data_sharing INTEGER NOT NULL,
    created_ms           INTEGER NOT NULL,
    updated_ms           INTEGER NOT NULL
) STRICT;
CREATE INDEX farmers_phone ON farmers (phone);
CREATE INDEX farmers_village_name ON farmers (village_code, name);

CREATE TABLE farms (
    id               TEXT PRIMARY KEY,
    farmer_id        TEXT NOT NULL,
    survey_number    TEXT NOT NULL,
    declared_area_ha REAL NOT NULL,
    area_ha          REAL NOT NULL,
    centroid_lat     REAL NOT NULL,
    centroid_lon     REAL NOT NULL,
    boundary         TEXT NOT NULL,          -- GeoJSON geometry
    crops            TEXT NOT NULL           -- JSON array
) STRICT;
CREATE INDEX farms_farmer ON farms (farmer_id);

CREATE TABLE soil_tests (
    id         TEXT PRIMARY KEY,
    farm_id    TEXT NOT NULL,
    farmer_id  TEXT NOT NULL,
    sampled_on TEXT NOT NULL,
    lab        TEXT NOT NULL,
    parameters TEXT NOT NULL                 -- JSON object key -> value
) STRICT;
CREATE INDEX soil_tests_farm ON soil_tests (farm_id, sampled_on);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    villages      TEXT NOT NULL,            -- JSON array of village codes (agents)
    created_ms    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,            -- sha256 of the bearer token; the token itself is never stored
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expiry ON sessions (expires_ms);

-- Append-only, hash-chained security audit log.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    ts_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#;

/// Version 2: sync with the cloud — identity and cursors, the outbox of the pending signed
/// request, sensor readings (append-only, shipped by id), advisories that came down, and the
/// quarantine of input that could not be processed.
const V2: &str = r#"
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The one request in flight: stored before it is sent, resent verbatim until answered.
CREATE TABLE sync_outbox (
    seq        INTEGER PRIMARY KEY,
    envelope   BLOB NOT NULL,
    up_to_seq  INTEGER NOT NULL,            -- highest change_log.seq in the request
    readings_to_id INTEGER NOT NULL,        -- highest readings.id in the request
    created_ms INTEGER NOT NULL
) STRICT;

-- Sensor readings: rowid = arrival order = the sync cursor; (sensor, metric, ts) is the key.
CREATE TABLE readings (
    id          INTEGER PRIMARY KEY,
    sensor_id   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    value       REAL NOT NULL,
    received_ms INTEGER NOT NULL,
    flags       INTEGER NOT NULL DEFAULT 0   -- bit 0: timestamp assigned on receipt
) STRICT;
CREATE UNIQUE INDEX readings_key ON readings (sensor_id, metric, ts_ms);

CREATE TABLE advisories (
    id             TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    village_codes  TEXT NOT NULL,          -- JSON array
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,          -- JSON object
    valid_from_ms  INTEGER NOT NULL,
    valid_until_ms INTEGER,
    created_ms     INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL
) STRICT;
CREATE INDEX advisories_kind ON advisories (kind, valid_from_ms);

-- Anti-entropy: documents found to differ from the cloud, with the next automerge sync message
-- to send for each (NULL: start a fresh exchange).
CREATE TABLE anti_entropy (
    doc_id  TEXT PRIMARY KEY,
    message BLOB
) STRICT;

-- What could not be processed is kept, never dropped.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    bytes       BLOB NOT NULL
) STRICT;
"#;

/// Version 3: the sensor registry. A sensor is placed at a point and linked to the farm whose
/// boundary contains it (`farm_link = 'auto'`, recomputed when boundaries change) or to a farm
/// named explicitly (`farm_link = 'explicit'`, kept). `secret_hash` is the argon2id hash of the
/// sensor's MQTT password for the embedded broker (NULL: no broker login).
const V3: &str = r#"
CREATE TABLE sensors (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    lat          REAL,
    lon          REAL,
    farm_id      TEXT,
    farm_link    TEXT NOT NULL DEFAULT 'auto' CHECK (farm_link IN ('auto', 'explicit')),
    village_code TEXT,
    secret_hash  TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX sensors_farm ON sensors (farm_id);
"#;

/// MQTT ingest, retention and local alerts: dead letters (what ingest could not store, kept
/// byte for byte), hourly rollups of readings older than the raw retention, alert rules added
/// through the API, and alerts (at most one open per rule and sensor).
const V_INGEST: &str = r#"
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,
    payload     BLOB NOT NULL,
    reason      TEXT NOT NULL,               -- stable code, e.g. malformed, unknown_sensor
    detail      TEXT NOT NULL,
    received_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX dead_letters_received ON dead_letters (received_ms);

CREATE TABLE readings_hourly (
    sensor_id TEXT NOT NULL,
    metric    TEXT NOT NULL,
    hour_ms   INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    sum       REAL NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    PRIMARY KEY (sensor_id, metric, hour_ms)
) STRICT;

CREATE TABLE alert_rules (
    id         TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,                -- JSON of the rule
    created_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL
) STRICT;

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    sensor_id   TEXT NOT NULL,
    metric      TEXT,
    farm_id     TEXT,
    farmer_id   TEXT,
    value       REAL,
    message     TEXT NOT NULL,
    raised_ms   INTEGER NOT NULL,
    resolved_ms INTEGER,
    acked_ms    INTEGER,
    acked_by    TEXT
) STRICT;
CREATE UNIQUE INDEX alerts_open ON alerts (rule_id, sensor_id) WHERE resolved_ms IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_ms);
"#;

/// Every migration, oldest first. New versions are appended here (one line each).
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V_INGEST),
        // next version here
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
