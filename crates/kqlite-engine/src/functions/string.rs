//! String functions: Kusto's text functions over UTF-8 strings, regexes
//! (RE2 syntax, run by the `regex` crate), URL, base64 and path parsing.
//!
//! Kusto strings are never null, so string results are `""` where Kusto
//! has no value; positions and lengths count characters, not bytes.

use super::string_ops::Matcher;
use super::{coerce, expect_one_of, Registry};
use crate::convert::{to_dynamic, to_string, Bound};
use crate::dynamic::{ArrayEncoder, DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::time::format_datetime_custom;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{exec_err, DataFusionError, Result, ScalarValue};
use datafusion::functions::expr_fn as df;
use datafusion::logical_expr::{cast, lit, ColumnarValue, Expr};
use kqlite_syntax::ast::StringOpKind;
use regex::{CaptureLocations, Regex};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("isempty", 1, 1, |_, a| Ok(is_empty(first(a), false)));
    r.scalar("isnotempty", 1, 1, |_, a| Ok(is_empty(first(a), true)));
    r.scalar("notempty", 1, 1, |_, a| Ok(is_empty(first(a), true)));
    r.scalar("strlen", 1, 1, |_, a| {
        let s = to_string(first(a));
        Ok(Bound::new(datafusion::logical_expr::cast(df::character_length(s.expr), DataType::Int64), KqlType::Long))
    });
    r.scalar("tolower", 1, 1, |_, a| Ok(Bound::new(df::lower(to_string(first(a)).expr), KqlType::String)));
    r.scalar("toupper", 1, 1, |_, a| Ok(Bound::new(df::upper(to_string(first(a)).expr), KqlType::String)));
    r.scalar("strcat", 1, 64, |_, a| {
        let parts: Vec<Expr> = a.into_iter().map(|b| to_string(b).expr).collect();
        Ok(Bound::new(df::concat(parts), KqlType::String))
    });
    r.scalar("strcat_delim", 3, 65, |_, a| {
        let mut parts = a.into_iter().map(|b| to_string(b).expr);
        let delim = parts.next().expect("arity checked");
        Ok(Bound::new(df::concat_ws(delim, parts.collect()), KqlType::String))
    });
    r.scalar("strcat_array", 2, 2, |_, a| {
        let mut a = Args::new("strcat_array", a);
        let array = a.dynamic_only(0)?;
        Ok(call("kql_strcat_array", KqlType::String, strcat_array_kernel, vec![array, a.text(1)]))
    });
    r.scalar("extract", 3, 4, |_, a| {
        let mut a = Args::new("extract", a);
        if a.len() == 4 {
            return Err("extract() with a type argument is not supported; convert the result instead".into());
        }
        let args = vec![a.string(0)?, a.long(1)?, a.string(2)?];
        Ok(call("kql_extract", KqlType::String, extract_kernel, args))
    });
    r.scalar("extract_all", 2, 3, |_, a| {
        let mut a = Args::new("extract_all", a);
        let groups = if a.len() == 3 { a.dynamic_only(1)? } else { lit(ScalarValue::Binary(None)) };
        let args = vec![a.string(0)?, groups, a.string(a.len() - 1)?];
        Ok(call("kql_extract_all", KqlType::Dynamic, extract_all_kernel, args))
    });
    r.scalar("split", 2, 3, |_, a| {
        let mut a = Args::new("split", a);
        let args = vec![a.text(0), a.string(1)?, a.opt_long(2)?];
        Ok(call("kql_split", KqlType::Dynamic, split_kernel, args))
    });
    r.scalar("replace_regex", 3, 3, |_, a| {
        let mut a = Args::new("replace_regex", a);
        let args = vec![a.string(0)?, a.string(1)?, a.string(2)?];
        Ok(call("kql_replace_regex", KqlType::String, replace_regex_kernel, args))
    });
    // The deprecated `replace(regex, rewrite, text)` takes the text last.
    r.scalar("replace", 3, 3, |_, a| {
        let mut a = Args::new("replace", a);
        let (regex, rewrite, text) = (a.string(0)?, a.string(1)?, a.string(2)?);
        Ok(call("kql_replace_regex", KqlType::String, replace_regex_kernel, vec![text, regex, rewrite]))
    });
    r.scalar("replace_string", 3, 3, |_, a| {
        let mut a = Args::new("replace_string", a);
        let args = vec![a.string(0)?, a.string(1)?, a.string(2)?];
        Ok(call("kql_replace_string", KqlType::String, replace_string_kernel, args))
    });
    r.scalar("substring", 2, 3, |_, a| {
        let mut a = Args::new("substring", a);
        let args = vec![a.text(0), a.long(1)?, a.opt_long(2)?];
        Ok(call("kql_substring", KqlType::String, substring_kernel, args))
    });
    r.scalar("trim", 2, 2, |_, a| trim(a, "trim", TRIM_BOTH));
    r.scalar("trim_start", 2, 2, |_, a| trim(a, "trim_start", TRIM_START));
    r.scalar("trim_end", 2, 2, |_, a| trim(a, "trim_end", TRIM_END));
    r.scalar("countof", 2, 3, |_, a| {
        let mut a = Args::new("countof", a);
        let kind = if a.len() == 3 { a.string(2)? } else { lit("normal") };
        if let Expr::Literal(ScalarValue::Utf8(Some(k)), _) = &kind {
            if !k.eq_ignore_ascii_case("normal") && !k.eq_ignore_ascii_case("regex") {
                return Err(format!("argument 3 of countof() must be 'normal' or 'regex', but it is '{k}'"));
            }
        }
        Ok(call("kql_countof", KqlType::Long, countof_kernel, vec![a.string(0)?, a.string(1)?, kind]))
    });
    r.scalar("indexof", 2, 5, |_, a| {
        let mut a = Args::new("indexof", a);
        let (source, lookup) = (a.text(0), a.text(1));
        let start = if a.len() > 2 { a.long(2)? } else { lit(0i64) };
        let length = if a.len() > 3 { a.long(3)? } else { lit(-1i64) };
        let occurrence = if a.len() > 4 { a.long(4)? } else { lit(1i64) };
        Ok(call("kql_indexof", KqlType::Long, indexof_kernel, vec![source, lookup, start, length, occurrence]))
    });
    r.scalar("indexof_regex", 2, 5, |_, a| {
        let mut a = Args::new("indexof_regex", a);
        let (source, lookup) = (a.text(0), a.string(1)?);
        let start = if a.len() > 2 { a.long(2)? } else { lit(0i64) };
        let length = if a.len() > 3 { a.long(3)? } else { lit(-1i64) };
        let occurrence = if a.len() > 4 { a.long(4)? } else { lit(1i64) };
        let args = vec![source, lookup, start, length, occurrence];
        Ok(call("kql_indexof_regex", KqlType::Long, indexof_regex_kernel, args))
    });
    r.scalar("translate", 3, 3, |_, a| {
        let mut a = Args::new("translate", a);
        let args = vec![a.string(0)?, a.string(1)?, a.string(2)?];
        Ok(call("kql_translate", KqlType::String, translate_kernel, args))
    });
    r.scalar("strcmp", 2, 2, |_, a| {
        let mut a = Args::new("strcmp", a);
        Ok(call("kql_strcmp", KqlType::Long, strcmp_kernel, vec![a.text(0), a.text(1)]))
    });
    r.scalar("reverse", 1, 1, |_, a| {
        let value = first(a);
        let text = match value.ty {
            // Kusto reverses the round-trip text of a datetime (seven fraction digits).
            KqlType::Datetime => {
                udf::call("kql_datetime_roundtrip", DataType::Utf8, datetime_roundtrip, vec![value.expr])
            }
            _ => to_string(value).expr,
        };
        Ok(Bound::new(df::reverse(text), KqlType::String))
    });
    r.scalar("string_size", 1, 1, |_, a| {
        let value = first(a);
        expect_one_of("string_size", 0, &value, &[KqlType::String, KqlType::Guid, KqlType::Dynamic])?;
        Ok(Bound::new(cast(df::octet_length(to_string(value).expr), DataType::Int64), KqlType::Long))
    });
    r.scalar("isascii", 1, 1, |_, a| {
        Ok(call("kql_isascii", KqlType::Bool, isascii_kernel, vec![to_string(first(a)).expr]))
    });
    r.scalar("strrep", 2, 3, |_, a| {
        let mut a = Args::new("strrep", a);
        let delimiter = if a.len() == 3 { a.text(2) } else { lit("") };
        Ok(call("kql_strrep", KqlType::String, strrep_kernel, vec![a.text(0), a.long(1)?, delimiter]))
    });
    r.scalar("tohex", 1, 2, |_, a| {
        let mut a = Args::new("tohex", a);
        let value = a.bound(0);
        expect_one_of("tohex", 0, &value, &[KqlType::Int, KqlType::Long])?;
        let is_int = value.ty == KqlType::Int;
        let args = vec![cast(value.expr, DataType::Int64), a.opt_long(1)?, lit(is_int)];
        Ok(call("kql_tohex", KqlType::String, tohex_kernel, args))
    });
    r.scalar("url_decode", 1, 1, |_, a| {
        unary_string(a, "url_decode", KqlType::String, |a, n| map_text(a, n, url_decode))
    });
    r.scalar("url_encode", 1, 1, |_, a| {
        unary_string(a, "url_encode", KqlType::String, |a, n| map_text(a, n, |s| url_encode(s, "+")))
    });
    r.scalar("url_encode_component", 1, 1, |_, a| {
        unary_string(a, "url_encode_component", KqlType::String, |a, n| map_text(a, n, |s| url_encode(s, "%20")))
    });
    r.scalar("base64_encode_tostring", 1, 1, |_, a| {
        unary_string(a, "base64_encode_tostring", KqlType::String, |a, n| {
            map_text(a, n, |s| base64_encode(s.as_bytes()))
        })
    });
    r.scalar("base64_decode_tostring", 1, 1, |_, a| {
        unary_string(a, "base64_decode_tostring", KqlType::String, |a, n| {
            map_text(a, n, |s| base64_decode(s).and_then(|b| String::from_utf8(b).ok()).unwrap_or_default())
        })
    });
    r.scalar("base64_decode_toarray", 1, 1, |_, a| {
        unary_string(a, "base64_decode_toarray", KqlType::Dynamic, |a, n| {
            map_dynamic(a, n, |s| {
                base64_decode(s).map(|b| DynValue::Array(b.into_iter().map(|x| DynValue::Long(x.into())).collect()))
            })
        })
    });
    r.scalar("base64_encode_fromarray", 1, 1, |_, a| {
        let mut a = Args::new("base64_encode_fromarray", a);
        Ok(call("kql_base64_encode_fromarray", KqlType::String, base64_encode_fromarray, vec![a.dynamic_only(0)?]))
    });
    r.scalar("base64_decode_toguid", 1, 1, |_, a| {
        let arg = Args::new("base64_decode_toguid", a).string(0)?;
        Ok(call("kql_base64_decode_toguid", KqlType::Guid, base64_decode_toguid, vec![arg]))
    });
    r.scalar("base64_encode_fromguid", 1, 1, |_, a| {
        let mut a = Args::new("base64_encode_fromguid", a);
        let guid = a.bound(0);
        expect_one_of("base64_encode_fromguid", 0, &guid, &[KqlType::Guid])?;
        Ok(call("kql_base64_encode_fromguid", KqlType::String, base64_encode_fromguid, vec![guid.expr]))
    });
    r.scalar("replace_strings", 3, 3, |_, a| {
        let mut a = Args::new("replace_strings", a);
        let args = vec![a.string(0)?, a.dynamic_only(1)?, a.dynamic_only(2)?];
        Ok(call("kql_replace_strings", KqlType::String, replace_strings_kernel, args))
    });
    r.scalar("parse_url", 1, 1, |_, a| {
        unary_string(a, "parse_url", KqlType::Dynamic, |a, n| map_dynamic(a, n, |s| Some(parse_url(s))))
    });
    r.scalar("parse_urlquery", 1, 1, |_, a| {
        unary_string(a, "parse_urlquery", KqlType::Dynamic, |a, n| {
            map_dynamic(a, n, |s| Some(DynValue::Object(vec![("Query Parameters".into(), query_parameters(s))])))
        })
    });
    r.scalar("parse_path", 1, 1, |_, a| {
        unary_string(a, "parse_path", KqlType::Dynamic, |a, n| map_dynamic(a, n, |s| Some(parse_path(s))))
    });
    r.scalar("parse_command_line", 2, 2, |_, a| {
        let mut a = Args::new("parse_command_line", a);
        let args = vec![a.string(0)?, a.string(1)?];
        Ok(call("kql_parse_command_line", KqlType::Dynamic, parse_command_line_kernel, args))
    });
    r.scalar("extractjson", 2, 3, |_, a| extract_json(a, "extractjson"));
    r.scalar("extract_json", 2, 3, |_, a| extract_json(a, "extract_json"));
    r.scalar("make_string", 1, 64, |_, a| {
        let mut args = Vec::new();
        for (i, b) in a.into_iter().enumerate() {
            expect_one_of("make_string", i, &b, &[KqlType::Int, KqlType::Long, KqlType::Dynamic])?;
            args.push(to_dynamic(b).expr);
        }
        Ok(call("kql_make_string", KqlType::String, make_string_kernel, args))
    });
    r.scalar("format_bytes", 1, 3, |_, a| {
        let mut a = Args::new("format_bytes", a);
        let size = a.to(0, KqlType::Real)?;
        let precision = if a.len() > 1 { a.long(1)? } else { lit(0i64) };
        let units = if a.len() > 2 { a.string(2)? } else { lit("") };
        Ok(call("kql_format_bytes", KqlType::String, format_bytes_kernel, vec![size, precision, units]))
    });
    r.scalar("has_any_index", 2, 2, |_, a| {
        let mut a = Args::new("has_any_index", a);
        let source = a.bound(0);
        expect_one_of("has_any_index", 0, &source, &[KqlType::String, KqlType::Guid, KqlType::Dynamic])?;
        let args = vec![to_string(source).expr, a.dynamic_only(1)?];
        Ok(call("kql_has_any_index", KqlType::Long, has_any_index_kernel, args))
    });
}

