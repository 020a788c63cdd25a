//! IP address functions (`ipv4_is_private`, `ipv4_is_match`, `has_ipv4`, …).
//!
//! Addresses are text, optionally in IP-prefix (CIDR) notation: parsing
//! applies the prefix, and comparisons use the shorter of the prefixes
//! involved. Text that is not an address gives null (false for the
//! `has_*ipv4*` text searches, "" for the functions returning text).
//!
//! IPv6 functions also take IPv4 text, as the mapped address
//! `::ffff:a.b.c.d` whose prefix counts from bit 96.

use super::{coerce, expect_one_of, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynKind, DynRef};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_int64_array, as_string_array};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{cast, ColumnarValue, Expr};
use std::net::Ipv6Addr;
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    use DataType::{Boolean, Int64, Utf8};
    r.scalar("ipv4_is_private", 1, 1, |_, a| call("ipv4_is_private", a, &[S], Boolean, ipv4_is_private));
    r.scalar("ipv4_compare", 2, 3, |_, a| call("ipv4_compare", a, &[S, S, I], Int64, ipv4_compare));
    r.scalar("ipv4_is_match", 2, 3, |_, a| call("ipv4_is_match", a, &[S, S, I], Boolean, ipv4_is_match));
    r.scalar("ipv4_is_in_range", 2, 2, |_, a| call("ipv4_is_in_range", a, &[S, S], Boolean, ipv4_is_in_range));
    r.scalar("ipv4_is_in_any_range", 2, 32768, |_, a| {
        call("ipv4_is_in_any_range", a, &[S, L], Boolean, ipv4_is_in_any_range)
    });
    r.scalar("parse_ipv4", 1, 1, |_, a| call("parse_ipv4", a, &[S], Int64, parse_ipv4));
    r.scalar("parse_ipv4_mask", 2, 2, |_, a| call("parse_ipv4_mask", a, &[S, I], Int64, parse_ipv4_mask));
    r.scalar("ipv4_netmask_suffix", 1, 1, |_, a| call("ipv4_netmask_suffix", a, &[S], Int64, ipv4_netmask_suffix));
    r.scalar("format_ipv4", 1, 2, |_, a| call("format_ipv4", a, &[N, I], Utf8, format_ipv4));
    r.scalar("format_ipv4_mask", 1, 2, |_, a| call("format_ipv4_mask", a, &[N, I], Utf8, format_ipv4_mask));
    r.scalar("has_ipv4", 2, 2, |_, a| call("has_ipv4", a, &[S, S], Boolean, has_any_ipv4));
    r.scalar("has_ipv4_prefix", 2, 2, |_, a| call("has_ipv4_prefix", a, &[S, S], Boolean, has_any_ipv4_prefix));
    r.scalar("has_any_ipv4", 2, 32768, |_, a| call("has_any_ipv4", a, &[S, L], Boolean, has_any_ipv4));
    r.scalar("has_any_ipv4_prefix", 2, 32768, |_, a| {
        call("has_any_ipv4_prefix", a, &[S, L], Boolean, has_any_ipv4_prefix)
    });
    r.scalar("ipv6_compare", 2, 3, |_, a| call("ipv6_compare", a, &[S, S, I], Int64, ipv6_compare));
    r.scalar("ipv6_is_match", 2, 3, |_, a| call("ipv6_is_match", a, &[S, S, I], Boolean, ipv6_is_match));
    r.scalar("ipv6_is_in_range", 2, 2, |_, a| call("ipv6_is_in_range", a, &[S, S], Boolean, ipv6_is_in_range));
    r.scalar("ipv6_is_in_any_range", 2, 32768, |_, a| {
        call("ipv6_is_in_any_range", a, &[S, L], Boolean, ipv6_is_in_any_range)
    });
    r.scalar("parse_ipv6", 1, 1, |_, a| call("parse_ipv6", a, &[S], Utf8, parse_ipv6));
    r.scalar("parse_ipv6_mask", 2, 2, |_, a| call("parse_ipv6_mask", a, &[S, I], Utf8, parse_ipv6_mask));
}

/// How an argument is passed to a kernel.
#[derive(Clone, Copy)]
enum Arg {
    /// Text (`Utf8`).
    S,
    /// A prefix length or other integer (`Int64`).
    I,
    /// An address as text or as its number (`Utf8` or `Int64`).
    N,
    /// This and every later argument: text, or a dynamic array of texts.
    L,
}
use Arg::*;

