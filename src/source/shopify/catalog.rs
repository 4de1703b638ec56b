//! Typed catalog reads: shop facts, the publication id of a channel, and
//! incremental product paging (`products(query: "updated_at:>'…'")`).
//!
//! Paging is pull-based ([`ProductsPager::next_page`]): the caller awaits one
//! page, stores the products together with the page's `max_updated_at`
//! cursor, then asks for the next. That keeps backpressure and error
//! handling with the caller and needs no callback plumbing.

use chrono::{DateTime, SecondsFormat, Utc};

use super::client::ShopifyClient;
use super::error::ShopifyError;
use super::gql::{
    InventoryItemProduct, ProductVariantsPage, ProductsPage, Publications, ShopInfo,
    inventory_item_product, product_variants_page, products_page, publications, shop_info,
};
use super::map::{map_product, map_shop, numeric_id};
use super::wire::{WireProduct, WireVariant};
use crate::domain::{Currency, Product, ShopFacts};

/// Publications fetched when resolving a channel name (shops have few).
const PUBLICATIONS_FIRST: i64 = 250;

/// One page of changed products.
#[derive(Debug, Clone)]
pub struct ProductsPageResult {
    /// Products of this page, complete (every variant attached).
    pub products: Vec<Product>,
    /// Largest `updatedAt` among the page's products (including skipped
    /// ones); persist it with the batch as the next `since`.
    pub max_updated_at: Option<DateTime<Utc>>,
    /// Products left out because a value could not be mapped (logged with
    /// their id).
    pub skipped: usize,
    /// Whether more pages follow.
    pub has_next_page: bool,
    /// `requestedQueryCost` of the page query.
    pub requested_cost: Option<u32>,
}

/// Most product ids one search query names (Shopify caps search query
/// length; 50 short terms stay far below it).
pub const MAX_IDS_PER_QUERY: usize = 50;

