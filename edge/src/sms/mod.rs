//! The farmers' SMS service: from a received message to a committed reply in the outbox.
//!
//! **Exactly-once answers.** [`handle_incoming`] runs ONE SQLite transaction: insert the inbox
//! row (unique on the driver's dedupe key), interpret the command, read the answer, insert the
//! reply into the outbox, record the outcome. Only after the commit does the caller ack the
//! driver (which then deletes the message from the SIM). A crash before the commit leaves the
//! message on the SIM, and it is read again; a crash after the commit but before the deletion
//! makes the driver emit it again, which hits the unique key ([`Handled::Duplicate`]): the
//! caller acks again and no second reply is made.
//!
//! The decisions are pure and live in `farmco_village::sms`: `command` (the parser), `policy`
//! (priorities, the daily cap and its reply reserve, backoff) and `reply` (answer → localized
//! text). Here: [`worker`] (the outbox task that sends through the modem) and [`demo`].
//!
//! Who may ask what: PRICE, WEATHER and HELP are public; REG, LANG and STOP/START work for any
//! phone; SOIL and MOISTURE need a registered farmer. An unknown sender whose text is not a
//! command is told how to register. A sender that is not an Indian mobile number (an operator's
//! alphanumeric sender) is stored and not answered: there is no one to answer.

pub mod demo;
pub mod worker;

use farmco_sync::doc::FarmerPatch;
use farmco_sync::{FarmerId, Language, PhoneNumber};
use rusqlite::Connection;
use serde_json::json;
use time::UtcOffset;

use crate::store::answers;
use crate::store::audit::{self, AuditEvent};
use crate::store::sms::{self as sms_store, NewInboxRow, OutgoingSms, Priority, SmsFarmer};
use crate::store::{Store, StoreError, StoreResult};
use farmco_village::l10n::Locale;
use farmco_village::sms::command::{self, Command, ParseError};
use farmco_village::sms::policy;
use farmco_village::sms::reply::{self, Reply};

/// A received message, as the driver hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub sender: String,
    pub text: String,
    pub smsc_unix_s: Option<i64>,
    pub parts: u8,
    pub parts_expected: u8,
    pub complete: bool,
    pub dedupe_key: String,
}

impl From<&farmco_hardware::driver::ReceivedSms> for Incoming {
    fn from(sms: &farmco_hardware::driver::ReceivedSms) -> Incoming {
        Incoming {
            sender: sms.sender.clone(),
            text: sms.text.clone(),
            smsc_unix_s: sms.smsc_unix_seconds(),
            parts: sms.parts,
            parts_expected: sms.parts_expected,
            complete: sms.complete,
            dedupe_key: sms.dedupe_key.clone(),
        }
    }
}

/// What [`handle_incoming`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Stored and answered (`reply_id` is `None` when there is no one to answer).
    Answered {
        inbox_id: i64,
        command: String,
        reply_id: Option<i64>,
    },
    /// Already stored earlier (a re-emission): nothing new was written.
    Duplicate,
}

/// Settings the service needs.
#[derive(Debug, Clone, Copy)]
pub struct ServiceContext {
    /// The time zone of the village (dates in replies, "today" for the current crop).
    pub offset: UtcOffset,
}

