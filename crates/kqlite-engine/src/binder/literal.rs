//! Binding literals: numbers, strings, datetimes, timespans, GUIDs and
//! constant dynamic values.

use super::{BindError, BindResult};
use crate::convert::{evaluate_constant, Bound};
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::types::KqlType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::lit;
use kqlite_syntax::ast::{self, Literal};
use kqlite_syntax::Span;

/// Converts a literal.
pub(super) fn literal(l: &Literal, span: Span) -> BindResult<Bound> {
    Ok(match l {
        Literal::Null => Bound::new(lit(ScalarValue::Binary(Some(DynValue::Null.encode()))), KqlType::Dynamic),
        Literal::Bool(b) => Bound::new(lit(*b), KqlType::Bool),
        Literal::Long(text) => Bound::new(
            lit(parse_long(text)
                .ok_or_else(|| BindError::new(span, format!("integer literal {text} is out of range")))?),
            KqlType::Long,
        ),
        Literal::Real(text) => Bound::new(
            lit(text.parse::<f64>().map_err(|_| BindError::new(span, format!("invalid real literal {text}")))?),
            KqlType::Real,
        ),
        Literal::String { value, .. } => Bound::new(lit(value.clone()), KqlType::String),
        Literal::Timespan(text) | Literal::TimespanCall(text) => {
            let nanos = if text.trim() == "null" {
                None
            } else {
                Some(
                    crate::time::parse_timespan(text)
                        .ok_or_else(|| BindError::new(span, format!("invalid timespan '{text}'")))?,
                )
            };
            Bound::new(lit(ScalarValue::Int64(nanos)), KqlType::Timespan)
        }
        Literal::Datetime(text) => {
            // `datetime('2019-01-20T10:02:51')` is accepted with quotes too.
            let text = text.trim().trim_matches(|c| c == '\'' || c == '"');
            let nanos = if text == "null" {
                None
            } else {
                Some(
                    crate::time::parse_datetime(text)
                        .or_else(|| crate::time::parse_datetime(&datetime_without_spaced_separators(text)))
                        .ok_or_else(|| BindError::new(span, format!("invalid datetime '{text}'")))?,
                )
            };
            Bound::new(lit(ScalarValue::Int64(nanos)), KqlType::Datetime)
        }
        Literal::Guid(text) => {
            let value = if text.trim() == "null" { None } else { Some(text.trim().to_ascii_lowercase()) };
            Bound::new(lit(ScalarValue::Utf8(value)), KqlType::Guid)
        }
        Literal::Dynamic(v) => {
            Bound::new(lit(ScalarValue::Binary(Some(dynamic_literal(v, span)?.encode()))), KqlType::Dynamic)
        }
        Literal::Typed { ty, value } => {
            let kql = KqlType::from_name(ty).ok_or_else(|| BindError::new(span, format!("unknown type '{ty}'")))?;
            let v = value.trim();
            let scalar = match kql {
                _ if v == "null" => {
                    ScalarValue::try_from(&kql.arrow()).map_err(|e| BindError::new(span, e.to_string()))?
                }
                KqlType::Bool => ScalarValue::Boolean(Some(v.eq_ignore_ascii_case("true"))),
                // Hex literals wrap to 32 bits: int(0xf090013d) is negative.
                KqlType::Int => ScalarValue::Int32(Some(
                    parse_long(v)
                        .map(|x| x as i32)
                        .ok_or_else(|| BindError::new(span, format!("invalid int '{v}'")))?,
                )),
                KqlType::Long => ScalarValue::Int64(Some(
                    parse_long(v).ok_or_else(|| BindError::new(span, format!("invalid long '{v}'")))?,
                )),
                _ => ScalarValue::Float64(Some(
                    parse_real(v).ok_or_else(|| BindError::new(span, format!("invalid real '{v}'")))?,
                )),
            };
            Bound::new(lit(scalar), kql)
        }
    })
}

fn parse_long(text: &str) -> Option<i64> {
    let (negative, t) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => t.parse::<i64>().ok()?,
    };
    Some(if negative { -v } else { v })
}

