//! Building generated tables row by row, and writing a dataset directory (tables + labels).

use std::path::Path;

use sieve_sdk::ColumnType;
use sieve_sdk::data::{Column, ColumnBuilder};

use crate::datasets::{DataError, csv_io, parquet_io};

/// One cell of a generated row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Text.
    Text(&'a str),
    /// Days since 1970-01-01.
    Date(i32),
    /// Epoch milliseconds.
    Timestamp(i64),
    /// Integer.
    Int(i64),
    /// Float (rounded to cents by the caller where it is money).
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
}

/// A table being generated.
pub struct TableOut {
    /// Table name (file stem).
    pub name: &'static str,
    builders: Vec<ColumnBuilder>,
    types: Vec<ColumnType>,
    /// Rows so far.
    pub rows: usize,
}

impl TableOut {
    /// Table `name` of `task`, with the columns `datasets::contract` gives it (the single source
    /// of the table lists: generators never restate them).
    pub fn contract(task: &str, name: &'static str) -> Self {
        let spec = crate::datasets::contract::tables(task)
            .and_then(|tables| tables.into_iter().find(|t| t.name == name))
            .unwrap_or_else(|| panic!("generator bug: the {task} contract has no table {name}"));
        TableOut {
            name,
            builders: spec.columns.iter().map(|c| ColumnBuilder::new(&c.name, c.ty)).collect(),
            types: spec.columns.iter().map(|c| c.ty).collect(),
            rows: 0,
        }
    }

    /// Append one row; cells must follow the contract's order and types.
    pub fn push(&mut self, cells: &[Cell]) {
        assert_eq!(cells.len(), self.builders.len(), "{}: wrong cell count", self.name);
        for ((b, ty), cell) in self.builders.iter_mut().zip(&self.types).zip(cells) {
            let ok = match (cell, ty) {
                (Cell::Null, _) => {
                    b.push_null();
                    Ok(())
                }
                (Cell::Text(s), ColumnType::Text) if !s.is_empty() => b.push_cell(s),
                (Cell::Date(d), ColumnType::Date) => b.push_cell(&sieve_sdk::data::format_date(*d)),
                (Cell::Timestamp(t), ColumnType::Timestamp) => {
                    b.push_cell(&sieve_sdk::data::format_timestamp(*t))
                }
                (Cell::Int(i), ColumnType::Int64) => b.push_cell(&i.to_string()),
                (Cell::Float(f), ColumnType::Float64) => b.push_cell(&f.to_string()),
                (Cell::Bool(v), ColumnType::Boolean) => b.push_cell(if *v { "true" } else { "false" }),
                _ => Err(format!("{}: cell {cell:?} does not fit {ty}", self.name)),
            };
            // A cell that does not fit its column is a generator bug: stop rather than write
            // columns of unequal length.
            assert!(ok.is_ok(), "{ok:?}");
        }
        self.rows += 1;
    }

    /// The finished columns.
    pub fn finish(self) -> Vec<Column> {
        self.builders.into_iter().map(ColumnBuilder::finish).collect()
    }
}

/// Output format of generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Apache Parquet (Snappy).
    Parquet,
    /// CSV with a header row (DOMAIN.md conventions).
    Csv,
}

/// Write `columns` as table `name` in `dir`.
pub fn write(dir: &Path, name: &str, columns: &[Column], format: Format) -> Result<(), DataError> {
    match format {
        Format::Parquet => parquet_io::write_table(&dir.join(format!("{name}.parquet")), columns.to_vec()),
        Format::Csv => csv_io::write_table(&dir.join(format!("{name}.csv")), columns),
    }
}
