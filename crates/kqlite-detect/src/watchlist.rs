//! Sentinel watchlists from CSV files: the `Watchlist` table and the
//! `_GetWatchlist(alias)` function, as Log Analytics provides them.

use crate::error::DetectError;
use datafusion::arrow::array::{ArrayRef, BinaryBuilder, Int64Builder, StringBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::dynamic::DynValue;
use kqlite_engine::{ColumnDef, KqlType, Session};
use std::path::Path;
use std::sync::Arc;

/// One watchlist: its alias (the file stem), the SearchKey column and items.
#[derive(Clone, Debug)]
pub struct Watchlist {
    pub alias: String,
    pub search_key: String,
    pub columns: Vec<String>,
    pub items: Vec<Vec<String>>,
}

/// `_GetWatchlist(alias)`: Log Analytics' columns (`_DTItemId`,
/// `LastUpdatedTimeUTC`, `SearchKey`, `WatchlistItem`) plus the CSV's.
/// Items are filtered before `bag_unpack`, so the columns are that
/// watchlist's; a watchlist that does not exist has no rows and the
/// standard columns, as in Sentinel (ASIM's parsers ask for
/// `ASimDisabledParsers`).
pub const GET_WATCHLIST: &str = "let _GetWatchlist = (watchlistAlias: string) {\n    Watchlist\n    | where WatchlistAlias == watchlistAlias\n    | project _DTItemId, LastUpdatedTimeUTC, SearchKey, WatchlistItem, __kqlite_item = WatchlistItem\n    | evaluate bag_unpack(__kqlite_item)\n};";

/// Splits CSV text into records (RFC 4180: quotes, doubled quotes, CRLF).
/// Each record comes with its 1-based starting line.
fn csv_records(text: &str, location: &str) -> Result<Vec<(usize, Vec<String>)>, DetectError> {
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() => in_quotes = true,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                records.push((record_line, std::mem::take(&mut record)));
                line += 1;
                record_line = line;
                any = false;
            }
            ('\n', true) => {
                line += 1;
                field.push('\n');
            }
            (c, _) => field.push(c),
        }
    }
    if in_quotes {
        return Err(DetectError::WatchlistUnclosedQuote { location: location.to_string(), line: record_line });
    }
    if any {
        record.push(field);
        records.push((record_line, record));
    }
    Ok(records)
}

impl Watchlist {
    /// Reads `path`; the alias is the file stem. A first line
    /// `# SearchKey: Column` names the SearchKey column, else the first.
    pub fn load(path: &Path) -> Result<Watchlist, DetectError> {
        let location = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| DetectError::ReadWatchlist { path: path.to_path_buf(), source })?;
        let alias = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut records = csv_records(text.trim_start_matches('\u{feff}'), &location)?;
        let mut declared = None;
        if let Some((_, first)) = records.first() {
            if let Some(rest) = first.first().and_then(|f| f.trim().strip_prefix('#')) {
                let rest = rest.trim();
                let key = rest.strip_prefix("SearchKey:").map(str::trim).ok_or_else(|| {
                    DetectError::WatchlistComment { location: location.clone(), got: rest.to_string() }
                })?;
                declared = Some(key.to_string());
                records.remove(0);
            }
        }
        records.retain(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty()));
        let Some((_, header)) = records.first().cloned() else {
            return Err(DetectError::WatchlistNoHeader { location });
        };
        let columns: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        if let Some(empty) = columns.iter().position(String::is_empty) {
            return Err(DetectError::WatchlistUnnamedColumn { location, column: empty + 1 });
        }
        let search_key = match declared {
            Some(key) => {
                if !columns.contains(&key) {
                    return Err(DetectError::WatchlistSearchKey { location, key, columns });
                }
                key
            }
            None => columns[0].clone(),
        };
        let mut items = Vec::new();
        for (line, record) in records.into_iter().skip(1) {
            if record.len() != columns.len() {
                return Err(DetectError::WatchlistFieldCount {
                    location,
                    line,
                    expected: columns.len(),
                    found: record.len(),
                });
            }
            items.push(record.into_iter().map(|f| f.trim().to_string()).collect());
        }
        Ok(Watchlist { alias, search_key, columns, items })
    }

    /// The SearchKey values, for checks and messages.
    pub fn keys(&self) -> Vec<&str> {
        let i = self.columns.iter().position(|c| c == &self.search_key).expect("checked on load");
        self.items.iter().map(|r| r[i].as_str()).collect()
    }
}

