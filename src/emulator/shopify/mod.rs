//! A faithful emulator of the Shopify Admin GraphQL API for one shop, used by
//! integration tests, benchmarks and `acp-bridge demo`.
//!
//! It enforces what Shopify enforces: access tokens (static and
//! client-credentials with expiry), API versions with fall-forward, schema
//! validation of every document (apollo-compiler against
//! `queries/shopify/schema.graphql`), `first`/`last` on connections, the
//! 1,000-point single-query cost limit, the per-shop leaky bucket, the bulk
//! query rules and the 2026-01 concurrency limit, and JSONL results whose
//! line order must not be relied on. Checkout pricing (`draftOrderCalculate`
//! with taxes, shipping rates and an automatic discount) and orders
//! (`orderCreate` with inventory claims, `order`, `orders(query:)` with an
//! eventually consistent index) work on state the tests can inspect. After
//! an order is placed, the merchant side of its lifecycle (fulfilments with
//! tracking and carrier events, refunds, cancellation) runs through the real
//! mutations or the helpers in `merchant.rs`, and every change is announced
//! to webhook subscriptions with signed deliveries, retries and faults
//! (`webhooks.rs`). Faults can be scripted through
//! [`ShopifyEmulator::faults`].
//!
//! It must not be used as a general GraphQL server: only the schema subset
//! and the resolvers in this module exist.
//!
//! Layout: `routes` (HTTP), `graphql` (request pipeline), `exec` (executor),
//! `fields` (field collection), `resolve` (resolvers), `cost`, `bucket`,
//! `page` (cursors), `search` (query syntax), `bulk`/`bulk_query`/`jsonl`
//! (bulk operations), `auth`, `faults`, `counters`, `catalog` (live data),
//! `data` (model), `seed` and `generate` (catalogs); for checkout:
//! `pricing` (rules and arithmetic) and `pricing_sample`, `draft`
//! (`draftOrderCalculate`),
//! `orders` (the order book), `order_create`, `order_search`, `mutate`
//! (mutations with state), `commerce` (their GraphQL objects), `inputs`;
//! for the order lifecycle: `lifecycle` (model), `fulfillment`, `refund`,
//! `order_read` (GraphQL objects), `merchant` (test helpers); for webhooks:
//! `subscriptions`, `payloads` (REST bodies), `webhooks` (delivery);
//! `schema_orders.graphql` is the schema part only the emulator serves.

mod auth;
mod bucket;
mod bulk;
mod bulk_query;
mod catalog;
mod commerce;
mod config;
mod cost;
mod counters;
mod data;
mod diagnostics;
mod draft;
mod exec;
mod faults;
mod fields;
mod fulfillment;
mod generate;
mod graphql;
mod inputs;
mod jsonl;
mod lifecycle;
mod merchant;
mod mutate;
mod order_create;
mod order_read;
mod order_search;
mod orders;
mod page;
mod payloads;
mod pricing;
mod pricing_sample;
mod refund;
mod resolve;
mod routes;
mod search;
mod seed;
mod subscriptions;
#[cfg(test)]
mod tests;
mod webhooks;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use apollo_compiler::ExecutableDocument;
use apollo_compiler::validation::Valid;
use tokio::net::TcpListener;

pub use bucket::ThrottleStatus;
pub use bulk::BulkView;
pub use config::{ClientCredentials, DEFAULT_SCOPE, EmulatorConfig, SUPPORTED_VERSIONS};
pub use counters::CounterSnapshot;
pub use data::{
    Image, InventoryPolicy, Media, MediaKind, Policy, PolicyType, Price, Product, ProductOption,
    ProductStatus, Publication, SelectedOption, ShopData, ShopInfo, Variant, Weight, WeightUnit,
};
pub use faults::{BulkErrorCode, Faults, IndexDelay, LostResponse};
pub use lifecycle::{
    CancelReason, Fulfillment, FulfillmentEvent, FulfillmentLine, FulfillmentOrder,
    FulfillmentOrderLine, FulfillmentOrderStatus, FulfillmentStatus, Refund, RefundLine,
    RestockType, ShipmentStatus, TrackingInfo,
};
pub use merchant::{CancelOrder, RefundLineRequest, RefundOrder};
pub use orders::{Address, InventoryBehaviour, Order, OrderLine, OrderShippingLine, Transaction};
pub use pricing::{
    AutomaticDiscount, CountryRules, PostalCodeFormat, PricingRules, Rate, ShippingRateRule,
    ShippingZone, Subdivision, TaxAmount, TaxRate,
};
pub use pricing_sample::sample_pricing;
pub use subscriptions::{WebhookFormat, WebhookSubscription};
pub use webhooks::{
    AttemptOutcome, DeliveryRecord, TopicCounts, WebhookCounters, WebhookSettings, WebhookTopic,
};

