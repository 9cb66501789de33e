//! Per-run store state and the host side of `sieve:model/host`: table reads, clue intake, logs.

use std::sync::Arc;

use sieve_sdk::data::{Column, Values};
use sieve_sdk::{Clue, Evidence, LogLevel};
use wasmtime::ResourceLimiter;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::sieve::model::{host, types as w};
use super::limits::Limits;
use crate::datasets::LoadedTable;

/// Why the host stopped a guest from inside a host call or a memory grow.
#[derive(Debug, thiserror::Error)]
pub enum HostStop {
    /// Memory growth past the limit.
    #[error("the guest asked for {requested} bytes of memory; the limit is {limit}")]
    Memory {
        /// Bytes requested in total.
        requested: usize,
        /// The limit.
        limit: usize,
    },
    /// Too much output.
    #[error("{0}")]
    Output(String),
    /// A clue that breaks the contract.
    #[error("invalid clue: {0}")]
    InvalidClue(String),
}

/// An open table, as the guest's `table` resource.
pub struct TableHandle {
    index: usize,
}

/// One logged line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Text.
    pub message: String,
}

/// Everything a store holds for one run.
pub struct RunState {
    wasi: WasiCtx,
    resources: ResourceTable,
    limits: Limits,
    tables: Arc<[LoadedTable]>,
    memory_total: usize,
    /// Highest total linear memory seen, in bytes.
    pub peak_memory: usize,
    /// Clues accepted so far.
    pub clues: Vec<Clue>,
    output_bytes: usize,
    /// Log lines.
    pub logs: Vec<LogLine>,
    log_bytes: usize,
    /// The last progress report.
    pub progress: Option<(u64, u64)>,
    /// Cells handed to the guest (rows x columns), for throughput figures.
    pub cells_read: u64,
    /// Captured stdout.
    pub stdout: MemoryOutputPipe,
    /// Captured stderr.
    pub stderr: MemoryOutputPipe,
    /// Told of every progress report, e.g. to draw a progress bar.
    pub on_progress: Option<ProgressFn>,
}

