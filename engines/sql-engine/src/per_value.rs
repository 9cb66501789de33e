//! Expressions of one dictionary-coded column, evaluated once per dictionary value. A condition
//! such as `regexp_like(';' || docs_published || ';', ...)` or `kind IN ('real_estate', 'equity')`
//! depends on the row only through the column's code: the engine evaluates it over the
//! dictionary's few distinct values (and a null) once, and each row then looks its result up by
//! code. What a value gives is what its rows would have given; an expression that fails on some
//! value (a cast of text that no row of this plan holds, say) is evaluated row by row instead, so
//! it fails exactly where DataFusion would.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array, new_null_array};
use datafusion::arrow::compute::{concat, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use datafusion::physical_expr::PhysicalExpr;

use crate::tables::DomainText;

/// The name the column takes inside an expression evaluated per value.
pub const VALUE: &str = "__sieve_value";

/// What each code of a coded column stands for: a domain's text, or an expression of what another
/// column's codes stand for.
#[derive(Debug)]
pub struct Values {
    source: Source,
    /// One entry per code, then the entry of a null row; made when first needed.
    values: OnceLock<std::result::Result<ArrayRef, String>>,
}

#[derive(Debug)]
enum Source {
    Text(Arc<DomainText>),
    Derived { from: Arc<Values>, expr: Arc<dyn PhysicalExpr> },
}

impl Values {
    /// The text of a domain's codes.
    pub fn text(text: Arc<DomainText>) -> Arc<Values> {
        Arc::new(Values { source: Source::Text(text), values: OnceLock::new() })
    }

    /// `expr` (over one column named [`VALUE`]) of what `from`'s codes stand for.
    pub fn derived(from: Arc<Values>, expr: Arc<dyn PhysicalExpr>) -> Arc<Values> {
        Arc::new(Values { source: Source::Derived { from, expr }, values: OnceLock::new() })
    }

    /// The value of each code, then that of a null row; an error when the expression fails on
    /// one of them.
    fn all(&self) -> std::result::Result<&ArrayRef, &String> {
        self.values
            .get_or_init(|| match &self.source {
                Source::Text(text) => {
                    let values = text.all().map_err(|e| e.to_string())?;
                    let null = new_null_array(values.data_type(), 1);
                    concat(&[&values as &dyn Array, null.as_ref()]).map_err(|e| e.to_string())
                }
                Source::Derived { from, expr } => {
                    let input = from.all().map_err(Clone::clone)?;
                    evaluate(expr, input.clone()).map_err(|e| e.to_string())
                }
            })
            .as_ref()
    }

    /// The value of each row of `codes` (a null code is a null row).
    fn rows(&self, codes: &UInt32Array) -> Result<ArrayRef> {
        let (from, expr) = match &self.source {
            // A domain's own text: each row the view of its value, a null row null.
            Source::Text(text) => return Ok(Arc::new(text.decode(codes)?)),
            Source::Derived { from, expr } => (from, expr),
        };
        match self.all() {
            Ok(values) => {
                let Some(nulls) = codes.nulls() else { return Ok(take(values.as_ref(), codes, None)?) };
                // A null row's code is a placeholder: it takes the entry after the codes'.
                let null = (values.len() - 1) as u32;
                let mut at = codes.values().to_vec();
                for (code, valid) in at.iter_mut().zip(nulls.iter()) {
                    if !valid {
                        *code = null;
                    }
                }
                Ok(take(values.as_ref(), &UInt32Array::from(at), None)?)
            }
            // Some value fails: these rows' own values, as DataFusion would evaluate them.
            Err(_) => evaluate(expr, from.rows(codes)?),
        }
    }
}

fn evaluate(expr: &Arc<dyn PhysicalExpr>, input: ArrayRef) -> Result<ArrayRef> {
    let schema = Schema::new(vec![Field::new(VALUE, input.data_type().clone(), true)]);
    let rows = input.len();
    let batch = RecordBatch::try_new(Arc::new(schema), vec![input])?;
    expr.evaluate(&batch)?.into_array(rows)
}

/// A column's codes to what they stand for under an expression: the function the rewrite puts
/// where the expression was.
#[derive(Debug)]
pub struct PerValue {
    name: String,
    values: Arc<Values>,
    return_type: DataType,
    signature: Signature,
}

impl PerValue {
    /// The function named `name` giving `values` (of type `return_type`) for codes.
    pub fn new(name: String, values: Arc<Values>, return_type: DataType) -> PerValue {
        let signature = Signature::exact(vec![DataType::UInt32], Volatility::Immutable);
        PerValue { name, values, return_type, signature }
    }
}

named_function!(PerValue);

impl ScalarUDFImpl for PerValue {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let codes = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(self.values.rows(codes.as_primitive::<UInt32Type>())?))
    }
}
