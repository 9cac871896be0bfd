//! `farmco-cloud`: the central server's command line.
//!
//! Every subcommand takes `--config FILE` (default: the embedded copy of config/cloud.toml) and
//! `--data-dir DIR`; `DATABASE_URL`, `FARMCO_CLOUD_LISTEN` and `FARMCO_CLOUD_DATA_DIR` override.
//! Every subcommand opens the store, which creates the database if missing and applies pending
//! migrations first.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use farmco_cloud::config::{Config, Overrides};
use farmco_cloud::store::audit::AuditVerdict;
use farmco_cloud::store::users::UserChange;
use farmco_cloud::{api, server, store};

#[derive(Debug, Parser)]
#[command(
    name = "farmco-cloud",
    version,
    about = "FarmCo-Pilot central server: sync endpoint, PostgreSQL/PostGIS store, ops API"
)]
struct Cli {
    /// Configuration file (TOML). Without it the embedded defaults (config/cloud.toml) apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (the cloud's key file). Overrides storage.data_dir.
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
    /// Serve the ops API and the sync endpoint.
    Serve {
        /// Listen address, e.g. 0.0.0.0:8090. Overrides http.listen.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create the database if needed, apply pending migrations and create readings partitions.
    Migrate,
    /// Manage ops users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage edge devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
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
        /// ops or admin
        #[arg(long)]
        role: String,
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
enum DeviceCommand {
    /// Print a one-time enrollment token (the last line of output) for the given villages.
    Token {
        /// Village codes the node will serve (repeat, or separate with commas).
        #[arg(long, value_delimiter = ',', required = true)]
        villages: Vec<String>,
        /// Make a token that re-enrolls this already enrolled, active node (id or unique
        /// prefix), replacing its villages; ordinary tokens never change an active node.
        #[arg(long, value_name = "NODE_ID")]
        reenroll: Option<String>,
    },
    /// List enrolled nodes.
    List,
    /// Revoke a node: every later envelope from it is refused.
    Revoke {
        /// Node id (64 hex) or a unique prefix of at least 8 characters.
        id: String,
    },
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
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen,
        log_json: cli.log_json,
    };
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    server::init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run_command(cli.command, config))
}

/// `user disable|enable|revoke-sessions`: apply and print what happened.
async fn user_change(
    store: &farmco_cloud::store::Store,
    username: &str,
    change: UserChange,
) -> anyhow::Result<ExitCode> {
    let (disabled, revoked) = store
        .change_user(username, change, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "user {username}: {}; {revoked} session(s) revoked",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(ExitCode::SUCCESS)
}

fn join(v: &[String]) -> String {
    v.join(",")
}

fn time_or_dash(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), api::rfc3339)
}

async fn run_command(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    if let Command::Serve { .. } = command {
        server::run(config).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let (store, key) = server::open(&config).await?;
    let code = match command {
        Command::Serve { .. } => ExitCode::SUCCESS,
        Command::Migrate => {
            let conn = store.conn().await?;
            let versions = store::migrations::applied_versions(&conn).await?;
            println!(
                "schema at version {} (migrations {:?}); readings backend {:?}",
                versions.last().copied().unwrap_or(0),
                versions,
                store.readings_backend()
            );
            ExitCode::SUCCESS
        }
        Command::User { command } => match command {
            UserCommand::Add { username, role } => {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                let password = line.trim_end_matches(['\r', '\n']);
                let user =
                    api::auth_routes::add_user_checked(&store, &username, password, &role, "cli")
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!("added user {} (role {})", user.username, user.role.as_str());
                ExitCode::SUCCESS
            }
            UserCommand::List => {
                for u in store.list_users().await? {
                    println!("{}\t{}", u.username, u.role.as_str());
                }
                ExitCode::SUCCESS
            }
            UserCommand::Disable { username } => {
                user_change(&store, &username, UserChange::Disable).await?
            }
            UserCommand::Enable { username } => {
                user_change(&store, &username, UserChange::Enable).await?
            }
            UserCommand::RevokeSessions { username } => {
                user_change(&store, &username, UserChange::RevokeSessions).await?
            }
            UserCommand::Passwd { username } => {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                let password = line.trim_end_matches(['\r', '\n']);
                let done = api::auth_routes::set_password_checked(
                    &store, None, &username, password, "cli",
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!(
                    "password of {} changed; {} session(s) revoked",
                    done.username, done.sessions_revoked
                );
                ExitCode::SUCCESS
            }
        },
        Command::Device { command } => match command {
            DeviceCommand::Token { villages, reenroll } => {
                let ttl = config.enrollment_token_ttl;
                let token = match &reenroll {
                    None => store.create_enrollment_token(&villages, ttl, "cli").await,
                    Some(node) => {
                        store
                            .create_reenrollment_token(node, &villages, ttl, "cli")
                            .await
                    }
                }
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                // The fingerprint goes to the box's operator separately from the token (read it
                // out over the phone): `farmco-edge enroll --cloud-key-fingerprint` then
                // refuses any other cloud key.
                println!("cloud key fingerprint (sha256): {}", key.fingerprint());
                println!(
                    "one-time {}enrollment token for villages {} (valid {} h):",
                    if reenroll.is_some() { "re-" } else { "" },
                    join(&store::nodes::parse_villages("villages", &villages)?),
                    ttl.as_secs() / 3600
                );
                println!("{token}");
                ExitCode::SUCCESS
            }
            DeviceCommand::List => {
                println!("node_id\tname\tvillages\tenrolled\tlast_seen\trevoked");
                for n in store.list_nodes().await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        n.node_id,
                        n.name,
                        join(&n.villages),
                        api::rfc3339(n.enrolled_at),
                        time_or_dash(n.last_seen_at),
                        time_or_dash(n.revoked_at),
                    );
                }
                ExitCode::SUCCESS
            }
            DeviceCommand::Revoke { id } => {
                let node_id = store
                    .revoke_node(&id, "cli")
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("revoked {node_id}");
                ExitCode::SUCCESS
            }
        },
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let verdict = store.verify_audit().await?;
            println!("{verdict}");
            match verdict {
                AuditVerdict::Ok { rows } => {
                    eprintln!("{rows} audit rows verified");
                    ExitCode::SUCCESS
                }
                AuditVerdict::Broken { .. } => ExitCode::FAILURE,
            }
        }
    };
    store.close();
    Ok(code)
}
