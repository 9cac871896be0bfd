//! Farmer documents in the cloud: applying changes that edges send up, the change log that edges
//! pull down, the query projections (PostGIS), and the heads digests of anti-entropy.
//!
//! Applying a batch (see [`apply_changes_in`]) happens in the caller's transaction. Per document,
//! inside a savepoint and under a per-document advisory lock: load the saved document (or start
//! an empty one), apply the batch's changes for it, check the farmer's village before and after
//! against the sender's scope, save, and rebuild the projections. A document whose changes are
//! refused (outside the scope, malformed bytes, missing dependencies, a farmer that does not
//! validate, ids that collide with another farmer) is rolled back to its savepoint, its change
//! bytes go to `quarantine`, and an audit row records why; the other documents of the batch are
//! unaffected. New changes are appended to `change_log` last, under the sequencer lock held to
//! commit, so change-log sequence numbers become visible in increasing order and a reader's
//! cursor never skips a row.
//!
//! Idempotence: automerge skips changes it already has; when a document's heads do not move,
//! nothing is written at all, and the change log is unique by change hash.

use std::collections::BTreeMap;

use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Transaction};
use uuid::Uuid;

use farmco_sync::doc::{FarmerDoc, LocalChange, MAX_DOC_BYTES};
use farmco_sync::{Farm, Farmer, SoilTest};

use super::audit::{self, AuditEvent};
use super::{
    DOC_LOCK_NAMESPACE, LOCK_NAMESPACE, Store, StoreError, StoreResult, lock_keys, to_i64, to_u64,
    xact_lock,
};

/// Most changes accepted in one call: matches the protocol's `DOWN_CHANGES_PER_BATCH_MAX` and
/// bounds the transaction (and the memory of the documents it loads).
pub const CHANGES_PER_APPLY_MAX: usize = 5_000;
/// Most change-log rows returned by one [`changes_after_in`] call (the protocol's
/// `DOWN_CHANGES_PER_BATCH_MAX`): bounds the query and the edge's transaction.
pub const DOWN_CHANGES_PER_BATCH_MAX: usize = 5_000;
/// Most documents per anti-entropy page (the protocol's `ANTI_ENTROPY_DOCS_PER_PAGE`).
pub const ANTI_ENTROPY_DOCS_PER_PAGE: usize = 1_000;
/// Longest rejection reason kept (quarantine, audit, the wire).
pub const REJECT_REASON_CHARS_MAX: usize = 300;

/// A change refused by [`apply_changes_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedChange {
    /// Position in the input.
    pub index: usize,
    pub doc_id: Uuid,
    /// `code: detail`, e.g. `out_of_scope: village 563499 is not served by this node`.
    pub reason: String,
}

/// What [`apply_changes_in`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Changes accepted, whether new or already known: `applied + rejected.len()` is the
    /// number of changes given.
    pub applied: usize,
    /// Accepted changes the cloud did not have before (appended to the change log).
    pub new_changes: usize,
    pub rejected: Vec<RejectedChange>,
    /// Documents whose content changed, in ascending id order.
    pub docs_changed: Vec<Uuid>,
    /// Farms whose stored boundary PostGIS finds invalid (kept, and logged; the edge validated
    /// them with geo, and PostGIS and geo disagree only on degenerate cases).
    pub invalid_boundaries: Vec<Uuid>,
}

/// One row of the change log going down to an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownChange {
    pub cursor: u64,
    pub doc_id: Uuid,
    pub bytes: Vec<u8>,
}

/// A page of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownBatch {
    pub changes: Vec<DownChange>,
    /// The cursor to ask from next: past the last change returned, or past every row looked at
    /// (including the ones filtered out) when nothing more is waiting.
    pub next_cursor: u64,
    /// More changes are waiting beyond this page.
    pub more: bool,
}

/// A stored document's village and heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocHeads {
    pub doc_id: Uuid,
    pub village_code: String,
    pub heads: Vec<String>,
}

