//! `sieve bench`: side-by-side measurements (medians, ratios) written to BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use sieve_sdk::native;

use crate::datasets::{self, ServedTable};
use crate::generate::{self, Format, Shape};
use crate::sandbox::{Limits, Outcome, Sandbox};
use crate::scoring::{self, Scores};

mod duckdb;
mod languages;
mod sql;

/// Arguments of `sieve bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Dataset scale for the speed figures (100 is about 1M rows in each task's largest table).
    #[arg(long, default_value_t = 100)]
    scale: u32,
    /// Repetitions per measurement (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Only these tasks (repeatable; default: all of them).
    #[arg(long = "task")]
    tasks: Vec<String>,
    /// Seeds for the quality figures at scale 1.
    #[arg(long, default_value = "1,2,3,4,5", value_delimiter = ',')]
    quality_seeds: Vec<u64>,
    /// Where generated benchmark data is kept between invocations.
    #[arg(long, default_value = "bench-data")]
    data_root: PathBuf,
    /// Only these sections (repeatable; default: all of them). A partial report is printed, and
    /// written only where `--out` says.
    #[arg(long = "section", value_enum)]
    sections: Vec<Section>,
    /// Markdown file to write the figures to (default: BENCHMARKS.md for a full report).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A section of the report.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// WASM against native, per task, with quality at the benchmark scale.
    Speed,
    /// Quality at scale 1 over the quality seeds.
    Quality,
    /// Stored runs against DuckDB, with import throughput.
    Duckdb,
    /// Cold and warm start, boundary and hashing throughput.
    Startup,
    /// What the limits cost a hostile model.
    Sandbox,
    /// Registry costs: import, publish, stored against ad hoc runs.
    Registry,
    /// Scoring and competition throughput.
    Competition,
    /// Models in other languages (Python T2, JavaScript T5) against the Rust models: speed, fuel,
    /// compiling, memory.
    Languages,
    /// SQL models against the Rust models and DuckDB, per task; the SQL engine's compile and load.
    Sql,
}

