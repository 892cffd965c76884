//! `[[secret]]`: secret patterns in added lines. Scope: path and the sha256
//! of the matched secret (never the secret itself).
//!
//! One pass over each chunk of added text finds the keywords of every secret
//! constraint at once (a pair index on a typical commit, an Aho-Corasick DFA
//! once the change is large); only constraints whose keyword occurs (or that
//! have no keywords) run their regex. There is no per-rule pass over the
//! data.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::keywords::KeywordIndex;
use super::{display_path, finding, AddedChunk, ContentChange, Findings, Location};
use crate::detect::KnownPublic;
use crate::policy::{Constraint, Kind, Policy, SecretSpec, Severity};

/// The secret constraints of a policy with their shared keyword prefilter.
pub struct Matcher<'p> {
    rules: Vec<(&'p Constraint, &'p SecretSpec)>,
    /// The keyword index: nearly free to build, used while little text has
    /// been scanned (a typical commit).
    keywords: KeywordIndex,
    /// The keywords of two bytes or more as a DFA, built once the scanned
    /// text passes `DFA_AFTER` bytes: (automaton, keyword of each of its
    /// patterns).
    keywords_dfa: OnceLock<Option<(AhoCorasick, Vec<usize>)>>,
    patterns: Vec<&'p str>,
    scanned: AtomicUsize,
    /// For each keyword pattern `k`, the rules that list it:
    /// `keyword_rules[rule_starts[k]..rule_starts[k + 1]]`.
    rule_starts: Vec<u32>,
    keyword_rules: Vec<u32>,
    /// Rules without keywords: they run on every chunk.
    always: Vec<usize>,
}

impl<'p> Matcher<'p> {
    /// Collects the policy's secret constraints and builds the prefilter.
    pub fn new(policy: &'p Policy) -> Self {
        let rules: Vec<_> = policy
            .constraints
            .iter()
            .filter_map(|c| match &c.kind {
                Kind::Secret(s) => Some((c, &**s)),
                _ => None,
            })
            .collect();
        let mut patterns: Vec<&'p str> = Vec::new();
        // (keyword pattern, rule) for every keyword of every rule.
        let mut uses: Vec<(u32, u32)> = Vec::new();
        let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut always = Vec::new();
        for (i, (_, spec)) in rules.iter().enumerate() {
            if spec.keywords.is_empty() {
                always.push(i);
            }
            for k in &spec.keywords {
                let j = *index.entry(k.as_str()).or_insert_with(|| {
                    patterns.push(k);
                    patterns.len() as u32 - 1
                });
                uses.push((j, i as u32));
            }
        }
        // Grouped by keyword, each group in rule order.
        uses.sort_unstable();
        let mut rule_starts = Vec::with_capacity(patterns.len() + 1);
        let mut at = 0;
        for k in 0..patterns.len() as u32 {
            rule_starts.push(at as u32);
            while uses.get(at).is_some_and(|(j, _)| *j == k) {
                at += 1;
            }
        }
        rule_starts.push(at as u32);
        let keywords = KeywordIndex::new(&patterns);
        Matcher {
            rules,
            keywords,
            keywords_dfa: OnceLock::new(),
            patterns,
            scanned: AtomicUsize::new(0),
            rule_starts,
            keyword_rules: uses.into_iter().map(|(_, i)| i).collect(),
            always,
        }
    }

