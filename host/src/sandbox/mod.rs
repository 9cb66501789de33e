//! The sandbox: one wasmtime engine per process, a fresh store per call, deny-by-default imports,
//! explicit limits, and typed outcomes.

pub mod bindings;
pub mod cache;
pub mod imports;
pub mod limits;
pub mod outcome;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sieve_sdk::{Clue, ColumnSpec, ColumnType, ModelInfo, ParamSpec, ParamValue, Params, TableSpec};
use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store, Strategy, Trap,
    WasmBacktrace,
};

use crate::datasets::LoadedTable;
use crate::digest::{digest_of, sha256_hex};
use bindings::sieve::model::types as w;
use bindings::{SupervisionModel, SupervisionModelPre};
pub use cache::CacheUse;
pub use limits::Limits;
pub use outcome::Outcome;
use state::{HostStop, LogLine, RunState};

/// The process-wide engine and linker, plus the compiled-code cache.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<RunState>,
    cache: Option<cache::CompiledCache>,
}

/// A loaded, verified and link-checked component.
pub struct Plugin {
    /// `sha256:<hex>` of the exact bytes that were compiled.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: usize,
    /// Everything the component imports.
    pub imports: Vec<String>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// The `sieve:model` version it was built against.
    pub api_version: String,
    /// Whether the compiled code came from the cache.
    pub cache_use: CacheUse,
    /// Time to compile or load the compiled code.
    pub load_time: Duration,
    pre: SupervisionModelPre<RunState>,
}

/// What one call into a model produced.
#[derive(Debug)]
pub struct Execution {
    /// How it ended.
    pub outcome: Outcome,
    /// Accepted clues, in emission order.
    pub clues: Vec<Clue>,
    /// Fuel consumed.
    pub fuel_consumed: u64,
    /// Peak linear memory.
    pub peak_memory_bytes: usize,
    /// Wall time inside the guest, instantiation included.
    pub wall: Duration,
    /// Log lines.
    pub logs: Vec<LogLine>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Last progress report.
    pub progress: Option<(u64, u64)>,
    /// Cells (rows x columns) handed to the guest.
    pub cells_read: u64,
}

const WASM_MAGIC: [u8; 4] = *b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

