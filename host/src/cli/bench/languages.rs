//! Models in other languages against the Rust model of the same rule: T2 in Python
//! (`plugins/private-lending-fraud-py`, built here with componentize-py) and the bundled Rust T2,
//! run alternately on the same served tables at several scales, their clues checked identical.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::{BenchArgs, MIB, child_peak_rss, dataset, median, median_f64, ms};
use crate::datasets::{self, ServedTable};
use crate::sandbox::{CacheUse, Limits, Outcome, Sandbox};

const TASK: &str = "private-lending-fraud";
/// The Python model's source, carried in the binary so the bench runs from anywhere.
const PYTHON_T2: &str = include_str!("../../../../plugins/private-lending-fraud-py/app.py");

/// The section: a note instead of figures when componentize-py is missing.
pub fn figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    writeln!(md, "\n## Models in other languages (T2, `{TASK}`)\n")?;
    let work = tempfile::tempdir()?;
    let source = work.path().join("private-lending-fraud-py");
    std::fs::create_dir_all(&source)?;
    std::fs::write(source.join("app.py"), PYTHON_T2)?;
    let out = work.path().join("t2-python.wasm");
    let started = Instant::now();
    let built = match crate::cli::build::build_dir(&source, &out) {
        Ok(built) => built,
        Err(why) => {
            eprintln!("languages skipped: {why:#}");
            writeln!(md, "Not measured: {why:#}.")?;
            return Ok(());
        }
    };
    let build_time = started.elapsed();
    let python = std::fs::read(&built.path)?;
    let rust = crate::bundled::get(TASK).context("no bundled T2")?;

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
    let (py_cold, py_warm) = compile(&python)?;
    let (rs_cold, rs_warm) = compile(rust)?;
    writeln!(
        md,
        "`cargo run --release -- bench --section languages --runs {runs}`. The Python model is built by \
         `sieve build` ({toolchain}, {build:.1} s) from `plugins/private-lending-fraud-py/app.py` on the \
         Python SDK; the Rust one is the bundled model. Both run in the same sandbox on the same served \
         tables, alternately, on default limits (the fuel budget grows with the rows read); every pair \
         gives identical clues. Medians of {runs} runs. Peak RSS: a whole `sieve run` process on the \
         dataset directory, compiled code cached.\n",
        runs = args.runs,
        toolchain = built.toolchain,
        build = build_time.as_secs_f64(),
    )?;
    writeln!(md, "| | component | compile cold | compile warm |")?;
    writeln!(md, "|---|---|---|---|")?;
    writeln!(md, "| Python | {:.1} MiB | {py_cold:.0} ms | {py_warm:.1} ms |", python.len() as f64 / MIB)?;
    writeln!(md, "| Rust | {:.2} MiB | {rs_cold:.0} ms | {rs_warm:.1} ms |\n", rust.len() as f64 / MIB)?;

    let py_plugin = sandbox.load(&python, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    let rs_plugin = sandbox.load(rust, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    let info = sandbox.describe(&rs_plugin).map_err(|o| anyhow::anyhow!("{o}"))?;
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let limits = Limits::default();
    let home = tempfile::tempdir()?;
    let component = work.path().join("t2-python.wasm");
    writeln!(
        md,
        "| scale | rows | Python ms | Rust ms | **Python / Rust** | Python fuel | Rust fuel | fuel ratio | Python peak RSS MiB | Rust peak RSS MiB | clues |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let mut scales = vec![1, 10, args.scale];
    scales.dedup();
    for scale in scales {
        let data = dataset(&args.data_root, TASK, scale, 1)?;
        let tables: Arc<[ServedTable]> = Arc::from(datasets::served_to(
            rs_plugin.shares_dictionaries(),
            TASK,
            datasets::load_for_model(&data, &info)?,
        ));
        let rows: usize = tables.iter().map(|t| t.rows).sum();
        let (mut py_wall, mut rs_wall, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut py_fuel, mut rs_fuel, mut clues) = (0, 0, 0);
        for i in 0..=args.runs {
            eprintln!("languages, scale {scale}: run {i}/{}", args.runs);
            let run = |plugin| sandbox.execute(plugin, tables.clone(), &params, &limits, [0; 32], None);
            let (py, rs) = if i % 2 == 0 {
                let py = run(&py_plugin);
                (py, run(&rs_plugin))
            } else {
                let rs = run(&rs_plugin);
                (run(&py_plugin), rs)
            };
            for (who, exec) in [("Python", &py), ("Rust", &rs)] {
                if exec.outcome != Outcome::Completed {
                    bail!("the {who} T2 ended {} at scale {scale}", exec.outcome);
                }
            }
            if py.clues != rs.clues {
                bail!("the Python and Rust T2 disagree at scale {scale}");
            }
            if i > 0 {
                ratios.push(py.wall.as_secs_f64() / rs.wall.as_secs_f64());
                py_wall.push(py.wall);
                rs_wall.push(rs.wall);
            }
            (py_fuel, rs_fuel, clues) = (py.fuel_consumed, rs.fuel_consumed, py.clues.len());
        }
        let rss = |component: &str| -> anyhow::Result<f64> {
            let run_args = ["run", component, "--data", data.to_str().context("utf-8 path")?, "--json"];
            child_peak_rss(home.path(), None, &run_args)?;
            Ok(child_peak_rss(home.path(), None, &run_args)? as f64 / MIB)
        };
        let (py_rss, rs_rss) = (rss(component.to_str().context("utf-8 path")?)?, rss(TASK)?);
        writeln!(
            md,
            "| {scale} | {rows} | {:.0} | {:.1} | **{:.1}x** | {:.2e} | {:.2e} | {:.0}x | {py_rss:.0} | {rs_rss:.0} | {clues} |",
            ms(median(py_wall)),
            ms(median(rs_wall)),
            median_f64(ratios),
            py_fuel as f64,
            rs_fuel as f64,
            py_fuel as f64 / rs_fuel as f64,
        )?;
    }
    Ok(())
}
