//! Rows a join could not show as null keys instead of rows filtered out. `WHERE r.reg_no IS NOT
//! NULL AND r.created_on IS NOT NULL` under a join of `registrations` copies every other row of
//! every column the join reads into new batches: at T7's million registrations, with a few nulls
//! here and there, that is tens of thousands of short copies per column, a fifteenth of the
//! model's run, for a join that then finds a sixth of those rows. A row that only needs to be kept
//! from matching can instead have its join key made null, which matches nothing: the key column's
//! validity and the checked columns' are combined, and no value moves. This holds where the
//! join never shows an unmatched row of that side (an inner join, the other side of an outer or
//! anti join, a semi join): there a row that matches nothing is a row that is not there.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinSide, JoinType, NullEquality, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::{Column, IsNotNullExpr};
use datafusion::physical_expr::utils::split_conjunction;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::{ChildrenPropertiesMode, ExecutionPlan, ReplaceChildrenOptions};

/// `plan` with each filter of `IS NOT NULL` checks alone that is an input of a hash join which
/// never shows that input's unmatched rows made a projection that nulls that input's join key
/// where a checked column is null; any other node as it was.
pub fn as_unmatched_keys(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let null_unless = Arc::new(ScalarUDF::new_from_impl(NullUnless::new()));
    let rewritten = plan.transform_up(|node| {
        let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
        if join.null_equality() != NullEquality::NullEqualsNothing || join.null_aware {
            return Ok(Transformed::no(node));
        }
        let mut inputs = [Arc::clone(join.left()), Arc::clone(join.right())];
        let mut changed = false;
        for (k, side) in [JoinSide::Left, JoinSide::Right].into_iter().enumerate() {
            if shows_unmatched(join.join_type(), side) {
                continue;
            }
            let key = join.on().iter().find_map(|(left, right)| {
                let key = if side == JoinSide::Left { left } else { right };
                key.downcast_ref::<Column>().cloned()
            });
            if let Some(key) = key
                && let Some(keyed) = keyed_by_nulls(&inputs[k], &key, &null_unless)?
            {
                inputs[k] = keyed;
                changed = true;
            }
        }
        if !changed {
            return Ok(Transformed::no(node));
        }
        let [left, right] = inputs;
        let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        Ok(Transformed::yes(Arc::clone(&node).replace_children(vec![left, right], options)?))
    })?;
    Ok(rewritten.data)
}

/// Whether a join of `join_type` shows the rows of its `side` input that match nothing.
fn shows_unmatched(join_type: &JoinType, side: JoinSide) -> bool {
    match side {
        JoinSide::Left => {
            matches!(join_type, JoinType::Left | JoinType::Full | JoinType::LeftAnti | JoinType::LeftMark)
        }
        JoinSide::Right => {
            matches!(join_type, JoinType::Right | JoinType::Full | JoinType::RightAnti | JoinType::RightMark)
        }
        JoinSide::None => true,
    }
}

/// `input`, when it is a filter of `IS NOT NULL` checks of columns alone (and no limit), as a
/// projection of the filter's input to the filter's columns, with `key` (one of them, nullable)
/// null wherever a checked column is.
fn keyed_by_nulls(
    input: &Arc<dyn ExecutionPlan>,
    key: &Column,
    null_unless: &Arc<ScalarUDF>,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(filter) = input.downcast_ref::<FilterExec>() else { return Ok(None) };
    if filter.fetch().is_some() {
        return Ok(None);
    }
    let checked: Option<Vec<Arc<dyn PhysicalExpr>>> = split_conjunction(filter.predicate())
        .into_iter()
        .map(|term| {
            let checked = term.downcast_ref::<IsNotNullExpr>()?.arg();
            checked.downcast_ref::<Column>().map(|_| Arc::clone(checked))
        })
        .collect();
    let Some(checked) = checked else { return Ok(None) };
    let source = filter.input();
    let source_schema = source.schema();
    let shown: Vec<usize> = match filter.projection() {
        Some(columns) => columns.to_vec(),
        None => (0..source_schema.fields().len()).collect(),
    };
    let output = filter.schema();
    if key.index() >= shown.len() || !output.field(key.index()).is_nullable() {
        return Ok(None);
    }
    let mut exprs = Vec::with_capacity(shown.len());
    for (at, &column) in shown.iter().enumerate() {
        let name = output.field(at).name();
        let passed: Arc<dyn PhysicalExpr> = Arc::new(Column::new(source_schema.field(column).name(), column));
        let expr: Arc<dyn PhysicalExpr> = match at == key.index() {
            true => {
                let mut args = vec![passed];
                args.extend(checked.iter().cloned());
                Arc::new(ScalarFunctionExpr::try_new(
                    Arc::clone(null_unless),
                    args,
                    &source_schema,
                    Arc::new(Default::default()),
                )?)
            }
            false => passed,
        };
        exprs.push(ProjectionExpr { expr, alias: name.clone() });
    }
    Ok(Some(Arc::new(ProjectionExec::try_new(exprs, Arc::clone(source))?)))
}

/// Its first argument, null wherever any argument is: no value copied, only validity combined.
#[derive(Debug)]
struct NullUnless {
    name: String,
    signature: Signature,
}

impl NullUnless {
    fn new() -> NullUnless {
        NullUnless {
            name: "__sieve_null_unless".to_string(),
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

named_function!(NullUnless);

impl ScalarUDFImpl for NullUnless {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Null))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let Some((value, checked)) = columns.split_first() else {
            return datafusion::common::internal_err!("{} takes a value", self.name);
        };
        let nulls = checked.iter().fold(value.nulls().cloned(), |nulls, column| {
            NullBuffer::union(nulls.as_ref(), column.logical_nulls().as_ref())
        });
        let data = value.to_data().into_builder().nulls(nulls).build()?;
        let nulled: ArrayRef = make_array(data);
        Ok(ColumnarValue::Array(nulled))
    }
}
