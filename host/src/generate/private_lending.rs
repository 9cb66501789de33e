//! T2 generator: private-lending suits with planted professional lenders, near misses, noise.
//!
//! Scale 1 is about 10,000 cases. Planted (about 2% of cases): unlicensed lenders with 15-60
//! suits each, mostly default judgments, many withdrawn after filing, round principals at high
//! rates, enforcement filed soon after judgment; some right on the boundaries (exactly 15 suits;
//! defendants absent in 9 of 16). Near misses: licensed lenders (banks, micro-lenders) with many
//! suits where defendants appear; ordinary plaintiffs with two or three suits; busy unlicensed
//! plaintiffs (a trader suing customers) whose defendants appear; and one condition short: 14
//! suits, absent in exactly half, one suit recording a licence. Noise: nulls, skewed courts,
//! long-tailed amounts. Labels come from the definition ([`truth`]) on the finished tables.

use std::collections::HashMap;

use sieve_sdk::data::days_from_civil;

use super::Generated;
use super::courts::{Courts, EnforcementOut};
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, flag, rows, table, text};

const PATTERN: &str = "professional_lender";

/// Suits that make a plaintiff a professional lender (the published screening figure, DOMAIN.md;
/// the bundled model's `min-suits` defaults to it).
pub const MIN_SUITS: usize = 15;

struct Case {
    case_no: String,
    court: usize,
    plaintiff: String,
    defendant: String,
    filed_on: i32,
    closed_on: Option<i32>,
    outcome: &'static str,
    appeared: Option<bool>,
    principal: f64,
    rate: Option<f64>,
    licensed: Option<bool>,
    planted: bool,
}

/// The share of each outcome for one kind of plaintiff: (judgment, withdrawn, mediated, dismissed).
fn outcome(rng: &mut Rng, weights: [f64; 4]) -> &'static str {
    let x = rng.f64() * weights.iter().sum::<f64>();
    let mut acc = 0.0;
    for (w, name) in weights.iter().zip(["judgment", "withdrawn", "mediated", "dismissed"]) {
        acc += w;
        if x < acc {
            return name;
        }
    }
    "judgment"
}

/// Give `c` its case number and keep it.
fn push(cases: &mut Vec<Case>, courts: &mut Courts, rng: &mut Rng, c: Case) {
    let case_no = courts.case_no(c.court, c.filed_on, rng);
    cases.push(Case { case_no, ..c });
}

/// An annual rate in [lo, lo + span], to the percent.
fn rate(rng: &mut Rng, lo: f64, span: f64) -> f64 {
    ((lo + rng.f64() * span) * 100.0).round() / 100.0
}

