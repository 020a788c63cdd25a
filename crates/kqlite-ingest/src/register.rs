//! Registering loaded tables with a session: tables of one name, from
//! different files, merged into one (columns united, conflicting types
//! widened).

use crate::conform::{coalesce, conform, schema_of, unite};
use crate::error::IngestError;
use crate::tabular::LoadedTable;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{ColumnDef, Session, BATCH_ROWS};

/// Registers tables with the session; tables of the same name are merged
/// (columns united, conflicting types widened).
pub fn register_tables(session: &mut Session, tables: Vec<LoadedTable>) -> Result<(), IngestError> {
    let mut empty: Vec<(String, Vec<ColumnDef>)> = Vec::new();
    let mut pieces = Vec::new();
    for LoadedTable { name, columns, batches } in tables {
        if batches.is_empty() {
            empty.push((name, columns));
            continue;
        }
        pieces.extend(batches.into_iter().map(|b| (name.clone(), columns.clone(), b)));
    }
    let (mut merged, _) = merge(pieces);
    // Tables without rows still register: querying an empty table is not an error.
    for (name, columns) in empty {
        match merged.iter_mut().find(|t| t.name == name) {
            Some(table) => {
                // Only new columns: the rows already have their types.
                for column in columns {
                    if !table.columns.iter().any(|c| c.name == column.name) {
                        table.columns.push(column);
                    }
                }
            }
            None => merged.push(LoadedTable { name, columns, batches: Vec::new() }),
        }
    }
    for table in merged {
        let batches = conform_all(&table.columns, table.batches);
        if let Err(e) = session.register_batches(&table.name, table.columns, batches) {
            return Err(IngestError::Register { table: table.name, source: e });
        }
    }
    Ok(())
}

/// Batches brought to `columns` when these gained columns after merging.
fn conform_all(columns: &[ColumnDef], batches: Vec<RecordBatch>) -> Vec<RecordBatch> {
    batches
        .into_iter()
        .map(|batch| {
            if batch.num_columns() == columns.len() {
                return batch;
            }
            let from: Vec<ColumnDef> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    columns.iter().find(|c| c.name == *f.name()).cloned().expect("merged columns hold every column")
                })
                .collect();
            conform(&batch, &from, columns).0
        })
        .collect()
}

/// Batches of possibly differing columns merged into one table per name
/// (first-seen order); returns the tables and the values that did not
/// convert to a widened type.
pub(crate) fn merge(pieces: Vec<(String, Vec<ColumnDef>, RecordBatch)>) -> (Vec<LoadedTable>, usize) {
    // (table, merged columns, its pieces with their own columns)
    type Pieces = Vec<(Vec<ColumnDef>, RecordBatch)>;
    let mut tables: Vec<(String, Vec<ColumnDef>, Pieces)> = Vec::new();
    for (name, columns, batch) in pieces {
        let i = match tables.iter().position(|t| t.0 == name) {
            Some(i) => i,
            None => {
                tables.push((name, columns.clone(), Vec::new()));
                tables.len() - 1
            }
        };
        unite(&mut tables[i].1, &columns);
        tables[i].2.push((columns, batch));
    }
    let mut failures = 0;
    let merged = tables
        .into_iter()
        .map(|(name, columns, batches)| {
            let schema = schema_of(&columns);
            let conformed: Vec<RecordBatch> = batches
                .into_iter()
                .map(|(from, batch)| {
                    if from == columns {
                        RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).expect("same columns")
                    } else {
                        let (batch, failed) = conform(&batch, &from, &columns);
                        failures += failed;
                        batch
                    }
                })
                .collect();
            LoadedTable { name, batches: coalesce(&schema, conformed, BATCH_ROWS), columns }
        })
        .collect();
    (merged, failures)
}
