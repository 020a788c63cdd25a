//! What a hunt writes for people and tools: its findings as a table, CSV,
//! JSON or JSON lines ([`write_findings`]), and the lateral-movement graph
//! of those findings as Graphviz DOT, SVG or an HTML page
//! ([`write_graph`]).

pub mod findings;
pub mod graph;

pub use findings::{finding_json, write_findings, FindingFormat};
pub use graph::write_graph;
