//! Relay cursor pagination: argument checks, opaque cursors and pages over
//! in-memory lists (variants, media, publications) and over the catalog
//! (products, walked lazily from the cursor).
//!
//! Cursors are base64 JSON `{"last_id":…,"last_value":…}` like Shopify's;
//! clients must treat them as opaque.

use std::sync::Arc;

use apollo_compiler::response::JsonMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::catalog::{Catalog, ProductSort, SortPos, SortValue};
use super::data::Product;
use super::search::ProductQuery;

/// Largest `first`/`last` Shopify accepts.
pub(crate) const MAX_PAGE: i64 = 250;

/// The pagination arguments of one connection field.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageArgs {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub after: Option<SortPos>,
    pub before: Option<SortPos>,
    pub reverse: bool,
}

impl PageArgs {
    /// Reads and checks `first/last/after/before/reverse`. Outside bulk
    /// operations one of `first`/`last` is required and both are capped at 250.
    pub(crate) fn from_args(args: &JsonMap, bulk: bool) -> Result<Self, String> {
        let int = |name: &str| args.get(name).and_then(|v| v.as_i64());
        let cursor = |name: &str| -> Result<Option<SortPos>, String> {
            match args.get(name).and_then(|v| v.as_str()) {
                Some(text) => decode_cursor(text).map(Some),
                None => Ok(None),
            }
        };
        let page = PageArgs {
            first: int("first"),
            last: int("last"),
            after: cursor("after")?,
            before: cursor("before")?,
            reverse: args
                .get("reverse")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        };
        if bulk {
            return Ok(PageArgs {
                first: None,
                last: None,
                ..page
            });
        }
        match (page.first, page.last) {
            (None, None) => return Err("you must provide one of first or last".to_owned()),
            (Some(_), Some(_)) => {
                return Err("providing both first and last is not supported".to_owned());
            }
            _ => {}
        }
        for (name, value) in [("first", page.first), ("last", page.last)] {
            match value {
                Some(n) if n < 0 => return Err(format!("`{name}` must be a non-negative integer")),
                Some(n) if n > MAX_PAGE => {
                    return Err(format!(
                        "The value of the argument `{name}` must be less than or equal to {MAX_PAGE}"
                    ));
                }
                _ => {}
            }
        }
        Ok(page)
    }
}

/// Encodes a sort position as an opaque cursor.
pub(crate) fn encode_cursor(pos: &SortPos) -> String {
    let value = match &pos.value {
        SortValue::Int(v) => serde_json::Value::from(*v),
        SortValue::Text(t) => serde_json::Value::from(t.as_str()),
    };
    let json = serde_json::json!({ "last_id": pos.id, "last_value": value });
    STANDARD.encode(json.to_string())
}

/// Decodes a cursor made by [`encode_cursor`].
pub(crate) fn decode_cursor(text: &str) -> Result<SortPos, String> {
    let invalid = || format!("Invalid cursor for current pagination: {text}");
    let bytes = STANDARD.decode(text).map_err(|_| invalid())?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let id = json
        .get("last_id")
        .and_then(|v| v.as_u64())
        .ok_or_else(invalid)?;
    let value = match json.get("last_value") {
        Some(serde_json::Value::String(s)) => SortValue::Text(s.clone()),
        Some(v) => SortValue::Int(v.as_i64().ok_or_else(invalid)?),
        None => return Err(invalid()),
    };
    Ok(SortPos { value, id })
}

/// One page of a connection; cursors are encoded only when selected.
#[derive(Debug, Clone)]
pub(crate) struct Page<T> {
    pub items: Vec<(T, SortPos)>,
    pub has_next: bool,
    pub has_prev: bool,
}

/// Pages an already ordered list (ascending by its positions).
pub(crate) fn paginate_list<T>(items: Vec<(SortPos, T)>, args: &PageArgs) -> Page<T> {
    let mut ordered = items;
    if args.reverse {
        ordered.reverse();
    }
    let asc = !args.reverse;
    let beyond = |p: &SortPos, c: &SortPos| if asc { p > c } else { p < c };
    let before_of = |p: &SortPos, c: &SortPos| if asc { p < c } else { p > c };
    let total = ordered.len();
    let mut slice: Vec<(SortPos, T)> = ordered
        .into_iter()
        .filter(|(p, _)| args.after.as_ref().is_none_or(|a| beyond(p, a)))
        .collect();
    let after_cut = slice.len() < total;
    let len = slice.len();
    slice.retain(|(p, _)| args.before.as_ref().is_none_or(|b| before_of(p, b)));
    let before_cut = slice.len() < len;
    let mut has_next = before_cut;
    let mut has_prev = after_cut;
    if let Some(first) = args.first {
        let first = usize::try_from(first).unwrap_or(0);
        if slice.len() > first {
            slice.truncate(first);
            has_next = true;
        }
    } else if let Some(last) = args.last {
        let last = usize::try_from(last).unwrap_or(0);
        if slice.len() > last {
            slice.drain(..slice.len() - last);
            has_prev = true;
        }
    }
    Page {
        items: slice.into_iter().map(|(p, t)| (t, p)).collect(),
        has_next,
        has_prev,
    }
}

