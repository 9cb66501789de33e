//! Clue review, what the platform exists for: a prosecutor marks each clue of a stored run
//! `confirmed` (supervision opened), `dismissed` (with a reason) or `needs-more-data`. Verdicts
//! are stored (the current one per run and subject), audited on every change, exported with the
//! clues, and summed into each model's field precision: confirmed / reviewed over its runs, per
//! procuratorate.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit;
use crate::registry::{Actor, Registry, RegistryError, Result};
use crate::storage::now;

/// Longest reason or note accepted, in bytes.
pub const MAX_REVIEW_TEXT: usize = 2000;

/// A prosecutor's verdict on a clue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The clue held: supervision was opened.
    Confirmed,
    /// The clue did not hold (a reason is required).
    Dismissed,
    /// It cannot be decided on what the platform holds.
    NeedsMoreData,
}

impl Verdict {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Dismissed => "dismissed",
            Verdict::NeedsMoreData => "needs-more-data",
        }
    }

    /// The verdict stored as `name`.
    pub fn parse(name: &str) -> Option<Verdict> {
        [Verdict::Confirmed, Verdict::Dismissed, Verdict::NeedsMoreData]
            .into_iter()
            .find(|v| v.name() == name)
    }
}

/// A stored verdict.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// The run.
    pub run: i64,
    /// The clue's subject.
    pub subject: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why (required for `dismissed`).
    pub reason: String,
    /// A free note.
    pub note: String,
    /// Who gave it.
    pub reviewer: String,
    /// When.
    pub reviewed_at: String,
}

/// Field precision of a model over one procuratorate's runs, or over all of them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema, PartialEq)]
pub struct FieldTally {
    /// The procuratorate (`None` for the total).
    pub org: Option<String>,
    /// Clues confirmed.
    pub confirmed: i64,
    /// Clues dismissed.
    pub dismissed: i64,
    /// Clues waiting for more data (not counted as reviewed).
    pub needs_more_data: i64,
    /// confirmed / (confirmed + dismissed), when anything was reviewed.
    pub precision: Option<f64>,
}

/// A model's field precision: the total, and per procuratorate the caller may see.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldPrecision {
    /// The plugin.
    pub plugin: String,
    /// Over every stored run of the plugin.
    pub total: FieldTally,
    /// Per procuratorate that ran it, within the caller's own subtree.
    pub by_org: Vec<FieldTally>,
}

fn tally(org: Option<String>, confirmed: i64, dismissed: i64, needs_more_data: i64) -> FieldTally {
    let reviewed = confirmed + dismissed;
    let precision = (reviewed > 0).then(|| confirmed as f64 / reviewed as f64);
    FieldTally { org, confirmed, dismissed, needs_more_data, precision }
}

fn review_from(row: &sqlx::any::AnyRow) -> Result<Review> {
    let verdict: String = row.try_get("verdict")?;
    Ok(Review {
        run: row.try_get("run_id")?,
        subject: row.try_get("subject")?,
        verdict: Verdict::parse(&verdict)
            .ok_or_else(|| RegistryError::Invalid(format!("stored verdict {verdict:?} is unknown")))?,
        reason: row.try_get("reason")?,
        note: row.try_get("note")?,
        reviewer: row.try_get("reviewer")?,
        reviewed_at: row.try_get("reviewed_at")?,
    })
}

const REVIEW_SELECT: &str = "SELECT r.run_id, r.subject, r.verdict, r.reason, r.note, r.reviewed_at, u.name AS reviewer \
     FROM clue_reviews r JOIN users u ON u.id = r.user_id";

