//! One-time codes in SQLite: issue (limits, keyed hash, the SMS in the same transaction) and
//! verify (outcome, wrong-try count, lock, single use), each audited. The rules are
//! `farmco_village::otp`; this module reads what they need and stores what they decide.
//!
//! Nothing here holds a code or a phone number in clear: `otp_codes.code_tag` is the keyed
//! hash of the code bound to its id, purpose and subject, and `phone_index` is a keyed hash of
//! the phone (a blind index: the per-phone limits and locks find a phone's rows without storing
//! the number). The key is the node's OTP key (`<data_dir>/otp.key`, 0600).

use farmco_sync::PhoneNumber;
use farmco_village::l10n::Locale;
use farmco_village::otp::{self, CodeState, IssueRefusal, Purpose, VerifyOutcome};
use farmco_village::sms::policy::Priority;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use sha2::Sha256;

use super::audit::{self, AuditEvent};
use super::sms::{self as sms_store, EnqueueError, OutgoingSms};
use super::{StoreError, StoreResult};

/// The node's secret for one-time codes: tags of codes and the phone blind index.
#[derive(Clone)]
pub struct OtpKey(pub [u8; 32]);

impl std::fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpKey(..)")
    }
}

impl OtpKey {
    /// The blind index of a phone number (hex of a keyed HMAC-SHA-256, domain-separated from
    /// code tags).
    pub fn phone_index(&self, phone: &PhoneNumber) -> String {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
        mac.update(b"farmco-phone-index-v1\0");
        mac.update(phone.as_str().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What to issue a code for.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    /// Fresh random id of the code (a UUID), chosen by the caller.
    pub id: &'a str,
    /// The code itself, drawn by the caller from a CSPRNG (`otp::code_from_random`).
    pub code: &'a str,
    pub purpose: Purpose,
    /// What the code is bound to: a farmer id, or `phone:<index>` before the farmer exists.
    pub subject: &'a str,
    pub phone: &'a PhoneNumber,
    pub locale: Locale,
    /// Who asked (a username), for the audit log.
    pub requested_by: &'a str,
}

/// An issued code (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    pub otp_id: String,
    pub expires_ms: i64,
    /// The outbox row of the SMS that carries it.
    pub sms_outbox_id: i64,
}

/// Why a code was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Refused(#[from] IssueRefusal),
    #[error("the code's SMS could not be queued: {0}")]
    Sms(#[from] EnqueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for IssueError {
    fn from(e: rusqlite::Error) -> IssueError {
        IssueError::Store(e.into())
    }
}

fn locked_until(conn: &Connection, phone_index: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT until_ms FROM otp_locks WHERE phone_index = ?1",
            [phone_index],
            |r| r.get(0),
        )
        .optional()?)
}

