//! Control commands clients send when they connect (`.show databases`,
//! `.show tables`, `.show database DB schema [as json]`, `.show databases
//! schema as json`, `.show functions`, `.show version`), each optionally
//! followed by `| …` query operators (`| count`, `| project …`), which run
//! over the command's table as a query does.

use crate::database::{Database, Databases};
use crate::encode::{system_type, Dialect, EncodedTable};
use crate::error::{ApiError, ErrorKind};
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{arrow_schema, ColumnDef, KqlType, Session};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A command's own result, before any pipes.
pub struct CommandTable {
    pub columns: Vec<ColumnDef>,
    pub rows: Vec<Vec<Value>>,
}

/// The commands kqlite answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    ShowDatabases,
    ShowDatabasesSchemaJson,
    ShowTables,
    ShowDatabaseSchema { database: String, json: bool },
    ShowFunctions,
    ShowVersion,
}

/// The command and the pipes after it (without the first `|`), if any.
pub fn parse(text: &str) -> Result<(Command, Option<String>), ApiError> {
    let text = text.trim();
    let (head, pipes) = match text.find('|') {
        Some(at) => (&text[..at], Some(text[at + 1..].trim().to_string())),
        None => (text, None),
    };
    let words: Vec<String> = head.trim().trim_start_matches('.').split_whitespace().map(str::to_string).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let command = match lower.as_slice() {
        ["show", "databases"] => Command::ShowDatabases,
        ["show", "databases", "schema", "as", "json"] => Command::ShowDatabasesSchemaJson,
        ["show", "tables"] => Command::ShowTables,
        ["show", "functions"] => Command::ShowFunctions,
        ["show", "version"] => Command::ShowVersion,
        ["show", "database", _, "schema"] => Command::ShowDatabaseSchema { database: unquote(&words[2]), json: false },
        ["show", "database", _, "schema", "as", "json"] => {
            Command::ShowDatabaseSchema { database: unquote(&words[2]), json: true }
        }
        _ => {
            return Err(ApiError::new(
                ErrorKind::UnsupportedCommand,
                format!(
                    "kqlite does not support the command {head:?}: it answers .show databases, .show tables, \
                     .show functions, .show version, .show database DB schema [as json] and .show databases \
                     schema as json",
                    head = head.trim()
                ),
            ))
        }
    };
    Ok((command, pipes.filter(|p| !p.is_empty())))
}

/// `db`, `[db]`, `['db']` or `["db"]` as the name.
fn unquote(word: &str) -> String {
    let inner = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')).unwrap_or(word);
    let inner = inner
        .strip_prefix('\'')
        .and_then(|w| w.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|w| w.strip_suffix('"')))
        .unwrap_or(inner);
    inner.to_string()
}

fn columns(spec: &[(&str, KqlType)]) -> Vec<ColumnDef> {
    spec.iter().map(|(n, t)| ColumnDef::new(n.to_string(), *t)).collect()
}

fn lookup<'a>(databases: &'a Databases, name: &str) -> Result<&'a Database, ApiError> {
    databases.get(Some(name)).ok_or_else(|| unknown_database(name))
}

pub fn unknown_database(name: &str) -> ApiError {
    ApiError::new(ErrorKind::UnknownDatabase, format!("database '{name}' does not exist on this server"))
}

