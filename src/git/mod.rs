//! All git access. Reads go through git2 opened with `open_from_env`, which
//! honours `GIT_DIR`, `GIT_INDEX_FILE`, object directories and alternates as
//! hooks and server-side quarantine set them. Commands that git2 cannot do
//! (`rev-parse --git-path`) run the `git` binary with `LC_MESSAGES=C` and
//! stdin closed.
//!
//! This layer builds events for the engine; it decides nothing.

mod blob;
mod cat_file;
mod history;
mod notes;
mod notes_history;
mod push;
mod staged;
mod tree_diff;

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Delta, DiffFindOptions, DiffOptions, ObjectType, Oid, Repository, Sort};

pub use history::{DefaultBranch, PathHook};
pub use notes::{
    lines_missing, note_path_commit, tracking_ref, ChangedNote, ForeignEntry, LostLine, NotesDiff,
    NotesPush, DEFAULT_PUSH_BUDGET, NOTES_REF, PUSH_BUDGET_ENV,
};
pub use push::{parse_push_lines, parse_receive_lines, PushLine, ReceiveLine};

use crate::check::{CommitTarget, ContentChange, RefUpdate};

pub use blob::{OVERLAP, WINDOW};

/// What went wrong talking to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Not inside a repository, or it cannot be opened. The message is
    /// libgit2's own without its class and code numbers, which mean
    /// nothing to a user.
    #[error("{}", open_message(.0))]
    Open(#[source] git2::Error),
    /// A git2 call failed.
    #[error("{what}: {}", .source.message())]
    Git2 {
        /// What tollgate was doing.
        what: String,
        /// The cause.
        #[source]
        source: git2::Error,
    },
    /// A revision that does not resolve.
    #[error("unknown revision `{0}`")]
    UnknownRev(String),
    /// Bad pre-push input.
    #[error("malformed pre-push input on line {line}: {why}")]
    PushLine {
        /// 1-based line number on stdin.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The local notes lack lines the remote has: pushing would delete
    /// records there, so tollgate does not push.
    #[error("the local `refs/notes/tollgate` lacks {} record line(s) that `{remote}` has ({}); a removal is never pushed: run `tollgate notes fetch {remote}` to merge them back", removed.len(), removal_list(removed))]
    NotesRemoval {
        /// The remote.
        remote: String,
        /// `(annotated commit, line)` of each missing line.
        removed: Vec<(String, String)>,
    },
    /// The remote refused the notes for a reason other than another writer.
    #[error("`{remote}` refused `refs/notes/tollgate`: {why}")]
    NotesRefused {
        /// The remote.
        remote: String,
        /// What git and the remote said.
        why: String,
    },
    /// Other writers kept winning until the time budget ran out.
    #[error("`{remote}` kept moving `refs/notes/tollgate` for {secs} s ({attempts} attempts; last: {why}); the records are safe in the local `refs/notes/tollgate`: run `tollgate notes push {remote}` (or push again) to send them")]
    NotesPushTimedOut {
        /// The remote.
        remote: String,
        /// Push attempts made.
        attempts: u32,
        /// The budget, in seconds.
        secs: u64,
        /// The last rejection.
        why: String,
    },
    /// A tollgate setting in git config or the environment is malformed.
    #[error("bad value `{value}` for `{key}`: {why}")]
    BadSetting {
        /// The config key or environment variable.
        key: String,
        /// The value found (control characters escaped).
        value: String,
        /// What is expected.
        why: String,
    },
    /// The `git` command failed or could not run.
    #[error("`git {args}` failed: {why}")]
    Command {
        /// The arguments.
        args: String,
        /// Its stderr or the spawn error.
        why: String,
    },
}

/// The annotated commits of the removed lines in a [`GitError::NotesRemoval`].
fn removal_list(removed: &[(String, String)]) -> String {
    let mut commits: Vec<&str> = removed.iter().map(|(c, _)| &c[..c.len().min(12)]).collect();
    commits.dedup();
    let more = commits.len().saturating_sub(5);
    let mut s = commits.into_iter().take(5).collect::<Vec<_>>().join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    format!("on {s}")
}

/// What to say when no repository opens.
fn open_message(e: &git2::Error) -> String {
    if e.code() == git2::ErrorCode::NotFound {
        "not a git repository (or any parent up to /): run inside a git repository".into()
    } else {
        format!("cannot open the git repository: {}", e.message())
    }
}

trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, GitError>;
}

