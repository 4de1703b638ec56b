//! Streaming feed encoders over any [`std::io::Write`], and the row hash.
//!
//! - [`FlatJsonlGzWriter`]: flat rows as gzip'd JSON Lines (`feed.jsonl.gz`);
//! - [`FlatDelimitedGzWriter`]: flat rows as gzip'd CSV or TSV with the fixed
//!   [`FLAT_COLUMNS`] header (`feed.csv.gz`, `feed.tsv.gz`);
//! - [`AcpJsonlWriter`]: ACP `Product`s, one per line, uncompressed
//!   (`products.jsonl`);
//! - [`ProductTexts`]: all four encodings of one product, uncompressed (a
//!   feed build compresses them into segments; see [`super::segment`]);
//! - [`row_hash`]: SHA-256 of a row's canonical JSON, for change detection.
//!
//! Writers serialize into one reusable buffer each and hand the compressor
//! (or the sink) [`BATCH_BYTES`] at a time: deflate runs about twice as fast
//! on large inputs as on row-sized ones. The gzip writers compress on a
//! worker thread of their own by default (`new`, `with_level`; the writer
//! must be `Send + 'static`), so serialization and compression use both
//! cores; `inline` constructors compress on the caller's thread. At most four
//! batches per writer exist at a time, and a producer that outruns its
//! compressor waits. They do no validation: callers pass only valid rows.
//! Output is deterministic (the gzip header carries no timestamp or file
//! name), so the same rows always give the same bytes.
//!
//! Gzip defaults to level 1 ([`DEFAULT_GZIP_LEVEL`]): on feed rows the
//! default backend compresses about 5× faster than at level 6, and the files
//! come out about 1.5× larger (still around 5% of the raw size, feed rows
//! being very repetitive).
//!
//! Delimited value rules: booleans are `true`/`false`, `target_countries` is
//! comma-joined, `variant_dict` is a JSON object string, absent values are
//! empty fields, prices are `79.99 USD`. CSV quotes as needed (RFC 4180);
//! TSV additionally replaces tabs, carriage returns and line feeds inside
//! values with spaces so every record is one line.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::acp::AcpProduct;
use super::map::{FLAT_COLUMNS, FlatRow, MoneyText, write_weight};

/// The gzip level used by default (see the module docs for the trade-off).
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// Bytes collected before they are passed on to the compressor or sink.
pub const BATCH_BYTES: usize = 64 * 1024;

/// What an encoder wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Rows (or ACP products) written, not counting a header.
    pub rows: u64,
    /// Bytes written to the underlying writer (compressed size for gzip).
    pub bytes: u64,
}

/// Counts the bytes passed to the inner writer.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn gzip<W: Write>(inner: W, level: u32) -> GzEncoder<CountingWriter<W>> {
    GzEncoder::new(
        CountingWriter { inner, bytes: 0 },
        Compression::new(level.min(9)),
    )
}

/// Collects bytes into batches of [`BATCH_BYTES`] and compresses them, either
/// on the caller's thread or on a worker thread of its own.
struct GzSink<W: Write> {
    /// Bytes not yet handed to the compressor.
    pending: Vec<u8>,
    mode: GzMode<W>,
}

enum GzMode<W: Write> {
    Inline(GzEncoder<CountingWriter<W>>),
    Worker(GzWorker<W>),
}

fn batch_buffer() -> Vec<u8> {
    Vec::with_capacity(BATCH_BYTES + 16 * 1024)
}

impl<W: Write> GzSink<W> {
    fn inline(inner: W, level: u32) -> Self {
        GzSink {
            pending: batch_buffer(),
            mode: GzMode::Inline(gzip(inner, level)),
        }
    }

    /// Hands the pending bytes over once a batch is full.
    fn dispatch_full(&mut self) -> io::Result<()> {
        if self.pending.len() >= BATCH_BYTES {
            self.dispatch()?;
        }
        Ok(())
    }

    fn dispatch(&mut self) -> io::Result<()> {
        match &mut self.mode {
            GzMode::Inline(encoder) => {
                encoder.write_all(&self.pending)?;
                self.pending.clear();
                Ok(())
            }
            GzMode::Worker(worker) => worker.send(&mut self.pending),
        }
    }

    /// Compresses what is left, ends the gzip stream and returns the writer
    /// with the number of compressed bytes written to it.
    fn finish(mut self) -> io::Result<(W, u64)> {
        if !self.pending.is_empty() {
            self.dispatch()?;
        }
        let mut counting = match self.mode {
            GzMode::Inline(encoder) => encoder.finish()?,
            GzMode::Worker(mut worker) => worker.finish()?,
        };
        counting.flush()?;
        Ok((counting.inner, counting.bytes))
    }
}

