//! Reading sessions: GET answers the session's current state in either
//! version whatever was served before, is not held up by a complete in
//! progress, and expires a session that fell due.

use std::sync::atomic::{AtomicBool, Ordering};

use acp_bridge::domain::ShopId;
use serde_json::{Value, json};

use crate::checkout_support::*;

#[tokio::test]
async fn a_get_after_a_change_shows_the_change_in_both_versions() {
    let w = world().await;
    let item = w.stocked_item().await;
    let id = id_of(&w.ready_session(V_NEW, &item, "create").await);
    let mut first = Vec::new();
    for version in VERSIONS {
        let (status, session) = w.get_session(version, &id).await;
        assert_eq!(status, 200, "{session}");
        assert_session(version, &session);
        first.push(session);
    }
    // Read twice: the second answer is the same session.
    for (version, before) in VERSIONS.iter().zip(&first) {
        assert_eq!(&w.get_session(version, &id).await.1, before);
    }

    let (status, updated) = w
        .post(
            &format!("/checkout_sessions/{id}"),
            V_NEW,
            "two-units",
            json!({"line_items": [{"id": item, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(w.get_session(V_NEW, &id).await.1, updated);
    let (_, old) = w.get_session(V_OLD, &id).await;
    assert_eq!(old["line_items"][0]["item"]["quantity"], 2, "{old}");
    assert_ne!(old, first[0]);

    let (status, canceled) = w
        .post(
            &format!("/checkout_sessions/{id}/cancel"),
            V_OLD,
            "cancel",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{canceled}");
    for version in VERSIONS {
        let (_, session) = w.get_session(version, &id).await;
        assert_eq!(session["status"], "canceled", "{version}: {session}");
    }
}

#[tokio::test]
async fn a_get_during_a_complete_answers_without_waiting_for_it() {
    let w = world().await;
    let item = w.stocked_item().await;
    let id = id_of(&w.ready_session(V_NEW, &item, "create").await);
    // Served once before the complete starts, so a stale answer would show.
    assert_eq!(
        w.get_session(V_NEW, &id).await.1["status"],
        "ready_for_payment"
    );
    let token = w.token("pm_card_visa", 1_000_000);
    let finished = AtomicBool::new(false);
    let before = w.stripe_requests(CHARGE);
    // Stripe holds the authorization for 2 s.
    w.stripe
        .faults()
        .stall_execution_next(1, std::time::Duration::from_secs(2));
    let ((status, _, completed), during) = tokio::join!(
        async {
            let reply = w.complete(V_NEW, &id, "pay", &token).await;
            finished.store(true, Ordering::SeqCst);
            reply
        },
        async {
            wait_until("the authorization to reach Stripe", || {
                w.stripe_requests(CHARGE) > before
            })
            .await;
            let reply = w.get_session(V_NEW, &id).await;
            (reply, finished.load(Ordering::SeqCst))
        }
    );
    let ((get_status, session), complete_had_finished) = during;
    assert_eq!(get_status, 200, "{session}");
    assert!(!complete_had_finished, "the GET waited for the complete");
    assert_eq!(session["status"], "complete_in_progress", "{session}");
    assert_session(V_NEW, &session);

    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], "completed");
    assert_eq!(w.get_session(V_NEW, &id).await.1, completed);
}

#[tokio::test]
async fn a_session_past_its_expiry_is_expired_by_the_next_get() {
    let w = world().await;
    let item = w.stocked_item().await;
    let id = id_of(&w.ready_session(V_NEW, &item, "create").await);
    // Restarted (nothing kept in memory), with the session's expiry moved
    // into the past as if the TTL had run out while the daemon was down.
    let w = w.restart().await;
    let shop = ShopId::parse("acme").unwrap();
    let store = &w.app.store;
    let mut record: Value = store.checkout_record(&shop, &id).unwrap().unwrap();
    record["session"]["expires_at"] = json!("2026-01-01T00:00:00Z");
    store.put_checkout_record(&shop, &id, &record).unwrap();

    for version in [V_NEW, V_OLD, V_NEW] {
        let (status, session) = w.get_session(version, &id).await;
        assert_eq!(status, 200, "{session}");
        // The launch version has no `expired`; it reads as canceled.
        let expected = if version == V_OLD {
            "canceled"
        } else {
            "expired"
        };
        assert_eq!(session["status"], expected, "{version}: {session}");
        assert_session(version, &session);
    }
    let stored: Value = store.checkout_record(&shop, &id).unwrap().unwrap();
    assert_eq!(stored["session"]["status"], "expired", "{stored}");
    let (status, refused) = w
        .post(
            &format!("/checkout_sessions/{id}"),
            V_NEW,
            "too-late",
            json!({"line_items": [{"id": item, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, 405, "{refused}");
}
