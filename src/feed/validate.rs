//! Per-row validation against the OpenAI flat feed rules (acp.md §4.2) that
//! apply to the fields [`FlatRow`] carries.
//!
//! Errors make a row invalid (it is left out of every encoding); warnings are
//! reported to the merchant but the row is kept. This module only judges
//! rows; it never changes them.
//!
//! Rules and their severity:
//!
//! | rule | severity |
//! |---|---|
//! | required text fields present and non-empty (`item_id`, `title`, `description`, `url`, `brand`, `image_url`, `group_id`, `item_group_title`, `seller_name`, `seller_url`, `store_country`), `target_countries` non-empty | error |
//! | lengths: `item_id` ≤100, `title` ≤150, `item_group_title` ≤150, `description` ≤5000, `brand` ≤70, `seller_name` ≤70, `group_id` ≤70, `mpn` ≤70, `color` ≤40, `size` ≤20 (characters) | error |
//! | `item_id` is ASCII alphanumeric plus `-` and `_` | error |
//! | URL fields (`url`, `image_url`, each of `additional_image_urls`, `seller_url`, `seller_privacy_policy`, `seller_tos`, `return_policy`) are absolute http(s) URLs without whitespace | error |
//! | `price`/`sale_price` match `^\d+(\.\d+)? [A-Z]{3}$` (non-negative amounts) | error |
//! | `sale_price` ≤ `price`, same currency | error |
//! | `gtin` is 8–14 digits | error |
//! | `gtin` has a valid GS1 check digit | warning |
//! | `is_eligible_checkout` needs `is_eligible_search`, `seller_privacy_policy` and `seller_tos` | error |
//! | `target_countries` entries and `store_country` are upper-case alpha-2 | error |
//! | `weight` is positive and has `item_weight_unit`; a unit needs a weight | error |
//! | `return_deadline_in_days` is positive and only present when returns are not declared unaccepted | error |
//! | `return_policy` present | warning (the spec marks it required; a shop without a refund page still gets listed) |
//! | `title` not ALL CAPS | warning |
//!
//! `availability` is an enum in [`FlatRow`], so its value set is enforced by
//! the type rather than checked here.

use serde::Serialize;
use url::Url;

use super::gtin::is_valid_gtin;
use super::map::{FlatRow, is_alpha2, limits};
use crate::domain::Money;

/// How bad a [`RowIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported; the row stays in the feed.
    Warning,
    /// The row is invalid and left out of the feed.
    Error,
}

/// One problem with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// The flat feed field name.
    pub field: &'static str,
    pub severity: Severity,
    /// For the merchant; names the value's problem, never a secret.
    pub message: String,
}

