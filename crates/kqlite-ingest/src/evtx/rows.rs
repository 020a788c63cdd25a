//! Rows: `SecurityEvent` and `WindowsEvent` rows built from [`Event`]s on
//! the thread that reads the file, column by column into Arrow batches of
//! [`EvtxOptions::batch_rows`](super::EvtxOptions::batch_rows); and
//! [`EventRows`], the same rows of events read from elsewhere than EVTX.

use super::event::{Event, EventFields};
use super::keep::{Keep, KeepTable};
use super::security;
use super::table::{security_column, CommonColumn, EvtxTable, NO_COLUMN};
use super::EvtxReport;
use crate::columns::ColumnBuilder;
use crate::tabular::{LoadReport, LoadedTable};
use datafusion::arrow::record_batch::RecordBatch;
use foldhash::HashMap;
use kqlite_engine::{KqlType, BATCH_ROWS};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds `SecurityEvent` and `WindowsEvent` rows from [`EventFields`].
pub(crate) struct EventRows {
    tables: Tables,
    report: EvtxReport,
    batches: Vec<(EvtxTable, RecordBatch)>,
}

impl EventRows {
    /// `security_in_windows_event`: Security-channel events also become
    /// WindowsEvent rows (see [`EvtxOptions::security_in_windows_event`](super::EvtxOptions::security_in_windows_event)).
    pub(crate) fn new(security_in_windows_event: bool) -> EventRows {
        EventRows {
            tables: Tables::new(
                BATCH_ROWS,
                false,
                Keep::all().with_security_in_windows_event(security_in_windows_event),
            ),
            report: EvtxReport::default(),
            batches: Vec::new(),
        }
    }

    /// Adds the event's rows.
    pub(crate) fn push(&mut self, fields: &EventFields) {
        let event = fields.to_event();
        let batches = &mut self.batches;
        self.tables.push(&event, &mut self.report, &mut |t, b| batches.push((t, b)));
    }

    /// The two tables (both present, maybe empty), and a report with
    /// `loaded`, `conversion_failures` and notices filled in.
    pub(crate) fn finish(mut self, location: &str) -> (Vec<LoadedTable>, LoadReport) {
        let tables = self.drain();
        let mut report = self.report.load;
        report.notices.extend(unmapped_notice(location, &self.report.unmapped_fields));
        (tables, report)
    }

    /// The rows so far as the two tables (both present, maybe empty); the
    /// report goes on counting.
    pub(crate) fn drain(&mut self) -> Vec<LoadedTable> {
        let batches = &mut self.batches;
        self.tables.flush_all(&mut self.report, &mut |t, b| batches.push((t, b)));
        let mut tables: Vec<LoadedTable> = EvtxTable::ALL
            .iter()
            .map(|t| LoadedTable { name: t.name().to_string(), columns: t.columns().to_vec(), batches: Vec::new() })
            .collect();
        for (table, batch) in self.batches.drain(..) {
            tables[table as usize].batches.push(batch);
        }
        tables
    }
}

#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Time(Option<i64>),
    Dynamic(&'a [u8]),
}

struct TableBuilder {
    table: EvtxTable,
    columns: Vec<Column>,
    rows: usize,
    /// Rows each column holds; the rest of its rows up to `rows` are
    /// missing values, appended in bulk when the column is next set (or at
    /// flush), so that a row costs its cells rather than all its columns.
    filled: Vec<usize>,
    /// The columns that get values (by index); `None`: all. The others are
    /// left empty (empty strings, nulls) in every batch, as one shared array.
    kept: Option<Vec<bool>>,
}

/// A column being built: strings (most of them) by hand, so that a run of
/// missing values (empty strings: Kusto strings are never null) is one
/// fill of the offsets rather than an append per row.
enum Column {
    Text(TextColumn),
    Other(ColumnBuilder),
}

struct TextColumn {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl TextColumn {
    fn new() -> TextColumn {
        TextColumn { offsets: vec![0], values: Vec::new() }
    }

    fn push(&mut self, text: &str) {
        if self.values.capacity() == 0 && !text.is_empty() {
            // A file's first batch would otherwise grow (copying) from
            // nothing: room for a batch of values like this one, up to 8 MiB.
            self.values.reserve(first_batch_room(text.len()));
        }
        self.values.extend_from_slice(text.as_bytes());
        // A batch holds at most `batch_rows` records of at most 64 KiB each.
        self.offsets.push(i32::try_from(self.values.len()).expect("a batch's text fits 2 GiB"));
    }

    fn push_empty(&mut self, n: usize) {
        let last = *self.offsets.last().expect("offsets start with 0");
        self.offsets.resize(self.offsets.len() + n, last);
    }

