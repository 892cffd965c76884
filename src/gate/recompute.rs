//! Recomputing a blocker in this clone from the scope another person's
//! request names, so that an approver judges what tollgate computes here,
//! never what the requester wrote.

use git2::Oid;

use crate::audit::grant::Scope;
use crate::check::{CommitTarget, Engine, EventKind, Finding, Findings};
use crate::git::{PushLine, Repo};
use crate::policy::Policy;

use super::Event;

/// A blocker as this clone computes it, with what a person needs to judge
/// it: the ref update and its commits, or the commit's branch and tree.
#[derive(Debug, Clone)]
pub struct Recomputed {
    /// The finding, computed here.
    pub finding: Finding,
    /// Lines describing the scope, computed here (ref, old..new, the
    /// commits with their subjects; or branch, parent and tree).
    pub shown: Vec<String>,
}

/// Why a blocker cannot be recomputed or does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An object the scope names is not in this clone (fetch it first).
    Missing(String),
    /// The scope is incomplete (a malformed or hand-made request).
    Incomplete(&'static str),
    /// Recomputed, no finding has the request's fingerprint; the findings
    /// that the scope does produce here, as `constraint at location`.
    Mismatch(Vec<String>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing(sha) => write!(f, "object {sha} is not in this clone"),
            Refusal::Incomplete(what) => write!(f, "the request's scope has no {what}"),
            Refusal::Mismatch(found) if found.is_empty() => write!(
                f,
                "the scope the request names produces no blocker here, so its fingerprint is for something else"
            ),
            Refusal::Mismatch(found) => write!(
                f,
                "the request's fingerprint matches none of the blockers its scope produces here ({})",
                found.join("; ")
            ),
        }
    }
}

fn oid(s: &Option<String>, what: &'static str) -> Result<Option<Oid>, Refusal> {
    match s {
        None => Ok(None),
        Some(s) => Oid::from_str(s)
            .map(Some)
            .map_err(|_| Refusal::Incomplete(what)),
    }
}

/// The objects a scope needs that this clone does not have.
pub fn missing(repo: &Repo, scope: &Scope) -> Vec<String> {
    [&scope.old, &scope.new, &scope.parent, &scope.tree]
        .into_iter()
        .flatten()
        .filter(|s| Oid::from_str(s).map_or(true, |o| !repo.has_object(o)))
        .cloned()
        .collect()
}

/// Recomputes the blocker of `scope` with `policy` in `repo`, and returns
/// the one whose fingerprint is `fingerprint`. `remote` names the remote
/// whose refs say which pushed commits are new.
pub fn recompute(
    repo: &Repo,
    policy: &Policy,
    scope: &Scope,
    fingerprint: &str,
    remote: &str,
) -> anyhow::Result<Result<Recomputed, Refusal>> {
    if let Some(m) = missing(repo, scope).into_iter().next() {
        return Ok(Err(Refusal::Missing(m)));
    }
    let engine = Engine::new(policy);
    let mut shown = Vec::new();
    let findings: Vec<Finding> = match scope.event {
        EventKind::Push => {
            let Some(remote_ref) = scope.remote_ref.clone() else {
                return Ok(Err(Refusal::Incomplete("ref")));
            };
            let old = match oid(&scope.old, "old sha") {
                Ok(o) => o,
                Err(r) => return Ok(Err(r)),
            };
            let new = match oid(&scope.new, "new sha") {
                Ok(o) => o,
                Err(r) => return Ok(Err(r)),
            };
            let line = PushLine {
                local_ref: if new.is_some() {
                    "refs/tollgate/approving".into()
                } else {
                    "(delete)".into()
                },
                local_sha: new,
                remote_ref: remote_ref.clone(),
                remote_sha: old,
            };
            let sha = |o: Option<Oid>| o.map_or_else(|| "(none)".to_string(), |o| short(&o));
            let fast = match (old, new) {
                (Some(o), Some(n)) if repo.is_fast_forward(o, n) => "fast-forward",
                (Some(_), Some(_)) => "FORCED: not a fast-forward",
                (None, Some(_)) => "creates the ref",
                (_, None) => "DELETES the ref",
            };
            shown.push(format!(
                "push to `{}`: {}..{} ({fast})",
                crate::check::escape_controls(&remote_ref),
                sha(old),
                sha(new)
            ));
            let event = Event::Push {
                remote: remote.to_string(),
                lines: vec![line],
            };
            if let (Some(n), Some(plan)) = (new, repo.push_plan(remote, event_lines(&event)).ok()) {
                for c in plan.commits.iter().rev().take(20) {
                    shown.push(format!(
                        "  {} {}",
                        short(c),
                        crate::check::escape_controls(&repo.subject(*c).unwrap_or_default())
                    ));
                }
                let _ = n;
            }
            super::evaluate(repo, &engine, &event)?
        }
        EventKind::Commit => {
            let tree = match oid(&scope.tree, "tree") {
                Ok(Some(t)) => t,
                Ok(None) => return Ok(Err(Refusal::Incomplete("tree"))),
                Err(r) => return Ok(Err(r)),
            };
            let parent = match oid(&scope.parent, "parent") {
                Ok(p) => p,
                Err(r) => return Ok(Err(r)),
            };
            shown.push(format!(
                "commit on `{}`: parent {}, tree {}",
                crate::check::escape_controls(scope.branch.as_deref().unwrap_or("detached HEAD")),
                parent.map_or_else(|| "(none)".to_string(), |p| short(&p)),
                short(&tree)
            ));
            if let Some(p) = parent {
                shown.push(format!(
                    "  parent {} {}",
                    short(&p),
                    crate::check::escape_controls(&repo.subject(p).unwrap_or_default())
                ));
            }
            let mut out = Findings::default();
            if engine.needs_commit_target() {
                engine.check_commit_target(
                    &CommitTarget {
                        branch: scope.branch.clone(),
                        parent: scope.parent.clone(),
                        tree: tree.to_string(),
                    },
                    &mut out,
                );
            }
            repo.tree_changes(parent, tree, &mut |c| engine.check_content(c, &mut out))?;
            out.into_vec()
        }
    };
    match findings.iter().find(|f| f.fingerprint == fingerprint) {
        Some(f) => {
            shown.push(format!(
                "blocker `{}` ({}) at {}",
                f.constraint, f.kind, f.location
            ));
            Ok(Ok(Recomputed {
                finding: f.clone(),
                shown,
            }))
        }
        None => Ok(Err(Refusal::Mismatch(
            findings
                .iter()
                .filter(|f| f.severity == crate::policy::Severity::Block)
                .map(|f| format!("`{}` at {}", f.constraint, f.location))
                .collect(),
        ))),
    }
}

fn event_lines(event: &Event) -> &[PushLine] {
    match event {
        Event::Push { lines, .. } => lines,
        _ => &[],
    }
}

fn short(o: &Oid) -> String {
    o.to_string()[..12].to_string()
}
