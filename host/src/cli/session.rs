//! What registry commands share: the home, the database, the signed-in user, an async runtime to
//! drive the database from this synchronous CLI, and the logging of refusals.

use anyhow::Context as _;
use clap::Args;
use std::future::Future;

use crate::registry::{Actor, Registry, RegistryError};

/// Where the registry is and who is acting (global flags of every registry command).
#[derive(Args, Clone, Debug)]
pub struct RegistryArgs {
    /// Database URL: postgres://user:pass@host/db for a shared registry. Default: the embedded
    /// SQLite file in the home directory.
    #[arg(
        long = "db",
        global = true,
        env = "SIEVE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// API token of the acting user (from `sieve init` or `sieve user token`).
    #[arg(long, global = true, env = "SIEVE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// An open registry plus the runtime that drives it.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    /// The registry.
    pub registry: Registry,
    token: Option<String>,
    home: std::path::PathBuf,
}

impl Session {
    /// Open the registry under `home` (creating and migrating it on first use), mark runs
    /// orphaned by a killed process as failed, and sweep a killed import's work files.
    pub fn open(home: &std::path::Path, args: &RegistryArgs) -> anyhow::Result<Session> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let registry = runtime.block_on(Registry::open(home, args.database_url.as_deref()))?;
        runtime.block_on(registry.recover_orphaned_runs())?;
        registry.blobs.sweep();
        Ok(Session { runtime, registry, token: args.token.clone(), home: home.to_path_buf() })
    }

    /// Drive `future` to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The signed-in user; a missing or unknown token is refused (and logged).
    pub fn actor(&self, command: &str) -> Result<Actor, RegistryError> {
        match self.block_on(self.registry.authenticate(self.token.as_deref())) {
            Ok(a) => Ok(a),
            Err(e) => Err(self.block_on(self.registry.refused(None, command, e))),
        }
    }

    /// Run `command` as the signed-in user: refusals are written to the audit log before the
    /// error comes back.
    pub fn act<T, F, Fut>(&self, command: &str, f: F) -> Result<T, RegistryError>
    where
        F: FnOnce(Actor) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let actor = self.actor(command)?;
        let result = self.block_on(f(actor.clone()));
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.block_on(self.registry.refused(Some(&actor), command, e))),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Sign the audit log's head if this command moved it: only the registry's owner holds the
        // key, so events written by anyone else stay outside every signed checkpoint.
        let registry = self.registry.clone();
        let home = self.home.clone();
        self.runtime.block_on(async move {
            let sealed = match crate::audit::signing::AuditKey::load_or_create(&home) {
                Ok(key) => crate::audit::signing::seal(&registry.db, &key).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = sealed {
                eprintln!("warning: the audit log's new events are not signed: {e}");
            }
            // Close connections cleanly so SQLite checkpoints its WAL.
            registry.db.close().await
        });
    }
}
