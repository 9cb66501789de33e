//! Synthetic datasets for the supervision tasks of DOMAIN.md: deterministic by seed and scale,
//! with planted patterns, near misses, noise, and `labels.csv`.

pub mod copyright;
pub mod courts;
pub mod false_mediation;
pub mod ids;
pub mod judicial_auction;
pub mod private_lending;
pub mod restricted_travel;
pub mod rng;
pub mod shape;
pub mod table;
pub mod truth;
pub mod vehicle_enforcement;
pub mod vehicle_insurance;

use std::path::Path;

use anyhow::Context as _;
use sieve_sdk::data::{civil_from_days, days_from_civil};

use crate::datasets::LABELS_FILE;
use rng::Rng;
pub use shape::Shape;
pub use table::Format;
use table::TableOut;

/// A generated dataset: its tables (labels come from the task's [`Truth`] on the finished tables).
pub struct Generated {
    /// Tables in contract order.
    pub tables: Vec<TableOut>,
}

impl Generated {
    /// The finished tables, as a labeller reads them.
    pub fn finish(self) -> Vec<(&'static str, Vec<sieve_sdk::data::Column>)> {
        self.tables.into_iter().map(|t| (t.name, t.finish())).collect()
    }
}

/// A task the generator knows.
pub struct TaskInfo {
    /// DOMAIN.md task id.
    pub id: &'static str,
    /// One line on what it plants.
    pub summary: &'static str,
    generate: fn(u32, u64) -> Generated,
    /// The contract's true clues in the finished tables, decided from DOMAIN.md's definition
    /// rather than from what was planted, so a case planted as a near miss that happens to meet
    /// the definition is labelled, and a planted case that misses it is not.
    truth: Truth,
}

/// Decides a task's labels from its finished tables: (subject, pattern) per true clue, in any
/// order (`TaskInfo::write` sorts them and drops repeats).
pub type Truth = fn(&truth::Tables<'_>) -> Vec<(String, String)>;

/// Every task with a generator.
pub const TASKS: &[TaskInfo] = &[
    TaskInfo {
        id: "vehicle-insurance-fraud",
        summary: "T1 judgments, vehicles, employment, businesses; plants repair-shop rings (subject: case_no)",
        generate: vehicle_insurance::generate,
        truth: vehicle_insurance::truth,
    },
    TaskInfo {
        id: "private-lending-fraud",
        summary: "T2 lending_cases, enforcement; plants professional lenders (subject: case_no)",
        generate: private_lending::generate,
        truth: private_lending::truth,
    },
    TaskInfo {
        id: "false-mediation-confirmation",
        summary: "T3 confirmations, enforcement, mediation_subsidies; plants forged confirmations (subject: case_no)",
        generate: false_mediation::generate,
        truth: false_mediation::truth,
    },
    TaskInfo {
        id: "judicial-auction-violations",
        summary: "T4 auctions, bids, priority_claims, relations; plants short notice, missing documents, \
                  futile auctions, related buyers (subject: item_id)",
        generate: judicial_auction::generate,
        truth: judicial_auction::truth,
    },
    TaskInfo {
        id: "restricted-debtor-travel",
        summary: "T5 restrictions, travel, passports; plants debtors travelling while restricted, directly \
                  or on another passport (subject: debtor_id)",
        generate: restricted_travel::generate,
        truth: restricted_travel::truth,
    },
    TaskInfo {
        id: "vehicle-enforcement",
        summary: "T6 enforcement_cases, registrations, seizures, traffic_events, relations; plants seized cars \
                  still driven, no-assets closures over a car, transfers to relatives, stale seizures \
                  (subject: case_no)",
        generate: vehicle_enforcement::generate,
        truth: vehicle_enforcement::truth,
    },
    TaskInfo {
        id: "copyright-harvesting",
        summary: "T7 registrations, ip_cases, prior_use; plants agencies and plaintiffs suing vendors on works \
                  used before their claimed creation (subject: case_no)",
        generate: copyright::generate,
        truth: copyright::truth,
    },
];

/// The task called `id`; the error lists the known ones.
pub fn task(id: &str) -> anyhow::Result<&'static TaskInfo> {
    TASKS.iter().find(|t| t.id == id).ok_or_else(|| {
        let known: Vec<&str> = TASKS.iter().map(|t| t.id).collect();
        anyhow::anyhow!("unknown task {id:?}; known tasks: {}", known.join(", "))
    })
}

impl TaskInfo {
    /// Generate at `scale` with `seed` and write the tables and `labels.csv` into `out`
    /// (created if needed). Files appear whole: each is written to a temporary name first.
    /// `progress` is called with (tables written, tables in all).
    pub fn write(
        &self,
        scale: u32,
        seed: u64,
        out: &Path,
        format: Format,
        progress: &dyn Fn(usize, usize),
    ) -> anyhow::Result<Vec<(String, usize)>> {
        self.write_shaped(scale, seed, Shape::Plain, out, format, progress)
    }

