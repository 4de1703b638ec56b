//! Composition root: builds every component from [`Settings`], owns every
//! task, and stops them in order.
//!
//! Shutdown order (each step bounded by the remaining deadline):
//! 1. cancel the schedulers, so no new sync starts, and let in-flight syncs
//!    stop at their next await point (their writes are atomic per batch);
//!    stop the order-webhook workers after their current pass (events not
//!    delivered stay in the outbox for the next start);
//! 2. drain HTTP: stop accepting, let in-flight requests finish;
//! 3. flush sled;
//! 4. return. Tasks still running at the deadline are named and aborted.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::checkout::service::{CheckoutDeps, CheckoutService};
use crate::config::Settings;
use crate::delivery::run::TargetRunner;
use crate::orders::{DeliveryWorker, OutboxWaker};
use crate::payment::stripe::{StripeClient, StripeSettings};
use crate::scheduler::{SchedulerHandle, spawn_shop_scheduler};
use crate::server::{CheckoutEntry, ServerState, ShopEntry, admin_router, public_router};
use crate::store::Store;
use crate::sync::{EtsySync, ShopSync};

/// File in the data directory holding the running daemon's admin address.
pub const ADMIN_ADDR_FILE: &str = "admin.addr";

/// Optional parts a caller can supply instead of having them built from
/// settings: tests and the demo pre-bind listeners or add routes.
#[derive(Default)]
pub struct AppOptions {
    /// An already-bound public listener (the demo binds first to learn its port).
    pub public_listener: Option<TcpListener>,
    /// Extra routes merged into the public router (the demo's emulator).
    pub extra_public_routes: Option<Router>,
    /// An already-open store.
    pub store: Option<Store>,
    /// Skip the sync every shop runs at start-up (and the first
    /// reconciliation, which then waits its interval).
    pub no_initial_sync: bool,
}

pub struct Application {
    settings: Settings,
    store: Store,
    public_listener: TcpListener,
    admin_listener: TcpListener,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    extra_public_routes: Option<Router>,
    jobs: Vec<Arc<ShopSync>>,
    /// Etsy shops: one app (and quota) shared by all of them.
    etsy_jobs: Vec<Arc<EtsySync>>,
    checkout: BTreeMap<String, CheckoutEntry>,
    /// One order-webhook worker per shop with checkout.
    order_workers: Vec<DeliveryWorker>,
    /// Feed delivery targets, by shop id.
    deliveries: BTreeMap<String, Vec<Arc<TargetRunner>>>,
    no_initial_sync: bool,
}

