//! Competitions on a benchmark: created by an organizer, opened and closed (by hand, and within
//! optional opening and closing times), with a daily quota per procuratorate, a cap on failed
//! runs, the number of submissions each procuratorate may select for the final ranking, and the
//! run limits every submission gets.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit;
use crate::registry::{Actor, Registry, RegistryError, Result, Role};
use crate::runs::{limits_from_json, limits_json};
use crate::sandbox::Limits;
use crate::storage::{format_ms, now};

/// What to create.
#[derive(Debug, Clone)]
pub struct CompetitionRequest<'a> {
    /// Competition name.
    pub name: &'a str,
    /// The benchmark it is scored on.
    pub benchmark: &'a str,
    /// Submissions are accepted from this time (epoch ms) once opened.
    pub opens_at: Option<i64>,
    /// ... and until this time.
    pub closes_at: Option<i64>,
    /// Completed submissions per procuratorate per UTC day.
    pub daily_limit: u32,
    /// Failed submissions per procuratorate per UTC day.
    pub failure_limit: u32,
    /// Submissions each procuratorate may select for the final ranking.
    pub final_selections: u32,
    /// Limits of every submission's run.
    pub limits: Limits,
}

impl<'a> CompetitionRequest<'a> {
    /// A competition on `benchmark` with the command line's defaults: no window, 5 submissions and
    /// 10 failures per day, 2 final selections, the sandbox's default limits.
    pub fn new(name: &'a str, benchmark: &'a str) -> Self {
        CompetitionRequest {
            name,
            benchmark,
            opens_at: None,
            closes_at: None,
            daily_limit: 5,
            failure_limit: 10,
            final_selections: 2,
            limits: Limits::default(),
        }
    }
}

/// A competition as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct CompetitionRecord {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// Name.
    pub name: String,
    /// Benchmark name.
    pub benchmark: String,
    #[serde(skip)]
    pub(crate) benchmark_id: i64,
    /// Task of the benchmark.
    pub task: String,
    /// Primary metric.
    pub metric: String,
    /// `created`, `open`, `closed` or `finalized`, as set by its organizers.
    pub state: String,
    /// Opening time, if any.
    pub opens_at: Option<String>,
    /// Closing time, if any.
    pub closes_at: Option<String>,
    /// Completed submissions per procuratorate per UTC day.
    pub daily_limit: i64,
    /// Failed submissions per procuratorate per UTC day.
    pub failure_limit: i64,
    /// Submissions each procuratorate may select for the final ranking.
    pub final_selections: i64,
    /// Limits of every submission's run.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
    /// Procuratorate that runs it.
    pub org: String,
    #[serde(skip)]
    pub(crate) org_id: i64,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: String,
    /// When it was finalized.
    pub finalized_at: Option<String>,
}

/// Where a competition stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Created, not opened yet.
    Created,
    /// Opened, but its opening time has not come.
    Scheduled,
    /// Accepting submissions.
    Open,
    /// No longer accepting submissions (closed by hand or past its closing time).
    Closed,
    /// The private ranking is final.
    Finalized,
}

impl Phase {
    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Scheduled => "scheduled",
            Phase::Open => "open",
            Phase::Closed => "closed",
            Phase::Finalized => "finalized",
        }
    }
}

fn ms_of(stored: &Option<String>) -> Option<i64> {
    stored.as_deref().and_then(|t| sieve_sdk::data::parse_timestamp(t.get(..19)?))
}

impl CompetitionRecord {
    /// The phase at `now` (epoch ms).
    pub fn phase(&self, now: i64) -> Phase {
        match self.state.as_str() {
            "finalized" => Phase::Finalized,
            "closed" => Phase::Closed,
            "open" if ms_of(&self.closes_at).is_some_and(|c| now >= c) => Phase::Closed,
            "open" if ms_of(&self.opens_at).is_some_and(|o| now < o) => Phase::Scheduled,
            "open" => Phase::Open,
            _ => Phase::Created,
        }
    }

    /// Its closing time in epoch ms, if it has one.
    pub fn closes_ms(&self) -> Option<i64> {
        ms_of(&self.closes_at)
    }

    /// The run limits of its submissions.
    pub fn run_limits(&self) -> Limits {
        limits_from_json(&self.limits)
    }
}

