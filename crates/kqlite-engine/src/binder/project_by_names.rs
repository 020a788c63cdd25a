//! `project-by-names`: keeps the columns named by constant strings, string
//! arrays or `column_names_of(T)`, wildcards allowed; names that match no
//! column are left out, as the reference's last example shows.

use super::tabular::wildcard_match;
use super::{BindError, BindResult, Binder, Relation};
use crate::convert::evaluate_constant;
use crate::dynamic::DynRef;
use datafusion::common::ScalarValue;
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

impl Binder<'_> {
    /// `T | project-by-names "a", "b*", dynamic(["c"]), column_names_of(S)`.
    pub(super) fn project_by_names(
        &mut self,
        input: Relation,
        names: &[ast::Expr],
        span: Span,
    ) -> BindResult<Relation> {
        let mut patterns: Vec<String> = Vec::new();
        for expr in names {
            patterns.extend(self.column_name_list(expr)?);
        }
        let mut chosen: Vec<String> = Vec::new();
        for pattern in &patterns {
            for column in &input.columns {
                if wildcard_match(pattern, &column.name) && !chosen.contains(&column.name) {
                    chosen.push(column.name.clone());
                }
            }
        }
        let outputs = Self::keep_all(&input)
            .into_iter()
            .filter(|(n, _)| chosen.contains(n))
            .map(|(n, b)| (n.clone(), b))
            .collect::<Vec<_>>();
        // In the order the names were given.
        let mut ordered = Vec::new();
        for name in &chosen {
            if let Some(found) = outputs.iter().find(|(n, _)| n == name) {
                ordered.push(found.clone());
            }
        }
        super::tabular::project_outputs(input.plan, ordered, span)
    }

    /// The names one argument of `project-by-names` stands for.
    fn column_name_list(&mut self, expr: &ast::Expr) -> BindResult<Vec<String>> {
        if let ExprKind::Call { func, args } = &expr.kind {
            if func.name == "column_names_of" {
                let [table] = args.as_slice() else {
                    return Err(BindError::new(expr.span, "column_names_of() takes one table"));
                };
                let relation = self.tabular(&table.value)?;
                return Ok(relation.columns.into_iter().map(|c| c.name).collect());
            }
        }
        let bound = self.constant(expr)?;
        match evaluate_constant(&bound.expr) {
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
                Ok(vec![s])
            }
            Some(ScalarValue::Binary(Some(bytes)) | ScalarValue::LargeBinary(Some(bytes))) => {
                let value = DynRef::new(&bytes);
                let names: Vec<String> = match value.as_str() {
                    Some(s) => vec![s.to_string()],
                    None => value.array_items().filter_map(|item| item.as_str().map(str::to_string)).collect(),
                };
                Ok(names)
            }
            _ => Err(BindError::new(
                expr.span,
                "project-by-names takes constant strings, a dynamic array of strings or column_names_of()",
            )),
        }
    }
}