/// A callback for the guest's progress reports: (done, total).
pub type ProgressFn = Box<dyn FnMut(u64, u64) + Send>;

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
    /// seeded from `seed`), bounded stdout/stderr, and the tables the run may read.
    pub fn new(limits: Limits, tables: Arc<[LoadedTable]>, seed: [u8; 32]) -> Self {
        let stdout = MemoryOutputPipe::new(limits.max_stdio_bytes);
        let stderr = MemoryOutputPipe::new(limits.max_stdio_bytes);
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
            .secure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed.iter().rev().copied().collect()))
            .insecure_random_seed(u128::from_le_bytes(insecure_seed))
            .build();
        RunState {
            wasi,
            resources: ResourceTable::new(),
            limits,
            tables,
            memory_total: 0,
            peak_memory: 0,
            clues: Vec::new(),
            output_bytes: 0,
            logs: Vec::new(),
            log_bytes: 0,
            progress: None,
            cells_read: 0,
            stdout,
            stderr,
            on_progress: None,
        }
    }

    fn handle(&self, res: &Resource<TableHandle>) -> wasmtime::Result<&LoadedTable> {
        let index = self.resources.get(res)?.index;
        self.tables.get(index).ok_or_else(|| wasmtime::Error::msg("stale table handle"))
    }

    fn check_clue(&self, clue: &Clue) -> Result<usize, String> {
        if clue.subject.trim().is_empty() || clue.subject.len() > 1024 {
            return Err(format!("subject {:?} must be 1-1024 bytes", clue.subject));
        }
        if !(clue.score.is_finite() && (0.0..=1.0).contains(&clue.score)) {
            return Err(format!("{}: score {} is not in [0, 1]", clue.subject, clue.score));
        }
        if clue.rule.is_empty() || clue.rule.len() > 64 {
            return Err(format!("{}: rule {:?} must be 1-64 bytes", clue.subject, clue.rule));
        }
        if clue.reason.len() > 4096 || clue.evidence.len() > 256 {
            return Err(format!("{}: reason over 4096 bytes or over 256 evidence rows", clue.subject));
        }
        for e in &clue.evidence {
            let table = self.tables.iter().find(|t| t.spec.name == e.table).ok_or_else(|| {
                format!(
                    "{}: evidence names table {:?}, which the model did not declare",
                    clue.subject, e.table
                )
            })?;
            if e.row >= table.rows as u64 {
                return Err(format!(
                    "{}: evidence row {} of {:?} is past its {} rows",
                    clue.subject, e.row, e.table, table.rows
                ));
            }
        }
        Ok(clue.subject.len()
            + clue.rule.len()
            + clue.reason.len()
            + clue.evidence.iter().map(|e| e.table.len() + 8).sum::<usize>())
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
        if total > self.limits.memory_bytes {
            return Err(wasmtime::Error::new(HostStop::Memory {
                requested: total,
                limit: self.limits.memory_bytes,
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

fn column_data(column: &Column, start: usize, end: usize) -> w::ColumnData {
    match &column.values {
        Values::Text(t) => {
            let (bytes, offsets) = t.raw();
            let base = offsets[start];
            w::ColumnData::Text(w::TextColumn {
                bytes: bytes[base as usize..offsets[end] as usize].to_string(),
                offsets: offsets[start..=end].iter().map(|o| o - base).collect(),
            })
        }
        Values::Dictionary { indices, .. } => w::ColumnData::Dictionary(indices[start..end].to_vec()),
        Values::Int64(v) => w::ColumnData::Int64(v[start..end].to_vec()),
        Values::Float64(v) => w::ColumnData::Float64(v[start..end].to_vec()),
        Values::Boolean(v) => w::ColumnData::Boolean(v[start..end].to_vec()),
        Values::Date(v) => w::ColumnData::Date(v[start..end].to_vec()),
        Values::Timestamp(v) => w::ColumnData::Timestamp(v[start..end].to_vec()),
    }
}

/// Converts an SDK column type to its WIT twin.
pub fn wit_column_type(ty: sieve_sdk::ColumnType) -> w::ColumnType {
    use sieve_sdk::ColumnType as C;
    match ty {
        C::Text => w::ColumnType::Text,
        C::Int64 => w::ColumnType::Int64,
        C::Float64 => w::ColumnType::Float64,
        C::Boolean => w::ColumnType::Boolean,
        C::Date => w::ColumnType::Date,
        C::Timestamp => w::ColumnType::Timestamp,
    }
}

impl w::Host for RunState {}

impl host::HostTable for RunState {
    fn row_count(&mut self, res: Resource<TableHandle>) -> wasmtime::Result<u64> {
        Ok(self.handle(&res)?.rows as u64)
    }

    fn schema(&mut self, res: Resource<TableHandle>) -> wasmtime::Result<Vec<w::ColumnSpec>> {
        let table = self.handle(&res)?;
        Ok(table
            .spec
            .columns
            .iter()
            .map(|c| w::ColumnSpec { name: c.name.clone(), type_: wit_column_type(c.ty) })
            .collect())
    }

    fn read(
        &mut self,
        res: Resource<TableHandle>,
        columns: Vec<String>,
        start: u64,
        max_rows: u32,
    ) -> wasmtime::Result<Result<w::Batch, w::AccessError>> {
        let table = self.handle(&res)?;
        let begin = (start.min(table.rows as u64)) as usize;
        let end = begin.saturating_add(max_rows as usize).min(table.rows);
        let mut out = Vec::with_capacity(columns.len());
        for name in &columns {
            // Least privilege: only declared columns were loaded, so nothing else can be read.
            let Some(column) = table.column(name) else {
                return Ok(Err(w::AccessError::UndeclaredColumn(format!("{}.{name}", table.spec.name))));
            };
            let validity =
                column.validity.as_ref().map(|v| v.slice(begin, end)).filter(|v| v.null_count() > 0);
            out.push(w::Column {
                name: name.clone(),
                data: column_data(column, begin, end),
                validity: validity.map(|v| v.as_bytes().to_vec()),
            });
        }
        let batch = w::Batch { start: begin as u64, len: (end - begin) as u32, columns: out };
        self.cells_read += (end - begin) as u64 * columns.len() as u64;
        Ok(Ok(batch))
    }

    fn dictionary(
        &mut self,
        res: Resource<TableHandle>,
        column: String,
    ) -> wasmtime::Result<Result<w::TextColumn, w::AccessError>> {
        let table = self.handle(&res)?;
        let Some(col) = table.column(&column) else {
            return Ok(Err(w::AccessError::UndeclaredColumn(format!("{}.{column}", table.spec.name))));
        };
        match &col.values {
            Values::Dictionary { dictionary, .. } => {
                let (bytes, offsets) = dictionary.raw();
                Ok(Ok(w::TextColumn { bytes: bytes.to_string(), offsets: offsets.to_vec() }))
            }
            _ => Ok(Err(w::AccessError::NotDictionary(format!("{}.{column}", table.spec.name)))),
        }
    }

    fn drop(&mut self, res: Resource<TableHandle>) -> wasmtime::Result<()> {
        self.resources.delete(res)?;
        Ok(())
    }
}

impl host::Host for RunState {
    fn open_table(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<TableHandle>, w::AccessError>> {
        // Only declared tables were loaded; `labels` can never be among them.
        let Some(index) = self.tables.iter().position(|t| t.spec.name == name) else {
            return Ok(Err(w::AccessError::UnknownTable(name)));
        };
        Ok(Ok(self.resources.push(TableHandle { index })?))
    }

    fn emit(&mut self, clues: Vec<w::Clue>) -> wasmtime::Result<()> {
        for c in clues {
            if self.clues.len() >= self.limits.max_clues {
                return Err(wasmtime::Error::new(HostStop::Output(format!(
                    "the model emitted more than {} clues (--max-clues)",
                    self.limits.max_clues
                ))));
            }
            let clue = Clue {
                subject: c.subject,
                score: c.score,
                rule: c.rule,
                reason: c.reason,
                evidence: c.evidence.into_iter().map(|e| Evidence { table: e.table, row: e.row }).collect(),
            };
            let bytes = self.check_clue(&clue).map_err(|m| wasmtime::Error::new(HostStop::InvalidClue(m)))?;
            self.output_bytes += bytes;
            if self.output_bytes > self.limits.max_output_bytes {
                return Err(wasmtime::Error::new(HostStop::Output(format!(
                    "the model emitted more than {} bytes of clues (--max-output-bytes)",
                    self.limits.max_output_bytes
                ))));
            }
            self.clues.push(clue);
        }
        Ok(())
    }

    fn log(&mut self, level: w::LogLevel, message: String) -> wasmtime::Result<()> {
        self.log_bytes += message.len();
        if self.log_bytes > self.limits.max_log_bytes {
            return Err(wasmtime::Error::new(HostStop::Output(format!(
                "the model logged more than {} bytes (--max-log-bytes)",
                self.limits.max_log_bytes
            ))));
        }
        let level = match level {
            w::LogLevel::Debug => LogLevel::Debug,
            w::LogLevel::Info => LogLevel::Info,
            w::LogLevel::Warn => LogLevel::Warn,
            w::LogLevel::Error => LogLevel::Error,
        };
        self.logs.push(LogLine { level, message });
        Ok(())
    }

    fn progress(&mut self, done: u64, total: u64) -> wasmtime::Result<()> {
        self.progress = Some((done, total));
        if let Some(f) = &mut self.on_progress {
            f(done, total);
        }
        Ok(())
    }
}