/// Store, interpret and answer one message in one transaction. See the module docs.
pub fn handle_incoming(
    store: &Store,
    sms: &Incoming,
    ctx: ServiceContext,
    now_ms: i64,
) -> StoreResult<Handled> {
    let actor = *store.actor();
    store.write(|tx| {
        let row = NewInboxRow {
            dedupe_key: &sms.dedupe_key,
            sender: &sms.sender,
            text: &sms.text,
            smsc_unix_s: sms.smsc_unix_s,
            parts: sms.parts,
            parts_expected: sms.parts_expected,
            complete: sms.complete,
            received_ms: now_ms,
        };
        let Some(inbox_id) = sms_store::insert_inbox(tx, &row)? else {
            return Ok(Handled::Duplicate);
        };
        let Ok(phone) = PhoneNumber::parse("sender", &sms.sender) else {
            sms_store::set_inbox_outcome(tx, inbox_id, "unanswerable_sender", None, None)?;
            return Ok(Handled::Answered {
                inbox_id,
                command: "unanswerable_sender".to_owned(),
                reply_id: None,
            });
        };
        let farmer = sms_store::farmer_by_phone(tx, phone.as_str())?;
        let parsed = command::parse(&sms.text);
        let label = match &parsed {
            Ok(c) => c.label(),
            Err(e) => e.label(),
        };
        let (reply, locale) = interpret(
            tx,
            &actor,
            &phone,
            farmer.as_ref(),
            parsed,
            sms,
            ctx,
            now_ms,
        )?;
        let body = reply::render(&reply, locale, ctx.offset)
            .map_err(|e| StoreError::Corrupt(format!("localization: {e}")))?;
        let reply_id = sms_store::enqueue(
            tx,
            &OutgoingSms {
                to: phone.clone(),
                body,
                priority: Priority::Reply,
                kind: "reply".to_owned(),
            },
            now_ms,
        )
        .map_err(|e| match e {
            sms_store::EnqueueError::Store(s) => s,
            other => StoreError::Corrupt(other.to_string()),
        })?;
        sms_store::set_inbox_outcome(
            tx,
            inbox_id,
            label,
            farmer.as_ref().map(|f| f.id.as_str()),
            Some(reply_id),
        )?;
        Ok(Handled::Answered {
            inbox_id,
            command: label.to_owned(),
            reply_id: Some(reply_id),
        })
    })
}

/// The reply language: the farmer's, else the phone's LANG choice, else the language of the
/// message itself (`command::text_language`: Devanagari with Marathi-only words → Marathi,
/// other Devanagari → Hindi, anything else → English). Pure.
pub fn reply_locale(
    farmer_language: Option<Language>,
    lang_setting: Option<Language>,
    text: &str,
) -> Locale {
    Locale::for_language(
        farmer_language
            .or(lang_setting)
            .unwrap_or_else(|| command::text_language(text)),
    )
}

/// The language a self-registration (REG) is stored with: for a name in Devanagari, the
/// phone's LANG choice when it is Hindi or Marathi, else the language of the message; for a
/// name in Latin letters, the LANG choice, else English. Pure.
pub fn registration_language(lang_setting: Option<Language>, text: &str) -> Language {
    match (command::devanagari_language(text), lang_setting) {
        (Some(_), Some(chosen @ (Language::Hi | Language::Mr))) => chosen,
        (Some(written), _) => written,
        (None, chosen) => chosen.unwrap_or(Language::En),
    }
}

