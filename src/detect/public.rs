//! Values that are not secrets although a rule matches them: the example
//! keys vendors print in their documentation, and keys that are public by
//! design in a recognisable context (a Firebase web app's `apiKey`).
//!
//! The list is `policies/known-public.toml`, embedded in the binary and
//! applied to every secret rule, builtin or not: a documented example value
//! is never reported, and a rule named by a `[[context]]` entry reports a
//! warning (with that entry's message) instead of a blocker when the
//! context's words occur around the match.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

/// Values that vendors publish as examples or that are public by design:
/// never a secret, whatever rule matches them.
pub const KNOWN_PUBLIC: &str = include_str!("../../policies/known-public.toml");

/// A problem in the known-public list.
#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    /// The file is not valid TOML of the expected shape.
    #[error("known-public list: {0}")]
    Parse(String),
    /// An entry is unusable.
    #[error("known-public list: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(default)]
    value: Vec<RawValue>,
    #[serde(default)]
    context: Vec<RawContext>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    service: String,
    value: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContext {
    rules: Vec<String>,
    near: Vec<String>,
    #[serde(rename = "at-least")]
    at_least: usize,
    lines: u32,
    message: String,
    source: String,
}

/// A context in which a rule's match is public by design.
#[derive(Debug, Clone)]
pub struct PublicContext {
    /// Rule ids this applies to.
    pub rules: Vec<String>,
    /// Lower-case words looked for around the match.
    pub near: Vec<String>,
    /// How many distinct words must occur.
    pub at_least: usize,
    /// How many lines before and after the match are looked at.
    pub lines: u32,
    /// Shown with the (downgraded) finding.
    pub message: String,
}

/// The parsed list.
#[derive(Debug, Clone, Default)]
pub struct KnownPublic {
    values: HashSet<String>,
    contexts: Vec<PublicContext>,
}

impl KnownPublic {
    /// Parses a list in the format of `policies/known-public.toml`.
    pub fn parse(text: &str) -> Result<KnownPublic, PublicError> {
        let raw: RawList = toml::from_str(text).map_err(|e| PublicError::Parse(e.to_string()))?;
        let mut values = HashSet::new();
        for v in raw.value {
            if v.value.len() < 8 || v.service.is_empty() || v.source.is_empty() {
                return Err(PublicError::Invalid(format!(
                    "entry for `{}` needs a value of at least 8 characters, a service and a source",
                    v.service
                )));
            }
            values.insert(v.value);
        }
        let mut contexts = Vec::new();
        for c in raw.context {
            if c.rules.is_empty()
                || c.near.is_empty()
                || c.at_least == 0
                || c.at_least > c.near.len()
                || c.source.is_empty()
            {
                return Err(PublicError::Invalid(format!(
                    "context for {:?} needs rules, words, 1 <= at-least <= words and a source",
                    c.rules
                )));
            }
            contexts.push(PublicContext {
                rules: c.rules,
                near: c.near.iter().map(|w| w.to_ascii_lowercase()).collect(),
                at_least: c.at_least,
                lines: c.lines,
                message: c.message,
            });
        }
        Ok(KnownPublic { values, contexts })
    }

    /// The builtin list. A list that fails to parse (the test suite makes
    /// sure the shipped one does not) suppresses nothing, so a mistake in
    /// it can only report more, never less.
    pub fn builtin() -> &'static KnownPublic {
        static LIST: OnceLock<KnownPublic> = OnceLock::new();
        LIST.get_or_init(|| KnownPublic::parse(KNOWN_PUBLIC).unwrap_or_default())
    }

    /// Whether `secret` (or the whole match) is a documented public value.
    pub fn is_public_value(&self, secret: &[u8], whole: &[u8]) -> bool {
        let known = |b: &[u8]| std::str::from_utf8(b).is_ok_and(|s| self.values.contains(s));
        known(secret) || known(whole)
    }

    /// Number of documented values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the list has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether any context could apply to rule `id` (cheap, checked before
    /// the text around a match is looked at).
    pub fn has_context(&self, id: &str) -> bool {
        self.contexts
            .iter()
            .any(|c| c.rules.iter().any(|r| r == id))
    }

    /// The context of rule `id` whose words occur in `text` within its
    /// line window around byte range `at`, if any.
    pub fn context_for(
        &self,
        id: &str,
        text: &[u8],
        at: std::ops::Range<usize>,
    ) -> Option<&PublicContext> {
        self.contexts
            .iter()
            .filter(|c| c.rules.iter().any(|r| r == id))
            .find(|c| {
                let window = line_window(text, at.clone(), c.lines).to_ascii_lowercase();
                let hits = c
                    .near
                    .iter()
                    .filter(|w| window.windows(w.len()).any(|x| x == w.as_bytes()))
                    .count();
                hits >= c.at_least
            })
    }
}

/// The bytes of `text` from `lines` lines before `at` to `lines` lines after.
fn line_window(text: &[u8], at: std::ops::Range<usize>, lines: u32) -> &[u8] {
    let mut start = at.start.min(text.len());
    for _ in 0..=lines {
        match text[..start].iter().rposition(|&b| b == b'\n') {
            Some(i) => start = i,
            None => {
                start = 0;
                break;
            }
        }
    }
    let mut end = at.end.min(text.len());
    for _ in 0..=lines {
        match text[end..].iter().position(|&b| b == b'\n') {
            Some(i) => end += i + 1,
            None => {
                end = text.len();
                break;
            }
        }
    }
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_parses_and_holds_the_documented_examples() {
        let list = KnownPublic::parse(KNOWN_PUBLIC).expect("known-public.toml parses");
        assert!(list.len() >= 10, "{} values", list.len());
        assert!(list.is_public_value(b"AKIAIOSFODNN7EXAMPLE", b""));
        assert!(!list.is_public_value(b"AKIAIOSFODNN7EXAMPLF", b""));
        assert!(list.has_context("google-api-key"));
    }

    #[test]
    fn context_needs_its_words_within_the_window() {
        let list = KnownPublic::parse(
            r#"
[[context]]
rules = ["r"]
near = ["authdomain", "projectid"]
at-least = 2
lines = 2
message = "m"
source = "s"
"#,
        )
        .expect("parses");
        let text = b"a\nauthDomain: x\nKEY\nprojectId: y\nb\n";
        let at = 16..19;
        assert_eq!(&text[at.clone()], b"KEY");
        assert!(list.context_for("r", text, at.clone()).is_some());
        assert!(list.context_for("other", text, at).is_none());
        let far = b"authDomain\n1\n2\n3\n4\nKEY\nprojectId\n";
        let at = 19..22;
        assert_eq!(&far[at.clone()], b"KEY");
        assert!(list.context_for("r", far, at).is_none());
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(KnownPublic::parse(
            "[[value]]\nservice = \"x\"\nvalue = \"short\"\nsource = \"s\"\n"
        )
        .is_err());
        assert!(KnownPublic::parse("[[nope]]\n").is_err());
    }
}