impl Application {
    /// Opens the store, builds one client per shop and binds both listeners
    /// (port 0 allowed; the real ports are in [`Self::public_addr`] and
    /// [`Self::admin_addr`]).
    ///
    /// # Errors
    /// Store lock or I/O, a listener that cannot bind, a client that cannot
    /// be built.
    pub async fn build(settings: Settings, options: AppOptions) -> anyhow::Result<Self> {
        let store = match options.store {
            Some(store) => store,
            None => Store::open(&settings.data_dir).with_context(|| {
                format!(
                    "opening the store at {} (is another acp-bridge running?)",
                    settings.data_dir.display()
                )
            })?,
        };
        let public_listener = match options.public_listener {
            Some(l) => l,
            None => TcpListener::bind(settings.server.listen)
                .await
                .with_context(|| format!("binding {}", settings.server.listen))?,
        };
        let admin_listener = TcpListener::bind(settings.admin.listen)
            .await
            .with_context(|| format!("binding the admin listener {}", settings.admin.listen))?;
        let public_addr = public_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        let mut jobs = Vec::new();
        let mut checkout = BTreeMap::new();
        let mut order_workers = Vec::new();
        let deliveries = delivery_runners(&settings, &store);
        for shop in settings.shops.iter().filter(|s| s.enabled) {
            let job = ShopSync::new(shop.clone(), store.clone())
                .with_context(|| format!("building the client of shop {}", shop.id))?;
            if let Some(cfg) = &shop.checkout {
                let waker = OutboxWaker::new();
                let service = checkout_service(
                    shop,
                    cfg,
                    job.client().clone(),
                    store.clone(),
                    waker.clone(),
                )
                .with_context(|| format!("building the checkout of shop {}", shop.id))?;
                checkout.insert(shop.id.to_string(), CheckoutEntry::new(Arc::new(service)));
                // Shopify's order webhooks update the orders placed here.
                job.set_order_sink(Arc::new(crate::orders::inbound::ShopifyOrderWebhooks {
                    shop: shop.id.clone(),
                    store: store.clone(),
                    settings: cfg.clone(),
                    waker: waker.clone(),
                }));
                let worker =
                    DeliveryWorker::new(shop.id.clone(), store.clone(), cfg.clone(), waker)
                        .with_context(|| {
                            format!("building the order webhooks of shop {}", shop.id)
                        })?;
                order_workers.push(worker);
            }
            jobs.push(Arc::new(job));
        }
        let mut etsy_jobs = Vec::new();
        if let Some(cfg) = settings
            .etsy
            .as_ref()
            .filter(|_| !settings.etsy_shops.is_empty())
        {
            let etsy = crate::source::etsy::EtsyApp::new(crate::sync::etsy_app_settings(cfg))
                .context("building the Etsy client")?;
            for shop in settings.etsy_shops.iter().filter(|s| s.enabled) {
                etsy_jobs.push(Arc::new(EtsySync::new(shop.clone(), &etsy, store.clone())));
            }
            // Etsy tokens live in the store: keep its directory private.
            store.secure_permissions();
        }
        Ok(Application {
            settings,
            store,
            public_listener,
            admin_listener,
            public_addr,
            admin_addr,
            extra_public_routes: options.extra_public_routes,
            jobs,
            etsy_jobs,
            checkout,
            order_workers,
            deliveries,
            no_initial_sync: options.no_initial_sync,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until `shutdown` resolves or a critical task fails, then stops
    /// everything in order within the configured deadline.
    ///
    /// # Errors
    /// A critical task (an HTTP server) failed.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let deadline = self.settings.shutdown_deadline;
        let scheduler_token = CancellationToken::new();
        let orders_token = CancellationToken::new();
        let http_token = CancellationToken::new();
        let metrics = crate::metrics::install();

        let mut schedulers = JoinSet::new();
        let mut handles: BTreeMap<String, SchedulerHandle> = BTreeMap::new();
        for job in &self.jobs {
            let shop = job.shop_id().clone();
            let (handle, fut) = spawn_shop_scheduler(
                shop.clone(),
                job.schedule().clone(),
                job.clone(),
                !self.no_initial_sync,
                scheduler_token.child_token(),
            );
            schedulers.spawn(fut);
            job.set_scheduler(handle.clone());
            // Webhooks queued before a restart are processed now.
            if self.store.webhook_backlog(&shop).unwrap_or(0) > 0 {
                handle.webhooks_queued();
            }
            handles.insert(shop.to_string(), handle);
            let shop_settings = self.settings.shop(shop.as_str());
            if let (Some(public), Some(s)) = (&self.settings.server.public_url, shop_settings)
                && s.shopify.webhook_secret.is_some()
                && let Ok(endpoint) = public.join(&format!("webhooks/shopify/{shop}"))
            {
                schedulers.spawn(maintain_webhooks(
                    job.clone(),
                    endpoint,
                    s.checkout.is_some(),
                    scheduler_token.child_token(),
                ));
            }
        }
        // Reconciliation: at start (a complete cut off by a restart is
        // finished now), then periodically.
        for entry in self.checkout.values() {
            schedulers.spawn(
                entry
                    .reconciler
                    .clone()
                    .run(!self.no_initial_sync, scheduler_token.child_token()),
            );
        }
        for job in &self.etsy_jobs {
            let shop = job.shop_id().clone();
            let (handle, fut) = spawn_shop_scheduler(
                shop.clone(),
                job.schedule().clone(),
                job.clone(),
                !self.no_initial_sync,
                scheduler_token.child_token(),
            );
            schedulers.spawn(fut);
            handles.insert(shop.to_string(), handle);
        }
        if !self.checkout.is_empty() {
            let services: Vec<_> = self.checkout.values().map(|e| e.service.clone()).collect();
            schedulers.spawn(prune_idempotency_keys(
                services,
                scheduler_token.child_token(),
            ));
        }

        // Order webhooks: one worker per shop, so a dead endpoint of one
        // shop never delays another's events.
        let mut order_workers = JoinSet::new();
        for worker in self.order_workers {
            order_workers.spawn(worker.run(orders_token.child_token()));
        }

        let shops: BTreeMap<String, ShopEntry> = self
            .settings
            .shops
            .iter()
            .map(|s| {
                (
                    s.id.to_string(),
                    ShopEntry {
                        id: s.id.clone(),
                        enabled: s.enabled,
                        feed_token: s.feed.bearer_token.clone(),
                        scheduler: handles.get(s.id.as_str()).cloned(),
                        shop_domain: s.shopify.shop_domain.clone(),
                        webhook_secret: s.shopify.webhook_secret.clone(),
                    },
                )
            })
            .chain(self.settings.etsy_shops.iter().map(|s| {
                (
                    s.id.to_string(),
                    ShopEntry {
                        id: s.id.clone(),
                        enabled: s.enabled,
                        feed_token: s.feed.bearer_token.clone(),
                        scheduler: handles.get(s.id.as_str()).cloned(),
                        // No Shopify webhooks for Etsy shops: without a
                        // secret every delivery is refused.
                        shop_domain: String::new(),
                        webhook_secret: None,
                    },
                )
            }))
            .collect();
        // Feed delivery: one task per target, so a failing target never
        // holds up another target or shop.
        for runner in self.deliveries.values().flatten() {
            schedulers.spawn(
                runner
                    .clone()
                    .run(!self.no_initial_sync, scheduler_token.child_token()),
            );
        }
        let state = ServerState {
            deliveries: Arc::new(self.deliveries.clone()),
            store: self.store.clone(),
            shops: Arc::new(shops),
            metrics,
            checkout: Arc::new(self.checkout.clone()),
            public_url: self.settings.server.public_url.clone(),
        };
        let mut public = public_router(state.clone(), self.settings.server.request_timeout);
        if let Some(extra) = self.extra_public_routes {
            public = public.merge(extra);
        }
        let admin = admin_router(state);

        let mut servers = JoinSet::new();
        let token = http_token.clone();
        servers.spawn(
            async move {
                axum::serve(self.public_listener, public)
                    .with_graceful_shutdown(token.cancelled_owned())
                    .await
                    .map_err(|e| anyhow::anyhow!("public HTTP server failed: {e}"))
            }
            .instrument(info_span!("server", listener = "public")),
        );
        let token = http_token.clone();
        servers.spawn(
            async move {
                axum::serve(self.admin_listener, admin)
                    .with_graceful_shutdown(token.cancelled_owned())
                    .await
                    .map_err(|e| anyhow::anyhow!("admin HTTP server failed: {e}"))
            }
            .instrument(info_span!("server", listener = "admin")),
        );
        // The CLI finds a running daemon's admin API through this file even
        // when the admin port was chosen by the OS (`127.0.0.1:0`).
        let addr_file = self.settings.data_dir.join(ADMIN_ADDR_FILE);
        if let Err(e) = std::fs::write(&addr_file, self.admin_addr.to_string()) {
            warn!(error = %e, path = %addr_file.display(), "could not record the admin address");
        }
        info!(
            public.addr = %self.public_addr,
            admin.addr = %self.admin_addr,
            shops = self.jobs.len(),
            etsy_shops = self.etsy_jobs.len(),
            "acp-bridge running"
        );

        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown => info!("shutdown requested"),
            Some(result) = servers.join_next() => {
                let err = match result {
                    Ok(Ok(())) => anyhow::anyhow!("an HTTP server stopped unexpectedly"),
                    Ok(Err(e)) => e,
                    Err(e) => anyhow::anyhow!("an HTTP server panicked: {e}"),
                };
                error!(error = %err, "critical task exited; stopping");
                outcome = Err(err);
            }
        }

        let stop_by = tokio::time::Instant::now() + deadline;
        // 1. Schedulers: no new runs; in-flight runs stop at their next await.
        scheduler_token.cancel();
        orders_token.cancel();
        drain("scheduler", &mut schedulers, stop_by).await;
        drain("order webhooks", &mut order_workers, stop_by).await;
        // 2. HTTP: graceful drain.
        http_token.cancel();
        drain("http", &mut servers, stop_by).await;
        // 3. Store.
        if let Err(e) = self.store.flush() {
            error!(error = %crate::telemetry::ErrorChain(&e), "flushing the store failed");
        }
        let _ = std::fs::remove_file(&addr_file);
        info!("acp-bridge stopped");
        outcome
    }
}

/// How often expired idempotency keys are deleted.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Registers the shop's webhook subscriptions (retrying with backoff while
/// Shopify is unreachable) and prunes remembered webhook event ids daily.
async fn maintain_webhooks(
    job: Arc<ShopSync>,
    endpoint: url::Url,
    with_orders: bool,
    cancel: CancellationToken,
) {
    let mut topics = crate::source::shopify::CATALOG_TOPICS.to_vec();
    if with_orders {
        topics.extend(crate::source::shopify::ORDER_TOPICS);
    }
    let mut failures = 0u32;
    loop {
        let attempt = job
            .client()
            .ensure_webhook_subscriptions(&endpoint, &topics);
        let result = tokio::select! {
            () = cancel.cancelled() => return,
            r = attempt => r,
        };
        match result {
            Ok(done) => {
                info!(
                    shop = %job.shop_id(),
                    webhook.endpoint = %endpoint,
                    kept = done.kept,
                    moved = done.moved,
                    created = done.created,
                    "Shopify webhook subscriptions in place"
                );
                break;
            }
            Err(e) => {
                failures += 1;
                let delay = crate::scheduler::backoff_delay(
                    failures,
                    std::time::Duration::from_secs(600),
                    fastrand::f64(),
                );
                warn!(
                    shop = %job.shop_id(),
                    error = %crate::telemetry::ErrorChain(&e),
                    retry_in_secs = delay.as_secs(),
                    "registering Shopify webhook subscriptions failed"
                );
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let store = job.store().clone();
        match tokio::task::spawn_blocking(move || store.prune_webhook_ids(chrono::Utc::now())).await
        {
            Ok(Ok(n)) if n > 0 => info!(pruned = n, "old webhook event ids forgotten"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                warn!(error = %crate::telemetry::ErrorChain(&e), "pruning webhook ids failed")
            }
            Err(e) => warn!(error = %e, "pruning webhook ids panicked"),
        }
    }
}

/// Deletes idempotency keys past their 24 h retention, hourly, until
/// cancelled.
async fn prune_idempotency_keys(services: Vec<Arc<CheckoutService>>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        for service in &services {
            let store = service.store().clone();
            let shop = service.shop().clone();
            let pruned = tokio::task::spawn_blocking(move || {
                store.prune_idempotency_keys(&shop, chrono::Utc::now(), chrono::Duration::hours(25))
            })
            .await;
            match pruned {
                Ok(Ok(n)) if n > 0 => {
                    info!(shop = %service.shop(), pruned = n, "expired idempotency keys deleted");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    warn!(error = %crate::telemetry::ErrorChain(&e), "pruning idempotency keys failed")
                }
                Err(e) => warn!(error = %e, "pruning idempotency keys panicked"),
            }
        }
    }
}

/// Waits for every task of `set` until `stop_by`, then aborts the rest and
/// names how many were left.
async fn drain<T: 'static>(what: &str, set: &mut JoinSet<T>, stop_by: tokio::time::Instant) {
    let remaining = |set: &JoinSet<T>| set.len();
    let waited =
        tokio::time::timeout_at(stop_by, async { while set.join_next().await.is_some() {} }).await;
    if waited.is_err() {
        warn!(
            component = what,
            stragglers = remaining(set),
            "shutdown deadline reached; aborting remaining tasks"
        );
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
}

/// Resolves on SIGINT or SIGTERM. A second signal exits the process at once.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    tokio::spawn(async {
        wait_for_signal().await;
        warn!("second signal: exiting immediately");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The checkout service of one shop: its Shopify client (shared with the
/// sync, so one throttle per shop) and its own Stripe client.
fn checkout_service(
    shop: &crate::config::ShopSettings,
    cfg: &crate::config::CheckoutSettings,
    shopify: crate::source::shopify::ShopifyClient,
    store: Store,
    order_events: OutboxWaker,
) -> anyhow::Result<CheckoutService> {
    let mut stripe = StripeSettings::new(cfg.stripe.secret_key.clone());
    if let Some(url) = &cfg.stripe.api_base_url {
        stripe.api_base_url = url.clone();
    }
    if let Some(version) = &cfg.stripe.api_version {
        stripe.api_version.clone_from(version);
    }
    Ok(CheckoutService::new(CheckoutDeps {
        shop: shop.id.clone(),
        store,
        shopify,
        stripe: StripeClient::new(stripe)?,
        settings: cfg.clone(),
        feed_checkout_eligible: shop.feed.checkout_eligible,
        policy_overrides: shop.policy_overrides.clone(),
        order_events,
    }))
}

/// The delivery targets of every enabled shop; snapshots are built under
/// the data directory (`delivery-work/`, emptied after each delivery).
fn delivery_runners(
    settings: &Settings,
    store: &Store,
) -> BTreeMap<String, Vec<Arc<TargetRunner>>> {
    let work_dir = settings.data_dir.join("delivery-work");
    settings
        .shops
        .iter()
        .filter(|s| s.enabled && !s.delivery.is_empty())
        .map(|s| {
            let runners = s
                .delivery
                .iter()
                .map(|t| {
                    Arc::new(TargetRunner::new(
                        s.id.clone(),
                        store.clone(),
                        t.clone(),
                        work_dir.clone(),
                    ))
                })
                .collect();
            (s.id.to_string(), runners)
        })
        .collect()
}
