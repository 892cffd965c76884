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

use std::path::PathBuf;

use super::{Ctx, Outcome};
use crate::gate::range;
use crate::git::{parse_receive_lines, NOTES_REF};
use crate::policy::Source;
use crate::report::verify::{human, Report};
use crate::trust::Plan;

/// Judges every ref update of a push; any failure refuses the whole push.
/// The judgement is `gate::range`'s, the same as `verify`'s.
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
    let trusted = super::verify::trusted(ctx, &repo, tip, policy, signers.as_deref())?;
    // The anchor: the default branch's tip before this push.
    let anchor = range::server_anchor(tip);

    // The server's records, and those this push brings.
    let pushed = range::pushed_notes(&repo, &lines)?;
    for why in &pushed.refusals {
        p.error(why);
    }
    let mut refused = !pushed.refusals.is_empty();
    let today = crate::clock::now().date_naive();

    // Every other ref (branches, tags, other notes refs, custom refs) is
    // judged like a branch: the commits it brings are scanned.
    for l in lines.iter().filter(|l| l.ref_name != NOTES_REF) {
        let (update, judged) = range::judge_ref(&repo, &trusted, l, &pushed.notes, today)?;
        let judgement = &judged.judgement;
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
            judgement,
            &judged.shown,
            &judged.allow_notes,
        );
        human(p, &report);
        refused |= !judgement.passed();
    }
    if refused {
        p.error("push refused by tollgate on the server");
        p.hint("a blocker passes only with a signed audit record: pass it with `tollgate override` and push through the installed pre-push hook, which sends the records first");
        return Ok(Outcome::Blocked);
    }
    Ok(Outcome::Pass)
}
