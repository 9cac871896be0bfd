//! One-time codes that a farmer receives by SMS to prove they hold a phone number: at
//! registration and when consent is given (the agent's app asks for the code), to confirm an
//! erasure or export request made through an agent, and to confirm an SMS self-registration.
//!
//! The rules follow OWASP ASVS 4.0 §2.7 (out-of-band verifiers) and NIST SP 800-63B §5.1.3:
//! - a code is [`CODE_DIGITS`] digits drawn from a CSPRNG by the shell ([`code_from_random`]
//!   only formats the number it is given);
//! - it is stored only as a keyed hash ([`code_tag`], HMAC-SHA-256 over the code *and* the
//!   code's id, purpose and subject, so a code is bound to what it was issued for), compared in
//!   constant time ([`tags_equal`]);
//! - it is valid [`CODE_VALID_MS`] (10 minutes) and used at most once;
//! - [`WRONG_TRIES_MAX`] (5) wrong answers lock the subject for [`LOCK_MS`] (1 hour): no code
//!   for it is accepted, and no new one is sent, until then;
//! - at most [`CODES_PER_PHONE_PER_HOUR_MAX`] (3) codes per phone per hour and
//!   [`CODES_PER_PHONE_PER_DAY_MAX`] (10) per day ([`may_issue`]).
//!
//! Pure: the clock comes in as `now_ms`, randomness as a number, the key as bytes.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Digits of a code (ASVS 2.7.6 asks for at least 20 bits of entropy: 10^6 ≈ 2^20).
pub const CODE_DIGITS: usize = 6;
/// Codes are drawn uniformly from `0..CODE_SPACE`.
pub const CODE_SPACE: u32 = 1_000_000;
/// How long a code stays valid: ASVS 2.7.2 allows at most 10 minutes for SMS codes.
pub const CODE_VALID_MS: i64 = 10 * 60_000;
/// Wrong answers before the subject is locked.
pub const WRONG_TRIES_MAX: u32 = 5;
/// How long a lock lasts.
pub const LOCK_MS: i64 = 60 * 60_000;
/// Codes one phone may be sent in a rolling hour (each costs an SMS of the SIM's daily cap).
pub const CODES_PER_PHONE_PER_HOUR_MAX: usize = 3;
/// Codes one phone may be sent in a rolling day.
pub const CODES_PER_PHONE_PER_DAY_MAX: usize = 10;
const HOUR_MS: i64 = 60 * 60_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What a code proves. A code issued for one purpose never verifies another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The farmer holds the phone number being registered.
    Registration,
    /// The farmer gives or withdraws consent.
    Consent,
    /// The farmer asks for the erasure of their data.
    Erasure,
    /// The farmer asks for an export of their data.
    Export,
    /// The farmer confirms a registration they started by SMS (`REG <name>`).
    SmsRegistration,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::Registration,
        Purpose::Consent,
        Purpose::Erasure,
        Purpose::Export,
        Purpose::SmsRegistration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "registration",
            Purpose::Consent => "consent",
            Purpose::Erasure => "erasure",
            Purpose::Export => "export",
            Purpose::SmsRegistration => "sms_registration",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Why no code may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssueRefusal {
    #[error("too many wrong codes: locked until {until_ms}")]
    Locked { until_ms: i64 },
    #[error("at most {CODES_PER_PHONE_PER_HOUR_MAX} codes per phone per hour")]
    HourlyLimit { retry_at_ms: i64 },
    #[error("at most {CODES_PER_PHONE_PER_DAY_MAX} codes per phone per day")]
    DailyLimit { retry_at_ms: i64 },
}

impl IssueRefusal {
    /// When asking again can succeed.
    pub fn retry_at_ms(self) -> i64 {
        match self {
            IssueRefusal::Locked { until_ms } => until_ms,
            IssueRefusal::HourlyLimit { retry_at_ms }
            | IssueRefusal::DailyLimit { retry_at_ms } => retry_at_ms,
        }
    }
}

