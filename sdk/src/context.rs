//! The model's view of a run: parameters, declared tables loaded as typed columns, clue emission.

use crate::data::{Batch, Bitmap, Column, Dictionary, Text, Values};
use crate::model::{AccessError, Clue, ColumnSpec, FromParam, LogLevel, ModelError, Params};

/// A batch size for [`TableReader::for_each_batch`] that amortises the boundary without holding much.
pub const DEFAULT_BATCH_ROWS: u32 = 65_536;
/// Rows fetched per host call by [`TableReader::load`]: whole tables up to this size arrive in one
/// batch, which the frame then owns as is, with no second copy into an accumulating column.
const LOAD_BATCH_ROWS: u32 = 1 << 20;
/// Rows one [`Backend::read_rows`] call names at most (the host's limit on `table.read-rows`).
pub const MAX_ROWS_PER_CALL: usize = 1 << 20;
/// Clues buffered before they are handed to the host in one call.
const EMIT_BATCH: usize = 512;

/// Where tables come from and clues go: the WASM host, or the in-memory native harness.
pub trait Backend {
    /// Open a declared table; returns a handle.
    fn open_table(&mut self, name: &str) -> Result<usize, AccessError>;
    /// Rows in the table.
    fn row_count(&mut self, table: usize) -> u64;
    /// The readable (declared) columns of the table.
    fn schema(&mut self, table: usize) -> Vec<ColumnSpec>;
    /// Up to `max_rows` rows from `start`, projected to `columns`.
    fn read(
        &mut self,
        table: usize,
        columns: &[&str],
        start: u64,
        max_rows: u32,
    ) -> Result<Batch, AccessError>;
    /// `columns` at `rows` (each below the table's row count, at most [`MAX_ROWS_PER_CALL`]), in
    /// that order, text decoded.
    fn read_rows(&mut self, table: usize, columns: &[&str], rows: &[u32])
    -> Result<Vec<Column>, AccessError>;
    /// Hand clues over.
    fn emit(&mut self, clues: Vec<Clue>);
    /// Log a line.
    fn log(&mut self, level: LogLevel, message: &str);
    /// Report progress.
    fn progress(&mut self, done: u64, total: u64);
}

/// Everything a model's `run` gets: parameters, tables, and the clue sink.
pub struct Context<'b> {
    backend: &'b mut dyn Backend,
    params: Params,
    pending: Vec<Clue>,
}

impl<'b> Context<'b> {
    /// A context over a backend (used by the SDK's guest glue and native harness).
    pub fn new(backend: &'b mut dyn Backend, params: Params) -> Self {
        Context { backend, params, pending: Vec::new() }
    }

    /// The value of parameter `name`, converted to `T` (`let min: u32 = ctx.param("min-cases")?;`).
    pub fn param<T: FromParam>(&self, name: &str) -> Result<T, ModelError> {
        let value = self
            .params
            .get(name)
            .ok_or_else(|| ModelError::BadParam(format!("parameter {name:?} was not declared")))?;
        T::from_param(value).map_err(|e| ModelError::BadParam(format!("{name}: {e}")))
    }

    /// Open a declared table.
    pub fn table(&mut self, name: &str) -> Result<TableReader<'_, 'b>, ModelError> {
        let handle = self.backend.open_table(name)?;
        Ok(TableReader { ctx: self, handle, name: name.to_string() })
    }

    /// Emit a clue (buffered; handed to the host in batches).
    pub fn emit(&mut self, clue: Clue) {
        self.pending.push(clue);
        if self.pending.len() >= EMIT_BATCH {
            self.flush();
        }
    }

