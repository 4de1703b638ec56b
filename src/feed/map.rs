//! Domain product → OpenAI flat feed rows (the current `is_eligible_*`
//! schema, one row per variant).
//!
//! Pure and infallible: every product maps to rows; whether a row is
//! acceptable is decided afterwards by [`super::validate`]. Nothing here does
//! I/O or knows about encodings beyond the field names.
//!
//! Decisions that the spec leaves open:
//! - `gtin` is emitted only for barcodes that are valid GTIN-8/12/13/14 (spaces
//!   and dashes removed, GS1 check digit verified). Other barcodes (internal
//!   codes, ISBN-10, typos) are emitted nowhere: putting them in `mpn` would
//!   mislabel them, and a wrong GTIN gets a listing rejected.
//! - `mpn` is the SKU when there is one of at most 70 characters; `offer_id`
//!   is the SKU when there is one, otherwise the `item_id`.
//! - `description` falls back to the title when the HTML has no text, because
//!   the field is required and an empty one would drop the product.
//! - `variant_dict` keys are the option names lower-cased (`{"color": "Blue"}`,
//!   as in OpenAI's example); values are kept as written.
//! - `additional_image_urls` lists at most [`MAX_ADDITIONAL_IMAGES`] product
//!   images other than the row's `image_url`; commas inside a URL are
//!   percent-encoded so the comma-separated list stays unambiguous.
//! - `weight` is emitted only when positive (platforms default it to 0).
//! - `title`, `item_group_title`, `description`, `brand`, `color` and `size`
//!   are truncated to their limits on a character boundary; identifiers
//!   (`item_id`, `group_id`, SKU) are never truncated.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use url::Url;

use super::FeedError;
use super::gtin::gtin_from_barcode;
use super::html::html_to_text;
use crate::domain::{Availability, Money, Product, SelectedOption, ShopFacts, Variant};

/// Most images listed in `additional_image_urls` per row.
pub const MAX_ADDITIONAL_IMAGES: usize = 10;

/// Field limits from the OpenAI flat feed spec, in characters (Unicode
/// scalar values), named after the field they limit.
pub mod limits {
    pub const ITEM_ID: usize = 100;
    pub const TITLE: usize = 150;
    pub const ITEM_GROUP_TITLE: usize = 150;
    pub const DESCRIPTION: usize = 5000;
    pub const BRAND: usize = 70;
    pub const SELLER_NAME: usize = 70;
    pub const GROUP_ID: usize = 70;
    pub const MPN: usize = 70;
    pub const COLOR: usize = 40;
    pub const SIZE: usize = 20;
}

/// Shop-level settings every row needs. Build it with
/// [`FeedOptions::from_shop`] and override fields from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOptions {
    /// `seller_name`, and the `brand` of products without a vendor.
    pub seller_name: String,
    /// `seller_url`.
    pub seller_url: Url,
    /// Storefront base URL; product pages are `{storefront_url}/products/{handle}`
    /// when the platform gives no product URL.
    pub storefront_url: Url,
    /// ISO 3166-1 alpha-2, upper case; OpenAI uses the first entry.
    pub target_countries: Vec<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub store_country: String,
    /// `seller_privacy_policy`; required for checkout eligibility.
    pub privacy_policy_url: Option<Url>,
    /// `seller_tos`; required for checkout eligibility.
    pub terms_of_service_url: Option<Url>,
    /// The refund/return policy page (`return_policy`).
    pub return_policy_url: Option<Url>,
    /// Only used by the ACP form (`shipping_policy` seller link).
    pub shipping_policy_url: Option<Url>,
    /// Whether the merchant has enabled checkout in ChatGPT. Rows are marked
    /// checkout-eligible only when the privacy and terms URLs exist too.
    pub checkout_eligible: bool,
    /// Attribution query parameters appended to every product URL, in order
    /// (e.g. `utm_source=chatgpt`).
    pub url_params: Vec<(String, String)>,
    /// `accepts_returns`, when the merchant has said.
    pub accepts_returns: Option<bool>,
    /// Emitted only when returns are not declared unaccepted.
    pub return_deadline_in_days: Option<u32>,
}

impl FeedOptions {
    /// Options from what the platform says about the shop: its name and URL
    /// as seller, its country as both `store_country` and the single target
    /// country, its policy pages; checkout off, no attribution parameters.
    ///
    /// `target_countries` deliberately is not `ships_to`: OpenAI reads only the
    /// first entry, and a 200-country list on every row bloats the feed.
    ///
    /// # Errors
    /// [`FeedError::MissingStoreCountry`] when the shop has no country, and
    /// [`FeedError::InvalidCountry`] when it is not an alpha-2 code.
    pub fn from_shop(facts: &ShopFacts) -> Result<Self, FeedError> {
        let country = facts
            .country
            .as_deref()
            .ok_or(FeedError::MissingStoreCountry)?;
        let store_country = country.trim().to_ascii_uppercase();
        if !is_alpha2(&store_country) {
            return Err(FeedError::InvalidCountry(country.to_owned()));
        }
        Ok(FeedOptions {
            seller_name: facts.name.clone(),
            seller_url: facts.url.clone(),
            storefront_url: facts.url.clone(),
            target_countries: vec![store_country.clone()],
            store_country,
            privacy_policy_url: facts.policies.privacy.clone(),
            terms_of_service_url: facts.policies.terms.clone(),
            return_policy_url: facts.policies.refund.clone(),
            shipping_policy_url: facts.policies.shipping.clone(),
            checkout_eligible: false,
            url_params: Vec::new(),
            accepts_returns: None,
            return_deadline_in_days: None,
        })
    }
}

