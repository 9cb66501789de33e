//! `sieve demo`: the whole platform on every task, through the registry: create a registry,
//! import and approve a generated dataset per task, publish, vet and approve the bundled models,
//! run them as a prosecutor, show the top clue with its evidence, score every run, verify the
//! audit log, and print one table.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::competition::competitions::Transition;
use crate::competition::{BenchmarkRequest, CompetitionRequest};
use crate::generate::{self, Format};
use crate::registry::catalog::ImportRequest;
use crate::registry::plugins::Decision;
use crate::registry::{Actor, Registry, Role};
use crate::runs::store::{ClueOrder, RunRequest};
use crate::sandbox::{Limits, Outcome, Sandbox};
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
    /// End the tour by serving the web UI on this loopback address (default 127.0.0.1:8080) with
    /// the demo's registry, and print tokens for an author, an admin and an organizer.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
    serve: Option<std::net::SocketAddr>,
}

/// Who can sign in to the served demo.
struct DemoTokens {
    admin: String,
    author: String,
    organizer: String,
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
    let (exit, tokens) = runtime.block_on(run_demo(&args, &root, &home))?;
    drop(runtime);
    let Some(addr) = args.serve.filter(|_| exit == 0) else { return Ok(exit) };
    println!(
        "
The web UI: http://{addr}/ (sign in with a token; Ctrl-C stops it)"
    );
    println!("  author (prosecutor of demo-city)  {}", tokens.author);
    println!("  admin (province)                  {}", tokens.admin);
    println!("  organizer (province)              {}", tokens.organizer);
    let registry = super::session::RegistryArgs::default();
    super::serve::serve(&home, &registry, super::serve::ServeArgs::on(addr))
}

async fn run_demo(
    args: &DemoArgs,
    root: &std::path::Path,
    home: &std::path::Path,
) -> anyhow::Result<(i32, DemoTokens)> {
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
            fresh: false,
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
    let organizer_token = competition(&registry, &sandbox, &admin, args, root).await?;
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
    Ok((exit, DemoTokens { admin: admin_token, author: prosecutor_token, organizer: organizer_token }))
}

/// The demo's last act: a competition on T2 between the bundled model and a deliberately weak
/// and an over-broad entry from two other procuratorates, judged on a fresh labelled dataset, the
/// leaderboard printed from the private side with its intervals.
async fn competition(
    registry: &Registry,
    sandbox: &Sandbox,
    admin: &Actor,
    args: &DemoArgs,
    root: &std::path::Path,
) -> anyhow::Result<String> {
    const TASK: &str = "private-lending-fraud";
    println!("\ncompetition  {TASK}: the bundled model against a weak and an over-broad entry");
    let (_, organizer_token) = registry.add_user(admin, "organizer", "province", &[Role::Organizer]).await?;
    let organizer = registry.authenticate(Some(&organizer_token)).await?;
    let data = root.join("lending-benchmark");
    generate::task(TASK)?.write(args.scale, args.seed + 1, &data, Format::Parquet, &|_, _| {})?;
    let request = ImportRequest {
        name: "lending-benchmark",
        dir: &data,
        task: TASK,
        source: "generated",
        restricted: false,
    };
    registry.import_dataset(admin, &request, &|_, _, _| {}).await?;
    registry.set_dataset_state(admin, "lending-benchmark", true).await?;
    let benchmark = BenchmarkRequest {
        split_seed: args.seed,
        ..BenchmarkRequest::new("lending-benchmark", "lending-benchmark")
    };
    let b = registry.create_benchmark(&organizer, &benchmark).await?;
    let cup = CompetitionRequest::new("lending-cup", "lending-benchmark");
    registry.create_competition(&organizer, &cup).await?;
    registry.change_competition(&organizer, "lending-cup", Transition::Open).await?;
    println!(
        "  benchmark {} on {}: {} public / {} private subjects; competition lending-cup open",
        b.name, b.dataset, b.public_subjects, b.private_subjects
    );

    let bundled = crate::bundled::get(TASK).with_context(|| format!("no bundled model for {TASK}"))?;
    let mut entries: Vec<(String, &[u8])> = vec![("demo-city".into(), bundled)];
    for (name, bytes) in crate::bundled::DEMO_ENTRIES {
        let org = format!("{}-office", name.trim_start_matches("demo-lending-"));
        registry.add_org(admin, &org, "province").await?;
        entries.push((org, bytes));
    }
    let at = crate::storage::now_ms();
    for (i, (org, bytes)) in entries.iter().enumerate() {
        let (_, token) = registry.add_user(admin, &format!("entrant-{i}"), org, &[Role::Author]).await?;
        let entrant = registry.authenticate(Some(&token)).await?;
        let (plugin, _) = registry.publish(sandbox, &entrant, bytes, "competition entry").await?;
        if plugin.state != "approved" {
            registry.decide(admin, &plugin.digest, Decision::Approve, "demo entry").await?;
        }
        let s = registry.submit(&entrant, "lending-cup", &plugin.digest, at).await?;
        println!("  {org} submits {} (submission {})", plugin.name, s.id);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    let done = registry.work_queue(sandbox, workers, None, std::sync::Arc::new(|_| {})).await?;
    println!("  {done} submissions run on a pool of {workers} in {:.1} s", started.elapsed().as_secs_f64());
    registry.change_competition(&organizer, "lending-cup", Transition::Close).await?;
    let rescored = registry.rescore(sandbox, &organizer, "lending-cup").await?;
    println!(
        "  rescored: {} of {} reproduced bit for bit",
        rescored.iter().filter(|r| r.reproduced).count(),
        rescored.len()
    );
    let board = registry.finalize(&organizer, "lending-cup", crate::storage::now_ms()).await?;
    println!();
    super::competitions::print_board(&board);
    Ok(organizer_token)
}
