//! `[[protected-branch]]`: commits to, pushes to, or deletions of a matching
//! branch.
//!
//! Scope for a commit: branch, parent sha, staged tree sha (a token for one
//! commit does not pass a different one). For a push or deletion: remote
//! ref, old sha, new sha.

use super::force_push::short;
use super::{finding, CommitTarget, Findings, Location, RefUpdate};
use crate::policy::{BranchOp, BranchSet, Constraint};

use super::ZERO_SHA as ZERO;

/// A push that updates or deletes a matching branch.
pub fn evaluate_update(
    c: &Constraint,
    branches: &BranchSet,
    on: &[BranchOp],
    update: &RefUpdate,
    out: &mut Findings,
) {
    if !branches.matches_ref(&update.remote_ref) {
        return;
    }
    let op = if update.new.is_none() {
        BranchOp::Delete
    } else {
        BranchOp::Push
    };
    if !on.contains(&op) {
        return;
    }
    let old = update.old.as_deref().unwrap_or(ZERO);
    let new = update.new.as_deref().unwrap_or(ZERO);
    let evidence = match op {
        BranchOp::Delete => format!("deletes the branch (was {})", short(old)),
        _ => format!("updates the branch {}..{}", short(old), short(new)),
    };
    out.push(finding(
        c,
        &[update.remote_ref.as_bytes(), old.as_bytes(), new.as_bytes()],
        Location {
            ref_name: Some(update.remote_ref.clone()),
            // A deletion concerns the tip it deletes.
            commit: update.new.clone().or_else(|| update.old.clone()),
            ..Location::default()
        },
        evidence,
    ));
}

/// A local commit onto a matching branch.
pub fn evaluate_commit(
    c: &Constraint,
    branches: &BranchSet,
    on: &[BranchOp],
    target: &CommitTarget,
    out: &mut Findings,
) {
    let Some(branch) = &target.branch else {
        return;
    };
    let full = format!("refs/heads/{branch}");
    if !on.contains(&BranchOp::Commit) || !branches.matches_ref(&full) {
        return;
    }
    let parent = target.parent.as_deref().unwrap_or(ZERO);
    out.push(finding(
        c,
        &[branch.as_bytes(), parent.as_bytes(), target.tree.as_bytes()],
        Location {
            ref_name: Some(full),
            ..Location::default()
        },
        format!("direct commit to `{branch}`"),
    ));
}
