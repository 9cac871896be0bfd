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

/// Voice and notifications (issue #6): the persistent callback queue, the call log with every
/// spoken text and key, agents' call-back tasks; farmers' notification preferences, the
/// notifications routed and every delivery attempt with its outcome.
const V_VOICE: &str = r#"
CREATE TABLE voice_callbacks (
    id           INTEGER PRIMARY KEY,
    number       TEXT NOT NULL,                 -- E.164
    farmer_id    TEXT NOT NULL,
    reason       TEXT NOT NULL CHECK (reason IN ('rang_off', 'missed_call_mode')),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'dialing', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_ms       INTEGER NOT NULL,
    local_day    INTEGER NOT NULL,              -- the local day it counts on (daily limit)
    last_outcome TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX voice_callbacks_due ON voice_callbacks (state, due_ms);
CREATE INDEX voice_callbacks_number ON voice_callbacks (number, local_day);

CREATE TABLE voice_calls (
    id          INTEGER PRIMARY KEY,
    direction   TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    number      TEXT,                           -- NULL: withheld
    farmer_id   TEXT,
    callback_id INTEGER REFERENCES voice_callbacks (id),
    language    TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    answered_ms INTEGER,
    ended_ms    INTEGER,
    outcome     TEXT                            -- NULL while the call is on
) STRICT;
CREATE INDEX voice_calls_started ON voice_calls (started_ms);

-- Everything said on a call (the rendered text and the prompt it came from) and every key.
CREATE TABLE voice_call_events (
    call_id INTEGER NOT NULL REFERENCES voice_calls (id),
    seq     INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('spoken', 'key')),
    prompt  TEXT,                               -- message id of the prompt (spoken)
    text    TEXT NOT NULL,                      -- the spoken text, or the key
    PRIMARY KEY (call_id, seq)
) STRICT;

-- "Ask an agent to call me back" (menu key 9): tasks for the village's agents.
CREATE TABLE agent_tasks (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('call_back')),
    farmer_id    TEXT NOT NULL,
    village_code TEXT NOT NULL,
    number       TEXT NOT NULL,
    call_id      INTEGER REFERENCES voice_calls (id),
    state        TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    created_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX agent_tasks_village ON agent_tasks (village_code, state);

CREATE TABLE notification_preferences (
    farmer_id          TEXT PRIMARY KEY,
    sms                INTEGER NOT NULL,
    voice              INTEGER NOT NULL,
    language           TEXT,                    -- NULL: the farmer's language
    quiet_start_minute INTEGER NOT NULL CHECK (quiet_start_minute BETWEEN 0 AND 1439),
    quiet_end_minute   INTEGER NOT NULL CHECK (quiet_end_minute BETWEEN 0 AND 1439),
    max_per_day        INTEGER NOT NULL CHECK (max_per_day >= 1),
    updated_ms         INTEGER NOT NULL
) STRICT;

CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,             -- uuid
    farmer_id     TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL,
    urgency       TEXT NOT NULL CHECK (urgency IN ('low', 'normal', 'high', 'critical')),
    source        TEXT NOT NULL CHECK (source IN ('alert', 'advisory', 'broadcast')),
    message_key   TEXT NOT NULL,
    message_args  TEXT NOT NULL,                -- JSON object
    language      TEXT,
    state         TEXT NOT NULL CHECK (state IN ('scheduled', 'suppressed')),
    suppressed    TEXT,                         -- duplicate | no_consent | daily_cap
    counted       INTEGER NOT NULL,             -- counts against the daily cap
    local_day     INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL
) STRICT;
CREATE INDEX notifications_farmer ON notifications (farmer_id, created_ms);
CREATE INDEX notifications_dedupe ON notifications (farmer_id, dedupe_key, created_ms);

-- Every delivery attempt and its outcome. The executor picks due 'scheduled' rows, hands them
-- to the SMS outbox or the voice queue ('handed_off') in the same transaction, and records the
-- outcome when it is known.
CREATE TABLE notification_attempts (
    id              INTEGER PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'voice')),
    condition       TEXT NOT NULL CHECK (condition IN ('always', 'unless_sms_delivered', 'digest', 'fallback')),
    due_ms          INTEGER NOT NULL,
    tries           INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL CHECK (state IN ('scheduled', 'handed_off', 'delivered', 'answered', 'failed', 'unanswered', 'cancelled')),
    outcome         TEXT,
    updated_ms      INTEGER NOT NULL
) STRICT;
CREATE INDEX notification_attempts_due ON notification_attempts (state, due_ms);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id);
"#;

/// Issue #6 wiring: which outbox SMS carries a notification attempt (delivery reports and the
/// outbox's final state flow back to the attempt), which notification attempt a call carries,
/// and which cloud advisories were already turned into notifications (so a weather warning is
/// routed once, across restarts).
const V_WIRE: &str = r#"
ALTER TABLE notification_attempts ADD COLUMN sms_outbox_id INTEGER REFERENCES sms_outbox (id);
CREATE INDEX notification_attempts_sms ON notification_attempts (sms_outbox_id)
    WHERE sms_outbox_id IS NOT NULL;
ALTER TABLE voice_calls ADD COLUMN attempt_id INTEGER REFERENCES notification_attempts (id);
CREATE TABLE advisories_notified (
    advisory_id   TEXT PRIMARY KEY,
    notifications INTEGER NOT NULL,   -- notifications routed (scheduled or suppressed)
    notified_ms   INTEGER NOT NULL
) STRICT;
"#;

