//! Etsy Open API v3 response shapes (the fields the bridge reads). Lenient:
//! absent or null fields take their defaults so a new or missing optional
//! field never fails a sync.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub user_id: u64,
    #[serde(default)]
    pub shop_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Shop {
    #[serde(default)]
    pub shop_name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub currency_code: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub shop_location_country_iso: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReturnPolicy {
    #[serde(default)]
    pub accepts_returns: bool,
    #[serde(default)]
    pub return_deadline: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub count: u64,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub divisor: i64,
    pub currency_code: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Listing {
    pub listing_id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub price: Option<Money>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub listing_type: Option<String>,
    #[serde(default)]
    pub item_weight: Option<f64>,
    #[serde(default)]
    pub item_weight_unit: Option<String>,
    #[serde(default)]
    pub last_modified_timestamp: Option<i64>,
    #[serde(default)]
    pub updated_timestamp: Option<i64>,
    #[serde(default)]
    pub is_private: Option<bool>,
    #[serde(default)]
    pub images: Option<Vec<Image>>,
    #[serde(default)]
    pub inventory: Option<Inventory>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Image {
    #[serde(default)]
    pub listing_image_id: u64,
    #[serde(default)]
    pub rank: Option<u32>,
    #[serde(default)]
    pub url_fullxfull: Option<String>,
    #[serde(default, rename = "url_570xN")]
    pub url_570xn: Option<String>,
    #[serde(default)]
    pub full_width: Option<u32>,
    #[serde(default)]
    pub full_height: Option<u32>,
    #[serde(default)]
    pub alt_text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Inventory {
    #[serde(default)]
    pub products: Vec<InventoryProduct>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InventoryProduct {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default)]
    pub offerings: Vec<Offering>,
    #[serde(default)]
    pub property_values: Vec<PropertyValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Offering {
    #[serde(default)]
    pub offering_id: u64,
    #[serde(default)]
    pub quantity: i64,
    #[serde(default)]
    pub is_enabled: bool,
    #[serde(default)]
    pub is_deleted: bool,
    pub price: Money,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PropertyValue {
    #[serde(default)]
    pub property_id: u64,
    #[serde(default)]
    pub property_name: Option<String>,
    #[serde(default)]
    pub value_ids: Vec<u64>,
    #[serde(default)]
    pub values: Vec<String>,
}
