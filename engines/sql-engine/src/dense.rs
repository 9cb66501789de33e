//! Grouping keyed by one dictionary domain's codes, by array index. A key domain's codes are
//! dense (every one is below the dictionary's size), so a grouping keyed by one such column finds
//! a row's group at the code's slot of an array, where DataFusion's grouping hashes every key
//! and probes a hash table (it picks its grouping by the key's type, not its range). The
//! aggregates are DataFusion's own accumulators, fed exactly as its grouping feeds them.
//!
//! The codes rewrite (see [`crate::codes`]) names each grouping it keys on one domain's codes
//! `__sieve_dense_<n>`, and [`group_on_codes`] replaces the planned aggregate of each such name.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::UInt32Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, aggregate_expressions};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::{StreamExt, TryStreamExt};

/// `plan` with each aggregate whose one key is named in `domains` (by the size of its domain)
/// grouped by array index; any other node as it was.
pub fn group_on_codes(
    plan: Arc<dyn ExecutionPlan>,
    domains: &HashMap<String, usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if domains.is_empty() {
        return Ok(plan);
    }
    let rewritten = plan.transform_up(|node| {
        let Some(aggregate) = node.downcast_ref::<AggregateExec>() else { return Ok(Transformed::no(node)) };
        match dense_key(aggregate).and_then(|name| domains.get(name)) {
            Some(&domain_len) => {
                let properties = Arc::clone(node.properties());
                Ok(Transformed::yes(Arc::new(DenseAggregateExec { aggregate: node, domain_len, properties })))
            }
            None => Ok(Transformed::no(node)),
        }
    })?;
    Ok(rewritten.data)
}

/// The name of `aggregate`'s one key (the codes rewrite's names are looked up by the caller), when
/// the aggregate is one this grouping does as DataFusion's would: in one step from the input's
/// rows, unordered, with no limit, and no aggregate that needs its input in order.
fn dense_key(aggregate: &AggregateExec) -> Option<&str> {
    let group_by = aggregate.group_expr();
    let [(_, name)] = group_by.expr() else { return None };
    let plain = !group_by.has_grouping_set()
        && matches!(aggregate.mode(), AggregateMode::Single | AggregateMode::SinglePartitioned)
        && matches!(aggregate.input_order_mode(), InputOrderMode::Linear)
        && aggregate.limit_options().is_none()
        && aggregate.dynamic_expressions_produced().is_empty()
        && aggregate.aggr_expr().iter().all(|a| a.order_bys().is_empty());
    plain.then_some(name.as_str())
}

/// An aggregate keyed by one domain's codes, grouped by array index.
#[derive(Debug)]
struct DenseAggregateExec {
    /// The aggregate it stands for: its input, expressions and output are this one's.
    aggregate: Arc<dyn ExecutionPlan>,
    /// The size of the key's domain: every code is below it.
    domain_len: usize,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for DenseAggregateExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DenseAggregateExec: domain of {} codes", self.domain_len)
    }
}

impl DenseAggregateExec {
    fn aggregate(&self) -> Result<&AggregateExec> {
        match self.aggregate.downcast_ref::<AggregateExec>() {
            Some(aggregate) => Ok(aggregate),
            None => internal_err!("a dense aggregate stands for a plan that is not an aggregate"),
        }
    }
}