/// CPU time this thread has used so far (the guest runs on the calling thread, as the native
/// model does).
fn thread_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time every thread of this process has used so far.
fn process_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec we pass, which lives for the call.
    let ok = unsafe { libc::clock_gettime(clock, &mut ts) } == 0;
    if ok { Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32) } else { Duration::ZERO }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn median_f64(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn fail(o: Outcome) -> anyhow::Error {
    anyhow::anyhow!("{o}")
}

/// The dataset of `task` at `scale` and `seed`, generated on first use.
pub(super) fn dataset(root: &Path, task: &str, scale: u32, seed: u64) -> anyhow::Result<PathBuf> {
    shaped_dataset(root, task, scale, seed, Shape::Plain)
}

/// [`dataset`], in data shape `shape`.
fn shaped_dataset(root: &Path, task: &str, scale: u32, seed: u64, shape: Shape) -> anyhow::Result<PathBuf> {
    // Kept data is named by what this build's generator makes, so a changed generator never
    // leaves figures measured on the old one's data.
    let suffix = if shape == Shape::Skewed { "-skewed" } else { "" };
    let dir = root.join(format!("{task}-s{scale}-seed{seed}-{}{suffix}", generator_fingerprint(task)?));
    if !dir.join(datasets::LABELS_FILE).exists() {
        eprintln!("generating {task} at scale {scale}, seed {seed}{suffix} ...");
        generate::task(task)?.write_shaped(scale, seed, shape, &dir, Format::Parquet, &|_, _| {})?;
    }
    Ok(dir)
}

/// The first 12 hex digits of the sha256 of what `task`'s generator writes at scale 1, seed 0
/// (computed once per task and process).
fn generator_fingerprint(task: &str) -> anyhow::Result<String> {
    static KNOWN: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    let mut known = KNOWN.lock().map_err(|_| anyhow::anyhow!("fingerprint cache poisoned"))?;
    if let Some((_, fp)) = known.iter().find(|(t, _)| t == task) {
        return Ok(fp.clone());
    }
    let dir = tempfile::tempdir()?;
    let written = generate::task(task)?.write(1, 0, dir.path(), Format::Csv, &|_, _| {})?;
    let mut bytes = Vec::new();
    for (table, _) in written {
        let file = if table == "labels" { datasets::LABELS_FILE.to_string() } else { format!("{table}.csv") };
        bytes.extend(std::fs::read(dir.path().join(file))?);
    }
    let fp = crate::digest::sha256_hex(&bytes)[..12].to_string();
    known.push((task.to_string(), fp.clone()));
    Ok(fp)
}

/// One task's speed figures.
struct Speed {
    rows: usize,
    largest: usize,
    wasm: Duration,
    native: Duration,
    /// Median over the pairs of WASM wall time / native wall time.
    ratio: f64,
    /// The same for the CPU time of this thread (the WASM side including instantiation): on a
    /// shared machine, time the thread spent descheduled does not count.
    cpu_ratio: f64,
    fuel: u64,
    host_fuel: u64,
    peak: usize,
    host_peak: usize,
    clues: usize,
    scores: Scores,
}

fn speed(sandbox: &Sandbox, task: &str, data: &Path, runs: usize) -> anyhow::Result<Speed> {
    let bytes = crate::bundled::get(task).with_context(|| format!("no bundled model {task}"))?;
    let model = crate::bundled::native(task).with_context(|| format!("no native build of {task}"))?;
    let info = (model.describe)();
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let plugin = sandbox.load(bytes, None).map_err(fail)?;
    // The native build reads the very tables the guest is served, shared dictionaries included.
    let tables =
        datasets::served_to(plugin.shares_dictionaries(), &info.task, datasets::load_for_model(data, &info)?);
    let rows = tables.iter().map(|t| t.rows).sum();
    let largest = tables.iter().map(|t| t.rows).max().unwrap_or(0);
    let native_data =
        tables.iter().fold(native::Dataset::new(), |d, t| d.with_table(&t.spec.name, t.columns.clone()));
    let tables: Arc<[ServedTable]> = Arc::from(tables);
    let limits = Limits::default();
    let (mut wasm, mut nat, mut ratio, mut cpu_ratio) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    // One pair first that is not counted (page cache, allocator, pooled memory slot), then pairs
    // whose order alternates, so neither side always runs on the caches the other just warmed.
    for i in 0..=runs {
        eprintln!("{task}: run {i}/{runs}{}", if i == 0 { " (warm-up)" } else { "" });
        let run_wasm = || {
            let cpu = thread_cpu_time();
            let exec = sandbox.execute(&plugin, tables.clone(), &params, &limits, [0; 32], None);
            let cpu = thread_cpu_time().saturating_sub(cpu);
            if exec.outcome != Outcome::Completed {
                bail!("{task}: the WASM run ended {}", exec.outcome);
            }
            Ok((exec, cpu))
        };
        let run_native = || {
            let (t, cpu) = (Instant::now(), thread_cpu_time());
            let out = (model.run)(&info, &native_data, params.clone())
                .map_err(|e| anyhow::anyhow!("{task} native: {e}"))?;
            anyhow::Ok((out, t.elapsed(), thread_cpu_time().saturating_sub(cpu)))
        };
        let ((exec, w_cpu), (out, n_wall, n_cpu)) = if i % 2 == 0 {
            let w = run_wasm()?;
            (w, run_native()?)
        } else {
            let n = run_native()?;
            (run_wasm()?, n)
        };
        if out.clues != exec.clues {
            bail!("{task}: WASM and native disagree ({} vs {} clues)", exec.clues.len(), out.clues.len());
        }
        if i > 0 {
            ratio.push(exec.wall.as_secs_f64() / n_wall.as_secs_f64());
            cpu_ratio.push(w_cpu.as_secs_f64() / n_cpu.as_secs_f64());
            wasm.push(exec.wall);
            nat.push(n_wall);
        }
        last = Some(exec);
    }
    let exec = last.context("no run")?;
    let labels = scoring::read_labels(&data.join(datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
    Ok(Speed {
        rows,
        largest,
        wasm: median(wasm),
        native: median(nat),
        ratio: median_f64(ratio),
        cpu_ratio: median_f64(cpu_ratio),
        fuel: exec.fuel_consumed,
        host_fuel: exec.host_fuel,
        peak: exec.peak_memory_bytes,
        host_peak: exec.host_memory_peak_bytes,
        clues: exec.clues.len(),
        scores: scoring::score(&labels, &exec.clues, None),
    })
}

/// Quality of `task`'s bundled model on fresh scale-1 data of one seed.
fn quality(sandbox: &Sandbox, root: &Path, task: &str, seed: u64) -> anyhow::Result<Scores> {
    let data = dataset(root, task, 1, seed)?;
    let bytes = crate::bundled::get(task).with_context(|| format!("no bundled model {task}"))?;
    let report = crate::runs::run_on_dir(
        sandbox,
        bytes,
        crate::runs::engine_given(None),
        None,
        &data,
        &[],
        &Limits::default(),
        None,
    );
    if report.outcome != Outcome::Completed {
        bail!("{task} seed {seed}: {}", report.outcome);
    }
    let labels = scoring::read_labels(&data.join(datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
    Ok(scoring::score(&labels, &report.clues, None))
}

/// The heading under which BENCHMARKS.md keeps figures that `sieve bench` does not produce.
pub(super) const KEPT_HEADING: &str = "## Measured outside `sieve bench`";

/// Replace section `heading` (a `###` heading) of the report at `out` with `section`, under
/// [`KEPT_HEADING`] (figures another command measures, which `sieve bench` keeps), and print it.
pub(super) fn write_kept_section(out: &Path, heading: &str, section: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(out).unwrap_or_default();
    let without = match old.find(heading) {
        Some(start) => {
            let rest = &old[start + heading.len()..];
            let end = rest
                .find("\n### ")
                .or_else(|| rest.find("\n## "))
                .map_or(old.len(), |e| start + heading.len() + e + 1);
            format!("{}{}", &old[..start], &old[end..])
        }
        None => old,
    };
    let text = match without.find(KEPT_HEADING) {
        Some(at) => {
            let insert = at + KEPT_HEADING.len();
            let after_intro = without[insert..].find("\n### ").map_or(without.len(), |p| insert + p + 1);
            format!("{}{heading}\n\n{section}\n{}", &without[..after_intro], &without[after_intro..])
        }
        None => format!("{without}\n{KEPT_HEADING}\n\n{heading}\n\n{section}"),
    };
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!("{heading}\n\n{section}");
    Ok(())
}

/// Run the benchmarks and write the report.
pub fn bench(args: BenchArgs) -> anyhow::Result<i32> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let tasks: Vec<&str> = if args.tasks.is_empty() {
        generate::TASKS.iter().map(|t| t.id).collect()
    } else {
        args.tasks.iter().map(|t| generate::task(t).map(|t| t.id)).collect::<anyhow::Result<_>>()?
    };
    let wants = |section: Section| args.sections.is_empty() || args.sections.contains(&section);
    let out = match (&args.out, args.sections.is_empty()) {
        (Some(out), _) => Some(out.clone()),
        (None, true) => Some(PathBuf::from("BENCHMARKS.md")),
        (None, false) => None,
    };
    let cache_dir = tempfile::tempdir()?;
    // A throwaway cache with a throwaway key.
    let mut key = vec![0u8; crate::sandbox::cache::KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
    let sandbox = Sandbox::new(Some((cache_dir.path().to_path_buf(), key)))?;

    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Produced by `cargo run --release -- bench --scale {} --runs {}` on {} ({} cores). Medians of {} runs. \
         Ratios are measured side by side in one process: after one uncounted warm-up pair, each WASM run \
         is paired with a native run (which goes first alternates), and the ratio shown is the median of \
         the pairs' ratios, so machine noise hits both sides alike. The native side is the same model crate built for the host and run \
         through the SDK's native backend on the same in-memory tables; both produce identical clues \
         (checked on every run). The CPU ratio compares the CPU time of the running thread (the \
         WASM side including instantiation), which time spent descheduled on a busy machine does not \
         inflate. Both sides read the tables as a run serves them, key domains coded against shared \
         dictionaries: the native build reads them in place, the guest gets a copy in its own memory, \
         so where a model's own work is small the copy is most of the difference (see the scan figure \
         below).\n",
        args.scale,
        args.runs,
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.runs
    )?;
    if wants(Section::Speed) {
        speed_figures(&mut md, &sandbox, &args, &tasks)?;
    }
    if wants(Section::Quality) {
        quality_figures(&mut md, &sandbox, &args, &tasks)?;
    }
    if wants(Section::Duckdb) {
        duckdb_figures(&mut md, &sandbox, &args, &tasks)?;
    }
    if wants(Section::Startup) {
        start_up_and_boundary(&mut md, &sandbox, &args)?;
    }
    if wants(Section::Sandbox) {
        sandbox_figures(&mut md, &sandbox, &args)?;
    }
    if wants(Section::Registry) {
        registry_figures(&mut md, &sandbox, &args)?;
    }
    if wants(Section::Competition) {
        competition_figures(&mut md, &sandbox, &args)?;
    }
    if wants(Section::Languages) {
        languages::figures(&mut md, &sandbox, &args)?;
    }
    if wants(Section::Sql) {
        sql::figures(&mut md, &sandbox, &args, &tasks)?;
    }
    if let Some(out) = out {
        // Figures measured by other commands (a comparison of two builds, say) live below a
        // fixed heading and are kept.
        if let Ok(old) = std::fs::read_to_string(&out)
            && let Some(at) = old.find(KEPT_HEADING)
        {
            write!(md, "\n{}", &old[at..])?;
        }
        std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    }
    print!("{md}");
    Ok(0)
}

/// Every task's WASM and native runs side by side, with quality at the benchmark scale.
fn speed_figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs, tasks: &[&str]) -> anyhow::Result<()> {
    writeln!(md, "## Every task at scale {}: speed and quality\n", args.scale)?;
    writeln!(
        md,
        "| task | rows (largest table) | WASM ms | native ms | **WASM / native** | CPU WASM / native | peak MiB | host MiB | fuel | host fuel | M rows/s | clues | precision | recall | F0.5 | AP |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    let mut per_pattern = Vec::new();
    for task in tasks {
        let data = dataset(&args.data_root, task, args.scale, 1)?;
        let s = speed(sandbox, task, &data, args.runs)?;
        let patterns: Vec<String> = s.scores.per_pattern.iter().map(|(p, r)| format!("{p} {r:.3}")).collect();
        per_pattern.push(format!("| {task} | {} | {} |", s.scores.labelled, patterns.join(", ")));
        writeln!(
            md,
            "| {task} | {} ({}) | {:.0} | {:.0} | **{:.2}x** | {:.2}x | {:.0} | {:.0} | {:.2e} | {:.1}% | {:.1} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.rows,
            s.largest,
            ms(s.wasm),
            ms(s.native),
            s.ratio,
            s.cpu_ratio,
            s.peak as f64 / (1 << 20) as f64,
            s.host_peak as f64 / (1 << 20) as f64,
            s.fuel as f64,
            s.host_fuel as f64 * 100.0 / s.fuel as f64,
            s.rows as f64 / s.wasm.as_secs_f64() / 1e6,
            s.clues,
            s.scores.precision,
            s.scores.recall,
            s.scores.f0_5,
            s.scores.average_precision
        )?;
    }

    writeln!(md, "\n### Recall per pattern at scale {}\n", args.scale)?;
    writeln!(md, "| task | labelled subjects | recall per pattern |\n|---|---|---|")?;
    for line in per_pattern {
        writeln!(md, "{line}")?;
    }
    Ok(())
}

/// Quality of every task's bundled model at scale 1, a fresh dataset per seed.
fn quality_figures(
    md: &mut String,
    sandbox: &Sandbox,
    args: &BenchArgs,
    tasks: &[&str],
) -> anyhow::Result<()> {
    writeln!(md, "\n## Quality at scale 1 (fresh data per seed)\n")?;
    writeln!(
        md,
        "| task | seed | precision | recall | F0.5 | AP | recall per pattern |\n|---|---|---|---|---|---|---|"
    )?;
    for task in tasks {
        for &seed in &args.quality_seeds {
            let s = quality(sandbox, &args.data_root, task, seed)?;
            let patterns: Vec<String> = s.per_pattern.iter().map(|(p, r)| format!("{p} {r:.3}")).collect();
            writeln!(
                md,
                "| {task} | {seed} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                s.precision,
                s.recall,
                s.f0_5,
                s.average_precision,
                patterns.join(", ")
            )?;
        }
    }

    Ok(())
}

/// A fresh registry in `home` for a measurement: its admin, and a second admin who approves
/// models (four eyes).
async fn bench_registry(
    home: &Path,
) -> anyhow::Result<(crate::registry::Registry, crate::registry::Actor, crate::registry::Actor, String)> {
    use crate::registry::{Registry, Role};
    let registry = Registry::open(home, None).await?;
    let token = registry.init("province", "admin").await?;
    let admin = registry.authenticate(Some(&token)).await?;
    let approver = registry.add_user(&admin, "approver", "province", &[Role::Admin]).await?.1;
    let approver = registry.authenticate(Some(&approver)).await?;
    Ok((registry, admin, approver, token))
}

/// Megabytes of CSV imported per CPU-second of this process (every thread: reading, encoding,
/// writing), the median of up to three imports of `task`'s data in `shape` written as CSV,
/// each into an empty registry. The megabytes are the tables' files (not the labels).
async fn csv_import_rate(args: &BenchArgs, task: &str, shape: Shape) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    generate::task(task)?.write_shaped(args.scale, 1, shape, dir.path(), Format::Csv, &|_, _| {})?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir.path())? {
        let entry = entry?;
        if entry.file_name() != datasets::LABELS_FILE {
            bytes += entry.metadata()?.len();
        }
    }
    let mut rates = Vec::new();
    for _ in 0..args.runs.clamp(1, 3) {
        let home = tempfile::tempdir()?;
        let (registry, admin, _, _) = bench_registry(home.path()).await?;
        let request = crate::registry::catalog::ImportRequest {
            name: "csv",
            dir: dir.path(),
            task,
            source: "bench",
            restricted: false,
        };
        let cpu = process_cpu_time();
        registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
        rates.push(bytes as f64 / 1e6 / process_cpu_time().saturating_sub(cpu).as_secs_f64());
        registry.db.close().await;
    }
    Ok(median_f64(rates))
}

/// Each task's stored run (the dataset imported into the registry, the bundled model approved;
/// loading, running and storing the clues) against DuckDB running the same rule as SQL over the
/// same Parquet files, alternating, with the import's throughput. Both must find the same
/// (subject, rule) pairs on every run.
fn duckdb_figures(
    md: &mut String,
    sandbox: &Sandbox,
    args: &BenchArgs,
    tasks: &[&str],
) -> anyhow::Result<()> {
    use crate::registry::catalog::ImportRequest;
    use crate::registry::plugins::Decision;
    use crate::runs::store::RunRequest;

    writeln!(md, "\n## Sieve against DuckDB (scale {})\n", args.scale)?;
    let mut peer = match duckdb::Peer::start() {
        Ok(peer) => peer,
        Err(why) => {
            eprintln!("DuckDB peer skipped: {why}");
            writeln!(md, "Not measured: {why}.")?;
            return Ok(());
        }
    };
    writeln!(
        md,
        "Sieve: a stored run on the imported dataset, end to end (authorization, reading the declared columns' \
         files and dictionaries, the model in its sandbox, the run and its clues stored in SQLite in one \
         transaction; the parts are shown in brackets), in a long-lived process \
         (the component already loaded), each run a first one: the tables it read are forgotten before it. \
         A second run of the same model (`--fresh`: it runs the model) keeps them decoded, with the \
         groupings the first run's `table.group` calls made, and is shown beside it; then a rerun \
         (the same plugin, dataset version, parameters and limits, without `--fresh`), which is \
         answered from the identical run before it: its clues read back and checked against that \
         run's output digest, and the run recorded. \
         DuckDB {}: the task's rule as SQL (`scripts/duckdb/`), a fresh in-memory connection reading the \
         same Parquet files with its default threads. Runs alternate which goes first; medians; every \
         run of both finds the same (subject, rule) pairs. Import: Parquet into the registry, typed, \
         checked and encoded, the median of up to three imports, each into an empty registry; and the same \
         tables written as CSV, imported likewise, in megabytes of CSV per CPU-second of the whole \
         process (every thread). Two data shapes: `plain` as the generator makes it, and `skewed` \
         (`sieve gen --shape skewed`: 20-digit numeric ids, keys redrawn with Zipf weights, s = 1.2, \
         a tenth of key cells null), with the precision and recall of the clues against its labels.\n",
        peer.version
    )?;
    writeln!(
        md,
        "| task | shape | rows | import M rows/s | CSV import MB per CPU-s | Sieve ms (of it loading / model / storing) | DuckDB ms | **Sieve / DuckDB** | second run ms | second / first | rerun ms | rerun / first | peak RSS MiB (decoded MiB) | **RSS / decoded** | clues | precision | recall |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    let home = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let limits = Limits::default();
    runtime.block_on(async {
        let (registry, admin, approver, token) = bench_registry(home.path()).await?;
        for (task, shape) in tasks.iter().flat_map(|t| [(*t, Shape::Plain), (*t, Shape::Skewed)]) {
            let data = shaped_dataset(&args.data_root, task, args.scale, 1, shape)?;
            let bytes = crate::bundled::get(task).with_context(|| format!("no bundled model {task}"))?;
            let shape_name = if shape == Shape::Plain { "plain" } else { "skewed" };
            let name = format!("{task}-{shape_name}");
            let name = name.as_str();
            let request = ImportRequest { name, dir: &data, task, source: "bench", restricted: false };
            let started = Instant::now();
            let imported = registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
            let mut imports = vec![started.elapsed()];
            // More imports, each into a registry of its own: into this one the blobs would already
            // be stored, and be checked instead of written. A single timing of a 2-second import
            // moved by a fifth from one run to the next.
            for _ in 1..args.runs.min(3) {
                let fresh = tempfile::tempdir()?;
                let (other, other_admin, _, _) = bench_registry(fresh.path()).await?;
                let started = Instant::now();
                other.import_dataset(&other_admin, &request, &|_, _, _| {}).await?;
                imports.push(started.elapsed());
                other.db.close().await;
            }
            let import = median(imports);
            let csv_rate = csv_import_rate(args, task, shape).await?;
            let rows: i64 = imported.dataset.tables.iter().map(|t| t.rows).sum();
            registry.set_dataset_state(&admin, name, true).await?;
            let (plugin, _) = registry.publish(sandbox, &admin, bytes, "").await?;
            if shape == Shape::Plain {
                registry.decide(&approver, &plugin.digest, Decision::Approve, "").await?;
            }

            let (mut sieve, mut peer_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut load, mut model, mut store) = (Vec::new(), Vec::new(), Vec::new());
            let (mut clues, mut scores) = (0, None);
            let labels = scoring::read_labels(&data.join(datasets::LABELS_FILE)).map_err(anyhow::Error::msg)?;
            // One uncounted pair first (page cache, compiled code, the peer's imports).
            for i in 0..=args.runs {
                eprintln!("{name} against DuckDB: run {i}/{}{}", args.runs, if i == 0 { " (warm-up)" } else { "" });
                let request =
                    RunRequest { plugin: &plugin.digest, dataset: name, settings: &[], limits: &limits, fresh: true };
                let run_sieve = async || {
                    registry.decoded.clear();
                    let started = Instant::now();
                    let (_, report) = registry.run(sandbox, &admin, &request, None).await?;
                    anyhow::Ok((started.elapsed(), report))
                };
                let ((wall, report), (peer_wall, found)) = if i % 2 == 0 {
                    let s = run_sieve().await?;
                    (s, peer.run(&data, task)?)
                } else {
                    let p = peer.run(&data, task)?;
                    (run_sieve().await?, p)
                };
                if report.outcome != Outcome::Completed {
                    bail!("{task}: the stored run ended {}", report.outcome);
                }
                let ours: duckdb::Found = report.clues.iter().map(|c| (c.subject.clone(), c.rule.clone())).collect();
                if ours != found {
                    let only_ours = ours.difference(&found).next();
                    let only_theirs = found.difference(&ours).next();
                    bail!(
                        "{task}: Sieve and DuckDB disagree ({} against {} pairs; only Sieve: {only_ours:?}, only DuckDB: {only_theirs:?})",
                        ours.len(),
                        found.len()
                    );
                }
                if i > 0 {
                    ratios.push(wall.as_secs_f64() / peer_wall.as_secs_f64());
                    sieve.push(wall);
                    load.push(report.load);
                    model.push(report.wall);
                    store.push(report.store);
                    peer_times.push(peer_wall);
                }
                clues = ours.len();
                scores = Some(scoring::score(&labels, &report.clues, None));
            }
            // Second runs: the tables the previous run read are still decoded. Then reruns, answered
            // from the identical runs before them.
            let (mut second, mut rerun) = (Vec::new(), Vec::new());
            for fresh in [true, false] {
                for _ in 0..args.runs {
                    let request =
                        RunRequest { plugin: &plugin.digest, dataset: name, settings: &[], limits: &limits, fresh };
                    let started = Instant::now();
                    let (_, report) = registry.run(sandbox, &admin, &request, None).await?;
                    let took = started.elapsed();
                    let ours: duckdb::Found =
                        report.clues.iter().map(|c| (c.subject.clone(), c.rule.clone())).collect();
                    let kind = if fresh { "second" } else { "repeated" };
                    if report.reused.is_some() == fresh || ours.len() != clues {
                        bail!("{task}: a {kind} run found {} pairs against {clues}", ours.len());
                    }
                    if fresh { second.push(took) } else { rerun.push(took) }
                }
            }
            // Memory: the decoded size of what the model declared, and the peak resident memory
            // of a whole `sieve run` process doing the same stored run (its second, so that the
            // compiled code is cached and compiling is not what is measured).
            registry.decoded.clear();
            let request =
                RunRequest { plugin: &plugin.digest, dataset: name, settings: &[], limits: &limits, fresh: true };
            registry.run(sandbox, &admin, &request, None).await?;
            let decoded = registry.decoded.table_bytes();
            let run_args = ["run", plugin.digest.as_str(), "--dataset", name, "--json", "--fresh"];
            child_peak_rss(home.path(), Some(&token), &run_args)?;
            let peak_rss = child_peak_rss(home.path(), Some(&token), &run_args)?;

            let (first, second, rerun) = (median(sieve), median(second), median(rerun));
            let scores = scores.context("no run")?;
            writeln!(
                md,
                "| {task} | {shape_name} | {rows} | {:.1} | {csv_rate:.0} | {:.0} ({:.0} / {:.0} / {:.0}) | {:.0} | **{:.2}x** | {:.0} | {:.2}x | {:.0} | {:.2}x | {:.0} ({:.0}) | **{:.2}x** | {clues} | {:.3} | {:.3} |",
                rows as f64 / import.as_secs_f64() / 1e6,
                ms(first),
                ms(median(load)),
                ms(median(model)),
                ms(median(store)),
                ms(median(peer_times)),
                median_f64(ratios),
                ms(second),
                second.as_secs_f64() / first.as_secs_f64(),
                ms(rerun),
                rerun.as_secs_f64() / first.as_secs_f64(),
                peak_rss as f64 / MIB,
                decoded as f64 / MIB,
                peak_rss as f64 / decoded.max(1) as f64,
                scores.precision,
                scores.recall
            )?;
        }
        registry.db.close().await;
        anyhow::Ok(())
    })
}

const MIB: f64 = (1 << 20) as f64;

/// Peak resident memory, in bytes, of `sieve ARGS` run as a child process with home `home`
/// (as the holder of `token`, for registry commands). Measured through `sieve peak-rss`: Linux carries the peak of the
/// process that spawns a program over into the program's own figure, and this bench process is
/// far larger than the run it measures; a fresh small process in between keeps it out.
fn child_peak_rss(home: &Path, token: Option<&str>, args: &[&str]) -> anyhow::Result<u64> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    if let Some(token) = token {
        command.env("SIEVE_TOKEN", token);
    }
    let output = command
        .arg("peak-rss")
        .args(args)
        .env("SIEVE_HOME", home)
        .env_remove("SIEVE_DATABASE_URL")
        .env_remove("SIEVE_SERVER")
        .stderr(std::process::Stdio::null())
        .output()
        .context("starting `sieve peak-rss`")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("`sieve peak-rss {}` failed: {text}", args.join(" "));
    }
    text.trim().parse().with_context(|| format!("`sieve peak-rss` printed {text:?}"))
}

/// Run `sieve ARGS` as a child, wait for it, and return its peak resident memory in bytes.
pub fn peak_rss_of(args: &[String]) -> anyhow::Result<u64> {
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting `sieve {}`", args.join(" ")))?;
    let mut status = 0;
    // SAFETY: rusage is plain old data, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing only into the two locals passed.
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if waited < 0 {
        bail!("waiting for `sieve {}`: {}", args.join(" "), std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("`sieve {}` failed (wait status {status})", args.join(" "));
    }
    // Linux reports kibibytes.
    Ok(usage.ru_maxrss as u64 * 1024)
}

/// Cold vs warm start of the T1 component, boundary throughput, sha256 throughput.
fn start_up_and_boundary(md: &mut String, warm_sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    let task = "vehicle-insurance-fraud";
    let bytes = crate::bundled::get(task).context("the T1 model is not bundled")?;
    let limits = Limits::default();
    let cold_sandbox = Sandbox::new(None)?;
    warm_sandbox.load(bytes, None).map_err(fail)?;
    let (mut cold, mut warm, mut loaded) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let start = |sandbox: &Sandbox, forget: bool| -> anyhow::Result<Duration> {
            if forget {
                sandbox.forget_loaded();
            }
            let t = Instant::now();
            let p = sandbox.load(bytes, None).map_err(fail)?;
            sandbox.describe(&p).map_err(fail)?;
            Ok(t.elapsed())
        };
        cold.push(start(&cold_sandbox, true)?);
        warm.push(start(warm_sandbox, true)?);
        loaded.push(start(warm_sandbox, false)?);
    }
    let (cold, warm, loaded) = (median(cold), median(warm), median(loaded));

    let buffer = vec![0x5au8; 64 << 20];
    let mut hashing = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        std::hint::black_box(crate::digest::sha256_hex(&buffer));
        hashing.push(t.elapsed());
    }
    let sha = median(hashing);

    writeln!(md, "\n## Start-up and boundary (T1 component, scale {})\n", args.scale)?;
    writeln!(md, "| measurement | value |\n|---|---|")?;
    writeln!(md, "| cold start (compile + instantiate + describe) | {:.1} ms |", ms(cold))?;
    writeln!(md, "| warm start (verified cached artifact + instantiate + describe) | {:.2} ms |", ms(warm))?;
    writeln!(md, "| **cold / warm** | **{:.0}x** |", cold.as_secs_f64() / warm.as_secs_f64())?;
    writeln!(md, "| already loaded in this process (instantiate + describe) | {:.2} ms |", ms(loaded))?;
    let data = dataset(&args.data_root, task, args.scale, 1)?;
    match scan_throughput(warm_sandbox, &data, &limits, args.runs)? {
        Some((time, rows, cells)) => writeln!(
            md,
            "| rows fed into the guest (scan guest loads all {cells} cells of the 4 T1 tables) | {:.1} M rows/s, {:.1} M cells/s ({:.0} ms) |",
            rows as f64 / time.as_secs_f64() / 1e6,
            cells as f64 / time.as_secs_f64() / 1e6,
            ms(time)
        )?,
        None => writeln!(md, "| rows fed into the guest | (scan guest not built: run from a checkout) |")?,
    }
    writeln!(md, "| sha256 throughput | {:.0} MiB/s |", 64.0 / sha.as_secs_f64())?;
    Ok(())
}

