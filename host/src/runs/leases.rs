//! Leases on queued work taken by a worker: a run or a competition submission is held by one
//! worker (`host:pid:n`) until its lease runs out, renewed while the work goes on. Work whose
//! lease expired (its worker was killed, lost the database, or its machine stopped) goes back to
//! the queue, up to [`MAX_ATTEMPTS`] starts, then ends `host-crash`; a result written after the
//! lease was taken over is refused by the writer, so each piece of work has one stored result.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::audit;
use crate::registry::{Registry, Result};
use crate::storage::now_ms;

/// Times queued work is started before a lease that keeps expiring ends it `host-crash`.
pub const MAX_ATTEMPTS: i64 = 3;

/// How long a worker's lease lasts unless renewed (a third of it between renewals):
/// `SIEVE_LEASE_SECONDS`, 30 by default.
pub fn lease_duration() -> Duration {
    let seconds =
        std::env::var("SIEVE_LEASE_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()).filter(|s| *s > 0.0);
    Duration::from_secs_f64(seconds.unwrap_or(30.0))
}

/// When a lease taken now runs out, in milliseconds since the epoch.
pub(crate) fn lease_until_ms() -> i64 {
    now_ms() + lease_duration().as_millis() as i64
}

/// A worker's name on the leases it takes: host, process and a number of its own. A worker
/// runs one piece of work at a time, so its name identifies the lease.
pub fn lease_owner(worker: usize) -> String {
    format!("{}:{}:{worker}", super::store::this_host(), std::process::id())
}

/// What a lease is held on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Leased {
    Run(i64),
    Submission(i64),
}

impl Leased {
    /// The table that holds it, and its id there.
    fn row(self) -> (&'static str, i64) {
        match self {
            Leased::Run(id) => ("runs", id),
            Leased::Submission(id) => ("submissions", id),
        }
    }
}

impl Registry {
    /// Put work whose lease expired back in the queue, or end it `host-crash` once it has had
    /// [`MAX_ATTEMPTS`]. A submission's run is never queued again on its own: it ends, and its
    /// submission goes back to the queue (and gets a new run). Every claim calls this first.
    pub(crate) async fn requeue_expired(&self) -> Result<()> {
        let now = now_ms();
        // Without the write lock first: nearly every claim finds nothing to do.
        let any = sqlx::query(
            "SELECT 1 AS x FROM runs WHERE state = 'running' AND lease_until_ms < $1 \
             UNION ALL SELECT 1 AS x FROM submissions WHERE state = 'running' AND lease_until_ms < $1",
        )
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        if any.is_none() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        let runs = sqlx::query(
            "SELECT id, attempts, competition_id FROM runs WHERE state = 'running' AND lease_until_ms < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in runs {
            let (id, attempts): (i64, i64) = (row.try_get("id")?, row.try_get("attempts")?);
            let of_submission = row.try_get::<Option<i64>, _>("competition_id")?.is_some();
            let (state, outcome, detail, action) = if of_submission {
                let why = "its worker stopped renewing its lease; the submission went back to the queue";
                ("failed", Some("host-crash"), Some(why.to_string()), "run.fail")
            } else if attempts >= MAX_ATTEMPTS {
                let why = format!(
                    "its worker stopped renewing its lease, on each of {attempts} attempts; no clues were kept"
                );
                ("failed", Some("host-crash"), Some(why), "run.fail")
            } else {
                ("queued", None, None, "run.requeue")
            };
            // The update repeats the expiry test: a renewal (which takes no write lock) may have
            // landed since the select.
            let updated = sqlx::query(
                "UPDATE runs SET state = $1, outcome = $2, detail = $3, finished_at = $4, lease_owner = NULL, \
                 lease_until_ms = NULL WHERE id = $5 AND state = 'running' AND lease_until_ms < $6",
            )
            .bind(state)
            .bind(outcome)
            .bind(detail)
            .bind((state == "failed").then(crate::storage::now))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                let detail = json!({ "reason": "lease expired", "attempts": attempts });
                audit::append(&mut tx, "system", action, &id.to_string(), detail).await?;
            }
        }
        let submissions = sqlx::query(
            "SELECT s.id, s.attempts, c.name FROM submissions s JOIN competitions c ON c.id = s.competition_id \
             WHERE s.state = 'running' AND s.lease_until_ms < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in submissions {
            let (id, attempts, competition): (i64, i64, String) =
                (row.try_get("id")?, row.try_get("attempts")?, row.try_get("name")?);
            let exhausted = attempts >= MAX_ATTEMPTS;
            let updated = sqlx::query(
                "UPDATE submissions SET state = $1, outcome = $2, finished_at = $3, lease_owner = NULL, \
                 lease_until_ms = NULL WHERE id = $4 AND state = 'running' AND lease_until_ms < $5",
            )
            .bind(if exhausted { "failed" } else { "queued" })
            .bind(exhausted.then_some("host-crash"))
            .bind(exhausted.then(crate::storage::now))
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                let action = if exhausted { "submission.fail" } else { "submission.requeue" };
                let detail = json!({
                    "submission": id, "reason": "lease expired", "attempts": attempts,
                    "outcome": exhausted.then_some("host-crash"),
                });
                audit::append(&mut tx, "system", action, &competition, detail).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Extend `lease_owner`'s lease on `what`; false if the lease is no longer theirs (it
    /// expired and the work went back to the queue, or to another worker). A submission's lease
    /// covers its run too.
    pub(crate) async fn renew_lease(&self, what: Leased, lease_owner: &str) -> Result<bool> {
        let until = lease_until_ms();
        let (table, id) = what.row();
        let renewed = sqlx::query(&format!(
            "UPDATE {table} SET lease_until_ms = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'"
        ))
        .bind(until)
        .bind(id)
        .bind(lease_owner)
        .execute(self.db.pool())
        .await?;
        if let Leased::Submission(_) = what {
            sqlx::query(
                "UPDATE runs SET lease_until_ms = $1 WHERE lease_owner = $2 AND state = 'running' \
                 AND competition_id IS NOT NULL",
            )
            .bind(until)
            .bind(lease_owner)
            .execute(self.db.pool())
            .await?;
        }
        Ok(renewed.rows_affected() == 1)
    }

    /// End the lease on `what` held by process `pid` of this host, which died: the next claim
    /// puts the work back in the queue at once instead of waiting the lease out.
    pub(crate) async fn end_dead_lease(&self, what: Leased, pid: i64) -> Result<()> {
        let (table, id) = what.row();
        sqlx::query(&format!(
            "UPDATE {table} SET lease_until_ms = 0 WHERE id = $1 AND state = 'running' AND pid = $2"
        ))
        .bind(id)
        .bind(pid)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Do `work` while renewing `lease_owner`'s lease on `what` every third of a lease. A lost
    /// lease is logged; the work's own writes then find the lease gone and are refused.
    pub(crate) async fn while_leased<T>(
        &self,
        what: Leased,
        lease_owner: &str,
        work: impl Future<Output = T>,
    ) -> T {
        let renewing = {
            let (registry, owner) = (self.clone(), lease_owner.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease_duration() / 3).await;
                    match registry.renew_lease(what, &owner).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                ?what,
                                "lease lost: the work went back to the queue; this attempt's result will be discarded"
                            );
                            return;
                        }
                        // The database is unreachable for now: try again; the lease may yet hold.
                        Err(e) => tracing::warn!(?what, error = %e, "renewing a lease failed"),
                    }
                }
            })
        };
        let result = work.await;
        renewing.abort();
        result
    }
}
