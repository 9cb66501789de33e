//! T5 `restricted-debtor-travel`: debtors who fly or ride fast trains while restricted.
//!
//! A restricted debtor may not fly, take any seat on a G train, or sit in first class on a D
//! train, from `imposed_on` until `lifted_on` (or for good, while it is not lifted). A trip counts
//! against a debtor when it is recorded under the debtor's id (rule `direct`) or only under a
//! passport number issued to the debtor (rule `passport`: a new passport escapes the block). One
//! clue per debtor; the score grows with the number of trips: 0.6 for one, up to 1.0 for five.

use sieve_sdk::data::MS_PER_DAY;
use sieve_sdk::ops::{Index, KeyMap};
use sieve_sdk::{Clue, Context, Key, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T5 model.
pub struct RestrictedDebtorTravel;

/// A restricted trip: (travel row, restriction row, passport row if found through a passport).
type Trip = (usize, usize, Option<usize>);

/// Whether a (mode, seat class) is barred to a restricted debtor.
pub fn is_restricted(mode: &str, seat_class: &str) -> bool {
    match mode {
        "flight" | "rail_g" => true,
        "rail_d" => seat_class == "first",
        _ => false,
    }
}

impl Model for RestrictedDebtorTravel {
    fn describe() -> ModelInfo {
        ModelInfo::new("restricted-debtor-travel", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags debtors under a consumption restriction who flew, took G trains or first class on D \
                 trains while restricted, under their own id or on one of their passports.",
            )
            .task("restricted-debtor-travel", "person")
            .input(TableSpec::new("restrictions").text(&["debtor_id"]).date(&["imposed_on", "lifted_on"]))
            .input(
                TableSpec::new("travel")
                    .text(&["person_id", "passport_no", "mode", "seat_class"])
                    .timestamp(&["departed_at"]),
            )
            .input(TableSpec::new("passports").text(&["person_id", "passport_no"]))
            .param_int("min-trips", 1, "Restricted trips a debtor must have taken to be flagged.")
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let min_trips: usize = ctx.param("min-trips")?;
        let r = ctx.table("restrictions")?.load(&["debtor_id", "imposed_on", "lifted_on"])?;
        let t =
            ctx.table("travel")?.load(&["person_id", "passport_no", "mode", "seat_class", "departed_at"])?;
        let p = ctx.table("passports")?.load(&["person_id", "passport_no"])?;

        let (debtor, imposed, lifted) = (r.text("debtor_id")?, r.date("imposed_on")?, r.date("lifted_on")?);
        let restricted = Index::build(&debtor);
        let holder = p.text("person_id")?;
        let passport_rows = Index::build(&p.text("passport_no")?);

        let (person, passport) = (t.text("person_id")?, t.text("passport_no")?);
        let (mode, class, departed) = (t.text("mode")?, t.text("seat_class")?, t.timestamp("departed_at")?);
        // Trips by debtor, on codes: a debtor's id is read for one of its restriction rows at the
        // end, so the run never copies the people's dictionary whole.
        let mut found: KeyMap<'_, Vec<Trip>> = KeyMap::for_column(&debtor);
        // A mode is barred in any seat, or in first class only: decided once per distinct mode
        // and seat class, not once per trip. (`is_restricted` reads the class only for "first".)
        let barred = mode.derive(|m| (is_restricted(m, ""), is_restricted(m, "first")));
        let in_first = class.derive(|c| c == "first");
        for row in 0..t.len() {
            let (Some(&(in_any_seat, in_first_class)), Some(day)) =
                (barred.get(row), departed.get(row).map(|ms| ms.div_euclid(MS_PER_DAY) as i32))
            else {
                continue;
            };
            if !(in_any_seat || in_first_class && in_first.get(row) == Some(&true)) {
                continue;
            }
            // A trip counts under the person id when there is one; only a trip with no person id
            // counts through its passport number, for each restricted debtor it was issued to.
            // People and passports share a dictionary across the tables: lookups are by code.
            let mut candidates: Vec<(Key<'_>, Option<usize>)> = Vec::new();
            match person.key(row) {
                Some(id) if restricted.contains(id) => candidates.push((id, None)),
                Some(_) => continue,
                None => {
                    let holders = passport.key(row).map_or(&[][..], |n| passport_rows.get(n));
                    for &r in holders {
                        let Some(id) = holder.key(r as usize) else { continue };
                        if restricted.contains(id) && !candidates.iter().any(|(c, _)| *c == id) {
                            candidates.push((id, Some(r as usize)));
                        }
                    }
                }
            }
            for (who, via) in candidates {
                let active = restricted.get(who).iter().map(|&r| r as usize).find(|&rr| {
                    imposed.get(rr).is_some_and(|start| sieve_sdk::ops::within(day, start, lifted.get(rr)))
                });
                if let Some(rr) = active {
                    found.entry(who).push((row, rr, via));
                }
            }
        }

        let flagged: Vec<&Vec<Trip>> = found.values().filter(|trips| trips.len() >= min_trips).collect();
        let first_restrictions: Vec<u32> = flagged.iter().map(|trips| trips[0].1 as u32).collect();
        let words = ctx.table("restrictions")?.rows(&["debtor_id"], &first_restrictions)?;
        let names = words.text("debtor_id")?;
        let mut debtors: Vec<(&str, &Vec<Trip>)> = flagged
            .into_iter()
            .enumerate()
            .map(|(i, trips)| (names.get(i).unwrap_or_default(), trips))
            .collect();
        debtors.sort_unstable_by_key(|&(who, _)| who);
        for (who, trips) in debtors {
            let via_passport = trips.iter().filter(|(_, _, via)| via.is_some()).count();
            let rule = if via_passport == trips.len() { "passport" } else { "direct" };
            let score = (0.5 + 0.1 * trips.len().min(5) as f64).min(1.0);
            let reason = if via_passport > 0 {
                format!(
                    "Debtor {who} made {} restricted trips while restricted, {via_passport} of them on a passport issued to the debtor.",
                    trips.len()
                )
            } else {
                format!(
                    "Debtor {who} made {} restricted trips (flights, G trains, D-train first class) while restricted.",
                    trips.len()
                )
            };
            let mut clue = Clue::new(who, score, rule, reason)
                .evidence("restrictions", [trips[0].1])
                .evidence("travel", trips.iter().take(50).map(|(row, _, _)| *row));
            clue = clue.evidence("passports", trips.iter().filter_map(|(_, _, via)| *via).take(5));
            ctx.emit(clue);
        }
        Ok(())
    }
}

export_model!(RestrictedDebtorTravel);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    /// The hand-written fixture (tests/fixtures/restricted-debtor-travel/README.md says what each
    /// row tests), also run through the real binary by the integration tests.
    const RESTRICTIONS: &str =
        include_str!("../../../tests/fixtures/restricted-debtor-travel/restrictions.csv");
    const TRAVEL: &str = include_str!("../../../tests/fixtures/restricted-debtor-travel/travel.csv");
    const PASSPORTS: &str = include_str!("../../../tests/fixtures/restricted-debtor-travel/passports.csv");

    fn run_fixture() -> native::NativeOutput {
        let info = RestrictedDebtorTravel::describe();
        let data = Dataset::from_csv(
            &info,
            &[("restrictions", RESTRICTIONS), ("travel", TRAVEL), ("passports", PASSPORTS)],
        )
        .expect("parses");
        native::run::<RestrictedDebtorTravel>(&data, &[]).expect("runs")
    }

    #[test]
    fn finds_direct_and_passport_travel_and_spares_near_misses() {
        let out = run_fixture();
        let found: Vec<(&str, &str, usize)> =
            out.clues.iter().map(|c| (c.subject.as_str(), c.rule.as_str(), c.evidence.len())).collect();
        // D1: two trips (the one before imposition does not count); D4 through passport E2; D5
        // in a D train's first class. D2 travelled after lifting, D3 only on allowed trains, X is
        // not a debtor. Passport E7 was issued to D6 and then D7: the flight under it alone came
        // while only D7 was restricted.
        let mut found = found;
        found.sort();
        assert_eq!(
            found,
            [("D1", "direct", 3), ("D4", "passport", 3), ("D5", "direct", 2), ("D7", "passport", 3)]
        );
        let d1 = out.clues.iter().find(|c| c.subject == "D1").expect("D1");
        assert!((d1.score - 0.7).abs() < 1e-9);
    }

    /// Trips are grouped by the debtor's code and the debtor's id is read for one restriction
    /// row: each clue names its own debtor, cites that restriction, and the clues come in the
    /// order of the debtors' ids.
    #[test]
    fn each_clue_names_its_own_debtor_in_order_of_their_ids() {
        let out = run_fixture();
        let emitted: Vec<(&str, &str, u64)> =
            out.clues.iter().map(|c| (c.subject.as_str(), c.reason.as_str(), c.evidence[0].row)).collect();
        let direct = |who: &str, trips: usize| {
            format!(
                "Debtor {who} made {trips} restricted trips (flights, G trains, D-train first class) while restricted."
            )
        };
        let passport = |who: &str| {
            format!(
                "Debtor {who} made 1 restricted trips while restricted, 1 of them on a passport issued to the debtor."
            )
        };
        let (d1, d4, d5, d7) = (direct("D1", 2), passport("D4"), direct("D5", 1), passport("D7"));
        assert_eq!(
            emitted,
            [("D1", d1.as_str(), 0), ("D4", d4.as_str(), 3), ("D5", d5.as_str(), 4), ("D7", d7.as_str(), 6)]
        );
    }

    #[test]
    fn restricted_modes() {
        assert!(is_restricted("rail_g", "second"));
        assert!(is_restricted("rail_d", "first"));
        assert!(!is_restricted("rail_d", "second"));
        assert!(!is_restricted("rail_other", "first"));
    }
}
