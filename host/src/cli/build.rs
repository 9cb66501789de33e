//! `sieve build DIR`: a model's source directory to a component, through its language's toolchain.
//! A Python model (`app.py`) is built with componentize-py against the `sieve:model` WIT and the
//! Python SDK, both carried inside this binary, so the build works from any directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::digest::digest_of;

/// Arguments of `sieve build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The model's directory: `app.py` (Python, componentize-py).
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
    bail!(
        "{}: no model found to build (a Python model has app.py; Rust models build with \
         `cargo build --release --target wasm32-wasip2`)",
        dir.display()
    )
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
    let out_abs = if out.is_absolute() { out.to_path_buf() } else { std::env::current_dir()?.join(out) };
    if let Some(parent) = out_abs.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
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
        let stderr = String::from_utf8_lossy(&output.stderr);
        // componentize-py ends with a Rust backtrace; the Python error is what the author needs.
        let useful: Vec<&str> = stderr
            .lines()
            .take_while(|l| !l.starts_with("Stack backtrace"))
            .filter(|l| !l.trim().is_empty())
            .collect();
        bail!("componentize-py failed on {}:\n{}", dir.display(), useful.join("\n"));
    }
    Ok(Built { path: out_abs, toolchain })
}