/// Whether `s` is two ASCII upper-case letters.
pub(crate) fn is_alpha2(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// The CSV/TSV header: every column, always present, in this order. JSONL
/// objects use the same names in the same order and omit absent optional
/// fields.
pub const FLAT_COLUMNS: [&str; 33] = [
    "is_eligible_search",
    "is_eligible_checkout",
    "item_id",
    "gtin",
    "mpn",
    "title",
    "description",
    "url",
    "product_category",
    "brand",
    "weight",
    "item_weight_unit",
    "image_url",
    "additional_image_urls",
    "price",
    "sale_price",
    "availability",
    "group_id",
    "listing_has_variations",
    "variant_dict",
    "item_group_title",
    "color",
    "size",
    "offer_id",
    "seller_name",
    "seller_url",
    "seller_privacy_policy",
    "seller_tos",
    "accepts_returns",
    "return_deadline_in_days",
    "return_policy",
    "target_countries",
    "store_country",
];

/// One row of the OpenAI flat product feed: one purchasable variant.
///
/// Field names are the wire names; the declaration order is
/// [`FLAT_COLUMNS`]. `None` fields are omitted from JSON. Values that are
/// the same for every row of a product or of the feed are `Arc`s, so rows
/// share them instead of copying.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlatRow {
    pub is_eligible_search: bool,
    pub is_eligible_checkout: bool,
    /// The variant's platform id: stable, and the id checkout accepts.
    pub item_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpn: Option<String>,
    pub title: String,
    #[serde(serialize_with = "serialize_str")]
    pub description: Arc<str>,
    pub url: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_str"
    )]
    pub product_category: Option<Arc<str>>,
    #[serde(serialize_with = "serialize_str")]
    pub brand: Arc<str>,
    /// Written without trailing zeros (`1.5`, `2`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_weight"
    )]
    pub weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_weight_unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Comma-separated URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_image_urls: Option<String>,
    /// Written as `"79.99 USD"`.
    #[serde(serialize_with = "serialize_money")]
    pub price: Money,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_money"
    )]
    pub sale_price: Option<Money>,
    pub availability: Availability,
    /// The product's platform id, shared by all its variants.
    #[serde(serialize_with = "serialize_str")]
    pub group_id: Arc<str>,
    pub listing_has_variations: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_dict: Option<VariantDict>,
    #[serde(serialize_with = "serialize_str")]
    pub item_group_title: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    pub offer_id: String,
    #[serde(serialize_with = "serialize_str")]
    pub seller_name: Arc<str>,
    #[serde(serialize_with = "serialize_str")]
    pub seller_url: Arc<str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_str"
    )]
    pub seller_privacy_policy: Option<Arc<str>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_str"
    )]
    pub seller_tos: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepts_returns: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_deadline_in_days: Option<u32>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_str"
    )]
    pub return_policy: Option<Arc<str>>,
    #[serde(serialize_with = "serialize_list")]
    pub target_countries: Arc<[String]>,
    #[serde(serialize_with = "serialize_str")]
    pub store_country: Arc<str>,
}

/// `variant_dict`: option name → value, serialized as a JSON object in
/// option order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VariantDict(pub Vec<(String, String)>);

impl Serialize for VariantDict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

// serde's `rc` feature is off, so shared strings serialize through these.
fn serialize_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn serialize_opt_str<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v),
        None => s.serialize_none(),
    }
}

fn serialize_list<S: Serializer>(v: &Arc<[String]>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter())
}

fn serialize_money<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(MoneyText::new(m).as_str())
}

fn serialize_opt_money<S: Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => serialize_money(m, s),
        None => s.serialize_none(),
    }
}

/// `Money`'s Display text (`"79.99 USD"`, `"-0.05 EUR"`, `"1500 JPY"`)
/// formatted on the stack: prices are written several times per row, and
/// `Money::major_string` allocates.
pub(crate) struct MoneyText {
    // Sign + 20 digits (u64::MAX) + point + space + 3 letters fits easily.
    buf: [u8; 32],
    len: usize,
}

