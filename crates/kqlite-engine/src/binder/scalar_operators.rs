//! Binding operators: arithmetic and comparison with Kusto's typing of
//! numbers, datetimes, timespans and dynamic values.

use super::scalar::err;
use super::{BindError, BindResult};
use crate::convert::{implicit, Bound};
use crate::functions;
use crate::types::{KqlType, NANOS_PER_TICK, UNIX_EPOCH_TICKS};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{cast, lit, when, BinaryExpr, Expr, Operator};
use kqlite_syntax::ast::BinaryOp;
use kqlite_syntax::Span;

/// Converts `value` to `target` for comparison purposes.
pub(super) fn coerce_pair(value: Bound, target: KqlType) -> Option<Bound> {
    if value.ty == target {
        return Some(value);
    }
    if let Some(joined) = KqlType::numeric_join(value.ty, target) {
        return implicit(value, joined);
    }
    implicit(value, target)
}

/// The type two branches share: numbers widen, a dynamic takes the other
/// side's type, guid and string meet at string.
pub(super) fn join_types(a: KqlType, b: KqlType) -> Option<KqlType> {
    match (a, b) {
        _ if a == b => Some(a),
        (KqlType::Dynamic, t) | (t, KqlType::Dynamic) => Some(t),
        (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String) => Some(KqlType::String),
        _ => KqlType::numeric_join(a, b),
    }
}

/// Two values brought to one type (for `iff`, `coalesce`, comparisons).
pub(crate) fn unify(a: Bound, b: Bound) -> Option<(Expr, Expr, KqlType)> {
    if a.ty == b.ty {
        return Some((a.expr, b.expr, a.ty));
    }
    let target = KqlType::numeric_join(a.ty, b.ty)
        .or(if a.ty == KqlType::Dynamic { Some(b.ty) } else { None })
        .or(if b.ty == KqlType::Dynamic { Some(a.ty) } else { None })
        .or(if matches!((a.ty, b.ty), (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String)) {
            Some(KqlType::String)
        } else {
            None
        })?;
    let a = implicit(a, target)?;
    let b = implicit(b, target)?;
    Some((a.expr, b.expr, target))
}

pub(super) fn boolean(b: Bound, span: Span) -> BindResult<Expr> {
    match b.ty {
        KqlType::Bool => Ok(b.expr),
        KqlType::Dynamic => Ok(implicit(b, KqlType::Bool).expect("dynamic to bool").expr),
        t => err(span, format!("expected a bool expression, but this is {t}")),
    }
}

pub(super) fn dynamic_operand(b: Bound, span: Span) -> BindResult<Bound> {
    match b.ty {
        KqlType::Dynamic => Ok(b),
        KqlType::String => Ok(functions::dynamic::parse_json(b)),
        t => err(span, format!("member and index access need a dynamic value, but this is {t}")),
    }
}

