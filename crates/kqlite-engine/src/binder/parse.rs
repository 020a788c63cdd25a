//! `parse` and `parse-where`: extract columns from text with a pattern.
//!
//! The pattern compiles to one regular expression, evaluated once per row
//! for all output columns.

use super::scalar::RowScope;
use super::tabular::param_name;
use super::tabular::{project_outputs, project_plan, set_output};
use super::AtSpan;
use super::{col_ref, BindError, BindResult, Binder, Relation};
use crate::convert::{to_string, Bound};
use crate::functions;
use crate::types::KqlType;
use crate::udf;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, Literal, ParsePart};
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    pub(super) fn parse_operator(
        &mut self,
        input: Relation,
        params: &[ast::OperatorParam],
        source: &ast::Expr,
        pattern: &[ParsePart],
        is_where: bool,
        span: Span,
    ) -> BindResult<Relation> {
        let kind = param_name(params, "kind").unwrap_or_else(|| "simple".to_string());
        let flags = param_name(params, "flags").unwrap_or_default();
        let text = to_string(self.scalar(source, &mut RowScope::new(&input.columns))?);
        let mut regex = String::new();
        if kind == "regex" && !flags.is_empty() {
            let f: String = flags.chars().filter(|c| matches!(c, 'i' | 'm' | 's' | 'U' | 'x')).collect();
            regex.push_str(&format!("(?{f})"));
        }
        let mut columns: Vec<(String, KqlType)> = Vec::new();
        if !matches!(pattern.first(), Some(ParsePart::Star)) {
            regex.push('^');
        }
        for (i, part) in pattern.iter().enumerate() {
            let last = i + 1 == pattern.len();
            match part {
                // In regex mode `*` and untyped columns are greedy `.*`, as in
                // Kusto, so `flags=U` makes them lazy (the reference's
                // `flags=Ui` example); simple and relaxed modes match lazily.
                ParsePart::Star => regex.push_str(if last || kind == "regex" { ".*" } else { ".*?" }),
                ParsePart::Text(Literal::String { value, .. }) => {
                    if kind == "regex" {
                        // The pattern's own groups must not take the
                        // numbers of the columns' groups.
                        regex.push_str(&non_capturing(value))
                    } else {
                        regex.push_str(&regex::escape(value))
                    }
                }
                ParsePart::Text(_) => {
                    return Err(BindError::new(span, "parse patterns contain strings, '*' and columns"))
                }
                ParsePart::Column { name, ty } => {
                    let ty = match ty {
                        Some(t) => self.type_name(t)?,
                        None => KqlType::String,
                    };
                    // kind=relaxed takes a number where there is one, and
                    // otherwise the text up to what follows (null once
                    // converted), so the rest of the row still matches.
                    let relaxed = kind == "relaxed";
                    let group = match (ty, last) {
                        (KqlType::Int | KqlType::Long, _) if relaxed => r"(-?\d+|.*?)",
                        (KqlType::Int | KqlType::Long, _) => r"(-?\d+)",
                        (KqlType::Real | KqlType::Decimal, _) if relaxed => r"(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|.*?)",
                        (KqlType::Real | KqlType::Decimal, _) => r"(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)",
                        (_, true) => "(.*)",
                        _ if kind == "regex" => "(.*)",
                        _ => "(.*?)",
                    };
                    regex.push_str(group);
                    columns.push((name.name.clone(), ty));
                }
            }
        }
        if let Err(e) = regex::Regex::new(&regex) {
            return Err(BindError::new(span, format!("invalid parse pattern: {e}")));
        }
        let matched_name = self.fresh("parse");
        let extract = functions::string::regex_groups(text, &regex, columns.len());
        let mut exprs: Vec<Expr> = input.columns.iter().map(|c| col_ref(&c.name)).collect();
        exprs.push(extract.alias(&matched_name));
        let plan = project_plan(input.plan.clone(), exprs).at(span)?;
        let mut values = Vec::new();
        for (i, (name, ty)) in columns.into_iter().enumerate() {
            let group = udf::struct_field(col_ref(&matched_name), &format!("g{}", i + 1), DataType::Utf8);
            let value = Bound::new(datafusion::functions::expr_fn::coalesce(vec![group, lit("")]), KqlType::String);
            values.push((name, functions::conversion::from_string(value, ty)));
        }
        // Outside kind=relaxed a typed column whose text does not convert
        // fails the whole match (parse-where-operator.md: such rows are
        // dropped; with parse they come out empty).
        let mut matched = udf::struct_field(col_ref(&matched_name), "matched", DataType::Boolean);
        if kind != "relaxed" {
            for (_, value) in &values {
                if !matches!(value.ty, KqlType::String | KqlType::Dynamic) {
                    matched = matched.and(value.expr.clone().is_not_null());
                }
            }
        }
        let mut plan = plan;
        if is_where {
            plan = LogicalPlanBuilder::from(plan).filter(matched.clone()).and_then(|b| b.build()).at(span)?;
        }
        let mut outputs = Self::keep_all(&input);
        for (name, value) in values {
            let otherwise = if value.ty == KqlType::String {
                lit("")
            } else {
                datafusion::logical_expr::cast(lit(datafusion::common::ScalarValue::Null), value.ty.arrow())
            };
            let expr = datafusion::logical_expr::when(matched.clone(), value.expr).otherwise(otherwise).at(span)?;
            set_output(&mut outputs, name, Bound::new(expr, value.ty));
        }
        project_outputs(plan, outputs, span)
    }
}

/// `pattern` with its capturing groups made non-capturing (`(x)` →
/// `(?:x)`), leaving escapes, character classes and `(?…)` groups alone:
/// in `parse kind=regex` only the columns capture (the reference's
/// `"(.*?)totalSlices="` text between columns).
fn non_capturing(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class && chars.peek() != Some(&'?') => out.push_str("?:"),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::non_capturing;

    #[test]
    fn only_plain_groups_become_non_capturing() {
        assert_eq!(non_capturing("(.*?)a"), "(?:.*?)a");
        assert_eq!(non_capturing(r"\(x\)"), r"\(x\)");
        assert_eq!(non_capturing(r"\\(x)"), r"\\(?:x)");
        assert_eq!(non_capturing("[(]"), "[(]");
        assert_eq!(non_capturing("(?i)(a)"), "(?i)(?:a)");
    }
}
