//! "Did you mean" hints, shared by the parser (operator words) and the
//! engine's binder (column, table and function names).

/// How far a misspelling may be from a candidate and still be suggested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxDistance {
    /// For a small fixed vocabulary (operator keywords): up to 2 edits, or a
    /// quarter of the keyword's length if more, and fewer than its length.
    Keyword,
    /// For open-ended names (columns, tables, functions), many of them short:
    /// a third of the typed name's length, between 1 and 3 edits.
    Name,
}

impl MaxDistance {
    fn allows(self, distance: usize, word: &str, candidate: &str) -> bool {
        match self {
            MaxDistance::Keyword => {
                let len = candidate.chars().count();
                distance <= 2.max(len / 4) && distance < len
            }
            MaxDistance::Name => distance <= (word.chars().count() / 3).clamp(1, 3),
        }
    }
}

/// The candidate closest to `word` ignoring case, within `max`; the first
/// listed wins a tie. `word` itself is never suggested.
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>, max: MaxDistance) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &'c str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = edit_distance(&lower, &candidate.to_lowercase());
        if max.allows(distance, word, candidate) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The Levenshtein distance between `a` and `b`, in characters: the fewest
/// single-character insertions, deletions and substitutions that turn one
/// into the other. Case-sensitive; callers fold case first when they want.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, suggest, MaxDistance};

    #[test]
    fn keywords_allow_more_edits_than_short_names() {
        let keywords = ["where", "summarize", "project", "project-away"];
        assert_eq!(suggest("summarise", keywords, MaxDistance::Keyword), Some("summarize"));
        assert_eq!(suggest("WHERE", keywords, MaxDistance::Keyword), Some("where"));
        assert_eq!(suggest("where", keywords, MaxDistance::Keyword), None, "never the word itself");
        assert_eq!(suggest("wher", keywords, MaxDistance::Keyword), Some("where"));
        assert_eq!(suggest("whr", keywords, MaxDistance::Keyword), Some("where"));
        assert_eq!(suggest("whr", ["where"], MaxDistance::Name), None, "2 edits in a 3-letter name");
        assert_eq!(suggest("wher", ["where"], MaxDistance::Name), Some("where"));
        assert_eq!(suggest("Computr", ["Computer", "Account"], MaxDistance::Name), Some("Computer"));
        assert_eq!(suggest("Account", ["Account", "account"], MaxDistance::Name), Some("account"));
        assert_eq!(suggest("xyz", ["Computer"], MaxDistance::Name), None);
    }

    #[test]
    fn counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("where", "where"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("summarise", "summarize"), 1);
        assert_eq!(edit_distance("projet", "project"), 1);
        assert_eq!(edit_distance("Where", "where"), 1);
        // Characters, not bytes.
        assert_eq!(edit_distance("café", "cafe"), 1);
    }
}
