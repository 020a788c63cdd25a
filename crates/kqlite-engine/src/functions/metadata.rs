//! Functions about the query and its data rather than values:
//! `current_database`, `estimate_data_size`, `datetime_list_timezones`,
//! `bag_pack_columns`, `assert`, and the value `column_names_of` gives.

use super::{coerce, CallError, Registry};
use crate::convert::{evaluate_constant, Bound};
use crate::dynamic::DynValue;
use crate::types::KqlType;
use crate::udf::{self, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_string_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use std::sync::Arc;

/// The database name `current_database()` returns: kqlite runs one
/// session's tables, which Kusto would call its database.
pub const DATABASE_NAME: &str = "kqlite";

pub fn register(r: &mut Registry) {
    r.scalar("current_database", 0, 0, |_, _| Ok(Bound::new(lit(DATABASE_NAME), KqlType::String)));
    r.scalar("datetime_list_timezones", 0, 0, |_, _| {
        Ok(Bound::new(lit(ScalarValue::Binary(Some(timezone_names().encode()))), KqlType::Dynamic))
    });
    r.scalar("estimate_data_size", 1, usize::MAX, |_, a| {
        let args = a.into_iter().map(sized).collect();
        Ok(Bound::new(udf::call("kql_estimate_data_size", DataType::Int64, data_size_kernel, args), KqlType::Long))
    });
    r.scalar("bag_pack_columns", 1, usize::MAX, |_, a| {
        let mut columns = Vec::with_capacity(a.len());
        for (i, b) in a.into_iter().enumerate() {
            let Expr::Column(column) = &b.expr else {
                return Err(CallError::InvalidLiteral {
                    function: "bag_pack_columns".into(),
                    position: i + 1,
                    expected: "a column name",
                });
            };
            columns.push((column.name.clone(), b));
        }
        Ok(super::dynamic::pack_all(columns, false))
    });
    r.scalar("bin_auto", 1, 1, |ctx, a| {
        // `bin_at(x, size, at)` with the query's `set query_bin_auto_size`
        // and `query_bin_auto_at` (default: bins aligned at zero, as `bin`).
        let Some(size) = ctx.bin_auto_size.clone() else {
            return Err(CallError::invalid(
                "bin_auto",
                "needs the bin size: `set query_bin_auto_size=1h;` before the query",
            ));
        };
        let value = a.into_iter().next().expect("one arg");
        let registry = super::registry();
        match ctx.bin_auto_at.clone() {
            Some(at) => {
                (registry.lookup_scalar("bin_at").expect("bin_at is registered").bind)(ctx, vec![value, size, at])
            }
            None => (registry.lookup_scalar("bin").expect("bin is registered").bind)(ctx, vec![value, size]),
        }
    });
    r.scalar("assert", 2, 2, |_, a| {
        let mut a = a.into_iter();
        let condition = coerce("assert", 0, a.next().expect("condition"), KqlType::Bool)?;
        let message = coerce("assert", 1, a.next().expect("message"), KqlType::String)?;
        let Some(
            ScalarValue::Utf8(Some(message))
            | ScalarValue::LargeUtf8(Some(message))
            | ScalarValue::Utf8View(Some(message)),
        ) = evaluate_constant(&message.expr)
        else {
            return Err(CallError::not_constant("assert", 1, "a constant string"));
        };
        // Kusto checks the condition before the query runs, so it must be
        // a constant; a false one fails the query with the message.
        match evaluate_constant(&condition.expr) {
            Some(ScalarValue::Boolean(Some(true))) => Ok(Bound::new(lit(true), KqlType::Bool)),
            Some(ScalarValue::Boolean(_)) => Err(CallError::invalid("assert", message)),
            _ => Err(CallError::not_constant("assert", 0, "a condition known before the query runs")),
        }
    });
}

/// The names `datetime_utc_to_local` and `datetime_local_to_utc` take: the
/// IANA time zone database, sorted.
fn timezone_names() -> DynValue {
    let mut names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    DynValue::Array(names.into_iter().map(|n| DynValue::String(n.to_string())).collect())
}

/// A column for [`data_size_kernel`]: strings and dynamic values as they
/// are, other types as their fixed size in bytes.
fn sized(value: Bound) -> Expr {
    let fixed = match value.ty {
        KqlType::String | KqlType::Dynamic => return value.expr,
        KqlType::Bool => 1i64,
        KqlType::Int => 4,
        KqlType::Guid | KqlType::Decimal => 16,
        KqlType::Long | KqlType::Real | KqlType::Datetime | KqlType::Timespan => 8,
    };
    datafusion::logical_expr::when(value.expr.is_null(), lit(0i64)).otherwise(lit(fixed)).expect("well-formed case")
}

/// `estimate_data_size(c1, …)`: the bytes of the row's values: fixed sizes
/// for scalars, the UTF-8 length of strings, the encoded size of dynamic
/// values.
fn data_size_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let size_of = |a: &ArrayRef, row: usize| -> Result<i64> {
        if a.is_null(row) {
            return Ok(0);
        }
        Ok(match a.data_type() {
            DataType::Utf8 => as_string_array(a)?.value(row).len() as i64,
            DataType::Binary => as_binary_array(a)?.value(row).len() as i64,
            _ => datafusion::common::cast::as_int64_array(a)?.value(row),
        })
    };
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let mut total = 0i64;
        for a in &arrays {
            total += size_of(a, row)?;
        }
        out.push(total);
    }
    udf::maybe_scalar(args, Arc::new(Int64Array::from(out)))
}

/// The value of `column_names_of(T)`: T's column names as a dynamic array.
pub fn column_names(names: impl Iterator<Item = String>) -> Bound {
    let names = DynValue::Array(names.map(DynValue::String).collect());
    Bound::new(lit(ScalarValue::Binary(Some(names.encode()))), KqlType::Dynamic)
}
