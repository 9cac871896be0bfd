//! `farmco-edge`: the village node's command line.
//!
//! Every subcommand takes `--config FILE` (default: the embedded copy of config/edge.toml) and
//! `--data-dir DIR`; environment variables FARMCO_EDGE_DATA_DIR, FARMCO_EDGE_LISTEN and
//! FARMCO_EDGE_ALLOW_INSECURE_HTTP (plain-HTTP clouds, tests only) override.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use farmco_edge::api::auth_routes;
use farmco_edge::config::{Config, Overrides};
use farmco_edge::store::audit::AuditVerdict;
use farmco_edge::{demo, server, store};

#[derive(Debug, Parser)]
#[command(
    name = "farmco-edge",
    version,
    about = "FarmCo-Pilot village edge node"
)]
struct Cli {
    /// Configuration file (TOML). Without it the embedded defaults (config/edge.toml) apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, keys). Overrides storage.data_dir.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the field-agent API.
    Run {
        /// Listen address, e.g. 0.0.0.0:8080. Overrides http.listen.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Seed the demo village into an empty data dir, create the `demo` agent, then serve.
    Demo {
        #[arg(long)]
        listen: Option<String>,
        /// Number of demo farmers.
        #[arg(long, default_value_t = demo::DEMO_FARMERS)]
        farmers: usize,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Enroll this node with the cloud using a one-time token from `farmco-cloud device token`.
    Enroll {
        /// Base URL of the cloud, e.g. https://cloud.example (http:// only with
        /// sync.allow_insecure_http)
        #[arg(long)]
        cloud: String,
        #[arg(long)]
        token: String,
        /// The cloud key fingerprint printed by `farmco-cloud device token`, obtained out of
        /// band: enrollment fails unless the cloud answers with exactly this key.
        #[arg(long, value_name = "SHA256_HEX")]
        cloud_key_fingerprint: Option<String>,
    },
    /// Sync with the cloud.
    Sync {
        /// Run one full round (up and down until caught up), print a summary and exit.
        #[arg(long)]
        once: bool,
        /// Use this cloud URL for this run instead of the enrolled one (a relay, a new address).
        #[arg(long)]
        cloud: Option<String>,
        /// Also compare every document with the cloud and repair differences (anti-entropy).
        #[arg(long)]
        repair: bool,
    },
    /// Seed the demo village into this data dir without serving (tests, benchmarks).
    SeedDemo {
        #[arg(long, default_value_t = demo::DEMO_FARMERS)]
        farmers: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Another village code (a second demo box); with --center.
        #[arg(long, default_value = demo::DEMO_VILLAGE_CODE)]
        village: String,
        /// Centre of that village, "LAT,LON" in degrees.
        #[arg(long, value_delimiter = ',', num_args = 2)]
        center: Option<Vec<f64>>,
    },
    /// Print this node's id (its public key).
    NodeId,
    /// HTTPS for the field-agent app on the village Wi-Fi.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        #[arg(long)]
        username: String,
        /// agent, supervisor or admin
        #[arg(long)]
        role: String,
        /// Village code an agent may work in (repeat, or separate with commas).
        #[arg(long = "village", value_delimiter = ',')]
        villages: Vec<String>,
    },
    /// List users.
    List,
    /// Disable a user: they can no longer log in and their sessions are deleted.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Set a user's password (read from the first line of standard input); their sessions are
    /// deleted.
    Passwd {
        #[arg(long)]
        username: String,
    },
    /// Sign a user out everywhere (delete their sessions).
    RevokeSessions {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum TlsCommand {
    /// Create the deployment CA (unless it exists) and this box's server certificate
    /// (data_dir/tls/). Run again to renew the server certificate or add addresses.
    Init {
        /// A DNS name of the box (repeat), e.g. box.local.
        #[arg(long = "name")]
        names: Vec<String>,
        /// A LAN address of the box (repeat), e.g. 192.168.4.1.
        #[arg(long = "ip")]
        ips: Vec<String>,
        /// Folder of an existing deployment CA (ca.crt, ca.key) to sign with; default
        /// data_dir/tls (created when missing).
        #[arg(long)]
        ca_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; prints "ok" or the first broken link (exit 1).
    Verify,
    /// Print the newest rows as JSON lines (oldest first), optionally of one action.
    List {
        /// Only rows of this action, e.g. farmer.create.
        #[arg(long)]
        action: Option<String>,
        /// Most rows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// `user disable|enable|revoke-sessions`: apply and print what happened.
fn user_change(
    store: &farmco_edge::store::Store,
    username: &str,
    change: auth_routes::UserChange,
) -> anyhow::Result<()> {
    let done = auth_routes::change_user_checked(store, username, change, "cli")
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!(
        "user {}: {}; {} session(s) revoked",
        done.username,
        if done.disabled { "disabled" } else { "enabled" },
        done.sessions_revoked
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let listen = match &cli.command {
        Command::Run { listen } | Command::Demo { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen,
        log_json: cli.log_json,
    };
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    server::init_logging(&config);
    match cli.command {
        Command::Run { .. } => {
            let store = server::open_store(&config)?;
            runtime()?.block_on(server::run(config, store))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { farmers, .. } => {
            let store = server::open_store(&config)?;
            if store.farmer_count()? == 0 {
                let started = std::time::Instant::now();
                let summary = demo::seed_demo_village(&store, farmers, 2026, store::now_ms())?;
                println!(
                    "seeded demo village {}: {} farmers, {} farms, {} soil tests in {:.1} s",
                    demo::DEMO_VILLAGE_CODE,
                    summary.farmers,
                    summary.farms,
                    summary.soil_tests,
                    started.elapsed().as_secs_f64()
                );
            }
            let (today, _) =
                farmco_village::sms::policy::local_day(store::now_ms(), config.sms.offset);
            let sms_demo = farmco_edge::sms::demo::seed_sms_demo(&store, &today, store::now_ms())?;
            println!(
                "SMS demo: {} price/weather advisories for village {}, farmer {} (Hindi){}",
                sms_demo.advisories,
                demo::DEMO_VILLAGE_CODE,
                farmco_edge::sms::demo::DEMO_SMS_PHONE,
                if sms_demo.farmer_created {
                    ""
                } else {
                    " already present"
                }
            );
            let (password, generated) = match std::env::var("FARMCO_DEMO_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (farmco_edge::auth::new_token()[..16].to_owned(), true),
            };
            let exists = store
                .read(|c| farmco_edge::store::users::find_for_login(c, "demo"))?
                .is_some();
            if !exists {
                farmco_edge::api::auth_routes::add_user_checked(
                    &store,
                    "demo",
                    &password,
                    "agent",
                    &[demo::DEMO_VILLAGE_CODE.to_owned()],
                    "demo-seed",
                )
                .map_err(|e| anyhow::anyhow!("creating the demo user: {}", e.message))?;
                if generated {
                    println!("demo agent: username demo, password {password}");
                } else {
                    println!("demo agent: username demo, password from FARMCO_DEMO_PASSWORD");
                }
            } else {
                println!("demo agent already exists in this data dir (password unchanged)");
            }
            println!("data dir: {}", config.data_dir.display());
            println!("API docs: http://{}/openapi.json", config.listen);
            runtime()?.block_on(server::run(config, store))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command } => {
            let store = server::open_store(&config)?;
            match command {
                UserCommand::Add {
                    username,
                    role,
                    villages,
                } => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    let password = line.trim_end_matches(['\r', '\n']);
                    let user = farmco_edge::api::auth_routes::add_user_checked(
                        &store, &username, password, &role, &villages, "cli",
                    )
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                    println!(
                        "added user {} (role {}, villages {})",
                        user.username,
                        user.role.as_str(),
                        user.villages
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
                UserCommand::Disable { username } => {
                    user_change(&store, &username, auth_routes::UserChange::Disable)?;
                }
                UserCommand::Enable { username } => {
                    user_change(&store, &username, auth_routes::UserChange::Enable)?;
                }
                UserCommand::RevokeSessions { username } => {
                    user_change(&store, &username, auth_routes::UserChange::RevokeSessions)?;
                }
                UserCommand::Passwd { username } => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    let password = line.trim_end_matches(['\r', '\n']);
                    let done =
                        auth_routes::set_password_checked(&store, &username, password, "cli")
                            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                    println!(
                        "password of {} changed; {} session(s) revoked",
                        done.username, done.sessions_revoked
                    );
                }
                UserCommand::List => {
                    for u in store.read(farmco_edge::store::users::list_users)? {
                        println!(
                            "{}\t{}\t{}",
                            u.username,
                            u.role.as_str(),
                            u.villages
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(",")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll {
            cloud,
            token,
            cloud_key_fingerprint,
        } => {
            // Refuse a plain-HTTP URL before opening anything or connecting anywhere.
            farmco_edge::uplink::check_cloud_url(&cloud, config.sync.allow_insecure_http)?;
            let store = server::open_store(&config)?;
            let key = farmco_edge::identity::load_or_create_node_key(&config.data_dir)?;
            let enrolled = runtime()?.block_on(farmco_edge::enroll::enroll(
                &cloud,
                &token,
                &key,
                &config.node_name,
                &config.sync,
                cloud_key_fingerprint.as_deref(),
                store::now_ms(),
            ))?;
            let enrollment = enrolled.enrollment;
            store.write(|tx| {
                farmco_edge::store::sync_state::set_enrollment(tx, &enrollment)?;
                farmco_edge::store::audit::append(
                    tx,
                    store::now_ms(),
                    &farmco_edge::store::audit::AuditEvent {
                        actor: "cli",
                        action: "node.enroll",
                        target: &enrollment.node_id,
                        detail: serde_json::json!({"cloud": enrollment.cloud_url,
                            "villages": enrollment.villages,
                            "cloud_key_fingerprint": enrolled.cloud_key_fingerprint,
                            "fingerprint_checked": enrolled.fingerprint_checked}),
                    },
                )?;
                Ok(())
            })?;
            println!(
                "enrolled as {} for villages {}",
                enrollment.node_id,
                enrollment.villages.join(",")
            );
            if enrolled.fingerprint_checked {
                println!(
                    "cloud key fingerprint {} matches --cloud-key-fingerprint",
                    enrolled.cloud_key_fingerprint
                );
            } else {
                println!(
                    "cloud key fingerprint {} (NOT checked: compare it with the one \
                     `farmco-cloud device token` printed, or enroll with --cloud-key-fingerprint)",
                    enrolled.cloud_key_fingerprint
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SeedDemo {
            farmers,
            seed,
            village,
            center,
        } => {
            let store = server::open_store(&config)?;
            let (center_lat, center_lon) = match center.as_deref() {
                Some([lat, lon]) => (*lat, *lon),
                _ => (demo::DEMO_CENTER_LAT, demo::DEMO_CENTER_LON),
            };
            let place = demo::DemoPlace {
                village_code: &village,
                center_lat,
                center_lon,
            };
            let summary =
                demo::seed_demo_village_at(&store, place, farmers, seed, store::now_ms())?;
            println!(
                "seeded {} farmers, {} farms, {} soil tests",
                summary.farmers, summary.farms, summary.soil_tests
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync {
            once,
            cloud,
            repair,
        } => {
            if !once {
                anyhow::bail!("use `farmco-edge sync --once` (the server syncs by itself)");
            }
            let store = server::open_store(&config)?;
            let store_for_repair = store.clone();
            let key = std::sync::Arc::new(farmco_edge::identity::load_or_create_node_key(
                &config.data_dir,
            )?);
            let mut client =
                farmco_edge::sync_client::SyncClient::new(store, key, config.sync.clone(), None)?;
            client.set_cloud_url_override(cloud);
            client.set_health_source(farmco_edge::sync_health::HealthSource {
                sms_daily_cap: config.sms.cap.cap,
                offset: config.sms.offset,
                modem: None,
            });
            if repair {
                farmco_edge::sync_client::request_repair(&store_for_repair)?;
            }
            let summary = runtime()?.block_on(client.round())?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::NodeId => {
            let key = farmco_edge::identity::load_or_create_node_key(&config.data_dir)?;
            println!("{}", key.node_id());
            Ok(ExitCode::SUCCESS)
        }
        Command::Tls {
            command: TlsCommand::Init { names, ips, ca_dir },
        } => {
            let mut all = names;
            for ip in ips {
                ip.parse::<std::net::IpAddr>()
                    .with_context(|| format!("--ip {ip:?} is not an IP address"))?;
                all.push(ip);
            }
            let report = farmco_edge::tls::init(&config.data_dir, ca_dir.as_deref(), &all)?;
            println!(
                "{} CA: {}",
                if report.ca_created {
                    "created the deployment"
                } else {
                    "signed with the existing"
                },
                report.ca_cert.display()
            );
            println!(
                "server certificate for {}: {}",
                report.names.join(", "),
                report.server_cert.display()
            );
            println!(
                "HTTPS is served on http.tls_listen ({}); phones install the CA once from http://<box>:{}/trust",
                config
                    .tls_listen
                    .map_or_else(|| "off".to_owned(), |a| a.to_string()),
                config.listen.port()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::List { action, limit },
        } => {
            let store = server::open_store(&config)?;
            let rows =
                store.read(|c| farmco_edge::store::audit::list(c, action.as_deref(), limit))?;
            for row in rows {
                println!("{}", serde_json::to_string(&row)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = server::open_store(&config)?;
            let verdict = store.read(farmco_edge::store::audit::verify)?;
            println!("{verdict}");
            Ok(match verdict {
                AuditVerdict::Ok { rows } => {
                    eprintln!("{rows} audit rows verified");
                    ExitCode::SUCCESS
                }
                AuditVerdict::Broken { .. } => ExitCode::FAILURE,
            })
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}