#[allow(clippy::too_many_arguments)]
fn interpret(
    tx: &Connection,
    actor: &[u8],
    phone: &PhoneNumber,
    farmer: Option<&SmsFarmer>,
    parsed: Result<Command, ParseError>,
    sms: &Incoming,
    ctx: ServiceContext,
    now_ms: i64,
) -> StoreResult<(Reply, Locale)> {
    let farmer_language = farmer.and_then(|f| Language::parse("language", &f.language).ok());
    let lang_setting = sms_store::contact_language(tx, phone.as_str())?
        .and_then(|code| Language::parse("language", &code).ok());
    let mut locale = reply_locale(farmer_language, lang_setting, &sms.text);
    let village = farmer.map(|f| f.village_code.as_str());
    let (today, _) = policy::local_day(now_ms, ctx.offset);
    let reply = match parsed {
        Ok(Command::Help) => Reply::Help,
        Ok(Command::Price(crop)) => Reply::Price(answers::mandi_price(tx, crop, village, now_ms)?),
        Ok(Command::Weather) => Reply::Weather(answers::weather(tx, village, now_ms)?),
        Ok(Command::Soil) => match farmer {
            Some(f) => Reply::Soil(answers::soil(tx, &f.id, &today)?),
            None => Reply::NotRegistered,
        },
        Ok(Command::Moisture) => match farmer {
            Some(f) => Reply::Moisture(answers::moisture(tx, &f.id)?),
            None => Reply::NotRegistered,
        },
        Ok(Command::Register(name)) => match farmer {
            Some(f) => Reply::RegAlready(f.name.clone()),
            None => {
                let language = registration_language(lang_setting, &sms.text);
                let id = sms_store::upsert_pending_registration(
                    tx,
                    phone.as_str(),
                    &name,
                    language.code(),
                    now_ms,
                )?;
                audit::append(
                    tx,
                    now_ms,
                    &AuditEvent {
                        actor: "sms",
                        action: "sms.registration.request",
                        target: &id.to_string(),
                        detail: json!({"phone": phone.as_str()}),
                    },
                )?;
                Reply::RegPending(name)
            }
        },
        Ok(Command::Lang(language)) => {
            match farmer {
                Some(f) => {
                    let id = uuid::Uuid::parse_str(&f.id)
                        .map(FarmerId)
                        .map_err(|_| StoreError::Corrupt("farmers.id is not a uuid".into()))?;
                    let patch = FarmerPatch {
                        language: Some(language),
                        ..FarmerPatch::default()
                    };
                    crate::store::farmers::edit_farmer_in(
                        tx,
                        actor,
                        id,
                        "sms",
                        now_ms,
                        "farmer.update",
                        &f.id,
                        |_, doc, meta| Ok(doc.update_farmer(&patch, meta)?),
                    )?;
                }
                None => {
                    sms_store::set_contact_language(tx, phone.as_str(), language.code(), now_ms)?
                }
            }
            locale = Locale::for_language(language);
            Reply::LangSet
        }
        Ok(Command::Stop) | Ok(Command::Start) => {
            let allowed = matches!(parsed, Ok(Command::Start));
            sms_store::set_alert_consent(tx, phone.as_str(), allowed, "sms", now_ms)?;
            let cancelled = if allowed {
                0
            } else {
                sms_store::cancel_queued_for(tx, phone.as_str(), now_ms)?
            };
            // The farmer's own document says what they chose, so the API, the agent's app
            // and the cloud see the same consent as the SMS service.
            if let Some(f) = &farmer {
                let id = uuid::Uuid::parse_str(&f.id)
                    .map(FarmerId)
                    .map_err(|_| StoreError::Corrupt("farmers.id is not a uuid".into()))?;
                crate::store::farmers::edit_farmer_in(
                    tx,
                    actor,
                    id,
                    "sms",
                    now_ms,
                    "farmer.update",
                    &f.id,
                    |_, doc, meta| {
                        let current = doc.farmer()?.consents;
                        let patch = FarmerPatch {
                            consents: Some(farmco_sync::Consents {
                                sms: allowed,
                                ..current
                            }),
                            ..FarmerPatch::default()
                        };
                        Ok(doc.update_farmer(&patch, meta)?)
                    },
                )?;
            }
            audit::append(
                tx,
                now_ms,
                &AuditEvent {
                    actor: "sms",
                    action: if allowed {
                        "sms.consent.start"
                    } else {
                        "sms.consent.stop"
                    },
                    target: phone.as_str(),
                    detail: json!({ "cancelled_queued": cancelled }),
                },
            )?;
            if allowed { Reply::Start } else { Reply::Stop }
        }
        Err(ParseError::MissingCrop) => Reply::PriceMissingCrop,
        Err(ParseError::UnknownCrop(word)) => Reply::PriceUnknownCrop(word),
        Err(ParseError::MissingName) => Reply::RegMissingName,
        Err(ParseError::NameTooLong) => Reply::RegNameTooLong,
        Err(ParseError::MissingLanguage) => Reply::LangMissing,
        Err(ParseError::UnknownLanguage(word)) => Reply::LangUnknown(word),
        Err(ParseError::Empty | ParseError::UnknownCommand(_)) => match farmer {
            Some(_) => Reply::Help,
            None => Reply::NotRegistered,
        },
    };
    Ok((reply, locale))
}

