//! T7 generator: copyright registrations, infringement suits, and earlier sightings of the works.
//!
//! Scale 1 is about 10,000 registrations and 5,000 suits. Planted: agencies that register patterns
//! long in use as their clients' works (back-dated creation, the earliest sighting 30 days or more
//! before it) and sue small vendors through the agency, and plaintiffs who do the same without an
//! agent. Near misses on every boundary of DOMAIN.md's definition: an agent and a plaintiff with 9
//! such suits (and 10, which is a harvester); exactly half of the suits against vendors; works first
//! seen 29 days before creation (and 30, which counts); sightings after creation (the defendants
//! copied); prolific genuine rights holders; single suits on earlier-used works; a harvester's suits
//! on works nobody used before. Labels come from the definition ([`truth`]) on the finished tables.

use std::collections::{HashMap, HashSet};

use sieve_sdk::data::{civil_from_days, days_from_civil};

use super::Generated;
use super::courts::Courts;
use super::ids::Ids;
use super::rng::Rng;
use super::table::{Cell, TableOut};
use super::truth::{Tables, column, int, rows, table, text};

const TASK: &str = "copyright-harvesting";
const OUTCOMES: [&str; 4] = ["judgment", "withdrawn", "settled", "dismissed"];

/// A harvester needs at least this many suits on earlier-used works (DOMAIN.md).
pub const MIN_SUITS: usize = 10;
/// A work is earlier-used when first seen at least this many days before its claimed creation.
pub const EARLIER_DAYS: i64 = 30;

/// How a work's earliest sighting relates to its claimed creation.
#[derive(Clone, Copy)]
enum Sighting {
    /// Never seen elsewhere.
    None,
    /// First seen this many days before the claimed creation (30 or more: earlier-used).
    Before(i32),
    /// First seen after creation: the defendant copied the work.
    After,
}

/// The tables being written and the id sources they share.
struct Out {
    registrations: TableOut,
    cases: TableOut,
    prior_use: TableOut,
    ids: Ids,
    courts: Courts,
    works: u64,
    seed: u64,
    last_day: i32,
}

