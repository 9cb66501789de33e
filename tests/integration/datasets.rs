//! Bad datasets get `bad-input` errors naming the file, line and column.

use crate::common::{fresh_dir, run_json, t1_data};

fn copy_csv_dataset(name: &str) -> std::path::PathBuf {
    let src = t1_data("csv", 1);
    let dst = fresh_dir(name);
    for entry in std::fs::read_dir(&src).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dst.join(entry.file_name())).expect("copy");
    }
    dst
}

#[test]
fn a_declared_column_missing_from_the_data_is_named() {
    let dir = copy_csv_dataset("missing-column");
    let text = std::fs::read_to_string(dir.join("vehicles.csv")).expect("read");
    // Drop the owner_id column (the second one).
    let cut: String = text
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            format!("{},{}\n", cells[0], cells[2])
        })
        .collect();
    std::fs::write(dir.join("vehicles.csv"), cut).expect("write");
    let (code, v) = run_json("vehicle-insurance-fraud", &dir, &[]);
    assert_eq!((code, v["outcome"].as_str()), (19, Some("bad-input")), "{v}");
    let detail = v["detail"].as_str().expect("detail");
    assert!(detail.contains("vehicles.csv") && detail.contains("\"owner_id\""), "{detail}");
}

#[test]
fn a_bad_cell_is_named_by_file_line_and_column() {
    let dir = copy_csv_dataset("bad-cell");
    let text = std::fs::read_to_string(dir.join("employment.csv")).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let cells: Vec<&str> = lines[3].split(',').collect();
    lines[3] = format!("{},{},2021-13-01", cells[0], cells[1]);
    std::fs::write(dir.join("employment.csv"), lines.join("\n") + "\n").expect("write");
    let (code, v) = run_json("vehicle-insurance-fraud", &dir, &[]);
    assert_eq!(code, 19, "{v}");
    let detail = v["detail"].as_str().expect("detail");
    assert!(detail.contains("employment.csv line 4, column month"), "{detail}");
    // What was expected, never the cell itself: a message must not carry data out of a file.
    assert!(detail.contains("expected") && !detail.contains("2021-13-01"), "{detail}");
}

#[test]
fn a_missing_table_is_named() {
    let dir = copy_csv_dataset("missing-table");
    std::fs::remove_file(dir.join("employment.csv")).expect("remove");
    let (code, v) = run_json("vehicle-insurance-fraud", &dir, &[]);
    assert_eq!(code, 19, "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("\"employment\""), "{v}");
}

/// `dir`'s Parquet tables rewritten into a fresh directory with `compression`, as another
/// writer (DuckDB, polars, Spark) would make them.
fn recompressed(
    dir: &std::path::Path,
    name: &str,
    compression: parquet::basic::Compression,
) -> std::path::PathBuf {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;

    let out = fresh_dir(&format!("codec-{name}"));
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = out.join(path.file_name().expect("name"));
        if path.extension().is_none_or(|e| e != "parquet") {
            std::fs::copy(&path, target).expect("copy");
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader");
        let props = WriterProperties::builder().set_compression(compression).build();
        let mut writer = None;
        for batch in reader {
            let batch = batch.expect("batch");
            let writer = writer.get_or_insert_with(|| {
                let file = std::fs::File::create(&target).expect("create");
                ArrowWriter::try_new(file, batch.schema(), Some(props.clone())).expect("writer")
            });
            writer.write(&batch).expect("write");
        }
        writer.expect("a table with rows").close().expect("close");
    }
    out
}

#[test]
fn parquet_in_every_codec_a_writer_may_use_gives_the_same_clues() {
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};

    let original = t1_data("parquet", 1);
    let (code, expected) = run_json("vehicle-insurance-fraud", &original, &[]);
    assert_eq!(code, 0, "{expected}");
    for (name, compression) in [
        ("uncompressed", Compression::UNCOMPRESSED),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("lz4-raw", Compression::LZ4_RAW),
        ("lz4-hadoop", Compression::LZ4),
        ("brotli", Compression::BROTLI(BrotliLevel::default())),
    ] {
        let dir = recompressed(&original, name, compression);
        let (code, v) = run_json("vehicle-insurance-fraud", &dir, &[]);
        assert_eq!(code, 0, "{name}: {v}");
        assert_eq!(v["output_digest"], expected["output_digest"], "{name}");
    }
}