fn binary_expr(l: Expr, op: Operator, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

/// Arithmetic with Kusto's typing of datetime and timespan.
pub(super) fn arithmetic(op: BinaryOp, l: Bound, r: Bound, span: Span) -> BindResult<Bound> {
    use KqlType::*;
    let df_op = match op {
        BinaryOp::Add => Operator::Plus,
        BinaryOp::Sub => Operator::Minus,
        BinaryOp::Mul => Operator::Multiply,
        BinaryOp::Div => Operator::Divide,
        _ => Operator::Modulo,
    };
    let (lt, rt) = (l.ty, r.ty);
    let l = if lt == Dynamic { implicit(l, Real).expect("dynamic to real") } else { l };
    let r = if rt == Dynamic { implicit(r, Real).expect("dynamic to real") } else { r };
    let (lt, rt) = (l.ty, r.ty);
    let result = match (op, lt, rt) {
        (_, a, b) if a.is_numeric() && b.is_numeric() => {
            // Kusto computes int arithmetic in long: `toint(2) * toint(3)` is
            // a long (Microsoft's binder types every int/int operator long).
            let ty = match KqlType::numeric_join(a, b).expect("numeric") {
                Int => Long,
                t => t,
            };
            let (le, re) = (implicit(l, ty).expect("numeric").expr, implicit(r, ty).expect("numeric").expr);
            if matches!(op, BinaryOp::Div | BinaryOp::Mod) && ty == Long {
                // Integer division by zero is null in Kusto, an error in DataFusion.
                let zero = lit(0i64);
                let value = if op == BinaryOp::Mod {
                    // Kusto's modulo is Euclidean: -14 % 12 == 10, 14 % -12 == 2.
                    let divisor = datafusion::functions::expr_fn::abs(re.clone());
                    binary_expr(
                        binary_expr(binary_expr(le, Operator::Modulo, re.clone()), Operator::Plus, divisor.clone()),
                        Operator::Modulo,
                        divisor,
                    )
                } else {
                    binary_expr(le, df_op, re.clone())
                };
                let expr = when(re.eq(zero), lit(ScalarValue::try_from(&ty.arrow()).expect("null")))
                    .otherwise(value)
                    .map_err(|e| BindError::new(span, e.to_string()))?;
                return Ok(Bound::new(expr, ty));
            }
            return Ok(Bound::new(binary_expr(le, df_op, re), ty));
        }
        (BinaryOp::Add, Datetime, Timespan) | (BinaryOp::Sub, Datetime, Timespan) => (Datetime, l.expr, r.expr),
        (BinaryOp::Add, Timespan, Datetime) => (Datetime, l.expr, r.expr),
        (BinaryOp::Sub, Datetime, Datetime) => (Timespan, l.expr, r.expr),
        (BinaryOp::Add | BinaryOp::Sub, Timespan, Timespan) => (Timespan, l.expr, r.expr),
        (BinaryOp::Mod, Timespan, Timespan) => (Timespan, l.expr, r.expr),
        (BinaryOp::Div, Timespan, Timespan) => {
            let expr = binary_expr(cast(l.expr, DataType::Float64), Operator::Divide, cast(r.expr, DataType::Float64));
            return Ok(Bound::new(expr, Real));
        }
        (BinaryOp::Div, Datetime, Timespan) => {
            // Microsoft's binder types `datetime / timespan` real (Sentinel's
            // RareDNSLookupWithDataTransfer.yaml divides `starttime / 1h`):
            // Kusto reads a datetime as its ticks since 0001-01-01 in
            // arithmetic, as `bin()` does. In floating point: the ticks
            // overflow a long in nanoseconds.
            let tick = lit(NANOS_PER_TICK as f64);
            let ticks = binary_expr(cast(l.expr, DataType::Float64), Operator::Divide, tick.clone());
            let ticks = binary_expr(ticks, Operator::Plus, lit(UNIX_EPOCH_TICKS as f64));
            let span_ticks = binary_expr(cast(r.expr, DataType::Float64), Operator::Divide, tick);
            return Ok(Bound::new(binary_expr(ticks, Operator::Divide, span_ticks), Real));
        }
        (BinaryOp::Mod, Datetime, Timespan) => {
            // As `/`: the datetime's ticks since 0001-01-01 (a midnight and a
            // Monday, so `% 1d` is the time of day), modulo the timespan's
            // ticks, Euclidean; a zero divisor gives null. Microsoft's binder
            // types it timespan.
            let tick = lit(NANOS_PER_TICK);
            let ticks = binary_expr(
                binary_expr(cast(l.expr, DataType::Int64), Operator::Divide, tick.clone()),
                Operator::Plus,
                lit(UNIX_EPOCH_TICKS),
            );
            let divisor = datafusion::functions::expr_fn::abs(binary_expr(
                cast(r.expr, DataType::Int64),
                Operator::Divide,
                tick.clone(),
            ));
            let remainder = binary_expr(
                binary_expr(binary_expr(ticks, Operator::Modulo, divisor.clone()), Operator::Plus, divisor.clone()),
                Operator::Modulo,
                divisor.clone(),
            );
            let expr = when(divisor.eq(lit(0i64)), lit(ScalarValue::Int64(None)))
                .otherwise(binary_expr(remainder, Operator::Multiply, tick))
                .map_err(|e| BindError::new(span, e.to_string()))?;
            return Ok(Bound::new(expr, Timespan));
        }
        (BinaryOp::Mul, Timespan, n) | (BinaryOp::Div, Timespan, n) if n.is_numeric() => {
            let expr = cast(
                binary_expr(cast(l.expr, DataType::Float64), df_op, cast(r.expr, DataType::Float64)),
                DataType::Int64,
            );
            return Ok(Bound::new(expr, Timespan));
        }
        (BinaryOp::Mul, n, Timespan) if n.is_numeric() => {
            let expr = cast(
                binary_expr(cast(l.expr, DataType::Float64), df_op, cast(r.expr, DataType::Float64)),
                DataType::Int64,
            );
            return Ok(Bound::new(expr, Timespan));
        }
        _ => {
            let symbol = match op {
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
                BinaryOp::Div => "/",
                _ => "%",
            };
            return err(span, format!("operator '{symbol}' cannot be applied to {lt} and {rt}"));
        }
    };
    let (ty, le, re) = result;
    Ok(Bound::new(binary_expr(le, df_op, re), ty))
}

/// `==`, `!=`, `<`, … with numeric promotion and dynamic unwrapping; reals
/// compare as IEEE 754 doubles ([`ieee_nan_comparison`]).
pub(super) fn comparison(op: BinaryOp, l: Bound, r: Bound, span: Span) -> BindResult<Bound> {
    compare(op, l, r, span, true)
}

/// A join key's `==`: as [`comparison`], but NaN keys match each other, as
/// equal keys of a hash table do (and as `summarize by` groups them).
pub(super) fn join_key_equality(l: Bound, r: Bound, span: Span) -> BindResult<Bound> {
    compare(BinaryOp::Eq, l, r, span, false)
}

fn compare(op: BinaryOp, l: Bound, r: Bound, span: Span, ieee_nan: bool) -> BindResult<Bound> {
    let df_op = match op {
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::NotEq => Operator::NotEq,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::Le => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        _ => Operator::GtEq,
    };
    let (lt, rt) = (l.ty, r.ty);
    // Kusto's == and != also compare text with numbers (`EventID == "4624"`),
    // bools (`tostring(Fields.UpToDate) == True`) and datetimes, reading the
    // text as the other side's type; and booleans with numbers
    // (`IsLocalAdmin == 0`).
    let parsed_from_text = |t: KqlType| t.is_numeric() || matches!(t, KqlType::Bool | KqlType::Datetime);
    let (l, r) = match (op, lt, rt) {
        (BinaryOp::Eq | BinaryOp::NotEq, KqlType::String, t) if parsed_from_text(t) => {
            (functions::conversion::from_string(l, t), r)
        }
        (BinaryOp::Eq | BinaryOp::NotEq, t, KqlType::String) if parsed_from_text(t) => {
            (l, functions::conversion::from_string(r, t))
        }
        (_, KqlType::Bool, t) if t.is_numeric() => (functions::conversion::convert(l, KqlType::Long), r),
        (_, t, KqlType::Bool) if t.is_numeric() => (l, functions::conversion::convert(r, KqlType::Long)),
        _ => (l, r),
    };
    // Text read as another type is null where it does not parse, and takes
    // the null guard below.
    let compares_text = l.ty == KqlType::String || r.ty == KqlType::String;
    let Some((le, re, ty)) = unify(l, r) else {
        return err(span, format!("cannot compare {lt} with {rt}"));
    };
    if lt == KqlType::Dynamic && rt == KqlType::Dynamic && !matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
        return err(span, "cannot order dynamic values; convert them with tolong(), tostring(), …");
    }
    let mut compared = binary_expr(le.clone(), df_op, re.clone());
    if ieee_nan && ty == KqlType::Real {
        compared = ieee_nan_comparison(op, compared, &le, &re);
    }
    // Kusto: a null compared with a value is unequal (`null != 5` is true,
    // `5 == int(null)` false); two nulls compare as null. Strings are never
    // null, so they need no guard.
    if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) && !compares_text {
        let one_side_null = le.clone().is_null().and(re.clone().is_not_null()).or(le.is_not_null().and(re.is_null()));
        let expr = when(one_side_null, lit(op == BinaryOp::NotEq))
            .otherwise(compared)
            .map_err(|e| BindError::new(span, e.to_string()))?;
        return Ok(Bound::new(expr, KqlType::Bool));
    }
    Ok(Bound::new(compared, KqlType::Bool))
}