impl<T> Context<T> for Result<T, git2::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, GitError> {
        self.map_err(|source| GitError::Git2 {
            what: what(),
            source,
        })
    }
}

/// Who wrote a commit, when, and its subject (for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMeta {
    /// `Name <email>` of the author.
    pub author: String,
    /// The author date, RFC 3339 to the second.
    pub date: String,
    /// The first line of the message.
    pub subject: String,
}

/// An open repository.
pub struct Repo {
    repo: Repository,
    /// Where it was opened (`None`: from git's environment), so that
    /// [`Repo::reopen`] opens the same repository the same way.
    at: Option<PathBuf>,
    /// The range the last fast-forward question walked (`base`, `head`,
    /// its commits), until [`Repo::range_commits`] takes it: `verify` asks
    /// whether its range is a fast-forward and then scans the same range,
    /// and on 10,000 commits each walk costs about 50 ms.
    last_range: RefCell<Option<Walked>>,
}

/// A range walked by [`Repo::range_commits`].
type Walked = (Option<Oid>, Oid, Vec<Oid>);

/// Whether a path/blob pair was already scanned in this event: a blob that
/// is unchanged at its path is never read twice.
pub type Seen = HashSet<(Vec<u8>, Oid)>;

impl Repo {
    /// Opens the repository git would use here (honours `GIT_DIR` and friends).
    pub fn open() -> Result<Repo, GitError> {
        skip_hash_verification();
        Repository::open_from_env()
            .map(|repo| Repo {
                repo,
                at: None,
                last_range: RefCell::default(),
            })
            .map_err(GitError::Open)
    }

    /// Opens a repository at a path (for tests and `--repo`).
    pub fn open_at(path: &Path) -> Result<Repo, GitError> {
        skip_hash_verification();
        Repository::open(path)
            .map(|repo| Repo {
                repo,
                at: Some(path.to_path_buf()),
                last_range: RefCell::default(),
            })
            .map_err(GitError::Open)
    }

    /// A second handle on the same repository, opened the same way (for
    /// another thread: a handle is used by one thread at a time).
    pub fn reopen(&self) -> Result<Repo, GitError> {
        match &self.at {
            Some(path) => Repo::open_at(path),
            None => Repo::open(),
        }
    }

    /// The git2 handle, for the sibling modules of this layer.
    pub fn raw(&self) -> &Repository {
        &self.repo
    }

    /// The working tree root, `None` for a bare repository.
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// The common git dir (shared by worktrees): where tollgate's state lives.
    pub fn common_dir(&self) -> &Path {
        self.repo.commondir()
    }

    /// Where tollgate keeps its state: `<common dir>/tollgate`.
    pub fn state_dir(&self) -> PathBuf {
        self.common_dir().join("tollgate")
    }

    /// The hooks directory git actually uses (`core.hooksPath`, worktrees).
    pub fn hooks_dir(&self) -> Result<PathBuf, GitError> {
        let dir = self
            .workdir()
            .unwrap_or_else(|| self.repo.path())
            .to_path_buf();
        let out = git_command(&dir, &["rev-parse", "--git-path", "hooks"])?;
        let p = PathBuf::from(out.trim_end_matches(['\n', '\r']));
        Ok(if p.is_absolute() { p } else { dir.join(p) })
    }

