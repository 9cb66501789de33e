//! The `sieve` command line: parse, call the library, print. No domain logic lives here.

mod accounts;
mod bench;
mod build;
mod competitions;
mod datasets;
mod demo;
mod inspect;
mod loadtest;
mod plugins;
mod policy;
mod remote;
mod run;
mod runs;
mod scaleout;
mod serve;
mod session;
mod sql_engines;
mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::generate::{self, Format};
use crate::sandbox::{Limits, Sandbox, outcome::EXIT_CODES};
use crate::scoring;

/// Sieve: run community supervision models as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "sieve", version, about, long_about = None)]
pub struct Cli {
    /// State directory (registry database, blobs, compiled-code cache). Default: $SIEVE_HOME or ~/.sieve.
    #[arg(long, global = true, env = "SIEVE_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(flatten)]
    registry: session::RegistryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a model's source directory into a component (Python: app.py, with componentize-py).
    Build(build::BuildArgs),
    /// Generate a synthetic dataset for a supervision task (tables + labels.csv).
    Gen(GenArgs),
    /// Run a model: a component on a directory (ad hoc), or a registered plugin on a registered dataset (stored).
    #[command(after_help = EXIT_CODES)]
    Run(run::RunArgs),
    /// Create the registry: root procuratorate and first admin; prints the admin's token.
    Init(accounts::InitArgs),
    /// Who the token in SIEVE_TOKEN / --token belongs to.
    Whoami {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Procuratorates (province > city > county).
    Org {
        #[command(subcommand)]
        command: accounts::OrgCommand,
    },
    /// Users, roles and tokens.
    User {
        #[command(subcommand)]
        command: accounts::UserCommand,
    },
    /// Plugins: publish, vet, approve, reject, revoke, list, show.
    Plugin {
        #[command(subcommand)]
        command: plugins::PluginCommand,
    },
    /// Datasets: import, approve, retire, grant, unrestrict, list, show.
    Dataset {
        #[command(subcommand)]
        command: datasets::DatasetCommand,
    },
    /// SQL engines: the component SQL models run on (installed by a root admin).
    #[command(name = "sql-engine")]
    SqlEngine {
        #[command(subcommand)]
        command: sql_engines::SqlEngineCommand,
    },
    /// The run policy: the most a stored run may consume (set by a root admin).
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Benchmarks: a labelled dataset with hidden labels and a public/private split (organizers).
    Benchmark {
        #[command(subcommand)]
        command: competitions::BenchmarkCommand,
    },
    /// Competitions: create, open, submit, leaderboard, finalize, rescore.
    Competition {
        #[command(subcommand)]
        command: competitions::CompetitionCommand,
    },
    /// Stored runs: list, show, clues, export, release.
    Runs {
        #[command(subcommand)]
        command: runs::RunsCommand,
    },
    /// The hash-chained, signed audit log: show, verify, checkpoint, key.
    Audit {
        #[command(subcommand)]
        command: accounts::AuditCommand,
    },
    /// Show a component's digest, size, API version, imports and model description.
    Inspect(inspect::InspectArgs),
    /// The models bundled in this binary.
    Bundled {
        #[command(subcommand)]
        command: BundledCommand,
    },
    /// Score clues against labels: precision, recall, F1, F0.5, precision@k, AP, per-pattern recall.
    Score(ScoreArgs),
    /// The whole platform in a throwaway registry: import, vet, approve, run and score every task.
    Demo(demo::DemoArgs),
    /// Measure the host: WASM vs native, cold vs warm start, sha256, rows/s; writes BENCHMARKS.md.
    Bench(bench::BenchArgs),
    /// Serve the HTTP API (and run queued work) on this registry.
    Serve(serve::ServeArgs),
    /// Run queued runs and competition submissions, with no HTTP server (one of many hosts on
    /// one PostgreSQL database and object store)
    Worker(worker::WorkerArgs),
    /// Load-test the server on loopback (a throwaway registry); writes its section of BENCHMARKS.md.
    Loadtest(loadtest::LoadtestArgs),
    /// Measure the run queue with 1, 2 and 4 worker processes on one database (a throwaway
    /// PostgreSQL database with --postgres): runs per minute, queue latency of a burst; writes
    /// its section of BENCHMARKS.md.
    Scaleout(scaleout::ScaleoutArgs),
    /// Internal: compile a component from stdin to an artifact on stdout (the sandbox runs this
    /// under a timeout and a memory cap).
    #[command(name = "compile-worker", hide = true)]
    CompileWorker,
    /// Internal: run `sieve ARGS` as a child and print its peak resident memory in bytes (the
    /// bench's memory figure; see `bench::peak_rss_of`).
    #[command(name = "peak-rss", hide = true)]
    PeakRss {
        /// The arguments of the `sieve` command to measure.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum BundledCommand {
    /// List the bundled models with their digests.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a bundled model's component to a file.
    Export {
        /// Model name (see `sieve bundled list`).
        name: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct GenArgs {
    /// Task id (see --list).
    #[arg(required_unless_present = "list")]
    task: Option<String>,
    /// List the tasks the generator knows.
    #[arg(long)]
    list: bool,
    /// Size: 1 is about 10k rows in the largest table, 100 about 1M.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    scale: u32,
    /// Random seed: the same seed and scale give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Table file format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Data shape: `plain` as the generator makes it, or `skewed`: 20-digit numeric ids, keys
    /// redrawn with Zipf weights (s = 1.2) and a tenth of key cells null (labels still exact).
    #[arg(long, value_enum, default_value_t = generate::Shape::Plain)]
    shape: generate::Shape,
}

#[derive(Args)]
struct ScoreArgs {
    /// labels.csv with `subject` and `pattern` columns.
    #[arg(long)]
    labels: PathBuf,
    /// Clues as JSON lines (as written by `sieve run --out`).
    #[arg(long)]
    clues: PathBuf,
    /// Review budget for precision@k (default: the number of labelled subjects).
    #[arg(long)]
    k: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Limit flags shared by commands that run models. One budget covers the whole run
/// (instantiation, describe() and run()); the README's sandbox section explains each. A flag left
/// out takes the default (for a stored run: the registry's run policy, which it may not exceed).
#[derive(Args, Clone)]
pub struct LimitArgs {
    /// Fuel budget: about one unit per WebAssembly instruction, plus the host's work for the
    /// model; 1e6 to 1e13, or 0 to turn it off. Accepts 25e9. [default: 2.58e10]
    #[arg(long)]
    fuel: Option<f64>,
    /// Wall-clock deadline in seconds (0.01 to 86400). [default: 60]
    #[arg(long)]
    deadline: Option<f64>,
    /// Linear memory the model may grow to, in MiB (1 to 4096). [default: 1024]
    #[arg(long)]
    memory_mib: Option<f64>,
    /// Host memory held for the model (its clues and logs, the batch being built), in MiB. [default: 512]
    #[arg(long)]
    max_host_mib: Option<f64>,
    /// Most clues a run may emit. [default: 200000]
    #[arg(long)]
    max_clues: Option<f64>,
    /// Most bytes of clue text a run may emit. [default: 134217728]
    #[arg(long)]
    max_output_bytes: Option<f64>,
    /// Most bytes a run may log (each line counts 64 bytes besides its text). [default: 1048576]
    #[arg(long)]
    max_log_bytes: Option<f64>,
}

impl LimitArgs {
    /// The limits given, the sandbox's defaults for the rest; each checked against its range.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        self.limits_over(&Limits::default())
    }

    /// The limits given, `base` for the rest; each given one checked against its range (an
    /// error names the flag and the range).
    pub fn limits_over(&self, base: &Limits) -> anyhow::Result<Limits> {
        Ok(self.overrides().apply(base)?)
    }

    fn overrides(&self) -> crate::sandbox::limits::Overrides {
        crate::sandbox::limits::Overrides {
            fuel: self.fuel,
            deadline: self.deadline,
            memory_mib: self.memory_mib,
            max_host_mib: self.max_host_mib,
            max_clues: self.max_clues,
            max_output_bytes: self.max_output_bytes,
            max_log_bytes: self.max_log_bytes,
        }
    }

    /// The limits given, as the API takes them (the server applies its run policy to the rest).
    pub fn overrides_json(&self) -> serde_json::Value {
        let o = self.overrides();
        let mut v = serde_json::Map::new();
        for (k, x) in [
            ("fuel", o.fuel),
            ("deadline", o.deadline),
            ("memory_mib", o.memory_mib),
            ("max_host_mib", o.max_host_mib),
            ("max_clues", o.max_clues),
            ("max_output_bytes", o.max_output_bytes),
            ("max_log_bytes", o.max_log_bytes),
        ] {
            if let Some(x) = x {
                v.insert(k.into(), x.into());
            }
        }
        serde_json::Value::Object(v)
    }
}

/// `sieve runs list | head` closes stdout before `sieve` is done printing, and `println!` then
/// panics. Like `cat` or `grep`, end quietly with 141 (128 + SIGPIPE) instead of a backtrace.
/// Restoring SIGPIPE's default action would do the same, but would also let a peer that closes
/// a socket kill `sieve serve`.
fn end_quietly_when_stdout_closes() {
    let report_panic = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        let broken_pipe = format!("(os error {})", libc::EPIPE);
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains(&broken_pipe)) {
            std::process::exit(128 + libc::SIGPIPE);
        }
        report_panic(info);
    }));
}

