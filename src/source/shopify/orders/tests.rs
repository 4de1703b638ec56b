//! Quotes and orders against the Shopify emulator: pricing round trips, cart
//! problems, inventory claims, and `orderCreate` never sent twice when its
//! outcome is unknown.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use tokio::net::TcpListener;
use url::Url;

use super::*;
use crate::domain::CountryCode;
use crate::emulator::shopify::{
    EmulatorConfig, IndexDelay, InventoryBehaviour, LostResponse, Price, Product, ShopifyEmulator,
};
use crate::source::shopify::{ClientTimings, ShopifyAuth, ShopifyClientSettings};

async fn start() -> (ShopifyEmulator, Url) {
    let emulator = ShopifyEmulator::new(EmulatorConfig {
        restore_rate: 100_000,
        ..EmulatorConfig::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    emulator.set_base_url(&base);
    let router = emulator.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (emulator, Url::parse(&base).unwrap())
}

fn settings(base: &Url) -> ShopifyClientSettings {
    let auth = ShopifyAuth::AccessToken(SecretString::from(EmulatorConfig::DEFAULT_TOKEN));
    let mut s = ShopifyClientSettings::new("northwind-outfitters.myshopify.com", auth);
    s.api_base_url = Some(base.clone());
    s.max_retries = 3;
    s.request_timeout = Duration::from_secs(10);
    s.timings = ClientTimings {
        backoff_base: Duration::from_millis(2),
        backoff_cap: Duration::from_millis(20),
        ..ClientTimings::default()
    };
    s
}

async fn setup() -> (ShopifyEmulator, ShopifyClient) {
    let (emulator, base) = start().await;
    let client = ShopifyClient::new(settings(&base)).unwrap();
    (emulator, client)
}

/// Adds a one-variant product; returns the variant's numeric id.
fn add_variant(emu: &ShopifyEmulator, title: &str, cents: i64, stock: i32) -> String {
    let mut product = Product::new(title);
    product.variants[0].price = Price(cents);
    product.variants[0].inventory_quantity = stock;
    let gid = emu.add_product(product);
    emu.product(&gid).unwrap().variants[0].id.to_string()
}

fn variant_gid(id: &str) -> String {
    format!("gid://shopify/ProductVariant/{id}")
}

fn address(country: &str, state: &str, zip: &str) -> PostalAddress {
    PostalAddress {
        name: "Ada King Lovelace".into(),
        company: None,
        line_one: "1 Main St".into(),
        line_two: None,
        city: "Springfield".into(),
        state: state.into(),
        country: CountryCode::parse(country).unwrap(),
        postal_code: zip.into(),
        phone_number: None,
    }
}

fn cart(lines: &[(&str, u32)]) -> Vec<CartLine> {
    lines
        .iter()
        .map(|(id, quantity)| CartLine {
            variant_id: (*id).to_owned(),
            quantity: *quantity,
        })
        .collect()
}

fn request(lines: Vec<CartLine>, address: Option<PostalAddress>) -> QuoteRequest {
    QuoteRequest {
        currency: Currency::USD,
        lines,
        address,
        email: Some("ada@example.com".into()),
        shipping_rate_handle: None,
    }
}

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::USD)
}

async fn quoted(client: &ShopifyClient, req: &QuoteRequest) -> Quote {
    match client.calculate_quote(req).await.unwrap() {
        QuoteOutcome::Quoted(q) => q,
        QuoteOutcome::Rejected(problems) => panic!("rejected: {problems:?}"),
    }
}

async fn rejected(client: &ShopifyClient, req: &QuoteRequest) -> Vec<QuoteProblemKind> {
    match client.calculate_quote(req).await.unwrap() {
        QuoteOutcome::Quoted(q) => panic!("quoted: {q:?}"),
        QuoteOutcome::Rejected(problems) => problems.into_iter().map(|p| p.kind).collect(),
    }
}

/// A quote with a selected rate (`title`) for `lines` shipped to `to`.
async fn quote_with_rate(
    client: &ShopifyClient,
    lines: Vec<CartLine>,
    to: PostalAddress,
    title: &str,
) -> Quote {
    let mut req = request(lines, Some(to));
    let offered = quoted(client, &req).await;
    let rate = offered
        .shipping_rates
        .iter()
        .find(|r| r.title == title)
        .unwrap();
    req.shipping_rate_handle = Some(rate.handle.clone());
    quoted(client, &req).await
}

