//! `tollgate verify`: what CI runs, because client hooks can be skipped.
//!
//! The policy and the signer list come from the **base** commit (or from
//! files named explicitly), never from the commits being judged: a pushed
//! commit that weakens the policy or adds its author's key changes nothing
//! about how it is judged. Every constraint is re-run over the range, and
//! every blocker needs a valid signed record on the commit it concerns.
//!
//! The judgement is `gate::range`'s (shared with `pre-receive`) and the
//! report `report::verify`'s; this parses the arguments and prints.

use std::path::{Path, PathBuf};

use clap::Args;
use git2::Oid;

use super::{Ctx, Outcome};
use crate::audit::trail::DeletedRecord;
use crate::gate::range::{self, PlanRequest, Trusted};
use crate::git::{Repo, NOTES_REF};
use crate::policy::Source;
use crate::report::verify::{human, sarif, Report};
use crate::trust::Plan;

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VerifyFormat {
    /// Text for people, on stderr.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
    /// SARIF 2.1.0 on stdout: a result per blocker; covered ones carry a suppression.
    Sarif,
}

/// Arguments of `tollgate verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The commit the range starts after; its policy and signer list judge the range
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// The last commit of the range (default: `--new`, else HEAD)
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// The ref that was updated (`main` or `refs/heads/main`): judges the update itself (force push, protected branch)
    #[arg(long = "ref", value_name = "NAME")]
    ref_name: Option<String>,
    /// The ref's sha before the push (all zeros: the ref was created)
    #[arg(long, value_name = "SHA", requires_all = ["new", "ref_name"])]
    old: Option<String>,
    /// The ref's sha after the push (all zeros: the ref was deleted)
    #[arg(long, value_name = "SHA", requires_all = ["old", "ref_name"])]
    new: Option<String>,
    /// The commit whose policy and signer list judge (default: the merge-base of the range with the remote's default branch, `origin/HEAD`)
    #[arg(long, value_name = "REV")]
    anchor: Option<String>,
    /// Signer list to use instead of the anchor's `.tollgate/allowed_signers`
    #[arg(long, value_name = "PATH")]
    allowed_signers: Option<PathBuf>,
    /// Notes ref holding the audit records
    #[arg(long, value_name = "REF", default_value = NOTES_REF)]
    notes_ref: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    format: VerifyFormat,
}

/// Runs the verification.
pub fn run(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    // The records are read, and the notes history walked, on a thread of
    // their own while the range is planned and scanned: neither needs the
    // other until the blockers are judged.
    let second = repo.reopen()?;
    let notes_ref = args.notes_ref.as_str();
    std::thread::scope(|scope| {
        let trail = std::thread::Builder::new()
            .name("tollgate-notes".into())
            .spawn_scoped(scope, move || {
                let read = read_trail(&second, notes_ref);
                (second, read)
            })?;
        let (plan, trusted, commits) = plan_range(ctx, &repo, &args)?;
        std::thread::scope(|inner| {
            // Then, once the range is known, the signatures of its records
            // are checked on that thread too.
            let ahead = std::thread::Builder::new()
                .name("tollgate-notes".into())
                .spawn_scoped(inner, || -> anyhow::Result<_> {
                    let (second, read) = trail.join().map_err(|_| stopped())?;
                    let (all, deleted) = read?;
                    let ahead = range::read_ahead(&second, &trusted, &commits, &all);
                    Ok((all, deleted, ahead))
                })?;
            let mut progress = ctx.printer.progress();
            let scanned = range::scan_range(
                &mut |done, total| progress.commits(done, total),
                &repo,
                &trusted,
                &commits,
                plan.update.as_ref(),
                crate::clock::now().date_naive(),
            )?;
            let (all, deleted, ahead) = ahead.join().map_err(|_| stopped())??;
            let judged =
                range::judge_scanned(&repo, &trusted, &commits, scanned, &all, Some(ahead))?;
            progress.done();
            Ok(report(
                ctx, &repo, &args, &plan, &trusted, &judged, &deleted,
            ))
        })
    })
}

fn stopped() -> anyhow::Error {
    anyhow::anyhow!("the thread reading the audit records stopped")
}

/// `(annotated commit, note text)`, as the notes layer reads them.
type Notes = Vec<(String, String)>;

