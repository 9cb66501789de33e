//! JavaScript models: `app.js`, bundled with the SDK into the one ES module componentize-js takes,
//! then built against the `sieve:model` WIT with `http` and `fetch-event` off (the host refuses
//! `wasi:http`, and StarlingMonkey links it unless told not to).
//!
//! componentize-js resolves no imports but the WIT's own, so the SDK (`sdk/js/sieve-sdk.js`) and
//! its component glue (`sdk/js/guest.js`) are pasted in front of the app: their `export`s become
//! plain declarations in the one module scope, and the app's `import { ... } from "sieve-sdk"`
//! becomes nothing (or a `const` for a renamed import).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::{Built, WIT, WORLD, absolute_out, useful_stderr};

/// The SDK and its component glue, carried in this binary.
const SDK: &str = include_str!("../../../../sdk/js/sieve-sdk.js");
const GUEST: &str = include_str!("../../../../sdk/js/guest.js");
/// The module name an app imports the SDK as.
const SDK_MODULE: &str = "sieve-sdk";

/// One `import ... from "module";` statement of a module's top level.
struct Import<'a> {
    /// Byte range of the whole statement.
    range: std::ops::Range<usize>,
    /// The text between `import` and `from`.
    clause: &'a str,
    module: &'a str,
}

/// The top-level `import` statements of `source` (lines that start with `import`, up to the `;`
/// or end of line after the module's quoted name).
fn imports(source: &str) -> Vec<Import<'_>> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < source.len() {
        let line_end = source[at..].find('\n').map_or(source.len(), |i| at + i + 1);
        if (source[at..].starts_with("import ") || source[at..].starts_with("import{"))
            && let Some(import) = import_at(source, at)
        {
            at = import.range.end;
            found.push(import);
            continue;
        }
        at = line_end;
    }
    found
}

fn import_at(source: &str, start: usize) -> Option<Import<'_>> {
    let rest = &source[start..];
    let from = rest.find(" from ").or_else(|| rest.find("}from "))?;
    let clause = rest["import".len()..from + usize::from(rest[from..].starts_with('}'))].trim();
    let after = &rest[from + " from ".len()..];
    let lead = after.len() - after.trim_start().len();
    let quote = after[lead..].chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let name_end = after[lead + 1..].find(quote)? + lead + 1;
    let module = &after[lead + 1..name_end];
    let mut end = start + from + " from ".len() + name_end + 1;
    if source[end..].starts_with(';') {
        end += 1;
    }
    Some(Import { range: start..end, clause, module })
}

/// `{ a, b as c }` as the statements that give the app those names from the pasted SDK.
fn bind_names(clause: &str) -> anyhow::Result<String> {
    let Some(names) = clause.strip_prefix('{').and_then(|c| c.strip_suffix('}')) else {
        bail!(
            "`import {clause} from \"{SDK_MODULE}\"`: import the SDK's names in braces, \
             e.g. `import {{ Model, ModelInfo, ops }} from \"{SDK_MODULE}\"`"
        );
    };
    let mut out = String::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if let Some((original, alias)) = name.split_once(" as ") {
            out.push_str(&format!("const {} = {};\n", alias.trim(), original.trim()));
        }
    }
    Ok(out)
}

/// `export class X` / `export function X` / `export const X` as the same declaration, unexported.
fn unexport(source: &str) -> String {
    source.lines().map(|line| line.strip_prefix("export ").unwrap_or(line)).collect::<Vec<_>>().join("\n")
}

/// The one module componentize-js builds: the WIT imports, the SDK, its glue, then the app.
pub fn bundle(app: &str, app_name: &str) -> anyhow::Result<String> {
    let mut head = String::new();
    let mut body = app.to_string();
    let app_imports = imports(app);
    for import in app_imports.iter().rev() {
        let replacement = if import.module == SDK_MODULE {
            bind_names(import.clause).with_context(|| app_name.to_string())?
        } else if import.module.starts_with("sieve:model/") {
            head.push_str(&app[import.range.clone()]);
            head.push('\n');
            String::new()
        } else {
            bail!(
                "{app_name} imports \"{}\": a component is one module, and only \"{SDK_MODULE}\" \
                 is provided (paste small helpers into app.js)",
                import.module
            );
        };
        body.replace_range(import.range.clone(), &replacement);
    }
    if !app.contains("export const model") {
        bail!("{app_name} must export its model: end it with `export const model = exportModel(MyModel);`");
    }
    let mut guest = GUEST.to_string();
    for import in imports(GUEST).iter().rev() {
        if import.module.starts_with("sieve:model/") {
            head.push_str(&GUEST[import.range.clone()]);
            head.push('\n');
        }
        guest.replace_range(import.range.clone(), "");
    }
    Ok(format!(
        "{head}\n// ---- sieve-sdk.js ----\n{}\n// ---- guest.js ----\n{}\n// ---- {app_name} ----\n{body}\n",
        unexport(SDK),
        guest
    ))
}

