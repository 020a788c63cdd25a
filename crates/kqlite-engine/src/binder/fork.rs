//! `fork (subquery) [name=](subquery) …`: several results of one input.
//!
//! Kusto returns one table per branch, named by `name=`, else by the
//! branch's trailing `| as Name`, else `GenericResult`, `GenericResult1`, …
//! in order among the unnamed branches. The binder returns the first
//! branch's table as the relation and keeps every table in
//! [`Binder::several_results`]; when the fork ends the query, the query's
//! result carries them all (see [`Binder::results_of_query`]).

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast::{self, ExprKind, OperatorKind};
use kqlite_syntax::Span;

/// The name Kusto gives the `n`-th (from 0) unnamed result of a query.
pub(super) fn generic_result_name(n: usize) -> String {
    if n == 0 {
        "GenericResult".to_string()
    } else {
        format!("GenericResult{n}")
    }
}

/// The name a branch's trailing `| as Name` gives its table.
fn trailing_as_name(body: &ast::Expr) -> Option<String> {
    match &body.kind {
        ExprKind::Paren(inner) => trailing_as_name(inner),
        ExprKind::Pipe { operator, .. } => match &operator.kind {
            OperatorKind::As { name, .. } => Some(name.name.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl Binder<'_> {
    pub(super) fn fork(&mut self, input: Relation, branches: &[ast::ForkBranch], span: Span) -> BindResult<Relation> {
        let mut tables = Vec::new();
        let mut unnamed = 0;
        for branch in branches {
            let relation = self.sub_pipeline_on(input.clone(), &branch.body)?;
            let name = branch.name.as_ref().map(|n| n.name.clone()).or_else(|| trailing_as_name(&branch.body));
            let name = name.unwrap_or_else(|| {
                unnamed += 1;
                generic_result_name(unnamed - 1)
            });
            tables.push((name, relation));
        }
        self.keep_several_results("fork", tables, span)
    }

    /// Keeps the tables of an operator that makes several results (`fork`,
    /// `facet`) and returns the first, which continues the pipeline.
    pub(super) fn keep_several_results(
        &mut self,
        operator: &'static str,
        tables: Vec<(String, Relation)>,
        span: Span,
    ) -> BindResult<Relation> {
        let Some((_, first)) = tables.first() else {
            return Err(BindError::new(span, format!("{operator} makes no table")));
        };
        let first = first.clone();
        self.several_results = Some(SeveralResults { operator, tables });
        Ok(first)
    }

    /// The named results of the query whose last tabular expression is
    /// `relation`: every table of a `fork`/`facet` that ends the query
    /// (the first is `relation` itself), else none. When such an operator
    /// is followed by others, only its first table flows on, and a notice
    /// says so.
    pub(super) fn results_of_query(&mut self, relation: &Relation) -> Vec<(String, Relation)> {
        let Some(several) = self.several_results.take() else {
            return Vec::new();
        };
        if several.tables.first().is_some_and(|(_, first)| first.plan == relation.plan) {
            return several.tables;
        }
        if several.tables.len() > 1 {
            let names: Vec<&str> = several.tables.iter().skip(1).map(|(n, _)| n.as_str()).collect();
            self.notices.push(format!(
                "{} makes {} tables and is not the query's last operator: what follows reads its first table, and {} are left out",
                several.operator,
                several.tables.len(),
                names.join(", ")
            ));
        }
        Vec::new()
    }
}

/// The tables of the last `fork`/`facet` bound, first to last.
pub(super) struct SeveralResults {
    operator: &'static str,
    tables: Vec<(String, Relation)>,
}