/// Whether any issue is an [`Severity::Error`], i.e. the row is invalid.
pub fn has_errors(issues: &[RowIssue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}

/// Every issue with `row`, in field order. An empty result (or one with only
/// warnings) means the row may be published. Allocates only when there are
/// issues.
pub fn validate_row(row: &FlatRow) -> Vec<RowIssue> {
    let mut v = Issues(Vec::new());

    v.required("item_id", &row.item_id);
    v.max_len("item_id", &row.item_id, limits::ITEM_ID);
    if !row
        .item_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        v.error(
            "item_id",
            "must contain only letters, digits, `-` and `_`".to_owned(),
        );
    }

    if let Some(gtin) = &row.gtin {
        if !(8..=14).contains(&gtin.len()) || !gtin.bytes().all(|b| b.is_ascii_digit()) {
            v.error(
                "gtin",
                "must be 8 to 14 digits without spaces or dashes".to_owned(),
            );
        } else if !is_valid_gtin(gtin) {
            v.warning(
                "gtin",
                "is not a valid GTIN-8/12/13/14 (check digit or length)".to_owned(),
            );
        }
    }
    if let Some(mpn) = &row.mpn {
        v.max_len("mpn", mpn, limits::MPN);
    }

    v.required("title", &row.title);
    v.max_len("title", &row.title, limits::TITLE);
    if is_all_caps(&row.title) {
        v.warning(
            "title",
            "is in all capital letters; use normal capitalisation".to_owned(),
        );
    }
    v.required("description", &row.description);
    v.max_len("description", &row.description, limits::DESCRIPTION);
    v.required_url("url", &row.url);
    v.required("brand", &row.brand);
    v.max_len("brand", &row.brand, limits::BRAND);

    match (row.weight, row.item_weight_unit) {
        (Some(w), _) if !(w.is_finite() && w > 0.0) => {
            v.error("weight", "must be a positive number".to_owned());
        }
        (Some(_), None) => v.error("item_weight_unit", "is required with weight".to_owned()),
        (None, Some(_)) => v.error("weight", "is required with item_weight_unit".to_owned()),
        _ => {}
    }

    match &row.image_url {
        Some(url) => v.required_url("image_url", url),
        None => v.error(
            "image_url",
            "is required: the product has no image".to_owned(),
        ),
    }
    if let Some(list) = &row.additional_image_urls {
        for url in list.split(',') {
            v.url("additional_image_urls", url);
        }
    }

    v.price("price", &row.price);
    if let Some(sale) = &row.sale_price {
        v.price("sale_price", sale);
        if sale.currency != row.price.currency {
            v.error(
                "sale_price",
                format!(
                    "currency {} differs from price currency {}",
                    sale.currency, row.price.currency
                ),
            );
        } else if sale.amount > row.price.amount {
            v.error(
                "sale_price",
                format!("{sale} is higher than the price {}", row.price),
            );
        }
    }

    v.required("group_id", &row.group_id);
    v.max_len("group_id", &row.group_id, limits::GROUP_ID);
    v.required("item_group_title", &row.item_group_title);
    v.max_len(
        "item_group_title",
        &row.item_group_title,
        limits::ITEM_GROUP_TITLE,
    );
    if let Some(color) = &row.color {
        v.max_len("color", color, limits::COLOR);
    }
    if let Some(size) = &row.size {
        v.max_len("size", size, limits::SIZE);
    }

    v.required("seller_name", &row.seller_name);
    v.max_len("seller_name", &row.seller_name, limits::SELLER_NAME);
    v.required_url("seller_url", &row.seller_url);
    if let Some(url) = &row.seller_privacy_policy {
        v.url("seller_privacy_policy", url);
    }
    if let Some(url) = &row.seller_tos {
        v.url("seller_tos", url);
    }
    if row.is_eligible_checkout {
        if !row.is_eligible_search {
            v.error(
                "is_eligible_checkout",
                "requires is_eligible_search to be true".to_owned(),
            );
        }
        if row.seller_privacy_policy.is_none() {
            v.error(
                "seller_privacy_policy",
                "is required when is_eligible_checkout is true".to_owned(),
            );
        }
        if row.seller_tos.is_none() {
            v.error(
                "seller_tos",
                "is required when is_eligible_checkout is true".to_owned(),
            );
        }
    }

    if let Some(days) = row.return_deadline_in_days {
        if days == 0 {
            v.error(
                "return_deadline_in_days",
                "must be a positive number of days".to_owned(),
            );
        }
        if row.accepts_returns == Some(false) {
            v.error(
                "return_deadline_in_days",
                "must be absent when accepts_returns is false".to_owned(),
            );
        }
    }
    match &row.return_policy {
        Some(url) => v.url("return_policy", url),
        None => v.warning(
            "return_policy",
            "is missing; add a refund policy page".to_owned(),
        ),
    }

    if row.target_countries.is_empty() {
        v.error("target_countries", "is required".to_owned());
    }
    for country in row.target_countries.iter() {
        if !is_alpha2(country) {
            v.error(
                "target_countries",
                format!("`{country}` is not an upper-case ISO 3166-1 alpha-2 code"),
            );
        }
    }
    if !is_alpha2(&row.store_country) {
        v.error(
            "store_country",
            format!(
                "`{}` is not an upper-case ISO 3166-1 alpha-2 code",
                row.store_country
            ),
        );
    }

    v.0
}

struct Issues(Vec<RowIssue>);

impl Issues {
    fn push(&mut self, field: &'static str, severity: Severity, message: String) {
        self.0.push(RowIssue {
            field,
            severity,
            message,
        });
    }

    fn error(&mut self, field: &'static str, message: String) {
        self.push(field, Severity::Error, message);
    }

