//! Pushing a shop's published feed to where agents' platforms read it.
//!
//! - [`snapshot`]: the published feed cut into a stable shard set in one of
//!   OpenAI's file-upload formats (Parquet, `jsonl.gz`, `csv.gz`,
//!   `tsv.gz`), written to a temporary directory with a hash per file;
//! - [`parquet`]: the streaming Parquet writer behind the Parquet shards;
//! - [`sftp`]: uploading a shard set over SFTP with a pinned host key,
//!   temporary names and atomic renames, and removing stale shards.
//! - [`feed_api`]: pushing the ACP Product objects to an agent-hosted ACP
//!   Feed API (create the feed, upsert changed products in batches, read
//!   back and repair, mark removed products unavailable).
//!
//! - [`run`]: one target's deliveries: skipping an unchanged feed,
//!   recording every attempt, metrics, and the per-target schedule with
//!   retries.
//!
//! It reads the store's published generations and never changes them.

pub mod feed_api;
pub mod parquet;
pub mod run;
pub mod sftp;
pub mod snapshot;
