//! `reduce by Expr [with threshold=T, characters=C]`: groups similar strings
//! under a pattern in which `*` stands for the terms that vary.
//!
//! The reference defines the output (Pattern, Count, Representative; with
//! `kind=source`, the input plus its Pattern) but not the clustering, which
//! is Kusto's own and nondeterministic. kqlite clusters so: each value is
//! split into terms at the separator characters (every character that is
//! not an ASCII letter or digit, or the `characters` given); values with the
//! same separators in the same order form a candidate group; a group that
//! holds at least `threshold` of all rows is reduced to one pattern that
//! keeps the terms all its values share and puts `*` for the others; the
//! values of a smaller group stay patterns of their own.

use super::scalar::RowScope;
use super::scan::rows_batch;
use super::tabular::{param_name, project_plan};
use super::{AtSpan, BindError, BindResult, Binder, Relation};
use crate::convert::{evaluate_constant, to_string};
use crate::types::{ColumnDef, KqlType};
use datafusion::common::ScalarValue;
use kqlite_syntax::ast;
use kqlite_syntax::Span;
use std::collections::HashMap;

/// The reference's default threshold.
const DEFAULT_THRESHOLD: f64 = 0.1;

impl Binder<'_> {
    pub(super) fn reduce(
        &mut self,
        input: Relation,
        params: &[ast::OperatorParam],
        by: &ast::Expr,
        with: &[ast::OperatorParam],
        span: Span,
    ) -> BindResult<Relation> {
        let source_kind = match param_name(params, "kind") {
            None => false,
            Some(k) if k.eq_ignore_ascii_case("source") => true,
            Some(k) => return Err(BindError::new(span, format!("reduce kind must be source, not '{k}'"))),
        };
        let mut threshold = DEFAULT_THRESHOLD;
        let mut separators: Option<Vec<char>> = None;
        for p in with {
            let value = self.constant(&p.value)?;
            let value = evaluate_constant(&value.expr);
            match (p.name.as_str(), value) {
                ("threshold", Some(ScalarValue::Float64(Some(t)))) if (0.0..=1.0).contains(&t) => threshold = t,
                ("threshold", Some(ScalarValue::Int64(Some(t)))) if (0..=1).contains(&t) => threshold = t as f64,
                ("characters", Some(ScalarValue::Utf8(Some(c)))) => separators = Some(c.chars().collect()),
                (name, _) => {
                    return Err(BindError::new(
                        p.span,
                        format!("reduce takes threshold (a real between 0 and 1) and characters (a string), not '{name}' as given"),
                    ))
                }
            }
        }
        let text = to_string(self.scalar(by, &mut RowScope::new(&input.columns))?);
        let value_name = "__reduce_value";
        let mut exprs: Vec<_> = input.columns.iter().map(|c| super::col_ref(&c.name)).collect();
        exprs.push(text.expr.alias(value_name));
        let plan = project_plan(input.plan, exprs).at(span)?;
        let mut collected_columns = input.columns.clone();
        collected_columns.push(ColumnDef::new(value_name, KqlType::String));
        let rows = self.collect_rows(Relation { plan, columns: collected_columns }, span)?;
        let values: Vec<String> = rows
            .iter()
            .map(|r| match r.last() {
                Some(ScalarValue::Utf8(Some(s))) => s.clone(),
                _ => String::new(),
            })
            .collect();
        let patterns = reduce_patterns(&values, threshold, separators.as_deref());
        let (columns, out_rows) = if source_kind {
            let mut columns = input.columns.clone();
            columns.push(ColumnDef::new("Pattern", KqlType::String));
            let out = rows
                .into_iter()
                .zip(&patterns)
                .map(|(mut r, p)| {
                    r.pop();
                    r.push(ScalarValue::Utf8(Some(p.clone())));
                    r
                })
                .collect();
            (columns, out)
        } else {
            // Pattern → (count, first value), in order of first appearance.
            let mut order: Vec<String> = Vec::new();
            let mut groups: HashMap<&str, (i64, &str)> = HashMap::new();
            for (pattern, value) in patterns.iter().zip(&values) {
                let entry = groups.entry(pattern.as_str()).or_insert_with(|| {
                    order.push(pattern.clone());
                    (0, value.as_str())
                });
                entry.0 += 1;
            }
            let mut out: Vec<(String, i64, String)> =
                order.iter().map(|p| (p.clone(), groups[p.as_str()].0, groups[p.as_str()].1.to_string())).collect();
            out.sort_by_key(|p| std::cmp::Reverse(p.1));
            let columns = vec![
                ColumnDef::new("Pattern", KqlType::String),
                ColumnDef::new("Count", KqlType::Long),
                ColumnDef::new("Representative", KqlType::String),
            ];
            let out = out
                .into_iter()
                .map(|(p, c, r)| {
                    vec![ScalarValue::Utf8(Some(p)), ScalarValue::Int64(Some(c)), ScalarValue::Utf8(Some(r))]
                })
                .collect();
            (columns, out)
        };
        let batch = rows_batch(&columns, out_rows).map_err(|e| BindError::new(span, e))?;
        let (plan, _) = self.resolver.temporary(batch).at(span)?;
        Ok(Relation { plan, columns })
    }
}

/// A value split into terms and the separators between them.
struct Split {
    terms: Vec<String>,
    separators: String,
}

fn split_terms(value: &str, separators: Option<&[char]>) -> Split {
    let is_separator = |c: char| match separators {
        Some(list) => list.contains(&c),
        None => !c.is_ascii_alphanumeric(),
    };
    let mut terms = vec![String::new()];
    let mut seps = String::new();
    for c in value.chars() {
        if is_separator(c) {
            seps.push(c);
            terms.push(String::new());
        } else {
            terms.last_mut().expect("one term at least").push(c);
        }
    }
    Split { terms, separators: seps }
}

/// Each value's pattern (see the module comment).
fn reduce_patterns(values: &[String], threshold: f64, separators: Option<&[char]>) -> Vec<String> {
    let splits: Vec<Split> = values.iter().map(|v| split_terms(v, separators)).collect();
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, split) in splits.iter().enumerate() {
        groups.entry(split.separators.as_str()).or_default().push(i);
    }
    let minimum = (threshold * values.len() as f64).ceil().max(1.0) as usize;
    let mut patterns: Vec<String> = values.to_vec();
    for members in groups.values() {
        if members.len() < minimum {
            continue;
        }
        let first = &splits[members[0]];
        let mut pattern = String::new();
        let mut seps = first.separators.chars();
        for (t, term) in first.terms.iter().enumerate() {
            let shared = members.iter().all(|&m| splits[m].terms[t] == *term);
            if shared {
                pattern.push_str(term);
            } else if !pattern.ends_with('*') {
                pattern.push('*');
            }
            if let Some(sep) = seps.next() {
                pattern.push(sep);
            }
        }
        for &m in members {
            patterns[m] = pattern.clone();
        }
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::reduce_patterns;

    #[test]
    fn shared_terms_stay_and_varying_terms_become_a_wildcard() {
        let values: Vec<String> = ["San Bernard", "San Jose", "Paris"].iter().map(|s| s.to_string()).collect();
        assert_eq!(reduce_patterns(&values, 0.5, None), ["San *", "San *", "Paris"]);
        // A group under the threshold keeps its values.
        assert_eq!(reduce_patterns(&values, 0.9, None), ["San Bernard", "San Jose", "Paris"]);
    }
}
