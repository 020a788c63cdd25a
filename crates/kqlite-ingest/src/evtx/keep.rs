//! Which records and columns the reader keeps, from the queries that will
//! read them ([`EvtxOptions::needs`](super::EvtxOptions::needs)).

use super::table::{EvtxTable, COMPUTED_COLUMNS, COMPUTED_FROM};
use kqlite_engine::ScanNeeds;

/// Which records and columns the reader keeps.
#[derive(Clone, Debug)]
pub(super) struct Keep {
    pub(super) security: Option<KeepTable>,
    pub(super) windows: Option<KeepTable>,
    /// Worked out once from the two above (they are asked for every
    /// record, or every field of every template).
    all: bool,
    /// Whether any of SecurityEvent's computed columns is kept.
    security_computed: bool,
    /// Whether each table's `EventData` is kept (it is the costly column to make).
    event_data: [bool; 2],
    /// Whether Security-channel records also go to WindowsEvent
    /// ([`EvtxOptions::security_in_windows_event`](super::EvtxOptions::security_in_windows_event)).
    security_in_windows_event: bool,
}

#[derive(Clone, Debug)]
pub(super) struct KeepTable {
    /// By column index; `None`: every column.
    pub(super) columns: Option<Vec<bool>>,
    /// The EventIDs read; `None`: any.
    event_ids: Option<Vec<i64>>,
}

impl Keep {
    pub(super) fn all() -> Keep {
        let all = || Some(KeepTable { columns: None, event_ids: None });
        Keep::new(all(), all())
    }

    pub(super) fn of(needs: Option<&ScanNeeds>) -> Keep {
        let Some(needs) = needs else { return Keep::all() };
        let table = |table: EvtxTable| {
            let needs = needs.table(table.name())?;
            let columns =
                needs.columns.as_ref().map(|_| table.columns().iter().map(|c| needs.reads_column(&c.name)).collect());
            let event_ids = needs.values_of("EventID").map(|ids| ids.into_iter().collect());
            Some(KeepTable { columns, event_ids })
        };
        Keep::new(table(EvtxTable::SecurityEvent), table(EvtxTable::WindowsEvent))
    }

    fn new(security: Option<KeepTable>, windows: Option<KeepTable>) -> Keep {
        let every = |t: &Option<KeepTable>| t.as_ref().is_some_and(|t| t.columns.is_none() && t.event_ids.is_none());
        let kept = |t: &Option<KeepTable>, table: EvtxTable, column: &str| {
            t.as_ref().is_some_and(|t| {
                t.columns.as_ref().is_none_or(|c| table.layout().index.get(column).is_some_and(|&i| c[i]))
            })
        };
        let all = every(&security) && every(&windows);
        let security_computed = COMPUTED_COLUMNS.iter().any(|c| kept(&security, EvtxTable::SecurityEvent, c));
        let event_data = [
            kept(&security, EvtxTable::SecurityEvent, "EventData"),
            kept(&windows, EvtxTable::WindowsEvent, "EventData"),
        ];
        Keep { security, windows, all, security_computed, event_data, security_in_windows_event: false }
    }

    /// Also puts Security-channel records into WindowsEvent.
    pub(super) fn with_security_in_windows_event(self, security_in_windows_event: bool) -> Keep {
        Keep { security_in_windows_event, ..self }
    }

    /// Whether a record of the channel belongs in WindowsEvent at all:
    /// Security records are SecurityEvent's, as the Windows Security Events
    /// connector sends them, unless asked for in both.
    pub(super) fn windows_event_holds(&self, security_channel: bool) -> bool {
        !security_channel || self.security_in_windows_event
    }

    /// Whether a record goes to SecurityEvent, and to WindowsEvent. An
    /// EventID that is not a number is kept (its row holds null there).
    pub(super) fn tables(&self, security_channel: bool, event_id: &str) -> (bool, bool) {
        let id = event_id.trim().parse::<i64>().ok();
        let wants = |t: &Option<KeepTable>| {
            t.as_ref().is_some_and(|t| match (&t.event_ids, id) {
                (Some(ids), Some(id)) => ids.contains(&id),
                _ => true,
            })
        };
        (security_channel && wants(&self.security), self.windows_event_holds(security_channel) && wants(&self.windows))
    }

    /// Whether every record and column is kept.
    pub(super) fn keeps_all(&self) -> bool {
        self.all
    }

    /// Whether any of SecurityEvent's computed columns is kept.
    pub(super) fn security_reads_computed(&self) -> bool {
        self.security_computed
    }

    /// Whether a SecurityEvent row reads the `EventData` field `name`: its
    /// own column is kept, or a computed column that reads it is.
    pub(super) fn security_reads_field(&self, name: &str) -> bool {
        let Some(t) = &self.security else { return false };
        let Some(columns) = &t.columns else { return true };
        let layout = EvtxTable::SecurityEvent.layout();
        let kept = |column: &str| layout.index.get(column).is_some_and(|&i| columns[i]);
        kept(name) || (self.security_reads_computed() && COMPUTED_FROM.contains(&name))
    }

    /// Whether `table`'s `EventData` is read (it is the costly column to make).
    pub(super) fn reads_event_data(&self, table: EvtxTable) -> bool {
        self.event_data[table as usize]
    }
}
