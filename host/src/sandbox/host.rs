//! The host side of `sieve:model/host`: table reads, clue intake, logs and progress.
//!
//! Arguments arrive lazily (`WasmStr`, `WasmList`): wasmtime only checks that they lie inside the
//! guest's memory, and every size is checked here before the host copies or allocates anything.
//! Every call is charged fuel for the host's work, and what the host keeps for the guest (clues,
//! log lines) or hands it (batches, lowered straight from the served columns by `lowering`)
//! counts against the run's host memory budget.

use std::sync::Arc;

use sieve_sdk::data::{Column, Dictionary, Values};
use sieve_sdk::{Clue, Evidence, LogLevel};
use wasmtime::component::{ComponentType, Lift, Linker, Resource, ResourceType, WasmList, WasmStr};
use wasmtime::{StoreContextMut, Trap};

use super::bindings::sieve::model::types as w;
use super::grouping;
use super::lowering::{
    self, BatchOut, ColumnOut, GroupingOut, RawBatchOut, RawColumnOut, RawTextOut, TextOut,
};
use super::state::{HostStop, LogLine, RunState, TableHandle};
use crate::text::{prefix, quote};
use sieve_sdk::model::clue_limits::{
    MAX_EVIDENCE_ROWS, MAX_REASON_BYTES, MAX_RULE_BYTES, MAX_SUBJECT_BYTES, is_control,
};

/// The interfaces this module implements, as guests import them.
const HOST_INTERFACE: &str = "sieve:model/host@0.1.3";
const TYPES_INTERFACE: &str = "sieve:model/types@0.1.3";

/// Fuel charged for any host call, on top of its work: about what the guest would burn doing a
/// small amount of work itself, so a loop of cheap host calls cannot outrun the budget.
pub const CALL_FUEL: u64 = 5_000;
/// Bytes the host copies per unit of fuel charged.
pub const BYTES_PER_FUEL: u64 = 1;
/// Fuel charged per row grouped by `table.group`: about what the host's counting sort costs, in
/// the units a guest would burn for the same work.
pub const GROUP_FUEL_PER_ROW: u64 = 24;
/// `table.matches`: the most values one call may name, and the longest value.
pub const MAX_MATCH_VALUES: usize = 4096;
pub const MAX_MATCH_VALUE_BYTES: usize = 1024;
/// Fuel charged per row flagged by `table.matches` (and per dictionary code looked up).
pub const MATCH_FUEL_PER_ROW: u64 = 8;
/// `table.read-rows`: the most rows one call may name (the SDK's chunk size).
pub const MAX_READ_ROWS: usize = sieve_sdk::context::MAX_ROWS_PER_CALL;
/// Fuel charged per clue for validating it.
pub const CLUE_FUEL: u64 = 1_000;
/// Bytes each log line counts against `--max-log-bytes` besides its text.
pub const LOG_LINE_OVERHEAD: usize = 64;
/// Tables a guest may hold open at once.
pub const MAX_OPEN_TABLES: usize = 256;
/// Host bytes a kept clue costs besides its text (the record and its vectors).
const CLUE_OVERHEAD: usize = std::mem::size_of::<Clue>();
const EVIDENCE_OVERHEAD: usize = std::mem::size_of::<Evidence>();

/// A clue as the guest hands it over: nothing copied yet.
#[derive(ComponentType, Lift)]
#[component(record)]
struct ClueArg {
    subject: WasmStr,
    score: f64,
    rule: WasmStr,
    reason: WasmStr,
    evidence: WasmList<EvidenceArg>,
}

/// A batch of clues as columns (0.1.2), as the guest hands it over: nothing copied yet.
#[derive(ComponentType, Lift)]
#[component(record)]
struct ClueColumnsArg {
    subjects: WasmList<u8>,
    #[component(name = "subject-offsets")]
    subject_offsets: WasmList<u8>,
    rules: WasmList<u8>,
    #[component(name = "rule-offsets")]
    rule_offsets: WasmList<u8>,
    reasons: WasmList<u8>,
    #[component(name = "reason-offsets")]
    reason_offsets: WasmList<u8>,
    scores: WasmList<u8>,
    evidence: WasmList<u8>,
    #[component(name = "evidence-offsets")]
    evidence_offsets: WasmList<u8>,
}

/// Bytes of one (u32 table, u32 row) evidence pair.
const PAIR_BYTES: usize = 8;

/// An evidence row as the guest hands it over.
#[derive(ComponentType, Lift)]
#[component(record)]
struct EvidenceArg {
    table: WasmStr,
    row: u64,
}

type Store<'a> = StoreContextMut<'a, RunState>;
type Answer<T> = wasmtime::Result<(T,)>;

