//! Rescoring: run every scored submission of a competition again and check that its output
//! digest and every score come out bit for bit the same. A submission that differs is flagged
//! non-deterministic and is no longer ranked.

use serde::Serialize;
use serde_json::json;

use crate::audit;
use crate::registry::{Actor, Registry, Result};
use crate::sandbox::{Outcome, Sandbox};

/// What rescoring one submission found.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rescored {
    /// Submission id.
    pub submission: i64,
    /// Its procuratorate.
    pub org: String,
    /// Model name.
    pub model: String,
    /// The new run.
    pub run: i64,
    /// True when output digest and scores matched exactly.
    pub reproduced: bool,
    /// What differed, if anything.
    pub detail: String,
}

impl Registry {
    /// Rerun and rescore every scored submission of competition `name` (an organizer or admin
    /// above it). The reruns are stored runs of the competition like the first ones.
    pub async fn rescore(&self, sandbox: &Sandbox, actor: &Actor, name: &str) -> Result<Vec<Rescored>> {
        let c = self.competition(name).await?;
        self.require_competition_staff(actor, c.id, "rescoring a competition").await?;
        let b = self.benchmark_by_id(c.benchmark_id).await?;
        let limits = c.run_limits();
        let mut found = Vec::new();
        for s in self.all_submissions(&c).await?.into_iter().filter(|s| s.state == "scored") {
            let submitter = self.actor_for(s.user_id).await?;
            let record = self.plugin(&s.plugin).await?;
            let d = self.dataset(&b.dataset, false).await?;
            let (run, report) = self
                .execute_run(sandbox, &submitter, &record, &d, &[], &limits, None, Some(c.id), None, true)
                .await?;
            let mut differences = Vec::new();
            if report.outcome != Outcome::Completed {
                differences.push(format!("the rerun ended {}", report.outcome.code()));
            } else {
                if s.output_digest.as_deref() != Some(report.output_digest.as_str()) {
                    differences.push(format!(
                        "output digest {} became {}",
                        s.output_digest.as_deref().unwrap_or("-"),
                        report.output_digest
                    ));
                }
                let (public, private) = self.score_report(&b, &report).await?;
                if s.public.as_ref() != Some(&public) || s.private.as_ref() != Some(&private) {
                    differences.push("scores differ".into());
                }
            }
            let reproduced = differences.is_empty();
            if !reproduced {
                let mut tx = self.db.begin_write().await?;
                sqlx::query("UPDATE submissions SET deterministic = 0 WHERE id = $1")
                    .bind(s.id)
                    .execute(&mut *tx)
                    .await?;
                audit::append(
                    &mut tx,
                    &actor.user.name,
                    "submission.nondeterministic",
                    name,
                    json!({ "submission": s.id, "run": run.id, "differences": differences }),
                )
                .await?;
                tx.commit().await?;
            }
            found.push(Rescored {
                submission: s.id,
                org: s.org.clone(),
                model: s.model.clone(),
                run: run.id,
                reproduced,
                detail: if reproduced { "identical".into() } else { differences.join("; ") },
            });
        }
        let same = found.iter().filter(|r| r.reproduced).count();
        audit::record(
            &self.db,
            &actor.user.name,
            "competition.rescore",
            name,
            json!({ "submissions": found.len(), "reproduced": same, "host_version": env!("CARGO_PKG_VERSION") }),
        )
        .await?;
        Ok(found)
    }
}