/// Why a document's changes were refused (becomes `RejectedChange::reason`).
#[derive(Debug)]
struct Refusal {
    code: &'static str,
    /// What the sender is told (also kept in quarantine).
    detail: String,
    /// What only the cloud's audit log keeps: facts the sender may not learn (the village of a
    /// document outside its scope).
    audit_only: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal {
            code,
            detail: detail.into(),
            audit_only: None,
        }
    }

    fn reason(&self) -> String {
        let mut s = format!("{}: {}", self.code, self.detail);
        if s.chars().count() > REJECT_REASON_CHARS_MAX {
            s = s.chars().take(REJECT_REASON_CHARS_MAX).collect();
        }
        s
    }
}

/// The result of writing one document.
#[derive(Debug)]
struct Written {
    village_code: String,
    new_changes: Vec<LocalChange>,
    changed: bool,
    invalid_boundaries: Vec<Uuid>,
}

/// The anti-entropy digest of a document: the protocol's, so edge and cloud always agree.
pub fn heads_digest(heads_hex: &[String]) -> [u8; 32] {
    farmco_sync::protocol::heads::heads_digest(heads_hex)
}

/// Second key of a document's advisory lock (collisions only serialize unrelated documents).
fn doc_lock_key(doc_id: Uuid) -> i32 {
    let b = doc_id.as_bytes();
    i32::from_be_bytes([b[0] ^ b[8], b[1] ^ b[9], b[2] ^ b[10], b[3] ^ b[11]])
}

fn in_scope(scope: Option<&[String]>, village: &str) -> bool {
    scope.is_none_or(|s| s.iter().any(|v| v == village))
}

/// Is this database error specific to the document being written (reject it) rather than a
/// problem of the connection or the server (fail the whole request so it is retried)?
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23") || c == "XX000"
    })
}

/// Apply change bytes from `origin` (a node id; `None` = made in the cloud) in the caller's
/// transaction. `scope`: the villages the sender serves (`None`: unrestricted). `actor`: the
/// automerge actor documents are loaded as (the cloud's public key).
pub async fn apply_changes_in(
    tx: &Transaction<'_>,
    actor: &[u8],
    origin: Option<&str>,
    scope: Option<&[String]>,
    changes: Vec<(Uuid, Vec<u8>)>,
    now: OffsetDateTime,
) -> StoreResult<ApplyOutcome> {
    if changes.len() > CHANGES_PER_APPLY_MAX {
        return Err(StoreError::Validation(farmco_sync::ValidationError::new(
            "changes",
            "too_many",
            format!("at most {CHANGES_PER_APPLY_MAX} changes per call"),
        )));
    }
    let total = changes.len();
    let mut by_doc: BTreeMap<Uuid, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
    for (index, (doc_id, bytes)) in changes.into_iter().enumerate() {
        by_doc.entry(doc_id).or_default().push((index, bytes));
    }
    let mut outcome = ApplyOutcome::default();
    let mut to_log: Vec<(Uuid, String, LocalChange)> = Vec::new();
    let mut refusals: Vec<(Uuid, usize, Refusal)> = Vec::new();
    // Ascending doc id: the lock order.
    for (doc_id, entries) in by_doc {
        xact_lock(tx, DOC_LOCK_NAMESPACE, doc_lock_key(doc_id)).await?;
        tx.batch_execute("SAVEPOINT farmco_doc").await?;
        let bytes: Vec<Vec<u8>> = entries.iter().map(|(_, b)| b.clone()).collect();
        let result = match apply_one(tx, actor, doc_id, &bytes, scope, now).await {
            Err(StoreError::Db(e)) if is_data_error(&e) => Ok(Err(Refusal::new(
                "rejected_by_database",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
            ))),
            other => other,
        };
        match result {
            Ok(Ok(written)) => {
                tx.batch_execute("RELEASE SAVEPOINT farmco_doc").await?;
                outcome.applied += entries.len();
                if written.changed {
                    outcome.docs_changed.push(doc_id);
                }
                outcome
                    .invalid_boundaries
                    .extend(written.invalid_boundaries);
                for change in written.new_changes {
                    to_log.push((doc_id, written.village_code.clone(), change));
                }
            }
            Ok(Err(refusal)) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT farmco_doc; RELEASE SAVEPOINT farmco_doc")
                    .await?;
                let reason = refusal.reason();
                for (index, bytes) in &entries {
                    super::quarantine::insert(
                        tx,
                        origin,
                        Some(doc_id),
                        now,
                        &reason,
                        bytes,
                        super::quarantine::Keep::Bytes,
                    )
                    .await?;
                    outcome.rejected.push(RejectedChange {
                        index: *index,
                        doc_id,
                        reason: reason.clone(),
                    });
                }
                tracing::warn!(%doc_id, origin = origin.unwrap_or("cloud"), %reason, changes = entries.len(), "changes rejected");
                refusals.push((doc_id, entries.len(), refusal));
            }
            Err(e) => return Err(e),
        }
    }
    outcome.rejected.sort_by_key(|r| r.index);
    debug_assert_eq!(outcome.applied + outcome.rejected.len(), total);
    // Audit (chain lock) before the change-log sequencer lock: the documented lock order.
    for (doc_id, count, refusal) in &refusals {
        audit::append(
            tx,
            now,
            &AuditEvent {
                actor: origin.unwrap_or("cloud"),
                action: "sync.reject",
                target: &doc_id.to_string(),
                detail: json!({"code": refusal.code, "reason": refusal.reason(),
                    "note": refusal.audit_only, "changes": count}),
            },
        )
        .await?;
    }
    outcome.new_changes = append_change_log(tx, origin, &to_log, now).await?;
    Ok(outcome)
}

