//! Service tests live in `tests/api/checkout.rs` (they need the Shopify and
//! Stripe emulators and a synced feed); this module checks the pure parts.

use super::*;

#[test]
fn the_first_selection_names_the_option() {
    let selection = vec![FulfillmentSelection {
        option_id: "rate-1".into(),
        kind: None,
        item_ids: vec![],
    }];
    assert_eq!(selected_option(&selection).as_deref(), Some("rate-1"));
    assert_eq!(selected_option(&[]), None);
}

#[test]
fn the_continue_url_is_the_storefront_cart_permalink_of_the_lines() {
    let line = |item: &str, quantity| crate::checkout::model::SessionLine {
        id: "li_1".into(),
        item_id: item.into(),
        quantity,
        title: String::new(),
        description: None,
        image_url: None,
        sku: None,
        unit_amount: crate::domain::Money::new(0, Currency::USD),
        base_amount: crate::domain::Money::new(0, Currency::USD),
        discount: crate::domain::Money::new(0, Currency::USD),
        subtotal: crate::domain::Money::new(0, Currency::USD),
        tax: crate::domain::Money::new(0, Currency::USD),
        total: crate::domain::Money::new(0, Currency::USD),
        availability: None,
    };
    let shop: Url = "https://shop.example".parse().unwrap();
    assert_eq!(
        cart_permalink(&shop, &[line("111", 2), line("222", 1)])
            .unwrap()
            .as_str(),
        "https://shop.example/cart/111:2,222:1"
    );
    assert_eq!(cart_permalink(&shop, &[]), None);
}