/// Issue a code in the caller's transaction: check the per-phone limits and lock, store the
/// code's tag, queue its SMS with reply priority (so it counts against the SIM's daily cap like
/// any reply) and audit `otp.issue` (or `otp.refused`).
pub fn issue(
    tx: &Connection,
    key: &OtpKey,
    req: &IssueRequest<'_>,
    now_ms: i64,
) -> Result<Issued, IssueError> {
    // Expired codes and ended locks go first, so the table stays bounded by the limits.
    sweep(tx, now_ms)?;
    let phone_index = key.phone_index(req.phone);
    let issued: Vec<i64> = {
        let mut stmt = tx.prepare_cached(
            "SELECT created_ms FROM otp_codes WHERE phone_index = ?1 AND created_ms > ?2",
        )?;
        stmt.query_map(params![phone_index, now_ms - 24 * 3_600_000], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    if let Err(refusal) = otp::may_issue(&issued, locked_until(tx, &phone_index)?, now_ms) {
        audit::append(
            tx,
            now_ms,
            &AuditEvent {
                actor: req.requested_by,
                action: "otp.refused",
                target: req.subject,
                detail: json!({ "purpose": req.purpose.as_str(), "reason": refusal.to_string() }),
            },
        )?;
        return Err(refusal.into());
    }
    let tag = otp::code_tag(&key.0, req.id, req.purpose, req.subject, req.code);
    let expires_ms = now_ms + otp::CODE_VALID_MS;
    let body = otp::code_sms(req.locale, req.code, req.purpose)
        .map_err(|e| IssueError::Store(StoreError::Corrupt(e.to_string())))?;
    let sms_outbox_id = sms_store::enqueue(
        tx,
        &OutgoingSms {
            to: req.phone.clone(),
            body,
            priority: Priority::Reply,
            kind: "otp".into(),
        },
        now_ms,
    )?;
    tx.execute(
        "INSERT INTO otp_codes (id, purpose, subject, phone_index, code_tag, created_ms,
                                expires_ms, requested_by, sms_outbox_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            req.id,
            req.purpose.as_str(),
            req.subject,
            phone_index,
            tag.as_slice(),
            now_ms,
            expires_ms,
            req.requested_by,
            sms_outbox_id
        ],
    )?;
    audit::append(
        tx,
        now_ms,
        &AuditEvent {
            actor: req.requested_by,
            action: "otp.issue",
            target: req.subject,
            detail: json!({ "otp_id": req.id, "purpose": req.purpose.as_str() }),
        },
    )?;
    Ok(Issued {
        otp_id: req.id.to_owned(),
        expires_ms,
        sms_outbox_id,
    })
}

/// A stored code, as far as callers may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    pub purpose: Purpose,
    pub subject: String,
    pub requested_by: String,
    pub verified_ms: Option<i64>,
    pub proof_used_ms: Option<i64>,
}

/// The code `id`, if it exists.
pub fn code_info(conn: &Connection, id: &str) -> StoreResult<Option<CodeInfo>> {
    let row = conn
        .query_row(
            "SELECT purpose, subject, requested_by, used_ms, proof_used_ms FROM otp_codes
             WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    CodeInfo {
                        purpose: Purpose::Registration,
                        subject: r.get(1)?,
                        requested_by: r.get(2)?,
                        verified_ms: r.get(3)?,
                        proof_used_ms: r.get(4)?,
                    },
                ))
            },
        )
        .optional()?;
    Ok(row.and_then(|(purpose, info)| {
        Some(CodeInfo {
            purpose: Purpose::parse(&purpose)?,
            ..info
        })
    }))
}

/// One `otp_codes` row as `verify` needs it.
struct StoredCode {
    purpose: String,
    subject: String,
    phone_index: String,
    tag: Vec<u8>,
    expires_ms: i64,
    used_ms: Option<i64>,
    wrong_tries: u32,
}

