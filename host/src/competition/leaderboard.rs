//! Leaderboards and finalization. Entries are ranked by the primary metric compared exactly,
//! then the other metrics in [`Metric::ALL`]'s order, then less fuel, then the earlier
//! submission; entries whose primary interval overlaps the leader's are marked statistically
//! tied. Submissions that did not complete, or whose rescore differed, are listed after every
//! ranked one and never ranked. The final board (private side, each procuratorate's selected
//! submissions) is stored at finalization and never recomputed.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::json;

use super::bootstrap::Interval;
use super::competitions::Phase;
use super::split::Side;
use super::{CompetitionRecord, SubmissionRecord};
use crate::audit;
use crate::digest::digest_of;
use crate::registry::{Actor, Registry, RegistryError, Result};
use crate::scoring::{Metric, Scores};
use crate::storage::now;

/// One row of a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// Place (1 = best); `None` for submissions that are not ranked.
    pub rank: Option<usize>,
    /// Submission id.
    pub submission: i64,
    /// Procuratorate.
    pub org: String,
    /// Model name.
    pub model: String,
    /// Plugin digest.
    pub plugin: String,
    /// Value of the primary metric on this board's side.
    pub primary: Option<f64>,
    /// Its 95% bootstrap interval.
    pub interval: Option<Interval>,
    /// True when the interval overlaps the leader's: not told apart from the leader.
    pub tied_with_leader: bool,
    /// Every metric on this board's side.
    pub scores: Option<Scores>,
    /// Fuel used (as the viewer may see it).
    pub fuel: Option<f64>,
    /// Outcome of the run.
    pub outcome: Option<String>,
    /// Submission time.
    pub submitted_at: String,
    /// Why it is not ranked, if it is not.
    pub note: Option<String>,
}

/// A leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Board {
    /// Competition name.
    pub competition: String,
    /// `public` or `private`.
    pub side: String,
    /// Primary metric.
    pub metric: String,
    /// Phase when it was made.
    pub phase: String,
    /// True for the stored final ranking.
    pub is_final: bool,
    /// True when only each procuratorate's best entry is shown.
    pub per_procuratorate: bool,
    /// Rows, best first.
    pub entries: Vec<Entry>,
}

fn rankable(s: &SubmissionRecord, side: Side) -> bool {
    s.state == "scored" && s.deterministic && s.side(side).is_some()
}

/// Order two ranked submissions on `side`: metrics in tie order (higher first), then less fuel,
/// then the earlier submission.
fn compare(a: &SubmissionRecord, b: &SubmissionRecord, side: Side, metric: Metric) -> Ordering {
    let (Some(x), Some(y)) = (a.side(side), b.side(side)) else { return Ordering::Equal };
    for m in Metric::tie_order(metric) {
        let o = y.scores.metric(m).total_cmp(&x.scores.metric(m));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.fuel
        .unwrap_or(f64::MAX)
        .total_cmp(&b.fuel.unwrap_or(f64::MAX))
        .then(a.submitted_at.cmp(&b.submitted_at))
        .then(a.id.cmp(&b.id))
}

/// Rank `submissions` on `side`; with `per_org`, only each procuratorate's best ranked entry.
pub fn rank(submissions: &[SubmissionRecord], side: Side, metric: Metric, per_org: bool) -> Vec<Entry> {
    let mut ranked: Vec<&SubmissionRecord> = submissions.iter().filter(|s| rankable(s, side)).collect();
    ranked.sort_by(|a, b| compare(a, b, side, metric));
    if per_org {
        let mut seen = std::collections::HashSet::new();
        ranked.retain(|s| seen.insert(s.org_id));
    }
    let leader = ranked.first().and_then(|s| s.side(side)).map(|x| x.interval);
    let mut entries: Vec<Entry> = ranked
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let x = s.side(side);
            let interval = x.map(|x| x.interval);
            Entry {
                rank: Some(i + 1),
                submission: s.id,
                org: s.org.clone(),
                model: s.model.clone(),
                plugin: s.plugin.clone(),
                primary: x.map(|x| x.scores.metric(metric)),
                interval,
                tied_with_leader: i > 0 && matches!((interval, leader), (Some(a), Some(l)) if a.overlaps(&l)),
                scores: x.map(|x| x.scores.clone()),
                fuel: s.fuel,
                outcome: s.outcome.clone(),
                submitted_at: s.submitted_at.clone(),
                note: None,
            }
        })
        .collect();
    if !per_org {
        // Everything else, listed after every ranked entry, oldest first.
        for s in submissions.iter().filter(|s| !rankable(s, side)) {
            let note = match s.state.as_str() {
                "queued" | "running" => format!("{}: not scored yet", s.state),
                "scored" if !s.deterministic => "a rescore gave different output: not ranked".into(),
                _ => format!("ended {}: not ranked", s.outcome.as_deref().unwrap_or("?")),
            };
            entries.push(Entry {
                rank: None,
                submission: s.id,
                org: s.org.clone(),
                model: s.model.clone(),
                plugin: s.plugin.clone(),
                primary: None,
                interval: None,
                tied_with_leader: false,
                scores: None,
                fuel: s.fuel,
                outcome: s.outcome.clone(),
                submitted_at: s.submitted_at.clone(),
                note: Some(note),
            });
        }
    }
    entries
}