/// Checks and converts the arguments as `kinds` says, and calls the kernel.
fn call(name: &str, args: Vec<Bound>, kinds: &[Arg], ty: DataType, kernel: udf::Kernel) -> CallResult<Bound> {
    let mut exprs: Vec<Expr> = Vec::with_capacity(args.len());
    for (i, b) in args.into_iter().enumerate() {
        let expr = match kinds[i.min(kinds.len() - 1)] {
            S => coerce(name, i, b, KqlType::String)?.expr,
            I => {
                expect_one_of(name, i, &b, &[KqlType::Int, KqlType::Long])?;
                cast(b.expr, DataType::Int64)
            }
            N if matches!(b.ty, KqlType::Int | KqlType::Long) => cast(b.expr, DataType::Int64),
            N => coerce(name, i, b, KqlType::String)?.expr,
            L if b.ty == KqlType::Dynamic => b.expr,
            L => coerce(name, i, b, KqlType::String)?.expr,
        };
        exprs.push(expr);
    }
    let expr = udf::call(&format!("kql_{name}"), ty.clone(), kernel, exprs);
    Ok(match ty {
        DataType::Boolean => Bound::new(expr, KqlType::Bool),
        DataType::Int64 => Bound::new(expr, KqlType::Long),
        // Kusto strings are never null.
        _ => Bound::new(
            datafusion::functions::expr_fn::coalesce(vec![expr, datafusion::prelude::lit("")]),
            KqlType::String,
        ),
    })
}

/// A network: the address with the prefix applied, and the prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Net<A> {
    addr: A,
    prefix: u32,
}

/// An IPv4 network.
type V4 = Net<u32>;

/// An address or network in IPv6 space.
type V6 = Net<u128>;

fn mask4(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0)
}

/// 1–3 decimal digits (no sign, no spaces) as a number.
fn short_decimal(text: &str) -> Option<u32> {
    let ok = !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

/// An address part: 1–3 decimal digits, at most 255.
fn quad_part(text: &str) -> Option<u8> {
    u8::try_from(short_decimal(text)?).ok()
}

/// Dotted-quad text: exactly four decimal parts of 1–3 digits, each ≤ 255.
fn parse_quad(text: &str) -> Option<u32> {
    let mut parts = text.split('.');
    let mut addr = 0u32;
    for _ in 0..4 {
        addr = (addr << 8) | u32::from(quad_part(parts.next()?)?);
    }
    parts.next().is_none().then_some(addr)
}

/// A prefix length: decimal digits, at most `max`.
fn parse_prefix(text: &str, max: u32) -> Option<u32> {
    short_decimal(text.trim()).filter(|p| *p <= max)
}

/// Trimmed `ip` or `ip/prefix` text split at the slash.
fn split_prefix(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    match text.split_once('/') {
        Some((ip, p)) => (ip.trim(), Some(p)),
        None => (text, None),
    }
}

/// `a.b.c.d` or `a.b.c.d/prefix`.
fn parse_v4(text: &str) -> Option<V4> {
    let (ip, prefix) = split_prefix(text);
    let prefix = match prefix {
        Some(p) => parse_prefix(p, 32)?,
        None => 32,
    };
    let addr = parse_quad(ip)?;
    Some(V4 { addr: addr & mask4(prefix), prefix })
}

fn mask6(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0)
}

/// IPv6 text, or IPv4 text as its mapped address. A dotted tail with
/// nothing else set (`::a.b.c.d`) is taken as the IPv4 address too, and a
/// prefix after dotted text counts IPv4 bits.
fn parse_v6(text: &str) -> Option<V6> {
    let (ip, prefix) = split_prefix(text);
    let (addr, dotted) = if ip.contains(':') {
        let addr = u128::from(ip.parse::<Ipv6Addr>().ok()?);
        let dotted = ip.contains('.');
        (if dotted && addr >> 32 == 0 { addr | 0xffff << 32 } else { addr }, dotted)
    } else {
        (0xffff << 32 | u128::from(parse_quad(ip)?), true)
    };
    let prefix = match (prefix, dotted) {
        (Some(p), true) => parse_prefix(p, 32)? + 96,
        (Some(p), false) => parse_prefix(p, 128)?,
        (None, _) => 128,
    };
    Some(V6 { addr: addr & mask6(prefix), prefix })
}

