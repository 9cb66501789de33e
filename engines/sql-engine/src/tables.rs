//! Tables between the host and DataFusion: the columns the host serves become Arrow arrays
//! (text as views into the bytes the host sent, not copied value by value; dictionary-coded text
//! as each row's view of its dictionary value), each table with a `__row` column numbering its
//! rows for evidence, in batches of DataFusion's batch size; and a contract's tables become empty
//! ones of the same schema, to plan a query against.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, StringViewArray,
    TimestampMillisecondArray, builder::make_view,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use sieve_sdk::data::Bitmap;
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

fn strings(text: Text, nulls: Option<NullBuffer>) -> Result<StringArray, String> {
    let (bytes, mut offsets) = text.into_parts();
    if offsets.is_empty() {
        offsets.push(0);
    }
    if i32::try_from(bytes.len()).is_err() {
        return Err("a text column over 2 GiB".into());
    }
    // `bytes` is a `String`, so UTF-8 as a whole: the values are valid text when every offset is
    // in order and on a character boundary, which is far cheaper to check than validating every
    // value's bytes again (what `StringArray::try_new` would do).
    let mut previous = 0;
    for &offset in &offsets {
        if offset < previous || !bytes.is_char_boundary(offset as usize) {
            return Err(format!("a text column's offset {offset} is out of order or inside a character"));
        }
        previous = offset;
    }
    let offsets: Vec<i32> = offsets.into_iter().map(|o| o as i32).collect();
    // SAFETY: the offsets are ascending, within the bytes (they fit in i32, checked above) and on
    // character boundaries of valid UTF-8, which is everything `StringArray::try_new` checks.
    Ok(unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
            Buffer::from_vec(bytes.into_bytes()),
            nulls,
        )
    })
}

/// The view of each value of `text`, pointing into its bytes (buffer 0).
fn views(text: &StringArray) -> impl Iterator<Item = u128> + '_ {
    text.offsets().windows(2).map(|w| {
        let (start, end) = (w[0] as usize, w[1] as usize);
        make_view(&text.values()[start..end], 0, w[0] as u32)
    })
}

/// `views` over `text`'s bytes as a text array.
fn view_array(views: Vec<u128>, text: &StringArray, nulls: Option<NullBuffer>) -> StringViewArray {
    // SAFETY: every view was made by `make_view` from a slice of `text`'s bytes at its own
    // offset, and `StringArray::try_new` checked those bytes are UTF-8 split at character
    // boundaries; so the array is what `try_new` would accept, without validating each row again.
    unsafe { StringViewArray::new_unchecked(ScalarBuffer::from(views), vec![text.values().clone()], nulls) }
}

/// One served column as an Arrow array.
fn array(column: Column) -> Result<ArrayRef, String> {
    let len = column.len();
    let nulls = nulls(column.validity, len);
    Ok(match column.values {
        Values::Text(text) => {
            let text = strings(text, None)?;
            Arc::new(view_array(views(&text).collect(), &text, nulls))
        }
        // Each row takes its dictionary value's view: no text is copied, and the values of one
        // key domain compare as their views do in every table.
        Values::Dictionary { indices, dictionary } => {
            let text = strings(Arc::unwrap_or_clone(dictionary), None)?;
            let values: Vec<u128> = views(&text).collect();
            let rows = indices
                .iter()
                .map(|&code| {
                    values.get(code as usize).copied().ok_or_else(|| {
                        format!("a dictionary code {code} beyond the dictionary's {} values", values.len())
                    })
                })
                .collect::<Result<Vec<u128>, String>>()?;
            Arc::new(view_array(rows, &text, nulls))
        }
        Values::Int64(v) => Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls)),
        Values::Float64(v) => Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls)),
        Values::Boolean(v) => Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls)),
        Values::Date(v) => Arc::new(Date32Array::new(ScalarBuffer::from(v), nulls)),
        Values::Timestamp(v) => Arc::new(TimestampMillisecondArray::new(ScalarBuffer::from(v), nulls)),
    })
}

/// A table's loaded columns (of `rows` rows) with `__row`, as batches of at most `batch_rows`
/// rows (slices of the same arrays).
pub fn batches(columns: Vec<Column>, rows: usize, batch_rows: usize) -> Result<Vec<RecordBatch>, String> {
    let whole = batch(columns, rows)?;
    let step = batch_rows.max(1);
    Ok((0..rows.max(1)).step_by(step).map(|start| whole.slice(start, step.min(rows - start))).collect())
}

/// A table's loaded columns (of `rows` rows) as one batch, with `__row`.
fn batch(columns: Vec<Column>, rows: usize) -> Result<RecordBatch, String> {
    let mut fields = Vec::with_capacity(columns.len() + 1);
    let mut arrays = Vec::with_capacity(columns.len() + 1);
    for column in columns {
        let name = column.name.clone();
        let array = array(column)?;
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    fields.push(Field::new(ROW, DataType::Int64, false));
    arrays.push(Arc::new(Int64Array::from_iter_values(0..rows as i64)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

/// A contract table as a query sees it: every column of the contract (so the query binds as it
/// did when it was planned), holding the columns the model declared. A scan of any other column
/// is an error naming it, never a column of nulls.
#[derive(Debug)]
pub struct LoadedTable {
    name: String,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl LoadedTable {
    /// Table `name` of `schema` (from [`schema`]), holding `batches` of some of its columns (none
    /// for a table the model does not read).
    pub fn new(name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        LoadedTable { name: name.to_string(), schema, batches }
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
        let mut indices = Vec::with_capacity(wanted.len());
        let mut fields = Vec::with_capacity(wanted.len());
        for i in wanted {
            let field = self.schema.field(i);
            let Ok(at) = loaded.index_of(field.name()) else {
                return plan_err!("the query reads {}.{}, which was not loaded", self.name, field.name());
            };
            indices.push(at);
            fields.push(field.clone());
        }
        let projected = Arc::new(Schema::new(fields));
        let batches = self
            .batches
            .iter()
            .map(|batch| {
                let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                let columns = indices.iter().map(|&i| batch.column(i).clone()).collect();
                RecordBatch::try_new_with_options(projected.clone(), columns, &options)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(DataFusionError::from)?;
        Ok(MemorySourceConfig::try_new_exec(&[batches], projected, None)?)
    }
}
