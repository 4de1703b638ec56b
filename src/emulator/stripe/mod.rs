//! A faithful emulator of the Stripe API parts the checkout uses: shared
//! payment granted tokens (test helpers, retrieval, revocation),
//! PaymentIntents paid with them (create+confirm, retrieve, capture, cancel,
//! search) and refunds. Used by tests and `acp-bridge demo` (mounted under
//! `/_emulator/stripe`).
//!
//! It enforces what Stripe enforces: secret keys (Bearer or Basic, 401 with
//! the key redacted), `Stripe-Version` (shared payments need
//! `2026-04-22.preview` or a later preview), form parameters with bracket
//! keys (`parameter_unknown`, `parameter_missing`,
//! `parameter_invalid_integer`, metadata limits), the token's usage limits
//! (currency, `max_amount`, expiry, revocation, single use), test-card
//! declines as HTTP 402 `card_error` embedding the PaymentIntent, the
//! PaymentIntent state machine, refund bounds, and Idempotency-Key
//! semantics (replay with `Idempotent-Replayed: true`, 400
//! `idempotency_error`, 409 `idempotency_key_in_use`, validation failures
//! not saved, keys scoped per account and mode). Faults are scripted through
//! [`StripeEmulator::faults`], including "applied but the answer was lost".
//!
//! It must not be used as a general Stripe mock: only the endpoints and
//! parameters listed in `routes` exist, and only card payments.
//!
//! Layout: `routes` (HTTP pipeline), `endpoint` (validate/execute split),
//! `tokens`, `intents`, `refunds`, `search` (the endpoints), `form`
//! (parameters), `error` (Stripe's error object), `auth`, `idempotency`,
//! `faults`, `counters`, `cards` (test PaymentMethods), `state` (objects and
//! clock), `config`.

mod auth;
mod cards;
mod config;
mod counters;
mod endpoint;
mod error;
mod faults;
mod form;
mod idempotency;
mod intents;
mod refunds;
mod routes;
mod search;
mod state;
mod tokens;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::{ApiKey, SHARED_PAYMENT_PREVIEW_FLOOR, SUPPORTED_VERSIONS, StripeEmulatorConfig};
pub use counters::CounterSnapshot;
pub use faults::{Faults, ResponseLoss};
pub use state::Deactivation;

use crate::domain::Money;
use auth::Keys;
use counters::Counters;
use idempotency::IdempotencyStore;
use state::{Clock, Ledger, Token, new_id};

/// Why an emulator operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("`{0}` is not a test PaymentMethod the emulator knows")]
    UnknownPaymentMethod(String),
    #[error("the emulator has no granted token {0}")]
    UnknownToken(String),
    #[error("the emulator configuration has no API key")]
    NoAccount,
    #[error("serving the emulator failed")]
    Serve(#[source] std::io::Error),
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared state behind the cheap-to-clone handle.
pub(crate) struct Inner {
    pub keys: Keys,
    pub default_account: Option<String>,
    pub account_version: String,
    pub versions: Vec<String>,
    pub search_index_delay: Duration,
    pub ledger: Mutex<Ledger>,
    pub idempotency: Arc<IdempotencyStore>,
    pub faults: Faults,
    pub counters: Counters,
    pub clock: Clock,
}

/// A PaymentIntent as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentView {
    pub id: String,
    pub account: String,
    pub livemode: bool,
    /// Stripe's status string (`requires_capture`, `succeeded`, …).
    pub status: String,
    pub capture_method: String,
    /// Minor units of `currency`.
    pub amount: i64,
    /// Lowercase ISO code as Stripe prints it.
    pub currency: String,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub amount_refunded: i64,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub latest_charge: Option<String>,
    /// The granted token it was paid with.
    pub token: Option<String>,
}

/// A granted token as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedTokenView {
    pub id: String,
    pub account: String,
    pub currency: String,
    pub max_amount: i64,
    pub expires_at: Option<i64>,
    /// Deactivation in force now (expiry included).
    pub deactivated: Option<Deactivation>,
    /// Successful confirmations (authorizations) paid with it.
    pub successful_charges: u32,
    /// Declined confirmation attempts.
    pub declines: u32,
    pub amount_captured: i64,
}

/// One emulated Stripe platform. Cloning is cheap and shares the state.
#[derive(Clone)]
pub struct StripeEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StripeEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeEmulator")
            .field("account_version", &self.inner.account_version)
            .finish_non_exhaustive()
    }
}

impl Default for StripeEmulator {
    fn default() -> Self {
        Self::new(StripeEmulatorConfig::default())
    }
}

impl StripeEmulator {
    /// Builds the emulator from `config`.
    pub fn new(config: StripeEmulatorConfig) -> Self {
        StripeEmulator {
            inner: Arc::new(Inner {
                keys: Keys::new(&config.api_keys),
                default_account: config.api_keys.first().map(|k| k.account.clone()),
                account_version: config.account_api_version,
                versions: config.supported_versions,
                search_index_delay: config.search_index_delay,
                ledger: Mutex::new(Ledger::default()),
                idempotency: Arc::new(IdempotencyStore::default()),
                faults: Faults::default(),
                counters: Counters::default(),
                clock: Clock::default(),
            }),
        }
    }

