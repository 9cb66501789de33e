//! The stored side of import-time encoding (`datasets::encoding`): a dataset version's domain
//! dictionaries and code columns as content-addressed blobs, named in a manifest kept with the
//! version, and read back for a run with each blob's digest checked, as its tables are.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sieve_sdk::data::{Column, Text, Values};
use sieve_sdk::{ModelInfo, TableSpec};

use super::catalog::DatasetRecord;
use super::{Registry, RegistryError, Result};
use crate::datasets::{encoding, parquet_io};
use crate::sandbox::Outcome;
use crate::storage::blobs::BlobStore;

/// Where a dataset version's encoding is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredEncoding {
    /// Each key domain's dictionary.
    pub domains: Vec<StoredDomain>,
    /// Per table, the digest of its code columns (one per domain column of the table).
    pub codes: BTreeMap<String, String>,
}

/// One domain's stored dictionary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredDomain {
    /// The domain's name in the contract.
    pub name: String,
    /// Digest of the dictionary (a Parquet file of one text column, `value`).
    pub dictionary: String,
    /// Its columns, `(table, column)`.
    pub columns: Vec<(String, String)>,
}

const VALUE: &str = "value";

/// A domain column as served: `(table, column)` and its codes into the domain's dictionary.
type ServedColumn = ((String, String), Column);

/// Encode `columns` (the dataset's domain columns, `(table, column)`) for `task` and store the
/// blobs, with work files under `scratch`. `None` when the task has no domain to encode.
pub fn store(
    blobs: &BlobStore,
    scratch: &Path,
    task: &str,
    columns: &[(String, Column)],
) -> Result<Option<StoredEncoding>> {
    let encoded = encoding::encode(task, columns);
    if encoded.is_empty() {
        return Ok(None);
    }
    let invalid = |e: crate::datasets::DataError| RegistryError::Invalid(e.to_string());
    let mut stored = StoredEncoding { domains: Vec::new(), codes: BTreeMap::new() };
    let mut per_table: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for domain in encoded {
        let file = scratch.join(format!("domain-{}.parquet", domain.name));
        parquet_io::write_table(&file, &[Column::new(VALUE, Values::Text(domain.dictionary))])
            .map_err(invalid)?;
        let (dictionary, _) = blobs.put_file(&file)?;
        let mut members = Vec::new();
        for (table, column, codes) in domain.codes {
            members.push((table.clone(), column));
            per_table.entry(table).or_default().push(codes);
        }
        stored.domains.push(StoredDomain { name: domain.name.to_string(), dictionary, columns: members });
    }
    for (table, columns) in per_table {
        let file = scratch.join(format!("codes-{table}.parquet"));
        parquet_io::write_table(&file, &columns).map_err(invalid)?;
        let (digest, _) = blobs.put_file(&file)?;
        stored.codes.insert(table, digest);
    }
    Ok(Some(stored))
}

