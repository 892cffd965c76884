//! The gate: one event from git to a verdict, shared by the hooks, `check`,
//! `override`, `verify` and `pre-receive`.
//!
//! It owns what is checked ([`Event`]) and how it is scanned ([`evaluate`],
//! [`scan_commits`]); what covers each finding of a commit or push and the
//! consumption of the covering tokens ([`cover`]); preparing an override,
//! with a typed refusal ([`prepare`]); the scope a blocker was computed from
//! ([`scope`]) and recomputing it in another clone ([`recompute`]); the
//! trusted base and the range judgement that `verify` and `pre-receive`
//! share ([`range`]); the verdict on what coverage left, blockers and
//! warnings ([`verdict`]); and the token printout ([`rerun`]).
//!
//! It combines the layers below it (`check`, `overrides`, `audit`, `trust`,
//! through `git`), and nothing below depends on it. It takes a policy, a
//! repository, the time and plain values, and returns values (messages as
//! text): it never prints, reads the terminal, the clock or the
//! environment, and never takes the CLI's context.

pub mod approve;
pub mod cover;
pub mod prepare;
pub mod range;
pub mod recompute;
pub mod rerun;
pub mod scope;
pub mod verdict;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::check::{Engine, EventKind, Finding, Findings};
use crate::git::{PushLine, Repo};

/// What is checked.
#[derive(Debug, Clone)]
pub enum Event {
    /// The staged index against `HEAD`.
    Staged,
    /// A push: remote name or URL, and the pre-push lines.
    Push {
        remote: String,
        lines: Vec<PushLine>,
    },
    /// `base..head` (`base` `None`: all of `head`'s history).
    Range {
        base: Option<git2::Oid>,
        head: git2::Oid,
    },
    /// Every commit reachable from any ref.
    History,
}

impl Event {
    /// The operation an override of this event's blockers is for; `None`
    /// for ranges and history, whose blockers `verify` judges.
    pub fn kind(&self) -> Option<EventKind> {
        match self {
            Event::Staged => Some(EventKind::Commit),
            Event::Push { .. } => Some(EventKind::Push),
            _ => None,
        }
    }

    /// `commit`, `push`, `range` or `history`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Staged => "commit",
            Event::Push { .. } => "push",
            Event::Range { .. } => "range",
            Event::History => "history",
        }
    }
}

/// Runs every constraint over the event.
pub fn evaluate(repo: &Repo, engine: &Engine<'_>, event: &Event) -> anyhow::Result<Vec<Finding>> {
    evaluate_with(repo, engine, event, &mut |_, _| {})
}

/// [`evaluate`], calling `progress(done, total)` after each commit of a
/// push, range or history (for a progress line; the gate prints nothing).
pub fn evaluate_with(
    repo: &Repo,
    engine: &Engine<'_>,
    event: &Event,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Vec<Finding>> {
    let mut out = Findings::default();
    match event {
        Event::Staged => {
            if engine.needs_commit_target() {
                engine.check_commit_target(&repo.commit_target()?, &mut out);
            }
            repo.staged_changes(&|o, n| engine.rename_needs_rescan(o, n), &mut |c| {
                engine.check_content(c, &mut out)
            })?;
        }
        Event::Push { remote, lines } => {
            let plan = repo.push_plan(remote, lines)?;
            for u in &plan.updates {
                engine.check_ref_update(u, &mut out);
            }
            scan_commits_with(repo, engine, &plan.commits, &mut out, progress)?;
        }
        Event::Range { base, head } => scan_commits_with(
            repo,
            engine,
            &repo.range_commits(*base, *head)?,
            &mut out,
            progress,
        )?,
        Event::History => {
            scan_commits_with(repo, engine, &repo.all_commits()?, &mut out, progress)?
        }
    }
    Ok(out.into_vec())
}

/// Checks the content each commit brings against its first parent, oldest
/// first; a path/blob pair already scanned is not read again.
pub fn scan_commits(
    repo: &Repo,
    engine: &Engine<'_>,
    commits: &[git2::Oid],
    out: &mut Findings,
) -> anyhow::Result<()> {
    scan_commits_with(repo, engine, commits, out, &mut |_, _| {})
}

/// [`scan_commits`], calling `progress(done, total)` as commits are done.
///
/// A range of [`PARALLEL_FROM`] commits or more is shared among up to
/// [`MAX_WORKERS`] threads, each with its own handle on the repository
/// (reading and inflating blobs is most of a scan, and commits are
/// independent). The findings are then merged in commit order, exactly as
/// one thread finds them: a path/blob pair is judged at the first commit
/// that brings it, and a fingerprint is kept at its first commit.
pub fn scan_commits_with(
    repo: &Repo,
    engine: &Engine<'_>,
    commits: &[git2::Oid],
    out: &mut Findings,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<()> {
    let workers = if commits.len() < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS))
    };
    // A handle that cannot be opened is one thread fewer.
    let handles: Vec<Repo> = match workers {
        1 => Vec::new(),
        n => (0..n).filter_map(|_| repo.reopen().ok()).collect(),
    };
    let mut merge = Merge {
        out,
        seen: HashSet::new(),
        next: 0,
        pending: BTreeMap::new(),
    };
    if handles.len() < 2 {
        let mut seen = HashSet::new();
        for (i, &c) in commits.iter().enumerate() {
            merge.add(i, scan_commit(repo, engine, c, &mut seen))?;
            progress(i + 1, commits.len());
        }
        return Ok(());
    }
    // The scanning threads take commits in order and send each result
    // here, where they are merged in commit order as they come: only the
    // few that arrive early wait, so memory stays that of one commit's
    // findings however long the range.
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work =
        |repo: &Repo, results: std::sync::mpsc::Sender<Vec<(usize, anyhow::Result<Scanned>)>>| {
            let mut seen = HashSet::new();
            let mut batch = Vec::with_capacity(SEND_EVERY);
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&c) = commits.get(i) else {
                    break;
                };
                let scanned = scan_commit(repo, engine, c, &mut seen);
                let stop = scanned.is_err();
                failed.fetch_or(stop, Ordering::Relaxed);
                batch.push((i, scanned));
                if (batch.len() == SEND_EVERY || stop)
                    && results.send(std::mem::take(&mut batch)).is_err()
                {
                    return;
                }
            }
            let _ = results.send(batch);
        };
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        for r in handles {
            let tx = tx.clone();
            let work = &work;
            // A thread that cannot start leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("tollgate-scan".into())
                .spawn_scoped(s, move || work(&r, tx));
        }
        drop(tx);
        // Every result until each thread has stopped (a thread that
        // panicked drops its sender too; its commit is then missing).
        let mut got = 0;
        for (i, scanned) in rx.into_iter().flatten() {
            got += 1;
            progress(got, commits.len());
            if let Err(e) = merge.add(i, scanned) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        if merge.next != commits.len() {
            anyhow::bail!("a scanning thread stopped: the range was not fully scanned");
        }
        Ok(())
    })
}

