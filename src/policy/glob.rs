//! Glob sets for branch names and repository paths, compiled once at load.
//!
//! Path globs follow gitignore's habit: a pattern without `/` matches a file
//! name at any depth (`.env`, `*.p12`); a pattern with `/` is anchored at the
//! repository root (`config/*.key`); `**` crosses directories, `*` does not.

use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use toml::Spanned;

fn build(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

fn compile_set<'a>(
    patterns: impl IntoIterator<Item = (&'a Spanned<String>, Vec<String>)>,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<GlobSet> {
    let mut set = GlobSetBuilder::new();
    let mut ok = true;
    for (spanned, variants) in patterns {
        if spanned.get_ref().is_empty() {
            report(spanned.span(), "empty glob".into());
            ok = false;
            continue;
        }
        for v in variants {
            match build(&v) {
                Ok(g) => {
                    set.add(g);
                }
                Err(e) => {
                    report(
                        spanned.span(),
                        format!("invalid glob `{}`: {}", spanned.get_ref(), e.kind()),
                    );
                    ok = false;
                    break;
                }
            }
        }
    }
    if !ok {
        return None;
    }
    match set.build() {
        Ok(s) => Some(s),
        Err(e) => {
            report(0..0, format!("cannot build glob set: {e}"));
            None
        }
    }
}

/// Branch patterns: short names (`main`, `release/*`) match `refs/heads/…`;
/// patterns starting with `refs/` match full ref names (`refs/tags/v*`).
#[derive(Debug, Clone)]
pub struct BranchSet {
    short: GlobSet,
    full: GlobSet,
    patterns: Vec<String>,
}

impl BranchSet {
    /// Compiles a non-empty list of branch globs.
    pub(crate) fn compile(
        list: &Spanned<Vec<Spanned<String>>>,
        report: &mut impl FnMut(Range<usize>, String),
    ) -> Option<BranchSet> {
        if list.get_ref().is_empty() {
            report(
                list.span(),
                "`branches` must list at least one branch or glob".into(),
            );
            return None;
        }
        let (full, short): (Vec<_>, Vec<_>) = list
            .get_ref()
            .iter()
            .partition(|p| p.get_ref().starts_with("refs/"));
        let short = compile_set(
            short.into_iter().map(|p| (p, vec![p.get_ref().clone()])),
            report,
        );
        let full = compile_set(
            full.into_iter().map(|p| (p, vec![p.get_ref().clone()])),
            report,
        );
        Some(BranchSet {
            short: short?,
            full: full?,
            patterns: list.get_ref().iter().map(|p| p.get_ref().clone()).collect(),
        })
    }

    /// Whether a full ref name (`refs/heads/main`) matches.
    pub fn matches_ref(&self, full_ref: &str) -> bool {
        if self.full.is_match(full_ref) {
            return true;
        }
        full_ref
            .strip_prefix("refs/heads/")
            .is_some_and(|b| self.short.is_match(b))
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Path patterns, matched against repository-relative paths (raw bytes).
#[derive(Debug, Clone)]
pub struct PathSet {
    set: GlobSet,
}

impl PathSet {
    /// Compiles path globs; a pattern without `/` also matches at any depth.
    pub(crate) fn compile(
        list: &[Spanned<String>],
        report: &mut impl FnMut(Range<usize>, String),
    ) -> Option<PathSet> {
        let variants = list.iter().map(|p| {
            let raw = p.get_ref();
            // `dir/` names a directory: everything below it.
            let (raw, dir) = match raw.strip_suffix('/') {
                Some(d) if !d.is_empty() => (d, true),
                _ => (raw.as_str(), false),
            };
            let s = raw.trim_start_matches('/').to_string();
            let anchored = raw.contains('/') || s.starts_with("**");
            let mut v = if anchored {
                vec![s]
            } else {
                vec![s.clone(), format!("**/{s}")]
            };
            if dir {
                v = v.into_iter().map(|g| format!("{g}/**")).collect();
            }
            (p, v)
        });
        compile_set(variants, report).map(|set| PathSet { set })
    }

    /// Whether a path matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        self.set
            .is_match_candidate(&Candidate::new(std::ffi::OsStr::from_bytes(path)))
    }
}
