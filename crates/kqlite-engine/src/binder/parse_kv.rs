//! `parse-kv`: extract listed keys from `key=value` text.
//!
//! One kernel scans each string once and returns every requested key's raw
//! value (a struct of strings); typed columns are then converted from those
//! strings. Three modes, as Kusto documents them: explicit delimiters
//! (`pair_delimiter`/`kv_delimiter`, optionally `greedy`), no delimiters
//! (any non-alphanumeric character separates tokens), and `regex` (group 1
//! is the key, group 2 the value). Quoted keys and values may contain
//! delimiters; escape characters protect quotes inside quoted values.

use super::scalar::RowScope;
use super::tabular::{project_outputs, project_plan, set_output};
use super::AtSpan;
use super::{col_ref, BindError, BindResult, Binder, Relation};
use crate::convert::{to_string, Bound};
use crate::functions;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, StringBuilder, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::as_string_array;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use kqlite_syntax::ast::{self, ExprKind, Literal};
use kqlite_syntax::Span;
use std::sync::Arc;

impl<'r> Binder<'r> {
    pub(super) fn parse_kv(
        &mut self,
        input: Relation,
        source: &ast::Expr,
        columns: &[ast::ColumnDecl],
        options: &[ast::OperatorParam],
        span: Span,
    ) -> BindResult<Relation> {
        let mut keys: Vec<(String, KqlType)> = Vec::new();
        for c in columns {
            keys.push((c.name.name.clone(), self.type_name(&c.ty)?));
        }
        let spec = Spec::from_options(keys.iter().map(|(k, _)| k.clone()).collect(), options)?;
        let text = to_string(self.scalar(source, &mut RowScope::new(&input.columns))?);
        let fields: Fields = (0..keys.len()).map(|i| Field::new(format!("k{i}"), DataType::Utf8, true)).collect();
        let spec_json = serde_json::to_string(&spec.to_json()).expect("a JSON value serializes");
        let extract =
            udf::call("kql_parse_kv", DataType::Struct(fields), parse_kv_kernel, vec![text.expr, lit(spec_json)]);
        let struct_name = self.fresh("kv");
        let mut exprs: Vec<Expr> = input.columns.iter().map(|c| col_ref(&c.name)).collect();
        exprs.push(extract.alias(&struct_name));
        let plan = project_plan(input.plan.clone(), exprs).at(span)?;
        let mut outputs = Self::keep_all(&input);
        for (i, (name, ty)) in keys.into_iter().enumerate() {
            let raw =
                Bound::new(udf::struct_field(col_ref(&struct_name), &format!("k{i}"), DataType::Utf8), KqlType::String);
            // A missing key is null, except for strings, which are empty.
            let value = match ty {
                KqlType::String => to_string(raw),
                _ => functions::conversion::from_string(raw, ty),
            };
            set_output(&mut outputs, name, value);
        }
        project_outputs(plan, outputs, span)
    }
}

/// How to split the text, fixed per query and passed to the kernel as JSON.
#[derive(Debug, Default)]
struct Spec {
    keys: Vec<String>,
    /// `Some` in explicit-delimiter mode.
    pair: Option<String>,
    kv: Option<String>,
    /// Opening and closing quote characters.
    quotes: Vec<(char, char)>,
    escapes: Vec<char>,
    greedy: bool,
    regex: Option<String>,
}

fn option_text(p: &ast::OperatorParam) -> BindResult<String> {
    match &p.value.kind {
        ExprKind::Literal(Literal::String { value, .. }) => Ok(value.clone()),
        ExprKind::Literal(Literal::Bool(b)) => Ok(b.to_string()),
        ExprKind::Name(id) => Ok(id.name.clone()),
        _ => Err(BindError::new(p.value.span, format!("parse-kv option '{}' needs a constant string", p.name))),
    }
}

