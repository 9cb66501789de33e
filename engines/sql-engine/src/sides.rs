//! Hash joins that build on the side with fewer rows, chosen once the rows are there. A hash join
//! inserts every row of one side (its build side) into a table and looks every row of the other
//! up in it; a table of a few thousand rows stays in the cache, one of a million does not, so
//! building on the smaller side costs several times less. DataFusion picks the side when it plans,
//! by estimated bytes, and without column statistics it estimates a join's output as unknown:
//! T1's `NOT EXISTS` over `vehicles` built a table of 911,732 vehicles to look up 17,115
//! candidates. Here each such join collects its build side as planned, then reads the other side
//! until it has more rows than that: if the other side ends first, the join runs the other way
//! round (DataFusion's own swap of the two inputs, as its planner would make it); if not, it runs
//! as planned, the rows read so far first.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinSide, Result, internal_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::{StreamExt, TryStreamExt};

use crate::one_code;

/// `plan` with each hash join whose sides may be swapped deciding its build side by the rows
/// each side has; any other node as it was.
pub fn build_on_fewer_rows(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let rewritten = plan.transform_up(|node| {
        let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
        if !swappable(join) {
            return Ok(Transformed::no(node));
        }
        Ok(Transformed::yes(Arc::new(FewerRowsJoinExec { join: node })))
    })?;
    Ok(rewritten.data)
}

/// Whether `join` may run either way round with the same rows out: a join of one partition each
/// side whose type has a swapped form, with no limit and no null-aware anti join (`NOT IN`), whose
/// output no operator above expects in an order (the swapped join gives its rows in another).
/// A join that narrows its other side with a dynamic filter (the build side's key range and
/// table, which spares the other side's rows a sort: T6 sorts 73,640 traffic events, not a
/// million) keeps its sides as planned: that filter is made from the build side.
fn swappable(join: &HashJoinExec) -> bool {
    let one_partition =
        |plan: &Arc<dyn ExecutionPlan>| plan.properties().output_partitioning().partition_count() == 1;
    *join.partition_mode() == PartitionMode::CollectLeft
        && join.join_type().supports_swap()
        && !join.null_aware
        && join.fetch().is_none()
        && join.dynamic_expressions_produced().is_empty()
        && join.properties().output_ordering().is_none()
        && one_partition(join.left())
        && one_partition(join.right())
}

/// A hash join that builds on whichever side has fewer rows.
#[derive(Debug)]
struct FewerRowsJoinExec {
    /// The join as planned: its inputs, keys, filter, projection and output are this one's.
    join: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for FewerRowsJoinExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FewerRowsJoinExec: building on the side with fewer rows; as planned: ")?;
        match self.join() {
            Ok(join) => join.fmt_as(format, f),
            Err(_) => Ok(()),
        }
    }
}

impl FewerRowsJoinExec {
    fn join(&self) -> Result<&HashJoinExec> {
        match self.join.downcast_ref::<HashJoinExec>() {
            Some(join) => Ok(join),
            None => {
                internal_err!("a join on the side with fewer rows stands for a plan that is not a hash join")
            }
        }
    }
}

impl ExecutionPlan for FewerRowsJoinExec {
    fn name(&self) -> &str {
        "FewerRowsJoinExec"
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
        Ok(Arc::new(FewerRowsJoinExec { join }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let join = self.join()?;
        let (left, right) = (Arc::clone(join.left()), Arc::clone(join.right()));
        let mut build = left.execute(partition, Arc::clone(&context))?;
        let mut probe = right.execute(partition, Arc::clone(&context))?;
        let planned = join.builder();
        let codes = one_code::packed_codes(join);
        let schema = self.schema();
        let rows = futures::stream::once(async move {
            let mut built = Vec::new();
            let mut build_rows = 0;
            while let Some(batch) = build.next().await {
                let batch = batch?;
                build_rows += batch.num_rows();
                built.push(batch);
            }
            // The probe side, read until it has more rows than the build side, or ends.
            let mut probed = Vec::new();
            let mut probe_rows = 0;
            let mut probe_ended = false;
            while probe_rows <= build_rows {
                match probe.next().await {
                    Some(batch) => {
                        let batch = batch?;
                        probe_rows += batch.num_rows();
                        probed.push(batch);
                    }
                    None => {
                        probe_ended = true;
                        break;
                    }
                }
            }
            let swapped = probe_ended && probe_rows < build_rows;
            #[cfg(feature = "explain")]
            eprintln!(
                "join: build side {build_rows} rows, probe side {probe_rows}{} rows: swapped {swapped}",
                if probe_ended { "" } else { "+" }
            );
            let built_source =
                MemorySourceConfig::try_new_exec(std::slice::from_ref(&built), left.schema(), None)?;
            let joined = if swapped {
                let probed_source =
                    MemorySourceConfig::try_new_exec(std::slice::from_ref(&probed), right.schema(), None)?;
                let join =
                    planned.with_new_children(vec![built_source, probed_source])?.reset_state().build()?;
                one_code::keyed_by_one_code(join, codes.as_ref(), &probed, JoinSide::Right, &context)?
                    .swap_inputs(PartitionMode::CollectLeft)?
            } else {
                let rest = Arc::new(ReadOnce::new(right, probed, probe));
                let join = planned.with_new_children(vec![built_source, rest])?.reset_state().build()?;
                Arc::new(one_code::keyed_by_one_code(join, codes.as_ref(), &built, JoinSide::Left, &context)?)
            };
            joined.execute(0, context)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}

/// A side already being read: the batches read so far, then the rest of its stream, once.
struct ReadOnce {
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    rows: Mutex<Option<(Vec<RecordBatch>, SendableRecordBatchStream)>>,
}

impl ReadOnce {
    fn new(side: Arc<dyn ExecutionPlan>, read: Vec<RecordBatch>, rest: SendableRecordBatchStream) -> Self {
        ReadOnce {
            schema: side.schema(),
            properties: Arc::clone(side.properties()),
            rows: Mutex::new(Some((read, rest))),
        }
    }
}

impl fmt::Debug for ReadOnce {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("ReadOnce")
    }
}

impl DisplayAs for ReadOnce {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("ReadOnce: a side being read")
    }
}

impl ExecutionPlan for ReadOnce {
    fn name(&self) -> &str {
        "ReadOnce"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.is_empty() {
            true => Ok(self),
            false => internal_err!("a side being read has no inputs"),
        }
    }

    fn execute(&self, _: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let taken = self.rows.lock().ok().and_then(|mut rows| rows.take());
        let Some((read, rest)) = taken else { return internal_err!("a side being read was read twice") };
        let rows = futures::stream::iter(read.into_iter().map(Ok)).chain(rest);
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), rows)))
    }
}
