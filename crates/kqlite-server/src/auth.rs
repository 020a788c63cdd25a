//! Bearer tokens: the request's `Authorization: Bearer TOKEN` must equal one
//! of the tokens the server was given, compared in constant time (`subtle`)
//! so the comparison's time does not tell how much of a guess was right.

use subtle::ConstantTimeEq;

/// The accepted tokens; none means no authentication (loopback only, see
/// [`crate::check_bind`]).
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<Vec<u8>>,
}

impl Tokens {
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Tokens {
        Tokens { tokens: tokens.into_iter().map(|t| t.trim().as_bytes().to_vec()).filter(|t| !t.is_empty()).collect() }
    }

    /// A token file's tokens: one per line; blank lines and `#` comments are skipped.
    pub fn from_file_text(text: &str) -> Tokens {
        Tokens::new(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string))
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether an `Authorization` header value is accepted. Every token is
    /// compared (no early exit), so timing does not tell which one matched.
    pub fn accepts(&self, authorization: Option<&str>) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        let Some(value) = authorization else { return false };
        let Some(given) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return false;
        };
        let given = given.trim().as_bytes();
        let mut matched = subtle::Choice::from(0u8);
        for token in &self.tokens {
            matched |= token.as_slice().ct_eq(given);
        }
        bool::from(matched)
    }
}
