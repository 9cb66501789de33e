//! Reads every column of the four T1 tables and emits nothing: it measures how fast the host
//! feeds data into a guest (`sieve bench`), WASM against the same crate built natively. With
//! `check-batch-rows` it also reads every table again in batches of that many rows and emits a
//! clue for each column whose values differ from the whole-table load (the host lowers a batch
//! that starts at row 0 from its own offsets, and rebases the others), and one for each
//! dictionary-encoded column whose index the host grouped differently from the SDK's own.

use sieve_sdk::data::{Column, Values};
use sieve_sdk::ops::Index;
use sieve_sdk::{Clue, Context, Frame, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The scanning model.
pub struct Scan;

/// The T1 table contract of DOMAIN.md, every column.
pub fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec::new("judgments")
            .text(&[
                "case_no",
                "court",
                "plaintiff_id",
                "defendant_insurer",
                "plaintiff_lawyer",
                "plate",
                "assessor_org",
                "repair_shop",
            ])
            .date(&["filed_on", "decided_on", "accident_on"])
            .float64(&["claimed", "awarded"])
            .boolean(&["insurer_assessed", "claim_assigned"]),
        TableSpec::new("vehicles").text(&["plate", "owner_id"]).date(&["registered_on"]),
        TableSpec::new("employment").text(&["person_id", "employer_id"]).date(&["month"]),
        TableSpec::new("businesses").text(&["org_id", "name", "kind", "legal_rep_id"]),
    ]
}

impl Model for Scan {
    fn describe() -> ModelInfo {
        tables().into_iter().fold(
            ModelInfo::new("scan", "0.1.0")
                .summary("Loads every T1 column.")
                .task("vehicle-insurance-fraud", "case")
                .param_int(
                    "check-batch-rows",
                    0,
                    "Also read in batches of this many rows and compare (0: no).",
                ),
            ModelInfo::input,
        )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let batch_rows: u32 = ctx.param("check-batch-rows")?;
        let mut rows = 0;
        for spec in tables() {
            let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
            let loaded = ctx.table(&spec.name)?.load(&names)?;
            rows += loaded.len();
            if batch_rows == 0 {
                continue;
            }
            check_indexes(ctx, &spec, &loaded)?;
            let whole = read(ctx, &spec.name, &names, u32::MAX)?;
            let batched = read(ctx, &spec.name, &names, batch_rows)?;
            for ((name, a), b) in names.iter().zip(&whole).zip(&batched) {
                if a != b {
                    ctx.emit(Clue::new(
                        format!("{}.{name}", spec.name),
                        1.0,
                        "batches-differ",
                        "batched read differs",
                    ));
                }
            }
        }
        ctx.info(&format!("scanned {rows} rows"));
        Ok(())
    }
}

/// For each text column of `loaded` (a whole table, so a guest's index of a dictionary-encoded
/// column is the host's grouping), a clue if that index is not the host's, or differs from the
/// SDK's own index of the same values (a frame the SDK assembles itself, which the host never
/// groups): in its groups, their order, or any row's lookup.
fn check_indexes(ctx: &mut Context, spec: &TableSpec, loaded: &Frame) -> Result<(), ModelError> {
    let texts: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| c.ty == sieve_sdk::ColumnType::Text)
        .map(|c| c.name.as_str())
        .collect();
    let mut columns = Vec::new();
    ctx.table(&spec.name)?.for_each_batch(&texts, u32::MAX, |batch| {
        columns = batch.columns;
        Ok(())
    })?;
    let own = Frame::new(&spec.name, loaded.len(), columns);
    for name in texts {
        let (served, assembled) = (loaded.text(name)?, own.text(name)?);
        let (by_host, by_sdk) = (Index::build(&served), Index::build(&assembled));
        // In a guest, a dictionary-encoded served column is grouped by the host; natively never.
        let host_groups = cfg!(target_arch = "wasm32") && served.is_dictionary_encoded();
        let problem = if host_groups != by_host.built_by_host() || by_sdk.built_by_host() {
            Some("index-builder")
        } else if !by_host.groups().eq(by_sdk.groups())
            || (0..loaded.len())
                .any(|i| served.key(i).map(|k| by_host.get(k)) != assembled.key(i).map(|k| by_sdk.get(k)))
        {
            Some("index-differs")
        } else {
            None
        };
        if let Some(rule) = problem {
            ctx.emit(Clue::new(format!("{}.{name}", spec.name), 1.0, rule, "host and SDK index differ"));
        }
    }
    Ok(())
}

/// Every value of `columns` of `table`, as text, read `batch_rows` rows at a time.
fn read(
    ctx: &mut Context,
    table: &str,
    columns: &[&str],
    batch_rows: u32,
) -> Result<Vec<Vec<Option<String>>>, ModelError> {
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    ctx.table(table)?.for_each_batch(columns, batch_rows, |batch| {
        for (acc, column) in values.iter_mut().zip(&batch.columns) {
            acc.extend((0..batch.len).map(|i| cell(column, i)));
        }
        Ok(())
    })?;
    Ok(values)
}

/// Row `i` of `column` as text (`None` for a null), whatever its encoding.
fn cell(column: &Column, i: usize) -> Option<String> {
    if !column.is_valid(i) {
        return None;
    }
    Some(match &column.values {
        Values::Text(t) => t.get(i).to_string(),
        Values::Dictionary { indices, dictionary } => dictionary.get(indices[i] as usize).to_string(),
        Values::Int64(v) | Values::Timestamp(v) => v[i].to_string(),
        Values::Float64(v) => v[i].to_string(),
        Values::Boolean(v) => v[i].to_string(),
        Values::Date(v) => v[i].to_string(),
    })
}

export_model!(Scan);
