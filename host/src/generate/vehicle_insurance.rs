//! T1 generator: vehicle-insurance judgments with planted repair-shop rings, near misses, noise.
//!
//! Scale 1 is about 10,000 judgments. Planted: rings of a repair shop whose employees sue over
//! cars they do not own, with assigned claims, one assessor, no insurer assessment (about 1.5% of
//! cases). Near misses: rental fleets (many cases, one shop, one assessor, but the owner sues and
//! the insurer assessed); busy honest shops (many assessors); shop staff suing over their own
//! cars; staff suing over family cars with the insurer's assessment. Noise: nulls, duplicate
//! vehicle rows, misspelled business and insurer names.
//! Labels come from the definition ([`truth`]) on the finished tables.

use std::collections::HashMap;

use sieve_sdk::data::days_from_civil;

use super::courts::Courts;
use super::ids::Ids;
use super::rng::{Rng, Zipf};
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, flag, int, rows, table, text};
use super::{Generated, misspell};

const INSURERS: [&str; 12] = [
    "中国人民财产保险股份有限公司",
    "中国平安财产保险股份有限公司",
    "中国太平洋财产保险股份有限公司",
    "中国人寿财产保险股份有限公司",
    "中华联合财产保险股份有限公司",
    "大地财产保险股份有限公司",
    "阳光财产保险股份有限公司",
    "太平财产保险有限公司",
    "天安财产保险股份有限公司",
    "华安财产保险股份有限公司",
    "永安财产保险股份有限公司",
    "英大泰和财产保险股份有限公司",
];
const PATTERN: &str = "repair_shop_ring";

struct Business {
    id: String,
    name: String,
    kind: &'static str,
    rep: String,
}

struct Judgment {
    case_no: String,
    court: usize,
    filed_on: i32,
    decided_on: Option<i32>,
    plaintiff: String,
    insurer: String,
    lawyer: Option<String>,
    plate: String,
    accident_on: Option<i32>,
    assessor: Option<String>,
    shop: Option<String>,
    claimed: f64,
    awarded: Option<f64>,
    insurer_assessed: Option<bool>,
    claim_assigned: Option<bool>,
}

