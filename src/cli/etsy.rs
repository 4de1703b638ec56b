//! `acp-bridge etsy login --shop ID`: connects an Etsy shop through the
//! OAuth consent flow with PKCE.
//!
//! The consent URL is printed; the seller opens it, approves, and Etsy sends
//! the browser to the configured `redirect_uri`, whose loopback port this
//! command listens on. The `state` is checked, the code is exchanged with
//! the PKCE verifier, the tokens are checked to belong to the configured
//! shop and saved in the store (the data directory is made private).
//! sled admits one process: stop the daemon first.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use url::Url;

use crate::config::{EtsyShopSettings, Settings};
use crate::source::etsy::{EtsyApp, LoginRequest, await_callback};
use crate::store::Store;

/// Runs the consent flow for `shop`: `open` receives the consent URL (the
/// CLI prints it; tests and the demo request it), `listener` receives the
/// redirect. Returns the Etsy user id that approved.
///
/// # Errors
/// No redirect in time, a forged `state`, a refused code, tokens of another
/// shop, store failures.
pub async fn login_flow(
    app: &EtsyApp,
    store: &Store,
    shop: &EtsyShopSettings,
    redirect_uri: Url,
    listener: &TcpListener,
    timeout: Duration,
    open: impl FnOnce(Url),
) -> anyhow::Result<u64> {
    let settings = app.settings();
    let request = LoginRequest::new(
        &settings.connect_url,
        &settings.keystring,
        redirect_uri,
        &settings.scopes,
    );
    open(request.consent_url.clone());
    let code = await_callback(
        listener,
        request.redirect_uri.path(),
        &request.state,
        timeout,
    )
    .await
    .context("waiting for Etsy's redirect")?;
    let tokens = app
        .exchange_code(&code, &request.pkce, &request.redirect_uri)
        .await
        .context("exchanging the authorization code")?;
    let user_id = tokens.user_id;
    let client = app.shop_client(shop.id.clone(), shop.etsy_shop_id, store.clone());
    client
        .save_login(tokens)
        .await
        .context("checking and saving the tokens")?;
    Ok(user_id)
}

/// The command: loads the shop, listens on the redirect URI's loopback
/// port and prints the consent URL.
///
/// # Errors
/// Configuration, binding, the flow itself.
pub async fn login(settings: &Settings, shop: &str) -> anyhow::Result<ExitCode> {
    let Some(shop) = settings.etsy_shop(shop) else {
        bail!("no Etsy shop `{shop}` in the configuration");
    };
    let Some(cfg) = &settings.etsy else {
        bail!("the [etsy] app section is missing");
    };
    let app = EtsyApp::new(crate::sync::etsy_app_settings(cfg))?;
    let store = Store::open(&settings.data_dir).with_context(|| {
        format!(
            "opening the store at {} (stop the running daemon first)",
            settings.data_dir.display()
        )
    })?;
    let port = cfg
        .redirect_uri
        .port_or_known_default()
        .context("the redirect_uri has no port")?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the redirect"))?;
    let user = login_flow(
        &app,
        &store,
        shop,
        cfg.redirect_uri.clone(),
        &listener,
        cfg.login_timeout,
        |url| {
            println!(
                "Open this URL as the owner of Etsy shop {} and approve:",
                shop.etsy_shop_id
            );
            println!();
            println!("  {url}");
            println!();
            println!("Waiting for Etsy to redirect to {} …", cfg.redirect_uri);
        },
    )
    .await?;
    store.flush()?;
    println!("shop {} is connected to Etsy (user {user}).", shop.id);
    Ok(ExitCode::SUCCESS)
}
