//! Models in other languages against the Rust model of the same rule: T2 in Python
//! (`plugins/private-lending-fraud-py`, componentize-py) and T5 in JavaScript
//! (`plugins/restricted-debtor-travel-js`, componentize-js), each built here and run alternately
//! with the bundled Rust model of its task on the same served tables at several scales, their
//! clues checked identical.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::{BenchArgs, MIB, child_peak_rss, dataset, median, median_f64, ms};
use crate::datasets::{self, ServedTable};
use crate::sandbox::{CacheUse, Limits, Outcome, Sandbox};

/// A model in another language and the task whose bundled Rust model it matches.
struct Port {
    language: &'static str,
    task: &'static str,
    /// Its directory under `plugins/`, and its one source file, carried in the binary so the
    /// bench runs from anywhere.
    dir: &'static str,
    file: &'static str,
    source: &'static str,
}

const PORTS: &[Port] = &[
    Port {
        language: "Python",
        task: "private-lending-fraud",
        dir: "private-lending-fraud-py",
        file: "app.py",
        source: include_str!("../../../../plugins/private-lending-fraud-py/app.py"),
    },
    Port {
        language: "JavaScript",
        task: "restricted-debtor-travel",
        dir: "restricted-debtor-travel-js",
        file: "app.js",
        source: include_str!("../../../../plugins/restricted-debtor-travel-js/app.js"),
    },
];

/// The section: per language, a note instead of figures when its toolchain is missing.
pub fn figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    writeln!(md, "\n## Models in other languages\n")?;
    writeln!(
        md,
        "`cargo run --release -- bench --section languages --runs {runs}`. Each model is built by \
         `sieve build` from its directory under `plugins/` on its language's SDK; the Rust one is the \
         bundled model of the same task. Both run in the same sandbox on the same served tables, \
         alternately, on default limits (the fuel budget grows with the rows read); every pair gives \
         identical clues. Medians of {runs} runs. Peak RSS: a whole `sieve run` process on the dataset \
         directory, compiled code cached.",
        runs = args.runs
    )?;
    for port in PORTS {
        compare(md, sandbox, args, port)?;
    }
    Ok(())
}

/// One language's port against the Rust model of its task.
fn compare(md: &mut String, sandbox: &Sandbox, args: &BenchArgs, port: &Port) -> anyhow::Result<()> {
    let (language, task) = (port.language, port.task);
    writeln!(md, "\n### {language}: `{task}` (`plugins/{}`)\n", port.dir)?;
    let work = tempfile::tempdir()?;
    let source = work.path().join(port.dir);
    std::fs::create_dir_all(&source)?;
    std::fs::write(source.join(port.file), port.source)?;
    let component = work.path().join(format!("{}.wasm", port.dir));
    let started = Instant::now();
    let built = match crate::cli::build::build_dir(&source, &component) {
        Ok(built) => built,
        Err(why) => {
            eprintln!("languages: {language} skipped: {why:#}");
            writeln!(md, "Not measured: {why:#}.")?;
            return Ok(());
        }
    };
    let build_time = started.elapsed();
    let ported = std::fs::read(&built.path)?;
    let rust = crate::bundled::get(task).with_context(|| format!("no bundled {task}"))?;

    // Compiling: cold (no cache, in this process) and warm (the verified cached code).
    let cold_sandbox = Sandbox::new(None)?;
    let compile = |bytes: &[u8]| -> anyhow::Result<(f64, f64)> {
        let cold = cold_sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
        sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
        sandbox.forget_loaded();
        let warm = sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
        if warm.cache_use != CacheUse::Hit {
            bail!("the second load did not come from the code cache ({:?})", warm.cache_use);
        }
        Ok((ms(cold.load_time), ms(warm.load_time)))
    };
    let (port_cold, port_warm) = compile(&ported)?;
    let (rs_cold, rs_warm) = compile(rust)?;
    writeln!(md, "Built with {} in {:.1} s.\n", built.toolchain, build_time.as_secs_f64())?;
    writeln!(md, "| | component | compile cold | compile warm |")?;
    writeln!(md, "|---|---|---|---|")?;
    writeln!(
        md,
        "| {language} | {:.1} MiB | {port_cold:.0} ms | {port_warm:.1} ms |",
        ported.len() as f64 / MIB
    )?;
    writeln!(md, "| Rust | {:.2} MiB | {rs_cold:.0} ms | {rs_warm:.1} ms |\n", rust.len() as f64 / MIB)?;

    let port_plugin = sandbox.load(&ported, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    let rs_plugin = sandbox.load(rust, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    let info = sandbox.describe(&rs_plugin).map_err(|o| anyhow::anyhow!("{o}"))?;
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let limits = Limits::default();
    let home = tempfile::tempdir()?;
    writeln!(
        md,
        "| scale | rows | {language} ms | Rust ms | **{language} / Rust** | {language} fuel | Rust fuel | fuel ratio | {language} peak RSS MiB | Rust peak RSS MiB | clues |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let mut scales = vec![1, 10, args.scale];
    scales.dedup();
    for scale in scales {
        let data = dataset(&args.data_root, task, scale, 1)?;
        let tables: Arc<[ServedTable]> = Arc::from(datasets::served_to(
            rs_plugin.shares_dictionaries(),
            task,
            datasets::load_for_model(&data, &info)?,
        ));
        let rows: usize = tables.iter().map(|t| t.rows).sum();
        let (mut port_wall, mut rs_wall, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut port_fuel, mut rs_fuel, mut clues) = (0, 0, 0);
        for i in 0..=args.runs {
            eprintln!("languages, {language}, scale {scale}: run {i}/{}", args.runs);
            let run = |plugin| sandbox.execute(plugin, tables.clone(), &params, &limits, [0; 32], None);
            let (theirs, rs) = if i % 2 == 0 {
                let theirs = run(&port_plugin);
                (theirs, run(&rs_plugin))
            } else {
                let rs = run(&rs_plugin);
                (run(&port_plugin), rs)
            };
            for (who, exec) in [(language, &theirs), ("Rust", &rs)] {
                if exec.outcome != Outcome::Completed {
                    bail!("the {who} {task} ended {} at scale {scale}", exec.outcome);
                }
            }
            if theirs.clues != rs.clues {
                bail!("the {language} and Rust {task} disagree at scale {scale}");
            }
            if i > 0 {
                ratios.push(theirs.wall.as_secs_f64() / rs.wall.as_secs_f64());
                port_wall.push(theirs.wall);
                rs_wall.push(rs.wall);
            }
            (port_fuel, rs_fuel, clues) = (theirs.fuel_consumed, rs.fuel_consumed, theirs.clues.len());
        }
        let rss = |component: &str| -> anyhow::Result<f64> {
            let run_args = ["run", component, "--data", data.to_str().context("utf-8 path")?, "--json"];
            child_peak_rss(home.path(), None, &run_args)?;
            Ok(child_peak_rss(home.path(), None, &run_args)? as f64 / MIB)
        };
        let (port_rss, rs_rss) = (rss(component.to_str().context("utf-8 path")?)?, rss(task)?);
        writeln!(
            md,
            "| {scale} | {rows} | {:.0} | {:.1} | **{:.1}x** | {:.2e} | {:.2e} | {:.0}x | {port_rss:.0} | {rs_rss:.0} | {clues} |",
            ms(median(port_wall)),
            ms(median(rs_wall)),
            median_f64(ratios),
            port_fuel as f64,
            rs_fuel as f64,
            port_fuel as f64 / rs_fuel as f64,
        )?;
    }
    Ok(())
}
