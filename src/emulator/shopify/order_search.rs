//! The `orders(query:)` search syntax: the subset the bridge and its tests
//! use, with Shopify's term grammar (terms joined by spaces or `AND`,
//! alternatives by `OR`, negation with `-` or `NOT`, values quoted with `'`
//! or `"`, `:>`/`:>=`/`:<`/`:<=` on dates).
//!
//! Fields: `tag`, `tag_not`, `source_identifier`, `name` (with or without
//! `#`), `id`, `email`, `financial_status`, `test`, `created_at`,
//! `processed_at`, `updated_at`. Free text matches the name, email, tags and
//! source identifier. A field this emulator does not know matches **no**
//! order: a typo must not turn a lookup into "every order".

use super::data::{parse_datetime, parse_gid};
use super::orders::Order;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
struct Term {
    negated: bool,
    field: Option<String>,
    cmp: Cmp,
    value: String,
}

/// A parsed order search: OR of AND-groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OrderQuery {
    groups: Vec<Vec<Term>>,
}

/// Splits on whitespace outside quotes; quotes are removed and `\` escapes
/// the next character inside them.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(_) if c == '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn parse_term(token: &str, negated: bool) -> Term {
    let (negated, token) = match token.strip_prefix('-') {
        Some(rest) if !rest.is_empty() => (!negated, rest),
        _ => (negated, token),
    };
    let Some((field, rest)) = token.split_once(':') else {
        return Term {
            negated,
            field: None,
            cmp: Cmp::Eq,
            value: token.to_owned(),
        };
    };
    let field = field.to_ascii_lowercase();
    let is_date = matches!(field.as_str(), "created_at" | "processed_at" | "updated_at");
    let (cmp, value) = if !is_date {
        (Cmp::Eq, rest)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Cmp::Ge, v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        (Cmp::Le, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Cmp::Gt, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Cmp::Lt, v)
    } else {
        (Cmp::Eq, rest)
    };
    Term {
        negated,
        field: Some(field),
        cmp,
        value: value.to_owned(),
    }
}

impl OrderQuery {
    /// Parses a search string; never fails.
    pub(crate) fn parse(text: &str) -> Self {
        let mut groups = vec![Vec::new()];
        let mut negate_next = false;
        for token in tokenize(text) {
            match token.as_str() {
                "AND" => {}
                "OR" => groups.push(Vec::new()),
                "NOT" => negate_next = true,
                _ => {
                    let term = parse_term(&token, negate_next);
                    negate_next = false;
                    if let Some(group) = groups.last_mut() {
                        group.push(term);
                    }
                }
            }
        }
        groups.retain(|g| !g.is_empty());
        OrderQuery { groups }
    }

