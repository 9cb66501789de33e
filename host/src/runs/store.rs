//! Runs made through the registry: checked (approved plugin, approved and granted dataset, digests
//! on load), recorded as `running` before the model starts, finished in one transaction with all
//! their clues (as one clue set, indexed into rows when first read), and marked failed if their
//! process died. Clues are read back paged, exported, and released by an admin when the dataset is
//! restricted.

use serde::Serialize;
use serde_json::json;
use sieve_sdk::Clue;
use sqlx::Row;

use super::clue_sets::{self, StoredFields};
use super::leases::{Leased, lease_until_ms};
use super::{RunReport, RunSummary, load_model, run_plugin};
use crate::audit;
use crate::registry::catalog::{self, DatasetRecord};
use crate::registry::plugins::PluginRecord;
use crate::registry::{Actor, Registry, RegistryError, Result, Role, off_runtime};
use crate::sandbox::state::ProgressFn;
use crate::sandbox::{Limits, Outcome, Sandbox};
use crate::storage::blobs::BlobError;
use crate::storage::{Backend, WriteTx, now, process_alive};

/// A stored run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Plugin digest.
    pub plugin: String,
    /// Model name.
    pub model: String,
    /// Dataset `name@version`.
    pub dataset: String,
    /// Dataset digest.
    pub dataset_digest: String,
    /// Whether the dataset is restricted.
    pub restricted: bool,
    #[serde(skip)]
    dataset_owner_org_id: i64,
    /// Who ran it.
    pub user: String,
    /// Their procuratorate.
    pub org: String,
    #[serde(skip)]
    org_id: i64,
    /// Parameters as given to the model.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The sieve version that ran it.
    pub host_version: String,
    /// `running`, `completed` or `failed`.
    pub state: String,
    /// Outcome code (`completed`, `out-of-fuel`, ...), once finished.
    pub outcome: Option<String>,
    /// Outcome detail.
    pub detail: Option<String>,
    /// Fuel consumed.
    pub fuel: Option<i64>,
    /// Peak guest memory in bytes.
    pub peak_memory: Option<i64>,
    /// Wall time in milliseconds.
    pub wall_ms: Option<f64>,
    /// Digest of the clues.
    pub output_digest: Option<String>,
    /// Number of clues stored.
    pub clues: i64,
    /// Start time.
    pub started_at: String,
    /// End time.
    pub finished_at: Option<String>,
    /// Admin who released the clues for export, if any.
    pub released_by: Option<String>,
    /// The competition this run was a submission to: only its organizers and admins read it.
    pub competition_id: Option<i64>,
    /// The earlier identical run whose outcome and clues this rerun shares (it was not run again).
    #[serde(default)]
    pub reused_from: Option<i64>,
}

impl RunRecord {
    /// The run this run's clues are stored under: its own id, or for a rerun answered from an
    /// identical earlier run, that run's (the clues are stored once). Reviews stay this run's.
    pub(crate) fn clues_stored_under(&self) -> i64 {
        self.reused_from.unwrap_or(self.id)
    }
}

/// A stored clue, with its evidence.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct StoredClue {
    /// Position in emission order, from 1.
    pub seq: i64,
    /// The subject (case number, item id, debtor id, ...).
    pub subject: String,
    /// Score in [0, 1].
    pub score: f64,
    /// The rule that fired.
    pub rule: String,
    /// Why, in a sentence.
    pub reason: String,
    /// Evidence rows, `[{"table": .., "row": ..}]`.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// The current verdict on the clue's subject, once a prosecutor gave one.
    #[serde(default)]
    pub verdict: Option<ClueVerdict>,
}

/// A verdict as shown with a clue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct ClueVerdict {
    /// `confirmed`, `dismissed` or `needs-more-data`.
    pub verdict: super::reviews::Verdict,
    /// Why.
    pub reason: String,
    /// Who.
    pub reviewer: String,
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    /// Plugin digest or unambiguous prefix.
    pub plugin: &'a str,
    /// Dataset `NAME[@version]`.
    pub dataset: &'a str,
    /// `name=value` parameter settings.
    pub settings: &'a [(String, String)],
    /// Sandbox limits.
    pub limits: &'a Limits,
    /// Run the model even when an identical run (same component, dataset version, settings,
    /// limits and host build) already completed; otherwise that run's outcome and clues answer.
    pub fresh: bool,
}

/// Order of a clue listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClueOrder {
    /// Highest score first (ties in emission order).
    Score,
    /// Emission order.
    Seq,
}

/// Which host process this is, for finding runs whose process died.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The state a run is recorded in.
#[derive(Clone, Copy)]
enum RunState<'a> {
    /// Waiting for a worker to claim it.
    Queued,
    /// Running now in this process, under a worker's lease (a competition submission's run) or
    /// none (a run made by this command).
    Running { lease: Option<&'a str> },
}

impl RunState<'_> {
    fn code(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running { .. } => "running",
        }
    }
}

/// A run's columns (all but its stored report, which only [`Registry::run_summary`] reads).
const RUN_SELECT: &str = "SELECT r.id, r.plugin_digest, r.dataset_id, r.user_id, r.org_id, r.params, r.host_version, \
     r.state, r.outcome, r.detail, r.fuel, r.peak_memory, r.wall_ms, r.output_digest, r.clue_count, r.started_at, \
     r.finished_at, r.released_by, r.competition_id, r.reused_from, p.name AS model, d.name AS dataset_name, d.version AS dataset_version, \
     d.digest AS dataset_digest, d.restricted, d.owner_org_id AS dataset_owner_org_id, u.name AS user_name, o.name AS org_name, rb.name AS releaser \
     FROM runs r JOIN plugins p ON p.digest = r.plugin_digest JOIN datasets d ON d.id = r.dataset_id \
     JOIN users u ON u.id = r.user_id JOIN orgs o ON o.id = r.org_id LEFT JOIN users rb ON rb.id = r.released_by";

