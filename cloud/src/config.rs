//! Server configuration: TOML → [`RawConfig`] (every field documented in config/cloud.toml,
//! unknown keys rejected) → validated [`Config`] with units resolved.
//!
//! The shipped `config/cloud.toml` is compiled in as the embedded default, so the example file
//! and the defaults can never drift apart. Precedence: environment variable > command-line flag >
//! file (`DATABASE_URL`, `FARMCO_CLOUD_LISTEN`, `FARMCO_CLOUD_DATA_DIR`,
//! `FARMCO_CLOUD_TLS_CERT_FILE` with `FARMCO_CLOUD_TLS_KEY_FILE`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The example configuration, used as-is when no `--config` is given.
pub const EMBEDDED_DEFAULT_TOML: &str = include_str!("../../config/cloud.toml");

/// Largest ops request body we will ever allow, whatever the file says (16 MiB).
const BODY_LIMIT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Upper bound on pooled connections: PostgreSQL's default `max_connections` is 100.
const POOL_SIZE_MAX: usize = 90;
/// Smallest sync budget worth a round trip (one small change plus framing).
const BATCH_BUDGET_BYTES_MIN: usize = 1024;
/// Largest sync budget: the envelope payload limit of the protocol (8 MiB).
const BATCH_BUDGET_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Widest partition: a month keeps one partition's index small enough to stay cached.
const PARTITION_INTERVAL_DAYS_MAX: u32 = 31;
/// Most partitions created ahead (a year); more is only catalog clutter.
const PARTITIONS_AHEAD_DAYS_MAX: u32 = 366;
/// Longest enrollment token validity (30 days): tokens are bearer secrets.
const ENROLLMENT_TOKEN_TTL_HOURS_MAX: u64 = 30 * 24;
/// Longest base-map style URL (a URL, not a document).
const BASE_MAP_URL_CHARS_MAX: usize = 2048;
/// Longest heartbeat history kept (a year of thinned points per node).
const HEARTBEAT_HISTORY_DAYS_MAX: u32 = 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub http: RawHttp,
    pub database: RawDatabase,
    pub storage: RawStorage,
    pub auth: RawAuth,
    pub sync: RawSync,
    pub readings: RawReadings,
    pub devices: RawDevices,
    pub log: RawLog,
    pub console: RawConsole,
    pub fleet: RawFleet,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
    pub body_limit_bytes: usize,
    /// Proxies whose X-Forwarded-For is believed (addresses or CIDR networks).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub tls_cert_file: String,
    pub tls_key_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: String,
    pub pool_size: usize,
    pub connect_timeout_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub data_dir: PathBuf,
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
pub struct RawSync {
    pub batch_budget_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReadings {
    pub partition_interval_days: u32,
    pub partitions_ahead_days: u32,
    pub maintenance_interval_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevices {
    pub enrollment_token_ttl_hours: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    pub base_map_style_url: String,
    pub cookie_secure: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    pub silent_amber_seconds: u64,
    pub silent_red_seconds: u64,
    pub disk_free_amber_percent: f64,
    pub disk_free_red_percent: f64,
    pub backlog_growing_amber_points: u32,
    pub clock_offset_amber_seconds: u64,
    pub check_interval_seconds: u64,
    pub heartbeat_history_interval_seconds: u64,
    pub heartbeat_history_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Validated configuration, passed explicitly to every component.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    pub trusted_proxies: farmco_shell::http::TrustedProxies,
    /// Serve HTTPS with these files (reloaded on SIGHUP); `None` = plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    pub database: DatabaseConfig,
    pub data_dir: PathBuf,
    pub auth: AuthConfig,
    pub sync_batch_budget_bytes: usize,
    pub readings: ReadingsConfig,
    pub enrollment_token_ttl: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    pub console: ConsoleConfig,
    pub fleet: FleetConfig,
}

/// When the console's session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over HTTPS (TLS here, or `X-Forwarded-Proto: https` / an https
    /// `Origin` from a terminating proxy).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// A MapLibre style URL drawn under the farms; `None`: a plain background (no internet
    /// assumed).
    pub base_map_style_url: Option<String>,
    pub cookie_secure: CookieSecure,
}

/// Fleet thresholds: when a node's row turns amber or red, and the fleet watch task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetConfig {
    pub silent_amber: Duration,
    pub silent_red: Duration,
    pub disk_free_amber_percent: f64,
    pub disk_free_red_percent: f64,
    /// History points in a row with a growing backlog before the node is amber.
    pub backlog_growing_amber_points: u32,
    pub clock_offset_amber: Duration,
    /// How often the watch task evaluates every node (and raises or resolves fleet alerts).
    pub check_interval: Duration,
    /// One history point per node per this interval at most.
    pub heartbeat_history_interval: Duration,
    /// History points older than this are deleted by the watch task.
    pub heartbeat_history_days: u32,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// A `postgres://` URL; it may carry a password, so it is never logged whole.
    pub url: String,
    pub pool_size: usize,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    pub login_max_failures_per_user: u32,
    pub login_max_failures_per_address: u32,
    pub login_window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct ReadingsConfig {
    pub partition_interval_days: u32,
    pub partitions_ahead_days: u32,
    pub maintenance_interval: Duration,
}

/// Overrides from the command line.
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
        if self.http.body_limit_bytes < 1024 || self.http.body_limit_bytes > BODY_LIMIT_BYTES_MAX {
            bail!("http.body_limit_bytes must be between 1024 and {BODY_LIMIT_BYTES_MAX}");
        }
        check_database_url(&self.database.url).context("database.url")?;
        if self.database.pool_size == 0 || self.database.pool_size > POOL_SIZE_MAX {
            bail!("database.pool_size must be between 1 and {POOL_SIZE_MAX}");
        }
        if self.database.connect_timeout_seconds == 0 {
            bail!("database.connect_timeout_seconds must be positive");
        }
        if self.auth.session_ttl_minutes == 0 {
            bail!("auth.session_ttl_minutes must be positive");
        }
        if self.auth.login_max_failures_per_user == 0
            || self.auth.login_max_failures_per_address == 0
        {
            bail!("auth.login_max_failures_* must be positive");
        }
        if self.auth.login_window_seconds == 0 {
            bail!("auth.login_window_seconds must be positive");
        }
        if !(BATCH_BUDGET_BYTES_MIN..=BATCH_BUDGET_BYTES_MAX)
            .contains(&self.sync.batch_budget_bytes)
        {
            bail!(
                "sync.batch_budget_bytes must be between {BATCH_BUDGET_BYTES_MIN} and \
                 {BATCH_BUDGET_BYTES_MAX}"
            );
        }
        if !(1..=PARTITION_INTERVAL_DAYS_MAX).contains(&self.readings.partition_interval_days) {
            bail!(
                "readings.partition_interval_days must be between 1 and {PARTITION_INTERVAL_DAYS_MAX}"
            );
        }
        if self.readings.partitions_ahead_days > PARTITIONS_AHEAD_DAYS_MAX {
            bail!("readings.partitions_ahead_days must be at most {PARTITIONS_AHEAD_DAYS_MAX}");
        }
        if self.readings.maintenance_interval_minutes == 0 {
            bail!("readings.maintenance_interval_minutes must be positive");
        }
        if !(1..=ENROLLMENT_TOKEN_TTL_HOURS_MAX).contains(&self.devices.enrollment_token_ttl_hours)
        {
            bail!(
                "devices.enrollment_token_ttl_hours must be between 1 and \
                 {ENROLLMENT_TOKEN_TTL_HOURS_MAX}"
            );
        }
        let console = self.console.validate()?;
        let fleet = self.fleet.validate()?;
        let log_format = match self.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => bail!("log.format must be \"human\" or \"json\", not {other:?}"),
        };
        let tls = tls_files(&self.http.tls_cert_file, &self.http.tls_key_file)
            .context("http.tls_cert_file / http.tls_key_file")?;
        Ok(Config {
            listen,
            body_limit_bytes: self.http.body_limit_bytes,
            trusted_proxies: farmco_shell::http::TrustedProxies::parse(&self.http.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("http.trusted_proxies: {e}"))?,
            tls,
            database: DatabaseConfig {
                url: self.database.url,
                pool_size: self.database.pool_size,
                connect_timeout: Duration::from_secs(self.database.connect_timeout_seconds),
            },
            data_dir: self.storage.data_dir,
            auth: AuthConfig {
                session_ttl: Duration::from_secs(self.auth.session_ttl_minutes * 60),
                login_max_failures_per_user: self.auth.login_max_failures_per_user,
                login_max_failures_per_address: self.auth.login_max_failures_per_address,
                login_window: Duration::from_secs(self.auth.login_window_seconds),
            },
            sync_batch_budget_bytes: self.sync.batch_budget_bytes,
            readings: ReadingsConfig {
                partition_interval_days: self.readings.partition_interval_days,
                partitions_ahead_days: self.readings.partitions_ahead_days,
                maintenance_interval: Duration::from_secs(
                    self.readings.maintenance_interval_minutes * 60,
                ),
            },
            enrollment_token_ttl: Duration::from_secs(
                self.devices.enrollment_token_ttl_hours * 3600,
            ),
            log_format,
            log_level: self.log.level,
            console,
            fleet,
        })
    }
}

