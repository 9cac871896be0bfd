//! The IVR call flow as a pure state machine: one [`CallFlow`] per call, fed [`CallInput`]s
//! (modem call events mapped by the shell, and timer ticks carrying `now_ms`), answering with
//! [`Action`]s for the shell to carry out (answer, speak a [`Prompt`], hang up, set the one
//! timer, record an agent task, queue a callback).
//!
//! No I/O, no clock: time arrives in every input, and answers' data comes through the
//! [`VoiceContent`] trait, which the shell implements over the store.
//!
//! Design constraints:
//! - **One timer.** The machine keeps a single deadline; [`Action::SetTimer`] replaces the
//!   previous one and [`Action::CancelTimer`] clears it. Early or spurious ticks are harmless:
//!   the machine compares `now_ms` with its own deadline.
//! - **One prompt at a time.** A [`Prompt`] is spoken, then the machine waits for
//!   [`CallInput::SpeechFinished`] (or a guard of [`FlowConfig::speech_guard_ms`], for
//!   recorded prompts and modems that do not announce the end of speech) before the next.
//! - **Barge-in.** A menu key pressed while the menu or an answer is being spoken is taken at
//!   once; the farmer need not wait for the prompt to end.
//! - **Bounded.** A call lasts at most [`FlowConfig::call_max_ms`]; at most
//!   [`FlowConfig::menu_repeats_max`] silent repeats of the menu; after
//!   [`CallInput::CallEnded`] the machine is [`CallFlow::is_finished`] and ignores everything.
//! - **Exactly one [`Action::CallOver`]** per call, emitted on `CallEnded`, with the outcome
//!   the callback logic needs.

use farmco_sync::{FarmerId, Language, PhoneNumber, VillageCode};

use crate::notify::router::Message;
use serde::Serialize;

/// Guards on configured values (validated in `config.rs`, clamped here too so a hand-built
/// config cannot wedge a call): the longest a farmer waits for anything is 2 minutes.
pub const TIMEOUT_MS_MAX: i64 = 120_000;
/// Smallest timeout accepted: below 1 s a farmer cannot react.
pub const TIMEOUT_MS_MIN: i64 = 1_000;
/// Longest call, whatever the config says: 15 minutes holds the modem from SMS and callbacks.
pub const CALL_MS_MAX: i64 = 15 * 60_000;

/// How calls are handled, from `[voice]` in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowConfig {
    /// Answer once the phone has rung this many times (1 = at once).
    pub answer_after_rings: u32,
    /// Time between rings, used when the modem reports the call once (today's driver) rather
    /// than every ring: answering is then due `(answer_after_rings - rings) * ring_interval_ms`
    /// after the call was announced.
    pub ring_interval_ms: i64,
    /// `true`: every incoming call is rejected and called back (the farmer pays nothing).
    pub missed_call_mode: bool,
    /// After the menu has been spoken, how long to wait for a key.
    pub menu_timeout_ms: i64,
    /// Silent timeouts that repeat the menu before goodbye (the issue says two).
    pub menu_repeats_max: u32,
    /// The same key again within this window counts once (DTMF reports bounce on some
    /// modems, and impatient farmers double-press).
    pub dtmf_debounce_ms: i64,
    /// If the modem never says speech has finished, go on after this long.
    pub speech_guard_ms: i64,
    /// Longest call; then goodbye and hang up.
    pub call_max_ms: i64,
    /// The order `*` cycles through (the languages with prompts on this node); the first is
    /// also the language of callers the box does not know.
    pub languages: Vec<Language>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            answer_after_rings: 2,
            ring_interval_ms: 5_000,
            missed_call_mode: false,
            menu_timeout_ms: 8_000,
            menu_repeats_max: 2,
            dtmf_debounce_ms: 400,
            speech_guard_ms: 30_000,
            call_max_ms: 5 * 60_000,
            // The demo village (Ralegan Siddhi, Maharashtra) speaks Marathi.
            languages: vec![Language::Mr, Language::Hi, Language::En],
        }
    }
}

/// The caller as the shell found them in the store (by the `+CLIP` number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerLookup {
    /// A registered farmer.
    Farmer(FarmerCaller),
    /// Not registered, or the number was withheld.
    Unknown,
}

/// What the flow needs to know about a registered farmer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarmerCaller {
    pub farmer_id: FarmerId,
    pub village_code: VillageCode,
    pub phone: PhoneNumber,
    pub language: Language,
    /// The farmer agreed to voice calls (`consents.voice`).
    pub voice_consent: bool,
}

/// What the shell feeds the machine. Every input carries the current time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    /// The phone rings (`ModemEvent::IncomingCall`). `number` is `None` when withheld;
    /// `rings` is how many rings the modem has counted so far (the driver reports the call
    /// once, at its first `+CLIP`: 1).
    Incoming {
        number: Option<PhoneNumber>,
        caller: CallerLookup,
        rings: u32,
        now_ms: i64,
    },
    /// A further ring of the same call, for drivers that report every ring.
    Ring { rings: u32, now_ms: i64 },
    /// The box is dialing out (the shell calls `ModemHandle::dial` right after).
    Dialing {
        outbound: Outbound,
        caller: FarmerCaller,
        now_ms: i64,
    },
    /// The call is connected (`ModemEvent::CallAnswered`).
    Answered { now_ms: i64 },
    /// A key (`ModemEvent::Dtmf`).
    Dtmf { digit: char, now_ms: i64 },
    /// The modem finished speaking (`ModemEvent::SpeechFinished`).
    SpeechFinished { now_ms: i64 },
    /// The call is over (`ModemEvent::CallEnded`).
    CallEnded { reason: EndReason, now_ms: i64 },
    /// The timer (or any periodic tick).
    Tick { now_ms: i64 },
}

/// Why the box dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A queued missed-call callback (`voice_callbacks.id`): greeting, then the menu.
    Callback { callback_id: i64 },
    /// A voice notification (`notification_attempts.id`): greeting, the message, then the menu.
    Notification { attempt_id: i64, message: Message },
}

/// Why a call ended: `farmco_hardware::driver::CallEndReason`, mirrored so this core does not
/// depend on the driver crate (edge does not link the hardware crate yet; the wiring maps 1:1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    RemoteHangup,
    Missed,
    LocalHangup,
    Busy,
    NoAnswer,
    NoDialtone,
    ModemLost,
}

