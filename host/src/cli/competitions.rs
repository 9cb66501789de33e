//! `sieve benchmark ...` and `sieve competition ...`: benchmarks with hidden labels, competitions
//! with phases and quotas, submissions, the queue, leaderboards, finalization and rescoring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::LimitArgs;
use super::session::{RegistryArgs, Session};
use crate::competition::competitions::Transition;
use crate::competition::rescore::Rescored;
use crate::competition::submissions::CompetitionStatus;
use crate::competition::{
    BenchmarkRecord, BenchmarkRequest, Board, CompetitionRecord, CompetitionRequest, SubmissionRecord,
};
use crate::scoring::Metric;
use crate::storage::now_ms;
use crate::text::escape;

/// `sieve benchmark` subcommands.
#[derive(Subcommand)]
pub enum BenchmarkCommand {
    /// Create a benchmark from an approved, labelled dataset (organizer): pins the dataset and
    /// labels digests and splits the subjects into public and private parts by seed.
    Create {
        /// Benchmark name.
        name: String,
        /// Evaluation dataset NAME[@VERSION]; from now on only organizers and admins use it directly.
        #[arg(long)]
        dataset: String,
        /// Primary metric: f0_5, precision, precision_at_k, ap, f1 or recall.
        #[arg(long, default_value = "f0_5", value_parser = parse_metric)]
        metric: Metric,
        /// Review budget k for precision@k (default: the number of labelled subjects).
        #[arg(long)]
        review_budget: Option<usize>,
        /// Share of subjects on the public side (the rest decides the final ranking).
        #[arg(long, default_value_t = 0.3)]
        public_fraction: f64,
        /// Seed of the split (the same seed gives the same split).
        #[arg(long, default_value_t = 1)]
        split_seed: u64,
        /// A second, smaller labelled dataset participants may download with its labels.
        #[arg(long)]
        practice: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List benchmarks.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one benchmark.
    Show {
        /// Benchmark name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a benchmark's practice dataset with its labels (Parquet tables and labels.csv).
    Practice {
        /// Benchmark name.
        name: String,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `sieve competition` subcommands.
#[derive(Subcommand)]
pub enum CompetitionCommand {
    /// Create a competition on a benchmark (organizer). Submissions run under the limit flags
    /// given (default: the registry's run policy).
    Create {
        /// Competition name.
        name: String,
        /// Benchmark to score on.
        #[arg(long)]
        benchmark: String,
        /// Accept submissions from this UTC time (2026-12-01 or 2026-12-01T08:00:00Z), once opened.
        #[arg(long, value_parser = parse_time)]
        opens: Option<i64>,
        /// Stop accepting submissions at this UTC time.
        #[arg(long, value_parser = parse_time)]
        closes: Option<i64>,
        /// Submissions per procuratorate per UTC day (failed runs do not count).
        #[arg(long, default_value_t = 5)]
        daily_limit: u32,
        /// Failed submissions per procuratorate per UTC day.
        #[arg(long, default_value_t = 10)]
        failure_limit: u32,
        /// Submissions each procuratorate may select for the final ranking.
        #[arg(long, default_value_t = 2)]
        final_selections: u32,
        #[command(flatten)]
        limits: LimitArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start accepting submissions (organizer).
    Open {
        /// Competition name.
        name: String,
    },
    /// Stop accepting submissions (organizer).
    Close {
        /// Competition name.
        name: String,
    },
    /// Show a competition, your procuratorate's quota for today, and the queue.
    Show {
        /// Competition name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Submit an approved plugin; waits for it to run and prints its public scores.
    Submit {
        /// Competition name.
        name: String,
        /// Plugin digest or unambiguous prefix.
        plugin: String,
        /// Only queue it; `sieve competition work` (or a later submit) runs it.
        #[arg(long)]
        no_wait: bool,
        /// Submissions run at once across the registry while this command works the queue.
        #[arg(long)]
        workers: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run queued submissions until the queue is empty.
    Work {
        /// Submissions run at once across the registry (default: this machine's cores).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// List submissions (yours; organizers see all; everyone's after finalization).
    Submissions {
        /// Competition name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Select your procuratorate's submissions for the final ranking (default: its best public ones).
    Select {
        /// Competition name.
        name: String,
        /// Submission ids.
        #[arg(required = true)]
        submissions: Vec<i64>,
    },
    /// The leaderboard: public side per procuratorate while open; the final ranking once finalized.
    Leaderboard {
        /// Competition name.
        name: String,
        /// The private side (organizers, before finalization).
        #[arg(long)]
        private: bool,
        /// Every submission, not only each procuratorate's best (organizers).
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rank the private side and store the final leaderboard (organizer; the competition must be closed).
    Finalize {
        /// Competition name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rerun every scored submission; any whose output or scores differ is flagged and unranked.
    Rescore {
        /// Competition name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    Metric::parse(s)
}

/// A UTC time: `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM:SS[Z]`.
fn parse_time(s: &str) -> Result<i64, String> {
    let parsed = if s.len() == 10 {
        sieve_sdk::data::parse_date(s).map(|d| d as i64 * 86_400_000)
    } else {
        sieve_sdk::data::parse_timestamp(s)
    };
    parsed.ok_or_else(|| format!("{s:?} is not a UTC time: use 2026-12-01 or 2026-12-01T08:00:00Z"))
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Run a `sieve benchmark` subcommand.
pub fn benchmark(home: &Path, reg: &RegistryArgs, command: BenchmarkCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_benchmark(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        BenchmarkCommand::Create {
            name,
            dataset,
            metric,
            review_budget,
            public_fraction,
            split_seed,
            practice,
            json,
        } => {
            let request = BenchmarkRequest {
                name: &name,
                dataset: &dataset,
                metric,
                review_budget,
                public_fraction,
                split_seed,
                practice: practice.as_deref(),
            };
            let request = &request;
            let b = session
                .act("benchmark create", |a| async move { registry.create_benchmark(&a, request).await })?;
            print_benchmark_created(&b, json)?;
        }
        BenchmarkCommand::List { json } => {
            let all = session.act("benchmark list", |_| async move { registry.benchmarks().await })?;
            print_benchmarks(&all, json)?;
        }
        BenchmarkCommand::Show { name, json } => {
            let b = session.act("benchmark show", |_| async move { registry.benchmark(&name).await })?;
            print_benchmark(&b, json)?;
        }
        BenchmarkCommand::Practice { name, out } => {
            let out_ref = &out;
            let files = session.act("benchmark practice", |a| async move {
                registry.download_practice(&a, &name, out_ref).await
            })?;
            print_written(&files, &out);
        }
    }
    Ok(0)
}

fn print_benchmark_created(b: &BenchmarkRecord, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(b);
    }
    println!(
        "benchmark {} on {} ({}): {} public and {} private subjects, split seed {}, metric {}, review budget {}",
        b.name,
        b.dataset,
        b.task,
        b.public_subjects,
        b.private_subjects,
        b.split_seed,
        b.metric,
        b.review_budget
    );
    Ok(())
}

fn print_benchmarks(all: &[BenchmarkRecord], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&all);
    }
    println!(
        "{:<24} {:<30} {:<28} {:<8} {:>8} {:>8}",
        "benchmark", "task", "dataset", "metric", "public", "private"
    );
    for b in all {
        println!(
            "{:<24} {:<30} {:<28} {:<8} {:>8} {:>8}",
            b.name, b.task, b.dataset, b.metric, b.public_subjects, b.private_subjects
        );
    }
    Ok(())
}

fn print_benchmark(b: &BenchmarkRecord, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(b);
    }
    println!("benchmark       {} ({}), by {} of {} at {}", b.name, b.task, b.created_by, b.org, b.created_at);
    println!("dataset         {} {}", b.dataset, b.dataset_digest);
    println!("labels          {}", b.labels_digest);
    println!("metric          {} (review budget {})", b.metric, b.review_budget);
    println!(
        "split           {} public / {} private subjects (fraction {}, seed {}, {})",
        b.public_subjects, b.private_subjects, b.public_fraction, b.split_seed, b.split_digest
    );
    println!("practice        {}", b.practice.as_deref().unwrap_or("-"));
    Ok(())
}

fn print_written(files: &[String], out: &Path) {
    println!("{} -> {}: {}", files.len(), out.display(), files.join(", "));
}

fn print_competition_created(c: &CompetitionRecord, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(c);
    }
    println!(
        "competition {} on benchmark {} ({}), {}: open it with `sieve competition open {}`",
        c.name, c.benchmark, c.task, c.state, c.name
    );
    Ok(())
}

fn print_phase(c: &CompetitionRecord) {
    println!("competition {} is {}", c.name, c.phase(now_ms()).as_str());
}

fn print_status(s: &CompetitionStatus, json: bool) -> anyhow::Result<()> {
    let c = &s.competition;
    if json {
        return print_json(&serde_json::json!({
            "competition": c, "phase": s.phase,
            "quota": { "day": s.day, "used": s.quota.counted, "left": s.left_today,
                       "failed": s.quota.failed, "failures_left": s.failures_left, "resets_at": s.resets_at },
            "queue": { "queued": s.queued, "running": s.running },
        }));
    }
    println!("competition     {} on benchmark {} ({}, metric {})", c.name, c.benchmark, c.task, c.metric);
    println!("phase           {} (state {})", s.phase, c.state);
    println!(
        "window          {} to {}",
        c.opens_at.as_deref().unwrap_or("when opened"),
        c.closes_at.as_deref().unwrap_or("when closed")
    );
    println!(
        "your quota      {} of {} submissions left today (UTC {}); {} of {} failures left; resets at {}",
        s.left_today, c.daily_limit, s.day, s.failures_left, c.failure_limit, s.resets_at
    );
    println!("final selection up to {} submissions per procuratorate", c.final_selections);
    println!("queue           {} queued, {} running", s.queued, s.running);
    println!("limits          {}", c.limits);
    Ok(())
}

/// Print a finished submission; the exit status is 1 if it failed.
fn print_submitted(s: &SubmissionRecord, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(s)?;
    } else {
        print_submission(s);
    }
    Ok(if s.state == "failed" { 1 } else { 0 })
}

fn print_submissions(all: &[SubmissionRecord], json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&all)
    } else if all.is_empty() {
        println!("no submissions");
        Ok(())
    } else {
        all.iter().for_each(print_submission);
        Ok(())
    }
}

fn show_board(board: &Board, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(board);
    }
    print_board(board);
    Ok(())
}

/// Print what a rescore found; an error when any submission did not reproduce.
fn print_rescored(found: &[Rescored], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&found);
    }
    for r in found {
        let verdict = if r.reproduced {
            "reproduced bit for bit".to_string()
        } else {
            format!("DIFFERS: {}", r.detail)
        };
        println!(
            "submission {:>4} {:<22} {:<30} run {:>5}: {verdict}",
            r.submission,
            r.org,
            escape(&r.model),
            r.run
        );
    }
    let bad = found.iter().filter(|r| !r.reproduced).count();
    if bad > 0 {
        bail!("{bad} of {} submissions did not reproduce; they are no longer ranked", found.len());
    }
    println!("all {} scored submissions reproduced", found.len());
    Ok(())
}

fn scores_line(s: &SubmissionRecord) -> String {
    match (&s.public, &s.private) {
        (Some(p), Some(q)) => format!(
            "public F0.5 {:.4} [{:.4}, {:.4}]  private F0.5 {:.4} [{:.4}, {:.4}]",
            p.scores.f0_5, p.interval.low, p.interval.high, q.scores.f0_5, q.interval.low, q.interval.high
        ),
        (Some(p), None) => format!(
            "public P {:.4} R {:.4} F0.5 {:.4} AP {:.4}  interval [{:.4}, {:.4}]",
            p.scores.precision,
            p.scores.recall,
            p.scores.f0_5,
            p.scores.average_precision,
            p.interval.low,
            p.interval.high
        ),
        _ => String::new(),
    }
}

fn print_submission(s: &SubmissionRecord) {
    let queue = s.queue_position.map(|q| format!(" (queue position {q})")).unwrap_or_default();
    println!(
        "submission {} to {}: {} {} by {} of {}, {}{queue}{}",
        s.id,
        s.competition,
        escape(&s.model),
        &s.plugin,
        s.user,
        s.org,
        s.state,
        s.outcome.as_deref().filter(|o| *o != "completed").map(|o| format!(" ({o})")).unwrap_or_default()
    );
    let line = scores_line(s);
    if !line.is_empty() {
        println!("  {line}");
    }
    if let Some(d) = &s.detail {
        println!("  detail: {}", escape(d));
    }
}

/// Print a leaderboard.
pub fn print_board(board: &Board) {
    let kind = if board.is_final { "final ranking" } else { "leaderboard" };
    println!(
        "{} {kind}, {} side, {} ({}); * = statistically tied with the leader (95% intervals overlap)",
        board.competition, board.side, board.metric, board.phase
    );
    println!(
        "{:>4}  {:<22} {:<30} {:>8} {:>19} {:>7} {:>7} {:>10}",
        "rank", "procuratorate", "model", board.metric, "95% interval", "P", "R", "fuel"
    );
    for e in &board.entries {
        let rank =
            e.rank.map_or("-".to_string(), |r| format!("{r}{}", if e.tied_with_leader { "*" } else { "" }));
        match (&e.scores, e.primary, e.interval) {
            (Some(s), Some(v), Some(i)) => println!(
                "{rank:>4}  {:<22} {:<30} {v:>8.4} {:>19} {:>7.4} {:>7.4} {:>10.2e}",
                e.org,
                escape(&e.model),
                format!("[{:.4}, {:.4}]", i.low, i.high),
                s.precision,
                s.recall,
                e.fuel.unwrap_or(0.0)
            ),
            _ => println!(
                "{rank:>4}  {:<22} {:<30} {}",
                e.org,
                escape(&e.model),
                e.note.as_deref().unwrap_or("")
            ),
        }
    }
}

/// Run a `sieve competition` subcommand.
pub fn competition(home: &Path, reg: &RegistryArgs, command: CompetitionCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_competition(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        CompetitionCommand::Create {
            name,
            benchmark,
            opens,
            closes,
            daily_limit,
            failure_limit,
            final_selections,
            limits,
            json,
        } => {
            let policy = session.block_on(registry.run_policy())?;
            let request = CompetitionRequest {
                name: &name,
                benchmark: &benchmark,
                opens_at: opens,
                closes_at: closes,
                daily_limit,
                failure_limit,
                final_selections,
                limits: limits.limits_over(&policy)?,
            };
            let request = &request;
            let c = session.act("competition create", |a| async move {
                registry.create_competition(&a, request).await
            })?;
            print_competition_created(&c, json)?;
        }
        CompetitionCommand::Open { name } => {
            let c = session.act("competition open", |a| async move {
                registry.change_competition(&a, &name, Transition::Open).await
            })?;
            print_phase(&c);
        }
        CompetitionCommand::Close { name } => {
            let c = session.act("competition close", |a| async move {
                registry.change_competition(&a, &name, Transition::Close).await
            })?;
            print_phase(&c);
        }
        CompetitionCommand::Show { name, json } => {
            let status = session.act("competition show", |a| async move {
                registry.competition_status(&a, &name, now_ms()).await
            })?;
            print_status(&status, json)?;
        }
        CompetitionCommand::Submit { name, plugin, no_wait, workers, json } => {
            let at = now_ms();
            let s = session.act("competition submit", |a| async move {
                registry.submit(&a, &name, &plugin, at).await
            })?;
            let s = if no_wait {
                s
            } else {
                eprintln!("submission {} queued; running it", s.id);
                let sandbox = super::sandbox(home)?;
                let pool = workers.unwrap_or_else(default_workers);
                session.block_on(registry.work_queue(&sandbox, pool, Some(s.id), Arc::new(|_| {})))?;
                let id = s.id;
                session.act("competition submissions", |a| async move {
                    let all = registry.submissions(&a, &s.competition).await?;
                    all.into_iter().find(|x| x.id == id).ok_or(crate::registry::RegistryError::NotFound {
                        kind: "submission",
                        id: id.to_string(),
                    })
                })?
            };
            return print_submitted(&s, json);
        }
        CompetitionCommand::Work { workers } => {
            let sandbox = super::sandbox(home)?;
            let pool = workers.unwrap_or_else(default_workers);
            let started = std::time::Instant::now();
            let done = session.block_on(registry.work_queue(
                &sandbox,
                pool,
                None,
                Arc::new(|s: &SubmissionRecord| {
                    eprintln!(
                        "submission {} ({} of {}): {}",
                        s.id,
                        s.model,
                        s.org,
                        s.outcome.as_deref().unwrap_or(&s.state)
                    );
                }),
            ))?;
            println!(
                "{done} submissions run with {pool} workers in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        CompetitionCommand::Submissions { name, json } => {
            let all = session
                .act("competition submissions", |a| async move { registry.submissions(&a, &name).await })?;
            print_submissions(&all, json)?;
        }
        CompetitionCommand::Select { name, submissions } => {
            let ids = &submissions;
            let chosen = session.act("competition select", |a| async move {
                registry.select_submissions(&a, &name, ids).await
            })?;
            println!("selected for the final ranking: {chosen:?}");
        }
        CompetitionCommand::Leaderboard { name, private, all, json } => {
            let at = now_ms();
            let board = session.act("competition leaderboard", |a| async move {
                registry.leaderboard(&a, &name, private, all, at).await
            })?;
            show_board(&board, json)?;
        }
        CompetitionCommand::Finalize { name, json } => {
            let at = now_ms();
            let board = session
                .act("competition finalize", |a| async move { registry.finalize(&a, &name, at).await })?;
            show_board(&board, json)?;
        }
        CompetitionCommand::Rescore { name, json } => {
            let sandbox = super::sandbox(home)?;
            let sandbox = &sandbox;
            let found = session
                .act("competition rescore", |a| async move { registry.rescore(sandbox, &a, &name).await })?;
            print_rescored(&found, json)?;
        }
    }
    Ok(0)
}

/// The benchmark commands against a server.
fn remote_benchmark(remote: &super::remote::Remote, command: BenchmarkCommand) -> anyhow::Result<i32> {
    use super::remote::encode;
    match command {
        BenchmarkCommand::List { json } => {
            let all: Vec<BenchmarkRecord> = remote.json("GET", "/api/benchmarks", None)?;
            print_benchmarks(&all, json)?;
        }
        BenchmarkCommand::Show { name, json } => {
            let b: BenchmarkRecord =
                remote.json("GET", &format!("/api/benchmarks/{}", encode(&name)), None)?;
            print_benchmark(&b, json)?;
        }
        BenchmarkCommand::Create {
            name,
            dataset,
            metric,
            review_budget,
            public_fraction,
            split_seed,
            practice,
            json,
        } => {
            let body = serde_json::json!({
                "name": name, "dataset": dataset, "metric": metric.as_str(), "review_budget": review_budget,
                "public_fraction": public_fraction, "split_seed": split_seed, "practice": practice,
            });
            let b: BenchmarkRecord = remote.json("POST", "/api/benchmarks", Some(body))?;
            print_benchmark_created(&b, json)?;
        }
        BenchmarkCommand::Practice { name, out } => {
            crate::competition::benchmarks::require_empty_dir(&out)?;
            let bytes = remote.bytes(&format!("/api/benchmarks/{}/practice", encode(&name)))?;
            let mut files = Vec::new();
            for entry in tar::Archive::new(bytes.as_slice()).entries()? {
                let mut entry = entry?;
                let file = entry.path()?.to_string_lossy().into_owned();
                if file.contains('/') || file.starts_with('.') {
                    bail!("the server sent an archive entry {file:?} outside the directory");
                }
                let mut content = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut content)?;
                files.push((file, content));
            }
            let written = crate::competition::benchmarks::write_files(&out, &files)?;
            print_written(&written, &out);
        }
    }
    Ok(0)
}

/// The competition commands against a server: the queue is the server's, so `submit` follows the
/// submission until the server's workers have scored it.
fn remote_competition(remote: &super::remote::Remote, command: CompetitionCommand) -> anyhow::Result<i32> {
    use super::remote::encode;
    match command {
        CompetitionCommand::Open { name } => {
            let c: CompetitionRecord =
                remote.json("POST", &format!("/api/competitions/{}/open", encode(&name)), None)?;
            print_phase(&c);
        }
        CompetitionCommand::Close { name } => {
            let c: CompetitionRecord =
                remote.json("POST", &format!("/api/competitions/{}/close", encode(&name)), None)?;
            print_phase(&c);
        }
        CompetitionCommand::Show { name, json } => {
            let status: CompetitionStatus =
                remote.json("GET", &format!("/api/competitions/{}", encode(&name)), None)?;
            print_status(&status, json)?;
        }
        CompetitionCommand::Submit { name, plugin, no_wait, json, .. } => {
            let s: SubmissionRecord = remote.json(
                "POST",
                &format!("/api/competitions/{}/submissions", encode(&name)),
                Some(serde_json::json!({ "plugin": plugin })),
            )?;
            let mut s = s;
            while !no_wait && (s.state == "queued" || s.state == "running") {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let all: Vec<SubmissionRecord> =
                    remote.json("GET", &format!("/api/competitions/{}/submissions", encode(&name)), None)?;
                s = all.into_iter().find(|x| x.id == s.id).context("the submission disappeared")?;
            }
            return print_submitted(&s, json);
        }
        CompetitionCommand::Submissions { name, json } => {
            let all: Vec<SubmissionRecord> =
                remote.json("GET", &format!("/api/competitions/{}/submissions", encode(&name)), None)?;
            print_submissions(&all, json)?;
        }
        CompetitionCommand::Select { name, submissions } => {
            let chosen: Vec<i64> = remote.json(
                "PUT",
                &format!("/api/competitions/{}/selection", encode(&name)),
                Some(serde_json::json!({ "submissions": submissions })),
            )?;
            println!("selected for the final ranking: {chosen:?}");
        }
        CompetitionCommand::Leaderboard { name, private, all, json } => {
            let board: Board = remote.json(
                "GET",
                &format!("/api/competitions/{}/leaderboard?private={private}&all={all}", encode(&name)),
                None,
            )?;
            show_board(&board, json)?;
        }
        CompetitionCommand::Finalize { name, json } => {
            let board: Board =
                remote.json("POST", &format!("/api/competitions/{}/finalize", encode(&name)), None)?;
            show_board(&board, json)?;
        }
        CompetitionCommand::Rescore { name, json } => {
            let found: Vec<Rescored> =
                remote.json("POST", &format!("/api/competitions/{}/rescore", encode(&name)), None)?;
            print_rescored(&found, json)?;
        }
        CompetitionCommand::Create {
            name,
            benchmark,
            opens,
            closes,
            daily_limit,
            failure_limit,
            final_selections,
            limits,
            json,
        } => {
            let time = |ms: Option<i64>| ms.map(|ms| format!("{}Z", sieve_sdk::data::format_timestamp(ms)));
            let body = serde_json::json!({
                "name": name, "benchmark": benchmark, "opens_at": time(opens), "closes_at": time(closes),
                "daily_limit": daily_limit, "failure_limit": failure_limit, "final_selections": final_selections,
                "limits": limits.overrides_json(),
            });
            let c: CompetitionRecord = remote.json("POST", "/api/competitions", Some(body))?;
            print_competition_created(&c, json)?;
        }
        CompetitionCommand::Work { .. } => return Err(super::remote::local_only("competition work")),
    }
    Ok(0)
}
