//! Courts and their case numbers: a few busy courts and a long tail, numbers unique per court,
//! year and case type, in the form `(2021)浙0102民初123号`.

use sieve_sdk::data::civil_from_days;

use super::place_name;
use super::rng::{Rng, Zipf};
use super::table::{Cell, TableOut};

/// The courts of one generated province.
pub struct Courts {
    names: Vec<(String, String)>,
    popularity: Zipf,
    next: Vec<u32>,
    case_type: &'static str,
}

const YEARS: usize = 10;

impl Courts {
    /// About `8 + scale / 4` courts (at most 120) issuing numbers of `case_type` (`民初`, `执`, ...).
    pub fn new(scale: usize, case_type: &'static str) -> Self {
        let names: Vec<(String, String)> = (0..(8 + scale / 4).min(120))
            .map(|i| {
                (format!("{}区人民法院", place_name(i)), format!("浙{:02}{:02}", 1 + i / 20, 2 + i % 20))
            })
            .collect();
        let popularity = Zipf::new(names.len(), 1.0);
        let next = vec![0; names.len() * YEARS];
        Courts { names, popularity, next, case_type }
    }

    /// A court, busy ones more often.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        self.popularity.sample(rng)
    }

    /// The court's name.
    pub fn name(&self, court: usize) -> &str {
        &self.names[court].0
    }

    /// A fresh case number at `court` for a case filed on `filed` (days since 1970-01-01).
    pub fn case_no(&mut self, court: usize, filed: i32, rng: &mut Rng) -> String {
        let year = civil_from_days(filed).0;
        let slot = court * YEARS + (year - 2017).clamp(0, YEARS as i32 - 1) as usize;
        // Numbers skip a little, as numbers of cases of other types interleave.
        self.next[slot] += 1 + rng.below(3) as u32;
        format!("({year}){}{}{}号", self.names[court].1, self.case_type, self.next[slot])
    }
}

/// The `enforcement` table of T2 and T3: enforcement cases filed on a basis case, numbered by
/// the enforcement divisions of the courts.
pub struct EnforcementOut {
    table: TableOut,
    courts: Courts,
}

impl EnforcementOut {
    /// An empty `enforcement` table of `task` with its own enforcement case numbering.
    pub fn new(task: &str, scale: usize) -> Self {
        let table = TableOut::contract(task, "enforcement");
        EnforcementOut { table, courts: Courts::new(scale, "执") }
    }

    /// `applicant` files for enforcement of `basis_case_no` on day `filed`.
    pub fn file(&mut self, basis_case_no: &str, applicant: &str, filed: i32, rng: &mut Rng) {
        let court = self.courts.sample(rng);
        let case_no = self.courts.case_no(court, filed, rng);
        self.table.push(&[
            Cell::Text(&case_no),
            Cell::Text(basis_case_no),
            Cell::Text(applicant),
            Cell::Date(filed),
        ]);
    }

    /// The finished table.
    pub fn finish(self) -> TableOut {
        self.table
    }
}