/// Verify `code` for the code `id` and `purpose` in the caller's transaction; stores the
/// outcome (used, one more wrong try, a lock on the phone) and audits it (`otp.verify`, and
/// `otp.lock` when this attempt locked the phone). `None` when no such code exists.
pub fn verify(
    tx: &Connection,
    key: &OtpKey,
    id: &str,
    purpose: Purpose,
    code: &str,
    actor: &str,
    now_ms: i64,
) -> StoreResult<Option<VerifyOutcome>> {
    let row = tx
        .query_row(
            "SELECT purpose, subject, phone_index, code_tag, expires_ms, used_ms, wrong_tries
             FROM otp_codes WHERE id = ?1",
            [id],
            |r| {
                Ok(StoredCode {
                    purpose: r.get(0)?,
                    subject: r.get(1)?,
                    phone_index: r.get(2)?,
                    tag: r.get(3)?,
                    expires_ms: r.get(4)?,
                    used_ms: r.get(5)?,
                    wrong_tries: r.get(6)?,
                })
            },
        )
        .optional()?;
    let Some(StoredCode {
        purpose: stored_purpose,
        subject,
        phone_index,
        tag: stored_tag,
        expires_ms,
        used_ms,
        wrong_tries,
    }) = row
    else {
        return Ok(None);
    };
    let Some(stored_purpose) = Purpose::parse(&stored_purpose) else {
        return Err(StoreError::Corrupt(format!(
            "otp code {id} has an unknown purpose"
        )));
    };
    let state = CodeState {
        purpose: stored_purpose,
        expires_ms,
        used: used_ms.is_some(),
        wrong_tries,
        locked_until_ms: locked_until(tx, &phone_index)?,
    };
    // The tag of the submitted code under the stored purpose: a code for another purpose is
    // refused by `verify` before the comparison counts.
    let submitted = otp::code_tag(&key.0, id, stored_purpose, &subject, code);
    let matches = otp::looks_like_code(code) && otp::tags_equal(&submitted, &stored_tag);
    let outcome = otp::verify(&state, purpose, matches, now_ms);
    match outcome {
        VerifyOutcome::Verified => {
            tx.execute(
                "UPDATE otp_codes SET used_ms = ?2 WHERE id = ?1",
                params![id, now_ms],
            )?;
        }
        VerifyOutcome::Wrong { .. } => {
            tx.execute(
                "UPDATE otp_codes SET wrong_tries = wrong_tries + 1 WHERE id = ?1",
                [id],
            )?;
        }
        VerifyOutcome::NowLocked { until_ms } => {
            tx.execute(
                "UPDATE otp_codes SET wrong_tries = wrong_tries + 1 WHERE id = ?1",
                [id],
            )?;
            tx.execute(
                "INSERT INTO otp_locks (phone_index, until_ms) VALUES (?1, ?2)
                 ON CONFLICT (phone_index) DO UPDATE SET until_ms = excluded.until_ms",
                params![phone_index, until_ms],
            )?;
        }
        VerifyOutcome::Locked { .. }
        | VerifyOutcome::Expired
        | VerifyOutcome::AlreadyUsed
        | VerifyOutcome::WrongPurpose => {}
    }
    audit::append(
        tx,
        now_ms,
        &AuditEvent {
            actor,
            action: "otp.verify",
            target: &subject,
            detail: json!({ "otp_id": id, "purpose": purpose.as_str(), "outcome": outcome }),
        },
    )?;
    if let VerifyOutcome::NowLocked { until_ms } = outcome {
        audit::append(
            tx,
            now_ms,
            &AuditEvent {
                actor,
                action: "otp.lock",
                target: &subject,
                detail: json!({ "otp_id": id, "until_ms": until_ms }),
            },
        )?;
    }
    Ok(Some(outcome))
}

/// Spend a verified code as the proof of one action (a consent change, an erasure, an
/// export) on `subject`: true once, for a code verified for `purpose` on that subject within
/// `max_age_ms`; false otherwise (and nothing changes).
pub fn use_proof(
    tx: &Connection,
    id: &str,
    purpose: Purpose,
    subject: &str,
    max_age_ms: i64,
    now_ms: i64,
) -> StoreResult<bool> {
    let changed = tx.execute(
        "UPDATE otp_codes SET proof_used_ms = ?5
         WHERE id = ?1 AND purpose = ?2 AND subject = ?3 AND used_ms IS NOT NULL
           AND used_ms >= ?4 AND proof_used_ms IS NULL",
        params![id, purpose.as_str(), subject, now_ms - max_age_ms, now_ms],
    )?;
    Ok(changed == 1)
}

/// Codes kept after they expired: a day, so the per-phone daily limit still sees them (the
/// audit log keeps the trail).
pub const EXPIRED_CODES_KEPT_MS: i64 = 24 * 3_600_000;

/// Delete codes expired for more than [`EXPIRED_CODES_KEPT_MS`] and ended locks; returns the
/// rows deleted.
pub fn sweep(tx: &Connection, now_ms: i64) -> StoreResult<usize> {
    let codes = tx.execute(
        "DELETE FROM otp_codes WHERE expires_ms < ?1",
        [now_ms - EXPIRED_CODES_KEPT_MS],
    )?;
    let locks = tx.execute("DELETE FROM otp_locks WHERE until_ms < ?1", [now_ms])?;
    Ok(codes + locks)
}
