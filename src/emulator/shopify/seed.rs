//! `ShopData::sample()`: a realistic, deterministic sample shop
//! ("Northwind Outfitters", USD, US) of 50 products covering the cases a feed
//! mapper must handle: many-variant apparel, a 60-variant product, sale
//! prices, out-of-stock/oversellable/untracked stock, valid and invalid GTINs,
//! products without images, video/3D media, draft, archived and unlisted
//! products, and an active product missing from the Online Store. Its
//! checkout pricing rules are `pricing_sample::sample_pricing()`.

use std::collections::BTreeSet;

use super::data::{
    Image, InventoryPolicy, Media, MediaKind, Policy, PolicyType, Price, Product, ProductOption,
    ProductStatus, Publication, SelectedOption, ShopData, ShopInfo, Variant, Weight, WeightUnit,
    handleize,
};
use super::pricing_sample::sample_pricing;

const NO_MEDIA: u32 = 1;
const NOT_ONLINE: u32 = 1 << 1;
const UNTRACKED: u32 = 1 << 2;
const CONTINUE_AT_ZERO: u32 = 1 << 3;
const SOME_SOLD_OUT: u32 = 1 << 4;
const VIDEO: u32 = 1 << 5;
const EXTERNAL_VIDEO: u32 = 1 << 6;
const MODEL_3D: u32 = 1 << 7;
const DIGITAL: u32 = 1 << 8;
const BAD_GTIN: u32 = 1 << 9;
const NO_GTIN: u32 = 1 << 10;
const EAN13: u32 = 1 << 11;
const NO_ALT: u32 = 1 << 12;

const SIZES: &[&str] = &["S", "M", "L", "XL"];
const SIZES5: &[&str] = &["XS", "S", "M", "L", "XL"];

struct Spec {
    title: &'static str,
    vendor: &'static str,
    product_type: &'static str,
    category: Option<&'static str>,
    price: Price,
    compare_at: Option<Price>,
    options: &'static [(&'static str, &'static [&'static str])],
    status: ProductStatus,
    tags: &'static [&'static str],
    weight: Option<(f64, WeightUnit)>,
    flags: u32,
    description: &'static str,
}

const NW: &str = "Northwind Outfitters";
const HF: &str = "Hearth & Field";
const SS: &str = "Summit Supply Co.";
const TOPS: Option<&str> = Some("Apparel & Accessories > Clothing > Clothing Tops > T-Shirts");
const OUTER: Option<&str> = Some("Apparel & Accessories > Clothing > Outerwear > Coats & Jackets");
const PANTS: Option<&str> = Some("Apparel & Accessories > Clothing > Pants");
const HATS: Option<&str> = Some("Apparel & Accessories > Clothing Accessories > Hats");
const BAGS: Option<&str> = Some("Luggage & Bags > Backpacks");
const KITCHEN: Option<&str> = Some("Home & Garden > Kitchen & Dining > Tableware > Drinkware");
const DECOR: Option<&str> = Some("Home & Garden > Decor");
const LINENS: Option<&str> = Some("Home & Garden > Linens & Bedding > Bedding > Blankets");
const CAMP: Option<&str> = Some("Sporting Goods > Outdoor Recreation > Camping & Hiking");

const fn p(units: i64, cents: i64) -> Price {
    Price::new(units, cents)
}

