//! Text encodings: URL encoding and decoding, and base64 of strings, byte
//! arrays and GUIDs, as .NET encodes them.

use super::{Bins, Strs};
use crate::dynamic::{DynKind, DynRef, ENCODED_NULL};
use crate::udf::{maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use std::sync::Arc;

/// `HttpUtility.UrlEncode`: letters, digits and `-_.!*()` stay, a space
/// becomes `space`, other bytes of the UTF-8 text `%xx` (lower case).
pub(super) fn url_encode(s: &str, space: &str) -> String {
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
pub(super) fn url_decode(s: &str) -> String {
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

pub(super) fn base64_encode(bytes: &[u8]) -> String {
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
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let padding = digits.iter().rev().take_while(|b| **b == b'=').count();
    if !digits.len().is_multiple_of(4) || padding > 2 {
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
pub(super) fn base64_encode_fromarray(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
pub(super) fn base64_decode_toguid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
pub(super) fn base64_encode_fromguid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
pub(super) fn replace_strings_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
