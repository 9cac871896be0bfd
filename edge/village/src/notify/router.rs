//! The notification router, pure: a [`Notification`] for a farmer, the farmer's consents and
//! [`Preferences`], what the store knows of recent history, and `now_ms` in; a [`Decision`]
//! out — the attempts to schedule (channel, when, under which condition) or why nothing is sent.
//! Follow-ups are pure too: [`after_voice_attempt`] (retry, SMS fallback, give up) and
//! [`conditional_voice_goes_ahead`] (high urgency: call only if the SMS was not delivered).
//!
//! The rules (the issue's, with the choices it left open):
//! - **critical** (storm, flood): SMS and voice at once, even in quiet hours and over the daily
//!   cap, whatever channels the farmer prefers. **Consent is still honoured**: after STOP (SMS
//!   consent withdrawn) a critical alert goes by voice only if voice consent was given, else it
//!   is stored as suppressed (`no_consent`) for the agents to see. An explicit opt-out is the
//!   farmer's decision under the DPDP Act, and the box has no lawful basis to override it; the
//!   agents, who see suppressed critical alerts in `GET /api/v1/notifications`, can phone.
//! - **high**: SMS now (deferred to the end of quiet hours when inside them), and a voice call
//!   `sms_delivery_window_ms` later that goes ahead only if the SMS is not delivered by then.
//! - **normal**: one message on the preferred channel (SMS first), outside quiet hours; inside
//!   them it is deferred to their end.
//! - **low**: into the daily digest, sent at `digest_minute` local time (outside quiet hours).
//! - A voice call unanswered after `voice_tries_max` tries falls back to SMS (if the farmer has
//!   SMS consent and no SMS of this notification was planned already).
//! - **dedupe**: the same `dedupe_key` for the same farmer within `dedupe_window_ms` is
//!   suppressed (`duplicate`), for every urgency.
//! - **daily cap**: at most `max_per_day` non-digest notifications per farmer per local day;
//!   beyond it normal and high are suppressed (`daily_cap`), stored and visible; critical is
//!   exempt; the digest is one message a day and not capped.
//! - **sources** (alert, advisory, broadcast) follow the same rules; each needs consent for the
//!   channel it uses, which is what "broadcasts with consent only" requires.

use std::collections::BTreeMap;

use farmco_sync::{FarmerId, Language};
use serde::Serialize;

use super::localtime::{DAY_MINUTES, LocalClock};

/// Longest notification message key and argument count: message keys are Fluent ids
/// (`alert-dry-soil`), arguments a handful of values; anything bigger is a caller bug.
pub const MESSAGE_KEY_CHARS_MAX: usize = 64;
pub const MESSAGE_ARGS_MAX: usize = 16;
/// Longest argument value (an SMS is 160 characters; arguments are parts of one).
pub const MESSAGE_ARG_CHARS_MAX: usize = 160;
/// Highest accepted per-farmer daily cap.
pub const MAX_PER_DAY_LIMIT: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
    Critical,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
            Urgency::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Urgency> {
        [
            Urgency::Low,
            Urgency::Normal,
            Urgency::High,
            Urgency::Critical,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A local alert rule (MQTT ingest).
    Alert,
    /// An advisory that came down from the cloud.
    Advisory,
    /// `POST /api/v1/broadcasts`.
    Broadcast,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alert => "alert",
            Source::Advisory => "advisory",
            Source::Broadcast => "broadcast",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        [Source::Alert, Source::Advisory, Source::Broadcast]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            _ => None,
        }
    }
}

/// What to say: a localization key and its arguments, rendered in the farmer's language by the
/// SMS service or the voice shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub key: String,
    pub args: BTreeMap<String, String>,
}

/// Something to tell one farmer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Same alert for the same farmer → same key (e.g. `alert:<rule>:<farm>:<day>`).
    pub dedupe_key: String,
    pub farmer_id: FarmerId,
    pub urgency: Urgency,
    pub source: Source,
    pub message: Message,
}

/// The farmer's consents and language, from the farmers projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub consent_sms: bool,
    pub consent_voice: bool,
    pub language: Language,
}

