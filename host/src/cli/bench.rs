//! `sieve bench`: side-by-side measurements (medians, ratios) written to BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use sieve_sdk::Model as _;
use sieve_sdk::native;

use crate::datasets;
use crate::generate::{self, Format};
use crate::sandbox::{Limits, Outcome, Sandbox};

const TASK: &str = "vehicle-insurance-fraud";

/// Arguments of `sieve bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Dataset scale (100 is about 1M judgments).
    #[arg(long, default_value_t = 100)]
    scale: u32,
    /// Repetitions per measurement (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where generated benchmark data is kept between invocations.
    #[arg(long, default_value = "bench-data")]
    data_root: PathBuf,
    /// Markdown file to write the figures to.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Run the benchmarks and write the report.
pub fn bench(args: BenchArgs) -> anyhow::Result<i32> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let data = args.data_root.join(format!("{TASK}-s{}", args.scale));
    if !data.join(datasets::LABELS_FILE).exists() {
        eprintln!("generating {TASK} at scale {} into {} ...", args.scale, data.display());
        generate::task(TASK)?.write(args.scale, 1, &data, Format::Parquet, &|_, _| {})?;
    }
    let bytes = crate::bundled::get(TASK).context("the T1 model is not bundled")?;
    let info = vehicle_insurance_fraud::VehicleInsuranceFraud::describe();
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let tables = datasets::load_for_model(&data, &info)?;
    let load_time = started.elapsed();
    let rows: usize = tables.iter().map(|t| t.rows).sum();
    let judgments = tables.iter().find(|t| t.spec.name == "judgments").map_or(0, |t| t.rows);
    let native_data =
        tables.iter().fold(native::Dataset::new(), |d, t| d.with_table(&t.spec.name, t.columns.clone()));
    let tables: Arc<[datasets::LoadedTable]> = Arc::from(tables);
    let limits = Limits::default();

    // Cold start: compile every time. Warm start: verified artifact from the cache.
    let cache_dir = tempfile::tempdir()?;
    let cold_sandbox = Sandbox::new(None)?;
    let warm_sandbox = Sandbox::new(Some(cache_dir.path().to_path_buf()))?;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    warm_sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    for _ in 0..args.runs {
        let t = Instant::now();
        let p = cold_sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
        cold_sandbox.describe(&p, &limits).map_err(|o| anyhow::anyhow!("{o}"))?;
        cold.push(t.elapsed());
        let t = Instant::now();
        let p = warm_sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
        warm_sandbox.describe(&p, &limits).map_err(|o| anyhow::anyhow!("{o}"))?;
        warm.push(t.elapsed());
    }

    // The same model, WASM in the sandbox and native through the SDK backend, alternated.
    let plugin = warm_sandbox.load(bytes, None).map_err(|o| anyhow::anyhow!("{o}"))?;
    let mut wasm_times = Vec::new();
    let mut native_times = Vec::new();
    let mut last = None;
    for i in 0..args.runs {
        eprintln!("run {}/{}", i + 1, args.runs);
        let exec = warm_sandbox.execute(&plugin, tables.clone(), &params, &limits, [0; 32]);
        if exec.outcome != Outcome::Completed {
            bail!("the WASM run ended {}", exec.outcome);
        }
        wasm_times.push(exec.wall);
        let t = Instant::now();
        let out = native::run_with::<vehicle_insurance_fraud::VehicleInsuranceFraud>(
            &info,
            &native_data,
            params.clone(),
        )
        .map_err(|e| anyhow::anyhow!("native run: {e}"))?;
        native_times.push(t.elapsed());
        if out.clues.len() != exec.clues.len() {
            bail!("WASM and native disagree: {} vs {} clues", exec.clues.len(), out.clues.len());
        }
        last = Some(exec);
    }
    let exec = last.context("no run")?;

    // Boundary throughput: a guest that loads every T1 column and computes nothing.
    let scan = scan_throughput(&warm_sandbox, &data, &limits, args.runs)?;

    // sha256 throughput over 64 MiB.
    let buffer = vec![0x5au8; 64 << 20];
    let mut hashing = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        std::hint::black_box(crate::digest::sha256_hex(&buffer));
        hashing.push(t.elapsed());
    }

    let (wasm, nat) = (median(wasm_times), median(native_times));
    let (cold, warm) = (median(cold), median(warm));
    let sha = median(hashing);
    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Produced by `cargo run --release -- bench --scale {} --runs {}` on {} ({} cores). Medians of {} runs; ratios are",
        args.scale,
        args.runs,
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.runs
    )?;
    writeln!(
        md,
        "measured side by side in one process, alternating, so machine noise hits both sides alike.\n"
    )?;
    writeln!(
        md,
        "## T1 vehicle-insurance-fraud, scale {} ({judgments} judgments, {rows} rows in all tables)\n",
        args.scale
    )?;
    writeln!(md, "| measurement | value |\n|---|---|")?;
    writeln!(md, "| WASM in the sandbox (fuel metered, fresh store) | {:.1} ms |", ms(wasm))?;
    writeln!(md, "| native build of the same model (SDK native backend) | {:.1} ms |", ms(nat))?;
    writeln!(md, "| **WASM / native** | **{:.2}x** |", wasm.as_secs_f64() / nat.as_secs_f64())?;
    writeln!(md, "| cold start (compile + instantiate + describe) | {:.1} ms |", ms(cold))?;
    writeln!(md, "| warm start (verified cached artifact + instantiate + describe) | {:.2} ms |", ms(warm))?;
    writeln!(md, "| **cold / warm** | **{:.0}x** |", cold.as_secs_f64() / warm.as_secs_f64())?;
    writeln!(md, "| T1 model throughput | {:.1} M rows/s |", rows as f64 / wasm.as_secs_f64() / 1e6)?;
    match scan {
        Some((scan_time, scan_rows, cells)) => writeln!(
            md,
            "| rows fed into the guest (scan guest loads all {cells} cells of the 4 tables) | {:.1} M rows/s, {:.1} M cells/s ({:.0} ms) |",
            scan_rows as f64 / scan_time.as_secs_f64() / 1e6,
            cells as f64 / scan_time.as_secs_f64() / 1e6,
            ms(scan_time)
        )?,
        None => writeln!(md, "| rows fed into the guest | (scan guest not built: run from a checkout) |")?,
    }
    writeln!(md, "| fuel per run | {} |", exec.fuel_consumed)?;
    writeln!(md, "| peak guest memory | {:.0} MiB |", exec.peak_memory_bytes as f64 / (1 << 20) as f64)?;
    writeln!(md, "| clues | {} |", exec.clues.len())?;
    writeln!(md, "| dataset load (Parquet, declared columns, host side) | {:.0} ms |", ms(load_time))?;
    writeln!(md, "| sha256 throughput | {:.0} MiB/s |", 64.0 / sha.as_secs_f64())?;
    std::fs::write(&args.out, &md).with_context(|| format!("writing {}", args.out.display()))?;
    print!("{md}");
    Ok(0)
}