/// Why run `run`'s clues stay on the platform, or `None` when they may be read.
fn clues_held(run: &RunRecord) -> Option<String> {
    (run.restricted && run.released_by.is_none()).then(|| {
        format!(
            "run {} used restricted dataset {}: its {} clues are held until an admin above the data's owner releases them (sieve runs release {})",
            run.id, run.dataset, run.clues, run.id
        )
    })
}

fn run_from(row: &sqlx::any::AnyRow) -> Result<RunRecord> {
    let params: String = row.try_get("params")?;
    Ok(RunRecord {
        id: row.try_get("id")?,
        plugin: row.try_get("plugin_digest")?,
        model: row.try_get("model")?,
        dataset: format!(
            "{}@{}",
            row.try_get::<String, _>("dataset_name")?,
            row.try_get::<i64, _>("dataset_version")?
        ),
        dataset_digest: row.try_get("dataset_digest")?,
        restricted: row.try_get::<i64, _>("restricted")? != 0,
        dataset_owner_org_id: row.try_get("dataset_owner_org_id")?,
        user: row.try_get("user_name")?,
        org: row.try_get("org_name")?,
        org_id: row.try_get("org_id")?,
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
        host_version: row.try_get("host_version")?,
        state: row.try_get("state")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        fuel: row.try_get("fuel")?,
        peak_memory: row.try_get("peak_memory")?,
        wall_ms: row.try_get("wall_ms")?,
        output_digest: row.try_get("output_digest")?,
        clues: row.try_get("clue_count")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        released_by: row.try_get("releaser")?,
        competition_id: row.try_get("competition_id")?,
        reused_from: row.try_get("reused_from")?,
    })
}

/// Why run `id`'s stored clues (its clue set, or its rows) could not be read back.
fn unreadable_clues(id: i64, why: String) -> RegistryError {
    RegistryError::Invalid(format!("run {id}'s stored clues do not read back: {why}"))
}

/// Rows per multi-row clue INSERT. SQLite binds anonymous `?` parameters in one pass (numbered
/// ones cost a name lookup each, which grows with the statement: 15k clues took 0.73 s at 500
/// rows a statement that way); PostgreSQL pays a round trip per statement. Both get large batches.
fn clue_batch(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1000,
        Backend::Postgres => 500,
    }
}

