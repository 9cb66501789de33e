//! `table.group` and `table.matches` (`sieve:model@0.1.2`): a served column's rows grouped by
//! value, or flagged where they hold one of a few values, computed by the host so that an
//! interpreted guest (Python, JavaScript) walks groups and reads flags instead of hashing or
//! comparing a million keys itself.
//!
//! Group order is the order of each value's first row, and rows ascend within a group, so the
//! result is the same as the SDKs' own `Index` and does not depend on any hasher. Over dictionary
//! codes it is a counting sort; other columns are keyed through a hash map.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use sieve_sdk::data::{Column, Values};

/// No group (a null row, or a value in no kept group).
const NONE: u32 = u32::MAX;

/// The result of grouping one column.
#[derive(Debug, Default, PartialEq)]
pub struct Groups {
    /// The grouped row numbers, group after group.
    pub rows: Vec<u32>,
    /// `groups + 1` positions in `rows`.
    pub starts: Vec<u32>,
    /// Dictionary-encoded columns: 1 + the group of each dictionary code, or 0. Empty otherwise.
    pub group_of_code: Vec<u32>,
}

impl Groups {
    /// Number of groups.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// True if no group was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the guest receives.
    pub fn bytes(&self) -> usize {
        4 * (self.rows.len() + self.starts.len() + self.group_of_code.len())
    }
}

/// Groupings of the columns of one serving (tables kept decoded for later runs), kept with it:
/// a dataset is run again and again, and every run of a model groups the same key columns the
/// same way (a third of T3's model time at scale 100). What is kept was computed from the very
/// tables the run reads, so a kept grouping is the one the run would compute.
///
/// Only whole groupings are kept (every group, as `Index` asks for), one per column: a grouping
/// per `min-rows` value would let a model fill a long-lived process's memory by asking for each.
#[derive(Debug, Default)]
pub struct Kept {
    groupings: Mutex<Vec<(TableColumn, Arc<Groups>)>>,
}

/// Which column's grouping: (table, column), by position in the serving.
type TableColumn = (usize, usize);

impl Kept {
    /// The grouping of `column` (column `position` of table `table`) with at least `min_rows`
    /// rows a group: kept, or computed once and kept, when it is the whole grouping. Runs asking
    /// at once may both compute it; one is kept.
    pub fn group(&self, table: usize, position: usize, column: &Column, min_rows: u32) -> Arc<Groups> {
        // 0 and 1 both keep every group.
        if min_rows > 1 {
            return Arc::new(group(column, min_rows));
        }
        let key = (table, position);
        let found =
            |kept: &Vec<(_, Arc<Groups>)>| kept.iter().find(|(k, _)| *k == key).map(|(_, g)| g.clone());
        if let Some(groups) = self.groupings.lock().ok().and_then(|kept| found(&kept)) {
            return groups;
        }
        let groups = Arc::new(group(column, min_rows));
        match self.groupings.lock() {
            Ok(mut kept) => match found(&kept) {
                Some(other) => other,
                None => {
                    kept.push((key, groups.clone()));
                    groups
                }
            },
            Err(_) => groups,
        }
    }

    /// Bytes of the groupings kept.
    pub fn bytes(&self) -> usize {
        self.groupings.lock().map_or(0, |kept| kept.iter().map(|(_, g)| g.bytes()).sum())
    }
}

/// Bytes the host holds while grouping `column` (besides the result): one key id per row, and a
/// count and a new number per distinct key (at most one per row, or per dictionary code).
pub fn working_bytes(column: &Column) -> usize {
    let rows = column.len();
    let keys = match &column.values {
        Values::Dictionary { dictionary, .. } => dictionary.len().max(rows),
        _ => rows,
    };
    // For hashed keys the map's own slots (key, id and control byte) come on top.
    let map = match &column.values {
        Values::Dictionary { .. } => 0,
        _ => rows * 32,
    };
    rows * 4 + keys * 12 + map
}

/// Bytes of the result, at most: every row in some group, one start per row, a code map.
pub fn result_bytes(column: &Column) -> usize {
    let codes = match &column.values {
        Values::Dictionary { dictionary, .. } => dictionary.len(),
        _ => 0,
    };
    4 * (2 * column.len() + 1 + codes)
}

