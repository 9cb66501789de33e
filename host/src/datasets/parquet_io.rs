//! Parquet tables: read the declared columns (projection pushed into the reader), and write them.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use sieve_sdk::data::{Bitmap, Column, ColumnBuilder, Text, Values};
use sieve_sdk::{ColumnType, TableSpec};

use super::DataError;

/// Read the declared columns of `spec` from Parquet file `file`, and how many rows it has (also
/// when no column is declared).
pub fn read_columns(file: &Path, spec: &TableSpec) -> Result<(Vec<Column>, usize), DataError> {
    let name = file.display().to_string();
    let handle =
        File::open(file).map_err(|e| DataError::Unreadable { file: name.clone(), message: e.to_string() })?;
    read_columns_from(handle, &name, spec, None)
}

/// Read the declared columns of `spec` from Parquet bytes already in memory (and already checked
/// against their digest); `name` labels errors.
pub fn read_columns_from_bytes(
    bytes: Vec<u8>,
    name: &str,
    spec: &TableSpec,
) -> Result<(Vec<Column>, usize), DataError> {
    read_columns_from(bytes::Bytes::from(bytes), name, spec, None)
}

/// Only rows `rows` (ascending, distinct) of a Parquet file held in memory: the row groups and
/// pages that hold none of them are skipped, not decoded (the evidence rows of one clue).
pub fn read_rows_from_bytes(
    bytes: Vec<u8>,
    name: &str,
    spec: &TableSpec,
    rows: &[usize],
) -> Result<(Vec<Column>, usize), DataError> {
    let mut selectors = Vec::new();
    let mut next = 0usize;
    for &row in rows {
        if row < next {
            continue;
        }
        if row > next {
            selectors.push(RowSelector::skip(row - next));
        }
        selectors.push(RowSelector::select(1));
        next = row + 1;
    }
    read_columns_from(bytes::Bytes::from(bytes), name, spec, Some(RowSelection::from(selectors)))
}

fn read_columns_from<R: ChunkReader + 'static>(
    source: R,
    name: &str,
    spec: &TableSpec,
    selection: Option<RowSelection>,
) -> Result<(Vec<Column>, usize), DataError> {
    let name = name.to_string();
    let unreadable =
        |e: &dyn std::fmt::Display| DataError::Unreadable { file: name.clone(), message: e.to_string() };
    let builder = ParquetRecordBatchReaderBuilder::try_new(source).map_err(|e| unreadable(&e))?;
    let schema = builder.schema().clone();
    let mut indices = Vec::with_capacity(spec.columns.len());
    for c in &spec.columns {
        let idx = schema.index_of(&c.name).map_err(|_| DataError::MissingColumn {
            file: name.clone(),
            column: c.name.clone(),
            available: schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
        })?;
        indices.push(idx);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    let mut builder = builder.with_projection(mask).with_batch_size(65_536);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    let reader = builder.build().map_err(|e| unreadable(&e))?;
    let mut columns: Vec<Column> =
        spec.columns.iter().map(|c| ColumnBuilder::new(&c.name, c.ty).finish()).collect();
    let mut row_base = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(&e))?;
        for (column, c) in columns.iter_mut().zip(&spec.columns) {
            let array = batch
                .column_by_name(&c.name)
                .ok_or_else(|| unreadable(&format!("column {:?} vanished from a row group", c.name)))?;
            let part = convert(array, &c.name, c.ty, &name, row_base)?;
            if !column.extend(&part) {
                return Err(unreadable(&format!("column {:?} changes type between row groups", c.name)));
            }
        }
        row_base += batch.num_rows() as u64;
    }
    Ok((columns, row_base as usize))
}

fn validity(array: &dyn Array) -> Option<Bitmap> {
    (array.null_count() > 0).then(|| Bitmap::from_flags((0..array.len()).map(|i| array.is_valid(i))))
}

