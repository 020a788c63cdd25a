//! One DataFusion scalar UDF type for every KQL function kqlite implements.
//!
//! The binder has already checked arity and types and inserted conversions,
//! so a KQL function only needs a name, an Arrow return type and a kernel.
//! Kernels receive DataFusion's `ColumnarValue`s, so constant arguments
//! (the needle of `has`, the unit of `bin`) stay scalars and are not
//! broadcast to full columns.

use datafusion::arrow::array::{Array, ArrayRef, StructArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
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
        // DataFusion merges equal calls (common subexpressions), so two
        // kernels that happen to share a name must never compare equal.
        self.name == other.name
            && self.return_type == other.return_type
            && std::ptr::fn_addr_eq(self.kernel, other.kernel)
    }
}

impl Eq for KqlUdf {}

impl Hash for KqlUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `eq`: equal UDFs have equal names and types.
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
        // The kernel reserves what it builds from the query's pool.
        let _memory = crate::memory::enter(args.config_options.extensions.get::<crate::memory::QueryMemory>());
        let result = (self.kernel)(&args.args, args.number_rows)?;
        check_broadcast(&self.name, &result, args.number_rows)?;
        Ok(result)
    }
}

/// A constant result is copied to every row of the batch by the operator
/// that reads it, outside any kernel: a large constant over many rows (a
/// `range()` array beside each of 100,000 expanded rows) must fit the
/// query's budget before that copy is made.
fn check_broadcast(name: &str, result: &ColumnarValue, rows: usize) -> Result<()> {
    /// Below this, a copy is not worth a pool call.
    const SMALL: usize = 1 << 20;
    if let ColumnarValue::Scalar(value) = result {
        let bytes = value.size().saturating_mul(rows);
        if rows > 1 && bytes > SMALL {
            // Kernels are named kql_<function>[_<variant>]: the function is what the query wrote.
            let function = name.strip_prefix("kql_").unwrap_or(name);
            return crate::memory::check_fits(&format!("{function} (one value copied to {rows} rows)"), bytes);
        }
    }
    Ok(())
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
    check_unique_name(name, kernel);
    let udf = KqlUdf { name: name.to_string(), return_type, kernel, signature: Signature::user_defined(volatility) };
    ScalarUDF::new_from_impl(udf).call(args)
}

/// In debug builds (every test), checks that `name` names one kernel only:
/// plans, `EXPLAIN` output and error messages show kernels by name.
fn check_unique_name(name: &str, kernel: Kernel) {
    #[cfg(debug_assertions)]
    {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static KERNELS: OnceLock<Mutex<HashMap<String, Kernel>>> = OnceLock::new();
        let mut kernels = KERNELS.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
        let known = *kernels.entry(name.to_string()).or_insert(kernel);
        assert!(std::ptr::fn_addr_eq(known, kernel), "two different kernels are named {name}");
    }
    #[cfg(not(debug_assertions))]
    let _ = (name, kernel);
}

/// `value`, unchanged, where DataFusion may not copy it into a filter.
///
/// Filter pushdown moves a predicate below a projection by replacing each
/// column it reads with that column's expression, unless the expression is
/// volatile. A step that reads a computed column twice
/// (`extend arr = iff(c, array_concat(arr, x), arr)`) doubles the predicate
/// at each such step: 14 steps made a 16,384-fold expression that never
/// finished (Potential_IIS_CodeInject.yaml). Declared volatile so that the
/// predicate stays above the step and reads the computed column instead.
pub fn computed_here(value: Expr, return_type: DataType) -> Expr {
    call_with_volatility("kql_computed_here", return_type, identity_kernel, vec![value], Volatility::Volatile)
}

fn identity_kernel(args: &[ColumnarValue], _rows: usize) -> Result<ColumnarValue> {
    match args {
        [value] => Ok(value.clone()),
        _ => exec_err!("kql_computed_here: expected one argument, got {}", args.len()),
    }
}

/// Field `name` (of Arrow type `ty`) of a struct that one kernel returns
/// for several output columns (`parse`'s capture groups). Not DataFusion's
/// `get_field`: the optimizer moves `get_field` towards the scans, meant for
/// stored structs, and its `push_down_leaf_projections` fails on the plans
/// `parse` makes (apache/datafusion#25446); these structs are computed, so
/// nothing gains from moving their reads.
pub fn struct_field(value: Expr, name: &str, ty: DataType) -> Expr {
    call("kql_struct_field", ty, struct_field_kernel, vec![value, datafusion::prelude::lit(name.to_string())])
}

fn struct_field_kernel(args: &[ColumnarValue], _rows: usize) -> Result<ColumnarValue> {
    let Some(Some(name)) = scalar_str(&args[1]) else {
        return exec_err!("kql_struct_field: the field name must be a constant");
    };
    let field = |value: &dyn Array| -> Result<ArrayRef> {
        let Some(fields) = value.as_any().downcast_ref::<StructArray>() else {
            return exec_err!("kql_struct_field: expected a struct, got {}", value.data_type());
        };
        match fields.column_by_name(name) {
            Some(column) => Ok(column.clone()),
            None => exec_err!("kql_struct_field: the struct has no field {name}"),
        }
    };
    match &args[0] {
        ColumnarValue::Array(array) => Ok(ColumnarValue::Array(field(array.as_ref())?)),
        ColumnarValue::Scalar(ScalarValue::Struct(value)) => {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&field(value.as_ref())?, 0)?))
        }
        ColumnarValue::Scalar(other) => exec_err!("kql_struct_field: expected a struct, got {}", other.data_type()),
    }
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

/// A one-argument kernel from text to dynamic values: `parse` gives each
/// text's encoded value, and a null text, or text `parse` gives None for,
/// is dynamic null.
pub fn text_to_dynamic(
    args: &[ColumnarValue],
    rows: usize,
    parse: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = datafusion::common::cast::as_string_array(&array)?;
    let mut out = datafusion::arrow::array::BinaryBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        match (!input.is_null(i)).then(|| parse(input.value(i))).flatten() {
            Some(value) => out.append_value(value),
            None => out.append_value(crate::dynamic::ENCODED_NULL),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
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

/// A kernel that builds a dynamic value per row from all its arguments'
/// arrays: `f` gets the arrays and the row, and `None` gives a dynamic null.
pub fn map_rows_to_dynamic(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[ArrayRef], usize) -> Result<Option<crate::dynamic::DynValue>>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let mut out = datafusion::arrow::array::BinaryBuilder::with_capacity(n, n * 32);
    for row in 0..n {
        match f(&arrays, row)? {
            Some(v) => out.append_value(v.encode()),
            None => out.append_value(crate::dynamic::ENCODED_NULL),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(_: &[ColumnarValue], _: usize) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(String::new()))))
    }

    fn null(_: &[ColumnarValue], _: usize) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))
    }

    fn udf(name: &str, kernel: Kernel) -> KqlUdf {
        KqlUdf {
            name: name.to_string(),
            return_type: DataType::Utf8,
            kernel,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    #[test]
    fn udfs_are_equal_only_with_the_same_kernel() {
        assert!(udf("kql_test_text", empty) == udf("kql_test_text", empty));
        assert!(udf("kql_test_text", empty) != udf("kql_test_text", null));
        assert_eq!(udf("kql_test_text", null).name(), "kql_test_text");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "two different kernels are named kql_test_shared")]
    fn a_second_kernel_under_a_known_name_is_refused() {
        let _ = call("kql_test_shared", DataType::Utf8, empty, Vec::new());
        let _ = call("kql_test_shared", DataType::Utf8, null, Vec::new());
    }
}
