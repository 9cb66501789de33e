//! The stored side of import-time encoding: a dataset version's columns as run-time column files
//! (`datasets::column_file`), its key domains' dictionaries, and their columns as codes into them,
//! all content-addressed blobs named in a manifest kept with the version. A run reads the column
//! files of the columns its model declared, each digest-checked as a table is, and copies their
//! bytes instead of decoding Parquet; the Parquet tables stay the dataset's canonical form.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sieve_sdk::ModelInfo;
use sieve_sdk::data::{Bitmap, Column, Dictionary};

use super::catalog::DatasetRecord;
use super::{Checked, Registry, RegistryError, Result};
use crate::datasets::column_file::{self, Stored};
use crate::datasets::encoding::{self, DomainCodes, KeyColumn};
use crate::datasets::{self, ServedTable, contract, parquet_io};
use crate::digest::Hasher;
use crate::sandbox::Outcome;
use crate::storage::blobs::{BlobStore, BlobWriter};

/// The manifest layout this host writes and reads. A version encoded in an older layout is read
/// as not encoded (its runs read the Parquet tables) until `sieve dataset encode` redoes it.
pub const FORMAT: u32 = 2;

/// Where a dataset version's encoding is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredEncoding {
    /// Manifest layout ([`FORMAT`]).
    #[serde(default)]
    pub format: u32,
    /// Each key domain's dictionary.
    pub domains: Vec<StoredDomain>,
    /// Per table, per column: the digest of its column file (for a key domain's column, its codes
    /// into the domain's dictionary).
    #[serde(default)]
    pub columns: BTreeMap<String, BTreeMap<String, String>>,
    /// Per blob above (by its digest), its BLAKE3 check digest (`blake3:<hex>`), which a run
    /// holds the blob's bytes to instead of its SHA-256 name: both are cryptographic, and BLAKE3
    /// is the cheaper to compute, on a run's path (see [`crate::digest::Hasher`]). A manifest
    /// written before these were kept has none, and its blobs are held to their names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, String>,
}

impl StoredEncoding {
    /// The manifest stored as `text`, if it is of the current layout.
    pub fn parse(text: &str) -> Option<StoredEncoding> {
        serde_json::from_str::<StoredEncoding>(text).ok().filter(|e| e.format == FORMAT)
    }

    /// The digest a run holds blob `digest` to: its check digest, or its name.
    fn check_of<'a>(&'a self, digest: &'a str) -> &'a str {
        self.checks.get(digest).map_or(digest, String::as_str)
    }
}

/// Store the blob `write` writes and record its check digest in `checks`; returns its digest.
fn put_checked(
    blobs: &BlobStore,
    checks: &mut BTreeMap<String, String>,
    write: impl FnOnce(&mut CheckedBlob<'_, '_>) -> std::io::Result<()>,
) -> Result<String> {
    let mut check = Hasher::Blake3(Box::default());
    let (digest, _) = blobs.put_written(|blob| write(&mut CheckedBlob { blob, check: &mut check }))?;
    checks.insert(digest.clone(), check.finish());
    Ok(digest)
}

/// A blob on its way into the store, hashed for its check digest too.
struct CheckedBlob<'w, 'f> {
    blob: &'w mut BlobWriter<'f>,
    check: &'w mut Hasher,
}

impl std::io::Write for CheckedBlob<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.blob.write(buf)?;
        self.check.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.blob.flush()
    }
}

/// One domain's stored dictionary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredDomain {
    /// The domain's name in the contract.
    pub name: String,
    /// Digest of the dictionary (a column file of text).
    pub dictionary: String,
    /// Its columns, `(table, column)`.
    pub columns: Vec<(String, String)>,
}

/// Whether `column` of `table` belongs to one of `task`'s key domains.
fn in_domain(task: &str, table: &str, column: &str) -> bool {
    contract::domains(task).iter().any(|(_, members)| members.contains(&(table, column)))
}

/// Store the column files of `table`'s columns outside `task`'s key domains (text worth a
/// dictionary gets one, as a run would serve it), recording their check digests in `checks`, and
/// hand its key-domain columns to `keys` for [`store`]. Returns each stored column's digest.
pub fn store_table(
    blobs: &BlobStore,
    task: &str,
    table: &str,
    columns: &[Arc<Column>],
    keys: &mut Vec<KeyColumn>,
    checks: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut stored = BTreeMap::new();
    for column in columns {
        if in_domain(task, table, &column.name) {
            keys.push((table.to_string(), column.clone()));
            continue;
        }
        let coded = datasets::dictionary_of(column);
        let served = coded.as_ref().unwrap_or(column);
        let digest = put_checked(blobs, checks, |out| {
            column_file::write(out, &served.values, served.validity.as_ref())
        })?;
        stored.insert(column.name.clone(), digest);
    }
    Ok(stored)
}

