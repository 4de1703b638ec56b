//! Source-neutral wire shapes of products, variants and media.
//!
//! Products reach us in two forms: the `graphql_client` types of
//! `ProductsPage`/`ProductVariantsPage` and the JSON lines of a bulk operation.
//! Both are converted here, field for field and without interpretation, into
//! [`WireProduct`]/[`WireVariant`]/[`WireImage`], so `map.rs` has one pure
//! mapping to the domain. Enum values stay the schema's strings.

use serde::Deserialize;

use super::gql::{product_variants_page as pvp, products_page as pp};

/// An image of a `MediaImage` (other media kinds are not used by the feed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireImage {
    /// The media GID (`gid://shopify/MediaImage/…`), used for ordering.
    pub id: Option<String>,
    pub url: String,
    pub alt_text: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// A variant as Shopify describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireVariant {
    pub id: String,
    pub title: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: String,
    pub compare_at_price: Option<String>,
    pub inventory_quantity: Option<i64>,
    pub inventory_policy: String,
    pub available_for_sale: bool,
    pub position: i64,
    pub selected_options: Vec<(String, String)>,
    pub tracked: bool,
    pub requires_shipping: bool,
    /// `(value, unit)` from `inventoryItem.measurement.weight`.
    pub weight: Option<(f64, String)>,
    pub media: Vec<WireImage>,
}

/// A product as Shopify describes it, with its variants and media attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireProduct {
    pub id: String,
    pub handle: String,
    pub title: String,
    pub description_html: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub status: String,
    pub online_store_url: Option<String>,
    pub updated_at: String,
    pub published: bool,
    pub category: Option<String>,
    pub options: Vec<(String, Vec<String>)>,
    pub media: Vec<WireImage>,
    /// GID of the merchant's featured (primary) media, if any.
    pub featured_media_id: Option<String>,
    pub variants: Vec<WireVariant>,
}

// ---------------------------------------------------------------------------
// graphql_client types

/// The wire name of a generated enum value (`"ACTIVE"`, `"DENY"`,
/// `"GRAMS"`, or the unknown value as sent). graphql_client generates one
/// enum type per operation; their serializers all print the GraphQL name.
pub(crate) fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// `From<generated media node> for Option<WireImage>`: only `MediaImage`
/// nodes with an image become images. One impl per generated node type.
macro_rules! image_from_media_node {
    ($node:ty, $on:path) => {
        impl From<$node> for Option<WireImage> {
            fn from(node: $node) -> Self {
                use $on as On;
                match node.on {
                    On::MediaImage(m) => m.image.map(|i| WireImage {
                        id: Some(node.id),
                        url: i.url,
                        alt_text: i.alt_text,
                        width: i.width,
                        height: i.height,
                    }),
                    _ => None,
                }
            }
        }
    };
}

image_from_media_node!(
    pp::ProductsPageProductsNodesMediaNodes,
    pp::ProductsPageProductsNodesMediaNodesOn
);
image_from_media_node!(
    pp::ProductsPageProductsNodesVariantsNodesMediaNodes,
    pp::ProductsPageProductsNodesVariantsNodesMediaNodesOn
);
image_from_media_node!(
    pvp::ProductVariantsPageProductVariantsNodesMediaNodes,
    pvp::ProductVariantsPageProductVariantsNodesMediaNodesOn
);

/// `From<generated variant node> for WireVariant`, for the variants of a
/// products page and of a product's variants page (same selection).
macro_rules! wire_variant_from_node {
    ($node:ty) => {
        impl From<$node> for WireVariant {
            fn from(v: $node) -> Self {
                WireVariant {
                    id: v.id,
                    title: v.title,
                    sku: v.sku,
                    barcode: v.barcode,
                    price: v.price,
                    compare_at_price: v.compare_at_price,
                    inventory_quantity: v.inventory_quantity,
                    inventory_policy: enum_name(&v.inventory_policy),
                    available_for_sale: v.available_for_sale,
                    position: v.position,
                    selected_options: v
                        .selected_options
                        .into_iter()
                        .map(|o| (o.name, o.value))
                        .collect(),
                    tracked: v.inventory_item.tracked,
                    requires_shipping: v.inventory_item.requires_shipping,
                    weight: v
                        .inventory_item
                        .measurement
                        .weight
                        .map(|w| (w.value, enum_name(&w.unit))),
                    media: v
                        .media
                        .nodes
                        .into_iter()
                        .filter_map(Option::<WireImage>::from)
                        .collect(),
                }
            }
        }
    };
}

wire_variant_from_node!(pp::ProductsPageProductsNodesVariantsNodes);
wire_variant_from_node!(pvp::ProductVariantsPageProductVariantsNodes);

