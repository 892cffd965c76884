//! The scope of a blocker: what it was computed from, written into grants
//! and two-key requests so that another clone can compute it again.

use crate::audit::grant::Scope;
use crate::check::{EventKind, Finding};
use crate::git::Repo;

use super::Event;

/// The scope of `finding`, found in `event`. A push names the one ref
/// update the finding concerns (its ref, or for content the update whose
/// new tip brings its commit); a commit names the branch, parent and the
/// staged tree.
pub fn scope_of(repo: &Repo, event: &Event, finding: &Finding) -> anyhow::Result<Scope> {
    match event {
        Event::Push { lines, .. } => {
            let line = match &finding.location.ref_name {
                Some(r) => lines.iter().find(|l| &l.remote_ref == r),
                None => {
                    let commit = finding.location.commit.as_deref();
                    lines
                        .iter()
                        .find(|l| {
                            let (Some(tip), Some(c)) = (l.local_sha, commit) else {
                                return false;
                            };
                            git2::Oid::from_str(c)
                                .is_ok_and(|c| c == tip || repo.is_fast_forward(c, tip))
                        })
                        .or(lines.first())
                }
            };
            let line = line.ok_or_else(|| anyhow::anyhow!("the push names no ref update"))?;
            Ok(Scope {
                event: EventKind::Push,
                remote_ref: Some(line.remote_ref.clone()),
                old: line.remote_sha.map(|o| o.to_string()),
                new: line.local_sha.map(|o| o.to_string()),
                ..Scope::default()
            })
        }
        _ => {
            let t = repo.commit_target()?;
            Ok(Scope {
                event: EventKind::Commit,
                branch: t.branch,
                parent: t.parent,
                tree: Some(t.tree),
                ..Scope::default()
            })
        }
    }
}
