//! The `products(query:)` search syntax: a parser and a matcher for the
//! subset the bridge and its tests use.
//!
//! Supported: terms joined by spaces or `AND`, alternatives joined by `OR`
//! (no parentheses), negation with a leading `-` or `NOT`, `field:value` with
//! `:>`, `:>=`, `:<`, `:<=` comparisons, values quoted with `'` or `"` or bare,
//! a trailing `*` for prefix matches, and free-text words (matched against
//! title, handle, vendor, product type and tags). Fields: `updated_at`,
//! `created_at`, `status`, `tag`, `tag_not`, `vendor`, `product_type`,
//! `title`, `handle`, `id`, `sku`, `barcode`, `inventory_total`,
//! `publication_ids`, `published_status`. Unknown fields match everything
//! (Shopify ignores them with a search warning).

use super::data::{Product, ProductStatus, parse_datetime, parse_gid};

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

/// A parsed product search: OR of AND-groups of terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProductQuery {
    groups: Vec<Vec<Term>>,
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
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
    let (cmp, value) = if let Some(v) = rest.strip_prefix(">=") {
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
        field: Some(field.to_ascii_lowercase()),
        cmp,
        value: value.to_owned(),
    }
}

impl ProductQuery {
    /// Parses a search string; never fails (unparseable parts match nothing
    /// special and are treated as free text).
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
        ProductQuery { groups }
    }

    /// Does the query select this product? `online_store` is the Online Store
    /// publication id (for `published_status`).
    pub(crate) fn matches(&self, product: &Product, online_store: Option<u64>) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|g| {
                g.iter()
                    .all(|t| t.matches(product, online_store) != t.negated)
            })
    }

    /// The smallest `updatedAt` (inclusive, epoch ms) any match can have, when
    /// the query is one AND-group bounding `updated_at` from below.
    pub(crate) fn min_updated_at(&self) -> Option<i64> {
        let [group] = self.groups.as_slice() else {
            return None;
        };
        group
            .iter()
            .filter(|t| !t.negated && t.field.as_deref() == Some("updated_at"))
            .filter_map(|t| {
                let at = parse_datetime(&t.value)?;
                match t.cmp {
                    Cmp::Gt => Some(at + 1),
                    Cmp::Ge | Cmp::Eq => Some(at),
                    _ => None,
                }
            })
            .max()
    }
}

fn compare<T: PartialOrd>(actual: T, cmp: Cmp, wanted: T) -> bool {
    match cmp {
        Cmp::Eq => actual == wanted,
        Cmp::Gt => actual > wanted,
        Cmp::Ge => actual >= wanted,
        Cmp::Lt => actual < wanted,
        Cmp::Le => actual <= wanted,
    }
}

fn text_eq(actual: &str, wanted: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(prefix) => actual.to_lowercase().starts_with(&prefix.to_lowercase()),
        None => {
            actual.eq_ignore_ascii_case(wanted) || actual.to_lowercase() == wanted.to_lowercase()
        }
    }
}

fn contains(actual: &str, wanted: &str) -> bool {
    actual
        .to_lowercase()
        .contains(&wanted.trim_end_matches('*').to_lowercase())
}

fn status_name(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Active => "active",
        ProductStatus::Archived => "archived",
        ProductStatus::Draft => "draft",
        ProductStatus::Unlisted => "unlisted",
    }
}