fn first(mut a: Vec<Bound>) -> Bound {
    a.swap_remove(0)
}

/// The call of a kernel returning `ty`.
fn call(name: &str, ty: KqlType, kernel: udf::Kernel, args: Vec<Expr>) -> Bound {
    Bound::new(udf::call(name, ty.arrow(), kernel, args), ty)
}

/// A function of one string argument. The kernel name is the function's.
fn unary_string(a: Vec<Bound>, name: &'static str, ty: KqlType, kernel: udf::Kernel) -> Result<Bound, String> {
    let arg = Args::new(name, a).string(0)?;
    Ok(call(&format!("kql_{name}"), ty, kernel, vec![arg]))
}

/// Bound arguments taken one at a time and converted as each parameter
/// requires, with errors naming the function and argument.
struct Args {
    name: &'static str,
    items: Vec<Option<Bound>>,
}

impl Args {
    fn new(name: &'static str, a: Vec<Bound>) -> Args {
        Args { name, items: a.into_iter().map(Some).collect() }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn bound(&mut self, i: usize) -> Bound {
        self.items[i].take().expect("each argument is taken once")
    }

    fn to(&mut self, i: usize, ty: KqlType) -> Result<Expr, String> {
        Ok(coerce(self.name, i, self.bound(i), ty)?.expr)
    }

    /// A `string` parameter (Kusto rejects numbers here).
    fn string(&mut self, i: usize) -> Result<Expr, String> {
        self.to(i, KqlType::String)
    }

    /// A parameter Kusto converts to text with `tostring()`.
    fn text(&mut self, i: usize) -> Expr {
        to_string(self.bound(i)).expr
    }

    fn long(&mut self, i: usize) -> Result<Expr, String> {
        self.to(i, KqlType::Long)
    }

    fn opt_long(&mut self, i: usize) -> Result<Expr, String> {
        if i < self.len() {
            self.long(i)
        } else {
            Ok(lit(ScalarValue::Int64(None)))
        }
    }

    /// A parameter that must already be `dynamic` (an array).
    fn dynamic_only(&mut self, i: usize) -> Result<Expr, String> {
        let b = self.bound(i);
        expect_one_of(self.name, i, &b, &[KqlType::Dynamic])?;
        Ok(b.expr)
    }
}

const TRIM_BOTH: i64 = 0;
const TRIM_START: i64 = 1;
const TRIM_END: i64 = 2;

fn trim(a: Vec<Bound>, name: &'static str, mode: i64) -> Result<Bound, String> {
    let mut a = Args::new(name, a);
    Ok(call("kql_trim", KqlType::String, trim_kernel, vec![a.string(0)?, a.string(1)?, lit(mode)]))
}

fn extract_json(a: Vec<Bound>, name: &'static str) -> Result<Bound, String> {
    let mut a = Args::new(name, a);
    if a.len() == 3 {
        return Err(format!("{name}() with a type argument is not supported; convert the result instead"));
    }
    Ok(call("kql_extractjson", KqlType::String, extractjson_kernel, vec![a.string(0)?, a.string(1)?]))
}

/// `isempty`/`isnotempty`: empty string or null (any type).
fn is_empty(value: Bound, negate: bool) -> Bound {
    let empty = match value.ty {
        KqlType::String | KqlType::Guid => df::coalesce(vec![value.expr.clone(), lit("")]).eq(lit("")),
        KqlType::Dynamic => {
            let s = to_string(value).expr;
            s.eq(lit(""))
        }
        _ => value.expr.is_null(),
    };
    Bound::new(if negate { Expr::Not(Box::new(empty)) } else { empty }, KqlType::Bool)
}

/// One regex evaluation producing a struct `{matched, g1, …, gN}` of the
/// capture groups (used by `parse`).
pub fn regex_groups(text: Bound, regex: &str, groups: usize) -> Expr {
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    for i in 1..=groups {
        fields.push(Field::new(format!("g{i}"), DataType::Utf8, true));
    }
    udf::call(
        "kql_regex_groups",
        DataType::Struct(Fields::from(fields)),
        regex_groups_kernel,
        vec![text.expr, lit(regex.to_string()), lit(groups as i64)],
    )
}

fn regex_groups_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))) = &args[1] else {
        return exec_err!("kql_regex_groups: the pattern must be a constant");
    };
    let ColumnarValue::Scalar(ScalarValue::Int64(Some(groups))) = &args[2] else {
        return exec_err!("kql_regex_groups: the group count must be a constant");
    };
    let groups = *groups as usize;
    let re = match regex::Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => return exec_err!("invalid regular expression {pattern:?}: {e}"),
    };
    let n = rows_to_compute(&args[..1], rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let mut matched = BooleanBuilder::with_capacity(n);
    let mut builders: Vec<StringBuilder> = (0..groups).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    let mut locations = re.capture_locations();
    for i in 0..n {
        let hit = !input.is_null(i) && re.captures_read(&mut locations, input.value(i)).is_some();
        matched.append_value(hit);
        for (g, b) in builders.iter_mut().enumerate() {
            match locations.get(g + 1).filter(|_| hit) {
                Some((s, e)) => b.append_value(&input.value(i)[s..e]),
                None => b.append_null(),
            }
        }
    }
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(matched.finish())];
    for (g, mut b) in builders.into_iter().enumerate() {
        fields.push(Field::new(format!("g{}", g + 1), DataType::Utf8, true));
        columns.push(Arc::new(b.finish()));
    }
    let result = StructArray::try_new(Fields::from(fields), columns, None)?;
    maybe_scalar(&args[..1], Arc::new(result))
}

