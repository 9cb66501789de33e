//! Reading finished tables back for a task's labeller (see `TaskInfo::truth`): the cells a
//! definition from DOMAIN.md looks at, null where the cell is null or the column is absent.

use std::collections::HashSet;

use sieve_sdk::data::{Column, Values};

/// The finished tables of one generated dataset: (table name, columns).
pub type Tables<'a> = [(&'a str, Vec<Column>)];

/// The columns of table `name` (none if it is absent).
pub fn table<'a>(tables: &'a Tables<'_>, name: &str) -> &'a [Column] {
    tables.iter().find(|(n, _)| *n == name).map_or(&[], |(_, c)| c.as_slice())
}

/// The column called `name` in `columns`.
pub fn column<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|c| c.name == name)
}

/// Rows in a table.
pub fn rows(columns: &[Column]) -> usize {
    columns.first().map_or(0, Column::len)
}

/// Row `i` of a text column.
pub fn text(column: Option<&Column>, i: usize) -> Option<&str> {
    let c = column?;
    match &c.values {
        Values::Text(t) if c.is_valid(i) => Some(t.get(i)),
        _ => None,
    }
}

/// Row `i` of a date (days) or timestamp (milliseconds) column.
pub fn int(column: Option<&Column>, i: usize) -> Option<i64> {
    let c = column?;
    match &c.values {
        Values::Date(v) if c.is_valid(i) => Some(i64::from(v[i])),
        Values::Timestamp(v) if c.is_valid(i) => Some(v[i]),
        _ => None,
    }
}

/// Row `i` of a float column.
pub fn float(column: Option<&Column>, i: usize) -> Option<f64> {
    let c = column?;
    match &c.values {
        Values::Float64(v) if c.is_valid(i) => Some(v[i]),
        _ => None,
    }
}

/// Row `i` of a boolean column.
pub fn flag(column: Option<&Column>, i: usize) -> Option<bool> {
    let c = column?;
    match &c.values {
        Values::Boolean(v) if c.is_valid(i) => Some(v[i]),
        _ => None,
    }
}

/// Every pair of people `relations` links, in both directions (DOMAIN.md: either direction,
/// any kind).
pub fn related<'a>(tables: &'a Tables<'_>) -> HashSet<(&'a str, &'a str)> {
    let r = table(tables, "relations");
    let (a, b) = (column(r, "person_a"), column(r, "person_b"));
    let mut pairs = HashSet::new();
    for i in 0..rows(r) {
        if let (Some(x), Some(y)) = (text(a, i), text(b, i)) {
            pairs.insert((x, y));
            pairs.insert((y, x));
        }
    }
    pairs
}

/// Check that `truth` labels exactly the subjects `expected.txt` lists in the hand-written fixture
/// of `task` (`tests/fixtures/<task>/`, read as its contract types); returns the labels.
#[cfg(test)]
pub fn check_fixture(task: &str, truth: super::Truth) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(task);
    let specs = crate::datasets::contract::tables(task).expect("a task with a contract");
    let tables: Vec<(&str, Vec<Column>)> = specs
        .iter()
        .map(|spec| {
            let file = dir.join(format!("{}.csv", spec.name));
            (spec.name.as_str(), crate::datasets::csv_io::read_columns(&file, spec).expect("fixture table").0)
        })
        .collect();
    let labels = truth(&tables);
    let mut subjects: Vec<&str> = labels.iter().map(|(s, _)| s.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    let expected = std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
    assert_eq!(subjects, expected.lines().collect::<Vec<_>>(), "{task}");
    labels
}
