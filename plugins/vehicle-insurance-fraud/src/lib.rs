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

use sieve_sdk::ops::{self, FastMap};
use sieve_sdk::{Clue, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T1 model.
pub struct VehicleInsuranceFraud;

const JUDGMENT_COLUMNS: [&str; 9] = [
    "case_no",
    "filed_on",
    "plaintiff_id",
    "plate",
    "accident_on",
    "assessor_org",
    "repair_shop",
    "insurer_assessed",
    "claim_assigned",
];

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

        // Every owner of each plate (a plate may have several rows); rows are evidence.
        let (plate_col, owner_col) = (vehicles.text("plate")?, vehicles.text("owner_id")?);
        let mut owners_of: FastMap<&str, Vec<(&str, usize)>> = ops::fast_map();
        for row in 0..vehicles.len() {
            if let (Some(plate), Some(owner)) = (plate_col.get(row), owner_col.get(row)) {
                owners_of.entry(plate).or_default().push((owner, row));
            }
        }

        // Employment months per (person, employer).
        let (person, employer, month) =
            (employment.text("person_id")?, employment.text("employer_id")?, employment.date("month")?);
        let mut employed: FastMap<(&str, &str), Vec<(i32, usize)>> = ops::fast_map();
        for row in 0..employment.len() {
            if let (Some(p), Some(e), Some(m)) = (person.get(row), employer.get(row), month.get(row)) {
                employed.entry((p, e)).or_default().push((m, row));
            }
        }

        let case_no = judgments.text("case_no")?;
        let filed_on = judgments.date("filed_on")?;
        let plaintiff = judgments.text("plaintiff_id")?;
        let plate = judgments.text("plate")?;
        let accident_on = judgments.date("accident_on")?;
        let assessor = judgments.text("assessor_org")?;
        let shop = judgments.text("repair_shop")?;
        let insurer_assessed = judgments.boolean("insurer_assessed")?;
        let claim_assigned = judgments.boolean("claim_assigned")?;

        let n = judgments.len();
        let shop_cases = ops::count_by((0..n).filter_map(|i| shop.get(i)));
        let pair_cases = ops::count_by((0..n).filter_map(|i| Some((shop.get(i)?, assessor.get(i)?))));
        ctx.progress(2, 3);

        for row in 0..n {
            let Some(subject) = case_no.get(row) else { continue };
            let (Some(who), Some(repair_shop), Some(filed)) =
                (plaintiff.get(row), shop.get(row), filed_on.get(row))
            else {
                continue;
            };
            // Marks 4 and 5 are the cheapest: check them first.
            if claim_assigned.get(row) != Some(true) || insurer_assessed.get(row) != Some(false) {
                continue;
            }
            // Mark 3: the (shop, assessor) pair is concentrated.
            let Some(a) = assessor.get(row) else { continue };
            let pair = pair_cases.get(&(repair_shop, a)).copied().unwrap_or(0);
            let total = shop_cases.get(repair_shop).copied().unwrap_or(0).max(1);
            let share = pair as f64 / total as f64;
            if pair < min_pair_cases || share < min_pair_share {
                continue;
            }
            // Mark 2: the plaintiff owns no registration of the plate.
            let Some(plate_no) = plate.get(row) else { continue };
            let owners = owners_of.get(plate_no).map_or(&[][..], Vec::as_slice);
            if owners.iter().any(|(owner, _)| *owner == who) {
                continue;
            }
            // Mark 1: employed by the shop from `window` days before the accident up to the filing.
            let start = accident_on.get(row).unwrap_or(filed) - window;
            let Some(employment_row) = employed
                .get(&(who, repair_shop))
                .and_then(|months| months.iter().find(|(m, _)| ops::within(*m, start, Some(filed))))
                .map(|&(_, erow)| erow)
            else {
                continue;
            };
            let score = 0.5 + share / 2.0;
            let other_owner = owners.first().copied();
            // Only clues get their sentence built: most cases never reach this point.
            let mut clue = Clue::new(subject, score, "repair-shop-ring", "")
                .evidence("judgments", [row])
                .evidence("employment", [employment_row]);
            let ownership = match other_owner {
                Some((owner, vrow)) => {
                    clue = clue.evidence("vehicles", [vrow]);
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

    /// Written from DOMAIN.md's definition, one case per boundary of each mark.
    const JUDGMENTS: &str = "\
case_no,filed_on,plaintiff_id,plate,accident_on,assessor_org,repair_shop,insurer_assessed,claim_assigned
R1,2021-03-01,emp1,A1,2021-01-10,AS1,SHOP,false,true
R2,2021-04-01,emp2,A2,2021-02-10,AS1,SHOP,false,true
R3,2021-05-01,emp1,A3,2021-03-10,AS1,SHOP,,true
R4,2021-06-01,emp1,A4,2021-04-10,AS1,SHOP,false,false
R5,2021-07-01,own1,A5,2021-05-10,AS1,SHOP,false,true
R6,2022-03-01,early1,A6,2022-02-02,AS1,SHOP,false,true
R7,2022-03-01,exact1,A7,2022-02-01,AS1,SHOP,false,true
R8,2021-03-01,late1,A8,2021-01-10,AS1,SHOP,false,true
R9,2021-03-01,atfile1,A9,2021-01-10,AS1,SHOP,false,true
R10,2021-06-01,noacc1,A10,,AS1,SHOP,false,true
H1,2021-03-01,half1,C1,2021-01-10,AS5,HALF,false,true
H2,2021-03-01,c2,C2,2021-01-10,AS5,HALF,true,false
H3,2021-03-01,c3,C3,2021-01-10,AS5,HALF,true,false
H4,2021-03-01,c4,C4,2021-01-10,AS5,HALF,true,false
H5,2021-03-01,c5,C5,2021-01-10,AS5,HALF,true,false
H6,2021-03-01,c6,C6,2021-01-10,AS6,HALF,true,false
H7,2021-03-01,c7,C7,2021-01-10,AS7,HALF,true,false
H8,2021-03-01,c8,C8,2021-01-10,AS8,HALF,true,false
H9,2021-03-01,c9,C9,2021-01-10,AS9,HALF,true,false
H10,2021-03-01,c10,C10,2021-01-10,AS10,HALF,true,false
F1,2021-03-01,four1,D1,2021-01-10,AS11,FOUR,false,true
F2,2021-03-01,d2,D2,2021-01-10,AS11,FOUR,true,false
F3,2021-03-01,d3,D3,2021-01-10,AS11,FOUR,true,false
F4,2021-03-01,d4,D4,2021-01-10,AS11,FOUR,true,false
B1,2021-03-01,bare1,E1,2021-01-10,AS12,BARE,false,true
B2,2021-03-01,e2,E2,2021-01-10,AS12,BARE,true,false
B3,2021-03-01,e3,E3,2021-01-10,AS12,BARE,true,false
B4,2021-03-01,e4,E4,2021-01-10,AS12,BARE,true,false
B5,2021-03-01,e5,E5,2021-01-10,AS12,BARE,true,false
B6,2021-03-01,e6,E6,2021-01-10,AS13,BARE,true,false
B7,2021-03-01,e7,E7,2021-01-10,AS14,BARE,true,false
B8,2021-03-01,e8,E8,2021-01-10,AS15,BARE,true,false
B9,2021-03-01,e9,E9,2021-01-10,AS16,BARE,true,false
B10,2021-03-01,e10,E10,2021-01-10,AS17,BARE,true,false
B11,2021-03-01,e11,E11,2021-01-10,AS18,BARE,true,false
";
    /// A5 has two registered owners, one of them the plaintiff; A1 is not registered at all.
    const VEHICLES: &str = "plate,owner_id\nA2,o2\nA5,someone\nA5,own1\nA7,o7\nC1,o11\nD1,o21\nE1,o31\n";
    /// R6's month is 366 days before its accident, R7's exactly 365; R8's is after the filing,
    /// R9's on the filing date; R10 has no accident date, so the filing anchors the window.
    const EMPLOYMENT: &str = "person_id,employer_id,month\n\
emp1,SHOP,2020-12-01\nemp2,SHOP,2021-01-01\nown1,SHOP,2021-03-01\nearly1,SHOP,2021-02-01\n\
exact1,SHOP,2021-02-01\nlate1,SHOP,2021-04-01\natfile1,SHOP,2021-03-01\nnoacc1,SHOP,2020-07-01\n\
half1,HALF,2021-01-01\nfour1,FOUR,2021-01-01\nbare1,BARE,2021-01-01\nemp1,OTHER,2021-03-01\n";

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
        // B1 (5 of 11 is under half) each miss exactly one mark.
        assert_eq!(flagged(&[]), ["H1", "R1", "R10", "R2", "R7", "R9"]);
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
    }

    #[test]
    fn parameters_move_the_boundaries() {
        assert_eq!(flagged(&[("min-pair-cases", "4")]), ["F1", "H1", "R1", "R10", "R2", "R7", "R9"]);
        assert_eq!(flagged(&[("min-pair-share", "0.45")]), ["B1", "H1", "R1", "R10", "R2", "R7", "R9"]);
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