// ---------------------------------------------------------------------------
// Argument readers: constants are read once, not broadcast to a column.

macro_rules! reader {
    ($name:ident, $array:ty, $cast:ident, $variant:ident, $item:ty, |$s:ident| $get:expr) => {
        enum $name<'a> {
            One(Option<$item>),
            Many(&'a $array),
        }

        impl<'a> $name<'a> {
            fn new(value: &'a ColumnarValue) -> Result<Self> {
                Ok(match value {
                    ColumnarValue::Array(a) => $name::Many($cast(a)?),
                    ColumnarValue::Scalar(ScalarValue::$variant($s)) => $name::One($get),
                    ColumnarValue::Scalar(ScalarValue::Null) => $name::One(None),
                    other => return exec_err!("{}: unexpected argument type {}", stringify!($name), other.data_type()),
                })
            }

            fn get(&self, i: usize) -> Option<$item> {
                match self {
                    $name::One(v) => *v,
                    $name::Many(a) => (!a.is_null(i)).then(|| a.value(i)),
                }
            }
        }
    };
}

reader!(Strs, StringArray, as_string_array, Utf8, &'a str, |s| s.as_deref());
reader!(Longs, Int64Array, as_int64_array, Int64, i64, |s| *s);
reader!(Reals, Float64Array, as_float64_array, Float64, f64, |s| *s);
reader!(Bins, BinaryArray, as_binary_array, Binary, &'a [u8], |s| s.as_deref());

/// The compiled regex of the last pattern seen: patterns are nearly always
/// constants, so a batch compiles each once.
#[derive(Default)]
struct Regexes {
    last: Option<(String, Regex, CaptureLocations)>,
}

impl Regexes {
    fn get(&mut self, pattern: &str) -> Result<&Regex> {
        self.get_wrapped(pattern, |p| p.to_string())
    }

    /// The regex `wrap(pattern)`, cached by `pattern`.
    fn get_wrapped(&mut self, pattern: &str, wrap: fn(&str) -> String) -> Result<&Regex> {
        if !matches!(&self.last, Some((p, _, _)) if p == pattern) {
            let re = Regex::new(&wrap(pattern))
                .map_err(|e| DataFusionError::Execution(format!("invalid regular expression {pattern:?}: {e}")))?;
            let locations = re.capture_locations();
            self.last = Some((pattern.to_string(), re, locations));
        }
        Ok(&self.last.as_ref().expect("set above").1)
    }

    /// The byte span of group `group` in the first match, without allocating.
    fn first_group(&mut self, pattern: &str, text: &str, group: usize) -> Result<Option<(usize, usize)>> {
        self.get(pattern)?;
        let (_, re, locations) = self.last.as_mut().expect("compiled above");
        Ok(re.captures_read(locations, text).and_then(|_| locations.get(group)))
    }
}

/// Applies `f` to a string column (null reads as `""`).
fn map_text(args: &[ColumnarValue], rows: usize, f: fn(&str) -> String) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let input = Strs::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        out.append_value(f(input.get(i).unwrap_or("")));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// Applies `f` to a string column, giving dynamic values (`None` is null).
fn map_dynamic(args: &[ColumnarValue], rows: usize, f: fn(&str) -> Option<DynValue>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let input = Strs::new(&args[0])?;
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        buf.clear();
        f(input.get(i).unwrap_or("")).unwrap_or(DynValue::Null).encode_into(&mut buf);
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The byte offset of character `chars` (the end past the last); `ascii`
/// strings have one byte per character.
fn byte_at(s: &str, ascii: bool, chars: usize) -> usize {
    if ascii {
        chars.min(s.len())
    } else {
        s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
    }
}

fn char_count(s: &str, ascii: bool) -> i64 {
    (if ascii { s.len() } else { s.chars().count() }) as i64
}

// ---------------------------------------------------------------------------
// Regex functions.

/// `extract(regex, group, text)`: the group of the first match, else `""`.
fn extract_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, groups, texts) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let (Some(p), Some(g), Some(t)) = (patterns.get(i), groups.get(i), texts.get(i)) else {
            out.append_value("");
            continue;
        };
        let span = match usize::try_from(g) {
            Ok(g) => regexes.first_group(p, t, g)?,
            Err(_) => None,
        };
        out.append_value(span.map_or("", |(a, b)| &t[a..b]));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `extract_all(regex, [groups,] text)`: per match, the selected groups (a
/// string when one group is selected, else an array); null without a match.
fn extract_all_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, selections, texts) = (Strs::new(&args[0])?, Bins::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        let (Some(p), Some(t)) = (patterns.get(i), texts.get(i)) else {
            out.append_value(ENCODED_NULL);
            continue;
        };
        let re = regexes.get(p)?;
        let Some(groups) = selected_groups(re, selections.get(i)) else {
            out.append_value(ENCODED_NULL);
            continue;
        };
        buf.clear();
        let mut matches = 0;
        let mut enc = ArrayEncoder::new(&mut buf);
        for caps in re.captures_iter(t) {
            matches += 1;
            let group = |g: usize| DynValue::String(caps.get(g).map_or("", |m| m.as_str()).to_string());
            let item = match groups.as_slice() {
                [g] => group(*g),
                _ => DynValue::Array(groups.iter().map(|g| group(*g)).collect()),
            };
            item.encode_into(enc.begin_item());
            enc.end_item();
        }
        enc.finish();
        out.append_value(if matches > 0 { &buf[..] } else { ENCODED_NULL });
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The groups `extract_all` returns: those selected (by index or name),
/// else every capture group, else the whole match. `None` if a selected
/// group does not exist.
fn selected_groups(re: &Regex, selection: Option<&[u8]>) -> Option<Vec<usize>> {
    let count = re.captures_len();
    match selection.map(DynRef::new).filter(|d| d.len().unwrap_or(0) > 0) {
        None => Some(if count > 1 { (1..count).collect() } else { vec![0] }),
        Some(d) => d
            .array_items()
            .map(|item| match item.kind() {
                DynKind::String => re.capture_names().position(|name| name.is_some() && name == item.as_str()),
                _ => item.as_long().and_then(|g| usize::try_from(g).ok()).filter(|g| *g < count),
            })
            .collect(),
    }
}

/// One part of a rewrite: text, or a capture group (`\0`–`\9`).
enum Piece {
    Text(String),
    Group(usize),
}

/// RE2's rewrite syntax: `\N` inserts group N, `\\` is a backslash.
fn parse_rewrite(rewrite: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Group(d as usize - '0' as usize));
                    continue;
                }
                Some('\\') => {
                    chars.next();
                }
                _ => {}
            }
        }
        text.push(c);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// `replace_regex(text, regex, rewrite)`: every non-overlapping match.
