//! T3 generator: judicial confirmations of mediation agreements with planted forgeries.
//!
//! Scale 1 is about 10,000 confirmations. Planted (about 2%): mediators who forge agreements to
//! collect subsidies: applied for within days of the agreement, performance already due before
//! the agreement, the same party pairs again and again, a subsidy per case, enforcement filed at
//! once or never, each on its boundary now and then (3 days, due the day before, enforced on day
//! 10). A fifth of a forger's cases miss exactly one mark, on its boundary: applied 4 days after,
//! due on the agreement day, no subsidy, enforced on day 11, a pair seen once. Near misses: busy
//! court-annexed centres (subsidy on every case, quick but not instant applications, varied
//! parties); honest cases that happen to be applied for quickly, to repeat a pair, or to settle a
//! debt already due. Noise: nulls, skewed organisation sizes. Labels come from the definition
//! ([`truth`]) on the finished tables.

use std::collections::HashMap;

use sieve_sdk::data::days_from_civil;

use super::Generated;
use super::courts::{Courts, EnforcementOut};
use super::ids::Ids;
use super::rng::{Rng, Zipf};
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, int, rows, table, text};

const PATTERN: &str = "forged_confirmation";

/// "Applied for within days of the agreement": at most this many days (DOMAIN.md leaves the number
/// open; the bundled model's `quick-days` defaults to it).
pub const QUICK_DAYS: i32 = 3;
/// "Enforcement filed immediately": at most this many days after the decision (the model's
/// `fast-enforcement-days`).
pub const FAST_DAYS: i32 = 10;

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
            // Each mark, now and then right on its boundary.
            let mut lag = if rng.chance(0.2) { QUICK_DAYS } else { rng.range(0, QUICK_DAYS as i64) as i32 };
            let mut due = agreement - if rng.chance(0.2) { 1 } else { rng.range(10, 200) as i32 };
            let mut subsidy = true;
            let mut enforcement_after = match rng.below(10) {
                0..=2 => None,
                3 => Some(FAST_DAYS),
                _ => Some(rng.range(0, 5) as i32),
            };
            let (mut a, mut b) = rng.pick(&pairs).clone();
            // A fifth miss exactly one mark, by a day where it has a boundary.
            if rng.chance(0.2) {
                match rng.below(5) {
                    0 => lag = QUICK_DAYS + 1,
                    1 => due = agreement,
                    2 => subsidy = false,
                    3 => enforcement_after = Some(FAST_DAYS + 1),
                    _ => (a, b) = (ids.person(), ids.person()),
                }
            }
            let applied = agreement + lag;
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
                due_on: if rng.chance(0.03) { None } else { Some(due) },
                subsidy,
                enforcement_after,
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
            // Mostly due after the agreement; now and then a settlement of a debt already due.
            due_on: match rng.below(100) {
                0..=2 => None,
                3..=4 => Some(agreement - rng.range(1, 300) as i32),
                _ => Some(agreement + rng.range(15, 365) as i32),
            },
            subsidy: centre || rng.chance(0.3),
            enforcement_after: rng.chance(0.15).then(|| rng.range(30, 400) as i32),
        });
    }

    for r in rows.iter_mut() {
        r.case_no = courts.case_no(r.court, r.decided_on, &mut rng);
    }
    rng.shuffle(&mut rows);
    let mut confirmations = TableOut::contract("false-mediation-confirmation", "confirmations");
    let mut enforcement = EnforcementOut::new("false-mediation-confirmation", s);
    let mut subsidies = TableOut::contract("false-mediation-confirmation", "mediation_subsidies");
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
    }
    Generated { tables: vec![confirmations, enforcement.finish(), subsidies] }
}

/// The contract's true clues in finished T3 tables, decided from DOMAIN.md's definition alone: a
/// confirmation with every mark: applied for at most [`QUICK_DAYS`] after the agreement,
/// performance due before the agreement, its (unordered) party pair in another confirmation of the
/// same mediator, a subsidy paid for the case, and enforcement never filed or first filed at most
/// [`FAST_DAYS`] after the decision. Unknown dates make no mark.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let e = table(tables, "enforcement");
    let (basis, filed) = (column(e, "basis_case_no"), column(e, "filed_on"));
    // The first filing on each basis case (`None` inside: a filing with no date).
    let mut first_filing: HashMap<&str, Option<i64>> = HashMap::new();
    for i in 0..rows(e) {
        if let Some(case_no) = text(basis, i) {
            let day = int(filed, i);
            first_filing
                .entry(case_no)
                .and_modify(|f| *f = if day.is_none() || f.is_none() { None } else { (*f).min(day) })
                .or_insert(day);
        }
    }
    let s = table(tables, "mediation_subsidies");
    let subsidised: std::collections::HashSet<&str> =
        (0..rows(s)).filter_map(|i| text(column(s, "case_no"), i)).collect();
    let c = table(tables, "confirmations");
    let (case_col, mediator, a_col, b_col) =
        (column(c, "case_no"), column(c, "mediator_id"), column(c, "party_a_id"), column(c, "party_b_id"));
    let (agreed, applied, decided, due) = (
        column(c, "agreement_on"),
        column(c, "applied_on"),
        column(c, "decided_on"),
        column(c, "performance_due_on"),
    );
    let pair = |i: usize| {
        let (a, b) = (text(a_col, i)?, text(b_col, i)?);
        Some((text(mediator, i)?, a.min(b), a.max(b)))
    };
    let mut pairs: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for i in 0..rows(c) {
        if let Some(key) = pair(i) {
            *pairs.entry(key).or_default() += 1;
        }
    }
    let mut found = Vec::new();
    for i in 0..rows(c) {
        let (Some(case_no), Some(agreement), Some(applied), Some(due)) =
            (text(case_col, i), int(agreed, i), int(applied, i), int(due, i))
        else {
            continue;
        };
        let quick = applied - agreement <= i64::from(QUICK_DAYS);
        let repeated = pair(i).is_some_and(|key| pairs[&key] >= 2);
        let enforcement = match first_filing.get(case_no) {
            None => true,
            Some(Some(day)) => int(decided, i).is_some_and(|d| day - d <= i64::from(FAST_DAYS)),
            Some(None) => false,
        };
        if quick && due < agreement && repeated && subsidised.contains(case_no) && enforcement {
            found.push((case_no.to_string(), PATTERN.to_string()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        crate::generate::truth::check_fixture("false-mediation-confirmation", super::truth);
    }
}
