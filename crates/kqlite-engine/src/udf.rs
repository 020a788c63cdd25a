//! One DataFusion scalar UDF type for every KQL function kqlite implements.
//!
//! The binder has already checked arity and types and inserted conversions,
//! so a KQL function only needs a name, an Arrow return type and a kernel.
//! Kernels receive DataFusion's `ColumnarValue`s, so constant arguments
//! (the needle of `has`, the unit of `bin`) stay scalars and are not
//! broadcast to full columns.

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A kernel: arguments and the number of rows in the batch.
pub type Kernel = fn(&[ColumnarValue], usize) -> Result<ColumnarValue>;

#[derive(Debug)]
pub struct KqlUdf {
    name: String,
    return_type: DataType,
    kernel: Kernel,
    signature: Signature,
}

impl PartialEq for KqlUdf {
    fn eq(&self, other: &Self) -> bool {
        // Kernel names are unique, so name and type identify the function.
        self.name == other.name && self.return_type == other.return_type
    }
}

impl Eq for KqlUdf {}

impl Hash for KqlUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.return_type.hash(state);
    }
}

impl ScalarUDFImpl for KqlUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // The binder already converted every argument.
        Ok(arg_types.to_vec())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        (self.kernel)(&args.args, args.number_rows)
    }
}

/// Builds the call expression `name(args)` for a kernel.
pub fn call(name: &str, return_type: DataType, kernel: Kernel, args: Vec<Expr>) -> Expr {
    call_with_volatility(name, return_type, kernel, args, Volatility::Immutable)
}

pub fn call_with_volatility(
    name: &str,
    return_type: DataType,
    kernel: Kernel,
    args: Vec<Expr>,
    volatility: Volatility,
) -> Expr {
    let udf = KqlUdf { name: name.to_string(), return_type, kernel, signature: Signature::user_defined(volatility) };
    ScalarUDF::new_from_impl(udf).call(args)
}

/// Wraps a function as a shared `ScalarUDF`, for registering by name.
pub fn udf(name: &str, return_type: DataType, kernel: Kernel) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(KqlUdf {
        name: name.to_string(),
        return_type,
        kernel,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

/// Argument `i` as an array of `rows` rows (scalars are broadcast).
pub fn arg_array(args: &[ColumnarValue], i: usize, rows: usize) -> Result<ArrayRef> {
    args[i].to_array(rows)
}

/// All arguments as arrays of `rows` rows.
pub fn arg_arrays(args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>> {
    args.iter().map(|a| a.to_array(rows)).collect()
}

/// A constant string argument, if the argument is a scalar.
pub fn scalar_str(value: &ColumnarValue) -> Option<Option<&str>> {
    match value {
        ColumnarValue::Scalar(ScalarValue::Utf8(s)) | ColumnarValue::Scalar(ScalarValue::LargeUtf8(s)) => {
            Some(s.as_deref())
        }
        ColumnarValue::Scalar(ScalarValue::Utf8View(s)) => Some(s.as_deref()),
        _ => None,
    }
}

/// A constant i64 argument, if the argument is a scalar.
pub fn scalar_i64(value: &ColumnarValue) -> Option<Option<i64>> {
    match value {
        ColumnarValue::Scalar(ScalarValue::Int64(v)) => Some(*v),
        ColumnarValue::Scalar(ScalarValue::Int32(v)) => Some(v.map(i64::from)),
        _ => None,
    }
}

/// Returns a scalar when every input was scalar, so constant expressions
/// stay constant.
pub fn maybe_scalar(args: &[ColumnarValue], result: ArrayRef) -> Result<ColumnarValue> {
    if !args.is_empty() && args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) && result.len() == 1 {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// Rows to compute: 1 when every argument is a scalar (the result is then
/// returned as a scalar by [`maybe_scalar`]), else the batch size.
pub fn rows_to_compute(args: &[ColumnarValue], rows: usize) -> usize {
    if !args.is_empty() && args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        1
    } else {
        rows
    }
}

/// A one-argument kernel over dynamic values: `f` maps each value to the
/// output's element, and a SQL null input gives null without calling `f`.
/// The dynamic → scalar conversions are all this shape.
pub fn map_dynamic<T, B>(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(crate::dynamic::DynRef<'_>) -> Option<T>,
) -> Result<ColumnarValue>
where
    B: Array + FromIterator<Option<T>> + 'static,
{
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = datafusion::common::cast::as_binary_array(&array)?;
    let out: B =
        (0..n).map(|i| if input.is_null(i) { None } else { f(crate::dynamic::DynRef::new(input.value(i))) }).collect();
    maybe_scalar(args, Arc::new(out))
}
