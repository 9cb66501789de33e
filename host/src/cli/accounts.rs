//! `sieve init`, `sieve org ...`, `sieve user ...`, `sieve whoami` and `sieve audit ...`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use clap::{Args, Subcommand};
use serde_json::json;

use super::session::{RegistryArgs, Session};
use crate::audit::{self, Verdict};
use crate::registry::accounts::{Org, User};
use crate::registry::{RegistryError, Role};

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
    /// Check the whole hash chain and its signed checkpoints; exits 5 and names the first bad
    /// event if any was altered, reordered, added without the registry's key, or deleted.
    Verify {
        /// A checkpoint kept outside the registry (from `sieve audit checkpoint`): catches a
        /// truncated log, which the registry's own checkpoints cannot.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The registry's public key (hex, from `sieve audit key`), as kept outside the registry.
        /// Default: the one in the home directory.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign the log's head now and print the checkpoint (seq, hash, time, signature) as JSON:
    /// keep it outside the registry, for `sieve audit verify --checkpoint`.
    Checkpoint {
        /// Write it to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the registry's public key (hex): keep it outside the registry to verify with.
    Key,
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `sieve init`.
pub fn init(home: &Path, reg: &RegistryArgs, args: InitArgs) -> anyhow::Result<i32> {
    let session = Session::open(home, reg)?;
    let token = session.block_on(session.registry.init(&args.org, &args.admin))?;
    let public_key = crate::audit::signing::AuditKey::load_or_create(home)?.public_hex();
    if args.json {
        print_json(&json!({
            "admin_token": token, "admin": args.admin, "org": args.org, "audit_public_key": public_key,
        }))?;
    } else {
        println!("registry ready in {}", home.display());
        println!("root procuratorate  {}", args.org);
        println!("admin               {}", args.admin);
        println!("admin token         {token}");
        println!("(shown once: keep it, e.g. export SIEVE_TOKEN={token})");
        println!("audit public key    {public_key}");
        println!("(keep it outside the registry: sieve audit verify --public-key checks the log with it)");
    }
    Ok(0)
}

/// `sieve whoami`.
pub fn whoami(home: &Path, reg: &RegistryArgs, json: bool) -> anyhow::Result<i32> {
    let user: crate::registry::accounts::User = match reg.remote()? {
        Some(remote) => remote.json("GET", "/api/whoami", None)?,
        None => Session::open(home, reg)?.actor("whoami")?.user,
    };
    if json {
        print_json(&user)?;
    } else {
        let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
        println!("{} of {} ({})", user.name, user.org, roles.join(", "));
    }
    Ok(0)
}

/// `sieve org ...`.
pub fn org(home: &Path, reg: &RegistryArgs, command: OrgCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        match command {
            OrgCommand::Add { name, parent } => {
                let org: Org =
                    remote.json("POST", "/api/orgs", Some(json!({ "name": name, "parent": parent })))?;
                println!("added {} ({}, under {})", org.name, org.level, org.parent.unwrap_or_default());
            }
            OrgCommand::List { json } => print_orgs(remote.json("GET", "/api/orgs", None)?, json)?,
        }
        return Ok(0);
    }
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
            print_orgs(session.block_on(registry.orgs())?, json)?;
        }
    }
    Ok(0)
}

fn print_events(events: &[crate::audit::Event], json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&events)?;
    } else {
        for e in events {
            println!("{:>6} {} {:<12} {:<18} {:<20} {}", e.seq, e.at, e.actor, e.action, e.target, e.detail);
        }
    }
    Ok(())
}

fn print_new_user(user: &User, token: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&json!({ "user": user, "token": token }));
    }
    println!("added {} to {}; token (shown once): {token}", user.name, user.org);
    Ok(())
}

fn print_token(token: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&json!({ "token": token }));
    }
    println!("{token}");
    Ok(())
}

/// Print a checkpoint, or write it to `out` (to keep outside the registry).
fn write_checkpoint(
    checkpoint: &crate::audit::signing::Checkpoint,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(checkpoint)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "checkpoint at event {} -> {} (keep it outside the registry)",
                checkpoint.seq,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn print_orgs(orgs: Vec<Org>, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&orgs)?;
    } else {
        for o in orgs {
            println!("{:<24} {:<9} {}", o.name, o.level, o.parent.unwrap_or_default());
        }
    }
    Ok(())
}

fn print_users(users: Vec<User>, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(&users)?;
    } else {
        for u in users {
            let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
            println!("{:<20} {:<24} {}", u.name, u.org, roles.join(","));
        }
    }
    Ok(())
}