/// Quiet hours as local minutes of the day, `[start, end)`, wrapping midnight when
/// `start > end`; `start == end` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuietHours {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl QuietHours {
    pub fn contains(self, minute: u32) -> bool {
        let (s, e) = (self.start_minute, self.end_minute);
        if s == e {
            false
        } else if s < e {
            (s..e).contains(&minute)
        } else {
            minute >= s || minute < e
        }
    }
}

/// A farmer's notification preferences (defaults from `[notify]` when never set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub sms: bool,
    pub voice: bool,
    /// Overrides the farmer's language for notifications.
    pub language: Option<Language>,
    pub quiet: QuietHours,
    pub max_per_day: u32,
}

/// Router settings, from `[notify]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterConfig {
    pub clock: LocalClock,
    pub dedupe_window_ms: i64,
    /// High urgency: call if the SMS is not delivered within this.
    pub sms_delivery_window_ms: i64,
    /// Voice tries before the SMS fallback.
    pub voice_tries_max: u32,
    pub voice_retry_delay_ms: i64,
    /// Local minute of the day the digest goes out.
    pub digest_minute: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            clock: LocalClock::IST,
            dedupe_window_ms: 6 * 3_600_000,
            sms_delivery_window_ms: 15 * 60_000,
            voice_tries_max: 3,
            voice_retry_delay_ms: 10 * 60_000,
            digest_minute: 18 * 60,
        }
    }
}

/// What the store knows, read in the deciding transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct History {
    /// When a notification with the same farmer and dedupe key was last accepted.
    pub last_same_key_ms: Option<i64>,
    /// Non-digest notifications accepted for this farmer on the current local day.
    pub counted_today: u32,
}

/// When a planned attempt may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// At `due_ms`.
    Always,
    /// At `due_ms`, unless the SMS of the same notification was delivered by then.
    UnlessSmsDelivered,
    /// In the digest sent at `due_ms`, together with the farmer's other digest items.
    Digest,
    /// Fallback after unanswered voice calls.
    Fallback,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Always => "always",
            Condition::UnlessSmsDelivered => "unless_sms_delivered",
            Condition::Digest => "digest",
            Condition::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedAttempt {
    pub channel: Channel,
    pub due_ms: i64,
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressReason {
    /// The same dedupe key for the same farmer within the window.
    Duplicate,
    /// No channel the farmer consented to (and, below critical, also prefers).
    NoConsent,
    /// Over the farmer's daily cap (normal and high only).
    DailyCap,
}

impl SuppressReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressReason::Duplicate => "duplicate",
            SuppressReason::NoConsent => "no_consent",
            SuppressReason::DailyCap => "daily_cap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send {
        language: Language,
        attempts: Vec<PlannedAttempt>,
        /// Counts against the daily cap (everything but the digest).
        counted: bool,
    },
    Suppressed(SuppressReason),
}

/// The first instant at or after `now_ms` outside the quiet hours.
pub fn outside_quiet(config: &RouterConfig, quiet: QuietHours, now_ms: i64) -> i64 {
    if quiet.contains(config.clock.minute_of_day(now_ms)) {
        config.clock.next_at_minute(now_ms, quiet.end_minute)
    } else {
        now_ms
    }
}

/// The next digest time: `digest_minute` local, moved to the end of quiet hours if it falls
/// inside them.
pub fn next_digest(config: &RouterConfig, quiet: QuietHours, now_ms: i64) -> i64 {
    let at = config
        .clock
        .next_at_minute(now_ms, config.digest_minute % DAY_MINUTES);
    outside_quiet(config, quiet, at)
}

