//! T6 generator: enforcement cases, vehicle registrations, seizures and traffic events.
//!
//! Scale 1 is about 10,000 traffic events and 2,000 cases. Planted (about 0.7% of cases each):
//! `driven_while_seized` (a car seized on paper keeps showing up on the road),
//! `no_assets_with_vehicle` (closed "no assets" while the debtor owned an unseized car, one bought
//! on the closing day, or one seized only in another case), `transfer_to_related` (a car moved to
//! kin or an affiliate while the case ran, on the closing day included), `stale_seizure` (a seizure
//! never lifted, or lifted 91+ days after the debt was paid). Near misses on every boundary of
//! DOMAIN.md's definition: events on only two distinct dates, on the seizure day or the release
//! day, before the seizure; impounded cars; cars sold before filing or on the closing day; transfers
//! on the filing day, the day after closing, to strangers, or after a seizure; seizures released
//! exactly 90 days after closure; unreleased seizures of `no_assets` and open cases. Labels come from
//! the definition ([`truth`]) on the finished tables, not from what was planted.

use std::collections::HashMap;

use sieve_sdk::data::{MS_PER_DAY, days_from_civil};

use super::Generated;
use super::courts::Courts;
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, int, related, rows, table, text};

const TASK: &str = "vehicle-enforcement";
const RELATION_KINDS: [&str; 3] = ["kin", "affiliate", "legal_rep"];
const EVENT_KINDS: [&str; 3] = ["violation", "toll", "parking"];

/// Days a seizure may stay in force after a paid or settled case closed (DOMAIN.md: more is stale).
pub const RELEASE_GRACE_DAYS: i32 = 90;

/// Distinct event dates that make a seized car "driven" (DOMAIN.md).
pub const DRIVEN_MIN_DATES: usize = 3;

/// The tables being written, with the helpers that keep their rows consistent.
struct Out {
    cases: TableOut,
    registrations: TableOut,
    seizures: TableOut,
    events: TableOut,
    relations: TableOut,
    ids: Ids,
    courts: Courts,
}

impl Out {
    fn case(&mut self, debtor: &str, filed: i32, closed: Option<(i32, &str)>, rng: &mut Rng) -> String {
        let court = self.courts.sample(rng);
        let case_no = self.courts.case_no(court, filed, rng);
        let name = self.courts.name(court).to_string();
        // Court names are typed by hand now and then; ids never are.
        let name = if rng.chance(0.02) { super::misspell(&name, rng) } else { name };
        self.cases.push(&[
            Cell::Text(&case_no),
            Cell::Text(&name),
            Cell::Text(debtor),
            Cell::Date(filed),
            closed.map_or(Cell::Null, |(day, _)| Cell::Date(day)),
            closed.map_or(Cell::Null, |(_, how)| Cell::Text(how)),
        ]);
        case_no
    }

    /// One ownership period of `plate`.
    fn own(&mut self, plate: &str, owner: &str, from: i32, to: Option<i32>) {
        self.registrations.push(&[
            Cell::Text(plate),
            Cell::Text(owner),
            Cell::Date(from),
            to.map_or(Cell::Null, Cell::Date),
        ]);
    }

    /// A new plate owned by `owner` from `from` (until `to`, if sold).
    fn vehicle(&mut self, owner: &str, from: i32, to: Option<i32>) -> String {
        let plate = self.ids.plate();
        self.own(&plate, owner, from, to);
        plate
    }

    /// `plate` passes from its current owner to `buyer` on `day`: the seller's period must have
    /// been written with `to = day`; this starts the buyer's.
    fn sell(&mut self, plate: &str, buyer: &str, day: i32) {
        self.own(plate, buyer, day, None);
    }

    fn seize(
        &mut self,
        case_no: &str,
        plate: &str,
        seized: i32,
        impounded: Option<i32>,
        released: Option<i32>,
    ) {
        self.seizures.push(&[
            Cell::Text(case_no),
            Cell::Text(plate),
            Cell::Date(seized),
            impounded.map_or(Cell::Null, Cell::Date),
            released.map_or(Cell::Null, Cell::Date),
        ]);
    }