impl MoneyText {
    pub(crate) fn new(money: &Money) -> Self {
        let exp = money.currency.exponent() as usize;
        let mut digits = [b'0'; 24];
        let mut n = 0;
        let mut rest = money.amount.unsigned_abs();
        loop {
            // `rest % 10` is a single digit.
            digits[n] = b'0' + (rest % 10) as u8;
            rest /= 10;
            n += 1;
            if rest == 0 {
                break;
            }
        }
        // At least one digit before the point (`0.05`); `digits` is
        // pre-filled with zeros for the padding.
        n = n.max(exp + 1);
        let mut out = MoneyText {
            buf: [0; 32],
            len: 0,
        };
        if money.amount < 0 {
            out.push(b'-');
        }
        for i in (exp..n).rev() {
            out.push(digits[i]);
        }
        if exp > 0 {
            out.push(b'.');
            for i in (0..exp).rev() {
                out.push(digits[i]);
            }
        }
        out.push(b' ');
        for b in money.currency.as_str().bytes() {
            out.push(b);
        }
        out
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, `-`, `.`, space and currency letters are pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

fn serialize_weight<S: Serializer>(w: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match w {
        Some(w) => match whole_number(*w) {
            Some(n) => s.serialize_i64(n),
            None => s.serialize_f64(*w),
        },
        None => s.serialize_none(),
    }
}

/// `Some(n)` when `w` is an integer that f64 represents exactly.
fn whole_number(w: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    // The cast is exact: `w` is integral and within ±2^53.
    (w.is_finite() && w.fract() == 0.0 && w.abs() <= EXACT).then_some(w as i64)
}

/// Appends `w` without trailing zeros (`1.5`, `2`, `0.255`): the shortest
/// representation that reads back as the same f64.
pub(crate) fn write_weight(out: &mut String, w: f64) {
    match whole_number(w) {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => {
            let _ = write!(out, "{w}");
        }
    }
}

/// Rows for every variant of `product`, in variant order. The caller decides
/// eligibility first ([`super::eligibility`]) and validates afterwards
/// ([`super::validate`]). For many products, a [`RowMapper`] avoids
/// preparing the shop-level values again for each one.
pub fn flat_rows(product: &Product, opts: &FeedOptions) -> Vec<FlatRow> {
    RowMapper::new(opts).rows(product)
}

/// Maps products to rows with the shop-level values prepared once.
pub struct RowMapper<'a> {
    opts: &'a FeedOptions,
    seller_name: Arc<str>,
    seller_url: Arc<str>,
    privacy: Option<Arc<str>>,
    terms: Option<Arc<str>>,
    return_policy: Option<Arc<str>>,
    target_countries: Arc<[String]>,
    store_country: Arc<str>,
    checkout_eligible: bool,
    return_deadline_in_days: Option<u32>,
    /// Encoded attribution parameters, `&a=b…` (empty without any).
    url_suffix: String,
}

impl<'a> RowMapper<'a> {
    /// Prepares the shop-level values of `opts` (seller, policies,
    /// countries, attribution parameters) once for all products.
    pub fn new(opts: &'a FeedOptions) -> Self {
        let url = |u: &Option<Url>| u.as_ref().map(|u| Arc::from(u.as_str()));
        let privacy = url(&opts.privacy_policy_url);
        let terms = url(&opts.terms_of_service_url);
        RowMapper {
            opts,
            seller_name: Arc::from(opts.seller_name.as_str()),
            seller_url: Arc::from(opts.seller_url.as_str()),
            checkout_eligible: opts.checkout_eligible && privacy.is_some() && terms.is_some(),
            privacy,
            terms,
            return_policy: url(&opts.return_policy_url),
            target_countries: Arc::from(opts.target_countries.as_slice()),
            store_country: Arc::from(opts.store_country.as_str()),
            return_deadline_in_days: opts
                .return_deadline_in_days
                .filter(|_| opts.accepts_returns != Some(false)),
            url_suffix: attribution_suffix(opts),
        }
    }

    /// Rows for every variant of `product`, in variant order (see
    /// [`flat_rows`]).
    pub fn rows(&self, product: &Product) -> Vec<FlatRow> {
        let shared = ProductShared::new(product, self);
        product
            .variants
            .iter()
            .map(|variant| shared.row(product, variant, self))
            .collect()
    }
}

/// Everything that is the same for all rows of one product, computed once.
struct ProductShared {
    has_variations: bool,
    description: Arc<str>,
    item_group_title: Arc<str>,
    brand: Arc<str>,
    group_id: Arc<str>,
    category: Option<Arc<str>>,
    urls: ProductUrls,
}

impl ProductShared {
    fn new(product: &Product, mapper: &RowMapper<'_>) -> Self {
        let mut description = html_to_text(&product.description_html);
        if description.is_empty() {
            description = product.title.trim().to_owned();
        }
        truncate_chars(&mut description, limits::DESCRIPTION);
        let brand = match product.vendor.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => truncated(v, limits::BRAND),
            _ => truncated(&mapper.opts.seller_name, limits::BRAND),
        };
        ProductShared {
            has_variations: has_variations(product),
            description: description.into(),
            item_group_title: truncated(product.title.trim(), limits::ITEM_GROUP_TITLE).into(),
            brand: brand.into(),
            group_id: Arc::from(product.id.as_str()),
            category: product
                .category
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(Arc::from),
            urls: ProductUrls::new(product, &mapper.opts.storefront_url, &mapper.url_suffix),
        }
    }

