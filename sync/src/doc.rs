//! The farmer document: one automerge document per farmer (profile, farms, boundaries, crops,
//! soil tests), edited on edge nodes and in the cloud and synced as a log of change bytes.
//!
//! Layout of the document (all keys are strings):
//!
//! ```text
//! ROOT
//! ├─ "farmer": map { id, name, phone (E.164), language (ISO 639-1), village_code ("NNNNNN"),
//! │                  consents: map { sms, voice, data_sharing (bool) } }
//! ├─ "farms": map { <farm uuid>: map { survey_number, declared_area_ha (f64),
//! │                  boundary (GeoJSON text),
//! │                  crops: list of map { crop, season, sowing_date "YYYY-MM-DD" } } }
//! └─ "soil_tests": map { <test uuid>: map { farm_id, sampled_on "YYYY-MM-DD", lab,
//!                    parameters: map { ph: f64, ... } } }
//! ```
//!
//! Rules, and why:
//! - Every mutating method is exactly one automerge commit (one change on the wire; the design
//!   brief measured 115 B of metadata per commit, so a form submission is one commit). Its
//!   message is the JSON `{"v":1,"author":..,"action":..,"fields":[..]}` and its timestamp is
//!   `CommitMeta::time_ms` (unix milliseconds), so [`FarmerDoc::history`] can say who changed
//!   which field when, also for changes merged from other replicas.
//! - Updates write only the fields whose value differs, so two replicas editing different
//!   fields concurrently both survive a merge, and an edit that changes nothing makes no
//!   commit. Concurrent edits of the same field resolve by automerge's deterministic rule.
//! - A boundary is one string (GeoJSON text), replaced atomically: merging two concurrent
//!   vertex-by-vertex edits could produce a self-intersecting polygon. A crop list is likewise
//!   replaced as a whole.
//! - A document is untrusted after sync: every read re-validates through the model's parsers and
//!   reports a malformed field as [`DocError::Corrupt`], never a panic. Decoding foreign bytes
//!   (`load`, `apply_changes`) runs under `catch_unwind`, and a failed apply or merge restores the
//!   document as it was (all or nothing).
//! - The farmer's id is stored in the farmer map (`"id"`) so a document identifies its farmer;
//!   a farm's `farmer_id` is not stored but is the document's farmer.
//! - The actor id (the writing replica, e.g. the edge node's 16-byte id) is passed in; no
//!   randomness or clock is used here. (automerge's constructor draws a random actor id that is
//!   replaced before any commit.)
//!
//! Limits: [`MAX_CHANGE_BYTES`] per incoming change, [`MAX_DOC_BYTES`] per saved document,
//! [`MAX_AUTHOR_CHARS`] per author, [`MAX_FARMS_PER_FARMER`] and
//! [`MAX_SOIL_TESTS_PER_FARMER`] entries, actor ids of 1..=[`MAX_ACTOR_BYTES`] bytes.
//! Note: `catch_unwind` needs the default `panic = "unwind"`; binaries must not set
//! `panic = "abort"`.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{
    ActorId, Automerge, AutomergeError, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc,
    ScalarValue, Value,
};

use crate::boundary::Boundary;
use crate::model::{
    Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, MAX_CROPS_PER_FARM, PersonName,
    PhoneNumber, Season, SoilParameters, SoilTest, SoilTestId, ValidationError, VillageCode,
    format_date, parse_crop_name, parse_date, parse_lab_name, parse_survey_number, validate_crops,
    validate_declared_area_ha,
};

/// Largest single change accepted from elsewhere: a change replacing a 10,000-vertex boundary
/// is about 0.5 MB of GeoJSON text; 4 MiB leaves room without letting one change exhaust the
/// 32 MB memory budget of an edge node.
pub const MAX_CHANGE_BYTES: usize = 4 * 1024 * 1024;
/// Largest size one change from elsewhere may inflate to. automerge DEFLATE-compresses changes
/// over 256 bytes, so [`MAX_CHANGE_BYTES`] bounds only the compressed bytes; a change replacing
/// a 10,000-vertex boundary inflates to about 0.5 MB, and 8 MiB keeps one hostile change within
/// an edge node's memory budget (review 2026-12, finding 7; see `crate::inflate`).
pub const MAX_CHANGE_INFLATED_BYTES: usize = 8 * 1024 * 1024;
/// Largest saved document accepted by [`FarmerDoc::load`]: a farmer with a few farms and years
/// of edits is tens of kilobytes; 16 MiB bounds memory on a malicious input.
pub const MAX_DOC_BYTES: usize = 16 * 1024 * 1024;
/// Longest author (username) recorded in a commit message, in characters.
pub const MAX_AUTHOR_CHARS: usize = 64;
/// Longest actor id, in bytes (edge node ids are 16; an ed25519 public key would be 32).
pub const MAX_ACTOR_BYTES: usize = 32;
/// Most farms in one farmer's document (smallholders have a handful of parcels).
pub const MAX_FARMS_PER_FARMER: usize = 64;
/// Most soil tests in one farmer's document (a Soil Health Card every two years per farm).
pub const MAX_SOIL_TESTS_PER_FARMER: usize = 1024;
/// Version of the commit-message format.
const COMMIT_MESSAGE_VERSION: u32 = 1;

