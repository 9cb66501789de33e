//! Benchmarks: an approved, labelled dataset pinned by digest with its labels' digest, a primary
//! metric, a review budget and a seeded public/private split. Creating one seals the dataset:
//! from then on only organizers and admins above the benchmark's procuratorate use it directly;
//! participants reach it only by submitting.

use std::path::Path;

use serde::Serialize;
use serde_json::json;
use sieve_sdk::TableSpec;
use sieve_sdk::data::Values;
use sqlx::Row;

use super::split::Split;
use crate::audit;
use crate::datasets::{LABELS_FILE, contract, parquet_io};
use crate::registry::catalog::DatasetRecord;
use crate::registry::{Actor, Registry, RegistryError, Result, Role, off_runtime};
use crate::scoring::{Label, Metric, parse_labels};
use crate::storage::now;

/// What to create.
#[derive(Debug, Clone)]
pub struct BenchmarkRequest<'a> {
    /// Benchmark name.
    pub name: &'a str,
    /// The evaluation dataset, `NAME[@version]` (approved, with labels).
    pub dataset: &'a str,
    /// The metric that ranks submissions.
    pub metric: Metric,
    /// Review budget for precision@k (default: the number of labelled subjects).
    pub review_budget: Option<usize>,
    /// Share of subjects on the public side.
    pub public_fraction: f64,
    /// Seed of the split.
    pub split_seed: u64,
    /// A second, smaller labelled dataset participants may download with its labels.
    pub practice: Option<&'a str>,
}

impl<'a> BenchmarkRequest<'a> {
    /// A benchmark on `dataset` with the command line's defaults: F0.5, a review budget of every
    /// labelled subject, 30% public, split seed 1, no practice dataset.
    pub fn new(name: &'a str, dataset: &'a str) -> Self {
        BenchmarkRequest {
            name,
            dataset,
            metric: Metric::F0_5,
            review_budget: None,
            public_fraction: 0.3,
            split_seed: 1,
            practice: None,
        }
    }
}

/// A benchmark as stored.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BenchmarkRecord {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// Name.
    pub name: String,
    /// The task of its dataset.
    pub task: String,
    /// Evaluation dataset `name@version`.
    pub dataset: String,
    /// Pinned dataset digest.
    pub dataset_digest: String,
    /// Pinned labels digest.
    pub labels_digest: String,
    /// Primary metric.
    pub metric: String,
    /// Review budget k for precision@k over the whole benchmark.
    pub review_budget: i64,
    /// Share of subjects on the public side.
    pub public_fraction: f64,
    /// Seed of the split.
    pub split_seed: i64,
    /// Digest of the stored split.
    pub split_digest: String,
    /// Subjects on the public side.
    pub public_subjects: i64,
    /// Subjects on the private side.
    pub private_subjects: i64,
    /// Practice dataset `name@version`, if any.
    pub practice: Option<String>,
    /// Procuratorate that runs it.
    pub org: String,
    #[serde(skip)]
    pub(crate) org_id: i64,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: String,
}

impl BenchmarkRecord {
    /// The primary metric.
    pub fn primary(&self) -> Metric {
        Metric::parse(&self.metric).unwrap_or(Metric::F0_5)
    }
}

const BENCHMARK_SELECT: &str = "SELECT b.*, d.name AS dataset_name, d.version AS dataset_version, \
     p.name AS practice_name, p.version AS practice_version, o.name AS org_name, u.name AS creator \
     FROM benchmarks b JOIN datasets d ON d.id = b.dataset_id LEFT JOIN datasets p ON p.id = b.practice_id \
     JOIN orgs o ON o.id = b.org_id JOIN users u ON u.id = b.created_by";

