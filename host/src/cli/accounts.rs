//! `sieve init`, `sieve org ...`, `sieve user ...`, `sieve whoami` and `sieve audit ...`.

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::json;

use super::session::{RegistryArgs, Session};
use crate::audit::{self, Verdict};
use crate::registry::Role;

/// Arguments of `sieve init`.
#[derive(Args)]
pub struct InitArgs {
    /// Name of the root (province) procuratorate.
    #[arg(long, default_value = "province")]
    org: String,
    /// Name of the first admin.
    #[arg(long, default_value = "admin")]
    admin: String,
    /// Print `{"admin_token": ...}`.
    #[arg(long)]
    json: bool,
}

/// `sieve org` subcommands.
#[derive(Subcommand)]
pub enum OrgCommand {
    /// Add a procuratorate below another (province > city > county).
    Add {
        /// Its name.
        name: String,
        /// The procuratorate above it.
        #[arg(long)]
        parent: String,
    },
    /// List the procuratorates.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sieve user` subcommands.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user to a procuratorate; prints their first token (shown once).
    Add {
        /// User name.
        name: String,
        /// Their procuratorate.
        #[arg(long)]
        org: String,
        /// A role (repeatable).
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<Role>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new token for a user (yourself, or as an admin above them); shown once.
    Token {
        /// User name.
        name: String,
        /// Revoke their earlier tokens.
        #[arg(long)]
        revoke_others: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sieve audit` subcommands.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Show the newest events of the audit log.
    Log {
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only events about this target (digest, dataset, run id, user ...).
        #[arg(long)]
        target: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the whole hash chain; exits 5 and names the first bad event if any was altered or deleted.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `sieve init`.
pub fn init(home: &Path, reg: &RegistryArgs, args: InitArgs) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let token = session.block_on(session.registry.init(&args.org, &args.admin))?;
    if args.json {
        print_json(&json!({ "admin_token": token, "admin": args.admin, "org": args.org }))?;
    } else {
        println!("registry ready in {}", home.display());
        println!("root procuratorate  {}", args.org);
        println!("admin               {}", args.admin);
        println!("admin token         {token}");
        println!("(shown once: keep it, e.g. export SIEVE_TOKEN={token})");
    }
    Ok(0)
}

/// `sieve whoami`.
pub fn whoami(home: &Path, reg: &RegistryArgs, json: bool) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let actor = session.actor("whoami")?;
    if json {
        print_json(&actor.user)?;
    } else {
        let roles: Vec<&str> = actor.user.roles.iter().map(|r| r.as_str()).collect();
        println!("{} of {} ({})", actor.user.name, actor.user.org, roles.join(", "));
    }
    Ok(0)
}

/// `sieve org ...`.
pub fn org(home: &Path, reg: &RegistryArgs, command: OrgCommand) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        OrgCommand::Add { name, parent } => {
            let org =
                session.act("org add", |a| async move { registry.add_org(&a, &name, &parent).await })?;
            println!("added {} ({}, under {})", org.name, org.level, org.parent.unwrap_or_default());
        }
        OrgCommand::List { json } => {
            session.actor("org list")?;
            let orgs = session.block_on(registry.orgs())?;
            if json {
                print_json(&orgs)?;
            } else {
                for o in orgs {
                    println!("{:<24} {:<9} {}", o.name, o.level, o.parent.unwrap_or_default());
                }
            }
        }
    }
    Ok(0)
}

/// `sieve user ...`.
pub fn user(home: &Path, reg: &RegistryArgs, command: UserCommand) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        UserCommand::Add { name, org, roles, json } => {
            let (user, token) = session
                .act("user add", |a| async move { registry.add_user(&a, &name, &org, &roles).await })?;
            if json {
                print_json(&json!({ "user": user, "token": token }))?;
            } else {
                println!("added {} to {}; token (shown once): {token}", user.name, user.org);
            }
        }
        UserCommand::Token { name, revoke_others, json } => {
            let token = session
                .act("user token", |a| async move { registry.new_token(&a, &name, revoke_others).await })?;
            if json {
                print_json(&json!({ "token": token }))?;
            } else {
                println!("{token}");
            }
        }
        UserCommand::List { json } => {
            session.actor("user list")?;
            let users = session.block_on(registry.users())?;
            if json {
                print_json(&users)?;
            } else {
                for u in users {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    println!("{:<20} {:<24} {}", u.name, u.org, roles.join(","));
                }
            }
        }
    }
    Ok(0)
}

/// `sieve audit ...` (admins).
pub fn audit(home: &Path, reg: &RegistryArgs, command: AuditCommand) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let db = &session.registry.db;
    match command {
        AuditCommand::Log { limit, target, json } => {
            let events = session.act("audit log", |a| async move {
                a.require(Role::Admin, "reading the audit log")?;
                Ok(audit::list(db, limit, target.as_deref()).await?)
            })?;
            if json {
                print_json(&events)?;
            } else {
                for e in events {
                    println!(
                        "{:>6} {} {:<12} {:<18} {:<20} {}",
                        e.seq, e.at, e.actor, e.action, e.target, e.detail
                    );
                }
            }
            Ok(0)
        }
        AuditCommand::Verify { json } => {
            let verdict = session.act("audit verify", |a| async move {
                a.require(Role::Admin, "verifying the audit log")?;
                Ok(audit::verify(db).await?)
            })?;
            if json {
                print_json(&verdict)?;
            }
            match verdict {
                Verdict::Intact { events, head } => {
                    if !json {
                        println!("audit log intact: {events} events, head {head}");
                    }
                    Ok(0)
                }
                Verdict::Broken { seq, reason } => {
                    if !json {
                        println!("audit log BROKEN at event {seq}: {reason}");
                    }
                    Ok(5)
                }
            }
        }
    }
}
