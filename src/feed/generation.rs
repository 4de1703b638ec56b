//! Builds one feed generation of a shop from the stored catalog and publishes
//! it atomically, or holds it back.
//!
//! Runs on the blocking pool (it scans the whole catalog and compresses).
//! Memory stays flat as the catalog grows: products are read one at a time
//! and rows stream straight into the artifact files. The published row
//! hashes (the feed's own index, 32 bytes per row plus the id) and the
//! report of invalid rows and excluded products are held in memory.

use std::io::Write;

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::map::RowMapper;
use super::{
    AcpJsonlWriter, Delimiter, FeedFilter, FeedFormat, FeedOptions, FlatDelimitedGzWriter,
    FlatJsonlGzWriter, Severity, acp_product, has_errors, product_exclusion, validate_row,
};
use crate::domain::{Product, ShopId};
use crate::store::{
    ArtifactWriter, ExcludedProduct, FeedMeta, FeedReport, HeldFeed, InvalidRow, RowHash, Store,
    StoreError, hex,
};

/// Products decoded ahead of the encoder.
const READ_AHEAD: usize = 256;

/// Why a feed could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FeedBuildError {
    #[error("feed store access failed")]
    Store(#[from] StoreError),
    #[error("writing the {format} file failed")]
    Encode {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What happened to the generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationOutcome {
    /// Published as the shop's feed.
    Published(FeedMeta),
    /// Identical rows to the published feed; nothing changed.
    Unchanged(FeedMeta),
    /// Built but held back: too few valid rows compared with the published feed.
    Held(HeldFeed),
}

impl GenerationOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            GenerationOutcome::Published(_) => "published",
            GenerationOutcome::Unchanged(_) => "unchanged",
            GenerationOutcome::Held(_) => "held",
        }
    }
}

/// Inputs of a build besides the catalog.
pub struct GenerationSettings<'a> {
    pub options: &'a FeedOptions,
    pub filter: &'a FeedFilter,
    /// Hold back a feed whose valid rows fall more than this share below the
    /// published feed's.
    pub max_drop_percent: u32,
}

fn encode_err(format: FeedFormat) -> impl FnOnce(std::io::Error) -> FeedBuildError {
    move |source| FeedBuildError::Encode {
        format: format.file_name(),
        source,
    }
}