fn parse_real(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

fn dynamic_literal(v: &ast::DynamicValue, span: Span) -> BindResult<DynValue> {
    Ok(match v {
        ast::DynamicValue::Null => DynValue::Null,
        ast::DynamicValue::Bool(b) => DynValue::Bool(*b),
        ast::DynamicValue::Number(n) => match parse_long(n) {
            Some(i) => DynValue::Long(i),
            None => DynValue::Real(n.parse().map_err(|_| BindError::new(span, format!("invalid number {n}")))?),
        },
        ast::DynamicValue::String(s) => DynValue::String(s.clone()),
        ast::DynamicValue::Array(items) => {
            DynValue::Array(items.iter().map(|i| dynamic_literal(i, span)).collect::<BindResult<_>>()?)
        }
        ast::DynamicValue::Object(entries) => DynValue::Object(
            entries.iter().map(|(k, v)| Ok((k.clone(), dynamic_literal(v, span)?))).collect::<BindResult<_>>()?,
        ),
        ast::DynamicValue::Literal(l) => {
            let b = literal(l, span)?;
            let value = evaluate_constant(&b.expr);
            match (b.ty, value) {
                (KqlType::Datetime, Some(ScalarValue::Int64(Some(v)))) => DynValue::Datetime(v),
                (KqlType::Timespan, Some(ScalarValue::Int64(Some(v)))) => DynValue::Timespan(v),
                (KqlType::Guid, Some(ScalarValue::Utf8(Some(s)))) => DynValue::Guid(s),
                (KqlType::Long, Some(ScalarValue::Int64(Some(v)))) => DynValue::Long(v),
                (KqlType::Int, Some(ScalarValue::Int32(Some(v)))) => DynValue::Long(v.into()),
                (KqlType::Real | KqlType::Decimal, Some(ScalarValue::Float64(Some(v)))) => DynValue::Real(v),
                (KqlType::Bool, Some(ScalarValue::Boolean(Some(v)))) => DynValue::Bool(v),
                _ => DynValue::Null,
            }
        }
    })
}

/// An element of a constant dynamic array as a literal of type `ty` (for `in`).
pub(super) fn dynamic_element_literal(d: DynRef<'_>, ty: KqlType) -> Option<Bound> {
    let scalar = match ty {
        KqlType::String | KqlType::Guid => ScalarValue::Utf8(Some(d.to_kql_string())),
        KqlType::Int | KqlType::Long | KqlType::Datetime | KqlType::Timespan => match d.kind() {
            DynKind::Real => return Some(Bound::new(lit(d.as_real()?), KqlType::Real)),
            DynKind::String => ScalarValue::Int64(Some(d.as_str()?.trim().parse().ok()?)),
            _ => ScalarValue::Int64(Some(d.as_long()?)),
        },
        KqlType::Real | KqlType::Decimal => ScalarValue::Float64(Some(d.as_real()?)),
        KqlType::Bool => ScalarValue::Boolean(Some(d.as_bool()?)),
        KqlType::Dynamic => ScalarValue::Binary(Some(d.bytes().to_vec())),
    };
    let item_ty = match ty {
        KqlType::Int => KqlType::Long,
        t => t,
    };
    Some(Bound::new(lit(scalar), item_ty))
}

/// A datetime literal's text with the blanks around its date and time
/// separators removed: Kusto reads `datetime(2017 - 08 - 01)` (the
/// sliding_window_counts reference example) and `datetime(2017-08-01 10 : 00)`
/// as `2017-08-01` and `2017-08-01 10:00`. The blank between the date and the
/// time stays.
fn datetime_without_spaced_separators(text: &str) -> String {
    let is_separator = |c: char| matches!(c, '-' | '/' | ':' | '.');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let previous = out.chars().last();
            if next.is_some_and(|&n| is_separator(n)) || previous.is_some_and(is_separator) {
                continue;
            }
        }
        out.push(c);
    }
    out
}
