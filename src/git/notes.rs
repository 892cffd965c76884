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
//! alone (so the pre-push hook does not run again). When another writer got
//! there first, the remote's notes are fetched into
//! `refs/notes/remotes/<remote>/tollgate`, merged by union of lines, and the
//! push is retried.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use git2::Oid;
use sha2::{Digest, Sha256};

use super::{Context, GitError, Repo};

/// The notes ref of audit records.
pub const NOTES_REF: &str = "refs/notes/tollgate";

/// How many times a rejected notes push is retried after merging.
const PUSH_ATTEMPTS: u32 = 5;

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

impl Repo {
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
    /// ref does not exist).
    pub fn all_notes(&self, notes_ref: &str) -> Result<Vec<(String, String)>, GitError> {
        let iter = match self.repo.notes(Some(notes_ref)) {
            Ok(i) => i,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(GitError::Git2 {
                    what: format!("cannot list the notes in `{notes_ref}`"),
                    source: e,
                })
            }
        };
        let mut out = Vec::new();
        for item in iter {
            let (blob, commit) = item.ctx(|| format!("cannot list the notes in `{notes_ref}`"))?;
            let blob = self
                .repo
                .find_blob(blob)
                .ctx(|| format!("cannot read the note on {commit}"))?;
            out.push((
                commit.to_string(),
                String::from_utf8_lossy(blob.content()).into_owned(),
            ));
        }
        Ok(out)
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
            .ctx(|| format!("cannot read the notes commit {notes}"))?;
        let mut out = Vec::new();
        let mut failed = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let name = format!("{}{}", dir.replace('/', ""), entry.name().unwrap_or(""));
            if Oid::from_str(&name).is_err() || !(name.len() == 40 || name.len() == 64) {
                return git2::TreeWalkResult::Ok; // not a note
            }
            match self.repo.find_blob(entry.id()) {
                Ok(b) => out.push((name, String::from_utf8_lossy(b.content()).into_owned())),
                Err(e) => {
                    failed = Some(e);
                    return git2::TreeWalkResult::Abort;
                }
            }
            git2::TreeWalkResult::Ok
        })
        .ctx(|| format!("cannot read the notes commit {notes}"))?;
        if let Some(e) = failed {
            return Err(GitError::Git2 {
                what: format!("cannot read a note in {notes}"),
                source: e,
            });
        }
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

    /// Merges the notes in `other` into [`NOTES_REF`] with git's
    /// `cat_sort_uniq` strategy (union of lines), under the notes lock.
    pub fn merge_notes(&self, other: &str) -> Result<(), GitError> {
        let _lock = self.notes_lock()?;
        let Some(theirs) = self.ref_target(other) else {
            return Ok(());
        };
        if self.ref_target(NOTES_REF).is_none() {
            self.repo
                .reference(NOTES_REF, theirs, false, "tollgate: notes from the remote")
                .ctx(|| format!("cannot create `{NOTES_REF}`"))?;
            return Ok(());
        }
        let dir = self.command_dir();
        let out = run_git(
            &dir,
            &[
                "notes",
                &format!("--ref={NOTES_REF}"),
                "merge",
                "--quiet",
                "--strategy=cat_sort_uniq",
                other,
            ],
        )?;
        if !out.ok {
            return Err(GitError::Command {
                args: format!("notes --ref={NOTES_REF} merge -s cat_sort_uniq {other}"),
                why: out.stderr,
            });
        }
        Ok(())
    }

    /// Pushes [`NOTES_REF`] to `remote` without running hooks. A rejected
    /// push (another writer got there first) is followed by a fetch, a
    /// union merge and a retry after a random pause, up to
    /// [`PUSH_ATTEMPTS`] times.
    pub fn push_notes(&self, remote: &str) -> Result<NotesPush, GitError> {
        let Some(mut local) = self.ref_target(NOTES_REF) else {
            return Ok(NotesPush::NothingLocal);
        };
        let tracking = tracking_ref(remote);
        if self.ref_target(&tracking) == Some(local) {
            return Ok(NotesPush::UpToDate);
        }
        let dir = self.command_dir();
        let refspec = format!("{NOTES_REF}:{NOTES_REF}");
        let mut last_error = String::new();
        for attempt in 0..PUSH_ATTEMPTS {
            let out = run_git(
                &dir,
                &[
                    "push",
                    "--quiet",
                    "--no-verify",
                    "--porcelain",
                    remote,
                    &refspec,
                ],
            )?;
            if out.ok {
                self.repo
                    .reference(&tracking, local, true, "tollgate: notes pushed")
                    .ctx(|| format!("cannot update `{tracking}`"))?;
                return Ok(NotesPush::Pushed { merges: attempt });
            }
            last_error = if out.stderr.trim().is_empty() {
                out.stdout.trim().to_string()
            } else {
                out.stderr.trim().to_string()
            };
            let rejected = out.stdout.contains("[rejected]")
                || out.stdout.contains("non-fast-forward")
                || out.stdout.contains("fetch first")
                || out.stderr.contains("cannot lock ref")
                || out.stderr.contains("failed to update ref");
            if !rejected || attempt + 1 == PUSH_ATTEMPTS {
                break;
            }
            std::thread::sleep(backoff(attempt));
            self.fetch_notes(remote)?;
            local = self.ref_target(NOTES_REF).unwrap_or(local);
        }
        Err(GitError::Command {
            args: format!("push --no-verify {remote} {refspec}"),
            why: last_error,
        })
    }

    /// Where to run `git` for this repository.
    fn command_dir(&self) -> std::path::PathBuf {
        self.workdir()
            .unwrap_or_else(|| self.repo.path())
            .to_path_buf()
    }
}

/// A growing pause with jitter, so that racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 50u64 << attempt.min(4);
    Duration::from_millis(base + rand::random_range(0..base * 2))
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