const COMPETITION_SELECT: &str = "SELECT c.*, b.name AS benchmark_name, b.task, b.metric, o.name AS org_name, \
     u.name AS creator FROM competitions c JOIN benchmarks b ON b.id = c.benchmark_id \
     JOIN orgs o ON o.id = c.org_id JOIN users u ON u.id = c.created_by";

fn competition_from(r: &sqlx::any::AnyRow) -> Result<CompetitionRecord> {
    let limits: String = r.try_get("limits")?;
    Ok(CompetitionRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        benchmark: r.try_get("benchmark_name")?,
        benchmark_id: r.try_get("benchmark_id")?,
        task: r.try_get("task")?,
        metric: r.try_get("metric")?,
        state: r.try_get("state")?,
        opens_at: r.try_get("opens_at")?,
        closes_at: r.try_get("closes_at")?,
        daily_limit: r.try_get("daily_limit")?,
        failure_limit: r.try_get("failure_limit")?,
        final_selections: r.try_get("final_selections")?,
        limits: serde_json::from_str(&limits).unwrap_or(serde_json::Value::Null),
        org: r.try_get("org_name")?,
        org_id: r.try_get("org_id")?,
        created_by: r.try_get("creator")?,
        created_at: r.try_get("created_at")?,
        finalized_at: r.try_get("finalized_at")?,
    })
}

/// A change of state an organizer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Start accepting submissions (from `created` or `closed`).
    Open,
    /// Stop accepting submissions.
    Close,
}

