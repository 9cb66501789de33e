//! Append-only schema migrations, one SQL file per backend and step, checked by checksum.

use sqlx::Row;

use super::{Backend, Db, StorageError, now};
use crate::digest::sha256_hex;

/// One schema step, in both dialects.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Append only: an applied migration's text must never change.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sqlite: include_str!("../../migrations/sqlite/0001_registry.sql"),
        postgres: include_str!("../../migrations/postgres/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "running_runs_index",
        sqlite: include_str!("../../migrations/sqlite/0002_running_runs_index.sql"),
        postgres: include_str!("../../migrations/postgres/0002_running_runs_index.sql"),
    },
    Migration {
        version: 3,
        name: "approval_scope",
        sqlite: include_str!("../../migrations/sqlite/0003_approval_scope.sql"),
        postgres: include_str!("../../migrations/postgres/0003_approval_scope.sql"),
    },
    Migration {
        version: 4,
        name: "audit_checkpoints",
        sqlite: include_str!("../../migrations/sqlite/0004_audit_checkpoints.sql"),
        postgres: include_str!("../../migrations/postgres/0004_audit_checkpoints.sql"),
    },
    Migration {
        version: 5,
        name: "run_policy",
        sqlite: include_str!("../../migrations/sqlite/0005_run_policy.sql"),
        postgres: include_str!("../../migrations/postgres/0005_run_policy.sql"),
    },
    Migration {
        version: 6,
        name: "auth_failures",
        sqlite: include_str!("../../migrations/sqlite/0006_auth_failures.sql"),
        postgres: include_str!("../../migrations/postgres/0006_auth_failures.sql"),
    },
    Migration {
        version: 7,
        name: "competitions",
        sqlite: include_str!("../../migrations/sqlite/0007_competitions.sql"),
        postgres: include_str!("../../migrations/postgres/0007_competitions.sql"),
    },
    Migration {
        version: 8,
        name: "run_queue",
        sqlite: include_str!("../../migrations/sqlite/0008_run_queue.sql"),
        postgres: include_str!("../../migrations/postgres/0008_run_queue.sql"),
    },
    Migration {
        version: 9,
        name: "run_report",
        sqlite: include_str!("../../migrations/sqlite/0009_run_report.sql"),
        postgres: include_str!("../../migrations/postgres/0009_run_report.sql"),
    },
    Migration {
        version: 10,
        name: "dataset_encoding",
        sqlite: include_str!("../../migrations/sqlite/0010_dataset_encoding.sql"),
        postgres: include_str!("../../migrations/postgres/0010_dataset_encoding.sql"),
    },
    Migration {
        version: 11,
        name: "clue_reviews",
        sqlite: include_str!("../../migrations/sqlite/0011_clue_reviews.sql"),
        postgres: include_str!("../../migrations/postgres/0011_clue_reviews.sql"),
    },
    Migration {
        version: 12,
        name: "favourites",
        sqlite: include_str!("../../migrations/sqlite/0012_favourites.sql"),
        postgres: include_str!("../../migrations/postgres/0012_favourites.sql"),
    },
    Migration {
        version: 13,
        name: "clue_pages",
        sqlite: include_str!("../../migrations/sqlite/0013_clue_pages.sql"),
        postgres: include_str!("../../migrations/postgres/0013_clue_pages.sql"),
    },
    Migration {
        version: 14,
        name: "one_score_index",
        sqlite: include_str!("../../migrations/sqlite/0014_one_score_index.sql"),
        postgres: include_str!("../../migrations/postgres/0014_one_score_index.sql"),
    },
    Migration {
        version: 15,
        name: "plugin_source",
        sqlite: include_str!("../../migrations/sqlite/0015_plugin_source.sql"),
        postgres: include_str!("../../migrations/postgres/0015_plugin_source.sql"),
    },
    Migration {
        version: 16,
        name: "run_leases",
        sqlite: include_str!("../../migrations/sqlite/0016_run_leases.sql"),
        postgres: include_str!("../../migrations/postgres/0016_run_leases.sql"),
    },
    Migration {
        version: 17,
        name: "submission_leases",
        sqlite: include_str!("../../migrations/sqlite/0017_submission_leases.sql"),
        postgres: include_str!("../../migrations/postgres/0017_submission_leases.sql"),
    },
    Migration {
        version: 18,
        name: "sql_models",
        sqlite: include_str!("../../migrations/sqlite/0018_sql_models.sql"),
        postgres: include_str!("../../migrations/postgres/0018_sql_models.sql"),
    },
    Migration {
        version: 19,
        name: "one_clue_page_index",
        sqlite: include_str!("../../migrations/sqlite/0019_one_clue_page_index.sql"),
        postgres: include_str!("../../migrations/postgres/0019_one_clue_page_index.sql"),
    },
    Migration {
        version: 20,
        name: "reruns_reuse_identical_runs",
        sqlite: include_str!("../../migrations/sqlite/0020_reruns_reuse_identical_runs.sql"),
        postgres: include_str!("../../migrations/postgres/0020_reruns_reuse_identical_runs.sql"),
    },
    Migration {
        version: 21,
        name: "clue_sets",
        sqlite: include_str!("../../migrations/sqlite/0021_clue_sets.sql"),
        postgres: include_str!("../../migrations/postgres/0021_clue_sets.sql"),
    },
];

