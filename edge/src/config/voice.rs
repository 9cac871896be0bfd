//! The `[voice]` section of the node config: raw TOML fields (documented in
//! config/edge.toml, unknown keys rejected) → validated [`VoiceConfig`] with units resolved.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use farmco_sync::Language;
use serde::Deserialize;

use farmco_village::notify::localtime::LocalClock;
use farmco_village::voice::callback::{
    CALLBACK_ATTEMPTS_MAX, CALLBACKS_PER_NUMBER_PER_DAY_MAX, CallbackPolicy,
};
use farmco_village::voice::flow::{CALL_MS_MAX, FlowConfig, PROMPT_MESSAGE_IDS, TIMEOUT_MS_MAX};

/// Longest file name of a recorded prompt on the modem's file system.
pub const PROMPT_FILE_CHARS_MAX: usize = 120;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVoice {
    pub mode: String,
    pub answer_after_rings: u32,
    pub ring_interval_seconds: u64,
    pub menu_timeout_seconds: u64,
    pub menu_repeats: u32,
    pub dtmf_debounce_ms: u64,
    pub speech_guard_seconds: u64,
    pub call_max_seconds: u64,
    pub callbacks_per_number_per_day: u32,
    pub callback_attempts: u32,
    pub callback_first_delay_seconds: u64,
    pub callback_retry_delay_seconds: u64,
    pub languages: Vec<String>,
    pub prompts: BTreeMap<String, RawPrompts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrompts {
    pub mode: String,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// How one language's prompts are spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptMode {
    /// The modem's text-to-speech speaks the rendered text.
    Tts,
    /// Files stored on the modem, by prompt message id (data-carrying prompts such as prices
    /// still need text-to-speech for their numbers; the file gives the fixed part).
    Recorded(BTreeMap<String, String>),
}

/// Validated `[voice]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceConfig {
    pub flow: FlowConfig,
    pub callback: CallbackPolicy,
    pub prompts: BTreeMap<Language, PromptMode>,
}

fn ms(seconds: u64, field: &str, max_ms: i64) -> anyhow::Result<i64> {
    let v = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    if v <= 0 || v > max_ms {
        bail!(
            "voice.{field} must be between 1 and {} seconds",
            max_ms / 1000
        );
    }
    Ok(v)
}

