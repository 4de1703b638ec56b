//! The live catalog of the emulated shop: products keyed by id, ordered
//! indexes for the sort keys that pagination walks lazily, id assignment and
//! the strictly increasing `updatedAt` clock.
//!
//! Products are `Arc`s so a bulk operation can take a consistent snapshot
//! without copying; edits are copy-on-write.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::data::{Product, Publication, ShopData, ShopInfo};

/// Sort keys of `QueryRoot.products` (`ProductSortKeys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductSort {
    Id,
    UpdatedAt,
    CreatedAt,
    Title,
    Vendor,
    ProductType,
    InventoryTotal,
}

impl ProductSort {
    /// Maps the enum value; `RELEVANCE` and `PUBLISHED_AT` order by id.
    pub(crate) fn parse(name: &str) -> Self {
        match name {
            "UPDATED_AT" => ProductSort::UpdatedAt,
            "CREATED_AT" => ProductSort::CreatedAt,
            "TITLE" => ProductSort::Title,
            "VENDOR" => ProductSort::Vendor,
            "PRODUCT_TYPE" => ProductSort::ProductType,
            "INVENTORY_TOTAL" => ProductSort::InventoryTotal,
            _ => ProductSort::Id,
        }
    }
}

/// The value a product sorts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortValue {
    Int(i64),
    Text(String),
}

/// A position in a sort order: (value, id) is unique per product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SortPos {
    pub value: SortValue,
    pub id: u64,
}

/// Products plus indexes; guarded by the emulator's `RwLock`.
pub(crate) struct Catalog {
    pub shop: ShopInfo,
    pub publications: Vec<Publication>,
    products: BTreeMap<u64, Arc<Product>>,
    by_updated: BTreeSet<(i64, u64)>,
    by_created: BTreeSet<(i64, u64)>,
    variant_owner: HashMap<u64, u64>,
    last_stamp: i64,
    next_product_id: u64,
    next_variant_id: u64,
    next_media_id: u64,
}

impl Catalog {
    pub(crate) fn new(data: ShopData) -> Self {
        let mut catalog = Catalog {
            shop: data.shop,
            publications: data.publications,
            products: BTreeMap::new(),
            by_updated: BTreeSet::new(),
            by_created: BTreeSet::new(),
            variant_owner: HashMap::new(),
            last_stamp: 0,
            next_product_id: 1,
            next_variant_id: 1,
            next_media_id: 1,
        };
        for product in data.products {
            catalog.last_stamp = catalog.last_stamp.max(product.updated_at);
            catalog.next_product_id = catalog.next_product_id.max(product.id + 1);
            for v in &product.variants {
                catalog.next_variant_id = catalog.next_variant_id.max(v.id + 1);
            }
            for m in &product.media {
                catalog.next_media_id = catalog.next_media_id.max(m.id + 1);
            }
            catalog.index(Arc::new(product));
        }
        catalog
    }

    fn index(&mut self, product: Arc<Product>) {
        self.by_updated.insert((product.updated_at, product.id));
        self.by_created.insert((product.created_at, product.id));
        for v in &product.variants {
            self.variant_owner.insert(v.id, product.id);
        }
        self.products.insert(product.id, product);
    }

    fn unindex(&mut self, id: u64) -> Option<Arc<Product>> {
        let product = self.products.remove(&id)?;
        self.by_updated.remove(&(product.updated_at, product.id));
        self.by_created.remove(&(product.created_at, product.id));
        for v in &product.variants {
            self.variant_owner.remove(&v.id);
        }
        Some(product)
    }

