//! `--memory SIZE`: the memory budget of each query a command runs.

use clap::Args;

/// The memory budget option of the commands that run queries.
#[derive(Args, Clone, Debug, Default)]
pub struct MemoryArgs {
    /// The memory each query may use, e.g. 512MiB or 2GiB (default: a
    /// quarter of physical memory, or of `ulimit -v` when lower). Sorts,
    /// aggregations and joins spill to temporary files beyond it; other
    /// operators stop the query with an error naming the budget.
    #[arg(long = "memory", value_name = "SIZE", value_parser = parse_memory)]
    pub memory: Option<usize>,
}

impl MemoryArgs {
    /// Makes the budget the default of every session created from now on.
    pub fn apply(&self) {
        if let Some(bytes) = self.memory {
            kqlite_engine::memory::set_default_budget(bytes);
        }
    }
}

fn parse_memory(text: &str) -> Result<usize, String> {
    kqlite_engine::memory::parse_size(text)
        .ok_or_else(|| format!("'{text}' is not a size (expected e.g. 512MiB, 2GiB or 1500MB)"))
}
