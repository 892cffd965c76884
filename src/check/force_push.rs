//! `[[force-push]]`: a non-fast-forward update of a matching branch.
//!
//! Scope: remote ref, old sha, new sha. Deletions are the job of
//! `protected-branch` with `on = ["delete"]`.

use super::{finding, Findings, Location, RefUpdate};
use crate::policy::{BranchSet, Constraint};

/// Adds a finding when `update` is a forced update of a matching branch.
pub fn evaluate(c: &Constraint, branches: &BranchSet, update: &RefUpdate, out: &mut Findings) {
    let (Some(old), Some(new)) = (&update.old, &update.new) else {
        return;
    };
    if !update.forced || !branches.matches_ref(&update.remote_ref) {
        return;
    }
    out.push(finding(
        c,
        &[update.remote_ref.as_bytes(), old.as_bytes(), new.as_bytes()],
        Location {
            ref_name: Some(update.remote_ref.clone()),
            commit: Some(new.clone()),
            ..Location::default()
        },
        format!("non-fast-forward update {}..{}", short(old), short(new)),
    ));
}

pub(crate) use crate::text::short_sha as short;