/// Append changes to the log under the sequencer lock (held until the caller commits).
async fn append_change_log(
    tx: &Transaction<'_>,
    origin: Option<&str>,
    rows: &[(Uuid, String, LocalChange)],
    now: OffsetDateTime,
) -> StoreResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    xact_lock(tx, LOCK_NAMESPACE, lock_keys::CHANGE_LOG).await?;
    let insert = tx
        .prepare(
            "INSERT INTO change_log (doc_id, hash, bytes, origin_node, village_code, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
        )
        .await?;
    let mut inserted = 0;
    for (doc_id, village, change) in rows {
        inserted += tx
            .execute(
                &insert,
                &[
                    doc_id,
                    &change.hash.as_slice(),
                    &change.bytes,
                    &origin,
                    village,
                    &now,
                ],
            )
            .await?;
    }
    Ok(usize::try_from(inserted).unwrap_or(usize::MAX))
}

/// Load the stored document and its heads (none if new).
async fn load_stored(
    client: &impl GenericClient,
    actor: &[u8],
    doc_id: Uuid,
) -> StoreResult<
    Option<(
        Result<FarmerDoc, farmco_sync::DocError>,
        String,
        Vec<String>,
    )>,
> {
    let row = client
        .query_opt(
            "SELECT saved, village_code, heads FROM documents WHERE doc_id = $1",
            &[&doc_id],
        )
        .await?;
    Ok(row.map(|r| {
        let saved: Vec<u8> = r.get(0);
        (FarmerDoc::load(actor, &saved), r.get(1), r.get(2))
    }))
}

/// Apply one document's changes; `Ok(Err(_))` is a refusal.
async fn apply_one(
    tx: &Transaction<'_>,
    actor: &[u8],
    doc_id: Uuid,
    changes: &[Vec<u8>],
    scope: Option<&[String]>,
    now: OffsetDateTime,
) -> StoreResult<Result<Written, Refusal>> {
    let stored = load_stored(tx, actor, doc_id).await?;
    let (mut doc, before) = match stored {
        Some((Ok(doc), village, heads)) => (doc, Some((village, heads))),
        Some((Err(e), ..)) => {
            tracing::error!(%doc_id, error = %e, "stored document does not load");
            return Ok(Err(Refusal::new(
                "stored_document_unreadable",
                "the cloud's copy of this document does not load; kept for repair",
            )));
        }
        None => (FarmerDoc::new_empty(actor)?, None),
    };
    if let Err(e) = doc.apply_changes(changes) {
        return Ok(Err(Refusal::new("malformed", e.to_string())));
    }
    write_doc(tx, doc_id, &mut doc, before, scope, now).await
}

