//! `refs/notes/tollgate`: where audit records live.
//!
//! A note holds one record per line. Writing is append-only: the new lines
//! are merged into the note's existing lines (sorted, each once, exactly as
//! `git notes merge -s cat_sort_uniq` merges two writers' notes), under
//! tollgate's notes lock, and git moves the notes ref atomically. Records are
//! never removed or rewritten, and `notes.rewriteRef` is never set, so a
//! record never follows a rebased commit.
//!
//! Notes reach a remote by a nested `git push --no-verify` of the notes ref
//! alone (so the pre-push hook does not run again), leased on the remote's
//! notes as last fetched into `refs/notes/remotes/<remote>/tollgate` after
//! checking that the local notes keep every line of them: a removal is
//! never pushed. When another writer got there first, the remote's notes
//! are fetched, merged by a true union of lines (in-process: git's
//! three-way `git notes merge` would carry a removal), and the push is
//! retried with jittered exponential backoff until a time budget runs out.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::Oid;
use sha2::{Digest, Sha256};

pub use super::notes_history::{lines_missing, note_path_commit};
use super::{Context, GitError, Repo};

/// The notes ref of audit records.
pub const NOTES_REF: &str = "refs/notes/tollgate";

/// How long a notes push waits out other writers by default.
pub const DEFAULT_PUSH_BUDGET: Duration = Duration::from_secs(60);

/// What a notes push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotesPush {
    /// There is no local notes ref: nothing to push.
    NothingLocal,
    /// The remote already had every local record (as last seen).
    UpToDate,
    /// Pushed, after this many merges with the remote's notes.
    Pushed {
        /// Merges of concurrent writers' notes before the push went through.
        merges: u32,
    },
}