fn checked_text(what: &str, text: &str) -> Result<()> {
    if text.len() > MAX_REVIEW_TEXT {
        return Err(RegistryError::Invalid(format!(
            "the {what} is {} bytes; at most {MAX_REVIEW_TEXT} are kept",
            text.len()
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RegistryError::Invalid(format!("the {what} holds control characters")));
    }
    Ok(())
}

impl Registry {
    /// Record `actor`'s verdict on the clue(s) about `subject` in run `id`, replacing an earlier
    /// one. Whoever may read the run's clues may review them (its runner, an admin above); a
    /// competition submission's clues are scored, not reviewed.
    pub async fn review_clue(
        &self,
        actor: &Actor,
        id: i64,
        subject: &str,
        verdict: Verdict,
        reason: &str,
        note: &str,
    ) -> Result<Review> {
        let run = self.readable_run(actor, id).await?;
        if run.competition_id.is_some() {
            return Err(RegistryError::Denied(format!(
                "run {id} is a competition submission: its clues are scored against the labels, not reviewed"
            )));
        }
        if verdict == Verdict::Dismissed && reason.trim().is_empty() {
            return Err(RegistryError::Invalid("a dismissed clue needs a reason (--reason)".into()));
        }
        checked_text("reason", reason)?;
        checked_text("note", note)?;
        self.index_clues(run.clues_stored_under()).await?;
        let known: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM clues WHERE run_id = $1 AND subject = $2 LIMIT 1")
                .bind(run.clues_stored_under())
                .bind(subject)
                .fetch_optional(self.db.pool())
                .await?;
        if known.is_none() {
            return Err(RegistryError::NotFound {
                kind: "clue",
                id: format!("{} in run {id}", crate::text::quote(subject)),
            });
        }
        let mut tx = self.db.begin_write().await?;
        let at = now();
        // One current verdict per clue; the audit log keeps every earlier one.
        sqlx::query("DELETE FROM clue_reviews WHERE run_id = $1 AND subject = $2")
            .bind(id)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO clue_reviews (run_id, subject, verdict, reason, note, user_id, reviewed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(subject)
        .bind(verdict.name())
        .bind(reason)
        .bind(note)
        .bind(actor.user.id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let detail = json!({ "subject": subject, "verdict": verdict.name(), "reason": reason, "note": note });
        audit::append(&mut tx, &actor.user.name, "clue.review", &id.to_string(), detail).await?;
        tx.commit().await?;
        Ok(Review {
            run: id,
            subject: subject.to_string(),
            verdict,
            reason: reason.to_string(),
            note: note.to_string(),
            reviewer: actor.user.name.clone(),
            reviewed_at: at,
        })
    }

    /// The verdicts on run `id`'s clues, by subject (for whoever may read its clues).
    pub async fn run_reviews(&self, actor: &Actor, id: i64) -> Result<Vec<Review>> {
        self.readable_run(actor, id).await?;
        let rows = sqlx::query(&format!("{REVIEW_SELECT} WHERE r.run_id = $1 ORDER BY r.subject"))
            .bind(id)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(review_from).collect()
    }

    /// Field precision of every plugin with a reviewed clue, over all its stored runs (the
    /// registry's list shows it; the per-procuratorate split is on each model's page).
    pub async fn field_precision_totals(&self) -> Result<std::collections::HashMap<String, f64>> {
        let rows = sqlx::query(
            "SELECT runs.plugin_digest AS digest, \
             SUM(CASE WHEN r.verdict = 'confirmed' THEN 1 ELSE 0 END) AS confirmed, \
             SUM(CASE WHEN r.verdict = 'dismissed' THEN 1 ELSE 0 END) AS dismissed \
             FROM clue_reviews r JOIN runs ON runs.id = r.run_id WHERE runs.competition_id IS NULL \
             GROUP BY runs.plugin_digest",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut out = std::collections::HashMap::new();
        for row in &rows {
            let (c, d): (i64, i64) = (row.try_get("confirmed")?, row.try_get("dismissed")?);
            if let Some(p) = tally(None, c, d, 0).precision {
                out.insert(row.try_get("digest")?, p);
            }
        }
        Ok(out)
    }

    /// Field precision of plugin `given` (for whoever may see the plugin): the total over every
    /// stored run, and per procuratorate within the caller's own subtree.
    pub async fn field_precision(&self, actor: &Actor, given: &str) -> Result<FieldPrecision> {
        let plugin = self.plugin_visible_to(actor, given).await?;
        let rows = sqlx::query(
            "SELECT runs.org_id, o.name AS org, \
             SUM(CASE WHEN r.verdict = 'confirmed' THEN 1 ELSE 0 END) AS confirmed, \
             SUM(CASE WHEN r.verdict = 'dismissed' THEN 1 ELSE 0 END) AS dismissed, \
             SUM(CASE WHEN r.verdict = 'needs-more-data' THEN 1 ELSE 0 END) AS waiting \
             FROM clue_reviews r JOIN runs ON runs.id = r.run_id JOIN orgs o ON o.id = runs.org_id \
             WHERE runs.plugin_digest = $1 AND runs.competition_id IS NULL \
             GROUP BY runs.org_id, o.name ORDER BY o.name",
        )
        .bind(&plugin.digest)
        .fetch_all(self.db.pool())
        .await?;
        let (mut confirmed, mut dismissed, mut waiting) = (0, 0, 0);
        let mut by_org = Vec::new();
        for row in &rows {
            let (c, d, w): (i64, i64, i64) =
                (row.try_get("confirmed")?, row.try_get("dismissed")?, row.try_get("waiting")?);
            confirmed += c;
            dismissed += d;
            waiting += w;
            if self.within(row.try_get("org_id")?, actor.user.org_id).await? {
                by_org.push(tally(Some(row.try_get("org")?), c, d, w));
            }
        }
        Ok(FieldPrecision {
            plugin: plugin.digest,
            total: tally(None, confirmed, dismissed, waiting),
            by_org,
        })
    }
}