fn replace_regex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, patterns, rewrites) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut template: Option<(String, Vec<Piece>)> = None;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut s = String::new();
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        let (Some(p), Some(rewrite)) = (patterns.get(i), rewrites.get(i)) else {
            out.append_value(t);
            continue;
        };
        if !matches!(&template, Some((r, _)) if r == rewrite) {
            template = Some((rewrite.to_string(), parse_rewrite(rewrite)));
        }
        let pieces = &template.as_ref().expect("set above").1;
        s.clear();
        let mut last = 0;
        for caps in regexes.get(p)?.captures_iter(t) {
            let m = caps.get(0).expect("group 0 is the match");
            s.push_str(&t[last..m.start()]);
            for piece in pieces {
                match piece {
                    Piece::Text(x) => s.push_str(x),
                    Piece::Group(g) => s.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                }
            }
            last = m.end();
        }
        s.push_str(&t[last..]);
        out.append_value(&s);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `trim`/`trim_start`/`trim_end(regex, text)`: removes every repetition
/// of the regex at the start and/or end.
fn trim_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, texts) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let mode = Longs::new(&args[2])?.get(0).unwrap_or(TRIM_BOTH);
    let (mut starts, mut ends) = (Regexes::default(), Regexes::default());
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let mut t = texts.get(i).unwrap_or("");
        if let Some(p) = patterns.get(i) {
            if mode != TRIM_END {
                if let Some(m) = starts.get_wrapped(p, |p| format!("^(?:{p})+"))?.find(t) {
                    t = &t[m.end()..];
                }
            }
            if mode != TRIM_START {
                if let Some(m) = ends.get_wrapped(p, |p| format!("(?:{p})+$"))?.find(t) {
                    t = &t[..m.start()];
                }
            }
        }
        out.append_value(t);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `countof(text, search, kind)`: plain matches may overlap, regex ones don't.
