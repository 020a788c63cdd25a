//! The KQL lexer: source text to tokens with byte spans.
//!
//! Most KQL keywords are contextual (`count`, `kind`, `title` are also column
//! names), so words are lexed as [`TokenKind::Ident`] and the parser decides
//! what they mean. The lexer does resolve the things that need raw text:
//! string forms, numbers with timespan suffixes, hyphenated operator names
//! (`mv-expand`), and literals whose contents are not tokens
//! (`datetime(2017-01-01 10:00)`, `guid(74be27de-…)`).

use crate::diagnostic::Diagnostic;
use crate::operators::OperatorKeyword;
use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A word: identifier or contextual keyword, including `$left` and
    /// hyphenated operator names such as `project-away`.
    Ident,
    /// Any string form: `'…'`, `"…"`, `@'…'`, `h'…'`, ```` ```…``` ````.
    String,
    /// An integer literal, decimal or `0x…`.
    Long,
    /// A real literal: `1.5`, `1e-3`.
    Real,
    /// A number with a time unit: `1d`, `1.5h`, `100ms`, `1tick`.
    Timespan,
    /// `datetime(…)`, `date(…)`, `timespan(…)`, `time(…)`, `guid(…)`: raw contents.
    TypedLiteral,
    Pipe,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Dot,
    DotDot,
    Colon,
    Assign,
    EqEq,
    NotEq,
    LtGt,
    Lt,
    Le,
    Gt,
    Ge,
    EqTilde,
    BangTilde,
    Bang,
    Tilde,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    FatArrow,
    Question,
    /// A character that starts no token; reported once by the lexer.
    Unknown,
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected …" messages.
    pub fn describe(self) -> &'static str {
        use TokenKind::*;
        match self {
            Ident => "identifier",
            String => "string literal",
            Long => "integer literal",
            Real => "real literal",
            Timespan => "timespan literal",
            TypedLiteral => "literal",
            Pipe => "'|'",
            LParen => "'('",
            RParen => "')'",
            LBracket => "'['",
            RBracket => "']'",
            LBrace => "'{'",
            RBrace => "'}'",
            Comma => "','",
            Semicolon => "';'",
            Dot => "'.'",
            DotDot => "'..'",
            Colon => "':'",
            Assign => "'='",
            EqEq => "'=='",
            NotEq => "'!='",
            LtGt => "'<>'",
            Lt => "'<'",
            Le => "'<='",
            Gt => "'>'",
            Ge => "'>='",
            EqTilde => "'=~'",
            BangTilde => "'!~'",
            Bang => "'!'",
            Tilde => "'~'",
            Plus => "'+'",
            Minus => "'-'",
            Star => "'*'",
            Slash => "'/'",
            Percent => "'%'",
            FatArrow => "'=>'",
            Question => "'?'",
            Unknown => "unknown character",
            Eof => "end of query",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    /// True when whitespace or a comment separates this token from the previous one.
    /// Operators such as `!has` and `in~` are written without a gap.
    pub space_before: bool,
}

/// Words that, directly followed by `(`, introduce a literal with raw contents.
const RAW_LITERAL_WORDS: &[&str] = &["datetime", "date", "timespan", "time", "guid"];

/// Time units accepted after a number, spelled exactly as Kusto's lexer
/// takes them (case-sensitive: `10D` and `10mins` are names, not timespans).
pub const TIMESPAN_UNITS: &[&str] = &[
    "d",
    "day",
    "days",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "m",
    "min",
    "minute",
    "minutes",
    "s",
    "sec",
    "second",
    "seconds",
    "ms",
    "milli",
    "millis",
    "millisec",
    "millisecond",
    "milliseconds",
    "micro",
    "micros",
    "microsec",
    "microsecond",
    "microseconds",
    "nano",
    "nanos",
    "nanosec",
    "nanosecond",
    "nanoseconds",
    "tick",
    "ticks",
];

