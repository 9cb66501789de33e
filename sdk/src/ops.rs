//! The operations supervision models are made of: counting by key, hash indexes and joins, date intervals.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::context::{Key, Prim, TextCol};
use crate::data::Dictionary;

/// A fast, non-cryptographic hasher (the Fx hash of rustc, with a murmur3 finalizer). Keys here are ids from the dataset,
/// not attacker-chosen against this process, and SipHash costs a lot in a group-by.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Fixed 8-byte reads only: a copy of a variable length (the tail) becomes a `memcpy` call
        // in a guest, which cost more than the rest of the hash. The tail of a key of 8 bytes or
        // more is read as the last 8 bytes, overlapping the word before.
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let n = bytes.len();
        let mut at = 0;
        while at + 8 <= n {
            self.add(word(at));
            at += 8;
        }
        if at < n {
            if n >= 8 {
                self.add(word(n - 8));
            } else {
                self.add(bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)));
            }
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The Fx step leaves the low bits, which hashbrown uses to pick a bucket, poorly mixed:
        // ids that differ only in a few digits then pile into the same buckets. A murmur3
        // finalizer spreads every input bit over every output bit.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with the fast hasher.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// An empty [`FastMap`].
pub fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::default()
}

/// Count how often each key occurs.
pub fn count_by<K: Hash + Eq>(keys: impl IntoIterator<Item = K>) -> FastMap<K, usize> {
    let mut counts = fast_map();
    for k in keys {
        *counts.entry(k).or_insert(0) += 1;
    }
    counts
}

/// Count rows per non-null value of a text column.
pub fn count_text<'a>(col: &TextCol<'a>) -> FastMap<&'a str, usize> {
    count_by((0..col.len()).filter_map(|i| col.get(i)))
}

/// Number of distinct values of `value` per `key`, e.g. distinct assessors per repair shop.
pub fn distinct_per<K: Hash + Eq, V: Hash + Eq>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> FastMap<K, usize> {
    let mut seen: FastMap<K, FastMap<V, ()>> = fast_map();
    for (k, v) in pairs {
        seen.entry(k).or_default().insert(v, ());
    }
    seen.into_iter().map(|(k, vs)| (k, vs.len())).collect()
}

/// An index from the values of a text column to the rows that hold them (nulls skipped): the
/// group-by of supervision models, and the build side of a join.
///
/// Rows are kept in one array grouped by key (compressed sparse rows), not in a vector per key:
/// a million distinct ids cost two allocations, not a million. Groups iterate in order of first
/// appearance, so results never depend on hash-table internals. Over a dictionary-encoded column
/// the index is built by code, with no text hashed, and a [`Key`] from any column sharing that
/// dictionary is looked up by code; text lookups build a hash table of the keys on first use.
#[derive(Debug, Clone, Default)]
pub struct Index<'a> {
    dictionary: Option<&'a Dictionary>,
    /// 1 + the group of each dictionary code, 0 for none (so it starts as zeroed memory).
    group_of_code: Words,
    group_of: OnceCell<FastMap<&'a str, u32>>,
    keys: Keys<'a>,
    starts: Words,
    rows: Words,
    /// Whether the host grouped the rows (`table.group`).
    by_host: bool,
}

/// Each group's key. A coded key keeps its code, its text only read when asked for; an index
/// over codes makes none (a million unique plates would be a million keys built for nothing).
#[derive(Debug, Clone)]
enum Keys<'a> {
    /// Over codes: a group's key is the code of its first row.
    Coded(&'a [u32], &'a Dictionary),
    /// Over text: each group's key, in group order.
    Listed(Vec<Key<'a>>),
}

impl Default for Keys<'_> {
    fn default() -> Self {
        Keys::Listed(Vec::new())
    }
}

/// u32s the SDK computed, or that the host sent as little-endian bytes (`sieve:model`'s
/// `grouping`), read in place rather than copied again.
#[derive(Debug, Clone)]
enum Words {
    Own(Vec<u32>),
    /// Bytes whose address is a multiple of 4 and whose length is too (checked on creation).
    Host(Vec<u8>),
}

impl Default for Words {
    fn default() -> Self {
        Words::Own(Vec::new())
    }
}

impl Words {
    /// The host's bytes, kept as they are when aligned, else copied into u32s.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn from_le_bytes(bytes: Vec<u8>) -> Words {
        if bytes.as_ptr().cast::<u32>().is_aligned() && bytes.len().is_multiple_of(4) {
            Words::Host(bytes)
        } else {
            Words::Own(bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect())
        }
    }

    #[inline(always)]
    fn get(&self) -> &[u32] {
        match self {
            Words::Own(v) => v,
            // SAFETY: `from_le_bytes` keeps only bytes aligned for u32 and a whole number of
            // them; any bit pattern is a u32, and the slice borrows the vector. Guests and the
            // host are little-endian, so the bytes are the host's u32s.
            Words::Host(b) => unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u32>(), b.len() / 4) },
        }
    }
}

/// No group.
const NONE: u32 = u32::MAX;

/// `0, c0, c0 + c1, ...`: where each group's rows start, and the end of the last.
fn prefix_sums(counts: &[u32]) -> Vec<u32> {
    let mut starts = Vec::with_capacity(counts.len() + 1);
    let mut total = 0u32;
    starts.push(0);
    for c in counts {
        total += c;
        starts.push(total);
    }
    starts
}