    fn row(&self, product: &Product, variant: &Variant, mapper: &RowMapper<'_>) -> FlatRow {
        let mut title = String::with_capacity(product.title.len() + variant.title.len() + 3);
        title.push_str(product.title.trim());
        if self.has_variations
            && !is_default_title(&variant.title)
            && !variant.title.trim().is_empty()
        {
            title.push_str(" - ");
            title.push_str(variant.title.trim());
        }
        truncate_chars(&mut title, limits::TITLE);

        let (price, sale_price) = match variant.compare_at_price {
            Some(list)
                if list.currency == variant.price.currency
                    && list.amount > variant.price.amount =>
            {
                (list, Some(variant.price))
            }
            _ => (variant.price, None),
        };

        let primary = variant.media.first().or_else(|| product.media.first());
        let additional = additional_images(product, primary.map(|m| &m.url));

        let sku = variant
            .sku
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let weight = variant
            .weight
            .filter(|w| w.value.is_finite() && w.value > 0.0);
        let is_default = is_default_options(&variant.selected_options);

        FlatRow {
            is_eligible_search: true,
            is_eligible_checkout: mapper.checkout_eligible,
            item_id: variant.id.clone(),
            gtin: variant.barcode.as_deref().and_then(gtin_from_barcode),
            mpn: sku
                .filter(|s| s.chars().count() <= limits::MPN)
                .map(str::to_owned),
            title,
            description: Arc::clone(&self.description),
            url: self.urls.variant_url(&variant.id),
            product_category: self.category.clone(),
            brand: Arc::clone(&self.brand),
            weight: weight.map(|w| w.value),
            item_weight_unit: weight.map(|w| w.unit.feed_unit()),
            image_url: primary.map(|m| m.url.as_str().to_owned()),
            additional_image_urls: additional,
            price,
            sale_price,
            availability: variant.availability(),
            group_id: Arc::clone(&self.group_id),
            listing_has_variations: self.has_variations,
            variant_dict: (!is_default && !variant.selected_options.is_empty()).then(|| {
                VariantDict(
                    variant
                        .selected_options
                        .iter()
                        .map(|o| (o.name.trim().to_lowercase(), o.value.clone()))
                        .collect(),
                )
            }),
            item_group_title: Arc::clone(&self.item_group_title),
            color: option_value(&variant.selected_options, &["color", "colour"])
                .map(|v| truncated(v, limits::COLOR)),
            size: option_value(&variant.selected_options, &["size"])
                .map(|v| truncated(v, limits::SIZE)),
            offer_id: sku.unwrap_or(&variant.id).to_owned(),
            seller_name: Arc::clone(&mapper.seller_name),
            seller_url: Arc::clone(&mapper.seller_url),
            seller_privacy_policy: mapper.privacy.clone(),
            seller_tos: mapper.terms.clone(),
            accepts_returns: mapper.opts.accepts_returns,
            return_deadline_in_days: mapper.return_deadline_in_days,
            return_policy: mapper.return_policy.clone(),
            target_countries: Arc::clone(&mapper.target_countries),
            store_country: Arc::clone(&mapper.store_country),
        }
    }
}

/// Whether the product is a listing with real choices: more than one
/// variant, or a single variant with options other than the default title.
pub(crate) fn has_variations(product: &Product) -> bool {
    product.variants.len() > 1
        || product
            .variants
            .first()
            .is_some_and(|v| !is_default_options(&v.selected_options))
}

/// Shopify gives option-less products one variant with `Title: Default Title`.
pub(crate) fn is_default_options(options: &[SelectedOption]) -> bool {
    options
        .iter()
        .all(|o| o.name.trim().eq_ignore_ascii_case("title") && is_default_title(&o.value))
}

fn is_default_title(title: &str) -> bool {
    title.trim().eq_ignore_ascii_case("default title")
}

/// The value of the first option whose name is one of `names` or ends with
/// one of them as a word (`Color`, `Frame colour`, `Shoe Size`).
fn option_value<'a>(options: &'a [SelectedOption], names: &[&str]) -> Option<&'a str> {
    options
        .iter()
        .find(|o| {
            let name = o.name.trim().as_bytes();
            names.iter().map(|n| n.as_bytes()).any(|n| {
                name.eq_ignore_ascii_case(n)
                    || (name.len() > n.len()
                        && name[name.len() - n.len()..].eq_ignore_ascii_case(n)
                        && name[name.len() - n.len() - 1] == b' ')
            })
        })
        .map(|o| o.value.trim())
        .filter(|v| !v.is_empty())
}

