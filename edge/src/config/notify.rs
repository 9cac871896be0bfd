//! The `[notify]` section of the node config: raw TOML fields (documented in
//! config/edge.toml, unknown keys rejected) → validated [`NotifyConfig`] with units resolved.

use anyhow::bail;
use serde::Deserialize;

use farmco_village::notify::localtime::LocalClock;
use farmco_village::notify::router::{MAX_PER_DAY_LIMIT, Preferences, QuietHours, RouterConfig};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub utc_offset_minutes: i32,
    pub dedupe_window_minutes: u64,
    pub sms_delivery_window_minutes: u64,
    pub voice_tries: u32,
    pub voice_retry_delay_minutes: u64,
    pub digest_time: String,
    pub default_channels: Vec<String>,
    pub default_quiet_start: String,
    pub default_quiet_end: String,
    pub default_max_per_day: u32,
}

/// Validated `[notify]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyConfig {
    pub router: RouterConfig,
    /// Preferences of a farmer who never set any.
    pub defaults: Preferences,
}

/// Parse `"HH:MM"` (24-hour) into minutes of the day.
pub fn parse_hh_mm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn minutes_ms(minutes: u64, field: &str, max_minutes: u64) -> anyhow::Result<i64> {
    if minutes == 0 || minutes > max_minutes {
        bail!("notify.{field} must be between 1 and {max_minutes}");
    }
    Ok(i64::try_from(minutes).unwrap_or(0) * 60_000)
}

impl RawNotify {
    pub fn validate(self) -> anyhow::Result<NotifyConfig> {
        if !(-12 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            bail!("notify.utc_offset_minutes must be between -720 and 840");
        }
        let clock = LocalClock {
            utc_offset_minutes: self.utc_offset_minutes,
        };
        let hhmm = |field: &str, v: &str| {
            parse_hh_mm(v)
                .ok_or_else(|| anyhow::anyhow!("notify.{field} must be \"HH:MM\", not {v:?}"))
        };
        let mut sms = false;
        let mut voice = false;
        for c in &self.default_channels {
            match c.as_str() {
                "sms" => sms = true,
                "voice" => voice = true,
                other => bail!("notify.default_channels: unknown channel {other:?} (sms, voice)"),
            }
        }
        if !(1..=MAX_PER_DAY_LIMIT).contains(&self.default_max_per_day) {
            bail!("notify.default_max_per_day must be between 1 and {MAX_PER_DAY_LIMIT}");
        }
        if !(1..=10).contains(&self.voice_tries) {
            bail!("notify.voice_tries must be between 1 and 10");
        }
        Ok(NotifyConfig {
            router: RouterConfig {
                clock,
                dedupe_window_ms: minutes_ms(
                    self.dedupe_window_minutes,
                    "dedupe_window_minutes",
                    7 * 24 * 60,
                )?,
                sms_delivery_window_ms: minutes_ms(
                    self.sms_delivery_window_minutes,
                    "sms_delivery_window_minutes",
                    24 * 60,
                )?,
                voice_tries_max: self.voice_tries,
                voice_retry_delay_ms: minutes_ms(
                    self.voice_retry_delay_minutes,
                    "voice_retry_delay_minutes",
                    24 * 60,
                )?,
                digest_minute: hhmm("digest_time", &self.digest_time)?,
            },
            defaults: Preferences {
                sms,
                voice,
                language: None,
                quiet: QuietHours {
                    start_minute: hhmm("default_quiet_start", &self.default_quiet_start)?,
                    end_minute: hhmm("default_quiet_end", &self.default_quiet_end)?,
                },
                max_per_day: self.default_max_per_day,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_hh_mm;

    #[test]
    fn hh_mm() {
        assert_eq!(parse_hh_mm("21:30"), Some(21 * 60 + 30));
        assert_eq!(parse_hh_mm("00:00"), Some(0));
        for bad in ["24:00", "9:00", "12:60", "ab:cd", "", "12-00"] {
            assert_eq!(parse_hh_mm(bad), None, "{bad}");
        }
    }
}
