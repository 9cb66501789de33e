//! `sieve policy`: the ceiling on stored runs' limits.

use std::path::Path;

use clap::Subcommand;

use super::LimitArgs;
use super::session::{RegistryArgs, Session};
use crate::registry::policy::policy_json;

/// `sieve policy ...`
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Show the most a stored run may consume.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the ceiling (an admin of the root procuratorate); unset flags take the defaults.
    Set {
        #[command(flatten)]
        limits: LimitArgs,
    },
}

/// Run a policy command.
pub fn policy(home: &Path, reg: &RegistryArgs, command: PolicyCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        let policy: serde_json::Value = match command {
            PolicyCommand::Show { json: true } => {
                let v: serde_json::Value = remote.json("GET", "/api/policy", None)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(0);
            }
            PolicyCommand::Show { json: false } => remote.json("GET", "/api/policy", None)?,
            PolicyCommand::Set { limits } => {
                remote.json("PUT", "/api/policy", Some(limits.overrides_json()))?
            }
        };
        for (name, value) in policy.as_object().into_iter().flatten() {
            println!("{name:<18} {value}");
        }
        return Ok(0);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    let policy = match command {
        PolicyCommand::Show { json } => {
            let policy = session.act("policy show", |_| async move { registry.run_policy().await })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&policy_json(&policy))?);
                return Ok(0);
            }
            policy
        }
        PolicyCommand::Set { limits } => {
            let limits = limits.limits()?;
            let limits = &limits;
            session.act("policy set", |a| async move { registry.set_run_policy(&a, limits).await })?
        }
    };
    for (name, value) in policy_json(&policy).as_object().into_iter().flatten() {
        println!("{name:<18} {value}");
    }
    Ok(0)
}
