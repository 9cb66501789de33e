//! Registered datasets: import (CSV or Parquet in, content-addressed Parquet out, checked against
//! the task's contract), versions, approval, grants to a procuratorate subtree, and loading a
//! dataset's tables for a run with every table's digest checked.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sieve_sdk::{ModelInfo, TableSpec};
use sqlx::Row;

use super::{Actor, Registry, RegistryError, Result, Role};
use crate::audit;
use crate::datasets::{self, DataError, LABELS_FILE, ServedTable, contract, parquet_io};
use crate::digest::digest_of;
use crate::sandbox::{Outcome, PendingCheck, Served};
use crate::storage::now;

/// One stored table of a dataset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct StoredTable {
    /// Table name.
    pub name: String,
    /// Digest of its Parquet file.
    pub digest: String,
    /// Rows.
    pub rows: i64,
    /// Size of the Parquet file.
    pub bytes: i64,
    /// Columns as `name:type`.
    pub columns: Vec<String>,
}

/// A dataset version as the registry knows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct DatasetRecord {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// Name shared by all versions.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// Task whose contract it follows.
    pub task: String,
    /// The agency it came from.
    pub source: String,
    /// Whether clues from it need an admin's release before export.
    pub restricted: bool,
    /// Owning procuratorate.
    pub owner: String,
    #[serde(skip)]
    pub(crate) owner_org_id: i64,
    /// Digest over the per-table digests.
    pub digest: String,
    /// Digest of the stored labels, if the import had any (never readable by a model).
    pub labels_digest: Option<String>,
    /// `pending`, `approved` or `retired`.
    pub state: String,
    /// Who imported it.
    pub created_by: String,
    /// When.
    pub created_at: String,
    /// Its tables.
    pub tables: Vec<StoredTable>,
    /// Procuratorates granted access (with their subtrees).
    pub grants: Vec<String>,
    /// Its encoding, made at import: each column's file and each key domain's dictionary, by
    /// digest (none for versions imported before column files, until `dataset encode`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub encoding: Option<super::encodings::StoredEncoding>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct ImportReport {
    /// The dataset version now holding this content.
    pub dataset: DatasetRecord,
    /// False when identical content was already the latest version (nothing was written).
    pub created: bool,
    /// Files in the directory that are not part of the task's contract (ignored).
    pub ignored_files: Vec<String>,
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest<'a> {
    /// Dataset name.
    pub name: &'a str,
    /// Directory with one CSV or Parquet file per contract table.
    pub dir: &'a Path,
    /// Task whose contract the tables follow.
    pub task: &'a str,
    /// The agency the data came from.
    pub source: &'a str,
    /// Whether clues from it need an admin's release before export.
    pub restricted: bool,
}

/// Progress of an import: `(table, index, count)` as each table starts.
pub type ImportProgress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

fn dataset_digest(tables: &[StoredTable]) -> String {
    let mut lines: Vec<String> = tables.iter().map(|t| format!("{}\t{}\n", t.name, t.digest)).collect();
    lines.sort();
    digest_of(lines.concat().as_bytes())
}

/// Split `NAME[@version]`.
pub fn parse_ref(given: &str) -> Result<(&str, Option<i64>)> {
    match given.split_once('@') {
        None => Ok((given, None)),
        Some((name, v)) => {
            let version = v.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                RegistryError::Invalid(format!("{given:?}: the version after @ must be a positive number"))
            })?;
            Ok((name, Some(version)))
        }
    }
}

const DATASET_SELECT: &str = "SELECT d.*, o.name AS owner_name, u.name AS creator FROM datasets d \
     JOIN orgs o ON o.id = d.owner_org_id JOIN users u ON u.id = d.created_by";