fn format_v6(addr: u128) -> String {
    let groups: Vec<String> = Ipv6Addr::from(addr).segments().iter().map(|g| format!("{g:04x}")).collect();
    groups.join(":")
}

fn format_quad(addr: u32) -> String {
    std::net::Ipv4Addr::from(addr).to_string()
}

/// Maps each row of the text argument 0 (and the optional integer argument
/// 1) to an output value.
macro_rules! unary_kernel {
    ($name:ident, $out:ty, |$ip:ident, $extra:ident| $body:expr) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let ips = args[0].to_array(n)?;
            let ips = as_string_array(&ips)?;
            let extra = match args.get(1) {
                Some(e) => Some(e.to_array(n)?),
                None => None,
            };
            let extra = extra.as_ref().map(|e| as_int64_array(e)).transpose()?;
            let out: $out = (0..n)
                .map(|i| {
                    let $ip = ips.is_valid(i).then(|| ips.value(i))?;
                    let $extra: Option<Option<i64>> = extra.map(|e| e.is_valid(i).then(|| e.value(i)));
                    $body
                })
                .collect();
            maybe_scalar(args, Arc::new(out))
        }
    };
}

/// Argument `extra` as a prefix length of at most `max` bits: `Some(max)`
/// when absent, None when null or out of range.
fn prefix_arg(extra: Option<Option<i64>>, max: u32) -> Option<u32> {
    match extra {
        None => Some(max),
        Some(p) => u32::try_from(p?).ok().filter(|p| *p <= max),
    }
}

unary_kernel!(ipv4_is_private, BooleanArray, |ip, _e| {
    let a = parse_v4(ip)?.addr;
    Some(a >> 24 == 10 || a >> 20 == (172 << 4 | 1) || a >> 16 == (192 << 8 | 168))
});
unary_kernel!(parse_ipv4, Int64Array, |ip, _e| parse_v4(ip).map(|v| i64::from(v.addr)));
unary_kernel!(parse_ipv4_mask, Int64Array, |ip, e| {
    let v = parse_v4(ip)?;
    Some(i64::from(v.addr & mask4(prefix_arg(e, 32)?)))
});
unary_kernel!(ipv4_netmask_suffix, Int64Array, |ip, _e| parse_v4(ip).map(|v| i64::from(v.prefix)));
unary_kernel!(parse_ipv6, StringArray, |ip, _e| Some(parse_v6(ip).map(|v| format_v6(v.addr)).unwrap_or_default()));
unary_kernel!(parse_ipv6_mask, StringArray, |ip, e| {
    let text = parse_v6(ip).zip(prefix_arg(e, 128)).map(|(v, p)| format_v6(v.addr & mask6(p)));
    Some(text.unwrap_or_default())
});

/// Compares two networks on their shorter prefix (and the optional
/// `prefix` argument 2).
macro_rules! compare_kernel {
    ($name:ident, $out:ty, $parse:ident, $mask:ident, $max:expr, |$ord:ident| $result:expr) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let (a, b) = (args[0].to_array(n)?, args[1].to_array(n)?);
            let (a, b) = (as_string_array(&a)?, as_string_array(&b)?);
            let p = match args.get(2) {
                Some(p) => Some(p.to_array(n)?),
                None => None,
            };
            let p = p.as_ref().map(|p| as_int64_array(p)).transpose()?;
            let out: $out = (0..n)
                .map(|i| {
                    let x = $parse(a.is_valid(i).then(|| a.value(i))?)?;
                    let y = $parse(b.is_valid(i).then(|| b.value(i))?)?;
                    let limit = prefix_arg(p.map(|p| p.is_valid(i).then(|| p.value(i))), $max)?;
                    let m = $mask(x.prefix.min(y.prefix).min(limit));
                    let $ord = (x.addr & m).cmp(&(y.addr & m));
                    Some($result)
                })
                .collect();
            maybe_scalar(args, Arc::new(out))
        }
    };
}

