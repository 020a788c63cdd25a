//! Conversions between KQL types: Kusto's implicit promotions (int → long →
//! real, anything → dynamic where a dynamic is expected, dynamic → scalar
//! where a scalar is expected) and the text forms `tostring()` produces.

use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::time::{format_datetime_text, format_timespan};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{
    as_binary_array, as_boolean_array, as_float64_array, as_int32_array, as_int64_array, as_string_array,
};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{cast, ColumnarValue, Expr};

/// An expression with its KQL type.
#[derive(Clone, Debug)]
pub struct Bound {
    pub expr: Expr,
    pub ty: KqlType,
}

impl Bound {
    pub fn new(expr: Expr, ty: KqlType) -> Bound {
        Bound { expr, ty }
    }
}

/// Converts `value` to `target` where Kusto converts implicitly; `None`
/// when it does not (the caller reports the type error).
pub fn implicit(value: Bound, target: KqlType) -> Option<Bound> {
    use KqlType::*;
    if value.ty == target {
        return Some(value);
    }
    let expr = match (value.ty, target) {
        (Int, Long)
        | (Int, Real)
        | (Long, Real)
        | (Int, Decimal)
        | (Long, Decimal)
        | (Decimal, Real)
        | (Real, Decimal) => cast(value.expr, target.arrow()),
        (_, Dynamic) => to_dynamic(value.clone()).expr,
        (Dynamic, String) => udf::call("kql_dynamic_to_string", DataType::Utf8, dynamic_to_string, vec![value.expr]),
        (Dynamic, Long) | (Dynamic, Datetime) | (Dynamic, Timespan) => {
            udf::call("kql_dynamic_to_long", DataType::Int64, dynamic_to_long, vec![value.expr])
        }
        (Dynamic, Int) => {
            cast(udf::call("kql_dynamic_to_long", DataType::Int64, dynamic_to_long, vec![value.expr]), DataType::Int32)
        }
        (Dynamic, Real) | (Dynamic, Decimal) => {
            udf::call("kql_dynamic_to_real", DataType::Float64, dynamic_to_real, vec![value.expr])
        }
        (Dynamic, Bool) => udf::call("kql_dynamic_to_bool", DataType::Boolean, dynamic_to_bool, vec![value.expr]),
        (Guid, String) | (String, Guid) => value.expr,
        _ => return None,
    };
    Some(Bound::new(expr, target))
}

/// `todynamic`-style wrapping of any value.
pub fn to_dynamic(value: Bound) -> Bound {
    let (name, kernel): (&str, udf::Kernel) = match value.ty {
        KqlType::Dynamic => return value,
        KqlType::Bool => ("kql_bool_to_dynamic", bool_to_dynamic),
        KqlType::Int => ("kql_int_to_dynamic", int_to_dynamic),
        KqlType::Long => ("kql_long_to_dynamic", long_to_dynamic),
        KqlType::Real | KqlType::Decimal => ("kql_real_to_dynamic", real_to_dynamic),
        KqlType::String => ("kql_string_to_dynamic", string_to_dynamic),
        KqlType::Guid => ("kql_guid_to_dynamic", guid_to_dynamic),
        KqlType::Datetime => ("kql_datetime_to_dynamic", datetime_to_dynamic),
        KqlType::Timespan => ("kql_timespan_to_dynamic", timespan_to_dynamic),
    };
    Bound::new(udf::call(name, DataType::Binary, kernel, vec![value.expr]), KqlType::Dynamic)
}

/// `tostring(x)` for any type; null becomes the empty string.
pub fn to_string(value: Bound) -> Bound {
    let (name, kernel): (&str, udf::Kernel) = match value.ty {
        KqlType::String | KqlType::Guid => {
            return Bound::new(
                datafusion::functions::expr_fn::coalesce(vec![value.expr, datafusion::prelude::lit("")]),
                KqlType::String,
            )
        }
        KqlType::Dynamic => ("kql_dynamic_to_string", dynamic_to_string),
        KqlType::Bool => ("kql_bool_to_string", bool_to_string),
        KqlType::Int => ("kql_int_to_string", int_to_string),
        KqlType::Long => ("kql_long_to_string", long_to_string),
        KqlType::Real | KqlType::Decimal => ("kql_real_to_string", real_to_string),
        KqlType::Datetime => ("kql_datetime_to_string", datetime_to_string),
        KqlType::Timespan => ("kql_timespan_to_string", timespan_to_string),
    };
    Bound::new(udf::call(name, DataType::Utf8, kernel, vec![value.expr]), KqlType::String)
}

/// Kusto's text for a real: integral values without a fraction, others
/// with the shortest round-trip digits.
pub fn format_real(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 {
            "∞".to_string()
        } else {
            "-∞".to_string()
        }
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

macro_rules! to_dynamic_kernel {
    ($name:ident, $cast:ident, |$v:ident| $make:expr) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let array = args[0].to_array(n)?;
            let input = $cast(&array)?;
            let mut out = BinaryBuilder::with_capacity(n, n * 9);
            let mut buf = Vec::new();
            for i in 0..n {
                buf.clear();
                if input.is_null(i) {
                    DynValue::Null.encode_into(&mut buf);
                } else {
                    let $v = input.value(i);
                    $make.encode_into(&mut buf);
                }
                out.append_value(&buf);
            }
            maybe_scalar(args, std::sync::Arc::new(out.finish()))
        }
    };
}