impl<W: Write + Send + 'static> GzSink<W> {
    /// Compression on a worker thread; on the caller's thread if the OS
    /// refuses a thread.
    fn threaded(inner: W, level: u32) -> Self {
        let encoder = gzip(inner, level);
        match GzWorker::spawn() {
            Ok((worker, start)) => match start.send(encoder) {
                Ok(()) => GzSink {
                    pending: batch_buffer(),
                    mode: GzMode::Worker(worker),
                },
                // The worker is gone before it started: compress here.
                Err(mpsc::SendError(encoder)) => GzSink {
                    pending: batch_buffer(),
                    mode: GzMode::Inline(encoder),
                },
            },
            Err(_) => GzSink {
                pending: batch_buffer(),
                mode: GzMode::Inline(encoder),
            },
        }
    }
}

/// `csv::Writer` output goes through the same batching.
impl<W: Write> Write for GzSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.dispatch_full()?;
        Ok(buf.len())
    }

    /// Batches are dispatched when full and at [`GzSink::finish`]; flushing
    /// early would only shrink them.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A thread that owns the encoder and compresses batches sent to it.
///
/// Ownership: the handle is joined by `finish`. If the sink is dropped
/// without finishing (an error elsewhere), the channel closes, the worker
/// compresses what it already received, finishes the stream into its writer,
/// drops the writer and exits.
struct GzWorker<W> {
    /// Full batches to compress; at most two wait, which bounds memory and
    /// makes a fast producer wait for the compressor.
    batches: Option<SyncSender<Vec<u8>>>,
    /// Emptied batch buffers coming back for reuse.
    spare: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<io::Result<CountingWriter<W>>>>,
}

type Encoder<W> = GzEncoder<CountingWriter<W>>;

impl<W: Write + Send + 'static> GzWorker<W> {
    /// Starts the thread; it waits for its encoder on the returned sender,
    /// so a failed spawn leaves the encoder with the caller.
    fn spawn() -> io::Result<(Self, SyncSender<Encoder<W>>)> {
        let (start_tx, start_rx) = mpsc::sync_channel::<Encoder<W>>(1);
        let (batch_tx, batch_rx) = mpsc::sync_channel::<Vec<u8>>(2);
        let (spare_tx, spare_rx) = mpsc::sync_channel::<Vec<u8>>(4);
        let handle = thread::Builder::new()
            .name("feed-gzip".into())
            .spawn(move || {
                let mut encoder = start_rx
                    .recv()
                    .map_err(|_| io::Error::other("the gzip worker got no encoder"))?;
                for mut batch in batch_rx {
                    encoder.write_all(&batch)?;
                    batch.clear();
                    // Dropping a spare buffer when the queue is full is fine.
                    let _ = spare_tx.try_send(batch);
                }
                encoder.finish()
            })?;
        Ok((
            GzWorker {
                batches: Some(batch_tx),
                spare: spare_rx,
                handle: Some(handle),
            },
            start_tx,
        ))
    }
}

impl<W> GzWorker<W> {
    /// Sends the batch in `pending` and leaves an empty buffer in its place.
    fn send(&mut self, pending: &mut Vec<u8>) -> io::Result<()> {
        let Some(batches) = &self.batches else {
            return Err(worker_stopped());
        };
        let empty = self.spare.try_recv().unwrap_or_else(|_| batch_buffer());
        let batch = std::mem::replace(pending, empty);
        if batches.send(batch).is_err() {
            // The worker ended early, which it only does on a write error.
            self.batches = None;
            return Err(match self.join() {
                Err(e) => e,
                Ok(_) => worker_stopped(),
            });
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<CountingWriter<W>> {
        // Closing the channel tells the worker to finish the stream.
        self.batches = None;
        self.join()
    }

    fn join(&mut self) -> io::Result<CountingWriter<W>> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the gzip worker panicked")),
            None => Err(worker_stopped()),
        }
    }
}

fn worker_stopped() -> io::Error {
    io::Error::other("the gzip worker already stopped after an error")
}

/// Flat rows as gzip'd JSON Lines: one JSON object per line, keys in
/// [`FLAT_COLUMNS`] order, absent optional fields omitted, booleans and
/// lists as JSON booleans and arrays, `variant_dict` as an object.
pub struct FlatJsonlGzWriter<W: Write> {
    sink: GzSink<W>,
    rows: u64,
}