/// Link `sieve:model/host` and `sieve:model/types` into `linker`.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    linker.instance(TYPES_INTERFACE)?;
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.resource("table", ResourceType::host::<TableHandle>(), |mut store, rep| {
        let state = store.data_mut();
        state.table().delete(Resource::<TableHandle>::new_own(rep))?;
        state.open_tables = state.open_tables.saturating_sub(1);
        Ok(())
    })?;
    host.func_wrap("open-table", open_table)?;
    host.func_wrap("emit", emit)?;
    host.func_wrap("emit-columns", emit_columns)?;
    host.func_wrap("log", log)?;
    host.func_wrap("progress", progress)?;
    host.func_wrap("[method]table.row-count", row_count)?;
    host.func_wrap("[method]table.schema", schema)?;
    host.func_wrap("[method]table.read", read)?;
    host.func_wrap("[method]table.dictionary", dictionary)?;
    host.func_wrap("[method]table.dictionary-id", dictionary_id)?;
    host.func_wrap("[method]table.read-raw", read_raw)?;
    host.func_wrap("[method]table.dictionary-raw", dictionary_raw)?;
    host.func_wrap("[method]table.group", group)?;
    host.func_wrap("[method]table.matches", matches)?;
    host.func_wrap("[method]table.read-rows", read_rows)?;
    host.func_wrap("[method]table.dictionary-size", dictionary_size)?;
    Ok(())
}

/// Take `units` of fuel for host work; running out is the run's `out-of-fuel`.
pub fn charge(store: &mut Store<'_>, units: u64) -> wasmtime::Result<()> {
    let left = store.get_fuel()?;
    if units > left {
        store.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    store.set_fuel(left - units)?;
    store.data_mut().host_fuel += units;
    Ok(())
}

fn stop(s: HostStop) -> wasmtime::Error {
    wasmtime::Error::new(s)
}

fn open_table(
    mut store: Store<'_>,
    (name,): (WasmStr,),
) -> Answer<Result<Resource<TableHandle>, w::AccessError>> {
    charge(&mut store, CALL_FUEL)?;
    let name = name.to_str(&store)?;
    let Some(index) = store.data().tables.iter().position(|t| t.spec.name == *name) else {
        return Ok((Err(w::AccessError::UnknownTable(prefix(&name, 64))),));
    };
    let state = store.data_mut();
    if state.open_tables >= MAX_OPEN_TABLES {
        return Err(stop(HostStop::Misuse(format!(
            "the model holds {MAX_OPEN_TABLES} tables open; drop one before opening another"
        ))));
    }
    let handle = state.table().push(TableHandle { index })?;
    state.open_tables += 1;
    Ok((Ok(handle),))
}

fn row_count(mut store: Store<'_>, (handle,): (Resource<TableHandle>,)) -> Answer<u64> {
    charge(&mut store, CALL_FUEL)?;
    let state = store.data();
    Ok((state.tables[state.tables_handle(&handle)?].rows as u64,))
}

fn schema(mut store: Store<'_>, (handle,): (Resource<TableHandle>,)) -> Answer<Vec<w::ColumnSpec>> {
    charge(&mut store, CALL_FUEL)?;
    let state = store.data();
    let table = &state.tables[state.tables_handle(&handle)?];
    Ok((table
        .spec
        .columns
        .iter()
        .map(|c| w::ColumnSpec { name: c.name.clone(), type_: wit_column_type(c.ty) })
        .collect(),))
}

/// The batch `read` and `read-raw` serve: which table, which of its columns (each declared column
/// at most once), and which rows; or the access error the guest gets. The host memory and fuel for
/// the batch's bytes are taken here, before anything is lowered.
struct Picked {
    tables: Arc<[super::state::ServedTable]>,
    index: usize,
    columns: Vec<usize>,
    begin: usize,
    end: usize,
}

fn pick_batch(
    store: &mut Store<'_>,
    handle: &Resource<TableHandle>,
    names: &WasmList<WasmStr>,
    start: u64,
    max_rows: u32,
) -> wasmtime::Result<Result<Picked, w::AccessError>> {
    let (tables, index, picked) = match pick_columns(store, handle, names, "table.read")? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let table = &tables[index];
    let begin = start.min(table.rows as u64) as usize;
    let end = begin.saturating_add(max_rows as usize).min(table.rows);
    let bytes: usize = picked.iter().map(|&c| batch_bytes(&table.columns[c], begin, end)).sum();
    store.data_mut().reserve_host("a table.read batch", bytes, false).map_err(stop)?;
    charge(store, bytes as u64 / BYTES_PER_FUEL)?;
    store.data_mut().cells_read += ((end - begin) * picked.len()) as u64;
    Ok(Ok(Picked { tables, index, columns: picked, begin, end }))
}

/// The table behind `handle` and the positions of the columns `names` (each declared column at
/// most once, so an answer can never be larger than the table), charged for the call; or the
/// access error for an undeclared one. `call` names the method in a misuse's message.
#[allow(clippy::type_complexity)]
fn pick_columns(
    store: &mut Store<'_>,
    handle: &Resource<TableHandle>,
    names: &WasmList<WasmStr>,
    call: &str,
) -> wasmtime::Result<Result<(Arc<[super::state::ServedTable]>, usize, Vec<usize>), w::AccessError>> {
    charge(store, CALL_FUEL)?;
    let tables = store.data().tables.clone();
    let index = store.data().tables_handle(handle)?;
    let table = &tables[index];
    if names.len() > table.columns.len() {
        return Err(stop(HostStop::Misuse(format!(
            "{call} asked {} for {} columns; it has {} declared, and each may be named once",
            table.spec.name,
            names.len(),
            table.columns.len()
        ))));
    }
    let mut picked: Vec<usize> = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let Some(name) = names.get(&mut *store, i) else { break };
        let name = name?;
        let name = name.to_str(&*store)?;
        match table.columns.iter().position(|c| c.name == *name) {
            None => {
                let column = format!("{}.{}", table.spec.name, prefix(&name, 64));
                return Ok(Err(w::AccessError::UndeclaredColumn(column)));
            }
            Some(c) if picked.contains(&c) => {
                return Err(stop(HostStop::Misuse(format!(
                    "{call} named column {}.{} twice",
                    table.spec.name,
                    quote(&name)
                ))));
            }
            Some(c) => picked.push(c),
        }
    }
    Ok(Ok((tables, index, picked)))
}

