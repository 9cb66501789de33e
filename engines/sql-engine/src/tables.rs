//! Tables between the host and DataFusion: the columns the host serves become Arrow arrays, each
//! table with a `__row` column numbering its rows for evidence, in batches of DataFusion's batch
//! size; and a contract's tables become empty ones of the same schema, to plan a query against.
//! Text is kept as codes: a dictionary-coded column as its codes into its domain's dictionary, any
//! other as its row numbers into its own values. Views of the text (no text copied) are made where
//! a plan reads it: see [`crate::codes`].

use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::alloc::Allocation;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringViewArray,
    TimestampMillisecondArray, UInt32Array, builder::make_view,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{ArrowNativeType, DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use sieve_sdk::data::{Bitmap, Dictionary};
use sieve_sdk::{Column, ColumnType, Text, Values};

/// The column numbering a table's rows (from 0), which a query returns as `<table>__row` to
/// name the rows behind a clue.
pub const ROW: &str = "__row";

/// The Arrow type a contract type is served as.
pub fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        // Views: a comparison of two short values (a plate, an id) is one of 16 bytes, and a
        // dictionary-coded column becomes views without copying its text.
        ColumnType::Text => DataType::Utf8View,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
    }
}

/// The schema of a table with `columns`, plus `__row`.
pub fn schema(columns: &[(String, ColumnType)]) -> SchemaRef {
    let mut fields: Vec<Field> =
        columns.iter().map(|(name, kind)| Field::new(name, arrow_type(*kind), true)).collect();
    fields.push(Field::new(ROW, DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

fn nulls(validity: Option<Bitmap>, len: usize) -> Option<NullBuffer> {
    validity.map(|v| NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(v.as_bytes().to_vec()), 0, len)))
}

/// The text behind one domain's codes: a key domain's dictionary of distinct values, or one plain
/// text column's own rows, whose codes are its row numbers. A plan carries codes and turns them
/// into text only where it reads the text, for the rows that reach that point; a dictionary's
/// text is fetched from the host the first time a value of it is decoded, so a domain that is only
/// joined and grouped on (T7's million work hashes) is never copied in.
#[derive(Debug)]
pub struct DomainText {
    /// The values: the SDK's dictionary (its text fetched on first use), or a plain column's text.
    text: Arc<Dictionary>,
    /// The values' bytes as an Arrow buffer over the dictionary's own (no copy), made on the first
    /// decode.
    bytes: OnceLock<Buffer>,
    distinct: bool,
}

impl DomainText {
    fn new(text: Arc<Dictionary>, distinct: bool) -> DomainText {
        DomainText { text, bytes: OnceLock::new(), distinct }
    }

    /// Whether its values are distinct (a dictionary's), so that two codes are equal exactly where
    /// their text is: joins, groupings and partitions may then compare the codes.
    pub fn distinct(&self) -> bool {
        self.distinct
    }

    /// How many values it holds (known without fetching them).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// The text, fetched on first use, and its bytes as an Arrow buffer that shares them.
    fn fetched(&self) -> Result<(&Text, &Buffer)> {
        let text = match self.text.try_text() {
            Ok(text) => text,
            Err(why) => return exec_err!("fetching the text of a column: {why}"),
        };
        // A view holds a 32-bit offset into the bytes.
        if u32::try_from(text.byte_len()).is_err() {
            return exec_err!("a text column over 4 GiB");
        }
        let buffer = self.bytes.get_or_init(|| {
            let bytes = text.raw().0.as_bytes();
            let owner: Arc<dyn Allocation> = self.text.clone();
            // SAFETY: these are the bytes of the dictionary's fetched text, which it holds, never
            // changed (set once), for as long as it lives; the buffer keeps the dictionary alive
            // (its owner), so the bytes outlive every array that views them.
            unsafe { Buffer::from_custom_allocation(NonNull::from(bytes).cast(), bytes.len(), owner) }
        });
        Ok((text, buffer))
    }

    /// The text of each row of `codes`: views into this text's bytes (no text is copied); a null
    /// row null. An error if the host served a value whose bounds are out of order, beyond the
    /// text or inside a character. Each value's bounds are checked here, for the rows decoded, not
    /// on loading for every value: a domain holds a million values, a run decodes a few thousand.
    pub fn decode(&self, codes: &UInt32Array) -> Result<StringViewArray> {
        let (text, buffer) = self.fetched()?;
        let (bytes, offsets) = text.raw();
        let bytes = bytes.as_bytes();
        let boundary = |at: usize| at == bytes.len() || bytes.get(at).is_some_and(|&b| (b as i8) >= -0x40);
        let mut sound = true;
        // A null row's code is a placeholder, which may lie beyond an empty dictionary: it takes
        // the empty inline view. Any other code was checked against the dictionary on loading.
        let views: Vec<u128> = codes
            .values()
            .iter()
            .map(|&code| match offsets.get(code as usize..(code as usize).saturating_add(2)) {
                Some(&[start, end]) => match bytes.get(start as usize..end as usize) {
                    Some(value) if boundary(start as usize) && boundary(end as usize) => {
                        view_of(bytes, value, start)
                    }
                    _ => {
                        sound = false;
                        0
                    }
                },
                _ => 0,
            })
            .collect();
        if !sound {
            return exec_err!("the host served text whose offsets are out of order or inside a character");
        }
        // SAFETY: every view was made by `view_of` (as `make_view` makes it) from a slice of this
        // text's bytes at its own offset, whose ends were just checked to be character boundaries
        // of UTF-8 (the bytes are a `String`'s); so the array is what `try_new` would accept,
        // without validating each row again.
        Ok(unsafe {
            StringViewArray::new_unchecked(
                ScalarBuffer::from(views),
                vec![buffer.clone()],
                codes.nulls().cloned(),
            )
        })
    }

    /// Every value, in code order.
    pub fn all(&self) -> Result<StringViewArray> {
        self.decode(&UInt32Array::new(counted(self.len()), None))
    }
}

/// The view of `value`, the bytes of `bytes` from `start`, in buffer 0: what `make_view` makes,
/// but a value short enough to be held in its view is read as the sixteen bytes from `start`,
/// masked, where the buffer has them. `make_view` copies it by its length, which a guest does by
/// a call into the host for every value.
fn view_of(bytes: &[u8], value: &[u8], start: u32) -> u128 {
    let at = start as usize;
    match bytes.get(at..at + 16) {
        Some(window) if value.len() <= 12 => {
            let mut word = [0u8; 16];
            word.copy_from_slice(window);
            let kept = match value.len() {
                0 => 0,
                len => u128::from_le_bytes(word) & (u128::MAX >> (128 - 8 * len)),
            };
            (kept << 32) | value.len() as u128
        }
        _ => make_view(value, 0, start),
    }
}

/// The domains of a run's text columns: one per key domain (the SDK hands every column coded
/// against one dictionary the same `Arc`; each is kept for the whole run, so that no other
/// dictionary can take its address), and one per plain text column.
#[derive(Default)]
pub struct Dictionaries {
    seen: Vec<Arc<DomainText>>,
}

impl Dictionaries {
    /// The domain (a number, from 0) of the columns coded against `dictionary`.
    fn domain(&mut self, dictionary: &Arc<Dictionary>) -> usize {
        let known = self.seen.iter().position(|t| Arc::ptr_eq(&t.text, dictionary));
        if let Some(known) = known {
            return known;
        }
        self.seen.push(Arc::new(DomainText::new(dictionary.clone(), true)));
        self.seen.len() - 1
    }

    /// A new domain for a plain text column, whose codes are its row numbers.
    fn rows(&mut self, text: Text) -> usize {
        self.seen.push(Arc::new(DomainText::new(Arc::new(Dictionary::from(text)), false)));
        self.seen.len() - 1
    }

    /// The text of `domain`'s codes.
    pub fn text(&self, domain: usize) -> Option<&Arc<DomainText>> {
        self.seen.get(domain)
    }

    /// The text of each domain's codes, in the order of their numbers.
    pub fn texts(&self) -> impl Iterator<Item = &Arc<DomainText>> {
        self.seen.iter()
    }

    /// How many domains were met.
    pub fn len(&self) -> usize {
        self.seen.len()
    }
}

/// The name of the column holding `column`'s codes.
pub fn code_column(column: &str) -> String {
    // `#` never appears in a contract's column names, so this names nothing a query could.
    format!("{column}#code")
}

/// One served column as an Arrow array; text as codes (row numbers, for a column that is not
/// dictionary-coded), with their domain.
fn array(
    column: Column,
    row_numbers: &mut RowNumbers,
    dictionaries: &mut Dictionaries,
) -> Result<(ArrayRef, Option<usize>), String> {
    let len = column.len();
    let nulls = nulls(column.validity, len);
    Ok(match column.values {
        // Its codes are its row numbers (one buffer for every plain text column): the text is
        // made (views of its bytes, no text copied) only where a plan reads it, for the rows that
        // get there.
        Values::Text(text) => {
            let domain = dictionaries.rows(text);
            u32::try_from(len).map_err(|_| "a table of over 4 billion rows")?;
            (Arc::new(UInt32Array::new(row_numbers.narrow(len), nulls)), Some(domain))
        }
        Values::Dictionary { indices, dictionary } => {
            let domain = dictionaries.domain(&dictionary);
            let size = dictionary.len();
            // The largest code first, in one pass that vectorizes (this runs for every coded
            // column of every table a query reads); rows are looked at one by one only when it
            // lies beyond the dictionary, since a null row's code is a placeholder that may.
            if !indices.is_empty() && largest(&indices) as usize >= size {
                for (row, &code) in indices.iter().enumerate() {
                    if code as usize >= size && nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                        return Err(format!(
                            "a dictionary code {code} beyond the dictionary's {size} values"
                        ));
                    }
                }
            }
            (Arc::new(UInt32Array::new(ScalarBuffer::from(indices), nulls)), Some(domain))
        }
        Values::Int64(v) => (Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls)), None),
        Values::Float64(v) => (Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls)), None),
        Values::Boolean(v) => (Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls)), None),
        Values::Date(v) => (Arc::new(Date32Array::new(ScalarBuffer::from(v), nulls)), None),
        Values::Timestamp(v) => {
            (Arc::new(TimestampMillisecondArray::new(ScalarBuffer::from(v), nulls)), None)
        }
    })
}

