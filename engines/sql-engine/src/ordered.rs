//! Lists gathered in the order the rows arrive, where they already arrive in the order asked for.
//! For `array_agg(x ORDER BY y)` DataFusion sorts the aggregate's input by `y`, and then still
//! keeps each group's values with their sort keys, one `ScalarValue` a row, in an accumulator per
//! group: T5's lists of trips (22,500 rows) cost a fifth of its fuel. Where the input is already
//! in that order, the same lists come from DataFusion's grouped `array_agg`, which appends each
//! row's value to its group's list as the row comes: element for element the same lists.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_expr::aggregate::{AggregateExprBuilder, AggregateFunctionExpr};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// `plan` with each one-step aggregate's `array_agg(x ORDER BY ...)` whose input already comes in
/// that order gathering its lists as the rows come; any other node as it was.
pub fn gather_in_arrival_order(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let rewritten = plan.transform_up(|node| {
        let Some(aggregate) = node.downcast_ref::<AggregateExec>() else { return Ok(Transformed::no(node)) };
        // One step over the rows as they come: a partial or final step merges lists made
        // elsewhere, and a limit or a dynamic filter ties the aggregate to nodes around it.
        let one_step = matches!(aggregate.mode(), AggregateMode::Single | AggregateMode::SinglePartitioned)
            && aggregate.limit_options().is_none()
            && aggregate.dynamic_expressions_produced().is_empty();
        if !one_step {
            return Ok(Transformed::no(node));
        }
        let arriving = aggregate.input().equivalence_properties();
        let mut changed = false;
        let mut exprs = Vec::with_capacity(aggregate.aggr_expr().len());
        for expr in aggregate.aggr_expr() {
            let in_order = expr.fun().name() == "array_agg"
                && !expr.is_distinct()
                && !expr.is_reversed()
                && !expr.order_bys().is_empty()
                && arriving.ordering_satisfy(expr.order_bys().iter().cloned())?;
            if in_order {
                exprs.push(Arc::new(unordered(expr, aggregate)?));
                changed = true;
            } else {
                exprs.push(Arc::clone(expr));
            }
        }
        if !changed {
            return Ok(Transformed::no(node));
        }
        let rebuilt = AggregateExec::try_new(
            *aggregate.mode(),
            aggregate.group_expr().clone(),
            exprs,
            aggregate.filter_expr().to_vec(),
            Arc::clone(aggregate.input()),
            aggregate.input_schema(),
        )?;
        Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
    })?;
    Ok(rewritten.data)
}

/// `expr` without its ORDER BY: the same function, arguments, name and null handling.
fn unordered(expr: &AggregateFunctionExpr, aggregate: &AggregateExec) -> Result<AggregateFunctionExpr> {
    let mut builder = AggregateExprBuilder::new(Arc::new(expr.fun().clone()), expr.expressions())
        .schema(aggregate.input_schema())
        .alias(expr.name())
        .with_ignore_nulls(expr.ignore_nulls());
    if let Some(shown) = expr.human_display() {
        builder = builder.human_display(shown);
    }
    builder.build()
}
