//! The per-generation product index: what a rebuild needs to reuse the
//! encoded output of unchanged products.
//!
//! One record per stored product, in product-id order (the feed's order):
//! its id, the hash of its stored bytes ([`crate::store::product_digest`]), its segment in
//! each artifact (see [`super::segment`]), how many valid rows it has (their
//! ids and hashes are the generation's row-hash index, in the same order)
//! and its report fragments. The header carries the [`fingerprint`] of
//! everything else that shapes the output, and the segments that open each
//! artifact. Records hold no file offsets: a reused product's record is
//! copied into the next index byte for byte.
//!
//! Layout (integers little-endian), version [`INDEX_VERSION`]:
//!
//! ```text
//! header:  magic "ACPFIDX\0", u32 version, [u8; 32] fingerprint,
//!          4 × segment (the opening segments)
//! record:  u8 1, u16 id length, id, [u8; 32] source hash, 4 × segment,
//!          u32 valid rows, u32 fragment length, fragment
//! fragment (when its length is not 0): 3 × (u32 items, u32 length, the
//!          items as comma-separated JSON), for invalid rows, warnings and
//!          excluded products
//! end:     u8 0, u64 records, u64 valid rows
//! segment: u32 compressed length, u32 length, u32 CRC-32, u32 CRC-32 of
//!          the compressed bytes; in `FeedFormat::ALL` order
//! ```
//!
//! No file I/O here: the writer takes any `Write`, the reader a byte slice.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use super::segment::{CONTEXT_BYTES, SegmentRef};
use super::{FeedFilter, FeedOptions};
use crate::store::{JsonList, ReportList, ReportTarget};

/// File name of the index in a generation directory.
pub const INDEX_FILE: &str = "products.idx";

/// Version of the layout above.
pub const INDEX_VERSION: u32 = 1;

/// Version of everything that turns stored products into feed bytes
/// (eligibility, mapping, validation, the ACP form, the text encoders, the
/// segment encoder). Bump it with any change there: it is part of the
/// [`fingerprint`], so the next build encodes every product again.
pub const FEED_ENCODING_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"ACPFIDX\0";

/// SHA-256 of a product's stored bytes (as the store holds them).
/// The store's digest of a product's stored bytes
/// ([`crate::store::product_digest`]), compared between generations.
pub type SourceHash = crate::store::ProductDigest;

/// Fingerprint of everything besides the stored product bytes that decides
/// a product's output: the feed options (which carry the shop facts:
/// seller, country, policy pages, checkout and return settings, attribution
/// parameters), the filter, the segment context and
/// [`FEED_ENCODING_VERSION`]. Prices carry their currency inside the stored
/// products.
///
/// The options and filter enter through their `Debug` form, which lists
/// every field, so a field added later is covered without touching this
/// function; a different rendering by a newer compiler only costs one full
/// re-encode.
pub fn fingerprint(options: &FeedOptions, filter: &FeedFilter) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"acp-bridge feed products\0");
    h.update(FEED_ENCODING_VERSION.to_le_bytes());
    h.update((CONTEXT_BYTES as u64).to_le_bytes());
    h.update(format!("{options:?}\0{filter:?}").as_bytes());
    h.finalize().into()
}

/// What one product contributes to the generation's report, each list as
/// JSON (see [`JsonList`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFragment {
    pub invalid_rows: JsonList,
    pub warnings: JsonList,
    pub excluded_products: JsonList,
}

impl ReportFragment {
    pub fn is_empty(&self) -> bool {
        self.invalid_rows.is_empty()
            && self.warnings.is_empty()
            && self.excluded_products.is_empty()
    }

    fn lists(&self) -> [&JsonList; 3] {
        [&self.invalid_rows, &self.warnings, &self.excluded_products]
    }

