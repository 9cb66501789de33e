//! `sieve sql-engine ...`: install the SQL engine component SQL models run on, list the installed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use super::sandbox;
use super::session::{RegistryArgs, Session};
use crate::registry::sql_engines::SqlEngineRecord;

/// `sieve sql-engine ...`
#[derive(Subcommand)]
pub enum SqlEngineCommand {
    /// Install a SQL engine component (an admin of the root procuratorate). It is compiled now,
    /// once, and every SQL model published afterwards is pinned to it.
    Install {
        /// The component (default: SIEVE_SQL_ENGINE, else the one scripts/build-sql-engine.sh
        /// built in this checkout).
        file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the installed SQL engines, the current one first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print(engines: &[SqlEngineRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(engines)?);
        return Ok(());
    }
    if engines.is_empty() {
        println!("no SQL engine is installed (sieve sql-engine install)");
    }
    for e in engines {
        println!(
            "{}  {:>6.1} MiB  installed {} by {}  {} SQL models{}",
            e.digest,
            e.size as f64 / (1 << 20) as f64,
            e.installed_at,
            e.installed_by,
            e.models,
            if e.current { "  (current)" } else { "" }
        );
    }
    Ok(())
}

/// Run a `sieve sql-engine` command.
pub fn sql_engine(home: &Path, reg: &RegistryArgs, command: SqlEngineCommand) -> anyhow::Result<i32> {
    let read = |file: Option<PathBuf>| -> anyhow::Result<Vec<u8>> {
        let path = file.unwrap_or_else(crate::runs::sql_model::engine_path);
        std::fs::read(&path).with_context(|| {
            format!("reading the SQL engine {} (build it with scripts/build-sql-engine.sh)", path.display())
        })
    };
    if let Some(remote) = reg.remote()? {
        let (engines, json): (Vec<SqlEngineRecord>, bool) = match command {
            SqlEngineCommand::Install { file, json } => {
                let engine: SqlEngineRecord =
                    remote.typed("POST", "/api/sql-engines", Some(("application/wasm", read(file)?)))?;
                (vec![engine], json)
            }
            SqlEngineCommand::List { json } => (remote.json("GET", "/api/sql-engines", None)?, json),
        };
        print(&engines, json)?;
        return Ok(0);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        SqlEngineCommand::Install { file, json } => {
            let bytes = read(file)?;
            let sandbox = sandbox(home)?;
            let (sandbox, bytes) = (&sandbox, &bytes);
            let engine = session.act("sql-engine install", |a| async move {
                registry.install_sql_engine(sandbox, &a, bytes).await
            })?;
            print(&[engine], json)?;
        }
        SqlEngineCommand::List { json } => {
            let engines = session.act("sql-engine list", |_| async move { registry.sql_engines().await })?;
            print(&engines, json)?;
        }
    }
    Ok(0)
}