impl Picked {
    /// Rows `begin..end` of column `c`'s validity, when any of them is null.
    fn validity(&self, c: usize) -> Option<Vec<u8>> {
        let column = &self.tables[self.index].columns[c];
        let validity = column.validity.as_ref().map(|v| v.slice(self.begin, self.end));
        validity.filter(|v| v.null_count() > 0).map(|v| v.as_bytes().to_vec())
    }
}

fn read(
    mut store: Store<'_>,
    (handle, names, start, max_rows): (Resource<TableHandle>, WasmList<WasmStr>, u64, u32),
) -> Answer<Result<BatchOut, w::AccessError>> {
    let p = match pick_batch(&mut store, &handle, &names, start, max_rows)? {
        Ok(p) => p,
        Err(e) => return Ok((Err(e),)),
    };
    let columns = p
        .columns
        .iter()
        .map(|&c| ColumnOut {
            name: p.tables[p.index].columns[c].name.clone(),
            data: lowering::column_data(&p.tables, p.index, c, p.begin, p.end),
            validity: p.validity(c),
        })
        .collect();
    Ok((Ok(BatchOut { start: p.begin as u64, len: (p.end - p.begin) as u32, columns }),))
}

/// Wait for `column`'s dictionary text, if it is a dictionary column whose text a stored run is
/// still reading beside the model; a dictionary that could not be read stops the run.
fn dictionary_text_ready(column: &Column) -> wasmtime::Result<()> {
    if let Values::Dictionary { dictionary, .. } = &column.values {
        dictionary.try_text().map_err(|e| stop(HostStop::Unreadable(format!("{}: {e}", column.name))))?;
    }
    Ok(())
}

/// The named columns at chosen rows, text decoded (0.1.3). The row list's length is checked
/// before it is copied, every row against the table, and the answer's bytes are reserved and
/// charged before anything is gathered.
fn read_rows(
    mut store: Store<'_>,
    (handle, names, rows): (Resource<TableHandle>, WasmList<WasmStr>, WasmList<u32>),
) -> Answer<Result<Vec<w::Column>, w::AccessError>> {
    let (tables, index, picked) = match pick_columns(&mut store, &handle, &names, "table.read-rows")? {
        Ok(found) => found,
        Err(e) => return Ok((Err(e),)),
    };
    let table = &tables[index];
    if rows.len() > MAX_READ_ROWS {
        return Err(stop(HostStop::Misuse(format!(
            "table.read-rows was given {} rows of {}; at most {MAX_READ_ROWS} a call",
            rows.len(),
            table.spec.name
        ))));
    }
    let listed = rows.len() * 4;
    store.data_mut().reserve_host("a table.read-rows row list", listed, false).map_err(stop)?;
    charge(&mut store, listed as u64 / BYTES_PER_FUEL)?;
    let rows: Vec<u32> = rows.as_le_slice(&store).to_vec();
    if let Some(&past) = rows.iter().find(|&&r| r as usize >= table.rows) {
        return Err(stop(HostStop::Misuse(format!(
            "table.read-rows asked for row {past} of {}, which has {} rows",
            table.spec.name, table.rows
        ))));
    }
    for &c in &picked {
        dictionary_text_ready(&table.columns[c])?;
    }
    let bytes: usize = picked
        .iter()
        .map(|&c| table.columns[c].values.gathered_bytes(&rows) + rows.len().div_ceil(8))
        .sum::<usize>()
        + listed;
    store.data_mut().reserve_host("a table.read-rows answer", bytes, false).map_err(stop)?;
    charge(&mut store, bytes as u64 / BYTES_PER_FUEL)?;
    store.data_mut().cells_read += (rows.len() * picked.len()) as u64;
    let columns = picked.iter().map(|&c| wit_column(table.columns[c].gather(&rows))).collect();
    Ok((Ok(columns),))
}