fn order_request(checkout: &str, quote: Quote, to: PostalAddress) -> OrderRequest {
    OrderRequest {
        checkout_session_id: checkout.to_owned(),
        payment: PaymentRecord {
            amount: quote.total,
            gateway: "stripe".into(),
            reference: format!("pi_{checkout}"),
            kind: PaymentKind::Sale,
            status: PaymentStatus::Success,
        },
        quote,
        shipping_address: Some(to),
        billing_address: None,
        buyer: Buyer {
            email: Some("ada@example.com".into()),
            ..Buyer::default()
        },
        send_receipt: false,
        test: true,
    }
}

fn sum(amounts: impl Iterator<Item = Money>) -> i64 {
    amounts.map(|m| m.amount).sum()
}

#[tokio::test]
async fn a_quote_without_an_address_has_no_rates_and_no_tax() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let quote = quoted(&client, &request(cart(&[(&lantern, 2)]), None)).await;

    assert!(quote.shipping_rates.is_empty());
    assert_eq!(quote.selected_shipping, None);
    assert_eq!(quote.tax, usd(0));
    assert_eq!(quote.lines[0].variant_id, lantern);
    assert_eq!(quote.lines[0].unit_price, usd(1999));
    assert_eq!(quote.lines[0].base_amount, usd(3998));
    assert_eq!(quote.total, usd(3998));
}

#[tokio::test]
async fn a_us_address_brings_rates_and_state_tax_split_across_lines() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let candle = add_variant(&emu, "Candle", 1000, 10);
    let lines = cart(&[(&lantern, 1), (&candle, 1)]);

    let quote = quoted(&client, &request(lines, Some(address("US", "CA", "94103")))).await;

    let rates: Vec<(&str, Money)> = quote
        .shipping_rates
        .iter()
        .map(|r| (r.title.as_str(), r.price))
        .collect();
    assert_eq!(rates, [("Standard", usd(695)), ("Express", usd(1995))]);
    // CA 7.25 % of 19.99 = 1.449 → 1.45 and of 10.00 = 0.725 → 0.73.
    assert_eq!(quote.tax_lines.len(), 1);
    assert_eq!(quote.tax_lines[0].title, "CA State Tax");
    assert_eq!(quote.tax_lines[0].rate, "0.0725");
    assert_eq!(quote.tax, usd(218));
    assert_eq!(sum(quote.lines.iter().map(|l| l.tax)), 218);
    assert_eq!(quote.lines[0].tax_lines[0].amount, quote.lines[0].tax);
    assert_eq!(quote.total, usd(2999 + 218));
}

#[tokio::test]
async fn a_selected_rate_is_charged_and_its_tax_kept_apart_from_the_lines() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let quote = quote_with_rate(
        &client,
        cart(&[(&lantern, 3)]),
        address("US", "NY", "10001"),
        "Express",
    )
    .await;

    let selected = quote.selected_shipping.clone().unwrap();
    assert_eq!(selected.title, "Express");
    assert_eq!(quote.shipping, usd(1995));
    // NY taxes shipping: 4 % of 59.97 → 2.40 on the line, of 19.95 → 0.80.
    assert_eq!(quote.tax, usd(320));
    assert_eq!(quote.lines[0].tax, usd(240));
    assert_eq!(quote.total, usd(5997 + 1995 + 320));
}

#[tokio::test]
async fn address_problems_point_at_the_field() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let lines = cart(&[(&lantern, 1)]);

    let no_state = rejected(
        &client,
        &request(lines.clone(), Some(address("US", "", "10001"))),
    )
    .await;
    let bad_zip = rejected(
        &client,
        &request(lines.clone(), Some(address("US", "NY", "1"))),
    )
    .await;
    let before = emu.counters().requests;
    let unknown_country = rejected(&client, &request(lines, Some(address("XX", "", "1")))).await;

    assert_eq!(
        no_state,
        [QuoteProblemKind::Address(AddressField::Province)]
    );
    assert_eq!(
        bad_zip,
        [QuoteProblemKind::Address(AddressField::PostalCode)]
    );
    assert_eq!(
        unknown_country,
        [QuoteProblemKind::Address(AddressField::Country)]
    );
    assert_eq!(emu.counters().requests, before, "refused before sending");
}

#[tokio::test]
async fn unknown_variants_bad_quantities_and_stale_rates_are_problems() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);

    let problems = rejected(&client, &request(cart(&[("1", 1), (&lantern, 0)]), None)).await;
    let not_an_id = rejected(&client, &request(cart(&[("abc", 1)]), None)).await;
    let mut stale = request(cart(&[(&lantern, 1)]), Some(address("US", "CA", "94103")));
    stale.shipping_rate_handle = Some("shopify-Overnight-99.00".into());
    let stale = rejected(&client, &stale).await;

    assert_eq!(
        problems,
        [
            QuoteProblemKind::UnknownVariant {
                variant_id: "1".into()
            },
            QuoteProblemKind::InvalidQuantity {
                variant_id: lantern.clone()
            },
        ]
    );
    assert_eq!(
        not_an_id,
        [QuoteProblemKind::UnknownVariant {
            variant_id: "abc".into()
        }]
    );
    assert_eq!(
        stale,
        [QuoteProblemKind::ShippingRateUnavailable {
            handle: "shopify-Overnight-99.00".into()
        }]
    );
}

