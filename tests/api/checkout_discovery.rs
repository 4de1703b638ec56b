//! The ACP discovery document: per shop under `/acp/{shop}/`, and at the
//! root of a host name bound to one shop.

use serde_json::Value;

use crate::checkout_support::world_with;

#[tokio::test]
async fn discovery_is_served_per_shop_and_on_a_bound_host_name() {
    let w = world_with(r#"hostname = "agents.acme.example""#, "").await;
    let get = |path: &str, host: Option<&str>| {
        let mut request = w.app.http.get(format!("http://{}{path}", w.app.public));
        if let Some(host) = host {
            request = request.header("Host", host);
        }
        request.send()
    };

    let response = get("/acp/acme/.well-known/acp.json", None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=3600")
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["protocol"]["name"], "acp");
    assert_eq!(doc["protocol"]["supported_versions"][0], "2025-09-29");
    assert!(
        doc["api_base_url"]
            .as_str()
            .unwrap()
            .ends_with("/acp/acme/"),
        "{doc}"
    );
    assert_eq!(doc["capabilities"]["supported_currencies"][0], "usd");

    let bound = get("/.well-known/acp.json", Some("agents.acme.example:443"))
        .await
        .unwrap();
    assert_eq!(bound.status(), 200);
    let bound: Value = bound.json().await.unwrap();
    assert_eq!(bound["protocol"], doc["protocol"]);
    let other = get("/.well-known/acp.json", Some("elsewhere.example"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let unknown = get("/acp/nope/.well-known/acp.json", None).await.unwrap();
    assert_eq!(unknown.status(), 404);
}
