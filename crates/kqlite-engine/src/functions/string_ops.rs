//! Kusto's string operators: `has`, `hasprefix`, `hassuffix`, `contains`,
//! `startswith`, `endswith` (case-insensitive unless `_cs`, negated with
//! `!`), `has_any`, `has_all`, and `in` against a dynamic array.
//!
//! `has` matches whole terms: a term is a maximal run of alphanumeric
//! characters, and a boundary is required only at a needle edge that is
//! itself alphanumeric, so `"svc-sql" has "svc-"` and
//! `"Backup_Operator" has "backup"` are true, `"adminuser" has "admin"` is
//! false. Negated operators are total: on a null value they are true.

use super::Registry;
use crate::convert::{to_string, Bound};
use crate::dynamic::DynRef;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute, scalar_i64};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_string_array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::prelude::lit;
use kqlite_syntax::ast::{StringOp, StringOpKind};
use memchr::memmem;
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    // These operators also exist as functions in a few queries.
    let _ = r;
}

/// Binds `left <op> right` for a string operator.
pub fn bind_string_op(op: StringOp, left: Bound, right: Bound) -> Bound {
    if op.kind == StringOpKind::MatchesRegex {
        let expr = udf::call(
            "kql_matches_regex",
            DataType::Boolean,
            matches_regex,
            vec![to_string(left).expr, to_string(right).expr],
        );
        return Bound::new(expr, KqlType::Bool);
    }
    let code = op_code(op);
    let expr = udf::call(
        "kql_string_op",
        DataType::Boolean,
        string_op,
        vec![to_string(left).expr, to_string(right).expr, lit(code)],
    );
    Bound::new(expr, KqlType::Bool)
}

fn op_code(op: StringOp) -> i64 {
    let kind = match op.kind {
        StringOpKind::Has => 0,
        StringOpKind::HasPrefix => 1,
        StringOpKind::HasSuffix => 2,
        StringOpKind::Contains => 3,
        StringOpKind::StartsWith => 4,
        StringOpKind::EndsWith => 5,
        // Bound without `kql_string_op` (`like` is refused by the binder).
        StringOpKind::MatchesRegex | StringOpKind::Like => 6,
    };
    kind | (i64::from(op.case_sensitive) << 4) | (i64::from(op.negated) << 5)
}

fn decode_op(code: i64) -> (StringOpKind, bool, bool) {
    let kind = match code & 0xf {
        0 => StringOpKind::Has,
        1 => StringOpKind::HasPrefix,
        2 => StringOpKind::HasSuffix,
        3 => StringOpKind::Contains,
        4 => StringOpKind::StartsWith,
        5 => StringOpKind::EndsWith,
        _ => StringOpKind::MatchesRegex,
    };
    (kind, code & 0x10 != 0, code & 0x20 != 0)
}

/// A compiled needle: lower-cased once, searched without allocating per row.
pub struct Matcher {
    kind: StringOpKind,
    case_sensitive: bool,
    needle: Vec<u8>,
    first_alnum: bool,
    last_alnum: bool,
    finder: memmem::Finder<'static>,
}

impl Matcher {
    pub fn new(kind: StringOpKind, case_sensitive: bool, needle: &str) -> Matcher {
        let needle = if case_sensitive { needle.to_string() } else { needle.to_lowercase() };
        let first_alnum = needle.chars().next().is_some_and(char::is_alphanumeric);
        let last_alnum = needle.chars().next_back().is_some_and(char::is_alphanumeric);
        let finder = memmem::Finder::new(needle.as_bytes()).into_owned();
        Matcher { kind, case_sensitive, needle: needle.into_bytes(), first_alnum, last_alnum, finder }
    }

    /// Whether `hay` matches; `buf` is scratch space reused across rows.
    pub fn matches(&self, hay: &str, buf: &mut String) -> bool {
        self.matches_folded(fold_case(hay, self.case_sensitive, buf))
    }

    /// Whether `hay`, already through [`fold_case`] with this matcher's
    /// case sensitivity, matches (several needles, one folding per row).
    pub fn matches_folded(&self, hay: &str) -> bool {
        let bytes = hay.as_bytes();
        match self.kind {
            StringOpKind::Contains => self.finder.find(bytes).is_some(),
            StringOpKind::StartsWith => bytes.starts_with(&self.needle),
            StringOpKind::EndsWith => bytes.ends_with(&self.needle),
            StringOpKind::Has | StringOpKind::HasPrefix | StringOpKind::HasSuffix => {
                if self.needle.is_empty() {
                    return true;
                }
                let need_start = self.first_alnum && self.kind != StringOpKind::HasSuffix;
                let need_end = self.last_alnum && self.kind != StringOpKind::HasPrefix;
                self.finder.find_iter(bytes).any(|pos| {
                    let end = pos + self.needle.len();
                    (!need_start || !alnum_before(hay, pos)) && (!need_end || !alnum_after(hay, end))
                })
            }
            StringOpKind::MatchesRegex | StringOpKind::Like => false,
        }
    }
}