    /// Whether `path` (absolute, inside the working tree) is tracked: in
    /// the index at stage 0. A hook file that is tracked is shared with the
    /// team and must not be rewritten with this machine's paths.
    pub fn is_tracked(&self, path: &Path) -> bool {
        let (Some(root), Ok(index)) = (self.workdir(), self.repo.index()) else {
            return false;
        };
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let full = path
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .zip(path.file_name())
            .map(|(d, n)| d.join(n))
            .unwrap_or_else(|| path.to_path_buf());
        full.strip_prefix(&root)
            .ok()
            .is_some_and(|rel| index.get_path(rel, 0).is_some())
    }

    /// A config string, if set.
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo.config().ok()?.get_string(key).ok()
    }

    /// The content of `path` in `commit`'s tree; `None` when there is no
    /// such file.
    pub fn file_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .ctx(|| format!("cannot read the tree of {commit}"))?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(GitError::Git2 {
                    what: format!("cannot look up `{path}` in {commit}"),
                    source: e,
                })
            }
        };
        let blob = entry
            .to_object(&self.repo)
            .and_then(|o| o.peel_to_blob())
            .ctx(|| format!("`{path}` in {commit} is not a file"))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// The first parent and tree of a commit, and whether it is a merge.
    pub fn commit_shape(&self, commit: Oid) -> Result<(Option<Oid>, Oid, bool), GitError> {
        let c = self
            .repo
            .find_commit(commit)
            .ctx(|| format!("cannot read commit {commit}"))?;
        Ok((c.parent_ids().next(), c.tree_id(), c.parent_count() > 1))
    }

    /// The tree and first parent of a commit given as full hex, for
    /// matching commit-time audit records; `None` for anything that is not
    /// a commit here.
    pub fn shape_of(&self, commit: &str) -> Option<(String, Option<String>)> {
        let oid = Oid::from_str(commit).ok()?;
        let (parent, tree, _) = self.commit_shape(oid).ok()?;
        Some((tree.to_string(), parent.map(|p| p.to_string())))
    }

    /// Resolves a revision to a commit id.
    pub fn resolve_commit(&self, rev: &str) -> Result<Oid, GitError> {
        self.repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|_| GitError::UnknownRev(rev.to_string()))
    }

    /// Where the next commit lands: branch, parent and the staged tree.
    pub fn commit_target(&self) -> Result<CommitTarget, GitError> {
        let head = self
            .repo
            .find_reference("HEAD")
            .ctx(|| "cannot read HEAD".into())?;
        let branch = head
            .symbolic_target()
            .and_then(|t| t.strip_prefix("refs/heads/"))
            .map(str::to_string);
        let parent = self.head_commit()?.map(|c| c.id().to_string());
        let mut index = self.repo.index().ctx(|| "cannot read the index".into())?;
        let tree = index
            .write_tree()
            .ctx(|| "cannot compute the staged tree (unresolved conflicts?)".into())?;
        Ok(CommitTarget {
            branch,
            parent,
            tree: tree.to_string(),
        })
    }

    fn head_commit(&self) -> Result<Option<git2::Commit<'_>>, GitError> {
        match self.repo.head() {
            Ok(h) => h
                .peel_to_commit()
                .map(Some)
                .ctx(|| "cannot read HEAD's commit".into()),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(GitError::Git2 {
                what: "cannot read HEAD".into(),
                source: e,
            }),
        }
    }

    /// Feeds every staged change (the index against `HEAD`, or against the
    /// empty tree before the first commit) to `f`.
    /// `rescan(old, new)` says whether a pure rename from `old` to `new`
    /// must be read again ([`crate::check::Engine::rename_needs_rescan`]).
    pub fn staged_changes(
        &self,
        rescan: &dyn Fn(&[u8], &[u8]) -> bool,
        f: &mut dyn FnMut(&ContentChange<'_>),
    ) -> Result<(), GitError> {
        let head_tree = match self.head_commit()? {
            Some(c) => Some(c.tree().ctx(|| "cannot read HEAD's tree".into())?),
            None => None,
        };
        let mut opts = diff_options();
        // Only the paths the index changes are compared, against an index
        // of just their entries (see `staged`); where the index file cannot
        // be read that way, libgit2 loads all of it and compares every path.
        let staged = match &head_tree {
            Some(tree) if !self.ignores_case() => {
                staged::changed(&self.repo, &self.index_path(), tree)
            }
            _ => None,
        };
        let index = match staged {
            Some(s) if s.paths.is_empty() => return Ok(()), // nothing staged
            Some(s) => match s.index() {
                Ok(mem) => {
                    opts.disable_pathspec_match(true);
                    for p in s.paths {
                        opts.pathspec(p);
                    }
                    mem
                }
                Err(_) => self.repo.index().ctx(|| "cannot read the index".into())?,
            },
            None => self.repo.index().ctx(|| "cannot read the index".into())?,
        };
        let diff = self
            .repo
            .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut opts))
            .ctx(|| "cannot diff the index against HEAD".into())?;
        self.feed_diff(diff, None, &mut Seen::new(), rescan, f, None)
    }

    /// The index file libgit2 would load: `GIT_INDEX_FILE` (as `git commit`
    /// sets it for its hooks) for a repository opened from the
    /// environment, else the git dir's `index`.
    fn index_path(&self) -> PathBuf {
        match (&self.at, std::env::var_os("GIT_INDEX_FILE")) {
            (None, Some(p)) if !p.is_empty() => PathBuf::from(p),
            _ => self.repo.path().join("index"),
        }
    }

    /// Whether the index compares paths case-insensitively
    /// (`core.ignorecase`), which the staged-path reader does not do.
    fn ignores_case(&self) -> bool {
        self.repo
            .config()
            .and_then(|c| c.get_bool("core.ignorecase"))
            .unwrap_or(false)
    }

    /// Feeds the changes from `parent`'s tree (the empty tree for `None`)
    /// to `tree` to `f`, as a commit of that tree on that parent would
    /// bring them: how another clone recomputes a commit-time blocker.
    pub fn tree_changes(
        &self,
        parent: Option<Oid>,
        tree: Oid,
        f: &mut dyn FnMut(&ContentChange<'_>),
    ) -> Result<(), GitError> {
        let tree = self
            .repo
            .find_tree(tree)
            .ctx(|| format!("cannot read tree {tree}"))?;
        let parent_tree = match parent {
            Some(p) => Some(
                self.repo
                    .find_commit(p)
                    .and_then(|c| c.tree())
                    .ctx(|| format!("cannot read the tree of {p}"))?,
            ),
            None => None,
        };
        let diff =
            tree_diff::diff_trees(&self.repo, parent_tree.as_ref(), &tree, &mut diff_options())
                .ctx(|| "cannot diff the trees".into())?;
        self.feed_diff(diff, None, &mut Seen::new(), &|_, _| true, f, None)
    }

    /// Whether an object exists here.
    pub fn has_object(&self, id: Oid) -> bool {
        self.repo.odb().is_ok_and(|o| o.exists(id))
    }

    /// A commit's subject line (lossy UTF-8), for showing what is approved.
    pub fn subject(&self, commit: Oid) -> Option<String> {
        let c = self.repo.find_commit(commit).ok()?;
        let s = String::from_utf8_lossy(c.message_bytes()).into_owned();
        s.lines().next().map(str::to_owned)
    }

    /// Who wrote a commit, when (author date, RFC 3339 to the second in the
    /// author's own offset) and its subject; `None` for a sha that is not
    /// a commit here. Names and subjects are lossy UTF-8, as written.
    pub fn commit_meta(&self, commit: &str) -> Option<CommitMeta> {
        let oid = Oid::from_str(commit).ok()?;
        let c = self.repo.find_commit(oid).ok()?;
        let a = c.author();
        let name = String::from_utf8_lossy(a.name_bytes());
        let email = String::from_utf8_lossy(a.email_bytes());
        let when = a.when();
        let date = chrono::FixedOffset::east_opt(when.offset_minutes() * 60)
            .and_then(|tz| {
                chrono::DateTime::from_timestamp(when.seconds(), 0).map(|t| t.with_timezone(&tz))
            })
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))?;
        let message = String::from_utf8_lossy(c.message_bytes());
        Some(CommitMeta {
            author: format!("{name} <{email}>"),
            date,
            subject: message.lines().next().unwrap_or_default().to_owned(),
        })
    }

    /// Feeds the changes of one commit against its first parent to `f`
    /// (`rescan` as for [`Repo::staged_changes`]).
    pub fn commit_changes(
        &self,
        commit: Oid,
        seen: &mut Seen,
        rescan: &dyn Fn(&[u8], &[u8]) -> bool,
        f: &mut dyn FnMut(&ContentChange<'_>),
    ) -> Result<(), GitError> {
        self.commit_changes_guarded(commit, seen, rescan, f, None)
    }

    /// [`Repo::commit_changes`], and from the same diff every added,
    /// modified or deleted file that `paths` guards, with both sides (for
    /// the policy-change constraint; one diff per commit, not two).
    pub fn commit_changes_guarded(
        &self,
        commit: Oid,
        seen: &mut Seen,
        rescan: &dyn Fn(&[u8], &[u8]) -> bool,
        f: &mut dyn FnMut(&ContentChange<'_>),
        paths: Option<&mut PathHook<'_>>,
    ) -> Result<(), GitError> {
        let c = self
            .repo
            .find_commit(commit)
            .ctx(|| format!("cannot read commit {commit}"))?;
        let tree = c
            .tree()
            .ctx(|| format!("cannot read the tree of {commit}"))?;
        let parent_tree = match c.parents().next() {
            Some(p) => Some(
                p.tree()
                    .ctx(|| format!("cannot read the parent tree of {commit}"))?,
            ),
            None => None,
        };
        let diff =
            tree_diff::diff_trees(&self.repo, parent_tree.as_ref(), &tree, &mut diff_options())
                .ctx(|| format!("cannot diff commit {commit}"))?;
        let id = commit.to_string();
        let paths = paths.map(|h| (h, c.parent_count() == 0));
        self.feed_diff(diff, Some(&id), seen, rescan, f, paths)
    }

    fn feed_diff(
        &self,
        mut diff: git2::Diff<'_>,
        commit: Option<&str>,
        seen: &mut Seen,
        rescan: &dyn Fn(&[u8], &[u8]) -> bool,
        f: &mut dyn FnMut(&ContentChange<'_>),
        mut paths: Option<(&mut PathHook<'_>, bool)>,
    ) -> Result<(), GitError> {
        // Exact renames only: a pure rename carries no new content (it is
        // read again only when its verdict could differ at the new path),
        // and exact detection costs no content comparison.
        diff.find_similar(Some(
            DiffFindOptions::new().renames(true).exact_match_only(true),
        ))
        .ctx(|| "cannot detect renames".into())?;
        for delta in diff.deltas() {
            if let (Some((hook, root)), Some(id)) = (paths.as_mut(), commit) {
                self.path_change(&delta, id, *root, hook)?;
            }
            let status = delta.status();
            if matches!(
                status,
                Delta::Deleted | Delta::Ignored | Delta::Untracked | Delta::Unreadable
            ) {
                continue;
            }
            let new = delta.new_file();
            let mode = new.mode();
            if matches!(mode, git2::FileMode::Commit | git2::FileMode::Unreadable) {
                continue; // submodule
            }
            let Some(path) = new.path_bytes() else {
                continue;
            };
            if !seen.insert((path.to_vec(), new.id())) {
                continue;
            }
            let size = self.blob_size(new.id())?;
            let old_id = delta.old_file().id();
            let pure_rename = status == Delta::Renamed && old_id == new.id();
            let base = ContentChange {
                path,
                blob: &new.id().to_string(),
                size,
                commit,
                new_path: matches!(status, Delta::Added | Delta::Renamed | Delta::Copied),
                added: &[],
                unscanned: false,
            };
            // A pure rename brings no new content, but the verdict on that
            // content may differ at the new path (an allow rule or a path
            // filter that covered the old path only): then it is read again.
            let old_path = delta.old_file().path_bytes().unwrap_or_default();
            if pure_rename && !rescan(old_path, path) {
                f(&base);
                continue;
            }
            // Compared against the old version only when there is one to
            // compare with and both fit in memory.
            let old = (!pure_rename && !old_id.is_zero() && status != Delta::Added)
                .then_some(old_id)
                .filter(|_| size <= crate::check::MAX_SCAN_BYTES);
            let old = match old {
                Some(o) if self.blob_size(o)? <= crate::check::MAX_SCAN_BYTES => Some(
                    self.repo
                        .find_blob(o)
                        .ctx(|| format!("cannot read blob {o}"))?,
                ),
                _ => None,
            };
            if size > crate::check::MAX_SCAN_BYTES {
                if blob::stream_changes(&self.repo, &base, new.id(), f).is_err() {
                    f(&ContentChange {
                        unscanned: true,
                        ..base.clone()
                    });
                }
                continue;
            }
            let blob = self.repo.find_blob(new.id()).ctx(|| {
                format!(
                    "cannot read blob {} for `{}`",
                    new.id(),
                    String::from_utf8_lossy(path)
                )
            })?;
            let added = blob::added(blob.content(), old.as_ref().map(|o| o.content()));
            f(&ContentChange {
                added: &added.chunks(),
                ..base.clone()
            });
        }
        Ok(())
    }

    fn blob_size(&self, id: Oid) -> Result<u64, GitError> {
        let (size, _) = self
            .repo
            .odb()
            .and_then(|o| o.read_header(id))
            .ctx(|| format!("cannot read the size of blob {id}"))?;
        Ok(size as u64)
    }

    /// Commits in `base..head` (or all of `head`'s history when `base` is
    /// `None`), oldest first.
    pub fn range_commits(&self, base: Option<Oid>, head: Oid) -> Result<Vec<Oid>, GitError> {
        let walked = self.last_range.borrow_mut().take();
        if let Some((b, h, commits)) = walked {
            if (b, h) == (base, head) {
                return Ok(commits);
            }
        }
        self.walk_range(base, head)
    }

    fn walk_range(&self, base: Option<Oid>, head: Oid) -> Result<Vec<Oid>, GitError> {
        let mut walk = self.walk()?;
        walk.push(head).ctx(|| format!("cannot walk from {head}"))?;
        if let Some(b) = base {
            walk.hide(b).ctx(|| format!("cannot hide {b}"))?;
        }
        walk.collect::<Result<Vec<_>, _>>()
            .ctx(|| "cannot walk history".into())
    }

    /// Commits reachable from `tip` and from no existing ref (notes aside),
    /// oldest first: what a push brings to a server, as pre-receive sees it.
    pub fn new_commits(&self, tip: Oid) -> Result<Vec<Oid>, GitError> {
        let Ok(tip) = self
            .repo
            .find_object(tip, None)
            .and_then(|o| o.peel(ObjectType::Commit))
        else {
            return Ok(Vec::new()); // a tag of a tree or blob: no commits
        };
        let mut walk = self.walk()?;
        walk.push(tip.id())
            .ctx(|| format!("cannot walk from {}", tip.id()))?;
        for c in self.ref_tips()? {
            walk.hide(c).ctx(|| "cannot walk history".into())?;
        }
        walk.collect::<Result<Vec<_>, _>>()
            .ctx(|| "cannot walk history".into())
    }

    /// Commits reachable from `tip` and from no existing ref, notes refs
    /// included, oldest first: what a push of a notes ref other than
    /// tollgate's brings (a notes history built on the audit trail's does
    /// not rescan it).
    pub fn commits_beyond_all_refs(&self, tip: Oid) -> Result<Vec<Oid>, GitError> {
        let Ok(tip) = self
            .repo
            .find_object(tip, None)
            .and_then(|o| o.peel(ObjectType::Commit))
        else {
            return Ok(Vec::new());
        };
        let mut walk = self.walk()?;
        walk.push(tip.id())
            .ctx(|| format!("cannot walk from {}", tip.id()))?;
        for r in self
            .repo
            .references()
            .ctx(|| "cannot list refs".into())?
            .flatten()
        {
            if let Ok(c) = r.peel_to_commit() {
                walk.hide(c.id()).ctx(|| "cannot walk history".into())?;
            }
        }
        walk.collect::<Result<Vec<_>, _>>()
            .ctx(|| "cannot walk history".into())
    }

    /// The commit every ref points at, notes aside.
    /// The commits the refs (except notes) point at. A ref at a tree or a
    /// blob (through tags or not) has no history and is skipped; an object
    /// that cannot be read is an error, so that a damaged repository never
    /// looks like one with nothing in it.
    fn ref_tips(&self) -> Result<Vec<Oid>, GitError> {
        let mut tips = Vec::new();
        for r in self
            .repo
            .references()
            .ctx(|| "cannot list refs".into())?
            .flatten()
        {
            let name = String::from_utf8_lossy(r.name_bytes()).into_owned();
            if name.starts_with("refs/notes/") {
                continue;
            }
            let Some(target) = r.resolve().ok().and_then(|r| r.target()) else {
                continue;
            };
            let mut obj = self
                .repo
                .find_object(target, None)
                .ctx(|| format!("cannot read the object `{name}` points at ({target})"))?;
            while let Some(tag) = obj.as_tag() {
                let to = tag.target_id();
                obj = self
                    .repo
                    .find_object(to, None)
                    .ctx(|| format!("cannot read the object tag `{name}` points at ({to})"))?;
            }
            if obj.kind() == Some(ObjectType::Commit) {
                tips.push(obj.id());
            }
        }
        Ok(tips)
    }

    /// Every commit reachable from any ref except notes, oldest first.
    pub fn all_commits(&self) -> Result<Vec<Oid>, GitError> {
        let mut walk = self.walk()?;
        for c in self.ref_tips()? {
            walk.push(c).ctx(|| "cannot walk history".into())?;
        }
        if let Ok(Some(h)) = self.head_commit() {
            walk.push(h.id()).ctx(|| "cannot walk history".into())?;
        }
        walk.collect::<Result<Vec<_>, _>>()
            .ctx(|| "cannot walk history".into())
    }

    fn walk(&self) -> Result<git2::Revwalk<'_>, GitError> {
        let mut walk = self.repo.revwalk().ctx(|| "cannot walk history".into())?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
            .ctx(|| "cannot walk history".into())?;
        Ok(walk)
    }

    /// Whether `new` is a fast-forward of `old` (both known locally).
    pub fn is_fast_forward(&self, old: Oid, new: Oid) -> bool {
        if old == new {
            return true;
        }
        let peel = |id: Oid| {
            self.repo
                .find_object(id, None)
                .ok()
                .and_then(|o| o.peel(ObjectType::Commit).ok())
                .map(|o| o.id())
        };
        match (peel(old), peel(new)) {
            (Some(o), Some(n)) => o == n || self.descends_from(n, o),
            _ => false,
        }
    }

    /// Whether commit `old` is an ancestor of commit `new` (`old != new`),
    /// from the walk of `old..new` that a range judgement needs anyway:
    /// `old` is an ancestor exactly when some commit of that range has it
    /// as a parent (the commit before `old` on a path from `new` cannot be
    /// reachable from `old`). Oldest first, that commit is nearly always
    /// among the first; past the first few, libgit2's merge-base decides.
    fn descends_from(&self, new: Oid, old: Oid) -> bool {
        const LOOK: usize = 64;
        let Ok(range) = self.walk_range(Some(old), new) else {
            return false;
        };
        let has_parent = |c: &Oid| {
            self.repo
                .find_commit(*c)
                .is_ok_and(|c| c.parent_ids().any(|p| p == old))
        };
        let answer = range.iter().take(LOOK).any(has_parent)
            || (range.len() > LOOK && self.repo.graph_descendant_of(new, old).unwrap_or(false));
        // Kept for the one `range_commits` call that asks for it next.
        *self.last_range.borrow_mut() = Some((Some(old), new, range));
        answer
    }
}

/// libgit2 re-hashes every object it reads to check it against its id;
/// git itself does not (that is `git fsck`'s job), and on a large change the
/// SHA-1 of every blob costs as much as scanning it. Its object cache is
/// off too: tollgate reads each object about once, and on a 100,000-commit
/// range the cache grew to 600 MiB for no measurable speed (10.2 s with it,
/// 10.0 s without, 69 MiB peak). Set once, before any repository is opened.
fn skip_hash_verification() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
    });
}