compare_kernel!(ipv4_compare, Int64Array, parse_v4, mask4, 32, |o| o as i64);
compare_kernel!(ipv4_is_match, BooleanArray, parse_v4, mask4, 32, |o| o.is_eq());
compare_kernel!(ipv6_compare, Int64Array, parse_v6, mask6, 128, |o| o as i64);
compare_kernel!(ipv6_is_match, BooleanArray, parse_v6, mask6, 128, |o| o.is_eq());

/// `ip_is_in_range(ip, range)`: the address, on the range's prefix,
/// equals the range.
macro_rules! in_range_kernel {
    ($name:ident, $parse:ident, $mask:ident) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let (a, b) = (args[0].to_array(n)?, args[1].to_array(n)?);
            let (a, b) = (as_string_array(&a)?, as_string_array(&b)?);
            let out: BooleanArray = (0..n)
                .map(|i| {
                    let ip = $parse(a.is_valid(i).then(|| a.value(i))?)?;
                    let range = $parse(b.is_valid(i).then(|| b.value(i))?)?;
                    Some(ip.addr & $mask(range.prefix) == range.addr)
                })
                .collect();
            maybe_scalar(args, Arc::new(out))
        }
    };
}

in_range_kernel!(ipv4_is_in_range, parse_v4, mask4);
in_range_kernel!(ipv6_is_in_range, parse_v6, mask6);

/// The parsed items of arguments 1.. (texts or dynamic arrays of texts),
/// parsed once when they are all constant. Items that do not parse are
/// left out.
struct Items<T> {
    constant: Option<Vec<T>>,
    arrays: Vec<ArrayRef>,
    parse: fn(&str) -> Option<T>,
}

impl<T> Items<T> {
    fn new(args: &[ColumnarValue], n: usize, parse: fn(&str) -> Option<T>) -> Result<Items<T>> {
        let all_constant = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let len = if all_constant { 1 } else { n };
        let arrays = args.iter().map(|a| a.to_array(len)).collect::<Result<Vec<_>>>()?;
        let mut items = Items { constant: None, arrays, parse };
        if all_constant {
            let mut all = Vec::new();
            items.collect(0, &mut all)?;
            items.constant = Some(all);
        }
        Ok(items)
    }

    fn collect(&self, row: usize, out: &mut Vec<T>) -> Result<()> {
        for a in &self.arrays {
            if a.is_null(row) {
                continue;
            }
            match a.data_type() {
                DataType::Utf8 => out.extend((self.parse)(as_string_array(a)?.value(row))),
                DataType::Binary => {
                    let d = DynRef::new(as_binary_array(a)?.value(row));
                    match d.kind() {
                        DynKind::Array => out.extend(d.array_items().filter_map(|v| v.as_str()).filter_map(self.parse)),
                        _ => out.extend(d.as_str().and_then(self.parse)),
                    }
                }
                t => return exec_err!("unexpected IP list argument type {t}"),
            }
        }
        Ok(())
    }

    /// The items for `row`.
    fn at<'a>(&'a self, row: usize, buf: &'a mut Vec<T>) -> Result<&'a [T]> {
        if let Some(c) = &self.constant {
            return Ok(c);
        }
        buf.clear();
        self.collect(row, buf)?;
        Ok(buf)
    }
}

macro_rules! in_any_range_kernel {
    ($name:ident, $parse:ident, $mask:ident) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let ips = args[0].to_array(n)?;
            let ips = as_string_array(&ips)?;
            let ranges = Items::new(&args[1..], n, $parse)?;
            let mut buf = Vec::new();
            let mut out = BooleanBuilder::with_capacity(n);
            for i in 0..n {
                match ips.is_valid(i).then(|| $parse(ips.value(i))).flatten() {
                    Some(ip) => {
                        let ranges = ranges.at(i, &mut buf)?;
                        out.append_value(ranges.iter().any(|r| ip.addr & $mask(r.prefix) == r.addr));
                    }
                    None => out.append_null(),
                }
            }
            maybe_scalar(args, Arc::new(out.finish()))
        }
    };
}

in_any_range_kernel!(ipv4_is_in_any_range, parse_v4, mask4);
in_any_range_kernel!(ipv6_is_in_any_range, parse_v6, mask6);