impl Spec {
    fn from_options(keys: Vec<String>, options: &[ast::OperatorParam]) -> BindResult<Spec> {
        let mut spec = Spec { keys, ..Spec::default() };
        for p in options {
            let value = option_text(p)?;
            let bad = |what: &str| Err(BindError::new(p.value.span, format!("parse-kv option '{}' {what}", p.name)));
            match p.name.as_str() {
                "pair_delimiter" | "kv_delimiter" if value.is_empty() => return bad("must not be empty"),
                "pair_delimiter" => spec.pair = Some(value),
                "kv_delimiter" => spec.kv = Some(value),
                "quote" => {
                    let chars: Vec<char> = value.chars().collect();
                    match chars.as_slice() {
                        [q] => spec.quotes.push((*q, *q)),
                        [open, close] => spec.quotes.push((*open, *close)),
                        _ => return bad("takes one character, or an opening and a closing one"),
                    }
                }
                "escape" => {
                    let chars: Vec<char> = value.chars().collect();
                    match chars.as_slice() {
                        [e] => spec.escapes.push(*e),
                        _ => return bad("takes one character"),
                    }
                }
                "greedy" => match value.as_str() {
                    "true" => spec.greedy = true,
                    "false" => spec.greedy = false,
                    _ => return bad("must be true or false"),
                },
                "regex" => match regex::Regex::new(&value) {
                    Ok(re) if re.captures_len() == 3 => spec.regex = Some(value),
                    Ok(_) => return bad("needs exactly two capturing groups: the key and the value"),
                    Err(e) => return bad(&format!("is not a valid regular expression: {e}")),
                },
                _ => return bad("is unknown; expected pair_delimiter, kv_delimiter, quote, escape, greedy or regex"),
            }
        }
        if spec.regex.is_some() && (spec.pair.is_some() || spec.kv.is_some() || !spec.quotes.is_empty()) {
            let span = options.first().map_or(Span::default(), |p| p.span);
            return Err(BindError::new(span, "parse-kv takes either regex or delimiters, not both"));
        }
        if spec.pair.is_some() != spec.kv.is_some() {
            let span = options.first().map_or(Span::default(), |p| p.span);
            return Err(BindError::new(span, "parse-kv needs both pair_delimiter and kv_delimiter, or neither"));
        }
        Ok(spec)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": self.keys,
            "pair": self.pair,
            "kv": self.kv,
            "quotes": self.quotes.iter().map(|(o, c)| format!("{o}{c}")).collect::<Vec<_>>(),
            "escapes": self.escapes.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "greedy": self.greedy,
            "regex": self.regex,
        })
    }

    fn from_json(text: &str) -> Option<Spec> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let strings = |name: &str| -> Option<Vec<String>> {
            v[name].as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
        };
        let quotes = strings("quotes")?
            .iter()
            .map(|q| {
                let mut c = q.chars();
                Some((c.next()?, c.next()?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Spec {
            keys: strings("keys")?,
            pair: v["pair"].as_str().map(str::to_string),
            kv: v["kv"].as_str().map(str::to_string),
            quotes,
            escapes: strings("escapes")?.iter().filter_map(|e| e.chars().next()).collect(),
            greedy: v["greedy"].as_bool().unwrap_or(false),
            regex: v["regex"].as_str().map(str::to_string),
        })
    }
}

fn parse_kv_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(spec))) = &args[1] else {
        return exec_err!("kql_parse_kv: the options must be a constant");
    };
    let Some(spec) = Spec::from_json(spec) else { return exec_err!("kql_parse_kv: malformed options") };
    let regex = match &spec.regex {
        Some(r) => {
            Some(regex::Regex::new(r).map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?)
        }
        None => None,
    };
    let n = rows_to_compute(&args[..1], rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let mut builders: Vec<StringBuilder> = spec.keys.iter().map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    let mut found: Vec<Option<String>> = vec![None; spec.keys.len()];
    for i in 0..n {
        found.iter_mut().for_each(|f| *f = None);
        if !input.is_null(i) {
            let text = input.value(i);
            let mut record = |key: &str, value: String| {
                if let Some(k) = spec.keys.iter().position(|k| k == key) {
                    // The first appearance of a key wins.
                    found[k].get_or_insert(value);
                }
            };
            match (&regex, &spec.pair, &spec.kv) {
                (Some(re), _, _) => {
                    for caps in re.captures_iter(text) {
                        let key = caps.get(1).map_or("", |m| m.as_str()).trim();
                        let value = caps.get(2).map_or("", |m| m.as_str()).trim();
                        record(key, value.to_string());
                    }
                }
                (None, Some(pair), Some(kv)) => scan_delimited(text, &spec, pair, kv, &mut record),
                _ => scan_tokens(text, &spec, &mut record),
            }
        }
        for (b, f) in builders.iter_mut().zip(&found) {
            b.append_option(f.as_deref());
        }
    }
    let fields: Fields = (0..spec.keys.len()).map(|k| Field::new(format!("k{k}"), DataType::Utf8, true)).collect();
    let columns: Vec<ArrayRef> = builders.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect();
    let result = StructArray::try_new(fields, columns, None)?;
    maybe_scalar(&args[..1], Arc::new(result))
}

