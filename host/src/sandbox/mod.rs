//! The sandbox: one wasmtime engine per process, a fresh store per call, deny-by-default imports,
//! explicit limits, and typed outcomes.

pub mod bindings;
pub mod cache;
pub mod compile;
pub mod grouping;
pub mod host;
pub mod imports;
pub mod limits;
pub mod lowering;
pub mod names;
pub mod outcome;
pub mod sockets;
pub mod sql;
pub mod state;
pub mod wasi;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sieve_sdk::{Clue, ColumnSpec, ColumnType, ModelInfo, ParamSpec, ParamValue, Params, TableSpec};
use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store, Strategy, Trap,
    WasmBacktrace,
};

use crate::digest::digest_of;
use crate::text;
use bindings::sieve::model::types as w;
use bindings::{SupervisionModel, SupervisionModelPre};
pub use cache::CacheUse;
pub use limits::Limits;
pub use outcome::Outcome;
use state::{HostStop, LogLine, RunState};
pub use state::{PendingCheck, Served, ServedTable};

/// The process-wide engine and linker, plus the compiled-code cache. Cloning is cheap (the
/// engine and linker are shared), so sandbox work can move to a worker thread.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    // Behind an Arc: a wasmtime Linker clones every definition, and a server clones its state
    // (with this sandbox) on every request.
    linker: Arc<Linker<RunState>>,
    cache: Option<Arc<cache::CompiledCache>>,
    compiler: compile::Compiler,
    compile_limits: compile::CompileLimits,
    /// Components loaded lately, by digest, shared by every clone of this sandbox.
    loaded: Arc<std::sync::Mutex<Loaded>>,
}

/// The components a long-lived process loaded lately, most recent last. Running one again skips
/// loading its compiled code, and its instances reuse the pooled memory slots its earlier runs
/// left resident (the pool keeps a slot's pages for the same module), instead of faulting a
/// fresh memory in page by page.
#[derive(Default)]
struct Loaded {
    plugins: Vec<Plugin>,
}

/// Components kept loaded (each holds its compiled code, a few MiB).
const LOADED_PLUGINS: usize = 16;

impl Loaded {
    fn get(&mut self, digest: &str) -> Option<Plugin> {
        let at = self.plugins.iter().position(|p| p.digest == digest)?;
        let plugin = self.plugins.remove(at);
        self.plugins.push(plugin.clone());
        Some(plugin)
    }

    fn keep(&mut self, plugin: &Plugin) {
        self.plugins.retain(|p| p.digest != plugin.digest);
        if self.plugins.len() >= LOADED_PLUGINS {
            self.plugins.remove(0);
        }
        self.plugins.push(plugin.clone());
    }
}

/// What is known of a component before it is linked.
struct Loading {
    digest: String,
    size: usize,
    imports: Vec<String>,
    exports: Vec<String>,
    api_version: String,
}

/// The `sieve:model` version a component with these imports and exports targets, if it imports
/// only what the host allows and exports a supported version.
fn checked_interface(imports: &[String], exports: &[String]) -> Result<String, Outcome> {
    imports::check_imports(imports).map_err(Outcome::LinkError)?;
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
    Ok(api_version)
}

/// The engine settings every compilation and run shares (the compiler worker builds the same
/// engine, so its artifacts load here). Each setting that could make the same component give
/// different output on different hosts is pinned:
/// - NaN canonicalization: float results never depend on the CPU's NaN bit patterns;
/// - relaxed SIMD in its deterministic mode: no instruction takes the host's native answer;
/// - threads, shared memory and wide arithmetic stay off (wasmtime's default here): no data races;
/// - fuel and epochs change when a run stops, never what it computes;
/// - the guest sees frozen clocks and random numbers seeded from the run (see `state`).
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config
        .strategy(Strategy::Cranelift)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        // Backtraces name functions, never bytecode offsets: the map would add a tenth to every
        // artifact (40 MB to the SQL engine's) and to the time to verify it.
        .generate_address_map(false)
        .relaxed_simd_deterministic(true)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
        .max_wasm_stack(1 << 20);
    if std::env::var_os("SIEVE_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// A loaded, verified and link-checked component.
#[derive(Clone)]
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
    /// The SQL model this plugin (the SQL engine) runs, when it runs one.
    pub sql: Option<Arc<sql::SqlSource>>,
    /// What runs, by digest: the component's, or that of the SQL model it runs.
    pub identity: String,
}