fn benchmark_from(r: &sqlx::any::AnyRow) -> Result<BenchmarkRecord> {
    let practice = match r.try_get::<Option<String>, _>("practice_name")? {
        Some(name) => Some(format!("{name}@{}", r.try_get::<i64, _>("practice_version")?)),
        None => None,
    };
    Ok(BenchmarkRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        task: r.try_get("task")?,
        dataset: format!(
            "{}@{}",
            r.try_get::<String, _>("dataset_name")?,
            r.try_get::<i64, _>("dataset_version")?
        ),
        dataset_digest: r.try_get("dataset_digest")?,
        labels_digest: r.try_get("labels_digest")?,
        metric: r.try_get("metric")?,
        review_budget: r.try_get("review_budget")?,
        public_fraction: r.try_get("public_fraction")?,
        split_seed: r.try_get("split_seed")?,
        split_digest: r.try_get("split_digest")?,
        public_subjects: r.try_get("public_subjects")?,
        private_subjects: r.try_get("private_subjects")?,
        practice,
        org: r.try_get("org_name")?,
        org_id: r.try_get("org_id")?,
        created_by: r.try_get("creator")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Refuse labels with a duplicate (subject, pattern) row, naming it and both lines.
fn check_no_duplicates(labels: &[Label], source: &str) -> Result<()> {
    let mut seen: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(first) = seen.insert((l.subject.as_str(), l.pattern.as_str()), i + 2) {
            return Err(RegistryError::Invalid(format!(
                "{source}: subject {} with pattern {} appears twice (lines {first} and {})",
                crate::text::quote(&l.subject),
                crate::text::quote(&l.pattern),
                i + 2
            )));
        }
    }
    Ok(())
}

impl Registry {
    /// The labels stored for dataset `d` (checked against their digest), refused if it has none.
    pub(crate) fn dataset_labels(&self, d: &DatasetRecord) -> Result<Vec<Label>> {
        let digest = d.labels_digest.as_deref().ok_or_else(|| {
            RegistryError::Invalid(format!(
                "dataset {}@{} has no labels: import it from a directory holding {LABELS_FILE}",
                d.name, d.version
            ))
        })?;
        let bytes = self.blobs.get(digest)?;
        parse_labels(&bytes, &format!("labels of {}@{}", d.name, d.version)).map_err(RegistryError::Invalid)
    }

    /// The distinct non-null values of dataset `d`'s subject column (its task's contract names it).
    pub(crate) fn dataset_subjects(&self, d: &DatasetRecord) -> Result<Vec<String>> {
        let (table, column) = contract::subject(&d.task)
            .ok_or_else(|| RegistryError::Invalid(format!("task {} names no subject column", d.task)))?;
        let stored = d.tables.iter().find(|t| t.name == table).ok_or_else(|| {
            RegistryError::Invalid(format!("dataset {}@{} has no table {table}", d.name, d.version))
        })?;
        let bytes = self.blobs.get(&stored.digest)?;
        let spec = TableSpec::new(table).text(&[column]);
        let label = format!("{}@{}/{table}", d.name, d.version);
        let (columns, _) = parquet_io::read_columns_from_bytes(bytes, &label, &spec)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let col = columns
            .into_iter()
            .next()
            .ok_or_else(|| RegistryError::Invalid(format!("{label}: no {column}")))?;
        let mut subjects: Vec<String> = (0..col.len())
            .filter(|&i| col.is_valid(i))
            .filter_map(|i| match &col.values {
                Values::Text(t) => Some(t.get(i).to_string()),
                Values::Dictionary { indices, dictionary } => {
                    Some(dictionary.get(indices[i] as usize).to_string())
                }
                _ => None,
            })
            .collect();
        subjects.sort_unstable();
        subjects.dedup();
        Ok(subjects)
    }

    /// Create a benchmark (organizer). The dataset must be approved, labelled and usable by the
    /// organizer's procuratorate; its labels are checked (no duplicate rows, every labelled
    /// subject present in the task's subject column) and its subjects split by seed.
    pub async fn create_benchmark(
        &self,
        actor: &Actor,
        request: &BenchmarkRequest<'_>,
    ) -> Result<BenchmarkRecord> {
        actor.require(Role::Organizer, "creating a benchmark")?;
        self.check_new_name("benchmark", request.name, "benchmarks", "name").await?;
        if sqlx::query("SELECT id FROM benchmarks WHERE name = $1")
            .bind(request.name)
            .fetch_optional(self.db.pool())
            .await?
            .is_some()
        {
            return Err(RegistryError::Conflict(format!("benchmark {} already exists", request.name)));
        }
        let d = self.usable_labelled_dataset(actor, request.dataset, "evaluation").await?;
        let practice = match request.practice {
            Some(p) => {
                let pd = self.usable_labelled_dataset(actor, p, "practice").await?;
                if pd.name == d.name {
                    return Err(RegistryError::Invalid(format!(
                        "the practice dataset must not be the evaluation dataset {} (any version): participants download it",
                        d.name
                    )));
                }
                if pd.task != d.task {
                    return Err(RegistryError::Invalid(format!(
                        "practice dataset {}@{} holds {} data; the benchmark is {}",
                        pd.name, pd.version, pd.task, d.task
                    )));
                }
                if let Some((other, _)) = self.sealing_benchmark(&pd.name).await? {
                    return Err(RegistryError::Invalid(format!(
                        "dataset {} is the evaluation data of benchmark {other}: it cannot be handed out for practice",
                        pd.name
                    )));
                }
                Some(pd)
            }
            None => None,
        };
        let (fraction, seed) = (request.public_fraction, request.split_seed);
        let (registry, dataset) = (self.clone(), d.clone());
        let (labels, split) = off_runtime(move || -> Result<(Vec<Label>, Split)> {
            let labels = registry.dataset_labels(&dataset)?;
            let source = format!("labels of {}@{}", dataset.name, dataset.version);
            check_no_duplicates(&labels, &source)?;
            let subjects = registry.dataset_subjects(&dataset)?;
            let missing: Vec<&str> = labels
                .iter()
                .map(|l| l.subject.as_str())
                .filter(|s| subjects.binary_search_by(|x| x.as_str().cmp(s)).is_err())
                .collect();
            if let Some(first) = missing.first() {
                let (table, column) = contract::subject(&dataset.task).unwrap_or(("?", "?"));
                return Err(RegistryError::Invalid(format!(
                    "{source}: {} labelled subject(s) are not in {table}.{column}, e.g. {}",
                    missing.len(),
                    crate::text::quote(first)
                )));
            }
            let split = Split::new(&subjects, &labels, fraction, seed)
                .map_err(|e| RegistryError::Invalid(format!("splitting {source}: {e}")))?;
            Ok((labels, split))
        })
        .await??;
        let labelled =
            labels.iter().map(|l| l.subject.as_str()).collect::<std::collections::HashSet<_>>().len();
        let review_budget = request.review_budget.unwrap_or(labelled).max(1);
        let split_digest = self.blobs.put(split.to_text().as_bytes())?;
        let (public, private) = split.counts();
        let labels_digest = d.labels_digest.clone().unwrap_or_default();

        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO benchmarks (name, task, dataset_id, dataset_digest, labels_digest, metric, review_budget, \
             public_fraction, split_seed, split_digest, public_subjects, private_subjects, practice_id, org_id, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             RETURNING id",
        )
        .bind(request.name)
        .bind(&d.task)
        .bind(d.id)
        .bind(&d.digest)
        .bind(&labels_digest)
        .bind(request.metric.as_str())
        .bind(review_budget as i64)
        .bind(fraction)
        .bind(seed as i64)
        .bind(&split_digest)
        .bind(public as i64)
        .bind(private as i64)
        .bind(practice.as_ref().map(|p| p.id))
        .bind(actor.user.org_id)
        .bind(actor.user.id)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let detail = json!({
            "id": id, "dataset": format!("{}@{}", d.name, d.version), "dataset_digest": d.digest,
            "labels_digest": labels_digest, "metric": request.metric.as_str(), "review_budget": review_budget,
            "public_fraction": fraction, "split_seed": seed, "split_digest": split_digest,
            "practice": practice.as_ref().map(|p| format!("{}@{}", p.name, p.version)),
        });
        audit::append(&mut tx, &actor.user.name, "benchmark.create", request.name, detail).await?;
        tx.commit().await?;
        self.benchmark(request.name).await
    }

    /// An approved dataset with labels that `actor` may use, for a benchmark's `role`.
    async fn usable_labelled_dataset(&self, actor: &Actor, given: &str, role: &str) -> Result<DatasetRecord> {
        let d = self.dataset(given, true).await?;
        if d.state != "approved" {
            return Err(RegistryError::Denied(format!(
                "{role} dataset {}@{} is {}: only approved datasets can back a benchmark",
                d.name, d.version, d.state
            )));
        }
        if d.labels_digest.is_none() {
            return Err(RegistryError::Invalid(format!(
                "{role} dataset {}@{} has no labels: a benchmark needs ground truth ({LABELS_FILE} at import)",
                d.name, d.version
            )));
        }
        self.require_dataset_use(actor, &d).await?;
        Ok(d)
    }

    /// The benchmark called `name`.
    pub async fn benchmark(&self, name: &str) -> Result<BenchmarkRecord> {
        let row = sqlx::query(&format!("{BENCHMARK_SELECT} WHERE b.name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "benchmark", id: name.to_string() })?;
        benchmark_from(&row)
    }

    /// The benchmark with row id `id`.
    pub(crate) async fn benchmark_by_id(&self, id: i64) -> Result<BenchmarkRecord> {
        let row = sqlx::query(&format!("{BENCHMARK_SELECT} WHERE b.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "benchmark", id: id.to_string() })?;
        benchmark_from(&row)
    }

    /// Every benchmark, by name.
    pub async fn benchmarks(&self) -> Result<Vec<BenchmarkRecord>> {
        let rows =
            sqlx::query(&format!("{BENCHMARK_SELECT} ORDER BY b.name")).fetch_all(self.db.pool()).await?;
        rows.iter().map(benchmark_from).collect()
    }

    /// The split stored for `b`, checked against its digest.
    pub(crate) fn benchmark_split(&self, b: &BenchmarkRecord) -> Result<Split> {
        let bytes = self.blobs.get(&b.split_digest)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| RegistryError::Invalid("the stored split is not UTF-8".into()))?;
        Split::from_text(&text).map_err(|e| RegistryError::Invalid(e.to_string()))
    }

    /// The labels pinned by `b`, checked against their digest.
    pub(crate) fn benchmark_labels(&self, b: &BenchmarkRecord) -> Result<Vec<Label>> {
        let bytes = self.blobs.get(&b.labels_digest)?;
        parse_labels(&bytes, &format!("labels of benchmark {}", b.name)).map_err(RegistryError::Invalid)
    }

    /// Benchmark `name`'s practice dataset as `(file name, bytes)`: its tables as Parquet and
    /// `labels.csv`, each checked against its digest. Anyone in the benchmark's procuratorate
    /// subtree may have it; the hand-out is audited.
    pub async fn practice_files(&self, actor: &Actor, name: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let b = self.benchmark(name).await?;
        if !self.within(actor.user.org_id, b.org_id).await? {
            return Err(RegistryError::Denied(format!(
                "benchmark {name} is run by {}; {} is not within it",
                b.org, actor.user.org
            )));
        }
        let practice = b.practice.as_deref().ok_or_else(|| RegistryError::NotFound {
            kind: "practice dataset of benchmark",
            id: name.to_string(),
        })?;
        let d = self.dataset(practice, false).await?;
        let mut names: Vec<(String, String)> =
            d.tables.iter().map(|t| (format!("{}.parquet", t.name), t.digest.clone())).collect();
        if let Some(labels) = &d.labels_digest {
            names.push((LABELS_FILE.to_string(), labels.clone()));
        }
        let mut files = Vec::with_capacity(names.len());
        for (file, digest) in names {
            files.push((file, self.blobs.get(&digest)?));
        }
        audit::record(
            &self.db,
            &actor.user.name,
            "benchmark.practice",
            name,
            json!({ "dataset": practice, "files": files.len() }),
        )
        .await?;
        Ok(files)
    }

    /// Write benchmark `name`'s practice dataset into `out`, a new or empty directory.
    pub async fn download_practice(&self, actor: &Actor, name: &str, out: &Path) -> Result<Vec<String>> {
        require_empty_dir(out)?;
        let files = self.practice_files(actor, name).await?;
        write_files(out, &files)
    }
}

/// Refuse `out` unless it is missing or an empty directory: a download never overwrites.
pub fn require_empty_dir(out: &Path) -> Result<()> {
    if out.exists() && std::fs::read_dir(out).map(|mut e| e.next().is_some()).unwrap_or(true) {
        return Err(RegistryError::Invalid(format!(
            "{} is not an empty directory: give a new one, nothing is overwritten",
            out.display()
        )));
    }
    Ok(())
}

/// Write `files` into directory `out` (created if missing); their names.
pub fn write_files(out: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
    std::fs::create_dir_all(out).map_err(|e| RegistryError::Invalid(format!("{}: {e}", out.display())))?;
    let mut written = Vec::new();
    for (file, bytes) in files {
        let path = out.join(file);
        std::fs::write(&path, bytes)
            .map_err(|e| RegistryError::Invalid(format!("{}: {e}", path.display())))?;
        written.push(file.clone());
    }
    Ok(written)
}