    /// Appends the fragment to a report.
    ///
    /// # Errors
    /// Writing to the report.
    pub fn add_to(&self, report: &mut impl ReportTarget) -> io::Result<()> {
        FragmentView {
            lists: self.lists().map(|l| (l.len(), l.json())),
        }
        .add_to(report)
    }
}

/// A report fragment as stored in a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentView<'a> {
    /// Invalid rows, warnings, excluded products: item count and JSON.
    lists: [(u64, &'a [u8]); 3],
}

impl FragmentView<'_> {
    pub fn is_empty(&self) -> bool {
        self.lists.iter().all(|(n, _)| *n == 0)
    }

    /// Appends the fragment to a report.
    ///
    /// # Errors
    /// Writing to the report.
    pub fn add_to(&self, report: &mut impl ReportTarget) -> io::Result<()> {
        let [invalid, warnings, excluded] = self.lists;
        report.append(ReportList::InvalidRows, invalid.0, invalid.1)?;
        report.append(ReportList::Warnings, warnings.0, warnings.1)?;
        report.append(ReportList::ExcludedProducts, excluded.0, excluded.1)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("product index: {what}"))
}

fn write_segment(out: &mut impl Write, s: &SegmentRef) -> io::Result<()> {
    out.write_all(&s.len.to_le_bytes())?;
    out.write_all(&s.raw_len.to_le_bytes())?;
    out.write_all(&s.raw_crc.to_le_bytes())?;
    out.write_all(&s.crc.to_le_bytes())
}

/// Writes an index, record by record.
pub struct IndexWriter<W: Write> {
    out: W,
    records: u64,
    rows: u64,
    record: Vec<u8>,
}

impl<W: Write> IndexWriter<W> {
    /// Writes the header.
    ///
    /// # Errors
    /// Writing.
    pub fn new(mut out: W, fingerprint: &[u8; 32], opening: &[SegmentRef; 4]) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&INDEX_VERSION.to_le_bytes())?;
        out.write_all(fingerprint)?;
        for s in opening {
            write_segment(&mut out, s)?;
        }
        Ok(IndexWriter {
            out,
            records: 0,
            rows: 0,
            record: Vec::with_capacity(256),
        })
    }

    /// Appends the record of an encoded product.
    ///
    /// # Errors
    /// Writing, or an id longer than 64 KiB.
    pub fn write_record(
        &mut self,
        id: &str,
        source: &SourceHash,
        segments: &[SegmentRef; 4],
        rows: u32,
        fragment: &ReportFragment,
    ) -> io::Result<()> {
        let r = &mut self.record;
        r.clear();
        r.push(1);
        let len =
            u16::try_from(id.len()).map_err(|_| invalid("a product id longer than 64 KiB"))?;
        r.extend_from_slice(&len.to_le_bytes());
        r.extend_from_slice(id.as_bytes());
        r.extend_from_slice(source);
        for s in segments {
            write_segment(r, s)?;
        }
        r.extend_from_slice(&rows.to_le_bytes());
        let at = r.len();
        r.extend_from_slice(&[0; 4]);
        if !fragment.is_empty() {
            for list in fragment.lists() {
                let items = u32::try_from(list.len()).map_err(|_| invalid("oversized fragment"))?;
                let len =
                    u32::try_from(list.json().len()).map_err(|_| invalid("oversized fragment"))?;
                r.extend_from_slice(&items.to_le_bytes());
                r.extend_from_slice(&len.to_le_bytes());
                r.extend_from_slice(list.json());
            }
            let len = u32::try_from(r.len() - at - 4).map_err(|_| invalid("oversized fragment"))?;
            r[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
        self.out.write_all(&self.record)?;
        self.records += 1;
        self.rows += u64::from(rows);
        Ok(())
    }

    /// Appends a record read from another index, unchanged.
    ///
    /// # Errors
    /// Writing.
    pub fn copy_record(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.out.write_all(record.raw)?;
        self.records += 1;
        self.rows += u64::from(record.rows);
        Ok(())
    }

    /// Writes the end marker and returns the writer.
    ///
    /// # Errors
    /// Writing.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0])?;
        self.out.write_all(&self.records.to_le_bytes())?;
        self.out.write_all(&self.rows.to_le_bytes())?;
        Ok(self.out)
    }
}