impl Registry {
    async fn dataset_from(&self, row: &sqlx::any::AnyRow) -> Result<DatasetRecord> {
        let id: i64 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let tables = sqlx::query("SELECT * FROM dataset_tables WHERE dataset_id = $1 ORDER BY name")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|t| -> Result<StoredTable> {
                let columns: String = t.try_get("columns")?;
                Ok(StoredTable {
                    name: t.try_get("name")?,
                    digest: t.try_get("digest")?,
                    rows: t.try_get("row_count")?,
                    bytes: t.try_get("byte_size")?,
                    columns: serde_json::from_str(&columns).unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let grants = sqlx::query(
            "SELECT o.name FROM grants g JOIN orgs o ON o.id = g.org_id WHERE g.dataset_name = $1 ORDER BY o.name",
        )
        .bind(&name)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|g| g.try_get::<String, _>("name"))
        .collect::<Result<Vec<_>, _>>()?;
        Ok(DatasetRecord {
            id,
            name,
            version: row.try_get("version")?,
            task: row.try_get("task")?,
            source: row.try_get("source")?,
            restricted: row.try_get::<i64, _>("restricted")? != 0,
            owner: row.try_get("owner_name")?,
            owner_org_id: row.try_get("owner_org_id")?,
            digest: row.try_get("digest")?,
            labels_digest: row.try_get("labels_digest")?,
            state: row.try_get("state")?,
            created_by: row.try_get("creator")?,
            created_at: row.try_get("created_at")?,
            tables,
            grants,
            encoding: row
                .try_get::<Option<String>, _>("encoding")?
                .and_then(|text| super::encodings::StoredEncoding::parse(&text)),
        })
    }

    /// The dataset `given` names: `NAME@version`, or the newest version of `NAME` (the newest
    /// approved one when `approved_only`).
    pub async fn dataset(&self, given: &str, approved_only: bool) -> Result<DatasetRecord> {
        let (name, version) = parse_ref(given)?;
        let row = match version {
            Some(v) => {
                sqlx::query(&format!("{DATASET_SELECT} WHERE d.name = $1 AND d.version = $2"))
                    .bind(name)
                    .bind(v)
                    .fetch_optional(self.db.pool())
                    .await?
            }
            None => {
                let filter = if approved_only { " AND d.state = 'approved'" } else { "" };
                sqlx::query(&format!(
                    "{DATASET_SELECT} WHERE d.name = $1{filter} ORDER BY d.version DESC LIMIT 1"
                ))
                .bind(name)
                .fetch_optional(self.db.pool())
                .await?
            }
        };
        match row {
            Some(r) => self.dataset_from(&r).await,
            None => {
                let any_version = sqlx::query("SELECT id FROM datasets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.db.pool())
                    .await?;
                if approved_only && version.is_none() && any_version.is_some() {
                    Err(RegistryError::Denied(format!(
                        "dataset {name} has no approved version: an admin must approve it"
                    )))
                } else {
                    Err(RegistryError::NotFound { kind: "dataset", id: given.to_string() })
                }
            }
        }
    }

    /// Every dataset version, by name then version.
    pub async fn datasets(&self) -> Result<Vec<DatasetRecord>> {
        let rows = sqlx::query(&format!("{DATASET_SELECT} ORDER BY d.name, d.version"))
            .fetch_all(self.db.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.dataset_from(r).await?);
        }
        Ok(out)
    }

    /// Import the tables of `dir` as dataset `name` of `task` (author or admin). Every contract
    /// table is read and typed (a bad cell fails the whole import, naming file, line and column),
    /// written as Parquet and stored by digest; only then is the dataset recorded, in one
    /// transaction, so a failure or a crash leaves no half-written dataset. Identical content
    /// is not stored twice; changed content under the same name becomes the next version.
    pub async fn import_dataset(
        &self,
        actor: &Actor,
        request: &ImportRequest<'_>,
        progress: ImportProgress<'_>,
    ) -> Result<ImportReport> {
        let ImportRequest { name, dir, task, source, restricted } = *request;
        if !actor.has(Role::Author) && !actor.has(Role::Admin) {
            actor.require(Role::Author, "importing a dataset")?;
        }
        self.check_new_name("dataset", name, "datasets", "name").await?;
        let specs = contract::tables(task).ok_or_else(|| {
            RegistryError::Invalid(format!("unknown task {task:?} (known: {})", contract::TASKS.join(", ")))
        })?;
        if !dir.is_dir() {
            return Err(RegistryError::Invalid(format!("{}: no such directory", dir.display())));
        }
        if let Ok(existing) = self.dataset(name, false).await {
            if existing.owner_org_id != actor.user.org_id {
                self.require_admin_over(
                    actor,
                    existing.owner_org_id,
                    "importing a new version of another procuratorate's dataset",
                )
                .await?;
            }
            if existing.task != task {
                return Err(RegistryError::Invalid(format!(
                    "dataset {name} holds {} data; a new version cannot switch it to {task}",
                    existing.task
                )));
            }
        }

        // Only plain files are read: a link could point at another account's file, a FIFO or a
        // device could hang the import or feed it without end.
        for spec in &specs {
            if let Some(file) =
                datasets::table_file(dir, &spec.name).map_err(|e| RegistryError::Invalid(e.to_string()))?
            {
                plain_file(&file)?;
            }
        }
        let labels_path = dir.join(LABELS_FILE);
        if std::fs::symlink_metadata(&labels_path).is_ok() {
            plain_file(&labels_path)?;
        }
        // Besides its Parquet file, each table gets run-time column files; its key-domain columns
        // are kept to encode once every table is read. The Parquet files are written and stored
        // on a second thread while the next table is read (on two cores, an import of T1 at
        // scale 100 took 3.1 s one after the other).
        // A table's columns are shared between the two, not copied: the writer hands the ones it
        // alone holds to Arrow as they are, and copies only the key-domain columns kept here.
        let mut keys: Vec<crate::datasets::encoding::KeyColumn> = Vec::new();
        let mut column_files = std::collections::BTreeMap::new();
        let mut checks = std::collections::BTreeMap::new();
        let (to_writer, written) = std::sync::mpsc::channel::<(String, Vec<Arc<sieve_sdk::data::Column>>)>();
        let (tables, encoding) = std::thread::scope(|scope| -> Result<_> {
            let writer = scope.spawn(|| -> Result<Vec<StoredTable>> {
                let mut tables = Vec::with_capacity(specs.len());
                for (name, columns) in written {
                    let rows = columns.first().map_or(0, |c| c.len()) as i64;
                    let columns = columns.into_iter().map(Arc::unwrap_or_clone).collect();
                    // Hashed as it is written: no second read of the file for its name.
                    let (digest, size) = self.blobs.put_written(|out| {
                        parquet_io::write_to(out, columns).map_err(std::io::Error::other)
                    })?;
                    let spec = specs.iter().find(|s| s.name == name).ok_or_else(|| {
                        RegistryError::Invalid(format!("table {name} is not in the {task} contract"))
                    })?;
                    tables.push(StoredTable {
                        digest,
                        rows,
                        bytes: size as i64,
                        columns: spec.columns.iter().map(|c| format!("{}:{}", c.name, c.ty.name())).collect(),
                        name,
                    });
                }
                Ok(tables)
            });
            let read = (|| -> Result<()> {
                for (i, spec) in specs.iter().enumerate() {
                    progress(&spec.name, i, specs.len());
                    let (columns, _) =
                        datasets::read_table(dir, spec).map_err(|e| RegistryError::Invalid(e.to_string()))?;
                    let columns: Vec<Arc<sieve_sdk::data::Column>> =
                        columns.into_iter().map(Arc::new).collect();
                    let files = super::encodings::store_table(
                        &self.blobs,
                        task,
                        &spec.name,
                        &columns,
                        &mut keys,
                        &mut checks,
                    )?;
                    column_files.insert(spec.name.clone(), files);
                    // A send fails only if the writer stopped on an error, which `join` reports.
                    if to_writer.send((spec.name.clone(), columns)).is_err() {
                        break;
                    }
                }
                Ok(())
            })();
            drop(to_writer);
            // The key domains are encoded while the last Parquet files are still being written.
            let encoding = read.and_then(|()| {
                super::encodings::store(
                    &self.blobs,
                    task,
                    &keys,
                    std::mem::take(&mut column_files),
                    std::mem::take(&mut checks),
                )
            });
            let tables = writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((tables?, encoding?))
        })?;
        let encoding = Some(encoding);
        drop(keys);
        progress("", specs.len(), specs.len());
        let labels_digest = match dir.join(LABELS_FILE) {
            path if path.is_file() => {
                crate::scoring::read_labels(&path)
                    .map_err(|e| RegistryError::Invalid(format!("{}: {e}", path.display())))?;
                let bytes = std::fs::read(&path)
                    .map_err(|e| RegistryError::Invalid(format!("{}: {e}", path.display())))?;
                Some(self.blobs.put(&bytes)?)
            }
            _ => None,
        };
        let ignored_files = ignored_files(dir, &specs);
        let digest = dataset_digest(&tables);

        let mut tx = self.db.begin_write().await?;
        // Checked again under the write lock: reading the files took time, and another
        // procuratorate may have taken the name meanwhile.
        let latest = sqlx::query(
            "SELECT version, digest, labels_digest, owner_org_id, restricted, task FROM datasets WHERE name = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        // A name belongs to the procuratorate that first imported it: later versions keep that
        // owner (and so its grants and its admins), and a restricted dataset stays restricted.
        let (mut owner, mut restricted) = (actor.user.org_id, restricted);
        if let Some(row) = &latest {
            let existing_owner: i64 = row.try_get("owner_org_id")?;
            if existing_owner != actor.user.org_id
                && let Err(e) = self
                    .require_admin_over(
                        actor,
                        existing_owner,
                        "importing a new version of another procuratorate's dataset",
                    )
                    .await
            {
                tx.rollback().await?;
                return Err(e);
            }
            let existing_task: String = row.try_get("task")?;
            if existing_task != task {
                tx.rollback().await?;
                return Err(RegistryError::Invalid(format!(
                    "dataset {name} holds {existing_task} data; a new version cannot switch it to {task}"
                )));
            }
            owner = existing_owner;
            restricted |= row.try_get::<i64, _>("restricted")? != 0;
        }
        let next_version = match &latest {
            Some(row) => {
                let (v, d, l): (i64, String, Option<String>) =
                    (row.try_get("version")?, row.try_get("digest")?, row.try_get("labels_digest")?);
                if d == digest && l == labels_digest {
                    tx.rollback().await?;
                    let dataset = self.dataset(&format!("{name}@{v}"), false).await?;
                    return Ok(ImportReport { dataset, created: false, ignored_files });
                }
                v + 1
            }
            None => 1,
        };
        let id: i64 = sqlx::query(
            "INSERT INTO datasets (name, version, task, source, restricted, owner_org_id, digest, labels_digest, \
             state, created_by, created_at, encoding) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11) \
             RETURNING id",
        )
        .bind(name)
        .bind(next_version)
        .bind(task)
        .bind(source)
        .bind(restricted as i64)
        .bind(owner)
        .bind(&digest)
        .bind(&labels_digest)
        .bind(actor.user.id)
        .bind(now())
        .bind(encoding.as_ref().and_then(|e| serde_json::to_string(e).ok()))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for t in &tables {
            sqlx::query(
                "INSERT INTO dataset_tables (dataset_id, name, digest, row_count, byte_size, columns) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&t.name)
            .bind(&t.digest)
            .bind(t.rows)
            .bind(t.bytes)
            .bind(serde_json::to_string(&t.columns).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        let target = format!("{name}@{next_version}");
        let detail = json!({
            "task": task, "source": source, "restricted": restricted, "digest": digest,
            "rows": tables.iter().map(|t| t.rows).sum::<i64>(), "labels": labels_digest.is_some(),
            "encoding": encoding,
        });
        audit::append(&mut tx, &actor.user.name, "dataset.import", &target, detail).await?;
        tx.commit().await?;
        Ok(ImportReport { dataset: self.dataset(&target, false).await?, created: true, ignored_files })
    }

    /// Approve (`pending -> approved`) or retire (`approved|pending -> retired`) a dataset version
    /// (admin above its owner).
    pub async fn set_dataset_state(
        &self,
        actor: &Actor,
        given: &str,
        approve: bool,
    ) -> Result<DatasetRecord> {
        let d = self.dataset(given, false).await?;
        let verb = if approve { "approving a dataset" } else { "retiring a dataset" };
        self.require_admin_over(actor, d.owner_org_id, verb).await?;
        let (allowed, to): (&[&str], &str) =
            if approve { (&["pending"], "approved") } else { (&["pending", "approved"], "retired") };
        if !allowed.contains(&d.state.as_str()) {
            return Err(RegistryError::Conflict(format!(
                "{}@{} is {}: it cannot become {to}",
                d.name, d.version, d.state
            )));
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE datasets SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4")
            .bind(to)
            .bind(actor.user.id)
            .bind(now())
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        let action = if approve { "dataset.approve" } else { "dataset.retire" };
        audit::append(
            &mut tx,
            &actor.user.name,
            action,
            &format!("{}@{}", d.name, d.version),
            json!({ "digest": d.digest }),
        )
        .await?;
        tx.commit().await?;
        self.dataset(&format!("{}@{}", d.name, d.version), false).await
    }

    /// Lift the restriction of dataset version `given` (an admin above its owner): a decision of
    /// its own, logged with its reason; a new version never lifts it by itself.
    pub async fn unrestrict_dataset(&self, actor: &Actor, given: &str, note: &str) -> Result<DatasetRecord> {
        let d = self.dataset(given, false).await?;
        self.require_admin_over(actor, d.owner_org_id, "lifting a dataset's restriction").await?;
        if !d.restricted {
            return Err(RegistryError::Conflict(format!("{}@{} is not restricted", d.name, d.version)));
        }
        if note.trim().is_empty() {
            return Err(RegistryError::Invalid("say why the restriction is lifted: --note TEXT".into()));
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE datasets SET restricted = 0 WHERE id = $1").bind(d.id).execute(&mut *tx).await?;
        let target = format!("{}@{}", d.name, d.version);
        audit::append(&mut tx, &actor.user.name, "dataset.unrestrict", &target, json!({ "note": note }))
            .await?;
        tx.commit().await?;
        self.dataset(&target, false).await
    }

    /// What changed in dataset version `d` since the version before it (for whoever approves it).
    pub async fn changes_since_previous(&self, d: &DatasetRecord) -> Result<Vec<String>> {
        if d.version <= 1 {
            return Ok(vec!["first version".into()]);
        }
        let previous = self.dataset(&format!("{}@{}", d.name, d.version - 1), false).await?;
        let mut changes = Vec::new();
        if previous.restricted != d.restricted {
            changes.push(format!("restricted: {} -> {}", previous.restricted, d.restricted));
        }
        if previous.source != d.source {
            changes.push(format!("source: {:?} -> {:?}", previous.source, d.source));
        }
        for t in &d.tables {
            match previous.tables.iter().find(|p| p.name == t.name) {
                Some(p) if p.digest == t.digest => {}
                Some(p) => {
                    changes.push(format!("table {}: {} -> {} rows, new content", t.name, p.rows, t.rows))
                }
                None => changes.push(format!("table {}: new", t.name)),
            }
        }
        if previous.labels_digest != d.labels_digest {
            changes.push("labels changed".into());
        }
        if changes.is_empty() {
            changes.push(format!("same content as version {}", previous.version));
        }
        Ok(changes)
    }

    /// Grant procuratorate `org` (and its subtree) use of every version of dataset `name`
    /// (admin above the dataset's owner).
    pub async fn grant_dataset(&self, actor: &Actor, name: &str, org: &str) -> Result<DatasetRecord> {
        let d = self.dataset(name, false).await?;
        self.require_admin_over(actor, d.owner_org_id, "granting a dataset").await?;
        let org = self.org(org).await?;
        let mut tx = self.db.begin_write().await?;
        let exists = sqlx::query("SELECT org_id FROM grants WHERE dataset_name = $1 AND org_id = $2")
            .bind(&d.name)
            .bind(org.id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            sqlx::query(
                "INSERT INTO grants (dataset_name, org_id, granted_by, granted_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&d.name)
            .bind(org.id)
            .bind(actor.user.id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            audit::append(&mut tx, &actor.user.name, "dataset.grant", &d.name, json!({ "org": org.name }))
                .await?;
        }
        tx.commit().await?;
        self.dataset(&format!("{}@{}", d.name, d.version), false).await
    }

    /// The benchmark whose evaluation data dataset `name` is (any version), if one is.
    pub async fn sealing_benchmark(&self, dataset_name: &str) -> Result<Option<(String, i64)>> {
        let row = sqlx::query(
            "SELECT b.name, b.org_id FROM benchmarks b JOIN datasets d ON d.id = b.dataset_id WHERE d.name = $1 \
             ORDER BY b.id LIMIT 1",
        )
        .bind(dataset_name)
        .fetch_optional(self.db.pool())
        .await?;
        match row {
            Some(r) => Ok(Some((r.try_get("name")?, r.try_get("org_id")?))),
            None => Ok(None),
        }
    }

    /// Whether `actor` may run models on dataset `d`: it must be approved, not sealed as a
    /// benchmark's evaluation data (unless the actor organizes or administers it), and the actor's
    /// procuratorate must own it or lie within a granted procuratorate's subtree. Owning a dataset
    /// does not open it to the owner's subtree: a province's data reaches a county only by grant.
    pub async fn require_dataset_use(&self, actor: &Actor, d: &DatasetRecord) -> Result<()> {
        if d.state != "approved" {
            return Err(RegistryError::Denied(format!(
                "dataset {}@{} is {}: only approved datasets can be used",
                d.name, d.version, d.state
            )));
        }
        if let Some((benchmark, org_id)) = self.sealing_benchmark(&d.name).await?
            && !self.is_staff_over(actor, org_id).await?
        {
            return Err(RegistryError::Denied(format!(
                "dataset {} is the evaluation data of benchmark {benchmark}: only its organizers and admins \
                 use it directly; participants reach it by submitting to a competition",
                d.name
            )));
        }
        if actor.user.org_id == d.owner_org_id {
            return Ok(());
        }
        let granted = sqlx::query("SELECT org_id FROM grants WHERE dataset_name = $1")
            .bind(&d.name)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>("org_id"))
            .collect::<Result<Vec<_>, _>>()?;
        if granted.iter().any(|g| actor.org_chain.contains(g)) {
            Ok(())
        } else {
            Err(RegistryError::Denied(format!(
                "dataset {} is not granted to {} or any procuratorate above it (ask an admin: sieve dataset grant {} {})",
                d.name, actor.user.org, d.name, actor.user.org
            )))
        }
    }
}

/// Load the tables `info` declares from stored dataset `d`: from its column files when it is
/// encoded (see [`super::encodings::load_tables`], whose checks of what it served are started
/// here and finish while the model runs), else from its Parquet tables, checking each table's
/// bytes against its digest before parsing those same bytes. A mismatch is the run's
/// `hash-mismatch` outcome. Tables are kept decoded for later runs once they are checked.
pub fn load_stored(
    registry: &Registry,
    d: &DatasetRecord,
    info: &ModelInfo,
    shares: bool,
) -> std::result::Result<Served, Outcome> {
    let key = super::decoded::Key::new(d.id, &d.digest, info, shares);
    if let Some((tables, groupings)) = registry.decoded.get(&key) {
        return Ok(Served { tables, check: None, groupings: Some(groupings) });
    }
    let groupings = registry.decoded.groupings_for_new();
    match super::encodings::load_tables(registry, d, info, shares)? {
        Some((tables, checks)) => {
            let tables: Arc<[ServedTable]> = Arc::from(tables);
            let (kept, registry, kept_groupings) = (tables.clone(), registry.clone(), groupings.clone());
            let check = PendingCheck::start(move || {
                super::encodings::check(&kept, &checks)?;
                if let Some(groupings) = kept_groupings {
                    registry.decoded.keep(key, &kept, groupings);
                }
                Ok(())
            });
            Ok(Served { tables, check: Some(check), groupings })
        }
        None => {
            let tables = read_parquet_tables(registry, d, info)?;
            let tables: Arc<[ServedTable]> = Arc::from(datasets::served_to(shares, &d.task, tables));
            if let Some(groupings) = &groupings {
                registry.decoded.keep(key, &tables, groupings.clone());
            }
            Ok(Served { tables, check: None, groupings })
        }
    }
}

/// The tables `info` declares from stored dataset `d`'s Parquet files, for a version without
/// column files.
fn read_parquet_tables(
    registry: &Registry,
    d: &DatasetRecord,
    info: &ModelInfo,
) -> std::result::Result<Vec<ServedTable>, Outcome> {
    let mut wanted: Vec<(&TableSpec, &StoredTable, String)> = Vec::with_capacity(info.inputs.len());
    for spec in &info.inputs {
        let stored = d.tables.iter().find(|t| t.name == spec.name).ok_or_else(|| {
            Outcome::BadInput(
                DataError::MissingTable {
                    dir: format!("{}@{}", d.name, d.version),
                    table: spec.name.clone(),
                }
                .to_string(),
            )
        })?;
        wanted.push((spec, stored, format!("{}@{}/{}", d.name, d.version, spec.name)));
    }
    // Tables are read and decoded in parallel, one thread each (a task has at most five).
    let reads = super::in_parallel(&wanted, |(spec, stored, label)| {
        let bytes = super::blob_for_run(registry, &stored.digest)?;
        parquet_io::read_columns_from_bytes(bytes, label, spec).map_err(|e| Outcome::BadInput(e.to_string()))
    });
    let mut tables = Vec::with_capacity(wanted.len());
    for ((spec, stored, label), read) in wanted.into_iter().zip(reads) {
        let (columns, rows) = read?;
        if rows != stored.rows as usize {
            return Err(Outcome::BadInput(format!(
                "{label}: the stored table has {rows} rows; its dataset's record says {}",
                stored.rows
            )));
        }
        tables.push(datasets::loaded(spec, columns, stored.rows as usize));
    }
    Ok(tables)
}

/// Refuse anything but a plain file: symbolic links, FIFOs, devices, sockets, directories.
fn plain_file(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| RegistryError::Invalid(format!("{}: {e}", path.display())))?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_symlink() { "a symbolic link" } else { "not a plain file" };
    Err(RegistryError::Invalid(format!(
        "{} is {what}: datasets are imported from plain files only (copy the file in)",
        path.display()
    )))
}

fn ignored_files(dir: &Path, specs: &[TableSpec]) -> Vec<String> {
    let mut ignored: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f != LABELS_FILE)
                .filter(|f| {
                    !specs
                        .iter()
                        .any(|s| *f == format!("{}.csv", s.name) || *f == format!("{}.parquet", s.name))
                })
                .collect()
        })
        .unwrap_or_default();
    ignored.sort();
    ignored
}
