//! Datasets on disk: a directory with one CSV or Parquet file per table, read into typed columns.

pub mod column_file;
pub mod contract;
pub mod csv_io;
pub mod encoding;
pub mod parquet_io;

use std::path::{Path, PathBuf};

use sieve_sdk::data::{Column, Text, Values};
use sieve_sdk::ops::{self, FastMap};
use sieve_sdk::{ModelInfo, TableSpec};

use crate::sandbox::names;
use std::sync::Arc;

/// The file every benchmark keeps its answers in; never readable by a model.
pub const LABELS_FILE: &str = "labels.csv";

/// Why a dataset cannot feed a model. Each names the file, table, line or column at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The model declares a table the dataset directory lacks.
    #[error("dataset {dir} has no table {table:?} (looked for {table}.parquet and {table}.csv)")]
    MissingTable {
        /// Dataset directory.
        dir: String,
        /// Table name.
        table: String,
    },
    /// The model declares a column the table lacks.
    #[error("{file}: no column {column:?} (the model declares it; the file has: {available})")]
    MissingColumn {
        /// File path.
        file: String,
        /// Column name.
        column: String,
        /// Columns the file has.
        available: String,
    },
    /// A cell does not parse as the declared type.
    #[error("{file} {unit} {line}, column {column}: {message}")]
    BadCell {
        /// File path.
        file: String,
        /// `line` for CSV (header is line 1), `row` for Parquet (first row is 1).
        unit: &'static str,
        /// 1-based line or row number.
        line: u64,
        /// Column name.
        column: String,
        /// What was expected and found.
        message: String,
    },
    /// A Parquet column's type cannot be read as the declared type.
    #[error("{file}: column {column:?} is {found}, the model reads it as {wanted}")]
    WrongType {
        /// File path.
        file: String,
        /// Column name.
        column: String,
        /// Type in the file.
        found: String,
        /// Declared type.
        wanted: String,
    },
    /// The model declares a reserved table name.
    #[error("table name {0:?} is reserved: a model cannot read the labels")]
    ReservedTable(String),
    /// A table name that is not an identifier (it could name a path).
    #[error("table name {0} is not an identifier ([a-z0-9_], 1-64 bytes)")]
    BadTableName(String),
    /// The file could not be read or parsed at all.
    #[error("{file}: {message}")]
    Unreadable {
        /// File path.
        file: String,
        /// What went wrong.
        message: String,
    },
}

pub use crate::sandbox::ServedTable;

/// The file backing table `table` in `dir`, Parquet preferred. Only identifiers resolve, and
/// never the labels: a table name can never reach outside `dir` or the answers inside it.
pub fn table_file(dir: &Path, table: &str) -> Result<Option<PathBuf>, DataError> {
    if !names::is_identifier(table) {
        return Err(DataError::BadTableName(crate::text::quote(table)));
    }
    if table == names::LABELS_TABLE {
        return Err(DataError::ReservedTable(table.to_string()));
    }
    // Whatever sits under the name counts (a link, a FIFO): an import refuses those by name
    // rather than reporting the table missing.
    Ok(["parquet", "csv"]
        .iter()
        .map(|ext| dir.join(format!("{table}.{ext}")))
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir())))
}

/// Load every table `info` declares from `dir`, checking names and types on the way.
pub fn load_for_model(dir: &Path, info: &ModelInfo) -> Result<Vec<ServedTable>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Unreadable {
            file: dir.display().to_string(),
            message: "no such dataset directory".into(),
        });
    }
    info.inputs.iter().map(|spec| load_table(dir, spec)).collect()
}

/// Load one declared table from `dir`.
pub fn load_table(dir: &Path, spec: &TableSpec) -> Result<ServedTable, DataError> {
    let (columns, rows) = read_table(dir, spec)?;
    Ok(loaded(spec, columns, rows))
}

/// Read the declared columns of one table from `dir` (its CSV or Parquet file), typed as declared,
/// and how many rows it has.
pub fn read_table(dir: &Path, spec: &TableSpec) -> Result<(Vec<Column>, usize), DataError> {
    let file = table_file(dir, &spec.name)?.ok_or_else(|| DataError::MissingTable {
        dir: dir.display().to_string(),
        table: spec.name.clone(),
    })?;
    if file.extension().is_some_and(|e| e == "parquet") {
        parquet_io::read_columns(&file, spec)
    } else {
        csv_io::read_columns(&file, spec)
    }
}

/// A table of `rows` rows ready for a run: its columns, repetitive text dictionary-encoded. The
/// rows are given, not taken from a column: a model may declare a table without columns (to count
/// its rows, or cite them).
pub fn loaded(spec: &TableSpec, columns: Vec<Column>, rows: usize) -> ServedTable {
    let columns = columns.into_iter().map(dictionary_encode).collect();
    ServedTable { spec: spec.clone(), rows, columns }
}