/// Group the rows of `column` by value, keeping groups of at least `min_rows` rows (0 and 1 both
/// keep every group). Null rows are in no group.
pub fn group(column: &Column, min_rows: u32) -> Groups {
    let valid = |i: usize| column.is_valid(i);
    let (ids, distinct, code_ids) = match &column.values {
        Values::Dictionary { indices, dictionary } => {
            // The first appearance of each code numbers it: a counting sort needs no hashing.
            let mut id_of_code = vec![NONE; dictionary.len()];
            let mut next = 0u32;
            let ids: Vec<u32> = indices
                .iter()
                .enumerate()
                .map(|(i, &code)| match id_of_code.get_mut(code as usize) {
                    Some(slot) if valid(i) => {
                        if *slot == NONE {
                            *slot = next;
                            next += 1;
                        }
                        *slot
                    }
                    _ => NONE,
                })
                .collect();
            (ids, next as usize, Some(id_of_code))
        }
        Values::Text(text) => hashed(column.len(), valid, |i| text.get(i)),
        Values::Int64(v) | Values::Timestamp(v) => hashed(v.len(), valid, |i| v[i]),
        Values::Date(v) => hashed(v.len(), valid, |i| v[i]),
        Values::Boolean(v) => hashed(v.len(), valid, |i| v[i]),
        // By value: -0 and 0 are one key; NaNs are one key (the host canonicalizes them).
        Values::Float64(v) => hashed(v.len(), valid, |i| if v[i] == 0.0 { 0 } else { v[i].to_bits() }),
    };
    let mut counts = vec![0u32; distinct];
    for &id in ids.iter().filter(|&&id| id != NONE) {
        counts[id as usize] += 1;
    }
    // Renumber the kept groups, in order; `kept[id]` is the new number or NONE.
    let mut kept = vec![NONE; distinct];
    let mut starts = vec![0u32];
    for (id, &count) in counts.iter().enumerate() {
        if count >= min_rows.max(1) {
            kept[id] = (starts.len() - 1) as u32;
            starts.push(starts[starts.len() - 1] + count);
        }
    }
    let mut next = starts[..starts.len() - 1].to_vec();
    let mut rows = vec![0u32; starts[starts.len() - 1] as usize];
    for (row, &id) in ids.iter().enumerate() {
        if id != NONE && kept[id as usize] != NONE {
            let slot = &mut next[kept[id as usize] as usize];
            rows[*slot as usize] = row as u32;
            *slot += 1;
        }
    }
    let group_of_code = code_ids
        .map(|ids| {
            ids.iter()
                .map(|&id| if id == NONE || kept[id as usize] == NONE { 0 } else { kept[id as usize] + 1 })
                .collect()
        })
        .unwrap_or_default();
    Groups { rows, starts, group_of_code }
}

/// One byte per row of a text column: 1 where the row holds one of `wanted`, 0 where it does not
/// or is null; `None` for a column that is not text. Over a dictionary the values are looked up
/// once per code, not once per row.
pub fn matches(column: &Column, wanted: &[&str]) -> Option<Vec<u8>> {
    let wanted: std::collections::HashSet<&str> = wanted.iter().copied().collect();
    let valid = |i: usize| column.is_valid(i);
    match &column.values {
        Values::Dictionary { indices, dictionary } => {
            let flags: Vec<u8> =
                (0..dictionary.len()).map(|c| u8::from(wanted.contains(dictionary.get(c)))).collect();
            Some(
                indices
                    .iter()
                    .enumerate()
                    .map(
                        |(i, &code)| {
                            if valid(i) { flags.get(code as usize).copied().unwrap_or(0) } else { 0 }
                        },
                    )
                    .collect(),
            )
        }
        Values::Text(text) => {
            Some((0..text.len()).map(|i| u8::from(valid(i) && wanted.contains(text.get(i)))).collect())
        }
        _ => None,
    }
}

