//! The SQL engine component. A SQL model is a header and one query (see [`header`]); the host
//! runs it by instantiating this component, which asks the host for the model's text and its
//! task's contract (`sieve:sql/source`) and exports `sieve:model/model` like any model:
//!
//! - `describe()` plans the query against empty tables of the contract's schema and declares, as
//!   the model's inputs, exactly the columns the optimized plan scans;
//! - `run()` loads those columns from the host, runs the query with the parameters bound as
//!   typed placeholders (`$name`), and emits a clue per result row: `subject`, `score`, `rule`,
//!   `reason`, and a `<table>__row` column per table whose rows are the evidence. On the
//!   parameters' defaults it runs the very plan `describe()` derived the inputs from.
//!
//! One thread, one partition: the sandbox's fuel and memory limits meter all of it.

/// `PartialEq`, `Eq` and `Hash` for a function of the engine's own: each instance is its own
/// function, so two are equal only under the same (unique) name.
macro_rules! named_function {
    ($function:ty) => {
        impl PartialEq for $function {
            fn eq(&self, other: &Self) -> bool {
                self.name == other.name
            }
        }

        impl Eq for $function {}

        impl std::hash::Hash for $function {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                std::hash::Hash::hash(&self.name, state);
            }
        }
    };
}

// Talc, not the C library's dlmalloc: DataFusion allocates and frees small objects by the million
// (planning alone spends a seventh of its time in malloc and free). With Talc the engine runs about
// 1% more wasm instructions (fuel) in less time: side by side on the bundled models at scale 100,
// 1% (T2) to 12% (T7) faster, the same clues, peak memory within 2 MiB. One thread: no lock.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

mod codes;
mod concat;
mod days;
mod dense;
mod fill;
mod header;
mod null_keys;
mod one_code;
mod ordered;
mod pack;
mod per_value;
mod rules;
mod share;
mod sides;
mod tables;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::Optimizer;
use datafusion::optimizer::optimize_projections::OptimizeProjections;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use sieve_sdk::{Clue, ColumnType, Context, Model, ModelError, ModelInfo, TableSpec, export_model};

use header::{Header, ParamKind};

wit_bindgen::generate!({ path: "../../wit/sql/sieve-sql.wit", world: "engine-imports" });

use sieve::sql::source;

/// The name a model takes when its query cannot be planned (`sieve:sql/source` documents it).
const PLAN_ERROR: &str = "sql-plan-error";

/// The engine, as a model.
pub struct SqlEngine;

/// A contract table: its name and typed columns.
type Contract = Vec<(String, Vec<(String, ColumnType)>)>;

fn column_type(kind: &str) -> Result<ColumnType, String> {
    Ok(match kind {
        "text" => ColumnType::Text,
        "int64" => ColumnType::Int64,
        "float64" => ColumnType::Float64,
        "boolean" => ColumnType::Boolean,
        "date" => ColumnType::Date,
        "timestamp" => ColumnType::Timestamp,
        other => return Err(format!("the host described a column of type {other:?}")),
    })
}

/// The model's header, query and task contract, from the host.
fn model() -> Result<(Header, String, Contract), String> {
    let text = source::model_text();
    let (header, query) = header::parse(&text)?;
    let contract = source::contract(&header.task)?
        .into_iter()
        .map(|t| {
            let columns = t
                .columns
                .into_iter()
                .map(|c| Ok((c.name, column_type(&c.kind)?)))
                .collect::<Result<_, String>>()?;
            Ok((t.name, columns))
        })
        .collect::<Result<Contract, String>>()?;
    Ok((header, query.to_string(), contract))
}

/// Rows per batch.
const BATCH_ROWS: usize = 32 * 1024;

/// The largest range of a join's build-side keys that an array indexes.
const PERFECT_HASH_JOIN_RANGE: usize = 1 << 20;