    /// Hand buffered clues to the host now.
    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.backend.emit(std::mem::take(&mut self.pending));
        }
    }

    /// Log a line at `level`.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        self.backend.log(level, message);
    }

    /// Log an informational line.
    pub fn info(&mut self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Log a warning.
    pub fn warn(&mut self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// Report progress: `done` of `total`.
    pub fn progress(&mut self, done: u64, total: u64) {
        self.backend.progress(done, total);
    }
}

/// An open table; load columns from it whole or walk it in batches.
pub struct TableReader<'c, 'b> {
    ctx: &'c mut Context<'b>,
    handle: usize,
    name: String,
}

impl TableReader<'_, '_> {
    /// Number of rows.
    pub fn row_count(&mut self) -> u64 {
        self.ctx.backend.row_count(self.handle)
    }

    /// The declared columns and their types.
    pub fn schema(&mut self) -> Vec<ColumnSpec> {
        self.ctx.backend.schema(self.handle)
    }

    /// Call `f` on each batch of `columns`, `batch_rows` rows at a time.
    pub fn for_each_batch(
        &mut self,
        columns: &[&str],
        batch_rows: u32,
        mut f: impl FnMut(Batch) -> Result<(), ModelError>,
    ) -> Result<(), ModelError> {
        let total = self.row_count();
        let mut start = 0u64;
        while start < total {
            let batch = self.ctx.backend.read(self.handle, columns, start, batch_rows.max(1))?;
            if batch.len == 0 {
                break;
            }
            start += batch.len as u64;
            f(batch)?;
        }
        Ok(())
    }

    /// Load whole `columns` of the table into memory.
    pub fn load(&mut self, columns: &[&str]) -> Result<Frame, ModelError> {
        let mut loaded: Option<Vec<Column>> = None;
        let mut len = 0usize;
        let table = self.name.clone();
        let total = self.row_count();
        self.for_each_batch(columns, LOAD_BATCH_ROWS, |batch| {
            len += batch.len;
            match &mut loaded {
                None => {
                    let mut columns = batch.columns;
                    let rest = (total as usize).saturating_sub(batch.len);
                    columns.iter_mut().for_each(|c| c.values.reserve(rest));
                    loaded = Some(columns);
                }
                Some(cols) => {
                    for (acc, part) in cols.iter_mut().zip(&batch.columns) {
                        if !acc.extend(part) {
                            return Err(ModelError::BadData(format!(
                                "{table}.{}: batches disagree on the column's type",
                                acc.name
                            )));
                        }
                    }
                }
            }
            Ok(())
        })?;
        let columns = match loaded {
            Some(c) => c,
            // An empty table: ask for a zero-row batch so the columns still exist with their types.
            None => self.ctx.backend.read(self.handle, columns, 0, 0)?.columns,
        };
        // Whole columns of a table the host serves: `ops` may have the host group them.
        let source = (len as u64 == total).then_some(self.handle);
        Ok(Frame { table: self.name.clone(), len, columns, source })
    }

    /// `columns` at the chosen `rows` only, in that order (a row may repeat): value `i` of each
    /// column is the table's value at row `rows[i]`, text decoded. A model that finds its clues
    /// on keys (compared by code) reads the subject and the words of a clue's reason this way,
    /// for the rows that became clues, instead of loading whole text columns and dictionaries.
    ///
    /// ```ignore
    /// let text = ctx.table("judgments")?.rows(&["case_no", "repair_shop"], &clue_rows)?;
    /// let (case_no, shop) = (text.text("case_no")?, text.text("repair_shop")?);
    /// ```
    pub fn rows(&mut self, columns: &[&str], rows: &[u32]) -> Result<Frame, ModelError> {
        let total = self.row_count();
        if let Some(&past) = rows.iter().find(|&&r| u64::from(r) >= total) {
            return Err(ModelError::Failed(format!(
                "row {past} of table {} asked for; it has {total} rows",
                self.name
            )));
        }
        let mut gathered: Option<Vec<Column>> = None;
        for chunk in rows.chunks(MAX_ROWS_PER_CALL) {
            let part = self.ctx.backend.read_rows(self.handle, columns, chunk)?;
            match &mut gathered {
                None => gathered = Some(part),
                Some(columns) => {
                    for (acc, more) in columns.iter_mut().zip(&part) {
                        acc.extend(more);
                    }
                }
            }
        }
        let columns = match gathered {
            Some(columns) => columns,
            None => self.ctx.backend.read_rows(self.handle, columns, &[])?,
        };
        Ok(Frame { table: self.name.clone(), len: rows.len(), columns, source: None })
    }
}

/// Whole columns of one table, loaded into memory, with typed accessors.
#[derive(Debug, Clone)]
pub struct Frame {
    table: String,
    len: usize,
    columns: Vec<Column>,
    /// The backend's handle of the table, when the frame holds every row of it as served.
    source: Option<usize>,
}

impl Frame {
    /// A frame from loaded columns (all of length `len`).
    pub fn new(table: &str, len: usize, columns: Vec<Column>) -> Self {
        Frame { table: table.to_string(), len, columns, source: None }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The loaded columns, taken out of the frame (to hand them to another engine whole).
    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn column(&self, name: &str) -> Result<&Column, ModelError> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            ModelError::Failed(format!("column {name:?} was not loaded from table {:?}", self.table))
        })
    }

    fn mismatch(&self, name: &str, wanted: &str, col: &Column) -> ModelError {
        ModelError::BadData(format!("{}.{name} is {}, not {wanted}", self.table, col.values.column_type()))
    }

    /// A text column.
    pub fn text(&self, name: &str) -> Result<TextCol<'_>, ModelError> {
        let col = self.column(name)?;
        let source = self.source.map(|table| (table, col.name.as_str()));
        match &col.values {
            Values::Text(t) => {
                Ok(TextCol { repr: TextRepr::Plain(t), validity: col.validity.as_ref(), source })
            }
            Values::Dictionary { indices, dictionary } => Ok(TextCol {
                repr: TextRepr::Dict(indices, dictionary),
                validity: col.validity.as_ref(),
                source,
            }),
            _ => Err(self.mismatch(name, "text", col)),
        }
    }

    /// A float column.
    pub fn float64(&self, name: &str) -> Result<Prim<'_, f64>, ModelError> {
        let col = self.column(name)?;
        match &col.values {
            Values::Float64(v) => Ok(Prim { values: v, validity: col.validity.as_ref() }),
            _ => Err(self.mismatch(name, "float64", col)),
        }
    }

    /// An integer column.
    pub fn int64(&self, name: &str) -> Result<Prim<'_, i64>, ModelError> {
        let col = self.column(name)?;
        match &col.values {
            Values::Int64(v) => Ok(Prim { values: v, validity: col.validity.as_ref() }),
            _ => Err(self.mismatch(name, "int64", col)),
        }
    }

    /// A boolean column.
    pub fn boolean(&self, name: &str) -> Result<Prim<'_, bool>, ModelError> {
        let col = self.column(name)?;
        match &col.values {
            Values::Boolean(v) => Ok(Prim { values: v, validity: col.validity.as_ref() }),
            _ => Err(self.mismatch(name, "boolean", col)),
        }
    }

    /// A date column (days since 1970-01-01).
    pub fn date(&self, name: &str) -> Result<Prim<'_, i32>, ModelError> {
        let col = self.column(name)?;
        match &col.values {
            Values::Date(v) => Ok(Prim { values: v, validity: col.validity.as_ref() }),
            _ => Err(self.mismatch(name, "date", col)),
        }
    }

    /// A timestamp column (ms since the epoch).
    pub fn timestamp(&self, name: &str) -> Result<Prim<'_, i64>, ModelError> {
        let col = self.column(name)?;
        match &col.values {
            Values::Timestamp(v) => Ok(Prim { values: v, validity: col.validity.as_ref() }),
            _ => Err(self.mismatch(name, "timestamp", col)),
        }
    }
}

