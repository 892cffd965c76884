//! Policy diagnostics: one message at one byte span of one file, rendered
//! with file, line, column and a caret under the offending text.
//!
//! This module only formats; it decides nothing about what is valid.

use std::fmt;
use std::ops::Range;

/// One problem in a policy file, located by byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Name of the file as the user should see it (a path or `builtin:NAME`).
    pub file: String,
    /// The file's full text, used to compute line and column.
    pub source: std::sync::Arc<str>,
    /// Byte span of the offending text; empty spans point at one column.
    pub span: Range<usize>,
    /// Lower-case message without a trailing period.
    pub message: String,
}

impl Diagnostic {
    /// The 1-based line and column (in characters) where the span starts.
    pub fn line_col(&self) -> (usize, usize) {
        let start = self.span.start.min(self.source.len());
        let before = &self.source[..floor_char_boundary(&self.source, start)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    /// Renders like rustc: `error: …`, ` --> file:line:col`, the line and a caret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "  --> {}:{}:{}", self.file, line, col)?;
        let text = self.source.lines().nth(line - 1).unwrap_or("");
        let width = line.to_string().len();
        // The caret covers the span, but never past the end of this line.
        let start = floor_char_boundary(&self.source, self.span.start.min(self.source.len()));
        let end = floor_char_boundary(&self.source, self.span.end.min(self.source.len()));
        let on_line = self.source[start..end]
            .split('\n')
            .next()
            .unwrap_or("")
            .chars()
            .count()
            .max(1);
        // Tabs are kept in the padding so the caret lines up under them.
        let pad: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        writeln!(f, "{:width$} |", "")?;
        writeln!(f, "{line:width$} | {text}")?;
        write!(f, "{:width$} | {pad}{}", "", "^".repeat(on_line))
    }
}

/// Every problem found in a policy, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_span_on_its_line() {
        let source: std::sync::Arc<str> = "a = 1\nregx = \"x\"\n".into();
        let d = Diagnostic {
            file: "p.toml".into(),
            source,
            span: 6..10,
            message: "unknown field `regx`".into(),
        };
        assert_eq!(d.line_col(), (2, 1));
        let text = d.to_string();
        assert!(text.contains("--> p.toml:2:1"), "{text}");
        assert!(text.ends_with("  | ^^^^"), "{text}");
    }
}
