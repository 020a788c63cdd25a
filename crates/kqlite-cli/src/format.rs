//! `--format`, shared by the subcommands that print tables or findings.

use clap::ValueEnum;
use kqlite_detect::report::FindingFormat;
use kqlite_engine::output::Format;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Jsonl,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Format {
        match f {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
            OutputFormat::Jsonl => Format::Jsonl,
        }
    }
}

impl From<OutputFormat> for FindingFormat {
    fn from(f: OutputFormat) -> FindingFormat {
        match f {
            OutputFormat::Table => FindingFormat::Table,
            OutputFormat::Csv => FindingFormat::Csv,
            OutputFormat::Json => FindingFormat::Json,
            OutputFormat::Jsonl => FindingFormat::Jsonl,
        }
    }
}
