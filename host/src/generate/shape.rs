//! A second data shape for every task, made from the finished tables before they are labelled
//! (labels come from the task's definition on the tables as written, so they stay exact): the
//! shape of data Sieve did not make. Per key domain of the task's contract:
//!
//! - every id becomes a 20-digit numeric string (as registries that number people and cases
//!   write them), the same id for the same value in every column of the domain;
//! - in each domain column but the subject's, half of the values that occur once are redrawn from
//!   the column's values with Zipf-skewed weights (s = 1.2): a few keys hold a large share of the
//!   rows, as busy repair shops, lenders and courts do;
//! - a tenth of those columns' rows are null.

use std::collections::{HashMap, HashSet};

use sieve_sdk::data::{Bitmap, Column, Text, Values};

use super::rng::{Rng, Zipf};
use crate::datasets::contract;

/// How a generated dataset is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// As the task's generator makes it.
    Plain,
    /// Numeric ids, Zipf-skewed keys and null keys (see the module's documentation).
    Skewed,
}

/// Zipf exponent of the redrawn keys.
const SKEW: f64 = 1.2;
/// Share of once-occurring values redrawn.
const REDRAWN: f64 = 0.5;
/// Share of a key column's rows made null.
const NULLS: f64 = 0.1;

/// Reshape the finished `tables` of `task` as `shape` says.
pub fn apply(task: &str, shape: Shape, seed: u64, tables: &mut [(&'static str, Vec<Column>)]) {
    if shape == Shape::Plain {
        return;
    }
    let subject = contract::subject(task);
    for (domain, members) in contract::domains(task) {
        let mut rng = Rng::new(seed, &format!("shape {domain}"));
        let mut numeric = Numeric::new(seed, domain);
        for (table, column) in members.iter() {
            let Some(c) = tables
                .iter_mut()
                .find(|(t, _)| t == table)
                .and_then(|(_, columns)| columns.iter_mut().find(|c| c.name == *column))
            else {
                continue;
            };
            let mut values = texts(c);
            if subject != Some((table, column)) {
                skew(&mut values, &mut rng);
                for v in values.iter_mut() {
                    if rng.chance(NULLS) {
                        *v = None;
                    }
                }
            }
            let renamed: Vec<Option<String>> =
                values.into_iter().map(|v| v.map(|v| numeric.id(&v))).collect();
            *c = text_column(&c.name, &renamed);
        }
    }
}

/// A column's values as text (null where null).
fn texts(column: &Column) -> Vec<Option<String>> {
    (0..column.len())
        .map(|i| {
            if !column.is_valid(i) {
                return None;
            }
            match &column.values {
                Values::Text(t) => Some(t.get(i).to_string()),
                Values::Dictionary { indices, dictionary } => {
                    Some(dictionary.get(indices[i] as usize).to_string())
                }
                _ => None,
            }
        })
        .collect()
}

fn text_column(name: &str, values: &[Option<String>]) -> Column {
    let text: Text = values.iter().map(|v| v.as_deref().unwrap_or("")).collect();
    let mut column = Column::new(name, Values::Text(text));
    if values.iter().any(Option::is_none) {
        column.validity = Some(Bitmap::from_flags(values.iter().map(Option::is_some)));
    }
    column
}

/// Redraw half of the values that occur once in `values` from all its distinct values, ranked
/// in a seeded order and weighted 1 / rank^1.2.
fn skew(values: &mut [Option<String>], rng: &mut Rng) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for v in values.iter().flatten() {
        *count.entry(v).or_default() += 1;
    }
    let mut distinct: Vec<String> = count.keys().map(|k| k.to_string()).collect();
    distinct.sort_unstable();
    rng.shuffle(&mut distinct);
    let once: HashSet<String> = count.iter().filter(|(_, n)| **n == 1).map(|(k, _)| k.to_string()).collect();
    if distinct.is_empty() {
        return;
    }
    let zipf = Zipf::new(distinct.len(), SKEW);
    for v in values.iter_mut() {
        if v.as_ref().is_some_and(|x| once.contains(x)) && rng.chance(REDRAWN) {
            *v = Some(distinct[zipf.sample(rng)].clone());
        }
    }
}

/// Gives each value of a domain a distinct 20-digit numeric id, the same for the same value.
struct Numeric {
    seed: u64,
    domain: &'static str,
    ids: HashMap<String, String>,
    taken: HashSet<u64>,
}

impl Numeric {
    fn new(seed: u64, domain: &'static str) -> Self {
        Numeric { seed, domain, ids: HashMap::new(), taken: HashSet::new() }
    }

    fn id(&mut self, value: &str) -> String {
        if let Some(id) = self.ids.get(value) {
            return id.clone();
        }
        let mut rng = Rng::new(self.seed, &format!("{} {value}", self.domain));
        // Below 10^19 so that it prints in 19 digits at most; a leading "1" makes 20.
        let mut n = rng.next_u64() % 10_000_000_000_000_000_000;
        while !self.taken.insert(n) {
            n = (n + 1) % 10_000_000_000_000_000_000;
        }
        let id = format!("1{n:019}");
        self.ids.insert(value.to_string(), id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, values: &[&str]) -> Column {
        Column::new(name, Values::Text(values.iter().copied().collect()))
    }

    #[test]
    fn ids_become_numeric_and_stay_joined_across_a_domain() {
        let owners: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
        let debtors: Vec<String> = (0..200).map(|i| format!("p{}", i % 50)).collect();
        fn as_refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let mut tables = vec![
            (
                "enforcement_cases",
                vec![column("case_no", &["c1"; 200]), column("debtor_id", &as_refs(&debtors))],
            ),
            ("registrations", vec![column("owner_id", &as_refs(&owners))]),
        ];
        apply("vehicle-enforcement", Shape::Skewed, 7, &mut tables);
        let values = |t: usize, c: usize| texts(&tables[t].1[c]);
        let owners_after = values(1, 0);
        let nulls = owners_after.iter().filter(|v| v.is_none()).count();
        assert!((5..=40).contains(&nulls), "about a tenth null: {nulls}");
        assert!(
            owners_after.iter().flatten().all(|v| v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()))
        );
        let distinct: HashSet<&String> = owners_after.iter().flatten().collect();
        assert!(distinct.len() < 180, "once-occurring owners were redrawn onto others: {}", distinct.len());
        // The same original value maps to the same id in both tables.
        let mut again = Numeric::new(7, "party");
        let p3 = again.id("p3");
        assert!(values(0, 1).iter().flatten().any(|v| *v == p3));
        // The subject column keeps its rows: no nulls, nothing redrawn.
        assert_eq!(values(0, 0).iter().flatten().count(), 200);
        // Plain leaves everything as it was.
        let mut plain = vec![("registrations", vec![column("owner_id", &["a", "b"])])];
        apply("vehicle-enforcement", Shape::Plain, 7, &mut plain);
        assert_eq!(texts(&plain[0].1[0]), [Some("a".to_string()), Some("b".to_string())]);
    }
}