    /// The keyword DFA for the next `len` bytes, or `None` for the index.
    /// Every added byte goes through one of them, and a DFA's one table
    /// lookup per byte is faster than the index's; but building the DFA
    /// costs several milliseconds, more than a typical commit takes to scan.
    /// So the DFA is built only once the change turns out to be large.
    ///
    /// One-byte keywords (`:`) stay out of the DFA: they would match every
    /// few bytes of ordinary text, and each match costs far more than the
    /// byte. A `memchr` per chunk finds them.
    fn keywords_dfa(&self, len: usize) -> Option<&(AhoCorasick, Vec<usize>)> {
        let before = self.scanned.fetch_add(len, Ordering::Relaxed);
        if before.saturating_add(len) < DFA_AFTER {
            return None;
        }
        self.keywords_dfa
            .get_or_init(|| {
                let (ids, long): (Vec<usize>, Vec<&str>) = self
                    .patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.len() >= 2)
                    .map(|(i, k)| (i, *k))
                    .unzip();
                build_keywords(&long, AhoCorasickKind::DFA).map(|ac| (ac, ids))
            })
            .as_ref()
    }

    /// Runs every applicable secret constraint over the change's added lines.
    pub fn evaluate(&self, change: &ContentChange<'_>, out: &mut Findings) {
        if self.rules.is_empty() || change.added.is_empty() {
            return;
        }
        // Path filters are decided once per file, lazily.
        let mut path_ok: Vec<Option<bool>> = vec![None; self.rules.len()];
        let mut active = vec![false; self.rules.len()];
        for chunk in change.added {
            active.iter_mut().for_each(|a| *a = false);
            let mut remaining = self.rules.len();
            for &i in &self.always {
                active[i] = true;
                remaining -= 1;
            }
            let any_left = remaining > 0;
            let mut found = |k: usize| {
                let rules = &self.keyword_rules
                    [self.rule_starts[k] as usize..self.rule_starts[k + 1] as usize];
                for &i in rules {
                    let i = i as usize;
                    if !active[i] {
                        active[i] = true;
                        remaining -= 1;
                    }
                }
                remaining > 0
            };
            match self.keywords_dfa(chunk.text.len()) {
                Some((ac, ids)) => {
                    let more = self.keywords.each_single_present(chunk.text, &mut found);
                    // Each keyword counts once: its later matches cost only
                    // this check.
                    let mut seen = vec![false; ids.len()];
                    if more {
                        for m in ac.find_overlapping_iter(chunk.text) {
                            let p = m.pattern().as_usize();
                            if std::mem::replace(&mut seen[p], true) {
                                continue;
                            }
                            if !found(ids[p]) {
                                break;
                            }
                        }
                    }
                }
                None if any_left => self.keywords.each_present(chunk.text, found),
                None => {}
            }
            for (i, (c, spec)) in self.rules.iter().enumerate() {
                if !active[i] {
                    continue;
                }
                let ok = *path_ok[i].get_or_insert_with(|| {
                    spec.paths.as_ref().is_none_or(|p| p.matches(change.path))
                        && !spec
                            .exclude_paths
                            .as_ref()
                            .is_some_and(|p| p.matches(change.path))
                });
                if ok {
                    scan(c, spec, change, chunk, out);
                }
            }
        }
    }
}

/// Scanned bytes after which the keyword DFA pays for its build.
const DFA_AFTER: usize = 1 << 20;

fn build_keywords<P: AsRef<[u8]>>(patterns: &[P], kind: AhoCorasickKind) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .build(patterns)
        .ok()
}

fn scan(
    c: &Constraint,
    spec: &SecretSpec,
    change: &ContentChange<'_>,
    chunk: &AddedChunk<'_>,
    out: &mut Findings,
) {
    let text = chunk.text;
    let mut line = chunk.first_line;
    let mut counted_to = 0;
    for caps in spec.regex.captures_iter(text) {
        let Some(m) = caps.get(spec.secret_group).or_else(|| caps.get(0)) else {
            continue;
        };
        let secret = m.as_bytes();
        if secret.is_empty() || !chunk.report.contains(&m.start()) {
            continue;
        }
        if spec
            .entropy
            .is_some_and(|min| shannon_entropy(secret) < min)
        {
            continue;
        }
        if spec.allow.iter().any(|a| a.is_match(secret)) {
            continue;
        }
        let whole = caps.get(0).map_or(secret, |w| w.as_bytes());
        let public = KnownPublic::builtin();
        if public.is_public_value(secret, whole) {
            continue;
        }
        let (line, column, offset) = match chunk.run {
            Some(run) => (
                None,
                None,
                Some(run.offset + m.start() as u64 * u64::from(run.stride)),
            ),
            None => {
                line += count_newlines(&text[counted_to..m.start()]);
                counted_to = m.start();
                (Some(line), Some(column_of(text, m.start())), None)
            }
        };
        let digest = Sha256::digest(secret);
        let mut evidence = redact(secret);
        if let Some(marker) = inline_marker(text, m.start(), m.end()) {
            evidence.push_str(&format!(
                " (the inline `{marker}` marker is not honoured: tollgate has no inline bypass; pass a reviewed exception with an [[allow]] rule)"
            ));
        }
        let mut f = finding(
            c,
            &[change.path, &digest],
            Location {
                path: Some(display_path(change.path)),
                line,
                column,
                offset,
                commit: change.commit.map(str::to_string),
                ..Location::default()
            },
            evidence,
        );
        // A checksum that verifies is said; one that fails means the vendor
        // never issued this value (a placeholder, an edited or truncated
        // token): at most a warning.
        if let Some(check) = spec.checksum {
            if check.verify(secret) {
                f.evidence.push_str(" (checksum: verified)");
            } else {
                f.severity = Severity::Warn;
                f.evidence.push_str(&format!(
                    " (checksum: failed, {} does not verify: not an issued token)",
                    check.name()
                ));
            }
        }
        if public.has_context(&c.id) {
            if let Some(ctx) = public.context_for(&c.id, text, m.range()) {
                f.severity = Severity::Warn;
                f.evidence.push_str(&format!(" ({})", ctx.message));
            }
        }
        out.push(f);
    }
}

