//! Plugins: publish (blob + record + automated vetting), vet again, approve / reject / revoke,
//! list and show. A plugin is its digest; its bytes are checked against it whenever they are used.

use serde::Serialize;
use serde_json::json;
use sieve_sdk::{ModelInfo, ParamValue};
use sqlx::Row;

use super::{Actor, Registry, RegistryError, Result, Role, off_runtime};
use crate::audit;
use crate::datasets::{self, contract};
use crate::generate::{self, Format};
use crate::runs::sql_model;
use crate::sandbox::{Limits, Outcome, Plugin, Sandbox};
use crate::storage::blobs::BlobError;
use crate::storage::now;

/// The first bytes of every WebAssembly module and component.
const WASM_MAGIC: &[u8] = b"\0asm";

/// The model description as JSON (stored with the plugin, printed by `inspect --json`).
pub fn info_json(info: &ModelInfo) -> serde_json::Value {
    json!({
        "name": info.name, "version": info.version, "summary": info.summary, "task": info.task,
        "subject_kind": info.subject_kind,
        "inputs": info.inputs.iter().map(|t| json!({
            "table": t.name,
            "columns": t.columns.iter().map(|c| json!({"name": c.name, "type": c.ty.name()})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "params": info.params.iter().map(|p| json!({
            "name": p.name, "type": p.ty().name(), "default": p.default.to_string(), "description": p.description,
        })).collect::<Vec<_>>(),
    })
}

/// One automated check and how it went.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Finding {
    /// Which check.
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// The latest vetting of a plugin.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct Vetting {
    /// When it ran.
    pub at: String,
    /// Whether every check passed.
    pub passed: bool,
    /// Each check.
    pub findings: Vec<Finding>,
}

/// A plugin as the registry knows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct PluginRecord {
    /// `sha256:<hex>` of its bytes.
    pub digest: String,
    /// Size in bytes.
    pub size: i64,
    /// `sieve:model` version it targets.
    pub api_version: String,
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Task it addresses.
    pub task: String,
    /// Publisher's notes.
    pub notes: String,
    /// Who published it.
    pub author: String,
    /// Their procuratorate.
    pub org: String,
    #[serde(skip)]
    pub(crate) org_id: i64,
    /// `submitted`, `approved`, `rejected` or `revoked`.
    pub state: String,
    /// The procuratorate whose subtree the approval covers.
    pub approved_for: Option<String>,
    #[serde(skip)]
    approved_org_id: Option<i64>,
    /// Whether its blob was found altered.
    pub tampered: bool,
    /// When it was published.
    pub published_at: String,
    /// The admin who decided, with when and why.
    pub decision: Option<serde_json::Value>,
    /// Runs made with it.
    pub runs: i64,
    /// Procuratorates that ran it.
    pub orgs_using: i64,
    /// The model's description.
    #[schema(value_type = Object)]
    pub info: serde_json::Value,
    /// The latest vetting.
    pub vetting: Option<Vetting>,
    /// Its source archive, when the author attached one: digest, size and the toolchain named.
    pub source: Option<SourceArchive>,
    /// For a SQL model, the SQL engine it runs on.
    #[serde(default)]
    pub sql_engine: Option<String>,
}

/// A plugin's source, as stored: a tar archive in the blob store and the toolchain that built the
/// component from it (`plugin publish --source`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SourceArchive {
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
    /// The toolchain and version, as the author's `sieve` found or was told it.
    pub toolchain: String,
}

/// The largest source archive a plugin may carry.
pub const MAX_SOURCE_BYTES: usize = 64 << 20;
/// The longest toolchain description.
const MAX_TOOLCHAIN_CHARS: usize = 200;

const PLUGIN_SELECT: &str = "SELECT p.*, u.name AS author_name, o.name AS org_name, d.name AS decider, \
     (SELECT COUNT(*) FROM runs r WHERE r.plugin_digest = p.digest) AS run_count, \
     (SELECT COUNT(DISTINCT r.org_id) FROM runs r WHERE r.plugin_digest = p.digest) AS org_count \
     , ao.name AS approved_for_name \
     FROM plugins p JOIN users u ON u.id = p.author_id JOIN orgs o ON o.id = p.org_id \
     LEFT JOIN users d ON d.id = p.decided_by LEFT JOIN orgs ao ON ao.id = p.approved_org_id";

impl Registry {
    fn record_from(row: &sqlx::any::AnyRow) -> Result<PluginRecord> {
        let decider: Option<String> = row.try_get("decider")?;
        let info: String = row.try_get("info")?;
        Ok(PluginRecord {
            digest: row.try_get("digest")?,
            size: row.try_get("size")?,
            api_version: row.try_get("api_version")?,
            name: row.try_get("name")?,
            version: row.try_get("version")?,
            task: row.try_get("task")?,
            notes: row.try_get("notes")?,
            author: row.try_get("author_name")?,
            org: row.try_get("org_name")?,
            org_id: row.try_get("org_id")?,
            state: row.try_get("state")?,
            approved_for: row.try_get("approved_for_name")?,
            approved_org_id: row.try_get("approved_org_id")?,
            tampered: row.try_get::<i64, _>("tampered")? != 0,
            source: match row.try_get::<Option<String>, _>("source_digest")? {
                Some(digest) => Some(SourceArchive {
                    digest,
                    size: row.try_get::<Option<i64>, _>("source_size")?.unwrap_or(0),
                    toolchain: row.try_get::<Option<String>, _>("toolchain")?.unwrap_or_default(),
                }),
                None => None,
            },
            published_at: row.try_get("published_at")?,
            decision: match decider {
                Some(by) => Some(json!({
                    "by": by,
                    "at": row.try_get::<Option<String>, _>("decided_at")?,
                    "note": row.try_get::<Option<String>, _>("decision_note")?,
                })),
                None => None,
            },
            runs: row.try_get("run_count")?,
            orgs_using: row.try_get("org_count")?,
            info: serde_json::from_str(&info).unwrap_or(serde_json::Value::Null),
            vetting: None,
            sql_engine: row.try_get("engine_digest")?,
        })
    }

    /// The full digest a user-given digest or unambiguous prefix (`sha256:` optional) names.
    pub async fn resolve_plugin(&self, given: &str) -> Result<String> {
        let hex = given.strip_prefix("sha256:").unwrap_or(given).to_ascii_lowercase();
        if hex.len() < 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::Invalid(format!(
                "{given:?} is not a plugin digest or a prefix of at least 4 hex digits"
            )));
        }
        let rows = sqlx::query("SELECT digest FROM plugins WHERE digest LIKE $1 ORDER BY digest LIMIT 5")
            .bind(format!("sha256:{hex}%"))
            .fetch_all(self.db.pool())
            .await?;
        let digests = rows.iter().map(|r| r.try_get::<String, _>("digest")).collect::<Result<Vec<_>, _>>()?;
        match digests.as_slice() {
            [] => Err(RegistryError::NotFound { kind: "plugin", id: given.to_string() }),
            [one] => Ok(one.clone()),
            many => Err(RegistryError::Ambiguous { prefix: given.to_string(), matches: many.join(", ") }),
        }
    }

    /// The plugin `given` names (digest or prefix), with its latest vetting.
    pub async fn plugin(&self, given: &str) -> Result<PluginRecord> {
        let digest = self.resolve_plugin(given).await?;
        let row = sqlx::query(&format!("{PLUGIN_SELECT} WHERE p.digest = $1"))
            .bind(&digest)
            .fetch_one(self.db.pool())
            .await?;
        let mut record = Self::record_from(&row)?;
        record.vetting = self.latest_vetting(&digest).await?;
        Ok(record)
    }

    async fn latest_vetting(&self, digest: &str) -> Result<Option<Vetting>> {
        let row = sqlx::query(
            "SELECT at, passed, findings FROM vettings WHERE digest = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(digest)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| -> Result<Vetting> {
            let findings: String = r.try_get("findings")?;
            Ok(Vetting {
                at: r.try_get("at")?,
                passed: r.try_get::<i64, _>("passed")? != 0,
                findings: serde_json::from_str(&findings).unwrap_or_default(),
            })
        })
        .transpose()
    }

    /// Every plugin with its latest vetting, newest first.
    pub async fn plugins(&self) -> Result<Vec<PluginRecord>> {
        let rows = sqlx::query(&format!("{PLUGIN_SELECT} ORDER BY p.published_at DESC"))
            .fetch_all(self.db.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut record = Self::record_from(row)?;
            record.vetting = self.latest_vetting(&record.digest).await?;
            out.push(record);
        }
        Ok(out)
    }

    /// Publish component `bytes` (author role). The component must load (valid, allowed imports,
    /// supported API) and describe itself; it is then stored, recorded as `submitted` and vetted.
    /// Publishing bytes already published returns the existing record and changes nothing.
    pub async fn publish(
        &self,
        sandbox: &Sandbox,
        actor: &Actor,
        bytes: &[u8],
        notes: &str,
    ) -> Result<(PluginRecord, bool)> {
        actor.require(Role::Author, "publishing a plugin")?;
        // A SQL model arrives as its text, and the registry packages it on the current engine:
        // a package handed in would let its author choose the engine.
        if sql_model::unpack(bytes).is_some() {
            return Err(RegistryError::Invalid(
                "publish the SQL model's text (model.sql): the registry pins the engine it runs on".into(),
            ));
        }
        let (bytes, engine) = if bytes.starts_with(WASM_MAGIC) {
            (bytes.to_vec(), None)
        } else {
            let (package, engine) = self.package_sql_model(bytes).await?;
            (package, Some(engine))
        };
        let bytes = bytes.as_slice();
        let digest = crate::digest::digest_of(bytes);
        let known = sqlx::query("SELECT digest FROM plugins WHERE digest = $1")
            .bind(&digest)
            .fetch_optional(self.db.pool())
            .await?;
        if known.is_some() {
            // Idempotent, but repair the blob if it was lost or altered: these bytes are the truth.
            self.blobs.put(bytes)?;
            return Ok((self.plugin(&digest).await?, false));
        }
        let loaded = {
            let (sandbox, bytes) = (sandbox.clone(), bytes.to_vec());
            off_runtime(move || {
                let plugin =
                    crate::runs::load_model(&sandbox, &bytes, None, crate::runs::engine_given(engine))
                        .map_err(|o| RegistryError::Invalid(format!("not a publishable model: {o}")))?;
                let info = sandbox
                    .describe(&plugin)
                    .map_err(|o| RegistryError::Invalid(format!("the model cannot describe itself: {o}")))?;
                Ok::<_, RegistryError>((plugin, info))
            })
            .await?
        };
        let (plugin, info) = loaded?;
        let engine_digest = plugin.sql.is_some().then(|| plugin.digest.clone());
        self.blobs.put(bytes)?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO plugins (digest, size, api_version, name, version, task, info, notes, author_id, org_id, \
             state, published_at, engine_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitted', $11, $12)",
        )
        .bind(&digest)
        .bind(bytes.len() as i64)
        .bind(&plugin.api_version)
        .bind(&info.name)
        .bind(&info.version)
        .bind(&info.task)
        .bind(info_json(&info).to_string())
        .bind(notes)
        .bind(actor.user.id)
        .bind(actor.user.org_id)
        .bind(now())
        .bind(engine_digest.clone())
        .execute(&mut *tx)
        .await?;
        let detail = json!({
            "name": info.name, "version": info.version, "task": info.task, "size": bytes.len(), "engine": engine_digest,
        });
        audit::append(&mut tx, &actor.user.name, "plugin.publish", &digest, detail).await?;
        tx.commit().await?;
        self.run_vetting(sandbox, &actor.user.name, &digest, bytes, &plugin, &info).await?;
        Ok((self.plugin(&digest).await?, true))
    }

    /// Attach the source archive `archive` (a tar) and the `toolchain` that built the component to
    /// plugin `given` (its author only, once: the same archive again changes nothing, another is
    /// refused). The archive must be a plain tar of regular files and directories with relative
    /// paths, so that a reviewer can unpack it safely.
    pub async fn attach_source(
        &self,
        actor: &Actor,
        given: &str,
        archive: &[u8],
        toolchain: &str,
    ) -> Result<PluginRecord> {
        let record = self.plugin_visible_to(actor, given).await?;
        if record.author != actor.user.name {
            return Err(RegistryError::Denied(format!(
                "attaching a source archive: only the plugin's author ({}) may",
                record.author
            )));
        }
        check_source_archive(archive)?;
        let toolchain = toolchain.trim();
        if toolchain.is_empty()
            || toolchain.chars().count() > MAX_TOOLCHAIN_CHARS
            || toolchain.chars().any(char::is_control)
        {
            return Err(RegistryError::Invalid(format!(
                "the toolchain must be 1-{MAX_TOOLCHAIN_CHARS} characters on one line (\"componentize-py 0.25.1\")"
            )));
        }
        let digest = crate::digest::digest_of(archive);
        if let Some(existing) = &record.source {
            if existing.digest == digest {
                return Ok(record);
            }
            return Err(RegistryError::Invalid(format!(
                "{} already has its source archive ({}); a changed source is a new build, so publish that",
                record.digest, existing.digest
            )));
        }
        self.blobs.put(archive)?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE plugins SET source_digest = $1, source_size = $2, toolchain = $3 WHERE digest = $4",
        )
        .bind(&digest)
        .bind(archive.len() as i64)
        .bind(toolchain)
        .bind(&record.digest)
        .execute(&mut *tx)
        .await?;
        let detail = json!({ "source": digest, "size": archive.len(), "toolchain": toolchain });
        audit::append(&mut tx, &actor.user.name, "plugin.source", &record.digest, detail).await?;
        tx.commit().await?;
        self.plugin(&record.digest).await
    }

    /// Plugin `given`'s source archive and its record, for its author or an admin (the reviewers).
    /// A plugin the actor may not see is not found, as everywhere else.
    pub async fn plugin_source(&self, actor: &Actor, given: &str) -> Result<(PluginRecord, Vec<u8>)> {
        let record = self.plugin_visible_to(actor, given).await?;
        if record.author != actor.user.name {
            actor.require(Role::Admin, "reading another author's plugin source")?;
        }
        // A SQL model's source is its text, which its package holds.
        if record.sql_engine.is_some() {
            let package = self.plugin_bytes(&actor.user.name, &record.digest).await?;
            if let Some(Ok((_, text))) = crate::runs::sql_model::unpack(&package) {
                return Ok((record, text.into_bytes()));
            }
        }
        let Some(source) = &record.source else {
            return Err(RegistryError::NotFound {
                kind: "source archive of plugin",
                id: record.digest.clone(),
            });
        };
        let bytes = self.blobs.get(&source.digest)?;
        Ok((record, bytes))
    }

    /// Whether `record`'s approval covers procuratorate `org_id`.
    pub async fn plugin_approved_for(&self, record: &PluginRecord, org_id: i64) -> Result<bool> {
        match record.approved_org_id {
            Some(scope) => self.within(org_id, scope).await,
            None => Ok(false),
        }
    }

    /// Vet plugin `given` again (admin, or the plugin's author).
    pub async fn vet(&self, sandbox: &Sandbox, actor: &Actor, given: &str) -> Result<PluginRecord> {
        let record = self.plugin(given).await?;
        if record.author != actor.user.name {
            actor.require(Role::Admin, "vetting someone else's plugin")?;
        }
        let bytes = self.plugin_bytes(&actor.user.name, &record.digest).await?;
        self.check_engine(&bytes).await?;
        let described = {
            let (sandbox, bytes, digest, registry) =
                (sandbox.clone(), bytes.clone(), record.digest.clone(), self.clone());
            off_runtime(move || {
                let engine = |d: &str| registry.engine_bytes(d);
                let plugin = crate::runs::load_model(&sandbox, &bytes, Some(&digest), engine)?;
                let info = sandbox.describe(&plugin)?;
                Ok::<_, Outcome>((plugin, info))
            })
            .await?
        };
        match described {
            Ok((plugin, info)) => {
                self.run_vetting(sandbox, &actor.user.name, &record.digest, &bytes, &plugin, &info).await?
            }
            Err(o) => {
                let findings =
                    vec![Finding { check: "valid-component".into(), passed: false, detail: o.to_string() }];
                self.store_vetting(&actor.user.name, &record.digest, findings).await?;
            }
        }
        self.plugin(&record.digest).await
    }

    /// The plugin's bytes, verified against its digest. A mismatch marks the plugin tampered and
    /// is logged before the error is returned.
    pub async fn plugin_bytes(&self, actor: &str, digest: &str) -> Result<Vec<u8>> {
        match self.blobs.get(digest) {
            Ok(bytes) => Ok(bytes),
            Err(e @ BlobError::Mismatch { .. }) => {
                let mut tx = self.db.begin_write().await?;
                sqlx::query("UPDATE plugins SET tampered = 1 WHERE digest = $1")
                    .bind(digest)
                    .execute(&mut *tx)
                    .await?;
                audit::append(&mut tx, actor, "plugin.tampered", digest, json!({ "error": e.to_string() }))
                    .await?;
                tx.commit().await?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run_vetting(
        &self,
        sandbox: &Sandbox,
        actor: &str,
        digest: &str,
        bytes: &[u8],
        plugin: &Plugin,
        info: &ModelInfo,
    ) -> Result<()> {
        let findings = {
            let (sandbox, home, bytes) = (sandbox.clone(), self.home.clone(), bytes.to_vec());
            let (plugin, info) = (plugin.clone(), info.clone());
            off_runtime(move || vet_checks(&sandbox, &home, &bytes, &plugin, &info)).await?
        };
        self.store_vetting(actor, digest, findings).await
    }

    async fn store_vetting(&self, actor: &str, digest: &str, findings: Vec<Finding>) -> Result<()> {
        let passed = findings.iter().all(|f| f.passed);
        let text = serde_json::to_string(&findings).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO vettings (digest, at, passed, findings) VALUES ($1, $2, $3, $4)")
            .bind(digest)
            .bind(now())
            .bind(passed as i64)
            .bind(&text)
            .execute(&mut *tx)
            .await?;
        let failed: Vec<&str> = findings.iter().filter(|f| !f.passed).map(|f| f.check.as_str()).collect();
        audit::append(&mut tx, actor, "plugin.vet", digest, json!({ "passed": passed, "failed": failed }))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Approve, reject or revoke plugin `given` (admin above the publisher's procuratorate). Four
    /// eyes: nobody approves what they published. An approval covers the approving admin's
    /// subtree; approving an approved plugin again from higher up widens it.
    pub async fn decide(
        &self,
        actor: &Actor,
        given: &str,
        decision: Decision,
        note: &str,
    ) -> Result<PluginRecord> {
        let record = self.plugin(given).await?;
        self.require_admin_over(actor, record.org_id, decision.verb()).await?;
        let (mut from, to) = decision.transition();
        if decision == Decision::Approve && record.author == actor.user.name {
            return Err(RegistryError::Denied(format!(
                "approving {}: {} published it, and another admin must approve it (four eyes)",
                record.digest, actor.user.name
            )));
        }
        if decision == Decision::Approve && record.state == "approved" {
            let scope = record.approved_org_id.unwrap_or(record.org_id);
            if scope == actor.user.org_id || !self.within(scope, actor.user.org_id).await? {
                return Err(RegistryError::Conflict(format!(
                    "{} is already approved for {}; a wider approval needs an admin above it",
                    record.digest,
                    record.approved_for.as_deref().unwrap_or("?")
                )));
            }
            from = "approved";
        }
        if record.state != from {
            return Err(RegistryError::Conflict(format!(
                "{} is {}; only a {from} plugin can be {to}",
                record.digest, record.state
            )));
        }
        if decision == Decision::Approve {
            if record.tampered {
                return Err(RegistryError::Conflict(format!(
                    "{} is marked tampered: it cannot be approved",
                    record.digest
                )));
            }
            match &record.vetting {
                Some(v) if v.passed => {}
                Some(v) => {
                    let failed: Vec<String> = v
                        .findings
                        .iter()
                        .filter(|f| !f.passed)
                        .map(|f| format!("{}: {}", f.check, f.detail))
                        .collect();
                    return Err(RegistryError::Conflict(format!(
                        "{} failed vetting ({}); fix the model and publish it again",
                        record.digest,
                        failed.join("; ")
                    )));
                }
                None => {
                    return Err(RegistryError::Conflict(format!(
                        "{} has not been vetted yet",
                        record.digest
                    )));
                }
            }
        }
        let mut tx = self.db.begin_write().await?;
        // The state is checked again in the update itself: two admins deciding at once cannot both win.
        let approved_org = (decision == Decision::Approve).then_some(actor.user.org_id);
        let changed = sqlx::query(
            "UPDATE plugins SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4, \
             approved_org_id = COALESCE($5, approved_org_id) WHERE digest = $6 AND state = $7",
        )
        .bind(to)
        .bind(actor.user.id)
        .bind(now())
        .bind(note)
        .bind(approved_org)
        .bind(&record.digest)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() != 1 {
            return Err(RegistryError::Conflict(format!(
                "{} changed state meanwhile; look again",
                record.digest
            )));
        }
        let action = format!("plugin.{}", decision.verb());
        let detail = json!({ "note": note, "scope": approved_org.map(|_| actor.user.org.clone()) });
        audit::append(&mut tx, &actor.user.name, &action, &record.digest, detail).await?;
        tx.commit().await?;
        self.plugin(&record.digest).await
    }
}

/// An admin's decision on a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// submitted -> approved
    Approve,
    /// submitted -> rejected
    Reject,
    /// approved -> revoked
    Revoke,
}

impl Decision {
    fn verb(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Revoke => "revoke",
        }
    }

    fn transition(self) -> (&'static str, &'static str) {
        match self {
            Decision::Approve => ("submitted", "approved"),
            Decision::Reject => ("submitted", "rejected"),
            Decision::Revoke => ("approved", "revoked"),
        }
    }
}

/// Limits for canary runs: the defaults, with a shorter deadline (a canary is small).
fn canary_limits() -> Limits {
    Limits { deadline: std::time::Duration::from_secs(30), ..Limits::default() }
}

/// A canary dataset for `task`, fresh for this vetting: generated at scale 1 from a random seed
/// (so a model cannot recognise the canary and behave only there) in a scratch directory under
/// the home, without the labels. Returns the directory (removed when dropped) and the seed.
fn canary(home: &std::path::Path, task: &str) -> std::result::Result<(tempfile::TempDir, u64), String> {
    let generator = generate::task(task).map_err(|e| e.to_string())?;
    // Releases before this one kept canaries, labels included, under <home>/canary.
    let _ = std::fs::remove_dir_all(home.join("canary"));
    let parent = home.join("tmp");
    std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let dir = tempfile::Builder::new().prefix("canary-").tempdir_in(&parent).map_err(|e| e.to_string())?;
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
    let seed = u64::from_le_bytes(seed);
    generator.write(1, seed, dir.path(), Format::Parquet, &|_, _| {}).map_err(|e| e.to_string())?;
    // A vetted model has no business near the answers, even by a path it should not be able to name.
    std::fs::remove_file(dir.path().join(datasets::LABELS_FILE)).map_err(|e| e.to_string())?;
    Ok((dir, seed))
}

/// Values to try besides a parameter's default: the edges a model's author may not have.
fn sweep_values(default: &ParamValue) -> Vec<String> {
    let mut values: Vec<String> = match default {
        ParamValue::Int(d) => [0, 1, d.saturating_mul(2), d / 2, -1].iter().map(i64::to_string).collect(),
        ParamValue::Float(d) => [0.0, 1.0, d * 2.0, d / 2.0].iter().map(f64::to_string).collect(),
        ParamValue::Boolean(b) => vec![(!b).to_string()],
        // Free text cannot be guessed; the run policy bounds whatever a mode does.
        ParamValue::Text(_) => Vec::new(),
    };
    values.retain(|v| *v != default.to_string());
    values.dedup();
    values
}

/// The automated checks: API version, a sane `describe()` that fits its task's contract, a run
/// within limits on the task's canary dataset, and determinism (a second run, same output digest).
fn vet_checks(
    sandbox: &Sandbox,
    home: &std::path::Path,
    bytes: &[u8],
    plugin: &Plugin,
    info: &ModelInfo,
) -> Vec<Finding> {
    let mut findings = vec![
        Finding {
            check: "valid-component".into(),
            passed: true,
            detail: format!(
                "{}, imports within the allow-list: {}{}",
                match &plugin.sql {
                    Some(_) =>
                        format!("a SQL model of {} bytes on SQL engine {}", bytes.len(), plugin.digest),
                    None => format!("{} bytes", bytes.len()),
                },
                plugin.imports.join(", "),
                if crate::sandbox::imports::imports_sockets(&plugin.imports) {
                    "; sockets: linked, denied (its runtime imports them; no socket can be opened)"
                } else {
                    ""
                }
            ),
        },
        Finding {
            check: "api-version".into(),
            passed: true,
            detail: format!("sieve:model@{}", plugin.api_version),
        },
    ];
    let fits = contract::check_inputs(&info.task, &info.inputs);
    findings.push(Finding {
        check: "describe".into(),
        passed: fits.is_ok(),
        detail: match &fits {
            Ok(()) => format!(
                "{} {} for {}, reads {} tables of its contract",
                info.name,
                info.version,
                info.task,
                info.inputs.len()
            ),
            Err(problems) => problems.join("; "),
        },
    });
    if fits.is_err() {
        return findings;
    }
    let (canary_dir, seed) = match canary(home, &info.task) {
        Ok(d) => d,
        Err(e) => {
            findings.push(Finding {
                check: "canary-run".into(),
                passed: false,
                detail: format!("no canary dataset: {e}"),
            });
            return findings;
        }
    };
    let dir = canary_dir.path();
    let limits = canary_limits();
    let first = crate::runs::run_plugin_on_dir(sandbox, plugin, dir, &[], &limits, None);
    let ok = first.outcome == Outcome::Completed;
    findings.push(Finding {
        check: "canary-run".into(),
        passed: ok,
        detail: if ok {
            format!(
                "completed on a fresh {} canary (seed {seed}): {} clues, fuel {}, peak memory {} MiB, {:.0} ms",
                info.task,
                first.clues.len(),
                first.fuel,
                first.peak_memory_bytes >> 20,
                first.wall.as_secs_f64() * 1000.0
            )
        } else {
            format!("{}: {}", first.outcome.code(), first.outcome.detail())
        },
    });
    if !ok {
        return findings;
    }
    let second = crate::runs::run_plugin_on_dir(sandbox, plugin, dir, &[], &limits, None);
    let same = second.outcome == Outcome::Completed && second.output_digest == first.output_digest;
    findings.push(Finding {
        check: "deterministic".into(),
        passed: same,
        detail: if same {
            format!("two runs, same output {}", first.output_digest)
        } else {
            format!(
                "two runs differ: {} then {} ({})",
                first.output_digest,
                second.output_digest,
                second.outcome.code()
            )
        },
    });
    findings.push(parameter_sweep(sandbox, plugin, info, dir, &limits));
    findings
}

/// Run the model once per edge value of each parameter (`sweep_values`): each run must complete
/// or refuse the value (`model-error`); running out of fuel or time, trapping or flooding at a
/// setting nobody tried before approval is a finding.
fn parameter_sweep(
    sandbox: &Sandbox,
    plugin: &Plugin,
    info: &ModelInfo,
    dir: &std::path::Path,
    limits: &Limits,
) -> Finding {
    let mut tried = 0;
    let mut failures = Vec::new();
    for p in &info.params {
        for value in sweep_values(&p.default) {
            tried += 1;
            let settings = [(p.name.clone(), value.clone())];
            let r = crate::runs::run_plugin_on_dir(sandbox, plugin, dir, &settings, limits, None);
            if !matches!(r.outcome, Outcome::Completed | Outcome::ModelError(_) | Outcome::BadInput(_)) {
                failures.push(format!("{}={value}: {}", p.name, r.outcome));
            }
        }
    }
    Finding {
        check: "parameter-sweep".into(),
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            format!(
                "{tried} runs at edge values of {} parameters: each completed or refused the value",
                info.params.len()
            )
        } else {
            failures.join("; ")
        },
    }
}

/// Refuse a source archive a reviewer could not unpack safely: not a tar, too large, or holding
/// anything but regular files and directories under relative paths without `..`.
fn check_source_archive(archive: &[u8]) -> Result<()> {
    let bad = |why: String| RegistryError::Invalid(format!("the source archive {why}"));
    if archive.len() > MAX_SOURCE_BYTES {
        return Err(bad(format!("is {} bytes; at most {MAX_SOURCE_BYTES} are kept", archive.len())));
    }
    let mut files = 0usize;
    let mut entries = tar::Archive::new(archive);
    for entry in entries.entries().map_err(|e| bad(format!("is not a tar archive: {e}")))? {
        let entry = entry.map_err(|e| bad(format!("is not a tar archive: {e}")))?;
        let path = entry.path().map_err(|e| bad(format!("names a bad path: {e}")))?.into_owned();
        let safe = path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if !safe {
            return Err(bad(format!("holds {}, outside the archive's own directory", path.display())));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Directory => {}
            other => {
                return Err(bad(format!(
                    "holds {} of type {other:?}: only files and directories",
                    path.display()
                )));
            }
        }
        files += 1;
    }
    if files == 0 {
        return Err(bad("is empty".into()));
    }
    Ok(())
}

#[cfg(test)]
mod source_tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType)]) -> Vec<u8> {
        let mut archive = tar::Builder::new(Vec::new());
        for (path, kind) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(if *kind == tar::EntryType::Regular { 2 } else { 0 });
            header.set_mode(0o644);
            // `set_path` refuses `..`; a hostile archive writes the name bytes itself.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            let body: &[u8] = if *kind == tar::EntryType::Regular { b"hi" } else { b"" };
            archive.append(&header, body).expect("append");
        }
        archive.into_inner().expect("tar")
    }

    #[test]
    fn a_source_archive_a_reviewer_could_not_unpack_safely_is_refused() {
        let ok = tar_of(&[("app.py", tar::EntryType::Regular), ("lib", tar::EntryType::Directory)]);
        assert!(check_source_archive(&ok).is_ok());
        for (bad, why) in [
            (tar_of(&[("../escape.py", tar::EntryType::Regular)]), "outside"),
            (tar_of(&[("/etc/cron.d/x", tar::EntryType::Regular)]), "outside"),
            (tar_of(&[("link", tar::EntryType::Symlink)]), "only files and directories"),
            (tar_of(&[]), "empty"),
            (b"not a tar at all, just text that is long enough to be read as a header".repeat(10), "tar"),
        ] {
            let e = check_source_archive(&bad).expect_err(why).to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
