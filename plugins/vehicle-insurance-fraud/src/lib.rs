//! T1 `vehicle-insurance-fraud`: false litigation by repair-shop rings over vehicle insurance claims.
//!
//! A ring is a repair shop whose employees sue insurers over cars they do not own, after the
//! owner assigned them the claim, on an assessment by the shop's usual assessor, without the
//! insurer ever assessing the loss. As DOMAIN.md defines it, a case is a clue only when it has
//! all five marks:
//!
//! 1. the plaintiff is employed by the case's repair shop: an `employment` row for (plaintiff,
//!    shop) whose month lies from `employment-window-days` (365) before the accident (the filing,
//!    if the accident date is unknown) up to the filing;
//! 2. the plaintiff is not an owner of the plate in `vehicles`;
//! 3. the (shop, assessor) pair is concentrated: at least `min-pair-cases` (5) judgments and at
//!    least `min-pair-share` (half) of the shop's judgments;
//! 4. the claim was assigned;
//! 5. the insurer did not assess the loss (`false`; unknown is not a mark).
//!
//! Four marks are not a clue: rental fleets (the plaintiff owns the car, the insurer assessed)
//! and busy honest shops (many assessors) miss several. The score ranks clues by how
//! concentrated the pair is: 0.75 at half the shop's cases, 1.0 when the shop uses no other assessor.

use sieve_sdk::ops::{self, Index, PairCounts};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T1 model.
pub struct VehicleInsuranceFraud;

/// The judgment columns the rule reads whole; a clue's words come from [`CLUE_TEXT`] afterwards.
const JUDGMENT_COLUMNS: [&str; 8] = [
    "filed_on",
    "plaintiff_id",
    "plate",
    "accident_on",
    "assessor_org",
    "repair_shop",
    "insurer_assessed",
    "claim_assigned",
];

/// The judgment columns a clue's subject and reason quote, read for the clues' rows only.
const CLUE_TEXT: [&str; 5] = ["case_no", "plaintiff_id", "plate", "repair_shop", "assessor_org"];

/// A judgment with all five marks, before its words are read.
struct Found {
    row: u32,
    employment_row: usize,
    /// A registration of the plate naming someone else, if the plate is registered at all.
    other_owner: Option<u32>,
    pair: usize,
    total: usize,
    share: f64,
}