    /// A traffic event of `plate` at a random time of UTC day `day`.
    fn event(&mut self, plate: &str, day: i32, rng: &mut Rng) {
        let at = day as i64 * MS_PER_DAY + rng.range(0, MS_PER_DAY - 1);
        self.event_at(plate, at, rng);
    }

    fn event_at(&mut self, plate: &str, at: i64, rng: &mut Rng) {
        let kind = *rng.pick(&EVENT_KINDS);
        self.events.push(&[Cell::Text(plate), Cell::Timestamp(at), Cell::Text(kind)]);
    }

    /// Record a relation between `a` and `b`, in either direction.
    fn relate(&mut self, a: &str, b: &str, rng: &mut Rng) {
        let kind = *rng.pick(&RELATION_KINDS);
        let (x, y) = if rng.chance(0.5) { (a, b) } else { (b, a) };
        self.relations.push(&[Cell::Text(x), Cell::Text(y), Cell::Text(kind)]);
    }
}

/// Generate T6 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, TASK);
    let first_day = days_from_civil(2019, 1, 1);
    let last_day = days_from_civil(2024, 12, 31);
    let mut out = Out {
        cases: TableOut::contract(TASK, "enforcement_cases"),
        registrations: TableOut::contract(TASK, "registrations"),
        seizures: TableOut::contract(TASK, "seizures"),
        events: TableOut::contract(TASK, "traffic_events"),
        relations: TableOut::contract(TASK, "relations"),
        ids: Ids::new(seed ^ 0x6666),
        courts: Courts::new(s, "执"),
    };
    // Strangers: buyers, the general public, and people related to someone else.
    let public: Vec<String> = (0..3_000 * s).map(|_| out.ids.person()).collect();
    for _ in 0..500 * s {
        let (a, b) = (rng.pick(&public).clone(), rng.pick(&public).clone());
        out.relate(&a, &b, &mut rng);
    }

    for _ in 0..2_000 * s {
        let debtor = out.ids.person();
        let filed = rng.range(first_day as i64, (last_day - 400) as i64) as i32;
        let closed_day = (filed + rng.range(30, 600) as i32).min(last_day - 30);
        let scenario = rng.f64();
        let closed_as = |how: &'static str| if how == "open" { None } else { Some((closed_day, how)) };
        // A day in [from, to), or `from` when that is empty.
        let inside = |rng: &mut Rng, from: i32, to: i32| {
            if to <= from { from } else { rng.range(from as i64, to as i64 - 1) as i32 }
        };
        let bought = filed - rng.range(100, 3000) as i32;
        match scenario {
            x if x < 0.007 => {
                // driven_while_seized: seized on paper, then seen on the road on 3+ dates.
                let how = *rng.pick(&["open", "paid", "settled", "no_assets"]);
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                let plate = out.vehicle(&debtor, bought, None);
                // Before the earliest closing day, so the seizure spans a few days at least.
                let seized = filed + rng.range(3, 25) as i32;
                let released =
                    (how != "open").then(|| closed_day + rng.range(0, RELEASE_GRACE_DAYS as i64) as i32);
                out.seize(&case_no, &plate, seized, None, released);
                let end = released.unwrap_or(last_day);
                let dates = rng.range(DRIVEN_MIN_DATES as i64, 9) as usize;
                // The first and last days inside the window, then the rest anywhere in it.
                let mut days = vec![seized + 1, end - 1];
                while days.len() < dates {
                    days.push(inside(&mut rng, seized + 1, end));
                }
                for day in days {
                    out.event(&plate, day, &mut rng);
                }
            }
            x if x < 0.014 => {
                // no_assets_with_vehicle: closed "no assets" while the debtor owned a car that
                // this case never seized.
                out.case(&debtor, filed, Some((closed_day, "no_assets")), &mut rng);
                match rng.below(3) {
                    0 => {
                        out.vehicle(&debtor, bought, None);
                    }
                    // Bought on the closing day itself: owned on `closed_on`.
                    1 => {
                        out.vehicle(&debtor, closed_day, None);
                    }
                    // Seized, but only in another case of the same debtor.
                    _ => {
                        let plate = out.vehicle(&debtor, bought.min(filed - 250), None);
                        let other = out.case(&debtor, filed - 200, None, &mut rng);
                        out.seize(&other, &plate, filed - 190, Some(filed - 180), None);
                    }
                }
            }
            x if x < 0.021 => {
                // transfer_to_related: while the case ran, the car went to kin or an affiliate.
                let how = *rng.pick(&["open", "paid", "settled", "no_assets"]);
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                let end = if how == "open" { last_day } else { closed_day };
                // The day after filing, the closing day, or any day between.
                let t = match rng.below(3) {
                    0 => filed + 1,
                    1 => end,
                    _ => inside(&mut rng, filed + 1, end + 1),
                };
                let plate = out.vehicle(&debtor, bought, Some(t));
                let buyer = out.ids.person();
                out.sell(&plate, &buyer, t);
                out.relate(&debtor, &buyer, &mut rng);
                if rng.chance(0.3) {
                    // Seized only after it was gone: the seizure did not stop the transfer.
                    out.seize(&case_no, &plate, t + 1, None, None);
                }
            }
            x if x < 0.028 => {
                // stale_seizure: the debt was paid, the seizure stayed.
                let how = *rng.pick(&["paid", "settled"]);
                let case_no = out.case(&debtor, filed, Some((closed_day, how)), &mut rng);
                let plate = out.vehicle(&debtor, bought, None);
                let released = match rng.below(3) {
                    0 => None,
                    1 => Some(closed_day + RELEASE_GRACE_DAYS + 1),
                    _ => Some(closed_day + rng.range(RELEASE_GRACE_DAYS as i64 + 1, 700) as i32),
                };
                let impounded = rng.chance(0.5).then_some(filed + 40);
                out.seize(&case_no, &plate, filed + 20, impounded, released);
            }
            x if x < 0.045 => {
                // Near misses of driven_while_seized.
                let how = *rng.pick(&["open", "paid"]);
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                let plate = out.vehicle(&debtor, bought, None);
                let seized = filed + rng.range(3, 60) as i32;
                let released = (how != "open").then_some(closed_day + 30);
                let end = released.unwrap_or(last_day);
                let mut impounded = None;
                match rng.below(5) {
                    // Events on only two distinct dates inside (three events: a plate misread
                    // or a short trip, not a car in use).
                    0 => {
                        let d = inside(&mut rng, seized + 1, end);
                        for day in [seized + 1, d, d] {
                            out.event(&plate, day, &mut rng);
                        }
                    }
                    // The seizure day itself, to its last millisecond, is not after it.
                    1 => {
                        out.event_at(&plate, (seized as i64 + 1) * MS_PER_DAY - 1, &mut rng);
                        for day in [seized + 2, end - 1] {
                            out.event(&plate, day, &mut rng);
                        }
                    }
                    // The release day is not before the release (an open case has none: then
                    // events before the seizure instead).
                    2 => {
                        let days = match released {
                            Some(r) => [seized + 1, seized + 2, r],
                            None => [seized, seized - 1, seized - 30],
                        };
                        for day in days {
                            out.event(&plate, day, &mut rng);
                        }
                    }
                    // Driven on many dates, but after the release (or, while still seized, before
                    // the seizure).
                    3 => {
                        for k in 0..5 {
                            let day = released.map_or(seized - 1 - k * 3, |r| r + 1 + k * 3);
                            out.event(&plate, day, &mut rng);
                        }
                    }
                    // Impounded: the court has the car, whatever the cameras say.
                    _ => {
                        impounded = Some(seized + 2);
                        for k in 0..5 {
                            out.event(&plate, seized + 3 + k * 4, &mut rng);
                        }
                    }
                }
                out.seize(&case_no, &plate, seized, impounded, released);
            }
            x if x < 0.055 => {
                // Near misses of no_assets_with_vehicle.
                let case_no = out.case(&debtor, filed, Some((closed_day, "no_assets")), &mut rng);
                match rng.below(3) {
                    // Sold on the closing day: no longer owned on `closed_on`.
                    0 => {
                        let plate = out.vehicle(&debtor, bought, Some(closed_day));
                        let buyer = rng.pick(&public).clone();
                        out.sell(&plate, &buyer, closed_day);
                    }
                    // Sold before the case was filed.
                    1 => {
                        let sold = filed - rng.range(1, 300) as i32;
                        let plate = out.vehicle(&debtor, bought.min(sold - 30), Some(sold));
                        let buyer = rng.pick(&public).clone();
                        out.sell(&plate, &buyer, sold);
                    }
                    // The only car was seized in this very case.
                    _ => {
                        let plate = out.vehicle(&debtor, bought, None);
                        out.seize(&case_no, &plate, filed + 10, Some(filed + 20), None);
                    }
                }
            }
            x if x < 0.065 => {
                // Near misses of transfer_to_related.
                // Not `no_assets`: a car sold after closing would make that closure a clue.
                let how = *rng.pick(&["open", "paid", "settled"]);
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                let buyer = out.ids.person();
                let variant = rng.below(5);
                let t = match (variant, how) {
                    (0, _) => filed,          // on the filing day: not after it
                    (1, "open") => filed - 1, // before filing
                    (1, _) => closed_day + 1, // the day after closing
                    _ => inside(&mut rng, filed + 1, closed_day + 1),
                };
                let plate = out.vehicle(&debtor, bought.min(t - 30), Some(t));
                out.sell(&plate, &buyer, t);
                match variant {
                    // A stranger bought it.
                    2 => {}
                    // Seized on the transfer day: the seizure came first.
                    3 => {
                        out.relate(&debtor, &buyer, &mut rng);
                        let released = closed_as(how).map(|(closed, _)| closed + 10);
                        out.seize(&case_no, &plate, t, None, released);
                    }
                    // The buyer is related, but to someone else.
                    4 => {
                        let other = rng.pick(&public).clone();
                        out.relate(&other, &buyer, &mut rng);
                    }
                    _ => out.relate(&debtor, &buyer, &mut rng),
                }
            }
            x if x < 0.07 => {
                // Near misses of stale_seizure.
                let (how, released) = match rng.below(3) {
                    0 => ("paid", Some(closed_day + RELEASE_GRACE_DAYS)), // exactly 90 days
                    1 => ("no_assets", None),                             // not paid: may stay
                    _ => ("open", None),                                  // still running
                };
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                let plate = out.vehicle(&debtor, bought, None);
                out.seize(&case_no, &plate, filed + 15, Some(filed + 25), released);
            }
            _ => {
                // An ordinary case: handled by the book.
                let how = *rng.pick(&["open", "open", "paid", "paid", "settled", "no_assets", "no_assets"]);
                let case_no = out.case(&debtor, filed, closed_as(how), &mut rng);
                if rng.chance(0.5) {
                    continue;
                }
                if how == "no_assets" {
                    // No assets indeed: any car was sold before filing, to a stranger.
                    if rng.chance(0.5) {
                        let sold = filed - rng.range(1, 800) as i32;
                        let plate = out.vehicle(&debtor, sold - rng.range(100, 2000) as i32, Some(sold));
                        let buyer = rng.pick(&public).clone();
                        out.sell(&plate, &buyer, sold);
                    }
                    continue;
                }
                let plate = out.vehicle(&debtor, bought, None);
                // Driven before the case, as anyone's car is.
                for _ in 0..rng.range(0, 4) {
                    out.event(&plate, filed - rng.range(1, 600) as i32, &mut rng);
                }
                if rng.chance(0.3) {
                    continue;
                }
                let seized = filed + rng.range(3, 60) as i32;
                let released =
                    (how != "open").then(|| closed_day + rng.range(0, RELEASE_GRACE_DAYS as i64) as i32);
                let impounded = rng.chance(0.6).then(|| seized + rng.range(1, 30) as i32);
                let end = released.unwrap_or(last_day);
                if impounded.is_none() {
                    // A plate read once or twice inside the seizure: a misread, not a car in use.
                    for _ in 0..rng.below(DRIVEN_MIN_DATES) {
                        out.event(&plate, inside(&mut rng, seized + 1, end), &mut rng);
                    }
                }
                out.seize(&case_no, &plate, seized, impounded, released);
            }
        }
    }

    // The public's cars: most of the traffic, some of them changing hands between strangers.
    let target_events = 10_000 * s;
    let plates: Vec<String> = (0..1_500 * s)
        .map(|_| {
            let owner = rng.pick(&public).clone();
            let from = rng.range(first_day as i64 - 3000, last_day as i64 - 100) as i32;
            if rng.chance(0.1) {
                let t = from + rng.range(30, 1000) as i32;
                let plate = out.vehicle(&owner, from, Some(t));
                let buyer = rng.pick(&public).clone();
                out.sell(&plate, &buyer, t);
                plate
            } else {
                out.vehicle(&owner, from, None)
            }
        })
        .collect();
    while out.events.rows < target_events {
        let plate = rng.pick(&plates).clone();
        let day = rng.range(first_day as i64, last_day as i64) as i32;
        out.event(&plate, day, &mut rng);
        // Noise: the same camera read twice.
        if rng.chance(0.01) {
            out.event(&plate, day, &mut rng);
        }
        // Noise: a misread plate, never registered.
        if rng.chance(0.01) {
            let ghost = out.ids.plate();
            out.event(&ghost, day, &mut rng);
        }
    }

    let Out { cases, registrations, seizures, events, relations, .. } = out;
    Generated { tables: vec![cases, registrations, seizures, events, relations] }
}

