//! Reads every column of the four T1 tables and emits nothing: it measures how fast the host
//! feeds data into a guest (`sieve bench`), WASM against the same crate built natively.

use sieve_sdk::{Context, Model, ModelError, ModelInfo, TableSpec, export_model};

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
                .task("vehicle-insurance-fraud", "case"),
            ModelInfo::input,
        )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let mut rows = 0;
        for spec in tables() {
            let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
            rows += ctx.table(&spec.name)?.load(&names)?.len();
        }
        ctx.info(&format!("scanned {rows} rows"));
        Ok(())
    }
}

export_model!(Scan);