/// The tracking ref of a remote's notes. A remote given as a URL is named by
/// a hash of the URL, so it still gets a ref of its own.
pub fn tracking_ref(remote: &str) -> String {
    let plain = !remote.is_empty()
        && remote
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !remote.starts_with('.');
    if plain {
        format!("refs/notes/remotes/{remote}/tollgate")
    } else {
        let digest = Sha256::digest(remote.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("refs/notes/remotes/url-{hex}/tollgate")
    }
}

/// The environment variable that sets the notes push budget (it wins over
/// `tollgate.notesPushTimeout`).
pub const PUSH_BUDGET_ENV: &str = "TOLLGATE_NOTES_PUSH_TIMEOUT";

/// Parses a budget: whole seconds, optionally with `s` or `m` (`90`, `90s`,
/// `2m`); `0` means one attempt.
pub fn parse_budget(value: &str) -> Option<Duration> {
    let v = value.trim();
    let (num, unit) = match v.strip_suffix('m') {
        Some(n) => (n, 60),
        None => (v.strip_suffix('s').unwrap_or(v), 1),
    };
    let n: u64 = num.trim().parse().ok()?;
    n.checked_mul(unit)
        .filter(|s| *s <= 24 * 3600)
        .map(Duration::from_secs)
}

impl Repo {
    /// How long a notes push waits out other writers: `$TOLLGATE_NOTES_PUSH_TIMEOUT`,
    /// else `tollgate.notesPushTimeout`, else [`DEFAULT_PUSH_BUDGET`].
    pub fn notes_push_budget(&self) -> Result<Duration, GitError> {
        let (key, value) = match std::env::var(PUSH_BUDGET_ENV) {
            Ok(v) if !v.trim().is_empty() => (PUSH_BUDGET_ENV, v),
            _ => match self.config_string("tollgate.notesPushTimeout") {
                Some(v) => ("tollgate.notesPushTimeout", v),
                None => return Ok(DEFAULT_PUSH_BUDGET),
            },
        };
        parse_budget(&value).ok_or_else(|| GitError::BadSetting {
            key: key.to_string(),
            value: crate::text::escape_controls(&value).into_owned(),
            why: "expected whole seconds (`90`, `90s`) or minutes (`2m`), at most a day".into(),
        })
    }

    /// The note on `commit` in `notes_ref`, if any.
    pub fn note(&self, notes_ref: &str, commit: Oid) -> Result<Option<String>, GitError> {
        match self.repo.find_note(Some(notes_ref), commit) {
            Ok(n) => Ok(Some(
                String::from_utf8_lossy(n.message_bytes()).into_owned(),
            )),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(GitError::Git2 {
                what: format!("cannot read the note on {commit} in `{notes_ref}`"),
                source: e,
            }),
        }
    }

    /// Every annotated commit and its note in `notes_ref` (empty when the
    /// ref does not exist), in annotated-commit order.
    pub fn all_notes(&self, notes_ref: &str) -> Result<Vec<(String, String)>, GitError> {
        match self.ref_target(notes_ref) {
            Some(tip) => self.notes_in_commit(tip),
            None => Ok(Vec::new()),
        }
    }

    /// Every annotated commit and its note in the notes commit `notes`
    /// (which no ref needs to point at yet: pre-receive reads a pushed notes
    /// commit before git moves the ref). Fan-out directories are joined
    /// back into the annotated sha.
    pub fn notes_in_commit(&self, notes: Oid) -> Result<Vec<(String, String)>, GitError> {
        let tree = self
            .repo
            .find_commit(notes)
            .and_then(|c| c.tree())
            .ctx(|| format!("cannot read the {NOTES_REF} notes commit {notes}"))?;
        let mut ids = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let name = format!("{}{}", dir.replace('/', ""), entry.name().unwrap_or(""));
            if Oid::from_str(&name).is_err() || !(name.len() == 40 || name.len() == 64) {
                return git2::TreeWalkResult::Ok; // not a note
            }
            ids.push((name, entry.id()));
            git2::TreeWalkResult::Ok
        })
        .ctx(|| format!("cannot read the {NOTES_REF} notes commit {notes}"))?;
        // One `git cat-file --batch` for every blob (`git::cat_file`: a
        // trail's notes are long delta chains, which libgit2 unpacks
        // whole for each blob).
        let mut objects = super::cat_file::CatFile::start(&self.command_dir())?;
        let blobs: Vec<Oid> = ids.iter().map(|(_, id)| *id).collect();
        let mut out: Vec<(String, String)> = ids
            .into_iter()
            .zip(objects.read_all(&blobs, "blob")?)
            .map(|((name, _), data)| (name, String::from_utf8_lossy(&data).into_owned()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The commit a ref points at, if it exists.
    pub fn ref_target(&self, name: &str) -> Option<Oid> {
        self.repo.refname_to_id(name).ok()
    }

    /// Adds `lines` to the note on `commit` in [`NOTES_REF`]: the note's
    /// lines and the new ones, sorted, each once. Holds the notes lock
    /// (`<state dir>/notes.lock`) so that two tollgate processes never
    /// lose each other's lines. Returns how many lines were new.
    pub fn append_note(&self, commit: Oid, lines: &[String]) -> Result<usize, GitError> {
        let _lock = self.notes_lock()?;
        let existing = self.note(NOTES_REF, commit)?.unwrap_or_default();
        let mut all: Vec<&str> = existing.lines().filter(|l| !l.is_empty()).collect();
        let before = all.len();
        all.extend(lines.iter().map(|l| l.trim_end_matches('\n')));
        all.sort_unstable();
        all.dedup();
        let added = all.len() - before;
        if added == 0 {
            return Ok(0);
        }
        let mut text = all.join("\n");
        text.push('\n');
        let sig = self.notes_signature()?;
        self.repo
            .note(&sig, &sig, Some(NOTES_REF), commit, &text, true)
            .ctx(|| format!("cannot write the audit note on {commit}"))?;
        Ok(added)
    }

    fn notes_signature(&self) -> Result<git2::Signature<'static>, GitError> {
        self.repo
            .signature()
            .or_else(|_| git2::Signature::now("tollgate", "tollgate@localhost"))
            .ctx(|| "cannot make a signature for the notes commit".into())
    }

    /// Takes tollgate's notes lock (released when the file is dropped, or by
    /// the OS if the process dies).
    fn notes_lock(&self) -> Result<File, GitError> {
        let dir = self.state_dir();
        let path = dir.join("notes.lock");
        let io = |what: &str, e: std::io::Error| GitError::Command {
            args: format!("({what} `{}`)", path.display()),
            why: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("create", e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("open", e))?;
        file.lock().map_err(|e| io("lock", e))?;
        Ok(file)
    }

    /// Fetches `remote`'s notes into its tracking ref and merges them into
    /// [`NOTES_REF`] by union of lines. Returns whether the remote has a
    /// notes ref at all.
    pub fn fetch_notes(&self, remote: &str) -> Result<bool, GitError> {
        let tracking = tracking_ref(remote);
        let dir = self.command_dir();
        let refspec = format!("+{NOTES_REF}:{tracking}");
        let out = run_git(
            &dir,
            &[
                "fetch",
                "--quiet",
                "--no-write-fetch-head",
                remote,
                &refspec,
            ],
        )?;
        if !out.ok {
            if out.stderr.contains("couldn't find remote ref") {
                return Ok(false);
            }
            return Err(GitError::Command {
                args: format!("fetch {remote} {refspec}"),
                why: out.stderr,
            });
        }
        self.merge_notes(&tracking)?;
        Ok(true)
    }

    /// Merges the notes in `other` into [`NOTES_REF`] by union of lines,
    /// under the notes lock: every note whose blob differs between the two
    /// becomes the sorted union of both notes' lines (each once, as git's
    /// `cat_sort_uniq` writes it), a note only one side has is kept. Unlike
    /// a three-way `git notes merge`, a line one side dropped comes back,
    /// so a merge never carries a removal. Only the differing notes are
    /// read; the result is a fast-forward when `other` already holds
    /// everything, else a merge commit with both as parents.
    pub fn merge_notes(&self, other: &str) -> Result<(), GitError> {
        let _lock = self.notes_lock()?;
        let Some(theirs) = self.ref_target(other) else {
            return Ok(());
        };
        let Some(ours) = self.ref_target(NOTES_REF) else {
            self.repo
                .reference(NOTES_REF, theirs, false, "tollgate: notes from the remote")
                .ctx(|| format!("cannot create `{NOTES_REF}`"))?;
            return Ok(());
        };
        if ours == theirs {
            return Ok(());
        }
        let tree_of = |c: Oid| {
            self.repo
                .find_commit(c)
                .and_then(|c| c.tree())
                .ctx(|| format!("cannot read the {NOTES_REF} notes commit {c}"))
        };
        let (our_tree, their_tree) = (tree_of(ours)?, tree_of(theirs)?);
        let (sides, _) = self.note_sides(Some(&our_tree), &their_tree)?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        let mut changes = 0usize;
        for (_, (o, t)) in sides {
            match (o, t) {
                (Some((_, ob)), Some((_, tb))) if ob == tb => {}
                (Some((path, ob)), Some((_, tb))) => {
                    let text = union_lines(&self.blob_text(ob)?, &self.blob_text(tb)?);
                    let blob = self
                        .repo
                        .blob(text.as_bytes())
                        .ctx(|| "cannot write a merged note".into())?;
                    if blob != ob {
                        update.upsert(path.as_str(), blob, git2::FileMode::Blob);
                        changes += 1;
                    }
                }
                (None, Some((path, tb))) => {
                    update.upsert(path.as_str(), tb, git2::FileMode::Blob);
                    changes += 1;
                }
                (Some(_), None) | (None, None) => {}
            }
        }
        let merged_tree = if changes == 0 {
            our_tree.id()
        } else {
            update
                .create_updated(&self.repo, &our_tree)
                .ctx(|| "cannot write the merged notes tree".into())?
        };
        let new = if merged_tree == their_tree.id() && self.is_descendant(theirs, ours) {
            theirs
        } else if merged_tree == our_tree.id() && self.is_descendant(ours, theirs) {
            return Ok(());
        } else {
            let tree = self
                .repo
                .find_tree(merged_tree)
                .ctx(|| "cannot read the merged notes tree".into())?;
            let sig = self.notes_signature()?;
            let (a, b) = (
                self.repo
                    .find_commit(ours)
                    .ctx(|| format!("cannot read {ours}"))?,
                self.repo
                    .find_commit(theirs)
                    .ctx(|| format!("cannot read {theirs}"))?,
            );
            self.repo
                .commit(
                    None,
                    &sig,
                    &sig,
                    &format!("Notes merged by tollgate (union of lines) from {other}"),
                    &tree,
                    &[&a, &b],
                )
                .ctx(|| "cannot write the notes merge commit".into())?
        };
        self.repo
            .reference_matching(
                NOTES_REF,
                new,
                true,
                ours,
                "tollgate: notes merged by union",
            )
            .ctx(|| format!("cannot move `{NOTES_REF}` (another writer moved it meanwhile?)"))?;
        Ok(())
    }

    fn blob_text(&self, id: Oid) -> Result<String, GitError> {
        let blob = self
            .repo
            .find_blob(id)
            .ctx(|| format!("cannot read the note blob {id}"))?;
        Ok(String::from_utf8_lossy(blob.content()).into_owned())
    }

    /// Pushes [`NOTES_REF`] to `remote` without running hooks, never
    /// pushing a removal and waiting out other writers.
    ///
    /// Each attempt checks that the local notes keep every line of the
    /// remote's notes as last fetched (the tracking ref) and descend from
    /// them, then pushes with `--force-with-lease` on that very commit: the
    /// push lands only if the remote is still where the check saw it. A
    /// rejected update (another writer got there first, or a lock race on
    /// the remote) is followed by a pause (jittered exponential backoff), a
    /// fetch, a union merge and another attempt, until `budget` runs out.
    /// Any other refusal (permissions, a server hook) stops at once.
    pub fn push_notes(&self, remote: &str, budget: Duration) -> Result<NotesPush, GitError> {
        let Some(mut local) = self.ref_target(NOTES_REF) else {
            return Ok(NotesPush::NothingLocal);
        };
        let tracking = tracking_ref(remote);
        if self.ref_target(&tracking) == Some(local) {
            return Ok(NotesPush::UpToDate);
        }
        let dir = self.command_dir();
        let started = Instant::now();
        let mut merges = 0u32;
        let mut attempt = 0u32;
        loop {
            let seen = self.ref_target(&tracking);
            if let Some(theirs) = seen {
                if theirs != local && !self.is_descendant(local, theirs) {
                    self.merge_notes(&tracking)?;
                    merges += 1;
                    local = self.ref_target(NOTES_REF).unwrap_or(local);
                }
                let removed = self.lines_removed(theirs, local)?;
                if !removed.is_empty() {
                    return Err(GitError::NotesRemoval {
                        remote: remote.to_string(),
                        removed,
                    });
                }
                if theirs == local {
                    return Ok(NotesPush::UpToDate);
                }
            }
            let lease = format!(
                "--force-with-lease={NOTES_REF}:{}",
                seen.map(|o| o.to_string()).unwrap_or_default()
            );
            // Push the commit that was checked, not whatever the ref holds
            // by now (another local writer may have appended meanwhile).
            let refspec = format!("{local}:{NOTES_REF}");
            let out = run_git(
                &dir,
                &[
                    "push",
                    "--quiet",
                    "--no-verify",
                    "--porcelain",
                    &lease,
                    remote,
                    &refspec,
                ],
            )?;
            attempt += 1;
            if out.ok {
                self.repo
                    .reference(&tracking, local, true, "tollgate: notes pushed")
                    .ctx(|| format!("cannot update `{tracking}`"))?;
                return Ok(NotesPush::Pushed { merges });
            }
            let why = if out.stderr.trim().is_empty() {
                out.stdout.trim().to_string()
            } else {
                format!("{}\n{}", out.stdout.trim(), out.stderr.trim())
                    .trim()
                    .to_string()
            };
            if !is_contention(&out) {
                return Err(GitError::NotesRefused {
                    remote: remote.to_string(),
                    why,
                });
            }
            let pause = backoff(attempt);
            if started.elapsed() + pause > budget {
                return Err(GitError::NotesPushTimedOut {
                    remote: remote.to_string(),
                    attempts: attempt,
                    secs: budget.as_secs(),
                    why,
                });
            }
            std::thread::sleep(pause);
            if !self.fetch_tracking(remote)? {
                // The remote has no notes (any more): lease on absence.
                self.drop_ref(&tracking)?;
            }
        }
    }

    /// Fetches `remote`'s notes into the tracking ref only (no merge).
    /// Returns whether the remote has a notes ref.
    fn fetch_tracking(&self, remote: &str) -> Result<bool, GitError> {
        let tracking = tracking_ref(remote);
        let refspec = format!("+{NOTES_REF}:{tracking}");
        let out = run_git(
            &self.command_dir(),
            &[
                "fetch",
                "--quiet",
                "--no-write-fetch-head",
                remote,
                &refspec,
            ],
        )?;
        if out.ok {
            return Ok(true);
        }
        if out.stderr.contains("couldn't find remote ref") {
            return Ok(false);
        }
        Err(GitError::Command {
            args: format!("fetch {remote} {refspec}"),
            why: out.stderr,
        })
    }

    fn drop_ref(&self, name: &str) -> Result<(), GitError> {
        match self.repo.find_reference(name) {
            Ok(mut r) => r.delete().ctx(|| format!("cannot delete `{name}`")),
            Err(_) => Ok(()),
        }
    }

    /// Whether `commit` descends from `ancestor`.
    fn is_descendant(&self, commit: Oid, ancestor: Oid) -> bool {
        self.repo
            .graph_descendant_of(commit, ancestor)
            .unwrap_or(false)
    }

    /// The note lines of notes commit `old` that notes commit `new` lacks,
    /// as `(annotated commit, line)`. Reads only the notes whose blobs differ.
    pub fn lines_removed(&self, old: Oid, new: Oid) -> Result<Vec<(String, String)>, GitError> {
        let diff = self.notes_diff(Some(old), new)?;
        let mut out = Vec::new();
        for c in diff.changed {
            let Some(before) = &c.old else { continue };
            let after = c.new.as_deref().unwrap_or("");
            for line in lines_missing(before, after) {
                out.push((c.commit.clone(), line.to_string()));
            }
        }
        Ok(out)
    }

    /// What changed between two notes trees, note by note: every annotated
    /// commit whose note blob differs (its text before and after), and
    /// every entry of `new`'s tree that is not a note (a file at a path
    /// that is no fan-out of an object id, a symbolic link, a submodule).
    /// A note that only moved to another fan-out level is unchanged. `old`
    /// `None` is the empty tree.
    pub fn notes_diff(&self, old: Option<Oid>, new: Oid) -> Result<NotesDiff, GitError> {
        let tree_of = |c: Oid| {
            self.repo
                .find_commit(c)
                .and_then(|c| c.tree())
                .ctx(|| format!("cannot read the {NOTES_REF} notes commit {c}"))
        };
        let new_tree = tree_of(new)?;
        let old_tree = old.map(tree_of).transpose()?;
        let (sides, foreign) = self.note_sides(old_tree.as_ref(), &new_tree)?;
        let read = |id: Oid| self.blob_text(id);
        let mut changed = Vec::new();
        for (commit, (o, n)) in sides {
            let (o, n) = (o.map(|x| x.1), n.map(|x| x.1));
            if o == n {
                continue; // moved between fan-out levels, unchanged
            }
            changed.push(ChangedNote {
                commit,
                old: o.map(read).transpose()?,
                new: n.map(read).transpose()?,
            });
        }
        Ok(NotesDiff { changed, foreign })
    }

    /// The notes that differ between two notes trees, by annotated commit:
    /// `(path, blob)` on each side. Also every entry of `new` that is not a
    /// note.
    #[allow(clippy::type_complexity)]
    fn note_sides(
        &self,
        old: Option<&git2::Tree<'_>>,
        new: &git2::Tree<'_>,
    ) -> Result<(BTreeMap<String, NoteSides>, Vec<ForeignEntry>), GitError> {
        // Only the subtrees that differ are read: a notes history is one
        // commit per record, each changing one note of a large tree.
        let diff =
            super::tree_diff::diff_trees(&self.repo, old, new, &mut git2::DiffOptions::new())
                .ctx(|| "cannot compare two notes trees".into())?;
        let mut sides: BTreeMap<String, NoteSides> = BTreeMap::new();
        let mut foreign = Vec::new();
        let is_blob =
            |m: git2::FileMode| matches!(m, git2::FileMode::Blob | git2::FileMode::BlobExecutable);
        for d in diff.deltas() {
            let (of, nf) = (d.old_file(), d.new_file());
            if of.exists() && is_blob(of.mode()) {
                let path =
                    String::from_utf8_lossy(of.path_bytes().unwrap_or_default()).into_owned();
                if let Some(commit) = note_path_commit(&path) {
                    sides.entry(commit).or_default().0 = Some((path, of.id()));
                }
            }
            if nf.exists() {
                let path =
                    String::from_utf8_lossy(nf.path_bytes().unwrap_or_default()).into_owned();
                let what = match nf.mode() {
                    m if is_blob(m) => None,
                    git2::FileMode::Link => Some("a symbolic link"),
                    git2::FileMode::Commit => Some("a submodule"),
                    _ => Some("an entry of an unknown kind"),
                };
                match (note_path_commit(&path), what) {
                    (Some(commit), None) => {
                        sides.entry(commit).or_default().1 = Some((path, nf.id()));
                    }
                    (_, Some(what)) => foreign.push(ForeignEntry { path, what }),
                    (None, None) => foreign.push(ForeignEntry {
                        path,
                        what: "a file at a path that is not a note (no fan-out of a commit id)",
                    }),
                }
            }
        }
        Ok((sides, foreign))
    }

    /// The record lines a notes history lost: every line that some notes
    /// commit from the root to `tip` had (in a parent's note) and that the
    /// note on the same commit in `tip` lacks, with the notes commit that
    /// dropped it first. Each commit is compared with each of its parents,
    /// reading only the subtrees and notes that differ
    /// (`git::notes_history`).
    pub fn notes_history_losses(&self, tip: Oid) -> Result<Vec<LostLine>, GitError> {
        let candidates = super::notes_history::dropped_lines(&self.repo, &self.command_dir(), tip)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let tip_tree = self
            .repo
            .find_commit(tip)
            .and_then(|c| c.tree())
            .ctx(|| format!("cannot read the {NOTES_REF} notes commit {tip}"))?;
        let mut cache: BTreeMap<String, String> = BTreeMap::new();
        let mut out = Vec::new();
        for ((annotated, line), dropped_in) in candidates {
            if !cache.contains_key(&annotated) {
                let text = self
                    .note_in_tree(&tip_tree, &annotated)?
                    .unwrap_or_default();
                cache.insert(annotated.clone(), text);
            }
            let now = &cache[&annotated];
            if !now.lines().any(|l| l == line) {
                out.push(LostLine {
                    commit: annotated,
                    line,
                    dropped_in,
                });
            }
        }
        Ok(out)
    }

    /// The note on `commit` (full hex) in a notes tree, at any fan-out.
    fn note_in_tree(
        &self,
        tree: &git2::Tree<'_>,
        commit: &str,
    ) -> Result<Option<String>, GitError> {
        for level in 0..=(commit.len() / 2 - 1).min(4) {
            let mut path = String::new();
            for i in 0..level {
                path.push_str(&commit[2 * i..2 * i + 2]);
                path.push('/');
            }
            path.push_str(&commit[2 * level..]);
            if let Ok(entry) = tree.get_path(Path::new(&path)) {
                let blob = self
                    .repo
                    .find_blob(entry.id())
                    .ctx(|| format!("cannot read the note on {commit}"))?;
                return Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()));
            }
        }
        Ok(None)
    }

    /// Where to run `git` for this repository.
    fn command_dir(&self) -> std::path::PathBuf {
        self.workdir()
            .unwrap_or_else(|| self.repo.path())
            .to_path_buf()
    }
}

