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
    let store = crate::store::Store::open(&settings.data_dir)
        .with_context(|| format!("opening the store at {}", settings.data_dir.display()))?;
    let etsy_base = connect_etsy_demo(&mut settings, &store).await?;

    let settings_etsy_ids: Vec<String> = settings
        .etsy_shops
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    let app = Application::build(
        settings,
        AppOptions {
            public_listener: Some(listener),
            extra_public_routes: Some(
                Router::new()
                    .nest(EMULATOR_PREFIX, emulator.router())
                    .nest(STRIPE_PREFIX, stripe.router()),
            ),
            store: Some(store),
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
    for shop in &settings_etsy_ids {
        println!(
            "Etsy shop: http://{addr}/feeds/{shop}/openai.jsonl.gz  (never checkout-eligible; Etsy emulator at {etsy_base})"
        );
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

/// Starts the Etsy emulator (sample shop, auto-approved consent) on its own
/// loopback port, points the demo's Etsy settings at it, and connects every
/// Etsy shop through the real PKCE flow before the daemon starts. Returns
/// the emulator's base URL.
async fn connect_etsy_demo(
    settings: &mut Settings,
    store: &crate::store::Store,
) -> anyhow::Result<String> {
    use crate::emulator::etsy::{EtsyEmulator, EtsyEmulatorConfig, EtsyShopData};
    let Some(app_cfg) = settings.etsy.as_mut() else {
        return Ok(String::new());
    };
    let emulator_listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", emulator_listener.local_addr()?);
    let callback = TcpListener::bind("127.0.0.1:0").await?;
    let redirect = Url::parse(&format!("http://{}/etsy/callback", callback.local_addr()?))?;
    let mut config = EtsyEmulatorConfig::with_data(EtsyShopData::sample());
    config.keystring.clone_from(&app_cfg.keystring);
    config.shared_secret = secrecy::ExposeSecret::expose_secret(&app_cfg.shared_secret).to_owned();
    config.redirect_uris = vec![redirect.to_string()];
    config.auto_approve = true;
    let emulator = EtsyEmulator::new(config);
    let router = emulator.router();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(emulator_listener, router).await {
            tracing::error!(error = %e, "the Etsy emulator stopped");
        }
    });
    app_cfg.api_base_url = Some(Url::parse(&base)?);
    app_cfg.connect_url = Some(Url::parse(&format!("{base}/oauth/connect"))?);
    app_cfg.redirect_uri = redirect.clone();
    let app = crate::source::etsy::EtsyApp::new(crate::sync::etsy_app_settings(app_cfg))?;
    for shop in &mut settings.etsy_shops {
        shop.etsy_shop_id = emulator.shop_id();
        super::etsy::login_flow(
            &app,
            store,
            shop,
            redirect.clone(),
            &callback,
            std::time::Duration::from_secs(30),
            |url| {
                // The browser's part: follow the emulator's redirect back.
                tokio::spawn(async move {
                    if let Err(e) = reqwest::get(url).await {
                        tracing::warn!(error = %e, "the demo's consent request failed");
                    }
                });
            },
        )
        .await
        .with_context(|| format!("connecting the demo Etsy shop {}", shop.id))?;
    }
    Ok(base)
}