impl Plugin {
    /// This plugin (the SQL engine) running SQL model `source`, known by digest `identity`.
    pub fn with_sql(mut self, source: sql::SqlSource, identity: String) -> Plugin {
        self.sql = Some(Arc::new(source));
        self.identity = identity;
        self
    }

    /// Whether the model reads shared dictionaries (see [`imports::shares_dictionaries`]).
    pub fn shares_dictionaries(&self) -> bool {
        imports::shares_dictionaries(&self.api_version)
    }
}

/// What one call into a model produced.
#[derive(Debug)]
pub struct Execution {
    /// How it ended.
    pub outcome: Outcome,
    /// Accepted clues, in emission order.
    pub clues: Vec<Clue>,
    /// Fuel consumed, instantiation, `describe()` and host work included.
    pub fuel_consumed: u64,
    /// The part of the fuel charged for host work on the guest's behalf.
    pub host_fuel: u64,
    /// Peak linear memory.
    pub peak_memory_bytes: usize,
    /// Peak host memory held on the guest's behalf.
    pub host_memory_peak_bytes: usize,
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
    /// `cache` is the compiled-code cache's directory and MAC key (`None` compiles every time).
    /// Compilation happens in this process; see [`Sandbox::compile_in_worker`].
    pub fn new(cache: Option<(PathBuf, Vec<u8>)>) -> anyhow::Result<Self> {
        let mut config = engine_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(instance_pool()));
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("configuring wasmtime: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        host::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("linking sieve:model: {e}"))?;
        sql::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("linking sieve:sql: {e}"))?;
        start_epoch_ticker(&engine);
        let cache = cache.map(|(dir, key)| Arc::new(cache::CompiledCache::new(dir, &engine, &key)));
        Ok(Sandbox {
            engine,
            linker: Arc::new(linker),
            cache,
            compiler: compile::Compiler::InProcess,
            compile_limits: compile::CompileLimits::default(),
            loaded: Arc::default(),
        })
    }

    /// Compile in a worker process (`program compile-worker`), with the compile limits' timeout
    /// and memory cap: how the CLI and the registry compile components they did not build.
    pub fn compile_in_worker(mut self, program: PathBuf) -> Self {
        self.compiler = compile::Compiler::Worker { program };
        self
    }

    /// Replace the compile limits.
    pub fn with_compile_limits(mut self, limits: compile::CompileLimits) -> Self {
        self.compile_limits = limits;
        self
    }

    /// What this engine's compiled code depends on (wasmtime's version and configuration):
    /// part of what makes two runs identical (see `runs::store`'s reuse of identical runs).
    pub fn engine_key(&self) -> String {
        cache::engine_key(&self.engine)
    }

    /// The limits components are compiled within.
    pub fn compile_limits(&self) -> &compile::CompileLimits {
        &self.compile_limits
    }

    /// Verify and compile a component: hash check (if `expected` is given) before anything else;
    /// then, without compiling, its size, imports (against the allow-list), exports and function
    /// shapes; then the same bytes are compiled within the compile limits (or their verified
    /// cached artifact loaded).
    pub fn load(&self, bytes: &[u8], expected: Option<&str>) -> Result<Plugin, Outcome> {
        let digest = digest_of(bytes);
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Outcome::HashMismatch { expected: expected.to_string(), actual: digest });
        }
        // These very bytes (their digest computed just now) were checked and loaded before.
        if let Some(plugin) = self.loaded(&digest) {
            return Ok(plugin);
        }
        let started = Instant::now();
        if bytes.len() < 8 || bytes[..4] != WASM_MAGIC {
            return Err(Outcome::InvalidComponent("not a WebAssembly file (no \\0asm header)".into()));
        }
        if bytes[4..8] == CORE_MODULE_VERSION {
            return Err(Outcome::InvalidComponent(
                "this is a core WebAssembly module, not a component: build the model for wasm32-wasip2"
                    .into(),
            ));
        }
        let shape = compile::scan(bytes, &self.compile_limits).map_err(Outcome::InvalidComponent)?;
        let compile::Shape { imports, exports, .. } = shape;
        let api_version = checked_interface(&imports, &exports)?;
        let hex = digest.trim_start_matches("sha256:");
        let compile = || compile::compile(&self.engine, bytes, &self.compiler, &self.compile_limits);
        let loaded = match &self.cache {
            Some(cache) => cache.load(&self.engine, hex, bytes.len(), compile),
            None => compile().and_then(|artifact| {
                // SAFETY: the artifact was produced just now, by this process or by the compiler
                // worker it started from its own executable, for an engine with this configuration.
                unsafe { wasmtime::component::Component::deserialize(&self.engine, &artifact) }
                    .map(|c| (c, CacheUse::Compiled))
                    .map_err(|e| format!("{e:#}"))
            }),
        };
        let (component, cache_use) = loaded.map_err(Outcome::InvalidComponent)?;
        let shape = Loading { digest, size: bytes.len(), imports, exports, api_version };
        self.ready(shape, component, cache_use, started)
    }

    /// The component pinned as `digest`: already loaded, or its verified artifact from the code
    /// cache (the component's bytes are then neither read nor hashed: the artifact's MAC binds it
    /// to the digest), or else [`Sandbox::load`] of what `bytes` returns, checked against the
    /// digest. How a stored run loads the SQL engine its model names.
    pub fn load_pinned(
        &self,
        digest: &str,
        bytes: impl FnOnce() -> Result<Vec<u8>, Outcome>,
    ) -> Result<Plugin, Outcome> {
        if let Some(plugin) = self.loaded(digest) {
            return Ok(plugin);
        }
        let started = Instant::now();
        let cached = match &self.cache {
            Some(cache) => cache.cached(&self.engine, digest.trim_start_matches("sha256:")),
            None => cache::Cached::Miss,
        };
        let discarded = match cached {
            cache::Cached::Hit(component, size) => {
                let ty = component.component_type();
                let imports: Vec<String> =
                    ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect();
                let exports: Vec<String> =
                    ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect();
                let api_version = checked_interface(&imports, &exports)?;
                let shape = Loading { digest: digest.to_string(), size, imports, exports, api_version };
                return self.ready(shape, component, CacheUse::Hit, started);
            }
            cache::Cached::Miss => false,
            cache::Cached::Discarded => true,
        };
        let mut plugin = self.load(&bytes()?, Some(digest))?;
        // The artifact that did not verify is gone already: this compile rebuilt it.
        if discarded && plugin.cache_use == CacheUse::Compiled {
            plugin.cache_use = CacheUse::Rebuilt;
        }
        Ok(plugin)
    }

    /// A loaded component linked and kept loaded.
    fn ready(
        &self,
        shape: Loading,
        component: wasmtime::component::Component,
        cache_use: CacheUse,
        started: Instant,
    ) -> Result<Plugin, Outcome> {
        let load_time = started.elapsed();
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(SupervisionModelPre::new)
            .map_err(|e| Outcome::LinkError(format!("{e:#}")))?;
        let Loading { digest, size, imports, exports, api_version } = shape;
        let plugin = Plugin {
            identity: digest.clone(),
            digest,
            size,
            imports,
            exports,
            api_version,
            cache_use,
            load_time,
            pre,
            sql: None,
        };
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.keep(&plugin);
        }
        Ok(plugin)
    }

    /// The component of digest `digest`, if this process loaded it lately: it was checked against
    /// that digest when it was loaded, so its bytes need not be read and hashed again (the SQL
    /// engine's are 100 MiB).
    pub fn loaded(&self, digest: &str) -> Option<Plugin> {
        let started = Instant::now();
        let mut plugin = self.loaded.lock().ok().and_then(|mut l| l.get(digest))?;
        plugin.cache_use = CacheUse::Loaded;
        plugin.load_time = started.elapsed();
        Some(plugin)
    }

    /// Forget the components kept loaded: the next load of each compiles it or reads its compiled
    /// code again (what a fresh process does; the benchmarks measure it).
    pub fn forget_loaded(&self) {
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.plugins.clear();
        }
    }

    fn store(&self, limits: &Limits, seed: [u8; 32]) -> Store<RunState> {
        let mut store = Store::new(&self.engine, RunState::new(limits.clone(), seed));
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        // Fuel is always metered; "off" is an unreachable budget, so the code is the same either way.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        // Host resources handed to the guest (tables, pollables, streams): a real model holds a few.
        store.set_max_component_handles(MAX_HANDLES);
        store
    }

    /// Instantiate `plugin` in a fresh store under `limits` (one budget for the whole run);
    /// `seed` seeds the guest's random numbers. Start functions and static initializers run
    /// under the `describe()` budget.
    pub fn instantiate(&self, plugin: &Plugin, limits: &Limits, seed: [u8; 32]) -> Result<Instance, Outcome> {
        let mut store = self.store(limits, seed);
        store.data_mut().sql = plugin.sql.clone();
        let mut instance =
            Instance { store, model: None, limits: limits.clone(), guest_time: Duration::ZERO };
        let model = instance.phase(Phase::Describe, |store| plugin.pre.instantiate(store))?;
        instance.model = Some(model);
        Ok(instance)
    }

    /// Call `describe()` alone (for `inspect`, publishing, vetting), under the describe budget.
    pub fn describe(&self, plugin: &Plugin) -> Result<ModelInfo, Outcome> {
        self.instantiate(plugin, &Limits::describe(), [0; 32])?.describe()
    }

    /// Instantiate, describe and run the model on `tables` (already loaded for its declared
    /// inputs) with `params`, in a fresh store: the whole of one run, for callers that load the
    /// tables beforehand (benchmarks, tests).
    pub fn execute(
        &self,
        plugin: &Plugin,
        tables: Arc<[ServedTable]>,
        params: &Params,
        limits: &Limits,
        seed: [u8; 32],
        on_progress: Option<state::ProgressFn>,
    ) -> Execution {
        let started = Instant::now();
        let mut instance = match self.instantiate(plugin, limits, seed) {
            Ok(i) => i,
            Err(outcome) => return Execution::failed(outcome, started.elapsed()),
        };
        if let Err(outcome) = instance.describe() {
            return instance.finish(outcome);
        }
        instance.run(tables, params, on_progress)
    }
}