impl<'a> Index<'a> {
    /// Index every non-null value of `col`.
    pub fn build(col: &TextCol<'a>) -> Self {
        match col.codes() {
            Some((codes, dictionary)) => {
                #[cfg(target_arch = "wasm32")]
                if let Some(index) = Self::grouped_by_host(col, codes, dictionary) {
                    return index;
                }
                Self::build_coded(col, codes, dictionary)
            }
            None => Self::build_hashed(col),
        }
    }

    /// In a guest, a whole served column is grouped by the host (`table.group`): the same
    /// counting sort as [`Index::build_coded`], run natively, so a model pays the sandbox's price
    /// only for copying the result in. `None` if the column is not one the host can group.
    #[cfg(target_arch = "wasm32")]
    fn grouped_by_host(col: &TextCol<'a>, codes: &'a [u32], dictionary: &'a Dictionary) -> Option<Self> {
        let (table, column) = col.source()?;
        let grouping = crate::guest::group(table, column)?;
        let (group_of_code, starts, rows) = (
            Words::from_le_bytes(grouping.group_of_code),
            Words::from_le_bytes(grouping.starts),
            Words::from_le_bytes(grouping.rows),
        );
        // The host's grouping is of the very codes this guest holds; one that did not fit them
        // would be a host bug, and the guest's own build is the safe answer to it.
        let (first_rows, all_rows) = (starts.get(), rows.get());
        if group_of_code.get().len() != dictionary.len()
            || first_rows.last().copied() != Some(all_rows.len() as u32)
            || all_rows.iter().any(|&r| r as usize >= codes.len())
        {
            return None;
        }
        Some(Index {
            dictionary: Some(dictionary),
            group_of_code,
            group_of: OnceCell::new(),
            keys: Keys::Coded(codes, dictionary),
            starts,
            rows,
            by_host: true,
        })
    }

    /// Over codes: a counting sort, two passes over the rows and no text touched. The group of
    /// a code is kept plus one, so that the table starts as zeroed memory (no fill pass; fresh
    /// pages are zero already).
    fn build_coded(col: &TextCol<'a>, codes: &'a [u32], dictionary: &'a Dictionary) -> Self {
        let mut group_of_code = vec![0u32; dictionary.len()];
        let mut counts: Vec<u32> = Vec::new();
        let valid = |i: usize| col.is_valid(i);
        for (i, &code) in codes.iter().enumerate() {
            let Some(slot) = group_of_code.get_mut(code as usize) else { continue };
            if !valid(i) {
                continue;
            }
            if *slot == 0 {
                counts.push(0);
                *slot = counts.len() as u32;
            }
            counts[*slot as usize - 1] += 1;
        }
        let starts = prefix_sums(&counts);
        let mut fill = counts;
        let groups = fill.len();
        fill.copy_from_slice(&starts[..groups]);
        let mut rows = vec![0u32; starts.last().copied().unwrap_or(0) as usize];
        for (i, &code) in codes.iter().enumerate() {
            let Some(&slot) = group_of_code.get(code as usize) else { continue };
            if slot != 0 && valid(i) {
                let at = &mut fill[slot as usize - 1];
                rows[*at as usize] = i as u32;
                *at += 1;
            }
        }
        Index {
            dictionary: Some(dictionary),
            group_of_code: Words::Own(group_of_code),
            group_of: OnceCell::new(),
            keys: Keys::Coded(codes, dictionary),
            starts: Words::Own(starts),
            rows: Words::Own(rows),
            by_host: false,
        }
    }

    /// Over plain text: each value hashed once.
    fn build_hashed(col: &TextCol<'a>) -> Self {
        // Sized once for the most keys there can be: growing rehashes every key again, several
        // times over (a third of a guest's time spent building an index of unique ids went there).
        let mut group_of: FastMap<&'a str, u32> =
            FastMap::with_capacity_and_hasher(col.len(), Default::default());
        let (mut keys, mut counts): (Vec<Key<'a>>, Vec<u32>) = (Vec::new(), Vec::new());
        let mut row_group: Vec<u32> = Vec::with_capacity(col.len());
        for i in 0..col.len() {
            row_group.push(col.get(i).map_or(NONE, |k| {
                let g = *group_of.entry(k).or_insert_with(|| {
                    keys.push(Key::Text(k));
                    counts.push(0);
                    (keys.len() - 1) as u32
                });
                counts[g as usize] += 1;
                g
            }));
        }
        let starts = prefix_sums(&counts);
        let mut fill = counts;
        let groups = fill.len();
        fill.copy_from_slice(&starts[..groups]);
        let mut rows = vec![0u32; starts.last().copied().unwrap_or(0) as usize];
        for (i, &g) in row_group.iter().enumerate() {
            if g != NONE {
                rows[fill[g as usize] as usize] = i as u32;
                fill[g as usize] += 1;
            }
        }
        Index {
            dictionary: None,
            group_of_code: Words::default(),
            group_of: OnceCell::from(group_of),
            keys: Keys::Listed(keys),
            starts: Words::Own(starts),
            rows: Words::Own(rows),
            by_host: false,
        }
    }

    #[inline(always)]
    fn group(&self, g: usize) -> &[u32] {
        let starts = self.starts.get();
        &self.rows.get()[starts[g] as usize..starts[g + 1] as usize]
    }

    #[inline]
    fn group_of<'k>(&self, key: impl Into<Key<'k>>) -> Option<usize> {
        let key = key.into();
        if let Some(code) = self.dictionary.and_then(|d| key.code_in(d)) {
            return self.group_of_code.get().get(code as usize).filter(|&&g| g != 0).map(|&g| g as usize - 1);
        }
        let group_of = self.group_of.get_or_init(|| {
            (0..self.len()).map(|g| (self.key(g).as_str(), g as u32)).collect::<FastMap<_, _>>()
        });
        group_of.get(key.as_str()).map(|&g| g as usize)
    }