/// Generate T1 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, "vehicle-insurance-fraud");
    let mut ids = Ids::new(seed);
    let target = 10_000 * s;
    let first_day = days_from_civil(2018, 1, 1);
    let last_day = days_from_civil(2024, 12, 31);

    let mut courts = Courts::new(s, "民初");

    let mut businesses: Vec<Business> = Vec::new();
    let mut new_business = |kind: &'static str, name: String, ids: &mut Ids| {
        let b = Business { id: ids.org(), name, kind, rep: ids.person() };
        let id = b.id.clone();
        businesses.push(b);
        id
    };
    let shops: Vec<String> = (0..60 * s)
        .map(|i| new_business("repair_shop", format!("{}汽车修理厂", super::place_name(i + 7)), &mut ids))
        .collect();
    let assessors: Vec<String> = (0..20 * s)
        .map(|i| new_business("assessor", format!("{}保险公估有限公司", super::place_name(i + 3)), &mut ids))
        .collect();
    // Law firms only appear in `businesses`; lawyers are people.
    for i in 0..10 * s {
        new_business("law_firm", format!("{}律师事务所", super::place_name(i + 11)), &mut ids);
    }
    let rentals: Vec<String> = (0..3 * s)
        .map(|i| new_business("rental", format!("{}汽车租赁有限公司", super::place_name(i + 19)), &mut ids))
        .collect();
    let others: Vec<String> = (0..40 * s)
        .map(|i| new_business("other", format!("{}贸易有限公司", super::place_name(i + 23)), &mut ids))
        .collect();
    let lawyers: Vec<String> = (0..80 * s).map(|_| ids.person()).collect();
    let shop_zipf = Zipf::new(shops.len(), 0.9);
    let lawyer_zipf = Zipf::new(lawyers.len(), 0.8);
    // Each honest shop sends work to a pool of 6-12 assessors.
    let shop_pools: Vec<Vec<usize>> = (0..shops.len())
        .map(|_| (0..rng.range(6, 12)).map(|_| rng.below(assessors.len())).collect())
        .collect();

    let mut vehicles = TableOut::contract("vehicle-insurance-fraud", "vehicles");
    let mut employment = TableOut::contract("vehicle-insurance-fraud", "employment");
    let add_vehicle = |owner: &str, before: i32, ids: &mut Ids, rng: &mut Rng, vehicles: &mut TableOut| {
        let plate = ids.plate();
        let registered = before - rng.range(30, 3000) as i32;
        vehicles.push(&[Cell::Text(&plate), Cell::Text(owner), Cell::Date(registered)]);
        // Noise: a repeated registration row.
        if rng.chance(0.005) {
            vehicles.push(&[Cell::Text(&plate), Cell::Text(owner), Cell::Date(registered)]);
        }
        plate
    };
    let add_months =
        |person: &str, employer: &str, from: i32, to: i32, drop: f64, rng: &mut Rng, t: &mut TableOut| {
            let mut day = super::month_floor(from);
            while day <= to {
                if !rng.chance(drop) {
                    t.push(&[Cell::Text(person), Cell::Text(employer), Cell::Date(day)]);
                }
                day = super::next_month(day);
            }
        };

    let mut judgments: Vec<Judgment> = Vec::with_capacity(target + target / 10);
    let money = |rng: &mut Rng, median: f64| (rng.lognormal(median, 0.8) * 100.0).round() / 100.0;
    let maybe = |rng: &mut Rng, p: f64, v: bool| if rng.chance(p) { None } else { Some(v) };

    // Planted rings: about 1.5% of cases.
    let ring_cases_target = target * 3 / 200;
    let mut planted = 0;
    while planted < ring_cases_target {
        // A ring runs its own small shop: most of the shop's cases are the ring's.
        let shop = new_business(
            "repair_shop",
            format!("{}汽车服务部", super::place_name(rng.below(4096))),
            &mut ids,
        );
        let assessor = assessors[rng.below(assessors.len())].clone();
        let ring_lawyers: Vec<String> = (0..rng.range(1, 2)).map(|_| ids.person()).collect();
        let staff: Vec<String> = (0..rng.range(3, 13)).map(|_| ids.person()).collect();
        let start = rng.range(first_day as i64, (last_day - 800) as i64) as i32;
        let end = start + rng.range(300, 760) as i32;
        for p in &staff {
            add_months(p, &shop, start - 240, end + 60, 0.1, &mut rng, &mut employment);
        }
        let cases = rng.range(12, 40) as usize;
        for _ in 0..cases {
            let accident = rng.range(start as i64, end as i64) as i32;
            let filed = accident + rng.range(20, 120) as i32;
            let stranger = ids.person();
            let plate = add_vehicle(&stranger, accident, &mut ids, &mut rng, &mut vehicles);
            let court = courts.sample(&mut rng);
            let claimed = money(&mut rng, 30_000.0);
            let decided = filed + rng.range(20, 90) as i32;
            judgments.push(Judgment {
                case_no: courts.case_no(court, filed, &mut rng),
                court,
                filed_on: filed,
                decided_on: Some(decided),
                plaintiff: rng.pick(&staff).clone(),
                insurer: rng.pick(&INSURERS).to_string(),
                lawyer: Some(rng.pick(&ring_lawyers).clone()),
                plate,
                accident_on: if rng.chance(0.03) { None } else { Some(accident) },
                // Now and then the ring borrows another assessor.
                assessor: Some(if rng.chance(0.05) {
                    rng.pick(&assessors).clone()
                } else {
                    assessor.clone()
                }),
                shop: Some(shop.clone()),
                claimed,
                awarded: Some((claimed * (0.8 + 0.2 * rng.f64()) * 100.0).round() / 100.0),
                insurer_assessed: maybe(&mut rng, 0.02, false),
                claim_assigned: maybe(&mut rng, 0.02, true),
            });
        }
        planted += cases;
        // Some honest walk-in customers at the ring's shop: their cases are not the ring's.
        for _ in 0..cases / 5 {
            let accident = rng.range(start as i64, end as i64) as i32;
            let filed = accident + rng.range(20, 300) as i32;
            let owner = ids.person();
            let plate = add_vehicle(&owner, accident, &mut ids, &mut rng, &mut vehicles);
            let court = courts.sample(&mut rng);
            let claimed = money(&mut rng, 9_000.0);
            judgments.push(Judgment {
                case_no: courts.case_no(court, filed, &mut rng),
                court,
                filed_on: filed,
                decided_on: Some(filed + rng.range(20, 240) as i32),
                plaintiff: owner,
                insurer: rng.pick(&INSURERS).to_string(),
                lawyer: rng.chance(0.7).then(|| lawyers[lawyer_zipf.sample(&mut rng)].clone()),
                plate,
                accident_on: Some(accident),
                assessor: Some(rng.pick(&assessors).clone()),
                shop: Some(shop.clone()),
                claimed,
                awarded: Some((claimed * (0.5 + 0.5 * rng.f64()) * 100.0).round() / 100.0),
                insurer_assessed: Some(!rng.chance(0.15)),
                claim_assigned: Some(rng.chance(0.1)),
            });
        }
    }

    // Boundary near misses, for each condition of a true clue: a case that meets all the others
    // and misses that one by the smallest step, beside the case just inside. DOMAIN.md decides
    // the labels (see `truth`), so each lands on its side of the line by the definition alone.
    let mut one_case = |plaintiff: String,
                        plate: String,
                        accident: i32,
                        filed: i32,
                        assessor: &str,
                        shop: &str,
                        assessed: Option<bool>,
                        assigned: bool,
                        rng: &mut Rng| {
        let court = courts.sample(rng);
        let claimed = (rng.lognormal(30_000.0, 0.8) * 100.0).round() / 100.0;
        Judgment {
            case_no: courts.case_no(court, filed, rng),
            court,
            filed_on: filed,
            decided_on: Some(filed + 40),
            plaintiff,
            insurer: rng.pick(&INSURERS).to_string(),
            lawyer: None,
            plate,
            accident_on: Some(accident),
            assessor: Some(assessor.to_string()),
            shop: Some(shop.to_string()),
            claimed,
            awarded: Some(claimed),
            insurer_assessed: assessed,
            claim_assigned: Some(assigned),
        }
    };
    for _ in 0..(target / 2500).max(2) {
        let shop = new_business(
            "repair_shop",
            format!("{}汽车修理厂", super::place_name(rng.below(4096))),
            &mut ids,
        );
        let assessor = assessors[rng.below(assessors.len())].clone();
        let month = super::month_floor(rng.range(first_day as i64 + 400, (last_day - 400) as i64) as i32);
        for kind in [
            "inside",
            "exactly-365-days",
            "366-days",
            "month-after-filing",
            "month-of-filing",
            "co-owner",
            "not-assigned",
            "assessed",
            "assessment-unknown",
        ] {
            let person = ids.person();
            let (accident, filed) = match kind {
                "exactly-365-days" => (month + 365, month + 400),
                "366-days" => (month + 366, month + 400),
                "month-after-filing" => (month - 60, month - 1),
                "month-of-filing" => (month - 60, month),
                _ => (month + 20, month + 60),
            };
            add_months(&person, &shop, month, month, 0.0, &mut rng, &mut employment);
            let plate = add_vehicle(&ids.person(), accident, &mut ids, &mut rng, &mut vehicles);
            if kind == "co-owner" {
                vehicles.push(&[Cell::Text(&plate), Cell::Text(&person), Cell::Date(accident - 30)]);
            }
            let assessed = match kind {
                "assessed" => Some(true),
                "assessment-unknown" => None,
                _ => Some(false),
            };
            let case = one_case(
                person,
                plate,
                accident,
                filed,
                &assessor,
                &shop,
                assessed,
                kind != "not-assigned",
                &mut rng,
            );
            judgments.push(case);
        }
    }
    // The concentration boundary: exactly 5 cases and exactly half the shop's (inside); 4 cases
    // (one short); 5 cases of 11 (just under half). The shop's other cases are honest owners'.
    for (ring, honest) in [(5, 5), (4, 0), (5, 6)] {
        for _ in 0..(target / 5000).max(1) {
            let shop = new_business(
                "repair_shop",
                format!("{}汽车维修站", super::place_name(rng.below(4096))),
                &mut ids,
            );
            let assessor = assessors[rng.below(assessors.len())].clone();
            let month = super::month_floor(rng.range(first_day as i64 + 400, (last_day - 400) as i64) as i32);
            for _ in 0..ring {
                let person = ids.person();
                add_months(&person, &shop, month, month, 0.0, &mut rng, &mut employment);
                let plate = add_vehicle(&ids.person(), month, &mut ids, &mut rng, &mut vehicles);
                let case = one_case(
                    person,
                    plate,
                    month + 20,
                    month + 60,
                    &assessor,
                    &shop,
                    Some(false),
                    true,
                    &mut rng,
                );
                judgments.push(case);
            }
            for i in 0..honest {
                let owner = ids.person();
                let plate = add_vehicle(&owner, month, &mut ids, &mut rng, &mut vehicles);
                // Every honest case with its own assessor, never the ring's.
                let other = &assessors
                    [(assessors.iter().position(|a| *a == assessor).unwrap_or(0) + 1 + i) % assessors.len()];
                let case =
                    one_case(owner, plate, month + 20, month + 60, other, &shop, Some(true), false, &mut rng);
                judgments.push(case);
            }
        }
    }

    // Rental fleets: many cases, one fleet shop and one assessor, but the owner sues and the insurer assessed.
    for rental in &rentals {
        let shop = shops[rng.below(shops.len())].clone();
        let assessor = assessors[rng.below(assessors.len())].clone();
        let fleet: Vec<String> = (0..rng.range(20, 60))
            .map(|_| add_vehicle(rental, last_day, &mut ids, &mut rng, &mut vehicles))
            .collect();
        for _ in 0..rng.range(60, 140) {
            let accident = rng.range(first_day as i64, (last_day - 200) as i64) as i32;
            let filed = accident + rng.range(30, 300) as i32;
            let court = courts.sample(&mut rng);
            let claimed = money(&mut rng, 12_000.0);
            judgments.push(Judgment {
                case_no: courts.case_no(court, filed, &mut rng),
                court,
                filed_on: filed,
                decided_on: Some(filed + rng.range(30, 200) as i32),
                plaintiff: rental.clone(),
                insurer: rng.pick(&INSURERS).to_string(),
                lawyer: Some(lawyers[lawyer_zipf.sample(&mut rng)].clone()),
                plate: rng.pick(&fleet).clone(),
                accident_on: Some(accident),
                assessor: Some(assessor.clone()),
                shop: Some(shop.clone()),
                claimed,
                awarded: Some((claimed * (0.6 + 0.4 * rng.f64()) * 100.0).round() / 100.0),
                insurer_assessed: Some(!rng.chance(0.05)),
                claim_assigned: Some(false),
            });
        }
    }

    // Honest cases fill the rest.
    let mut plates_seen: Vec<(String, String)> = Vec::new();
    while judgments.len() < target {
        let accident = rng.range(first_day as i64, (last_day - 60) as i64) as i32;
        let filed = accident + rng.range(15, 500).min(last_day as i64 - accident as i64) as i32;
        let shop_ix = shop_zipf.sample(&mut rng);
        let shop = shops[shop_ix].clone();
        let roll = rng.f64();
        let (plaintiff, plate, assigned_p, assessed_p) = if roll < 0.04 {
            // Shop staff suing over their own car, repaired where they work.
            let p = ids.person();
            add_months(&p, &shop, accident - 150, accident + 60, 0.1, &mut rng, &mut employment);
            let plate = add_vehicle(&p, accident, &mut ids, &mut rng, &mut vehicles);
            (p, plate, 0.3, 0.5)
        } else if roll < 0.05 {
            // Shop staff suing over a family car, with the insurer's assessment.
            let p = ids.person();
            add_months(&p, &shop, accident - 150, accident + 60, 0.1, &mut rng, &mut employment);
            let relative = ids.person();
            let plate = add_vehicle(&relative, accident, &mut ids, &mut rng, &mut vehicles);
            (p, plate, 0.5, 0.9)
        } else if roll < 0.17 {
            // A driver or relative suing over someone else's car.
            let p = ids.person();
            let owner = ids.person();
            let plate = add_vehicle(&owner, accident, &mut ids, &mut rng, &mut vehicles);
            (p, plate, 0.25, 0.8)
        } else if roll < 0.25 && !plates_seen.is_empty() {
            // A car in a second accident.
            let (owner, plate) = plates_seen[rng.below(plates_seen.len())].clone();
            (owner, plate, 0.1, 0.85)
        } else {
            let p = ids.person();
            if rng.chance(0.05) {
                let employer = rng.pick(&others).clone();
                add_months(&p, &employer, accident - 150, accident + 60, 0.1, &mut rng, &mut employment);
            }
            let plate = add_vehicle(&p, accident, &mut ids, &mut rng, &mut vehicles);
            plates_seen.push((p.clone(), plate.clone()));
            (p, plate, 0.1, 0.85)
        };
        let pool = &shop_pools[shop_ix];
        let court = courts.sample(&mut rng);
        let claimed = money(&mut rng, 9_000.0);
        let decided = if rng.chance(0.02) { None } else { Some(filed + rng.range(20, 240) as i32) };
        let (assessed, assigned) = (rng.chance(assessed_p), rng.chance(assigned_p));
        judgments.push(Judgment {
            case_no: courts.case_no(court, filed, &mut rng),
            court,
            filed_on: filed,
            decided_on: decided,
            plaintiff,
            insurer: rng.pick(&INSURERS).to_string(),
            lawyer: rng.chance(0.7).then(|| lawyers[lawyer_zipf.sample(&mut rng)].clone()),
            plate,
            accident_on: if rng.chance(0.03) { None } else { Some(accident) },
            assessor: if rng.chance(0.02) {
                None
            } else {
                Some(assessors[pool[rng.below(pool.len())]].clone())
            },
            shop: if rng.chance(0.02) { None } else { Some(shop) },
            claimed,
            awarded: decided.map(|_| (claimed * (0.5 + 0.5 * rng.f64()) * 100.0).round() / 100.0),
            insurer_assessed: maybe(&mut rng, 0.01, assessed),
            claim_assigned: maybe(&mut rng, 0.01, assigned),
        });
    }

    // Row order carries no meaning: shuffle so nothing can key on it.
    rng.shuffle(&mut judgments);
    let mut table = TableOut::contract("vehicle-insurance-fraud", "judgments");
    fn text(v: &Option<String>) -> Cell<'_> {
        v.as_deref().map_or(Cell::Null, Cell::Text)
    }
    let date = |v: Option<i32>| v.map_or(Cell::Null, Cell::Date);
    let boolean = |v: Option<bool>| v.map_or(Cell::Null, Cell::Bool);
    for j in &judgments {
        let insurer = if rng.chance(0.01) { misspell(&j.insurer, &mut rng) } else { j.insurer.clone() };
        table.push(&[
            Cell::Text(&j.case_no),
            Cell::Text(courts.name(j.court)),
            Cell::Date(j.filed_on),
            date(j.decided_on),
            Cell::Text(&j.plaintiff),
            Cell::Text(&insurer),
            text(&j.lawyer),
            Cell::Text(&j.plate),
            date(j.accident_on),
            text(&j.assessor),
            text(&j.shop),
            Cell::Float(j.claimed),
            j.awarded.map_or(Cell::Null, Cell::Float),
            boolean(j.insurer_assessed),
            boolean(j.claim_assigned),
        ]);
    }

    let mut business_table = TableOut::contract("vehicle-insurance-fraud", "businesses");
    for b in &businesses {
        let name = if rng.chance(0.03) { misspell(&b.name, &mut rng) } else { b.name.clone() };
        business_table.push(&[Cell::Text(&b.id), Cell::Text(&name), Cell::Text(b.kind), Cell::Text(&b.rep)]);
    }
    // The labels come from DOMAIN.md's definition on the finished tables: see `truth`.
    Generated { tables: vec![table, vehicles, employment, business_table] }
}