/// Bring the database up to date, inside the write lock so that concurrent first uses agree.
pub async fn run(db: &Db) -> Result<(), StorageError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied = sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?;
    for row in &applied {
        let version: i64 = row.try_get("version")?;
        let checksum: String = row.try_get("checksum")?;
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == version) else {
            return Err(StorageError::NewerSchema(version));
        };
        if checksum != sha256_hex(sql(db, m).as_bytes()) {
            return Err(StorageError::MigrationChanged { version, name: m.name.to_string() });
        }
    }
    for m in MIGRATIONS.iter().skip(applied.len()) {
        sqlx::raw_sql(sql(db, m)).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(sha256_hex(sql(db, m).as_bytes()))
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Refuse a database holding objects the migrations did not make: a trigger that grants every
/// new dataset, a view shadowing a table, a table of someone's own. The expected objects are
/// what the SQLite migrations create in a scratch in-memory database (tables and indexes carry
/// the same names on both backends); on PostgreSQL no trigger, view, rule or function is expected.
pub async fn check_schema(db: &Db) -> Result<(), StorageError> {
    use sqlx::Connection as _;
    let mut scratch = sqlx::AnyConnection::connect("sqlite::memory:").await?;
    for m in MIGRATIONS {
        sqlx::raw_sql(m.sqlite).execute(&mut scratch).await?;
    }
    let objects = "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'";
    let expected: Vec<(String, String)> = named(sqlx::query(objects).fetch_all(&mut scratch).await?)?;
    scratch.close().await?;
    let table_names: Vec<&str> =
        expected.iter().filter(|(kind, _)| kind == "table").map(|(_, n)| n.as_str()).collect();
    let mut unexpected: Vec<String> = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            for (kind, name) in named(sqlx::query(objects).fetch_all(db.pool()).await?)? {
                let known =
                    expected.iter().any(|(k, n)| *k == kind && *n == name) || name == "schema_migrations";
                if !known {
                    unexpected.push(format!("{kind} {name}"));
                }
            }
        }
        Backend::Postgres => {
            let query = "SELECT 'trigger' AS type, t.tgname::text AS name FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT t.tgisinternal AND n.nspname = current_schema() \
                 UNION ALL SELECT 'view', viewname::text FROM pg_views WHERE schemaname = current_schema() \
                 UNION ALL SELECT 'rule', rulename::text FROM pg_rules WHERE schemaname = current_schema() \
                 UNION ALL SELECT 'function', p.proname::text FROM pg_proc p \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() \
                 UNION ALL SELECT 'table', tablename::text FROM pg_tables WHERE schemaname = current_schema()";
            for (kind, name) in named(sqlx::query(query).fetch_all(db.pool()).await?)? {
                if kind != "table" || !(table_names.contains(&name.as_str()) || name == "schema_migrations") {
                    unexpected.push(format!("{kind} {name}"));
                }
            }
        }
    }
    if unexpected.is_empty() {
        Ok(())
    } else {
        unexpected.sort();
        Err(StorageError::UnexpectedSchema(unexpected.join(", ")))
    }
}

fn named(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<(String, String)>, StorageError> {
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("type")?, r.try_get::<String, _>("name")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

fn sql(db: &Db, m: &Migration) -> &'static str {
    match db.backend() {
        Backend::Sqlite => m.sqlite,
        Backend::Postgres => m.postgres,
    }
}

/// Fail unless the database answers and holds exactly this binary's migrations (readiness).
pub async fn current(db: &Db) -> Result<(), StorageError> {
    let row = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations").fetch_one(db.pool()).await?;
    let applied: Option<i64> = row.try_get("v")?;
    let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    match applied {
        Some(v) if v == known => Ok(()),
        Some(v) if v > known => Err(StorageError::NewerSchema(v)),
        _ => Err(StorageError::Io {
            path: "schema_migrations".into(),
            message: format!("migration {known} is not applied"),
        }),
    }
}