    /// The next `updatedAt`: wall-clock milliseconds, but always at least one
    /// millisecond after the previous stamp, so two edits in the same
    /// millisecond still order.
    fn stamp(&mut self) -> i64 {
        let now = chrono::Utc::now().timestamp_millis();
        self.last_stamp = now.max(self.last_stamp + 1);
        self.last_stamp
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Arc<Product>> {
        self.products.get(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.products.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Product>> {
        self.products.values()
    }

    /// The product owning a variant.
    pub(crate) fn variant_owner(&self, variant_id: u64) -> Option<u64> {
        self.variant_owner.get(&variant_id).copied()
    }

    /// The id of the Online Store publication (the first one).
    pub(crate) fn online_store_id(&self) -> Option<u64> {
        self.publications.first().map(|p| p.id)
    }

    /// Applies an edit, restores the invariants (id, creation time, fresh ids
    /// for new variants/media) and stamps `updatedAt`. Returns the new stamp.
    pub(crate) fn update(&mut self, id: u64, edit: impl FnOnce(&mut Product)) -> Option<i64> {
        let old = self.unindex(id)?;
        let mut product = Arc::unwrap_or_clone(old);
        let created_at = product.created_at;
        edit(&mut product);
        product.id = id;
        product.created_at = created_at;
        self.assign_child_ids(&mut product);
        product.updated_at = self.stamp();
        let stamp = product.updated_at;
        self.index(Arc::new(product));
        Some(stamp)
    }

    fn assign_child_ids(&mut self, product: &mut Product) {
        for v in product.variants.iter_mut().filter(|v| v.id == 0) {
            v.id = self.next_variant_id;
            self.next_variant_id += 1;
        }
        for m in product.media.iter_mut().filter(|m| m.id == 0) {
            m.id = self.next_media_id;
            self.next_media_id += 1;
        }
    }

    /// Adds a product with fresh ids for it, its variants and its media
    /// (variant media references are remapped). Returns the product id.
    pub(crate) fn insert(&mut self, mut product: Product) -> u64 {
        product.id = self.next_product_id;
        self.next_product_id += 1;
        let mut media_map = HashMap::new();
        for m in &mut product.media {
            media_map.insert(m.id, self.next_media_id);
            m.id = self.next_media_id;
            self.next_media_id += 1;
        }
        for v in &mut product.variants {
            v.id = self.next_variant_id;
            self.next_variant_id += 1;
            v.media_ids = v
                .media_ids
                .iter()
                .filter_map(|old| media_map.get(old).copied())
                .collect();
        }
        let stamp = self.stamp();
        product.created_at = stamp;
        product.updated_at = stamp;
        let id = product.id;
        self.index(Arc::new(product));
        id
    }

    /// Deletes a product.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Arc<Product>> {
        self.unindex(id)
    }

    /// Where a product sits in a sort order.
    pub(crate) fn sort_pos(product: &Product, sort: ProductSort) -> SortPos {
        let value = match sort {
            ProductSort::Id => SortValue::Int(product.id as i64),
            ProductSort::UpdatedAt => SortValue::Int(product.updated_at),
            ProductSort::CreatedAt => SortValue::Int(product.created_at),
            ProductSort::Title => SortValue::Text(product.title.to_lowercase()),
            ProductSort::Vendor => SortValue::Text(product.vendor.to_lowercase()),
            ProductSort::ProductType => SortValue::Text(product.product_type.to_lowercase()),
            ProductSort::InventoryTotal => SortValue::Int(product.total_inventory()),
        };
        SortPos {
            value,
            id: product.id,
        }
    }

    /// Products strictly after `from` (ascending) or strictly before it
    /// (descending), in that direction. Id, `UPDATED_AT` and `CREATED_AT` walk
    /// an index lazily; the other keys sort the whole catalog.
    pub(crate) fn walk<'a>(
        &'a self,
        sort: ProductSort,
        from: Option<&SortPos>,
        ascending: bool,
    ) -> Box<dyn Iterator<Item = &'a Arc<Product>> + 'a> {
        let pair = from.map(|p| (sort_int(&p.value), p.id));
        match sort {
            ProductSort::Id => {
                let range = match (pair, ascending) {
                    (None, _) => self.products.range(..),
                    (Some((_, id)), true) => {
                        self.products.range((Bound::Excluded(id), Bound::Unbounded))
                    }
                    (Some((_, id)), false) => self.products.range(..id),
                };
                if ascending {
                    Box::new(range.map(|(_, p)| p))
                } else {
                    Box::new(range.rev().map(|(_, p)| p))
                }
            }
            ProductSort::UpdatedAt | ProductSort::CreatedAt => {
                let set = if sort == ProductSort::UpdatedAt {
                    &self.by_updated
                } else {
                    &self.by_created
                };
                let range = match (pair, ascending) {
                    (None, _) => set.range(..),
                    (Some(key), true) => set.range((Bound::Excluded(key), Bound::Unbounded)),
                    (Some(key), false) => set.range(..key),
                };
                let products = &self.products;
                if ascending {
                    Box::new(range.filter_map(move |(_, id)| products.get(id)))
                } else {
                    Box::new(range.rev().filter_map(move |(_, id)| products.get(id)))
                }
            }
            _ => {
                let mut all: Vec<(SortPos, &Arc<Product>)> = self
                    .products
                    .values()
                    .map(|p| (Self::sort_pos(p, sort), p))
                    .collect();
                all.sort_by(|a, b| a.0.cmp(&b.0));
                let from = from.cloned();
                let keep = move |pos: &SortPos| match &from {
                    None => true,
                    Some(f) if ascending => pos > f,
                    Some(f) => pos < f,
                };
                if ascending {
                    Box::new(
                        all.into_iter()
                            .filter(move |(k, _)| keep(k))
                            .map(|(_, p)| p),
                    )
                } else {
                    Box::new(
                        all.into_iter()
                            .rev()
                            .filter(move |(k, _)| keep(k))
                            .map(|(_, p)| p),
                    )
                }
            }
        }
    }
}

fn sort_int(value: &SortValue) -> i64 {
    match value {
        SortValue::Int(v) => *v,
        SortValue::Text(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(ShopData::sample())
    }

    #[test]
    fn updates_stamp_strictly_increasing_times_even_in_the_same_millisecond() {
        let mut c = catalog();
        let ids: Vec<u64> = c.iter().take(3).map(|p| p.id).collect();
        let stamps: Vec<i64> = ids
            .iter()
            .map(|id| c.update(*id, |p| p.title.push('!')).unwrap())
            .collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
        let newest = c.walk(ProductSort::UpdatedAt, None, false).next().unwrap();
        assert_eq!(newest.id, ids[2]);
    }

    #[test]
    fn walking_from_a_position_excludes_it_in_both_directions() {
        let c = catalog();
        let all: Vec<u64> = c
            .walk(ProductSort::Title, None, true)
            .map(|p| p.id)
            .collect();
        let mid = c.get(all[10]).unwrap();
        let pos = Catalog::sort_pos(mid, ProductSort::Title);
        let after: Vec<u64> = c
            .walk(ProductSort::Title, Some(&pos), true)
            .map(|p| p.id)
            .collect();
        let before: Vec<u64> = c
            .walk(ProductSort::Title, Some(&pos), false)
            .map(|p| p.id)
            .collect();
        assert_eq!(after, all[11..].to_vec());
        assert_eq!(before.len(), 10);
        assert_eq!(before[0], all[9]);
    }

    #[test]
    fn inserted_products_get_fresh_ids_and_remapped_variant_media() {
        let mut c = catalog();
        let mut p = Product::new("Test Lantern");
        p.media.push(super::super::data::Media {
            id: 7,
            alt: None,
            kind: super::super::data::MediaKind::Video,
        });
        p.variants[0].media_ids = vec![7];
        let id = c.insert(p);
        let stored = c.get(id).unwrap();
        assert_ne!(stored.media[0].id, 7);
        assert_eq!(stored.variants[0].media_ids, vec![stored.media[0].id]);
        assert_eq!(c.variant_owner(stored.variants[0].id), Some(id));
    }
}