/// May a code be sent to a phone now? `issued_ms` are the times codes were sent to it (any
/// order; older than a day is ignored), `locked_until_ms` the end of a lock on it, if any.
pub fn may_issue(
    issued_ms: &[i64],
    locked_until_ms: Option<i64>,
    now_ms: i64,
) -> Result<(), IssueRefusal> {
    if let Some(until_ms) = locked_until_ms.filter(|u| *u > now_ms) {
        return Err(IssueRefusal::Locked { until_ms });
    }
    let mut day: Vec<i64> = issued_ms
        .iter()
        .copied()
        .filter(|t| *t > now_ms.saturating_sub(DAY_MS) && *t <= now_ms)
        .collect();
    day.sort_unstable();
    if day.len() >= CODES_PER_PHONE_PER_DAY_MAX {
        let oldest = day[day.len() - CODES_PER_PHONE_PER_DAY_MAX];
        return Err(IssueRefusal::DailyLimit {
            retry_at_ms: oldest.saturating_add(DAY_MS),
        });
    }
    let hour: Vec<i64> = day
        .iter()
        .copied()
        .filter(|t| *t > now_ms.saturating_sub(HOUR_MS))
        .collect();
    if hour.len() >= CODES_PER_PHONE_PER_HOUR_MAX {
        let oldest = hour[hour.len() - CODES_PER_PHONE_PER_HOUR_MAX];
        return Err(IssueRefusal::HourlyLimit {
            retry_at_ms: oldest.saturating_add(HOUR_MS),
        });
    }
    Ok(())
}

/// The code for a number drawn uniformly from `0..CODE_SPACE` by a CSPRNG, zero-padded.
pub fn code_from_random(number: u32) -> String {
    format!("{:0width$}", number % CODE_SPACE, width = CODE_DIGITS)
}

/// Is `text` shaped like a code (exactly [`CODE_DIGITS`] ASCII digits)?
pub fn looks_like_code(text: &str) -> bool {
    text.len() == CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit())
}

/// The keyed hash a code is stored as: HMAC-SHA-256 under the node's OTP key over the code's
/// id, purpose, subject and the code itself (length-prefixed, so no two inputs collide).
pub fn code_tag(
    key: &[u8; 32],
    otp_id: &str,
    purpose: Purpose,
    subject: &str,
    code: &str,
) -> [u8; 32] {
    // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104), so the
    // padded key gives the same MAC, and `new` on a full block cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in [
        b"farmco-otp-v1".as_slice(),
        otp_id.as_bytes(),
        purpose.as_str().as_bytes(),
        subject.as_bytes(),
        code.as_bytes(),
    ] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two tags.
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The SMS that carries a code, in the farmer's language: what it is for, how long it is
/// valid, and not to share it.
pub fn code_sms(
    locale: crate::l10n::Locale,
    code: &str,
    purpose: Purpose,
) -> Result<String, crate::l10n::L10nError> {
    crate::l10n::otp_catalog()?.render(
        locale,
        "otp-code",
        &[
            ("code", code.to_owned()),
            ("purpose", purpose.as_str().to_owned()),
        ],
    )
}

/// The stored state of one issued code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeState {
    pub purpose: Purpose,
    pub expires_ms: i64,
    pub used: bool,
    pub wrong_tries: u32,
    /// The end of a lock on the code's subject (from this or another code), if any.
    pub locked_until_ms: Option<i64>,
}

/// The answer to one verification attempt; the shell stores what it implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum VerifyOutcome {
    /// Right code: mark the code used.
    Verified,
    /// Wrong code: count it; `tries_left` more are allowed.
    Wrong {
        tries_left: u32,
    },
    /// Wrong code, and the last allowed: lock the subject until `until_ms`.
    NowLocked {
        until_ms: i64,
    },
    /// The subject is locked; nothing is compared.
    Locked {
        until_ms: i64,
    },
    Expired,
    AlreadyUsed,
    /// The code was issued for another purpose.
    WrongPurpose,
}

