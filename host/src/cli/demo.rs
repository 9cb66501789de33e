//! `sieve demo`: the whole platform on every task, through the registry: create a registry,
//! import and approve a generated dataset per task, publish, vet and approve the bundled models,
//! run them as a prosecutor, show the top clue with its evidence, score every run, verify the
//! audit log, and print one table.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::generate::{self, Format};
use crate::registry::catalog::ImportRequest;
use crate::registry::plugins::Decision;
use crate::registry::{Registry, Role};
use crate::runs::store::{ClueOrder, RunRequest};
use crate::sandbox::{Limits, Outcome};
use crate::{audit, scoring};

/// Arguments of `sieve demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Dataset scale (1 is about 10k rows in each task's largest table).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the generated data and the demo registry in this directory instead of a temporary one
    /// (then explore it: SIEVE_HOME=DIR/home SIEVE_TOKEN=... sieve runs list).
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// Run the demo; exit 0 only if every model completed.
pub fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = args.keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let home = root.join("home");
    if home.join(crate::storage::SQLITE_FILE).exists() {
        anyhow::bail!("{} already holds a demo registry: --keep a new directory", home.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run_demo(&args, &root, &home))
}

async fn run_demo(args: &DemoArgs, root: &std::path::Path, home: &std::path::Path) -> anyhow::Result<i32> {
    let registry = Registry::open(home, None).await?;
    let sandbox = super::sandbox(home)?;
    println!(
        "Sieve demo: {} supervision tasks, scale {}, seed {} (in {})\n",
        generate::TASKS.len(),
        args.scale,
        args.seed,
        root.display()
    );

    let admin_token = registry.init("province", "admin").await?;
    let admin = registry.authenticate(Some(&admin_token)).await?;
    registry.add_org(&admin, "demo-city", "province").await?;
    let (_, prosecutor_token) = registry.add_user(&admin, "prosecutor", "demo-city", &[Role::Author]).await?;
    let prosecutor = registry.authenticate(Some(&prosecutor_token)).await?;
    println!("registry     province > demo-city; admin and prosecutor (author) signed in\n");

    let mut rows = Vec::new();
    let mut exit = 0;
    for task in generate::TASKS {
        let data = root.join(task.id);
        task.write(args.scale, args.seed, &data, Format::Parquet, &|_, _| {})?;
        let request = ImportRequest {
            name: task.id,
            dir: &data,
            task: task.id,
            source: "generated",
            restricted: false,
        };
        let imported = registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
        registry.set_dataset_state(&admin, task.id, true).await?;
        registry.grant_dataset(&admin, task.id, "demo-city").await?;

        let bytes =
            crate::bundled::get(task.id).with_context(|| format!("no bundled model for {}", task.id))?;
        let (plugin, _) = registry.publish(&sandbox, &prosecutor, bytes, "bundled with sieve").await?;
        let vetting = plugin.vetting.as_ref().map_or("not vetted".to_string(), |v| {
            format!("{} checks {}", v.findings.len(), if v.passed { "passed" } else { "FAILED" })
        });
        registry.decide(&admin, &plugin.digest, Decision::Approve, "demo").await?;

        let request = RunRequest {
            plugin: &plugin.digest,
            dataset: task.id,
            settings: &[],
            limits: &Limits::default(),
        };
        let (run, report) = registry.run(&sandbox, &prosecutor, &request, None).await?;
        println!(
            "{}\n  dataset {}@{} ({} rows) approved; plugin {} published, vetting {}, approved; run {} {}",
            task.id,
            imported.dataset.name,
            imported.dataset.version,
            imported.dataset.tables.iter().map(|t| t.rows).sum::<i64>(),
            &plugin.digest[..19],
            vetting,
            run.id,
            report.outcome.code(),
        );
        if report.outcome != Outcome::Completed {
            exit = report.outcome.exit_code();
            continue;
        }
        if let Some(c) = registry.run_clues(&prosecutor, run.id, ClueOrder::Score, 1, 1).await?.first() {
            let evidence: Vec<String> = c
                .evidence
                .as_array()
                .into_iter()
                .flatten()
                .take(4)
                .map(|e| format!("{}#{}", e["table"].as_str().unwrap_or("?"), e["row"]))
                .collect();
            println!(
                "  top clue {:.2} {} {}: {}\n  evidence {}\n",
                c.score,
                c.rule,
                c.subject,
                c.reason,
                evidence.join(", ")
            );
        }
        let labels =
            scoring::read_labels(&data.join(crate::datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
        let s = scoring::score(&labels, &report.clues, None);
        rows.push((task.id, run.id, report.clues.len(), s, report.wall.as_secs_f64() * 1e3));
    }

    println!(
        "{:<30} {:>4} {:>6} {:>9} {:>7} {:>6} {:>6} {:>9}",
        "task", "run", "clues", "precision", "recall", "F0.5", "AP", "wasm ms"
    );
    for (task, run, clues, s, wall) in &rows {
        println!(
            "{task:<30} {run:>4} {clues:>6} {:>9.3} {:>7.3} {:>6.3} {:>6.3} {wall:>9.1}",
            s.precision, s.recall, s.f0_5, s.average_precision
        );
    }
    let key = audit::signing::AuditKey::load_or_create(home)?;
    audit::signing::seal(&registry.db, &key).await?;
    let public = audit::signing::public_key(&key.public_hex()).map_err(anyhow::Error::msg)?;
    match audit::verify(&registry.db, &public, None).await? {
        audit::Verdict::Intact { events, .. } => {
            println!("\naudit log intact: {events} hash-chained events, signed")
        }
        audit::Verdict::Broken { seq, reason } => {
            println!("\naudit log BROKEN at event {seq}: {reason}");
            exit = 5;
        }
    }
    if args.keep.is_some() {
        println!(
            "kept data and registry in {}: SIEVE_HOME={} SIEVE_TOKEN={admin_token} sieve runs list",
            root.display(),
            home.display()
        );
    }
    registry.db.close().await;
    Ok(exit)
}