/// Which part of a run the guest is in: each has its own caps within the run's one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Instantiation and `describe()`: small fixed caps.
    Describe,
    /// `run()`: whatever is left of the run's budget.
    Run,
}

/// A model instantiated for one run: `describe()` then `run()` in the same store, so both draw
/// on one budget of fuel, time and memory.
pub struct Instance {
    store: Store<RunState>,
    model: Option<SupervisionModel>,
    limits: Limits,
    guest_time: Duration,
}

impl Instance {
    /// Run `call` in the guest under `phase`'s caps, then charge what it used to the run.
    fn phase<T>(
        &mut self,
        phase: Phase,
        call: impl FnOnce(&mut Store<RunState>) -> wasmtime::Result<T>,
    ) -> Result<T, Outcome> {
        let fuel_left = self.store.get_fuel().unwrap_or(0);
        let time_left = self.limits.deadline.saturating_sub(self.guest_time);
        let (fuel, time, memory, hostcall_bytes) = match phase {
            Phase::Describe => (
                fuel_left.min(limits::DESCRIBE_FUEL),
                time_left.min(limits::DESCRIBE_DEADLINE),
                self.limits.memory_bytes.min(limits::DESCRIBE_MEMORY_BYTES),
                // describe() answers with a small record, lifted whole: keep it small.
                DESCRIBE_RESULT_BYTES,
            ),
            // Every sieve:model and WASI import that takes a guest-sized list lifts it lazily and
            // checks it itself, so wasmtime's per-call copy budget is not what stops anything.
            Phase::Run => (fuel_left, time_left, self.limits.memory_bytes, usize::MAX),
        };
        let state = self.store.data_mut();
        state.memory_cap = memory;
        state.memory_phase =
            if phase == Phase::Describe { " while instantiating and describing" } else { "" };
        let _ = self.store.set_fuel(fuel);
        self.store.set_epoch_deadline(limits::deadline_ticks(time));
        self.store.set_hostcall_fuel(hostcall_bytes);
        let started = Instant::now();
        let result = call(&mut self.store);
        self.guest_time += started.elapsed();
        let used = fuel - self.store.get_fuel().unwrap_or(0);
        let _ = self.store.set_fuel(fuel_left - used.min(fuel_left));
        result.map_err(|e| classify(e, &self.store, phase, &self.limits))
    }

