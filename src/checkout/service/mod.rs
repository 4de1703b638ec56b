//! The checkout session service of one shop: creates, reprices, completes
//! and cancels sessions.
//!
//! - Pricing is Shopify's: every change reprices the cart with
//!   `draftOrderCalculate` (tax, shipping rates, automatic discounts), and
//!   the quote is stored with the session so complete charges exactly what
//!   the buyer was shown.
//! - Items are the feed's `item_id`s; only items of the published feed are
//!   sold (the feed already left out drafts, unpublished and invalid rows).
//! - Completing (see `complete.rs`) authorizes the agent's Stripe shared
//!   payment token, creates the Shopify order exactly once, then captures;
//!   every step is recorded before the next so a crash or an upstream
//!   outage resumes instead of charging or ordering twice.
//! - Requests on one session are serialized; the session and the stored
//!   response of its idempotency key commit in one store batch.

mod complete;
mod pricing;
mod reconcile;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

pub use reconcile::{CheckoutReconcile, Unresolved};

use super::error::AcpError;
use super::model::{
    CancelSession, CompleteSession, CreateSession, ErrorCode, FulfillmentSelection, Link, Message,
    MessageTarget, RequestedLine, Session, SessionStatus, Totals, UpdateSession,
};
use super::version::ApiVersion;
use super::wire::{self, SellerContext};
use crate::config::CheckoutSettings;
use crate::domain::{Currency, Quote, ShopFacts, ShopId};
use crate::orders::{OrderEvent, OrderState, OutboxWaker};
use crate::payment::stripe::StripeClient;
use crate::source::shopify::ShopifyClient;
use crate::store::{IdempotencyScope, OrderCommit, Store, StoreError, StoredResponse};

/// What is stored per session: the ACP view plus what only we need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutRecord {
    pub session: Session,
    /// The last quote Shopify gave for this cart; complete charges its total.
    pub quote: Option<Quote>,
    /// Progress of complete; `None` until it first runs.
    #[serde(default)]
    pub completion: Option<Completion>,
    /// The authenticated agent that created the session (its orders'
    /// webhooks go to that agent).
    #[serde(default)]
    pub agent: Option<String>,
}

/// Recovery points of the complete saga (see `complete.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// Payment attempts so far; the Stripe idempotency key of an attempt is
    /// derived from the session id and this number.
    pub attempt: u32,
    /// The PaymentIntent of the current attempt, once Stripe answered.
    pub payment_intent: Option<String>,
    /// Set before `orderCreate` is sent: from then on, look for the order
    /// before creating one.
    pub order_requested: bool,
    /// When `orderCreate` was last sent; a new one is sent only after
    /// [`complete::ORDER_RECREATE_AFTER`] without the order showing up.
    #[serde(default)]
    pub order_requested_at: Option<DateTime<Utc>>,
    pub order: Option<CreatedOrderRef>,
    pub captured: bool,
    /// The billing address of the payment credential, for the order.
    #[serde(default)]
    pub billing_address: Option<crate::domain::PostalAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedOrderRef {
    pub id: String,
    pub legacy_id: u64,
    pub name: String,
}

/// Where a request's response is stored for replay, written together with
/// the session it produced.
pub struct IdempotencyCommit<'a> {
    pub scope: &'a IdempotencyScope,
    pub fingerprint: &'a str,
}

/// A session as the route should answer it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// 201 for create, 200 otherwise.
    pub status: u16,
    /// The session rendered for the request's version, as JSON text.
    pub body: Bytes,
}

/// Why a request could not produce a session.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0:?}")]
    Acp(AcpError),
    #[error("checkout store failure")]
    Store(#[from] StoreError),
}

impl From<AcpError> for ServiceError {
    fn from(e: AcpError) -> Self {
        ServiceError::Acp(e)
    }
}

/// Everything the service needs, built by `app`.
pub struct CheckoutDeps {
    pub shop: ShopId,
    pub store: Store,
    pub shopify: ShopifyClient,
    pub stripe: StripeClient,
    pub settings: CheckoutSettings,
    /// Feeds must mark rows checkout-eligible for checkout to sell them.
    pub feed_checkout_eligible: bool,
    /// Policy links configured for the shop (override Shopify's).
    pub policy_overrides: crate::domain::ShopPolicies,
    /// Wakes the shop's order-webhook worker after an order event was
    /// enqueued.
    pub order_events: OutboxWaker,
}

