//! Why an EVTX file, or one record of it, could not be read. The messages
//! are the ones reports have always shown (`file: cannot open: …`).

use ::evtx::err::EvtxError;

/// Why a file was not read, or not to its end (kept in
/// [`EvtxReport::error`](super::EvtxReport::error) as text).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{location}: cannot open: {source}")]
    Open {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// The file header is not EVTX's. The message names the causes too, as
    /// reports have always shown them.
    #[error("{location}: not a readable EVTX file: {}", error_chain(source))]
    NotEvtx {
        location: String,
        #[source]
        source: EvtxError,
    },
    /// The `evtx` crate panicked (on its worker threads); what was read before is kept.
    #[error("{location}: the EVTX parser stopped: {message}")]
    ParserStopped { location: String, message: String },
    /// A file of [`load_evtx_files`](super::load_evtx_files) that no reader thread took.
    #[error("{location}: was not read")]
    NotRead { location: String },
}

/// Why a record gives no event (the reason of its rejection; the report
/// says where: `file: record N`).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the record holds no element")]
    NoElement,
    #[error("the record's root element is <{0}>, not <Event>")]
    NotAnEvent(String),
    /// The `evtx` crate could not render the record as XML (with its causes).
    #[error("{}", error_chain(source))]
    Render {
        #[source]
        source: EvtxError,
    },
    #[error("malformed event XML at byte {position}: {source}")]
    MalformedXml {
        position: u64,
        #[source]
        source: quick_xml::Error,
    },
    #[error("malformed event XML at byte {position}: elements nested too deeply")]
    TooDeep { position: u64 },
    #[error("malformed event XML: expected the root element")]
    NoRoot,
    #[error("malformed event XML: `<{0}>` is not closed")]
    Unclosed(String),
}

/// An error and its causes, `outer: inner: …`.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
