//! Text encodings beyond the string family's: gzip and zlib compression to
//! and from base64 (crate `flate2`), punycode of labels and domain names
//! (the `idna` crate's RFC 3492 coder), and `isutf8`.
//!
//! As Kusto does, input that cannot be decoded gives the empty string.

use super::{coerce, CallResult, Registry};
use crate::convert::Bound;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use base64::Engine;
use datafusion::arrow::array::{Array, BooleanArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::Result;
use datafusion::logical_expr::{lit, ColumnarValue};
use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use std::io::{Read, Write};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    // Each closure names its kernel, so it stays a plain `BindFn`.
    macro_rules! text_functions {
        ($($name:literal => $kernel:ident),* $(,)?) => {
            $(r.scalar($name, 1, 1, |_, a| text($name, $kernel, a));)*
        };
    }
    text_functions!(
        "gzip_compress_to_base64_string" => gzip_compress,
        "gzip_decompress_from_base64_string" => gzip_decompress,
        "zlib_compress_to_base64_string" => zlib_compress,
        "zlib_decompress_from_base64_string" => zlib_decompress,
        "punycode_from_string" => punycode_from_string,
        "punycode_to_string" => punycode_to_string,
        "punycode_domain_from_string" => punycode_domain_from_string,
        "punycode_domain_to_string" => punycode_domain_to_string,
    );
    r.scalar("isutf8", 1, 1, |_, mut a| {
        // kqlite's strings are UTF-8 by construction (readers decode or
        // replace invalid bytes), so every string, the empty one included,
        // is valid UTF-8.
        let s = coerce("isutf8", 0, a.swap_remove(0), KqlType::String)?;
        let expr = udf::call("kql_isutf8", DataType::Boolean, isutf8_kernel, vec![s.expr]);
        Ok(Bound::new(datafusion::functions::expr_fn::coalesce(vec![expr, lit(true)]), KqlType::Bool))
    });
}

/// Binds a function of one string returning a string.
fn text(name: &str, kernel: udf::Kernel, a: Vec<Bound>) -> CallResult<Bound> {
    let s = coerce(name, 0, a.into_iter().next().expect("one arg"), KqlType::String)?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Utf8, kernel, vec![s.expr]), KqlType::String))
}

/// Maps every string through `f`; null and `None` give "".
fn map_text(args: &[ColumnarValue], rows: usize, f: impl Fn(&str) -> Option<String>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let input = as_string_array(&a)?;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let value = if input.is_null(i) { None } else { f(input.value(i)) };
        out.append_value(value.as_deref().unwrap_or(""));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// The UTF-8 text a decoder yields, or `None` if it fails or is not UTF-8.
fn read_text(mut decoder: impl Read) -> Option<String> {
    let mut out = String::new();
    decoder.read_to_string(&mut out).ok()?;
    Some(out)
}

/// gzip of the text's UTF-8 bytes, in base64; "" for "".
pub fn gzip_base64(text: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).ok()?;
    Some(base64_text(&encoder.finish().ok()?))
}

/// zlib of the text's UTF-8 bytes, in base64; "" for "".
pub fn zlib_base64(text: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).ok()?;
    Some(base64_text(&encoder.finish().ok()?))
}

fn gzip_compress(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, gzip_base64)
}

fn gzip_decompress(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, |s| read_text(GzDecoder::new(base64_bytes(s)?.as_slice())))
}

fn zlib_compress(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, zlib_base64)
}

fn zlib_decompress(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, |s| read_text(ZlibDecoder::new(base64_bytes(s)?.as_slice())))
}

fn punycode_from_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, idna::punycode::encode_str)
}

fn punycode_to_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, idna::punycode::decode_to_string)
}

/// The label separators of IDNA (RFC 3490 §3.1): the full stop and its
/// ideographic, fullwidth and halfwidth forms.
fn is_label_separator(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// A domain with every non-ASCII label punycoded behind `xn--`; labels are
/// kept as they are otherwise (no case folding or mapping), as Kusto does.
pub fn domain_to_punycode(domain: &str) -> Option<String> {
    let labels = domain.split(is_label_separator).map(|label| {
        if label.is_ascii() {
            Some(label.to_string())
        } else {
            idna::punycode::encode_str(label).map(|p| format!("xn--{p}"))
        }
    });
    Some(labels.collect::<Option<Vec<_>>>()?.join("."))
}

/// A domain with every `xn--` label decoded; `None` if one cannot be.
pub fn domain_from_punycode(domain: &str) -> Option<String> {
    let labels =
        domain.split(is_label_separator).map(|label| match label.get(..4).filter(|p| p.eq_ignore_ascii_case("xn--")) {
            Some(_) => idna::punycode::decode_to_string(&label[4..]),
            None => Some(label.to_string()),
        });
    Some(labels.collect::<Option<Vec<_>>>()?.join("."))
}

/// Decodes: the punycode_domain_from_string page ("Decodes input string from
/// encoded IDNA punycode form", `xn--Ge-mia.Bulg.edu` → `Gáe.Bulg.edu`). The
/// domain pair runs opposite to punycode_from_string/punycode_to_string.
fn punycode_domain_from_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, domain_from_punycode)
}

/// Encodes: the punycode_domain_to_string page ("Encodes IDNA string to
/// Punycode form", `Riðill。Skáldskaparmál。org` → `xn--Riill-jta.xn--Skldskaparml-dbbj.org`).
fn punycode_domain_to_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_text(args, rows, domain_to_punycode)
}

fn isutf8_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let input = as_string_array(&a)?;
    // Arrow validates Utf8 arrays, so every present value is UTF-8.
    let out: BooleanArray =
        (0..n).map(|i| Some(input.is_null(i) || std::str::from_utf8(input.value(i).as_bytes()).is_ok())).collect();
    maybe_scalar(args, Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_text_decompresses_to_itself() {
        let text = "Test string 123 ✓";
        let gz = gzip_base64(text).unwrap();
        assert_eq!(read_text(GzDecoder::new(base64_bytes(&gz).unwrap().as_slice())).as_deref(), Some(text));
        let z = zlib_base64(text).unwrap();
        assert_eq!(read_text(ZlibDecoder::new(base64_bytes(&z).unwrap().as_slice())).as_deref(), Some(text));
    }

    /// The examples of Kusto's punycode_domain_to_string page (encoding) and
    /// punycode_domain_from_string page (decoding).
    #[test]
    fn domains_punycode_only_their_non_ascii_labels() {
        assert_eq!(
            domain_to_punycode("Lê Lợi。Thuận Thiên。com").as_deref(),
            Some("xn--L Li-gpa4517b.xn--Thun Thin-s4a7194f.com")
        );
        assert_eq!(
            domain_to_punycode("Kaledvoulc'h.Artorījos.edu").as_deref(),
            Some("Kaledvoulc'h.xn--Artorjos-ejb.edu")
        );
        assert_eq!(
            domain_from_punycode("xn--Riill-jta.xn--Skldskaparml-dbbj.org").as_deref(),
            Some("Riðill.Skáldskaparmál.org")
        );
    }
}