/// Every record of `notes_ref`, and those its history lost. The trail is
/// append-only: a record some notes commit had is still there. The whole
/// history is walked on every run: nothing under `.git/` (which the agent
/// can edit) says which part was checked.
fn read_trail(repo: &Repo, notes_ref: &str) -> anyhow::Result<(Notes, Vec<DeletedRecord>)> {
    let all = repo.all_notes(notes_ref)?;
    let deleted = match repo.ref_target(notes_ref) {
        Some(tip) => crate::audit::trail::deleted_records(repo, tip)?,
        None => Vec::new(),
    };
    Ok((all, deleted))
}

/// What is judged (the plan and its commits) and by what.
fn plan_range(
    ctx: &Ctx,
    repo: &Repo,
    args: &VerifyArgs,
) -> anyhow::Result<(Plan, Trusted, Vec<Oid>)> {
    let request = PlanRequest {
        base: args.base.as_deref(),
        head: args.head.as_deref(),
        ref_name: args.ref_name.as_deref(),
        old: args.old.as_deref(),
        new: args.new.as_deref(),
        anchor: args.anchor.as_deref(),
    };
    let mut plan = range::plan(repo, &request)?;
    let explicit_policy = ctx.explicit_policy()?;
    let explicit_trust = explicit_policy.is_some() && args.allowed_signers.is_some();
    range::pick_anchor(repo, &mut plan, args.anchor.as_deref(), explicit_trust)?;
    let anchor = plan.anchor.as_ref().map(|a| a.commit);
    let trusted = trusted(
        ctx,
        repo,
        anchor,
        explicit_policy,
        args.allowed_signers.as_deref(),
    )?;

    let commits = match plan.head {
        Some(head) => repo.range_commits(plan.base, head)?,
        None => Vec::new(),
    };
    Ok((plan, trusted, commits))
}

/// Prints the judgement of `plan` in the asked format.
fn report(
    ctx: &Ctx,
    repo: &Repo,
    args: &VerifyArgs,
    plan: &Plan,
    trusted: &Trusted,
    judged: &range::RangeJudgement,
    deleted: &[DeletedRecord],
) -> Outcome {
    let (shown, judgement) = (&judged.shown, &judged.judgement);

    let baselined = shown.iter().filter(|s| s.baselined.is_some()).count();
    if baselined > 0 && args.format == VerifyFormat::Human {
        ctx.printer.info(&format!(
            "tollgate: {baselined} finding{} baselined in `{}` (reported, not blockers)",
            crate::text::plural(baselined),
            crate::baseline::BASELINE_PATH
        ));
    }
    if repo.ref_target(&args.notes_ref).is_none() && !judgement.blockers.is_empty() {
        ctx.printer.hint(&format!(
            "this clone has no `{}`; fetch the records first: git fetch origin '+{NOTES_REF}:{NOTES_REF}'",
            args.notes_ref
        ));
    }
    let report = Report::new(
        plan,
        &trusted.policy_source,
        &trusted.signers_source,
        judgement,
        shown,
        &judged.allow_notes,
    )
    .with_deleted(deleted);
    match args.format {
        VerifyFormat::Human => human(&ctx.printer, &report),
        VerifyFormat::Json => ctx.printer.stdout(&report.to_json()),
        VerifyFormat::Sarif => {
            ctx.printer
                .stdout(&sarif(&trusted.policy, shown, judgement, &report))
        }
    }
    if judgement.passed() && deleted.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Blocked
    }
}

/// Loads the trusted policy and signer list ([`Trusted::load`]), prints
/// its warnings and any policy diagnostics, and guards a `--policy` file
/// inside the work tree like `.tollgate.toml`.
pub(super) fn trusted(
    ctx: &Ctx,
    repo: &Repo,
    base: Option<Oid>,
    policy: Option<Source>,
    signers: Option<&Path>,
) -> anyhow::Result<Trusted> {
    let mut trusted = Trusted::load(
        repo,
        base,
        policy,
        signers,
        crate::clock::now().date_naive(),
    )
    .map_err(|e| ctx.policy_error(e))?;
    for w in &trusted.warnings {
        ctx.printer.warning(w);
    }
    if let Some(rel) = ctx.explicit_policy_in(repo) {
        trusted.policy.guard_policy_file(&rel);
    }
    Ok(trusted)
}
