//! What the trust anchor and the policy-change constraint need from git:
//! merge-bases, the remote's default branch as this clone knows it, commit
//! times, and both sides of the changes a commit makes to guarded paths.

use git2::{Delta, Oid};

use super::{Context, GitError, Repo};
use crate::check::{BlobSide, PathChange, MAX_POLICY_FILE_BYTES};

/// The remote's default branch as this clone has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultBranch {
    /// The remote-tracking ref (`refs/remotes/origin/main`).
    pub tracking: String,
    /// The branch on the remote (`refs/heads/main`).
    pub remote_ref: String,
    /// Its tip in this clone.
    pub tip: Oid,
}

impl Repo {
    /// Whether `id` is a commit this clone has.
    pub fn has_commit(&self, id: Oid) -> bool {
        self.repo.find_commit(id).is_ok()
    }

    /// The best common ancestor of two commits; `None` when they share no
    /// history.
    pub fn merge_base(&self, a: Oid, b: Oid) -> Result<Option<Oid>, GitError> {
        match self.repo.merge_base(a, b) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(GitError::Git2 {
                what: format!("cannot compute the merge-base of {a} and {b}"),
                source: e,
            }),
        }
    }

    /// The committer time of a commit.
    pub fn commit_time(&self, id: Oid) -> Option<chrono::DateTime<chrono::Utc>> {
        let c = self.repo.find_commit(id).ok()?;
        let seconds = c.committer().when().seconds();
        chrono::DateTime::from_timestamp(seconds, 0)
    }

    /// `remote`'s default branch: the target of `refs/remotes/<remote>/HEAD`
    /// (what `git clone` records), else `<remote>/main`, else
    /// `<remote>/master`.
    pub fn default_branch(&self, remote: &str) -> Option<DefaultBranch> {
        let prefix = format!("refs/remotes/{remote}/");
        let head = self
            .repo
            .find_reference(&format!("{prefix}HEAD"))
            .ok()
            .and_then(|r| r.symbolic_target().map(str::to_string));
        let candidates = head
            .into_iter()
            .chain(["main", "master"].map(|b| format!("{prefix}{b}")));
        for tracking in candidates {
            let Some(tip) = self
                .repo
                .find_reference(&tracking)
                .ok()
                .and_then(|r| r.peel_to_commit().ok())
                .map(|c| c.id())
            else {
                continue;
            };
            let branch = tracking.strip_prefix(&prefix).unwrap_or(&tracking);
            return Some(DefaultBranch {
                remote_ref: format!("refs/heads/{branch}"),
                tracking,
                tip,
            });
        }
        None
    }

    /// Hands one delta of a commit's diff to `hook` when it touches a
    /// guarded path, with both sides read (up to [`MAX_POLICY_FILE_BYTES`]).
    /// A rename is a deletion at the old path and an addition at the new.
    pub(super) fn path_change(
        &self,
        delta: &git2::DiffDelta<'_>,
        commit: &str,
        root: bool,
        hook: &mut PathHook<'_>,
    ) -> Result<(), GitError> {
        if matches!(
            delta.status(),
            Delta::Ignored | Delta::Untracked | Delta::Unreadable
        ) {
            return Ok(());
        }
        let side = |file: git2::DiffFile<'_>| -> Option<(Vec<u8>, Oid)> {
            let blob = !file.id().is_zero()
                && !matches!(
                    file.mode(),
                    git2::FileMode::Commit | git2::FileMode::Unreadable
                );
            Some((file.path_bytes()?.to_vec(), file.id())).filter(|_| blob)
        };
        let (old, new) = (side(delta.old_file()), side(delta.new_file()));
        let pairs = match (old, new) {
            (Some(o), Some(n)) if o.0 != n.0 => vec![(Some(o), None), (None, Some(n))],
            pair => vec![pair],
        };
        for (old, new) in pairs {
            let Some(path) = new.as_ref().or(old.as_ref()).map(|(p, _)| p.clone()) else {
                continue;
            };
            if !(hook.guarded)(&path) {
                continue;
            }
            let old = old.map(|(_, o)| self.read_guarded(o)).transpose()?;
            let new = new.map(|(_, n)| self.read_guarded(n)).transpose()?;
            (hook.f)(&PathChange {
                path: &path,
                commit,
                root,
                old: old.as_ref().map(|(id, t)| BlobSide {
                    id,
                    text: t.as_deref(),
                }),
                new: new.as_ref().map(|(id, t)| BlobSide {
                    id,
                    text: t.as_deref(),
                }),
            });
        }
        Ok(())
    }

    /// A guarded blob's id and, when small enough, its content.
    fn read_guarded(&self, oid: Oid) -> Result<(String, Option<Vec<u8>>), GitError> {
        let (size, _) = self
            .repo
            .odb()
            .and_then(|o| o.read_header(oid))
            .ctx(|| format!("cannot read the size of blob {oid}"))?;
        let text = if size as u64 <= MAX_POLICY_FILE_BYTES {
            let blob = self
                .repo
                .find_blob(oid)
                .ctx(|| format!("cannot read blob {oid}"))?;
            Some(blob.content().to_vec())
        } else {
            None
        };
        Ok((oid.to_string(), text))
    }
}

/// What [`Repo::commit_changes_guarded`] reports guarded paths to.
pub struct PathHook<'a> {
    /// Whether a path is guarded.
    pub guarded: &'a dyn Fn(&[u8]) -> bool,
    /// Called once per guarded path a commit adds, modifies or deletes.
    pub f: &'a mut dyn FnMut(&PathChange<'_>),
}
