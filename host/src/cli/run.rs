//! `sieve run`: run a component on a dataset directory, print the top clues and the run report.

use crate::text::escape;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;

use super::session::{RegistryArgs, Session};
use super::{LimitArgs, component_bytes, progress_bar, sandbox};
use crate::runs::store::RunRequest;
use crate::runs::{RunReport, RunSummary, run_on_dir};
use crate::sandbox::Outcome;

/// Arguments of `sieve run`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["data", "dataset"])))]
pub struct RunArgs {
    /// With --data: a component file or bundled model name. With --dataset: a registered
    /// plugin's digest or unambiguous prefix.
    component: String,
    /// Dataset directory (one CSV or Parquet file per table): an ad hoc run, nothing is recorded.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Registered dataset NAME[@version]: the plugin must be approved and the dataset approved and
    /// granted to you; the run and its clues are stored (see `sieve runs`).
    #[arg(long)]
    dataset: Option<String>,
    /// Set a model parameter (repeatable): --param min-pair-cases=6.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_setting)]
    params: Vec<(String, String)>,
    /// Refuse to run unless the component's sha256 is this (sha256:<hex>).
    #[arg(long, value_parser = crate::digest::parse_digest)]
    expect_digest: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Write every clue as JSON lines to this file (only if the run completed).
    #[arg(long)]
    out: Option<PathBuf>,
    /// How many clues to show in the table.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// With --dataset: run the model even if an identical run (same plugin, dataset version,
    /// parameters and limits, same sieve build) completed before. Without it, such a rerun is
    /// answered from that run's outcome and clues, since a model sees nothing else.
    #[arg(long)]
    fresh: bool,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (k, v) = text.split_once('=').ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    Ok((k.trim().to_string(), v.to_string()))
}

fn progress() -> (indicatif::ProgressBar, crate::sandbox::state::ProgressFn) {
    let bar = progress_bar("{spinner} model progress [{bar:30}] {pos}/{len} {elapsed}");
    let observer = bar.clone();
    let on_progress: crate::sandbox::state::ProgressFn = Box::new(move |done, total| {
        observer.set_length(total);
        observer.set_position(done);
    });
    (bar, on_progress)
}

/// What `component` names to run ad hoc: a component's bytes; or, for a SQL model (`.sql`), its
/// package for the SQL engine (see [`crate::runs::sql_model::package`]) and the engine's file
/// (`SIEVE_SQL_ENGINE`, or the one this checkout built), hashed here and read only if the code
/// cache does not hold the engine.
pub(super) fn model_bytes(component: &str) -> anyhow::Result<(Vec<u8>, Option<PathBuf>)> {
    if !crate::runs::sql_model::is_sql_model(component) {
        return Ok((component_bytes(component)?, None));
    }
    let text = component_bytes(component)?;
    let text =
        String::from_utf8(text).with_context(|| format!("the SQL model {component} is not UTF-8 text"))?;
    let source = crate::runs::sql_model::source(&text).map_err(|e| anyhow::anyhow!("{component}: {e}"))?;
    let engine = crate::runs::sql_model::engine_path();
    let digest = crate::digest::digest_of_file(&engine).with_context(|| {
        format!(
            "reading the SQL engine {} (build it with scripts/build-sql-engine.sh, or set SIEVE_SQL_ENGINE)",
            engine.display()
        )
    })?;
    let package = crate::runs::sql_model::package(&digest, &source);
    Ok((package, Some(engine)))
}

