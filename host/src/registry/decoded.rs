//! Datasets kept decoded in memory by a long-lived process (`sieve serve`, a competition's
//! workers): a dataset is imported once and run again and again, so the tables a model was served
//! are kept, under a byte cap, and the next run of a model declaring the same columns skips
//! reading them, and grouping them again (`table.group`): the groupings runs make are kept with
//! the tables and counted against the cap when the next serving is kept. What is kept was
//! digest-checked when it was read; a blob altered on disk later is found by the next process, or
//! once the entry has been evicted.

use std::sync::{Arc, Mutex};

use sieve_sdk::data::Values;
use sieve_sdk::{ColumnType, ModelInfo};

use crate::datasets::ServedTable;
use crate::sandbox::grouping::Kept;

/// Default cap on the bytes kept, overridden by `SIEVE_DATA_CACHE_MIB` (0 keeps nothing).
const DEFAULT_MIB: usize = 1024;

/// Served tables, by what they were served for; the most recently used last.
pub struct Decoded {
    cap: usize,
    entries: Mutex<Vec<Entry>>,
}

/// A kept serving: its key, its tables, about the bytes they hold, and the groupings runs made
/// of them.
type Entry = (Key, Arc<[ServedTable]>, usize, Arc<Kept>);

/// What identifies a serving: the dataset version and its content, whether the model shares
/// dictionaries, and every table, column and type it declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    dataset_id: i64,
    digest: String,
    shares: bool,
    inputs: Vec<(String, Vec<(String, ColumnType)>)>,
}

impl Key {
    /// The key of serving `info`'s inputs from dataset version `dataset_id` (of `digest`).
    pub fn new(dataset_id: i64, digest: &str, info: &ModelInfo, shares: bool) -> Key {
        let inputs = info
            .inputs
            .iter()
            .map(|t| (t.name.clone(), t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect()))
            .collect();
        Key { dataset_id, digest: digest.to_string(), shares, inputs }
    }
}

impl Default for Decoded {
    fn default() -> Self {
        let mib =
            std::env::var("SIEVE_DATA_CACHE_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MIB);
        Decoded::with_cap(mib << 20)
    }
}

impl Decoded {
    /// A cache holding at most `cap` bytes.
    pub fn with_cap(cap: usize) -> Self {
        Decoded { cap, entries: Mutex::new(Vec::new()) }
    }

    /// The tables kept under `key` and where their groupings are kept, now the most recently used.
    pub fn get(&self, key: &Key) -> Option<(Arc<[ServedTable]>, Arc<Kept>)> {
        let mut entries = self.entries.lock().ok()?;
        let at = entries.iter().position(|(k, ..)| k == key)?;
        let entry = entries.remove(at);
        let found = (entry.1.clone(), entry.3.clone());
        entries.push(entry);
        Some(found)
    }

    /// Where a serving about to be read will keep its groupings, or `None` if nothing is kept
    /// (a cap of 0: a process that runs one model has no later run to keep anything for).
    pub fn groupings_for_new(&self) -> Option<Arc<Kept>> {
        (self.cap > 0).then(Arc::default)
    }

    /// Keep `tables` (and `groupings`, the groupings runs make of them) under `key`, evicting the
    /// least recently used entries to stay under the cap, groupings counted; tables larger than
    /// the cap are not kept.
    pub fn keep(&self, key: Key, tables: &Arc<[ServedTable]>, groupings: Arc<Kept>) {
        let size = bytes_of(tables);
        if size > self.cap {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.retain(|(k, ..)| *k != key);
        while held(&entries) + size > self.cap && !entries.is_empty() {
            entries.remove(0);
        }
        entries.push((key, tables.clone(), size, groupings));
    }

    /// The bytes of the tables kept now, and of their groupings.
    pub fn held_bytes(&self) -> usize {
        self.entries.lock().map_or(0, |entries| held(&entries))
    }

    /// The bytes of the tables kept now, their groupings left out.
    pub fn table_bytes(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.iter().map(|(_, _, size, _)| size).sum())
    }