#[tokio::test]
async fn low_stock_is_a_quote_warning() {
    let (emu, client) = setup().await;
    let candle = add_variant(&emu, "Candle", 1000, 1);

    let quote = quoted(&client, &request(cart(&[(&candle, 2)]), None)).await;

    assert_eq!(quote.warnings.len(), 1);
    assert!(quote.warnings[0].contains("Candle"), "{:?}", quote.warnings);
}

#[tokio::test]
async fn an_order_matches_its_quote_to_the_cent_and_claims_stock() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 4999, 10);
    let candle = add_variant(&emu, "Candle", 3333, 10);
    let to = address("US", "NY", "10001");
    // $249.96 + $99.99 ≥ $200: the automatic 10 % discount applies.
    let quote = quote_with_rate(
        &client,
        cart(&[(&lantern, 4), (&candle, 3)]),
        to.clone(),
        "Express",
    )
    .await;
    assert!(quote.discount.amount > 0);

    let created = client
        .create_order(&order_request("cs_round", quote.clone(), to))
        .await
        .unwrap();

    assert_eq!(created.name, "#1001");
    assert_eq!(
        created.id,
        format!("gid://shopify/Order/{}", created.legacy_id)
    );
    let order = emu.order(&created.id).unwrap();
    assert_eq!(order.total.0, quote.total.amount);
    assert_eq!(order.total_tax.0, quote.tax.amount);
    assert_eq!(order.total_shipping.0, quote.shipping.amount);
    assert_eq!(order.total_discounts.0, quote.discount.amount);
    assert_eq!(order.subtotal.0, quote.subtotal.amount);
    assert_eq!(
        order.inventory_behaviour,
        InventoryBehaviour::DecrementObeyingPolicy
    );
    assert_eq!(order.tags, ["acp", "acp:cs_round"]);
    assert_eq!(order.source_identifier.as_deref(), Some("cs_round"));
    assert_eq!(order.financial_status, "PAID");
    let payment = &order.transactions[0];
    assert_eq!(
        (
            payment.kind.as_str(),
            payment.status.as_str(),
            payment.gateway.as_deref()
        ),
        ("SALE", "SUCCESS", Some("stripe"))
    );
    assert_eq!(payment.authorization_code.as_deref(), Some("pi_cs_round"));
    assert_eq!(payment.amount.0, quote.total.amount);
    let shipped_to = order.shipping_address.as_ref().unwrap();
    assert_eq!(shipped_to.province_code.as_deref(), Some("NY"));
    assert_eq!(shipped_to.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(emu.inventory(&variant_gid(&lantern)), Some(6));
    assert_eq!(emu.inventory(&variant_gid(&candle)), Some(7));
}

#[tokio::test]
async fn missing_stock_fails_the_inventory_claim_without_an_order() {
    let (emu, client) = setup().await;
    let candle = add_variant(&emu, "Candle", 1000, 5);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&candle, 3)]), to.clone(), "Standard").await;
    emu.set_inventory(&variant_gid(&candle), 1).unwrap();

    let err = client
        .create_order(&order_request("cs_short", quote, to))
        .await
        .unwrap_err();

    match err {
        ShopifyError::InventoryClaimFailed { errors } => {
            assert_eq!(errors[0].code.as_deref(), Some("INVENTORY_CLAIM_FAILED"));
        }
        other => panic!("{other:?}"),
    }
    assert!(emu.orders().is_empty());
    assert_eq!(emu.inventory(&variant_gid(&candle)), Some(1));
}

/// Creates the checkout's order with a fault armed; returns the error.
async fn create_with_lost_response(
    how: LostResponse,
) -> (ShopifyEmulator, ShopifyClient, ShopifyError) {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    emu.faults().lose_order_create_responses(1, how);
    emu.faults()
        .delay_order_indexing(Some(IndexDelay::Searches(2)));
    let err = client
        .create_order(&order_request("cs_lost", quote, to))
        .await
        .unwrap_err();
    (emu, client, err)
}