impl<W: Write + Send + 'static> FlatJsonlGzWriter<W> {
    /// A writer at [`DEFAULT_GZIP_LEVEL`] that compresses on a worker thread.
    pub fn new(inner: W) -> Self {
        Self::with_level(inner, DEFAULT_GZIP_LEVEL)
    }

    /// A writer at gzip `level` (0–9) that compresses on a worker thread.
    pub fn with_level(inner: W, level: u32) -> Self {
        FlatJsonlGzWriter {
            sink: GzSink::threaded(inner, level),
            rows: 0,
        }
    }
}

impl<W: Write> FlatJsonlGzWriter<W> {
    /// A writer at gzip `level` that compresses on the calling thread (for
    /// writers that cannot move to another thread). Output is identical.
    pub fn inline(inner: W, level: u32) -> Self {
        FlatJsonlGzWriter {
            sink: GzSink::inline(inner, level),
            rows: 0,
        }
    }

    /// Appends one row.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn write_row(&mut self, row: &FlatRow) -> io::Result<()> {
        append_json_line(&mut self.sink.pending, row)?;
        self.rows += 1;
        self.sink.dispatch_full()
    }

    /// Appends one row and returns its [`row_hash`], computed from the line
    /// just written instead of serializing the row a second time.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn write_row_hashed(&mut self, row: &FlatRow) -> io::Result<[u8; 32]> {
        let line = append_json_line(&mut self.sink.pending, row)?;
        let hash = Sha256::digest(&self.sink.pending[line]).into();
        self.rows += 1;
        self.sink.dispatch_full()?;
        Ok(hash)
    }

    /// Ends the gzip stream and returns the writer.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn finish(self) -> io::Result<(W, EncodeStats)> {
        let (inner, bytes) = self.sink.finish()?;
        Ok((
            inner,
            EncodeStats {
                rows: self.rows,
                bytes,
            },
        ))
    }
}

/// Appends `value` as JSON plus a newline; returns the range of the JSON
/// (without the newline). On error `buf` is left as it was.
fn append_json_line<T: Serialize>(
    buf: &mut Vec<u8>,
    value: &T,
) -> io::Result<std::ops::Range<usize>> {
    let start = buf.len();
    if let Err(e) = serde_json::to_writer(&mut *buf, value) {
        buf.truncate(start);
        return Err(io::Error::other(e));
    }
    let end = buf.len();
    buf.push(b'\n');
    Ok(start..end)
}

/// The field separator of a delimited feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// `,` (`feed.csv.gz`).
    Comma,
    /// `\t` (`feed.tsv.gz`).
    Tab,
}

impl Delimiter {
    fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
        }
    }
}

/// Flat rows as gzip'd CSV or TSV: a [`FLAT_COLUMNS`] header, then one record
/// per row with every column present (see the module docs for value rules).
pub struct FlatDelimitedGzWriter<W: Write> {
    csv: csv::Writer<GzSink<W>>,
    record: RecordBuilder,
    rows: u64,
}

/// The csv writer settings of every delimited feed.
fn delimited_writer<W: Write>(inner: W, delimiter: Delimiter, capacity: usize) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(delimiter.byte())
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(capacity)
        .from_writer(inner)
}

/// Builds the delimited record of a row (see the module docs for value
/// rules), reusing its buffers.
struct RecordBuilder {
    delimiter: Delimiter,
    /// Scratch for formatted values (prices, joined lists, JSON).
    text: String,
    /// Scratch for TSV values with tabs or line breaks replaced, and for the
    /// `variant_dict` JSON.
    clean: Vec<u8>,
    /// The record being built (reused).
    record: csv::ByteRecord,
}

impl<W: Write + Send + 'static> FlatDelimitedGzWriter<W> {
    /// A writer at [`DEFAULT_GZIP_LEVEL`] that compresses on a worker
    /// thread; writes the header immediately.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn new(inner: W, delimiter: Delimiter) -> io::Result<Self> {
        Self::with_level(inner, delimiter, DEFAULT_GZIP_LEVEL)
    }

    /// A writer at gzip `level` (0–9) that compresses on a worker thread;
    /// writes the header immediately.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn with_level(inner: W, delimiter: Delimiter, level: u32) -> io::Result<Self> {
        Self::with_sink(GzSink::threaded(inner, level), delimiter)
    }
}