/// Run and report; the exit status encodes the outcome.
pub fn run(home: PathBuf, registry: &RegistryArgs, args: RunArgs) -> anyhow::Result<i32> {
    // A stored run through a server touches nothing here: no home, no compiled-code cache.
    if let (Some(remote), Some(dataset)) = (registry.remote()?, &args.dataset) {
        return remote_run(&remote, &args, dataset);
    }
    if args.fresh && args.dataset.is_none() {
        anyhow::bail!("--fresh is for a stored run (--dataset): a run on --data always runs the model");
    }
    let limits = args.limits.limits()?;
    let sandbox = sandbox(&home)?;
    let (bar, on_progress) = progress();
    let report = match (&args.data, &args.dataset) {
        (Some(dir), _) => {
            let (bytes, engine) = model_bytes(&args.component)?;
            run_on_dir(
                &sandbox,
                &bytes,
                crate::runs::engine_file(engine),
                args.expect_digest.as_deref(),
                dir,
                &args.params,
                &limits,
                Some(on_progress),
            )
        }
        (None, Some(dataset)) => {
            let mut session = Session::open(&home, registry)?;
            // One run, then the process ends: nothing it read is worth keeping for a next run.
            session.registry.decoded = std::sync::Arc::new(crate::registry::decoded::Decoded::with_cap(0));
            let reg = &session.registry;
            // Limits left out come from the registry's run policy, which none may exceed.
            let limits = args.limits.limits_over(&session.block_on(reg.run_policy())?)?;
            let sandbox = &sandbox;
            let request = RunRequest {
                plugin: &args.component,
                dataset,
                settings: &args.params,
                limits: &limits,
                fresh: args.fresh,
            };
            let request = &request;
            let result =
                session.act("run", |a| async move { reg.run(sandbox, &a, request, Some(on_progress)).await });
            bar.finish_and_clear();
            let (record, report) = result?;
            if !args.json {
                println!(
                    "stored as run {} (sieve runs show {} / sieve runs clues {})",
                    record.id, record.id, record.id
                );
            }
            report
        }
        (None, None) => anyhow::bail!("give --data DIR or --dataset NAME"),
    };
    bar.finish_and_clear();
    if let (Some(out), Some((_, why))) = (&args.out, &report.held) {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report.summary())?);
        } else {
            print_local(&report, args.top);
        }
        eprintln!("error: {} was not written: {why}", out.display());
        return Ok(crate::registry::RegistryError::Denied(String::new()).exit_code());
    }
    // Clues of a run that did not complete are partial: they are reported, never written.
    if let Some(out) = args.out.as_ref().filter(|_| report.outcome == Outcome::Completed) {
        // Written whole or not at all: a crash leaves no half file under the final name.
        let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing {}", out.display()))?;
        std::io::Write::write_all(&mut tmp, crate::clues::to_jsonl(&report.clues).as_bytes())?;
        tmp.persist(out).with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.summary())?);
    } else {
        print_local(&report, args.top);
    }
    Ok(report.outcome.exit_code())
}

/// One row of the top-clues table: score, subject, rule, reason.
type TopClue<'a> = (f64, &'a str, &'a str, &'a str);

