//! Voice call state from the modem's point of view, as a pure state machine: URCs and the
//! results of `ATA`/`ATD`/`ATH` in, call events out.
//!
//! A ringing call announces itself with `RING` every few seconds and `+CLIP` after each
//! (when caller ID is on). The edge gets one [`CallEvent::Incoming`]: on the first `+CLIP`,
//! or on the second `RING` if no `+CLIP` came (caller ID withheld or unavailable).
//! `NO CARRIER` while ringing means the caller gave up ([`CallEndReason::Missed`]).

use farmco_modem_codec::at::response::{CallEnd, FinalResult, Urc};

use super::events::CallEndReason;

/// What the edge hears about calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallEvent {
    Incoming { number: Option<String> },
    Answered,
    Ended { reason: CallEndReason },
    Dtmf { digit: char },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Ringing { announced: bool, rings: u32 },
    Dialing,
    Active,
}

/// The tracker.
#[derive(Debug, Clone)]
pub(crate) struct CallTracker {
    phase: Phase,
}

impl CallTracker {
    pub(crate) fn new() -> Self {
        CallTracker { phase: Phase::Idle }
    }

    /// True when no call is going on.
    pub(crate) fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// An unsolicited result code.
    pub(crate) fn on_urc(&mut self, urc: &Urc) -> Option<CallEvent> {
        match urc {
            Urc::Ring | Urc::RingWithType(_) => match self.phase {
                Phase::Idle => {
                    self.phase = Phase::Ringing {
                        announced: false,
                        rings: 1,
                    };
                    None
                }
                Phase::Ringing {
                    announced: false,
                    rings,
                } if rings >= 1 => {
                    self.phase = Phase::Ringing {
                        announced: true,
                        rings: rings + 1,
                    };
                    Some(CallEvent::Incoming { number: None })
                }
                Phase::Ringing { announced, rings } => {
                    self.phase = Phase::Ringing {
                        announced,
                        rings: rings + 1,
                    };
                    None
                }
                Phase::Dialing | Phase::Active => None,
            },
            Urc::CallerId(caller) => match self.phase {
                Phase::Idle
                | Phase::Ringing {
                    announced: false, ..
                } => {
                    let rings = match self.phase {
                        Phase::Ringing { rings, .. } => rings,
                        _ => 0,
                    };
                    self.phase = Phase::Ringing {
                        announced: true,
                        rings,
                    };
                    let number = (!caller.number.is_empty()).then(|| caller.number.clone());
                    Some(CallEvent::Incoming { number })
                }
                _ => None,
            },
            Urc::CallEnded(end) => {
                let reason = match (self.phase, end) {
                    (Phase::Idle, _) => return None,
                    (Phase::Ringing { .. }, _) => CallEndReason::Missed,
                    (_, CallEnd::NoCarrier) => CallEndReason::RemoteHangup,
                    (_, CallEnd::Busy) => CallEndReason::Busy,
                    (_, CallEnd::NoAnswer) => CallEndReason::NoAnswer,
                    (_, CallEnd::NoDialtone) => CallEndReason::NoDialtone,
                };
                self.phase = Phase::Idle;
                Some(CallEvent::Ended { reason })
            }
            Urc::Dtmf(tone) => Some(CallEvent::Dtmf { digit: tone.key() }),
            _ => None,
        }
    }

    /// `ATD` is about to be sent.
    pub(crate) fn on_dialing(&mut self) {
        self.phase = Phase::Dialing;
    }

    /// The result of `ATD` or `ATA`.
    pub(crate) fn on_connect_result(&mut self, result: &FinalResult) -> CallEvent {
        let reason = match result {
            FinalResult::Ok | FinalResult::Connect(_) => {
                self.phase = Phase::Active;
                return CallEvent::Answered;
            }
            FinalResult::Busy => CallEndReason::Busy,
            FinalResult::NoAnswer => CallEndReason::NoAnswer,
            FinalResult::NoDialtone => CallEndReason::NoDialtone,
            FinalResult::NoCarrier
            | FinalResult::Error
            | FinalResult::CmeError(_)
            | FinalResult::CmsError(_) => match self.phase {
                Phase::Ringing { .. } => CallEndReason::Missed,
                _ => CallEndReason::RemoteHangup,
            },
        };
        self.phase = Phase::Idle;
        CallEvent::Ended { reason }
    }

    /// `ATH` succeeded.
    pub(crate) fn on_hung_up(&mut self) -> Option<CallEvent> {
        if self.phase == Phase::Idle {
            return None;
        }
        self.phase = Phase::Idle;
        Some(CallEvent::Ended {
            reason: CallEndReason::LocalHangup,
        })
    }

    /// The modem was lost or rebooted.
    pub(crate) fn on_modem_lost(&mut self) -> Option<CallEvent> {
        if self.phase == Phase::Idle {
            return None;
        }
        self.phase = Phase::Idle;
        Some(CallEvent::Ended {
            reason: CallEndReason::ModemLost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farmco_modem_codec::at::response::{CallerId, DtmfTone};

    fn caller(number: &str) -> Urc {
        Urc::CallerId(CallerId {
            number: number.to_owned(),
            type_of_address: 145,
            name: None,
            validity: Some(0),
        })
    }

    #[test]
    fn one_incoming_event_per_call() {
        let mut calls = CallTracker::new();
        assert_eq!(calls.on_urc(&Urc::Ring), None);
        assert_eq!(
            calls.on_urc(&caller("+919812345678")),
            Some(CallEvent::Incoming {
                number: Some("+919812345678".into())
            })
        );
        assert_eq!(calls.on_urc(&Urc::Ring), None);
        assert_eq!(calls.on_urc(&caller("+919812345678")), None);
        assert_eq!(
            calls.on_connect_result(&FinalResult::Ok),
            CallEvent::Answered
        );
        let tone = DtmfTone::new('5').map(Urc::Dtmf);
        assert_eq!(
            tone.and_then(|urc| calls.on_urc(&urc)),
            Some(CallEvent::Dtmf { digit: '5' })
        );
        assert_eq!(
            calls.on_urc(&Urc::CallEnded(CallEnd::NoCarrier)),
            Some(CallEvent::Ended {
                reason: CallEndReason::RemoteHangup
            })
        );
        assert!(calls.is_idle());
    }

    #[test]
    fn withheld_number_and_missed_call() {
        let mut calls = CallTracker::new();
        assert_eq!(calls.on_urc(&Urc::Ring), None);
        assert_eq!(
            calls.on_urc(&Urc::Ring),
            Some(CallEvent::Incoming { number: None })
        );
        assert_eq!(
            calls.on_urc(&Urc::CallEnded(CallEnd::NoCarrier)),
            Some(CallEvent::Ended {
                reason: CallEndReason::Missed
            })
        );
        assert_eq!(calls.on_urc(&Urc::CallEnded(CallEnd::NoCarrier)), None);
    }
}