/// Kusto's reals are .NET doubles compared as IEEE 754 does: a comparison
/// with NaN is false, except `!=`, which is true (so `real(nan) ==
/// real(nan)` is false). DataFusion's kernels compare floats in Arrow's
/// total order instead, where NaN equals itself and is above `+inf`.
/// `compared` (the total-order comparison, which keeps predicate pushdown)
/// is corrected by NaN guards on the operands that can be NaN; a side that
/// is a number literal needs none.
fn ieee_nan_comparison(op: BinaryOp, compared: Expr, l: &Expr, r: &Expr) -> Expr {
    let guards = [l, r].into_iter().filter(|e| may_be_nan(e)).map(|e| not_nan(e.clone())).reduce(Expr::and);
    match guards {
        None => compared,
        Some(neither_nan) if op == BinaryOp::NotEq => compared.or(datafusion::logical_expr::not(neither_nan)),
        Some(neither_nan) => compared.and(neither_nan),
    }
}

/// Whether a real expression can be NaN: anything but a number literal.
fn may_be_nan(e: &Expr) -> bool {
    !matches!(e, Expr::Literal(ScalarValue::Float64(Some(v)), _) if !v.is_nan())
}

/// `value` is not NaN (null for null). In Arrow's total order every NaN
/// (either sign) lies outside [-inf, +inf], so two comparisons with
/// constants test it with the vectorized kernels and no function call.
pub(super) fn not_nan(value: Expr) -> Expr {
    value.clone().gt_eq(lit(f64::NEG_INFINITY)).and(value.lt_eq(lit(f64::INFINITY)))
}
