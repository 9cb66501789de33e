//! `sieve build DIR`: a model's source directory to a component, through its language's toolchain.
//! A Python model (`app.py`) is built with componentize-py, a JavaScript model (`app.js`) with
//! componentize-js (`javascript`), against the `sieve:model` WIT and the language's SDK, both carried
//! inside this binary, so the build works from any directory.

mod javascript;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::digest::digest_of;

/// Arguments of `sieve build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The model's directory: `app.py` (Python, componentize-py) or `app.js` (JavaScript,
    /// componentize-js).
    pub dir: PathBuf,
    /// Where to write the component (default: `<directory name>.wasm` here).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON (path, digest, size, toolchain).
    #[arg(long)]
    pub json: bool,
}

/// The `sieve:model` WIT this host serves.
const WIT: &str = include_str!("../../../wit/sieve-model.wit");
/// The world a model's component implements.
const WORLD: &str = "supervision-model";

/// The Python SDK's files (`sdk/python/sieve_sdk/`).
const PYTHON_SDK: &[(&str, &str)] = &[
    ("__init__.py", include_str!("../../../sdk/python/sieve_sdk/__init__.py")),
    ("columns.py", include_str!("../../../sdk/python/sieve_sdk/columns.py")),
    ("context.py", include_str!("../../../sdk/python/sieve_sdk/context.py")),
    ("guest.py", include_str!("../../../sdk/python/sieve_sdk/guest.py")),
    ("local.py", include_str!("../../../sdk/python/sieve_sdk/local.py")),
    ("model.py", include_str!("../../../sdk/python/sieve_sdk/model.py")),
    ("ops.py", include_str!("../../../sdk/python/sieve_sdk/ops.py")),
];

/// What a build produced.
pub struct Built {
    /// The component file.
    pub path: PathBuf,
    /// The toolchain and its version (`componentize-py 0.25.1`).
    pub toolchain: String,
}

/// Run `sieve build`.
pub fn build(args: BuildArgs) -> anyhow::Result<i32> {
    let name = args
        .dir
        .canonicalize()
        .with_context(|| format!("{}: no such model directory", args.dir.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.wasm")));
    eprintln!("building {} ...", args.dir.display());
    let built = build_dir(&args.dir, &out)?;
    let bytes = std::fs::read(&built.path).with_context(|| format!("reading {}", built.path.display()))?;
    let digest = digest_of(&bytes);
    if args.json {
        let v = json!({
            "path": built.path, "digest": digest, "size": bytes.len(), "toolchain": built.toolchain,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}  {digest}  {} bytes  ({})", built.path.display(), bytes.len(), built.toolchain);
    }
    Ok(0)
}

/// Build the model in `dir` to the component `out`.
pub fn build_dir(dir: &Path, out: &Path) -> anyhow::Result<Built> {
    if dir.join("app.py").is_file() {
        return build_python(dir, out);
    }
    if dir.join("app.js").is_file() {
        return javascript::build(dir, out);
    }
    bail!(
        "{}: no model found to build (a Python model has app.py, a JavaScript model app.js; Rust \
         models build with `cargo build --release --target wasm32-wasip2`)",
        dir.display()
    )
}

/// `out` made absolute (toolchains run in other directories), its directory created.
fn absolute_out(out: &Path) -> anyhow::Result<PathBuf> {
    let out_abs = if out.is_absolute() { out.to_path_buf() } else { std::env::current_dir()?.join(out) };
    if let Some(parent) = out_abs.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(out_abs)
}

/// A toolchain's error output without the backtrace its own runtime ends with: the author needs
/// the error in their code.
fn useful_stderr(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let useful: Vec<&str> = stderr
        .lines()
        .take_while(|l| !l.starts_with("Stack backtrace"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    useful.join("\n")
}

fn build_python(dir: &Path, out: &Path) -> anyhow::Result<Built> {
    let version = Command::new("componentize-py").arg("--version").output().map_err(|e| {
        anyhow::anyhow!("componentize-py is needed to build a Python model ({e}): install it with `pip install componentize-py`")
    })?;
    let toolchain = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let work = tempfile::tempdir().context("creating a build directory")?;
    let wit = work.path().join("wit");
    std::fs::create_dir_all(&wit)?;
    std::fs::write(wit.join("sieve-model.wit"), WIT)?;
    let sdk = work.path().join("sdk");
    std::fs::create_dir_all(sdk.join("sieve_sdk"))?;
    for (file, text) in PYTHON_SDK {
        std::fs::write(sdk.join("sieve_sdk").join(file), text)?;
    }
    let out_abs = absolute_out(out)?;
    let output = Command::new("componentize-py")
        .arg("-d")
        .arg(&wit)
        .args(["-w", WORLD, "componentize", "app", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(&out_abs)
        .output()
        .context("starting componentize-py")?;
    if !output.status.success() {
        bail!("componentize-py failed on {}:\n{}", dir.display(), useful_stderr(&output.stderr));
    }
    Ok(Built { path: out_abs, toolchain })
}

/// Directories and files a source archive leaves out: build output, caches, version control.
const NOT_SOURCE: &[&str] = &[".git", "target", "node_modules", "__pycache__", ".venv", "venv"];

/// The model source in `dir` as a tar archive for `plugin publish --source`: its regular files
/// under relative paths, in name order, with fixed times and modes (the same directory gives the
/// same archive), leaving out build output, caches and built components.
pub fn source_archive(dir: &Path) -> anyhow::Result<Vec<u8>> {
    fn walk(root: &Path, at: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(at)
            .with_context(|| format!("reading {}", at.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type()?;
            if NOT_SOURCE.contains(&name.as_str()) || name.ends_with(".wasm") || kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                walk(root, &entry.path(), files)?;
            } else if kind.is_file() {
                files.push(entry.path().strip_prefix(root)?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    if files.is_empty() {
        bail!("{}: no source files to archive", dir.display());
    }
    let mut archive = tar::Builder::new(Vec::new());
    let mut total = 0usize;
    for file in &files {
        let bytes = std::fs::read(dir.join(file)).with_context(|| format!("reading {}", file.display()))?;
        total += bytes.len();
        if total > crate::registry::plugins::MAX_SOURCE_BYTES {
            bail!(
                "{}: the source is over {} MiB; leave build output and data out of the directory",
                dir.display(),
                crate::registry::plugins::MAX_SOURCE_BYTES >> 20
            );
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(&mut header, file, bytes.as_slice())?;
    }
    Ok(archive.into_inner()?)
}

/// The toolchain that builds the model in `dir`, as its own `--version` says: componentize-py for
/// `app.py`, componentize-js for `app.js`, rustc for a crate; `None` when there is none here to ask.
pub fn toolchain_of(dir: &Path) -> Option<String> {
    let (tool, arg) = if dir.join("app.py").is_file() {
        ("componentize-py", "--version")
    } else if dir.join("app.js").is_file() {
        let out =
            Command::new("componentize-js").arg("--version").output().ok().filter(|o| o.status.success())?;
        return Some(format!("componentize-js {}", String::from_utf8_lossy(&out.stdout).trim()));
    } else if dir.join("Cargo.toml").is_file() {
        ("rustc", "--version")
    } else {
        return None;
    };
    let out = Command::new(tool).arg(arg).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|t| !t.is_empty())
}
