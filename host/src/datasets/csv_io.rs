//! CSV tables: parse cells into the declared types (errors name file, line, column), and write them.

use std::path::Path;

use sieve_sdk::TableSpec;
use sieve_sdk::data::{Column, ColumnBuilder, Values, format_date, format_timestamp};

use super::DataError;

/// The header's column names for an error message: the identifier-shaped ones (a schema), and
/// only a count of anything else, which could be data from a file that is not a table at all.
fn available_columns(header: &[String]) -> String {
    let names: Vec<&str> =
        header.iter().map(String::as_str).filter(|h| crate::sandbox::names::is_identifier(h)).collect();
    let others = header.len() - names.len();
    match others {
        0 => names.join(", "),
        n => format!(
            "{}{}{n} other header cells",
            names.join(", "),
            if names.is_empty() { "" } else { " and " }
        ),
    }
}

/// Whether every field of `record` is valid UTF-8, checked in one pass over its bytes (checking
/// cell by cell was a tenth of an import's time). The fields lie end to end in the record's
/// buffer, so they are all valid exactly when the whole buffer is and each field starts on a
/// character, not inside one: a character split across two fields is valid when joined, and
/// invalid in each. A `false` sends the caller to check the cells it reads one by one.
fn utf8_fields(record: &csv::ByteRecord) -> bool {
    simdutf8::basic::from_utf8(record.as_slice()).is_ok()
        && record.iter().all(|field| field.first().is_none_or(|&b| b & 0xC0 != 0x80))
}

/// Read the declared columns of `spec` from CSV file `file`, and how many rows it has (also when
/// no column is declared); other columns are skipped unparsed.
pub fn read_columns(file: &Path, spec: &TableSpec) -> Result<(Vec<Column>, usize), DataError> {
    let name = file.display().to_string();
    let unreadable =
        |e: &dyn std::fmt::Display| DataError::Unreadable { file: name.clone(), message: e.to_string() };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(file)
        .map_err(|e| unreadable(&e))?;
    let header: Vec<String> = reader
        .byte_headers()
        .map_err(|e| unreadable(&e))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut positions = Vec::with_capacity(spec.columns.len());
    for c in &spec.columns {
        let pos = header.iter().position(|h| *h == c.name).ok_or_else(|| DataError::MissingColumn {
            file: name.clone(),
            column: c.name.clone(),
            available: available_columns(&header),
        })?;
        positions.push(pos);
    }
    let mut builders: Vec<ColumnBuilder> =
        spec.columns.iter().map(|c| ColumnBuilder::new(&c.name, c.ty)).collect();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => rows += 1,
            Err(e) => return Err(unreadable(&e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        let checked_whole = utf8_fields(&record);
        for ((builder, &pos), c) in builders.iter_mut().zip(&positions).zip(&spec.columns) {
            let bad = |message: String| DataError::BadCell {
                file: name.clone(),
                unit: "line",
                line,
                column: c.name.clone(),
                message,
            };
            let raw = record.get(pos).unwrap_or_default();
            let cell = if checked_whole {
                // SAFETY: `utf8_fields` found every field of this record valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(raw) }
            } else {
                std::str::from_utf8(raw).map_err(|_| bad("the cell is not valid UTF-8".into()))?
            };
            builder.push_cell(cell).map_err(bad)?;
        }
    }
    Ok((builders.into_iter().map(ColumnBuilder::finish).collect(), rows))
}

/// Format row `i` of `column` as a CSV cell (DOMAIN.md conventions; null is empty).
pub fn cell(column: &Column, i: usize) -> String {
    if !column.is_valid(i) {
        return String::new();
    }
    match &column.values {
        Values::Text(t) => t.get(i).to_string(),
        Values::Dictionary { indices, dictionary } => dictionary.get(indices[i] as usize).to_string(),
        Values::Int64(v) => v[i].to_string(),
        Values::Float64(v) => v[i].to_string(),
        Values::Boolean(v) => v[i].to_string(),
        Values::Date(v) => format_date(v[i]),
        Values::Timestamp(v) => format_timestamp(v[i]),
    }
}

/// Write `columns` (all the same length) to `file` with a header row.
pub fn write_table(file: &Path, columns: &[Column]) -> Result<(), DataError> {
    let unreadable = |e: &dyn std::fmt::Display| DataError::Unreadable {
        file: file.display().to_string(),
        message: e.to_string(),
    };
    let mut writer = csv::Writer::from_path(file).map_err(|e| unreadable(&e))?;
    writer.write_record(columns.iter().map(|c| c.name.as_str())).map_err(|e| unreadable(&e))?;
    let rows = columns.first().map_or(0, Column::len);
    let mut record = Vec::with_capacity(columns.len());
    for i in 0..rows {
        record.clear();
        record.extend(columns.iter().map(|c| cell(c, i)));
        writer.write_record(&record).map_err(|e| unreadable(&e))?;
    }
    writer.flush().map_err(|e| unreadable(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::ColumnType;

    fn read(bytes: &[u8]) -> Result<Vec<Column>, DataError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.csv");
        std::fs::write(&file, bytes).expect("write");
        let spec = TableSpec::new("t").column("a", ColumnType::Text).column("b", ColumnType::Text);
        read_columns(&file, &spec).map(|(columns, _)| columns)
    }

    #[test]
    fn text_cells_are_checked_for_utf8_whatever_their_neighbours_hold() {
        let columns = read("a,b,skipped\n张三,(2017)浙0102民初49号,x\n".as_bytes()).expect("valid");
        assert_eq!(
            (cell(&columns[0], 0), cell(&columns[1], 0)),
            ("张三".into(), "(2017)浙0102民初49号".into())
        );
        // "张" is E5 BC A0: split across two cells, the record's bytes joined are valid UTF-8, and
        // each cell alone is not.
        let split = read(b"a,b\n\xE5,\xBC\xA0\n").expect_err("a split character");
        assert!(split.to_string().contains("line 2") && split.to_string().contains("UTF-8"), "{split}");
        let bad = read(b"a,b\nok,\xFF\n").expect_err("an invalid byte");
        assert!(bad.to_string().contains('b'), "{bad}");
        // A column the table does not declare is not read, nor checked.
        assert!(read(b"a,b,c\nok,ok,\xFF\n").is_ok());
    }
}
