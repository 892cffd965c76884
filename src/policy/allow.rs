//! `[[allow]]`: durable, reviewed exceptions for one constraint on a narrow
//! set of paths (test fixtures, vendored samples), each with a reason and an
//! expiry. They are refused at load time when they are over-broad, lack a
//! reason or an expiry, expire further ahead than `[overrides]
//! max-allow-days`, or name an `override = "never"` constraint: an explicit
//! deny is stronger than any allow rule.

use std::ops::Range;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::glob::{BranchSet, PathSet};
use super::{Constraint, OverrideMode};

/// How far ahead an allow rule may expire when the policy does not say.
pub const DEFAULT_MAX_ALLOW_DAYS: u32 = 180;

/// `[[allow]]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAllow {
    /// Optional name shown when the rule passes a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Spanned<String>>,
    /// The constraint it relaxes.
    pub constraint: Spanned<String>,
    /// Exact paths or narrow globs.
    pub paths: Spanned<Vec<Spanned<String>>>,
    /// Only when every branch the event targets matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Spanned<Vec<Spanned<String>>>>,
    /// Why this exception is sound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Spanned<String>>,
    /// The last day it applies (a TOML date: `2027-03-01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Spanned<toml::value::Datetime>>,
    /// Who reviewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// A validated allow rule.
#[derive(Debug, Clone)]
pub struct AllowRule {
    /// `id`, else `<file>:<line>`.
    pub name: String,
    /// The constraint it relaxes.
    pub constraint: String,
    /// Where it applies.
    pub paths: PathSet,
    /// The patterns as written (for output).
    pub path_patterns: Vec<String>,
    /// Branch restriction, if any.
    pub branches: Option<BranchSet>,
    /// Why.
    pub reason: String,
    /// Last day it applies (UTC).
    pub expires: NaiveDate,
    /// Who reviewed it.
    pub approved_by: Option<String>,
}

impl AllowRule {
    /// Whether it has expired by `today`.
    pub fn expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }
}

/// A path pattern that names nothing in particular: only wildcards and
/// separators (`*`, `**`, `**/*`, `*/`, `?`).
fn over_broad(pattern: &str) -> bool {
    pattern
        .chars()
        .all(|c| matches!(c, '*' | '?' | '/' | '.' | '[' | ']' | '!'))
}

/// Validates one rule against the merged constraints. `line` names it when
/// it has no id.
#[allow(clippy::too_many_arguments)]
pub(super) fn compile(
    raw: &RawAllow,
    entry: Range<usize>,
    name_if_unnamed: String,
    constraints: &[Constraint],
    max_days: u32,
    today: NaiveDate,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<AllowRule> {
    let mut ok = true;
    let mut fail = |span: Range<usize>, msg: String| {
        ok = false;
        report(span, msg);
    };
    let id = raw.constraint.get_ref();
    match constraints.iter().find(|c| &c.id == id) {
        None => fail(
            raw.constraint.span(),
            format!("allow rule for unknown constraint `{id}`"),
        ),
        Some(c) if c.override_mode == OverrideMode::Never => fail(
            raw.constraint.span(),
            format!("`{id}` has `override = \"never\"`: no allow rule relaxes it"),
        ),
        Some(c) if matches!(c.kind, super::Kind::PolicyChange(_)) => fail(
            raw.constraint.span(),
            format!("`{id}` guards the policy itself: no allow rule relaxes it (a policy change needs an override the trusted policy approves)"),
        ),
        Some(_) => {}
    }
    if raw.paths.get_ref().is_empty() {
        fail(
            raw.paths.span(),
            "`paths` must list the exact files or narrow globs the rule covers".into(),
        );
    }
    for p in raw.paths.get_ref() {
        if over_broad(p.get_ref()) {
            fail(
                p.span(),
                format!(
                    "`{}` is too broad for an allow rule: name the files or a narrow glob (like `tests/fixtures/*.pem`)",
                    p.get_ref()
                ),
            );
        }
    }
    let reason = match &raw.reason {
        Some(r) if !r.get_ref().trim().is_empty() => r.get_ref().trim().to_string(),
        Some(r) => {
            fail(
                r.span(),
                "`reason` is empty: say why this exception is sound".into(),
            );
            String::new()
        }
        None => {
            fail(
                entry.clone(),
                "an allow rule needs a `reason`: say why this exception is sound".into(),
            );
            String::new()
        }
    };
    let expires = match &raw.expires {
        None => {
            fail(
                entry.clone(),
                format!("an allow rule needs `expires` (a date at most {max_days} days ahead, like `expires = {}`)", today + chrono::Days::new(90)),
            );
            None
        }
        Some(d) => match d.get_ref().date {
            Some(date) => {
                match NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
                {
                    Some(e) if e > today + chrono::Days::new(max_days.into()) => {
                        fail(
                            d.span(),
                            format!(
                                "`expires = {e}` is more than {max_days} days ahead (`[overrides] max-allow-days`)"
                            ),
                        );
                        None
                    }
                    Some(e) => Some(e),
                    None => {
                        fail(d.span(), "`expires` is not a valid date".into());
                        None
                    }
                }
            }
            None => {
                fail(
                    d.span(),
                    "`expires` must be a date, like `2027-03-01`".into(),
                );
                None
            }
        },
    };
    let paths = PathSet::compile(raw.paths.get_ref(), &mut fail);
    let branches = match &raw.branches {
        None => Some(None),
        Some(b) => BranchSet::compile(b, &mut fail).map(Some),
    };
    let (paths, branches, expires) = (paths?, branches?, expires?);
    ok.then(|| AllowRule {
        name: raw
            .id
            .as_ref()
            .map(|i| i.get_ref().clone())
            .unwrap_or(name_if_unnamed),
        constraint: id.clone(),
        paths,
        path_patterns: raw
            .paths
            .get_ref()
            .iter()
            .map(|p| p.get_ref().clone())
            .collect(),
        branches,
        reason,
        expires,
        approved_by: raw.approved_by.clone(),
    })
}
