//! Domain model of FarmCo-Pilot: farmers, farms, crops and soil tests, as validating types.
//!
//! Every value that enters the system from a form, an SMS, an IVR call or a synced document
//! passes through a `parse`/`validate` function here, so the rest of the code only ever sees
//! valid values ("invalid states unrepresentable"). Validation failures are reported as a
//! [`ValidationError`] naming the JSON path of the offending input (`field`), a short
//! snake_case machine code (`code`) and a human message, so the edge API can return them to a
//! form field by field.
//!
//! Design constraints:
//! - No serde derives on domain types: wire formats live at the boundaries that own them. The
//!   id newtypes are the exception (they serialize as their hyphenated uuid string).
//! - Limits, with reasons: person names at most [`MAX_PERSON_NAME_CHARS`] (100; longer than any
//!   name on an Aadhaar card), survey numbers at most [`MAX_SURVEY_NUMBER_CHARS`] (40; land
//!   record survey/sub-division numbers like "123/4A/2" are far shorter), crop names and lab
//!   names at most [`MAX_CROP_NAME_CHARS`] (60) and [`MAX_LAB_NAME_CHARS`] (100), declared farm
//!   area at most [`MAX_DECLARED_AREA_HA`] (1000 ha; Indian smallholdings are under 2 ha and the
//!   largest ceiling-law holdings are far below this), dates within years
//!   [`MIN_YEAR`]..=[`MAX_YEAR`], at most [`MAX_CROPS_PER_FARM`] crop seasons per farm record.
//! - Everything counts characters (Unicode scalar values), not bytes: names are often written
//!   in Devanagari, Telugu, Tamil and other Indian scripts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::{Date, Month};

/// Longest accepted person name, in characters.
pub const MAX_PERSON_NAME_CHARS: usize = 100;
/// Longest accepted land-record survey number, in characters.
pub const MAX_SURVEY_NUMBER_CHARS: usize = 40;
/// Longest accepted crop name, in characters.
pub const MAX_CROP_NAME_CHARS: usize = 60;
/// Longest accepted soil-testing laboratory name, in characters.
pub const MAX_LAB_NAME_CHARS: usize = 100;
/// Largest accepted declared farm area, in hectares.
pub const MAX_DECLARED_AREA_HA: f64 = 1000.0;
/// Most crop seasons kept on one farm record (a decade of three seasons a year, with room).
pub const MAX_CROPS_PER_FARM: usize = 64;
/// Earliest year accepted in any domain date (sowing, sampling).
pub const MIN_YEAR: i32 = 1900;
/// Latest year accepted in any domain date.
pub const MAX_YEAR: i32 = 2100;
/// Longest raw phone input looked at; anything longer is rejected before normalizing.
const MAX_PHONE_INPUT_CHARS: usize = 32;

/// A rejected input: which field (a JSON path such as `"boundary.coordinates[0][3]"`), a
/// machine-readable snake_case `code`, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// JSON path of the offending input, e.g. `"phone"` or `"parameters.ph"`.
    pub field: String,
    /// Short snake_case code, e.g. `"invalid_phone"`, `"out_of_range"`, `"required"`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ValidationError {
    /// Build an error for `field` with `code` and `message`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Join a JSON path prefix and a member name: `join_field("farm", "crops")` is `"farm.crops"`,
/// and an empty prefix yields the bare name.
pub fn join_field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// The wrapped uuid.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            /// Parse a uuid for the given `field`, reporting code `invalid_id`.
            pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
                s.trim().parse::<Self>().map_err(|e| {
                    ValidationError::new(field, "invalid_id", format!("not a uuid: {e}"))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map($name)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                $name(id)
            }
        }
    };
}

uuid_newtype!(
    /// Identifies a farmer, and so the farmer's automerge document.
    FarmerId
);
uuid_newtype!(
    /// Identifies one farm (land parcel) of a farmer.
    FarmId
);
uuid_newtype!(
    /// Identifies one soil test result.
    SoilTestId
);