    fn finish(&mut self) -> datafusion::arrow::array::ArrayRef {
        use datafusion::arrow::array::StringArray;
        use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
        // The next batch likely needs as much room: reserve it now rather than regrow.
        let mut next = Vec::with_capacity(self.offsets.len());
        next.push(0);
        let offsets = std::mem::replace(&mut self.offsets, next);
        let room = self.values.len();
        let mut values = std::mem::replace(&mut self.values, Vec::with_capacity(room));
        // A batch read into memory keeps its buffer: not the room a first
        // value much longer than the rest reserved (`first_batch_room`).
        if values.len() < values.capacity() / 2 {
            values.shrink_to_fit();
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        // Checking the UTF-8 again cost 4% of reading EVTX (profiled).
        // SAFETY: `values` holds only whole `&str`s (`push`), and `offsets`
        // mark their ends, so every value is valid UTF-8 on char boundaries.
        Arc::new(unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(values), None) })
    }
}

impl TableBuilder {
    fn new(table: EvtxTable, kept: Option<Vec<bool>>) -> TableBuilder {
        let columns: Vec<Column> = table
            .columns()
            .iter()
            .map(|c| match small_builder(c.ty) {
                ColumnBuilder::Text(_) => Column::Text(TextColumn::new()),
                builder => Column::Other(builder),
            })
            .collect();
        TableBuilder { table, filled: vec![0; columns.len()], columns, rows: 0, kept }
    }

    /// Appends a row; returns how many cells did not convert to their type.
    fn push(&mut self, row: &Row<'_>) -> usize {
        let mut failures = 0;
        for &(i, cell) in &row.cells {
            if self.kept.as_ref().is_some_and(|k| !k[i]) {
                continue;
            }
            let missing = self.rows - self.filled[i];
            self.filled[i] = self.rows + 1;
            let ok = match &mut self.columns[i] {
                Column::Text(column) => {
                    column.push_empty(missing);
                    match cell {
                        Cell::Text(text) => {
                            column.push(text);
                            true
                        }
                        Cell::Time(t) => {
                            column.push_empty(1);
                            t.is_none()
                        }
                        Cell::Dynamic(_) => {
                            column.push_empty(1);
                            false
                        }
                    }
                }
                Column::Other(builder) => {
                    push_missing(builder, missing);
                    match (builder, cell) {
                        (ColumnBuilder::Nanos(b, _), Cell::Time(t)) => {
                            b.append_option(t);
                            t.is_some()
                        }
                        (b, Cell::Time(t)) => {
                            b.push_missing();
                            t.is_none()
                        }
                        (ColumnBuilder::Dynamic(b), Cell::Dynamic(bytes)) => {
                            if datafusion::arrow::array::ArrayBuilder::len(b) == 0 {
                                // Arrow's builder starts every batch empty and
                                // would regrow (copying) bags of ~1 KiB a row:
                                // as for text (`TextColumn::push`), room for a batch.
                                *b = datafusion::arrow::array::BinaryBuilder::with_capacity(
                                    DEFAULT_BATCH_ROWS,
                                    first_batch_room(bytes.len()),
                                );
                            }
                            b.append_value(bytes);
                            true
                        }
                        (ColumnBuilder::Int(b), Cell::Text(text)) if hex_u32(text).is_some() => {
                            // Windows writes status codes as hex; 0xC000006D is a
                            // negative 32-bit int, as Kusto stores it.
                            b.append_value(hex_u32(text).unwrap_or_default() as i32);
                            true
                        }
                        (b, Cell::Text(text)) => b.push_text(text),
                        (b, Cell::Dynamic(_)) => {
                            b.push_missing();
                            false
                        }
                    }
                }
            };
            failures += usize::from(!ok);
        }
        self.rows += 1;
        failures
    }

