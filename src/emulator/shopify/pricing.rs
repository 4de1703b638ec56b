//! The emulated shop's pricing rules (taxes by country and province, shipping
//! zones and rates, automatic discounts) and the arithmetic that applies them
//! to a cart, in integer cents.
//!
//! Rules of the arithmetic (what `draftOrderCalculate` reports and what
//! tests rely on):
//!
//! - **Discounts.** The best eligible automatic discount (a percentage of the
//!   items' total, once that total reaches its minimum) is computed on the
//!   items' total and rounded half up to the cent, then allocated to lines in
//!   proportion to their amounts ([`allocate`]: shares are floored and the
//!   leftover cents go one by one to the largest remainders, earlier lines
//!   first on ties), so line discounts add up to the order discount exactly.
//! - **Taxes.** The destination is the shipping address, else the billing
//!   address; without one no tax is charged. The rates are the country's plus
//!   the province's, or only the province's where it replaces them (Canadian
//!   HST). Each rate is applied to each taxable line's discounted amount and
//!   rounded half up to the cent (line-level rounding); an order tax line is
//!   the sum of its line amounts, so totals are exact. Shipping is taxed the
//!   same way, as one more line, where the region taxes shipping. When prices
//!   include tax, the tax in an amount is `amount × rate / (1 + Σ rates)`,
//!   rounded half up.
//! - **Shipping.** Rates come from the zone covering the shipping address's
//!   country and are offered only with a shipping address and a line that
//!   requires shipping; a rate may be limited to a range of the discounted
//!   items' total (free shipping over a threshold). A rate's handle is
//!   `shopify-{title}-{price}`, so a rate whose price changes gets a new
//!   handle and a quote selecting the old one is refused.
//!
//! The Admin API's `ShippingRate` has no delivery estimate, so the rules
//! carry none. Nothing here knows about GraphQL; `draft.rs` and
//! `order_create.rs` translate inputs and outputs.

use super::data::Price;
use super::inputs::{AddressInput, UserErr, path};

/// A rate in millionths: `Rate(72_500)` is 7.25 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(pub u32);

const MILLION: i128 = 1_000_000;

impl Rate {
    /// A rate from a percentage in hundredths of a percent: `from_bp(725)`
    /// is 7.25 %.
    pub const fn from_bp(basis_points: u32) -> Self {
        Rate(basis_points * 100)
    }

    /// Parses a decimal fraction (`"0.0725"`) to millionths, rounding half
    /// up beyond six decimals; `None` for anything that is not a
    /// non-negative decimal.
    pub fn parse(text: &str) -> Option<Rate> {
        let text = text.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut value: u64 = 0;
        for b in int.bytes() {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        let mut digits = frac.bytes();
        for _ in 0..6 {
            let d = digits.next().map_or(0, |b| u64::from(b - b'0'));
            value = value.checked_mul(10)?.checked_add(d)?;
        }
        if digits.next().is_some_and(|b| b >= b'5') {
            value += 1;
        }
        u32::try_from(value).ok().map(Rate)
    }

    /// The rate as a fraction (`TaxLine.rate`, a `Float`).
    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / 1_000_000.0
    }

    /// The rate in percent (`TaxLine.ratePercentage`).
    pub fn as_percentage(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }
}

/// One tax a region charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    /// The tax line title (`"CA State Tax"`, `"GST"`, `"VAT"`).
    pub title: String,
    pub rate: Rate,
}

impl TaxRate {
    pub fn new(title: &str, rate: Rate) -> Self {
        TaxRate {
            title: title.to_owned(),
            rate,
        }
    }
}

/// A province or state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subdivision {
    /// The code addresses use (`"CA"`, `"ON"`).
    pub code: String,
    pub name: String,
    /// Taxes charged here (none where the shop is not registered).
    pub taxes: Vec<TaxRate>,
    /// Whether [`Subdivision::taxes`] replace the country's taxes (HST)
    /// instead of adding to them.
    pub replaces_country_taxes: bool,
    /// Overrides [`CountryRules::shipping_taxable`].
    pub shipping_taxable: Option<bool>,
}

