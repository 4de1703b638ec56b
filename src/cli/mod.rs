//! The command line: argument definitions and one function per command.
//!
//! Commands that need the store reach it directly when no daemon runs, and
//! through the daemon's loopback admin API when one holds the store's lock
//! (sled admits one process at a time).

mod access;
mod demo;
pub mod etsy;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::app::{AppOptions, Application, shutdown_signal};
use crate::config::{EXAMPLE_CONFIG, LogFormat, Settings};
use crate::domain::ShopId;
use crate::feed::FeedFormat;
use crate::store::SyncKind;
use access::StateAccess;

#[derive(Debug, Parser)]
#[command(
    name = "acp-bridge",
    version,
    about = "Shopify catalogs as Agentic Commerce Protocol feeds"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Config file(s); later files override earlier ones.
    #[arg(
        long = "config",
        short = 'c',
        env = "ACP_BRIDGE_CONFIG",
        value_delimiter = ',',
        required = true
    )]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: schedules, feeds, metrics.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Sync one shop now and exit (non-zero on failure). With a daemon
    /// running, asks it to run the sync instead.
    Sync {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        shop: String,
        /// Full sync (bulk operation + deletion reconciliation).
        #[arg(long)]
        full: bool,
    },
    /// Deliver a shop's feed to its delivery targets now and exit
    /// (non-zero when a delivery failed). With a daemon running, asks it.
    Deliver {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        shop: String,
        /// Only this target (all of the shop's by default).
        #[arg(long)]
        target: Option<String>,
        /// Send even when the target already has this feed.
        #[arg(long)]
        force: bool,
    },
    /// Feed tools.
    Feed {
        #[command(subcommand)]
        command: FeedCommand,
    },
    /// Validate the configuration, list every problem, show the next runs.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the fully commented example configuration.
    PrintConfig,
    /// Per-shop sync and feed status.
    Status {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Undelivered order webhooks: list them, send one again, or drop it.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Run the daemon against the built-in Shopify emulator and its sample shop.
    Demo {
        /// Where to serve the daemon and the emulator (under /_emulator/shopify).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// sled directory for the demo (a temporary one when omitted).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Etsy shops: connect one through Etsy's consent flow.
    Etsy {
        #[command(subcommand)]
        command: EtsyCommand,
    },
    /// Serve only the Shopify emulator (for benchmarks and experiments).
    Emulator {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// Generate this many products instead of the sample shop.
        #[arg(long)]
        products: Option<usize>,
        /// Variants per generated product.
        #[arg(long, default_value_t = 3)]
        variants: usize,
        /// Access token the emulator accepts.
        #[arg(long, default_value = "shpat_demo_emulator_token")]
        token: String,
        /// Leaky-bucket restore rate, points per second.
        #[arg(long, default_value_t = 100)]
        restore_rate: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Write one encoding of the published feed to a file.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        shop: String,
        #[arg(long, value_parser = clap::value_parser!(FeedFormat))]
        format: FeedFormat,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Row counts and, per product, why rows are excluded or invalid.
    Validate {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        shop: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EtsyCommand {
    /// Print the consent URL, wait for the seller's approval on the
    /// redirect URI's loopback port, and save the shop's tokens.
    Login {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        shop: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Pending and dead order events (exit 1 when any is dead).
    List {
        #[command(flatten)]
        config: ConfigArgs,
        /// Only this shop (default: every shop with checkout).
        #[arg(long)]
        shop: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make an event due now with a fresh set of attempts (dead ones too).
    Retry {
        #[command(flatten)]
        config: ConfigArgs,
        /// The event id `outbox list` shows.
        id: u64,
        #[arg(long)]
        shop: Option<String>,
    },
    /// Delete an event without delivering it.
    Drop {
        #[command(flatten)]
        config: ConfigArgs,
        id: u64,
        #[arg(long)]
        shop: Option<String>,
    },
}

impl clap::builder::ValueParserFactory for FeedFormat {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<FeedFormat>())
    }
}

fn load(config: &ConfigArgs) -> anyhow::Result<Settings> {
    Ok(Settings::load(&config.files, std::env::vars())?)
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command reports; the caller prints it and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => {
            let settings = load(&config)?;
            crate::telemetry::init(settings.log_format, &settings.log_filter);
            let app = Application::build(settings, AppOptions::default()).await?;
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { config, shop, full } => {
            let settings = load(&config)?;
            crate::telemetry::init(LogFormat::Pretty, "warn,acp_bridge=info");
            let kind = if full {
                SyncKind::Full
            } else {
                SyncKind::Incremental
            };
            let access = StateAccess::open(&settings)?;
            let summary = access.sync(&settings, &shop, kind).await?;
            println!(
                "{} sync of {shop}: {} products written, {} removed; feed {} ({} valid, {} invalid rows)",
                summary.kind.as_str(),
                summary.products_written,
                summary.products_removed,
                summary.feed,
                summary.rows_valid,
                summary.rows_invalid
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Deliver {
            config,
            shop,
            target,
            force,
        } => {
            let settings = load(&config)?;
            crate::telemetry::init(LogFormat::Pretty, "warn,acp_bridge=info");
            let access = StateAccess::open(&settings)?;
            let records = access
                .deliver(&settings, &shop, target.as_deref(), force)
                .await?;
            let mut failed = false;
            for r in &records {
                failed |= r.outcome == crate::delivery::run::DeliveryOutcome::Failed;
                println!(
                    "{shop}/{}: {} (generation {}, {} rows, {} bytes) {}{}",
                    r.target,
                    r.outcome.as_str(),
                    r.generation
                        .map_or_else(|| "-".to_owned(), |g| g.to_string()),
                    r.rows,
                    r.bytes,
                    r.detail,
                    r.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Feed { command } => feed(command).await,
        Command::Outbox { command } => outbox(command).await,
        Command::CheckConfig { config } => check_config(&config),
        Command::PrintConfig => {
            print!("{EXAMPLE_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config, json } => {
            let settings = load(&config)?;
            let statuses = StateAccess::open(&settings)?.status(&settings).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
            } else {
                print!("{}", crate::status::render_table(&statuses));
            }
            let failing = statuses.iter().any(|s| s.last_error.is_some());
            Ok(if failing {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Etsy {
            command: EtsyCommand::Login { config, shop },
        } => {
            let settings = load(&config)?;
            crate::telemetry::init(LogFormat::Pretty, "warn,acp_bridge=info");
            etsy::login(&settings, &shop).await
        }
        Command::Demo { listen, data_dir } => demo::run(listen, data_dir).await,
        Command::Emulator {
            listen,
            products,
            variants,
            token,
            restore_rate,
        } => demo::run_emulator(listen, products, variants, token, restore_rate).await,
    }
}

fn check_config(config: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match load(config) {
        Ok(settings) => {
            println!("configuration is valid: {} shop(s)", settings.shops.len());
            let now = Utc::now();
            for shop in &settings.shops {
                println!(
                    "shop {}{}: full sync `{}` (UTC), next runs:",
                    shop.id,
                    if shop.enabled { "" } else { " (disabled)" },
                    shop.schedule.full_sync.as_str()
                );
                for t in shop.schedule.full_sync.upcoming(now, 3) {
                    println!("    {}", t.format("%a %Y-%m-%d %H:%M UTC"));
                }
                match shop.schedule.incremental_every {
                    Some(every) => println!("  incremental sync every {} s", every.as_secs()),
                    None => println!("  incremental sync off"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn feed(command: FeedCommand) -> anyhow::Result<ExitCode> {
    match command {
        FeedCommand::Export {
            config,
            shop,
            format,
            output,
        } => {
            let settings = load(&config)?;
            let access = StateAccess::open(&settings)?;
            // Write to a temporary file beside the target, then rename, so a
            // failed export never leaves a truncated file behind.
            let tmp = output.with_extension("partial");
            let bytes = access.export(&settings, &shop, format, &tmp).await?;
            std::fs::rename(&tmp, &output)
                .with_context(|| format!("moving the export to {}", output.display()))?;
            println!("wrote {} ({bytes} bytes)", output.display());
            Ok(ExitCode::SUCCESS)
        }
        FeedCommand::Validate { config, shop, json } => {
            let settings = load(&config)?;
            let access = StateAccess::open(&settings)?;
            let report = access.report(&settings, &shop).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", access::render_report(&report));
            }
            let Some(meta) = report.get("meta").filter(|m| !m.is_null()) else {
                bail!("shop {shop} has no published feed yet; run `acp-bridge sync --shop {shop}`");
            };
            let invalid = meta
                .get("rows_invalid")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            Ok(if invalid > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// The shops an outbox command covers: `--shop`, or every shop with checkout.
fn outbox_shops(settings: &Settings, shop: Option<&str>) -> anyhow::Result<Vec<ShopId>> {
    match shop {
        Some(shop) => match settings.shop(shop) {
            Some(s) => Ok(vec![s.id.clone()]),
            None => bail!("no shop `{shop}` in the configuration"),
        },
        None => Ok(settings
            .shops
            .iter()
            .filter(|s| s.checkout.is_some())
            .map(|s| s.id.clone())
            .collect()),
    }
}

/// What an outbox command does to one event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutboxAction {
    Retry,
    Drop,
}

async fn outbox(command: OutboxCommand) -> anyhow::Result<ExitCode> {
    use crate::orders::admin::{self, OutboxEventView};
    match command {
        OutboxCommand::List { config, shop, json } => {
            let settings = load(&config)?;
            let access = StateAccess::open(&settings)?;
            let mut events: Vec<OutboxEventView> = Vec::new();
            for id in outbox_shops(&settings, shop.as_deref())? {
                match &access {
                    StateAccess::Direct(store) => events.extend(admin::list(store, &id)?),
                    StateAccess::Daemon { base, http } => {
                        let url = format!("{base}/admin/shops/{id}/outbox");
                        let response = http
                            .get(&url)
                            .send()
                            .await
                            .with_context(|| format!("reaching the daemon at {url}"))?;
                        let status = response.status();
                        let body: serde_json::Value = response.json().await?;
                        if !status.is_success() {
                            bail!("daemon answered {status}: {}", body["message"]);
                        }
                        events.extend(serde_json::from_value::<Vec<OutboxEventView>>(body)?);
                    }
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                print!("{}", admin::render_table(&events));
            }
            Ok(if events.iter().any(OutboxEventView::is_dead) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        OutboxCommand::Retry { config, id, shop } => {
            outbox_act(&config, id, shop.as_deref(), OutboxAction::Retry).await
        }
        OutboxCommand::Drop { config, id, shop } => {
            outbox_act(&config, id, shop.as_deref(), OutboxAction::Drop).await
        }
    }
}

/// Retries or drops event `id` in the first of the shops that has it
/// (event ids are unique across shops).
async fn outbox_act(
    config: &ConfigArgs,
    id: u64,
    shop: Option<&str>,
    action: OutboxAction,
) -> anyhow::Result<ExitCode> {
    use crate::orders::admin;
    let settings = load(config)?;
    let access = StateAccess::open(&settings)?;
    for shop in outbox_shops(&settings, shop)? {
        let found = match &access {
            StateAccess::Direct(store) => {
                let found = match action {
                    OutboxAction::Retry => admin::retry(store, &shop, id)?,
                    OutboxAction::Drop => admin::drop_event(store, &shop, id)?,
                };
                store.flush()?;
                found
            }
            StateAccess::Daemon { base, http } => {
                let request = match action {
                    OutboxAction::Retry => {
                        http.post(format!("{base}/admin/shops/{shop}/outbox/{id}/retry"))
                    }
                    OutboxAction::Drop => {
                        http.delete(format!("{base}/admin/shops/{shop}/outbox/{id}"))
                    }
                };
                let response = request
                    .send()
                    .await
                    .with_context(|| format!("reaching the daemon at {base}"))?;
                match response.status() {
                    s if s.is_success() => true,
                    reqwest::StatusCode::NOT_FOUND => false,
                    s => {
                        let body: serde_json::Value = response.json().await.unwrap_or_default();
                        bail!("daemon answered {s}: {}", body["message"]);
                    }
                }
            }
        };
        if found {
            match action {
                OutboxAction::Retry => println!("order event {id} of {shop} is due now"),
                OutboxAction::Drop => println!("order event {id} of {shop} dropped"),
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("no undelivered order event {id}")
}