    /// Rows holding `key` (text, or a [`Key`] of a column), ascending (empty if none).
    pub fn get<'k>(&self, key: impl Into<Key<'k>>) -> &[u32] {
        self.group_of(key).map_or(&[], |g| self.group(g))
    }

    /// Whether any row holds `key`.
    pub fn contains<'k>(&self, key: impl Into<Key<'k>>) -> bool {
        self.group_of(key).is_some()
    }

    /// Group `g`'s key.
    fn key(&self, g: usize) -> Key<'a> {
        match &self.keys {
            Keys::Coded(codes, dictionary) => Key::Code(codes[self.group(g)[0] as usize], dictionary),
            Keys::Listed(keys) => keys[g],
        }
    }

    /// Distinct keys with their rows, in order of first appearance.
    pub fn groups(&self) -> impl Iterator<Item = (&'a str, &[u32])> {
        (0..self.len()).map(|g| (self.key(g).as_str(), self.group(g)))
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.starts.get().len().saturating_sub(1)
    }

    /// True if no row had a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the host grouped the rows (a guest's whole served column) rather than the SDK:
    /// for tests that check both give the same index.
    #[doc(hidden)]
    pub fn built_by_host(&self) -> bool {
        self.by_host
    }
}

/// A map from the values of text columns to `V`: the tally of a group-by (suits per plaintiff,
/// first sighting per work). Made for a column, it is an array indexed by that column's
/// dictionary codes when the column is dictionary-encoded, so keys from any column sharing the
/// dictionary are found with no text hashed; other keys go through a hash table of their text.
/// Entries iterate in order of first insertion.
#[derive(Debug, Clone)]
pub struct KeyMap<'a, V> {
    dictionary: Option<&'a Dictionary>,
    /// Entry of each code, plus one (0: none), so that it starts as zeroed memory.
    entry_of_code: Vec<u32>,
    /// Entry of each text, for keys not coded in `dictionary`; made on the first such key, it
    /// covers every entry from then on.
    entry_of_text: OnceCell<FastMap<&'a str, u32>>,
    /// Each entry's key; a coded key keeps its code, its text is only read when asked for.
    keys: Vec<Key<'a>>,
    values: Vec<V>,
}

impl<'a, V> KeyMap<'a, V> {
    /// An empty map for keys of `col` (and of any column sharing its dictionary).
    pub fn for_column(col: &TextCol<'a>) -> Self {
        let (dictionary, entry_of_code) = match col.codes() {
            Some((_, dictionary)) => (Some(dictionary), vec![0; dictionary.len()]),
            None => (None, Vec::new()),
        };
        KeyMap {
            dictionary,
            entry_of_code,
            entry_of_text: OnceCell::new(),
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    fn text_entries(&self) -> &FastMap<&'a str, u32> {
        self.entry_of_text
            .get_or_init(|| self.keys.iter().enumerate().map(|(e, k)| (k.as_str(), e as u32)).collect())
    }

    #[inline(always)]
    fn find(&self, key: Key<'_>) -> Option<usize> {
        if let Some(code) = self.dictionary.and_then(|d| key.code_in(d)) {
            return self.entry_of_code.get(code as usize).filter(|&&e| e != 0).map(|&e| e as usize - 1);
        }
        self.text_entries().get(key.as_str()).map(|&e| e as usize)
    }

    /// The value of `key`, if any.
    #[inline(always)]
    pub fn get<'k>(&self, key: impl Into<Key<'k>>) -> Option<&V> {
        self.find(key.into()).map(|e| &self.values[e])
    }

    /// The value of `key`, inserted as `make()` if absent.
    pub fn entry_or_insert_with(&mut self, key: Key<'a>, make: impl FnOnce() -> V) -> &mut V {
        let e = match self.find(key) {
            Some(e) => e,
            None => {
                let e = self.keys.len();
                self.keys.push(key);
                self.values.push(make());
                let code = self.dictionary.and_then(|d| key.code_in(d));
                match code.and_then(|c| self.entry_of_code.get_mut(c as usize)) {
                    Some(slot) => *slot = e as u32 + 1,
                    None => {
                        self.text_entries();
                    }
                }
                if let Some(map) = self.entry_of_text.get_mut() {
                    map.insert(key.as_str(), e as u32);
                }
                e
            }
        };
        &mut self.values[e]
    }