/// A growing pause with jitter, so that racing writers spread out: 50 ms
/// doubling up to 1.6 s, each drawn at random between half and one and a
/// half times that ("equal jitter").
fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.saturating_sub(1).min(5);
    Duration::from_millis(base / 2 + rand::random_range(0..=base))
}

/// Whether a failed push lost a race with another writer (worth a fetch,
/// a merge and another attempt) rather than being refused.
fn is_contention(out: &GitOutput) -> bool {
    const SIGNS: [&str; 8] = [
        "[rejected]",
        "stale info",
        "fetch first",
        "non-fast-forward",
        "cannot lock ref",
        "but expected",
        "failed to update ref",
        "failed to lock",
    ];
    // A server hook that declined the update is a refusal, whatever it says.
    if out.stdout.contains("hook declined") {
        return false;
    }
    SIGNS
        .iter()
        .any(|s| out.stdout.contains(s) || out.stderr.contains(s))
}

/// A note's `(path, blob)` in an old and a new notes tree.
type NoteSides = (Option<(String, Oid)>, Option<(String, Oid)>);

/// The sorted union of two notes' lines, each once, newline-terminated.
fn union_lines(a: &str, b: &str) -> String {
    let mut all: Vec<&str> = a
        .lines()
        .chain(b.lines())
        .filter(|l| !l.is_empty())
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut text = all.join("\n");
    text.push('\n');
    text
}

