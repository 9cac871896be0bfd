//! Fault injection for the simulator: what `POST /faults` arms and `GET /faults` shows.
//!
//! The JSON body is a [`FaultPlan`]; every field is optional and unknown fields are rejected.
//! Counts add to what is already armed; each fault fires once per count, on the next
//! command it applies to:
//!
//! ```json
//! {
//!   "drop_responses": 1,           // swallow the whole answer to the next N commands
//!   "drop_response_prefix": "AT+CSQ", // ...only commands starting with this (any case)
//!   "garbage_responses": 2,        // a burst of junk bytes before the next N answers
//!   "cms_errors": 2,               // next N AT+CMGS end in +CMS ERROR (after the delay)
//!   "cms_error_code": 500,         // ...with this code (default 500, "unknown error")
//!   "resets_mid_send": 1,          // next N AT+CMGS: the modem reboots instead of sending
//!   "delivery_failures": 1,        // next N status reports say "failed" (TP-ST 0x41)
//!   "busy_dials": 1,               // next N ATD: the farmer's line is busy (BUSY)
//!   "sim_capacity": 3,             // usable SIM slots from now on (full at used == capacity)
//!   "hang_ms": 5000,               // ignore all input and say nothing for this long
//!   "replug": true                 // USB re-enumeration: new pty, link re-pointed, reboot
//! }
//! ```
//!
//! A dropped response means the command still took effect (the bytes were lost, not the
//! action): a dropped `+CMGS` answer means the message *was* sent, which is why a driver that
//! retries can send it twice. `replug` is carried out by the pty shell, not the pure machine.

use serde::{Deserialize, Serialize};

/// Most of any one count that may be armed: enough for any test, small enough that a typo
/// cannot wedge the simulator for good.
pub const FAULT_COUNT_MAX: u32 = 1000;
/// Longest hang that may be armed: ten minutes.
pub const HANG_MS_MAX: u64 = 10 * 60 * 1000;

/// Faults to arm (the body of `POST /faults`), or the faults still armed (`GET /faults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Swallow the whole response (information lines and final result) to the next N
    /// commands; the command still takes effect.
    pub drop_responses: u32,
    /// Only drop responses to commands whose line starts with this, e.g. `AT+CSQ`.
    pub drop_response_prefix: Option<String>,
    /// Send a burst of garbage bytes (and a line end) before the next N responses.
    pub garbage_responses: u32,
    /// Answer the next N `AT+CMGS` with `+CMS ERROR: <cms_error_code>` after the send delay.
    pub cms_errors: u32,
    /// The code for `cms_errors`; 500 ("unknown error") when absent.
    pub cms_error_code: Option<u16>,
    /// The next N `AT+CMGS` reboot the modem once the PDU is in: no `+CMGS`, nothing sent.
    pub resets_mid_send: u32,
    /// Status reports for the next N sent parts carry TP-ST 0x41 (permanent failure).
    pub delivery_failures: u32,
    /// The next N `ATD` find the farmer's line busy: the call is logged and ends with `BUSY`.
    pub busy_dials: u32,
    /// Sets the SIM's usable capacity now.
    pub sim_capacity: Option<u16>,
    /// The modem ignores all input and says nothing for this many milliseconds, from now.
    pub hang_ms: Option<u64>,
    /// USB re-enumeration: the pty closes, a new one opens (the link is re-pointed) and the
    /// modem reboots. Carried out by the shell.
    pub replug: bool,
}

impl FaultPlan {
    /// Adds `other` to this plan: counts add (capped at [`FAULT_COUNT_MAX`]), settings
    /// replace.
    pub fn merge(&mut self, other: &FaultPlan) {
        let add = |mine: &mut u32, theirs: u32| {
            *mine = mine.saturating_add(theirs).min(FAULT_COUNT_MAX);
        };
        add(&mut self.drop_responses, other.drop_responses);
        add(&mut self.garbage_responses, other.garbage_responses);
        add(&mut self.cms_errors, other.cms_errors);
        add(&mut self.resets_mid_send, other.resets_mid_send);
        add(&mut self.delivery_failures, other.delivery_failures);
        add(&mut self.busy_dials, other.busy_dials);
        if other.drop_response_prefix.is_some() {
            self.drop_response_prefix = other.drop_response_prefix.clone();
        }
        if other.cms_error_code.is_some() {
            self.cms_error_code = other.cms_error_code;
        }
    }

    /// True when a response to `line` is to be dropped now (and counts it).
    pub(crate) fn take_drop(&mut self, line: &str) -> bool {
        if self.drop_responses == 0 {
            return false;
        }
        let matches = match &self.drop_response_prefix {
            Some(prefix) if !prefix.is_empty() => line
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix)),
            _ => true,
        };
        if matches {
            self.drop_responses -= 1;
        }
        matches
    }

    /// True when the next response gets garbage in front (and counts it).
    pub(crate) fn take_garbage(&mut self) -> bool {
        take(&mut self.garbage_responses)
    }

    /// The error code when the next send is to fail.
    pub(crate) fn take_cms_error(&mut self) -> Option<u16> {
        take(&mut self.cms_errors).then(|| self.cms_error_code.unwrap_or(500))
    }

    /// True when the next send is to reboot the modem.
    pub(crate) fn take_reset_mid_send(&mut self) -> bool {
        take(&mut self.resets_mid_send)
    }

    /// True when the next status report is to say "failed".
    pub(crate) fn take_delivery_failure(&mut self) -> bool {
        take(&mut self.delivery_failures)
    }
}

fn take(count: &mut u32) -> bool {
    if *count == 0 {
        return false;
    }
    *count -= 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_and_prefix_filters() {
        let mut plan = FaultPlan::default();
        plan.merge(&FaultPlan {
            drop_responses: 2,
            drop_response_prefix: Some("AT+CSQ".into()),
            ..FaultPlan::default()
        });
        assert!(!plan.take_drop("AT+CREG?"));
        assert!(plan.take_drop("at+csq"));
        assert!(plan.take_drop("AT+CSQ"));
        assert!(!plan.take_drop("AT+CSQ"));
        plan.merge(&FaultPlan {
            cms_errors: 1,
            ..FaultPlan::default()
        });
        assert_eq!(plan.take_cms_error(), Some(500));
        assert_eq!(plan.take_cms_error(), None);
        let parsed: Result<FaultPlan, _> = serde_json::from_str(r#"{"bogus": 1}"#);
        assert!(parsed.is_err());
    }
}
