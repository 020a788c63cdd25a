//! `fork (subquery) [name=](subquery) …`: several results of one input.
//!
//! Kusto returns one table per branch. A kqlite query returns one table,
//! so every branch is bound (its errors are reported) and the first
//! branch's table is the result; a notice names the branches left out.

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl Binder<'_> {
    pub(super) fn fork(&mut self, input: Relation, branches: &[ast::ForkBranch], span: Span) -> BindResult<Relation> {
        let mut results = Vec::new();
        for branch in branches {
            results.push(self.sub_pipeline_on(input.clone(), &branch.body)?);
        }
        let Some(first) = results.into_iter().next() else {
            return Err(BindError::new(span, "fork needs at least one sub-query"));
        };
        if branches.len() > 1 {
            let names: Vec<String> = branches
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, b)| b.name.as_ref().map_or_else(|| format!("branch {}", i + 1), |n| n.name.clone()))
                .collect();
            self.notices.push(format!(
                "fork makes {} tables and a kqlite query returns one: this is the first branch's; run {} as queries of their own",
                branches.len(),
                names.join(", ")
            ));
        }
        Ok(first)
    }
}