    fn warning(&mut self, field: &'static str, message: String) {
        self.push(field, Severity::Warning, message);
    }

    fn required(&mut self, field: &'static str, value: &str) {
        if value.trim().is_empty() {
            self.error(field, "is required".to_owned());
        }
    }

    fn max_len(&mut self, field: &'static str, value: &str, max: usize) {
        // Byte length bounds character count from above: count only when needed.
        if value.len() > max {
            let chars = value.chars().count();
            if chars > max {
                self.error(
                    field,
                    format!("is {chars} characters; at most {max} allowed"),
                );
            }
        }
    }

    fn required_url(&mut self, field: &'static str, value: &str) {
        if value.trim().is_empty() {
            self.error(field, "is required".to_owned());
        } else {
            self.url(field, value);
        }
    }

    fn url(&mut self, field: &'static str, value: &str) {
        if !is_http_url(value) {
            self.error(field, format!("`{}` is not an http(s) URL", shorten(value)));
        }
    }

    fn price(&mut self, field: &'static str, money: &Money) {
        // `Money`'s Display is `<digits>[.<digits>] <3 upper-case letters>`, so
        // the spec's pattern `^\d+(\.\d+)? [A-Z]{3}$` fails only for a sign.
        if money.amount < 0 {
            self.error(field, format!("`{money}` is negative"));
        }
    }
}

/// Whether `s` is an absolute `http`/`https` URL with a host and no
/// whitespace or control characters. Common, plainly valid URLs are accepted
/// by a byte scan; anything else is decided by the URL parser.
pub(crate) fn is_http_url(s: &str) -> bool {
    let bytes = s.as_bytes();
    if simple_http_url(bytes) {
        return true;
    }
    if bytes
        .iter()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return false;
    }
    Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Fast path: `http(s)://` + a plain ASCII host (letters, digits, `.`, `-`)
/// + an optional port ≤ 65535, followed by nothing or a path/query/fragment
///   of printable ASCII that needs no escaping.
fn simple_http_url(b: &[u8]) -> bool {
    let rest = if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        &b[8..]
    } else if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        &b[7..]
    } else {
        return false;
    };
    let host_end = rest
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#' | b':'))
        .unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty()
        || host[0] == b'.'
        || host[0] == b'-'
        || !host
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
        || !host.iter().any(u8::is_ascii_alphabetic)
    {
        return false;
    }
    let mut tail = &rest[host_end..];
    if let Some(after_colon) = tail.strip_prefix(b":") {
        let port_len = after_colon
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(after_colon.len());
        let port = &after_colon[..port_len];
        if port.is_empty()
            || port.len() > 5
            || port.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) > 65_535
        {
            return false;
        }
        tail = &after_colon[port_len..];
    }
    tail.iter().all(|c| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
    })
}

/// All cased letters upper case, at least four of them, over at least two
/// words: `TRAIL RUNNER` is shouting; `TV Stand`, `USB-C Cable` and a
/// one-word model name such as `XR500` are not.
fn is_all_caps(title: &str) -> bool {
    let mut upper = 0usize;
    for c in title.chars() {
        if c.is_lowercase() {
            return false;
        }
        if c.is_uppercase() {
            upper += 1;
        }
    }
    upper >= 4 && title.split_whitespace().count() >= 2
}

