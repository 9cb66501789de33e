//! `sieve plugin ...`: publish, vet, approve / reject / revoke, list, show.

use crate::runs::reviews::FieldPrecision;
use crate::text::escape;
use std::path::Path;

use clap::Subcommand;

use super::sandbox;
use super::session::{RegistryArgs, Session};
use crate::registry::plugins::{Decision, PluginRecord};

/// `sieve plugin` subcommands.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Publish a component (author): stores it by digest, records its description, vets it.
    Publish {
        /// Component file (.wasm), or the name of a bundled model.
        file: String,
        /// Notes for the admins who vet it.
        #[arg(long, default_value = "")]
        notes: String,
        /// The model's source directory: archived and kept with the digest for the reviewers
        /// (a Python or JavaScript build does not give the same bytes twice, so the source and
        /// the toolchain are what can be checked).
        #[arg(long, value_name = "DIR")]
        source: Option<std::path::PathBuf>,
        /// The toolchain that built it (default: what `--source`'s language tool reports, e.g.
        /// `componentize-py --version`).
        #[arg(long, requires = "source")]
        toolchain: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the automated vetting again (admin, or the plugin's author).
    Vet {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a vetted plugin (admin): it may then run on registered datasets.
    Approve {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reject a submitted plugin (admin).
    Reject {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Revoke an approved plugin (admin): it no longer runs.
    Revoke {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List plugins with state, vetting and usage.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a plugin's source archive (a tar) to a file: its author, or an admin reviewing it.
    /// A SQL model's source is its text.
    Source {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Where to write the archive.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Show one plugin: description, state, vetting findings, usage.
    Show {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Field precision: of the clues prosecutors reviewed (sieve runs review), the share they
    /// confirmed, over all the plugin's runs and per procuratorate in your subtree.
    Precision {
        /// Digest or unambiguous prefix.
        digest: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_precision(p: &FieldPrecision, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    println!(
        "{:<24} {:>9} {:>9} {:>15} {:>9}",
        "procuratorate", "confirmed", "dismissed", "needs more data", "precision"
    );
    for t in p.by_org.iter().chain([&p.total]) {
        let precision = t.precision.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        println!(
            "{:<24} {:>9} {:>9} {:>15} {:>9}",
            t.org.as_deref().unwrap_or("all runs"),
            t.confirmed,
            t.dismissed,
            t.needs_more_data,
            precision
        );
    }
    Ok(())
}

fn print_plugin(p: &PluginRecord) {
    println!("digest       {}", p.digest);
    println!("model        {} {} ({})", escape(&p.name), escape(&p.version), escape(&p.task));
    println!("state        {}{}", p.state, if p.tampered { " (TAMPERED: blob altered on disk)" } else { "" });
    println!("published    {} by {} of {}", p.published_at, p.author, p.org);
    if !p.notes.is_empty() {
        println!("notes        {}", escape(&p.notes));
    }
    if let Some(d) = &p.decision {
        println!(
            "decision     {} at {} ({})",
            d["by"].as_str().unwrap_or(""),
            d["at"].as_str().unwrap_or(""),
            escape(d["note"].as_str().unwrap_or(""))
        );
    }
    println!("size         {} bytes, sieve:model@{}", p.size, p.api_version);
    if let Some(engine) = &p.sql_engine {
        println!("SQL model    runs on SQL engine {engine}");
    }
    match &p.source {
        Some(src) => println!(
            "source       {} ({} bytes, built with {}; sieve plugin source to read it)",
            src.digest,
            src.size,
            escape(&src.toolchain)
        ),
        None => println!("source       none attached (publish with --source DIR)"),
    }
    println!("usage        {} runs by {} procuratorates", p.runs, p.orgs_using);
    match &p.vetting {
        None => println!("vetting      not yet"),
        Some(v) => {
            println!("vetting      {} at {}", if v.passed { "passed" } else { "FAILED" }, v.at);
            for f in &v.findings {
                println!(
                    "  {} {:<16} {}",
                    if f.passed { "ok  " } else { "FAIL" },
                    f.check,
                    escape(&f.detail)
                );
            }
        }
    }
}

fn show(p: &PluginRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(p)?);
    } else {
        print_plugin(p);
    }
    Ok(())
}

/// `--source DIR`'s archive and toolchain (named, or asked of the language's tool).
fn source_of(
    dir: Option<&std::path::Path>,
    toolchain: Option<String>,
) -> anyhow::Result<Option<(Vec<u8>, String)>> {
    let Some(dir) = dir else { return Ok(None) };
    let archive = super::build::source_archive(dir)?;
    let toolchain = toolchain.or_else(|| super::build::toolchain_of(dir)).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: cannot tell which toolchain built it; name it with --toolchain \"componentize-py 0.25.1\"",
            dir.display()
        )
    })?;
    Ok(Some((archive, toolchain)))
}

/// Write `record`'s source `archive` to `out`, saying what it is.
fn write_source(record: &PluginRecord, archive: &[u8], out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::write(out, archive).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    let built = match (&record.sql_engine, &record.source) {
        (Some(engine), _) => format!("SQL model text, run on engine {engine}"),
        (None, source) => format!("built with {}", source.as_ref().map_or("", |s| s.toolchain.as_str())),
    };
    println!("{}: source of {} ({} bytes, {built})", out.display(), record.digest, archive.len());
    Ok(())
}

/// Run a `sieve plugin` subcommand.
pub fn plugin(home: &Path, reg: &RegistryArgs, command: PluginCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_plugin(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    match command {
        PluginCommand::Publish { file, notes, source, toolchain, json } => {
            let bytes = super::component_bytes(&file)?;
            let source = source_of(source.as_deref(), toolchain)?;
            let sandbox = sandbox(home)?;
            let sandbox = &sandbox;
            let bytes = &bytes;
            let (mut record, created) = session.act("plugin publish", |a| async move {
                registry.publish(sandbox, &a, bytes, &notes).await
            })?;
            if let Some((archive, toolchain)) = &source {
                let digest = &record.digest;
                record = session.act("plugin publish --source", |a| async move {
                    registry.attach_source(&a, digest, archive, toolchain).await
                })?;
            }
            if !created && !json {
                println!("already published (nothing changed):");
            }
            show(&record, json)?;
        }
        PluginCommand::Vet { digest, json } => {
            let sandbox = sandbox(home)?;
            let sandbox = &sandbox;
            let record =
                session.act("plugin vet", |a| async move { registry.vet(sandbox, &a, &digest).await })?;
            show(&record, json)?;
        }
        PluginCommand::Approve { digest, note } => {
            decide(&session, "plugin approve", &digest, Decision::Approve, &note)?
        }
        PluginCommand::Reject { digest, note } => {
            decide(&session, "plugin reject", &digest, Decision::Reject, &note)?
        }
        PluginCommand::Revoke { digest, note } => {
            decide(&session, "plugin revoke", &digest, Decision::Revoke, &note)?
        }
        PluginCommand::List { json } => {
            let plugins =
                session.act("plugin list", |a| async move { registry.plugins_visible_to(&a).await })?;
            print_list(&plugins, json)?;
        }
        PluginCommand::Source { digest, out } => {
            let digest = &digest;
            let (record, archive) =
                session.act("plugin source", |a| async move { registry.plugin_source(&a, digest).await })?;
            write_source(&record, &archive, &out)?;
        }
        PluginCommand::Show { digest, json } => {
            let digest = &digest;
            let record = session
                .act("plugin show", |a| async move { registry.plugin_visible_to(&a, digest).await })?;
            show(&record, json)?;
        }
        PluginCommand::Precision { digest, json } => {
            let digest = &digest;
            let p = session
                .act("plugin precision", |a| async move { registry.field_precision(&a, digest).await })?;
            print_precision(&p, json)?;
        }
    }
    Ok(0)
}

fn decide(
    session: &Session,
    command: &str,
    digest: &str,
    decision: Decision,
    note: &str,
) -> anyhow::Result<()> {
    let registry = &session.registry;
    let record =
        session.act(command, |a| async move { registry.decide(&a, digest, decision, note).await })?;
    print_decided(&record);
    Ok(())
}

fn print_decided(record: &PluginRecord) {
    println!("{} is now {}", record.digest, record.state);
}

fn print_list(plugins: &[PluginRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&plugins)?);
    } else {
        println!(
            "{:<20} {:<30} {:<9} {:<8} {:>5} {:>5}  task",
            "digest", "model", "state", "vetting", "runs", "orgs"
        );
        for p in plugins {
            let state = if p.tampered { "tampered".to_string() } else { p.state.clone() };
            let vetting = match &p.vetting {
                Some(v) if v.passed => "passed",
                Some(_) => "FAILED",
                None => "-",
            };
            println!(
                "{:<20} {:<30} {:<9} {:<8} {:>5} {:>5}  {}",
                &p.digest[..p.digest.len().min(19)],
                escape(&format!("{} {}", p.name, p.version)),
                state,
                vetting,
                p.runs,
                p.orgs_using,
                p.task
            );
        }
    }
    Ok(())
}

/// The plugin commands against a server.
fn remote_plugin(remote: &super::remote::Remote, command: PluginCommand) -> anyhow::Result<i32> {
    use super::remote::encode;
    let note_body = |note: &str| Some(serde_json::json!({ "note": note }));
    match command {
        PluginCommand::Publish { file, notes, source, toolchain, json } => {
            let bytes = super::component_bytes(&file)?;
            let source = source_of(source.as_deref(), toolchain)?;
            // A SQL model goes up as its text; the server packages it on its current engine.
            let kind = if crate::runs::sql_model::is_sql_model(&file) {
                "application/octet-stream"
            } else {
                "application/wasm"
            };
            let answer: serde_json::Value = remote.typed(
                "POST",
                &format!("/api/plugins?notes={}", encode(&notes)),
                Some((kind, bytes)),
            )?;
            let mut record: PluginRecord = serde_json::from_value(answer["plugin"].clone())?;
            if let Some((archive, toolchain)) = source {
                record = remote.typed(
                    "PUT",
                    &format!(
                        "/api/plugins/{}/source?toolchain={}",
                        encode(&record.digest),
                        encode(&toolchain)
                    ),
                    Some(("application/x-tar", archive)),
                )?;
            }
            if answer["created"] == false && !json {
                println!("already published (nothing changed):");
            }
            show(&record, json)?;
        }
        PluginCommand::Vet { digest, json } => {
            let record: PluginRecord =
                remote.json("POST", &format!("/api/plugins/{}/vet", encode(&digest)), None)?;
            show(&record, json)?;
        }
        PluginCommand::Source { digest, out } => {
            let record: PluginRecord =
                remote.json("GET", &format!("/api/plugins/{}", encode(&digest)), None)?;
            let archive = remote.bytes(&format!("/api/plugins/{}/source", encode(&record.digest)))?;
            write_source(&record, &archive, &out)?;
        }
        PluginCommand::Approve { digest, note } => {
            let r: PluginRecord = remote.json(
                "POST",
                &format!("/api/plugins/{}/approve", encode(&digest)),
                note_body(&note),
            )?;
            print_decided(&r);
        }
        PluginCommand::Reject { digest, note } => {
            let r: PluginRecord =
                remote.json("POST", &format!("/api/plugins/{}/reject", encode(&digest)), note_body(&note))?;
            print_decided(&r);
        }
        PluginCommand::Revoke { digest, note } => {
            let r: PluginRecord =
                remote.json("POST", &format!("/api/plugins/{}/revoke", encode(&digest)), note_body(&note))?;
            print_decided(&r);
        }
        PluginCommand::List { json } => {
            let plugins: Vec<PluginRecord> = remote.json("GET", "/api/plugins", None)?;
            print_list(&plugins, json)?;
        }
        PluginCommand::Show { digest, json } => {
            let record: PluginRecord =
                remote.json("GET", &format!("/api/plugins/{}", encode(&digest)), None)?;
            show(&record, json)?;
        }
        PluginCommand::Precision { digest, json } => {
            let p: FieldPrecision =
                remote.json("GET", &format!("/api/plugins/{}/field-precision", encode(&digest)), None)?;
            print_precision(&p, json)?;
        }
    }
    Ok(0)
}
