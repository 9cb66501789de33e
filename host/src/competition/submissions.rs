//! Submissions: checked and queued (phase, scope, approved plugin of the right task, daily quota,
//! failure cap, no second copy of a digest), claimed from the queue by a bounded pool of workers,
//! run as stored runs on the benchmark's pinned dataset, and scored on both sides of the split.

use serde::Serialize;
use serde_json::json;
use sieve_sdk::Clue;
use sqlx::Row;

use super::bootstrap::{self, Interval};
use super::split::{Side, Split};
use super::{CompetitionRecord, coarse};
use crate::audit;
use crate::registry::{Actor, Registry, RegistryError, Result, Role};
use crate::runs::RunReport;
use crate::runs::leases::Leased;
use crate::sandbox::{Outcome, Sandbox};
use crate::scoring::{Label, Metric, Ranking, Scores, score_ranking};
use crate::storage::{format_ms, now, process_alive};

/// Scores of one side of the split, with the bootstrap interval of the primary metric.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SideScores {
    /// Every metric.
    pub scores: Scores,
    /// 95% interval of the primary metric.
    pub interval: Interval,
}

/// A submission as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct SubmissionRecord {
    /// Submission id.
    pub id: i64,
    /// Competition name.
    pub competition: String,
    #[serde(skip)]
    pub(crate) competition_id: i64,
    /// Plugin digest.
    pub plugin: String,
    /// Model name.
    pub model: String,
    /// Who submitted it.
    pub user: String,
    #[serde(skip)]
    pub(crate) user_id: i64,
    /// Their procuratorate.
    pub org: String,
    #[serde(skip)]
    pub(crate) org_id: i64,
    /// `queued`, `running`, `scored` or `failed`.
    pub state: String,
    /// Outcome code of its run, once finished.
    pub outcome: Option<String>,
    /// Outcome detail (organizers only: a model's own error text could carry what it read).
    pub detail: Option<String>,
    /// Submission time.
    pub submitted_at: String,
    /// Its UTC day (the quota's).
    pub day: String,
    /// The stored run (organizers only).
    pub run_id: Option<i64>,
    /// Scores on the public side.
    pub public: Option<SideScores>,
    /// Scores on the private side (organizers, or anyone after finalization).
    pub private: Option<SideScores>,
    /// Fuel used (participants see two significant digits).
    pub fuel: Option<f64>,
    /// Peak guest memory in bytes (likewise).
    pub peak_memory: Option<f64>,
    /// Guest wall time in ms (likewise).
    pub wall_ms: Option<f64>,
    /// Digest of its clues (organizers only).
    pub output_digest: Option<String>,
    /// Selected for the final ranking by its procuratorate.
    pub selected: bool,
    /// False once a rescore produced different output.
    pub deterministic: bool,
    /// What every score was computed from.
    #[schema(value_type = Object)]
    pub provenance: serde_json::Value,
    /// Place in the queue (1 = next), while queued.
    pub queue_position: Option<i64>,
}

impl SubmissionRecord {
    /// What a participant may see of it: no private scores before finalization, no run, no
    /// detail, no output digest, costs to two significant digits.
    pub fn for_participant(mut self, finalized: bool) -> Self {
        if !finalized {
            self.private = None;
        }
        self.detail = None;
        self.run_id = None;
        self.output_digest = None;
        self.fuel = self.fuel.map(coarse);
        self.peak_memory = self.peak_memory.map(coarse);
        self.wall_ms = self.wall_ms.map(coarse);
        self
    }

    /// The scores of `side`.
    pub fn side(&self, side: Side) -> Option<&SideScores> {
        match side {
            Side::Public => self.public.as_ref(),
            Side::Private => self.private.as_ref(),
        }
    }
}

const SUBMISSION_SELECT: &str = "SELECT s.*, c.name AS competition_name, p.name AS model, u.name AS user_name, \
     o.name AS org_name, r.fuel, r.peak_memory, r.wall_ms, r.output_digest, r.detail, \
     (SELECT COUNT(*) FROM submissions q WHERE q.state = 'queued' AND q.id <= s.id) AS queue_position \
     FROM submissions s JOIN competitions c ON c.id = s.competition_id JOIN plugins p ON p.digest = s.plugin_digest \
     JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id LEFT JOIN runs r ON r.id = s.run_id";

