//! The `find` operator: rows matching a predicate across several tables.
//!
//! `find [withsource=Name] [in (T1, T2, …)] where Predicate [project c1, c2, … | project-smart]`
//!
//! A table that lacks a column the predicate names is skipped, as Kusto
//! does. Each row says which table it came from in `source_` (or the
//! `withsource` name). With `project`, the output has the listed columns
//! (null where a table lacks one); otherwise it has the columns every
//! searched table shares (same name and type) and `pack_`, a property bag
//! of the row's other columns.

use super::scalar::RowScope;
use super::tabular::param_name;
use super::{col_ref, BindError, BindResult, Binder, Relation};
use crate::convert::{implicit, Bound};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind, FindProject};
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    pub(super) fn find(
        &mut self,
        params: &[ast::OperatorParam],
        tables: Option<&[ast::Expr]>,
        predicate: &ast::Expr,
        project: Option<&FindProject>,
        span: Span,
    ) -> BindResult<Relation> {
        let source_column = param_name(params, "withsource").unwrap_or_else(|| "source_".to_string());
        let candidates: Vec<(Option<String>, Relation)> = match tables {
            Some(tables) => self.union_inputs(tables)?,
            None => {
                let mut all = Vec::new();
                for name in self.resolver.table_names() {
                    all.push((Some(name.clone()), self.table_name(&name, span)?));
                }
                all
            }
        };
        // Bind the predicate per table; tables without its columns are skipped.
        let mut legs: Vec<(String, Relation, Expr)> = Vec::new();
        let mut first_error = None;
        for (i, (label, relation)) in candidates.into_iter().enumerate() {
            let label = label.unwrap_or_else(|| format!("table{}", i + 1));
            match self.scalar(predicate, &mut RowScope::new(&relation.columns)) {
                Ok(p) => {
                    let p = match p.ty {
                        KqlType::Bool => p.expr,
                        KqlType::Dynamic => implicit(p, KqlType::Bool).expect("dynamic to bool").expr,
                        t => {
                            return Err(BindError::new(
                                predicate.span,
                                format!("find needs a bool predicate, but this is {t}"),
                            ))
                        }
                    };
                    legs.push((label, relation, p));
                }
                Err(e) if e.message.starts_with("unknown") => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if legs.is_empty() {
            return Err(first_error.unwrap_or_else(|| BindError::new(span, "find has no table to search")));
        }
        let shared: Vec<ColumnDef> = legs[0]
            .1
            .columns
            .iter()
            .filter(|c| legs.iter().all(|(_, r, _)| r.column(&c.name).is_some_and(|o| o.ty == c.ty)))
            .cloned()
            .collect();
        let listed: Option<Vec<(String, Span)>> = match project {
            Some(FindProject::Columns(columns)) => Some(
                columns
                    .iter()
                    .map(|c| match &c.kind {
                        ExprKind::Name(id) => Ok((id.name.clone(), id.span)),
                        _ => Err(BindError::new(c.span, "find … project takes column names")),
                    })
                    .collect::<BindResult<_>>()?,
            ),
            Some(FindProject::Smart) | None => None,
        };
        if let Some(listed) = &listed {
            for (name, at) in listed {
                if !legs.iter().any(|(_, r, _)| r.column(name).is_some()) {
                    return Err(BindError::new(*at, format!("unknown column '{name}' in find … project")));
                }
            }
        }
        let pack = functions::registry().lookup_scalar("bag_pack").expect("bag_pack is registered");
        let mut inputs = Vec::new();
        for (label, relation, p) in legs {
            let mut outputs: Vec<(String, Bound)> =
                vec![(source_column.clone(), Bound::new(lit(label.clone()), KqlType::String))];
            match &listed {
                Some(listed) => {
                    for (name, _) in listed {
                        if let Some(c) = relation.column(name) {
                            outputs.push((name.clone(), Bound::new(col_ref(name), c.ty)));
                        }
                    }
                }
                None => {
                    for c in &shared {
                        outputs.push((c.name.clone(), Bound::new(col_ref(&c.name), c.ty)));
                    }
                    let mut entries = Vec::new();
                    for c in relation.columns.iter().filter(|c| !shared.iter().any(|s| s.name == c.name)) {
                        entries.push(Bound::new(lit(c.name.clone()), KqlType::String));
                        entries.push(Bound::new(col_ref(&c.name), c.ty));
                    }
                    let bag = (pack.bind)(&self.call, entries).map_err(|m| BindError::new(span, m))?;
                    outputs.push(("pack_".to_string(), bag));
                }
            }
            let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
            let plan = LogicalPlanBuilder::from(relation.plan)
                .filter(p)
                .and_then(|b| b.project(exprs))
                .and_then(|b| b.build())
                .map_err(|e| BindError::new(span, format!("cannot plan this: {e}")))?;
            let columns = outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect();
            inputs.push((Some(label), Relation { plan, columns }));
        }
        self.union(inputs, &[], span)
    }
}