/// Key ids by first appearance for a column keyed through a hash map.
fn hashed<K: Hash + Eq>(
    len: usize,
    valid: impl Fn(usize) -> bool,
    key: impl Fn(usize) -> K,
) -> (Vec<u32>, usize, Option<Vec<u32>>) {
    let mut seen: HashMap<K, u32> = HashMap::new();
    let ids = (0..len)
        .map(|i| {
            if !valid(i) {
                return NONE;
            }
            let next = seen.len() as u32;
            *seen.entry(key(i)).or_insert(next)
        })
        .collect();
    (ids, seen.len(), None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sieve_sdk::data::{Bitmap, Text};

    use super::*;

    fn dictionary(codes: &[u32], words: &[&str]) -> Column {
        let dictionary = Arc::new(Text::from_iter(words.iter().copied()).into());
        Column::new("k", Values::Dictionary { indices: codes.to_vec(), dictionary })
    }

    fn groups(g: &Groups) -> Vec<Vec<u32>> {
        g.starts.windows(2).map(|w| g.rows[w[0] as usize..w[1] as usize].to_vec()).collect()
    }

    #[test]
    fn a_kept_grouping_is_the_one_asked_for_computed_once_and_only_whole_ones_are_kept() {
        let kept = Kept::default();
        let codes = dictionary(&[2, 0, 2, 3, 0, 2], &["a", "b", "c", "d"]);
        let ints = Column::new("n", Values::Int64(vec![7, 7, 8, 7, 9, 8]));
        let first = kept.group(0, 0, &codes, 1);
        assert_eq!(*first, group(&codes, 1));
        assert!(Arc::ptr_eq(&first, &kept.group(0, 0, &codes, 0)), "0 and 1 both keep every group");
        assert_eq!(kept.bytes(), first.bytes());
        // Another column or table is another grouping.
        assert_eq!(*kept.group(0, 1, &ints, 1), group(&ints, 1));
        assert_eq!(*kept.group(1, 0, &ints, 1), group(&ints, 1));
        assert!(!Arc::ptr_eq(&kept.group(0, 1, &ints, 1), &kept.group(1, 0, &ints, 1)));
        assert_eq!(kept.bytes(), first.bytes() + 2 * group(&ints, 1).bytes());
        // Groupings with a floor are computed, never kept: a model asking for every floor would
        // otherwise fill the process's memory.
        for min_rows in 2..50 {
            assert_eq!(*kept.group(0, 0, &codes, min_rows), group(&codes, min_rows));
        }
        assert_eq!(kept.bytes(), first.bytes() + 2 * group(&ints, 1).bytes());
    }

    #[test]
    fn codes_group_in_order_of_first_row_with_rows_ascending() {
        // Rows:        0  1  2  3  4  5
        let column = dictionary(&[2, 0, 2, 3, 0, 2], &["a", "b", "c", "d"]);
        let g = group(&column, 1);
        assert_eq!(groups(&g), vec![vec![0, 2, 5], vec![1, 4], vec![3]]);
        // Code 1 ("b") is held by no row.
        assert_eq!(g.group_of_code, vec![2, 0, 1, 3]);
    }

    #[test]
    fn min_rows_keeps_only_large_groups_and_renumbers_them() {
        let column = dictionary(&[2, 0, 2, 3, 0, 2], &["a", "b", "c", "d"]);
        let g = group(&column, 2);
        assert_eq!(groups(&g), vec![vec![0, 2, 5], vec![1, 4]]);
        assert_eq!(g.group_of_code, vec![2, 0, 1, 0]);
        assert!(group(&column, 4).is_empty());
        assert_eq!(group(&column, 0), group(&column, 1));
    }

    #[test]
    fn null_rows_are_in_no_group() {
        let mut column = dictionary(&[1, 1, 0, 1], &["x", "y"]);
        column.validity = Some(Bitmap::from_flags([true, false, true, true]));
        assert_eq!(groups(&group(&column, 1)), vec![vec![0, 3], vec![2]]);
        let mut plain = Column::new("t", Values::Text(Text::from_iter(["y", "y", "x", "y"])));
        plain.validity = Some(Bitmap::from_flags([false, true, true, true]));
        assert_eq!(groups(&group(&plain, 1)), vec![vec![1, 3], vec![2]]);
        assert!(group(&plain, 1).group_of_code.is_empty());
    }

    #[test]
    fn other_types_group_by_value() {
        let ints = Column::new("n", Values::Int64(vec![5, -1, 5, 5]));
        assert_eq!(groups(&group(&ints, 1)), vec![vec![0, 2, 3], vec![1]]);
        let floats = Column::new("f", Values::Float64(vec![0.0, -0.0, 1.5, 0.0]));
        assert_eq!(groups(&group(&floats, 1)), vec![vec![0, 1, 3], vec![2]]);
        let flags = Column::new("b", Values::Boolean(vec![true, false, true]));
        assert_eq!(groups(&group(&flags, 2)), vec![vec![0, 2]]);
    }

    #[test]
    fn matches_flags_the_rows_holding_a_wanted_value() {
        let mut column = dictionary(&[0, 1, 2, 1, 3], &["flight", "rail_g", "rail_d", "rail_other"]);
        column.validity = Some(Bitmap::from_flags([true, true, true, false, true]));
        assert_eq!(
            matches(&column, &["rail_g", "flight", "bus"]),
            Some(vec![1, 1, 0, 0, 0]),
            "row 3 is null"
        );
        let plain = Column::new("t", Values::Text(Text::from_iter(["a", "b", "a"])));
        assert_eq!(matches(&plain, &["a"]), Some(vec![1, 0, 1]));
        assert_eq!(matches(&plain, &[]), Some(vec![0, 0, 0]));
        assert_eq!(matches(&Column::new("n", Values::Int64(vec![1])), &["1"]), None, "text columns only");
    }

    #[test]
    fn a_code_outside_the_dictionary_is_in_no_group() {
        // The host never serves such a column; the guard keeps a bad one from panicking.
        let column = dictionary(&[0, 7, 0], &["a"]);
        assert_eq!(groups(&group(&column, 1)), vec![vec![0, 2]]);
    }

    #[test]
    fn working_and_result_sizes_cover_the_worst_case() {
        let column = dictionary(&[0, 1, 2, 3], &["a", "b", "c", "d"]);
        let g = group(&column, 1);
        assert!(g.bytes() <= result_bytes(&column));
        assert!(working_bytes(&column) >= 4 * 4);
    }
}
