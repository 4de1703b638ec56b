//! The emulated shop's data in Etsy's shapes, and the sample shops.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingState {
    Active,
    Inactive,
    Draft,
}

impl ListingState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ListingState::Active => "active",
            ListingState::Inactive => "inactive",
            ListingState::Draft => "draft",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PropertyValue {
    pub property_id: u64,
    pub property_name: String,
    pub value_ids: Vec<u64>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Offering {
    pub offering_id: u64,
    pub quantity: i64,
    pub is_enabled: bool,
    /// `amount / divisor` in the shop's currency.
    pub amount: i64,
    pub divisor: i64,
}

#[derive(Debug, Clone)]
pub struct InventoryProduct {
    pub product_id: u64,
    pub sku: String,
    pub property_values: Vec<PropertyValue>,
    pub offerings: Vec<Offering>,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub listing_image_id: u64,
    pub rank: u32,
    pub alt_text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Listing {
    pub listing_id: u64,
    pub title: String,
    pub description: String,
    pub state: ListingState,
    pub tags: Vec<String>,
    pub created: i64,
    pub modified: i64,
    pub weight_oz: Option<f64>,
    pub images: Vec<Image>,
    pub products: Vec<InventoryProduct>,
}

#[derive(Debug, Clone)]
pub struct ReturnPolicy {
    pub return_policy_id: u64,
    pub accepts_returns: bool,
    pub return_deadline: Option<u32>,
}

/// One Etsy shop and its owner.
#[derive(Debug, Clone)]
pub struct EtsyShopData {
    pub shop_id: u64,
    pub user_id: u64,
    pub shop_name: String,
    pub currency: String,
    pub country: String,
    pub listings: Vec<Listing>,
    pub return_policies: Vec<ReturnPolicy>,
}

fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

impl Listing {
    /// The listing as Etsy renders `ShopListing`, with `images` and
    /// `inventory` when asked for.
    pub fn to_json(&self, shop: &EtsyShopData, images: bool, inventory: bool) -> Value {
        let min = self
            .products
            .iter()
            .flat_map(|p| &p.offerings)
            .filter(|o| o.is_enabled)
            .min_by_key(|o| o.amount * 1000 / o.divisor.max(1));
        let quantity: i64 = self
            .products
            .iter()
            .flat_map(|p| &p.offerings)
            .filter(|o| o.is_enabled)
            .map(|o| o.quantity)
            .sum();
        let mut v = json!({
            "listing_id": self.listing_id,
            "user_id": shop.user_id,
            "shop_id": shop.shop_id,
            "title": self.title,
            "description": self.description,
            "state": self.state.as_str(),
            "creation_timestamp": self.created,
            "created_timestamp": self.created,
            "last_modified_timestamp": self.modified,
            "updated_timestamp": self.modified,
            "state_timestamp": self.modified,
            "quantity": quantity,
            "url": format!("https://www.etsy.com/listing/{}/{}", self.listing_id, slug(&self.title)),
            "tags": self.tags,
            "materials": [],
            "listing_type": "physical",
            "who_made": "i_did",
            "when_made": "made_to_order",
            "is_supply": false,
            "item_weight": self.weight_oz,
            "item_weight_unit": self.weight_oz.map(|_| "oz"),
            "is_private": false,
            "has_variations": self.products.len() > 1,
            "language": "en-US",
            "price": min.map(|o| json!({"amount": o.amount, "divisor": o.divisor, "currency_code": shop.currency})),
        });
        if images {
            v["images"] = Value::Array(
                self.images
                    .iter()
                    .map(|i| i.to_json(self.listing_id))
                    .collect(),
            );
        }
        if inventory {
            v["inventory"] = self.inventory_json(shop);
        }
        v
    }

    pub fn inventory_json(&self, shop: &EtsyShopData) -> Value {
        let driven: Vec<u64> = self
            .products
            .first()
            .map(|p| p.property_values.iter().map(|pv| pv.property_id).collect())
            .unwrap_or_default();
        json!({
            "products": self.products.iter().map(|p| json!({
                "product_id": p.product_id,
                "sku": p.sku,
                "is_deleted": false,
                "offerings": p.offerings.iter().map(|o| json!({
                    "offering_id": o.offering_id,
                    "quantity": o.quantity,
                    "is_enabled": o.is_enabled,
                    "is_deleted": false,
                    "price": {"amount": o.amount, "divisor": o.divisor, "currency_code": shop.currency},
                    "readiness_state_id": 1,
                })).collect::<Vec<_>>(),
                "property_values": p.property_values.iter().map(|pv| json!({
                    "property_id": pv.property_id,
                    "property_name": pv.property_name,
                    "scale_id": null,
                    "scale_name": null,
                    "value_ids": pv.value_ids,
                    "values": pv.values,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "price_on_property": driven,
            "quantity_on_property": driven,
            "sku_on_property": driven,
            "readiness_state_on_property": [],
        })
    }
}

impl Image {
    pub fn to_json(&self, listing_id: u64) -> Value {
        let base = format!(
            "https://i.etsystatic.com/emulator/{listing_id}/{}",
            self.listing_image_id
        );
        json!({
            "listing_id": listing_id,
            "listing_image_id": self.listing_image_id,
            "rank": self.rank,
            "created_timestamp": 1_700_000_000,
            "url_75x75": format!("{base}_75x75.jpg"),
            "url_170x135": format!("{base}_170x135.jpg"),
            "url_570xN": format!("{base}_570xN.jpg"),
            "url_fullxfull": format!("{base}_fullxfull.jpg"),
            "full_width": 2000,
            "full_height": 1600,
            "alt_text": self.alt_text,
        })
    }
}

/// Items of the sample shop: (title, tags, cents, variation kind).
const SAMPLE_ITEMS: [(&str, &str, i64); 12] = [
    ("Linen Apron", "apron,linen,kitchen", 3400),
    ("Stoneware Mug", "mug,ceramic,coffee", 2800),
    ("Botanical Art Print", "print,botanical,wall art", 1800),
    ("Soy Candle", "candle,soy,home", 2200),
    ("Beaded Necklace", "necklace,beads,jewelry", 4500),
    ("Knitted Beanie", "beanie,wool,winter", 3200),
    ("Leather Journal", "journal,leather,notebook", 3900),
    ("Macrame Plant Hanger", "macrame,plants,boho", 2600),
    ("Silver Stacking Ring", "ring,silver,jewelry", 5200),
    ("Wooden Serving Board", "board,wood,kitchen", 4800),
    ("Embroidered Tote Bag", "tote,bag,embroidery", 2900),
    (
        "Watercolor Greeting Card",
        "card,watercolor,stationery",
        600,
    ),
];

const SIZES: [&str; 3] = ["S", "M", "L"];
const COLORS: [&str; 3] = ["Natural", "Sage", "Charcoal"];

impl EtsyShopData {
    /// A handmade-goods shop in the US selling in USD: 36 active listings
    /// (single items, sizes, colour × size with a price per size), one
    /// disabled offering, one draft, and one return policy.
    pub fn sample() -> Self {
        let mut listings = Vec::new();
        let mut next_id = 1_500_000_000u64;
        let mut ids = || {
            next_id += 7;
            next_id
        };
        let base_time = 1_760_000_000i64;
        for round in 0..3u64 {
            for (i, (title, tags, cents)) in SAMPLE_ITEMS.iter().enumerate() {
                let n = round * SAMPLE_ITEMS.len() as u64 + i as u64;
                let listing_id = 4_000_000_000 + n * 1_013;
                let title = if round == 0 {
                    (*title).to_owned()
                } else {
                    format!("{title} No. {}", round + 1)
                };
                let variation = (n % 3) as u8;
                let mut products = Vec::new();
                match variation {
                    0 => products.push(InventoryProduct {
                        product_id: ids(),
                        sku: format!("SKU-{n}"),
                        property_values: vec![],
                        offerings: vec![Offering {
                            offering_id: ids(),
                            quantity: (n % 5) as i64 + 1,
                            is_enabled: true,
                            amount: *cents,
                            divisor: 100,
                        }],
                    }),
                    1 => {
                        for (s, size) in SIZES.iter().enumerate() {
                            products.push(InventoryProduct {
                                product_id: ids(),
                                sku: format!("SKU-{n}-{size}"),
                                property_values: vec![PropertyValue {
                                    property_id: 100,
                                    property_name: "Size".into(),
                                    value_ids: vec![1_000 + s as u64],
                                    values: vec![(*size).into()],
                                }],
                                offerings: vec![Offering {
                                    offering_id: ids(),
                                    quantity: if s == 2 { 0 } else { 4 },
                                    is_enabled: true,
                                    amount: cents + s as i64 * 200,
                                    divisor: 100,
                                }],
                            });
                        }
                    }
                    _ => {
                        for (c, color) in COLORS.iter().take(2).enumerate() {
                            for (s, size) in SIZES.iter().take(2).enumerate() {
                                products.push(InventoryProduct {
                                    product_id: ids(),
                                    sku: String::new(),
                                    property_values: vec![
                                        PropertyValue {
                                            property_id: 200,
                                            property_name: "Primary color".into(),
                                            value_ids: vec![2_000 + c as u64],
                                            values: vec![(*color).into()],
                                        },
                                        PropertyValue {
                                            property_id: 100,
                                            property_name: "Size".into(),
                                            value_ids: vec![1_000 + s as u64],
                                            values: vec![(*size).into()],
                                        },
                                    ],
                                    offerings: vec![Offering {
                                        offering_id: ids(),
                                        quantity: 2,
                                        is_enabled: true,
                                        amount: cents + s as i64 * 300,
                                        divisor: 100,
                                    }],
                                });
                            }
                        }
                    }
                }
                listings.push(Listing {
                    listing_id,
                    title,
                    description: format!(
                        "Made by hand in our Portland studio.\n\nCare: see the card in the parcel.\nTags: {tags}"
                    ),
                    state: ListingState::Active,
                    tags: tags.split(',').map(str::to_owned).collect(),
                    created: base_time + n as i64 * 3_600,
                    modified: base_time + n as i64 * 3_600 + 60,
                    weight_oz: Some(4.0 + n as f64),
                    images: vec![
                        Image {
                            listing_image_id: listing_id * 10 + 1,
                            rank: 1,
                            alt_text: Some(format!("{} front", SAMPLE_ITEMS[i].0)),
                        },
                        Image {
                            listing_image_id: listing_id * 10 + 2,
                            rank: 2,
                            alt_text: None,
                        },
                    ],
                    products,
                });
            }
        }
        // The seller paused one offering (Sage / M of the first colour ×
        // size listing): it is in the inventory but disabled.
        if let Some(l) = listings.iter_mut().find(|l| l.products.len() == 4)
            && let Some(p) = l.products.get_mut(3)
        {
            p.offerings[0].is_enabled = false;
        }
        let draft_id = 4_000_000_000 + 900 * 1_013;
        listings.push(Listing {
            listing_id: draft_id,
            title: "Unfinished Quilt".into(),
            description: "Not ready yet.".into(),
            state: ListingState::Draft,
            tags: vec!["quilt".into()],
            created: base_time,
            modified: base_time,
            weight_oz: None,
            images: vec![],
            products: vec![InventoryProduct {
                product_id: 1,
                sku: String::new(),
                property_values: vec![],
                offerings: vec![Offering {
                    offering_id: 2,
                    quantity: 1,
                    is_enabled: true,
                    amount: 12_000,
                    divisor: 100,
                }],
            }],
        });
        EtsyShopData {
            shop_id: 51_234_567,
            user_id: 781_234_567,
            shop_name: "NorthwindCrafts".into(),
            currency: "USD".into(),
            country: "US".into(),
            listings,
            return_policies: vec![ReturnPolicy {
                return_policy_id: 1,
                accepts_returns: true,
                return_deadline: Some(30),
            }],
        }
    }

    /// A small Kyoto shop selling in JPY (no minor unit; Etsy's divisor 1).
    pub fn sample_jpy() -> Self {
        let listing = |id: u64, title: &str, yen: i64, qty: i64| Listing {
            listing_id: id,
            title: title.into(),
            description: "Hand-dyed in Kyoto.".into(),
            state: ListingState::Active,
            tags: vec!["japan".into()],
            created: 1_760_000_000 + id as i64,
            modified: 1_760_000_100 + id as i64,
            weight_oz: Some(3.0),
            images: vec![Image {
                listing_image_id: id * 10 + 1,
                rank: 1,
                alt_text: None,
            }],
            products: vec![InventoryProduct {
                product_id: id + 1,
                sku: format!("JP-{id}"),
                property_values: vec![],
                offerings: vec![Offering {
                    offering_id: id + 2,
                    quantity: qty,
                    is_enabled: true,
                    amount: yen,
                    divisor: 1,
                }],
            }],
        };
        EtsyShopData {
            shop_id: 61_000_001,
            user_id: 881_000_001,
            shop_name: "KyotoIndigo".into(),
            currency: "JPY".into(),
            country: "JP".into(),
            listings: vec![
                listing(7_100_000_001, "Indigo Tenugui", 1_500, 8),
                listing(7_100_000_011, "Shibori Scarf", 6_800, 2),
            ],
            return_policies: vec![],
        }
    }
}