/// A gathered column as the WIT's `column` (text is never dictionary-coded here).
fn wit_column(column: Column) -> w::Column {
    let data = match column.values {
        Values::Text(t) => {
            let (bytes, offsets) = t.into_parts();
            w::ColumnData::Text(w::TextColumn { bytes, offsets })
        }
        Values::Dictionary { indices, .. } => w::ColumnData::Dictionary(indices),
        Values::Int64(v) => w::ColumnData::Int64(v),
        Values::Float64(v) => w::ColumnData::Float64(v),
        Values::Boolean(v) => w::ColumnData::Boolean(v),
        Values::Date(v) => w::ColumnData::Date(v),
        Values::Timestamp(v) => w::ColumnData::Timestamp(v),
    };
    w::Column { name: column.name, data, validity: column.validity.map(|v| v.as_bytes().to_vec()) }
}

/// `read` with each column as little-endian bytes (0.1.2): the same checks, the same charges.
fn read_raw(
    mut store: Store<'_>,
    (handle, names, start, max_rows): (Resource<TableHandle>, WasmList<WasmStr>, u64, u32),
) -> Answer<Result<RawBatchOut, w::AccessError>> {
    let p = match pick_batch(&mut store, &handle, &names, start, max_rows)? {
        Ok(p) => p,
        Err(e) => return Ok((Err(e),)),
    };
    let columns = p
        .columns
        .iter()
        .map(|&c| {
            let (layout, values, offsets) = lowering::raw_column(&p.tables, p.index, c, p.begin, p.end);
            let name = p.tables[p.index].columns[c].name.clone();
            RawColumnOut { name, layout, values, offsets, validity: p.validity(c) }
        })
        .collect();
    Ok((Ok(RawBatchOut { start: p.begin as u64, len: (p.end - p.begin) as u32, columns }),))
}

/// The call on one column of a table: charged, then the served table behind `handle` and the
/// position of its column `name`, or the access error the guest gets for an undeclared one.
/// Every method that names a single column comes through here.
fn declared_column(
    store: &mut Store<'_>,
    handle: &Resource<TableHandle>,
    name: WasmStr,
) -> wasmtime::Result<Result<(usize, usize), w::AccessError>> {
    charge(store, CALL_FUEL)?;
    let name = name.to_str(&*store)?;
    let index = store.data().tables_handle(handle)?;
    let table = &store.data().tables[index];
    Ok(match table.columns.iter().position(|c| c.name == *name) {
        Some(position) => Ok((index, position)),
        None => Err(w::AccessError::UndeclaredColumn(format!("{}.{}", table.spec.name, prefix(&name, 64)))),
    })
}

/// A served dictionary: the table, the column, and the dictionary itself.
type ServedDictionary = (usize, usize, Arc<Dictionary>);