/// Judge one attempt. `tag_matches` is the constant-time comparison of the stored tag with
/// the tag of the submitted code (computed by the caller with [`code_tag`] and [`tags_equal`]).
/// The order matters: a locked, used, expired or mismatched code is refused before the
/// comparison counts, so none of them leaks whether the code was right.
pub fn verify(
    state: &CodeState,
    purpose: Purpose,
    tag_matches: bool,
    now_ms: i64,
) -> VerifyOutcome {
    if let Some(until_ms) = state.locked_until_ms.filter(|u| *u > now_ms) {
        return VerifyOutcome::Locked { until_ms };
    }
    if state.used {
        return VerifyOutcome::AlreadyUsed;
    }
    if state.purpose != purpose {
        return VerifyOutcome::WrongPurpose;
    }
    if now_ms >= state.expires_ms {
        return VerifyOutcome::Expired;
    }
    if tag_matches {
        return VerifyOutcome::Verified;
    }
    let wrong = state.wrong_tries.saturating_add(1);
    if wrong >= WRONG_TRIES_MAX {
        VerifyOutcome::NowLocked {
            until_ms: now_ms.saturating_add(LOCK_MS),
        }
    } else {
        VerifyOutcome::Wrong {
            tries_left: WRONG_TRIES_MAX - wrong,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];
    const T0: i64 = 1_780_000_000_000;

    fn fresh(purpose: Purpose) -> CodeState {
        CodeState {
            purpose,
            expires_ms: T0 + CODE_VALID_MS,
            used: false,
            wrong_tries: 0,
            locked_until_ms: None,
        }
    }

    #[test]
    fn codes_are_six_zero_padded_digits() {
        assert_eq!(code_from_random(42), "000042");
        assert_eq!(code_from_random(999_999), "999999");
        assert_eq!(code_from_random(1_000_000), "000000");
        assert!(looks_like_code("012345"));
        assert!(!looks_like_code("12345"));
        assert!(!looks_like_code("१२३४५६"));
    }

    #[test]
    fn a_tag_binds_id_purpose_subject_and_code() {
        let t = code_tag(&KEY, "id1", Purpose::Consent, "farmer-a", "123456");
        assert!(tags_equal(
            &t,
            &code_tag(&KEY, "id1", Purpose::Consent, "farmer-a", "123456")
        ));
        for other in [
            code_tag(&KEY, "id2", Purpose::Consent, "farmer-a", "123456"),
            code_tag(&KEY, "id1", Purpose::Erasure, "farmer-a", "123456"),
            code_tag(&KEY, "id1", Purpose::Consent, "farmer-b", "123456"),
            code_tag(&KEY, "id1", Purpose::Consent, "farmer-a", "123457"),
            code_tag(&[8; 32], "id1", Purpose::Consent, "farmer-a", "123456"),
            // moving bytes between fields does not collide
            code_tag(&KEY, "id1c", Purpose::Consent, "farmer-a", "23456"),
        ] {
            assert!(!tags_equal(&t, &other));
        }
        assert!(!tags_equal(&t, &t[..31]));
    }

    #[test]
    fn the_right_code_verifies_once() {
        let s = fresh(Purpose::Consent);
        assert_eq!(
            verify(&s, Purpose::Consent, true, T0),
            VerifyOutcome::Verified
        );
        let used = CodeState { used: true, ..s };
        assert_eq!(
            verify(&used, Purpose::Consent, true, T0),
            VerifyOutcome::AlreadyUsed
        );
    }

    #[test]
    fn a_code_for_another_purpose_or_expired_is_refused() {
        let s = fresh(Purpose::Consent);
        assert_eq!(
            verify(&s, Purpose::Erasure, true, T0),
            VerifyOutcome::WrongPurpose
        );
        assert_eq!(
            verify(&s, Purpose::Consent, true, T0 + CODE_VALID_MS),
            VerifyOutcome::Expired
        );
    }

    #[test]
    fn five_wrong_answers_lock_for_an_hour() {
        let mut s = fresh(Purpose::Registration);
        for left in (1..WRONG_TRIES_MAX).rev() {
            assert_eq!(
                verify(&s, Purpose::Registration, false, T0),
                VerifyOutcome::Wrong { tries_left: left }
            );
            s.wrong_tries += 1;
        }
        let until_ms = T0 + LOCK_MS;
        assert_eq!(
            verify(&s, Purpose::Registration, false, T0),
            VerifyOutcome::NowLocked { until_ms }
        );
        s.locked_until_ms = Some(until_ms);
        // Locked: even the right code is refused, and nothing is compared.
        assert_eq!(
            verify(&s, Purpose::Registration, true, T0 + 1),
            VerifyOutcome::Locked { until_ms }
        );
        assert_eq!(
            may_issue(&[], Some(until_ms), T0 + 1),
            Err(IssueRefusal::Locked { until_ms })
        );
        assert_eq!(may_issue(&[], Some(until_ms), until_ms), Ok(()));
    }

    #[test]
    fn three_codes_an_hour_and_ten_a_day() {
        let sent = [T0, T0 + 60_000, T0 + 120_000];
        assert_eq!(may_issue(&sent[..2], None, T0 + 180_000), Ok(()));
        assert_eq!(
            may_issue(&sent, None, T0 + 180_000),
            Err(IssueRefusal::HourlyLimit {
                retry_at_ms: T0 + HOUR_MS
            })
        );
        assert_eq!(may_issue(&sent, None, T0 + HOUR_MS + 1), Ok(()));
        let day: Vec<i64> = (0..10).map(|i| T0 + i * 2 * HOUR_MS).collect();
        let now = T0 + 19 * HOUR_MS;
        assert_eq!(
            may_issue(&day, None, now),
            Err(IssueRefusal::DailyLimit {
                retry_at_ms: T0 + DAY_MS
            })
        );
        assert_eq!(may_issue(&day, None, T0 + DAY_MS + 1), Ok(()));
    }

    #[test]
    fn the_code_sms_says_what_it_is_for_and_fits_the_part_budget() {
        use farmco_hardware::codec::pdu::split::split_text;
        use farmco_hardware::codec::pdu::udh::ConcatReference;
        for locale in crate::l10n::Locale::ALL {
            for purpose in Purpose::ALL {
                let text = code_sms(locale, "042917", purpose).unwrap();
                assert!(text.contains("042917"), "{text}");
                assert!(!text.contains('{'), "{text}");
                let parts = split_text(&text, ConcatReference::Eight(0)).unwrap();
                // English is one GSM-7 part; Devanagari is UCS-2 and may take two.
                let budget = if locale == crate::l10n::Locale::En {
                    1
                } else {
                    2
                };
                assert!(
                    parts.len() <= budget,
                    "{locale:?} {purpose:?}: {} parts: {text}",
                    parts.len()
                );
            }
        }
        let en = code_sms(crate::l10n::Locale::En, "042917", Purpose::Erasure).unwrap();
        assert!(en.contains("erase") && en.contains("Never share"), "{en}");
    }

    #[test]
    fn purposes_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(Purpose::parse("login"), None);
    }

    proptest! {
        #[test]
        fn never_more_than_the_limits_in_any_window(gaps in proptest::collection::vec(0i64..3 * HOUR_MS, 1..200)) {
            // Ask at random moments; send whenever allowed; count what was sent per window.
            let mut now = T0;
            let mut sent: Vec<i64> = Vec::new();
            for gap in gaps {
                now += gap;
                if may_issue(&sent, None, now).is_ok() {
                    sent.push(now);
                }
            }
            for (i, t) in sent.iter().enumerate() {
                let in_hour = sent[i..].iter().filter(|u| **u < t + HOUR_MS).count();
                let in_day = sent[i..].iter().filter(|u| **u < t + DAY_MS).count();
                prop_assert!(in_hour <= CODES_PER_PHONE_PER_HOUR_MAX);
                prop_assert!(in_day <= CODES_PER_PHONE_PER_DAY_MAX);
            }
        }

        #[test]
        fn a_wrong_code_never_verifies(tries in 0u32..10, now in 0i64..2 * CODE_VALID_MS) {
            let s = CodeState { wrong_tries: tries, ..fresh(Purpose::Export) };
            prop_assert_ne!(verify(&s, Purpose::Export, false, T0 + now), VerifyOutcome::Verified);
        }
    }
}