impl Subdivision {
    /// A subdivision without taxes of its own.
    pub fn untaxed(code: &str, name: &str) -> Self {
        Subdivision {
            code: code.to_owned(),
            name: name.to_owned(),
            taxes: Vec::new(),
            replaces_country_taxes: false,
            shipping_taxable: None,
        }
    }
}

/// How a country's postal codes look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalCodeFormat {
    /// `12345` or `12345-6789`.
    UsZip,
    /// `A1A 1A1` (the space optional).
    Canadian,
    /// Exactly this many digits.
    Digits(u8),
    /// Not checked.
    Any,
}

impl PostalCodeFormat {
    fn accepts(self, zip: &str) -> bool {
        let zip = zip.trim();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            PostalCodeFormat::UsZip => match zip.split_once('-') {
                Some((five, four)) => digits(five, 5) && digits(four, 4),
                None => digits(zip, 5),
            },
            PostalCodeFormat::Canadian => {
                let compact: Vec<u8> = zip.bytes().filter(|b| *b != b' ').collect();
                compact.len() == 6
                    && compact.iter().enumerate().all(|(i, b)| {
                        if i % 2 == 0 {
                            b.is_ascii_alphabetic()
                        } else {
                            b.is_ascii_digit()
                        }
                    })
            }
            PostalCodeFormat::Digits(n) => digits(zip, usize::from(n)),
            PostalCodeFormat::Any => true,
        }
    }
}

/// What the shop knows about one country: address rules and taxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRules {
    /// ISO 3166-1 alpha-2 (`CountryCode` enum value).
    pub code: String,
    pub name: String,
    /// Provinces or states; when non-empty an address must name one of them
    /// by `provinceCode`.
    pub subdivisions: Vec<Subdivision>,
    pub postal_code: PostalCodeFormat,
    /// Country-level taxes (VAT, GST).
    pub taxes: Vec<TaxRate>,
    /// Whether shipping charges are taxed.
    pub shipping_taxable: bool,
}

/// One shipping rate of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRateRule {
    pub title: String,
    pub price: Price,
    /// Offered only when the discounted items' total is at least this.
    pub min_subtotal: Option<Price>,
    /// Offered only when the discounted items' total is at most this.
    pub max_subtotal: Option<Price>,
}

/// The rates offered for a set of countries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingZone {
    pub name: String,
    pub countries: Vec<String>,
    pub rates: Vec<ShippingRateRule>,
}

/// An automatic percentage discount on the items' total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomaticDiscount {
    pub title: String,
    pub percentage: Rate,
    /// The items' total (before discounts) from which it applies.
    pub minimum_subtotal: Price,
}

/// Everything the shop prices carts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PricingRules {
    /// Whether catalog prices include tax (`Shop.taxesIncluded`).
    pub taxes_included: bool,
    pub countries: Vec<CountryRules>,
    pub shipping_zones: Vec<ShippingZone>,
    pub automatic_discounts: Vec<AutomaticDiscount>,
}

/// One cart line as the arithmetic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CartItem {
    pub unit_price: Price,
    pub quantity: i64,
    pub taxable: bool,
    pub requires_shipping: bool,
}

/// A country and province, as validated by [`PricingRules::check_address`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Destination<'a> {
    pub country: &'a str,
    pub province: Option<&'a str>,
}

impl<'a> Destination<'a> {
    /// The destination of an address input that has a country.
    pub(crate) fn of(address: &'a AddressInput) -> Option<Self> {
        Some(Destination {
            country: address.country_code.as_deref()?,
            province: address.province_code.as_deref().filter(|p| !p.is_empty()),
        })
    }
}

/// The shipping the cart asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShippingChoice {
    None,
    /// A handle from the offered rates.
    Rate(String),
    /// A custom line with its own title and price.
    Custom {
        title: String,
        price: Price,
    },
}

/// A rate offered for the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OfferedRate {
    pub handle: String,
    pub title: String,
    pub price: Price,
}

/// An amount of one tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxAmount {
    pub title: String,
    pub rate: Rate,
    pub amount: Price,
}

