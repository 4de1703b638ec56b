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
