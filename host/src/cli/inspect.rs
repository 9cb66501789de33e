//! `sieve inspect`: what a component is, imports, and what the model says about itself.

use crate::text::escape;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::sandbox::imports::{how_linked, imports_sockets};

use super::sandbox;

/// Arguments of `sieve inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Component file, or the name of a bundled model.
    component: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Inspect; exits with the outcome's status if the component cannot be loaded or described.
/// A SQL model (`model.sql`) is inspected as the SQL engine running it: the inputs shown are the
/// ones derived from its query.
pub fn inspect(home: PathBuf, args: InspectArgs) -> anyhow::Result<i32> {
    let (bytes, engine) = super::run::model_bytes(&args.component)?;
    let sandbox = sandbox(&home)?;
    let plugin = match crate::runs::load_model(&sandbox, &bytes, None, crate::runs::engine_file(engine)) {
        Ok(p) => p,
        Err(outcome) => {
            eprintln!("{}: {}", args.component, escape(&outcome.to_string()));
            return Ok(outcome.exit_code());
        }
    };
    let sql_digest = plugin.sql.is_some().then(|| plugin.identity.clone());
    let info = match sandbox.describe(&plugin) {
        Ok(i) => i,
        Err(outcome) => {
            eprintln!("{}: {}", args.component, escape(&outcome.to_string()));
            return Ok(outcome.exit_code());
        }
    };
    if args.json {
        let v = json!({
            "digest": plugin.digest,
            "sql_model": sql_digest,
            "size": plugin.size,
            "api_version": plugin.api_version,
            "imports": plugin.imports,
            "import_links": plugin.imports.iter().map(|i| json!({"import": i, "linked": how_linked(i)})).collect::<Vec<_>>(),
            "sockets": if imports_sockets(&plugin.imports) { "linked, denied" } else { "not imported" },
            "exports": plugin.exports,
            "model": crate::registry::plugins::info_json(&info),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    if let Some(sql_digest) = &sql_digest {
        println!("sql model    {sql_digest} (run by the SQL engine below)");
    }
    println!("digest       {}", plugin.digest);
    println!("size         {} bytes", plugin.size);
    println!("api version  sieve:model@{}", plugin.api_version);
    println!("imports");
    let width = plugin.imports.iter().map(String::len).max().unwrap_or(0);
    for i in &plugin.imports {
        println!("  {i:<width$}  {}", how_linked(i));
    }
    if imports_sockets(&plugin.imports) {
        println!("sockets      linked, denied (the runtime imports them; no socket can be opened)");
    }
    println!("model        {} {}", escape(&info.name), escape(&info.version));
    println!("task         {} (subject: {})", escape(&info.task), escape(&info.subject_kind));
    println!("summary      {}", escape(&info.summary));
    println!("inputs");
    for t in &info.inputs {
        let cols: Vec<String> = t.columns.iter().map(|c| format!("{}:{}", c.name, c.ty)).collect();
        println!("  {:<12} {}", t.name, cols.join(", "));
    }
    println!("parameters");
    for p in &info.params {
        println!(
            "  {:<24} {:<8} default {:<8} {}",
            p.name,
            p.ty().name(),
            escape(&p.default.to_string()),
            escape(&p.description)
        );
    }
    Ok(0)
}
