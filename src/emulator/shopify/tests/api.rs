//! Auth, versions, validation, execution, cost, throttling and pagination.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::emulator::shopify::{ClientCredentials, ProductStatus};

const INVALID_TOKEN_BODY: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let emu = emulator();
    let body = json!({ "query": "{ shop { name } }" });
    for token in [None, Some("shpat_wrong")] {
        let reply = post_graphql(&emu, "2026-10", token, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, json!({ "errors": INVALID_TOKEN_BODY }));
    }
    assert_eq!(
        post_graphql(&emu, "2026-10", Some(TOKEN), body.clone())
            .await
            .status,
        StatusCode::OK
    );
    emu.faults().revoke_token(TOKEN);
    assert_eq!(
        post_graphql(&emu, "2026-10", Some(TOKEN), body)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(emu.counters().unauthorized, 3);
}

#[tokio::test(start_paused = true)]
async fn client_credentials_tokens_work_until_they_expire() {
    let emu = emulator_with(|c| {
        c.static_tokens.clear();
        c.client_credentials = Some(ClientCredentials {
            client_id: "app-id".into(),
            client_secret: "app-secret".into(),
        });
        c.token_lifetime = Duration::from_secs(60);
    });
    let form = "grant_type=client_credentials&client_id=app-id&client_secret=app-secret";
    let reply = send(
        &emu,
        "POST",
        "/admin/oauth/access_token",
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["expires_in"], 60);
    assert!(
        reply.body["scope"]
            .as_str()
            .unwrap()
            .contains("read_products")
    );
    let token = reply.body["access_token"].as_str().unwrap().to_owned();

    let body = json!({ "query": "{ shop { name } }" });
    assert_eq!(
        post_graphql(&emu, "2026-10", Some(&token), body.clone())
            .await
            .status,
        StatusCode::OK
    );

    let json_grant = json!({ "grant_type": "client_credentials", "client_id": "app-id", "client_secret": "app-secret" });
    let reply = send(
        &emu,
        "POST",
        "/admin/oauth/access_token",
        &[("content-type", "application/json")],
        json_grant.to_string(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    let wrong = "grant_type=client_credentials&client_id=app-id&client_secret=nope";
    let reply = send(
        &emu,
        "POST",
        "/admin/oauth/access_token",
        &[("content-type", "application/x-www-form-urlencoded")],
        wrong,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_client");

    tokio::time::advance(Duration::from_secs(61)).await;
    let reply = post_graphql(&emu, "2026-10", Some(&token), body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(emu.counters().tokens_issued, 2);
}

#[tokio::test]
async fn old_versions_fall_forward_and_unknown_ones_are_404() {
    let emu = emulator();
    let body = json!({ "query": "{ shop { name } }" });
    for (asked, answered) in [
        ("2026-10", "2026-10"),
        ("2025-07", "2026-01"),
        ("2027-01", "2027-01"),
    ] {
        let reply = post_graphql(&emu, asked, Some(TOKEN), body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["x-shopify-api-version"], answered);
    }
    for asked in ["latest", "2026-13", "2031-01"] {
        assert_eq!(
            post_graphql(&emu, asked, Some(TOKEN), body.clone())
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn validation_errors_come_back_in_shopifys_shape_without_data() {
    let emu = emulator();
    let body = gql(&emu, "{ shop { name foo } }", json!({})).await;
    assert!(body.get("data").is_none(), "{body}");
    let err = &body["errors"][0];
    assert_eq!(err["message"], "Field 'foo' doesn't exist on type 'Shop'");
    assert_eq!(err["locations"], json!([{ "line": 1, "column": 15 }]));
    assert_eq!(err["extensions"]["code"], "undefinedField");

    let body = gql(&emu, PRODUCTS_PAGE, json!({ "variantsFirst": 1, "mediaFirst": 1, "publicationId": "gid://shopify/Publication/1" })).await;
    assert!(body.get("data").is_none());
    let err = &body["errors"][0];
    assert_eq!(
        err["message"],
        "Variable $first of type Int! was provided invalid value"
    );
    assert_eq!(err["extensions"]["code"], "INVALID_VARIABLE");
    assert_eq!(
        err["extensions"]["problems"][0]["explanation"],
        "Expected value to not be null"
    );

    let body = gql(&emu, "{ product { id } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "missingRequiredArguments"
    );
    let body = gql(&emu, "{ shop { name ", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "parseError");
    let body = gql(
        &emu,
        "query A { shop { name } } query B { shop { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "An operation name is required"
    );

    let reply = send(
        &emu,
        "POST",
        "/admin/api/2026-10/graphql.json",
        &[
            ("x-shopify-access-token", TOKEN),
            ("content-type", "application/json"),
        ],
        "{not json",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn shop_and_publications_resolve_from_the_sample_shop() {
    let emu = emulator();
    let body = gql(&emu, SHOP, json!({})).await;
    let shop = &body["data"]["shop"];
    assert_eq!(shop["name"], "Northwind Outfitters");
    assert_eq!(shop["currencyCode"], "USD");
    assert_eq!(shop["shopAddress"]["countryCodeV2"], "US");
    assert_eq!(
        shop["primaryDomain"]["url"],
        "https://northwindoutfitters.com"
    );
    let policies = shop["shopPolicies"].as_array().unwrap();
    assert_eq!(policies.len(), 4);
    assert!(policies.iter().all(|p| {
        p["url"]
            .as_str()
            .unwrap()
            .starts_with("https://northwindoutfitters.com/policies/")
    }));

    let body = gql(&emu, PUBLICATIONS, json!({ "first": 10 })).await;
    let nodes = body["data"]["publications"]["nodes"].as_array().unwrap();
    let titles: Vec<&str> = nodes
        .iter()
        .map(|n| n["catalog"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Online Store", "Point of Sale", "Shop"]);
    assert_eq!(nodes[0]["catalog"]["__typename"], "AppCatalog");
    assert_eq!(nodes[0]["id"], emu.online_store_publication_id());
}

#[tokio::test(start_paused = true)]
async fn products_page_reports_the_documented_cost_and_refunds_unused_points() {
    let emu = emulator();
    let vars = json!({ "first": 5, "variantsFirst": 10, "mediaFirst": 3, "publicationId": emu.online_store_publication_id() });
    let body = gql(&emu, PRODUCTS_PAGE, vars).await;
    assert!(body.get("errors").is_none(), "{body}");
    let cost = &body["extensions"]["cost"];
    // 2 + first × (8 + 2·mediaFirst + 9·variantsFirst); see cost.rs.
    assert_eq!(cost["requestedQueryCost"], 2 + 5 * (8 + 2 * 3 + 9 * 10));
    let actual = cost["actualQueryCost"].as_u64().unwrap();
    assert!(actual > 0 && actual < 522, "{cost}");
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], json!(2000.0));
    assert_eq!(cost["throttleStatus"]["restoreRate"], json!(100.0));
    assert_eq!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap(),
        2000 - actual
    );
    assert_eq!(emu.counters().points_charged, actual);
    assert_eq!(emu.counters().by_operation["ProductsPage"], 1);

    let first = &body["data"]["products"]["nodes"][0];
    assert_eq!(first["title"], "Harbor Crew Tee");
    assert_eq!(first["publishedOnPublication"], true);
    assert_eq!(
        first["onlineStoreUrl"],
        "https://northwindoutfitters.com/products/harbor-crew-tee"
    );
    let variant = &first["variants"]["nodes"][0];
    assert_eq!(variant["price"], "28.00");
    assert_eq!(
        variant["inventoryItem"]["measurement"]["weight"],
        json!({ "value": 180.0, "unit": "GRAMS" })
    );
    assert_eq!(variant["media"]["nodes"][0]["__typename"], "MediaImage");
    assert_eq!(first["variants"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn queries_over_1000_points_are_rejected_before_execution() {
    let emu = emulator();
    let body = gql(
        &emu,
        "{ products(first: 250) { nodes { id variants(first: 250) { nodes { id } } } } }",
        json!({}),
    )
    .await;
    assert!(body.get("data").is_none());
    assert_eq!(body["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED");
    assert_eq!(
        body["extensions"]["cost"]["requestedQueryCost"],
        2 + 250 * (1 + 2 + 250)
    );
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], Value::Null);
    assert_eq!(emu.throttle_status().currently_available, 2000);
}

#[tokio::test(start_paused = true)]
async fn the_bucket_throttles_and_restores_over_time() {
    let emu = emulator_with(|c| {
        c.bucket_size = 100;
        c.restore_rate = 10;
    });
    // 2 + 50 products = 52 points, all of them used.
    let query = "{ products(first: 50) { nodes { id } } }";
    let body = gql(&emu, query, json!({})).await;
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 52);
    assert_eq!(
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
        48
    );

    let body = gql(&emu, query, json!({})).await;
    assert_eq!(
        body["errors"],
        json!([{ "message": "Throttled", "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }])
    );
    assert!(body.get("data").is_none());
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], Value::Null);
    assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], 52);

    tokio::time::advance(Duration::from_millis(400)).await;
    let body = gql(&emu, query, json!({})).await;
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 52);
    assert_eq!(
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
        0
    );
    assert_eq!(emu.counters().throttled, 1);
}

#[tokio::test]
async fn cursor_pagination_visits_every_product_exactly_once() {
    let emu = emulator();
    let query = "query P($after: String) { products(first: 7, after: $after, sortKey: UPDATED_AT) {
        edges { cursor node { id updatedAt } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let body = gql(&emu, query, json!({ "after": after })).await;
        let conn = &body["data"]["products"];
        let edges = conn["edges"].as_array().unwrap();
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        seen.extend(edges.iter().map(|e| {
            (
                e["node"]["updatedAt"].as_str().unwrap().to_owned(),
                e["node"]["id"].as_str().unwrap().to_owned(),
            )
        }));
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 8);
    let unique: BTreeSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!((seen.len(), unique.len()), (50, 50));
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "sorted by updatedAt"
    );
}

#[tokio::test]
async fn updated_at_filter_finds_products_edited_after_a_point_in_time() {
    let emu = emulator();
    let newest = emu.products().iter().map(|p| p.updated_at).max().unwrap();
    let since = crate::emulator::shopify::data::format_datetime(newest);
    let query = "query Q($q: String) { products(first: 50, query: $q, sortKey: UPDATED_AT) { nodes { id updatedAt } } }";
    let filter = format!("updated_at:>'{since}'");
    let body = gql(&emu, query, json!({ "q": filter })).await;
    assert_eq!(body["data"]["products"]["nodes"], json!([]));

    let target = emu.products()[7].gid();
    let stamp = emu
        .update_product(&target, |p| p.title.push_str(" (Restocked)"))
        .unwrap();
    emu.set_status(&emu.products()[3].gid(), ProductStatus::Archived)
        .unwrap();
    let body = gql(
        &emu,
        query,
        json!({ "q": format!("{filter} AND status:active") }),
    )
    .await;
    let nodes = body["data"]["products"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{body}");
    assert_eq!(nodes[0]["id"], target.as_str());
    assert_eq!(nodes[0]["updatedAt"], stamp.as_str());
    assert!(stamp > since);
}

#[tokio::test]
async fn connections_outside_bulk_need_first_or_last() {
    let emu = emulator();
    let body = gql(
        &emu,
        "{ products(query: \"tag:merino\") { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    assert_eq!(
        body["errors"][0]["message"],
        "you must provide one of first or last"
    );
    assert_eq!(body["errors"][0]["path"], json!(["products"]));
}

#[tokio::test]
async fn fragments_aliases_and_type_conditions_resolve_on_interfaces() {
    let emu = emulator();
    let parka = emu
        .products()
        .into_iter()
        .find(|p| p.title == "Alpine Down Parka")
        .unwrap();
    let query = "query One($id: ID!) { item: product(id: $id) { ...Core media(first: 20) { edges { node { __typename ...Img ... on Video { alt } } } } } }
        fragment Core on Product { __typename title vendor }
        fragment Img on MediaImage { image { url } }";
    let body = gql(&emu, query, json!({ "id": parka.gid() })).await;
    let item = &body["data"]["item"];
    assert_eq!(item["__typename"], "Product");
    assert_eq!(item["title"], "Alpine Down Parka");
    let nodes: Vec<&Value> = item["media"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert!(
        nodes.iter().any(|n| n["__typename"] == "Video"
            && n["alt"].is_string()
            && n.get("image").is_none())
    );
    assert!(
        nodes
            .iter()
            .any(|n| n["__typename"] == "MediaImage" && n["image"]["url"].is_string())
    );

    let body = gql(
        &emu,
        "{ product(id: \"gid://shopify/Product/1\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["product"], Value::Null);
}

#[tokio::test]
async fn variant_pages_continue_past_the_first_page() {
    let emu = emulator();
    let big = emu
        .products()
        .into_iter()
        .find(|p| p.variants.len() == 60)
        .unwrap();
    let mut after = Value::Null;
    let mut ids = Vec::new();
    loop {
        let body = gql(
            &emu,
            VARIANTS_PAGE,
            json!({ "id": big.gid(), "first": 25, "after": after }),
        )
        .await;
        let variants = &body["data"]["product"]["variants"];
        ids.extend(
            variants["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_owned()),
        );
        if variants["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = variants["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = big.variants.iter().map(|v| v.gid()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn test_mutations_show_up_in_queries() {
    let emu = emulator();
    let query = "query Q($id: ID!, $pub: ID!) { product(id: $id) { status publishedOnPublication(publicationId: $pub) onlineStoreUrl variants(first: 1) { nodes { id inventoryQuantity availableForSale } } } }";
    let product = emu.products()[0].clone();
    let online = emu.online_store_publication_id();
    emu.unpublish(&product.gid(), &online).unwrap();
    emu.set_inventory(&product.variants[0].gid(), 0).unwrap();
    let body = gql(&emu, query, json!({ "id": product.gid(), "pub": online })).await;
    let p = &body["data"]["product"];
    assert_eq!(p["publishedOnPublication"], false);
    assert_eq!(p["onlineStoreUrl"], Value::Null);
    assert_eq!(p["variants"]["nodes"][0]["inventoryQuantity"], 0);
    assert_eq!(p["variants"]["nodes"][0]["availableForSale"], false);

    let added = emu.add_product(crate::emulator::shopify::Product::new("Test Lantern"));
    assert_eq!(emu.product_count(), 51);
    emu.delete_product(&product.gid()).unwrap();
    assert!(emu.product(&product.gid()).is_none());
    let body = gql(&emu, query, json!({ "id": product.gid(), "pub": online })).await;
    assert_eq!(body["data"]["product"], Value::Null);
    let body = gql(&emu, query, json!({ "id": added, "pub": online })).await;
    assert_eq!(body["data"]["product"]["status"], "ACTIVE");
    assert!(
        emu.update_product("gid://shopify/Product/1", |_| {})
            .is_err()
    );
}
