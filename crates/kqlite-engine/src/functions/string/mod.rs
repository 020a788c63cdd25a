//! String functions: Kusto's text functions over UTF-8 strings, regexes
//! (RE2 syntax, run by the `regex` crate), URL, base64 and path parsing.
//!
//! Kusto strings are never null, so string results are `""` where Kusto
//! has no value; positions and lengths count characters, not bytes.

mod encoding;
mod parsers;
mod regexes;
mod text;

pub use regexes::regex_groups;

use super::{coerce, expect_one_of, CallError, CallResult, Registry};
use crate::convert::{to_dynamic, to_string, Bound};
use crate::dynamic::DynValue;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::functions::expr_fn as df;
use datafusion::logical_expr::{cast, lit, ColumnarValue, Expr};
use encoding::{
    base64_decode, base64_decode_toguid, base64_encode, base64_encode_fromarray, base64_encode_fromguid,
    replace_strings_kernel, url_decode, url_encode,
};
use parsers::{extractjson_kernel, parse_command_line_kernel, parse_path, parse_url, query_parameters};
use regexes::{countof_kernel, extract_all_kernel, extract_kernel, replace_regex_kernel, trim_kernel};
use std::sync::Arc;
use text::{
    datetime_roundtrip_or_empty, format_bytes_kernel, has_any_index_kernel, indexof_kernel, indexof_regex_kernel,
    isascii_kernel, make_string_kernel, replace_string_kernel, split_kernel, strcat_array_kernel, strcmp_kernel,
    strrep_kernel, substring_kernel, tohex_kernel, translate_kernel,
};

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
            return Err(CallError::TypeArgument { function: "extract".to_string() });
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
                return Err(CallError::InvalidValue {
                    function: "countof".to_string(),
                    position: 3,
                    expected: "'normal' or 'regex'",
                    value: k.clone(),
                });
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
            KqlType::Datetime => udf::call(
                "kql_datetime_roundtrip_or_empty",
                DataType::Utf8,
                datetime_roundtrip_or_empty,
                vec![value.expr],
            ),
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
fn unary_string(a: Vec<Bound>, name: &'static str, ty: KqlType, kernel: udf::Kernel) -> CallResult<Bound> {
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

    fn to(&mut self, i: usize, ty: KqlType) -> CallResult<Expr> {
        Ok(coerce(self.name, i, self.bound(i), ty)?.expr)
    }

    /// A `string` parameter (Kusto rejects numbers here).
    fn string(&mut self, i: usize) -> CallResult<Expr> {
        self.to(i, KqlType::String)
    }

    /// A parameter Kusto converts to text with `tostring()`.
    fn text(&mut self, i: usize) -> Expr {
        to_string(self.bound(i)).expr
    }

    fn long(&mut self, i: usize) -> CallResult<Expr> {
        self.to(i, KqlType::Long)
    }

    fn opt_long(&mut self, i: usize) -> CallResult<Expr> {
        if i < self.len() {
            self.long(i)
        } else {
            Ok(lit(ScalarValue::Int64(None)))
        }
    }

    /// A parameter that must already be `dynamic` (an array).
    fn dynamic_only(&mut self, i: usize) -> CallResult<Expr> {
        let b = self.bound(i);
        expect_one_of(self.name, i, &b, &[KqlType::Dynamic])?;
        Ok(b.expr)
    }
}

const TRIM_BOTH: i64 = 0;
const TRIM_START: i64 = 1;
const TRIM_END: i64 = 2;

fn trim(a: Vec<Bound>, name: &'static str, mode: i64) -> CallResult<Bound> {
    let mut a = Args::new(name, a);
    Ok(call("kql_trim", KqlType::String, trim_kernel, vec![a.string(0)?, a.string(1)?, lit(mode)]))
}

fn extract_json(a: Vec<Bound>, name: &'static str) -> CallResult<Bound> {
    let mut a = Args::new(name, a);
    if a.len() == 3 {
        return Err(CallError::TypeArgument { function: name.to_string() });
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