/// Dictionary-encode a text column whose values repeat a lot (repair shops, lawyers, courts):
/// the guest then receives 4 bytes per row instead of the string.
pub fn dictionary_encode(column: Column) -> Column {
    dictionary_of(&column).unwrap_or(column)
}

/// `column` dictionary-encoded, when it is text whose values repeat a lot; `None` leaves it as
/// it is (and copies nothing).
pub fn dictionary_of(column: &Column) -> Option<Column> {
    let Values::Text(text) = &column.values else { return None };
    let rows = text.len();
    if rows < 64 {
        return None;
    }
    let mut codes: FastMap<&str, u32> = ops::fast_map();
    let mut dictionary = Text::new();
    let mut indices = Vec::with_capacity(rows);
    for i in 0..rows {
        // A null row's placeholder is no value: it gets code 0 and stays out of the dictionary.
        if !column.is_valid(i) {
            indices.push(0);
            continue;
        }
        let value = text.get(i);
        let next = codes.len() as u32;
        let code = *codes.entry(value).or_insert_with(|| {
            dictionary.push(value);
            next
        });
        indices.push(code);
        // Mostly distinct values (case numbers, ids) gain nothing: decide early, keep them plain.
        if i == rows / 8 && codes.len() > i * 3 / 4 {
            return None;
        }
    }
    if codes.len() > rows / 2 {
        return None;
    }
    if dictionary.is_empty() {
        // Every row is null: code 0 must still index something.
        dictionary.push("");
    }
    Some(Column {
        name: column.name.clone(),
        values: Values::Dictionary { indices, dictionary: Arc::new(dictionary.into()) },
        validity: column.validity.clone(),
    })
}

/// `tables` as a model reads them best: for one that reads shared dictionaries (built against
/// `sieve:model@0.1.1` or later, see `Plugin::shares_dictionaries`), the columns of each key
/// domain of `task` coded against one dictionary per domain; for an older one, as loaded. Every
/// run goes through here, so a model sees the same data whichever path started it.
pub fn served_to(shares: bool, task: &str, mut tables: Vec<ServedTable>) -> Vec<ServedTable> {
    if shares {
        share_dictionaries(&mut tables, contract::domains(task));
    }
    tables
}