fn side_scores(text: Option<String>) -> Option<SideScores> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn submission_from(r: &sqlx::any::AnyRow) -> Result<SubmissionRecord> {
    let state: String = r.try_get("state")?;
    let provenance: Option<String> = r.try_get("provenance")?;
    Ok(SubmissionRecord {
        id: r.try_get("id")?,
        competition: r.try_get("competition_name")?,
        competition_id: r.try_get("competition_id")?,
        plugin: r.try_get("plugin_digest")?,
        model: r.try_get("model")?,
        user: r.try_get("user_name")?,
        user_id: r.try_get("user_id")?,
        org: r.try_get("org_name")?,
        org_id: r.try_get("org_id")?,
        outcome: r.try_get("outcome")?,
        detail: r.try_get("detail")?,
        submitted_at: r.try_get("submitted_at")?,
        day: r.try_get("day")?,
        run_id: r.try_get("run_id")?,
        public: side_scores(r.try_get("public_scores")?),
        private: side_scores(r.try_get("private_scores")?),
        fuel: r.try_get::<Option<i64>, _>("fuel")?.map(|f| f as f64),
        peak_memory: r.try_get::<Option<i64>, _>("peak_memory")?.map(|m| m as f64),
        wall_ms: r.try_get("wall_ms")?,
        output_digest: r.try_get("output_digest")?,
        selected: r.try_get::<i64, _>("selected")? != 0,
        deterministic: r.try_get::<i64, _>("deterministic")? != 0,
        provenance: provenance.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or(serde_json::Value::Null),
        queue_position: if state == "queued" { Some(r.try_get("queue_position")?) } else { None },
        state,
    })
}

/// The UTC day of epoch ms `at`, as `YYYY-MM-DD`.
pub fn utc_day(at: i64) -> String {
    sieve_sdk::data::format_date(at.div_euclid(86_400_000) as i32)
}

/// The start of the UTC day after the one holding `at` (the quota's reset).
pub fn next_reset(at: i64) -> i64 {
    (at.div_euclid(86_400_000) + 1) * 86_400_000
}

/// How much of a procuratorate's quota one day has used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct QuotaUse {
    /// Submissions queued, running or scored today (they count against the daily limit).
    pub counted: i64,
    /// Failed today, the host's own crashes excepted (they count against the failure cap).
    pub failed: i64,
}

/// A competition as one procuratorate sees it at a given time: its phase, that procuratorate's
/// quota for the UTC day, and the registry's queue.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CompetitionStatus {
    /// The record.
    pub competition: CompetitionRecord,
    /// Its phase: created, scheduled, open, closed or finalized.
    pub phase: String,
    /// The UTC day the quota counts.
    pub day: String,
    /// The procuratorate's use of that day's quota.
    pub quota: QuotaUse,
    /// Submissions left that day.
    pub left_today: i64,
    /// Failed submissions left that day.
    pub failures_left: i64,
    /// When the day resets.
    pub resets_at: String,
    /// Submissions waiting in the registry's queue.
    pub queued: i64,
    /// Submissions running now.
    pub running: i64,
}

/// Score `clues` on each side of `split`: labels and clues of a side's subjects, plus clues
/// naming no subject of the dataset, which count as false on both sides. The review budget is
/// shared out by each side's share of the labelled subjects.
pub fn score_sides(
    labels: &[Label],
    split: &Split,
    clues: &[Clue],
    review_budget: usize,
    metric: Metric,
    seed: u64,
) -> (SideScores, SideScores) {
    let total = labels.iter().map(|l| l.subject.as_str()).collect::<std::collections::HashSet<_>>().len();
    // Each clue's side, looked up once for both sides.
    let clue_sides: Vec<Option<Side>> = clues.iter().map(|c| split.side(&c.subject)).collect();
    let [public, private] = [Side::Public, Side::Private].map(|side| {
        let side_labels: Vec<Label> =
            labels.iter().filter(|l| split.side(&l.subject) == Some(side)).cloned().collect();
        let pairs = clues
            .iter()
            .zip(&clue_sides)
            .filter(|(_, s)| s.is_none_or(|s| s == side))
            .map(|(c, _)| (c.subject.as_str(), c.score));
        let ranking = Ranking::from_pairs(&side_labels, clues.len(), pairs);
        let k =
            ((review_budget as f64 * ranking.labelled as f64 / total.max(1) as f64).round() as usize).max(1);
        let scores = score_ranking(&side_labels, &ranking, Some(k));
        let side_seed = seed ^ if side == Side::Public { 0x9B1C } else { 0x7A3E };
        let interval = bootstrap::interval(&ranking, metric, k, side_seed);
        SideScores { scores, interval }
    });
    (public, private)
}

