//! One run, end to end: verify and compile the component, describe it, resolve parameters, load
//! the declared inputs (from a directory, or from a registered dataset), execute, and report.
//! `store` keeps runs made through the registry, with their clues.

pub mod clue_sets;
pub mod evidence;
pub mod leases;
pub mod reviews;
pub mod sql_model;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use sieve_sdk::{Clue, ModelInfo, Params};

use crate::datasets;
use crate::sandbox::state::{LogLine, ProgressFn};
use crate::sandbox::{CacheUse, Limits, Outcome, Sandbox, Served, output_digest};

/// Everything a run produced, whatever its outcome.
#[derive(Debug)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// `sha256:<hex>` of the component bytes.
    pub plugin_digest: String,
    /// The model's description, when `describe()` succeeded.
    pub info: Option<ModelInfo>,
    /// The resolved parameters.
    pub params: Option<Params>,
    /// Accepted clues (empty when they are held).
    pub clues: Vec<Clue>,
    /// How many clues are withheld from this report, and why (a restricted dataset, not yet
    /// released).
    pub held: Option<(usize, String)>,
    /// Fuel consumed by the whole run (instantiation, `describe()`, `run()`, host work).
    pub fuel: u64,
    /// The part of `fuel` charged for host work on the model's behalf.
    pub host_fuel: u64,
    /// Peak guest memory.
    pub peak_memory_bytes: usize,
    /// Peak host memory held on the model's behalf.
    pub host_memory_peak_bytes: usize,
    /// Wall time in the guest (instantiation, `describe()` and `run()`).
    pub wall: Duration,
    /// Time to compile or load compiled code.
    pub compile: Duration,
    /// Whether the compiled code came from the cache.
    pub cache_use: Option<CacheUse>,
    /// Time to read the dataset.
    pub load: Duration,
    /// Time to store the run's outcome and clues in the registry (zero for an ad hoc run; not
    /// in the stored summary, which is written as part of it).
    pub store: Duration,
    /// Digest of the clues (JSON lines).
    pub output_digest: String,
    /// Log lines.
    pub logs: Vec<LogLine>,
    /// Captured stdout (Python's `print`, JavaScript's `console.log`), capped.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Cells handed to the guest.
    pub cells_read: u64,
    /// For a rerun answered from an identical earlier run instead of running again: that run,
    /// and its stored summary (what this run reports, but for the times spent now).
    pub reused: Option<Box<Reused>>,
}

/// The earlier identical run a rerun's outcome and clues come from (see `store`'s reuse).
#[derive(Debug)]
pub struct Reused {
    /// Its id.
    pub from: i64,
    /// What it reported.
    pub summary: RunSummary,
}

impl RunReport {
    /// The report of a rerun answered from identical run `from`, which reported `summary` and
    /// stored `clues`: nothing ran now, so no time was spent running.
    pub fn answered_from(from: i64, summary: RunSummary, clues: Vec<Clue>) -> Self {
        RunReport {
            outcome: Outcome::Completed,
            plugin_digest: summary.plugin_digest.clone(),
            info: None,
            params: None,
            clues,
            held: None,
            fuel: summary.fuel,
            host_fuel: summary.host_fuel,
            peak_memory_bytes: summary.peak_memory_bytes,
            host_memory_peak_bytes: summary.host_memory_peak_bytes,
            wall: Duration::ZERO,
            compile: Duration::ZERO,
            cache_use: None,
            load: Duration::ZERO,
            store: Duration::ZERO,
            output_digest: summary.output_digest.clone(),
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            cells_read: summary.cells_read,
            reused: Some(Box::new(Reused { from, summary })),
        }
    }

    /// Clues the run produced, held or not.
    pub fn clue_count(&self) -> usize {
        self.held.as_ref().map_or(self.clues.len(), |(n, _)| *n)
    }