fn countof_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, searches, kinds) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let (t, search) = (texts.get(i).unwrap_or(""), searches.get(i).unwrap_or(""));
        let count = if search.is_empty() {
            0
        } else if kinds.get(i).is_some_and(|k| k.eq_ignore_ascii_case("regex")) {
            regexes.get(search)?.find_iter(t).count()
        } else {
            let finder = memchr::memmem::Finder::new(search);
            let (mut count, mut from) = (0, 0);
            while let Some(p) = finder.find(&t.as_bytes()[from..]) {
                count += 1;
                from += p + 1;
            }
            count
        };
        out.append_value(count as i64);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

// ---------------------------------------------------------------------------
// Plain text functions.

fn strcat_array_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (arrays, delims) = (Bins::new(&args[0])?, Strs::new(&args[1])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut s = String::new();
    for i in 0..n {
        s.clear();
        for (k, item) in arrays.get(i).map(DynRef::new).into_iter().flat_map(|d| d.array_items()).enumerate() {
            if k > 0 {
                s.push_str(delims.get(i).unwrap_or(""));
            }
            s.push_str(&item.to_kql_string());
        }
        out.append_value(&s);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `split(text, delimiter[, index])`: a dynamic array of the parts, or of
/// the one part at `index` (empty when out of range).
fn split_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, delims, indexes) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Longs::new(&args[2])?);
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        let (t, delim) = (texts.get(i).unwrap_or(""), delims.get(i).unwrap_or(""));
        let parts: Vec<&str> = if delim.is_empty() { vec![t] } else { t.split(delim).collect() };
        let parts = match indexes.get(i) {
            None => &parts[..],
            Some(k) => usize::try_from(k).ok().and_then(|k| parts.get(k..=k)).unwrap_or(&[]),
        };
        buf.clear();
        DynValue::Array(parts.iter().map(|p| DynValue::String(p.to_string())).collect()).encode_into(&mut buf);
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `replace_string(text, lookup, rewrite)`: every non-overlapping match.
fn replace_string_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, lookups, rewrites) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        match lookups.get(i).filter(|l| !l.is_empty()) {
            Some(lookup) if t.contains(lookup) => out.append_value(t.replace(lookup, rewrites.get(i).unwrap_or(""))),
            _ => out.append_value(t),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `substring(text, start[, length])` in characters; a negative start
/// counts from the end.
fn substring_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, starts, lengths) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Longs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        out.append_value(starts.get(i).map_or("", |start| substring(t, start, lengths.get(i))));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn substring(s: &str, start: i64, length: Option<i64>) -> &str {
    let ascii = s.is_ascii();
    let count = char_count(s, ascii);
    let start = if start < 0 { (count + start).max(0) } else { start.min(count) };
    let end = match length {
        None => count,
        Some(l) if l < 0 => return "",
        Some(l) => start.saturating_add(l).min(count),
    };
    &s[byte_at(s, ascii, start as usize)..byte_at(s, ascii, end as usize)]
}

/// `indexof(text, lookup, start, length, occurrence)`: the character
/// position of the occurrence within `length` characters from `start`, -1
/// if absent, null for a negative start (after counting from the end),
/// length below -1 or negative occurrence.
fn indexof_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    index_kernel(args, rows, false)
}

/// `indexof_regex`: as `indexof`, for the first match of a regex.
fn indexof_regex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    index_kernel(args, rows, true)
}

