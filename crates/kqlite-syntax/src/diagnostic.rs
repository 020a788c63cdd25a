//! Diagnostics: what went wrong, where, and what was expected.

use crate::span::{LineIndex, Span};
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, span, message: message.into() }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, span, message: message.into() }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders `file:line:col: error: message`, the source line and a caret
    /// under the span, the way rustc and ruff do.
    pub fn render(&self, source: &str, file_name: &str) -> String {
        let index = LineIndex::new(source);
        let (line, col) = index.line_col(self.span.start as usize);
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = String::new();
        let _ = writeln!(out, "{file_name}:{line}:{col}: {label}: {}", self.message);
        let text = index.line_text(line);
        let gutter = line.to_string();
        let _ = writeln!(out, "{} |", " ".repeat(gutter.len()));
        let _ = writeln!(out, "{gutter} | {text}");
        let (end_line, end_col) = index.line_col(self.span.end as usize);
        let width = if end_line == line { end_col.saturating_sub(col).max(1) } else { 1 };
        let pad: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let _ = writeln!(out, "{} | {pad}{}", " ".repeat(gutter.len()), "^".repeat(width));
        out
    }
}