/// Check, save and project a document whose state before was `before` (village, heads).
async fn write_doc(
    tx: &Transaction<'_>,
    doc_id: Uuid,
    doc: &mut FarmerDoc,
    before: Option<(String, Vec<String>)>,
    scope: Option<&[String]>,
    now: OffsetDateTime,
) -> StoreResult<Result<Written, Refusal>> {
    let missing = doc.missing_deps_hex();
    if !missing.is_empty() {
        return Ok(Err(Refusal::new(
            "missing_dependencies",
            format!(
                "{} change(s) this batch depends on are unknown here, e.g. {}",
                missing.len(),
                missing[0]
            ),
        )));
    }
    let heads_before: Vec<String> = before.as_ref().map(|b| b.1.clone()).unwrap_or_default();
    let heads = doc.heads_hex();
    if let Some((village, _)) = &before
        && heads == heads_before
    {
        // Everything was already here: a retried batch. Write nothing. (Accepted whatever the
        // scope: the sender already holds these changes, so it learns nothing.)
        return Ok(Ok(Written {
            village_code: village.clone(),
            new_changes: Vec::new(),
            changed: false,
            invalid_boundaries: Vec::new(),
        }));
    }
    if let Some((village, _)) = &before
        && !in_scope(scope, village)
    {
        // Generic on purpose: naming the village would let a node learn the village of any
        // document id it probes (review 2026-12, finding 25). The audit log keeps it.
        let mut refusal = Refusal::new(
            "out_of_scope",
            "the farmer is not in a village served by the sender",
        );
        refusal.audit_only = Some(format!("the farmer is in village {village}"));
        return Ok(Err(refusal));
    }
    let farmer = match doc.farmer() {
        Ok(f) => f,
        Err(e) => return Ok(Err(Refusal::new("invalid_document", e.to_string()))),
    };
    if farmer.id.0 != doc_id {
        return Ok(Err(Refusal::new(
            "doc_id_mismatch",
            format!("the document holds farmer {}", farmer.id),
        )));
    }
    let village = farmer.village_code.to_string();
    if !in_scope(scope, &village) {
        return Ok(Err(Refusal::new(
            "out_of_scope",
            format!("the change moves the farmer to village {village}, not served by the sender"),
        )));
    }
    let (farms, tests) = match (doc.farms(), doc.soil_tests()) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(Err(Refusal::new("invalid_document", e.to_string())));
        }
    };
    let new_changes = doc.changes_after(&heads_before)?;
    let saved = doc.save();
    if saved.len() > MAX_DOC_BYTES {
        return Ok(Err(Refusal::new(
            "too_large",
            format!(
                "the document would be {} bytes, limit {MAX_DOC_BYTES}",
                saved.len()
            ),
        )));
    }
    tx.execute(
        "INSERT INTO documents (doc_id, village_code, saved, heads, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (doc_id) DO UPDATE SET village_code = EXCLUDED.village_code,
             saved = EXCLUDED.saved, heads = EXCLUDED.heads, updated_at = EXCLUDED.updated_at",
        &[&doc_id, &village, &saved, &heads, &now],
    )
    .await?;
    let invalid_boundaries = match project(tx, &farmer, &farms, &tests, now).await? {
        Ok(invalid) => invalid,
        Err(refusal) => return Ok(Err(refusal)),
    };
    for farm_id in &invalid_boundaries {
        tracing::warn!(%doc_id, %farm_id, "PostGIS finds this farm's boundary invalid");
    }
    Ok(Ok(Written {
        village_code: village,
        new_changes,
        changed: true,
        invalid_boundaries,
    }))
}

