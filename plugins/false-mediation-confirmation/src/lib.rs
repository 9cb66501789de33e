//! T3 `false-mediation-confirmation`: forged mediation agreements confirmed by a court.
//!
//! DOMAIN.md's forged confirmation carries every mark of "high frequency, short cycle, low
//! confrontation"; a confirmation missing any one is not a clue:
//!
//! 1. applied for within `quick-days` days of the agreement (`applied_on - agreement_on`);
//! 2. performance already due before the agreement (`performance_due_on < agreement_on`);
//! 3. the same two parties (in either order) in another confirmation before the same mediator;
//! 4. a mediation subsidy paid for the case;
//! 5. enforcement filed immediately (the first filing at most `fast-enforcement-days` days after
//!    the decision) or never.
//!
//! An unknown date never makes a mark. The score ranks clues by how often the pair came back:
//! 0.6 for two confirmations, +0.1 per further one, at most 1.0.

use sieve_sdk::ops::Index;
use sieve_sdk::{Clue, Context, Key, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T3 model.
pub struct FalseMediationConfirmation;

impl Model for FalseMediationConfirmation {
    fn describe() -> ModelInfo {
        ModelInfo::new("false-mediation-confirmation", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags confirmations of mediation agreements that carry every mark of a forgery: applied for at \
                 once, performance due before the agreement, the same parties again before the same mediator, a \
                 subsidy for the case, enforcement filed at once or never.",
            )
            .task("false-mediation-confirmation", "case")
            .input(
                TableSpec::new("confirmations")
                    .text(&["case_no", "mediator_id", "party_a_id", "party_b_id"])
                    .date(&["agreement_on", "applied_on", "decided_on", "performance_due_on"]),
            )
            .input(TableSpec::new("enforcement").text(&["basis_case_no"]).date(&["filed_on"]))
            .input(TableSpec::new("mediation_subsidies").text(&["case_no"]))
            .param_int("quick-days", 3, "An application at most this many days after the agreement is quick.")
            .param_int(
                "fast-enforcement-days",
                10,
                "Enforcement filed at most this many days after the decision is immediate.",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let quick_days: i32 = ctx.param("quick-days")?;
        let fast_days: i32 = ctx.param("fast-enforcement-days")?;
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

        // How often the parties of `row`, in either order, came before its mediator. Most parties'
        // confirmations are few: counting among them needs no table of every pair, and parties
        // sharing the run's dictionary compare by code. The (first, second) rows are counted among
        // the first party's rows as party A or the second's as party B, whichever are fewer: a
        // party in thousands of confirmations is then scanned only against another such party.
        let (as_a, as_b) = (Index::build(&party_a), Index::build(&party_b));
        let repeats_of = |row: usize| -> Option<usize> {
            let (m, a, b) = (mediator.key(row)?, party_a.key(row)?, party_b.key(row)?);
            let count = |first: Key<'_>, second: Key<'_>| {
                let (by_first, by_second) = (as_a.get(first), as_b.get(second));
                let (rows, other, wanted) = if by_first.len() <= by_second.len() {
                    (by_first, &party_b, second)
                } else {
                    (by_second, &party_a, first)
                };
                let same = |x: usize| mediator.key(x) == Some(m) && other.key(x) == Some(wanted);
                rows.iter().filter(|&&x| same(x as usize)).count()
            };
            // (a, b) rows, then (b, a) rows; a pair of one party is only counted once.
            Some(count(a, b) + if a == b { 0 } else { count(b, a) })
        };

        // The marks, on codes: a clue's words (its case number and mediator) are read for its row
        // afterwards, so the run never copies the case and mediator dictionaries whole.
        let mut found = Vec::new();
        for row in 0..c.len() {
            let Some(case) = case_no.key(row) else { continue };
            let Some(agreement) = agreed.get(row) else { continue };
            let (Some(applied_on), Some(due_on)) = (applied.get(row), due.get(row)) else { continue };
            if applied_on - agreement > quick_days || due_on >= agreement {
                continue;
            }
            let subsidy_rows = subsidised.get(case);
            if subsidy_rows.is_empty() {
                continue;
            }
            // Immediately or never: the first filing decides; an unknown date decides nothing.
            let enforcement_rows = enforced.get(case);
            let first_filing = enforcement_rows.iter().map(|&r| enforced_on.get(r as usize)).min();
            let days_to_enforcement = match first_filing {
                None => None,
                Some(Some(filed)) => match decided.get(row) {
                    Some(d) if filed - d <= fast_days => Some(filed - d),
                    _ => continue,
                },
                Some(None) => continue,
            };
            // Last, as the dearest: a party named in many confirmations has many rows to count.
            let Some(repeats) = repeats_of(row).filter(|&n| n >= 2) else { continue };
            let marks = (applied_on - agreement, agreement - due_on, repeats, days_to_enforcement);
            found.push((row as u32, marks, enforcement_rows, subsidy_rows));
        }

        let rows: Vec<u32> = found.iter().map(|f| f.0).collect();
        let words = ctx.table("confirmations")?.rows(&["case_no", "mediator_id"], &rows)?;
        let (subjects, mediators) = (words.text("case_no")?, words.text("mediator_id")?);
        for (i, (row, (quick, overdue, repeats, enforced_after), enforcement_rows, subsidy_rows)) in
            found.into_iter().enumerate()
        {
            let (Some(subject), Some(mediator_id)) = (subjects.get(i), mediators.get(i)) else { continue };
            let enforcement = match enforced_after {
                None => "no enforcement was ever filed".to_string(),
                Some(days) => format!("enforcement was filed {days} days after the decision"),
            };
            let score = (0.6 + 0.1 * (repeats - 2) as f64).min(1.0);
            let clue = Clue::new(
                subject,
                score,
                "forged-confirmation",
                format!(
                    "Confirmation {subject}: applied for {quick} days after the agreement, performance was due {overdue} days before it, \
                     the same parties came before mediator {mediator_id} {repeats} times, a subsidy was paid, and {enforcement}."
                ),
            )
            .evidence("confirmations", [row as usize])
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

    /// The hand-written fixture (tests/fixtures/false-mediation-confirmation/README.md says what
    /// each row tests), also run through the real binary and the generator's labeller.
    fn fixture() -> [(&'static str, &'static str); 3] {
        [
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
        ]
    }

    fn run_fixture(params: &[(&str, &str)]) -> native::NativeOutput {
        let data =
            Dataset::from_csv(&FalseMediationConfirmation::describe(), &fixture()).expect("fixture parses");
        native::run::<FalseMediationConfirmation>(&data, params).expect("runs")
    }

    #[test]
    fn flags_only_confirmations_with_every_mark() {
        let out = run_fixture(&[]);
        let mut flagged: Vec<(&str, f64)> = out.clues.iter().map(|c| (c.subject.as_str(), c.score)).collect();
        flagged.sort_by(|a, b| a.0.cmp(b.0));
        // The pair A1/B1 comes 7 times before M1 (score capped at 1.0), A2/B2 twice.
        assert_eq!(flagged, [("F1", 1.0), ("F2", 1.0), ("F3", 0.6)]);
    }

    /// A clue's words are read for its row after the marks: each names its own case and mediator,
    /// with the figures its row's marks gave.
    #[test]
    fn each_clue_quotes_its_own_row() {
        let out = run_fixture(&[]);
        let mut clues: Vec<(&str, &str)> =
            out.clues.iter().map(|c| (c.subject.as_str(), c.reason.as_str())).collect();
        clues.sort();
        assert_eq!(
            clues,
            [
                (
                    "F1",
                    "Confirmation F1: applied for 3 days after the agreement, performance was due 1 days before it, the \
                     same parties came before mediator M1 7 times, a subsidy was paid, and no enforcement was ever filed."
                ),
                (
                    "F2",
                    "Confirmation F2: applied for 0 days after the agreement, performance was due 90 days before it, the \
                     same parties came before mediator M1 7 times, a subsidy was paid, and enforcement was filed 10 days \
                     after the decision."
                ),
                (
                    "F3",
                    "Confirmation F3: applied for 1 days after the agreement, performance was due 30 days before it, the \
                     same parties came before mediator M1 2 times, a subsidy was paid, and enforcement was filed 2 days \
                     after the decision."
                ),
            ]
        );
    }

    #[test]
    fn thresholds_are_parameters() {
        let subjects = |params: &[(&str, &str)]| {
            let out = run_fixture(params);
            let mut s: Vec<String> = out.clues.into_iter().map(|c| c.subject).collect();
            s.sort();
            s
        };
        // Four days are quick enough for N1; eleven are fast enough for N4.
        assert_eq!(subjects(&[("quick-days", "4")]), ["F1", "F2", "F3", "N1"]);
        assert_eq!(subjects(&[("fast-enforcement-days", "11")]), ["F1", "F2", "F3", "N4"]);
        assert_eq!(subjects(&[("quick-days", "2")]), ["F2", "F3"]);
    }
}