/// Convert one Arrow array into a column of the declared type. Text columns holding dates,
/// numbers or booleans (data made elsewhere) are parsed like CSV cells.
fn convert(
    array: &ArrayRef,
    name: &str,
    ty: ColumnType,
    file: &str,
    row_base: u64,
) -> Result<Column, DataError> {
    let wrong = || DataError::WrongType {
        file: file.to_string(),
        column: name.to_string(),
        found: array.data_type().to_string(),
        wanted: ty.to_string(),
    };
    let n = array.len();
    let values = match (ty, array.data_type()) {
        // Unlike a CSV cell, an empty Parquet string is a value, not a null.
        (ColumnType::Text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => Values::Text(
            (0..n).map(|i| if array.is_null(i) { "" } else { string_at(array, i) }).collect::<Text>(),
        ),
        (_, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
            let mut builder = ColumnBuilder::new(name, ty);
            for i in 0..n {
                if array.is_null(i) {
                    builder.push_null();
                    continue;
                }
                builder.push_cell(string_at(array, i)).map_err(|message| DataError::BadCell {
                    file: file.to_string(),
                    unit: "row",
                    line: row_base + i as u64 + 1,
                    column: name.to_string(),
                    message,
                })?;
            }
            return Ok(builder.finish());
        }
        (ColumnType::Int64, DataType::Int64) => {
            Values::Int64(array.as_primitive::<Int64Type>().values().to_vec())
        }
        (ColumnType::Int64, DataType::Int32) => {
            Values::Int64(array.as_primitive::<Int32Type>().values().iter().map(|&v| v as i64).collect())
        }
        (ColumnType::Float64, DataType::Float64) => {
            Values::Float64(array.as_primitive::<Float64Type>().values().to_vec())
        }
        (ColumnType::Float64, DataType::Float32) => {
            Values::Float64(array.as_primitive::<Float32Type>().values().iter().map(|&v| v as f64).collect())
        }
        (ColumnType::Float64, DataType::Int64) => {
            Values::Float64(array.as_primitive::<Int64Type>().values().iter().map(|&v| v as f64).collect())
        }
        (ColumnType::Boolean, DataType::Boolean) => {
            let b = array.as_boolean();
            Values::Boolean((0..n).map(|i| b.value(i)).collect())
        }
        (ColumnType::Date, DataType::Date32) => {
            Values::Date(array.as_primitive::<Date32Type>().values().to_vec())
        }
        (ColumnType::Timestamp, DataType::Timestamp(unit, _)) => Values::Timestamp(match unit {
            TimeUnit::Second => {
                array.as_primitive::<TimestampSecondType>().values().iter().map(|v| v * 1000).collect()
            }
            TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values().to_vec(),
            TimeUnit::Microsecond => array
                .as_primitive::<TimestampMicrosecondType>()
                .values()
                .iter()
                .map(|v| v.div_euclid(1000))
                .collect(),
            TimeUnit::Nanosecond => array
                .as_primitive::<TimestampNanosecondType>()
                .values()
                .iter()
                .map(|v| v.div_euclid(1_000_000))
                .collect(),
        }),
        _ => return Err(wrong()),
    };
    Ok(Column { name: name.to_string(), values, validity: validity(array.as_ref()) })
}

fn string_at(array: &ArrayRef, i: usize) -> &str {
    match array.data_type() {
        DataType::LargeUtf8 => array.as_string::<i64>().value(i),
        DataType::Utf8View => array.as_string_view().value(i),
        _ => array.as_string::<i32>().value(i),
    }
}

fn to_arrow(column: &Column) -> (Field, ArrayRef) {
    let n = column.len();
    let valid = |i: usize| column.is_valid(i);
    let (ty, array): (DataType, ArrayRef) = match &column.values {
        Values::Text(t) => {
            (DataType::Utf8, Arc::new((0..n).map(|i| valid(i).then(|| t.get(i))).collect::<StringArray>()))
        }
        Values::Dictionary { indices, dictionary } => (
            DataType::Utf8,
            Arc::new(
                (0..n)
                    .map(|i| valid(i).then(|| dictionary.get(indices[i] as usize)))
                    .collect::<StringArray>(),
            ),
        ),
        Values::Int64(v) => {
            (DataType::Int64, Arc::new((0..n).map(|i| valid(i).then(|| v[i])).collect::<Int64Array>()))
        }
        Values::Float64(v) => {
            (DataType::Float64, Arc::new((0..n).map(|i| valid(i).then(|| v[i])).collect::<Float64Array>()))
        }
        Values::Boolean(v) => {
            (DataType::Boolean, Arc::new((0..n).map(|i| valid(i).then(|| v[i])).collect::<BooleanArray>()))
        }
        Values::Date(v) => {
            (DataType::Date32, Arc::new((0..n).map(|i| valid(i).then(|| v[i])).collect::<Date32Array>()))
        }
        Values::Timestamp(v) => (
            DataType::Timestamp(TimeUnit::Millisecond, None),
            Arc::new((0..n).map(|i| valid(i).then(|| v[i])).collect::<TimestampMillisecondArray>()),
        ),
    };
    (Field::new(&column.name, ty, true), array)
}

/// Write `columns` to `file` as one Parquet table (Snappy, row groups of 128k rows).
pub fn write_table(file: &Path, columns: &[Column]) -> Result<(), DataError> {
    let unreadable = |e: &dyn std::fmt::Display| DataError::Unreadable {
        file: file.display().to_string(),
        message: e.to_string(),
    };
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.iter().map(to_arrow).unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| unreadable(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(131_072))
        .build();
    let out = File::create(file).map_err(|e| unreadable(&e))?;
    let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| unreadable(&e))?;
    writer.write(&batch).map_err(|e| unreadable(&e))?;
    writer.close().map_err(|e| unreadable(&e))?;
    Ok(())
}