/// Runs `command` against `databases`; `current` is the request's database.
pub fn table(command: &Command, databases: &Databases, current: &Database) -> Result<CommandTable, ApiError> {
    Ok(match command {
        // The documented column order: Grafana reads DatabaseName at 0 and PrettyName at 5.
        Command::ShowDatabases => CommandTable {
            columns: columns(&[
                ("DatabaseName", KqlType::String),
                ("PersistentStorage", KqlType::String),
                ("Version", KqlType::String),
                ("IsCurrent", KqlType::Bool),
                ("DatabaseAccessMode", KqlType::String),
                ("PrettyName", KqlType::String),
                ("ReservedSlot1", KqlType::Bool),
                ("DatabaseId", KqlType::Guid),
                ("InTransitionTo", KqlType::String),
            ]),
            rows: databases
                .all()
                .iter()
                .map(|d| {
                    vec![
                        json!(d.name),
                        json!(""),
                        json!("v1.0"),
                        json!(d.name == current.name),
                        json!("ReadOnly"),
                        json!(d.name),
                        json!(false),
                        json!(database_id(&d.name)),
                        json!(""),
                    ]
                })
                .collect(),
        },
        Command::ShowTables => CommandTable {
            columns: columns(&[
                ("TableName", KqlType::String),
                ("DatabaseName", KqlType::String),
                ("Folder", KqlType::String),
                ("DocString", KqlType::String),
            ]),
            rows: current
                .session
                .table_names()
                .into_iter()
                .map(|t| vec![json!(t), json!(current.name), json!(""), json!("")])
                .collect(),
        },
        Command::ShowFunctions => CommandTable {
            columns: columns(&[
                ("Name", KqlType::String),
                ("Parameters", KqlType::String),
                ("Body", KqlType::String),
                ("Folder", KqlType::String),
                ("DocString", KqlType::String),
            ]),
            rows: current
                .session
                .stored_function_names()
                .into_iter()
                .map(|name| {
                    let function = current.session.stored_function(&name);
                    let parameters = function.map(|f| format!("({})", f.params_text())).unwrap_or_default();
                    let body = function.map(|f| f.body.clone()).unwrap_or_default();
                    vec![json!(name), json!(parameters), json!(body), json!(""), json!("")]
                })
                .collect(),
        },
        Command::ShowVersion => CommandTable {
            columns: columns(&[
                ("BuildVersion", KqlType::String),
                ("BuildTime", KqlType::Datetime),
                ("ServiceType", KqlType::String),
                ("ProductVersion", KqlType::String),
            ]),
            rows: vec![vec![
                json!(env!("CARGO_PKG_VERSION")),
                json!(null),
                json!("Engine"),
                json!(format!("kqlite {}", env!("CARGO_PKG_VERSION"))),
            ]],
        },
        Command::ShowDatabaseSchema { database, json: false } => {
            let database = lookup(databases, database)?;
            let mut rows = vec![vec![
                json!(database.name),
                json!(null),
                json!(null),
                json!(null),
                json!(false),
                json!(false),
                json!(database.name),
                json!("v1.0"),
                json!(null),
                json!(null),
            ]];
            for table in database.session.table_names() {
                rows.push(vec![
                    json!(database.name),
                    json!(table),
                    json!(null),
                    json!(null),
                    json!(false),
                    json!(false),
                    json!(null),
                    json!(null),
                    json!(""),
                    json!(""),
                ]);
                for column in database.session.table_columns(&table).unwrap_or_default() {
                    rows.push(vec![
                        json!(database.name),
                        json!(table),
                        json!(column.name),
                        json!(system_type(column.ty)),
                        json!(false),
                        json!(false),
                        json!(null),
                        json!(null),
                        json!(null),
                        json!(""),
                    ]);
                }
            }
            CommandTable {
                columns: columns(&[
                    ("DatabaseName", KqlType::String),
                    ("TableName", KqlType::String),
                    ("ColumnName", KqlType::String),
                    ("ColumnType", KqlType::String),
                    ("IsDefaultTable", KqlType::Bool),
                    ("IsDefaultColumn", KqlType::Bool),
                    ("PrettyName", KqlType::String),
                    ("Version", KqlType::String),
                    ("Folder", KqlType::String),
                    ("DocString", KqlType::String),
                ]),
                rows,
            }
        }
        Command::ShowDatabaseSchema { database, json: true } => {
            schema_json(std::slice::from_ref(lookup(databases, database)?))
        }
        Command::ShowDatabasesSchemaJson => schema_json(databases.all()),
    })
}

