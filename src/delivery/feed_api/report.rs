//! The outcome counts of one run.

use serde::Serialize;

/// What one run did. Products count once per category they fall in: a
/// product unchanged since the last run that the readback shows missing is
/// both `unchanged` and `repaired`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedApiReport {
    /// The run created the feed (`POST /feeds`).
    pub created_feed: bool,
    /// Products in the input.
    pub products: u64,
    /// Products sent because they are new or their content changed since
    /// the last acknowledged upsert (acknowledged ones only).
    pub upserted: u64,
    /// Products whose content matched the state, not sent in the first
    /// pass.
    pub unchanged: u64,
    /// Products the readback showed missing or different, sent again
    /// (acknowledged ones only).
    pub repaired: u64,
    /// Products gone from the input that the server held, marked
    /// unavailable (acknowledged ones only).
    pub removed: u64,
    /// Products the server returned on readback.
    pub read_back: u64,
    /// Acknowledged `PATCH` requests.
    pub batches: u64,
    /// Request body bytes of acknowledged `PATCH` requests.
    pub bytes: u64,
    /// Requests sent again after a 429, 5xx or transport failure.
    pub retries: u64,
}
