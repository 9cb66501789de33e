//! T2 `private-lending-fraud`: professional lenders behind false private-lending suits.
//!
//! A professional lender is an unlicensed plaintiff with many suits, most of them default
//! judgments (the defendant never appears), many withdrawn once the debtor pays up under pressure,
//! at rates above the legal cap. Every case of such a plaintiff is a clue. Points per plaintiff:
//!
//! | mark | points |
//! |---|---|
//! | at least `min-suits` suits, unlicensed | 0.40 (required) |
//! | defendants absent in at least `min-absent-share` of the suits | 0.25 |
//! | at least `min-withdrawn-share` of the suits withdrawn | 0.20 |
//! | at least half the stated rates above `max-rate` | 0.15 |
//!
//! Licensed lenders (banks, micro-lenders) are never flagged; nor are busy plaintiffs whose
//! defendants appear and whose suits run their course.

use sieve_sdk::ops::{self, Index};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T2 model.
pub struct PrivateLendingFraud;

impl Model for PrivateLendingFraud {
    fn describe() -> ModelInfo {
        ModelInfo::new("private-lending-fraud", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags every suit of an unlicensed plaintiff who sues many borrowers, mostly by default \
                 judgment, often withdrawing after filing, at rates above the legal cap.",
            )
            .task("private-lending-fraud", "case")
            .input(
                TableSpec::new("lending_cases")
                    .text(&["case_no", "plaintiff_id", "outcome"])
                    .boolean(&["defendant_appeared", "plaintiff_licensed"])
                    .float64(&["annual_rate"]),
            )
            .input(TableSpec::new("enforcement").text(&["basis_case_no"]))
            .param_int("min-suits", 10, "Suits an unlicensed plaintiff must have filed to be looked at.")
            .param_float(
                "min-absent-share",
                0.5,
                "Share of suits with an absent defendant that counts as a mark.",
            )
            .param_float("min-withdrawn-share", 0.15, "Share of withdrawn suits that counts as a mark.")
            .param_float("max-rate", 0.154, "Legal cap on the annual rate (four times the one-year LPR).")
            .param_float(
                "min-score",
                0.65,
                "Lowest plaintiff score that turns the plaintiff's suits into clues.",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let min_suits: usize = ctx.param("min-suits")?;
        let min_absent: f64 = ctx.param("min-absent-share")?;
        let min_withdrawn: f64 = ctx.param("min-withdrawn-share")?;
        let max_rate: f64 = ctx.param("max-rate")?;
        let min_score: f64 = ctx.param("min-score")?;

        let cases = ctx.table("lending_cases")?.load(&[
            "case_no",
            "plaintiff_id",
            "outcome",
            "defendant_appeared",
            "plaintiff_licensed",
            "annual_rate",
        ])?;
        let enforcement = ctx.table("enforcement")?.load(&["basis_case_no"])?;
        let (case_no, plaintiff, outcome) =
            (cases.text("case_no")?, cases.text("plaintiff_id")?, cases.text("outcome")?);
        let (appeared, licensed, rate) = (
            cases.boolean("defendant_appeared")?,
            cases.boolean("plaintiff_licensed")?,
            cases.float64("annual_rate")?,
        );
        let enforced = Index::build(&enforcement.text("basis_case_no")?);

        for (who, rows) in Index::build(&plaintiff).groups() {
            let n = rows.len();
            if n < min_suits || rows.iter().any(|&r| licensed.get(r as usize) == Some(true)) {
                continue;
            }
            let rows = rows.iter().map(|&r| r as usize);
            let absent = ops::share(rows.clone(), |r| appeared.get(r).map(|a| !a));
            let withdrawn = ops::share(rows.clone(), |r| outcome.get(r).map(|o| o == "withdrawn"));
            let usurious = ops::share(rows.clone(), |r| rate.get(r).map(|x| x > max_rate));
            let marks = [
                (true, 40),
                (absent >= min_absent, 25),
                (withdrawn >= min_withdrawn, 20),
                (usurious >= 0.5, 15),
            ];
            let score = marks.iter().filter(|(hit, _)| *hit).map(|(_, p)| p).sum::<u32>() as f64 / 100.0;
            if score < min_score {
                continue;
            }
            let reason = format!(
                "Unlicensed plaintiff {who} filed {n} private-lending suits: defendants absent in {:.0}%, \
                 {:.0}% withdrawn, {:.0}% at rates above {:.1}%.",
                absent * 100.0,
                withdrawn * 100.0,
                usurious * 100.0,
                max_rate * 100.0
            );
            for row in rows {
                let Some(subject) = case_no.get(row) else { continue };
                let enforcement_rows = enforced.get(subject).iter().map(|&r| r as usize);
                let clue = Clue::new(subject, score, "professional-lender", reason.clone())
                    .evidence("lending_cases", [row])
                    .evidence("enforcement", enforcement_rows);
                ctx.emit(clue);
            }
        }
        Ok(())
    }
}

export_model!(PrivateLendingFraud);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    fn dataset(cases: &str) -> Dataset {
        let info = PrivateLendingFraud::describe();
        Dataset::from_csv(&info, &[("lending_cases", cases), ("enforcement", "basis_case_no\nL1\n")])
            .expect("parses")
    }

    fn suits(plaintiff: &str, n: usize, appeared: &str, outcome: &str, licensed: &str, rate: &str) -> String {
        (0..n)
            .map(|i| format!("{plaintiff}{i},{plaintiff},{outcome},{appeared},{licensed},{rate}\n"))
            .collect()
    }

    const HEADER: &str = "case_no,plaintiff_id,outcome,defendant_appeared,plaintiff_licensed,annual_rate\n";

    #[test]
    fn flags_every_suit_of_a_professional_lender_only() {
        let mut csv = HEADER.to_string();
        csv += &suits("L", 8, "false", "judgment", "false", "0.3");
        csv += &suits("L", 4, "false", "withdrawn", "", "0.3");
        csv += &suits("BANK", 30, "false", "withdrawn", "true", "0.3");
        csv += &suits("TRADER", 12, "true", "judgment", "false", "0.08");
        csv += &suits("ONCE", 1, "false", "withdrawn", "false", "0.3");
        let out = native::run::<PrivateLendingFraud>(&dataset(&csv), &[]).expect("runs");
        assert_eq!(out.clues.len(), 12);
        assert!(out.clues.iter().all(|c| c.subject.starts_with('L') && c.score == 1.0));
        let l1 = out.clues.iter().find(|c| c.subject == "L1").expect("L1");
        assert!(l1.evidence.iter().any(|e| e.table == "enforcement"));
    }

    #[test]
    fn thresholds_are_parameters() {
        let mut csv = HEADER.to_string();
        csv += &suits("L", 9, "false", "judgment", "false", "0.3");
        assert!(native::run::<PrivateLendingFraud>(&dataset(&csv), &[]).expect("runs").clues.is_empty());
        let out = native::run::<PrivateLendingFraud>(&dataset(&csv), &[("min-suits", "9")]).expect("runs");
        // Frequent, absent defendants, usurious, but nothing withdrawn: 0.8.
        assert_eq!(out.clues.len(), 9);
        assert_eq!(out.clues[0].score, 0.8);
    }
}