/// Who makes a commit and when; passed in because this crate reads no clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMeta {
    /// Username of the person (or service) making the change.
    pub author: String,
    /// Unix time in milliseconds.
    pub time_ms: i64,
}

/// The automerge change a method just committed, for the local change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChange {
    /// SHA-256 hash of the change.
    pub hash: [u8; 32],
    /// The change's bytes, as accepted by [`FarmerDoc::apply_changes`].
    pub bytes: Vec<u8>,
}

impl LocalChange {
    /// The hash as lower-case hex (the form of [`FarmerDoc::heads_hex`]).
    pub fn hash_hex(&self) -> String {
        ChangeHash(self.hash).to_string()
    }
}

/// What can go wrong with a farmer document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// automerge refused an operation (a bug or resource problem, not bad input).
    #[error("automerge error: {0}")]
    Automerge(String),
    /// Bytes or document contents that cannot be decoded or do not validate.
    #[error("corrupt document: {0}")]
    Corrupt(String),
    /// The farmer, farm or other entity does not exist in the document.
    #[error("not found: {0}")]
    NotFound(String),
    /// The input to an edit is invalid.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// An entity with this id is already in the document.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// An input or the document exceeds a limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The actor id is empty or longer than [`MAX_ACTOR_BYTES`].
    #[error("invalid actor id: {0}")]
    InvalidActor(String),
}

impl From<AutomergeError> for DocError {
    fn from(e: AutomergeError) -> Self {
        DocError::Automerge(e.to_string())
    }
}

/// A validation failure found while reading a document is corruption, not bad input.
fn corrupt(e: ValidationError) -> DocError {
    DocError::Corrupt(format!("{e} [{}]", e.code))
}

/// One commit in a document's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Change hash, lower-case hex.
    pub hash: String,
    /// Author from the commit message (empty if the message was not ours).
    pub author: String,
    /// Commit time, unix milliseconds.
    pub time_ms: i64,
    /// `create_farmer`, `update_farmer`, `add_farm`, `update_farm`, `add_soil_test`, or
    /// `unknown` for a message not in our format.
    pub action: String,
    /// Paths written, e.g. `["phone", "consents.sms"]` or `["farms.<id>.boundary"]`.
    pub fields: Vec<String>,
}

/// Changes to a farmer's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FarmerPatch {
    /// New name.
    pub name: Option<PersonName>,
    /// New phone number.
    pub phone: Option<PhoneNumber>,
    /// New language.
    pub language: Option<Language>,
    /// New village.
    pub village_code: Option<VillageCode>,
    /// New consents; each of the three flags is written only if it differs.
    pub consents: Option<Consents>,
}

/// Changes to a farm; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FarmPatch {
    /// New survey number (trimmed and checked like [`parse_survey_number`]).
    pub survey_number: Option<String>,
    /// New declared area in hectares.
    pub declared_area_ha: Option<f64>,
    /// New boundary, replacing the old one as a whole.
    pub boundary: Option<Boundary>,
    /// New crop list, replacing the old one as a whole.
    pub crops: Option<Vec<CropSeason>>,
}

/// The commit message: a small versioned wire format, read back by [`FarmerDoc::history`].
#[derive(serde::Serialize, serde::Deserialize)]
struct CommitMessage {
    v: u32,
    author: String,
    action: String,
    fields: Vec<String>,
}

/// One farmer's automerge document.
pub struct FarmerDoc {
    // `Automerge` rather than `AutoCommit`: every method commits explicitly through a
    // `Transaction`, and reads (`farmer`, `history`) then need only `&self`.
    doc: Automerge,
}

impl std::fmt::Debug for FarmerDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FarmerDoc")
            .field("actor", &self.doc.get_actor().to_hex_string())
            .field("heads", &self.doc.get_heads().len())
            .finish_non_exhaustive()
    }
}

fn actor_id(actor: &[u8]) -> Result<ActorId, DocError> {
    if actor.is_empty() || actor.len() > MAX_ACTOR_BYTES {
        return Err(DocError::InvalidActor(format!(
            "actor id must be 1 to {MAX_ACTOR_BYTES} bytes, got {}",
            actor.len()
        )));
    }
    Ok(ActorId::from(actor))
}

fn check_meta(meta: &CommitMeta) -> Result<(), DocError> {
    let author = meta.author.trim();
    if author.is_empty() {
        return Err(ValidationError::new("author", "required", "author is required").into());
    }
    if meta.author.chars().count() > MAX_AUTHOR_CHARS {
        return Err(ValidationError::new(
            "author",
            "too_long",
            format!("author must be at most {MAX_AUTHOR_CHARS} characters"),
        )
        .into());
    }
    if meta.author.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "author",
            "invalid_characters",
            "author must not contain control characters",
        )
        .into());
    }
    Ok(())
}

/// Commit `tx` with our message format; `None` if it had no operations.
fn commit(
    tx: Transaction<'_>,
    meta: &CommitMeta,
    action: &str,
    fields: Vec<String>,
) -> Option<ChangeHash> {
    let message = CommitMessage {
        v: COMMIT_MESSAGE_VERSION,
        author: meta.author.clone(),
        action: action.to_string(),
        fields,
    };
    // Serializing a struct of strings cannot fail; fall back to an empty message regardless.
    let message = serde_json::to_string(&message).unwrap_or_default();
    let (hash, _) = tx.commit_with(
        CommitOptions::default()
            .with_message(message)
            .with_time(meta.time_ms),
    );
    hash
}

