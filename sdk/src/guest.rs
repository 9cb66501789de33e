//! The WASM side: generated bindings for `sieve:model`, and the glue between them and the SDK.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::context::{Backend, Context};
use crate::data::{Batch, Bitmap, Column, Dictionary, Text, Values};
use crate::model::{
    self, AccessError, Clue, ColumnSpec, ColumnType, LogLevel, Model, ModelError, ParamValue, Params,
};

#[doc(hidden)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "supervision-model",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "sieve_sdk::guest::wit",
        runtime_path: "sieve_sdk::__wit_bindgen::rt",
    });
}

use wit::sieve::model::{host, types as w};

fn column_type(t: w::ColumnType) -> ColumnType {
    match t {
        w::ColumnType::Text => ColumnType::Text,
        w::ColumnType::Int64 => ColumnType::Int64,
        w::ColumnType::Float64 => ColumnType::Float64,
        w::ColumnType::Boolean => ColumnType::Boolean,
        w::ColumnType::Date => ColumnType::Date,
        w::ColumnType::Timestamp => ColumnType::Timestamp,
    }
}

fn wit_column_type(t: ColumnType) -> w::ColumnType {
    match t {
        ColumnType::Text => w::ColumnType::Text,
        ColumnType::Int64 => w::ColumnType::Int64,
        ColumnType::Float64 => w::ColumnType::Float64,
        ColumnType::Boolean => w::ColumnType::Boolean,
        ColumnType::Date => w::ColumnType::Date,
        ColumnType::Timestamp => w::ColumnType::Timestamp,
    }
}

fn wit_param_value(v: &ParamValue) -> w::ParamValue {
    match v {
        ParamValue::Int(x) => w::ParamValue::Int(*x),
        ParamValue::Float(x) => w::ParamValue::Float(*x),
        ParamValue::Boolean(x) => w::ParamValue::Boolean(*x),
        ParamValue::Text(x) => w::ParamValue::Text(x.clone()),
    }
}

fn access_error(e: w::AccessError) -> AccessError {
    match e {
        w::AccessError::UnknownTable(t) => AccessError::UnknownTable(t),
        w::AccessError::UndeclaredColumn(c) => AccessError::UndeclaredColumn(c),
        w::AccessError::NotDictionary(c) => AccessError::NotDictionary(c),
    }
}

thread_local! {
    /// The run's open tables, by handle. Kept here rather than in [`HostBackend`] so that `ops`
    /// can ask the host to group a loaded column ([`group`]) without a context at hand; a guest
    /// runs on one thread.
    static TABLES: RefCell<Vec<host::Table>> = const { RefCell::new(Vec::new()) };
}

/// The host's grouping of table `table`'s `column` (whole table, every group), or `None` if the
/// host refused: the caller then groups the rows itself.
pub(crate) fn group(table: usize, column: &str) -> Option<w::Grouping> {
    TABLES.with_borrow(|tables| tables.get(table)?.group(column, 1).ok())
}

fn with_table<T>(table: usize, f: impl FnOnce(&host::Table) -> T) -> Result<T, AccessError> {
    TABLES
        .with_borrow(|tables| tables.get(table).map(f))
        .ok_or_else(|| AccessError::UnknownTable(format!("#{table}")))
}

/// The backend that calls the host's imports.
#[derive(Default)]
struct HostBackend {
    /// Dictionaries by the host's id: columns that share one get the same `Arc`, which is how
    /// `ops` knows their codes compare directly.
    dictionaries: HashMap<u32, Arc<Dictionary>>,
}

impl HostBackend {
    /// The dictionary of `column`, once per host id. Only its size is asked for here: its text
    /// comes on the first value the model reads from it, so a model that groups and joins on codes
    /// and reads its clues' words with `rows` never copies a dictionary in.
    fn dictionary(&mut self, table: usize, column: &str) -> Result<Arc<Dictionary>, AccessError> {
        let id = with_table(table, |t| t.dictionary_id(column))?.map_err(access_error)?;
        if let Some(d) = self.dictionaries.get(&id) {
            return Ok(d.clone());
        }
        let size = with_table(table, |t| t.dictionary_size(column))?.map_err(access_error)?;
        let column = column.to_string();
        let fetch = move || {
            let raw = with_table(table, |t| t.dictionary(&column))
                .map_err(|e| e.to_string())?
                .map_err(|e| access_error(e).to_string())?;
            Text::from_host(raw.bytes, raw.offsets).map_err(|e| format!("{column}: {e}"))
        };
        let dictionary = Arc::new(Dictionary::lazy(size as usize, Box::new(fetch)));
        self.dictionaries.insert(id, dictionary.clone());
        Ok(dictionary)
    }