/// An Indian mobile number in E.164 form: `"+91"` followed by 10 digits, the first 6 to 9.
///
/// The only numbers farmers are reached on (SMS, IVR). Landlines, short codes and foreign
/// numbers are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parse and normalize. Accepts `"+919812345678"`, `"919812345678"`, `"09812345678"`,
    /// `"9812345678"`, also with spaces and hyphens (`"+91 98123-45678"`); always yields
    /// `"+919812345678"`. Codes: `required`, `invalid_phone`.
    pub fn parse(field: &str, input: &str) -> Result<Self, ValidationError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ValidationError::new(
                field,
                "required",
                "phone number is required",
            ));
        }
        let invalid = || {
            ValidationError::new(
                field,
                "invalid_phone",
                "expected an Indian mobile number: +91 and 10 digits starting with 6-9",
            )
        };
        if input.chars().count() > MAX_PHONE_INPUT_CHARS {
            return Err(invalid());
        }
        let compact: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let (has_plus, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let national = if has_plus {
            digits.strip_prefix("91").filter(|n| n.len() == 10)
        } else {
            match digits.len() {
                10 => Some(digits),
                11 => digits.strip_prefix('0'),
                12 => digits.strip_prefix("91"),
                _ => None,
            }
        }
        .ok_or_else(invalid)?;
        if !matches!(national.as_bytes().first(), Some(b'6'..=b'9')) {
            return Err(invalid());
        }
        Ok(PhoneNumber(format!("+91{national}")))
    }

    /// The normalized E.164 form, e.g. `"+919812345678"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The language a farmer is spoken and written to in (SMS text, IVR prompts, web app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// English.
    En,
    /// Hindi.
    Hi,
    /// Marathi.
    Mr,
    /// Telugu.
    Te,
    /// Tamil.
    Ta,
    /// Kannada.
    Kn,
    /// Gujarati.
    Gu,
    /// Punjabi.
    Pa,
    /// Bengali.
    Bn,
    /// Odia.
    Or,
}

impl Language {
    /// Every supported language, in a stable order.
    pub const ALL: [Language; 10] = [
        Language::En,
        Language::Hi,
        Language::Mr,
        Language::Te,
        Language::Ta,
        Language::Kn,
        Language::Gu,
        Language::Pa,
        Language::Bn,
        Language::Or,
    ];

    /// Parse an ISO 639-1 code (`"hi"`, case-insensitive). Codes: `required`,
    /// `invalid_language`.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new(
                field,
                "required",
                "language is required",
            ));
        }
        Language::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    "invalid_language",
                    "expected one of en, hi, mr, te, ta, kn, gu, pa, bn, or",
                )
            })
    }

    /// The ISO 639-1 code, lower case.
    pub fn code(&self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Hi => "hi",
            Language::Mr => "mr",
            Language::Te => "te",
            Language::Ta => "ta",
            Language::Kn => "kn",
            Language::Gu => "gu",
            Language::Pa => "pa",
            Language::Bn => "bn",
            Language::Or => "or",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A 6-digit Local Government Directory (LGD) village code, `100000..=999999`.
///
/// The village is the unit of an edge node's scope, so this decides which documents sync where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VillageCode(u32);

impl VillageCode {
    /// Smallest valid code.
    pub const MIN: u32 = 100_000;
    /// Largest valid code.
    pub const MAX: u32 = 999_999;

    /// Parse exactly six ASCII digits, not starting with 0. Codes: `required`,
    /// `invalid_village_code`.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new(
                field,
                "required",
                "village code is required",
            ));
        }
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new(
                field,
                "invalid_village_code",
                "expected a 6-digit LGD village code",
            ));
        }
        let value: u32 = s.parse().map_err(|_| {
            ValidationError::new(field, "invalid_village_code", "expected a 6-digit number")
        })?;
        Self::from_u32(field, value)
    }

    /// Check a numeric code. Code: `invalid_village_code`.
    pub fn from_u32(field: &str, value: u32) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(VillageCode(value))
        } else {
            Err(ValidationError::new(
                field,
                "invalid_village_code",
                "village code must be between 100000 and 999999",
            ))
        }
    }

    /// The numeric code.
    pub fn as_u32(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for VillageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// What the farmer agreed to. Everything is off until explicitly given (DPDP Act 2023 consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Consents {
    /// Advisory and alert SMS.
    pub sms: bool,
    /// Voice calls (IVR).
    pub voice: bool,
    /// Sharing the farmer's data beyond the cooperative (e.g. with researchers).
    pub data_sharing: bool,
}