/// The contract's true clues in finished T6 tables, decided from DOMAIN.md's definition alone
/// (subject `case_no` of a case in `enforcement_cases`; a case may carry several patterns).
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let c = table(tables, "enforcement_cases");
    let (case_col, debtor_col) = (column(c, "case_no"), column(c, "debtor_id"));
    let (filed_col, closed_col, closure_col) =
        (column(c, "filed_on"), column(c, "closed_on"), column(c, "closure"));

    let r = table(tables, "registrations");
    let (plate_r, owner_r, from_r, to_r) =
        (column(r, "plate"), column(r, "owner_id"), column(r, "from_on"), column(r, "to_on"));
    let mut owned_by: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut periods_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..rows(r) {
        if let Some(owner) = text(owner_r, i) {
            owned_by.entry(owner).or_default().push(i);
        }
        if let Some(plate) = text(plate_r, i) {
            periods_of.entry(plate).or_default().push(i);
        }
    }
    let valid_on = |i: usize, day: i64| {
        int(from_r, i).is_some_and(|from| from <= day && int(to_r, i).is_none_or(|to| day < to))
    };

    let s = table(tables, "seizures");
    let (case_s, plate_s) = (column(s, "case_no"), column(s, "plate"));
    let (seized_s, impounded_s, released_s) =
        (column(s, "seized_on"), column(s, "impounded_on"), column(s, "released_on"));
    let mut seizures_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..rows(s) {
        if let Some(case_no) = text(case_s, i) {
            seizures_of.entry(case_no).or_default().push(i);
        }
    }

    let e = table(tables, "traffic_events");
    let (plate_e, at_e) = (column(e, "plate"), column(e, "at"));
    let mut event_days: HashMap<&str, Vec<i64>> = HashMap::new();
    for i in 0..rows(e) {
        if let (Some(plate), Some(at)) = (text(plate_e, i), int(at_e, i)) {
            event_days.entry(plate).or_default().push(at.div_euclid(MS_PER_DAY));
        }
    }

    let related = related(tables);

    let mut found: Vec<(String, String)> = Vec::new();
    for i in 0..rows(c) {
        // Each pattern needs only what its definition reads: a case with no debtor or no filing
        // date can still have a seized car driven, or a stale seizure.
        let Some(case_no) = text(case_col, i) else { continue };
        let (debtor, filed) = (text(debtor_col, i), int(filed_col, i));
        let (closed, closure) = (int(closed_col, i), text(closure_col, i));
        let seizures = seizures_of.get(case_no).map_or(&[][..], Vec::as_slice);
        let mut patterns: Vec<&str> = Vec::new();

        let driven = seizures.iter().any(|&z| {
            let (Some(plate), Some(seized)) = (text(plate_s, z), int(seized_s, z)) else { return false };
            if int(impounded_s, z).is_some() {
                return false;
            }
            let released = int(released_s, z);
            let mut days: Vec<i64> = event_days
                .get(plate)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .copied()
                .filter(|&d| d > seized && released.is_none_or(|r| d < r))
                .collect();
            days.sort_unstable();
            days.dedup();
            days.len() >= DRIVEN_MIN_DATES
        });
        if driven {
            patterns.push("driven_while_seized");
        }

        let seized_here = |plate: &str| seizures.iter().any(|&z| text(plate_s, z) == Some(plate));
        let owned = debtor.and_then(|d| owned_by.get(d)).map_or(&[][..], Vec::as_slice);
        if let (Some("no_assets"), Some(closed)) = (closure, closed)
            && owned.iter().any(|&o| valid_on(o, closed) && text(plate_r, o).is_some_and(|p| !seized_here(p)))
        {
            patterns.push("no_assets_with_vehicle");
        }

        let transferred_to_related = owned.iter().any(|&o| {
            let (Some(plate), Some(t), Some(debtor), Some(filed)) =
                (text(plate_r, o), int(to_r, o), debtor, filed)
            else {
                return false;
            };
            if !(filed < t && closed.is_none_or(|c| t <= c)) {
                return false;
            }
            let seized_first = seizures
                .iter()
                .any(|&z| text(plate_s, z) == Some(plate) && int(seized_s, z).is_some_and(|d| d <= t));
            if seized_first {
                return false;
            }
            periods_of.get(plate).map_or(&[][..], Vec::as_slice).iter().any(|&n| {
                int(from_r, n) == Some(t)
                    && text(owner_r, n).is_some_and(|new| new != debtor && related.contains(&(debtor, new)))
            })
        });
        if transferred_to_related {
            patterns.push("transfer_to_related");
        }

        if let (Some("paid" | "settled"), Some(closed)) = (closure, closed)
            && seizures
                .iter()
                .any(|&z| int(released_s, z).is_none_or(|r| r - closed > i64::from(RELEASE_GRACE_DAYS)))
        {
            patterns.push("stale_seizure");
        }
        found.extend(patterns.into_iter().map(|p| (case_no.to_string(), p.to_string())));
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        let found = crate::generate::truth::check_fixture(super::TASK, super::truth);
        assert!(found.contains(&("C27".into(), "driven_while_seized".into())), "{found:?}");
        assert!(found.contains(&("C27".into(), "stale_seizure".into())), "{found:?}");
    }

    #[test]
    fn every_pattern_is_planted_and_labels_stay_a_small_share() {
        let tables = super::generate(1, 7).finish();
        let labels = super::truth(&tables);
        let cases = super::rows(super::table(&tables, "enforcement_cases"));
        for pattern in
            ["driven_while_seized", "no_assets_with_vehicle", "transfer_to_related", "stale_seizure"]
        {
            let n = labels.iter().filter(|(_, p)| p == pattern).count();
            assert!(n >= 8, "{pattern}: only {n} labelled");
        }
        let mut subjects: Vec<&str> = labels.iter().map(|(s, _)| s.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        let share = subjects.len() as f64 / cases as f64;
        assert!((0.01..0.05).contains(&share), "{} of {cases} cases labelled", subjects.len());
    }
}
