//! `--sigma-target` and `--sigma-mapping`: how Sigma rules are compiled
//! where rules load (hunt, pivot, rules, test).

use anyhow::Result;
use clap::{Args, ValueEnum};
use kqlite_detect::sigma::{Mapping, SigmaOptions, Target};
use kqlite_detect::tuning::Tuning;
use std::path::{Path, PathBuf};

/// Which product's tables Sigma rules are compiled for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Log Analytics tables: SecurityEvent, WindowsEvent, Event, Syslog.
    #[default]
    Sentinel,
    /// Defender XDR tables: DeviceProcessEvents, DeviceNetworkEvents, ….
    Defender,
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Target {
        match target {
            TargetArg::Sentinel => Target::Sentinel,
            TargetArg::Defender => Target::Defender,
        }
    }
}

/// The Sigma flags.
#[derive(Args, Clone, Debug, Default)]
pub struct SigmaArgs {
    /// The tables Sigma rules (*.yml recognised by content among the rules)
    /// are compiled for.
    #[arg(long = "sigma-target", value_enum, default_value_t = TargetArg::Sentinel, global = true)]
    pub target: TargetArg,

    /// A logsource mapping file that replaces the built-in one (where each
    /// Sigma logsource's events live, and its fields' names there).
    #[arg(long = "sigma-mapping", value_name = "FILE", global = true)]
    pub mapping: Option<PathBuf>,
}

impl SigmaArgs {
    /// The compile options, with `expand` placeholders from the tuning file.
    pub fn options(&self, tuning: Option<&Path>) -> Result<SigmaOptions> {
        Ok(SigmaOptions {
            mapping: mapping(self.mapping.as_deref())?,
            target: self.target.into(),
            placeholders: match tuning {
                Some(path) => Tuning::read_sigma_placeholders(path)?,
                None => Default::default(),
            },
        })
    }
}

/// The mapping file's, or the built-in mapping.
pub fn mapping(path: Option<&Path>) -> Result<Mapping> {
    Ok(match path {
        Some(path) => kqlite_detect::sigma::load_mapping(path)?,
        None => Mapping::builtin(),
    })
}