/// Row numbers 0, 1, 2, ... as Arrow buffers, made for the longest table a run has loaded and
/// sliced for each: every table has `__row`, and a plain text column's codes are its rows.
pub struct RowNumbers {
    wide: ScalarBuffer<i64>,
    narrow: ScalarBuffer<u32>,
}

impl Default for RowNumbers {
    fn default() -> Self {
        RowNumbers { wide: counted(0), narrow: counted(0) }
    }
}

impl RowNumbers {
    /// The first `rows` row numbers as `__row` holds them.
    fn wide(&mut self, rows: usize) -> ScalarBuffer<i64> {
        if self.wide.len() < rows {
            self.wide = counted(rows);
        }
        self.wide.slice(0, rows)
    }

    /// The first `rows` row numbers as codes.
    fn narrow(&mut self, rows: usize) -> ScalarBuffer<u32> {
        if self.narrow.len() < rows {
            self.narrow = counted(rows);
        }
        self.narrow.slice(0, rows)
    }
}

/// 0, 1, ..., `n` - 1, sixteen numbers per step of the loop: a guest pays a fuel check and the
/// spills around it on every step, and `(0..n).collect()` makes two numbers a step (a tenth of
/// T7's run went to its `__row` columns and [`largest`] code checks, written that way).
fn counted<T: ArrowNativeType + From<u8> + std::ops::Add<Output = T>>(n: usize) -> ScalarBuffer<T> {
    let mut numbers = Vec::with_capacity(n);
    let mut block: [T; 16] = std::array::from_fn(|k| T::from(k as u8));
    for _ in 0..n / 16 {
        numbers.extend_from_slice(&block);
        block = block.map(|number| number + T::from(16));
    }
    numbers.extend_from_slice(&block[..n % 16]);
    ScalarBuffer::from(numbers)
}

