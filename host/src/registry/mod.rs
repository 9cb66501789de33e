//! The registry: procuratorates, users and roles, plugins and their vetting, and the errors every
//! registry command shares. The dataset catalog (names, versions, grants, restriction) lives here too; runs build on it (`runs::store`).

pub mod accounts;
pub mod catalog;
pub mod decoded;
pub mod encodings;
pub mod favourites;
pub mod names;
pub mod plugins;
pub mod policy;
pub mod scope;
pub mod sql_engines;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audit;
use crate::storage::blobs::{BlobError, BlobStore};
use crate::storage::{Db, StorageError};

pub use accounts::{Actor, Role};

/// Why a registry command did not do what was asked. Each variant names the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The acting user lacks a role or grant; says which.
    #[error("permission denied: {0}")]
    Denied(String),
    /// No token, or one that matches no user.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// Nothing has this name or id.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// What was looked for (plugin, dataset, run, user, procuratorate).
        kind: &'static str,
        /// The name, digest or id given.
        id: String,
    },
    /// A digest prefix matches several plugins.
    #[error("digest prefix {prefix:?} is ambiguous: it matches {matches}")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// The digests it matches.
        matches: String,
    },
    /// The request cannot be done in the current state (e.g. approving a revoked plugin).
    #[error("{0}")]
    Conflict(String),
    /// Bad input: a malformed name, an unknown task, a bad file.
    #[error("{0}")]
    Invalid(String),
    /// A stored blob no longer matches its digest.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The worker thread running sandbox work died (a host bug, never a model's doing).
    #[error("the sandbox worker failed: {0}")]
    Worker(String),
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Storage(StorageError::Database(e))
    }
}

impl RegistryError {
    /// Exit status for the CLI: 3 refused, 4 not found, 18 a stored blob altered (the run
    /// outcome `hash-mismatch` has the same status), 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            RegistryError::Denied(_) | RegistryError::Unauthenticated(_) => 3,
            RegistryError::NotFound { .. } => 4,
            RegistryError::Blob(BlobError::Mismatch { .. }) => crate::sandbox::outcome::HASH_MISMATCH_EXIT,
            _ => 1,
        }
    }
}

/// Shorthand for registry results.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Everything a registry command needs: the database, the blob store and the home directory.
#[derive(Clone)]
pub struct Registry {
    /// The database.
    pub db: Db,
    /// Content-addressed files.
    pub blobs: BlobStore,
    /// The home directory (compiled-code cache, canary datasets, scratch space).
    pub home: PathBuf,
    /// Tables recently served to runs, kept decoded for the next run (shared by clones).
    pub decoded: Arc<decoded::Decoded>,
}

impl Registry {
    /// Open the registry under `home`, in the database at `url` (embedded SQLite if `None`).
    pub async fn open(home: &Path, url: Option<&str>) -> Result<Registry> {
        let db = Db::open(home, url).await?;
        let blobs = BlobStore::from_env(home)?;
        Ok(Registry { db, blobs, home: home.to_path_buf(), decoded: Arc::default() })
    }