fn diff_options() -> DiffOptions {
    let mut o = DiffOptions::new();
    o.context_lines(0)
        .ignore_submodules(true)
        .include_typechange(true)
        .skip_binary_check(true);
    o
}

/// Runs `git` in `dir` with C messages and stdin closed; returns stdout.
pub fn git_command(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = notes::run_git(dir, args)?;
    if !out.ok {
        return Err(GitError::Command {
            args: args.join(" "),
            why: out.stderr.trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// A ref update and the commits it brings, as built from pre-push input.
#[derive(Debug, Clone)]
pub struct PushPlan {
    /// One per input line.
    pub updates: Vec<RefUpdate>,
    /// Commits new to the remote, oldest first, each once.
    pub commits: Vec<Oid>,
}

impl Repo {
    /// Builds the push event from pre-push lines for `remote` (a remote name
    /// or a URL).
    pub fn push_plan(&self, remote: &str, lines: &[PushLine]) -> Result<PushPlan, GitError> {
        let mut updates = Vec::new();
        let mut commits = Vec::new();
        let mut seen = HashSet::new();
        for line in lines {
            let new = line.local_sha;
            let old = line.remote_sha;
            let forced = match (old, new) {
                (Some(o), Some(n)) => !self.is_fast_forward(o, n),
                _ => false,
            };
            updates.push(RefUpdate {
                remote_ref: line.remote_ref.clone(),
                old: old.map(|o| o.to_string()),
                new: new.map(|n| n.to_string()),
                forced,
            });
            let Some(new) = new else { continue };
            let Some(tip) = self
                .repo
                .find_object(new, None)
                .ok()
                .and_then(|o| o.peel(ObjectType::Commit).ok())
            else {
                continue; // a tag of a tree or blob: no commits
            };
            let mut walk = self.walk()?;
            walk.push(tip.id())
                .ctx(|| format!("cannot walk from {new}"))?;
            if let Some(o) = old {
                if let Ok(obj) = self.repo.find_object(o, None) {
                    if let Ok(c) = obj.peel(ObjectType::Commit) {
                        walk.hide(c.id()).ctx(|| format!("cannot hide {o}"))?;
                    }
                }
            }
            // Commits the remote already has (as far as we know) were judged
            // when they reached it.
            let glob = format!("refs/remotes/{remote}/*");
            if git2::Reference::is_valid_name(&format!("refs/remotes/{remote}/x")) {
                walk.hide_glob(&glob)
                    .ctx(|| format!("cannot hide {glob}"))?;
            }
            for id in walk {
                let id = id.ctx(|| "cannot walk history".into())?;
                if seen.insert(id) {
                    commits.push(id);
                }
            }
        }
        Ok(PushPlan { updates, commits })
    }
}
