//! `make-series`.

use super::{BindError, BindResult, Binder, Relation};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    #[allow(clippy::too_many_arguments, unused_variables)]
    pub(super) fn make_series(&mut self, input: Relation, series: &ast::MakeSeries, span: Span) -> BindResult<Relation> {
        Err(BindError::new(span, "the make-series operator is not supported yet"))
    }
}
