//! Edit distance for "did you mean" hints, shared by the parser (operator
//! words) and the engine's binder (column, table and function names).

/// The Levenshtein distance between `a` and `b`, in characters: the fewest
/// single-character insertions, deletions and substitutions that turn one
/// into the other. Case-sensitive; callers fold case first when they want.
pub fn edit_distance(a: &str, b: &str) -> usize {
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
    use super::edit_distance;

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