    fn flush(&mut self, sink: &mut impl FnMut(EvtxTable, RecordBatch)) {
        if self.rows == 0 {
            return;
        }
        let rows = self.rows;
        let mut unread = UnreadColumns::new(rows);
        let arrays = self
            .columns
            .iter_mut()
            .zip(&mut self.filled)
            .enumerate()
            .map(|(i, (column, filled))| {
                if self.kept.as_ref().is_some_and(|k| !k[i]) {
                    return unread.array(self.table.columns()[i].ty);
                }
                let missing = rows - std::mem::take(filled);
                match column {
                    Column::Text(c) => {
                        c.push_empty(missing);
                        c.finish()
                    }
                    Column::Other(b) => {
                        push_missing(b, missing);
                        b.finish()
                    }
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.table.schema(), arrays).expect("builders match the schema");
        self.rows = 0;
        sink(self.table, batch);
    }
}

/// [`EvtxOptions::batch_rows`] by default.
pub(super) const DEFAULT_BATCH_ROWS: usize = BATCH_ROWS;

/// The room to reserve for a column's values in a file's first batch, its
/// first value `len` bytes long: a batch of such values, at most 8 MiB
/// (pages never written are never resident).
fn first_batch_room(len: usize) -> usize {
    len.saturating_mul(DEFAULT_BATCH_ROWS).min(8 << 20)
}

/// The arrays of columns no query reads: one per type, shared by all such
/// columns of a batch (empty strings, as Kusto strings are never null;
/// nulls otherwise).
struct UnreadColumns {
    rows: usize,
    made: Vec<(KqlType, datafusion::arrow::array::ArrayRef)>,
}

impl UnreadColumns {
    fn new(rows: usize) -> UnreadColumns {
        UnreadColumns { rows, made: Vec::new() }
    }

    fn array(&mut self, ty: KqlType) -> datafusion::arrow::array::ArrayRef {
        use datafusion::arrow::array::{new_null_array, StringArray};
        use datafusion::arrow::buffer::{Buffer, OffsetBuffer};
        if let Some((_, array)) = self.made.iter().find(|(t, _)| *t == ty) {
            return array.clone();
        }
        let array: datafusion::arrow::array::ArrayRef = match ty {
            KqlType::String => Arc::new(StringArray::new(
                OffsetBuffer::new_zeroed(self.rows),
                Buffer::from_vec(Vec::<u8>::new()),
                None,
            )),
            ty => new_null_array(&ty.arrow(), self.rows),
        };
        self.made.push((ty, array.clone()));
        array
    }
}

/// Appends `n` missing values ([`ColumnBuilder::push_missing`]), nulls in bulk.
fn push_missing(builder: &mut ColumnBuilder, n: usize) {
    match builder {
        _ if n == 0 => {}
        ColumnBuilder::Bool(b) => b.append_nulls(n),
        ColumnBuilder::Int(b) => b.append_nulls(n),
        ColumnBuilder::Long(b) => b.append_nulls(n),
        ColumnBuilder::Real(b) => b.append_nulls(n),
        ColumnBuilder::Nanos(b, _) => b.append_nulls(n),
        b => (0..n).for_each(|_| b.push_missing()),
    }
}

/// [`ColumnBuilder::new`]'s builder, but empty: arrow's builders start with
/// room for 1024 values, which a batch keeps, so every small file's
/// full `SecurityEvent` batch would hold over a megabyte. Buffers grow
/// by doubling instead.
fn small_builder(ty: KqlType) -> ColumnBuilder {
    use datafusion::arrow::array::{
        BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    };
    match ColumnBuilder::new(ty) {
        ColumnBuilder::Bool(_) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(0)),
        ColumnBuilder::Int(_) => ColumnBuilder::Int(Int32Builder::with_capacity(0)),
        ColumnBuilder::Long(_) => ColumnBuilder::Long(Int64Builder::with_capacity(0)),
        ColumnBuilder::Real(_) => ColumnBuilder::Real(Float64Builder::with_capacity(0)),
        ColumnBuilder::Text(_) => ColumnBuilder::Text(StringBuilder::with_capacity(0, 0)),
        ColumnBuilder::Nanos(_, ty) => ColumnBuilder::Nanos(Int64Builder::with_capacity(0), ty),
        ColumnBuilder::Dynamic(_) => ColumnBuilder::Dynamic(BinaryBuilder::with_capacity(0, 0)),
    }
}

/// The cells of one row that have a value, by column index; the others are
/// missing. The first value set for a column wins.
struct Row<'a> {
    cells: Vec<(usize, Cell<'a>)>,
    taken: [u64; 8],
}

impl<'a> Row<'a> {
    fn with_capacity(n: usize) -> Row<'a> {
        Row { cells: Vec::with_capacity(n), taken: [0; 8] }
    }

    /// Sets column `i` unless it has a value already; returns whether it did.
    fn set(&mut self, i: usize, cell: Cell<'a>) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.taken[word] & bit != 0 {
            return false;
        }
        self.taken[word] |= bit;
        self.cells.push((i, cell));
        true
    }
}

fn hex_u32(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    u32::from_str_radix(hex, 16).ok()
}

/// The `EventData` fields `SecurityEvent`'s computed columns read (the
/// first of each name, as Windows shows them).
#[derive(Default)]
pub(super) struct NamedFields<'e> {
    logon_type: Option<&'e str>,
    target_domain: Option<&'e str>,
    target_user: Option<&'e str>,
    target_user_sid: Option<&'e str>,
    target_sid: Option<&'e str>,
    subject_domain: Option<&'e str>,
    subject_user: Option<&'e str>,
    subject_user_sid: Option<&'e str>,
    new_process_name: Option<&'e str>,
    process_name: Option<&'e str>,
}

