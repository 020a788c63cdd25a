//! The two tables EVTX records load into: their Sentinel schemas, the
//! columns every row sets whatever the event ([`CommonColumn`]), and which
//! `SecurityEvent` column each `EventData` field goes to.

use crate::catalog;
use datafusion::arrow::datatypes::SchemaRef;
use foldhash::HashMap;
use kqlite_engine::ColumnDef;
use std::sync::OnceLock;

/// The tables EVTX records are loaded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvtxTable {
    SecurityEvent,
    WindowsEvent,
}

impl EvtxTable {
    pub const ALL: [EvtxTable; 2] = [EvtxTable::SecurityEvent, EvtxTable::WindowsEvent];

    pub fn name(self) -> &'static str {
        match self {
            EvtxTable::SecurityEvent => "SecurityEvent",
            EvtxTable::WindowsEvent => "WindowsEvent",
        }
    }

    /// The Sentinel schema of the table (the batches have exactly these columns).
    pub fn columns(self) -> &'static [ColumnDef] {
        self.layout().columns
    }

    /// The Arrow schema of the batches.
    pub fn schema(self) -> SchemaRef {
        self.layout().schema.clone()
    }

    pub(super) fn layout(self) -> &'static Layout {
        static LAYOUTS: OnceLock<[Layout; 2]> = OnceLock::new();
        &LAYOUTS.get_or_init(|| EvtxTable::ALL.map(Layout::new))[self as usize]
    }
}

pub(super) struct Layout {
    pub(super) columns: &'static [ColumnDef],
    schema: SchemaRef,
    /// Column indexes by name.
    pub(super) index: HashMap<&'static str, usize>,
    /// The index of each [`CommonColumn`] column, when the table has it.
    pub(super) fixed: [Option<usize>; CommonColumn::NAMES.len()],
}

/// The columns rows set by name whatever the event: resolved to indexes
/// once per table, as looking each up for every row cost 4% of ingesting.
#[derive(Clone, Copy)]
pub(super) enum CommonColumn {
    TimeGenerated,
    Computer,
    Channel,
    EventID,
    EventLevelName,
    Task,
    Opcode,
    Keywords,
    Version,
    EventRecordId,
    SystemProcessId,
    SystemThreadId,
    SystemUserId,
    Correlation,
    EventSourceName,
    Level,
    EventLevel,
    Provider,
    EventData,
    RawEventData,
    Type,
    Activity,
    Account,
    AccountType,
    TargetAccount,
    SubjectAccount,
    LogonTypeName,
    Process,
}

// `NAMES` names every variant.
const _: () = assert!(CommonColumn::Process as usize + 1 == CommonColumn::NAMES.len());

impl CommonColumn {
    /// Each variant's column name, at its index.
    const NAMES: [&'static str; 28] = [
        "TimeGenerated",
        "Computer",
        "Channel",
        "EventID",
        "EventLevelName",
        "Task",
        "Opcode",
        "Keywords",
        "Version",
        "EventRecordId",
        "SystemProcessId",
        "SystemThreadId",
        "SystemUserId",
        "Correlation",
        "EventSourceName",
        "Level",
        "EventLevel",
        "Provider",
        "EventData",
        "RawEventData",
        "Type",
        "Activity",
        "Account",
        "AccountType",
        "TargetAccount",
        "SubjectAccount",
        "LogonTypeName",
        "Process",
    ];
}

impl Layout {
    fn new(table: EvtxTable) -> Layout {
        let columns = catalog::table_schema(table.name()).expect("the catalog has the Windows event tables");
        let schema = kqlite_engine::arrow_schema(columns);
        assert!(columns.len() <= 512, "a Row tracks at most 512 columns");
        let index: HashMap<&'static str, usize> =
            columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
        let fixed = CommonColumn::NAMES.map(|name| index.get(name).copied());
        Layout { columns, schema, index, fixed }
    }
}

/// SecurityEvent's columns computed from `EventData` fields ([`NamedFields`](super::rows::NamedFields)).
pub(super) const COMPUTED_COLUMNS: [&str; 6] =
    ["Account", "AccountType", "LogonTypeName", "Process", "SubjectAccount", "TargetAccount"];

/// The fields [`NamedFields::of`](super::rows::NamedFields::of) reads.
pub(super) const COMPUTED_FROM: [&str; 10] = [
    "LogonType",
    "TargetDomainName",
    "TargetUserName",
    "TargetUserSid",
    "TargetSid",
    "SubjectDomainName",
    "SubjectUserName",
    "SubjectUserSid",
    "NewProcessName",
    "ProcessName",
];

/// [`security_column`] of a field that has no column of its own.
pub(super) const NO_COLUMN: u16 = u16::MAX;

/// The `SecurityEvent` column an `EventData` field named `name` goes to
/// (same-named, unless reserved), or [`NO_COLUMN`].
pub(crate) fn security_column(name: &str) -> u16 {
    match EvtxTable::SecurityEvent.layout().index.get(name) {
        Some(&i) if !security_reserved()[i] => i as u16,
        _ => NO_COLUMN,
    }
}

/// Whether each `SecurityEvent` column is one a row sets whatever the
/// event (a [`CommonColumn`]: from `System`, or computed); an `EventData`
/// field of such a name stays in `EventData` only.
fn security_reserved() -> &'static [bool] {
    static RESERVED: OnceLock<Vec<bool>> = OnceLock::new();
    RESERVED.get_or_init(|| {
        let layout = EvtxTable::SecurityEvent.layout();
        let mut reserved = vec![false; layout.columns.len()];
        for &i in layout.fixed.iter().flatten() {
            reserved[i] = true;
        }
        reserved
    })
}
