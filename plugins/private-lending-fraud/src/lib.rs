//! T2 `private-lending-fraud`: professional lenders behind false private-lending suits.
//!
//! A professional lender, as DOMAIN.md describes one, is a plaintiff who
//!
//! 1. filed at least `min-suits` suits (15 in the published screening),
//! 2. is never recorded as licensed (banks and micro-lenders sue often, lawfully), and
//! 3. won mostly by default: defendants were absent in more than `absent-share` of the suits
//!    where appearance is known.
//!
//! Every case of such a plaintiff is a clue. Withdrawals after filing and rates above `max-rate`
//! do not decide, but rank: the score is 0.6, plus up to 0.2 for the share withdrawn and up to
//! 0.2 for the share at usurious rates.

use sieve_sdk::ops::{self, Index};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T2 model.
pub struct PrivateLendingFraud;

impl Model for PrivateLendingFraud {
    fn describe() -> ModelInfo {
        ModelInfo::new("private-lending-fraud", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags every suit of an unlicensed plaintiff with many private-lending suits won mostly by \
                 default, ranked by withdrawals after filing and rates above the legal cap.",
            )
            .task("private-lending-fraud", "case")
            .input(
                TableSpec::new("lending_cases")
                    .text(&["case_no", "plaintiff_id", "outcome"])
                    .boolean(&["defendant_appeared", "plaintiff_licensed"])
                    .float64(&["annual_rate"]),
            )
            .input(TableSpec::new("enforcement").text(&["basis_case_no"]))
            .param_int("min-suits", 15, "Suits a plaintiff must have filed to be a professional lender.")
            .param_float(
                "absent-share",
                0.5,
                "Defendants must be absent in more than this share of a lender's suits (where known).",
            )
            .param_float(
                "max-rate",
                0.154,
                "Legal cap on the annual rate (four times the one-year LPR), for ranking.",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let min_suits: usize = ctx.param("min-suits")?;
        let absent_share: f64 = ctx.param("absent-share")?;
        let max_rate: f64 = ctx.param("max-rate")?;

        let cases = ctx.table("lending_cases")?.load(&["case_no", "plaintiff_id"])?;
        let enforcement = ctx.table("enforcement")?.load(&["basis_case_no"])?;
        let (case_no, plaintiff) = (cases.text("case_no")?, cases.text("plaintiff_id")?);
        let enforced = Index::build(&enforcement.text("basis_case_no")?);

        // Mark 1 on codes alone: plaintiffs with enough suits. The flags, outcomes and rates the
        // other marks read are read for those plaintiffs' rows only (7% of the rows in the
        // generator's data, a third where a few plaintiffs file most suits), not loaded whole.
        let by_plaintiff = Index::build(&plaintiff);
        let busy: Vec<&[u32]> = by_plaintiff
            .groups()
            .map(|(_, rows)| rows)
            .filter(|rows| rows.len() >= min_suits.max(1))
            .collect();
        let busy_rows: Vec<u32> = busy.iter().flat_map(|rows| rows.iter().copied()).collect();
        let marks = ctx
            .table("lending_cases")?
            .rows(&["outcome", "defendant_appeared", "plaintiff_licensed", "annual_rate"], &busy_rows)?;
        let (outcome, appeared) = (marks.text("outcome")?, marks.boolean("defendant_appeared")?);
        let (licensed, rate) = (marks.boolean("plaintiff_licensed")?, marks.float64("annual_rate")?);

        // The lenders; their words (the plaintiff, the case numbers) are read for their rows
        // afterwards, so the run never copies those dictionaries whole.
        let mut lenders = Vec::new();
        let mut next = 0;
        for rows in busy {
            // This plaintiff's rows in `marks`.
            let at = next..next + rows.len();
            next = at.end;
            if at.clone().any(|i| licensed.get(i) == Some(true)) {
                continue;
            }
            let absent = ops::share(at.clone(), |i| appeared.get(i).map(|a| !a));
            if absent <= absent_share {
                continue;
            }
            let withdrawn = ops::share(at.clone(), |i| outcome.get(i).map(|o| o == "withdrawn"));
            let usurious = ops::share(at, |i| rate.get(i).map(|x| x > max_rate));
            lenders.push((rows, absent, withdrawn, usurious));
        }

        let first_rows: Vec<u32> = lenders.iter().filter_map(|l| l.0.first().copied()).collect();
        let case_rows: Vec<u32> = lenders.iter().flat_map(|l| l.0.iter().copied()).collect();
        let who_words = ctx.table("lending_cases")?.rows(&["plaintiff_id"], &first_rows)?;
        let case_words = ctx.table("lending_cases")?.rows(&["case_no"], &case_rows)?;
        let (names, subjects) = (who_words.text("plaintiff_id")?, case_words.text("case_no")?);
        let mut next_case = 0;
        for (i, (rows, absent, withdrawn, usurious)) in lenders.into_iter().enumerate() {
            let (who, n) = (names.get(i).unwrap_or_default(), rows.len());
            let score = 0.6 + 0.2 * withdrawn + 0.2 * usurious;
            let reason = format!(
                "Unlicensed plaintiff {who} filed {n} private-lending suits: defendants absent in {:.0}%, \
                 {:.0}% withdrawn, {:.0}% at rates above {:.1}%.",
                absent * 100.0,
                withdrawn * 100.0,
                usurious * 100.0,
                max_rate * 100.0
            );
            for &row in rows {
                next_case += 1;
                let row = row as usize;
                // Case numbers share a dictionary with `basis_case_no`: the lookup is by code.
                let (Some(case), Some(subject)) = (case_no.key(row), subjects.get(next_case - 1)) else {
                    continue;
                };
                let enforcement_rows = enforced.get(case).iter().map(|&r| r as usize);
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

    /// The hand-written fixture (tests/fixtures/private-lending-fraud/README.md says what each
    /// plaintiff tests), also run through the real binary and the generator's labeller.
    const CASES: &str = include_str!("../../../tests/fixtures/private-lending-fraud/lending_cases.csv");
    const ENFORCEMENT: &str = include_str!("../../../tests/fixtures/private-lending-fraud/enforcement.csv");

    fn run_fixture(params: &[(&str, &str)]) -> native::NativeOutput {
        let data = Dataset::from_csv(
            &PrivateLendingFraud::describe(),
            &[("lending_cases", CASES), ("enforcement", ENFORCEMENT)],
        )
        .expect("parses");
        native::run::<PrivateLendingFraud>(&data, params).expect("runs")
    }

    fn lenders(params: &[(&str, &str)]) -> Vec<(String, usize)> {
        let out = run_fixture(params);
        let mut found: std::collections::BTreeMap<String, usize> = Default::default();
        for c in &out.clues {
            let who = c.subject.split('-').next().unwrap_or_default().to_string();
            *found.entry(who).or_default() += 1;
        }
        found.into_iter().collect()
    }

    #[test]
    fn flags_every_suit_of_a_professional_lender_and_no_near_miss() {
        assert_eq!(lenders(&[]), [("L".to_string(), 15), ("M".to_string(), 17)]);
        let out = run_fixture(&[]);
        let l1 = out.clues.iter().find(|c| c.subject == "L-01").expect("L-01");
        assert!(l1.evidence.iter().any(|e| e.table == "enforcement"));
        // L: 4 of 15 withdrawn, all at 30%: 0.6 + 0.2 * 4/15 + 0.2.
        assert!((l1.score - (0.8 + 0.2 * 4.0 / 15.0)).abs() < 1e-12, "{}", l1.score);
    }

    /// A lender's words are read for its rows after the marks: each clue quotes its own case and
    /// its own lender, and cites its own row.
    #[test]
    fn each_clue_quotes_its_own_case_and_lender() {
        let out = run_fixture(&[]);
        let clue = |subject: &str| {
            let c = out.clues.iter().find(|c| c.subject == subject).expect("a clue");
            (c.reason.as_str(), c.evidence[0].row)
        };
        assert_eq!(
            clue("L-01"),
            (
                "Unlicensed plaintiff L filed 15 private-lending suits: defendants absent in 80%, 27% withdrawn, 100% at \
                 rates above 15.4%.",
                1
            )
        );
        let m = "Unlicensed plaintiff M filed 17 private-lending suits: defendants absent in 56%, 0% withdrawn, 100% at \
                 rates above 15.4%.";
        assert_eq!((clue("M-01"), clue("M-16")), ((m, 16), (m, 31)));
    }

    #[test]
    fn thresholds_are_parameters() {
        let found = lenders(&[("min-suits", "14")]);
        assert!(found.contains(&("FOURTEEN".to_string(), 14)), "{found:?}");
        let found = lenders(&[("absent-share", "0.49")]);
        assert!(found.contains(&("HALF".to_string(), 16)), "{found:?}");
    }
}
