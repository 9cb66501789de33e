//! A deliberately weak private-lending model for competitions: it flags only unlicensed
//! plaintiffs with at least 30 suits, so it misses most professional lenders (low recall) while
//! what it flags is mostly right. It also logs a line and writes one to stderr, which the web
//! UI's run page shows (escaped: the line holds markup).

use sieve_sdk::ops::{FastMap, fast_map};
use sieve_sdk::{Clue, Context, LogLevel, Model, ModelError, ModelInfo, TableSpec, export_model};

/// Only the biggest lenders.
pub struct WeakLending;

impl Model for WeakLending {
    fn describe() -> ModelInfo {
        ModelInfo::new("demo-lending-weak", env!("CARGO_PKG_VERSION"))
            .summary("Flags the suits of unlicensed plaintiffs with 30 or more private-lending suits.")
            .task("private-lending-fraud", "case")
            .input(
                TableSpec::new("lending_cases")
                    .text(&["case_no", "plaintiff_id"])
                    .boolean(&["plaintiff_licensed"]),
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let cases = ctx.table("lending_cases")?.load(&["case_no", "plaintiff_id", "plaintiff_licensed"])?;
        let (case_no, plaintiff, licensed) =
            (cases.text("case_no")?, cases.text("plaintiff_id")?, cases.boolean("plaintiff_licensed")?);
        let mut suits: FastMap<&str, (usize, bool)> = fast_map();
        for row in 0..cases.len() {
            if let Some(p) = plaintiff.get(row) {
                let e = suits.entry(p).or_default();
                e.0 += 1;
                e.1 |= licensed.get(row).unwrap_or(false);
            }
        }
        let big = suits.values().filter(|&&(n, licensed)| n >= 30 && !licensed).count();
        ctx.log(LogLevel::Info, &format!("{big} unlicensed plaintiffs with 30 or more suits"));
        eprintln!("weak model: <done counting>");
        for row in 0..cases.len() {
            let (Some(case), Some(p)) = (case_no.get(row), plaintiff.get(row)) else { continue };
            if let Some(&(n, false)) = suits.get(p)
                && n >= 30
            {
                ctx.emit(
                    Clue::new(
                        case,
                        0.5 + (n as f64 / 200.0).min(0.5),
                        "big-lender",
                        format!("{p} filed {n} suits"),
                    )
                    .evidence("lending_cases", [row]),
                );
            }
        }
        Ok(())
    }
}

export_model!(WeakLending);
