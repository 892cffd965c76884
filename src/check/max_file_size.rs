//! `[[max-file-size]]`: a blob larger than `bytes`. Scope: path, blob id.

use super::{display_path, finding, ContentChange, Findings, Location};
use crate::policy::{Constraint, PathSet};

/// Adds a finding when the changed blob is larger than the limit.
pub fn evaluate(
    c: &Constraint,
    bytes: u64,
    paths: Option<&PathSet>,
    change: &ContentChange<'_>,
    out: &mut Findings,
) {
    if change.size <= bytes || paths.is_some_and(|p| !p.matches(change.path)) {
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
        format!("{} bytes, over the limit of {bytes}", change.size),
    ));
}