impl Registry {
    /// Create a competition on a benchmark (an organizer above the benchmark's procuratorate).
    pub async fn create_competition(
        &self,
        actor: &Actor,
        request: &CompetitionRequest<'_>,
    ) -> Result<CompetitionRecord> {
        actor.require(Role::Organizer, "creating a competition")?;
        let b = self.benchmark(request.benchmark).await?;
        if !self.is_staff_over(actor, b.org_id).await? {
            return Err(RegistryError::Denied(format!(
                "benchmark {} belongs to {}: only its organizers may run a competition on it",
                b.name, b.org
            )));
        }
        self.check_new_name("competition", request.name, "competitions", "name").await?;
        if sqlx::query("SELECT id FROM competitions WHERE name = $1")
            .bind(request.name)
            .fetch_optional(self.db.pool())
            .await?
            .is_some()
        {
            return Err(RegistryError::Conflict(format!("competition {} already exists", request.name)));
        }
        if let (Some(o), Some(c)) = (request.opens_at, request.closes_at)
            && c <= o
        {
            return Err(RegistryError::Invalid(format!(
                "--closes ({}) must come after --opens ({})",
                format_ms(c),
                format_ms(o)
            )));
        }
        for (flag, value) in
            [("--daily-limit", request.daily_limit), ("--final-selections", request.final_selections)]
        {
            if value == 0 {
                return Err(RegistryError::Invalid(format!("{flag} must be at least 1")));
            }
        }
        let limits = limits_json(&self.within_policy(&request.limits).await?);
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO competitions (name, benchmark_id, state, opens_at, closes_at, daily_limit, failure_limit, \
             final_selections, limits, org_id, created_by, created_at) \
             VALUES ($1, $2, 'created', $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(request.name)
        .bind(b.id)
        .bind(request.opens_at.map(format_ms))
        .bind(request.closes_at.map(format_ms))
        .bind(request.daily_limit as i64)
        .bind(request.failure_limit as i64)
        .bind(request.final_selections as i64)
        .bind(limits.to_string())
        .bind(b.org_id)
        .bind(actor.user.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let detail = json!({
            "benchmark": b.name, "opens_at": request.opens_at.map(format_ms), "closes_at": request.closes_at.map(format_ms),
            "daily_limit": request.daily_limit, "failure_limit": request.failure_limit,
            "final_selections": request.final_selections, "limits": limits,
        });
        audit::append(&mut tx, &actor.user.name, "competition.create", request.name, detail).await?;
        tx.commit().await?;
        self.competition(request.name).await
    }

    /// The competition called `name`.
    pub async fn competition(&self, name: &str) -> Result<CompetitionRecord> {
        let row = sqlx::query(&format!("{COMPETITION_SELECT} WHERE c.name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "competition", id: name.to_string() })?;
        competition_from(&row)
    }

    /// The competition with row id `id`.
    pub(crate) async fn competition_by_id(&self, id: i64) -> Result<CompetitionRecord> {
        let row = sqlx::query(&format!("{COMPETITION_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "competition", id: id.to_string() })?;
        competition_from(&row)
    }

    /// Every competition, by name.
    pub async fn competitions(&self) -> Result<Vec<CompetitionRecord>> {
        let rows =
            sqlx::query(&format!("{COMPETITION_SELECT} ORDER BY c.name")).fetch_all(self.db.pool()).await?;
        rows.iter().map(competition_from).collect()
    }

    /// Refuse `actor` unless they may take part in `c` (their procuratorate lies within its) or
    /// organize it.
    pub(crate) async fn require_in_scope(
        &self,
        actor: &Actor,
        c: &CompetitionRecord,
        what: &str,
    ) -> Result<()> {
        if self.within(actor.user.org_id, c.org_id).await? || self.is_staff_over(actor, c.org_id).await? {
            Ok(())
        } else {
            Err(RegistryError::Denied(format!(
                "{what}: competition {} is run by {} for its procuratorates; {} is not one of them",
                c.name, c.org, actor.user.org
            )))
        }
    }

    /// Open or close competition `name` (an organizer or admin above its procuratorate).
    pub async fn change_competition(
        &self,
        actor: &Actor,
        name: &str,
        change: Transition,
    ) -> Result<CompetitionRecord> {
        let c = self.competition(name).await?;
        let verb = match change {
            Transition::Open => "opening",
            Transition::Close => "closing",
        };
        self.require_competition_staff(actor, c.id, &format!("{verb} a competition")).await?;
        let next = match (change, c.state.as_str()) {
            (_, "finalized") => {
                return Err(RegistryError::Conflict(format!(
                    "competition {name} is finalized: its ranking is final"
                )));
            }
            (Transition::Open, "open") | (Transition::Close, "closed") => return Ok(c),
            (Transition::Open, _) => "open",
            (Transition::Close, "open") => "closed",
            (Transition::Close, state) => {
                return Err(RegistryError::Conflict(format!(
                    "competition {name} is {state}: only an open one closes"
                )));
            }
        };
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE competitions SET state = $1 WHERE id = $2")
            .bind(next)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        let action = match change {
            Transition::Open => "competition.open",
            Transition::Close => "competition.close",
        };
        audit::append(&mut tx, &actor.user.name, action, name, json!({ "was": c.state })).await?;
        tx.commit().await?;
        self.competition(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn competition(state: &str, opens: Option<&str>, closes: Option<&str>) -> CompetitionRecord {
        CompetitionRecord {
            id: 1,
            name: "cup".into(),
            benchmark: "b".into(),
            benchmark_id: 1,
            task: "private-lending-fraud".into(),
            metric: "f0_5".into(),
            state: state.into(),
            opens_at: opens.map(String::from),
            closes_at: closes.map(String::from),
            daily_limit: 5,
            failure_limit: 10,
            final_selections: 2,
            limits: limits_json(&Limits::default()),
            org: "province".into(),
            org_id: 1,
            created_by: "olga".into(),
            created_at: "2026-11-30T00:00:00.000Z".into(),
            finalized_at: None,
        }
    }

    #[test]
    fn the_phase_follows_the_state_and_the_window() {
        let t = |s: &str| sieve_sdk::data::parse_timestamp(s).expect("time");
        let (opens, closes) = (Some("2026-12-01T00:00:00.000Z"), Some("2026-12-10T12:00:00.000Z"));
        let c = competition("open", opens, closes);
        assert_eq!(c.phase(t("2026-11-30T23:59:59")), Phase::Scheduled);
        assert_eq!(c.phase(t("2026-12-01T00:00:00")), Phase::Open);
        assert_eq!(c.phase(t("2026-12-10T11:59:59")), Phase::Open);
        assert_eq!(c.phase(t("2026-12-10T12:00:00")), Phase::Closed);
        assert_eq!(competition("created", opens, closes).phase(t("2026-12-05T00:00:00")), Phase::Created);
        assert_eq!(competition("closed", None, None).phase(0), Phase::Closed);
        assert_eq!(competition("finalized", None, None).phase(0), Phase::Finalized);
        assert_eq!(competition("open", None, None).phase(0), Phase::Open);
        assert_eq!(c.run_limits(), Limits::default());
    }
}
