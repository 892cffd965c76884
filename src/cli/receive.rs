//! `tollgate hook pre-receive`: `verify` on the server, before any ref
//! moves. The pushed objects are read where git keeps them in quarantine
//! (git2 honours `GIT_OBJECT_DIRECTORY` and the alternates git sets).
//!
//! The policy and signer list come from the server's trusted copy: paths
//! in the server's git config (`tollgate.policy`, `tollgate.allowedSigners`),
//! else the tip of the default branch *before* this push. A blocker passes
//! only with a valid record already on the server's `refs/notes/tollgate`
//! (the client's pre-push sends the records first) or arriving in this
//! same push. The notes ref itself only ever moves forward and only gains
//! record lines (`audit::trail`); every other ref, other notes refs and
//! tags included, is judged like a branch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::verify::{self, Plan, Report, Trusted};
use super::{Ctx, Outcome};
use crate::audit::trail;
use crate::check::RefUpdate;
use crate::git::{parse_receive_lines, NOTES_REF};
use crate::policy::Source;

/// Judges every ref update of a push; any failure refuses the whole push.
pub fn run(ctx: &Ctx, stdin: &[u8]) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let lines = parse_receive_lines(stdin)?;
    let p = &ctx.printer;

    let policy = match repo.config_string("tollgate.policy") {
        Some(path) => Some(Source::new(
            path.clone(),
            std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read the server's policy `{path}`: {e}"))?,
        )),
        None => ctx.explicit_policy()?,
    };
    let signers = repo
        .config_string("tollgate.allowedSigners")
        .map(PathBuf::from);
    let tip = repo.ref_target("HEAD");
    let mut trusted = Trusted::load(ctx, &repo, tip, policy, signers.as_deref())?;
    if let Some(rel) = ctx.explicit_policy_in(&repo) {
        trusted.policy.guard_policy_file(&rel);
    }
    // The anchor: the default branch's tip before this push.
    let anchor = tip.map(|commit| crate::trust::Anchor {
        commit,
        how: "the server's default branch (`HEAD`) before this push".into(),
    });

    // The server's records, and those this push brings.
    let mut merged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |notes: Vec<(String, String)>| {
        for (commit, text) in notes {
            let set = merged.entry(commit).or_default();
            set.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
        }
    };
    add(repo.all_notes(NOTES_REF)?);
    let mut refused = false;
    for l in lines.iter().filter(|l| l.ref_name == NOTES_REF) {
        match (l.old, l.new) {
            (_, None) => {
                p.error(&format!(
                    "refused: deleting `{NOTES_REF}` would remove audit records"
                ));
                refused = true;
            }
            (Some(old), Some(new)) if !repo.is_fast_forward(old, new) => {
                p.error(&format!(
                    "refused: `{NOTES_REF}` may only move forward (records are never rewritten); fetch and merge the server's records first (`tollgate notes push` does)"
                ));
                refused = true;
            }
            (_, Some(new)) => {
                // Append-only: every old line kept, only record lines added.
                for problem in trail::check_update(&repo, l.old, new)? {
                    p.error(&format!("refused: this `{NOTES_REF}` update {problem}"));
                    refused = true;
                }
                add(repo.notes_in_commit(new)?)
            }
        }
    }
    let notes: Vec<(String, String)> = merged
        .into_iter()
        .map(|(c, lines)| {
            let mut text = lines.into_iter().collect::<Vec<_>>().join("\n");
            text.push('\n');
            (c, text)
        })
        .collect();

    // Every other ref (branches, tags, other notes refs, custom refs) is
    // judged like a branch: the commits it brings are scanned.
    for l in lines.iter().filter(|l| l.ref_name != NOTES_REF) {
        let commits = match l.new {
            Some(new) if l.ref_name.starts_with("refs/notes/") => {
                repo.commits_beyond_all_refs(new)?
            }
            Some(new) => repo.new_commits(new)?,
            None => Vec::new(),
        };
        let update = RefUpdate {
            remote_ref: l.ref_name.clone(),
            old: l.old.map(|o| o.to_string()),
            new: l.new.map(|n| n.to_string()),
            forced: match (l.old, l.new) {
                (Some(o), Some(n)) => !repo.is_fast_forward(o, n),
                _ => false,
            },
        };
        let (shown, judgement, allow_notes) = verify::judge_commits(
            &ctx.printer,
            &repo,
            &trusted.policy,
            &trusted.signers,
            &commits,
            Some(&update),
            &notes,
        )?;
        if judgement.blockers.is_empty() && judgement.invalid() == 0 {
            continue;
        }
        p.info(&format!("tollgate: {}", l.ref_name));
        let plan = Plan {
            base: l.old,
            head: l.new,
            update: Some(update),
            anchor: anchor.clone(),
        };
        let report = Report::new(
            &plan,
            &trusted.policy_source,
            &trusted.signers_source,
            &judgement,
            &shown,
            &allow_notes,
        );
        verify::human(p, &report);
        refused |= !judgement.passed();
    }
    if refused {
        p.error("push refused by tollgate on the server");
        p.hint("a blocker passes only with a signed audit record: pass it with `tollgate override` and push through the installed pre-push hook, which sends the records first");
        return Ok(Outcome::Blocked);
    }
    Ok(Outcome::Pass)
}