// ---- reading helpers: every one turns a malformed value into `DocError::Corrupt` ----

fn get_map(
    doc: &impl ReadDoc,
    obj: &ObjId,
    key: &str,
    path: &str,
) -> Result<Option<ObjId>, DocError> {
    match doc.get(obj, key) {
        Ok(None) => Ok(None),
        Ok(Some((Value::Object(ObjType::Map), id))) => Ok(Some(id)),
        Ok(Some(_)) => Err(DocError::Corrupt(format!("{path}: expected a map"))),
        Err(e) => Err(DocError::Corrupt(format!("{path}: {e}"))),
    }
}

fn require_map(doc: &impl ReadDoc, obj: &ObjId, key: &str, path: &str) -> Result<ObjId, DocError> {
    get_map(doc, obj, key, path)?.ok_or_else(|| DocError::Corrupt(format!("{path}: missing")))
}

fn get_scalar(
    doc: &impl ReadDoc,
    obj: &ObjId,
    prop: impl Into<automerge::Prop>,
    path: &str,
) -> Result<ScalarValue, DocError> {
    match doc.get(obj, prop) {
        Ok(Some((Value::Scalar(v), _))) => Ok(v.into_owned()),
        Ok(Some(_)) => Err(DocError::Corrupt(format!("{path}: expected a value"))),
        Ok(None) => Err(DocError::Corrupt(format!("{path}: missing"))),
        Err(e) => Err(DocError::Corrupt(format!("{path}: {e}"))),
    }
}

fn get_str(doc: &impl ReadDoc, obj: &ObjId, key: &str, path: &str) -> Result<String, DocError> {
    match get_scalar(doc, obj, key, path)? {
        ScalarValue::Str(s) => Ok(s.to_string()),
        _ => Err(DocError::Corrupt(format!("{path}: expected a string"))),
    }
}

fn get_f64(doc: &impl ReadDoc, obj: &ObjId, key: &str, path: &str) -> Result<f64, DocError> {
    scalar_to_f64(&get_scalar(doc, obj, key, path)?)
        .ok_or_else(|| DocError::Corrupt(format!("{path}: expected a number")))
}

/// Numbers written by other automerge implementations may be integers (JavaScript stores whole
/// numbers as ints); accept them as f64.
fn scalar_to_f64(value: &ScalarValue) -> Option<f64> {
    match value {
        ScalarValue::F64(v) => Some(*v),
        ScalarValue::Int(v) => Some(*v as f64),
        ScalarValue::Uint(v) => Some(*v as f64),
        _ => None,
    }
}

fn get_bool(doc: &impl ReadDoc, obj: &ObjId, key: &str, path: &str) -> Result<bool, DocError> {
    match get_scalar(doc, obj, key, path)? {
        ScalarValue::Boolean(b) => Ok(b),
        _ => Err(DocError::Corrupt(format!("{path}: expected a boolean"))),
    }
}

fn read_farmer_id(doc: &impl ReadDoc, farmer: &ObjId) -> Result<FarmerId, DocError> {
    let id = get_str(doc, farmer, "id", "farmer.id")?;
    FarmerId::parse("farmer.id", &id).map_err(corrupt)
}

fn read_crops(doc: &impl ReadDoc, farm: &ObjId, path: &str) -> Result<Vec<CropSeason>, DocError> {
    let list_path = format!("{path}.crops");
    let list = match doc.get(farm, "crops") {
        Ok(Some((Value::Object(ObjType::List), id))) => id,
        Ok(Some(_)) => return Err(DocError::Corrupt(format!("{list_path}: expected a list"))),
        Ok(None) => return Err(DocError::Corrupt(format!("{list_path}: missing"))),
        Err(e) => return Err(DocError::Corrupt(format!("{list_path}: {e}"))),
    };
    let length = doc.length(&list);
    if length > MAX_CROPS_PER_FARM {
        return Err(DocError::Corrupt(format!(
            "{list_path}: more than {MAX_CROPS_PER_FARM} crop seasons"
        )));
    }
    let mut crops = Vec::with_capacity(length);
    for i in 0..length {
        let item_path = format!("{list_path}[{i}]");
        let item = match doc.get(&list, i) {
            Ok(Some((Value::Object(ObjType::Map), id))) => id,
            _ => return Err(DocError::Corrupt(format!("{item_path}: expected a map"))),
        };
        let crop_path = format!("{item_path}.crop");
        let season_path = format!("{item_path}.season");
        let date_path = format!("{item_path}.sowing_date");
        let crop = parse_crop_name(&crop_path, &get_str(doc, &item, "crop", &crop_path)?)
            .map_err(corrupt)?;
        let season = Season::parse(&season_path, &get_str(doc, &item, "season", &season_path)?)
            .map_err(corrupt)?;
        let sowing_date = parse_date(&date_path, &get_str(doc, &item, "sowing_date", &date_path)?)
            .map_err(corrupt)?;
        crops.push(CropSeason {
            crop,
            season,
            sowing_date,
        });
    }
    Ok(crops)
}