    /// Whether `key` was absent (and now is present, with `V::default()`).
    pub fn insert_new(&mut self, key: Key<'a>) -> bool
    where
        V: Default,
    {
        let before = self.values.len();
        self.entry_or_insert_with(key, V::default);
        self.values.len() > before
    }

    /// The value of `key`, inserted as `V::default()` if absent.
    pub fn entry(&mut self, key: Key<'a>) -> &mut V
    where
        V: Default,
    {
        self.entry_or_insert_with(key, V::default)
    }

    /// Entries, in order of first insertion.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &V)> {
        self.keys.iter().map(|k| k.as_str()).zip(&self.values)
    }

    /// Values, in order of first insertion, with no key's text read.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Share of `items` for which `test` says true, among those where it says anything
/// (`None` = unknown, e.g. a null); 0 when nothing is known.
pub fn share<T>(items: impl IntoIterator<Item = T>, test: impl Fn(T) -> Option<bool>) -> f64 {
    let (mut known, mut hits) = (0usize, 0usize);
    for item in items {
        if let Some(hit) = test(item) {
            known += 1;
            hits += hit as usize;
        }
    }
    if known == 0 { 0.0 } else { hits as f64 / known as f64 }
}

/// Inner hash join: every `(left_row, right_row)` whose key columns hold the same non-null value.
/// Build the index on the smaller side with [`Index::build`].
pub fn join<'a>(left: &TextCol<'a>, right: &'a Index<'a>) -> impl Iterator<Item = (usize, usize)> + 'a {
    let left = *left;
    (0..left.len()).flat_map(move |i| {
        left.key(i).into_iter().flat_map(move |k| right.get(k).iter().map(move |&r| (i, r as usize)))
    })
}

/// Days from `from` to `to` (negative if `to` is earlier). Dates are days since 1970-01-01.
#[inline]
pub fn days_between(from: i32, to: i32) -> i32 {
    to - from
}

/// Whether `day` lies in `[start, end]`; an open `end` (`None`) means "still running".
#[inline]
pub fn within(day: i32, start: i32, end: Option<i32>) -> bool {
    day >= start && end.is_none_or(|e| day <= e)
}

/// Whether a validity period `[from, to)` covers `day`: it started on or before `day` and had not
/// ended by it (an open `to`, `None`, means "still valid"). The end day itself is outside, as when
/// an owner's registration ends on the day the next owner's starts.
#[inline]
pub fn valid_on(day: i32, from: i32, to: Option<i32>) -> bool {
    from <= day && to.is_none_or(|t| day < t)
}

/// Whether the closed intervals `[a_start, a_end]` and `[b_start, b_end]` share a day (an open
/// end, `None`, runs for ever).
#[inline]
pub fn overlaps(a_start: i32, a_end: Option<i32>, b_start: i32, b_end: Option<i32>) -> bool {
    a_end.is_none_or(|e| b_start <= e) && b_end.is_none_or(|e| a_start <= e)
}

/// Rows of a table of validity periods (a registration per owner and plate, an office per holder)
/// grouped by key, for "who held `key` on day `d`" lookups.
pub struct Periods<'a> {
    by_key: Index<'a>,
    from: Prim<'a, i32>,
    to: Prim<'a, i32>,
}

impl<'a> Periods<'a> {
    /// Periods keyed by `key`, starting on `from` and ending (exclusive) on `to` (null: open).
    /// Rows with a null key or start are never valid.
    pub fn build(key: &TextCol<'a>, from: Prim<'a, i32>, to: Prim<'a, i32>) -> Self {
        Periods { by_key: Index::build(key), from, to }
    }

    /// Every row of `key` valid on `day` (several, where a dataset records overlapping periods).
    pub fn on<'k>(&self, key: impl Into<Key<'k>>, day: i32) -> impl Iterator<Item = usize> + '_ {
        self.by_key.get(key).iter().map(|&r| r as usize).filter(move |&r| self.valid(r, day))
    }

    /// Whether period row `row` covers `day`.
    pub fn valid(&self, row: usize, day: i32) -> bool {
        self.from.get(row).is_some_and(|from| valid_on(day, from, self.to.get(row)))
    }

    /// Every period row of `key`, in table order.
    pub fn of<'k>(&self, key: impl Into<Key<'k>>) -> &[u32] {
        self.by_key.get(key)
    }
}

/// Links recorded between two text columns (`relations.person_a`, `person_b`), looked up in
/// either direction: DOMAIN.md's relations hold both ways, whichever way a row records them.
pub struct Links<'a> {
    by_first: Index<'a>,
    second: TextCol<'a>,
}

impl<'a> Links<'a> {
    /// Index the links of `first` to `second` (columns of one table); nulls link nothing.
    pub fn build(first: &TextCol<'a>, second: &TextCol<'a>) -> Self {
        Links { by_first: Index::build(first), second: *second }
    }

    /// The first row linking `x` and `y`, in either direction.
    pub fn between<'k>(&self, x: impl Into<Key<'k>>, y: impl Into<Key<'k>>) -> Option<usize> {
        let (x, y) = (x.into(), y.into());
        let one_way = |a: Key<'_>, b: Key<'_>| {
            self.by_first.get(a).iter().map(|&r| r as usize).find(|&r| self.second.key(r) == Some(b))
        };
        one_way(x, y).or_else(|| one_way(y, x))
    }
}