/// Formats argument 0 (IPv4 text or its number) on the prefix argument 1.
fn format_v4(args: &[ColumnarValue], rows: usize, with_prefix: bool) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let ips = args[0].to_array(n)?;
    let prefixes = match args.get(1) {
        Some(p) => Some(p.to_array(n)?),
        None => None,
    };
    let prefixes = prefixes.as_ref().map(|p| as_int64_array(p)).transpose()?;
    let numbers = (ips.data_type() == &DataType::Int64).then(|| as_int64_array(&ips)).transpose()?;
    let texts = numbers.is_none().then(|| as_string_array(&ips)).transpose()?;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let ip = match (numbers, texts) {
            _ if ips.is_null(i) => None,
            (Some(numbers), _) => u32::try_from(numbers.value(i)).ok().map(|addr| V4 { addr, prefix: 32 }),
            (_, Some(texts)) => parse_v4(texts.value(i)),
            _ => None,
        };
        let limit = prefix_arg(prefixes.map(|p| p.is_valid(i).then(|| p.value(i))), 32);
        match ip.zip(limit) {
            Some((v, limit)) => {
                let prefix = v.prefix.min(limit);
                let text = format_quad(v.addr & mask4(prefix));
                out.append_value(if with_prefix { format!("{text}/{prefix}") } else { text });
            }
            None => out.append_value(""),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn format_ipv4(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    format_v4(args, rows, false)
}

fn format_ipv4_mask(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    format_v4(args, rows, true)
}

/// The valid IPv4 addresses standing as terms in `text`: runs of letters,
/// digits and dots, delimited by anything else, that (without dots at
/// their ends) are dotted quads.
fn text_ipv4s(text: &str) -> impl Iterator<Item = [u8; 4]> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|term| term.trim_matches('.'))
        .filter(|term| term.len() >= 7 && term.as_bytes()[0].is_ascii_digit())
        .filter_map(|term| parse_quad(term).map(u32::to_be_bytes))
}

/// A `has_ipv4` needle: a whole address.
fn parse_ipv4_needle(text: &str) -> Option<Vec<u8>> {
    parse_quad(text.trim()).map(|a| a.to_be_bytes().to_vec())
}

/// A `has_ipv4_prefix` needle: a whole address, or 1–3 leading parts each
/// followed by a dot (`10.`, `192.168.`).
fn parse_ipv4_prefix_needle(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if let Some(whole) = parse_ipv4_needle(text) {
        return Some(whole);
    }
    let parts: Vec<&str> = text.strip_suffix('.')?.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    parts.iter().map(|p| quad_part(p)).collect()
}

/// Whether any needle (arguments 1..) starts an IPv4 address in the text.
fn has_any(args: &[ColumnarValue], rows: usize, parse: fn(&str) -> Option<Vec<u8>>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let sources = args[0].to_array(n)?;
    let sources = as_string_array(&sources)?;
    let needles = Items::new(&args[1..], n, parse)?;
    let mut buf = Vec::new();
    let mut out = BooleanBuilder::with_capacity(n);
    for i in 0..n {
        let needles = needles.at(i, &mut buf)?;
        let found = sources.is_valid(i)
            && !needles.is_empty()
            && text_ipv4s(sources.value(i)).any(|ip| needles.iter().any(|p| ip.starts_with(p)));
        out.append_value(found);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn has_any_ipv4(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    has_any(args, rows, parse_ipv4_needle)
}

fn has_any_ipv4_prefix(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    has_any(args, rows, parse_ipv4_prefix_needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(parse_v4("192.168.1.1/24"), Some(V4 { addr: 0xc0a8_0100, prefix: 24 }));
        assert_eq!(parse_v4("1.2.3"), None);
        assert_eq!(parse_v4("1.2.3.256"), None);
        assert_eq!(parse_v4("1.2.3.4/33"), None);
        assert_eq!(parse_v6("::192.168.1.1/30").map(|v| v.prefix), Some(126));
        assert_eq!(
            parse_v6("1.2.3.4").map(|v| format_v6(v.addr)).as_deref(),
            Some("0000:0000:0000:0000:0000:ffff:0102:0304")
        );
        assert_eq!(parse_ipv4_prefix_needle("127.0"), None);
        assert_eq!(parse_ipv4_prefix_needle("127.0."), Some(vec![127, 0]));
        let found: Vec<[u8; 4]> = text_ipv4s("from 1.2.3.4, 5.6.7.8. x9.9.9.9 10.0.0.1.2").collect();
        assert_eq!(found, vec![[1, 2, 3, 4], [5, 6, 7, 8]]);
    }
}
