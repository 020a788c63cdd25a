//! String functions.

use super::{coerce, Registry};
use crate::convert::{to_string, Bound};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::as_string_array;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::functions::expr_fn as df;
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("isempty", 1, 1, |_, a| Ok(is_empty(first(a), false)));
    r.scalar("isnotempty", 1, 1, |_, a| Ok(is_empty(first(a), true)));
    r.scalar("strlen", 1, 1, |_, a| {
        let s = to_string(first(a));
        Ok(Bound::new(datafusion::logical_expr::cast(df::character_length(s.expr), DataType::Int64), KqlType::Long))
    });
    r.scalar("tolower", 1, 1, |_, a| Ok(Bound::new(df::lower(to_string(first(a)).expr), KqlType::String)));
    r.scalar("toupper", 1, 1, |_, a| Ok(Bound::new(df::upper(to_string(first(a)).expr), KqlType::String)));
    r.scalar("strcat", 1, 64, |_, a| {
        let parts: Vec<Expr> = a.into_iter().map(|b| to_string(b).expr).collect();
        Ok(Bound::new(df::concat(parts), KqlType::String))
    });
}

fn first(mut a: Vec<Bound>) -> Bound {
    a.swap_remove(0)
}

/// `isempty`/`isnotempty`: empty string or null (any type).
fn is_empty(value: Bound, negate: bool) -> Bound {
    let empty = match value.ty {
        KqlType::String | KqlType::Guid => df::coalesce(vec![value.expr.clone(), lit("")]).eq(lit("")),
        KqlType::Dynamic => {
            let s = to_string(value).expr;
            s.eq(lit(""))
        }
        _ => value.expr.is_null(),
    };
    Bound::new(if negate { Expr::Not(Box::new(empty)) } else { empty }, KqlType::Bool)
}

/// One regex evaluation producing a struct `{matched, g1, …, gN}` of the
/// capture groups (used by `parse`).
pub fn regex_groups(text: Bound, regex: &str, groups: usize) -> Expr {
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    for i in 1..=groups {
        fields.push(Field::new(format!("g{i}"), DataType::Utf8, true));
    }
    udf::call(
        "kql_regex_groups",
        DataType::Struct(Fields::from(fields)),
        regex_groups_kernel,
        vec![text.expr, lit(regex.to_string()), lit(groups as i64)],
    )
}

fn regex_groups_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))) = &args[1] else {
        return exec_err!("kql_regex_groups: the pattern must be a constant");
    };
    let ColumnarValue::Scalar(ScalarValue::Int64(Some(groups))) = &args[2] else {
        return exec_err!("kql_regex_groups: the group count must be a constant");
    };
    let groups = *groups as usize;
    let re = match regex::Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => return exec_err!("invalid regular expression {pattern:?}: {e}"),
    };
    let n = rows_to_compute(&args[..1], rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let mut matched = BooleanBuilder::with_capacity(n);
    let mut builders: Vec<StringBuilder> = (0..groups).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    let mut locations = re.capture_locations();
    for i in 0..n {
        let hit = !input.is_null(i) && re.captures_read(&mut locations, input.value(i)).is_some();
        matched.append_value(hit);
        for (g, b) in builders.iter_mut().enumerate() {
            match locations.get(g + 1).filter(|_| hit) {
                Some((s, e)) => b.append_value(&input.value(i)[s..e]),
                None => b.append_null(),
            }
        }
    }
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(matched.finish())];
    for (g, mut b) in builders.into_iter().enumerate() {
        fields.push(Field::new(format!("g{}", g + 1), DataType::Utf8, true));
        columns.push(Arc::new(b.finish()));
    }
    let result = StructArray::try_new(Fields::from(fields), columns, None)?;
    maybe_scalar(&args[..1], Arc::new(result))
}

#[allow(dead_code)]
fn require_string(name: &str, i: usize, b: Bound) -> Result<Bound, String> {
    coerce(name, i, b, KqlType::String)
}