fn additional_images(product: &Product, primary: Option<&Url>) -> Option<String> {
    let mut out = String::new();
    let others = product
        .media
        .iter()
        .filter(|m| Some(&m.url) != primary)
        .take(MAX_ADDITIONAL_IMAGES);
    for media in others {
        if !out.is_empty() {
            out.push(',');
        }
        push_list_url(&mut out, media.url.as_str());
    }
    (!out.is_empty()).then_some(out)
}

fn push_list_url(out: &mut String, url: &str) {
    for (i, part) in url.split(',').enumerate() {
        if i > 0 {
            out.push_str("%2C");
        }
        out.push_str(part);
    }
}

/// Product page URL pieces: `prefix` ends where `variant=` goes (after `?`
/// or `&`), `suffix` holds the encoded attribution parameters (`&a=b…`).
struct ProductUrls {
    prefix: Option<String>,
    suffix: String,
}

/// The attribution parameters encoded as `&a=b…`, empty without any.
fn attribution_suffix(opts: &FeedOptions) -> String {
    let mut suffix = String::new();
    if !opts.url_params.is_empty() {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        params.extend_pairs(
            opts.url_params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        suffix.push('&');
        suffix.push_str(&params.finish());
    }
    suffix
}

impl ProductUrls {
    fn new(product: &Product, storefront: &Url, suffix: &str) -> Self {
        ProductUrls {
            prefix: product_page(product, storefront).map(|mut page| {
                page.set_fragment(None);
                let separator = match page.query() {
                    None => "?",
                    Some("") => "",
                    Some(q) if q.ends_with('&') => "",
                    Some(_) => "&",
                };
                let mut prefix = String::from(page);
                prefix.push_str(separator);
                prefix
            }),
            suffix: suffix.to_owned(),
        }
    }

    /// `{page}?variant={id}&{attribution}`; empty when the product has no
    /// page URL (validation then rejects the row).
    fn variant_url(&self, variant_id: &str) -> String {
        let Some(prefix) = &self.prefix else {
            return String::new();
        };
        let mut url =
            String::with_capacity(prefix.len() + 8 + variant_id.len() + self.suffix.len());
        url.push_str(prefix);
        url.push_str("variant=");
        url.extend(url::form_urlencoded::byte_serialize(variant_id.as_bytes()));
        url.push_str(&self.suffix);
        url
    }

    /// The product page with the attribution parameters and no variant.
    fn product_url(&self) -> Option<String> {
        let prefix = self.prefix.as_deref()?;
        let mut url = prefix.to_owned();
        match self.suffix.strip_prefix('&') {
            Some(params) => url.push_str(params),
            None => {
                // No parameters: drop the dangling separator.
                if url.ends_with('?') || url.ends_with('&') {
                    url.pop();
                }
            }
        }
        Some(url)
    }
}

/// The product's own page URL (platform-given, else
/// `{storefront}/products/{handle}`), without a variant.
fn product_page(product: &Product, storefront: &Url) -> Option<Url> {
    if let Some(url) = &product.url {
        return Some(url.clone());
    }
    let handle = product.handle.trim();
    if handle.is_empty() {
        return None;
    }
    let mut page = storefront.clone();
    page.set_query(None);
    page.set_fragment(None);
    page.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .push("products")
        .push(handle);
    Some(page)
}

/// The product page URL (with attribution parameters, without a variant) as
/// used by the ACP form.
pub(crate) fn product_url(product: &Product, opts: &FeedOptions) -> Option<String> {
    ProductUrls::new(product, &opts.storefront_url, &attribution_suffix(opts)).product_url()
}

/// Truncates `s` to at most `max` characters, never splitting a character,
/// and trims whitespace left at the cut.
pub(crate) fn truncate_chars(s: &mut String, max: usize) {
    if s.len() <= max {
        return; // bytes ≥ chars
    }
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
        let trimmed = s.trim_end().len();
        s.truncate(trimmed);
    }
}

