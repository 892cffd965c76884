//! The trust anchor of a range: the commit whose `.tollgate.toml` and
//! `.tollgate/allowed_signers` judge it.
//!
//! By default it is the merge-base of the range with the remote's default
//! branch as this clone has it (`refs/remotes/origin/HEAD`'s target, else
//! `origin/main`, else `origin/master`), computed from the range's start
//! (`--base`, else the ref's old tip, else the head). So a feature branch
//! is judged by the default branch's policy at its fork point, whatever an
//! earlier push to that branch changed, and a push to the default branch
//! is judged by the tip the remote had before it (`--base`, else the old
//! tip: never a commit of the push itself).
//!
//! Cases with no merge-base get an error that says what to pass or fetch,
//! never an empty revision: an orphan history (name `--anchor`), a forced
//! update of the default branch whose old tip this clone lacks (fetch it),
//! the first push of the default branch (nothing is trusted yet).

use git2::Oid;

use crate::check::RefUpdate;
use crate::git::{DefaultBranch, GitError, Repo};

/// The remote whose default branch anchors a range.
pub const REMOTE: &str = "origin";

/// The chosen anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The commit whose policy and signer list judge.
    pub commit: Oid,
    /// How it was chosen, for every output format.
    pub how: String,
}

/// Why no anchor could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// `--anchor` names a revision this clone does not have.
    #[error("the anchor `{0}` is not a commit in this clone: fetch it (`git fetch {REMOTE} {0}`) or name another with `--anchor <rev>`")]
    Unknown(String),
    /// The default branch was updated by force and its old tip is missing.
    #[error("`{branch}` was updated by force and its tip before the push, commit {old}, is the anchor, but this clone lacks it: fetch it first (`git fetch {REMOTE} {old}`), or name the anchor with `--anchor <rev>`")]
    MissingOldTip {
        /// The default branch (`refs/heads/main`).
        branch: String,
        /// The old tip, in full.
        old: String,
    },
    /// The push created the default branch: nothing is trusted yet.
    #[error("this push created the default branch `{0}`, so no earlier commit is trusted: name the anchor with `--anchor <rev>`, or name both `--policy` and `--allowed-signers` to judge its whole history")]
    Created(String),
    /// The range shares no history with the default branch.
    #[error("commit {start} shares no history with the default branch `{branch}` (an orphan branch): name the commit whose policy should judge it with `--anchor <rev>` (its whole history is then judged), or name both `--policy` and `--allowed-signers`")]
    Orphan {
        /// The range's start or head.
        start: String,
        /// The remote-tracking ref of the default branch.
        branch: String,
    },
    /// No default branch and no base.
    #[error("no default branch in this clone (no `refs/remotes/{REMOTE}/HEAD`, `{REMOTE}/main` or `{REMOTE}/master`) and no `--base`: fetch it, or name the anchor with `--anchor <rev>`")]
    NoDefaultBranch,
    /// A git failure.
    #[error(transparent)]
    Git(#[from] GitError),
}

/// What the anchor is chosen for.
#[derive(Debug, Clone, Default)]
pub struct AnchorRequest<'a> {
    /// `--anchor <rev>`, when given.
    pub named: Option<&'a str>,
    /// The range's start (`--base`), when given and present.
    pub base: Option<Oid>,
    /// The range's head; `None` for a deletion.
    pub head: Option<Oid>,
    /// The ref update judged, when there is one.
    pub update: Option<&'a RefUpdate>,
}

/// Chooses the anchor (see the module documentation).
pub fn pick(repo: &Repo, req: &AnchorRequest<'_>) -> Result<Anchor, AnchorError> {
    if let Some(rev) = req.named {
        let commit = repo
            .resolve_commit(rev)
            .map_err(|_| AnchorError::Unknown(rev.to_string()))?;
        return Ok(Anchor {
            commit,
            how: format!("named by `--anchor {rev}`"),
        });
    }
    let Some(default) = repo.default_branch(REMOTE) else {
        return match req.base {
            Some(b) => Ok(Anchor {
                commit: b,
                how: format!(
                    "`--base` (no default branch in this clone: no `refs/remotes/{REMOTE}/HEAD`, `{REMOTE}/main` or `{REMOTE}/master`)"
                ),
            }),
            None => Err(AnchorError::NoDefaultBranch),
        };
    };
    let short_name = default
        .tracking
        .strip_prefix("refs/remotes/")
        .unwrap_or(&default.tracking)
        .to_string();
    let old = req
        .update
        .and_then(|u| u.old.as_deref())
        .and_then(|o| Oid::from_str(o).ok());
    let on_default = req
        .update
        .is_some_and(|u| u.remote_ref == default.remote_ref);
    if on_default {
        match old {
            None if req.base.is_none() => {
                return Err(AnchorError::Created(default.remote_ref.clone()))
            }
            Some(o) if !repo.has_commit(o) && req.base.is_none() => {
                return Err(AnchorError::MissingOldTip {
                    branch: default.remote_ref.clone(),
                    old: o.to_string(),
                })
            }
            _ => {}
        }
    }
    let old_present = old.filter(|o| repo.has_commit(*o));
    if on_default {
        // The default branch as the remote had it before this push.
        if let Some(commit) = req.base.or(old_present) {
            return Ok(Anchor {
                commit,
                how: format!(
                    "`{}` before this push ({})",
                    default.remote_ref,
                    if req.base == Some(commit) {
                        "the range's base"
                    } else {
                        "its old tip"
                    }
                ),
            });
        }
    }
    let start = req.base.or(old_present).or(req.head);
    let Some(start) = start else {
        // A deletion whose old tip this clone lacks: nothing else to go by.
        return Ok(from_tip(&default, &short_name));
    };
    let what = if req.base == Some(start) {
        "the range's base"
    } else if old_present == Some(start) {
        "the ref's old tip"
    } else {
        "the head"
    };
    match repo.merge_base(start, default.tip)? {
        Some(commit) => Ok(Anchor {
            commit,
            how: format!(
                "merge-base of {what} {} with `{short_name}` ({})",
                short(start),
                short(default.tip)
            ),
        }),
        None => Err(AnchorError::Orphan {
            start: start.to_string(),
            branch: short_name,
        }),
    }
}

fn from_tip(default: &DefaultBranch, short_name: &str) -> Anchor {
    Anchor {
        commit: default.tip,
        how: format!("the tip of `{short_name}`"),
    }
}

fn short(id: Oid) -> String {
    crate::text::short_sha(&id.to_string()).to_string()
}
