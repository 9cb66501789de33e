//! T5 generator: debtors under a consumption restriction, their passports, and travel records.
//!
//! Scale 1 is about 10,000 trips. Restricted: flights, every seat on G trains, first class on D
//! trains. Planted (about 2.5% of debtors): `direct` (restricted trips recorded under the
//! debtor's id) and `passport` (trips recorded only under a passport number issued to the debtor,
//! often a newly issued one). Near misses: trips after `lifted_on`, before `imposed_on`, second
//! class on D trains, ordinary rail, other people's trips. Noise: missing person ids or passport
//! numbers on ordinary trips, people with several passports.
//! Labels come from the definition ([`truth`]) on the finished tables.

use std::collections::HashMap;

use sieve_sdk::data::{MS_PER_DAY, days_from_civil};

use super::Generated;
use super::courts::Courts;
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, int, rows, table, text};

/// A generated trip: person id, passport number, mode, seat class, departure (epoch ms).
type Trip = (Option<String>, Option<String>, &'static str, &'static str, i64);

struct Debtor {
    id: String,
    imposed: i32,
    lifted: Option<i32>,
    passports: Vec<String>,
}

/// A restricted (mode, seat class) combination.
fn restricted_trip(rng: &mut Rng) -> (&'static str, &'static str) {
    match rng.below(4) {
        0 | 1 => ("flight", *rng.pick(&["economy", "business", "first"])),
        2 => ("rail_g", *rng.pick(&["second", "first", "business"])),
        _ => ("rail_d", "first"),
    }
}

/// A combination a restricted debtor may still use.
fn allowed_trip(rng: &mut Rng) -> (&'static str, &'static str) {
    if rng.chance(0.5) { ("rail_d", "second") } else { ("rail_other", *rng.pick(&["second", "economy"])) }
}

/// Any combination, for the general public.
fn any_trip(rng: &mut Rng) -> (&'static str, &'static str) {
    if rng.chance(0.5) { restricted_trip(rng) } else { allowed_trip(rng) }
}

/// Generate T5 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, "restricted-debtor-travel");
    let mut ids = Ids::new(seed ^ 0x5555);
    let target_trips = 10_000 * s;
    let first_day = days_from_civil(2018, 1, 1);
    let last_day = days_from_civil(2024, 12, 31);
    let mut courts = Courts::new(s, "执");
    let mut passport_seq = 0u64;
    // 48271 is a unit modulo 10^8, so passport numbers never repeat.
    let mut new_passport = || {
        passport_seq += 1;
        format!("E{:08}", (passport_seq * 48_271 + seed) % 100_000_000)
    };

    let mut restrictions = TableOut::contract("restricted-debtor-travel", "restrictions");
    let mut passports = TableOut::contract("restricted-debtor-travel", "passports");
    let mut trips: Vec<Trip> = Vec::new();

    let debtors: Vec<Debtor> = (0..1_500 * s)
        .map(|_| {
            let imposed = rng.range(first_day as i64, (last_day - 200) as i64) as i32;
            let lifted = rng.chance(0.4).then(|| imposed + rng.range(100, 900) as i32);
            let n = if rng.chance(0.6) {
                1
            } else if rng.chance(0.9) {
                2
            } else {
                rng.range(3, 6) as usize
            };
            let passports = (0..n).map(|_| new_passport()).collect();
            Debtor { id: ids.person(), imposed, lifted, passports }
        })
        .collect();
    for d in &debtors {
        let court = courts.sample(&mut rng);
        let case_no = courts.case_no(court, d.imposed - rng.range(30, 300) as i32, &mut rng);
        restrictions.push(&[
            Cell::Text(&d.id),
            Cell::Text(&case_no),
            Cell::Date(d.imposed),
            d.lifted.map_or(Cell::Null, Cell::Date),
        ]);
        for (k, p) in d.passports.iter().enumerate() {
            let issued = d.imposed - 2000 + (k as i32) * rng.range(200, 900) as i32;
            passports.push(&[Cell::Text(&d.id), Cell::Text(p), Cell::Date(issued)]);
        }
    }
    let at = |day: i32, rng: &mut Rng| day as i64 * MS_PER_DAY + rng.range(6 * 3_600_000, 22 * 3_600_000);
    let restricted_until = |d: &Debtor| d.lifted.unwrap_or(last_day);

    for d in &debtors {
        let roll = rng.f64();
        if roll < 0.015 {
            // Planted, direct: restricted trips under the debtor's own id.
            for _ in 0..rng.range(1, 12) {
                let day = rng.range(d.imposed as i64, restricted_until(d) as i64) as i32;
                let (mode, class) = restricted_trip(&mut rng);
                trips.push((Some(d.id.clone()), None, mode, class, at(day, &mut rng)));
            }
        } else if roll < 0.025 {
            // Planted, passport: flights recorded only under one of the debtor's passports.
            for _ in 0..rng.range(1, 8) {
                let day = rng.range(d.imposed as i64, restricted_until(d) as i64) as i32;
                let passport = d.passports[d.passports.len() - 1].clone();
                trips.push((
                    None,
                    Some(passport),
                    "flight",
                    *rng.pick(&["economy", "business"]),
                    at(day, &mut rng),
                ));
            }
        } else if roll < 0.04 {
            // The day boundaries: a restricted trip on the day the restriction was imposed and on
            // the day it was lifted (both inside), the day before and the day after (outside).
            let lifted = d.lifted.unwrap_or(d.imposed + 200);
            let day = *rng.pick(&[d.imposed, lifted, d.imposed - 1, lifted + 1]);
            let (mode, class) = restricted_trip(&mut rng);
            trips.push((Some(d.id.clone()), None, mode, class, at(day, &mut rng)));
        } else if roll < 0.10 {
            // Near misses: restricted travel outside the restriction, or allowed travel inside it.
            for _ in 0..rng.range(1, 5) {
                let (day, (mode, class)) = match (rng.below(3), d.lifted) {
                    (0, Some(lifted)) => (lifted + rng.range(1, 300) as i32, restricted_trip(&mut rng)),
                    (1, _) => (d.imposed - rng.range(1, 400) as i32, restricted_trip(&mut rng)),
                    _ => (
                        rng.range(d.imposed as i64, restricted_until(d) as i64) as i32,
                        allowed_trip(&mut rng),
                    ),
                };
                let by_passport = rng.chance(0.2);
                let person = (!by_passport).then(|| d.id.clone());
                let passport = by_passport.then(|| rng.pick(&d.passports).clone());
                trips.push((person, passport, mode, class, at(day, &mut rng)));
            }
        }
    }

    // The travelling public: most trips, some with only a passport number recorded.
    let public: Vec<(String, String)> =
        (0..target_trips / 4).map(|_| (ids.person(), new_passport())).collect();
    for (person, passport) in public.iter().take(public.len() / 3) {
        passports.push(&[
            Cell::Text(person),
            Cell::Text(passport),
            Cell::Date(rng.range(first_day as i64 - 3000, last_day as i64) as i32),
        ]);
    }
    while trips.len() < target_trips {
        let (person, passport) = rng.pick(&public).clone();
        let day = rng.range(first_day as i64, last_day as i64) as i32;
        let (mode, class) = any_trip(&mut rng);
        let (person, passport) = match rng.below(10) {
            0 => (None, Some(passport)),
            1 => (Some(person), Some(passport)),
            _ => (Some(person), None),
        };
        trips.push((person, passport, mode, class, at(day, &mut rng)));
    }

    rng.shuffle(&mut trips);
    let mut travel = TableOut::contract("restricted-debtor-travel", "travel");
    for (i, (person, passport, mode, class, departed)) in trips.iter().enumerate() {
        let trip_id = format!("T{:09}", (i as u64 * 2_654_435_761 + seed) % 1_000_000_000);
        travel.push(&[
            Cell::Text(&trip_id),
            person.as_deref().map_or(Cell::Null, Cell::Text),
            passport.as_deref().map_or(Cell::Null, Cell::Text),
            Cell::Text(mode),
            Cell::Text(class),
            Cell::Timestamp(*departed),
        ]);
    }
    Generated { tables: vec![restrictions, travel, passports] }
}