fn index_kernel(args: &[ColumnarValue], rows: usize, regex: bool) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, lookups) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let (starts, lengths, occurrences) = (Longs::new(&args[2])?, Longs::new(&args[3])?, Longs::new(&args[4])?);
    let mut regexes = Regexes::default();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let (t, lookup) = (texts.get(i).unwrap_or(""), lookups.get(i).unwrap_or(""));
        let (Some(start), Some(length), Some(occurrence)) = (starts.get(i), lengths.get(i), occurrences.get(i)) else {
            out.append_null();
            continue;
        };
        let found = if regex {
            let re = regexes.get(lookup)?;
            index_of(t, start, length, occurrence, |w| re.find(w).map(|m| m.start()))
        } else {
            let finder = memchr::memmem::Finder::new(lookup);
            index_of(t, start, length, occurrence, |w| finder.find(w.as_bytes()))
        };
        out.append_option(found);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The search behind `indexof`: `find` gives the byte offset of the first
/// match in a window of the text.
fn index_of(
    s: &str,
    start: i64,
    length: i64,
    occurrence: i64,
    mut find: impl FnMut(&str) -> Option<usize>,
) -> Option<i64> {
    if length < -1 || occurrence < 0 {
        return None;
    }
    let ascii = s.is_ascii();
    let count = char_count(s, ascii);
    let start = if start < 0 { count + start } else { start };
    if start < 0 {
        return None;
    }
    let (mut from, mut seen) = (start, 0);
    // Each further occurrence is searched for in `length` characters from
    // just after the previous one.
    while from <= count {
        let end = if length == -1 { count } else { from.saturating_add(length).min(count) };
        let (a, b) = (byte_at(s, ascii, from as usize), byte_at(s, ascii, end as usize));
        let Some(p) = find(&s[a..b]) else { break };
        let found = char_count(&s[..a + p], ascii);
        seen += 1;
        if seen == occurrence {
            return Some(found);
        }
        from = found + 1;
    }
    Some(-1)
}

/// `translate(search, replacement, text)`: each character of `search`
/// becomes the one at its position in `replacement` (its last character
/// past its end), or is removed when `replacement` is empty.
fn translate_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (searches, replacements, texts) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let (search, replacement) = (searches.get(i).unwrap_or(""), replacements.get(i).unwrap_or(""));
        let replacement: Vec<char> = replacement.chars().collect();
        let translated: String = texts
            .get(i)
            .unwrap_or("")
            .chars()
            .filter_map(|c| match search.chars().position(|x| x == c) {
                None => Some(c),
                Some(k) => replacement.get(k).or(replacement.last()).copied(),
            })
            .collect();
        out.append_value(translated);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `strcmp(a, b)`: -1, 0 or 1 by ordinal comparison.
fn strcmp_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (left, right) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let out: Int64Array =
        (0..n).map(|i| Some(left.get(i).unwrap_or("").cmp(right.get(i).unwrap_or("")) as i64)).collect();
    maybe_scalar(args, Arc::new(out))
}

/// `strrep(value, times[, delimiter])`; at most 1024 repetitions.
fn strrep_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, times, delims) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let times = times.get(i).unwrap_or(0).clamp(0, 1024) as usize;
        out.append_value(vec![values.get(i).unwrap_or(""); times].join(delims.get(i).unwrap_or("")));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `tohex(value[, min_length])`: two's complement at the value's width
/// (32 bits for int), zero-padded to at most 16 digits.
fn tohex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, widths) = (Longs::new(&args[0])?, Longs::new(&args[1])?);
    let is_int = matches!(&args[2], ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let Some(v) = values.get(i) else {
            out.append_value("");
            continue;
        };
        let hex = if is_int { format!("{:x}", v as i32 as u32) } else { format!("{:x}", v as u64) };
        let width = widths.get(i).unwrap_or(0).clamp(0, 16) as usize;
        out.append_value(format!("{hex:0>width$}"));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn isascii_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let texts = Strs::new(&args[0])?;
    let out: BooleanArray = (0..n).map(|i| Some(texts.get(i).unwrap_or("").is_ascii())).collect();
    maybe_scalar(args, Arc::new(out))
}

/// The round-trip text of a datetime, `2017-10-15T12:00:00.0000000Z`.
fn datetime_roundtrip(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let values = Longs::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 28);
    for i in 0..n {
        out.append_value(
            values.get(i).map_or(String::new(), |v| format_datetime_custom(v, "yyyy-MM-ddTHH:mm:ss.fffffffZ")),
        );
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `make_string(code points or arrays of them, …)`; `""` if one is invalid.
fn make_string_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let values = args.iter().map(Bins::new).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let mut s = String::new();
        let mut push = |d: DynRef<'_>| {
            let c = d.as_long().and_then(|v| u32::try_from(v).ok()).and_then(char::from_u32);
            c.map(|c| s.push(c)).is_some()
        };
        let ok = values.iter().all(|v| {
            let d = DynRef::new(v.get(i).unwrap_or(ENCODED_NULL));
            match d.kind() {
                DynKind::Array => d.array_items().all(&mut push),
                _ => push(d),
            }
        });
        out.append_value(if ok { s.as_str() } else { "" });
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `format_bytes(size, precision, units)`: `564 Bytes`, `10.1 KB`; the
/// unit is the largest under the size unless one is given.
fn format_bytes_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    const UNITS: [&str; 7] = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    let n = rows_to_compute(args, rows);
    let (sizes, precisions, units) = (Reals::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let Some(size) = sizes.get(i).filter(|s| s.is_finite()) else {
            out.append_value("");
            continue;
        };
        let unit =
            UNITS.iter().position(|u| units.get(i).is_some_and(|x| u.eq_ignore_ascii_case(x))).unwrap_or_else(|| {
                let (mut unit, mut v) = (0, size.abs());
                while v >= 1024.0 && unit < UNITS.len() - 1 {
                    v /= 1024.0;
                    unit += 1;
                }
                unit
            });
        let precision = precisions.get(i).unwrap_or(0).clamp(0, 15) as usize;
        let value = format!("{:.precision$}", size / 1024f64.powi(unit as i32));
        let value = if value.contains('.') { value.trim_end_matches('0').trim_end_matches('.') } else { &value };
        out.append_value(format!("{value} {}", UNITS[unit]));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `has_any_index(text, terms)`: the index of the first term the text
/// `has`, or -1.
fn has_any_index_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, terms) = (Strs::new(&args[0])?, Bins::new(&args[1])?);
    let mut matchers: Option<(&[u8], Vec<Matcher>)> = None;
    let mut buf = String::new();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let list = terms.get(i).unwrap_or(ENCODED_NULL);
        if !matches!(&matchers, Some((bytes, _)) if *bytes == list) {
            let built = DynRef::new(list)
                .array_items()
                .map(|t| Matcher::new(StringOpKind::Has, false, &t.to_kql_string()))
                .collect();
            matchers = Some((list, built));
        }
        let text = texts.get(i).unwrap_or("");
        let text = super::string_ops::fold_case(text, false, &mut buf);
        let found = matchers.as_ref().expect("set above").1.iter().position(|m| m.matches_folded(text));
        out.append_value(found.map_or(-1, |p| p as i64));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