#[tokio::test]
async fn a_502_after_commit_is_an_unknown_outcome_and_the_order_is_found_once_indexed() {
    let (emu, client, err) = create_with_lost_response(LostResponse::BadGateway).await;

    assert!(
        matches!(&err, ShopifyError::OutcomeUnknown { source, .. }
            if matches!(**source, ShopifyError::Http { status: 502 })),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        emu.counters().by_operation["OrderCreate"],
        1,
        "never resent"
    );
    // The search index lags two searches behind.
    assert_eq!(
        client.find_order_by_checkout("cs_lost").await.unwrap(),
        None
    );
    assert_eq!(
        client.find_order_by_checkout("cs_lost").await.unwrap(),
        None
    );
    let found = client
        .find_order_by_checkout("cs_lost")
        .await
        .unwrap()
        .unwrap();
    let orders = emu.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(found.id, orders[0].gid());
    assert_eq!(found.name, "#1001");
    assert_eq!(
        client.find_order_by_checkout("cs_other").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_connection_dropped_after_commit_is_an_unknown_outcome() {
    let (emu, client, err) = create_with_lost_response(LostResponse::Disconnect).await;

    assert!(
        matches!(err, ShopifyError::OutcomeUnknown { .. }),
        "{err:?}"
    );
    assert_eq!(
        emu.counters().by_operation["OrderCreate"],
        1,
        "never resent"
    );
    assert_eq!(emu.orders().len(), 1);
    let mut found = None;
    for _ in 0..3 {
        found = client.find_order_by_checkout("cs_lost").await.unwrap();
    }
    assert_eq!(found.unwrap().id, emu.orders()[0].gid());
}

#[tokio::test]
async fn a_500_before_commit_is_still_unknown_and_lookup_finds_nothing() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    emu.faults().fail_next(1, StatusCode::INTERNAL_SERVER_ERROR);

    let err = client
        .create_order(&order_request("cs_5xx", quote.clone(), to.clone()))
        .await
        .unwrap_err();

    assert!(
        matches!(err, ShopifyError::OutcomeUnknown { .. }),
        "{err:?}"
    );
    assert_eq!(emu.counters().injected_failures, 1, "sent once");
    assert_eq!(client.find_order_by_checkout("cs_5xx").await.unwrap(), None);
    // Absent for sure: creating it now makes exactly one order.
    client
        .create_order(&order_request("cs_5xx", quote, to))
        .await
        .unwrap();
    assert_eq!(emu.orders().len(), 1);
}

#[tokio::test]
async fn a_503_is_retried_because_shopify_refused_the_request_unrun() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    emu.faults().fail_next(1, StatusCode::SERVICE_UNAVAILABLE);

    client
        .create_order(&order_request("cs_503", quote, to))
        .await
        .unwrap();

    assert_eq!(emu.counters().injected_failures, 1);
    assert_eq!(emu.orders().len(), 1);
}

#[tokio::test]
async fn throttled_order_creation_is_retried_because_shopify_did_not_run_it() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    emu.faults().throttle_next(1);

    client
        .create_order(&order_request("cs_throttled", quote, to))
        .await
        .unwrap();

    assert_eq!(emu.counters().throttled, 1);
    assert_eq!(emu.orders().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_an_unknown_outcome() {
    let (emu, base) = start().await;
    let mut s = settings(&base);
    s.request_timeout = Duration::from_millis(300);
    let client = ShopifyClient::new(s).unwrap();
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    emu.faults().hang_next(1, Duration::from_secs(5));

    let err = client
        .create_order(&order_request("cs_slow", quote, to))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, ShopifyError::OutcomeUnknown { source, .. }
            if matches!(**source, ShopifyError::Transport { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_never_reported_as_unknown() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    // A port nobody listens on: bind, note it, release it.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let offline =
        ShopifyClient::new(settings(&Url::parse(&format!("http://{closed}")).unwrap())).unwrap();

    let err = offline
        .create_order(&order_request("cs_offline", quote, to))
        .await
        .unwrap_err();

    assert!(matches!(err, ShopifyError::Transport { .. }), "{err:?}");
    assert!(emu.orders().is_empty());
}

#[tokio::test]
async fn an_inconsistent_order_request_is_refused_before_sending() {
    let (emu, client) = setup().await;
    let lantern = add_variant(&emu, "Lantern", 1999, 10);
    let to = address("US", "OR", "97201");
    let quote = quote_with_rate(&client, cart(&[(&lantern, 1)]), to.clone(), "Standard").await;
    let mut req = order_request("cs_bad", quote, to);
    req.payment.amount = Money::new(100, Currency::EUR);
    let before = emu.counters().requests;

    let err = client.create_order(&req).await.unwrap_err();

    assert!(
        matches!(err, ShopifyError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert_eq!(emu.counters().requests, before);
}