/// Values are echoed in messages; keep them short.
fn shorten(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Availability, Currency};
    use crate::feed::map::{FlatRow, VariantDict, flat_rows};
    use crate::feed::test_products::{self, options, usd};

    /// A row with every field set and valid.
    fn valid_row() -> FlatRow {
        let mut opts = options();
        opts.accepts_returns = Some(true);
        opts.return_deadline_in_days = Some(30);
        flat_rows(&test_products::apparel(), &opts).remove(0)
    }

    fn issues_for(field: &str, row: &FlatRow) -> Vec<RowIssue> {
        validate_row(row)
            .into_iter()
            .filter(|i| i.field == field)
            .collect()
    }

    #[test]
    fn a_fully_populated_mapped_row_has_no_issues() {
        assert_eq!(validate_row(&valid_row()), vec![]);
    }

    #[test]
    fn every_mapped_test_product_is_valid_except_the_one_without_an_image() {
        for product in test_products::all() {
            for row in flat_rows(&product, &options()) {
                let issues = validate_row(&row);
                let expect_invalid = product.id == test_products::missing_image().id;
                assert_eq!(
                    has_errors(&issues),
                    expect_invalid,
                    "{}: {issues:?}",
                    product.title
                );
            }
        }
    }

    type Edit = fn(&mut FlatRow);

    /// Each rule: (field, what, passing edit, failing edit, severity of the failure).
    fn rules() -> Vec<(&'static str, &'static str, Edit, Edit, Severity)> {
        vec![
            (
                "item_id",
                "required",
                |r| r.item_id = "A1".into(),
                |r| r.item_id = String::new(),
                Severity::Error,
            ),
            (
                "item_id",
                "≤100",
                |r| r.item_id = "9".repeat(100),
                |r| r.item_id = "9".repeat(101),
                Severity::Error,
            ),
            (
                "item_id",
                "charset",
                |r| r.item_id = "sku-1_A".into(),
                |r| r.item_id = "sku 1/A".into(),
                Severity::Error,
            ),
            (
                "title",
                "required",
                |r| r.title = "Tee".into(),
                |r| r.title = "  ".into(),
                Severity::Error,
            ),
            (
                "title",
                "≤150",
                |r| r.title = "é".repeat(150),
                |r| r.title = "é".repeat(151),
                Severity::Error,
            ),
            (
                "title",
                "not all caps",
                |r| r.title = "USB-C Cable".into(),
                |r| r.title = "TRAIL RUNNER SHOE".into(),
                Severity::Warning,
            ),
            (
                "description",
                "required",
                |r| r.description = "x".into(),
                |r| r.description = String::new().into(),
                Severity::Error,
            ),
            (
                "description",
                "≤5000",
                |r| r.description = "ü".repeat(5000).into(),
                |r| r.description = "ü".repeat(5001).into(),
                Severity::Error,
            ),
            (
                "url",
                "required",
                |r| r.url = "https://a.example/p".into(),
                |r| r.url = String::new(),
                Severity::Error,
            ),
            (
                "url",
                "http(s)",
                |r| r.url = "http://a.example:8080/p?x=1#y".into(),
                |r| r.url = "ftp://a.example/p".into(),
                Severity::Error,
            ),
            (
                "url",
                "no whitespace",
                |r| r.url = "https://a.example/p%20q".into(),
                |r| r.url = "https://a.example/p q".into(),
                Severity::Error,
            ),
            (
                "url",
                "absolute",
                |r| r.url = "https://xn--bcher-kva.example/".into(),
                |r| r.url = "/products/x".into(),
                Severity::Error,
            ),
            (
                "brand",
                "required",
                |r| r.brand = "B".into(),
                |r| r.brand = String::new().into(),
                Severity::Error,
            ),
            (
                "brand",
                "≤70",
                |r| r.brand = "b".repeat(70).into(),
                |r| r.brand = "b".repeat(71).into(),
                Severity::Error,
            ),
            (
                "image_url",
                "required",
                |r| r.image_url = Some("https://cdn.example/a.png".into()),
                |r| r.image_url = None,
                Severity::Error,
            ),
            (
                "image_url",
                "http(s)",
                |r| r.image_url = Some("https://cdn.example/a.png".into()),
                |r| r.image_url = Some("data:image/png;base64,AA".into()),
                Severity::Error,
            ),
            (
                "additional_image_urls",
                "each http(s)",
                |r| {
                    r.additional_image_urls =
                        Some("https://a.example/1.jpg,https://a.example/2.jpg".into())
                },
                |r| r.additional_image_urls = Some("https://a.example/1.jpg,,x".into()),
                Severity::Error,
            ),
            (
                "price",
                "format",
                |r| r.price = Money::new(0, Currency::JPY),
                |r| r.price = usd(-1),
                Severity::Error,
            ),
            (
                "sale_price",
                "≤ price",
                |r| r.sale_price = Some(r.price),
                |r| r.sale_price = Some(usd(r.price.amount + 1)),
                Severity::Error,
            ),
            (
                "sale_price",
                "same currency",
                |r| r.sale_price = Some(usd(1)),
                |r| r.sale_price = Some(Money::new(1, Currency::EUR)),
                Severity::Error,
            ),
            (
                "sale_price",
                "format",
                |r| r.sale_price = Some(usd(0)),
                |r| r.sale_price = Some(usd(-5)),
                Severity::Error,
            ),
            (
                "gtin",
                "8–14 digits",
                |r| r.gtin = Some("96385074".into()),
                |r| r.gtin = Some("1234-5678".into()),
                Severity::Error,
            ),
            (
                "gtin",
                "length",
                |r| r.gtin = Some("00012345600012".into()),
                |r| r.gtin = Some("123456789012345".into()),
                Severity::Error,
            ),
            (
                "gtin",
                "check digit",
                |r| r.gtin = Some("4006381333931".into()),
                |r| r.gtin = Some("4006381333932".into()),
                Severity::Warning,
            ),
            (
                "mpn",
                "≤70",
                |r| r.mpn = Some("m".repeat(70)),
                |r| r.mpn = Some("m".repeat(71)),
                Severity::Error,
            ),
            (
                "group_id",
                "required",
                |r| r.group_id = "g".into(),
                |r| r.group_id = String::new().into(),
                Severity::Error,
            ),
            (
                "group_id",
                "≤70",
                |r| r.group_id = "1".repeat(70).into(),
                |r| r.group_id = "1".repeat(71).into(),
                Severity::Error,
            ),
            (
                "item_group_title",
                "≤150",
                |r| r.item_group_title = "t".repeat(150).into(),
                |r| r.item_group_title = "t".repeat(151).into(),
                Severity::Error,
            ),
            (
                "color",
                "≤40",
                |r| r.color = Some("c".repeat(40)),
                |r| r.color = Some("c".repeat(41)),
                Severity::Error,
            ),
            (
                "size",
                "≤20",
                |r| r.size = Some("s".repeat(20)),
                |r| r.size = Some("s".repeat(21)),
                Severity::Error,
            ),
            (
                "seller_name",
                "required",
                |r| r.seller_name = "S".into(),
                |r| r.seller_name = String::new().into(),
                Severity::Error,
            ),
            (
                "seller_name",
                "≤70",
                |r| r.seller_name = "s".repeat(70).into(),
                |r| r.seller_name = "s".repeat(71).into(),
                Severity::Error,
            ),
            (
                "seller_url",
                "http(s)",
                |r| r.seller_url = "https://s.example".into(),
                |r| r.seller_url = "s.example".into(),
                Severity::Error,
            ),
            (
                "seller_privacy_policy",
                "http(s)",
                |r| r.seller_privacy_policy = Some("https://s.example/p".into()),
                |r| r.seller_privacy_policy = Some("mailto:x@s.example".into()),
                Severity::Error,
            ),
            (
                "seller_tos",
                "http(s)",
                |r| r.seller_tos = Some("https://s.example/t".into()),
                |r| r.seller_tos = Some("not a url".into()),
                Severity::Error,
            ),
            (
                "seller_privacy_policy",
                "required for checkout",
                |r| {
                    r.seller_privacy_policy = None;
                    r.is_eligible_checkout = false;
                },
                |r| r.seller_privacy_policy = None,
                Severity::Error,
            ),
            (
                "seller_tos",
                "required for checkout",
                |r| {
                    r.seller_tos = None;
                    r.is_eligible_checkout = false;
                },
                |r| r.seller_tos = None,
                Severity::Error,
            ),
            (
                "is_eligible_checkout",
                "requires search",
                |r| {
                    r.is_eligible_search = false;
                    r.is_eligible_checkout = false;
                },
                |r| r.is_eligible_search = false,
                Severity::Error,
            ),
            (
                "return_policy",
                "http(s)",
                |r| r.return_policy = Some("https://s.example/r".into()),
                |r| r.return_policy = Some("javascript:alert(1)".into()),
                Severity::Error,
            ),
            (
                "return_policy",
                "present",
                |r| r.return_policy = Some("https://s.example/r".into()),
                |r| r.return_policy = None,
                Severity::Warning,
            ),
            (
                "return_deadline_in_days",
                "positive",
                |r| r.return_deadline_in_days = Some(1),
                |r| r.return_deadline_in_days = Some(0),
                Severity::Error,
            ),
            (
                "return_deadline_in_days",
                "only with returns",
                |r| r.accepts_returns = None,
                |r| r.accepts_returns = Some(false),
                Severity::Error,
            ),
            (
                "target_countries",
                "required",
                |r| r.target_countries = vec!["CA".to_owned(), "US".to_owned()].into(),
                |r| r.target_countries = Vec::new().into(),
                Severity::Error,
            ),
            (
                "target_countries",
                "alpha-2 upper",
                |r| r.target_countries = vec!["GB".to_owned()].into(),
                |r| r.target_countries = vec!["us".to_owned()].into(),
                Severity::Error,
            ),
            (
                "store_country",
                "alpha-2 upper",
                |r| r.store_country = "DE".into(),
                |r| r.store_country = "DEU".into(),
                Severity::Error,
            ),
            (
                "weight",
                "positive",
                |r| r.weight = Some(0.5),
                |r| r.weight = Some(-1.0),
                Severity::Error,
            ),
            (
                "item_weight_unit",
                "required with weight",
                |r| r.item_weight_unit = Some("lb"),
                |r| r.item_weight_unit = None,
                Severity::Error,
            ),
            (
                "weight",
                "required with unit",
                |r| {
                    r.weight = None;
                    r.item_weight_unit = None;
                },
                |r| r.weight = None,
                Severity::Error,
            ),
        ]
    }

    #[test]
    fn each_rule_passes_its_good_case_and_flags_its_bad_case() {
        for (field, what, pass, fail, severity) in rules() {
            let mut good = valid_row();
            pass(&mut good);
            assert_eq!(
                issues_for(field, &good),
                vec![],
                "{field} ({what}): passing case was flagged"
            );
            let mut bad = valid_row();
            fail(&mut bad);
            let issues = issues_for(field, &bad);
            assert!(
                issues.iter().any(|i| i.severity == severity),
                "{field} ({what}): failing case not flagged as {severity:?}: {issues:?}"
            );
            assert_eq!(
                has_errors(&validate_row(&bad)),
                severity == Severity::Error,
                "{field} ({what}): row validity"
            );
        }
    }

    #[test]
    fn availability_and_variant_dict_are_typed() {
        // Enforced by types: any value the row can hold is valid.
        let mut row = valid_row();
        row.availability = Availability::PreOrder;
        row.variant_dict = Some(VariantDict(vec![("size".into(), "M".into())]));
        assert!(!has_errors(&validate_row(&row)));
    }

    #[test]
    fn messages_name_the_problem() {
        let mut row = valid_row();
        row.title = "x".repeat(151);
        let issues = issues_for("title", &row);
        assert_eq!(issues[0].message, "is 151 characters; at most 150 allowed");
        let mut row = valid_row();
        row.sale_price = Some(usd(20000));
        assert_eq!(
            issues_for("sale_price", &row)[0].message,
            "200.00 USD is higher than the price 129.99 USD"
        );
    }

    #[test]
    fn fast_url_check_agrees_with_the_parser() {
        let cases = [
            ("https://cdn.example/a.jpg?v=1&w=2#x", true),
            ("HTTP://Shop.Example:443/", true),
            ("https://shop.example:99999/", false),
            ("https://shop.example:/", true),
            ("https://127.0.0.1/x", true),
            ("https://[::1]/x", true),
            ("https://bücher.example/", true),
            ("https://shop.example/a|b", true),
            ("https:///nohost", true),
            ("https://", false),
            ("http//x.example", false),
            ("ftp://x.example", false),
            ("https://x.example/a\tb", false),
        ];
        for (url, want) in cases {
            let parsed = Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            let no_ws = !url
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
            assert_eq!(is_http_url(url), parsed && no_ws, "{url}");
            assert_eq!(is_http_url(url), want, "{url}");
            if simple_http_url(url.as_bytes()) {
                assert!(parsed, "fast path accepted an unparsable URL: {url}");
            }
        }
    }
}
