//! Page sizing for `ProductsPage` and `ProductVariantsPage`: choose `first`,
//! `variantsFirst` and `mediaFirst` so a page's requested cost stays under
//! the configured target.
//!
//! Shopify's requested cost is static and linear in `first`: a fixed
//! overhead plus `first` × (cost of one node with its nested connections).
//! The sizer starts from a deliberately pessimistic per-node estimate and
//! then learns the real per-node cost from each response's
//! `requestedQueryCost`.

/// Overhead of a connection itself (the connection object and `pageInfo`).
const CONNECTION_OVERHEAD: u32 = 2;
/// Shopify caps `first` at 250.
const MAX_FIRST: u32 = 250;
/// Variants fetched inline per product; more are paged separately.
pub(crate) const DEFAULT_VARIANTS_FIRST: u32 = 10;
/// Product media fetched per product: exactly what `map.rs` keeps, and
/// never shrunk, so paged and bulk products agree.
pub(crate) const DEFAULT_MEDIA_FIRST: u32 = super::map::MEDIA_PER_PRODUCT as u32;

/// The sizes of one `ProductsPage` request and its expected cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProductsPlan {
    pub first: u32,
    pub variants_first: u32,
    pub media_first: u32,
    pub estimated_cost: u32,
}

/// Learns the cost of one product node for `ProductsPage`.
#[derive(Debug, Clone)]
pub(crate) struct ProductsSizer {
    target: u32,
    variants_first: u32,
    media_first: u32,
    /// Cost of one product node with the current nested sizes.
    per_product: u32,
}

/// Pessimistic static cost of one product node: the product, its category
/// and options objects, a media connection of images and a variants
/// connection whose nodes carry selected options, the inventory item chain
/// (3 objects) and a one-image media connection.
fn static_per_product(variants_first: u32, media_first: u32) -> u32 {
    let media = CONNECTION_OVERHEAD + media_first * 2;
    let variant = 1 + 1 + 3 + (CONNECTION_OVERHEAD + 2);
    let variants = CONNECTION_OVERHEAD + variants_first * variant;
    3 + media + variants
}

impl ProductsSizer {
    pub fn new(target: u32) -> Self {
        let mut sizer = ProductsSizer {
            target: target.max(CONNECTION_OVERHEAD + 1),
            variants_first: DEFAULT_VARIANTS_FIRST,
            media_first: DEFAULT_MEDIA_FIRST,
            per_product: static_per_product(DEFAULT_VARIANTS_FIRST, DEFAULT_MEDIA_FIRST),
        };
        sizer.shrink_nested_to_fit();
        sizer
    }

    fn budget(&self) -> u32 {
        self.target - CONNECTION_OVERHEAD
    }

    /// Halves the inline variant page size while a single product would not
    /// fit the target, scaling the learned per-product cost with it (the
    /// remaining variants are paged separately). The media page size stays
    /// fixed; see `DEFAULT_MEDIA_FIRST`.
    fn shrink_nested_to_fit(&mut self) {
        while self.per_product > self.budget() && self.variants_first > 1 {
            let before = static_per_product(self.variants_first, self.media_first);
            self.variants_first = (self.variants_first / 2).max(1);
            let after = static_per_product(self.variants_first, self.media_first);
            self.per_product = (u64::from(self.per_product) * u64::from(after))
                .div_ceil(u64::from(before))
                .try_into()
                .unwrap_or(u32::MAX);
        }
    }

    /// The sizes for the next page.
    pub fn plan(&self) -> ProductsPlan {
        let first = (self.budget() / self.per_product.max(1)).clamp(1, MAX_FIRST);
        ProductsPlan {
            first,
            variants_first: self.variants_first,
            media_first: self.media_first,
            estimated_cost: CONNECTION_OVERHEAD
                .saturating_add(first.saturating_mul(self.per_product)),
        }
    }

    /// Learns from the `requestedQueryCost` Shopify charged for `plan`.
    pub fn observe(&mut self, plan: &ProductsPlan, requested: u32) {
        if plan.variants_first != self.variants_first || plan.media_first != self.media_first {
            return;
        }
        let per_product = requested
            .saturating_sub(CONNECTION_OVERHEAD)
            .div_ceil(plan.first.max(1))
            .max(1);
        self.per_product = per_product;
        self.shrink_nested_to_fit();
    }
}

/// Learns the cost of one variant node for `ProductVariantsPage`.
#[derive(Debug, Clone)]
pub(crate) struct VariantsSizer {
    target: u32,
    per_variant: u32,
}

/// The product object wrapping the variants connection.
const VARIANTS_PAGE_OVERHEAD: u32 = 1 + CONNECTION_OVERHEAD;

impl VariantsSizer {
    pub fn new(target: u32) -> Self {
        VariantsSizer {
            target: target.max(VARIANTS_PAGE_OVERHEAD + 1),
            per_variant: 1 + 1 + 3 + (CONNECTION_OVERHEAD + 2),
        }
    }

    /// `(first, estimated cost)` for the next page.
    pub fn plan(&self) -> (u32, u32) {
        let first =
            ((self.target - VARIANTS_PAGE_OVERHEAD) / self.per_variant.max(1)).clamp(1, MAX_FIRST);
        (first, VARIANTS_PAGE_OVERHEAD + first * self.per_variant)
    }

    /// Learns from the `requestedQueryCost` of a page of `first` variants.
    pub fn observe(&mut self, first: u32, requested: u32) {
        self.per_variant = requested
            .saturating_sub(VARIANTS_PAGE_OVERHEAD)
            .div_ceil(first.max(1))
            .max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shopify-like cost: overhead + first × node cost.
    fn shopify_cost(plan: &ProductsPlan, per_variant: u32, per_media: u32, base: u32) -> u32 {
        2 + plan.first * (base + plan.media_first * per_media + plan.variants_first * per_variant)
    }

    #[test]
    fn plans_stay_under_the_target_and_grow_when_nodes_are_cheaper_than_assumed() {
        let mut sizer = ProductsSizer::new(400);
        let first_plan = sizer.plan();
        let cost = shopify_cost(&first_plan, 3, 1, 2);
        assert!(cost <= 400, "first page costs {cost}");
        sizer.observe(&first_plan, cost);
        let next = sizer.plan();
        assert!(next.first > first_plan.first, "{next:?} vs {first_plan:?}");
        assert!(shopify_cost(&next, 3, 1, 2) <= 400);
    }

    #[test]
    fn plans_shrink_when_nodes_are_dearer_than_assumed() {
        let mut sizer = ProductsSizer::new(400);
        let plan = sizer.plan();
        let cost = shopify_cost(&plan, 30, 4, 5);
        sizer.observe(&plan, cost);
        let next = sizer.plan();
        assert!(shopify_cost(&next, 30, 4, 5) <= 400, "{next:?}");
        assert!(next.variants_first < plan.variants_first || next.first < plan.first);
    }

    #[test]
    fn a_tiny_target_still_plans_one_product_with_every_image() {
        let sizer = ProductsSizer::new(20);
        let plan = sizer.plan();
        assert_eq!(plan.first, 1);
        assert_eq!(plan.variants_first, 1);
        assert_eq!(plan.media_first, DEFAULT_MEDIA_FIRST);
    }

    #[test]
    fn variant_pages_learn_their_cost() {
        let mut sizer = VariantsSizer::new(400);
        let (first, _) = sizer.plan();
        sizer.observe(first, 3 + first * 4);
        let (next, estimate) = sizer.plan();
        assert!(next > first);
        assert!(estimate <= 400);
    }
}
