//! Where the registry's state lives: one database (embedded SQLite by default, PostgreSQL by URL),
//! migrated on open, and a blob store of sha256-addressed files under the home directory.

pub mod blobs;
pub mod keys;
mod migrate;
pub mod s3;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};

/// File name of the embedded database inside the home directory.
pub const SQLITE_FILE: &str = "sieve.db";

/// Why the state store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?}: use postgres://... (or leave it unset for the embedded SQLite)")]
    UnsupportedUrl(String),
    /// A migration already applied differs from the one this binary carries.
    #[error("migration {version} ({name}) was changed after it was applied: migrations are append-only")]
    MigrationChanged {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: String,
    },
    /// The database was migrated by a newer sieve.
    #[error("the database has migration {0}, newer than this sieve knows: upgrade sieve")]
    NewerSchema(i64),
    /// The database holds objects no migration made (a trigger, a view, a table ...).
    #[error(
        "the database holds what no sieve migration made ({0}): someone changed the schema by hand, \
         and a trigger or view can change what the registry decides; remove it, then check the audit log"
    )]
    UnexpectedSchema(String),
    /// Files under the home directory.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        message: String,
    },
}

/// Which database engine is behind the pool (their SQL differs in DDL and locking only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file in the home directory.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Create the home directory (0700) if it is missing; warn when an existing one lets other local
/// accounts in, since it holds the database, the blobs, the keys and the compiled code.
pub fn prepare_home(home: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let io =
        |e: std::io::Error| StorageError::Io { path: home.display().to_string(), message: e.to_string() };
    if !home.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(home).map_err(io)?;
    }
    let mode = std::fs::metadata(home).map_err(io)?.permissions().mode() & 0o777;
    static WARNED: std::sync::Once = std::sync::Once::new();
    if mode & 0o077 != 0 && !WARNED.is_completed() {
        WARNED.call_once(|| {});
        eprintln!(
            "warning: {} is open to other local accounts (mode {mode:o}); it holds the registry's \
             database, keys and code: chmod 700 {}",
            home.display(),
            home.display()
        );
    }
    Ok(())
}

/// Make every file and directory this process creates private to its owner (0600 / 0700),
/// whatever the umask it was started with: the registry's files are nobody else's business.
pub fn restrict_new_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The database: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Where the pool connects (a PostgreSQL listener opens a connection of its own).
    url: String,
    /// SQLite's background checkpointer, stopped when the last copy of this `Db` drops.
    _checkpointer: Option<std::sync::Arc<Checkpointer>>,
}

