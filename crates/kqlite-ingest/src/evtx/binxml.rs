//! Records of one EVTX chunk read straight from their BinXML, without
//! rendering XML and parsing it back.
//!
//! A record is (nearly always) one template instance: a reference to a
//! template definition stored once per chunk, and the typed values of its
//! substitutions. Each definition is compiled once per chunk into [`Node`]s;
//! a record instantiates them into a small [`Dom`] (element names, attribute
//! and text spans of one text buffer) and its fields are read from there.
//! Values are formatted the way the `evtx` crate renders them as XML text,
//! so both readers give the same rows (a test compares them record by
//! record on real files).
//!
//! Shapes this reader does not handle (array values, floats, non-ASCII ANSI
//! strings, handles, damaged records) are reported as [`Unsupported`]; the
//! caller then reads that chunk with the `evtx` crate instead, so an unusual
//! record costs speed, never a row.
//!
//! Format: MS-EVEN6 §2.2 (BinXML) and the `evtx` crate's reader.

use super::bag::{siblings, NONE};
use super::event::ReadItem;
use super::keep::Keep;
use super::plan::{DataPlan, Plan};
use foldhash::HashMap;
use std::rc::Rc;

/// Why a chunk has to be read by the `evtx` crate instead.
#[derive(Debug)]
pub(super) struct Unsupported(pub &'static str);

type Result<T> = std::result::Result<T, Unsupported>;

const RECORD_MAGIC: &[u8; 4] = b"\x2a\x2a\x00\x00";
const RECORD_HEADER: usize = 24;
/// Records start after the chunk header and its string and template tables.
const FIRST_RECORD: usize = 512;
/// Nested fragments and templates deeper than this are not events.
const MAX_DEPTH: usize = 16;

// Value types (MS-EVEN6 §2.2.18).
pub(super) const NULL: u8 = 0x00;
const STRING: u8 = 0x01;
const ANSI: u8 = 0x02;
const INT8: u8 = 0x03;
const UINT8: u8 = 0x04;
const INT16: u8 = 0x05;
const UINT16: u8 = 0x06;
const INT32: u8 = 0x07;
const UINT32: u8 = 0x08;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0a;
const BOOL: u8 = 0x0d;
const BINARY: u8 = 0x0e;
const GUID: u8 = 0x0f;
const SIZE_T: u8 = 0x10;
const FILETIME: u8 = 0x11;
const SYSTEMTIME: u8 = 0x12;
const SID: u8 = 0x13;
const HEX32: u8 = 0x14;
const HEX64: u8 = 0x15;
pub(super) const BINXML: u8 = 0x21;

/// One record's header and BinXML.
pub(super) struct RawRecord<'c> {
    pub id: u64,
    /// The record header's time, nanoseconds since the Unix epoch.
    pub time: Option<i64>,
    pub binxml: &'c [u8],
    /// Offset of `binxml` in the chunk.
    pub offset: usize,
}

/// The live records of a chunk (`data` is all 64 KiB of it), walked as the
/// `evtx` crate walks them: from the end of the header to the free space,
/// stopping after the record the header names last. Anything out of place is
/// `Unsupported` (the crate resyncs and reports, which the fallback keeps).
pub(super) fn records(data: &[u8], free_space: u32, last_id: u64) -> Result<Vec<RawRecord<'_>>> {
    let end = (free_space as usize).min(data.len());
    let mut out = Vec::with_capacity(128);
    let mut at = FIRST_RECORD;
    while at < end {
        let header = data.get(at..at + RECORD_HEADER).ok_or(Unsupported("truncated record header"))?;
        if &header[..4] != RECORD_MAGIC {
            return Err(Unsupported("record magic"));
        }
        let size = u32_at(header, 4) as usize;
        let id = u64_at(header, 8);
        let filetime = u64_at(header, 16);
        if size < RECORD_HEADER + 4 || at + size > end || u32_at(data, at + size - 4) as usize != size {
            return Err(Unsupported("record size"));
        }
        let offset = at + RECORD_HEADER;
        out.push(RawRecord { id, time: filetime_nanos(filetime), binxml: &data[offset..at + size - 4], offset });
        at += size;
        if id == last_id {
            break;
        }
    }
    Ok(out)
}

/// A value's type and bytes, formatted only when used.
#[derive(Clone, Copy)]
pub(super) struct Value<'c> {
    pub ty: u8,
    pub bytes: &'c [u8],
}

/// Part of an attribute value or of an element's text.
pub(super) enum Piece {
    /// Text of the template itself (decoded once per chunk).
    Text(Box<str>),
    /// A value of the instance (optional or not: a NULL value renders nothing either way).
    Substitution(u16),
}