/// The 1-based column of byte `at` in its line of `text`, counted in
/// Unicode code points (what SARIF's `unicodeCodePoints` column kind and
/// editors count); a byte that is not valid UTF-8 counts as one.
fn column_of(text: &[u8], at: usize) -> u32 {
    let start = text[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let chars = text[start..at]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    u32::try_from(chars).unwrap_or(u32::MAX).saturating_add(1)
}

/// The inline allow marker (gitleaks' `gitleaks:allow`, or
/// `tollgate:allow`) on the line holding `start..end`, if any. It is
/// recognised only to say that it does nothing.
fn inline_marker(text: &[u8], start: usize, end: usize) -> Option<&'static str> {
    let from = text[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let to = text[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| end + i);
    let line = &text[from..to];
    ["gitleaks:allow", "tollgate:allow"].into_iter().find(|m| {
        line.windows(m.len())
            .any(|w| w.eq_ignore_ascii_case(m.as_bytes()))
    })
}

fn count_newlines(b: &[u8]) -> u32 {
    super::content::newlines(b)
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// A secret as it may be shown: a short prefix for recognition (never more
/// than a quarter of it), then `…[redacted]`.
pub fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let n = text.chars().count();
    let show = match n {
        0..=11 => 0,
        12..=15 => 2,
        _ => 4,
    };
    let prefix: String = text
        .chars()
        .take(show)
        .filter(|c| !c.is_control())
        .collect();
    format!("{prefix}…[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn inline_markers_are_recognised_on_the_secrets_line_only() {
        let text = b"a = 1\nkey = SECRET # gitleaks:allow\nb = 2 # tollgate:allow\n";
        let start = 12;
        assert_eq!(
            inline_marker(text, start, start + 6),
            Some("gitleaks:allow")
        );
        assert_eq!(inline_marker(text, 0, 1), None);
        assert_eq!(
            inline_marker(b"x TOLLGATE:ALLOW", 0, 1),
            Some("tollgate:allow")
        );
    }

    #[test]
    fn columns_count_code_points_from_the_start_of_the_line() {
        let text = "a = 1\nclé: SECRET\n".as_bytes();
        let at = text.windows(6).position(|w| w == b"SECRET").unwrap();
        // `clé: ` is five code points (six bytes).
        assert_eq!(column_of(text, at), 6);
        assert_eq!(column_of(text, 0), 1);
        assert_eq!(column_of(text, 6), 1);
    }

    #[test]
    fn redaction_never_shows_more_than_a_quarter() {
        assert_eq!(redact(b"AKIAZ7Q2LMNOPQRS3TUV"), "AKIA…[redacted]");
        assert_eq!(redact(b"hunter2"), "…[redacted]");
        assert_eq!(redact(b"abcdefghijklm"), "ab…[redacted]");
    }
}
