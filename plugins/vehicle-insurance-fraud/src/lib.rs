//! T1 `vehicle-insurance-fraud`: false litigation by repair-shop rings over vehicle insurance claims.
//!
//! A ring is a repair shop whose employees sue insurers over cars they do not own, after the
//! owner assigned them the claim, on an assessment by the shop's usual assessor, without the
//! insurer ever assessing the loss. Each judgment gets one point per mark of a ring:
//!
//! | mark | weight |
//! |---|---|
//! | plaintiff employed by the case's repair shop around the accident | 0.30 |
//! | plaintiff is not the vehicle's registered owner | 0.20 |
//! | the (repair shop, assessor) pair is concentrated | 0.20 |
//! | claim right assigned to the plaintiff | 0.15 |
//! | insurer never assessed the loss | 0.15 |
//!
//! A case scoring at least `min-score` is a clue. Rental fleets (owner sues, insurer assessed)
//! and busy honest shops (many assessors, customers sue for their own cars) stay below it.

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
                "How many days before the accident (and 31 after filing) an employment record still counts.",
            )
            .param_float("min-score", 0.7, "Lowest score that becomes a clue (weights sum to 1).")
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let min_pair_cases: usize = ctx.param("min-pair-cases")?;
        let min_pair_share: f64 = ctx.param("min-pair-share")?;
        let window: i32 = ctx.param("employment-window-days")?;
        let min_score: f64 = ctx.param("min-score")?;
        if !(0.0..=1.0).contains(&min_pair_share) || !(0.0..=1.0).contains(&min_score) {
            return Err(ModelError::BadParam("min-pair-share and min-score must lie in [0, 1]".into()));
        }

        let vehicles = ctx.table("vehicles")?.load(&["plate", "owner_id"])?;
        let employment = ctx.table("employment")?.load(&["person_id", "employer_id", "month"])?;
        let judgments = ctx.table("judgments")?.load(&JUDGMENT_COLUMNS)?;
        ctx.progress(1, 3);

        // Who owns each plate (first registration row wins; rows are evidence).
        let (plate_col, owner_col) = (vehicles.text("plate")?, vehicles.text("owner_id")?);
        let mut owner_of: FastMap<&str, (&str, usize)> = ops::fast_map();
        for row in 0..vehicles.len() {
            if let (Some(plate), Some(owner)) = (plate_col.get(row), owner_col.get(row)) {
                owner_of.entry(plate).or_insert((owner, row));
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
            let who = plaintiff.get(row);
            let repair_shop = shop.get(row);
            // The accident (or, if unknown, the filing) anchors the employment window.
            let start = accident_on.get(row).or(filed_on.get(row)).map(|d| d - window);
            let end = filed_on.get(row).or(accident_on.get(row)).map(|d| d + 31);
            let employment_row = match (who, repair_shop, start, end) {
                (Some(who), Some(s), Some(start), Some(end)) => employed
                    .get(&(who, s))
                    .and_then(|months| months.iter().find(|(m, _)| ops::within(*m, start, Some(end))))
                    .map(|&(_, erow)| erow),
                _ => None,
            };
            let other_owner = match (who, plate.get(row)) {
                (Some(who), Some(p)) => owner_of.get(p).filter(|(owner, _)| *owner != who).copied(),
                _ => None,
            };
            let concentrated = match (repair_shop, assessor.get(row)) {
                (Some(s), Some(a)) => {
                    let pair = pair_cases.get(&(s, a)).copied().unwrap_or(0);
                    let total = shop_cases.get(s).copied().unwrap_or(1).max(1);
                    (pair >= min_pair_cases && pair as f64 / total as f64 >= min_pair_share)
                        .then_some((a, pair, total))
                }
                _ => None,
            };
            let assigned = claim_assigned.get(row) == Some(true);
            let never_assessed = insurer_assessed.get(row) == Some(false);

            let score = [
                (employment_row.is_some(), 30),
                (other_owner.is_some(), 20),
                (concentrated.is_some(), 20),
                (assigned, 15),
                (never_assessed, 15),
            ]
            .iter()
            .filter(|(hit, _)| *hit)
            .map(|(_, points)| points)
            .sum::<u32>() as f64
                / 100.0;
            if score < min_score {
                continue;
            }

            // Only clues get their sentence built: most cases never reach this point.
            let mut marks: Vec<String> = Vec::new();
            let mut clue = Clue::new(subject, score, "repair-shop-ring", "").evidence("judgments", [row]);
            if let Some(erow) = employment_row {
                marks.push(format!(
                    "plaintiff {} was employed by repair shop {}",
                    who.unwrap_or(""),
                    repair_shop.unwrap_or("")
                ));
                clue = clue.evidence("employment", [erow]);
            }
            if let Some((owner, vrow)) = other_owner {
                marks.push(format!("the plaintiff does not own {} (owner {owner})", plate.str(row)));
                clue = clue.evidence("vehicles", [vrow]);
            }
            if let Some((a, pair, total)) = concentrated {
                marks.push(format!("{pair} of the shop's {total} cases used assessor {a}"));
            }
            if assigned {
                marks.push("the claim was assigned".into());
            }
            if never_assessed {
                marks.push("the insurer never assessed the loss".into());
            }
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

    const JUDGMENTS: &str = "\
case_no,filed_on,plaintiff_id,plate,accident_on,assessor_org,repair_shop,insurer_assessed,claim_assigned
R1,2021-03-01,emp1,A1,2021-01-10,AS1,SHOP,false,true
R2,2021-04-01,emp2,A2,2021-02-10,AS1,SHOP,false,true
R3,2021-05-01,emp1,A3,2021-03-10,AS1,SHOP,,true
R4,2021-06-01,emp2,A4,2021-04-10,AS1,SHOP,false,true
R5,2021-07-01,emp1,A5,2021-05-10,AS1,SHOP,false,true
F1,2021-03-01,RENT,B1,2021-01-10,AS9,FLEET,true,false
F2,2021-04-01,RENT,B2,2021-02-10,AS9,FLEET,true,false
F3,2021-05-01,RENT,B3,2021-03-10,AS9,FLEET,true,false
F4,2021-06-01,RENT,B4,2021-04-10,AS9,FLEET,true,false
F5,2021-07-01,RENT,B5,2021-05-10,AS9,FLEET,true,false
H1,2021-03-01,cust1,C1,2021-01-10,AS2,BUSY,false,true
H2,2021-04-01,cust2,C2,2021-02-10,AS3,BUSY,true,false
H3,2021-05-01,staff,C3,2021-03-10,AS4,BUSY,false,true
H4,2021-06-01,cust4,C4,2021-04-10,AS5,BUSY,true,false
H5,2021-07-01,cust5,C5,2021-05-10,AS6,BUSY,true,false
";
    const VEHICLES: &str = "plate,owner_id\nA1,o1\nA2,o2\nA3,o3\nA4,o4\nA5,o5\n\
B1,RENT\nB2,RENT\nB3,RENT\nB4,RENT\nB5,RENT\nC1,cust1\nC2,cust2\nC3,staff\nC4,cust4\nC5,cust5\n";
    const EMPLOYMENT: &str = "person_id,employer_id,month\nemp1,SHOP,2020-12-01\nemp2,SHOP,2021-01-01\n\
staff,BUSY,2021-03-01\nemp1,OTHER,2021-03-01\n";

    fn dataset() -> Dataset {
        let info = VehicleInsuranceFraud::describe();
        Dataset::from_csv(
            &info,
            &[("judgments", JUDGMENTS), ("vehicles", VEHICLES), ("employment", EMPLOYMENT)],
        )
        .expect("fixture parses")
    }

    #[test]
    fn flags_the_ring_and_spares_fleets_and_busy_shops() {
        let out = native::run::<VehicleInsuranceFraud>(&dataset(), &[]).expect("runs");
        let mut flagged: Vec<&str> = out.clues.iter().map(|c| c.subject.as_str()).collect();
        flagged.sort();
        assert_eq!(flagged, ["R1", "R2", "R3", "R4", "R5"]);
        let r1 = out.clues.iter().find(|c| c.subject == "R1").expect("R1");
        assert_eq!(r1.score, 1.0);
        assert!(r1.evidence.iter().any(|e| e.table == "employment"));
        // A null `insurer_assessed` costs that mark but not the clue.
        let r3 = out.clues.iter().find(|c| c.subject == "R3").expect("R3");
        assert_eq!(r3.score, 0.85);
    }

    #[test]
    fn parameters_change_what_counts_as_concentrated() {
        let out = native::run::<VehicleInsuranceFraud>(&dataset(), &[("min-pair-cases", "6")]).expect("runs");
        // Without the pair mark a full ring case scores 0.8, the one with a null 0.65.
        assert_eq!(out.clues.len(), 4);
        let err = native::run::<VehicleInsuranceFraud>(&dataset(), &[("min-score", "2")]).expect_err("bad");
        assert!(err.to_string().contains("min-score"), "{err}");
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
