//! Deflate segments and the gzip files spliced from them.
//!
//! A feed artifact is one gzip member whose deflate stream is a sequence of
//! *segments*, one per product (plus one for a CSV/TSV header). Each segment
//! is one fixed-Huffman block followed by a sync flush (an empty stored
//! block), so it starts and ends on a byte boundary and carries no final
//! block. Its back-references reach no further back than its *context*: the
//! tail ([`CONTEXT_BYTES`]) of the nearest non-empty text among the
//! [`CONTEXT_SEARCH`] texts before it (a product without valid rows has
//! empty texts), or of the header when the search reaches the start. A
//! segment stays valid in any file where it has the same context, so a
//! rebuild can copy the segments of unchanged products byte for byte and
//! re-encode only changed products and the products whose context they are.
//!
//! The file is closed by an empty final block and a trailer whose CRC-32 is
//! combined from the segments' own CRCs ([`crc32_combine`]), so copied text
//! is never decompressed.
//!
//! Why one member and not one member per block (RFC 1952 allows several):
//! readers that stop after the first member (a plain `GzDecoder`, some HTTP
//! clients' `Content-Encoding: gzip` handling) would silently see a
//! truncated feed. A single member reads the same everywhere.
//!
//! Why an encoder of our own: confining references to the previous product
//! with a general-purpose compressor means resetting it per segment, and a
//! reset clears a 128 KiB hash table (measured: 3.5× slower than streaming).
//! [`SegmentEncoder`] is greedy LZ77 with one hash probe and the fixed
//! Huffman code, like zlib's level 1 "quick" strategy; stale hash entries
//! are ignored by position instead of cleared. The same product after the
//! same predecessor always encodes to the same bytes, whether the encoder
//! came from the predecessor or was primed with its text, so a rebuild
//! writes exactly the file a build from scratch writes.
//!
//! This module owns no files: [`SplicedGzip`] writes to any `Write` and
//! copies from any `Read + Seek` (the previous generation's artifact).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::LazyLock;

use flate2::Crc;

/// The gzip member header every artifact starts with: deflate, no flags, no
/// modification time, "fastest" extra flag, unknown OS (as `flate2` writes
/// it at level 1), so output is reproducible.
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// An empty fixed-Huffman deflate block with BFINAL set: ends the stream.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// How much of the previous text a segment may refer to.
pub const CONTEXT_BYTES: usize = 8 * 1024;

/// How many texts back the context of a segment is looked for: after this
/// many empty texts in a row, a segment has no context.
pub const CONTEXT_SEARCH: usize = 16;

/// Deflate's window: no back-reference is longer.
const WINDOW: usize = 32 * 1024;

/// Copies from the previous file are read in runs of at most this size.
const COPY_RUN_BYTES: u64 = 1024 * 1024;

/// Where a segment sits in an artifact, and what it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentRef {
    /// Byte offset of the segment in the artifact file.
    pub offset: u64,
    /// Compressed length; 0 for a product with nothing in this format.
    pub len: u32,
    /// Uncompressed length.
    pub raw_len: u32,
    /// CRC-32 of the uncompressed bytes (combined into the trailer).
    pub raw_crc: u32,
    /// CRC-32 of the compressed bytes (checked when the segment is copied).
    pub crc: u32,
}

/// A freshly compressed segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub deflate: Vec<u8>,
    pub raw_len: u32,
    pub raw_crc: u32,
}

/// CRC-32 (the gzip one) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(bytes);
    crc.sum()
}

// ---------------------------------------------------------------------------
// The encoder.

const HASH_BITS: u32 = 15;
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 258;

/// Fixed Huffman code of every literal/length symbol: (bit-reversed code,
/// length), ready to be written LSB first.
const LIT_CODES: [(u16, u8); 288] = {
    let mut t = [(0u16, 0u8); 288];
    let mut sym = 0;
    while sym < 288 {
        let (code, len) = if sym < 144 {
            (0x30 + sym, 8)
        } else if sym < 256 {
            (0x190 + sym - 144, 9)
        } else if sym < 280 {
            (sym - 256, 7)
        } else {
            (0xc0 + sym - 280, 8)
        };
        t[sym] = (reverse(code as u16, len), len as u8);
        sym += 1;
    }
    t
};

