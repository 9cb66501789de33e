//! The native backend: run a model in-process on in-memory tables, for unit tests and baselines.
//!
//! It enforces what the WASM host enforces: declared tables and columns only, every declared
//! input present with its declared type, parameters resolved against their declarations.

use std::collections::BTreeMap;

use crate::context::{Backend, Context};
use crate::data::{Batch, Column, ColumnBuilder};
use crate::model::{
    AccessError, Clue, ColumnSpec, LogLevel, Model, ModelError, ModelInfo, Params, TableSpec,
};

/// In-memory tables, by name.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    tables: BTreeMap<String, Vec<Column>>,
}

impl Dataset {
    /// No tables.
    pub fn new() -> Self {
        Dataset::default()
    }

    /// Add (or replace) table `name` made of `columns`, all of the same length.
    pub fn with_table(mut self, name: &str, columns: Vec<Column>) -> Self {
        self.tables.insert(name.to_string(), columns);
        self
    }

    /// Parse CSV texts (header row first) into tables, typing each declared column as `info`
    /// declares it. Undeclared columns are dropped, as the host drops them.
    ///
    /// ```
    /// # use sieve_sdk::{ModelInfo, TableSpec, native::Dataset};
    /// let info = ModelInfo::new("m", "0.1.0").input(TableSpec::new("t").text(&["id"]).int64(&["n"]));
    /// let data = Dataset::from_csv(&info, &[("t", "id,n,extra\na,1,x\nb,,y\n")]).unwrap();
    /// assert_eq!(data.row_count("t"), Some(2));
    /// ```
    pub fn from_csv(info: &ModelInfo, tables: &[(&str, &str)]) -> Result<Self, String> {
        let mut dataset = Dataset::new();
        for (name, text) in tables {
            let Some(spec) = info.input_table(name) else { continue };
            dataset.tables.insert(name.to_string(), parse_csv_table(spec, text)?);
        }
        Ok(dataset)
    }

    /// Rows in table `name`, if present.
    pub fn row_count(&self, name: &str) -> Option<usize> {
        self.tables.get(name).map(|cols| cols.first().map_or(0, Column::len))
    }