/// One record of an index read back, borrowing from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub id: &'a str,
    pub source: &'a SourceHash,
    /// Segments without offsets (a reader tracks them).
    pub segments: [SegmentRef; 4],
    pub rows: u32,
    pub fragment: FragmentView<'a>,
    /// The whole record, for copying.
    raw: &'a [u8],
}

/// Reads a whole index held in memory.
pub struct IndexReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    records: u64,
    rows: u64,
    done: bool,
}

/// The header of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHeader {
    pub fingerprint: [u8; 32],
    /// The segments that open each artifact (offsets are meaningless).
    pub opening: [SegmentRef; 4],
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let out = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or_else(|| invalid("truncated"))?;
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| invalid("truncated"))?,
        ))
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| invalid("truncated"))?,
        ))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| invalid("truncated"))?,
        ))
    }

    fn segment(&mut self) -> io::Result<SegmentRef> {
        Ok(SegmentRef {
            offset: 0,
            len: self.u32()?,
            raw_len: self.u32()?,
            raw_crc: self.u32()?,
            crc: self.u32()?,
        })
    }

    fn segments(&mut self) -> io::Result<[SegmentRef; 4]> {
        Ok([
            self.segment()?,
            self.segment()?,
            self.segment()?,
            self.segment()?,
        ])
    }
}

impl<'a> IndexReader<'a> {
    /// Reads the header; `Ok(None)` when `bytes` is not an index of this
    /// version.
    ///
    /// # Errors
    /// A truncated header.
    pub fn open(bytes: &'a [u8]) -> io::Result<Option<(Self, IndexHeader)>> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC || bytes[8..12] != INDEX_VERSION.to_le_bytes() {
            return Ok(None);
        }
        let mut c = Cursor { bytes, pos: 12 };
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(c.take(32)?);
        let opening = c.segments()?;
        Ok(Some((
            IndexReader {
                bytes,
                pos: c.pos,
                records: 0,
                rows: 0,
                done: false,
            },
            IndexHeader {
                fingerprint,
                opening,
            },
        )))
    }

    fn next_record(&mut self) -> io::Result<Option<Record<'a>>> {
        let start = self.pos;
        let mut c = Cursor {
            bytes: self.bytes,
            pos: start,
        };
        match c.u8()? {
            1 => {}
            0 => {
                if c.u64()? != self.records || c.u64()? != self.rows {
                    return Err(invalid("the record counts do not match"));
                }
                if c.pos != self.bytes.len() {
                    return Err(invalid("bytes after the end marker"));
                }
                return Ok(None);
            }
            _ => return Err(invalid("an unknown record tag")),
        }
        let len = usize::from(c.u16()?);
        let id = std::str::from_utf8(c.take(len)?).map_err(|_| invalid("an id is not UTF-8"))?;
        let source: &SourceHash = c.take(32)?.try_into().map_err(|_| invalid("truncated"))?;
        let segments = c.segments()?;
        let rows = c.u32()?;
        let frag_len = c.u32()? as usize;
        let mut fragment = FragmentView::default();
        if frag_len > 0 {
            let end = c.pos + frag_len;
            for list in &mut fragment.lists {
                let items = u64::from(c.u32()?);
                let len = c.u32()? as usize;
                *list = (items, c.take(len)?);
            }
            if c.pos != end {
                return Err(invalid("a malformed report fragment"));
            }
        }
        self.pos = c.pos;
        self.records += 1;
        self.rows += u64::from(rows);
        Ok(Some(Record {
            id,
            source,
            segments,
            rows,
            fragment,
            raw: &self.bytes[start..c.pos],
        }))
    }
}