use auth::Tokens;
use bucket::Bucket;
use bulk::{BulkRegistry, BulkSettings};
use catalog::Catalog;
use counters::Counters;
use data::parse_gid;
use mutate::Commerce;
use orders::OrderBook;
use subscriptions::SubscriptionBook;
use webhooks::{Emitted, WebhookHub};

/// Why an emulator operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the emulated shop has no product {0}")]
    UnknownProduct(String),
    #[error("the emulated shop has no product variant {0}")]
    UnknownVariant(String),
    #[error("the emulated shop has no publication {0}")]
    UnknownPublication(String),
    #[error("the emulated shop has no order {0}")]
    UnknownOrder(String),
    #[error("the emulated shop has no fulfillment {0}")]
    UnknownFulfillment(String),
    #[error("{operation} was refused: {}", .messages.join("; "))]
    Refused {
        operation: &'static str,
        messages: Vec<String>,
    },
    #[error("serving the emulator failed")]
    Serve(#[source] std::io::Error),
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Shared state behind the cheap-to-clone handle.
pub(crate) struct Inner {
    pub catalog: RwLock<Catalog>,
    /// Pricing rules and orders; locked after `catalog` when both are held.
    pub commerce: RwLock<Commerce>,
    pub bucket: Arc<Mutex<Bucket>>,
    pub faults: Arc<Faults>,
    pub counters: Arc<Counters>,
    pub tokens: Tokens,
    pub bulk: Arc<BulkRegistry>,
    pub base_url: Arc<RwLock<String>>,
    pub versions: Vec<String>,
    pub max_query_cost: u64,
    pub doc_cache: Mutex<HashMap<String, Arc<Valid<ExecutableDocument>>>>,
    pub webhooks: Arc<WebhookHub>,
}

/// One emulated shop. Cloning is cheap and shares the shop.
#[derive(Clone)]
pub struct ShopifyEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShopifyEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyEmulator")
            .field("shop", &read(&self.inner.catalog).shop.myshopify_domain)
            .finish_non_exhaustive()
    }
}

impl ShopifyEmulator {
    /// Builds the shop from `config`. Bulk operations spawn tokio tasks, so
    /// GraphQL requests must be served inside a tokio runtime.
    pub fn new(config: EmulatorConfig) -> Self {
        let secret = secrecy::SecretString::from(config.webhook_secret().to_owned());
        let EmulatorConfig {
            shop_domain,
            static_tokens,
            client_credentials,
            token_lifetime,
            scope,
            bucket_size,
            restore_rate,
            max_query_cost,
            bulk_completion_delay,
            max_concurrent_bulk_operations,
            bulk_shuffle_seed,
            supported_versions,
            mut data,
            app_secret: _,
            webhooks,
        } = config;
        data.shop.myshopify_domain = shop_domain.clone();
        let pricing = std::mem::take(&mut data.pricing);
        let bucket = Arc::new(Mutex::new(Bucket::new(bucket_size, restore_rate)));
        let faults = Arc::new(Faults::new(bucket.clone()));
        let counters = Arc::new(Counters::default());
        let webhooks = Arc::new(WebhookHub::new(
            webhooks,
            secret,
            shop_domain,
            faults.clone(),
        ));
        let base_url = Arc::new(RwLock::new(String::new()));
        let bulk = BulkRegistry::new(
            BulkSettings {
                delay: bulk_completion_delay,
                max_concurrent: max_concurrent_bulk_operations.max(1),
                seed: bulk_shuffle_seed,
            },
            base_url.clone(),
            faults.clone(),
            counters.clone(),
        );
        ShopifyEmulator {
            inner: Arc::new(Inner {
                catalog: RwLock::new(Catalog::new(data)),
                commerce: RwLock::new(Commerce {
                    pricing,
                    orders: OrderBook::default(),
                    hooks: SubscriptionBook::default(),
                }),
                bucket,
                faults,
                counters,
                tokens: Tokens::new(&static_tokens, client_credentials, token_lifetime, scope),
                bulk,
                base_url,
                versions: supported_versions,
                max_query_cost,
                doc_cache: Mutex::new(HashMap::new()),
                webhooks,
            }),
        }
    }

