//! `ShopData::generated(..)`: large deterministic catalogs for benchmarks
//! (100,000 products × 3 variants builds in a few seconds).
//!
//! Same shop identity and publications as the sample shop; product fields are
//! drawn from small word lists with a seeded RNG, so two calls with the same
//! arguments produce identical data.

use std::collections::BTreeSet;

use super::data::{
    Image, InventoryPolicy, Media, MediaKind, Price, Product, ProductOption, ProductStatus,
    SelectedOption, ShopData, Variant, Weight, WeightUnit,
};
use super::seed::{sample_publications, sample_shop, with_check_digit};

const ADJECTIVES: &[&str] = &[
    "Alpine", "Coastal", "Harbor", "Summit", "Meadow", "Ridge", "Cedar", "Granite", "Prairie",
    "Tidal", "Aurora", "Canyon", "Forest", "Glacier", "Juniper", "Maple",
];
const NOUNS: &[(&str, &str, &str)] = &[
    (
        "Tee",
        "T-Shirts",
        "Apparel & Accessories > Clothing > Clothing Tops > T-Shirts",
    ),
    (
        "Hoodie",
        "Hoodies",
        "Apparel & Accessories > Clothing > Clothing Tops > Sweatshirts",
    ),
    (
        "Jacket",
        "Jackets",
        "Apparel & Accessories > Clothing > Outerwear > Coats & Jackets",
    ),
    (
        "Beanie",
        "Hats",
        "Apparel & Accessories > Clothing Accessories > Hats",
    ),
    ("Backpack", "Backpacks", "Luggage & Bags > Backpacks"),
    (
        "Mug",
        "Mugs",
        "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs",
    ),
    (
        "Blanket",
        "Blankets",
        "Home & Garden > Linens & Bedding > Bedding > Blankets",
    ),
    (
        "Candle",
        "Candles",
        "Home & Garden > Decor > Home Fragrances > Candles",
    ),
    (
        "Lantern",
        "Lanterns",
        "Sporting Goods > Outdoor Recreation > Camping & Hiking",
    ),
    (
        "Socks",
        "Socks",
        "Apparel & Accessories > Clothing > Underwear & Socks > Socks",
    ),
];
const VENDORS: &[&str] = &[
    "Northwind Outfitters",
    "Hearth & Field",
    "Summit Supply Co.",
    "Alder & Pine",
];
const TAGS: &[&str] = &[
    "new",
    "bestseller",
    "sale",
    "gifts",
    "camp",
    "winter",
    "summer",
    "home",
];
const SIZE_VALUES: &[&str] = &["XS", "S", "M", "L", "XL", "XXL"];