fn session() -> SessionContext {
    // No information_schema, no tables from URLs: the query sees the registered tables only.
    let mut config = SessionConfig::new().with_target_partitions(1).with_information_schema(false);
    // Batches of 32,768 rows, not 8,192: every operator pays for each batch it handles (its arrays
    // allocated, its expressions dispatched, a fuel check on every loop it starts), and a
    // million-row table is 31 batches, not 123.
    config = config.with_batch_size(BATCH_ROWS);
    // A join whose build side's integer keys (codes, row numbers) span under a million values
    // finds its rows by indexing an array (at most 4 MiB), not by hashing.
    config.options_mut().execution.perfect_hash_join_small_build_threshold = PERFECT_HASH_JOIN_RANGE;
    // One pass of the logical optimizer, not up to three: planning costs as much as running a
    // small table (5e7 to 1e8 fuel), and further passes change the bundled models' plans in no way
    // that runs faster (their clues are the same, their fuel no higher), at a third of that cost.
    config.options_mut().optimizer.max_passes = 1;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(rules::physical());
    // First, so that `||` over text is planned as one call before the list planner types it.
    if let Some(planners) = state.expr_planners() {
        planners.insert(0, Arc::new(concat::ConcatPlanner::new()));
    }
    SessionContext::new_with_state(state.build())
}

fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
    Ok(runtime.block_on(work))
}

/// `plan` (as the query was planned) analyzed, with each subquery it names twice made a part of its
/// own (see [`share`]), and every plan optimized: the query's, and its parts' in the order they run.
fn planned(
    state: &SessionState,
    plan: LogicalPlan,
) -> datafusion::common::Result<(LogicalPlan, Vec<share::Part>)> {
    let analyzed = state.analyzer().execute_and_check(plan, state.config_options(), |_, _| {})?;
    let (main, mut parts) = share::split(analyzed)?;
    let optimize = |plan: LogicalPlan| state.optimizer().optimize(plan, state, |_, _| {});
    let main = optimize(main)?;
    // From the last part to run to the first: a part's uses are in the query and in the parts
    // that run after it, optimized by then, so it computes (and reads) only what they read.
    for k in (0..parts.len()).rev() {
        let (before, after) = parts.split_at_mut(k + 1);
        let uses: Vec<&LogicalPlan> =
            std::iter::once(&main).chain(after.iter().map(|part| &part.plan)).collect();
        let part = &mut before[k];
        let plan = part.pruned(&uses)?.unwrap_or_else(|| part.plan.clone());
        part.plan = optimize(plan)?;
    }
    Ok((main, parts))
}

/// The rows of optimized `plan`: joined and grouped on codes where it can (see [`codes`]); with
/// `keep_codes`, its columns of codes given as codes (a shared part's rows, which its uses join
/// and group on), with the domain of each. Otherwise every column is what the plan says.
async fn execute(
    plan: LogicalPlan,
    state: &SessionState,
    rewrite: &codes::Rewrite,
    keep_codes: bool,
) -> datafusion::common::Result<(Vec<RecordBatch>, Vec<Option<usize>>)> {
    // Its projections pruned again, so that text the rewrite left unread is not made (the rest of
    // the optimizer ran before it, and would find nothing new). Should the rewrite meet a plan it
    // cannot rebuild, the query runs on text, as planned, and says so.
    let prune = Optimizer::with_rules(vec![Arc::new(OptimizeProjections::new())]);
    let plan = fill::nulls_filled(days::by_division(plan)?)?;
    let rewritten = match keep_codes {
        true => rewrite.apply_keeping_codes(plan.clone(), state),
        false => rewrite.apply(plan.clone(), state).map(|coded| (coded, Vec::new())),
    };
    let (plan, mut domains) = match rewritten
        .and_then(|(coded, domains)| Ok((prune.optimize(coded, state, |_, _| {})?, domains)))
    {
        Ok(coded) => coded,
        Err(why) => {
            eprintln!("joins and groupings compare text: {why}");
            (plan, Vec::new())
        }
    };
    domains.resize(plan.schema().fields().len(), None);
    let physical = state.query_planner().create_physical_plan(&plan, state).await?;
    let physical = ordered::gather_in_arrival_order(physical)?;
    let physical = dense::group_on_codes(physical, &rewrite.dense_keys())?;
    let physical = null_keys::as_unmatched_keys(physical)?;
    let physical = sides::build_on_fewer_rows(physical)?;
    let physical = one_code::find_rows_by_one_code(physical)?;
    let rows = datafusion::physical_plan::collect(Arc::clone(&physical), state.task_ctx()).await?;
    // An engine built with `--features explain` shows each plan it ran, with its operators' rows.
    #[cfg(feature = "explain")]
    eprintln!(
        "{}",
        datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(physical.as_ref())
            .indent(true)
    );
    Ok((rows, domains))
}