    /// The report of a run that ended before the model ran, with `outcome`.
    pub fn failed(outcome: Outcome, plugin_digest: String) -> Self {
        RunReport {
            outcome,
            plugin_digest,
            info: None,
            params: None,
            clues: Vec::new(),
            held: None,
            fuel: 0,
            host_fuel: 0,
            peak_memory_bytes: 0,
            host_memory_peak_bytes: 0,
            wall: Duration::ZERO,
            compile: Duration::ZERO,
            cache_use: None,
            load: Duration::ZERO,
            store: Duration::ZERO,
            output_digest: output_digest(&[]),
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            cells_read: 0,
            reused: None,
        }
    }
}

/// What a run reports besides its clues: the `--json` contract of `sieve run`, and what a stored
/// run keeps so that a run through a server prints what a local one does.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RunSummary {
    /// Outcome code (`completed`, `out-of-fuel`, ...).
    pub outcome: String,
    /// Outcome detail (empty for `completed`).
    pub detail: String,
    /// `sha256:<hex>` of the component.
    pub plugin_digest: String,
    /// The model, when `describe()` succeeded.
    pub model: Option<ModelRef>,
    /// The resolved parameters (text values).
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Clues the run produced, held or not.
    pub clues: usize,
    /// Why the clues are withheld from the runner, if they are.
    pub held: Option<String>,
    /// Fuel consumed by the whole run.
    pub fuel: u64,
    /// The part of `fuel` charged for host work.
    pub host_fuel: u64,
    /// Peak guest memory.
    pub peak_memory_bytes: usize,
    /// Peak host memory held on the model's behalf.
    pub host_memory_peak_bytes: usize,
    /// Wall time in the guest, milliseconds.
    pub wall_ms: f64,
    /// Time to compile or load compiled code, milliseconds.
    pub compile_ms: f64,
    /// `compiled`, `hit` or `rebuilt`.
    pub compiled_code: Option<String>,
    /// Time to read the dataset, milliseconds.
    pub load_ms: f64,
    /// Cells handed to the guest.
    pub cells_read: u64,
    /// Digest of the clues.
    pub output_digest: String,
    /// The model's log lines.
    pub logs: Vec<LogView>,
    /// Captured stdout (Python's `print`, JavaScript's `console.log`), capped.
    #[serde(default)]
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// The guest's stack at a trap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtrace: Option<Vec<String>>,
    /// The earlier run this rerun's outcome and clues come from: the same component on the same
    /// dataset version, with the same settings and limits, on the same host build, gives the same
    /// clues, so it was not run again (`--fresh` runs it anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<i64>,
}

/// A model named in a [`RunSummary`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Task.
    pub task: String,
}

/// A log line in a [`RunSummary`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LogView {
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// Text.
    pub message: String,
}

impl RunSummary {
    /// What a stored run's record says, for a run without a stored report (its host died before
    /// finishing it, or it was queued or running when asked).
    pub fn of_record(run: &store::RunRecord) -> RunSummary {
        RunSummary {
            outcome: run.outcome.clone().unwrap_or_else(|| run.state.clone()),
            detail: run.detail.clone().unwrap_or_default(),
            plugin_digest: run.plugin.clone(),
            model: None,
            params: Some(run.params.clone()),
            clues: run.clues as usize,
            held: None,
            fuel: run.fuel.unwrap_or(0) as u64,
            host_fuel: 0,
            peak_memory_bytes: run.peak_memory.unwrap_or(0) as usize,
            host_memory_peak_bytes: 0,
            wall_ms: run.wall_ms.unwrap_or(0.0),
            compile_ms: 0.0,
            compiled_code: None,
            load_ms: 0.0,
            cells_read: 0,
            output_digest: run.output_digest.clone().unwrap_or_else(|| output_digest(&[])),
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            backtrace: None,
            reused_from: run.reused_from,
        }
    }
}