/// A menu topic, also the "not available" subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    MandiPrices,
    Weather,
    SoilCard,
    SoilMoisture,
    OpenAlerts,
}

/// One commodity's price at a market (Agmarknet style, rupees per quintal).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MandiPrice {
    pub commodity: String,
    pub market: String,
    pub modal_rs_per_quintal: u32,
    pub min_rs_per_quintal: u32,
    pub max_rs_per_quintal: u32,
    /// YYYY-MM-DD of the price.
    pub date: String,
}

/// One day of the village forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeatherDay {
    /// YYYY-MM-DD.
    pub date: String,
    pub rain_mm: f64,
    pub temp_min_c: f64,
    pub temp_max_c: f64,
    /// A localizable condition key (`clear`, `rain`, `storm`, ...).
    pub condition: String,
}

/// A soil health card summary and the fertilizer advice derived from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoilAdvice {
    pub survey_number: String,
    /// YYYY-MM-DD of sampling.
    pub sampled_on: String,
    /// Parameter key (`n`, `p`, `k`, `ph`, ...) and a status key (`low`, `medium`, `high`).
    pub statuses: Vec<(String, String)>,
    /// Product and dose per acre.
    pub fertilizer: Vec<FertilizerDose>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FertilizerDose {
    pub product: String,
    pub kg_per_acre: f64,
}

/// The latest soil moisture of one farm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FarmMoisture {
    pub survey_number: String,
    pub volumetric_percent: f64,
    pub measured_at_ms: i64,
}

/// An open alert of the farmer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertSummary {
    /// Localizable alert kind (`dry_soil`, `storm_warning`, ...).
    pub kind: String,
    pub survey_number: Option<String>,
    pub raised_at_ms: i64,
}

/// Data for the menu's answers, implemented by the shell over the store. `None` means "not
/// available" (no price today, no soil test, no sensor): the farmer hears that, not silence.
/// Implementations must be quick (one indexed query each): a person is waiting on the line.
pub trait VoiceContent {
    fn mandi_prices(&self, farmer: &FarmerCaller) -> Option<Vec<MandiPrice>>;
    fn weather(&self, farmer: &FarmerCaller) -> Option<Vec<WeatherDay>>;
    fn soil_card(&self, farmer: &FarmerCaller) -> Option<SoilAdvice>;
    fn soil_moisture(&self, farmer: &FarmerCaller) -> Option<Vec<FarmMoisture>>;
    fn open_alerts(&self, farmer: &FarmerCaller) -> Option<Vec<AlertSummary>>;
}

/// What to say, with its data. Rendered to text (Fluent, in the call's language) or mapped to a
/// recorded file by the shell; the call log stores both the rendered text and this value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "prompt", content = "data", rename_all = "snake_case")]
pub enum Prompt {
    /// "Namaste, welcome to the FarmCo helpline."
    Greeting,
    /// "Press 1 for mandi prices, 2 weather, 3 soil card, 4 soil moisture, 5 alerts, 9 to ask
    /// an agent to call you, 0 to repeat, star to change language."
    Menu,
    MandiPrices(Vec<MandiPrice>),
    Weather(Vec<WeatherDay>),
    SoilCard(SoilAdvice),
    SoilMoisture(Vec<FarmMoisture>),
    OpenAlerts(Vec<AlertSummary>),
    /// "Sorry, this is not available right now."
    NotAvailable(Topic),
    /// "An agent of your village will call you back."
    AgentWillCallBack,
    /// "That key is not in the menu."
    InvalidKey,
    /// "Now speaking <language>."
    LanguageChanged(String),
    /// "This number is not registered. Ask your village agent ..."
    RegistrationInstructions,
    /// "Voice calls are not enabled for you. Ask your village agent ..."
    VoiceNotEnabled,
    /// "Thank you, goodbye."
    Goodbye,
    /// A notification read out on an outbound call (its localization key and arguments).
    Notification(Message),
}

/// Every prompt's message id: a language in `recorded` mode needs a file for each.
pub const PROMPT_MESSAGE_IDS: [&str; 15] = [
    "ivr-greeting",
    "ivr-menu",
    "ivr-mandi-prices",
    "ivr-weather",
    "ivr-soil-card",
    "ivr-soil-moisture",
    "ivr-open-alerts",
    "ivr-not-available",
    "ivr-agent-callback",
    "ivr-invalid-key",
    "ivr-language-changed",
    "ivr-registration",
    "ivr-voice-not-enabled",
    "ivr-goodbye",
    "ivr-notification",
];

impl Prompt {
    /// The message id of this prompt (Fluent id and the stem of recorded prompt files).
    pub fn message_id(&self) -> &'static str {
        match self {
            Prompt::Greeting => "ivr-greeting",
            Prompt::Menu => "ivr-menu",
            Prompt::MandiPrices(_) => "ivr-mandi-prices",
            Prompt::Weather(_) => "ivr-weather",
            Prompt::SoilCard(_) => "ivr-soil-card",
            Prompt::SoilMoisture(_) => "ivr-soil-moisture",
            Prompt::OpenAlerts(_) => "ivr-open-alerts",
            Prompt::NotAvailable(_) => "ivr-not-available",
            Prompt::AgentWillCallBack => "ivr-agent-callback",
            Prompt::InvalidKey => "ivr-invalid-key",
            Prompt::LanguageChanged(_) => "ivr-language-changed",
            Prompt::RegistrationInstructions => "ivr-registration",
            Prompt::VoiceNotEnabled => "ivr-voice-not-enabled",
            Prompt::Goodbye => "ivr-goodbye",
            Prompt::Notification(_) => "ivr-notification",
        }
    }
}

/// How a call ended, for the call log and the callback logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Connected and ended (by either side).
    Completed,
    /// Rang off before it was answered.
    Missed,
    /// Rejected on purpose (missed-call mode).
    Rejected,
    /// Our dial: busy.
    Busy,
    /// Our dial: nobody answered.
    NoAnswer,
    /// No network, modem lost, or the dial failed otherwise.
    Failed,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Completed => "completed",
            CallOutcome::Missed => "missed",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Failed => "failed",
        }
    }
}

