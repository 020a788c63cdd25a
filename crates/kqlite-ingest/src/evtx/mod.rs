//! Windows EVTX files into Sentinel's `SecurityEvent` and `WindowsEvent` tables.
//!
//! Records of the Security channel become `SecurityEvent` rows, with each
//! `<Data Name="X">` value copied verbatim into column `X` and the columns
//! Sentinel computes (`Activity`, `Account`, `LogonTypeName`, …) filled in,
//! as the Windows Security Events connector stores them; records of other
//! channels become `WindowsEvent` rows (its `EventData` a property bag,
//! `RawEventData` the record's XML when asked for), as the Windows Forwarded
//! Events connector would. [`EvtxOptions::security_in_windows_event`] puts
//! Security records in both.
//!
//! Files are read several at a time, each file's chunks in parallel on
//! rayon threads ([`read`]). A chunk's records are read straight from their
//! BinXML ([`binxml`]): nearly every record is an instance of a template of
//! the usual shape, whose [`plan`] (made once per chunk) formats just the
//! values the tables need; other records are instantiated into a small DOM
//! ([`dom`]). A chunk holding a shape the BinXML reader leaves alone (array
//! values, say) is read again through the `evtx` crate's XML ([`xml`]), as
//! are all records when their XML is kept or deleted records are carved.
//! Each path gives the same [`event::Event`], from which [`rows`] builds
//! both tables' rows; `SecurityEvent.EventData`, the payload as XML text, is
//! rendered from the event's fields once ([`render`]).
//!
//! A record or chunk that cannot be read is counted as rejected with its
//! location and reason, and reading goes on; a file that is not EVTX at all
//! is reported and skipped ([`ReadError`]). Rows are handed out in batches
//! of [`EvtxOptions::batch_rows`], so memory is bounded per batch when the
//! caller streams them with [`read_evtx`].

mod bag;
mod binxml;
mod dom;
mod error;
mod event;
mod keep;
mod plan;
mod read;
mod render;
mod rows;
mod security;
mod table;
pub mod writer;
mod xml;

pub use error::{ReadError, RecordError};
pub(crate) use event::EventFields;
pub use read::{find_evtx_files, load_evtx_files, read_evtx, read_evtx_from, EvtxLoad, EvtxOptions, EvtxReport};
pub(crate) use rows::EventRows;
pub use security::{activity, description, logon_type_name};
pub use table::EvtxTable;