    /// Columns of `len` rows as the host sent them, each dictionary sized once (its text comes on
    /// first use).
    fn columns(
        &mut self,
        table: usize,
        sent: Vec<w::Column>,
        len: usize,
    ) -> Result<Vec<Column>, AccessError> {
        let mut out = Vec::with_capacity(sent.len());
        for c in sent {
            let values = match c.data {
                w::ColumnData::Text(t) => Values::Text(
                    Text::from_host(t.bytes, t.offsets)
                        .map_err(|e| AccessError::UndeclaredColumn(format!("{}: {e}", c.name)))?,
                ),
                w::ColumnData::Dictionary(indices) => {
                    Values::Dictionary { indices, dictionary: self.dictionary(table, &c.name)? }
                }
                w::ColumnData::Int64(v) => Values::Int64(v),
                w::ColumnData::Float64(v) => Values::Float64(v),
                w::ColumnData::Boolean(v) => Values::Boolean(v),
                w::ColumnData::Date(v) => Values::Date(v),
                w::ColumnData::Timestamp(v) => Values::Timestamp(v),
            };
            out.push(Column {
                name: c.name,
                values,
                validity: c.validity.map(|b| Bitmap::from_bytes(b, len)),
            });
        }
        Ok(out)
    }
}

impl Backend for HostBackend {
    fn open_table(&mut self, name: &str) -> Result<usize, AccessError> {
        let t = host::open_table(name).map_err(access_error)?;
        Ok(TABLES.with_borrow_mut(|tables| {
            tables.push(t);
            tables.len() - 1
        }))
    }

    fn row_count(&mut self, table: usize) -> u64 {
        with_table(table, |t| t.row_count()).unwrap_or(0)
    }

    fn schema(&mut self, table: usize) -> Vec<ColumnSpec> {
        with_table(table, |t| {
            t.schema().into_iter().map(|c| ColumnSpec { name: c.name, ty: column_type(c.type_) }).collect()
        })
        .unwrap_or_default()
    }

    fn read(
        &mut self,
        table: usize,
        columns: &[&str],
        start: u64,
        max_rows: u32,
    ) -> Result<Batch, AccessError> {
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let raw = with_table(table, |t| t.read(&names, start, max_rows))?.map_err(access_error)?;
        let len = raw.len as usize;
        let columns = self.columns(table, raw.columns, len)?;
        Ok(Batch { start: raw.start, len, columns })
    }

    fn read_rows(
        &mut self,
        table: usize,
        columns: &[&str],
        rows: &[u32],
    ) -> Result<Vec<Column>, AccessError> {
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let raw = with_table(table, |t| t.read_rows(&names, rows))?.map_err(access_error)?;
        self.columns(table, raw, rows.len())
    }

    fn emit(&mut self, clues: Vec<Clue>) {
        let clues: Vec<w::Clue> = clues
            .into_iter()
            .map(|c| w::Clue {
                subject: c.subject,
                score: c.score,
                rule: c.rule,
                reason: c.reason,
                evidence: c
                    .evidence
                    .into_iter()
                    .map(|e| w::Evidence { table: e.table, row: e.row })
                    .collect(),
            })
            .collect();
        host::emit(&clues);
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => w::LogLevel::Debug,
            LogLevel::Info => w::LogLevel::Info,
            LogLevel::Warn => w::LogLevel::Warn,
            LogLevel::Error => w::LogLevel::Error,
        };
        host::log(level, message);
    }

    fn progress(&mut self, done: u64, total: u64) {
        host::progress(done, total);
    }
}

/// `describe` export body for model `M`.
#[doc(hidden)]
pub fn describe<M: Model>() -> w::ModelInfo {
    let info = M::describe();
    w::ModelInfo {
        name: info.name,
        version: info.version,
        summary: info.summary,
        task: info.task,
        subject_kind: info.subject_kind,
        inputs: info
            .inputs
            .into_iter()
            .map(|t| w::TableSpec {
                name: t.name,
                columns: t
                    .columns
                    .into_iter()
                    .map(|c| w::ColumnSpec { name: c.name, type_: wit_column_type(c.ty) })
                    .collect(),
            })
            .collect(),
        params: info
            .params
            .iter()
            .map(|p| w::ParamSpec {
                name: p.name.clone(),
                type_: match p.ty() {
                    model::ParamType::Int => w::ParamType::Int,
                    model::ParamType::Float => w::ParamType::Float,
                    model::ParamType::Boolean => w::ParamType::Boolean,
                    model::ParamType::Text => w::ParamType::Text,
                },
                default: wit_param_value(&p.default),
                description: p.description.clone(),
            })
            .collect(),
    }
}

/// `run` export body for model `M`.
#[doc(hidden)]
pub fn run<M: Model>(params: Vec<w::Param>) -> Result<(), w::ModelError> {
    let params = Params::from_pairs(params.into_iter().map(|p| {
        let v = match p.value {
            w::ParamValue::Int(x) => ParamValue::Int(x),
            w::ParamValue::Float(x) => ParamValue::Float(x),
            w::ParamValue::Boolean(x) => ParamValue::Boolean(x),
            w::ParamValue::Text(x) => ParamValue::Text(x),
        };
        (p.name, v)
    }));
    let mut backend = HostBackend::default();
    let result = {
        let mut ctx = Context::new(&mut backend, params);
        let r = M::run(&mut ctx);
        ctx.flush();
        r
    };
    TABLES.with_borrow_mut(Vec::clear);
    result.map_err(|e| match e {
        ModelError::BadParam(m) => w::ModelError::BadParam(m),
        ModelError::BadData(m) => w::ModelError::BadData(m),
        ModelError::Failed(m) => w::ModelError::Failed(m),
    })
}