/// One string cell `DatabaseSchema` holding `{"Databases": {db: {Name,
/// Tables: {T: {Name, OrderedColumns: [{Name, Type, CslType}]}},
/// Functions}}}`, as Grafana and monaco read it.
fn schema_json(databases: &[Database]) -> CommandTable {
    let mut all = Map::new();
    for database in databases {
        let mut tables = Map::new();
        for table in database.session.table_names() {
            let ordered: Vec<Value> = database
                .session
                .table_columns(&table)
                .unwrap_or_default()
                .iter()
                .map(|c| json!({"Name": c.name, "Type": system_type(c.ty), "CslType": c.ty.name()}))
                .collect();
            tables.insert(
                table.clone(),
                json!({"Name": table, "EntityType": "Table", "Folder": "", "DocString": "", "OrderedColumns": ordered}),
            );
        }
        let mut functions = Map::new();
        for name in database.session.stored_function_names() {
            let body = database.session.stored_function(&name).map(|f| f.body.clone()).unwrap_or_default();
            functions.insert(
                name.clone(),
                json!({"Name": name, "InputParameters": [], "Body": body, "Folder": "", "DocString": "",
                       "FunctionKind": "Unknown", "OutputKind": "Unknown"}),
            );
        }
        all.insert(
            database.name.clone(),
            json!({"Name": database.name, "Tables": tables, "ExternalTables": {}, "MaterializedViews": {},
                   "Functions": functions, "MajorVersion": 1, "MinorVersion": 0,
                   "DatabaseAccessMode": "ReadOnly"}),
        );
    }
    let document = json!({ "Databases": all }).to_string();
    CommandTable { columns: columns(&[("DatabaseSchema", KqlType::String)]), rows: vec![vec![json!(document)]] }
}

/// A stable GUID-shaped id for a database name (FNV-1a of the name).
fn database_id(name: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in name.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{hash:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The command's table as Arrow, for the pipes to query.
fn record_batch(table: &CommandTable) -> Result<RecordBatch, ApiError> {
    let internal = |e: String| ApiError::new(ErrorKind::Runtime, e);
    let arrays: Vec<ArrayRef> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| -> Result<ArrayRef, ApiError> {
            let cells = table.rows.iter().map(|row| row.get(i).unwrap_or(&Value::Null));
            Ok(match column.ty {
                KqlType::Bool => Arc::new(cells.map(Value::as_bool).collect::<BooleanArray>()),
                KqlType::Int => {
                    Arc::new(cells.map(|v| v.as_i64().and_then(|n| i32::try_from(n).ok())).collect::<Int32Array>())
                }
                KqlType::Long => Arc::new(cells.map(Value::as_i64).collect::<Int64Array>()),
                KqlType::Datetime => Arc::new(
                    cells.map(|v| v.as_str().and_then(kqlite_engine::time::parse_datetime)).collect::<Int64Array>(),
                ),
                KqlType::String | KqlType::Guid => Arc::new(cells.map(Value::as_str).collect::<StringArray>()),
                other => return Err(internal(format!("a command column of type {} is not supported", other.name()))),
            })
        })
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(arrow_schema(&table.columns), arrays).map_err(|e| internal(e.to_string()))
}

/// The name the command's table has for its pipes.
const COMMAND_TABLE: &str = "CommandResult";

/// Runs the command, then its pipes over its table; the result encoded for `dialect`.
pub async fn run(
    text: &str,
    databases: &Databases,
    current: &Database,
    dialect: Dialect,
) -> Result<EncodedTable, ApiError> {
    let (command, pipes) = parse(text)?;
    let table = table(&command, databases, current)?;
    let batch = record_batch(&table)?;
    let Some(pipes) = pipes else {
        return Ok(EncodedTable::from_batches("Table_0", "PrimaryResult", &table.columns, &[batch], None, dialect));
    };
    let mut session = Session::with_partitions(1);
    session
        .register_batches(COMMAND_TABLE, table.columns.clone(), vec![batch])
        .map_err(|e| ApiError::new(ErrorKind::Runtime, e.to_string()))?;
    let query = format!("{COMMAND_TABLE}\n| {pipes}");
    let result = session.query(&query).await.map_err(|e| {
        let (message, _) = e.located(&query);
        ApiError::new(ErrorKind::Semantic, message)
    })?;
    Ok(EncodedTable::from_batches("Table_0", "PrimaryResult", &result.columns, &result.batches, None, dialect))
}
