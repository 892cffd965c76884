//! Recomputing a blocker in this clone from the scope another person's
//! request names, so that an approver judges what tollgate computes here,
//! never what the requester wrote.
//!
//! Two levels: the fingerprint is always recomputed from the scope fields
//! (so what is shown is exactly what a token would pass); and where the
//! commits are in this clone (after a fetch), the constraint is run again
//! with this clone's policy and must produce the same blocker.

use git2::Oid;

use crate::audit::grant::Scope;
use crate::check::{Engine, Finding, Findings, Location, RefUpdate};
use crate::git::Repo;
use crate::policy::{Policy, Severity};

use super::scope::{fields, fingerprint_of, Field};

/// A blocker as this clone computes it.
#[derive(Debug, Clone)]
pub struct Recomputed {
    /// The blocker, located from the scope fields (and, when it was run
    /// again here, the finding's own location).
    pub finding: Finding,
    /// Lines for the approver, computed here: the scope fields, and the
    /// commits with their subjects where this clone has them.
    pub shown: Vec<String>,
    /// Whether the constraint was run again here (all commits present) and
    /// produced this blocker; `false` when only the fingerprint could be
    /// checked.
    pub rerun: bool,
}

/// Why a request cannot be approved here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The scope is malformed (a hand-made request).
    Malformed(String),
    /// The scope's fields do not give the request's fingerprint: what the
    /// request shows is not what its token would pass. Holds what the
    /// fields describe.
    Mismatch(String),
    /// Run again here, the scope produces no blocker with that fingerprint
    /// (the listed blockers are what it does produce).
    NotHere(Vec<String>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "the request's scope is malformed: {why}"),
            Refusal::Mismatch(what) => write!(
                f,
                "fingerprint mismatch: the request's scope ({what}) does not give its fingerprint, so the token would pass something else than it shows"
            ),
            Refusal::NotHere(found) if found.is_empty() => write!(
                f,
                "run again in this clone, the scope produces no such blocker"
            ),
            Refusal::NotHere(found) => write!(
                f,
                "run again in this clone, the scope produces other blockers ({})",
                found.join("; ")
            ),
        }
    }
}

use crate::check::ZERO_SHA as ZERO;