/// A priced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PricedLine {
    pub base: Price,
    pub discount: Price,
    pub tax_lines: Vec<TaxAmount>,
}

/// The priced shipping line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PricedShipping {
    /// `None` for a custom line.
    pub handle: Option<String>,
    pub title: String,
    pub price: Price,
    pub tax_lines: Vec<TaxAmount>,
}

/// A priced cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CartPricing {
    pub lines: Vec<PricedLine>,
    pub rates: Vec<OfferedRate>,
    pub shipping: Option<PricedShipping>,
    /// Order tax lines: every line's and the shipping's, summed per tax.
    pub tax_lines: Vec<TaxAmount>,
    pub items_base: Price,
    pub discount: Price,
    pub subtotal: Price,
    pub shipping_total: Price,
    pub tax_total: Price,
    pub total: Price,
}

/// Why a cart could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PricingError {
    /// The selected rate handle is not among the offered rates.
    UnknownShippingRate,
}

/// `n / d` rounded half up, for `n >= 0` and `d > 0`.
fn div_half_up(n: i128, d: i128) -> i128 {
    (2 * n + d) / (2 * d)
}

/// Splits `total` into shares proportional to `weights` that add up to
/// `total` exactly: shares are floored and the leftover units go one by one
/// to the largest remainders (earlier entries first on ties). With all
/// weights zero the shares are equal in the same way. Negative inputs count
/// as zero.
pub(crate) fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() || total <= 0 {
        return vec![0; weights.len()];
    }
    let clean: Vec<i128> = weights.iter().map(|w| i128::from((*w).max(0))).collect();
    let sum: i128 = clean.iter().sum();
    let (weights, sum) = if sum == 0 {
        (vec![1; clean.len()], clean.len() as i128)
    } else {
        (clean, sum)
    };
    let total = i128::from(total);
    let mut shares: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut order: Vec<(i128, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (total * w % sum, i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - shares.iter().sum::<i128>();
    for (_, i) in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
        .collect()
}

/// `shopify-{title}-{price}` with the title percent-encoded.
pub(crate) fn rate_handle(title: &str, price: Price) -> String {
    let mut encoded = String::with_capacity(title.len());
    for b in title.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("shopify-{encoded}-{price}")
}

impl PricingRules {
    /// The rules of a country, if the shop knows it.
    pub fn country(&self, code: &str) -> Option<&CountryRules> {
        self.countries.iter().find(|c| c.code == code)
    }

    /// The name of a province (`MailingAddress.province`).
    pub(crate) fn province_name(&self, country: &str, province: &str) -> Option<&str> {
        self.country(country)?
            .subdivisions
            .iter()
            .find(|s| s.code.eq_ignore_ascii_case(province))
            .map(|s| s.name.as_str())
    }

    /// Validates a mailing address like Shopify: a country is required; a
    /// country with provinces needs a known `provinceCode`; a known postal
    /// code format is checked. Errors point at `prefix + field`.
    pub(crate) fn check_address(&self, address: &AddressInput, prefix: &[&str]) -> Vec<UserErr> {
        let mut errors = Vec::new();
        let at = |field: &str, message: String| UserErr {
            field: path(prefix, &[field]),
            message,
            code: None,
        };
        let Some(country_code) = address.country_code.as_deref() else {
            errors.push(at("countryCode", "Country can't be blank".to_owned()));
            return errors;
        };
        let Some(country) = self.country(country_code) else {
            return errors;
        };
        if !country.subdivisions.is_empty() {
            match address.province_code.as_deref().map(str::trim) {
                None | Some("") => errors.push(at(
                    "provinceCode",
                    format!("Province can't be blank for {}", country.name),
                )),
                Some(code) => {
                    if !country
                        .subdivisions
                        .iter()
                        .any(|s| s.code.eq_ignore_ascii_case(code))
                    {
                        errors.push(at(
                            "provinceCode",
                            format!(
                                "Province {code} is not a valid province of {}",
                                country.name
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(zip) = address.zip.as_deref()
            && !zip.trim().is_empty()
            && !country.postal_code.accepts(zip)
        {
            errors.push(at("zip", format!("Zip is invalid for {}", country.name)));
        }
        errors
    }

    /// The taxes charged at `dest` and whether shipping is taxed there.
    fn taxes_at(&self, dest: Destination<'_>) -> (Vec<TaxRate>, bool) {
        let Some(country) = self.country(dest.country) else {
            return (Vec::new(), false);
        };
        let subdivision = dest.province.and_then(|p| {
            country
                .subdivisions
                .iter()
                .find(|s| s.code.eq_ignore_ascii_case(p))
        });
        match subdivision {
            Some(s) => {
                let mut taxes = if s.replaces_country_taxes {
                    Vec::new()
                } else {
                    country.taxes.clone()
                };
                taxes.extend(s.taxes.iter().cloned());
                (
                    taxes,
                    s.shipping_taxable.unwrap_or(country.shipping_taxable),
                )
            }
            None => (country.taxes.clone(), country.shipping_taxable),
        }
    }

    /// The rates offered to `country` for a discounted items' total.
    fn rates_for(&self, country: &str, subtotal: Price) -> Vec<OfferedRate> {
        let Some(zone) = self
            .shipping_zones
            .iter()
            .find(|z| z.countries.iter().any(|c| c == country))
        else {
            return Vec::new();
        };
        let mut rates: Vec<OfferedRate> = zone
            .rates
            .iter()
            .filter(|r| r.min_subtotal.is_none_or(|m| subtotal >= m))
            .filter(|r| r.max_subtotal.is_none_or(|m| subtotal <= m))
            .map(|r| OfferedRate {
                handle: rate_handle(&r.title, r.price),
                title: r.title.clone(),
                price: r.price,
            })
            .collect();
        rates.sort_by(|a, b| a.price.cmp(&b.price).then(a.title.cmp(&b.title)));
        rates
    }

    /// Each tax of `taxes` on `amount`, rounded half up.
    fn tax_on(&self, amount: Price, taxes: &[TaxRate]) -> Vec<TaxAmount> {
        let total_rate: i128 = taxes.iter().map(|t| i128::from(t.rate.0)).sum();
        taxes
            .iter()
            .map(|t| {
                let n = i128::from(amount.0.max(0)) * i128::from(t.rate.0);
                let cents = if self.taxes_included {
                    div_half_up(n, MILLION + total_rate)
                } else {
                    div_half_up(n, MILLION)
                };
                TaxAmount {
                    title: t.title.clone(),
                    rate: t.rate,
                    amount: Price(i64::try_from(cents).unwrap_or(i64::MAX)),
                }
            })
            .collect()
    }

    /// Prices a cart: discounts, shipping rates and the selected shipping,
    /// taxes and totals (see the module documentation for the rules).
    /// `ship_to` offers rates; taxes use `ship_to`, else `bill_to`.
    pub(crate) fn price_cart(
        &self,
        items: &[CartItem],
        ship_to: Option<Destination<'_>>,
        bill_to: Option<Destination<'_>>,
        shipping: &ShippingChoice,
        accept_automatic_discounts: bool,
    ) -> Result<CartPricing, PricingError> {
        let bases: Vec<i64> = items
            .iter()
            .map(|i| i.unit_price.0.saturating_mul(i.quantity))
            .collect();
        let items_base: i64 = bases.iter().sum();
        let discount = if accept_automatic_discounts {
            self.automatic_discounts
                .iter()
                .filter(|d| items_base >= d.minimum_subtotal.0)
                .map(|d| {
                    let n = i128::from(items_base) * i128::from(d.percentage.0);
                    i64::try_from(div_half_up(n, MILLION)).unwrap_or(0)
                })
                .max()
                .unwrap_or(0)
                .min(items_base)
        } else {
            0
        };
        let line_discounts = allocate(discount, &bases);
        let subtotal = Price(items_base - discount);

        let needs_shipping = items.iter().any(|i| i.requires_shipping);
        let rates = match ship_to {
            Some(dest) if needs_shipping => self.rates_for(dest.country, subtotal),
            _ => Vec::new(),
        };
        let (handle, title, price) = match shipping {
            ShippingChoice::None => (None, String::new(), None),
            ShippingChoice::Rate(handle) => {
                let rate = rates
                    .iter()
                    .find(|r| &r.handle == handle)
                    .ok_or(PricingError::UnknownShippingRate)?;
                (
                    Some(rate.handle.clone()),
                    rate.title.clone(),
                    Some(rate.price),
                )
            }
            ShippingChoice::Custom { title, price } => (None, title.clone(), Some(*price)),
        };

        let (taxes, shipping_taxable) = match ship_to.or(bill_to) {
            Some(dest) => self.taxes_at(dest),
            None => (Vec::new(), false),
        };
        let lines: Vec<PricedLine> = items
            .iter()
            .zip(bases.iter().zip(&line_discounts))
            .map(|(item, (base, disc))| PricedLine {
                base: Price(*base),
                discount: Price(*disc),
                tax_lines: if item.taxable {
                    self.tax_on(Price(base - disc), &taxes)
                } else {
                    Vec::new()
                },
            })
            .collect();
        let shipping = price.map(|price| PricedShipping {
            handle,
            title,
            price,
            tax_lines: if shipping_taxable {
                self.tax_on(price, &taxes)
            } else {
                Vec::new()
            },
        });

        let tax_lines = sum_tax_lines(
            lines
                .iter()
                .flat_map(|l| &l.tax_lines)
                .chain(shipping.iter().flat_map(|s| &s.tax_lines)),
        );
        let tax_total: i64 = tax_lines.iter().map(|t| t.amount.0).sum();
        let shipping_total = shipping.as_ref().map_or(0, |s| s.price.0);
        let added_tax = if self.taxes_included { 0 } else { tax_total };
        Ok(CartPricing {
            lines,
            rates,
            shipping,
            tax_lines,
            items_base: Price(items_base),
            discount: Price(discount),
            subtotal,
            shipping_total: Price(shipping_total),
            tax_total: Price(tax_total),
            total: Price(subtotal.0 + shipping_total + added_tax),
        })
    }
}

/// Sums tax amounts per (title, rate), in first-seen order; zero sums are
/// kept (a registered region with a 0 % rate still shows its line).
pub(crate) fn sum_tax_lines<'a>(amounts: impl Iterator<Item = &'a TaxAmount>) -> Vec<TaxAmount> {
    let mut out: Vec<TaxAmount> = Vec::new();
    for t in amounts {
        match out
            .iter_mut()
            .find(|o| o.title == t.title && o.rate == t.rate)
        {
            Some(o) => o.amount.0 += t.amount.0,
            None => out.push(t.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::pricing_sample::sample_pricing;

    fn item(cents: i64, quantity: i64) -> CartItem {
        CartItem {
            unit_price: Price(cents),
            quantity,
            taxable: true,
            requires_shipping: true,
        }
    }

    fn to(country: &'static str, province: Option<&'static str>) -> Option<Destination<'static>> {
        Some(Destination { country, province })
    }

    fn price(items: &[CartItem], dest: Option<Destination<'_>>) -> CartPricing {
        sample_pricing()
            .price_cart(items, dest, None, &ShippingChoice::None, true)
            .unwrap()
    }

    #[test]
    fn allocation_is_proportional_and_exact() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(10, &[2000, 3000, 5000]), vec![2, 3, 5]);
        assert_eq!(allocate(7, &[0, 0]), vec![4, 3]);
        assert_eq!(allocate(0, &[5, 5]), vec![0, 0]);
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..2_000 {
            let weights: Vec<i64> = (0..rng.usize(1..6)).map(|_| rng.i64(0..100_000)).collect();
            let total = rng.i64(0..50_000);
            let shares = allocate(total, &weights);
            assert_eq!(shares.iter().sum::<i64>(), total, "{weights:?} {total}");
            let sum: i64 = weights.iter().sum();
            if sum > 0 {
                for (s, w) in shares.iter().zip(&weights) {
                    // Each share is within one cent of its exact proportion.
                    let exact = i128::from(total) * i128::from(*w);
                    let scaled = i128::from(*s) * i128::from(sum);
                    assert!((scaled - exact).abs() < i128::from(sum), "{shares:?}");
                }
            }
        }
    }

    #[test]
    fn state_taxes_differ_and_round_half_up_per_line() {
        // $19.99 × 3 = $59.97; CA 7.25 % = 4.347825 → 4.35.
        let ca = price(&[item(1999, 3)], to("US", Some("CA")));
        assert_eq!(ca.tax_lines.len(), 1);
        assert_eq!(ca.tax_lines[0].title, "CA State Tax");
        assert_eq!(ca.tax_total, Price(435));
        // TX 6.25 % of 59.97 = 3.748125 → 3.75.
        let tx = price(&[item(1999, 3)], to("US", Some("TX")));
        assert_eq!(tx.tax_total, Price(375));
        // Oregon: the shop is not registered, no tax line at all.
        let or = price(&[item(1999, 3)], to("US", Some("OR")));
        assert!(or.tax_lines.is_empty());
        assert_eq!(or.total, Price(5997));
        // Two lines are rounded separately, then summed: 0.725 → 0.73 twice.
        let two = price(&[item(1000, 1), item(1000, 1)], to("US", Some("CA")));
        assert_eq!(two.lines[0].tax_lines[0].amount, Price(73));
        assert_eq!(two.tax_total, Price(146));
    }

    #[test]
    fn canadian_hst_replaces_gst_and_pst_adds_to_it() {
        let on = price(&[item(10_000, 1)], to("CA", Some("ON")));
        let titles: Vec<&str> = on.tax_lines.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["HST"]);
        assert_eq!(on.tax_total, Price(1300));
        let bc = price(&[item(10_000, 1)], to("CA", Some("BC")));
        let titles: Vec<&str> = bc.tax_lines.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["GST", "PST"]);
        assert_eq!(bc.tax_total, Price(1200));
    }

    #[test]
    fn shipping_is_taxed_only_where_the_region_taxes_it() {
        let rules = sample_pricing();
        let cart = [item(5000, 1)];
        let express = |dest| {
            let offered = rules
                .price_cart(&cart, dest, None, &ShippingChoice::None, false)
                .unwrap();
            let handle = offered
                .rates
                .iter()
                .find(|r| r.title == "Express")
                .unwrap()
                .handle
                .clone();
            rules
                .price_cart(&cart, dest, None, &ShippingChoice::Rate(handle), false)
                .unwrap()
        };
        let ny = express(to("US", Some("NY")));
        let shipping = ny.shipping.as_ref().unwrap();
        assert_eq!(shipping.price, Price(1995));
        // 4 % of 19.95 = 0.798 → 0.80; of 50.00 = 2.00.
        assert_eq!(shipping.tax_lines[0].amount, Price(80));
        assert_eq!(ny.tax_total, Price(280));
        assert_eq!(ny.total, Price(5000 + 1995 + 280));
        let ca = express(to("US", Some("CA")));
        assert!(ca.shipping.as_ref().unwrap().tax_lines.is_empty());
        assert_eq!(ca.tax_total, Price(363));
    }

    #[test]
    fn vat_is_added_or_extracted_depending_on_taxes_included() {
        let de = price(&[item(10_000, 1)], to("DE", None));
        assert_eq!(de.tax_total, Price(1900));
        assert_eq!(de.total, Price(11_900));
        let mut rules = sample_pricing();
        rules.taxes_included = true;
        let inc = rules
            .price_cart(
                &[item(11_900, 1)],
                to("DE", None),
                None,
                &ShippingChoice::None,
                false,
            )
            .unwrap();
        assert_eq!(inc.tax_total, Price(1900));
        assert_eq!(inc.total, Price(11_900), "included tax is not added again");
    }

    #[test]
    fn rates_need_an_address_and_a_shippable_line_and_respect_the_free_threshold() {
        let none = price(&[item(5000, 1)], None);
        assert!(none.rates.is_empty());
        assert_eq!(none.tax_total, Price(0));
        let digital = CartItem {
            requires_shipping: false,
            ..item(5000, 1)
        };
        assert!(price(&[digital], to("US", Some("CA"))).rates.is_empty());
        let small = price(&[item(5000, 1)], to("US", Some("CA")));
        let offered: Vec<(&str, Price)> = small
            .rates
            .iter()
            .map(|r| (r.title.as_str(), r.price))
            .collect();
        assert_eq!(
            offered,
            [("Standard", Price(695)), ("Express", Price(1995))]
        );
        assert_eq!(small.rates[0].handle, "shopify-Standard-6.95");
        let big = price(&[item(8000, 1)], to("US", Some("CA")));
        assert_eq!(big.rates[0].price, Price(0));
        assert_eq!(big.rates[0].handle, "shopify-Standard-0.00");
        assert!(price(&[item(5000, 1)], to("FR", None)).rates.is_empty());
    }

    #[test]
    fn an_unknown_rate_handle_is_refused() {
        let result = sample_pricing().price_cart(
            &[item(5000, 1)],
            to("US", Some("CA")),
            None,
            &ShippingChoice::Rate("shopify-Standard-0.00".into()),
            true,
        );
        assert_eq!(result, Err(PricingError::UnknownShippingRate));
    }

    #[test]
    fn the_automatic_discount_is_allocated_and_taxed_after_discount() {
        // 3 × $40 + 1 × $100 = $220 ≥ $200 → 10 % = $22.00.
        let p = price(&[item(4000, 3), item(10_000, 1)], to("US", Some("CA")));
        assert_eq!(p.discount, Price(2200));
        let discounts: Vec<Price> = p.lines.iter().map(|l| l.discount).collect();
        assert_eq!(discounts, [Price(1200), Price(1000)]);
        assert_eq!(p.subtotal, Price(19_800));
        // 7.25 % of 108.00 = 7.83; of 90.00 = 6.525 → 6.53.
        assert_eq!(p.tax_total, Price(783 + 653));
        assert_eq!(p.total, Price(19_800 + 783 + 653));
        // Not accepted, or under the minimum: no discount.
        let rules = sample_pricing();
        let off = rules
            .price_cart(&[item(30_000, 1)], None, None, &ShippingChoice::None, false)
            .unwrap();
        assert_eq!(off.discount, Price(0));
        assert_eq!(price(&[item(19_999, 1)], None).discount, Price(0));
    }

    #[test]
    fn addresses_are_checked_like_shopify() {
        let rules = sample_pricing();
        let address = |country: Option<&str>, province: Option<&str>, zip: &str| AddressInput {
            country_code: country.map(str::to_owned),
            province_code: province.map(str::to_owned),
            zip: Some(zip.to_owned()),
            ..AddressInput::default()
        };
        let fields = |a: &AddressInput| -> Vec<Vec<String>> {
            rules
                .check_address(a, &["shippingAddress"])
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert!(fields(&address(Some("US"), Some("CA"), "94103")).is_empty());
        assert!(fields(&address(Some("US"), Some("ca"), "94103-1234")).is_empty());
        assert_eq!(
            fields(&address(Some("US"), None, "94103")),
            [["shippingAddress", "provinceCode"]]
        );
        assert_eq!(
            fields(&address(Some("CA"), Some("ZZ"), "K2P 0V6")),
            [["shippingAddress", "provinceCode"]]
        );
        assert_eq!(
            fields(&address(Some("US"), Some("NY"), "1234")),
            [["shippingAddress", "zip"]]
        );
        assert_eq!(
            fields(&address(None, None, "")),
            [["shippingAddress", "countryCode"]]
        );
        assert!(fields(&address(Some("DE"), None, "10115")).is_empty());
        assert!(fields(&address(Some("FR"), None, "75001")).is_empty());
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(Rate::parse("0.0725"), Some(Rate(72_500)));
        assert_eq!(Rate::parse("0.09975"), Some(Rate(99_750)));
        assert_eq!(Rate::parse("0.19"), Some(Rate(190_000)));
        assert_eq!(Rate::parse("0.00000051"), Some(Rate(1)));
        assert_eq!(Rate::parse("-0.1"), None);
        assert_eq!(Rate::parse("abc"), None);
        assert_eq!(Rate(72_500).as_fraction(), 0.0725);
        assert_eq!(Rate(72_500).as_percentage(), 7.25);
    }
}
