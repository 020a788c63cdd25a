//! Large JSON documents read record by record: a top-level array of records
//! and Defender's streaming export `{"records":[…]}` (Event Hubs / storage
//! account dumps, which grow without bound) are parsed as they are read, a
//! batch of records at a time, so memory stays bounded whatever the size.
//! Other object shapes (the Log Analytics and Defender API results, which
//! those services cap in size) are collected and read whole by
//! [`crate::tabular`].

use crate::error::RecordError;
use crate::tabular::{self, JsonRecord, LoadReport, LoadedTable, Numbered};
use kqlite_engine::BATCH_ROWS;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;

/// What a document turned out to be.
pub enum Streamed {
    /// Its records were handed to the callback as they were read.
    Records,
    /// An object of another shape, read whole: the caller reads it as a document.
    Document(Map<String, Value>),
}

/// Reads a JSON document from `reader`, handing each batch of tables to
/// `emit` with the report of that batch. Records are numbered by position
/// (`record N`), as whole documents are.
/// On error: what went wrong and how many records had been handed on.
pub fn read_json_document(
    reader: impl Read,
    location: &str,
    emit: &mut dyn FnMut(Vec<LoadedTable>, LoadReport),
) -> Result<Streamed, (String, usize)> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    // A byte-order mark is not JSON.
    if reader.fill_buf().is_ok_and(|b| b.starts_with("\u{feff}".as_bytes())) {
        reader.consume(3);
    }
    let mut batcher = Batcher { location, emit, pending: Vec::new(), seen: 0 };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let outcome = (&mut de).deserialize_any(DocumentVisitor { batcher: &mut batcher });
    // What was read before an error is kept; the error names where it stopped.
    batcher.flush();
    let seen = batcher.seen;
    let streamed = outcome.map_err(|e| (format!("{location}: stopped after record {seen}: {e}"), seen))?;
    de.end().map_err(|e| (format!("{location}: after the document: {e}"), seen))?;
    Ok(streamed)
}

struct Batcher<'a> {
    location: &'a str,
    emit: &'a mut dyn FnMut(Vec<LoadedTable>, LoadReport),
    pending: Vec<Numbered<JsonRecord>>,
    seen: usize,
}

impl Batcher<'_> {
    fn push(&mut self, record: Result<JsonRecord, RecordError>) {
        self.seen += 1;
        self.pending.push((self.seen, record));
        if self.pending.len() >= BATCH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let rows = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS));
        let (tables, report) = tabular::load_json_records(rows, self.location);
        (self.emit)(tables, report);
    }
}

struct DocumentVisitor<'b, 'a> {
    batcher: &'b mut Batcher<'a>,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_, '_> {
    type Value = Streamed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of records or an object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Streamed, A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            self.batcher.push(tabular::array_element(item, "array element"));
        }
        Ok(Streamed::Records)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Streamed, A::Error> {
        let mut rest = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "records" && !streamed {
                map.next_value_seed(RecordsSeed { batcher: &mut *self.batcher })?;
                streamed = true;
            } else {
                let value = map.next_value::<Value>()?;
                rest.insert(key, value);
            }
        }
        Ok(if streamed { Streamed::Records } else { Streamed::Document(rest) })
    }
}

/// The array under `"records"`: Defender streaming records (with
/// `properties`), or plain records.
struct RecordsSeed<'b, 'a> {
    batcher: &'b mut Batcher<'a>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            let record = if item.get("properties").is_some() {
                tabular::streaming_record(item)
            } else {
                tabular::array_element(item, "record")
            };
            self.batcher.push(record);
        }
        Ok(())
    }
}