/// Generate T2 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, "private-lending-fraud");
    let mut ids = Ids::new(seed ^ 0x7432);
    let target = 10_000 * s;
    let first_day = days_from_civil(2016, 1, 1);
    let last_day = days_from_civil(2024, 12, 31);
    let mut courts = Courts::new(s, "民初");
    let mut cases: Vec<Case> = Vec::with_capacity(target + 100);

    let day = |rng: &mut Rng| rng.range(first_day as i64, (last_day - 400) as i64) as i32;

    // Professional lenders: about 2% of all cases. Now and then one right on a boundary: exactly
    // the minimum of suits, or defendants absent in 9 of 16 (just over half).
    let mut planted = 0;
    let mut lenders = 0;
    while planted < target / 50 {
        let lender = ids.person();
        lenders += 1;
        let on_boundary = lenders % 4;
        let suits = match on_boundary {
            0 => MIN_SUITS,
            1 => 16,
            _ => rng.range(MIN_SUITS as i64, 60) as usize,
        };
        let start = day(&mut rng);
        let court = courts.sample(&mut rng);
        for k in 0..suits {
            let filed = start + rng.range(0, 700) as i32;
            let outcome = outcome(&mut rng, [0.62, 0.28, 0.08, 0.02]);
            // Round principals: 50,000 yuan and the like.
            let principal = (rng.range(1, 40) * 5_000) as f64;
            let c = Case {
                case_no: String::new(),
                court: if rng.chance(0.8) { court } else { courts.sample(&mut rng) },
                plaintiff: lender.clone(),
                defendant: ids.person(),
                filed_on: filed,
                closed_on: Some(filed + rng.range(10, 120) as i32),
                outcome,
                appeared: match on_boundary {
                    1 => Some(k >= 9),
                    _ if rng.chance(0.02) => None,
                    _ => Some(rng.chance(0.15)),
                },
                principal,
                rate: Some(rate(&mut rng, 0.24, 0.12)),
                licensed: if rng.chance(0.03) { None } else { Some(false) },
                planted: true,
            };
            push(&mut cases, &mut courts, &mut rng, c);
        }
        planted += suits;
    }

    // One condition short, each on its boundary: 14 suits all by default; 16 suits with
    // defendants absent in exactly 8; 20 suits by default, one recording a licence.
    for _ in 0..(2 * s) {
        for (suits, absent, licensed_in) in
            [(MIN_SUITS - 1, MIN_SUITS - 1, None), (16, 8, None), (20, 20, Some(7))]
        {
            let lender = ids.person();
            let start = day(&mut rng);
            for k in 0..suits {
                let filed = start + rng.range(0, 700) as i32;
                let c = Case {
                    case_no: String::new(),
                    court: courts.sample(&mut rng),
                    plaintiff: lender.clone(),
                    defendant: ids.person(),
                    filed_on: filed,
                    closed_on: Some(filed + rng.range(10, 120) as i32),
                    outcome: outcome(&mut rng, [0.62, 0.28, 0.08, 0.02]),
                    appeared: Some(k >= absent),
                    principal: (rng.range(1, 40) * 5_000) as f64,
                    rate: Some(rate(&mut rng, 0.24, 0.12)),
                    licensed: Some(licensed_in == Some(k)),
                    planted: false,
                };
                push(&mut cases, &mut courts, &mut rng, c);
            }
        }
    }

    // Licensed lenders: many suits, defendants appear, few withdrawals.
    for _ in 0..(4 * s) {
        let bank = ids.org();
        for _ in 0..rng.range(40, 160) {
            let filed = day(&mut rng);
            let principal = (rng.lognormal(80_000.0, 0.9) * 100.0).round() / 100.0;
            let c = Case {
                case_no: String::new(),
                court: courts.sample(&mut rng),
                plaintiff: bank.clone(),
                defendant: ids.person(),
                filed_on: filed,
                closed_on: Some(filed + rng.range(30, 300) as i32),
                outcome: outcome(&mut rng, [0.7, 0.08, 0.2, 0.02]),
                appeared: Some(rng.chance(0.6)),
                principal,
                rate: Some(rate(&mut rng, 0.06, 0.12)),
                licensed: Some(true),
                planted: false,
            };
            push(&mut cases, &mut courts, &mut rng, c);
        }
    }

    // Busy unlicensed plaintiffs who are not lenders: defendants appear, suits run their course.
    for _ in 0..(3 * s) {
        let trader = ids.person();
        for _ in 0..rng.range(8, 16) {
            let filed = day(&mut rng);
            let c = Case {
                case_no: String::new(),
                court: courts.sample(&mut rng),
                plaintiff: trader.clone(),
                defendant: ids.person(),
                filed_on: filed,
                closed_on: Some(filed + rng.range(30, 300) as i32),
                outcome: outcome(&mut rng, [0.6, 0.05, 0.33, 0.02]),
                appeared: Some(rng.chance(0.8)),
                principal: (rng.lognormal(30_000.0, 0.8) * 100.0).round() / 100.0,
                rate: Some(rate(&mut rng, 0.04, 0.1)),
                licensed: Some(false),
                planted: false,
            };
            push(&mut cases, &mut courts, &mut rng, c);
        }
    }

    // Ordinary plaintiffs: one suit, sometimes two or three.
    while cases.len() < target {
        let plaintiff = ids.person();
        let defendant = ids.person();
        let n = if rng.chance(0.85) { 1 } else { rng.range(2, 3) };
        for _ in 0..n {
            let filed = day(&mut rng);
            let c = Case {
                case_no: String::new(),
                court: courts.sample(&mut rng),
                plaintiff: plaintiff.clone(),
                defendant: if rng.chance(0.5) { defendant.clone() } else { ids.person() },
                filed_on: filed,
                closed_on: if rng.chance(0.03) { None } else { Some(filed + rng.range(20, 400) as i32) },
                outcome: outcome(&mut rng, [0.55, 0.12, 0.28, 0.05]),
                appeared: if rng.chance(0.02) { None } else { Some(rng.chance(0.65)) },
                principal: (rng.lognormal(50_000.0, 1.1) * 100.0).round() / 100.0,
                rate: if rng.chance(0.1) { None } else { Some(rate(&mut rng, 0.0, 0.2)) },
                licensed: if rng.chance(0.02) { None } else { Some(false) },
                planted: false,
            };
            push(&mut cases, &mut courts, &mut rng, c);
        }
    }

    rng.shuffle(&mut cases);
    let mut table = TableOut::contract("private-lending-fraud", "lending_cases");
    let mut enforcement = EnforcementOut::new("private-lending-fraud", s);
    for c in &cases {
        table.push(&[
            Cell::Text(&c.case_no),
            Cell::Text(courts.name(c.court)),
            Cell::Text(&c.plaintiff),
            Cell::Text(&c.defendant),
            Cell::Date(c.filed_on),
            c.closed_on.map_or(Cell::Null, Cell::Date),
            Cell::Text(c.outcome),
            c.appeared.map_or(Cell::Null, Cell::Bool),
            Cell::Float(c.principal),
            c.rate.map_or(Cell::Null, Cell::Float),
            c.licensed.map_or(Cell::Null, Cell::Bool),
        ]);
        // Won cases often go to enforcement; professional lenders enforce fast and almost always.
        let enforce = c.outcome == "judgment" && rng.chance(if c.planted { 0.9 } else { 0.4 });
        if let (true, Some(closed)) = (enforce, c.closed_on) {
            let filed = closed + if c.planted { rng.range(1, 20) } else { rng.range(15, 400) } as i32;
            enforcement.file(&c.case_no, &c.plaintiff, filed, &mut rng);
        }
    }
    Generated { tables: vec![table, enforcement.finish()] }
}

