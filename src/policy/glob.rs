//! Glob sets for branch names and repository paths, compiled once at load.
//!
//! Path globs follow gitignore's habit: a pattern without `/` matches a file
//! name at any depth (`.env`, `*.p12`); a pattern with `/` is anchored at the
//! repository root (`config/*.key`); `**` crosses directories, `*` does not.

use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

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
    let set = parse_set(patterns, report)?;
    build_set(&set, report)
}

fn build_set(
    set: &GlobSetBuilder,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<GlobSet> {
    match set.build() {
        Ok(s) => Some(s),
        Err(e) => {
            report(0..0, format!("cannot build glob set: {e}"));
            None
        }
    }
}

/// Parses every glob (each problem reported at its pattern) without
/// building the set's matcher.
fn parse_set<'a>(
    patterns: impl IntoIterator<Item = (&'a Spanned<String>, Vec<String>)>,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<GlobSetBuilder> {
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
    ok.then_some(set)
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
    set: OnceLock<GlobSet>,
    /// The parsed globs of a set whose matcher is built on first use.
    pending: Option<GlobSetBuilder>,
}

impl PathSet {
    /// Compiles path globs; a pattern without `/` also matches at any depth.
    pub(crate) fn compile(
        list: &[Spanned<String>],
        report: &mut impl FnMut(Range<usize>, String),
    ) -> Option<PathSet> {
        Self::compile_as(list, false, report)
    }

    /// [`PathSet::compile`], where `trusted` (the globs of a builtin pack,
    /// which the test suite builds) only parses them now and builds the
    /// matcher the first time a path is matched: a hook builds only the sets
    /// it uses. A user's globs are always built at load, so a set too large
    /// to build is refused there with the others' problems.
    pub(crate) fn compile_as(
        list: &[Spanned<String>],
        trusted: bool,
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
        let builder = parse_set(variants, report)?;
        if trusted {
            return Some(PathSet {
                set: OnceLock::new(),
                pending: Some(builder),
            });
        }
        let set = build_set(&builder, report)?;
        Some(PathSet {
            set: OnceLock::from(set),
            pending: None,
        })
    }

    /// Whether the set's matcher builds (for the test that every builtin
    /// one does).
    #[cfg(test)]
    pub(crate) fn builds(&self) -> bool {
        self.set.get().is_some() || self.pending.as_ref().is_some_and(|b| b.build().is_ok())
    }

    /// Whether a path matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        self.set
            .get_or_init(|| {
                // Only a builtin pack's set is pending. Building the same
                // globs gives the same result every time, and the test suite
                // builds every builtin set (`every_builtin_glob_set_builds`),
                // so this cannot fail for them.
                self.pending
                    .as_ref()
                    .and_then(|b| b.build().ok())
                    .unwrap_or_else(GlobSet::empty)
            })
            .is_match_candidate(&Candidate::new(std::ffi::OsStr::from_bytes(path)))
    }
}