/// Check text for the shared rules of short names: trimmed, `1..=max_chars` characters, no
/// control characters. Codes: `required`, `too_long`, `invalid_characters`.
fn parse_short_text(
    field: &str,
    s: &str,
    max_chars: usize,
    what: &str,
) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ValidationError::new(
            field,
            "required",
            format!("{what} is required"),
        ));
    }
    if s.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            "too_long",
            format!("{what} must be at most {max_chars} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "invalid_characters",
            format!("{what} must not contain control characters"),
        ));
    }
    Ok(s.to_string())
}

/// A person's name as written by the farmer, in any script.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);

impl PersonName {
    /// Trimmed, 1..=[`MAX_PERSON_NAME_CHARS`] characters, no control characters. Codes:
    /// `required`, `too_long`, `invalid_characters`.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        parse_short_text(field, s, MAX_PERSON_NAME_CHARS, "name").map(PersonName)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A farmer's profile: the root of the farmer's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Farmer {
    /// Identity, also the document's identity.
    pub id: FarmerId,
    /// Name.
    pub name: PersonName,
    /// Mobile number used for SMS and IVR.
    pub phone: PhoneNumber,
    /// Preferred language.
    pub language: Language,
    /// Home village, the unit of sync scope.
    pub village_code: VillageCode,
    /// Consents given.
    pub consents: Consents,
}

/// Indian cropping seasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Season {
    /// Monsoon season, sown June-July.
    Kharif,
    /// Winter season, sown October-November.
    Rabi,
    /// Summer season between rabi and kharif.
    Zaid,
}

impl Season {
    /// Every season.
    pub const ALL: [Season; 3] = [Season::Kharif, Season::Rabi, Season::Zaid];

    /// Parse `"kharif"`, `"rabi"` or `"zaid"` (case-insensitive). Codes: `required`,
    /// `invalid_season`.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new(
                field,
                "required",
                "season is required",
            ));
        }
        Season::ALL
            .into_iter()
            .find(|season| season.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                ValidationError::new(field, "invalid_season", "expected kharif, rabi or zaid")
            })
    }

    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Season::Kharif => "kharif",
            Season::Rabi => "rabi",
            Season::Zaid => "zaid",
        }
    }
}

impl fmt::Display for Season {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Check a domain date lies in years [`MIN_YEAR`]..=[`MAX_YEAR`]. Code: `out_of_range`.
pub fn validate_date(field: &str, date: Date) -> Result<Date, ValidationError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
        Ok(date)
    } else {
        Err(ValidationError::new(
            field,
            "out_of_range",
            format!("year must be between {MIN_YEAR} and {MAX_YEAR}"),
        ))
    }
}

/// Format a date as `YYYY-MM-DD` (the form stored in documents and used on the wire).
pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Parse a strict `YYYY-MM-DD` date within [`MIN_YEAR`]..=[`MAX_YEAR`]. Codes: `required`,
/// `invalid_date`, `out_of_range`.
pub fn parse_date(field: &str, s: &str) -> Result<Date, ValidationError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "required", "date is required"));
    }
    let invalid = || ValidationError::new(field, "invalid_date", "expected a date as YYYY-MM-DD");
    let bytes = s.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return Err(invalid());
    }
    let year: i32 = s[0..4].parse().map_err(|_| invalid())?;
    let month: u8 = s[5..7].parse().map_err(|_| invalid())?;
    let day: u8 = s[8..10].parse().map_err(|_| invalid())?;
    let month = Month::try_from(month).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
    validate_date(field, date)
}

