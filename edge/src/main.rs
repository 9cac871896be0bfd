//! `farmco-edge`: the village node's command line.
//!
//! Every subcommand takes `--config FILE` (default: the embedded copy of config/edge.toml) and
//! `--data-dir DIR`; environment variables FARMCO_EDGE_DATA_DIR and FARMCO_EDGE_LISTEN override.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
        /// Base URL of the cloud, e.g. http://cloud.example:8090
        #[arg(long)]
        cloud: String,
        #[arg(long)]
        token: String,
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
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; prints "ok" or the first broken link (exit 1).
    Verify,
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
                farmco_edge::sms::policy::local_day(store::now_ms(), config.sms.offset);
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
        Command::Enroll { cloud, token } => {
            let store = server::open_store(&config)?;
            let key = farmco_edge::identity::load_or_create_node_key(&config.data_dir)?;
            let enrollment =
                runtime()?.block_on(enroll(&cloud, &token, &key, &config.node_name))?;
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
                            "villages": enrollment.villages}),
                    },
                )?;
                Ok(())
            })?;
            println!(
                "enrolled as {} for villages {}",
                enrollment.node_id,
                enrollment.villages.join(",")
            );
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

/// Exchange the one-time token for this node's enrollment.
async fn enroll(
    cloud: &str,
    token: &str,
    key: &farmco_sync::protocol::keys::NodeSecretKey,
    name: &str,
) -> anyhow::Result<farmco_edge::store::sync_state::Enrollment> {
    let url = format!("{}/api/v1/enroll", cloud.trim_end_matches('/'));
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?
        .post(&url)
        .json(&serde_json::json!({
            "token": token,
            "public_key": key.node_id().to_string(),
            "name": name,
            "software_version": env!("CARGO_PKG_VERSION"),
        }))
        .send()
        .await
        .with_context(|| format!("contacting {url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!(
            "enrollment refused ({status}): {}",
            body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given")
        );
    }
    let node_id = body["node_id"].as_str().unwrap_or_default().to_owned();
    if node_id != key.node_id().to_string() {
        anyhow::bail!("the cloud answered with another node id ({node_id:?})");
    }
    let cloud_public_key = body["cloud_public_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    cloud_public_key
        .parse::<farmco_sync::protocol::keys::NodeId>()
        .map_err(|_| anyhow::anyhow!("the cloud's public key is not valid"))?;
    let villages = body["villages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if villages.is_empty() {
        anyhow::bail!("the cloud assigned no villages");
    }
    Ok(farmco_edge::store::sync_state::Enrollment {
        node_id,
        cloud_url: cloud.trim_end_matches('/').to_owned(),
        cloud_public_key,
        villages,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}
