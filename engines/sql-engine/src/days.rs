//! A timestamp's day, `CAST(t AS DATE)`, by dividing its milliseconds. Arrow's cast makes a
//! calendar date-time of every value through chrono and then its date, several dozen
//! instructions a row: T5 takes the day of half a million trips, T6 of the traffic events it
//! compares with seizures. A timestamp of the contract is milliseconds since 1970 (UTC, no time
//! zone), so its day is those milliseconds divided by a day's, rounded down. Any other cast to a
//! date, and a timestamp beyond the range chrono's dates cover, go through Arrow's cast as before,
//! with its errors.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Timestamps closer to 1970 than this (about 250,000 years) are within chrono's range, where
/// Arrow's cast gives a date; their day fits an `i32`.
const WITHIN_CHRONO_MS: u64 = 8_000_000_000_000_000;

/// `plan` with every `CAST(x AS DATE)` computed by [`Day`]; output names as they were.
pub fn by_division(plan: LogicalPlan) -> Result<LogicalPlan> {
    let day = Arc::new(ScalarUDF::new_from_impl(Day::new()));
    let rewritten = plan.transform_up_with_subqueries(|node| {
        let names = NamePreserver::new(&node);
        node.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| match e {
                // A plain date: a field with metadata would be an extension type of its own.
                Expr::Cast(Cast { expr, field })
                    if *field.data_type() == DataType::Date32 && field.metadata().is_empty() =>
                {
                    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                        Arc::clone(&day),
                        vec![*expr],
                    ))))
                }
                other => Ok(Transformed::no(other)),
            })?;
            Ok(rewritten.update_data(|e| name.restore(e)))
        })
    })?;
    Ok(rewritten.data)
}

/// The day of a timestamp without time zone, in milliseconds; any other value cast to a date as
/// Arrow casts it.
#[derive(Debug)]
struct Day {
    name: String,
    signature: Signature,
}

impl Day {
    fn new() -> Day {
        Day { name: "__sieve_day".into(), signature: Signature::any(1, Volatility::Immutable) }
    }
}

named_function!(Day);

impl ScalarUDFImpl for Day {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(day(&values)?))
    }
}

/// Each value's day: by division for timestamps in milliseconds without time zone within chrono's
/// range, else by Arrow's cast (as DataFusion's `CAST` calls it: an error, not null, for a value
/// it cannot convert).
fn day(values: &ArrayRef) -> Result<ArrayRef> {
    if let DataType::Timestamp(TimeUnit::Millisecond, None) = values.data_type() {
        let timestamps = values.as_primitive::<TimestampMillisecondType>();
        // A null row's value is a placeholder, which may lie anywhere: it is divided like the
        // others (a row beyond the range, null or not, sends the column to Arrow's cast).
        let within =
            timestamps.values().iter().fold(true, |ok, &ms| ok & (ms.unsigned_abs() < WITHIN_CHRONO_MS));
        if within {
            let days = timestamps.values().iter().map(|&ms| ms.div_euclid(DAY_MS) as i32).collect::<Vec<_>>();
            return Ok(Arc::new(Date32Array::new(days.into(), timestamps.nulls().cloned())));
        }
    }
    let options = CastOptions { safe: false, ..Default::default() };
    Ok(cast_with_options(values, &DataType::Date32, &options)?)
}