/// Code the served columns of each key domain against one dictionary per domain: equal values
/// get equal codes across tables, so a model joins `seizures.plate` to `registrations.plate`, or
/// a debtor to an owner, by comparing numbers instead of hashing and comparing text. Only the
/// columns served (the model's declared ones) contribute values: a dictionary never shows a
/// model values of a column it did not declare. A column already coded against its own
/// dictionary is translated through it, one lookup per distinct value.
pub fn share_dictionaries(tables: &mut [ServedTable], domains: &[contract::Domain]) {
    for (_, members) in domains {
        let positions: Vec<(usize, usize)> = tables
            .iter()
            .enumerate()
            .flat_map(|(t, table)| {
                table.columns.iter().enumerate().filter_map(move |(c, column)| {
                    members.contains(&(table.spec.name.as_str(), column.name.as_str())).then_some((t, c))
                })
            })
            .filter(|&(t, c)| {
                matches!(tables[t].columns[c].values, Values::Text(_) | Values::Dictionary { .. })
            })
            .collect();
        // A lone column is coded too (a model groups it on codes), as a stored run serves it;
        // columns that already share one dictionary (read from an import-time encoding) are
        // served as they are.
        let dictionary_of = |&(t, c): &(usize, usize)| match &tables[t].columns[c].values {
            Values::Dictionary { dictionary, .. } => Some(Arc::as_ptr(dictionary)),
            _ => None,
        };
        let first = positions.first().and_then(dictionary_of);
        if positions.is_empty() || (first.is_some() && positions.iter().all(|p| dictionary_of(p) == first)) {
            continue;
        }
        let columns: Vec<&Column> = positions.iter().map(|&(t, c)| &tables[t].columns[c]).collect();
        let (pool, recoded) = encoding::pool(&columns);
        let pool = Arc::new(sieve_sdk::data::Dictionary::from(pool));
        for ((t, c), indices) in positions.into_iter().zip(recoded) {
            tables[t].columns[c].values = Values::Dictionary { indices, dictionary: pool.clone() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_never_reach_past_the_dataset_or_into_its_labels() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("judgments.csv"), "case_no\nc1\n").expect("write");
        std::fs::write(dir.join(LABELS_FILE), "subject,pattern\nc1,x\n").expect("write");
        std::fs::write(root.path().join("outside.csv"), "secret\ns\n").expect("write");
        let outside = root.path().join("outside");
        let absolute = outside.to_str().expect("utf-8");
        for name in ["./labels", "../outside", absolute, "Judgments", "judgments.csv"] {
            let e = table_file(&dir, name).expect_err(name);
            assert!(matches!(e, DataError::BadTableName(_)), "{name}: {e}");
        }
        assert!(matches!(table_file(&dir, "labels"), Err(DataError::ReservedTable(_))));
        assert_eq!(table_file(&dir, "judgments").expect("ok"), Some(dir.join("judgments.csv")));
        assert_eq!(table_file(&dir, "vehicles").expect("ok"), None);
    }

    /// A model may declare a table without columns (to count its rows, or cite them): it is
    /// served with its rows, from CSV and from Parquet alike.
    #[test]
    fn a_table_declared_without_columns_keeps_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bids.csv"), "bidder_id,amount\nb1,1\nb2,2\nb3,\n").expect("write");
        let columns = [text("item_id", &["i1", "i2", "i3", "i4"])];
        parquet_io::write_table(&dir.path().join("auctions.parquet"), columns.to_vec()).expect("parquet");
        for (table, rows) in [("bids", 3), ("auctions", 4)] {
            let served = load_table(dir.path(), &TableSpec::new(table)).expect(table);
            assert_eq!((served.rows, served.columns.len()), (rows, 0), "{table}");
        }
    }

    fn text(name: &str, values: &[&str]) -> Column {
        Column::new(name, Values::Text(values.iter().copied().collect()))
    }

    fn values(column: &Column) -> Vec<String> {
        match &column.values {
            Values::Dictionary { indices, dictionary } => {
                indices.iter().map(|&k| dictionary.get(k as usize).to_string()).collect()
            }
            other => panic!("not coded: {other:?}"),
        }
    }

    #[test]
    fn a_domain_shares_one_dictionary_among_its_served_columns() {
        let spec = |name: &str| TableSpec::new(name);
        let repetitive: Vec<&str> = (0..100).map(|i| ["kin", "affiliate"][i % 2]).collect();
        let mut tables = vec![
            ServedTable {
                spec: spec("seizures"),
                rows: 3,
                columns: vec![text("plate", &["A1", "B2", "A1"]), text("case_no", &["c1", "c2", "c3"])],
            },
            loaded(&spec("relations"), vec![text("kind", &repetitive)], repetitive.len()),
            ServedTable { spec: spec("registrations"), rows: 2, columns: vec![text("plate", &["B2", "Z9"])] },
        ];
        assert!(matches!(tables[1].columns[0].values, Values::Dictionary { .. }), "coded on its own first");
        let before: Vec<Vec<String>> = vec![
            vec!["A1".into(), "B2".into(), "A1".into()],
            vec!["c1".into(), "c2".into(), "c3".into()],
            repetitive.iter().map(|s| s.to_string()).collect(),
            vec!["B2".into(), "Z9".into()],
        ];
        // `registrations.owner` is in the domain but not served: it adds nothing.
        let domains: &[contract::Domain] =
            &[("plate", &[("seizures", "plate"), ("registrations", "plate"), ("registrations", "owner")])];
        share_dictionaries(&mut tables, domains);
        let columns: Vec<&Column> = tables.iter().flat_map(|t| &t.columns).collect();
        let as_text = |c: &Column| match &c.values {
            Values::Text(t) => (0..t.len()).map(|i| t.get(i).to_string()).collect(),
            _ => values(c),
        };
        assert_eq!(columns.iter().map(|c| as_text(c)).collect::<Vec<_>>(), before, "values unchanged");
        let dictionary = |t: usize, c: usize| match &tables[t].columns[c].values {
            Values::Dictionary { dictionary, .. } => dictionary.clone(),
            other => panic!("not coded: {other:?}"),
        };
        assert!(Arc::ptr_eq(&dictionary(0, 0), &dictionary(2, 0)), "the plates share one dictionary");
        assert!(
            matches!(tables[0].columns[1].values, Values::Text(_)),
            "a column in no domain stays as it was"
        );
        assert!(!Arc::ptr_eq(&dictionary(1, 0), &dictionary(0, 0)));
        let code = |t: usize, c: usize, row: usize| match &tables[t].columns[c].values {
            Values::Dictionary { indices, .. } => indices[row],
            _ => unreachable!(),
        };
        assert_eq!(code(0, 0, 1), code(2, 0, 0), "B2 is one code in both tables");
        assert_ne!(code(0, 0, 0), code(2, 0, 1));
        assert_eq!(dictionary(0, 0).len(), 3, "each distinct plate once, nothing else");
    }
}