/// Rebuild one farmer's projection rows. Returns the farms PostGIS finds invalid, or a refusal
/// when a farm or soil test id already belongs to another farmer.
async fn project(
    tx: &Transaction<'_>,
    farmer: &Farmer,
    farms: &[Farm],
    tests: &[SoilTest],
    now: OffsetDateTime,
) -> StoreResult<Result<Vec<Uuid>, Refusal>> {
    let farmer_id = farmer.id.0;
    let village = farmer.village_code.to_string();
    tx.execute(
        "INSERT INTO farmers (id, name, phone, language, village_code, consent_sms, consent_voice,
                              consent_data_sharing, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone,
             language = EXCLUDED.language, village_code = EXCLUDED.village_code,
             consent_sms = EXCLUDED.consent_sms, consent_voice = EXCLUDED.consent_voice,
             consent_data_sharing = EXCLUDED.consent_data_sharing,
             updated_at = EXCLUDED.updated_at",
        &[
            &farmer_id,
            &farmer.name.as_str(),
            &farmer.phone.as_str(),
            &farmer.language.code(),
            &village,
            &farmer.consents.sms,
            &farmer.consents.voice,
            &farmer.consents.data_sharing,
            &now,
        ],
    )
    .await?;
    tx.execute("DELETE FROM soil_tests WHERE farmer_id = $1", &[&farmer_id])
        .await?;
    tx.execute("DELETE FROM farms WHERE farmer_id = $1", &[&farmer_id])
        .await?;
    let insert_farm = tx
        .prepare(
            "INSERT INTO farms (id, farmer_id, village_code, survey_number, declared_area_ha,
                                area_ha, boundary, centroid, crops, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6,
                     ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($7::text), 4326)),
                     ST_SetSRID(ST_MakePoint($8, $9), 4326), $10, $11)
             ON CONFLICT (id) DO NOTHING
             RETURNING ST_IsValid(boundary)",
        )
        .await?;
    let mut invalid = Vec::new();
    for farm in farms {
        let (lat, lon) = farm.boundary.centroid();
        let crops: Vec<serde_json::Value> = farm
            .crops
            .iter()
            .map(|c| {
                json!({"crop": c.crop, "season": c.season.as_str(), "sowing_date": c.sowing_date.to_string()})
            })
            .collect();
        let crops = serde_json::Value::from(crops);
        let row = tx
            .query_opt(
                &insert_farm,
                &[
                    &farm.id.0,
                    &farmer_id,
                    &village,
                    &farm.survey_number,
                    &farm.declared_area_ha,
                    &farm.boundary.geodesic_area_ha(),
                    &farm.boundary.to_geojson_text(),
                    &lon,
                    &lat,
                    &crops,
                    &now,
                ],
            )
            .await?;
        match row {
            None => {
                return Ok(Err(Refusal::new(
                    "id_conflict",
                    format!("farm {} belongs to another farmer", farm.id),
                )));
            }
            Some(r) if !r.get::<_, bool>(0) => invalid.push(farm.id.0),
            Some(_) => {}
        }
    }
    let insert_test = tx
        .prepare(
            "INSERT INTO soil_tests (id, farm_id, farmer_id, sampled_on, lab, parameters)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    for test in tests {
        let parameters: serde_json::Map<String, serde_json::Value> = test
            .parameters
            .iter()
            .map(|(p, v)| (p.key().to_owned(), json!(v)))
            .collect();
        let parameters = serde_json::Value::Object(parameters);
        let n = tx
            .execute(
                &insert_test,
                &[
                    &test.id.0,
                    &test.farm_id.0,
                    &farmer_id,
                    &test.sampled_on,
                    &test.lab,
                    &parameters,
                ],
            )
            .await?;
        if n == 0 {
            return Ok(Err(Refusal::new(
                "id_conflict",
                format!("soil test {} belongs to another farmer", test.id),
            )));
        }
    }
    Ok(Ok(invalid))
}

