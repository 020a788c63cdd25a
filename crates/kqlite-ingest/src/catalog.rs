//! The built-in Sentinel / Log Analytics table schemas.
//!
//! Generated from Log Analytics schema facts by
//! `scripts/gen_sentinel_schemas.py` into `schemas/sentinel.tsv`.

use kqlite_engine::{ColumnDef, KqlType};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SENTINEL_TSV: &str = include_str!("../schemas/sentinel.tsv");

fn schemas() -> &'static BTreeMap<String, Vec<ColumnDef>> {
    static SCHEMAS: OnceLock<BTreeMap<String, Vec<ColumnDef>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut map: BTreeMap<String, Vec<ColumnDef>> = BTreeMap::new();
        for line in SENTINEL_TSV.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let mut parts = line.split('\t');
            let (Some(table), Some(column), Some(ty)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let ty = KqlType::from_name(ty).expect("schema types are KQL type names");
            map.entry(table.to_string()).or_default().push(ColumnDef::new(column, ty));
        }
        map
    })
}

/// The schema of a built-in table, by its exact name.
pub fn table_schema(name: &str) -> Option<&'static [ColumnDef]> {
    schemas().get(name).map(Vec::as_slice)
}

/// Names of the built-in tables.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    schemas().keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_event_has_all_columns_with_types() {
        let s = table_schema("SecurityEvent").unwrap();
        assert_eq!(s.len(), 228);
        let ty = |n: &str| s.iter().find(|c| c.name == n).map(|c| c.ty);
        assert_eq!(ty("EventID"), Some(KqlType::Int));
        assert_eq!(ty("LogonType"), Some(KqlType::Int));
        assert_eq!(ty("TimeGenerated"), Some(KqlType::Datetime));
        assert_eq!(ty("IpAddress"), Some(KqlType::String));
    }

    #[test]
    fn defender_tables_have_timestamp_and_timegenerated() {
        let s = table_schema("DeviceLogonEvents").unwrap();
        assert!(s.iter().any(|c| c.name == "Timestamp" && c.ty == KqlType::Datetime));
        assert!(s.iter().any(|c| c.name == "TimeGenerated" && c.ty == KqlType::Datetime));
        assert_eq!(s.iter().find(|c| c.name == "LogonType").unwrap().ty, KqlType::String);
    }
}