// ---------------------------------------------------------------------------
// URL and base64 encodings.

/// `HttpUtility.UrlEncode`: letters, digits and `-_.!*()` stay, a space
/// becomes `space`, other bytes of the UTF-8 text `%xx` (lower case).
fn url_encode(s: &str, space: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'*' | b'(' | b')' => {
                out.push(b as char)
            }
            b' ' => out.push_str(space),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// `HttpUtility.UrlDecode`: `+` is a space, `%xx` a byte, `%uxxxx` a
/// character; malformed escapes stay as they are.
fn url_decode(s: &str) -> String {
    let hex = |digits: Option<&[u8]>| {
        let digits = std::str::from_utf8(digits?).ok()?;
        digits.bytes().all(|c| c.is_ascii_hexdigit()).then(|| u32::from_str_radix(digits, 16).ok())?
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(v) = hex(bytes.get(i + 1..i + 3)) {
                    out.push(v as u8);
                    i += 3;
                    continue;
                }
                if bytes.get(i + 1) == Some(&b'u') {
                    if let Some(v) = hex(bytes.get(i + 2..i + 6)) {
                        let c = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        i += 6;
                        continue;
                    }
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let v = chunk.iter().enumerate().fold(0u32, |v, (k, b)| v | u32::from(*b) << (16 - 8 * k));
        for k in 0..4 {
            out.push(if k <= chunk.len() { BASE64[(v >> (18 - 6 * k) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// Strict base64, as .NET's `Convert.FromBase64String`: whitespace is
/// ignored, the length must be a multiple of four, `=` only pads the end.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let padding = digits.iter().rev().take_while(|b| **b == b'=').count();
    if digits.len() % 4 != 0 || padding > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for &b in &digits[..digits.len() - padding] {
        let v = BASE64.iter().position(|c| *c == b)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `base64_encode_fromarray(bytes)`; `""` unless an array of bytes.
fn base64_encode_fromarray(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = Bins::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let d = DynRef::new(arrays.get(i).unwrap_or(ENCODED_NULL));
        let bytes: Option<Vec<u8>> = (d.kind() == DynKind::Array)
            .then(|| d.array_items().map(|b| b.as_long().and_then(|v| u8::try_from(v).ok())).collect())
            .flatten();
        out.append_value(bytes.map(|b| base64_encode(&b)).unwrap_or_default());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// Where each byte of a GUID's text comes from in its binary form: the
/// first two fields are little-endian; the third is not, unlike .NET's
/// `Guid(byte[])`, matching Kusto's documented example.
const GUID_BYTE_ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// `base64_decode_toguid(text)`: null unless the text decodes to 16 bytes.
fn base64_decode_toguid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let texts = Strs::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 36);
    for i in 0..n {
        match texts.get(i).and_then(base64_decode).filter(|b| b.len() == 16) {
            Some(bytes) => {
                let mut guid = String::with_capacity(36);
                for (k, &at) in GUID_BYTE_ORDER.iter().enumerate() {
                    if matches!(k, 4 | 6 | 8 | 10) {
                        guid.push('-');
                    }
                    guid.push_str(&format!("{:02x}", bytes[at]));
                }
                out.append_value(guid);
            }
            None => out.append_null(),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `base64_encode_fromguid(guid)`: the base64 of the GUID's .NET bytes.
fn base64_encode_fromguid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let guids = Strs::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 24);
    for i in 0..n {
        let hex: String = guids.get(i).unwrap_or("").chars().filter(|c| *c != '-').collect();
        let digits = (hex.len() == 32)
            .then(|| (0..16).map(|k| u8::from_str_radix(hex.get(2 * k..2 * k + 2)?, 16).ok()).collect())
            .flatten();
        out.append_value(digits.map_or(String::new(), |digits: Vec<u8>| {
            let mut bytes = [0u8; 16];
            for (k, &at) in GUID_BYTE_ORDER.iter().enumerate() {
                bytes[at] = digits[k];
            }
            base64_encode(&bytes)
        }));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `replace_strings(text, lookups, rewrites)`: one pass, replacing the
/// match that ends first, the earlier lookup on a tie. A non-string rewrite
/// keeps the matched text; a non-string lookup is ignored.
fn replace_strings_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, lookups, rewrites) = (Strs::new(&args[0])?, Bins::new(&args[1])?, Bins::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut s = String::new();
    for i in 0..n {
        let text = texts.get(i).unwrap_or("");
        let lookups: Vec<Option<&str>> =
            DynRef::new(lookups.get(i).unwrap_or(ENCODED_NULL)).array_items().map(|d| d.as_str()).collect();
        let rewrites = DynRef::new(rewrites.get(i).unwrap_or(ENCODED_NULL));
        let bytes = text.as_bytes();
        s.clear();
        let mut cursor = 0;
        for end in 1..=bytes.len() {
            let hit = lookups.iter().enumerate().find_map(|(k, l)| {
                l.filter(|l| !l.is_empty() && end >= cursor + l.len() && bytes[..end].ends_with(l.as_bytes()))
                    .map(|l| (k, l))
            });
            if let Some((k, lookup)) = hit {
                let start = end - lookup.len();
                s.push_str(&text[cursor..start]);
                s.push_str(rewrites.index(k as i64).and_then(|r| r.as_str()).unwrap_or(lookup));
                cursor = end;
            }
        }
        s.push_str(&text[cursor..]);
        out.append_value(&s);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

// ---------------------------------------------------------------------------
// Parsers returning property bags.

fn text_entry(key: &str, value: &str) -> (String, DynValue) {
    (key.to_string(), DynValue::String(value.to_string()))
}

/// `parse_url(url)`, as Kusto splits it: `scheme://[user:password@]host[:port]
/// [/path][?query][#fragment]`. A user without a password stays in the host
/// and the port is whatever follows the last `:`, as in Kusto. Without a
/// scheme every part is empty.
fn parse_url(url: &str) -> DynValue {
    let (mut scheme, mut host, mut port, mut path, mut user, mut password, mut query, mut fragment) =
        ("", "", "", "", "", "", "", "");
    if let Some(k) = url.find("://").filter(|&k| is_scheme(&url[..k])) {
        scheme = &url[..k];
        let rest = &url[k + 3..];
        let rest = match rest.split_once('#') {
            Some((r, f)) => {
                fragment = f;
                r
            }
            None => rest,
        };
        let rest = match rest.split_once('?') {
            Some((r, q)) => {
                query = q;
                r
            }
            None => rest,
        };
        let authority = match rest.find('/') {
            Some(p) => {
                path = &rest[p..];
                &rest[..p]
            }
            None => rest,
        };
        let hostport = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) if userinfo.contains(':') => {
                (user, password) = userinfo.split_once(':').expect("contains ':'");
                hostport
            }
            _ => authority,
        };
        (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
    }
    DynValue::Object(vec![
        text_entry("Scheme", scheme),
        text_entry("Host", host),
        text_entry("Port", port),
        text_entry("Path", path),
        text_entry("Username", user),
        text_entry("Password", password),
        ("Query Parameters".to_string(), query_parameters(query)),
        text_entry("Fragment", fragment),
    ])
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `k1=v1&k2=v2` as a bag sorted by key; a repeated key keeps its last
/// value and a part without `=` is dropped, as in Kusto.
fn query_parameters(query: &str) -> DynValue {
    let pairs: BTreeMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    DynValue::Object(pairs.into_iter().map(|(k, v)| text_entry(k, v)).collect())
}

/// `parse_path(path)`: Windows, UNC, Unix and `file://` paths.
fn parse_path(p: &str) -> DynValue {
    let (scheme, rest) = match p.find("://") {
        Some(k) if k > 0 && p[..k].chars().all(|c| c.is_ascii_alphanumeric()) => (&p[..k], &p[k + 3..]),
        _ => ("", p),
    };
    let b = rest.as_bytes();
    let root = if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' { &rest[..2] } else { "" };
    let (directory, file) = match rest.rfind(['/', '\\']) {
        Some(k) => (&rest[..k], &rest[k + 1..]),
        None => ("", rest),
    };
    let directory_name = directory.rsplit(['/', '\\']).next().unwrap_or("");
    let (file, stream) = file.split_once(':').unwrap_or((file, ""));
    let extension = file.rsplit_once('.').map_or("", |(_, e)| e);
    DynValue::Object(vec![
        text_entry("Scheme", scheme),
        text_entry("RootPath", root),
        text_entry("DirectoryPath", directory),
        text_entry("DirectoryName", directory_name),
        text_entry("Filename", file),
        text_entry("Extension", extension),
        text_entry("AlternateDataStreamName", stream),
    ])
}

/// `parse_command_line(text, "windows")`; null for other parsers.
fn parse_command_line_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, parsers) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    for i in 0..n {
        if !parsers.get(i).is_some_and(|p| p.eq_ignore_ascii_case("windows")) {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let argv = windows_argv(texts.get(i).unwrap_or(""));
        out.append_value(DynValue::Array(argv.into_iter().map(DynValue::String).collect()).encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `CommandLineToArgvW`: the program name ends at the closing quote or the
/// first blank; after it, 2n backslashes before a quote give n and toggle
/// quoting, 2n+1 give n and a literal quote, and `""` inside quotes is a quote.
fn windows_argv(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.trim_start_matches([' ', '\t']).chars().collect();
    let blank = |c: char| c == ' ' || c == '\t';
    let mut argv = Vec::new();
    if chars.is_empty() {
        return argv;
    }
    let mut i = 0;
    let mut program = String::new();
    if chars[0] == '"' {
        i = 1;
        while i < chars.len() && chars[i] != '"' {
            program.push(chars[i]);
            i += 1;
        }
        i += 1;
    } else {
        while i < chars.len() && !blank(chars[i]) {
            program.push(chars[i]);
            i += 1;
        }
    }
    argv.push(program);
    loop {
        while i < chars.len() && blank(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return argv;
        }
        let (mut arg, mut quoted) = (String::new(), false);
        while i < chars.len() && (quoted || !blank(chars[i])) {
            match chars[i] {
                '\\' => {
                    let run = chars[i..].iter().take_while(|c| **c == '\\').count();
                    i += run;
                    if chars.get(i) == Some(&'"') {
                        arg.extend(std::iter::repeat_n('\\', run / 2));
                        if run % 2 == 1 {
                            arg.push('"');
                            i += 1;
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', run));
                    }
                }
                '"' if quoted && chars.get(i + 1) == Some(&'"') => {
                    arg.push('"');
                    i += 2;
                }
                '"' => {
                    quoted = !quoted;
                    i += 1;
                }
                c => {
                    arg.push(c);
                    i += 1;
                }
            }
        }
        argv.push(arg);
    }
}

/// `extractjson(path, json)`: the element at a JSONPath (`$`, `.key`,
/// `['key']`, `[n]`) as text; `""` if the path, the JSON or the element is
/// missing.
fn extractjson_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (paths, texts) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let mut parsed: Option<(&str, Option<Vec<JsonStep>>)> = None;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let path = paths.get(i).unwrap_or("");
        if !matches!(&parsed, Some((p, _)) if *p == path) {
            parsed = Some((path, json_path(path)));
        }
        let steps = parsed.as_ref().and_then(|(_, s)| s.as_ref());
        let json: Option<serde_json::Value> = texts.get(i).and_then(|t| serde_json::from_str(t).ok());
        let value = steps.zip(json.as_ref()).and_then(|(steps, json)| {
            steps.iter().try_fold(json, |v, step| match step {
                JsonStep::Key(k) => v.get(k.as_str()),
                JsonStep::Index(k) => v.get(*k),
            })
        });
        match value {
            None | Some(serde_json::Value::Null) => out.append_value(""),
            Some(serde_json::Value::String(s)) => out.append_value(s),
            Some(other) => out.append_value(other.to_string()),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

enum JsonStep {
    Key(String),
    Index(usize),
}

fn json_path(path: &str) -> Option<Vec<JsonStep>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(JsonStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let inner = r.trim_start();
            let quote = inner.chars().next().filter(|c| *c == '\'' || *c == '"');
            if let Some(q) = quote {
                let close = inner[1..].find(q)? + 1;
                steps.push(JsonStep::Key(inner[1..close].to_string()));
                rest = inner[close + 1..].trim_start().strip_prefix(']')?;
            } else {
                let close = inner.find(']')?;
                steps.push(JsonStep::Index(inner[..close].trim().parse().ok()?));
                rest = &inner[close + 1..];
            }
        } else {
            return None;
        }
    }
    Some(steps)
}