/// Route one notification.
pub fn route(
    config: &RouterConfig,
    n: &Notification,
    recipient: Recipient,
    prefs: Preferences,
    history: History,
    now_ms: i64,
) -> Decision {
    if history
        .last_same_key_ms
        .is_some_and(|at| now_ms.saturating_sub(at) < config.dedupe_window_ms)
    {
        return Decision::Suppressed(SuppressReason::Duplicate);
    }
    let sms_ok = recipient.consent_sms;
    let voice_ok = recipient.consent_voice;
    let language = prefs.language.unwrap_or(recipient.language);
    let mut attempts = Vec::new();
    let at = |channel, due_ms, condition| PlannedAttempt {
        channel,
        due_ms,
        condition,
    };
    if n.urgency != Urgency::Critical
        && n.urgency != Urgency::Low
        && history.counted_today >= prefs.max_per_day
    {
        return Decision::Suppressed(SuppressReason::DailyCap);
    }
    match n.urgency {
        Urgency::Critical => {
            if sms_ok {
                attempts.push(at(Channel::Sms, now_ms, Condition::Always));
            }
            if voice_ok {
                attempts.push(at(Channel::Voice, now_ms, Condition::Always));
            }
        }
        Urgency::High => {
            let due = outside_quiet(config, prefs.quiet, now_ms);
            let sms = sms_ok && prefs.sms;
            let voice = voice_ok && prefs.voice;
            if sms {
                attempts.push(at(Channel::Sms, due, Condition::Always));
                if voice {
                    let later = outside_quiet(
                        config,
                        prefs.quiet,
                        due.saturating_add(config.sms_delivery_window_ms),
                    );
                    attempts.push(at(Channel::Voice, later, Condition::UnlessSmsDelivered));
                }
            } else if voice {
                attempts.push(at(Channel::Voice, due, Condition::Always));
            } else if sms_ok {
                // Preferences name no usable channel; consent allows SMS: do not drop a high alert.
                attempts.push(at(Channel::Sms, due, Condition::Always));
            } else if voice_ok {
                attempts.push(at(Channel::Voice, due, Condition::Always));
            }
        }
        Urgency::Normal => {
            let due = outside_quiet(config, prefs.quiet, now_ms);
            if sms_ok && prefs.sms {
                attempts.push(at(Channel::Sms, due, Condition::Always));
            } else if voice_ok && prefs.voice {
                attempts.push(at(Channel::Voice, due, Condition::Always));
            }
        }
        Urgency::Low => {
            let due = next_digest(config, prefs.quiet, now_ms);
            if sms_ok && prefs.sms {
                attempts.push(at(Channel::Sms, due, Condition::Digest));
            } else if voice_ok && prefs.voice {
                attempts.push(at(Channel::Voice, due, Condition::Digest));
            }
        }
    }
    if attempts.is_empty() {
        return Decision::Suppressed(SuppressReason::NoConsent);
    }
    Decision::Send {
        language,
        attempts,
        counted: n.urgency != Urgency::Low,
    }
}

/// High urgency's conditional call: go ahead only if the SMS was not delivered.
pub fn conditional_voice_goes_ahead(sms_delivered: bool) -> bool {
    !sms_delivered
}

/// What an unanswered or answered voice try leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum VoiceFollowUp {
    /// Answered: done.
    Done,
    /// Try again at `due_ms`.
    Retry { due_ms: i64 },
    /// Tries exhausted: send an SMS at `due_ms`.
    FallbackSms { due_ms: i64 },
    /// Tries exhausted and no SMS possible (no consent, or one was already planned).
    GiveUp,
}

