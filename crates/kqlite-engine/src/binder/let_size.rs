//! `let` scalars that grow with each use. A name is inlined where it is
//! used, so a chain such as `let a1 = a0 + a0; let a2 = a1 + a1; …` doubles
//! its expression at every step and `let a1 = a0 + 1; …` deepens it by one.
//! A large constant expression is folded into its value when its `let` is
//! bound, so later steps start again from one literal; one that cannot be
//! folded (it reads a table through `toscalar`, or calls a volatile
//! function) is an error at its `let` past [`MAX_LET_EXPR_NODES`].

use super::{BindError, BindResult, Binder};
use crate::convert::Bound;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::Expr;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use kqlite_syntax::Span;

/// The most expression nodes a `let` scalar may hold after folding.
pub const MAX_LET_EXPR_NODES: usize = 100_000;

/// A `let` scalar larger than this is folded into its value, if constant:
/// small ones are left to the optimizer, as before.
const FOLD_ABOVE_NODES: usize = 256;

/// The nodes of `expr`, counted without recursion, stopping past `limit`.
fn count_nodes(expr: &Expr, limit: usize) -> usize {
    let mut stack = vec![expr];
    let mut nodes = 0;
    while let Some(e) = stack.pop() {
        nodes += 1;
        if nodes > limit {
            break;
        }
        let _ = e.apply_children(|child| {
            stack.push(child);
            Ok(TreeNodeRecursion::Continue)
        });
    }
    nodes
}

impl Binder<'_> {
    /// A `let` scalar's value as it will be inlined: folded to a literal
    /// when large and constant; an error at `span` when too large.
    pub(super) fn settle_let_scalar(&self, value: Bound, span: Span) -> BindResult<Bound> {
        if count_nodes(&value.expr, FOLD_ABOVE_NODES) <= FOLD_ABOVE_NODES {
            return Ok(value);
        }
        let folded = ExprSimplifier::new(SimplifyContext::default()).simplify(value.expr.clone());
        if let Ok(literal @ Expr::Literal(..)) = folded {
            return Ok(Bound::new(literal, value.ty));
        }
        if count_nodes(&value.expr, MAX_LET_EXPR_NODES) > MAX_LET_EXPR_NODES {
            return Err(BindError::new(
                span,
                format!(
                    "this let's value grows past {MAX_LET_EXPR_NODES} expression nodes (each use of a let name \
                     copies its expression) and is not a constant that could be computed once"
                ),
            ));
        }
        Ok(value)
    }
}