    /// Check that every table and column `info` declares is present with the declared type.
    pub fn check_inputs(&self, info: &ModelInfo) -> Result<(), String> {
        for spec in &info.inputs {
            let cols = self.tables.get(&spec.name).ok_or_else(|| format!("missing table {:?}", spec.name))?;
            for c in &spec.columns {
                let col = cols
                    .iter()
                    .find(|k| k.name == c.name)
                    .ok_or_else(|| format!("table {:?} has no column {:?}", spec.name, c.name))?;
                if col.values.column_type() != c.ty {
                    return Err(format!(
                        "{}.{} is {}, the model reads it as {}",
                        spec.name,
                        c.name,
                        col.values.column_type(),
                        c.ty
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A tiny CSV reader (RFC 4180 quoting) for test fixtures; hosts use a real CSV crate.
fn split_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

fn parse_csv_table(spec: &TableSpec, text: &str) -> Result<Vec<Column>, String> {
    let rows = split_csv(text);
    let header = rows.first().ok_or_else(|| format!("{}: empty CSV", spec.name))?;
    let mut columns = Vec::new();
    for c in &spec.columns {
        let Some(pos) = header.iter().position(|h| h.trim() == c.name) else { continue };
        let mut builder = ColumnBuilder::new(&c.name, c.ty);
        for (line, row) in rows.iter().enumerate().skip(1) {
            let cell = row.get(pos).map(String::as_str).unwrap_or("");
            builder
                .push_cell(cell)
                .map_err(|e| format!("{}.csv line {}, column {}: {e}", spec.name, line + 1, c.name))?;
        }
        columns.push(builder.finish());
    }
    Ok(columns)
}

/// What a native run produced.
#[derive(Debug, Clone, Default)]
pub struct NativeOutput {
    /// Clues in emission order.
    pub clues: Vec<Clue>,
    /// Log lines.
    pub logs: Vec<(LogLevel, String)>,
    /// Last progress report.
    pub progress: Option<(u64, u64)>,
}

struct MemBackend<'d> {
    dataset: &'d Dataset,
    declared: &'d [TableSpec],
    open: Vec<(&'d TableSpec, &'d [Column])>,
    output: NativeOutput,
    /// The first clue the host would have refused, and why.
    invalid: Option<String>,
}

impl<'d> MemBackend<'d> {
    /// Open table `table`'s row count and its columns `names`, each of them declared; else the
    /// access error for the first that is not (as the host refuses it).
    fn declared_columns(
        &self,
        table: usize,
        names: &[&str],
    ) -> Result<(usize, Vec<&'d Column>), AccessError> {
        let (spec, cols) =
            *self.open.get(table).ok_or_else(|| AccessError::UnknownTable(format!("#{table}")))?;
        let picked = names
            .iter()
            .map(|name| {
                cols.iter()
                    .find(|c| &c.name == name)
                    .filter(|_| spec.find(name).is_some())
                    .ok_or_else(|| AccessError::UndeclaredColumn(format!("{}.{name}", spec.name)))
            })
            .collect::<Result<_, _>>()?;
        Ok((cols.first().map_or(0, Column::len), picked))
    }

    fn check(&self, clue: &Clue) -> Result<(), String> {
        clue.check()?;
        for e in &clue.evidence {
            let rows = self
                .declared
                .iter()
                .find(|t| t.name == e.table)
                .and_then(|_| self.dataset.tables.get(&e.table))
                .and_then(|cols| cols.first())
                .map(Column::len)
                .ok_or_else(|| {
                    format!(
                        "{}: evidence names table {:?}, which the model did not declare",
                        clue.subject, e.table
                    )
                })?;
            if e.row >= rows as u64 {
                return Err(format!(
                    "{}: evidence row {} of {:?} is past its {rows} rows",
                    clue.subject, e.row, e.table
                ));
            }
        }
        Ok(())
    }
}

impl Backend for MemBackend<'_> {
    fn open_table(&mut self, name: &str) -> Result<usize, AccessError> {
        let spec = self.declared.iter().find(|t| t.name == name);
        let cols = self.dataset.tables.get(name);
        match (spec, cols) {
            (Some(spec), Some(cols)) => {
                self.open.push((spec, cols));
                Ok(self.open.len() - 1)
            }
            _ => Err(AccessError::UnknownTable(name.to_string())),
        }
    }

    fn row_count(&mut self, table: usize) -> u64 {
        self.open.get(table).and_then(|(_, cols)| cols.first()).map_or(0, |c| c.len() as u64)
    }

    fn schema(&mut self, table: usize) -> Vec<ColumnSpec> {
        self.open.get(table).map(|(spec, _)| spec.columns.clone()).unwrap_or_default()
    }

    fn read(
        &mut self,
        table: usize,
        columns: &[&str],
        start: u64,
        max_rows: u32,
    ) -> Result<Batch, AccessError> {
        let (rows, picked) = self.declared_columns(table, columns)?;
        let start = (start as usize).min(rows);
        let end = start.saturating_add(max_rows as usize).min(rows);
        let columns = picked.iter().map(|c| c.slice(start, end)).collect();
        Ok(Batch { start: start as u64, len: end - start, columns })
    }

    fn read_rows(
        &mut self,
        table: usize,
        columns: &[&str],
        rows: &[u32],
    ) -> Result<Vec<Column>, AccessError> {
        let (_, picked) = self.declared_columns(table, columns)?;
        Ok(picked.iter().map(|c| c.gather(rows)).collect())
    }

    fn emit(&mut self, clues: Vec<Clue>) {
        // The host's rules, so a model's own tests catch a clue the host would refuse.
        for clue in &clues {
            if self.invalid.is_none() {
                self.invalid = self.check(clue).err();
            }
        }
        self.output.clues.extend(clues);
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.output.logs.push((level, message.to_string()));
    }

    fn progress(&mut self, done: u64, total: u64) {
        self.output.progress = Some((done, total));
    }
}

/// Why a native run did not complete.
#[derive(Debug, Clone, PartialEq)]
pub enum NativeError {
    /// The dataset lacks a declared input, or a parameter is bad.
    BadInput(String),
    /// The model returned an error.
    Model(ModelError),
    /// The model emitted a clue the host would refuse.
    InvalidClue(String),
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::BadInput(m) => write!(f, "bad input: {m}"),
            NativeError::Model(e) => write!(f, "model error: {e}"),
            NativeError::InvalidClue(m) => write!(f, "invalid clue: {m}"),
        }
    }
}

impl std::error::Error for NativeError {}

/// Run model `M` natively on `dataset` with `name=value` parameter settings.
pub fn run<M: Model>(dataset: &Dataset, settings: &[(&str, &str)]) -> Result<NativeOutput, NativeError> {
    let info = M::describe();
    let settings: Vec<(String, String)> =
        settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let params = info.resolve_params(&settings).map_err(NativeError::BadInput)?;
    run_with::<M>(&info, dataset, params)
}

/// Run model `M` natively with already resolved parameters (what hosts and benchmarks call).
pub fn run_with<M: Model>(
    info: &ModelInfo,
    dataset: &Dataset,
    params: Params,
) -> Result<NativeOutput, NativeError> {
    dataset.check_inputs(info).map_err(NativeError::BadInput)?;
    let mut backend = MemBackend {
        dataset,
        declared: &info.inputs,
        open: Vec::new(),
        output: NativeOutput::default(),
        invalid: None,
    };
    let result = {
        let mut ctx = Context::new(&mut backend, params);
        let r = M::run(&mut ctx);
        ctx.flush();
        r
    };
    result.map_err(NativeError::Model)?;
    if let Some(problem) = backend.invalid {
        return Err(NativeError::InvalidClue(problem));
    }
    Ok(backend.output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Model, ModelInfo, TableSpec};

    /// Emits one clue, spoilt as the `spoil` parameter says.
    struct Spoiler;

    impl Model for Spoiler {
        fn describe() -> ModelInfo {
            ModelInfo::new("spoiler", "0.1.0")
                .task("vehicle-insurance-fraud", "case")
                .input(TableSpec::new("judgments").text(&["case_no"]))
                .param_text("spoil", "none", "How to spoil the clue.")
        }

        fn run(ctx: &mut Context) -> Result<(), ModelError> {
            let spoil: String = ctx.param("spoil")?;
            let clue = match spoil.as_str() {
                "escape" => Clue::new("\u{1b}[2Jc1", 0.5, "r", "x"),
                "rule" => Clue::new("c1", 0.5, &"r".repeat(65), "x"),
                "evidence" => Clue::new("c1", 0.5, "r", "x").evidence("judgments", [5]),
                "table" => Clue::new("c1", 0.5, "r", "x").evidence("labels", [0]),
                _ => Clue::new("c1", 0.5, "r", "x").evidence("judgments", [0]),
            };
            ctx.emit(clue);
            Ok(())
        }
    }

    /// Reads chosen rows, as the `rows` parameter lists them, and emits one clue per row read.
    struct Picker;

    impl Model for Picker {
        fn describe() -> ModelInfo {
            ModelInfo::new("picker", "0.1.0")
                .task("vehicle-insurance-fraud", "case")
                .input(TableSpec::new("judgments").text(&["case_no", "repair_shop"]))
                .param_text("rows", "", "Row numbers, comma-separated.")
                .param_text("column", "case_no", "The column to read.")
        }

        fn run(ctx: &mut Context) -> Result<(), ModelError> {
            let rows: String = ctx.param("rows")?;
            let column: String = ctx.param("column")?;
            let rows: Vec<u32> =
                rows.split(',').filter(|r| !r.is_empty()).map(|r| r.parse().expect("row")).collect();
            let picked = ctx.table("judgments")?.rows(&[column.as_str()], &rows)?;
            let text = picked.text(&column)?;
            for (i, &row) in rows.iter().enumerate() {
                ctx.emit(Clue::new(format!("<{}>", text.str(i)), 0.5, "r", format!("row {row}")));
            }
            Ok(())
        }
    }

    #[test]
    fn rows_reads_the_chosen_rows_in_order_and_names_a_bad_one() {
        let csv = "case_no,repair_shop\nc0,s\nc1,s\n,s\nc3,s\n";
        let data = Dataset::from_csv(&Picker::describe(), &[("judgments", csv)]).expect("data");
        let out = run::<Picker>(&data, &[("rows", "3,0,3,2")]).expect("rows in range");
        let got: Vec<(&str, &str)> =
            out.clues.iter().map(|c| (c.subject.as_str(), c.reason.as_str())).collect();
        assert_eq!(got, [("<c3>", "row 3"), ("<c0>", "row 0"), ("<c3>", "row 3"), ("<>", "row 2")]);
        assert!(run::<Picker>(&data, &[("rows", "")]).expect("no rows").clues.is_empty());
        match run::<Picker>(&data, &[("rows", "1,4")]) {
            Err(NativeError::Model(ModelError::Failed(m))) => {
                assert!(m.contains("row 4 of table judgments") && m.contains("4 rows"), "{m}")
            }
            other => panic!("a row past the end: {other:?}"),
        }
        let undeclared = run::<Picker>(&data, &[("rows", "0"), ("column", "plaintiff_id")]);
        assert!(undeclared.is_err_and(|e| e.to_string().contains("plaintiff_id")), "an undeclared column");
    }

    #[test]
    fn clues_the_host_would_refuse_fail_native_runs_too() {
        let data = Dataset::from_csv(&Spoiler::describe(), &[("judgments", "case_no\nc1\n")]).expect("data");
        assert_eq!(run::<Spoiler>(&data, &[]).expect("a good clue").clues.len(), 1);
        for (spoil, needle) in [
            ("escape", "control characters"),
            ("rule", "rule"),
            ("evidence", "past its 1 rows"),
            ("table", "did not declare"),
        ] {
            match run::<Spoiler>(&data, &[("spoil", spoil)]) {
                Err(NativeError::InvalidClue(m)) => assert!(m.contains(needle), "{spoil}: {m}"),
                other => panic!("{spoil}: {other:?}"),
            }
        }
    }
}
