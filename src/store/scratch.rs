//! Scratch areas: ordered byte maps for imports too large for memory.
//!
//! Values are appended to an anonymous temporary file (unlinked at creation,
//! so a crash leaves nothing behind) and only a compact index stays in
//! memory: the keys in one arena plus 24 bytes per entry. The index is sorted
//! lazily, on the first read after a write, so an import that writes
//! everything and then reads everything sorts once.
//!
//! Scratch data never goes through sled: bulk imports write hundreds of
//! megabytes once and read them once, and sled keeps a large share of what
//! it writes resident (see BENCHMARKS.md).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use super::StoreError;

/// One index entry; keys live in [`Index::keys`].
#[derive(Clone, Copy)]
struct Entry {
    key_at: u32,
    key_len: u32,
    value_at: u64,
    value_len: u32,
    /// Insertion order, so the last write of a key wins.
    seq: u32,
}

struct Index {
    keys: Vec<u8>,
    entries: Vec<Entry>,
    sorted: bool,
    /// Bytes appended to the file so far.
    end: u64,
    writer: BufWriter<File>,
}

impl Index {
    fn key(&self, e: &Entry) -> &[u8] {
        &self.keys[e.key_at as usize..(e.key_at + e.key_len) as usize]
    }

    /// Sorts by key and drops overwritten entries; flushes pending values so
    /// positional reads see them.
    fn settle(&mut self) -> Result<(), StoreError> {
        self.writer.flush().map_err(StoreError::Scratch)?;
        if self.sorted {
            return Ok(());
        }
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.key(a).cmp(self.key(b)).then(a.seq.cmp(&b.seq)));
        // Keep the last write of each key.
        let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
        for e in entries {
            match kept.last_mut() {
                Some(last) if self.key(last) == self.key(&e) => *last = e,
                _ => kept.push(e),
            }
        }
        self.entries = kept;
        self.sorted = true;
        Ok(())
    }

    /// Index of the first entry whose key is `>= probe`.
    fn lower_bound(&self, probe: &[u8]) -> usize {
        self.entries.partition_point(|e| self.key(e) < probe)
    }
}

/// An ordered key/value scratch area. Emptied when created; its file
/// disappears when the `Scratch` is dropped or [`Scratch::discard`]ed.
pub struct Scratch {
    index: Mutex<Index>,
    /// A second handle for positional reads (no shared cursor).
    reader: File,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Scratch(e)
}

impl Scratch {
    pub(super) fn create(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = tempfile::tempfile_in(dir).map_err(io)?;
        let reader = file.try_clone().map_err(io)?;
        Ok(Scratch {
            index: Mutex::new(Index {
                keys: Vec::new(),
                entries: Vec::new(),
                sorted: true,
                end: 0,
                writer: BufWriter::with_capacity(1 << 20, file),
            }),
            reader,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Inserts or overwrites `key`.
    ///
    /// # Errors
    /// File I/O, or an area over 4 GiB of keys.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut index = self.lock();
        let seq = u32::try_from(index.entries.len()).map_err(|_| too_big())?;
        let key_at = u32::try_from(index.keys.len()).map_err(|_| too_big())?;
        let key_len = u32::try_from(key.len()).map_err(|_| too_big())?;
        let value_len = u32::try_from(value.len()).map_err(|_| too_big())?;
        index.writer.write_all(value).map_err(io)?;
        let value_at = index.end;
        index.end += u64::from(value_len);
        index.keys.extend_from_slice(key);
        let entry = Entry {
            key_at,
            key_len,
            value_at,
            value_len,
            seq,
        };
        if index.sorted
            && let Some(last) = index.entries.last()
            && index.key(last) >= key
        {
            index.sorted = false;
        }
        index.entries.push(entry);
        Ok(())
    }

    /// Inserts many entries.
    ///
    /// # Errors
    /// As [`Scratch::insert`].
    pub fn insert_batch(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in entries {
            self.insert(k, v)?;
        }
        Ok(())
    }

    /// Settles the area and opens it for reading from several threads at
    /// once, with no lock per read. Writes wait until the view is dropped.
    ///
    /// # Errors
    /// File I/O (flushing pending writes).
    pub fn view(&self) -> Result<ScratchView<'_>, StoreError> {
        let mut index = self.lock();
        index.settle()?;
        Ok(ScratchView {
            index,
            reader: &self.reader,
        })
    }

    /// Drops the area and its file.
    ///
    /// # Errors
    /// Never in practice; kept for callers that discard explicitly.
    pub fn discard(self) -> Result<(), StoreError> {
        drop(self);
        Ok(())
    }
}

/// Reads whose gap in the file is at most this many bytes are merged into
/// one: reading a few unused bytes costs less than another system call.
const MERGE_GAP: u64 = 32 << 10;
/// A merged read never spans more than this many bytes.
const MAX_MERGED_READ: u64 = 4 << 20;

/// A settled [`Scratch`] open for reading (see [`Scratch::view`]). Entries
/// are addressed by their position in key order.
pub struct ScratchView<'a> {
    index: std::sync::MutexGuard<'a, Index>,
    reader: &'a File,
}

