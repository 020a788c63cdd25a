//! Functions that produce several columns in `extend` and `project`:
//! `extend series_stats(x)` adds `series_stats_x_min`, `series_stats_x_min_idx`,
//! …; `extend (a, b, c) = series_decompose_anomalies(x)` names them.
//!
//! Each is computed as one property bag (functions::series) and split into
//! typed columns here.

use super::call::check_arity;
use super::scalar::RowScope;
use super::{naming, BindError, BindResult, Binder, Binding};
use crate::convert::{implicit, Bound};
use crate::functions;
use crate::functions::series::MULTI_OUTPUT;
use crate::types::KqlType;
use datafusion::logical_expr::lit;
use kqlite_syntax::ast::{ExprKind, NamedExpr};

impl<'r> Binder<'r> {
    /// The columns of `item` when it calls a multi-column function
    /// directly; `None` for any other expression.
    pub(super) fn multi_output(
        &mut self,
        item: &NamedExpr,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Option<Vec<(String, Bound)>>> {
        let ExprKind::Call { func, args } = &item.expr.kind else { return Ok(None) };
        if matches!(self.lookup(&func.name), Some(Binding::Function(_))) {
            return Ok(None);
        }
        let Some(spec) = MULTI_OUTPUT.iter().find(|m| m.name == func.name) else { return Ok(None) };
        check_arity(spec.name, args.len(), spec.min_args, spec.max_args, item.span)?;
        if item.names.len() > spec.fields.len() {
            return Err(BindError::new(
                item.span,
                format!(
                    "{}() returns {} columns, but {} names are given",
                    spec.name,
                    spec.fields.len(),
                    item.names.len()
                ),
            ));
        }
        let bound = args.iter().map(|a| self.scalar(&a.value, scope)).collect::<BindResult<Vec<_>>>()?;
        let bag = (spec.bag)(bound).map_err(|e| BindError::new(item.span, e.to_string()))?;
        // Unnamed columns are `<function>_<argument>_<field>`, as Kusto names them.
        let argument = args.first().and_then(|a| naming::expression_name(&a.value));
        let mut out = Vec::new();
        for (i, (key, ty)) in spec.fields.iter().enumerate() {
            let name = match (item.names.get(i), &argument) {
                (Some(n), _) => n.name.clone(),
                (None, Some(arg)) => format!("{}_{arg}_{key}", spec.name),
                (None, None) => format!("{}_{key}", spec.name),
            };
            let value = functions::dynamic::get_key(bag.clone(), Bound::new(lit(*key), KqlType::String));
            let value = implicit(value, *ty).expect("dynamic converts to every scalar type");
            out.push((name, value));
        }
        Ok(Some(out))
    }
}