/// Entry point: returns the process exit status.
pub fn main() -> i32 {
    crate::storage::restrict_new_files();
    end_quietly_when_stdout_closes();
    session::warn_about_secrets_in(&std::env::args().collect::<Vec<_>>());
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote names and data from files and models: never let them drive the terminal.
            eprintln!("error: {}", crate::text::escape_multiline(&format!("{e:#}")));
            if let Some(r) = e.downcast_ref::<remote::RemoteError>() {
                return r.exit_code();
            }
            e.downcast_ref::<crate::registry::RegistryError>().map_or(1, |r| r.exit_code())
        }
    }
}

fn home_dir(home: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(h) = home {
        return Ok(h);
    }
    let base = std::env::var_os("HOME").context("neither --home, SIEVE_HOME nor HOME is set")?;
    Ok(PathBuf::from(base).join(".sieve"))
}

/// The file under `<home>/keys/` holding the compiled-code cache's MAC key.
const CACHE_KEY: &str = "cache.key";

/// The sandbox with its compiled-code cache under `home`, compiling in a bounded worker process.
fn sandbox(home: &Path) -> anyhow::Result<Sandbox> {
    crate::storage::prepare_home(home)?;
    let cache = home.join("cache").join("compiled");
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let key = crate::storage::keys::load_or_create(home, CACHE_KEY, crate::sandbox::cache::KEY_BYTES)?;
    let program = std::env::current_exe().context("locating the sieve executable for the compiler worker")?;
    Ok(Sandbox::new(Some((cache, key)))?.compile_in_worker(program).with_compile_limits(compile_limits()?))
}

