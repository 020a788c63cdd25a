//! Writes EVTX files: the test data for the reader and the benchmark's input.
//!
//! The layout is Windows' own (MS-EVEN6): a 4 KiB file header, then 64 KiB
//! chunks, each with its header, CRC32s and records of BinXML. Like Windows,
//! each record is a template instance: the first record of a shape (provider
//! GUID or not, user SID or not, `EventData` names) in a chunk defines the
//! template inline; later ones in that chunk point to it and carry only their
//! substitution values, typed as Windows types them (`EventID` a UInt16,
//! `TimeCreated` a FILETIME, `Keywords` a HexInt64, …). Names are written
//! inline where used.

use std::collections::HashMap;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// One event to write. `data` becomes `<EventData><Data Name="…">value</Data>…`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventRecord {
    pub channel: String,
    pub provider: String,
    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` (braces optional).
    pub provider_guid: Option<String>,
    /// At most 65535 (Windows event IDs are 16-bit).
    pub event_id: u32,
    pub version: u8,
    pub level: u8,
    pub task: u16,
    pub opcode: u8,
    pub keywords: u64,
    /// Nanoseconds since the Unix epoch, UTC (stored with 100 ns precision).
    pub time_created: i64,
    pub record_id: u64,
    pub process_id: u32,
    pub thread_id: u32,
    pub computer: String,
    /// `S-1-5-…`.
    pub user_sid: Option<String>,
    /// `EventData` `<Data Name=..>value</Data>`, in order.
    pub data: Vec<(String, String)>,
}

const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";
/// 100 ns intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// BinXML value types (MS-EVEN6 2.2.3.1 / evtx `BinXmlValueType`).
mod value_type {
    pub const NULL: u8 = 0x00;
    pub const STRING: u8 = 0x01;
    pub const UINT8: u8 = 0x04;
    pub const UINT16: u8 = 0x06;
    pub const UINT32: u8 = 0x08;
    pub const UINT64: u8 = 0x0a;
    pub const GUID: u8 = 0x0f;
    pub const FILETIME: u8 = 0x11;
    pub const SID: u8 = 0x13;
    pub const HEXINT64: u8 = 0x15;
}

/// Substitution indexes of the System values; `EventData` values follow.
mod sub {
    pub const PROVIDER: u16 = 0;
    pub const EVENT_ID: u16 = 1;
    pub const VERSION: u16 = 2;
    pub const LEVEL: u16 = 3;
    pub const TASK: u16 = 4;
    pub const OPCODE: u16 = 5;
    pub const KEYWORDS: u16 = 6;
    pub const TIME_CREATED: u16 = 7;
    pub const RECORD_ID: u16 = 8;
    pub const PROCESS_ID: u16 = 9;
    pub const THREAD_ID: u16 = 10;
    pub const CHANNEL: u16 = 11;
    pub const COMPUTER: u16 = 12;
    pub const PROVIDER_GUID: u16 = 13;
    pub const USER_SID: u16 = 14;
    pub const FIRST_DATA: u16 = 15;
}

/// Writes events to an EVTX file; call [`EvtxWriter::finish`] to write the
/// last chunk and the file header.
pub struct EvtxWriter<W: Write + Seek> {
    out: W,
    chunk: Chunk,
    chunks_written: u64,
    last_record_id: Option<u64>,
    /// Records written so far, which numbers them (1-based) in chunk headers.
    records_written: u64,
}

impl<W: Write + Seek> EvtxWriter<W> {
    /// Starts a file at the writer's current position (the header is filled in by `finish`).
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[0u8; FILE_HEADER_SIZE])?;
        Ok(EvtxWriter { out, chunk: Chunk::new(), chunks_written: 0, last_record_id: None, records_written: 0 })
    }

    /// Appends one event; starts a new chunk when it does not fit the current one.
    pub fn write(&mut self, event: &EventRecord) -> io::Result<()> {
        let number = self.records_written + 1;
        if !self.chunk.try_append(event, number)? {
            self.flush_chunk()?;
            if !self.chunk.try_append(event, number)? {
                return Err(invalid(format!(
                    "event record {} does not fit in one {CHUNK_SIZE}-byte chunk (its EventData is too large)",
                    event.record_id
                )));
            }
        }
        self.records_written = number;
        self.last_record_id = Some(event.record_id);
        Ok(())
    }

    /// Chunks written out so far (the chunk being filled is not counted).
    pub fn chunks_written(&self) -> u64 {
        self.chunks_written
    }

    /// Writes the last chunk and the file header; returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.chunk.records > 0 {
            self.flush_chunk()?;
        }
        if self.chunks_written > u64::from(u16::MAX) {
            return Err(invalid(format!(
                "{} chunks: an EVTX file header counts at most {} chunks",
                self.chunks_written,
                u16::MAX
            )));
        }
        let mut header = [0u8; FILE_HEADER_SIZE];
        header[..8].copy_from_slice(b"ElfFile\0");
        put_u64(&mut header, 8, 0);
        put_u64(&mut header, 16, self.chunks_written.saturating_sub(1));
        put_u64(&mut header, 24, self.last_record_id.map_or(1, |id| id + 1));
        put_u32(&mut header, 32, 128);
        put_u16(&mut header, 36, 1);
        put_u16(&mut header, 38, 3);
        put_u16(&mut header, 40, FILE_HEADER_SIZE as u16);
        put_u16(&mut header, 42, self.chunks_written as u16);
        let checksum = crc32(&[&header[..120]]);
        put_u32(&mut header, 124, checksum);
        let end = self.out.stream_position()?;
        let start = end - (FILE_HEADER_SIZE as u64 + self.chunks_written * CHUNK_SIZE as u64);
        self.out.seek(SeekFrom::Start(start))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.chunk, Chunk::new());
        self.out.write_all(&chunk.finish())?;
        self.chunks_written += 1;
        Ok(())
    }
}

/// Writes `events` as one EVTX file at `path`.
pub fn write_evtx_file(path: &Path, events: &[EventRecord]) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut writer = EvtxWriter::new(io::BufWriter::with_capacity(CHUNK_SIZE * 4, file))?;
    for event in events {
        writer.write(event)?;
    }
    writer.finish()?.flush()
}

/// One chunk being filled: its bytes (header space first) and templates.
struct Chunk {
    data: Vec<u8>,
    /// Template shape → offset of its definition in this chunk.
    templates: HashMap<String, u32>,
    records: usize,
    first: (u64, u64),
    last: (u64, u64),
    last_record_offset: usize,
}

impl Chunk {
    fn new() -> Chunk {
        let mut data = Vec::with_capacity(CHUNK_SIZE);
        data.resize(CHUNK_HEADER_SIZE, 0);
        Chunk { data, templates: HashMap::new(), records: 0, first: (0, 0), last: (0, 0), last_record_offset: 0 }
    }

    /// Appends the record; `Ok(false)` (and nothing changed) when it does not fit.
    fn try_append(&mut self, event: &EventRecord, number: u64) -> io::Result<bool> {
        let start = self.data.len();
        let templates_before = self.templates.len();
        let result = self.append(event);
        if result.is_err() || self.data.len() > CHUNK_SIZE {
            self.data.truncate(start);
            if self.templates.len() != templates_before {
                self.templates.retain(|_, &mut at| (at as usize) < start);
            }
            return result.map(|_| false);
        }
        if self.records == 0 {
            self.first = (number, event.record_id);
        }
        self.last = (number, event.record_id);
        self.last_record_offset = start;
        self.records += 1;
        Ok(true)
    }

    fn append(&mut self, event: &EventRecord) -> io::Result<()> {
        let filetime = filetime(event.time_created);
        let event_id = u16::try_from(event.event_id).map_err(|_| {
            invalid(format!("EventID {} does not fit 16 bits (record {})", event.event_id, event.record_id))
        })?;
        let guid = event.provider_guid.as_deref().map(parse_guid).transpose()?;
        let sid = event.user_sid.as_deref().map(parse_sid).transpose()?;

        let start = self.data.len();
        self.data.extend_from_slice(&[0x2a, 0x2a, 0, 0]);
        self.data.extend_from_slice(&0u32.to_le_bytes()); // size, patched below
        self.data.extend_from_slice(&event.record_id.to_le_bytes());
        self.data.extend_from_slice(&filetime.to_le_bytes());

        // Fragment header, then the template instance.
        self.data.extend_from_slice(&[0x0f, 0x01, 0x01, 0x00, 0x0c, 0x01]);
        let shape = template_shape(event);
        let template_id = fnv32(shape.as_bytes());
        self.data.extend_from_slice(&template_id.to_le_bytes());
        match self.templates.get(&shape) {
            Some(&at) => self.data.extend_from_slice(&at.to_le_bytes()),
            None => {
                // Defined here: the offset names the position right after it.
                let at = (self.data.len() + 4) as u32;
                self.data.extend_from_slice(&at.to_le_bytes());
                self.define_template(event, template_id);
                self.templates.insert(shape, at);
            }
        }

        let mut values: Vec<(u8, Vec<u8>)> = Vec::with_capacity(sub::FIRST_DATA as usize + event.data.len());
        values.push((value_type::STRING, utf16(&event.provider, "Provider Name")?));
        values.push((value_type::UINT16, event_id.to_le_bytes().to_vec()));
        values.push((value_type::UINT8, vec![event.version]));
        values.push((value_type::UINT8, vec![event.level]));
        values.push((value_type::UINT16, event.task.to_le_bytes().to_vec()));
        values.push((value_type::UINT8, vec![event.opcode]));
        values.push((value_type::HEXINT64, event.keywords.to_le_bytes().to_vec()));
        values.push((value_type::FILETIME, filetime.to_le_bytes().to_vec()));
        values.push((value_type::UINT64, event.record_id.to_le_bytes().to_vec()));
        values.push((value_type::UINT32, event.process_id.to_le_bytes().to_vec()));
        values.push((value_type::UINT32, event.thread_id.to_le_bytes().to_vec()));
        values.push((value_type::STRING, utf16(&event.channel, "Channel")?));
        values.push((value_type::STRING, utf16(&event.computer, "Computer")?));
        values.push(guid.map_or((value_type::NULL, Vec::new()), |g| (value_type::GUID, g.to_vec())));
        values.push(sid.map_or((value_type::NULL, Vec::new()), |s| (value_type::SID, s)));
        for (name, value) in &event.data {
            values.push((value_type::STRING, utf16(value, name)?));
        }
        self.data.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for (ty, bytes) in &values {
            let size = u16::try_from(bytes.len()).map_err(|_| invalid("a value over 65535 bytes".to_string()))?;
            self.data.extend_from_slice(&size.to_le_bytes());
            self.data.extend_from_slice(&[*ty, 0]);
        }
        for (_, bytes) in &values {
            self.data.extend_from_slice(bytes);
        }
        self.data.push(0x00); // end of the record's stream

        let size = (self.data.len() - start + 4) as u32;
        self.data.extend_from_slice(&size.to_le_bytes());
        self.data[start + 4..start + 8].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }

    /// The template definition: header (next offset, GUID, size), then the
    /// `<Event>` element with substitutions where the values go.
    fn define_template(&mut self, event: &EventRecord, template_id: u32) {
        self.data.extend_from_slice(&0u32.to_le_bytes());
        let mut guid = [0u8; 16];
        guid[..4].copy_from_slice(&template_id.to_le_bytes());
        guid[4..12].copy_from_slice(&fnv64(template_shape(event).as_bytes()).to_le_bytes());
        self.data.extend_from_slice(&guid);
        let size_at = self.data.len();
        self.data.extend_from_slice(&0u32.to_le_bytes());
        let body_start = self.data.len();

        let mut b = Body { data: &mut self.data };
        b.data.extend_from_slice(&[0x0f, 0x01, 0x01, 0x00]);
        let e = b.open("Event", &[("xmlns", Attr::Text(EVENT_NS))]);
        let system = b.open("System", &[]);
        let mut provider = vec![("Name", Attr::Sub(sub::PROVIDER, value_type::STRING))];
        if event.provider_guid.is_some() {
            provider.push(("Guid", Attr::Sub(sub::PROVIDER_GUID, value_type::GUID)));
        }
        b.empty("Provider", &provider);
        b.leaf("EventID", sub::EVENT_ID, value_type::UINT16);
        b.leaf("Version", sub::VERSION, value_type::UINT8);
        b.leaf("Level", sub::LEVEL, value_type::UINT8);
        b.leaf("Task", sub::TASK, value_type::UINT16);
        b.leaf("Opcode", sub::OPCODE, value_type::UINT8);
        b.leaf("Keywords", sub::KEYWORDS, value_type::HEXINT64);
        b.empty("TimeCreated", &[("SystemTime", Attr::Sub(sub::TIME_CREATED, value_type::FILETIME))]);
        b.leaf("EventRecordID", sub::RECORD_ID, value_type::UINT64);
        b.empty("Correlation", &[]);
        b.empty(
            "Execution",
            &[
                ("ProcessID", Attr::Sub(sub::PROCESS_ID, value_type::UINT32)),
                ("ThreadID", Attr::Sub(sub::THREAD_ID, value_type::UINT32)),
            ],
        );
        b.leaf("Channel", sub::CHANNEL, value_type::STRING);
        b.leaf("Computer", sub::COMPUTER, value_type::STRING);
        if event.user_sid.is_some() {
            b.empty("Security", &[("UserID", Attr::Sub(sub::USER_SID, value_type::SID))]);
        } else {
            b.empty("Security", &[]);
        }
        b.close(system);
        let event_data = b.open("EventData", &[]);
        for (i, (name, _)) in event.data.iter().enumerate() {
            let data = b.open("Data", &[("Name", Attr::Text(name))]);
            b.substitution(sub::FIRST_DATA + i as u16, value_type::STRING);
            b.close(data);
        }
        b.close(event_data);
        b.close(e);
        b.data.push(0x00);

        let size = (self.data.len() - body_start) as u32;
        self.data[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
    }

    /// The chunk's 64 KiB: header with record numbers, offsets and CRC32s.
    fn finish(mut self) -> Vec<u8> {
        let free = self.data.len();
        let records_crc = crc32(&[&self.data[CHUNK_HEADER_SIZE..free]]);
        let h = &mut self.data;
        h[..8].copy_from_slice(b"ElfChnk\0");
        put_u64(h, 8, self.first.0);
        put_u64(h, 16, self.last.0);
        put_u64(h, 24, self.first.1);
        put_u64(h, 32, self.last.1);
        put_u32(h, 40, 128);
        put_u32(h, 44, self.last_record_offset as u32);
        put_u32(h, 48, free as u32);
        put_u32(h, 52, records_crc);
        let header_crc = crc32(&[&h[..120], &h[128..CHUNK_HEADER_SIZE]]);
        put_u32(h, 124, header_crc);
        self.data.resize(CHUNK_SIZE, 0);
        self.data
    }
}

/// What decides a template: the optional System attributes and the `EventData` names.
fn template_shape(event: &EventRecord) -> String {
    let mut shape = String::with_capacity(8 + event.data.iter().map(|(n, _)| n.len() + 1).sum::<usize>());
    shape.push(if event.provider_guid.is_some() { 'G' } else { '-' });
    shape.push(if event.user_sid.is_some() { 'S' } else { '-' });
    for (name, _) in &event.data {
        shape.push('\0');
        shape.push_str(name);
    }
    shape
}

enum Attr<'a> {
    Text(&'a str),
    Sub(u16, u8),
}

/// Writes the BinXML of a template body (element starts carry a dependency ID).
struct Body<'a> {
    data: &'a mut Vec<u8>,
}

impl Body<'_> {
    /// `<name attrs>`; returns where the element's size goes, for [`Body::close`].
    fn open(&mut self, name: &str, attrs: &[(&str, Attr<'_>)]) -> usize {
        let at = self.start(name, attrs);
        self.data.push(0x02);
        at
    }

    /// `<name attrs/>`.
    fn empty(&mut self, name: &str, attrs: &[(&str, Attr<'_>)]) {
        let at = self.start(name, attrs);
        self.data.push(0x03);
        self.patch_size(at);
    }

    /// `<name>{substitution}</name>`.
    fn leaf(&mut self, name: &str, index: u16, ty: u8) {
        let at = self.open(name, &[]);
        self.substitution(index, ty);
        self.close(at);
    }

    fn close(&mut self, at: usize) {
        self.data.push(0x04);
        self.patch_size(at);
    }

    fn substitution(&mut self, index: u16, ty: u8) {
        self.data.push(0x0d);
        self.data.extend_from_slice(&index.to_le_bytes());
        self.data.push(ty);
    }

    fn start(&mut self, name: &str, attrs: &[(&str, Attr<'_>)]) -> usize {
        self.data.push(if attrs.is_empty() { 0x01 } else { 0x41 });
        self.data.extend_from_slice(&0xffffu16.to_le_bytes()); // no dependency
        let size_at = self.data.len();
        self.data.extend_from_slice(&0u32.to_le_bytes());
        self.name(name);
        if !attrs.is_empty() {
            let list_at = self.data.len();
            self.data.extend_from_slice(&0u32.to_le_bytes());
            for (i, (attr, value)) in attrs.iter().enumerate() {
                // 0x46: more attributes follow.
                self.data.push(if i + 1 < attrs.len() { 0x46 } else { 0x06 });
                self.name(attr);
                match value {
                    Attr::Text(text) => {
                        self.data.extend_from_slice(&[0x05, value_type::STRING]);
                        let units: Vec<u16> = text.encode_utf16().collect();
                        self.data.extend_from_slice(&(units.len() as u16).to_le_bytes());
                        units.iter().for_each(|u| self.data.extend_from_slice(&u.to_le_bytes()));
                    }
                    Attr::Sub(index, ty) => self.substitution(*index, *ty),
                }
            }
            let size = (self.data.len() - list_at - 4) as u32;
            self.data[list_at..list_at + 4].copy_from_slice(&size.to_le_bytes());
        }
        size_at
    }

    fn patch_size(&mut self, at: usize) {
        let size = (self.data.len() - at - 4) as u32;
        self.data[at..at + 4].copy_from_slice(&size.to_le_bytes());
    }

    /// A name stored inline: its offset (here), next-string link, hash, length, UTF-16, NUL.
    fn name(&mut self, name: &str) {
        let at = (self.data.len() + 4) as u32;
        self.data.extend_from_slice(&at.to_le_bytes());
        let units: Vec<u16> = name.encode_utf16().collect();
        let hash = units.iter().fold(0u32, |h, &u| h.wrapping_mul(65599).wrapping_add(u32::from(u)));
        self.data.extend_from_slice(&0u32.to_le_bytes());
        self.data.extend_from_slice(&(hash as u16).to_le_bytes());
        self.data.extend_from_slice(&(units.len() as u16).to_le_bytes());
        units.iter().for_each(|u| self.data.extend_from_slice(&u.to_le_bytes()));
        self.data.extend_from_slice(&[0, 0]);
    }
}

fn utf16(text: &str, what: &str) -> io::Result<Vec<u8>> {
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    if bytes.len() > usize::from(u16::MAX) {
        return Err(invalid(format!("{what}: {} UTF-16 bytes, a BinXML value holds at most 65535", bytes.len())));
    }
    Ok(bytes)
}

/// FILETIME ticks (100 ns since 1601); every i64 of nanoseconds (1677 to 2262) fits.
fn filetime(unix_nanos: i64) -> u64 {
    (unix_nanos.div_euclid(100) + FILETIME_UNIX_EPOCH as i64) as u64
}

/// `{54849625-5478-4994-a5ba-3e3b0328c30d}` → the 16 bytes Windows stores
/// (the first three groups little-endian).
fn parse_guid(text: &str) -> io::Result<[u8; 16]> {
    let bad = || invalid(format!("provider GUID {text:?}: expected {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}"));
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = inner.split('-').collect();
    if groups.len() != 5 || groups.iter().zip([8, 4, 4, 4, 12]).any(|(g, n)| g.len() != n) {
        return Err(bad());
    }
    let hex: String = groups.concat();
    let mut raw = [0u8; 16];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
    }
    let mut out = raw;
    out[..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    out[4..6].copy_from_slice(&[raw[5], raw[4]]);
    out[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Ok(out)
}

/// `S-1-5-21-…` → revision, count, 48-bit big-endian authority, little-endian sub-authorities.
fn parse_sid(text: &str) -> io::Result<Vec<u8>> {
    let bad = || invalid(format!("user SID {text:?}: expected S-1-<authority>-<sub-authority>…"));
    let mut parts = text.trim().split('-');
    if parts.next() != Some("S") {
        return Err(bad());
    }
    let revision: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let authority: u64 = parts.next().and_then(|p| p.parse().ok()).filter(|&a| a < 1 << 48).ok_or_else(bad)?;
    let subs: Vec<u32> = parts.map(|p| p.parse().map_err(|_| bad())).collect::<io::Result<_>>()?;
    if subs.len() > 15 {
        return Err(bad());
    }
    let mut out = vec![revision, subs.len() as u8];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    subs.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
    Ok(out)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn fnv32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and EVTX use) over the parts in order.
fn crc32(parts: &[&[u8]]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *entry = c;
        }
        table
    });
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
    }

    #[test]
    fn guids_and_sids_encode_as_windows_stores_them() {
        let g = parse_guid("{54849625-5478-4994-A5BA-3E3B0328C30D}").unwrap();
        assert_eq!(&g[..8], &[0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49]);
        assert_eq!(&g[8..], &[0xa5, 0xba, 0x3e, 0x3b, 0x03, 0x28, 0xc3, 0x0d]);
        assert!(parse_guid("not-a-guid").is_err());
        assert_eq!(parse_sid("S-1-5-18").unwrap(), vec![1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]);
        assert!(parse_sid("S-1-x").is_err());
        assert_eq!(filetime(0), FILETIME_UNIX_EPOCH);
        assert_eq!(filetime(i64::MIN), 24_211_015_631_452_241);
    }
}