    /// Call `describe()` and check the answer is sane.
    pub fn describe(&mut self) -> Result<ModelInfo, Outcome> {
        // Taken out for the call (the phase borrows the whole instance), then put back for `run`.
        let Some(model) = self.model.take() else {
            return Err(Outcome::ModelError("the model is not instantiated".into()));
        };
        let info = self.phase(Phase::Describe, |store| model.sieve_model_model().call_describe(store));
        self.model = Some(model);
        let info =
            model_info(info?).map_err(|m| Outcome::ModelError(format!("describe() is not sane: {m}")))?;
        if self.store.data().sql.is_some() && info.name == sql::PLAN_ERROR {
            return Err(Outcome::ModelError(format!("the SQL model cannot be planned: {}", info.summary)));
        }
        check_info(&info).map_err(|m| Outcome::ModelError(format!("describe() is not sane: {m}")))?;
        Ok(info)
    }

    /// Keep the run's groupings in `kept` (the tables it will read are kept for later runs).
    pub fn keep_groupings_in(&mut self, kept: Arc<grouping::Kept>) {
        self.store.data_mut().groupings = Some(kept);
    }

    /// Run the model on `tables` with `params`; `on_progress` hears its progress reports.
    pub fn run(
        mut self,
        tables: Arc<[ServedTable]>,
        params: &Params,
        on_progress: Option<state::ProgressFn>,
    ) -> Execution {
        // The budget grows with the data the model declared (`Limits::fuel_per_row`).
        let rows: u64 = tables.iter().map(|t| t.rows as u64).sum();
        if let (Some(budget), Some(grown)) = (self.limits.fuel, self.limits.fuel_for_rows(rows))
            && grown > budget
        {
            let left = self.store.get_fuel().unwrap_or(0);
            let _ = self.store.set_fuel(left.saturating_add(grown - budget));
            self.limits.fuel = Some(grown);
        }
        let state = self.store.data_mut();
        state.tables = tables;
        state.on_progress = on_progress;
        let params: Vec<w::Param> = params
            .iter()
            .map(|(name, value)| w::Param { name: name.clone(), value: wit_param(value) })
            .collect();
        let Some(model) = self.model.take() else {
            return self.finish(Outcome::ModelError("the model was not instantiated".into()));
        };
        let outcome = match self.phase(Phase::Run, |store| model.sieve_model_model().call_run(store, &params))
        {
            Ok(Ok(())) => Outcome::Completed,
            Ok(Err(e)) => Outcome::ModelError(match e {
                w::ModelError::BadParam(m) => format!("bad parameter: {}", text::prefix(&m, 1024)),
                w::ModelError::BadData(m) => format!("bad data: {}", text::prefix(&m, 1024)),
                w::ModelError::Failed(m) => text::prefix(&m, 1024),
            }),
            Err(outcome) => outcome,
        };
        self.finish(outcome)
    }