impl Model for VehicleInsuranceFraud {
    fn describe() -> ModelInfo {
        ModelInfo::new("vehicle-insurance-fraud", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags vehicle-insurance judgments that bear the marks of a repair-shop ring: the plaintiff \
                 works for the repair shop and does not own the car, the claim was assigned, the shop always \
                 uses the same assessor, and the insurer never assessed the loss.",
            )
            .task("vehicle-insurance-fraud", "case")
            .input(
                TableSpec::new("judgments")
                    .text(&["case_no", "plaintiff_id", "plate", "assessor_org", "repair_shop"])
                    .date(&["filed_on", "accident_on"])
                    .boolean(&["insurer_assessed", "claim_assigned"]),
            )
            .input(TableSpec::new("vehicles").text(&["plate", "owner_id"]))
            .input(TableSpec::new("employment").text(&["person_id", "employer_id"]).date(&["month"]))
            .param_int("min-pair-cases", 5, "Cases a (repair shop, assessor) pair needs to count as concentrated.")
            .param_float(
                "min-pair-share",
                0.5,
                "Share of the repair shop's cases that must go to that one assessor for the pair to count as concentrated.",
            )
            .param_int(
                "employment-window-days",
                365,
                "How many days before the accident an employment month still counts (up to the filing).",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let min_pair_cases: usize = ctx.param("min-pair-cases")?;
        let min_pair_share: f64 = ctx.param("min-pair-share")?;
        let window: i32 = ctx.param("employment-window-days")?;
        if !(0.0..=1.0).contains(&min_pair_share) {
            return Err(ModelError::BadParam("min-pair-share must lie in [0, 1]".into()));
        }
        if window < 0 || min_pair_cases == 0 {
            return Err(ModelError::BadParam(
                "employment-window-days must not be negative, min-pair-cases must be at least 1".into(),
            ));
        }

        let vehicles = ctx.table("vehicles")?.load(&["plate", "owner_id"])?;
        let employment = ctx.table("employment")?.load(&["person_id", "employer_id", "month"])?;
        let judgments = ctx.table("judgments")?.load(&JUDGMENT_COLUMNS)?;
        ctx.progress(1, 3);

        // Plates and parties (people, shops, assessors, employers) arrive coded against one
        // dictionary per key domain: the indexes below are counting sorts over those codes.
        // The registrations of each plate (a plate may have several rows); rows are evidence.
        let (plate_col, owner_col) = (vehicles.text("plate")?, vehicles.text("owner_id")?);
        let rows_of_plate = Index::build(&plate_col);

        // Employment months of each person, in table order.
        let (person, employer, month) =
            (employment.text("person_id")?, employment.text("employer_id")?, employment.date("month")?);
        let months_of = Index::build(&person);

        let filed_on = judgments.date("filed_on")?;
        let plaintiff = judgments.text("plaintiff_id")?;
        let plate = judgments.text("plate")?;
        let accident_on = judgments.date("accident_on")?;
        let assessor = judgments.text("assessor_org")?;
        let shop = judgments.text("repair_shop")?;
        let insurer_assessed = judgments.boolean("insurer_assessed")?;
        let claim_assigned = judgments.boolean("claim_assigned")?;

        // Cases per shop, and per (shop, assessor): counted over codes, a shop at a time.
        let n = judgments.len();
        let pair_cases = PairCounts::build(&shop, &assessor);
        ctx.progress(2, 3);

        // The marks compare keys by code; no text is read until a case has all five.
        let mut found = Vec::new();
        for row in 0..n {
            // Marks 4 and 5 are the cheapest, and most cases miss one: check them first.
            if claim_assigned.get(row) != Some(true) || insurer_assessed.get(row) != Some(false) {
                continue;
            }
            let (Some(who), Some(repair_shop), Some(filed)) =
                (plaintiff.key(row), shop.key(row), filed_on.get(row))
            else {
                continue;
            };
            // Mark 3: the (shop, assessor) pair is concentrated.
            let pair = pair_cases.of_row(row);
            let total = pair_cases.of_first(repair_shop).max(1);
            let share = pair as f64 / total as f64;
            if pair < min_pair_cases || share < min_pair_share {
                continue;
            }
            // Mark 2: the plaintiff owns no registration of the plate.
            let Some(plate_no) = plate.key(row) else { continue };
            let registrations = rows_of_plate.get(plate_no);
            if registrations.iter().any(|&r| owner_col.key(r as usize) == Some(who)) {
                continue;
            }
            // Mark 1: employed by the shop from `window` days before the accident up to the filing.
            let start = accident_on.get(row).unwrap_or(filed) - window;
            let Some(employment_row) = months_of.get(who).iter().map(|&r| r as usize).find(|&r| {
                employer.key(r) == Some(repair_shop)
                    && month.get(r).is_some_and(|m| ops::within(m, start, Some(filed)))
            }) else {
                continue;
            };
            let other_owner = registrations.iter().copied().find(|&r| owner_col.key(r as usize).is_some());
            found.push(Found { row: row as u32, employment_row, other_owner, pair, total, share });
        }

        // The words of the clues: their subjects and the keys their reasons name, for their rows.
        let clue_rows: Vec<u32> = found.iter().map(|f| f.row).collect();
        let words = ctx.table("judgments")?.rows(&CLUE_TEXT, &clue_rows)?;
        let owner_rows: Vec<u32> = found.iter().filter_map(|f| f.other_owner).collect();
        let owners = ctx.table("vehicles")?.rows(&["owner_id"], &owner_rows)?;
        let (case_no, who, plate_no, repair_shop, a) = (
            words.text("case_no")?,
            words.text("plaintiff_id")?,
            words.text("plate")?,
            words.text("repair_shop")?,
            words.text("assessor_org")?,
        );
        let owner = owners.text("owner_id")?;
        let mut next_owner = 0;
        for (i, f) in found.iter().enumerate() {
            let other_owner = f.other_owner.map(|vrow| {
                next_owner += 1;
                (owner.get(next_owner - 1).unwrap_or_default(), vrow)
            });
            let Some(subject) = case_no.get(i) else { continue };
            let (who, plate_no) = (who.get(i).unwrap_or_default(), plate_no.get(i).unwrap_or_default());
            let (repair_shop, a) = (repair_shop.get(i).unwrap_or_default(), a.get(i).unwrap_or_default());
            let (pair, total) = (f.pair, f.total);
            let mut clue = Clue::new(subject, 0.5 + f.share / 2.0, "repair-shop-ring", "")
                .evidence("judgments", [f.row as usize])
                .evidence("employment", [f.employment_row]);
            let ownership = match other_owner {
                Some((owner, vrow)) => {
                    clue = clue.evidence("vehicles", [vrow as usize]);
                    format!("the plaintiff does not own {plate_no} (owner {owner})")
                }
                None => format!("no registration of {plate_no} names the plaintiff"),
            };
            let marks = [
                format!("plaintiff {who} was employed by repair shop {repair_shop}"),
                ownership,
                format!("{pair} of the shop's {total} cases used assessor {a}"),
                "the claim was assigned".to_string(),
                "the insurer never assessed the loss".to_string(),
            ];
            clue.reason = format!("Case {subject}: {}.", marks.join("; "));
            ctx.emit(clue);
        }
        ctx.progress(3, 3);
        Ok(())
    }
}

export_model!(VehicleInsuranceFraud);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    /// The hand-written fixture (tests/fixtures/vehicle-insurance-fraud/README.md says what each
    /// case tests); the generator's labeller and an integration test check against it too.
    const JUDGMENTS: &str = include_str!("../../../tests/fixtures/vehicle-insurance-fraud/judgments.csv");
    const VEHICLES: &str = include_str!("../../../tests/fixtures/vehicle-insurance-fraud/vehicles.csv");
    const EMPLOYMENT: &str = include_str!("../../../tests/fixtures/vehicle-insurance-fraud/employment.csv");
    const EXPECTED: &str = include_str!("../../../tests/fixtures/vehicle-insurance-fraud/expected.txt");