/// The compile limits, with the worker's timeout and memory cap from `SIEVE_COMPILE_TIMEOUT`
/// (seconds) and `SIEVE_COMPILE_MEMORY_MIB` when set: an operator's settings, not a model author's.
fn compile_limits() -> anyhow::Result<crate::sandbox::compile::CompileLimits> {
    use crate::sandbox::limits::Range;
    let mut limits = crate::sandbox::compile::CompileLimits::default();
    let setting = |name: &'static str, range: Range| -> anyhow::Result<Option<f64>> {
        let Ok(text) = std::env::var(name) else { return Ok(None) };
        let value: f64 =
            text.trim().parse().map_err(|_| anyhow::anyhow!("{name} must be a number, got {text:?}"))?;
        Ok(Some(range.check(value, &text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?))
    };
    let timeout = Range { flag: "the compile timeout", min: 1.0, max: 3600.0, unit: "seconds" };
    if let Some(seconds) = setting("SIEVE_COMPILE_TIMEOUT", timeout)? {
        limits.timeout = Duration::from_secs_f64(seconds);
    }
    let memory = Range { flag: "the compile memory cap", min: 64.0, max: 65_536.0, unit: "MiB" };
    if let Some(mib) = setting("SIEVE_COMPILE_MEMORY_MIB", memory)? {
        limits.memory_bytes = (mib as u64) << 20;
    }
    // The default (128 MiB) fits a CPython or SpiderMonkey component several times over.
    let size = Range { flag: "the component size limit", min: 1.0, max: 1024.0, unit: "MiB" };
    if let Some(mib) = setting("SIEVE_MAX_COMPONENT_MIB", size)? {
        limits.max_component_bytes = (mib as usize) << 20;
    }
    Ok(limits)
}