    /// The execution report for `outcome`, with everything the store accounted.
    fn finish(self, outcome: Outcome) -> Execution {
        let Instance { mut store, model, limits, guest_time } = self;
        let fuel_left = store.get_fuel().unwrap_or(0);
        let fuel_consumed = limits.fuel.unwrap_or(u64::MAX) - fuel_left;
        let state = store.data_mut();
        let execution = Execution {
            outcome,
            clues: std::mem::take(&mut state.clues),
            fuel_consumed,
            host_fuel: state.host_fuel,
            peak_memory_bytes: state.peak_memory,
            host_memory_peak_bytes: state.host_peak,
            wall: guest_time,
            logs: std::mem::take(&mut state.logs),
            stdout: String::from_utf8_lossy(&state.stdout.contents()).into_owned(),
            stderr: String::from_utf8_lossy(&state.stderr.contents()).into_owned(),
            progress: state.progress.take(),
            cells_read: state.cells_read,
        };
        // Dropping the store hands its linear memory back to the pool, which zeroes the pages the
        // run used (up to `KEEP_RESIDENT`: 13 ms for a T1 run's 140 MiB). That is nobody's wait,
        // so it happens on a thread of its own; the slot is reused once it is clean.
        let released =
            std::thread::Builder::new().name("sieve-release".into()).spawn(move || drop((model, store)));
        if let Err(e) = released {
            tracing::warn!("no thread to release a run's memory on ({e}); releasing it here");
        }
        execution
    }
}