    /// [`TaskInfo::write`], with the tables reshaped as `shape` says before they are labelled.
    pub fn write_shaped(
        &self,
        scale: u32,
        seed: u64,
        shape: Shape,
        out: &Path,
        format: Format,
        progress: &dyn Fn(usize, usize),
    ) -> anyhow::Result<Vec<(String, usize)>> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let generated = (self.generate)(scale, seed);
        let total = generated.tables.len() + 1;
        let mut finished = generated.finish();
        shape::apply(self.id, shape, seed, &mut finished);
        let mut labels = (self.truth)(&finished);
        labels.sort();
        labels.dedup();
        let mut counts = Vec::new();
        for (i, (name, columns)) in finished.iter().enumerate() {
            let (name, rows) = (*name, columns.first().map_or(0, sieve_sdk::data::Column::len));
            let staging = tempfile::tempdir_in(out)?;
            table::write(staging.path(), name, columns, format)?;
            let ext = match format {
                Format::Parquet => "parquet",
                Format::Csv => "csv",
            };
            let file = format!("{name}.{ext}");
            std::fs::rename(staging.path().join(&file), out.join(&file))
                .with_context(|| format!("writing {}", out.join(&file).display()))?;
            counts.push((name.to_string(), rows));
            progress(i + 1, total);
        }
        let label_count = labels.len();
        let mut writer = csv::Writer::from_path(out.join(LABELS_FILE))?;
        writer.write_record(["subject", "pattern"])?;
        for (subject, pattern) in &labels {
            writer.write_record([subject, pattern])?;
        }
        writer.flush()?;
        counts.push(("labels".to_string(), label_count));
        progress(total, total);
        Ok(counts)
    }
}

/// A pseudo place name for the i-th court, shop or firm (stable across seeds).
pub fn place_name(i: usize) -> String {
    const A: [&str; 16] =
        ["西", "东", "南", "北", "上", "下", "新", "古", "临", "长", "清", "永", "安", "富", "余", "海"];
    const B: [&str; 16] =
        ["湖", "城", "江", "山", "塘", "桥", "溪", "平", "阳", "宁", "兴", "杭", "浦", "林", "岭", "港"];
    let mut name = format!("{}{}", A[i % 16], B[(i / 16) % 16]);
    if i >= 256 {
        name.push_str(&(i / 256).to_string());
    }
    name
}

/// Swap two adjacent characters of a name (a typo; ids are never misspelled).
pub fn misspell(name: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() >= 2 {
        let i = rng.below(chars.len() - 1);
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

/// The first day of `day`'s month.
pub fn month_floor(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    days_from_civil(y, m, 1)
}

/// The first day of the month after `day`'s.
pub fn next_month(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    if m == 12 { days_from_civil(y + 1, 1, 1) } else { days_from_civil(y, m + 1, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file `task` writes for `seed`, by name.
    fn files(task: &TaskInfo, seed: u64) -> Vec<(String, Vec<u8>)> {
        let dir = tempfile::tempdir().expect("temp dir");
        task.write(1, seed, dir.path(), Format::Csv, &|_, _| {}).expect("generates");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
            .expect("listing")
            .map(|e| {
                let path = e.expect("entry").path();
                let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_string();
                (name, std::fs::read(&path).expect("file"))
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_task_with_a_contract_has_a_generator_and_a_bundled_model() {
        let generated: Vec<&str> = TASKS.iter().map(|t| t.id).collect();
        assert_eq!(generated, crate::datasets::contract::TASKS);
        for task in generated {
            assert!(crate::bundled::get(task).is_some(), "no bundled model for {task}");
        }
    }

    #[test]
    fn every_generator_is_deterministic_by_seed_and_writes_every_contract_table() {
        for task in TASKS {
            let (a, b, c) = (files(task, 5), files(task, 5), files(task, 6));
            assert_eq!(a, b, "{}: the same seed gave different bytes", task.id);
            assert_ne!(a, c, "{}: another seed gave the same bytes", task.id);
            let mut expected: Vec<String> = crate::datasets::contract::tables(task.id)
                .expect("a contract")
                .iter()
                .map(|t| format!("{}.csv", t.name))
                .collect();
            expected.push(crate::datasets::LABELS_FILE.to_string());
            expected.sort();
            let names: Vec<&String> = a.iter().map(|(n, _)| n).collect();
            assert_eq!(names, expected.iter().collect::<Vec<_>>(), "{}", task.id);
        }
    }
}