/// A progress bar on stderr in `template`'s style; indicatif draws nothing when stderr is not a terminal.
fn progress_bar(template: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    )
}

/// The bytes of `component`: a file path, or the name of a bundled model.
fn component_bytes(component: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(component);
    if path.exists() {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    if let Some(bytes) = crate::bundled::get(component) {
        return Ok(bytes.to_vec());
    }
    if let Some(text) = crate::bundled::sql_model(component) {
        return Ok(text.as_bytes().to_vec());
    }
    let names: Vec<&str> =
        crate::bundled::names().chain(crate::bundled::SQL_MODELS.iter().map(|(name, _)| *name)).collect();
    bail!("{component:?} is neither a file nor a bundled model (bundled: {})", names.join(", "))
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Gen(args) => gen_command(args),
        Command::Build(args) => build::build(args),
        Command::Run(args) => run::run(home_dir(cli.home)?, &cli.registry, args),
        Command::Init(args) => accounts::init(&home_dir(cli.home)?, &cli.registry, args),
        Command::Whoami { json } => accounts::whoami(&home_dir(cli.home)?, &cli.registry, json),
        Command::Org { command } => accounts::org(&home_dir(cli.home)?, &cli.registry, command),
        Command::User { command } => accounts::user(&home_dir(cli.home)?, &cli.registry, command),
        Command::Plugin { command } => plugins::plugin(&home_dir(cli.home)?, &cli.registry, command),
        Command::Dataset { command } => datasets::dataset(&home_dir(cli.home)?, &cli.registry, command),
        Command::Runs { command } => runs::runs(&home_dir(cli.home)?, &cli.registry, command),
        Command::Benchmark { command } => {
            competitions::benchmark(&home_dir(cli.home)?, &cli.registry, command)
        }
        Command::Competition { command } => {
            competitions::competition(&home_dir(cli.home)?, &cli.registry, command)
        }
        Command::SqlEngine { command } => {
            sql_engines::sql_engine(&home_dir(cli.home)?, &cli.registry, command)
        }
        Command::Policy { command } => policy::policy(&home_dir(cli.home)?, &cli.registry, command),
        Command::Audit { command } => accounts::audit(&home_dir(cli.home)?, &cli.registry, command),
        Command::Inspect(args) => inspect::inspect(home_dir(cli.home)?, args),
        Command::Bundled { command } => bundled_command(command),
        Command::Score(args) => score_command(args),
        Command::Demo(args) => demo::demo(args),
        Command::Bench(args) => bench::bench(args),
        Command::Serve(args) => serve::serve(&home_dir(cli.home)?, &cli.registry, args),
        Command::Worker(args) => worker::worker(&home_dir(cli.home)?, &cli.registry, args),
        Command::Loadtest(args) => loadtest::loadtest(args),
        Command::Scaleout(args) => scaleout::scaleout(args),
        Command::CompileWorker => Ok(crate::sandbox::compile::worker_main()),
        Command::PeakRss { args } => bench::peak_rss_of(&args).map(|bytes| {
            println!("{bytes}");
            0
        }),
    }
}

