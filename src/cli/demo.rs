//! `acp-bridge demo` (the daemon against the emulator's sample shop, on one
//! listener) and `acp-bridge emulator` (the emulator alone).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use url::Url;

use crate::app::{AppOptions, Application, shutdown_signal};
use crate::config::{DEMO_CONFIG, Settings};
use crate::emulator::shopify::{EmulatorConfig, ShopData, ShopifyEmulator, WebhookSettings};
use crate::emulator::stripe::{StripeEmulator, StripeEmulatorConfig};

/// The token the embedded demo config sends; the demo emulator accepts it.
pub const DEMO_TOKEN: &str = "shpat_demo_emulator_token";
/// Where the emulator is mounted on the demo's listener.
pub const EMULATOR_PREFIX: &str = "/_emulator/shopify";
/// Where the Stripe emulator is mounted on the demo's listener.
pub const STRIPE_PREFIX: &str = "/_emulator/stripe";
/// The agent key of the embedded demo config.
pub const DEMO_AGENT_KEY: &str = "demo-agent-key";

pub async fn run(listen: SocketAddr, data_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::from_toml(DEMO_CONFIG)?;
    crate::telemetry::init(settings.log_format, &settings.log_filter);

    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen} (try --listen 127.0.0.1:0)"))?;
    let addr = listener.local_addr()?;
    let emulator_base = format!("http://{addr}{EMULATOR_PREFIX}");

    let shop_domain = settings
        .shops
        .first()
        .map(|s| s.shopify.shop_domain.clone())
        .context("the demo config has no shop")?;
    let emulator = ShopifyEmulator::new(EmulatorConfig {
        static_tokens: vec![DEMO_TOKEN.to_owned()],
        shop_domain,
        // The daemon subscribes at start; its endpoint is plain http on
        // loopback, which only the demo and tests accept.
        webhooks: WebhookSettings {
            allow_loopback_http: true,
            ..WebhookSettings::default()
        },
        ..EmulatorConfig::default()
    });
    emulator.set_base_url(emulator_base.clone());

    // Keep the temporary directory alive for the whole run.
    let temp = match &data_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("creating a temporary data directory")?),
    };
    settings.data_dir = data_dir
        .or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()))
        .context("no data directory")?;
    settings.server.listen = addr;
    // Shopify's webhooks come back to this listener.
    settings.server.public_url = Some(Url::parse(&format!("http://{addr}/"))?);
    let stripe_base = format!("http://{addr}{STRIPE_PREFIX}");
    for shop in &mut settings.shops {
        shop.shopify.api_base_url = Some(Url::parse(&emulator_base)?);
        if let Some(checkout) = &mut shop.checkout {
            checkout.stripe.api_base_url = Some(Url::parse(&stripe_base)?);
        }
    }
    let stripe = StripeEmulator::new(StripeEmulatorConfig::default());

    let app = Application::build(
        settings,
        AppOptions {
            public_listener: Some(listener),
            extra_public_routes: Some(
                Router::new()
                    .nest(EMULATOR_PREFIX, emulator.router())
                    .nest(STRIPE_PREFIX, stripe.router()),
            ),
            ..AppOptions::default()
        },
    )
    .await?;
    let admin = app.admin_addr();
    println!();
    println!("acp-bridge demo: the daemon is syncing the sample shop from the Shopify emulator.");
    println!("Feeds (published within a few seconds; /readyz turns 200 then):");
    for file in crate::feed::FeedFormat::ALL.map(crate::feed::FeedFormat::file_name) {
        println!("  http://{addr}/feeds/demo/{file}");
    }
    println!("Health:    http://{addr}/healthz   http://{addr}/readyz");
    println!(
        "Webhooks:  the emulator's changes arrive signed at http://{addr}/webhooks/shopify/demo"
    );
    println!("Metrics:   http://{admin}/metrics");
    println!("Status:    http://{admin}/admin/status");
    println!("Report:    http://{admin}/admin/shops/demo/feed/report");
    println!(
        "Emulator:  {emulator_base}/admin/api/2026-10/graphql.json  (X-Shopify-Access-Token: {DEMO_TOKEN})"
    );
    println!(
        "Checkout:  http://{addr}/acp/demo/checkout_sessions  (Authorization: Bearer {DEMO_AGENT_KEY}; see README)"
    );
    println!(
        "Stripe:    {stripe_base}/v1/test_helpers/shared_payment/granted_tokens mints test tokens (Bearer {})",
        StripeEmulatorConfig::DEFAULT_SECRET_KEY
    );
    println!("Stop with Ctrl-C.");
    println!();
    app.run_until_stopped(shutdown_signal()).await?;
    drop(temp);
    Ok(ExitCode::SUCCESS)
}

pub async fn run_emulator(
    listen: SocketAddr,
    products: Option<usize>,
    variants: usize,
    token: String,
    restore_rate: u32,
) -> anyhow::Result<ExitCode> {
    crate::telemetry::init(crate::config::LogFormat::Pretty, "info");
    let data = match products {
        Some(n) => ShopData::generated(n, variants.max(1), 42),
        None => ShopData::sample(),
    };
    let mut config = EmulatorConfig::with_data(data);
    config.static_tokens = vec![token];
    config.restore_rate = restore_rate;
    let emulator = ShopifyEmulator::new(config);
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    // Machine-readable first line for scripts and the benchmark.
    println!("listening on http://{addr}");
    crate::emulator::shopify::serve(listener, emulator, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