impl Out {
    /// Register a work of `claimant` created (as claimed) on `created`, seen as `sighting` says;
    /// returns its registration number and registration day.
    fn work(
        &mut self,
        claimant: &str,
        agent: Option<&str>,
        created: i32,
        sighting: Sighting,
        rng: &mut Rng,
    ) -> (String, i32) {
        self.works += 1;
        let registered = created + rng.range(5, 120) as i32;
        // 2654435761 is odd and prime to 10^9, a unit modulo 10^9: numbers never repeat; nor do
        // hashes, an odd multiple of distinct counters modulo 2^64.
        let scrambled = (self.works * 2_654_435_761 + self.seed) % 1_000_000_000;
        let reg_no = format!("浙作登字-{}-F-{scrambled:09}", civil_from_days(registered).0);
        let hash = format!("{:016x}", (self.works + self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Noise: a creation date nobody recorded.
        let created_cell = if rng.chance(0.01) { Cell::Null } else { Cell::Date(created) };
        self.registrations.push(&[
            Cell::Text(&reg_no),
            Cell::Text(&hash),
            Cell::Text(claimant),
            agent.map_or(Cell::Null, Cell::Text),
            created_cell,
            Cell::Date(registered),
        ]);
        match sighting {
            Sighting::None => {}
            Sighting::Before(days) => {
                self.seen(&hash, created - days, rng);
                // Later sightings change nothing: the earliest one counts.
                for _ in 0..rng.below(3) {
                    self.seen(&hash, created - days + rng.range(1, 900) as i32, rng);
                }
            }
            Sighting::After => self.seen(&hash, created + rng.range(1, 800) as i32, rng),
        }
        (reg_no, registered)
    }

    fn seen(&mut self, hash: &str, day: i32, rng: &mut Rng) {
        let source = *rng.pick(&["market_survey", "court_traceback", "online_shop", "trade_fair"]);
        self.prior_use.push(&[Cell::Text(hash), Cell::Date(day), Cell::Text(source)]);
    }

    /// A suit over `reg_no`, filed some time after `registered`.
    fn suit(
        &mut self,
        plaintiff: &str,
        agent: Option<&str>,
        (reg_no, registered): (&str, i32),
        defendant_kind: &str,
        rng: &mut Rng,
    ) {
        let filed = (registered + rng.range(10, 700) as i32).min(self.last_day);
        let court = self.courts.sample(rng);
        let case_no = self.courts.case_no(court, filed, rng);
        let name = self.courts.name(court).to_string();
        let name = if rng.chance(0.02) { super::misspell(&name, rng) } else { name };
        let defendant = if defendant_kind == "company" { self.ids.org() } else { self.ids.person() };
        // Noise: a defendant kind left blank now and then.
        let kind_cell = if rng.chance(0.01) { Cell::Null } else { Cell::Text(defendant_kind) };
        let claimed = (rng.lognormal(30_000.0, 0.8) / 100.0).round();
        let outcome = *rng.pick(&OUTCOMES);
        self.cases.push(&[
            Cell::Text(&case_no),
            Cell::Text(&name),
            Cell::Date(filed),
            Cell::Text(plaintiff),
            agent.map_or(Cell::Null, Cell::Text),
            Cell::Text(reg_no),
            Cell::Text(&defendant),
            kind_cell,
            Cell::Float(claimed * 100.0),
            Cell::Text(outcome),
        ]);
    }
}

/// Defendant kinds for `n` suits of which exactly `small` are against vendors or small businesses.
fn defendant_kinds(n: usize, small: usize, rng: &mut Rng) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = (0..n)
        .map(|i| if i < small { *rng.pick(&["vendor", "vendor", "small_business"]) } else { "company" })
        .collect();
    rng.shuffle(&mut kinds);
    kinds
}

/// Generate T7 at `scale` with `seed`.
pub fn generate(scale: u32, seed: u64) -> Generated {
    let s = scale.max(1) as usize;
    let mut rng = Rng::new(seed, TASK);
    let first_day = days_from_civil(2015, 1, 1);
    let last_day = days_from_civil(2024, 12, 31);
    let mut out = Out {
        registrations: TableOut::contract(TASK, "registrations"),
        cases: TableOut::contract(TASK, "ip_cases"),
        prior_use: TableOut::contract(TASK, "prior_use"),
        ids: Ids::new(seed ^ 0x7777),
        courts: Courts::new(s, "知民初"),
        works: 0,
        seed,
        last_day,
    };
    let created_day = |rng: &mut Rng| rng.range(first_day as i64, (last_day - 900) as i64) as i32;
    let firms: Vec<String> = (0..40 * s).map(|_| out.ids.org()).collect();
    let earlier = |rng: &mut Rng| Sighting::Before(rng.range(EARLIER_DAYS, 2000) as i32);

    // A ring: an agent (or none, a plaintiff acting alone) suing on works used before they were
    // "created", `n` suits of which `small` target vendors and small businesses, spread over
    // `clients` plaintiffs; `sighting` says how early the works were seen.
    let ring = |out: &mut Out,
                rng: &mut Rng,
                agent: Option<&str>,
                clients: usize,
                n: usize,
                small: usize,
                sighting: &dyn Fn(&mut Rng) -> Sighting| {
        let people: Vec<String> = (0..clients).map(|_| out.ids.person()).collect();
        let works: Vec<(String, String, i32)> = (0..(n / 3).max(1))
            .map(|i| {
                let claimant = &people[i % people.len()];
                let (reg_no, registered) = out.work(claimant, agent, created_day(rng), sighting(rng), rng);
                (claimant.clone(), reg_no, registered)
            })
            .collect();
        for (i, kind) in defendant_kinds(n, small, rng).into_iter().enumerate() {
            let (claimant, reg_no, registered) = &works[i % works.len()];
            out.suit(claimant, agent, (reg_no, *registered), kind, rng);
        }
        people
    };

    for _ in 0..3 * s {
        // Harvesting agencies: 10 to 40 suits on earlier-used works, most against vendors.
        let agency = out.ids.org();
        let n = rng.range(MIN_SUITS as i64, 40) as usize;
        let small = n / 2 + 1 + rng.below(n - n / 2);
        let clients = rng.range(2, 6) as usize;
        ring(&mut out, &mut rng, Some(&agency), clients, n, small, &earlier);
        // Their suits on works nobody used before are not clues.
        let genuine = rng.range(2, 6) as usize;
        ring(&mut out, &mut rng, Some(&agency), 1, genuine, 1, &|_| Sighting::None);
    }
    // On the boundaries: exactly 10 suits, 6 against vendors, works seen exactly 30 days before.
    let agency = out.ids.org();
    ring(&mut out, &mut rng, Some(&agency), 3, MIN_SUITS, MIN_SUITS / 2 + 1, &|_| Sighting::Before(30));
    // A plaintiff harvesting alone, with no agent.
    for _ in 0..s {
        let n = rng.range(MIN_SUITS as i64, 20) as usize;
        ring(&mut out, &mut rng, None, 1, n, n, &earlier);
    }

    // Near misses, each one condition short.
    for _ in 0..2 * s {
        let agency = out.ids.org();
        // Nine suits on earlier-used works, all against vendors.
        ring(&mut out, &mut rng, Some(&agency), 2, MIN_SUITS - 1, MIN_SUITS - 1, &earlier);
        // A plaintiff alone with nine.
        ring(&mut out, &mut rng, None, 1, MIN_SUITS - 1, MIN_SUITS - 1, &earlier);
        // Exactly half against vendors and small businesses: not more than half.
        let agency = out.ids.org();
        ring(&mut out, &mut rng, Some(&agency), 3, 2 * MIN_SUITS, MIN_SUITS, &earlier);
        // Works first seen 29 days before creation: not earlier-used.
        let agency = out.ids.org();
        ring(&mut out, &mut rng, Some(&agency), 3, 15, 15, &|_| Sighting::Before(29));
        // The defendants copied the works after they were created.
        let agency = out.ids.org();
        ring(&mut out, &mut rng, Some(&agency), 3, 15, 15, &|_| Sighting::After);
        // Prolific genuine rights holders: many suits, works nobody used before.
        let firm = rng.pick(&firms).clone();
        let n = rng.range(30, 60) as usize;
        let small = rng.below(n);
        ring(&mut out, &mut rng, Some(&firm), 1, n, small, &|rng: &mut Rng| {
            if rng.chance(0.5) { Sighting::None } else { Sighting::After }
        });
    }

    // Ordinary rights holders: a suit or two each, on their own works; now and then a single suit
    // on a work seen long before its registration (not a pattern of one suit).
    while out.cases.rows < 5_000 * s {
        let claimant = out.ids.person();
        let agent = rng.chance(0.7).then(|| rng.pick(&firms).clone());
        let sighting = match rng.below(100) {
            0 => earlier(&mut rng),
            1..=30 => Sighting::After,
            _ => Sighting::None,
        };
        let (reg_no, registered) =
            out.work(&claimant, agent.as_deref(), created_day(&mut rng), sighting, &mut rng);
        for _ in 0..rng.range(1, 2) {
            let kind = *rng.pick(&["vendor", "small_business", "company", "company"]);
            out.suit(&claimant, agent.as_deref(), (&reg_no, registered), kind, &mut rng);
        }
    }
    // Registered works never sued over: most of the register.
    while out.registrations.rows < 10_000 * s {
        let claimant = out.ids.person();
        let agent = rng.chance(0.5).then(|| rng.pick(&firms).clone());
        let sighting = if rng.chance(0.1) { Sighting::After } else { Sighting::None };
        out.work(&claimant, agent.as_deref(), created_day(&mut rng), sighting, &mut rng);
    }

    let Out { registrations, cases, prior_use, .. } = out;
    Generated { tables: vec![registrations, cases, prior_use] }
}

/// The contract's true clues in finished T7 tables, decided from DOMAIN.md's definition alone:
/// each suit on an earlier-used work (its registration's work first seen 30+ days before the
/// claimed creation) brought by or through a harvester (a plaintiff or agent with 10+ such suits,
/// more than half against vendors or small businesses). A suit repeated under one `case_no` counts
/// once, as its first row on an earlier-used work.
pub fn truth(tables: &Tables<'_>) -> Vec<(String, String)> {
    let p = table(tables, "prior_use");
    let (hash_p, seen_p) = (column(p, "work_hash"), column(p, "first_seen_on"));
    let mut first_seen: HashMap<&str, i64> = HashMap::new();
    for i in 0..rows(p) {
        if let (Some(h), Some(d)) = (text(hash_p, i), int(seen_p, i)) {
            first_seen.entry(h).and_modify(|e| *e = (*e).min(d)).or_insert(d);
        }
    }
    let r = table(tables, "registrations");
    let (reg_r, hash_r, created_r) = (column(r, "reg_no"), column(r, "work_hash"), column(r, "created_on"));
    let mut earlier_used: HashSet<&str> = HashSet::new();
    for i in 0..rows(r) {
        if let (Some(reg), Some(h), Some(created)) = (text(reg_r, i), text(hash_r, i), int(created_r, i))
            && first_seen.get(h).is_some_and(|&seen| created - seen >= EARLIER_DAYS)
        {
            earlier_used.insert(reg);
        }
    }
    let c = table(tables, "ip_cases");
    let (case_c, plaintiff_c, agent_c, reg_c, kind_c) = (
        column(c, "case_no"),
        column(c, "plaintiff_id"),
        column(c, "plaintiff_agent"),
        column(c, "reg_no"),
        column(c, "defendant_kind"),
    );
    let mut seen_cases: HashSet<&str> = HashSet::new();
    // The suits on earlier-used works: (case, plaintiff, agent).
    let mut suits: Vec<(&str, Option<&str>, Option<&str>)> = Vec::new();
    // Per plaintiff or agent: (suits, against vendors or small businesses). Plaintiffs and agents
    // are counted apart, in case one id is both.
    let mut tally: HashMap<(bool, &str), (usize, usize)> = HashMap::new();
    for i in 0..rows(c) {
        let Some(case_no) = text(case_c, i) else { continue };
        if !text(reg_c, i).is_some_and(|reg| earlier_used.contains(reg)) || !seen_cases.insert(case_no) {
            continue;
        }
        let small = matches!(text(kind_c, i), Some("vendor" | "small_business"));
        let (plaintiff, agent) = (text(plaintiff_c, i), text(agent_c, i));
        for key in [plaintiff.map(|p| (true, p)), agent.map(|a| (false, a))].into_iter().flatten() {
            let t = tally.entry(key).or_default();
            t.0 += 1;
            t.1 += small as usize;
        }
        suits.push((case_no, plaintiff, agent));
    }
    let harvester =
        |key: (bool, &str)| tally.get(&key).is_some_and(|&(n, small)| n >= MIN_SUITS && 2 * small > n);
    suits
        .into_iter()
        .filter(|(_, p, a)| {
            p.is_some_and(|p| harvester((true, p))) || a.is_some_and(|a| harvester((false, a)))
        })
        .map(|(case_no, _, _)| (case_no.to_string(), "harvesting".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_labeller_agrees_with_the_hand_written_fixture() {
        crate::generate::truth::check_fixture(super::TASK, super::truth);
    }

    #[test]
    fn harvesting_suits_are_a_small_share_of_all_suits() {
        let tables = super::generate(1, 7).finish();
        let labels = super::truth(&tables);
        let cases = super::rows(super::table(&tables, "ip_cases"));
        let share = labels.len() as f64 / cases as f64;
        assert!((0.01..0.05).contains(&share), "{} of {cases} suits labelled", labels.len());
    }
}