/// The contract's true clues in finished T1 tables, decided from DOMAIN.md's definition alone
/// (all five marks) rather than from what was planted: noise that takes a mark from a planted
/// case makes it a near miss, and a case that gathers all five by chance is a clue.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let vehicles = table(tables, "vehicles");
    let (v_plate, v_owner) = (column(vehicles, "plate"), column(vehicles, "owner_id"));
    let mut owners: HashMap<&str, Vec<&str>> = HashMap::new();
    for i in 0..rows(vehicles) {
        if let (Some(p), Some(o)) = (text(v_plate, i), text(v_owner, i)) {
            owners.entry(p).or_default().push(o);
        }
    }
    let employment = table(tables, "employment");
    let (e_person, e_employer, e_month) =
        (column(employment, "person_id"), column(employment, "employer_id"), column(employment, "month"));
    let mut months: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    for i in 0..rows(employment) {
        if let (Some(p), Some(e), Some(m)) = (text(e_person, i), text(e_employer, i), int(e_month, i)) {
            months.entry((p, e)).or_default().push(m);
        }
    }
    let j = table(tables, "judgments");
    let c = |name| column(j, name);
    let (case_no, filed, plaintiff, plate, accident, assessor, shop, assessed, assigned) = (
        c("case_no"),
        c("filed_on"),
        c("plaintiff_id"),
        c("plate"),
        c("accident_on"),
        c("assessor_org"),
        c("repair_shop"),
        c("insurer_assessed"),
        c("claim_assigned"),
    );
    let mut shop_cases: HashMap<&str, usize> = HashMap::new();
    let mut pair_cases: HashMap<(&str, &str), usize> = HashMap::new();
    for i in 0..rows(j) {
        if let Some(s) = text(shop, i) {
            *shop_cases.entry(s).or_default() += 1;
            if let Some(a) = text(assessor, i) {
                *pair_cases.entry((s, a)).or_default() += 1;
            }
        }
    }
    let mut truth = Vec::new();
    for i in 0..rows(j) {
        let (Some(subject), Some(who), Some(s), Some(a), Some(p), Some(f)) = (
            text(case_no, i),
            text(plaintiff, i),
            text(shop, i),
            text(assessor, i),
            text(plate, i),
            int(filed, i),
        ) else {
            continue;
        };
        let anchor = int(accident, i).unwrap_or(f);
        let employed =
            months.get(&(who, s)).is_some_and(|ms| ms.iter().any(|m| anchor - 365 <= *m && *m <= f));
        let owner = owners.get(p).is_some_and(|os| os.contains(&who));
        let pair = pair_cases.get(&(s, a)).copied().unwrap_or(0);
        let concentrated = pair >= 5 && 2 * pair >= shop_cases.get(s).copied().unwrap_or(0);
        let marks = employed
            && !owner
            && concentrated
            && flag(assigned, i) == Some(true)
            && flag(assessed, i) == Some(false);
        if marks {
            truth.push((subject.to_string(), PATTERN.to_string()));
        }
    }
    truth
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        crate::generate::truth::check_fixture("vehicle-insurance-fraud", super::truth);
    }
}
