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

use std::collections::HashSet;

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

/// [`scan_commits`], calling `progress(done, total)` after each commit.
pub fn scan_commits_with(
    repo: &Repo,
    engine: &Engine<'_>,
    commits: &[git2::Oid],
    out: &mut Findings,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    for (done, &c) in commits.iter().enumerate() {
        // Policy changes are read from the same diff as the content.
        let mut policy_changes = Findings::default();
        let mut hook = crate::git::PathHook {
            guarded: &|p| engine.guards_path(p),
            f: &mut |ch| engine.check_path_change(ch, &mut policy_changes),
        };
        let rescan = |o: &[u8], n: &[u8]| engine.rename_needs_rescan(o, n);
        repo.commit_changes_guarded(
            c,
            &mut seen,
            &rescan,
            &mut |ch| engine.check_content(ch, out),
            Some(&mut hook),
        )?;
        for f in policy_changes.into_vec() {
            out.push(f);
        }
        progress(done + 1, commits.len());
    }
    Ok(())
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