impl ScratchView<'_> {
    /// Positions of the entries whose keys start with `prefix`.
    pub fn prefix_range(&self, prefix: &[u8]) -> std::ops::Range<usize> {
        let start = self.index.lower_bound(prefix);
        let len =
            self.index.entries[start..].partition_point(|e| self.index.key(e).starts_with(prefix));
        start..start + len
    }

    /// The key at `position`.
    ///
    /// # Panics
    /// When `position` is not below the number of entries.
    pub fn key(&self, position: usize) -> &[u8] {
        self.index.key(&self.index.entries[position])
    }

    /// Reads the values at `positions` into `buf` (cleared first) and
    /// returns where each one lies in it, in the order of `positions`.
    /// Values that lie close together in the file are read with one system
    /// call, so reading the lines of neighbouring products together costs a
    /// few reads instead of one per line.
    ///
    /// # Errors
    /// File I/O.
    ///
    /// # Panics
    /// When a position is not below the number of entries.
    pub fn read_values(
        &self,
        positions: &[usize],
        buf: &mut Vec<u8>,
    ) -> Result<Vec<std::ops::Range<usize>>, StoreError> {
        buf.clear();
        let mut order: Vec<(u64, u32, usize)> = positions
            .iter()
            .enumerate()
            .map(|(slot, &at)| {
                let e = &self.index.entries[at];
                (e.value_at, e.value_len, slot)
            })
            .collect();
        order.sort_unstable();
        let mut ranges = vec![0..0; positions.len()];
        let mut run = 0;
        while run < order.len() {
            let start = order[run].0;
            let mut end = start + u64::from(order[run].1);
            let mut next = run + 1;
            while let Some(&(at, len, _)) = order.get(next) {
                let item_end = at + u64::from(len);
                if at > end + MERGE_GAP || item_end.max(end) - start > MAX_MERGED_READ {
                    break;
                }
                end = end.max(item_end);
                next += 1;
            }
            let offset = buf.len();
            let span = usize::try_from(end - start).map_err(|_| too_big())?;
            buf.resize(offset + span, 0);
            self.reader
                .read_exact_at(&mut buf[offset..], start)
                .map_err(io)?;
            for &(at, len, slot) in &order[run..next] {
                // `at - start` is below the span, which fits in usize.
                let from = offset + (at - start) as usize;
                ranges[slot] = from..from + len as usize;
            }
            run = next;
        }
        Ok(ranges)
    }
}