impl<'e> NamedFields<'e> {
    /// One pass over the fields (rather than a search per name).
    pub(super) fn of(event: &'e Event) -> NamedFields<'e> {
        let mut f = NamedFields::default();
        for (name, value) in event.fields() {
            let slot = match name {
                "LogonType" => &mut f.logon_type,
                "TargetDomainName" => &mut f.target_domain,
                "TargetUserName" => &mut f.target_user,
                "TargetUserSid" => &mut f.target_user_sid,
                "TargetSid" => &mut f.target_sid,
                "SubjectDomainName" => &mut f.subject_domain,
                "SubjectUserName" => &mut f.subject_user,
                "SubjectUserSid" => &mut f.subject_user_sid,
                "NewProcessName" => &mut f.new_process_name,
                "ProcessName" => &mut f.process_name,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        f
    }
}

/// The two tables being built, and the computed values rows share.
pub(super) struct Tables {
    /// `Activity` by EventID, made once.
    activities: HashMap<i32, String>,
    /// `LogonTypeName` by logon type, made once.
    logon_type_names: HashMap<i64, String>,
    /// `TargetAccount` and `SubjectAccount` of the row being pushed, in
    /// buffers kept from row to row.
    accounts: [String; 2],
    security: TableBuilder,
    windows: TableBuilder,
    batch_rows: usize,
    raw_event_data: bool,
    keep: Keep,
    /// Whether SecurityEvent's computed columns (`Account`, …) are kept.
    security_computed: bool,
    /// Whether records were left out of each table ([`Keep`]); reported by
    /// [`Tables::flush_all`].
    left_out: [bool; 2],
}

/// Sets the columns that SecurityEvent and WindowsEvent both name alike,
/// from the event's `System` element, through the table's `set`.
fn set_system_columns<'e>(event: &'e Event, level_name: &'e str, mut set: impl FnMut(CommonColumn, Cell<'e>)) {
    set(CommonColumn::TimeGenerated, Cell::Time(event.time));
    set(CommonColumn::Computer, Cell::Text(event.get(&event.computer)));
    set(CommonColumn::Channel, Cell::Text(event.get(&event.channel)));
    set(CommonColumn::EventID, Cell::Text(event.get(&event.event_id)));
    set(CommonColumn::EventLevelName, Cell::Text(level_name));
    set(CommonColumn::Task, Cell::Text(event.get(&event.task)));
    set(CommonColumn::Opcode, Cell::Text(event.get(&event.opcode)));
    set(CommonColumn::Keywords, Cell::Text(event.get(&event.keywords)));
    set(CommonColumn::Version, Cell::Text(event.get(&event.version)));
    set(CommonColumn::EventRecordId, Cell::Text(event.get(&event.event_record_id)));
    set(CommonColumn::SystemProcessId, Cell::Text(event.get(&event.process_id)));
    set(CommonColumn::SystemThreadId, Cell::Text(event.get(&event.thread_id)));
    set(CommonColumn::SystemUserId, Cell::Text(event.get(&event.user_id)));
    set(CommonColumn::Correlation, Cell::Text(event.get(&event.activity_id)));
}

impl Tables {
    pub(super) fn new(batch_rows: usize, raw_event_data: bool, keep: Keep) -> Tables {
        let columns = |t: &Option<KeepTable>| t.as_ref().and_then(|t| t.columns.clone());
        Tables {
            activities: HashMap::default(),
            logon_type_names: HashMap::default(),
            accounts: Default::default(),
            security: TableBuilder::new(EvtxTable::SecurityEvent, columns(&keep.security)),
            windows: TableBuilder::new(EvtxTable::WindowsEvent, columns(&keep.windows)),
            batch_rows,
            raw_event_data,
            security_computed: keep.security_reads_computed(),
            keep,
            left_out: [false; 2],
        }
    }

    /// A record that no table keeps: counted, its time noted.
    pub(super) fn left_unread(&mut self, time: Option<i64>, is_security: bool, report: &mut EvtxReport) {
        if let Some(t) = time {
            report.load.latest_time = Some(report.load.latest_time.map_or(t, |l| l.max(t)));
        }
        self.left_out[EvtxTable::SecurityEvent as usize] |= is_security;
        self.left_out[EvtxTable::WindowsEvent as usize] |= self.keep.windows_event_holds(is_security);
        report.load.unread += 1;
    }