impl RunReport {
    /// Everything but the clues, as reported and stored.
    pub fn summary(&self) -> RunSummary {
        if let Some(reused) = &self.reused {
            // What the earlier run found, with what this one spent and whether it may show it.
            return RunSummary {
                clues: self.clue_count(),
                held: self.held.as_ref().map(|(_, why)| why.clone()),
                wall_ms: 0.0,
                compile_ms: 0.0,
                compiled_code: None,
                load_ms: 0.0,
                reused_from: Some(reused.from),
                ..reused.summary.clone()
            };
        }
        RunSummary {
            outcome: self.outcome.code().to_string(),
            detail: self.outcome.detail(),
            plugin_digest: self.plugin_digest.clone(),
            model: self.info.as_ref().map(|i| ModelRef {
                name: i.name.clone(),
                version: i.version.clone(),
                task: i.task.clone(),
            }),
            params: self.params.as_ref().map(params_json),
            clues: self.clue_count(),
            held: self.held.as_ref().map(|(_, why)| why.clone()),
            fuel: self.fuel,
            host_fuel: self.host_fuel,
            peak_memory_bytes: self.peak_memory_bytes,
            host_memory_peak_bytes: self.host_memory_peak_bytes,
            wall_ms: self.wall.as_secs_f64() * 1000.0,
            compile_ms: self.compile.as_secs_f64() * 1000.0,
            compiled_code: self.cache_use.map(|c| format!("{c:?}").to_lowercase()),
            load_ms: self.load.as_secs_f64() * 1000.0,
            cells_read: self.cells_read,
            output_digest: self.output_digest.clone(),
            logs: self
                .logs
                .iter()
                .map(|l| LogView { level: l.level.name().to_string(), message: l.message.clone() })
                .collect(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            backtrace: match &self.outcome {
                Outcome::Trap { backtrace, .. } => Some(backtrace.clone()),
                _ => None,
            },
            reused_from: None,
        }
    }
}

/// Resolved parameters as a JSON object of their text values (run reports, stored runs).
pub fn params_json(params: &Params) -> serde_json::Value {
    serde_json::Value::Object(
        params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string()))).collect(),
    )
}

/// The guest's random seed: a function of what is run on what, so reruns are identical. It is
/// fixed before `describe()` (one store serves the whole run), so it covers the settings as given.
fn run_seed(plugin_digest: &str, data: &str, settings: &[(String, String)]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(plugin_digest.as_bytes());
    h.update(data.as_bytes());
    let mut settings: Vec<&(String, String)> = settings.iter().collect();
    settings.sort();
    for (k, v) in settings {
        h.update(format!("{k}={v};").as_bytes());
    }
    h.finalize().into()
}

/// Run `bytes` (a component, or a SQL model package run by `engine`, see [`load_model`]) on the
/// dataset in `dir` with `name=value` settings; `on_progress` hears the model's progress reports.
#[allow(clippy::too_many_arguments)]
pub fn run_on_dir(
    sandbox: &Sandbox,
    bytes: &[u8],
    engine: impl FnOnce(&str) -> Result<Vec<u8>, Outcome>,
    expected_digest: Option<&str>,
    dir: &Path,
    settings: &[(String, String)],
    limits: &Limits,
    on_progress: Option<ProgressFn>,
) -> RunReport {
    match load_model(sandbox, bytes, expected_digest, engine) {
        Ok(plugin) => run_plugin_on_dir(sandbox, &plugin, dir, settings, limits, on_progress),
        Err(outcome) => RunReport::failed(outcome, crate::digest::digest_of(bytes)),
    }
}

/// Load a model's declared inputs from the tables in `dir`, served as a run serves them.
fn from_dir(dir: &Path) -> impl FnOnce(&ModelInfo, bool) -> Result<Served, Outcome> + '_ {
    move |info, shares| {
        let tables = datasets::load_for_model(dir, info).map_err(|e| Outcome::BadInput(e.to_string()))?;
        Ok(Served::checked(Arc::from(datasets::served_to(shares, &info.task, tables))))
    }
}

