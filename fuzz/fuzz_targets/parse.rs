//! Fuzz target: the parser must never panic, every diagnostic must point
//! inside the input, and whatever parses cleanly must round-trip through
//! `Display`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let parsed = kqlite_syntax::parse(source);
    for d in &parsed.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end as usize <= source.len());
    }
    if !parsed.has_errors() {
        let printed = parsed.query.to_string();
        let again = kqlite_syntax::parse(&printed);
        assert!(!again.has_errors(), "printed form does not parse: {printed}");
        assert!(again.query == parsed.query, "round trip changed the tree: {printed}");
    }
});