/// A typed view of a non-text column.
#[derive(Debug, Clone, Copy)]
pub struct Prim<'a, T> {
    values: &'a [T],
    validity: Option<&'a Bitmap>,
}

impl<'a, T: Copy> Prim<'a, T> {
    /// Row `i`'s value, `None` if null.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<T> {
        if self.validity.is_none_or(|v| v.is_valid(i)) { self.values.get(i).copied() } else { None }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
enum TextRepr<'a> {
    Plain(&'a Text),
    Dict(&'a [u32], &'a Dictionary),
}

/// A value of a text column, as [`TextCol::key`] reads it: its text, or its code in the column's
/// dictionary. Keys of columns sharing a dictionary compare by code; any others by text.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// A value of a plain text column.
    Text(&'a str),
    /// A code, and the dictionary it indexes.
    Code(u32, &'a Dictionary),
}

impl<'a> Key<'a> {
    /// The text.
    #[inline]
    pub fn as_str(&self) -> &'a str {
        match *self {
            Key::Text(t) => t,
            Key::Code(k, dict) => dict.get(k as usize),
        }
    }

    /// The code, if this key comes from `dictionary` (the same one, not an equal copy).
    #[inline(always)]
    pub fn code_in(&self, dictionary: &Dictionary) -> Option<u32> {
        match *self {
            Key::Code(k, dict) if std::ptr::eq(dict, dictionary) => Some(k),
            _ => None,
        }
    }
}

impl PartialEq for Key<'_> {
    // Always inlined: the code comparison is one instruction, and a guest's LLVM otherwise calls
    // it (a sixth of T1's guest time went to that call).
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Key::Code(a, da), Key::Code(b, db)) if std::ptr::eq(da, db) => a == b,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for Key<'_> {}

impl PartialEq<&str> for Key<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Key<'_> {
    // By text, as equality falls back to text between dictionaries.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(text: &'a str) -> Self {
        Key::Text(text)
    }
}

impl<'a> From<&&'a str> for Key<'a> {
    fn from(text: &&'a str) -> Self {
        Key::Text(text)
    }
}

impl<'a> From<&'a String> for Key<'a> {
    fn from(text: &'a String) -> Self {
        Key::Text(text)
    }
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// A view of a text column; values are borrowed, never copied.
#[derive(Debug, Clone, Copy)]
pub struct TextCol<'a> {
    repr: TextRepr<'a>,
    validity: Option<&'a Bitmap>,
    /// (table handle, column name) when the column is a whole table's column as the host serves
    /// it: a guest's `ops` then let the host group it natively.
    source: Option<(usize, &'a str)>,
}