fn read_farm(
    doc: &impl ReadDoc,
    obj: &ObjId,
    id: FarmId,
    farmer_id: FarmerId,
    path: &str,
) -> Result<Farm, DocError> {
    let survey_path = format!("{path}.survey_number");
    let area_path = format!("{path}.declared_area_ha");
    let boundary_path = format!("{path}.boundary");
    let survey_number = parse_survey_number(
        &survey_path,
        &get_str(doc, obj, "survey_number", &survey_path)?,
    )
    .map_err(corrupt)?;
    let declared_area_ha = validate_declared_area_ha(
        &area_path,
        get_f64(doc, obj, "declared_area_ha", &area_path)?,
    )
    .map_err(corrupt)?;
    let boundary_text = get_str(doc, obj, "boundary", &boundary_path)?;
    let boundary = Boundary::from_geojson_text(&boundary_path, &boundary_text).map_err(corrupt)?;
    let crops = read_crops(doc, obj, path)?;
    Ok(Farm {
        id,
        farmer_id,
        survey_number,
        declared_area_ha,
        boundary,
        crops,
    })
}

fn read_soil_test(
    doc: &impl ReadDoc,
    obj: &ObjId,
    id: SoilTestId,
    path: &str,
) -> Result<SoilTest, DocError> {
    let farm_path = format!("{path}.farm_id");
    let date_path = format!("{path}.sampled_on");
    let lab_path = format!("{path}.lab");
    let parameters_path = format!("{path}.parameters");
    let farm_id =
        FarmId::parse(&farm_path, &get_str(doc, obj, "farm_id", &farm_path)?).map_err(corrupt)?;
    let sampled_on =
        parse_date(&date_path, &get_str(doc, obj, "sampled_on", &date_path)?).map_err(corrupt)?;
    let lab = parse_lab_name(&lab_path, &get_str(doc, obj, "lab", &lab_path)?).map_err(corrupt)?;
    let parameters_obj = require_map(doc, obj, "parameters", &parameters_path)?;
    let mut pairs = Vec::new();
    for key in doc.keys(&parameters_obj) {
        let value_path = format!("{parameters_path}.{key}");
        let value = get_f64(doc, &parameters_obj, &key, &value_path)?;
        pairs.push((key, value));
    }
    let parameters = SoilParameters::from_pairs(&parameters_path, pairs).map_err(corrupt)?;
    Ok(SoilTest {
        id,
        farm_id,
        sampled_on,
        lab,
        parameters,
    })
}

// ---- writing helpers ----

/// Write `value` at `obj[key]` unless the current (winning) value already equals it; record
/// `field` in `written` when a write happens.
fn put_if_changed(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    key: &str,
    value: ScalarValue,
    field: String,
    written: &mut Vec<String>,
) -> Result<(), DocError> {
    let unchanged = matches!(
        tx.get(obj, key),
        Ok(Some((Value::Scalar(current), _))) if current.as_ref() == &value
    );
    if !unchanged {
        tx.put(obj, key, value)?;
        written.push(field);
    }
    Ok(())
}

fn write_consents(
    tx: &mut Transaction<'_>,
    farmer: &ObjId,
    consents: &Consents,
    written: &mut Vec<String>,
) -> Result<(), DocError> {
    let obj = match get_map(&*tx, farmer, "consents", "farmer.consents") {
        Ok(Some(obj)) => obj,
        // Missing or malformed: replace with a fresh map (and so write every flag).
        _ => tx.put_object(farmer, "consents", ObjType::Map)?,
    };
    for (key, value) in [
        ("sms", consents.sms),
        ("voice", consents.voice),
        ("data_sharing", consents.data_sharing),
    ] {
        put_if_changed(
            tx,
            &obj,
            key,
            ScalarValue::Boolean(value),
            format!("consents.{key}"),
            written,
        )?;
    }
    Ok(())
}

fn write_crops(
    tx: &mut Transaction<'_>,
    farm: &ObjId,
    crops: &[CropSeason],
) -> Result<(), DocError> {
    let list = tx.put_object(farm, "crops", ObjType::List)?;
    for (i, crop) in crops.iter().enumerate() {
        let item = tx.insert_object(&list, i, ObjType::Map)?;
        tx.put(&item, "crop", crop.crop.as_str())?;
        tx.put(&item, "season", crop.season.as_str())?;
        tx.put(&item, "sowing_date", format_date(crop.sowing_date))?;
    }
    Ok(())
}

/// Commit an update transaction if it wrote anything; roll it back otherwise.
fn finish_update(
    tx: Transaction<'_>,
    meta: &CommitMeta,
    action: &str,
    written: Vec<String>,
) -> Option<ChangeHash> {
    if written.is_empty() {
        tx.rollback();
        return None;
    }
    commit(tx, meta, action, written)
}

fn str_value(s: &str) -> ScalarValue {
    ScalarValue::Str(s.into())
}