/// What the limits cost a hostile model: a loop of cheap host calls against a pure loop under the
/// same fuel (host work is charged, so the two should take similar time), and how long a spinning
/// model runs before the default fuel stops it. Uses the raw test guest, when built.
fn sandbox_figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    let Some((_, path)) = crate::bundled::TEST_GUESTS.iter().find(|(n, _)| *n == "guest-raw") else {
        return Ok(());
    };
    let Ok(bytes) = std::fs::read(path) else { return Ok(()) };
    let plugin = sandbox.load(&bytes, None).map_err(fail)?;
    let info = sandbox.describe(&plugin).map_err(fail)?;
    let data = dataset(&args.data_root, "vehicle-insurance-fraud", 1, 1)?;
    let tables: Arc<[ServedTable]> = Arc::from(datasets::served_to(
        plugin.shares_dictionaries(),
        &info.task,
        datasets::load_for_model(&data, &info)?,
    ));
    let run = |mode: &str, limits: &Limits| -> anyhow::Result<(Duration, u64)> {
        let params = info.resolve_params(&[("mode".into(), mode.into())]).map_err(anyhow::Error::msg)?;
        let exec = sandbox.execute(&plugin, tables.clone(), &params, limits, [0; 32], None);
        if exec.outcome.code() != "out-of-fuel" {
            bail!("the raw guest in mode {mode} ended {}", exec.outcome);
        }
        Ok((exec.wall, exec.host_fuel))
    };
    let budget = Limits { fuel: Some(2_000_000_000), ..Limits::default() };
    let (mut spin, mut reads, mut host_share) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..args.runs {
        spin.push(run("spin", &budget)?.0);
        let (wall, host) = run("read-loop", &budget)?;
        reads.push(wall);
        host_share = host as f64 / 2e9;
    }
    let (spin, reads) = (median(spin), median(reads));
    let defaults = Limits::default();
    let runaway = run("spin", &defaults)?.0;
    writeln!(
        md,
        "
## Sandbox limits (raw test guest, T1 at scale 1)
"
    )?;
    writeln!(
        md,
        "| measurement | value |
|---|---|"
    )?;
    writeln!(md, "| pure loop, 2e9 fuel | {:.0} ms |", ms(spin))?;
    writeln!(
        md,
        "| loop of `table.read` calls (1,024 rows x 2 text columns), 2e9 fuel, {:.0}% of it charged for host work | {:.0} ms |",
        host_share * 100.0,
        ms(reads)
    )?;
    writeln!(
        md,
        "| **host-call loop / pure loop, same fuel** | **{:.2}x** |",
        reads.as_secs_f64() / spin.as_secs_f64()
    )?;
    writeln!(
        md,
        "| a spinning model stopped by the default fuel ({:.2e}) | {:.1} s |",
        defaults.fuel.unwrap_or(0) as f64,
        runaway.as_secs_f64()
    )?;
    Ok(())
}

