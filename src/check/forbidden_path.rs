//! `[[forbidden-path]]`: content at a forbidden path. Scope: path, blob id.
//!
//! Any new content at the path counts (an added file, a rename onto it, or
//! an edit of one already there): each blob is a fresh chance to leak.

use super::{display_path, finding, ContentChange, Findings, Location};
use crate::policy::{Constraint, PathSet};

/// Adds a finding when the changed path matches a forbidden glob.
pub fn evaluate(c: &Constraint, paths: &PathSet, change: &ContentChange<'_>, out: &mut Findings) {
    if !paths.matches(change.path) {
        return;
    }
    out.push(finding(
        c,
        &[change.path, change.blob.as_bytes()],
        Location {
            path: Some(display_path(change.path)),
            commit: change.commit.map(str::to_string),
            ..Location::default()
        },
        if change.new_path {
            "file added at a forbidden path".into()
        } else {
            "file changed at a forbidden path".into()
        },
    ));
}