impl Execution {
    fn failed(outcome: Outcome, wall: Duration) -> Execution {
        Execution {
            outcome,
            clues: Vec::new(),
            fuel_consumed: 0,
            host_fuel: 0,
            peak_memory_bytes: 0,
            host_memory_peak_bytes: 0,
            wall,
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            progress: None,
            cells_read: 0,
        }
    }
}

/// Most bytes `describe()`'s answer may take when lifted into the host.
const DESCRIBE_RESULT_BYTES: usize = 1 << 20;
/// Most resource handles a guest may hold (tables, pollables, streams).
const MAX_HANDLES: usize = 16_384;

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
        // A core instance's VM context grows with its function count: the SQL engine (DataFusion,
        // ~110,000 functions) needs 1.8 MiB, over the 1 MiB default. Address space, not memory:
        // the pool reserves it and touches only what an instance uses.
        .max_core_instance_size(MAX_CORE_INSTANCE_BYTES)
        .max_component_instance_size(MAX_CORE_INSTANCE_BYTES)
        .table_elements(100_000)
        .linear_memory_keep_resident(KEEP_RESIDENT);
    pool
}

/// Instances that may be alive at once in one process (runs in parallel, plus vetting).
const CONCURRENT_RUNS: u32 = 32;
/// The largest VM context of a core instance the pool makes room for.
const MAX_CORE_INSTANCE_BYTES: usize = 4 << 20;
/// Bytes of each pooled linear memory kept mapped between runs.
const KEEP_RESIDENT: usize = 128 << 20;

/// Advance the engine's epoch at a fixed rate for as long as the engine lives.
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
fn classify(err: wasmtime::Error, store: &Store<RunState>, phase: Phase, limits: &Limits) -> Outcome {
    let during = match phase {
        Phase::Describe => " while instantiating and describing",
        Phase::Run => "",
    };
    if let Some(stop) = err.downcast_ref::<HostStop>() {
        return match stop {
            HostStop::Memory { .. } | HostStop::HostMemory { .. } => Outcome::MemoryLimit(stop.to_string()),
            HostStop::Output(m) => Outcome::OutputLimit(m.clone()),
            HostStop::InvalidClue(_) | HostStop::Misuse(_) => Outcome::ModelError(stop.to_string()),
            HostStop::Unreadable(_) => Outcome::BadInput(stop.to_string()),
        };
    }
    let backtrace: Vec<String> = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|f| {
                    f.func_name()
                        .map_or_else(|| format!("<function {}>", f.func_index()), |n| text::prefix(n, 200))
                })
                .collect()
        })
        .unwrap_or_default();
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Outcome::OutOfFuel(match (phase, limits.fuel) {
            (Phase::Describe, _) => format!(
                "the model used more than the {:e} fuel that instantiation and describe() may take",
                limits::DESCRIBE_FUEL.min(limits.fuel.unwrap_or(u64::MAX)) as f64
            ),
            (Phase::Run, Some(fuel)) => {
                format!(
                    "the model used its {:e} fuel (raise --fuel, or --fuel 0 to turn it off)",
                    fuel as f64
                )
            }
            (Phase::Run, None) => "the model used all fuel".into(),
        }),
        Some(Trap::Interrupt) => Outcome::DeadlineExceeded(format!(
            "the model ran past its {:.2} s deadline{during}{}",
            match phase {
                Phase::Describe => limits::DESCRIBE_DEADLINE.min(limits.deadline),
                Phase::Run => limits.deadline,
            }
            .as_secs_f64(),
            if phase == Phase::Run { " (raise --deadline)" } else { "" }
        )),
        Some(trap) => {
            // The guest's stderr usually holds its panic message; quote only a short prefix.
            let stderr = String::from_utf8_lossy(&store.data().stderr.contents()).trim().to_string();
            let message = if stderr.is_empty() {
                format!("{trap}{during}")
            } else {
                format!("{trap}{during}: {}", text::prefix(&stderr, STDERR_IN_DETAIL))
            };
            Outcome::Trap { message, backtrace }
        }
        // Not a trap: wasmtime refused something the guest handed over (an answer over the
        // describe budget's copy limit, an invalid string) while lifting it.
        None if phase == Phase::Describe => Outcome::ModelError(format!(
            "describe() is not sane: its answer could not be taken ({})",
            text::prefix(&format!("{err:#}"), 512)
        )),
        None => Outcome::Trap { message: text::prefix(&format!("{err:#}"), 512), backtrace },
    }
}

