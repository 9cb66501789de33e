//! T3 `false-mediation-confirmation`: forged mediation agreements confirmed by a court.
//!
//! The marks of "high frequency, short cycle, low confrontation", per confirmation:
//!
//! | mark | points |
//! |---|---|
//! | performance was already due before the agreement was signed | 0.30 |
//! | applied for within `quick-days` of the agreement | 0.20 |
//! | the same two parties again, before the same mediator | 0.20 |
//! | enforcement filed within `fast-enforcement-days` of the decision | 0.20 |
//! | a mediation subsidy was paid for the case | 0.10 |
//!
//! A confirmation scoring at least `min-score` is a clue. A busy court-annexed centre (subsidy on
//! every case, quick filing, varied parties, due dates after the agreement) stays below it.

use sieve_sdk::ops::{self, Index};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T3 model.
pub struct FalseMediationConfirmation;

impl Model for FalseMediationConfirmation {
    fn describe() -> ModelInfo {
        ModelInfo::new("false-mediation-confirmation", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags confirmations of mediation agreements that look forged: performance due before the \
                 agreement, applied for at once, the same parties again before the same mediator, a subsidy \
                 per case, enforcement filed at once.",
            )
            .task("false-mediation-confirmation", "case")
            .input(
                TableSpec::new("confirmations")
                    .text(&["case_no", "mediator_id", "party_a_id", "party_b_id"])
                    .date(&["agreement_on", "applied_on", "decided_on", "performance_due_on"]),
            )
            .input(TableSpec::new("enforcement").text(&["basis_case_no"]).date(&["filed_on"]))
            .input(TableSpec::new("mediation_subsidies").text(&["case_no"]))
            .param_int(
                "quick-days",
                3,
                "An application this many days or fewer after the agreement is quick.",
            )
            .param_int(
                "fast-enforcement-days",
                10,
                "Enforcement this many days or fewer after the decision is fast.",
            )
            .param_float("min-score", 0.6, "Lowest score that becomes a clue.")
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let quick_days: i32 = ctx.param("quick-days")?;
        let fast_days: i32 = ctx.param("fast-enforcement-days")?;
        let min_score: f64 = ctx.param("min-score")?;
        let c = ctx.table("confirmations")?.load(&[
            "case_no",
            "mediator_id",
            "party_a_id",
            "party_b_id",
            "agreement_on",
            "applied_on",
            "decided_on",
            "performance_due_on",
        ])?;
        let e = ctx.table("enforcement")?.load(&["basis_case_no", "filed_on"])?;
        let sub = ctx.table("mediation_subsidies")?.load(&["case_no"])?;

        let (case_no, mediator) = (c.text("case_no")?, c.text("mediator_id")?);
        let (party_a, party_b) = (c.text("party_a_id")?, c.text("party_b_id")?);
        let (agreed, applied, decided, due) = (
            c.date("agreement_on")?,
            c.date("applied_on")?,
            c.date("decided_on")?,
            c.date("performance_due_on")?,
        );
        let enforced = Index::build(&e.text("basis_case_no")?);
        let enforced_on = e.date("filed_on")?;
        let subsidised = Index::build(&sub.text("case_no")?);

        // Parties in either order are the same pair.
        let pair = |row: usize| {
            let (a, b) = (party_a.get(row)?, party_b.get(row)?);
            Some((mediator.get(row)?, a.min(b), a.max(b)))
        };
        let pair_counts = ops::count_by((0..c.len()).filter_map(pair));

        for row in 0..c.len() {
            let Some(subject) = case_no.get(row) else { continue };
            let mut marks: Vec<(u32, String)> = Vec::new();
            if let (Some(d), Some(a)) = (due.get(row), agreed.get(row))
                && d < a
            {
                marks.push((30, format!("performance was due {} days before the agreement", a - d)));
            }
            if let (Some(p), Some(a)) = (applied.get(row), agreed.get(row))
                && p - a <= quick_days
            {
                marks.push((20, format!("applied for {} days after the agreement", p - a)));
            }
            if let Some(key) = pair(row)
                && let Some(&n) = pair_counts.get(&key)
                && n >= 2
            {
                marks.push((20, format!("the same parties came before mediator {} {n} times", key.0)));
            }
            let enforcement_rows = enforced.get(subject);
            let fast = enforcement_rows.iter().find_map(|&r| {
                let lag = enforced_on.get(r as usize)? - decided.get(row)?;
                (lag <= fast_days).then_some(lag)
            });
            if let Some(lag) = fast {
                marks.push((20, format!("enforcement was filed {lag} days after the decision")));
            }
            let subsidy_rows = subsidised.get(subject);
            if !subsidy_rows.is_empty() {
                marks.push((10, "a mediation subsidy was paid".into()));
            }
            let score = marks.iter().map(|(p, _)| p).sum::<u32>() as f64 / 100.0;
            if score < min_score {
                continue;
            }
            let reasons: Vec<&str> = marks.iter().map(|(_, m)| m.as_str()).collect();
            let clue = Clue::new(
                subject,
                score,
                "forged-confirmation",
                format!("Confirmation {subject}: {}.", reasons.join("; ")),
            )
            .evidence("confirmations", [row])
            .evidence("enforcement", enforcement_rows.iter().map(|&r| r as usize))
            .evidence("mediation_subsidies", subsidy_rows.iter().map(|&r| r as usize));
            ctx.emit(clue);
        }
        Ok(())
    }
}

