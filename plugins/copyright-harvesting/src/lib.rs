//! T7 `copyright-harvesting`: false copyright suits on registrations of other people's works.
//!
//! A suit is *on an earlier-used work* when its `reg_no` is registered and the registered work's
//! earliest sighting in `prior_use` is at least `earlier-days` days before the claimed `created_on`.
//! A *harvester* is a plaintiff, or an agent, with at least `min-suits` suits on earlier-used works
//! (counted over the whole dataset), more than half of them against vendors or small businesses.
//! Each suit on an earlier-used work brought by or through a harvester is a clue (rule
//! `harvesting`); the harvester's other suits are not. A `case_no` recorded twice is one suit
//! (its first row on an earlier-used work counts).
//!
//! The score ranks the biggest operations first: 0.6 for a harvester at the threshold, rising with
//! its number of such suits to 1.0 at five times the threshold.

use sieve_sdk::ops::KeyMap;
use sieve_sdk::{Clue, Context, Key, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The T7 model.
pub struct CopyrightHarvesting;

impl Model for CopyrightHarvesting {
    fn describe() -> ModelInfo {
        ModelInfo::new("copyright-harvesting", env!("CARGO_PKG_VERSION"))
            .summary(
                "Flags copyright suits over registered works that were in use before their claimed creation, \
                 brought by or through plaintiffs and agents who sue small vendors on such works again and again.",
            )
            .task("copyright-harvesting", "ip-case")
            .input(TableSpec::new("registrations").text(&["reg_no", "work_hash"]).date(&["created_on"]))
            .input(
                TableSpec::new("ip_cases").text(&["case_no", "plaintiff_id", "plaintiff_agent", "reg_no", "defendant_kind"]),
            )
            .input(TableSpec::new("prior_use").text(&["work_hash"]).date(&["first_seen_on"]))
            .param_int(
                "earlier-days",
                30,
                "Days before the claimed creation a work must have been seen to count as used earlier.",
            )
            .param_int("min-suits", 10, "Suits on earlier-used works that make a plaintiff or agent a harvester.")
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let earlier_days: i32 = ctx.param("earlier-days")?;
        let min_suits: usize = ctx.param("min-suits")?;
        let p = ctx.table("prior_use")?.load(&["work_hash", "first_seen_on"])?;
        let r = ctx.table("registrations")?.load(&["reg_no", "work_hash", "created_on"])?;
        let c = ctx.table("ip_cases")?.load(&[
            "case_no",
            "plaintiff_id",
            "plaintiff_agent",
            "reg_no",
            "defendant_kind",
        ])?;

        // Works, registrations, cases and people arrive coded against the run's shared dictionary:
        // each map below is an array over those codes, and no text is hashed.
        let (work, seen_on) = (p.text("work_hash")?, p.date("first_seen_on")?);
        let mut first_seen: KeyMap<(i32, usize)> = KeyMap::for_column(&work);
        for row in 0..p.len() {
            if let (Some(w), Some(day)) = (work.key(row), seen_on.get(row)) {
                let e = first_seen.entry_or_insert_with(w, || (day, row));
                if day < e.0 {
                    *e = (day, row);
                }
            }
        }
        // Each earlier-used registration with the sighting that proves it: (registration row,
        // prior_use row).
        let (reg_no, reg_work, created_on) = (r.text("reg_no")?, r.text("work_hash")?, r.date("created_on")?);
        let mut earlier_used: KeyMap<(usize, usize)> = KeyMap::for_column(&reg_no);
        for row in 0..r.len() {
            let (Some(w), Some(created)) = (reg_work.key(row), created_on.get(row)) else { continue };
            if let Some(&(seen, prow)) = first_seen.get(w)
                && created - seen >= earlier_days
                && let Some(reg) = reg_no.key(row)
            {
                earlier_used.entry_or_insert_with(reg, || (row, prow));
            }
        }

        let (case_no, plaintiff, agent) =
            (c.text("case_no")?, c.text("plaintiff_id")?, c.text("plaintiff_agent")?);
        let (case_reg, kind) = (c.text("reg_no")?, c.text("defendant_kind")?);
        // Each suit on an earlier-used work, once: a case_no recorded again is the same suit, and
        // its first such row counts. Tallies per plaintiff and per agent are kept apart (one id
        // could act as both).
        let mut seen_cases: KeyMap<()> = KeyMap::for_column(&case_no);
        // (ip_cases row, registration row, prior_use row) of each suit on an earlier-used work.
        let mut suits: Vec<(usize, usize, usize)> = Vec::new();
        // Per plaintiff or agent: (suits on earlier-used works, against vendors or small businesses).
        let mut by_plaintiff: KeyMap<(usize, usize)> = KeyMap::for_column(&plaintiff);
        let mut by_agent: KeyMap<(usize, usize)> = KeyMap::for_column(&agent);
        for row in 0..c.len() {
            let Some(&(reg_row, seen_row)) = case_reg.key(row).and_then(|reg| earlier_used.get(reg)) else {
                continue;
            };
            let Some(case) = case_no.key(row) else { continue };
            if !seen_cases.insert_new(case) {
                continue;
            }
            let small = matches!(kind.get(row), Some("vendor" | "small_business")) as usize;
            for (tally, who) in [(&mut by_plaintiff, plaintiff.key(row)), (&mut by_agent, agent.key(row))] {
                if let Some(who) = who {
                    let t = tally.entry(who);
                    t.0 += 1;
                    t.1 += small;
                }
            }
            suits.push((row, reg_row, seen_row));
        }
        let harvester = |tally: &KeyMap<(usize, usize)>, who: Option<Key<'_>>| {
            let &(n, small) = tally.get(who?)?;
            (n >= min_suits.max(1) && 2 * small > n).then_some((n, small))
        };

        // The clues: each suit brought by or through a harvester, with the tally that makes one.
        struct Found {
            row: u32,
            reg_row: usize,
            seen_row: usize,
            through_agent: bool,
            suits: usize,
            small: usize,
        }
        let mut found: Vec<Found> = Vec::new();
        for (row, reg_row, seen_row) in suits {
            let (through_agent, (n, small)) =
                match (harvester(&by_plaintiff, plaintiff.key(row)), harvester(&by_agent, agent.key(row))) {
                    (_, Some(t)) => (true, t),
                    (Some(t), None) => (false, t),
                    (None, None) => continue,
                };
            found.push(Found { row: row as u32, reg_row, seen_row, through_agent, suits: n, small });
        }

        // The words of the clues, for their rows only: the party and registration dictionaries
        // (a million entries each at scale 100) never have to be copied in whole.
        let clue_rows: Vec<u32> = found.iter().map(|f| f.row).collect();
        let words = ctx
            .table("ip_cases")?
            .rows(&["case_no", "plaintiff_id", "plaintiff_agent", "reg_no"], &clue_rows)?;
        let (case_no, plaintiff, agent, case_reg) = (
            words.text("case_no")?,
            words.text("plaintiff_id")?,
            words.text("plaintiff_agent")?,
            words.text("reg_no")?,
        );
        for (i, f) in found.iter().enumerate() {
            let Some(case) = case_no.get(i) else { continue };
            let (by, who) = if f.through_agent {
                ("through agent", agent.get(i))
            } else {
                ("by plaintiff", plaintiff.get(i))
            };
            let who = who.unwrap_or_default();
            let reg = case_reg.get(i).unwrap_or_default();
            let (n, small) = (f.suits, f.small);
            let score = 0.6 + 0.4 * ((n - min_suits.min(n)) as f64 / (4 * min_suits.max(1)) as f64).min(1.0);
            ctx.emit(
                Clue::new(case, score, "harvesting", format!(
                    "Suit {case} over {reg}, a work seen before its claimed creation, was brought {by} {who}, who has {n} such suits, {small} of them against vendors or small businesses."
                ))
                .evidence("ip_cases", [f.row as usize])
                .evidence("registrations", [f.reg_row])
                .evidence("prior_use", [f.seen_row]),
            );
        }
        Ok(())
    }
}

