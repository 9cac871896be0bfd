//! Node configuration: TOML → [`RawConfig`] (every field documented in config/edge.toml,
//! unknown keys rejected) → validated [`Config`] with units resolved.
//!
//! The shipped `config/edge.toml` is compiled in as the embedded default, so the example file and
//! the defaults can never drift apart. Precedence: environment variable > command-line flag > file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

pub mod ingest;
pub mod notify;
pub mod voice;

/// The example configuration, used as-is when no `--config` is given.
pub const EMBEDDED_DEFAULT_TOML: &str = include_str!("../../../config/edge.toml");

/// Largest request body we will ever allow, whatever the file says (16 MiB).
const BODY_LIMIT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Upper bound on reader connections; each costs SQLite page cache memory on a small box.
const READER_CONNECTIONS_MAX: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub node: RawNode,
    pub http: RawHttp,
    pub storage: RawStorage,
    pub auth: RawAuth,
    pub sync: RawSync,
    pub log: RawLog,
    pub voice: crate::config::voice::RawVoice,
    pub notify: crate::config::notify::RawNotify,
    pub modem: RawModem,
    pub sms: RawSms,
    pub mqtt: RawMqtt,
    pub retention: RawRetention,
    #[serde(default)]
    pub alert_rules: Vec<farmco_village::alerts::rules::RuleSpec>,
    #[serde(default)]
    pub metrics: Vec<RawMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    pub broker: String,
    pub embedded_listen: String,
    pub client_id: String,
    pub batch_rows_max: usize,
    pub batch_wait_ms: u64,
    pub queue_messages: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub raw_days: u64,
    pub sweep_interval_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    pub unit: String,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModem {
    pub device: String,
    pub profile: String,
    pub simulator: RawModemSimulator,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModemSimulator {
    pub control_listen: String,
    pub cmgs_delay_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSms {
    pub daily_cap_per_sim: u32,
    pub reply_reserve: u32,
    pub timezone_offset: String,
    pub send_attempts_max: u32,
    pub retry_initial_seconds: u64,
    pub retry_max_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub interval_seconds: u64,
    pub batch_budget_bytes: usize,
    pub request_timeout_seconds: u64,
    pub backoff_initial_seconds: u64,
    pub backoff_max_seconds: u64,
    pub circuit_failures: u32,
    pub circuit_open_seconds: u64,
    pub allow_insecure_http: bool,
    pub ca_file: String,
    pub pin_spki_sha256: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
    pub body_limit_bytes: usize,
    /// Proxies whose X-Forwarded-For is believed (addresses or CIDR networks).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// HTTPS address (issue 12); empty: no HTTPS. Used only once `farmco-edge tls init` ran.
    #[serde(default)]
    pub tls_listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub data_dir: PathBuf,
    pub synchronous: String,
    pub reader_connections: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub session_ttl_minutes: u64,
    pub login_max_failures_per_user: u32,
    pub login_max_failures_per_address: u32,
    pub login_window_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

/// SQLite durability level: the store's own setting, named in `storage.synchronous`.
pub use crate::store::Synchronous;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Validated configuration, passed explicitly to every component.
#[derive(Debug, Clone)]
pub struct Config {
    pub node_name: String,
    pub listen: SocketAddr,
    /// Where HTTPS is served when the data dir has a certificate (`farmco-edge tls init`).
    pub tls_listen: Option<SocketAddr>,
    pub body_limit_bytes: usize,
    pub trusted_proxies: farmco_shell::http::TrustedProxies,
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    pub reader_connections: usize,
    pub auth: AuthConfig,
    pub sync: SyncConfig,
    pub log_format: LogFormat,
    pub log_level: String,
    pub voice: crate::config::voice::VoiceConfig,
    pub notify: crate::config::notify::NotifyConfig,
    pub modem: ModemSettings,
    pub sms: SmsConfig,
    pub ingest: ingest::IngestConfig,
    pub retention: RetentionConfig,
    pub alert_rules: Vec<farmco_village::alerts::rules::Rule>,
}

/// Raw readings retention on the box.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    pub raw_max_age: Duration,
    pub sweep_interval: Duration,
}

/// Where the modem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemDevice {
    /// Start the simulator in this process (the default: the demo works on any machine).
    Simulator,
    /// A serial device or pty (a real modem, or an external `farmco-modem-sim --link`).
    Serial(PathBuf),
    /// No modem: the SMS outbox fills and waits.
    None,
}

impl ModemDevice {
    pub fn parse(text: &str) -> anyhow::Result<ModemDevice> {
        match text.trim() {
            "" => bail!("modem.device must not be empty"),
            "simulator" => Ok(ModemDevice::Simulator),
            "none" => Ok(ModemDevice::None),
            path => Ok(ModemDevice::Serial(PathBuf::from(path))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModemSettings {
    pub device: ModemDevice,
    pub profile: farmco_hardware::driver::ModemProfile,
    pub simulator_control: SocketAddr,
    pub simulator_cmgs_delay_ms: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct SmsConfig {
    pub cap: farmco_village::sms::policy::DailyCap,
    pub offset: time::UtcOffset,
    pub send_attempts_max: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// Longest simulated CMGS: a minute is the real modem's documented maximum.
const SIM_CMGS_DELAY_MS_MAX: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    pub login_max_failures_per_user: u32,
    pub login_max_failures_per_address: u32,
    pub login_window: Duration,
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub interval: Duration,
    pub batch_budget_bytes: usize,
    pub request_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub circuit_failures: u32,
    pub circuit_open: Duration,
    /// Accept `http://` cloud URLs (warned about at every start); see `crate::uplink`.
    pub allow_insecure_http: bool,
    /// Trust only the CAs in this PEM file instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the cloud certificate's SubjectPublicKeyInfo; empty = no pinning.
    pub pin_spki_sha256: Vec<[u8; SPKI_PIN_BYTES]>,
}

/// Environment variable that allows plain-HTTP cloud URLs (tests, a lab without certificates);
/// overrides `sync.allow_insecure_http`. Used by `crate::uplink`.
pub const ALLOW_INSECURE_HTTP_ENV: &str = "FARMCO_EDGE_ALLOW_INSECURE_HTTP";
/// Length of an SPKI pin: a SHA-256 digest.
pub const SPKI_PIN_BYTES: usize = 32;

/// Parse one `sync.pin_spki_sha256` entry: 64 hex digits, `:` separators and case ignored.
pub fn parse_spki_pin(text: &str) -> Option<[u8; SPKI_PIN_BYTES]> {
    let hex_text: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let mut out = [0u8; SPKI_PIN_BYTES];
    hex::decode_to_slice(&hex_text, &mut out).ok()?;
    Some(out)
}

/// Smallest and largest batch budget: below 4 KiB the framing dominates; above 4 MiB one
/// request would take minutes on 2G and restart from zero when the link drops.
const BATCH_BUDGET_BYTES_MIN: usize = 4 * 1024;
const BATCH_BUDGET_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Overrides from the command line and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub log_json: bool,
}

impl RawConfig {
    pub fn parse(text: &str) -> anyhow::Result<RawConfig> {
        toml::from_str(text).context("invalid configuration")
    }

    pub fn validate(self) -> anyhow::Result<Config> {
        let listen: SocketAddr = self
            .http
            .listen
            .parse()
            .with_context(|| format!("http.listen: not an address: {:?}", self.http.listen))?;
        let tls_listen = match self.http.tls_listen.trim() {
            "" => None,
            addr => Some(
                addr.parse::<SocketAddr>()
                    .with_context(|| format!("http.tls_listen: not an address: {addr:?}"))?,
            ),
        };
        if self.http.body_limit_bytes < 1024 || self.http.body_limit_bytes > BODY_LIMIT_BYTES_MAX {
            bail!("http.body_limit_bytes must be between 1024 and {BODY_LIMIT_BYTES_MAX}");
        }
        let synchronous = match self.storage.synchronous.as_str() {
            "full" => Synchronous::Full,
            "normal" => Synchronous::Normal,
            other => bail!("storage.synchronous must be \"full\" or \"normal\", not {other:?}"),
        };
        if self.storage.reader_connections == 0
            || self.storage.reader_connections > READER_CONNECTIONS_MAX
        {
            bail!("storage.reader_connections must be between 1 and {READER_CONNECTIONS_MAX}");
        }
        if self.auth.session_ttl_minutes == 0 {
            bail!("auth.session_ttl_minutes must be positive");
        }
        if self.auth.login_max_failures_per_user == 0
            || self.auth.login_max_failures_per_address == 0
        {
            bail!("auth.login_max_failures_* must be positive");
        }
        let log_format = match self.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => bail!("log.format must be \"human\" or \"json\", not {other:?}"),
        };
        let sync = &self.sync;
        if !(BATCH_BUDGET_BYTES_MIN..=BATCH_BUDGET_BYTES_MAX).contains(&sync.batch_budget_bytes) {
            bail!(
                "sync.batch_budget_bytes must be between {BATCH_BUDGET_BYTES_MIN} and {BATCH_BUDGET_BYTES_MAX}"
            );
        }
        if sync.interval_seconds == 0 || sync.request_timeout_seconds == 0 {
            bail!("sync.interval_seconds and sync.request_timeout_seconds must be positive");
        }
        if sync.backoff_initial_seconds == 0
            || sync.backoff_max_seconds < sync.backoff_initial_seconds
        {
            bail!("sync.backoff_initial_seconds must be positive and at most backoff_max_seconds");
        }
        let pin_spki_sha256 = sync
            .pin_spki_sha256
            .iter()
            .map(|p| {
                parse_spki_pin(p).with_context(|| {
                    format!("sync.pin_spki_sha256: {p:?} is not 64 hex digits (a SHA-256)")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ingest = ingest::IngestConfig::from_raw(&self.mqtt, &self.metrics)?;
        if self.retention.raw_days == 0 || self.retention.sweep_interval_minutes == 0 {
            bail!("retention.raw_days and retention.sweep_interval_minutes must be positive");
        }
        let retention = RetentionConfig {
            raw_max_age: Duration::from_secs(self.retention.raw_days * 86_400),
            sweep_interval: Duration::from_secs(self.retention.sweep_interval_minutes * 60),
        };
        let alert_rules =
            farmco_village::alerts::rules::validate_rules(&self.alert_rules, &ingest.metrics)
                .map_err(|e| anyhow::anyhow!("alert_rules: {e}"))?;
        let profile = match self.modem.profile.as_str() {
            "generic" => farmco_hardware::driver::ModemProfile::Generic,
            "sim800" => farmco_hardware::driver::ModemProfile::Sim800,
            "quectel" => farmco_hardware::driver::ModemProfile::Quectel,
            other => {
                bail!("modem.profile must be \"generic\", \"sim800\" or \"quectel\", not {other:?}")
            }
        };
        let modem =
            ModemSettings {
                device: ModemDevice::parse(&self.modem.device)?,
                profile,
                simulator_control: self.modem.simulator.control_listen.parse().with_context(
                    || {
                        format!(
                            "modem.simulator.control_listen: not an address: {:?}",
                            self.modem.simulator.control_listen
                        )
                    },
                )?,
                simulator_cmgs_delay_ms: self.modem.simulator.cmgs_delay_ms,
            };
        if modem.simulator_cmgs_delay_ms > SIM_CMGS_DELAY_MS_MAX {
            bail!("modem.simulator.cmgs_delay_ms must be at most {SIM_CMGS_DELAY_MS_MAX}");
        }
        // The side door has no authentication: anyone reaching it injects SMS and calls.
        if !modem.simulator_control.ip().is_loopback() {
            bail!(
                "modem.simulator.control_listen must be a loopback address (it has no authentication), not {}",
                modem.simulator_control
            );
        }
        let raw_sms = &self.sms;
        if raw_sms.daily_cap_per_sim == 0 || raw_sms.reply_reserve > raw_sms.daily_cap_per_sim {
            bail!("sms.daily_cap_per_sim must be positive and at least sms.reply_reserve");
        }
        let offset = farmco_village::sms::policy::parse_offset(&raw_sms.timezone_offset)
            .with_context(|| {
                format!(
                    "sms.timezone_offset: expected +HH:MM, not {:?}",
                    raw_sms.timezone_offset
                )
            })?;
        if raw_sms.send_attempts_max == 0
            || raw_sms.retry_initial_seconds == 0
            || raw_sms.retry_max_seconds < raw_sms.retry_initial_seconds
        {
            bail!(
                "sms.send_attempts_max and sms.retry_initial_seconds must be positive, and retry_max_seconds at least retry_initial_seconds"
            );
        }
        let sms = SmsConfig {
            cap: farmco_village::sms::policy::DailyCap {
                cap: raw_sms.daily_cap_per_sim,
                reply_reserve: raw_sms.reply_reserve,
            },
            offset,
            send_attempts_max: raw_sms.send_attempts_max,
            retry_initial: Duration::from_secs(raw_sms.retry_initial_seconds),
            retry_max: Duration::from_secs(raw_sms.retry_max_seconds),
        };
        if self.node.name.trim().is_empty() {
            bail!("node.name must not be empty");
        }
        let notify = self.notify.validate()?;
        let voice = self.voice.validate(notify.router.clock)?;
        Ok(Config {
            node_name: self.node.name,
            listen,
            tls_listen,
            body_limit_bytes: self.http.body_limit_bytes,
            trusted_proxies: farmco_shell::http::TrustedProxies::parse(&self.http.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("http.trusted_proxies: {e}"))?,
            data_dir: self.storage.data_dir,
            synchronous,
            reader_connections: self.storage.reader_connections,
            auth: AuthConfig {
                session_ttl: Duration::from_secs(self.auth.session_ttl_minutes * 60),
                login_max_failures_per_user: self.auth.login_max_failures_per_user,
                login_max_failures_per_address: self.auth.login_max_failures_per_address,
                login_window: Duration::from_secs(self.auth.login_window_seconds),
            },
            sync: SyncConfig {
                interval: Duration::from_secs(self.sync.interval_seconds),
                batch_budget_bytes: self.sync.batch_budget_bytes,
                request_timeout: Duration::from_secs(self.sync.request_timeout_seconds),
                backoff_initial: Duration::from_secs(self.sync.backoff_initial_seconds),
                backoff_max: Duration::from_secs(self.sync.backoff_max_seconds),
                circuit_failures: self.sync.circuit_failures.max(1),
                circuit_open: Duration::from_secs(self.sync.circuit_open_seconds),
                allow_insecure_http: self.sync.allow_insecure_http,
                ca_file: (!self.sync.ca_file.trim().is_empty())
                    .then(|| PathBuf::from(self.sync.ca_file.trim())),
                pin_spki_sha256,
            },
            log_format,
            log_level: self.log.level,
            voice,
            notify,
            modem,
            sms,
            ingest,
            retention,
            alert_rules,
        })
    }
}

impl Config {
    /// Load the file (or the embedded default), then apply flags and environment.
    pub fn load(path: Option<&std::path::Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?,
            None => EMBEDDED_DEFAULT_TOML.to_owned(),
        };
        let mut config = RawConfig::parse(&text)?.validate()?;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = &overrides.listen {
            config.listen = listen
                .parse()
                .with_context(|| format!("--listen: not an address: {listen:?}"))?;
        }
        if let Ok(dir) = std::env::var("FARMCO_EDGE_DATA_DIR")
            && !dir.is_empty()
        {
            config.data_dir = PathBuf::from(dir);
        }
        if let Ok(listen) = std::env::var("FARMCO_EDGE_LISTEN")
            && !listen.is_empty()
        {
            config.listen = listen
                .parse()
                .with_context(|| format!("FARMCO_EDGE_LISTEN: not an address: {listen:?}"))?;
        }
        if let Ok(tls) = std::env::var("FARMCO_EDGE_TLS_LISTEN") {
            config.tls_listen = match tls.trim() {
                "" => None,
                addr => Some(addr.parse().with_context(|| {
                    format!("FARMCO_EDGE_TLS_LISTEN: not an address: {addr:?}")
                })?),
            };
        }
        if let Ok(broker) = std::env::var("FARMCO_EDGE_MQTT_BROKER")
            && !broker.is_empty()
        {
            config.ingest.broker = ingest::Broker::parse(&broker)
                .with_context(|| format!("FARMCO_EDGE_MQTT_BROKER: {broker:?}"))?;
        }
        if let Ok(device) = std::env::var("FARMCO_EDGE_MODEM_DEVICE")
            && !device.is_empty()
        {
            config.modem.device =
                ModemDevice::parse(&device).context("FARMCO_EDGE_MODEM_DEVICE")?;
        }
        if let Ok(v) = std::env::var(ALLOW_INSECURE_HTTP_ENV)
            && !v.is_empty()
        {
            config.sync.allow_insecure_http = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                other => bail!("{ALLOW_INSECURE_HTTP_ENV}: expected 1 or 0, not {other:?}"),
            };
        }
        if overrides.log_json {
            config.log_format = LogFormat::Json;
        }
        Ok(config)
    }

    /// The defaults with a given data dir; used by tests.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        let mut config = RawConfig::parse(EMBEDDED_DEFAULT_TOML)
            .and_then(RawConfig::validate)
            .unwrap_or_else(|e| panic!("embedded config is invalid: {e:#}"));
        config.data_dir = data_dir;
        config.synchronous = Synchronous::Normal;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = RawConfig::parse(EMBEDDED_DEFAULT_TOML).and_then(RawConfig::validate);
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = EMBEDDED_DEFAULT_TOML.replace("[http]", "[http]\nlisten_port = 1");
        let err = RawConfig::parse(&text).map(|_| ()).unwrap_err();
        assert!(format!("{err:#}").contains("listen_port"), "{err:#}");
    }

    #[test]
    fn modem_and_sms_sections() {
        let c = RawConfig::parse(EMBEDDED_DEFAULT_TOML)
            .and_then(RawConfig::validate)
            .unwrap();
        assert_eq!(c.modem.device, ModemDevice::Simulator);
        assert_eq!(c.sms.offset.whole_seconds(), 19_800);
        assert_eq!(c.sms.cap.cap, 100);
        assert_eq!(
            ModemDevice::parse("/dev/ttyUSB2").unwrap(),
            ModemDevice::Serial(PathBuf::from("/dev/ttyUSB2"))
        );
        assert_eq!(ModemDevice::parse("none").unwrap(), ModemDevice::None);
        for (from, to) in [
            ("profile = \"sim800\"", "profile = \"nokia\""),
            ("reply_reserve = 20", "reply_reserve = 200"),
            ("timezone_offset = \"+05:30\"", "timezone_offset = \"IST\""),
        ] {
            let text = EMBEDDED_DEFAULT_TOML.replace(from, to);
            assert!(
                RawConfig::parse(&text)
                    .and_then(RawConfig::validate)
                    .is_err(),
                "{to} must be rejected"
            );
        }
    }

    #[test]
    fn bad_values_are_rejected() {
        let text = EMBEDDED_DEFAULT_TOML.replace("synchronous = \"full\"", "synchronous = \"off\"");
        assert!(
            RawConfig::parse(&text)
                .and_then(RawConfig::validate)
                .is_err()
        );
    }
}