/// Why a callback is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackReason {
    /// The caller rang off before the box answered.
    RangOff,
    /// Missed-call mode: every call is called back.
    MissedCallMode,
}

impl CallbackReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackReason::RangOff => "rang_off",
            CallbackReason::MissedCallMode => "missed_call_mode",
        }
    }
}

/// What the shell must do. Carry them out in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `ModemHandle::answer`.
    Answer,
    /// Render in `language` and `ModemHandle::speak` (or play the recorded file); log the text.
    Speak { prompt: Prompt, language: Language },
    /// `ModemHandle::hang_up`.
    HangUp,
    /// Tick the machine at `at_ms` (replaces any earlier timer).
    SetTimer { at_ms: i64 },
    /// No tick needed.
    CancelTimer,
    /// Insert an agent task "call this farmer back" for the village's agents.
    RecordAgentTask { farmer: FarmerCaller },
    /// Ask the callback logic to queue a callback (it applies the rate limit).
    QueueCallback {
        farmer: FarmerCaller,
        reason: CallbackReason,
    },
    /// Log that the farmer pressed a key (the call log keeps DTMF next to the spoken text).
    LogKey { digit: char },
    /// The call is over: log it; for an outbound call, report the outcome (callback logic, or
    /// the notification attempt: answered, or unanswered → retry / SMS fallback).
    CallOver {
        outcome: CallOutcome,
        outbound: Option<Outbound>,
    },
}

/// What the machine waits for while speaking, once the prompt has been said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterSpeech {
    /// Speak the next queued prompt, or listen for a key when none is left.
    Continue,
    /// Hang up once the queue is empty.
    HangUp,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Created, nothing heard yet.
    Idle,
    /// An inbound call rings; answer when due.
    Ringing { answer_at_ms: Option<i64> },
    /// Our callback dial is in progress.
    Dialing,
    /// Answered, waiting for `CallAnswered` to start talking.
    Answering,
    /// Speaking `queue[0]`; when the queue empties, `then`.
    Speaking {
        queue: Vec<Prompt>,
        then: AfterSpeech,
        menu: bool,
    },
    /// The menu has been said; waiting for a key.
    Listening,
    /// Hang-up requested; waiting for `CallEnded`.
    HangingUp,
    /// The call is over.
    Finished,
}

/// One call's state.
#[derive(Debug, Clone)]
pub struct CallFlow {
    config: FlowConfig,
    phase: Phase,
    caller: CallerLookup,
    outbound: Option<Outbound>,
    language: Language,
    answered: bool,
    rejected: bool,
    started_ms: i64,
    deadline_ms: Option<i64>,
    silent_repeats: u32,
    last_key: Option<(char, i64)>,
    /// What `0` repeats: the last answer (or the menu when none).
    last_answer: Option<Prompt>,
}

impl CallFlow {
    /// A fresh machine for the next call.
    pub fn new(config: FlowConfig) -> CallFlow {
        let mut config = config;
        config.answer_after_rings = config.answer_after_rings.clamp(1, 20);
        config.ring_interval_ms = config.ring_interval_ms.clamp(TIMEOUT_MS_MIN, 30_000);
        config.menu_timeout_ms = config.menu_timeout_ms.clamp(TIMEOUT_MS_MIN, TIMEOUT_MS_MAX);
        config.speech_guard_ms = config.speech_guard_ms.clamp(TIMEOUT_MS_MIN, TIMEOUT_MS_MAX);
        config.call_max_ms = config.call_max_ms.clamp(TIMEOUT_MS_MIN, CALL_MS_MAX);
        config.dtmf_debounce_ms = config.dtmf_debounce_ms.clamp(0, 5_000);
        if config.languages.is_empty() {
            config.languages = vec![Language::Hi];
        }
        let language = config.languages[0];
        CallFlow {
            config,
            phase: Phase::Idle,
            caller: CallerLookup::Unknown,
            outbound: None,
            language,
            answered: false,
            rejected: false,
            started_ms: 0,
            deadline_ms: None,
            silent_repeats: 0,
            last_key: None,
            last_answer: None,
        }
    }

    /// True once the call is over; every later input is ignored.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// True from the first ring or dial until the call is over (the shell pauses SMS sending
    /// while this holds).
    pub fn in_call(&self) -> bool {
        !matches!(self.phase, Phase::Idle | Phase::Finished)
    }

    /// The language the call is in now.
    pub fn language(&self) -> Language {
        self.language
    }

    /// The pending timer, if any.
    pub fn deadline_ms(&self) -> Option<i64> {
        self.deadline_ms
    }