impl<'a> TextCol<'a> {
    /// Row `i`'s value, `None` if null (or out of range).
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        if !self.validity.is_none_or(|v| v.is_valid(i)) {
            return None;
        }
        match self.repr {
            TextRepr::Plain(t) => (i < t.len()).then(|| t.get(i)),
            TextRepr::Dict(idx, dict) => {
                let k = *idx.get(i)? as usize;
                (k < dict.len()).then(|| dict.get(k))
            }
        }
    }

    /// Row `i`'s value as a [`Key`], `None` if null: the same text, plus its code when the
    /// column is dictionary-encoded. Look keys up in an [`Index`](crate::ops::Index) built on a
    /// column that shares the dictionary and the lookup is an array access, no text hashed or
    /// compared (a host serving `sieve:model@0.1.1` shares one dictionary among a run's columns).
    #[inline(always)]
    pub fn key(&self, i: usize) -> Option<Key<'a>> {
        if !self.validity.is_none_or(|v| v.is_valid(i)) {
            return None;
        }
        match self.repr {
            TextRepr::Plain(t) => (i < t.len()).then(|| Key::Text(t.get(i))),
            TextRepr::Dict(idx, dict) => {
                let k = *idx.get(i)?;
                ((k as usize) < dict.len()).then_some(Key::Code(k, dict))
            }
        }
    }

    /// Row `i`'s value, or `""` if null: handy where an empty id is as good as none.
    #[inline]
    pub fn str(&self, i: usize) -> &'a str {
        self.get(i).unwrap_or("")
    }

    /// The dictionary codes and the dictionary, if the host sent the column dictionary-encoded:
    /// lets group-bys hash each distinct value once instead of once per row.
    /// Where the column came from: (table handle, column name), for whole served columns.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn source(&self) -> Option<(usize, &'a str)> {
        self.source
    }

    /// Whether the host sent the column as dictionary codes (lookups and indexes then go by code).
    pub fn is_dictionary_encoded(&self) -> bool {
        self.codes().is_some()
    }

    pub(crate) fn codes(&self) -> Option<(&'a [u32], &'a Dictionary)> {
        match self.repr {
            TextRepr::Dict(idx, dict) => Some((idx, dict)),
            TextRepr::Plain(_) => None,
        }
    }

    /// Whether row `i` holds a value.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.is_none_or(|v| v.is_valid(i))
    }

    /// `f` of every row's value (`None` for nulls), computed once per distinct value when the
    /// host sent the column dictionary-encoded: parse a list-valued or coded column this way
    /// (`docs.derive(|list| parse(list))`) and each repeated value costs one lookup, not one parse.
    pub fn derive<T>(&self, mut f: impl FnMut(&'a str) -> T) -> Derived<'a, T> {
        match self.repr {
            TextRepr::Dict(idx, dict) => {
                // Only the entries rows use: a shared dictionary holds every text value of the
                // run, most of them from other columns.
                let mut slot = vec![u32::MAX; dict.len()];
                let mut values = Vec::new();
                for (i, &code) in idx.iter().enumerate() {
                    if let Some(s) =
                        slot.get_mut(code as usize).filter(|s| **s == u32::MAX && self.is_valid(i))
                    {
                        *s = values.len() as u32;
                        values.push(f(dict.get(code as usize)));
                    }
                }
                Derived { values, codes: Some((idx, slot)), validity: self.validity }
            }
            TextRepr::Plain(t) => {
                let values = (0..t.len()).map(|i| f(t.get(i))).collect();
                Derived { values, codes: None, validity: self.validity }
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self.repr {
            TextRepr::Plain(t) => t.len(),
            TextRepr::Dict(idx, _) => idx.len(),
        }
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value derived from each row of a text column by [`TextCol::derive`].
#[derive(Debug, Clone)]
pub struct Derived<'a, T> {
    /// One value per dictionary entry rows use, or per row when the column came plain.
    values: Vec<T>,
    /// The rows' codes, and each code's place in `values`.
    codes: Option<(&'a [u32], Vec<u32>)>,
    validity: Option<&'a Bitmap>,
}

impl<T> Derived<'_, T> {
    /// The value derived from row `i`, `None` if the row is null (or out of range).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        if !self.validity.is_none_or(|v| v.is_valid(i)) {
            return None;
        }
        match &self.codes {
            Some((codes, slot)) => self.values.get(*slot.get(*codes.get(i)? as usize)? as usize),
            None => self.values.get(i),
        }
    }
}
