//! Missed-call callbacks, pure: whether a request is queued (one pending per number, a daily
//! limit per number counted in local days), and what an attempt's outcome does to a queued
//! callback (done, retry after a delay, or give up).
//!
//! The store (`store::voice`) reads the history and applies these decisions in the same
//! transaction, so two requests racing cannot both pass the limit.

use serde::Serialize;

use crate::notify::localtime::LocalClock;
use crate::voice::flow::CallOutcome;

/// Largest per-number daily limit accepted from config: a box that calls one farmer more
/// often than this is broken or abused (each call costs airtime).
pub const CALLBACKS_PER_NUMBER_PER_DAY_MAX: u32 = 20;
/// Most dial attempts of one callback accepted from config.
pub const CALLBACK_ATTEMPTS_MAX: u32 = 10;

/// Callback rules, from `[voice]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// Callbacks queued per number per local day.
    pub per_number_per_day: u32,
    /// Dial attempts per callback (the first included).
    pub attempts_max: u32,
    /// Wait between a ring-off and the first dial (lets the farmer's phone become free).
    pub first_delay_ms: i64,
    /// Wait after a busy / unanswered / failed dial before the next.
    pub retry_delay_ms: i64,
    /// The local day the daily limit counts in.
    pub clock: LocalClock,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        CallbackPolicy {
            per_number_per_day: 3,
            attempts_max: 3,
            first_delay_ms: 10_000,
            retry_delay_ms: 5 * 60_000,
            clock: LocalClock::IST,
        }
    }
}

/// What the store knows about a number, read in the deciding transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NumberHistory {
    /// Callbacks queued for this number on the current local day (any state).
    pub queued_today: u32,
    /// A callback for this number is pending or dialing.
    pub open: bool,
}

/// The answer to a callback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RequestDecision {
    /// Queue it, first dial at `due_ms`; it counts on `local_day`.
    Queue { due_ms: i64, local_day: i64 },
    /// One is already queued for this number: nothing new.
    AlreadyOpen,
    /// The daily limit is reached.
    RateLimited { per_day: u32 },
}

/// Decide a callback request for a number.
pub fn decide_request(
    policy: &CallbackPolicy,
    history: NumberHistory,
    now_ms: i64,
) -> RequestDecision {
    if history.open {
        return RequestDecision::AlreadyOpen;
    }
    if history.queued_today >= policy.per_number_per_day {
        return RequestDecision::RateLimited {
            per_day: policy.per_number_per_day,
        };
    }
    RequestDecision::Queue {
        due_ms: now_ms.saturating_add(policy.first_delay_ms.max(0)),
        local_day: policy.clock.day(now_ms),
    }
}

/// Where a callback is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Waiting for `due_ms`.
    Pending,
    /// A dial is in progress (after a crash: back to pending, the attempt counted).
    Dialing,
    /// The farmer answered.
    Done,
    /// Every attempt failed.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Dialing => "dialing",
            CallbackState::Done => "done",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CallbackState> {
        match s {
            "pending" => Some(CallbackState::Pending),
            "dialing" => Some(CallbackState::Dialing),
            "done" => Some(CallbackState::Done),
            "failed" => Some(CallbackState::Failed),
            _ => None,
        }
    }
}

/// What a finished dial attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterAttempt {
    pub state: CallbackState,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The next dial, when pending.
    pub due_ms: Option<i64>,
}

/// Apply the outcome of dial attempt number `attempts_before + 1`.
pub fn after_attempt(
    policy: &CallbackPolicy,
    attempts_before: u32,
    outcome: CallOutcome,
    now_ms: i64,
) -> AfterAttempt {
    let attempts = attempts_before.saturating_add(1);
    match outcome {
        CallOutcome::Completed => AfterAttempt {
            state: CallbackState::Done,
            attempts,
            due_ms: None,
        },
        CallOutcome::Busy
        | CallOutcome::NoAnswer
        | CallOutcome::Failed
        | CallOutcome::Missed
        | CallOutcome::Rejected => {
            if attempts >= policy.attempts_max.max(1) {
                AfterAttempt {
                    state: CallbackState::Failed,
                    attempts,
                    due_ms: None,
                }
            } else {
                AfterAttempt {
                    state: CallbackState::Pending,
                    attempts,
                    due_ms: Some(now_ms.saturating_add(policy.retry_delay_ms.max(0))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_796_169_600_000; // 2026-12-02 05:30 IST

    #[test]
    fn a_request_is_queued_after_the_first_delay() {
        let p = CallbackPolicy::default();
        assert_eq!(
            decide_request(&p, NumberHistory::default(), T0),
            RequestDecision::Queue {
                due_ms: T0 + 10_000,
                local_day: p.clock.day(T0)
            }
        );
    }

    #[test]
    fn one_open_callback_per_number() {
        let p = CallbackPolicy::default();
        let h = NumberHistory {
            queued_today: 1,
            open: true,
        };
        assert_eq!(decide_request(&p, h, T0), RequestDecision::AlreadyOpen);
    }

    #[test]
    fn the_daily_limit_per_number_holds() {
        let p = CallbackPolicy {
            per_number_per_day: 2,
            ..CallbackPolicy::default()
        };
        let h = |n| NumberHistory {
            queued_today: n,
            open: false,
        };
        assert!(matches!(
            decide_request(&p, h(1), T0),
            RequestDecision::Queue { .. }
        ));
        assert_eq!(
            decide_request(&p, h(2), T0),
            RequestDecision::RateLimited { per_day: 2 }
        );
    }

    #[test]
    fn busy_is_retried_after_the_delay_until_attempts_run_out() {
        let p = CallbackPolicy::default();
        let a = after_attempt(&p, 0, CallOutcome::Busy, T0);
        assert_eq!(
            a,
            AfterAttempt {
                state: CallbackState::Pending,
                attempts: 1,
                due_ms: Some(T0 + 300_000)
            }
        );
        let a = after_attempt(&p, 1, CallOutcome::NoAnswer, T0);
        assert_eq!(a.state, CallbackState::Pending);
        let a = after_attempt(&p, 2, CallOutcome::NoAnswer, T0);
        assert_eq!(
            a,
            AfterAttempt {
                state: CallbackState::Failed,
                attempts: 3,
                due_ms: None
            }
        );
    }

    #[test]
    fn an_answered_callback_is_done() {
        let p = CallbackPolicy::default();
        let a = after_attempt(&p, 1, CallOutcome::Completed, T0);
        assert_eq!(a.state, CallbackState::Done);
        assert_eq!(a.attempts, 2);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            CallbackState::Pending,
            CallbackState::Dialing,
            CallbackState::Done,
            CallbackState::Failed,
        ] {
            assert_eq!(CallbackState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CallbackState::parse("x"), None);
    }
}