pub struct Lexed {
    pub tokens: Vec<Token>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Splits `source` into tokens. Always ends with an [`TokenKind::Eof`] token;
/// problems become diagnostics and lexing goes on.
pub fn lex(source: &str) -> Lexed {
    let mut lexer =
        Lexer { src: source, bytes: source.as_bytes(), pos: 0, tokens: Vec::new(), diagnostics: Vec::new() };
    lexer.run();
    Lexed { tokens: lexer.tokens, diagnostics: lexer.diagnostics }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
}

/// Whether `c` separates tokens. Kusto's set, checked against its parser:
/// non-breaking (U+00A0, U+202F) and other Unicode spaces pasted from web
/// pages count, as do U+200B and the byte order mark; U+000B, U+0085 and the
/// line and paragraph separators (U+2028, U+2029) do not.
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\u{0c}' | '\u{a0}' | '\u{1680}' | '\u{180e}' | '\u{2000}'
            ..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// Names are ASCII in Kusto (`print é=1` is rejected): letters, `_` and `$`
/// start one; letters, digits and `_` continue it.
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> u8 {
        *self.bytes.get(self.pos + ahead).unwrap_or(&0)
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(Span::new(start, end), message));
    }

    fn run(&mut self) {
        loop {
            let space_before = self.skip_trivia();
            let start = self.pos;
            if self.pos >= self.bytes.len() {
                self.tokens.push(Token { kind: TokenKind::Eof, span: Span::new(start, start), space_before });
                return;
            }
            let kind = self.next_kind();
            self.tokens.push(Token { kind, span: Span::new(start, self.pos), space_before });
        }
    }

    /// Skips whitespace and `//` comments; reports whether anything was skipped.
    fn skip_trivia(&mut self) -> bool {
        let start = self.pos;
        loop {
            if self.peek(0) == b'/' && self.peek(1) == b'/' {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            match self.src[self.pos..].chars().next() {
                Some(c) if is_space(c) => self.pos += c.len_utf8(),
                _ => break,
            }
        }
        self.pos > start
    }

    fn next_kind(&mut self) -> TokenKind {
        use TokenKind::*;
        let b = self.peek(0);
        let start = self.pos;
        match b {
            b'\'' | b'"' => {
                self.quoted_string(b, false);
                String
            }
            b'@' if matches!(self.peek(1), b'\'' | b'"') => {
                self.pos += 1;
                self.quoted_string(self.peek(0), true);
                String
            }
            b'`' if self.peek(1) == b'`' && self.peek(2) == b'`' => {
                self.pos += 3;
                match self.src[self.pos..].find("```") {
                    Some(i) => self.pos += i + 3,
                    None => {
                        self.pos = self.bytes.len();
                        self.error(start, start + 3, "unterminated multi-line string: expected closing ```");
                    }
                }
                String
            }
            b'h' | b'H' if matches!(self.peek(1), b'\'' | b'"') => {
                self.pos += 1;
                self.quoted_string(self.peek(0), false);
                String
            }
            b'h' | b'H' if self.peek(1) == b'@' && matches!(self.peek(2), b'\'' | b'"') => {
                self.pos += 2;
                self.quoted_string(self.peek(0), true);
                String
            }
            b'0'..=b'9' => self.number(),
            _ if is_ident_start(b) => self.word(),
            b'|' => self.single(Pipe),
            b'(' => self.single(LParen),
            b')' => self.single(RParen),
            b'[' => self.single(LBracket),
            b']' => self.single(RBracket),
            b'{' => self.single(LBrace),
            b'}' => self.single(RBrace),
            b',' => self.single(Comma),
            b';' => self.single(Semicolon),
            b'.' if self.peek(1) == b'.' => self.double(DotDot),
            b'.' => self.single(Dot),
            b':' => self.single(Colon),
            b'=' if self.peek(1) == b'=' => self.double(EqEq),
            b'=' if self.peek(1) == b'~' => self.double(EqTilde),
            b'=' if self.peek(1) == b'>' => self.double(FatArrow),
            b'=' => self.single(Assign),
            b'!' if self.peek(1) == b'=' => self.double(NotEq),
            b'!' if self.peek(1) == b'~' => self.double(BangTilde),
            b'!' => self.single(Bang),
            b'<' if self.peek(1) == b'=' => self.double(Le),
            b'<' if self.peek(1) == b'>' => self.double(LtGt),
            b'<' => self.single(Lt),
            b'>' if self.peek(1) == b'=' => self.double(Ge),
            b'>' => self.single(Gt),
            b'~' => self.single(Tilde),
            b'+' => self.single(Plus),
            b'-' => self.single(Minus),
            b'*' => self.single(Star),
            b'/' => self.single(Slash),
            b'%' => self.single(Percent),
            b'?' => self.single(Question),
            _ => {
                let len = self.src[self.pos..].chars().next().map_or(1, char::len_utf8);
                self.pos += len;
                let ch = &self.src[start..self.pos];
                self.error(start, self.pos, format!("unexpected character '{}'", ch.escape_debug()));
                Unknown
            }
        }
    }

    fn skip_inline_space(&mut self) {
        while matches!(self.peek(0), b' ' | b'\t') {
            self.pos += 1;
        }
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    fn double(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 2;
        kind
    }

    /// Scans a quoted string starting at the opening quote.
    fn quoted_string(&mut self, quote: u8, verbatim: bool) {
        let open = self.pos;
        self.pos += 1;
        loop {
            match self.peek(0) {
                0 if self.pos >= self.bytes.len() => {
                    self.error(
                        open,
                        open + 1,
                        format!("unterminated string literal: expected closing {}", quote as char),
                    );
                    return;
                }
                b'\n' | b'\r' => {
                    self.error(
                        open,
                        self.pos,
                        "unterminated string literal: a line break cannot appear inside a quoted string (use \\n or a ``` multi-line string)",
                    );
                    return;
                }
                b'\\' if !verbatim => {
                    self.pos += 1;
                    if self.pos < self.bytes.len() && !matches!(self.peek(0), b'\n' | b'\r') {
                        self.pos += self.src[self.pos..].chars().next().map_or(1, char::len_utf8);
                    }
                }
                q if q == quote => {
                    self.pos += 1;
                    if verbatim && self.peek(0) == quote {
                        self.pos += 1;
                        continue;
                    }
                    return;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A number, a timespan, or a name that starts with digits.
    ///
    /// Kusto reads a run of letters, digits and `_` that starts with a digit
    /// as a literal when all of it is one (`10`, `1e5`, `0x1F`, `1d`), and
    /// otherwise as a name (`3rdPartyApp`, `10mins`, `1e5x`), as its lexer does.
    fn number(&mut self) -> TokenKind {
        let start = self.pos;
        let kind = self.number_literal();
        if !is_ident_continue(self.peek(0)) {
            return kind;
        }
        let mut end = start;
        while self.bytes.get(end).is_some_and(|b| is_ident_continue(*b)) {
            end += 1;
        }
        if self.bytes[start..end].iter().all(u8::is_ascii_digit) {
            // `1.5hx` is `1`, `.` and the name `5hx`, as in Kusto.
            self.pos = end;
            return TokenKind::Long;
        }
        self.pos = end;
        TokenKind::Ident
    }

    /// The longest number literal at the current position, with a time unit
    /// suffix when one follows; the caller checks what comes after it.
    fn number_literal(&mut self) -> TokenKind {
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X') && self.peek(2).is_ascii_hexdigit() {
            self.pos += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
            return TokenKind::Long;
        }
        let mut kind = TokenKind::Long;
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1) != b'.' && !is_ident_start(self.peek(1)) {
            kind = TokenKind::Real;
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        } else if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            kind = TokenKind::Real;
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
            if self.peek(1 + sign).is_ascii_digit() {
                kind = TokenKind::Real;
                self.pos += 1 + sign;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
        }
        let suffix_start = self.pos;
        let mut end = suffix_start;
        while self.bytes.get(end).is_some_and(|b| is_ident_continue(*b)) {
            end += 1;
        }
        if end > suffix_start && TIMESPAN_UNITS.contains(&&self.src[suffix_start..end]) {
            self.pos = end;
            return TokenKind::Timespan;
        }
        kind
    }

    fn word(&mut self) -> TokenKind {
        let start = self.pos;
        self.pos += 1;
        while is_ident_continue(self.peek(0)) {
            self.pos += 1;
        }
        // Hyphenated operator names are one token.
        if self.peek(0) == b'-' && self.peek(1).is_ascii_alphabetic() {
            let word_end = self.pos;
            let mut end = self.pos + 1;
            while end < self.bytes.len()
                && (is_ident_continue(self.bytes[end])
                    || (self.bytes[end] == b'-'
                        && end + 1 < self.bytes.len()
                        && self.bytes[end + 1].is_ascii_alphabetic()))
            {
                end += 1;
            }
            let candidate = &self.src[start..end];
            let hyphenated = OperatorKeyword::ALL.iter().filter(|k| k.is_hyphenated()).map(|k| k.as_str());
            if let Some(name) = hyphenated.filter(|h| candidate.starts_with(h)).max_by_key(|h| h.len()) {
                let after = start + name.len();
                if !self.bytes.get(after).is_some_and(|b| is_ident_continue(*b)) {
                    self.pos = after;
                    return TokenKind::Ident;
                }
            }
            self.pos = word_end;
        }
        let word = &self.src[start..self.pos];
        if RAW_LITERAL_WORDS.contains(&word) {
            let save = self.pos;
            self.skip_inline_space();
            if self.peek(0) == b'(' {
                let open = self.pos;
                match self.src[open..].find([')', '\n']) {
                    Some(i) if self.bytes[open + i] == b')' => {
                        self.pos = open + i + 1;
                        return TokenKind::TypedLiteral;
                    }
                    _ => {
                        self.pos = save;
                        return TokenKind::Ident;
                    }
                }
            }
            self.pos = save;
        }
        TokenKind::Ident
    }
}

/// Decodes the value of a [`TokenKind::String`] token from its source text.
pub fn decode_string(raw: &str) -> String {
    let (raw, verbatim) = {
        let r = raw.strip_prefix(['h', 'H']).unwrap_or(raw);
        match r.strip_prefix('@') {
            Some(r) => (r, true),
            None => (r, false),
        }
    };
    if let Some(inner) = raw.strip_prefix("```") {
        return inner.strip_suffix("```").unwrap_or(inner).to_string();
    }
    let quote = raw.chars().next().unwrap_or('"');
    let inner = raw.get(1..).unwrap_or("");
    let inner = inner.strip_suffix(quote).unwrap_or(inner);
    if verbatim {
        let doubled: String = [quote, quote].iter().collect();
        return inner.replace(&doubled, &quote.to_string());
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => {
                        out.push(ch);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// True when the string token is obfuscated (`h'…'`).
pub fn is_obfuscated_string(raw: &str) -> bool {
    raw.starts_with(['h', 'H'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let lexed = lex(src);
        assert!(lexed.diagnostics.is_empty(), "{:?}", lexed.diagnostics);
        lexed.tokens.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn strings_of_every_form() {
        use TokenKind::*;
        assert_eq!(
            kinds(
                r#"'a' "b\"c" @'c:\x' h'secret' H@"v" ```multi
line```"#
            ),
            vec![String, String, String, String, String, String, Eof]
        );
        assert_eq!(decode_string(r#""b\"c\n""#), "b\"c\n");
        assert_eq!(decode_string(r"@'c:\x'"), r"c:\x");
        assert_eq!(decode_string(r#"@"say ""hi""""#), r#"say "hi""#);
        assert_eq!(decode_string("```a\nb```"), "a\nb");
        assert_eq!(decode_string("h'pw'"), "pw");
    }

    #[test]
    fn numbers_and_timespans() {
        use TokenKind::*;
        assert_eq!(
            kinds("1 2.5 1e3 0x1F 1d 1.5h 100ms 10microsecond 1tick 5min"),
            vec![Long, Real, Real, Long, Timespan, Timespan, Timespan, Timespan, Timespan, Timespan, Eof]
        );
        // A run that is not all one literal is a name, as in Kusto.
        assert_eq!(
            kinds("3rdPartyApp 12abc 10mins 10D 1e5x 0x1Fz 1_000"),
            vec![Ident; 7].into_iter().chain([Eof]).collect::<Vec<_>>()
        );
        assert_eq!(kinds("1.5hx"), vec![Long, Dot, Ident, Eof]);
    }

    #[test]
    fn hyphenated_operators_and_raw_literals() {
        use TokenKind::*;
        let src = "T | project-away a | mv-expand x | where d > datetime(2017-01-01 10:00) and g == guid(74be27de-1e4e-49d9-b579-fe0b331d3642)";
        let lexed = lex(src);
        assert!(lexed.diagnostics.is_empty());
        let words: Vec<&str> = lexed
            .tokens
            .iter()
            .filter(|t| matches!(t.kind, Ident | TypedLiteral))
            .map(|t| &src[t.span.range()])
            .collect();
        assert_eq!(
            words,
            [
                "T",
                "project-away",
                "a",
                "mv-expand",
                "x",
                "where",
                "d",
                "datetime(2017-01-01 10:00)",
                "and",
                "g",
                "guid(74be27de-1e4e-49d9-b579-fe0b331d3642)"
            ]
        );
        // Arithmetic stays arithmetic.
        assert_eq!(kinds("a-b"), vec![Ident, Minus, Ident, Eof]);
    }

    #[test]
    fn bracketed_names_versus_indexing() {
        use TokenKind::*;
        assert_eq!(kinds("project ['My Col']"), vec![Ident, LBracket, String, RBracket, Eof]);
        assert_eq!(kinds("d['x']"), vec![Ident, LBracket, String, RBracket, Eof]);
    }

    #[test]
    fn operators_and_comments() {
        use TokenKind::*;
        assert_eq!(
            kinds("a =~ b // note\n!~ != == <> => !has"),
            vec![Ident, EqTilde, Ident, BangTilde, NotEq, EqEq, LtGt, FatArrow, Bang, Ident, Eof]
        );
        let lexed = lex("a !has b");
        assert!(!lexed.tokens[2].space_before);
    }

    #[test]
    fn unterminated_string_is_reported_with_position() {
        let lexed = lex("where x == 'abc");
        assert_eq!(lexed.diagnostics.len(), 1);
        assert_eq!(lexed.diagnostics[0].span.start, 11);
    }
}
