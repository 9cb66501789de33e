//! Equi-joins on several codes that find their rows by one of them. A join keyed by several
//! columns of codes is keyed by one number packing them (see [`crate::pack`]), and DataFusion
//! hashes that number: T4's `auctions JOIN related ON buyer = x AND debtor = y` inserted 300,000
//! packed keys into a hash table of 8 MB, a seventh of the model's run spent in random writes to
//! it. A single column of codes is joined by array index instead (DataFusion's `ArrayMap`, a slot
//! per code of the build side's range). So once a join's build side is there, the code that
//! tells its rows apart best becomes the join's key, and the others are compared in its filter,
//! on each pair of rows that key matches: when that code nearly identifies a row (no more than
//! [`MOST_ROWS_PER_CODE`] on average, none shared by more than [`MOST_ROWS_OF_ONE_CODE`]), the
//! filter sees about one pair per row looked up. A row whose code is null matches nothing
//! either way: the key's null finds no slot, another code's null fails the filter's `=`.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, JoinSide, NullEquality, Result, internal_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::joins::utils::{ColumnIndex, JoinFilter};
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, TryFutureExt, TryStreamExt};

/// At most this many build-side rows per distinct code of the chosen key, on average.
const MOST_ROWS_PER_CODE: usize = 2;

/// At most this many build-side rows share any one code of the chosen key.
const MOST_ROWS_OF_ONE_CODE: u32 = 64;

/// `plan` with each hash join keyed by packed codes (one the other joins of [`crate::sides`] do
/// not take over, whose build side's dynamic filter nothing reads) choosing its key from its
/// build side's codes; any other node as it was.
pub fn find_rows_by_one_code(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let rewritten = plan.transform_up(|node| {
        let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
        let one_partition =
            |plan: &Arc<dyn ExecutionPlan>| plan.properties().output_partitioning().partition_count() == 1;
        // The probe side may come in several partitions (a `UNION ALL` does): they share the one
        // build side, as they do in the join as planned.
        let eligible = *join.partition_mode() == PartitionMode::CollectLeft
            && one_partition(join.left())
            && !dynamic_filter_is_read(join)?;
        Ok(match packed_codes(join).filter(|_| eligible) {
            Some(codes) => Transformed::yes(Arc::new(OneCodeJoinExec::new(node, codes))),
            None => Transformed::no(node),
        })
    })?;
    Ok(rewritten.data)
}

