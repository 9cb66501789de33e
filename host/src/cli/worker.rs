//! `sieve worker`: a process with no HTTP server that runs queued runs and competition
//! submissions from the registry's database, several hosts' workers sharing one queue. Each run
//! it takes is leased (renewed while it goes on); SIGTERM stops taking work and lets running work
//! finish within the grace period.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::session::RegistryArgs;
use crate::api::queue::RunQueue;

/// Arguments of `sieve worker`.
#[derive(Args)]
pub struct WorkerArgs {
    /// Runs executed at once (default: the number of cores).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds running work may take to finish after SIGTERM; a run still going then is left to
    /// its lease, which expires and puts it back in the queue for another worker.
    #[arg(long, default_value_t = 30.0)]
    grace: f64,
}

/// Run workers until SIGTERM or Ctrl-C.
pub fn worker(home: &Path, registry_args: &RegistryArgs, args: WorkerArgs) -> anyhow::Result<i32> {
    let _ = tracing_subscriber::fmt().with_target(false).with_writer(std::io::stderr).try_init();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let concurrency = args.concurrency.unwrap_or(cores).max(1);
    super::serve::runtime(cores)?.block_on(async {
        crate::storage::set_pool_size(concurrency as u32 * 2 + 2);
        let (registry, sandbox) = super::serve::open_for_work(home, registry_args).await?;
        let queue = RunQueue::new(concurrency);
        let metrics = Arc::new(crate::api::observe::Metrics::default());
        let audit_key = Arc::default();
        let tasks = queue.start(registry.clone(), sandbox, metrics, audit_key);
        eprintln!(
            "sieve worker: {concurrency} at once, blobs in {} (SIGTERM stops taking work)",
            registry.blobs.describe()
        );
        super::serve::shutdown_signal().await;
        tracing::info!("stopping: no new work; running work may finish");
        queue.drain();
        super::serve::await_workers(tasks, Duration::from_secs_f64(args.grace.max(0.0)), &queue).await;
        registry.db.close().await;
        Ok(0)
    })
}
