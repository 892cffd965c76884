//! The audit trail is append-only: a record line, once in
//! `refs/notes/tollgate`, stays there unchanged.
//!
//! Two checks, both reading only the notes whose blobs differ:
//!
//! - [`check_update`] judges one move of the notes ref (what `pre-receive`
//!   sees, and what `tollgate notes push` checks before pushing): every line
//!   of every old note must still be in the new tree, every path of the new
//!   tree must be a note path (a fan-out of an object id), and every new
//!   line must parse as a record naming the commit it is attached to.
//!   Whether its signature is valid is `verify`'s job, not this one.
//! - [`deleted_records`] walks a notes history from the root to its tip and
//!   reports every line some notes commit had that the tip lacks: a record
//!   deleted by a fast-forward that the server did not stop (one without
//!   tollgate's `pre-receive`), or by an edit in a CI clone.
//!
//! Nothing here prints; callers render the problems.

use std::fmt;

use git2::Oid;

use super::record::parse_line;
use crate::git::{lines_missing, GitError, Repo};

/// One way a notes update breaks the append-only trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailProblem {
    /// A line of an old note is gone (or changed: the changed line is a
    /// removal plus an addition).
    Removed(RecordRef),
    /// A new line is not a record attached to the commit it names.
    NotARecord {
        /// The annotated commit.
        commit: String,
        /// Why the line does not count as a record line.
        why: String,
    },
    /// A tree entry that is not a note.
    Foreign {
        /// Its path in the notes tree.
        path: String,
        /// What it is.
        what: &'static str,
    },
}

/// A record line, named by what a person can look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    /// The annotated commit.
    pub commit: String,
    /// The record's token id (a hash of the token), when the line parses.
    pub token_id: Option<String>,
    /// The record's constraint, when the line parses.
    pub constraint: Option<String>,
}

impl RecordRef {
    /// Names the line `line` on `commit`.
    pub fn of(commit: &str, line: &str) -> RecordRef {
        let r = parse_line(line).ok();
        RecordRef {
            commit: commit.to_string(),
            token_id: r.as_ref().map(|r| r.token_id.clone()),
            constraint: r.map(|r| r.constraint),
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.token_id, &self.constraint) {
            (Some(t), Some(c)) => write!(
                f,
                "the record of {} for `{c}` on commit {}",
                crate::overrides::token_id(t),
                short(&self.commit)
            ),
            _ => write!(f, "a line of the note on commit {}", short(&self.commit)),
        }
    }
}

impl fmt::Display for TrailProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrailProblem::Removed(r) => write!(f, "removes {r}"),
            TrailProblem::NotARecord { commit, why } => write!(
                f,
                "adds a line that is not an audit record to the note on commit {}: {why}",
                short(commit)
            ),
            TrailProblem::Foreign { path, what } => {
                write!(f, "adds `{}`, {what}", crate::text::escape_controls(path))
            }
        }
    }
}

/// Judges the move of a notes ref from `old` (`None`: it is new) to `new`.
/// Empty when the update only adds record lines at note paths.
pub fn check_update(
    repo: &Repo,
    old: Option<Oid>,
    new: Oid,
) -> Result<Vec<TrailProblem>, GitError> {
    let diff = repo.notes_diff(old, new)?;
    let mut out = Vec::new();
    for c in &diff.changed {
        let before = c.old.as_deref().unwrap_or("");
        let after = c.new.as_deref().unwrap_or("");
        for line in lines_missing(before, after) {
            out.push(TrailProblem::Removed(RecordRef::of(&c.commit, line)));
        }
        for line in lines_missing(after, before) {
            if let Some(why) = not_a_record(repo, &c.commit, line) {
                out.push(TrailProblem::NotARecord {
                    commit: c.commit.clone(),
                    why,
                });
            }
        }
    }
    for e in diff.foreign {
        out.push(TrailProblem::Foreign {
            path: e.path,
            what: e.what,
        });
    }
    Ok(out)
}

/// Why `line` on `commit` is not a record line, if it is not.
fn not_a_record(repo: &Repo, commit: &str, line: &str) -> Option<String> {
    match parse_line(line) {
        Err(e) => Some(e.to_string()),
        Ok(r) if !attached_right(repo, &r, commit) => Some(format!(
            "the record names {}: records are never copied",
            r.target()
        )),
        Ok(_) => None,
    }
}

/// A record line that a notes history had and its tip lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecord {
    /// The record.
    pub record: RecordRef,
    /// The first notes commit that lacked it.
    pub dropped_in: String,
}

impl fmt::Display for DeletedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record deleted: {} was dropped by notes commit {}",
            self.record,
            short(&self.dropped_in)
        )
    }
}

/// Every record line some commit of the notes history ending at `tip`
/// had that `tip` lacks.
pub fn deleted_records(repo: &Repo, tip: Oid) -> Result<Vec<DeletedRecord>, GitError> {
    Ok(repo
        .notes_history_losses(tip)?
        .into_iter()
        .map(|l| DeletedRecord {
            record: RecordRef::of(&l.commit, &l.line),
            dropped_in: l.dropped_in,
        })
        .collect())
}

use crate::text::short_sha as short;

/// Whether a record may sit on `commit`: the commit it names, or for a
/// commit-time record the commit with its tree and parent.
pub(crate) fn attached_right(repo: &Repo, r: &crate::audit::AuditRecord, commit: &str) -> bool {
    let shape = repo.shape_of(commit);
    // The notes arrive before the branch that brings their commits: a
    // commit-time record on a commit not here yet is judged by `verify`
    // and by the pre-receive run of the branch, not here.
    if shape.is_none() && r.commit.is_empty() {
        return true;
    }
    r.belongs_on(
        commit,
        shape.as_ref().map(|(t, p)| (t.as_str(), p.as_deref())),
    )
}