/// The served dictionary of a column, charged and reserved for, or the access error.
fn served_dictionary(
    store: &mut Store<'_>,
    handle: &Resource<TableHandle>,
    name: WasmStr,
) -> wasmtime::Result<Result<ServedDictionary, w::AccessError>> {
    let (index, position, dictionary) = match coded_column(store, handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    dictionary_text_ready(&store.data().tables[index].columns[position])?;
    let (text, offsets) = dictionary.raw();
    let bytes = text.len() + offsets.len() * 4;
    store.data_mut().reserve_host("a column dictionary", bytes, false).map_err(stop)?;
    charge(store, bytes as u64 / BYTES_PER_FUEL)?;
    Ok(Ok((index, position, dictionary)))
}

/// A declared column's position and its dictionary, or `not-dictionary` for a column not coded.
fn coded_column(
    store: &mut Store<'_>,
    handle: &Resource<TableHandle>,
    name: WasmStr,
) -> wasmtime::Result<Result<ServedDictionary, w::AccessError>> {
    let (index, position) = match declared_column(store, handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let table = &store.data().tables[index];
    let column = &table.columns[position];
    match &column.values {
        Values::Dictionary { dictionary, .. } => Ok(Ok((index, position, dictionary.clone()))),
        _ => Ok(Err(w::AccessError::NotDictionary(format!("{}.{}", table.spec.name, column.name)))),
    }
}

fn dictionary(
    mut store: Store<'_>,
    (handle, name): (Resource<TableHandle>, WasmStr),
) -> Answer<Result<TextOut, w::AccessError>> {
    let (index, position, dictionary) = match served_dictionary(&mut store, &handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok((Err(e),)),
    };
    let tables = store.data().tables.clone();
    Ok((Ok(lowering::dictionary(&tables, index, position, &dictionary)),))
}

/// `dictionary` as bytes (0.1.2).
fn dictionary_raw(
    mut store: Store<'_>,
    (handle, name): (Resource<TableHandle>, WasmStr),
) -> Answer<Result<RawTextOut, w::AccessError>> {
    let (index, position, dictionary) = match served_dictionary(&mut store, &handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok((Err(e),)),
    };
    let tables = store.data().tables.clone();
    Ok((Ok(lowering::dictionary_raw(&tables, index, position, &dictionary)),))
}

/// The rows of a table grouped by one declared column (0.1.2). The host's working memory and the
/// result are reserved before any of it is allocated, and the work is charged per row.
fn group(
    mut store: Store<'_>,
    (handle, name, min_rows): (Resource<TableHandle>, WasmStr, u32),
) -> Answer<Result<GroupingOut, w::AccessError>> {
    let (index, position) = match declared_column(&mut store, &handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok((Err(e),)),
    };
    let tables = store.data().tables.clone();
    let column = &tables[index].columns[position];
    let bytes = grouping::working_bytes(column) + grouping::result_bytes(column);
    store.data_mut().reserve_host("a table.group", bytes, false).map_err(stop)?;
    charge(&mut store, (column.len() as u64).saturating_mul(GROUP_FUEL_PER_ROW))?;
    // Charged and reserved as if computed, so that what a run is charged never depends on what
    // an earlier run left.
    let groups = match &store.data().groupings {
        Some(kept) => kept.group(index, position, column, min_rows),
        None => Arc::new(grouping::group(column, min_rows)),
    };
    charge(&mut store, groups.bytes() as u64 / BYTES_PER_FUEL)?;
    store.data_mut().cells_read += column.len() as u64;
    Ok((Ok(lowering::grouping(groups)),))
}

/// The id of a dictionary-encoded column's dictionary: its place among the distinct
/// dictionaries of the run's tables, in table and column order (columns share an id exactly
/// when they share the dictionary).
fn dictionary_id(
    mut store: Store<'_>,
    (handle, name): (Resource<TableHandle>, WasmStr),
) -> Answer<Result<u32, w::AccessError>> {
    let wanted = match coded_column(&mut store, &handle, name)? {
        Ok((_, _, dictionary)) => dictionary,
        Err(e) => return Ok((Err(e),)),
    };
    let tables = &store.data().tables;
    let mut seen: Vec<&Arc<Dictionary>> = Vec::new();
    for c in tables.iter().flat_map(|t| &t.columns) {
        if let Values::Dictionary { dictionary, .. } = &c.values
            && !seen.iter().any(|d| Arc::ptr_eq(d, dictionary))
        {
            seen.push(dictionary);
        }
    }
    let id = seen.iter().position(|d| Arc::ptr_eq(d, &wanted)).unwrap_or(0);
    Ok((Ok(id as u32),))
}

/// How many entries a dictionary-encoded column's dictionary holds (0.1.3): what a guest sizes
/// its code arrays with before, or instead of, fetching the text.
fn dictionary_size(
    mut store: Store<'_>,
    (handle, name): (Resource<TableHandle>, WasmStr),
) -> Answer<Result<u32, w::AccessError>> {
    match coded_column(&mut store, &handle, name)? {
        Ok((_, _, dictionary)) => Ok((Ok(dictionary.len() as u32),)),
        Err(e) => Ok((Err(e),)),
    }
}

/// Which rows of a text column hold one of the given values (0.1.2). The values' count and sizes
/// are checked before any is copied; the host's work is charged per row and per dictionary code.
fn matches(
    mut store: Store<'_>,
    (handle, name, values): (Resource<TableHandle>, WasmStr, WasmList<WasmStr>),
) -> Answer<Result<Vec<u8>, w::AccessError>> {
    let (index, position) = match declared_column(&mut store, &handle, name)? {
        Ok(found) => found,
        Err(e) => return Ok((Err(e),)),
    };
    if values.len() > MAX_MATCH_VALUES {
        return Err(stop(HostStop::Misuse(format!(
            "table.matches was given {} values; at most {MAX_MATCH_VALUES}",
            values.len()
        ))));
    }
    let mut wanted = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        let Some(value) = values.get(&mut store, i) else { break };
        let value = text(&store, &value?, "a table.matches value", MAX_MATCH_VALUE_BYTES)
            .map_err(|m| stop(HostStop::Misuse(m)))?;
        wanted.push(value);
    }
    let tables = store.data().tables.clone();
    let column = &tables[index].columns[position];
    dictionary_text_ready(column)?;
    let codes = match &column.values {
        Values::Dictionary { dictionary, .. } => dictionary.len(),
        _ => 0,
    };
    let work = column.len() + codes + wanted.iter().map(|w| w.len() + 64).sum::<usize>();
    store.data_mut().reserve_host("a table.matches", work, false).map_err(stop)?;
    charge(&mut store, ((column.len() + codes) as u64).saturating_mul(MATCH_FUEL_PER_ROW))?;
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let Some(flags) = grouping::matches(column, &wanted) else {
        return Err(stop(HostStop::Misuse(format!(
            "table.matches works on text columns; {}.{} is not text",
            tables[index].spec.name, column.name
        ))));
    };
    store.data_mut().cells_read += column.len() as u64;
    Ok((Ok(flags),))
}

fn emit(mut store: Store<'_>, (clues,): (WasmList<ClueArg>,)) -> wasmtime::Result<()> {
    make_room_for(&mut store, clues.len())?;
    // The records themselves (pointers and lengths, no text yet) in one pass: one lifting context
    // for the batch rather than one per clue. Their count was checked above.
    store
        .data_mut()
        .reserve_host("a batch of clue records", clues.len() * std::mem::size_of::<ClueArg>(), false)
        .map_err(stop)?;
    let args: Vec<wasmtime::Result<ClueArg>> = clues.iter(&mut store)?.collect();
    for (i, arg) in args.into_iter().enumerate() {
        let arg = arg.map_err(|e| stop(HostStop::InvalidClue(format!("clue {i} cannot be read: {e}"))))?;
        let clue = check_record(&mut store, &arg).map_err(|m| stop(HostStop::InvalidClue(m)))?;
        keep_clue(&mut store, clue)?;
    }
    Ok(())
}

/// `emit` with the clues as columns (0.1.2). Every list's size is checked against the clue
/// count and the run's output limit before any of it is copied; then each clue goes through the
/// same checks as a record.
fn emit_columns(
    mut store: Store<'_>,
    (tables, columns): (WasmList<WasmStr>, ClueColumnsArg),
) -> wasmtime::Result<()> {
    let invalid = |m: String| stop(HostStop::InvalidClue(m));
    let served = store.data().tables.clone();
    if tables.len() > served.len() {
        return Err(invalid(format!(
            "emit-columns named {} tables; the run has {}",
            tables.len(),
            served.len()
        )));
    }
    let mut named = Vec::with_capacity(tables.len());
    for i in 0..tables.len() {
        let Some(name) = tables.get(&mut store, i) else { break };
        let name = name?;
        let name = name.to_str(&store)?;
        let Some(index) = served.iter().position(|t| t.spec.name == *name) else {
            return Err(invalid(format!(
                "evidence names table {}, which the model did not declare",
                quote(&name)
            )));
        };
        named.push(index);
    }
    let c = &columns;
    if c.scores.len() % 8 != 0 {
        return Err(invalid(format!("emit-columns: scores are {} bytes, not whole f64s", c.scores.len())));
    }
    let n = c.scores.len() / 8;
    make_room_for(&mut store, n)?;
    for (name, list) in [
        ("subject-offsets", &c.subject_offsets),
        ("rule-offsets", &c.rule_offsets),
        ("reason-offsets", &c.reason_offsets),
        ("evidence-offsets", &c.evidence_offsets),
    ] {
        if list.len() != 4 * (n + 1) {
            return Err(invalid(format!(
                "emit-columns: {name} is {} bytes; {n} clues need {}",
                list.len(),
                4 * (n + 1)
            )));
        }
    }
    let text = c.subjects.len() + c.rules.len() + c.reasons.len();
    let (max_text, max_pairs) =
        (n * (MAX_SUBJECT_BYTES + MAX_RULE_BYTES + MAX_REASON_BYTES), n * MAX_EVIDENCE_ROWS);
    if text > max_text || c.evidence.len() > max_pairs * PAIR_BYTES || c.evidence.len() % PAIR_BYTES != 0 {
        return Err(invalid(format!(
            "emit-columns: {text} bytes of text and {} of evidence are more than {n} clues may hold, or not whole pairs",
            c.evidence.len()
        )));
    }
    let state = store.data();
    if state.output_bytes.saturating_add(text) > state.limits.max_output_bytes {
        return Err(stop(HostStop::Output(format!(
            "the model emitted more than {} bytes of clues (--max-output-bytes)",
            state.limits.max_output_bytes
        ))));
    }
    let copied = text + c.scores.len() + c.evidence.len() + 16 * (n + 1);
    store.data_mut().reserve_host("a batch of clue columns", copied, false).map_err(stop)?;
    let bytes = |list: &WasmList<u8>, store: &Store<'_>| list.as_le_slice(store).to_vec();
    let words = |list: &WasmList<u8>, store: &Store<'_>| -> Vec<u32> {
        list.as_le_slice(store)
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    };
    let (subjects, rules, reasons) =
        (bytes(&c.subjects, &store), bytes(&c.rules, &store), bytes(&c.reasons, &store));
    let (scores, evidence) = (bytes(&c.scores, &store), bytes(&c.evidence, &store));
    let offsets = [&c.subject_offsets, &c.rule_offsets, &c.reason_offsets, &c.evidence_offsets]
        .map(|l| words(l, &store));
    let field = |data: &'_ [u8], at: &[u32], i: usize, what: &str| -> Result<String, String> {
        let (from, to) = (at[i] as usize, at[i + 1] as usize);
        let slice = data.get(from..to).ok_or_else(|| {
            format!("clue {i}: {what} offsets {from}..{to} are out of order or past {} bytes", data.len())
        })?;
        std::str::from_utf8(slice).map(str::to_string).map_err(|_| format!("clue {i}: {what} is not UTF-8"))
    };
    for i in 0..n {
        let subject = field(&subjects, &offsets[0], i, "subject").map_err(invalid)?;
        let rule = field(&rules, &offsets[1], i, "rule").map_err(invalid)?;
        let reason = field(&reasons, &offsets[2], i, "reason").map_err(invalid)?;
        let score = f64::from_le_bytes(scores[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
        let (from, to) = (offsets[3][i] as usize, offsets[3][i + 1] as usize);
        let pairs = evidence.get(from * PAIR_BYTES..to * PAIR_BYTES).ok_or_else(|| {
            invalid(format!("clue {i}: evidence offsets {from}..{to} are out of order or past the pairs"))
        })?;
        let mut rows = Vec::with_capacity(pairs.len() / PAIR_BYTES);
        for pair in pairs.chunks_exact(PAIR_BYTES) {
            let table = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]) as usize;
            let row = u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
            let index = *named.get(table).ok_or_else(|| {
                invalid(format!(
                    "{}: evidence names table {table}; emit-columns was given {}",
                    quote(&subject),
                    named.len()
                ))
            })?;
            rows.push((index, u64::from(row)));
        }
        let clue = check_clue(&served, subject, score, rule, reason, rows).map_err(invalid)?;
        keep_clue(&mut store, clue)?;
    }
    Ok(())
}