/// Why a registration could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("no pending registration with this id")]
    NotPending,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Confirm a pending registration in ONE transaction: claim it (pending → confirmed, so a
/// double click or two agents at once confirm it once), create the farmer through the ordinary
/// store function, audit it, and queue the welcome SMS. An agent may confirm it only into a
/// village they work in (the caller checks). Returns the farmer.
pub fn confirm_registration(
    store: &Store,
    registration_id: i64,
    village: farmco_sync::VillageCode,
    agent: &str,
    offset: UtcOffset,
    now_ms: i64,
) -> Result<farmco_sync::Farmer, ConfirmError> {
    let actor = *store.actor();
    let outcome = store.write(|tx| {
        let Some(pending) =
            sms_store::registration(tx, registration_id)?.filter(|r| r.state == "pending")
        else {
            return Ok(None);
        };
        let language = Language::parse("language", &pending.language).unwrap_or(Language::Hi);
        let farmer = farmco_sync::Farmer {
            id: FarmerId(uuid::Uuid::new_v4()),
            name: farmco_sync::PersonName::parse("name", &pending.name)
                .map_err(StoreError::Validation)?,
            phone: PhoneNumber::parse("phone", &pending.phone).map_err(StoreError::Validation)?,
            language,
            village_code: village,
            consents: farmco_sync::Consents {
                sms: true,
                voice: false,
                data_sharing: false,
            },
        };
        if !sms_store::confirm_registration(
            tx,
            registration_id,
            &farmer.id.to_string(),
            agent,
            now_ms,
        )? {
            return Ok(None);
        }
        crate::store::farmers::create_farmer_in(tx, &actor, &farmer, agent, now_ms)?;
        let body = reply::render(
            &Reply::RegConfirmed(pending.name.clone()),
            Locale::for_language(language),
            offset,
        )
        .map_err(|e| StoreError::Corrupt(format!("localization: {e}")))?;
        audit::append(
            tx,
            now_ms,
            &AuditEvent {
                actor: agent,
                action: "sms.registration.confirm",
                target: &registration_id.to_string(),
                detail: json!({"farmer_id": farmer.id.to_string()}),
            },
        )?;
        sms_store::enqueue(
            tx,
            &OutgoingSms {
                to: farmer.phone.clone(),
                body,
                priority: Priority::Reply,
                kind: "registration".to_owned(),
            },
            now_ms,
        )
        .map_err(|e| match e {
            sms_store::EnqueueError::Store(s) => s,
            other => StoreError::Corrupt(other.to_string()),
        })?;
        Ok(Some(farmer))
    })?;
    outcome.ok_or(ConfirmError::NotPending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_language_rules() {
        assert_eq!(
            reply_locale(Some(Language::Hi), Some(Language::En), "help"),
            Locale::Hi
        );
        assert_eq!(reply_locale(None, Some(Language::En), "मदद"), Locale::En);
        assert_eq!(reply_locale(None, None, "मदद"), Locale::Hi);
        assert_eq!(reply_locale(None, None, "madad"), Locale::En);
        assert_eq!(reply_locale(Some(Language::Mr), None, "help"), Locale::Mr);
        // A stranger's Marathi words get Marathi; shared words alone stay Hindi.
        assert_eq!(reply_locale(None, None, "भाव कांदा"), Locale::Mr);
        assert_eq!(reply_locale(None, None, "हवामान"), Locale::Mr);
        assert_eq!(reply_locale(None, None, "भाव तूर"), Locale::Hi);
        assert_eq!(reply_locale(None, None, "HAVAMAN"), Locale::En);
        // The farmer's stored language and the LANG choice win over the words.
        assert_eq!(reply_locale(Some(Language::Mr), None, "भाव गेहूं"), Locale::Mr);
        assert_eq!(reply_locale(Some(Language::Hi), None, "हवामान"), Locale::Hi);
        assert_eq!(reply_locale(None, Some(Language::Mr), "मौसम"), Locale::Mr);
    }

    #[test]
    fn registration_language_rules() {
        assert_eq!(registration_language(None, "REG Asha More"), Language::En);
        assert_eq!(
            registration_language(Some(Language::Mr), "REG Asha More"),
            Language::Mr
        );
        assert_eq!(registration_language(None, "REG सुनीता पवार"), Language::Hi);
        assert_eq!(
            registration_language(None, "नोंदणी सुनीता पवार"),
            Language::Mr
        );
        assert_eq!(
            registration_language(Some(Language::Mr), "REG सुनीता पवार"),
            Language::Mr
        );
        assert_eq!(
            registration_language(Some(Language::En), "REG सुनीता पवार"),
            Language::Hi
        );
    }
}