/// The domain columns `info` declares from stored dataset `d`, each domain's served to the model
/// with one dictionary (cut down to the values its declared columns hold), keyed by `(table,
/// column)`. Empty when `d` has no stored encoding.
pub fn load_domains(
    registry: &Registry,
    d: &DatasetRecord,
    info: &ModelInfo,
) -> std::result::Result<HashMap<(String, String), Column>, Outcome> {
    let mut served = HashMap::new();
    let Some(stored) = &d.encoding else { return Ok(served) };
    let declared = |table: &str, column: &str| {
        info.inputs.iter().any(|t| t.name == table && t.columns.iter().any(|c| c.name == column))
    };
    // Each table's code columns the model declared, read once per table.
    let mut codes: HashMap<String, Vec<Column>> = HashMap::new();
    for (table, digest) in &stored.codes {
        let wanted: Vec<&str> = stored
            .domains
            .iter()
            .flat_map(|dm| &dm.columns)
            .filter(|(t, c)| t == table && declared(t, c))
            .map(|(_, c)| c.as_str())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let spec = TableSpec::new(table).int64(&wanted);
        let label = format!("{}@{}/{table} codes", d.name, d.version);
        let columns =
            parquet_io::read_columns_from_bytes(super::blob_for_run(registry, digest)?, &label, &spec)
                .map_err(|e| Outcome::BadInput(e.to_string()))?;
        codes.insert(table.clone(), columns);
    }
    // Each domain's code columns, taken out of their tables' reads.
    let mut work: Vec<(&StoredDomain, Vec<(String, Column)>)> = Vec::new();
    for domain in &stored.domains {
        let mut members = Vec::new();
        for (table, column) in domain.columns.iter().filter(|(t, c)| declared(t, c)) {
            let found = codes.get_mut(table).and_then(|cols| {
                let at = cols.iter().position(|c| c.name == *column)?;
                Some(cols.swap_remove(at))
            });
            let code_column = found.ok_or_else(|| {
                Outcome::BadInput(format!("{}@{}: no stored codes for {table}.{column}", d.name, d.version))
            })?;
            members.push((format!("{table}.{column}"), code_column));
        }
        if !members.is_empty() {
            work.push((domain, members));
        }
    }
    // The dictionaries are read and cut down in parallel, a thread per domain.
    let results =
        super::in_parallel(work, |(domain, members)| -> std::result::Result<Vec<ServedColumn>, Outcome> {
            let spec = TableSpec::new("dictionary").text(&[VALUE]);
            let label = format!("{}@{} domain {}", d.name, d.version, domain.name);
            let bytes = super::blob_for_run(registry, &domain.dictionary)?;
            let mut read = parquet_io::read_columns_from_bytes(bytes, &label, &spec)
                .map_err(|e| Outcome::BadInput(e.to_string()))?;
            let dictionary = match read.pop().map(|c| c.values) {
                Some(Values::Text(text)) => text,
                Some(Values::Dictionary { indices, dictionary }) => {
                    indices.iter().map(|&k| dictionary.get(k as usize)).collect()
                }
                _ => Text::new(),
            };
            let names: Vec<(String, String)> =
                domain.columns.iter().filter(|(t, c)| declared(t, c)).cloned().collect();
            let columns =
                encoding::serve(dictionary, members).map_err(|e| Outcome::BadInput(e.to_string()))?;
            Ok(names.into_iter().zip(columns).collect())
        });
    for result in results {
        served.extend(result?);
    }
    Ok(served)
}

impl Registry {
    /// Encode the key domains of a dataset version imported before encodings existed (an admin
    /// above its owner): its stored tables are read (digest-checked), encoded, and the manifest
    /// recorded; a version already encoded is left as it is. Runs then read its keys as codes.
    pub async fn encode_dataset(&self, actor: &super::Actor, given: &str) -> Result<DatasetRecord> {
        let d = self.dataset(given, false).await?;
        self.require_admin_over(actor, d.owner_org_id, "encoding a dataset's key domains").await?;
        if d.encoding.is_some() {
            return Ok(d);
        }
        let specs = crate::datasets::contract::tables(&d.task).unwrap_or_default();
        let registry = self.clone();
        let dataset = d.clone();
        let stored = super::off_runtime(move || -> Result<Option<StoredEncoding>> {
            let domains = crate::datasets::contract::domains(&dataset.task);
            let mut keys: Vec<(String, Column)> = Vec::new();
            for spec in &specs {
                let mut wanted = TableSpec::new(&spec.name);
                wanted.columns = spec
                    .columns
                    .iter()
                    .filter(|c| {
                        domains.iter().any(|(_, m)| m.contains(&(spec.name.as_str(), c.name.as_str())))
                    })
                    .cloned()
                    .collect();
                let Some(table) = dataset.tables.iter().find(|t| t.name == spec.name) else { continue };
                if wanted.columns.is_empty() {
                    continue;
                }
                let bytes = registry.blobs.get(&table.digest)?;
                let label = format!("{}@{}/{}", dataset.name, dataset.version, spec.name);
                let columns = parquet_io::read_columns_from_bytes(bytes, &label, &wanted)
                    .map_err(|e| RegistryError::Invalid(e.to_string()))?;
                keys.extend(columns.into_iter().map(|c| (spec.name.clone(), c)));
            }
            let scratch = registry.blobs.scratch()?;
            store(&registry.blobs, scratch.path(), &dataset.task, &keys)
        })
        .await??;
        let Some(stored) = stored else { return Ok(d) };
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE datasets SET encoding = $1 WHERE id = $2 AND encoding IS NULL")
            .bind(serde_json::to_string(&stored).map_err(|e| RegistryError::Invalid(e.to_string()))?)
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        let target = format!("{}@{}", d.name, d.version);
        crate::audit::append(
            &mut tx,
            &actor.user.name,
            "dataset.encode",
            &target,
            serde_json::json!({ "encoding": stored }),
        )
        .await?;
        tx.commit().await?;
        self.dataset(&target, false).await
    }
}
