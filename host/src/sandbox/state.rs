//! Per-run store state: the locked-down WASI context, the tables the run may read, what the guest
//! produced, and the accounting behind every limit (guest memory, host memory held on the guest's
//! behalf, output, logs).

use std::sync::Arc;

use sieve_sdk::data::Column;
use sieve_sdk::{Clue, LogLevel, TableSpec};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::Limits;
use super::outcome::Outcome;
use super::wasi::{BoundedPipe, MAX_RANDOM_BYTES};

/// Why the host stopped a guest from inside a host call or a memory grow. Each maps to a typed
/// outcome; none is ever recognised by its text.
#[derive(Debug, thiserror::Error)]
pub enum HostStop {
    /// Linear memory growth past the limit.
    #[error("the model asked for {requested} bytes of memory; the limit is {limit}{phase}")]
    Memory {
        /// Bytes requested in total.
        requested: usize,
        /// The limit.
        limit: usize,
        /// Which phase's limit (empty for the run's own).
        phase: &'static str,
    },
    /// Host memory held on the guest's behalf past the budget.
    #[error(
        "the host would hold {requested} bytes for the model ({what}); the host memory budget is {limit} (--max-host-mib)"
    )]
    HostMemory {
        /// What needed the memory.
        what: String,
        /// Bytes that would be held.
        requested: usize,
        /// The budget.
        limit: usize,
    },
    /// Too much output.
    #[error("{0}")]
    Output(String),
    /// A clue that breaks the contract.
    #[error("invalid clue: {0}")]
    InvalidClue(String),
    /// A host call used against its contract (a duplicate column, too many handles, ...).
    #[error("{0}")]
    Misuse(String),
    /// Data the run was served could not be read when the model first needed it (a dictionary
    /// read beside the model); the data's check reports the precise outcome.
    #[error("the dataset could not be read: {0}")]
    Unreadable(String),
}

/// A table as the sandbox serves it: the declared columns, already typed.
#[derive(Debug, Clone)]
pub struct ServedTable {
    /// What the model declared for this table.
    pub spec: TableSpec,
    /// Number of rows.
    pub rows: usize,
    /// The columns, in `spec` order.
    pub columns: Vec<Column>,
}

/// The tables served to a run, and the check of the bytes they were read from when it is still
/// under way (it runs on another core while the model does): the run's result counts only once
/// the check has passed.
pub struct Served {
    /// The tables, in the order the model declared them.
    pub tables: Arc<[ServedTable]>,
    /// The check still running, if any.
    pub check: Option<PendingCheck>,
    /// Where the run's groupings are kept for later runs of the same serving, if it is kept.
    pub groupings: Option<Arc<super::grouping::Kept>>,
}

impl Served {
    /// Tables with nothing left to check.
    pub fn checked(tables: Arc<[ServedTable]>) -> Served {
        Served { tables, check: None, groupings: None }
    }
}

/// A check of served tables running on a thread of its own.
pub struct PendingCheck(std::thread::JoinHandle<Result<(), Outcome>>);

impl PendingCheck {
    /// Start `check` on a thread of its own.
    pub fn start(check: impl FnOnce() -> Result<(), Outcome> + Send + 'static) -> PendingCheck {
        PendingCheck(std::thread::spawn(check))
    }