/// The SMS service: the inbox (deduplicated on the driver's key; the reply is inserted in the
/// same transaction as the inbox row), the persistent outbox with priorities, retry state and
/// the per-part `+CMGS` references that delivery reports quote, self-registrations awaiting an
/// agent, per-phone language choices and alert consent (read by the notification router).
/// Undecodable messages go to the V2 `quarantine` table.
const V_SMS: &str = r#"
CREATE TABLE sms_inbox (
    id             INTEGER PRIMARY KEY,
    dedupe_key     TEXT NOT NULL UNIQUE,     -- the driver's key: sender, SMSC time, text hash
    sender         TEXT NOT NULL,
    text           TEXT NOT NULL,
    smsc_unix_s    INTEGER,
    parts          INTEGER NOT NULL,
    parts_expected INTEGER NOT NULL,
    complete       INTEGER NOT NULL,         -- 0: parts missing (answered as best it can)
    received_ms    INTEGER NOT NULL,
    command        TEXT NOT NULL,            -- what it was understood as (help, price, ...)
    farmer_id      TEXT,
    reply_id       INTEGER                   -- sms_outbox.id (NULL: no reply possible)
) STRICT;
CREATE INDEX sms_inbox_received ON sms_inbox (received_ms);

CREATE TABLE sms_outbox (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT NOT NULL,           -- E.164
    body            TEXT NOT NULL,
    priority        INTEGER NOT NULL,        -- 0 reply, 1 alert, 2 bulk (lower goes first)
    kind            TEXT NOT NULL,           -- reply, alert, bulk, registration, ...
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    parts           INTEGER,
    sent_day        TEXT,                    -- local day (config time zone) of the first attempt
    created_ms      INTEGER NOT NULL,
    sent_ms         INTEGER,
    delivered_ms    INTEGER,
    updated_ms      INTEGER NOT NULL
) STRICT;
CREATE INDEX sms_outbox_queue ON sms_outbox (state, priority, next_attempt_ms, id);
CREATE INDEX sms_outbox_day ON sms_outbox (sent_day);

-- One row per sent part: delivery reports quote (recipient, +CMGS reference).
CREATE TABLE sms_outbox_parts (
    outbox_id   INTEGER NOT NULL REFERENCES sms_outbox (id),
    part        INTEGER NOT NULL,
    message_ref INTEGER NOT NULL,
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'pending', 'failed')),
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (outbox_id, part)
) STRICT;
CREATE INDEX sms_outbox_parts_ref ON sms_outbox_parts (message_ref, recipient);

CREATE TABLE sms_registrations (
    id            INTEGER PRIMARY KEY,
    phone         TEXT NOT NULL,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'confirmed')),
    requested_ms  INTEGER NOT NULL,
    decided_ms    INTEGER,
    decided_by    TEXT,
    farmer_id     TEXT
) STRICT;
CREATE UNIQUE INDEX sms_registrations_pending ON sms_registrations (phone) WHERE state = 'pending';

-- LANG choices of phones (farmers' own language lives in their document).
CREATE TABLE sms_contacts (
    phone      TEXT PRIMARY KEY,
    language   TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;

-- Consent to alerts by SMS (STOP/START), with the time of the last change.
CREATE TABLE sms_consent (
    phone      TEXT PRIMARY KEY,
    alerts     INTEGER NOT NULL,             -- 1: alerts allowed, 0: STOP
    changed_ms INTEGER NOT NULL,
    source     TEXT NOT NULL                 -- 'sms' or an agent's username
) STRICT;
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
/// One-time codes sent by SMS (`store::otp`): only keyed hashes of codes and phones.
const V_OTP: &str = r#"
CREATE TABLE otp_codes (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    phone_index   TEXT NOT NULL,
    code_tag      BLOB NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    used_ms       INTEGER,
    proof_used_ms INTEGER,
    wrong_tries   INTEGER NOT NULL DEFAULT 0,
    requested_by  TEXT NOT NULL,
    sms_outbox_id INTEGER
) STRICT;
CREATE INDEX otp_codes_by_phone ON otp_codes (phone_index, created_ms);
CREATE TABLE otp_locks (
    phone_index TEXT PRIMARY KEY,
    until_ms    INTEGER NOT NULL
) STRICT;
"#;

/// The field-agent app (issue 12): answers stored per (user, Idempotency-Key) so a replayed write
/// gets its first answer, and SMS registrations an agent may reject (the table is rebuilt because
/// SQLite cannot widen a CHECK constraint in place).
const V_FIELD_APP: &str = r#"
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,                -- SHA-256 of method, path and body
    status       INTEGER NOT NULL,
    content_type TEXT,
    body         BLOB NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_ms);

CREATE TABLE sms_registrations_v2 (
    id            INTEGER PRIMARY KEY,
    phone         TEXT NOT NULL,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'rejected')),
    requested_ms  INTEGER NOT NULL,
    decided_ms    INTEGER,
    decided_by    TEXT,
    farmer_id     TEXT
) STRICT;
INSERT INTO sms_registrations_v2 SELECT id, phone, name, language, state, requested_ms,
    decided_ms, decided_by, farmer_id FROM sms_registrations;
DROP TABLE sms_registrations;
ALTER TABLE sms_registrations_v2 RENAME TO sms_registrations;
CREATE UNIQUE INDEX sms_registrations_pending ON sms_registrations (phone) WHERE state = 'pending';
"#;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V_SMS),
        M::up(V_VOICE),
        M::up(V_INGEST),
        M::up(V_WIRE),
        M::up(V_OTP),
        M::up(V_FIELD_APP),
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