/// The checkout of one shop. Cheap to share behind an `Arc`.
pub struct CheckoutService {
    deps: CheckoutDeps,
    /// One async lock per session id that has a request running.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Item ids of the published feed, by feed generation.
    items: Mutex<Option<(u64, Arc<HashSet<String>>)>>,
    /// The seller context and the stored shop facts it was built from.
    seller: Mutex<Option<(Vec<u8>, Arc<SellerContext>)>>,
    /// Rendered sessions for GET (see [`RenderCache`]).
    rendered: Mutex<RenderCache>,
}

/// Sessions as last rendered, so a GET of an unchanged session is answered
/// without decoding and rendering it again.
///
/// Every write of a session goes through [`CheckoutService::save`] or
/// [`CheckoutService::answer`], which replace the session's entry after the
/// store commit and advance `epoch`. A GET that missed renders from the
/// store without the session lock and fills the entry only if no write
/// happened meanwhile (same `epoch`), so a stale rendering is never cached.
#[derive(Default)]
struct RenderCache {
    epoch: u64,
    sessions: HashMap<String, Rendered>,
}

/// Sessions kept rendered at most; beyond it an arbitrary one is dropped
/// (a miss costs one decode and render, ~100 µs).
const RENDER_CACHE_SESSIONS: usize = 4096;

struct Rendered {
    /// The seller context the bodies were rendered with.
    seller: Arc<SellerContext>,
    /// When an open session falls due; a GET then expires it instead.
    expires_at: Option<DateTime<Utc>>,
    /// Body per API version (index: [`ApiVersion::index`]).
    bodies: [Option<Bytes>; ApiVersion::SUPPORTED.len()],
}