impl<'a> Iterator for IndexReader<'a> {
    type Item = io::Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::test_products::options;
    use crate::store::{ExcludedProduct, InvalidRow};

    fn seg(n: u32) -> SegmentRef {
        SegmentRef {
            offset: 0,
            len: n,
            raw_len: n * 10,
            raw_crc: n ^ 0xdead_beef,
            crc: n.rotate_left(7),
        }
    }

    #[test]
    fn the_index_round_trips_copies_records_and_refuses_truncation() {
        let mut fragment = ReportFragment::default();
        fragment
            .invalid_rows
            .push(&InvalidRow {
                item_id: "v1".into(),
                product_id: "p1".into(),
                title: "Tee".into(),
                issues: vec!["image_url: required".into()],
            })
            .unwrap();
        fragment
            .excluded_products
            .push(&ExcludedProduct {
                product_id: "p3".into(),
                title: "Draft".into(),
                reason: "draft".into(),
            })
            .unwrap();
        let fp = [42u8; 32];
        let opening = [seg(0), seg(5), seg(5), seg(0)];
        let mut w = IndexWriter::new(Vec::new(), &fp, &opening).unwrap();
        w.write_record(
            "p1",
            &crate::store::product_digest(b"one"),
            &[seg(1), seg(2), seg(3), seg(4)],
            3,
            &fragment,
        )
        .unwrap();
        w.write_record(
            "p2",
            &crate::store::product_digest(b"two"),
            &[seg(0); 4],
            0,
            &ReportFragment::default(),
        )
        .unwrap();
        let bytes = w.finish().unwrap();

        let (reader, header) = IndexReader::open(&bytes).unwrap().unwrap();
        assert_eq!(
            header,
            IndexHeader {
                fingerprint: fp,
                opening
            }
        );
        let records: Vec<Record<'_>> = reader.collect::<io::Result<_>>().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].id, "p1");
        assert_eq!(records[0].source, &crate::store::product_digest(b"one"));
        assert_eq!(records[0].segments[2], seg(3));
        assert_eq!(records[0].rows, 3);
        assert!(records[1].fragment.is_empty());

        // The fragments rebuild the report they came from.
        let mut from_index = crate::store::ReportJson::default();
        records[0].fragment.add_to(&mut from_index).unwrap();
        let mut direct = crate::store::ReportJson::default();
        fragment.add_to(&mut direct).unwrap();
        assert_eq!(from_index, direct);
        assert_eq!(from_index.invalid_rows.len(), 1);
        assert_eq!(from_index.excluded_products.len(), 1);

        // Copying records gives the same index.
        let mut copy = IndexWriter::new(Vec::new(), &fp, &opening).unwrap();
        for r in &records {
            copy.copy_record(r).unwrap();
        }
        assert_eq!(copy.finish().unwrap(), bytes);

        for cut in [1, 9, 17, 40] {
            let (reader, _) = IndexReader::open(&bytes[..bytes.len() - cut])
                .unwrap()
                .unwrap();
            assert!(reader.collect::<io::Result<Vec<_>>>().is_err(), "cut {cut}");
        }
        assert!(IndexReader::open(b"not an index at all").unwrap().is_none());
        assert!(IndexReader::open(b"").unwrap().is_none());
    }

    #[test]
    fn the_fingerprint_follows_options_and_filter() {
        let opts = options();
        let filter = FeedFilter::default();
        assert_eq!(
            fingerprint(&opts, &filter),
            fingerprint(&opts.clone(), &filter)
        );
        let mut other = opts.clone();
        other
            .url_params
            .push(("utm_source".into(), "chatgpt".into()));
        assert_ne!(fingerprint(&opts, &filter), fingerprint(&other, &filter));
        let excluding = FeedFilter {
            exclude_tags: vec!["sale".into()],
            ..FeedFilter::default()
        };
        assert_ne!(fingerprint(&opts, &filter), fingerprint(&opts, &excluding));
    }
}
