//! `sieve demo`: for each of the five tasks, generate data, run the bundled model in the sandbox,
//! score its clues, and print one table.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::generate::{self, Format};
use crate::runs::run_on_dir;
use crate::sandbox::{Limits, Outcome, Sandbox};
use crate::scoring;

/// Arguments of `sieve demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Dataset scale (1 is about 10k rows in each task's largest table).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the generated data and clues in this directory instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// Run the demo; exit 0 only if every model completed.
pub fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = args.keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let home = root.join("home");
    std::fs::create_dir_all(&home).context("creating the demo home")?;
    let sandbox = Sandbox::new(Some(home.join("cache").join("compiled")))?;
    println!(
        "Sieve demo: five supervision tasks, scale {}, seed {} (in {})\n",
        args.scale,
        args.seed,
        root.display()
    );

    let mut rows = Vec::new();
    let mut exit = 0;
    for task in generate::TASKS {
        let data = root.join(task.id);
        let counts = task.write(args.scale, args.seed, &data, Format::Parquet, &|_, _| {})?;
        let bytes =
            crate::bundled::get(task.id).with_context(|| format!("no bundled model for {}", task.id))?;
        let report = run_on_dir(&sandbox, bytes, None, &data, &[], &Limits::default(), None);
        let largest = counts.iter().filter(|(t, _)| t != "labels").map(|(_, n)| *n).max().unwrap_or(0);
        if report.outcome != Outcome::Completed {
            println!("{}: {}", task.id, report.outcome);
            exit = report.outcome.exit_code();
            continue;
        }
        std::fs::write(data.join("clues.jsonl"), crate::clues::to_jsonl(&report.clues))?;
        let labels =
            scoring::read_labels(&data.join(crate::datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
        let s = scoring::score(&labels, &report.clues, None);
        let mut top: Vec<&sieve_sdk::Clue> = report.clues.iter().collect();
        top.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.subject.cmp(&b.subject)));
        if let Some(c) = top.first() {
            let evidence: Vec<String> =
                c.evidence.iter().take(4).map(|e| format!("{}#{}", e.table, e.row)).collect();
            println!(
                "{} -- top clue, score {:.2}, rule {}:\n  {}\n  evidence: {}\n",
                task.id,
                c.score,
                c.rule,
                c.reason,
                evidence.join(", ")
            );
        }
        rows.push((task.id, largest, report.clues.len(), s, report.wall.as_secs_f64() * 1e3, report.fuel));
    }

    println!(
        "{:<30} {:>8} {:>6} {:>9} {:>7} {:>6} {:>6} {:>9}",
        "task", "rows", "clues", "precision", "recall", "F0.5", "AP", "wasm ms"
    );
    for (task, largest, clues, s, wall, _) in &rows {
        println!(
            "{task:<30} {largest:>8} {clues:>6} {:>9.3} {:>7.3} {:>6.3} {:>6.3} {wall:>9.1}",
            s.precision, s.recall, s.f0_5, s.average_precision
        );
    }
    if args.keep.is_some() {
        println!("\nkept data, clues and home in {}", root.display());
    }
    Ok(exit)
}