/// An index of the rows of two columns' value pairs (`seizures` by (case, plate)).
///
/// Built on an [`Index`] of the first column: each of its groups is reordered by the second
/// column's value, so a pair's rows are one run within the group, found by a scan of the group
/// (a case has a few seizures, not thousands) and handed out as a slice. No text is hashed and
/// nothing is allocated per pair. Rows where either value is null are in no pair.
#[derive(Debug, Clone)]
pub struct PairIndex<'a> {
    by_first: Index<'a>,
    second: TextCol<'a>,
    /// `by_first`'s rows, each group ordered by the second column's value (code or text), then by
    /// row; rows whose second value is null come last and match nothing.
    rows: Vec<u32>,
}

impl<'a> PairIndex<'a> {
    /// Index the rows of `first` and `second` (columns of one table).
    pub fn build(first: &TextCol<'a>, second: &TextCol<'a>) -> Self {
        let by_first = Index::build(first);
        let mut rows = by_first.rows.get().to_vec();
        let starts = by_first.starts.get();
        for g in 0..by_first.len() {
            let group = &mut rows[starts[g] as usize..starts[g + 1] as usize];
            if group.len() < 2 {
                continue;
            }
            match second.codes() {
                Some((codes, _)) => group.sort_unstable_by_key(|&r| {
                    (second.key(r as usize).map_or(u64::MAX, |_| u64::from(codes[r as usize])), r)
                }),
                None => group
                    .sort_unstable_by_key(|&r| (second.get(r as usize).is_none(), second.get(r as usize), r)),
            }
        }
        PairIndex { by_first, second: *second, rows }
    }

    /// Rows holding the pair, ascending (empty if none).
    pub fn get<'k>(&self, first: impl Into<Key<'k>>, second: impl Into<Key<'k>>) -> &[u32] {
        let Some(g) = self.by_first.group_of(first) else { return &[] };
        let starts = self.by_first.starts.get();
        let group = &self.rows[starts[g] as usize..starts[g + 1] as usize];
        let second = second.into();
        let holds = |&r: &u32| self.second.key(r as usize) == Some(second);
        let Some(from) = group.iter().position(holds) else { return &[] };
        let len = group[from..].iter().take_while(|r| holds(r)).count();
        &group[from..from + len]
    }

    /// Whether any row holds the pair.
    pub fn contains<'k>(&self, first: impl Into<Key<'k>>, second: impl Into<Key<'k>>) -> bool {
        !self.get(first, second).is_empty()
    }
}

/// How many rows hold each value of a first column and each (first, second) pair of two columns
/// of one table: the counts of a two-level group-by (a repair shop's cases, and how many of them
/// went to each assessor), read for any row. Rows are taken one group of the first column at a
/// time and tallied by the second value, over codes in one scratch array that is cleared after
/// each group, so no pair is hashed while counting.
#[derive(Debug, Clone)]
pub struct PairCounts<'a> {
    by_first: Index<'a>,
    tally: PairTally<'a>,
}

/// The pair counts, as [`PairCounts::of_row`] reads them.
#[derive(Debug, Clone)]
enum PairTally<'a> {
    /// A coded second column: each group's distinct second codes, ascending, with their counts
    /// (group `g`'s are `pairs[spans[g]..spans[g + 1]]`), searched when a row is asked for. A
    /// model asks for few rows (the ones its cheaper marks let through), and a count per row
    /// would cost a write to a random place for every row of the table.
    Coded {
        first: TextCol<'a>,
        second: TextCol<'a>,
        codes: &'a [u32],
        spans: Vec<u32>,
        pairs: Vec<(u32, u32)>,
    },
    /// Plain text: the count of each row's pair, 0 where either value is null.
    PerRow(Vec<u32>),
}

impl<'a> PairCounts<'a> {
    /// Count the rows of `first` and `second` (columns of one table).
    pub fn build(first: &TextCol<'a>, second: &TextCol<'a>) -> Self {
        let by_first = Index::build(first);
        let tally = match second.codes() {
            Some((codes, dictionary)) => {
                let mut tally = vec![0u32; dictionary.len()];
                let mut tallied: Vec<u32> = Vec::new();
                let mut spans = Vec::with_capacity(by_first.len() + 1);
                let mut pairs = Vec::new();
                spans.push(0);
                for g in 0..by_first.len() {
                    for &r in by_first.group(g) {
                        let Some(&c) = codes.get(r as usize).filter(|_| second.is_valid(r as usize)) else {
                            continue;
                        };
                        let Some(slot) = tally.get_mut(c as usize) else { continue };
                        if *slot == 0 {
                            tallied.push(c);
                        }
                        *slot += 1;
                    }
                    tallied.sort_unstable();
                    for c in tallied.drain(..) {
                        pairs.push((c, std::mem::take(&mut tally[c as usize])));
                    }
                    spans.push(pairs.len() as u32);
                }
                PairTally::Coded { first: *first, second: *second, codes, spans, pairs }
            }
            None => {
                let mut of_row = vec![0u32; first.len()];
                let mut tally: FastMap<&str, u32> = fast_map();
                for g in 0..by_first.len() {
                    let group = by_first.group(g);
                    for &r in group {
                        if let Some(value) = second.get(r as usize) {
                            *tally.entry(value).or_default() += 1;
                        }
                    }
                    for &r in group {
                        if let Some(value) = second.get(r as usize) {
                            of_row[r as usize] = tally.get(value).copied().unwrap_or(0);
                        }
                    }
                    tally.clear();
                }
                PairTally::PerRow(of_row)
            }
        };
        PairCounts { by_first, tally }
    }