/// Median time for the scan test guest to load every column of the dataset, with its row and
/// cell counts; `None` when the guest is not built (an installed binary, not a checkout).
fn scan_throughput(
    sandbox: &Sandbox,
    data: &Path,
    limits: &Limits,
    runs: usize,
) -> anyhow::Result<Option<(Duration, usize, u64)>> {
    let Some((_, path)) = crate::bundled::TEST_GUESTS.iter().find(|(n, _)| *n == "guest-scan") else {
        return Ok(None);
    };
    let Ok(bytes) = std::fs::read(path) else { return Ok(None) };
    let plugin = sandbox.load(&bytes, None).map_err(fail)?;
    let info = sandbox.describe(&plugin).map_err(fail)?;
    let tables: Arc<[ServedTable]> = Arc::from(datasets::served_to(
        plugin.shares_dictionaries(),
        &info.task,
        datasets::load_for_model(data, &info)?,
    ));
    let rows = tables.iter().map(|t| t.rows).sum();
    let params = info.resolve_params(&[]).map_err(anyhow::Error::msg)?;
    let mut times = Vec::new();
    let mut cells = 0;
    for _ in 0..runs {
        let exec = sandbox.execute(&plugin, tables.clone(), &params, limits, [0; 32], None);
        if exec.outcome != Outcome::Completed {
            bail!("the scan guest ended {}", exec.outcome);
        }
        times.push(exec.wall);
        cells = exec.cells_read;
    }
    Ok(Some((median(times), rows, cells)))
}