/// Check a crop name: trimmed, 1..=[`MAX_CROP_NAME_CHARS`] characters, no control characters.
pub fn parse_crop_name(field: &str, s: &str) -> Result<String, ValidationError> {
    parse_short_text(field, s, MAX_CROP_NAME_CHARS, "crop")
}

/// Check a survey number: trimmed, 1..=[`MAX_SURVEY_NUMBER_CHARS`] characters, no control
/// characters.
pub fn parse_survey_number(field: &str, s: &str) -> Result<String, ValidationError> {
    parse_short_text(field, s, MAX_SURVEY_NUMBER_CHARS, "survey number")
}

/// Check a laboratory name: trimmed, 1..=[`MAX_LAB_NAME_CHARS`] characters, no control
/// characters.
pub fn parse_lab_name(field: &str, s: &str) -> Result<String, ValidationError> {
    parse_short_text(field, s, MAX_LAB_NAME_CHARS, "lab")
}

/// Check a declared area: finite, > 0 and <= [`MAX_DECLARED_AREA_HA`]. Codes: `non_finite`,
/// `out_of_range`.
pub fn validate_declared_area_ha(field: &str, area_ha: f64) -> Result<f64, ValidationError> {
    if !area_ha.is_finite() {
        return Err(ValidationError::new(
            field,
            "non_finite",
            "area must be a finite number",
        ));
    }
    if area_ha <= 0.0 || area_ha > MAX_DECLARED_AREA_HA {
        return Err(ValidationError::new(
            field,
            "out_of_range",
            format!("area must be greater than 0 and at most {MAX_DECLARED_AREA_HA} ha"),
        ));
    }
    Ok(area_ha)
}

/// One crop grown on a farm in one season.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CropSeason {
    /// Crop name as the farmer calls it ("soybean", "तूर").
    pub crop: String,
    /// Season.
    pub season: Season,
    /// Sowing date.
    pub sowing_date: Date,
}

impl CropSeason {
    /// Build a validated crop season (crop name rules of [`parse_crop_name`], date rules of
    /// [`validate_date`]); `field` prefixes the member names in errors.
    pub fn new(
        field: &str,
        crop: &str,
        season: Season,
        sowing_date: Date,
    ) -> Result<Self, ValidationError> {
        Ok(CropSeason {
            crop: parse_crop_name(&join_field(field, "crop"), crop)?,
            season,
            sowing_date: validate_date(&join_field(field, "sowing_date"), sowing_date)?,
        })
    }

    /// Re-check a value built from public fields. `field` is its JSON path, e.g. `"crops[2]"`.
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        CropSeason::new(field, &self.crop, self.season, self.sowing_date).and_then(|checked| {
            if checked.crop == self.crop {
                Ok(())
            } else {
                Err(ValidationError::new(
                    join_field(field, "crop"),
                    "not_trimmed",
                    "crop must not start or end with whitespace",
                ))
            }
        })
    }
}

