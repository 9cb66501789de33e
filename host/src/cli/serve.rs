//! `sieve serve`: the HTTP API and the run workers in one process, with graceful draining.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::session::RegistryArgs;
use crate::api::{self, AppState};
use crate::registry::Registry;
use crate::sandbox::Sandbox;

/// Arguments of `sieve serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (put a TLS-terminating proxy in front of anything but loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Workers running queued runs and submissions (default: the number of cores; 0: only queue).
    #[arg(long)]
    workers: Option<usize>,
    /// Seconds running work may take to finish after SIGTERM before the server exits anyway.
    #[arg(long, default_value_t = 30.0)]
    grace: f64,
}

impl ServeArgs {
    /// Serving on `addr` with the defaults (a worker per core, 30 s of grace).
    pub fn on(addr: SocketAddr) -> ServeArgs {
        ServeArgs { addr, workers: None, grace: 30.0 }
    }
}

/// Database connections of a server: enough that concurrent reads do not queue behind the
/// workers' writes.
pub(super) const SERVER_CONNECTIONS: u32 = 16;

/// Run the server until SIGTERM or Ctrl-C.
pub fn serve(home: &Path, registry_args: &RegistryArgs, args: ServeArgs) -> anyhow::Result<i32> {
    let _ = tracing_subscriber::fmt().with_target(false).with_writer(std::io::stderr).try_init();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    runtime(cores)?.block_on(run(home, registry_args, args, cores))
}

/// The async runtime of a long-lived process (server or worker): a thread per core.
pub(super) fn runtime(cores: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Wait up to `grace` for the workers' `tasks` to end once their queue drains; runs still going
/// then keep their leases, which end with this process: another worker, or this host's next
/// start, queues them again.
pub(super) async fn await_workers(
    tasks: Vec<tokio::task::JoinHandle<()>>,
    grace: Duration,
    queue: &crate::api::queue::RunQueue,
) {
    let finished = tokio::time::timeout(grace, async {
        for task in tasks {
            let _ = task.await;
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            active = queue.active(),
            "grace period over: runs still executing go back to the queue when their leases end"
        );
    }
}

/// What a server or worker opens before it takes work: the registry (refused if this host's
/// audit key is not the registry's), with what a dead process of this host left behind
/// recovered (leased work put back for the next claim, older runs failed) and stale scratch
/// swept; and the sandbox, at the lower CPU priority workers run at.
pub(super) async fn open_for_work(
    home: &Path,
    registry_args: &RegistryArgs,
) -> anyhow::Result<(Registry, Sandbox)> {
    let registry = Registry::open(home, registry_args.database_url.as_deref()).await?;
    check_audit_key(home, &registry).await?;
    let crashed = registry.recover_orphaned_runs().await? + registry.recover_orphaned_submissions().await?;
    if crashed > 0 {
        tracing::warn!(crashed, "runs left running by a dead process were marked host-crash");
    }
    registry.blobs.sweep();
    let sandbox = super::sandbox(home)?;
    crate::registry::LOWER_SANDBOX_PRIORITY.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok((registry, sandbox))
}

/// Refuse to start a server or worker whose audit key is not the registry's: it would sign
/// checkpoints that `audit verify` rejects (a second host set up with a fresh home, say).
async fn check_audit_key(home: &Path, registry: &Registry) -> anyhow::Result<()> {
    if crate::audit::signing::signs_this_registry(&registry.db, home).await? {
        return Ok(());
    }
    anyhow::bail!(
        "{} is not the key that signs this registry's audit checkpoints: every host of one registry \
         needs the same key; copy keys/audit.key (mode 0600) from the host that ran `sieve init`",
        home.join("keys").join("audit.key").display()
    )
}

async fn run(
    home: &Path,
    registry_args: &RegistryArgs,
    args: ServeArgs,
    cores: usize,
) -> anyhow::Result<i32> {
    crate::storage::set_pool_size(SERVER_CONNECTIONS);
    let (registry, sandbox) = open_for_work(home, registry_args).await?;
    let workers = args.workers.unwrap_or(cores);
    let (state, worker_tasks) = AppState::start(registry.clone(), sandbox, workers)
        .with_context(|| format!("creating {}", home.join("spool").display()))?;
    let queue = state.queue.clone();
    let audit_key = state.audit_key.clone();
    let sealer = tokio::spawn(seal_periodically(registry.clone(), audit_key.clone()));
    let (router, _) = api::router(state);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let bound = listener.local_addr().unwrap_or(args.addr);
    eprintln!("sieve serve: http://{bound} ({workers} workers; SIGTERM drains)");
    let draining = queue.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: no new requests or runs; running work may finish");
            draining.drain();
        })
        .await
        .context("serving")?;
    await_workers(worker_tasks, Duration::from_secs_f64(args.grace.max(0.0)), &queue).await;
    sealer.abort();
    api::seal(&registry, &audit_key).await;
    registry.db.close().await;
    Ok(0)
}

pub(super) async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
}

/// Sign the audit log's head every few seconds: requests that write and finished runs sign at
/// once; this catches the rest (refused reads, startup recovery).
async fn seal_periodically(
    registry: Registry,
    key: std::sync::Arc<std::sync::OnceLock<crate::audit::signing::AuditKey>>,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        api::seal(&registry, &key).await;
    }
}