impl Term {
    fn matches(&self, p: &Product, online_store: Option<u64>) -> bool {
        let v = self.value.as_str();
        let Some(field) = self.field.as_deref() else {
            return [&p.title, &p.handle, &p.vendor, &p.product_type]
                .iter()
                .any(|s| contains(s, v))
                || p.tags.iter().any(|t| text_eq(t, v));
        };
        match field {
            "updated_at" | "created_at" => {
                let at = if field == "updated_at" {
                    p.updated_at
                } else {
                    p.created_at
                };
                match parse_datetime(v) {
                    // `:` on a date-time means "within that second".
                    Some(w) if self.cmp == Cmp::Eq => at.div_euclid(1000) == w.div_euclid(1000),
                    Some(w) => compare(at, self.cmp, w),
                    None => false,
                }
            }
            "status" => v
                .split(',')
                .any(|s| s.trim().eq_ignore_ascii_case(status_name(p.status))),
            "tag" => p.tags.iter().any(|t| text_eq(t, v)),
            "tag_not" => !p.tags.iter().any(|t| text_eq(t, v)),
            "vendor" => text_eq(&p.vendor, v),
            "product_type" => text_eq(&p.product_type, v),
            "title" => contains(&p.title, v),
            "handle" => text_eq(&p.handle, v),
            "id" | "product_id" => match parse_gid(v, "Product") {
                Some(id) => compare(p.id, self.cmp, id),
                None => false,
            },
            "sku" => p
                .variants
                .iter()
                .any(|x| x.sku.as_deref().is_some_and(|s| text_eq(s, v))),
            "barcode" => p.variants.iter().any(|x| x.barcode.as_deref() == Some(v)),
            "inventory_total" => v
                .parse::<i64>()
                .is_ok_and(|w| compare(p.total_inventory(), self.cmp, w)),
            "publication_ids" => v
                .split(',')
                .filter_map(|s| parse_gid(s.trim(), "Publication"))
                .any(|id| p.publications.contains(&id)),
            "published_status" => {
                let published = online_store.is_some_and(|id| p.publications.contains(&id));
                match v.to_ascii_lowercase().as_str() {
                    "published" => published,
                    "unpublished" => !published,
                    _ => true,
                }
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::data::ShopData;

    fn names(query: &str) -> Vec<String> {
        let data = ShopData::sample();
        let q = ProductQuery::parse(query);
        let online = data.publications.first().map(|p| p.id);
        data.products
            .iter()
            .filter(|p| q.matches(p, online))
            .map(|p| p.title.clone())
            .collect()
    }

    #[test]
    fn quoted_and_unquoted_date_comparisons_filter_on_updated_at() {
        let q = ProductQuery::parse("updated_at:>'2026-11-28T10:00:00Z'");
        let mut p = crate::emulator::shopify::data::Product::new("x");
        p.updated_at = parse_datetime("2026-11-28T10:00:01Z").unwrap();
        assert!(q.matches(&p, None));
        p.updated_at = parse_datetime("2026-11-28T10:00:00Z").unwrap();
        assert!(!q.matches(&p, None));
        assert!(ProductQuery::parse("updated_at:>=2026-11-28T10:00:00Z").matches(&p, None));
        assert!(ProductQuery::parse("updated_at:<=\"2026-11-28T10:00:00Z\"").matches(&p, None));
        assert!(!ProductQuery::parse("updated_at:<2026-11-28").matches(&p, None));
        assert_eq!(
            ProductQuery::parse("updated_at:>'2026-11-28T10:00:00Z' status:active")
                .min_updated_at(),
            Some(p.updated_at + 1)
        );
    }

    #[test]
    fn field_filters_combine_with_and_and_or() {
        assert_eq!(names("status:draft"), vec!["Quilted Overshirt"]);
        assert_eq!(
            names("status:active AND vendor:'Summit Supply Co.' tag:kids"),
            vec!["Kids' Puddle Boots"]
        );
        assert_eq!(names("status:archived OR status:unlisted").len(), 2);
        assert!(names("product_type:Mugs").len() == 2);
        assert!(names("-tag:merino").iter().all(|t| !t.contains("Merino")));
        assert!(names("NOT status:active").len() == 3);
        assert!(names("published_status:unpublished").contains(&"Organic Cotton Polo".to_owned()));
        assert!(names("merino").len() >= 3);
        assert_eq!(names("").len(), 50);
        assert_eq!(names("nonsense_field:1").len(), 50);
    }
}
