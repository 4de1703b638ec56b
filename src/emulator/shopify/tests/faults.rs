//! Injected faults: 5xx, 429, hangs, throttle storms and a drained bucket.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::*;

fn shop_query() -> serde_json::Value {
    json!({ "query": "{ shop { name } }" })
}

#[tokio::test]
async fn injected_5xx_and_429_apply_to_the_next_requests_only() {
    let emu = emulator();
    emu.faults().fail_next(2, StatusCode::SERVICE_UNAVAILABLE);
    for _ in 0..2 {
        let reply = post_graphql(&emu, "2026-10", Some(TOKEN), shop_query()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    emu.faults()
        .rate_limit_next(1, Duration::from_millis(1_500));
    let reply = post_graphql(&emu, "2026-10", Some(TOKEN), shop_query()).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "2");
    let reply = post_graphql(&emu, "2026-10", Some(TOKEN), shop_query()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let counters = emu.counters();
    assert_eq!(
        (
            counters.requests,
            counters.injected_failures,
            counters.rate_limited
        ),
        (4, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn throttle_storms_and_drained_buckets_answer_throttled() {
    let emu = emulator();
    emu.faults().throttle_next(2);
    for _ in 0..2 {
        let body = gql(&emu, "{ shop { name } }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
        assert_eq!(
            body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
            2000
        );
    }
    assert!(
        gql(&emu, "{ shop { name } }", json!({}))
            .await
            .get("errors")
            .is_none()
    );

    emu.faults().drain_bucket();
    let body = gql(&emu, "{ shop { name } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(emu.counters().throttled, 3);
}

#[tokio::test(start_paused = true)]
async fn hanging_requests_outlast_client_timeouts() {
    let emu = emulator();
    emu.faults().hang_next(1, Duration::from_secs(30));
    let slow = tokio::time::timeout(
        Duration::from_secs(5),
        post_graphql(&emu, "2026-10", Some(TOKEN), shop_query()),
    )
    .await;
    assert!(slow.is_err(), "the first request hangs past the timeout");
    let fast = tokio::time::timeout(
        Duration::from_secs(5),
        post_graphql(&emu, "2026-10", Some(TOKEN), shop_query()),
    )
    .await;
    assert_eq!(fast.unwrap().status, StatusCode::OK);
}
