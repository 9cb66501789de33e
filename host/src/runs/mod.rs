//! One run, end to end: verify and compile the component, describe it, resolve parameters, load
//! the declared inputs (from a directory, or from a registered dataset), execute, and report.
//! `store` keeps runs made through the registry, with their clues.

pub mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use sieve_sdk::{Clue, ModelInfo, Params};

use crate::datasets;
use crate::sandbox::state::{LogLine, ProgressFn};
use crate::sandbox::{CacheUse, Limits, Outcome, Sandbox, output_digest};

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
    /// Digest of the clues (JSON lines).
    pub output_digest: String,
    /// Log lines.
    pub logs: Vec<LogLine>,
    /// Captured stderr.
    pub stderr: String,
    /// Cells handed to the guest.
    pub cells_read: u64,
}

impl RunReport {
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
            output_digest: output_digest(&[]),
            logs: Vec::new(),
            stderr: String::new(),
            cells_read: 0,
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

/// Run `bytes` on the dataset in `dir` with `name=value` settings; `on_progress` hears the
/// model's progress reports.
pub fn run_on_dir(
    sandbox: &Sandbox,
    bytes: &[u8],
    expected_digest: Option<&str>,
    dir: &Path,
    settings: &[(String, String)],
    limits: &Limits,
    on_progress: Option<ProgressFn>,
) -> RunReport {
    let label = dir.display().to_string();
    run_component(sandbox, bytes, expected_digest, settings, limits, on_progress, &label, |info| {
        datasets::load_for_model(dir, info).map_err(|e| Outcome::BadInput(e.to_string()))
    })
}

/// Run `bytes` on the tables `load` provides for the model's declared inputs. `data_label` names
/// the data (it seeds the guest's random numbers together with the digest and settings). One
/// store, and one budget, serves instantiation, `describe()` and `run()`; loading the tables in
/// between is the host's time, not the model's.
#[allow(clippy::too_many_arguments)]
pub fn run_component(
    sandbox: &Sandbox,
    bytes: &[u8],
    expected_digest: Option<&str>,
    settings: &[(String, String)],
    limits: &Limits,
    on_progress: Option<ProgressFn>,
    data_label: &str,
    load: impl FnOnce(&ModelInfo) -> Result<Vec<datasets::ServedTable>, Outcome>,
) -> RunReport {
    let digest = crate::digest::digest_of(bytes);
    let plugin = match sandbox.load(bytes, expected_digest) {
        Ok(p) => p,
        Err(outcome) => return RunReport::failed(outcome, digest),
    };
    let mut report = RunReport::failed(Outcome::Completed, digest);
    report.compile = plugin.load_time;
    report.cache_use = Some(plugin.cache_use);
    let seed = run_seed(&plugin.digest, data_label, settings);
    let mut instance = match sandbox.instantiate(&plugin, limits, seed) {
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
    let tables = match load(&info) {
        Ok(t) => t,
        Err(outcome) => {
            report.outcome = outcome;
            report.info = Some(info);
            return report;
        }
    };
    report.load = started.elapsed();
    let exec = instance.run(Arc::from(tables), &params, on_progress);
    report.outcome = exec.outcome;
    report.output_digest = output_digest(&exec.clues);
    report.clues = exec.clues;
    report.fuel = exec.fuel_consumed;
    report.host_fuel = exec.host_fuel;
    report.peak_memory_bytes = exec.peak_memory_bytes;
    report.host_memory_peak_bytes = exec.host_memory_peak_bytes;
    report.wall = exec.wall;
    report.logs = exec.logs;
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
        deadline: v["deadline_ms"].as_u64().map_or(base.deadline, Duration::from_millis),
        memory_bytes: size("memory_bytes", base.memory_bytes),
        host_memory_bytes: size("host_memory_bytes", base.host_memory_bytes),
        max_clues: size("max_clues", base.max_clues),
        max_output_bytes: size("max_output_bytes", base.max_output_bytes),
        max_log_bytes: size("max_log_bytes", base.max_log_bytes),
        ..base
    }
}