/// How often an SQLite registry's write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A task that checkpoints an SQLite registry's write-ahead log in the background: SQLite would
/// otherwise do it inside whichever commit crosses 1,000 log pages, and storing a run's 20,000
/// clues paid ~17 ms of copying and syncing for it before it could return. A process's last
/// connection to close checkpoints too, so a short command leaves no log behind.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn start(pool: AnyPool) -> Self {
        Checkpointer(tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !pool.is_closed() {
                every.tick().await;
                // PASSIVE: copies what no reader still needs, never waits for one; a failure (the
                // database busy) is retried on the next tick.
                let _ = pool.execute("PRAGMA wal_checkpoint(PASSIVE)").await;
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The registry-wide write lock on PostgreSQL: a transaction-scoped advisory lock.
const WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(72400117)";

/// The PostgreSQL notification channel on which queued work is announced.
const QUEUE_CHANNEL: &str = "sieve_queue";

/// A write transaction holding the registry's write lock (see [`Db::begin_write`]).
pub type WriteTx = Transaction<'static, Any>;

impl Db {
    /// Open (creating and migrating on first use) the database at `url`, or the embedded SQLite
    /// file under `home` when `url` is `None`.
    pub async fn open(home: &Path, url: Option<&str>) -> Result<Db, StorageError> {
        install_default_drivers();
        let (url, backend) = match url {
            None => {
                prepare_home(home)?;
                (format!("sqlite://{}?mode=rwc", home.join(SQLITE_FILE).display()), Backend::Sqlite)
            }
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_string(), Backend::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => (u.to_string(), Backend::Sqlite),
            Some(u) => return Err(StorageError::UnsupportedUrl(u.to_string())),
        };
        let options = AnyPoolOptions::new().max_connections(pool_size());
        let options = if backend == Backend::Sqlite {
            // WAL lets readers run beside the one writer; several `sieve` processes share the file,
            // so a writer waits for the lock rather than failing. A multi-row INSERT's statement
            // journal stays in memory instead of a temporary file. Checkpoints are the
            // `Checkpointer`'s, not the committing writer's.
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 60000; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
                         PRAGMA wal_autocheckpoint = 0;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        let checkpointer =
            (backend == Backend::Sqlite).then(|| std::sync::Arc::new(Checkpointer::start(pool.clone())));
        let db = Db { pool, backend, url, _checkpointer: checkpointer };
        migrate::run(&db).await?;
        migrate::check_schema(&db).await?;
        Ok(db)
    }

    /// The connection pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begin a transaction that holds the registry-wide write lock until it ends. Every write
    /// (and so every audit append) is serialised through it, which keeps the audit chain linear
    /// when several processes share one database.
    pub async fn begin_write(&self) -> Result<WriteTx, StorageError> {
        let mut tx = self.begin_write_deferred().await?;
        self.take_write_lock(&mut tx).await?;
        Ok(tx)
    }

    /// Begin a write transaction that takes the registry-wide write lock only when
    /// [`Db::take_write_lock`] is called: rows no other writer can touch (a run's clues, before
    /// the run is marked finished) are written first, beside other hosts' writers, and the lock
    /// is held only for what must be serial (the audit append). SQLite has one writer at a time
    /// anyway, so there the lock is taken at once.
    pub async fn begin_write_deferred(&self) -> Result<WriteTx, StorageError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => Ok(self.pool.begin().await?),
        }
    }

    /// Take the registry-wide write lock inside a transaction from [`Db::begin_write_deferred`].
    pub async fn take_write_lock(&self, tx: &mut WriteTx) -> Result<(), StorageError> {
        if self.backend == Backend::Postgres {
            sqlx::query(WRITE_LOCK).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// The row-locking clause of a queue claim's inner select: PostgreSQL skips rows another
    /// claim has locked; SQLite, with one writer at a time, needs none.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Tell workers in every process that work was queued, when `tx` commits (PostgreSQL's
    /// `NOTIFY`; on SQLite, a single host's workers poll, and those in this process are woken
    /// by the caller).
    pub async fn announce_queued(&self, tx: &mut WriteTx) -> Result<(), StorageError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')").bind(QUEUE_CHANNEL).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Call `on_queued` whenever any process announces queued work ([`Db::announce_queued`]),
    /// for as long as the task runs; reconnects after a lost connection. Returns at once on
    /// SQLite.
    pub async fn listen_for_queued(&self, on_queued: impl Fn()) {
        if self.backend != Backend::Postgres {
            return;
        }
        loop {
            let listening = async {
                let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
                listener.listen(QUEUE_CHANNEL).await?;
                loop {
                    listener.recv().await?;
                    on_queued();
                }
            };
            let result: Result<(), sqlx::Error> = listening.await;
            if let Err(e) = result {
                // Workers still poll meanwhile; only their wake-up is slower until this returns.
                tracing::warn!(error = %e, "listening for queued work failed; retrying in a second");
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Close the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Connections per process: a CLI command needs few, a server's concurrent requests many (each
/// waits for a free connection otherwise). `sieve serve` raises it with [`set_pool_size`].
static POOL_SIZE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(4);

fn pool_size() -> u32 {
    POOL_SIZE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Set the number of database connections of pools opened from now on.
pub fn set_pool_size(n: u32) {
    POOL_SIZE.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Whether the database answers with this binary's migrations applied.
pub async fn migrations_current(db: &Db) -> Result<(), StorageError> {
    migrate::current(db).await
}

/// Whether process `pid` on this machine is still alive (Linux `/proc`; elsewhere assume yes):
/// tells a killed process's leftovers (scratch files, runs marked running) from a live one's.
pub fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// Now as RFC 3339 UTC with milliseconds (`2026-11-29T08:30:00.123Z`): sorts as text.
pub fn now() -> String {
    format_ms(now_ms())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Epoch milliseconds as stored: RFC 3339 UTC with milliseconds.
pub fn format_ms(ms: i64) -> String {
    format!("{}.{:03}Z", sieve_sdk::data::format_timestamp(ms), ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits leave the write-ahead log to the background checkpointer, which copies it into
    /// the database file soon after (a generous wait: this is about it happening, not its speed).
    #[test]
    fn the_write_ahead_log_reaches_the_database_file_in_the_background() {
        let home = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let db = Db::open(home.path(), None).await.expect("open");
            let file = home.path().join(SQLITE_FILE);
            let before = std::fs::metadata(&file).expect("db file").len();
            let mut tx = db.begin_write().await.expect("begin");
            for i in 0..2_000 {
                sqlx::query(
                    "INSERT INTO orgs (name, parent_id, level, created_at) VALUES ($1, NULL, 'county', $2)",
                )
                .bind(format!("org-{i:04}-{}", "x".repeat(200)))
                .bind(now())
                .execute(&mut *tx)
                .await
                .expect("insert");
            }
            tx.commit().await.expect("commit");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while std::fs::metadata(&file).expect("db file").len() == before {
                assert!(std::time::Instant::now() < deadline, "the log was never checkpointed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            db.close().await;
        });
    }
}