/// `sieve user ...`.
pub fn user(home: &Path, reg: &RegistryArgs, command: UserCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        match command {
            UserCommand::Add { name, org, roles, json } => {
                let v: serde_json::Value = remote.json(
                    "POST",
                    "/api/users",
                    Some(json!({ "name": name, "org": org, "roles": roles })),
                )?;
                let user: User = serde_json::from_value(v["user"].clone())?;
                print_new_user(&user, v["token"].as_str().unwrap_or_default(), json)?;
            }
            UserCommand::Token { name, revoke_others, json } => {
                let path = format!("/api/users/{}/tokens", super::remote::encode(&name));
                let v: serde_json::Value =
                    remote.json("POST", &path, Some(json!({ "revoke_others": revoke_others })))?;
                print_token(v["token"].as_str().unwrap_or_default(), json)?;
            }
            UserCommand::List { json } => print_users(remote.json("GET", "/api/users", None)?, json)?,
        }
        return Ok(0);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        UserCommand::Add { name, org, roles, json } => {
            let (user, token) = session
                .act("user add", |a| async move { registry.add_user(&a, &name, &org, &roles).await })?;
            print_new_user(&user, &token, json)?;
        }
        UserCommand::Token { name, revoke_others, json } => {
            let token = session
                .act("user token", |a| async move { registry.new_token(&a, &name, revoke_others).await })?;
            print_token(&token, json)?;
        }
        UserCommand::List { json } => {
            let users = session.act("user list", |a| async move { registry.users_visible_to(&a).await })?;
            print_users(users, json)?;
        }
    }
    Ok(0)
}

/// `sieve audit ...` (admins).
pub fn audit(home: &Path, reg: &RegistryArgs, command: AuditCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_audit(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let db = &session.registry.db;
    match command {
        AuditCommand::Log { limit, target, json } => {
            let registry = &session.registry;
            let events = session.act("audit log", |a| async move {
                registry.audit_visible_to(&a, limit, target.as_deref(), None).await
            })?;
            print_events(&events, json)?;
            Ok(0)
        }
        AuditCommand::Verify { checkpoint, public_key, json } => {
            let public_key = match public_key {
                Some(k) => k,
                None => crate::audit::signing::AuditKey::load_or_create(home)?.public_hex(),
            };
            let key = crate::audit::signing::public_key(&public_key).map_err(anyhow::Error::msg)?;
            let kept: Option<crate::audit::signing::Checkpoint> = match &checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(
                        serde_json::from_str(&text)
                            .with_context(|| format!("{} is not a checkpoint", path.display()))?,
                    )
                }
                None => None,
            };
            let kept = kept.as_ref();
            let key = &key;
            let verdict = session.act("audit verify", |a| async move {
                a.require(Role::Admin, "verifying the audit log")?;
                Ok(audit::verify(db, key, kept).await?)
            })?;
            if json {
                print_json(&verdict)?;
            }
            match verdict {
                Verdict::Intact { events, head, checkpoints, kept_checkpoint } => {
                    if !json {
                        println!(
                            "audit log intact: {events} events, head {head}, {checkpoints} signed checkpoints"
                        );
                        if let Some(seq) = kept_checkpoint {
                            println!("the kept checkpoint (event {seq}) matches");
                        }
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
        AuditCommand::Checkpoint { out } => {
            let checkpoint = session.act("audit checkpoint", |a| async move {
                a.require(Role::Admin, "signing an audit checkpoint")?;
                let key = crate::audit::signing::AuditKey::load_or_create(home)?;
                let sealed = crate::audit::signing::seal(db, &key).await?;
                sealed.ok_or_else(|| RegistryError::Conflict("the audit log is empty".into()))
            })?;
            write_checkpoint(&checkpoint, out)?;
            Ok(0)
        }
        AuditCommand::Key => {
            println!("{}", crate::audit::signing::AuditKey::load_or_create(home)?.public_hex());
            Ok(0)
        }
    }
}

/// The audit commands against a server. Verifying against a checkpoint or key kept elsewhere
/// needs the registry's database, so it stays on the registry's machine; the server verifies
/// with its own key.
fn remote_audit(remote: &super::remote::Remote, command: AuditCommand) -> anyhow::Result<i32> {
    match command {
        AuditCommand::Log { limit, target, json } => {
            let mut path = format!("/api/audit?limit={limit}");
            if let Some(t) = target {
                path.push_str(&format!("&target={}", super::remote::encode(&t)));
            }
            let events: Vec<crate::audit::Event> = remote.json("GET", &path, None)?;
            print_events(&events, json)?;
            Ok(0)
        }
        AuditCommand::Verify { checkpoint, public_key: None, json } => {
            let v: serde_json::Value = match &checkpoint {
                None => remote.json("GET", "/api/audit/verify", None)?,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let kept: crate::audit::signing::Checkpoint = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a checkpoint", path.display()))?;
                    remote.json("POST", "/api/audit/verify", Some(json!({ "checkpoint": kept })))?
                }
            };
            if json {
                print_json(&v)?;
            } else if v["status"] == "intact" {
                println!("audit log intact: {} events (verified by the server with its key)", v["events"]);
                if checkpoint.is_some() {
                    println!("the kept checkpoint matches");
                }
            } else {
                println!(
                    "audit log BROKEN at event {}: {}",
                    v["seq"],
                    v["reason"].as_str().unwrap_or_default()
                );
            }
            Ok(if v["status"] == "intact" { 0 } else { 5 })
        }
        // A key given by hand would have to be checked on this side, against the database.
        AuditCommand::Verify { .. } => Err(super::remote::local_only("audit verify --public-key")),
        AuditCommand::Key => {
            let v: serde_json::Value = remote.json("GET", "/api/audit/key", None)?;
            println!("{}", v["public_key"].as_str().unwrap_or_default());
            Ok(0)
        }
        AuditCommand::Checkpoint { out } => {
            let checkpoint: crate::audit::signing::Checkpoint =
                remote.json("POST", "/api/audit/checkpoint", None)?;
            write_checkpoint(&checkpoint, out)?;
            Ok(0)
        }
    }
}
