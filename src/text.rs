//! Small text helpers every layer shares: escaping what a person reads,
//! shortening a hex id, pluralising a count. One of each, here, so the
//! layers need not reach across each other for them.
//!
//! It owns no concept of tollgate's and depends on no other module.

/// Control characters (C0, DEL, C1) and the Unicode bidirectional
/// controls and marks: what can move a terminal's cursor, recolour it or
/// reorder what a person reads.
pub fn is_hostile(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// A name as shown to people: control characters (a newline in a file
/// name, an escape sequence, a bidi override) are written as escapes, so a
/// hostile name cannot forge or hide output lines.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let hostile = is_hostile;
    if !s.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if hostile(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The first 12 characters of a hex id (fewer if it is shorter; never
/// splits a character of a hostile non-ASCII string). Never panics, so it
/// is safe on any value a hook reads.
pub fn short_sha(sha: &str) -> &str {
    match sha.char_indices().nth(12) {
        Some((i, _)) => &sha[..i],
        None => sha,
    }
}

/// `"s"` unless `n` is 1: `format!("{n} blocker{}", plural(n))`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sha_never_splits_or_panics() {
        assert_eq!(short_sha(&"a".repeat(40)), "a".repeat(12));
        assert_eq!(short_sha("abc"), "abc");
        assert_eq!(short_sha("ééééééééééééé"), "éééééééééééé");
        assert_eq!(plural(1), "");
        assert_eq!(plural(0), "s");
    }
}