impl FarmerDoc {
    /// A document with no changes yet, written to as `actor`: the starting point of a replica
    /// that receives a farmer's document as changes (`apply_changes`). Reads answer
    /// [`DocError::NotFound`] until the farmer's creation change has arrived.
    pub fn new_empty(actor: &[u8]) -> Result<FarmerDoc, DocError> {
        let actor = actor_id(actor)?;
        Ok(FarmerDoc {
            doc: Automerge::new().with_actor(actor),
        })
    }

    /// Start a farmer's document: one commit (`create_farmer`) writing the profile and the
    /// empty `farms` and `soil_tests` maps. `actor` (1..=32 bytes, normally the edge node's
    /// 16-byte id) identifies this replica in every commit made through this instance.
    pub fn create(
        actor: &[u8],
        farmer: &Farmer,
        meta: &CommitMeta,
    ) -> Result<(FarmerDoc, LocalChange), DocError> {
        check_meta(meta)?;
        let mut doc = Self::new_empty(actor)?;
        let mut tx = doc.doc.transaction();
        let obj = tx.put_object(ROOT, "farmer", ObjType::Map)?;
        tx.put(&obj, "id", farmer.id.to_string())?;
        tx.put(&obj, "name", farmer.name.as_str())?;
        tx.put(&obj, "phone", farmer.phone.as_str())?;
        tx.put(&obj, "language", farmer.language.code())?;
        tx.put(&obj, "village_code", farmer.village_code.to_string())?;
        let consents = tx.put_object(&obj, "consents", ObjType::Map)?;
        tx.put(&consents, "sms", farmer.consents.sms)?;
        tx.put(&consents, "voice", farmer.consents.voice)?;
        tx.put(&consents, "data_sharing", farmer.consents.data_sharing)?;
        tx.put_object(ROOT, "farms", ObjType::Map)?;
        tx.put_object(ROOT, "soil_tests", ObjType::Map)?;
        let fields = [
            "id",
            "name",
            "phone",
            "language",
            "village_code",
            "consents",
        ]
        .map(String::from)
        .to_vec();
        let hash = commit(tx, meta, "create_farmer", fields)
            .ok_or_else(|| DocError::Automerge("creating the farmer made no change".into()))?;
        let change = doc.local_change(hash)?;
        Ok((doc, change))
    }

    /// Load a saved document (the output of [`Self::save`], or concatenated changes), to be
    /// written to as `actor`. Garbage (and empty input) yields [`DocError::Corrupt`], never a
    /// panic.
    pub fn load(actor: &[u8], saved: &[u8]) -> Result<FarmerDoc, DocError> {
        let actor = actor_id(actor)?;
        if saved.is_empty() {
            // automerge would load this as an empty document; a saved farmer document always
            // holds at least its creation change, so this is a storage bug (see `new_empty`).
            return Err(DocError::Corrupt("saved document is empty".into()));
        }
        if saved.len() > MAX_DOC_BYTES {
            return Err(DocError::TooLarge(format!(
                "saved document is {} bytes, limit {MAX_DOC_BYTES}",
                saved.len()
            )));
        }
        match catch_unwind(|| Automerge::load(saved)) {
            Ok(Ok(doc)) => Ok(FarmerDoc {
                doc: doc.with_actor(actor),
            }),
            Ok(Err(e)) => Err(DocError::Corrupt(format!("cannot load document: {e}"))),
            Err(_) => Err(DocError::Corrupt(
                "cannot load document: decoder panicked".into(),
            )),
        }
    }

    /// The whole document, compressed, for storage.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The farmer's profile, re-validated.
    pub fn farmer(&self) -> Result<Farmer, DocError> {
        let doc = &self.doc;
        let (obj, id) = self.farmer_obj()?;
        let name = PersonName::parse("farmer.name", &get_str(doc, &obj, "name", "farmer.name")?)
            .map_err(corrupt)?;
        let phone = PhoneNumber::parse(
            "farmer.phone",
            &get_str(doc, &obj, "phone", "farmer.phone")?,
        )
        .map_err(corrupt)?;
        let language = Language::parse(
            "farmer.language",
            &get_str(doc, &obj, "language", "farmer.language")?,
        )
        .map_err(corrupt)?;
        let village_code = VillageCode::parse(
            "farmer.village_code",
            &get_str(doc, &obj, "village_code", "farmer.village_code")?,
        )
        .map_err(corrupt)?;
        let consents_obj = require_map(doc, &obj, "consents", "farmer.consents")?;
        let consents = Consents {
            sms: get_bool(doc, &consents_obj, "sms", "farmer.consents.sms")?,
            voice: get_bool(doc, &consents_obj, "voice", "farmer.consents.voice")?,
            data_sharing: get_bool(
                doc,
                &consents_obj,
                "data_sharing",
                "farmer.consents.data_sharing",
            )?,
        };
        Ok(Farmer {
            id,
            name,
            phone,
            language,
            village_code,
            consents,
        })
    }

    /// The farmer map and the farmer's id, or `NotFound` before the creation change.
    fn farmer_obj(&self) -> Result<(ObjId, FarmerId), DocError> {
        let obj = get_map(&self.doc, &ROOT, "farmer", "farmer")?
            .ok_or_else(|| DocError::NotFound("farmer".into()))?;
        let id = read_farmer_id(&self.doc, &obj)?;
        Ok((obj, id))
    }