fn too_big() -> StoreError {
    StoreError::Scratch(std::io::Error::other(
        "scratch area exceeds 4 GiB of keys or 2^32 entries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> (tempfile::TempDir, Scratch) {
        let dir = tempfile::tempdir().unwrap();
        let s = Scratch::create(dir.path()).unwrap();
        (dir, s)
    }

    /// The keys and values under `prefix`, in key order, through a view.
    fn scan(s: &Scratch, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let view = s.view().unwrap();
        let positions: Vec<usize> = view.prefix_range(prefix).collect();
        let mut buf = Vec::new();
        let ranges = view.read_values(&positions, &mut buf).unwrap();
        positions
            .iter()
            .zip(ranges)
            .map(|(&at, range)| (view.key(at).to_vec(), buf[range].to_vec()))
            .collect()
    }

    #[test]
    fn scans_return_prefix_matches_in_key_order_with_last_write_winning() {
        let (_dir, s) = scratch();
        s.insert(b"c/p/2/v/9", b"v9").unwrap();
        s.insert(b"p/2", b"old").unwrap();
        s.insert(b"p/10", b"ten").unwrap();
        s.insert(b"c/p/2/v/3", b"v3").unwrap();
        s.insert(b"p/2", b"new").unwrap();
        let pair = |k: &[u8], v: &[u8]| (k.to_vec(), v.to_vec());
        assert_eq!(
            scan(&s, b"p/"),
            vec![pair(b"p/10", b"ten"), pair(b"p/2", b"new")]
        );
        assert_eq!(
            scan(&s, b"c/p/2/"),
            vec![pair(b"c/p/2/v/3", b"v3"), pair(b"c/p/2/v/9", b"v9")]
        );
        assert!(scan(&s, b"x").is_empty());
        assert_eq!(s.view().unwrap().prefix_range(b"").len(), 4);
    }

    #[test]
    fn prefix_ranges_count_each_key_once() {
        let (_dir, s) = scratch();
        for key in [
            "c/p/1/v/1",
            "c/p/1/v/2",
            "c/v/1/m/1",
            "p/1",
            "p/2",
            "c/p/1/v/1",
        ] {
            s.insert(key.as_bytes(), b"x").unwrap();
        }
        let view = s.view().unwrap();
        for (prefix, count) in [("c/", 3), ("c/p/", 2), ("p/", 2), ("q/", 0), ("", 5)] {
            assert_eq!(
                view.prefix_range(prefix.as_bytes()).len(),
                count,
                "{prefix}"
            );
        }
    }

    #[test]
    fn lookups_within_a_view_and_writes_after_it_are_seen() {
        let (_dir, s) = scratch();
        for i in 0..100u32 {
            s.insert(format!("p/{i:03}").as_bytes(), &i.to_le_bytes())
                .unwrap();
            s.insert(format!("c/{i:03}/a").as_bytes(), b"child")
                .unwrap();
        }
        let view = s.view().unwrap();
        let mut children = 0;
        for root in view.prefix_range(b"p/") {
            let mut prefix = b"c/".to_vec();
            prefix.extend_from_slice(&view.key(root)[2..]);
            children += view.prefix_range(&prefix).len();
        }
        assert_eq!(children, 100);
        drop(view);
        let value = |key: &[u8]| {
            scan(&s, key)
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        assert_eq!(value(b"p/042"), Some(42u32.to_le_bytes().to_vec()));
        s.insert(b"p/042", b"again").unwrap();
        assert_eq!(value(b"p/042"), Some(b"again".to_vec()));
        assert_eq!(value(b"p/999"), None);
    }

    #[test]
    fn views_read_any_set_of_values_near_or_far_apart() {
        let (_dir, s) = scratch();
        // Small values next to each other, and large ones that push later
        // values past the merge gap and past the largest merged read.
        let value = |i: usize| -> Vec<u8> {
            let len = match i % 7 {
                0 => 40 << 10,
                3 => 3 << 20,
                _ => 10 + i % 50,
            };
            (0..len).map(|b| (b + i) as u8).collect()
        };
        for i in 0..60 {
            s.insert(format!("k/{i:03}").as_bytes(), &value(i)).unwrap();
        }
        let view = s.view().unwrap();
        assert_eq!(view.prefix_range(b"k/"), 0..60);
        assert_eq!(view.prefix_range(b"k/05"), 50..60);
        assert_eq!(view.prefix_range(b"x"), 60..60);
        assert_eq!(view.key(42), b"k/042");
        let mut buf = Vec::new();
        for positions in [
            vec![],
            vec![5],
            vec![59, 1, 2, 30, 2],
            (0..60).rev().collect::<Vec<_>>(),
        ] {
            let ranges = view.read_values(&positions, &mut buf).unwrap();
            assert_eq!(ranges.len(), positions.len());
            for (at, range) in positions.iter().zip(ranges) {
                assert_eq!(&buf[range], value(*at).as_slice(), "position {at}");
            }
        }
    }

    #[test]
    fn the_file_leaves_no_trace_in_the_directory() {
        let (dir, s) = scratch();
        s.insert(b"k", b"v").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        s.discard().unwrap();
    }
}