/// Notes that differ between two notes trees (see [`Repo::notes_diff`]).
#[derive(Debug, Default)]
pub struct NotesDiff {
    /// Each annotated commit whose note differs, in commit order.
    pub changed: Vec<ChangedNote>,
    /// Entries of the new tree that are not notes.
    pub foreign: Vec<ForeignEntry>,
}

/// One note that differs between two notes trees.
#[derive(Debug)]
pub struct ChangedNote {
    /// The annotated commit (full hex).
    pub commit: String,
    /// The note before; `None` when it is new.
    pub old: Option<String>,
    /// The note after; `None` when it was removed.
    pub new: Option<String>,
}

/// An entry of a notes tree that is not a note.
#[derive(Debug)]
pub struct ForeignEntry {
    /// Its path in the notes tree.
    pub path: String,
    /// What it is.
    pub what: &'static str,
}

/// A note line that a notes history dropped and its tip lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostLine {
    /// The annotated commit.
    pub commit: String,
    /// The line.
    pub line: String,
    /// The first notes commit (in history order) that lacked it.
    pub dropped_in: String,
}

pub(super) struct GitOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `git` in `dir` with C messages, stdin closed and no terminal
/// prompts; a failure to start is an error, a failing git is not.
pub(super) fn run_git(dir: &Path, args: &[&str]) -> Result<GitOutput, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("LC_MESSAGES", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GitError::Command {
            args: args.join(" "),
            why: e.to_string(),
        })?;
    Ok(GitOutput {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