    /// All farms, re-validated, sorted by id.
    pub fn farms(&self) -> Result<Vec<Farm>, DocError> {
        let doc = &self.doc;
        let (_, farmer_id) = self.farmer_obj()?;
        let farms = require_map(doc, &ROOT, "farms", "farms")?;
        let mut result = Vec::new();
        for key in doc.keys(&farms) {
            let path = format!("farms.{key}");
            let id = FarmId::parse(&path, &key).map_err(corrupt)?;
            let obj = require_map(doc, &farms, &key, &path)?;
            result.push(read_farm(doc, &obj, id, farmer_id, &path)?);
        }
        result.sort_by_key(|f| f.id);
        Ok(result)
    }

    /// All soil tests, re-validated, sorted by sampling date and then id.
    pub fn soil_tests(&self) -> Result<Vec<SoilTest>, DocError> {
        let doc = &self.doc;
        self.farmer_obj()?;
        let tests = require_map(doc, &ROOT, "soil_tests", "soil_tests")?;
        let mut result = Vec::new();
        for key in doc.keys(&tests) {
            let path = format!("soil_tests.{key}");
            let id = SoilTestId::parse(&path, &key).map_err(corrupt)?;
            let obj = require_map(doc, &tests, &key, &path)?;
            result.push(read_soil_test(doc, &obj, id, &path)?);
        }
        result.sort_by_key(|t| (t.sampled_on, t.id));
        Ok(result)
    }

    /// Change the profile in one commit (`update_farmer`), writing only the fields that differ.
    /// `Ok(None)` if nothing differs (no empty commits).
    pub fn update_farmer(
        &mut self,
        patch: &FarmerPatch,
        meta: &CommitMeta,
    ) -> Result<Option<LocalChange>, DocError> {
        check_meta(meta)?;
        let (obj, _) = self.farmer_obj()?;
        let mut tx = self.doc.transaction();
        let mut written = Vec::new();
        if let Some(name) = &patch.name {
            let value = str_value(name.as_str());
            put_if_changed(&mut tx, &obj, "name", value, "name".into(), &mut written)?;
        }
        if let Some(phone) = &patch.phone {
            let value = str_value(phone.as_str());
            put_if_changed(&mut tx, &obj, "phone", value, "phone".into(), &mut written)?;
        }
        if let Some(language) = patch.language {
            let value = str_value(language.code());
            put_if_changed(
                &mut tx,
                &obj,
                "language",
                value,
                "language".into(),
                &mut written,
            )?;
        }
        if let Some(village_code) = patch.village_code {
            let value = str_value(&village_code.to_string());
            let field = "village_code".to_string();
            put_if_changed(&mut tx, &obj, "village_code", value, field, &mut written)?;
        }
        if let Some(consents) = &patch.consents {
            write_consents(&mut tx, &obj, consents, &mut written)?;
        }
        finish_update(tx, meta, "update_farmer", written)
            .map(|hash| self.local_change(hash))
            .transpose()
    }

    /// Add a farm in one commit (`add_farm`). The farm must be valid, belong to this document's
    /// farmer and have a new id.
    pub fn add_farm(&mut self, farm: &Farm, meta: &CommitMeta) -> Result<LocalChange, DocError> {
        check_meta(meta)?;
        farm.validate()?;
        let (_, farmer_id) = self.farmer_obj()?;
        if farm.farmer_id != farmer_id {
            return Err(ValidationError::new(
                "farmer_id",
                "mismatch",
                format!("farm belongs to farmer {}, not {farmer_id}", farm.farmer_id),
            )
            .into());
        }
        let farms = require_map(&self.doc, &ROOT, "farms", "farms")?;
        let key = farm.id.to_string();
        if self.doc.get(&farms, key.as_str()).ok().flatten().is_some() {
            return Err(DocError::AlreadyExists(format!("farm {key}")));
        }
        if self.doc.length(&farms) >= MAX_FARMS_PER_FARMER {
            return Err(DocError::TooLarge(format!(
                "a farmer has at most {MAX_FARMS_PER_FARMER} farms"
            )));
        }
        let mut tx = self.doc.transaction();
        let obj = tx.put_object(&farms, key.as_str(), ObjType::Map)?;
        tx.put(&obj, "survey_number", farm.survey_number.as_str())?;
        tx.put(&obj, "declared_area_ha", farm.declared_area_ha)?;
        tx.put(&obj, "boundary", farm.boundary.to_geojson_text())?;
        write_crops(&mut tx, &obj, &farm.crops)?;
        let hash = commit(tx, meta, "add_farm", vec![format!("farms.{key}")])
            .ok_or_else(|| DocError::Automerge("adding the farm made no change".into()))?;
        self.local_change(hash)
    }