impl ExecutionPlan for DenseAggregateExec {
    fn name(&self) -> &str {
        "DenseAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.aggregate.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate)
            .replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))?;
        let properties = Arc::clone(aggregate.properties());
        Ok(Arc::new(DenseAggregateExec { aggregate, domain_len: self.domain_len, properties }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let aggregate = self.aggregate()?;
        let input = aggregate.input().execute(partition, Arc::clone(&context))?;
        let mut grouping = Grouping::new(aggregate, self.domain_len)?;
        let schema = aggregate.schema();
        let batch_rows = context.session_config().batch_size().max(1);
        let output_schema = Arc::clone(&schema);
        let rows = futures::stream::once(async move {
            let mut input = input;
            while let Some(batch) = input.next().await {
                grouping.add(&batch?)?;
            }
            let whole = grouping.finish(output_schema)?;
            let slices: Vec<Result<RecordBatch>> = (0..whole.num_rows())
                .step_by(batch_rows)
                .map(|start| Ok(whole.slice(start, batch_rows.min(whole.num_rows() - start))))
                .collect();
            Ok::<_, datafusion::error::DataFusionError>(futures::stream::iter(slices))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}

/// No group yet: the slot of a code not seen.
const UNSEEN: u32 = u32::MAX;

/// The groups found so far, and each aggregate's state per group.
struct Grouping {
    key: Arc<dyn PhysicalExpr>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    domain_len: usize,
    /// Each code's group, or [`UNSEEN`]; made at the first row, the domain's size.
    slots: Vec<u32>,
    /// Each group's code, in the order the groups were found (the null key's group holds 0).
    codes: Vec<u32>,
    /// The group of the rows whose key is null, once there is one.
    null_group: Option<usize>,
    /// The group of each row of the batch at hand.
    indices: Vec<usize>,
}

impl Grouping {
    fn new(aggregate: &AggregateExec, domain_len: usize) -> Result<Grouping> {
        let Some((key, _)) = aggregate.group_expr().expr().first() else {
            return internal_err!("a dense aggregate without a key");
        };
        let accumulators = aggregate.aggr_expr().iter().map(accumulator).collect::<Result<_>>()?;
        Ok(Grouping {
            key: Arc::clone(key),
            arguments: aggregate_expressions(aggregate.aggr_expr(), aggregate.mode(), 1)?,
            filters: aggregate.filter_expr().to_vec(),
            accumulators,
            domain_len,
            slots: Vec::new(),
            codes: Vec::new(),
            null_group: None,
            indices: Vec::new(),
        })
    }

    /// The rows of `batch`, each into its key's group.
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let keys = self.key.evaluate(batch)?.into_array(rows)?;
        let Some(keys) = keys.as_primitive_opt::<UInt32Type>() else {
            return internal_err!("a dense aggregate's key is {}, not codes", keys.data_type());
        };
        if self.slots.is_empty() {
            self.slots = vec![UNSEEN; self.domain_len];
        }
        self.indices.clear();
        self.indices.reserve(rows);
        for (row, &code) in keys.values().iter().enumerate() {
            let group = if keys.is_null(row) {
                *self.null_group.get_or_insert_with(|| {
                    self.codes.push(0);
                    self.codes.len() - 1
                })
            } else {
                let Some(slot) = self.slots.get_mut(code as usize) else {
                    return exec_err!("code {code} is outside its domain of {} values", self.domain_len);
                };
                if *slot == UNSEEN {
                    *slot = self.codes.len() as u32;
                    self.codes.push(code);
                }
                *slot as usize
            };
            self.indices.push(group);
        }
        let groups = self.codes.len();
        for ((accumulator, arguments), filter) in
            self.accumulators.iter_mut().zip(&self.arguments).zip(&self.filters)
        {
            let values = arguments
                .iter()
                .map(|a| a.evaluate(batch).and_then(|v| v.into_array(rows)))
                .collect::<Result<Vec<ArrayRef>>>()?;
            let filter = match filter {
                Some(f) => Some(f.evaluate(batch)?.into_array(rows)?),
                None => None,
            };
            accumulator.update_batch(
                &values,
                &self.indices,
                filter.as_ref().map(|f| f.as_boolean()),
                groups,
            )?;
        }
        Ok(())
    }

    /// One row per group: its key's codes, then each aggregate's value.
    fn finish(mut self, schema: datafusion::arrow::datatypes::SchemaRef) -> Result<RecordBatch> {
        if self.codes.is_empty() {
            return Ok(RecordBatch::new_empty(schema));
        }
        let nulls = self.null_group.map(|null| {
            NullBuffer::new(BooleanBuffer::collect_bool(self.codes.len(), |group| group != null))
        });
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(UInt32Array::new(ScalarBuffer::from(std::mem::take(&mut self.codes)), nulls))];
        for accumulator in &mut self.accumulators {
            columns.push(accumulator.evaluate(EmitTo::All)?);
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// `aggregate`'s accumulator of many groups: its own, or one per group through DataFusion's
/// adapter, as DataFusion's grouping makes it.
fn accumulator(aggregate: &Arc<AggregateFunctionExpr>) -> Result<Box<dyn GroupsAccumulator>> {
    if aggregate.groups_accumulator_supported() {
        return aggregate.create_groups_accumulator();
    }
    let aggregate = Arc::clone(aggregate);
    Ok(Box::new(GroupsAccumulatorAdapter::new(move || aggregate.create_accumulator())))
}