/// The registry's costs on the embedded SQLite: importing the T1 dataset, publishing (with
/// vetting), and a stored run (approval and grant checks, table digests, clue storage) against
/// the same model run ad hoc on the same data directory, alternating.
fn registry_figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    use crate::registry::catalog::ImportRequest;
    use crate::registry::plugins::Decision;
    use crate::runs::store::RunRequest;

    let task = "vehicle-insurance-fraud";
    let data = dataset(&args.data_root, task, args.scale, 1)?;
    let home = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let bytes = crate::bundled::get(task).context("the T1 model is not bundled")?;
    let limits = Limits::default();
    runtime.block_on(async {
        let (registry, admin, approver, _) = bench_registry(home.path()).await?;
        let request = ImportRequest { name: "t1", dir: &data, task, source: "bench", restricted: false };
        let started = Instant::now();
        let imported = registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
        let import = started.elapsed();
        let rows: i64 = imported.dataset.tables.iter().map(|t| t.rows).sum();
        registry.set_dataset_state(&admin, "t1", true).await?;
        let started = Instant::now();
        let (plugin, _) = registry.publish(sandbox, &admin, bytes, "").await?;
        let publish = started.elapsed();
        registry.decide(&approver, &plugin.digest, Decision::Approve, "").await?;

        let (mut stored, mut adhoc) = (Vec::new(), Vec::new());
        let mut clues = 0;
        for i in 0..args.runs {
            eprintln!("registry: run {}/{}", i + 1, args.runs);
            let request =
                RunRequest { plugin: &plugin.digest, dataset: "t1", settings: &[], limits: &limits, fresh: true };
            // Each stored run reads its tables, as the ad hoc one does.
            registry.decoded.clear();
            let started = Instant::now();
            let (run, _) = registry.run(sandbox, &admin, &request, None).await?;
            stored.push(started.elapsed());
            clues = run.clues;
            let started = Instant::now();
            let no_engine = crate::runs::engine_given(None);
            let report = crate::runs::run_on_dir(sandbox, bytes, no_engine, None, &data, &[], &limits, None);
            adhoc.push(started.elapsed());
            if report.outcome != Outcome::Completed {
                bail!("ad hoc run: {}", report.outcome);
            }
        }
        let (stored, adhoc) = (median(stored), median(adhoc));
        writeln!(md, "\n## Registry (embedded SQLite, T1 at scale {})\n", args.scale)?;
        writeln!(md, "| measurement | value |\n|---|---|")?;
        writeln!(
            md,
            "| import {rows} rows from Parquet (typed, checked against the contract, stored content-addressed) | {:.0} ms, {:.1} M rows/s |",
            ms(import),
            rows as f64 / import.as_secs_f64() / 1e6
        )?;
        writeln!(md, "| publish with vetting (compile, describe, a fresh canary, two canary runs, the parameter sweep) | {:.0} ms |", ms(publish))?;
        writeln!(
            md,
            "| stored run ({clues} clues kept; column files, tables not kept between runs) vs the same run ad hoc on the directory (Parquet) | {:.0} ms vs {:.0} ms: **{:.2}x** |",
            ms(stored),
            ms(adhoc),
            stored.as_secs_f64() / adhoc.as_secs_f64()
        )?;
        registry.db.close().await;
        Ok(())
    })
}