/// The contract's true clues in finished T2 tables: every case of a professional lender, decided
/// from DOMAIN.md's text alone: a plaintiff with at least [`MIN_SUITS`] suits, never recorded as
/// licensed, whose defendants were absent in more than half of the suits where appearance is known.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let c = table(tables, "lending_cases");
    let (case_col, plaintiff, appeared, licensed) = (
        column(c, "case_no"),
        column(c, "plaintiff_id"),
        column(c, "defendant_appeared"),
        column(c, "plaintiff_licensed"),
    );
    // Per plaintiff: (suits, ever licensed, known appearances, absences).
    let mut tally: HashMap<&str, (usize, bool, usize, usize)> = HashMap::new();
    for i in 0..rows(c) {
        let Some(who) = text(plaintiff, i) else { continue };
        let t = tally.entry(who).or_default();
        t.0 += 1;
        t.1 |= flag(licensed, i) == Some(true);
        if let Some(a) = flag(appeared, i) {
            t.2 += 1;
            t.3 += usize::from(!a);
        }
    }
    let lender = |who: &str| {
        tally.get(who).is_some_and(|&(suits, licensed, known, absent)| {
            suits >= MIN_SUITS && !licensed && known > 0 && 2 * absent > known
        })
    };
    (0..rows(c))
        .filter(|&i| text(plaintiff, i).is_some_and(lender))
        .filter_map(|i| Some((text(case_col, i)?.to_string(), PATTERN.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        crate::generate::truth::check_fixture("private-lending-fraud", super::truth);
    }
}
