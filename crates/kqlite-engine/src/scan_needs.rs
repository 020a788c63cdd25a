//! What queries read from their tables: the columns, and which rows by the
//! values of an integer column (`where EventID == 4624`, `EventID in (…)`).
//!
//! Readers use it to skip what no query reads (`kqlite hunt` reads an EVTX
//! record's strings only when a rule can see it), so it must never say
//! less than a query reads: anything it does not understand means "all".
//! It comes from the optimized DataFusion plan (projection pushdown gives
//! each scan's columns; a `Filter` right above a scan gives its rows).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator, TableScan};
use std::collections::{BTreeMap, BTreeSet};

/// What one or more queries read, by table. A table absent here is not
/// read at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanNeeds {
    pub tables: BTreeMap<String, TableNeeds>,
}

/// What is read from one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableNeeds {
    /// The columns read; `None`: all of them.
    pub columns: Option<BTreeSet<String>>,
    /// The rows read: a row is read when it meets any one of these
    /// conditions; `None`: every row.
    pub rows: Option<Vec<RowCondition>>,
}

/// Rows whose integer columns hold one of the listed values (all of the
/// listed columns at once); no entries: every row.
pub type RowCondition = BTreeMap<String, BTreeSet<i64>>;

impl ScanNeeds {
    /// Adds what another query reads.
    pub fn merge(&mut self, other: ScanNeeds) {
        for (table, needs) in other.tables {
            match self.tables.get_mut(&table) {
                Some(mine) => mine.merge(needs),
                None => {
                    self.tables.insert(table, needs);
                }
            }
        }
    }

    /// What is read from `table` (case-sensitive, as KQL table names are),
    /// `None` when nothing is.
    pub fn table(&self, table: &str) -> Option<&TableNeeds> {
        self.tables.get(table)
    }
}

impl TableNeeds {
    pub fn merge(&mut self, other: TableNeeds) {
        self.columns = match (self.columns.take(), other.columns) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
        self.rows = match (self.rows.take(), other.rows) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Whether `column` is read.
    pub fn reads_column(&self, column: &str) -> bool {
        self.columns.as_ref().is_none_or(|c| c.contains(column))
    }

    /// The values of `column` that a read row can have, when every condition
    /// limits it (`None`: any value may be read). Conditions on other
    /// columns are taken as met, so this never drops a row that is read.
    pub fn values_of(&self, column: &str) -> Option<BTreeSet<i64>> {
        let conditions = self.rows.as_ref()?;
        let mut values = BTreeSet::new();
        for condition in conditions {
            values.extend(condition.get(column)?.iter().copied());
        }
        Some(values)
    }
}

/// What an optimized plan reads from its tables.
pub fn plan_needs(plan: &LogicalPlan) -> ScanNeeds {
    let mut needs = ScanNeeds::default();
    // Scans already taken with the filter right above them (pre-order: the
    // filter is seen before its scan).
    let mut filtered: Vec<*const TableScan> = Vec::new();
    // Materialized expressions' plans are read where the table's rows are computed.
    let plans = crate::materialized::plans_within(plan);
    for plan in &plans {
        let _ = plan.apply_with_subqueries(|node| {
            match node {
                LogicalPlan::Filter(filter) => {
                    if let LogicalPlan::TableScan(scan) = filter.input.as_ref() {
                        filtered.push(scan as *const TableScan);
                        add_scan(&mut needs, scan, Some(&filter.predicate));
                    }
                }
                LogicalPlan::TableScan(scan) if !filtered.contains(&(scan as *const TableScan)) => {
                    add_scan(&mut needs, scan, None);
                }
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    needs
}

fn add_scan(needs: &mut ScanNeeds, scan: &TableScan, filter: Option<&Expr>) {
    let schema = scan.source.schema();
    let columns = scan
        .projection
        .as_ref()
        .map(|indices| indices.iter().filter_map(|&i| schema.fields().get(i)).map(|f| f.name().clone()).collect());
    let mut condition = RowCondition::new();
    let conjuncts = filter.map(split_conjunction).unwrap_or_default();
    // Filters pushed into the scan itself hold too (all of them must).
    for expr in conjuncts.into_iter().chain(scan.filters.iter()) {
        if let Some((column, values)) = int_values(expr) {
            match condition.get_mut(&column) {
                Some(existing) => existing.retain(|v| values.contains(v)),
                None => {
                    condition.insert(column, values);
                }
            }
        }
    }
    needs.merge(ScanNeeds {
        tables: BTreeMap::from([(
            scan.table_name.table().to_string(),
            TableNeeds { columns, rows: Some(vec![condition]) },
        )]),
    });
}

/// `column == n`, `column in (n, …)`, and `or`s of these on one column.
fn int_values(expr: &Expr) -> Option<(String, BTreeSet<i64>)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            let (column, value) = match (column_name(left), int_literal(right)) {
                (Some(c), Some(v)) => (c, v),
                _ => (column_name(right)?, int_literal(left)?),
            };
            Some((column, BTreeSet::from([value])))
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let (a, mut values) = int_values(left)?;
            let (b, more) = int_values(right)?;
            if a != b {
                return None;
            }
            values.extend(more);
            Some((a, values))
        }
        Expr::InList(list) if !list.negated => {
            let column = column_name(&list.expr)?;
            let values = list.list.iter().map(int_literal).collect::<Option<BTreeSet<i64>>>()?;
            Some((column, values))
        }
        _ => None,
    }
}

/// A column, possibly widened by a cast (`EventID` is `int`, KQL literals `long`).
fn column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(c.name.clone()),
        // Only a widening cast keeps the column's values apart.
        Expr::Cast(c) if c.field.data_type() == &DataType::Int64 => column_name(&c.expr),
        Expr::TryCast(c) if c.field.data_type() == &DataType::Int64 => column_name(&c.expr),
        _ => None,
    }
}

