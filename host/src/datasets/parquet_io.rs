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
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::schema::types::ColumnPath;
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

/// `column` as an Arrow array, its buffers handed over rather than copied where the layouts
/// agree (fixed-width values, text bytes; text offsets are narrowed in place). Null rows keep
/// their placeholders, which Parquet does not store.
fn to_arrow(column: Column) -> (Field, ArrayRef) {
    let nulls = column
        .validity
        .as_ref()
        .map(|v| NullBuffer::new(BooleanBuffer::new(Buffer::from_slice_ref(v.as_bytes()), 0, column.len())));
    let (ty, array): (DataType, ArrayRef) = match column.values {
        Values::Text(t) => text_array(t, nulls),
        Values::Dictionary { indices, dictionary } => {
            // Rarely stored (tables read from Parquet as dictionaries): decoded row by row.
            let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
            let array: StringArray =
                (0..indices.len()).map(|i| valid(i).then(|| dictionary.get(indices[i] as usize))).collect();
            (DataType::Utf8, Arc::new(array))
        }
        Values::Int64(v) => (DataType::Int64, Arc::new(Int64Array::new(v.into(), nulls))),
        Values::Float64(v) => (DataType::Float64, Arc::new(Float64Array::new(v.into(), nulls))),
        Values::Boolean(v) => (DataType::Boolean, Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls))),
        Values::Date(v) => (DataType::Date32, Arc::new(Date32Array::new(v.into(), nulls))),
        Values::Timestamp(v) => (
            DataType::Timestamp(TimeUnit::Millisecond, None),
            Arc::new(TimestampMillisecondArray::new(v.into(), nulls)),
        ),
    };
    (Field::new(&column.name, ty, true), array)
}

/// A text column as an Arrow string array: 32-bit offsets while its bytes fit them, 64-bit past
/// 2 GiB (where 32-bit offsets would overflow).
fn text_array(text: Text, nulls: Option<NullBuffer>) -> (DataType, ArrayRef) {
    let (bytes, offsets) = text.into_parts();
    let fits = i32::try_from(bytes.len()).is_ok();
    let values = Buffer::from_vec(bytes.into_bytes());
    // Offsets from a `Text` start at 0, never decrease and end at its byte length, so they are
    // valid Arrow offsets; `new` checks them again all the same.
    if fits {
        let offsets: Vec<i32> = offsets.into_iter().map(|o| o as i32).collect();
        (DataType::Utf8, Arc::new(StringArray::new(OffsetBuffer::new(offsets.into()), values, nulls)))
    } else {
        let offsets: Vec<i64> = offsets.into_iter().map(i64::from).collect();
        (
            DataType::LargeUtf8,
            Arc::new(LargeStringArray::new(OffsetBuffer::new(offsets.into()), values, nulls)),
        )
    }
}

/// Whether `column` is text whose values mostly differ (ids, case numbers), judged by its first
/// rows. Parquet's dictionary encoding gains nothing on such a column: the writer would hash
/// every value into a dictionary that outgrows its page limit and is dropped, row group after
/// row group.
fn mostly_distinct(column: &Column) -> bool {
    const SAMPLE: usize = 4096;
    let Values::Text(text) = &column.values else { return false };
    let sample = text.len().min(SAMPLE);
    let distinct: std::collections::HashSet<&str> = (0..sample).map(|i| text.get(i)).collect();
    sample >= 64 && distinct.len() > sample * 3 / 4
}

/// Write `columns` to `file` as one Parquet table (see [`write_to`]).
pub fn write_table(file: &Path, columns: Vec<Column>) -> Result<(), DataError> {
    let out = File::create(file)
        .map_err(|e| DataError::Unreadable { file: file.display().to_string(), message: e.to_string() })?;
    write_to(out, columns)
        .map_err(|e| DataError::Unreadable { file: file.display().to_string(), message: e.to_string() })
}

/// Write `columns` to `out` as one Parquet table (Snappy, row groups of 128k rows).
pub fn write_to(
    out: impl std::io::Write + Send,
    columns: Vec<Column>,
) -> Result<(), parquet::errors::ParquetError> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(131_072));
    for column in columns.iter().filter(|c| mostly_distinct(c)) {
        props = props.set_column_dictionary_enabled(ColumnPath::from(column.name.as_str()), false);
    }
    let props = props.build();
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().map(to_arrow).unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let mut writer = ArrowWriter::try_new(out, schema, Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn with_nulls(name: &str, values: Values, valid: &[bool]) -> Column {
        Column { name: name.to_string(), values, validity: Some(Bitmap::from_flags(valid.iter().copied())) }
    }

    #[test]
    fn every_type_with_nulls_reads_back_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.parquet");
        let valid = [true, false, true];
        let columns = vec![
            with_nulls(
                "text",
                Values::Text(["(2017)浙0102民初49号", "", "张三"].into_iter().collect()),
                &valid,
            ),
            with_nulls("int", Values::Int64(vec![1, 0, i64::MIN]), &valid),
            Column::new("float", Values::Float64(vec![0.5, -0.0, 1e300])),
            with_nulls("flag", Values::Boolean(vec![true, false, false]), &valid),
            with_nulls("day", Values::Date(vec![-719_162, 0, 20_000]), &valid),
            Column::new("at", Values::Timestamp(vec![0, 1_700_000_000_000, -1])),
        ];
        write_table(&file, columns.clone()).expect("writes");
        let spec = TableSpec::new("t")
            .column("text", ColumnType::Text)
            .column("int", ColumnType::Int64)
            .column("float", ColumnType::Float64)
            .column("flag", ColumnType::Boolean)
            .column("day", ColumnType::Date)
            .column("at", ColumnType::Timestamp);
        let (back, rows) = read_columns(&file, &spec).expect("reads");
        assert_eq!(rows, 3);
        for (wrote, read) in columns.iter().zip(&back) {
            assert_eq!(read.name, wrote.name);
            for i in 0..3 {
                assert_eq!(read.is_valid(i), wrote.is_valid(i), "{} row {i}", wrote.name);
                if wrote.is_valid(i) {
                    assert_eq!(
                        crate::datasets::csv_io::cell(read, i),
                        crate::datasets::csv_io::cell(wrote, i),
                        "{} row {i}",
                        wrote.name
                    );
                }
            }
        }
    }

    #[test]
    fn mostly_distinct_text_is_stored_plain_and_repeated_text_with_a_dictionary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.parquet");
        let ids: Vec<String> = (0..5000).map(|i| format!("3301{i:014}")).collect();
        let courts: Vec<String> = (0..5000).map(|i| format!("court {}", i % 7)).collect();
        let columns = vec![
            Column::new("case_no", Values::Text(ids.iter().map(String::as_str).collect())),
            Column::new("court", Values::Text(courts.iter().map(String::as_str).collect())),
        ];
        write_table(&file, columns).expect("writes");
        let reader = SerializedFileReader::new(File::open(&file).expect("open")).expect("parquet");
        let chunks = reader.metadata().row_group(0).columns().to_vec();
        let dictionary = |i: usize| chunks[i].encodings().any(|e| e == Encoding::RLE_DICTIONARY);
        assert!(!dictionary(0), "ids are written plain");
        assert!(dictionary(1), "courts keep their dictionary");
    }
}