const fn reverse(code: u16, len: u32) -> u16 {
    let mut out = 0u16;
    let mut i = 0;
    while i < len {
        out = (out << 1) | ((code >> i) & 1);
        i += 1;
    }
    out
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// For each match length 3..=258: the bits of its length symbol's code and
/// extra bits combined (value, bit count).
const LEN_BITS: [(u32, u8); 259] = {
    let mut t = [(0u32, 0u8); 259];
    let mut code = 0;
    while code < 29 {
        let base = LEN_BASE[code] as usize;
        let extra = LEN_EXTRA[code];
        let count = if code == 28 { 1 } else { 1 << extra };
        let mut i = 0;
        while i < count {
            let (huff, hlen) = LIT_CODES[257 + code];
            let value = huff as u32 | ((i as u32) << hlen);
            t[base + i] = (value, hlen + extra);
            i += 1;
        }
        code += 1;
    }
    t
};

/// Distance code of `d - 1` for distances up to 256, then of
/// `256 + ((d - 1) >> 7)` (zlib's `dist_code` layout).
const DIST_CODE: [u8; 512] = {
    let mut t = [0u8; 512];
    let mut code = 0;
    while code < 30 {
        let base = DIST_BASE[code] as usize;
        let count = 1usize << DIST_EXTRA[code];
        let mut d = base;
        while d < base + count {
            let i = if d <= 256 {
                d - 1
            } else {
                256 + ((d - 1) >> 7)
            };
            t[i] = code as u8;
            d += 1;
        }
        code += 1;
    }
    t
};

/// Writes bits LSB first.
struct BitWriter {
    acc: u64,
    bits: u32,
}

impl BitWriter {
    #[inline]
    fn put(&mut self, out: &mut Vec<u8>, value: u32, count: u8) {
        self.acc |= u64::from(value) << self.bits;
        self.bits += u32::from(count);
        if self.bits >= 32 {
            out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Pads to a byte boundary and writes out everything.
    fn align(&mut self, out: &mut Vec<u8>) {
        while self.bits > 0 {
            out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits = self.bits.saturating_sub(8);
        }
        self.acc = 0;
    }
}

/// The 4 bytes at `at` (callers keep `at + 4 <= buf.len()`).
#[inline]
fn word_at(buf: &[u8], at: usize) -> u32 {
    let b = &buf[at..at + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn read4(buf: &[u8], at: usize) -> Option<u32> {
    (at + 4 <= buf.len()).then(|| word_at(buf, at))
}

const TABLE_SIZE: usize = 1 << HASH_BITS;

#[inline]
fn hash4(word: u32) -> usize {
    (word.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize & (TABLE_SIZE - 1)
}

/// Length of the common prefix of `buf[a..]` and `buf[b..]`, at most `max`
/// (callers keep `a < b` and `b + max <= buf.len()`).
fn common_prefix(buf: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = &buf[a + n..a + n + 8];
        let y = &buf[b + n..b + n + 8];
        let diff = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]])
            ^ u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && buf[a + n] == buf[b + n] {
        n += 1;
    }
    n
}

/// Bit-reversed 5-bit distance codes.
const DIST_REV: [u8; 30] = {
    let mut t = [0u8; 30];
    let mut code = 0;
    while code < 30 {
        t[code] = reverse(code as u16, 5) as u8;
        code += 1;
    }
    t
};

/// Compresses one format's texts, product after product, into segments
/// that refer back only into the previous product's text (see the module
/// docs).
pub struct SegmentEncoder {
    /// Most recent position (plus `base`) of each 4-byte hash. Entries below
    /// `base` are stale and ignored.
    table: Box<[u32; TABLE_SIZE]>,
    /// Between segments: the context for the next one (the tail of the
    /// previous text). While encoding: the context, then the text.
    buf: Vec<u8>,
    /// Table value of `buf[0]`.
    base: u32,
    /// Empty texts since the context's text.
    empties: usize,
}

impl Default for SegmentEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentEncoder {
    pub fn new() -> Self {
        SegmentEncoder {
            table: Box::new([0; TABLE_SIZE]),
            buf: Vec::new(),
            base: 1,
            empties: 0,
        }
    }

    /// Starts over after `previous` followed by `empties` empty texts: the
    /// next segment's context is then the tail of `previous` (the nearest
    /// non-empty text before it, or the CSV header), or nothing after
    /// [`CONTEXT_SEARCH`] empty texts.
    pub fn prime(&mut self, previous: &[u8], empties: usize) {
        self.drop_front(self.buf.len());
        self.empties = empties;
        if empties >= CONTEXT_SEARCH {
            return;
        }
        let tail = &previous[previous.len().saturating_sub(CONTEXT_BYTES)..];
        self.buf.extend_from_slice(tail);
        self.make_room();
        // Exactly the positions encoding `previous` would have left.
        self.index(0, self.buf.len());
    }

    /// Drops `n` bytes from the front of `buf`; their table entries become
    /// stale.
    fn drop_front(&mut self, n: usize) {
        self.buf.drain(..n);
        self.base = self
            .base
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Makes sure every position of `buf` has a table value; when they
    /// would overflow, clears the table and indexes `buf[..context]` again
    /// (giving the same table as before, as far as lookups can tell).
    fn make_room(&mut self) {
        if u64::from(self.base) + self.buf.len() as u64 >= u64::from(u32::MAX) {
            self.table.fill(0);
            self.base = 1;
        }
    }

    /// Hashes every position in `from..to` whose 4 bytes lie in `buf`.
    fn index(&mut self, from: usize, to: usize) {
        for i in from..to {
            let Some(word) = read4(&self.buf, i) else {
                break;
            };
            self.table[hash4(word)] = self.base + i as u32;
        }
    }

    /// Encodes `text` as the next segment, after the previous one (or after
    /// what [`Self::prime`] was given). Empty text gives an empty segment
    /// and leaves the context as it is, up to [`CONTEXT_SEARCH`] in a row.
    pub fn encode(&mut self, text: &[u8]) -> Segment {
        if text.is_empty() {
            self.empties += 1;
            if self.empties >= CONTEXT_SEARCH {
                self.drop_front(self.buf.len());
            }
            return Segment::default();
        }
        self.empties = 0;
        let context = self.buf.len();
        self.buf.extend_from_slice(text);
        if u64::from(self.base) + self.buf.len() as u64 >= u64::from(u32::MAX) {
            self.make_room();
            self.index(0, context.saturating_sub(3));
        }
        let deflate = self.compress(context);
        // The tail of this text is the next segment's context.
        let keep_from = context.max(self.buf.len().saturating_sub(CONTEXT_BYTES));
        self.drop_front(keep_from);
        Segment {
            deflate,
            raw_len: u32::try_from(text.len()).unwrap_or(u32::MAX),
            raw_crc: crc32(text),
        }
    }

    /// Compresses `buf[start..]` with `buf[..start]` as history.
    fn compress(&mut self, start: usize) -> Vec<u8> {
        let buf = &self.buf[..];
        let table = &mut self.table[..];
        let base = self.base;
        let end = buf.len();
        // Positions before `limit` have 4 bytes to hash.
        let limit = end.saturating_sub(3);
        let mut out = Vec::with_capacity((end - start) / 2 + 64);
        let mut bits = BitWriter { acc: 0, bits: 0 };
        // Block header: BFINAL = 0, BTYPE = 01 (fixed Huffman).
        bits.put(&mut out, 0b010, 3);
        let mut i = start;
        while i < limit {
            let word = word_at(buf, i);
            let h = hash4(word);
            let candidate = table[h];
            table[h] = base + i as u32;
            // Entries below `base` are stale (from before the context).
            if candidate >= base {
                let at = (candidate - base) as usize;
                let dist = i - at;
                if dist <= WINDOW && word_at(buf, at) == word {
                    let max = (end - i).min(MAX_MATCH);
                    let len = MIN_MATCH
                        + common_prefix(buf, at + MIN_MATCH, i + MIN_MATCH, max - MIN_MATCH);
                    let (value, count) = LEN_BITS[len];
                    bits.put(&mut out, value, count);
                    let d = dist - 1;
                    let code = usize::from(if d < 256 {
                        DIST_CODE[d]
                    } else {
                        DIST_CODE[256 + (d >> 7)]
                    });
                    let value = u32::from(DIST_REV[code])
                        | ((d as u32 + 1 - u32::from(DIST_BASE[code])) << 5);
                    bits.put(&mut out, value, 5 + DIST_EXTRA[code]);
                    // Every position is indexed, matched or not, so the table
                    // after a text depends on the text alone.
                    for j in i + 1..(i + len).min(limit) {
                        table[hash4(word_at(buf, j))] = base + j as u32;
                    }
                    i += len;
                    continue;
                }
            }
            let (code, len) = LIT_CODES[usize::from(buf[i])];
            bits.put(&mut out, u32::from(code), len);
            i += 1;
        }
        // Fewer than 4 bytes left: literals.
        while i < end {
            let (code, len) = LIT_CODES[usize::from(buf[i])];
            bits.put(&mut out, u32::from(code), len);
            i += 1;
        }
        // End of block (symbol 256, 7 zero bits), then an empty stored block
        // (BFINAL = 0, BTYPE = 00), padded, LEN = 0, NLEN = 0xffff.
        bits.put(&mut out, 0, 7 + 3);
        bits.align(&mut out);
        out.extend_from_slice(&[0, 0, 0xff, 0xff]);
        out
    }
}

// ---------------------------------------------------------------------------
// CRC-32 combination.

/// `x^(2^k) mod P(x)` for k = 0..64, the CRC-32 polynomial reflected.
const X2N: [u32; 64] = {
    let mut table = [0u32; 64];
    let mut p: u32 = 1 << 30; // x^1
    table[0] = p;
    let mut n = 1;
    while n < 64 {
        p = multmodp(p, p);
        table[n] = p;
        n += 1;
    }
    table
};

/// `a * b mod P(x)` over GF(2), bit-reflected (zlib's `multmodp`).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    const POLY: u32 = 0xedb8_8320;
    let mut m: u32 = 1 << 31;
    let mut p: u32 = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// Multiplication by `X2N[k]`, a byte at a time: `SHIFT[k][j][v]` is
/// `X2N[k] * (v << 8j)`. Built once (64 × 1024 products, about 2 ms).
static SHIFT: LazyLock<Vec<[[u32; 256]; 4]>> = LazyLock::new(|| {
    X2N.iter()
        .map(|&a| {
            let mut t = [[0u32; 256]; 4];
            for (j, row) in t.iter_mut().enumerate() {
                for (v, cell) in row.iter_mut().enumerate() {
                    *cell = multmodp(a, (v as u32) << (8 * j));
                }
            }
            t
        })
        .collect()
});

/// The CRC-32 of `A ++ B` from the CRC of `A`, the CRC of `B` and the length
/// of `B` (as zlib's `crc32_combine`).
pub fn crc32_combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    // crc_a * x^(8 len_b): one table multiplication per set bit of len_b.
    let shift = &*SHIFT;
    let mut p = crc_a;
    let mut n = len_b;
    let mut k = 3;
    while n != 0 && k < shift.len() {
        if n & 1 != 0 {
            let t = &shift[k];
            p = t[0][(p & 0xff) as usize]
                ^ t[1][((p >> 8) & 0xff) as usize]
                ^ t[2][((p >> 16) & 0xff) as usize]
                ^ t[3][(p >> 24) as usize];
        }
        n >>= 1;
        k += 1;
    }
    p ^ crc_b
}

// ---------------------------------------------------------------------------
// Splicing.

/// Why splicing failed: writing the new file, or reading (or verifying) a
/// segment of the previous one.
#[derive(Debug)]
pub enum SpliceError {
    Write(io::Error),
    Source(io::Error),
}

/// Copies not yet read from the source: a contiguous byte range holding
/// whole segments, with each segment's length and CRC for verification.
struct PendingCopy {
    start: u64,
    end: u64,
    checks: Vec<(u32, u32)>,
}

/// Writes one gzip file from fresh and copied segments, in order.
///
/// Copies are deferred and coalesced into runs of adjacent source bytes, so
/// a long stretch of unchanged products costs one read.
pub struct SplicedGzip<W: Write, R: Read + Seek> {
    out: W,
    /// Bytes written to `out` so far.
    written: u64,
    /// CRC and length of the uncompressed content appended so far.
    crc: u32,
    raw_len: u64,
    source: Option<R>,
    /// Read position of `source`, to skip redundant seeks.
    source_pos: Option<u64>,
    pending: Option<PendingCopy>,
    buf: Vec<u8>,
}

impl<W: Write, R: Read + Seek> SplicedGzip<W, R> {
    /// Starts a file (writes the gzip header); `source` is the file copied
    /// segments come from.
    ///
    /// # Errors
    /// Writing the header.
    pub fn new(mut out: W, source: Option<R>) -> io::Result<Self> {
        out.write_all(&GZIP_HEADER)?;
        Ok(SplicedGzip {
            out,
            written: GZIP_HEADER.len() as u64,
            crc: 0,
            raw_len: 0,
            source,
            source_pos: None,
            pending: None,
            buf: Vec::new(),
        })
    }

    /// Offset the next segment will have in the file.
    fn next_offset(&self) -> u64 {
        self.written + self.pending.as_ref().map_or(0, |p| p.end - p.start)
    }

    fn account(&mut self, raw_crc: u32, raw_len: u32) {
        if raw_len > 0 {
            self.crc = crc32_combine(self.crc, raw_crc, u64::from(raw_len));
            self.raw_len += u64::from(raw_len);
        }
    }

    /// Appends a freshly compressed segment and returns where it went.
    ///
    /// # Errors
    /// Writing, or a deferred copy failing.
    pub fn append(&mut self, segment: &Segment) -> Result<SegmentRef, SpliceError> {
        if segment.deflate.is_empty() {
            return Ok(SegmentRef {
                offset: self.next_offset(),
                ..SegmentRef::default()
            });
        }
        self.flush_copies()?;
        let len = u32::try_from(segment.deflate.len())
            .map_err(|e| SpliceError::Write(io::Error::other(e)))?;
        let placed = SegmentRef {
            offset: self.written,
            len,
            raw_len: segment.raw_len,
            raw_crc: segment.raw_crc,
            crc: crc32(&segment.deflate),
        };
        self.out
            .write_all(&segment.deflate)
            .map_err(SpliceError::Write)?;
        self.written += u64::from(len);
        self.account(segment.raw_crc, segment.raw_len);
        Ok(placed)
    }

    /// Appends a segment copied from the source file (described by its
    /// place there) and returns its place in this file.
    ///
    /// # Errors
    /// No source file, or a deferred copy failing.
    pub fn copy(&mut self, from: &SegmentRef) -> Result<SegmentRef, SpliceError> {
        let placed = SegmentRef {
            offset: self.next_offset(),
            ..*from
        };
        if from.len == 0 {
            return Ok(placed);
        }
        if self.source.is_none() {
            return Err(SpliceError::Source(io::Error::other(
                "no previous file to copy from",
            )));
        }
        let end = from.offset + u64::from(from.len);
        match &mut self.pending {
            Some(p) if p.end == from.offset && end - p.start <= COPY_RUN_BYTES => {
                p.end = end;
                p.checks.push((from.len, from.crc));
            }
            _ => {
                self.flush_copies()?;
                self.pending = Some(PendingCopy {
                    start: from.offset,
                    end,
                    checks: vec![(from.len, from.crc)],
                });
            }
        }
        self.account(from.raw_crc, from.raw_len);
        Ok(placed)
    }

    /// Reads the pending run from the source, verifies every segment in it
    /// and writes it out.
    fn flush_copies(&mut self) -> Result<(), SpliceError> {
        let Some(run) = self.pending.take() else {
            return Ok(());
        };
        let Some(source) = self.source.as_mut() else {
            return Err(SpliceError::Source(io::Error::other(
                "no previous file to copy from",
            )));
        };
        let len = usize::try_from(run.end - run.start)
            .map_err(|e| SpliceError::Source(io::Error::other(e)))?;
        if self.source_pos != Some(run.start) {
            source
                .seek(SeekFrom::Start(run.start))
                .map_err(SpliceError::Source)?;
        }
        self.buf.resize(len, 0);
        let read = source.read_exact(&mut self.buf);
        self.source_pos = read.is_ok().then_some(run.end);
        read.map_err(SpliceError::Source)?;
        // One CRC over the whole run against the segments' recorded CRCs
        // combined: the same check as one per segment, without the setup
        // cost of hashing a few hundred bytes at a time.
        let expected = run.checks.iter().fold(0, |crc, &(seg_len, seg_crc)| {
            crc32_combine(crc, seg_crc, u64::from(seg_len))
        });
        if crc32(&self.buf) != expected {
            return Err(SpliceError::Source(io::Error::new(
                io::ErrorKind::InvalidData,
                "a copied segment does not match its recorded checksum",
            )));
        }
        self.out.write_all(&self.buf).map_err(SpliceError::Write)?;
        self.written += len as u64;
        Ok(())
    }

    /// Ends the deflate stream, writes the trailer and returns the writer
    /// with the file's total length.
    ///
    /// # Errors
    /// Writing, or a deferred copy failing.
    pub fn finish(mut self) -> Result<(W, u64), SpliceError> {
        self.flush_copies()?;
        let mut tail = [0u8; 10];
        tail[..2].copy_from_slice(&FINAL_BLOCK);
        tail[2..6].copy_from_slice(&self.crc.to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        tail[6..].copy_from_slice(&(self.raw_len as u32).to_le_bytes());
        self.out.write_all(&tail).map_err(SpliceError::Write)?;
        self.written += tail.len() as u64;
        Ok((self.out, self.written))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use flate2::read::{GzDecoder, MultiGzDecoder};

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        let mut multi = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut multi).unwrap();
        assert_eq!(out, multi);
        out
    }

    fn text(seed: u64, lines: usize) -> Vec<u8> {
        (0..lines)
            .map(|i| {
                format!(
                    "{{\"item_id\":\"{seed}-{i}\",\"title\":\"Thing {}\",\"seller\":\"NorthPeak\"}}\n",
                    i * 7 + seed as usize
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    /// Pseudo-random bytes (incompressible, every byte value).
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..len).map(|_| rng.u8(..)).collect()
    }

    type Splicer = SplicedGzip<Vec<u8>, Cursor<Vec<u8>>>;

    /// Encodes `parts` as consecutive segments of one file.
    fn file_of(parts: &[Vec<u8>]) -> (Vec<u8>, Vec<SegmentRef>) {
        let mut encoder = SegmentEncoder::new();
        let mut gz: Splicer = SplicedGzip::new(Vec::new(), None).unwrap();
        let places = parts
            .iter()
            .map(|p| gz.append(&encoder.encode(p)).unwrap())
            .collect();
        let (file, len) = gz.finish().unwrap();
        assert_eq!(len, file.len() as u64);
        (file, places)
    }

    #[test]
    fn crc32_combine_matches_the_crc_of_the_concatenation() {
        for (a, b) in [
            (text(1, 50), text(2, 3)),
            (noise(3, 100_000), noise(4, 70_001)),
            (Vec::new(), text(5, 1)),
        ] {
            let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
            assert_eq!(
                crc32_combine(crc32(&a), crc32(&b), b.len() as u64),
                crc32(&whole)
            );
        }
        assert_eq!(crc32_combine(crc32(b"abc"), 0, 0), crc32(b"abc"));
    }

    #[test]
    fn segments_of_all_kinds_of_text_read_back_as_one_gzip_member() {
        let repetitive = b"abcabcabcabcabc".repeat(4000);
        let long_runs = vec![b'x'; 70_000];
        let parts = vec![
            text(1, 200),
            Vec::new(),
            b"a".to_vec(),
            b"abc".to_vec(),
            noise(7, 5000),
            repetitive,
            long_runs,
            Vec::new(),
            text(1, 200),
            text(1, 200),
            noise(8, 40_000),
            text(2, 3),
        ];
        let (file, places) = file_of(&parts);
        assert_eq!(gunzip(&file), parts.concat());
        for (part, place) in parts.iter().zip(&places) {
            assert_eq!(place.raw_len as usize, part.len());
            assert_eq!(place.len == 0, part.is_empty());
        }
        // Repetitive text compresses well, and a text right after an equal
        // one mostly to back-references into it.
        assert!(places[5].len < 1000, "{:?}", places[5]);
        assert_eq!(
            places[8].len, places[0].len,
            "no context after an empty text"
        );
        assert!(places[9].len < places[8].len, "{places:?}");
    }

    #[test]
    fn a_primed_encoder_writes_the_same_segments_as_one_that_encoded_the_predecessor() {
        let mut parts: Vec<Vec<u8>> = vec![
            text(1, 40),
            text(2, 40),
            noise(3, 12_000),
            text(3, 300),
            text(4, 2),
            Vec::new(),
            text(5, 9),
            text(5, 10),
        ];
        // Enough empty texts in a row to lose the context, then more text.
        parts.extend(std::iter::repeat_n(Vec::new(), CONTEXT_SEARCH));
        parts.push(text(5, 11));
        parts.push(text(5, 12));
        let mut streaming = SegmentEncoder::new();
        let all: Vec<Segment> = parts.iter().map(|p| streaming.encode(p)).collect();
        for i in 1..parts.len() {
            // The nearest non-empty text before part i, and the empty ones
            // between.
            let Some(q) = (0..i).rev().find(|&q| !parts[q].is_empty()) else {
                continue;
            };
            let empties = i - q - 1;
            // A fresh encoder, and one that has seen unrelated text.
            for warm in [false, true] {
                let mut primed = SegmentEncoder::new();
                if warm {
                    primed.encode(&text(99, 500));
                }
                primed.prime(&parts[q], empties);
                assert_eq!(primed.encode(&parts[i]), all[i], "part {i} warm {warm}");
                if i + 1 < parts.len() {
                    assert_eq!(primed.encode(&parts[i + 1]), all[i + 1]);
                }
            }
        }
        // After CONTEXT_SEARCH empty texts there is no context.
        let last = parts.len() - 2;
        assert_eq!(all[last], SegmentEncoder::new().encode(&parts[last]));
    }

    #[test]
    fn segments_refer_only_to_the_previous_text() {
        // [a, b, c] and [z, b, c]: b follows another text and is encoded
        // again, c follows the same b and its segment is copied.
        let (a, b, c, z) = (text(1, 30), text(2, 30), text(1, 31), noise(5, 3000));
        let (first, places) = file_of(&[a, b.clone(), c.clone()]);
        let mut encoder = SegmentEncoder::new();
        let mut gz: Splicer = SplicedGzip::new(Vec::new(), Some(Cursor::new(first))).unwrap();
        gz.append(&encoder.encode(&z)).unwrap();
        gz.append(&encoder.encode(&b)).unwrap();
        gz.copy(&places[2]).unwrap();
        let (second, _) = gz.finish().unwrap();
        assert_eq!(gunzip(&second), [z, b, c].concat());
    }

    #[test]
    fn copied_and_fresh_segments_give_the_same_file_as_a_fresh_build() {
        let parts: Vec<Vec<u8>> = (0..6).map(|i| text(i, 40 + i as usize * 13)).collect();
        let (old_file, places) = file_of(&parts);

        // Part 2 changed: 2 and its successor 3 are encoded again (3 with
        // the new 2 as context), the rest is copied.
        let mut new_parts = parts.clone();
        new_parts[2] = text(99, 7);
        let (fresh, fresh_places) = file_of(&new_parts);
        let mut spliced: Splicer =
            SplicedGzip::new(Vec::new(), Some(Cursor::new(old_file))).unwrap();
        let mut encoder = SegmentEncoder::new();
        for (i, part) in new_parts.iter().enumerate() {
            let placed = if i == 2 || i == 3 {
                if i == 2 {
                    encoder.prime(&new_parts[1], 0);
                }
                spliced.append(&encoder.encode(part)).unwrap()
            } else {
                spliced.copy(&places[i]).unwrap()
            };
            assert_eq!(placed, fresh_places[i], "part {i}");
        }
        let (spliced, _) = spliced.finish().unwrap();
        assert_eq!(spliced, fresh);
        assert_eq!(gunzip(&spliced), new_parts.concat());
    }

    #[test]
    fn a_copied_segment_that_does_not_match_its_checksum_is_refused() {
        let parts: Vec<Vec<u8>> = (1..=4).map(|i| text(i, 30)).collect();
        let (intact, places) = file_of(&parts);
        // Adjacent segments are read and checked as one run: damage to any
        // one of them, first, inner or last, fails the copy.
        for damaged in 0..parts.len() {
            let mut old_file = intact.clone();
            old_file[places[damaged].offset as usize + 3] ^= 0x55;
            let mut new: Splicer =
                SplicedGzip::new(Vec::new(), Some(Cursor::new(old_file))).unwrap();
            for place in &places {
                new.copy(place).unwrap();
            }
            assert!(
                matches!(new.finish(), Err(SpliceError::Source(_))),
                "segment {damaged}"
            );
        }
        let mut new: Splicer = SplicedGzip::new(Vec::new(), Some(Cursor::new(intact))).unwrap();
        for place in &places {
            new.copy(place).unwrap();
        }
        assert_eq!(gunzip(&new.finish().unwrap().0), parts.concat());
    }

    #[test]
    fn an_empty_file_is_a_valid_empty_gzip() {
        let gz: Splicer = SplicedGzip::new(Vec::new(), None).unwrap();
        let (file, _) = gz.finish().unwrap();
        assert!(gunzip(&file).is_empty());
    }
}