/// The largest of `codes` (0 for none), sixteen a step (see [`counted`]) in four SIMD lanes of
/// four: written as a fold over arrays, LLVM makes it sixteen scalar loads and spills.
fn largest(codes: &[u32]) -> u32 {
    use std::arch::wasm32::{u32x4, u32x4_extract_lane, u32x4_max, v128, v128_load};
    let (blocks, rest) = codes.as_chunks::<16>();
    let mut widest = [u32x4(0, 0, 0, 0); 4];
    for block in blocks {
        for (k, lanes) in widest.iter_mut().enumerate() {
            // SAFETY: `block` holds sixteen codes, so the four from `4 * k` (k < 4) are inside it;
            // `v128_load` takes any alignment.
            let four = unsafe { v128_load(block.as_ptr().add(4 * k).cast::<v128>()) };
            *lanes = u32x4_max(*lanes, four);
        }
    }
    let [a, b, c, d] = widest;
    let all = u32x4_max(u32x4_max(a, b), u32x4_max(c, d));
    let lanes = [
        u32x4_extract_lane::<0>(all),
        u32x4_extract_lane::<1>(all),
        u32x4_extract_lane::<2>(all),
        u32x4_extract_lane::<3>(all),
    ];
    lanes.into_iter().chain(rest.iter().copied()).fold(0, u32::max)
}

