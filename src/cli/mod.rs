//! The command line: argument definitions and one function per command.
//!
//! Commands that need the store reach it directly when no daemon runs, and
//! through the daemon's loopback admin API when one holds the store's lock
//! (sled admits one process at a time).

mod access;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::app::{AppOptions, Application, shutdown_signal};
use crate::config::{EXAMPLE_CONFIG, LogFormat, Settings};
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
    /// Run the daemon against the built-in Shopify emulator and its sample shop.
    Demo {
        /// Where to serve the daemon and the emulator (under /_emulator/shopify).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// sled directory for the demo (a temporary one when omitted).
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
        Command::Feed { command } => feed(command).await,
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