/// Builds, checks and publishes (or holds) a new generation for `shop`.
///
/// # Errors
/// Store I/O or an encoder failure; the published feed is untouched then.
pub fn build_and_publish(
    store: &Store,
    shop: &ShopId,
    settings: &GenerationSettings<'_>,
) -> Result<GenerationOutcome, FeedBuildError> {
    let generation = store.next_feed_generation(shop)?;
    let published = store.feed_meta(shop)?;
    let writer = |format: FeedFormat| -> Result<ArtifactWriter, StoreError> {
        store.artifact_writer(shop, generation, format.stored_name())
    };
    let mut jsonl = FlatJsonlGzWriter::new(writer(FeedFormat::OpenAiJsonlGz)?);
    let mut csv = FlatDelimitedGzWriter::new(writer(FeedFormat::OpenAiCsvGz)?, Delimiter::Comma)
        .map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
    let mut tsv = FlatDelimitedGzWriter::new(writer(FeedFormat::OpenAiTsvGz)?, Delimiter::Tab)
        .map_err(encode_err(FeedFormat::OpenAiTsvGz))?;
    let mut acp = AcpJsonlWriter::new(flate2::write::GzEncoder::new(
        writer(FeedFormat::AcpJsonl)?,
        flate2::Compression::fast(),
    ));
    // The published feed's row hashes (its own index) decide which rows
    // changed; the new index is collected alongside and stored on publish.
    let previous_hashes = store.row_hashes(shop)?;
    let mut hashes: Vec<(String, RowHash)> = Vec::with_capacity(previous_hashes.len());
    let mapper = RowMapper::new(settings.options);

    let mut report = FeedReport {
        generation,
        ..FeedReport::default()
    };
    let mut snapshot = Sha256::new();
    let (mut valid, mut invalid, mut new_rows, mut changed) = (0u64, 0u64, 0u64, 0u64);

    // Decoding stored products runs on its own thread, ahead of mapping and
    // encoding on this one; the bounded channel keeps memory flat.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Product, StoreError>>(READ_AHEAD);
    let products = store.products(shop)?;
    let reader = std::thread::Builder::new()
        .name("feed-reader".into())
        .spawn(move || {
            for product in products {
                if tx.send(product).is_err() {
                    break;
                }
            }
        })
        .map_err(|source| FeedBuildError::Encode {
            format: "reader",
            source,
        })?;

    for product in rx {
        let product = product?;
        if let Some(exclusion) = product_exclusion(&product, settings.filter) {
            report.excluded_products.push(ExcludedProduct {
                product_id: product.id.clone(),
                title: product.title.clone(),
                reason: exclusion.to_string(),
            });
            continue;
        }
        let rows = mapper.rows(&product);
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            let issues = validate_row(&row);
            let describe = || {
                issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message))
                    .collect::<Vec<_>>()
            };
            if has_errors(&issues) {
                invalid += 1;
                report.invalid_rows.push(InvalidRow {
                    item_id: row.item_id.clone(),
                    product_id: product.id.clone(),
                    title: row.title.clone(),
                    issues: describe(),
                });
                continue;
            }
            if issues.iter().any(|i| i.severity == Severity::Warning) {
                report.warnings.push(InvalidRow {
                    item_id: row.item_id.clone(),
                    product_id: product.id.clone(),
                    title: row.title.clone(),
                    issues: describe(),
                });
            }
            let hash = jsonl
                .write_row_hashed(&row)
                .map_err(encode_err(FeedFormat::OpenAiJsonlGz))?;
            match previous_hashes.get(&row.item_id) {
                None => {
                    new_rows += 1;
                    changed += 1;
                }
                Some(old) if *old != hash => changed += 1,
                Some(_) => {}
            }
            snapshot.update(row.item_id.as_bytes());
            snapshot.update(hash);
            hashes.push((row.item_id.clone(), hash));
            csv.write_row(&row)
                .map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
            tsv.write_row(&row)
                .map_err(encode_err(FeedFormat::OpenAiTsvGz))?;
            valid += 1;
            kept.push(row);
        }
        if !kept.is_empty() {
            let product_form = acp_product(&product, &kept, settings.options);
            acp.write_product(&product_form)
                .map_err(encode_err(FeedFormat::AcpJsonl))?;
        }
    }
    // The reader only ends by exhausting the iterator or a closed channel.
    let _ = reader.join();

    let mut artifacts = Vec::with_capacity(4);
    let (w, _) = jsonl
        .finish()
        .map_err(encode_err(FeedFormat::OpenAiJsonlGz))?;
    artifacts.push(finish(w, FeedFormat::OpenAiJsonlGz)?);
    let (w, _) = csv.finish().map_err(encode_err(FeedFormat::OpenAiCsvGz))?;
    artifacts.push(finish(w, FeedFormat::OpenAiCsvGz)?);
    let (w, _) = tsv.finish().map_err(encode_err(FeedFormat::OpenAiTsvGz))?;
    artifacts.push(finish(w, FeedFormat::OpenAiTsvGz)?);
    let (w, _) = acp.finish().map_err(encode_err(FeedFormat::AcpJsonl))?;
    let w = w.finish().map_err(encode_err(FeedFormat::AcpJsonl))?;
    artifacts.push(finish(w, FeedFormat::AcpJsonl)?);

    let previous_valid = published.as_ref().map_or(0, |m| m.rows_valid);
    let meta = FeedMeta {
        generation,
        built_at: Utc::now(),
        rows_valid: valid,
        rows_invalid: invalid,
        products_excluded: report.excluded_products.len() as u64,
        rows_changed: changed,
        rows_removed: previous_valid.saturating_sub(valid - new_rows),
        snapshot_hash: hex(&snapshot.finalize()),
        artifacts,
    };

    let outcome = if let Some(current) = published
        .as_ref()
        .filter(|p| p.snapshot_hash == meta.snapshot_hash && p.rows_invalid == meta.rows_invalid)
    {
        store.discard_feed_generation(shop, generation)?;
        GenerationOutcome::Unchanged(current.clone())
    } else if dropped_too_far(previous_valid, valid, settings.max_drop_percent) {
        let held = HeldFeed {
            at: meta.built_at,
            generation,
            rows_valid: valid,
            published_rows_valid: previous_valid,
            max_drop_percent: settings.max_drop_percent,
        };
        store.hold_feed(shop, &held)?;
        GenerationOutcome::Held(held)
    } else {
        store.publish_feed(shop, &meta, &report, &hashes)?;
        GenerationOutcome::Published(meta)
    };
    Ok(outcome)
}

fn finish(
    mut writer: ArtifactWriter,
    format: FeedFormat,
) -> Result<crate::store::ArtifactMeta, FeedBuildError> {
    writer.flush().map_err(encode_err(format))?;
    writer.finish().map_err(encode_err(format))
}

/// True when `now` valid rows fall more than `max_drop_percent` below
/// `published` ones. An empty published feed never holds anything back.
pub fn dropped_too_far(published: u64, now: u64, max_drop_percent: u32) -> bool {
    if published == 0 || now >= published {
        return false;
    }
    let dropped = published - now;
    // dropped / published > max / 100, in integers.
    u128::from(dropped) * 100 > u128::from(published) * u128::from(max_drop_percent)
}

#[cfg(test)]
mod tests {
    use super::dropped_too_far;

    #[test]
    fn drop_threshold_is_a_share_of_the_published_rows() {
        assert!(!dropped_too_far(0, 0, 20));
        assert!(!dropped_too_far(100, 80, 20));
        assert!(dropped_too_far(100, 79, 20));
        assert!(!dropped_too_far(100, 150, 20));
        assert!(dropped_too_far(10, 0, 20));
        assert!(!dropped_too_far(10, 0, 100));
        assert!(dropped_too_far(5, 4, 0));
    }
}
