//! Several codes as one number. A grouping or an equi-join keyed by several columns of codes
//! (`GROUP BY repair_shop, assessor_org`) hashes and compares each column of every row; keyed by
//! one number that packs them (each code a digit, in a base one above its domain's size, so that
//! the digit past every code stands for null), it hashes and compares one. The packed number
//! unpacks into the same codes, so a grouping gives its keys back as they were.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array, UInt64Array};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, UInt32Type, UInt64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// The bases of keys of domains of `sizes` values each, when their packed numbers fit in 64 bits.
pub fn bases(sizes: &[usize]) -> Option<Vec<u64>> {
    let bases: Vec<u64> = sizes.iter().map(|&size| size as u64 + 1).collect();
    bases.iter().try_fold(1u64, |product, &base| product.checked_mul(base))?;
    Some(bases)
}

/// Packs its arguments, columns of codes, into one number per row, the first the most significant
/// digit. A null code is the digit past every code when nulls are keys like any other (a
/// grouping); otherwise (an equi-join, where null matches nothing) a row with a null code packs
/// to null.
#[derive(Debug)]
pub struct Pack {
    name: String,
    bases: Vec<u64>,
    null_is_a_key: bool,
    signature: Signature,
}

impl Pack {
    /// The function named `name` packing codes in `bases` (from [`bases`]).
    pub fn new(name: String, bases: Vec<u64>, null_is_a_key: bool) -> Pack {
        let signature = Signature::exact(vec![DataType::UInt32; bases.len()], Volatility::Immutable);
        Pack { name, bases, null_is_a_key, signature }
    }
}

/// Takes digit `at` of numbers packed in `bases` back out as codes (null for the null digit).
#[derive(Debug)]
pub struct Unpack {
    name: String,
    base: u64,
    /// The product of the bases of the digits after it.
    below: u64,
    signature: Signature,
}

impl Unpack {
    /// The function named `name` taking digit `at` of numbers packed in `bases`.
    pub fn new(name: String, bases: &[u64], at: usize) -> Unpack {
        let below = bases[at + 1..].iter().product();
        let signature = Signature::exact(vec![DataType::UInt64], Volatility::Immutable);
        Unpack { name, base: bases[at], below, signature }
    }
}

named_function!(Pack);
named_function!(Unpack);

impl ScalarUDFImpl for Pack {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let keys = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<Vec<ArrayRef>>>()?;
        let mut packed = vec![0u64; rows];
        for (key, &base) in keys.iter().zip(&self.bases) {
            let codes = key.as_primitive::<UInt32Type>();
            let null_digit = base - 1;
            match codes.nulls().filter(|n| n.null_count() > 0) {
                None => packed.iter_mut().zip(codes.values()).for_each(|(p, &c)| *p = *p * base + c as u64),
                Some(nulls) => {
                    packed.iter_mut().zip(codes.values()).zip(nulls.iter()).for_each(|((p, &c), valid)| {
                        *p = *p * base + if valid { c as u64 } else { null_digit }
                    })
                }
            }
        }
        let nulls = match self.null_is_a_key {
            true => None,
            false => keys
                .iter()
                .fold(None, |nulls: Option<NullBuffer>, key| NullBuffer::union(nulls.as_ref(), key.nulls())),
        };
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::new(ScalarBuffer::from(packed), nulls))))
    }
}

impl ScalarUDFImpl for Unpack {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let packed = args.args[0].to_array(args.number_rows)?;
        let packed = packed.as_primitive::<UInt64Type>();
        let null_digit = self.base - 1;
        let digits: Vec<u64> = packed.values().iter().map(|&p| (p / self.below) % self.base).collect();
        let nulls = digits
            .contains(&null_digit)
            .then(|| NullBuffer::from(digits.iter().map(|&d| d != null_digit).collect::<Vec<bool>>()));
        let codes = digits.iter().map(|&d| if d == null_digit { 0 } else { d as u32 }).collect::<Vec<u32>>();
        Ok(ColumnarValue::Array(Arc::new(UInt32Array::new(ScalarBuffer::from(codes), nulls))))
    }
}