/// Load what a plugin's `bytes` are: a component, or a SQL model package (see
/// [`sql_model::package`]) run by the engine it names. The engine is the one this process loaded
/// lately, or its verified artifact in the code cache, or else `engine` reads its bytes (from an
/// installed engine's blob, checked against its digest). With `expected_digest`, bytes of any
/// other digest are refused.
pub fn load_model(
    sandbox: &Sandbox,
    bytes: &[u8],
    expected_digest: Option<&str>,
    engine: impl FnOnce(&str) -> Result<Vec<u8>, Outcome>,
) -> Result<crate::sandbox::Plugin, Outcome> {
    let Some(package) = sql_model::unpack(bytes) else {
        return sandbox.load(bytes, expected_digest);
    };
    let (engine_digest, text) = package.map_err(Outcome::InvalidComponent)?;
    let digest = crate::digest::digest_of(bytes);
    if let Some(expected) = expected_digest.filter(|e| **e != digest) {
        return Err(Outcome::HashMismatch { expected: expected.to_string(), actual: digest });
    }
    let source = sql_model::source(&text).map_err(Outcome::InvalidComponent)?;
    let plugin = sandbox.load_pinned(&engine_digest, || engine(&engine_digest))?;
    Ok(plugin.with_sql(source, digest))
}

/// The engine source of a caller that holds the engine's bytes, or none (a SQL model package
/// then cannot run).
pub fn engine_given(engine: Option<Vec<u8>>) -> impl FnOnce(&str) -> Result<Vec<u8>, Outcome> {
    move |engine_digest| {
        engine.ok_or_else(|| {
            Outcome::InvalidComponent(format!(
                "the SQL engine {engine_digest} this SQL model runs on is not installed"
            ))
        })
    }
}

/// The engine source of a caller that names the engine's file (`sieve run model.sql`): read
/// only when the engine is neither loaded nor in the code cache, and then checked against the
/// digest the caller hashed it to, so a file changed in between is a `hash-mismatch`.
pub fn engine_file(path: Option<PathBuf>) -> impl FnOnce(&str) -> Result<Vec<u8>, Outcome> {
    move |engine_digest| match path {
        Some(path) => std::fs::read(&path).map_err(|e| {
            Outcome::InvalidComponent(format!("reading the SQL engine {}: {e}", path.display()))
        }),
        None => engine_given(None)(engine_digest),
    }
}

/// Run a loaded plugin (a component, or the SQL engine with a SQL model) on the tables in `dir`,
/// as [`run_on_dir`] runs bytes.
pub fn run_plugin_on_dir(
    sandbox: &Sandbox,
    plugin: &crate::sandbox::Plugin,
    dir: &Path,
    settings: &[(String, String)],
    limits: &Limits,
    on_progress: Option<ProgressFn>,
) -> RunReport {
    let label = dir.display().to_string();
    run_plugin(sandbox, plugin, settings, limits, on_progress, &label, from_dir(dir))
}

/// Run a loaded plugin on the tables `load` provides for the model's declared inputs (told
/// whether the model reads shared dictionaries, so that it may read them ready-made); the report
/// names it by what runs (the component, or the SQL model on the engine). `data_label` names the
/// data (it seeds the guest's random numbers together with the digest and settings). One store,
/// and one budget, serves instantiation, `describe()` and `run()`; loading the tables in between
/// is the host's time, not the model's.
pub fn run_plugin(
    sandbox: &Sandbox,
    plugin: &crate::sandbox::Plugin,
    settings: &[(String, String)],
    limits: &Limits,
    on_progress: Option<ProgressFn>,
    data_label: &str,
    load: impl FnOnce(&ModelInfo, bool) -> Result<Served, Outcome>,
) -> RunReport {
    let digest = plugin.identity.clone();
    let seed = run_seed(&digest, data_label, settings);
    let mut report = RunReport::failed(Outcome::Completed, digest);
    report.compile = plugin.load_time;
    report.cache_use = Some(plugin.cache_use);
    let mut instance = match sandbox.instantiate(plugin, limits, seed) {
        Ok(i) => i,
        Err(outcome) => {
            report.outcome = outcome;
            return report;
        }
    };
    let info = match instance.describe() {
        Ok(i) => i,
        Err(outcome) => {
            report.outcome = outcome;
            return report;
        }
    };
    let params = match info.resolve_params(settings) {
        Ok(p) => p,
        Err(m) => {
            report.outcome = Outcome::BadInput(m);
            report.info = Some(info);
            return report;
        }
    };
    let started = Instant::now();
    let served = match load(&info, plugin.shares_dictionaries()) {
        Ok(t) => t,
        Err(outcome) => {
            report.outcome = outcome;
            report.info = Some(info);
            return report;
        }
    };
    report.load = started.elapsed();
    if let Some(kept) = served.groupings {
        instance.keep_groupings_in(kept);
    }
    let mut exec = instance.run(served.tables, &params, on_progress);
    // The data's check ran beside the model; what the model made of data that failed it is
    // dropped. Waiting for it is the host's loading time.
    if let Some(check) = served.check {
        let waiting = Instant::now();
        if let Err(outcome) = check.wait() {
            exec.outcome = outcome;
            exec.clues.clear();
        }
        report.load += waiting.elapsed();
    }
    report.outcome = exec.outcome;
    report.output_digest = output_digest(&exec.clues);
    report.clues = exec.clues;
    report.fuel = exec.fuel_consumed;
    report.host_fuel = exec.host_fuel;
    report.peak_memory_bytes = exec.peak_memory_bytes;
    report.host_memory_peak_bytes = exec.host_memory_peak_bytes;
    report.wall = exec.wall;
    report.logs = exec.logs;
    report.stdout = exec.stdout;
    report.stderr = exec.stderr;
    report.cells_read = exec.cells_read;
    report.info = Some(info);
    report.params = Some(params);
    report
}