impl RawVoice {
    pub fn validate(self, clock: LocalClock) -> anyhow::Result<VoiceConfig> {
        let missed_call_mode = match self.mode.as_str() {
            "answer" => false,
            "missed_call" => true,
            other => bail!("voice.mode must be \"answer\" or \"missed_call\", not {other:?}"),
        };
        if !(1..=10).contains(&self.answer_after_rings) {
            bail!("voice.answer_after_rings must be between 1 and 10");
        }
        if self.menu_repeats > 5 {
            bail!("voice.menu_repeats must be at most 5");
        }
        if self.dtmf_debounce_ms > 5_000 {
            bail!("voice.dtmf_debounce_ms must be at most 5000");
        }
        if !(1..=CALLBACKS_PER_NUMBER_PER_DAY_MAX).contains(&self.callbacks_per_number_per_day) {
            bail!(
                "voice.callbacks_per_number_per_day must be between 1 and {CALLBACKS_PER_NUMBER_PER_DAY_MAX}"
            );
        }
        if !(1..=CALLBACK_ATTEMPTS_MAX).contains(&self.callback_attempts) {
            bail!("voice.callback_attempts must be between 1 and {CALLBACK_ATTEMPTS_MAX}");
        }
        let languages = self
            .languages
            .iter()
            .map(|l| Language::parse("voice.languages", l).map_err(|e| anyhow::anyhow!(e.message)))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("voice.languages")?;
        if languages.is_empty() {
            bail!("voice.languages must name at least one language");
        }
        let mut prompts = BTreeMap::new();
        for (code, raw) in self.prompts {
            let language = Language::parse("voice.prompts", &code)
                .map_err(|e| anyhow::anyhow!("voice.prompts.{code}: {}", e.message))?;
            let mode = match raw.mode.as_str() {
                "tts" => PromptMode::Tts,
                "recorded" => {
                    for id in PROMPT_MESSAGE_IDS {
                        match raw.files.get(id) {
                            Some(f)
                                if !f.trim().is_empty()
                                    && f.chars().count() <= PROMPT_FILE_CHARS_MAX => {}
                            _ => bail!("voice.prompts.{code}.files needs a file name for {id:?}"),
                        }
                    }
                    PromptMode::Recorded(raw.files)
                }
                other => bail!(
                    "voice.prompts.{code}.mode must be \"tts\" or \"recorded\", not {other:?}"
                ),
            };
            prompts.insert(language, mode);
        }
        for l in &languages {
            if !prompts.contains_key(l) {
                bail!("voice.languages lists {l} but voice.prompts.{l} is missing");
            }
        }
        let retry = ms(
            self.callback_retry_delay_seconds,
            "callback_retry_delay_seconds",
            24 * 3_600_000,
        )?;
        let first = i64::try_from(self.callback_first_delay_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX)
            .min(3_600_000);
        Ok(VoiceConfig {
            flow: FlowConfig {
                answer_after_rings: self.answer_after_rings,
                ring_interval_ms: ms(self.ring_interval_seconds, "ring_interval_seconds", 30_000)?,
                missed_call_mode,
                menu_timeout_ms: ms(
                    self.menu_timeout_seconds,
                    "menu_timeout_seconds",
                    TIMEOUT_MS_MAX,
                )?,
                menu_repeats_max: self.menu_repeats,
                dtmf_debounce_ms: i64::try_from(self.dtmf_debounce_ms).unwrap_or(0),
                speech_guard_ms: ms(
                    self.speech_guard_seconds,
                    "speech_guard_seconds",
                    TIMEOUT_MS_MAX,
                )?,
                call_max_ms: ms(self.call_max_seconds, "call_max_seconds", CALL_MS_MAX)?,
                languages,
            },
            callback: CallbackPolicy {
                per_number_per_day: self.callbacks_per_number_per_day,
                attempts_max: self.callback_attempts,
                first_delay_ms: first,
                retry_delay_ms: retry,
                clock,
            },
            prompts,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{EMBEDDED_DEFAULT_TOML, RawConfig};

    fn validate(text: &str) -> anyhow::Result<crate::config::Config> {
        RawConfig::parse(text).and_then(RawConfig::validate)
    }

    #[test]
    fn defaults_resolve_units() {
        let c = validate(EMBEDDED_DEFAULT_TOML).unwrap();
        assert_eq!(c.voice.flow.menu_timeout_ms, 8_000);
        assert!(!c.voice.flow.missed_call_mode);
        assert_eq!(c.voice.callback.retry_delay_ms, 300_000);
        assert_eq!(c.notify.router.digest_minute, 18 * 60);
        assert_eq!(c.notify.defaults.quiet.start_minute, 21 * 60);
    }

    #[test]
    fn bad_voice_settings_are_rejected() {
        for (from, to) in [
            ("mode = \"answer\"", "mode = \"ring\""),
            ("answer_after_rings = 2", "answer_after_rings = 0"),
            // A language without its [voice.prompts.<code>] section.
            (
                "languages = [\"mr\", \"hi\", \"en\"]",
                "languages = [\"mr\", \"hi\", \"ta\"]",
            ),
            ("languages = [\"mr\", \"hi\", \"en\"]", "languages = []"),
            (
                "[voice.prompts.hi]\nmode = \"tts\"",
                "[voice.prompts.hi]\nmode = \"recorded\"",
            ),
            ("digest_time = \"18:00\"", "digest_time = \"6pm\""),
            (
                "default_channels = [\"sms\", \"voice\"]",
                "default_channels = [\"fax\"]",
            ),
        ] {
            let text = EMBEDDED_DEFAULT_TOML.replace(from, to);
            assert_ne!(text, EMBEDDED_DEFAULT_TOML, "{from}");
            assert!(validate(&text).is_err(), "{to} was accepted");
        }
        let missed = EMBEDDED_DEFAULT_TOML.replace("mode = \"answer\"", "mode = \"missed_call\"");
        assert!(validate(&missed).unwrap().voice.flow.missed_call_mode);
    }
}
