//! A deliberately over-broad private-lending model for competitions: it flags every suit of any
//! plaintiff with three or more suits, so it finds every professional lender (high recall) and
//! buries them among ordinary creditors (low precision).

use sieve_sdk::ops::count_text;
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// Every frequent plaintiff.
pub struct BroadLending;

impl Model for BroadLending {
    fn describe() -> ModelInfo {
        ModelInfo::new("demo-lending-broad", env!("CARGO_PKG_VERSION"))
            .summary("Flags every suit of a plaintiff with three or more private-lending suits.")
            .task("private-lending-fraud", "case")
            .input(TableSpec::new("lending_cases").text(&["case_no", "plaintiff_id"]))
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let cases = ctx.table("lending_cases")?.load(&["case_no", "plaintiff_id"])?;
        let (case_no, plaintiff) = (cases.text("case_no")?, cases.text("plaintiff_id")?);
        let suits = count_text(&plaintiff);
        for row in 0..cases.len() {
            let (Some(case), Some(p)) = (case_no.get(row), plaintiff.get(row)) else { continue };
            let n = suits.get(p).copied().unwrap_or(0);
            if n >= 3 {
                ctx.emit(
                    Clue::new(
                        case,
                        (n as f64 / 50.0).min(1.0),
                        "frequent-plaintiff",
                        format!("{p} filed {n} suits"),
                    )
                    .evidence("lending_cases", [row]),
                );
            }
        }
        Ok(())
    }
}

export_model!(BroadLending);