to_dynamic_kernel!(bool_to_dynamic, as_boolean_array, |v| DynValue::Bool(v));
to_dynamic_kernel!(int_to_dynamic, as_int32_array, |v| DynValue::Long(v as i64));
to_dynamic_kernel!(long_to_dynamic, as_int64_array, |v| DynValue::Long(v));
to_dynamic_kernel!(real_to_dynamic, as_float64_array, |v| DynValue::Real(v));
to_dynamic_kernel!(string_to_dynamic, as_string_array, |v| DynValue::String(v.to_string()));
to_dynamic_kernel!(guid_to_dynamic, as_string_array, |v| DynValue::Guid(v.to_string()));
to_dynamic_kernel!(datetime_to_dynamic, as_int64_array, |v| DynValue::Datetime(v));
to_dynamic_kernel!(timespan_to_dynamic, as_int64_array, |v| DynValue::Timespan(v));

macro_rules! to_string_kernel {
    ($name:ident, $cast:ident, |$v:ident| $text:expr) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let array = args[0].to_array(n)?;
            let input = $cast(&array)?;
            let mut out = StringBuilder::with_capacity(n, n * 8);
            for i in 0..n {
                if input.is_null(i) {
                    out.append_value("");
                } else {
                    let $v = input.value(i);
                    out.append_value($text);
                }
            }
            maybe_scalar(args, std::sync::Arc::new(out.finish()))
        }
    };
}

to_string_kernel!(bool_to_string, as_boolean_array, |v| if v { "true" } else { "false" });
to_string_kernel!(int_to_string, as_int32_array, |v| v.to_string());
to_string_kernel!(long_to_string, as_int64_array, |v| v.to_string());
to_string_kernel!(real_to_string, as_float64_array, |v| format_real(v));
to_string_kernel!(datetime_to_string, as_int64_array, |v| format_datetime_text(v));
to_string_kernel!(timespan_to_string, as_int64_array, |v| format_timespan(v));
to_string_kernel!(dynamic_to_string, as_binary_array, |v| DynRef::new(v).to_kql_string());

fn dynamic_to_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<i64, Int64Array>(args, rows, |d| match d.kind() {
        DynKind::Real => d.as_real().map(|r| r as i64),
        DynKind::String => d.as_str().and_then(|s| s.trim().parse().ok()),
        DynKind::Bool => d.as_bool().map(i64::from),
        _ => d.as_long(),
    })
}

fn dynamic_to_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<f64, Float64Array>(args, rows, |d| match d.kind() {
        DynKind::String => d.as_str().and_then(|s| s.trim().parse().ok()),
        _ => d.as_real(),
    })
}

fn dynamic_to_bool(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<bool, BooleanArray>(args, rows, |d| match d.kind() {
        DynKind::Bool => d.as_bool(),
        DynKind::Long => d.as_long().map(|v| v != 0),
        DynKind::String => match d.as_str()?.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Brings values to one type (for `coalesce` and friends).
pub fn unify_values(values: Vec<Bound>) -> Option<(Vec<Expr>, KqlType)> {
    let ty = values.iter().skip(1).try_fold(values.first()?.ty, |t, v| {
        if t == v.ty {
            Some(t)
        } else {
            KqlType::numeric_join(t, v.ty)
        }
    })?;
    let exprs = values.into_iter().map(|v| implicit(v, ty).map(|b| b.expr)).collect::<Option<Vec<_>>>()?;
    Some((exprs, ty))
}

/// Evaluates an expression without columns, if it is constant.
///
/// The expression is first simplified as DataFusion's optimizer would
/// (constant folding included): some built-ins, such as the `coalesce` that
/// `strcat` binds to, only run once simplified into other expressions.
pub fn evaluate_constant(expr: &Expr) -> Option<ScalarValue> {
    use datafusion::arrow::datatypes::Schema;
    use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::execution_props::ExecutionProps;
    use datafusion::logical_expr::simplify::SimplifyContext;
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    if let Expr::Literal(v, _) = expr {
        return Some(v.clone());
    }
    if !expr.column_refs().is_empty() || contains_subquery(expr) {
        return None;
    }
    let schema = std::sync::Arc::new(DFSchema::empty());
    let simplifier = ExprSimplifier::new(SimplifyContext::builder().with_schema(schema.clone()).build());
    let expr = simplifier.simplify(expr.clone()).ok()?;
    if let Expr::Literal(v, _) = &expr {
        return Some(v.clone());
    }
    // Volatile functions (`rand()`) are not folded by the simplifier: run them.
    let props = ExecutionProps::new();
    let physical = datafusion::physical_expr::create_physical_expr(&expr, &schema, &props, &Default::default()).ok()?;
    let batch = RecordBatch::try_new_with_options(
        std::sync::Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .ok()?;
    match physical.evaluate(&batch).ok()? {
        ColumnarValue::Scalar(s) => Some(s),
        ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).ok(),
    }
}

fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    use datafusion::common::tree_node::TreeNode;
    let _ = expr.apply(|e| {
        if matches!(e, Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)) {
            found = true;
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}
