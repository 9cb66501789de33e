//! `sieve scaleout`: the run queue with 1, 2 and 4 `sieve worker` processes on one database
//! (a throwaway PostgreSQL database with `--postgres`, else the embedded SQLite), each pass
//! draining the same mix of the seven bundled models on their datasets: runs per minute, queue
//! latency under a burst, and how fast an idle worker in another process picks up a single run. Writes its section of BENCHMARKS.md.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use sqlx::Row;

use crate::generate;
use crate::registry::catalog::ImportRequest;
use crate::registry::plugins::Decision;
use crate::registry::{Actor, Registry, Role};
use crate::runs::store::RunRequest;
use crate::sandbox::Limits;

/// Arguments of `sieve scaleout`.
#[derive(Args)]
pub struct ScaleoutArgs {
    /// PostgreSQL server on which a throwaway database is created and dropped afterwards (the
    /// URL's user needs CREATEDB). Without it, the embedded SQLite (one host only).
    #[arg(long)]
    postgres: Option<String>,
    /// Scale of the seven tasks' datasets.
    #[arg(long, default_value_t = 10)]
    scale: u32,
    /// Worker processes in each pass (each runs one run at a time).
    #[arg(long, default_value = "1,2,4", value_delimiter = ',')]
    workers: Vec<usize>,
    /// Runs queued in each pass, spread over the seven models.
    #[arg(long, default_value_t = 70)]
    runs: usize,
    /// Runs queued at once for the latency figure.
    #[arg(long, default_value_t = 100)]
    burst: usize,
    /// Where generated benchmark data is kept between invocations.
    #[arg(long, default_value = "bench-data")]
    data_root: PathBuf,
    /// Markdown file whose "Scale-out" section is replaced (under the kept heading).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

/// Worker processes of one pass, stopped (SIGTERM, then waited for) when dropped.
struct Workers(Vec<Child>);

impl Workers {
    /// Start `n` `sieve worker` processes on the registry at `home` (and `url`), and wait until
    /// each says it is taking work.
    fn start(n: usize, home: &std::path::Path, url: Option<&str>) -> anyhow::Result<Workers> {
        let exe = std::env::current_exe().context("locating the sieve executable")?;
        let mut workers = Workers(Vec::new());
        for _ in 0..n {
            let mut cmd = Command::new(&exe);
            cmd.args(["worker", "--concurrency", "1", "--grace", "120"])
                .env("SIEVE_HOME", home)
                .env_remove("SIEVE_DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some(url) = url {
                cmd.env("SIEVE_DATABASE_URL", url);
            }
            let mut child = cmd.spawn().context("starting sieve worker")?;
            let err = child.stderr.take().context("worker stderr")?;
            workers.0.push(child);
            let mut lines = BufReader::new(err).lines();
            loop {
                match lines.next() {
                    Some(Ok(line)) if line.starts_with("sieve worker:") => break,
                    Some(Ok(_)) => {}
                    _ => bail!("a sieve worker ended before it started taking work"),
                }
            }
            // Keep reading its log so it never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
        }
        Ok(workers)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &self.0 {
            // SAFETY: kill only sends a signal to a child process this struct started.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// A stored timestamp (`2026-11-29T08:30:00.123Z`) as epoch milliseconds.
fn stored_ms(text: &str) -> Option<i64> {
    let (seconds, millis) = text.strip_suffix('Z')?.split_once('.')?;
    Some(sieve_sdk::data::parse_timestamp(seconds)? + millis.parse::<i64>().ok()?)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// What one batch of queued runs took.
struct Drained {
    elapsed: Duration,
    /// Queue latencies (queued → claimed), milliseconds, sorted.
    latencies: Vec<i64>,
    /// Claimed → stored, milliseconds, sorted.
    in_worker: Vec<i64>,
    /// Of that, in the sandbox (load and run), milliseconds, sorted.
    in_sandbox: Vec<i64>,
}

/// The registry under measurement, the admin who queues, and the approved models with the
/// dataset each runs on.
struct Bench {
    registry: Registry,
    admin: Actor,
    models: Vec<(String, String)>,
}

impl Bench {
    /// Queue `n` runs (the models in turn) and wait until every one has ended.
    async fn drain(&self, n: usize) -> anyhow::Result<Drained> {
        let limits = Limits::default();
        let started = Instant::now();
        let mut first = None;
        for i in 0..n {
            let (plugin, dataset) = &self.models[i % self.models.len()];
            let request = RunRequest { plugin, dataset, settings: &[], limits: &limits, fresh: true };
            let run = self.registry.enqueue_run(&self.admin, &request).await?;
            first.get_or_insert(run.id);
        }
        let first = first.context("no runs queued")?;
        loop {
            let left: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM runs WHERE id >= $1 AND state IN ('queued', 'running')",
            )
            .bind(first)
            .fetch_one(self.registry.db.pool())
            .await?
            .try_get("n")?;
            if left == 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(3600) {
                bail!("{left} runs still waiting after an hour");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed();
        let rows = sqlx::query(
            "SELECT r.state, r.outcome, r.started_at, r.finished_at, r.wall_ms, a.at FROM runs r JOIN audit_events a \
             ON a.target = CAST(r.id AS TEXT) AND a.action = 'run.queue' WHERE r.id >= $1",
        )
        .bind(first)
        .fetch_all(self.registry.db.pool())
        .await?;
        let (mut latencies, mut in_worker, mut in_sandbox) = (Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            let state: String = row.try_get("state")?;
            if state != "completed" {
                bail!("a run ended {state}: {:?}", row.try_get::<Option<String>, _>("outcome")?);
            }
            let claimed: String = row.try_get("started_at")?;
            let queued: String = row.try_get("at")?;
            let finished: String = row.try_get("finished_at")?;
            let (Some(c), Some(q), Some(f)) = (stored_ms(&claimed), stored_ms(&queued), stored_ms(&finished))
            else {
                bail!("unreadable times {claimed:?}, {queued:?}, {finished:?}");
            };
            latencies.push(c - q);
            in_worker.push(f - c);
            in_sandbox.push(row.try_get::<f64, _>("wall_ms")? as i64);
        }
        for v in [&mut latencies, &mut in_worker, &mut in_sandbox] {
            v.sort_unstable();
        }
        Ok(Drained { elapsed, latencies, in_worker, in_sandbox })
    }
}

/// Measure and write the section.
pub fn scaleout(args: ScaleoutArgs) -> anyhow::Result<i32> {
    if args.workers.is_empty() || args.workers.contains(&0) || args.runs == 0 || args.burst == 0 {
        bail!("--workers takes counts of at least 1, and --runs and --burst at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let database = match &args.postgres {
        Some(server) => Some(runtime.block_on(throwaway_database(server))?),
        None => None,
    };
    let result = runtime.block_on(measure(&args, database.as_ref().map(|(url, _)| url.as_str())));
    if let (Some((_, drop)), Some(server)) = (database, &args.postgres) {
        runtime.block_on(drop_database(server, &drop))?;
    }
    let section = result?;
    let heading =
        format!("### Scale-out at scale {}: worker processes on one database (`sieve scaleout`)", args.scale);
    super::bench::write_kept_section(&args.out, &heading, &section)?;
    Ok(0)
}

/// A fresh database on `server`: its URL and name.
async fn throwaway_database(server: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let name = format!("sieve_scaleout_{}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(server).await.context("connecting to --postgres")?;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .context("creating a database")?;
    let (base, _) = server.rsplit_once('/').context("--postgres must end in /DATABASE")?;
    Ok((format!("{base}/{name}"), name))
}

async fn drop_database(server: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::AnyConnection::connect(server).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await?;
    Ok(())
}

async fn measure(args: &ScaleoutArgs, url: Option<&str>) -> anyhow::Result<String> {
    let root = tempfile::tempdir()?;
    let home = root.path().join("home");
    let registry = Registry::open(&home, url).await?;
    let sandbox = super::sandbox(&home)?;
    let admin = registry.init("province", "admin").await?;
    let admin = registry.authenticate(Some(&admin)).await?;
    let approver = registry.add_user(&admin, "approver", "province", &[Role::Admin]).await?.1;
    let approver = registry.authenticate(Some(&approver)).await?;
    let limits = Limits::default();
    let mut models = Vec::new();
    let mut single = Vec::new();
    for task in generate::TASKS.iter().map(|t| t.id) {
        eprintln!("scaleout: {task} at scale {}", args.scale);
        let dir = super::bench::dataset(&args.data_root, task, args.scale, 1)?;
        let request = ImportRequest { name: task, dir: &dir, task, source: "scaleout", restricted: false };
        registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
        registry.set_dataset_state(&admin, task, true).await?;
        let bytes = crate::bundled::get(task).with_context(|| format!("{task}'s model is not bundled"))?;
        let (plugin, _) = registry.publish(&sandbox, &admin, bytes, "").await?;
        registry.decide(&approver, &plugin.digest, Decision::Approve, "").await?;
        // One run here compiles the model into the cache the workers share, and times a run
        // made directly, with no queue.
        let request =
            RunRequest { plugin: &plugin.digest, dataset: task, settings: &[], limits: &limits, fresh: true };
        registry.decoded.clear();
        let started = Instant::now();
        registry.run(&sandbox, &admin, &request, None).await?;
        single.push(started.elapsed());
        models.push((plugin.digest, task.to_string()));
    }
    let direct: Duration = single.iter().sum::<Duration>() / single.len() as u32;
    let bench = Bench { registry, admin, models };

    let mut md = String::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = if url.is_some() { "PostgreSQL (a throwaway database)" } else { "the embedded SQLite" };
    writeln!(
        md,
        "`cargo run --release -- scaleout{} --scale {} --runs {} --burst {}` on {cores} cores: {engine}, blobs in {}. \
         Each pass starts its worker processes (one run at a time each), queues {} runs (the seven bundled models on \
         their scale-{} datasets, in turn) and times until every run ended. A run made directly, with no queue, takes \
         {:.0} ms on average over the seven. Queue latency is from `run.queue` to the claim, from the database's \
         own timestamps.\n",
        if url.is_some() { " --postgres URL" } else { "" },
        args.scale,
        args.runs,
        args.burst,
        if std::env::var_os("SIEVE_BLOBS").is_some() {
            bench.registry.blobs.describe()
        } else {
            "the shared home directory".into()
        },
        args.runs,
        args.scale,
        direct.as_secs_f64() * 1000.0,
    )?;
    writeln!(
        md,
        "| worker processes | runs/min | speed-up over 1 | median queue latency | median claim → stored | of which in the sandbox |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    let mut base = None;
    for &n in &args.workers {
        eprintln!("scaleout: {n} workers, {} runs", args.runs);
        let workers = Workers::start(n, &home, url)?;
        let drained = bench.drain(args.runs).await?;
        drop(workers);
        let per_minute = args.runs as f64 / drained.elapsed.as_secs_f64() * 60.0;
        let base = *base.get_or_insert(per_minute);
        writeln!(
            md,
            "| {n} | {per_minute:.0} | {:.2}x | {} ms | {} ms | {} ms |",
            per_minute / base,
            percentile(&drained.latencies, 0.5),
            percentile(&drained.in_worker, 0.5),
            percentile(&drained.in_sandbox, 0.5),
        )?;
    }

    // A burst on one worker per core, then single runs queued to idle workers.
    eprintln!("scaleout: a burst of {} runs on {cores} workers", args.burst);
    let workers = Workers::start(cores, &home, url)?;
    let burst = bench.drain(args.burst).await?;
    let mut pickups = Vec::new();
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        pickups.push(bench.drain(1).await?.latencies[0]);
    }
    drop(workers);
    pickups.sort_unstable();
    writeln!(
        md,
        "\nA burst of {} runs queued at once on {cores} worker processes drained in {:.1} s; queue latency median {} ms, \
         95th percentile {} ms, longest {} ms (the last run waits for the {} before it). A single run queued to idle \
         workers in other processes is claimed after a median of {} ms (of 9; {}).",
        args.burst,
        burst.elapsed.as_secs_f64(),
        percentile(&burst.latencies, 0.5),
        percentile(&burst.latencies, 0.95),
        burst.latencies.last().copied().unwrap_or(0),
        args.burst - 1,
        percentile(&pickups, 0.5),
        if url.is_some() {
            "PostgreSQL's NOTIFY wakes them; the poll every 500 ms is the fallback"
        } else {
            "on SQLite they poll every 500 ms"
        },
    )?;
    bench.registry.db.close().await;
    Ok(md)
}