impl RenderCache {
    fn insert(&mut self, id: &str, version: ApiVersion, mut entry: Rendered) {
        if self.sessions.len() >= RENDER_CACHE_SESSIONS
            && !self.sessions.contains_key(id)
            && let Some(victim) = self.sessions.keys().next().cloned()
        {
            self.sessions.remove(&victim);
        }
        match self.sessions.get_mut(id) {
            // Same session state and seller: add this version's body.
            Some(existing) if Arc::ptr_eq(&existing.seller, &entry.seller) => {
                let i = version.index();
                existing.bodies[i] = entry.bodies[i].take();
            }
            _ => {
                self.sessions.insert(id.to_owned(), entry);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CheckoutService {
    pub fn new(deps: CheckoutDeps) -> Self {
        CheckoutService {
            deps,
            locks: Mutex::new(HashMap::new()),
            items: Mutex::new(None),
            seller: Mutex::new(None),
            rendered: Mutex::new(RenderCache::default()),
        }
    }

    pub fn shop(&self) -> &ShopId {
        &self.deps.shop
    }

    /// The shop's Shopify client.
    pub fn shopify(&self) -> &ShopifyClient {
        &self.deps.shopify
    }

    pub fn settings(&self) -> &CheckoutSettings {
        &self.deps.settings
    }

    pub fn store(&self) -> &Store {
        &self.deps.store
    }

    /// Wakes this shop's order-webhook worker.
    pub fn order_events(&self) -> &OutboxWaker {
        &self.deps.order_events
    }

    /// The shop's facts as last synced (currency, name, policies).
    ///
    /// # Errors
    /// 503 until the first sync has read the shop.
    pub fn facts(&self) -> Result<ShopFacts, ServiceError> {
        self.deps
            .store
            .shop_facts(&self.deps.shop)?
            .ok_or_else(|| AcpError::upstream_unavailable(Some(30)).into())
    }

    /// What sessions advertise: the Stripe handler and the policy links.
    /// Rebuilt only when the stored shop facts change.
    ///
    /// # Errors
    /// As [`Self::facts`].
    pub fn seller(&self) -> Result<Arc<SellerContext>, ServiceError> {
        let store = &self.deps.store;
        let raw = store
            .shop_facts_raw(&self.deps.shop)?
            .ok_or_else(|| AcpError::upstream_unavailable(Some(30)))?;
        if let Some((known, seller)) = lock(&self.seller).as_ref()
            && *known == raw
        {
            return Ok(seller.clone());
        }
        let facts = store.decode_shop_facts(&self.deps.shop, &raw)?;
        let seller = Arc::new(self.seller_from(&facts));
        *lock(&self.seller) = Some((raw, seller.clone()));
        Ok(seller)
    }

    fn seller_from(&self, facts: &ShopFacts) -> SellerContext {
        let mut policies = facts.policies.clone();
        let o = &self.deps.policy_overrides;
        for (slot, over) in [
            (&mut policies.refund, &o.refund),
            (&mut policies.privacy, &o.privacy),
            (&mut policies.terms, &o.terms),
            (&mut policies.shipping, &o.shipping),
        ] {
            if over.is_some() {
                slot.clone_from(over);
            }
        }
        SellerContext::stripe(
            self.deps.settings.stripe.merchant_id.clone(),
            Link::from_policies(&policies),
        )
    }

    fn session_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = lock(&self.locks);
        // Forget locks nobody holds, so the map stays small.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id.to_owned()).or_default().clone()
    }

    /// The published feed's item ids (cached per generation).
    fn feed_items(&self) -> Result<Arc<HashSet<String>>, StoreError> {
        let generation = self
            .deps
            .store
            .feed_meta(&self.deps.shop)?
            .map_or(0, |m| m.generation);
        if let Some((g, items)) = lock(&self.items).as_ref()
            && *g == generation
        {
            return Ok(items.clone());
        }
        let items: HashSet<String> = self
            .deps
            .store
            .row_hashes(&self.deps.shop)?
            .into_keys()
            .collect();
        let items = Arc::new(items);
        *lock(&self.items) = Some((generation, items.clone()));
        Ok(items)
    }

    fn load(&self, id: &str) -> Result<CheckoutRecord, ServiceError> {
        self.deps
            .store
            .checkout_record(&self.deps.shop, id)?
            .ok_or_else(|| AcpError::session_not_found().into())
    }

    /// Renders `record` for `version`, commits it (with the response of
    /// the request's idempotency key, when there is one) and answers it.
    fn answer(
        &self,
        version: ApiVersion,
        status: u16,
        record: &CheckoutRecord,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        self.answer_with_order(version, status, record, idempotency, None)
    }

    /// [`Self::answer`] for the request that completed the session: the
    /// order's state and its `order_create` event (when the creating agent
    /// receives order webhooks) commit in the same store transaction as
    /// the session. The store writes them only if the order is not stored
    /// yet, so no replay announces an order twice.
    fn answer_completed(
        &self,
        version: ApiVersion,
        record: &CheckoutRecord,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        let order = match OrderState::from_completed(record) {
            Ok(order) => order,
            Err(e) => {
                // Cannot happen for a completed session; answer it anyway
                // (the order exists in the shop).
                tracing::error!(
                    checkout.session = %record.session.id,
                    error = %e,
                    "a completed session has no order to record"
                );
                return self.answer(version, 200, record, idempotency);
            }
        };
        let event = crate::orders::wants_events(self.settings(), record.agent.as_deref())
            .then(|| OrderEvent::create(&order));
        self.answer_with_order(
            version,
            200,
            record,
            idempotency,
            Some((&order, event.as_ref())),
        )
    }

    /// Commits a completed session with its order state and event outside
    /// a request (reconciliation); whether the event was enqueued.
    fn commit_with_order(
        &self,
        record: &CheckoutRecord,
        order: &OrderState,
        event: Option<&OrderEvent>,
    ) -> Result<bool, StoreError> {
        let enqueued = self.deps.store.commit_checkout_with_order(
            &self.deps.shop,
            &record.session.id,
            record,
            None,
            OrderCommit {
                order_id: &order.id,
                order,
                event,
            },
            Utc::now(),
        )?;
        self.saved(record, None);
        if enqueued.is_some() {
            self.deps.order_events.wake();
        }
        Ok(enqueued.is_some())
    }

    fn answer_with_order(
        &self,
        version: ApiVersion,
        status: u16,
        record: &CheckoutRecord,
        idempotency: Option<IdempotencyCommit<'_>>,
        order: Option<(&OrderState, Option<&OrderEvent>)>,
    ) -> Result<Answer, ServiceError> {
        let seller = self.seller()?;
        let body = render(version, &record.session, &seller);
        let stored = idempotency.map(|c| {
            (
                c.scope,
                c.fingerprint,
                StoredResponse {
                    status,
                    body: body.to_vec(),
                },
            )
        });
        let store = &self.deps.store;
        match order {
            None => store.commit_checkout(&self.deps.shop, &record.session.id, record, stored)?,
            Some((order, event)) => {
                let enqueued = store.commit_checkout_with_order(
                    &self.deps.shop,
                    &record.session.id,
                    record,
                    stored,
                    OrderCommit {
                        order_id: &order.id,
                        order,
                        event,
                    },
                    Utc::now(),
                )?;
                if let Some(event_id) = enqueued {
                    tracing::info!(
                        checkout.session = %record.session.id,
                        order.id = %order.id,
                        event.id = event_id,
                        "order_create enqueued"
                    );
                    self.deps.order_events.wake();
                }
            }
        }
        self.saved(record, Some((version, seller, body.clone())));
        Ok(Answer { status, body })
    }

    /// Stores a session that changed without a response to answer (the
    /// recovery points of complete).
    ///
    /// # Errors
    /// Store failures.
    fn save(&self, record: &CheckoutRecord) -> Result<(), StoreError> {
        self.deps
            .store
            .put_checkout_record(&self.deps.shop, &record.session.id, record)?;
        self.saved(record, None);
        Ok(())
    }

    /// After a session was committed: replaces its rendered entry (with
    /// the body just rendered, if any) and advances the cache epoch so no
    /// GET that read the older state caches it.
    fn saved(
        &self,
        record: &CheckoutRecord,
        body: Option<(ApiVersion, Arc<SellerContext>, Bytes)>,
    ) {
        let mut cache = lock(&self.rendered);
        cache.epoch = cache.epoch.wrapping_add(1);
        let id = &record.session.id;
        cache.sessions.remove(id);
        if let Some((version, seller, body)) = body {
            let mut bodies: [Option<Bytes>; ApiVersion::SUPPORTED.len()] = Default::default();
            bodies[version.index()] = Some(body);
            let entry = Rendered {
                seller,
                expires_at: open_expiry(&record.session),
                bodies,
            };
            cache.insert(id, version, entry);
        }
    }

    /// Loads a session an update or cancel may change: 404 when unknown,
    /// 405 when finished (or expiring now) or being completed. Call with the
    /// session's lock held.
    fn load_modifiable(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<CheckoutRecord, ServiceError> {
        let mut record = self.load(id)?;
        Self::expire_if_due(&mut record, now);
        let status = record.session.status;
        if status.is_terminal() || status == SessionStatus::CompleteInProgress {
            return Err(AcpError::session_not_modifiable(status).into());
        }
        Ok(record)
    }

    /// Marks a session past its expiry as expired (not for completed ones).
    fn expire_if_due(record: &mut CheckoutRecord, now: DateTime<Utc>) -> bool {
        let s = &mut record.session;
        if open_expiry(s).is_some_and(|at| at <= now) {
            s.status = SessionStatus::Expired;
            s.updated_at = now;
            return true;
        }
        false
    }

    /// `POST /checkout_sessions` by `agent` (the authenticated caller; its
    /// orders' webhooks go to it).
    ///
    /// # Errors
    /// Protocol errors (bad currency, upstream down) and store failures.
    pub async fn create(
        &self,
        version: ApiVersion,
        request: CreateSession,
        agent: Option<&str>,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        let facts = self.facts()?;
        let currency = facts.currency;
        if let Some(asked) = request.currency
            && asked != currency
        {
            return Err(AcpError::invalid_field(
                "$.currency",
                format!("this shop sells in {currency}, not {asked}"),
            )
            .into());
        }
        let now = Utc::now();
        let id = format!("cs_{}", uuid::Uuid::new_v4().simple());
        let expires = chrono::Duration::from_std(self.deps.settings.session_ttl)
            .ok()
            .map(|d| now + d);
        let mut record = CheckoutRecord {
            session: Session {
                id: id.clone(),
                shop: self.deps.shop.clone(),
                created_with: version,
                status: SessionStatus::NotReadyForPayment,
                currency,
                lines: Vec::new(),
                buyer: request.buyer,
                fulfillment_contact: request.fulfillment_contact,
                address: request.address,
                fulfillment_options: Vec::new(),
                selected_fulfillment: selected_option(&request.fulfillment_selection),
                totals: Totals::zero(currency),
                messages: Vec::new(),
                links: Vec::new(),
                discounts: Default::default(),
                agent_capabilities: request.agent_capabilities,
                authentication: None,
                order: None,
                order_notes: request.order_notes,
                locale: request.locale,
                metadata: request.metadata,
                created_at: now,
                updated_at: now,
                expires_at: expires,
                continue_url: None,
            },
            quote: None,
            completion: None,
            agent: agent.map(str::to_owned),
        };
        if !request.discount_codes.is_empty() {
            record.session.discounts.codes = request.discount_codes;
        }
        self.reprice(&mut record, &request.lines, currency).await?;
        record.session.continue_url = cart_permalink(&facts.url, &record.session.lines);
        tracing::info!(
            checkout.session = %id,
            checkout.status = ?record.session.status,
            checkout.lines = record.session.lines.len(),
            "checkout session created"
        );
        self.answer(version, 201, &record, idempotency)
    }

    /// `GET /checkout_sessions/{id}`.
    ///
    /// # Errors
    /// 404 for an unknown session; store failures.
    ///
    /// Reads without the session lock (records commit atomically), so a GET
    /// is not held up by a complete in progress on the same session; only
    /// expiring a session that fell due takes the lock.
    pub async fn get(&self, version: ApiVersion, id: &str) -> Result<Answer, ServiceError> {
        let seller = self.seller()?;
        let now = Utc::now();
        let epoch = {
            let cache = lock(&self.rendered);
            if let Some(entry) = cache.sessions.get(id)
                && Arc::ptr_eq(&entry.seller, &seller)
                && entry.expires_at.is_none_or(|at| at > now)
                && let Some(body) = &entry.bodies[version.index()]
            {
                return Ok(Answer {
                    status: 200,
                    body: body.clone(),
                });
            }
            cache.epoch
        };
        let record = self.load(id)?;
        if open_expiry(&record.session).is_some_and(|at| at <= now) {
            let guard = self.session_lock(id);
            let _held = guard.lock().await;
            let mut record = self.load(id)?;
            if Self::expire_if_due(&mut record, Utc::now()) {
                return self.answer(version, 200, &record, None);
            }
            return Ok(Answer {
                status: 200,
                body: render(version, &record.session, &seller),
            });
        }
        let body = render(version, &record.session, &seller);
        let mut cache = lock(&self.rendered);
        if cache.epoch == epoch {
            let mut bodies: [Option<Bytes>; ApiVersion::SUPPORTED.len()] = Default::default();
            bodies[version.index()] = Some(body.clone());
            let entry = Rendered {
                seller,
                expires_at: open_expiry(&record.session),
                bodies,
            };
            cache.insert(id, version, entry);
        }
        Ok(Answer { status: 200, body })
    }

    /// `POST /checkout_sessions/{id}`.
    ///
    /// # Errors
    /// 404, 405 for finished sessions, upstream and store failures.
    pub async fn update(
        &self,
        version: ApiVersion,
        id: &str,
        request: UpdateSession,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        let guard = self.session_lock(id);
        let _held = guard.lock().await;
        let now = Utc::now();
        let mut record = self.load_modifiable(id, now)?;
        let s = &mut record.session;
        request.buyer.apply_to(&mut s.buyer);
        request
            .fulfillment_contact
            .apply_to(&mut s.fulfillment_contact);
        let address_changed = !request.address.is_keep();
        request.address.apply_to(&mut s.address);
        match request.fulfillment_selection {
            super::model::Patch::Keep => {
                // A new address gets the cheapest option of its own rates.
                if address_changed {
                    s.selected_fulfillment = None;
                }
            }
            super::model::Patch::Clear => s.selected_fulfillment = None,
            super::model::Patch::Set(selection) => {
                s.selected_fulfillment = selected_option(&selection);
            }
        }
        let mut codes = Some(std::mem::take(&mut s.discounts.codes));
        request.discount_codes.apply_to(&mut codes);
        s.discounts.codes = codes.unwrap_or_default();
        request.order_notes.apply_to(&mut s.order_notes);
        s.updated_at = now;
        let lines: Vec<RequestedLine> = match request.lines {
            Some(lines) => lines,
            None => s
                .lines
                .iter()
                .filter_map(|l| {
                    std::num::NonZeroU32::new(l.quantity).map(|q| RequestedLine {
                        item_id: l.item_id.clone(),
                        quantity: super::model::RequestedQuantity::Units(q),
                    })
                })
                .collect(),
        };
        let currency = record.session.currency;
        self.reprice(&mut record, &lines, currency).await?;
        if let Ok(facts) = self.facts() {
            record.session.continue_url = cart_permalink(&facts.url, &record.session.lines);
        }
        self.answer(version, 200, &record, idempotency)
    }

    /// `POST /checkout_sessions/{id}/cancel`.
    ///
    /// # Errors
    /// 404, 405 for completed or canceled sessions, store failures.
    pub async fn cancel(
        &self,
        version: ApiVersion,
        id: &str,
        request: CancelSession,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        let guard = self.session_lock(id);
        let _held = guard.lock().await;
        let now = Utc::now();
        let mut record = self.load_modifiable(id, now)?;
        record.session.status = SessionStatus::Canceled;
        record.session.updated_at = now;
        if let Some(trace) = &request.intent_trace {
            tracing::info!(checkout.session = %id, cancel.reason = ?trace.reason, "checkout canceled");
        }
        self.answer(version, 200, &record, idempotency)
    }

    /// `POST /checkout_sessions/{id}/complete`.
    ///
    /// # Errors
    /// 404, 405, 503 while an upstream outcome is unknown (the retry
    /// resumes), store failures. Declines are 200 sessions with messages.
    pub async fn complete(
        &self,
        version: ApiVersion,
        id: &str,
        request: CompleteSession,
        idempotency: Option<IdempotencyCommit<'_>>,
    ) -> Result<Answer, ServiceError> {
        let guard = self.session_lock(id);
        let _held = guard.lock().await;
        let mut record = self.load(id)?;
        let before = record.session.status;
        complete::run(self, &mut record, request).await?;
        if before != SessionStatus::Completed && record.session.status == SessionStatus::Completed {
            return self.answer_completed(version, &record, idempotency);
        }
        self.answer(version, 200, &record, idempotency)
    }
}

/// `session` rendered for `version` as JSON text.
fn render(version: ApiVersion, session: &Session, seller: &SellerContext) -> Bytes {
    let value = wire::render_session(version, session, seller);
    // Serializing a `Value` into a Vec cannot fail.
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

/// When an open session falls due (finished and in-progress ones never
/// expire).
fn open_expiry(session: &Session) -> Option<DateTime<Utc>> {
    let open = !session.status.is_terminal() && session.status != SessionStatus::CompleteInProgress;
    session.expires_at.filter(|_| open)
}

/// The option id of the first selection (one shipping group per session).
fn selected_option(selection: &[FulfillmentSelection]) -> Option<String> {
    selection.first().map(|s| s.option_id.clone())
}

/// An error message on the session.
fn error_message(code: ErrorCode, target: MessageTarget, text: impl Into<String>) -> Message {
    Message::error(code, target, text)
}

/// The currency check shared by pricing and completion.
fn same_currency(a: Currency, b: Currency) -> bool {
    a == b
}

/// The storefront's cart permalink for `lines`
/// (`{storefront}/cart/{variant}:{quantity},…`), which fills the shop's own
/// cart with the same items.
pub fn cart_permalink(storefront: &Url, lines: &[super::model::SessionLine]) -> Option<Url> {
    if lines.is_empty() {
        return None;
    }
    let items: Vec<String> = lines
        .iter()
        .map(|l| format!("{}:{}", l.item_id, l.quantity))
        .collect();
    storefront.join(&format!("cart/{}", items.join(","))).ok()
}

/// Public base URL of a shop's checkout API.
pub fn api_base_url(public_url: &Url, shop: &ShopId) -> Option<Url> {
    public_url.join(&format!("acp/{shop}/")).ok()
}
