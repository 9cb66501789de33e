//! `sieve demo`: generate T1 data, run the bundled model in the sandbox, score the clues.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::generate::{self, Format};
use crate::runs::run_on_dir;
use crate::sandbox::{Limits, Outcome, Sandbox};
use crate::scoring;

const TASK: &str = "vehicle-insurance-fraud";

/// Arguments of `sieve demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Dataset scale (1 is about 10k judgments).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the generated data and clues in this directory instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// Run the demo; exit 0 only if the model completed.
pub fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = args.keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let (home, data) = (root.join("home"), root.join("data"));
    println!("Sieve demo: {TASK}, scale {}, seed {} (in {})", args.scale, args.seed, root.display());

    let counts = generate::task(TASK)?.write(args.scale, args.seed, &data, Format::Parquet, &|_, _| {})?;
    let summary: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("1. generated   {}", summary.join(", "));

    std::fs::create_dir_all(home.join("cache")).context("creating the demo home")?;
    let sandbox = Sandbox::new(Some(home.join("cache").join("compiled")))?;
    let bytes = crate::bundled::get(TASK).context("the T1 model is not bundled")?;
    let report = run_on_dir(&sandbox, bytes, None, &data, &[], &Limits::default(), None);
    println!(
        "2. ran model   {} -> {} ({} clues, {:.0} ms in the sandbox, {:.0} MiB peak, fuel {})",
        report.plugin_digest,
        report.outcome,
        report.clues.len(),
        report.wall.as_secs_f64() * 1e3,
        report.peak_memory_bytes as f64 / (1 << 20) as f64,
        report.fuel
    );
    if report.outcome != Outcome::Completed {
        return Ok(report.outcome.exit_code());
    }
    let mut top: Vec<&sieve_sdk::Clue> = report.clues.iter().collect();
    top.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.subject.cmp(&b.subject)));
    if let Some(c) = top.first() {
        let rows: Vec<String> = c.evidence.iter().map(|e| format!("{}#{}", e.table, e.row)).collect();
        println!("   top clue     {} score {:.2}: {}", c.subject, c.score, c.reason);
        println!("   evidence     {}", rows.join(", "));
    }
    let clues_file = root.join("clues.jsonl");
    std::fs::write(&clues_file, crate::clues::to_jsonl(&report.clues))?;
    let labels =
        scoring::read_labels(&data.join(crate::datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
    let s = scoring::score(&labels, &report.clues, None);
    println!(
        "3. scored      precision {:.3}  recall {:.3}  F0.5 {:.3}  P@{} {:.3}  AP {:.3}",
        s.precision, s.recall, s.f0_5, s.k, s.precision_at_k, s.average_precision
    );
    if args.keep.is_some() {
        println!("kept data, clues and home in {}", root.display());
    }
    Ok(0)
}