/// Merge `doc` into the stored document (so nothing stored is lost) and write the result like
/// [`apply_changes_in`] would: scope check before and after, change log, projections; used after
/// an anti-entropy exchange. A refusal is reported, not quarantined (there are no foreign bytes).
pub async fn save_doc_in(
    tx: &Transaction<'_>,
    actor: &[u8],
    origin: Option<&str>,
    scope: Option<&[String]>,
    doc_id: Uuid,
    doc: &mut FarmerDoc,
    now: OffsetDateTime,
) -> StoreResult<Result<usize, String>> {
    xact_lock(tx, DOC_LOCK_NAMESPACE, doc_lock_key(doc_id)).await?;
    let stored = load_stored(tx, actor, doc_id).await?;
    let (mut merged, before) = match stored {
        Some((Ok(d), village, heads)) => (d, Some((village, heads))),
        Some((Err(e), ..)) => return Err(StoreError::Doc(e)),
        None => (FarmerDoc::new_empty(actor)?, None),
    };
    merged.merge(doc)?;
    tx.batch_execute("SAVEPOINT farmco_save").await?;
    match write_doc(tx, doc_id, &mut merged, before, scope, now).await {
        Ok(Ok(written)) => {
            tx.batch_execute("RELEASE SAVEPOINT farmco_save").await?;
            let rows: Vec<_> = written
                .new_changes
                .into_iter()
                .map(|c| (doc_id, written.village_code.clone(), c))
                .collect();
            append_change_log(tx, origin, &rows, now).await.map(Ok)
        }
        Ok(Err(refusal)) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT farmco_save; RELEASE SAVEPOINT farmco_save")
                .await?;
            Ok(Err(refusal.reason()))
        }
        Err(e) => Err(e),
    }
}

/// A page of the change log for an edge: changes of documents in `villages`, after `cursor`,
/// not from `exclude_origin`, at most `max` rows and about `budget_bytes` of change bytes (at
/// least one change, even a larger one, so a big change never blocks the log).
pub async fn changes_after_in(
    client: &impl GenericClient,
    cursor: u64,
    villages: &[String],
    exclude_origin: Option<&str>,
    budget_bytes: usize,
    max: usize,
) -> StoreResult<DownBatch> {
    let max = max.clamp(1, DOWN_CHANGES_PER_BATCH_MAX);
    let cursor_i = to_i64("cursor", cursor)?;
    // Read the high-water mark first: with the sequencer lock, every row at or below it is
    // committed (or rolled back) already, so skipping up to it loses nothing.
    let high: i64 = client
        .query_one("SELECT COALESCE(max(seq), 0) FROM change_log", &[])
        .await?
        .get(0);
    let high = high.max(cursor_i);
    if villages.is_empty() || high == cursor_i {
        return Ok(DownBatch {
            changes: Vec::new(),
            next_cursor: to_u64("cursor", high)?,
            more: false,
        });
    }
    let fetch = i64::try_from(max + 1).unwrap_or(i64::MAX);
    let keep = i64::try_from(max).unwrap_or(i64::MAX);
    let budget = i64::try_from(budget_bytes).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "WITH c AS (
                 SELECT seq, doc_id, bytes, octet_length(bytes) AS len FROM change_log
                 WHERE village_code = ANY($1) AND seq > $2 AND seq <= $3
                   AND ($4::text IS NULL OR origin_node IS DISTINCT FROM $4)
                 ORDER BY seq LIMIT $5
             ), w AS (
                 SELECT seq, doc_id, bytes,
                        row_number() OVER (ORDER BY seq) AS rn,
                        sum(len) OVER (ORDER BY seq) AS running,
                        count(*) OVER () AS total
                 FROM c
             )
             SELECT seq, doc_id, bytes, total FROM w
             WHERE rn <= $6 AND (rn = 1 OR running <= $7)
             ORDER BY seq",
            &[
                &villages,
                &cursor_i,
                &high,
                &exclude_origin,
                &fetch,
                &keep,
                &budget,
            ],
        )
        .await?;
    let total: i64 = rows.first().map_or(0, |r| r.get(3));
    let mut changes = Vec::with_capacity(rows.len());
    for r in &rows {
        changes.push(DownChange {
            cursor: to_u64("change_log.seq", r.get(0))?,
            doc_id: r.get(1),
            bytes: r.get(2),
        });
    }
    let more = i64::try_from(changes.len()).unwrap_or(i64::MAX) < total;
    let next_cursor = if more {
        changes.last().map_or(cursor, |c| c.cursor)
    } else {
        to_u64("cursor", high)?
    };
    Ok(DownBatch {
        changes,
        next_cursor,
        more,
    })
}

