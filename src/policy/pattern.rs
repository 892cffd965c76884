//! Secret regexes: checked at load, compiled on first use.
//!
//! Compiling the recommended pack's regexes costs far more than everything
//! else a pre-commit hook does, and on a typical commit the keyword
//! prefilter lets only a handful of them run. So loading only *parses* each
//! pattern (cheap, and the same parser the regex crate uses, so an invalid
//! pattern gets the same message at the same place), and the automaton is
//! built the first time the engine needs it.
//!
//! The one check that parsing cannot make is the compiled-size limit. A
//! pattern whose parsed form could come near the limit (a large Unicode class
//! repeated many times, nested counted repetitions) is compiled at load, so
//! an oversized pattern is still refused there with its position; every other
//! pattern is small by construction and compiles lazily.

use std::ops::Deref;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Regexes larger than this once compiled are refused: a policy must not be
/// able to make every hook slow or memory-hungry.
pub(super) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Parsed patterns whose estimated automaton is larger than this many states
/// are compiled at load, where the exact size check runs. The estimate counts
/// one state per literal byte, per byte range of a class (four per Unicode
/// range, for its UTF-8 forms) and per repetition copy; at the regex crate's
/// few dozen bytes per state, a pattern under this bound stays far below
/// `REGEX_SIZE_LIMIT`. Every pattern of the builtin packs is under it (a
/// test checks), so a hook compiles only what it runs.
const EAGER_STATES: usize = REGEX_SIZE_LIMIT / 64;

/// A validated regex (multi-line mode, over bytes), compiled on first use.
/// Dereferences to the compiled [`Regex`].
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    captures: usize,
    /// Compiled with ASCII classes, word boundaries and case folding (the
    /// builtin packs, whose patterns and cases are ASCII).
    ascii: bool,
    compiled: OnceLock<Regex>,
}

impl Pattern {
    /// Checks `source` and keeps it for later compilation; the error is a
    /// one-line reason, as it appears after `invalid regex:`.
    pub(super) fn new(source: &str) -> Result<Pattern, PatternError> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .multi_line(true)
            .build()
            .parse(source)
            .map_err(|e| PatternError::Invalid(one_line(&e.to_string())))?;
        let pattern = Pattern {
            source: source.to_string(),
            captures: hir.properties().explicit_captures_len(),
            ascii: false,
            compiled: OnceLock::new(),
        };
        if estimate_states(&hir) > EAGER_STATES {
            let regex = build(source, Some(REGEX_SIZE_LIMIT), false).map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => PatternError::TooBig(limit),
                other => PatternError::Invalid(one_line(&other.to_string())),
            })?;
            let _ = pattern.compiled.set(regex);
        }
        Ok(pattern)
    }

    /// A pattern of a builtin pack, unchanged: its text is part of the
    /// binary, and the test suite parses, size-checks and compiles every one
    /// (`builtin_patterns_are_valid_and_counted`), so loading skips the parse,
    /// which is most of what loading the recommended pack costs. Only the
    /// capture groups are counted, by a scan.
    ///
    /// It is compiled in ASCII mode (`\b`, `\w`, classes and `(?i)` over
    /// ASCII, `.` and negated classes over any byte): what a credential's
    /// alphabet is, and an automaton a fraction of the size of the Unicode
    /// one (a negated class or `(?i)` in Unicode mode spans every UTF-8
    /// form), which is most of what a typical commit's hook spends. A
    /// builtin pattern that needs Unicode falls back to it.
    pub(super) fn trusted(source: &str) -> Pattern {
        Pattern {
            source: source.to_string(),
            captures: count_captures(source),
            ascii: true,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Number of explicit capture groups (group 0 not counted).
    pub fn explicit_captures(&self) -> usize {
        self.captures
    }

    /// Whether the automaton has been built yet.
    pub fn is_compiled(&self) -> bool {
        self.compiled.get().is_some()
    }

    /// The compiled regex, built now if this is the first use.
    pub fn regex(&self) -> &Regex {
        self.compiled.get_or_init(|| {
            // Parsing succeeded and the estimate is below the size limit, so
            // this build succeeds; should the estimate ever be wrong, the
            // pattern still runs rather than being skipped (detection never
            // depends on the estimate), just without the size limit.
            build(&self.source, Some(REGEX_SIZE_LIMIT), self.ascii)
                .or_else(|_| build(&self.source, Some(REGEX_SIZE_LIMIT), false))
                .or_else(|_| build(&self.source, None, false))
                .unwrap_or_else(|_| never_matches())
        })
    }
}

impl Deref for Pattern {
    type Target = Regex;

    fn deref(&self) -> &Regex {
        self.regex()
    }
}

/// Why a pattern is refused at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PatternError {
    /// Not a valid regex; one line saying why.
    Invalid(String),
    /// Over the compiled-size limit (in bytes).
    TooBig(usize),
}