/// Characters of the guest's stderr quoted in a trap's detail.
const STDERR_IN_DETAIL: usize = 512;

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

/// Largest answers `describe()` may give: tables, columns per table, parameters, text fields.
const MAX_TABLES: usize = 64;
const MAX_COLUMNS: usize = 256;
const MAX_PARAMS: usize = 64;
const MAX_LABEL_BYTES: usize = 128;
const MAX_PROSE_BYTES: usize = 4096;

/// What "describe() sane" means: named, versioned, a task; inputs that are identifiers (never
/// paths, never the labels), none twice; short fields without control characters.
fn check_info(info: &ModelInfo) -> Result<(), String> {
    for (field, value) in [
        ("name", &info.name),
        ("version", &info.version),
        ("task", &info.task),
        ("subject kind", &info.subject_kind),
    ] {
        if value.trim().is_empty() || value.len() > MAX_LABEL_BYTES || value.chars().any(text::is_control) {
            return Err(format!(
                "{field} {} must be 1-{MAX_LABEL_BYTES} bytes without control characters",
                text::quote(value)
            ));
        }
    }
    if info.summary.len() > MAX_PROSE_BYTES {
        return Err(format!("the summary is {} bytes, over {MAX_PROSE_BYTES}", info.summary.len()));
    }
    if info.inputs.is_empty() {
        return Err("it declares no input tables".into());
    }
    if info.inputs.len() > MAX_TABLES || info.params.len() > MAX_PARAMS {
        return Err(format!("at most {MAX_TABLES} tables and {MAX_PARAMS} parameters may be declared"));
    }
    let mut tables = std::collections::BTreeSet::new();
    for t in &info.inputs {
        if !names::is_identifier(&t.name) {
            return Err(format!(
                "table name {} is not an identifier ([a-z0-9_], 1-{} bytes)",
                text::quote(&t.name),
                names::MAX_NAME_BYTES
            ));
        }
        if t.name == names::LABELS_TABLE {
            return Err("table name \"labels\" is reserved: a model cannot read the labels".into());
        }
        if !tables.insert(&t.name) {
            return Err(format!("table {:?} is declared twice", t.name));
        }
        if t.columns.len() > MAX_COLUMNS {
            return Err(format!("table {} declares over {MAX_COLUMNS} columns", t.name));
        }
        let mut cols = std::collections::BTreeSet::new();
        for c in &t.columns {
            if !names::is_identifier(&c.name) {
                return Err(format!(
                    "column name {}.{} is not an identifier ([a-z0-9_], 1-{} bytes)",
                    t.name,
                    text::quote(&c.name),
                    names::MAX_NAME_BYTES
                ));
            }
            if !cols.insert(&c.name) {
                return Err(format!("column {}.{} is declared twice", t.name, c.name));
            }
        }
    }
    let mut params = std::collections::BTreeSet::new();
    for p in &info.params {
        if !names::is_param_name(&p.name) {
            return Err(format!(
                "parameter name {} is not a name ([a-z0-9_-], 1-{} bytes)",
                text::quote(&p.name),
                names::MAX_NAME_BYTES
            ));
        }
        if p.description.len() > MAX_PROSE_BYTES {
            return Err(format!("parameter {}: the description is over {MAX_PROSE_BYTES} bytes", p.name));
        }
        if !params.insert(&p.name) {
            return Err(format!("parameter {:?} is declared twice", p.name));
        }
    }
    Ok(())
}

/// The digest of a run's output: sha256 over the clues as JSON lines, in emission order.
pub fn output_digest(clues: &[Clue]) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    crate::clues::for_each_line(clues, |line| hasher.update(line));
    crate::digest::digest_of_hasher(hasher)
}
