//! The SQL engines a registry runs SQL models on. A root admin installs one (its component is
//! compiled then, once, so that no model pays for it); publishing a SQL model pins the newest
//! installed engine into the model's package, and a run loads exactly that engine, only while it
//! is still one the registry installed.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::{Actor, Registry, RegistryError, Result, Role, off_runtime};
use crate::audit;
use crate::runs::sql_model;
use crate::sandbox::Sandbox;
use crate::sandbox::compile::CompileLimits;
use crate::sandbox::sql::SOURCE_INTERFACE;
use crate::storage::now;

/// The least time an engine's compile gets when it is installed.
const INSTALL_COMPILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// An installed SQL engine.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SqlEngineRecord {
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
    /// The admin who installed it.
    pub installed_by: String,
    /// When.
    pub installed_at: String,
    /// Whether new SQL models are pinned to it (the newest installed).
    pub current: bool,
    /// SQL models published on it.
    pub models: i64,
}

impl Registry {
    /// Install SQL engine component `bytes` (an admin of the root procuratorate: every SQL model
    /// published afterwards runs on it). It must load in the sandbox, which compiles it into the
    /// code cache, and import `sieve:sql/source`. Installing it again changes nothing but makes it
    /// the current engine again.
    pub async fn install_sql_engine(
        &self,
        sandbox: &Sandbox,
        actor: &Actor,
        bytes: &[u8],
    ) -> Result<SqlEngineRecord> {
        if actor.org_chain.len() > 1 {
            return Err(RegistryError::Denied(format!(
                "installing a SQL engine: only an admin of the root procuratorate may, and {} is not one",
                actor.user.name
            )));
        }
        actor.require(Role::Admin, "installing a SQL engine")?;
        // Installing is an operator's one-off: a query engine's compile may take longer than a
        // model's (minutes on a small machine), and afterwards every run loads the cached code.
        let limits = sandbox.compile_limits();
        let limits = CompileLimits { timeout: limits.timeout.max(INSTALL_COMPILE_TIMEOUT), ..limits.clone() };
        let plugin = {
            let (sandbox, bytes) = (sandbox.clone().with_compile_limits(limits), bytes.to_vec());
            off_runtime(move || sandbox.load(&bytes, None)).await?
        }
        .map_err(|o| RegistryError::Invalid(format!("not an installable SQL engine: {o}")))?;
        if !plugin.imports.iter().any(|i| i.starts_with(SOURCE_INTERFACE)) {
            return Err(RegistryError::Invalid(format!(
                "not a SQL engine: the component does not import {SOURCE_INTERFACE}, so it cannot read a SQL model"
            )));
        }
        self.blobs.put(bytes)?;
        let mut tx = self.db.begin_write().await?;
        // Installed again: it becomes the current engine by its new installation time.
        let updated =
            sqlx::query("UPDATE sql_engines SET installed_by = $1, installed_at = $2 WHERE digest = $3")
                .bind(actor.user.id)
                .bind(now())
                .bind(&plugin.digest)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO sql_engines (digest, size, installed_by, installed_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&plugin.digest)
            .bind(bytes.len() as i64)
            .bind(actor.user.id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        let detail = json!({ "size": bytes.len(), "api_version": plugin.api_version });
        audit::append(&mut tx, &actor.user.name, "sql-engine.install", &plugin.digest, detail).await?;
        tx.commit().await?;
        let engines = self.sql_engines().await?;
        engines
            .into_iter()
            .find(|e| e.digest == plugin.digest)
            .ok_or_else(|| RegistryError::NotFound { kind: "SQL engine", id: plugin.digest.clone() })
    }

    /// The installed SQL engines, the current one first.
    pub async fn sql_engines(&self) -> Result<Vec<SqlEngineRecord>> {
        let rows = sqlx::query(
            "SELECT e.digest, e.size, e.installed_at, u.name AS installer, \
             (SELECT COUNT(*) FROM plugins p WHERE p.engine_digest = e.digest) AS models \
             FROM sql_engines e JOIN users u ON u.id = e.installed_by ORDER BY e.installed_at DESC, e.digest",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(SqlEngineRecord {
                    digest: r.try_get("digest")?,
                    size: r.try_get("size")?,
                    installed_by: r.try_get("installer")?,
                    installed_at: r.try_get("installed_at")?,
                    current: i == 0,
                    models: r.try_get("models")?,
                })
            })
            .collect()
    }

    /// The engine new SQL models are pinned to, with its bytes (checked against its digest).
    pub(super) async fn current_sql_engine(&self) -> Result<(String, Vec<u8>)> {
        let Some(engine) = self.sql_engines().await?.into_iter().next() else {
            return Err(RegistryError::Conflict(
                "no SQL engine is installed: a root admin installs one with `sieve sql-engine install` \
                 (built by scripts/build-sql-engine.sh)"
                    .into(),
            ));
        };
        let bytes = self.blobs.get(&engine.digest)?;
        Ok((engine.digest, bytes))
    }

    /// Refuse a SQL model package whose engine this registry has not installed; a component
    /// passes. Every stored run and vetting checks it before loading. The engine's digest, for a
    /// SQL model.
    pub async fn check_engine(&self, bytes: &[u8]) -> Result<Option<String>> {
        let Some(package) = sql_model::unpack(bytes) else { return Ok(None) };
        let (engine, _) = package.map_err(RegistryError::Invalid)?;
        let installed = sqlx::query("SELECT digest FROM sql_engines WHERE digest = $1")
            .bind(&engine)
            .fetch_optional(self.db.pool())
            .await?;
        match installed {
            Some(_) => Ok(Some(engine)),
            None => Err(RegistryError::Invalid(format!(
                "the SQL model runs on engine {engine}, which this registry has not installed"
            ))),
        }
    }

    /// The bytes of installed engine `digest`, checked against it: read when this process has
    /// not loaded the engine yet.
    pub fn engine_bytes(&self, digest: &str) -> std::result::Result<Vec<u8>, crate::sandbox::Outcome> {
        self.blobs.get(digest).map_err(|e| super::run_outcome(&e))
    }

    /// The package of SQL model `text`, on the current engine, with the engine's bytes. A model
    /// that is not UTF-8 text with a known task is refused, naming why.
    pub(super) async fn package_sql_model(&self, text: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        let text = std::str::from_utf8(text).map_err(|e| {
            RegistryError::Invalid(format!(
                "neither a WebAssembly component nor a SQL model: the bytes are not UTF-8 text ({e})"
            ))
        })?;
        let source =
            sql_model::source(text).map_err(|e| RegistryError::Invalid(format!("SQL model: {e}")))?;
        let (engine_digest, engine) = self.current_sql_engine().await?;
        Ok((sql_model::package(&engine_digest, &source), engine))
    }
}