/// The contract's true clues in finished T5 tables, decided from DOMAIN.md's definition alone: a
/// debtor with a restricted trip (a flight, any G train, a D train's first class) on a day from
/// `imposed_on` to `lifted_on` (both inclusive; no end while in force), recorded under the
/// debtor's id (`direct`) or only under a passport number issued to the debtor, with no person id
/// (`passport`). A debtor with any direct trip is `direct`.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let r = table(tables, "restrictions");
    let (debtor, imposed, lifted) = (column(r, "debtor_id"), column(r, "imposed_on"), column(r, "lifted_on"));
    let mut periods: HashMap<&str, Vec<(i64, Option<i64>)>> = HashMap::new();
    for i in 0..rows(r) {
        if let (Some(d), Some(from)) = (text(debtor, i), int(imposed, i)) {
            periods.entry(d).or_default().push((from, int(lifted, i)));
        }
    }
    let p = table(tables, "passports");
    let (holder, number) = (column(p, "person_id"), column(p, "passport_no"));
    let mut holders: HashMap<&str, Vec<&str>> = HashMap::new();
    for i in 0..rows(p) {
        if let (Some(h), Some(n)) = (text(holder, i), text(number, i)) {
            holders.entry(n).or_default().push(h);
        }
    }
    let t = table(tables, "travel");
    let (person, passport, mode, class, departed) = (
        column(t, "person_id"),
        column(t, "passport_no"),
        column(t, "mode"),
        column(t, "seat_class"),
        column(t, "departed_at"),
    );
    let restricted_on = |who: &str, day: i64| {
        periods
            .get(who)
            .is_some_and(|ps| ps.iter().any(|(from, to)| *from <= day && to.is_none_or(|to| day <= to)))
    };
    let mut found: HashMap<&str, &'static str> = HashMap::new();
    for i in 0..rows(t) {
        let (Some(m), Some(at)) = (text(mode, i), int(departed, i)) else { continue };
        let barred = match m {
            "flight" | "rail_g" => true,
            "rail_d" => text(class, i) == Some("first"),
            _ => false,
        };
        if !barred {
            continue;
        }
        let day = at.div_euclid(MS_PER_DAY);
        match text(person, i) {
            Some(who) if restricted_on(who, day) => {
                found.insert(who, "direct");
            }
            Some(_) => {}
            None => {
                let owners = text(passport, i).and_then(|n| holders.get(n)).map_or(&[][..], Vec::as_slice);
                for &who in owners.iter().filter(|w| restricted_on(w, day)) {
                    found.entry(who).or_insert("passport");
                }
            }
        }
    }
    found.into_iter().map(|(d, p)| (d.to_string(), p.to_string())).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        let found = crate::generate::truth::check_fixture("restricted-debtor-travel", super::truth);
        assert!(found.contains(&("D4".to_string(), "passport".to_string())), "{found:?}");
    }
}
