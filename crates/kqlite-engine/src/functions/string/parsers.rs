//! Parsers returning property bags or text: `parse_url`, `parse_urlquery`,
//! `parse_path`, `parse_command_line` and `extractjson`.

use super::Strs;
use crate::dynamic::{DynValue, ENCODED_NULL};
use crate::udf::{maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use std::collections::BTreeMap;
use std::sync::Arc;

fn text_entry(key: &str, value: &str) -> (String, DynValue) {
    (key.to_string(), DynValue::String(value.to_string()))
}

/// `parse_url(url)`, as Kusto splits it: `scheme://[user:password@]host[:port]
/// [/path][?query][#fragment]`. A user without a password stays in the host
/// and the port is whatever follows the last `:`, as in Kusto. Without a
/// scheme every part is empty.
pub(super) fn parse_url(url: &str) -> DynValue {
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
pub(super) fn query_parameters(query: &str) -> DynValue {
    let pairs: BTreeMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    DynValue::Object(pairs.into_iter().map(|(k, v)| text_entry(k, v)).collect())
}

/// `parse_path(path)`: Windows, UNC, Unix and `file://` paths.
pub(super) fn parse_path(p: &str) -> DynValue {
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
pub(super) fn parse_command_line_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
pub(super) fn extractjson_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
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
