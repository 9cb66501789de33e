//! T3 generator: judicial confirmations of mediation agreements with planted forgeries.
//!
//! Scale 1 is about 10,000 confirmations. Planted (about 2%): mediators who forge agreements to
//! collect subsidies: applied for within days of the agreement, performance already due before
//! the agreement, the same party pairs again and again, a subsidy per case, enforcement filed at
//! once or never. Near misses: busy court-annexed centres (subsidy on every case, quick but not
//! instant applications, varied parties); honest cases that happen to be applied for quickly or
//! to repeat a pair. Noise: nulls, skewed organisation sizes.

use sieve_sdk::data::days_from_civil;

use super::Generated;
use super::courts::{Courts, EnforcementOut};
use super::ids::Ids;
use super::rng::{Rng, Zipf};
use super::table::{Cell, TableOut};

const PATTERN: &str = "forged_confirmation";

struct Confirmation {
    case_no: String,
    court: usize,
    org: usize,
    mediator: String,
    agreement_on: i32,
    applied_on: Option<i32>,
    decided_on: i32,
    party_a: String,
    party_b: String,
    amount: f64,
    due_on: Option<i32>,
    subsidy: bool,
    enforcement_after: Option<i32>,
    planted: bool,
}

/// Generate T3 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, "false-mediation-confirmation");
    let mut ids = Ids::new(seed ^ 0x3333);
    let target = 10_000 * s;
    let first_day = days_from_civil(2018, 1, 1);
    let last_day = days_from_civil(2024, 6, 30);
    let mut courts = Courts::new(s, "民特");
    let orgs: Vec<String> = (0..30 * s).map(|_| ids.org()).collect();
    let org_names: Vec<String> =
        (0..orgs.len()).map(|i| format!("{}人民调解委员会", super::place_name(i + 5))).collect();
    let org_size = Zipf::new(orgs.len(), 1.1);
    let mediators: Vec<Vec<String>> =
        orgs.iter().map(|_| (0..rng.range(3, 12)).map(|_| ids.person()).collect()).collect();
    // The busiest organisations are court-annexed centres: subsidy on every case, quick filing.
    let centres = orgs.len().min(2 + s / 10);
    let mut rows: Vec<Confirmation> = Vec::with_capacity(target + 100);
    let money = |rng: &mut Rng| (rng.lognormal(30_000.0, 1.0) * 100.0).round() / 100.0;

    let mut planted = 0;
    while planted < target / 50 {
        // A forging mediator in a small organisation, with a handful of party pairs on call.
        let org = centres + rng.below(orgs.len() - centres);
        let mediator = rng.pick(&mediators[org]).clone();
        let pairs: Vec<(String, String)> =
            (0..rng.range(3, 6)).map(|_| (ids.person(), ids.person())).collect();
        let start = rng.range(first_day as i64, (last_day - 400) as i64) as i32;
        let cases = rng.range(15, 40) as usize;
        for _ in 0..cases {
            let agreement = start + rng.range(0, 365) as i32;
            let applied = agreement + rng.range(0, 3) as i32;
            let (a, b) = rng.pick(&pairs).clone();
            rows.push(Confirmation {
                case_no: String::new(),
                court: courts.sample(&mut rng),
                org,
                mediator: mediator.clone(),
                agreement_on: agreement,
                applied_on: if rng.chance(0.02) { None } else { Some(applied) },
                decided_on: applied + rng.range(1, 10) as i32,
                party_a: a,
                party_b: b,
                amount: (rng.range(2, 60) * 1_000) as f64,
                due_on: if rng.chance(0.03) { None } else { Some(agreement - rng.range(10, 200) as i32) },
                subsidy: rng.chance(0.95),
                enforcement_after: rng.chance(0.7).then(|| rng.range(0, 5) as i32),
                planted: true,
            });
        }
        planted += cases;
    }

    while rows.len() < target {
        let org = org_size.sample(&mut rng);
        let centre = org < centres;
        let agreement = rng.range(first_day as i64, last_day as i64) as i32;
        // Honest applications follow the agreement by days to months; centres file quickly.
        let lag = if centre {
            rng.range(2, 20)
        } else if rng.chance(0.1) {
            rng.range(0, 3)
        } else {
            rng.range(5, 90)
        };
        let applied = agreement + lag as i32;
        let repeat = rows.len() > 10 && rng.chance(0.03);
        let (party_a, party_b) = if repeat {
            let other = &rows[rng.below(rows.len())];
            (other.party_a.clone(), other.party_b.clone())
        } else {
            (ids.person(), ids.person())
        };
        rows.push(Confirmation {
            case_no: String::new(),
            court: courts.sample(&mut rng),
            org,
            mediator: rng.pick(&mediators[org]).clone(),
            agreement_on: agreement,
            applied_on: if rng.chance(0.01) { None } else { Some(applied) },
            decided_on: applied + rng.range(3, 30) as i32,
            party_a,
            party_b,
            amount: money(&mut rng),
            due_on: if rng.chance(0.03) { None } else { Some(agreement + rng.range(15, 365) as i32) },
            subsidy: centre || rng.chance(0.3),
            enforcement_after: rng.chance(0.15).then(|| rng.range(30, 400) as i32),
            planted: false,
        });
    }

    for r in rows.iter_mut() {
        r.case_no = courts.case_no(r.court, r.decided_on, &mut rng);
    }
    rng.shuffle(&mut rows);
    let mut confirmations = TableOut::contract("false-mediation-confirmation", "confirmations");
    let mut enforcement = EnforcementOut::new("false-mediation-confirmation", s);
    let mut subsidies = TableOut::contract("false-mediation-confirmation", "mediation_subsidies");
    let mut labels = Vec::new();
    for r in &rows {
        // Organisation names are free text, sometimes misspelled.
        let org_name = if rng.chance(0.02) {
            super::misspell(&org_names[r.org], &mut rng)
        } else {
            org_names[r.org].clone()
        };
        confirmations.push(&[
            Cell::Text(&r.case_no),
            Cell::Text(courts.name(r.court)),
            Cell::Text(&org_name),
            Cell::Text(&r.mediator),
            Cell::Date(r.agreement_on),
            r.applied_on.map_or(Cell::Null, Cell::Date),
            Cell::Date(r.decided_on),
            Cell::Text(&r.party_a),
            Cell::Text(&r.party_b),
            Cell::Float(r.amount),
            r.due_on.map_or(Cell::Null, Cell::Date),
        ]);
        if r.subsidy {
            let paid = r.decided_on + rng.range(5, 40) as i32;
            subsidies.push(&[
                Cell::Text(&r.mediator),
                Cell::Text(&r.case_no),
                Cell::Date(paid),
                Cell::Float(rng.range(2, 8) as f64 * 100.0),
            ]);
        }
        if let Some(after) = r.enforcement_after {
            let filed = r.decided_on + after;
            enforcement.file(&r.case_no, &r.party_a, filed, &mut rng);
        }
        if r.planted {
            labels.push((r.case_no.clone(), PATTERN.to_string()));
        }
    }
    Generated { tables: vec![confirmations, enforcement.finish(), subsidies], labels }
}