impl<W: Write> FlatDelimitedGzWriter<W> {
    /// A writer at gzip `level` that compresses on the calling thread.
    /// Output is identical to the threaded writers'.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn inline(inner: W, delimiter: Delimiter, level: u32) -> io::Result<Self> {
        Self::with_sink(GzSink::inline(inner, level), delimiter)
    }

    fn with_sink(sink: GzSink<W>, delimiter: Delimiter) -> io::Result<Self> {
        let mut writer = FlatDelimitedGzWriter {
            csv: delimited_writer(sink, delimiter, BATCH_BYTES),
            record: RecordBuilder::new(delimiter),
            rows: 0,
        };
        writer.csv.write_record(FLAT_COLUMNS)?;
        Ok(writer)
    }

    /// Appends one record.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn write_row(&mut self, row: &FlatRow) -> io::Result<()> {
        let record = self.record.build(row)?;
        self.csv.write_byte_record(record)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes, ends the gzip stream and returns the writer.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn finish(self) -> io::Result<(W, EncodeStats)> {
        let sink = self
            .csv
            .into_inner()
            .map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))?;
        let (inner, bytes) = sink.finish()?;
        Ok((
            inner,
            EncodeStats {
                rows: self.rows,
                bytes,
            },
        ))
    }
}

impl RecordBuilder {
    fn new(delimiter: Delimiter) -> Self {
        RecordBuilder {
            delimiter,
            text: String::with_capacity(1024),
            clean: Vec::with_capacity(1024),
            record: csv::ByteRecord::with_capacity(4096, FLAT_COLUMNS.len()),
        }
    }

    /// The record of `row`, valid until the next call.
    fn build(&mut self, row: &FlatRow) -> io::Result<&csv::ByteRecord> {
        // The record is built in a reused `ByteRecord` and written in one go,
        // which takes the csv crate's fast path (one quoting check and one
        // copy per field). Keep this order identical to FLAT_COLUMNS (a test
        // checks it).
        self.record.clear();
        self.bool(row.is_eligible_search);
        self.bool(row.is_eligible_checkout);
        self.field(&row.item_id);
        self.opt(row.gtin.as_deref());
        self.opt(row.mpn.as_deref());
        self.field(&row.title);
        self.field(&row.description);
        self.field(&row.url);
        self.opt(row.product_category.as_deref());
        self.field(&row.brand);
        self.text.clear();
        if let Some(w) = row.weight {
            write_weight(&mut self.text, w);
        }
        self.record.push_field(self.text.as_bytes());
        self.plain(row.item_weight_unit.unwrap_or(""));
        self.opt(row.image_url.as_deref());
        self.opt(row.additional_image_urls.as_deref());
        self.plain(MoneyText::new(&row.price).as_str());
        match &row.sale_price {
            Some(sale) => self.plain(MoneyText::new(sale).as_str()),
            None => self.plain(""),
        }
        self.plain(row.availability.as_str());
        self.field(&row.group_id);
        self.bool(row.listing_has_variations);
        self.clean.clear();
        if let Some(dict) = &row.variant_dict {
            serde_json::to_writer(&mut self.clean, dict).map_err(io::Error::other)?;
        }
        // JSON escapes control characters, so this needs no TSV cleaning.
        self.record.push_field(&self.clean);
        self.field(&row.item_group_title);
        self.opt(row.color.as_deref());
        self.opt(row.size.as_deref());
        self.field(&row.offer_id);
        self.field(&row.seller_name);
        self.field(&row.seller_url);
        self.opt(row.seller_privacy_policy.as_deref());
        self.opt(row.seller_tos.as_deref());
        match row.accepts_returns {
            Some(b) => self.bool(b),
            None => self.plain(""),
        }
        self.text.clear();
        if let Some(days) = row.return_deadline_in_days {
            let _ = write!(self.text, "{days}");
        }
        self.record.push_field(self.text.as_bytes());
        self.opt(row.return_policy.as_deref());
        self.text.clear();
        for (i, country) in row.target_countries.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            self.text.push_str(country);
        }
        let countries = std::mem::take(&mut self.text);
        self.field(&countries);
        self.text = countries;
        self.field(&row.store_country);
        Ok(&self.record)
    }

    fn bool(&mut self, b: bool) {
        self.plain(if b { "true" } else { "false" });
    }

    fn opt(&mut self, value: Option<&str>) {
        self.field(value.unwrap_or(""));
    }

    /// A value we formatted ourselves, which never contains a tab or line
    /// break (booleans, prices, enums, numbers).
    fn plain(&mut self, value: &str) {
        self.record.push_field(value.as_bytes());
    }

    /// A value from the row: in TSV, tabs and line breaks become spaces.
    fn field(&mut self, value: &str) {
        let bytes = value.as_bytes();
        if self.delimiter == Delimiter::Tab
            // Branch-free scan for any control byte first (it vectorizes);
            // only then look for the three that matter.
            && bytes.iter().fold(false, |acc, &b| acc | (b < 0x20))
            && bytes.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r'))
        {
            self.clean.clear();
            self.clean.extend(bytes.iter().map(|&b| match b {
                b'\t' | b'\n' | b'\r' => b' ',
                other => other,
            }));
            self.record.push_field(&self.clean);
        } else {
            self.record.push_field(bytes);
        }
    }
}

