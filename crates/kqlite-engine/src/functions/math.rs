//! Numeric functions, `bin`, and null handling (`isnull`, `coalesce`, …).

use super::{coerce, expect_one_of, Registry, NUMERIC};
use crate::binder::unify_values;
use crate::convert::Bound;
use crate::types::KqlType;
use datafusion::arrow::datatypes::DataType;
use datafusion::functions::expr_fn as df;
use datafusion::logical_expr::{cast, lit, when, Expr};

pub fn register(r: &mut Registry) {
    r.scalar("bin", 2, 2, |_, a| bin(a));
    r.scalar("floor", 2, 2, |_, a| bin(a));
    r.scalar("isnull", 1, 1, |_, a| Ok(Bound::new(null_test(&a[0]), KqlType::Bool)));
    r.scalar("isnotnull", 1, 1, |_, a| Ok(Bound::new(Expr::Not(Box::new(null_test(&a[0]))), KqlType::Bool)));
    r.scalar("not", 1, 1, |_, mut a| {
        let b = coerce("not", 0, a.swap_remove(0), KqlType::Bool)?;
        Ok(Bound::new(Expr::Not(Box::new(b.expr)), KqlType::Bool))
    });
    r.scalar("coalesce", 1, 64, |_, a| {
        let (exprs, ty) = unify_values(a).ok_or("coalesce(): all arguments must have the same type")?;
        Ok(Bound::new(df::coalesce(exprs), ty))
    });
    r.scalar("abs", 1, 1, |_, a| {
        expect_one_of(
            "abs",
            0,
            &a[0],
            &[KqlType::Int, KqlType::Long, KqlType::Real, KqlType::Decimal, KqlType::Timespan],
        )?;
        Ok(Bound::new(df::abs(a[0].expr.clone()), a[0].ty))
    });
    r.scalar("round", 1, 2, |_, a| {
        expect_one_of("round", 0, &a[0], NUMERIC)?;
        let value = cast(a[0].expr.clone(), DataType::Float64);
        let digits = a.get(1).map(|d| cast(d.expr.clone(), DataType::Int64)).unwrap_or(lit(0i64));
        Ok(Bound::new(df::round(vec![value, digits]), KqlType::Real))
    });
}

/// Kusto's `isnull`: strings are never null; a dynamic is null when it
/// holds the null value.
fn null_test(value: &Bound) -> Expr {
    match value.ty {
        KqlType::String => lit(false),
        KqlType::Dynamic => super::dynamic::is_null(value.clone()),
        _ => value.expr.clone().is_null(),
    }
}

/// `bin(value, size)`: rounds down to a multiple of `size` (numbers,
/// datetimes by timespan, timespans).
fn bin(args: Vec<Bound>) -> Result<Bound, String> {
    let (value, size) = (&args[0], &args[1]);
    match value.ty {
        KqlType::Datetime | KqlType::Timespan => {
            expect_one_of("bin", 1, size, &[KqlType::Timespan])?;
            Ok(Bound::new(floor_multiple(value.expr.clone(), size.expr.clone()), value.ty))
        }
        KqlType::Int | KqlType::Long => {
            expect_one_of("bin", 1, size, NUMERIC)?;
            if matches!(size.ty, KqlType::Real | KqlType::Decimal) {
                let v = cast(value.expr.clone(), DataType::Float64);
                let s = size.expr.clone();
                return Ok(Bound::new(df::floor(v / s.clone()) * s, KqlType::Real));
            }
            let v = cast(value.expr.clone(), DataType::Int64);
            Ok(Bound::new(floor_multiple(v, cast(size.expr.clone(), DataType::Int64)), KqlType::Long))
        }
        KqlType::Real | KqlType::Decimal => {
            expect_one_of("bin", 1, size, NUMERIC)?;
            let s = cast(size.expr.clone(), DataType::Float64);
            Ok(Bound::new(df::floor(value.expr.clone() / s.clone()) * s, KqlType::Real))
        }
        t => Err(format!("bin() rounds numbers, datetimes and timespans, not {t}")),
    }
}

/// `v - ((v % s) + s) % s`: floor to a multiple of `s`, also for negatives;
/// null when `s` is zero.
pub(crate) fn floor_multiple(v: Expr, s: Expr) -> Expr {
    let remainder = ((v.clone() % s.clone()) + s.clone()) % s.clone();
    when(s.eq(lit(0i64)), lit(datafusion::common::ScalarValue::Int64(None)))
        .otherwise(v - remainder)
        .expect("well-formed case")
}
