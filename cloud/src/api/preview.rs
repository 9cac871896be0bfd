//! Advisories in the console: the SMS a farmer will get, per language, before publishing
//! (`POST /api/v1/advisories/preview`), and the paged list with each advisory's reach per
//! village (`GET /api/v1/advisories`, `GET /api/v1/advisories/{id}`).
//!
//! The preview renders what the village box will send: a weather advisory whose `severity` is
//! `warning`, `severe` or `emergency` is texted to the farmers of its villages as the edge's
//! `weather-warning` message (edge/locales/*/notify.ftl) with the body's `text` in the
//! farmer's language (Hindi also for Marathi speakers, English otherwise); a mandi price is
//! what a farmer asking `PRICE <crop>` gets back (edge/locales/*/sms.ftl). The part count comes
//! from the modem codec's splitter, the very code that cuts the SMS on the box: GSM 7-bit text
//! fits 160 characters in one part, anything else (Devanagari) 70 UCS-2 units.
//! A test checks these templates against the edge's catalogues, so they cannot drift apart.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use farmco_modem_codec::pdu::split::{choose_alphabet, split_text};
use farmco_modem_codec::pdu::udh::ConcatReference;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::lists::{Csv, Format, ListQuery, opt, page, villages_for};
use super::{ApiError, ApiJson, ApiQuery, CurrentUser, SharedState, rfc3339};
use crate::store::users::Role;

/// The edge's `weather-warning` message (notify.ftl), per preview language.
pub const WEATHER_WARNING: [(&str, &str); 2] = [
    ("en", "Weather warning: { $text }"),
    ("hi", "मौसम चेतावनी: { $text }"),
];
/// The edge's `price` reply (sms.ftl), per preview language.
pub const PRICE_REPLY: [(&str, &str); 2] = [
    (
        "en",
        "{ $crop } { $date }: Rs { $min }-{ $max }, modal Rs { $modal }/quintal at { $market }",
    ),
    (
        "hi",
        "{ $crop } { $date }: ₹{ $min }-{ $max }, औसत ₹{ $modal }/क्विंटल, { $market }",
    ),
];
/// Longest text the edge sends as one notification (its outbox's limit: three parts).
pub const NOTIFICATION_CHARS_MAX: usize = 402;
/// Longest argument the edge puts into a message (`notify::executor`).
pub const MESSAGE_ARG_CHARS_MAX: usize = 300;