/// The findings of a range's commits merged in commit order, exactly as
/// one thread finds them: a path/blob pair is judged at the first commit
/// that brings it, and a fingerprint is kept at its first commit.
struct Merge<'o> {
    out: &'o mut Findings,
    seen: HashSet<PathBlob>,
    /// The index of the next commit to merge.
    next: usize,
    /// Results that arrived before an earlier commit's.
    pending: BTreeMap<usize, anyhow::Result<Scanned>>,
}

impl Merge<'_> {
    /// Takes commit `i`'s result and merges every result that is now next;
    /// the first error in commit order is returned.
    fn add(&mut self, i: usize, scanned: anyhow::Result<Scanned>) -> anyhow::Result<()> {
        self.pending.insert(i, scanned);
        while let Some(scanned) = self.pending.remove(&self.next) {
            let scanned = scanned?;
            for (key, findings) in scanned.changes {
                if self.seen.insert(key) {
                    findings.into_iter().for_each(|f| self.out.push(f));
                }
            }
            scanned.policy.into_iter().for_each(|f| self.out.push(f));
            self.next += 1;
        }
        Ok(())
    }
}

/// A scanning thread sends its results this many commits at a time (one
/// wake-up of the merging thread per commit cost 15% of a range scan).
const SEND_EVERY: usize = 32;

/// Ranges shorter than this are scanned on one thread (a typical push: a
/// thread costs more to start than such a range takes).
const PARALLEL_FROM: usize = 16;

/// At most this many threads scan a range.
const MAX_WORKERS: usize = 4;

/// What one commit brings: the findings of each change, with the path and
/// blob they were judged at, and those of its policy-file changes.
#[derive(Default)]
struct Scanned {
    changes: Vec<(PathBlob, Vec<Finding>)>,
    policy: Vec<Finding>,
}

/// A path and the id of the blob at it (hex).
type PathBlob = (Vec<u8>, String);

/// Scans one commit against its first parent; `seen` holds the path/blob
/// pairs this thread has judged already, which are not read again.
fn scan_commit(
    repo: &Repo,
    engine: &Engine<'_>,
    commit: git2::Oid,
    seen: &mut crate::git::Seen,
) -> anyhow::Result<Scanned> {
    let mut scanned = Scanned::default();
    // Policy changes are read from the same diff as the content.
    let mut policy_changes = Findings::default();
    let mut hook = crate::git::PathHook {
        guarded: &|p| engine.guards_path(p),
        f: &mut |ch| engine.check_path_change(ch, &mut policy_changes),
    };
    let rescan = |o: &[u8], n: &[u8]| engine.rename_needs_rescan(o, n);
    repo.commit_changes_guarded(
        commit,
        seen,
        &rescan,
        &mut |ch| {
            let mut found = Findings::default();
            engine.check_content(ch, &mut found);
            // A blob streamed in windows comes as several changes.
            match scanned.changes.last_mut() {
                Some(((path, blob), list)) if path == ch.path && blob == ch.blob => {
                    list.extend(found.into_vec())
                }
                _ => scanned
                    .changes
                    .push(((ch.path.to_vec(), ch.blob.to_string()), found.into_vec())),
            }
        },
        Some(&mut hook),
    )?;
    scanned.policy = policy_changes.into_vec();
    Ok(scanned)
}

/// The branches (full ref names) an event targets, for allow rules with
/// `branches`: the checked-out branch for a commit, every pushed ref for a
/// push, none for ranges and history.
pub fn event_branches(repo: &Repo, event: &Event) -> Vec<String> {
    match event {
        Event::Staged => repo
            .commit_target()
            .ok()
            .and_then(|t| t.branch)
            .map(|b| vec![format!("refs/heads/{b}")])
            .unwrap_or_default(),
        Event::Push { lines, .. } => lines.iter().map(|l| l.remote_ref.clone()).collect(),
        _ => Vec::new(),
    }
}

/// What a consumed token was used for, in the ledger's words.
pub fn used_for(event: &Event, repo: &Repo) -> String {
    match event {
        Event::Push { remote, lines } => format!(
            "push to `{remote}` of {}",
            lines
                .iter()
                .map(|l| format!("`{}`", l.remote_ref))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => match repo.commit_target() {
            Ok(t) => format!(
                "commit on `{}` (tree {})",
                t.branch.as_deref().unwrap_or("detached HEAD"),
                crate::text::short_sha(&t.tree)
            ),
            Err(_) => "commit".into(),
        },
    }
}