/// Each parameter's value as a typed placeholder value, by name: from `given` (the run's values),
/// else its default.
fn placeholders(
    header: &Header,
    given: impl Fn(&header::Param) -> Option<ScalarValue>,
) -> Result<Placeholders, String> {
    let mut values = std::collections::HashMap::new();
    for p in &header.params {
        let value = match given(p) {
            Some(v) => v,
            None => match p.kind {
                ParamKind::Int => ScalarValue::Int64(p.default.parse().ok()),
                ParamKind::Float => ScalarValue::Float64(p.default.parse().ok()),
                ParamKind::Bool => ScalarValue::Boolean(Some(p.default == "true")),
                ParamKind::Text => ScalarValue::Utf8(Some(p.default.clone())),
            },
        };
        values.insert(p.name.clone(), value);
    }
    Ok(values)
}

/// Placeholder values by name.
type Placeholders = std::collections::HashMap<String, ScalarValue>;

/// A query planned and optimized, in parts (see [`share`]): the main plan, and its parts in the
/// order they run.
type Plans = (LogicalPlan, Vec<share::Part>);

/// `query` planned and optimized over the tables `session` has, with `params` bound.
fn plan_query(
    session: &SessionContext,
    query: &str,
    params: Placeholders,
) -> datafusion::common::Result<Plans> {
    block_on(async {
        let df = session.sql(query).await?.with_param_values(ParamValues::from(params))?;
        planned(&session.state(), df.into_unoptimized_plan())
    })
    .map_err(datafusion::error::DataFusionError::Execution)?
}

/// The columns each table's scan reads in `plans`.
fn scanned((main, parts): &Plans) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut reads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut visit = |node: &LogicalPlan| {
        if let LogicalPlan::TableScan(scan) = node
            && !share::reads_part(scan)
        {
            let columns = reads.entry(scan.table_name.table().to_string()).or_default();
            for field in scan.projected_schema.fields() {
                if field.name() != tables::ROW && !columns.contains(field.name()) {
                    columns.push(field.name().clone());
                }
            }
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    };
    for plan in std::iter::once(main).chain(parts.iter().map(|part| &part.plan)) {
        plan.apply_with_subqueries(|node| visit(node)).map_err(|e| e.to_string())?;
    }
    Ok(reads)
}

/// What `describe()` planned: the model it planned, its declared inputs, and the plans (with the
/// parameters' defaults bound, over empty tables) for `run()` to reuse.
struct Described {
    header: Header,
    query: String,
    inputs: Result<Vec<TableSpec>, String>,
    plans: Option<Plans>,
}

impl Described {
    /// Whether it was planned for this model.
    fn is_of(&self, header: &Header, query: &str) -> bool {
        self.header == *header && self.query == query
    }
}

/// Planned once per instance: `run()` follows `describe()` in the same one, on the same model.
static DESCRIBED: Mutex<Option<Described>> = Mutex::new(None);

/// The declared inputs: each scanned table with the columns read, typed by the contract.
fn inputs(header: &Header, query: &str, contract: &Contract) -> Result<Vec<TableSpec>, String> {
    let mut described = DESCRIBED.lock().map_err(|e| e.to_string())?;
    if let Some(known) = described.as_ref().filter(|known| known.is_of(header, query)) {
        return known.inputs.clone();
    }
    let (inputs, plans) = match planned_inputs(header, query, contract) {
        Ok((inputs, plans)) => (Ok(inputs), Some(plans)),
        Err(why) => (Err(why), None),
    };
    *described =
        Some(Described { header: header.clone(), query: query.to_string(), inputs: inputs.clone(), plans });
    inputs
}

