//! `a || b || c` as one call of three arguments. SQL parses a chain of `||` as nested pairs,
//! `((a || b) || c)`, and DataFusion names each expression it types by formatting it: typing the
//! chain formats each of its prefixes, so a reason of twelve parts is formatted twelve times over,
//! in binding and again in each pass that rebuilds a projection (a tenth of T4's planning). One
//! call of every part is named once. It concatenates as `||` does: the parts cast to text, a
//! null part makes the whole null.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{can_cast_types, cast};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// The name of the one call a chain of `||` becomes.
const NAME: &str = "concat_parts";

/// Plans `a || b` over text as [`ConcatParts`], taking in the parts of a left side that already is
/// one; anything else (lists, which `||` appends) goes to the next planner as it came.
#[derive(Debug)]
pub struct ConcatPlanner {
    function: Arc<ScalarUDF>,
}

impl ConcatPlanner {
    pub fn new() -> ConcatPlanner {
        ConcatPlanner { function: Arc::new(ScalarUDF::new_from_impl(ConcatParts::new())) }
    }
}

/// Whether `||` takes a value of `data_type` as text: text itself, or (beside text) what casts to it.
fn text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, values) => text(values),
        _ => false,
    }
}

/// Whether a value of `data_type` casts to text as a part of a chain (a list or a struct does not:
/// `||` appends to a list).
fn castable(data_type: &DataType) -> bool {
    !data_type.is_nested() && can_cast_types(data_type, &DataType::Utf8)
}

impl ExprPlanner for ConcatPlanner {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::StringConcat {
            return Ok(PlannerResult::Original(expr));
        }
        let left_parts = match &expr.left {
            Expr::ScalarFunction(f) if f.func.name() == NAME => Some(f.args.clone()),
            _ => None,
        };
        let left_type = match left_parts {
            Some(_) => DataType::Utf8,
            None => expr.left.get_type(schema)?,
        };
        let right_type = expr.right.get_type(schema)?;
        let takes =
            (text(&left_type) && castable(&right_type)) || (castable(&left_type) && text(&right_type));
        if !takes {
            return Ok(PlannerResult::Original(expr));
        }
        let mut parts = left_parts.unwrap_or_else(|| vec![expr.left]);
        parts.push(expr.right);
        Ok(PlannerResult::Planned(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::clone(&self.function),
            parts,
        ))))
    }
}

/// Its arguments cast to text and concatenated, null where any is null: `||` over several parts.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ConcatParts {
    signature: Signature,
}

impl ConcatParts {
    fn new() -> ConcatParts {
        ConcatParts { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ConcatParts {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut parts = Vec::with_capacity(args.args.len());
        for arg in &args.args {
            parts.push(match arg {
                ColumnarValue::Scalar(value) => {
                    let value = cast(&value.to_array()?, &DataType::Utf8)?;
                    if value.is_null(0) {
                        return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
                    }
                    Part::Constant(value.as_string::<i32>().value(0).to_string())
                }
                ColumnarValue::Array(rows) => Part::Rows(cast(rows, &DataType::Utf8)?),
            });
        }
        let columns: Vec<&ArrayRef> = parts
            .iter()
            .filter_map(|part| match part {
                Part::Rows(rows) => Some(rows),
                Part::Constant(_) => None,
            })
            .collect();
        if columns.is_empty() {
            let whole =
                parts.iter().map(|part| if let Part::Constant(text) = part { text.as_str() } else { "" });
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(whole.collect()))));
        }
        let rows = args.number_rows;
        let nulls = columns
            .iter()
            .fold(None, |nulls: Option<NullBuffer>, c| NullBuffer::union(nulls.as_ref(), c.nulls()));
        let bytes = parts
            .iter()
            .map(|part| match part {
                Part::Constant(text) => text.len() * rows,
                Part::Rows(rows) => rows.as_string::<i32>().value_data().len(),
            })
            .sum();
        let texts: Vec<Text> = parts
            .iter()
            .map(|part| match part {
                Part::Constant(text) => Text::Constant(text),
                Part::Rows(rows) => Text::Rows(rows.as_string::<i32>()),
            })
            .collect();
        let mut concatenated = StringBuilder::with_capacity(rows, bytes);
        let mut row_text = String::new();
        for row in 0..rows {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                concatenated.append_null();
                continue;
            }
            row_text.clear();
            for text in &texts {
                row_text.push_str(match text {
                    Text::Constant(text) => text,
                    Text::Rows(rows) => rows.value(row),
                });
            }
            concatenated.append_value(&row_text);
        }
        Ok(ColumnarValue::Array(Arc::new(concatenated.finish())))
    }
}

/// One argument of [`ConcatParts`] as text: the same for every row, or each row's own.
enum Part {
    Constant(String),
    Rows(ArrayRef),
}

/// A [`Part`]'s text, read row by row.
enum Text<'a> {
    Constant(&'a str),
    Rows(&'a StringArray),
}
