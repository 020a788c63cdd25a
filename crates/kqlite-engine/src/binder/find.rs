//! The `find` operator: rows matching a predicate across several tables.
//!
//! `find [withsource=Name] [in (T1, T2, …)] where Predicate [project c1, c2, … | project-smart]`
//!
//! In a table that lacks a column the predicate names, that column reads
//! as null (its terms are false); a table with none of the predicate's
//! columns is not searched, as Kusto does. Each row says which table it
//! came from in `source_` (or the `withsource` name). With `project`, the
//! output has the listed columns (null where a table lacks one); otherwise
//! it has the columns every searched table shares (same name and type), the
//! predicate's other columns, and `pack_`, a property bag of the row's
//! remaining columns.

use super::scalar::RowScope;
use super::tabular::{param_name, project_plan};
use super::AtSpan;
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
            Some(tables) => self.union_inputs(&[], tables, false)?,
            None => {
                let mut all = Vec::new();
                for name in self.resolver.registered_table_names() {
                    all.push((Some(name.clone()), self.table_name(&name, span)?));
                }
                all
            }
        };
        // A column the predicate names but a table lacks reads as null
        // there (so its terms are false); a table that has none of the
        // predicate's columns is not searched, as Kusto does.
        let mut all_columns: Vec<ColumnDef> = Vec::new();
        for (_, relation) in &candidates {
            for c in &relation.columns {
                if !all_columns.iter().any(|a| a.name == c.name) {
                    all_columns.push(c.clone());
                }
            }
        }
        // (label, relation padded with nulls, predicate, the padding columns)
        let mut legs: Vec<(String, Relation, Expr, Vec<String>)> = Vec::new();
        let mut predicate_columns: Vec<String> = Vec::new();
        for (i, (label, relation)) in candidates.into_iter().enumerate() {
            let label = label.unwrap_or_else(|| format!("table{}", i + 1));
            let (padded, padding) = pad_columns(relation, &all_columns, span)?;
            let p = self.scalar(predicate, &mut RowScope::new(&padded.columns))?;
            let p = match p.ty {
                KqlType::Bool => p.expr,
                KqlType::Dynamic => implicit(p, KqlType::Bool).expect("dynamic to bool").expr,
                t => {
                    return Err(BindError::new(predicate.span, format!("find needs a bool predicate, but this is {t}")))
                }
            };
            let referenced: Vec<String> = p.column_refs().into_iter().map(|c| c.name.clone()).collect();
            if !referenced.is_empty() && referenced.iter().all(|r| padding.contains(r)) {
                continue;
            }
            for r in referenced {
                if !predicate_columns.contains(&r) {
                    predicate_columns.push(r);
                }
            }
            legs.push((label, padded, p, padding));
        }
        if legs.is_empty() {
            return Err(BindError::new(predicate.span, "find: no table has the columns this predicate reads"));
        }
        let real_columns = |r: &Relation, padding: &[String]| -> Vec<ColumnDef> {
            r.columns.iter().filter(|c| !padding.contains(&c.name)).cloned().collect()
        };
        let shared: Vec<ColumnDef> = real_columns(&legs[0].1, &legs[0].3)
            .into_iter()
            .filter(|c| {
                legs.iter().all(|(_, r, _, pad)| real_columns(r, pad).iter().any(|o| o.name == c.name && o.ty == c.ty))
            })
            .collect();
        // column_refs() is a set: put the predicate's columns in table order.
        predicate_columns.sort_by_key(|name| all_columns.iter().position(|c| c.name == *name));
        // Shared columns, then the predicate's other columns (null where absent).
        let mut kept: Vec<ColumnDef> = shared.clone();
        for name in &predicate_columns {
            if !kept.iter().any(|c| c.name == *name) {
                kept.push(all_columns.iter().find(|c| c.name == *name).expect("a known column").clone());
            }
        }
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
                if !legs.iter().any(|(_, r, _, pad)| r.column(name).is_some() && !pad.contains(name)) {
                    return Err(BindError::new(*at, format!("unknown column '{name}' in find … project")));
                }
            }
        }
        let pack = functions::registry().lookup_scalar("bag_pack").expect("bag_pack is registered");
        let mut inputs = Vec::new();
        for (label, relation, p, padding) in legs {
            let mut outputs: Vec<(String, Bound)> =
                vec![(source_column.clone(), Bound::new(lit(label.clone()), KqlType::String))];
            match &listed {
                Some(listed) => {
                    for (name, _) in listed {
                        if let Some(c) = relation.column(name).filter(|_| !padding.contains(name)) {
                            outputs.push((name.clone(), Bound::new(col_ref(name), c.ty)));
                        }
                    }
                }
                None => {
                    for c in &kept {
                        outputs.push((c.name.clone(), Bound::new(col_ref(&c.name), c.ty)));
                    }
                    let mut entries = Vec::new();
                    for c in real_columns(&relation, &padding).iter().filter(|c| !kept.iter().any(|s| s.name == c.name))
                    {
                        entries.push(Bound::new(lit(c.name.clone()), KqlType::String));
                        entries.push(Bound::new(col_ref(&c.name), c.ty));
                    }
                    let bag = (pack.bind)(&self.call, entries).map_err(|e| BindError::new(span, e.to_string()))?;
                    outputs.push(("pack_".to_string(), bag));
                }
            }
            let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
            let plan = LogicalPlanBuilder::from(relation.plan)
                .filter(p)
                .and_then(|b| b.project(exprs))
                .and_then(|b| b.build())
                .at(span)?;
            let columns = outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect();
            inputs.push((Some(label), Relation { plan, columns }));
        }
        self.union(inputs, &[], span)
    }
}

/// `relation` plus a null column (the empty string for strings, never
/// null in Kusto) for each of `all` it lacks, and the names added.
fn pad_columns(relation: Relation, all: &[ColumnDef], span: Span) -> BindResult<(Relation, Vec<String>)> {
    let missing: Vec<&ColumnDef> = all.iter().filter(|c| relation.column(&c.name).is_none()).collect();
    if missing.is_empty() {
        return Ok((relation, Vec::new()));
    }
    let mut exprs: Vec<Expr> = relation.columns.iter().map(|c| col_ref(&c.name)).collect();
    let mut columns = relation.columns.clone();
    for c in &missing {
        let null = match c.ty {
            KqlType::String => lit(""),
            ty => lit(datafusion::common::ScalarValue::try_from(&ty.arrow()).at(span)?),
        };
        exprs.push(null.alias(&c.name));
        columns.push((*c).clone());
    }
    let plan = project_plan(relation.plan, exprs).at(span)?;
    Ok((Relation { plan, columns }, missing.into_iter().map(|c| c.name.clone()).collect()))
}
