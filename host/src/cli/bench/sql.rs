//! SQL models against the Rust models and DuckDB: each task's bundled SQL model (`plugins/sql/`,
//! run by the SQL engine component) and the task's bundled Rust model run alternately in the same
//! sandbox on the same dataset, and DuckDB runs the task's rule over the same Parquet files; all
//! three must find the same (subject, rule) pairs. Also the engine's compile: cold, from the
//! code cache, and already loaded.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{BenchArgs, MIB, dataset, duckdb, median, median_f64, ms};
use crate::datasets::{self, ServedTable};
use crate::sandbox::{CacheUse, Execution, Limits, Outcome, Plugin, Sandbox};

/// The section; a note instead of figures when the engine is not built.
pub fn figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs, tasks: &[&str]) -> anyhow::Result<()> {
    writeln!(md, "\n## SQL models (scale {})\n", args.scale)?;
    let path = crate::runs::sql_model::engine_path();
    let Ok(engine) = std::fs::read(&path) else {
        writeln!(
            md,
            "Not measured: the SQL engine {} is not built (scripts/build-sql-engine.sh).",
            path.display()
        )?;
        return Ok(());
    };
    writeln!(
        md,
        "`cargo run --release -- bench --section sql --runs {runs}`. Each task's bundled SQL model \
         (`plugins/sql/`, on the SQL engine `engines/sql-engine`, DataFusion, one thread) and its bundled \
         Rust model run alternately in the same sandbox on the same dataset, each on the columns it \
         declared, as a run serves them; the times are the model's own (instantiation, `describe()` and \
         `run()` in the guest, tables already loaded). DuckDB: the task's rule as SQL \
         (`scripts/duckdb/`), a fresh in-memory connection reading the Parquet files, its default \
         threads. Medians of {runs} runs after one uncounted pair; all three find the same (subject, \
         rule) pairs on every run. Peak memory: the guest's linear memory.\n",
        runs = args.runs
    )?;
    compile_figures(md, sandbox, &engine)?;
    let mut peer = duckdb::Peer::start().map_err(|why| eprintln!("sql: DuckDB column skipped: {why}")).ok();
    writeln!(
        md,
        "| task | rows | SQL ms | Rust ms | **SQL / Rust** | DuckDB ms | SQL fuel (of the default budget) | Rust fuel | SQL peak MiB | Rust peak MiB | clues |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for &task in tasks {
        compare(md, sandbox, args, &engine, task, peer.as_mut())?;
    }
    Ok(())
}

/// The engine loaded three ways: compiled cold (no cache), from the verified code cache in a
/// new process's sandbox, and already loaded in this one (a long-lived server's case).
fn compile_figures(md: &mut String, sandbox: &Sandbox, engine: &[u8]) -> anyhow::Result<()> {
    let limits = sandbox.compile_limits();
    // As `sieve sql-engine install` does: the engine's compile may take minutes.
    let limits = crate::sandbox::compile::CompileLimits {
        timeout: limits.timeout.max(Duration::from_secs(1800)),
        ..limits.clone()
    };
    let sandbox = sandbox.clone().with_compile_limits(limits.clone());
    let cold = Sandbox::new(None)?.with_compile_limits(limits);
    let load = |s: &Sandbox| s.load(engine, None).map_err(|o| anyhow::anyhow!("loading the SQL engine: {o}"));
    eprintln!("sql: compiling the engine cold ...");
    let cold_time = load(&cold)?.load_time;
    load(&sandbox)?;
    let digest = crate::digest::digest_of(engine);
    let (mut pinned, mut hashed, mut loaded) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        // A fresh process running a stored SQL model: it knows the engine's digest from the
        // model's package, and loads the verified artifact without reading the engine.
        sandbox.forget_loaded();
        let not_read = || Err(crate::sandbox::Outcome::InvalidComponent("the engine was read".into()));
        let started = Instant::now();
        let plugin = sandbox.load_pinned(&digest, not_read).map_err(|o| anyhow::anyhow!("{o}"))?;
        if plugin.cache_use != CacheUse::Hit {
            bail!("the engine did not come from the code cache ({:?})", plugin.cache_use);
        }
        pinned.push(started.elapsed());
        // `sieve run model.sql` on the engine file: the file is hashed first.
        sandbox.forget_loaded();
        let started = Instant::now();
        let plugin = load(&sandbox)?;
        if plugin.cache_use != CacheUse::Hit {
            bail!("the engine did not come from the code cache ({:?})", plugin.cache_use);
        }
        hashed.push(started.elapsed());
        // A stored run of a SQL model in a long-lived process: its package, on the engine the
        // process loaded (the engine's 100 MiB are neither read nor hashed again).
        let text = crate::bundled::sql_model("judicial-auction-violations.sql")
            .context("no bundled T4 SQL model")?;
        let source = crate::runs::sql_model::source(text).map_err(anyhow::Error::msg)?;
        let package = crate::runs::sql_model::package(&plugin.digest, &source);
        let started = Instant::now();
        crate::runs::load_model(&sandbox, &package, None, crate::runs::engine_given(None))
            .map_err(|o| anyhow::anyhow!("{o}"))?;
        loaded.push(started.elapsed());
    }
    writeln!(md, "| engine ({:.0} MiB) | ms |", engine.len() as f64 / MIB)?;
    writeln!(md, "|---|---|")?;
    writeln!(md, "| compile, cold | {:.0} |", ms(cold_time))?;
    writeln!(
        md,
        "| load by digest from the code cache (verify, map and link: a stored run in a new process) | {:.0} |",
        ms(median(pinned))
    )?;
    writeln!(
        md,
        "| load of the engine file from the code cache (hash the file first: `sieve run model.sql`) | {:.0} |",
        ms(median(hashed))
    )?;
    writeln!(
        md,
        "| a SQL model on the engine this process loaded (a server's stored runs) | {:.3} |\n",
        ms(median(loaded))
    )?;
    Ok(())
}