export_model!(FalseMediationConfirmation);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    const CONFIRMATIONS: &str = "\
case_no,mediator_id,party_a_id,party_b_id,agreement_on,applied_on,decided_on,performance_due_on
F1,M,a,b,2021-03-01,2021-03-02,2021-03-05,2021-01-01
F2,M,b,a,2021-04-01,2021-04-01,2021-04-05,2021-02-01
F3,M,a,b,2021-05-01,2021-05-03,2021-05-06,
C1,CENTRE,c,d,2021-03-01,2021-03-12,2021-03-20,2021-09-01
C2,CENTRE,e,f,2021-03-01,2021-03-09,2021-03-20,2021-09-01
H1,H,g,h,2021-03-01,2021-03-02,2021-03-20,2021-09-01
";
    const ENFORCEMENT: &str = "basis_case_no,filed_on\nF1,2021-03-07\nH1,2021-12-01\n";
    const SUBSIDIES: &str = "case_no\nF1\nF2\nF3\nC1\nC2\n";

    #[test]
    fn the_hand_written_fixture_scores_each_boundary_as_documented() {
        // tests/fixtures/false-mediation-confirmation/README.md says what each row tests; the
        // integration tests run the same files through the real binary.
        let tables = [
            (
                "confirmations",
                include_str!("../../../tests/fixtures/false-mediation-confirmation/confirmations.csv"),
            ),
            (
                "enforcement",
                include_str!("../../../tests/fixtures/false-mediation-confirmation/enforcement.csv"),
            ),
            (
                "mediation_subsidies",
                include_str!("../../../tests/fixtures/false-mediation-confirmation/mediation_subsidies.csv"),
            ),
        ];
        let data =
            Dataset::from_csv(&FalseMediationConfirmation::describe(), &tables).expect("fixture parses");
        let out = native::run::<FalseMediationConfirmation>(&data, &[]).expect("runs");
        let mut flagged: Vec<(&str, f64)> = out.clues.iter().map(|c| (c.subject.as_str(), c.score)).collect();
        flagged.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(flagged, [("F1", 1.0), ("F2", 0.7), ("F3", 0.6)]);
    }

    #[test]
    fn flags_forgeries_and_spares_busy_centres() {
        let info = FalseMediationConfirmation::describe();
        let data = Dataset::from_csv(
            &info,
            &[
                ("confirmations", CONFIRMATIONS),
                ("enforcement", ENFORCEMENT),
                ("mediation_subsidies", SUBSIDIES),
            ],
        )
        .expect("parses");
        let out = native::run::<FalseMediationConfirmation>(&data, &[]).expect("runs");
        let mut flagged: Vec<(&str, f64)> = out.clues.iter().map(|c| (c.subject.as_str(), c.score)).collect();
        flagged.sort_by(|a, b| a.0.cmp(b.0));
        // F3 has no due date (null): quick + pair + subsidy = 0.5, below the bar.
        assert_eq!(flagged, [("F1", 1.0), ("F2", 0.8)]);
        let out = native::run::<FalseMediationConfirmation>(&data, &[("min-score", "0.5")]).expect("runs");
        assert_eq!(out.clues.len(), 3);
    }
}