fn gen_command(args: GenArgs) -> anyhow::Result<i32> {
    if args.list {
        for t in generate::TASKS {
            println!("{:<28} {}", t.id, t.summary);
        }
        return Ok(0);
    }
    let (Some(task), Some(out)) = (args.task, args.out) else { bail!("give a task and --out DIR") };
    let task = generate::task(&task)?;
    let bar = progress_bar("{spinner} {msg} [{bar:30}] {pos}/{len} files");
    bar.set_message(format!("generating {} at scale {}", task.id, args.scale));
    bar.enable_steady_tick(Duration::from_millis(120));
    let counts =
        task.write_shaped(args.scale, args.seed, args.shape, &out, args.format, &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
    bar.finish_and_clear();
    println!("wrote {} (task {}, scale {}, seed {}):", out.display(), task.id, args.scale, args.seed);
    for (table, rows) in counts {
        println!("  {table:<14} {rows:>10} rows");
    }
    Ok(0)
}

fn bundled_command(command: BundledCommand) -> anyhow::Result<i32> {
    match command {
        BundledCommand::List { json } => {
            // SQL models show the digest of their text: their identity also needs the engine.
            let rows: Vec<serde_json::Value> = crate::bundled::names()
                .filter_map(|n| crate::bundled::get(n).map(|b| (n, b)))
                .chain(crate::bundled::SQL_MODELS.iter().map(|(n, text)| (*n, text.as_bytes())))
                .map(|(n, b)| serde_json::json!({"name": n, "digest": crate::digest::digest_of(b), "size": b.len()}))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in rows {
                    println!(
                        "{:<33} {} {:>9} bytes",
                        r["name"].as_str().unwrap_or_default(),
                        r["digest"].as_str().unwrap_or_default(),
                        r["size"]
                    );
                }
            }
        }
        BundledCommand::Export { name, out } => {
            let bytes = crate::bundled::get(&name)
                .or_else(|| crate::bundled::sql_model(&name).map(str::as_bytes))
                .with_context(|| {
                    let names: Vec<&str> = crate::bundled::names()
                        .chain(crate::bundled::SQL_MODELS.iter().map(|(name, _)| *name))
                        .collect();
                    format!("no bundled model {name:?} (bundled: {})", names.join(", "))
                })?;
            std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!("{} -> {} ({})", name, out.display(), crate::digest::digest_of(bytes));
        }
    }
    Ok(0)
}

fn score_command(args: ScoreArgs) -> anyhow::Result<i32> {
    let labels = scoring::read_labels(&args.labels).map_err(anyhow::Error::msg)?;
    let text =
        std::fs::read_to_string(&args.clues).with_context(|| format!("reading {}", args.clues.display()))?;
    let clues =
        crate::clues::from_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.clues.display()))?;
    let scores = scoring::score(&labels, &clues, args.k);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
    } else {
        print_scores(&scores);
    }
    Ok(0)
}

fn print_scores(s: &scoring::Scores) {
    println!("flagged {} subjects, {} labelled, {} true", s.flagged, s.labelled, s.true_positives);
    println!("precision          {:.4}", s.precision);
    println!("recall             {:.4}", s.recall);
    println!("F1                 {:.4}", s.f1);
    println!("F0.5               {:.4}", s.f0_5);
    println!("precision@{:<8} {:.4}", s.k, s.precision_at_k);
    println!("average precision  {:.4}", s.average_precision);
    for (pattern, recall) in &s.per_pattern {
        println!("recall[{pattern}] {recall:.4}");
    }
}