/// Run limits as stored with a queued run or a competition.
pub fn limits_json(limits: &Limits) -> serde_json::Value {
    json!({
        "fuel": limits.fuel,
        "fuel_per_row": limits.fuel_per_row,
        "fuel_ceiling": limits.fuel_ceiling,
        "deadline_ms": limits.deadline.as_millis() as u64,
        "memory_bytes": limits.memory_bytes,
        "host_memory_bytes": limits.host_memory_bytes,
        "max_clues": limits.max_clues,
        "max_output_bytes": limits.max_output_bytes,
        "max_log_bytes": limits.max_log_bytes,
    })
}

/// Read limits stored by [`limits_json`]; a missing field keeps the default.
pub fn limits_from_json(v: &serde_json::Value) -> Limits {
    let base = Limits::default();
    let size = |name: &str, default: usize| v[name].as_u64().map_or(default, |n| n as usize);
    Limits {
        fuel: if v["fuel"].is_null() { None } else { v["fuel"].as_u64().or(base.fuel) },
        fuel_per_row: v["fuel_per_row"].as_u64().unwrap_or(base.fuel_per_row),
        fuel_ceiling: v["fuel_ceiling"].as_u64(),
        deadline: v["deadline_ms"].as_u64().map_or(base.deadline, Duration::from_millis),
        memory_bytes: size("memory_bytes", base.memory_bytes),
        host_memory_bytes: size("host_memory_bytes", base.host_memory_bytes),
        max_clues: size("max_clues", base.max_clues),
        max_output_bytes: size("max_output_bytes", base.max_output_bytes),
        max_log_bytes: size("max_log_bytes", base.max_log_bytes),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sieve run model.sql` names the engine by the digest of its file, then reads the file only
    /// when the engine is not cached: a file changed in between is refused, never run.
    #[test]
    fn an_engine_file_changed_after_it_was_hashed_is_a_hash_mismatch() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = dir.path().join("sql-engine.wasm");
        std::fs::write(&engine, b"the engine as it is now").expect("write engine");
        let hashed_before = crate::digest::digest_of(b"the engine as it was hashed");
        let model = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sql/copyright-harvesting.sql"),
        )
        .expect("bundled SQL model");
        let source = sql_model::source(&model).expect("SQL source");
        let package = sql_model::package(&hashed_before, &source);
        let sandbox = Sandbox::new(None).expect("sandbox");
        match load_model(&sandbox, &package, None, engine_file(Some(engine))) {
            Err(Outcome::HashMismatch { expected, actual }) => {
                assert_eq!(expected, hashed_before);
                assert_eq!(actual, crate::digest::digest_of(b"the engine as it is now"));
            }
            Err(other) => panic!("expected hash-mismatch, got {other:?}"),
            Ok(_) => panic!("an engine file that changed after it was hashed was loaded"),
        }
    }
}