export_model!(CopyrightHarvesting);

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_sdk::native::{self, Dataset};

    /// The hand-written fixture (tests/fixtures/copyright-harvesting/README.md says what each row
    /// tests), also run through the real binary and the generator's labeller.
    const REGISTRATIONS: &str =
        include_str!("../../../tests/fixtures/copyright-harvesting/registrations.csv");
    const CASES: &str = include_str!("../../../tests/fixtures/copyright-harvesting/ip_cases.csv");
    const PRIOR_USE: &str = include_str!("../../../tests/fixtures/copyright-harvesting/prior_use.csv");
    const EXPECTED: &str = include_str!("../../../tests/fixtures/copyright-harvesting/expected.txt");

    /// The fixture's clues under `params`.
    fn clues(params: &[(&str, &str)]) -> Vec<Clue> {
        let info = CopyrightHarvesting::describe();
        let data = Dataset::from_csv(
            &info,
            &[("registrations", REGISTRATIONS), ("ip_cases", CASES), ("prior_use", PRIOR_USE)],
        )
        .expect("parses");
        native::run::<CopyrightHarvesting>(&data, params).expect("runs").clues
    }

    fn flagged(params: &[(&str, &str)]) -> Vec<String> {
        let out = clues(params);
        let mut found: Vec<String> = out.into_iter().map(|c| c.subject).collect();
        found.sort();
        found
    }

    #[test]
    fn flags_the_harvesters_suits_and_spares_every_near_miss() {
        assert_eq!(flagged(&[]), EXPECTED.lines().collect::<Vec<_>>());
    }

    #[test]
    fn each_reason_names_its_own_suit_registration_and_harvester() {
        let found = clues(&[]);
        let cases: Vec<Vec<&str>> = CASES.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert!(!found.is_empty());
        for clue in &found {
            let row = clue.evidence.iter().find(|e| e.table == "ip_cases").expect("a suit row").row;
            // case_no, court, filed_on, plaintiff_id, plaintiff_agent, reg_no, ...
            let suit = &cases[row as usize];
            assert_eq!(clue.subject, suit[0]);
            let named =
                |words: String| assert!(clue.reason.contains(&words), "{words:?} not in {:?}", clue.reason);
            named(format!("Suit {} over {},", suit[0], suit[5]));
            named(if clue.reason.contains("through agent") {
                format!("through agent {},", suit[4])
            } else {
                format!("by plaintiff {},", suit[3])
            });
        }
    }

    #[test]
    fn thresholds_are_parameters() {
        // At 9 suits AG2's nine (B01 once) make it a harvester too.
        let nine = flagged(&[("min-suits", "9")]);
        assert_eq!(nine.iter().filter(|s| s.starts_with('B')).count(), 9, "{nine:?}");
        // Seen 29 days before creation counts when 29 days suffice: AG4's ten suits on W7.
        let days = flagged(&[("earlier-days", "29")]);
        assert_eq!(days.iter().filter(|s| s.starts_with('D')).count(), 10, "{days:?}");
    }
}