/// After voice try number `tries_before + 1`.
pub fn after_voice_attempt(
    config: &RouterConfig,
    tries_before: u32,
    answered: bool,
    sms_consent: bool,
    sms_already_planned: bool,
    now_ms: i64,
) -> VoiceFollowUp {
    if answered {
        return VoiceFollowUp::Done;
    }
    let tries = tries_before.saturating_add(1);
    if tries < config.voice_tries_max.max(1) {
        return VoiceFollowUp::Retry {
            due_ms: now_ms.saturating_add(config.voice_retry_delay_ms.max(0)),
        };
    }
    if sms_consent && !sms_already_planned {
        VoiceFollowUp::FallbackSms { due_ms: now_ms }
    } else {
        VoiceFollowUp::GiveUp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::localtime::MINUTE_MS;

    /// 2026-12-02 00:00 IST.
    const MIDNIGHT_IST: i64 = 1_796_169_600_000 - 330 * MINUTE_MS;
    const HOUR: i64 = 60 * MINUTE_MS;

    fn ist(hour: i64, minute: i64) -> i64 {
        MIDNIGHT_IST + hour * HOUR + minute * MINUTE_MS
    }

    fn note(urgency: Urgency) -> Notification {
        Notification {
            dedupe_key: "alert:dry-soil:farm-1".into(),
            farmer_id: FarmerId(uuid::Uuid::from_u128(1)),
            urgency,
            source: Source::Alert,
            message: Message {
                key: "alert-dry-soil".into(),
                args: BTreeMap::new(),
            },
        }
    }

    fn both() -> Recipient {
        Recipient {
            consent_sms: true,
            consent_voice: true,
            language: Language::Hi,
        }
    }

    fn prefs() -> Preferences {
        Preferences {
            sms: true,
            voice: true,
            language: None,
            quiet: QuietHours {
                start_minute: 21 * 60,
                end_minute: 6 * 60,
            },
            max_per_day: 3,
        }
    }

    fn attempts(d: &Decision) -> Vec<(Channel, i64, Condition)> {
        match d {
            Decision::Send { attempts, .. } => attempts
                .iter()
                .map(|a| (a.channel, a.due_ms, a.condition))
                .collect(),
            Decision::Suppressed(r) => panic!("suppressed: {r:?}"),
        }
    }

    fn route_at(urgency: Urgency, r: Recipient, p: Preferences, h: History, now: i64) -> Decision {
        route(&RouterConfig::default(), &note(urgency), r, p, h, now)
    }

    #[test]
    fn normal_is_sent_now_outside_quiet_hours_and_deferred_inside() {
        let h = History::default();
        let d = route_at(Urgency::Normal, both(), prefs(), h, ist(14, 0));
        assert_eq!(
            attempts(&d),
            [(Channel::Sms, ist(14, 0), Condition::Always)]
        );
        let d = route_at(Urgency::Normal, both(), prefs(), h, ist(23, 10));
        assert_eq!(
            attempts(&d),
            [(Channel::Sms, ist(24 + 6, 0), Condition::Always)]
        );
        let d = route_at(Urgency::Normal, both(), prefs(), h, ist(2, 0));
        assert_eq!(attempts(&d), [(Channel::Sms, ist(6, 0), Condition::Always)]);
    }

    #[test]
    fn critical_overrides_quiet_hours_with_voice_and_sms() {
        let d = route_at(
            Urgency::Critical,
            both(),
            prefs(),
            History::default(),
            ist(2, 0),
        );
        assert_eq!(
            attempts(&d),
            [
                (Channel::Sms, ist(2, 0), Condition::Always),
                (Channel::Voice, ist(2, 0), Condition::Always)
            ]
        );
    }

    #[test]
    fn critical_ignores_channel_preferences_and_the_cap_but_not_consent() {
        let p = Preferences {
            voice: false,
            ..prefs()
        };
        let h = History {
            last_same_key_ms: None,
            counted_today: 99,
        };
        let d = route_at(Urgency::Critical, both(), p, h, ist(12, 0));
        assert_eq!(attempts(&d).len(), 2);
        // After STOP: voice only.
        let stopped = Recipient {
            consent_sms: false,
            ..both()
        };
        let d = route_at(Urgency::Critical, stopped, p, h, ist(12, 0));
        assert_eq!(
            attempts(&d),
            [(Channel::Voice, ist(12, 0), Condition::Always)]
        );
        // No consent at all: suppressed, never sent.
        let none = Recipient {
            consent_sms: false,
            consent_voice: false,
            language: Language::Hi,
        };
        assert_eq!(
            route_at(Urgency::Critical, none, p, h, ist(12, 0)),
            Decision::Suppressed(SuppressReason::NoConsent)
        );
    }

    #[test]
    fn high_sends_sms_now_and_calls_if_undelivered_within_the_window() {
        let d = route_at(
            Urgency::High,
            both(),
            prefs(),
            History::default(),
            ist(10, 0),
        );
        assert_eq!(
            attempts(&d),
            [
                (Channel::Sms, ist(10, 0), Condition::Always),
                (Channel::Voice, ist(10, 15), Condition::UnlessSmsDelivered)
            ]
        );
        assert!(conditional_voice_goes_ahead(false));
        assert!(!conditional_voice_goes_ahead(true));
        // In quiet hours both wait for their end.
        let d = route_at(
            Urgency::High,
            both(),
            prefs(),
            History::default(),
            ist(22, 0),
        );
        assert_eq!(attempts(&d)[0].1, ist(30, 0));
        assert_eq!(attempts(&d)[1].1, ist(30, 15));
    }

    #[test]
    fn low_goes_to_the_daily_digest_and_is_not_capped() {
        let h = History {
            last_same_key_ms: None,
            counted_today: 10,
        };
        let d = route_at(Urgency::Low, both(), prefs(), h, ist(9, 0));
        assert_eq!(
            attempts(&d),
            [(Channel::Sms, ist(18, 0), Condition::Digest)]
        );
        let d = route_at(Urgency::Low, both(), prefs(), h, ist(19, 0));
        assert_eq!(
            attempts(&d),
            [(Channel::Sms, ist(24 + 18, 0), Condition::Digest)]
        );
        assert!(matches!(d, Decision::Send { counted: false, .. }));
    }

    #[test]
    fn the_digest_moves_out_of_quiet_hours() {
        let p = Preferences {
            quiet: QuietHours {
                start_minute: 17 * 60,
                end_minute: 19 * 60,
            },
            ..prefs()
        };
        let d = route_at(Urgency::Low, both(), p, History::default(), ist(9, 0));
        assert_eq!(attempts(&d)[0].1, ist(19, 0));
    }

    #[test]
    fn duplicates_within_the_window_are_suppressed() {
        let cfg = RouterConfig::default();
        let h = History {
            last_same_key_ms: Some(ist(9, 0)),
            counted_today: 1,
        };
        for u in [
            Urgency::Critical,
            Urgency::High,
            Urgency::Normal,
            Urgency::Low,
        ] {
            assert_eq!(
                route_at(u, both(), prefs(), h, ist(9, 0) + cfg.dedupe_window_ms - 1),
                Decision::Suppressed(SuppressReason::Duplicate)
            );
        }
        let d = route_at(
            Urgency::Normal,
            both(),
            prefs(),
            h,
            ist(9, 0) + cfg.dedupe_window_ms,
        );
        assert!(matches!(d, Decision::Send { .. }));
    }

    #[test]
    fn the_daily_cap_holds_for_normal_and_high() {
        let h = |n| History {
            last_same_key_ms: None,
            counted_today: n,
        };
        assert!(matches!(
            route_at(Urgency::Normal, both(), prefs(), h(2), ist(12, 0)),
            Decision::Send { counted: true, .. }
        ));
        for u in [Urgency::Normal, Urgency::High] {
            assert_eq!(
                route_at(u, both(), prefs(), h(3), ist(12, 0)),
                Decision::Suppressed(SuppressReason::DailyCap)
            );
        }
    }

    #[test]
    fn consent_and_preferences_choose_the_channel() {
        let stopped = Recipient {
            consent_sms: false,
            ..both()
        };
        let d = route_at(
            Urgency::Normal,
            stopped,
            prefs(),
            History::default(),
            ist(12, 0),
        );
        assert_eq!(
            attempts(&d),
            [(Channel::Voice, ist(12, 0), Condition::Always)]
        );
        let none = Recipient {
            consent_sms: false,
            consent_voice: false,
            language: Language::Hi,
        };
        for u in [Urgency::High, Urgency::Normal, Urgency::Low] {
            assert_eq!(
                route_at(u, none, prefs(), History::default(), ist(12, 0)),
                Decision::Suppressed(SuppressReason::NoConsent)
            );
        }
        // A farmer who prefers voice only gets normal messages as calls.
        let p = Preferences {
            sms: false,
            ..prefs()
        };
        let d = route_at(Urgency::Normal, both(), p, History::default(), ist(12, 0));
        assert_eq!(attempts(&d)[0].0, Channel::Voice);
    }

    #[test]
    fn the_preferred_language_wins() {
        let p = Preferences {
            language: Some(Language::Mr),
            ..prefs()
        };
        let d = route_at(Urgency::Normal, both(), p, History::default(), ist(12, 0));
        assert!(matches!(
            d,
            Decision::Send {
                language: Language::Mr,
                ..
            }
        ));
    }

    #[test]
    fn unanswered_voice_retries_then_falls_back_to_sms() {
        let cfg = RouterConfig::default();
        let now = ist(12, 0);
        assert_eq!(
            after_voice_attempt(&cfg, 0, false, true, false, now),
            VoiceFollowUp::Retry {
                due_ms: now + cfg.voice_retry_delay_ms
            }
        );
        assert_eq!(
            after_voice_attempt(&cfg, 2, false, true, false, now),
            VoiceFollowUp::FallbackSms { due_ms: now }
        );
        assert_eq!(
            after_voice_attempt(&cfg, 2, false, true, true, now),
            VoiceFollowUp::GiveUp
        );
        assert_eq!(
            after_voice_attempt(&cfg, 2, false, false, false, now),
            VoiceFollowUp::GiveUp
        );
        assert_eq!(
            after_voice_attempt(&cfg, 1, true, true, false, now),
            VoiceFollowUp::Done
        );
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours {
            start_minute: 21 * 60,
            end_minute: 6 * 60,
        };
        assert!(q.contains(21 * 60));
        assert!(q.contains(0));
        assert!(!q.contains(6 * 60));
        assert!(!q.contains(12 * 60));
        let day = QuietHours {
            start_minute: 13 * 60,
            end_minute: 15 * 60,
        };
        assert!(day.contains(14 * 60) && !day.contains(15 * 60));
        let none = QuietHours {
            start_minute: 0,
            end_minute: 0,
        };
        assert!(!none.contains(0));
    }

    #[test]
    fn names_round_trip() {
        for u in [
            Urgency::Low,
            Urgency::Normal,
            Urgency::High,
            Urgency::Critical,
        ] {
            assert_eq!(Urgency::parse(u.as_str()), Some(u));
        }
        for s in [Source::Alert, Source::Advisory, Source::Broadcast] {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        for c in [Channel::Sms, Channel::Voice] {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// For any time, quiet hours, consents and history: nothing is due before now; nothing
        /// but critical is due inside quiet hours; a channel is used only with its consent.
        #[test]
        fn planned_attempts_respect_time_quiet_hours_and_consent(
            now in MIDNIGHT_IST..MIDNIGHT_IST + 30 * 24 * HOUR,
            start in 0_u32..1440, end in 0_u32..1440,
            sms in any::<bool>(), voice in any::<bool>(),
            p_sms in any::<bool>(), p_voice in any::<bool>(),
            urgency in prop::sample::select(vec![Urgency::Low, Urgency::Normal, Urgency::High, Urgency::Critical]),
            counted in 0_u32..6,
        ) {
            let cfg = RouterConfig::default();
            let quiet = QuietHours { start_minute: start, end_minute: end };
            let p = Preferences { sms: p_sms, voice: p_voice, language: None, quiet, max_per_day: 3 };
            let r = Recipient { consent_sms: sms, consent_voice: voice, language: Language::Hi };
            let h = History { last_same_key_ms: None, counted_today: counted };
            if let Decision::Send { attempts, .. } = route(&cfg, &note(urgency), r, p, h, now) {
                for a in attempts {
                    prop_assert!(a.due_ms >= now);
                    let consented = match a.channel {
                        Channel::Sms => sms,
                        Channel::Voice => voice,
                    };
                    prop_assert!(consented);
                    if urgency != Urgency::Critical {
                        prop_assert!(!quiet.contains(cfg.clock.minute_of_day(a.due_ms)));
                    }
                }
            }
        }
    }
}