    /// Change a farm in one commit (`update_farm`), writing only the fields that differ; the
    /// boundary and the crop list are replaced as wholes. `NotFound` if there is no such farm,
    /// `Ok(None)` if nothing differs.
    pub fn update_farm(
        &mut self,
        id: FarmId,
        patch: &FarmPatch,
        meta: &CommitMeta,
    ) -> Result<Option<LocalChange>, DocError> {
        check_meta(meta)?;
        let survey_number = patch
            .survey_number
            .as_deref()
            .map(|s| parse_survey_number("survey_number", s))
            .transpose()?;
        let declared_area_ha = patch
            .declared_area_ha
            .map(|a| validate_declared_area_ha("declared_area_ha", a))
            .transpose()?;
        if let Some(crops) = &patch.crops {
            validate_crops("crops", crops)?;
        }
        self.farmer_obj()?;
        let farms = require_map(&self.doc, &ROOT, "farms", "farms")?;
        let key = id.to_string();
        let path = format!("farms.{key}");
        let obj = get_map(&self.doc, &farms, &key, &path)?
            .ok_or_else(|| DocError::NotFound(format!("farm {key}")))?;
        // Compare crops before the transaction borrows the document.
        let crops_differ = match &patch.crops {
            Some(crops) => read_crops(&self.doc, &obj, &path).map_or(true, |old| &old != crops),
            None => false,
        };
        let mut tx = self.doc.transaction();
        let mut written = Vec::new();
        if let Some(survey_number) = survey_number {
            let value = str_value(&survey_number);
            let field = format!("{path}.survey_number");
            put_if_changed(&mut tx, &obj, "survey_number", value, field, &mut written)?;
        }
        if let Some(area) = declared_area_ha {
            let value = ScalarValue::F64(area);
            let field = format!("{path}.declared_area_ha");
            put_if_changed(
                &mut tx,
                &obj,
                "declared_area_ha",
                value,
                field,
                &mut written,
            )?;
        }
        if let Some(boundary) = &patch.boundary {
            let value = str_value(&boundary.to_geojson_text());
            let field = format!("{path}.boundary");
            put_if_changed(&mut tx, &obj, "boundary", value, field, &mut written)?;
        }
        if let (Some(crops), true) = (&patch.crops, crops_differ) {
            write_crops(&mut tx, &obj, crops)?;
            written.push(format!("{path}.crops"));
        }
        finish_update(tx, meta, "update_farm", written)
            .map(|hash| self.local_change(hash))
            .transpose()
    }

    /// Add a soil test in one commit (`add_soil_test`). The test must be valid, its farm must
    /// be in this document and its id must be new.
    pub fn add_soil_test(
        &mut self,
        test: &SoilTest,
        meta: &CommitMeta,
    ) -> Result<LocalChange, DocError> {
        check_meta(meta)?;
        test.validate()?;
        self.farmer_obj()?;
        let farms = require_map(&self.doc, &ROOT, "farms", "farms")?;
        let farm_key = test.farm_id.to_string();
        if self
            .doc
            .get(&farms, farm_key.as_str())
            .ok()
            .flatten()
            .is_none()
        {
            return Err(DocError::NotFound(format!("farm {farm_key}")));
        }
        let tests = require_map(&self.doc, &ROOT, "soil_tests", "soil_tests")?;
        let key = test.id.to_string();
        if self.doc.get(&tests, key.as_str()).ok().flatten().is_some() {
            return Err(DocError::AlreadyExists(format!("soil test {key}")));
        }
        if self.doc.length(&tests) >= MAX_SOIL_TESTS_PER_FARMER {
            return Err(DocError::TooLarge(format!(
                "a farmer has at most {MAX_SOIL_TESTS_PER_FARMER} soil tests"
            )));
        }
        let mut tx = self.doc.transaction();
        let obj = tx.put_object(&tests, key.as_str(), ObjType::Map)?;
        tx.put(&obj, "farm_id", farm_key)?;
        tx.put(&obj, "sampled_on", format_date(test.sampled_on))?;
        tx.put(&obj, "lab", test.lab.as_str())?;
        let parameters = tx.put_object(&obj, "parameters", ObjType::Map)?;
        for (parameter, value) in test.parameters.iter() {
            tx.put(&parameters, parameter.key(), value)?;
        }
        let hash = commit(tx, meta, "add_soil_test", vec![format!("soil_tests.{key}")])
            .ok_or_else(|| DocError::Automerge("adding the soil test made no change".into()))?;
        self.local_change(hash)
    }

