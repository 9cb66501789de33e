//! The server's workers: N tasks that take queued runs and competition submissions from the
//! database (so a restarted server, or another one on the same registry, picks them up) and run
//! each on the blocking pool, never on the async executor. The sandbox threads run at a lower
//! CPU priority than the request handlers, so reads stay fast while the workers are busy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::observe::Metrics;
use crate::registry::Registry;
use crate::sandbox::Sandbox;

/// How often an idle worker looks for work queued by another process (on PostgreSQL it is
/// also woken by the queuing process's notification).
const POLL: Duration = Duration::from_millis(500);

/// The workers' shared state.
pub struct RunQueue {
    workers: usize,
    wake: Notify,
    draining: AtomicBool,
    active: AtomicUsize,
    progress: Arc<Mutex<HashMap<i64, (u64, u64)>>>,
}

impl RunQueue {
    /// A queue served by `workers` workers (0: a pure front end that only queues).
    pub fn new(workers: usize) -> Arc<RunQueue> {
        Arc::new(RunQueue {
            workers,
            wake: Notify::new(),
            draining: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            progress: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Tell an idle worker that something was queued.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Stop taking work (running work finishes).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Whether the server is shutting down.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Runs executing now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// The last progress run `id` reported, while it runs here.
    pub fn progress(&self, id: i64) -> Option<(u64, u64)> {
        self.progress.lock().ok().and_then(|p| p.get(&id).copied())
    }

    /// Start the workers on the current runtime; the returned handles end once draining. Each
    /// signs the audit log's head after each run it finishes.
    pub fn start(
        self: &Arc<Self>,
        registry: Registry,
        sandbox: Sandbox,
        metrics: Arc<Metrics>,
        audit_key: Arc<std::sync::OnceLock<crate::audit::signing::AuditKey>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        if self.workers > 0 {
            // Work queued by another process wakes a worker here at once, not at its next poll.
            let (queue, db) = (self.clone(), registry.db.clone());
            tokio::spawn(async move { db.listen_for_queued(|| queue.notify()).await });
        }
        (0..self.workers)
            .map(|worker| {
                let (queue, registry, sandbox, metrics, key) =
                    (self.clone(), registry.clone(), sandbox.clone(), metrics.clone(), audit_key.clone());
                let owner = crate::runs::leases::lease_owner(worker);
                tokio::spawn(async move { queue.work(registry, sandbox, metrics, key, owner).await })
            })
            .collect()
    }

    async fn work(
        self: Arc<Self>,
        registry: Registry,
        sandbox: Sandbox,
        metrics: Arc<Metrics>,
        audit_key: Arc<std::sync::OnceLock<crate::audit::signing::AuditKey>>,
        lease_owner: String,
    ) {
        while !self.draining() {
            match self.take_one(&registry, &sandbox, &metrics, &lease_owner).await {
                Ok(true) => {
                    super::seal(&registry, &audit_key).await;
                    continue;
                }
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "worker: taking queued work failed"),
            }
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        }
    }

    /// Run one queued run, else one queued submission; false when there was none.
    async fn take_one(
        &self,
        registry: &Registry,
        sandbox: &Sandbox,
        metrics: &Metrics,
        lease_owner: &str,
    ) -> crate::registry::Result<bool> {
        if let Some(id) = registry.claim_run(lease_owner).await? {
            self.active.fetch_add(1, Ordering::SeqCst);
            let result = registry.run_claimed(sandbox, id, lease_owner, Some(self.progress_sink(id))).await;
            self.active.fetch_sub(1, Ordering::SeqCst);
            if let Ok(mut p) = self.progress.lock() {
                p.remove(&id);
            }
            let (_, report) = result?;
            metrics.run_finished(report.outcome.code(), report.fuel);
            return Ok(true);
        }
        if let Some(id) = registry.claim_submission(None, lease_owner).await? {
            self.active.fetch_add(1, Ordering::SeqCst);
            let result = registry.run_submission(sandbox, id, lease_owner).await;
            self.active.fetch_sub(1, Ordering::SeqCst);
            let s = result?;
            metrics.run_finished(s.outcome.as_deref().unwrap_or("unknown"), s.fuel.unwrap_or(0.0) as u64);
            return Ok(true);
        }
        Ok(false)
    }

    /// A callback that records run `id`'s progress where status requests read it.
    fn progress_sink(&self, id: i64) -> crate::sandbox::state::ProgressFn {
        let progress = self.progress.clone();
        Box::new(move |done, total| {
            if let Ok(mut p) = progress.lock() {
                p.insert(id, (done, total));
            }
        })
    }
}