fn describe(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| format!("{} `{}`", f.name, crate::text::escape_controls(&f.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

/// The commit ids a scope (and the request's named commit) refers to that
/// this clone lacks: what to fetch.
pub fn missing(repo: &Repo, kind: &str, scope: &Scope, commit: Option<&str>) -> Vec<String> {
    let Ok(fields) = fields(kind, scope) else {
        return Vec::new();
    };
    ["old", "new", "parent"]
        .iter()
        .filter_map(|n| get(&fields, n))
        .chain(commit)
        .filter(|s| *s != ZERO)
        .filter(|s| Oid::from_str(s).is_ok_and(|o| !repo.has_object(o)))
        .map(str::to_string)
        .collect()
}

/// Recomputes the blocker `constraint` (`kind`) of `scope` in `repo` and
/// checks it against `fingerprint`. `commit` is the commit the request
/// says a content blocker is in: used only to run the constraint again,
/// never shown as fact.
pub fn recompute(
    repo: &Repo,
    policy: &Policy,
    constraint: &str,
    kind: &str,
    scope: &Scope,
    fingerprint: &str,
    commit: Option<&str>,
) -> anyhow::Result<Result<Recomputed, Refusal>> {
    let fields = match fields(kind, scope) {
        Ok(f) => f,
        Err(why) => return Ok(Err(Refusal::Malformed(why))),
    };
    if fingerprint_of(constraint, kind, scope).as_deref() != Some(fingerprint) {
        return Ok(Err(Refusal::Mismatch(describe(&fields))));
    }
    let mut shown = vec![format!(
        "`{}` ({kind}) on {}: {}",
        crate::text::escape_controls(constraint),
        scope.event.as_str(),
        describe(&fields)
    )];
    let engine = Engine::new(policy);
    let mut out = Findings::default();
    let mut rerun = false;
    let present = |s: &str| Oid::from_str(s).is_ok_and(|o| repo.has_object(o));
    let subject = |s: &str| {
        Oid::from_str(s)
            .ok()
            .and_then(|o| repo.subject(o))
            .map(|t| crate::text::escape_controls(&t).into_owned())
    };
    let mut location = Location::default();
    if let (Some(r), Some(old), Some(new)) = (
        get(&fields, "ref"),
        get(&fields, "old"),
        get(&fields, "new"),
    ) {
        location.ref_name = Some(r.to_string());
        let some = |s: &str| (s != ZERO).then(|| s.to_string());
        let (old_o, new_o) = (some(old), some(new));
        let all_present = [&old_o, &new_o]
            .iter()
            .all(|s| s.as_deref().is_none_or(present));
        for (label, sha) in [("old", &old_o), ("new", &new_o)] {
            if let Some(sha) = sha {
                shown.push(match subject(sha) {
                    Some(t) => format!("  {label} {}: {t}", &sha[..sha.len().min(12)]),
                    None => format!("  {label} {}: not in this clone", &sha[..sha.len().min(12)]),
                });
            }
        }
        if all_present {
            let forced = match (&old_o, &new_o) {
                (Some(o), Some(n)) => match (Oid::from_str(o), Oid::from_str(n)) {
                    (Ok(o), Ok(n)) => !repo.is_fast_forward(o, n),
                    _ => false,
                },
                _ => false,
            };
            shown.push(format!(
                "  {}",
                match (&old_o, &new_o) {
                    (_, None) => "deletes the ref",
                    (None, Some(_)) => "creates the ref",
                    _ if forced => "not a fast-forward: rewrites history",
                    _ => "a fast-forward",
                }
            ));
            engine.check_ref_update(
                &RefUpdate {
                    remote_ref: r.to_string(),
                    old: old_o,
                    new: new_o,
                    forced,
                },
                &mut out,
            );
            rerun = true;
        }
    } else if let Some(branch) = get(&fields, "branch") {
        location.ref_name = Some(format!("refs/heads/{branch}"));
        if let Some(p) = get(&fields, "parent").filter(|p| *p != ZERO) {
            shown.push(match subject(p) {
                Some(t) => format!("  on parent {}: {t}", &p[..p.len().min(12)]),
                None => format!("  on parent {}: not in this clone", &p[..p.len().min(12)]),
            });
        }
        let tree = get(&fields, "tree").unwrap_or_default().to_string();
        if engine.needs_commit_target() {
            engine.check_commit_target(
                &crate::check::CommitTarget {
                    branch: Some(branch.to_string()),
                    parent: get(&fields, "parent")
                        .filter(|p| *p != ZERO)
                        .map(str::to_string),
                    tree,
                },
                &mut out,
            );
            rerun = true;
        }
    } else if let Some(path) = get(&fields, "path") {
        location.path = Some(path.to_string());
        if let Some(c) = commit.filter(|c| present(c)) {
            let oid = Oid::from_str(c)?;
            shown.push(format!(
                "  in commit {}: {}",
                &c[..c.len().min(12)],
                subject(c).unwrap_or_default()
            ));
            let mut seen = std::collections::HashSet::new();
            repo.commit_changes(
                oid,
                &mut seen,
                &|o, n| engine.rename_needs_rescan(o, n),
                &mut |ch| engine.check_content(ch, &mut out),
            )?;
            location.commit = Some(c.to_string());
            rerun = true;
        } else {
            shown.push(
                "  the commit is not in this clone: only what the fingerprint binds is shown"
                    .to_string(),
            );
        }
    }
    let found = out.into_vec();
    let finding = if rerun {
        match found.iter().find(|f| f.fingerprint == fingerprint) {
            Some(f) => f.clone(),
            None => {
                return Ok(Err(Refusal::NotHere(
                    found
                        .iter()
                        .filter(|f| f.severity == Severity::Block)
                        .map(|f| format!("`{}` at {}", f.constraint, f.location))
                        .collect(),
                )))
            }
        }
    } else {
        let c = policy.constraint(constraint);
        Finding {
            constraint: constraint.to_string(),
            kind: kind.to_string(),
            severity: Severity::Block,
            override_mode: c.map(|c| c.override_mode).unwrap_or_default(),
            location,
            evidence: String::new(),
            fingerprint: fingerprint.to_string(),
            scope: scope.fields.clone(),
        }
    };
    Ok(Ok(Recomputed {
        finding,
        shown,
        rerun,
    }))
}
