//! The DuckDB peer of `sieve bench`: each task's true-clue rule as SQL (`scripts/duckdb/`), run
//! by the `duckdb` Python package over the dataset's Parquet files in a long-lived process.
//!
//! The runner and the SQL are embedded, so an installed binary measures the same queries as a
//! checkout. Without Python or its `duckdb` package the peer is simply not there, and the bench
//! says so instead of failing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The runner and one SQL file per task, as `scripts/duckdb/` holds them.
const FILES: &[(&str, &str)] = &[
    ("peer.py", include_str!("../../../../scripts/duckdb/peer.py")),
    ("vehicle-insurance-fraud.sql", include_str!("../../../../scripts/duckdb/vehicle-insurance-fraud.sql")),
    ("private-lending-fraud.sql", include_str!("../../../../scripts/duckdb/private-lending-fraud.sql")),
    (
        "false-mediation-confirmation.sql",
        include_str!("../../../../scripts/duckdb/false-mediation-confirmation.sql"),
    ),
    (
        "judicial-auction-violations.sql",
        include_str!("../../../../scripts/duckdb/judicial-auction-violations.sql"),
    ),
    ("restricted-debtor-travel.sql", include_str!("../../../../scripts/duckdb/restricted-debtor-travel.sql")),
    ("vehicle-enforcement.sql", include_str!("../../../../scripts/duckdb/vehicle-enforcement.sql")),
    ("copyright-harvesting.sql", include_str!("../../../../scripts/duckdb/copyright-harvesting.sql")),
];

/// What a rule found: (subject, rule) pairs.
pub type Found = BTreeSet<(String, String)>;

/// A running DuckDB peer.
pub struct Peer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// Where the runner and the SQL were written; removed when the peer goes.
    _files: tempfile::TempDir,
    /// The `duckdb` package's version.
    pub version: String,
}

#[derive(serde::Deserialize)]
struct Answer {
    ms: Option<f64>,
    clues: Option<Vec<(String, String)>>,
    error: Option<String>,
}

impl Peer {
    /// Start the runner, or say why there is none (no `python3`, no `duckdb` package).
    pub fn start() -> Result<Peer, String> {
        let version = Command::new("python3")
            .args(["-c", "import duckdb; print(duckdb.__version__)"])
            .output()
            .map_err(|e| format!("python3 could not be started ({e})"))?;
        if !version.status.success() {
            return Err("the `duckdb` Python package is not installed (pip install duckdb)".into());
        }
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let files = tempfile::tempdir().map_err(|e| format!("a directory for the runner: {e}"))?;
        for (name, text) in FILES {
            std::fs::write(files.path().join(name), text).map_err(|e| format!("writing {name}: {e}"))?;
        }
        let mut child = Command::new("python3")
            .arg(files.path().join("peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the DuckDB runner: {e}"))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the DuckDB runner has no pipes".into());
        };
        Ok(Peer { child, input, output: BufReader::new(output), _files: files, version })
    }

    /// Run `task`'s rule over the Parquet files in `dir`: its wall time (connection, reading and
    /// query) and what it found.
    pub fn run(&mut self, dir: &Path, task: &str) -> anyhow::Result<(Duration, Found)> {
        let dir = std::path::absolute(dir)?;
        let request = serde_json::json!({ "dir": dir, "task": task });
        writeln!(self.input, "{request}").context("sending the DuckDB runner a query")?;
        self.input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            bail!("the DuckDB runner stopped");
        }
        let answer: Answer = serde_json::from_str(&line).context("reading the DuckDB runner's answer")?;
        match answer {
            Answer { error: Some(e), .. } => bail!("DuckDB on {task}: {e}"),
            Answer { ms: Some(ms), clues: Some(clues), .. } => {
                Ok((Duration::from_secs_f64(ms / 1000.0), clues.into_iter().collect()))
            }
            _ => bail!("the DuckDB runner answered neither a result nor an error: {line}"),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
