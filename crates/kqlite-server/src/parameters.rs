//! `declare query_parameters(...)` with values from the request's
//! `Parameters`: the declaration is replaced by `let` statements binding
//! each name to its value as a literal of the declared type. Values are
//! never spliced in as query text: a string is quoted, any other value must
//! parse alone as one literal (`long(5)`, `datetime(2024-01-01)`, or the
//! bare `5`, `2024-01-01` wrapped in its type), so a value cannot inject
//! operators. Parameters the request does not give keep their defaults.

use crate::error::{ApiError, ErrorKind};
use kqlite_syntax::ast::{ExprKind, LetValue, ParamType, Statement, UnaryOp};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Semantic, message)
}

/// The query text with its declared parameters bound to `values`; the text
/// itself when there is no declaration or no value.
pub fn apply(text: &str, values: &[(String, String)]) -> Result<String, ApiError> {
    if values.is_empty() {
        return Ok(text.to_string());
    }
    let parsed = kqlite_syntax::parse(text);
    if parsed.has_errors() {
        // The query's own errors are reported when it runs.
        return Ok(text.to_string());
    }
    let mut out = text.to_string();
    // Replaced from the last declaration back, so earlier spans stay valid.
    let declarations: Vec<_> = parsed
        .query
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::DeclareQueryParameters(d) => Some(d),
            _ => None,
        })
        .collect();
    for declaration in declarations.into_iter().rev() {
        let mut lets = Vec::new();
        for param in &declaration.params {
            let ParamType::Scalar(ty) = &param.ty else {
                return Err(bad(format!(
                    "query parameter '{}': tabular parameters are not supported",
                    param.name.name
                )));
            };
            let name = &param.name.name;
            let value = match values.iter().find(|(n, _)| n == name) {
                Some((_, value)) => literal(name, &ty.name, value)?,
                None => match &param.default {
                    Some(default) => {
                        let ty = kqlite_engine::KqlType::from_name(&ty.name)
                            .ok_or_else(|| bad(format!("query parameter '{name}': unknown type {}", ty.name)))?;
                        format!("to{}({})", ty.name(), &text[default.span.start as usize..default.span.end as usize])
                    }
                    None => {
                        return Err(bad(format!("query parameter '{name}' has no value and no default")));
                    }
                },
            };
            lets.push(format!("let {} = {value}", quoted_name(name)));
        }
        let span = declaration.span;
        out.replace_range(span.start as usize..span.end as usize, &lets.join(";\n"));
    }
    Ok(out)
}

fn quoted_name(name: &str) -> String {
    format!("[{}]", kqlite_syntax::string_literal(name))
}

/// `value` as an expression of type `ty`: a literal converted to it.
fn literal(name: &str, ty: &str, value: &str) -> Result<String, ApiError> {
    let not_literal = || bad(format!("query parameter '{name}': {value:?} is not a {ty} literal"));
    let kql_type = kqlite_engine::KqlType::from_name(ty).ok_or_else(not_literal)?;
    let ty = kql_type.name();
    if kql_type == kqlite_engine::KqlType::String {
        return Ok(kqlite_syntax::string_literal(value));
    }
    let value = value.trim();
    [value.to_string(), format!("{ty}({value})")]
        .into_iter()
        .find(|candidate| is_single_literal(candidate))
        .map(|literal| format!("to{ty}({literal})"))
        .ok_or_else(not_literal)
}

/// Whether `text` parses alone as one literal (a sign allowed), nothing else.
fn is_single_literal(text: &str) -> bool {
    let parsed = kqlite_syntax::parse(&format!("let p = {text};\nprint p"));
    if parsed.has_errors() {
        return false;
    }
    let [Statement::Let(binding), _] = parsed.query.statements.as_slice() else { return false };
    let LetValue::Expr(expr) = &binding.value else { return false };
    match &expr.kind {
        ExprKind::Literal(_) => true,
        ExprKind::Unary { op: UnaryOp::Neg | UnaryOp::Plus, operand } => matches!(operand.kind, ExprKind::Literal(_)),
        _ => false,
    }
}