    /// Drop everything kept.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// The bytes `entries` hold: their tables, and the groupings kept with them so far.
fn held(entries: &[Entry]) -> usize {
    entries.iter().map(|(_, _, size, groupings)| size + groupings.bytes()).sum()
}

/// About the bytes `tables` hold (a dictionary shared by several columns counted once).
fn bytes_of(tables: &[ServedTable]) -> usize {
    let mut seen: Vec<*const sieve_sdk::data::Dictionary> = Vec::new();
    let mut total = 0;
    for column in tables.iter().flat_map(|t| &t.columns) {
        total += column.validity.as_ref().map_or(0, |v| v.as_bytes().len());
        total += match &column.values {
            Values::Text(t) => t.byte_len() + 4 * (t.len() + 1),
            Values::Dictionary { indices, dictionary } => {
                let shared = Arc::as_ptr(dictionary);
                let first = !seen.contains(&shared);
                seen.push(shared);
                4 * indices.len() + if first { dictionary.byte_len() + 4 * (dictionary.len() + 1) } else { 0 }
            }
            Values::Int64(v) | Values::Timestamp(v) => 8 * v.len(),
            Values::Float64(v) => 8 * v.len(),
            Values::Boolean(v) => v.len(),
            Values::Date(v) => 4 * v.len(),
        };
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::TableSpec;
    use sieve_sdk::data::Column;

    fn tables(rows: usize) -> Arc<[ServedTable]> {
        let column = Column::new("n", Values::Int64(vec![0; rows]));
        Arc::from(vec![ServedTable { spec: TableSpec::new("t").int64(&["n"]), rows, columns: vec![column] }])
    }

    fn key(spec: TableSpec, dataset: i64, shares: bool) -> Key {
        Key::new(dataset, "sha256:x", &ModelInfo::new("m", "1").task("t", "case").input(spec), shares)
    }

    #[test]
    fn keeps_the_most_recently_used_under_its_cap() {
        let cache = Decoded::with_cap(2000);
        let [a, b, c, huge] = [1, 2, 3, 4].map(|d| key(TableSpec::new("t").int64(&["n"]), d, true));
        cache.keep(a.clone(), &tables(100), Arc::default()); // 800 bytes
        cache.keep(b.clone(), &tables(100), Arc::default());
        assert!(cache.get(&a).is_some(), "a is now the most recent");
        cache.keep(c.clone(), &tables(100), Arc::default()); // b goes: the least recently used
        assert!(cache.get(&b).is_none());
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        cache.keep(huge.clone(), &tables(1000), Arc::default()); // over the cap: not kept, nothing evicted
        assert!(cache.get(&huge).is_none() && cache.get(&a).is_some());
        cache.clear();
        assert!(cache.get(&a).is_none());
    }

    #[test]
    fn groupings_kept_with_tables_count_against_the_cap_but_not_as_tables() {
        let cache = Decoded::with_cap(2000);
        let groupings = cache.groupings_for_new().expect("a cache that keeps things keeps groupings");
        let served = tables(100);
        cache.keep(key(TableSpec::new("t").int64(&["n"]), 1, true), &served, groupings.clone());
        groupings.group(0, 0, &served[0].columns[0], 1);
        assert_eq!(cache.table_bytes(), 800);
        assert_eq!(cache.held_bytes(), 800 + groupings.bytes());
        // The groupings fill the cap: the next serving evicts this one.
        let next = key(TableSpec::new("t").int64(&["n"]), 2, true);
        cache.keep(next, &tables(100), Arc::default());
        assert_eq!(cache.table_bytes(), 800, "{}", cache.held_bytes());
        assert!(Decoded::with_cap(0).groupings_for_new().is_none(), "a process that keeps nothing");
    }

    #[test]
    fn a_serving_is_keyed_by_every_declared_column_and_type() {
        let a = key(TableSpec::new("t").text(&["a"]), 1, true);
        assert_ne!(a, key(TableSpec::new("t").text(&["a", "b"]), 1, true));
        assert_ne!(a, key(TableSpec::new("t").int64(&["a"]), 1, true));
        assert_ne!(a, key(TableSpec::new("t").text(&["a"]), 1, false));
        assert_ne!(a, key(TableSpec::new("t").text(&["a"]), 2, true));
        assert_eq!(a, key(TableSpec::new("t").text(&["a"]), 1, true));
    }
}