/// Competition costs: scoring a million clues (plainly, and on both sides of a split with the
/// bootstrap intervals), and a 20-submission T2 competition run on a pool of one worker and then
/// of one per core, side by side.
fn competition_figures(md: &mut String, sandbox: &Sandbox, args: &BenchArgs) -> anyhow::Result<()> {
    use crate::competition::competitions::Transition;
    use crate::competition::split::Split;
    use crate::competition::submissions::score_sides;
    use crate::competition::{BenchmarkRequest, CompetitionRequest};
    use crate::registry::Role;
    use crate::registry::catalog::ImportRequest;
    use crate::registry::plugins::Decision;
    use crate::scoring::{Label, Metric};

    // A million subjects, one clue each with a pseudo-random score; one in twenty labelled.
    let n = 1_000_000usize;
    let subjects: Vec<String> = (0..n).map(|i| format!("(2026)浙0102民初{i:07}号")).collect();
    let labels: Vec<Label> = (0..n)
        .step_by(20)
        .map(|i| Label { subject: subjects[i].clone(), pattern: ["a", "b"][i / 20 % 2].into() })
        .collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let clues: Vec<sieve_sdk::Clue> = subjects
        .iter()
        .map(|s| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            sieve_sdk::Clue::new(s.as_str(), (state >> 11) as f64 / (1u64 << 53) as f64, "r", "")
        })
        .collect();
    let split = Split::new(&subjects, &labels, 0.3, 1).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut plain, mut sides) = (Vec::new(), Vec::new());
    for i in 0..args.runs {
        eprintln!("scoring: run {}/{}", i + 1, args.runs);
        let started = Instant::now();
        let s = scoring::score(&labels, &clues, None);
        plain.push(started.elapsed());
        std::hint::black_box(s);
        let started = Instant::now();
        let both = score_sides(&labels, &split, &clues, labels.len(), Metric::F0_5, 1);
        sides.push(started.elapsed());
        std::hint::black_box(both);
    }
    writeln!(md, "\n## Competitions\n")?;
    writeln!(md, "| measurement | value |\n|---|---|")?;
    writeln!(
        md,
        "| score 1,000,000 clues against 50,000 labels (precision, recall, F1, F0.5, P@k, AP, per pattern) | {:.0} ms |",
        ms(median(plain))
    )?;
    writeln!(
        md,
        "| the same on both sides of a 30/70 split, each with a {}-round bootstrap interval of F0.5 | {:.0} ms |",
        crate::competition::bootstrap::ROUNDS,
        ms(median(sides))
    )?;

    let task = "private-lending-fraud";
    let data = dataset(&args.data_root, task, args.scale, 1)?;
    let home = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    runtime.block_on(async {
        let (registry, admin, approver, _) = bench_registry(home.path()).await?;
        let organizer = registry.add_user(&admin, "organizer", "province", &[Role::Organizer]).await?.1;
        let organizer = registry.authenticate(Some(&organizer)).await?;
        let request = ImportRequest { name: "lending", dir: &data, task, source: "bench", restricted: false };
        registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
        registry.set_dataset_state(&admin, "lending", true).await?;
        let benchmark = BenchmarkRequest::new("lending", "lending");
        registry.create_benchmark(&organizer, &benchmark).await?;
        let bundled = crate::bundled::get(task).context("the T2 model is not bundled")?;
        let entries: Vec<&[u8]> =
            std::iter::once(bundled).chain(crate::bundled::DEMO_ENTRIES.iter().map(|(_, b)| *b)).collect();
        let mut entrants = Vec::new();
        for office in 0..7 {
            let org = format!("office-{office}");
            registry.add_org(&admin, &org, "province").await?;
            let token = registry.add_user(&admin, &format!("entrant-{office}"), &org, &[Role::Author]).await?.1;
            entrants.push(registry.authenticate(Some(&token)).await?);
        }
        let mut digests = Vec::new();
        for bytes in &entries {
            let (plugin, _) = registry.publish(sandbox, &entrants[0], bytes, "").await?;
            registry.decide(&approver, &plugin.digest, Decision::Approve, "").await?;
            digests.push(plugin.digest);
        }
        let mut results = Vec::new();
        for (name, pool) in [("serial", 1usize), ("pooled", cores)] {
            let cup = CompetitionRequest::new(name, "lending");
            registry.create_competition(&organizer, &cup).await?;
            registry.change_competition(&organizer, name, Transition::Open).await?;
            let at = crate::storage::now_ms();
            let mut submitted = 0;
            'outer: for entrant in &entrants {
                for digest in &digests {
                    if submitted == 20 {
                        break 'outer;
                    }
                    registry.submit(entrant, name, digest, at).await?;
                    submitted += 1;
                }
            }
            eprintln!("competition: {submitted} submissions on a pool of {pool}");
            let started = Instant::now();
            let done = registry.work_queue(sandbox, pool, None, std::sync::Arc::new(|_| {})).await?;
            results.push((pool, done, started.elapsed()));
        }
        let (serial, pooled) = (results[0], results[1]);
        writeln!(
            md,
            "| a {}-submission T2 competition at scale {} (run, store clues, score both sides), one worker (this pass runs first) | {:.1} s |",
            serial.1,
            args.scale,
            serial.2.as_secs_f64()
        )?;
        writeln!(
            md,
            "| the same with a pool of {} workers (one per core) | {:.1} s: **{:.2}x** faster |",
            pooled.0,
            pooled.2.as_secs_f64(),
            serial.2.as_secs_f64() / pooled.2.as_secs_f64()
        )?;
        registry.db.close().await;
        Ok(())
    })
}
