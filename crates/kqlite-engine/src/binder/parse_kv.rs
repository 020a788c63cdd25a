//! `parse-kv`.

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    #[allow(clippy::too_many_arguments, unused_variables)]
    pub(super) fn parse_kv(&mut self, input: Relation, source: &ast::Expr, columns: &[ast::ColumnDecl], options: &[ast::OperatorParam], span: Span) -> BindResult<Relation> {
        Err(BindError::new(span, "the parse-kv operator is not supported yet"))
    }
}
