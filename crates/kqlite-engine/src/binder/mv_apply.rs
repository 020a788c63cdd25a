//! `mv-apply`.

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    #[allow(clippy::too_many_arguments, unused_variables)]
    pub(super) fn mv_apply(&mut self, input: Relation, params: &[ast::OperatorParam], items: &[ast::MvExpandItem], limit: Option<&ast::Expr>, on: &ast::Expr, span: Span) -> BindResult<Relation> {
        Err(BindError::new(span, "the mv-apply operator is not supported yet"))
    }
}
