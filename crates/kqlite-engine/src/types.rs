//! KQL's scalar types and how each is stored in Arrow.
//!
//! The binder tracks KQL types itself, so the physical Arrow type can be
//! chosen for speed and simplicity: `datetime` and `timespan` are `Int64`
//! nanoseconds (Kusto's arithmetic on them is integer arithmetic), `dynamic`
//! is `Binary` holding the encoding in [`crate::dynamic`], `guid` is text.

use datafusion::arrow::datatypes::DataType;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KqlType {
    Bool,
    Int,
    Long,
    Real,
    Decimal,
    String,
    Datetime,
    Timespan,
    Guid,
    Dynamic,
}

impl KqlType {
    /// Parses a type name as written in KQL (`long`, `int64`, `boolean`, …).
    pub fn from_name(name: &str) -> Option<KqlType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => KqlType::Bool,
            "int" | "int32" => KqlType::Int,
            "long" | "int64" => KqlType::Long,
            "real" | "double" => KqlType::Real,
            "decimal" => KqlType::Decimal,
            "string" => KqlType::String,
            "datetime" | "date" => KqlType::Datetime,
            "timespan" | "time" => KqlType::Timespan,
            "guid" | "uniqueid" => KqlType::Guid,
            "dynamic" => KqlType::Dynamic,
            _ => return None,
        })
    }

    /// Kusto's canonical name, as `getschema` and `typeof` print it.
    pub fn name(self) -> &'static str {
        match self {
            KqlType::Bool => "bool",
            KqlType::Int => "int",
            KqlType::Long => "long",
            KqlType::Real => "real",
            KqlType::Decimal => "decimal",
            KqlType::String => "string",
            KqlType::Datetime => "datetime",
            KqlType::Timespan => "timespan",
            KqlType::Guid => "guid",
            KqlType::Dynamic => "dynamic",
        }
    }

    /// The Arrow type a column of this KQL type has inside the engine.
    pub fn arrow(self) -> DataType {
        match self {
            KqlType::Bool => DataType::Boolean,
            KqlType::Int => DataType::Int32,
            KqlType::Long | KqlType::Datetime | KqlType::Timespan => DataType::Int64,
            // Decimal is carried as a double: exact decimal arithmetic is not
            // needed by the detections kqlite targets.
            KqlType::Real | KqlType::Decimal => DataType::Float64,
            KqlType::String | KqlType::Guid => DataType::Utf8,
            KqlType::Dynamic => DataType::Binary,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal)
    }

    /// Numeric promotion for arithmetic and comparison: int < long < real.
    pub fn numeric_join(a: KqlType, b: KqlType) -> Option<KqlType> {
        if !a.is_numeric() || !b.is_numeric() {
            return None;
        }
        let rank = |t: KqlType| match t {
            KqlType::Int => 0,
            KqlType::Long => 1,
            KqlType::Decimal => 2,
            _ => 3,
        };
        Some(if rank(a) >= rank(b) { a } else { b })
    }
}

impl fmt::Display for KqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A column of a KQL table: its name and KQL type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: KqlType,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, ty: KqlType) -> ColumnDef {
        ColumnDef { name: name.into(), ty }
    }
}

/// The Arrow schema of batches with these KQL columns (every field
/// nullable, of the engine's Arrow type: [`KqlType::arrow`]).
pub fn arrow_schema(columns: &[ColumnDef]) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    std::sync::Arc::new(Schema::new(
        columns.iter().map(|c| Field::new(&c.name, c.ty.arrow(), true)).collect::<Vec<_>>(),
    ))
}

/// .NET ticks (100 ns since 0001-01-01), Kusto's datetime as a number, at
/// the Unix epoch, where kqlite's datetimes (nanoseconds) count from.
pub const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// Nanoseconds per unit, for timespans.
pub const NANOS_PER_TICK: i64 = 100;
pub const NANOS_PER_MICRO: i64 = 1_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
pub const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
