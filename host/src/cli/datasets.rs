//! `sieve dataset ...`: import, approve, retire, grant, list, show.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;

use super::progress_bar;
use super::session::{RegistryArgs, Session};
use crate::registry::catalog::{DatasetRecord, ImportRequest};

/// `sieve dataset` subcommands.
#[derive(Subcommand)]
pub enum DatasetCommand {
    /// Import a directory of CSV or Parquet tables as a dataset (pending until an admin approves).
    Import {
        /// Dataset name; importing changed content under it makes a new version.
        name: String,
        /// Directory with one file per table of the task's contract (and optionally labels.csv).
        dir: PathBuf,
        /// Task whose table contract the data follows.
        #[arg(long)]
        task: String,
        /// The agency the data came from.
        #[arg(long)]
        source: String,
        /// Clues from runs on it need an admin's release before export.
        #[arg(long)]
        restricted: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a dataset version (admin): models may then run on it.
    Approve {
        /// NAME or NAME@version (default: the newest version).
        dataset: String,
    },
    /// Encode a version imported before column files, or in an older layout (admin above its
    /// owner), so that runs read column files and keys as codes (new imports are encoded as they
    /// are stored).
    Encode {
        /// NAME@VERSION (or NAME for the newest version).
        dataset: String,
    },
    /// Lift a version's restriction (admin above its owner), with the reason: a logged decision.
    Unrestrict {
        /// NAME@VERSION (or NAME for the newest version).
        dataset: String,
        /// Why the clues of runs on it may leave the platform without a release.
        #[arg(long)]
        note: String,
    },
    /// Retire a dataset version (admin): no more runs on it.
    Retire {
        /// NAME or NAME@version (default: the newest version).
        dataset: String,
    },
    /// Grant a procuratorate and its subtree the use of every version of a dataset (admin).
    Grant {
        /// Dataset name.
        dataset: String,
        /// Procuratorate name.
        org: String,
    },
    /// List datasets.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a dataset version: tables, digests, provenance, grants.
    Show {
        /// NAME or NAME@version.
        dataset: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_dataset(d: &DatasetRecord) {
    println!("dataset      {}@{} ({})", d.name, d.version, d.state);
    println!("task         {}", d.task);
    println!(
        "source       {}{}",
        crate::text::escape(&d.source),
        if d.restricted { " (restricted)" } else { "" }
    );
    println!("owner        {} (imported by {} at {})", d.owner, d.created_by, d.created_at);
    println!("digest       {}", d.digest);
    println!("labels       {}", d.labels_digest.as_deref().unwrap_or("none"));
    println!(
        "granted to   {}",
        if d.grants.is_empty() { "(owner only)".to_string() } else { d.grants.join(", ") }
    );
    for t in &d.tables {
        println!("  {:<20} {:>9} rows {:>11} bytes  {}", t.name, t.rows, t.bytes, t.digest);
    }
}

/// Run a `sieve dataset` subcommand.
pub fn dataset(home: &Path, reg: &RegistryArgs, command: DatasetCommand) -> anyhow::Result<i32> {
    if let Some(remote) = reg.remote()? {
        return remote_dataset(&remote, command);
    }
    let session = Session::open(home, reg)?;
    let registry = &session.registry;
    let show = |d: &DatasetRecord, json: bool| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(d)?);
        } else {
            print_dataset(d);
        }
        Ok(())
    };
    match command {
        DatasetCommand::Import { name, dir, task, source, restricted, json } => {
            let bar = progress_bar("{spinner} importing {msg} [{bar:30}] {pos}/{len} tables {elapsed}");
            bar.enable_steady_tick(Duration::from_millis(120));
            let observer = bar.clone();
            let progress = move |table: &str, done: usize, total: usize| {
                observer.set_length(total as u64);
                observer.set_position(done as u64);
                observer.set_message(table.to_string());
            };
            let progress = &progress;
            let report = session.act("dataset import", |a| async move {
                let request =
                    ImportRequest { name: &name, dir: &dir, task: &task, source: &source, restricted };
                registry.import_dataset(&a, &request, progress).await
            });
            bar.finish_and_clear();
            let report = report?;
            print_import(&report, json)?;
        }
        DatasetCommand::Approve { dataset } => {
            let d = session.act("dataset approve", |a| async move {
                registry.set_dataset_state(&a, &dataset, true).await
            })?;
            println!("{}@{} is now {}", d.name, d.version, d.state);
            println!(
                "restricted   {}",
                if d.restricted { "yes: clues stay on the platform until released" } else { "no" }
            );
            for change in session.block_on(registry.changes_since_previous(&d))? {
                println!("changed      {}", crate::text::escape(&change));
            }
        }
        DatasetCommand::Encode { dataset } => {
            let dataset = &dataset;
            let d = session
                .act("dataset encode", |a| async move { registry.encode_dataset(&a, dataset).await })?;
            print_encoded(&d);
        }
        DatasetCommand::Unrestrict { dataset, note } => {
            let (dataset, note) = (&dataset, &note);
            let d = session.act("dataset unrestrict", |a| async move {
                registry.unrestrict_dataset(&a, dataset, note).await
            })?;
            println!("{}@{} is no longer restricted", d.name, d.version);
        }
        DatasetCommand::Retire { dataset } => {
            let d = session.act("dataset retire", |a| async move {
                registry.set_dataset_state(&a, &dataset, false).await
            })?;
            println!("{}@{} is now {}", d.name, d.version, d.state);
        }
        DatasetCommand::Grant { dataset, org } => {
            let d = session
                .act("dataset grant", |a| async move { registry.grant_dataset(&a, &dataset, &org).await })?;
            println!("{} is granted to {}", d.name, d.grants.join(", "));
        }
        DatasetCommand::List { json } => {
            let all =
                session.act("dataset list", |a| async move { registry.datasets_visible_to(&a).await })?;
            print_list(&all, json)?;
        }
        DatasetCommand::Show { dataset, json } => {
            let dataset = &dataset;
            let d = session
                .act("dataset show", |a| async move { registry.dataset_visible_to(&a, dataset).await })?;
            show(&d, json)?;
        }
    }
    Ok(0)
}