    /// Does the query select this order? An empty query selects all.
    pub(crate) fn matches(&self, order: &Order) -> bool {
        self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| g.iter().all(|t| t.matches(order)))
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn compare(actual: i64, cmp: Cmp, wanted: i64) -> bool {
    match cmp {
        // `:` on a date-time means "within that second".
        Cmp::Eq => actual.div_euclid(1000) == wanted.div_euclid(1000),
        Cmp::Gt => actual > wanted,
        Cmp::Ge => actual >= wanted,
        Cmp::Lt => actual < wanted,
        Cmp::Le => actual <= wanted,
    }
}

impl Term {
    fn matches(&self, o: &Order) -> bool {
        let Some(field) = self.field.as_deref() else {
            let v = self.value.as_str();
            let hit = eq(&o.name, v)
                || eq(o.name.trim_start_matches('#'), v)
                || o.email.as_deref().is_some_and(|e| eq(e, v))
                || o.tags.iter().any(|t| eq(t, v))
                || o.source_identifier.as_deref().is_some_and(|s| eq(s, v));
            return hit != self.negated;
        };
        let v = self.value.as_str();
        let hit = match field {
            "tag" => o.tags.iter().any(|t| eq(t, v)),
            "tag_not" => !o.tags.iter().any(|t| eq(t, v)),
            "source_identifier" => o.source_identifier.as_deref().is_some_and(|s| s == v),
            "name" => eq(o.name.trim_start_matches('#'), v.trim_start_matches('#')),
            "id" => parse_gid(v, "Order") == Some(o.id),
            "email" => o.email.as_deref().is_some_and(|e| eq(e, v)),
            "financial_status" => eq(&o.financial_status, v),
            "test" => v.parse::<bool>().is_ok_and(|b| b == o.test),
            "created_at" => parse_datetime(v).is_some_and(|w| compare(o.created_at, self.cmp, w)),
            "updated_at" => parse_datetime(v).is_some_and(|w| compare(o.updated_at, self.cmp, w)),
            "processed_at" => {
                parse_datetime(v).is_some_and(|w| compare(o.processed_at, self.cmp, w))
            }
            // Unknown fields select nothing (negated: everything).
            _ => false,
        };
        hit != self.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::data::Price;
    use crate::emulator::shopify::orders::{IndexGate, InventoryBehaviour};

    fn order(name: &str, tags: &[&str], source: Option<&str>) -> Order {
        Order {
            id: 6_100_000_001_001,
            number: 1001,
            name: name.to_owned(),
            currency: "USD".to_owned(),
            created_at: parse_datetime("2026-11-28T10:00:00Z").unwrap(),
            processed_at: parse_datetime("2026-11-28T10:00:00Z").unwrap(),
            email: Some("buyer@example.com".to_owned()),
            phone: None,
            note: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            source_identifier: source.map(str::to_owned),
            source_name: None,
            custom_attributes: Vec::new(),
            test: false,
            taxes_included: false,
            lines: Vec::new(),
            shipping_lines: Vec::new(),
            tax_lines: Vec::new(),
            transactions: Vec::new(),
            shipping_address: None,
            billing_address: None,
            discount_code: None,
            financial_status: "PAID".to_owned(),
            inventory_behaviour: InventoryBehaviour::Bypass,
            subtotal: Price(0),
            total_discounts: Price(0),
            total_shipping: Price(0),
            total_tax: Price(0),
            total: Price(0),
            updated_at: parse_datetime("2026-11-28T10:00:00Z").unwrap(),
            cancelled_at: None,
            cancel_reason: None,
            closed_at: None,
            fulfillment_orders: Vec::new(),
            fulfillments: Vec::new(),
            refunds: Vec::new(),
            index_gate: IndexGate::Immediate,
        }
    }

    fn hits(query: &str, o: &Order) -> bool {
        OrderQuery::parse(query).matches(o)
    }

    #[test]
    fn tags_with_colons_match_exactly_when_quoted() {
        let o = order("#1001", &["acp:cs_123", "vip"], Some("cs_123"));
        assert!(hits("tag:'acp:cs_123'", &o));
        assert!(hits("tag:\"ACP:CS_123\"", &o));
        assert!(!hits("tag:'acp:cs_12'", &o));
        assert!(!hits("tag:'acp:cs_1234'", &o));
        assert!(hits("source_identifier:cs_123", &o));
        assert!(!hits("source_identifier:cs_12", &o));
        assert!(hits("tag:vip AND financial_status:paid", &o));
        assert!(hits("-tag:wholesale", &o));
        assert!(!hits("NOT tag:vip", &o));
        assert!(hits("tag:nope OR name:1001", &o));
    }

    #[test]
    fn unknown_fields_match_nothing() {
        let o = order("#1001", &["acp:cs_123"], None);
        assert!(!hits("checkout_token:cs_123", &o));
        assert!(!hits("tga:'acp:cs_123'", &o));
        assert!(hits("", &o));
    }

    #[test]
    fn dates_compare_and_free_text_matches_names_and_tags() {
        let o = order("#1001", &["acp:cs_9"], None);
        assert!(hits("created_at:>'2026-11-28T09:59:59Z'", &o));
        assert!(!hits("created_at:<2026-11-28", &o));
        assert!(hits("processed_at:'2026-11-28T10:00:00Z'", &o));
        assert!(hits("#1001", &o));
        assert!(hits("buyer@example.com", &o));
        assert!(!hits("#1002", &o));
    }

    #[test]
    fn quoted_values_may_escape_quotes() {
        assert_eq!(tokenize(r"tag:'it\'s'"), vec!["tag:it's".to_owned()]);
    }
}