    /// Its verdict, once it has finished; a panic in it is raised here.
    pub fn wait(self) -> Result<(), Outcome> {
        self.0.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl ServedTable {
    /// The column called `name`, if declared.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// An open table, as the guest's `table` resource.
pub struct TableHandle {
    /// Index into the run's tables.
    pub index: usize,
}

/// One logged line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Text.
    pub message: String,
}

/// A callback for the guest's progress reports: (done, total).
pub type ProgressFn = Box<dyn FnMut(u64, u64) + Send>;

/// Everything a store holds for one run.
pub struct RunState {
    wasi: WasiCtx,
    resources: ResourceTable,
    /// The run's limits.
    pub limits: Limits,
    /// The tables the run may read (empty while `describe` runs).
    pub tables: Arc<[ServedTable]>,
    /// Where `table.group` keeps its groupings for later runs on the same tables, if anywhere.
    pub groupings: Option<Arc<super::grouping::Kept>>,
    /// Tables the guest holds open.
    pub open_tables: usize,
    memory_total: usize,
    /// The linear-memory cap of the current phase (`describe` has a smaller one).
    pub memory_cap: usize,
    /// Which phase the cap belongs to, for the message.
    pub memory_phase: &'static str,
    /// Highest total linear memory seen, in bytes.
    pub peak_memory: usize,
    /// Clues accepted so far.
    pub clues: Vec<Clue>,
    /// Bytes of clue text accepted so far.
    pub output_bytes: usize,
    /// Log lines.
    pub logs: Vec<LogLine>,
    /// Bytes counted against the log limit (each line counts at least its fixed overhead).
    pub log_bytes: usize,
    /// Host memory held for the guest: accepted clues and log lines.
    pub host_retained: usize,
    /// Highest host memory held for the guest, transient batches included.
    pub host_peak: usize,
    /// Fuel charged for host work (copies, clue checks, calls).
    pub host_fuel: u64,
    /// The last progress report.
    pub progress: Option<(u64, u64)>,
    /// Cells handed to the guest (rows x columns), for throughput figures.
    pub cells_read: u64,
    /// Captured stdout.
    pub stdout: BoundedPipe,
    /// Captured stderr.
    pub stderr: BoundedPipe,
    /// Told of every progress report, e.g. to draw a progress bar.
    pub on_progress: Option<ProgressFn>,
    /// The SQL model this run of the SQL engine runs (`sieve:sql/source`), if it is one.
    pub sql: Option<Arc<super::sql::SqlSource>>,
}

/// A wall clock frozen at 2020-01-01T00:00:00Z: guests get no timing side channel or
/// time-dependent behaviour, so runs are reproducible.
struct FixedWallClock;

impl wasmtime_wasi::HostWallClock for FixedWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1_577_836_800)
    }
}

/// A monotonic clock that never advances.
struct FixedMonotonicClock;

impl wasmtime_wasi::HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl RunState {
    /// Fresh state: locked-down WASI (no preopens, env, args or network; fixed clocks; random
    /// seeded from `seed`), bounded stdout/stderr, and no tables yet.
    pub fn new(limits: Limits, seed: [u8; 32]) -> Self {
        let stdout = BoundedPipe::new("stdout", limits.max_stdio_bytes);
        let stderr = BoundedPipe::new("stderr", limits.max_stdio_bytes);
        let mut insecure_seed = [0u8; 16];
        insecure_seed.copy_from_slice(&seed[..16]);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FixedWallClock)
            .monotonic_clock(FixedMonotonicClock)
            .max_random_size(MAX_RANDOM_BYTES)
            .secure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed.iter().rev().copied().collect()))
            .insecure_random_seed(u128::from_le_bytes(insecure_seed))
            .build();
        let memory_cap = limits.memory_bytes;
        RunState {
            wasi,
            resources: ResourceTable::new(),
            limits,
            tables: Arc::from(Vec::new()),
            groupings: None,
            open_tables: 0,
            memory_total: 0,
            memory_cap,
            memory_phase: "",
            peak_memory: 0,
            clues: Vec::new(),
            output_bytes: 0,
            logs: Vec::new(),
            log_bytes: 0,
            host_retained: 0,
            host_peak: 0,
            host_fuel: 0,
            progress: None,
            cells_read: 0,
            stdout,
            stderr,
            on_progress: None,
            sql: None,
        }
    }

    /// The resource table shared by WASI and the `table` resource.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.resources
    }

    /// The index of the table behind a guest's handle.
    pub fn tables_handle(
        &self,
        handle: &wasmtime::component::Resource<TableHandle>,
    ) -> wasmtime::Result<usize> {
        let index = self.resources.get(handle)?.index;
        if index >= self.tables.len() {
            return Err(wasmtime::Error::msg("stale table handle"));
        }
        Ok(index)
    }

    /// Check that holding `bytes` more (for `what`) stays within the host memory budget, and
    /// record the peak. Transient use (a batch being built) passes `retain = false`.
    pub fn reserve_host(&mut self, what: &str, bytes: usize, retain: bool) -> Result<(), HostStop> {
        let total = self.host_retained.saturating_add(bytes);
        if total > self.limits.host_memory_bytes {
            return Err(HostStop::HostMemory {
                what: what.to_string(),
                requested: total,
                limit: self.limits.host_memory_bytes,
            });
        }
        self.host_peak = self.host_peak.max(total);
        if retain {
            self.host_retained = total;
        }
        Ok(())
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.resources }
    }
}

impl ResourceLimiter for RunState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_total - current.min(self.memory_total) + desired;
        if total > self.memory_cap {
            return Err(wasmtime::Error::new(HostStop::Memory {
                requested: total,
                limit: self.memory_cap,
                phase: self.memory_phase,
            }));
        }
        self.memory_total = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Function tables of real models hold thousands of entries, not millions.
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        100
    }

    fn tables(&self) -> usize {
        100
    }

    fn memories(&self) -> usize {
        10
    }
}