/// `hay` as a matcher compares it: lower-cased into `buf` unless
/// `case_sensitive`.
pub fn fold_case<'a>(hay: &'a str, case_sensitive: bool, buf: &'a mut String) -> &'a str {
    if case_sensitive {
        return hay;
    }
    buf.clear();
    if hay.is_ascii() {
        buf.push_str(hay);
        // ASCII lower-casing keeps the bytes valid UTF-8.
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&hay.to_lowercase());
    }
    buf.as_str()
}

fn alnum_before(s: &str, pos: usize) -> bool {
    s[..pos].chars().next_back().is_some_and(char::is_alphanumeric)
}

fn alnum_after(s: &str, pos: usize) -> bool {
    s[pos..].chars().next().is_some_and(char::is_alphanumeric)
}

fn string_op(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let Some(Some(code)) = scalar_i64(&args[2]) else {
        return exec_err!("kql_string_op: operator code must be a constant");
    };
    let (kind, case_sensitive, negated) = decode_op(code);
    let n = rows_to_compute(args, rows);
    let hay = args[0].to_array(n)?;
    let hay = as_string_array(&hay)?;
    let mut buf = String::new();
    let result: BooleanArray = match &args[1] {
        ColumnarValue::Scalar(needle) => {
            let needle = match needle {
                ScalarValue::Utf8(Some(s)) => s.as_str(),
                _ => "",
            };
            let matcher = Matcher::new(kind, case_sensitive, needle);
            (0..n)
                .map(|i| {
                    Some(if hay.is_null(i) { negated } else { matcher.matches(hay.value(i), &mut buf) != negated })
                })
                .collect()
        }
        ColumnarValue::Array(needles) => {
            let needles = as_string_array(needles)?;
            (0..n)
                .map(|i| {
                    if hay.is_null(i) {
                        return Some(negated);
                    }
                    let matcher =
                        Matcher::new(kind, case_sensitive, if needles.is_null(i) { "" } else { needles.value(i) });
                    Some(matcher.matches(hay.value(i), &mut buf) != negated)
                })
                .collect()
        }
    };
    maybe_scalar(args, Arc::new(result))
}