    /// Rows holding row `row`'s (first, second) pair, itself included; 0 if either is null.
    #[inline]
    pub fn of_row(&self, row: usize) -> usize {
        match &self.tally {
            PairTally::Coded { first, second, codes, spans, pairs } => {
                let (Some(key), Some(&code)) = (first.key(row), codes.get(row)) else { return 0 };
                let Some(g) = self.by_first.group_of(key).filter(|_| second.is_valid(row)) else { return 0 };
                let span = &pairs[spans[g] as usize..spans[g + 1] as usize];
                span.binary_search_by_key(&code, |&(c, _)| c).map_or(0, |i| span[i].1 as usize)
            }
            PairTally::PerRow(of_row) => of_row.get(row).map_or(0, |&n| n as usize),
        }
    }

    /// Rows holding first value `key`, whatever their second value.
    #[inline]
    pub fn of_first<'k>(&self, key: impl Into<Key<'k>>) -> usize {
        self.by_first.get(key).len()
    }
}

/// The first day of the month that `day` falls in.
pub fn month_start(day: i32) -> i32 {
    let (y, m, _) = crate::data::civil_from_days(day);
    crate::data::days_from_civil(y, m, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Frame;
    use crate::data::{Column, Text, Values};

    #[test]
    fn join_pairs_matching_keys_and_skips_nulls() {
        let mut left = Column::new("k", Values::Text(["a", "b", "", "a"].into_iter().collect::<Text>()));
        left.validity = Some(crate::data::Bitmap::from_flags([true, true, false, true]));
        let right = Column::new("k", Values::Text(["a", "c", "a"].into_iter().collect::<Text>()));
        let lf = Frame::new("l", 4, vec![left]);
        let rf = Frame::new("r", 3, vec![right]);
        let (lc, rc) = (lf.text("k").expect("k"), rf.text("k").expect("k"));
        let index = Index::build(&rc);
        let mut pairs: Vec<_> = join(&lc, &index).collect();
        pairs.sort();
        assert_eq!(pairs, vec![(0, 0), (0, 2), (3, 0), (3, 2)]);
        assert_eq!(count_text(&lc).get("a"), Some(&2));
        assert_eq!(distinct_per([("s", 1), ("s", 2), ("s", 1), ("t", 1)]).get("s"), Some(&2));
        let groups: Vec<(&str, Vec<u32>)> = index.groups().map(|(k, r)| (k, r.to_vec())).collect();
        assert_eq!(groups, [("a", vec![0, 2]), ("c", vec![1])]);
        assert!(index.get("zz").is_empty() && index.contains("c") && index.len() == 2);
        assert_eq!(share([Some(true), None, Some(false), Some(true)], |x| x), 2.0 / 3.0);
    }

    #[test]
    fn index_over_a_dictionary_column_matches_the_plain_one() {
        let values = ["x", "y", "x", "", "z", "y"];
        let valid = [true, true, true, false, true, true];
        let dictionary: Text = ["y", "x", "z", "w"].into_iter().collect();
        let mut dict = Column::new(
            "k",
            Values::Dictionary {
                indices: vec![1, 0, 1, 3, 2, 0],
                dictionary: std::sync::Arc::new(dictionary.into()),
            },
        );
        dict.validity = Some(crate::data::Bitmap::from_flags(valid));
        let mut plain = Column::new("k", Values::Text(values.into_iter().collect::<Text>()));
        plain.validity = Some(crate::data::Bitmap::from_flags(valid));
        let (df, pf) = (Frame::new("d", 6, vec![dict]), Frame::new("p", 6, vec![plain]));
        let (di, pi) = (Index::build(&df.text("k").expect("k")), Index::build(&pf.text("k").expect("k")));
        let groups = |i: &Index| i.groups().map(|(k, r)| (k.to_string(), r.to_vec())).collect::<Vec<_>>();
        assert_eq!(groups(&di), groups(&pi));
        assert_eq!(groups(&di), [("x".into(), vec![0, 2]), ("y".into(), vec![1, 5]), ("z".into(), vec![4])]);
        assert_eq!(di.get("y"), [1, 5]);
        assert!(!di.contains("w"), "a dictionary entry no row uses is not a key");

        let mut calls = 0;
        let (dc, pc) = (df.text("k").expect("k"), pf.text("k").expect("k"));
        let derived = dc.derive(|v| {
            calls += 1;
            v.to_uppercase()
        });
        assert_eq!(calls, 3, "once per distinct value the rows hold, not per row or per entry");
        let plain = pc.derive(|v| v.to_uppercase());
        for row in 0..6 {
            assert_eq!(derived.get(row), plain.get(row), "row {row}");
        }
        assert_eq!(derived.get(2).map(String::as_str), Some("X"));
        assert_eq!(derived.get(3), None, "null rows derive nothing");
    }

    #[test]
    fn keys_of_columns_sharing_a_dictionary_look_up_by_code_and_agree_with_text() {
        use crate::data::Bitmap;
        use std::sync::Arc;
        // One dictionary for both tables, as a 0.1.1 host serves them; "Q" only in `events`.
        let shared = Arc::new(Dictionary::from(["P", "Q", "A", "B", "C"].into_iter().collect::<Text>()));
        let coded = |name: &str, codes: Vec<u32>, valid: Vec<bool>| {
            let mut c = Column::new(name, Values::Dictionary { indices: codes, dictionary: shared.clone() });
            c.validity = Some(Bitmap::from_flags(valid));
            c
        };
        let registrations = Frame::new(
            "registrations",
            4,
            vec![
                coded("plate", vec![0, 0, 2, 0], vec![true, true, true, false]),
                coded("owner", vec![2, 3, 4, 4], vec![true; 4]),
                Column::new("from", Values::Date(vec![10, 20, 5, 0])),
            ],
        );
        let events = Frame::new("events", 3, vec![coded("plate", vec![1, 0, 0], vec![true, true, false])]);
        let (plate, owner) =
            (registrations.text("plate").expect("plate"), registrations.text("owner").expect("owner"));
        let seen = events.text("plate").expect("plate");
        let by_plate = Index::build(&plate);
        assert!(matches!(seen.key(1), Some(Key::Code(0, _))));
        assert_eq!(by_plate.get(seen.key(1).expect("key")), [0, 1], "by code");
        assert!(by_plate.get(seen.key(0).expect("key")).is_empty(), "Q: in the dictionary, on no row");
        assert_eq!(seen.key(2), None, "a null has no key");
        assert_eq!(by_plate.get("P"), [0, 1], "by text, the same rows");
        assert_eq!(by_plate.get("A"), [2]);
        // A key from a plain column (another dictionary, or none) falls back to its text.
        let plain =
            Frame::new("p", 1, vec![Column::new("plate", Values::Text(["P"].into_iter().collect::<Text>()))]);
        let plain_key = plain.text("plate").expect("plate").key(0).expect("key");
        assert_eq!(by_plate.get(plain_key), [0, 1]);
        assert_eq!(plain_key, seen.key(1).expect("key"), "keys compare by text across dictionaries");
        let links = Links::build(&plate, &owner);
        assert_eq!(
            links.between(owner.key(1).expect("B"), seen.key(1).expect("P")),
            Some(1),
            "either way, by code"
        );
        assert_eq!(links.between("P", "C"), None);
        let from = registrations.date("from").expect("from");
        let owned = Periods::build(&owner, from, from);
        assert_eq!(owned.of(owner.key(0).expect("A")), [0], "periods by code");
    }

    #[test]
    fn pair_indexes_and_counts_find_each_pair_coded_or_plain() {
        use crate::data::Bitmap;
        use std::sync::Arc;
        // (case, plate) per row; row 3's plate and row 6's case are null.
        let cases = ["c1", "c2", "c1", "c1", "c2", "c1", ""];
        let plates = ["P", "P", "Q", "", "P", "P", "Q"];
        let (case_valid, plate_valid) =
            ([true, true, true, true, true, true, false], [true, true, true, false, true, true, true]);
        let shared = Arc::new(Dictionary::from(["Q", "c2", "P", "c1", ""].into_iter().collect::<Text>()));
        let code =
            |v: &str| (0..shared.len()).find(|&i| shared.get(i) == v).expect("in the dictionary") as u32;
        let column = |name: &str, values: &[&str], valid: [bool; 7], coded: bool| {
            let mut c = if coded {
                Column::new(
                    name,
                    Values::Dictionary {
                        indices: values.iter().map(|v| code(v)).collect(),
                        dictionary: shared.clone(),
                    },
                )
            } else {
                Column::new(name, Values::Text(values.iter().copied().collect::<Text>()))
            };
            c.validity = Some(Bitmap::from_flags(valid));
            c
        };
        for coded in [true, false] {
            let frame = Frame::new(
                "seizures",
                7,
                vec![
                    column("case_no", &cases, case_valid, coded),
                    column("plate", &plates, plate_valid, coded),
                ],
            );
            let (case, plate) = (frame.text("case_no").expect("case"), frame.text("plate").expect("plate"));
            let pairs = PairIndex::build(&case, &plate);
            assert_eq!(pairs.get("c1", "P"), [0, 5], "coded: {coded}");
            assert_eq!(pairs.get("c1", "Q"), [2]);
            assert_eq!(pairs.get("c2", "P"), [1, 4]);
            assert_eq!(pairs.get(case.key(1).expect("c2"), plate.key(0).expect("P")), [1, 4], "by key");
            assert!(pairs.get("c2", "Q").is_empty(), "row 6 has no case");
            assert!(pairs.get("c1", "").is_empty() && !pairs.contains("c1", ""), "row 3 has no plate");
            assert!(!pairs.contains("c3", "P") && pairs.contains("c1", "Q"));

            let counts = PairCounts::build(&case, &plate);
            let per_row: Vec<usize> = (0..7).map(|r| counts.of_row(r)).collect();
            assert_eq!(
                per_row,
                [2, 2, 1, 0, 2, 2, 0],
                "a null in either column is in no pair; coded: {coded}"
            );
            assert_eq!(counts.of_row(7), 0, "a row past the table's end holds no pair");
            assert_eq!((counts.of_first("c1"), counts.of_first("c2"), counts.of_first("c3")), (4, 2, 0));
            assert_eq!(counts.of_first(case.key(1).expect("c2")), 2, "by key");
        }
    }

    #[test]
    fn a_key_map_finds_the_same_entry_by_code_and_by_text() {
        use std::sync::Arc;
        let shared = Arc::new(Dictionary::from(["p1", "p2", "w1"].into_iter().collect::<Text>()));
        let coded = |codes: Vec<u32>| {
            Column::new("k", Values::Dictionary { indices: codes, dictionary: shared.clone() })
        };
        let cases = Frame::new("cases", 4, vec![coded(vec![0, 1, 0, 0])]);
        let col = cases.text("k").expect("k");
        let mut tally: KeyMap<usize> = KeyMap::for_column(&col);
        for row in 0..col.len() {
            *tally.entry(col.key(row).expect("key")) += 1;
        }
        assert_eq!(tally.get("p1"), Some(&3), "text finds a coded entry");
        assert_eq!(tally.get(col.key(1).expect("key")), Some(&1));
        assert_eq!(tally.get("w1"), None);
        // A key of a plain column (another dictionary) lands on the same entry as its text.
        let plain =
            Frame::new("p", 1, vec![Column::new("k", Values::Text(["p2"].into_iter().collect::<Text>()))]);
        let other = plain.text("k").expect("k").key(0).expect("key");
        *tally.entry(other) += 10;
        assert_eq!(tally.get(col.key(1).expect("key")), Some(&11));
        assert!(tally.insert_new(Key::Text("new")) && !tally.insert_new(Key::Text("new")));
        *tally.entry(col.key(0).expect("key")) += 1;
        assert_eq!(tally.get("p1"), Some(&4), "a coded insert after the text table exists");
        let all: Vec<(&str, usize)> = tally.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(all, [("p1", 4), ("p2", 11), ("new", 0)]);
        let mut plain_map: KeyMap<u8> = KeyMap::for_column(&plain.text("k").expect("k"));
        assert!(plain_map.insert_new(col.key(0).expect("key")) && plain_map.get("p1").is_some());
    }

    #[test]
    fn validity_periods_end_the_day_the_next_one_starts() {
        use crate::data::Bitmap;
        // Plate P: A from day 10 to day 20, then B from day 20 on; plate Q: C from day 5 (open).
        let plate = Column::new("plate", Values::Text(["P", "P", "Q", ""].into_iter().collect::<Text>()));
        let mut plate = plate;
        plate.validity = Some(Bitmap::from_flags([true, true, true, false]));
        let from = Column::new("from", Values::Date(vec![10, 20, 5, 0]));
        let mut to = Column::new("to", Values::Date(vec![20, 0, 0, 0]));
        to.validity = Some(Bitmap::from_flags([true, false, false, false]));
        let frame = Frame::new("registrations", 4, vec![plate, from, to]);
        let (p, f, t) =
            (frame.text("plate").expect("p"), frame.date("from").expect("f"), frame.date("to").expect("t"));
        let periods = Periods::build(&p, f, t);
        let on = |key: &str, day: i32| periods.on(key, day).collect::<Vec<_>>();
        assert_eq!(on("P", 9), Vec::<usize>::new());
        assert_eq!(on("P", 10), [0]);
        assert_eq!(on("P", 19), [0]);
        assert_eq!(on("P", 20), [1], "the transfer day belongs to the next owner");
        assert_eq!(on("Q", 10_000), [2]);
        assert_eq!(periods.of("P"), [0, 1]);
        assert!(on("", 1).is_empty());

        assert!(overlaps(1, Some(5), 5, Some(9)));
        assert!(!overlaps(1, Some(4), 5, None));
        assert!(overlaps(7, None, 1, None));

        let firsts = Column::new("a", Values::Text(["P", "P", "Q", "R"].into_iter().collect::<Text>()));
        let mut owners = Column::new("b", Values::Text(["A", "B", "C", ""].into_iter().collect::<Text>()));
        owners.validity = Some(Bitmap::from_flags([true, true, true, false]));
        let links_frame = Frame::new("links", 4, vec![firsts, owners]);
        let links = Links::build(&links_frame.text("a").expect("a"), &links_frame.text("b").expect("b"));
        assert_eq!(links.between("P", "B"), Some(1));
        assert_eq!(links.between("B", "P"), Some(1), "either direction");
        assert_eq!(links.between("Q", "A"), None);
        assert_eq!(links.between("R", ""), None, "a null links nothing");

        let pairs = PairIndex::build(&p, &p);
        assert_eq!(pairs.get("P", "P"), [0, 1]);
        assert!(pairs.contains("Q", "Q") && !pairs.contains("P", "Q"));
    }

    #[test]
    fn intervals_and_months() {
        assert!(within(10, 5, None));
        assert!(within(10, 5, Some(10)));
        assert!(!within(11, 5, Some(10)));
        let d = crate::data::parse_date("2021-03-17").expect("date");
        assert_eq!(crate::data::format_date(month_start(d)), "2021-03-01");
        assert_eq!(days_between(d, d + 3), 3);
    }
}