/// Refuse a batch of `n` more clues past `--max-clues`, and charge for checking them.
fn make_room_for(store: &mut Store<'_>, n: usize) -> wasmtime::Result<()> {
    let max = store.data().limits.max_clues;
    if n > max - store.data().clues.len() {
        return Err(stop(HostStop::Output(format!("the model emitted more than {max} clues (--max-clues)"))));
    }
    charge(store, CALL_FUEL.saturating_add(n as u64 * CLUE_FUEL))
}

/// Keep a checked clue: within the output and host memory budgets, charged for what it holds.
fn keep_clue(store: &mut Store<'_>, clue: Clue) -> wasmtime::Result<()> {
    let text = clue.subject.len() + clue.rule.len() + clue.reason.len();
    let held = CLUE_OVERHEAD + text + clue.evidence.len() * EVIDENCE_OVERHEAD;
    let state = store.data_mut();
    state.output_bytes += text + clue.evidence.len() * 8;
    if state.output_bytes > state.limits.max_output_bytes {
        return Err(stop(HostStop::Output(format!(
            "the model emitted more than {} bytes of clues (--max-output-bytes)",
            state.limits.max_output_bytes
        ))));
    }
    state.reserve_host("the clues emitted", held, true).map_err(stop)?;
    charge(store, held as u64 / BYTES_PER_FUEL)?;
    store.data_mut().clues.push(clue);
    Ok(())
}