async fn insert_clues(
    tx: &mut WriteTx,
    backend: Backend,
    run_id: i64,
    clues: &[StoredFields<'_>],
) -> Result<()> {
    let batch = clue_batch(backend);
    for (chunk_index, chunk) in clues.chunks(batch).enumerate() {
        let mut sql =
            String::from("INSERT INTO clues (run_id, seq, subject, score, rule, reason, evidence) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push_str("(?,?,?,?,?,?,?)"),
                Backend::Postgres => {
                    let b = i * 7;
                    let row = format!(
                        "(${},${},${},${},${},${},${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7
                    );
                    sql.push_str(&row);
                }
            }
        }
        let mut q = sqlx::query(&sql);
        for (i, c) in chunk.iter().enumerate() {
            q = q
                .bind(run_id)
                .bind((chunk_index * batch + i + 1) as i64)
                .bind(c.subject)
                .bind(c.score)
                .bind(c.rule)
                .bind(c.reason)
                .bind(c.evidence);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Registry {
    /// Mark runs of this host whose process is gone as failed (they were killed mid-run): each
    /// gets an audit event. A leased run (a worker's) is not failed: its lease is ended, so that
    /// the next claim puts it back in the queue without waiting the lease out. Returns how many
    /// were failed.
    pub async fn recover_orphaned_runs(&self) -> Result<usize> {
        let rows = sqlx::query("SELECT id, pid, lease_owner FROM runs WHERE state = 'running' AND host = $1")
            .bind(this_host())
            .fetch_all(self.db.pool())
            .await?;
        let mut recovered = 0;
        for row in rows {
            let (id, pid): (i64, i64) = (row.try_get("id")?, row.try_get("pid")?);
            if pid == std::process::id() as i64 || process_alive(pid) {
                continue;
            }
            if row.try_get::<Option<String>, _>("lease_owner")?.is_some() {
                self.end_dead_lease(Leased::Run(id), pid).await?;
                continue;
            }
            let mut tx = self.db.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE runs SET state = 'failed', outcome = 'host-crash', detail = $1, finished_at = $2 \
                 WHERE id = $3 AND state = 'running'",
            )
            .bind(format!("the sieve process (pid {pid}) ended before the run finished; no clues were kept"))
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                audit::append(
                    &mut tx,
                    "system",
                    "run.fail",
                    &id.to_string(),
                    json!({ "reason": "host process died", "pid": pid }),
                )
                .await?;
                recovered += 1;
            }
            tx.commit().await?;
        }
        Ok(recovered)
    }

    /// Run plugin `plugin` on dataset `dataset` (`NAME[@version]`) as `actor`, and store the run.
    /// Refusals (role, approval, grant, tampered blob) happen before anything is recorded; once the
    /// run row exists it always ends `completed` or `failed`, with its clues only if completed.
    pub async fn run(
        &self,
        sandbox: &Sandbox,
        actor: &Actor,
        request: &RunRequest<'_>,
        on_progress: Option<ProgressFn>,
    ) -> Result<(RunRecord, RunReport)> {
        let (record, d, limits) = self.authorize_run(actor, request).await?;
        let fresh = request.fresh;
        self.execute_run(
            sandbox,
            actor,
            &record,
            &d,
            request.settings,
            &limits,
            on_progress,
            None,
            None,
            fresh,
        )
        .await
    }

    /// Every check a stored run needs before anything is recorded: the author role, limits within
    /// the run policy, a runnable plugin, an approved dataset the actor may use, matching tasks.
    async fn authorize_run(
        &self,
        actor: &Actor,
        request: &RunRequest<'_>,
    ) -> Result<(PluginRecord, DatasetRecord, Limits)> {
        let RunRequest { plugin, dataset, limits, .. } = *request;
        actor.require(Role::Author, "running a model")?;
        let limits = self.within_policy(limits).await?;
        let record = self.runnable_plugin(actor, plugin).await?;
        let d: DatasetRecord = self.dataset(dataset, true).await?;
        self.require_dataset_use(actor, &d).await?;
        if record.task != d.task {
            return Err(RegistryError::Invalid(format!(
                "plugin {} is a {} model; dataset {}@{} holds {} data",
                record.name, record.task, d.name, d.version, d.task
            )));
        }
        Ok((record, d, limits))
    }

    /// Check `request` as [`Registry::run`] does and queue it: the run is recorded `queued` and a
    /// worker ([`Registry::claim_run`], [`Registry::run_claimed`]) runs it later, in this process
    /// or another one on the same registry.
    pub async fn enqueue_run(&self, actor: &Actor, request: &RunRequest<'_>) -> Result<RunRecord> {
        let (record, d, limits) = self.authorize_run(actor, request).await?;
        let (settings, fresh) = (request.settings, request.fresh);
        let id =
            self.insert_run(actor, &record, &d, settings, &limits, None, RunState::Queued, fresh).await?;
        self.run_record(id).await
    }

    /// Take the oldest queued run, with a lease on it for `lease_owner`: on PostgreSQL with
    /// `FOR UPDATE SKIP LOCKED`, so workers on many hosts claim side by side and never take the
    /// same run (SQLite has one writer at a time anyway). Work whose lease expired goes back to
    /// the queue first ([`Registry::requeue_expired`]). Returns the run's id.
    pub async fn claim_run(&self, lease_owner: &str) -> Result<Option<i64>> {
        self.requeue_expired().await?;
        let row = sqlx::query(&format!(
            "UPDATE runs SET state = 'running', started_at = $1, host = $2, pid = $3, lease_owner = $4, \
             lease_until_ms = $5, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM runs WHERE state = 'queued' ORDER BY id LIMIT 1{}) AND state = 'queued' \
             RETURNING id",
            self.db.skip_locked()
        ))
        .bind(now())
        .bind(this_host())
        .bind(std::process::id() as i64)
        .bind(lease_owner)
        .bind(lease_until_ms())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Place of queued run `id` in the queue (1 = next).
    pub async fn queue_position(&self, id: i64) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE state = 'queued' AND id <= $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")?)
    }

    /// Runs and competition submissions waiting in the queue.
    pub async fn queue_depth(&self) -> Result<i64> {
        let runs: i64 = sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE state = 'queued'")
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")?;
        let submissions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM submissions WHERE state = 'queued'")
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")?;
        Ok(runs + submissions)
    }

    /// Run claimed run `id` as the user who queued it. A plugin revoked, or a dataset retired,
    /// since it was queued ends the run `failed` with the reason, without running it.
    /// The lease `lease_owner` took with it is renewed while the run goes on; a result that comes
    /// after the lease was lost is discarded (the run went back to the queue, and exactly one
    /// attempt's result is stored).
    pub async fn run_claimed(
        &self,
        sandbox: &Sandbox,
        id: i64,
        lease_owner: &str,
        on_progress: Option<ProgressFn>,
    ) -> Result<(RunRecord, RunReport)> {
        self.while_leased(
            Leased::Run(id),
            lease_owner,
            self.run_claimed_leased(sandbox, id, lease_owner, on_progress),
        )
        .await
    }

    async fn run_claimed_leased(
        &self,
        sandbox: &Sandbox,
        id: i64,
        lease_owner: &str,
        on_progress: Option<ProgressFn>,
    ) -> Result<(RunRecord, RunReport)> {
        let row = sqlx::query("SELECT user_id, params, limits, fresh FROM runs WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?;
        let run = self.run_record(id).await?;
        let actor = self.actor_for(row.try_get("user_id")?).await?;
        let settings: Vec<(String, String)> = serde_json::from_str::<
            serde_json::Map<String, serde_json::Value>,
        >(&row.try_get::<String, _>("params")?)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), String::from)))
        .collect();
        let limits = row
            .try_get::<Option<String>, _>("limits")?
            .and_then(|l| serde_json::from_str(&l).ok())
            .map_or_else(Limits::default, |v| super::limits_from_json(&v));
        let checked = async {
            let record = self.runnable_plugin(&actor, &run.plugin).await?;
            let d = self.dataset(&run.dataset, false).await?;
            if d.state != "approved" {
                return Err(RegistryError::Denied(format!("dataset {} is {} now", run.dataset, d.state)));
            }
            Ok((record, d))
        }
        .await;
        let (record, d) = match checked {
            Ok(found) => found,
            Err(e @ (RegistryError::Denied(_) | RegistryError::NotFound { .. })) => {
                let report = RunReport::failed(
                    Outcome::BadInput(format!("refused when its turn came: {e}")),
                    run.plugin.clone(),
                );
                self.finish_run(&actor, id, &report, Some(lease_owner), None).await?;
                return Ok((self.run_record(id).await?, report));
            }
            Err(e) => return Err(e),
        };
        let fresh = row.try_get::<i64, _>("fresh")? != 0;
        self.run_inserted(
            sandbox,
            &actor,
            &record,
            &d,
            id,
            &settings,
            &limits,
            on_progress,
            None,
            Some(lease_owner),
            fresh,
        )
        .await
    }

    /// A plugin `actor` may run: not marked tampered, approved, and approved for the actor's
    /// procuratorate.
    pub async fn runnable_plugin(&self, actor: &Actor, given: &str) -> Result<PluginRecord> {
        let record = self.plugin(given).await?;
        if record.tampered {
            return Err(RegistryError::Denied(format!(
                "plugin {} is marked tampered and cannot run",
                record.digest
            )));
        }
        if record.state != "approved" {
            return Err(RegistryError::Denied(format!(
                "plugin {} is {}: only approved plugins run on registered datasets",
                record.digest, record.state
            )));
        }
        if !self.plugin_approved_for(&record, actor.user.org_id).await? {
            return Err(RegistryError::Denied(format!(
                "plugin {} is approved for {} only: an admin above {} must approve it for wider use",
                record.digest,
                record.approved_for.as_deref().unwrap_or("?"),
                actor.user.org
            )));
        }
        Ok(record)
    }

    /// Run an authorized plugin on an authorized dataset and store the run (for `competition`,
    /// as a submission to it). Callers check who may do this; once the run row exists it always
    /// ends `completed` or `failed`, with its clues only if completed. Unless `fresh`, a run
    /// identical to one that completed before is answered from it (see [`reuse_key`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn execute_run(
        &self,
        sandbox: &Sandbox,
        actor: &Actor,
        record: &PluginRecord,
        d: &DatasetRecord,
        settings: &[(String, String)],
        limits: &Limits,
        on_progress: Option<ProgressFn>,
        competition: Option<i64>,
        lease: Option<&str>,
        fresh: bool,
    ) -> Result<(RunRecord, RunReport)> {
        let state = RunState::Running { lease };
        let run_id = self.insert_run(actor, record, d, settings, limits, competition, state, fresh).await?;
        self.run_inserted(
            sandbox,
            actor,
            record,
            d,
            run_id,
            settings,
            limits,
            on_progress,
            competition,
            lease,
            fresh,
        )
        .await
    }

    /// Record a run in `state`, with its audit event.
    #[allow(clippy::too_many_arguments)]
    async fn insert_run(
        &self,
        actor: &Actor,
        record: &PluginRecord,
        d: &DatasetRecord,
        settings: &[(String, String)],
        limits: &Limits,
        competition: Option<i64>,
        state: RunState<'_>,
        fresh: bool,
    ) -> Result<i64> {
        let lease = match state {
            RunState::Running { lease: Some(owner) } => Some(owner),
            _ => None,
        };
        let mut tx = self.db.begin_write().await?;
        let run_id: i64 = sqlx::query(
            "INSERT INTO runs (plugin_digest, dataset_id, user_id, org_id, params, host_version, state, started_at, \
             host, pid, competition_id, limits, lease_owner, lease_until_ms, attempts, fresh) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        )
        .bind(&record.digest)
        .bind(d.id)
        .bind(actor.user.id)
        .bind(actor.user.org_id)
        .bind(json!(settings.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>()).to_string())
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(state.code())
        .bind(now())
        .bind(this_host())
        .bind(std::process::id() as i64)
        .bind(competition)
        .bind(super::limits_json(limits).to_string())
        .bind(lease)
        .bind(lease.map(|_| lease_until_ms()))
        .bind(i64::from(lease.is_some()))
        .bind(i64::from(fresh))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let detail = json!({
            "plugin": record.digest, "dataset": format!("{}@{}", d.name, d.version), "dataset_digest": d.digest,
            "competition": competition,
        });
        let action = if let RunState::Queued = state { "run.queue" } else { "run.start" };
        audit::append(&mut tx, &actor.user.name, action, &run_id.to_string(), detail).await?;
        if let RunState::Queued = state {
            self.db.announce_queued(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(run_id)
    }

    /// Run recorded run `run_id` and store its outcome and clues.
    #[allow(clippy::too_many_arguments)]
    async fn run_inserted(
        &self,
        sandbox: &Sandbox,
        actor: &Actor,
        record: &PluginRecord,
        d: &DatasetRecord,
        run_id: i64,
        settings: &[(String, String)],
        limits: &Limits,
        on_progress: Option<ProgressFn>,
        competition: Option<i64>,
        lease: Option<&str>,
        fresh: bool,
    ) -> Result<(RunRecord, RunReport)> {
        // A competition submission always runs: its data and its scoring are the organizers'.
        let reuse_key =
            if competition.is_none() { reuse_key(sandbox, record, d, settings, limits) } else { None };
        if let Some(key) = reuse_key.as_deref().filter(|_| !fresh) {
            let started = std::time::Instant::now();
            match self.identical_run(key).await {
                Ok(Some(mut report)) => {
                    self.finish_run(actor, run_id, &report, lease, None).await?;
                    report.store = started.elapsed();
                    return self.finished(run_id, report, competition).await;
                }
                Ok(None) => {}
                // The model can still run: an earlier run that does not read back is no reason
                // to fail this one.
                Err(e) => {
                    tracing::warn!(run = run_id, error = %e, "the identical earlier run did not answer; running the model")
                }
            }
        }
        let bytes = match self.plugin_bytes(&actor.user.name, &record.digest).await {
            Ok(bytes) => bytes,
            Err(e) => {
                // The run row exists: it ends failed with the reason, not left `running`.
                let outcome = match &e {
                    RegistryError::Blob(blob) => crate::registry::run_outcome(blob),
                    other => Outcome::BadInput(other.to_string()),
                };
                self.finish_run(
                    actor,
                    run_id,
                    &RunReport::failed(outcome, record.digest.clone()),
                    lease,
                    None,
                )
                .await?;
                return Err(e);
            }
        };
        // A SQL model runs on the engine its package names, which must still be installed.
        let engine = match self.check_engine(&bytes).await {
            Ok(engine) => engine,
            Err(e) => {
                let report = RunReport::failed(Outcome::BadInput(e.to_string()), record.digest.clone());
                self.finish_run(actor, run_id, &report, lease, None).await?;
                return Err(e);
            }
        };
        let report = {
            let (sandbox, registry, digest) = (sandbox.clone(), self.clone(), record.digest.clone());
            let (settings, limits, d) = (settings.to_vec(), limits.clone(), d.clone());
            let work = move || match load_model(&sandbox, &bytes, Some(&digest), |e| registry.engine_bytes(e))
            {
                Ok(plugin) => run_plugin(
                    &sandbox,
                    &plugin,
                    &settings,
                    &limits,
                    on_progress,
                    &d.digest,
                    |info, shares| catalog::load_stored(&registry, &d, info, shares),
                ),
                Err(outcome) => RunReport::failed(outcome, digest),
            };
            match off_runtime(work).await {
                Ok(report) => report,
                Err(e) => {
                    // The run row exists: it must end failed, not stay `running`.
                    let report = RunReport::failed(
                        Outcome::Trap { message: e.to_string(), backtrace: Vec::new() },
                        record.digest.clone(),
                    );
                    self.finish_run(actor, run_id, &report, lease, None).await?;
                    return Err(e);
                }
            }
        };
        let storing = std::time::Instant::now();
        self.finish_run(actor, run_id, &report, lease, reuse_key.as_deref()).await?;
        let mut report = report;
        report.store = storing.elapsed();
        if let Outcome::HashMismatch { expected, actual } = &report.outcome {
            let e = BlobError::Mismatch { expected: expected.clone(), actual: actual.clone() };
            // The blob that failed its digest: the SQL engine the model runs on, or the data.
            let (action, target) = match &engine {
                Some(engine) if engine == expected => ("sql-engine.tampered", engine.clone()),
                _ => ("dataset.tampered", format!("{}@{}", d.name, d.version)),
            };
            audit::record(&self.db, &actor.user.name, action, &target, json!({ "error": e.to_string() }))
                .await?;
        }
        self.finished(run_id, report, competition).await
    }

    /// Finished run `run_id`'s record, and `report` as its runner may see it.
    async fn finished(
        &self,
        run_id: i64,
        mut report: RunReport,
        competition: Option<i64>,
    ) -> Result<(RunRecord, RunReport)> {
        let record = self.run_record(run_id).await?;
        // A submission's clues go to scoring only (its runner never sees them), so they are kept.
        if let Some(why) = clues_held(&record).filter(|_| competition.is_none()) {
            // Stored, counted, and not handed to the runner: the same rule as `readable_run`.
            report.held = Some((report.clues.len(), why));
            report.clues.clear();
        }
        Ok((record, report))
    }

    /// The answer to a rerun from the latest completed run with reuse key `key`, if there is
    /// one: its outcome, fuel, memory and output digest, and its clues (which stay stored once,
    /// under that run), checked against its output digest first. An earlier run whose report or
    /// clues do not read back whole answers nothing (`None`), and the model runs.
    async fn identical_run(&self, key: &str) -> Result<Option<RunReport>> {
        let Some(row) = sqlx::query(
            "SELECT id, report FROM runs \
             WHERE reuse_key = $1 AND state = 'completed' AND reused_from IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(key)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let from: i64 = row.try_get("id")?;
        let stored = row.try_get::<Option<String>, _>("report")?;
        let Some(summary) = stored.and_then(|text| serde_json::from_str::<RunSummary>(&text).ok()) else {
            return Ok(None);
        };
        let clues = self.stored_clues(from).await?;
        if crate::sandbox::output_digest(&clues) != summary.output_digest {
            return Ok(None);
        }
        Ok(Some(RunReport::answered_from(from, summary, clues)))
    }

    /// The clues stored under run `id`, in emission order: its clue set, or, once they were
    /// indexed, its rows written back as one (see [`clue_sets`]). Row by row, the database driver
    /// hands each row between threads (150 ms for 21,000 clues), and SQLite's JSON functions took
    /// 67 ms to build the same as one array. Scores travel as text that round-trips every double
    /// (17 significant digits on SQLite, PostgreSQL's shortest exact form). On SQLite the rows are
    /// concatenated in the order the subquery reads them, from the primary key (an `ORDER BY` in
    /// the aggregate would sort them again); a rerun checks what it reads against the output
    /// digest in any case.
    async fn stored_clues(&self, id: i64) -> Result<Vec<Clue>> {
        let from_rows = match self.db.backend() {
            Backend::Sqlite => {
                "SELECT group_concat(field, '') AS clues FROM (SELECT printf('%d:%s%d:%s%d:%s%d:%s%d:%s', \
                 octet_length(subject), subject, length(score), score, octet_length(rule), rule, \
                 octet_length(reason), reason, octet_length(evidence), evidence) AS field FROM \
                 (SELECT subject, printf('%!.17g', score) AS score, rule, reason, evidence FROM clues \
                 WHERE run_id = $1 ORDER BY seq))"
            }
            Backend::Postgres => {
                "SELECT string_agg(concat(octet_length(subject), ':', subject, octet_length(score), ':', score, \
                 octet_length(rule), ':', rule, octet_length(reason), ':', reason, octet_length(evidence), ':', \
                 evidence), '' ORDER BY seq) AS clues FROM (SELECT seq, subject, CAST(score AS TEXT) AS score, \
                 rule, reason, evidence FROM clues WHERE run_id = $1) c"
            }
        };
        // The set first: indexing deletes it in the transaction that writes the rows, so a set
        // not found here means the rows are there.
        let unreadable = |why: String| unreadable_clues(id, why);
        let set: Option<Vec<u8>> = sqlx::query_scalar("SELECT clues FROM clue_sets WHERE run_id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        let text = match set {
            Some(set) => Some(clue_sets::inflate(&set).map_err(unreadable)?),
            None => sqlx::query(from_rows).bind(id).fetch_one(self.db.pool()).await?.try_get("clues")?,
        };
        clue_sets::to_clues(text.as_deref().unwrap_or("")).map_err(unreadable)
    }

    /// Make the rows of run `id`'s clues from its clue set, if they are still in one: the rows
    /// that paging, rule counts and reviews read, written once, when the clues are first read.
    /// The set is deleted in the same transaction, so concurrent readers index it once.
    pub(crate) async fn index_clues(&self, id: i64) -> Result<()> {
        // Looked up first without the write lock: every read after the first stops here.
        let pending: Option<i64> = sqlx::query_scalar("SELECT run_id FROM clue_sets WHERE run_id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        if pending.is_none() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        let set: Option<Vec<u8>> =
            sqlx::query_scalar("DELETE FROM clue_sets WHERE run_id = $1 RETURNING clues")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(set) = set else {
            // Another reader indexed them first.
            return Ok(());
        };
        let unreadable = |why: String| unreadable_clues(id, why);
        let text = clue_sets::inflate(&set).map_err(unreadable)?;
        let clues = clue_sets::decode(&text).map_err(|why| unreadable(why.to_string()))?;
        insert_clues(&mut tx, self.db.backend(), id, &clues).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Store run `run_id`'s result, its clues and its audit event in one transaction. With a
    /// `lease`, only while that lease is still the run's: otherwise nothing is written and the
    /// answer is a conflict (another worker has the run now). A completed run keeps `reuse_key`,
    /// so that identical runs after it are answered from it; a rerun answered from an earlier
    /// run stores no clues of its own, and names that run.
    async fn finish_run(
        &self,
        actor: &Actor,
        run_id: i64,
        report: &RunReport,
        lease: Option<&str>,
        reuse_key: Option<&str>,
    ) -> Result<()> {
        let completed = report.outcome == Outcome::Completed;
        let reused_from = report.reused.as_ref().map(|r| r.from);
        // The clues go in before the write lock (no other writer touches this run's clues), so
        // workers on other hosts store theirs side by side; the lock covers the rest.
        let mut tx = self.db.begin_write_deferred().await?;
        if completed && reused_from.is_none() && !report.clues.is_empty() {
            let set = clue_sets::encode(&report.clues).map_err(RegistryError::Invalid)?;
            sqlx::query("INSERT INTO clue_sets (run_id, clues) VALUES ($1, $2)")
                .bind(run_id)
                .bind(set)
                .execute(&mut *tx)
                .await?;
        }
        self.db.take_write_lock(&mut tx).await?;
        let summary = report.summary();
        let finished = sqlx::query(
            "UPDATE runs SET state = $1, outcome = $2, detail = $3, fuel = $4, peak_memory = $5, wall_ms = $6, \
             output_digest = $7, clue_count = $8, finished_at = $9, params = $10, report = $11, lease_owner = NULL, \
             reuse_key = $12, reused_from = $13 WHERE id = $14 AND (lease_owner = $15 OR $16)",
        )
        .bind(if completed { "completed" } else { "failed" })
        .bind(report.outcome.code())
        .bind(report.outcome.detail())
        .bind(report.fuel as i64)
        .bind(report.peak_memory_bytes as i64)
        .bind(report.wall.as_secs_f64() * 1000.0)
        .bind(completed.then(|| report.output_digest.clone()))
        .bind(if completed { report.clues.len() as i64 } else { 0 })
        .bind(now())
        .bind(summary.params.clone().unwrap_or_else(|| json!({})).to_string())
        .bind(serde_json::to_string(&summary).map_err(|e| RegistryError::Invalid(e.to_string()))?)
        .bind(reuse_key.filter(|_| completed && reused_from.is_none()))
        .bind(reused_from)
        .bind(run_id)
        .bind(lease.unwrap_or(""))
        .bind(lease.is_none())
        .execute(&mut *tx)
        .await?;
        if finished.rows_affected() != 1 {
            // Dropping the transaction rolls back the clues inserted above.
            return Err(RegistryError::Conflict(format!(
                "run {run_id}: this worker's lease expired and the run went back to the queue; its result is discarded"
            )));
        }
        let mut detail = json!({
            "outcome": report.outcome.code(), "clues": report.clues.len(), "fuel": report.fuel,
            "output_digest": completed.then(|| report.output_digest.clone()),
        });
        if let Some(from) = reused_from {
            detail["reused_from"] = json!(from);
        }
        audit::append(&mut tx, &actor.user.name, "run.finish", &run_id.to_string(), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn run_record(&self, id: i64) -> Result<RunRecord> {
        let row = sqlx::query(&format!("{RUN_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "run", id: id.to_string() })?;
        run_from(&row)
    }

    /// Run `id`, if `actor` may see it: its runner, an admin above the runner's procuratorate,
    /// or an admin above the procuratorate that owns the dataset it ran on.
    pub async fn visible_run(&self, actor: &Actor, id: i64) -> Result<RunRecord> {
        let run = self.run_record(id).await?;
        if let Some(competition) = run.competition_id {
            // A submission's run holds the evaluation data's clues: not even its runner reads them.
            self.require_competition_staff(actor, competition, "reading a competition submission's run")
                .await?;
            return Ok(run);
        }
        if run.user != actor.user.name
            && !(actor.has(Role::Admin) && self.within(run.dataset_owner_org_id, actor.user.org_id).await?)
        {
            self.require_admin_over(actor, run.org_id, "reading another user's run").await?;
        }
        Ok(run)
    }

    /// What run `id` reported (outcome, fuel, memory, times, logs), if `actor` may see the run: the
    /// stored report, with why its clues are held when they are. A run that ended without one (its
    /// host died, or it predates stored reports) gets what its record says.
    pub async fn run_summary(&self, actor: &Actor, id: i64) -> Result<RunSummary> {
        let run = self.visible_run(actor, id).await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT report FROM runs WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await?;
        let mut summary = match stored.and_then(|text| serde_json::from_str::<RunSummary>(&text).ok()) {
            Some(s) => s,
            None => RunSummary::of_record(&run),
        };
        summary.held = clues_held(&run);
        Ok(summary)
    }

    /// Run `id` with its clues readable by `actor`: the one check every path to a run's clues
    /// goes through (listing them, exporting them, the run command printing them). A run on a
    /// restricted dataset keeps its clues on the platform until an admin releases it.
    pub async fn readable_run(&self, actor: &Actor, id: i64) -> Result<RunRecord> {
        let run = self.visible_run(actor, id).await?;
        match clues_held(&run) {
            Some(why) => Err(RegistryError::Denied(why)),
            None => Ok(run),
        }
    }

    /// The runs `actor` may see, newest first (at most `limit`): their own, and for an admin
    /// every run made in their procuratorate's subtree (three levels at most, spelled out).
    /// Competition submissions are not listed here (see `sieve competition submissions`).
    pub async fn runs(&self, actor: &Actor, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(&format!(
            "{RUN_SELECT} WHERE r.competition_id IS NULL AND (r.user_id = $1 OR ($2 = 1 AND r.org_id IN (SELECT id FROM orgs WHERE id = $3 \
             OR parent_id = $3 OR parent_id IN (SELECT id FROM orgs WHERE parent_id = $3)) \
             OR ($2 = 1 AND d.owner_org_id IN (SELECT id FROM orgs WHERE id = $3 \
             OR parent_id = $3 OR parent_id IN (SELECT id FROM orgs WHERE parent_id = $3))))) \
             ORDER BY r.id DESC LIMIT $4"
        ))
        .bind(actor.user.id)
        .bind(actor.has(Role::Admin) as i64)
        .bind(actor.user.org_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(run_from).collect()
    }

    /// One page of run `id`'s clues (pages from 1).
    pub async fn run_clues(
        &self,
        actor: &Actor,
        id: i64,
        order: ClueOrder,
        page: i64,
        per_page: i64,
    ) -> Result<Vec<StoredClue>> {
        self.run_clues_of_rule(actor, id, order, page, per_page, None).await
    }

    /// The rules run `id`'s clues came from, with how many each (for filtering a listing).
    pub async fn run_rules(&self, actor: &Actor, id: i64) -> Result<Vec<(String, i64)>> {
        let run = self.readable_run(actor, id).await?;
        self.index_clues(run.clues_stored_under()).await?;
        let rows = sqlx::query(
            "SELECT rule, COUNT(*) AS n FROM clues WHERE run_id = $1 GROUP BY rule ORDER BY rule",
        )
        .bind(run.clues_stored_under())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("rule")?, r.try_get("n")?))).collect()
    }

    /// One page of run `id`'s clues, only those of `rule` when given.
    pub async fn run_clues_of_rule(
        &self,
        actor: &Actor,
        id: i64,
        order: ClueOrder,
        page: i64,
        per_page: i64,
        rule: Option<&str>,
    ) -> Result<Vec<StoredClue>> {
        let run = self.readable_run(actor, id).await?;
        self.index_clues(run.clues_stored_under()).await?;
        let (order_by, outer_order) = match order {
            ClueOrder::Score => ("score DESC, seq", "c.score DESC, c.seq"),
            ClueOrder::Seq => ("seq", "c.seq"),
        };
        // The page's clues are picked from an index alone (migrations 0013 and 0019: it carries
        // the rule), then joined: a deep page skips index entries, not whole rows with their
        // verdicts. The clues may be stored under an earlier identical run; the verdicts are
        // this run's.
        let of_rule = if rule.is_some() { "AND rule = $5" } else { "" };
        let sql = format!(
            "SELECT c.*, v.verdict, v.reason AS verdict_reason, u.name AS reviewer \
             FROM (SELECT seq FROM clues WHERE run_id = $1 {of_rule} ORDER BY {order_by} LIMIT $2 OFFSET $3) page \
             JOIN clues c ON c.run_id = $1 AND c.seq = page.seq \
             LEFT JOIN clue_reviews v ON v.run_id = $4 AND v.subject = c.subject \
             LEFT JOIN users u ON u.id = v.user_id ORDER BY {outer_order}"
        );
        let mut query = sqlx::query(&sql)
            .bind(run.clues_stored_under())
            .bind(per_page)
            .bind((page.max(1) - 1) * per_page)
            .bind(id);
        if let Some(rule) = rule {
            query = query.bind(rule);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| {
                let evidence: String = r.try_get("evidence")?;
                Ok(StoredClue {
                    seq: r.try_get("seq")?,
                    subject: r.try_get("subject")?,
                    score: r.try_get("score")?,
                    rule: r.try_get("rule")?,
                    reason: r.try_get("reason")?,
                    evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
                    verdict: match r.try_get::<Option<String>, _>("verdict")? {
                        Some(name) => Some(ClueVerdict {
                            verdict: super::reviews::Verdict::parse(&name).ok_or_else(|| {
                                RegistryError::Invalid(format!("stored verdict {name:?} is unknown"))
                            })?,
                            reason: r.try_get::<Option<String>, _>("verdict_reason")?.unwrap_or_default(),
                            reviewer: r.try_get::<Option<String>, _>("reviewer")?.unwrap_or_default(),
                        }),
                        None => None,
                    },
                })
            })
            .collect()
    }

    /// All clues of run `id` for export, in emission order. A run on a restricted dataset must
    /// have been released by an admin first.
    pub async fn export_clues(&self, actor: &Actor, id: i64) -> Result<Vec<StoredClue>> {
        let run = self.readable_run(actor, id).await?;
        if run.state != "completed" {
            return Err(RegistryError::Conflict(format!(
                "run {id} is {}: only completed runs have clues",
                run.state
            )));
        }
        let clues = self.run_clues(actor, id, ClueOrder::Seq, 1, i64::MAX / 2).await?;
        audit::record(
            &self.db,
            &actor.user.name,
            "run.export",
            &id.to_string(),
            json!({ "clues": clues.len() }),
        )
        .await?;
        Ok(clues)
    }

    /// Release run `id`'s clues: an admin above the procuratorate that owns the dataset (whose
    /// data it is), never the person who ran it.
    pub async fn release_run(&self, actor: &Actor, id: i64, note: &str) -> Result<RunRecord> {
        let run = self.run_record(id).await?;
        self.require_admin_over(
            actor,
            run.dataset_owner_org_id,
            "releasing a run's clues (the data's owner decides)",
        )
        .await?;
        if run.user == actor.user.name {
            return Err(RegistryError::Denied(format!(
                "releasing run {id}: {} ran it, and a run's clues are released by another admin",
                actor.user.name
            )));
        }
        if run.state != "completed" {
            return Err(RegistryError::Conflict(format!(
                "run {id} is {}: only completed runs can be released",
                run.state
            )));
        }
        if run.released_by.is_some() {
            return Ok(run);
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE runs SET released_by = $1, released_at = $2 WHERE id = $3")
            .bind(actor.user.id)
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(&mut tx, &actor.user.name, "run.release", &id.to_string(), json!({ "note": note }))
            .await?;
        tx.commit().await?;
        self.run_record(id).await
    }
}

/// What makes two runs identical, as hex: the component, the dataset version (its id, content
/// digest and the encoding it is served in), the settings as given (they seed the guest's random
/// numbers and resolve its parameters), the limits, and the host that runs it (its build, and the
/// engine its compiled code depends on). Everything a model sees is a function of these, so two
/// runs with one key give the same outcome and clues; vetting checks models are deterministic.
/// `None`, and no run answered from another, where this build cannot be told from others.
fn reuse_key(
    sandbox: &Sandbox,
    record: &PluginRecord,
    d: &DatasetRecord,
    settings: &[(String, String)],
    limits: &Limits,
) -> Option<String> {
    let build = crate::build_id::of_this_build()?;
    let mut settings: Vec<&(String, String)> = settings.iter().collect();
    settings.sort();
    let inputs = json!({
        "plugin": record.digest,
        "dataset": d.id,
        "dataset_digest": d.digest,
        "encoding": d.encoding,
        "settings": settings,
        // Every field, those added later too: a run that completed within one set of limits
        // may not within another.
        "limits": format!("{limits:?}"),
        "host_version": env!("CARGO_PKG_VERSION"),
        "host_build": build,
        "engine": sandbox.engine_key(),
    });
    Some(crate::digest::sha256_hex(inputs.to_string().as_bytes()))
}