/// A coded column: its name, its domain and its codes over all rows.
pub type CodedColumn = (String, usize, ArrayRef);

/// A table's loaded columns (of `rows` rows) with `__row`, text as its codes (a column named by
/// [`code_column`]), as batches of at most `batch_rows` rows (slices of the same arrays); and
/// each text column's name, domain and codes.
pub fn batches(
    columns: Vec<Column>,
    rows: usize,
    batch_rows: usize,
    dictionaries: &mut Dictionaries,
    row_numbers: &mut RowNumbers,
) -> Result<(Vec<RecordBatch>, Vec<CodedColumn>), String> {
    let mut fields = Vec::with_capacity(columns.len() + 1);
    let mut arrays = Vec::with_capacity(columns.len() + 1);
    let mut coded = Vec::new();
    for column in columns {
        let name = column.name.clone();
        let (array, domain) = array(column, row_numbers, dictionaries)?;
        match domain {
            Some(domain) => {
                fields.push(Field::new(code_column(&name), DataType::UInt32, true));
                coded.push((name, domain, array.clone()));
            }
            None => fields.push(Field::new(&name, array.data_type().clone(), true)),
        }
        arrays.push(array);
    }
    fields.push(Field::new(ROW, DataType::Int64, false));
    arrays.push(Arc::new(Int64Array::new(row_numbers.wide(rows), None)));
    let whole = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())?;
    let step = batch_rows.max(1);
    let batches =
        (0..rows.max(1)).step_by(step).map(|start| whole.slice(start, step.min(rows - start))).collect();
    Ok((batches, coded))
}

/// A contract table as a query sees it: every column of the contract (so the query binds as it
/// did when it was planned), holding the columns the model declared. A scan of any other column
/// is an error naming it, never a column of nulls.
#[derive(Debug, Clone)]
pub struct LoadedTable {
    name: String,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    coded: Vec<(String, usize)>,
    /// Each text column's codes over all rows, in the order of `coded`.
    codes: Vec<ArrayRef>,
    /// What each text column's codes stand for, in the order of `coded`.
    texts: Vec<Arc<DomainText>>,
    /// Each text column's text over all rows, made when a plan first reads it whole: a table that
    /// a query scans twice (a CTE used twice) shares it.
    text: Arc<Vec<OnceLock<ArrayRef>>>,
    /// Whether a scan gives the text columns' codes, under their names, instead of their text.
    gives_codes: bool,
}