/// Every `*.csv` in `dir`, sorted by alias.
pub fn load_dir(dir: &Path) -> Result<Vec<Watchlist>, DetectError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| DetectError::ReadWatchlistDirectory { path: dir.to_path_buf(), source })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    paths.sort();
    paths.iter().map(|p| Watchlist::load(p)).collect()
}

/// The `Watchlist` table's columns (a subset of Log Analytics' schema).
pub fn table_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new("TimeGenerated", KqlType::Datetime),
        ColumnDef::new("WatchlistAlias", KqlType::String),
        ColumnDef::new("WatchlistName", KqlType::String),
        ColumnDef::new("SearchKey", KqlType::String),
        ColumnDef::new("WatchlistItem", KqlType::Dynamic),
        ColumnDef::new("LastUpdatedTimeUTC", KqlType::Datetime),
        ColumnDef::new("_DTItemId", KqlType::String),
    ]
}

/// Registers the `Watchlist` table (empty without watchlists) and defines
/// `_GetWatchlist`.
pub fn register(session: &mut Session, watchlists: &[Watchlist]) -> Result<(), DetectError> {
    let mut time = Int64Builder::new();
    let mut alias = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut key = StringBuilder::new();
    let mut item = BinaryBuilder::new();
    let mut updated = Int64Builder::new();
    let mut item_id = StringBuilder::new();
    for list in watchlists {
        let key_index = list.columns.iter().position(|c| c == &list.search_key).expect("checked on load");
        for (n, row) in list.items.iter().enumerate() {
            let mut bag = serde_json::Map::new();
            for (column, value) in list.columns.iter().zip(row) {
                bag.insert(column.clone(), serde_json::Value::String(value.clone()));
            }
            // Watchlist rows carry no event time; the epoch keeps them out
            // of every lookback and out of `--now latest`.
            time.append_value(0);
            alias.append_value(&list.alias);
            name.append_value(&list.alias);
            key.append_value(&row[key_index]);
            item.append_value(DynValue::from_json(&serde_json::Value::Object(bag)).encode());
            updated.append_value(0);
            item_id.append_value(format!("{}-{}", list.alias, n + 1));
        }
    }
    let columns = table_columns();
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(alias.finish()),
        Arc::new(name.finish()),
        Arc::new(key.finish()),
        Arc::new(item.finish()),
        Arc::new(updated.finish()),
        Arc::new(item_id.finish()),
    ];
    let schema = kqlite_engine::arrow_schema(&columns);
    let batch = RecordBatch::try_new(schema, arrays)?;
    session.register_batches("Watchlist", columns, vec![batch]).map_err(DetectError::RegisterTable)?;
    session.define_named_functions("_GetWatchlist", GET_WATCHLIST).map_err(|error| DetectError::FunctionDefinition {
        name: "_GetWatchlist".to_string(),
        text: GET_WATCHLIST.to_string(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_lines() {
        let r = csv_records("a,b\r\n\"x,\"\"y\"\"\",2\n\"multi\nline\",3", "t").unwrap();
        assert_eq!(r[0], (1, vec!["a".to_string(), "b".to_string()]));
        assert_eq!(r[1], (2, vec!["x,\"y\"".to_string(), "2".to_string()]));
        assert_eq!(r[2], (3, vec!["multi\nline".to_string(), "3".to_string()]));
        assert!(csv_records("a\n\"open", "f.csv").unwrap_err().to_string().contains("f.csv:2"));
    }
}