/// Build `app.js` in `dir` with componentize-js.
pub fn build(dir: &Path, out: &Path) -> anyhow::Result<Built> {
    let version = Command::new("componentize-js").arg("--version").output().map_err(|e| {
        anyhow::anyhow!(
            "componentize-js is needed to build a JavaScript model ({e}): install it with \
             `npm install -g @bytecodealliance/componentize-js`"
        )
    })?;
    let toolchain = format!("componentize-js {}", String::from_utf8_lossy(&version.stdout).trim());
    let app_path = dir.join("app.js");
    let app =
        std::fs::read_to_string(&app_path).with_context(|| format!("reading {}", app_path.display()))?;
    let work = tempfile::tempdir().context("creating a build directory")?;
    check_syntax(&app, &app_path, work.path())?;
    let bundled = bundle(&app, "app.js")?;
    let wit = work.path().join("wit");
    std::fs::create_dir_all(&wit)?;
    std::fs::write(wit.join("sieve-model.wit"), WIT)?;
    let source = work.path().join("bundle.js");
    std::fs::write(&source, bundled)?;
    let out_abs = absolute_out(out)?;
    let output = Command::new("componentize-js")
        .arg(&source)
        .arg("--wit")
        .arg(&wit)
        .args(["--world-name", WORLD, "--disable", "http", "fetch-event", "--out"])
        .arg(&out_abs)
        .output()
        .context("starting componentize-js")?;
    if !output.status.success() || !out_abs.is_file() {
        bail!("componentize-js failed on {}:\n{}", app_path.display(), useful_stderr(&output.stderr));
    }
    Ok(Built { path: out_abs, toolchain })
}

/// A syntax error in the app, named by its line in `app.js`: componentize-js only says that
/// parsing failed. Node checks a copy named `.mjs` (so that it parses it as a module) and points at
/// the line; the copy's name is put back to the app's in the message.
fn check_syntax(app: &str, app_path: &Path, work: &Path) -> anyhow::Result<()> {
    let copy = work.join("app.mjs");
    std::fs::write(&copy, app)?;
    let Ok(output) = Command::new("node").arg("--check").arg(&copy).output() else {
        return Ok(()); // No Node here: componentize-js will say what it can.
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(&copy.display().to_string(), &app_path.display().to_string());
    let useful: Vec<&str> = stderr
        .lines()
        .take_while(|l| !l.trim_start().starts_with("at "))
        .filter(|l| !l.trim().is_empty())
        .collect();
    bail!("{} does not parse:\n{}", app_path.display(), useful.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "import { Model, ModelInfo as Info, ops } from \"sieve-sdk\";\n\
                       class M extends Model {}\n\
                       export const model = exportModel(M);\n";

    #[test]
    fn the_sdk_import_becomes_the_pasted_sdk() {
        let out = bundle(APP, "app.js").expect("bundles");
        assert!(!out.lines().any(|l| l.starts_with("import") && l.contains("sieve-sdk")), "{out}");
        assert!(out.contains("const Info = ModelInfo;"));
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("import {") && first.ends_with("from \"sieve:model/host@0.1.3\";"),
            "{first}"
        );
        // The SDK's exports are declarations of the one module; only the app's model is exported.
        assert!(out.contains("\nclass Index {"));
        assert_eq!(out.matches("\nexport ").count(), 1, "{out}");
    }

    #[test]
    fn other_imports_and_a_missing_export_are_refused_by_name() {
        let e =
            bundle("import fs from \"node:fs\";\nexport const model = 1;\n", "app.js").expect_err("refused");
        assert!(e.to_string().contains("imports \"node:fs\""), "{e}");
        let e = bundle("import { Model } from \"sieve-sdk\";\n", "app.js").expect_err("refused");
        assert!(e.to_string().contains("export const model"), "{e}");
        let e = bundle("import * as sdk from \"sieve-sdk\";\nexport const model = 1;\n", "app.js")
            .expect_err("refused");
        assert!(format!("{e:#}").contains("in braces"), "{e:#}");
    }
}