/// A compiled BinXML stream: a template definition, a record, or a nested fragment.
pub(super) enum Node<'c> {
    Element {
        name: u32,
        dependency: Option<u16>,
        attributes: Vec<(u32, Vec<Piece>)>,
        children: Vec<Node<'c>>,
        /// Closed by an empty-element token (rendered `<X/>`, not `<X></X>`).
        self_closing: bool,
    },
    Text(Piece),
    Instance {
        template: u32,
        values: Vec<Value<'c>>,
    },
}

/// An element of a record, instantiated.
pub(super) struct DomElement {
    pub name: u32,
    parent: u32,
    next: u32,
    first_child: u32,
    last_child: u32,
    attributes: (u32, u32),
    pub text: (u32, u32),
    pub self_closing: bool,
}

pub(super) struct DomAttribute {
    pub name: u32,
    pub value: (u32, u32),
    /// Set when the value is one FILETIME or SYSTEMTIME (ns since the epoch).
    pub time: Option<i64>,
}

/// A record's elements; names index the reader's name table, text spans
/// index `text`.
#[derive(Default)]
pub(super) struct Dom {
    pub elements: Vec<DomElement>,
    pub attributes: Vec<DomAttribute>,
    pub text: String,
}

impl Dom {
    pub fn root(&self) -> Option<u32> {
        self.elements.iter().position(|e| e.parent == NONE).map(|i| i as u32)
    }

    pub fn children(&self, e: u32) -> impl Iterator<Item = u32> + '_ {
        siblings(self.elements[e as usize].first_child, |c| self.elements[c as usize].next)
    }

    pub fn attributes(&self, e: u32) -> &[DomAttribute] {
        let (start, end) = self.elements[e as usize].attributes;
        &self.attributes[start as usize..end as usize]
    }

    pub fn span(&self, (start, end): (u32, u32)) -> &str {
        &self.text[start as usize..end as usize]
    }

    pub fn has_children(&self, e: u32) -> bool {
        self.elements[e as usize].first_child != NONE
    }
}

/// Reads the records of one chunk; template definitions and names are
/// compiled once and kept for the chunk's other records.
pub(super) struct ChunkReader<'c> {
    data: &'c [u8],
    templates: HashMap<u32, Rc<[Node<'c>]>>,
    name_ids: HashMap<u32, u32>,
    /// Each name, and where its local part starts (after a `prefix:`).
    names: Vec<(String, usize)>,
    /// The values of the record being read (kept for their capacity).
    values: Vec<Value<'c>>,
    /// Text of the record being decided on (kept for its capacity).
    scratch: String,
    /// Each template's plan, or `None` for a template of another shape.
    plans: HashMap<u32, Option<Rc<Plan>>>,
    /// The same for templates of embedded payloads.
    data_plans: HashMap<u32, Option<Rc<DataPlan>>>,
    /// What the tables keep: a planned record no table keeps is not decoded.
    keep: &'c Keep,
}