impl RawConsole {
    fn validate(self) -> anyhow::Result<ConsoleConfig> {
        let url = self.base_map_style_url.trim();
        let base_map_style_url = if url.is_empty() {
            None
        } else {
            if url.len() > BASE_MAP_URL_CHARS_MAX
                || !(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                bail!(
                    "console.base_map_style_url must be an http(s) URL of at most \
                     {BASE_MAP_URL_CHARS_MAX} characters, or empty"
                );
            }
            Some(url.to_owned())
        };
        let cookie_secure = match self.cookie_secure.as_str() {
            "auto" => CookieSecure::Auto,
            "always" => CookieSecure::Always,
            "never" => CookieSecure::Never,
            other => bail!(
                "console.cookie_secure must be \"auto\", \"always\" or \"never\", not {other:?}"
            ),
        };
        Ok(ConsoleConfig {
            base_map_style_url,
            cookie_secure,
        })
    }
}

impl RawFleet {
    fn validate(self) -> anyhow::Result<FleetConfig> {
        if self.silent_amber_seconds == 0 || self.silent_red_seconds < self.silent_amber_seconds {
            bail!(
                "fleet.silent_amber_seconds must be positive and at most fleet.silent_red_seconds"
            );
        }
        let percent = 0.0..=100.0;
        if !percent.contains(&self.disk_free_amber_percent)
            || !percent.contains(&self.disk_free_red_percent)
            || self.disk_free_red_percent > self.disk_free_amber_percent
        {
            bail!("fleet.disk_free_*_percent must be between 0 and 100, red at most amber");
        }
        if self.backlog_growing_amber_points == 0 {
            bail!("fleet.backlog_growing_amber_points must be positive");
        }
        if self.check_interval_seconds == 0 || self.heartbeat_history_interval_seconds == 0 {
            bail!(
                "fleet.check_interval_seconds and heartbeat_history_interval_seconds must be positive"
            );
        }
        if !(1..=HEARTBEAT_HISTORY_DAYS_MAX).contains(&self.heartbeat_history_days) {
            bail!(
                "fleet.heartbeat_history_days must be between 1 and {HEARTBEAT_HISTORY_DAYS_MAX}"
            );
        }
        Ok(FleetConfig {
            silent_amber: Duration::from_secs(self.silent_amber_seconds),
            silent_red: Duration::from_secs(self.silent_red_seconds),
            disk_free_amber_percent: self.disk_free_amber_percent,
            disk_free_red_percent: self.disk_free_red_percent,
            backlog_growing_amber_points: self.backlog_growing_amber_points,
            clock_offset_amber: Duration::from_secs(self.clock_offset_amber_seconds),
            check_interval: Duration::from_secs(self.check_interval_seconds),
            heartbeat_history_interval: Duration::from_secs(
                self.heartbeat_history_interval_seconds,
            ),
            heartbeat_history_days: self.heartbeat_history_days,
        })
    }
}