impl LoadedTable {
    /// Table `name` of `schema` (from [`schema`]), holding `batches` of some of its columns (none
    /// for a table the model does not read), with codes for its text columns (name, domain, the
    /// codes over all rows).
    pub fn new(
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        coded: Vec<CodedColumn>,
        dictionaries: &Dictionaries,
    ) -> Result<Self, String> {
        let texts = coded
            .iter()
            .map(|(_, domain, _)| dictionaries.text(*domain).cloned().ok_or("a dictionary went missing"))
            .collect::<Result<_, _>>()?;
        let text = Arc::new(coded.iter().map(|_| OnceLock::new()).collect());
        let (coded, codes) = coded.into_iter().map(|(name, domain, codes)| ((name, domain), codes)).unzip();
        let gives_codes = false;
        Ok(LoadedTable { name: name.to_string(), schema, batches, coded, codes, texts, text, gives_codes })
    }

    /// The text of coded column `k`, over all rows.
    fn text(&self, k: usize) -> Result<&ArrayRef> {
        if let Some(text) = self.text[k].get() {
            return Ok(text);
        }
        let text: ArrayRef = Arc::new(self.texts[k].decode(self.codes[k].as_primitive())?);
        Ok(self.text[k].get_or_init(|| text))
    }

    /// How many rows it holds.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The text columns, with their domains.
    pub fn coded(&self) -> &[(String, usize)] {
        &self.coded
    }

    /// The same table giving each text column as its codes (`UInt32`, under its own name): what a
    /// plan rewritten to carry codes scans.
    pub fn with_codes(&self) -> LoadedTable {
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| match self.coded.iter().any(|(name, _)| name == f.name()) {
                true => Field::new(f.name(), DataType::UInt32, true),
                false => f.as_ref().clone(),
            })
            .collect();
        LoadedTable { schema: Arc::new(Schema::new(fields)), gives_codes: true, ..self.clone() }
    }
}

#[async_trait::async_trait]
impl TableProvider for LoadedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let Some(first) = self.batches.first() else {
            return plan_err!("the query reads table {}, which was not loaded", self.name);
        };
        let loaded = first.schema();
        // Each wanted field: the loaded column that holds it, and for the text of codes, which
        // text column it is (made whole now, unless this scan gives codes).
        let mut sources = Vec::with_capacity(wanted.len());
        let mut fields = Vec::with_capacity(wanted.len());
        for i in wanted {
            let field = self.schema.field(i);
            let coded = self.coded.iter().position(|(name, _)| name == field.name());
            let column = if coded.is_some() { code_column(field.name()) } else { field.name().clone() };
            let Ok(at) = loaded.index_of(&column) else {
                return plan_err!("the query reads {}.{}, which was not loaded", self.name, field.name());
            };
            sources.push((at, coded));
            fields.push(field.clone());
        }
        let projected = Arc::new(Schema::new(fields));
        let mut batches = Vec::with_capacity(self.batches.len());
        let mut offset = 0;
        for batch in &self.batches {
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            let columns = sources
                .iter()
                .map(|&(at, coded)| match coded {
                    Some(k) if !self.gives_codes => Ok(self.text(k)?.slice(offset, batch.num_rows())),
                    _ => Ok(batch.column(at).clone()),
                })
                .collect::<Result<_>>()?;
            batches.push(RecordBatch::try_new_with_options(projected.clone(), columns, &options)?);
            offset += batch.num_rows();
        }
        Ok(MemorySourceConfig::try_new_exec(&[batches], projected, None)?)
    }
}