impl<'c> ChunkReader<'c> {
    pub fn new(data: &'c [u8], keep: &'c Keep) -> ChunkReader<'c> {
        // Sized for a typical chunk (tens of names, a few templates): growing
        // from empty cost a rehash at every doubling, in every chunk.
        ChunkReader {
            data,
            templates: HashMap::with_capacity_and_hasher(16, Default::default()),
            name_ids: HashMap::with_capacity_and_hasher(128, Default::default()),
            names: Vec::with_capacity(128),
            values: Vec::new(),
            scratch: String::new(),
            plans: HashMap::with_capacity_and_hasher(16, Default::default()),
            data_plans: HashMap::with_capacity_and_hasher(16, Default::default()),
            keep,
        }
    }

    /// A name of this chunk, by the id [`Dom`] uses.
    pub fn name(&self, id: u32) -> &str {
        // Names may carry a prefix (`xmlns:x`, `x:Data`); fields are matched by local name.
        let (name, local) = &self.names[id as usize];
        &name[*local..]
    }

    /// The full name (with any prefix), for rendering XML.
    pub fn qualified_name(&self, id: u32) -> &str {
        &self.names[id as usize].0
    }

    /// The event of a record that is one instance of a template with a
    /// [`Plan`]; `None` when the record has to go through [`Self::read`].
    pub fn read_planned(&mut self, record: &RawRecord<'c>) -> Result<Option<ReadItem>> {
        let mut values = std::mem::take(&mut self.values);
        let mut scratch = std::mem::take(&mut self.scratch);
        values.clear();
        let event = match self.single_instance(record.binxml, 0, &mut values)? {
            Some(definition) => match self.plan(definition)? {
                Some(plan) => {
                    let keep = self.keep;
                    plan.event(&values, record.time, keep, &mut |value| self.embedded_payload(value), &mut scratch)
                }
                None => Ok(None),
            },
            None => Ok(None),
        };
        self.values = values;
        self.scratch = scratch;
        event
    }

    /// When `bytes` (a stream in this chunk) is a fragment header and one
    /// template instance and nothing more, as nearly every record is: the
    /// instance's values, into `values`, and its definition's offset.
    fn single_instance(&mut self, bytes: &'c [u8], depth: usize, values: &mut Vec<Value<'c>>) -> Result<Option<u32>> {
        let [0x0f, _, _, _, 0x0c, ..] = bytes else { return Ok(None) };
        let start = bytes.as_ptr() as usize - self.data.as_ptr() as usize;
        let mut c = Cursor { data: &self.data[..start + bytes.len()], at: start + 5 };
        let definition = self.instance_values(&mut c, depth, values)?;
        Ok(matches!(c.data.get(c.at), None | Some(0x00)).then_some(definition))
    }

    /// The data plan and values of an embedded payload that is one instance
    /// of an `EventData` template; `None` for anything else.
    fn embedded_payload(&mut self, value: Value<'c>) -> Result<Option<(Rc<DataPlan>, Vec<Value<'c>>)>> {
        let mut values = Vec::new();
        let Some(definition) = self.single_instance(value.bytes, 1, &mut values)? else { return Ok(None) };
        if let Some(plan) = self.data_plans.get(&definition) {
            return Ok(plan.clone().map(|p| (p, values)));
        }
        let nodes = self.templates.get(&definition).cloned().ok_or(Unsupported("template"))?;
        let plan = DataPlan::new(&nodes, &|id| self.name(id), self.keep).map(Rc::new);
        self.data_plans.insert(definition, plan.clone());
        Ok(plan.map(|p| (p, values)))
    }

    fn plan(&mut self, definition: u32) -> Result<Option<Rc<Plan>>> {
        if let Some(plan) = self.plans.get(&definition) {
            return Ok(plan.clone());
        }
        let nodes = self.templates.get(&definition).cloned().ok_or(Unsupported("template"))?;
        let plan = Plan::new(&nodes, &|id| self.name(id), self.keep).map(Rc::new);
        self.plans.insert(definition, plan.clone());
        Ok(plan)
    }

    /// Instantiates one record's BinXML into `dom` (cleared first).
    pub fn read(&mut self, record: &RawRecord<'c>, dom: &mut Dom) -> Result<()> {
        dom.elements.clear();
        dom.attributes.clear();
        dom.text.clear();
        // Nearly every record is one template instance: read it without
        // compiling the record's own stream.
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        if let Some(definition) = self.single_instance(record.binxml, 0, &mut values)? {
            let nodes = self.templates.get(&definition).cloned().ok_or(Unsupported("template"))?;
            let emitted = self.emit(&nodes, &values, NONE, dom, 1);
            self.values = values;
            return emitted;
        }
        let nodes = self.compile(record.offset, record.offset + record.binxml.len(), false, 0)?;
        self.emit(&nodes, &[], NONE, dom, 0)
    }

    fn compile(&mut self, start: usize, end: usize, in_template: bool, depth: usize) -> Result<Vec<Node<'c>>> {
        if depth > MAX_DEPTH {
            return Err(Unsupported("nesting"));
        }
        let data = self.data;
        let mut c = Cursor { data: &data[..end.min(data.len())], at: start };
        // Open elements: their node, being built.
        let mut stack: Vec<Node<'c>> = Vec::new();
        let mut roots: Vec<Node<'c>> = Vec::new();
        // The attribute whose value pieces follow.
        let mut in_attribute = false;
        fn push<'c>(
            stack: &mut [Node<'c>],
            roots: &mut Vec<Node<'c>>,
            in_attribute: bool,
            node: Node<'c>,
        ) -> Result<()> {
            match stack.last_mut() {
                Some(Node::Element { attributes, children, .. }) => match node {
                    Node::Text(piece) if in_attribute => {
                        attributes.last_mut().ok_or(Unsupported("attribute value"))?.1.push(piece);
                    }
                    node => children.push(node),
                },
                _ => roots.push(node),
            }
            Ok(())
        }
        while c.at < c.data.len() {
            let token = c.u8()?;
            match token {
                0x00 => break,
                0x0f => {
                    c.skip(3)?;
                }
                0x0c => {
                    in_attribute = false;
                    let node = self.instance(&mut c, depth)?;
                    push(&mut stack, &mut roots, false, node)?;
                }
                0x01 | 0x41 => {
                    let dependency = if in_template {
                        let d = c.u16()?;
                        (d != 0xffff).then_some(d)
                    } else {
                        None
                    };
                    c.skip(4)?; // data size
                    let name = self.name_ref(&mut c)?;
                    if token & 0x40 != 0 {
                        c.skip(4)?; // attribute list size
                    }
                    in_attribute = false;
                    stack.push(Node::Element {
                        name,
                        dependency,
                        attributes: Vec::new(),
                        children: Vec::new(),
                        self_closing: false,
                    });
                }
                0x02 => in_attribute = false,
                0x03 | 0x04 => {
                    in_attribute = false;
                    let mut node = stack.pop().ok_or(Unsupported("unbalanced element"))?;
                    if let Node::Element { self_closing, .. } = &mut node {
                        *self_closing = token == 0x03;
                    }
                    push(&mut stack, &mut roots, false, node)?;
                }
                0x06 | 0x46 => {
                    let name = self.name_ref(&mut c)?;
                    match stack.last_mut() {
                        Some(Node::Element { attributes, .. }) => attributes.push((name, Vec::new())),
                        _ => return Err(Unsupported("attribute outside an element")),
                    }
                    in_attribute = true;
                }
                0x05 | 0x45 => {
                    let mut text = String::new();
                    write_value(&mut text, c.literal()?)?;
                    push(&mut stack, &mut roots, in_attribute, Node::Text(Piece::Text(text.into())))?;
                }
                0x07 | 0x47 => {
                    let n = c.u16()? as usize;
                    let bytes = c.take(n * 2)?;
                    let mut text = String::new();
                    push_utf16(&mut text, bytes);
                    push(&mut stack, &mut roots, in_attribute, Node::Text(Piece::Text(text.into())))?;
                }
                0x08 | 0x48 => {
                    let ch = char::from_u32(u32::from(c.u16()?)).ok_or(Unsupported("character reference"))?;
                    push(&mut stack, &mut roots, in_attribute, Node::Text(Piece::Text(ch.to_string().into())))?;
                }
                0x09 | 0x49 => {
                    let name = self.name_ref(&mut c)?;
                    let entity = match self.names[name as usize].0.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => return Err(Unsupported("entity reference")),
                    };
                    push(&mut stack, &mut roots, in_attribute, Node::Text(Piece::Text(entity.into())))?;
                }
                0x0d | 0x0e => {
                    if !in_template {
                        return Err(Unsupported("substitution outside a template"));
                    }
                    let index = c.u16()?;
                    c.skip(1)?; // value type, repeated by the instance
                    let piece = Piece::Substitution(index);
                    push(&mut stack, &mut roots, in_attribute, Node::Text(piece))?;
                }
                // Processing instructions say nothing about an event.
                0x0a => {
                    self.name_ref(&mut c)?;
                }
                0x0b => {
                    let n = c.u16()? as usize;
                    c.skip(n * 2)?;
                }
                _ => return Err(Unsupported("token")),
            }
        }
        if !stack.is_empty() {
            return Err(Unsupported("unclosed element"));
        }
        Ok(roots)
    }

    /// A template instance: its definition (compiled on first use) and values.
    fn instance(&mut self, c: &mut Cursor<'c>, depth: usize) -> Result<Node<'c>> {
        let mut values = Vec::new();
        let template = self.instance_values(c, depth, &mut values)?;
        Ok(Node::Instance { template, values })
    }

    /// Reads a template instance (after its token) into `values`; returns the
    /// offset of its definition, compiled and cached by then.
    fn instance_values(&mut self, c: &mut Cursor<'c>, depth: usize, values: &mut Vec<Value<'c>>) -> Result<u32> {
        c.skip(1)?;
        let _template_id = c.u32()?;
        let definition = c.u32()?;
        if c.at == definition as usize {
            // The definition itself follows (its first use in the chunk): skip it.
            c.skip(4 + 16)?;
            let size = c.u32()? as usize;
            c.skip(size)?;
        }
        if !self.templates.contains_key(&definition) {
            let at = definition as usize;
            let header = self.data.get(at..at + 24).ok_or(Unsupported("template offset"))?;
            let size = u32_at(header, 20) as usize;
            let nodes = self.compile(at + 24, at + 24 + size, true, depth + 1)?;
            self.templates.insert(definition, nodes.into());
        }
        let count = c.u32()? as usize;
        let descriptors = c.take(count.checked_mul(4).ok_or(Unsupported("substitution count"))?)?;
        values.reserve(count);
        for d in descriptors.chunks_exact(4) {
            let size = u16::from_le_bytes([d[0], d[1]]) as usize;
            values.push(Value { ty: d[2], bytes: c.take(size)? });
        }
        Ok(definition)
    }

    /// A name reference: an offset in the chunk, where the name is (once,
    /// inline right here, or earlier in the chunk).
    fn name_ref(&mut self, c: &mut Cursor<'c>) -> Result<u32> {
        let offset = c.u32()?;
        if c.at == offset as usize {
            c.skip(6)?;
            let n = c.u16()? as usize;
            c.skip(n * 2 + 2)?;
        }
        if let Some(&id) = self.name_ids.get(&offset) {
            return Ok(id);
        }
        let at = offset as usize;
        let n = self.data.get(at + 6..at + 8).ok_or(Unsupported("name offset"))?;
        let n = u16::from_le_bytes([n[0], n[1]]) as usize;
        let units = self.data.get(at + 8..at + 8 + n * 2).ok_or(Unsupported("name"))?;
        let mut name = String::with_capacity(n);
        push_utf16(&mut name, units);
        let id = self.names.len() as u32;
        let local = name.rfind(':').map_or(0, |i| i + 1);
        self.names.push((name, local));
        self.name_ids.insert(offset, id);
        Ok(id)
    }

    fn emit(
        &mut self,
        nodes: &[Node<'c>],
        values: &[Value<'c>],
        parent: u32,
        dom: &mut Dom,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Unsupported("nesting"));
        }
        for node in nodes {
            match node {
                Node::Element { name, dependency, attributes, children, self_closing } => {
                    // An element that depends on a NULL value is left out.
                    if dependency.and_then(|d| values.get(d as usize)).is_some_and(|v| v.ty == NULL) {
                        continue;
                    }
                    if let [Node::Text(Piece::Substitution(index))] = children.as_slice() {
                        if values.get(*index as usize).is_some_and(|v| v.ty & 0x80 != 0) {
                            return Err(Unsupported("array value (repeats its element)"));
                        }
                    }
                    let e = dom.elements.len() as u32;
                    dom.elements.push(DomElement {
                        name: *name,
                        parent,
                        next: NONE,
                        first_child: NONE,
                        last_child: NONE,
                        attributes: (0, 0),
                        text: (0, 0),
                        self_closing: *self_closing,
                    });
                    if parent != NONE {
                        let p = &mut dom.elements[parent as usize];
                        match p.last_child {
                            NONE => p.first_child = e,
                            last => dom.elements[last as usize].next = e,
                        }
                        dom.elements[parent as usize].last_child = e;
                    }
                    let first_attribute = dom.attributes.len() as u32;
                    for (attribute, pieces) in attributes {
                        let start = dom.text.len() as u32;
                        let mut time = None;
                        for piece in pieces {
                            if let Piece::Substitution(index) = piece {
                                if let Some(v) = values.get(*index as usize) {
                                    time = value_time(*v);
                                }
                            }
                            self.piece(piece, values, None, dom, depth)?;
                        }
                        let time = if pieces.len() == 1 { time } else { None };
                        dom.attributes.push(DomAttribute {
                            name: *attribute,
                            value: (start, dom.text.len() as u32),
                            time,
                        });
                    }
                    dom.elements[e as usize].attributes = (first_attribute, dom.attributes.len() as u32);
                    self.emit(children, values, e, dom, depth)?;
                }
                Node::Text(piece) => self.piece(piece, values, Some(parent), dom, depth)?,
                Node::Instance { template, values } => {
                    let nodes = self.templates.get(template).cloned().ok_or(Unsupported("template"))?;
                    self.emit(&nodes, values, parent, dom, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Appends a piece: to `dom.text` for an attribute (`text_of: None`), or to
    /// the text of element `text_of`.
    fn piece(
        &mut self,
        piece: &Piece,
        values: &[Value<'c>],
        text_of: Option<u32>,
        dom: &mut Dom,
        depth: usize,
    ) -> Result<()> {
        let value = match piece {
            Piece::Substitution(index) => match values.get(*index as usize) {
                Some(v) => *v,
                None => return Ok(()),
            },
            Piece::Text(text) => {
                return append_text(dom, text_of, |t| {
                    t.push_str(text);
                    Ok(())
                })
            }
        };
        if value.ty == BINXML {
            let Some(parent) = text_of else { return Err(Unsupported("BinXML in an attribute")) };
            if value.bytes.is_empty() {
                return Ok(());
            }
            let start = value.bytes.as_ptr() as usize - self.data.as_ptr() as usize;
            let nodes = self.compile(start, start + value.bytes.len(), false, depth + 1)?;
            return self.emit(&nodes, &[], parent, dom, depth + 1);
        }
        if value.ty == NULL {
            return Ok(());
        }
        append_text(dom, text_of, |t| write_value(t, value))
    }
}

/// Appends text to an attribute value (being built at the end of `dom.text`)
/// or to an element's text, keeping each element's text one span.
fn append_text(dom: &mut Dom, text_of: Option<u32>, write: impl FnOnce(&mut String) -> Result<()>) -> Result<()> {
    let Some(e) = text_of else { return write(&mut dom.text) };
    if e == NONE {
        // Text outside any element (whitespace between fragments).
        let mark = dom.text.len();
        write(&mut dom.text)?;
        dom.text.truncate(mark);
        return Ok(());
    }
    let (start, end) = dom.elements[e as usize].text;
    let len = dom.text.len() as u32;
    let start = if start == end {
        len
    } else if end == len {
        start
    } else {
        // Not at the end (other text came since): move this element's text there.
        let existing = dom.text[start as usize..end as usize].to_string();
        let at = dom.text.len() as u32;
        dom.text.push_str(&existing);
        at
    };
    write(&mut dom.text)?;
    dom.elements[e as usize].text = (start, dom.text.len() as u32);
    Ok(())
}

/// The nanoseconds of a FILETIME or SYSTEMTIME value.
pub(super) fn value_time(v: Value<'_>) -> Option<i64> {
    match (v.ty, v.bytes.len()) {
        (FILETIME, 8) => filetime_nanos(u64_at(v.bytes, 0)),
        (SYSTEMTIME, 16) => {
            let f = |i: usize| u16::from_le_bytes([v.bytes[i * 2], v.bytes[i * 2 + 1]]) as i64;
            let days = days_from_civil(f(0), f(1), f(3))?;
            let secs = days * 86_400 + f(4) * 3600 + f(5) * 60 + f(6);
            Some(secs * 1_000_000_000 + f(7) * 1_000_000)
        }
        _ => None,
    }
}

/// 100 ns intervals since 1601 to ns since 1970.
fn filetime_nanos(filetime: u64) -> Option<i64> {
    const EPOCH_DIFF: i64 = 11_644_473_600 * 10_000_000;
    (filetime as i64).checked_sub(EPOCH_DIFF)?.checked_mul(100)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// (year, month, day) of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats a value as the `evtx` crate renders it in XML text (before escaping).
pub(super) fn write_value(out: &mut String, v: Value<'_>) -> Result<()> {
    use std::fmt::Write;
    let b = v.bytes;
    let fixed = |n: usize| if b.len() == n { Ok(b) } else { Err(Unsupported("value size")) };
    match v.ty {
        NULL => {}
        STRING => push_utf16(out, b),
        ANSI => {
            let text = b.split(|&x| x == 0).next().unwrap_or_default();
            if !text.is_ascii() {
                return Err(Unsupported("non-ASCII ANSI string"));
            }
            push_escaped_controls(out, std::str::from_utf8(text).map_err(|_| Unsupported("ANSI string"))?);
        }
        INT8 => push_i64(out, i64::from(fixed(1)?[0] as i8)),
        UINT8 => push_u64(out, u64::from(fixed(1)?[0])),
        INT16 => push_i64(out, i64::from(i16::from_le_bytes([fixed(2)?[0], b[1]]))),
        UINT16 => push_u64(out, u64::from(u16::from_le_bytes([fixed(2)?[0], b[1]]))),
        INT32 => push_i64(out, i64::from(u32_at(fixed(4)?, 0) as i32)),
        UINT32 => push_u64(out, u64::from(u32_at(fixed(4)?, 0))),
        INT64 => push_i64(out, u64_at(fixed(8)?, 0) as i64),
        UINT64 => push_u64(out, u64_at(fixed(8)?, 0)),
        BOOL => out.push_str(if u32_at(fixed(4)?, 0) != 0 { "true" } else { "false" }),
        BINARY => {
            for byte in b {
                write!(out, "{byte:02X}").unwrap_or(());
            }
        }
        GUID => {
            let g = fixed(16)?;
            write!(
                out,
                "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
                u32_at(g, 0),
                u16::from_le_bytes([g[4], g[5]]),
                u16::from_le_bytes([g[6], g[7]]),
                g[8],
                g[9],
                g[10],
                g[11],
                g[12],
                g[13],
                g[14],
                g[15]
            )
            .unwrap_or(());
        }
        SIZE_T => match b.len() {
            4 => push_u64(out, u64::from(u32_at(b, 0))),
            8 => push_u64(out, u64_at(b, 0)),
            _ => return Err(Unsupported("size_t size")),
        },
        FILETIME => write_filetime(out, u64_at(fixed(8)?, 0)),
        SYSTEMTIME => {
            let f = |i: usize| u16::from_le_bytes([b[i * 2], b[i * 2 + 1]]);
            let _ = fixed(16)?;
            write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
                f(0),
                f(1),
                f(3),
                f(4),
                f(5),
                f(6),
                u32::from(f(7)) * 10_000
            )
            .unwrap_or(());
        }
        SID => {
            if b.len() < 8 || b.len() < 8 + 4 * b[1] as usize {
                return Err(Unsupported("SID size"));
            }
            let authority = u64::from_be_bytes([0, 0, b[2], b[3], b[4], b[5], b[6], b[7]]);
            out.push_str("S-");
            push_u64(out, u64::from(b[0]));
            out.push('-');
            push_u64(out, authority);
            for sub in b[8..].chunks_exact(4).take(b[1] as usize) {
                out.push('-');
                push_u64(out, u64::from(u32_at(sub, 0)));
            }
        }
        HEX32 => write!(out, "0x{:x}", u32_at(fixed(4)?, 0)).unwrap_or(()),
        // (hex is rare enough in event text for `fmt`)
        HEX64 => write!(out, "0x{:x}", u64_at(fixed(8)?, 0)).unwrap_or(()),
        _ => return Err(Unsupported("value type")),
    }
    Ok(())
}

/// A FILETIME (100 ns ticks since 1601) as `YYYY-MM-DDTHH:MM:SS.fffffffZ`,
/// as Windows renders times; any FILETIME, not only those nanoseconds since
/// 1970 can hold (1601-01-01 is a common placeholder).
fn write_filetime(out: &mut String, filetime: u64) {
    use std::fmt::Write;
    /// Days from 1601-01-01 to 1970-01-01.
    const DAYS_1601_TO_1970: i64 = 134_774;
    let ticks = filetime % 10_000_000;
    let secs = (filetime / 10_000_000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400) - DAYS_1601_TO_1970);
    let s = secs.rem_euclid(86_400);
    write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ticks:07}Z", s / 3600, s / 60 % 60, s % 60).unwrap_or(());
}

/// UTF-16LE up to the first NUL, with what XML cannot hold as the `evtx`
/// crate writes it (`_`), so that both readers agree.
fn push_utf16(out: &mut String, bytes: &[u8]) {
    // ASCII (nearly all event text) goes through a small buffer of bytes,
    // four printable units at a time where it can.
    let mut ascii = [0u8; 128];
    let mut n = 0;
    let flush = |out: &mut String, ascii: &[u8]| {
        debug_assert!(ascii.is_ascii());
        // SAFETY: only bytes below 0x80 are ever put in `ascii` (the checks
        // below), and ASCII is UTF-8; validating it again cost 1.5% of ingesting.
        out.push_str(unsafe { std::str::from_utf8_unchecked(ascii) })
    };
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let w = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        // Four units, each 0x20..=0x7f: high bytes zero, low bytes below
        // 0x80, and each low byte plus 0xe0 carrying into its high byte.
        const HIGH: u64 = 0xff00_ff00_ff00_ff00;
        const TOP_BIT: u64 = 0x0080_0080_0080_0080;
        const CARRY: u64 = 0x0100_0100_0100_0100;
        if w & (HIGH | TOP_BIT) != 0 || (w + 0x00e0_00e0_00e0_00e0) & CARRY != CARRY {
            break;
        }
        if n + 4 > ascii.len() {
            flush(out, &ascii[..n]);
            n = 0;
        }
        ascii[n..n + 4].copy_from_slice(&[w as u8, (w >> 16) as u8, (w >> 32) as u8, (w >> 48) as u8]);
        n += 4;
        at += 8;
    }
    let mut units = bytes[at..].chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
    while let Some(unit) = units.next() {
        let byte = match unit {
            0 => break,
            0x20..=0x7f | 0x09 | 0x0a | 0x0d => unit as u8,
            0x01..=0x1f => b'_',
            _ => {
                // Past ASCII: decode the rest (surrogate pairs included).
                flush(out, &ascii[..n]);
                let rest = std::iter::once(unit).chain(units.take_while(|&u| u != 0));
                out.extend(char::decode_utf16(rest).map(|c| xml_char(c.unwrap_or(char::REPLACEMENT_CHARACTER))));
                return;
            }
        };
        if n == ascii.len() {
            flush(out, &ascii);
            n = 0;
        }
        ascii[n] = byte;
        n += 1;
    }
    flush(out, &ascii[..n]);
}

/// Decimal digits of `v`, without `fmt`'s machinery.
fn push_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

fn push_i64(out: &mut String, v: i64) {
    out.push_str(itoa::Buffer::new().format(v));
}

fn push_escaped_controls(out: &mut String, text: &str) {
    out.extend(text.chars().map(xml_char));
}

fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        '\0'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '_',
        c => c,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Bounds-checked little-endian reads over a chunk.
struct Cursor<'c> {
    data: &'c [u8],
    at: usize,
}

impl<'c> Cursor<'c> {
    fn take(&mut self, n: usize) -> Result<&'c [u8]> {
        let bytes = self.data.get(self.at..self.at.checked_add(n).ok_or(Unsupported("length"))?);
        let bytes = bytes.ok_or(Unsupported("truncated BinXML"))?;
        self.at += n;
        Ok(bytes)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32_at(self.take(4)?, 0))
    }

    /// A value token's typed value (template text is nearly always a string).
    fn literal(&mut self) -> Result<Value<'c>> {
        let ty = self.u8()?;
        let size = match ty {
            STRING => {
                let n = self.u16()? as usize;
                n * 2
            }
            INT8 | UINT8 => 1,
            INT16 | UINT16 => 2,
            INT32 | UINT32 | BOOL | HEX32 => 4,
            INT64 | UINT64 | FILETIME | HEX64 => 8,
            GUID | SYSTEMTIME => 16,
            _ => return Err(Unsupported("literal value type")),
        };
        Ok(Value { ty, bytes: self.take(size)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reading of UTF-16: each unit decoded, NUL ending the text.
    fn utf16_slowly(bytes: &[u8]) -> String {
        let units = bytes.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).take_while(|&u| u != 0);
        char::decode_utf16(units).map(|c| xml_char(c.unwrap_or(char::REPLACEMENT_CHARACTER))).collect()
    }

    #[test]
    fn utf16_text_reads_the_same_four_units_at_a_time() {
        let samples: Vec<Vec<u16>> = vec![
            "".encode_utf16().collect(),
            "a".encode_utf16().collect(),
            "CORP\\administrator".encode_utf16().collect(),
            "x".repeat(300).encode_utf16().collect(),
            " ~\u{7f}\u{1f}\u{20}\t\r\nAbc".encode_utf16().collect(),
            "abcd\u{80}efgh".encode_utf16().collect(),
            "abcdefg\u{e9}\u{65e5}\u{1F680}".encode_utf16().collect(),
            [0x41, 0x42, 0x43, 0x44, 0x45, 0, 0x46, 0x47, 0x48].to_vec(),
            [0x41, 0xd800, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47].to_vec(),
            [0x141, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48].to_vec(),
            [0x4100, 0x42, 0x43, 0x44].to_vec(),
            [0x41, 0x42, 0x43, 0x19].to_vec(),
            [0x7f, 0x7f, 0x7f, 0x7f, 0x20, 0x20, 0x20, 0x20].to_vec(),
        ];
        for units in samples {
            for cut in [0, 1] {
                let mut bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
                // An odd trailing byte is not a unit.
                if cut == 1 {
                    bytes.push(0x41);
                }
                let mut fast = String::from("prefix:");
                push_utf16(&mut fast, &bytes);
                assert_eq!(fast, format!("prefix:{}", utf16_slowly(&bytes)), "{units:x?}");
            }
        }
    }

    #[test]
    fn times_render_as_windows_does() {
        let mut s = String::new();
        write_filetime(&mut s, 116_444_736_000_000_000 + 16_745_184_001_234_567);
        assert_eq!(s, "2023-01-24T00:00:00.1234567Z");
        s.clear();
        write_filetime(&mut s, 0);
        assert_eq!(s, "1601-01-01T00:00:00.0000000Z");
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        // FILETIME counts from 1601; 1970 is 11,644,473,600 s later. Before
        // 1677 nanoseconds overflow an i64: no time rather than a wrong one.
        assert_eq!(filetime_nanos(116_444_736_000_000_000), Some(0));
        assert_eq!(filetime_nanos(0), None);
    }

    #[test]
    fn values_format_like_the_evtx_crate() {
        let fmt = |ty: u8, bytes: &[u8]| {
            let mut s = String::new();
            write_value(&mut s, Value { ty, bytes }).map(|_| s).map_err(|e| e.0)
        };
        let sid = [1u8, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0];
        assert_eq!(fmt(SID, &sid).unwrap(), "S-1-5-32-544");
        assert_eq!(fmt(HEX32, &0xc000_006du32.to_le_bytes()).unwrap(), "0xc000006d");
        let guid = [0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 1, 2, 3, 4, 5, 6, 7, 0xab];
        assert_eq!(fmt(GUID, &guid).unwrap(), "{12345678-9abc-def0-0102-0304050607ab}");
        assert_eq!(fmt(STRING, &[b'h', 0, b'i', 0, 0, 0]).unwrap(), "hi");
        assert_eq!(fmt(STRING, &[1, 0, b'x', 0]).unwrap(), "_x");
        assert_eq!(fmt(BINARY, &[0xab, 1]).unwrap(), "AB01");
        assert_eq!(fmt(INT32, &(-5i32).to_le_bytes()).unwrap(), "-5");
        assert_eq!(fmt(INT64, &i64::MIN.to_le_bytes()).unwrap(), i64::MIN.to_string());
        assert_eq!(fmt(UINT64, &u64::MAX.to_le_bytes()).unwrap(), u64::MAX.to_string());
        assert_eq!(fmt(UINT16, &0u16.to_le_bytes()).unwrap(), "0");
        assert!(fmt(0x81, &[]).is_err());
    }
}
