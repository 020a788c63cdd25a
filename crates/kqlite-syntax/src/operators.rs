//! The tabular operator vocabulary: every word that names a tabular operator
//! (`where`, `project-away`, `mv-expand`, …), written once.
//!
//! The lexer (hyphenated names are one token), the parser (dispatch, reserved
//! words, "did you mean"), the printer and the engine's binder (which
//! operators it lowers, and naming the ones it does not) all read this list.
//! [`crate::ast::OperatorKind::name`] maps a parsed operator back to its word.

use std::fmt;

/// Declares [`OperatorKeyword`] and its attributes from one list, so a
/// keyword cannot be added without its spelling (the same pattern rustc uses
/// for its keyword table).
macro_rules! operator_keywords {
    ($($(#[$doc:meta])* $variant:ident = $text:literal, follows_pipe: $pipe:literal, reserved: $reserved:literal;)*) => {
        /// A word that names a tabular operator, including the ones kqlite
        /// recognises but does not parse (`graph-merge`, `execute-and-cache`, …).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OperatorKeyword {
            $($(#[$doc])* $variant,)*
        }

        impl OperatorKeyword {
            /// Every keyword. The order is the order "did you mean" prefers
            /// among equally close words.
            pub const ALL: &'static [OperatorKeyword] = &[$(OperatorKeyword::$variant,)*];

            /// The word as written in a query.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(OperatorKeyword::$variant => $text,)*
                }
            }

            /// Whether the word starts an operator after `|` (and starts a
            /// sub-pipeline with an implicit input); source operators such as
            /// `print` start a pipeline instead.
            pub const fn follows_pipe(self) -> bool {
                match self {
                    $(OperatorKeyword::$variant => $pipe,)*
                }
            }

            /// Whether the word cannot name a column or table unless
            /// bracketed (`['union']`), as in Microsoft's parser.
            pub const fn is_reserved(self) -> bool {
                match self {
                    $(OperatorKeyword::$variant => $reserved,)*
                }
            }
        }
    };
}

operator_keywords! {
    Where = "where", follows_pipe: true, reserved: true;
    /// A synonym of `where`.
    Filter = "filter", follows_pipe: true, reserved: false;
    Extend = "extend", follows_pipe: true, reserved: false;
    Project = "project", follows_pipe: true, reserved: true;
    ProjectAway = "project-away", follows_pipe: true, reserved: true;
    ProjectKeep = "project-keep", follows_pipe: true, reserved: true;
    ProjectRename = "project-rename", follows_pipe: true, reserved: true;
    ProjectReorder = "project-reorder", follows_pipe: true, reserved: true;
    ProjectSmart = "project-smart", follows_pipe: true, reserved: true;
    ProjectByNames = "project-by-names", follows_pipe: true, reserved: true;
    Summarize = "summarize", follows_pipe: true, reserved: false;
    Join = "join", follows_pipe: true, reserved: false;
    Lookup = "lookup", follows_pipe: true, reserved: false;
    Union = "union", follows_pipe: true, reserved: true;
    MvExpand = "mv-expand", follows_pipe: true, reserved: true;
    /// The legacy spelling of `mv-expand`.
    MvExpandLegacy = "mvexpand", follows_pipe: true, reserved: false;
    MvApply = "mv-apply", follows_pipe: true, reserved: true;
    Parse = "parse", follows_pipe: true, reserved: false;
    ParseWhere = "parse-where", follows_pipe: true, reserved: true;
    ParseKv = "parse-kv", follows_pipe: true, reserved: true;
    Evaluate = "evaluate", follows_pipe: true, reserved: false;
    MakeSeries = "make-series", follows_pipe: true, reserved: true;
    Top = "top", follows_pipe: true, reserved: false;
    TopNested = "top-nested", follows_pipe: true, reserved: true;
    TopHitters = "top-hitters", follows_pipe: true, reserved: true;
    Take = "take", follows_pipe: true, reserved: false;
    /// A synonym of `take`.
    Limit = "limit", follows_pipe: true, reserved: false;
    Sort = "sort", follows_pipe: true, reserved: false;
    /// A synonym of `sort`.
    Order = "order", follows_pipe: true, reserved: false;
    Distinct = "distinct", follows_pipe: true, reserved: false;
    Count = "count", follows_pipe: true, reserved: false;
    As = "as", follows_pipe: true, reserved: true;
    Serialize = "serialize", follows_pipe: true, reserved: false;
    Render = "render", follows_pipe: true, reserved: false;
    Sample = "sample", follows_pipe: true, reserved: true;
    SampleDistinct = "sample-distinct", follows_pipe: true, reserved: true;
    GetSchema = "getschema", follows_pipe: true, reserved: false;
    Partition = "partition", follows_pipe: true, reserved: false;
    Facet = "facet", follows_pipe: true, reserved: false;
    Invoke = "invoke", follows_pipe: true, reserved: true;
    Fork = "fork", follows_pipe: true, reserved: false;
    Reduce = "reduce", follows_pipe: true, reserved: false;
    Consume = "consume", follows_pipe: true, reserved: false;
    Search = "search", follows_pipe: true, reserved: true;
    Scan = "scan", follows_pipe: true, reserved: false;
    Print = "print", follows_pipe: false, reserved: true;
    Range = "range", follows_pipe: false, reserved: false;
    Datatable = "datatable", follows_pipe: false, reserved: true;
    ExternalData = "externaldata", follows_pipe: false, reserved: true;
    /// Another spelling of `externaldata`.
    ExternalDataUnderscore = "external_data", follows_pipe: false, reserved: true;
    Find = "find", follows_pipe: false, reserved: true;
    MakeGraph = "make-graph", follows_pipe: true, reserved: true;
    GraphMatch = "graph-match", follows_pipe: true, reserved: true;
    /// Recognised (lexed as one word), not parsed.
    GraphMerge = "graph-merge", follows_pipe: false, reserved: false;
    GraphToTable = "graph-to-table", follows_pipe: true, reserved: true;
    GraphShortestPaths = "graph-shortest-paths", follows_pipe: true, reserved: true;
    GraphMarkComponents = "graph-mark-components", follows_pipe: true, reserved: true;
    /// Recognised (lexed as one word), not parsed.
    PartitionBy = "partition-by", follows_pipe: false, reserved: true;
    /// Recognised (lexed as one word), not parsed.
    ExecuteAndCache = "execute-and-cache", follows_pipe: false, reserved: true;
}

impl OperatorKeyword {
    /// The keyword spelled exactly `word` (keywords are case-sensitive).
    pub fn from_word(word: &str) -> Option<OperatorKeyword> {
        OperatorKeyword::ALL.iter().copied().find(|k| k.as_str() == word)
    }

    /// Whether the word contains a hyphen; the lexer reads such a word as
    /// one token (`project-away`), where `a-b` would otherwise be a subtraction.
    pub fn is_hyphenated(self) -> bool {
        self.as_str().contains('-')
    }
}

impl fmt::Display for OperatorKeyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OperatorKeyword;

    #[test]
    fn every_word_is_listed_once_and_reads_back() {
        for (i, keyword) in OperatorKeyword::ALL.iter().enumerate() {
            assert_eq!(OperatorKeyword::from_word(keyword.as_str()), Some(*keyword));
            assert!(!OperatorKeyword::ALL[..i].iter().any(|k| k.as_str() == keyword.as_str()), "{keyword} twice");
        }
        assert_eq!(OperatorKeyword::from_word("Where"), None);
        assert_eq!(OperatorKeyword::from_word("print"), Some(OperatorKeyword::Print));
    }
}