#[rustfmt::skip]
const SPECS: &[Spec] = &[
    Spec { title: "Harbor Crew Tee", vendor: NW, product_type: "T-Shirts", category: TOPS, price: p(28, 0), compare_at: None,
        options: &[("Size", SIZES5), ("Color", &["Navy", "Heather Grey", "Sage"])], status: ProductStatus::Active,
        tags: &["cotton", "essentials", "men"], weight: Some((180.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Our everyday tee in <strong>100% organic cotton</strong>.</p><ul><li>Relaxed fit</li><li>Pre-shrunk &amp; garment-dyed</li></ul>" },
    Spec { title: "Ridgeline Hoodie", vendor: NW, product_type: "Hoodies", category: TOPS, price: p(68, 0), compare_at: Some(p(85, 0)),
        options: &[("Size", SIZES), ("Color", &["Charcoal", "Forest", "Rust"])], status: ProductStatus::Active,
        tags: &["fleece", "sale", "unisex"], weight: Some((540.0, WeightUnit::Grams)), flags: SOME_SOLD_OUT,
        description: "<p>Brushed-back fleece hoodie.<br>Kangaroo pocket &amp; double-lined hood.</p>" },
    Spec { title: "Trailhead Merino Base Layer", vendor: NW, product_type: "Base Layers", category: TOPS, price: p(89, 0), compare_at: None,
        options: &[("Size", SIZES5), ("Color", &["Black", "Charcoal", "Navy", "Forest", "Olive", "Sand", "Rust", "Plum", "Slate", "Ocean", "Berry", "Ivory"])],
        status: ProductStatus::Active, tags: &["merino", "layering", "bestseller"], weight: Some((210.0, WeightUnit::Grams)), flags: 0,
        description: "<p>18.5&nbsp;&micro;m merino wool &ndash; warm when wet, odour resistant.</p><ol><li>Flatlock seams</li><li>Thumb loops</li></ol>" },
    Spec { title: "Cascade Rain Jacket", vendor: NW, product_type: "Jackets", category: OUTER, price: p(149, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Black", "Glacier Blue", "Signal Orange"])], status: ProductStatus::Active,
        tags: &["waterproof", "outerwear"], weight: Some((0.42, WeightUnit::Kilograms)), flags: EXTERNAL_VIDEO,
        description: "<p>2.5-layer waterproof shell (20,000&nbsp;mm).</p><ul><li>Pit zips</li><li>Packs into its own pocket</li></ul>" },
    Spec { title: "Summit Fleece Vest", vendor: NW, product_type: "Vests", category: OUTER, price: p(59, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Heather Grey", "Navy"])], status: ProductStatus::Active,
        tags: &["fleece", "layering"], weight: Some((300.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Grid fleece vest for cool mornings.</p>" },
    Spec { title: "Coastal Linen Shirt", vendor: NW, product_type: "Shirts", category: TOPS, price: p(54, 50), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["White", "Sky", "Sand"])], status: ProductStatus::Active,
        tags: &["linen", "summer"], weight: Some((220.0, WeightUnit::Grams)), flags: NO_ALT,
        description: "<p>European flax linen, garment washed for softness.</p>" },
    Spec { title: "Everyday Chino Pants", vendor: NW, product_type: "Pants", category: PANTS, price: p(72, 0), compare_at: None,
        options: &[("Waist", &["30", "32", "34", "36"]), ("Color", &["Khaki", "Olive"])], status: ProductStatus::Active,
        tags: &["cotton", "men"], weight: Some((480.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Stretch twill chinos with a tapered leg.</p><ul><li>Inseam: 32&quot;</li></ul>" },
    Spec { title: "Alpine Down Parka", vendor: NW, product_type: "Jackets", category: OUTER, price: p(249, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Black", "Moss"])], status: ProductStatus::Active,
        tags: &["down", "winter", "outerwear"], weight: Some((1.1, WeightUnit::Kilograms)), flags: SOME_SOLD_OUT | VIDEO,
        description: "<p>700-fill responsibly sourced down.<br>Rated to &minus;20&nbsp;&deg;C.</p>" },
    Spec { title: "Meadow Wrap Dress", vendor: NW, product_type: "Dresses", category: Some("Apparel & Accessories > Clothing > Dresses"),
        price: p(98, 0), compare_at: Some(p(120, 0)), options: &[("Size", SIZES), ("Color", &["Floral Blue", "Terracotta"])],
        status: ProductStatus::Active, tags: &["women", "sale"], weight: Some((320.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Flowing viscose wrap dress with a tie waist.</p>" },
    Spec { title: "Wool Beanie", vendor: NW, product_type: "Hats", category: HATS, price: p(24, 0), compare_at: None,
        options: &[("Color", &["Charcoal", "Mustard", "Forest", "Cream"])], status: ProductStatus::Active,
        tags: &["wool", "winter", "accessories"], weight: Some((3.0, WeightUnit::Ounces)), flags: 0,
        description: "<p>Ribbed lambswool beanie &ndash; one size fits most.</p>" },
    Spec { title: "Merino Crew Socks (3-Pack)", vendor: NW, product_type: "Socks", category: Some("Apparel & Accessories > Clothing > Underwear & Socks > Socks"),
        price: p(36, 0), compare_at: None, options: &[("Size", &["S/M", "L/XL"]), ("Color", &["Grey", "Black"])],
        status: ProductStatus::Active, tags: &["merino", "socks"], weight: Some((150.0, WeightUnit::Grams)), flags: BAD_GTIN,
        description: "<p>Three pairs of cushioned merino crew socks.</p>" },
    Spec { title: "Canvas Field Cap", vendor: NW, product_type: "Hats", category: HATS, price: p(32, 0), compare_at: None,
        options: &[("Color", &["Khaki", "Navy", "Black"])], status: ProductStatus::Active,
        tags: &["accessories"], weight: Some((110.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Six-panel waxed canvas cap with a leather strap.</p>" },
    Spec { title: "Quilted Overshirt", vendor: NW, product_type: "Shirts", category: OUTER, price: p(110, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Olive", "Black"])], status: ProductStatus::Draft,
        tags: &["new-season"], weight: Some((650.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Coming soon: onion-quilted overshirt.</p>" },
    Spec { title: "Heritage Denim Jacket", vendor: NW, product_type: "Jackets", category: OUTER, price: p(128, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Indigo"])], status: ProductStatus::Archived,
        tags: &["denim", "discontinued"], weight: Some((0.9, WeightUnit::Kilograms)), flags: 0,
        description: "<p>Selvedge denim trucker jacket (discontinued).</p>" },
    Spec { title: "Kids' Puddle Boots", vendor: SS, product_type: "Boots", category: Some("Apparel & Accessories > Shoes > Boots"),
        price: p(45, 0), compare_at: None, options: &[("Size", &["10", "11", "12", "13", "1", "2"]), ("Color", &["Yellow", "Red"])],
        status: ProductStatus::Active, tags: &["kids", "rain"], weight: Some((14.0, WeightUnit::Ounces)), flags: SOME_SOLD_OUT,
        description: "<p>Natural rubber rain boots with easy-pull handles.</p>" },
    Spec { title: "Trail Running Shorts", vendor: NW, product_type: "Shorts", category: PANTS, price: p(48, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Black", "Cobalt"])], status: ProductStatus::Active,
        tags: &["running", "summer"], weight: Some((140.0, WeightUnit::Grams)), flags: CONTINUE_AT_ZERO,
        description: "<p>5&quot; shorts with a built-in liner.<br>Made to order when sold out.</p>" },
    Spec { title: "Organic Cotton Polo", vendor: NW, product_type: "Shirts", category: TOPS, price: p(58, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["White", "Navy", "Sage"])], status: ProductStatus::Active,
        tags: &["cotton", "in-store-only"], weight: Some((240.0, WeightUnit::Grams)), flags: NOT_ONLINE,
        description: "<p>Pique polo, sold in our retail stores only.</p>" },
    Spec { title: "Lightweight Windbreaker", vendor: NW, product_type: "Jackets", category: OUTER, price: p(79, 99), compare_at: None,
        options: &[("Size", &["S", "M", "L"]), ("Color", &["Teal", "Black"])], status: ProductStatus::Active,
        tags: &["outerwear", "running"], weight: Some((190.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Featherweight wind shell &ndash; 190&nbsp;g.</p>" },
    Spec { title: "Thermal Leggings", vendor: NW, product_type: "Leggings", category: PANTS, price: p(64, 0), compare_at: None,
        options: &[("Size", SIZES), ("Color", &["Black", "Plum"])], status: ProductStatus::Active,
        tags: &["women", "winter"], weight: Some((200.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Brushed thermal leggings with a high waist.</p>" },
    Spec { title: "Packable Puffer Vest", vendor: NW, product_type: "Vests", category: OUTER, price: p(89, 0), compare_at: Some(p(119, 0)),
        options: &[("Size", SIZES), ("Color", &["Black", "Rust"])], status: ProductStatus::Active,
        tags: &["sale", "outerwear"], weight: Some((280.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Synthetic-fill vest that packs into its chest pocket.</p>" },
    Spec { title: "Waxed Canvas Backpack", vendor: SS, product_type: "Backpacks", category: BAGS, price: p(165, 0), compare_at: None,
        options: &[("Color", &["Field Tan", "Black"])], status: ProductStatus::Active,
        tags: &["bags", "bestseller"], weight: Some((1.3, WeightUnit::Kilograms)), flags: MODEL_3D,
        description: "<p>22&nbsp;L roll-top pack.</p><ul><li>Padded 15&quot; laptop sleeve</li><li>Brass hardware</li></ul>" },
    Spec { title: "Leather Card Wallet", vendor: SS, product_type: "Wallets", category: Some("Apparel & Accessories > Handbags, Wallets & Cases > Wallets & Money Clips"),
        price: p(42, 0), compare_at: None, options: &[("Color", &["Tan", "Black", "Oxblood"])], status: ProductStatus::Active,
        tags: &["leather", "gifts"], weight: Some((1.5, WeightUnit::Ounces)), flags: 0,
        description: "<p>Vegetable-tanned leather, holds 6 cards.</p>" },
    Spec { title: "Insulated Water Bottle 750 ml", vendor: SS, product_type: "Water Bottles", category: KITCHEN, price: p(34, 0), compare_at: None,
        options: &[("Color", &["Glacier", "Moss", "Sunset", "Stone"])], status: ProductStatus::Active,
        tags: &["hydration", "camp"], weight: Some((380.0, WeightUnit::Grams)), flags: BAD_GTIN,
        description: "<p>Keeps drinks cold for 24&nbsp;h, hot for 12&nbsp;h.</p>" },
    Spec { title: "Polarized Sunglasses", vendor: SS, product_type: "Sunglasses", category: Some("Apparel & Accessories > Clothing Accessories > Sunglasses"),
        price: p(75, 0), compare_at: None, options: &[], status: ProductStatus::Active,
        tags: &["accessories", "summer"], weight: Some((30.0, WeightUnit::Grams)), flags: NO_MEDIA,
        description: "<p>Polarized lenses with 100% UV400 protection.</p>" },
    Spec { title: "Trekking Poles (Pair)", vendor: SS, product_type: "Trekking Poles", category: CAMP, price: p(119, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["hiking"], weight: Some((1.1, WeightUnit::Pounds)), flags: NO_GTIN,
        description: "<p>Carbon fibre, flick-lock adjustment 105&ndash;135&nbsp;cm.</p>" },
    Spec { title: "Dry Bag 20L", vendor: SS, product_type: "Dry Bags", category: CAMP, price: p(29, 0), compare_at: None,
        options: &[("Color", &["Orange", "Blue", "Grey"])], status: ProductStatus::Active,
        tags: &["camp", "waterproof"], weight: Some((160.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Roll-top dry bag, welded seams.</p>" },
    Spec { title: "Digital Gift Card", vendor: NW, product_type: "Gift Cards", category: None, price: p(25, 0), compare_at: None,
        options: &[("Denomination", &["$25", "$50", "$100"])], status: ProductStatus::Active,
        tags: &["gift"], weight: None, flags: DIGITAL | UNTRACKED | NO_GTIN,
        description: "<p>Delivered by email. Never expires.</p>" },
    Spec { title: "Enamel Camp Mug", vendor: HF, product_type: "Mugs", category: KITCHEN, price: p(18, 0), compare_at: None,
        options: &[("Color", &["White", "Forest", "Navy"])], status: ProductStatus::Active,
        tags: &["camp", "kitchen"], weight: Some((250.0, WeightUnit::Grams)), flags: EAN13,
        description: "<p>Steel enamel mug, 350&nbsp;ml.</p>" },
    Spec { title: "Hand-Thrown Stoneware Mug", vendor: HF, product_type: "Mugs", category: KITCHEN, price: p(32, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["handmade", "kitchen"], weight: Some((0.4, WeightUnit::Kilograms)), flags: EAN13,
        description: "<p>Each mug is unique &mdash; glaze &amp; size vary slightly.</p><p>Dishwasher &lt;em&gt;safe&lt;/em&gt;.</p>" },
    Spec { title: "Wool Throw Blanket", vendor: HF, product_type: "Blankets", category: LINENS, price: p(129, 0), compare_at: None,
        options: &[("Color", &["Oat", "Slate", "Moss"])], status: ProductStatus::Active,
        tags: &["wool", "home"], weight: Some((1.6, WeightUnit::Kilograms)), flags: EAN13 | SOME_SOLD_OUT,
        description: "<p>Woven in Portugal from recycled wool.</p><ul><li>130 &times; 180&nbsp;cm</li></ul>" },
    Spec { title: "Soy Candle \u{2013} Cedar & Sage", vendor: HF, product_type: "Candles", category: DECOR, price: p(26, 0), compare_at: None,
        options: &[("Size", &["8 oz", "16 oz"])], status: ProductStatus::Active,
        tags: &["home", "gifts"], weight: Some((12.0, WeightUnit::Ounces)), flags: EAN13,
        description: "<p>Hand-poured soy wax, cotton wick.<br>Burn time: 50&nbsp;h.</p>" },
    Spec { title: "Linen Napkin Set (4)", vendor: HF, product_type: "Table Linens", category: DECOR, price: p(38, 0), compare_at: None,
        options: &[("Color", &["Natural", "Charcoal", "Rose"])], status: ProductStatus::Active,
        tags: &["linen", "home"], weight: Some((200.0, WeightUnit::Grams)), flags: EAN13,
        description: "<p>Stonewashed linen napkins, set of four.</p>" },
    Spec { title: "Cast Iron Skillet 10\"", vendor: HF, product_type: "Cookware", category: Some("Home & Garden > Kitchen & Dining > Cookware & Bakeware > Cookware > Skillets & Frying Pans"),
        price: p(55, 0), compare_at: None, options: &[], status: ProductStatus::Active,
        tags: &["kitchen", "camp"], weight: Some((5.3, WeightUnit::Pounds)), flags: 0,
        description: "<p>Pre-seasoned cast iron. Oven &amp; campfire safe.</p>" },
    Spec { title: "Cedar Cutting Board", vendor: HF, product_type: "Cutting Boards", category: KITCHEN, price: p(48, 0), compare_at: None,
        options: &[("Size", &["Small", "Large"])], status: ProductStatus::Active,
        tags: &["kitchen", "handmade"], weight: Some((1.2, WeightUnit::Kilograms)), flags: 0,
        description: "<p>Edge-grain western red cedar.</p>" },
    Spec { title: "French Press 1L", vendor: HF, product_type: "Coffee Makers", category: KITCHEN, price: p(44, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["coffee", "kitchen"], weight: Some((0.8, WeightUnit::Kilograms)), flags: BAD_GTIN,
        description: "<p>Borosilicate glass &amp; stainless steel.</p>" },
    Spec { title: "Ceramic Planter", vendor: HF, product_type: "Planters", category: DECOR, price: p(22, 0), compare_at: None,
        options: &[("Size", &["4 in", "6 in", "8 in"]), ("Color", &["White", "Terracotta"])], status: ProductStatus::Active,
        tags: &["home", "garden"], weight: Some((1.0, WeightUnit::Pounds)), flags: 0,
        description: "<p>Matte glazed planter with a drainage hole &amp; saucer.</p>" },
    Spec { title: "Pour-Over Coffee Kit", vendor: HF, product_type: "Coffee Makers", category: KITCHEN, price: p(39, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["coffee"], weight: Some((600.0, WeightUnit::Grams)), flags: CONTINUE_AT_ZERO,
        description: "<p>Dripper, carafe and 100 filters.<br>Ships in 2&ndash;3 weeks when back-ordered.</p>" },
    Spec { title: "Beeswax Food Wraps", vendor: HF, product_type: "Food Storage", category: KITCHEN, price: p(18, 50), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["zero-waste", "kitchen"], weight: Some((90.0, WeightUnit::Grams)), flags: UNTRACKED,
        description: "<p>Set of 3 reusable wraps (S, M, L).</p>" },
    Spec { title: "Camp Hammock with Straps", vendor: SS, product_type: "Hammocks", category: CAMP, price: p(69, 0), compare_at: None,
        options: &[("Color", &["Forest", "Sunset"])], status: ProductStatus::Active,
        tags: &["camp", "summer"], weight: Some((1.2, WeightUnit::Pounds)), flags: VIDEO,
        description: "<p>Parachute nylon hammock, holds 180&nbsp;kg.</p>" },
    Spec { title: "Enamel Camp Plate Set", vendor: HF, product_type: "Dinnerware", category: KITCHEN, price: p(36, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["camp", "kitchen"], weight: Some((700.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Four enamel plates, speckled finish.</p>" },
    Spec { title: "Woven Storage Basket", vendor: HF, product_type: "Baskets", category: DECOR, price: p(34, 0), compare_at: None,
        options: &[("Size", &["Small", "Medium", "Large"])], status: ProductStatus::Active,
        tags: &["home", "handmade"], weight: Some((0.5, WeightUnit::Kilograms)), flags: 0,
        description: "<p>Seagrass basket with leather handles.</p>" },
    Spec { title: "Essential Oil Diffuser", vendor: HF, product_type: "Diffusers", category: DECOR, price: p(49, 0), compare_at: Some(p(65, 0)),
        options: &[], status: ProductStatus::Active, tags: &["home", "sale"], weight: Some((450.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Ultrasonic diffuser with a ceramic cover.</p>" },
    Spec { title: "Bamboo Utensil Set", vendor: HF, product_type: "Utensils", category: KITCHEN, price: p(16, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["zero-waste", "camp"], weight: Some((80.0, WeightUnit::Grams)), flags: NO_ALT,
        description: "<p>Fork, knife, spoon &amp; chopsticks in a cotton pouch.</p>" },
    Spec { title: "Picnic Cooler Bag", vendor: SS, product_type: "Coolers", category: CAMP, price: p(58, 0), compare_at: None,
        options: &[("Color", &["Navy", "Sand"])], status: ProductStatus::Active,
        tags: &["camp", "summer"], weight: Some((0.9, WeightUnit::Kilograms)), flags: 0,
        description: "<p>Insulated 18&nbsp;L cooler tote.</p>" },
    Spec { title: "Stoneware Dinner Plates (Set of 4)", vendor: HF, product_type: "Dinnerware", category: KITCHEN, price: p(84, 0), compare_at: None,
        options: &[("Color", &["Speckled White", "Charcoal"])], status: ProductStatus::Active,
        tags: &["kitchen", "handmade"], weight: Some((3.2, WeightUnit::Kilograms)), flags: EAN13,
        description: "<p>Four 27&nbsp;cm plates, microwave &amp; dishwasher safe.</p>" },
    Spec { title: "Trail Map Poster", vendor: NW, product_type: "Posters", category: DECOR, price: p(25, 0), compare_at: None,
        options: &[("Size", &["12x18", "18x24"])], status: ProductStatus::Active,
        tags: &["art", "gifts"], weight: Some((200.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Giclée print on 200&nbsp;gsm matte paper.</p>" },
    Spec { title: "Merino Neck Gaiter", vendor: NW, product_type: "Scarves", category: HATS, price: p(29, 0), compare_at: None,
        options: &[("Color", &["Black", "Heather Grey", "Ocean", "Berry"])], status: ProductStatus::Active,
        tags: &["merino", "winter"], weight: Some((60.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Lightweight merino tube &ndash; wear it 8 ways.</p>" },
    Spec { title: "Reusable Coffee Filter", vendor: HF, product_type: "Coffee Accessories", category: KITCHEN, price: p(14, 0), compare_at: None,
        options: &[], status: ProductStatus::Active, tags: &["coffee", "zero-waste"], weight: Some((40.0, WeightUnit::Grams)), flags: NO_MEDIA,
        description: "<p>Stainless mesh filter for pour-over.</p>" },
    Spec { title: "Sample Sale Tote", vendor: NW, product_type: "Bags", category: BAGS, price: p(15, 0), compare_at: Some(p(30, 0)),
        options: &[], status: ProductStatus::Unlisted, tags: &["sample-sale"], weight: Some((300.0, WeightUnit::Grams)), flags: 0,
        description: "<p>Heavy canvas tote &ndash; sample sale only.</p>" },
    Spec { title: "Camp Lantern", vendor: SS, product_type: "Lanterns", category: CAMP, price: p(52, 0), compare_at: None,
        options: &[("Color", &["Olive", "Orange"])], status: ProductStatus::Active,
        tags: &["camp", "lighting"], weight: Some((18.0, WeightUnit::Ounces)), flags: 0,
        description: "<p>Rechargeable LED lantern, 500 lumens.<br>USB-C charging.</p>" },
];

/// First ids of the sample shop (Shopify-sized numbers).
const PRODUCT_ID_BASE: u64 = 8_804_120_000_000;
const VARIANT_ID_BASE: u64 = 46_210_330_000_000;
const MEDIA_ID_BASE: u64 = 31_877_540_000_000;
/// Publication ids: Online Store, Point of Sale, Shop.
const PUBLICATION_IDS: [u64; 3] = [128_772_735_001, 128_772_767_769, 128_772_800_537];
/// 2026-03-02T09:00:00Z and 2026-10-01T08:00:00Z in epoch milliseconds.
const CREATED_BASE: i64 = 1_772_442_000_000;
const UPDATED_BASE: i64 = 1_790_841_600_000;

/// Appends a GTIN check digit (mod-10, weights 3/1 from the right).
pub(crate) fn with_check_digit(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn abbreviation(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.chars().next())
        .map(|c| c.to_ascii_uppercase())
        .take(4)
        .collect()
}

fn code(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase()
}

fn cartesian(options: &[(&str, &[&str])]) -> Vec<Vec<SelectedOption>> {
    let mut combos: Vec<Vec<SelectedOption>> = vec![Vec::new()];
    for (name, values) in options {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(SelectedOption {
                        name: (*name).to_owned(),
                        value: (*v).to_owned(),
                    });
                    next
                })
            })
            .collect();
    }
    combos
}

struct Ids {
    variant: u64,
    media: u64,
}

fn image_media(ids: &mut Ids, handle: &str, suffix: &str, alt: Option<String>) -> Media {
    ids.media += 1;
    Media {
        id: ids.media,
        alt: alt.clone(),
        kind: MediaKind::Image(Image {
            url: format!(
                "https://cdn.shopify.com/s/files/1/0612/3456/7890/files/{handle}{suffix}.jpg?v=1761900000"
            ),
            alt_text: alt,
            width: Some(2048),
            height: Some(if suffix.is_empty() { 2048 } else { 2560 }),
        }),
    }
}

fn build(index: usize, spec: &Spec, ids: &mut Ids) -> Product {
    let n = index as u64;
    let handle = handleize(spec.title);
    let abbr = abbreviation(spec.title);
    let alt = |what: &str| (spec.flags & NO_ALT == 0).then(|| what.to_owned());
    let mut media = Vec::new();
    let colour_option = spec.options.iter().find(|(name, _)| *name == "Color");
    if spec.flags & NO_MEDIA == 0 {
        media.push(image_media(ids, &handle, "", alt(spec.title)));
        if let Some((_, colours)) = colour_option {
            for colour in colours.iter() {
                let suffix = format!("-{}", handleize(colour));
                let text = format!("{} in {colour}", spec.title);
                media.push(image_media(ids, &handle, &suffix, alt(&text)));
            }
        }
        let extra = [
            (VIDEO, MediaKind::Video),
            (EXTERNAL_VIDEO, MediaKind::ExternalVideo),
            (MODEL_3D, MediaKind::Model3d),
        ];
        for (flag, kind) in extra {
            if spec.flags & flag != 0 {
                ids.media += 1;
                media.push(Media {
                    id: ids.media,
                    alt: Some(format!("{} in use", spec.title)),
                    kind,
                });
            }
        }
    }
    let combos = if spec.options.is_empty() {
        vec![vec![SelectedOption {
            name: "Title".to_owned(),
            value: "Default Title".to_owned(),
        }]]
    } else {
        cartesian(spec.options)
    };
    let variants = combos
        .into_iter()
        .enumerate()
        .map(|(i, selected)| {
            ids.variant += 1;
            let k = n * 31 + i as u64;
            let tracked = spec.flags & UNTRACKED == 0;
            let (quantity, policy) = if spec.flags & SOME_SOLD_OUT != 0 && i % 4 == 3 {
                (0, InventoryPolicy::Deny)
            } else if spec.flags & CONTINUE_AT_ZERO != 0 && i % 3 == 0 {
                (0, InventoryPolicy::Continue)
            } else if tracked {
                (((k * 7 + 3) % 45 + 1) as i32, InventoryPolicy::Deny)
            } else {
                (0, InventoryPolicy::Deny)
            };
            let title = selected
                .iter()
                .map(|o| o.value.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            let sku_tail: Vec<String> = selected.iter().map(|o| code(&o.value)).collect();
            let barcode = if spec.flags & NO_GTIN != 0 {
                None
            } else if spec.flags & EAN13 != 0 {
                Some(with_check_digit(&format!("560{:09}", 100_000 + k)))
            } else {
                let valid = with_check_digit(&format!("08{:09}", 400_000 + k));
                if spec.flags & BAD_GTIN != 0 && i % 2 == 0 {
                    let mut broken = valid.into_bytes();
                    let last = broken.len() - 1;
                    broken[last] = b'0' + (broken[last] - b'0' + 1) % 10;
                    Some(String::from_utf8_lossy(&broken).into_owned())
                } else {
                    Some(valid)
                }
            };
            let media_ids = colour_option
                .and_then(|(name, colours)| {
                    let value = selected.iter().find(|o| o.name == *name)?;
                    let pos = colours.iter().position(|c| *c == value.value)?;
                    media.get(pos + 1).map(|m| vec![m.id])
                })
                .unwrap_or_default();
            let price = if spec.title == "Digital Gift Card" {
                Price::new(25 * (1 << i), 0)
            } else {
                spec.price
            };
            Variant {
                id: ids.variant,
                title,
                sku: Some(if spec.options.is_empty() {
                    format!("NWO-{abbr}")
                } else {
                    format!("NWO-{abbr}-{}", sku_tail.join("-"))
                }),
                barcode,
                price,
                compare_at_price: spec.compare_at,
                inventory_quantity: quantity,
                inventory_policy: policy,
                tracked,
                requires_shipping: spec.flags & DIGITAL == 0,
                weight: spec.weight.map(|(value, unit)| Weight { value, unit }),
                selected_options: selected,
                media_ids,
            }
        })
        .collect();
    let mut publications: BTreeSet<u64> = PUBLICATION_IDS[1..].iter().copied().collect();
    if spec.flags & NOT_ONLINE == 0 && spec.status != ProductStatus::Draft {
        publications.insert(PUBLICATION_IDS[0]);
    }
    let hour = 3_600_000;
    Product {
        id: PRODUCT_ID_BASE + n + 1,
        title: spec.title.to_owned(),
        handle,
        description_html: spec.description.to_owned(),
        vendor: spec.vendor.to_owned(),
        product_type: spec.product_type.to_owned(),
        tags: spec.tags.iter().map(|t| (*t).to_owned()).collect(),
        status: spec.status,
        category: spec.category.map(str::to_owned),
        options: if spec.options.is_empty() {
            vec![ProductOption {
                name: "Title".to_owned(),
                values: vec!["Default Title".to_owned()],
            }]
        } else {
            spec.options
                .iter()
                .map(|(name, values)| ProductOption {
                    name: (*name).to_owned(),
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                })
                .collect()
        },
        media,
        variants,
        publications,
        created_at: CREATED_BASE + n as i64 * 24 * hour,
        // A permutation of hours, so UPDATED_AT order differs from id order.
        updated_at: UPDATED_BASE + ((n * 37) % 53) as i64 * hour + n as i64 * 1000,
    }
}

/// The sample shop's identity and policies.
pub(crate) fn sample_shop() -> ShopInfo {
    let host = "northwindoutfitters.com";
    let policy = |kind, path: &str| Policy {
        kind,
        url: format!("https://{host}/policies/{path}"),
    };
    ShopInfo {
        id: 61_234_567_890,
        name: "Northwind Outfitters".to_owned(),
        myshopify_domain: "northwind-outfitters.myshopify.com".to_owned(),
        currency_code: "USD".to_owned(),
        ships_to_countries: vec!["US".to_owned(), "CA".to_owned(), "DE".to_owned()],
        primary_domain_host: host.to_owned(),
        country_code: "US".to_owned(),
        policies: vec![
            policy(PolicyType::Refund, "refund-policy"),
            policy(PolicyType::Privacy, "privacy-policy"),
            policy(PolicyType::TermsOfService, "terms-of-service"),
            policy(PolicyType::Shipping, "shipping-policy"),
        ],
    }
}

/// The three standard sales channels.
pub(crate) fn sample_publications() -> Vec<Publication> {
    ["Online Store", "Point of Sale", "Shop"]
        .iter()
        .zip(PUBLICATION_IDS)
        .map(|(name, id)| Publication {
            id,
            name: (*name).to_owned(),
        })
        .collect()
}

impl ShopData {
    /// The deterministic 50-product sample shop "Northwind Outfitters".
    pub fn sample() -> Self {
        let mut ids = Ids {
            variant: VARIANT_ID_BASE,
            media: MEDIA_ID_BASE,
        };
        let products = SPECS
            .iter()
            .enumerate()
            .map(|(i, spec)| build(i, spec, &mut ids))
            .collect();
        ShopData {
            shop: sample_shop(),
            publications: sample_publications(),
            products,
            pricing: sample_pricing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtin_valid(code: &str) -> bool {
        code.len() >= 12
            && code.bytes().all(|b| b.is_ascii_digit())
            && with_check_digit(&code[..code.len() - 1]) == code
    }

    #[test]
    fn the_sample_shop_covers_the_feed_edge_cases() {
        let data = ShopData::sample();
        let products = &data.products;
        assert_eq!(products.len(), 50);
        assert!(products.iter().any(|p| p.variants.len() == 60));
        assert!(products.iter().any(|p| p.media.is_empty()));
        assert!(products.iter().any(|p| p.status == ProductStatus::Draft));
        assert!(products.iter().any(|p| p.status == ProductStatus::Archived));
        let online = data.publications[0].id;
        assert!(
            products
                .iter()
                .any(|p| p.status == ProductStatus::Active && !p.publications.contains(&online))
        );
        let variants: Vec<&Variant> = products.iter().flat_map(|p| &p.variants).collect();
        assert!(variants.iter().any(|v| v.inventory_quantity == 0
            && v.inventory_policy == InventoryPolicy::Deny
            && v.tracked));
        assert!(
            variants
                .iter()
                .any(|v| v.inventory_quantity == 0
                    && v.inventory_policy == InventoryPolicy::Continue)
        );
        assert!(variants.iter().any(|v| !v.tracked));
        assert!(
            variants
                .iter()
                .any(|v| v.compare_at_price.is_some_and(|c| c > v.price))
        );
        assert!(
            variants
                .iter()
                .any(|v| v.barcode.as_deref().is_some_and(gtin_valid))
        );
        assert!(
            variants
                .iter()
                .any(|v| v.barcode.as_deref().is_some_and(|b| !gtin_valid(b)))
        );
        let media: Vec<&Media> = products.iter().flat_map(|p| &p.media).collect();
        assert!(media.iter().any(|m| m.kind == MediaKind::Video));
        let units: BTreeSet<&str> = variants
            .iter()
            .filter_map(|v| v.weight)
            .map(|w| w.unit.as_str())
            .collect();
        assert_eq!(units.len(), 4);
        let updated: BTreeSet<i64> = products.iter().map(|p| p.updated_at).collect();
        assert_eq!(updated.len(), products.len(), "updatedAt values are unique");
    }

    #[test]
    fn the_sample_shop_is_deterministic() {
        assert_eq!(ShopData::sample(), ShopData::sample());
    }
}