impl Registry {
    /// Queue `plugin` as `actor`'s submission to competition `name` at time `at` (epoch ms).
    /// Refused unless the competition is open, the actor's procuratorate takes part in it, the
    /// plugin is approved for it and of the benchmark's task, the day's quota and failure cap
    /// leave room, and the procuratorate has not already submitted this digest.
    pub async fn submit(&self, actor: &Actor, name: &str, plugin: &str, at: i64) -> Result<SubmissionRecord> {
        actor.require(Role::Author, "submitting to a competition")?;
        let c = self.competition(name).await?;
        if !self.within(actor.user.org_id, c.org_id).await? {
            return Err(RegistryError::Denied(format!(
                "competition {name} is run by {} for its procuratorates; {} is not one of them",
                c.org, actor.user.org
            )));
        }
        let phase = c.phase(at);
        if phase != super::competitions::Phase::Open {
            let window = match (&c.opens_at, &c.closes_at) {
                (Some(o), Some(cl)) => format!(" (open from {o} to {cl})"),
                (Some(o), None) => format!(" (opens {o})"),
                (None, Some(cl)) => format!(" (closes {cl})"),
                (None, None) => String::new(),
            };
            return Err(RegistryError::Conflict(format!(
                "competition {name} is {}{window}: submissions are accepted only while it is open",
                phase.as_str()
            )));
        }
        let record = self.runnable_plugin(actor, plugin).await?;
        if record.task != c.task {
            return Err(RegistryError::Invalid(format!(
                "plugin {} is a {} model; competition {name} is on {}",
                record.name, record.task, c.task
            )));
        }
        let day = utc_day(at);
        let mut tx = self.db.begin_write().await?;
        let used = quota_use(&mut tx, c.id, actor.user.org_id, &day).await?;
        let reset = format_ms(next_reset(at));
        if used.counted >= c.daily_limit {
            return Err(RegistryError::Denied(format!(
                "{} has used {} of {} submissions to {name} today (UTC {day}); the quota resets at {reset}",
                actor.user.org, used.counted, c.daily_limit
            )));
        }
        if used.failed >= c.failure_limit {
            return Err(RegistryError::Denied(format!(
                "{} has had {} failed submissions to {name} today (UTC {day}), the most allowed; it resets at {reset}",
                actor.user.org, used.failed
            )));
        }
        let earlier = sqlx::query(
            "SELECT id FROM submissions WHERE competition_id = $1 AND org_id = $2 AND plugin_digest = $3 \
             AND state IN ('queued', 'running', 'scored') ORDER BY id LIMIT 1",
        )
        .bind(c.id)
        .bind(actor.user.org_id)
        .bind(&record.digest)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            let id: i64 = row.try_get("id")?;
            return Err(RegistryError::Conflict(format!(
                "{} already submitted plugin {} to {name} (submission {id}): the same digest scores the same; \
                 submit a changed model instead",
                actor.user.org, record.digest
            )));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO submissions (competition_id, plugin_digest, user_id, org_id, state, submitted_at, day) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6) RETURNING id",
        )
        .bind(c.id)
        .bind(&record.digest)
        .bind(actor.user.id)
        .bind(actor.user.org_id)
        .bind(format_ms(at))
        .bind(&day)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        audit::append(
            &mut tx,
            &actor.user.name,
            "competition.submit",
            name,
            json!({ "submission": id, "plugin": record.digest, "org": actor.user.org, "day": day }),
        )
        .await?;
        self.db.announce_queued(&mut tx).await?;
        tx.commit().await?;
        self.submission(id).await
    }

    /// How much of `org_id`'s quota for competition `name` day `at` has used.
    pub async fn quota(&self, name: &str, org_id: i64, at: i64) -> Result<QuotaUse> {
        let c = self.competition(name).await?;
        let mut conn = self.db.pool().acquire().await?;
        quota_use(&mut conn, c.id, org_id, &utc_day(at)).await
    }

    /// Competition `name` as `actor`'s procuratorate sees it at `at` (anyone taking part in it).
    pub async fn competition_status(&self, actor: &Actor, name: &str, at: i64) -> Result<CompetitionStatus> {
        let c = self.competition(name).await?;
        self.require_in_scope(actor, &c, "showing a competition").await?;
        let quota = self.quota(name, actor.user.org_id, at).await?;
        let (queued, running) = self.queue_counts().await?;
        Ok(CompetitionStatus {
            phase: c.phase(at).as_str().into(),
            day: utc_day(at),
            left_today: (c.daily_limit - quota.counted).max(0),
            failures_left: (c.failure_limit - quota.failed).max(0),
            resets_at: format_ms(next_reset(at)),
            quota,
            queued,
            running,
            competition: c,
        })
    }

    /// Submission `id`, unredacted (callers decide what to show).
    pub async fn submission(&self, id: i64) -> Result<SubmissionRecord> {
        let row = sqlx::query(&format!("{SUBMISSION_SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "submission", id: id.to_string() })?;
        submission_from(&row)
    }

    /// Every submission to competition `c`, oldest first, unredacted.
    pub(crate) async fn all_submissions(&self, c: &CompetitionRecord) -> Result<Vec<SubmissionRecord>> {
        let rows = sqlx::query(&format!("{SUBMISSION_SELECT} WHERE s.competition_id = $1 ORDER BY s.id"))
            .bind(c.id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(submission_from).collect()
    }

    /// The submissions to competition `name` that `actor` may see, as they may see them:
    /// organizers and admins above it see all of them in full; a participant sees their own
    /// procuratorate's (redacted), and everyone's only once the competition is finalized.
    pub async fn submissions(&self, actor: &Actor, name: &str) -> Result<Vec<SubmissionRecord>> {
        let c = self.competition(name).await?;
        self.require_in_scope(actor, &c, "listing a competition's submissions").await?;
        let all = self.all_submissions(&c).await?;
        if self.is_staff_over(actor, c.org_id).await? {
            return Ok(all);
        }
        let finalized = c.state == "finalized";
        Ok(all
            .into_iter()
            .filter(|s| finalized || s.org_id == actor.user.org_id)
            .map(|s| s.for_participant(finalized))
            .collect())
    }

    /// Take the oldest queued submission, with a lease on it for `lease_owner`. With a `pool`,
    /// only while fewer than `pool` submissions run across the registry (the count and the
    /// claim happen under the write lock, so several processes together never run more than
    /// `pool` at once); without one, on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so workers on
    /// many hosts claim side by side. Work whose lease expired goes back to the queue first.
    pub async fn claim_submission(&self, pool: Option<usize>, lease_owner: &str) -> Result<Option<i64>> {
        self.requeue_expired().await?;
        let claim = format!(
            "UPDATE submissions SET state = 'running', host = $1, pid = $2, lease_owner = $3, lease_until_ms = $4, \
             attempts = attempts + 1 \
             WHERE id = (SELECT id FROM submissions WHERE state = 'queued' ORDER BY id LIMIT 1{}) AND state = 'queued' \
             RETURNING id",
            self.db.skip_locked()
        );
        let claim = sqlx::query(&claim)
            .bind(crate::runs::store::this_host())
            .bind(std::process::id() as i64)
            .bind(lease_owner)
            .bind(crate::runs::leases::lease_until_ms());
        let row = match pool {
            None => claim.fetch_optional(self.db.pool()).await?,
            Some(pool) => {
                let mut tx = self.db.begin_write().await?;
                let running: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM submissions WHERE state = 'running'")
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                if running >= pool as i64 {
                    return Ok(None);
                }
                let row = claim.fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                row
            }
        };
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Submissions waiting in the queue, and running now (across the registry).
    pub async fn queue_counts(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued, \
             SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running FROM submissions",
        )
        .fetch_one(self.db.pool())
        .await?;
        Ok((
            row.try_get::<Option<i64>, _>("queued")?.unwrap_or(0),
            row.try_get::<Option<i64>, _>("running")?.unwrap_or(0),
        ))
    }

    /// Work the submission queue with `pool` workers until it is empty (or, with `until`, until
    /// that submission is finished): each worker claims the oldest queued submission while fewer
    /// than `pool` run across the registry, runs and scores it, and claims the next. `on_done`
    /// hears of each finished submission. Returns how many this process finished.
    pub async fn work_queue(
        &self,
        sandbox: &Sandbox,
        pool: usize,
        until: Option<i64>,
        on_done: std::sync::Arc<dyn Fn(&SubmissionRecord) + Send + Sync>,
    ) -> Result<usize> {
        let mut workers: tokio::task::JoinSet<Result<usize>> = tokio::task::JoinSet::new();
        for worker in 0..pool.max(1) {
            let (registry, sandbox, on_done) = (self.clone(), sandbox.clone(), on_done.clone());
            let lease_owner = crate::runs::leases::lease_owner(worker);
            workers.spawn(async move {
                let mut done = 0usize;
                loop {
                    if let Some(id) = until {
                        let s = registry.submission(id).await?;
                        if s.state != "queued" && s.state != "running" {
                            return Ok(done);
                        }
                    }
                    match registry.claim_submission(Some(pool.max(1)), &lease_owner).await? {
                        Some(id) => {
                            let s = registry.run_submission(&sandbox, id, &lease_owner).await?;
                            on_done(&s);
                            done += 1;
                        }
                        None => {
                            let (queued, running) = registry.queue_counts().await?;
                            if queued == 0 && (until.is_none() || running == 0) {
                                return Ok(done);
                            }
                            // Full pool (or our submission running elsewhere): wait for a slot.
                            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        }
                    }
                }
            });
        }
        let mut total = 0;
        while let Some(joined) = workers.join_next().await {
            total += joined.map_err(|e| RegistryError::Worker(e.to_string()))??;
        }
        Ok(total)
    }

    /// Run claimed submission `id` and score it, renewing the lease `lease_owner` took with it;
    /// a result that comes after the lease was lost is discarded (the submission went back to
    /// the queue). A plugin revoked or a dataset retired since it was queued fails the
    /// submission without running it (not counted against the failure cap either way: the
    /// participant did not cause it).
    pub async fn run_submission(
        &self,
        sandbox: &Sandbox,
        id: i64,
        lease_owner: &str,
    ) -> Result<SubmissionRecord> {
        self.while_leased(
            Leased::Submission(id),
            lease_owner,
            self.run_submission_leased(sandbox, id, lease_owner),
        )
        .await
    }

    async fn run_submission_leased(
        &self,
        sandbox: &Sandbox,
        id: i64,
        lease: &str,
    ) -> Result<SubmissionRecord> {
        let s = self.submission(id).await?;
        let c = self.competition_by_id(s.competition_id).await?;
        let b = self.benchmark_by_id(c.benchmark_id).await?;
        let submitter = self.actor_for(s.user_id).await?;
        let prepared = async {
            let record = self.runnable_plugin(&submitter, &s.plugin).await?;
            let d = self.dataset(&b.dataset, false).await?;
            if d.state != "approved" || d.digest != b.dataset_digest {
                return Err(RegistryError::Conflict(format!(
                    "the benchmark's dataset {} is {} (digest {}), not the approved version it pinned",
                    b.dataset, d.state, d.digest
                )));
            }
            Ok((record, d))
        }
        .await;
        let (record, d) = match prepared {
            Ok(p) => p,
            Err(
                e @ (RegistryError::Denied(_) | RegistryError::Conflict(_) | RegistryError::NotFound { .. }),
            ) => {
                self.finish_submission(&s, "refused", Some(&e.to_string()), None, None, Some(lease)).await?;
                return self.submission(id).await;
            }
            Err(e) => return Err(e),
        };
        let limits = c.run_limits();
        let (run, report) = self
            .execute_run(sandbox, &submitter, &record, &d, &[], &limits, None, Some(c.id), Some(lease), true)
            .await?;
        if report.outcome != Outcome::Completed {
            self.finish_submission(&s, report.outcome.code(), None, Some(run.id), None, Some(lease)).await?;
            return self.submission(id).await;
        }
        let scored = self.score_report(&b, &report).await?;
        let provenance = json!({
            "plugin": record.digest, "dataset_digest": b.dataset_digest, "labels_digest": b.labels_digest,
            "split_seed": b.split_seed, "split_digest": b.split_digest, "host_version": env!("CARGO_PKG_VERSION"),
            "limits": c.limits, "metric": b.metric, "review_budget": b.review_budget,
            "bootstrap_rounds": bootstrap::ROUNDS, "output_digest": report.output_digest,
        });
        self.finish_submission(&s, "completed", None, Some(run.id), Some((scored, provenance)), Some(lease))
            .await?;
        self.submission(id).await
    }

    /// Score a completed report on both sides of benchmark `b`.
    pub(crate) async fn score_report(
        &self,
        b: &super::BenchmarkRecord,
        report: &RunReport,
    ) -> Result<(SideScores, SideScores)> {
        let registry = self.clone();
        let (b, clues) = (b.clone(), report.clues.clone());
        crate::registry::off_runtime(move || -> Result<(SideScores, SideScores)> {
            let labels = registry.benchmark_labels(&b)?;
            let split = registry.benchmark_split(&b)?;
            let budget = b.review_budget.max(1) as usize;
            Ok(score_sides(&labels, &split, &clues, budget, b.primary(), b.split_seed as u64))
        })
        .await?
    }

    async fn finish_submission(
        &self,
        s: &SubmissionRecord,
        outcome: &str,
        detail: Option<&str>,
        run_id: Option<i64>,
        scored: Option<((SideScores, SideScores), serde_json::Value)>,
        lease: Option<&str>,
    ) -> Result<()> {
        let state = if scored.is_some() { "scored" } else { "failed" };
        let to_text = |v: &SideScores| serde_json::to_string(v).unwrap_or_default();
        let (public, private, provenance) = match &scored {
            Some(((p, q), prov)) => (Some(to_text(p)), Some(to_text(q)), Some(prov.to_string())),
            None => (None, None, None),
        };
        let mut tx = self.db.begin_write().await?;
        let finished = sqlx::query(
            "UPDATE submissions SET state = $1, outcome = $2, run_id = $3, public_scores = $4, private_scores = $5, \
             provenance = $6, finished_at = $7, lease_owner = NULL WHERE id = $8 AND (lease_owner = $9 OR $10)",
        )
        .bind(state)
        .bind(outcome)
        .bind(run_id)
        .bind(public)
        .bind(private)
        .bind(provenance)
        .bind(now())
        .bind(s.id)
        .bind(lease.unwrap_or(""))
        .bind(lease.is_none())
        .execute(&mut *tx)
        .await?;
        if finished.rows_affected() != 1 {
            return Err(RegistryError::Conflict(format!(
                "submission {}: this worker's lease expired and the submission went back to the queue; its result is discarded",
                s.id
            )));
        }
        let mut detail_json =
            json!({ "submission": s.id, "outcome": outcome, "run": run_id, "detail": detail });
        if let Some(((p, q), _)) = &scored {
            detail_json["public_f0_5"] = json!(p.scores.f0_5);
            detail_json["private_f0_5"] = json!(q.scores.f0_5);
        }
        let action = if scored.is_some() { "submission.score" } else { "submission.fail" };
        audit::append(&mut tx, "system", action, &s.competition, detail_json).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Submissions this host was running in a process that died: a leased one (a worker's) has
    /// its lease ended, so the next claim puts it back in the queue at once; one from before
    /// leases is failed (`host-crash`, which no participant is charged for). Returns how many
    /// were failed.
    pub async fn recover_orphaned_submissions(&self) -> Result<usize> {
        let rows =
            sqlx::query("SELECT id, pid, lease_owner FROM submissions WHERE state = 'running' AND host = $1")
                .bind(crate::runs::store::this_host())
                .fetch_all(self.db.pool())
                .await?;
        let mut recovered = 0;
        for row in rows {
            let (id, pid): (i64, Option<i64>) = (row.try_get("id")?, row.try_get("pid")?);
            let pid = pid.unwrap_or(0);
            if pid == std::process::id() as i64 || process_alive(pid) {
                continue;
            }
            if row.try_get::<Option<String>, _>("lease_owner")?.is_some() {
                self.end_dead_lease(Leased::Submission(id), pid).await?;
                continue;
            }
            let s = self.submission(id).await?;
            let why = format!("the sieve process (pid {pid}) running it ended");
            self.finish_submission(&s, "host-crash", Some(&why), s.run_id, None, None).await?;
            recovered += 1;
        }
        Ok(recovered)
    }

    /// Select up to the competition's allowance of `actor`'s procuratorate's scored submissions
    /// for the final ranking (replacing an earlier selection).
    pub async fn select_submissions(&self, actor: &Actor, name: &str, ids: &[i64]) -> Result<Vec<i64>> {
        actor.require(Role::Author, "selecting submissions")?;
        let c = self.competition(name).await?;
        if c.state == "finalized" {
            return Err(RegistryError::Conflict(format!(
                "competition {name} is finalized: selections are closed"
            )));
        }
        if ids.is_empty() || ids.len() as i64 > c.final_selections {
            return Err(RegistryError::Invalid(format!(
                "select between 1 and {} submissions (got {})",
                c.final_selections,
                ids.len()
            )));
        }
        for id in ids {
            let s = self.submission(*id).await?;
            if s.competition_id != c.id || s.org_id != actor.user.org_id {
                return Err(RegistryError::Denied(format!(
                    "submission {id} is not one of {}'s submissions to {name}",
                    actor.user.org
                )));
            }
            if s.state != "scored" {
                return Err(RegistryError::Invalid(format!(
                    "submission {id} is {}: only scored ones can be selected",
                    s.state
                )));
            }
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE submissions SET selected = 0 WHERE competition_id = $1 AND org_id = $2")
            .bind(c.id)
            .bind(actor.user.org_id)
            .execute(&mut *tx)
            .await?;
        for id in ids {
            sqlx::query("UPDATE submissions SET selected = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(&mut tx, &actor.user.name, "competition.select", name, json!({ "submissions": ids }))
            .await?;
        tx.commit().await?;
        Ok(ids.to_vec())
    }
}

async fn quota_use(
    conn: &mut sqlx::AnyConnection,
    competition: i64,
    org: i64,
    day: &str,
) -> Result<QuotaUse> {
    let row = sqlx::query(
        "SELECT SUM(CASE WHEN state IN ('queued', 'running', 'scored') THEN 1 ELSE 0 END) AS counted, \
         SUM(CASE WHEN state = 'failed' AND outcome NOT IN ('host-crash', 'refused') THEN 1 ELSE 0 END) AS failed \
         FROM submissions WHERE competition_id = $1 AND org_id = $2 AND day = $3",
    )
    .bind(competition)
    .bind(org)
    .bind(day)
    .fetch_one(&mut *conn)
    .await?;
    Ok(QuotaUse {
        counted: row.try_get::<Option<i64>, _>("counted")?.unwrap_or(0),
        failed: row.try_get::<Option<i64>, _>("failed")?.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str) -> Label {
        Label { subject: s.into(), pattern: "p".into() }
    }

    #[test]
    fn days_and_resets_are_utc() {
        let t = sieve_sdk::data::parse_timestamp("2026-11-30T23:59:59").expect("time");
        assert_eq!(utc_day(t), "2026-11-30");
        assert_eq!(utc_day(t + 1000), "2026-12-01");
        assert_eq!(format_ms(next_reset(t)), "2026-12-01T00:00:00.000Z");
    }

    #[test]
    fn one_model_scored_on_two_split_seeds_overlaps_itself() {
        // 2000 subjects, 400 labelled; the model finds 300 of them and flags 60 others.
        let subjects: Vec<String> = (0..2000).map(|i| format!("s{i:04}")).collect();
        let labels: Vec<Label> = (0..400).map(|i| label(&format!("s{i:04}"))).collect();
        let clues: Vec<Clue> =
            (0..300).chain(1000..1060).map(|i| Clue::new(format!("s{i:04}"), 0.7, "r", "")).collect();
        let score_on = |seed| {
            let split = Split::new(&subjects, &labels, 0.3, seed).expect("split");
            score_sides(&labels, &split, &clues, 400, Metric::F0_5, seed)
        };
        let ((a, _), (b, _)) = (score_on(1), score_on(2));
        assert_ne!(a.scores, b.scores, "another split seed draws other subjects");
        assert!(a.interval.overlaps(&b.interval), "{:?} vs {:?}", a.interval, b.interval);
        assert_eq!(score_on(1).0, a, "the same seed reproduces every figure");
    }

    #[test]
    fn unknown_subjects_are_false_on_both_sides_and_duplicates_count_once() {
        let subjects: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
        let labels: Vec<Label> = (0..10).map(|i| label(&format!("s{i:02}"))).collect();
        let split = Split::new(&subjects, &labels, 0.5, 1).expect("split");
        let mut clues: Vec<Clue> = labels.iter().map(|l| Clue::new(&l.subject, 0.9, "r", "")).collect();
        let (p, q) = score_sides(&labels, &split, &clues, 10, Metric::F0_5, 1);
        assert_eq!((p.scores.precision, q.scores.precision), (1.0, 1.0));
        assert_eq!(p.scores.labelled + q.scores.labelled, 10);
        // The same subject a hundred times, and a subject the dataset does not hold.
        clues.extend((0..100).map(|_| Clue::new("s00", 0.95, "r", "")));
        clues.push(Clue::new("nobody", 0.99, "r", ""));
        let (p2, q2) = score_sides(&labels, &split, &clues, 10, Metric::F0_5, 1);
        assert_eq!(p2.scores.flagged, p.scores.flagged + 1);
        assert_eq!(q2.scores.flagged, q.scores.flagged + 1);
        assert!(p2.scores.precision < 1.0 && q2.scores.precision < 1.0);
        // Flagging every subject finds them all and gains nothing on F0.5.
        let all: Vec<Clue> = subjects.iter().map(|s| Clue::new(s, 0.5, "r", "")).collect();
        let (pa, _) = score_sides(&labels, &split, &all, 10, Metric::F0_5, 1);
        assert_eq!(pa.scores.recall, 1.0);
        assert!(pa.scores.f0_5 < p.scores.f0_5);
    }
}

/// A plugin's precision on a benchmark, as its scored competition submissions show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BenchmarkPrecision {
    /// The competition.
    pub competition: String,
    /// Its benchmark.
    pub benchmark: String,
    /// Precision on the public side (best of the plugin's scored submissions).
    pub public: Option<f64>,
    /// Precision on the private side, once the competition is finalized.
    pub private: Option<f64>,
}

impl Registry {
    /// Plugin `digest`'s precision on each benchmark it was entered on: what the public
    /// leaderboard shows, and the private side once finalized (shown next to field precision).
    pub async fn benchmark_precision(&self, digest: &str) -> Result<Vec<BenchmarkPrecision>> {
        let rows = sqlx::query(
            "SELECT c.name AS competition, b.name AS benchmark, c.state, s.public_scores, s.private_scores \
             FROM submissions s JOIN competitions c ON c.id = s.competition_id JOIN benchmarks b ON b.id = c.benchmark_id \
             WHERE s.plugin_digest = $1 AND s.state = 'scored' ORDER BY c.name",
        )
        .bind(digest)
        .fetch_all(self.db.pool())
        .await?;
        let precision = |text: Option<String>| -> Option<f64> {
            serde_json::from_str::<serde_json::Value>(&text?).ok()?["precision"].as_f64()
        };
        let mut out: Vec<BenchmarkPrecision> = Vec::new();
        for row in &rows {
            let competition: String = row.try_get("competition")?;
            let finalized = row.try_get::<String, _>("state")? == "finalized";
            let public = precision(row.try_get("public_scores")?);
            let private = if finalized { precision(row.try_get("private_scores")?) } else { None };
            let best = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            };
            match out.iter_mut().find(|p| p.competition == competition) {
                Some(p) => {
                    p.public = best(p.public, public);
                    p.private = best(p.private, private);
                }
                None => out.push(BenchmarkPrecision {
                    competition,
                    benchmark: row.try_get("benchmark")?,
                    public,
                    private,
                }),
            }
        }
        Ok(out)
    }
}