/// ACP `Product`s as JSON Lines, uncompressed (the ACP file form's
/// `products.jsonl`).
pub struct AcpJsonlWriter<W: Write> {
    inner: CountingWriter<W>,
    pending: Vec<u8>,
    rows: u64,
}

impl<W: Write> AcpJsonlWriter<W> {
    /// A writer that batches lines into [`BATCH_BYTES`] writes to `inner`.
    pub fn new(inner: W) -> Self {
        AcpJsonlWriter {
            inner: CountingWriter { inner, bytes: 0 },
            pending: Vec::with_capacity(BATCH_BYTES + 16 * 1024),
            rows: 0,
        }
    }

    /// Appends one product line.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn write_product(&mut self, product: &AcpProduct) -> io::Result<()> {
        append_json_line(&mut self.pending, product)?;
        self.rows += 1;
        if self.pending.len() >= BATCH_BYTES {
            self.inner.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Flushes and returns the writer; `rows` counts products.
    ///
    /// # Errors
    /// Errors from the underlying writer.
    pub fn finish(mut self) -> io::Result<(W, EncodeStats)> {
        self.inner.write_all(&self.pending)?;
        self.inner.flush()?;
        Ok((
            self.inner.inner,
            EncodeStats {
                rows: self.rows,
                bytes: self.inner.bytes,
            },
        ))
    }
}

/// One product's valid rows in the four encodings, uncompressed: the flat
/// rows as JSON Lines, CSV and TSV, and the ACP product as one JSON line,
/// byte for byte as the streaming writers above write them. A feed build
/// compresses each into one segment per artifact (see [`super::segment`]).
/// Buffers are reused from product to product.
pub struct ProductTexts {
    jsonl: Vec<u8>,
    csv: DelimitedText,
    tsv: DelimitedText,
    acp: Vec<u8>,
}

/// Delimited records of one product. The csv writer lives for one product
/// and hands its buffer back at the end.
struct DelimitedText {
    delimiter: Delimiter,
    record: RecordBuilder,
    writer: Option<csv::Writer<Vec<u8>>>,
    text: Vec<u8>,
}

impl DelimitedText {
    fn new(delimiter: Delimiter) -> Self {
        DelimitedText {
            delimiter,
            record: RecordBuilder::new(delimiter),
            writer: None,
            text: Vec::new(),
        }
    }

    /// The product's csv writer, started on the (cleared) text buffer.
    fn writer<'a>(
        slot: &'a mut Option<csv::Writer<Vec<u8>>>,
        text: &mut Vec<u8>,
        delimiter: Delimiter,
    ) -> &'a mut csv::Writer<Vec<u8>> {
        slot.get_or_insert_with(|| {
            let mut buf = std::mem::take(text);
            buf.clear();
            delimited_writer(buf, delimiter, 8 * 1024)
        })
    }

    fn write_row(&mut self, row: &FlatRow) -> io::Result<()> {
        let record = self.record.build(row)?;
        Self::writer(&mut self.writer, &mut self.text, self.delimiter).write_byte_record(record)?;
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        Self::writer(&mut self.writer, &mut self.text, self.delimiter)
            .write_record(FLAT_COLUMNS)?;
        Ok(())
    }

    /// Ends the product: its text stays in `text` until the next row.
    fn finish(&mut self) -> io::Result<()> {
        if let Some(writer) = self.writer.take() {
            self.text = writer
                .into_inner()
                .map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))?;
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.finish()?;
        self.text.clear();
        Ok(())
    }
}

impl Default for ProductTexts {
    fn default() -> Self {
        Self::new()
    }
}

impl ProductTexts {
    pub fn new() -> Self {
        ProductTexts {
            jsonl: Vec::new(),
            csv: DelimitedText::new(Delimiter::Comma),
            tsv: DelimitedText::new(Delimiter::Tab),
            acp: Vec::new(),
        }
    }

    /// Starts the next product.
    ///
    /// # Errors
    /// A failure left over from the csv writer.
    pub fn clear(&mut self) -> io::Result<()> {
        self.jsonl.clear();
        self.acp.clear();
        self.csv.clear()?;
        self.tsv.clear()
    }

    /// Appends one valid row to the three flat encodings and returns its
    /// [`row_hash`].
    ///
    /// # Errors
    /// Serialization failures.
    pub fn write_row(&mut self, row: &FlatRow) -> io::Result<[u8; 32]> {
        let line = append_json_line(&mut self.jsonl, row)?;
        let hash = Sha256::digest(&self.jsonl[line]).into();
        self.csv.write_row(row)?;
        self.tsv.write_row(row)?;
        Ok(hash)
    }