/// (subject, rule) pairs of a run's clues.
fn pairs(exec: &Execution) -> BTreeSet<(String, String)> {
    exec.clues.iter().map(|c| (c.subject.clone(), c.rule.clone())).collect()
}

/// A model ready to run on `data`: the plugin, its served tables and its default parameters.
fn prepared(
    sandbox: &Sandbox,
    plugin: Plugin,
    task: &str,
    data: &std::path::Path,
) -> anyhow::Result<(Plugin, Arc<[ServedTable]>, sieve_sdk::Params)> {
    let info = sandbox.describe(&plugin).map_err(|o| anyhow::anyhow!("{task}: {o}"))?;
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let tables =
        datasets::served_to(plugin.shares_dictionaries(), task, datasets::load_for_model(data, &info)?);
    Ok((plugin, Arc::from(tables), params))
}

fn compare(
    md: &mut String,
    sandbox: &Sandbox,
    args: &BenchArgs,
    engine: &[u8],
    task: &str,
    mut peer: Option<&mut duckdb::Peer>,
) -> anyhow::Result<()> {
    let data = dataset(&args.data_root, task, args.scale, 1)?;
    let text = crate::bundled::sql_model(&format!("{task}.sql"))
        .with_context(|| format!("no SQL model of {task}"))?;
    let source = crate::runs::sql_model::source(text).map_err(anyhow::Error::msg)?;
    let package = crate::runs::sql_model::package(&crate::digest::digest_of(engine), &source);
    let sql =
        crate::runs::load_model(sandbox, &package, None, crate::runs::engine_given(Some(engine.to_vec())))
            .map_err(|o| anyhow::anyhow!("{o}"))?;
    let rust = sandbox
        .load(crate::bundled::get(task).with_context(|| format!("no bundled {task}"))?, None)
        .map_err(|o| anyhow::anyhow!("{o}"))?;
    let (sql, sql_tables, sql_params) = prepared(sandbox, sql, task, &data)?;
    let (rust, rust_tables, rust_params) = prepared(sandbox, rust, task, &data)?;
    let rows: usize = rust_tables.iter().map(|t| t.rows).sum();
    // No fuel budget: the fuel each side uses is a figure here, set against the default budget.
    let limits = Limits { fuel: None, memory_bytes: 4 << 30, ..Limits::default() };
    let budget = Limits::default().fuel_for_rows(rows as u64);
    let (mut sql_wall, mut rust_wall, mut duck_wall, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut last_sql, mut last_rust) = (None, None);
    for i in 0..=args.runs {
        eprintln!("sql, {task}: run {i}/{}", args.runs);
        let run_sql = || sandbox.execute(&sql, sql_tables.clone(), &sql_params, &limits, [0; 32], None);
        let run_rust = || sandbox.execute(&rust, rust_tables.clone(), &rust_params, &limits, [0; 32], None);
        let (s, r) = if i % 2 == 0 {
            let s = run_sql();
            (s, run_rust())
        } else {
            let r = run_rust();
            (run_sql(), r)
        };
        for (who, exec) in [("SQL", &s), ("Rust", &r)] {
            if exec.outcome != Outcome::Completed {
                bail!("the {who} model of {task} ended {}", exec.outcome);
            }
        }
        let found = pairs(&r);
        if pairs(&s) != found {
            bail!(
                "{task}: the SQL and Rust models disagree ({} against {} pairs)",
                s.clues.len(),
                r.clues.len()
            );
        }
        if let Some(peer) = peer.as_deref_mut() {
            let (wall, theirs) = peer.run(&data, task)?;
            if theirs != found {
                bail!(
                    "{task}: DuckDB and the Rust model disagree ({} against {} pairs)",
                    theirs.len(),
                    found.len()
                );
            }
            if i > 0 {
                duck_wall.push(wall);
            }
        }
        if i > 0 {
            ratios.push(s.wall.as_secs_f64() / r.wall.as_secs_f64());
            sql_wall.push(s.wall);
            rust_wall.push(r.wall);
        }
        (last_sql, last_rust) = (Some(s), Some(r));
    }
    let (s, r) = (last_sql.context("no run")?, last_rust.context("no run")?);
    let duck = if duck_wall.is_empty() { "n/a".to_string() } else { format!("{:.0}", ms(median(duck_wall))) };
    writeln!(
        md,
        "| {task} | {rows} | {:.0} | {:.0} | **{:.2}x** | {duck} | {:.2e} ({:.0}%) | {:.2e} | {:.0} | {:.0} | {} |",
        ms(median(sql_wall)),
        ms(median(rust_wall)),
        median_f64(ratios),
        s.fuel_consumed as f64,
        100.0 * s.fuel_consumed as f64 / budget.unwrap_or(u64::MAX) as f64,
        r.fuel_consumed as f64,
        s.peak_memory_bytes as f64 / MIB,
        r.peak_memory_bytes as f64 / MIB,
        r.clues.len()
    )?;
    Ok(())
}