/// A clue record's fields, each size checked before it is copied, then `check_clue`.
fn check_record(store: &mut Store<'_>, arg: &ClueArg) -> Result<Clue, String> {
    let subject = text(store, &arg.subject, "subject", MAX_SUBJECT_BYTES)?;
    let rule =
        text(store, &arg.rule, "rule", MAX_RULE_BYTES).map_err(|m| format!("{}: {m}", quote(&subject)))?;
    let reason = text(store, &arg.reason, "reason", MAX_REASON_BYTES)
        .map_err(|m| format!("{}: {m}", quote(&subject)))?;
    if arg.evidence.len() > MAX_EVIDENCE_ROWS {
        return Err(format!(
            "{}: {} evidence rows, over {MAX_EVIDENCE_ROWS}",
            quote(&subject),
            arg.evidence.len()
        ));
    }
    let tables = store.data().tables.clone();
    let records: Vec<wasmtime::Result<EvidenceArg>> = arg
        .evidence
        .iter(&mut *store)
        .map_err(|e| format!("{}: evidence cannot be read: {e}", quote(&subject)))?
        .collect();
    let mut rows = Vec::with_capacity(records.len());
    for (i, e) in records.into_iter().enumerate() {
        let e = e.map_err(|e| format!("{}: evidence {i} cannot be read: {e}", quote(&subject)))?;
        let name =
            e.table.to_str(&*store).map_err(|e| format!("{}: evidence table: {e}", quote(&subject)))?;
        let index = tables.iter().position(|t| t.spec.name == *name).ok_or_else(|| {
            format!(
                "{}: evidence names table {}, which the model did not declare",
                quote(&subject),
                quote(&name)
            )
        })?;
        rows.push((index, e.row));
    }
    check_clue(&tables, subject, arg.score, rule, reason, rows)
}