    /// Feed one input; returns what to do.
    pub fn handle(&mut self, input: CallInput, content: &dyn VoiceContent) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Finished {
            return out;
        }
        match input {
            CallInput::Incoming {
                number: _,
                caller,
                rings,
                now_ms,
            } => self.on_incoming(caller, rings, now_ms, &mut out),
            CallInput::Ring { rings, now_ms } => {
                if let Phase::Ringing { .. } = self.phase
                    && rings >= self.config.answer_after_rings
                {
                    self.answer(now_ms, &mut out);
                } else {
                    self.check_call_max(now_ms, &mut out);
                }
            }
            CallInput::Dialing {
                outbound,
                caller,
                now_ms,
            } => {
                if self.phase == Phase::Idle {
                    self.language = self.pick_language(caller.language);
                    self.caller = CallerLookup::Farmer(caller);
                    self.outbound = Some(outbound);
                    self.started_ms = now_ms;
                    self.phase = Phase::Dialing;
                }
            }
            CallInput::Answered { now_ms } => match self.phase {
                Phase::Answering | Phase::Dialing | Phase::Ringing { .. } => {
                    self.answered = true;
                    self.start_talking(now_ms, &mut out);
                }
                _ => {}
            },
            CallInput::Dtmf { digit, now_ms } => self.on_key(digit, now_ms, content, &mut out),
            CallInput::SpeechFinished { now_ms } => {
                if matches!(self.phase, Phase::Speaking { .. }) {
                    self.next_prompt(now_ms, &mut out);
                }
            }
            CallInput::CallEnded { reason, now_ms: _ } => self.on_ended(reason, &mut out),
            CallInput::Tick { now_ms } => self.on_tick(now_ms, &mut out),
        }
        out
    }

    fn pick_language(&self, wanted: Language) -> Language {
        if self.config.languages.contains(&wanted) {
            wanted
        } else {
            self.config.languages[0]
        }
    }

    fn set_timer(&mut self, at_ms: i64, out: &mut Vec<Action>) {
        self.deadline_ms = Some(at_ms);
        out.push(Action::SetTimer { at_ms });
    }

    fn on_incoming(
        &mut self,
        caller: CallerLookup,
        rings: u32,
        now_ms: i64,
        out: &mut Vec<Action>,
    ) {
        if self.phase != Phase::Idle {
            return;
        }
        self.started_ms = now_ms;
        if let CallerLookup::Farmer(f) = &caller {
            self.language = self.pick_language(f.language);
        }
        self.caller = caller;
        if self.config.missed_call_mode {
            // Reject at once: the farmer pays nothing, the box calls back.
            self.rejected = true;
            if let CallerLookup::Farmer(f) = &self.caller
                && f.voice_consent
            {
                out.push(Action::QueueCallback {
                    farmer: f.clone(),
                    reason: CallbackReason::MissedCallMode,
                });
            }
            self.hang_up(now_ms, out);
            return;
        }
        if rings >= self.config.answer_after_rings {
            self.phase = Phase::Ringing { answer_at_ms: None };
            self.answer(now_ms, out);
        } else {
            let remaining = i64::from(self.config.answer_after_rings - rings);
            let at = now_ms.saturating_add(remaining.saturating_mul(self.config.ring_interval_ms));
            self.phase = Phase::Ringing {
                answer_at_ms: Some(at),
            };
            self.set_timer(at, out);
        }
    }

    fn answer(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        self.phase = Phase::Answering;
        out.push(Action::Answer);
        // If the modem never confirms, the guard ends the call.
        self.set_timer(now_ms.saturating_add(self.config.speech_guard_ms), out);
    }

    fn start_talking(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        let (queue, then, menu) = match &self.caller {
            CallerLookup::Farmer(f) if f.voice_consent => {
                let mut queue = vec![Prompt::Greeting];
                if let Some(Outbound::Notification { message, .. }) = &self.outbound {
                    queue.push(Prompt::Notification(message.clone()));
                }
                queue.push(Prompt::Menu);
                (queue, AfterSpeech::Continue, true)
            }
            CallerLookup::Farmer(_) => (
                vec![Prompt::VoiceNotEnabled, Prompt::Goodbye],
                AfterSpeech::HangUp,
                false,
            ),
            CallerLookup::Unknown => (
                vec![Prompt::RegistrationInstructions, Prompt::Goodbye],
                AfterSpeech::HangUp,
                false,
            ),
        };
        self.speak(queue, then, menu, now_ms, out);
    }

    fn speak(
        &mut self,
        queue: Vec<Prompt>,
        then: AfterSpeech,
        menu: bool,
        now_ms: i64,
        out: &mut Vec<Action>,
    ) {
        let Some(first) = queue.first().cloned() else {
            self.listen(now_ms, out);
            return;
        };
        out.push(Action::Speak {
            prompt: first,
            language: self.language,
        });
        self.phase = Phase::Speaking { queue, then, menu };
        self.set_timer(now_ms.saturating_add(self.config.speech_guard_ms), out);
    }

    /// The current prompt is done: say the next one, or move on.
    fn next_prompt(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        let Phase::Speaking {
            mut queue,
            then,
            menu,
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        if !queue.is_empty() {
            queue.remove(0);
        }
        if !queue.is_empty() {
            self.speak(queue, then, menu, now_ms, out);
            return;
        }
        match then {
            AfterSpeech::Continue => self.listen(now_ms, out),
            AfterSpeech::HangUp => self.hang_up(now_ms, out),
        }
    }

    fn listen(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        self.phase = Phase::Listening;
        self.set_timer(now_ms.saturating_add(self.config.menu_timeout_ms), out);
    }

    fn hang_up(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        self.phase = Phase::HangingUp;
        out.push(Action::HangUp);
        self.set_timer(now_ms.saturating_add(self.config.speech_guard_ms), out);
    }

    fn goodbye(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        self.speak(
            vec![Prompt::Goodbye],
            AfterSpeech::HangUp,
            false,
            now_ms,
            out,
        );
    }

    fn check_call_max(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        if now_ms.saturating_sub(self.started_ms) < self.config.call_max_ms {
            return;
        }
        match self.phase {
            Phase::Speaking {
                then: AfterSpeech::HangUp,
                ..
            }
            | Phase::HangingUp
            | Phase::Idle
            | Phase::Finished => {}
            Phase::Speaking { .. } | Phase::Listening if self.answered => self.goodbye(now_ms, out),
            _ => self.hang_up(now_ms, out),
        }
    }

    fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Action>) {
        let due = self.deadline_ms.is_some_and(|d| now_ms >= d);
        let over_max = now_ms.saturating_sub(self.started_ms) >= self.config.call_max_ms;
        if over_max
            && !matches!(
                self.phase,
                Phase::HangingUp
                    | Phase::Speaking {
                        then: AfterSpeech::HangUp,
                        ..
                    }
            )
        {
            self.deadline_ms = None;
            self.check_call_max(now_ms, out);
            return;
        }
        if !due {
            return;
        }
        self.deadline_ms = None;
        match self.phase.clone() {
            Phase::Idle | Phase::Finished | Phase::Dialing => {}
            Phase::Ringing { answer_at_ms } => {
                if answer_at_ms.is_some_and(|at| now_ms >= at) {
                    self.answer(now_ms, out);
                }
            }
            // The modem never confirmed the answer: give up on this call.
            Phase::Answering => self.hang_up(now_ms, out),
            // The end of speech was never announced: go on as if it had been.
            Phase::Speaking { .. } => self.next_prompt(now_ms, out),
            Phase::Listening => {
                if self.silent_repeats < self.config.menu_repeats_max {
                    self.silent_repeats += 1;
                    self.speak(vec![Prompt::Menu], AfterSpeech::Continue, true, now_ms, out);
                } else {
                    self.goodbye(now_ms, out);
                }
            }
            // The hang-up was not confirmed: ask again, keep waiting for CallEnded.
            Phase::HangingUp => self.hang_up(now_ms, out),
        }
    }

    fn on_key(
        &mut self,
        digit: char,
        now_ms: i64,
        content: &dyn VoiceContent,
        out: &mut Vec<Action>,
    ) {
        let menu_open = match &self.phase {
            Phase::Listening => true,
            Phase::Speaking { menu, .. } => *menu,
            _ => false,
        };
        if !menu_open {
            return;
        }
        if let Some((last, at)) = self.last_key
            && last == digit
            && now_ms.saturating_sub(at) < self.config.dtmf_debounce_ms
        {
            return;
        }
        self.last_key = Some((digit, now_ms));
        out.push(Action::LogKey { digit });
        let CallerLookup::Farmer(farmer) = self.caller.clone() else {
            return;
        };
        self.silent_repeats = 0;
        let answer =
            |topic: Topic, prompt: Option<Prompt>| prompt.unwrap_or(Prompt::NotAvailable(topic));
        let queue = match digit {
            '1' => {
                let p = answer(
                    Topic::MandiPrices,
                    content.mandi_prices(&farmer).map(Prompt::MandiPrices),
                );
                self.last_answer = Some(p.clone());
                vec![p, Prompt::Menu]
            }
            '2' => {
                let p = answer(
                    Topic::Weather,
                    content.weather(&farmer).map(Prompt::Weather),
                );
                self.last_answer = Some(p.clone());
                vec![p, Prompt::Menu]
            }
            '3' => {
                let p = answer(
                    Topic::SoilCard,
                    content.soil_card(&farmer).map(Prompt::SoilCard),
                );
                self.last_answer = Some(p.clone());
                vec![p, Prompt::Menu]
            }
            '4' => {
                let p = answer(
                    Topic::SoilMoisture,
                    content.soil_moisture(&farmer).map(Prompt::SoilMoisture),
                );
                self.last_answer = Some(p.clone());
                vec![p, Prompt::Menu]
            }
            '5' => {
                let p = answer(
                    Topic::OpenAlerts,
                    content.open_alerts(&farmer).map(Prompt::OpenAlerts),
                );
                self.last_answer = Some(p.clone());
                vec![p, Prompt::Menu]
            }
            '9' => {
                out.push(Action::RecordAgentTask {
                    farmer: farmer.clone(),
                });
                vec![Prompt::AgentWillCallBack, Prompt::Menu]
            }
            '0' => match &self.last_answer {
                Some(p) => vec![p.clone(), Prompt::Menu],
                None => vec![Prompt::Menu],
            },
            '*' => {
                let langs = &self.config.languages;
                let i = langs.iter().position(|l| *l == self.language).unwrap_or(0);
                self.language = langs[(i + 1) % langs.len()];
                vec![
                    Prompt::LanguageChanged(self.language.code().to_owned()),
                    Prompt::Menu,
                ]
            }
            _ => vec![Prompt::InvalidKey, Prompt::Menu],
        };
        self.speak(queue, AfterSpeech::Continue, true, now_ms, out);
    }

    fn on_ended(&mut self, reason: EndReason, out: &mut Vec<Action>) {
        let was = std::mem::replace(&mut self.phase, Phase::Finished);
        self.deadline_ms = None;
        out.push(Action::CancelTimer);
        let outcome = if self.rejected {
            CallOutcome::Rejected
        } else if self.answered {
            CallOutcome::Completed
        } else {
            match (was, reason) {
                (Phase::Dialing, EndReason::Busy) => CallOutcome::Busy,
                (Phase::Dialing, EndReason::NoAnswer | EndReason::RemoteHangup) => {
                    CallOutcome::NoAnswer
                }
                (Phase::Dialing, _) => CallOutcome::Failed,
                (
                    Phase::Ringing { .. } | Phase::Answering,
                    EndReason::Missed | EndReason::RemoteHangup,
                ) => CallOutcome::Missed,
                (Phase::Idle, _) => CallOutcome::Missed,
                _ => CallOutcome::Failed,
            }
        };
        if outcome == CallOutcome::Missed
            && self.outbound.is_none()
            && let CallerLookup::Farmer(f) = &self.caller
            && f.voice_consent
        {
            out.push(Action::QueueCallback {
                farmer: f.clone(),
                reason: CallbackReason::RangOff,
            });
        }
        out.push(Action::CallOver {
            outcome,
            outbound: self.outbound.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Content with every topic available except those switched off.
    #[derive(Default)]
    struct Content {
        no_prices: bool,
    }

    impl VoiceContent for Content {
        fn mandi_prices(&self, _: &FarmerCaller) -> Option<Vec<MandiPrice>> {
            (!self.no_prices).then(|| {
                vec![MandiPrice {
                    commodity: "wheat".into(),
                    market: "Sehore".into(),
                    modal_rs_per_quintal: 2_450,
                    min_rs_per_quintal: 2_300,
                    max_rs_per_quintal: 2_600,
                    date: "2026-12-01".into(),
                }]
            })
        }
        fn weather(&self, _: &FarmerCaller) -> Option<Vec<WeatherDay>> {
            Some(vec![WeatherDay {
                date: "2026-12-02".into(),
                rain_mm: 4.0,
                temp_min_c: 12.0,
                temp_max_c: 26.0,
                condition: "rain".into(),
            }])
        }
        fn soil_card(&self, _: &FarmerCaller) -> Option<SoilAdvice> {
            None
        }
        fn soil_moisture(&self, _: &FarmerCaller) -> Option<Vec<FarmMoisture>> {
            Some(vec![FarmMoisture {
                survey_number: "12/3".into(),
                volumetric_percent: 18.5,
                measured_at_ms: 1,
            }])
        }
        fn open_alerts(&self, _: &FarmerCaller) -> Option<Vec<AlertSummary>> {
            Some(Vec::new())
        }
    }

    fn farmer(consent: bool) -> FarmerCaller {
        FarmerCaller {
            farmer_id: FarmerId(uuid::Uuid::from_u128(7)),
            village_code: VillageCode::parse("v", "563412").unwrap(),
            phone: PhoneNumber::parse("p", "9812345678").unwrap(),
            language: Language::Hi,
            voice_consent: consent,
        }
    }

    fn incoming(caller: CallerLookup, rings: u32, now_ms: i64) -> CallInput {
        CallInput::Incoming {
            number: Some(PhoneNumber::parse("p", "9812345678").unwrap()),
            caller,
            rings,
            now_ms,
        }
    }

    fn spoken(actions: &[Action]) -> Vec<&'static str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Speak { prompt, .. } => Some(prompt.message_id()),
                _ => None,
            })
            .collect()
    }

    /// Drives a call to the point where the menu has been said and the box listens.
    fn answered_call(config: FlowConfig) -> (CallFlow, Vec<Action>) {
        let c = Content::default();
        let mut flow = CallFlow::new(config);
        let mut log = flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 2, 0), &c);
        log.extend(flow.handle(CallInput::Answered { now_ms: 100 }, &c));
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 2_000 }, &c));
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 6_000 }, &c));
        (flow, log)
    }

    #[test]
    fn registered_farmer_is_answered_greeted_and_offered_the_menu() {
        let (flow, log) = answered_call(FlowConfig::default());
        assert_eq!(log[0], Action::Answer);
        assert_eq!(spoken(&log), ["ivr-greeting", "ivr-menu"]);
        assert!(log.iter().all(|a| !matches!(
            a,
            Action::Speak { language, .. } if *language != Language::Hi
        )));
        assert_eq!(flow.deadline_ms(), Some(6_000 + 8_000));
        assert!(flow.in_call());
    }

    #[test]
    fn answer_waits_for_the_configured_rings() {
        let c = Content::default();
        let config = FlowConfig {
            answer_after_rings: 3,
            ..FlowConfig::default()
        };
        // A driver that reports the call once: answering is due after two more ring intervals.
        let mut flow = CallFlow::new(config.clone());
        let a = flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 1, 1_000), &c);
        assert_eq!(a, [Action::SetTimer { at_ms: 11_000 }]);
        assert!(
            flow.handle(CallInput::Tick { now_ms: 10_999 }, &c)
                .is_empty()
        );
        let a = flow.handle(CallInput::Tick { now_ms: 11_000 }, &c);
        assert_eq!(a[0], Action::Answer);
        // A driver that reports every ring: the third ring answers at once.
        let mut flow = CallFlow::new(config);
        flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 1, 0), &c);
        assert!(
            !flow
                .handle(
                    CallInput::Ring {
                        rings: 2,
                        now_ms: 5
                    },
                    &c
                )
                .contains(&Action::Answer)
        );
        assert_eq!(
            flow.handle(
                CallInput::Ring {
                    rings: 3,
                    now_ms: 9
                },
                &c
            )[0],
            Action::Answer
        );
    }

    #[test]
    fn key_one_speaks_the_wheat_price_then_the_menu_and_zero_repeats_it() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '1',
                now_ms: 7_000,
            },
            &c,
        );
        assert_eq!(a[0], Action::LogKey { digit: '1' });
        let Action::Speak {
            prompt: Prompt::MandiPrices(prices),
            language,
        } = &a[1]
        else {
            panic!("expected prices, got {a:?}");
        };
        assert_eq!(*language, Language::Hi);
        assert_eq!(prices[0].commodity, "wheat");
        assert_eq!(prices[0].modal_rs_per_quintal, 2_450);
        let a = flow.handle(CallInput::SpeechFinished { now_ms: 9_000 }, &c);
        assert_eq!(spoken(&a), ["ivr-menu"]);
        flow.handle(CallInput::SpeechFinished { now_ms: 12_000 }, &c);
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '0',
                now_ms: 13_000,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-mandi-prices"]);
    }

    #[test]
    fn zero_before_any_answer_repeats_the_menu() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '0',
                now_ms: 7_000,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-menu"]);
    }

    #[test]
    fn every_menu_key_has_its_answer() {
        let c = Content { no_prices: true };
        let expect = [
            ('1', "ivr-not-available"),
            ('2', "ivr-weather"),
            ('3', "ivr-not-available"),
            ('4', "ivr-soil-moisture"),
            ('5', "ivr-open-alerts"),
            ('9', "ivr-agent-callback"),
            ('7', "ivr-invalid-key"),
            ('#', "ivr-invalid-key"),
        ];
        for (digit, id) in expect {
            let (mut flow, _) = answered_call(FlowConfig::default());
            let a = flow.handle(
                CallInput::Dtmf {
                    digit,
                    now_ms: 7_000,
                },
                &c,
            );
            assert_eq!(spoken(&a), [id], "key {digit}");
            assert_eq!(
                a.iter()
                    .any(|x| matches!(x, Action::RecordAgentTask { .. })),
                digit == '9'
            );
        }
    }

    #[test]
    fn star_cycles_the_language() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '*',
                now_ms: 7_000,
            },
            &c,
        );
        assert_eq!(
            a[1],
            Action::Speak {
                prompt: Prompt::LanguageChanged("en".into()),
                language: Language::En
            }
        );
        let a = flow.handle(CallInput::SpeechFinished { now_ms: 8_000 }, &c);
        assert_eq!(
            a[0],
            Action::Speak {
                prompt: Prompt::Menu,
                language: Language::En
            }
        );
        // Marathi, then back to Hindi, where the call started.
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '*',
                now_ms: 9_000,
            },
            &c,
        );
        assert_eq!(flow.language(), Language::Mr);
        assert_eq!(
            a[1],
            Action::Speak {
                prompt: Prompt::LanguageChanged("mr".into()),
                language: Language::Mr
            }
        );
        flow.handle(CallInput::SpeechFinished { now_ms: 10_000 }, &c);
        flow.handle(
            CallInput::Dtmf {
                digit: '*',
                now_ms: 11_000,
            },
            &c,
        );
        assert_eq!(flow.language(), Language::Hi);
    }

    #[test]
    fn silence_repeats_the_menu_twice_then_says_goodbye_and_hangs_up() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let mut now = 6_000;
        let mut said = Vec::new();
        for _ in 0..3 {
            now = flow.deadline_ms().unwrap();
            let a = flow.handle(CallInput::Tick { now_ms: now }, &c);
            said.extend(spoken(&a));
            let a = flow.handle(
                CallInput::SpeechFinished {
                    now_ms: now + 3_000,
                },
                &c,
            );
            said.extend(spoken(&a));
            if a.contains(&Action::HangUp) {
                break;
            }
        }
        assert_eq!(said, ["ivr-menu", "ivr-menu", "ivr-goodbye"]);
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::LocalHangup,
                now_ms: now + 4_000,
            },
            &c,
        );
        assert!(a.contains(&Action::CallOver {
            outcome: CallOutcome::Completed,
            outbound: None
        }));
        assert!(flow.is_finished());
    }

    #[test]
    fn a_key_resets_the_silence_count() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let t = flow.deadline_ms().unwrap();
        flow.handle(CallInput::Tick { now_ms: t }, &c);
        flow.handle(CallInput::SpeechFinished { now_ms: t + 1 }, &c);
        flow.handle(
            CallInput::Dtmf {
                digit: '2',
                now_ms: t + 2,
            },
            &c,
        );
        flow.handle(CallInput::SpeechFinished { now_ms: t + 3 }, &c);
        flow.handle(CallInput::SpeechFinished { now_ms: t + 4 }, &c);
        for _ in 0..2 {
            let t = flow.deadline_ms().unwrap();
            let a = flow.handle(CallInput::Tick { now_ms: t }, &c);
            assert_eq!(spoken(&a), ["ivr-menu"]);
            flow.handle(CallInput::SpeechFinished { now_ms: t + 1 }, &c);
        }
    }

    #[test]
    fn the_same_key_within_the_debounce_window_counts_once() {
        let c = Content::default();
        let (mut flow, _) = answered_call(FlowConfig::default());
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '2',
                now_ms: 7_000,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-weather"]);
        assert!(
            flow.handle(
                CallInput::Dtmf {
                    digit: '2',
                    now_ms: 7_399
                },
                &c
            )
            .is_empty()
        );
        // Another key is not a bounce.
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '4',
                now_ms: 7_450,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-soil-moisture"]);
        // The same key after the window counts again.
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '4',
                now_ms: 7_850,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-soil-moisture"]);
    }

    #[test]
    fn a_menu_key_barges_in_on_the_greeting() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 2, 0), &c);
        flow.handle(CallInput::Answered { now_ms: 10 }, &c);
        // Greeting and menu are one menu-speaking phase: a key interrupts them.
        let a = flow.handle(
            CallInput::Dtmf {
                digit: '2',
                now_ms: 20,
            },
            &c,
        );
        assert_eq!(spoken(&a), ["ivr-weather"]);
    }

    #[test]
    fn unknown_caller_hears_registration_instructions_and_is_hung_up_on() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        let mut log = flow.handle(incoming(CallerLookup::Unknown, 2, 0), &c);
        log.extend(flow.handle(CallInput::Answered { now_ms: 10 }, &c));
        log.extend(flow.handle(
            CallInput::Dtmf {
                digit: '1',
                now_ms: 20,
            },
            &c,
        ));
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 30 }, &c));
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 40 }, &c));
        assert_eq!(spoken(&log), ["ivr-registration", "ivr-goodbye"]);
        assert!(log.contains(&Action::HangUp));
        assert!(!log.iter().any(|a| matches!(a, Action::LogKey { .. })));
    }

    #[test]
    fn farmer_without_voice_consent_is_told_so() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        let mut log = flow.handle(incoming(CallerLookup::Farmer(farmer(false)), 2, 0), &c);
        log.extend(flow.handle(CallInput::Answered { now_ms: 10 }, &c));
        assert_eq!(spoken(&log), ["ivr-voice-not-enabled"]);
        // And a ring-off gets no callback.
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(incoming(CallerLookup::Farmer(farmer(false)), 1, 0), &c);
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::Missed,
                now_ms: 1,
            },
            &c,
        );
        assert!(!a.iter().any(|x| matches!(x, Action::QueueCallback { .. })));
    }

    #[test]
    fn a_call_that_rings_off_queues_a_callback() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 1, 0), &c);
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::Missed,
                now_ms: 3_000,
            },
            &c,
        );
        assert_eq!(
            a,
            [
                Action::CancelTimer,
                Action::QueueCallback {
                    farmer: farmer(true),
                    reason: CallbackReason::RangOff
                },
                Action::CallOver {
                    outcome: CallOutcome::Missed,
                    outbound: None
                }
            ]
        );
    }

    #[test]
    fn missed_call_mode_rejects_and_queues_a_callback() {
        let c = Content::default();
        let config = FlowConfig {
            missed_call_mode: true,
            ..FlowConfig::default()
        };
        let mut flow = CallFlow::new(config.clone());
        let a = flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 1, 0), &c);
        assert_eq!(
            &a[..2],
            [
                Action::QueueCallback {
                    farmer: farmer(true),
                    reason: CallbackReason::MissedCallMode
                },
                Action::HangUp
            ]
        );
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::Missed,
                now_ms: 500,
            },
            &c,
        );
        assert_eq!(
            a.last(),
            Some(&Action::CallOver {
                outcome: CallOutcome::Rejected,
                outbound: None
            })
        );
        // Unknown callers are rejected without a callback (the box does not dial strangers).
        let mut flow = CallFlow::new(config);
        let a = flow.handle(incoming(CallerLookup::Unknown, 1, 0), &c);
        assert_eq!(a[0], Action::HangUp);
    }

    #[test]
    fn callback_dial_runs_the_menu_or_reports_busy() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        let dial = CallInput::Dialing {
            outbound: Outbound::Callback { callback_id: 42 },
            caller: farmer(true),
            now_ms: 0,
        };
        assert!(flow.handle(dial.clone(), &c).is_empty());
        let a = flow.handle(CallInput::Answered { now_ms: 5_000 }, &c);
        assert_eq!(spoken(&a), ["ivr-greeting"]);
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(dial, &c);
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::Busy,
                now_ms: 5_000,
            },
            &c,
        );
        assert_eq!(
            a.last(),
            Some(&Action::CallOver {
                outcome: CallOutcome::Busy,
                outbound: Some(Outbound::Callback { callback_id: 42 })
            })
        );
        assert!(!a.iter().any(|x| matches!(x, Action::QueueCallback { .. })));
    }

    #[test]
    fn a_notification_call_reads_the_message_then_offers_the_menu() {
        let c = Content::default();
        let message = Message {
            key: "alert-storm".into(),
            args: [("day".to_owned(), "Friday".to_owned())].into(),
        };
        let outbound = Outbound::Notification {
            attempt_id: 7,
            message: message.clone(),
        };
        let dial = CallInput::Dialing {
            outbound: outbound.clone(),
            caller: farmer(true),
            now_ms: 0,
        };
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(dial.clone(), &c);
        let mut log = flow.handle(CallInput::Answered { now_ms: 1 }, &c);
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 2 }, &c));
        log.extend(flow.handle(CallInput::SpeechFinished { now_ms: 3 }, &c));
        assert_eq!(
            spoken(&log),
            ["ivr-greeting", "ivr-notification", "ivr-menu"]
        );
        assert!(log.contains(&Action::Speak {
            prompt: Prompt::Notification(message),
            language: Language::Hi
        }));
        // Unanswered: the outcome goes back to the notification attempt.
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(dial, &c);
        let a = flow.handle(
            CallInput::CallEnded {
                reason: EndReason::NoAnswer,
                now_ms: 60_000,
            },
            &c,
        );
        assert_eq!(
            a.last(),
            Some(&Action::CallOver {
                outcome: CallOutcome::NoAnswer,
                outbound: Some(outbound)
            })
        );
    }

    #[test]
    fn a_call_never_outlasts_its_maximum() {
        let c = Content::default();
        let config = FlowConfig {
            call_max_ms: 60_000,
            ..FlowConfig::default()
        };
        let (mut flow, _) = answered_call(config);
        // The farmer keeps pressing keys; the call still ends.
        let mut hung_up = false;
        let mut now = 7_000;
        while now < 200_000 && !hung_up {
            let digit = if (now / 1000) % 2 == 0 { '2' } else { '4' };
            let mut a = flow.handle(CallInput::Dtmf { digit, now_ms: now }, &c);
            a.extend(flow.handle(CallInput::Tick { now_ms: now }, &c));
            a.extend(flow.handle(CallInput::SpeechFinished { now_ms: now }, &c));
            hung_up = a.contains(&Action::HangUp);
            now += 1_000;
        }
        assert!(hung_up);
        assert!(now <= 64_000, "hung up at {now}");
    }

    #[test]
    fn missing_speech_finished_is_covered_by_the_guard() {
        let c = Content::default();
        let mut flow = CallFlow::new(FlowConfig::default());
        flow.handle(incoming(CallerLookup::Farmer(farmer(true)), 2, 0), &c);
        flow.handle(CallInput::Answered { now_ms: 0 }, &c);
        let t = flow.deadline_ms().unwrap();
        assert_eq!(t, 30_000);
        let a = flow.handle(CallInput::Tick { now_ms: t }, &c);
        assert_eq!(spoken(&a), ["ivr-menu"]);
    }

    fn arb_input() -> impl Strategy<Value = CallInput> {
        let caller = prop_oneof![
            Just(CallerLookup::Unknown),
            any::<bool>().prop_map(|c| CallerLookup::Farmer(farmer(c))),
        ];
        let reason = prop_oneof![
            Just(EndReason::RemoteHangup),
            Just(EndReason::Missed),
            Just(EndReason::LocalHangup),
            Just(EndReason::Busy),
            Just(EndReason::NoAnswer),
            Just(EndReason::NoDialtone),
            Just(EndReason::ModemLost),
        ];
        let t = 0_i64..2_000_000;
        prop_oneof![
            (caller, 0_u32..6, t.clone()).prop_map(|(caller, rings, now_ms)| CallInput::Incoming {
                number: None,
                caller,
                rings,
                now_ms
            }),
            (0_u32..6, t.clone()).prop_map(|(rings, now_ms)| CallInput::Ring { rings, now_ms }),
            (any::<bool>(), t.clone()).prop_map(|(c, now_ms)| CallInput::Dialing {
                outbound: Outbound::Callback { callback_id: 1 },
                caller: farmer(c),
                now_ms
            }),
            t.clone().prop_map(|now_ms| CallInput::Answered { now_ms }),
            (
                prop::sample::select(vec!['0', '1', '2', '3', '4', '5', '6', '9', '*', '#', 'A']),
                t.clone()
            )
                .prop_map(|(digit, now_ms)| CallInput::Dtmf { digit, now_ms }),
            t.clone()
                .prop_map(|now_ms| CallInput::SpeechFinished { now_ms }),
            (reason, t.clone())
                .prop_map(|(reason, now_ms)| CallInput::CallEnded { reason, now_ms }),
            t.prop_map(|now_ms| CallInput::Tick { now_ms }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any input sequence: no panic; after CallEnded the call is over (one CallOver, no
        /// timer, nothing more happens); a live call always has a timer, so it cannot hang.
        #[test]
        fn any_sequence_ends_cleanly(
            inputs in prop::collection::vec(arb_input(), 0..60),
            reason_last in prop_oneof![Just(EndReason::RemoteHangup), Just(EndReason::LocalHangup)],
            missed_call_mode in any::<bool>(),
        ) {
            let c = Content::default();
            let mut flow = CallFlow::new(FlowConfig { missed_call_mode, ..FlowConfig::default() });
            let mut call_overs = 0;
            let mut ended = false;
            for input in inputs {
                let is_end = matches!(input, CallInput::CallEnded { .. });
                let was_finished = flow.is_finished();
                let actions = flow.handle(input, &c);
                if was_finished {
                    prop_assert!(actions.is_empty());
                }
                call_overs += actions.iter().filter(|a| matches!(a, Action::CallOver { .. })).count();
                if is_end {
                    ended = true;
                    prop_assert!(flow.is_finished());
                }
                if flow.in_call() && !matches!(flow.phase, Phase::Dialing) {
                    prop_assert!(flow.deadline_ms().is_some(), "live call without a timer: {:?}", flow.phase);
                }
            }
            let actions = flow.handle(CallInput::CallEnded { reason: reason_last, now_ms: 3_000_000 }, &c);
            call_overs += actions.iter().filter(|a| matches!(a, Action::CallOver { .. })).count();
            prop_assert!(flow.is_finished());
            prop_assert!(!flow.in_call());
            prop_assert_eq!(flow.deadline_ms(), None);
            prop_assert_eq!(call_overs, 1, "ended earlier: {}", ended);
            let after = flow.handle(CallInput::Tick { now_ms: 4_000_000 }, &c);
            prop_assert!(after.is_empty(), "input after the end: {:?}", after);
        }
    }
}