/// Both TLS files or neither ("" = not set).
fn tls_files(cert: &str, key: &str) -> anyhow::Result<Option<crate::tls::TlsFiles>> {
    match (cert.trim(), key.trim()) {
        ("", "") => Ok(None),
        ("", _) | (_, "") => bail!("set both the certificate and the key file, or neither"),
        (cert, key) => Ok(Some(crate::tls::TlsFiles {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
        })),
    }
}

/// A database URL must parse and name a database.
fn check_database_url(url: &str) -> anyhow::Result<()> {
    let parsed = crate::store::DbTarget::parse(url).map_err(|e| anyhow::anyhow!("{e}"))?;
    if parsed.config.get_dbname().is_none_or(str::is_empty) {
        bail!("the URL must name a database (postgres://user@host:port/DBNAME)");
    }
    Ok(())
}

impl Config {
    /// Load the file (or the embedded default), then apply flags and environment.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
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
        if let Ok(dir) = std::env::var("FARMCO_CLOUD_DATA_DIR")
            && !dir.is_empty()
        {
            config.data_dir = PathBuf::from(dir);
        }
        if let Ok(listen) = std::env::var("FARMCO_CLOUD_LISTEN")
            && !listen.is_empty()
        {
            config.listen = listen
                .parse()
                .with_context(|| format!("FARMCO_CLOUD_LISTEN: not an address: {listen:?}"))?;
        }
        let cert = std::env::var("FARMCO_CLOUD_TLS_CERT_FILE").unwrap_or_default();
        let key = std::env::var("FARMCO_CLOUD_TLS_KEY_FILE").unwrap_or_default();
        if !cert.is_empty() || !key.is_empty() {
            config.tls = tls_files(&cert, &key)
                .context("FARMCO_CLOUD_TLS_CERT_FILE / FARMCO_CLOUD_TLS_KEY_FILE")?;
        }
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            check_database_url(&url).context("DATABASE_URL")?;
            config.database.url = url;
        }
        if overrides.log_json {
            config.log_format = LogFormat::Json;
        }
        Ok(config)
    }

    /// The defaults with a given database URL and data dir; used by tests.
    pub fn for_tests(database_url: &str, data_dir: PathBuf) -> Config {
        let mut config = RawConfig::parse(EMBEDDED_DEFAULT_TOML)
            .and_then(RawConfig::validate)
            .unwrap_or_else(|e| panic!("embedded config is invalid: {e:#}"));
        config.database.url = database_url.to_owned();
        config.database.pool_size = 4;
        config.data_dir = data_dir;
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
        let c = c.unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8090");
        assert_eq!(c.sync_batch_budget_bytes, 32 * 1024);
        assert_eq!(c.readings.partitions_ahead_days, 7);
        assert_eq!(c.enrollment_token_ttl, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = EMBEDDED_DEFAULT_TOML.replace("[http]", "[http]\nlisten_port = 1");
        let err = RawConfig::parse(&text).map(|_| ()).unwrap_err();
        assert!(format!("{err:#}").contains("listen_port"), "{err:#}");
    }

    #[test]
    fn bad_values_are_rejected() {
        for (from, to) in [
            ("format = \"human\"", "format = \"xml\""),
            ("pool_size = 16", "pool_size = 0"),
            ("cookie_secure = \"auto\"", "cookie_secure = \"sometimes\""),
            ("silent_red_seconds = 21600", "silent_red_seconds = 60"),
            (
                "base_map_style_url = \"\"",
                "base_map_style_url = \"ftp://tiles\"",
            ),
            ("partition_interval_days = 1", "partition_interval_days = 0"),
            (
                "url = \"postgres://postgres@127.0.0.1:5432/farmco\"",
                "url = \"postgres://postgres@127.0.0.1:5432\"",
            ),
        ] {
            let text = EMBEDDED_DEFAULT_TOML.replace(from, to);
            assert_ne!(text, EMBEDDED_DEFAULT_TOML, "{from}");
            assert!(
                RawConfig::parse(&text)
                    .and_then(RawConfig::validate)
                    .is_err(),
                "{to}"
            );
        }
    }
}