/// Pages the catalog's products, walking lazily from the cursor.
pub(crate) fn paginate_products<'a>(
    catalog: &'a Catalog,
    args: &PageArgs,
    sort: ProductSort,
    query: &ProductQuery,
) -> Page<&'a Arc<Product>> {
    let online = catalog.online_store_id();
    let matches = |p: &&Arc<Product>| query.matches(p, online);
    let asc = !args.reverse;
    let exists_beyond = |cursor: &SortPos, forward: bool| {
        let at_cursor = catalog
            .get(cursor.id)
            .is_some_and(|p| matches(&p) && Catalog::sort_pos(p, sort) == *cursor);
        at_cursor
            || catalog
                .walk(sort, Some(cursor), forward)
                .any(|p| matches(&p))
    };
    let mut items: Vec<&Arc<Product>>;
    let (has_next, has_prev);
    if let Some(last) = args.last {
        let n = usize::try_from(last).unwrap_or(0);
        let stop = args.after.clone();
        items = catalog
            .walk(sort, args.before.as_ref(), !asc)
            .filter(matches)
            .take_while(|p| {
                let pos = Catalog::sort_pos(p, sort);
                stop.as_ref()
                    .is_none_or(|a| if asc { pos > *a } else { pos < *a })
            })
            .take(n + 1)
            .collect();
        has_prev = items.len() > n || args.after.as_ref().is_some_and(|a| exists_beyond(a, !asc));
        items.truncate(n);
        items.reverse();
        has_next = args.before.as_ref().is_some_and(|b| exists_beyond(b, asc));
    } else {
        let n = args
            .first
            .map_or(usize::MAX, |f| usize::try_from(f).unwrap_or(0));
        let mut from = args.after.clone();
        if sort == ProductSort::UpdatedAt
            && asc
            && let Some(min) = query.min_updated_at()
        {
            let floor = SortPos {
                value: SortValue::Int(min - 1),
                id: u64::MAX,
            };
            if from.as_ref().is_none_or(|f| *f < floor) {
                from = Some(floor);
            }
        }
        let stop = args.before.clone();
        items = catalog
            .walk(sort, from.as_ref(), asc)
            .filter(matches)
            .take_while(|p| {
                let pos = Catalog::sort_pos(p, sort);
                stop.as_ref()
                    .is_none_or(|b| if asc { pos < *b } else { pos > *b })
            })
            .take(n.saturating_add(1))
            .collect();
        has_next = items.len() > n || args.before.is_some();
        items.truncate(n);
        has_prev = args.after.as_ref().is_some_and(|a| exists_beyond(a, !asc));
    }
    Page {
        items: items
            .into_iter()
            .map(|p| (p, Catalog::sort_pos(p, sort)))
            .collect(),
        has_next,
        has_prev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::data::ShopData;

    fn args(first: Option<i64>, last: Option<i64>) -> PageArgs {
        PageArgs {
            first,
            last,
            ..PageArgs::default()
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let pos = SortPos {
            value: SortValue::Text("harbor crew tee".into()),
            id: 7,
        };
        assert_eq!(decode_cursor(&encode_cursor(&pos)).unwrap(), pos);
        assert!(decode_cursor("not-a-cursor").is_err());
    }

    #[test]
    fn forward_and_backward_pages_cover_the_catalog_once() {
        let catalog = Catalog::new(ShopData::sample());
        let q = ProductQuery::default();
        for sort in [ProductSort::Id, ProductSort::UpdatedAt, ProductSort::Title] {
            let mut seen = Vec::new();
            let mut page_args = args(Some(7), None);
            loop {
                let page = paginate_products(&catalog, &page_args, sort, &q);
                assert_eq!(page.has_prev, !seen.is_empty());
                seen.extend(page.items.iter().map(|(p, _)| p.id));
                if !page.has_next {
                    break;
                }
                page_args.after = Some(page.items.last().unwrap().1.clone());
            }
            let mut unique = seen.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (50, 50), "{sort:?}");

            let mut back = Vec::new();
            let mut page_args = args(None, Some(9));
            loop {
                let page = paginate_products(&catalog, &page_args, sort, &q);
                back.splice(0..0, page.items.iter().map(|(p, _)| p.id));
                if !page.has_prev {
                    break;
                }
                page_args.before = Some(page.items[0].1.clone());
            }
            assert_eq!(back, seen, "{sort:?} backwards");
        }
    }

    #[test]
    fn list_pages_report_neighbours() {
        let items: Vec<(SortPos, u32)> = (1..=5)
            .map(|i| {
                (
                    SortPos {
                        value: SortValue::Int(i),
                        id: i as u64,
                    },
                    i as u32,
                )
            })
            .collect();
        let page = paginate_list(items.clone(), &args(Some(2), None));
        assert_eq!(
            page.items.iter().map(|i| i.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(page.has_next && !page.has_prev);
        let mut a = args(Some(2), None);
        a.after = Some(decode_cursor(&encode_cursor(&page.items[1].1)).unwrap());
        let page = paginate_list(items.clone(), &a);
        assert_eq!(
            page.items.iter().map(|i| i.0).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(page.has_next && page.has_prev);
        let mut r = args(Some(10), None);
        r.reverse = true;
        let page = paginate_list(items, &r);
        assert_eq!(
            page.items.iter().map(|i| i.0).collect::<Vec<_>>(),
            vec![5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn first_or_last_is_required_and_capped_outside_bulk() {
        let empty = JsonMap::new();
        assert_eq!(
            PageArgs::from_args(&empty, false).unwrap_err(),
            "you must provide one of first or last"
        );
        assert!(PageArgs::from_args(&empty, true).is_ok());
        let mut big = JsonMap::new();
        big.insert("first", 251.into());
        assert!(PageArgs::from_args(&big, false).is_err());
    }
}