    fn dataset() -> Dataset {
        let info = VehicleInsuranceFraud::describe();
        Dataset::from_csv(
            &info,
            &[("judgments", JUDGMENTS), ("vehicles", VEHICLES), ("employment", EMPLOYMENT)],
        )
        .expect("fixture parses")
    }

    fn flagged(settings: &[(&str, &str)]) -> Vec<String> {
        let out = native::run::<VehicleInsuranceFraud>(&dataset(), settings).expect("runs");
        let mut subjects: Vec<String> = out.clues.iter().map(|c| c.subject.clone()).collect();
        subjects.sort();
        subjects
    }

    #[test]
    fn only_cases_with_all_five_marks_are_clues() {
        // R3 (insurer's assessment unknown), R4 (not assigned), R5 (plaintiff is a co-owner),
        // R6 (employed 366 days before), R8 (employed after filing), F1 (4 pair cases),
        // B1 (5 of 11 is under half), N1 (5 of 11, six of them with no assessor) each miss exactly
        // one mark; N6 has no assessor, so no pair.
        assert_eq!(flagged(&[]), EXPECTED.lines().collect::<Vec<_>>());
    }

    #[test]
    fn clues_carry_their_evidence_and_rank_by_concentration() {
        let out = native::run::<VehicleInsuranceFraud>(&dataset(), &[]).expect("runs");
        let r2 = out.clues.iter().find(|c| c.subject == "R2").expect("R2");
        let tables: Vec<&str> = r2.evidence.iter().map(|e| e.table.as_str()).collect();
        assert_eq!(tables, ["judgments", "employment", "vehicles"]);
        assert_eq!(r2.score, 1.0, "the shop uses one assessor");
        let h1 = out.clues.iter().find(|c| c.subject == "H1").expect("H1");
        assert_eq!(h1.score, 0.75, "exactly half of the shop's cases");
        // A clue's words are read for its row after the marks: each names its own case's people.
        for (case, words) in [
            ("R2", ["plaintiff emp2", "repair shop SHOP", "own A2 (owner o2)", "used assessor AS1"]),
            ("R7", ["plaintiff exact1", "repair shop SHOP", "own A7 (owner o7)", "used assessor AS1"]),
            ("H1", ["plaintiff half1", "repair shop HALF", "own C1 (owner o11)", "used assessor AS5"]),
        ] {
            let clue = out.clues.iter().find(|c| c.subject == case).expect("flagged");
            for w in words {
                assert!(clue.reason.contains(w), "{case}: {w:?} in {:?}", clue.reason);
            }
        }
        let r1 = out.clues.iter().find(|c| c.subject == "R1").expect("R1");
        assert!(!r1.reason.contains("owner"), "A1 is registered to no one: {:?}", r1.reason);
    }

    #[test]
    fn parameters_move_the_boundaries() {
        assert_eq!(flagged(&[("min-pair-cases", "4")]), ["F1", "H1", "R1", "R10", "R2", "R7", "R9"]);
        assert_eq!(flagged(&[("min-pair-share", "0.45")]), ["B1", "H1", "N1", "R1", "R10", "R2", "R7", "R9"]);
        assert_eq!(
            flagged(&[("employment-window-days", "366")]),
            ["H1", "R1", "R10", "R2", "R6", "R7", "R9"]
        );
        let err =
            native::run::<VehicleInsuranceFraud>(&dataset(), &[("min-pair-share", "2")]).expect_err("bad");
        assert!(err.to_string().contains("min-pair-share"), "{err}");
    }

    #[test]
    fn missing_column_is_named() {
        let info = VehicleInsuranceFraud::describe();
        let data = Dataset::from_csv(
            &info,
            &[
                ("judgments", "case_no,filed_on\nX,2021-01-01\n"),
                ("vehicles", VEHICLES),
                ("employment", EMPLOYMENT),
            ],
        )
        .expect("parses");
        let err = native::run::<VehicleInsuranceFraud>(&data, &[]).expect_err("missing");
        assert!(err.to_string().contains("plaintiff_id"), "{err}");
    }
}