/// Check a crop list: at most [`MAX_CROPS_PER_FARM`] entries, each valid. `field` is the path
/// of the list, e.g. `"crops"`.
pub fn validate_crops(field: &str, crops: &[CropSeason]) -> Result<(), ValidationError> {
    if crops.len() > MAX_CROPS_PER_FARM {
        return Err(ValidationError::new(
            field,
            "too_many",
            format!("at most {MAX_CROPS_PER_FARM} crop seasons per farm"),
        ));
    }
    for (i, crop) in crops.iter().enumerate() {
        crop.validate(&format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// A farm: one land parcel of a farmer, with its surveyed boundary and crops.
#[derive(Debug, Clone, PartialEq)]
pub struct Farm {
    /// Identity.
    pub id: FarmId,
    /// Owner; always the farmer whose document holds the farm.
    pub farmer_id: FarmerId,
    /// Land record survey number, e.g. "123/4A".
    pub survey_number: String,
    /// Area the farmer declares, in hectares.
    pub declared_area_ha: f64,
    /// Surveyed boundary.
    pub boundary: crate::boundary::Boundary,
    /// Crops grown, by season.
    pub crops: Vec<CropSeason>,
}

impl Farm {
    /// Re-check the rules of the public fields (the boundary is valid by construction).
    /// Field names are relative: `"survey_number"`, `"crops[1].crop"`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let survey = parse_survey_number("survey_number", &self.survey_number)?;
        if survey != self.survey_number {
            return Err(ValidationError::new(
                "survey_number",
                "not_trimmed",
                "survey number must not start or end with whitespace",
            ));
        }
        validate_declared_area_ha("declared_area_ha", self.declared_area_ha)?;
        validate_crops("crops", &self.crops)
    }
}

/// The 12 parameters of the Government of India Soil Health Card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SoilParameter {
    /// pH.
    Ph,
    /// Electrical conductivity.
    Ec,
    /// Organic carbon.
    Oc,
    /// Available nitrogen.
    N,
    /// Available phosphorus.
    P,
    /// Available potassium.
    K,
    /// Available sulphur.
    S,
    /// Zinc.
    Zn,
    /// Iron.
    Fe,
    /// Copper.
    Cu,
    /// Manganese.
    Mn,
    /// Boron.
    B,
}

impl SoilParameter {
    /// All twelve, in Soil Health Card order.
    pub const ALL: [SoilParameter; 12] = [
        SoilParameter::Ph,
        SoilParameter::Ec,
        SoilParameter::Oc,
        SoilParameter::N,
        SoilParameter::P,
        SoilParameter::K,
        SoilParameter::S,
        SoilParameter::Zn,
        SoilParameter::Fe,
        SoilParameter::Cu,
        SoilParameter::Mn,
        SoilParameter::B,
    ];

    /// Lower-case key used in documents and on the wire.
    pub fn key(&self) -> &'static str {
        match self {
            SoilParameter::Ph => "ph",
            SoilParameter::Ec => "ec",
            SoilParameter::Oc => "oc",
            SoilParameter::N => "n",
            SoilParameter::P => "p",
            SoilParameter::K => "k",
            SoilParameter::S => "s",
            SoilParameter::Zn => "zn",
            SoilParameter::Fe => "fe",
            SoilParameter::Cu => "cu",
            SoilParameter::Mn => "mn",
            SoilParameter::B => "b",
        }
    }

    /// Unit as printed on the Soil Health Card.
    pub fn unit(&self) -> &'static str {
        match self {
            SoilParameter::Ph => "pH",
            SoilParameter::Ec => "dS/m",
            SoilParameter::Oc => "%",
            SoilParameter::N | SoilParameter::P | SoilParameter::K => "kg/ha",
            SoilParameter::S
            | SoilParameter::Zn
            | SoilParameter::Fe
            | SoilParameter::Cu
            | SoilParameter::Mn
            | SoilParameter::B => "ppm",
        }
    }

    /// Inclusive range of physically plausible lab values; anything outside is a typo or a
    /// unit mix-up, not a soil.
    pub fn plausible_range(&self) -> (f64, f64) {
        match self {
            SoilParameter::Ph => (2.0, 11.0),
            SoilParameter::Ec => (0.0, 20.0),
            SoilParameter::Oc => (0.0, 10.0),
            SoilParameter::N => (0.0, 2000.0),
            SoilParameter::P => (0.0, 500.0),
            SoilParameter::K => (0.0, 3000.0),
            SoilParameter::S => (0.0, 500.0),
            SoilParameter::Zn => (0.0, 100.0),
            SoilParameter::Fe => (0.0, 1000.0),
            SoilParameter::Cu => (0.0, 100.0),
            SoilParameter::Mn => (0.0, 1000.0),
            SoilParameter::B => (0.0, 50.0),
        }
    }

    /// Parse a key (`"ph"`, case-insensitive so `"pH"` and `"Zn"` work). Code:
    /// `unknown_parameter`.
    pub fn parse(field: &str, key: &str) -> Result<Self, ValidationError> {
        let key = key.trim();
        SoilParameter::ALL
            .into_iter()
            .find(|p| p.key().eq_ignore_ascii_case(key))
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    "unknown_parameter",
                    "expected one of ph, ec, oc, n, p, k, s, zn, fe, cu, mn, b",
                )
            })
    }
}