    /// The HTTP routes (relative; mount them anywhere).
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Sets the public base URL of the mounted routes (e.g.
    /// `http://127.0.0.1:4321/_emulator/shopify`), used in bulk result URLs.
    pub fn set_base_url(&self, url: impl Into<String>) {
        let url: String = url.into();
        *write(&self.inner.base_url) = url.trim_end_matches('/').to_owned();
    }

    /// The base URL set with [`Self::set_base_url`], if any.
    pub fn base_url(&self) -> Option<String> {
        let url = read(&self.inner.base_url).clone();
        (!url.is_empty()).then_some(url)
    }

    /// The GraphQL endpoint URL for an API version (needs the base URL).
    pub fn graphql_url(&self, version: &str) -> String {
        format!(
            "{}/admin/api/{version}/graphql.json",
            self.base_url().unwrap_or_default()
        )
    }

    /// The shop's `*.myshopify.com` domain.
    pub fn shop_domain(&self) -> String {
        read(&self.inner.catalog).shop.myshopify_domain.clone()
    }

    /// Fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The request counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// The cost bucket now.
    pub fn throttle_status(&self) -> ThrottleStatus {
        lock(&self.inner.bucket).status()
    }

    /// GID of the Online Store publication.
    pub fn online_store_publication_id(&self) -> String {
        read(&self.inner.catalog)
            .publications
            .first()
            .map(Publication::gid)
            .unwrap_or_default()
    }

    /// GIDs of all publications, Online Store first.
    pub fn publication_ids(&self) -> Vec<String> {
        read(&self.inner.catalog)
            .publications
            .iter()
            .map(Publication::gid)
            .collect()
    }

    /// The publication whose catalog is titled `name` ("Point of Sale").
    pub fn publication_id(&self, name: &str) -> Option<String> {
        read(&self.inner.catalog)
            .publications
            .iter()
            .find(|p| p.name == name)
            .map(Publication::gid)
    }

    /// The products currently in the shop, by id.
    pub fn products(&self) -> Vec<Product> {
        read(&self.inner.catalog)
            .iter()
            .map(|p| (**p).clone())
            .collect()
    }

    /// How many products the shop has.
    pub fn product_count(&self) -> usize {
        read(&self.inner.catalog).len()
    }

    /// One product by GID (or numeric id).
    pub fn product(&self, gid: &str) -> Option<Product> {
        let id = parse_gid(gid, "Product")?;
        read(&self.inner.catalog).get(id).map(|p| (**p).clone())
    }

    /// Edits a product and bumps its `updatedAt`; returns the new
    /// `updatedAt` as the API prints it.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownProduct`] when there is no such product.
    pub fn update_product(
        &self,
        gid: &str,
        edit: impl FnOnce(&mut Product),
    ) -> Result<String, EmulatorError> {
        let unknown = || EmulatorError::UnknownProduct(gid.to_owned());
        let id = parse_gid(gid, "Product").ok_or_else(unknown)?;
        let (stamp, emitted) = {
            let mut catalog = write(&self.inner.catalog);
            let before = catalog.get(id).cloned();
            let stamp = catalog.update(id, edit).ok_or_else(unknown)?;
            let emitted = payloads::product_events(
                before.as_deref(),
                catalog.get(id).map(|p| &**p),
                catalog.online_store_id(),
            );
            (stamp, emitted)
        };
        self.announce(emitted);
        Ok(data::format_datetime(stamp))
    }

    /// Sets a variant's inventory quantity (bumps the product's `updatedAt`).
    ///
    /// # Errors
    /// [`EmulatorError::UnknownVariant`] when there is no such variant.
    pub fn set_inventory(&self, variant_gid: &str, quantity: i32) -> Result<(), EmulatorError> {
        let unknown = || EmulatorError::UnknownVariant(variant_gid.to_owned());
        let vid = parse_gid(variant_gid, "ProductVariant").ok_or_else(unknown)?;
        let pid = read(&self.inner.catalog)
            .variant_owner(vid)
            .ok_or_else(unknown)?;
        self.update_product(&format!("gid://shopify/Product/{pid}"), |p| {
            for v in p.variants.iter_mut().filter(|v| v.id == vid) {
                v.inventory_quantity = quantity;
            }
        })
        .map(drop)
    }

    /// Sets a product's status.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownProduct`] when there is no such product.
    pub fn set_status(&self, gid: &str, status: ProductStatus) -> Result<(), EmulatorError> {
        self.update_product(gid, |p| p.status = status).map(drop)
    }

    fn publication(&self, publication_gid: &str) -> Result<u64, EmulatorError> {
        let unknown = || EmulatorError::UnknownPublication(publication_gid.to_owned());
        let id = parse_gid(publication_gid, "Publication").ok_or_else(unknown)?;
        let known = read(&self.inner.catalog)
            .publications
            .iter()
            .any(|p| p.id == id);
        if known { Ok(id) } else { Err(unknown()) }
    }

    /// Publishes a product on a publication.
    ///
    /// # Errors
    /// Unknown product or publication.
    pub fn publish(&self, product_gid: &str, publication_gid: &str) -> Result<(), EmulatorError> {
        let publication = self.publication(publication_gid)?;
        self.update_product(product_gid, |p| {
            p.publications.insert(publication);
        })
        .map(drop)
    }

    /// Removes a product from a publication.
    ///
    /// # Errors
    /// Unknown product or publication.
    pub fn unpublish(&self, product_gid: &str, publication_gid: &str) -> Result<(), EmulatorError> {
        let publication = self.publication(publication_gid)?;
        self.update_product(product_gid, |p| {
            p.publications.remove(&publication);
        })
        .map(drop)
    }

    /// Adds a product; the emulator assigns fresh ids to it, its variants and
    /// its media (variant media references are remapped). Returns its GID.
    pub fn add_product(&self, product: Product) -> String {
        let (id, emitted) = {
            let mut catalog = write(&self.inner.catalog);
            let id = catalog.insert(product);
            let emitted = payloads::product_events(
                None,
                catalog.get(id).map(|p| &**p),
                catalog.online_store_id(),
            );
            (id, emitted)
        };
        self.announce(emitted);
        format!("gid://shopify/Product/{id}")
    }

    /// Deletes a product.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownProduct`] when there is no such product.
    pub fn delete_product(&self, gid: &str) -> Result<(), EmulatorError> {
        let unknown = || EmulatorError::UnknownProduct(gid.to_owned());
        let id = parse_gid(gid, "Product").ok_or_else(unknown)?;
        let removed = write(&self.inner.catalog).remove(id).ok_or_else(unknown)?;
        self.announce(payloads::product_events(Some(&removed), None, None));
        Ok(())
    }

    /// Queues the webhook deliveries of `emitted` for the current
    /// subscriptions.
    fn announce(&self, emitted: Vec<Emitted>) {
        if emitted.is_empty() {
            return;
        }
        let commerce = read(&self.inner.commerce);
        self.inner.webhooks.publish(commerce.hooks.all(), emitted);
    }

    /// The orders created so far, oldest first.
    pub fn orders(&self) -> Vec<Order> {
        read(&self.inner.commerce).orders.all().to_vec()
    }

    /// One order by GID (or numeric id).
    pub fn order(&self, gid: &str) -> Option<Order> {
        let id = parse_gid(gid, "Order")?;
        read(&self.inner.commerce).orders.get(id).cloned()
    }

    /// A variant's current `inventoryQuantity`.
    pub fn inventory(&self, variant_gid: &str) -> Option<i32> {
        let vid = parse_gid(variant_gid, "ProductVariant")?;
        let catalog = read(&self.inner.catalog);
        let product = catalog.get(catalog.variant_owner(vid)?)?;
        product
            .variants
            .iter()
            .find(|v| v.id == vid)
            .map(|v| v.inventory_quantity)
    }

    /// Sets a variant's price (bumps the product's `updatedAt`).
    ///
    /// # Errors
    /// [`EmulatorError::UnknownVariant`] when there is no such variant.
    pub fn set_price(&self, variant_gid: &str, price: Price) -> Result<(), EmulatorError> {
        let unknown = || EmulatorError::UnknownVariant(variant_gid.to_owned());
        let vid = parse_gid(variant_gid, "ProductVariant").ok_or_else(unknown)?;
        let pid = read(&self.inner.catalog)
            .variant_owner(vid)
            .ok_or_else(unknown)?;
        self.update_product(&format!("gid://shopify/Product/{pid}"), |p| {
            for v in p.variants.iter_mut().filter(|v| v.id == vid) {
                v.price = price;
            }
        })
        .map(drop)
    }

    /// The shop's pricing rules now.
    pub fn pricing(&self) -> PricingRules {
        read(&self.inner.commerce).pricing.clone()
    }

    /// Replaces the shop's pricing rules (taxes, shipping, discounts).
    pub fn set_pricing(&self, rules: PricingRules) {
        write(&self.inner.commerce).pricing = rules;
    }

    /// A bulk operation's current state.
    pub fn bulk_operation(&self, gid: &str) -> Option<BulkView> {
        use resolve::BulkHost;
        self.inner.bulk.find(parse_gid(gid, "BulkOperation")?)
    }

    /// Waits until a bulk operation has finished (`COMPLETED` or `FAILED`).
    pub async fn wait_for_bulk_operation(&self, gid: &str) -> Option<BulkView> {
        self.inner.bulk.wait(parse_gid(gid, "BulkOperation")?).await
    }
}

/// Serves the emulator on `listener` until `shutdown` completes (for running
/// it as a separate process in benchmarks). Sets the base URL to
/// `http://{local address}` unless one was set.
///
/// # Errors
/// [`EmulatorError::Serve`] when the server fails.
pub async fn serve(
    listener: TcpListener,
    emulator: ShopifyEmulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    if emulator.base_url().is_none()
        && let Ok(addr) = listener.local_addr()
    {
        emulator.set_base_url(format!("http://{addr}"));
    }
    tracing::info!(shop.domain = %emulator.shop_domain(), "shopify emulator serving");
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(EmulatorError::Serve)
}