/// Heads digests of the documents in `villages` with ids after `after_doc`, in id order.
pub async fn doc_heads_digests_in(
    client: &impl GenericClient,
    villages: &[String],
    after_doc: Option<Uuid>,
    limit: usize,
) -> StoreResult<Vec<(Uuid, [u8; 32])>> {
    let limit = i64::try_from(limit.clamp(1, ANTI_ENTROPY_DOCS_PER_PAGE)).unwrap_or(1);
    let rows = client
        .query(
            "SELECT doc_id, heads FROM documents
             WHERE village_code = ANY($1) AND ($2::uuid IS NULL OR doc_id > $2)
             ORDER BY doc_id LIMIT $3",
            &[&villages, &after_doc, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let heads: Vec<String> = r.get(1);
            (r.get(0), heads_digest(&heads))
        })
        .collect())
}

impl Store {
    /// [`apply_changes_in`] in a transaction of its own. The sync endpoint should rather call
    /// `apply_changes_in` inside the round's transaction, with `set_acks_in`.
    pub async fn apply_changes(
        &self,
        node_id: Option<&str>,
        scope: Option<&[String]>,
        changes: Vec<(Uuid, Vec<u8>)>,
    ) -> StoreResult<ApplyOutcome> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let outcome =
            apply_changes_in(&tx, self.actor(), node_id, scope, changes, super::now()).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// See [`changes_after_in`].
    pub async fn changes_after(
        &self,
        cursor: u64,
        villages: &[String],
        exclude_origin: Option<&str>,
        budget_bytes: usize,
        max: usize,
    ) -> StoreResult<DownBatch> {
        let conn = self.conn().await?;
        changes_after_in(&**conn, cursor, villages, exclude_origin, budget_bytes, max).await
    }

    /// See [`doc_heads_digests_in`].
    pub async fn doc_heads_digests(
        &self,
        villages: &[String],
        after_doc: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<(Uuid, [u8; 32])>> {
        let conn = self.conn().await?;
        doc_heads_digests_in(&**conn, villages, after_doc, limit).await
    }

    /// A stored document, loaded as the cloud's actor, with its village.
    pub async fn load_doc(&self, doc_id: Uuid) -> StoreResult<Option<(FarmerDoc, String)>> {
        let conn = self.conn().await?;
        match load_stored(&**conn, self.actor(), doc_id).await? {
            None => Ok(None),
            Some((doc, village, _)) => Ok(Some((doc?, village))),
        }
    }

    /// Village and heads of a stored document.
    pub async fn doc_heads(&self, doc_id: Uuid) -> StoreResult<Option<DocHeads>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT village_code, heads FROM documents WHERE doc_id = $1",
                &[&doc_id],
            )
            .await?;
        Ok(row.map(|r| DocHeads {
            doc_id,
            village_code: r.get(0),
            heads: r.get(1),
        }))
    }

    /// [`save_doc_in`] in a transaction of its own; returns the number of new changes logged.
    pub async fn save_doc(
        &self,
        origin: Option<&str>,
        scope: Option<&[String]>,
        doc_id: Uuid,
        doc: &mut FarmerDoc,
    ) -> StoreResult<Result<usize, String>> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let result =
            save_doc_in(&tx, self.actor(), origin, scope, doc_id, doc, super::now()).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Rows in the change log.
    pub async fn change_log_len(&self) -> StoreResult<i64> {
        let conn = self.conn().await?;
        Ok(conn
            .query_one("SELECT count(*) FROM change_log", &[])
            .await?
            .get(0))
    }

    /// Rows in the quarantine.
    pub async fn quarantine_len(&self) -> StoreResult<i64> {
        let conn = self.conn().await?;
        Ok(conn
            .query_one("SELECT count(*) FROM quarantine", &[])
            .await?
            .get(0))
    }
}