impl Sandbox {
    /// Build the engine (Cranelift, fuel, epochs, NaN canonicalization) and the linker.
    /// `cache_dir` holds compiled artifacts; `None` compiles every time.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .strategy(Strategy::Cranelift)
            .cranelift_opt_level(OptLevel::Speed)
            .wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
            .max_wasm_stack(1 << 20)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(instance_pool()));
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("configuring wasmtime: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        SupervisionModel::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow::anyhow!("linking sieve:model: {e}"))?;
        start_epoch_ticker(&engine);
        let cache = cache_dir.map(|dir| cache::CompiledCache::new(dir, &engine));
        Ok(Sandbox { engine, linker, cache })
    }

    /// Verify and compile a component: hash check (if `expected` is given) before anything else,
    /// then the same bytes are compiled (or their verified cached artifact loaded), then the
    /// imports are checked against the allow-list.
    pub fn load(&self, bytes: &[u8], expected: Option<&str>) -> Result<Plugin, Outcome> {
        let digest = digest_of(bytes);
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Outcome::HashMismatch { expected: expected.to_string(), actual: digest });
        }
        if bytes.len() < 8 || bytes[..4] != WASM_MAGIC {
            return Err(Outcome::InvalidComponent("not a WebAssembly file (no \\0asm header)".into()));
        }
        if bytes[4..8] == CORE_MODULE_VERSION {
            return Err(Outcome::InvalidComponent(
                "this is a core WebAssembly module, not a component: build the model for wasm32-wasip2"
                    .into(),
            ));
        }
        let started = Instant::now();
        let hex = digest.trim_start_matches("sha256:");
        let loaded = match &self.cache {
            Some(cache) => cache.load(&self.engine, bytes, hex),
            None => wasmtime::component::Component::new(&self.engine, bytes).map(|c| (c, CacheUse::Compiled)),
        };
        let (component, cache_use) = loaded.map_err(|e| Outcome::InvalidComponent(format!("{e:#}")))?;
        let load_time = started.elapsed();

        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        for name in &imports {
            imports::check_import(name).map_err(Outcome::LinkError)?;
        }
        let api_version = imports::api_version(exports.iter().map(String::as_str)).ok_or_else(|| {
            Outcome::LinkError(format!(
                "the component does not export sieve:model/model (it exports: {})",
                exports.join(", ")
            ))
        })?;
        if !imports::SUPPORTED_API_VERSIONS.contains(&api_version.as_str()) {
            return Err(Outcome::LinkError(format!(
                "the component targets sieve:model@{api_version}; this host serves {}",
                imports::SUPPORTED_API_VERSIONS.join(", ")
            )));
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(SupervisionModelPre::new)
            .map_err(|e| Outcome::LinkError(format!("{e:#}")))?;
        Ok(Plugin { digest, size: bytes.len(), imports, exports, api_version, cache_use, load_time, pre })
    }

    fn store(&self, limits: &Limits, tables: Arc<[LoadedTable]>, seed: [u8; 32]) -> Store<RunState> {
        let mut store = Store::new(&self.engine, RunState::new(limits.clone(), tables, seed));
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        // Fuel is always metered; "off" is an unreachable budget, so the code is the same either way.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        let ticks =
            (limits.deadline.as_millis() as u64 * limits::EPOCH_TICKS_PER_SECOND).div_ceil(1000).max(1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// Call `describe()` in a fresh store and check the answer is sane.
    pub fn describe(&self, plugin: &Plugin, limits: &Limits) -> Result<ModelInfo, Outcome> {
        let mut store = self.store(limits, Arc::from(Vec::new()), [0; 32]);
        let instance = plugin.pre.instantiate(&mut store).map_err(|e| classify(e, &store))?;
        let info = instance.sieve_model_model().call_describe(&mut store).map_err(|e| classify(e, &store))?;
        let info =
            model_info(info).map_err(|m| Outcome::ModelError(format!("describe() is not sane: {m}")))?;
        check_info(&info).map_err(|m| Outcome::ModelError(format!("describe() is not sane: {m}")))?;
        Ok(info)
    }

    /// Run the model on `tables` (already loaded for its declared inputs) with `params`, in a
    /// fresh store. `seed` seeds the guest's random numbers; `on_progress` hears the guest's
    /// progress reports.
    pub fn execute(
        &self,
        plugin: &Plugin,
        tables: Arc<[LoadedTable]>,
        params: &Params,
        limits: &Limits,
        seed: [u8; 32],
        on_progress: Option<state::ProgressFn>,
    ) -> Execution {
        let started = Instant::now();
        let mut store = self.store(limits, tables, seed);
        store.data_mut().on_progress = on_progress;
        let params: Vec<w::Param> = params
            .iter()
            .map(|(name, value)| w::Param { name: name.clone(), value: wit_param(value) })
            .collect();
        let outcome = match plugin.pre.instantiate(&mut store) {
            Err(e) => classify(e, &store),
            Ok(instance) => match instance.sieve_model_model().call_run(&mut store, &params) {
                Ok(Ok(())) => Outcome::Completed,
                Ok(Err(e)) => Outcome::ModelError(match e {
                    w::ModelError::BadParam(m) => format!("bad parameter: {m}"),
                    w::ModelError::BadData(m) => format!("bad data: {m}"),
                    w::ModelError::Failed(m) => m,
                }),
                Err(e) => classify(e, &store),
            },
        };
        let wall = started.elapsed();
        let fuel_left = store.get_fuel().unwrap_or(0);
        let fuel_consumed = limits.fuel.unwrap_or(u64::MAX) - fuel_left;
        let state = store.into_data();
        Execution {
            outcome,
            clues: state.clues,
            fuel_consumed,
            peak_memory_bytes: state.peak_memory,
            wall,
            logs: state.logs,
            stdout: String::from_utf8_lossy(&state.stdout.contents()).into_owned(),
            stderr: String::from_utf8_lossy(&state.stderr.contents()).into_owned(),
            progress: state.progress,
            cells_read: state.cells_read,
        }
    }
}

/// Advance the engine's epoch at a fixed rate for as long as the engine lives.
/// Runs reuse pooled instance slots: a model's linear memory stays mapped between runs (zeroed with
/// `memset` up to [`KEEP_RESIDENT`]) instead of being unmapped and faulted back in page by page,
/// which cost a data-heavy run about 12,000 page faults.
fn instance_pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(CONCURRENT_RUNS)
        .total_memories(CONCURRENT_RUNS * 2)
        .total_tables(CONCURRENT_RUNS * 4)
        .total_core_instances(CONCURRENT_RUNS * 16)
        .max_memories_per_module(1)
        .table_elements(100_000)
        .linear_memory_keep_resident(KEEP_RESIDENT);
    pool
}

/// Instances that may be alive at once in one process (runs in parallel, plus vetting).
const CONCURRENT_RUNS: u32 = 32;
/// Bytes of each pooled linear memory kept mapped between runs.
const KEEP_RESIDENT: usize = 128 << 20;

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::spawn(move || {
        let period = Duration::from_millis(1000 / limits::EPOCH_TICKS_PER_SECOND);
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(period);
        }
    });
}