    /// The HTTP routes (relative; mount them anywhere, e.g. nest them under
    /// `/_emulator/stripe` and point the client's base URL there).
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// Fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The request counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// Unix seconds on the emulator clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Moves the emulator clock forward (token expiry, idempotency-key
    /// retention).
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
    }

    /// Every PaymentIntent of every account, oldest first.
    pub fn payment_intents(&self) -> Vec<PaymentIntentView> {
        let ledger = lock(&self.inner.ledger);
        let mut all: Vec<(i64, PaymentIntentView)> = ledger
            .all()
            .flat_map(|((account, livemode), objects)| {
                objects.intents.iter().map(move |i| {
                    (
                        i.created,
                        PaymentIntentView {
                            id: i.id.clone(),
                            account: account.clone(),
                            livemode: *livemode,
                            status: i.status.to_owned(),
                            capture_method: i.capture_method.to_owned(),
                            amount: i.amount,
                            currency: i.currency.clone(),
                            amount_capturable: i.amount_capturable,
                            amount_received: i.amount_received,
                            amount_refunded: i.amount_refunded,
                            metadata: i.metadata.clone(),
                            description: i.description.clone(),
                            latest_charge: i.latest_charge.clone(),
                            token: i.token.clone(),
                        },
                    )
                })
            })
            .collect();
        all.sort_by_key(|(created, _)| *created);
        all.into_iter().map(|(_, view)| view).collect()
    }

    /// One PaymentIntent by id.
    pub fn payment_intent(&self, id: &str) -> Option<PaymentIntentView> {
        self.payment_intents().into_iter().find(|p| p.id == id)
    }

    /// One granted token by id.
    pub fn granted_token(&self, id: &str) -> Option<GrantedTokenView> {
        let now = self.now();
        let ledger = lock(&self.inner.ledger);
        ledger.all().find_map(|((account, _), objects)| {
            objects.tokens.get(id).map(|t| GrantedTokenView {
                id: t.id.clone(),
                account: account.clone(),
                currency: t.currency.clone(),
                max_amount: t.max_amount,
                expires_at: t.expires_at,
                deactivated: t.deactivation_at(now).map(|(_, r)| r),
                successful_charges: t.authorizations,
                declines: t.declines,
                amount_captured: t.amount_captured,
            })
        })
    }

    /// Successful charges (authorizations) made with a granted token; 0 for
    /// an unknown token.
    pub fn charges_for_token(&self, id: &str) -> u32 {
        self.granted_token(id).map_or(0, |t| t.successful_charges)
    }

    /// Grants a token to the first configured account (test mode) without
    /// going through HTTP, as an agent would: `payment_method` is a test
    /// PaymentMethod such as `pm_card_visa` or
    /// `pm_card_chargeDeclinedInsufficientFunds`; `expires_at` is unix
    /// seconds. Returns the `spt_…` id.
    ///
    /// # Errors
    /// Unknown test PaymentMethod, or no API key configured.
    pub fn grant_token(
        &self,
        payment_method: &str,
        max_amount: Money,
        expires_at: Option<i64>,
    ) -> Result<String, EmulatorError> {
        let card = cards::find(payment_method)
            .ok_or_else(|| EmulatorError::UnknownPaymentMethod(payment_method.to_owned()))?;
        let account = self
            .inner
            .default_account
            .clone()
            .ok_or(EmulatorError::NoAccount)?;
        let token = Token {
            id: new_id("spt_"),
            created: self.now(),
            card,
            currency: max_amount.currency.as_str().to_ascii_lowercase(),
            max_amount: max_amount.amount,
            expires_at,
            deactivated: None,
            amount_captured: 0,
            shared_metadata: BTreeMap::new(),
            authorizations: 0,
            declines: 0,
        };
        let id = token.id.clone();
        lock(&self.inner.ledger)
            .account(&account, false)
            .tokens
            .insert(id.clone(), token);
        Ok(id)
    }

    /// Revokes a granted token, as the agent would.
    ///
    /// # Errors
    /// [`EmulatorError::UnknownToken`].
    pub fn revoke_token(&self, id: &str) -> Result<(), EmulatorError> {
        let now = self.now();
        let mut ledger = lock(&self.inner.ledger);
        let account = self
            .inner
            .default_account
            .clone()
            .ok_or(EmulatorError::NoAccount)?;
        let token = ledger
            .account(&account, false)
            .tokens
            .get_mut(id)
            .ok_or_else(|| EmulatorError::UnknownToken(id.to_owned()))?;
        token.deactivated = Some((now, Deactivation::Revoked));
        Ok(())
    }
}

/// Serves the emulator on `listener` until `shutdown` completes.
///
/// # Errors
/// [`EmulatorError::Serve`] when the server fails.
pub async fn serve(
    listener: TcpListener,
    emulator: StripeEmulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    tracing::info!("stripe emulator serving");
    axum::serve(listener, emulator.router())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(EmulatorError::Serve)
}
