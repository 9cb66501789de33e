//! Reads every column of the four T1 tables and emits nothing: it measures how fast the host
//! feeds data into a guest (`sieve bench`), WASM against the same crate built natively. With
//! `check-batch-rows` it also reads every table again in batches of that many rows and emits a
//! clue for each column whose values differ from the whole-table load (the host lowers a batch
//! that starts at row 0 from its own offsets, and rebases the others).

use sieve_sdk::data::{Column, Values};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

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
            rows += ctx.table(&spec.name)?.load(&names)?.len();
            if batch_rows == 0 {
                continue;
            }
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