impl fmt::Display for SoilParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Measured soil parameters: at least one, each finite and within its plausible range.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilParameters(BTreeMap<SoilParameter, f64>);

impl SoilParameters {
    /// Validate `(key, value)` pairs. Errors name `"{field_prefix}.{key}"`; codes:
    /// `required` (no pairs), `unknown_parameter`, `duplicate_parameter`, `non_finite`,
    /// `out_of_range`.
    pub fn from_pairs(
        field_prefix: &str,
        pairs: impl IntoIterator<Item = (String, f64)>,
    ) -> Result<Self, ValidationError> {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            let field = join_field(field_prefix, &key);
            let parameter = SoilParameter::parse(&field, &key)?;
            if !value.is_finite() {
                return Err(ValidationError::new(
                    field,
                    "non_finite",
                    "value must be a finite number",
                ));
            }
            let (low, high) = parameter.plausible_range();
            if !(low..=high).contains(&value) {
                return Err(ValidationError::new(
                    field,
                    "out_of_range",
                    format!(
                        "{} must be between {low} and {high} {}",
                        parameter.key(),
                        parameter.unit()
                    ),
                ));
            }
            if map.insert(parameter, value).is_some() {
                return Err(ValidationError::new(
                    field,
                    "duplicate_parameter",
                    format!("{} is given more than once", parameter.key()),
                ));
            }
        }
        if map.is_empty() {
            return Err(ValidationError::new(
                field_prefix,
                "required",
                "at least one soil parameter is required",
            ));
        }
        Ok(SoilParameters(map))
    }

    /// The value of one parameter, if measured.
    pub fn get(&self, p: SoilParameter) -> Option<f64> {
        self.0.get(&p).copied()
    }

    /// Measured parameters in Soil Health Card order.
    pub fn iter(&self) -> impl Iterator<Item = (SoilParameter, f64)> + '_ {
        self.0.iter().map(|(p, v)| (*p, *v))
    }

    /// Number of measured parameters (at least 1).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a valid set has at least one parameter. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One soil test of a farm, as reported by a soil-testing laboratory.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilTest {
    /// Identity.
    pub id: SoilTestId,
    /// The farm sampled; must be a farm of the same farmer.
    pub farm_id: FarmId,
    /// Day the sample was taken.
    pub sampled_on: Date,
    /// Laboratory name.
    pub lab: String,
    /// Results.
    pub parameters: SoilParameters,
}

impl SoilTest {
    /// Re-check the rules of the public fields. Field names are relative: `"lab"`,
    /// `"sampled_on"`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let lab = parse_lab_name("lab", &self.lab)?;
        if lab != self.lab {
            return Err(ValidationError::new(
                "lab",
                "not_trimmed",
                "lab must not start or end with whitespace",
            ));
        }
        validate_date("sampled_on", self.sampled_on)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn date_round_trip() {
        let d = parse_date("d", "2024-02-29").unwrap();
        assert_eq!(format_date(d), "2024-02-29");
        assert_eq!(
            parse_date("d", "2023-02-29").unwrap_err().code,
            "invalid_date"
        );
        assert_eq!(
            parse_date("d", "1899-12-31").unwrap_err().code,
            "out_of_range"
        );
        assert_eq!(
            parse_date("d", "2024-2-29").unwrap_err().code,
            "invalid_date"
        );
        assert_eq!(parse_date("d", "").unwrap_err().code, "required");
    }

    #[test]
    fn join_field_handles_empty_prefix() {
        assert_eq!(join_field("", "ph"), "ph");
        assert_eq!(join_field("parameters", "ph"), "parameters.ph");
    }
}
