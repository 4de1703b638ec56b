//! Webhook subscriptions: makes the shop send the topics the daemon needs to
//! its `/webhooks/shopify/{shop}` endpoint.
//!
//! Idempotent: lists the subscriptions of those topics first, keeps the ones
//! already pointing at the endpoint, moves ones left on an older address of
//! the same endpoint (a changed public URL) with `webhookSubscriptionUpdate`,
//! and creates only what is missing. Subscriptions to other addresses
//! (another app's, or one the merchant made by hand) are left alone.

use super::client::ShopifyClient;
use super::error::{ShopifyError, UserError};
use super::gql::{
    WebhookSubscriptionCreate, WebhookSubscriptionUpdate, WebhookSubscriptions,
    webhook_subscription_create, webhook_subscription_update, webhook_subscriptions,
};

pub use webhook_subscriptions::WebhookSubscriptionTopic;

/// Subscriptions listed per page.
const LIST_FIRST: i64 = 100;

/// The topics that keep the catalog fresh.
pub const CATALOG_TOPICS: [WebhookSubscriptionTopic; 6] = [
    WebhookSubscriptionTopic::PRODUCTS_CREATE,
    WebhookSubscriptionTopic::PRODUCTS_UPDATE,
    WebhookSubscriptionTopic::PRODUCTS_DELETE,
    WebhookSubscriptionTopic::INVENTORY_LEVELS_UPDATE,
    WebhookSubscriptionTopic::PRODUCT_PUBLICATIONS_UPDATE,
    WebhookSubscriptionTopic::APP_UNINSTALLED,
];

/// The topics that follow orders placed through checkout.
pub const ORDER_TOPICS: [WebhookSubscriptionTopic; 5] = [
    WebhookSubscriptionTopic::ORDERS_UPDATED,
    WebhookSubscriptionTopic::ORDERS_CANCELLED,
    WebhookSubscriptionTopic::FULFILLMENTS_CREATE,
    WebhookSubscriptionTopic::FULFILLMENTS_UPDATE,
    WebhookSubscriptionTopic::REFUNDS_CREATE,
];

/// What registration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    pub kept: usize,
    pub moved: usize,
    pub created: usize,
}

/// One subscription as listed.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    topic: WebhookSubscriptionTopic,
    uri: String,
}

/// Whether `uri` is an address of the same endpoint as `wanted`: the same
/// path (`/webhooks/shopify/{shop}`) on any host.
fn same_endpoint(uri: &str, wanted: &url::Url) -> bool {
    url::Url::parse(uri).is_ok_and(|u| u.path() == wanted.path())
}

/// A subscription mutation's result: its payload's `userErrors` as
/// (field, message), or `None` when the payload was null.
fn outcome(
    operation: &'static str,
    errors: Option<Vec<(Option<Vec<String>>, String)>>,
) -> Result<(), ShopifyError> {
    let Some(errors) = errors else {
        return Err(ShopifyError::GraphQl {
            messages: vec![format!("{operation} returned no payload")],
            codes: Vec::new(),
        });
    };
    if errors.is_empty() {
        return Ok(());
    }
    let errors = errors
        .into_iter()
        .map(|(field, message)| UserError {
            field: field.unwrap_or_default(),
            message,
            code: None,
        })
        .collect();
    Err(ShopifyError::UserErrors { operation, errors })
}

impl ShopifyClient {
    /// Makes sure each of `topics` is delivered to `endpoint`.
    ///
    /// # Errors
    /// Request failures and `userErrors` (e.g. an endpoint Shopify refuses).
    #[tracing::instrument(skip_all, fields(webhook.endpoint = %endpoint), err)]
    pub async fn ensure_webhook_subscriptions(
        &self,
        endpoint: &url::Url,
        topics: &[WebhookSubscriptionTopic],
    ) -> Result<Registration, ShopifyError> {
        let listed = self.list_subscriptions(topics).await?;
        let mut done = Registration::default();
        for topic in topics {
            let of_topic: Vec<&Listed> = listed.iter().filter(|s| &s.topic == topic).collect();
            if of_topic.iter().any(|s| s.uri == endpoint.as_str()) {
                done.kept += 1;
            } else if let Some(stale) = of_topic.iter().find(|s| same_endpoint(&s.uri, endpoint)) {
                self.move_subscription(&stale.id, endpoint).await?;
                done.moved += 1;
            } else {
                self.create_subscription(topic.clone(), endpoint).await?;
                done.created += 1;
            }
        }
        Ok(done)
    }

    async fn list_subscriptions(
        &self,
        topics: &[WebhookSubscriptionTopic],
    ) -> Result<Vec<Listed>, ShopifyError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let executed = self
                .execute::<WebhookSubscriptions>(webhook_subscriptions::Variables {
                    topics: Some(topics.to_vec()),
                    first: LIST_FIRST,
                    after: after.take(),
                })
                .await?;
            let page = executed.data.webhook_subscriptions;
            out.extend(page.nodes.into_iter().map(|n| Listed {
                id: n.id,
                topic: n.topic,
                uri: n.uri,
            }));
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => return Ok(out),
            }
        }
    }

    async fn create_subscription(
        &self,
        topic: WebhookSubscriptionTopic,
        endpoint: &url::Url,
    ) -> Result<(), ShopifyError> {
        let topic = match topic {
            WebhookSubscriptionTopic::Other(name) => {
                webhook_subscription_create::WebhookSubscriptionTopic::Other(name)
            }
            known => serde_json::to_value(&known)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or(
                    webhook_subscription_create::WebhookSubscriptionTopic::Other(format!(
                        "{known:?}"
                    )),
                ),
        };
        let executed = self
            .execute_once::<WebhookSubscriptionCreate>(webhook_subscription_create::Variables {
                topic,
                uri: endpoint.to_string(),
            })
            .await?;
        let errors = executed.data.webhook_subscription_create.map(|p| {
            p.user_errors
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect()
        });
        outcome("WebhookSubscriptionCreate", errors)
    }

    async fn move_subscription(&self, id: &str, endpoint: &url::Url) -> Result<(), ShopifyError> {
        let executed = self
            .execute::<WebhookSubscriptionUpdate>(webhook_subscription_update::Variables {
                id: id.to_owned(),
                uri: endpoint.to_string(),
            })
            .await?;
        let errors = executed.data.webhook_subscription_update.map(|p| {
            p.user_errors
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect()
        });
        outcome("WebhookSubscriptionUpdate", errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_address_of_the_same_endpoint_is_moved_not_duplicated() {
        let wanted: url::Url = "https://bridge.example/webhooks/shopify/acme"
            .parse()
            .unwrap();
        assert!(same_endpoint(
            "https://old-host.example:8443/webhooks/shopify/acme",
            &wanted
        ));
        assert!(!same_endpoint(
            "https://bridge.example/webhooks/shopify/other",
            &wanted
        ));
        assert!(!same_endpoint(
            "https://someone-else.example/hooks",
            &wanted
        ));
        assert!(!same_endpoint("pubsub://project:topic", &wanted));
    }
}