fn int_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(value, _) => match value {
            ScalarValue::Int8(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int64(Some(v)) => Some(*v),
            ScalarValue::UInt8(Some(v)) => Some(i64::from(*v)),
            ScalarValue::UInt16(Some(v)) => Some(i64::from(*v)),
            ScalarValue::UInt32(Some(v)) => Some(i64::from(*v)),
            ScalarValue::UInt64(Some(v)) => i64::try_from(*v).ok(),
            _ => None,
        },
        Expr::Cast(c) if c.field.data_type().is_integer() => int_literal(&c.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnDef, KqlType, Session};

    fn session() -> Session {
        let mut session = Session::with_partitions(1);
        let columns = [
            ("TimeGenerated", KqlType::Datetime),
            ("EventID", KqlType::Int),
            ("Computer", KqlType::String),
            ("Account", KqlType::String),
            ("EventData", KqlType::String),
        ]
        .iter()
        .map(|(n, t)| ColumnDef::new(*n, *t))
        .collect();
        session.register_batches("SecurityEvent", columns, Vec::new()).unwrap();
        let columns = vec![ColumnDef::new("EventID", KqlType::Int), ColumnDef::new("Channel", KqlType::String)];
        session.register_batches("WindowsEvent", columns, Vec::new()).unwrap();
        session
    }

    fn needs(query: &str) -> ScanNeeds {
        session().scan_needs(query).unwrap()
    }

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn a_filtered_projection_reads_its_columns_and_event_ids() {
        let n = needs("SecurityEvent | where EventID == 4624 | project Computer");
        let t = n.table("SecurityEvent").unwrap();
        assert_eq!(t.columns, Some(set(&["Computer".to_string(), "EventID".to_string()])));
        assert_eq!(t.values_of("EventID"), Some(set(&[4624])));
        assert!(n.table("WindowsEvent").is_none(), "a table no query names is not read");
    }

    #[test]
    fn branches_and_in_lists_add_up() {
        let n = needs(
            "union (SecurityEvent | where EventID == 4624 | project Account), \
             (SecurityEvent | where EventID in (5140, 5145) and Computer != '' | project Account)",
        );
        let t = n.table("SecurityEvent").unwrap();
        assert_eq!(t.values_of("EventID"), Some(set(&[4624, 5140, 5145])));
        assert!(!t.reads_column("EventData"));
        assert!(t.reads_column("Account"));
    }

    #[test]
    fn joins_read_both_sides() {
        let n = needs(
            "SecurityEvent | where EventID == 4624 | join kind=inner (SecurityEvent | where EventID == 4625) on Computer",
        );
        assert_eq!(n.table("SecurityEvent").unwrap().values_of("EventID"), Some(set(&[4624, 4625])));
    }

    #[test]
    fn anything_else_reads_every_row() {
        for query in [
            "SecurityEvent | where EventID == 4624 or Computer == 'a'",
            "SecurityEvent | where EventID != 4624",
            "SecurityEvent | summarize count()",
            "union (SecurityEvent | where EventID == 4624), (SecurityEvent | take 1)",
            "SecurityEvent | take 5 | where EventID == 4624",
        ] {
            let n = needs(query);
            assert_eq!(n.table("SecurityEvent").unwrap().values_of("EventID"), None, "{query}");
        }
        let n = needs("SecurityEvent");
        let t = n.table("SecurityEvent").unwrap();
        assert!(["TimeGenerated", "EventID", "Computer", "Account", "EventData"].iter().all(|c| t.reads_column(c)));
        assert_eq!(t.values_of("EventID"), None);
    }

    #[test]
    fn conditions_on_two_columns_keep_both() {
        let n = needs("WindowsEvent | where EventID in (91, 169) and Channel == 'x'");
        let t = n.table("WindowsEvent").unwrap();
        assert_eq!(t.values_of("EventID"), Some(set(&[91, 169])));
        assert_eq!(t.values_of("Channel"), None);
    }
}