/// The submissions that stand for each procuratorate in the final ranking: those it selected,
/// or by default its best `allowance` on the public side.
pub fn final_candidates(
    submissions: &[SubmissionRecord],
    metric: Metric,
    allowance: usize,
) -> Vec<SubmissionRecord> {
    let mut by_org: std::collections::BTreeMap<i64, Vec<&SubmissionRecord>> =
        std::collections::BTreeMap::new();
    for s in submissions.iter().filter(|s| rankable(s, Side::Public)) {
        by_org.entry(s.org_id).or_default().push(s);
    }
    let mut out = Vec::new();
    for (_, mut subs) in by_org {
        if subs.iter().any(|s| s.selected) {
            subs.retain(|s| s.selected);
        } else {
            subs.sort_by(|a, b| compare(a, b, Side::Public, metric));
        }
        out.extend(subs.into_iter().take(allowance).cloned());
    }
    out
}

impl Registry {
    /// Leaderboard of competition `name` as `actor` may see it. Anyone taking part sees the public
    /// side per procuratorate while it runs, and the stored final ranking once finalized; the
    /// private side before finalization (`private`) and every submission (`all`) are for its
    /// organizers and admins.
    pub async fn leaderboard(
        &self,
        actor: &Actor,
        name: &str,
        private: bool,
        all: bool,
        at: i64,
    ) -> Result<Board> {
        let c = self.competition(name).await?;
        self.require_in_scope(actor, &c, "reading a leaderboard").await?;
        let staff = self.is_staff_over(actor, c.org_id).await?;
        if c.state == "finalized" && !all {
            return self.final_board(&c).await;
        }
        if (private || all) && !staff {
            return Err(RegistryError::Denied(format!(
                "the private side and the full list of competition {name} are for its organizers until it is finalized"
            )));
        }
        let side = if private { Side::Private } else { Side::Public };
        let metric = Metric::parse(&c.metric).map_err(RegistryError::Invalid)?;
        let mut subs = self.all_submissions(&c).await?;
        if !staff {
            subs = subs.into_iter().map(|s| s.for_participant(false)).collect();
        }
        let entries = rank(&subs, side, metric, !all);
        Ok(Board {
            competition: c.name.clone(),
            side: side.as_str().into(),
            metric: c.metric.clone(),
            phase: c.phase(at).as_str().into(),
            is_final: false,
            per_procuratorate: !all,
            entries,
        })
    }

    async fn final_board(&self, c: &CompetitionRecord) -> Result<Board> {
        let row = sqlx::query("SELECT final_board FROM competitions WHERE id = $1")
            .bind(c.id)
            .fetch_one(self.db.pool())
            .await?;
        let text: Option<String> = sqlx::Row::try_get(&row, "final_board")?;
        serde_json::from_str(&text.unwrap_or_default()).map_err(|e| {
            RegistryError::Invalid(format!("the stored final board of {} is unreadable: {e}", c.name))
        })
    }

    /// Finalize competition `name`: rank each procuratorate's final candidates on the private
    /// side and store that board for good (an organizer or admin above it; the competition must
    /// be closed, with nothing queued or running).
    pub async fn finalize(&self, actor: &Actor, name: &str, at: i64) -> Result<Board> {
        let c = self.competition(name).await?;
        self.require_competition_staff(actor, c.id, "finalizing a competition").await?;
        match c.phase(at) {
            Phase::Finalized => return self.final_board(&c).await,
            Phase::Closed => {}
            phase => {
                return Err(RegistryError::Conflict(format!(
                    "competition {name} is {}: close it first (sieve competition close {name})",
                    phase.as_str()
                )));
            }
        }
        let subs = self.all_submissions(&c).await?;
        if let Some(s) = subs.iter().find(|s| s.state == "queued" || s.state == "running") {
            return Err(RegistryError::Conflict(format!(
                "submission {} is still {}: let the queue finish (sieve competition work) before finalizing",
                s.id, s.state
            )));
        }
        let metric = Metric::parse(&c.metric).map_err(RegistryError::Invalid)?;
        let candidates = final_candidates(&subs, metric, c.final_selections.max(1) as usize);
        let board = Board {
            competition: c.name.clone(),
            side: Side::Private.as_str().into(),
            metric: c.metric.clone(),
            phase: Phase::Finalized.as_str().into(),
            is_final: true,
            per_procuratorate: true,
            entries: rank(&candidates, Side::Private, metric, true),
        };
        let text = serde_json::to_string(&board).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE competitions SET state = 'finalized', finalized_at = $1, final_board = $2 WHERE id = $3",
        )
        .bind(now())
        .bind(&text)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        let winner = board
            .entries
            .first()
            .map(|e| json!({ "org": e.org, "submission": e.submission, "primary": e.primary }));
        audit::append(
            &mut tx,
            &actor.user.name,
            "competition.finalize",
            name,
            json!({ "board_digest": digest_of(text.as_bytes()), "entries": board.entries.len(), "winner": winner }),
        )
        .await?;
        tx.commit().await?;
        Ok(board)
    }
}