/// Check a clue against the contract, whichever form it came in: text sizes and characters, the
/// score's range, and evidence rows (served table, row) inside their tables.
fn check_clue(
    tables: &[super::state::ServedTable],
    subject: String,
    score: f64,
    rule: String,
    reason: String,
    rows: Vec<(usize, u64)>,
) -> Result<Clue, String> {
    if subject.len() > MAX_SUBJECT_BYTES || subject.trim().is_empty() || subject.chars().any(is_control) {
        return Err(format!(
            "subject {} must be 1-{MAX_SUBJECT_BYTES} bytes, non-blank, without control characters",
            quote(&subject)
        ));
    }
    if rule.len() > MAX_RULE_BYTES || rule.is_empty() || rule.chars().any(is_control) {
        return Err(format!(
            "{}: rule {} must be 1-{MAX_RULE_BYTES} bytes, without control characters",
            quote(&subject),
            quote(&rule)
        ));
    }
    if !(score.is_finite() && (0.0..=1.0).contains(&score)) {
        return Err(format!("{}: score {score} is not in [0, 1]", quote(&subject)));
    }
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!(
            "{}: reason is {} bytes, over {MAX_REASON_BYTES}",
            quote(&subject),
            reason.len()
        ));
    }
    if rows.len() > MAX_EVIDENCE_ROWS {
        return Err(format!("{}: {} evidence rows, over {MAX_EVIDENCE_ROWS}", quote(&subject), rows.len()));
    }
    let mut evidence = Vec::with_capacity(rows.len());
    for (index, row) in rows {
        let table = &tables[index];
        if row >= table.rows as u64 {
            return Err(format!(
                "{}: evidence row {row} of {} is past its {} rows",
                quote(&subject),
                table.spec.name,
                table.rows
            ));
        }
        evidence.push(Evidence { table: table.spec.name.clone(), row });
    }
    Ok(Clue { subject, score, rule, reason, evidence })
}

/// A guest string of at most `max` bytes, copied only once its size is known to fit.
fn text(store: &Store<'_>, s: &WasmStr, field: &str, max: usize) -> Result<String, String> {
    let value = s.to_str(store).map_err(|e| format!("{field}: {e}"))?;
    if value.len() > max {
        return Err(format!("{field} {} is {} bytes, over {max}", quote(&value), value.len()));
    }
    Ok(value.into_owned())
}

fn log(mut store: Store<'_>, (level, message): (w::LogLevel, WasmStr)) -> wasmtime::Result<()> {
    charge(&mut store, CALL_FUEL)?;
    let text = message.to_str(&store)?;
    let counted = LOG_LINE_OVERHEAD + text.len();
    let limits = &store.data().limits;
    if store.data().log_bytes.saturating_add(counted) > limits.max_log_bytes {
        return Err(stop(HostStop::Output(format!(
            "the model logged more than {} bytes (--max-log-bytes; each line counts {LOG_LINE_OVERHEAD} bytes besides its text)",
            limits.max_log_bytes
        ))));
    }
    let message = text.into_owned();
    let held = std::mem::size_of::<LogLine>() + message.len();
    let state = store.data_mut();
    state.log_bytes += counted;
    state.reserve_host("the log lines", held, true).map_err(stop)?;
    charge(&mut store, held as u64 / BYTES_PER_FUEL)?;
    let level = match level {
        w::LogLevel::Debug => LogLevel::Debug,
        w::LogLevel::Info => LogLevel::Info,
        w::LogLevel::Warn => LogLevel::Warn,
        w::LogLevel::Error => LogLevel::Error,
    };
    store.data_mut().logs.push(LogLine { level, message });
    Ok(())
}

fn progress(mut store: Store<'_>, (done, total): (u64, u64)) -> wasmtime::Result<()> {
    charge(&mut store, CALL_FUEL)?;
    let state = store.data_mut();
    state.progress = Some((done, total));
    if let Some(f) = &mut state.on_progress {
        f(done, total);
    }
    Ok(())
}

/// Bytes a batch of rows `begin..end` of `column` takes on the host before it is handed over.
fn batch_bytes(column: &Column, begin: usize, end: usize) -> usize {
    let rows = end - begin;
    let values = match &column.values {
        Values::Text(t) => {
            let (_, offsets) = t.raw();
            (offsets[end] - offsets[begin]) as usize + (rows + 1) * 4
        }
        Values::Dictionary { .. } | Values::Date(_) => rows * 4,
        Values::Int64(_) | Values::Float64(_) | Values::Timestamp(_) => rows * 8,
        Values::Boolean(_) => rows,
    };
    values + if column.validity.is_some() { rows.div_ceil(8) } else { 0 }
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