/// Encode the key domains of `task` over `keys` (every domain column of the dataset, `(table,
/// column)`), store their dictionaries and code files, and record them with `columns` (the other
/// columns' files, from [`store_table`]) and every blob's check digest (`checks`, from
/// [`store_table`], with the domains' added) in a manifest.
pub fn store(
    blobs: &BlobStore,
    task: &str,
    keys: &[KeyColumn],
    mut columns: BTreeMap<String, BTreeMap<String, String>>,
    mut checks: BTreeMap<String, String>,
) -> Result<StoredEncoding> {
    let mut stored = StoredEncoding {
        format: FORMAT,
        domains: Vec::new(),
        columns: BTreeMap::new(),
        checks: BTreeMap::new(),
    };
    for domain in encoding::encode(task, keys) {
        let dictionary =
            put_checked(blobs, &mut checks, |out| column_file::write_text(out, &domain.dictionary))?;
        let mut members = Vec::new();
        for coded in domain.codes {
            let digest = put_checked(blobs, &mut checks, |out| {
                column_file::write_codes(out, &coded.codes, coded.validity.as_ref())
            })?;
            columns.entry(coded.table.clone()).or_default().insert(coded.column.clone(), digest);
            members.push((coded.table, coded.column));
        }
        stored.domains.push(StoredDomain { name: domain.name.to_string(), dictionary, columns: members });
    }
    stored.columns = columns;
    stored.checks = checks;
    Ok(stored)
}

