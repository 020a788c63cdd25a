//! `top-nested`.

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    #[allow(clippy::too_many_arguments, unused_variables)]
    pub(super) fn top_nested(&mut self, input: Relation, clauses: &[ast::TopNestedClause], span: Span) -> BindResult<Relation> {
        Err(BindError::new(span, "the top-nested operator is not supported yet"))
    }
}
