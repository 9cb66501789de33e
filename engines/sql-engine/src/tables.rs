//! Tables between the host and DataFusion: the columns the host serves become Arrow arrays
//! (text with its offsets and bytes moved, not copied value by value; dictionary-coded text
//! decoded into plain text), each table with a `__row` column numbering its rows for evidence, in
//! batches of DataFusion's batch size; and a contract's tables become empty ones of the same
//! schema, to plan a query against.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array, StringArray,
    TimestampMillisecondArray, UInt32Array,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, UInt32Type};
use datafusion::arrow::record_batch::RecordBatch;
use sieve_sdk::data::Bitmap;
use sieve_sdk::{Column, ColumnType, Text, Values};

/// The column numbering a table's rows (from 0), which a query returns as `<table>__row` to
/// name the rows behind a clue.
pub const ROW: &str = "__row";

/// The Arrow type a contract type is served as.
pub fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Text => DataType::Utf8,
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
    let (bytes, offsets) = text.into_parts();
    let offsets: Vec<i32> = offsets
        .into_iter()
        .map(|o| i32::try_from(o).map_err(|_| "a text column over 2 GiB".to_string()))
        .collect::<Result<_, _>>()?;
    StringArray::try_new(OffsetBuffer::new(ScalarBuffer::from(offsets)), Buffer::from_vec(bytes), nulls)
        .map_err(|e| e.to_string())
}

/// One served column as an Arrow array.
fn array(column: Column) -> Result<ArrayRef, String> {
    let len = column.len();
    let nulls = nulls(column.validity, len);
    Ok(match column.values {
        Values::Text(text) => Arc::new(strings(text, nulls)?),
        // Decoded once here: DataFusion compares dictionary arrays with different dictionaries
        // (two tables' columns in a join) by their values batch by batch, at a cost that grows
        // with the dictionaries' size, which made joins on key columns quadratic in the rows.
        Values::Dictionary { indices, dictionary } => {
            let keys = UInt32Array::new(ScalarBuffer::from(indices), nulls);
            let values = strings(Arc::unwrap_or_clone(dictionary), None)?;
            let coded =
                DictionaryArray::<UInt32Type>::try_new(keys, Arc::new(values)).map_err(|e| e.to_string())?;
            cast(&coded, &DataType::Utf8).map_err(|e| e.to_string())?
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