/// The products search matching any of `ids` (numeric product ids):
/// `id:1 OR id:2`.
pub fn ids_query(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("id:{id}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The search query for products updated after `since`. Seconds precision,
/// so a product updated in the same second as `since` is returned again
/// (callers also subtract an overlap window for eventual consistency).
pub fn updated_since_query(since: DateTime<Utc>) -> String {
    format!(
        "updated_at:>'{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

impl ShopifyClient {
    /// Shop name, primary domain, currency, country, ship-to countries and
    /// policy links.
    ///
    /// # Errors
    /// Request failures, or an unmappable currency/domain.
    #[tracing::instrument(skip_all, err)]
    pub async fn shop_facts(&self) -> Result<ShopFacts, ShopifyError> {
        let executed = self.execute::<ShopInfo>(shop_info::Variables {}).await?;
        map_shop(executed.data.shop).map_err(|source| ShopifyError::Map {
            what: "shop".to_owned(),
            source,
        })
    }

    /// The GID of the publication whose catalog title is `name` (e.g.
    /// "Online Store").
    ///
    /// # Errors
    /// [`ShopifyError::PublicationNotFound`] listing the available names, or
    /// request failures.
    #[tracing::instrument(skip_all, err)]
    pub async fn publication_id(&self, name: &str) -> Result<String, ShopifyError> {
        let executed = self
            .execute::<Publications>(publications::Variables {
                first: PUBLICATIONS_FIRST,
            })
            .await?;
        let nodes = executed.data.publications.nodes;
        let mut available = Vec::with_capacity(nodes.len());
        for node in nodes {
            let Some(catalog) = node.catalog else {
                continue;
            };
            if catalog.title == name {
                return Ok(node.id);
            }
            available.push(catalog.title);
        }
        available.sort();
        available.dedup();
        Err(ShopifyError::PublicationNotFound {
            wanted: name.to_owned(),
            available,
        })
    }

    /// A pager over products updated after `since` (all products when
    /// `None`), sorted by `updatedAt`, with `published` computed for
    /// `publication_gid`. Prices are read in the shop's `currency`.
    pub fn products_updated_since(
        &self,
        since: Option<DateTime<Utc>>,
        publication_gid: &str,
        currency: Currency,
    ) -> ProductsPager {
        ProductsPager {
            client: self.clone(),
            query: since.map(updated_since_query),
            publication_gid: publication_gid.to_owned(),
            currency,
            after: None,
            done: false,
        }
    }

    /// A pager over the products with these numeric ids (a targeted
    /// refetch after webhooks), with `published` computed for
    /// `publication_gid`. Products that no longer exist are simply absent.
    /// Callers keep `ids` short (see [`MAX_IDS_PER_QUERY`]).
    pub fn products_with_ids(
        &self,
        ids: &[String],
        publication_gid: &str,
        currency: Currency,
    ) -> ProductsPager {
        ProductsPager {
            client: self.clone(),
            query: Some(ids_query(ids)),
            publication_gid: publication_gid.to_owned(),
            currency,
            after: None,
            done: ids.is_empty(),
        }
    }

    /// The numeric id of the product whose variant holds inventory item
    /// `item` (numeric id), `None` when the item is gone.
    ///
    /// # Errors
    /// Request failures.
    pub async fn product_of_inventory_item(
        &self,
        item: &str,
    ) -> Result<Option<String>, ShopifyError> {
        let executed = self
            .execute::<InventoryItemProduct>(inventory_item_product::Variables {
                id: format!("gid://shopify/InventoryItem/{item}"),
            })
            .await?;
        executed
            .data
            .inventory_item
            .and_then(|i| i.variants)
            .and_then(|v| v.nodes.into_iter().next())
            .map(|v| numeric_id(&v.product.id).map(str::to_owned))
            .transpose()
            .map_err(|source| ShopifyError::Map {
                what: "inventory item product id".into(),
                source,
            })
    }

    /// Every variant of product `product_gid` after cursor `after`.
    async fn remaining_variants(
        &self,
        product_gid: &str,
        mut after: Option<String>,
    ) -> Result<Vec<WireVariant>, ShopifyError> {
        let mut variants = Vec::new();
        loop {
            let (first, estimate) = lock(&self.inner.variants_sizer).plan();
            let executed = self
                .execute_with_cost::<ProductVariantsPage>(
                    product_variants_page::Variables {
                        id: product_gid.to_owned(),
                        first: i64::from(first),
                        after: after.take(),
                    },
                    Some(estimate),
                )
                .await?;
            if let Some(requested) = executed.cost.as_ref().and_then(|c| c.requested()) {
                lock(&self.inner.variants_sizer).observe(first, requested);
            }
            let Some(product) = executed.data.product else {
                // Deleted between the two queries: keep what we have.
                return Ok(variants);
            };
            let page = product.variants;
            variants.extend(page.nodes.into_iter().map(WireVariant::from));
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => return Ok(variants),
            }
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The sizers hold plain numbers; a panic elsewhere leaves them usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pages through changed products; see [`ShopifyClient::products_updated_since`].
#[derive(Debug)]
pub struct ProductsPager {
    client: ShopifyClient,
    query: Option<String>,
    publication_gid: String,
    currency: Currency,
    after: Option<String>,
    done: bool,
}

impl ProductsPager {
    /// The next page, or `None` when every page has been returned. Page sizes
    /// keep each query's requested cost under the configured target; products
    /// with more variants than fit inline get the rest fetched before the page
    /// is returned.
    ///
    /// # Errors
    /// Request failures. After an error the pager can be polled again to
    /// retry the same page.
    #[tracing::instrument(skip_all, err)]
    pub async fn next_page(&mut self) -> Result<Option<ProductsPageResult>, ShopifyError> {
        if self.done {
            return Ok(None);
        }
        let client = &self.client;
        let plan = lock(&client.inner.products_sizer).plan();
        let executed = client
            .execute_with_cost::<ProductsPage>(
                products_page::Variables {
                    first: i64::from(plan.first),
                    after: self.after.clone(),
                    query: self.query.clone(),
                    variants_first: i64::from(plan.variants_first),
                    media_first: i64::from(plan.media_first),
                    publication_id: self.publication_gid.clone(),
                },
                Some(plan.estimated_cost),
            )
            .await?;
        let requested_cost = executed.cost.as_ref().and_then(|c| c.requested());
        if let Some(requested) = requested_cost {
            lock(&client.inner.products_sizer).observe(&plan, requested);
        }
        let connection = executed.data.products;
        let mut products = Vec::with_capacity(connection.nodes.len());
        let mut max_updated_at: Option<DateTime<Utc>> = None;
        let mut skipped = 0;
        for node in connection.nodes {
            let more_variants = node.variants.page_info.has_next_page;
            let cursor = node.variants.page_info.end_cursor.clone();
            let mut wire = WireProduct::from(node);
            if let Ok(updated) = super::map::parse_timestamp(&wire.updated_at) {
                max_updated_at = max_updated_at.max(Some(updated));
            }
            if more_variants {
                let rest = client.remaining_variants(&wire.id, cursor).await?;
                wire.variants.extend(rest);
            }
            let id = wire.id.clone();
            match map_product(wire, self.currency) {
                Ok(product) => products.push(product),
                Err(error) => {
                    skipped += 1;
                    tracing::warn!(product.gid = %id, error = %error, "skipping unmappable product");
                }
            }
        }
        let page_info = connection.page_info;
        match (page_info.has_next_page, page_info.end_cursor) {
            (true, Some(cursor)) => self.after = Some(cursor),
            _ => self.done = true,
        }
        tracing::debug!(
            product.count = products.len(),
            product.skipped = skipped,
            page.first = plan.first,
            cost.requested = requested_cost,
            "shopify products page fetched"
        );
        Ok(Some(ProductsPageResult {
            products,
            max_updated_at,
            skipped,
            has_next_page: !self.done,
            requested_cost,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn incremental_query_uses_utc_seconds() {
        let since = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
            + chrono::Duration::milliseconds(750);
        assert_eq!(
            updated_since_query(since),
            "updated_at:>'2026-11-28T10:00:00Z'"
        );
    }
}