/// Whether an operator under `join`'s probe side narrows its rows by the filter `join` makes
/// from its build side: then that filter is made from the join's keys as planned.
fn dynamic_filter_is_read(join: &HashJoinExec) -> Result<bool> {
    let produced: Vec<u64> =
        join.dynamic_expressions_produced().iter().filter_map(|filter| filter.expression_id()).collect();
    if produced.is_empty() {
        return Ok(false);
    }
    let mut found = false;
    join.right().apply(|node| {
        node.apply_expressions(&mut |root| {
            root.apply(|expr| {
                found |= expr.expression_id().is_some_and(|id| produced.contains(&id));
                Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
            })
        })?;
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

/// The columns of codes `join`'s one key packs, on its left and right inputs, when it is such a
/// key, the codes are columns of those inputs (not computed), and null matches nothing. The
/// planner computes a key that is not a column in a projection under the join, beside the columns
/// it passes on: the codes are then the columns it passes on.
pub fn packed_codes(join: &HashJoinExec) -> Option<(Vec<Column>, Vec<Column>)> {
    let [(left, right)] = join.on() else { return None };
    if join.null_equality() != NullEquality::NullEqualsNothing || join.null_aware {
        return None;
    }
    let left = codes_of(left, join.left())?;
    let right = codes_of(right, join.right())?;
    (left.len() == right.len() && left.len() > 1).then_some((left, right))
}

/// The columns of `input` that `key` (a key of a join over `input`) packs.
fn codes_of(key: &Arc<dyn PhysicalExpr>, input: &Arc<dyn ExecutionPlan>) -> Option<Vec<Column>> {
    let packing = |expr: &Arc<dyn PhysicalExpr>| -> Option<Vec<Column>> {
        let packed =
            expr.downcast_ref::<ScalarFunctionExpr>().filter(|f| f.name().starts_with("__sieve_pack_"))?;
        packed.args().iter().map(|arg| arg.downcast_ref::<Column>().cloned()).collect()
    };
    if let Some(codes) = packing(key) {
        return Some(codes);
    }
    let column = key.downcast_ref::<Column>()?;
    let projection = input.downcast_ref::<ProjectionExec>()?;
    let exprs = projection.expr();
    let codes = packing(&exprs.get(column.index())?.expr)?;
    codes
        .iter()
        .map(|code| {
            let passed = exprs
                .iter()
                .position(|e| e.expr.downcast_ref::<Column>().is_some_and(|c| c.index() == code.index()))?;
            Some(Column::new(&exprs[passed].alias, passed))
        })
        .collect()
}

/// How the codes of one column of the build side spread over its rows.
struct Spread {
    rows: usize,
    distinct: usize,
    most_of_one: u32,
    smallest: u32,
    largest: u32,
}

impl Spread {
    fn of(batches: &[RecordBatch], column: usize) -> Spread {
        let mut counts: Vec<u32> = Vec::new();
        let (mut rows, mut smallest, mut largest) = (0, u32::MAX, 0);
        for batch in batches {
            let codes = batch.column(column).as_primitive::<UInt32Type>();
            for code in codes.iter().flatten() {
                if code as usize >= counts.len() {
                    counts.resize(code as usize + 1, 0);
                }
                counts[code as usize] += 1;
                rows += 1;
                (smallest, largest) = (smallest.min(code), largest.max(code));
            }
        }
        let distinct = counts.iter().filter(|&&n| n > 0).count();
        Spread { rows, distinct, most_of_one: counts.iter().copied().max().unwrap_or(0), smallest, largest }
    }

    /// Whether a join keyed by this column alone looks its rows up by array index (DataFusion
    /// makes an `ArrayMap` for a key range under the configured size, or a dense one) and finds
    /// few rows per code.
    fn identifies_rows(&self, array_range: usize) -> bool {
        let range = (self.largest.saturating_sub(self.smallest)) as usize + 1;
        let indexed = self.rows > 0 && (range < array_range || self.rows as f64 / range as f64 > 0.15);
        indexed
            && self.rows <= MOST_ROWS_PER_CODE * self.distinct
            && self.most_of_one <= MOST_ROWS_OF_ONE_CODE
    }
}

/// `join` (its build side `build`, whose rows are `built`) keyed by the one of `codes` (its
/// packed key's, from [`packed_codes`] on the join as planned) that tells the built rows apart
/// best, the other codes compared in its filter; or as it was, when it packs no codes or none of
/// them identifies the built rows.
pub fn keyed_by_one_code(
    join: HashJoinExec,
    codes: Option<&(Vec<Column>, Vec<Column>)>,
    built: &[RecordBatch],
    build: JoinSide,
    context: &TaskContext,
) -> Result<HashJoinExec> {
    let Some((left, right)) = codes else { return Ok(join) };
    let array_range = context.session_config().options().execution.perfect_hash_join_small_build_threshold;
    let built_codes = if build == JoinSide::Left { left } else { right };
    let chosen = built_codes
        .iter()
        .enumerate()
        .map(|(k, column)| (k, Spread::of(built, column.index())))
        .filter(|(_, spread)| spread.identifies_rows(array_range))
        .max_by_key(|(_, spread)| spread.distinct)
        .map(|(k, _)| k);
    let Some(chosen) = chosen else { return Ok(join) };
    let key: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)> =
        vec![(Arc::new(left[chosen].clone()), Arc::new(right[chosen].clone()))];
    let filter = compare_in_filter(&join, left, right, chosen)?;
    join.builder().with_on(key).with_filter(Some(filter)).reset_state().build()
}

/// `join`'s filter (if any) and, for each packed code but the `chosen` one, its two sides equal.
fn compare_in_filter(
    join: &HashJoinExec,
    left: &[Column],
    right: &[Column],
    chosen: usize,
) -> Result<JoinFilter> {
    let left_schema = join.left().schema();
    let right_schema = join.right().schema();
    let (mut expression, mut indices, mut fields) = match join.filter() {
        Some(filter) => (
            Some(Arc::clone(filter.expression())),
            filter.column_indices().to_vec(),
            filter.schema().fields().iter().cloned().collect(),
        ),
        None => (None, Vec::new(), Vec::new()),
    };
    for (k, (l, r)) in left.iter().zip(right).enumerate().filter(|(k, _)| *k != chosen) {
        let mut side = |column: &Column, side: JoinSide, schema: &Schema| -> Result<Arc<dyn PhysicalExpr>> {
            let Some(field) = schema.fields().get(column.index()) else {
                return internal_err!("a packed code is not a column of its side");
            };
            let name = format!("__sieve_code_{k}_{}", if side == JoinSide::Left { "l" } else { "r" });
            fields.push(Arc::new(Field::new(&name, DataType::UInt32, field.is_nullable())));
            indices.push(ColumnIndex { index: column.index(), side });
            Ok(Arc::new(Column::new(&name, fields.len() - 1)))
        };
        let l = side(l, JoinSide::Left, &left_schema)?;
        let r = side(r, JoinSide::Right, &right_schema)?;
        let equal: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(l, Operator::Eq, r));
        expression = Some(match expression {
            Some(before) => Arc::new(BinaryExpr::new(before, Operator::And, equal)),
            None => equal,
        });
    }
    match expression {
        Some(expression) => Ok(JoinFilter::new(expression, indices, Arc::new(Schema::new(fields)))),
        None => internal_err!("a packed key of one code"),
    }
}

/// The join keyed by one code, made once from the build side; or why it could not be.
type KeyedJoin = Shared<BoxFuture<'static, Result<Arc<HashJoinExec>, Arc<DataFusionError>>>>;

/// A hash join keyed by packed codes that chooses its key once its build side is there.
struct OneCodeJoinExec {
    /// The join as planned: its inputs, keys, filter, projection and output are this one's.
    join: Arc<dyn ExecutionPlan>,
    /// The codes its key packs, on its left and right inputs.
    codes: (Vec<Column>, Vec<Column>),
    /// Made by the first partition executed; every partition of the probe side joins with it.
    keyed: Mutex<Option<KeyedJoin>>,
}

impl OneCodeJoinExec {
    fn new(join: Arc<dyn ExecutionPlan>, codes: (Vec<Column>, Vec<Column>)) -> OneCodeJoinExec {
        OneCodeJoinExec { join, codes, keyed: Mutex::new(None) }
    }

    fn join(&self) -> Result<&HashJoinExec> {
        match self.join.downcast_ref::<HashJoinExec>() {
            Some(join) => Ok(join),
            None => internal_err!("a join by one code stands for a plan that is not a hash join"),
        }
    }

    /// The join keyed by one code: collects the build side (its one partition) when first asked.
    fn keyed_join(&self, context: &Arc<TaskContext>) -> Result<KeyedJoin> {
        let mut keyed = match self.keyed.lock() {
            Ok(keyed) => keyed,
            Err(_) => return internal_err!("a join by one code was left half made"),
        };
        if let Some(made) = keyed.as_ref() {
            return Ok(made.clone());
        }
        let join = self.join()?;
        let (left, right) = (Arc::clone(join.left()), Arc::clone(join.right()));
        let planned = join.builder();
        let codes = self.codes.clone();
        let context = Arc::clone(context);
        let made: KeyedJoin = async move {
            let built: Vec<RecordBatch> = left.execute(0, Arc::clone(&context))?.try_collect().await?;
            let source = MemorySourceConfig::try_new_exec(std::slice::from_ref(&built), left.schema(), None)?;
            let join = planned.with_new_children(vec![source, right])?.reset_state().build()?;
            let join = keyed_by_one_code(join, Some(&codes), &built, JoinSide::Left, &context)?;
            #[cfg(feature = "explain")]
            eprintln!("join by packed codes, keyed by {:?}", join.on());
            Ok(Arc::new(join))
        }
        .map_err(Arc::new)
        .boxed()
        .shared();
        *keyed = Some(made.clone());
        Ok(made)
    }
}

impl fmt::Debug for OneCodeJoinExec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("OneCodeJoinExec").field("join", &self.join).field("codes", &self.codes).finish()
    }
}

impl DisplayAs for OneCodeJoinExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "OneCodeJoinExec: keyed by the code that identifies the built rows; as planned: ")?;
        match self.join() {
            Ok(join) => join.fmt_as(format, f),
            Err(_) => Ok(()),
        }
    }
}

impl ExecutionPlan for OneCodeJoinExec {
    fn name(&self) -> &str {
        "OneCodeJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.join.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.join.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let join = Arc::clone(&self.join)
            .replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))?;
        match join.downcast_ref::<HashJoinExec>().and_then(packed_codes) {
            Some(codes) => Ok(Arc::new(OneCodeJoinExec::new(join, codes))),
            None => Ok(join),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let keyed = self.keyed_join(&context)?;
        let rows = futures::stream::once(async move {
            let join = keyed.await.map_err(DataFusionError::Shared)?;
            join.execute(partition, context)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), rows)))
    }
}