fn planned_inputs(
    header: &Header,
    query: &str,
    contract: &Contract,
) -> Result<(Vec<TableSpec>, Plans), String> {
    let session = session();
    for (name, columns) in contract {
        let schema = tables::schema(columns);
        let empty = MemTable::try_new(schema, vec![vec![]]).map_err(|e| e.to_string())?;
        session.register_table(name.as_str(), Arc::new(empty)).map_err(|e| e.to_string())?;
    }
    let plans = plan_query(&session, query, placeholders(header, |_| None)?).map_err(|e| e.to_string())?;
    let reads = scanned(&plans)?;
    let mut specs = Vec::new();
    for (table, columns) in reads {
        let Some((_, typed)) = contract.iter().find(|(name, _)| *name == table) else {
            return Err(format!("the query reads {table}, which is not a table of task {}", header.task));
        };
        let mut spec = TableSpec::new(&table);
        for (name, kind) in typed.iter().filter(|(name, _)| columns.contains(name)) {
            spec = spec.column(name, *kind);
        }
        specs.push(spec);
    }
    Ok((specs, plans))
}

/// The plans `describe()` made for this model, when `params` are the defaults they were made
/// with, each scan of a task's table reading `loaded`'s table instead of an empty one. Planning
/// costs as much as a small table's run: a run on the defaults plans once, not twice. The plans
/// are taken: they hold the parts' results once run.
fn described_plans(
    header: &Header,
    query: &str,
    params: &Placeholders,
    loaded: &std::collections::HashMap<String, tables::LoadedTable>,
) -> datafusion::common::Result<Option<Plans>> {
    use datafusion::catalog::default_table_source::provider_as_source;
    use datafusion::common::tree_node::Transformed;
    let defaults = placeholders(header, |_| None).map_err(datafusion::error::DataFusionError::Plan)?;
    if *params != defaults {
        return Ok(None);
    }
    let mut described =
        DESCRIBED.lock().map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
    let Some((main, parts)) =
        described.as_mut().filter(|known| known.is_of(header, query)).and_then(|known| known.plans.take())
    else {
        return Ok(None);
    };
    let read_loaded = |plan: LogicalPlan| {
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(mut scan) if !share::reads_part(&scan) => {
                match loaded.get(scan.table_name.table()) {
                    Some(table) => {
                        scan.source = provider_as_source(Arc::new(table.clone()));
                        Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
                    }
                    None => datafusion::common::plan_err!(
                        "the plan reads {}, which was not loaded",
                        scan.table_name
                    ),
                }
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    };
    let main = read_loaded(main)?;
    let parts = parts
        .into_iter()
        .map(|mut part| {
            part.plan = read_loaded(part.plan)?;
            Ok(part)
        })
        .collect::<datafusion::common::Result<_>>()?;
    Ok(Some((main, parts)))
}

impl Model for SqlEngine {
    fn describe() -> ModelInfo {
        let described = model().and_then(|(header, query, contract)| {
            let inputs = inputs(&header, &query, &contract)?;
            Ok((header, inputs))
        });
        match described {
            Ok((header, inputs)) => {
                let mut info = ModelInfo::new(&header.name, &header.version)
                    .summary(&header.summary)
                    .task(&header.task, &header.subject);
                for table in inputs {
                    info = info.input(table);
                }
                for p in &header.params {
                    info = match p.kind {
                        ParamKind::Int => {
                            info.param_int(&p.name, p.default.parse().unwrap_or(0), &p.description)
                        }
                        ParamKind::Float => {
                            info.param_float(&p.name, p.default.parse().unwrap_or(0.0), &p.description)
                        }
                        ParamKind::Bool => info.param_bool(&p.name, p.default == "true", &p.description),
                        ParamKind::Text => info.param_text(&p.name, &p.default, &p.description),
                    };
                }
                info
            }
            // describe() cannot fail in the model contract: a model the engine cannot plan
            // describes itself under the reserved name, with the reason as its summary, and the
            // host reports that reason as the model's error.
            Err(why) => ModelInfo::new(PLAN_ERROR, "0.0.0").summary(&why).task("unknown", "unknown"),
        }
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let (header, query, contract) = model().map_err(ModelError::Failed)?;
        let specs = inputs(&header, &query, &contract).map_err(ModelError::Failed)?;
        let session = session();
        let batch_rows = session.copied_config().batch_size();
        let mut row_counts = BTreeMap::new();
        let mut dictionaries = tables::Dictionaries::default();
        let mut row_numbers = tables::RowNumbers::default();
        let mut loaded = std::collections::HashMap::new();
        // Every table of the contract, so the query binds as it did when its inputs were derived;
        // only the declared columns hold data.
        for (name, columns) in &contract {
            let (mut batches, mut coded) = (Vec::new(), Vec::new());
            if let Some(spec) = specs.iter().find(|s| s.name == *name) {
                let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
                let frame = ctx.table(&spec.name)?.load(&names)?;
                let rows = frame.len();
                row_counts.insert(spec.name.clone(), rows);
                (batches, coded) = tables::batches(
                    frame.into_columns(),
                    rows,
                    batch_rows,
                    &mut dictionaries,
                    &mut row_numbers,
                )
                .map_err(ModelError::BadData)?;
            }
            let table =
                tables::LoadedTable::new(name, tables::schema(columns), batches, coded, &dictionaries)
                    .map_err(ModelError::Failed)?;
            session
                .register_table(name.as_str(), Arc::new(table.clone()))
                .map_err(|e| ModelError::Failed(e.to_string()))?;
            loaded.insert(name.clone(), table);
        }
        let mut bound = std::collections::HashMap::new();
        for p in &header.params {
            let value = match p.kind {
                ParamKind::Int => ScalarValue::Int64(Some(ctx.param::<i64>(&p.name)?)),
                ParamKind::Float => ScalarValue::Float64(Some(ctx.param::<f64>(&p.name)?)),
                ParamKind::Bool => ScalarValue::Boolean(Some(ctx.param::<bool>(&p.name)?)),
                ParamKind::Text => ScalarValue::Utf8(Some(ctx.param::<String>(&p.name)?)),
            };
            bound.insert(p.name.clone(), value);
        }
        let params = placeholders(&header, |p| bound.get(&p.name).cloned()).map_err(ModelError::BadParam)?;
        let plans = match described_plans(&header, &query, &params, &loaded) {
            Ok(Some(plans)) => Ok(plans),
            Ok(None) => plan_query(&session, &query, params),
            Err(e) => Err(e),
        }
        .map_err(|e| ModelError::Failed(format!("the query failed: {e}")))?;
        let rewrite = codes::Rewrite::new(loaded, &dictionaries);
        let batches = block_on(async {
            let state = session.state();
            let (main, parts) = plans;
            // Each subquery named twice first, once; then the query, which scans their results.
            // A part keeps its codes, for its uses to join and group on.
            for part in parts {
                let (rows, domains) = execute(part.plan.clone(), &state, &rewrite, true).await?;
                let coded = domains
                    .into_iter()
                    .map(|domain| match domain {
                        Some(d) => match dictionaries.text(d) {
                            Some(text) => Ok(Some((d, text.clone()))),
                            None => datafusion::common::plan_err!("codes of an unknown domain {d}"),
                        },
                        None => Ok(None),
                    })
                    .collect::<datafusion::common::Result<_>>()?;
                part.keep(rows, coded)?;
            }
            Ok::<_, datafusion::error::DataFusionError>(execute(main, &state, &rewrite, false).await?.0)
        })
        .map_err(ModelError::Failed)?
        .map_err(|e| ModelError::Failed(format!("the query failed: {e}")))?;
        for batch in batches {
            emit(ctx, &batch, &row_counts)?;
        }
        Ok(())
    }
}

/// A result column as text (cast when it is not), or the error naming it.
fn text_column(
    batch: &datafusion::arrow::record_batch::RecordBatch,
    name: &str,
) -> Result<Arc<dyn Array>, ModelError> {
    let column = batch.column_by_name(name).ok_or_else(|| {
        ModelError::Failed(format!(
            "the query's result has no `{name}` column: it must return subject, score, rule and reason"
        ))
    })?;
    cast(column, &DataType::Utf8).map_err(|e| ModelError::Failed(format!("result column `{name}`: {e}")))
}

/// Evidence rows a clue cites from one table, at most (the first of a longer list).
const MAX_EVIDENCE_ROWS: usize = 50;

/// A result's evidence column: one row number per result row, or a list of them.
enum Evidence {
    Rows(Arc<dyn Array>),
    Lists(datafusion::arrow::array::ListArray),
}

impl Evidence {
    /// The row numbers result row `row` cites; nulls and negative numbers are skipped.
    fn at(&self, row: usize) -> Result<Vec<usize>, String> {
        let values = match self {
            Evidence::Rows(rows) => rows.slice(row, 1),
            Evidence::Lists(lists) if lists.is_null(row) => return Ok(Vec::new()),
            Evidence::Lists(lists) => cast(&lists.value(row), &DataType::Int64).map_err(|e| e.to_string())?,
        };
        let values = values.as_primitive::<Int64Type>();
        Ok(values.iter().flatten().filter_map(|r| usize::try_from(r).ok()).take(MAX_EVIDENCE_ROWS).collect())
    }
}

/// A clue per row of `batch`.
fn emit(
    ctx: &mut Context,
    batch: &datafusion::arrow::record_batch::RecordBatch,
    row_counts: &BTreeMap<String, usize>,
) -> Result<(), ModelError> {
    let subject = text_column(batch, "subject")?;
    let rule = text_column(batch, "rule")?;
    let reason = text_column(batch, "reason")?;
    let score = batch.column_by_name("score").ok_or_else(|| {
        ModelError::Failed(
            "the query's result has no `score` column: it must return subject, score, rule and reason".into(),
        )
    })?;
    let score = cast(score, &DataType::Float64)
        .map_err(|e| ModelError::Failed(format!("result column `score`: {e}")))?;
    let (subject, rule, reason) =
        (subject.as_string::<i32>(), rule.as_string::<i32>(), reason.as_string::<i32>());
    let score = score.as_primitive::<Float64Type>();
    // Evidence: `<table>__row` columns of tables the model read, each a row number or a list of
    // them (`array_agg(__row)`).
    let mut evidence = Vec::new();
    for (i, field) in batch.schema().fields().iter().enumerate() {
        if let Some(table) = field.name().strip_suffix(tables::ROW)
            && row_counts.contains_key(table)
        {
            let column = batch.column(i);
            let rows = match column.data_type() {
                DataType::List(_) => Evidence::Lists(column.as_list::<i32>().clone()),
                _ => Evidence::Rows(
                    cast(column, &DataType::Int64)
                        .map_err(|e| ModelError::Failed(format!("result column `{}`: {e}", field.name())))?,
                ),
            };
            evidence.push((table.to_string(), rows));
        }
    }
    for row in 0..batch.num_rows() {
        if subject.is_null(row) {
            return Err(ModelError::Failed(format!("result row {row} has a null subject")));
        }
        let mut clue = Clue::new(
            subject.value(row),
            if score.is_null(row) { 0.0 } else { score.value(row) },
            if rule.is_null(row) { "" } else { rule.value(row) },
            if reason.is_null(row) { "" } else { reason.value(row) },
        );
        for (table, rows) in &evidence {
            let rows = rows.at(row).map_err(ModelError::Failed)?;
            if !rows.is_empty() {
                clue = clue.evidence(table, rows);
            }
        }
        ctx.emit(clue);
    }
    Ok(())
}

export_model!(SqlEngine);
