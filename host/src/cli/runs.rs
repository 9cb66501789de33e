//! `sieve runs ...`: list, show, clues (paged), export, release, and review (a prosecutor's
//! verdict on each clue).

use crate::text::escape;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};

use super::session::{RegistryArgs, Session};
use crate::runs::reviews::{Review, Verdict};
use crate::runs::store::{ClueOrder, RunRecord, StoredClue};

/// Export formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One header line, one clue per line; evidence as `table:row` joined by spaces.
    Csv,
    /// One JSON object per clue.
    Jsonl,
}

/// `sieve runs` subcommands.
#[derive(Subcommand)]
pub enum RunsCommand {
    /// List runs you may see (yours; an admin also sees their subtree's).
    List {
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one run's record.
    Show {
        /// Run id.
        run: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a page of a run's clues with their evidence.
    Clues {
        /// Run id.
        run: i64,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: i64,
        /// Clues per page.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        per_page: i64,
        /// Order.
        #[arg(long, value_enum, default_value_t = ClueOrder::Score)]
        sort: ClueOrder,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export all clues of a completed run (restricted datasets: only after `runs release`).
    Export {
        /// Run id.
        run: i64,
        /// Format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Release a run's clues for export (admin).
    Release {
        /// Run id.
        run: i64,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record your verdict on a clue, after verifying it: confirmed (supervision opened),
    /// dismissed (give --reason) or needs-more-data. A later verdict replaces it; the audit log
    /// keeps them all.
    Review {
        /// Run id.
        run: i64,
        /// The clue's subject (a case number, item id, ...), as `runs clues` shows it.
        subject: String,
        /// The verdict.
        #[arg(long, value_enum)]
        verdict: Verdict,
        /// Why (required for dismissed).
        #[arg(long, default_value = "")]
        reason: String,
        /// A note for colleagues.
        #[arg(long, default_value = "")]
        note: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The verdicts given on a run's clues.
    Reviews {
        /// Run id.
        run: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Print verdicts.
fn print_reviews(reviews: &[Review], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reviews)?);
        return Ok(());
    }
    if reviews.is_empty() {
        println!("no verdicts yet (sieve runs review RUN SUBJECT --verdict ...)");
    }
    for r in reviews {
        println!("{:<28} {:<16} {} at {}", escape(&r.subject), r.verdict.name(), r.reviewer, r.reviewed_at);
        for (label, text) in [("reason", &r.reason), ("note", &r.note)] {
            if !text.is_empty() {
                println!("    {label}: {}", escape(text));
            }
        }
    }
    Ok(())
}

fn print_review(r: &Review, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!("run {} {}: {} by {}", r.run, escape(&r.subject), r.verdict.name(), r.reviewer);
    }
    Ok(())
}

/// Print a run record.
pub fn print_run(r: &RunRecord) {
    println!("run          {} ({})", r.id, r.state);
    println!("model        {} {}", escape(&r.model), r.plugin);
    println!(
        "dataset      {} {}{}",
        r.dataset,
        r.dataset_digest,
        if r.restricted { " (restricted)" } else { "" }
    );
    println!("by           {} of {} at {}", r.user, r.org, r.started_at);
    if let Some(o) = &r.outcome {
        println!(
            "outcome      {o}{}",
            r.detail
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default()
        );
    }
    println!("params       {}", r.params);
    println!("clues        {}", r.clues);
    if let (Some(f), Some(m), Some(w)) = (r.fuel, r.peak_memory, r.wall_ms) {
        println!("cost         fuel {f}, peak memory {:.1} MiB, wall {w:.1} ms", m as f64 / (1 << 20) as f64);
    }
    if let Some(d) = &r.output_digest {
        println!("output       {d}");
    }
    if let Some(from) = r.reused_from {
        println!("answered from run {from} (identical: not run again; its clues are this run's)");
    }
    println!("host         sieve {}", r.host_version);
    if let Some(by) = &r.released_by {
        println!("released by  {by}");
    }
}

/// Print clues with their evidence.
pub fn print_clues(clues: &[StoredClue]) {
    for c in clues {
        println!("#{:<5} {:.2}  {:<24} {}", c.seq, c.score, escape(&c.subject), escape(&c.rule));
        println!("       {}", escape(&c.reason));
        println!("       evidence: {}", crate::clues::evidence_text(&c.evidence));
        if let Some(v) = &c.verdict {
            let why = if v.reason.is_empty() { String::new() } else { format!(": {}", escape(&v.reason)) };
            println!("       verdict: {} by {}{why}", v.verdict.name(), v.reviewer);
        }
    }
}

/// Run a `sieve runs` subcommand.
pub fn runs(home: &Path, reg: &RegistryArgs, command: RunsCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_runs(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        RunsCommand::List { limit, json } => {
            let runs = session.act("runs list", |a| async move { registry.runs(&a, limit).await })?;
            print_list(&runs, json)?;
        }
        RunsCommand::Show { run, json } => {
            let r = session.act("runs show", |a| async move { registry.visible_run(&a, run).await })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_run(&r);
            }
        }
        RunsCommand::Clues { run, page, per_page, sort, json } => {
            let clues = session.act("runs clues", |a| async move {
                registry.run_clues(&a, run, sort, page, per_page).await
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clues)?);
            } else if clues.is_empty() {
                println!("no clues on page {page}");
            } else {
                print_clues(&clues);
            }
        }
        RunsCommand::Export { run, format, out } => {
            let clues =
                session.act("runs export", |a| async move { registry.export_clues(&a, run).await })?;
            write_export(&clues, format, out)?;
        }
        RunsCommand::Release { run, note } => {
            let r =
                session.act("runs release", |a| async move { registry.release_run(&a, run, &note).await })?;
            println!("run {} released by {}", r.id, r.released_by.unwrap_or_default());
        }
        RunsCommand::Review { run, subject, verdict, reason, note, json } => {
            let (subject, reason, note) = (&subject, &reason, &note);
            let r = session.act("runs review", |a| async move {
                registry.review_clue(&a, run, subject, verdict, reason, note).await
            })?;
            print_review(&r, json)?;
        }
        RunsCommand::Reviews { run, json } => {
            let reviews =
                session.act("runs reviews", |a| async move { registry.run_reviews(&a, run).await })?;
            print_reviews(&reviews, json)?;
        }
    }
    Ok(0)
}

fn print_list(runs: &[RunRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!(
            "{:>5}  {:<10} {:<30} {:<28} {:>6}  {:<10} started",
            "run", "state", "model", "dataset", "clues", "user"
        );
        for r in runs {
            let from = r.reused_from.map(|from| format!("  (answered from run {from})")).unwrap_or_default();
            println!(
                "{:>5}  {:<10} {:<30} {:<28} {:>6}  {:<10} {}{from}",
                r.id, r.state, r.model, r.dataset, r.clues, r.user, r.started_at
            );
        }
    }
    Ok(())
}

fn write_export(clues: &[StoredClue], format: ExportFormat, out: Option<PathBuf>) -> anyhow::Result<()> {
    let text = match format {
        ExportFormat::Jsonl => {
            clues.iter().map(|c| serde_json::to_string(c).map(|l| l + "\n")).collect::<Result<String, _>>()?
        }
        ExportFormat::Csv => crate::clues::stored_to_csv(clues).map_err(anyhow::Error::msg)?,
    };
    match out {
        None => print!("{text}"),
        Some(path) => {
            // Whole file or nothing under the final name.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("writing {}", path.display()))?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())?;
            tmp.persist(&path).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{} clues -> {}", clues.len(), path.display());
        }
    }
    Ok(())
}

/// The `sieve runs` commands against a server.
fn remote_runs(remote: &super::remote::Remote, command: RunsCommand) -> anyhow::Result<i32> {
    match command {
        RunsCommand::List { limit, json } => {
            let runs: Vec<RunRecord> = remote.json("GET", &format!("/api/runs?limit={limit}"), None)?;
            print_list(&runs, json)?;
        }
        RunsCommand::Show { run, json } => {
            let status: serde_json::Value = remote.json("GET", &format!("/api/runs/{run}"), None)?;
            let r: RunRecord = serde_json::from_value(status["run"].clone())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_run(&r);
            }
        }
        RunsCommand::Clues { run, page, per_page, sort, json } => {
            let sort = match sort {
                ClueOrder::Score => "score",
                ClueOrder::Seq => "seq",
            };
            let clues: Vec<StoredClue> = remote.json(
                "GET",
                &format!("/api/runs/{run}/clues?page={page}&per_page={per_page}&sort={sort}"),
                None,
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clues)?);
            } else if clues.is_empty() {
                println!("no clues on page {page}");
            } else {
                print_clues(&clues);
            }
        }
        RunsCommand::Export { run, format, out } => {
            // JSON lines carry every field: read them back as records and write them as asked.
            let text = remote.text(&format!("/api/runs/{run}/export?format=jsonl"))?;
            let clues = text.lines().map(serde_json::from_str).collect::<Result<Vec<StoredClue>, _>>()?;
            write_export(&clues, format, out)?;
        }
        RunsCommand::Release { run, note } => {
            let r: RunRecord = remote.json(
                "POST",
                &format!("/api/runs/{run}/release"),
                Some(serde_json::json!({ "note": note })),
            )?;
            println!("run {} released by {}", r.id, r.released_by.unwrap_or_default());
        }
        RunsCommand::Review { run, subject, verdict, reason, note, json } => {
            let path = format!("/api/runs/{run}/reviews/{}", super::remote::encode(&subject));
            let body = serde_json::json!({ "verdict": verdict, "reason": reason, "note": note });
            let r: Review = remote.json("PUT", &path, Some(body))?;
            print_review(&r, json)?;
        }
        RunsCommand::Reviews { run, json } => {
            let reviews: Vec<Review> = remote.json("GET", &format!("/api/runs/{run}/reviews"), None)?;
            print_reviews(&reviews, json)?;
        }
    }
    Ok(0)
}