/// A cursor over the text, by byte offset.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Reads a quoted string if one starts here: the text up to the closing
    /// quote, with escaped characters taken literally.
    fn quoted(&mut self, spec: &Spec) -> Option<String> {
        let open = self.peek()?;
        let &(_, close) = spec.quotes.iter().find(|(o, _)| *o == open)?;
        self.bump();
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.bump();
            if spec.escapes.contains(&c) {
                if let Some(next) = self.peek() {
                    out.push(next);
                    self.bump();
                    continue;
                }
            }
            if c == close {
                return Some(out);
            }
            out.push(c);
        }
        // An unterminated quote runs to the end.
        Some(out)
    }

    /// Advances until one of `stops` starts (or the end); returns the text passed.
    fn until(&mut self, stops: &[&str]) -> &'a str {
        let start = self.pos;
        while !self.at_end() && !stops.iter().any(|s| self.rest().starts_with(s)) {
            self.bump();
        }
        &self.text[start..self.pos]
    }
}

/// Explicit delimiters: `key<kv>value<pair>key<kv>value…`. Segments without
/// a kv delimiter are skipped. In greedy mode an unquoted value runs until
/// the next segment that holds a key (or the end).
fn scan_delimited(text: &str, spec: &Spec, pair: &str, kv: &str, record: &mut impl FnMut(&str, String)) {
    let mut c = Cursor { text, pos: 0 };
    loop {
        c.skip_whitespace();
        if c.at_end() {
            break;
        }
        let key = match c.quoted(spec) {
            Some(k) => {
                c.until(&[kv, pair]);
                k
            }
            None => c.until(&[kv, pair]).trim().to_string(),
        };
        if !c.eat(kv) {
            c.eat(pair);
            continue;
        }
        c.skip_whitespace();
        let value = match c.quoted(spec) {
            Some(v) => {
                c.until(&[pair]);
                v
            }
            None if spec.greedy => {
                let start = c.pos;
                let end = loop {
                    c.until(&[pair]);
                    if c.at_end() {
                        break c.pos;
                    }
                    // Does the next segment start a new pair?
                    let mut look = Cursor { text, pos: c.pos + pair.len() };
                    look.skip_whitespace();
                    look.quoted(spec);
                    look.until(&[kv, pair]);
                    if look.rest().starts_with(kv) {
                        break c.pos;
                    }
                    c.eat(pair);
                };
                text[start..end].trim().to_string()
            }
            None => c.until(&[pair]).trim().to_string(),
        };
        record(&key, value);
        c.eat(pair);
    }
}

/// No delimiters: tokens are runs of letters and digits (or quoted
/// strings); a token naming a key takes the next token as its value.
fn scan_tokens(text: &str, spec: &Spec, record: &mut impl FnMut(&str, String)) {
    let mut tokens: Vec<String> = Vec::new();
    let mut c = Cursor { text, pos: 0 };
    while let Some(ch) = c.peek() {
        if let Some(q) = c.quoted(spec) {
            tokens.push(q);
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = c.pos;
            while c.peek().is_some_and(|ch| ch.is_alphanumeric() || ch == '_') {
                c.bump();
            }
            tokens.push(text[start..c.pos].to_string());
        } else {
            c.bump();
        }
    }
    let mut i = 0;
    while i + 1 < tokens.len() {
        if spec.keys.contains(&tokens[i]) {
            record(&tokens[i], tokens[i + 1].trim().to_string());
            i += 2;
        } else {
            i += 1;
        }
    }
}