fn build(source: &str, limit: Option<usize>, ascii: bool) -> Result<Regex, regex::Error> {
    let mut b = RegexBuilder::new(source);
    b.multi_line(true).unicode(!ascii);
    if let Some(limit) = limit {
        b.size_limit(limit);
    }
    b.build()
}

/// A regex that matches nothing. Only reachable if a pattern that parsed
/// cannot be built even without a size limit, which the regex crate does not
/// do for patterns its own parser accepts.
fn never_matches() -> Regex {
    Regex::new(r"[^\x00-\x{10FFFF}]").unwrap_or_else(|_| unreachable!("a fixed, valid regex"))
}

/// The regex crate's messages span several lines with their own caret; keep
/// the last `error:` line, which says what is wrong.
fn one_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| text.to_string())
}

/// Capture groups by a scan that knows escapes, (nested) classes and the
/// `(?…)` forms, of which only `(?P<name>…)` and `(?<name>…)` capture. Used
/// only for the builtin packs, where a test checks it against the parser.
pub(super) fn count_captures(pattern: &str) -> usize {
    let b = pattern.as_bytes();
    let (mut i, mut n, mut depth) = (0, 0, 0usize);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => {
                depth += 1;
                // `[]…]` and `[^]…]`: a leading `]` is a literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if depth > 0 => depth -= 1,
            b'(' if depth == 0 => {
                let rest = &b[i + 1..];
                if !rest.starts_with(b"?") || rest.starts_with(b"?P<") || rest.starts_with(b"?<") {
                    n += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    n
}

/// An upper-bound-minded estimate of the automaton's states: repetitions
/// multiply their body, classes count their ranges (times four for the UTF-8
/// encodings of a Unicode range).
fn estimate_states(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len().max(1),
        HirKind::Class(Class::Bytes(c)) => c.ranges().len().max(1),
        HirKind::Class(Class::Unicode(c)) => c.ranges().len().saturating_mul(4).max(1),
        HirKind::Repetition(r) => {
            let copies = match r.max {
                Some(max) => max.max(1) as usize,
                None => (r.min as usize).saturating_add(1),
            };
            estimate_states(&r.sub)
                .saturating_add(1)
                .saturating_mul(copies)
        }
        HirKind::Capture(c) => estimate_states(&c.sub).saturating_add(2),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs
            .iter()
            .map(estimate_states)
            .fold(1usize, |a, b| a.saturating_add(b).saturating_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_patterns_are_not_compiled_at_load() {
        let p = Pattern::new(r"\b(ghp_[A-Za-z0-9]{36})\b").expect("valid");
        assert!(!p.is_compiled());
        assert_eq!(p.explicit_captures(), 1);
        assert!(p.is_match(b"x\nghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"));
        assert!(p.is_compiled());
    }

    #[test]
    fn patterns_near_the_limit_are_compiled_at_load() {
        assert_eq!(
            Pattern::new(r"a{1000}{1000}").map(|_| ()),
            Err(PatternError::TooBig(REGEX_SIZE_LIMIT))
        );
        assert!(Pattern::new(r"\w{10}").is_ok_and(|p| p.is_compiled()));
        assert!(Pattern::new(r"\w{3}").is_ok_and(|p| !p.is_compiled()));
    }

    #[test]
    fn captures_are_counted_like_the_parser() {
        for p in [
            r"a(b)(?:c)(?P<x>d)(?<y>e)(?i)f",
            r"[(]\(([)\]])",
            r"[^]()](x)[]](y)",
            r"[[:alpha:](](z)",
        ] {
            let parsed = Pattern::new(p).expect("valid").explicit_captures();
            assert_eq!(count_captures(p), parsed, "{p}");
        }
    }

    #[test]
    fn the_fallback_matches_nothing() {
        assert!(!never_matches().is_match(b"abc\n\xFF"));
    }

    #[test]
    fn multi_line_mode_and_bytes() {
        let p = Pattern::new(r"^tok$").expect("valid");
        assert!(p.is_match(b"a\ntok\nb"));
        let p = Pattern::new(r"(?-u:\xFF)").expect("bytes patterns are allowed");
        assert!(p.is_match(b"\xFF"));
    }

    #[test]
    fn invalid_patterns_say_why_like_the_regex_crate() {
        for bad in [r"tok_([a-z]", r"[z", r"a{2,1}", r"\p{Nope}", r"(?P<1>x)"] {
            let ours = match Pattern::new(bad) {
                Err(PatternError::Invalid(why)) => why,
                other => panic!("{bad}: {other:?}"),
            };
            let theirs = one_line(&build(bad, None, false).expect_err("invalid").to_string());
            assert_eq!(ours, theirs, "{bad}");
        }
    }
}