/// Severities that make the edge text a weather advisory to farmers.
pub const NOTIFYING_SEVERITIES: [&str; 3] = ["warning", "severe", "emergency"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub body: Value,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SmsPreview {
    pub language: String,
    /// Who gets this language.
    pub for_speakers_of: Vec<String>,
    pub text: String,
    pub characters: usize,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    pub parts: usize,
}

fn fill(template: &str, args: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in args {
        out = out.replace(&format!("{{ ${k} }}"), v);
    }
    out
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Part count and encoding of an SMS text, as the box's modem codec cuts it.
pub fn sms_parts(text: &str) -> (usize, &'static str) {
    let encoding = match choose_alphabet(text) {
        farmco_modem_codec::pdu::dcs::Alphabet::Gsm7 => "gsm7",
        _ => "ucs2",
    };
    let parts = split_text(text, ConcatReference::Eight(0)).map_or(0, |p| p.len());
    (parts, encoding)
}

fn speakers(lang: &str) -> Vec<String> {
    match lang {
        "hi" => vec!["hi".into(), "mr".into()],
        _ => vec!["en".into(), "others".into()],
    }
}

/// The SMS previews of an advisory (empty when the box sends none for it).
pub fn previews(kind: &str, title: &str, body: &Value) -> Vec<SmsPreview> {
    let mut out = Vec::new();
    match kind {
        "weather" => {
            let severity = body.get("severity").and_then(Value::as_str).unwrap_or("");
            if !NOTIFYING_SEVERITIES.contains(&severity) {
                return out;
            }
            for (lang, template) in WEATHER_WARNING {
                let text = body
                    .get("text")
                    .and_then(|t| t.get(lang).or_else(|| t.get("en")).or_else(|| t.get("hi")))
                    .and_then(Value::as_str)
                    .unwrap_or(title);
                let rendered = cut(
                    &fill(template, &[("text", cut(text, MESSAGE_ARG_CHARS_MAX))]),
                    NOTIFICATION_CHARS_MAX,
                );
                out.push(preview(lang, rendered));
            }
        }
        "mandi_price" => {
            let s = |k: &str| {
                body.get(k)
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default()
            };
            for (lang, template) in PRICE_REPLY {
                let rendered = fill(
                    template,
                    &[
                        ("crop", s("crop")),
                        ("date", s("as_of")),
                        ("min", s("min_inr_per_quintal")),
                        ("max", s("max_inr_per_quintal")),
                        ("modal", s("modal_inr_per_quintal")),
                        ("market", s("market")),
                    ],
                );
                out.push(preview(lang, rendered));
            }
        }
        _ => {}
    }
    out
}

fn preview(lang: &str, text: String) -> SmsPreview {
    let (parts, encoding) = sms_parts(&text);
    SmsPreview {
        language: lang.to_owned(),
        for_speakers_of: speakers(lang),
        characters: text.chars().count(),
        encoding: encoding.to_owned(),
        parts,
        text,
    }
}

/// `POST /api/v1/advisories/preview`.
pub async fn preview_advisory(
    user: CurrentUser,
    ApiJson(req): ApiJson<PreviewRequest>,
) -> Result<Json<Value>, ApiError> {
    user.require(Role::Ops)?;
    let list = previews(&req.kind, &req.title, &req.body);
    let note = match (req.kind.as_str(), list.is_empty()) {
        ("weather", true) => "not texted: only severity warning, severe or emergency is sent",
        ("mandi_price", _) => "answered to farmers who text PRICE <crop>; not pushed",
        ("weather", false) => "texted to every farmer of the villages who consented to SMS",
        _ => "not texted",
    };
    Ok(Json(json!({"sms": list, "note": note})))
}

#[derive(Debug, Serialize)]
pub struct ReachDto {
    pub village_code: String,
    pub node_id: String,
    pub received_at: String,
    pub notifications: i32,
    pub delivered: i32,
}

async fn advisory_json(
    state: &SharedState,
    list: Vec<crate::store::advisories::Advisory>,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<Uuid> = list.iter().map(|a| a.id).collect();
    let reach = state.store.advisory_reach(&ids).await?;
    Ok(list
        .into_iter()
        .map(|a| {
            let r: Vec<ReachDto> = reach
                .iter()
                .filter(|(id, _)| *id == a.id)
                .map(|(_, r)| ReachDto {
                    village_code: r.village_code.clone(),
                    node_id: r.node_id.clone(),
                    received_at: rfc3339(r.received_at),
                    notifications: r.notifications,
                    delivered: r.delivered,
                })
                .collect();
            let delivered: i32 = r.iter().map(|x| x.delivered).sum();
            let reached = r.len();
            json!({
                "id": a.id.to_string(),
                "seq": a.seq,
                "village_codes": a.village_codes,
                "kind": a.kind,
                "title": a.title,
                "body": a.body,
                "valid_from": rfc3339(a.valid_from),
                "valid_until": a.valid_until.map(rfc3339),
                "created_by": a.created_by,
                "created_at": rfc3339(a.created_at),
                "villages_reached": reached,
                "delivered": delivered,
                "reach": r,
            })
        })
        .collect())
}

/// `GET /api/v1/advisories`: newest first, with each one's reach; area filters, cursor,
/// total, CSV.
pub async fn list_advisories(
    State(state): State<SharedState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let villages = villages_for(&state, &user, &q).await?;
    let before = match q.cursor_value()? {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::bad_request("cursor is not one this server gave out").with_field("cursor")
        })?),
    };
    let (rows, total) = state
        .store
        .advisory_page(villages.as_deref(), before, q.fetch_rows()?, q.with_total())
        .await?;
    if q.format()? == Format::Csv {
        let json = advisory_json(&state, rows).await?;
        let mut csv = Csv::new(&[
            "id",
            "kind",
            "title",
            "villages",
            "created_by",
            "created_at",
            "villages_reached",
            "delivered",
        ]);
        for a in json {
            let s = |k: &str| {
                opt(a
                    .get(k)
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            };
            csv.row([
                s("id"),
                s("kind"),
                s("title"),
                a["village_codes"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default(),
                s("created_by"),
                s("created_at"),
                s("villages_reached"),
                s("delivered"),
            ]);
        }
        return Ok(csv.into_response("advisories"));
    }
    let (rows, next_cursor) = page(rows, &q, |a| json!(a.seq));
    Ok(Json(json!({
        "advisories": advisory_json(&state, rows).await?,
        "next_cursor": next_cursor,
        "total": total,
    }))
    .into_response())
}

/// `GET /api/v1/advisories/{id}`: one advisory with its reach per village.
pub async fn get_advisory(
    State(state): State<SharedState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let id: Uuid = id
        .trim()
        .parse()
        .map_err(|_| ApiError::not_found("advisory"))?;
    let scope = state.store.user_scope(user.0.id).await?;
    let (rows, _) = state
        .store
        .advisory_page(
            scope.as_deref(),
            None,
            crate::store::console::EXPORT_ROWS_MAX,
            false,
        )
        .await?;
    let found: Vec<_> = rows.into_iter().filter(|a| a.id == id).collect();
    let mut json = advisory_json(&state, found).await?;
    let one = json.pop().ok_or_else(|| ApiError::not_found("advisory"))?;
    Ok(Json(one).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftl(domain: &str, lang: &str, key: &str) -> String {
        let path = format!(
            "{}/../edge/locales/{lang}/{domain}.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{path} has no {key}"))
            .to_owned()
    }

    #[test]
    fn templates_match_the_edge_catalogues() {
        for (lang, template) in WEATHER_WARNING {
            assert_eq!(template, ftl("notify", lang, "weather-warning"), "{lang}");
        }
        for (lang, template) in PRICE_REPLY {
            assert_eq!(template, ftl("sms", lang, "price"), "{lang}");
        }
    }

    #[test]
    fn a_hindi_warning_is_previewed_with_its_parts() {
        let body = json!({"severity": "warning", "text": {"hi": "कल तेज़ बारिश और ओले संभव। फसल ढकें।", "en": "Heavy rain and hail likely tomorrow. Cover crops."}});
        let p = previews("weather", "Storm", &body);
        assert_eq!(p.len(), 2);
        let en = &p[0];
        assert_eq!(
            en.text,
            "Weather warning: Heavy rain and hail likely tomorrow. Cover crops."
        );
        assert_eq!((en.encoding.as_str(), en.parts), ("gsm7", 1));
        let hi = &p[1];
        assert_eq!(hi.text, "मौसम चेतावनी: कल तेज़ बारिश और ओले संभव। फसल ढकें।");
        assert_eq!((hi.encoding.as_str(), hi.parts), ("ucs2", 1));
        // 100 Devanagari letters: 113 UCS-2 units with the prefix, two parts of 67.
        let long = json!({"severity": "severe", "text": {"hi": "क".repeat(100)}});
        let p = previews("weather", "t", &long);
        assert_eq!(p[1].parts, 2);
        // Severity info: nothing is texted.
        assert!(previews("weather", "t", &json!({"severity": "info"})).is_empty());
    }

    #[test]
    fn a_price_is_previewed_as_the_reply() {
        let body = json!({"crop": "wheat", "as_of": "2026-01-14", "market": "Parner APMC",
            "min_inr_per_quintal": 2350, "max_inr_per_quintal": 2600, "modal_inr_per_quintal": 2480});
        let p = previews("mandi_price", "wheat", &body);
        assert_eq!(
            p[0].text,
            "wheat 2026-01-14: Rs 2350-2600, modal Rs 2480/quintal at Parner APMC"
        );
        assert_eq!(p[0].parts, 1);
    }
}
