//! What registry commands share: the home, the database, the signed-in user, an async runtime to
//! drive the database from this synchronous CLI, and the logging of refusals.

use anyhow::Context as _;
use clap::Args;
use std::future::Future;

use crate::registry::{Actor, Registry, RegistryError};

/// Where the registry is and who is acting (global flags of every registry command).
#[derive(Args, Clone, Debug, Default)]
pub struct RegistryArgs {
    /// Database URL: postgres://user@host/db for a shared registry (the password from a
    /// PGPASSFILE, not the URL). Default: the embedded SQLite file in the home directory.
    #[arg(
        long = "db",
        global = true,
        env = "SIEVE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// API token of the acting user (from `sieve init` or `sieve user token`). Prefer SIEVE_TOKEN
    /// or --token-file: a token on the command line shows in `ps` to every local account.
    #[arg(long, global = true, env = "SIEVE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token (its first line), e.g. one only you can read.
    #[arg(long, global = true, env = "SIEVE_TOKEN_FILE", value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<std::path::PathBuf>,
    /// A `sieve serve` to send registry commands to (http://host:port): nothing of the registry
    /// is read or written on this machine.
    #[arg(long, global = true, env = "SIEVE_SERVER", value_name = "URL", conflicts_with = "database_url")]
    pub server: Option<String>,
}

impl RegistryArgs {
    /// The server client when `--server` is given.
    pub fn remote(&self) -> anyhow::Result<Option<super::remote::Remote>> {
        match &self.server {
            Some(url) => Ok(Some(super::remote::Remote::new(url, self.token()?)?)),
            None => Ok(None),
        }
    }

    /// The token, from --token / SIEVE_TOKEN or the first line of --token-file.
    fn token(&self) -> anyhow::Result<Option<String>> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the token file {}", path.display()))?;
                Ok(text.lines().next().map(|l| l.trim().to_string()))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Warn about secrets given as command-line arguments: every local account can read them in
/// `ps` and `/proc/<pid>/cmdline`. `args` is the command line.
pub fn warn_about_secrets_in(args: &[String]) {
    for (i, arg) in args.iter().enumerate() {
        let value = match arg.as_str() {
            "--token" | "--db" => args.get(i + 1).map(String::as_str),
            a => a.strip_prefix("--token=").or_else(|| a.strip_prefix("--db=")),
        };
        let Some(value) = value else { continue };
        let flag = if arg.starts_with("--token") { "--token" } else { "--db" };
        let secret = flag == "--token" || url_has_password(value);
        if secret {
            let instead = if flag == "--token" {
                "SIEVE_TOKEN or --token-file"
            } else {
                "SIEVE_DATABASE_URL, or a URL without the password and a PGPASSFILE"
            };
            eprintln!(
                "warning: {flag} on the command line is visible to every local account (ps); use {instead}"
            );
        }
    }
}

/// Whether a database URL carries a password (`scheme://user:password@host`).
fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
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
        // With --server nothing local is opened: a command that got here has no remote form.
        if args.server.is_some() {
            let command: Vec<String> =
                std::env::args().skip(1).filter(|a| !a.starts_with('-')).take(2).collect();
            return Err(super::remote::local_only(&command.join(" ")));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let registry = runtime.block_on(Registry::open(home, args.database_url.as_deref()))?;
        runtime.block_on(registry.recover_orphaned_runs())?;
        runtime.block_on(registry.recover_orphaned_submissions())?;
        registry.blobs.sweep();
        Ok(Session { runtime, registry, token: args.token()?, home: home.to_path_buf() })
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