    /// Appends the ACP product line.
    ///
    /// # Errors
    /// Serialization failures.
    pub fn write_product(&mut self, product: &AcpProduct) -> io::Result<()> {
        append_json_line(&mut self.acp, product).map(|_| ())
    }

    /// The product's text in each format, in `FeedFormat::ALL` order (JSONL,
    /// CSV, TSV, ACP); empty for a product without valid rows.
    ///
    /// # Errors
    /// A csv writer failure.
    pub fn texts(&mut self) -> io::Result<[&[u8]; 4]> {
        self.csv.finish()?;
        self.tsv.finish()?;
        Ok([&self.jsonl, &self.csv.text, &self.tsv.text, &self.acp])
    }

    /// What opens every artifact, in `FeedFormat::ALL` order: the
    /// [`FLAT_COLUMNS`] header line for CSV and TSV, nothing for the JSON
    /// Lines files.
    ///
    /// # Errors
    /// A csv writer failure.
    pub fn headers() -> io::Result<[Vec<u8>; 4]> {
        let mut csv = DelimitedText::new(Delimiter::Comma);
        let mut tsv = DelimitedText::new(Delimiter::Tab);
        csv.write_header()?;
        tsv.write_header()?;
        csv.finish()?;
        tsv.finish()?;
        Ok([Vec::new(), csv.text, tsv.text, Vec::new()])
    }
}

/// SHA-256 of the row's canonical JSON (the JSONL line without its newline:
/// fixed key order, absent fields omitted). Equal rows hash equally across
/// runs and builds of the same schema.
///
/// [`FlatJsonlGzWriter::write_row_hashed`] gives the same hash without a
/// second serialization.
pub fn row_hash(row: &FlatRow) -> [u8; 32] {
    thread_local! {
        static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => hash_json(&mut buf, row),
        // Only reachable by re-entrance, which serialization never does.
        Err(_) => hash_json(&mut Vec::new(), row),
    })
}

fn hash_json(buf: &mut Vec<u8>, row: &FlatRow) -> [u8; 32] {
    buf.clear();
    // Serializing into a Vec cannot fail: every FlatRow field is a string,
    // number, bool, list or string map.
    let _ = serde_json::to_writer(&mut *buf, row);
    Sha256::digest(buf.as_slice()).into()
}