    /// Every commit, oldest first: a topological order of the change graph, ties broken by
    /// (time, hash) so every replica lists the same history in the same order.
    pub fn history(&self) -> Vec<HistoryEntry> {
        let metas = self.doc.get_changes_meta(&[]);
        let index: HashMap<ChangeHash, usize> =
            metas.iter().enumerate().map(|(i, m)| (m.hash, i)).collect();
        let mut waiting_on = vec![0usize; metas.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); metas.len()];
        for (i, meta) in metas.iter().enumerate() {
            for dep in &meta.deps {
                if let Some(&d) = index.get(dep) {
                    waiting_on[i] += 1;
                    dependents[d].push(i);
                }
            }
        }
        let mut ready: BTreeSet<(i64, [u8; 32], usize)> = metas
            .iter()
            .enumerate()
            .filter(|(i, _)| waiting_on[*i] == 0)
            .map(|(i, m)| (m.timestamp, m.hash.0, i))
            .collect();
        let mut entries = Vec::with_capacity(metas.len());
        while let Some(first) = ready.pop_first() {
            let i = first.2;
            let meta = &metas[i];
            let parsed = meta
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str::<CommitMessage>(m).ok());
            let (author, action, fields) = match parsed {
                Some(m) => (m.author, m.action, m.fields),
                None => (String::new(), "unknown".to_string(), Vec::new()),
            };
            entries.push(HistoryEntry {
                hash: meta.hash.to_string(),
                author,
                time_ms: meta.timestamp,
                action,
                fields,
            });
            for &d in &dependents[i] {
                waiting_on[d] -= 1;
                if waiting_on[d] == 0 {
                    ready.insert((metas[d].timestamp, metas[d].hash.0, d));
                }
            }
        }
        entries
    }

    /// The current heads (hashes of the changes nothing depends on yet), lower-case hex, sorted.
    pub fn heads_hex(&mut self) -> Vec<String> {
        let mut heads: Vec<String> = self.doc.get_heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        heads
    }

    /// Hashes (hex) of changes that applied changes depend on but that have not arrived yet;
    /// changes waiting for them are held back and are not part of [`Self::save`]'s output.
    pub fn missing_deps_hex(&self) -> Vec<String> {
        let mut missing: Vec<String> = self
            .doc
            .get_missing_deps(&[])
            .iter()
            .map(|h| h.to_string())
            .collect();
        missing.sort();
        missing
    }

    /// The changes not reachable from `heads_hex` (all changes for an empty slice), in an order
    /// in which they can be applied. Unknown heads are ignored, so everything after the known
    /// ones is included.
    pub fn changes_after(&self, heads_hex: &[String]) -> Result<Vec<LocalChange>, DocError> {
        let mut heads = Vec::with_capacity(heads_hex.len());
        for hex in heads_hex {
            let hash: ChangeHash = hex.parse().map_err(|_| {
                ValidationError::new("heads", "invalid_hash", format!("not a change hash: {hex}"))
            })?;
            if self.doc.get_change_by_hash(&hash).is_some() {
                heads.push(hash);
            }
        }
        Ok(self
            .doc
            .get_changes(&heads)
            .into_iter()
            .map(|mut c| LocalChange {
                hash: c.hash().0,
                bytes: c.bytes().into_owned(),
            })
            .collect())
    }

    /// Apply raw change bytes from elsewhere (another replica's change log). Idempotent:
    /// changes already present are skipped. All or nothing: on any error the document is left
    /// as it was. Garbage yields [`DocError::Corrupt`], never a panic.
    pub fn apply_changes(&mut self, changes: &[Vec<u8>]) -> Result<(), DocError> {
        let mut decoded = Vec::with_capacity(changes.len());
        for (i, bytes) in changes.iter().enumerate() {
            if bytes.len() > MAX_CHANGE_BYTES {
                return Err(DocError::TooLarge(format!(
                    "change {i} is {} bytes, limit {MAX_CHANGE_BYTES}",
                    bytes.len()
                )));
            }
            // Bound what the change inflates to before automerge inflates it unbounded.
            crate::inflate::check_inflated_len(
                bytes,
                crate::inflate::Expect::OneChange,
                MAX_CHANGE_INFLATED_BYTES,
            )
            .map_err(|e| match e {
                DocError::TooLarge(m) => DocError::TooLarge(format!("change {i}: {m}")),
                DocError::Corrupt(m) => DocError::Corrupt(format!("change {i}: {m}")),
                other => other,
            })?;
            match catch_unwind(|| Change::try_from(bytes.as_slice())) {
                Ok(Ok(change)) => decoded.push(change),
                Ok(Err(e)) => return Err(DocError::Corrupt(format!("change {i}: {e}"))),
                Err(_) => {
                    return Err(DocError::Corrupt(format!("change {i}: decoder panicked")));
                }
            }
        }
        self.all_or_nothing(|doc| doc.apply_changes(decoded))
    }

    /// Take every change of `other` that this document lacks.
    pub fn merge(&mut self, other: &mut FarmerDoc) -> Result<(), DocError> {
        let other_doc = &mut other.doc;
        self.all_or_nothing(|doc| doc.merge(other_doc).map(|_| ()))
    }

    /// The inner automerge document, for the sync protocol (`protocol::heads::doc_sync_step`).
    pub(crate) fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// Run `f` on the document; on an error or a panic, put back the document as it was.
    pub(crate) fn all_or_nothing(
        &mut self,
        f: impl FnOnce(&mut Automerge) -> Result<(), AutomergeError>,
    ) -> Result<(), DocError> {
        let backup = self.doc.clone();
        match catch_unwind(AssertUnwindSafe(|| f(&mut self.doc))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.doc = backup;
                Err(DocError::Corrupt(format!("changes rejected: {e}")))
            }
            Err(_) => {
                self.doc = backup;
                Err(DocError::Corrupt(
                    "changes rejected: automerge panicked".into(),
                ))
            }
        }
    }

    /// The change with `hash`, as just committed locally.
    fn local_change(&self, hash: ChangeHash) -> Result<LocalChange, DocError> {
        let mut change = self
            .doc
            .get_change_by_hash(&hash)
            .ok_or_else(|| DocError::Automerge(format!("committed change {hash} not found")))?;
        Ok(LocalChange {
            hash: hash.0,
            bytes: change.bytes().into_owned(),
        })
    }
}