/// The top clues (highest score first, as given) and the run summary: the same text for a local
/// run and for a stored run read back from a server.
fn print_report(summary: &RunSummary, top: &[TopClue<'_>], shown: usize) {
    if !top.is_empty() {
        println!("{:>5}  {:<28} {:<20} reason", "score", "subject", "rule");
        for (score, subject, rule, reason) in top.iter().take(shown) {
            let reason = crate::text::prefix(reason, 100);
            println!("{score:>5.2}  {:<28} {:<20} {reason}", escape(subject), escape(rule));
        }
        if summary.held.is_none() && summary.clues > shown.min(top.len()) {
            println!("... and {} more (use --out FILE for all)", summary.clues - shown.min(top.len()));
        }
        println!();
    }
    if let Some(m) = &summary.model {
        println!("model        {} {} ({})", escape(&m.name), escape(&m.version), escape(&m.task));
    }
    if summary.detail.is_empty() {
        println!("outcome      {}", summary.outcome);
    } else {
        println!("outcome      {}: {}", summary.outcome, escape(&summary.detail));
    }
    for (i, frame) in summary.backtrace.iter().flatten().enumerate() {
        println!("  #{i:<3} {}", escape(frame));
    }
    println!("plugin       {}", summary.plugin_digest);
    if let Some(from) = summary.reused_from {
        println!(
            "answered from run {from}: the same plugin, dataset version, parameters, limits and sieve build \
             give the same clues (--fresh runs it again)"
        );
    }
    match &summary.held {
        Some(why) => println!("clues        {}, held: {why}", summary.clues),
        None => println!("clues        {}", summary.clues),
    }
    println!("fuel         {} (host work {})", summary.fuel, summary.host_fuel);
    println!(
        "peak memory  {:.1} MiB (host memory held for the model {:.1} MiB)",
        summary.peak_memory_bytes as f64 / (1 << 20) as f64,
        summary.host_memory_peak_bytes as f64 / (1 << 20) as f64
    );
    let compiled = match summary.compiled_code.as_deref() {
        Some("compiled") => ", compiled now",
        Some("hit") => ", from the code cache",
        Some("loaded") => ", already loaded",
        Some("rebuilt") => ", recompiled: the cached code failed its check",
        _ => "",
    };
    println!(
        "wall         {:.1} ms (load data {:.1} ms, compile {:.1} ms{compiled})",
        summary.wall_ms, summary.load_ms, summary.compile_ms,
    );
    println!("output       {}", summary.output_digest);
    for l in &summary.logs {
        println!("log {:<5}    {}", l.level, escape(&l.message));
    }
    for (stream, text) in [("stdout", &summary.stdout), ("stderr", &summary.stderr)] {
        for line in text.lines() {
            println!("{stream}       {}", escape(line));
        }
    }
}

/// A local run's report: its clues highest score first, then the summary.
fn print_local(report: &RunReport, shown: usize) {
    let mut order: Vec<&sieve_sdk::Clue> = report.clues.iter().collect();
    // Ties stay in emission order, as the server lists them (`ClueOrder::Score`).
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let top: Vec<TopClue<'_>> = order
        .iter()
        .take(shown)
        .map(|c| (c.score, c.subject.as_str(), c.rule.as_str(), c.reason.as_str()))
        .collect();
    print_report(&report.summary(), &top, shown);
}

/// A stored run through a server: queued (202), followed until it ends, then its record and top
/// clues; the exit status is the outcome's, as locally.
fn remote_run(remote: &super::remote::Remote, args: &RunArgs, dataset: &str) -> anyhow::Result<i32> {
    let body = json!({
        "plugin": args.component,
        "dataset": dataset,
        "params": args.params.iter().cloned().collect::<std::collections::BTreeMap<String, String>>(),
        "limits": args.limits.overrides_json(),
        "fresh": args.fresh,
    });
    let queued: serde_json::Value = remote.json("POST", "/api/runs", Some(body))?;
    let id = queued["id"].as_i64().context("the server returned no run id")?;
    let bar = super::progress_bar("{spinner} run {msg} [{bar:30}] {pos}/{len}");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let status = loop {
        let status: serde_json::Value = remote.json("GET", &format!("/api/runs/{id}"), None)?;
        match status["run"]["state"].as_str() {
            Some("completed" | "failed") => break status,
            Some("queued") => bar.set_message(format!("{id} queued (position {})", status["queue_position"])),
            _ => {
                bar.set_message(format!("{id} running"));
                if let Some([done, total]) =
                    status["progress"].as_array().map(|p| [p[0].as_u64(), p[1].as_u64()])
                {
                    bar.set_length(total.unwrap_or(0));
                    bar.set_position(done.unwrap_or(0));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    bar.finish_and_clear();
    let record: crate::runs::store::RunRecord = serde_json::from_value(status["run"].clone())?;
    let summary: RunSummary = serde_json::from_value(status["report"].clone())
        .context("the server sent no report for the finished run")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "stored as run {} (sieve runs show {} / sieve runs clues {})",
            record.id, record.id, record.id
        );
        let mut top: Vec<crate::runs::store::StoredClue> = Vec::new();
        if record.state == "completed" && summary.held.is_none() && args.top > 0 && summary.clues > 0 {
            let page = format!("/api/runs/{id}/clues?sort=score&per_page={}", args.top.min(1000));
            top = remote.json("GET", &page, None)?;
        }
        let rows: Vec<TopClue<'_>> =
            top.iter().map(|c| (c.score, c.subject.as_str(), c.rule.as_str(), c.reason.as_str())).collect();
        print_report(&summary, &rows, args.top);
    }
    Ok(crate::sandbox::outcome::exit_code_of(&summary.outcome))
}