fn print_list(all: &[DatasetRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        println!("{:<28} {:<9} {:<30} {:>10}  owner", "dataset", "state", "task", "rows");
        for d in all {
            let rows: i64 = d.tables.iter().map(|t| t.rows).sum();
            println!(
                "{:<28} {:<9} {:<30} {:>10}  {}{}",
                format!("{}@{}", d.name, d.version),
                d.state,
                d.task,
                rows,
                d.owner,
                if d.restricted { " (restricted)" } else { "" }
            );
        }
    }
    Ok(())
}

fn print_import(report: &crate::registry::catalog::ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if !report.created {
            println!("identical to the newest version (nothing stored):");
        }
        print_dataset(&report.dataset);
        for f in &report.ignored_files {
            println!("ignored      {} (not a table of {})", crate::text::escape(f), report.dataset.task);
        }
    }
    Ok(())
}

/// The dataset commands against a server. An import sends the directory's table files (and
/// labels.csv) as one tar archive.
fn remote_dataset(remote: &super::remote::Remote, command: DatasetCommand) -> anyhow::Result<i32> {
    use super::remote::encode;
    match command {
        DatasetCommand::Import { name, dir, task, source, restricted, json } => {
            let mut archive = tar::Builder::new(Vec::new());
            let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                if path.is_file() && (file.ends_with(".csv") || file.ends_with(".parquet")) {
                    archive
                        .append_path_with_name(&path, &file)
                        .with_context(|| format!("reading {}", path.display()))?;
                }
            }
            let bytes = archive.into_inner()?;
            let path = format!(
                "/api/datasets?name={}&task={}&source={}&restricted={restricted}",
                encode(&name),
                encode(&task),
                encode(&source)
            );
            let report: crate::registry::catalog::ImportReport =
                remote.typed("POST", &path, Some(("application/x-tar", bytes)))?;
            print_import(&report, json)?;
        }
        DatasetCommand::Approve { dataset } => {
            let d: DatasetRecord =
                remote.json("POST", &format!("/api/datasets/{}/approve", encode(&dataset)), None)?;
            println!("{}@{} is now {}", d.name, d.version, d.state);
        }
        DatasetCommand::Retire { dataset } => {
            let d: DatasetRecord =
                remote.json("POST", &format!("/api/datasets/{}/retire", encode(&dataset)), None)?;
            println!("{}@{} is now {}", d.name, d.version, d.state);
        }
        DatasetCommand::Grant { dataset, org } => {
            let d: DatasetRecord = remote.json(
                "POST",
                &format!("/api/datasets/{}/grants", encode(&dataset)),
                Some(serde_json::json!({ "org": org })),
            )?;
            println!("{} is granted to {}", d.name, d.grants.join(", "));
        }
        DatasetCommand::List { json } => {
            let all: Vec<DatasetRecord> = remote.json("GET", "/api/datasets", None)?;
            print_list(&all, json)?;
        }
        DatasetCommand::Show { dataset, json } => {
            let d: DatasetRecord =
                remote.json("GET", &format!("/api/datasets/{}", encode(&dataset)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_dataset(&d);
            }
        }
        DatasetCommand::Encode { dataset } => {
            let path = format!("/api/datasets/{}/encode", super::remote::encode(&dataset));
            let d: DatasetRecord = remote.json("POST", &path, None)?;
            print_encoded(&d);
        }
        DatasetCommand::Unrestrict { dataset, note } => {
            let d: DatasetRecord = remote.json(
                "POST",
                &format!("/api/datasets/{}/unrestrict", encode(&dataset)),
                Some(serde_json::json!({ "note": note })),
            )?;
            println!("{}@{} is no longer restricted", d.name, d.version);
        }
    }
    Ok(0)
}

fn print_encoded(d: &DatasetRecord) {
    match &d.encoding {
        Some(e) => println!(
            "{}@{}: {} key domains encoded ({})",
            d.name,
            d.version,
            e.domains.len(),
            e.domains.iter().map(|dm| dm.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => println!("{}@{}: its task has no key domains to encode", d.name, d.version),
    }
}