impl From<pp::ProductsPageProductsNodes> for WireProduct {
    /// Converts one product node. Only the variants of this page are
    /// attached; the caller fetches the rest when `variants.pageInfo`
    /// says there are more.
    fn from(p: pp::ProductsPageProductsNodes) -> Self {
        WireProduct {
            id: p.id,
            handle: p.handle,
            title: p.title,
            description_html: p.description_html,
            vendor: p.vendor,
            product_type: p.product_type,
            tags: p.tags,
            status: enum_name(&p.status),
            online_store_url: p.online_store_url,
            updated_at: p.updated_at,
            published: p.published_on_publication,
            category: p.category.map(|c| c.full_name),
            options: p.options.into_iter().map(|o| (o.name, o.values)).collect(),
            media: p
                .media
                .nodes
                .into_iter()
                .filter_map(Option::<WireImage>::from)
                .collect(),
            featured_media_id: p.featured_media.map(|m| m.id),
            variants: p
                .variants
                .nodes
                .into_iter()
                .map(WireVariant::from)
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// Bulk JSONL lines

/// `{ "name": …, "value": … }`
#[derive(Debug, Deserialize)]
struct BulkSelectedOption {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct BulkWeight {
    value: f64,
    unit: String,
}

#[derive(Debug, Deserialize)]
struct BulkMeasurement {
    weight: Option<BulkWeight>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkInventoryItem {
    tracked: bool,
    requires_shipping: bool,
    measurement: BulkMeasurement,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkImage {
    url: String,
    alt_text: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkCategory {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct BulkOption {
    name: String,
    values: Vec<String>,
}

/// A root line: a product without its connections.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkProductLine {
    id: String,
    handle: String,
    title: String,
    description_html: String,
    vendor: String,
    product_type: String,
    tags: Vec<String>,
    status: String,
    online_store_url: Option<String>,
    updated_at: String,
    published_on_publication: bool,
    category: Option<BulkCategory>,
    featured_media: Option<BulkFeaturedMedia>,
    options: Vec<BulkOption>,
}

/// `featuredMedia { __typename id }` of a bulk product line.
#[derive(Debug, Deserialize)]
pub(crate) struct BulkFeaturedMedia {
    id: Option<String>,
}

/// A variant line (`__parentId` = the product).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkVariantLine {
    id: String,
    title: String,
    sku: Option<String>,
    barcode: Option<String>,
    price: String,
    compare_at_price: Option<String>,
    inventory_quantity: Option<i64>,
    inventory_policy: String,
    available_for_sale: bool,
    position: i64,
    selected_options: Vec<BulkSelectedOption>,
    inventory_item: BulkInventoryItem,
}

/// A media line (`__parentId` = a product or a variant).
#[derive(Debug, Deserialize)]
pub(crate) struct BulkMediaLine {
    #[serde(rename = "__typename")]
    typename: String,
    id: Option<String>,
    image: Option<BulkImage>,
}

impl From<BulkProductLine> for WireProduct {
    fn from(p: BulkProductLine) -> Self {
        WireProduct {
            id: p.id,
            handle: p.handle,
            title: p.title,
            description_html: p.description_html,
            vendor: p.vendor,
            product_type: p.product_type,
            tags: p.tags,
            status: p.status,
            online_store_url: p.online_store_url,
            updated_at: p.updated_at,
            published: p.published_on_publication,
            category: p.category.map(|c| c.full_name),
            options: p.options.into_iter().map(|o| (o.name, o.values)).collect(),
            media: Vec::new(),
            featured_media_id: p.featured_media.and_then(|m| m.id),
            variants: Vec::new(),
        }
    }
}

impl From<BulkVariantLine> for WireVariant {
    fn from(v: BulkVariantLine) -> Self {
        WireVariant {
            id: v.id,
            title: v.title,
            sku: v.sku,
            barcode: v.barcode,
            price: v.price,
            compare_at_price: v.compare_at_price,
            inventory_quantity: v.inventory_quantity,
            inventory_policy: v.inventory_policy,
            available_for_sale: v.available_for_sale,
            position: v.position,
            selected_options: v
                .selected_options
                .into_iter()
                .map(|o| (o.name, o.value))
                .collect(),
            tracked: v.inventory_item.tracked,
            requires_shipping: v.inventory_item.requires_shipping,
            weight: v
                .inventory_item
                .measurement
                .weight
                .map(|w| (w.value, w.unit)),
            media: Vec::new(),
        }
    }
}

impl From<BulkMediaLine> for Option<WireImage> {
    fn from(m: BulkMediaLine) -> Self {
        if m.typename != "MediaImage" {
            return None;
        }
        m.image.map(|i| WireImage {
            id: m.id,
            url: i.url,
            alt_text: i.alt_text,
            width: i.width,
            height: i.height,
        })
    }
}