/// Median time for the scan test guest to load every column of the dataset, with its row and
/// cell counts; `None` when the guest is not built (an installed binary, not a checkout).
fn scan_throughput(
    sandbox: &Sandbox,
    data: &std::path::Path,
    limits: &Limits,
    runs: usize,
) -> anyhow::Result<Option<(Duration, usize, u64)>> {
    let Some((_, path)) = crate::bundled::TEST_GUESTS.iter().find(|(n, _)| *n == "guest-scan") else {
        return Ok(None);
    };
    let Ok(bytes) = std::fs::read(path) else { return Ok(None) };
    let plugin = sandbox.load(&bytes, None).map_err(|o| anyhow::anyhow!("scan guest: {o}"))?;
    let info = sandbox.describe(&plugin, limits).map_err(|o| anyhow::anyhow!("scan guest: {o}"))?;
    let tables: Arc<[datasets::LoadedTable]> = Arc::from(datasets::load_for_model(data, &info)?);
    let rows = tables.iter().map(|t| t.rows).sum();
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let mut times = Vec::new();
    let mut cells = 0;
    for _ in 0..runs {
        let exec = sandbox.execute(&plugin, tables.clone(), &params, limits, [0; 32]);
        if exec.outcome != Outcome::Completed {
            bail!("the scan guest ended {}", exec.outcome);
        }
        times.push(exec.wall);
        cells = exec.cells_read;
    }
    Ok(Some((median(times), rows, cells)))
}