    pub(super) fn push(
        &mut self,
        event: &Event,
        report: &mut EvtxReport,
        sink: &mut impl FnMut(EvtxTable, RecordBatch),
    ) {
        let is_security = event.is_security();
        let (security, windows) = self.keep.tables(is_security, event.get(&event.event_id));
        if !security && !windows {
            return self.left_unread(event.time, is_security, report);
        }
        if let Some(t) = event.time {
            report.load.latest_time = Some(report.load.latest_time.map_or(t, |l| l.max(t)));
        }
        self.left_out[EvtxTable::SecurityEvent as usize] |= is_security && !security;
        self.left_out[EvtxTable::WindowsEvent as usize] |= !windows && self.keep.windows_event_holds(is_security);
        let level_name = level_name(event.get(&event.level));
        if security {
            self.push_security(event, &level_name, report);
            if self.security.rows >= self.batch_rows {
                self.security.flush(sink);
            }
        }
        if windows {
            self.push_windows(event, &level_name, report);
            if self.windows.rows >= self.batch_rows {
                self.windows.flush(sink);
            }
        }
        report.load.loaded += 1;
    }

    fn push_security(&mut self, event: &Event, level_name: &str, report: &mut EvtxReport) {
        let event_id = event.get(&event.event_id).trim().parse::<i32>().ok();
        let activity = match event_id {
            Some(id) => self.activities.entry(id).or_insert_with(|| security::activity(id)).as_str(),
            None => "",
        };
        // Read only when a computed column is (see `Keep`); the rest of a
        // pruned row stays empty anyway.
        let named = if self.security_computed { NamedFields::of(event) } else { NamedFields::default() };
        let logon_type_name = match named.logon_type.and_then(|t| t.trim().parse::<i64>().ok()) {
            Some(t) => self.logon_type_names.entry(t).or_insert_with(|| security::logon_type_name(t)).as_str(),
            None => "",
        };
        let [target, subject] = &mut self.accounts;
        security::write_qualified_account(target, named.target_domain, named.target_user);
        security::write_qualified_account(subject, named.subject_domain, named.subject_user);
        // `Account` is the target account when the event names one, else the subject.
        let target_user = named.target_user.filter(|u| !u.is_empty() && *u != "-");
        let (account, account_type) = if let Some(user) = target_user {
            let sid = named.target_user_sid.or(named.target_sid);
            (target.as_str(), security::account_type(user, sid))
        } else if !subject.is_empty() {
            let user = named.subject_user.unwrap_or("");
            (subject.as_str(), security::account_type(user, named.subject_user_sid))
        } else {
            ("", "")
        };
        let process = named
            .new_process_name
            .filter(|p| !p.is_empty())
            .or(named.process_name)
            .map(security::file_name)
            .unwrap_or("");

        let layout = EvtxTable::SecurityEvent.layout();
        let mut row = Row::with_capacity(event.fields.len() + 25);
        let resolved = event.security_columns.len() == event.fields.len();
        debug_assert!(resolved || event.security_columns.is_empty(), "one column per field, or none");
        for (k, (name, value)) in event.fields().enumerate() {
            let column = if resolved { event.security_columns[k] } else { security_column(name) };
            let set = column != NO_COLUMN && row.set(usize::from(column), Cell::Text(value));
            if !set {
                match report.unmapped_fields.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        report.unmapped_fields.insert(name.to_string(), 1);
                    }
                }
            }
        }
        let mut set = |column: CommonColumn, cell| {
            if let Some(i) = layout.fixed[column as usize] {
                row.set(i, cell);
            }
        };
        set_system_columns(event, level_name, &mut set);
        set(CommonColumn::EventSourceName, Cell::Text(event.get(&event.provider)));
        set(CommonColumn::Level, Cell::Text(event.get(&event.level)));
        set(CommonColumn::EventData, Cell::Text(&event.event_data_xml));
        set(CommonColumn::Type, Cell::Text("SecurityEvent"));
        set(CommonColumn::Activity, Cell::Text(activity));
        set(CommonColumn::Account, Cell::Text(account));
        set(CommonColumn::AccountType, Cell::Text(account_type));
        set(CommonColumn::TargetAccount, Cell::Text(target));
        set(CommonColumn::SubjectAccount, Cell::Text(subject));
        set(CommonColumn::LogonTypeName, Cell::Text(logon_type_name));
        set(CommonColumn::Process, Cell::Text(process));
        report.load.conversion_failures += self.security.push(&row);
        report.security_events += 1;
    }

    fn push_windows(&mut self, event: &Event, level_name: &str, report: &mut EvtxReport) {
        let layout = EvtxTable::WindowsEvent.layout();
        let mut row = Row::with_capacity(20);
        let mut set = |column: CommonColumn, cell| {
            if let Some(i) = layout.fixed[column as usize] {
                row.set(i, cell);
            }
        };
        set_system_columns(event, level_name, &mut set);
        set(CommonColumn::EventLevel, Cell::Text(event.get(&event.level)));
        set(CommonColumn::Provider, Cell::Text(event.get(&event.provider)));
        set(CommonColumn::EventData, Cell::Dynamic(&event.bag));
        if self.raw_event_data {
            set(CommonColumn::RawEventData, Cell::Text(&event.text));
        }
        set(CommonColumn::Type, Cell::Text("WindowsEvent"));
        report.load.conversion_failures += self.windows.push(&row);
        report.windows_events += 1;
    }

    /// Hands out the last batches; notes in `report` the tables records were left out of.
    pub(super) fn flush_all(&mut self, report: &mut EvtxReport, sink: &mut impl FnMut(EvtxTable, RecordBatch)) {
        self.security.flush(sink);
        self.windows.flush(sink);
        for table in EvtxTable::ALL.into_iter().filter(|t| self.left_out[*t as usize]) {
            report.load.unread_tables.insert(table.name().to_string());
        }
    }
}