/// One blob a run reads before the model starts, and whether it is hashed as it is read (`false`)
/// or checked later, from the values it was served as (`true`): see [`load_tables`].
enum Read<'a> {
    /// A declared column: (table, column, digest, rows, checked later).
    Column(&'a str, &'a str, &'a str, usize, bool),
    /// The header of a domain's dictionary: how many entries it has.
    DictionarySize(&'a StoredDomain),
}

/// What reading a blob gave.
enum Got {
    Column(Stored, Option<Bitmap>),
    DictionarySize(usize),
}

/// A served column whose stored blob is checked while the model runs: served as it was stored, it
/// hashes to its blob's digest exactly when it holds what was imported ([`column_file::digest`]).
pub struct Check {
    table: usize,
    column: usize,
    /// What it must hash to: its blob's check digest, or its name.
    digest: String,
    blob: Blob,
}

/// What [`load_tables`] leaves to do while the model runs: the dictionaries still to read, then
/// the checks of the columns it served.
#[derive(Default)]
pub struct Checks {
    /// Each domain dictionary served, read (hashed as it is read) on first use; if that failed,
    /// why, as the run's outcome.
    dictionaries: Vec<(Arc<Dictionary>, Failure)>,
    /// The served columns to hash.
    columns: Vec<Check>,
}

/// Why reading a dictionary failed, kept by the read for [`check`] to report.
type Failure = Arc<Mutex<Option<Outcome>>>;

/// Which blob a [`Check`] is of.
#[derive(Clone, Copy)]
enum Blob {
    /// The column's own file.
    Column,
    /// The column's codes into its domain's dictionary.
    Codes,
}

/// Read the dictionaries not read yet (the model may be waiting for one), then check `tables` as
/// served against their blobs' digests; an altered blob is the run's `hash-mismatch`.
pub fn check(tables: &[ServedTable], checks: &Checks) -> std::result::Result<(), Outcome> {
    use sieve_sdk::data::Values;
    for (dictionary, failure) in &checks.dictionaries {
        if let Err(e) = dictionary.try_text() {
            let known = failure.lock().ok().and_then(|mut f| f.take());
            return Err(known.unwrap_or_else(|| Outcome::BadInput(e.to_string())));
        }
    }
    for check in &checks.columns {
        let served = tables.get(check.table).and_then(|t| t.columns.get(check.column));
        let actual = match (check.blob, served.map(|c| (&c.values, c.validity.as_ref()))) {
            (Blob::Column, Some((values, validity))) => column_file::digest(&check.digest, values, validity),
            (Blob::Codes, Some((Values::Dictionary { indices, .. }, validity))) => {
                column_file::digest_of_codes(&check.digest, indices, validity)
            }
            // Not served, or not as codes: it hashes to no blob's digest.
            _ => String::new(),
        };
        if actual != check.digest {
            return Err(Outcome::HashMismatch { expected: check.digest.clone(), actual });
        }
    }
    Ok(())
}

/// The tables `info` declares from stored dataset `d`, read from its column files, and the checks
/// still to make of them: `None` when the version has no encoding of the current layout. The
/// files are read in parallel. A model that reads shared dictionaries (`shares`) gets each key
/// domain's declared columns coded against one dictionary cut down to the values they hold; an
/// older model gets a dictionary per column, cut down the same way. Either way a model never sees
/// a value of a column it did not declare.
///
/// Every blob is digest-checked; an altered one is the run's `hash-mismatch`. A blob served as it
/// is stored (every plain column, and the codes of a domain no dictionary is cut from) is checked
/// from what was served, on another core while the model runs: hashing was a third of a run's
/// loading, and the run's result counts only once the checks pass. Codes of a domain cut down for
/// the model are hashed as they are read, since what is served is no longer what was stored.
/// A domain's dictionary is not read before the model starts: its codes are checked against the
/// entry count in its header, and its text is read (and hashed) on that other core while the
/// model runs, or when the model first asks for a value of it, whichever comes first. A model
/// that compares codes and reads its clues' words by row never waits for it (T1's party
/// dictionary, 23 MB, was the longest read of its loading).
pub fn load_tables(
    registry: &Registry,
    d: &DatasetRecord,
    info: &ModelInfo,
    shares: bool,
) -> std::result::Result<Option<(Vec<ServedTable>, Checks)>, Outcome> {
    let Some(stored) = &d.encoding else { return Ok(None) };
    let missing = |what: String| Outcome::BadInput(format!("{}@{}: {what}", d.name, d.version));
    let declared = |table: &str, column: &str| {
        info.inputs.iter().any(|t| t.name == table && t.columns.iter().any(|c| c.name == column))
    };
    let domains: Vec<&StoredDomain> =
        stored.domains.iter().filter(|dm| dm.columns.iter().any(|(t, c)| declared(t, c))).collect();
    // A domain served as stored: nothing cut from its dictionary, its codes unchanged.
    let uncut = |domain: &StoredDomain| {
        if shares { domain.columns.iter().all(|(t, c)| declared(t, c)) } else { domain.columns.len() == 1 }
    };
    let mut reads: Vec<Read<'_>> = Vec::new();
    // Each declared table's recorded row count: its columns are read to it, and it is served with
    // it (a table may be declared without columns).
    let mut rows_of = Vec::with_capacity(info.inputs.len());
    for spec in &info.inputs {
        let table = d
            .tables
            .iter()
            .find(|t| t.name == spec.name)
            .ok_or_else(|| missing(format!("no table {}", spec.name)))?;
        rows_of.push(table.rows as usize);
        for c in &spec.columns {
            let digest = stored
                .columns
                .get(&spec.name)
                .and_then(|files| files.get(&c.name))
                .ok_or_else(|| missing(format!("no stored column {}.{}", spec.name, c.name)))?;
            let domain =
                domains.iter().find(|dm| dm.columns.iter().any(|(t, n)| *t == spec.name && *n == c.name));
            let later = domain.is_none_or(|dm| uncut(dm));
            reads.push(Read::Column(&spec.name, &c.name, digest, table.rows as usize, later));
        }
    }
    reads.extend(domains.iter().map(|dm| Read::DictionarySize(dm)));

    let label = |table: &str, column: &str| format!("{}@{}/{table}.{column}", d.name, d.version);
    let got = super::in_parallel(&reads, |read| -> std::result::Result<Got, Outcome> {
        match *read {
            Read::Column(table, column, digest, rows, later) => {
                let label = label(table, column);
                let check = stored.check_of(digest);
                let checked = if later { Checked::Later(check) } else { Checked::AsRead(check) };
                let (values, validity) =
                    super::parsed_blob_for_run(registry, digest, checked, |blob, len| {
                        column_file::read_from(blob, len, Some(rows), &label)
                    })?;
                Ok(Got::Column(values, validity))
            }
            Read::DictionarySize(domain) => {
                let name = format!("{}@{} domain {}", d.name, d.version, domain.name);
                let checked = Checked::Later(stored.check_of(&domain.dictionary));
                let entries =
                    super::parsed_blob_for_run(registry, &domain.dictionary, checked, |blob, _| {
                        column_file::text_entries(blob, &name)
                    })?;
                Ok(Got::DictionarySize(entries))
            }
        }
    });

    // Every served column by (table, column): plain ones as read, codes once their domain's
    // dictionary is there; with the digest and kind of each blob to check later.
    let mut served: HashMap<(String, String), Column> = HashMap::new();
    let mut codes: HashMap<(&str, &str), DomainCodes> = HashMap::new();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    let mut to_check: Vec<((&str, &str), &str, Blob)> = Vec::new();
    for (read, got) in reads.iter().zip(got) {
        match (read, got?) {
            (
                &Read::Column(table, column, digest, _, later),
                Got::Column(Stored::Values(values), validity),
            ) => {
                if later {
                    to_check.push(((table, column), digest, Blob::Column));
                }
                let column = Column { name: column.to_string(), values, validity };
                served.insert((table.to_string(), column.name.clone()), column);
            }
            (&Read::Column(table, column, digest, _, later), Got::Column(Stored::Codes(c), validity)) => {
                if later {
                    to_check.push(((table, column), digest, Blob::Codes));
                }
                let coded =
                    DomainCodes { table: table.to_string(), column: column.to_string(), codes: c, validity };
                codes.insert((table, column), coded);
            }
            (&Read::DictionarySize(domain), Got::DictionarySize(entries)) => {
                sizes.insert(&domain.name, entries);
            }
            _ => return Err(missing("a stored blob of the wrong kind".into())),
        }
    }
    // Each domain's declared columns served against their dictionary, a thread per domain.
    let mut work: Vec<(&StoredDomain, usize, Vec<DomainCodes>, bool)> = Vec::new();
    for domain in &domains {
        let members: Vec<DomainCodes> =
            domain.columns.iter().filter_map(|(t, c)| codes.remove(&(t.as_str(), c.as_str()))).collect();
        let size = sizes.get(domain.name.as_str()).copied().unwrap_or(0);
        if shares {
            let every_column = members.len() == domain.columns.len();
            work.push((domain, size, members, every_column));
        } else {
            let alone = domain.columns.len() == 1;
            work.extend(members.into_iter().map(|m| (*domain, size, vec![m], alone)));
        }
    }
    if let Some(((table, column), _)) = codes.iter().next() {
        return Err(missing(format!("{table}.{column} is stored as codes of no domain")));
    }
    let coded = super::in_parallel(work, |(domain, size, members, every_column)| {
        let tables: Vec<String> = members.iter().map(|m| m.table.clone()).collect();
        let mut made = None;
        let columns = encoding::serve_codes(size, members, every_column, |entries, used| {
            let check = stored.check_of(&domain.dictionary);
            let (dictionary, failure) =
                dictionary_read_later(registry, d, domain, check, size, entries, used);
            made = Some((dictionary.clone(), failure));
            dictionary
        })
        .map_err(|e| {
            // The codes were checked against the size in the dictionary's header, not yet hashed:
            // an altered header is the dictionary's `hash-mismatch`, not the codes' fault.
            let checked = Checked::AsRead(stored.check_of(&domain.dictionary));
            let hashed =
                super::parsed_blob_for_run(registry, &domain.dictionary, checked, |_, _| Ok::<_, String>(()));
            hashed.err().unwrap_or_else(|| Outcome::BadInput(e.to_string()))
        })?;
        let served =
            tables.into_iter().zip(columns).map(|(t, c)| ((t, c.name.clone()), c)).collect::<Vec<_>>();
        Ok::<_, Outcome>((served, made))
    });
    let mut dictionaries = Vec::new();
    for result in coded {
        let (columns, made) = result?;
        served.extend(columns);
        dictionaries.extend(made);
    }
    let mut tables = Vec::with_capacity(info.inputs.len());
    for (spec, rows) in info.inputs.iter().zip(rows_of) {
        let mut columns = Vec::with_capacity(spec.columns.len());
        for c in &spec.columns {
            let column = served
                .remove(&(spec.name.clone(), c.name.clone()))
                .ok_or_else(|| missing(format!("no column {}.{}", spec.name, c.name)))?;
            if column.values.column_type() != c.ty {
                return Err(missing(format!("{}.{} is not stored as {}", spec.name, c.name, c.ty.name())));
            }
            columns.push(column);
        }
        tables.push(ServedTable { spec: spec.clone(), rows, columns });
    }
    let place = |(table, column): (&str, &str)| {
        let t = info.inputs.iter().position(|s| s.name == table)?;
        Some((t, info.inputs[t].columns.iter().position(|c| c.name == column)?))
    };
    let columns = to_check
        .into_iter()
        .map(|(at, digest, blob)| {
            let (table, column) = place(at).ok_or_else(|| missing(format!("no column {}.{}", at.0, at.1)))?;
            Ok(Check { table, column, digest: stored.check_of(digest).to_string(), blob })
        })
        .collect::<std::result::Result<_, Outcome>>()?;
    Ok(Some((tables, Checks { dictionaries, columns })))
}

/// Domain `domain`'s dictionary as a run serves it: `entries` entries, those `used` marks of the
/// stored one of `size` (all when `None`), read when first wanted: the blob hashed as it is read
/// and held to `check`, its entry count held to its header's, and cut down. A read that fails leaves its outcome in
/// the failure slot (a changed blob is the run's `hash-mismatch`) and the dictionary unreadable.
fn dictionary_read_later(
    registry: &Registry,
    d: &DatasetRecord,
    domain: &StoredDomain,
    check: &str,
    size: usize,
    entries: usize,
    used: encoding::UsedEntries,
) -> (Arc<Dictionary>, Failure) {
    let failure: Failure = Arc::default();
    // Reading a blob changes nothing the registry holds, so a panic in it leaves nothing half-made.
    let registry = std::panic::AssertUnwindSafe(registry.clone());
    let (digest, check, slot) = (domain.dictionary.clone(), check.to_string(), failure.clone());
    let name = format!("{}@{} domain {}", d.name, d.version, domain.name);
    let read = move || -> std::result::Result<sieve_sdk::data::Text, Outcome> {
        let text = super::parsed_blob_for_run(&registry, &digest, Checked::AsRead(&check), |blob, len| {
            column_file::read_text_from(blob, len, &name)
        })?;
        if text.len() != size {
            return Err(Outcome::BadInput(format!("{name}: {} entries, its header says {size}", text.len())));
        }
        Ok(encoding::cut(text, used.as_deref().map(Vec::as_slice)))
    };
    let fetch = move || {
        read().map_err(|outcome| {
            let message = outcome.to_string();
            if let Ok(mut kept) = slot.lock() {
                *kept = Some(outcome);
            }
            message
        })
    };
    (Arc::new(Dictionary::lazy(entries, Box::new(fetch))), failure)
}

impl Registry {
    /// Encode a dataset version imported before encodings existed, or in an older layout (an
    /// admin above its owner): its stored tables are read (digest-checked), their column files,
    /// dictionaries and codes stored, and the manifest recorded; a version already encoded in the
    /// current layout is left as it is. Its runs then read column files instead of Parquet.
    pub async fn encode_dataset(&self, actor: &super::Actor, given: &str) -> Result<DatasetRecord> {
        let d = self.dataset(given, false).await?;
        self.require_admin_over(actor, d.owner_org_id, "encoding a dataset's key domains").await?;
        if d.encoding.is_some() {
            return Ok(d);
        }
        let specs = crate::datasets::contract::tables(&d.task).unwrap_or_default();
        let registry = self.clone();
        let dataset = d.clone();
        let stored = super::off_runtime(move || -> Result<StoredEncoding> {
            let mut keys: Vec<KeyColumn> = Vec::new();
            let (mut columns, mut checks) = (BTreeMap::new(), BTreeMap::new());
            for spec in &specs {
                let Some(table) = dataset.tables.iter().find(|t| t.name == spec.name) else { continue };
                let bytes = registry.blobs.get(&table.digest)?;
                let label = format!("{}@{}/{}", dataset.name, dataset.version, spec.name);
                let (read, _) = parquet_io::read_columns_from_bytes(bytes, &label, spec)
                    .map_err(|e| RegistryError::Invalid(e.to_string()))?;
                let read: Vec<Arc<Column>> = read.into_iter().map(Arc::new).collect();
                let files =
                    store_table(&registry.blobs, &dataset.task, &spec.name, &read, &mut keys, &mut checks)?;
                columns.insert(spec.name.clone(), files);
            }
            store(&registry.blobs, &dataset.task, &keys, columns, checks)
        })
        .await??;
        let manifest = serde_json::to_string(&stored).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let mut tx = self.db.begin_write().await?;
        // Under the write lock, again: another admin may have encoded it meanwhile.
        let current: Option<String> = sqlx::query_scalar("SELECT encoding FROM datasets WHERE id = $1")
            .bind(d.id)
            .fetch_one(&mut *tx)
            .await?;
        if current.as_deref().and_then(StoredEncoding::parse).is_some() {
            drop(tx);
            return self.dataset(&format!("{}@{}", d.name, d.version), false).await;
        }
        sqlx::query("UPDATE datasets SET encoding = $1 WHERE id = $2")
            .bind(manifest)
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
