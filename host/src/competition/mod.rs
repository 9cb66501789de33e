//! Model competitions: benchmarks (an approved dataset, its hidden labels and a public/private
//! split of its subjects), competitions on them with phases and daily quotas, submissions run as
//! stored runs on a bounded pool and scored on both sides of the split, leaderboards with
//! bootstrap intervals and statistical ties, finalization on the private side, and rescoring
//! that must reproduce every score bit for bit.
//!
//! Who sees what: participants see their own submissions' public scores and the public
//! leaderboard, never the evaluation data, its clues, its labels or private scores before
//! finalization; organizers and admins above the competition's procuratorate see everything.

pub mod benchmarks;
pub mod bootstrap;
pub mod competitions;
pub mod leaderboard;
pub mod rescore;
pub mod split;
pub mod submissions;

use sqlx::Row;

use crate::registry::{Actor, Registry, RegistryError, Result};

pub use benchmarks::{BenchmarkRecord, BenchmarkRequest};
pub use competitions::{CompetitionRecord, CompetitionRequest};
pub use leaderboard::{Board, Entry};
pub use submissions::{SideScores, SubmissionRecord};

impl Registry {
    /// Require that `actor` is an organizer or admin above competition `id`'s procuratorate.
    pub async fn require_competition_staff(&self, actor: &Actor, id: i64, what: &str) -> Result<()> {
        let row = sqlx::query("SELECT name, org_id FROM competitions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "competition", id: id.to_string() })?;
        let (name, org_id): (String, i64) = (row.try_get("name")?, row.try_get("org_id")?);
        if self.is_staff_over(actor, org_id).await? {
            Ok(())
        } else {
            Err(RegistryError::Denied(format!(
                "{what}: only organizers and admins above competition {name}'s procuratorate may; {} is not one",
                actor.user.name
            )))
        }
    }
}

/// `x` to two significant digits: what participants see of a submission's fuel, memory and
/// time. The exact figures would let a model signal what it read from the evaluation data by how
/// much it burns; rounded, each submission carries a few bits at most.
pub fn coarse(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let magnitude = 10f64.powf(x.log10().floor() - 1.0);
    (x / magnitude).round() * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_keeps_two_significant_digits() {
        assert_eq!(coarse(1_234_567.0), 1_200_000.0);
        assert_eq!(coarse(987.0), 990.0);
        assert_eq!(coarse(0.0), 0.0);
    }
}