fn matches_regex(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let hay = args[0].to_array(n)?;
    let hay = as_string_array(&hay)?;
    let pattern = args[1].to_array(n)?;
    let pattern = as_string_array(&pattern)?;
    let mut cache: Option<(String, regex::Regex)> = None;
    let mut out = BooleanBuilder::with_capacity(n);
    for i in 0..n {
        let p = pattern.value(i);
        if cache.as_ref().is_none_or(|(text, _)| text != p) {
            match regex::Regex::new(p) {
                Ok(re) => cache = Some((p.to_string(), re)),
                Err(e) => return exec_err!("matches regex: invalid regular expression {p:?}: {e}"),
            }
        }
        let re = &cache.as_ref().expect("compiled above").1;
        out.append_value(!hay.is_null(i) && re.is_match(hay.value(i)));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `x has_any (terms)` / `has_all` with the terms as one dynamic array.
pub fn bind_has_list(haystack: Bound, terms: Bound, all: bool, case_sensitive: bool) -> Bound {
    let code = i64::from(all) | (i64::from(case_sensitive) << 1);
    let expr =
        udf::call("kql_has_list", DataType::Boolean, has_list, vec![to_string(haystack).expr, terms.expr, lit(code)]);
    Bound::new(expr, KqlType::Bool)
}

fn terms_of(d: DynRef<'_>) -> Vec<String> {
    match d.kind() {
        crate::dynamic::DynKind::Array => d.array_items().map(|v| v.to_kql_string()).collect(),
        crate::dynamic::DynKind::Null => Vec::new(),
        _ => vec![d.to_kql_string()],
    }
}

fn has_list(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let Some(Some(code)) = scalar_i64(&args[2]) else { return exec_err!("kql_has_list: mode must be a constant") };
    let (all, case_sensitive) = (code & 1 != 0, code & 2 != 0);
    let n = rows_to_compute(args, rows);
    let hay = args[0].to_array(n)?;
    let hay = as_string_array(&hay)?;
    let build = |d: DynRef<'_>| -> Vec<Matcher> {
        terms_of(d).iter().map(|t| Matcher::new(StringOpKind::Has, case_sensitive, t)).collect()
    };
    let test = |matchers: &[Matcher], h: &str, buf: &mut String| {
        let h = fold_case(h, case_sensitive, buf);
        if all {
            matchers.iter().all(|m| m.matches_folded(h))
        } else {
            matchers.iter().any(|m| m.matches_folded(h))
        }
    };
    let mut buf = String::new();
    let result: BooleanArray = match &args[1] {
        ColumnarValue::Scalar(ScalarValue::Binary(terms)) => {
            let matchers = build(DynRef::new(terms.as_deref().unwrap_or(crate::dynamic::ENCODED_NULL)));
            (0..n).map(|i| Some(!hay.is_null(i) && test(&matchers, hay.value(i), &mut buf))).collect()
        }
        other => {
            let terms = other.to_array(n)?;
            let terms = as_binary_array(&terms)?;
            (0..n)
                .map(|i| {
                    let d = if terms.is_null(i) { crate::dynamic::ENCODED_NULL } else { terms.value(i) };
                    Some(!hay.is_null(i) && test(&build(DynRef::new(d)), hay.value(i), &mut buf))
                })
                .collect()
        }
    };
    maybe_scalar(args, Arc::new(result))
}

/// `value in (dynamicArray)` where the array is only known at run time.
pub fn bind_in_dynamic(value: Bound, array: Bound, case_insensitive: bool) -> Bound {
    let expr = udf::call(
        "kql_in_dynamic",
        DataType::Boolean,
        in_dynamic,
        vec![crate::convert::to_dynamic(value).expr, array.expr, lit(case_insensitive)],
    );
    Bound::new(expr, KqlType::Bool)
}

fn in_dynamic(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let ci = matches!(&args[2], ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
    let n = rows_to_compute(args, rows);
    let values = args[0].to_array(n)?;
    let values = as_binary_array(&values)?;
    let arrays = args[1].to_array(n)?;
    let arrays = as_binary_array(&arrays)?;
    let out: BooleanArray = (0..n)
        .map(|i| {
            if values.is_null(i) || arrays.is_null(i) {
                return None;
            }
            let v = DynRef::new(values.value(i));
            if v.is_null() {
                return None;
            }
            let arr = DynRef::new(arrays.value(i));
            Some(arr.array_items().any(|item| dyn_equal(v, item, ci)))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// Equality of dynamic values as `in` sees it: numbers by value, strings
/// by text (optionally case-insensitive).
pub fn dyn_equal(a: DynRef<'_>, b: DynRef<'_>, case_insensitive: bool) -> bool {
    use crate::dynamic::DynKind::*;
    match (a.kind(), b.kind()) {
        (Long | Real, Long | Real) => a.as_real() == b.as_real(),
        (String | Guid, String | Guid) => {
            let (x, y) = (a.as_str().unwrap_or(""), b.as_str().unwrap_or(""));
            if case_insensitive {
                x.to_lowercase() == y.to_lowercase()
            } else {
                x == y
            }
        }
        _ => a.bytes() == b.bytes(),
    }
}

/// Boolean negation that is total: `not(null)` is true, as Kusto's negated
/// operators are.
pub fn total_not(expr: Expr) -> Expr {
    datafusion::functions::expr_fn::coalesce(vec![Expr::Not(Box::new(expr)), lit(true)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(hay: &str, needle: &str) -> bool {
        Matcher::new(StringOpKind::Has, false, needle).matches(hay, &mut String::new())
    }

    #[test]
    fn has_term_rules() {
        assert!(has("svc-sql", "svc-"));
        assert!(has("Backup_Operator", "backup"));
        assert!(!has("adminuser", "admin"));
        assert!(has("CONTOSO\\Administrator", "administrator"));
        assert!(has("North America", "america"));
        assert!(!has("North America", "amer"));
        assert!(has("a.b.c", ".b."));
        assert!(has("x", ""));
    }

    #[test]
    fn prefix_suffix_contains() {
        let m = |k, cs, n: &str, h: &str| Matcher::new(k, cs, n).matches(h, &mut String::new());
        assert!(m(StringOpKind::HasPrefix, false, "amer", "North America"));
        assert!(!m(StringOpKind::HasPrefix, false, "meri", "North America"));
        assert!(m(StringOpKind::HasSuffix, false, "ica", "North America"));
        assert!(m(StringOpKind::Contains, false, "RTH AM", "North America"));
        assert!(!m(StringOpKind::Contains, true, "RTH AM", "North America"));
        assert!(m(StringOpKind::StartsWith, false, "nor", "North"));
        assert!(m(StringOpKind::EndsWith, false, "TH", "North"));
        assert!(m(StringOpKind::Has, false, "größe", "die GRÖSSE größe"));
    }
}