/// `EventLevelName` from the `Level` number, as Event Viewer names levels
/// (0, "LogAlways", shows as Information).
fn level_name(level: &str) -> Cow<'static, str> {
    Cow::Borrowed(match level.trim() {
        "" => "",
        "0" | "4" => "Information",
        "1" => "Critical",
        "2" => "Error",
        "3" => "Warning",
        "5" => "Verbose",
        other => return Cow::Owned(other.to_string()),
    })
}

/// The notice listing Security `EventData` names that have no column of their own.
pub(super) fn unmapped_notice(location: &str, unmapped: &BTreeMap<String, usize>) -> Option<String> {
    if unmapped.is_empty() {
        return None;
    }
    let list: Vec<String> = unmapped.iter().map(|(name, n)| format!("{name} ({n})")).collect();
    Some(format!(
        "{location}: {} Security EventData field(s) have no SecurityEvent column of their own and are kept in \
         EventData: {}",
        list.len(),
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evtx::table::COMPUTED_FROM;
    use crate::evtx::xml::event_from_xml;

    use datafusion::arrow::array::{Array, BinaryArray, Int32Array, Int64Array, StringArray};
    use kqlite_engine::dynamic::DynRef;

    const LOGON: &str = concat!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>",
        "<Provider Name=\"Microsoft-Windows-Security-Auditing\" Guid=\"{54849625-5478-4994-a5ba-3e3b0328c30d}\"/>",
        "<EventID>4624</EventID><Version>2</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode>",
        "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime=\"2019-03-19T23:34:25.1234567Z\"/>",
        "<EventRecordID>1234</EventRecordID><Correlation ActivityID=\"{a}\"/>",
        "<Execution ProcessID=\"636\" ThreadID=\"4472\"/><Channel>Security</Channel>",
        "<Computer>dc1.corp.local</Computer><Security/></System><EventData>",
        "<Data Name=\"SubjectUserSid\">S-1-5-18</Data><Data Name=\"SubjectUserName\">DC1$</Data>",
        "<Data Name=\"SubjectDomainName\">CORP</Data><Data Name=\"TargetUserSid\">S-1-5-21-1-2-3-500</Data>",
        "<Data Name=\"TargetUserName\">admin</Data><Data Name=\"TargetDomainName\">CORP</Data>",
        "<Data Name=\"LogonType\">10</Data><Data Name=\"LogonProcessName\">User32 </Data>",
        "<Data Name=\"ElevatedToken\">%%1842</Data><Data Name=\"IpAddress\">-</Data>",
        "<Data Name=\"ProcessName\">C:\\Windows\\System32\\svchost.exe</Data>",
        "<Data Name=\"NotAColumn\">a &amp; b</Data></EventData></Event>"
    );

    /// Rows as the reader makes them by default: Security records in SecurityEvent only.
    fn load(xmls: &[&str]) -> (Vec<(EvtxTable, RecordBatch)>, EvtxReport) {
        load_with(xmls, false)
    }

    fn load_with(xmls: &[&str], security_in_windows_event: bool) -> (Vec<(EvtxTable, RecordBatch)>, EvtxReport) {
        let keep = Keep::all().with_security_in_windows_event(security_in_windows_event);
        let mut tables = Tables::new(BATCH_ROWS, true, keep);
        let mut report = EvtxReport::default();
        let mut batches = Vec::new();
        let mut sink = |t, b| batches.push((t, b));
        for xml in xmls {
            let event = event_from_xml(None, xml.to_string()).unwrap();
            tables.push(&event, &mut report, &mut sink);
        }
        tables.flush_all(&mut report, &mut sink);
        (batches, report)
    }

    fn text<'a>(batch: &'a RecordBatch, column: &str) -> &'a str {
        batch.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap().value(0)
    }

    #[test]
    fn security_record_keeps_values_verbatim_and_computes_columns() {
        let (batches, report) = load_with(&[LOGON], true);
        assert_eq!(batches.len(), 2);
        let (table, security) = &batches[0];
        assert_eq!(*table, EvtxTable::SecurityEvent);
        assert_eq!(security.num_columns(), crate::catalog::table_schema("SecurityEvent").unwrap().len());
        assert_eq!(text(security, "ElevatedToken"), "%%1842");
        assert_eq!(text(security, "LogonProcessName"), "User32 ");
        assert_eq!(text(security, "IpAddress"), "-");
        assert_eq!(text(security, "Activity"), "4624 - An account was successfully logged on.");
        assert_eq!(text(security, "LogonTypeName"), "10 - RemoteInteractive");
        assert_eq!(text(security, "Account"), "CORP\\admin");
        assert_eq!(text(security, "TargetAccount"), "CORP\\admin");
        assert_eq!(text(security, "SubjectAccount"), "CORP\\DC1$");
        assert_eq!(text(security, "AccountType"), "User");
        assert_eq!(text(security, "Process"), "svchost.exe");
        assert_eq!(text(security, "EventSourceName"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(text(security, "Keywords"), "0x8020000000000000");
        assert_eq!(text(security, "Type"), "SecurityEvent");
        let event_data = text(security, "EventData");
        assert!(event_data.starts_with(
            "<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><Data Name=\"SubjectUserSid\">"
        ));
        assert!(event_data.ends_with("<Data Name=\"NotAColumn\">a &amp; b</Data></EventData>"));
        let int = |c: &str| security.column_by_name(c).unwrap().as_any().downcast_ref::<Int32Array>().unwrap().value(0);
        assert_eq!((int("EventID"), int("LogonType"), int("Task"), int("Version")), (4624, 10, 12544, 2));
        let time = security.column_by_name("TimeGenerated").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(time.value(0), 1_553_038_465_123_456_700);
        assert_eq!(report.unmapped_fields.get("NotAColumn"), Some(&1));
        assert_eq!((report.load.loaded, report.security_events, report.windows_events), (1, 1, 1));
        assert_eq!(report.load.conversion_failures, 0);

        let (table, windows) = &batches[1];
        assert_eq!(*table, EvtxTable::WindowsEvent);
        assert_eq!(text(windows, "Provider"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(text(windows, "EventLevelName"), "Information");
        assert!(text(windows, "RawEventData").starts_with("<?xml"));
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        let bag = DynRef::new(bag.value(0));
        assert_eq!(bag.get("LogonProcessName").and_then(|v| v.as_str()), Some("User32 "));
        assert_eq!(bag.get("NotAColumn").and_then(|v| v.as_str()), Some("a & b"));
    }

    #[test]
    fn user_data_becomes_the_bag_and_fills_security_columns() {
        let xml = concat!(
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>",
            "<Provider Name=\"Microsoft-Windows-Eventlog\"/><EventID>1102</EventID><Level>4</Level>",
            "<TimeCreated SystemTime=\"2019-03-19T23:34:25Z\"/><Channel>Security</Channel><Computer>pc</Computer>",
            "</System><UserData><LogFileCleared xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/eventlog\">",
            "<SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>bob</SubjectUserName>",
            "<SubjectDomainName>CORP</SubjectDomainName></LogFileCleared></UserData></Event>"
        );
        let (batches, _) = load_with(&[xml], true);
        let security = &batches[0].1;
        assert_eq!(text(security, "SubjectUserName"), "bob");
        assert_eq!(text(security, "Account"), "CORP\\bob");
        assert_eq!(text(security, "Activity"), "1102 - The audit log was cleared.");
        assert!(text(security, "EventData").starts_with("<UserData xmlns=\"http://schemas.microsoft.com/"));
        let windows = &batches[1].1;
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(
            DynRef::new(bag.value(0)).to_json(),
            r#"{"SubjectUserSid":"S-1-5-21-1","SubjectUserName":"bob","SubjectDomainName":"CORP"}"#
        );
    }

    #[test]
    fn security_records_go_to_security_event_only_unless_asked_for_in_both() {
        // As the Windows Security Events connector stores them: ASIM reads
        // both tables and would count a logon twice.
        let (batches, report) = load(&[LOGON]);
        let tables: Vec<EvtxTable> = batches.iter().map(|(t, _)| *t).collect();
        assert_eq!(tables, [EvtxTable::SecurityEvent]);
        assert_eq!((report.load.loaded, report.security_events, report.windows_events), (1, 1, 0));
        // Not "left out" of WindowsEvent: it never belonged there.
        assert!(report.load.unread_tables.is_empty(), "{:?}", report.load.unread_tables);
        let (batches, report) = load_with(&[LOGON], true);
        let tables: Vec<EvtxTable> = batches.iter().map(|(t, _)| *t).collect();
        assert_eq!(tables, [EvtxTable::SecurityEvent, EvtxTable::WindowsEvent]);
        assert_eq!((report.load.loaded, report.security_events, report.windows_events), (1, 1, 1));
    }

    #[test]
    fn other_channels_go_to_windows_event_only() {
        let xml = concat!(
            "<Event><System><Provider Name=\"Service Control Manager\" EventSourceName=\"Service Control Manager\"/>",
            "<EventID Qualifiers=\"16384\">7045</EventID><Level>4</Level><Channel>System</Channel></System>",
            "<EventData><Data Name=\"ServiceName\">x</Data><Data>u1</Data><Data>u2</Data><Binary>00FF</Binary>",
            "</EventData></Event>"
        );
        let (batches, report) = load(&[xml]);
        assert_eq!(batches.len(), 1);
        let windows = &batches[0].1;
        assert_eq!(
            windows.column_by_name("EventID").unwrap().as_any().downcast_ref::<Int32Array>().unwrap().value(0),
            7045
        );
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(DynRef::new(bag.value(0)).to_json(), r#"{"ServiceName":"x","Binary":"00FF","Data":["u1","u2"]}"#);
        let time = windows.column_by_name("TimeGenerated").unwrap();
        assert!(time.is_null(0));
        assert_eq!(report.security_events, 0);
    }

    #[test]
    fn sparse_rows_keep_their_columns_aligned() {
        let mut b = TableBuilder::new(EvtxTable::SecurityEvent, None);
        let index = &EvtxTable::SecurityEvent.layout().index;
        let (user, logon) = (index["TargetUserName"], index["LogonType"]);
        for (name, logon_type) in [(Some("a"), None), (None, Some("3")), (Some("c"), Some("x")), (None, None)] {
            let mut row = Row::with_capacity(2);
            name.map(|n| row.set(user, Cell::Text(n)));
            logon_type.map(|t| row.set(logon, Cell::Text(t)));
            b.push(&row);
        }
        let mut batches = Vec::new();
        b.flush(&mut |_, batch| batches.push(batch));
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 4);
        let users = batch.column(user).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(users.iter().map(|u| u.unwrap()).collect::<Vec<_>>(), ["a", "", "c", ""]);
        let logons = batch.column(logon).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(logons.iter().collect::<Vec<_>>(), [None, Some(3), None, None]);
        // The builders start over after a flush.
        let mut row = Row::with_capacity(1);
        row.set(logon, Cell::Text("10"));
        b.push(&row);
        b.flush(&mut |_, batch| batches.push(batch));
        assert_eq!(batches[1].num_rows(), 1);
        assert_eq!(batches[1].column(logon).as_any().downcast_ref::<Int32Array>().unwrap().value(0), 10);
    }

    #[test]
    fn hex_status_codes_fit_int_columns() {
        let mut b = TableBuilder::new(EvtxTable::SecurityEvent, None);
        let mut row = Row::with_capacity(1);
        let i = EvtxTable::SecurityEvent.layout().index["ErrorCode"];
        assert!(row.set(i, Cell::Text("0xC000006D")));
        assert!(!row.set(i, Cell::Text("1")));
        assert_eq!(b.push(&row), 0);
        let mut batches = Vec::new();
        b.flush(&mut |_, batch| batches.push(batch));
        let array = batches[0].column(i);
        assert_eq!(array.as_any().downcast_ref::<Int32Array>().unwrap().value(0), 0xC000006Du32 as i32);
        // Columns never set in the batch are empty strings (Kusto strings are never null).
        let name = EvtxTable::SecurityEvent.layout().index["CommandLine"];
        let strings = batches[0].column(name).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        assert_eq!((strings.len(), strings.null_count(), strings.value(0)), (1, 0, ""));
    }

    #[test]
    fn computed_columns_read_the_fields_listed_for_them() {
        // A field NamedFields reads but COMPUTED_FROM leaves out would be
        // skipped when only computed columns are read.
        for (i, name) in COMPUTED_FROM.iter().enumerate() {
            let xml = format!("<EventData><Data Name=\"{name}\">x</Data></EventData>");
            let event = event_from_xml(
                None,
                LOGON.replace(&LOGON[LOGON.find("<EventData>").unwrap()..LOGON.find("</Event>").unwrap()], &xml),
            )
            .unwrap();
            let f = NamedFields::of(&event);
            let set = [
                f.logon_type,
                f.target_domain,
                f.target_user,
                f.target_user_sid,
                f.target_sid,
                f.subject_domain,
                f.subject_user,
                f.subject_user_sid,
                f.new_process_name,
                f.process_name,
            ];
            assert_eq!(set.iter().filter(|v| v.is_some()).count(), 1, "{name}");
            assert!(set[i].is_some(), "{name}");
        }
    }
}
