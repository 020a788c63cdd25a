//! `evaluate` plugins. `bag_unpack` turns the keys of a dynamic bag column
//! into columns; its output schema depends on the data, so the keys are
//! read with a query while binding.

use super::{col_ref, BindError, BindResult, Binder, Relation};
use crate::convert::Bound;
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    pub(super) fn evaluate(&mut self, input: Relation, call: &ast::Expr, span: Span) -> BindResult<Relation> {
        let ExprKind::Call { func, args } = &call.kind else {
            return Err(BindError::new(call.span, "evaluate needs a plugin call, such as bag_unpack(Column)"));
        };
        match func.name.as_str() {
            "bag_unpack" => self.bag_unpack(input, args, span),
            other => Err(BindError::new(func.span, format!("the evaluate plugin '{other}' is not supported"))),
        }
    }

    /// `bag_unpack(Column [, prefix] [, columnsConflict] [, ignoredProperties])`.
    fn bag_unpack(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        let Some(first) = args.first() else {
            return Err(BindError::new(span, "bag_unpack() needs the dynamic column to unpack"));
        };
        let ExprKind::Name(column) = &first.value.kind else {
            return Err(BindError::new(first.value.span, "bag_unpack() unpacks a column: pass its name"));
        };
        let Some(def) = input.column(&column.name) else {
            return Err(BindError::new(column.span, format!("unknown column '{}'", column.name)));
        };
        if def.ty != KqlType::Dynamic {
            return Err(BindError::new(column.span, format!("bag_unpack() needs a dynamic column, '{}' is {}", column.name, def.ty)));
        }
        // Positional or named optional arguments.
        let mut prefix = String::new();
        let mut conflict = "error".to_string();
        let mut ignored: Vec<String> = Vec::new();
        for (i, arg) in args.iter().enumerate().skip(1) {
            let role = match arg.name.as_ref().map(|n| n.name.as_str()) {
                Some("OutputColumnPrefix") => 1,
                Some("columnsConflict") => 2,
                Some("ignoredProperties") => 3,
                Some(other) => return Err(BindError::new(arg.value.span, format!("bag_unpack() has no parameter '{other}'"))),
                None => i,
            };
            let value = self.constant(&arg.value)?;
            let text = super::scalar::evaluate_constant(&value.expr);
            match (role, text) {
                (1, Some(datafusion::common::ScalarValue::Utf8(Some(s)))) => prefix = s,
                (2, Some(datafusion::common::ScalarValue::Utf8(Some(s)))) => conflict = s,
                (3, Some(datafusion::common::ScalarValue::Binary(Some(b)))) => {
                    ignored = crate::dynamic::DynRef::new(&b).array_items().map(|v| v.to_kql_string()).collect()
                }
                _ => return Err(BindError::new(arg.value.span, "bag_unpack(): this argument must be a constant")),
            }
        }
        let keys = self
            .resolver
            .bag_keys(input.plan.clone(), &column.name)
            .map_err(|e| BindError::new(span, format!("bag_unpack() could not read the keys of '{}': {e}", column.name)))?;
        let mut outputs: Vec<(String, Bound)> = input
            .columns
            .iter()
            .filter(|c| c.name != column.name)
            .map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty)))
            .collect();
        let bag = Bound::new(col_ref(&column.name), KqlType::Dynamic);
        for key in keys.into_iter().filter(|k| !ignored.contains(k)) {
            let name = format!("{prefix}{key}");
            let value = functions::dynamic::get_key(bag.clone(), Bound::new(lit(key.clone()), KqlType::String));
            match outputs.iter().position(|(n, _)| *n == name) {
                Some(existing) => match conflict.as_str() {
                    "keep_source" => {}
                    "replace_source" => outputs[existing].1 = value,
                    _ => {
                        return Err(BindError::new(
                            span,
                            format!("bag_unpack(): key '{key}' collides with column '{name}'; pass columnsConflict='replace_source' or 'keep_source', or a prefix"),
                        ))
                    }
                },
                None => outputs.push((name, value)),
            }
        }
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = LogicalPlanBuilder::from(input.plan)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| BindError::new(span, format!("cannot plan this: {e}")))?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }
}
