//! The registry's run policy: the most a stored run may consume. Authors choose their limits
//! within it (lower is always allowed); raising the ceiling is a root admin's logged decision.
//! Without a stored policy the sandbox's documented defaults are the ceiling.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use super::{Actor, Registry, RegistryError, Result};
use crate::audit;
use crate::sandbox::Limits;
use crate::storage::now;

impl Registry {
    /// The ceiling on stored runs' limits.
    pub async fn run_policy(&self) -> Result<Limits> {
        Ok(self.stored_policy().await?.unwrap_or_default())
    }

    /// The policy an admin set, if one did.
    async fn stored_policy(&self) -> Result<Option<Limits>> {
        let row = sqlx::query("SELECT * FROM run_policy WHERE id = 1").fetch_optional(self.db.pool()).await?;
        let Some(r) = row else { return Ok(None) };
        let fuel: i64 = r.try_get("fuel")?;
        let bytes =
            |name: &str| -> Result<usize> { Ok(usize::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0)) };
        Ok(Some(Limits {
            fuel: (fuel > 0).then_some(fuel as u64),
            deadline: Duration::from_millis(u64::try_from(r.try_get::<i64, _>("deadline_ms")?).unwrap_or(0)),
            memory_bytes: bytes("memory_bytes")?,
            host_memory_bytes: bytes("host_memory_bytes")?,
            max_clues: bytes("max_clues")?,
            max_output_bytes: bytes("max_output_bytes")?,
            max_log_bytes: bytes("max_log_bytes")?,
            ..Limits::default()
        }))
    }

    /// Set the ceiling (an admin of the root procuratorate).
    pub async fn set_run_policy(&self, actor: &Actor, limits: &Limits) -> Result<Limits> {
        if actor.org_chain.len() > 1 {
            return Err(RegistryError::Denied(format!(
                "setting the run policy: only an admin of the root procuratorate may, and {} is not one",
                actor.user.name
            )));
        }
        actor.require(super::Role::Admin, "setting the run policy")?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM run_policy").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO run_policy (id, fuel, deadline_ms, memory_bytes, host_memory_bytes, max_clues, \
             max_output_bytes, max_log_bytes, set_by, set_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(limits.fuel.map_or(0, |f| f as i64))
        .bind(limits.deadline.as_millis() as i64)
        .bind(limits.memory_bytes as i64)
        .bind(limits.host_memory_bytes as i64)
        .bind(limits.max_clues as i64)
        .bind(limits.max_output_bytes as i64)
        .bind(limits.max_log_bytes as i64)
        .bind(&actor.user.name)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, &actor.user.name, "policy.set", "run-limits", policy_json(limits)).await?;
        tx.commit().await?;
        self.run_policy().await
    }

    /// `limits` as a stored run gets them: refused above the policy (naming each limit and its
    /// ceiling), and, where an admin set the policy's fuel, with the per-row growth of the budget
    /// capped by it (`Limits::fuel_ceiling`).
    pub async fn within_policy(&self, limits: &Limits) -> Result<Limits> {
        let stored = self.stored_policy().await?;
        let ceiling = stored.as_ref().and_then(|policy| policy.fuel);
        check_within(limits, &stored.unwrap_or_default())?;
        Ok(Limits { fuel_ceiling: ceiling.or(limits.fuel_ceiling), ..limits.clone() })
    }
}

/// Refuse `limits` above `policy`, naming each limit and the ceiling.
fn check_within(limits: &Limits, policy: &Limits) -> Result<()> {
    let mut over = Vec::new();
    let fuel_over = match (limits.fuel, policy.fuel) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(asked), Some(max)) => asked > max,
    };
    if fuel_over {
        over.push(format!(
            "--fuel (at most {:e}; 0, no limit, is not allowed)",
            policy.fuel.unwrap_or(0) as f64
        ));
    }
    for (flag, asked, max) in [
        ("--deadline", limits.deadline.as_secs_f64(), policy.deadline.as_secs_f64()),
        ("--memory-mib", (limits.memory_bytes >> 20) as f64, (policy.memory_bytes >> 20) as f64),
        ("--max-host-mib", (limits.host_memory_bytes >> 20) as f64, (policy.host_memory_bytes >> 20) as f64),
        ("--max-clues", limits.max_clues as f64, policy.max_clues as f64),
        ("--max-output-bytes", limits.max_output_bytes as f64, policy.max_output_bytes as f64),
        ("--max-log-bytes", limits.max_log_bytes as f64, policy.max_log_bytes as f64),
    ] {
        if asked > max {
            over.push(format!("{flag} (at most {max})"));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::Denied(format!(
            "stored runs stay within the registry's run policy; over it: {} (see sieve policy show)",
            over.join(", ")
        )))
    }
}

/// The policy as JSON (for the audit log and `sieve policy show --json`).
pub fn policy_json(l: &Limits) -> serde_json::Value {
    json!({
        "fuel": l.fuel, "deadline_s": l.deadline.as_secs_f64(), "memory_mib": l.memory_bytes >> 20,
        "max_host_mib": l.host_memory_bytes >> 20, "max_clues": l.max_clues,
        "max_output_bytes": l.max_output_bytes, "max_log_bytes": l.max_log_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a policy the budget grows with the rows as the defaults say; once an admin sets
    /// the policy's fuel, that is also the most the growth may reach.
    #[test]
    fn a_policy_fuel_caps_the_per_row_growth() {
        let home = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let registry = Registry::open(home.path(), None).await.expect("open");
            let token = registry.init("province", "admin").await.expect("init");
            let admin = registry.authenticate(Some(&token)).await.expect("admin");
            let asked = Limits { fuel: Some(100_000_000), ..Limits::default() };
            let free = registry.within_policy(&asked).await.expect("within");
            assert_eq!(free.fuel_ceiling, None);
            let rows = 1_000_000;
            assert!(free.fuel_for_rows(rows) > Some(500_000_000), "no policy: the rows decide");
            let policy = Limits { fuel: Some(500_000_000), ..Limits::default() };
            registry.set_run_policy(&admin, &policy).await.expect("set");
            let capped = registry.within_policy(&asked).await.expect("within");
            assert_eq!(capped.fuel_ceiling, Some(500_000_000));
            assert_eq!(capped.fuel_for_rows(rows), Some(500_000_000), "the policy caps the growth");
            registry.db.close().await;
        });
    }
}