/// Turn a wasmtime error into a typed outcome, by type, never by message text.
fn classify(err: wasmtime::Error, store: &Store<RunState>) -> Outcome {
    if let Some(stop) = err.downcast_ref::<HostStop>() {
        return match stop {
            HostStop::Memory { .. } => Outcome::MemoryLimit(stop.to_string()),
            HostStop::Output(m) => Outcome::OutputLimit(m.clone()),
            HostStop::InvalidClue(_) => Outcome::ModelError(stop.to_string()),
        };
    }
    let backtrace: Vec<String> = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| {
                    f.func_name().map_or_else(|| format!("<function {}>", f.func_index()), str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let panic = String::from_utf8_lossy(&store.data().stderr.contents()).trim().to_string();
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Outcome::OutOfFuel,
        Some(Trap::Interrupt) => Outcome::DeadlineExceeded,
        Some(trap) => {
            let message = if panic.is_empty() { trap.to_string() } else { format!("{trap}: {panic}") };
            Outcome::Trap { message, backtrace }
        }
        None => Outcome::Trap { message: format!("{err:#}"), backtrace },
    }
}

fn wit_param(value: &ParamValue) -> w::ParamValue {
    match value {
        ParamValue::Int(v) => w::ParamValue::Int(*v),
        ParamValue::Float(v) => w::ParamValue::Float(*v),
        ParamValue::Boolean(v) => w::ParamValue::Boolean(*v),
        ParamValue::Text(v) => w::ParamValue::Text(v.clone()),
    }
}

fn column_type(t: w::ColumnType) -> ColumnType {
    match t {
        w::ColumnType::Text => ColumnType::Text,
        w::ColumnType::Int64 => ColumnType::Int64,
        w::ColumnType::Float64 => ColumnType::Float64,
        w::ColumnType::Boolean => ColumnType::Boolean,
        w::ColumnType::Date => ColumnType::Date,
        w::ColumnType::Timestamp => ColumnType::Timestamp,
    }
}

fn model_info(info: w::ModelInfo) -> Result<ModelInfo, String> {
    for p in &info.params {
        let agrees = matches!(
            (&p.type_, &p.default),
            (w::ParamType::Int, w::ParamValue::Int(_))
                | (w::ParamType::Float, w::ParamValue::Float(_))
                | (w::ParamType::Boolean, w::ParamValue::Boolean(_))
                | (w::ParamType::Text, w::ParamValue::Text(_))
        );
        if !agrees {
            return Err(format!("parameter {:?}: the default does not have the declared type", p.name));
        }
    }
    Ok(ModelInfo {
        name: info.name,
        version: info.version,
        summary: info.summary,
        task: info.task,
        subject_kind: info.subject_kind,
        inputs: info
            .inputs
            .into_iter()
            .map(|t| TableSpec {
                name: t.name,
                columns: t
                    .columns
                    .into_iter()
                    .map(|c| ColumnSpec { name: c.name, ty: column_type(c.type_) })
                    .collect(),
            })
            .collect(),
        params: info
            .params
            .into_iter()
            .map(|p| {
                let default = match p.default {
                    w::ParamValue::Int(v) => ParamValue::Int(v),
                    w::ParamValue::Float(v) => ParamValue::Float(v),
                    w::ParamValue::Boolean(v) => ParamValue::Boolean(v),
                    w::ParamValue::Text(v) => ParamValue::Text(v),
                };
                ParamSpec { name: p.name, default, description: p.description }
            })
            .collect(),
    })
}

/// What "describe() sane" means: named, versioned, a task, at least one input, no duplicates.
fn check_info(info: &ModelInfo) -> Result<(), String> {
    if info.name.trim().is_empty() || info.version.trim().is_empty() || info.task.trim().is_empty() {
        return Err("name, version and task must not be empty".into());
    }
    if info.inputs.is_empty() {
        return Err("it declares no input tables".into());
    }
    let mut tables = std::collections::BTreeSet::new();
    for t in &info.inputs {
        if !tables.insert(&t.name) {
            return Err(format!("table {:?} is declared twice", t.name));
        }
        let mut cols = std::collections::BTreeSet::new();
        for c in &t.columns {
            if !cols.insert(&c.name) {
                return Err(format!("column {}.{} is declared twice", t.name, c.name));
            }
        }
    }
    let mut params = std::collections::BTreeSet::new();
    for p in &info.params {
        if !params.insert(&p.name) {
            return Err(format!("parameter {:?} is declared twice", p.name));
        }
    }
    Ok(())
}

/// The digest of a run's output: sha256 over the clues as JSON lines, in emission order.
pub fn output_digest(clues: &[Clue]) -> String {
    format!("sha256:{}", sha256_hex(crate::clues::to_jsonl(clues).as_bytes()))
}
