//! `sieve loadtest`: the server under load on loopback. A throwaway registry is filled (a T2
//! dataset, a finished run with clues, a competition with scored submissions), `sieve serve`'s
//! router listens on a free port, two long runs occupy the workers, and clients read
//! leaderboards, run status and clue pages at a fixed rate (open loop: latency counts from when a
//! request was due, so a stalled server cannot hide its queue). Also measured: a 100 MB dataset
//! upload, and a run through the server's queue against the same run made directly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::api::{self, AppState};
use crate::competition::competitions::Transition;
use crate::competition::{BenchmarkRequest, CompetitionRequest};
use crate::generate::{self, Format};
use crate::registry::catalog::ImportRequest;
use crate::registry::plugins::Decision;
use crate::registry::{Registry, Role};
use crate::runs::store::RunRequest;
use crate::sandbox::{Limits, Sandbox};

/// Arguments of `sieve loadtest`.
#[derive(Args)]
pub struct LoadtestArgs {
    /// Requests per second, all routes together.
    #[arg(long, default_value_t = 1000)]
    rps: u32,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent client connections (kept alive).
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Scale of the T2 dataset behind the runs and the competition.
    #[arg(long, default_value_t = 10)]
    scale: u32,
    /// Markdown file whose "Server under load" section is replaced (under the kept heading).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

/// A keep-alive HTTP/1.1 connection that reads just enough of each response (status and
/// Content-Length body) to time it.
struct Conn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(64 << 10) })
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: &[u8],
        kind: &str,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: loadtest\r\nAuthorization: Bearer {token}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 16 << 10];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_string();
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status")?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
            })
            .and_then(|v| v.parse().ok())
            .context("no content-length")?;
        while self.buf.len() < header_end + length {
            let mut chunk = [0u8; 64 << 10];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Run the load test and write its section.
pub fn loadtest(args: LoadtestArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .enable_all()
        .build()?;
    let section = runtime.block_on(run(&args))?;
    super::bench::write_kept_section(&args.out, "### Server under load (`sieve loadtest`)", &section)?;
    Ok(0)
}

async fn run(args: &LoadtestArgs) -> anyhow::Result<String> {
    let root = tempfile::tempdir()?;
    let home = root.path().join("home");
    crate::storage::set_pool_size(super::serve::SERVER_CONNECTIONS);
    let registry = Registry::open(&home, None).await?;
    let cache = home.join("cache");
    std::fs::create_dir_all(&cache)?;
    let mut key = vec![0u8; crate::sandbox::cache::KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
    let sandbox = Sandbox::new(Some((cache, key)))?;

    // A registry with something to read.
    eprintln!("loadtest: preparing a registry (T2 at scale {})", args.scale);
    let admin = registry.init("province", "admin").await?;
    let admin = registry.authenticate(Some(&admin)).await?;
    let approver = registry.add_user(&admin, "approver", "province", &[Role::Admin]).await?.1;
    let approver = registry.authenticate(Some(&approver)).await?;
    let organizer = registry.add_user(&admin, "organizer", "province", &[Role::Organizer]).await?.1;
    let organizer = registry.authenticate(Some(&organizer)).await?;
    let (_, reader_token) = registry.add_user(&admin, "reader", "province", &[Role::Author]).await?;
    let reader = registry.authenticate(Some(&reader_token)).await?;
    let task = "private-lending-fraud";
    let data = root.path().join("data");
    generate::task(task)?.write(args.scale, 1, &data, Format::Parquet, &|_, _| {})?;
    let request = ImportRequest { name: "lending", dir: &data, task, source: "loadtest", restricted: false };
    registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
    registry.set_dataset_state(&admin, "lending", true).await?;
    let eval = root.path().join("eval");
    generate::task(task)?.write(args.scale, 2, &eval, Format::Parquet, &|_, _| {})?;
    let request =
        ImportRequest { name: "lending-eval", dir: &eval, task, source: "loadtest", restricted: false };
    registry.import_dataset(&admin, &request, &|_, _, _| {}).await?;
    registry.set_dataset_state(&admin, "lending-eval", true).await?;
    let bytes = crate::bundled::get(task).context("the T2 model is not bundled")?;
    let (plugin, _) = registry.publish(&sandbox, &reader, bytes, "").await?;
    registry.decide(&approver, &plugin.digest, Decision::Approve, "").await?;
    let mut entries = vec![plugin.digest.clone()];
    for (_, entry) in crate::bundled::DEMO_ENTRIES {
        let (p, _) = registry.publish(&sandbox, &reader, entry, "").await?;
        registry.decide(&approver, &p.digest, Decision::Approve, "").await?;
        entries.push(p.digest);
    }
    let limits = Limits::default();
    // Every run here runs its model: a rerun answered from an earlier one measures nothing.
    let direct = RunRequest {
        plugin: &plugin.digest,
        dataset: "lending",
        settings: &[],
        limits: &limits,
        fresh: true,
    };
    let started = Instant::now();
    let (run, _) = registry.run(&sandbox, &reader, &direct, None).await?;
    let direct_time = started.elapsed();
    registry.create_benchmark(&organizer, &BenchmarkRequest::new("lending", "lending-eval")).await?;
    registry.create_competition(&organizer, &CompetitionRequest::new("cup", "lending")).await?;
    registry.change_competition(&organizer, "cup", Transition::Open).await?;
    for digest in &entries {
        registry.submit(&reader, "cup", digest, crate::storage::now_ms()).await?;
    }
    registry.work_queue(&sandbox, 1, None, Arc::new(|_| {})).await?;

    // The server, as `sieve serve` builds it, with two workers at the sandbox's lower priority.
    crate::registry::LOWER_SANDBOX_PRIORITY.store(true, std::sync::atomic::Ordering::Relaxed);
    let (state, _workers) = AppState::start(registry.clone(), sandbox.clone(), 2)?;
    let queue = state.queue.clone();
    let (router, _) = api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The server path for the same run: queue, worker, poll until finished.
    let mut conn = Conn::open(addr).await?;
    let body =
        serde_json::json!({ "plugin": plugin.digest, "dataset": "lending", "fresh": true }).to_string();
    let started = Instant::now();
    let (status, answer) =
        conn.request("POST", "/api/runs", &reader_token, body.as_bytes(), "application/json").await?;
    if status != 202 {
        bail!("queueing a run answered {status}: {}", String::from_utf8_lossy(&answer));
    }
    let queued: serde_json::Value = serde_json::from_slice(&answer)?;
    let id = queued["id"].as_i64().context("run id")?;
    loop {
        let (_, answer) =
            conn.request("GET", &format!("/api/runs/{id}"), &reader_token, b"", "application/json").await?;
        let v: serde_json::Value = serde_json::from_slice(&answer)?;
        if v["run"]["state"] == "completed" || v["run"]["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let served_time = started.elapsed();

    // Enough queued runs to keep both workers busy for the whole load (each stores its clues).
    let busy_runs = args.seconds as usize * 40;
    for _ in 0..busy_runs {
        conn.request("POST", "/api/runs", &reader_token, body.as_bytes(), "application/json").await?;
    }

    // The load: open loop, each connection due every connections/rps seconds.
    eprintln!(
        "loadtest: {} rps for {} s on {} connections while the workers run",
        args.rps, args.seconds, args.connections
    );
    let routes = [
        ("GET /api/competitions/{name}/leaderboard", "/api/competitions/cup/leaderboard".to_string()),
        ("GET /api/runs/{id}", format!("/api/runs/{}", run.id)),
        ("GET /api/runs/{id}/clues", format!("/api/runs/{}/clues?page=2&per_page=50", run.id)),
    ];
    let interval = Duration::from_secs_f64(args.connections as f64 / args.rps.max(1) as f64);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..args.connections {
        let (routes, token, connections) = (routes.clone(), reader_token.clone(), args.connections.max(1));
        clients.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut samples: Vec<(usize, Duration, u16)> = Vec::new();
            // Stagger the connections across one interval.
            let mut due = Instant::now() + interval.mul_f64(c as f64 / connections as f64);
            let mut i = c as usize;
            while due < deadline {
                tokio::time::sleep_until(due.into()).await;
                let (_, path) = &routes[i % routes.len()];
                let (status, _) = conn.request("GET", path, &token, b"", "application/json").await?;
                samples.push((i % routes.len(), due.elapsed(), status));
                i += 1;
                due += interval;
            }
            anyhow::Ok(samples)
        });
    }
    let mut by_route: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    let (mut total, mut errors) = (0usize, 0usize);
    while let Some(joined) = clients.join_next().await {
        for (route, latency, status) in joined.context("a client task died")?? {
            total += 1;
            if status != 200 {
                errors += 1;
            }
            by_route.entry(route).or_default().push(latency);
        }
    }
    let busy_during = queue.active();
    let still_queued = registry.queue_depth().await?;

    // A 100 MB dataset upload through the API.
    let big = root.path().join("upload");
    let mut scale = 1;
    let archive = loop {
        let _ = std::fs::remove_dir_all(&big);
        generate::task(task)?.write(scale, 3, &big, Format::Csv, &|_, _| {})?;
        let mut builder = tar::Builder::new(Vec::new());
        for entry in std::fs::read_dir(&big)? {
            let path = entry?.path();
            builder.append_path_with_name(&path, path.file_name().context("name")?)?;
        }
        let archive = builder.into_inner()?;
        if archive.len() >= 100 << 20 || scale >= 400 {
            break archive;
        }
        scale = (scale as f64 * (100u64 << 20) as f64 / archive.len().max(1) as f64).ceil() as u32 + 1;
    };
    let started = Instant::now();
    let (status, answer) = conn
        .request(
            "POST",
            "/api/datasets?name=upload&task=private-lending-fraud&source=loadtest",
            &reader_token,
            &archive,
            "application/x-tar",
        )
        .await?;
    let upload_time = started.elapsed();
    if status != 201 {
        bail!("the upload answered {status}: {}", String::from_utf8_lossy(&answer));
    }

    let mut md = String::new();
    writeln!(
        md,
        "Command: `cargo run --release -- loadtest --rps {} --seconds {} --connections {} --scale {}` on {} cores, \
         loopback. Reads at a fixed rate (open loop: latency counts from when each request was due) while \
         the workers run queued T2 runs at scale {} ({busy_runs} queued before the load; at its end \
         {busy_during} executing, {still_queued} waiting); sandbox threads run at nice {}. The clients share the process and its cores with the server.\n",
        args.rps,
        args.seconds,
        args.connections,
        args.scale,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.scale,
        10
    )?;
    writeln!(md, "| route | requests | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")?;
    for (route, mut latencies) in by_route {
        latencies.sort();
        writeln!(
            md,
            "| `{}` | {} | {:.2} | {:.2} | {:.2} |",
            routes[route].0,
            latencies.len(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
        )?;
    }
    writeln!(
        md,
        "\nThroughput: {:.0} requests/s achieved of {} asked ({total} requests, {errors} not 200).\n",
        total as f64 / args.seconds as f64,
        args.rps
    )?;
    writeln!(md, "| measurement | value |\n|---|---|")?;
    writeln!(
        md,
        "| upload a {:.0} MB dataset (tar of CSV) through `POST /api/datasets`: spool, unpack, type, store | {:.1} s, {:.0} MB/s |",
        archive.len() as f64 / 1e6,
        upload_time.as_secs_f64(),
        archive.len() as f64 / 1e6 / upload_time.as_secs_f64()
    )?;
    writeln!(
        md,
        "| a T2 run at scale {} through the server (queue, worker, polled status) vs the same stored run made directly | {:.0} ms vs {:.0} ms: **{:.2}x** |",
        args.scale,
        served_time.as_secs_f64() * 1e3,
        direct_time.as_secs_f64() * 1e3,
        served_time.as_secs_f64() / direct_time.as_secs_f64()
    )?;
    queue.drain();
    Ok(md)
}