/// Lower-case hex of `bytes` (`sha2` digests no longer format as hex).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;
    use serde_json::Value;

    use super::*;
    use crate::feed::acp::acp_product;
    use crate::feed::map::flat_rows;
    use crate::feed::test_products::{self, options};
    use crate::feed::validate::{has_errors, validate_row};

    fn valid_rows() -> Vec<FlatRow> {
        let mut opts = options();
        opts.accepts_returns = Some(true);
        opts.return_deadline_in_days = Some(30);
        test_products::all()
            .iter()
            .flat_map(|p| flat_rows(p, &opts))
            .filter(|r| !has_errors(&validate_row(r)))
            .collect()
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
        text
    }

    fn delimited(rows: &[FlatRow], delimiter: Delimiter) -> (Vec<u8>, EncodeStats) {
        let mut w = FlatDelimitedGzWriter::new(Vec::new(), delimiter).unwrap();
        for row in rows {
            w.write_row(row).unwrap();
        }
        w.finish().unwrap()
    }

    fn read_delimited(bytes: &[u8], delimiter: u8) -> (Vec<String>, Vec<csv::StringRecord>) {
        let text = gunzip(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let records = reader.records().map(Result::unwrap).collect();
        (header, records)
    }

    #[test]
    fn jsonl_gz_reads_back_as_one_object_per_row() {
        let rows = valid_rows();
        let mut w = FlatJsonlGzWriter::new(Vec::new());
        for row in &rows {
            w.write_row(row).unwrap();
        }
        let (bytes, stats) = w.finish().unwrap();
        assert_eq!(stats.rows, rows.len() as u64);
        assert_eq!(stats.bytes, bytes.len() as u64);

        let text = gunzip(&bytes);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), rows.len());
        for (line, row) in lines.iter().zip(&rows) {
            assert_eq!(line["item_id"], row.item_id.as_str());
            assert_eq!(line["is_eligible_search"], Value::Bool(true));
            assert!(line["target_countries"].is_array());
            assert_eq!(line["price"], row.price.to_string().as_str());
        }
        assert_eq!(lines[0]["variant_dict"]["size"], "9");
        assert_eq!(lines[0]["return_deadline_in_days"], 30);
    }

    #[test]
    fn csv_gz_has_the_fixed_header_and_one_record_per_row() {
        let rows = valid_rows();
        let (bytes, stats) = delimited(&rows, Delimiter::Comma);
        assert_eq!(stats.rows, rows.len() as u64);
        let (header, records) = read_delimited(&bytes, b',');
        assert_eq!(header, FLAT_COLUMNS);
        assert_eq!(records.len(), rows.len());
        let col = |name: &str| FLAT_COLUMNS.iter().position(|c| *c == name).unwrap();
        for (record, row) in records.iter().zip(&rows) {
            assert_eq!(record.len(), FLAT_COLUMNS.len());
            // Every value matches the JSON form of the same row.
            let json = serde_json::to_value(row).unwrap();
            for (i, column) in FLAT_COLUMNS.iter().enumerate() {
                let want = match &json.get(*column) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(","),
                    Some(other) => other.to_string(),
                };
                assert_eq!(&record[i], want, "{column} of {}", row.item_id);
            }
        }
        let first = &records[0];
        assert_eq!(&first[col("is_eligible_search")], "true");
        assert_eq!(&first[col("listing_has_variations")], "true");
        assert_eq!(&first[col("price")], "129.99 USD");
        assert_eq!(&first[col("sale_price")], "99.99 USD");
        assert_eq!(&first[col("weight")], "0.255");
        assert_eq!(
            &first[col("variant_dict")],
            r#"{"color":"Blue","size":"9"}"#
        );
        assert!(
            first[col("description")].contains('\n'),
            "CSV keeps line breaks, quoted"
        );
    }

    #[test]
    fn tsv_values_never_contain_tabs_or_line_breaks() {
        let mut rows = valid_rows();
        rows[0].title = "Tab\there".into();
        rows[0].description = "line one\r\nline \"two\"\tend".into();
        let (bytes, stats) = delimited(&rows, Delimiter::Tab);
        assert_eq!(stats.rows, rows.len() as u64);

        let text = gunzip(&bytes);
        assert_eq!(text.lines().count(), rows.len() + 1, "one line per record");
        for line in text.lines() {
            assert_eq!(line.split('\t').count(), FLAT_COLUMNS.len());
        }
        let (header, records) = read_delimited(&bytes, b'\t');
        assert_eq!(header, FLAT_COLUMNS);
        assert_eq!(records.len(), rows.len());
        let col = |name: &str| FLAT_COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(&records[0][col("title")], "Tab here");
        assert_eq!(
            &records[0][col("description")],
            "line one  line \"two\" end"
        );
    }

    #[test]
    fn an_empty_delimited_feed_is_just_the_header() {
        let (bytes, stats) = delimited(&[], Delimiter::Comma);
        assert_eq!(stats.rows, 0);
        assert_eq!(gunzip(&bytes), format!("{}\n", FLAT_COLUMNS.join(",")));
    }

    #[test]
    fn acp_jsonl_has_one_product_per_line() {
        let opts = options();
        let mut w = AcpJsonlWriter::new(Vec::new());
        let mut expected = 0;
        for product in test_products::all() {
            let rows: Vec<FlatRow> = flat_rows(&product, &opts)
                .into_iter()
                .filter(|r| !has_errors(&validate_row(r)))
                .collect();
            if rows.is_empty() {
                continue;
            }
            w.write_product(&acp_product(&product, &rows, &opts))
                .unwrap();
            expected += 1;
        }
        let (bytes, stats) = w.finish().unwrap();
        assert_eq!(stats.rows, expected);
        assert_eq!(stats.bytes, bytes.len() as u64);
        let text = String::from_utf8(bytes).unwrap();
        let products: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(products.len() as u64, expected);
        assert_eq!(products[0]["id"], "9100001");
        assert_eq!(products[0]["variants"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn encodings_are_deterministic() {
        let rows = valid_rows();
        let encode = || {
            let mut w = FlatJsonlGzWriter::new(Vec::new());
            for row in &rows {
                w.write_row(row).unwrap();
            }
            w.finish().unwrap().0
        };
        assert_eq!(encode(), encode());
        assert_eq!(
            delimited(&rows, Delimiter::Tab).0,
            delimited(&rows, Delimiter::Tab).0
        );
    }

    #[test]
    fn row_hash_is_stable_and_sensitive_to_every_change() {
        let rows = valid_rows();
        let a = row_hash(&rows[0]);
        assert_eq!(a, row_hash(&rows[0].clone()));
        let mut changed = rows[0].clone();
        changed.availability = crate::domain::Availability::OutOfStock;
        assert_ne!(a, row_hash(&changed));
        // It is the hash of the JSONL line without the newline.
        let json = serde_json::to_vec(&rows[0]).unwrap();
        assert_eq!(a, <[u8; 32]>::from(Sha256::digest(&json)));
    }

    #[test]
    fn hashing_while_writing_matches_row_hash() {
        let rows = valid_rows();
        let mut w = FlatJsonlGzWriter::new(Vec::new());
        for row in &rows {
            assert_eq!(w.write_row_hashed(row).unwrap(), row_hash(row));
        }
        let (bytes, stats) = w.finish().unwrap();
        assert_eq!(stats.rows, rows.len() as u64);
        assert_eq!(gunzip(&bytes).lines().count(), rows.len());
    }

    #[test]
    fn many_rows_span_several_batches() {
        let rows = valid_rows();
        let mut jsonl = FlatJsonlGzWriter::new(Vec::new());
        let mut csv = FlatDelimitedGzWriter::new(Vec::new(), Delimiter::Comma).unwrap();
        let n = 400;
        for i in 0..n {
            let mut row = rows[i % rows.len()].clone();
            row.item_id = format!("{i}");
            jsonl.write_row(&row).unwrap();
            csv.write_row(&row).unwrap();
        }
        let (bytes, _) = jsonl.finish().unwrap();
        let text = gunzip(&bytes);
        assert!(text.len() > 2 * BATCH_BYTES, "the test must cross batches");
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["item_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, (0..n).map(|i| i.to_string()).collect::<Vec<_>>());
        let (bytes, _) = csv.finish().unwrap();
        let (_, records) = read_delimited(&bytes, b',');
        assert_eq!(records.len(), n);
        assert_eq!(&records[n - 1][2], &(n - 1).to_string());
    }

    #[test]
    fn threaded_and_inline_compression_give_identical_files() {
        let rows = valid_rows();
        let many: Vec<FlatRow> = (0..300).map(|i| rows[i % rows.len()].clone()).collect();
        let mut threaded = FlatJsonlGzWriter::new(Vec::new());
        let mut inline = FlatJsonlGzWriter::inline(Vec::new(), DEFAULT_GZIP_LEVEL);
        let mut tsv_threaded = FlatDelimitedGzWriter::new(Vec::new(), Delimiter::Tab).unwrap();
        let mut tsv_inline =
            FlatDelimitedGzWriter::inline(Vec::new(), Delimiter::Tab, DEFAULT_GZIP_LEVEL).unwrap();
        for row in &many {
            threaded.write_row(row).unwrap();
            inline.write_row(row).unwrap();
            tsv_threaded.write_row(row).unwrap();
            tsv_inline.write_row(row).unwrap();
        }
        let (a, a_stats) = threaded.finish().unwrap();
        let (b, b_stats) = inline.finish().unwrap();
        assert_eq!(a, b);
        assert_eq!(a_stats, b_stats);
        assert_eq!(
            tsv_threaded.finish().unwrap().0,
            tsv_inline.finish().unwrap().0
        );
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_reports_the_error_when_compressing_inline() {
        let rows = valid_rows();
        let mut w = FlatDelimitedGzWriter::inline(Broken, Delimiter::Comma, 1).unwrap();
        for row in &rows {
            if w.write_row(row).is_err() {
                return;
            }
        }
        match w.finish() {
            Err(e) => assert_eq!(e.to_string(), "disk full"),
            Ok(_) => panic!("finishing into a broken sink must fail"),
        }
    }

    #[test]
    fn a_failing_sink_reports_the_error_from_the_worker() {
        // Enough rows to cross several batches, so the worker fails midway.
        let rows = valid_rows();
        let many: Vec<FlatRow> = (0..400).map(|i| rows[i % rows.len()].clone()).collect();
        let mut w = FlatJsonlGzWriter::new(Broken);
        for row in &many {
            if let Err(e) = w.write_row(row) {
                assert_eq!(e.to_string(), "disk full");
                return;
            }
        }
        match w.finish() {
            Err(e) => assert_eq!(e.to_string(), "disk full"),
            Ok(_) => panic!("finishing into a broken sink must fail"),
        }
    }

    #[test]
    fn a_failing_sink_reports_the_error_at_the_latest_on_finish() {
        let rows = valid_rows();
        let mut w = FlatJsonlGzWriter::new(Broken);
        for row in &rows {
            // Buffered: errors surface at the latest on finish.
            if w.write_row(row).is_err() {
                return;
            }
        }
        match w.finish() {
            Err(e) => assert_eq!(e.to_string(), "disk full"),
            Ok(_) => panic!("finishing into a broken sink must fail"),
        }
    }

    #[test]
    fn hex_encodes_lower_case() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
