//! Where a Sigma logsource's events live in Sentinel's tables, and what
//! Sigma's field names are called there. The built-in mapping is
//! `mappings/sentinel.yml`; users pass their own file to override it.

use crate::error::SigmaError;

/// Which product's tables the KQL reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Target {
    /// Sentinel's Log Analytics tables (SecurityEvent, WindowsEvent, Syslog, …).
    #[default]
    Sentinel,
    /// Defender XDR's advanced-hunting tables (DeviceProcessEvents, …).
    Defender,
}

/// A logsource mapping.
#[derive(Clone, Debug)]
pub struct Mapping {}

impl Mapping {
    /// kqlite's built-in mapping.
    pub fn builtin() -> Mapping {
        Mapping {}
    }

    /// A mapping file's text; `path` names it in errors.
    pub fn parse(_text: &str, path: &str) -> Result<Mapping, SigmaError> {
        Err(SigmaError::Mapping { path: path.to_string(), message: "not written yet".into() })
    }
}