    /// Record a refusal in the audit log and hand the error back: a denied request leaves a trace
    /// even though it changed nothing.
    /// Unauthenticated attempts are recorded aggregated: one event per minute at most, carrying
    /// the number of attempts since the previous one, so a flood cannot fill the log.
    pub async fn refused(&self, actor: Option<&Actor>, command: &str, error: RegistryError) -> RegistryError {
        let result = match (&error, actor) {
            (RegistryError::Unauthenticated(_), None) => self.refused_unauthenticated(command, &error).await,
            (RegistryError::Denied(_) | RegistryError::Unauthenticated(_), _) => {
                let who = actor.map_or("anonymous", |a| a.user.name.as_str());
                let detail = serde_json::json!({ "command": command, "reason": error.to_string() });
                audit::record(&self.db, who, "refused", command, detail).await.map(|_| ())
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => error,
            Err(e) => RegistryError::Storage(e),
        }
    }

    async fn refused_unauthenticated(
        &self,
        command: &str,
        error: &RegistryError,
    ) -> Result<(), StorageError> {
        use sqlx::Row;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query("SELECT window_start, attempts FROM auth_failures WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (start, earlier) = match &row {
            Some(r) => (r.try_get::<i64, _>("window_start")?, r.try_get::<i64, _>("attempts")?),
            None => (i64::MIN / 2, 0),
        };
        if now - start < UNAUTHENTICATED_WINDOW_SECS {
            sqlx::query("UPDATE auth_failures SET attempts = attempts + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await?;
        } else {
            let detail = serde_json::json!({
                "command": command, "reason": error.to_string(), "attempts_since_last_event": earlier,
            });
            audit::append(&mut tx, "anonymous", "refused", command, detail).await?;
            sqlx::query("DELETE FROM auth_failures").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO auth_failures (id, window_start, attempts) VALUES (1, $1, 0)")
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Seconds during which further unauthenticated attempts are counted, not logged one by one.
const UNAUTHENTICATED_WINDOW_SECS: i64 = 60;

/// Run sandbox work (compiling, `describe()`, runs) on the blocking pool, never on the async
/// runtime's own thread: a guest's WASI calls may drive futures of their own, and a long run must
/// not stall the database connections or, in a server, every other request.
pub async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(move || {
        if LOWER_SANDBOX_PRIORITY.load(std::sync::atomic::Ordering::Relaxed) {
            lower_this_threads_priority();
        }
        work()
    })
    .await
    .map_err(|e| RegistryError::Worker(e.to_string()))
}

/// `work` of each of `items`, each on a scoped thread of its own (the handful of tables or
/// domains of one run), results in `items`' order; a panic in one is raised here.
pub(crate) fn in_parallel<I: Send, T: Send>(
    items: impl IntoIterator<Item = I>,
    work: impl Fn(I) -> T + Sync,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items.into_iter().map(|item| scope.spawn(move || work(item))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// A stored blob for a run: its bytes once they hash to `digest`; otherwise the run's outcome
/// ([`run_outcome`]).
pub(crate) fn blob_for_run(
    registry: &Registry,
    digest: &str,
) -> std::result::Result<Vec<u8>, crate::sandbox::Outcome> {
    registry.blobs.get(digest).map_err(|e| run_outcome(&e))
}

/// A blob a run could not read, as the run's outcome: altered bytes `hash-mismatch`, a store
/// that failed `storage`, anything else (a missing blob) `bad-input`.
pub(crate) fn run_outcome(e: &BlobError) -> crate::sandbox::Outcome {
    use crate::sandbox::Outcome;
    match e {
        BlobError::Mismatch { expected, actual } => {
            Outcome::HashMismatch { expected: expected.clone(), actual: actual.clone() }
        }
        BlobError::Storage(message) => Outcome::Storage(message.clone()),
        other => Outcome::BadInput(other.to_string()),
    }
}

/// How a blob a run reads is checked, and the digest it is held to: its name, or the check
/// digest recorded with it (see [`crate::digest::Hasher`]).
#[derive(Clone, Copy)]
pub(crate) enum Checked<'a> {
    /// Hashed as it is read ([`BlobStore::read_checked_with`]).
    AsRead(&'a str),
    /// Not hashed, for a caller that checks what `parse` kept before the run's result counts
    /// (hashed only if `parse` fails: [`BlobStore::read_unhashed_with`]).
    Later(&'a str),
}

/// A stored blob for a run, read through `parse` and checked as `checked` says. A blob that
/// cannot be read is the run's [`run_outcome`], one `parse` refuses `bad-input`.
pub(crate) fn parsed_blob_for_run<T, E: std::fmt::Display>(
    registry: &Registry,
    digest: &str,
    checked: Checked<'_>,
    parse: impl FnOnce(&mut dyn std::io::Read, usize) -> std::result::Result<T, E>,
) -> std::result::Result<T, crate::sandbox::Outcome> {
    let parsed = match checked {
        Checked::Later(check) => registry.blobs.read_unhashed_with(digest, check, parse),
        Checked::AsRead(check) => {
            registry.blobs.read_checked_with(digest, check, |blob, len| parse(blob, len))
        }
    };
    parsed.map_err(|e| run_outcome(&e))?.map_err(|e| crate::sandbox::Outcome::BadInput(e.to_string()))
}

/// Set by `sieve serve`: sandbox work runs at a lower CPU priority than request handling, so a
/// busy pool of runs cannot starve the handlers of CPU on a small machine.
pub static LOWER_SANDBOX_PRIORITY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Nice value of sandbox threads when [`LOWER_SANDBOX_PRIORITY`] is set.
const SANDBOX_NICE: libc::c_int = 10;

fn lower_this_threads_priority() {
    thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    LOWERED.with(|done| {
        if !done.get() {
            // SAFETY: gettid has no preconditions; setpriority on our own thread id only changes
            // this thread's nice value (Linux applies PRIO_PROCESS with a tid per thread).
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, SANDBOX_NICE);
            }
            done.set(true);
        }
    });
}

pub use names::check_name;