fn truncated(s: &str, max: usize) -> String {
    let mut owned = s.to_owned();
    truncate_chars(&mut owned, max);
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Media, ShopPolicies};
    use crate::feed::test_products::{self, options, usd};

    #[test]
    fn multi_variant_apparel_has_one_row_per_variant_with_shared_group() {
        let product = test_products::apparel();
        let rows = flat_rows(&product, &options());
        assert_eq!(rows.len(), product.variants.len());
        for (row, variant) in rows.iter().zip(&product.variants) {
            assert_eq!(row.item_id, variant.id);
            assert_eq!(&*row.group_id, product.id);
            assert!(row.listing_has_variations);
            assert_eq!(&*row.item_group_title, "Trail Runner");
            assert!(row.title.starts_with("Trail Runner - "));
        }
        let first = &rows[0];
        assert_eq!(first.title, "Trail Runner - Blue / 9");
        assert_eq!(
            first.variant_dict,
            Some(VariantDict(vec![
                ("color".into(), "Blue".into()),
                ("size".into(), "9".into())
            ]))
        );
        assert_eq!(first.color.as_deref(), Some("Blue"));
        assert_eq!(first.size.as_deref(), Some("9"));
        assert_eq!(&*first.brand, "NorthPeak");
        assert_eq!(
            first.product_category.as_deref(),
            Some("Apparel & Accessories > Shoes > Athletic Shoes")
        );
    }

    #[test]
    fn sale_price_comes_from_a_higher_compare_at_price() {
        let rows = flat_rows(&test_products::apparel(), &options());
        // Variant 0 is on sale: 129.99 → 99.99.
        assert_eq!(rows[0].price, usd(12999));
        assert_eq!(rows[0].sale_price, Some(usd(9999)));
        // Variant 1 has a compare-at equal to the price: no sale.
        assert_eq!(rows[1].price, usd(12999));
        assert_eq!(rows[1].sale_price, None);
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["price"], "129.99 USD");
        assert_eq!(json["sale_price"], "99.99 USD");
    }

    #[test]
    fn compare_at_in_another_currency_is_ignored() {
        let mut product = test_products::apparel();
        product.variants[0].compare_at_price = Some(Money::new(20000, Currency::EUR));
        let rows = flat_rows(&product, &options());
        assert_eq!(rows[0].price, usd(9999));
        assert_eq!(rows[0].sale_price, None);
    }

    #[test]
    fn urls_carry_variant_and_attribution_parameters() {
        let mut opts = options();
        opts.url_params = vec![
            ("utm_source".into(), "chatgpt".into()),
            ("utm_medium".into(), "ai agent".into()),
        ];
        let product = test_products::apparel();
        let rows = flat_rows(&product, &opts);
        assert_eq!(
            rows[0].url,
            "https://northpeak.example/products/trail-runner?variant=4400001&utm_source=chatgpt&utm_medium=ai+agent"
        );
        assert_eq!(
            product_url(&product, &opts).as_deref(),
            Some(
                "https://northpeak.example/products/trail-runner?utm_source=chatgpt&utm_medium=ai+agent"
            )
        );
        assert_eq!(
            product_url(&product, &options()).as_deref(),
            Some("https://northpeak.example/products/trail-runner")
        );
    }

    #[test]
    fn storefront_url_is_used_when_the_product_has_none() {
        let mut product = test_products::single_untracked();
        product.url = None;
        product.handle = "gift wrap/€".into();
        let mut opts = options();
        opts.storefront_url = Url::parse("https://shop.example/en/").unwrap();
        let rows = flat_rows(&product, &opts);
        assert_eq!(
            rows[0].url,
            "https://shop.example/en/products/gift%20wrap%2F%E2%82%AC?variant=5500001"
        );
    }

    #[test]
    fn existing_query_and_fragment_on_product_url_are_handled() {
        let mut product = test_products::single_untracked();
        product.url = Some(Url::parse("https://shop.example/p/wrap?ref=x#reviews").unwrap());
        let rows = flat_rows(&product, &options());
        assert_eq!(
            rows[0].url,
            "https://shop.example/p/wrap?ref=x&variant=5500001"
        );
    }

    #[test]
    fn single_default_variant_has_no_variations_or_dict() {
        let product = test_products::single_untracked();
        let rows = flat_rows(&product, &options());
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert!(!row.listing_has_variations);
        assert_eq!(row.title, "Gift Wrap");
        assert_eq!(row.variant_dict, None);
        assert_eq!(row.availability, Availability::InStock);
        assert_eq!(row.offer_id, row.item_id, "no SKU: offer_id is the item id");
        assert_eq!(row.mpn, None);
        assert_eq!(
            &*row.brand, "NorthPeak Outfitters",
            "no vendor: seller name"
        );
        let json = serde_json::to_value(row).unwrap();
        assert!(json.get("variant_dict").is_none());
        assert!(json.get("weight").is_none());
    }

    #[test]
    fn single_variant_with_real_options_has_variations() {
        let mut product = test_products::single_untracked();
        product.variants[0].selected_options = vec![SelectedOption {
            name: "Size".into(),
            value: "One Size".into(),
        }];
        product.variants[0].title = "One Size".into();
        let row = &flat_rows(&product, &options())[0];
        assert!(row.listing_has_variations);
        assert_eq!(row.title, "Gift Wrap - One Size");
        assert_eq!(row.size.as_deref(), Some("One Size"));
    }

    #[test]
    fn availability_follows_stock_policy() {
        let oos = &flat_rows(&test_products::out_of_stock_deny(), &options())[0];
        assert_eq!(oos.availability, Availability::OutOfStock);
        let back = &flat_rows(&test_products::backorder_continue(), &options())[0];
        assert_eq!(back.availability, Availability::Backorder);
        let json = serde_json::to_value(back).unwrap();
        assert_eq!(json["availability"], "backorder");
    }

    #[test]
    fn description_is_plain_text_from_html() {
        let row = &flat_rows(&test_products::apparel(), &options())[0];
        assert!(
            row.description
                .starts_with("The Trail Runner 2\nBuilt for long days")
        );
        assert!(!row.description.contains('<') || row.description.contains("<we reply"));
        assert!(!row.description.contains("@type"), "script content dropped");
    }

    #[test]
    fn empty_description_falls_back_to_the_title() {
        let mut product = test_products::single_untracked();
        product.description_html = "<p> </p>".into();
        assert_eq!(
            &*flat_rows(&product, &options())[0].description,
            "Gift Wrap"
        );
    }

    #[test]
    fn long_texts_are_truncated_on_character_boundaries() {
        let mut product = test_products::apparel();
        product.title = "Ü".repeat(200);
        product.description_html = "é".repeat(6000);
        product.vendor = Some("V".repeat(100));
        let row = &flat_rows(&product, &options())[0];
        assert_eq!(row.title.chars().count(), 150);
        assert_eq!(row.item_group_title.chars().count(), 150);
        assert_eq!(row.description.chars().count(), 5000);
        assert_eq!(row.brand.chars().count(), 70);
    }

    #[test]
    fn only_valid_gtins_are_emitted_and_skus_become_mpn() {
        let rows = flat_rows(&test_products::apparel(), &options());
        assert_eq!(rows[0].gtin.as_deref(), Some("0036000291452"));
        assert_eq!(rows[0].mpn.as_deref(), Some("TR2-BLU-09"));
        assert_eq!(rows[0].offer_id, "TR2-BLU-09");
        // Variant 2's barcode has a wrong check digit.
        assert_eq!(rows[2].gtin, None);
        let json = serde_json::to_value(&rows[2]).unwrap();
        assert!(json.get("gtin").is_none());
    }

    #[test]
    fn images_prefer_variant_media_and_list_the_rest() {
        let product = test_products::apparel();
        let rows = flat_rows(&product, &options());
        // Blue variants have their own image.
        assert_eq!(
            rows[0].image_url.as_deref(),
            Some("https://cdn.example/trail-runner-blue.jpg")
        );
        assert_eq!(
            rows[0].additional_image_urls.as_deref(),
            Some(
                "https://cdn.example/trail-runner.jpg,https://cdn.example/trail-runner-sole.jpg,https://cdn.example/trail-runner-side.jpg?v=1%2C2"
            )
        );
        // Black variants fall back to the first product image.
        assert_eq!(
            rows[2].image_url.as_deref(),
            Some("https://cdn.example/trail-runner.jpg")
        );
        assert_eq!(
            rows[2].additional_image_urls.as_deref(),
            Some(
                "https://cdn.example/trail-runner-blue.jpg,https://cdn.example/trail-runner-sole.jpg,https://cdn.example/trail-runner-side.jpg?v=1%2C2"
            )
        );
        let bare = &flat_rows(&test_products::missing_image(), &options())[0];
        assert_eq!(bare.image_url, None);
        assert_eq!(bare.additional_image_urls, None);
    }

    #[test]
    fn additional_images_are_capped() {
        let mut product = test_products::single_untracked();
        product.media = (0..15)
            .map(|i| Media {
                url: Url::parse(&format!("https://cdn.example/{i}.jpg")).unwrap(),
                alt_text: None,
                width: None,
                height: None,
            })
            .collect();
        let row = &flat_rows(&product, &options())[0];
        let list = row.additional_image_urls.as_deref().unwrap();
        assert_eq!(list.split(',').count(), MAX_ADDITIONAL_IMAGES);
        assert!(
            !list.contains("/0.jpg"),
            "the primary image is not repeated"
        );
    }

    #[test]
    fn weight_is_written_without_trailing_zeros() {
        let rows = flat_rows(&test_products::apparel(), &options());
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["weight"], serde_json::json!(0.255));
        assert_eq!(json["item_weight_unit"], "kg");
        let mut product = test_products::apparel();
        product.variants[0].weight.as_mut().unwrap().value = 2.0;
        let row = &flat_rows(&product, &options())[0];
        let text = serde_json::to_string(row).unwrap();
        assert!(text.contains("\"weight\":2,"), "{text}");
        let mut s = String::new();
        write_weight(&mut s, 2.0);
        s.push('|');
        write_weight(&mut s, 0.1);
        s.push('|');
        write_weight(&mut s, 12.50);
        assert_eq!(s, "2|0.1|12.5");
        // Zero weight (the platform default) is not emitted.
        product.variants[0].weight.as_mut().unwrap().value = 0.0;
        assert_eq!(flat_rows(&product, &options())[0].weight, None);
    }

    #[test]
    fn checkout_eligibility_needs_the_flag_and_both_policies() {
        let product = test_products::single_untracked();
        let mut opts = options();
        opts.checkout_eligible = true;
        assert!(flat_rows(&product, &opts)[0].is_eligible_checkout);
        opts.terms_of_service_url = None;
        assert!(!flat_rows(&product, &opts)[0].is_eligible_checkout);
        let mut opts = options();
        opts.checkout_eligible = false;
        assert!(!flat_rows(&product, &opts)[0].is_eligible_checkout);
        assert!(flat_rows(&product, &opts)[0].is_eligible_search);
    }

    #[test]
    fn return_deadline_is_dropped_when_returns_are_not_accepted() {
        let product = test_products::single_untracked();
        let mut opts = options();
        opts.accepts_returns = Some(true);
        opts.return_deadline_in_days = Some(30);
        assert_eq!(
            flat_rows(&product, &opts)[0].return_deadline_in_days,
            Some(30)
        );
        opts.accepts_returns = Some(false);
        let row = &flat_rows(&product, &opts)[0];
        assert_eq!(row.accepts_returns, Some(false));
        assert_eq!(row.return_deadline_in_days, None);
    }

    #[test]
    fn json_keys_follow_the_documented_column_order() {
        let mut opts = options();
        opts.accepts_returns = Some(true);
        opts.return_deadline_in_days = Some(30);
        let row = &flat_rows(&test_products::apparel(), &opts)[0];
        let text = serde_json::to_string(row).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = value.as_object().unwrap();
        assert_eq!(
            obj.len(),
            FLAT_COLUMNS.len(),
            "every field is set on this row"
        );
        assert_eq!(top_level_keys(&text), FLAT_COLUMNS);
        assert_eq!(value["target_countries"], serde_json::json!(["US"]));
        assert_eq!(value["is_eligible_search"], serde_json::json!(true));
        assert_eq!(value["variant_dict"]["color"], "Blue");
    }

    /// The keys of a JSON object in document order.
    fn top_level_keys(json: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some(key) = map.next_key::<String>()? {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            keys.push(key);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(V)
            }
        }
        serde_json::from_str::<Keys>(json).unwrap().0
    }

    #[test]
    fn options_come_from_shop_facts() {
        let facts = ShopFacts {
            name: "NorthPeak".into(),
            url: Url::parse("https://northpeak.example").unwrap(),
            currency: Currency::USD,
            country: Some("us".into()),
            ships_to: vec!["US".into(), "CA".into()],
            policies: ShopPolicies {
                refund: Some(
                    Url::parse("https://northpeak.example/policies/refund-policy").unwrap(),
                ),
                privacy: None,
                terms: None,
                shipping: None,
            },
        };
        let opts = FeedOptions::from_shop(&facts).unwrap();
        assert_eq!(opts.store_country, "US");
        assert_eq!(opts.target_countries, vec!["US".to_owned()]);
        assert!(opts.return_policy_url.is_some());
        assert!(!opts.checkout_eligible);
        let no_country = ShopFacts {
            country: None,
            ..facts.clone()
        };
        assert!(matches!(
            FeedOptions::from_shop(&no_country),
            Err(FeedError::MissingStoreCountry)
        ));
        let bad = ShopFacts {
            country: Some("USA".into()),
            ..facts
        };
        assert!(matches!(
            FeedOptions::from_shop(&bad),
            Err(FeedError::InvalidCountry(c)) if c == "USA"
        ));
    }

    #[test]
    fn option_names_match_colour_and_size_variants() {
        let opt = |name: &str, value: &str| SelectedOption {
            name: name.into(),
            value: value.into(),
        };
        let opts = [
            opt("Frame Colour", "Red"),
            opt("Shoe size", "10"),
            opt("Sizes", "x"),
        ];
        assert_eq!(option_value(&opts, &["color", "colour"]), Some("Red"));
        assert_eq!(option_value(&opts, &["size"]), Some("10"));
        let none = [opt("Colorway", "x"), opt("Resize", "y")];
        assert_eq!(option_value(&none, &["color", "colour"]), None);
        assert_eq!(option_value(&none, &["size"]), None);
    }

    #[test]
    fn stack_formatted_prices_match_money_display() {
        let mut rng = fastrand::Rng::with_seed(11);
        let kwd = Currency::parse("KWD").unwrap();
        let clf = Currency::parse("CLF").unwrap();
        let mut amounts = vec![0, 1, -1, 5, 99, 100, 101, i64::MAX, i64::MIN, -5];
        amounts.extend((0..5_000).map(|_| rng.i64(-10_000_000..10_000_000)));
        for amount in amounts {
            for currency in [Currency::USD, Currency::JPY, kwd, clf] {
                let m = Money::new(amount, currency);
                assert_eq!(
                    MoneyText::new(&m).as_str(),
                    m.to_string(),
                    "{amount} {currency}"
                );
            }
        }
    }

    #[test]
    fn truncation_never_splits_characters() {
        let mut s = "ab€cd".to_owned();
        truncate_chars(&mut s, 3);
        assert_eq!(s, "ab€");
        let mut s = "ab cd".to_owned();
        truncate_chars(&mut s, 3);
        assert_eq!(s, "ab", "whitespace at the cut is trimmed");
        let mut s = "日本語".to_owned();
        truncate_chars(&mut s, 5);
        assert_eq!(s, "日本語");
    }
}