impl ShopData {
    /// A synthetic shop of `products` products with `variants_per_product`
    /// variants each (option "Size"), deterministic for a given `seed`.
    ///
    /// About 90% of products are active (the rest draft or archived), 95% are
    /// on the Online Store, one in ten has no image; variants mix in-stock,
    /// sold-out and oversellable stock.
    pub fn generated(products: usize, variants_per_product: usize, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let publications = sample_publications();
        let online = publications[0].id;
        let all_pubs: Vec<u64> = publications.iter().map(|p| p.id).collect();
        let per = variants_per_product.max(1);
        let sizes: Vec<String> = (0..per)
            .map(|i| match SIZE_VALUES.get(i) {
                Some(s) => (*s).to_owned(),
                None => format!("Size {}", i + 1),
            })
            .collect();
        let base_created: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
        let base_updated: i64 = 1_790_841_600_000; // 2026-10-01T08:00:00Z
        let mut out = Vec::with_capacity(products);
        for i in 0..products {
            let n = i as u64;
            let id = 1_000_000_000 + n + 1;
            let adjective = ADJECTIVES[rng.usize(..ADJECTIVES.len())];
            let (noun, product_type, category) = NOUNS[rng.usize(..NOUNS.len())];
            let title = format!("{adjective} {noun} {}", i + 1);
            let handle = format!(
                "{}-{}-{}",
                adjective.to_lowercase(),
                noun.to_lowercase(),
                i + 1
            );
            let status = match rng.u8(..100) {
                0..=4 => ProductStatus::Draft,
                5..=9 => ProductStatus::Archived,
                _ => ProductStatus::Active,
            };
            let media = if rng.u8(..10) == 0 {
                Vec::new()
            } else {
                vec![Media {
                    id: 2_000_000_000 + n,
                    alt: Some(title.clone()),
                    kind: MediaKind::Image(Image {
                        url: format!(
                            "https://cdn.shopify.com/s/files/1/0612/3456/7890/files/{handle}.jpg"
                        ),
                        alt_text: Some(title.clone()),
                        width: Some(1600),
                        height: Some(1600),
                    }),
                }]
            };
            let price = Price(rng.i64(900..25_000));
            let on_sale = rng.u8(..5) == 0;
            let variants = (0..per)
                .map(|v| {
                    let vid = 5_000_000_000 + n * per as u64 + v as u64;
                    let (quantity, policy) = match rng.u8(..10) {
                        0 => (0, InventoryPolicy::Deny),
                        1 => (0, InventoryPolicy::Continue),
                        _ => (rng.i32(1..200), InventoryPolicy::Deny),
                    };
                    Variant {
                        id: vid,
                        title: sizes[v].clone(),
                        sku: Some(format!("GEN-{id}-{v}")),
                        barcode: Some(with_check_digit(&format!("{:011}", vid % 100_000_000_000))),
                        price,
                        compare_at_price: on_sale.then_some(Price(price.0 + price.0 / 4)),
                        inventory_quantity: quantity,
                        inventory_policy: policy,
                        tracked: true,
                        requires_shipping: true,
                        weight: Some(Weight {
                            value: f64::from(rng.u16(50..3000)),
                            unit: WeightUnit::Grams,
                        }),
                        selected_options: vec![SelectedOption {
                            name: "Size".to_owned(),
                            value: sizes[v].clone(),
                        }],
                        media_ids: Vec::new(),
                    }
                })
                .collect();
            let mut pubs: BTreeSet<u64> = all_pubs[1..].iter().copied().collect();
            if rng.u8(..20) != 0 {
                pubs.insert(online);
            }
            let tag_a = TAGS[rng.usize(..TAGS.len())];
            let tag_b = TAGS[rng.usize(..TAGS.len())];
            out.push(Product {
                id,
                description_html: format!("<p>The {title}.</p><ul><li>Made to last</li></ul>"),
                title,
                handle,
                vendor: VENDORS[rng.usize(..VENDORS.len())].to_owned(),
                product_type: product_type.to_owned(),
                tags: if tag_a == tag_b {
                    vec![tag_a.to_owned()]
                } else {
                    vec![tag_a.to_owned(), tag_b.to_owned()]
                },
                status,
                category: Some(category.to_owned()),
                options: vec![ProductOption {
                    name: "Size".to_owned(),
                    values: sizes.clone(),
                }],
                media,
                variants,
                publications: pubs,
                created_at: base_created + n as i64 * 60_000,
                updated_at: base_updated + rng.i64(0..(products as i64 * 1_000).max(1)),
            });
        }
        ShopData {
            shop: sample_shop(),
            publications,
            products: out,
            pricing: super::pricing_sample::sample_pricing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_shops_are_deterministic_and_sized_as_asked() {
        let a = ShopData::generated(200, 3, 7);
        let b = ShopData::generated(200, 3, 7);
        assert_eq!(a, b);
        assert_eq!(a.products.len(), 200);
        assert!(a.products.iter().all(|p| p.variants.len() == 3));
        let ids: BTreeSet<u64> = a
            .products
            .iter()
            .flat_map(|p| &p.variants)
            .map(|v| v.id)
            .collect();
        assert_eq!(ids.len(), 600, "variant ids are unique");
        assert_ne!(a, ShopData::generated(200, 3, 8));
    }
}
